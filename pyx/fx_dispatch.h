/* fx_dispatch.h -- the operations of fx_ops.def, built once per element
 * type and instruction set, and the run-time choice among the sets.
 *
 * Design: the wheel is compiled for baseline x86-64 (or the platform's
 * default elsewhere); for each row of fx_isa_table.def fx_isa.h compiles
 * the kernels of fx_kernels.h -- the portable loops, and on the vector
 * paths the kernels written against the row's vocabulary -- under that
 * path's `#pragma GCC target`.
 * fx_select_isa() copies one path's tables into fx_F / fx_D / fx_H from
 * what the CPU reports (the row's check).  The vector math in
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
#include <cpuid.h>
#endif
#if defined(__aarch64__)
#include <arm_neon.h>
#endif
#ifdef FX_SIMDE
#include <simde/x86/avx512.h>      /* the emulated AVX-512 path of a test build */
#include "fx_simde_shim.h"
#endif
#include "fx_vecmath.h"
#include "fx_ops.h"

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
/* A read prefetch of the line at p into the cache level of `loc` (0-3,
 * GCC's locality).  MSVC builds only the portable path (FX_X86 needs GNU C):
 * there it is dropped. */
#if defined(_MSC_VER) && !defined(__clang__)
#define FX_PREFETCH(p, loc) ((void)(p))
#else
#define FX_PREFETCH(p, loc) __builtin_prefetch((p), 0, (loc))
#endif
/* The address pfd bytes from p (fx_stats.pfd: often in another
 * allocation), formed in integers: only ever prefetched, which never
 * faults, so it may point anywhere. */
#define FX_PF_AT(p, pfd) ((const char *)((uintptr_t)(p) + (uintptr_t)(pfd)))
#define FX_GROUP 64     /* rows per group of the small-class path */
#define FX_SMALL_C 64   /* classes up to which rows are vectorized across: the across-rows
                           path measured faster than the row path up to here, not above */
/* elements; rows longer than this are read once, chunk by chunk, each
 * chunk's sum pass reading it from L1 (4 KB float, well inside a 32 KB
 * L1 beside the next chunk streaming in: 8192, the whole L1 of Zen 4,
 * left the sum pass to L2; 512 and 256 measured no better). */
#define FX_ONLINE_CHUNK 1024

/* ---- one path per instruction set: the rows of fx_isa_table.def ---- */
#if defined(__x86_64__) && defined(__GNUC__)
#define FX_X86 1
/* The CPU checks of the table's x86 rows, from CPUID and XCR0 directly
 * (no __builtin_cpu_supports: MSVC has none, clang 14's lacks "f16c").
 * A feature counts only when the OS saves its registers: XCR0 bits 1-2
 * (SSE, AVX state) for AVX2/FMA/F16C, and 5-7 (opmask, upper ZMM) too for
 * AVX-512 -- what the Intel SDM's detection procedure (vol. 1, 14.3 and
 * 15.2) tests, OSXSAVE first. */
static void fx_cpuid(unsigned leaf, unsigned sub, unsigned r[4])
{
#if defined(_MSC_VER) && !defined(__clang__)
    int a[4];
    __cpuidex(a, (int)leaf, (int)sub);
    r[0] = (unsigned)a[0]; r[1] = (unsigned)a[1]; r[2] = (unsigned)a[2]; r[3] = (unsigned)a[3];
#else
    r[0] = r[1] = r[2] = r[3] = 0;
    if (leaf <= __get_cpuid_max(0, NULL))
        __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
#endif
}
static unsigned long long fx_xcr0(void)
{
#if defined(_MSC_VER) && !defined(__clang__)
    return _xgetbv(0);
#else
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));   /* no -mxsave needed, unlike _xgetbv */
    return ((unsigned long long)hi << 32) | lo;
