/* fx_simd_elem.h -- the row writes (exp_affine, sub_rows), the
 * element-wise kernels (sigmoid, log_sigmoid, binary cross-entropy and
 * its focal variant, evaluate_binary's sums), the streaming-read probe
 * and the vector math on its own (for the ULP table), written once
 * against the row's vector vocabulary (fx_vec_<isa>.h).  Each sets
 * FX_HAS_<name>; fx_rows.h and fx_elementwise.h skip their portable
 * twins.  Included by fx_kernels.h after fx_simd_small.h. */

#define FX_HAS_exp_affine 1
/* out_j = a exp(x_j - m) - b w_j (w NULL: w_j = 1); out may alias x. */
static void FN(exp_affine)(const FX_T *x, FX_T *out, ptrdiff_t n, FX_T m, double a, const double *w, double b)
{
    if (w != NULL) {                       /* class weights: per-element b w_j in double */
        const FX_T ta = (FX_T)a;
#pragma omp simd
        for (ptrdiff_t j = 0; j < n; j++)
            out[j] = ta * EXPFAST(x[j] - m) - (FX_T)(b * w[j]);
        return;
    }
    const VT vm = VSET(m), va = VSET((FX_T)a), vb = VSET((FX_T)b);
    ptrdiff_t j = 0;
    for (; j + 2 * VL <= n; j += 2 * VL) {
        VT e0 = FN(vexp_write)(VSUB(VLOADU(x + j), vm));
        VT e1 = FN(vexp_write)(VSUB(VLOADU(x + j + VL), vm));
        VSTOREU(out + j, VSUB(VMUL(va, e0), vb));
        VSTOREU(out + j + VL, VSUB(VMUL(va, e1), vb));
    }
    for (; j < n; j += VL) {
        if (n - j >= VL) {
            VSTOREU(out + j, VSUB(VMUL(va, FN(vexp_write)(VSUB(VLOADU(x + j), vm))), vb));
        } else {
            MT t = MTAIL(n - j);
            VSTOREM(out + j, VSUB(VMUL(va, FN(vexp_write)(VSUB(VLOADM(x + j, t, m), vm))), vb), t);
        }
    }
}

#define FX_HAS_exp_affine_flat 1
/* exp_affine_rows for rows shorter than a vector (w NULL): the rows'
 * elements run flat through whole vectors, with m_i, a_i, b_i spread over
 * their C elements first (a row of 3 would otherwise fill 3 lanes of 8 or
 * 16).  Returns 0, doing nothing, for longer rows. */
static int FN(exp_affine_flat)(const FX_T *x, FX_T *out, ptrdiff_t n, ptrdiff_t C, const double *m,
                               const double *a, const double *b)
{
    enum { CHUNK = 1024 };
    FX_T mm[CHUNK], aa[CHUNK], bb[CHUNK];
    if (C >= VL)
        return 0;
    const ptrdiff_t R = CHUNK / C;
    for (ptrdiff_t i0 = 0; i0 < n; i0 += R) {
        const ptrdiff_t nr = n - i0 < R ? n - i0 : R, ne = nr * C;
        for (ptrdiff_t r = 0; r < nr; r++) {
            const FX_T mi = (FX_T)m[i0 + r], ai = (FX_T)a[i0 + r], bi = b ? (FX_T)b[i0 + r] : (FX_T)0;
            for (ptrdiff_t j = 0; j < C; j++) {
                mm[r * C + j] = mi;
                aa[r * C + j] = ai;
                bb[r * C + j] = bi;
            }
        }
        const FX_T *xr = x + i0 * C;
        FX_T *o = out + i0 * C;
        ptrdiff_t j = 0;
        for (; j + VL <= ne; j += VL)
            VSTOREU(o + j, VSUB(VMUL(VLOADU(aa + j), FN(vexp_write)(VSUB(VLOADU(xr + j), VLOADU(mm + j)))),
                                VLOADU(bb + j)));
        if (j < ne) {
            const MT t = MTAIL(ne - j);
            VSTOREM(o + j, VSUB(VMUL(VLOADM(aa + j, t, 0), FN(vexp_write)(VSUB(VLOADM(xr + j, t, 0),
                                                                                VLOADM(mm + j, t, 0)))),
                                VLOADM(bb + j, t, 0)), t);
        }
    }
    return 1;
}

