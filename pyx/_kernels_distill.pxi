# _kernels_distill.pxi -- knowledge distillation: the divergence between a
# teacher's and a student's softmax (fx_distill.h), per row, with the
# student's cross-entropy and the gradient.  Part of _kernels.pyx, included
# there: the driver, the tables' typed views and the helpers are in scope.

cdef class DistillOptions:
    """The validated options of a distillation call (keyword-only):
    divergence 0 (KL(P||Q)), 1 (KL(Q||P)), 2 (JSD); the series
    coefficients cs (and cl for JSD), FX_DISTILL_NPOLY each, from the
    Python layer."""
    cdef fx_distill c

    def __init__(self, *, double inv_temperature, int divergence, double beta, double tau, cs, cl):
        if divergence not in (0, 1, 2):
            raise ValueError("fusedxent kernel: divergence must be 0, 1 or 2")
        if len(cs) != FX_DISTILL_NPOLY or len(cl) != FX_DISTILL_NPOLY:
            raise ValueError(f"fusedxent kernel: {FX_DISTILL_NPOLY} series coefficients")
        self.c.it = inv_temperature
        self.c.div = divergence
        self.c.beta = beta
        self.c.tau = tau
        for i in range(FX_DISTILL_NPOLY):
            self.c.cs[i] = cs[i]
            self.c.cl[i] = cl[i]


def distill_npoly():
    return FX_DISTILL_NPOLY


cdef struct DS:
    fx_distill o
    Py_ssize_t C


# streams: 0 student, 1 teacher, 2 labels, 3 soft scale, 4 hard scale, 5 gradient, 6 soft rows, 7 hard rows
cdef void distill_blk(const void *c, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w, double *part,
                      const floating *t) noexcept nogil:
    cdef const DS *d = <const DS *>c
    cdef const fx_distill *o = &d.o
    cdef Py_ssize_t C = d.C
    if floating is float:
        fx_F.distill_rows(<const float *>p[0], <const float *>p[1], <const int64_t *>p[2], n, C, o,
                          <const double *>p[3], <const double *>p[4], <float *>p[5], <double *>p[6],
                          <double *>p[7], <double *>w.e)
    else:
        fx_D.distill_rows(<const double *>p[0], <const double *>p[1], <const int64_t *>p[2], n, C, o,
                          <const double *>p[3], <const double *>p[4], <double *>p[5], <double *>p[6],
                          <double *>p[7], <double *>w.e)


def distill(student, teacher, *, DistillOptions options, labels=None, soft_scale=None, hard_scale=None,
            grad_out=None, soft_out, hard_out, Py_ssize_t rows_per_block, int nt):
    """Distillation rows of student and teacher (N, C), same compute type:
    soft_out[i] the divergence of row i, hard_out[i] its cross-entropy at
    temperature 1 (labels int64, -1: none), both float64.  With grad_out
    (N, C): the gradient soft_scale[i] * d(divergence)/d(student / T) +
    hard_scale[i] * d(hard)/d(student), both float64 (N)."""
    cdef _Job job = _Job()
    cdef Py_ssize_t N = student.shape[0], C = student.shape[1]
    cdef DS ctx
    if teacher.shape[0] != N or teacher.shape[1] != C:
        raise ValueError("fusedxent kernel: teacher's shape differs from the student's")
    if labels is not None and (labels.dtype.char not in "lq" or labels.dtype.itemsize != 8):
        raise TypeError("fusedxent kernel: labels must be int64")
    if grad_out is not None and (soft_scale is None or hard_scale is None):
        raise ValueError("fusedxent kernel: the gradient needs soft_scale and hard_scale")
    for a, name in ((soft_scale, "soft_scale"), (hard_scale, "hard_scale"), (soft_out, "soft_out"),
                    (hard_out, "hard_out")):
        if a is not None and a.dtype.char != "d":
            raise TypeError(f"fusedxent kernel: {name} must be float64")
    job.add(student, N, C, "student")
    job.add(teacher, N, C, "teacher")
    job.add(labels, N, 1, "labels", False, False)
    job.add(soft_scale, N, 1, "soft_scale", False, False)
    job.add(hard_scale, N, 1, "hard_scale", False, False)
    job.add(grad_out, N, C, "grad_out", True)
    job.add(soft_out, N, 1, "soft_out", True, False)
    job.add(hard_out, N, 1, "hard_out", True, False)
    ctx.o = options.c
    ctx.C = C
    # the thread's scratch: 2 C doubles, the exps of a row (fx_distill.h)
    job.run(distill_blk[float], distill_blk[double], &ctx, N, rows_per_block, NULL, 0, nt, C,
            False, False, False, 2 * C * sizeof(double))


