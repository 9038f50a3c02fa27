/* Finding gnuplot and running a plot script of plots/ with it (the report's plots, compare's). */
#ifndef MX_GNUPLOT_H
#define MX_GNUPLOT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char path[1024];   /* the executable */
    char bundle[1024]; /* the offline bundle's root (.deps/root of a checkout) when path lies in
                        * it, else "" */
} mx_gnuplot;

/* Looks for gnuplot (then gnuplot-nox) in the directories of PATH, then in the offline bundle that
 * `.ci/deps.sh ensure bench` unpacks (the data folder's deps/usr/bin, data_dir.h). False when
 * neither has it; mx_gnuplot_advice says how to get it. */
bool mx_gnuplot_find(mx_gnuplot *gnuplot);
extern const char mx_gnuplot_advice[];

/* A variable for a plot script: set before the script runs as the gnuplot string
 * name='value' (quotes doubled, line breaks turned into spaces). Scripts use numeric ones
 * directly, as gnuplot converts such strings on use; write reals with "%.6e" or "%f", since its
 * conversion rejects an exponent after a mantissa without a point ("1e-08"). */
typedef struct {
    const char *name, *value;
} mx_plot_variable;

/* Runs the plot script (a file name in the data folder's plots/, or a path with a '/') with gnuplot
 * and the given variables, plus plotdir (the scripts' folder, for common.gp), out and formats
 * ("png svg"), and writes out_base.png and out_base.svg. gnuplot draws into temporary names
 * beside them, which are renamed only once both files are complete. False with gnuplot's exit
 * status and the end of its error output in error on any failure (nothing is left behind).
 *
 * plots/compare.gp (for `mxbench compare`) takes: data, a tab-separated file of one line per
 * compared row: index (0, 1, ...), change in %, noise band low and high in % (the change the
 * noise alone could give), verdict (FASTER, SLOWER, SAME or UNSURE), label (the row's key);
 * count (lines), threshold (the minimum relative change in %, drawn as +-threshold) and title. */
bool mx_plot_render(const mx_gnuplot *gnuplot, const char *script,
                    const mx_plot_variable *variables, int variable_count, const char *out_base,
                    char *error, size_t error_size);

#endif