#define FX_HAS_sub_rows 1
/* out_ij = (x_ij - m_i) - l_i */
static void FN(sub_rows)(const FX_T *x, FX_T *out, ptrdiff_t n, ptrdiff_t C, const double *m, const double *l)
{
    for (ptrdiff_t i = 0; i < n; i++) {
        const VT vm = VSET((FX_T)m[i]), vl = VSET((FX_T)l[i]);
        const FX_T *xr = x + i * C;
        FX_T *o = out + i * C;
        ptrdiff_t j = 0;
        for (; j + VL <= C; j += VL) VSTOREU(o + j, VSUB(VSUB(VLOADU(xr + j), vm), vl));
        if (j < C) {
            MT t = MTAIL(C - j);
            VSTOREM(o + j, VSUB(VSUB(VLOADM(xr + j, t, 0), vm), vl), t);
        }
    }
}

/* ---------------------------------------------------------------- element-wise */

#define FX_HAS_rowsum 1
/* The streaming-read probe: a plain sum with four accumulators (the
 * fastest reading loop; its value only keeps the reads alive). */
static double FN(rowsum)(const FX_T *x, ptrdiff_t n)
{
    VT a0 = VZERO(), a1 = a0, a2 = a0, a3 = a0;
    ptrdiff_t j = 0;
    for (; j + 4 * VL <= n; j += 4 * VL) {
        a0 = VADD(a0, VLOADU(x + j));
        a1 = VADD(a1, VLOADU(x + j + VL));
        a2 = VADD(a2, VLOADU(x + j + 2 * VL));
        a3 = VADD(a3, VLOADU(x + j + 3 * VL));
    }
    for (; j + VL <= n; j += VL) a0 = VADD(a0, VLOADU(x + j));
    if (j < n) a1 = VADD(a1, VLOADM(x + j, MTAIL(n - j), 0));
    DT d0 = DZERO(), d1 = DZERO();
    FN(dfold1)(&d0, VADD(VADD(a0, a1), VADD(a2, a3)));
    return DHSUM(d0) + DHSUM(d1);
}

/* sigmoid on one vector: 1/(1+e) for v >= 0, e/(1+e) below, e = exp(-|v|);
 * NaN stays NaN */
FX_INLINE VT FN(vsigmoid)(VT v)
{
    const VT e = FN(vexp_acc)(VSUB(VZERO(), FN(vabs)(v)));
    const VT d = VDIV(VSET((FX_T)1), VADD(VSET((FX_T)1), e));
    return VSEL(VGE(v, VZERO()), d, VMUL(e, d));
}

FX_INLINE VT FN(vlog_sigmoid)(VT v)
{
    return VSUB(VMIN(v, VZERO()), FN(vsoftplus_neg)(FN(vabs)(v)));   /* min(NaN, 0) = 0; NaN passes */
}

#define FX_ELEMENTWISE(NAME, F)                                                   \
static void FN(NAME)(const FX_T *x, FX_T *out, ptrdiff_t n)                        \
{                                                                                  \
    ptrdiff_t j = 0;                                                               \
    for (; j + 4 * VL <= n; j += 4 * VL) {      /* four chains in flight */        \
        VT a = F(VLOADU(x + j)), b = F(VLOADU(x + j + VL));                        \
        VT c = F(VLOADU(x + j + 2 * VL)), d = F(VLOADU(x + j + 3 * VL));           \
        VSTOREU(out + j, a);                                                       \
        VSTOREU(out + j + VL, b);                                                  \
        VSTOREU(out + j + 2 * VL, c);                                              \
        VSTOREU(out + j + 3 * VL, d);                                              \
    }                                                                              \
    for (; j < n; j += VL) {                                                       \
        if (n - j >= VL) {                                                         \
            VSTOREU(out + j, F(VLOADU(x + j)));                                    \
        } else {                                                                   \
            MT t = MTAIL(n - j);                                                   \
            VSTOREM(out + j, F(VLOADM(x + j, t, 0)), t);                           \
        }                                                                          \
    }                                                                              \
}
#define FX_HAS_sigmoid 1
FX_ELEMENTWISE(sigmoid, FN(vsigmoid))
#define FX_HAS_log_sigmoid 1
FX_ELEMENTWISE(log_sigmoid, FN(vlog_sigmoid))
#undef FX_ELEMENTWISE

