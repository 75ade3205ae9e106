/* fx_vecmath.h -- scalar exp/log/log1p written so that GCC vectorizes the
 * loops that call them.
 *
 * Design: every function is branch-free (selects only), uses bit casts via
 * memcpy instead of libm, and never relies on -ffast-math: NaN goes in, NaN
 * comes out; -inf and +inf take the IEEE limits.  The kernels only ever need
 * exp of a non-positive argument (x - rowmax, -|x|) and log1p on [0, 1]
 * (softplus), which keeps the range reduction short:
 *
 *   exp:   x = k ln2 + r, |r| <= ln2/2 (Cody-Waite split of ln2), Taylor
 *          polynomial of degree 7 (float, truncation < 1e-8 relative) or 13
 *          (double, < 5e-18), then 2^k built from bits as 2^(k/2) * 2^(k-k/2)
 *          so that results in the subnormal range round once, correctly.
 *   log:   x = 2^k f, f in [sqrt(1/2), sqrt(2)), log f = 2 atanh(s) with
 *          s = (f-1)/(f+1), odd series in s up to s^9 (float) / s^21 (double).
 *   log1p: on [0, 1] the same atanh series with s = x/(2+x) (no rounding of
 *          1+x, so tiny x keep full relative accuracy) or, above sqrt(2)-1,
 *          s = (x-1)/(x+3) and + ln2.
 *
 * Maximum errors in ULP over each function's whole domain: `python -m
 * fusedxent ulp`, tests/test_vecmath.py and docs/guide/accuracy.md.
 */
#ifndef FX_VECMATH_H
#define FX_VECMATH_H

#include <stdint.h>
#include <string.h>
#include <stddef.h>
#include "fx_coeffs.h"

#if defined(_MSC_VER) && !defined(__clang__)
#define FX_INLINE static __forceinline
#else
#define FX_INLINE static inline __attribute__((always_inline))
#endif

/* The functions measured on their own, by name (fx_vecmath_fns.def). */
enum fx_vm_fn {
#define FX_VMFN(id, name, scalar) FX_VM_##id,
#define FX_VMFN_K(id, name, scalar, vector) FX_VM_##id,
#include "fx_vecmath_fns.def"
    FX_VM_COUNT
};
static const char *const fx_vm_names[FX_VM_COUNT] = {
#define FX_VMFN(id, name, scalar) name,
#define FX_VMFN_K(id, name, scalar, vector) name,
#include "fx_vecmath_fns.def"
};

FX_INLINE uint32_t fx_f2u(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }
FX_INLINE float fx_u2f(uint32_t u) { float x; memcpy(&x, &u, 4); return x; }
FX_INLINE uint64_t fx_d2u(double x) { uint64_t u; memcpy(&u, &x, 8); return u; }
FX_INLINE double fx_u2d(uint64_t u) { double x; memcpy(&x, &u, 8); return x; }

#define FX_LN2F_HI 0.693145751953125f        /* 16 significant bits: k*hi exact */
#define FX_LN2F_LO 1.428606765330187045e-06f
#define FX_LN2D_HI 6.93147180369123816490e-01 /* fdlibm's split */
#define FX_LN2D_LO 1.90821492927058770002e-10

/* exp(x) for x <= 0 or NaN. */
FX_INLINE float fx_expneg_f(float x)
{
    const float magic = 12582912.0f; /* 1.5*2^23: x + magic rounds x to an integer */
    x = x < -104.0f ? -104.0f : x;    /* exp(-104) < FLT_TRUE_MIN/2; NaN passes */
    float t = x * 1.44269504088896341f + magic;
    float k = t - magic;
    int32_t n = (int32_t)(fx_f2u(t) - fx_f2u(magic));
    float r = x - k * FX_LN2F_HI;
    r = r - k * FX_LN2F_LO;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t n1 = n >> 1;
    int32_t n2 = n - n1;
    float s1 = fx_u2f((uint32_t)(n1 + 127) << 23);
    float s2 = fx_u2f((uint32_t)(n2 + 127) << 23);
    return (p * s1) * s2;
}

