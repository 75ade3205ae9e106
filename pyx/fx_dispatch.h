/* fx_dispatch.h -- the operations of fx_ops.def, built once per element
 * type and instruction set, and the run-time choice among the sets.
 *
 * Design: the wheel is compiled for baseline x86-64 (or the platform's
 * default elsewhere); fx_isa.inc is included once per path and compiles
 * the portable loops of fx_rowops.inc -- and, on the AVX paths, the
 * intrinsics of fx_simd.inc -- under that path's `#pragma GCC target`.
 * fx_select_isa() copies one path's tables into fx_F / fx_D / fx_H from
 * what the CPU reports (__builtin_cpu_supports).  The vector math in
 * fx_vecmath.h is always_inline, so it is re-compiled for the target of
 * the loop that calls it.  No libmvec, no -ffast-math.
 *
 * FX_SIMDE (test builds only): the AVX-512 path is compiled from the same
 * intrinsics through SIMDe's portable implementations, so its logic runs
 * on CPUs without AVX-512; `fusedxent info` then says so.
 */
#ifndef FX_DISPATCH_H
#define FX_DISPATCH_H

#include <string.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif
#ifdef FX_SIMDE
#include <simde/x86/avx512.h>      /* the emulated AVX-512 path of a test build */
#include "fx_simde_shim.h"
#endif
#include "fx_vecmath.h"

#ifdef _OPENMP
#include <omp.h>
static int fx_max_threads(void) { return omp_get_max_threads(); }
static int fx_have_openmp(void) { return 1; }
#else
static int fx_max_threads(void) { return 1; }
static int fx_have_openmp(void) { return 0; }
#endif

#ifndef FX_PF_LOCALITY
#define FX_PF_LOCALITY 3   /* prefetch hint for the next row: into L1 */
#endif
#define FX_GROUP 64     /* rows per group of the small-class path */
#define FX_SMALL_C 64   /* classes up to which rows are vectorized across: the across-rows
                           path measured faster than the row path up to here, not above */
/* elements; rows longer than this are read once, chunk by chunk, each
 * chunk's sum pass reading it from L1 (4 KB float, well inside a 32 KB
 * L1 beside the next chunk streaming in: 8192, the whole L1 of Zen 4,
 * left the sum pass to L2; 512 and 256 measured no better). */
#define FX_ONLINE_CHUNK 1024

/* Row statistics of a block (fx_rowops.inc, row_stats).  The first four
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
} fx_stats;

/* One segment of binary cross-entropy (fx_rowops.inc, bce). */
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

/* The options of the plain class-index forward loss (fx_rowops.inc,
 * xent_rows): no smoothing, no z-loss, no gradient. */
typedef struct {
    const double *cw;   /* class weights (C), or NULL                          */
    const double *sw;   /* sample weights of the block's rows, or NULL         */
    int64_t ignore;     /* ignore_index                                        */
    double k;           /* scale of the written losses (1 / ln base)           */
    int check;          /* labels not range-checked by the caller              */
} fx_xent;

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

/* ---- one path per instruction set ---- */
#define FX_ISA base
#define FX_ISA_LEVEL 0
#include "fx_isa.inc"
#undef FX_ISA
#undef FX_ISA_LEVEL

#if defined(__x86_64__) && defined(__GNUC__)
#define FX_HAVE_X86_PATHS 1
#define FX_ISA avx2
#define FX_ISA_LEVEL 1
#include "fx_isa.inc"
#undef FX_ISA
#undef FX_ISA_LEVEL
#define FX_ISA avx512
#define FX_ISA_LEVEL 2
#include "fx_isa.inc"
#undef FX_ISA
#undef FX_ISA_LEVEL
#else
#define FX_HAVE_X86_PATHS 0
#endif

static fx_ops_f fx_F;
static fx_ops_d fx_D;
static fx_ops_h fx_H;
static const char *fx_isa_current = "baseline";
static const char *const fx_isa_names[3] = {"baseline", "avx2", "avx512"};

#ifdef FX_SIMDE
static int fx_simde(void) { return 1; }
#else
static int fx_simde(void) { return 0; }
#endif

/* Which paths this CPU can run: bit 0 baseline, bit 1 avx2, bit 2 avx512. */
static int fx_isa_supported(void)
{
    int bits = 1;
#if FX_HAVE_X86_PATHS
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
        bits |= 2;
#ifdef FX_SIMDE
    if (bits & 2)        /* emulated through SIMDe, compiled for AVX2 */
        bits |= 4;
#else
    if ((bits & 2) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")
        && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw"))
        bits |= 4;
#endif
#endif
    return bits;
}

/* 0 baseline, 1 avx2, 2 avx512, -1 the widest available.  Returns the
 * level set, or -2 when the CPU cannot run the one asked for (nothing
 * changes). */
static int fx_select_isa(int level)
{
    int bits = fx_isa_supported();
    if (level < 0) level = (bits & 4) ? 2 : (bits & 2) ? 1 : 0;
    if (level > 2 || !(bits & (1 << level))) return -2;
    fx_F = fx_ops_f_base; fx_D = fx_ops_d_base; fx_H = fx_ops_h_base;
#if FX_HAVE_X86_PATHS
    if (level == 1) { fx_F = fx_ops_f_avx2; fx_D = fx_ops_d_avx2; fx_H = fx_ops_h_avx2; }
    if (level == 2) { fx_F = fx_ops_f_avx512; fx_D = fx_ops_d_avx512; fx_H = fx_ops_h_avx512; }
#endif
    fx_isa_current = fx_isa_names[level];
    return level;
}

#endif /* FX_DISPATCH_H */
