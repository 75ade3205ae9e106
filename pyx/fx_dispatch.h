/* fx_dispatch.h -- builds the row loops of fx_rowops.inc once per element
 * type and instruction set, and picks one set at run time.
 *
 * Design: the wheel is compiled for baseline x86-64 (or the platform's
 * default elsewhere); the AVX2+FMA and AVX-512 copies are compiled from the
 * same source under `#pragma GCC target`, and fx_select_isa() fills the two
 * function tables from what the CPU reports (__builtin_cpu_supports).  The
 * vector math in fx_vecmath.h is always_inline, so it is re-compiled for the
 * target of the loop that calls it.  No libmvec, no -ffast-math.
 */
#ifndef FX_DISPATCH_H
#define FX_DISPATCH_H

#include <string.h>
#include <stddef.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>   /* F16C intrinsics, used only inside the avx2/avx512 target regions */
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
#define FX_SMALL_C 64   /* classes up to which rows are vectorized across (33..64: 1.45-1.7x
                           faster than the row path; at 80..128 within noise of it) */

#define FX_DECLARE_OPS(T, NAME)                                                       \
    typedef struct {                                                                  \
        T (*rowmax)(const T *, ptrdiff_t);                                            \
        double (*sumexp)(const T *, ptrdiff_t, T, const T *);                         \
        double (*sumexp_exact)(const T *, ptrdiff_t, T, const T *);                   \
        void (*exp_affine)(const T *, T *, ptrdiff_t, T, double, const double *, double); \
        void (*sub2)(const T *, T *, ptrdiff_t, T, T);                                \
        double (*wdiff)(const T *, const double *, ptrdiff_t, T);                     \
        double (*tdiff)(const T *, const T *, const double *, ptrdiff_t, T, double, double, double *); \
        void (*grad_soft)(const T *, const T *, T *, ptrdiff_t, T, double, const double *, double, double, double); \
        void (*sigmoid)(const T *, T *, ptrdiff_t);                                   \
        void (*log_sigmoid)(const T *, T *, ptrdiff_t);                               \
        double (*bce)(const T *, const T *, ptrdiff_t, const double *, double, const double *, \
                      double, double, T *, T *, double, double, double);              \
        ptrdiff_t (*first_eq)(const T *, ptrdiff_t, T);                               \
        double (*rowsum)(const T *, ptrdiff_t);                                       \
        double (*plogq)(const T *, const T *, ptrdiff_t, T, T);                       \
        double (*bce_prob)(const T *, const T *, ptrdiff_t, const double *, double, T, T, T *); \
        void (*stats_small)(const T *, ptrdiff_t, ptrdiff_t, double *, double *, double *, ptrdiff_t *); \
        void (*vecmath)(int, const T *, T *, ptrdiff_t);                              \
    } NAME;

FX_DECLARE_OPS(float, fx_ops_f)
FX_DECLARE_OPS(double, fx_ops_d)

typedef struct {
    void (*h2f)(const uint16_t *, float *, ptrdiff_t);
    void (*f2h)(const float *, uint16_t *, ptrdiff_t);
} fx_ops_h;
#define FX_HALF_TABLE(ISA) { half_to_float_f_##ISA, float_to_half_f_##ISA }