/* e^r for |r| <= ln2/2: Taylor to degree 13 (truncation < 5e-18 relative). */
FX_INLINE double fx_exp_taylor13_d(double r)
{
    double p = 1.0 / 6227020800.0;       /* 1/13! */
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    return p * r + 1.0;
}

FX_INLINE double fx_expneg_d(double x)
{
    const double magic = 6755399441055744.0; /* 1.5*2^52 */
    x = x < -746.0 ? -746.0 : x;
    double t = x * 1.4426950408889634074 + magic;
    double k = t - magic;
    int64_t n = (int64_t)(fx_d2u(t) - fx_d2u(magic));
    double r = x - k * FX_LN2D_HI;
    r = r - k * FX_LN2D_LO;
    double p = fx_exp_taylor13_d(r);
    int64_t n1 = n >> 1;
    int64_t n2 = n - n1;
    double s1 = fx_u2d((uint64_t)(n1 + 1023) << 52);
    double s2 = fx_u2d((uint64_t)(n2 + 1023) << 52);
    return (p * s1) * s2;
}

/* 2*atanh(s)/s - ... : the odd series of log((1+s)/(1-s)) = 2 s P(s^2). */
FX_INLINE float fx_atanh2_f(float s)
{
    float z = s * s;
    float p = 1.0f / 9.0f;
    p = p * z + 1.0f / 7.0f;
    p = p * z + 1.0f / 5.0f;
    p = p * z + 1.0f / 3.0f;
    p = p * z + 1.0f;
    return 2.0f * s * p;
}

FX_INLINE double fx_atanh2_d(double s)
{
    double z = s * s;
    double p = 1.0 / 21.0;
    p = p * z + 1.0 / 19.0;
    p = p * z + 1.0 / 17.0;
    p = p * z + 1.0 / 15.0;
    p = p * z + 1.0 / 13.0;
    p = p * z + 1.0 / 11.0;
    p = p * z + 1.0 / 9.0;
    p = p * z + 1.0 / 7.0;
    p = p * z + 1.0 / 5.0;
    p = p * z + 1.0 / 3.0;
    p = p * z + 1.0;
    return 2.0 * s * p;
}

/* tanh(u) for any u, and sech^2(u) = 1 - tanh^2(u): the logit soft-cap
 * z = cap tanh(x / cap) and its derivative.  With a = |u| and
 * e = exp(-2a) <= 1:
 *   tanh(a) = (1 - e) / (1 + e)          for a >= 1/4: 1 - e >= 0.39 does
 *                                        not cancel (1 - e is exact, e in [1/2, 1])
 *   tanh(a) = a + a^3 P(a^2)             below: the Taylor series (Bernoulli
 *                                        numbers: a_n = 2^2n (2^2n - 1) B_2n / (2n)!)
 *                                        through a^11 (float) / a^25 (double),
 *                                        truncation < 1e-8 / 6e-17 relative at 1/4
 *   sech^2(a) = 4e / (1 + e)^2           no cancellation anywhere, where 1 - tanh^2
 *                                        would lose every digit as tanh -> 1
 * Branch-free (both tanh arms are computed; a select picks one); NaN passes,
 * +-inf give +-1 and sech^2 0. */
FX_INLINE float fx_tanh_f(float u)
{
    float a = fx_u2f(fx_f2u(u) & 0x7fffffffu);
    float e = fx_expneg_f(-2.0f * a);
    float big = (1.0f - e) / (1.0f + e);
    float a2 = a * a;
    float p = -1382.0f / 155925.0f;
    p = p * a2 + 62.0f / 2835.0f;
    p = p * a2 - 17.0f / 315.0f;
    p = p * a2 + 2.0f / 15.0f;
    p = p * a2 - 1.0f / 3.0f;
    float small = a + a * a2 * p;
    float t = a < 0.25f ? small : big;
    return fx_u2f(fx_f2u(t) | (fx_f2u(u) & 0x80000000u));
}

