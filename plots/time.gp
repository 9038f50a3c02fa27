# Plot 5: median time of every variant (fp16 = the cuBLAS reference) per M, one panel per weight
# shape (with dtype and distribution), as clustered points on a log axis with a bar from the
# fastest to the slowest sample (points, not bars: a bar on a log axis starts at an arbitrary
# floor). Variables: data (one index block per panel: index, M, then median, min and max in us
# per variant measured in that panel), panels, panel_titles (quoted words), panel_variants (per
# panel the names of its variants, comma-joined), variants (all of them, for the legend).
load plotdir.'/common.gp'
nv = words(variants)
cols = grid_cols(panels)
rows = grid_rows(panels)
W = cols * PW + 20
H = rows * PH + TOP
# The i-th name of a comma-joined list, and how many names it holds.
field(s, i) = i <= 1 ? (strstrt(s, ',') ? s[1:strstrt(s, ',') - 1] : s) : \
    field(s[strstrt(s, ',') + 1:], i - 1)
fields(s) = strstrt(s, ',') ? 1 + fields(s[strstrt(s, ',') + 1:]) : 1
do for [fmt in formats] {
    eval terminal(fmt, W, H)
    set output out.'.'.fmt
    set multiplot title title font ',14'
    do for [p = 1:panels] {
        eval panel_margins(p)
        set logscale y
        set format y '%g'
        set grid ytics lc rgb '#dddddd'
        set xlabel 'M (tokens)' offset 0, 0.5
        set ylabel 'median time (us, log)'
        set xtics font ',9' scale 0
        set ytics font ',9'
        set title word(panel_titles, p) font ',11'
        unset key
        set xrange [-0.6:*]
        set offsets 0, 0.6, 0, 0
        set yrange [*:*]
        pv = word(panel_variants, p)
        np = fields(pv)
        bar = 0.8 / np
        plot data index (p - 1) using 1:(NaN):xtic(2) notitle, \
             for [i = 1:np] data index (p - 1) \
                 using ($1 - 0.4 + (i - 0.5) * bar):(column(3 * i)):(column(3 * i + 1)): \
                 (column(3 * i + 2)) with yerrorbars pt vpoint(field(pv, i)) ps 0.9 lw 1.2 \
                 lc rgb vcolor(field(pv, i))
    }
    eval legend_strip
    plot for [i = 1:nv] 2 with linespoints lw 1.2 pt vpoint(word(variants, i)) \
        lc rgb vcolor(word(variants, i)) title vtitle(word(variants, i)), \
        2 with yerrorbars lc rgb '#555555' title 'fastest to slowest sample'

    unset multiplot
    set output
}
