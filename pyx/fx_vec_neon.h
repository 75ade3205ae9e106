/* fx_vec_neon.h -- the vector vocabulary of the aarch64 path (AdvSIMD,
 * "NEON": mandatory on aarch64): the types, loads and stores with masked
 * tails, arithmetic, compares, selects and reductions the vector kernels
 * (fx_simd_*.h) are written with, for FX_T (float: 4 lanes, double: 2); the
 * double lanes sums are carried in (D*); the 2^n scaling of the exps from
 * the exponent bits; the operations that are one instruction on one set and
 * a sequence on another.  Included by fx_kernels.h once per element type on
 * the row of fx_isa_table.def whose FX_VEC_HEADER names it; its names are
 * undefined by fx_vec_end.h.
 *
 * 128 bits and no mask registers: masks are vectors of all-ones lanes (MT:
 * uint32x4_t / uint64x2_t), and the masked loads and stores of the tails
 * copy lane by lane (only the masked lanes are touched: never past the
 * end).  The x86 semantics the kernels rely on are kept: VMAX(a, b) is
 * a > b ? a : b (a NaN in a gives b: the running maximum skips NaN) and
 * VMIN(a, b) a < b ? a : b, not NEON's NaN-propagating fmax/fmin; the
 * compares are ordered except VNEQ and VUNORD.  Capabilities offered:
 * FX_VEC_HALF8 (the float16 conversions); FX_VEC_SCALEF 0 (2^n from the
 * exponent bits). */

