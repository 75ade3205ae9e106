# fx_arrays.pxi -- the arrays the Python layer hands the compiled
# modules (their element format and their data pointer, checked) and the
# split of their rows into blocks.
# Included by _kernels.pyx and _testing.pyx (each needs `cimport numpy as
# cnp` and cnp.import_array() before).

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


# ---- blocks: the fixed split of N items into blocks of `per`

cdef inline int threads_for(Py_ssize_t nblocks, int nt) noexcept nogil:
    return 1 if nblocks < 2 else (nt if nt < nblocks else <int>nblocks)


cdef double *partials(object partial, Py_ssize_t nblocks, Py_ssize_t nparts) except? NULL:
    return <double *>addr(partial, nblocks * nparts, "partial", True)


cdef inline Py_ssize_t nblocks(Py_ssize_t N, Py_ssize_t per) noexcept nogil:
    return (N + per - 1) // per
