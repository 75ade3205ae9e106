/* fx_bf16.h -- the bfloat16 matrix products of the linear head on
 * AVX512-BF16: C (+)= A B with A and B bfloat16, C float32.
 *
 * vdpbf16ps multiplies bfloat16 in pairs along the reduction axis k and
 * adds both products to a float32 lane: lane j of dp(c, a, b) is
 * c_j + a_2j b_2j + a_2j+1 b_2j+1.  So both operands hold k in pairs:
 * - B is packed a k block at a time (fx_bf16_gemm) into groups of
 *   FX_BF16_NR = 64 columns, a group being its k pairs one after the
 *   other, each pair the 64 columns' two values side by side (256
 *   contiguous bytes: four vectors); zeros beyond K and N, so the tile
 *   never tests a bound while it runs.
 * - A is read a pair (32 bits) at a time and broadcast, from any layout
 *   given by two strides: its rows (ars) and its k pairs (aks), in
 *   elements.  A row-major bfloat16 matrix is aks = 2; the pairs layout
 *   of fx_bf16_pairs (two rows interleaved) lets the transpose of a
 *   matrix be A without a transposed copy (d_W = G^T hidden).
 * The register tile is FX_BF16_MR = 6 rows x 64 columns: 24 accumulators,
 * four B vectors and a broadcast in the 32 vector registers.
 *
 * Accuracy: a product of two bfloat16 is exact in float32, so C is the
 * float32 sum of exact products (vdpbf16ps rounds to nearest even, and
 * treats denormal inputs and results as zero -- below 1.2e-38, far under
 * anything a linear head's products meet).  The conversions to bfloat16
 * round to nearest even (vcvtneps2bf16), NaN kept NaN.
 *
 * Compiled with GCC's or clang's target attribute on x86-64 (not MSVC,
 * not the SIMDe test build, whose AVX-512 is emulated); fx_bf16_cpu()
 * says whether this CPU runs it.  The caller uses it only on the avx512
 * path (set_isa("avx2") turns it off with the rest of AVX-512).
 */
#ifndef FX_BF16_H
#define FX_BF16_H

#include "fx_dispatch.h"
#include <stdlib.h>

#if FX_X86 && !defined(FX_SIMDE) && !(defined(_MSC_VER) && !defined(__clang__))
#define FX_BF16 1
#else
#define FX_BF16 0
#endif

#define FX_BF16_MR 6       /* rows of the register tile */
#define FX_BF16_NR 64      /* columns of the register tile and of a packed group */
#define FX_BF16_KP 256     /* k pairs per block: A's tile (6 x 1 KB) stays in L1, a group of B (64 KB) in L2 */

#if FX_BF16
#define FX_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

/* AVX512_BF16 is CPUID leaf 7, sub-leaf 1, EAX bit 5 (Intel SDM vol. 2,
 * CPUID); it needs the AVX-512 state the avx512 path's check tests. */
static int fx_bf16_cpu(void)
{
    unsigned l7[4];
    if (!fx_cpu_avx512())
        return 0;
    fx_cpuid(7, 0, l7);
    if (l7[0] < 1)                  /* the highest sub-leaf of leaf 7 */
        return 0;
    fx_cpuid(7, 1, l7);
    return l7[0] >> 5 & 1u;
}

/* C[0:mr, 0:nc] (+)= A[0:mr, k pairs 0:kp] B(group, pairs 0:kp).  The 24
 * accumulators are named variables, not an array: clang keeps an array of
 * vectors on the stack unless every loop over it unrolls.  Rows past mr
 * read row 0 again (valid memory) and are not stored. */
#define FX_BF16_ROW_INIT(i)                                                                   \
    const uint16_t *a##i = A + (i < mr ? i : 0) * ars;                                         \
    __m512 c##i##0 = _mm512_setzero_ps(), c##i##1 = c##i##0, c##i##2 = c##i##0, c##i##3 = c##i##0; \
    if (acc && i < mr) {                                                                      \
        c##i##0 = _mm512_maskz_loadu_ps(mk0, C + i * ldc);                                    \
        c##i##1 = _mm512_maskz_loadu_ps(mk1, C + i * ldc + 16);                               \
        c##i##2 = _mm512_maskz_loadu_ps(mk2, C + i * ldc + 32);                               \
        c##i##3 = _mm512_maskz_loadu_ps(mk3, C + i * ldc + 48);                               \
    }
