# _kernels_xent.pxi -- softmax cross-entropy: its options, the block code
# of the class-index and soft-target losses with their gradients, and the
# small-call fast path.
# Part of _kernels.pyx, included there: the driver, the tables' typed
# views and the helpers it defines are in scope.

# ---------------------------------------------------------------- softmax cross-entropy

cdef struct CE:
    Py_ssize_t C
    const double *cw        # class weights (C) or NULL
    double cw_sum           # sum of class weights (C when absent)
    int64_t ignore_index
    double eps              # label smoothing
    double z                # z-loss coefficient
    double gscale           # d(returned loss)/d(sum of row losses), times k
    double k                # scale of the written per-row losses: 1 / ln(base)
    double ta, tb           # probability targets: t' = ta t + tb
    bint check              # labels not range-checked by the caller: each tile checks its own
    bint plain              # the forward loss is s_i w_y (lse - x_y): xent_rows may compute it
    double gamma            # focal exponent
    const double *fa        # focal loss: class weight times alpha (C); NULL: no focal terms


cdef struct RowOut:
    # per-row statistics of the (transformed) logits, written beside the
    # loss when not NULL: lse, entropy (float64), argmax (first on ties)
    double *lse
    double *ent
    int64_t *amax


cdef inline RowOut ro_at(RowOut r, Py_ssize_t i) noexcept nogil:
    r.lse = r.lse + i if r.lse != NULL else NULL
    r.ent = r.ent + i if r.ent != NULL else NULL
    r.amax = r.amax + i if r.amax != NULL else NULL
    return r


cdef inline void put_row_stats(RowOut r, const Work *w, Py_ssize_t n) noexcept nogil:
    """From a tile's statistics (with the optional sx): lse = m + l (m
    where l is NaN: a NaN row, or one whose maximum is infinite), entropy
    H = l + sum_j p_j (m - x_j) = l + sx / (1 + s), argmax k."""
    cdef Py_ssize_t i
    cdef double l
    if r.lse == NULL:
        return
    for i in range(n):
        l = w.st.l[i]
        r.lse[i] = w.st.m[i] if isnan(l) else w.st.m[i] + l
        r.ent[i] = NAN if isnan(l) else l + w.st.sx[i] / (1.0 + w.st.s[i])
        r.amax[i] = w.st.k[i]


cdef class CEOptions:
    """The validated options of a softmax cross-entropy call, as the struct
    the block code reads (keyword-only: nothing can be swapped)."""
    cdef CE c
    cdef readonly object class_weight
    cdef readonly object focal_class
    cdef readonly double temperature     # the logits' transform, applied by the driver (_Job.transform)
    cdef readonly double softcap

    def __init__(self, *, Py_ssize_t n_classes, class_weight=None, double class_weight_sum,
                 int64_t ignore_index=-100, double label_smoothing=0.0, double z_loss=0.0,
                 double grad_scale=0.0, double loss_scale=1.0, double target_a=1.0, double target_b=0.0,
                 bint check_labels=False, bint plain=False, double gamma=0.0, focal_class=None,
                 double temperature=1.0, double softcap=0.0):
        self.class_weight = class_weight
        # focal_class (class weight x alpha, float64) given: the focal loss
        self.focal_class = focal_class
        if focal_class is not None and focal_class.dtype.char != "d":
            raise TypeError("fusedxent kernel: focal_class must be float64")
        if gamma != 0.0 and focal_class is None:
            raise ValueError("fusedxent kernel: gamma needs focal_class (class weight x alpha)")
        self.c.fa = <const double *>addr(focal_class, n_classes, "focal_class") \
            if focal_class is not None else NULL
        self.temperature = temperature
        self.softcap = softcap
        self.c.check = check_labels
        self.c.plain = plain
        self.c.C = n_classes
        self.c.cw = <const double *>addr(class_weight, n_classes, "class_weight") \
            if class_weight is not None else NULL
        if class_weight is not None and class_weight.dtype.char != "d":
            raise TypeError("fusedxent kernel: class_weight must be float64")
        self.c.gamma = gamma
        if plain and (label_smoothing != 0.0 or z_loss != 0.0 or focal_class is not None):
            raise ValueError("fusedxent kernel: plain options with smoothing, z-loss or focal terms")
        self.c.cw_sum = class_weight_sum
        self.c.ignore_index = ignore_index
        self.c.eps = label_smoothing
        self.c.z = z_loss
        self.c.gscale = grad_scale
        self.c.k = loss_scale
        self.c.ta = target_a
        self.c.tb = target_b


