# Design: the compiled layer of fusedxent.  Every entry point takes arrays
# the Python layer has already validated and laid out as C-contiguous 2-D
# (rows, classes) or flat 1-D memoryviews, runs one OpenMP loop over fixed
# blocks of rows (or elements) with the GIL released, and writes only into
# buffers it was handed.  No validation, no Python objects, no exceptions in
# the loops.
#
# - Vector loops (max, sum of exp, affine exp writes, BCE segments) live in
#   fx_rowops.inc, compiled per instruction set and picked at import by
#   fx_dispatch.h; this file holds the per-row scalar algebra.
# - Reductions: each block of rows sums its rows in double, in order, into
#   partial[block]; the caller adds the partials in order.  Block size is a
#   function of the shape only, so results are bitwise identical for any
#   num_threads.
# - Row statistics: m = max_j x_j, s = sum over j of exp(x_j - m) without
#   one term at the maximum, l = log1p(s); lse = m + l and the loss at y is
#   (m - x_y) + l, a sum of two non-negative terms: no cancellation for
#   confident rows (see row_stats and fx_rowops.inc, sumexp).  Rows of at
#   most FX_SMALL_C classes get these statistics 64 rows at a time
#   (stats_small); rows longer than ONLINE_CHUNK are read once, in chunks.
# - Rows whose maximum is not finite take a scalar path: a NaN anywhere
#   makes the row NaN; all -inf gives lse = -inf; a +inf gives lse = +inf;
#   every other output of such a row (probabilities, loss, gradient) is NaN.
# - Block functions take pointers at their block's first row, so the float16
#   entry points (*_half) run the same float32 code on converted scratch.

from cython.parallel cimport prange, parallel
from libc.stdlib cimport malloc, free
from libc.math cimport log1p, exp, isfinite, isnan, INFINITY, NAN
from libc.string cimport memset, memcpy
from libc.stdint cimport int64_t, uint16_t

ctypedef fused floating:
    float
    double

cdef extern from "fx_dispatch.h" nogil:
    ctypedef struct fx_ops_f:
        float (*rowmax)(const float *, Py_ssize_t) noexcept nogil
        double (*sumexp)(const float *, Py_ssize_t, float, const float *) noexcept nogil
        double (*sumexp_exact)(const float *, Py_ssize_t, float, const float *) noexcept nogil
        void (*exp_affine)(const float *, float *, Py_ssize_t, float, double, const double *, double) noexcept nogil
        void (*sub2)(const float *, float *, Py_ssize_t, float, float) noexcept nogil
        double (*wdiff)(const float *, const double *, Py_ssize_t, float) noexcept nogil
        double (*tdiff)(const float *, const float *, const double *, Py_ssize_t, float, double, double, double *) noexcept nogil
        void (*grad_soft)(const float *, const float *, float *, Py_ssize_t, float, double, const double *, double, double, double) noexcept nogil
        void (*sigmoid)(const float *, float *, Py_ssize_t) noexcept nogil
        void (*log_sigmoid)(const float *, float *, Py_ssize_t) noexcept nogil
        double (*bce)(const float *, const float *, Py_ssize_t, const double *, double, const double *, double, double, float *, float *, double, double, double) noexcept nogil
        Py_ssize_t (*first_eq)(const float *, Py_ssize_t, float) noexcept nogil
        double (*rowsum)(const float *, Py_ssize_t) noexcept nogil
        double (*plogq)(const float *, const float *, Py_ssize_t, float, float) noexcept nogil
        double (*bce_prob)(const float *, const float *, Py_ssize_t, const double *, double, float, float, float *) noexcept nogil
        void (*stats_small)(const float *, Py_ssize_t, Py_ssize_t, double *, double *, double *, Py_ssize_t *) noexcept nogil
        void (*vecmath)(int, const float *, float *, Py_ssize_t) noexcept nogil
    ctypedef struct fx_ops_d:
        double (*rowmax)(const double *, Py_ssize_t) noexcept nogil
        double (*sumexp)(const double *, Py_ssize_t, double, const double *) noexcept nogil
        double (*sumexp_exact)(const double *, Py_ssize_t, double, const double *) noexcept nogil
        void (*exp_affine)(const double *, double *, Py_ssize_t, double, double, const double *, double) noexcept nogil
        void (*sub2)(const double *, double *, Py_ssize_t, double, double) noexcept nogil
        double (*wdiff)(const double *, const double *, Py_ssize_t, double) noexcept nogil
        double (*tdiff)(const double *, const double *, const double *, Py_ssize_t, double, double, double, double *) noexcept nogil
        void (*grad_soft)(const double *, const double *, double *, Py_ssize_t, double, double, const double *, double, double, double) noexcept nogil
        void (*sigmoid)(const double *, double *, Py_ssize_t) noexcept nogil
        void (*log_sigmoid)(const double *, double *, Py_ssize_t) noexcept nogil
        double (*bce)(const double *, const double *, Py_ssize_t, const double *, double, const double *, double, double, double *, double *, double, double, double) noexcept nogil
        Py_ssize_t (*first_eq)(const double *, Py_ssize_t, double) noexcept nogil
        double (*rowsum)(const double *, Py_ssize_t) noexcept nogil
        double (*plogq)(const double *, const double *, Py_ssize_t, double, double) noexcept nogil
        double (*bce_prob)(const double *, const double *, Py_ssize_t, const double *, double, double, double, double *) noexcept nogil
        void (*stats_small)(const double *, Py_ssize_t, Py_ssize_t, double *, double *, double *, Py_ssize_t *) noexcept nogil
        void (*vecmath)(int, const double *, double *, Py_ssize_t) noexcept nogil
    fx_ops_f fx_F
    fx_ops_d fx_D
    ctypedef struct fx_ops_h:
        void (*h2f)(const uint16_t *, float *, Py_ssize_t) noexcept nogil
        void (*f2h)(const float *, uint16_t *, Py_ssize_t) noexcept nogil
    fx_ops_h fx_H
    enum:
        FX_GROUP
        FX_SMALL_C
    const char *fx_isa_current
    int fx_isa_supported()
    int fx_select_isa(int level)
    int fx_max_threads()
    int fx_have_openmp()


# ---------------------------------------------------------------- configuration

ISA_LEVELS = ("baseline", "avx2", "avx512")


def isa_supported():
    """Names of the instruction-set paths this CPU can run."""
    cdef int bits = fx_isa_supported()
    return tuple(name for i, name in enumerate(ISA_LEVELS) if bits & (1 << i))


def isa_current():
    return fx_isa_current.decode()


def select_isa(name):
    """Switch every kernel to the path `name` ("best" picks the widest);
    returns the name in force.  Raises ValueError if the CPU lacks it."""
    level = -1 if name == "best" else ISA_LEVELS.index(name)
    if fx_select_isa(level) == -2:
        raise ValueError(f"this CPU cannot run the {name!r} kernels; it supports {isa_supported()}")
    return isa_current()


def max_threads():
    return fx_max_threads()


def have_openmp():
    return bool(fx_have_openmp())


# ---------------------------------------------------------------- typed views of the vector loops