/* float64 weights as the element type */
FX_INLINE VT FN(vload_w)(const double *w, ptrdiff_t j, int nleft)
{
    if (nleft >= VL)
        return VLOAD_DOUBLES(w + j);
    FX_T t[VL];
    for (int i = 0; i < VL; i++) t[i] = i < nleft ? (FX_T)w[j + i] : (FX_T)0;
    return VLOADU(t);
}

/* Binary cross-entropy with logits on one segment (fx_elementwise.h, bce:
 * the same formulas, terms and sums), vectorized by hand: the exp ->
 * division -> series chain of one vector is latency bound, so four vectors
 * are in flight per step. */

/* c1 softplus(-x) + c0 softplus(x) from l1p = log1p(exp(-|x|)) and av =
 * |x|.  A zero coefficient drops its term (0 * inf = 0): only an infinite
 * logit makes a softplus infinite, and only then are the terms masked. */
FX_INLINE VT FN(vbce_loss)(VT v, VT av, VT c0, VT c1, VT l1p)
{
    const VT zero = VZERO();
    const VT spp = VADD(VMAX(v, zero), l1p);                 /* softplus(x)  */
    const VT spm = VADD(VMAX(VSUB(zero, v), zero), l1p);     /* softplus(-x) */
    if (MNONE(VEQ(av, VSET(FX_INF))))
        return VFMA(c1, spm, VMUL(c0, spp));
    return VADD(VSEL(VEQ(c1, zero), zero, VMUL(c1, spm)),
                VSEL(VEQ(c0, zero), zero, VMUL(c0, spp)));
}

FX_INLINE VT FN(vbce)(VT v, VT tt, VT c1, VT *dl, const int want_g)
{
    const VT one = VSET((FX_T)1), zero = VZERO();
    const VT c0 = VSUB(one, tt);
    const VT av = FN(vabs)(v);
#if FX_SP_TABLE
    const VT l1p = FN(vsoftplus_neg)(av);        /* the exp only for the gradient */
#else
    const VT e = FN(vexp_acc)(VSUB(zero, av));
    const VT l1p = FN(vlog1p01)(e);
#endif
    const VT loss = FN(vbce_loss)(v, av, c0, c1, l1p);
    if (want_g) {
#if FX_SP_TABLE
        const VT e = FN(vexp_acc)(VSUB(zero, av));
#endif
        const VT d = VDIV(one, VADD(one, e));
        const MT pos = VGE(v, zero);
        const VT ed = VMUL(e, d);
        *dl = VSUB(VMUL(c0, VSEL(pos, d, ed)), VMUL(c1, VSEL(pos, ed, d)));
    }
    return loss;
}

/* Focal loss on one segment: this path's plain terms (vbce) for a block
 * of 64, then bce_one's focal formulas over the block in a loop the
 * compiler vectorizes (focal_factor's log and exp, as the portable loop
 * runs them), so the factor multiplies this path's own plain loss: a focal
 * loss never exceeds the plain loss of the same element on this path, and
 * with gamma = 0 it is exactly a_t times it. */
