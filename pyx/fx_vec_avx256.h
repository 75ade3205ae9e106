/* fx_vec_avx256.h -- the 256-bit AVX pieces both x86 vocabularies
 * (fx_vec_avx2.h, fx_vec_avx512.h) use: the horizontal sum of four
 * doubles, the named compares, the float16 conversions (F16C) and the
 * block transposes of the small-class tile (to_tile in
 * fx_simd_small.h).  The transposes stay 256-bit on AVX-512 too: a tile
 * row there is two such blocks side by side, and the 256-bit shuffles
 * measured cheaper than 512-bit gathers (the performance log).  Raw
 * intrinsics: this file is named for its instruction set. */

#ifndef FX_VEC_AVX256_FNS
#define FX_VEC_AVX256_FNS
FX_INLINE double fx_hsum4d(__m256d a)
{
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

/* 8 float16 (as their bits) <-> 8 float32 by F16C: exact one way, rounded
 * to nearest even the other (fx_convert.h) */
FX_INLINE void fx_h2f8(const uint16_t *h, float *f)
{
    _mm256_storeu_ps(f, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)h)));
}

FX_INLINE void fx_f2h8(const float *f, uint16_t *h)
{
    _mm_storeu_si128((__m128i *)h, _mm256_cvtps_ph(_mm256_loadu_ps(f), _MM_FROUND_TO_NEAREST_INT));
}

/* c = the transpose of the 8 x 8 block of floats in r: 24 shuffles */
FX_INLINE void fx_tr8x8_ps(const __m256 *r, __m256 *c)
{
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    c[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    c[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    c[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    c[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    c[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    c[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    c[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    c[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

/* c = the transpose of the 4 x 4 block of doubles in r */
FX_INLINE void fx_tr4x4_pd(const __m256d *r, __m256d *c)
{
    __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
    __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
    c[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    c[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    c[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    c[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}
#endif

/* The compares the kernels use, by name (x86: VCMP with an AVX predicate;
 * O = ordered: false where either side is NaN; U = unordered: true) */
#define VEQ(a, b) VCMP(a, b, _CMP_EQ_OQ)
#define VNEQ(a, b) VCMP(a, b, _CMP_NEQ_UQ)
#define VLT(a, b) VCMP(a, b, _CMP_LT_OQ)
#define VLE(a, b) VCMP(a, b, _CMP_LE_OQ)
#define VGT(a, b) VCMP(a, b, _CMP_GT_OQ)
#define VGE(a, b) VCMP(a, b, _CMP_GE_OQ)
#define VUNORD(a, b) VCMP(a, b, _CMP_UNORD_Q)

/* float16 conversions, 8 at a time (both x86 vector paths have F16C) */
#define FX_VEC_HALF8 1
#define VH2F8(h, f) fx_h2f8(h, f)
#define VF2H8(f, h) fx_f2h8(f, h)

/* The tile's blocks: TW x TW elements of FX_T (TB a row of one); TB_LOADM
 * loads the first w elements (the rest 0). */
#if FX_IS_FLOAT
#  define TW 8
#  define TB __m256
#  define TB_LOAD(p) _mm256_loadu_ps(p)
#  define TB_LOADM(p, w) _mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(w)), \
                                                 _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)))
#  define TB_STORE(p, v) _mm256_storeu_ps(p, v)
#  define TB_ZERO() _mm256_setzero_ps()
#  define TB_TRANSPOSE(r, c) fx_tr8x8_ps(r, c)
#else
#  define TW 4
#  define TB __m256d
#  define TB_LOAD(p) _mm256_loadu_pd(p)
#  define TB_LOADM(p, w) _mm256_maskload_pd(p, _mm256_cmpgt_epi64(_mm256_set1_epi64x((long long)(w)), \
                                                 _mm256_setr_epi64x(0, 1, 2, 3)))
#  define TB_STORE(p, v) _mm256_storeu_pd(p, v)
#  define TB_ZERO() _mm256_setzero_pd()
#  define TB_TRANSPOSE(r, c) fx_tr4x4_pd(r, c)
#endif
