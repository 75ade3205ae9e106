# _kernels_eval.pxi -- the evaluation passes: evaluate (per-row lse,
# argmax, top-k, calibration bins), evaluate_binary, and the temperature
# fit's passes (the NLL at one temperature with its derivatives).
# Part of _kernels.pyx, included there: the driver, the tables' typed
# views and the helpers it defines are in scope.

# ---------------------------------------------------------------- evaluate

cdef enum:
    MAX_TOPK = 16


cdef struct Eval:
    Py_ssize_t C
    int64_t ignore_index
    int nk                   # top-k values beyond top-1 (k > 1)
    int64_t ks[MAX_TOPK]
    int64_t bins             # calibration bins B (with bin_out)
    double ulo, uscale       # uscale > 0: bins of the confidence's logit -log(s), floor((-log(s) - ulo) uscale)
    int64_t cwb              # classwise bins (0: none): their sums follow the 6 + nk in part (classwise)
    double *lse64            # or NULL: per-row lse and s (the sum without the maximum's term) in double,
    double *s64              #   the one-vs-rest histogram's row statistics (ovr_histogram)


cdef void eval_rows(const Eval *o, const floating *x, const int64_t *y, const double *sw,
                    floating *lse_out, int64_t *amax, double *conf, int64_t *bins, Py_ssize_t n, Work *w,
                    double *part, double *l64, double *s64) noexcept nogil:
    cdef Py_ssize_t t0, C = o.C, j
    t0 = 0
    while t0 < n:          # tile by tile
        eval_tile(o, x + t0 * C, y + t0, atd(sw, t0), lse_out + t0, amax + t0,
                  conf + t0 if conf != NULL else NULL, bins + t0 if bins != NULL else NULL,
                  min(w.rows, n - t0), w, part)
        if l64 != NULL:
            for j in range(min(w.rows, n - t0)):
                l64[t0 + j] = w.st.m[j] + w.st.l[j]     # NaN or inf for rows without a finite lse
                s64[t0 + j] = w.st.s[j]
        if o.cwb > 0:      # the probabilities into the Work's tile scratch (evaluate: tile_scratch)
            classwise(o, x + t0 * C, y + t0, atd(sw, t0), min(w.rows, n - t0), w, <floating *>w.e,
                      part + 6 + o.nk)
        t0 += w.rows


cdef void classwise(const Eval *o, const floating *x, const int64_t *y, const double *sw, Py_ssize_t n,
                    Work *w, floating *p, double *cw) noexcept nogil:
    """Classwise reliability sums of n rows whose statistics are in w.st
    (eval_tile's): for every class j and bin b of p_j (B equal-width bins),
    cw = [W (C x B) | P (C x B) | F (C x B) | T (C) | finite weight]: the
    weight, the weighted p_j and the weighted [y = j] of the counted rows
    with a finite maximum.  Most p_j fall in bin 0, so every row's totals
    go to bin 0 (w into F[y, 0]; W[j, 0] is left to the caller: the finite
    weight) and to T (sum_i w_i p_ij, contiguous: a vectorized pass), and
    only the p_j >= 1/B (at most B a row, found 16 at a time by a
    vectorized any()) are also added to their own bin; the caller forms
    bin 0 as the totals less the other bins.  p = exp(z - m) / S from the
    row writes' op, into scratch p."""
    cdef Py_ssize_t C = o.C, i, j, B = o.cwb
    cdef int64_t yi, b, ii = o.ignore_index
    cdef double si, pj, thr = 1.0 / <double>B
    cdef double *W = cw
    cdef double *P = cw + C * B
    cdef double *F = cw + 2 * C * B
    cdef double *T = cw + 3 * C * B
    cdef floating *pr
    cdef floating ft = <floating>thr
    cdef Py_ssize_t j0, j1
    cdef int hit
    for i in range(n):
        w.a[i] = 1.0 / (1.0 + w.st.s[i])            # NaN or 0 for rows without a finite maximum
    exp_affine_op(x, p, n, C, w.st.m, w.a, NULL, NULL)
    for i in range(n):
        yi = y[i]
        if yi == ii or not (w.st.s[i] >= 0.0 and w.st.m[i] - w.st.m[i] == 0.0):
            continue
        si = sw[i] if sw != NULL else 1.0
        pr = p + i * C
        cw[3 * C * B + C] += si
        F[yi * B] += si
        for j in range(C):                        # the column totals
            T[j] += si * pr[j]
        j0 = 0
        while j0 < C:                             # the few p_j >= 1/B: their own bins too
            j1 = min(j0 + 16, C)
            hit = 0
            for j in range(j0, j1):
                hit |= pr[j] >= ft
            if hit:
                for j in range(j0, j1):
                    pj = pr[j]
                    b = <int64_t>(pj * B) if pj >= ft else 0
                    if b > B - 1:
                        b = B - 1
                    if b >= 1:
                        W[j * B + b] += si
                        P[j * B + b] += si * pj
                        if j == yi:
                            F[j * B + b] += si
            j0 = j1


