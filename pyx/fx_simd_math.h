/* fx_simd_math.h -- the vector math of the vector kernels, written once
 * against the row's vocabulary (VT, VSET, VFMA, ...: fx_vec_<isa>.h) for
 * FX_T.  Included by fx_kernels.h before the other fx_simd_*.h.
 *
 * Three exps for d <= 0 (or NaN), all by range reduction d = n ln2 + r
 * (Cody-Waite: two FMAs, ln2 in two parts) and a polynomial in r, the
 * coefficients named in fx_coeffs.h with their fits and errors
 * (tools/fit_coefficients.py; the ULP table: `fusedxent ulp`):
 *   - vexp_sum, where terms are summed: degree 5 for float (<= 2.1 ULP)
 *     and degree 11 for double;
 *   - vexp_write, for probabilities and gradients that are written out:
 *     degree 6 (float) / 11 (double), exactly 0 below the normal range;
 *   - vexp_acc (sigmoid, BCE): degree 6 / 11, subnormal results kept.
 * 2^n: by vscalef where the vocabulary has it (FX_VEC_SCALEF: exact
 * subnormals and 0), else from the exponent bits of t = d log2e + (1.5
 * 2^mant + bias) -- where the summing and written exps' terms below
 * FLT_MIN / DBL_MIN come out near that bound instead of 0 (row_stats'
 * flush guard redoes rows whose sum is that small), and vexp_acc scales in
 * two steps so that subnormal results round once.
 * Sums of float terms run in float within runs of at most 8 vectors per
 * accumulator (8 terms a lane), the runs in double, as in the portable
 * code; the order differs, so results differ from other paths in the last
 * bits (tested within tolerance, never bitwise).
 */

#if !FX_IS_FLOAT             /* double sums need no widening: one accumulator of the vector type */
#  define DFOLD(acc, v) do { acc##0 = DADD(acc##0, v); } while (0)
#else                        /* float: the two halves into two double accumulators */
#  define DFOLD(acc, v) do { acc##0 = DADD(acc##0, DHALF(v, 0)); acc##1 = DADD(acc##1, DHALF(v, 1)); } while (0)
#endif

#if FX_IS_FLOAT
#  define XP_LOG2E 1.44269504088896341f
#  define XP_LN2HI FX_LN2F_HI
#  define XP_LN2LO FX_LN2F_LO
#  define XP_MIN -87.3365479f          /* log(FLT_MIN) rounded up: 2^-126 */
#  define XP_FLUSH -87.0f              /* the written exp is 0 below, as fx_expneg_fast_f */
#  define XP_FLOOR -200.0f             /* below this (vscalef) the scaled result is 0 */
#  define XP_SHIFTER 12582912.0f       /* 1.5 2^23: round(t) in the low bits of t + XP_SHIFTER */
#  define XP_BIAS 127.0f
#  define XP_ACC_FLOOR -104.0f         /* exp(-104) < FLT_TRUE_MIN / 2 */
#else
#  define XP_LOG2E 1.4426950408889634074
#  define XP_LN2HI FX_LN2D_HI
#  define XP_LN2LO FX_LN2D_LO
#  define XP_MIN -708.3964185322641    /* log(DBL_MIN): 2^-1022 */
#  define XP_FLUSH -708.0
#  define XP_FLOOR -1500.0
#  define XP_SHIFTER 6755399441055744.0    /* 1.5 2^52 */
#  define XP_BIAS 1023.0
#  define XP_ACC_FLOOR -746.0
#endif

/* d = n ln2 + r: n by rounding (XP_REDUCE, for vscalef), or in the low
 * bits of t with the exponent bias added (XP_REDUCE_BITS, for VPOW2) */
#define XP_REDUCE(d, n, r)                                                 \
    VT n = VROUND(VMUL(d, VSET(XP_LOG2E)));                               \
    VT r = VFNMA(n, VSET(XP_LN2LO), VFNMA(n, VSET(XP_LN2HI), d));
#define XP_REDUCE_BITS(d, t, r, magic)                                     \
    VT t = VFMA(d, VSET(XP_LOG2E), VSET(magic));                          \
    VT n_ = VSUB(t, VSET(magic));                                         \
    VT r = VFNMA(n_, VSET(XP_LN2LO), VFNMA(n_, VSET(XP_LN2HI), d));

