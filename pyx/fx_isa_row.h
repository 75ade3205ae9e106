/* fx_isa_row.h -- what fx_dispatch.h makes of one row of
 * fx_isa_table.def, by FX_ISA_EMIT:
 *   FX_EMIT_BUILD   the path's kernels and tables (fx_isa.h)
 *   FX_EMIT_NAME    its name, an element of fx_isa_names
 *   FX_EMIT_CPU     its bit in fx_isa_supported's bits when the CPU runs it
 *   FX_EMIT_OPS_F / _D / _H   the address of its table of that type */
#if FX_ISA_EMIT == FX_EMIT_BUILD
#  include "fx_isa.h"
#elif FX_ISA_EMIT == FX_EMIT_NAME
    FX_ISA_NAME,
#elif FX_ISA_EMIT == FX_EMIT_CPU
    bits |= (FX_ISA_CPU) ? 1 << FX_ISA_LEVEL : 0;
#elif FX_ISA_EMIT == FX_EMIT_OPS_F
    &FX_CAT2(fx_ops_f_, FX_ISA),
#elif FX_ISA_EMIT == FX_EMIT_OPS_D
    &FX_CAT2(fx_ops_d_, FX_ISA),
#elif FX_ISA_EMIT == FX_EMIT_OPS_H
    &FX_CAT2(fx_ops_h_, FX_ISA),
#endif
