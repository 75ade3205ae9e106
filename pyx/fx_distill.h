/* fx_distill.h -- the portable body of distill_rows (fx_ops.def): the
 * divergence between a teacher's and a student's softmax, row by row,
 * with the student's cross-entropy at temperature 1 and the gradient with
 * respect to the student's logits.  Computed in double, except on float
 * inputs: in float with the row's offset carried as a difference
 * (distill_row_f below).
 *
 * With a = x / T, b = t / T (student, teacher), Q = softmax(a),
 * P = softmax(b) and r_j = log(P_j / Q_j) = (t_j - x_j) / T - c, where
 * c = lse(b) - lse(a) (the series and closed forms below), every divergence is a sum of per-class terms that
 * are non-negative and vanish with r_j -- never the difference of
 * sum_j P_j (b_j - a_j) and the two log-sum-exps, which cancels to
 * nothing for a student close to its teacher:
 *   KL(P||Q) = sum_j Q_j phi(r_j),      phi(r) = (r - 1) e^r + 1
 *   KL(Q||P) = sum_j Q_j (e^r_j - 1 - r_j)
 *   JSD      = sum_j Q_j G(r_j),        G(r) = beta r e^r - m log m,
 *                                       m = 1 + beta (e^r - 1)
 * (the generalized KL sum_j P log(P/Q) - P + Q, and Jensen's inequality
 * for x log x).  The rounding eta of c scales P by e^-eta; each sum is
 * stationary in that scale at P = Q, so eta costs O(eta^2 + eta D), not
 * eta: near-identical rows keep their relative accuracy.  For |r| < tau
 * a term is Q_j r^2 poly(r) (the caller's Taylor coefficients cs), else
 * the closed form from P_j, Q_j, r_j, whose cancellation at |r| >= tau is
 * bounded (1 / phi(tau)).  The exp-sums are double: their rounding is
 * eta.
 *
 * Gradients (d/da; the caller's per-row scale gs holds the 1/T and T^2):
 * KL: Q - P; reverse: Q (-r - D); JSD: Q (v - sum_i Q_i v_i),
 * v = -(1 - beta) log(M / Q).  Hard term: softmax(x) - onehot(y), scale gh.
 * buf: scratch of 2 C doubles.  A row with both scales 0 gets a zero gradient.  Labels y < 0: no hard
 * term (hard = 0).  NaN or +inf anywhere in a row, or a row all -inf,
 * makes its outputs NaN (its gradient too, unless both scales are 0). */

#ifndef FX_HAS_distill_rows

/* exp(v) for v <= 0, exactly 0 below the subnormals (the closed forms
 * guard their products with p > 0, q > 0: -inf logits) */
#define FX_DEXP0(v) ((v) > -745.0 ? fx_expneg_d(v) : 0.0)

#define FX_DPOLY(c, r, out)                                                    \
    do {                                                                      \
        double s_ = (c)[FX_DISTILL_NPOLY - 1];                                \
        for (int k_ = FX_DISTILL_NPOLY - 2; k_ >= 0; k_--) s_ = s_ * (r) + (c)[k_]; \
        (out) = s_;                                                           \
    } while (0)

/* The quantities of element j: q, p, their logs, r, the series branch. */
#define FX_DISTILL_ELEM                                                        \
    double xd = (double)xi[j], td = (double)ti[j];                            \
    double lq = (xd - ms) * it - lW, lp = (td - mt) * it - lV;               \
    double q = bw[j] * iW, p = bv[j] * iV;                                    \
    double r = FX_DISTILL_R(xd, td);                                          \
    int small = (r < tau) & (r > -tau);                                       \
    double rs = small ? r : 0.0;                                              \
    (void)lq; (void)lp; (void)p; (void)q; (void)rs; /* each use needs some */

/* r_j = (t_j - x_j - c0) / T, c0 = c T the offset in the logits' units.
 * Each r_j must be right to a few units of its own size (a per-element
 * error e costs e / r of the row's value; a common one only e^2): t - x is
 * exact for float inputs, in double carries its rounding error (TwoSum,
 * NaN -> 0 for infinite logits), and t - x - c0 cancels exactly
 * (Sterbenz) before the one rounding of the scaling by 1/T. */
#if FX_IS_FLOAT
#  define FX_DISTILL_R(xd, td) (((td) - (xd)) - c0) * it
#else
#  define FX_DISTILL_R(xd, td) FN(distill_r2)(xd, td, c0, it)
FX_INLINE double FN(distill_r2)(double x, double t, double c0, double it)
{
    double s = t - x, bp = s - t, ap = s - bp;
    double e = (t - ap) + (-x - bp);
    e = e == e ? e : 0.0;
    return ((s - c0) + e) * it;
}
#endif

/* KL(P||Q)'s term of element j, added to S */
#define FX_KL_TERM                                                             \
    double ser;                                                               \
    FX_DPOLY(cs, rs, ser);                                                    \
    double term = small ? q * (rs * rs * ser) : (p > 0.0 ? (r - 1.0) * p : 0.0) + q; \
    S += term < 0.0 ? 0.0 : term;

