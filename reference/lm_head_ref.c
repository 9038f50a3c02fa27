/* CPU FP64 reference of the LM head's sampling (lm_head_ref.h). */
#include "lm_head_ref.h"

#include <math.h>
#include <stdlib.h>

int64_t mx_ref_argmax(const double *logits, int64_t vocab) {
    int64_t best = 0;
    for (int64_t i = 1; i < vocab; i++)
        if (logits[i] > logits[best]) best = i;
    return best;
}

void mx_ref_softmax_f64(const double *logits, int64_t vocab, double temperature, double *p) {
    double maximum = logits[mx_ref_argmax(logits, vocab)], sum = 0.0;
    for (int64_t i = 0; i < vocab; i++) sum += p[i] = exp((logits[i] - maximum) / temperature);
    for (int64_t i = 0; i < vocab; i++) p[i] /= sum;
}

typedef struct {
    double p;
    int32_t index;
} ranked;

/* qsort order: p descending, then index ascending (the GPU's stable sort). */
static int by_probability(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->p != y->p) return x->p > y->p ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

void mx_ref_sample_candidates(const double *logits, int64_t vocab, double temperature,
                              int64_t top_k, double top_p, int32_t *candidates, double *probs,
                              int64_t *count) {
    *count = 0;
    if (temperature == 0.0) {
        candidates[0] = (int32_t)mx_ref_argmax(logits, vocab);
        probs[0] = 1.0;
        *count = 1;
        return;
    }
    double *p = malloc((size_t)vocab * sizeof *p);
    ranked *order = malloc((size_t)vocab * sizeof *order);
    if (p && order) {
        mx_ref_softmax_f64(logits, vocab, temperature, p);
        for (int64_t i = 0; i < vocab; i++) order[i] = (ranked){p[i], (int32_t)i};
        qsort(order, (size_t)vocab, sizeof *order, by_probability);
        int64_t k = top_k == 0 ? vocab : top_k, n = 0;
        double top_k_mass = 0.0, nucleus_mass = 0.0;
        for (int64_t i = 0; i < k; i++) top_k_mass += order[i].p;
        while (n < k) {
            nucleus_mass += order[n++].p;
            if (top_p < 1.0 && nucleus_mass >= top_p * top_k_mass) break;
        }
        for (int64_t i = 0; i < n; i++) {
            candidates[i] = order[i].index;
            probs[i] = order[i].p / nucleus_mass;
        }
        *count = n;
    }
    free(p);
    free(order);
}
