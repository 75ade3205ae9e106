# Design: the compiled layer of fusedxent.  Every entry point takes arrays
# the Python layer has already validated and laid out C-contiguous in the
# dtype it needs, and writes only into buffers it was handed.  No
# validation of values, no exceptions inside the loops.
#
# - One driver (`drive`) runs every kernel: an OpenMP loop over fixed
#   blocks of rows (or elements) with the GIL released.  For each block it
#   hands a block function pointers at the block's first row of every
#   array.  float16 and bfloat16 arrays are converted into per-thread
#   float32 scratch on the way in (and back, for outputs), so a block
#   function only ever sees float32 or float64: adding a function means
#   writing its block code once, for `floating`.
# - Block code calls the vector operations through the tables of
#   fx_dispatch.h (fx_F, fx_D), once per block, never per row: row
#   statistics for the whole block first (max, first argmax, the sum of
#   exp(x_j - m) without the maximum's term, l = log1p of it), then the
#   per-row scalar algebra here, then one call that writes every row
#   (softmax, gradients).
# - Reductions: each block sums its rows in double, in order, into
#   partial[block]; the caller adds the partials in order.  Block size is a
#   function of the shape only, so results are bitwise identical for any
#   num_threads.
# - The loss of a row is (m - x_y) + l, a sum of two non-negative terms: no
#   cancellation for confident rows; the label's gradient uses -s/(1+s)
#   when x_y is the maximum, not p_y - 1.
# - Rows whose maximum is not finite (fx_stats): a NaN anywhere makes the
#   row NaN; all -inf gives lse = -inf; a +inf gives lse = +inf; every
#   other output of such a row (probabilities, loss, gradient) is NaN.
# - Options reach the block code as typed structs (CE, BCE), built once
#   from keyword-only option objects (CEOptions, BCEOptions).

cimport numpy as cnp
from cython.parallel cimport prange, parallel
from libc.stdlib cimport malloc, free
from libc.math cimport isnan, exp, INFINITY, NAN
from libc.string cimport memset, memcpy
from libc.stdint cimport int64_t, uint16_t

from fx_types cimport (fx_stats, fx_bce_seg, fx_xent, FX_GROUP, FX_SMALL_C, FX_VM_COUNT, fx_vm_names, fx_isa_current, fx_isa_names, FX_ISA_COUNT, fx_isa_supported,
                       fx_select_isa, fx_max_threads, fx_have_openmp, fx_simde)
from fx_ops cimport fx_F, fx_D, fx_H

cnp.import_array()

ctypedef fused floating:
    float
    double


# ---------------------------------------------------------------- configuration

def isa_names():
    """The instruction-set paths compiled into the module, by level."""
    return tuple(fx_isa_names[i].decode() for i in range(FX_ISA_COUNT))


def isa_supported():
    """Names of the instruction-set paths this CPU can run."""
    cdef int bits = fx_isa_supported()
    return tuple(name for i, name in enumerate(isa_names()) if bits & (1 << i))


def isa_current():
    return fx_isa_current.decode()


def select_isa(int level):
    """Switch every kernel to the path of this level (0, 1, 2; -1: the
    widest this CPU runs).  Returns the name in force, or None when the
    CPU cannot run it (nothing changes)."""
    return None if fx_select_isa(level) == -2 else isa_current()


def max_threads():
    return fx_max_threads()


def have_openmp():
    return bool(fx_have_openmp())


def simde_build():
    """True in the SIMDe test build, where the avx512 path is emulated."""
    return bool(fx_simde())


# ---------------------------------------------------------------- arrays

cdef enum Fmt:
    F32 = 0
    F64 = 1
    F16 = 2       # converted through float32 scratch
    BF16 = 3      # converted through float32 scratch
    RAW = 4       # anything else (labels, weights): used in place


cdef int fmt_of(object a) except -1:
    cdef str c = a.dtype.char
    if c == "f":
        return F32
    if c == "d":
        return F64
    if c == "e":
        return F16
    if c == "E":
        return BF16
    return RAW


cdef char *addr(object a, Py_ssize_t n, str what, bint write=False) except? NULL:
    """The data of a C-contiguous array of n elements, NULL for None or an
    empty array.  A wrong array here is a bug in the Python layer: it
    raises rather than read or write past the end."""
    cdef cnp.ndarray arr
    if a is None:
        return NULL
    arr = <cnp.ndarray?>a
    if cnp.PyArray_SIZE(arr) != n or not cnp.PyArray_IS_C_CONTIGUOUS(arr) or (write and not cnp.PyArray_ISWRITEABLE(arr)):
        raise ValueError(f"fusedxent kernel: {what} must be a C-contiguous{' writable' if write else ''} "
                         f"array of {n} elements, got shape {a.shape}")
    return <char *>cnp.PyArray_DATA(arr) if n > 0 else NULL


# ---------------------------------------------------------------- the driver

cdef struct Stream:
    char *base            # the array's first row (NULL: absent)
    Py_ssize_t width      # elements per row
    Py_ssize_t isz        # bytes per element as stored
    int fmt               # F16 / BF16: converted through float32 scratch; else used in place
    bint out              # written by the block (converted back after it)


cdef struct Work:
    # per-thread scratch of one tile of rows
    Py_ssize_t rows       # rows per tile: a block is processed tile by tile
    fx_stats st           # row statistics (fx_dispatch.h)
    double *a             # per-row coefficients of the row writes
    double *b
    double *d1            # per-row sums of the option paths (smoothing, soft targets)
    double *d2
    void *e               # a tile's exps when the row writes are in place (stats_exp_op), or NULL


ctypedef void (*BlockFn)(const void *ctx, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w,
                         double *part) noexcept nogil

cdef enum:
    MAX_STREAMS = 8


cdef inline int threads_for(Py_ssize_t nblocks, int nt) noexcept nogil:
    return 1 if nblocks < 2 else (nt if nt < nblocks else <int>nblocks)


cdef enum:
    TILE_BYTES = 16384    # rows of a block are processed in tiles this big, which stay in L1
                          # between the statistics and the row writes