cdef inline double focal_power(double q, double gam) noexcept nogil:
    """q^gamma for the focal factor, once per row: the usual gammas 1 and 2
    as products (libm's pow was the row's costliest call), 0 as 1 (0^0 =
    1, as pow)."""
    if gam == 2.0:
        return q * q
    if gam == 1.0:
        return q
    if gam == 0.0:
        return 1.0
    return pow(q, gam)


cdef void ce_index_tile(const CE *o, const floating *x, const int64_t *y, const double *sw,
                        floating *loss, floating *grad, Py_ssize_t n, Work *w, double *part,
                        RowOut ro) noexcept nogil:
    """n rows of the class-index loss; adds to part = (weighted loss sum,
    sum of s_i w[y_i] over kept rows: the mean's denominator); with
    o.check, labels out of range make both NaN instead."""
    cdef fx_xent xo
    cdef Py_ssize_t bad
    if grad == NULL and o.plain:
        # the forward loss with its plain options, s_i w_y ((m - x_y) + l),
        # in one vector operation (across rows for small class counts),
        # which checks the labels itself when asked to
        xo.cw = o.cw
        xo.sw = sw
        xo.ignore = o.ignore_index
        xo.k = o.k
        xo.check = o.check
        if floating is float:
            bad = fx_F.xent_rows(x, y, n, o.C, &xo, &w.st, loss, part)
        else:
            bad = fx_D.xent_rows(x, y, n, o.C, &xo, &w.st, loss, part)
    else:
        bad = 0
        if o.check:
            bad = fx_F.labels_bad(y, n, o.C, o.ignore_index) if floating is float else \
                fx_D.labels_bad(y, n, o.C, o.ignore_index)
        if not bad and o.fa != NULL and o.eps != 0.0:
            ce_focal_general(o, x, y, NULL, sw, loss, grad, n, w, part, ro)
        elif not bad:
            ce_index_general(o, x, y, sw, loss, grad, n, w, part, ro)
    if bad:
        # a label out of range: the partial sums say so (NaN), and the
        # caller finds and names it
        part[0] = NAN
        part[1] = NAN


