/* fx_ops.h -- the C types the kernels and their callers share: the
 * statistics, option and segment structs, and the operation tables'
 * types from the one list fx_ops.def.  No kernels: the testing module
 * (_testing.pyx) includes this to call the tables _kernels selected
 * (handed over in a capsule), without compiling the kernels again.
 * fx_dispatch.h builds the tables. */
#ifndef FX_OPS_H
#define FX_OPS_H

#include <stddef.h>
#include <stdint.h>

/* Row statistics of a block (fx_rows.h, row_stats).  The first four
 * arrays are always filled; the optional ones when not NULL. */
typedef struct {
    double *m;          /* row maximum; NaN for a row holding a NaN, +-inf when the maximum is */
    double *s;          /* sum over j != k of exp(x_j - m); NaN unless m is finite            */
    double *l;          /* log1p(s)                                                             */
    int64_t *k;         /* first index of the maximum (NumPy's argmax: first NaN of a NaN row)  */
    const int64_t *y;   /* labels, for rank (rows labelled `ignore` are skipped)                */
    int64_t ignore;
    int64_t *rank;      /* #{j : x_j > x_y} + #{j < y : x_j == x_y}; C for a NaN row           */
    double *s2;         /* sum over j != k of exp(2 (x_j - m))                                  */
    double *sx;         /* sum over j != k of exp(x_j - m) (m - x_j)                            */
    double *sxx;        /* sum over j != k of exp(x_j - m) (m - x_j)^2   (variance: fit_temperature) */
    double *sx3;        /* sum over j != k of exp(x_j - m) (m - x_j)^3   (skewness; with sxx only)  */
    ptrdiff_t pfd;      /* bytes from a row of x to what to prefetch while it computes; 0: each
                           kernel's own distance (the next row, or a fixed distance ahead).
                           The driver sets it when x is transformed scratch, so the next
                           block's raw rows stream in as this block computes.                  */
} fx_stats;

/* One segment of binary cross-entropy (fx_elementwise.h, bce). */
typedef struct {
    const double *w;    /* element weights of the segment, or NULL                    */
    double ws;          /* weight of the whole segment (a row weight)                 */
    const double *pw;   /* pos_weight of the segment's elements, or NULL              */
    double ta, tb;      /* label smoothing: t' = ta t + tb                            */
    double gscale;      /* scale of the gradient                                      */
    double gamma;       /* focal exponent (0: none)                                   */
    double alpha;       /* focal class balance; < 0: none                             */
    double k;           /* scale of the written losses (1 / ln base)                  */
} fx_bce_seg;

/* The options of the plain class-index forward loss (fx_rows.h,
 * xent_rows): no smoothing, no z-loss, no gradient. */
typedef struct {
    const double *cw;   /* class weights (C), or NULL                          */
    const double *sw;   /* sample weights of the block's rows, or NULL         */
    int64_t ignore;     /* ignore_index                                        */
    double k;           /* scale of the written losses (1 / ln base)           */
    int check;          /* labels not range-checked by the caller              */
} fx_xent;

/* The focal loss with a target distribution (fx_rows.h, focal_rows): the
 * class coefficients and the target's affine map. */
typedef struct {
    const double *fa;   /* per class: class weight times focal alpha (C)      */
    double gamma;       /* focal exponent                                      */
    double ta, tb;      /* t'_j = ta t_j + tb (t given), or ta [j = y] + tb    */
    double z;           /* z-loss coefficient (its gradient term)              */
} fx_focal;

/* Distillation rows (fx_distill.h, distill_rows): the divergence between
 * the teacher's and the student's softmax at one temperature, and the
 * student's cross-entropy at temperature 1. */
#define FX_DISTILL_NPOLY 16
typedef struct {
    double it;          /* 1 / temperature                                              */
    int div;            /* 0: KL(P||Q), 1: KL(Q||P), 2: Jensen-Shannon with beta        */
    double beta;
    double tau;         /* |r| < tau: the series below, else the closed forms           */
    double cs[FX_DISTILL_NPOLY];   /* the row term / q as sum_k cs[k] r^(k+2)          */
    double cl[FX_DISTILL_NPOLY];   /* JSD: log(M_j / Q_j) as sum_k cl[k] r^(k+1)        */
} fx_distill;

#define FX_CAT2_(a, b) a##b
#define FX_CAT2(a, b) FX_CAT2_(a, b)
#define FX_CAT3_(a, b, c) a##_##b##_##c
#define FX_CAT3(a, b, c) FX_CAT3_(a, b, c)

/* ---- the tables' types, from the list ---- */
#define FX_OP(name, ret, params) ret (*name) params;
#define FX_CVT(name, params)
#define T float
typedef struct {
#include "fx_ops.def"
} fx_ops_f;
#undef T
#define T double
typedef struct {
#include "fx_ops.def"
} fx_ops_d;
#undef T
#undef FX_OP
#undef FX_CVT
#define FX_OP(name, ret, params)
#define FX_CVT(name, params) void (*name) params;
typedef struct {
#include "fx_ops.def"
} fx_ops_h;
#undef FX_OP
#undef FX_CVT

#endif /* FX_OPS_H */