/* The gradient pass: element j gets the divergence's part SG (an
 * expression of the element's quantities, EXTRA declares what it needs) at
 * scale a, the hard term's softmax(x) at scale h; the label's element is
 * redone after the loop (FX_DISTILL_FIXY, computed before it, so that g
 * may be x: p_y - 1 as expm1, no cancellation for a confident row, no
 * label compare in the vector loop).
 * Two loops, not `sep ? exp(..) : q` in one: GCC vectorizes neither a
 * branch around an exp nor an unused exp away. */
#define FX_DISTILL_GRAD_LOOP(EXTRA, SG)                                        \
    if (h != 0.0) {                                                           \
        _Pragma("omp simd")                                                   \
        for (ptrdiff_t j = 0; j < C; j++) {                                   \
            FX_DISTILL_ELEM                                                   \
            EXTRA                                                             \
            double hq = FX_DEXP0(sep ? (xd - ms) - lH : lq);                  \
            gi[j] = (FX_T)(a * (SG) + h * hq);                                \
        }                                                                     \
    } else {                                                                  \
        _Pragma("omp simd")                                                   \
        for (ptrdiff_t j = 0; j < C; j++) {                                   \
            FX_DISTILL_ELEM                                                   \
            EXTRA                                                             \
            gi[j] = (FX_T)(a * (SG));                                         \
        }                                                                     \
    }
#define FX_DISTILL_FIXY(EXTRA, SG)                                             \
    if (h != 0.0) {                                                           \
        const ptrdiff_t j = yi;                                               \
        FX_DISTILL_ELEM                                                       \
        EXTRA                                                                 \
        fixy = a * (SG) + h * expm1((xd - ms) - lH);                          \
    }

#if FX_IS_FLOAT
/* The float32 path (every divergence): the same terms as below, in
 * float, with only the row's offset c = lse(b) - lse(a) and the sums
 * carried further.  c is what must be right to ~1e-8 (its error eta
 * costs eta^2 of a divergence that may be 1e-12), and float exp-sums V and
 * W are not: c = c1 + log(sum_j Q_j e^(delta_j)), c1 = (mt - ms) / T and
 * delta_j = (t_j - x_j) / T - c1, so c - c1 = log1p(U / W) with
 *   U = sum_j w_j expm1(delta_j)      (= V - W term by term: w e^delta = v)
 * whose terms for |delta| < 1/4 are w_j delta_j E(delta_j) to float's
 * relative precision: U carries the row's difference, not its rounding.
 * For |delta| >= 1/4, v_j - w_j (at most a factor 4.4 lost; and it keeps
 * the teacher's mass where the student's exp underflows).  delta_j is
 * t_j - x_j with its rounding error (TwoSum), less c1 as a float pair:
 * exact where it is small, which is where its size matters.  The
 * per-element errors of w, v (a few ulp) are relative errors of their own
 * terms only; the sums run in float over CHUNK elements (at most CHUNK /
 * lanes additions per lane -- 32 at 16 lanes, 128 at 4 -- so a relative
 * error below that many eps of the chunk's sum: W's scales the result,
 * U's is relative to the rows' difference) and in double across chunks.
 * The terms: for |r| < tau = 1/4 Taylor series, truncation <= 1e-6
 * relative: phi(r)/r^2 = sum (k+1)/(k+2)! r^k (degree 5), psi(r)/r^2 =
 * (e^r - 1 - r)/r^2 = sum r^k/(k+2)! (degree 4), E(r) = expm1(r)/r =
 * sum r^k/(k+1)! (degree 6 for the gradient, 4 for U); else the closed
 * forms from p and q, which lose at most a factor 40 (at |r| = tau) to
 * cancellation -- of roundings that must therefore be small: the
 * teacher's exp is v = w e^delta where |delta| < 20, not exp((t - mt) /
 * T), whose rounding eps |t - mt| / T (and w's) for logits far below the
 * maximum would be magnified (one exp either way: of delta, or beyond 20
 * of the teacher's logit, which keeps its mass where w underflows;
 * fx_expneg_fast_f is right for arguments up to 88, its scale 2^n built
 * for n <= 127).  buf: 3 C floats (w, v, delta). */
#define FX_DF_TAU 0.25f
#define FX_DF_MID 20.0f
#define FX_DF_CHUNK 512
/* Taylor coefficients: phi(r)/r^2, psi(r)/r^2 and E(r) (degree 6; its
 * first five terms are E4) */
