/* fx_elementwise.h -- the portable bodies of the element-wise operations
 * of fx_ops.def (sigmoid, log_sigmoid, binary cross-entropy with logits
 * and on probabilities, evaluate_binary's sums), the streaming-read probe
 * and the vector math on its own, plain C loops GCC vectorizes (the
 * design: fx_kernels.h).  An operation already defined with intrinsics
 * for this path (fx_simd_*.h sets FX_HAS_<name>) is skipped here. */

#ifndef FX_HAS_sigmoid
/* sigmoid(x) = 1/(1+e) for x >= 0 and e/(1+e) below, e = exp(-|x|). */
static void FN(sigmoid)(const FX_T *x, FX_T *out, ptrdiff_t n)
{
#pragma omp simd
    for (ptrdiff_t j = 0; j < n; j++) {
        FX_T v = x[j];
        FX_T e = EXPNEG(v < 0 ? v : -v);
        FX_T d = (FX_T)1 / ((FX_T)1 + e);
        out[j] = v >= 0 ? d : e * d;
    }
}
#endif

#ifndef FX_HAS_log_sigmoid
/* log sigmoid(x) = min(x, 0) - log1p(exp(-|x|)). */
static void FN(log_sigmoid)(const FX_T *x, FX_T *out, ptrdiff_t n)
{
#pragma omp simd
    for (ptrdiff_t j = 0; j < n; j++) {
        FX_T v = x[j];
        FX_T e = EXPNEG(v < 0 ? v : -v);
        out[j] = (v < 0 ? v : (FX_T)0) - LOG1P01(e);
    }
}
#endif

/* Binary cross-entropy with logits on one contiguous segment.
 *   t' = ta*t + tb (label smoothing), c1 = pw_j t', c0 = 1 - t'
 *   loss = c1 softplus(-x) + c0 softplus(x)
 * Both terms are >= 0 (no cancellation; tiny losses keep their relative
 * accuracy), and a zero coefficient kills its term, so x = +-inf gives 0 or
 * +inf as the limit says.  The element weight is ws * w_j (w may be NULL);
 * pw (pos_weight, may be NULL) is indexed like w.  dloss/dx =
 * c0 sigmoid(x) - c1 sigmoid(-x).
 *
 * Focal loss (torchvision's sigmoid_focal_loss): loss *= a_t q^gamma with
 * q = 1 - p_t = t' sigmoid(-x) + (1 - t') sigmoid(x) (a sum of two
 * non-negative terms, so q is accurate even when tiny), q^gamma taken as
 * exp(gamma log q), a_t = alpha t' + (1 - alpha)(1 - t') when alpha >= 0;
 * gradient a_t q^gamma (dce + gamma ce q'/q), q' = (1 - 2t') s(x) s(-x).
 *
 * Written losses are k ws w_j loss (k: the log base); returns the
 * segment's weighted sum without k.  The flags are compile-time constants
 * after inlining into FN(bce)'s switch, so each combination gets its own
 * branch-free vector loop. */
FX_INLINE FX_T FN(bce_one)(FX_T v, FX_T tt, FX_T c1, FX_T fg, FX_T fa, FX_T *dl_out,
                           const int want_g, const int focal)
{
    FX_T c0 = (FX_T)1 - tt;
    FX_T e = EXPNEG(v < 0 ? v : -v);
    FX_T l1p = LOG1P01(e);
    FX_T spp = (v > 0 ? v : (FX_T)0) + l1p;   /* softplus(x)  */
    FX_T spm = (v < 0 ? -v : (FX_T)0) + l1p;  /* softplus(-x) */
    FX_T loss = (c1 == 0 ? (FX_T)0 : c1 * spm) + (c0 == 0 ? (FX_T)0 : c0 * spp);
    if (want_g || focal) {
        FX_T d = (FX_T)1 / ((FX_T)1 + e);
        FX_T sp = v >= 0 ? d : e * d;            /* sigmoid(x)  */
        FX_T sm = v >= 0 ? e * d : d;            /* sigmoid(-x) */
        FX_T dl = c0 * sp - c1 * sm;
        if (focal) {
            FX_T q = tt * sm + ((FX_T)1 - tt) * sp;
            FX_T f = FN(focal_factor)(q, tt, fg, fa);
            FX_T dlq = q > 0 ? ((FX_T)1 - (FX_T)2 * tt) * sp * sm / q : (FX_T)0;
            /* ce = inf where q' = 0 (x = -inf, t = 1): the product's limit is 0 */
            FX_T extra = ((fg == 0) | (dlq == 0)) ? (FX_T)0 : fg * loss * dlq;
            dl = f * (dl + extra);
            loss = f * loss;
        }
        *dl_out = dl;
    }
    return loss;
}

