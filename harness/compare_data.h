/* compare's own data, shared by its parts: compare_judge.c (each row's verdict, the control) and
 * compare.c (the command: the sides loaded, the verdicts printed, saved and plotted). Not part of
 * the harness's interface. */
#ifndef MX_COMPARE_DATA_H
#define MX_COMPARE_DATA_H

#include <stdbool.h>
#include <stddef.h>

#include "gate.h"
#include "run_folder.h"

/* BASE's runs (a baseline's history, newest first) or CUR's (the repetitions of one job). runs[0]
 * lists the side's rows and stands for it in messages. */
typedef struct {
    mx_run_folder **runs;
    int count;
    char dir[1024]; /* BASE: the folder given or found; CUR: the first run's */
} run_side;

typedef struct {
    long base_row, cur_row; /* in each side's runs[0]; -1: absent there */
    size_t order;           /* BASE's row order, then rows only in CUR */
    mx_verdict verdict;
    bool timed; /* measured on both sides: gate holds the runs' verdict */
    mx_gate_verdict gate;
    double base_us, cur_us; /* geometric means of the runs' median times */
    char reason[512];
    char first_verdict[16]; /* --first: the row's verdict there ("" absent) */
} compared_row;

typedef struct {
    run_side base, cur;
    compared_row *rows;
    size_t count;
    size_t plotted;                 /* rows in compare.dat */
    double change_low, change_high; /* the changes it holds, and +- the minimum change */
    mx_gate_rule rule;
    /* The control: rows that time cuBLAS alone (variants.h). When they moved as a whole by
     * MX_CONTROL_DRIFT_PCT or more (another board, clocks, a driver), every other row is judged
     * by its time relative to its problem's FP16 row in the same run. */
    double control_drift_pct;
    int control_rows;
    bool relative;
} comparison;

enum { MX_CONTROL_DRIFT_PCT = 2 };

// ---- compare_judge.c

/* The row's verdict and its reason, from the runs of both sides. */
void mx_compare_judge_row(const comparison *cmp, compared_row *row);
/* The control rows' median change (cmp->control_drift_pct), and whether it makes the gate judge
 * the other rows relative to their FP16 row (cmp->relative). */
void mx_compare_measure_control(comparison *cmp);
/* qsort order of compared rows: worst first. */
int mx_compare_rows(const void *a, const void *b);

#endif
