/* fx_vec_avx2.h -- the vector vocabulary of the AVX2 + FMA path: the
 * types, loads and stores with masked tails, arithmetic, compares,
 * selects and reductions the vector kernels (fx_simd_*.h) are written
 * with, for FX_T (float: 8 lanes, double: 4); the double lanes sums are
 * carried in (D*); the 2^n scaling of the exps, and the few operations
 * that are one instruction on one set and a sequence on another (the
 * label conversion, the deinterleave of two classes, the exponent split).
 * Included by fx_isa.h once per element type on the rows of
 * fx_isa_table.def whose FX_VEC_HEADER names it; its names are undefined
 * by fx_vec_end.h.  Masks are vectors of all-ones lanes (MT = VT), so
 * MBITS is a movemask.  Capabilities the kernels test: FX_VEC_SCALEF 0
 * (2^n from the exponent bits), FX_VEC_MID_C (stats_mid for rows of at
 * most 512 bytes, two at a time). */

#include "fx_vec_avx256.h"

/* ------------------------------------------------------------ AVX2 + FMA */
#if FX_IS_FLOAT
#  define VL 8
#  define VT __m256
#  define MT __m256
#  define VLOADU(p) _mm256_loadu_ps(p)
#  define VSTOREU(p, v) _mm256_storeu_ps(p, v)
#  define VSET(a) _mm256_set1_ps(a)
#  define VZERO() _mm256_setzero_ps()
#  define VADD _mm256_add_ps
#  define VSUB _mm256_sub_ps
#  define VMUL _mm256_mul_ps
#  define VDIV _mm256_div_ps
#  define VMAX _mm256_max_ps
#  define VMIN _mm256_min_ps
#  define VFMA _mm256_fmadd_ps
#  define VFNMA _mm256_fnmadd_ps
#  define VCMP(a, b, op) _mm256_cmp_ps(a, b, op)
#  define VSEL(m, a, b) _mm256_blendv_ps(b, a, m)
#  define VZMASK(m, a) _mm256_and_ps(m, a)
#  define VANDNOT(m, a) _mm256_andnot_ps(m, a)
#  define MBITS(m) ((unsigned)_mm256_movemask_ps(m))
#  define MI(m) _mm256_castps_si256(m)
#  define VLOADM(p, m, fill) VSEL(m, _mm256_maskload_ps(p, MI(m)), VSET(fill))
#  define VSTOREM(p, v, m) _mm256_maskstore_ps(p, MI(m), v)
#  define MTAIL(n) _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n)), \
                                                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)))
#  define MLANE(i) _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_set1_epi32((int)(i)), \
                                                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)))
#else
#  define VL 4
#  define VT __m256d
#  define MT __m256d
#  define VLOADU(p) _mm256_loadu_pd(p)
#  define VSTOREU(p, v) _mm256_storeu_pd(p, v)
#  define VSET(a) _mm256_set1_pd(a)
#  define VZERO() _mm256_setzero_pd()
#  define VADD _mm256_add_pd
#  define VSUB _mm256_sub_pd
#  define VMUL _mm256_mul_pd
#  define VDIV _mm256_div_pd
#  define VMAX _mm256_max_pd
#  define VMIN _mm256_min_pd
#  define VFMA _mm256_fmadd_pd
#  define VFNMA _mm256_fnmadd_pd
#  define VCMP(a, b, op) _mm256_cmp_pd(a, b, op)
#  define VSEL(m, a, b) _mm256_blendv_pd(b, a, m)
#  define VZMASK(m, a) _mm256_and_pd(m, a)
#  define VANDNOT(m, a) _mm256_andnot_pd(m, a)
#  define MBITS(m) ((unsigned)_mm256_movemask_pd(m))
#  define MI(m) _mm256_castpd_si256(m)
#  define VLOADM(p, m, fill) VSEL(m, _mm256_maskload_pd(p, MI(m)), VSET(fill))
#  define VSTOREM(p, v, m) _mm256_maskstore_pd(p, MI(m), v)
#  define MTAIL(n) _mm256_castsi256_pd(_mm256_cmpgt_epi64(_mm256_set1_epi64x((long long)(n)), \
                                                            _mm256_setr_epi64x(0, 1, 2, 3)))
#  define MLANE(i) _mm256_castsi256_pd(_mm256_cmpeq_epi64(_mm256_set1_epi64x((long long)(i)), \
                                                            _mm256_setr_epi64x(0, 1, 2, 3)))
