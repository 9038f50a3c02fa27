# Plot 3: weight memory saved against FP16 per weight shape and MXFP4 variant, workspaces
# included, with the format's limit; variants holding an FP16 copy fall below zero.
# Variables: data (index, weight, lowest saving in % per variant), count, variants, ymin.
# The value labels stand upright above (below) their bar, so that narrow bars do not collide;
# the width is capped at 2400 px.
load plotdir.'/common.gp'
nv = words(variants)
W = 300 + count * (60 + nv * 28)
W = W < 1100 ? 1100 : W > 2400 ? 2400 : W
H = 650
bar = 0.8 / nv
limit = 100 * (1 - (0.5 + 1.0 / 32) / 2)
set style fill solid 0.85 border lc rgb '#333333'
do for [fmt in formats] {
    eval terminal(fmt, W, H)
    set output out.'.'.fmt
    set title title font ',13'
    set rmargin at screen 1 - 230.0 / W
    set key at screen 1 - 220.0 / W, 0.85 left top vertical font ',10' box lc rgb '#bbbbbb'
    set label 1 sprintf("target: >= %g %% saved\nfor every variant that\nkeeps no FP16 copy;\nbelow 0: the variant\nholds an FP16 copy\n(workspace or cache)", target_vram_pct + 0) \
        at screen 1 - 215.0 / W, 0.45 left font ',10'
    set yrange [(ymin < 0 ? ymin * 1.2 : 0) - 15:112]
    set xrange [-0.6:count - 0.4]
    set ylabel 'VRAM saved vs FP16 weights (%), workspace included'
    set xtics scale 0 font ',10'
    set xlabel 'weight shape (N out features x K in features); the lowest saving over its rows'
    set grid ytics lc rgb '#dddddd'
    plot data using 1:(NaN):xtic(2) notitle, \
         for [i = 1:nv] data using ($1 - 0.4 + (i - 0.5) * bar):(column(i + 2)):(bar) \
             with boxes lc rgb vcolor(word(variants, i)) title vtitle(word(variants, i)), \
         for [i = 1:nv] data using ($1 - 0.4 + (i - 0.5) * bar): \
             (column(i + 2) >= 0 ? column(i + 2) + 2 : NaN):(sprintf('%.1f', column(i + 2))) \
             with labels rotate by 90 left font ',8' notitle, \
         for [i = 1:nv] data using ($1 - 0.4 + (i - 0.5) * bar): \
             (column(i + 2) < 0 ? column(i + 2) - 2 : NaN):(sprintf('%.1f', column(i + 2))) \
             with labels rotate by 90 right font ',8' notitle, \
         limit with lines dt 2 lw 2 lc rgb target_color title sprintf('format limit %.1f %%', limit), \
         0 with lines lw 1 lc rgb '#000000' notitle
    set output
}
