/* fx_isa_row_end.h -- the end of a row of fx_isa_table.def: its macros undefined. */
#undef FX_ISA
#undef FX_ISA_NAME
#undef FX_ISA_LEVEL
#undef FX_VEC_BITS
#undef FX_VEC_HEADER
#undef FX_ISA_TARGETED
#undef FX_ISA_TARGET
#undef FX_ISA_CPU
