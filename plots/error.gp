# Plot 2: errors per problem on log axes. Top: each MXFP4 variant against cuBLAS FP16 on the same
# dequantized weights (target_rel_fp16), and the quantization error against the unquantized weights,
# a different quantity drawn in black. Bottom: every path against the exact FP64 product
# (target_rel_exact). Exact zeros are written as zero_at and labelled 0.
# Variables: data (index, label, quant error, error vs FP16 per variant, error vs exact per
# variant, nonfinite flag), count, variants, zero_at, ymax.
load plotdir.'/common.gp'
nv = words(variants)
W = row_width(count, 300)
stats data using (strlen(strcol(2))) nooutput
# pixels from the top: the top panel 115..483, the bottom one 575..886, then the problem names
H = 886 + rotated_labels_px(STATS_max, 265)
# the note goes below the top panel's key (at most nv + 3 entries of 15 pixels)
note_y = 1 - (115.0 + 15 * (nv + 3) + 25) / H
shift(i) = (i - (nv + 1) / 2.0) * 0.7 / nv
do for [fmt in formats] {
    eval terminal(fmt, W, H)
    set output out.'.'.fmt
    set multiplot title title font ',14'
    set logscale y
    set yrange [zero_at / 2:ymax]
    set xrange [-1:count]
    set format y '%.0e'
    set ytics add ('0' zero_at)
    set grid ytics lc rgb '#dddddd'
    set lmargin at screen 110.0 / W
    set rmargin at screen 1 - 300.0 / W

    # top: against the FP16 reference, and the quantization error
    set tmargin at screen 1 - 115.0 / H
    set bmargin at screen 1 - 483.0 / H
    set key at screen 1 - 290.0 / W, 1 - 115.0 / H left top vertical width 1 samplen 2 font ',10' \
        box lc rgb '#bbbbbb'
    set xtics format '' scale 0.5
    set xtics 1
    set ylabel 'relative error (log)'
    set label 1 "Black squares: the quantization error,\nMXFP4 rounding itself against the\nunquantized weights: the target does\nnot apply to it.\n\nExactly 0 (bit-identical to the\nreference) is drawn on the bottom\nline, labelled 0." \
        at screen 1 - 285.0 / W, note_y left front font ',10'
    set title 'error vs cuBLAS FP16 on the same dequantized weights, and quantization error' \
        font ',11'
    plot target_rel_fp16 + 0 with lines dt 2 lw 2 lc rgb target_color title sprintf('target %g %% (vs FP16)', 100 * target_rel_fp16), \
         data using 1:3 with points pt 4 ps 1.3 lw 1.5 lc rgb '#000000' \
             title 'quantization error', \
         for [i = 1:nv] data using ($1 + shift(i)):(word(variants, i) eq 'fp16' ? NaN : column(3 + i)) \
             with points pt vpoint(word(variants, i)) ps 1 lc rgb vcolor(word(variants, i)) \
             title (word(variants, i) eq 'fp16' ? '' : vtitle(word(variants, i))), \
         data using 1:(column(3 + 2 * nv + 1) * ymax / 2) with points pt 2 ps 2 lw 2.5 \
             lc rgb target_color title 'non-finite outputs'

    # bottom: against the exact product
    unset label 1
    set tmargin at screen 1 - 575.0 / H
    set bmargin at screen 1 - 886.0 / H
    set key at screen 1 - 290.0 / W, 1 - 575.0 / H
    set xtics format '%g' rotate by 60 right font ',8'
    set title 'kernel error vs the exact FP64 product (FP16 output rounding ~3e-4)' font ',11'
    plot target_rel_exact + 0 with lines dt 2 lw 2 lc rgb target_color title sprintf('target %g (vs exact)', target_rel_exact + 0), \
         data using 1:(NaN):xtic(2) notitle, \
         for [i = 1:nv] data using ($1 + shift(i)):(column(3 + nv + i)) with points \
             pt vpoint(word(variants, i)) ps 1 lc rgb vcolor(word(variants, i)) \
             title vtitle(word(variants, i))
    unset multiplot
    set output
}
