/* Where the CE forward's limit is: the package's kernels beside the
 * smallest kernel that does only the same arithmetic, and beside the read
 * probe, in one process with rounds interleaved (medians), so a figure is
 * only ever compared with its reference from the same minutes.  Each is
 * timed twice: over the logits from DRAM, and over a small set that stays
 * in each core's L2 (the same threads, repeated): the second is the
 * arithmetic alone, and where it is already above a target times the
 * DRAM read probe, no memory-side change reaches the target.
 * The CE, float64 and small-class limit figures of docs/performance.md were measured
 * with harnesses of this kind; this is their kept form.
 *
 *   gcc -O3 -fno-trapping-math -fno-math-errno -fopenmp -Wno-unused-function \
 *       -I pyx bench/limits.c -o limits -lm
 *   ./limits C [float|double] [logits] [threads] [rounds]
 *
 * e.g. `./limits 300`, `./limits 1000 double 32768000`, `./limits 10 float 33554432`.
 * Kernels: the read probe (the package's rowsum, as `fusedxent bench`);
 * the package's row statistics (row_stats: max, argmax, exp-sum, log1p)
 * and its forward loss (xent_rows, labels read and checked: what a
 * softmax_cross_entropy call runs on each block); the minimal kernel.  The
 * package path is avx512 where the CPU has it, else avx2; the minimal
 * kernels are AVX-512 only (skipped elsewhere).  They are the kind
 * of reference, not a design.  C > 64: a max pass, then an exp-sum with
 * one reduction constant, a degree-5 (float) / degree-11 (double)
 * polynomial and vscalef, no clamp for -inf logits, no tie test, two
 * accumulators, the next row prefetched; the log of the sum in double.
 * C <= 64 (float): 16 rows at a time across rows through the package's own
 * transpose (to_tile, or its deinterleave of pairs at C = 2; also timed
 * alone) with its prefetch, then the max with the label's
 * logit picked by a compare, the same exp-sum, and a log of the sum from
 * vgetexp/vgetmant and a degree-8 polynomial -- no argmax, no label
 * checks, no tiny-loss path, no per-row output. */
#include "fx_dispatch.h"
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define AVX512 __attribute__((target("avx512f,avx512dq,fma")))

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* exp(d), d <= 0, float: one reduction constant, degree 5, vscalef */
#define EXPF_D(d) ({                                                                          \
        __m512 d_ = (d);                                                                      \
        __m512 n_ = _mm512_roundscale_ps(_mm512_mul_ps(d_, _mm512_set1_ps(1.44269504f)), 8);   \
        __m512 r_ = _mm512_fnmadd_ps(n_, _mm512_set1_ps(0.693147181f), d_);                    \
        __m512 p_ = _mm512_set1_ps(FX_EXP5F_C5);                                              \
        p_ = _mm512_fmadd_ps(p_, r_, _mm512_set1_ps(FX_EXP5F_C4));                            \
        p_ = _mm512_fmadd_ps(p_, r_, _mm512_set1_ps(FX_EXP5F_C3));                            \
        p_ = _mm512_fmadd_ps(p_, r_, _mm512_set1_ps(FX_EXP5F_C2));                            \
        p_ = _mm512_fmadd_ps(p_, r_, _mm512_set1_ps(FX_EXP5F_C1));                            \
        p_ = _mm512_fmadd_ps(p_, r_, _mm512_set1_ps(1.0f));                                   \
        _mm512_scalef_ps(p_, n_); })