cdef void ce_index_general(const CE *o, const floating *x, const int64_t *y, const double *sw,
                           floating *loss, floating *grad, Py_ssize_t n, Work *w, double *part,
                           RowOut ro) noexcept nogil:
    """ce_index_tile with smoothing, z-loss, the focal terms (without
    smoothing) or the gradient, row by row.

    Row loss (PyTorch's, label smoothing eps with class weights w):
        s_i * [ w_y (1-eps) (lse - x_y) + eps/C sum_c w_c (lse - x_c) + z lse^2 ]
    and its gradient, p = softmax(x):
        s_i * [ (w_y (1-eps) + eps/C W + 2 z lse) p_j - w_y (1-eps) [j=y] - eps/C w_j ]
    written for every j as a p_j - b w_j, then at j = y less s_i w_y (1-eps):
    p_y - 1 there is in [-1, -1/2] unless x_y is the maximum, and then the
    label's entry is formed from -s/(1+s) instead (no cancellation).

    Focal loss (eps = 0): the label's term a_y q^g L, L = lse - x_y, q = 1 - p_y
    = -expm1(-L) (from the tiny loss L: confident rows keep their relative
    accuracy); its gradient is the cross-entropy's with w_y replaced by
    w_y a_y q^g (1 + g p_y L / q)  (d/dz of -a q^g log p; L/q -> 1 as q -> 0).
    """
    # Locals for every array and option, so the compiler keeps them in
    # registers (stores to the loss rows might alias them otherwise).  A
    # row whose maximum is not finite has l = NaN, which makes its loss
    # NaN through the same formulas; its gradient is filled with NaN below.
    cdef Py_ssize_t C = o.C, i
    cdef int64_t yi, ii = o.ignore_index
    cdef double eps = o.eps, z = o.z, gs = o.gscale, k = o.k, W = o.cw_sum, ec = o.eps / C
    cdef double m, l, S, lse, wy, si, row, base, total = part[0], wsum = part[1]
    cdef double L, q, py, qg, lc, gc, gam = o.gamma
    cdef const double *fa = o.fa
    cdef const double *cw = o.cw
    cdef const double *ms = w.st.m
    cdef const double *ls = w.st.l
    cdef const double *ss = w.st.s
    cdef double *d1 = w.d1
    cdef double *d2 = w.d2
    cdef double *a = w.a
    cdef double *b = w.b
    cdef floating *e = stats_exp_op(x, grad, n, C, w, 0)   # exp(x - m), scaled into grad below
    put_row_stats(ro, w, n)
    if eps != 0.0:
        if floating is float:
            fx_F.wdiff_rows(x, n, C, ms, cw, d1)
        else:
            fx_D.wdiff_rows(x, n, C, ms, cw, d1)
    for i in range(n):
        yi = y[i]
        a[i] = 0.0
        b[i] = 0.0
        if yi == ii:
            if loss != NULL:
                loss[i] = 0
            continue
        wy = cw[yi] if cw != NULL else 1.0
        si = sw[i] if sw != NULL else 1.0
        m = ms[i]
        l = ls[i]
        lse = m + l
        L = (m - x[i * C + yi]) + l
        lc = wy * (1.0 - eps)           # the label's coefficient in the loss ...
        gc = lc                         # ... and in the gradient
        if fa != NULL:
            q = -expm1(-L)
            py = exp(-L)
            qg = focal_power(q, gam)
            lc = fa[yi] * qg
            gc = lc * (1.0 + (gam * py * (L / q if q > 0.0 else 1.0) if py > 0.0 else 0.0))
        row = lc * L
        if eps != 0.0:
            row = row + ec * (d1[i] + W * l)
        if z != 0.0:
            row = row + z * lse * lse
        if grad != NULL:
            base = gs * si
            S = 1.0 + ss[i]
            a[i] = base * (gc + ec * W + 2.0 * z * lse) / S
            b[i] = base * ec
            # the label's entry when x_y is the maximum (NaN: correct the
            # written entry instead); decided here, before the gradient
            # may overwrite the logits
            d2[i] = NAN
            d1[i] = gc              # (d1's smoothing sum is read above, in row)
            if x[i * C + yi] == m:
                d2[i] = base * (gc * (-ss[i] / S) + (ec * W + 2.0 * z * lse) / S
                                - ec * (cw[yi] if cw != NULL else 1.0))
        row = si * row
        if loss != NULL:
            loss[i] = <floating>(k * row)
        total += row
        wsum += si * wy
    part[0] = total
    part[1] = wsum
    if grad == NULL:
        return
    if e != NULL:
        scale_op(e, grad, n, C, a, cw, b)
    else:
        exp_affine_op(x, grad, n, C, ms, a, cw, b)
    for i in range(n):
        yi = y[i]
        if yi == ii:
            memset(grad + i * C, 0, C * sizeof(floating))
        elif isnan(ls[i]):
            fill(grad + i * C, C, <floating>NAN)
        elif not isnan(d2[i]):
            grad[i * C + yi] = <floating>d2[i]
        else:
            base = gs * (sw[i] if sw != NULL else 1.0)
            grad[i * C + yi] = grad[i * C + yi] - <floating>(base * d1[i])