#ifndef FX_DF_COEFFS         /* (once: this header is read per type and path) */
#define FX_DF_COEFFS
static const float fx_df_phi[6] = {1.0f / 2, 1.0f / 3, 1.0f / 8, 1.0f / 30, 1.0f / 144, 1.0f / 840};
static const float fx_df_psi[5] = {1.0f / 2, 1.0f / 6, 1.0f / 24, 1.0f / 120, 1.0f / 720};
static const float fx_df_e[7] = {1.0f, 1.0f / 2, 1.0f / 6, 1.0f / 24, 1.0f / 120, 1.0f / 720, 1.0f / 5040};
#endif
/* sum_k c[k] r^k, n terms, by Horner (n a constant: unrolled) */
#define FX_FPOLY(c, n, r, out)                                                 \
    do {                                                                      \
        float s_ = (c)[(n) - 1];                                              \
        for (int k_ = (n) - 2; k_ >= 0; k_--) s_ = s_ * (r) + (c)[k_];        \
        (out) = s_;                                                           \
    } while (0)

/* The gradient loops: BODY defines the divergence's part D of element j
 * (scale af), plus the hard term's softmax(x) at scale hf -- one loop per
 * case, as GCC vectorizes no branch around an exp. */
#define FX_DF_GRAD_LOOPS(BODY, D)                                              \
    if (hf == 0.0f) {                                                         \
        _Pragma("omp simd")                                                   \
        for (ptrdiff_t j = 0; j < C; j++) {                                   \
            BODY                                                              \
            gi[j] = af * (D);                                                 \
        }                                                                     \
    } else if (!sep) {                                                        \
        _Pragma("omp simd")                                                   \
        for (ptrdiff_t j = 0; j < C; j++) {                                   \
            BODY                                                              \
            gi[j] = af * (D) + hf * q;                                        \
        }                                                                     \
    } else {                                                                  \
        _Pragma("omp simd")                                                   \
        for (ptrdiff_t j = 0; j < C; j++) {                                   \
            BODY                                                              \
            gi[j] = af * (D) + hf * fx_expneg_fast_f((xi[j] - msf) - lHf);   \
        }                                                                     \
    }

/* One row of distill_rows on the float path, maxima finite.  Returns 0,
 * having written nothing, when the row holds a NaN. */