cdef void eval_tile(const Eval *o, const floating *x, const int64_t *y, const double *sw,
                    floating *lse_out, int64_t *amax, double *conf, int64_t *bins, Py_ssize_t n, Work *w,
                    double *part) noexcept nogil:
    """n rows; adds to part = (weighted loss sum, weight sum, weighted
    top-1 hits, count, weighted Brier sum, weighted entropy sum (nats),
    weighted top-k hits for each k of o.ks), row by row.

    With e_j = exp(x_j - m), s = sum over j != k of e_j, S = 1 + s and the
    row statistics s2 = sum e_j^2, sx = sum e_j (m - x_j) (fx_stats):
        sum_j p_j^2 = (1 + s2) / S^2,  p_y = e_y / S (1 / S when x_y = m)
        Brier   = sum_j p_j^2 - 2 p_y + 1
                = (s2 + s^2) / S^2   when x_y is the maximum (no cancellation
                                     for a confident, correct row)
        entropy = -sum_j p_j log p_j = l + sx / S        (two terms >= 0)
    A row holding a NaN is never a hit (top-1 or top-k): its rank is C.
    bins (with conf): the calibration bin of the confidence c, floor(c B)
    capped at B - 1 (c = 1 in the last bin), or -1 for rows not binned
    (ignored, or no finite confidence) -- so the caller's histograms need
    no masks.
    """
    cdef Py_ssize_t C = o.C, i
    cdef int q, nk = o.nk
    cdef int64_t yi, ii = o.ignore_index
    cdef double m, l, si, row, S, py, xy, c
    cdef double lsum = part[0], wsum = part[1], hits = part[2], cnt = part[3], bsum = part[4], hsum = part[5]
    cdef const double *ms = w.st.m
    cdef const double *ls = w.st.l
    cdef const double *ss = w.st.s
    cdef const double *s2 = w.st.s2
    cdef const double *sx = w.st.sx
    cdef const int64_t *ks = w.st.k
    cdef const int64_t *rk = w.st.rank
    w.st.y = y
    w.st.ignore = ii
    if nk == 0:
        w.st.rank = NULL           # top-1 is the argmax: no ranks to count
    stats_op(x, n, C, &w.st)       # k: NumPy's argmax (first max, or first NaN)
    if nk == 0:
        w.st.rank = <int64_t *>rk
    for i in range(n):
        m = ms[i]
        l = ls[i]
        lse_out[i] = <floating>(m if isnan(l) else m + l)
        amax[i] = ks[i]
        S = 1.0 + ss[i]
        yi = y[i]
        if conf != NULL:
            c = 1.0 / S                            # NaN for rows whose maximum is not finite
            conf[i] = c
            if yi == ii or not (c >= 0.0 and c <= 1.0):
                bins[i] = -1
            elif o.uscale > 0:
                # the logit of c = 1/(1+s) is -log(s) (s = 0: +inf, the last bin)
                c = (-log(ss[i]) - o.ulo) * o.uscale if ss[i] > 0 else <double>o.bins
                bins[i] = <int64_t>c if c < o.bins - 1 else o.bins - 1
                if c < 0:
                    bins[i] = 0
            else:
                bins[i] = min(<int64_t>(c * o.bins), o.bins - 1)
        if yi == ii:
            continue
        si = sw[i] if sw != NULL else 1.0
        xy = x[i * C + yi]
        row = (m - xy) + l                          # NaN through l for special rows
        if xy == m:
            bsum += si * ((s2[i] + ss[i] * ss[i]) / (S * S))
        else:
            py = exp(xy - m) / S                    # <= 1/2: no cancellation below
            bsum += si * ((1.0 + s2[i]) / (S * S) - 2.0 * py + 1.0)
        lsum += si * row
        wsum += si
        cnt += 1.0
        hsum += si * (l + sx[i] / S)
        if ks[i] == yi and not isnan(m):
            hits += si
        for q in range(nk):
            if rk[i] < o.ks[q] and not isnan(m):
                part[6 + q] += si
    part[0] = lsum
    part[1] = wsum
    part[2] = hits
    part[3] = cnt
    part[4] = bsum
    part[5] = hsum

