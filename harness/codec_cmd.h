/* The codec commands of the CLI. */
#ifndef MX_CODEC_CMD_H
#define MX_CODEC_CMD_H

#include "cli.h"

extern const mx_command mx_quantize_command;
extern const mx_command mx_dequantize_command;

#endif
