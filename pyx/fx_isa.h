/* fx_isa.h -- one instruction-set path: every operation of fx_ops.def
 * compiled under that path's target, and the path's tables.  Included
 * once per row of fx_isa_table.def (through fx_isa_row.h), which
 * defines FX_ISA, FX_VEC_BITS and the target.  Operations get the suffix
 * _<f|d|h>_<FX_ISA>.
 *
 * fx_kernels.h lists the kernels' sources (vector kernels first where
 * the row has a vocabulary, each announcing itself with FX_HAS_<name>;
 * the portable bodies fill in the rest).
 */
#if FX_ISA_TARGETED && defined(__clang__)      /* clang ignores GCC's target pragma */
FX_PRAGMA(clang attribute push (__attribute__((target(FX_ISA_TARGET))), apply_to = function))
#elif FX_ISA_TARGETED
#pragma GCC push_options
FX_PRAGMA(GCC target(FX_ISA_TARGET))
#endif

#define FX_T float
#define FX_S f
#define FX_IS_FLOAT 1
#include "fx_kernels.h"
#undef FX_T
#undef FX_S
#undef FX_IS_FLOAT

#define FX_T double
#define FX_S d
#define FX_IS_FLOAT 0
#include "fx_kernels.h"
#undef FX_T
#undef FX_S
#undef FX_IS_FLOAT

#if FX_ISA_TARGETED && defined(__clang__)
#pragma clang attribute pop
#elif FX_ISA_TARGETED
#pragma GCC pop_options
#endif

/* the path's tables, in the order of the list */
#define FX_CVT(name, params)
#define FX_OP(name, ret, params) FX_CAT3(name, f, FX_ISA),
static const fx_ops_f FX_CAT2(fx_ops_f_, FX_ISA) = {
#include "fx_ops.def"
};
#undef FX_OP
#define FX_OP(name, ret, params) FX_CAT3(name, d, FX_ISA),
static const fx_ops_d FX_CAT2(fx_ops_d_, FX_ISA) = {
#include "fx_ops.def"
};
#undef FX_OP
#undef FX_CVT
#define FX_OP(name, ret, params)
#define FX_CVT(name, params) FX_CAT3(name, h, FX_ISA),
static const fx_ops_h FX_CAT2(fx_ops_h_, FX_ISA) = {
#include "fx_ops.def"
};
#undef FX_OP
#undef FX_CVT