FX_INLINE double FN(bce_impl)(const FX_T *x, const FX_T *t, ptrdiff_t n, const fx_bce_seg *o,
                              FX_T *lout, FX_T *gout,
                              const int has_w, const int has_pw, const int want_l, const int want_g,
                              const int focal)
{
    /* Losses are added in FX_T within blocks of 64 and the block sums in
     * double; weights multiply in FX_T (a per-element weight) or once per
     * block (the row weight ws). */
    double s = 0.0;
    const double *w = o->w, *pw = o->pw, ws = o->ws;
    const FX_T fta = (FX_T)o->ta, ftb = (FX_T)o->tb, fg = (FX_T)o->gamma, fa = (FX_T)o->alpha;
    const FX_T fws = (FX_T)(ws * o->k), fgs = (FX_T)(o->gscale * ws);
    for (ptrdiff_t j0 = 0; j0 < n; j0 += 64) {
        ptrdiff_t j1 = j0 + 64 < n ? j0 + 64 : n;
        FX_T b = 0;
#pragma omp simd reduction(+:b)
        for (ptrdiff_t j = j0; j < j1; j++) {
            FX_T tt = fta * t[j] + ftb;
            FX_T c1 = has_pw ? (FX_T)pw[j] * tt : tt;
            FX_T dl = 0;
            FX_T loss = FN(bce_one)(x[j], tt, c1, fg, fa, &dl, want_g, focal);
            FX_T wj = has_w ? (FX_T)w[j] : (FX_T)1;
            FX_T lw = wj == 0 ? (FX_T)0 : wj * loss;   /* 0 * inf = 0: a zero weight drops the element */
            b += lw;
            if (want_l) lout[j] = fws == 0 ? (FX_T)0 : fws * lw;
            if (want_g) gout[j] = (fgs * wj) * dl;
        }
        s += ws == 0.0 ? 0.0 : ws * (double)b;
    }
    return s;
}

#ifndef FX_HAS_bce
static double FN(bce_portable)(const FX_T *x, const FX_T *t, ptrdiff_t n, const fx_bce_seg *o, FX_T *lout,
                               FX_T *gout)
{
    FX_BCE_DISPATCH(FN(bce_impl))
}

static double FN(bce)(const FX_T *x, const FX_T *t, ptrdiff_t n, const fx_bce_seg *o, FX_T *lout, FX_T *gout)
{
    return FN(bce_portable)(x, t, n, o, lout, gout);
}
#endif

/* evaluate_binary on one segment: sums += (weighted BCE with logits,
 * weighted hits of (x > 0) == (t >= 0.5) -- never for a NaN logit --,
 * weighted (sigmoid(x) - t)^2, weight), element weight w_j (NULL: 1).
 * With B > 0, hist (B entries of 4 doubles: weight, weighted sigmoid(x),
 * weighted t, 0) += those of the elements whose p = sigmoid(x) falls in
 * bin b = floor(p B) (p = 1 in the last; NaN in none) -- or, with
 * uscale > 0, in bin b = floor((x - ulo) uscale) of the logit, clamped to
 * [0, B) (the fine histogram of equal-mass bins: confident outputs
 * resolved in x, where p rounds to 0 or 1).  The same softplus
 * form as bce, no cancellation.  Runs of FX_EVB elements: a vectorized
 * pass for the sums that leaves p in a small buffer, then the scalar
 * histogram pass over it (a scatter does not vectorize). */
#define FX_EVB 256
#define FX_EVB_NB 64
#define FX_EVB_BODY(WJ)                                                            \
    for (ptrdiff_t j = 0; j < n; j++) {                                            \
        FX_T v = x[j], tt = t[j];                                                  \
        FX_T e = EXPNEG(v < 0 ? v : -v);                                           \
        FX_T l1p = LOG1P01(e);                                                     \
        FX_T spp = (v > 0 ? v : (FX_T)0) + l1p, spm = (v < 0 ? -v : (FX_T)0) + l1p; \
        FX_T loss = (tt == 0 ? (FX_T)0 : tt * spm) + (tt == 1 ? (FX_T)0 : ((FX_T)1 - tt) * spp); \
        FX_T dd = (FX_T)1 / ((FX_T)1 + e);                                         \
        FX_T sp = v >= 0 ? dd : e * dd;                                            \
        FX_T r = sp - tt;                                                          \
        double wj = WJ;                                                            \
        a += wj == 0.0 ? 0.0 : wj * (double)loss;                                  \
        bb += (v > 0) == (tt >= (FX_T)0.5) && v == v ? wj : 0.0;                   \
        c += wj * (double)(r * r);                                                 \
        d += wj;                                                                   \
        p[j] = sp;                                                                 \
    }