/* q(r) of p(r) = 1 + r + r^2 q(r), the written exp's polynomial
 * (vpoly_write; on double the summed one's too), whose c1 is exactly 1:
 * alone for expm1 (vtanh_c), where p - 1 would cancel */
FX_INLINE VT FN(vpoly_q2)(VT r)
{
#if FX_IS_FLOAT
    /* degree 6, fx_expneg_fast_f's polynomial (FX_EXP6F: fx_coeffs.h) */
    VT p = VSET(FX_EXP6F_C6);
    p = VFMA(p, r, VSET(FX_EXP6F_C5));
    p = VFMA(p, r, VSET(FX_EXP6F_C4));
    p = VFMA(p, r, VSET(FX_EXP6F_C3));
    return VFMA(p, r, VSET(FX_EXP6F_C2));
#else
    /* degree 11 (FX_EXP11D: fx_coeffs.h) */
    VT p = VSET(FX_EXP11D_C11);
    p = VFMA(p, r, VSET(FX_EXP11D_C10));
    p = VFMA(p, r, VSET(FX_EXP11D_C9));
    p = VFMA(p, r, VSET(FX_EXP11D_C8));
    p = VFMA(p, r, VSET(FX_EXP11D_C7));
    p = VFMA(p, r, VSET(FX_EXP11D_C6));
    p = VFMA(p, r, VSET(FX_EXP11D_C5));
    p = VFMA(p, r, VSET(FX_EXP11D_C4));
    p = VFMA(p, r, VSET(FX_EXP11D_C3));
    return VFMA(p, r, VSET(FX_EXP11D_C2));
#endif
}

/* p(r) ~ e^r on |r| <= ln2/2 */
FX_INLINE VT FN(vpoly_sum)(VT r)
{
#if FX_IS_FLOAT
    /* degree 5, p(0) = 1 exactly (FX_EXP5F: fx_coeffs.h) */
    VT p = VSET(FX_EXP5F_C5);
    p = VFMA(p, r, VSET(FX_EXP5F_C4));
    p = VFMA(p, r, VSET(FX_EXP5F_C3));
    p = VFMA(p, r, VSET(FX_EXP5F_C2));
    p = VFMA(p, r, VSET(FX_EXP5F_C1));
    return VFMA(p, r, VSET((FX_T)1));
#else
    return VFMA(VFMA(FN(vpoly_q2)(r), r, VSET(1.0)), r, VSET((FX_T)1));
#endif
}

FX_INLINE VT FN(vpoly_write)(VT r)
{
#if FX_IS_FLOAT
    return VFMA(VFMA(FN(vpoly_q2)(r), r, VSET(FX_EXP6F_C1)), r, VSET(1.0f));
#else
    return FN(vpoly_sum)(r);
#endif
}

FX_INLINE VT FN(vexp_sum)(VT d)
{
#if FX_VEC_SCALEF
    d = VMAX(VSET(XP_FLOOR), d);                 /* -inf -> a 0 result; NaN passes */
    XP_REDUCE(d, n, r)
    return VSCALE(FN(vpoly_sum)(r), n);
#else
    d = VMAX(VSET(XP_MIN), d);                   /* -inf -> ~FLT_MIN (see above); NaN passes */
    XP_REDUCE_BITS(d, t, r, XP_SHIFTER + XP_BIAS)
    return VMUL(FN(vpoly_sum)(r), VPOW2(t));
#endif
}

FX_INLINE VT FN(vexp_write)(VT d)
{
    MT low = VLT(d, VSET(XP_FLUSH));      /* flushed below the normal range */
#if FX_VEC_SCALEF
    d = VMAX(VSET(XP_FLOOR), d);
    XP_REDUCE(d, n, r)
    return VZERO_WHERE(low, VSCALE(FN(vpoly_write)(r), n));
#else
    d = VMAX(VSET(XP_MIN), d);
    XP_REDUCE_BITS(d, t, r, XP_SHIFTER + XP_BIAS)
    return VZERO_WHERE(low, VMUL(FN(vpoly_write)(r), VPOW2(t)));
#endif
}