#endif
#define MNONE(m) (MBITS(m) == 0)
#define VZERO_WHERE(m, a) VANDNOT(m, a)                   /* 0 where m, else a */
#define VADD_UNLESS(acc, m, a) VADD(acc, VANDNOT(m, a))   /* acc + a where not m */

/* ---- double lanes: sums in double (DT), the halves of a float vector */
#define DT __m256d
#define DZERO() _mm256_setzero_pd()
#define DSET(a) _mm256_set1_pd(a)
#define DLOADU _mm256_loadu_pd
#define DSTOREU _mm256_storeu_pd
#define DADD _mm256_add_pd
#define DMUL _mm256_mul_pd
#define DNZ(h, v) _mm256_andnot_pd(_mm256_cmp_pd(h, _mm256_setzero_pd(), _CMP_EQ_OQ), v)    /* v where h != 0 */
#define DKEEP_FINITE(m, s, other) _mm256_blendv_pd(other, s, _mm256_cmp_pd(_mm256_sub_pd(m, m), \
                                                    _mm256_setzero_pd(), _CMP_EQ_OQ))   /* s where m is finite */
#define DHSUM(a) fx_hsum4d(a)
#if FX_IS_FLOAT
#  define DHALF(v, h) ((h) ? _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)) \
                           : _mm256_cvtps_pd(_mm256_castps256_ps128(v)))     /* lanes 4h.. in double */
#else
#  define DHALF(v, h) (v)
#endif

#ifndef FX_VEC_AVX2_FNS
#define FX_VEC_AVX2_FNS
/* the maximum of the lanes: halves in registers (a store and a scalar
 * loop made a chain of 8 compares) */
FX_INLINE float fx_avx2_hmax_f(__m256 v)
{
    __m128 a = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    a = _mm_max_ps(a, _mm_movehl_ps(a, a));
    return _mm_cvtss_f32(_mm_max_ss(a, _mm_movehdup_ps(a)));
}

FX_INLINE double fx_avx2_hmax_d(__m256d v)
{
    __m128d a = _mm_max_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_max_sd(a, _mm_unpackhi_pd(a, a)));
}

/* p 2^n with n = bits(t) - bits(magic) (t = magic + n exactly), scaled in
 * two steps 2^(n/2) 2^(n - n/2) so that a result below the normal range
 * rounds once */
FX_INLINE __m256 fx_avx2_scale2n_f(__m256 p, __m256 t, __m256 magic)
{
    __m256i n = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_castps_si256(magic));
    __m256i n1 = _mm256_srai_epi32(n, 1), n2 = _mm256_sub_epi32(n, n1);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, _mm256_set1_epi32(127)), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, _mm256_set1_epi32(127)), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

FX_INLINE __m256d fx_avx2_scale2n_d(__m256d p, __m256d t, __m256d magic)
{
    __m256i n = _mm256_sub_epi64(_mm256_castpd_si256(t), _mm256_castpd_si256(magic));
    /* n >= -1076: an arithmetic shift by one is the logical one plus the sign */
    __m256i n1 = _mm256_or_si256(_mm256_srli_epi64(n, 1), _mm256_and_si256(n, _mm256_set1_epi64x((long long)0x8000000000000000ull)));
    __m256i n2 = _mm256_sub_epi64(n, n1);
    __m256d s1 = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(n1, _mm256_set1_epi64x(1023)), 52));
    __m256d s2 = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(n2, _mm256_set1_epi64x(1023)), 52));
    return _mm256_mul_pd(_mm256_mul_pd(p, s1), s2);
}
#endif

/* ---- the exps' 2^n: from the exponent bits (no vscalef) */
#define FX_VEC_SCALEF 0
#define FX_VEC_MID_C (FX_IS_FLOAT ? 128 : 64)    /* stats_mid's two-rows range only (fx_simd_rows.h) */
#if FX_IS_FLOAT
#  define VHMAX(v) fx_avx2_hmax_f(v)
#  define VPOW2(t) _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(t), 23))   /* 2^(bits of t's low word) */
#  define VSCALE2N(p, t, magic) fx_avx2_scale2n_f(p, t, magic)
/* VL doubles as floats */
#  define VLOAD_DOUBLES(w) _mm256_set_m128(_mm256_cvtpd_ps(_mm256_loadu_pd((w) + 4)), _mm256_cvtpd_ps(_mm256_loadu_pd(w)))
/* a = the even lanes of lo:hi, b = the odd ones (two classes of VL rows) */
#  define VDEINTERLEAVE(lo, hi, a, b) do {                                                          \
        *(a) = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0x88)), 0xD8)); \
        *(b) = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0xDD)), 0xD8)); \
    } while (0)