#if FX_IS_FLOAT
#  define VL 4
#  define VT float32x4_t
#  define MT uint32x4_t
#  define VLOADU(p) vld1q_f32(p)
#  define VSTOREU(p, v) vst1q_f32(p, v)
#  define VSET(a) vdupq_n_f32(a)
#  define VZERO() vdupq_n_f32(0.0f)
#  define VADD vaddq_f32
#  define VSUB vsubq_f32
#  define VMUL vmulq_f32
#  define VDIV vdivq_f32
#  define VMAX(a, b) fx_neon_max_f(a, b)
#  define VMIN(a, b) fx_neon_min_f(a, b)
#  define VFMA(a, b, c) vfmaq_f32(c, a, b)                  /* a b + c */
#  define VFNMA(a, b, c) vfmsq_f32(c, a, b)                 /* c - a b */
#  define VEQ(a, b) vceqq_f32(a, b)
#  define VNEQ(a, b) vmvnq_u32(vceqq_f32(a, b))
#  define VLT(a, b) vcltq_f32(a, b)
#  define VLE(a, b) vcleq_f32(a, b)
#  define VGT(a, b) vcgtq_f32(a, b)
#  define VGE(a, b) vcgeq_f32(a, b)
#  define VUNORD(a, b) vmvnq_u32(vandq_u32(vceqq_f32(a, a), vceqq_f32(b, b)))
#  define VSEL(m, a, b) vbslq_f32(m, a, b)                  /* a where m, else b */
#  define VZMASK(m, a) vreinterpretq_f32_u32(vandq_u32(m, vreinterpretq_u32_f32(a)))
#  define VZERO_WHERE(m, a) vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(a), m))
#  define VHMAX(v) vmaxvq_f32(v)                             /* its callers' lanes hold no NaN */
#  define VLOADM(p, m, fill) fx_neon_loadm_f(p, m, fill)
#  define VSTOREM(p, v, m) fx_neon_storem_f(p, v, m)
#  define MTAIL(n) vcltq_u32(fx_neon_iota_u32(), vdupq_n_u32((uint32_t)(n)))
#  define MLANE(i) vceqq_u32(fx_neon_iota_u32(), vdupq_n_u32((uint32_t)(i)))
#  define MBITS(m) ((unsigned)vaddvq_u32(vandq_u32(m, fx_neon_lanebits_u32())))
#  define MNONE(m) (vmaxvq_u32(m) == 0)
#else
#  define VL 2
#  define VT float64x2_t
#  define MT uint64x2_t
#  define VLOADU(p) vld1q_f64(p)
#  define VSTOREU(p, v) vst1q_f64(p, v)
#  define VSET(a) vdupq_n_f64(a)
#  define VZERO() vdupq_n_f64(0.0)
#  define VADD vaddq_f64
#  define VSUB vsubq_f64
#  define VMUL vmulq_f64
#  define VDIV vdivq_f64
#  define VMAX(a, b) fx_neon_max_d(a, b)
#  define VMIN(a, b) fx_neon_min_d(a, b)
#  define VFMA(a, b, c) vfmaq_f64(c, a, b)
#  define VFNMA(a, b, c) vfmsq_f64(c, a, b)
#  define VEQ(a, b) vceqq_f64(a, b)
#  define VNEQ(a, b) fx_neon_not_u64(vceqq_f64(a, b))
#  define VLT(a, b) vcltq_f64(a, b)
#  define VLE(a, b) vcleq_f64(a, b)
#  define VGT(a, b) vcgtq_f64(a, b)
#  define VGE(a, b) vcgeq_f64(a, b)
#  define VUNORD(a, b) fx_neon_not_u64(vandq_u64(vceqq_f64(a, a), vceqq_f64(b, b)))
#  define VSEL(m, a, b) vbslq_f64(m, a, b)
#  define VZMASK(m, a) vreinterpretq_f64_u64(vandq_u64(m, vreinterpretq_u64_f64(a)))
#  define VZERO_WHERE(m, a) vreinterpretq_f64_u64(vbicq_u64(vreinterpretq_u64_f64(a), m))
#  define VHMAX(v) vmaxvq_f64(v)
#  define VLOADM(p, m, fill) fx_neon_loadm_d(p, m, fill)
#  define VSTOREM(p, v, m) fx_neon_storem_d(p, v, m)
#  define MTAIL(n) vcltq_u64(fx_neon_iota_u64(), vdupq_n_u64((uint64_t)(n)))
#  define MLANE(i) vceqq_u64(fx_neon_iota_u64(), vdupq_n_u64((uint64_t)(i)))
#  define MBITS(m) ((unsigned)vaddvq_u64(vandq_u64(m, fx_neon_lanebits_u64())))
#  define MNONE(m) (MBITS(m) == 0)
#endif
#define VADD_UNLESS(acc, m, a) VADD(acc, VZERO_WHERE(m, a))     /* acc + a where not m */

#ifndef FX_VEC_NEON_FNS
#define FX_VEC_NEON_FNS
FX_INLINE uint32x4_t fx_neon_iota_u32(void) { const uint32_t i[4] = {0, 1, 2, 3}; return vld1q_u32(i); }
FX_INLINE uint64x2_t fx_neon_iota_u64(void) { const uint64_t i[2] = {0, 1}; return vld1q_u64(i); }
FX_INLINE uint32x4_t fx_neon_lanebits_u32(void) { const uint32_t b[4] = {1, 2, 4, 8}; return vld1q_u32(b); }
FX_INLINE uint64x2_t fx_neon_lanebits_u64(void) { const uint64_t b[2] = {1, 2}; return vld1q_u64(b); }
FX_INLINE uint64x2_t fx_neon_not_u64(uint64x2_t m)
{
    return vreinterpretq_u64_u32(vmvnq_u32(vreinterpretq_u32_u64(m)));
}

/* x86's maxps / minps: the second operand unless the compare holds */
FX_INLINE float32x4_t fx_neon_max_f(float32x4_t a, float32x4_t b) { return vbslq_f32(vcgtq_f32(a, b), a, b); }
FX_INLINE float32x4_t fx_neon_min_f(float32x4_t a, float32x4_t b) { return vbslq_f32(vcltq_f32(a, b), a, b); }
FX_INLINE float64x2_t fx_neon_max_d(float64x2_t a, float64x2_t b) { return vbslq_f64(vcgtq_f64(a, b), a, b); }
FX_INLINE float64x2_t fx_neon_min_d(float64x2_t a, float64x2_t b) { return vbslq_f64(vcltq_f64(a, b), a, b); }

