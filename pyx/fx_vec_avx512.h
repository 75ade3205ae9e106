/* fx_vec_avx512.h -- the vector vocabulary of the AVX-512 path
 * (AVX-512F/DQ/BW/VL): the types, loads and stores with masked tails,
 * arithmetic, compares, selects and reductions the kernels of fx_simd.inc
 * are written with, for FX_T (float: 16 lanes, double: 8), and the fold of
 * float sums into double lanes.  Included by fx_simd.inc once per element
 * type on the rows of fx_isa_table.def whose FX_VEC_HEADER names it; its
 * names are undefined by fx_vec_end.h.  Masks are k-registers (MT). */

/* ------------------------------------------------------------ AVX-512 */
/* Z(): the intrinsics (and ZT() their types) of the AVX-512 code; in the
 * SIMDe test build (FX_SIMDE) SIMDe's portable implementations of the same
 * functions, so the path's logic runs on CPUs without AVX-512. */
#ifdef FX_SIMDE
#  define Z(f) simde##f
#  define ZT(t) simde##t
#else
#  define Z(f) f
#  define ZT(t) t
#endif
#if FX_IS_FLOAT
#  define VL 16
#  define VT ZT(__m512)
#  define MT ZT(__mmask16)
#  define VLOADU(p) Z(_mm512_loadu_ps)(p)
#  define VSTOREU(p, v) Z(_mm512_storeu_ps)(p, v)
#  define VSET(a) Z(_mm512_set1_ps)(a)
#  define VZERO() Z(_mm512_setzero_ps)()
#  define VADD Z(_mm512_add_ps)
#  define VSUB Z(_mm512_sub_ps)
#  define VMUL Z(_mm512_mul_ps)
#  define VDIV Z(_mm512_div_ps)
#  define VMAX Z(_mm512_max_ps)
#  define VMIN Z(_mm512_min_ps)
#  define VFMA Z(_mm512_fmadd_ps)
#  define VFNMA Z(_mm512_fnmadd_ps)
#  define VCMP(a, b, op) Z(_mm512_cmp_ps_mask)(a, b, op)
#  define VSEL(m, a, b) Z(_mm512_mask_mov_ps)(b, m, a)
#  define VZMASK(m, a) Z(_mm512_maskz_mov_ps)(m, a)        /* a where m, else 0 */
#  define VADD_UNLESS(acc, m, a) Z(_mm512_mask_add_ps)(acc, (MT)~(m), acc, a)   /* acc + a where not m */
#  define VHMAX(v) Z(_mm512_reduce_max_ps)(v)
#  define VLOADM(p, m, fill) Z(_mm512_mask_loadu_ps)(VSET(fill), m, p)
#  define VSTOREM(p, v, m) Z(_mm512_mask_storeu_ps)(p, m, v)
#  define VROUND(v) Z(_mm512_roundscale_ps)(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#  define VSCALE(p, n) Z(_mm512_scalef_ps)(p, n)
#else
#  define VL 8
#  define VT ZT(__m512d)
#  define MT ZT(__mmask8)
#  define VLOADU(p) Z(_mm512_loadu_pd)(p)
#  define VSTOREU(p, v) Z(_mm512_storeu_pd)(p, v)
#  define VSET(a) Z(_mm512_set1_pd)(a)
#  define VZERO() Z(_mm512_setzero_pd)()
#  define VADD Z(_mm512_add_pd)
#  define VSUB Z(_mm512_sub_pd)
#  define VMUL Z(_mm512_mul_pd)
#  define VDIV Z(_mm512_div_pd)
#  define VMAX Z(_mm512_max_pd)
#  define VMIN Z(_mm512_min_pd)
#  define VFMA Z(_mm512_fmadd_pd)
#  define VFNMA Z(_mm512_fnmadd_pd)
#  define VCMP(a, b, op) Z(_mm512_cmp_pd_mask)(a, b, op)
#  define VSEL(m, a, b) Z(_mm512_mask_mov_pd)(b, m, a)
#  define VZMASK(m, a) Z(_mm512_maskz_mov_pd)(m, a)
#  define VADD_UNLESS(acc, m, a) Z(_mm512_mask_add_pd)(acc, (MT)~(m), acc, a)
#  define VHMAX(v) Z(_mm512_reduce_max_pd)(v)
#  define VLOADM(p, m, fill) Z(_mm512_mask_loadu_pd)(VSET(fill), m, p)
#  define VSTOREM(p, v, m) Z(_mm512_mask_storeu_pd)(p, m, v)
#  define VROUND(v) Z(_mm512_roundscale_pd)(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#  define VSCALE(p, n) Z(_mm512_scalef_pd)(p, n)
#endif
#define MTAIL(n) ((MT)((1u << (n)) - 1u))                 /* the first n lanes, n < VL */
#define _mmX_set1_pd Z(_mm512_set1_pd)
#define MLANE(i) ((MT)(1u << (i)))                        /* lane i alone */
#define MBITS(m) ((unsigned)(m))
#define MNONE(m) ((m) == 0)

/* sums in double: a float accumulator per lane runs over at most 8
 * vectors (8 terms a lane), then folds into two double accumulators
 * (DT, DFOLD; fx_simd.inc defines the double case, the same on every width) */
#if FX_IS_FLOAT
#  define DT ZT(__m512d)
#  define DZERO() Z(_mm512_setzero_pd)()
#  define DFOLD(acc, v)                                                  \
    do {                                                                   \
        acc##0 = Z(_mm512_add_pd)(acc##0, Z(_mm512_cvtps_pd)(Z(_mm512_castps512_ps256)(v))); \
        acc##1 = Z(_mm512_add_pd)(acc##1, Z(_mm512_cvtps_pd)(Z(_mm256_castpd_ps)(   \
                     Z(_mm512_extractf64x4_pd)(Z(_mm512_castps_pd)(v), 1))));    \
    } while (0)
#endif
#define DHSUM(a) Z(_mm512_reduce_add_pd)(a)