FX_INLINE float fx_sech2_f(float u)
{
    float e = fx_expneg_f(-2.0f * fx_u2f(fx_f2u(u) & 0x7fffffffu));
    float d = 1.0f + e;
    return 4.0f * e / (d * d);
}

FX_INLINE double fx_tanh_d(double u)
{
    double a = fx_u2d(fx_d2u(u) & 0x7fffffffffffffffull);
    double e = fx_expneg_d(-2.0 * a);
    double big = (1.0 - e) / (1.0 + e);
    double a2 = a * a;
    double p = 58870668456604.0 / 3698160658676859375.0;
    p = p * a2 - 113927491862.0 / 2900518163668125.0;
    p = p * a2 + 18888466084.0 / 194896477400625.0;
    p = p * a2 - 443861162.0 / 1856156927625.0;
    p = p * a2 + 6404582.0 / 10854718875.0;
    p = p * a2 - 929569.0 / 638512875.0;
    p = p * a2 + 21844.0 / 6081075.0;
    p = p * a2 - 1382.0 / 155925.0;
    p = p * a2 + 62.0 / 2835.0;
    p = p * a2 - 17.0 / 315.0;
    p = p * a2 + 2.0 / 15.0;
    p = p * a2 - 1.0 / 3.0;
    double small = a + a * a2 * p;
    double t = a < 0.25 ? small : big;
    return fx_u2d(fx_d2u(t) | (fx_d2u(u) & 0x8000000000000000ull));
}

FX_INLINE double fx_sech2_d(double u)
{
    double e = fx_expneg_d(-2.0 * fx_u2d(fx_d2u(u) & 0x7fffffffffffffffull));
    double d = 1.0 + e;
    return 4.0 * e / (d * d);
}

/* log(x) for any float; 0 -> -inf, negative or NaN -> NaN, +inf -> +inf. */
FX_INLINE float fx_log_f(float x)
{
    int sub = x < 1.17549435e-38f;                /* subnormal (or <= 0) */
    float xs = sub ? x * 8388608.0f : x;          /* * 2^23 */
    uint32_t u = fx_f2u(xs);
    uint32_t tmp = u - 0x3f3504f3u;               /* offset so f lands in [sqrt(.5), sqrt(2)) */
    int32_t k = ((int32_t)tmp >> 23) - (sub ? 23 : 0);
    float f = fx_u2f(u - (tmp & 0xff800000u));
    float s = (f - 1.0f) / (f + 1.0f);
    float kf = (float)k;
    float r = kf * FX_LN2F_HI + (fx_atanh2_f(s) + kf * FX_LN2F_LO);
    r = x == 0.0f ? -__builtin_inff() : r;
    r = x == __builtin_inff() ? x : r;
    r = (x < 0.0f || x != x) ? __builtin_nanf("") : r;
    return r;
}

FX_INLINE double fx_log_d(double x)
{
    int sub = x < 2.2250738585072014e-308;
    double xs = sub ? x * 4503599627370496.0 : x; /* * 2^52 */
    uint64_t u = fx_d2u(xs);
    uint64_t tmp = u - 0x3fe6a09e667f3bcdull;
    /* the exponent through 32-bit integers: AVX2 converts int32 to double,
     * not int64, and loops calling this would not vectorize */
    int32_t k = ((int32_t)(uint32_t)(tmp >> 32) >> 20) - (sub ? 52 : 0);
    double f = fx_u2d(u - (tmp & 0xfff0000000000000ull));
    double s = (f - 1.0) / (f + 1.0);
    double kd = (double)k;
    double r = kd * FX_LN2D_HI + (fx_atanh2_d(s) + kd * FX_LN2D_LO);
    r = x == 0.0 ? -__builtin_inf() : r;
    r = x == __builtin_inf() ? x : r;
    r = (x < 0.0 || x != x) ? __builtin_nan("") : r;
    return r;
}