/* exp(d), d <= 0, double: one reduction constant, degree 11, vscalef */
#define EXPD_D(d) ({                                                                           \
        __m512d d_ = (d);                                                                      \
        __m512d n_ = _mm512_roundscale_pd(_mm512_mul_pd(d_, _mm512_set1_pd(1.4426950408889634)), 8); \
        __m512d r_ = _mm512_fnmadd_pd(n_, _mm512_set1_pd(0.6931471805599453), d_);             \
        __m512d p_ = _mm512_set1_pd(FX_EXP11D_C11);                                            \
        p_ = _mm512_fmadd_pd(p_, r_, _mm512_set1_pd(FX_EXP11D_C10));                           \
        p_ = _mm512_fmadd_pd(p_, r_, _mm512_set1_pd(FX_EXP11D_C9));                            \
        p_ = _mm512_fmadd_pd(p_, r_, _mm512_set1_pd(FX_EXP11D_C8));                            \
        p_ = _mm512_fmadd_pd(p_, r_, _mm512_set1_pd(FX_EXP11D_C7));                            \
        p_ = _mm512_fmadd_pd(p_, r_, _mm512_set1_pd(FX_EXP11D_C6));                            \
        p_ = _mm512_fmadd_pd(p_, r_, _mm512_set1_pd(FX_EXP11D_C5));                            \
        p_ = _mm512_fmadd_pd(p_, r_, _mm512_set1_pd(FX_EXP11D_C4));                            \
        p_ = _mm512_fmadd_pd(p_, r_, _mm512_set1_pd(FX_EXP11D_C3));                            \
        p_ = _mm512_fmadd_pd(p_, r_, _mm512_set1_pd(FX_EXP11D_C2));                            \
        p_ = _mm512_fmadd_pd(p_, r_, _mm512_set1_pd(1.0));                                     \
        p_ = _mm512_fmadd_pd(p_, r_, _mm512_set1_pd(1.0));                                     \
        _mm512_scalef_pd(p_, n_); })

/* The minimal row kernel for element type T: W lanes a vector of type V,
 * tail mask type M, intrinsics suffix S (ps / pd), the exp of a
 * difference EXP_D.  A max pass with two accumulators, then the exp-sum
 * with two accumulators and the next row prefetched. */
#define MINIMAL_ROWS(NAME, T, V, M, W, S, EXP_D)                                         \
    AVX512 static double NAME(const T *x, ptrdiff_t n, ptrdiff_t C)                      \
    {                                                                                    \
        const ptrdiff_t nv = C - C % W;                                                  \
        const M t = (M)((1u << (C - nv)) - 1);                                           \
        double tot = 0.0;                                                                \
        for (ptrdiff_t i = 0; i < n; i++) {                                              \
            const T *r = x + i * C;                                                      \
            V a0 = _mm512_set1_##S(-INFINITY), a1 = a0;                                  \
            ptrdiff_t j = 0;                                                             \
            for (; j + 2 * W <= nv; j += 2 * W) {                                        \
                a0 = _mm512_max_##S(a0, _mm512_loadu_##S(r + j));                        \
                a1 = _mm512_max_##S(a1, _mm512_loadu_##S(r + j + W));                    \
            }                                                                            \
            for (; j < nv; j += W) a0 = _mm512_max_##S(a0, _mm512_loadu_##S(r + j));     \
            if (nv < C)                                                                  \
                a1 = _mm512_max_##S(a1, _mm512_mask_loadu_##S(_mm512_set1_##S(-INFINITY), t, r + nv)); \
            const T m = _mm512_reduce_max_##S(_mm512_max_##S(a0, a1));                   \
            const V vm = _mm512_set1_##S(m);                                             \
            V s0 = _mm512_setzero_##S(), s1 = s0;                                        \
            for (j = 0; j + 2 * W <= nv; j += 2 * W) {                                   \
                _mm_prefetch((const char *)(r + C + j), _MM_HINT_T0);                    \
                _mm_prefetch((const char *)(r + C + j + W), _MM_HINT_T0);                \
                s0 = _mm512_add_##S(s0, EXP_D(_mm512_sub_##S(_mm512_loadu_##S(r + j), vm)));     \
                s1 = _mm512_add_##S(s1, EXP_D(_mm512_sub_##S(_mm512_loadu_##S(r + j + W), vm))); \
            }                                                                            \
            for (; j < nv; j += W)                                                       \
                s0 = _mm512_add_##S(s0, EXP_D(_mm512_sub_##S(_mm512_loadu_##S(r + j), vm)));     \
            if (nv < C)                                                                  \
                s1 = _mm512_add_##S(s1, _mm512_maskz_mov_##S(t,                          \
                         EXP_D(_mm512_sub_##S(_mm512_mask_loadu_##S(vm, t, r + nv), vm)))); \
            tot += m + log((double)_mm512_reduce_add_##S(_mm512_add_##S(s0, s1)));       \
        }                                                                                \
        return tot;                                                                      \
    }

MINIMAL_ROWS(minimal_f, float, __m512, __mmask16, 16, ps, EXPF_D)
MINIMAL_ROWS(minimal_d, double, __m512d, __mmask8, 8, pd, EXPD_D)

#define AVX2 __attribute__((target("avx2,fma")))
/* exp(d), d <= 0 (not below -87), float, 8 lanes: the same reduction and
 * polynomial, 2^n from the exponent bits of the rounding's magic sum */
#define EXPF8_D(d) ({                                                                          \
        __m256 d_ = (d);                                                                       \
        __m256 t_ = _mm256_fmadd_ps(d_, _mm256_set1_ps(1.44269504f), _mm256_set1_ps(12583039.0f)); \
        __m256 n_ = _mm256_sub_ps(t_, _mm256_set1_ps(12583039.0f));                            \
        __m256 r_ = _mm256_fnmadd_ps(n_, _mm256_set1_ps(0.693147181f), d_);                    \
        __m256 p_ = _mm256_set1_ps(FX_EXP5F_C5);                                               \
        p_ = _mm256_fmadd_ps(p_, r_, _mm256_set1_ps(FX_EXP5F_C4));                             \
        p_ = _mm256_fmadd_ps(p_, r_, _mm256_set1_ps(FX_EXP5F_C3));                             \
        p_ = _mm256_fmadd_ps(p_, r_, _mm256_set1_ps(FX_EXP5F_C2));                             \
        p_ = _mm256_fmadd_ps(p_, r_, _mm256_set1_ps(FX_EXP5F_C1));                             \
        p_ = _mm256_fmadd_ps(p_, r_, _mm256_set1_ps(1.0f));                                    \
        _mm256_mul_ps(p_, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(t_), 23))); })