/* the masked lanes of p (the others `fill`), and their stores: lane by
 * lane, so nothing past the masked lanes is read or written */
FX_INLINE float32x4_t fx_neon_loadm_f(const float *p, uint32x4_t m, float fill)
{
    uint32_t mm[4];
    float b[4];
    vst1q_u32(mm, m);
    for (int i = 0; i < 4; i++) b[i] = mm[i] ? p[i] : fill;
    return vld1q_f32(b);
}

FX_INLINE void fx_neon_storem_f(float *p, float32x4_t v, uint32x4_t m)
{
    uint32_t mm[4];
    float b[4];
    vst1q_u32(mm, m);
    vst1q_f32(b, v);
    for (int i = 0; i < 4; i++)
        if (mm[i]) p[i] = b[i];
}

FX_INLINE float64x2_t fx_neon_loadm_d(const double *p, uint64x2_t m, double fill)
{
    uint64_t mm[2];
    double b[2];
    vst1q_u64(mm, m);
    for (int i = 0; i < 2; i++) b[i] = mm[i] ? p[i] : fill;
    return vld1q_f64(b);
}

FX_INLINE void fx_neon_storem_d(double *p, float64x2_t v, uint64x2_t m)
{
    uint64_t mm[2];
    double b[2];
    vst1q_u64(mm, m);
    vst1q_f64(b, v);
    for (int i = 0; i < 2; i++)
        if (mm[i]) p[i] = b[i];
}

/* p 2^n with n = bits(t) - bits(magic) (t = magic + n exactly), scaled in
 * two steps 2^(n/2) 2^(n - n/2) so that a result below the normal range
 * rounds once */
FX_INLINE float32x4_t fx_neon_scale2n_f(float32x4_t p, float32x4_t t, float32x4_t magic)
{
    const int32x4_t n = vsubq_s32(vreinterpretq_s32_f32(t), vreinterpretq_s32_f32(magic));
    const int32x4_t n1 = vshrq_n_s32(n, 1), n2 = vsubq_s32(n, n1);
    const float32x4_t s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, vdupq_n_s32(127)), 23));
    const float32x4_t s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n2, vdupq_n_s32(127)), 23));
    return vmulq_f32(vmulq_f32(p, s1), s2);
}

FX_INLINE float64x2_t fx_neon_scale2n_d(float64x2_t p, float64x2_t t, float64x2_t magic)
{
    const int64x2_t n = vsubq_s64(vreinterpretq_s64_f64(t), vreinterpretq_s64_f64(magic));
    const int64x2_t n1 = vshrq_n_s64(n, 1), n2 = vsubq_s64(n, n1);
    const float64x2_t s1 = vreinterpretq_f64_s64(vshlq_n_s64(vaddq_s64(n1, vdupq_n_s64(1023)), 52));
    const float64x2_t s2 = vreinterpretq_f64_s64(vshlq_n_s64(vaddq_s64(n2, vdupq_n_s64(1023)), 52));
    return vmulq_f64(vmulq_f64(p, s1), s2);
}

/* 8 float16 (as their bits) <-> 8 float32 (fx_convert.h): exact one way,
 * rounded to nearest even (FPCR's default mode) the other */
FX_INLINE void fx_neon_h2f8(const uint16_t *h, float *f)
{
    const float16x8_t v = vreinterpretq_f16_u16(vld1q_u16(h));
    vst1q_f32(f, vcvt_f32_f16(vget_low_f16(v)));
    vst1q_f32(f + 4, vcvt_high_f32_f16(v));
}

FX_INLINE void fx_neon_f2h8(const float *f, uint16_t *h)
{
    const float16x8_t v = vcvt_high_f16_f32(vcvt_f16_f32(vld1q_f32(f)), vld1q_f32(f + 4));
    vst1q_u16(h, vreinterpretq_u16_f16(v));
}