#ifndef FX_HAS_bce_eval_run
FX_INLINE void FN(bce_eval_run)(const FX_T *x, const FX_T *t, ptrdiff_t n, const double *w, double *sums,
                                FX_T *p)
{
    double a = 0.0, bb = 0.0, c = 0.0, d = 0.0;
    if (w) {
#pragma omp simd reduction(+:a, bb, c, d)
        FX_EVB_BODY(w[j])
    } else {
        /* per-element terms added in double, as weighted: a split of the
         * elements anywhere (Evaluator batches, Dask blocks) changes the
         * sums only at double rounding (1e-12 merges) */
#pragma omp simd reduction(+:a, bb, c, d)
        FX_EVB_BODY(1.0)
    }
    sums[0] += a;
    sums[1] += bb;
    sums[2] += c;
    sums[3] += d;
}
#endif
#undef FX_EVB_BODY

/* One run's bin indices (bce_eval): bins of p, or with uscale > 0 of the
 * logit (clamped to [0, B - 1]); -1 for NaN.  Vectorized. */
FX_INLINE void FN(bce_eval_bins)(const FX_T *x, const FX_T *p, ptrdiff_t m, int64_t B, double ulo, double uscale,
                                 int32_t *bi)
{
    const int32_t last = (int32_t)(B - 1);
    if (uscale > 0) {
        const FX_T lo = (FX_T)ulo, sc = (FX_T)uscale, fl = (FX_T)last;
#pragma omp simd
        for (ptrdiff_t j = 0; j < m; j++) {
            const FX_T q = (x[j] - lo) * sc;
            /* clamped to [0, last] before the conversion (NaN and +inf
             * to last), then NaN marked -1 */
            const int32_t b = (int32_t)(q < fl ? (q > 0 ? q : (FX_T)0) : fl);
            bi[j] = q == q ? b : -1;
        }
    } else {
        const FX_T fb = (FX_T)B;
#pragma omp simd
        for (ptrdiff_t j = 0; j < m; j++) {
            const FX_T q = p[j] >= 0 ? p[j] * fb : (FX_T)-1;     /* NaN: -1 */
            const int32_t b = (int32_t)q;
            bi[j] = q < 0 ? -1 : (b < last ? b : last);
        }
    }
}

/* A run's scatter into a histogram of (w, w p, w t, 0) entries, one per
 * bin: an element is one load-add-store of four doubles where three rows
 * of bins would take three (GNU C vectors; elsewhere three doubles, the
 * same sums).  Element j goes to copy j % 4 of the histogram (h + (j % 4)
 * stride): a run of one bin -- a confident model's bins 0 and B - 1 --
 * then waits on a store four elements back, not on the last one's (the
 * chain is store-to-load forwarding plus the add).  stride = 0 for the
 * caller's big histograms, which rarely see one bin twice in a row.
 * Unweighted, the entry is (1, p, t, 0), no products.  A weight's
 * products are rounded before the add (FMA paths would otherwise fuse
 * them: the sums differ between paths at double rounding, as every sum
 * here does). */
#define FX_EVB_COPIES 4
#if defined(__GNUC__)
#ifndef FX_V4D_DEFINED
#define FX_V4D_DEFINED
typedef double fx_v4d __attribute__((vector_size(32), aligned(8)));   /* the caller's rows: 8-byte aligned */
#endif
#define FX_EVB_ADD(q, j, W)                                                        \
    if (bi[j] >= 0) {                                                              \
        const double w_ = (W);                                                     \
        ((fx_v4d *)(h + (q) * stride))[bi[j]] +=                                   \
            (fx_v4d){w_, w_ * (double)p[j], w_ * (double)tj[j], 0.0};              \
    }
#else
#define FX_EVB_ADD(q, j, W)                                                        \
    if (bi[j] >= 0) {                                                              \
        const double w_ = (W);                                                     \
        double *e_ = h + (q) * stride + 4 * bi[j];                                 \
        const double wp_ = w_ * (double)p[j], wt_ = w_ * (double)tj[j];            \
        e_[0] += w_;                                                               \
        e_[1] += wp_;                                                              \
        e_[2] += wt_;                                                              \
    }
