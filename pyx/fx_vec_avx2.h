/* fx_vec_avx2.h -- the vector vocabulary of the AVX2 + FMA path: the
 * types, loads and stores with masked tails, arithmetic, compares,
 * selects and reductions the kernels of fx_simd.inc are written with, for
 * FX_T (float: 8 lanes, double: 4), and the fold of float sums into double
 * lanes.  Included by fx_simd.inc once per element type on the rows of
 * fx_isa_table.def whose FX_VEC_HEADER names it; its names are undefined
 * by fx_vec_end.h.  Masks are vectors of all-ones lanes (MT = VT). */

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
#define _mmX_set1_pd _mm256_set1_pd

/* sums in double: a float accumulator per lane runs over at most 8
 * vectors (8 terms a lane), then folds into two double accumulators
 * (DT, DFOLD; fx_simd.inc defines the double case, the same on every width) */
#if FX_IS_FLOAT
#  define DT __m256d
#  define DZERO() _mm256_setzero_pd()
#  define DFOLD(acc, v)                                                  \
    do {                                                                   \
        acc##0 = _mm256_add_pd(acc##0, _mm256_cvtps_pd(_mm256_castps256_ps128(v))); \
        acc##1 = _mm256_add_pd(acc##1, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1))); \
    } while (0)
#endif
#define DHSUM(a) fx_hsum4d(a)

#ifndef FX_HSUM4D
#define FX_HSUM4D
FX_INLINE double fx_hsum4d(__m256d a)
{
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}
#endif