cdef Py_ssize_t tile_rows(Py_ssize_t C, Py_ssize_t itemsize) noexcept nogil:
    """Rows per tile: about TILE_BYTES of logits, whole groups of FX_GROUP
    rows on the small-class path."""
    cdef Py_ssize_t r = TILE_BYTES // (C * itemsize) if C > 0 else 1
    if C <= FX_SMALL_C:
        return max(<Py_ssize_t>FX_GROUP, r // FX_GROUP * FX_GROUP)
    return max(1, r)


cdef Work *work_new(Py_ssize_t rows, bint extras, Py_ssize_t ebytes) noexcept nogil:
    """Scratch for the row statistics and coefficients of a tile of `rows`
    rows (one allocation); extras: also rank, s2, sx; ebytes > 0: also a
    tile's exps (64-byte aligned)."""
    cdef Py_ssize_t r = rows if rows > 0 else 1
    cdef Py_ssize_t nd = 9 if extras else 7
    cdef Py_ssize_t head = sizeof(Work) + r * (nd * sizeof(double) + 2 * sizeof(int64_t))
    cdef Work *w = <Work *>malloc(head + (ebytes + 64 if ebytes > 0 else 0))
    cdef double *d
    if w == NULL:
        return NULL
    memset(&w.st, 0, sizeof(fx_stats))
    w.e = NULL
    if ebytes > 0:
        w.e = <void *>((<size_t>w + <size_t>head + 63) & ~(<size_t>63))
    w.rows = r
    d = <double *>(w + 1)
    w.st.m = d
    w.st.s = d + r
    w.st.l = d + 2 * r
    w.a = d + 3 * r
    w.b = d + 4 * r
    w.d1 = d + 5 * r
    w.d2 = d + 6 * r
    w.st.k = <int64_t *>(d + nd * r)
    if extras:
        w.st.s2 = d + 7 * r
        w.st.sx = d + 8 * r
        w.st.rank = w.st.k + r
    return w


cdef inline void to_float(int fmt, const char *src, float *dst, Py_ssize_t n) noexcept nogil:
    if fmt == F16:
        fx_H.h2f(<const uint16_t *>src, dst, n)
    else:
        fx_H.b2f(<const uint16_t *>src, dst, n)


cdef inline void from_float(int fmt, const float *src, char *dst, Py_ssize_t n) noexcept nogil:
    if fmt == F16:
        fx_H.f2h(src, <uint16_t *>dst, n)
    else:
        fx_H.f2b(src, <uint16_t *>dst, n)


cdef int drive(BlockFn fn, const void *ctx, Stream *s, int ns, Py_ssize_t N, Py_ssize_t per,
               double *part, Py_ssize_t nparts, int nt, Py_ssize_t work_rows, bint extras,
               Py_ssize_t ebytes) noexcept nogil:
    """Run fn over the blocks of `per` rows of N rows, in parallel.  Block
    b gets pointers at its first row of every stream (16-bit streams:
    float32 scratch, converted in before and out after it), the thread's
    Work for tiles of work_rows rows (none when 0; extras: with the
    optional statistics; ebytes: with that much scratch for exps), and
    part + b * nparts.  Returns -1 when scratch
    memory ran out (nothing else then happened in that thread's blocks)."""
    cdef Py_ssize_t nb = (N + per - 1) // per if per > 0 else 0, b, r0, n, off
    cdef int i, j, ok
    cdef void **p
    cdef Work *w
    cdef int failed[1]
    failed[0] = 0
    p = NULL
    w = NULL
    ok = 0
    i = 0
    nt = threads_for(nb, nt)
    with parallel(num_threads=nt):
        # per thread: the block's pointers, one float32 scratch per 16-bit
        # stream (same slots), the statistics scratch
        p = <void **>malloc(2 * MAX_STREAMS * sizeof(void *))
        w = work_new(work_rows, extras, ebytes) if work_rows > 0 else NULL
        ok = p != NULL and (w != NULL or work_rows == 0)
        if p != NULL:
            for i in range(ns):
                p[MAX_STREAMS + i] = NULL
        if ok:
            for i in range(ns):
                if s[i].base != NULL and (s[i].fmt == F16 or s[i].fmt == BF16):
                    p[MAX_STREAMS + i] = malloc(per * s[i].width * sizeof(float))
                    if p[MAX_STREAMS + i] == NULL:
                        ok = 0
        for b in prange(nb, schedule="static"):     # every thread meets the loop, even without memory
            if not ok:
                failed[0] = 1
            else:
                r0 = b * per
                n = per if per < N - r0 else N - r0
                for j in range(ns):
                    off = r0 * s[j].width
                    if s[j].base == NULL:
                        p[j] = NULL
                    elif s[j].fmt == F16 or s[j].fmt == BF16:
                        p[j] = p[MAX_STREAMS + j]
                        if not s[j].out:
                            to_float(s[j].fmt, s[j].base + off * s[j].isz, <float *>p[j], n * s[j].width)
                    else:
                        p[j] = s[j].base + off * s[j].isz
                fn(ctx, p, r0, n, w, part + b * nparts if part != NULL else NULL)
                for j in range(ns):
                    if s[j].base != NULL and s[j].out and (s[j].fmt == F16 or s[j].fmt == BF16):
                        from_float(s[j].fmt, <const float *>p[j], s[j].base + r0 * s[j].width * s[j].isz,
                                   n * s[j].width)
        if p != NULL:
            for i in range(ns):
                free(p[MAX_STREAMS + i])
        free(p)
        free(w)
    return -1 if failed[0] else 0


cdef class _Job:
    """The streams of one kernel call and its compute type; `run` drives a
    block function over them."""
    cdef Stream s[MAX_STREAMS]
    cdef int ns
    cdef int compute            # F32 or F64: the type block functions see
    cdef list keep              # the arrays, alive for the call

    def __cinit__(self):
        self.ns = 0
        self.compute = -1
        self.keep = []

    cdef int add(self, object a, Py_ssize_t rows, Py_ssize_t width, str what, bint out=False,
                 bint floats=True) except -1:
        """An array of rows x width elements (None: absent).  floats: its
        elements are of the compute type (or 16-bit, converted to float32)."""
        cdef Stream *st = &self.s[self.ns]
        cdef int f = RAW
        st.base = NULL
        st.width = width
        st.out = out
        st.fmt = RAW
        st.isz = 1
        if a is not None:
            f = fmt_of(a)
            if floats:
                if f == RAW:
                    raise TypeError(f"fusedxent kernel: {what} has dtype {a.dtype}")
                if self.compute == -1:
                    self.compute = F64 if f == F64 else F32
                elif (self.compute == F64) != (f == F64):
                    raise TypeError(f"fusedxent kernel: {what} has dtype {a.dtype}, the call computes in "
                                    f"{'float64' if self.compute == F64 else 'float32'}")
            st.fmt = f if floats else RAW
            st.isz = a.dtype.itemsize
            st.base = addr(a, rows * width, what, out)
            self.keep.append(a)
        self.ns += 1
        return 0

    cdef bint in_place(self, int i, int j):
        """Streams i and j are the same array, used in place by the kernels
        (16-bit streams are not: each has its own float32 scratch)."""
        return (self.s[i].base != NULL and self.s[i].base == self.s[j].base
                and self.s[i].fmt != F16 and self.s[i].fmt != BF16)

    cdef int run(self, BlockFn f32, BlockFn f64, const void *ctx, Py_ssize_t N, Py_ssize_t per,
                 double *part, Py_ssize_t nparts, int nt, Py_ssize_t C, bint extras=False,
                 bint exps=False) except -1:
        """C: the class count of row kernels (tiles and their Work), 0 for
        element-wise ones.  exps: the Work holds a tile's exps (row writes
        in place)."""
        cdef BlockFn fn = f64 if self.compute == F64 else f32
        cdef Py_ssize_t isz = 8 if self.compute == F64 else 4
        cdef Py_ssize_t tr = tile_rows(C, isz) if C > 0 else 0
        cdef Py_ssize_t ebytes = min(tr, per) * C * isz if exps and C > FX_SMALL_C else 0
        cdef int r
        with nogil:
            r = drive(fn, ctx, self.s, self.ns, N, per, part, nparts, nt, min(tr, per) if tr else 0, extras,
                      ebytes)
        if r != 0:
            raise MemoryError("fusedxent: no memory for the kernels' per-thread scratch")
        return 0


cdef double *partials(object partial, Py_ssize_t nblocks, Py_ssize_t nparts) except? NULL:
    return <double *>addr(partial, nblocks * nparts, "partial", True)


cdef inline Py_ssize_t nblocks(Py_ssize_t N, Py_ssize_t per) noexcept nogil:
    return (N + per - 1) // per


# ---------------------------------------------------------------- typed views of the tables

cdef inline void stats_op(const floating *x, Py_ssize_t n, Py_ssize_t C, fx_stats *st) noexcept nogil:
    if floating is float:
        fx_F.row_stats(x, n, C, st)
    else:
        fx_D.row_stats(x, n, C, st)

cdef inline floating *stats_exp_op(const floating *x, floating *out, Py_ssize_t n, Py_ssize_t C,
                                   Work *w, int shifted) noexcept nogil:
    # row_stats, and e = exp(x - m) (shifted: x - m) written where the path
    # fuses the two.  Returns where e is -- out, or the Work's scratch when
    # out is x, since the rows redone read x -- and the caller finishes e
    # into out instead of computing the exps again; NULL: not written (write
    # from x; out NULL: the statistics alone).  Both places get the same
    # arithmetic: in place = not in place, bitwise.
    cdef floating *e = out if <const void *>out != <const void *>x else <floating *>w.e
    cdef int r
    if e == NULL:
        stats_op(x, n, C, &w.st)
        return NULL
    if floating is float:
        r = fx_F.stats_exp_rows(x, e, n, C, &w.st, shifted)
    else:
        r = fx_D.stats_exp_rows(x, e, n, C, &w.st, shifted)
    return e if r else NULL

cdef inline void scale_op(const floating *e, floating *out, Py_ssize_t n, Py_ssize_t C, const double *a,
                          const double *w, const double *b) noexcept nogil:
    if floating is float:
        fx_F.scale_rows(e, out, n, C, a, w, b)
    else:
        fx_D.scale_rows(e, out, n, C, a, w, b)

cdef inline void exp_affine_op(const floating *x, floating *out, Py_ssize_t n, Py_ssize_t C, const double *m,
                               const double *a, const double *w, const double *b) noexcept nogil:
    if floating is float:
        fx_F.exp_affine_rows(x, out, n, C, m, a, w, b)
    else:
        fx_D.exp_affine_rows(x, out, n, C, m, a, w, b)


cdef inline void fill(floating *out, Py_ssize_t n, floating v) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(n):
        out[j] = v


# ---------------------------------------------------------------- normalizers

cdef void softmax_tile(const floating *x, floating *out, Py_ssize_t n, Py_ssize_t C, bint log,
                       Work *w) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating *e = stats_exp_op(x, out, n, C, w, log)
    if log:
        # (x - m) - l; l is NaN for the rows that are NaN altogether
        if e != NULL:
            for i in range(n):
                w.a[i] = 1.0
            scale_op(e, out, n, C, w.a, NULL, w.st.l)       # e = x - m, written in the statistics' pass
        elif floating is float:
            fx_F.sub_rows(x, out, n, C, w.st.m, w.st.l)
        else:
            fx_D.sub_rows(x, out, n, C, w.st.m, w.st.l)
    else:
        for i in range(n):
            w.a[i] = 1.0 / (1.0 + w.st.s[i])          # NaN for special rows: NaN probabilities
        if e != NULL:
            scale_op(e, out, n, C, w.a, NULL, NULL)
        else:
            exp_affine_op(x, out, n, C, w.st.m, w.a, NULL, NULL)


cdef struct RowsCtx:
    Py_ssize_t C
    bint log

cdef void softmax_rows(const floating *x, floating *out, Py_ssize_t n, Py_ssize_t C, bint log,
                       Work *w) noexcept nogil:
    cdef Py_ssize_t t0
    t0 = 0
    while t0 < n:          # tile by tile
        softmax_tile(x + t0 * C, out + t0 * C, min(w.rows, n - t0), C, log, w)
        t0 += w.rows

cdef void softmax_f(const void *c, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w, double *part) noexcept nogil:
    softmax_rows(<const float *>p[0], <float *>p[1], n, (<const RowsCtx *>c).C, (<const RowsCtx *>c).log, w)

cdef void softmax_d(const void *c, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w, double *part) noexcept nogil:
    softmax_rows(<const double *>p[0], <double *>p[1], n, (<const RowsCtx *>c).C, (<const RowsCtx *>c).log, w)


def softmax(x, out, bint log, Py_ssize_t rows_per_block, int nt):
    """softmax / log_softmax of the rows of x (N, C) into out (N, C)."""
    cdef _Job job = _Job()
    cdef RowsCtx ctx
    cdef Py_ssize_t N = x.shape[0]
    ctx.C = x.shape[1]
    ctx.log = log
    job.add(x, N, ctx.C, "x")
    job.add(out, N, ctx.C, "out", True)
    job.run(softmax_f, softmax_d, &ctx, N, rows_per_block, NULL, 0, nt, ctx.C, False,
            job.in_place(0, 1))                  # exps: the in-place normalizer's scratch


cdef void lse_rows(const floating *x, floating *out, Py_ssize_t n, Py_ssize_t C, Work *w) noexcept nogil:
    cdef Py_ssize_t i, t0, tn
    t0 = 0
    while t0 < n:          # tile by tile
        tn = min(w.rows, n - t0)
        stats_op(x + t0 * C, tn, C, &w.st)
        for i in range(tn):
            # special rows: the maximum itself (-inf, +inf) or NaN
            out[t0 + i] = <floating>(w.st.m[i] if isnan(w.st.l[i]) else w.st.m[i] + w.st.l[i])
        t0 += w.rows

cdef void lse_f(const void *c, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w, double *part) noexcept nogil:
    lse_rows(<const float *>p[0], <float *>p[1], n, (<const RowsCtx *>c).C, w)

cdef void lse_d(const void *c, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w, double *part) noexcept nogil:
    lse_rows(<const double *>p[0], <double *>p[1], n, (<const RowsCtx *>c).C, w)


def logsumexp(x, out, Py_ssize_t rows_per_block, int nt):
    """logsumexp of the rows of x (N, C) into out (N,)."""
    cdef _Job job = _Job()
    cdef RowsCtx ctx
    cdef Py_ssize_t N = x.shape[0]
    ctx.C = x.shape[1]
    job.add(x, N, ctx.C, "x")
    job.add(out, N, 1, "out", True)
    job.run(lse_f, lse_d, &ctx, N, rows_per_block, NULL, 0, nt, ctx.C)


cdef void sigmoid_f(const void *c, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w, double *part) noexcept nogil:
    if (<const RowsCtx *>c).log:
        fx_F.log_sigmoid(<const float *>p[0], <float *>p[1], n)
    else:
        fx_F.sigmoid(<const float *>p[0], <float *>p[1], n)

cdef void sigmoid_d(const void *c, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w, double *part) noexcept nogil:
    if (<const RowsCtx *>c).log:
        fx_D.log_sigmoid(<const double *>p[0], <double *>p[1], n)
    else:
        fx_D.sigmoid(<const double *>p[0], <double *>p[1], n)


def sigmoid(x, out, bint log, Py_ssize_t block, int nt):
    """sigmoid / log_sigmoid of the n elements of x into out (both flat)."""
    cdef _Job job = _Job()
    cdef RowsCtx ctx
    cdef Py_ssize_t n = x.shape[0]
    ctx.log = log
    job.add(x, n, 1, "x")
    job.add(out, n, 1, "out", True)
    job.run(sigmoid_f, sigmoid_d, &ctx, n, block, NULL, 0, nt, 0)


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


cdef class CEOptions:
    """The validated options of a softmax cross-entropy call, as the struct
    the block code reads (keyword-only: nothing can be swapped)."""
    cdef CE c
    cdef readonly object class_weight

    def __init__(self, *, Py_ssize_t n_classes, class_weight=None, double class_weight_sum,
                 int64_t ignore_index=-100, double label_smoothing=0.0, double z_loss=0.0,
                 double grad_scale=0.0, double loss_scale=1.0, double target_a=1.0, double target_b=0.0,
                 bint check_labels=False):
        self.class_weight = class_weight
        self.c.check = check_labels
        self.c.C = n_classes
        self.c.cw = <const double *>addr(class_weight, n_classes, "class_weight") \
            if class_weight is not None else NULL
        if class_weight is not None and class_weight.dtype.char != "d":
            raise TypeError("fusedxent kernel: class_weight must be float64")
        self.c.cw_sum = class_weight_sum
        self.c.ignore_index = ignore_index
        self.c.eps = label_smoothing
        self.c.z = z_loss
        self.c.gscale = grad_scale
        self.c.k = loss_scale
        self.c.ta = target_a
        self.c.tb = target_b


cdef void ce_index_tile(const CE *o, const floating *x, const int64_t *y, const double *sw,
                        floating *loss, floating *grad, Py_ssize_t n, Work *w, double *part) noexcept nogil:
    """n rows of the class-index loss; adds to part = (weighted loss sum,
    sum of s_i w[y_i] over kept rows: the mean's denominator); with
    o.check, labels out of range make both NaN instead."""
    cdef fx_xent xo
    cdef Py_ssize_t bad
    if grad == NULL and o.eps == 0.0 and o.z == 0.0:
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
    elif o.check:
        bad = fx_F.labels_bad(y, n, o.C, o.ignore_index) if floating is float else \
            fx_D.labels_bad(y, n, o.C, o.ignore_index)
        if not bad:
            ce_index_general(o, x, y, sw, loss, grad, n, w, part)
    else:
        bad = 0
        ce_index_general(o, x, y, sw, loss, grad, n, w, part)
    if bad:
        # a label out of range: the partial sums say so (NaN), and the
        # caller finds and names it
        part[0] = NAN
        part[1] = NAN


cdef void ce_index_general(const CE *o, const floating *x, const int64_t *y, const double *sw,
                           floating *loss, floating *grad, Py_ssize_t n, Work *w, double *part) noexcept nogil:
    """ce_index_tile with smoothing, z-loss or the gradient, row by row.

    Row loss (PyTorch's, label smoothing eps with class weights w):
        s_i * [ w_y (1-eps) (lse - x_y) + eps/C sum_c w_c (lse - x_c) + z lse^2 ]
    and its gradient, p = softmax(x):
        s_i * [ (w_y (1-eps) + eps/C W + 2 z lse) p_j - w_y (1-eps) [j=y] - eps/C w_j ]
    written for every j as a p_j - b w_j, then at j = y less s_i w_y (1-eps):
    p_y - 1 there is in [-1, -1/2] unless x_y is the maximum, and then the
    label's entry is formed from -s/(1+s) instead (no cancellation).
    """
    # Locals for every array and option, so the compiler keeps them in
    # registers (stores to the loss rows might alias them otherwise).  A
    # row whose maximum is not finite has l = NaN, which makes its loss
    # NaN through the same formulas; its gradient is filled with NaN below.
    cdef Py_ssize_t C = o.C, i
    cdef int64_t yi, ii = o.ignore_index
    cdef double eps = o.eps, z = o.z, gs = o.gscale, k = o.k, W = o.cw_sum, ec = o.eps / C
    cdef double m, l, S, lse, wy, si, row, base, total = part[0], wsum = part[1]
    cdef const double *cw = o.cw
    cdef const double *ms = w.st.m
    cdef const double *ls = w.st.l
    cdef const double *ss = w.st.s
    cdef double *d1 = w.d1
    cdef double *d2 = w.d2
    cdef double *a = w.a
    cdef double *b = w.b
    cdef floating *e = stats_exp_op(x, grad, n, C, w, 0)   # exp(x - m), scaled into grad below
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
        row = wy * (1.0 - eps) * ((m - x[i * C + yi]) + l)
        if eps != 0.0:
            row = row + ec * (d1[i] + W * l)
        if z != 0.0:
            row = row + z * lse * lse
        if grad != NULL:
            base = gs * si
            S = 1.0 + ss[i]
            a[i] = base * (wy * (1.0 - eps) + ec * W + 2.0 * z * lse) / S
            b[i] = base * ec
            # the label's entry when x_y is the maximum (NaN: correct the
            # written entry instead); decided here, before the gradient
            # may overwrite the logits
            d2[i] = NAN
            if x[i * C + yi] == m:
                d2[i] = base * (wy * (1.0 - eps) * (-ss[i] / S) + (ec * W + 2.0 * z * lse) / S
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
            wy = cw[yi] if cw != NULL else 1.0
            base = gs * (sw[i] if sw != NULL else 1.0)
            grad[i * C + yi] = grad[i * C + yi] - <floating>(base * wy * (1.0 - eps))


cdef void ce_soft_tile(const CE *o, const floating *x, const floating *t, const double *sw,
                       floating *loss, floating *grad, Py_ssize_t n, Work *w, double *part) noexcept nogil:
    """n rows of the probability-target loss (grad may be x, not t); adds
    to part = (weighted loss sum, sum of s_i), row by row.  With c_j = w_j t'_j and T = sum_j c_j:
        row loss = s_i [ sum_j c_j (m - x_j) + T l + z lse^2 ]   (= s_i [-sum c_j log p_j + z lse^2])
        gradient = s_i [ (T + 2 z lse) p_j - c_j ]
    """
    cdef Py_ssize_t C = o.C, i
    cdef double m, l, lse, si, row, total = part[0], wsum = part[1]
    cdef floating *e = stats_exp_op(x, grad, n, C, w, 0)   # exp(x - m), finished into grad below
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
                        floating *loss, floating *grad, Py_ssize_t n, Work *w, double *part) noexcept nogil:
    cdef Py_ssize_t t0, C = o.C
    part[0] = 0.0
    part[1] = 0.0
    t0 = 0
    while t0 < n:          # tile by tile
        ce_index_tile(o, x + t0 * C, y + t0, atd(sw, t0), at(loss, t0), at(grad, t0 * C), min(w.rows, n - t0),
                      w, part)
        t0 += w.rows


cdef void ce_soft_rows(const CE *o, const floating *x, const floating *t, const double *sw,
                       floating *loss, floating *grad, Py_ssize_t n, Work *w, double *part) noexcept nogil:
    cdef Py_ssize_t t0, C = o.C
    part[0] = 0.0
    part[1] = 0.0
    t0 = 0
    while t0 < n:          # tile by tile
        ce_soft_tile(o, x + t0 * C, t + t0 * C, atd(sw, t0), at(loss, t0), at(grad, t0 * C), min(w.rows, n - t0),
                     w, part)
        t0 += w.rows


# streams: 0 logits, 1 labels | probabilities, 2 sample weights, 3 loss rows, 4 gradient
cdef void ce_index_f(const void *c, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w, double *part) noexcept nogil:
    ce_index_rows(<const CE *>c, <const float *>p[0], <const int64_t *>p[1], <const double *>p[2],
                  <float *>p[3], <float *>p[4], n, w, part)

cdef void ce_index_d(const void *c, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w, double *part) noexcept nogil:
    ce_index_rows(<const CE *>c, <const double *>p[0], <const int64_t *>p[1], <const double *>p[2],
                  <double *>p[3], <double *>p[4], n, w, part)

cdef void ce_soft_f(const void *c, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w, double *part) noexcept nogil:
    ce_soft_rows(<const CE *>c, <const float *>p[0], <const float *>p[1], <const double *>p[2],
                 <float *>p[3], <float *>p[4], n, w, part)

cdef void ce_soft_d(const void *c, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w, double *part) noexcept nogil:
    ce_soft_rows(<const CE *>c, <const double *>p[0], <const double *>p[1], <const double *>p[2],
                 <double *>p[3], <double *>p[4], n, w, part)


def softmax_xent(x, *, CEOptions options, labels=None, probabilities=None, sample_weight=None,
                 loss_out=None, grad_out=None, partial, Py_ssize_t rows_per_block, int nt):
    """Softmax cross-entropy over the rows of x (N, C); partial[b] (nblocks
    x 2) receives block b's (loss sum, denominator sum).  Exactly one of
    `labels` (int64, N) and `probabilities` (N, C) is given."""
    cdef _Job job = _Job()
    cdef Py_ssize_t N = x.shape[0], C = options.c.C
    cdef bint by_index = labels is not None
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
    job.run(ce_index_f if by_index else ce_soft_f, ce_index_d if by_index else ce_soft_d, &options.c,
            N, rows_per_block, partials(partial, nblocks(N, rows_per_block), 2), 2, nt, C, False,
            job.in_place(0, 4))                  # exps: the in-place gradient's scratch


def xent_index_one_block(const floating[:, ::1] x, const int64_t[::1] y, int64_t ignore_index):
    """The small-call fast path of softmax_xent: class-index forward loss
    with no options over rows that form a single reduction block, returning
    that block's (loss sum, denominator) -- the same numbers softmax_xent
    would put in partial[0] -- on this thread.  Returns None when y is not
    one label per row in [0, C) or ignore_index; the caller's full path
    then raises with the message."""
    cdef CE o
    cdef double part[2]
    cdef Py_ssize_t i, N = x.shape[0], C = x.shape[1]
    cdef Work *w
    if y.shape[0] != N or C == 0:
        return None
    for i in range(N):
        if (y[i] < 0 or y[i] >= C) and y[i] != ignore_index:
            return None
    memset(&o, 0, sizeof(CE))
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
            ce_index_rows(&o, &x[0, 0], &y[0], NULL, <floating *>NULL, <floating *>NULL, N, w, part)
        free(w)
    return part[0], part[1]


# ---------------------------------------------------------------- evaluate

cdef enum:
    MAX_TOPK = 16


cdef struct Eval:
    Py_ssize_t C
    int64_t ignore_index
    int nk                   # top-k values beyond top-1 (k > 1)
    int64_t ks[MAX_TOPK]
    int64_t bins             # calibration bins B (with bin_out)


cdef void eval_rows(const Eval *o, const floating *x, const int64_t *y, const double *sw,
                    floating *lse_out, int64_t *amax, double *conf, int64_t *bins, Py_ssize_t n, Work *w,
                    double *part) noexcept nogil:
    cdef Py_ssize_t t0, C = o.C, j
    for j in range(6 + o.nk):
        part[j] = 0.0
    t0 = 0
    while t0 < n:          # tile by tile
        eval_tile(o, x + t0 * C, y + t0, atd(sw, t0), lse_out + t0, amax + t0,
                  conf + t0 if conf != NULL else NULL, bins + t0 if bins != NULL else NULL,
                  min(w.rows, n - t0), w, part)
        t0 += w.rows


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
cdef void eval_f(const void *c, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w, double *part) noexcept nogil:
    eval_rows(<const Eval *>c, <const float *>p[0], <const int64_t *>p[1], <const double *>p[2],
              <float *>p[3], <int64_t *>p[4], <double *>p[5], <int64_t *>p[6], n, w, part)

cdef void eval_d(const void *c, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w, double *part) noexcept nogil:
    eval_rows(<const Eval *>c, <const double *>p[0], <const int64_t *>p[1], <const double *>p[2],
              <double *>p[3], <int64_t *>p[4], <double *>p[5], <int64_t *>p[6], n, w, part)


def evaluate(x, labels, *, sample_weight=None, int64_t ignore_index, topk=(), lse_out, argmax_out,
             confidence_out=None, bin_out=None, int64_t bins=0, partial, Py_ssize_t rows_per_block, int nt):
    """The evaluation pass over the rows of x (N, C): per-row lse, argmax
    and (optionally, together) confidence 1/(1+s) and its bin of `bins`;
    partial (nblocks x (6 + len(topk))) receives each block's sums (see
    eval_tile).  topk: the k > 1."""
    cdef _Job job = _Job()
    cdef Eval o
    cdef Py_ssize_t N = x.shape[0]
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
    job.add(x, N, o.C, "x")
    job.add(labels, N, 1, "labels", False, False)
    job.add(sample_weight, N, 1, "sample_weight", False, False)
    job.add(lse_out, N, 1, "lse_out", True)
    job.add(argmax_out, N, 1, "argmax_out", True, False)
    job.add(confidence_out, N, 1, "confidence_out", True, False)
    job.add(bin_out, N, 1, "bin_out", True, False)
    job.run(eval_f, eval_d, &o, N, rows_per_block, partials(partial, nblocks(N, rows_per_block), 6 + o.nk),
            6 + o.nk, nt, o.C, True)


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
cdef void bce_f(const void *c, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w, double *part) noexcept nogil:
    part[0] = bce_elems(<const BCE *>c, <const float *>p[0], <const float *>p[1], <float *>p[2], <float *>p[3], r0, n)

cdef void bce_d(const void *c, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w, double *part) noexcept nogil:
    part[0] = bce_elems(<const BCE *>c, <const double *>p[0], <const double *>p[1], <double *>p[2], <double *>p[3], r0, n)


def sigmoid_bce(x, t, *, BCEOptions options, loss_out=None, grad_out=None, partial, Py_ssize_t block, int nt):
    """Binary cross-entropy with logits over n flat elements; partial[b]
    receives block b's weighted loss sum."""
    cdef _Job job = _Job()
    cdef Py_ssize_t n = x.shape[0]
    job.add(x, n, 1, "x")
    job.add(t, n, 1, "t")
    job.add(loss_out, n, 1, "loss_out", True)
    job.add(grad_out, n, 1, "grad_out", True)
    job.run(bce_f, bce_d, &options.c, n, block, partials(partial, nblocks(n, block), 1), 1, nt, 0)


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

cdef void xent_prob_f(const void *c, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w, double *part) noexcept nogil:
    xent_prob_rows(<const Prob *>c, <const float *>p[0], <const float *>p[1], <float *>p[2], n, w, part)

cdef void xent_prob_d(const void *c, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w, double *part) noexcept nogil:
    xent_prob_rows(<const Prob *>c, <const double *>p[0], <const double *>p[1], <double *>p[2], n, w, part)


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
    job.run(xent_prob_f, xent_prob_d, &o, N, rows_per_block, partials(partial, nblocks(N, rows_per_block), 1),
            1, nt, o.C)


cdef void bce_prob_f(const void *c, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w, double *part) noexcept nogil:
    cdef const Prob *o = <const Prob *>c
    part[0] = fx_F.bce_prob(<const float *>p[0], <const float *>p[1], n, o.w + r0 if o.w != NULL else NULL,
                            <float>o.lo, <float>o.hi, o.k, <float *>p[2])

cdef void bce_prob_d(const void *c, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w, double *part) noexcept nogil:
    cdef const Prob *o = <const Prob *>c
    part[0] = fx_D.bce_prob(<const double *>p[0], <const double *>p[1], n, o.w + r0 if o.w != NULL else NULL,
                            o.lo, o.hi, o.k, <double *>p[2])


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
    job.run(bce_prob_f, bce_prob_d, &o, n, block, partials(partial, nblocks(n, block), 1), 1, nt, 0)


# ---------------------------------------------------------------- binary evaluation

cdef struct BinEval:
    const double *w          # element weights (n) or NULL
    int64_t bins             # calibration bins B (0: none)

cdef void bin_eval_f(const void *c, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w, double *part) noexcept nogil:
    cdef const BinEval *o = <const BinEval *>c
    fx_F.bce_eval(<const float *>p[0], <const float *>p[1], n, o.w + r0 if o.w != NULL else NULL, part,
                  o.bins, part + 4)

cdef void bin_eval_d(const void *c, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w, double *part) noexcept nogil:
    cdef const BinEval *o = <const BinEval *>c
    fx_D.bce_eval(<const double *>p[0], <const double *>p[1], n, o.w + r0 if o.w != NULL else NULL, part,
                  o.bins, part + 4)


def evaluate_binary(x, t, *, weight=None, int64_t bins=0, partial, Py_ssize_t block, int nt):
    """evaluate_binary over n flat elements: partial[b] = block b's
    (weighted loss, weighted hits, weighted Brier, weight) and, with bins
    B > 0, its histogram (3 x B: weight, weighted sigmoid(x), weighted
    target per bin)."""
    cdef _Job job = _Job()
    cdef BinEval o
    cdef Py_ssize_t n = x.shape[0]
    o.w = <const double *>addr(weight, n, "weight") if weight is not None else NULL
    o.bins = bins if bins > 0 else 0
    if weight is not None and weight.dtype.char != "d":
        raise TypeError("fusedxent kernel: weight must be float64")
    job.add(x, n, 1, "x")
    job.add(t, n, 1, "t")
    job.keep.append(weight)
    job.run(bin_eval_f, bin_eval_d, &o, n, block, partials(partial, nblocks(n, block), 4 + 3 * o.bins),
            4 + 3 * o.bins, nt, 0)


# ---------------------------------------------------------------- roofline probes (the benchmarks' reference)

def probe_read(x, partial, Py_ssize_t block, int nt):
    """Streaming-read roofline: a parallel sum over the same bytes, through
    the selected path's vector loop (same flags, same threads)."""
    cdef Py_ssize_t n = x.shape[0], nb = nblocks(n, block), b
    cdef bint dbl = fmt_of(x) == F64
    cdef const char *p = addr(x, n, "x")
    cdef double *part = partials(partial, nb, 1)
    nt = threads_for(nb, nt)
    for b in prange(nb, nogil=True, num_threads=nt, schedule="static"):
        if dbl:
            part[b] = fx_D.rowsum(<const double *>p + b * block, min(block, n - b * block))
        else:
            part[b] = fx_F.rowsum(<const float *>p + b * block, min(block, n - b * block))


def probe_copy(x, out, Py_ssize_t block, int nt):
    """Streaming-copy roofline for kernels that read once and write once."""
    cdef Py_ssize_t n = x.shape[0], nb = nblocks(n, block), b, isz = x.dtype.itemsize
    cdef const char *p = addr(x, n, "x")
    cdef char *o = addr(out, n, "out", True)
    nt = threads_for(nb, nt)
    for b in prange(nb, nogil=True, num_threads=nt, schedule="static"):
        memcpy(o + b * block * isz, p + b * block * isz, min(block, n - b * block) * isz)


# ---------------------------------------------------------------- test hooks (not a public API)

def vecmath_names():
    """The vector-math functions of fx_vecmath_fns.def, in code order."""
    return tuple(fx_vm_names[i].decode() for i in range(FX_VM_COUNT))


def vecmath(int fn, x, out):
    """out = f(x) through the selected instruction-set path, f the function
    of code fn in fx_vecmath_fns.def (vecmath_names()); for measuring the
    vector math's error."""
    cdef Py_ssize_t n = x.shape[0]
    if not 0 <= fn < FX_VM_COUNT:
        raise ValueError(f"vecmath: no function {fn}")
    cdef const char *p = addr(x, n, "x")
    cdef char *o = addr(out, n, "out", True)
    cdef int f = fmt_of(x)
    if f != fmt_of(out) or f not in (F32, F64):
        raise TypeError("vecmath: x and out must both be float32 or float64")
    with nogil:
        if f == F64:
            fx_D.vecmath(fn, <const double *>p, <double *>o, n)
        else:
            fx_F.vecmath(fn, <const float *>p, <float *>o, n)


cdef void cvt_block(int what, const char *src, char *dst, Py_ssize_t n) noexcept nogil:
    if what == 0:
        fx_H.h2f(<const uint16_t *>src, <float *>dst, n)
    elif what == 1:
        fx_H.f2h(<const float *>src, <uint16_t *>dst, n)
    elif what == 2:
        fx_H.b2f(<const uint16_t *>src, <float *>dst, n)
    else:
        fx_H.f2b(<const float *>src, <uint16_t *>dst, n)


def convert(str what, src, out, Py_ssize_t block, int nt):
    """The driver's 16-bit conversions on their own: what = "h2f", "f2h",
    "b2f", "f2b" (uint16 bits <-> float32)."""
    cdef int w = ("h2f", "f2h", "b2f", "f2b").index(what)
    cdef Py_ssize_t n = src.shape[0], nb = nblocks(n, block), b
    cdef Py_ssize_t si = 2 if w in (0, 2) else 4, so = 6 - si
    cdef const char *p = addr(src, n, "src")
    cdef char *o = addr(out, n, "out", True)
    if src.dtype.itemsize != si or out.dtype.itemsize != so:
        raise TypeError(f"convert {what}: wrong element sizes")
    nt = threads_for(nb, nt)
    for b in prange(nb, nogil=True, num_threads=nt, schedule="static"):
        cvt_block(w, p + b * block * si, o + b * block * so, min(block, n - b * block))


def half_to_float(h, out, Py_ssize_t block, int nt):
    """float16 (as its uint16 bits) -> float32, exact; F16C on the AVX paths."""
    convert("h2f", h, out, block, nt)


def float_to_half(f, out, Py_ssize_t block, int nt):
    """float32 -> float16 bits, rounded to nearest even (NumPy's astype)."""
    convert("f2h", f, out, block, nt)


def op_row_stats(x, y=None, int64_t ignore_index=-100, bint extras=False, bint exps=False, bint shifted=False):
    """The row_stats operation of the selected path on the rows of x (N, C),
    as a dict of arrays m, s, l, k (and rank, s2, sx with extras; rank
    needs y).  exps: stats_exp_rows instead, adding e (the exps, or x - m
    when shifted, where written) and wrote (whether the path wrote them)."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1]
    cdef int f = fmt_of(x)
    cdef const char *p = addr(x, N * C, "x")
    cdef fx_stats st
    if f not in (F32, F64):
        raise TypeError("op_row_stats: float32 or float64 rows")
    import numpy as np
    out = {k: np.zeros(N) for k in ("m", "s", "l")}
    out["k"] = np.zeros(N, np.int64)
    memset(&st, 0, sizeof(fx_stats))
    st.m = <double *>addr(out["m"], N, "m", True)
    st.s = <double *>addr(out["s"], N, "s", True)
    st.l = <double *>addr(out["l"], N, "l", True)
    st.k = <int64_t *>addr(out["k"], N, "k", True)
    if extras:
        out["s2"] = np.zeros(N)
        out["sx"] = np.zeros(N)
        st.s2 = <double *>addr(out["s2"], N, "s2", True)
        st.sx = <double *>addr(out["sx"], N, "sx", True)
        if y is not None:
            y = np.ascontiguousarray(y, np.int64)
            out["rank"] = np.full(N, -1, np.int64)
            st.y = <const int64_t *>addr(y, N, "y")
            st.ignore = ignore_index
            st.rank = <int64_t *>addr(out["rank"], N, "rank", True)
    cdef char *e = NULL
    cdef int wrote = 0
    if exps:
        out["e"] = np.full_like(x, np.nan)
        e = addr(out["e"], N * C, "e", True)
    if N > 0:
        with nogil:
            if f == F64:
                if exps:
                    wrote = fx_D.stats_exp_rows(<const double *>p, <double *>e, N, C, &st, shifted)
                else:
                    fx_D.row_stats(<const double *>p, N, C, &st)
            else:
                if exps:
                    wrote = fx_F.stats_exp_rows(<const float *>p, <float *>e, N, C, &st, shifted)
                else:
                    fx_F.row_stats(<const float *>p, N, C, &st)
    if exps:
        out["wrote"] = bool(wrote)
    return out


def op_row_write(str what, x, m, a=None, w=None, b=None):
    """The row writes of the selected path: "exp_affine" (out = a exp(x - m)
    - b w), "scale" (out = a x - b w; m unused) or "sub" (out = (x - m) -
    a), per-row m, a, b (float64)."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1]
    cdef int f = fmt_of(x)
    import numpy as np
    out = np.empty_like(x)
    cdef const char *p = addr(x, N * C, "x")
    cdef char *o = addr(out, N * C, "out", True)
    cdef const double *mp = <const double *>addr(m, N, "m")
    cdef const double *ap = <const double *>addr(a, N, "a")
    cdef const double *wp = <const double *>addr(w, C, "w")
    cdef const double *bp = <const double *>addr(b, N, "b")
    if f not in (F32, F64) or what not in ("exp_affine", "scale", "sub"):
        raise ValueError("op_row_write: exp_affine, scale or sub of float32/float64 rows")
    cdef bint sub = what == "sub", scale = what == "scale"
    if N == 0:
        return out
    with nogil:
        if sub:
            if f == F64:
                fx_D.sub_rows(<const double *>p, <double *>o, N, C, mp, ap)
            else:
                fx_F.sub_rows(<const float *>p, <float *>o, N, C, mp, ap)
        elif scale:
            if f == F64:
                fx_D.scale_rows(<const double *>p, <double *>o, N, C, ap, wp, bp)
            else:
                fx_F.scale_rows(<const float *>p, <float *>o, N, C, ap, wp, bp)
        elif f == F64:
            fx_D.exp_affine_rows(<const double *>p, <double *>o, N, C, mp, ap, wp, bp)
        else:
            fx_F.exp_affine_rows(<const float *>p, <float *>o, N, C, mp, ap, wp, bp)
    return out


def op_reduce(str what, x, double m=0.0):
    """rowmax(x), sumexp(x, m) (all terms) or rowsum(x) of the selected path."""
    cdef Py_ssize_t n = x.shape[0]
    cdef int f = fmt_of(x)
    cdef const char *p = addr(x, n, "x")
    cdef double r = 0.0
    if f not in (F32, F64) or what not in ("rowmax", "sumexp", "rowsum"):
        raise ValueError("op_reduce: rowmax, sumexp or rowsum of float32/float64")
    cdef int op = ("rowmax", "sumexp", "rowsum").index(what)      # no Python objects without the GIL
    with nogil:
        if op == 0:
            r = fx_D.rowmax(<const double *>p, n) if f == F64 else fx_F.rowmax(<const float *>p, n)
        elif op == 1:
            r = fx_D.sumexp(<const double *>p, n, m) if f == F64 else fx_F.sumexp(<const float *>p, n, <float>m)
        else:
            r = fx_D.rowsum(<const double *>p, n) if f == F64 else fx_F.rowsum(<const float *>p, n)
    return r