cdef inline floating v_rowmax(const floating *x, Py_ssize_t n) noexcept nogil:
    if floating is float:
        return fx_F.rowmax(x, n)
    else:
        return fx_D.rowmax(x, n)

cdef inline double v_sumexp(const floating *x, Py_ssize_t n, floating m, const floating *pf) noexcept nogil:
    if floating is float:
        return fx_F.sumexp(x, n, m, pf)
    else:
        return fx_D.sumexp(x, n, m, pf)

cdef inline void v_exp_affine(const floating *x, floating *out, Py_ssize_t n, floating m,
                              double a, const double *w, double b) noexcept nogil:
    if floating is float:
        fx_F.exp_affine(x, out, n, m, a, w, b)
    else:
        fx_D.exp_affine(x, out, n, m, a, w, b)

cdef inline void v_sub2(const floating *x, floating *out, Py_ssize_t n, floating m, floating c) noexcept nogil:
    if floating is float:
        fx_F.sub2(x, out, n, m, c)
    else:
        fx_D.sub2(x, out, n, m, c)

cdef inline double v_wdiff(const floating *x, const double *w, Py_ssize_t n, floating m) noexcept nogil:
    if floating is float:
        return fx_F.wdiff(x, w, n, m)
    else:
        return fx_D.wdiff(x, w, n, m)

cdef inline double v_tdiff(const floating *x, const floating *t, const double *w, Py_ssize_t n,
                           floating m, double ta, double tb, double *csum) noexcept nogil:
    if floating is float:
        return fx_F.tdiff(x, t, w, n, m, ta, tb, csum)
    else:
        return fx_D.tdiff(x, t, w, n, m, ta, tb, csum)

cdef inline void v_grad_soft(const floating *x, const floating *t, floating *g, Py_ssize_t n, floating m,
                             double a, const double *w, double b, double ta, double tb) noexcept nogil:
    if floating is float:
        fx_F.grad_soft(x, t, g, n, m, a, w, b, ta, tb)
    else:
        fx_D.grad_soft(x, t, g, n, m, a, w, b, ta, tb)

cdef inline Py_ssize_t v_first_eq(const floating *x, Py_ssize_t n, floating m) noexcept nogil:
    if floating is float:
        return fx_F.first_eq(x, n, m)
    else:
        return fx_D.first_eq(x, n, m)


# ---------------------------------------------------------------- row statistics

cdef enum RowKind:
    ROW_FINITE = 0
    ROW_NAN = 1
    ROW_NEGINF = 2
    ROW_POSINF = 3


cdef enum:
    ONLINE_CHUNK = 8192    # elements; rows longer than this are read once, chunk by chunk


cdef inline double flush_guard(floating like) noexcept nogil:
    """Below n times this, a sum of n fast exps may have lost 1e-7 (float)
    or 1e-16 (double) of its value to terms flushed below the normal range."""
    if floating is float:
        return 1.2e-31
    else:
        return 2.3e-292


cdef inline double chunk_rest(const floating *x, Py_ssize_t n, floating m, Py_ssize_t k,
                              const floating *pf) noexcept nogil:
    """sum of exp(x_j - m) over j != k (m = x[k] is the maximum).

    The fast sum drops terms below the normal range; when the sum is small
    enough for n of them to matter at 1e-7 (1e-16) relative, the row is
    summed again with subnormals kept."""
    cdef double s = (v_sumexp(x, k, m, pf)
                     + v_sumexp(x + k + 1, n - k - 1, m, pf + k + 1 if pf != NULL else NULL))
    if s < n * flush_guard(m):
        if floating is float:
            s = fx_F.sumexp_exact(x, k, m, NULL) + fx_F.sumexp_exact(x + k + 1, n - k - 1, m, NULL)
        else:
            s = fx_D.sumexp_exact(x, k, m, NULL) + fx_D.sumexp_exact(x + k + 1, n - k - 1, m, NULL)
    return s


cdef inline RowKind row_stats(const floating *x, Py_ssize_t n, floating *m_out,
                              double *s_out, double *l_out, Py_ssize_t *k_out,
                              const floating *pf=NULL) noexcept nogil:
    """m = row max, k = its first index, s = sum of exp(x_j - m) over j != k,
    l = log1p(s).  pf: the next row, prefetched during the sum (or NULL).

    A row that fits in cache takes two passes (max, then sums) over memory
    it reads from DRAM once.  A longer row is read once in chunks that stay
    in cache, with a running (m, k, s): when a chunk holds a larger maximum,
    s <- (s + 1) exp(m_old - m_new) + its own sum (the old maximum joins the
    rest), so the excluded term is still exactly the first maximum."""
    cdef floating m, mc
    cdef Py_ssize_t j, k, kc, c0, cn
    cdef double s
    if n <= ONLINE_CHUNK:
        m = v_rowmax(x, n)
    else:
        m = -INFINITY
        k = 0
        s = 0.0
        c0 = 0
        while c0 < n:
            cn = min(<Py_ssize_t>ONLINE_CHUNK, n - c0)
            mc = v_rowmax(x + c0, cn)
            if not isfinite(mc):
                if isnan(mc) or mc > 0:      # NaN or +inf: the row is special
                    m = mc
                    break
                for j in range(cn):          # all -inf, unless a NaN hides from the max
                    if isnan(x[c0 + j]):
                        m = NAN
                        break
                if isnan(m):
                    break
            elif mc > m:
                kc = v_first_eq(x + c0, cn, mc)
                s = (s + 1.0) * exp(<double>m - mc) if m > -INFINITY else 0.0
                s += chunk_rest(x + c0, cn, mc, kc, NULL)
                m = mc
                k = c0 + kc
            else:
                s += v_sumexp(x + c0, cn, m, NULL)
            c0 += cn
        if isfinite(m) and not isnan(s):
            if s < n * flush_guard(m):
                s = chunk_rest(x, n, m, k, NULL)     # tiny: redo with subnormal terms kept
            m_out[0] = m
            k_out[0] = k
            s_out[0] = s
            l_out[0] = log1p(s)
            return ROW_FINITE
        if isnan(s):
            m = NAN
        if not isnan(m) and m < 0:
            m = v_rowmax(x, n)               # all -inf so far: recheck the whole row
    if isfinite(m):
        k = v_first_eq(x, n, m)
        s = chunk_rest(x, n, m, k, pf)
        if not isnan(s):                     # a NaN the max skipped reaches the sum
            m_out[0] = m
            k_out[0] = k
            s_out[0] = s
            l_out[0] = log1p(s)
            return ROW_FINITE
        m = NAN
    m_out[0] = m
    k_out[0] = 0
    s_out[0] = NAN
    l_out[0] = NAN
    for j in range(n):     # NumPy's argmax of a row with NaN: the first NaN
        if isnan(x[j]):
            k_out[0] = j
            return ROW_NAN
    if isnan(m):
        return ROW_NAN
    k_out[0] = v_first_eq(x, n, m)
    return ROW_NEGINF if m < 0 else ROW_POSINF