# streams: 0 logits, 1 labels, 2 sample weights, 3 lse, 4 argmax, 5 confidence, 6 bin
cdef void eval_blk(const void *c, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w, double *part,
                   const floating *t) noexcept nogil:
    cdef const Eval *o = <const Eval *>c
    eval_rows(o, <const floating *>p[0], <const int64_t *>p[1], <const double *>p[2],
              <floating *>p[3], <int64_t *>p[4], <double *>p[5], <int64_t *>p[6], n, w, part,
              o.lse64 + r0 if o.lse64 != NULL else NULL, o.s64 + r0 if o.s64 != NULL else NULL)


def evaluate(x, labels, *, sample_weight=None, int64_t ignore_index, topk=(), lse_out, argmax_out,
             confidence_out=None, bin_out=None, int64_t bins=0, partial, Py_ssize_t rows_per_block, int nt,
             double temperature=1.0, double softcap=0.0, double logit_lo=0.0, double logit_scale=0.0,
             int64_t classwise_bins=0, lse64_out=None, s64_out=None):
    """The evaluation pass over the rows of x (N, C): per-row lse, argmax
    and (optionally, together) confidence 1/(1+s) and its bin of `bins`
    (equal-width bins of c, or with logit_scale > 0 of its logit -log(s),
    floor((-log(s) - logit_lo) logit_scale) clamped to [0, bins));
    partial (nblocks x (6 + len(topk)), + 3 C classwise_bins + C + 1 with
    classwise bins; zeros on entry) receives each block's sums (see eval_tile,
    classwise).  topk: the k > 1.  lse64_out, s64_out (float64, together
    or not at all): the per-row lse in double and s, the sum of exp(z_j - m)
    without the maximum's term.  Every output is that of the transformed
    logits (temperature, softcap: _Job.transform)."""
    cdef _Job job = _Job()
    cdef Eval o
    cdef Py_ssize_t N = x.shape[0], width
    cdef int q
    if len(topk) > MAX_TOPK:
        raise ValueError(f"fusedxent kernel: at most {MAX_TOPK} top-k values")
    o.C = x.shape[1]
    o.ignore_index = ignore_index
    o.nk = len(topk)
    for q in range(o.nk):
        o.ks[q] = topk[q]
    if confidence_out is not None and confidence_out.dtype.char != "d":
        raise TypeError("fusedxent kernel: confidence_out must be float64")
    if (confidence_out is None) != (bin_out is None) or (bin_out is not None and bins < 1):
        raise ValueError("fusedxent kernel: confidence_out and bin_out (with bins >= 1) go together")
    if bin_out is not None and (bin_out.dtype.kind != "i" or bin_out.dtype.itemsize != 8):
        raise TypeError("fusedxent kernel: bin_out must be int64")
    o.bins = bins
    o.cwb = classwise_bins
    if classwise_bins > 0 and o.C > 4096:
        raise ValueError("fusedxent kernel: classwise bins need at most 4096 classes")
    o.ulo = logit_lo
    o.uscale = logit_scale
    o.lse64 = o.s64 = NULL
    if (lse64_out is None) != (s64_out is None):
        raise ValueError("fusedxent kernel: lse64_out and s64_out go together")
    if lse64_out is not None:
        if lse64_out.dtype.char != "d" or s64_out.dtype.char != "d":
            raise TypeError("fusedxent kernel: lse64_out and s64_out must be float64")
        o.lse64 = <double *>addr(lse64_out, N, "lse64_out", True)
        o.s64 = <double *>addr(s64_out, N, "s64_out", True)
        job.keep.append(lse64_out)
        job.keep.append(s64_out)
    job.add(x, N, o.C, "x")
    job.add(labels, N, 1, "labels", False, False)
    job.add(sample_weight, N, 1, "sample_weight", False, False)
    job.add(lse_out, N, 1, "lse_out", True)
    job.add(argmax_out, N, 1, "argmax_out", True, False)
    job.add(confidence_out, N, 1, "confidence_out", True, False)
    job.add(bin_out, N, 1, "bin_out", True, False)
    job.transform(temperature, softcap, 0, -1)
    width = 6 + o.nk + (3 * o.C * o.cwb + o.C + 1 if o.cwb > 0 else 0)
    job.run(eval_blk[float], eval_blk[double], &o, N, rows_per_block,
            partials(partial, nblocks(N, rows_per_block), width), width, nt, o.C, True, False,
            o.cwb > 0)                          # tile_scratch: classwise's probabilities


