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
from libc.stdlib cimport malloc, calloc, free
from libc.math cimport isnan, exp, expm1, log, log1p, fabs, pow, tanh, INFINITY, NAN
from libc.string cimport memset, memcpy
from libc.stdint cimport int64_t, uint16_t, uintptr_t

from cpython.pycapsule cimport PyCapsule_New
from fx_types cimport fx_stats, fx_bce_seg, fx_xent, fx_focal, fx_distill, FX_DISTILL_NPOLY
from fx_ops cimport fx_ops_f, fx_ops_d, fx_ops_h
from fx_dispatch cimport (fx_F, fx_D, fx_H, FX_PREFETCH, FX_GROUP, FX_SMALL_C, fx_isa_current, fx_isa_names, FX_ISA_COUNT,
                          fx_isa_supported, fx_select_isa, fx_max_threads, fx_have_openmp, fx_simde)
from fx_bf16 cimport (fx_bf16_cpu, fx_bf16_ready, fx_bf16_gemm, fx_bf16_rows, fx_bf16_pairs)

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


include "fx_arrays.pxi"


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


# A block function: the rows [r0, r0 + n) of a call (ctx: its options; p:
# each stream at row r0; part: the block's partial sums).  Written once,
# fused on `floating` (the element type it computes in); t is never read,
# it carries the type: name_blk[float] and name_blk[double] are the two
# instances _Job.run is handed, drive (fused on BlockFn) the one loop.
ctypedef void (*BlockF)(const void *ctx, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w,
                        double *part, const float *t) noexcept nogil
ctypedef void (*BlockD)(const void *ctx, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w,
                        double *part, const double *t) noexcept nogil
ctypedef fused BlockFn:
    BlockF
    BlockD

cdef enum:
    MAX_STREAMS = 8
    ZSUB_BYTES = 8192      # drive: transformed logits this many bytes at a time (in L1)


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


cdef struct Zform:
    # the transformed logits z of a call's options (fx_elementwise.h, zform)
    double s              # z = s x, or cap tanh(s x)
    double cap            # soft-cap; 0: none
    double dscale         # dz/dx = dscale (no cap) or dscale sech^2(s x)
    int src               # the stream of the logits
    int grad              # the stream of the gradient (turned into d/dx after the block), or -1
    bint dgrad            # keep the soft-cap's per-element dz/dx for that


cdef inline void zform_op(BlockFn fn, const Zform *zf, const void *x, void *z, void *d,
                          Py_ssize_t n) noexcept nogil:
    if BlockFn is BlockF:
        fx_F.zform(<const float *>x, <float *>z, <float *>d, n, zf.s, zf.cap, zf.dscale)
    else:
        fx_D.zform(<const double *>x, <double *>z, <double *>d, n, zf.s, zf.cap, zf.dscale)


cdef inline void zchain_op(BlockFn fn, const Zform *zf, void *g, const void *d, Py_ssize_t n) noexcept nogil:
    if BlockFn is BlockF:
        fx_F.zchain(<float *>g, <const float *>d, n, zf.dscale)
    else:
        fx_D.zchain(<double *>g, <const double *>d, n, zf.dscale)