FX_INLINE double FN(bce_focal)(const FX_T *x, const FX_T *t, ptrdiff_t n, const fx_bce_seg *o,
                               FX_T *lout, FX_T *gout, const int has_w, const int has_pw,
                               const int want_l, const int want_g)
{
    const VT ta = VSET((FX_T)o->ta), tb = VSET((FX_T)o->tb), zero = VZERO(), one = VSET((FX_T)1);
    const FX_T fg = (FX_T)o->gamma, fa = (FX_T)o->alpha;
    const FX_T fws = (FX_T)(o->ws * o->k), fgs = (FX_T)(o->gscale * o->ws);
    FX_T lb[64] __attribute__((aligned(64))), db[64] __attribute__((aligned(64)));
    FX_T qb[64] __attribute__((aligned(64))), sb[64] __attribute__((aligned(64)));
    FX_T tt_b[64] __attribute__((aligned(64)));
    for (int i = 0; i < 64; i++) qb[i] = tt_b[i] = (FX_T)0;
    double s = 0.0;
    for (ptrdiff_t j0 = 0; j0 < n; j0 += 64) {
        const int m = (int)(j0 + 64 < n ? 64 : n - j0);
        for (int i = 0; i < m; i += VL) {
            const int left = m - i;
            const MT tm = left >= VL ? VEQ(zero, zero) : MTAIL(left);
            const VT v = left >= VL ? VLOADU(x + j0 + i) : VLOADM(x + j0 + i, tm, 0);
            const VT tt = VFMA(ta, left >= VL ? VLOADU(t + j0 + i) : VLOADM(t + j0 + i, tm, 0), tb);
            const VT c1 = has_pw ? VMUL(FN(vload_w)(o->pw, j0 + i, left), tt) : tt;
            VT dl = zero;
            VSTOREU(lb + i, FN(vbce)(v, tt, c1, &dl, want_g));
            VSTOREU(db + i, dl);
            /* q = 1 - p_t = t' sigmoid(-x) + (1 - t') sigmoid(x); sb = (1 - 2t') s(x) s(-x) = q' */
            const VT e = FN(vexp_acc)(VSUB(zero, FN(vabs)(v)));
            const VT d = VDIV(one, VADD(one, e));
            const MT pos = VGE(v, zero);
            const VT ed = VMUL(e, d);
            const VT sp = VSEL(pos, d, ed), sm = VSEL(pos, ed, d);
            VSTOREU(qb + i, VADD(VMUL(tt, sm), VMUL(VSUB(one, tt), sp)));
            VSTOREU(sb + i, VMUL(VMUL(VSUB(one, VADD(tt, tt)), sp), sm));
            VSTOREU(tt_b + i, tt);
        }
        /* the factor in a loop of its own, over the whole buffer (lanes past
         * m hold finite values): a plain loop the vectorizer always takes */
        FX_T fb[64] __attribute__((aligned(64)));
        if (fg == 0) {
#pragma omp simd aligned(qb, tt_b, fb : 64)
            for (int i = 0; i < 64; i++) fb[i] = FN(focal_factor)(qb[i], tt_b[i], (FX_T)0, fa);
        } else {
#pragma omp simd aligned(qb, tt_b, fb : 64)
            for (int i = 0; i < 64; i++) fb[i] = FN(focal_factor)(qb[i], tt_b[i], fg, fa);
        }
        FX_T b = 0;
        const double *w = o->w;
#pragma omp simd reduction(+:b)
        for (int i = 0; i < m; i++) {
            const FX_T q = qb[i], loss = lb[i];
            const FX_T f = fb[i];
            const FX_T wj = has_w ? (FX_T)w[j0 + i] : (FX_T)1;
            const FX_T lw = wj == 0 ? (FX_T)0 : wj * (f * loss);
            b += lw;
            if (want_l) lout[j0 + i] = fws == 0 ? (FX_T)0 : fws * lw;
            if (want_g) {
                const FX_T dlq = q > 0 ? sb[i] / q : (FX_T)0;
                /* ce = inf where q' = 0 (x = -inf, t = 1): the product's limit is 0 */
                const FX_T extra = ((fg == 0) | (dlq == 0)) ? (FX_T)0 : fg * loss * dlq;
                gout[j0 + i] = (fgs * wj) * (f * (db[i] + extra));
            }
        }
        s += o->ws == 0.0 ? 0.0 : o->ws * (double)b;
    }
    return s;
}