#define FX_OPS_TABLE(T, S, ISA)                                                      \
    { rowmax_##S##_##ISA, sumexp_##S##_##ISA, sumexp_exact_##S##_##ISA, exp_affine_##S##_##ISA,            \
      sub2_##S##_##ISA, wdiff_##S##_##ISA, tdiff_##S##_##ISA, grad_soft_##S##_##ISA,  \
      sigmoid_##S##_##ISA, log_sigmoid_##S##_##ISA, bce_##S##_##ISA,                  \
      first_eq_##S##_##ISA, rowsum_##S##_##ISA, plogq_##S##_##ISA, bce_prob_##S##_##ISA, \
      stats_small_##S##_##ISA, vecmath_##S##_##ISA }

/* ---- baseline: whatever the compiler targets by default ---- */
#define FX_ISA base
#define FX_T float
#define FX_S f
#define FX_IS_FLOAT 1
#include "fx_rowops.inc"
#undef FX_T
#undef FX_S
#undef FX_IS_FLOAT
#define FX_T double
#define FX_S d
#define FX_IS_FLOAT 0
#include "fx_rowops.inc"
#undef FX_T
#undef FX_S
#undef FX_IS_FLOAT
#undef FX_ISA

#if defined(__x86_64__) && defined(__GNUC__)
#define FX_HAVE_X86_PATHS 1

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#define FX_ISA avx2
#define FX_T float
#define FX_S f
#define FX_IS_FLOAT 1
#include "fx_rowops.inc"
#undef FX_T
#undef FX_S
#undef FX_IS_FLOAT
#define FX_T double
#define FX_S d
#define FX_IS_FLOAT 0
#include "fx_rowops.inc"
#undef FX_T
#undef FX_S
#undef FX_IS_FLOAT
#undef FX_ISA
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512vl,avx512bw,fma,f16c,prefer-vector-width=512")
#define FX_ISA avx512
#define FX_T float
#define FX_S f
#define FX_IS_FLOAT 1
#include "fx_rowops.inc"
#undef FX_T
#undef FX_S
#undef FX_IS_FLOAT
#define FX_T double
#define FX_S d
#define FX_IS_FLOAT 0
#include "fx_rowops.inc"
#undef FX_T
#undef FX_S
#undef FX_IS_FLOAT
#undef FX_ISA
#pragma GCC pop_options
#else
#define FX_HAVE_X86_PATHS 0
#endif

static fx_ops_f fx_F = FX_OPS_TABLE(float, f, base);
static fx_ops_d fx_D = FX_OPS_TABLE(double, d, base);
static fx_ops_h fx_H = FX_HALF_TABLE(base);
static const char *fx_isa_current = "baseline";

/* Which paths this CPU can run: bit 0 baseline, bit 1 avx2, bit 2 avx512. */
static int fx_isa_supported(void)
{
    int bits = 1;
#if FX_HAVE_X86_PATHS
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        bits |= 2;
    if ((bits & 2) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")
        && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw"))
        bits |= 4;
#endif
    return bits;
}

/* 0 baseline, 1 avx2, 2 avx512, -1 best available.  Returns the level set,
 * or -2 when the CPU cannot run the one asked for (nothing changes). */
static int fx_select_isa(int level)
{
    int bits = fx_isa_supported();
    if (level < 0) level = (bits & 4) ? 2 : (bits & 2) ? 1 : 0;
    if (level > 2 || !(bits & (1 << level))) return -2;
#if FX_HAVE_X86_PATHS
    if (level == 2) {
        fx_ops_f f = FX_OPS_TABLE(float, f, avx512); fx_ops_d d = FX_OPS_TABLE(double, d, avx512);
        fx_ops_h h = FX_HALF_TABLE(avx512);
        fx_F = f; fx_D = d; fx_H = h; fx_isa_current = "avx512";
        return level;
    }
    if (level == 1) {
        fx_ops_f f = FX_OPS_TABLE(float, f, avx2); fx_ops_d d = FX_OPS_TABLE(double, d, avx2);
        fx_ops_h h = FX_HALF_TABLE(avx2);
        fx_F = f; fx_D = d; fx_H = h; fx_isa_current = "avx2";
        return level;
    }
#endif
    {
        fx_ops_f f = FX_OPS_TABLE(float, f, base); fx_ops_d d = FX_OPS_TABLE(double, d, base);
        fx_ops_h h = FX_HALF_TABLE(base);
        fx_F = f; fx_D = d; fx_H = h; fx_isa_current = "baseline";
    }
    return 0;
}

#endif /* FX_DISPATCH_H */