#endif
#define FX_EVB_LOOP(W)                                                             \
    for (; j + 3 < m; j += 4) {                                                    \
        FX_EVB_ADD(0, j, W(j))                                                     \
        FX_EVB_ADD(1, j + 1, W(j + 1))                                             \
        FX_EVB_ADD(2, j + 2, W(j + 2))                                             \
        FX_EVB_ADD(3, j + 3, W(j + 3))                                             \
    }                                                                              \
    for (; j < m; j++) { FX_EVB_ADD(0, j, W(j)) }
#define FX_EVB_ONE(j) 1.0
#define FX_EVB_W(j) wj[j]

FX_INLINE void FN(bce_eval_scatter)(const FX_T *p, const FX_T *tj, const double *wj, ptrdiff_t m,
                                    const int32_t *bi, double *h, ptrdiff_t stride)
{
    ptrdiff_t j = 0;
    if (wj) {
        FX_EVB_LOOP(FX_EVB_W)
    } else {
        FX_EVB_LOOP(FX_EVB_ONE)
    }
}
#undef FX_EVB_ADD
#undef FX_EVB_LOOP
#undef FX_EVB_ONE
#undef FX_EVB_W

/* A histogram of B entries: FX_EVB_COPIES copies of it on the stack when
 * small, or the caller's own. */
typedef struct {
    double loc[FX_EVB_COPIES * 4 * FX_EVB_NB];
    double *h, *out;
    ptrdiff_t stride;
    int64_t B;
} FN(evb_hist);

FX_INLINE void FN(evb_hist_init)(FN(evb_hist) *H, int64_t B, double *out)
{
    H->B = B;
    H->out = out;
    if (B > 0 && B <= FX_EVB_NB) {
        H->h = H->loc;
        H->stride = 4 * B;
        memset(H->loc, 0, FX_EVB_COPIES * 4 * B * sizeof(double));
    } else {
        H->h = out;
        H->stride = 0;
    }
}

FX_INLINE void FN(evb_hist_fold)(FN(evb_hist) *H)
{
    if (H->B > 0 && H->stride)
        for (int c = 0; c < FX_EVB_COPIES; c++)
            for (ptrdiff_t i = 0; i < H->stride; i++)
                H->out[i] += H->loc[c * H->stride + i];
}

/* hist (B > 0) and rhist (R > 0: a second histogram, the ROC's bins of
 * the logit, in the same pass) as described above, each B (R) entries of
 * four doubles: weight, weighted sigmoid(x), weighted t, 0. */
static void FN(bce_eval)(const FX_T *x, const FX_T *t, ptrdiff_t n, const double *w, double *sums,
                         int64_t B, double ulo, double uscale, double *hist,
                         int64_t R, double rlo, double rscale, double *rhist)
{
    FX_T p[FX_EVB];
    int32_t bi[FX_EVB];
    FN(evb_hist) hb, hr;
    FN(evb_hist_init)(&hb, B, hist);
    FN(evb_hist_init)(&hr, R, rhist);
    sums[0] = sums[1] = sums[2] = sums[3] = 0.0;
    for (ptrdiff_t j0 = 0; j0 < n; j0 += FX_EVB) {
        const ptrdiff_t m = n - j0 < FX_EVB ? n - j0 : FX_EVB;
        const double *wj = w ? w + j0 : NULL;
        FN(bce_eval_run)(x + j0, t + j0, m, wj, sums, p);
        if (B > 0) {
            FN(bce_eval_bins)(x + j0, p, m, B, ulo, uscale, bi);
            FN(bce_eval_scatter)(p, t + j0, wj, m, bi, hb.h, hb.stride);
        }
        if (R > 0) {
            FN(bce_eval_bins)(x + j0, p, m, R, rlo, rscale, bi);
            FN(bce_eval_scatter)(p, t + j0, wj, m, bi, hr.h, hr.stride);
        }
    }
    FN(evb_hist_fold)(&hb);
    FN(evb_hist_fold)(&hr);
}
#undef FX_EVB_COPIES
#undef FX_EVB
#undef FX_EVB_NB

/* Binary cross-entropy from probabilities on one segment:
 * -(t log pc + (1-t) log1p(-pc)), pc = clip(p, lo, hi), zero-coefficient
 * terms skipped; element weight w_j (w may be NULL).  log1p(-pc) keeps
 * the relative accuracy of small losses at t = 0.  Per-element weighted
 * losses, times k, go to lout when it is not NULL; returns their sum
 * without k. */
