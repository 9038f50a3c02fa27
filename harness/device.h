/* Device selection for CLI commands that run on the GPU. */
#ifndef MX_DEVICE_H
#define MX_DEVICE_H

#include <stdbool.h>

/* Selects CUDA device ordinal; prints why not (no device, no driver, bad ordinal) and returns
 * false when it cannot be used. Commands then exit with MX_EXIT_NO_DEVICE. alternative (NULL
 * for none) is what the user can do instead, for the message ("--device cpu runs ..."). */
bool mx_cli_open_device(int ordinal, const char *alternative);

#endif