FX_INLINE double FN(bce_simd)(const FX_T *x, const FX_T *t, ptrdiff_t n, const fx_bce_seg *o,
                              FX_T *lout, FX_T *gout, const int has_w, const int has_pw,
                              const int want_l, const int want_g, const int focal)
{
    if (focal)
        return FN(bce_focal)(x, t, n, o, lout, gout, has_w, has_pw, want_l, want_g);
    const VT ta = VSET((FX_T)o->ta), tb = VSET((FX_T)o->tb), zero = VZERO();
    const VT fws = VSET((FX_T)(o->ws * o->k)), fgs = VSET((FX_T)(o->gscale * o->ws));
    const int wsz = o->ws * o->k == 0.0;
    DT d0 = DZERO();
    for (ptrdiff_t j0 = 0; j0 < n; j0 += 64) {            /* blocks of 64 as the portable code */
        const ptrdiff_t j1 = j0 + 64 < n ? j0 + 64 : n;
        VT acc = zero;
        ptrdiff_t j = j0;
        /* four vectors side by side: one vector's exp -> division ->
         * series chain is too long for the scheduler to overlap alone */
        for (; j + 4 * VL <= j1; j += 4 * VL) {
            VT lw[4], dl[4] = {zero, zero, zero, zero}, wj[4];
#pragma GCC unroll 4
            for (int u = 0; u < 4; u++) {
                const VT v = VLOADU(x + j + u * VL);
                const VT tt = VFMA(ta, VLOADU(t + j + u * VL), tb);
                const VT c1 = has_pw ? VMUL(FN(vload_w)(o->pw, j + u * VL, VL), tt) : tt;
                const VT loss = FN(vbce)(v, tt, c1, &dl[u], want_g);
                wj[u] = has_w ? FN(vload_w)(o->w, j + u * VL, VL) : VSET((FX_T)1);
                lw[u] = has_w ? VSEL(VEQ(wj[u], zero), zero, VMUL(wj[u], loss)) : loss;
            }
#pragma GCC unroll 4
            for (int u = 0; u < 4; u++) {
                acc = VADD(acc, lw[u]);
                if (want_l) VSTOREU(lout + j + u * VL, wsz ? zero : VMUL(fws, lw[u]));
                if (want_g) VSTOREU(gout + j + u * VL, VMUL(VMUL(fgs, wj[u]), dl[u]));
            }
        }
        for (; j < j1; j += VL) {
            const int left = (int)(j1 - j);
            const MT tm = left >= VL ? VEQ(zero, zero) : MTAIL(left);
            const VT v = left >= VL ? VLOADU(x + j) : VLOADM(x + j, tm, 0);
            const VT tt = VFMA(ta, left >= VL ? VLOADU(t + j) : VLOADM(t + j, tm, 0), tb);
            const VT c1 = has_pw ? VMUL(FN(vload_w)(o->pw, j, left), tt) : tt;
            VT dl = zero;
            VT loss = FN(vbce)(v, tt, c1, &dl, want_g);
            const VT wj = has_w ? FN(vload_w)(o->w, j, left) : VSET((FX_T)1);
            const VT lw = has_w ? VSEL(VEQ(wj, zero), zero, VMUL(wj, loss)) : loss;
            acc = VADD(acc, VZMASK(tm, lw));
            if (want_l) {
                const VT lv = wsz ? zero : VMUL(fws, lw);
                if (left >= VL) VSTOREU(lout + j, lv); else VSTOREM(lout + j, lv, tm);
            }
            if (want_g) {
                const VT gv = VMUL(VMUL(fgs, wj), dl);
                if (left >= VL) VSTOREU(gout + j, gv); else VSTOREM(gout + j, gv, tm);
            }
        }
        /* the block's float sum joins double lanes; one horizontal sum
         * for the segment (one a block, with its scalar chain, was a fifth
         * of the loop's samples) */
        FN(dfold1)(&d0, acc);
    }
    return o->ws == 0.0 ? 0.0 : o->ws * DHSUM(d0);
}

#define FX_HAS_bce 1
static double FN(bce)(const FX_T *x, const FX_T *t, ptrdiff_t n, const fx_bce_seg *o, FX_T *lout, FX_T *gout)
{
    FX_BCE_DISPATCH(FN(bce_simd))
}

/* evaluate_binary's sums on one run (fx_elementwise.h, bce_eval_run: the
 * same terms, each added in double as there, so a split of the elements
 * anywhere changes the sums only at double rounding), p = sigmoid(x)
 * left in p for the histogram.  One exp, log1p and division per element
 * give the loss and the sigmoid; unweighted, the hits are a popcount and
 * the weight a count. */
#if FX_IS_FLOAT               /* a float vector's halves in double lanes (DHALF) */
#  define NHALF 2
#else
#  define NHALF 1
#endif

/* one vector's terms: the loss, sigmoid(x) (returned), (p - t)^2, and the
 * hit masks */
