/* Where the CE forward's limit is: the package's row statistics beside the
 * smallest kernel that does only the max and exp-sum passes, and beside
 * the read probe, in one process with rounds interleaved (medians), so a
 * figure is only ever compared with its reference from the same minutes.
 * The README's CE and float64 limit figures were measured with harnesses
 * of this kind; this is their kept form.
 *
 *   gcc -O3 -fno-trapping-math -fno-math-errno -fopenmp -Wno-unused-function \
 *       -I pyx bench/limits.c -o limits -lm
 *   ./limits C [float|double] [logits] [threads] [rounds]
 *
 * e.g. `./limits 300`, `./limits 1000 double 32768000`, `./limits 32000 float 300000 1`
 * (a small count of logits on one thread: the row in L2, the arithmetic
 * alone).  The package path is avx512 where the CPU has it, else avx2;
 * the minimal kernel is AVX-512 only (skipped elsewhere).  It is the
 * issue's kind of reference, not a design: a max pass, then an exp-sum with
 * one reduction constant, a degree-5 (float) / degree-11 (double)
 * polynomial and vscalef, no clamp for -inf logits, no tie test, two
 * accumulators, the next row prefetched; the log of the sum in double. */
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

AVX512 static double minimal_f(const float *x, ptrdiff_t n, ptrdiff_t C)
{
    const ptrdiff_t nv = C - C % 16;
    const __mmask16 t = (__mmask16)((1u << (C - nv)) - 1);
    double tot = 0.0;
    for (ptrdiff_t i = 0; i < n; i++) {
        const float *r = x + i * C;
        __m512 a0 = _mm512_set1_ps(-INFINITY), a1 = a0;
        ptrdiff_t j = 0;
        for (; j + 32 <= nv; j += 32) {
            a0 = _mm512_max_ps(a0, _mm512_loadu_ps(r + j));
            a1 = _mm512_max_ps(a1, _mm512_loadu_ps(r + j + 16));
        }
        for (; j < nv; j += 16) a0 = _mm512_max_ps(a0, _mm512_loadu_ps(r + j));
        if (nv < C) a1 = _mm512_max_ps(a1, _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), t, r + nv));
        const float m = _mm512_reduce_max_ps(_mm512_max_ps(a0, a1));
        const __m512 vm = _mm512_set1_ps(m);
        __m512 s0 = _mm512_setzero_ps(), s1 = s0;
#define EXPF(v) ({                                                                            \
        __m512 d_ = _mm512_sub_ps(v, vm);                                                     \
        __m512 n_ = _mm512_roundscale_ps(_mm512_mul_ps(d_, _mm512_set1_ps(1.44269504f)), 8);   \
        __m512 r_ = _mm512_fnmadd_ps(n_, _mm512_set1_ps(0.693147181f), d_);                    \
        __m512 p_ = _mm512_set1_ps(0x1.0c21bap-7f);                                           \
        p_ = _mm512_fmadd_ps(p_, r_, _mm512_set1_ps(0x1.5733bcp-5f));                         \
        p_ = _mm512_fmadd_ps(p_, r_, _mm512_set1_ps(0x1.55631ep-3f));                         \
        p_ = _mm512_fmadd_ps(p_, r_, _mm512_set1_ps(0x1.fffddep-2f));                         \
        p_ = _mm512_fmadd_ps(p_, r_, _mm512_set1_ps(0x1.ffffe4p-1f));                         \
        p_ = _mm512_fmadd_ps(p_, r_, _mm512_set1_ps(1.0f));                                   \
        _mm512_scalef_ps(p_, n_); })
        for (j = 0; j + 32 <= nv; j += 32) {
            _mm_prefetch((const char *)(r + C + j), _MM_HINT_T0);
            _mm_prefetch((const char *)(r + C + j + 16), _MM_HINT_T0);
            s0 = _mm512_add_ps(s0, EXPF(_mm512_loadu_ps(r + j)));
            s1 = _mm512_add_ps(s1, EXPF(_mm512_loadu_ps(r + j + 16)));
        }
        for (; j < nv; j += 16) s0 = _mm512_add_ps(s0, EXPF(_mm512_loadu_ps(r + j)));
        if (nv < C) s1 = _mm512_add_ps(s1, _mm512_maskz_mov_ps(t, EXPF(_mm512_mask_loadu_ps(vm, t, r + nv))));