cdef struct Group:
    # row statistics of the small-class path, FX_GROUP rows at a time
    Py_ssize_t g0, g1
    double m[FX_GROUP]
    double s[FX_GROUP]
    double l[FX_GROUP]
    Py_ssize_t k[FX_GROUP]


cdef inline RowKind stats_at(const floating *x, Py_ssize_t C, Py_ssize_t i, Py_ssize_t n, Group *g,
                             floating *m, double *s, double *l, Py_ssize_t *k) noexcept nogil:
    """row_stats of row i of a block of n rows starting at x; rows of at
    most FX_SMALL_C classes are computed FX_GROUP at a time across rows."""
    cdef Py_ssize_t j
    if C > FX_SMALL_C:
        return row_stats(x + i * C, C, m, s, l, k, x + (i + 1) * C if i + 1 < n else NULL)
    if i < g.g0 or i >= g.g1:
        g.g0 = i
        g.g1 = min(i + <Py_ssize_t>FX_GROUP, n)
        if floating is float:
            fx_F.stats_small(x + i * C, g.g1 - g.g0, C, g.m, g.s, g.l, g.k)
        else:
            fx_D.stats_small(x + i * C, g.g1 - g.g0, C, g.m, g.s, g.l, g.k)
    j = i - g.g0
    if not isfinite(g.m[j]) or isnan(g.s[j]) or g.s[j] < C * flush_guard(<floating>0):
        # IEEE rows, and sums small enough for flushed terms to matter: the scalar path decides
        return row_stats(x + i * C, C, m, s, l, k, NULL)
    m[0] = <floating>g.m[j]
    s[0] = g.s[j]
    l[0] = g.l[j]
    k[0] = g.k[j]
    return ROW_FINITE


cdef inline double special_lse(RowKind kind) noexcept nogil:
    if kind == ROW_NEGINF:
        return -INFINITY
    if kind == ROW_POSINF:
        return INFINITY
    return NAN


cdef inline void fill(floating *out, Py_ssize_t n, floating v) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(n):
        out[j] = v


cdef inline int threads_for(Py_ssize_t nblocks, int nt) noexcept nogil:
    return 1 if nblocks < 2 else (nt if nt < nblocks else <int>nblocks)


# ---------------------------------------------------------------- normalizers

cdef void softmax_block(const floating *x, floating *out, Py_ssize_t C, Py_ssize_t n,
                        bint log) noexcept nogil:
    """n rows starting at x (and out)."""
    cdef Group g
    cdef Py_ssize_t i, k
    cdef floating m
    cdef double s, l
    cdef RowKind kind
    g.g0 = 0
    g.g1 = 0
    for i in range(n):
        kind = stats_at(x, C, i, n, &g, &m, &s, &l, &k)
        if kind != ROW_FINITE:
            fill(out + i * C, C, <floating>NAN)
        elif log:
            v_sub2(x + i * C, out + i * C, C, m, <floating>l)
        else:
            v_exp_affine(x + i * C, out + i * C, C, m, 1.0 / (1.0 + s), NULL, 0.0)


def softmax(const floating[:, ::1] x, floating[:, ::1] out, bint log, Py_ssize_t rows_per_block, int nt):
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], nb = (N + rows_per_block - 1) // rows_per_block, b, r0
    nt = threads_for(nb, nt)
    for b in prange(nb, nogil=True, num_threads=nt, schedule="static"):
        r0 = b * rows_per_block
        softmax_block(&x[r0, 0], &out[r0, 0], C, min(rows_per_block, N - r0), log)


cdef void lse_block(const floating *x, floating *out, Py_ssize_t C, Py_ssize_t n) noexcept nogil:
    cdef Group g
    cdef Py_ssize_t i, k
    cdef floating m
    cdef double s, l
    cdef RowKind kind
    g.g0 = 0
    g.g1 = 0
    for i in range(n):
        kind = stats_at(x, C, i, n, &g, &m, &s, &l, &k)
        out[i] = <floating>(m + l) if kind == ROW_FINITE else <floating>special_lse(kind)


def logsumexp(const floating[:, ::1] x, floating[::1] out, Py_ssize_t rows_per_block, int nt):
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], nb = (N + rows_per_block - 1) // rows_per_block, b, r0
    nt = threads_for(nb, nt)
    for b in prange(nb, nogil=True, num_threads=nt, schedule="static"):
        r0 = b * rows_per_block
        lse_block(&x[r0, 0], &out[r0], C, min(rows_per_block, N - r0))


cdef void sigmoid_block(const floating *x, floating *out, Py_ssize_t n, bint log) noexcept nogil:
    if floating is float:
        if log:
            fx_F.log_sigmoid(x, out, n)
        else:
            fx_F.sigmoid(x, out, n)
    else:
        if log:
            fx_D.log_sigmoid(x, out, n)
        else:
            fx_D.sigmoid(x, out, n)


def sigmoid(const floating[::1] x, floating[::1] out, bint log, Py_ssize_t block, int nt):
    cdef Py_ssize_t n = x.shape[0], nb = (n + block - 1) // block, b, j0
    nt = threads_for(nb, nt)
    for b in prange(nb, nogil=True, num_threads=nt, schedule="static"):
        j0 = b * block
        sigmoid_block(&x[j0], &out[j0], min(block, n - j0), log)


# ---------------------------------------------------------------- softmax cross-entropy

cdef struct CEOpts:
    const double *cw        # class weights (C) or NULL
    double cw_sum           # sum of class weights (C when absent)
    int64_t ignore_index
    double eps              # label smoothing
    double z                # z-loss coefficient
    double gscale           # d(returned loss)/d(sum of row losses), times 1/ln(base)
    double ta, tb           # soft targets: t' = ta*t + tb