FX_INLINE VT FN(evb_terms)(const VT v, const VT tt, VT *loss, VT *r2, MT *gt, MT *le, MT *tp)
{
    const VT one = VSET((FX_T)1), zero = VZERO();
    const VT av = FN(vabs)(v);
    const VT e = FN(vexp_acc)(VSUB(zero, av));
    const VT l1p = FX_SP_TABLE ? FN(vsoftplus_neg)(av) : FN(vlog1p01)(e);
    *loss = FN(vbce_loss)(v, av, VSUB(one, tt), tt, l1p);
    const VT dd = VDIV(one, VADD(one, e));
    const VT sp = VSEL(VGE(v, zero), dd, VMUL(e, dd));
    const VT r = VSUB(sp, tt);
    *r2 = VMUL(r, r);
    /* a hit: (x > 0) == (t >= 0.5), never for a NaN logit (both
     * ordered compares are false for it) */
    *gt = VGT(v, zero);
    *le = VLE(v, zero);
    *tp = VGE(tt, VSET((FX_T)0.5));
    return sp;
}

/* one vector's terms into the double sums; tm: the lanes that count, w
 * (NULL: unweighted) the weights of the vector's VL elements, read only
 * under tm */
FX_INLINE void FN(evb_add)(const VT loss, const VT r2, const MT gt, const MT le, const MT tp, const MT tm,
                           const int left, const double *w, DT *a, DT *c, DT *h, DT *d, int64_t *hits)
{
    const VT one = VSET((FX_T)1), zero = VZERO();
    if (w) {
        /* the weights in double; the tail's padded with 0 */
        double wb[VL];
        const double *wj = w;
        if (left < VL) {
            for (int i = 0; i < VL; i++) wb[i] = i < left ? w[i] : 0.0;
            wj = wb;
        }
        const VT tp01 = VSEL(tp, one, zero);
        const VT hit01 = VSEL(gt, tp01, VSEL(le, VSUB(one, tp01), zero));
        for (int q = 0; q < NHALF; q++) {
            const DT wq = DLOADU(wj + q * (VL / NHALF));
            a[q] = DADD(a[q], DNZ(wq, DMUL(wq, DHALF(loss, q))));
            h[q] = DADD(h[q], DNZ(DHALF(hit01, q), wq));
            c[q] = DADD(c[q], DMUL(wq, DHALF(r2, q)));
            d[q] = DADD(d[q], wq);
        }
    } else {
        const VT lm = left == VL ? loss : VZMASK(tm, loss), rm = left == VL ? r2 : VZMASK(tm, r2);
        for (int q = 0; q < NHALF; q++) {
            a[q] = DADD(a[q], DHALF(lm, q));
            c[q] = DADD(c[q], DHALF(rm, q));
        }
        const unsigned g = MBITS(gt), l = MBITS(le), u = MBITS(tp), k = MBITS(tm);
        *hits += __builtin_popcount(((g & u) | (l & ~u)) & k);
    }
}

#define FX_HAS_bce_eval_run 1
FX_INLINE void FN(bce_eval_run)(const FX_T *x, const FX_T *t, ptrdiff_t n, const double *w, double *sums,
                                FX_T *p)
{
    const VT zero = VZERO();
    const MT all = VEQ(zero, zero);
    DT a[NHALF], c[NHALF], h[NHALF], d[NHALF];
    for (int q = 0; q < NHALF; q++) a[q] = c[q] = h[q] = d[q] = DZERO();
    int64_t hits = 0;
    ptrdiff_t j = 0;
    /* four vectors side by side (as bce_simd: one vector's exp -> division
     * chain is too long for the scheduler to overlap alone) */
    for (; j + 4 * VL <= n; j += 4 * VL) {
        VT loss[4], r2[4];
        MT gt[4], le[4], tp[4];
#pragma GCC unroll 4
        for (int u = 0; u < 4; u++) {
            const VT sp = FN(evb_terms)(VLOADU(x + j + u * VL), VLOADU(t + j + u * VL), &loss[u], &r2[u],
                                        &gt[u], &le[u], &tp[u]);
            VSTOREU(p + j + u * VL, sp);
        }
#pragma GCC unroll 4
        for (int u = 0; u < 4; u++)
            FN(evb_add)(loss[u], r2[u], gt[u], le[u], tp[u], all, VL, w ? w + j + u * VL : NULL, a, c, h, d, &hits);
    }
    for (; j < n; j += VL) {
        const int left = n - j < VL ? (int)(n - j) : VL;
        const MT tm = left == VL ? all : MTAIL(left);
        const VT v = left == VL ? VLOADU(x + j) : VLOADM(x + j, tm, 0);
        const VT tt = left == VL ? VLOADU(t + j) : VLOADM(t + j, tm, 0);
        VT loss, r2;
        MT gt, le, tp;
        const VT sp = FN(evb_terms)(v, tt, &loss, &r2, &gt, &le, &tp);
        if (left == VL) VSTOREU(p + j, sp); else VSTOREM(p + j, sp, tm);
        FN(evb_add)(loss, r2, gt, le, tp, tm, left, w ? w + j : NULL, a, c, h, d, &hits);
    }
    for (int q = 0; q < NHALF; q++) {
        sums[0] += DHSUM(a[q]);
        sums[2] += DHSUM(c[q]);
        if (w) {
            sums[1] += DHSUM(h[q]);
            sums[3] += DHSUM(d[q]);
        }
    }
    if (!w) {
        sums[1] += (double)hits;
        sums[3] += (double)n;
    }
}
#undef NHALF