static int FN(distill_row_f)(const float *xi, const float *ti, int64_t yi, int hot, ptrdiff_t C, float msf,
                             float mtf, const fx_distill *o, double a, double h, float *gi, double *soft,
                             double *hard, float *buf)
{
    const double it = o->it;
    const int div = o->div;
    float *bw = buf, *bv = buf + C, *bd = buf + 2 * C;
    const float itf = (float)it;
    const double c1 = (double)mtf - (double)msf;
    const float c1h = (float)c1, c1l = (float)(c1 - (double)c1h);
    const int sep = it != 1.0;
    /* W and H as (the count N of maxima) + (the rest): 1 - softmax(x)_y of a
     * confident row is the rest over the sum, to its own relative precision */
    double N = 0.0, W = 0.0, U = 0.0, H = 0.0;
#define FX_DF_EXPS                                                             \
    float xv = xi[j], tv = ti[j];                                             \
    float w = fx_expneg_fast_f((xv - msf) * itf);                             \
    float s = tv - xv, bp = s - tv, e = (tv - (s - bp)) - (xv + bp);          \
    e = e == e ? e : 0.0f;              /* (infinite logits) */              \
    float d = ((s - c1h) + (e - c1l)) * itf;                                  \
    int mid = (d < FX_DF_MID) & (d > -FX_DF_MID);                             \
    float ev = fx_expneg_fast_f(mid ? d : (tv - mtf) * itf);                  \
    float v = mid ? w * ev : ev;                                              \
    float e4;                                                                 \
    FX_FPOLY(fx_df_e, 5, d, e4);                                              \
    float u = (d < FX_DF_TAU && d > -FX_DF_TAU) ? w * (d * e4) : v - w;      \
    bw[j] = w;                                                                \
    bv[j] = v;                                                                \
    bd[j] = d;                                                                \
    int top = xv == msf;                                                      \
    Nf += top ? 1.0f : 0.0f;                                                  \
    Wf += top ? 0.0f : w;                                                     \
    Uf += u;
    for (ptrdiff_t j0 = 0; j0 < C; j0 += FX_DF_CHUNK) {
        const ptrdiff_t j1 = C - j0 < FX_DF_CHUNK ? C : j0 + FX_DF_CHUNK;
        float Nf = 0.0f, Wf = 0.0f, Uf = 0.0f, Hf = 0.0f;
        if (hot && sep) {
#pragma omp simd reduction(+:Nf,Wf,Uf,Hf)
            for (ptrdiff_t j = j0; j < j1; j++) {
                FX_DF_EXPS
                Hf += top ? 0.0f : fx_expneg_fast_f(xv - msf);
            }
        } else {
#pragma omp simd reduction(+:Nf,Wf,Uf)
            for (ptrdiff_t j = j0; j < j1; j++) {
                FX_DF_EXPS
            }
        }
        N += (double)Nf;
        W += (double)Wf;
        U += (double)Uf;
        H += (double)Hf;
    }
#undef FX_DF_EXPS
    if (!(W == W && U == U))
        return 0;
    H = hot && sep ? H : W;
    const double lH = log1p((N - 1.0) + H), Wr = W;
    W += N;
    const double c2 = log1p(U / W);
    const float c2f = (float)c2, iWf = (float)(1.0 / W), iVf = (float)(1.0 / (W + U));
    hard[0] = hot ? ((double)msf + lH) - (double)xi[yi] : 0.0;
    double fixy = 0.0;      /* the label's gradient element, read before the row (maybe x) is written */
    const float af = (float)a, hf = (float)h, lHf = (float)lH;
#define FX_DF_ELEM                                                             \
    float r = bd[j] - c2f, q = bw[j] * iWf, p = bv[j] * iVf;                  \
    int small = (r < FX_DF_TAU) & (r > -FX_DF_TAU);                           \
    float rs = small ? r : 0.0f;
    if (gi && h != 0.0) {
        const ptrdiff_t j = yi;
        FX_DF_ELEM
        float e6;
        FX_FPOLY(fx_df_e, 7, rs, e6);
        double dq = small ? -(double)q * rs * e6 : (double)q - (double)p;
        fixy = h * expm1(((double)xi[yi] - (double)msf) - lH);
        if (div == 0) fixy += a * dq;
    }
    double S = 0.0;
    if (div == 0) {
        for (ptrdiff_t j0 = 0; j0 < C; j0 += FX_DF_CHUNK) {
            const ptrdiff_t j1 = C - j0 < FX_DF_CHUNK ? C : j0 + FX_DF_CHUNK;
            float Sf = 0.0f;
#pragma omp simd reduction(+:Sf)
            for (ptrdiff_t j = j0; j < j1; j++) {
                FX_DF_ELEM
                float ph;
                FX_FPOLY(fx_df_phi, 6, rs, ph);
                float term = small ? q * (rs * rs * ph) : (p > 0.0f ? (r - 1.0f) * p : 0.0f) + q;
                Sf += term < 0.0f ? 0.0f : term;
            }
            S += (double)Sf;
        }
        if (gi) {
            /* Q - P = -Q expm1(r): no cancellation near the teacher.  (A
             * loop of its own: fused with the sum above, GCC keeps the
             * masked reduction in memory.) */
#define FX_DF_KL_BODY                                                          \
    FX_DF_ELEM                                                                \
    float e6;                                                                 \
    FX_FPOLY(fx_df_e, 7, rs, e6);                                             \
    float dq = small ? -q * (rs * e6) : q - p;
            FX_DF_GRAD_LOOPS(FX_DF_KL_BODY, dq)
#undef FX_DF_KL_BODY
        }
    } else if (div == 2) {
        /* Jensen-Shannon: with L = log(M/Q) = log(beta e^r + 1 - beta), a
         * function of r alone (the series cl below tau; else the log of
         * beta p/q + 1 - beta), the term is beta p (r - L) - (1 - beta) q L
         * (G(r) = beta r e^r - m log m, m = e^L, times q), its cancellation
         * at |r| >= tau bounded as phi's; q = 0: p's log(P/M) is -log beta.
         * Gradient -(1 - beta) Q_j (L_j - sum_i Q_i L_i), at the maxima of x
         * (where a confident row's Q_j is near 1 and the difference small)
         * as L_j (1 - Q_top) + (L_j Q_top - sum_top Q L) - sum_rest Q L,
         * 1 - Q_top the rest of W over W.  Seven terms of
         * each series: the first dropped is below 1e-7 of the leading one
         * at tau for beta in [0.01, 0.99] (and their limits). */
        const float bf = (float)o->beta, b1 = (float)(1.0 - o->beta), nlb = (float)(-log(o->beta));
        float csf[7], clf[7];
        for (int k = 0; k < 7; k++) {
            csf[k] = (float)o->cs[k];
            clf[k] = (float)o->cl[k];
        }
#define FX_DF_JSD_L                                                            \
    FX_DF_ELEM                                                                \
    float ls;                                                                 \
    FX_FPOLY(clf, 7, rs, ls);                                                 \
    float L = small ? ls * rs : fx_log_f(bf * (p / (q > 0.0f ? q : 1.0f)) + b1);
        double A = 0.0, At = 0.0;
        for (ptrdiff_t j0 = 0; j0 < C; j0 += FX_DF_CHUNK) {
            const ptrdiff_t j1 = C - j0 < FX_DF_CHUNK ? C : j0 + FX_DF_CHUNK;
            float Sf = 0.0f, Af = 0.0f, Atf = 0.0f;
#pragma omp simd reduction(+:Sf,Af,Atf)
            for (ptrdiff_t j = j0; j < j1; j++) {
                FX_DF_JSD_L
                float ser;
                FX_FPOLY(csf, 7, rs, ser);
                float dir = (p > 0.0f ? bf * p * (q > 0.0f ? r - L : nlb) : 0.0f) - (q > 0.0f ? b1 * q * L : 0.0f);
                float term = small ? q * (rs * rs * ser) : dir;
                Sf += term < 0.0f ? 0.0f : term;
                float qL = q > 0.0f ? q * L : 0.0f;
                int top = xi[j] == msf;
                Af += top ? 0.0f : qL;
                Atf += top ? qL : 0.0f;
            }
            S += (double)Sf;
            A += (double)Af;
            At += (double)Atf;
        }
        if (gi) {
            const double rho = Wr / W, Qt = N / W;
            const float Abar = (float)(A + At), Ar = (float)A, Atop = (float)At, rhof = (float)rho,
                        Qtf = (float)Qt;
            if (h != 0.0) {
                const ptrdiff_t j = yi;
                FX_DF_JSD_L
                const double dl = xi[j] == msf ? ((double)L * rho + ((double)L * Qt - At)) - A : (double)L - (A + At);
                fixy += a * (q > 0.0f ? -(double)b1 * (double)q * dl : 0.0);
            }
#define FX_DF_JS_BODY                                                          \
    FX_DF_JSD_L                                                               \
    float dl = xi[j] == msf ? (L * rhof + (L * Qtf - Atop)) - Ar : L - Abar;  \
    float dq = q > 0.0f ? -b1 * q * dl : 0.0f;
            FX_DF_GRAD_LOOPS(FX_DF_JS_BODY, dq)
#undef FX_DF_JS_BODY
        }
#undef FX_DF_JSD_L
    } else {
        /* the gradient Q_j (-r_j - D) as -Q_j (delta_j - dbar), dbar =
         * sum Q delta (D = -sum Q r, r = delta - c2, sum Q = 1): c2 drops
         * out, and neither D's series and closed forms nor r's rounding
         * enter the difference, which may be far smaller than either --
         * at a confident row's maximum delta is 0 and dbar a sum of small
         * products */
        double A = 0.0;
        for (ptrdiff_t j0 = 0; j0 < C; j0 += FX_DF_CHUNK) {
            const ptrdiff_t j1 = C - j0 < FX_DF_CHUNK ? C : j0 + FX_DF_CHUNK;
            float Sf = 0.0f, Af = 0.0f;
#pragma omp simd reduction(+:Sf,Af)
            for (ptrdiff_t j = j0; j < j1; j++) {
                FX_DF_ELEM
                float ps;
                FX_FPOLY(fx_df_psi, 5, rs, ps);
                float term = small ? q * (rs * rs * ps) : (q > 0.0f ? (-r - 1.0f) * q : 0.0f) + p;
                Sf += term < 0.0f ? 0.0f : term;
                Af += q > 0.0f ? q * bd[j] : 0.0f;
            }
            S += (double)Sf;
            A += (double)Af;
        }
        if (gi) {
            const float Abar = (float)A;
            if (h != 0.0) {
                const ptrdiff_t j = yi;
                FX_DF_ELEM
                (void)p; (void)rs;
                fixy += a * (q > 0.0f ? -(double)q * ((double)bd[j] - A) : 0.0);
            }
#define FX_DF_RV_BODY                                                          \
    FX_DF_ELEM                                                                \
    (void)p; (void)rs;                                               \
    float dq = q > 0.0f ? -q * (bd[j] - Abar) : 0.0f;
            FX_DF_GRAD_LOOPS(FX_DF_RV_BODY, dq)
#undef FX_DF_RV_BODY
        }
    }
#undef FX_DF_ELEM
    soft[0] = S;
    if (gi && h != 0.0)
        gi[yi] = (float)fixy;
    return 1;
}
#endif

