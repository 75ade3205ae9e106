# Cython view of the shared C types (fx_ops.h) and the vector-math names
# (fx_vecmath.h): what both extensions, _kernels and _testing, see.  The
# operation tables' types are in fx_ops.pxd, which setup.py writes from
# fx_ops.def, so they cannot drift from the C; the kernels themselves, the
# live tables and the configuration functions in fx_dispatch.pxd (only
# _kernels includes fx_dispatch.h, which compiles every kernel).

from libc.stdint cimport int64_t

cdef extern from "fx_ops.h" nogil:
    ctypedef struct fx_stats:
        double *m
        double *s
        double *l
        int64_t *k
        const int64_t *y
        int64_t ignore
        int64_t *rank
        double *s2
        double *sx
        double *sxx
        double *sx3
        ptrdiff_t pfd

    ctypedef struct fx_bce_seg:
        const double *w
        double ws
        const double *pw
        double ta
        double tb
        double gscale
        double gamma
        double alpha
        double k

    ctypedef struct fx_focal:
        const double *fa
        double gamma
        double ta
        double tb
        double z

    ctypedef struct fx_xent:
        const double *cw
        const double *sw
        int64_t ignore
        double k
        int check

    enum:
        FX_DISTILL_NPOLY

    ctypedef struct fx_distill:
        double it
        int div
        double beta
        double tau
        double cs[FX_DISTILL_NPOLY]
        double cl[FX_DISTILL_NPOLY]

cdef extern from "fx_vecmath.h" nogil:
    enum:
        FX_VM_COUNT
    const char *fx_vm_names[]