/* c = the transpose of the 4 x 4 block of floats in r (and 2 x 2 doubles) */
FX_INLINE void fx_neon_tr4x4_f(const float32x4_t *r, float32x4_t *c)
{
    const float32x4_t t0 = vtrn1q_f32(r[0], r[1]), t1 = vtrn2q_f32(r[0], r[1]);
    const float32x4_t t2 = vtrn1q_f32(r[2], r[3]), t3 = vtrn2q_f32(r[2], r[3]);
    c[0] = vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t2)));
    c[1] = vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(t1), vreinterpretq_f64_f32(t3)));
    c[2] = vreinterpretq_f32_f64(vtrn2q_f64(vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t2)));
    c[3] = vreinterpretq_f32_f64(vtrn2q_f64(vreinterpretq_f64_f32(t1), vreinterpretq_f64_f32(t3)));
}

FX_INLINE void fx_neon_tr2x2_d(const float64x2_t *r, float64x2_t *c)
{
    c[0] = vtrn1q_f64(r[0], r[1]);
    c[1] = vtrn2q_f64(r[0], r[1]);
}

/* the first w of 4 floats (2 doubles) at p, the rest 0 */
FX_INLINE float32x4_t fx_neon_loadn_f(const float *p, ptrdiff_t w)
{
    float b[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (ptrdiff_t i = 0; i < w && i < 4; i++) b[i] = p[i];
    return vld1q_f32(b);
}

FX_INLINE float64x2_t fx_neon_loadn_d(const double *p, ptrdiff_t w)
{
    double b[2] = {0.0, 0.0};
    for (ptrdiff_t i = 0; i < w && i < 2; i++) b[i] = p[i];
    return vld1q_f64(b);
}
#endif

/* float16 conversions, 8 at a time (FCVTL / FCVTN) */
#define FX_VEC_HALF8 1
#define VH2F8(h, f) fx_neon_h2f8(h, f)
#define VF2H8(f, h) fx_neon_f2h8(f, h)

/* ---- double lanes: sums in double (DT), the halves of a float vector */
#define DT float64x2_t
#define DZERO() vdupq_n_f64(0.0)
#define DSET(a) vdupq_n_f64(a)
#define DLOADU vld1q_f64
#define DSTOREU vst1q_f64
#define DADD vaddq_f64
#define DMUL vmulq_f64
#define DNZ(h, v) vreinterpretq_f64_u64(vbicq_u64(vreinterpretq_u64_f64(v), vceqq_f64(h, vdupq_n_f64(0.0))))
#define DKEEP_FINITE(m, s, other) vbslq_f64(vceqq_f64(vsubq_f64(m, m), vdupq_n_f64(0.0)), s, other)
#define DHSUM(a) vaddvq_f64(a)
#if FX_IS_FLOAT
#  define DHALF(v, h) ((h) ? vcvt_high_f64_f32(v) : vcvt_f64_f32(vget_low_f32(v)))   /* lanes 2h.. in double */
#else
#  define DHALF(v, h) (v)
#endif

/* ---- the exps' 2^n: from the exponent bits (no vscalef) */
#define FX_VEC_SCALEF 0
#if FX_IS_FLOAT
#  define VPOW2(t) vreinterpretq_f32_s32(vshlq_n_s32(vreinterpretq_s32_f32(t), 23))
#  define VSCALE2N(p, t, magic) fx_neon_scale2n_f(p, t, magic)
#  define VLOAD_DOUBLES(w) vcombine_f32(vcvt_f32_f64(vld1q_f64(w)), vcvt_f32_f64(vld1q_f64((w) + 2)))
#  define VDEINTERLEAVE(lo, hi, a, b) do { *(a) = vuzp1q_f32(lo, hi); *(b) = vuzp2q_f32(lo, hi); } while (0)
#  define VSTORE_I64(p, k) do {                                                                    \
        const int32x4_t kk_ = vcvtq_s32_f32(k);                                                       \
        vst1q_s64(p, vmovl_s32(vget_low_s32(kk_)));                                                   \
        vst1q_s64((p) + 2, vmovl_high_s32(kk_));                                                      \
    } while (0)
