# Plot 6 (`mxbench compare`): per-row time change of the runs against the baseline, worst first,
# with the band the run-to-run spread alone could give (cut at the y range), coloured by verdict,
# MISSING rows marked at the top, and the minimum relative change that counts.
# Variables: data (index, change in % or NaN for MISSING, band low and high in %, verdict, label),
# count, threshold (minimum relative change in %), title, ymin, ymax (the y range, in %).
load plotdir.'/common.gp'
W = row_width(count, 340)
stats data using (strlen(strcol(6))) nooutput
H = 464 + rotated_labels_px(STATS_max, 336)
verdict_color(v) = v eq 'SLOWER' ? '#C00000' : v eq 'FASTER' ? '#009E73' : \
    v eq 'UNSURE' ? '#E69F00' : '#777777'
is(v) = strcol(5) eq v
do for [fmt in formats] {
    eval terminal(fmt, W, H)
    set output out.'.'.fmt
    set title title font ',13'
    set lmargin at screen 260.0 / W
    set rmargin at screen 1 - 250.0 / W
    set bmargin at screen 1 - 464.0 / H
    set key at screen 1 - 240.0 / W, 0.9 left top vertical font ',10' box lc rgb '#bbbbbb'
    set xrange [-1:count]
    set yrange [ymin:ymax]
    set ylabel 'time change vs baseline (%)'
    set xtics rotate by 60 right font ',8' scale 0.5
    set grid ytics lc rgb '#dddddd'
    set style fill transparent solid 0.25 noborder
    cut(y) = y < ymin ? ymin : y > ymax ? ymax : y
    plot threshold + 0 with lines dt 2 lw 1.5 lc rgb '#C00000' \
             title sprintf('+%s %% (slower beyond)', threshold), \
         -threshold with lines dt 2 lw 1.5 lc rgb '#009E73' \
             title sprintf('-%s %% (faster beyond)', threshold), \
         0 with lines lw 1 lc rgb '#000000' notitle, \
         data using 1:((cut($3) + cut($4)) / 2):(0.35):((cut($4) - cut($3)) / 2) \
             with boxxyerror lc rgb '#999999' title 'run-to-run band', \
         data using 1:(NaN):xtic(6) notitle, \
         for [v in "SLOWER FASTER UNSURE SAME"] data using 1:(is(v) ? $2 : NaN) with points \
             pt 7 ps 1.2 lc rgb verdict_color(v) title v, \
         data using 1:(is('MISSING') ? ymax - 0.06 * (ymax - ymin) : NaN) with points \
             pt 11 ps 1.6 lc rgb '#C00000' title 'MISSING (no time)'
    set output
}