static void FN(distill_rows)(const FX_T *x, const FX_T *t, const int64_t *y, ptrdiff_t n, ptrdiff_t C,
                             const fx_distill *o, const double *gs, const double *gh, FX_T *g,
                             double *soft, double *hard, double *buf)
{
    double *bw = buf, *bv = buf + C;
    const double it = o->it, beta = o->beta, tau = o->tau;
    const double *cs = o->cs, *cl = o->cl;
    const int div = o->div;
    for (ptrdiff_t i = 0; i < n; i++) {
        const FX_T *xi = x + i * C, *ti = t + i * C;
        const int64_t yi = y ? y[i] : -1;
        const int hot = yi >= 0 && yi < C;
        const double ms = (double)FN(rowmax)(xi, C), mt = (double)FN(rowmax)(ti, C);
        /* NaN anywhere, a +inf, or a row all -inf: the row's outputs are NaN
         * (the max skips NaN; the count finds them) */
        const int fin = ms > -HUGE_VAL && ms < HUGE_VAL && mt > -HUGE_VAL && mt < HUGE_VAL;
        int nn = 0;
#if FX_IS_FLOAT
        if (fin) {      /* (the float path finds NaN in its sums) */
            const double a0 = g ? gs[i] : 0.0, h0 = g && hot ? gh[i] : 0.0;
            const int wg0 = g && (a0 != 0.0 || h0 != 0.0);
            if (FN(distill_row_f)(xi, ti, yi, hot, C, (float)ms, (float)mt, o, a0, h0,
                                  wg0 ? g + i * C : NULL, soft + i, hard + i, (float *)buf)) {
                if (g && !wg0)
                    for (ptrdiff_t j = 0; j < C; j++) g[i * C + j] = 0;
                continue;
            }
            nn = 1;
        } else
#endif
        {
#pragma omp simd reduction(+:nn)
            for (ptrdiff_t j = 0; j < C; j++) nn += (xi[j] != xi[j]) | (ti[j] != ti[j]);
        }
        if (nn || !fin) {
            soft[i] = hard[i] = NAN;
            if (g) {
                const FX_T v = gs[i] == 0.0 && (!hot || gh[i] == 0.0) ? (FX_T)0 : (FX_T)NAN;
                for (ptrdiff_t j = 0; j < C; j++) g[i * C + j] = v;
            }
            continue;
        }
        /* the exps of the row, kept in buf for the passes after (exactly
         * 0 for -inf logits: the closed forms test q > 0, p > 0) */
        double W = 0.0, V = 0.0, H = 0.0;
        if (hot && it != 1.0) {
#pragma omp simd reduction(+:W,V,H)
            for (ptrdiff_t j = 0; j < C; j++) {
                double xd = (double)xi[j], w = FX_DEXP0((xd - ms) * it), v = FX_DEXP0(((double)ti[j] - mt) * it);
                bw[j] = w;
                bv[j] = v;
                W += w;
                V += v;
                H += fx_expneg_d(xd - ms);
            }
        } else {
#pragma omp simd reduction(+:W,V)
            for (ptrdiff_t j = 0; j < C; j++) {
                double w = FX_DEXP0(((double)xi[j] - ms) * it), v = FX_DEXP0(((double)ti[j] - mt) * it);
                bw[j] = w;
                bv[j] = v;
                W += w;
                V += v;
            }
            H = W;
        }
        const double lW = log(W), lV = log(V), lH = log(H), iW = 1.0 / W, iV = 1.0 / V;
        const double c0 = (mt - ms) + (lV - lW) / it;
        /* g may be x itself: everything read from row i of x after its
         * gradient is written is read before (the label's element: fixy) */
        hard[i] = hot ? (ms + lH) - (double)xi[yi] : 0.0;
        double S = 0.0, A = 0.0, fixy = 0.0;
        FX_T *gi = g ? g + i * C : NULL;
        const double a = g ? gs[i] : 0.0, h = g && hot ? gh[i] : 0.0;
        const int sep = it != 1.0, wg = g && (a != 0.0 || h != 0.0);
        if (g && !wg)
            for (ptrdiff_t j = 0; j < C; j++) gi[j] = 0;
        if (div == 0) {
#pragma omp simd reduction(+:S)
            for (ptrdiff_t j = 0; j < C; j++) {
                FX_DISTILL_ELEM
                FX_KL_TERM
            }
            if (wg) {       /* (GCC does not vectorize the two loops fused) */
                /* Q - P as (w - v W/V) / W: exactly 0 for equal rows, FMA or not */
                const double rho = W / V;
                FX_DISTILL_FIXY((void)rs;, (bw[j] - bv[j] * rho) * iW)
                FX_DISTILL_GRAD_LOOP((void)rs;, (bw[j] - bv[j] * rho) * iW)
            }
        } else if (div == 1) {
#pragma omp simd reduction(+:S)
            for (ptrdiff_t j = 0; j < C; j++) {
                FX_DISTILL_ELEM
                double ser;
                FX_DPOLY(cs, rs, ser);
                double term = small ? q * (rs * rs * ser) : (q > 0.0 ? (-r - 1.0) * q : 0.0) + p;
                S += term < 0.0 ? 0.0 : term;
            }
            if (wg) {
                FX_DISTILL_FIXY((void)rs;, q > 0.0 ? q * (-r - S) : 0.0)
                FX_DISTILL_GRAD_LOOP((void)rs;, q > 0.0 ? q * (-r - S) : 0.0)
            }
        } else {
#pragma omp simd reduction(+:S,A)
            for (ptrdiff_t j = 0; j < C; j++) {
                FX_DISTILL_ELEM
                double ser, lser;
                FX_DPOLY(cs, rs, ser);
                FX_DPOLY(cl, rs, lser);
                double lm = fx_log_d(beta * p + (1.0 - beta) * q);
                double dir = (p > 0.0 ? beta * p * (lp - lm) : 0.0) + (q > 0.0 ? (1.0 - beta) * q * (lq - lm) : 0.0);
                double term = small ? q * (rs * rs * ser) : dir;
                double lmq = small ? rs * lser : lm - lq;     /* log(M_j / Q_j) */
                S += term < 0.0 ? 0.0 : term;
                A += q > 0.0 ? q * lmq : 0.0;
            }
            if (wg) {
#define FX_JSD_LMQ                                                             \
    double lser;                                                              \
    FX_DPOLY(cl, rs, lser);                                                   \
    double lmq = small ? rs * lser : fx_log_d(beta * p + (1.0 - beta) * q) - lq;
                FX_DISTILL_FIXY(FX_JSD_LMQ, q > 0.0 ? -(1.0 - beta) * q * (lmq - A) : 0.0)
                FX_DISTILL_GRAD_LOOP(FX_JSD_LMQ, q > 0.0 ? -(1.0 - beta) * q * (lmq - A) : 0.0)
            }
        }
        soft[i] = S;
        if (h != 0.0)
            gi[yi] = (FX_T)fixy;
    }
}

