# Cython view of fx_dispatch.h: the kernels of every path, the live
# operation tables fx_F / fx_D / fx_H (the selected path's) and the
# configuration functions.  cimported by _kernels only: including
# fx_dispatch.h compiles every kernel.

from fx_ops cimport fx_ops_f, fx_ops_d, fx_ops_h

cdef extern from "fx_dispatch.h" nogil:
    enum:
        FX_GROUP
        FX_SMALL_C

    void FX_PREFETCH(const void *p, int loc)

    fx_ops_f fx_F
    fx_ops_d fx_D
    fx_ops_h fx_H

    const char *fx_isa_current
    const char *fx_isa_names[]
    int FX_ISA_COUNT
    int fx_isa_supported()
    int fx_select_isa(int level)
    int fx_max_threads()
    int fx_have_openmp()
    int fx_simde()
