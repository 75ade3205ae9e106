/* fx_scalar.h -- scalar helpers of one element type that both the
 * vector kernels (fx_simd_*.h) and the portable ones (fx_rows.h,
 * fx_elementwise.h) call.  Included by fx_kernels.h first. */

/* The focal factor a_t q^gamma of one binary element (bce_one in fx_elementwise.h; the
 * vector paths apply it to their own plain terms through the same helper),
 * q = 1 - p_t.  It is at most 1: q and a_t are convex combinations that
 * may round a unit above 1, so log q is clamped to <= 0 and a_t to <= 1
 * (a factor above 1 would put the focal loss above the plain loss it is
 * built from -- torchvision's invariant focal <= BCE; with gamma = 0 the
 * loss is exactly a_t times the plain path's loss).  The clamps are
 * selects on the log and on a_t, not on the product: that form keeps the
 * callers' loops vectorizable (GCC 12 gives up on the product's). */
FX_INLINE FX_T FN(focal_factor)(FX_T q, FX_T tt, FX_T fg, FX_T fa)
{
    FX_T lq = LOG(q);
    FX_T mod = fg == 0 ? (FX_T)1 : EXPNEG(fg * (lq < 0 ? lq : (FX_T)0));
    FX_T at = fa >= 0 ? fa * tt + ((FX_T)1 - fa) * ((FX_T)1 - tt) : (FX_T)1;
    return (at < (FX_T)1 ? at : (FX_T)1) * mod;
}

/* Binary cross-entropy on one segment through IMPL(x, t, n, o, lout, gout,
 * has_w, has_pw, want_l, want_g, focal): the five flags are turned into
 * compile-time constants by a switch over their 32 combinations, so each
 * gets its own branch-free loop after inlining (fx_elementwise.h's portable
 * bce_impl, fx_simd_elem.h's bce_simd).  Expands to a function body. */
#define FX_BCE_DISPATCH(IMPL)                                                             \
    const int focal = o->gamma != 0.0 || o->alpha >= 0.0;                                 \
    const int key = (o->w != NULL) | (o->pw != NULL) << 1 | (lout != NULL) << 2           \
                    | (gout != NULL) << 3 | focal << 4;                                   \
    switch (key) {                                                                        \
    FX_BCE_CASES8(IMPL, 0) FX_BCE_CASES8(IMPL, 8) FX_BCE_CASES8(IMPL, 16) FX_BCE_CASES8(IMPL, 24) \
    }                                                                                     \
    return 0.0;
#define FX_BCE_CASE(IMPL, K) case K: return IMPL(x, t, n, o, lout, gout, (K) & 1, ((K) >> 1) & 1, \
                                                 ((K) >> 2) & 1, ((K) >> 3) & 1, ((K) >> 4) & 1);
#define FX_BCE_CASES8(IMPL, B) FX_BCE_CASE(IMPL, B) FX_BCE_CASE(IMPL, B + 1) FX_BCE_CASE(IMPL, B + 2) \
    FX_BCE_CASE(IMPL, B + 3) FX_BCE_CASE(IMPL, B + 4) FX_BCE_CASE(IMPL, B + 5) FX_BCE_CASE(IMPL, B + 6) \
    FX_BCE_CASE(IMPL, B + 7)