#undef EXPF
        tot += m + log((double)_mm512_reduce_add_ps(_mm512_add_ps(s0, s1)));
    }
    return tot;
}

AVX512 static double minimal_d(const double *x, ptrdiff_t n, ptrdiff_t C)
{
    const ptrdiff_t nv = C - C % 8;
    const __mmask8 t = (__mmask8)((1u << (C - nv)) - 1);
    double tot = 0.0;
    for (ptrdiff_t i = 0; i < n; i++) {
        const double *r = x + i * C;
        __m512d a0 = _mm512_set1_pd(-INFINITY), a1 = a0;
        ptrdiff_t j = 0;
        for (; j + 16 <= nv; j += 16) {
            a0 = _mm512_max_pd(a0, _mm512_loadu_pd(r + j));
            a1 = _mm512_max_pd(a1, _mm512_loadu_pd(r + j + 8));
        }
        for (; j < nv; j += 8) a0 = _mm512_max_pd(a0, _mm512_loadu_pd(r + j));
        if (nv < C) a1 = _mm512_max_pd(a1, _mm512_mask_loadu_pd(_mm512_set1_pd(-INFINITY), t, r + nv));
        const double m = _mm512_reduce_max_pd(_mm512_max_pd(a0, a1));
        const __m512d vm = _mm512_set1_pd(m);
        __m512d s0 = _mm512_setzero_pd(), s1 = s0;
#define EXPD(v) ({                                                                             \
        __m512d d_ = _mm512_sub_pd(v, vm);                                                     \
        __m512d n_ = _mm512_roundscale_pd(_mm512_mul_pd(d_, _mm512_set1_pd(1.4426950408889634)), 8); \
        __m512d r_ = _mm512_fnmadd_pd(n_, _mm512_set1_pd(0.6931471805599453), d_);             \
        __m512d p_ = _mm512_set1_pd(0x1.af631d0059becp-26);                                    \
        p_ = _mm512_fmadd_pd(p_, r_, _mm512_set1_pd(0x1.28b4057f44145p-22));                   \
        p_ = _mm512_fmadd_pd(p_, r_, _mm512_set1_pd(0x1.71ddf5749d126p-19));                   \
        p_ = _mm512_fmadd_pd(p_, r_, _mm512_set1_pd(0x1.a01991ac8730ap-16));                   \
        p_ = _mm512_fmadd_pd(p_, r_, _mm512_set1_pd(0x1.a01a01b14378fp-13));                   \
        p_ = _mm512_fmadd_pd(p_, r_, _mm512_set1_pd(0x1.6c16c187fbe02p-10));                   \
        p_ = _mm512_fmadd_pd(p_, r_, _mm512_set1_pd(0x1.111111110f225p-7));                    \
        p_ = _mm512_fmadd_pd(p_, r_, _mm512_set1_pd(0x1.555555554f0cfp-5));                    \
        p_ = _mm512_fmadd_pd(p_, r_, _mm512_set1_pd(0x1.555555555555ap-3));                    \
        p_ = _mm512_fmadd_pd(p_, r_, _mm512_set1_pd(0x1.0000000000011p-1));                    \
        p_ = _mm512_fmadd_pd(p_, r_, _mm512_set1_pd(1.0));                                     \
        p_ = _mm512_fmadd_pd(p_, r_, _mm512_set1_pd(1.0));                                     \
        _mm512_scalef_pd(p_, n_); })
        for (j = 0; j + 16 <= nv; j += 16) {
            _mm_prefetch((const char *)(r + C + j), _MM_HINT_T0);
            _mm_prefetch((const char *)(r + C + j + 8), _MM_HINT_T0);
            s0 = _mm512_add_pd(s0, EXPD(_mm512_loadu_pd(r + j)));
            s1 = _mm512_add_pd(s1, EXPD(_mm512_loadu_pd(r + j + 8)));
        }
        for (; j < nv; j += 8) s0 = _mm512_add_pd(s0, EXPD(_mm512_loadu_pd(r + j)));
        if (nv < C) s1 = _mm512_add_pd(s1, _mm512_maskz_mov_pd(t, EXPD(_mm512_mask_loadu_pd(vm, t, r + nv))));