/* minimal_f on 8 lanes (the tail rows of C % 8 classes summed as scalars) */
AVX2 static double minimal_f8(const float *x, ptrdiff_t n, ptrdiff_t C)
{
    const ptrdiff_t nv = C - C % 8;
    double tot = 0.0;
    for (ptrdiff_t i = 0; i < n; i++) {
        const float *r = x + i * C;
        __m256 a0 = _mm256_set1_ps(-INFINITY), a1 = a0;
        ptrdiff_t j = 0;
        for (; j + 16 <= nv; j += 16) {
            a0 = _mm256_max_ps(a0, _mm256_loadu_ps(r + j));
            a1 = _mm256_max_ps(a1, _mm256_loadu_ps(r + j + 8));
        }
        for (; j < nv; j += 8) a0 = _mm256_max_ps(a0, _mm256_loadu_ps(r + j));
        a0 = _mm256_max_ps(a0, a1);
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(a0), _mm256_extractf128_ps(a0, 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        float m = _mm_cvtss_f32(_mm_max_ss(h, _mm_movehdup_ps(h)));
        for (j = nv; j < C; j++) m = r[j] > m ? r[j] : m;
        const __m256 vm = _mm256_set1_ps(m);
        __m256 s0 = _mm256_setzero_ps(), s1 = s0;
        for (j = 0; j + 16 <= nv; j += 16) {
            _mm_prefetch((const char *)(r + C + j), _MM_HINT_T0);
            s0 = _mm256_add_ps(s0, EXPF8_D(_mm256_sub_ps(_mm256_loadu_ps(r + j), vm)));
            s1 = _mm256_add_ps(s1, EXPF8_D(_mm256_sub_ps(_mm256_loadu_ps(r + j + 8), vm)));
        }
        for (; j < nv; j += 8) s0 = _mm256_add_ps(s0, EXPF8_D(_mm256_sub_ps(_mm256_loadu_ps(r + j), vm)));
        s0 = _mm256_add_ps(s0, s1);
        __m128 q = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
        q = _mm_add_ps(q, _mm_movehl_ps(q, q));
        double sum = _mm_cvtss_f32(_mm_add_ss(q, _mm_movehdup_ps(q)));
        for (j = nv; j < C; j++) sum += exp((double)(r[j] - m));
        tot += m + log(sum);
    }
    return tot;
}

#define AVX512_ALL __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma,avx2,f16c")))
/* C <= 64, float: see the top.  Rows past n read as 0 (to_tile), their
 * lanes not summed. */
AVX512_ALL static double minimal_small_f(const float *x, const int64_t *y, ptrdiff_t n, ptrdiff_t C)
{
    float tile[(FX_SMALL_C + 16) * 16] __attribute__((aligned(64)));
    __m512 acc = _mm512_setzero_ps();
    for (ptrdiff_t i = 0; i < n; i += 16) {
        const int nr = n - i < 16 ? (int)(n - i) : 16;
        const __mmask16 live = (__mmask16)((1u << nr) - 1);
        const __m512i ya = _mm512_maskz_loadu_epi64((__mmask8)live, y + i);
        const __m512i yb = _mm512_maskz_loadu_epi64((__mmask8)(live >> 8), y + i + 8);
        const __m512i yv = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi64_epi32(ya)),
                                              _mm512_cvtepi64_epi32(yb), 1);
        for (ptrdiff_t q = 0; q < 16 * C * 4; q += 64)         /* as the package: 2 KB ahead */
            if (16 * C * 4 <= 1024) _mm_prefetch((const char *)(x + i * C) + 2048 + q, _MM_HINT_T0);
            else _mm_prefetch((const char *)(x + i * C) + 2048 + q, _MM_HINT_T2);
        _mm_prefetch((const char *)(y + i) + 2048, _MM_HINT_T0);
        _mm_prefetch((const char *)(y + i) + 2048 + 64, _MM_HINT_T0);
        __m512 m, xy;
        if (C == 2) {                   /* the package's deinterleave of pairs */
            __m512 b;
            pairs_f_avx512(x + i * C, nr, &m, &b);
            _mm512_store_ps(tile + 16, b);
        } else
            to_tile_f_avx512(x + i * C, nr, C, tile);
        m = _mm512_load_ps(tile);
        xy = m;
        for (ptrdiff_t j = 1; j < C; j++) {
            const __m512 v = _mm512_load_ps(tile + j * 16);
            m = _mm512_max_ps(m, v);
            xy = _mm512_mask_mov_ps(xy, _mm512_cmpeq_epi32_mask(yv, _mm512_set1_epi32((int)j)), v);
        }
        __m512 s0 = _mm512_setzero_ps(), s1 = s0;
        ptrdiff_t j = 0;
        for (; j + 2 <= C; j += 2) {
            s0 = _mm512_add_ps(s0, EXPF_D(_mm512_sub_ps(_mm512_load_ps(tile + j * 16), m)));
            s1 = _mm512_add_ps(s1, EXPF_D(_mm512_sub_ps(_mm512_load_ps(tile + j * 16 + 16), m)));
        }
        if (j < C) s0 = _mm512_add_ps(s0, EXPF_D(_mm512_sub_ps(_mm512_load_ps(tile + j * 16), m)));
        /* log(s), s in [1, C]: exponent and mantissa in [0.75, 1.5), a
         * degree-8 polynomial in f - 1 (the cost of a log; its value only
         * keeps the work alive) */
        const __m512 sum = _mm512_add_ps(s0, s1);
        const __m512 e = _mm512_getexp_ps(_mm512_mul_ps(sum, _mm512_set1_ps(4.0f / 3.0f)));
        const __m512 f = _mm512_sub_ps(_mm512_getmant_ps(sum, _MM_MANT_NORM_p75_1p5, _MM_MANT_SIGN_src),
                                       _mm512_set1_ps(1.0f));
        __m512 p = _mm512_set1_ps(-1.0f / 8.0f);
        p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f / 7.0f));
        p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(-1.0f / 6.0f));
        p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f / 5.0f));
        p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(-1.0f / 4.0f));
        p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f / 3.0f));
        p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(-1.0f / 2.0f));
        p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
        const __m512 l = _mm512_fmadd_ps(e, _mm512_set1_ps(0.693147181f), _mm512_mul_ps(p, f));
        acc = _mm512_mask_add_ps(acc, live, acc, _mm512_add_ps(_mm512_sub_ps(m, xy), l));
    }
    return _mm512_reduce_add_ps(acc);
}