cdef void ce_focal_general(const CE *o, const floating *x, const int64_t *y, const floating *t,
                           const double *sw, floating *loss, floating *grad, Py_ssize_t n, Work *w,
                           double *part, RowOut ro) noexcept nogil:
    """Focal loss with a target distribution: probability targets t (y NULL)
    or class indices y with label smoothing.  With c_j = w_j a_j t'_j
    (t' = ta t + tb, or (1-eps)[j=y] + eps/C) and L_j = lse - x_j:
        row loss = s_i [ sum_j c_j q_j^g L_j + z lse^2 ]
        gradient = s_i [ (G + 2 z lse) p_k - G_k ],  G_k = c_k q_k^g (1 + g p_k L_k / q_k)
    element by element in focal_rows (fx_rows.h), which forms q = 1 - p
    without cancellation; grad may be x.  Adds to part = (weighted loss
    sum, the mean's denominator)."""
    cdef Py_ssize_t C = o.C, i
    cdef double l, lse, si, wy, row, total = part[0], wsum = part[1]
    cdef fx_focal fo
    cdef double *gs = w.a
    cdef double *rows = w.b
    stats_op(x, n, C, &w.st)
    put_row_stats(ro, w, n)
    fo.fa = o.fa
    fo.gamma = o.gamma
    fo.z = o.z
    if y != NULL:
        fo.ta = 1.0 - o.eps
        fo.tb = o.eps / C
    else:
        fo.ta = o.ta
        fo.tb = o.tb
    for i in range(n):
        gs[i] = o.gscale * (sw[i] if sw != NULL else 1.0)
    if floating is float:
        fx_F.focal_rows(x, t, y, grad, n, C, &fo, &w.st, gs if grad != NULL else NULL, rows)
    else:
        fx_D.focal_rows(x, t, y, grad, n, C, &fo, &w.st, gs if grad != NULL else NULL, rows)
    for i in range(n):
        si = sw[i] if sw != NULL else 1.0
        wy = 1.0
        if y != NULL:
            if y[i] == o.ignore_index:
                if loss != NULL:
                    loss[i] = 0
                if grad != NULL:
                    memset(grad + i * C, 0, C * sizeof(floating))
                continue
            wy = o.cw[y[i]] if o.cw != NULL else 1.0
        l = w.st.l[i]
        lse = w.st.m[i] + l
        row = rows[i]
        if o.z != 0.0:
            row = row + o.z * lse * lse
        if isnan(l):
            row = NAN
            if grad != NULL:
                fill(grad + i * C, C, <floating>NAN)
        row = si * row
        if loss != NULL:
            loss[i] = <floating>(o.k * row)
        total += row
        wsum += si * wy
    part[0] = total
    part[1] = wsum


cdef void ce_soft_tile(const CE *o, const floating *x, const floating *t, const double *sw,
                       floating *loss, floating *grad, Py_ssize_t n, Work *w, double *part,
                       RowOut ro) noexcept nogil:
    """n rows of the probability-target loss (grad may be x, not t); adds
    to part = (weighted loss sum, sum of s_i), row by row.  With c_j = w_j t'_j and T = sum_j c_j:
        row loss = s_i [ sum_j c_j (m - x_j) + T l + z lse^2 ]   (= s_i [-sum c_j log p_j + z lse^2])
        gradient = s_i [ (T + 2 z lse) p_j - c_j ]
    """
    cdef Py_ssize_t C = o.C, i
    cdef double m, l, lse, si, row, total = part[0], wsum = part[1]
    cdef floating *e
    if o.fa != NULL:
        ce_focal_general(o, x, NULL, t, sw, loss, grad, n, w, part, ro)
        return
    e = stats_exp_op(x, grad, n, C, w, 0)   # exp(x - m), finished into grad below
    put_row_stats(ro, w, n)
    if floating is float:
        fx_F.tdiff_rows(x, t, n, C, w.st.m, o.cw, o.ta, o.tb, w.d1, w.d2)
    else:
        fx_D.tdiff_rows(x, t, n, C, w.st.m, o.cw, o.ta, o.tb, w.d1, w.d2)
    for i in range(n):
        si = sw[i] if sw != NULL else 1.0
        m = w.st.m[i]
        l = w.st.l[i]
        w.a[i] = NAN
        w.b[i] = NAN
        if isnan(l):
            row = NAN
        else:
            lse = m + l
            row = w.d1[i] + w.d2[i] * l
            if o.z != 0.0:
                row = row + o.z * lse * lse
            w.a[i] = o.gscale * si * (w.d2[i] + 2.0 * o.z * lse) / (1.0 + w.st.s[i])
            w.b[i] = o.gscale * si
        row = si * row
        if loss != NULL:
            loss[i] = <floating>(o.k * row)
        total += row
        wsum += si
    part[0] = total
    part[1] = wsum
    if grad != NULL:
        # NaN coefficients make a special row's gradient NaN
        if floating is float:
            fx_F.grad_soft_rows(e if e != NULL else x, t, grad, n, C, w.st.m, w.a, o.cw, w.b, o.ta, o.tb,
                                e != NULL)
        else:
            fx_D.grad_soft_rows(e if e != NULL else x, t, grad, n, C, w.st.m, w.a, o.cw, w.b, o.ta, o.tb,
                                e != NULL)
        for i in range(n):
            if isnan(w.st.l[i]):
                fill(grad + i * C, C, <floating>NAN)


