# mxbench report --out with runs of several GPU models: the best MXFP4 variant's speed-up over
# FP16 per problem, one colour per GPU. Variables: data (index, label, then one speed-up column
# per GPU), count (problems), names (the GPU models, space-separated), title.
load plotdir.'/common.gp'
W = row_width(count, 340)
stats data using (strlen(strcol(2))) nooutput
H = 517 + rotated_labels_px(STATS_max, 243)
gpus = words(names)
do for [fmt in formats] {
    eval terminal(fmt, W, H)
    set output out.'.'.fmt
    set title title font ',13'
    set lmargin at screen 90.0 / W
    set rmargin at screen 1 - 300.0 / W
    set bmargin at screen 1 - 517.0 / H
    set key at screen 1 - 290.0 / W, 0.9 left top vertical font ',10' box lc rgb '#bbbbbb'
    set xrange [-1:count]
    set logscale y 2
    set ylabel 'FP16 time / best MXFP4 time (log scale; above 1: MXFP4 faster)'
    set xtics rotate by 60 right font ',8' scale 0.5
    set grid ytics lc rgb '#dddddd'
    plot 1 with lines lw 1 lc rgb '#000000' notitle, \
         data using 1:(NaN):xtic(2) notitle, \
         for [g=1:gpus] data using 1:(column(2 + g)) with points pt 7 ps 1.2 \
             title word(names, g)
    unset logscale y
    set output
}