/* the package's transpose alone (to_tile; two classes: the deinterleave), as minimal_small_f runs it */
AVX512_ALL static double tile_only_f(const float *x, ptrdiff_t n, ptrdiff_t C)
{
    float tile[(FX_SMALL_C + 16) * 16] __attribute__((aligned(64)));
    __m512 acc = _mm512_setzero_ps();
    for (ptrdiff_t i = 0; i < n; i += 16) {
        for (ptrdiff_t q = 0; q < 16 * C * 4; q += 64)
            if (16 * C * 4 <= 1024) _mm_prefetch((const char *)(x + i * C) + 2048 + q, _MM_HINT_T0);
            else _mm_prefetch((const char *)(x + i * C) + 2048 + q, _MM_HINT_T2);
        if (C == 2) {
            __m512 a, b;
            pairs_f_avx512(x + i * C, n - i < 16 ? (int)(n - i) : 16, &a, &b);
            acc = _mm512_add_ps(acc, _mm512_add_ps(a, b));
            continue;
        }
        to_tile_f_avx512(x + i * C, n - i < 16 ? (int)(n - i) : 16, C, tile);
        acc = _mm512_add_ps(acc, _mm512_load_ps(tile + (C - 1) * 16));
    }
    return _mm512_reduce_add_ps(acc);
}

