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