cdef void ce_index_block(const floating *x, Py_ssize_t C, Py_ssize_t n, const int64_t *y,
                         const double *sw, CEOpts *o, floating *loss, floating *grad,
                         double *part) noexcept nogil:
    """n rows of the class-index loss, every pointer at the block's first
    row (sw, loss, grad may be NULL; grad may be x itself); part = (weighted
    loss sum, sum of s_i w[y_i] over kept rows: the mean's denominator).

    Row loss (PyTorch's, label smoothing eps with class weights w):
        s_i * [ w_y (1-eps) (lse - x_y) + eps/C sum_c w_c (lse - x_c) + z lse^2 ]
    and its gradient, p = softmax(x):
        s_i * [ (w_y (1-eps) + eps/C W + 2 z lse) p_j - w_y (1-eps) [j=y] - eps/C w_j ]
    with p_y - 1 taken as -s/(1+s) when x_y is the maximum (see row_stats).
    """
    cdef Group g
    cdef Py_ssize_t i, k
    cdef int64_t yi
    cdef floating m, xy
    cdef double s, l, S, lse, wy, si, row, A, py, pym1, total = 0.0, wsum = 0.0, ec = o.eps / C
    cdef RowKind kind
    cdef const floating *xr
    cdef floating *gr
    g.g0 = 0
    g.g1 = 0
    for i in range(n):
        xr = x + i * C
        gr = grad + i * C if grad != NULL else NULL
        yi = y[i]
        if yi == o.ignore_index:
            if loss != NULL:
                loss[i] = 0
            if gr != NULL:
                memset(gr, 0, C * sizeof(floating))
            continue
        wy = o.cw[yi] if o.cw != NULL else 1.0
        si = sw[i] if sw != NULL else 1.0
        xy = xr[yi]
        kind = stats_at(x, C, i, n, &g, &m, &s, &l, &k)
        if kind != ROW_FINITE:
            row = NAN
            if gr != NULL:
                fill(gr, C, <floating>NAN)
        else:
            lse = m + l
            row = wy * (1.0 - o.eps) * ((m - xy) + l)
            if o.eps != 0.0:
                row = row + ec * (v_wdiff(xr, o.cw, C, m) + o.cw_sum * l)
            if o.z != 0.0:
                row = row + o.z * lse * lse
            if gr != NULL:
                S = 1.0 + s
                A = wy * (1.0 - o.eps) + ec * o.cw_sum + 2.0 * o.z * lse
                v_exp_affine(xr, gr, C, m, o.gscale * si * A / S, o.cw, o.gscale * si * ec)
                if xy == m:
                    py = 1.0 / S
                    pym1 = -s / S
                else:
                    py = exp(<double>xy - m) / S
                    pym1 = py - 1.0
                gr[yi] = <floating>(o.gscale * si * (wy * (1.0 - o.eps) * pym1
                                                     + (ec * o.cw_sum + 2.0 * o.z * lse) * py
                                                     - ec * (o.cw[yi] if o.cw != NULL else 1.0)))
        row = si * row
        if loss != NULL:
            loss[i] = <floating>row
        total += row
        wsum += si * wy
    part[0] = total
    part[1] = wsum


cdef void ce_soft_block(const floating *x, const floating *t, Py_ssize_t C, Py_ssize_t n,
                        const double *sw, CEOpts *o, floating *loss, floating *grad,
                        double *part) noexcept nogil:
    """n rows of the probability-target loss, pointers at the block's first
    row (grad may be x, not t); part = (weighted loss sum, sum of s_i).

    With c_j = w_j t'_j and T = sum_j c_j:
        row loss = s_i [ sum_j c_j (m - x_j) + T l + z lse^2 ]   (= s_i [-sum c_j log p_j + z lse^2])
        gradient = s_i [ (T + 2 z lse) p_j - c_j ]
    """
    cdef Group g
    cdef Py_ssize_t i, k
    cdef floating m
    cdef double s, l, lse, si, row, T, total = 0.0, wsum = 0.0
    cdef RowKind kind
    cdef const floating *xr
    cdef floating *gr
    g.g0 = 0
    g.g1 = 0
    for i in range(n):
        xr = x + i * C
        gr = grad + i * C if grad != NULL else NULL
        si = sw[i] if sw != NULL else 1.0
        kind = stats_at(x, C, i, n, &g, &m, &s, &l, &k)
        if kind != ROW_FINITE:
            row = NAN
            if gr != NULL:
                fill(gr, C, <floating>NAN)
        else:
            lse = m + l
            row = v_tdiff(xr, t + i * C, o.cw, C, m, o.ta, o.tb, &T) + T * l
            if o.z != 0.0:
                row = row + o.z * lse * lse
            if gr != NULL:
                v_grad_soft(xr, t + i * C, gr, C, m, o.gscale * si * (T + 2.0 * o.z * lse) / (1.0 + s),
                            o.cw, o.gscale * si, o.ta, o.tb)
        row = si * row
        if loss != NULL:
            loss[i] = <floating>row
        total += row
        wsum += si
    part[0] = total
    part[1] = wsum


cdef inline floating *ptr2(floating[:, ::1] a) noexcept:
    return &a[0, 0] if a is not None and a.shape[0] > 0 else NULL

cdef inline floating *ptr1(floating[::1] a) noexcept:
    return &a[0] if a is not None and a.shape[0] > 0 else NULL

cdef inline const double *cptr(const double[::1] a) noexcept:
    return &a[0] if a is not None and a.shape[0] > 0 else NULL


cdef inline const double *at(const double *p, Py_ssize_t i) noexcept nogil:
    return p + i if p != NULL else NULL

cdef inline floating *at_(floating *p, Py_ssize_t i) noexcept nogil:
    return p + i if p != NULL else NULL


cdef void ce_opts(CEOpts *o, const double[::1] class_weight, double cw_sum, int64_t ignore_index,
                  double eps, double ta, double tb, double z, double gscale) noexcept:
    o.cw = cptr(class_weight)
    o.cw_sum = cw_sum
    o.ignore_index = ignore_index
    o.eps = eps
    o.z = z
    o.gscale = gscale
    o.ta = ta
    o.tb = tb


def softmax_xent(const floating[:, ::1] x, labels, soft, const double[::1] class_weight,
                 const double[::1] sample_weight, double cw_sum, int64_t ignore_index,
                 double eps, double ta, double tb, double z, double gscale,
                 floating[::1] loss_out, floating[:, ::1] grad_out,
                 double[:, ::1] partial, Py_ssize_t rows_per_block, int nt):
    """Softmax cross-entropy over rows; partial[b] receives block b's
    (loss sum, denominator sum).

    Exactly one of `labels` (int64, N) and `soft` (same shape as x) is given.
    """
    cdef CEOpts o
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], nb = partial.shape[0], b, r0, n
    cdef const int64_t[::1] y
    cdef const floating[:, ::1] t
    cdef floating *lp = ptr1(loss_out)
    cdef floating *gp = ptr2(grad_out)
    cdef const double *sw = cptr(sample_weight)
    cdef bint by_index = labels is not None
    ce_opts(&o, class_weight, cw_sum, ignore_index, eps, ta, tb, z, gscale)
    if by_index:
        y = labels
    else:
        t = soft
    nt = threads_for(nb, nt)
    if by_index:
        for b in prange(nb, nogil=True, num_threads=nt, schedule="static"):
            r0 = b * rows_per_block
            n = min(rows_per_block, N - r0)
            ce_index_block(&x[r0, 0], C, n, &y[r0], at(sw, r0), &o, at_(lp, r0), at_(gp, r0 * C),
                           &partial[b, 0])
    else:
        for b in prange(nb, nogil=True, num_threads=nt, schedule="static"):
            r0 = b * rows_per_block
            n = min(rows_per_block, N - r0)
            ce_soft_block(&x[r0, 0], &t[r0, 0], C, n, at(sw, r0), &o, at_(lp, r0), at_(gp, r0 * C),
                          &partial[b, 0])


