# Cython view of fx_dispatch.h: its types, constants and configuration
# functions.  The operation tables (fx_ops_f, fx_ops_d, fx_ops_h and the
# live copies fx_F, fx_D, fx_H) are declared in fx_ops.pxd, which setup.py
# writes from fx_ops.def, so they cannot drift from the C.

from libc.stdint cimport int64_t

cdef extern from "fx_dispatch.h" nogil:
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

    ctypedef struct fx_xent:
        const double *cw
        const double *sw
        int64_t ignore
        double k
        int check

    enum:
        FX_GROUP
        FX_SMALL_C
        FX_VM_COUNT

    const char *fx_vm_names[]

    const char *fx_isa_current
    const char *fx_isa_names[]
    int FX_ISA_COUNT
    int fx_isa_supported()
    int fx_select_isa(int level)
    int fx_max_threads()
    int fx_have_openmp()
    int fx_simde()