# ---------------------------------------------------------------- one-vs-rest ROC histograms

cdef enum:
    OVR_CLASSES = 16      # classes per task: 16 float32 logits a row is one cache line, and their
                          # histograms (16 R doubles, R <= 4096) stay in L2 while the rows stream by
    OVR_AHEAD = 16        # rows prefetched ahead (32: no better)


cdef int ovr_classes(const floating *x, Py_ssize_t N, Py_ssize_t C, Py_ssize_t j0, Py_ssize_t j1,
                     const int64_t *y, const double *sw, const double *L, const double *gk,
                     const int64_t *k, double *pos, double *neg, Py_ssize_t R, double lo, double scale,
                     double s, double cap) noexcept nogil:
    """Classes [j0, j1) of every row, in row order: the score g of z_j
    (z = s x, or cap tanh(s x / cap) with cap > 0) is z_j - L_i = log p_j,
    the argmax's is gk_i; it goes to bin floor((g - lo) scale) clamped to
    [0, R) of pos (the row's label) or neg (the other classes), with the
    row's weight.  Rows with a NaN L are skipped.  The bins are filled in
    scratch laid out bin-major (R x OVR_CLASSES: a row's classes land in
    nearby lines; class-major they would be R doubles apart, in one L1
    set), then added to pos and neg.  Returns -1 without scratch."""
    cdef Py_ssize_t i, j, jl, nj = j1 - j0, b
    cdef double Li, wi, g, z, t, top = <double>(R - 1)
    cdef int64_t yi, ki
    cdef const floating *xr
    cdef uintptr_t ahead
    cdef double *tn = <double *>calloc(2 * R * OVR_CLASSES, sizeof(double))
    cdef double *tp
    if tn == NULL:
        return -1
    tp = tn + R * OVR_CLASSES
    for i in range(N):
        Li = L[i]
        if Li != Li:
            continue
        xr = x + i * C + j0
        # the rows are C apart, each in its own page: no hardware prefetcher
        # follows, so a few rows ahead are asked for (both lines the 16
        # classes may straddle; the address formed in integers, as
        # FX_PF_AT does: past the last row it is only ever prefetched)
        ahead = <uintptr_t>xr + <uintptr_t>(OVR_AHEAD * C * sizeof(floating))
        FX_PREFETCH(<const void *>ahead, 0)
        FX_PREFETCH(<const void *>(ahead + (OVR_CLASSES - 1) * sizeof(floating)), 0)
        wi = sw[i] if sw != NULL else 1.0
        yi = y[i] - j0
        ki = k[i] - j0
        for jl in range(nj):
            z = <double>xr[jl] * s
            if cap > 0:
                z = cap * tanh(z / cap)
            g = gk[i] if jl == ki else z - Li
            t = (g - lo) * scale
            if t >= top:
                b = R - 1
            elif t > 0:
                b = <Py_ssize_t>t
            else:
                b = 0
            if jl == yi:
                tp[b * OVR_CLASSES + jl] += wi
            else:
                tn[b * OVR_CLASSES + jl] += wi
    for jl in range(nj):
        j = j0 + jl
        for b in range(R):
            pos[j * R + b] += tp[b * OVR_CLASSES + jl]
            neg[j * R + b] += tn[b * OVR_CLASSES + jl]
    free(tn)
    return 0