#  define VFREXP_SQRT2(u, k, f) do {                                                               \
        const int32x4_t b_ = vreinterpretq_s32_f32(u);                                                \
        const int32x4_t t0_ = vsubq_s32(b_, vdupq_n_s32(0x3f3504f3));                                 \
        k = vcvtq_f32_s32(vshrq_n_s32(t0_, 23));                                                      \
        f = vreinterpretq_f32_s32(vsubq_s32(b_, vandq_s32(t0_, vdupq_n_s32((int32_t)0xff800000u))));  \
    } while (0)
#  define TW 4
#  define TB float32x4_t
#  define TB_LOAD(p) vld1q_f32(p)
#  define TB_LOADM(p, w) fx_neon_loadn_f(p, w)
#  define TB_STORE(p, v) vst1q_f32(p, v)
#  define TB_ZERO() vdupq_n_f32(0.0f)
#  define TB_TRANSPOSE(r, c) fx_neon_tr4x4_f(r, c)
#else
#  define VPOW2(t) vreinterpretq_f64_s64(vshlq_n_s64(vreinterpretq_s64_f64(t), 52))
#  define VSCALE2N(p, t, magic) fx_neon_scale2n_d(p, t, magic)
#  define VLOAD_DOUBLES(w) VLOADU(w)
#  define VDEINTERLEAVE(lo, hi, a, b) do { *(a) = vuzp1q_f64(lo, hi); *(b) = vuzp2q_f64(lo, hi); } while (0)
#  define VSTORE_I64(p, k) vst1q_s64(p, vcvtq_s64_f64(k))
#  define TW 2
#  define TB float64x2_t
#  define TB_LOAD(p) vld1q_f64(p)
#  define TB_LOADM(p, w) fx_neon_loadn_d(p, w)
#  define TB_STORE(p, v) vst1q_f64(p, v)
#  define TB_ZERO() vdupq_n_f64(0.0)
#  define TB_TRANSPOSE(r, c) fx_neon_tr2x2_d(r, c)
#endif

#if FX_IS_FLOAT
/* vlabels of exactly VL rows (fx_simd_small.h: the labels as float lanes,
 * -1 where not kept; *bad += the labels outside [0, C) that are not ign) */
FX_INLINE VT FN(vlabels_vl)(const int64_t *y, ptrdiff_t C, int64_t ign, int *bad)
{
    int64x2_t a = vld1q_s64(y), b = vld1q_s64(y + 2);
    const uint64x2_t vc = vdupq_n_u64((uint64_t)C);
    const int64x2_t vi = vdupq_n_s64(ign), none = vdupq_n_s64(-1);
    /* unsigned y < C: negative labels are huge */
    const uint64x2_t va = vcltq_u64(vreinterpretq_u64_s64(a), vc), vb = vcltq_u64(vreinterpretq_u64_s64(b), vc);
    const uint64x2_t ia = vceqq_s64(a, vi), ib = vceqq_s64(b, vi);
    const unsigned ok = (unsigned)vaddvq_u64(vandq_u64(vorrq_u64(va, ia), fx_neon_lanebits_u64()))
                      | (unsigned)vaddvq_u64(vandq_u64(vorrq_u64(vb, ib), fx_neon_lanebits_u64())) << 2;
    *bad += __builtin_popcount(~ok & 0xFu);
    a = vbslq_s64(vbicq_u64(va, ia), a, none);
    b = vbslq_s64(vbicq_u64(vb, ib), b, none);
    return vcvtq_f32_s32(vcombine_s32(vmovn_s64(a), vmovn_s64(b)));
}
#endif
