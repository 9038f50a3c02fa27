/* Status codes of the mxbench library and the last-error message that goes with them.
 * Every public entry point returns an mx_status; on failure mx_last_error() says which value was
 * wrong and what was expected. The library never aborts or exits. */
#ifndef MX_STATUS_H
#define MX_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    MX_OK = 0,
    MX_ERR_INVALID_ARGUMENT,  /* a size, pointer or option is out of its domain */
    MX_ERR_UNSUPPORTED_SHAPE, /* the shape is valid but this path cannot run it (K % 32 != 0...) */
    MX_ERR_MISALIGNED,        /* a pointer does not have the alignment the kernel needs */
    MX_ERR_WORKSPACE,         /* the workspace given is smaller than the variant needs */
    MX_ERR_NO_DEVICE,         /* no usable CUDA device */
    MX_ERR_OUT_OF_MEMORY,     /* host or device allocation failed */
    MX_ERR_CUDA,              /* a CUDA runtime call or a kernel launch failed */
    MX_ERR_CUBLAS,            /* a cuBLAS call failed */
} mx_status;

/* Short fixed name of a status ("invalid argument", ...). Never NULL. */
const char *mx_status_string(mx_status status);

/* Message of the last failure in this thread ("" after success is not guaranteed: read it only
 * after a call returned something other than MX_OK). */
const char *mx_last_error(void);

#ifdef __cplusplus
}
#endif

#endif
