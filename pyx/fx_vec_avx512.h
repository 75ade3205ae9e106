/* fx_vec_avx512.h -- the vector vocabulary of the AVX-512 path
 * (AVX-512F/DQ/BW/VL): the types, loads and stores with masked tails,
 * arithmetic, compares, selects and reductions the vector kernels
 * (fx_simd_*.h) are written with, for FX_T (float: 16 lanes, double: 8);
 * the double lanes sums are carried in (D*); and the operations only this
 * set has in one instruction, offered as capabilities the kernels test:
 *   FX_VEC_SCALEF 1     2^n by vscalef (exact subnormal results and 0)
 *   FX_VEC_TABLE32      a 32-entry table lookup per lane (vpermt2ps):
 *                       the softplus table of fx_simd_math.h (float)
 *   FX_VEC_TILE_SMALL   vtile_small, the <= 6-class tile by permutes (float)
 *   FX_VEC_MID_C        stats_mid's class range (fx_simd_rows.h): on this
 *                       set the two-pass kernel measured faster than the
 *                       row path up to here (the performance log)
 * Included by fx_isa.h once per element type on the rows of
 * fx_isa_table.def whose FX_VEC_HEADER names it; its names are undefined
 * by fx_vec_end.h.  Masks are k-registers (MT). */

#include "fx_vec_avx256.h"

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
#define MLANE(i) ((MT)(1u << (i)))                        /* lane i alone */
#define MBITS(m) ((unsigned)(m))
#define MNONE(m) ((m) == 0)

#define VZERO_WHERE(m, a) VSEL(m, VZERO(), a)              /* 0 where m, else a */
#define FX_VEC_SCALEF 1
#define FX_VEC_MID_C 8192

/* ---- double lanes: sums in double (DT), the halves of a float vector */
#define DT ZT(__m512d)
#define DZERO() Z(_mm512_setzero_pd)()
#define DSET(a) Z(_mm512_set1_pd)(a)
#define DLOADU Z(_mm512_loadu_pd)
#define DSTOREU Z(_mm512_storeu_pd)
#define DADD Z(_mm512_add_pd)
#define DMUL Z(_mm512_mul_pd)
#define DNZ(h, v) Z(_mm512_maskz_mov_pd)(Z(_mm512_cmp_pd_mask)(h, Z(_mm512_setzero_pd)(), _CMP_NEQ_UQ), v)  /* v where h != 0 */
#define DKEEP_FINITE(m, s, other) Z(_mm512_mask_mov_pd)(other, Z(_mm512_cmp_pd_mask)(Z(_mm512_sub_pd)(m, m), \
                                                        Z(_mm512_setzero_pd)(), _CMP_EQ_OQ), s)  /* s where m is finite */
#define DHSUM(a) Z(_mm512_reduce_add_pd)(a)
#if FX_IS_FLOAT
#  define DHALF(v, h) ((h) ? Z(_mm512_cvtps_pd)(Z(_mm256_castpd_ps)(Z(_mm512_extractf64x4_pd)(Z(_mm512_castps_pd)(v), 1))) \
                           : Z(_mm512_cvtps_pd)(Z(_mm512_castps512_ps256)(v)))   /* lanes 8h.. in double */
#else
#  define DHALF(v, h) (v)
#endif

#if FX_IS_FLOAT
#  define FX_VEC_TABLE32 1
/* per lane, entry idx & 31 of the 32 floats at tbl (64-byte aligned); idx
 * a float vector whose low 5 bits are the entry */
#  define VTABLE32(tbl, idx) Z(_mm512_permutex2var_ps)(Z(_mm512_load_ps)(tbl), Z(_mm512_castps_si512)(idx), \
                                                        Z(_mm512_load_ps)((tbl) + 16))
#  define VLOAD_DOUBLES(w) Z(_mm512_insertf32x8)(Z(_mm512_castps256_ps512)(Z(_mm512_cvtpd_ps)(Z(_mm512_loadu_pd)(w))), \
                                                 Z(_mm512_cvtpd_ps)(Z(_mm512_loadu_pd)((w) + 8)), 1)   /* VL doubles as floats */
/* a = the even lanes of lo:hi, b = the odd ones (two classes of VL rows) */
#  define VDEINTERLEAVE(lo, hi, a, b) do {                                                          \
        const ZT(__m512i) ev_ = Z(_mm512_setr_epi32)(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30); \
        *(a) = Z(_mm512_permutex2var_ps)(lo, ev_, hi);                                                \
        *(b) = Z(_mm512_permutex2var_ps)(lo, Z(_mm512_add_epi32)(ev_, Z(_mm512_set1_epi32)(1)), hi);  \
    } while (0)
/* the lanes of k (whole numbers) as int64 at p */
#  define VSTORE_I64(p, k) do {                                                                    \
        ZT(__m512i) kk_ = Z(_mm512_cvttps_epi32)(k);                                                  \
        Z(_mm512_storeu_si512)(p, Z(_mm512_cvtepi32_epi64)(Z(_mm512_castsi512_si256)(kk_)));          \
        Z(_mm512_storeu_si512)((p) + 8, Z(_mm512_cvtepi32_epi64)(Z(_mm512_extracti64x4_epi64)(kk_, 1))); \
    } while (0)
