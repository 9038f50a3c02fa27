/* CPU FP64 reference of the LM head's sampling (plain C): softmax with temperature, greedy
 * argmax, and the exact candidate set with its renormalized probabilities after top-k and top-p,
 * as kernels/lm_head.h defines them. */
#ifndef MX_REFERENCE_LM_HEAD_H
#define MX_REFERENCE_LM_HEAD_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Index of the largest logit, the lowest index among equals. */
int64_t mx_ref_argmax(const double *logits, int64_t vocab);

/* p = softmax((logits - max) / temperature), temperature > 0. */
void mx_ref_softmax_f64(const double *logits, int64_t vocab, double temperature, double *p);

/* The tokens sampling may return and their probabilities: p sorted descending (equal p: lower
 * index first), the first top_k (all when 0), then the smallest prefix whose mass / top-k mass
 * >= top_p, renormalized to sum 1. candidates[0..*count) and probs[0..*count) (both sized
 * vocab). temperature 0: the argmax alone, probability 1. */
void mx_ref_sample_candidates(const double *logits, int64_t vocab, double temperature,
                              int64_t top_k, double top_p, int32_t *candidates, double *probs,
                              int64_t *count);

#ifdef __cplusplus
}
#endif

#endif
