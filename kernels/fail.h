/* Internal to the library and its CPU references: how a failure is recorded. mx_fail stores the
 * message that mx_last_error() (status.h, public) returns; MX_TRY propagates a failed status. */
#ifndef MX_FAIL_H
#define MX_FAIL_H

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Records a failure message for this thread and returns status, so that a caller can write
 * `return mx_fail(MX_ERR_INVALID_ARGUMENT, "K = %lld ...", k);`. */
mx_status mx_fail(mx_status status, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#ifdef __cplusplus
}
#endif

/* Returns from the enclosing mx_status function when expression fails. */
#define MX_TRY(expression)                                                                         \
    do {                                                                                           \
        mx_status mx_try_status_ = (expression);                                                   \
        if (mx_try_status_ != MX_OK) return mx_try_status_;                                        \
    } while (0)

#endif