/* u = 2^k f with f in [sqrt(1/2), sqrt(2)) (u finite, >= 1) */
#  define VFREXP_SQRT2(u, k, f) do {                                                               \
        ZT(__m512i) b_ = Z(_mm512_castps_si512)(u);                                                   \
        ZT(__m512i) t0_ = Z(_mm512_sub_epi32)(b_, Z(_mm512_set1_epi32)(0x3f3504f3));                  \
        k = Z(_mm512_cvtepi32_ps)(Z(_mm512_srai_epi32)(t0_, 23));                                     \
        f = Z(_mm512_castsi512_ps)(Z(_mm512_sub_epi32)(b_, Z(_mm512_and_si512)(t0_, Z(_mm512_set1_epi32)((int)0xff800000u)))); \
    } while (0)
#else
#  define VLOAD_DOUBLES(w) VLOADU(w)
#  define VDEINTERLEAVE(lo, hi, a, b) do {                                                          \
        const ZT(__m512i) ev_ = Z(_mm512_setr_epi64)(0, 2, 4, 6, 8, 10, 12, 14);                      \
        *(a) = Z(_mm512_permutex2var_pd)(lo, ev_, hi);                                                \
        *(b) = Z(_mm512_permutex2var_pd)(lo, Z(_mm512_add_epi64)(ev_, Z(_mm512_set1_epi64)(1)), hi);  \
    } while (0)
#  define VSTORE_I64(p, k) Z(_mm512_storeu_si512)(p, Z(_mm512_cvtepi32_epi64)(Z(_mm512_cvttpd_epi32)(k)))
#endif

#if FX_IS_FLOAT
/* vlabels of exactly VL rows (fx_simd_small.h: the labels as float lanes,
 * -1 where not kept; *bad += the labels outside [0, C) that are not ign) */
FX_INLINE VT FN(vlabels_vl)(const int64_t *y, ptrdiff_t C, int64_t ign, int *bad)
{
    const ZT(__m512i) none = Z(_mm512_set1_epi64)(-1), vc = Z(_mm512_set1_epi64)((long long)C);
    const ZT(__m512i) vi = Z(_mm512_set1_epi64)((long long)ign);
    ZT(__m512i) a = Z(_mm512_loadu_si512)(y), b = Z(_mm512_loadu_si512)(y + 8);
    /* unsigned y < C: negative labels are huge */
    const ZT(__mmask8) va = Z(_mm512_cmp_epu64_mask)(a, vc, _MM_CMPINT_LT), vb = Z(_mm512_cmp_epu64_mask)(b, vc, _MM_CMPINT_LT);
    const ZT(__mmask8) ia = Z(_mm512_cmpeq_epi64_mask)(a, vi), ib = Z(_mm512_cmpeq_epi64_mask)(b, vi);
    *bad += __builtin_popcount(0xFFu & ~(unsigned)va & ~(unsigned)ia) + __builtin_popcount(0xFFu & ~(unsigned)vb & ~(unsigned)ib);
    a = Z(_mm512_mask_mov_epi64)(none, (ZT(__mmask8))(va & ~ia), a);
    b = Z(_mm512_mask_mov_epi64)(none, (ZT(__mmask8))(vb & ~ib), b);
    ZT(__m512i) ab = Z(_mm512_inserti64x4)(Z(_mm512_castsi256_si512)(Z(_mm512_cvtepi64_epi32)(a)),
                                           Z(_mm512_cvtepi64_epi32)(b), 1);
    return Z(_mm512_cvtepi32_ps)(ab);
}

#  define FX_VEC_TILE_SMALL 1
/* The small-class tile (to_tile, fx_simd_small.h) of up to 6 classes:
 * the 16 rows are C whole vectors; class j's lane r is element rC + j,
 * picked by one vpermt2ps from each pair of vectors and merged under a
 * mask (pair p holds the lanes with (rC + j) >> 5 == p): 3 C ceil(C/2)
 * operations besides C loads and C stores, where the 8 x 8 blocks take 80
 * (two blocks of 8 loads, 24 shuffles and 8 stores) and transpose 8
 * columns whatever C is.  Positions past nr rows load 0.  Returns 0,
 * doing nothing, above 6 classes. */
FX_INLINE int FN(vtile_small)(const FX_T *x, int nr, ptrdiff_t C, FX_T *tile)
{
    if (C > 6)
        return 0;
    VT v[6];
    const ptrdiff_t nel = nr * C;
    for (ptrdiff_t q = 0; q < 6; q++)
        v[q] = q >= C ? VZERO()
             : (q + 1) * VL <= nel ? VLOADU(x + q * VL)
             : q * VL < nel ? Z(_mm512_maskz_loadu_ps)(MTAIL(nel - q * VL), x + q * VL) : VZERO();
    const ZT(__m512i) rc = Z(_mm512_mullo_epi32)(Z(_mm512_setr_epi32)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                               Z(_mm512_set1_epi32)((int)C));
    for (ptrdiff_t j = 0; j < C; j++) {
        const ZT(__m512i) f = Z(_mm512_add_epi32)(rc, Z(_mm512_set1_epi32)((int)j));
        const ZT(__m512i) pr = Z(_mm512_srli_epi32)(f, 5);
        VT o = Z(_mm512_permutex2var_ps)(v[0], f, v[1]);
        for (ptrdiff_t p = 1; 2 * p < C; p++)
            o = Z(_mm512_mask_mov_ps)(o, Z(_mm512_cmpeq_epi32_mask)(pr, Z(_mm512_set1_epi32)((int)p)),
                                      Z(_mm512_permutex2var_ps)(v[2 * p], f, v[2 * p + 1]));
        VSTOREU(tile + j * VL, o);
    }
    return 1;
}
#endif