/* kernel k over one block (rows r0.. of n), element type T (S: its
 * suffix in the package's names) */
enum { K_READ, K_STATS, K_XENT, K_MIN, K_TILE, NK };
static const char *const K_NAME[NK] = {"read probe", "package statistics", "package forward",
                                       "minimal kernel", "transpose alone"};
#define VARIANT(T, S)                                                                  \
    do {                                                                               \
        const T *xb = (const T *)buf + r0 * C;                                         \
        if (k == K_READ) v = wide ? rowsum_##S##_avx512(xb, n * C) : rowsum_##S##_avx2(xb, n * C); \
        else if (k == K_MIN && C > FX_SMALL_C) v = wide ? minimal_##S(xb, n, C) : minimal_f8((const float *)xb, n, C); \
        else if (k == K_MIN) v = minimal_small_f((const float *)xb, lab + r0, n, C);   \
        else if (k == K_TILE) v = tile_only_f((const float *)xb, n, C);                \
        else if (k == K_XENT) {                                                        \
            double part[2] = {0.0, 0.0};                                               \
            if (wide) xent_rows_##S##_avx512(xb, lab + r0, n, C, &xo, &st, NULL, part); \
            else xent_rows_##S##_avx2(xb, lab + r0, n, C, &xo, &st, NULL, part);       \
            v = part[0];                                                               \
        } else                                                                         \
            for (ptrdiff_t i = 0; i < n; i += tile) {                                  \
                const ptrdiff_t nn = n - i < tile ? n - i : tile;                      \
                if (wide) row_stats_##S##_avx512(xb + i * C, nn, C, &st);              \
                else row_stats_##S##_avx2(xb + i * C, nn, C, &st);                     \
            }                                                                          \
    } while (0)

