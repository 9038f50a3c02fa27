/* mxbench public C API: the one header a caller includes. Every symbol is prefixed mx_, every
 * entry point takes device pointers and an explicit cudaStream_t and returns an mx_status
 * (mx_last_error() has the message). Nothing in the library aborts or exits. */
#ifndef MX_H
#define MX_H

#include "status.h"
#include "arch.h"
#include "format.h"
#include "quantize.h"
#include "weights.h"
#include "activation.h"
#include "gemm.h"
#include "ffn.h"
#include "moe.h"
#include "embedding.h"
#include "lm_head.h"
#include "attention.h"

#endif
