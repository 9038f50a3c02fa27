/* Host-side checks of the MXFP4 format shared by the GPU library and the CPU codec. */
#include "format.h"

#include "fail.h"

mx_status mx_check_shape(int64_t rows, int64_t cols) {
    if (rows <= 0)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "rows = %lld: expected > 0", (long long)rows);
    if (cols <= 0)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "cols = %lld: expected > 0", (long long)cols);
    if (cols % MX_BLOCK_SIZE != 0)
        return mx_fail(MX_ERR_UNSUPPORTED_SHAPE,
                       "cols (K) = %lld is not a multiple of the MXFP4 block size 32",
                       (long long)cols);
    if (rows > INT64_MAX / 4 / cols)
        return mx_fail(MX_ERR_INVALID_ARGUMENT,
                       "rows x cols = %lld x %lld overflows a 64-bit byte count", (long long)rows,
                       (long long)cols);
    return MX_OK;
}
