/* `mxbench run`'s measurement (bench_data.h): for every problem (a sweep row without its variant)
 * sets up inputs and references once, prepares the FP16 reference and every MXFP4 variant together,
 * checks each output's errors, times them all in interleaved rounds (timing.h: CUDA events around
 * exactly the call, L2 flushed before each sample, the SM clock probed after each round, stopping
 * on the ratios' intervals) and writes a row each, the files saved after every problem. No
 * op-specific code: everything about an op comes from its table entry (ops.h). */
#include "bench_data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cuda_runtime_api.h>
#include <nvtx3/nvToolsExt.h>

#include "mx.h"
#include "bench_gpu.h"
#include "cli.h"
#include "targets.h"

// ---- progress

static void format_duration(double seconds, char *text, size_t size) {
    int s = (int)(seconds + 0.5);
    snprintf(text, size, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
}

static void report_progress(const progress *p, const mx_run_info *info, const mx_sweep_row *row,
                            const char *variant, const char *what) {
    if (p->quiet) return;
    double elapsed = (mx_now_ms() - p->begin_ms) / 1e3;
    double eta = info->rows_done > 0
                     ? elapsed / (double)info->rows_done * (double)(p->total - info->rows_done)
                     : 0.0;
    char elapsed_text[16], eta_text[16];
    format_duration(elapsed, elapsed_text, sizeof elapsed_text);
    format_duration(eta, eta_text, sizeof eta_text);
    fprintf(stderr, "[%4lld/%lld] %s elapsed, ETA %s | %s %s %s %s M=%lld N=%lld K=%lld: %s\n",
            (long long)info->rows_done, (long long)p->total, elapsed_text, eta_text, row->op,
            variant, row->dtype, row->dist, (long long)row->m, (long long)row->n, (long long)row->k,
            what);
}

// ---- the sweep

typedef struct {
    const mx_sweep_row *first; /* the problem's rows: first[0 .. count) */
    size_t count;
} problem_rows;

static void skip_problem(run_files *files, const progress *prog, problem_rows rows,
                         const char *why) {
    for (size_t i = 0; i <= rows.count; i++) { /* the FP16 row, then every variant */
        const char *variant = i == 0 ? MX_BENCH_FP16 : rows.first[i - 1].variant;
        int r = mx_bench_start_row(files, &rows.first[i == 0 ? 0 : i - 1], variant);
        mx_bench_finish_row(files, r, "skipped", why);
        report_progress(prog, files->info, rows.first, variant, why);
    }
}

/* A problem timed at a lowered SM clock is timed once more after this pause. */
enum { MX_THROTTLE_PAUSE_S = 2 };

/* A candidate for the FP16 reference (one of the algorithms cuBLAS offers) or one variant of a
 * problem, prepared, checked and timed in the problem's rounds. */
typedef struct {
    const mx_bench_op *op;
    void *problem;
    const mx_sweep_row *row;
    const char *variant;
    mx_op_prepared prepared;
    row_result m;
    bool ready;       /* prepared and checked: timed in the rounds */
    bool skipped;     /* not measured because the reference was not (else why is a failure) */
    double *samples;  /* [rule.max_samples] */
    double inject_us; /* run --inject-slowdown: a spin this long after each call (test only) */
    char why[512];    /* why it failed or was skipped */
} slot;

static bool run_slot(void *context, cudaStream_t stream, char *why, size_t why_size) {
    slot *s = context;
    if (!s->op->run(s->problem, &s->prepared, stream, why, why_size)) return false;
    if (s->inject_us <= 0.0 || mx_bench_spin(stream, s->inject_us) == MX_OK) return true;
    snprintf(why, why_size, "injected slowdown: %s", mx_last_error());
    return false;
}

/* --inject-slowdown VARIANT:PCT (test only): the variant and the share, parsed once (bench.c). */
char mx_bench_injected_variant[32];
double mx_bench_injected_pct;

/* The spin that makes one call of s about mx_bench_injected_pct % slower: that share of one call's
 * time, timed once with events (no flush: the spin only has to be of the right size). */
static bool plan_injection(slot *s, const mx_timer *t) {
    if (mx_bench_injected_pct <= 0.0 || strcmp(s->variant, mx_bench_injected_variant) != 0)
        return true;
    /* timed as the rounds time it (after the same flush): the median of 5 calls */
    mx_timer once = *t;
    once.rule = (mx_stop_rule){.min_samples = 5, .max_samples = 5, .budget_ms = INFINITY};
    double samples[5];
    int count = 0;
    mx_stop_reason reason;
    bool ok = mx_time_call(&once, run_slot, s, samples, &count, &reason, s->why, sizeof s->why);
    s->inject_us = ok ? mx_bench_injected_pct / 100.0 * mx_stats_median_of(samples, count) : 0.0;
    return ok;
}

/* Prepares and checks a slot (its errors measured on a poisoned output). */
static void prepare_slot(slot *s, const mx_timer *t) {
    char range[256];
    snprintf(range, sizeof range, "%s %s %s %s M=%lld N=%lld K=%lld batch=%lld prepare", s->row->op,
             s->variant, s->row->dtype, s->row->dist, (long long)s->row->m, (long long)s->row->n,
             (long long)s->row->k, (long long)s->row->batch);
    nvtxRangePushA(range);
    s->ready =
        s->op->prepare(s->problem, s->variant, &s->prepared, &s->m.memory, s->why, sizeof s->why) &&
        s->op->check(s->problem, &s->prepared, t->stream, &s->m.errors, s->why, sizeof s->why) &&
        plan_injection(s, t);
    nvtxRangePop();
}

/* A problem's slots: candidates[0..references) (0: cuBLAS's own choice), then the variants;
 * ready lists the ones prepared and checked, candidates first. */
typedef struct {
    slot *slots, **ready;
    int count, references, ready_count, ready_references;
    int rejected;  /* cublasLt candidates whose output disagreed with cuBLAS's own choice */
    int reference; /* after the rounds: the slot of the fastest candidate, the fp16 row */
    int rows;      /* rows the problem writes: the fp16 row and the variants */
    int rounds;
    double first_clock_mhz; /* a throttled first attempt's clock, or NaN */
} problem_slots;

/* The rounds of a problem's ready slots, retimed once after a pause when the median SM clock over
 * the rounds says throttled. Fills each ready slot's row_result, ratios against the fastest
 * candidate. */
static bool time_slots(const mx_timer *base, problem_slots *p, double start_clock_mhz,
                       double *clocks, char *why, size_t why_size) {
    mx_round_call *calls = calloc((size_t)p->ready_count, sizeof *calls);
    if (!calls) {
        snprintf(why, why_size, "out of host memory");
        return false;
    }
    for (int i = 0; i < p->ready_count; i++)
        calls[i] = (mx_round_call){
            .call = run_slot, .context = p->ready[i], .samples = p->ready[i]->samples};
    mx_timer t = *base;
    const mx_sweep_row *row = p->ready[0]->row;
    if (row->budget_ms > 0) t.rule.budget_ms = row->budget_ms;
    t.rule.budget_ms *= p->rows; /* the rows' budgets and minimum times, spent together */
    t.rule.min_ms *= p->rows;
    int reference = -1;
    mx_stop_reason reason = MX_STOP_CONTINUE;
    double clock_mhz = NAN;
    bool ok = true;
    for (int attempt = 0; attempt < 2 && ok; attempt++) {
        if (attempt == 1) sleep(MX_THROTTLE_PAUSE_S); /* the clocks can recover */
        char range[256];
        snprintf(range, sizeof range, "%s %s %s M=%lld N=%lld K=%lld batch=%lld rounds", row->op,
                 row->dtype, row->dist, (long long)row->m, (long long)row->n, (long long)row->k,
                 (long long)row->batch);
        nvtxRangePushA(range);
        /* cuBLAS's own choice always stays: the self-check and fp16_default_us need it */
        int keep = p->slots[0].ready ? 0 : -1;
        ok = mx_time_rounds(&t, calls, p->ready_count, p->ready_references, keep, &reference,
                            clocks, &p->rounds, &reason, why, why_size);
        nvtxRangePop();
        clock_mhz = ok ? mx_stats_median_of(clocks, p->rounds) : NAN;
        if (!ok || !mx_target_throttled(clock_mhz, start_clock_mhz)) break;
        if (attempt == 0) p->first_clock_mhz = clock_mhz;
    }
    for (int i = 0; i < p->ready_count; i++)
        if (!calls[i].active) { /* failed (its own why), or a candidate left out as slower */
            p->ready[i]->ready = false;
            snprintf(p->ready[i]->why, sizeof p->ready[i]->why, "%s", calls[i].why);
        }
    if (ok) {
        const slot *best = p->ready[reference];
        p->reference = (int)(best - p->slots);
        for (int i = 0; i < p->ready_count; i++) {
            slot *s = p->ready[i];
            row_result *m = &s->m;
            if (!s->ready) continue;
            mx_stats_compute(s->samples, p->rounds, &m->stats);
            const mx_interval time = mx_stats_median_interval(s->samples, p->rounds);
            const mx_interval ratio =
                s == best ? (mx_interval){1.0, 1.0, 1.0}
                          : mx_stats_ratio_interval(s->samples, best->samples, p->rounds);
            m->time_noise_pct = mx_interval_noise_pct(time);
            m->ratio_noise_pct = mx_interval_noise_pct(ratio);
            m->time = mx_interval_across_runs(time, MX_RUN_TO_RUN_SD_PCT);
            m->ratio = s == best ? ratio : mx_interval_across_runs(ratio, MX_RUN_TO_RUN_SD_PCT);
            m->reason = reason;
            m->sm_clock_mhz = clock_mhz;
            m->fp16_us = mx_stats_median_of(best->samples, p->rounds);
        }
    }
    free(calls);
    return ok;
}

/* The self-check: a cublas_only variant makes the call of cuBLAS's own choice (candidate 0), so
 * its ratio to that candidate must come near 1 (mx_target_unstable). The first variant that does
 * not, with that ratio in *ratio, or NULL. */
static const slot *self_check(const problem_slots *p, mx_interval *ratio) {
    const slot *own = &p->slots[0];
    if (!own->ready) return NULL;
    for (int i = p->references; i < p->count; i++) {
        const slot *s = &p->slots[i];
        if (!s->ready || !mx_variant_traits_of(s->variant)->cublas_only) continue;
        *ratio = mx_stats_ratio_interval(s->samples, own->samples, p->rounds);
        if (mx_target_unstable(ratio->low, ratio->high)) return s;
    }
    return NULL;
}

/* Writes one slot's row (measured, failed or skipped) and its samples. */
static void write_slot(run_files *files, const progress *prog, const slot *s, int rounds,
                       const slot *unstable_by, mx_interval unstable_ratio,
                       double first_clock_mhz) {
    int r = mx_bench_start_row(files, s->row, s->variant);
    if (!s->ready) {
        /* A shape the GPU cannot hold or the variant does not support is skipped; anything else
         * (a kernel error, a failed check) is a failure. */
        bool skipped =
            s->skipped || strstr(s->why, "out of memory") || strstr(s->why, "unsupported shape");
        mx_bench_finish_row(files, r, skipped ? "skipped" : "fail", s->why);
        report_progress(prog, files->info, s->row, s->variant, s->why);
        return;
    }
    const row_result *m = &s->m;
    mx_bench_write_measured(files, r, s->op, s->row, m);
    mx_bench_write_samples(files, s->row, s->variant, s->samples, rounds);
    char note[1024] = "";
    const char *status = "ok";
    if (m->errors.nonfinite > 0) {
        status = "fail";
        snprintf(note, sizeof note, "%lld non-finite outputs where the exact result is finite; ",
                 (long long)m->errors.nonfinite);
    }
    if (m->errors.elementwise > 1.0)
        snprintf(note + strlen(note), sizeof note - strlen(note),
                 "%lld outputs beyond their error bound, the worst %.3g x (worst_element); ",
                 (long long)m->errors.elementwise_over, m->errors.elementwise);
    if (m->reason == MX_STOP_BUDGET)
        snprintf(note + strlen(note), sizeof note - strlen(note),
                 "time budget spent at noise %.2f %% (ratio interval %.2f %%); ", m->time_noise_pct,
                 m->ratio_noise_pct);
    if (isfinite(first_clock_mhz))
        snprintf(note + strlen(note), sizeof note - strlen(note),
                 "timed again after a %d s pause: SM clock %.0f MHz the first time; ",
                 MX_THROTTLE_PAUSE_S, first_clock_mhz);
    if (mx_target_throttled(m->sm_clock_mhz, files->info->sm_clock_start_mhz))
        snprintf(note + strlen(note), sizeof note - strlen(note),
                 "throttled: SM clock %.0f MHz vs %.0f at start (not judged); ", m->sm_clock_mhz,
                 files->info->sm_clock_start_mhz);
    if (unstable_by)
        snprintf(note + strlen(note), sizeof note - strlen(note),
                 "unstable: %s, the same cuBLAS call as cublasGemmEx's own choice, measured "
                 "%+.1f %% [%+.1f, %+.1f] off it (not judged); ",
                 unstable_by->variant, (unstable_ratio.median - 1.0) * 100.0,
                 (unstable_ratio.low - 1.0) * 100.0, (unstable_ratio.high - 1.0) * 100.0);
    size_t length = strlen(note);
    if (length >= 2) note[length - 2] = '\0';
    mx_bench_finish_row(files, r, status, note);
    char what[256];
    snprintf(what, sizeof what,
             "%.2f us (%+.1f %% [%+.1f, %+.1f] vs FP16 %.2f us), err %.2e vs FP16, %.0f GB/s%s",
             m->stats.median, (m->ratio.median - 1.0) * 100.0, (m->ratio.low - 1.0) * 100.0,
             (m->ratio.high - 1.0) * 100.0, m->fp16_us, m->errors.rel_vs_fp16,
             s->op->bytes(s->row, m->is_fp16) / (m->stats.median * 1e3),
             strcmp(status, "ok") == 0 ? "" : " FAIL");
    report_progress(prog, files->info, s->row, s->variant, what);
}

/* Whether a cublasLt candidate computes what cuBLAS's own choice (own) does: no more non-finite
 * outputs, no element beyond its error bound where own has none, within the FP16 error target
 * of the reference output. Against absolute limits when own did not run. */
static bool candidate_agrees(const slot *s, const slot *own) {
    const mx_bench_errors *e = &s->m.errors, *o = own->ready ? &own->m.errors : NULL;
    return e->nonfinite <= (o ? o->nonfinite : 0) &&
           !(e->elementwise > (o && o->elementwise > 1.0 ? o->elementwise : 1.0)) &&
           e->rel_vs_fp16 <= mx_targets.rel_vs_fp16;
}

/* Sets up the slots: every FP16 candidate the op offers, then every variant, each prepared and
 * checked (the variants only once a candidate is ready). */
static bool make_slots(problem_slots *p, const mx_timer *t, const mx_bench_op *op, void *problem,
                       problem_rows rows, double *samples) {
    p->count = p->references + (int)rows.count;
    p->rows = 1 + (int)rows.count;
    p->first_clock_mhz = NAN;
    p->slots = calloc((size_t)p->count, sizeof *p->slots);
    p->ready = calloc((size_t)p->count, sizeof *p->ready);
    if (!p->slots || !p->ready) return false;
    for (int i = 0; i < p->count; i++) {
        slot *s = &p->slots[i];
        bool candidate = i < p->references;
        s->op = op;
        s->problem = problem;
        s->row = candidate ? rows.first : &rows.first[i - p->references];
        s->variant = candidate ? MX_BENCH_FP16 : s->row->variant;
        s->m.is_fp16 = candidate;
        s->m.default_us = NAN;
        s->prepared.mode = candidate ? i : 0; /* which FP16 candidate (ops.h) */
        s->samples = samples + (size_t)t->rule.max_samples * (size_t)i;
        if (!candidate && p->ready_references == 0) {
            s->skipped = true;
            snprintf(s->why, sizeof s->why, "the FP16 reference of this shape did not run");
            continue;
        }
        prepare_slot(s, t);
        if (s->ready && candidate && i > 0 && !candidate_agrees(s, &p->slots[0])) {
            s->ready = false; /* a cublasLt algorithm that computes something else */
            p->rejected++;
        }
        if (s->ready) p->ready[p->ready_count++] = s;
        p->ready_references += s->ready && candidate;
    }
    return true;
}

/* One set-up problem: its FP16 candidates and every variant prepared and checked, then timed
 * together in interleaved rounds (docs/design.md §4), then written: the fastest candidate as the
 * fp16 row, then the variants. */
static void measure_problem(run_files *files, const mx_timer *t, const progress *prog,
                            const mx_bench_op *op, void *problem, problem_rows rows) {
    problem_slots p = {.references = 1 + (op->fp16_candidates ? op->fp16_candidates(problem) : 0)};
    size_t blocks = (size_t)p.references + rows.count + 1; /* every slot's samples, the clocks */
    double *samples = malloc(sizeof *samples * (size_t)t->rule.max_samples * blocks);
    if (!samples || !make_slots(&p, t, op, problem, rows, samples)) {
        free(p.slots);
        free(p.ready);
        free(samples);
        skip_problem(files, prog, rows, "out of host memory");
        return;
    }
    double *clocks = samples + (size_t)t->rule.max_samples * (blocks - 1);
    char why[512];
    if (!prog->quiet && p.ready_references > 0) { /* the rounds of a big problem take seconds */
        char problem_text[256];
        mx_sweep_problem(rows.first, problem_text, sizeof problem_text);
        fprintf(stderr, "       %s: timing %d call%s in rounds (%d FP16 candidate%s)\n",
                problem_text, p.ready_count, p.ready_count == 1 ? "" : "s", p.ready_references,
                p.ready_references == 1 ? "" : "s");
    }
    if (p.ready_references > 0 &&
        !time_slots(t, &p, files->info->sm_clock_start_mhz, clocks, why, sizeof why)) {
        /* Calls that failed in the rounds keep their own why. With a candidate still standing,
         * the timing itself failed: whatever still stands fails with it. Without one, every
         * candidate failed, and the variants still standing are skipped. */
        bool candidate_left = false;
        for (int i = 0; i < p.ready_references; i++) candidate_left |= p.ready[i]->ready;
        p.reference = (int)(p.ready[0] - p.slots);
        for (int i = 0; i < p.ready_count; i++) {
            slot *s = p.ready[i];
            /* no candidate left: the fp16 row says why one failed (not a pruned one's silence) */
            if (!candidate_left && i < p.ready_references && !s->ready && s->why[0])
                p.reference = (int)(s - p.slots);
            if (!s->ready) continue;
            s->ready = false;
            s->skipped = !candidate_left;
            snprintf(s->why, sizeof s->why, "%s",
                     candidate_left ? why : "the FP16 reference of this shape did not run");
        }
        if (!p.slots[p.reference].why[0])
            snprintf(p.slots[p.reference].why, sizeof p.slots[p.reference].why, "%s", why);
    }
    slot *fp16 = &p.slots[p.reference];
    if (fp16->ready) {
        fp16->m.candidates = p.ready_references;
        fp16->m.rejected = p.rejected;
        if (op->fp16_candidate_name)
            op->fp16_candidate_name(problem, p.reference, fp16->m.algo, sizeof fp16->m.algo);
        else
            snprintf(fp16->m.algo, sizeof fp16->m.algo, "cuBLAS's own choice");
        if (p.slots[0].ready) fp16->m.default_us = p.slots[0].m.stats.median;
    }
    mx_interval unstable_ratio = {NAN, NAN, NAN};
    const slot *unstable_by = self_check(&p, &unstable_ratio);
    for (int i = 0; i < p.count; i++) {
        p.slots[i].m.unstable = unstable_by != NULL;
        if (i >= p.references || i == p.reference)
            write_slot(files, prog, &p.slots[i], p.rounds, unstable_by, unstable_ratio,
                       p.first_clock_mhz);
        mx_op_prepared_free(&p.slots[i].prepared); /* also after a failed prepare */
    }
    free(p.slots);
    free(p.ready);
    free(samples);
}

int mx_bench_run_problems(run_files *files, const mx_timer *t, const progress *prog,
                          const mx_sweep *sweep) {
    for (size_t i = 0; i < sweep->count && !mx_bench_interrupted;) {
        problem_rows rows = {&sweep->rows[i], 1};
        while (i + rows.count < sweep->count &&
               mx_sweep_same_problem(rows.first, rows.first + rows.count))
            rows.count++;
        i += rows.count;
        const mx_bench_op *op = mx_bench_find_op(rows.first->op);
        void *problem = NULL;
        char why[512] = "";
        if (op->setup(rows.first, &problem, why, sizeof why)) {
            measure_problem(files, t, prog, op, problem, rows);
            op->teardown(problem);
        } else {
            skip_problem(files, prog, rows, why);
        }
        if (!mx_bench_save_all(files)) return MX_EXIT_FAILED;
        /* A kernel fault poisons the CUDA context for good: every later row would fail too. */
        cudaError_t context = cudaDeviceSynchronize();
        if (context != cudaSuccess) {
            char problem_text[256];
            mx_sweep_problem(rows.first, problem_text, sizeof problem_text);
            mx_cli_error("the CUDA context is lost after %s (%s): the run stops here; its rows "
                         "say which call failed",
                         problem_text, cudaGetErrorString(context));
            return MX_EXIT_FAILED;
        }
    }
    return mx_bench_save_all(files) ? MX_EXIT_OK : MX_EXIT_FAILED;
}