/* ---------------------------------------------------------------- the options' transformed logits */

/* fx_elementwise.h's zform (the same formulas and arguments) with the
 * soft-cap's tanh and sech^2 from one expm1 (vtanh_c). */
#define FX_HAS_zform 1
#define FX_ZFORM_LOOP(BODY, SCALE)                                                 \
    for (; j + VL <= n; j += VL) {                                                 \
        const MT tm = VEQ(zero, zero);                                             \
        const VT v = VMUL(SCALE, VLOADU(x + j));                                   \
        BODY(VSTOREU(z + j, zv), VSTOREU(d + j, dv))                               \
    }                                                                              \
    if (j < n) {                                                                   \
        const MT tm = MTAIL(n - j);                                                \
        const VT v = VMUL(SCALE, VLOADM(x + j, tm, 0));                            \
        BODY(VSTOREM(z + j, zv, tm), VSTOREM(d + j, dv, tm))                       \
    }
#define FX_ZFORM_BOTH(STORE_Z, STORE_D)                                            \
    VT s2; const VT zv = FN(vtanh_c)(v, cc, &s2); const VT dv = VMUL(ds, s2);     \
    (void)tm; STORE_Z; STORE_D;
#define FX_ZFORM_CAP(STORE_Z, STORE_D) const VT zv = FN(vtanh_c)(v, cc, NULL); (void)tm; STORE_Z;
#define FX_ZFORM_SCALE(STORE_Z, STORE_D) const VT zv = v; (void)tm; STORE_Z;
static void FN(zform)(const FX_T *x, FX_T *z, FX_T *d, ptrdiff_t n, double s, double cap, double dscale)
{
    const VT ss = VSET((FX_T)s), cc = VSET((FX_T)cap), ds = VSET((FX_T)dscale), zero = VZERO();
    const VT m2s = VSET((FX_T)(-2.0 * s));       /* vtanh_c's argument -2u, u = s x: exact */
    ptrdiff_t j = 0;
    if (cap > 0 && d != NULL) {
        FX_ZFORM_LOOP(FX_ZFORM_BOTH, m2s)
    } else if (cap > 0) {
        FX_ZFORM_LOOP(FX_ZFORM_CAP, m2s)
    } else {
        FX_ZFORM_LOOP(FX_ZFORM_SCALE, ss)
    }
}
#undef FX_ZFORM_LOOP
#undef FX_ZFORM_BOTH
#undef FX_ZFORM_CAP
#undef FX_ZFORM_SCALE

/* ---------------------------------------------------------------- the vector math alone (ULP) */

#define FX_HAS_vecmath_simd 1
#define FX_VM_SIMD(F)                                                              \
    for (; j + VL <= n; j += VL) VSTOREU(y + j, F(VLOADU(x + j)));                 \
    if (j < n) { MT t = MTAIL(n - j); VSTOREM(y + j, F(VLOADM(x + j, t, 0)), t); }  \
    return 1;
/* the kernels' functions of fx_vecmath_fns.def through this path's
 * intrinsics; 0 for the portable ones (fx_elementwise.h runs those) */
static int FN(vecmath_simd)(int fn, const FX_T *x, FX_T *y, ptrdiff_t n)
{
    ptrdiff_t j = 0;
    switch (fn) {
#define FX_VMFN(id, name, scalar)
#define FX_VMFN_K(id, name, scalar, vector) case FX_VM_##id: FX_VM_SIMD(FN(vector))
#include "fx_vecmath_fns.def"
    }
    return 0;
}
#undef FX_VM_SIMD