def xent_index_one_block(const floating[:, ::1] x, const int64_t[::1] y, int64_t ignore_index):
    """The small-call fast path of softmax_xent: class-index forward loss
    with no options over rows that form a single reduction block, returning
    that block's (loss sum, denominator) -- the same numbers softmax_xent
    would put in partial[0] -- without allocating anything.  Returns None
    when y is not one label per row in [0, C) or ignore_index; the caller's
    full path then raises with the message."""
    cdef CEOpts o
    cdef double part[2]
    cdef Py_ssize_t i, N = x.shape[0], C = x.shape[1]
    if y.shape[0] != N or C == 0:
        return None
    for i in range(N):
        if (y[i] < 0 or y[i] >= C) and y[i] != ignore_index:
            return None
    ce_opts(&o, None, <double>C, ignore_index, 0.0, 0.0, 0.0, 0.0, 1.0)
    part[0] = 0.0
    part[1] = 0.0
    if N > 0:
        with nogil:
            ce_index_block(&x[0, 0], C, N, &y[0], NULL, &o, NULL, NULL, part)
    return part[0], part[1]


# ---------------------------------------------------------------- float16
#
# float16 arrays arrive as their uint16 bits.  Each thread converts the rows
# of its block into a float32 scratch block (F16C on the AVX paths), runs
# the float kernel of that block on it while it is in cache, and converts
# the block's outputs back: the same blocks, the same float32 arithmetic and
# so the same bits as float32 input rounded from the same halves, with
# O(block) extra memory per thread and no full-size float32 copy.  Soft
# targets and BCE targets may come as float16 (converted the same way) or
# float32 (read in place).

cdef check_len(a, Py_ssize_t n, what):
    """The float16 entry points reinterpret arrays as uint16 bits: a wrong
    view (float32 bits, say) has the wrong length, caught here."""
    if a is not None and a.size != n:
        raise ValueError(f"fusedxent float16 kernel: {what} has {a.size} elements, expected {n}")


cdef inline float *scratch(Py_ssize_t n) noexcept nogil:
    return <float *>malloc((n if n > 0 else 1) * sizeof(float))


cdef inline const float *half_block(const uint16_t *h, const float *f, float *buf,
                                    Py_ssize_t n) noexcept nogil:
    """The block of n values starting at h (float16) or f (float32):
    converted into buf, or f itself."""
    if h != NULL:
        fx_H.h2f(h, buf, n)
        return buf
    return f


cdef inline const uint16_t *hptr2(const uint16_t[:, ::1] a) noexcept:
    return &a[0, 0] if a is not None and a.shape[0] > 0 else NULL

cdef inline const float *fptr2(const float[:, ::1] a) noexcept:
    return &a[0, 0] if a is not None and a.shape[0] > 0 else NULL

cdef inline uint16_t *optr1(uint16_t[::1] a) noexcept:
    return &a[0] if a is not None and a.shape[0] > 0 else NULL

cdef inline uint16_t *optr2(uint16_t[:, ::1] a) noexcept:
    return &a[0, 0] if a is not None and a.shape[0] > 0 else NULL


def softmax_xent_half(const uint16_t[:, ::1] x, const int64_t[::1] labels,
                      const uint16_t[:, ::1] soft_h, const float[:, ::1] soft_f,
                      const double[::1] class_weight, const double[::1] sample_weight,
                      double cw_sum, int64_t ignore_index, double eps, double ta, double tb,
                      double z, double gscale, uint16_t[::1] loss_out, uint16_t[:, ::1] grad_out,
                      double[:, ::1] partial, Py_ssize_t rows_per_block, int nt):
    """softmax_xent for float16 logits (uint16 bits); probability targets
    in soft_h (float16) or soft_f (float32), else class indices in labels."""
    cdef CEOpts o
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], nb = partial.shape[0], b, r0, n
    cdef Py_ssize_t cap = rows_per_block * C
    cdef const double *sw = cptr(sample_weight)
    cdef const uint16_t *th = hptr2(soft_h)
    cdef const float *tf = fptr2(soft_f)
    cdef bint by_index = labels is not None
    cdef uint16_t *lp = optr1(loss_out)
    cdef uint16_t *gp = optr2(grad_out)
    cdef float *xb
    cdef float *tb_
    cdef float *lb
    cdef const float *tr
    cdef int failed[1]
    failed[0] = 0
    for a, what, size in ((labels, "labels", N), (soft_h, "soft_h", N * C), (soft_f, "soft_f", N * C),
                          (loss_out, "loss_out", N), (grad_out, "grad_out", N * C)):
        check_len(a, size, what)
    ce_opts(&o, class_weight, cw_sum, ignore_index, eps, ta, tb, z, gscale)
    nt = threads_for(nb, nt)
    with nogil, parallel(num_threads=nt):
        xb = scratch(cap)
        tb_ = scratch(cap if th != NULL else 0)
        lb = scratch(rows_per_block)
        for b in prange(nb, schedule="static"):     # every thread meets the loop, even without memory
            if xb == NULL or tb_ == NULL or lb == NULL:
                failed[0] = 1
            else:
                r0 = b * rows_per_block
                n = min(rows_per_block, N - r0)
                fx_H.h2f(&x[r0, 0], xb, n * C)
                # the gradient overwrites its own rows of xb (the kernels allow it)
                if by_index:
                    ce_index_block(<const float *>xb, C, n, &labels[r0], at(sw, r0), &o,
                                   lb if lp != NULL else NULL, xb if gp != NULL else NULL,
                                   &partial[b, 0])
                else:
                    tr = half_block(th + r0 * C if th != NULL else NULL,
                                    tf + r0 * C if tf != NULL else NULL, tb_, n * C)
                    ce_soft_block(<const float *>xb, tr, C, n, at(sw, r0), &o,
                                  lb if lp != NULL else NULL, xb if gp != NULL else NULL,
                                  &partial[b, 0])
                if lp != NULL:
                    fx_H.f2h(lb, lp + r0, n)
                if gp != NULL:
                    fx_H.f2h(xb, gp + r0 * C, n * C)
        free(xb)
        free(tb_)
        free(lb)
    if failed[0]:
        raise MemoryError("fusedxent: no memory for the float16 conversion blocks")


# ---------------------------------------------------------------- evaluate

cdef void eval_block(const floating *x, Py_ssize_t C, Py_ssize_t n, const int64_t *y,
                     const double *sw, int64_t ignore_index, floating *lse_out, int64_t *amax,
                     double *part) noexcept nogil:
    """n rows, pointers at the block's first row; part = (weighted loss
    sum, weight sum, weighted correct, count)."""
    cdef Group g
    cdef Py_ssize_t i, k
    cdef int64_t yi
    cdef floating m
    cdef double s, l, si, row
    cdef RowKind kind
    part[0] = 0.0
    part[1] = 0.0
    part[2] = 0.0
    part[3] = 0.0
    g.g0 = 0
    g.g1 = 0
    for i in range(n):
        kind = stats_at(x, C, i, n, &g, &m, &s, &l, &k)     # k: NumPy's argmax (first max, or first NaN)
        lse_out[i] = <floating>(m + l) if kind == ROW_FINITE else <floating>special_lse(kind)
        amax[i] = k
        yi = y[i]
        if yi == ignore_index:
            continue
        si = sw[i] if sw != NULL else 1.0
        row = ((m - x[i * C + yi]) + l) if kind == ROW_FINITE else NAN
        part[0] += si * row
        part[1] += si
        part[2] += si if k == yi else 0.0
        part[3] += 1.0