#define FX_BF16_ROW_STEP(i)                                                                   \
    do {                                                                                      \
        int32_t u_;                                                                           \
        memcpy(&u_, a##i + k * aks, sizeof u_);                                               \
        __m512bh v_ = (__m512bh)_mm512_set1_epi32(u_);                                        \
        c##i##0 = _mm512_dpbf16_ps(c##i##0, v_, b0);                                          \
        c##i##1 = _mm512_dpbf16_ps(c##i##1, v_, b1);                                          \
        c##i##2 = _mm512_dpbf16_ps(c##i##2, v_, b2);                                          \
        c##i##3 = _mm512_dpbf16_ps(c##i##3, v_, b3);                                          \
    } while (0)
#define FX_BF16_ROW_STORE(i)                                                                  \
    if (i < mr) {                                                                             \
        _mm512_mask_storeu_ps(C + i * ldc, mk0, c##i##0);                                     \
        _mm512_mask_storeu_ps(C + i * ldc + 16, mk1, c##i##1);                                \
        _mm512_mask_storeu_ps(C + i * ldc + 32, mk2, c##i##2);                                \
        _mm512_mask_storeu_ps(C + i * ldc + 48, mk3, c##i##3);                                \
    }
FX_BF16_TARGET static void
fx_bf16_tile(int mr, long kp, const uint16_t *A, long ars, long aks, const uint16_t *B,
             float *C, long ldc, int nc, int acc)
{
#define FX_BF16_MASK(j) (nc - 16 * j >= 16 ? (__mmask16)0xFFFF : nc - 16 * j <= 0 ? (__mmask16)0 \
                         : (__mmask16)((1u << (nc - 16 * j)) - 1u))
    const __mmask16 mk0 = FX_BF16_MASK(0), mk1 = FX_BF16_MASK(1), mk2 = FX_BF16_MASK(2), mk3 = FX_BF16_MASK(3);
#undef FX_BF16_MASK
    FX_BF16_ROW_INIT(0)
    FX_BF16_ROW_INIT(1)
    FX_BF16_ROW_INIT(2)
    FX_BF16_ROW_INIT(3)
    FX_BF16_ROW_INIT(4)
    FX_BF16_ROW_INIT(5)
    for (long k = 0; k < kp; k++) {
        const uint16_t *b = B + k * 2 * FX_BF16_NR;
        const __m512bh b0 = (__m512bh)_mm512_loadu_si512((const void *)b);
        const __m512bh b1 = (__m512bh)_mm512_loadu_si512((const void *)(b + 32));
        const __m512bh b2 = (__m512bh)_mm512_loadu_si512((const void *)(b + 64));
        const __m512bh b3 = (__m512bh)_mm512_loadu_si512((const void *)(b + 96));
        FX_BF16_ROW_STEP(0);
        FX_BF16_ROW_STEP(1);
        FX_BF16_ROW_STEP(2);
        FX_BF16_ROW_STEP(3);
        FX_BF16_ROW_STEP(4);
        FX_BF16_ROW_STEP(5);
    }
    FX_BF16_ROW_STORE(0)
    FX_BF16_ROW_STORE(1)
    FX_BF16_ROW_STORE(2)
    FX_BF16_ROW_STORE(3)
    FX_BF16_ROW_STORE(4)
    FX_BF16_ROW_STORE(5)
}
#undef FX_BF16_ROW_INIT
#undef FX_BF16_ROW_STEP
#undef FX_BF16_ROW_STORE

FX_BF16_TARGET static void
fx_bf16_tiles(long m0, long m1, long kp, const uint16_t *A, long ars, long aks, const uint16_t *B,
              float *C, long ldc, int nc, int acc)
{
    for (long m = m0; m < m1; m += FX_BF16_MR)
        fx_bf16_tile(m1 - m < FX_BF16_MR ? (int)(m1 - m) : FX_BF16_MR, kp, A + m * ars, ars, aks, B,
                     C + m * ldc, ldc, nc, acc);
}

/* d[2c] = s0[c], d[2c + 1] = s1[c] (0 for s1 NULL) for c < nc <= 64,
 * zeros for nc <= c < 64: a pair row of a packed group from two rows of B
 * (two permutes a 32 columns; the scalar loop cost d_hidden's product a
 * tenth of its time). */
FX_BF16_TARGET static void fx_bf16_interleave64(const uint16_t *s0, const uint16_t *s1, int nc, uint16_t *d)
{
    const __m512i lo = _mm512_set_epi16(47, 15, 46, 14, 45, 13, 44, 12, 43, 11, 42, 10, 41, 9, 40, 8,
                                        39, 7, 38, 6, 37, 5, 36, 4, 35, 3, 34, 2, 33, 1, 32, 0);
    const __m512i hi = _mm512_add_epi16(lo, _mm512_set1_epi16(16));
    for (int h = 0; h < 2; h++) {
        const int left = nc - 32 * h;
        const __mmask32 m = left >= 32 ? 0xFFFFFFFFu : left <= 0 ? 0u : (__mmask32)((1u << left) - 1u);
        const __m512i a = _mm512_maskz_loadu_epi16(m, s0 + 32 * h);
        const __m512i b = s1 ? _mm512_maskz_loadu_epi16(m, s1 + 32 * h) : _mm512_setzero_si512();
        _mm512_storeu_si512((void *)(d + 64 * h), _mm512_permutex2var_epi16(a, lo, b));
        _mm512_storeu_si512((void *)(d + 64 * h + 32), _mm512_permutex2var_epi16(a, hi, b));
    }
}

/* Pairs [p0, p1) of the nc <= 64 rows at src (row stride sn) as a packed
 * group's pair rows: o[p - p0][c] (32 bits) = the row c's pair p, zeros
 * for nc <= c < 64.  16 x 16 blocks of 32-bit words transposed in
 * registers (the scalar copy cost the logits' product a few percent). */
FX_BF16_TARGET static void fx_bf16_transpose_pairs(const uint16_t *src, long sn, int nc, long p0, long p1,
                                                   uint16_t *o)
{
    for (int cb = 0; cb < FX_BF16_NR; cb += 16)
        for (long q = p0; q < p1; q += 16) {
            const int np = p1 - q < 16 ? (int)(p1 - q) : 16;
            const __mmask16 m = (__mmask16)(np == 16 ? 0xFFFFu : (1u << np) - 1u);
            __m512i r[16], t[16], u[16];
            for (int i = 0; i < 16; i++)
                r[i] = cb + i < nc ? _mm512_maskz_loadu_epi32(m, src + (cb + i) * sn + 2 * q) : _mm512_setzero_si512();
            for (int i = 0; i < 16; i += 2) {
                t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
                t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
            }
            for (int i = 0; i < 16; i += 4) {
                u[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
                u[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
                u[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
                u[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
            }
            /* u[4i + k], 128-bit lane L: rows 4i..4i+3 of word 4L + k */
            for (int k = 0; k < 4; k++) {
                const __m512i v0 = _mm512_shuffle_i32x4(u[k], u[4 + k], 0x88);
                const __m512i w0 = _mm512_shuffle_i32x4(u[k], u[4 + k], 0xDD);
                const __m512i v1 = _mm512_shuffle_i32x4(u[8 + k], u[12 + k], 0x88);
                const __m512i w1 = _mm512_shuffle_i32x4(u[8 + k], u[12 + k], 0xDD);
                const __m512i col[4] = {_mm512_shuffle_i32x4(v0, v1, 0x88), _mm512_shuffle_i32x4(w0, w1, 0x88),
                                        _mm512_shuffle_i32x4(v0, v1, 0xDD), _mm512_shuffle_i32x4(w0, w1, 0xDD)};
                for (int L = 0; L < 4; L++)
                    if (4 * L + k < np)
                        _mm512_storeu_si512((void *)(o + (q - p0 + 4 * L + k) * 2 * FX_BF16_NR + 2 * cb), col[L]);
            }
        }
}

/* Pairs [p0, p1) of group g of B (K x N, B[k][n] = src[k sk + n sn],
 * bfloat16 bits) into o: o[p - p0][c][k % 2] for n = 64 g + c, zeros
 * beyond K and N.  Along src's contiguous axis: a column's pairs copied
 * as 32-bit words (sk = 1: a torch.nn.Linear weight for the logits), or
 * two rows interleaved a pair at a time (sn = 1: the weight for d_hidden,
 * the hidden rows for d_W); other strides element by element. */
static void fx_bf16_pack_slab(long K, long N, const uint16_t *src, long sk, long sn, long g, long p0, long p1,
                              uint16_t *o)
{
    const long n0 = g * FX_BF16_NR, full = K / 2;      /* pairs below `full` have both halves */
    const int nc = (int)(N - n0 < FX_BF16_NR ? N - n0 : FX_BF16_NR);
    if (nc < FX_BF16_NR)
        for (long p = p0; p < p1; p++)
            memset(o + (p - p0) * 2 * FX_BF16_NR + 2 * nc, 0, (size_t)(FX_BF16_NR - nc) * 2 * sizeof(uint16_t));
    if (sk == 1) {
        const long pe = p1 < full ? p1 : full;
        fx_bf16_transpose_pairs(src + n0 * sn, sn, nc, p0, pe, o);
        if (pe < p1)                        /* the last pair of an odd K (its second half is not B's) */
            for (int c = 0; c < nc; c++) {
                o[(pe - p0) * 2 * FX_BF16_NR + 2 * c] = src[(n0 + c) * sn + 2 * pe];
                o[(pe - p0) * 2 * FX_BF16_NR + 2 * c + 1] = 0;
            }
        return;
    }
    for (long p = p0; p < p1; p++) {
        const uint16_t *s0 = src + 2 * p * sk + n0 * sn, *s1 = s0 + sk;
        uint16_t *d = o + (p - p0) * 2 * FX_BF16_NR;
        if (sn == 1) {
            fx_bf16_interleave64(s0, p < full ? s1 : NULL, nc, d);
        } else {
            for (int c = 0; c < nc; c++) {
                d[2 * c] = s0[c * sn];
                d[2 * c + 1] = p < full ? s1[c * sn] : 0;
            }
        }
    }
}

#define FX_BF16_SLAB (FX_BF16_KP * 2 * FX_BF16_NR)      /* elements of a packed k block of one group */

/* C (M x N, row stride ldc) = A B, or += with acc; K the reduction length,
 * B[k][n] = Bs[k sk + n sn] (bfloat16 bits, any strides); A readable at
 * every pair index below (K + 1) / 2, its second half of the last pair
 * zero when K is odd.  B is packed here a k block of FX_BF16_KP pairs at a
 * time, never whole: a packed copy of a weight would be as big as the
 * weight.  The loop that keeps the smaller operand in cache is inner.
 * M <= N (the logits, and d_hidden at the default blocks): each thread
 * takes groups of 64 columns, packs a group's k block into its own 64 KB
 * and runs all of A's rows against it, through every k block (the group's
 * columns of C stay in cache; k blocks outermost measured slower for
 * d_hidden, the performance log).  M > N (d_W): each k block of B is
 * packed whole by all threads, then the threads split A's row tiles, each
 * against every group.  Either way a packed pair is read by every row tile
 * of A: the packing is 1 / (M / 6) of the tile loop's loads.  The tiles
 * the threads write are disjoint. */
static void
fx_bf16_gemm(long M, long N, long K, const uint16_t *A, long ars, long aks, const uint16_t *Bs, long sk, long sn,
             float *C, long ldc, int acc, int nthreads)
{
    long kp2 = (K + 1) / 2, G = (N + FX_BF16_NR - 1) / FX_BF16_NR;
    int nt = nthreads > 0 ? nthreads : fx_max_threads();
    uint16_t *slab = NULL;
    if (M == 0 || N == 0)
        return;
    if (kp2 == 0) {                         /* no features: C = 0 (or unchanged) */
        if (!acc)
            for (long m = 0; m < M; m++)
                memset(C + m * ldc, 0, (size_t)N * sizeof(float));
        return;
    }
    if (M > N)                              /* NULL: the groups' loop below, slower but never short of memory */
        slab = (uint16_t *)malloc((size_t)G * FX_BF16_SLAB * sizeof(uint16_t));
    if (slab == NULL) {
        #pragma omp parallel for schedule(static) num_threads(nt)
        for (long g = 0; g < G; g++) {
            uint16_t buf[FX_BF16_SLAB] __attribute__((aligned(64)));
            long n0 = g * FX_BF16_NR;
            int nc = (int)(N - n0 < FX_BF16_NR ? N - n0 : FX_BF16_NR);
            for (long k0 = 0; k0 < kp2; k0 += FX_BF16_KP) {
                long kp = kp2 - k0 < FX_BF16_KP ? kp2 - k0 : FX_BF16_KP;
                fx_bf16_pack_slab(K, N, Bs, sk, sn, g, k0, k0 + kp, buf);
                fx_bf16_tiles(0, M, kp, A + k0 * aks, ars, aks, buf, C + n0, ldc, nc, acc || k0 > 0);
            }
        }
        return;
    }
    for (long k0 = 0; k0 < kp2; k0 += FX_BF16_KP) {
        long kp = kp2 - k0 < FX_BF16_KP ? kp2 - k0 : FX_BF16_KP;
        long T = (M + FX_BF16_MR - 1) / FX_BF16_MR;
        int a = acc || k0 > 0;
        const uint16_t *Ak = A + k0 * aks;
        #pragma omp parallel num_threads(nt)
        {
            #pragma omp for schedule(static)
            for (long g = 0; g < G; g++)
                fx_bf16_pack_slab(K, N, Bs, sk, sn, g, k0, k0 + kp, slab + g * FX_BF16_SLAB);
            #pragma omp for schedule(static)
            for (long t = 0; t < T; t++) {
                long m0 = t * FX_BF16_MR, m1 = m0 + FX_BF16_MR < M ? m0 + FX_BF16_MR : M;
                for (long g = 0; g < G; g++) {
                    long n0 = g * FX_BF16_NR;
                    int nc = (int)(N - n0 < FX_BF16_NR ? N - n0 : FX_BF16_NR);
                    fx_bf16_tiles(m0, m1, kp, Ak, ars, aks, slab + g * FX_BF16_SLAB, C + n0, ldc, nc, a);
                }
            }
        }
    }
    free(slab);
}

/* One row of fx_bf16_rows.  (The OpenMP loops call functions compiled for
 * the target rather than holding the intrinsics themselves: clang outlines
 * a parallel loop's body into a function without the target attribute.) */
FX_BF16_TARGET static void fx_bf16_row(long N, const float *g, uint16_t *o)
{
    long n = 0;
    for (; n + 16 <= N; n += 16)
        _mm256_storeu_si256((__m256i *)(o + n), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(g + n)));
    if (n < N) {
        __mmask16 k = (__mmask16)((1u << (N - n)) - 1u);
        __m256i v = (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(k, g + n));
        _mm256_mask_storeu_epi16(o + n, k, v);
    }
    if (N & 1)
        o[N] = 0;
}

/* out[m][0:Np] = bfloat16(G[m][0:N]) with Np = N rounded up to even (the
 * pad zero): G's rows as A for d_hidden = G W. */
static void fx_bf16_rows(long M, long N, const float *G, long ldg, uint16_t *out, long ldo, int nthreads)
{
    int nt = nthreads > 0 ? nthreads : fx_max_threads();
    #pragma omp parallel for schedule(static) num_threads(nt)
    for (long m = 0; m < M; m++)
        fx_bf16_row(N, G + m * ldg, out + m * ldo);
}

/* One pair of rows of fx_bf16_pairs (g1 NULL: a zero second row). */
FX_BF16_TARGET static void fx_bf16_pair(long N, const float *g0, const float *g1, uint16_t *o)
{
    /* lanes 2i and 2i+1 of the result: element i of the first row, of the second */
    __attribute__((aligned(64))) static const uint16_t ix[32] = {
        0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23,
        8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
    __m512i idx = _mm512_load_si512((const void *)ix);
    for (long n = 0; n < N; n += 16) {
        __mmask16 k = N - n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (N - n)) - 1u);
        __m512 x0 = _mm512_maskz_loadu_ps(k, g0 + n);
        __m512 x1 = g1 ? _mm512_maskz_loadu_ps(k, g1 + n) : _mm512_setzero_ps();
        /* cvtne2ps_pbh(a, b): lanes 0-15 from b, 16-31 from a */
        __m512i v = _mm512_permutexvar_epi16(idx, (__m512i)_mm512_cvtne2ps_pbh(x1, x0));
        __mmask32 k2 = N - n >= 16 ? (__mmask32)0xFFFFFFFFu : (__mmask32)((1u << (2 * (N - n))) - 1u);
        _mm512_mask_storeu_epi16(o + 2 * n, k2, v);
    }
}

/* out[p][n][r] = bfloat16(G[2p + r][n]) for the pairs p of rows (a zero
 * second row when M is odd): G's transpose as A for d_W = G^T hidden
 * (rows n: ars = 2; k pairs p: aks = 2 N). */
static void fx_bf16_pairs(long M, long N, const float *G, long ldg, uint16_t *out, int nthreads)
{
    int nt = nthreads > 0 ? nthreads : fx_max_threads();
    long P = (M + 1) / 2;
    #pragma omp parallel for schedule(static) num_threads(nt)
    for (long p = 0; p < P; p++)
        fx_bf16_pair(N, G + 2 * p * ldg, 2 * p + 1 < M ? G + (2 * p + 1) * ldg : NULL, out + p * 2 * N);
}

#else   /* no AVX512-BF16 code in this build */
static int fx_bf16_cpu(void) { return 0; }
static void fx_bf16_gemm(long M, long N, long K, const uint16_t *A, long ars, long aks, const uint16_t *Bs, long sk,
                         long sn, float *C, long ldc, int acc, int nthreads) {}
static void fx_bf16_rows(long M, long N, const float *G, long ldg, uint16_t *out, long ldo, int nthreads) {}
static void fx_bf16_pairs(long M, long N, const float *G, long ldg, uint16_t *out, int nthreads) {}
#endif

/* The bfloat16 head runs: compiled in, the CPU has AVX512-BF16, and the
 * avx512 path is the one selected. */
static int fx_bf16_ready(void)
{
    return FX_BF16 && fx_bf16_cpu() && strcmp(fx_isa_current, "avx512") == 0;
}

#endif
