# Plot 1: overhead vs cuBLAS FP16 against M, one panel per weight shape (with dtype and
# distribution). y is t / t_FP16 on a log axis labelled as overhead, so that -50 % and +100 % are
# equally far from 0 and no outlier squashes the +10 % band.
# Variables: data (one index block per panel: M, t/t_FP16 per variant, best), panels,
# panel_titles (quoted words), variants, mvalues (M tics), ymin, ymax.
load plotdir.'/common.gp'
nv = words(variants)
cols = grid_cols(panels)
rows = grid_rows(panels)
W = cols * PW + 20
H = rows * PH + TOP
mlow = word(mvalues, 1) / 1.5
mhigh = word(mvalues, words(mvalues)) * 1.5
do for [fmt in formats] {
    eval terminal(fmt, W, H)
    set output out.'.'.fmt
    set multiplot title title font ',14'
    do for [p = 1:panels] {
        eval panel_margins(p)
        set logscale x 2
        set logscale y 2
        set xrange [mlow:mhigh]
        set yrange [ymin:ymax]
        set xtics () font ',9'
        do for [m in mvalues] { set xtics add (m m+0) }
        set ytics ("-90 %%" 0.1, "-75 %%" 0.25, "-50 %%" 0.5, "-25 %%" 0.75, "0 %%" 1, \
                   "+50 %%" 1.5, "+100 %%" 2, "+200 %%" 3, "+300 %%" 4, "+700 %%" 8, \
                   "+1500 %%" 16, "+3100 %%" 32, "+6300 %%" 64)
        set grid xtics ytics lc rgb '#dddddd'
        set xlabel 'M (tokens, log2)' offset 0, 0.5
        set ylabel 'overhead vs FP16, log scale (below 0: faster)'
        set title word(panel_titles, p) font ',11'
        unset key
        plot 1 + target_overhead_pct / 100.0 with lines dt 2 lw 2 lc rgb target_color, 1 with lines lw 1.5 lc rgb '#000000', \
             data index (p - 1) using 1:(column(nv + 2)) with linespoints lw 7 pt 7 ps 2 lc rgb '#800072B2', \
             for [i = 1:nv] data index (p - 1) using 1:(column(i + 1)) with linespoints \
                 lw 1.5 ps 0.9 pt vpoint(word(variants, i)) lc rgb vcolor(word(variants, i))
    }
    eval legend_strip
    plot 2 with lines dt 2 lw 2 lc rgb target_color title sprintf('+%g %% target', target_overhead_pct + 0), \
         2 with lines lw 1.5 lc rgb '#000000' title '0 % (cuBLAS FP16)', \
         2 with linespoints lw 7 pt 7 ps 2 lc rgb '#800072B2' title 'best MXFP4 (no FP16 copy)', \
         for [i = 1:nv] 2 with linespoints lw 1.5 ps 0.9 pt vpoint(word(variants, i)) \
             lc rgb vcolor(word(variants, i)) title vtitle(word(variants, i))
    unset multiplot
    set output
}
