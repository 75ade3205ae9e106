/* fx_convert.h -- float16 and bfloat16 to and from float32, for the
 * reduced-precision driver of _kernels.pyx (one block of rows at a time
 * into float32 scratch that stays in cache).  Included by fx_kernels.h
 * with the float kernels (the row's vocabulary in scope); names get the
 * suffix _h_<FX_ISA>.
 *
 * float16: 8 at a time where the vocabulary offers it (FX_VEC_HALF8: F16C,
 * NEON's FCVTL/FCVTN), else the exact branch-free C of fx_vecmath.h: the
 * same bits (round to nearest even, subnormals kept), except that the
 * vector conversions quiet a signaling NaN (a NaN stays a NaN of the same
 * sign) where the C and NumPy keep it signaling.  bfloat16 is the top half of a float32: widening is a shift;
 * narrowing rounds to nearest even on the dropped 16 bits (the carry may
 * reach the exponent: rounding up to infinity is correct), and a NaN stays
 * a quiet NaN of the same sign -- ml_dtypes' astype.
 */
#define FX_H(name) FX_CAT3(name, h, FX_ISA)

static void FX_H(h2f)(const uint16_t *h, float *f, ptrdiff_t n)
{
    ptrdiff_t j = 0;
#ifdef FX_VEC_HALF8
    for (; j + 8 <= n; j += 8) VH2F8(h + j, f + j);
#endif
#pragma omp simd
    for (ptrdiff_t k = j; k < n; k++) f[k] = fx_h2f(h[k]);
}

static void FX_H(f2h)(const float *f, uint16_t *h, ptrdiff_t n)
{
    ptrdiff_t j = 0;
#ifdef FX_VEC_HALF8
    for (; j + 8 <= n; j += 8) VF2H8(f + j, h + j);
#endif
#pragma omp simd
    for (ptrdiff_t k = j; k < n; k++) h[k] = fx_f2h(f[k]);
}

static void FX_H(b2f)(const uint16_t *h, float *f, ptrdiff_t n)
{
#pragma omp simd
    for (ptrdiff_t j = 0; j < n; j++) f[j] = fx_u2f((uint32_t)h[j] << 16);
}

static void FX_H(f2b)(const float *f, uint16_t *h, ptrdiff_t n)
{
#pragma omp simd
    for (ptrdiff_t j = 0; j < n; j++) {
        uint32_t u = fx_f2u(f[j]);
        uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
        uint32_t q = (u >> 16) | 0x40u;                        /* NaN: quiet, sign kept */
        h[j] = (uint16_t)((u & 0x7fffffffu) > 0x7f800000u ? q : r);
    }
}

#undef FX_H