def evaluate(const floating[:, ::1] x, const int64_t[::1] y, const double[::1] sample_weight,
             int64_t ignore_index, floating[::1] lse_out, int64_t[::1] argmax_out,
             double[:, ::1] partial, Py_ssize_t rows_per_block, int nt):
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], nb = partial.shape[0], b, r0
    cdef const double *sw = cptr(sample_weight)
    nt = threads_for(nb, nt)
    for b in prange(nb, nogil=True, num_threads=nt, schedule="static"):
        r0 = b * rows_per_block
        eval_block(&x[r0, 0], C, min(rows_per_block, N - r0), &y[r0], at(sw, r0), ignore_index,
                   &lse_out[r0], &argmax_out[r0], &partial[b, 0])


def evaluate_half(const uint16_t[:, ::1] x, const int64_t[::1] y, const double[::1] sample_weight,
                  int64_t ignore_index, uint16_t[::1] lse_out, int64_t[::1] argmax_out,
                  double[:, ::1] partial, Py_ssize_t rows_per_block, int nt):
    """evaluate for float16 logits (uint16 bits), converted block by block."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], nb = partial.shape[0], b, r0, n
    cdef const double *sw = cptr(sample_weight)
    cdef float *xb
    cdef float *lb
    cdef int failed[1]
    failed[0] = 0
    for a, what in ((y, "y"), (lse_out, "lse_out"), (argmax_out, "argmax_out")):
        check_len(a, N, what)
    nt = threads_for(nb, nt)
    with nogil, parallel(num_threads=nt):
        xb = scratch(rows_per_block * C)
        lb = scratch(rows_per_block)
        for b in prange(nb, schedule="static"):
            if xb == NULL or lb == NULL:
                failed[0] = 1
            else:
                r0 = b * rows_per_block
                n = min(rows_per_block, N - r0)
                fx_H.h2f(&x[r0, 0], xb, n * C)
                eval_block(<const float *>xb, C, n, &y[r0], at(sw, r0), ignore_index, lb,
                           &argmax_out[r0], &partial[b, 0])
                fx_H.f2h(lb, &lse_out[r0], n)
        free(xb)
        free(lb)
    if failed[0]:
        raise MemoryError("fusedxent: no memory for the float16 conversion blocks")


def softmax_half(const uint16_t[:, ::1] x, uint16_t[:, ::1] out, bint log, Py_ssize_t rows_per_block,
                 int nt):
    """softmax / log_softmax for float16 (uint16 bits), block by block."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], nb = (N + rows_per_block - 1) // rows_per_block
    cdef Py_ssize_t b, r0, n
    cdef float *xb
    cdef float *ob
    cdef int failed[1]
    failed[0] = 0
    check_len(out, N * C, "out")
    nt = threads_for(nb, nt)
    with nogil, parallel(num_threads=nt):
        xb = scratch(rows_per_block * C)
        ob = scratch(rows_per_block * C)
        for b in prange(nb, schedule="static"):
            if xb == NULL or ob == NULL:
                failed[0] = 1
            else:
                r0 = b * rows_per_block
                n = min(rows_per_block, N - r0)
                fx_H.h2f(&x[r0, 0], xb, n * C)
                softmax_block(<const float *>xb, ob, C, n, log)
                fx_H.f2h(ob, &out[r0, 0], n * C)
        free(xb)
        free(ob)
    if failed[0]:
        raise MemoryError("fusedxent: no memory for the float16 conversion blocks")


def logsumexp_half(const uint16_t[:, ::1] x, uint16_t[::1] out, Py_ssize_t rows_per_block, int nt):
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], nb = (N + rows_per_block - 1) // rows_per_block
    cdef Py_ssize_t b, r0, n
    cdef float *xb
    cdef float *ob
    cdef int failed[1]
    failed[0] = 0
    check_len(out, N, "out")
    nt = threads_for(nb, nt)
    with nogil, parallel(num_threads=nt):
        xb = scratch(rows_per_block * C)
        ob = scratch(rows_per_block)
        for b in prange(nb, schedule="static"):
            if xb == NULL or ob == NULL:
                failed[0] = 1
            else:
                r0 = b * rows_per_block
                n = min(rows_per_block, N - r0)
                fx_H.h2f(&x[r0, 0], xb, n * C)
                lse_block(<const float *>xb, ob, C, n)
                fx_H.f2h(ob, &out[r0], n)
        free(xb)
        free(ob)
    if failed[0]:
        raise MemoryError("fusedxent: no memory for the float16 conversion blocks")


def sigmoid_half(const uint16_t[::1] x, uint16_t[::1] out, bint log, Py_ssize_t block, int nt):
    cdef Py_ssize_t n = x.shape[0], nb = (n + block - 1) // block, b, j0, m
    cdef float *xb
    cdef int failed[1]
    failed[0] = 0
    check_len(out, n, "out")
    nt = threads_for(nb, nt)
    with nogil, parallel(num_threads=nt):
        xb = scratch(block)
        for b in prange(nb, schedule="static"):
            if xb == NULL:
                failed[0] = 1
            else:
                j0 = b * block
                m = min(block, n - j0)
                fx_H.h2f(&x[j0], xb, m)
                sigmoid_block(<const float *>xb, xb, m, log)    # element-wise: in place
                fx_H.f2h(xb, &out[j0], m)
        free(xb)
    if failed[0]:
        raise MemoryError("fusedxent: no memory for the float16 conversion blocks")


# ---------------------------------------------------------------- binary cross-entropy

cdef struct BCEOpts:
    const double *w         # element weights: per column (L) or per element (n), or NULL
    bint w_full             # w indexed by flat position (else by column)
    const double *wrow      # per-row weights (n / L) or NULL
    const double *pw        # pos_weight per column (L) or NULL
    double ta, tb, gscale
    double gamma, alpha     # focal loss; alpha < 0: no alpha weighting
    Py_ssize_t L            # length of the last axis


cdef double bce_block(const floating *x, const floating *t, BCEOpts *o,
                      floating *loss, floating *grad, Py_ssize_t j0, Py_ssize_t n) noexcept nogil:
    """n elements starting at flat position j0; x, t, loss, grad point at
    element j0.  Split where rows of the last axis end so that the
    column-indexed weights stay contiguous; returns the weighted sum."""
    cdef Py_ssize_t pos = 0, r, c, seg
    cdef double total = 0.0, ws
    cdef const double *w
    while pos < n:
        r = (j0 + pos) // o.L
        c = (j0 + pos) - r * o.L
        seg = min(n - pos, o.L - c)
        ws = o.wrow[r] if o.wrow != NULL else 1.0
        w = NULL
        if o.w != NULL:
            w = o.w + j0 + pos if o.w_full else o.w + c
        if floating is float:
            total += fx_F.bce(x + pos, t + pos, seg, w, ws, o.pw + c if o.pw != NULL else NULL,
                              o.ta, o.tb, at_(loss, pos), at_(grad, pos), o.gscale, o.gamma, o.alpha)
        else:
            total += fx_D.bce(x + pos, t + pos, seg, w, ws, o.pw + c if o.pw != NULL else NULL,
                              o.ta, o.tb, at_(loss, pos), at_(grad, pos), o.gscale, o.gamma, o.alpha)
        pos += seg
    return total