cdef inline floating *at(floating *p, Py_ssize_t i) noexcept nogil:
    return p + i if p != NULL else NULL

cdef inline const double *atd(const double *p, Py_ssize_t i) noexcept nogil:
    return p + i if p != NULL else NULL


cdef void ce_index_rows(const CE *o, const floating *x, const int64_t *y, const double *sw,
                        floating *loss, floating *grad, Py_ssize_t n, Work *w, double *part,
                        RowOut ro) noexcept nogil:
    cdef Py_ssize_t t0, C = o.C
    t0 = 0
    while t0 < n:          # tile by tile
        ce_index_tile(o, x + t0 * C, y + t0, atd(sw, t0), at(loss, t0), at(grad, t0 * C), min(w.rows, n - t0),
                      w, part, ro_at(ro, t0))
        t0 += w.rows


cdef void ce_soft_rows(const CE *o, const floating *x, const floating *t, const double *sw,
                       floating *loss, floating *grad, Py_ssize_t n, Work *w, double *part,
                       RowOut ro) noexcept nogil:
    cdef Py_ssize_t t0, C = o.C
    t0 = 0
    while t0 < n:          # tile by tile
        ce_soft_tile(o, x + t0 * C, t + t0 * C, atd(sw, t0), at(loss, t0), at(grad, t0 * C), min(w.rows, n - t0),
                     w, part, ro_at(ro, t0))
        t0 += w.rows


cdef inline RowOut row_out(void **p) noexcept nogil:
    cdef RowOut r
    r.lse = <double *>p[5]
    r.ent = <double *>p[6]
    r.amax = <int64_t *>p[7]
    return r


# streams: 0 logits, 1 labels | probabilities, 2 sample weights, 3 loss rows, 4 gradient,
# 5 lse, 6 entropy, 7 argmax
cdef void ce_index_blk(const void *c, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w, double *part,
                       const floating *t) noexcept nogil:
    ce_index_rows(<const CE *>c, <const floating *>p[0], <const int64_t *>p[1], <const double *>p[2],
                  <floating *>p[3], <floating *>p[4], n, w, part, row_out(p))

cdef void ce_soft_blk(const void *c, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w, double *part,
                      const floating *t) noexcept nogil:
    ce_soft_rows(<const CE *>c, <const floating *>p[0], <const floating *>p[1], <const double *>p[2],
                 <floating *>p[3], <floating *>p[4], n, w, part, row_out(p))