/* exp(d) for d <= 0 (or NaN) with subnormal results kept (sigmoid,
 * softplus): without vscalef, vectors with a result below the normal
 * range scale in two steps (VSCALE2N) so that it rounds once. */
FX_INLINE VT FN(vexp_acc)(VT d)
{
#if FX_VEC_SCALEF
    d = VMAX(VSET(XP_FLOOR), d);
    XP_REDUCE(d, n, r)
    return VSCALE(FN(vpoly_write)(r), n);
#else
    if (MNONE(VLT(d, VSET(XP_MIN)))) {       /* no result below FLT_MIN / DBL_MIN: one scale */
        XP_REDUCE_BITS(d, t, r, XP_SHIFTER + XP_BIAS)
        return VMUL(FN(vpoly_write)(r), VPOW2(t));
    }
    d = VMAX(VSET(XP_ACC_FLOOR), d);
    XP_REDUCE_BITS(d, t, r, XP_SHIFTER)
    return VSCALE2N(FN(vpoly_write)(r), t, VSET(XP_SHIFTER));
#endif
}

/* log1p(e) for e in [0, 1] (or NaN).  float: e + e^2 s(e), s the degree-8
 * interpolant of (log1p(e) - e) / e^2 at the 9 Chebyshev nodes of [0, 1]
 * (in double, rounded to float; 1.5 ULP, exactly e for tiny e): ten
 * FMAs and no division, where the atanh series took 16 operations and a
 * division (2.7 ULP).  double: fx_log1p01's one division and one atanh
 * series, both branches selected by arithmetic. */
FX_INLINE VT FN(vlog1p01)(VT e)
{
#if FX_IS_FLOAT
    VT q = VSET(FX_LOG1P01F_C8);
    q = VFMA(q, e, VSET(FX_LOG1P01F_C7));
    q = VFMA(q, e, VSET(FX_LOG1P01F_C6));
    q = VFMA(q, e, VSET(FX_LOG1P01F_C5));
    q = VFMA(q, e, VSET(FX_LOG1P01F_C4));
    q = VFMA(q, e, VSET(FX_LOG1P01F_C3));
    q = VFMA(q, e, VSET(FX_LOG1P01F_C2));
    q = VFMA(q, e, VSET(FX_LOG1P01F_C1));
    q = VFMA(q, e, VSET(FX_LOG1P01F_C0));
    return VFMA(VMUL(e, q), e, e);
#else
    const VT c = VSEL(VLT(e, VSET((FX_T)0.41421356237309505)), VZERO(), VSET((FX_T)1));
    const VT s = VDIV(VSUB(e, c), VADD(VADD(VSET((FX_T)2), e), c));
    const VT z = VMUL(s, s);
    VT p = VSET(1.0 / 21.0);
    p = VFMA(p, z, VSET(1.0 / 19.0));
    p = VFMA(p, z, VSET(1.0 / 17.0));
    p = VFMA(p, z, VSET(1.0 / 15.0));
    p = VFMA(p, z, VSET(1.0 / 13.0));
    p = VFMA(p, z, VSET(1.0 / 11.0));
    p = VFMA(p, z, VSET(1.0 / 9.0));
    p = VFMA(p, z, VSET(1.0 / 7.0));
    p = VFMA(p, z, VSET(1.0 / 5.0));
    p = VFMA(p, z, VSET(1.0 / 3.0));
    p = VFMA(p, z, VSET(1.0));
    const VT tiny = VSET(1.1102230246251565e-16);
    const VT r = VFMA(VMUL(VADD(s, s), p), VSET((FX_T)1), VMUL(c, VSET((FX_T)0.69314718055994531)));
    return VSEL(VLT(e, tiny), e, r);          /* e < 2^-53: log1p(e) rounds to e */
#endif
}

