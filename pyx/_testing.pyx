# Design: the probes of the benchmarks and the hooks of the tests, kept
# out of the product module (_kernels).  They call the same compiled
# kernels -- the operation tables _kernels selected (set_isa), handed over
# in a capsule (_kernels._tables) -- so nothing is compiled twice and a
# probe always runs on the path in force.  Not a public API.
#
# - probe_read / probe_copy: the streaming-read and copy rooflines that
#   `fusedxent bench` and bench/ measure kernels against (same flags, same
#   threads, the selected path's vector loop).
# - vecmath: one function of fx_vecmath_fns.def over an array (the ULP
#   table, tests/test_vecmath.py).
# - convert, half_to_float, float_to_half: the driver's 16-bit conversions.
# - op_row_stats, op_row_write, op_reduce: the row operations on their own,
#   so tests hold every path's vector bodies to the portable ones.

cimport numpy as cnp
from cython.parallel cimport prange
from cpython.pycapsule cimport PyCapsule_GetPointer
from libc.string cimport memset, memcpy
from libc.stdint cimport int64_t, uint16_t

from fx_types cimport fx_stats, FX_VM_COUNT, fx_vm_names
from fx_ops cimport fx_ops_f, fx_ops_d, fx_ops_h
from ._kernels import _tables

cnp.import_array()

include "fx_arrays.pxi"


cdef struct Tables:
    fx_ops_f *F
    fx_ops_d *D
    fx_ops_h *H

cdef Tables *_live = <Tables *>PyCapsule_GetPointer(_tables(), b"fusedxent._kernels.tables")
# the live tables of _kernels: what they hold follows set_isa
cdef fx_ops_f *fx_F = _live.F
cdef fx_ops_d *fx_D = _live.D
cdef fx_ops_h *fx_H = _live.H


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


# ---------------------------------------------------------------- test hooks

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