#undef EXPD
        tot += m + log(_mm512_reduce_add_pd(_mm512_add_pd(s0, s1)));
    }
    return tot;
}

/* variant k of one block, element type T (S: its suffix in the package's
 * names): 0 the read probe, 1 the package's statistics tile by tile, 2 the
 * minimal kernel */
#define VARIANT(T, S)                                                                  \
    do {                                                                               \
        const T *xb = (const T *)buf + r0 * C;                                         \
        if (k == 0) v = wide ? rowsum_##S##_avx512(xb, n * C) : rowsum_##S##_avx2(xb, n * C); \
        else if (k == 2) v = minimal_##S(xb, n, C);                                    \
        else                                                                           \
            for (ptrdiff_t i = 0; i < n; i += tile) {                                  \
                const ptrdiff_t nn = n - i < tile ? n - i : tile;                      \
                if (wide) row_stats_##S##_avx512(xb + i * C, nn, C, &st);              \
                else row_stats_##S##_avx2(xb + i * C, nn, C, &st);                     \
            }                                                                          \
    } while (0)

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
    const int wide = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                     __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
    /* repeat small batches so that a round takes a few milliseconds */
    const int reps = N * C >= (1 << 24) ? 1 : (int)((1 << 24) / (N * C));
    size_t bytes = ((N * C * isz) + (2 << 20)) & ~((size_t)(2 << 20) - 1);
    char *buf = aligned_alloc(2 << 20, bytes);
    madvise(buf, bytes, MADV_HUGEPAGE);
    srand(1);
    for (ptrdiff_t i = 0; i < N * C; i++) {
        const double v = 10.2 * (rand() / (double)RAND_MAX - 0.5);
        if (dbl) ((double *)buf)[i] = v;
        else ((float *)buf)[i] = (float)v;
    }
    /* blocks and tiles as the package cuts them: 16384-element blocks, 4 KB tiles */
    const ptrdiff_t per = 16384 / C > 0 ? 16384 / C : 1, nb = (N + per - 1) / per;
    const ptrdiff_t tile = (ptrdiff_t)(4096 / isz) / C > 0 ? (ptrdiff_t)(4096 / isz) / C : 1;
    const int nk = wide ? 3 : 2;
    double *t = malloc(sizeof(double) * 3 * rounds);
    for (int r = 0; r < rounds; r++)
        for (int k = 0; k < nk; k++) {
            const double t0 = now();
            for (int q = 0; q < reps; q++) {
#pragma omp parallel num_threads(nt)
                {
                    double m[1024], s[1024], l[1024];
                    int64_t kk[1024];
                    fx_stats st = {m, s, l, kk, NULL, -100, NULL, NULL, NULL};
#pragma omp for schedule(static)
                    for (ptrdiff_t b = 0; b < nb; b++) {
                        const ptrdiff_t r0 = b * per, n = N - r0 < per ? N - r0 : per;
                        double v = 0.0;
                        if (dbl) VARIANT(double, d);
                        else VARIANT(float, f);
                        __asm__ volatile("" : : "x"(v) : "memory");   /* keep every result */
                    }
                }
            }
            t[k * rounds + r] = (now() - t0) / reps;
        }
    const char *name[] = {"read probe", "package statistics", "minimal kernel"};
    printf("C=%td N=%td %s, %d threads, %s path, medians of %d interleaved rounds (ns a logit):\n", C, N,
           dbl ? "double" : "float", nt, wide ? "avx512" : "avx2", rounds);
    double ref = 0.0;
    for (int k = 0; k < nk; k++) {
        qsort(t + k * rounds, rounds, sizeof(double), cmp);
        const double v = t[k * rounds + rounds / 2] * 1e9 / (double)(N * C);
        if (k == 0) ref = v;
        printf("  %-20s %.3f  (%.2fx the read probe)\n", name[k], v, v / ref);
    }
    if (!wide) printf("  minimal kernel       (AVX-512 only: skipped)\n");
    free(t);
    free(buf);
    return 0;
}