/* softplus(-a) = log1p(exp(-a)) for a >= 0 (or NaN): the loss term of
 * BCE and log_sigmoid.  Where the vocabulary has a 32-entry lookup
 * (FX_VEC_TABLE32) and FX_T is float: a table of degree-6 polynomials in
 * u = a - k/2 on the 32 intervals |u| <= 1/4 (k = round(2a) < 32, one
 * lookup a coefficient), and exp(-a) (1 - exp(-a)/2) for a >= 15.75,
 * where that is within 2^-25 of the function (the rare vectors with such
 * a lane take the exp as well).  1.8 ULP (`fusedxent ulp`), and 16
 * operations where the exp and the atanh-series log1p took 30 and a
 * division.  The coefficients: FX_SOFTPLUS_TABLE_INIT (fx_coeffs.h; the
 * fit and its error in tools/fit_coefficients.py).  Elsewhere (no lookup
 * of 32 lanes; double needs degree 11 or more): log1p01 of the accurate
 * exp. */
#if defined(FX_VEC_TABLE32) && FX_IS_FLOAT
#  define FX_SP_TABLE 1
#  ifndef FX_SP_COEF_DEFINED
#    define FX_SP_COEF_DEFINED
static const float fx_sp_coef[7][32] __attribute__((aligned(64))) = FX_SOFTPLUS_TABLE_INIT;
#  endif
FX_INLINE VT FN(vsoftplus_neg)(VT a)
{
    const VT magic = VSET(12582912.0f);                      /* 1.5 2^23: round(2a) in the low bits */
    const VT t = VFMA(a, VSET(2.0f), magic);
    const VT u = VFNMA(VSUB(t, magic), VSET(0.5f), a);        /* exact: a and k/2 within a factor 2 */
    VT p = VTABLE32(fx_sp_coef[6], t);                        /* the lookup reads t's low 5 bits */
    p = VFMA(p, u, VTABLE32(fx_sp_coef[5], t));
    p = VFMA(p, u, VTABLE32(fx_sp_coef[4], t));
    p = VFMA(p, u, VTABLE32(fx_sp_coef[3], t));
    p = VFMA(p, u, VTABLE32(fx_sp_coef[2], t));
    p = VFMA(p, u, VTABLE32(fx_sp_coef[1], t));
    p = VFMA(p, u, VTABLE32(fx_sp_coef[0], t));
    const MT big = VGE(a, VSET(15.75f));          /* inf too; NaN stays in p */
    if (!MNONE(big)) {
        const VT e = FN(vexp_acc)(VSUB(VZERO(), a));
        p = VSEL(big, VFMA(e, VMUL(e, VSET(-0.5f)), e), p);
    }
    return p;
}
#else
#  define FX_SP_TABLE 0
FX_INLINE VT FN(vsoftplus_neg)(VT a)
{
    return FN(vlog1p01)(FN(vexp_acc)(VSUB(VZERO(), a)));
}
#endif

/* the sign bit cleared: |v| */
FX_INLINE VT FN(vabs)(VT v) { return VMAX(v, VSUB(VZERO(), v)); }

/* c tanh(u) and, where s2 is not NULL, sech^2(u), from v = -2u (the
 * callers fold -2 into their scale; exact): the logit soft-cap
 * z = c tanh(x / c) and its derivative.  With m = expm1(d):
 *   tanh(u) = -m / (2 + m)         no cancellation at any u: m is exact to
 *                                  its rounding where e^d is near 1
 * m = 2^n (e^r - 1) + (2^n - 1) on the written exp's reduction
 * (d = n ln2 + r), e^r - 1 = r + r^2 q(r) (vpoly_q2) rounded once: r q(r)
 * would carry q's rounding, twice as coarse above 1 as below.
 * d = -2|u| and the sign put back, or on float without sech^2 d = v
 * itself, clamped to FX_TANH_VMAX (where tanh has rounded to -1) so that
 * m stays finite: the sign comes out of m, three operations fewer; 2.83
 * ULP at worst over every float input, where |u| gave 2.6 in 10^6 samples
 * (2 + m above 2 rounds coarser); double keeps |u| (2.4 ULP sampled
 * against 2.6-2.8).  sech^2 is even and needs e^-2|u| itself:
 *   sech^2(u) = 4e / (1 + e (e + 2))   e = e^-2|u| formed as 2^n p(r), not
 *                                  as 1 + m (which loses e as it falls).
 * Without sech^2 the reduction takes ln2 as one float: its error n 1.9e-9
 * in r moves m by 2^n times that, below m's rounding at every n, where e
 * itself (sech^2's) would carry it whole (3 ULP at n = -100).  One exp's
 * work and a division, where fx_tanh_f (fx_vecmath.h) takes the exp, a
 * series for small u and a select.  NaN passes; +-inf give +-c and
 * sech^2 0. */
