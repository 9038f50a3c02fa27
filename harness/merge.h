/* `mxbench merge OUT RUN...`: shards of one sweep joined into one run folder. */
#ifndef MX_MERGE_H
#define MX_MERGE_H

#include "cli.h"

extern const mx_command mx_merge_command;

#endif