def softmax_xent(x, *, CEOptions options, labels=None, probabilities=None, sample_weight=None,
                 loss_out=None, grad_out=None, lse_out=None, entropy_out=None, argmax_out=None, partial,
                 Py_ssize_t rows_per_block, int nt):
    """Softmax cross-entropy over the rows of x (N, C); partial[b] (nblocks
    x 2, zeros on entry) receives block b's (loss sum, denominator sum).  Exactly one of
    `labels` (int64, N) and `probabilities` (N, C) is given.  lse_out,
    entropy_out (float64) and argmax_out (int64), all or none, receive the
    rows' statistics (the options must not be plain: xent_rows has none)."""
    cdef _Job job = _Job()
    cdef Py_ssize_t N = x.shape[0], C = options.c.C
    cdef bint by_index = labels is not None
    cdef bint stats = lse_out is not None
    if stats != (entropy_out is not None) or stats != (argmax_out is not None):
        raise ValueError("fusedxent kernel: lse_out, entropy_out and argmax_out go together")
    if stats and (lse_out.dtype.char != "d" or entropy_out.dtype.char != "d" or argmax_out.dtype.kind != "i"
                  or argmax_out.dtype.itemsize != 8):
        raise TypeError("fusedxent kernel: lse_out, entropy_out float64, argmax_out int64")
    if stats and options.c.plain:
        raise ValueError("fusedxent kernel: row statistics need options that are not plain")
    if x.shape[1] != C:
        raise ValueError(f"fusedxent kernel: x has {x.shape[1]} classes, options {C}")
    job.add(x, N, C, "x")
    if by_index:
        if labels.dtype.char not in "lq" or labels.dtype.itemsize != 8:
            raise TypeError("fusedxent kernel: labels must be int64")
        job.add(labels, N, 1, "labels", False, False)
    else:
        job.add(probabilities, N, C, "probabilities")
    job.add(sample_weight, N, 1, "sample_weight", False, False)
    job.add(loss_out, N, 1, "loss_out", True)
    job.add(grad_out, N, C, "grad_out", True)
    job.add(lse_out, N, 1, "lse_out", True, False)
    job.add(entropy_out, N, 1, "entropy_out", True, False)
    job.add(argmax_out, N, 1, "argmax_out", True, False)
    # temperature alone: d/dx = (1/T) d/dz is a constant, folded into the
    # gradient's scale (every gradient term carries gscale) instead of a
    # pass of the driver over each block's gradient
    cdef CE c = options.c
    cdef int gstream = 4
    if options.softcap == 0.0 and options.temperature != 1.0:
        c.gscale = c.gscale / options.temperature
        gstream = -1
    job.transform(options.temperature, options.softcap, 0, gstream)
    job.run(ce_index_blk[float] if by_index else ce_soft_blk[float],
            ce_index_blk[double] if by_index else ce_soft_blk[double], &c, N, rows_per_block,
            partials(partial, nblocks(N, rows_per_block), 2), 2, nt, C, stats,   # extras: sx, for the entropy
            job.in_place(0, 4))                  # exps: the in-place gradient's scratch


def xent_index_one_block(const floating[:, ::1] x, const int64_t[::1] y, int64_t ignore_index):
    """The small-call fast path of softmax_xent: class-index forward loss
    with no options over rows that form a single reduction block, returning
    that block's (loss sum, denominator) -- the same numbers softmax_xent
    would put in partial[0] -- on this thread.  Returns None when y is not
    one label per row in [0, C) or ignore_index; the caller's full path
    then raises with the message."""
    cdef CE o
    cdef RowOut no_rows
    cdef double part[2]
    cdef Py_ssize_t i, N = x.shape[0], C = x.shape[1]
    cdef Work *w
    if y.shape[0] != N or C == 0:
        return None
    for i in range(N):
        if (y[i] < 0 or y[i] >= C) and y[i] != ignore_index:
            return None
    memset(&o, 0, sizeof(CE))
    memset(&no_rows, 0, sizeof(RowOut))
    o.plain = True
    o.C = C
    o.cw_sum = C
    o.ignore_index = ignore_index
    o.k = 1.0
    part[0] = 0.0
    part[1] = 0.0
    if N > 0:
        w = work_new(min(N, tile_rows(C, sizeof(floating))), False, 0)
        if w == NULL:
            raise MemoryError("fusedxent: no memory for the kernels' scratch")
        with nogil:
            ce_index_rows(&o, &x[0, 0], &y[0], NULL, <floating *>NULL, <floating *>NULL, N, w, part, no_rows)
        free(w)
    return part[0], part[1]