cdef void bce_opts(BCEOpts *o, const double[::1] weight, bint w_full, const double[::1] row_weight,
                   const double[::1] pos_weight, Py_ssize_t L, double ta, double tb, double gamma,
                   double alpha, double gscale) noexcept:
    o.w = cptr(weight)
    o.w_full = w_full
    o.wrow = cptr(row_weight)
    o.pw = cptr(pos_weight)
    o.ta = ta
    o.tb = tb
    o.gscale = gscale
    o.gamma = gamma
    o.alpha = alpha
    o.L = L


def sigmoid_bce(const floating[::1] x, const floating[::1] t, const double[::1] weight, bint w_full,
                const double[::1] row_weight, const double[::1] pos_weight, Py_ssize_t L,
                double ta, double tb, double gamma, double alpha, double gscale,
                floating[::1] loss_out, floating[::1] grad_out,
                double[::1] partial, Py_ssize_t block, int nt):
    cdef BCEOpts o
    cdef Py_ssize_t n = x.shape[0], nb = partial.shape[0], b, j0
    cdef floating *lp = ptr1(loss_out)
    cdef floating *gp = ptr1(grad_out)
    bce_opts(&o, weight, w_full, row_weight, pos_weight, L, ta, tb, gamma, alpha, gscale)
    nt = threads_for(nb, nt)
    for b in prange(nb, nogil=True, num_threads=nt, schedule="static"):
        j0 = b * block
        partial[b] = bce_block(&x[j0], &t[j0], &o, at_(lp, j0), at_(gp, j0), j0, min(block, n - j0))


def sigmoid_bce_half(const uint16_t[::1] x, const uint16_t[::1] t_h, const float[::1] t_f,
                     const double[::1] weight, bint w_full,
                     const double[::1] row_weight, const double[::1] pos_weight, Py_ssize_t L,
                     double ta, double tb, double gamma, double alpha, double gscale,
                     uint16_t[::1] loss_out, uint16_t[::1] grad_out,
                     double[::1] partial, Py_ssize_t block, int nt):
    """sigmoid_bce for float16 logits (uint16 bits); targets float16 (t_h)
    or float32 (t_f)."""
    cdef BCEOpts o
    cdef Py_ssize_t n = x.shape[0], nb = partial.shape[0], b, j0, m
    cdef uint16_t *lp = optr1(loss_out)
    cdef uint16_t *gp = optr1(grad_out)
    cdef const uint16_t *th = &t_h[0] if t_h is not None and t_h.shape[0] > 0 else NULL
    cdef const float *tf = &t_f[0] if t_f is not None and t_f.shape[0] > 0 else NULL
    cdef float *xb
    cdef float *tb_
    cdef float *lb
    cdef float *gb
    cdef const float *tr
    cdef int failed[1]
    failed[0] = 0
    for a, what in ((t_h, "t_h"), (t_f, "t_f"), (loss_out, "loss_out"), (grad_out, "grad_out")):
        check_len(a, n, what)
    if w_full and weight is not None:
        check_len(weight, n, "weight")
    bce_opts(&o, weight, w_full, row_weight, pos_weight, L, ta, tb, gamma, alpha, gscale)
    nt = threads_for(nb, nt)
    with nogil, parallel(num_threads=nt):
        xb = scratch(block)
        tb_ = scratch(block if th != NULL else 0)
        lb = scratch(block if lp != NULL else 0)
        gb = scratch(block if gp != NULL else 0)
        for b in prange(nb, schedule="static"):
            if xb == NULL or tb_ == NULL or lb == NULL or gb == NULL:
                failed[0] = 1
            else:
                j0 = b * block
                m = min(block, n - j0)
                fx_H.h2f(&x[j0], xb, m)
                tr = half_block(th + j0 if th != NULL else NULL, tf + j0 if tf != NULL else NULL, tb_, m)
                partial[b] = bce_block(<const float *>xb, tr, &o, lb if lp != NULL else NULL,
                                       gb if gp != NULL else NULL, j0, m)
                if lp != NULL:
                    fx_H.f2h(lb, lp + j0, m)
                if gp != NULL:
                    fx_H.f2h(gb, gp + j0, m)
        free(xb)
        free(tb_)
        free(lb)
        free(gb)
    if failed[0]:
        raise MemoryError("fusedxent: no memory for the float16 conversion blocks")


# ---------------------------------------------------------------- losses from probabilities

cdef double xent_prob_block(const floating *p, const floating *q, Py_ssize_t C, Py_ssize_t n,
                            floating lo, floating hi, floating *loss) noexcept nogil:
    """n rows, pointers at the block's first row."""
    cdef Py_ssize_t i
    cdef double row, total = 0.0
    for i in range(n):
        if floating is float:
            row = -fx_F.plogq(p + i * C, q + i * C, C, lo, hi)
        else:
            row = -fx_D.plogq(p + i * C, q + i * C, C, lo, hi)
        if loss != NULL:
            loss[i] = <floating>row
        total += row
    return total


def cross_entropy_prob(const floating[:, ::1] p, const floating[:, ::1] q, double lo, double hi,
                       floating[::1] loss_out, double[::1] partial, Py_ssize_t rows_per_block, int nt):
    cdef Py_ssize_t N = p.shape[0], C = p.shape[1], nb = partial.shape[0], b, r0
    cdef floating *lp = ptr1(loss_out)
    nt = threads_for(nb, nt)
    for b in prange(nb, nogil=True, num_threads=nt, schedule="static"):
        r0 = b * rows_per_block
        partial[b] = xent_prob_block(&p[r0, 0], &q[r0, 0], C, min(rows_per_block, N - r0),
                                     <floating>lo, <floating>hi, at_(lp, r0))


def cross_entropy_prob_half(const uint16_t[:, ::1] p, const uint16_t[:, ::1] q, double lo, double hi,
                            uint16_t[::1] loss_out, double[::1] partial, Py_ssize_t rows_per_block,
                            int nt):
    """cross_entropy_prob for float16 p and q (uint16 bits), block by block."""
    cdef Py_ssize_t N = p.shape[0], C = p.shape[1], nb = partial.shape[0], b, r0, n
    cdef uint16_t *lp = optr1(loss_out)
    cdef float *pb
    cdef float *qb
    cdef float *lb
    cdef int failed[1]
    failed[0] = 0
    check_len(q, N * C, "q")
    check_len(loss_out, N, "loss_out")
    nt = threads_for(nb, nt)
    with nogil, parallel(num_threads=nt):
        pb = scratch(rows_per_block * C)
        qb = scratch(rows_per_block * C)
        lb = scratch(rows_per_block)
        for b in prange(nb, schedule="static"):
            if pb == NULL or qb == NULL or lb == NULL:
                failed[0] = 1
            else:
                r0 = b * rows_per_block
                n = min(rows_per_block, N - r0)
                fx_H.h2f(&p[r0, 0], pb, n * C)
                fx_H.h2f(&q[r0, 0], qb, n * C)
                partial[b] = xent_prob_block(<const float *>pb, <const float *>qb, C, n, <float>lo,
                                             <float>hi, lb if lp != NULL else NULL)
                if lp != NULL:
                    fx_H.f2h(lb, lp + r0, n)
        free(pb)
        free(qb)
        free(lb)
    if failed[0]:
        raise MemoryError("fusedxent: no memory for the float16 conversion blocks")