/* log1p(x) for x in [0, 1] (or NaN). */
FX_INLINE float fx_log1p01_f(float x)
{
    /* one division and one series for both branches, selected by c = 0 or
     * 1 through arithmetic: with selects on the operands GCC splits the
     * division into both arms and evaluates the series twice (2x the cost
     * of BCE).  (2 + x) + 1 == x + 3 exactly: both round x to the 2^-22
     * grid of [2, 4). */
    float c = x < 0.41421356f ? 0.0f : 1.0f;
    float s = (x - c) / ((2.0f + x) + c);
    float r = fx_atanh2_f(s) + c * 0.69314718055994531f;
    return x < 5.96046448e-08f ? x : r;   /* x < 2^-24: log1p(x) rounds to x (s = x/2 would lose subnormal bits) */
}

FX_INLINE double fx_log1p01_d(double x)
{
    double c = x < 0.41421356237309505 ? 0.0 : 1.0;   /* as in fx_log1p01_f */
    double s = (x - c) / ((2.0 + x) + c);
    double r = fx_atanh2_d(s) + c * 0.69314718055994531;
    return x < 1.1102230246251565e-16 ? x : r;   /* x < 2^-53 */
}

/* log1p(x) for any x >= -1: the atanh series where 1+x would round
 * (x in [sqrt(1/2)-1, sqrt(2)-1]), log(1+x) elsewhere, where 1+x is
 * either exact (Sterbenz, x <= -1/2) or far enough from 1 not to matter. */
FX_INLINE float fx_log1p_f(float x)
{
    int small = (x > -0.29289322f) & (x < 0.41421356f);
    float a = fx_atanh2_f(x / (2.0f + x));
    float b = fx_log_f(1.0f + x);
    float r = small ? a : b;
    return ((x > -5.96046448e-08f) & (x < 5.96046448e-08f)) ? x : r;   /* |x| < 2^-24: x itself */
}

FX_INLINE double fx_log1p_d(double x)
{
    int small = (x > -0.29289321881345248) & (x < 0.41421356237309505);
    double a = fx_atanh2_d(x / (2.0 + x));
    double b = fx_log_d(1.0 + x);
    double r = small ? a : b;
    return ((x > -1.1102230246251565e-16) & (x < 1.1102230246251565e-16)) ? x : r;   /* |x| < 2^-53 */
}

/* log1p(s) for s >= 0 (or NaN, +inf), in double: the row statistic
 * l = log1p(s) of every row.  u = 1 + s rounds, but c = s - (u - 1) is that
 * rounding error exactly (u - 1 is exact for u >= 1, and s, u - 1 are
 * within a factor 2 of each other when it matters, Sterbenz), so
 * log1p(s) = log(u) + c/u to first order: one log, one division -- half
 * the work of fx_log1p_d, which evaluates two branches.  `short_series`
 * (rows of float32 logits) stops the atanh series at s^9 (truncation
 * < 3e-9 relative: a hundredth of a float32 ULP). */
FX_INLINE double fx_log1p_pos_d(double s, const int short_series)
{
    double u = 1.0 + s;
    double c = s - (u - 1.0);
    uint64_t b = fx_d2u(u);
    uint64_t tmp = b - 0x3fe6a09e667f3bcdull;     /* f in [sqrt(1/2), sqrt(2)) */
    /* the exponent through 32-bit integers: AVX2 converts int32 to double,
     * not int64, and the loop would not vectorize */
    double k = (double)((int32_t)(uint32_t)(tmp >> 32) >> 20);
    double f = fx_u2d(b - (tmp & 0xfff0000000000000ull));
    double t = (f - 1.0) / (f + 1.0);
    double z = t * t, p;
    if (short_series) {
        p = 1.0 / 9.0;
        p = p * z + 1.0 / 7.0;
        p = p * z + 1.0 / 5.0;
        p = p * z + 1.0 / 3.0;
        p = p * z + 1.0;
        p = 2.0 * t * p;
    } else {
        p = fx_atanh2_d(t);
    }
    double r = k * FX_LN2D_HI + (p + (k * FX_LN2D_LO + c / u));
    r = u == __builtin_inf() ? u : r;
    return s != s ? s : r;
}

