# Shared by every plot script (loaded as plotdir.'/common.gp'): the data format the report writes
# (tab-separated, NaN for no value), one colour and point type per variant in every plot, and the
# terminal of each output format. Scripts are run by `mxbench report` with -e variables:
# out (path without extension), formats ("png svg"), title, plotdir, variants with vcolors and
# vpoints, and their own data files.
set encoding utf8
set datafile separator "\t"
set datafile missing "NaN"

# One colour and point type per variant, from harness/variants.c: the report passes them as
# words parallel to `variants` (vcolors, vpoints); an unlisted name is grey.
vindex(v, i) = i > words(variants) ? 0 : word(variants, i) eq v ? i : vindex(v, i + 1)
vcolor(v) = vindex(v, 1) > 0 ? word(vcolors, vindex(v, 1)) : '#999999'
vpoint(v) = vindex(v, 1) > 0 ? int(word(vpoints, vindex(v, 1))) : 1
vtitle(v) = v eq 'fp16' ? 'fp16 (cuBLAS reference)' : v
target_color = '#C00000'
# Width of a plot with one x position per row: 20 pixels each, within [1300, 4000].
row_width(n, extra) = n * 20 + extra < 1300 ? 1300 : n * 20 + extra > 4000 ? 4000 : n * 20 + extra

# Pixels below an axis that its tick labels take when rotated by 60 degrees at font 8 (5.6 down
# per character; chars: the longest label, e.g. `stats data using (strlen(strcol(2))) nooutput`,
# then STATS_max), at least `least`: a long problem name must not run off the image.
rotated_labels_px(chars, least) = 24 + 5.6 * chars < least ? least : 24 + 5.6 * chars

# eval terminal(fmt, width, height), then: set output out.'.'.fmt
terminal(fmt, w, h) = fmt eq 'svg' ? \
    sprintf("set terminal svg size %d,%d dynamic noenhanced font 'Sans,12' background '#ffffff'", w, h) : \
    sprintf("set terminal pngcairo size %d,%d noenhanced font 'Sans,10' background '#ffffff'", w, h)

# Grids of panels (one per weight shape): panel p of panels in cols columns, each PW x PH pixels
# with its tic labels inside, under a strip of TOP pixels that holds the title and the one legend
# of the figure (a key per panel would hide data; one key in a panel would be squeezed to its
# width). Scripts set cols = grid_cols(panels), rows = grid_rows(panels), then W and H.
PW = 540
PH = 380
TOP = 150
grid_cols(n) = n <= 1 ? 1 : n <= 4 ? 2 : n <= 9 ? 3 : 4
grid_rows(n) = int((n + grid_cols(n) - 1) / grid_cols(n))
panel_x(p) = 10 + ((p - 1) % cols) * PW
panel_y(p) = TOP + int((p - 1) / cols) * PH
panel_margins(p) = sprintf("set lmargin at screen %f; set rmargin at screen %f; " . \
    "set tmargin at screen %f; set bmargin at screen %f", (panel_x(p) + 85.0) / W, \
    (panel_x(p) + PW - 20.0) / W, 1 - (panel_y(p) + 40.0) / H, 1 - (panel_y(p) + PH - 55.0) / H)
# Then plot the legend entries of the figure with functions outside [0:1] (nothing is drawn).
legend_strip = "unset title; unset xlabel; unset ylabel; unset tics; unset border; " . \
    "unset grid; unset logscale; set xrange [0:1]; set yrange [0:1]; " . \
    "set lmargin at screen 0.01; set rmargin at screen 0.99; " . \
    "set tmargin at screen 1 - 45.0 / H; set bmargin at screen 1 - 130.0 / H; " . \
    "set key center center horizontal maxrows 2 width 2 samplen 3 font ',11' box lc rgb '#bbbbbb'"
