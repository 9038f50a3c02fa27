# Plot 4: achieved throughput against the ceilings measured at start-up. Top: M <= 16, bytes moved
# per second as % of the copy bandwidth (target_bw_pct). Bottom: large M, TFLOP/s as % of cuBLAS
# FP16 at 8192^3. A panel without rows is left out.
# Variables: bw_data, flops_data (index, problem, % per variant), bw_count, flops_count,
# variants, bw_ymax, flops_ymax, copy_gbps, fp16_tflops.
load plotdir.'/common.gp'
nv = words(variants)
most = bw_count > flops_count ? bw_count : flops_count
W = row_width(most, 360)
panels = (bw_count > 0) + (flops_count > 0)
longest = 0
if (bw_count > 0) { stats bw_data using (strlen(strcol(2))) nooutput; longest = STATS_max }
if (flops_count > 0) {
    stats flops_data using (strlen(strcol(2))) nooutput
    longest = STATS_max > longest ? STATS_max : longest
}
# panel k (1 = top) spans 410 pixels, with room below it for the rotated problem names
below = rotated_labels_px(longest, 260)
H = 80 + panels * (410 + below)
panel_margins(k) = sprintf("set tmargin at screen %f; set bmargin at screen %f", \
    1 - (90.0 + (k - 1) * (410 + below)) / H, 1 - (500.0 + (k - 1) * (410 + below)) / H)
shift(i) = (i - (nv + 1) / 2.0) * 0.7 / nv
do for [fmt in formats] {
    eval terminal(fmt, W, H)
    set output out.'.'.fmt
    set multiplot title title font ',14'
    set lmargin at screen 90.0 / W
    set rmargin at screen 1 - 270.0 / W
    set key at screen 1 - 260.0 / W, 1 - 90.0 / H left top vertical font ',10' box lc rgb '#bbbbbb'
    set grid ytics lc rgb '#dddddd'
    set xtics rotate by 60 right font ',8' scale 0.5
    eval panel_margins(1)
    if (bw_count > 0) {
        set title sprintf('M <= 16: bandwidth as %% of the measured copy bandwidth (%s GB/s)', copy_gbps) font ',11'
        set ylabel '% of copy bandwidth'
        set yrange [0:bw_ymax]
        set xrange [-1:bw_count]
        plot target_bw_pct + 0 with lines dt 2 lw 2 lc rgb target_color title sprintf('target %g %% (MXFP4)', target_bw_pct + 0), \
             100 with lines lw 1 lc rgb '#000000' title 'copy ceiling', \
             bw_data using 1:(NaN):xtic(2) notitle, \
             for [i = 1:nv] bw_data using ($1 + shift(i)):(column(2 + i)) with points \
                 pt vpoint(word(variants, i)) ps 1.1 lc rgb vcolor(word(variants, i)) \
                 title vtitle(word(variants, i))
        unset key
        eval panel_margins(2)
    }
    if (flops_count > 0) {
        set title sprintf('large M: TFLOP/s as %% of cuBLAS FP16 at 8192^3 (%s TFLOP/s)', fp16_tflops) font ',11'
        set ylabel '% of cuBLAS FP16 TFLOP/s'
        set yrange [0:flops_ymax]
        set xrange [-1:flops_count]
        plot 100 with lines lw 1 lc rgb '#000000' title 'cuBLAS 8192^3 ceiling', \
             flops_data using 1:(NaN):xtic(2) notitle, \
             for [i = 1:nv] flops_data using ($1 + shift(i)):(column(2 + i)) with points \
                 pt vpoint(word(variants, i)) ps 1.1 lc rgb vcolor(word(variants, i)) \
                 title vtitle(word(variants, i))
    }
    unset multiplot
    set output
}