def ovr_histogram(x, const int64_t[::1] labels, *, const double[::1] sample_weight=None,
                  const double[::1] row_lse, const double[::1] argmax_score, const int64_t[::1] argmax,
                  double[:, :, ::1] out, double lo, double scale, double temperature=1.0, double softcap=0.0,
                  int nt=1):
    """One-vs-rest histograms of evaluate(roc_bins=R) over x (N, C),
    float32 or float64: out[0] (C x R) += the weight of every row in its
    label's class at its score's bin, out[1] += that of every other class
    (see ovr_classes).  row_lse: the rows' lse of z in double, NaN for the
    rows to skip (ignored, no finite lse); argmax_score: the score of each
    row's argmax class (the caller forms it from s, where z_k - lse loses
    1 - p_k).  Parallel over groups of OVR_CLASSES classes, each class's
    bins added in row order: the sums do not depend on the thread count."""
    cdef const float[:, ::1] xf
    cdef const double[:, ::1] xd
    cdef const float *pf = NULL
    cdef const double *pd = NULL
    cdef Py_ssize_t N, C, R = out.shape[2], ng, q, j0
    cdef const double *sw = NULL
    cdef int failed = 0, r
    if x.dtype.char == "f":
        xf = x
        N, C = xf.shape[0], xf.shape[1]
        pf = &xf[0, 0] if N and C else NULL
    elif x.dtype.char == "d":
        xd = x
        N, C = xd.shape[0], xd.shape[1]
        pd = &xd[0, 0] if N and C else NULL
    else:
        raise TypeError("fusedxent kernel: ovr_histogram takes float32 or float64 logits")
    if labels.shape[0] != N or row_lse.shape[0] != N or argmax_score.shape[0] != N or argmax.shape[0] != N:
        raise ValueError("fusedxent kernel: one label, lse, score and argmax per row")
    if out.shape[0] != 2 or out.shape[1] != C or R < 1:
        raise ValueError("fusedxent kernel: out must be (2, C, R)")
    if sample_weight is not None:
        if sample_weight.shape[0] != N:
            raise ValueError("fusedxent kernel: one sample weight per row")
        sw = &sample_weight[0] if N else NULL
    if N == 0 or C == 0:
        return
    if not (temperature > 0 and scale > 0):
        raise ValueError("fusedxent kernel: temperature and scale must be > 0")
    ng = (C + OVR_CLASSES - 1) // OVR_CLASSES
    with nogil:
        for q in prange(ng, schedule="dynamic", num_threads=threads_for(ng, nt)):
            j0 = q * OVR_CLASSES
            if pf != NULL:
                r = ovr_classes(pf, N, C, j0, min(j0 + OVR_CLASSES, C), &labels[0], sw, &row_lse[0],
                                &argmax_score[0], &argmax[0], &out[0, 0, 0], &out[1, 0, 0], R, lo, scale,
                                1.0 / temperature, softcap)
            else:
                r = ovr_classes(pd, N, C, j0, min(j0 + OVR_CLASSES, C), &labels[0], sw, &row_lse[0],
                                &argmax_score[0], &argmax[0], &out[0, 0, 0], &out[1, 0, 0], R, lo, scale,
                                1.0 / temperature, softcap)
            failed += r != 0                       # a reduction (a plain assignment would be lastprivate)
    if failed:
        raise MemoryError("fusedxent: no memory for the one-vs-rest histograms' scratch")