cdef int drive(BlockFn fn, const void *ctx, Stream *s, int ns, Py_ssize_t N, Py_ssize_t per,
               double *part, Py_ssize_t nparts, int nt, Py_ssize_t work_rows, bint extras,
               Py_ssize_t ebytes, const Zform *zf) noexcept nogil:
    """Run fn over the blocks of `per` rows of N rows, in parallel.  Block
    b gets pointers at its first row of every stream (16-bit streams:
    float32 scratch, converted in before and out after it), the thread's
    Work for tiles of work_rows rows (none when 0; extras: with the
    optional statistics; ebytes: with that much scratch for exps), and
    part + b * nparts.  zf (or NULL): the block sees the transformed
    logits z in place of stream zf.src (in thread scratch; a 16-bit
    stream's own float32 scratch), and its gradient stream is turned from
    d/dz into d/dx after it.  The scratch of a block of float32/float64
    logits is filled and read ZSUB_BYTES at a time (fn called on those
    rows in turn, adding to the block's part), so that z stays in L1
    rather than going to L2 and back.  So fn must add to part (the
    callers' partials start at zero).  Returns -1 when scratch
    memory ran out (nothing else then happened in that thread's blocks)."""
    cdef Py_ssize_t nb = (N + per - 1) // per if per > 0 else 0, b, r0, n, off, qi, q0, k, zw, zsub = 0
    cdef Py_ssize_t csz = sizeof(float) if BlockFn is BlockF else sizeof(double)
    cdef int i, j, ok
    cdef void **p
    cdef void **pq
    cdef void *zb
    cdef void *db
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
        p = <void **>malloc(3 * MAX_STREAMS * sizeof(void *))   # block, 16-bit scratch, sub-block
        w = work_new(work_rows, extras, ebytes) if work_rows > 0 else NULL
        ok = p != NULL and (w != NULL or work_rows == 0)
        zb = NULL
        db = NULL
        if ok and zf != NULL:
            if s[zf.src].fmt != F16 and s[zf.src].fmt != BF16:
                zb = malloc(per * s[zf.src].width * csz)
                ok = zb != NULL
            if zf.dgrad:
                db = malloc(per * s[zf.src].width * csz)
                ok = ok and db != NULL
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
                zsub = n
                if zf != NULL and zb == NULL:       # a 16-bit stream's own scratch, in place
                    zform_op(fn, zf, p[zf.src], p[zf.src], db, n * s[zf.src].width)
                elif zf != NULL:                    # ZSUB_BYTES of rows at a time, the scratch in L1
                    zsub = max(1, ZSUB_BYTES // max(1, s[zf.src].width * csz))
                pq = p + 2 * MAX_STREAMS
                for qi in range((n + zsub - 1) // zsub):
                    q0 = qi * zsub
                    k = min(zsub, n - q0)
                    for j in range(ns):
                        pq[j] = NULL if p[j] == NULL else <void *>(
                            <char *>p[j] + q0 * s[j].width * (<Py_ssize_t>sizeof(float) if s[j].fmt == F16
                                                              or s[j].fmt == BF16 else s[j].isz))
                    if zb != NULL:
                        zw = s[zf.src].width
                        zform_op(fn, zf, pq[zf.src], zb, db, k * zw)
                        if w != NULL:
                            # the row kernels prefetch at x + pfd (fx_stats): while these
                            # rows compute from scratch, the raw rows the next zform reads
                            # stream in (one block ahead was too far: evicted from L1 before use)
                            w.st.pfd = <Py_ssize_t>(<uintptr_t>(<char *>p[zf.src] + (q0 + k) * zw * s[zf.src].isz)
                                                    - <uintptr_t>zb)
                        pq[zf.src] = zb
                    fn(ctx, pq, r0 + q0, k, w, part + b * nparts if part != NULL else NULL, NULL)
                    if zf != NULL and zf.grad >= 0 and pq[zf.grad] != NULL:
                        zchain_op(fn, zf, pq[zf.grad], db, k * s[zf.grad].width)
                for j in range(ns):
                    if s[j].base != NULL and s[j].out and (s[j].fmt == F16 or s[j].fmt == BF16):
                        from_float(s[j].fmt, <const float *>p[j], s[j].base + r0 * s[j].width * s[j].isz,
                                   n * s[j].width)
        if p != NULL:
            for i in range(ns):
                free(p[MAX_STREAMS + i])
        free(p)
        free(w)
        free(zb)
        free(db)
    return -1 if failed[0] else 0


cdef class _Job:
    """The streams of one kernel call and its compute type; `run` drives a
    block function over them."""
    cdef Stream s[MAX_STREAMS]
    cdef int ns
    cdef int compute            # F32 or F64: the type block functions see
    cdef list keep              # the arrays, alive for the call
    cdef Zform zf
    cdef bint zf_on             # the block functions see transformed logits

    def __cinit__(self):
        self.ns = 0
        self.compute = -1
        self.keep = []
        self.zf_on = False

    cdef int transform(self, double temperature, double softcap, int src, int grad) except -1:
        """The blocks see z = x / temperature, then softcap tanh(z / softcap)
        when softcap > 0, in place of stream src (after the streams are
        added); stream grad (or -1) receives d/dx from their d/dz.  The
        identity (1, 0) leaves the call's arithmetic untouched."""
        if temperature == 1.0 and softcap == 0.0:
            return 0
        if not (temperature > 0 and softcap >= 0):
            raise ValueError("fusedxent kernel: temperature must be > 0 and softcap >= 0")
        self.zf.cap = softcap
        self.zf.s = 1.0 / (temperature * softcap) if softcap > 0 else 1.0 / temperature
        self.zf.dscale = 1.0 / temperature
        self.zf.src = src
        self.zf.grad = grad if grad >= 0 and self.s[grad].base != NULL else -1
        self.zf.dgrad = softcap > 0 and self.zf.grad >= 0
        self.zf_on = True
        return 0

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

    cdef int run(self, BlockF f32, BlockD f64, const void *ctx, Py_ssize_t N, Py_ssize_t per,
                 double *part, Py_ssize_t nparts, int nt, Py_ssize_t C, bint extras=False,
                 bint exps=False, bint tile_scratch=False, Py_ssize_t scratch_bytes=0) except -1:
        """f32, f64: the block function's two instances (name_blk[float],
        name_blk[double]); the call's compute type picks one.  C: the class
        count of row kernels (tiles and their Work), 0 for element-wise
        ones.  exps: the Work holds a tile's exps (row writes in place; the
        small-class path needs none); tile_scratch: it holds a tile of
        elements (w.e) whatever C, for the block function's own use;
        scratch_bytes: w.e holds at least that many bytes."""
        cdef bint dbl = self.compute == F64
        cdef Py_ssize_t isz = 8 if dbl else 4
        cdef Py_ssize_t tr = tile_rows(C, isz) if C > 0 else 0
        cdef Py_ssize_t ebytes = min(tr, per) * C * isz if (exps and C > FX_SMALL_C) or tile_scratch else 0
        ebytes = max(ebytes, scratch_bytes)
        cdef Py_ssize_t wr = min(tr, per) if tr else 0
        cdef int r
        cdef const Zform *zf = &self.zf if self.zf_on else NULL
        with nogil:
            if dbl:
                r = drive(f64, ctx, self.s, self.ns, N, per, part, nparts, nt, wr, extras, ebytes, zf)
            else:
                r = drive(f32, ctx, self.s, self.ns, N, per, part, nparts, nt, wr, extras, ebytes, zf)
        if r != 0:
            raise MemoryError("fusedxent: no memory for the kernels' per-thread scratch")
        return 0


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

cdef void softmax_blk(const void *c, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w, double *part,
                      const floating *t) noexcept nogil:
    softmax_rows(<const floating *>p[0], <floating *>p[1], n, (<const RowsCtx *>c).C, (<const RowsCtx *>c).log, w)


def softmax(x, out, bint log, Py_ssize_t rows_per_block, int nt):
    """softmax / log_softmax of the rows of x (N, C) into out (N, C)."""
    cdef _Job job = _Job()
    cdef RowsCtx ctx
    cdef Py_ssize_t N = x.shape[0]
    ctx.C = x.shape[1]
    ctx.log = log
    job.add(x, N, ctx.C, "x")
    job.add(out, N, ctx.C, "out", True)
    job.run(softmax_blk[float], softmax_blk[double], &ctx, N, rows_per_block, NULL, 0, nt, ctx.C, False,
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

cdef void lse_blk(const void *c, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w, double *part,
                  const floating *t) noexcept nogil:
    lse_rows(<const floating *>p[0], <floating *>p[1], n, (<const RowsCtx *>c).C, w)


def logsumexp(x, out, Py_ssize_t rows_per_block, int nt):
    """logsumexp of the rows of x (N, C) into out (N,)."""
    cdef _Job job = _Job()
    cdef RowsCtx ctx
    cdef Py_ssize_t N = x.shape[0]
    ctx.C = x.shape[1]
    job.add(x, N, ctx.C, "x")
    job.add(out, N, 1, "out", True)
    job.run(lse_blk[float], lse_blk[double], &ctx, N, rows_per_block, NULL, 0, nt, ctx.C)


cdef void sigmoid_blk(const void *c, void **p, Py_ssize_t r0, Py_ssize_t n, Work *w, double *part,
                      const floating *t) noexcept nogil:
    cdef const floating *x = <const floating *>p[0]
    cdef floating *y = <floating *>p[1]
    cdef bint log = (<const RowsCtx *>c).log
    if floating is float:
        if log:
            fx_F.log_sigmoid(x, y, n)
        else:
            fx_F.sigmoid(x, y, n)
    elif log:
        fx_D.log_sigmoid(x, y, n)
    else:
        fx_D.sigmoid(x, y, n)


def sigmoid(x, out, bint log, Py_ssize_t block, int nt):
    """sigmoid / log_sigmoid of the n elements of x into out (both flat)."""
    cdef _Job job = _Job()
    cdef RowsCtx ctx
    cdef Py_ssize_t n = x.shape[0]
    ctx.log = log
    job.add(x, n, 1, "x")
    job.add(out, n, 1, "out", True)
    job.run(sigmoid_blk[float], sigmoid_blk[double], &ctx, n, block, NULL, 0, nt, 0)


# ---------------------------------------------------------------- the losses and evaluations, by family

include "_kernels_xent.pxi"
include "_kernels_binary.pxi"
include "_kernels_eval.pxi"
include "_kernels_distill.pxi"
include "_kernels_bf16.pxi"


# ---------------------------------------------------------------- the tables, for _testing

cdef struct Tables:
    fx_ops_f *F
    fx_ops_d *D
    fx_ops_h *H

cdef Tables _tables_live = Tables(&fx_F, &fx_D, &fx_H)


def _tables():
    """The live operation tables (the selected path's: select_isa changes
    what they hold, not where they are) in a capsule, for the probes and
    test hooks of fusedxent._testing, which call the kernels compiled here
    rather than compile them again."""
    return PyCapsule_New(&_tables_live, b"fusedxent._kernels.tables", NULL)