#endif
}
static int fx_cpu_avx2(void)
{
    unsigned l1[4], l7[4];
    fx_cpuid(1, 0, l1);
    if (!(l1[2] >> 27 & 1u))                            /* OSXSAVE: XGETBV usable */
        return 0;
    fx_cpuid(7, 0, l7);
    return (fx_xcr0() & 0x6) == 0x6
        && (l1[2] >> 12 & 1u) && (l1[2] >> 28 & 1u) && (l1[2] >> 29 & 1u)   /* FMA, AVX, F16C */
        && (l7[1] >> 5 & 1u);                                                 /* AVX2 */
}
static int fx_cpu_avx512(void)
{
    unsigned l7[4];
    if (!fx_cpu_avx2() || (fx_xcr0() & 0xe6) != 0xe6)
        return 0;
    fx_cpuid(7, 0, l7);
    return (l7[1] >> 16 & 1u) && (l7[1] >> 17 & 1u)     /* AVX512F, DQ */
        && (l7[1] >> 30 & 1u) && (l7[1] >> 31 & 1u);    /* BW, VL */
}
#else
#define FX_X86 0
#endif
#define FX_PRAGMA_(x) _Pragma(#x)
#define FX_PRAGMA(x) FX_PRAGMA_(x)      /* FX_PRAGMA(GCC target(FX_ISA_TARGET)): the string expanded */

#define FX_EMIT_BUILD 1
#define FX_EMIT_NAME 2
#define FX_EMIT_CPU 3
#define FX_EMIT_OPS_F 4
#define FX_EMIT_OPS_D 5
#define FX_EMIT_OPS_H 6
#define FX_ISA_ROW_FILE "fx_isa_row.h"

#define FX_ISA_EMIT FX_EMIT_BUILD
#include "fx_isa_table.def"
#undef FX_ISA_EMIT

static const char *const fx_isa_names[] = {
#define FX_ISA_EMIT FX_EMIT_NAME
#include "fx_isa_table.def"
#undef FX_ISA_EMIT
};
#define FX_ISA_COUNT ((int)(sizeof fx_isa_names / sizeof fx_isa_names[0]))

static const fx_ops_f *const fx_ops_f_paths[] = {
#define FX_ISA_EMIT FX_EMIT_OPS_F
#include "fx_isa_table.def"
#undef FX_ISA_EMIT
};
static const fx_ops_d *const fx_ops_d_paths[] = {
#define FX_ISA_EMIT FX_EMIT_OPS_D
#include "fx_isa_table.def"
#undef FX_ISA_EMIT
};
static const fx_ops_h *const fx_ops_h_paths[] = {
#define FX_ISA_EMIT FX_EMIT_OPS_H
#include "fx_isa_table.def"
#undef FX_ISA_EMIT
};

static fx_ops_f fx_F;
static fx_ops_d fx_D;
static fx_ops_h fx_H;
static const char *fx_isa_current = "baseline";

#ifdef FX_SIMDE
static int fx_simde(void) { return 1; }
#else
static int fx_simde(void) { return 0; }
#endif

/* Which paths this CPU can run: bit i for the table's row i. */
static int fx_isa_supported(void)
{
    int bits = 0;
#define FX_ISA_EMIT FX_EMIT_CPU
#include "fx_isa_table.def"
#undef FX_ISA_EMIT
    return bits;
}

/* The level of the path named `name`, or -1. */
static int fx_isa_level(const char *name)
{
    for (int i = 0; i < FX_ISA_COUNT; i++)
        if (strcmp(fx_isa_names[i], name) == 0) return i;
    return -1;
}

/* A level of the table, or -1 for the highest this CPU runs.  Returns the
 * level set, or -2 when the CPU cannot run the one asked for (nothing
 * changes). */
static int fx_select_isa(int level)
{
    int bits = fx_isa_supported();
    if (level < 0)
        for (level = FX_ISA_COUNT - 1; level > 0 && !(bits & (1 << level)); level--) {}
    if (level >= FX_ISA_COUNT || !(bits & (1 << level))) return -2;
    fx_F = *fx_ops_f_paths[level];
    fx_D = *fx_ops_d_paths[level];
    fx_H = *fx_ops_h_paths[level];
    fx_isa_current = fx_isa_names[level];
    return level;
}

#endif /* FX_DISPATCH_H */