cdef struct DSS:
    fx_distill o
    Py_ssize_t C
    Py_ssize_t k
    int tail


# streams: 0 student, 1 class ids, 2 log-probabilities, 3 labels, 4 soft scale, 5 hard scale, 6 gradient,
# 7 (divergence, hard) rows
cdef void distill_sparse_blk(const void *c, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w, double *part,
                             const floating *t) noexcept nogil:
    cdef const DSS *d = <const DSS *>c
    if floating is float:
        fx_F.distill_sparse_rows(<const float *>p[0], <const int64_t *>p[1], <const float *>p[2],
                                 <const int64_t *>p[3], n, d.C, d.k, d.tail, &d.o, <const double *>p[4],
                                 <const double *>p[5], <float *>p[6], <double *>p[7], <double *>w.e)
    else:
        fx_D.distill_sparse_rows(<const double *>p[0], <const int64_t *>p[1], <const double *>p[2],
                                 <const int64_t *>p[3], n, d.C, d.k, d.tail, &d.o, <const double *>p[4],
                                 <const double *>p[5], <double *>p[6], <double *>p[7], <double *>w.e)


def distill_sparse(student, indices, logprobs, *, DistillOptions options, int tail, labels=None,
                   soft_scale=None, hard_scale=None, grad_out=None, rows_out, Py_ssize_t rows_per_block, int nt):
    """Distillation rows of student (N, C) against a sparse teacher: indices
    (N, k) int64, distinct in [0, C) per row, logprobs (N, k) of the
    student's compute type; tail 0 (bucket) or 1 (renormalize).  rows_out
    (N, 2) float64 receives (divergence, hard cross-entropy); labels,
    scales and grad_out as in distill."""
    cdef _Job job = _Job()
    cdef Py_ssize_t N = student.shape[0], C = student.shape[1], k = indices.shape[1]
    cdef DSS ctx
    if indices.shape[0] != N or logprobs.shape[0] != N or logprobs.shape[1] != k:
        raise ValueError("fusedxent kernel: indices and logprobs must be (N, k)")
    if indices.dtype.char not in "lq" or indices.dtype.itemsize != 8:
        raise TypeError("fusedxent kernel: indices must be int64")
    if labels is not None and (labels.dtype.char not in "lq" or labels.dtype.itemsize != 8):
        raise TypeError("fusedxent kernel: labels must be int64")
    if grad_out is not None and (soft_scale is None or hard_scale is None):
        raise ValueError("fusedxent kernel: the gradient needs soft_scale and hard_scale")
    if tail not in (0, 1) or k < 1 or k > C:
        raise ValueError("fusedxent kernel: tail 0 or 1, 1 <= k <= C")
    for a, name in ((soft_scale, "soft_scale"), (hard_scale, "hard_scale"), (rows_out, "rows_out")):
        if a is not None and a.dtype.char != "d":
            raise TypeError(f"fusedxent kernel: {name} must be float64")
    job.add(student, N, C, "student")
    job.add(indices, N, k, "indices", False, False)
    job.add(logprobs, N, k, "logprobs")
    job.add(labels, N, 1, "labels", False, False)
    job.add(soft_scale, N, 1, "soft_scale", False, False)
    job.add(hard_scale, N, 1, "hard_scale", False, False)
    job.add(grad_out, N, C, "grad_out", True)
    job.add(rows_out, N, 2, "rows_out", True, False)
    ctx.o = options.c
    ctx.C = C
    ctx.k = k
    ctx.tail = tail
    # the thread's scratch: the row's exps, the mask of the k, six (k + 1) vectors (fx_distill.h)
    job.run(distill_sparse_blk[float], distill_sparse_blk[double], &ctx, N, rows_per_block, NULL, 0, nt, C,
            False, False, False, (C + (C + 7) // 8 + 6 * (k + 1)) * sizeof(double))
