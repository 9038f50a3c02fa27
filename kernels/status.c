/* Status strings and the per-thread last-error message of the mxbench library. */
#include "status.h"

#include <stdarg.h>
#include <stdio.h>

#include "fail.h"

static _Thread_local char last_error[512];

const char *mx_status_string(mx_status status) {
    switch (status) {
    case MX_OK:
        return "ok";
    case MX_ERR_INVALID_ARGUMENT:
        return "invalid argument";
    case MX_ERR_UNSUPPORTED_SHAPE:
        return "unsupported shape";
    case MX_ERR_MISALIGNED:
        return "misaligned pointer";
    case MX_ERR_WORKSPACE:
        return "workspace too small";
    case MX_ERR_NO_DEVICE:
        return "no CUDA device";
    case MX_ERR_OUT_OF_MEMORY:
        return "out of memory";
    case MX_ERR_CUDA:
        return "CUDA error";
    case MX_ERR_CUBLAS:
        return "cuBLAS error";
    }
    return "unknown status";
}

const char *mx_last_error(void) {
    return last_error;
}

mx_status mx_fail(mx_status status, const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(last_error, sizeof last_error, format, args);
    va_end(args);
    return status;
}