#if FX_IS_FLOAT
#  define FX_TANH_VMAX 20.0f            /* tanh(-10) rounds to -1 in float */
#  define FX_TANH_SIGNED 1
#else
#  define FX_TANH_VMAX 40.0             /* and tanh(-20) in double */
#  define FX_TANH_SIGNED 0
#endif
FX_INLINE VT FN(vtanh_c)(VT v, VT c, VT *s2)
{
    const VT zero = VZERO(), one = VSET((FX_T)1);
    const int fold = s2 == NULL && FX_TANH_SIGNED;              /* the sign through m itself */
    const VT d0 = fold ? VMIN(VSET(FX_TANH_VMAX), v)             /* NaN passes (the second operand) */
                       : VMIN(v, VSUB(zero, v));                 /* -2|u| */
#if FX_VEC_SCALEF
    const VT d = VMAX(VSET(XP_FLOOR), d0);
    const VT n = VROUND(VMUL(d, VSET(XP_LOG2E)));
    const VT p2 = VSCALE(one, n);                /* 2^n, 0 far below the subnormals */
#else
    const VT d = VMAX(VSET(XP_MIN), d0);         /* 2^n stays normal; m = -1 there anyway */
    const VT t = VFMA(d, VSET(XP_LOG2E), VSET(XP_SHIFTER + XP_BIAS));
    const VT n = VSUB(t, VSET(XP_SHIFTER + XP_BIAS));
    const VT p2 = VPOW2(t);
#endif
    const VT r = s2 == NULL ? VFNMA(n, VSET((FX_T)0.69314718055994531), d)
                            : VFNMA(n, VSET(XP_LN2LO), VFNMA(n, VSET(XP_LN2HI), d));
    const VT m0 = VFMA(VMUL(r, FN(vpoly_q2)(r)), r, r);        /* e^r - 1 = r + r^2 q(r) */
    const VT m = VFMA(p2, m0, VSUB(p2, one));
    const VT den = VADD(VSET((FX_T)2), m);
    const VT w = VDIV(VMUL(VSUB(zero, c), m), den);
    if (s2 != NULL) {
        const VT p = VADD(m0, one);
#if FX_VEC_SCALEF
        const VT e = VSCALE(p, n), e4 = VSCALE(VMUL(p, VSET((FX_T)4)), n);   /* 4e rounded once */
#else
        VT e = VMUL(p, p2);
        if (!MNONE(VLT(d0, VSET(XP_MIN))))           /* e below the normal range: kept */
            e = FN(vexp_acc)(d0);
        const VT e4 = VMUL(VSET((FX_T)4), e);
#endif
        *s2 = VDIV(e4, VFMA(e, VADD(e, VSET((FX_T)2)), one));     /* (1 + e)^2 = 1 + e (e + 2) */
    }
    return fold ? w : VSEL(VGT(v, zero), VSUB(zero, w), w);
}

/* the two alone, for their errors in ULP (fx_vecmath_fns.def) */
FX_INLINE VT FN(vtanh)(VT u) { return FN(vtanh_c)(VMUL(u, VSET((FX_T)-2)), VSET((FX_T)1), NULL); }
FX_INLINE VT FN(vsech2)(VT u)
{
    VT s2;
    (void)FN(vtanh_c)(VMUL(u, VSET((FX_T)-2)), VSET((FX_T)1), &s2);
    return s2;
}

/* one double accumulator: both halves of a float vector, added in double */
FX_INLINE void FN(dfold1)(DT *d, VT v)
{
#if FX_IS_FLOAT
    *d = DADD(*d, DADD(DHALF(v, 0), DHALF(v, 1)));
#else
    *d = DADD(*d, v);
#endif
}