#endif

#ifndef FX_HAS_distill_sparse_rows
/* distill_sparse_rows: the divergence against a sparse teacher -- k class
 * ids idx (distinct, in [0, C)) and their log-probabilities lp per row --
 * for the coarsened distributions: the k classes plus one bucket holding
 * the rest of each (tail 0), or both renormalized over the k (tail 1).
 * The student's rest is summed over its own classes (a mask of the k), not
 * formed as 1 - sum: no cancellation when the k hold nearly everything.
 * The (k+1)-entry divergence uses the terms of distill_rows.  Gradient
 * (d/da): Q_j (z_g(j) - sum_i Q'_i z_i), g(j) the entry of class j, z the
 * divergence's derivative in Q' (KL: -P'/Q'; reverse: log Q'/P'; JSD:
 * (1 - beta) log(Q'/M')); classes outside the k get 0 when renormalized.
 * buf: C doubles (the student's exps) + C bytes (the mask, left zeroed)
 * + 6 (k + 1) doubles (the mask is zeroed here).  Outputs as distill_rows,
 * the divergence and the hard term of row i at sh[2 i], sh[2 i + 1]. */
static void FN(distill_sparse_rows)(const FX_T *x, const int64_t *idx, const FX_T *lpr, const int64_t *y,
                                    ptrdiff_t n, ptrdiff_t C, ptrdiff_t k, int tail, const fx_distill *o,
                                    const double *gs, const double *gh, FX_T *g, double *sh, double *buf)
{
    const double it = o->it, beta = o->beta, tau = o->tau;
    const double *cs = o->cs, *cl = o->cl;
    const int div = o->div;
    double *bw = buf;
    unsigned char *mask = (unsigned char *)(buf + C);
    double *lpv = buf + C + (C + 7) / 8, *lqv = lpv + (k + 1), *pv = lqv + (k + 1), *qv = pv + (k + 1);
    double *zv = qv + (k + 1), *tv = zv + (k + 1);
    memset(mask, 0, (size_t)C);
    for (ptrdiff_t i = 0; i < n; i++) {
        const FX_T *xi = x + i * C, *li = lpr + i * k;
        const int64_t *ii = idx + i * k;
        const int64_t yi = y ? y[i] : -1;
        const int hot = yi >= 0 && yi < C;
        const double ms = (double)FN(rowmax)(xi, C);
        int nn = 0;
#pragma omp simd reduction(+:nn)
        for (ptrdiff_t j = 0; j < C; j++) nn += xi[j] != xi[j];
        for (ptrdiff_t q = 0; q < k; q++) nn += !((double)li[q] <= 0.0) && !((double)li[q] > 0.0);
        if (nn || !(ms > -HUGE_VAL && ms < HUGE_VAL)) {
            sh[2 * i] = sh[2 * i + 1] = NAN;
            if (g) {
                const FX_T v = gs[i] == 0.0 && (!hot || gh[i] == 0.0) ? (FX_T)0 : (FX_T)NAN;
                for (ptrdiff_t j = 0; j < C; j++) g[i * C + j] = v;
            }
            continue;
        }
        for (ptrdiff_t q = 0; q < k; q++) mask[ii[q]] = 1;
        double W = 0.0, Wr = 0.0, H = 0.0;
        if (hot && it != 1.0) {
#pragma omp simd reduction(+:W,Wr,H)
            for (ptrdiff_t j = 0; j < C; j++) {
                double xd = (double)xi[j], w = FX_DEXP0((xd - ms) * it);
                bw[j] = w;
                W += w;
                Wr += mask[j] ? 0.0 : w;
                H += fx_expneg_d(xd - ms);
            }
        } else {
#pragma omp simd reduction(+:W,Wr)
            for (ptrdiff_t j = 0; j < C; j++) {
                double w = FX_DEXP0(((double)xi[j] - ms) * it);
                bw[j] = w;
                W += w;
                Wr += mask[j] ? 0.0 : w;
            }
            H = W;
        }
        const double lW = log(W), lH = log(H), iW = 1.0 / W;
        /* the entries: the k classes, then (bucket) the rests */
        double sp = 0.0, sq = 0.0;
        for (ptrdiff_t q = 0; q < k; q++) {
            lpv[q] = (double)li[q];
            lqv[q] = ((double)xi[ii[q]] - ms) * it - lW;
            sp += exp(lpv[q]);
            sq += bw[ii[q]] * iW;
        }
        ptrdiff_t m = k;
        if (tail == 0 && k < C) {       /* (k = C: no rest, whatever 1 - sum P rounds to) */
            double pr = 1.0 - sp;
            lpv[k] = pr > 0.0 ? log(pr) : -HUGE_VAL;
            lqv[k] = Wr > 0.0 ? log(Wr) - lW : -HUGE_VAL;
            m = k + 1;
        } else {
            const double a0 = log(sp), b0 = log(sq);
            for (ptrdiff_t q = 0; q < k; q++) {
                lpv[q] -= a0;
                lqv[q] -= b0;
            }
        }
        /* the divergence's terms, as in distill_rows, and its derivatives z */
        double S = 0.0, A = 0.0;
        for (ptrdiff_t q = 0; q < m; q++) {
            double lp = lpv[q], lq = lqv[q];
            double p = lp > -745.0 ? exp(lp) : 0.0, qq = lq > -745.0 ? exp(lq) : 0.0;
            double r = lp - lq;
            int small = r < tau && r > -tau;
            double rs = small ? r : 0.0, ser, lser, term;
            FX_DPOLY(cs, rs, ser);
            FX_DPOLY(cl, rs, lser);
            pv[q] = p;
            qv[q] = qq;
            if (div == 0) {
                term = small ? qq * (rs * rs * ser) : (p > 0.0 ? (r - 1.0) * p : 0.0) + qq;
                zv[q] = qq > 0.0 ? -expm1(r) : 0.0;                /* 1 - P'/Q': z - zbar, zbar = -1 */
            } else if (div == 1) {
                term = small ? qq * (rs * rs * ser) : (qq > 0.0 ? (-r - 1.0) * qq : 0.0) + p;
                zv[q] = -r;
            } else {
                double lm = log(beta * p + (1.0 - beta) * qq);
                double dir = (p > 0.0 ? beta * p * (lp - lm) : 0.0) + (qq > 0.0 ? (1.0 - beta) * qq * (lq - lm) : 0.0);
                term = small ? qq * (rs * rs * ser) : dir;
                zv[q] = -(1.0 - beta) * (small ? rs * lser : lm - lq);
                A += qq > 0.0 ? qq * zv[q] : 0.0;
            }
            S += term < 0.0 ? 0.0 : term;
        }
        sh[2 * i] = S;
        sh[2 * i + 1] = hot ? (ms + lH) - (double)xi[yi] : 0.0;
        const double a = g ? gs[i] : 0.0, h = g && hot ? gh[i] : 0.0;
        if (g && (a != 0.0 || h != 0.0)) {
            FX_T *gi = g + i * C;
            /* kappa_q = z_q - zbar, zbar = sum Q' z (KL: already folded in) */
            double zbar = div == 1 ? S : div == 2 ? A : 0.0;
            for (ptrdiff_t q = 0; q < m; q++) tv[q] = qv[q] > 0.0 ? zv[q] - zbar : 0.0;
            const double krest = m > k ? tv[k] : 0.0;
            /* g may be x: the k classes' and the label's logits read before the row is written */
            for (ptrdiff_t q = 0; q < k; q++) pv[q] = (double)xi[ii[q]];
            const double xy = (double)xi[yi < 0 ? 0 : yi];
            const double ca = a * krest * iW;
            const int sep = it != 1.0;
            if (h != 0.0) {
#pragma omp simd
                for (ptrdiff_t j = 0; j < C; j++) {
                    double xd = (double)xi[j];
                    double hq = sep ? fx_expneg_d((xd - ms) - lH) : bw[j] * iW;
                    gi[j] = (FX_T)(ca * bw[j] + h * hq);
                }
            } else {
#pragma omp simd
                for (ptrdiff_t j = 0; j < C; j++) gi[j] = (FX_T)(ca * bw[j]);
            }
            /* the k classes: Q'_q kappa_q (renormalized: Q' over the k) */
            for (ptrdiff_t q = 0; q < k; q++) {
                const ptrdiff_t j = ii[q];
                const double qf = tail == 0 ? bw[j] * iW : qv[q];   /* (k = C: the same) */
                const double hq = h != 0.0 ? (j == yi ? expm1((pv[q] - ms) - lH) : exp((pv[q] - ms) - lH)) : 0.0;
                gi[j] = (FX_T)(a * qf * tv[q] + h * hq);
            }
            if (h != 0.0 && !mask[yi])
                gi[yi] = (FX_T)(ca * bw[yi] + h * expm1((xy - ms) - lH));
        } else if (g) {
            for (ptrdiff_t j = 0; j < C; j++) g[i * C + j] = 0;
        }
        for (ptrdiff_t q = 0; q < k; q++) mask[ii[q]] = 0;
    }
}
#endif

#undef FX_DEXP0
#undef FX_DPOLY
#undef FX_DISTILL_ELEM
#undef FX_DISTILL_R
#undef FX_KL_TERM
#undef FX_DISTILL_GRAD_LOOP
#undef FX_JSD_LMQ
#undef FX_DISTILL_FIXY
#undef FX_DF_GRAD_LOOPS
#undef FX_DF_CHUNK
#undef FX_FPOLY
#undef FX_DF_MID
#undef FX_DF_TAU
