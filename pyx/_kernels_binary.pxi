# _kernels_binary.pxi -- binary cross-entropy with logits, and the losses
# from probabilities (cross_entropy_prob, binary_cross_entropy_prob).
# Part of _kernels.pyx, included there: the driver, the tables' typed
# views and the helpers it defines are in scope.

# ---------------------------------------------------------------- binary cross-entropy

cdef struct BCE:
    const double *w         # element weights: per column (L) or per element (n), or NULL
    bint w_full             # w indexed by flat position (else by column)
    const double *wrow      # per-row weights (n / L) or NULL
    const double *pw        # pos_weight per column (L) or NULL
    Py_ssize_t L            # length of the last axis
    fx_bce_seg seg          # the scalar options every segment shares


cdef class BCEOptions:
    """The validated options of a sigmoid_binary_cross_entropy call
    (keyword-only)."""
    cdef BCE c
    cdef readonly tuple arrays

    def __init__(self, *, Py_ssize_t row_length, Py_ssize_t size, weight=None, bint weight_full=False,
                 row_weight=None, pos_weight=None, double target_a=1.0, double target_b=0.0,
                 double gamma=0.0, double alpha=-1.0, double grad_scale=0.0, double loss_scale=1.0):
        cdef Py_ssize_t L = row_length
        self.arrays = (weight, row_weight, pos_weight)
        for a, name in ((weight, "weight"), (row_weight, "row_weight"), (pos_weight, "pos_weight")):
            if a is not None and a.dtype.char != "d":
                raise TypeError(f"fusedxent kernel: {name} must be float64")
        self.c.L = L
        self.c.w_full = weight_full
        self.c.w = <const double *>addr(weight, size if weight_full else L, "weight") if weight is not None else NULL
        self.c.wrow = <const double *>addr(row_weight, size // L if L else 0, "row_weight") \
            if row_weight is not None else NULL
        self.c.pw = <const double *>addr(pos_weight, L, "pos_weight") if pos_weight is not None else NULL
        self.c.seg.ta = target_a
        self.c.seg.tb = target_b
        self.c.seg.gamma = gamma
        self.c.seg.alpha = alpha
        self.c.seg.gscale = grad_scale
        self.c.seg.k = loss_scale


cdef double bce_elems(const BCE *o, const floating *x, const floating *t, floating *loss, floating *grad,
                      Py_ssize_t j0, Py_ssize_t n) noexcept nogil:
    """n elements starting at flat position j0 (x, t, loss, grad point at
    element j0).  Split where rows of the last axis end so that the
    column-indexed weights stay contiguous; returns the weighted sum."""
    cdef Py_ssize_t pos = 0, r, c, seg
    cdef double total = 0.0
    cdef fx_bce_seg s = o.seg
    while pos < n:
        r = (j0 + pos) // o.L
        c = (j0 + pos) - r * o.L
        seg = min(n - pos, o.L - c)
        s.ws = o.wrow[r] if o.wrow != NULL else 1.0
        s.w = NULL
        if o.w != NULL:
            s.w = o.w + j0 + pos if o.w_full else o.w + c
        s.pw = o.pw + c if o.pw != NULL else NULL
        if floating is float:
            total += fx_F.bce(x + pos, t + pos, seg, &s, loss + pos if loss != NULL else NULL,
                              grad + pos if grad != NULL else NULL)
        else:
            total += fx_D.bce(x + pos, t + pos, seg, &s, loss + pos if loss != NULL else NULL,
                              grad + pos if grad != NULL else NULL)
        pos += seg
    return total

# streams: 0 logits, 1 targets, 2 element losses, 3 gradient
cdef void bce_blk(const void *c, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w, double *part,
                  const floating *t) noexcept nogil:
    part[0] = bce_elems(<const BCE *>c, <const floating *>p[0], <const floating *>p[1], <floating *>p[2],
                        <floating *>p[3], r0, n)


def sigmoid_bce(x, t, *, BCEOptions options, loss_out=None, grad_out=None, partial, Py_ssize_t block, int nt):
    """Binary cross-entropy with logits over n flat elements; partial[b]
    receives block b's weighted loss sum."""
    cdef _Job job = _Job()
    cdef Py_ssize_t n = x.shape[0]
    job.add(x, n, 1, "x")
    job.add(t, n, 1, "t")
    job.add(loss_out, n, 1, "loss_out", True)
    job.add(grad_out, n, 1, "grad_out", True)
    job.run(bce_blk[float], bce_blk[double], &options.c, n, block, partials(partial, nblocks(n, block), 1), 1, nt, 0)


# ---------------------------------------------------------------- losses from probabilities

cdef struct Prob:
    Py_ssize_t C
    double lo, hi, k
    const double *w


cdef void xent_prob_rows(const Prob *o, const floating *p, const floating *q, floating *loss,
                         Py_ssize_t n, Work *w, double *part) noexcept nogil:
    cdef Py_ssize_t i, t0, tn, C = o.C
    cdef double total = 0.0
    t0 = 0
    while t0 < n:          # tile by tile
        tn = min(w.rows, n - t0)
        if floating is float:
            fx_F.plogq_rows(p + t0 * C, q + t0 * C, tn, C, <float>o.lo, <float>o.hi, w.d1)
        else:
            fx_D.plogq_rows(p + t0 * C, q + t0 * C, tn, C, o.lo, o.hi, w.d1)
        for i in range(tn):
            if loss != NULL:
                loss[t0 + i] = <floating>(-o.k * w.d1[i])
            total -= w.d1[i]
        t0 += w.rows
    part[0] = total

cdef void xent_prob_blk(const void *c, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w, double *part,
                        const floating *t) noexcept nogil:
    xent_prob_rows(<const Prob *>c, <const floating *>p[0], <const floating *>p[1], <floating *>p[2], n, w, part)


def cross_entropy_prob(p, q, *, double lo, double hi, double loss_scale, loss_out=None, partial,
                       Py_ssize_t rows_per_block, int nt):
    """-sum_j p log clip(q, lo, hi) over the rows of p, q (N, C)."""
    cdef _Job job = _Job()
    cdef Prob o
    cdef Py_ssize_t N = p.shape[0]
    o.C = p.shape[1]
    o.lo = lo
    o.hi = hi
    o.k = loss_scale
    o.w = NULL
    job.add(p, N, o.C, "p")
    job.add(q, N, o.C, "q")
    job.add(loss_out, N, 1, "loss_out", True)
    job.run(xent_prob_blk[float], xent_prob_blk[double], &o, N, rows_per_block,
            partials(partial, nblocks(N, rows_per_block), 1), 1, nt, o.C)


cdef void bce_prob_blk(const void *c, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w, double *part,
                       const floating *t) noexcept nogil:
    cdef const Prob *o = <const Prob *>c
    cdef const double *wt = o.w + r0 if o.w != NULL else NULL
    if floating is float:
        part[0] = fx_F.bce_prob(<const float *>p[0], <const float *>p[1], n, wt, <float>o.lo, <float>o.hi, o.k,
                                <float *>p[2])
    else:
        part[0] = fx_D.bce_prob(<const double *>p[0], <const double *>p[1], n, wt, o.lo, o.hi, o.k, <double *>p[2])


def binary_cross_entropy_prob(p, t, *, weight=None, double lo, double hi, double loss_scale, loss_out=None,
                              partial, Py_ssize_t block, int nt):
    """-(t log pc + (1 - t) log1p(-pc)), pc = clip(p, lo, hi), over n flat
    elements; weight: n float64 or None."""
    cdef _Job job = _Job()
    cdef Prob o
    cdef Py_ssize_t n = p.shape[0]
    o.lo = lo
    o.hi = hi
    o.k = loss_scale
    o.w = <const double *>addr(weight, n, "weight") if weight is not None else NULL
    if weight is not None and weight.dtype.char != "d":
        raise TypeError("fusedxent kernel: weight must be float64")
    job.add(p, n, 1, "p")
    job.add(t, n, 1, "t")
    job.add(loss_out, n, 1, "loss_out", True)
    job.keep.append(weight)
    job.run(bce_prob_blk[float], bce_prob_blk[double], &o, n, block, partials(partial, nblocks(n, block), 1), 1, nt, 0)