# ---------------------------------------------------------------- binary evaluation

cdef struct BinEval:
    const double *w          # element weights (n) or NULL
    int64_t bins             # calibration bins B (0: none)
    double ulo, uscale       # uscale > 0: bins of the logit, floor((x - ulo) uscale)
    int64_t rbins            # ROC bins R of the logit (0: none), floor((x - rlo) rscale)
    double rlo, rscale

cdef void bin_eval_blk(const void *c, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w, double *part,
                       const floating *t) noexcept nogil:
    cdef const BinEval *o = <const BinEval *>c
    cdef const double *wt = o.w + r0 if o.w != NULL else NULL
    cdef double *rh = part + 4 + 4 * o.bins
    if floating is float:
        fx_F.bce_eval(<const float *>p[0], <const float *>p[1], n, wt, part, o.bins, o.ulo, o.uscale, part + 4,
                      o.rbins, o.rlo, o.rscale, rh)
    else:
        fx_D.bce_eval(<const double *>p[0], <const double *>p[1], n, wt, part, o.bins, o.ulo, o.uscale, part + 4,
                      o.rbins, o.rlo, o.rscale, rh)


def evaluate_binary(x, t, *, weight=None, int64_t bins=0, partial, Py_ssize_t block, int nt,
                    double logit_lo=0.0, double logit_scale=0.0, int64_t roc_bins=0, double roc_lo=0.0,
                    double roc_scale=1.0):
    """evaluate_binary over n flat elements: partial[b] = block b's
    (weighted loss, weighted hits, weighted Brier, weight), then with bins
    B > 0 its histogram (B x 4: weight, weighted sigmoid(x), weighted
    target, 0 per bin): bins of p, or with logit_scale > 0 of the logit,
    floor((x - logit_lo) logit_scale) clamped to [0, B); then with
    roc_bins R > 0 a second one (R x 4) of the logit, floor((x - roc_lo)
    roc_scale) clamped to [0, R)."""
    cdef _Job job = _Job()
    cdef BinEval o
    cdef Py_ssize_t n = x.shape[0], width
    o.w = <const double *>addr(weight, n, "weight") if weight is not None else NULL
    o.bins = bins if bins > 0 else 0
    o.ulo = logit_lo
    o.uscale = logit_scale
    o.rbins = roc_bins if roc_bins > 0 else 0
    o.rlo = roc_lo
    o.rscale = roc_scale
    if o.rbins > 0 and not roc_scale > 0:
        raise ValueError("fusedxent kernel: roc_scale must be > 0")
    if weight is not None and weight.dtype.char != "d":
        raise TypeError("fusedxent kernel: weight must be float64")
    job.add(x, n, 1, "x")
    job.add(t, n, 1, "t")
    job.keep.append(weight)
    width = 4 + 4 * o.bins + 4 * o.rbins
    job.run(bin_eval_blk[float], bin_eval_blk[double], &o, n, block,
            partials(partial, nblocks(n, block), width), width, nt, 0)


# ---------------------------------------------------------------- temperature fit

cdef struct TFit:
    Py_ssize_t C
    int64_t ignore_index