static double FN(bce_prob)(const FX_T *p, const FX_T *t, ptrdiff_t n, const double *w,
                           FX_T lo, FX_T hi, double k, FX_T *lout)
{
    double s = 0.0;
#pragma omp simd reduction(+:s)
    for (ptrdiff_t j = 0; j < n; j++) {
        FX_T v = p[j];
        v = v < lo ? lo : v;
        v = v > hi ? hi : v;
        FX_T tt = t[j];
        FX_T a = LOG(v), b = LOG1P(-v);
        FX_T l = -((tt == 0 ? (FX_T)0 : tt * a) + (tt == 1 ? (FX_T)0 : ((FX_T)1 - tt) * b));
        double wt = w ? w[j] : 1.0;
        double lw = wt == 0.0 ? 0.0 : wt * (double)l;
        s += lw;
        if (lout) lout[j] = (FX_T)(k * lw);
    }
    return s;
}

#ifndef FX_HAS_rowsum
/* Plain sum: the streaming-read probe of the benchmarks (same flags, same
 * threads as the kernels it is the roofline for). */
static double FN(rowsum)(const FX_T *x, ptrdiff_t n)
{
    double s = 0.0;
#pragma omp simd reduction(+:s)
    for (ptrdiff_t j = 0; j < n; j++) s += (double)x[j];
    return s;
}

#endif

/* The transformed logits of the options (temperature T, soft-cap c):
 *   z = s x                     s = 1/T, no soft-cap (cap = 0)
 *   z = c tanh(s x)             s = 1/(T c)
 * and, when d is not NULL (a gradient is wanted, soft-cap on), the chain
 * rule's factor dz/dx = dscale sech^2(s x), dscale = 1/T, from x (not from
 * z: 1 - (z/c)^2 cancels as |z| -> c).  z may be x.  The vector paths
 * have their own (fx_simd_elem.h: vtanh_c's expm1 form). */
#ifndef FX_HAS_zform
static void FN(zform)(const FX_T *x, FX_T *z, FX_T *d, ptrdiff_t n, double s, double cap, double dscale)
{
    const FX_T ss = (FX_T)s, cc = (FX_T)cap, ds = (FX_T)dscale;
    if (cap > 0 && d != NULL) {
#pragma omp simd
        for (ptrdiff_t j = 0; j < n; j++) {
            FX_T u = ss * x[j];
            d[j] = ds * SECH2(u);
            z[j] = cc * TANH(u);
        }
    } else if (cap > 0) {
#pragma omp simd
        for (ptrdiff_t j = 0; j < n; j++) z[j] = cc * TANH(ss * x[j]);
    } else {
#pragma omp simd
        for (ptrdiff_t j = 0; j < n; j++) z[j] = ss * x[j];
    }
}
#endif

/* The gradient with respect to z turned into one with respect to x:
 * g *= d (the soft-cap's factors of zform) or g *= c (temperature only). */
static void FN(zchain)(FX_T *g, const FX_T *d, ptrdiff_t n, double c)
{
    if (d != NULL) {
#pragma omp simd
        for (ptrdiff_t j = 0; j < n; j++) g[j] = g[j] * d[j];
    } else {
        const FX_T cc = (FX_T)c;
#pragma omp simd
        for (ptrdiff_t j = 0; j < n; j++) g[j] = g[j] * cc;
    }
}

/* The vector math on its own, for measuring its error in ULP: y = f(x)
 * element-wise through the same inlined code and vectorization as the
 * kernels, f one of fx_vecmath_fns.def (the kernels' functions through
 * this path's intrinsics where it has them, vecmath_simd). */
#define FX_SPNEG(a) LOG1P01(EXPNEG(-(a)))
static void FN(vecmath)(int fn, const FX_T *x, FX_T *y, ptrdiff_t n)
{
#define FX_VM_LOOP(F) _Pragma("omp simd") for (ptrdiff_t j = 0; j < n; j++) y[j] = F(x[j]); break;
#ifdef FX_HAS_vecmath_simd
    if (FN(vecmath_simd)(fn, x, y, n))
        return;
#endif
    switch (fn) {
#define FX_VMFN(id, name, scalar) case FX_VM_##id: FX_VM_LOOP(scalar)
#define FX_VMFN_K(id, name, scalar, vector) case FX_VM_##id: FX_VM_LOOP(scalar)
#include "fx_vecmath_fns.def"
    }
#undef FX_VM_LOOP
}
#undef FX_SPNEG