/* exp(x) for x <= 0 or NaN where results below the normal range may be
 * flushed to 0: one scale factor instead of two and a degree-6 polynomial
 * (FX_EXP6F of fx_coeffs.h: its fit and error in tools/fit_coefficients.py)
 * instead of degree 7.  Used for the sums of the row statistics and the
 * probabilities written by softmax and the gradients, where a term below
 * FLT_MIN (DBL_MIN) is invisible next to the term 1 of the maximum. */
FX_INLINE float fx_expneg_fast_f(float x)
{
    const float magic = 12582912.0f;
    float xc = x < -87.0f ? -87.0f : x;
    float t = xc * 1.44269504088896341f + magic;
    float k = t - magic;
    int32_t n = (int32_t)(fx_f2u(t) - fx_f2u(magic));
    float r = xc - k * FX_LN2F_HI;
    r = r - k * FX_LN2F_LO;
    float p = FX_EXP6F_C6;
    p = p * r + FX_EXP6F_C5;
    p = p * r + FX_EXP6F_C4;
    p = p * r + FX_EXP6F_C3;
    p = p * r + FX_EXP6F_C2;
    p = p * r + FX_EXP6F_C1;
    p = p * r + 1.0f;
    float v = p * fx_u2f((uint32_t)(n + 127) << 23);
    return x < -87.0f ? 0.0f : v;
}

FX_INLINE double fx_expneg_fast_d(double x)
{
    const double magic = 6755399441055744.0;
    double xc = x < -708.0 ? -708.0 : x;
    double t = xc * 1.4426950408889634074 + magic;
    double k = t - magic;
    int64_t n = (int64_t)(fx_d2u(t) - fx_d2u(magic));
    double r = xc - k * FX_LN2D_HI;
    r = r - k * FX_LN2D_LO;
    double p = fx_exp_taylor13_d(r);
    double v = p * fx_u2d((uint64_t)(n + 1023) << 52);
    return x < -708.0 ? 0.0 : v;
}

/* IEEE half <-> float, round to nearest even, subnormals and NaN kept:
 * the portable path of the float16 conversions (the AVX2 and AVX-512 paths
 * use the F16C instructions, which give the same bits).  Branch-free so
 * that the loops calling them vectorize. */
FX_INLINE float fx_h2f(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t em = h & 0x7fffu;
    /* normal: rebias the exponent (112 = 127 - 15); inf/NaN: all-ones exponent */
    uint32_t normal = (em << 13) + (112u << 23);
    uint32_t special = 0x7f800000u | ((em & 0x3ffu) << 13);
    float sub = (float)em * 5.9604644775390625e-08f;       /* em * 2^-24, exact */
    uint32_t u = em >= 0x7c00u ? special : normal;
    u = em < 0x0400u ? fx_f2u(sub) : u;
    return fx_u2f(sign | u);
}

FX_INLINE uint16_t fx_f2h(float f)
{
    uint32_t x = fx_f2u(f);
    uint32_t sign = (x >> 16) & 0x8000u;
    x &= 0x7fffffffu;
    /* normal range: rebias, then round to nearest even on the 13 dropped bits */
    uint32_t odd = (x >> 13) & 1u;
    uint32_t nrm = (x - (112u << 23) + 0xfffu + odd) >> 13;
    /* below 2^-14: adding 0.5 puts the half's subnormal bits at the bottom of
     * the float significand, rounded to nearest even by the addition itself */
    float a = fx_u2f(x) + 0.5f;
    uint32_t sub = fx_f2u(a) - 0x3f000000u;
    uint32_t r = x < 0x38800000u ? sub : nrm;
    r = x >= 0x477ff000u ? 0x7c00u : r;                             /* rounds to >= 65520: inf */
    r = x > 0x7f800000u ? (0x7e00u | ((x >> 13) & 0x3ffu)) : r;      /* NaN stays NaN (quiet) */
    return (uint16_t)(sign | r);
}

#endif /* FX_VECMATH_H */