cdef void tfit_tile(const TFit *o, const floating *z, const int64_t *y, const double *sw, Py_ssize_t n,
                    Work *w, double *part) noexcept nogil:
    """n rows of z = x / T; adds to part = (sum w NLL, sum w, sum w D,
    sum w V, sum w (m - z_y), count, sum w K) over the counted rows, where,
    per row (e_j = exp(z_j - m), S = sum_j e_j = 1 + s, d_j = m - z_j >= 0,
    the moments E[d^k] = sum_j e_j d_j^k / S from fx_stats' sx, sxx, sx3):
        NLL = lse - z_y = (m - z_y) + l
        D   = E_p[z] - z_y = (m - z_y) - E[d]          (d NLL / d beta = D / beta)
        V   = Var_p[z] = E[d^2] - E[d]^2 >= 0          (d^2 NLL / d beta^2 = V / beta^2)
        K   = E_p[(z - E_p z)^3] = -(E[d^3] - 3 E[d] E[d^2] + 2 E[d]^3)
                                                       (d^3 NLL / d beta^3 = K / beta^3)
    with beta = 1 / T (K: Halley's step in the fit).  m - z_y is the limit slope: d NLL / d beta -> it
    (over beta) as beta -> infinity, 0 only where the label is a maximum.
    A row with a NaN or an infinite logit makes the sums NaN.  part[7]
    counts the labels outside [0, C) and not ignore_index, rows left out
    (the caller names an offender: the labels need no pass of their own)."""
    cdef Py_ssize_t C = o.C, i
    cdef int64_t yi, ii = o.ignore_index
    cdef double si, S, d, mu, m2, v
    cdef double nll = part[0], wsum = part[1], dsum = part[2], vsum = part[3], msum = part[4], cnt = part[5]
    cdef double ksum = part[6], bad = part[7]
    cdef const double *ms = w.st.m
    cdef const double *ls = w.st.l
    cdef const double *ss = w.st.s
    cdef const double *sx = w.st.sx
    cdef const double *sq = w.d1
    cdef const double *s3 = w.d2
    w.st.y = y
    w.st.ignore = ii
    w.st.rank = NULL
    w.st.s2 = NULL
    w.st.sxx = w.d1
    w.st.sx3 = w.d2
    stats_op(z, n, C, &w.st)       # with rank NULL the labels are not read: any value is safe
    for i in range(n):
        yi = y[i]
        if yi == ii:
            continue
        if yi < 0 or yi >= C:
            bad += 1.0
            continue
        si = sw[i] if sw != NULL else 1.0
        S = 1.0 + ss[i]
        d = ms[i] - z[i * C + yi]
        mu = sx[i] / S
        m2 = sq[i] / S
        v = m2 - mu * mu
        nll += si * (d + ls[i])
        wsum += si
        dsum += si * (d - mu)
        vsum += si * (v if v > 0.0 else (0.0 if v == v else v))
        msum += si * d
        cnt += 1.0
        ksum -= si * (s3[i] / S - mu * (3.0 * m2 - 2.0 * mu * mu))
    part[0] = nll
    part[1] = wsum
    part[2] = dsum
    part[3] = vsum
    part[4] = msum
    part[5] = cnt
    part[6] = ksum
    part[7] = bad


# streams: 0 logits, 1 labels, 2 sample weights
cdef void tfit_blk(const void *c, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w, double *part,
                   const floating *t) noexcept nogil:
    cdef const TFit *o = <const TFit *>c
    cdef const floating *z = <const floating *>p[0]
    cdef const int64_t *y = <const int64_t *>p[1]
    cdef const double *sw = <const double *>p[2]
    cdef Py_ssize_t t0 = 0
    while t0 < n:
        tfit_tile(o, z + t0 * o.C, y + t0, atd(sw, t0), min(w.rows, n - t0), w, part)
        t0 += w.rows


