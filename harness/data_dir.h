/* Where the CLI finds its data: sweeps/ (the sweep files), plots/ (the gnuplot scripts),
 * baselines/ (the nightly gate's baselines) and, in a build tree, deps/ (the offline bundle that
 * `.ci/deps.sh` unpacks in the checkout). Looked up once, in this order:
 *   1. $MXBENCH_DATA_DIR, when set (it must hold sweeps/);
 *   2. share/mxbench beside the executable: a build tree, where CMake links it to the sources;
 *   3. ../share/mxbench above the executable: an installed tree (`cmake --install`).
 * Nothing is baked in at build time, so a build tree and an installed tree can move. */
#ifndef MX_DATA_DIR_H
#define MX_DATA_DIR_H

#include <stddef.h>

/* The data folder, or NULL when no candidate holds sweeps/ (mx_data_dir_searched says where it
 * looked). */
const char *mx_data_dir(void);

/* "A, B and C": the candidates looked at, for messages. */
const char *mx_data_dir_searched(void);

/* mx_data_dir()/name into path (size bytes), or "<searched>/name" of the first candidate when
 * there is no data folder, so that a failing open names a real place. */
void mx_data_path(const char *name, char *path, size_t size);

#endif