cdef double bce_prob_block(const floating *p, const floating *t, const double *w, Py_ssize_t n,
                           floating lo, floating hi, floating *loss) noexcept nogil:
    """n elements, pointers at the block's first element."""
    if floating is float:
        return fx_F.bce_prob(p, t, n, w, 1.0, lo, hi, loss)
    else:
        return fx_D.bce_prob(p, t, n, w, 1.0, lo, hi, loss)


def binary_cross_entropy_prob(const floating[::1] p, const floating[::1] t, const double[::1] weight,
                              double lo, double hi, floating[::1] loss_out, double[::1] partial,
                              Py_ssize_t block, int nt):
    cdef Py_ssize_t n = p.shape[0], nb = partial.shape[0], b, j0
    cdef floating *lp = ptr1(loss_out)
    cdef const double *w = cptr(weight)
    nt = threads_for(nb, nt)
    for b in prange(nb, nogil=True, num_threads=nt, schedule="static"):
        j0 = b * block
        partial[b] = bce_prob_block(&p[j0], &t[j0], at(w, j0), min(block, n - j0),
                                    <floating>lo, <floating>hi, at_(lp, j0))


def binary_cross_entropy_prob_half(const uint16_t[::1] p, const uint16_t[::1] t_h, const float[::1] t_f,
                                   const double[::1] weight, double lo, double hi, uint16_t[::1] loss_out,
                                   double[::1] partial, Py_ssize_t block, int nt):
    """binary_cross_entropy_prob for float16 p (uint16 bits); targets
    float16 (t_h) or float32 (t_f)."""
    cdef Py_ssize_t n = p.shape[0], nb = partial.shape[0], b, j0, m
    cdef uint16_t *lp = optr1(loss_out)
    cdef const double *w = cptr(weight)
    cdef const uint16_t *th = &t_h[0] if t_h is not None and t_h.shape[0] > 0 else NULL
    cdef const float *tf = &t_f[0] if t_f is not None and t_f.shape[0] > 0 else NULL
    cdef float *pb
    cdef float *tb_
    cdef float *lb
    cdef const float *tr
    cdef int failed[1]
    failed[0] = 0
    for a, what in ((t_h, "t_h"), (t_f, "t_f"), (weight, "weight"), (loss_out, "loss_out")):
        check_len(a, n, what)
    nt = threads_for(nb, nt)
    with nogil, parallel(num_threads=nt):
        pb = scratch(block)
        tb_ = scratch(block if th != NULL else 0)
        lb = scratch(block if lp != NULL else 0)
        for b in prange(nb, schedule="static"):
            if pb == NULL or tb_ == NULL or lb == NULL:
                failed[0] = 1
            else:
                j0 = b * block
                m = min(block, n - j0)
                fx_H.h2f(&p[j0], pb, m)
                tr = half_block(th + j0 if th != NULL else NULL, tf + j0 if tf != NULL else NULL, tb_, m)
                partial[b] = bce_prob_block(<const float *>pb, tr, at(w, j0), m, <float>lo, <float>hi,
                                            lb if lp != NULL else NULL)
                if lp != NULL:
                    fx_H.f2h(lb, lp + j0, m)
        free(pb)
        free(tb_)
        free(lb)
    if failed[0]:
        raise MemoryError("fusedxent: no memory for the float16 conversion blocks")


# ---------------------------------------------------------------- roofline probes

cdef double sum_block(const floating[::1] x, Py_ssize_t j0, Py_ssize_t j1) noexcept nogil:
    if floating is float:
        return fx_F.rowsum(&x[j0], j1 - j0)
    else:
        return fx_D.rowsum(&x[j0], j1 - j0)


def vecmath(int fn, const floating[::1] x, floating[::1] out):
    """out = f(x) through the selected instruction-set path of fx_vecmath.h
    (fn: 0 exp of x <= 0, 1 its flushing variant, 2 log, 3 log1p on [0, 1],
    4 log1p); for measuring the vector math's error, not a public API."""
    if not 0 <= fn <= 4:
        raise ValueError(f"vecmath: no function {fn}")
    if out.shape[0] != x.shape[0]:
        raise ValueError("vecmath: out must have x's length")
    with nogil:
        if floating is float:
            fx_F.vecmath(fn, &x[0] if x.shape[0] else NULL, &out[0] if out.shape[0] else NULL, x.shape[0])
        else:
            fx_D.vecmath(fn, &x[0] if x.shape[0] else NULL, &out[0] if out.shape[0] else NULL, x.shape[0])


def half_to_float(const uint16_t[::1] h, float[::1] out, Py_ssize_t block, int nt):
    """float16 (as its uint16 bits) -> float32, exact; F16C on the AVX paths."""
    cdef Py_ssize_t n = h.shape[0], nb = (n + block - 1) // block, b, j0
    if out.shape[0] != n:
        raise ValueError("half_to_float: out must have h's length")
    nt = threads_for(nb, nt)
    for b in prange(nb, nogil=True, num_threads=nt, schedule="static"):
        j0 = b * block
        fx_H.h2f(&h[j0], &out[j0], min(block, n - j0))


def float_to_half(const float[::1] f, uint16_t[::1] out, Py_ssize_t block, int nt):
    """float32 -> float16 bits, rounded to nearest even (NumPy's astype)."""
    cdef Py_ssize_t n = f.shape[0], nb = (n + block - 1) // block, b, j0
    if out.shape[0] != n:
        raise ValueError("float_to_half: out must have f's length")
    nt = threads_for(nb, nt)
    for b in prange(nb, nogil=True, num_threads=nt, schedule="static"):
        j0 = b * block
        fx_H.f2h(&f[j0], &out[j0], min(block, n - j0))


def probe_read(const floating[::1] x, double[::1] partial, Py_ssize_t block, int nt):
    """Streaming-read roofline: a parallel sum over the same bytes."""
    cdef Py_ssize_t n = x.shape[0], nb = partial.shape[0], b
    nt = threads_for(nb, nt)
    for b in prange(nb, nogil=True, num_threads=nt, schedule="static"):
        partial[b] = sum_block(x, b * block, min((b + 1) * block, n))


def probe_copy(const floating[::1] x, floating[::1] out, Py_ssize_t block, int nt):
    """Streaming-copy roofline for kernels that read once and write once."""
    cdef Py_ssize_t n = x.shape[0], nb = (n + block - 1) // block, b, j0
    nt = threads_for(nb, nt)
    for b in prange(nb, nogil=True, num_threads=nt, schedule="static"):
        j0 = b * block
        memcpy(&out[j0], &x[j0], (min(j0 + block, n) - j0) * sizeof(floating))