def temperature_moments(x, labels, *, sample_weight=None, int64_t ignore_index, double temperature,
                        partial, Py_ssize_t rows_per_block, int nt):
    """The softmax NLL of z = x / temperature over the rows of x (N, C)
    with its derivatives in beta = 1 / temperature: partial (nblocks x 8, zeros on entry)
    receives each block's sums and its count of bad labels (see
    tfit_tile)."""
    cdef _Job job = _Job()
    cdef TFit o
    cdef Py_ssize_t N = x.shape[0]
    o.C = x.shape[1]
    o.ignore_index = ignore_index
    job.add(x, N, o.C, "x")
    job.add(labels, N, 1, "labels", False, False)
    job.add(sample_weight, N, 1, "sample_weight", False, False)
    job.transform(temperature, 0.0, 0, -1)
    job.run(tfit_blk[float], tfit_blk[double], &o, N, rows_per_block,
            partials(partial, nblocks(N, rows_per_block), 8), 8, nt, o.C, True)


cdef struct BinTFit:
    const double *w          # element weights (n) or NULL
    double beta              # 1 / temperature


cdef void bin_tfit_blk(const void *c, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w, double *part,
                       const floating *t) noexcept nogil:
    """Elements r0.. of (x, t): adds to part = (sum w NLL, sum w,
    sum w (sigma(z) - t) x, sum w sigma(z) (1 - sigma(z)) x^2,
    sum w (max(x, 0) - t x), sum w (1/2 - t) x,
    sum w sigma (1 - sigma) (1 - 2 sigma) x^3) with z = beta x: the binary
    NLL max(z, 0) - t z + log1p(exp(-|z|)), its first and second
    derivatives in beta, the first's limits as beta -> infinity and at
    beta = 0, and the third derivative.  In double, element by element
    (e = exp(-|z|): sigma (1 - sigma) = e / (1 + e)^2 and 1 - 2 sigma =
    -sign(z) (1 - e) / (1 + e), without cancellation)."""
    cdef const BinTFit *o = <const BinTFit *>c
    cdef const floating *x = <const floating *>p[0]
    cdef const floating *tt = <const floating *>p[1]
    cdef const double *wt = o.w + r0 if o.w != NULL else NULL
    cdef Py_ssize_t i
    cdef double b = o.beta, xi, ti, wi, z, e, sg, q, v
    cdef double s0 = part[0], s1 = part[1], s2 = part[2], s3 = part[3], s4 = part[4], s5 = part[5]
    cdef double s6 = part[6]
    for i in range(n):
        xi = x[i]
        ti = tt[i]
        wi = wt[i] if wt != NULL else 1.0
        z = b * xi
        e = exp(-fabs(z))
        q = 1.0 + e
        sg = 1.0 / q if z >= 0 else e / q
        s0 += wi * ((z if z > 0 else 0.0) - ti * z + log1p(e))
        s1 += wi
        s2 += wi * (sg - ti) * xi
        v = wi * (e / (q * q)) * xi * xi
        s3 += v
        s6 -= v * xi * ((1.0 - e) / q if z >= 0 else (e - 1.0) / q)
        s4 += wi * ((xi if xi > 0 else 0.0) - ti * xi)
        s5 += wi * (0.5 - ti) * xi
    part[0] = s0
    part[1] = s1
    part[2] = s2
    part[3] = s3
    part[4] = s4
    part[5] = s5
    part[6] = s6


def binary_temperature_moments(x, t, *, weight=None, double temperature, partial, Py_ssize_t block, int nt):
    """The binary NLL of sigmoid(x / temperature) against t over n flat
    elements with its derivatives in beta = 1 / temperature: partial
    (nblocks x 7) receives each block's sums (see bin_tfit_blk)."""
    cdef _Job job = _Job()
    cdef BinTFit o
    cdef Py_ssize_t n = x.shape[0]
    if not temperature > 0:
        raise ValueError("fusedxent kernel: temperature must be > 0")
    if weight is not None and weight.dtype.char != "d":
        raise TypeError("fusedxent kernel: weight must be float64")
    o.w = <const double *>addr(weight, n, "weight") if weight is not None else NULL
    o.beta = 1.0 / temperature
    job.add(x, n, 1, "x")
    job.add(t, n, 1, "t")
    job.keep.append(weight)
    job.run(bin_tfit_blk[float], bin_tfit_blk[double], &o, n, block,
            partials(partial, nblocks(n, block), 7), 7, nt, 0)
