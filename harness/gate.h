/* The nightly gate's verdict on one row, from run-level values: each run contributes one value
 * (the median of its samples for the row, or that median over the row's FP16 control in the same
 * run), and the runs of BASE (a baseline's history) are compared with the runs of CUR. Within-run
 * samples say nothing about how far a re-run moves: two runs of one binary on one GPU differ by
 * 0.7 % at the median and up to 12 % on some rows, far beyond the noise of either run's median.
 *
 * The method, on the logs of the values (a ratio of times becomes a difference):
 *   change   exp(mean log CUR - mean log BASE) - 1
 *   spread   the pooled standard deviation s of the logs within each side (the run-to-run
 *            spread), with n_B + n_C - 2 degrees of freedom
 *   test     Student's t = (mean log CUR - mean log BASE) / (s sqrt(1/n_B + 1/n_C)), two-sided
 *   counts   a change counts from max(min_change_pct, exp(k s) - 1): a row that moves 8 % from run
 *            to run cannot be called slower for moving 8 %
 * SLOWER / FASTER: significant (p < alpha) and counts, with at least 2 BASE runs (CUR's runs are
 * one job on one machine: only a history of baseline runs knows how far another machine or day
 * moves a row); SAME: it does not count; UNSURE: it counts but is not significant, the spread is
 * unknown (one run on each side), or BASE has one run. */
#ifndef MX_GATE_H
#define MX_GATE_H

#include <stdbool.h>

/* A row's verdict; the order is compare's "worst first" order. */
typedef enum {
    MX_VERDICT_ACCURACY, /* pass_error true -> false, or status ok -> fail (a regression) */
    MX_VERDICT_MISSING,  /* measured in BASE, absent or not measured in CUR (a regression) */
    MX_VERDICT_SLOWER,   /* significantly slower by a change that counts (a regression) */
    MX_VERDICT_UNSURE,   /* the runs cannot decide, or a run timed the row throttled */
    MX_VERDICT_SAME,     /* the change does not count */
    MX_VERDICT_FASTER,   /* significantly faster by a change that counts */
    MX_VERDICT_NEW,      /* measured in CUR, absent or not measured in BASE */
    MX_VERDICT_SKIPPED,  /* measured in neither run */
    MX_VERDICT_COUNT
} mx_verdict;

const char *mx_verdict_string(mx_verdict verdict);
/* ACCURACY, MISSING and SLOWER make compare exit 1. */
bool mx_verdict_is_regression(mx_verdict verdict);

typedef struct {
    double alpha;          /* level of the two-sided run-level t test (compare: 0.01) */
    double min_change_pct; /* smallest change that counts (compare: 5) */
    double spread_factor;  /* k: a change must also exceed exp(k s) - 1 (compare: 3) */
} mx_gate_rule;

typedef struct {
    mx_verdict verdict; /* FASTER, SLOWER, SAME or UNSURE */
    int base_runs, cur_runs;
    double base_value, cur_value; /* geometric means of the runs' values */
    double change_pct;            /* (cur / base - 1) * 100: positive is slower */
    double spread_pct;            /* (exp(s) - 1) * 100; NAN with one run on each side */
    double threshold_pct;         /* the change that counts: max(min_change_pct, exp(k s) - 1) */
    /* The change the run-to-run spread alone could give at level alpha: exp(+-t s sqrt(1/n_B +
     * 1/n_C)) - 1 in %; NAN with one run on each side. */
    double band_low_pct, band_high_pct;
    double p_value; /* NAN with one run on each side */
    char reason[200];
} mx_gate_verdict;

/* Judges a row from its runs' values (positive; not reordered). */
void mx_gate_judge(const double *base, int base_count, const double *cur, int cur_count,
                   const mx_gate_rule *rule, mx_gate_verdict *out);

#endif