/* the lanes of k (whole numbers) as int64 at p */
#  define VSTORE_I64(p, k) do {                                                                    \
        __m256i kk_ = _mm256_cvttps_epi32(k);                                                         \
        _mm256_storeu_si256((__m256i *)(p), _mm256_cvtepi32_epi64(_mm256_castsi256_si128(kk_)));     \
        _mm256_storeu_si256((__m256i *)((p) + 4), _mm256_cvtepi32_epi64(_mm256_extracti128_si256(kk_, 1))); \
    } while (0)
/* u = 2^k f with f in [sqrt(1/2), sqrt(2)) (u finite, >= 1) */
#  define VFREXP_SQRT2(u, k, f) do {                                                               \
        __m256i b_ = _mm256_castps_si256(u);                                                          \
        __m256i t0_ = _mm256_sub_epi32(b_, _mm256_set1_epi32(0x3f3504f3));                           \
        k = _mm256_cvtepi32_ps(_mm256_srai_epi32(t0_, 23));                                           \
        f = _mm256_castsi256_ps(_mm256_sub_epi32(b_, _mm256_and_si256(t0_, _mm256_set1_epi32((int)0xff800000u)))); \
    } while (0)
#else
#  define VHMAX(v) fx_avx2_hmax_d(v)
#  define VPOW2(t) _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_castpd_si256(t), 52))
#  define VSCALE2N(p, t, magic) fx_avx2_scale2n_d(p, t, magic)
#  define VLOAD_DOUBLES(w) VLOADU(w)
#  define VDEINTERLEAVE(lo, hi, a, b) do {                                                          \
        *(a) = _mm256_permute4x64_pd(_mm256_unpacklo_pd(lo, hi), 0xD8);                             \
        *(b) = _mm256_permute4x64_pd(_mm256_unpackhi_pd(lo, hi), 0xD8);                             \
    } while (0)
#  define VSTORE_I64(p, k) _mm256_storeu_si256((__m256i *)(p), _mm256_cvtepi32_epi64(_mm256_cvttpd_epi32(k)))
#endif

#if FX_IS_FLOAT
/* vlabels of exactly VL rows (fx_simd_small.h: the labels as float lanes,
 * -1 where not kept; *bad += the labels outside [0, C) that are not ign) */
FX_INLINE VT FN(vlabels_vl)(const int64_t *y, ptrdiff_t C, int64_t ign, int *bad)
{
    const __m256i none = _mm256_set1_epi64x(-1), zero = _mm256_setzero_si256();
    const __m256i vc = _mm256_set1_epi64x((long long)C), vi = _mm256_set1_epi64x((long long)ign);
    __m256i a = _mm256_loadu_si256((const __m256i *)y), b = _mm256_loadu_si256((const __m256i *)(y + 4));
    const __m256i ia = _mm256_cmpeq_epi64(a, vi), ib = _mm256_cmpeq_epi64(b, vi);
    /* in range: 0 <= y < C; kept: in range and not ign; bad: neither */
    const __m256i va = _mm256_andnot_si256(_mm256_cmpgt_epi64(zero, a), _mm256_cmpgt_epi64(vc, a));
    const __m256i vb = _mm256_andnot_si256(_mm256_cmpgt_epi64(zero, b), _mm256_cmpgt_epi64(vc, b));
    const unsigned bm = ~(unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_or_si256(va, ia))) & 0xFu;
    const unsigned bn = ~(unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_or_si256(vb, ib))) & 0xFu;
    *bad += __builtin_popcount(bm) + __builtin_popcount(bn);
    a = _mm256_blendv_epi8(none, a, _mm256_andnot_si256(ia, va));
    b = _mm256_blendv_epi8(none, b, _mm256_andnot_si256(ib, vb));
    /* the low halves of the 64-bit lanes, in order */
    const __m256i lo = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    __m256i ab = _mm256_permute2x128_si256(_mm256_permutevar8x32_epi32(a, lo), _mm256_permutevar8x32_epi32(b, lo), 0x20);
    return _mm256_cvtepi32_ps(ab);
}
#endif