/* one round of kernel k over N rows at buf, repeated reps times; seconds a repetition */
static double run(int k, const char *buf, const int64_t *lab, ptrdiff_t N, ptrdiff_t C, int dbl, int wide,
                  int nt, int reps)
{
    const size_t isz = dbl ? 8 : 4;
    /* blocks and tiles as the package cuts them: 16384-element blocks, 4 KB tiles */
    const ptrdiff_t per = 16384 / C > 0 ? 16384 / C : 1, nb = (N + per - 1) / per;
    const ptrdiff_t tile = (ptrdiff_t)(4096 / isz) / C > 0 ? (ptrdiff_t)(4096 / isz) / C : 1;
    const double t0 = now();
    /* one team for all repetitions (a team a repetition cost microseconds
     * beside an in-cache set's tens); static: each thread's blocks stay its own */
#pragma omp parallel num_threads(nt)
    {
        static __thread double m[16384], s[16384], l[16384];
        static __thread int64_t kk[16384];
        fx_stats st = {m, s, l, kk, NULL, -100, NULL, NULL, NULL};
        fx_xent xo = {NULL, NULL, -100, 1.0, 1};
        for (int q = 0; q < reps; q++) {
#pragma omp for schedule(static) nowait
            for (ptrdiff_t b = 0; b < nb; b++) {
                const ptrdiff_t r0 = b * per, n = N - r0 < per ? N - r0 : per;
                double v = 0.0;
                if (dbl) VARIANT(double, d);
                else VARIANT(float, f);
                __asm__ volatile("" : : "x"(v) : "memory");   /* keep every result */
            }
        }
    }
    return (now() - t0) / reps;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s C [float|double] [logits] [threads] [rounds]\n", argv[0]);
        return 2;
    }
    const ptrdiff_t C = atol(argv[1]);
    const int dbl = argc > 2 && strcmp(argv[2], "double") == 0;
    const ptrdiff_t total = argc > 3 ? atol(argv[3]) : (dbl ? 32768000 : 65536000);
    const int nt = argc > 4 ? atoi(argv[4]) : 2, rounds = argc > 5 ? atoi(argv[5]) : 11;
    const ptrdiff_t N = total / C > 0 ? total / C : 1;
    const size_t isz = dbl ? 8 : 4;
    /* the package's own check; FX_PATH=avx2 forces the narrow path */
    const int wide = ((fx_isa_supported() >> fx_isa_level("avx512")) & 1)
                     && !(getenv("FX_PATH") && strcmp(getenv("FX_PATH"), "avx2") == 0);
    /* the in-cache set: about 128 KB of logits a thread (each core's L2),
     * whole blocks, as many for each thread (static schedule: balanced) */
    const ptrdiff_t per = 16384 / C > 0 ? 16384 / C : 1;
    const ptrdiff_t bpt = (ptrdiff_t)(131072 / isz) / (per * C) > 1 ? (ptrdiff_t)(131072 / isz) / (per * C) : 1;
    const ptrdiff_t Nc = nt * bpt * per;
    size_t bytes = ((N * C * isz) + (2 << 20)) & ~((size_t)(2 << 20) - 1);
    char *buf = aligned_alloc(2 << 20, bytes), *cbuf = aligned_alloc(64, Nc * C * isz + 64);
    int64_t *lab = malloc(sizeof(int64_t) * (N > Nc ? N : Nc));
    madvise(buf, bytes, MADV_HUGEPAGE);
    srand(1);
    for (ptrdiff_t i = 0; i < N * C; i++) {
        const double v = 10.2 * (rand() / (double)RAND_MAX - 0.5);
        if (dbl) ((double *)buf)[i] = v;
        else ((float *)buf)[i] = (float)v;
    }
    memcpy(cbuf, buf, (N < Nc ? N : Nc) * C * isz);
    for (ptrdiff_t i = 0; i < (N > Nc ? N : Nc); i++) lab[i] = rand() % C;
    /* repeat small sets so that a round takes a few milliseconds */
    const int reps = N * C >= (1 << 24) ? 1 : (int)((1 << 24) / (N * C));
    const int creps = (int)((1 << 24) / (Nc * C)) > 1 ? (int)((1 << 24) / (Nc * C)) : 1;
    int have[NK] = {1, 1, 1, wide ? (!dbl || C > FX_SMALL_C) : (!dbl && C > FX_SMALL_C), wide && !dbl && C <= FX_SMALL_C};
    double *t = malloc(sizeof(double) * 2 * NK * rounds);
    for (int r = 0; r < rounds; r++)
        for (int set = 0; set < 2; set++)
            for (int k = 0; k < NK; k++)
                if (have[k])
                    t[(set * NK + k) * rounds + r] = set == 0 ? run(k, buf, lab, N, C, dbl, wide, nt, reps)
                                                              : run(k, cbuf, lab, Nc, C, dbl, wide, nt, creps);
    printf("C=%td %s, %d threads, %s path, medians of %d interleaved rounds, ns a logit\n"
           "(ratios to the read probe from DRAM):\n", C, dbl ? "double" : "float", nt,
           wide ? "avx512" : "avx2", rounds);
    printf("  %-20s %18s %24s\n", "", "from DRAM", "in L2 (arithmetic)");
    double ref = 0.0;
    for (int k = 0; k < NK; k++) {
        double v[2];
        if (!have[k]) {
            if (k == K_MIN && !wide) printf("  %-20s (avx2: float, C > %d only: skipped)\n", K_NAME[k], FX_SMALL_C);
            continue;
        }
        for (int set = 0; set < 2; set++) {
            double *ts = t + (set * NK + k) * rounds;
            qsort(ts, rounds, sizeof(double), cmp);
            v[set] = ts[rounds / 2] * 1e9 / (double)((set ? Nc : N) * C);
        }
        if (k == K_READ) ref = v[0];
        printf("  %-20s %7.3f (%5.2fx)      %7.3f (%5.2fx)\n", K_NAME[k], v[0], v[0] / ref, v[1], v[1] / ref);
    }
    printf("  (DRAM: %td rows; in L2: %td rows, %.0f KB a thread)\n", N, Nc, (double)(Nc * C * isz) / nt / 1024);
    free(t);
    free(buf);
    free(cbuf);
    free(lab);
    return 0;
}
