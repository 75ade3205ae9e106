/* fx_kernels.h -- the kernels of one element type on one instruction-set
 * path: the list of their sources, in order, and the names they share.
 * Included by fx_isa.h twice per row of fx_isa_table.def, with FX_T,
 * FX_S (f|d), FX_IS_FLOAT and FX_ISA defined; every kernel's name gets the
 * suffix _<FX_S>_<FX_ISA> (FN), the full list in KERNELS.txt.
 *
 * Order and dependencies (each file reads only what comes before it):
 *   fx_scalar.h          scalar helpers both kinds of kernel call
 *   fx_vec_<isa>.h       the row's vector vocabulary (FX_VEC_HEADER),
 *   fx_simd_math.h       and on vector rows (FX_VEC_BITS > 0) the kernels
 *   fx_simd_rows.h       written against it, each setting FX_HAS_<name>
 *   fx_simd_small.h
 *   fx_simd_elem.h
 *   fx_rows.h            the portable bodies: plain C loops GCC vectorizes,
 *   fx_elementwise.h     skipped where FX_HAS_<name> says a vector one exists
 *   fx_distill.h         the distillation rows (portable; double, or float on float)
 *   fx_convert.h         the 16-bit conversions (with the float kernels)
 *   fx_vec_end.h         and the end: every name above undefined
 *
 * Design of the portable bodies: GCC does not vectorize FP reductions
 * without -ffast-math (it may not reassociate), so each reduction says
 * `#pragma omp simd reduction`, which licenses exactly that loop and
 * nothing else (-fopenmp-simd is on even without OpenMP).  The summation
 * order then depends on n and the compiled instruction set only -- never
 * on the thread count or on where a row starts.  Sums are carried in
 * double.  Per-case branches (weights or not) are hoisted out of the
 * loops.
 */

#define FX_C2(a, b, c) a##_##b##_##c
#define FX_C1(a, b, c) FX_C2(a, b, c)
#define FN(name) FX_C1(name, FX_S, FX_ISA)

#if FX_IS_FLOAT
#  define EXPNEG fx_expneg_f
#  define EXPFAST fx_expneg_fast_f
#  define LOG1P01 fx_log1p01_f
#  define LOG fx_log_f
#  define LOG1P fx_log1p_f
#  define TANH fx_tanh_f
#  define SECH2 fx_sech2_f
#  define FX_INF ((float)INFINITY)
#  define FX_MAXV 3.40282347e+38f   /* FLT_MAX */
#  define FX_FLUSH_GUARD 1.2e-31    /* see row_stats */
#else
#  define EXPNEG fx_expneg_d
#  define EXPFAST fx_expneg_fast_d
#  define LOG1P01 fx_log1p01_d
#  define LOG fx_log_d
#  define LOG1P fx_log1p_d
#  define TANH fx_tanh_d
#  define SECH2 fx_sech2_d
#  define FX_INF ((double)INFINITY)
#  define FX_MAXV 1.7976931348623157e+308   /* DBL_MAX */
#  define FX_FLUSH_GUARD 2.3e-292
#endif

#include "fx_scalar.h"

#if FX_VEC_BITS > 0
#  include FX_VEC_HEADER          /* the row's vocabulary: fx_vec_avx2.h, fx_vec_avx512.h, fx_vec_neon.h */
#  include "fx_simd_math.h"
#  include "fx_simd_rows.h"
#  include "fx_simd_small.h"
#  include "fx_simd_elem.h"
#endif

#include "fx_rows.h"
#include "fx_elementwise.h"
#include "fx_distill.h"
#if FX_IS_FLOAT
#  include "fx_convert.h"          /* float16 / bfloat16 <-> float32: once per path */
#endif

#if FX_VEC_BITS > 0
#  include "fx_vec_end.h"
#  undef DFOLD
#  undef XP_SHIFTER
#  undef XP_BIAS
#  undef XP_ACC_FLOOR
#  undef XP_REDUCE_BITS
#endif
#undef EXPNEG
#undef EXPFAST
#undef LOG1P01
#undef TANH
#undef SECH2
#undef LOG
#undef LOG1P
#undef FX_INF
#undef FX_MAXV
#undef FX_BCE_DISPATCH
#undef FX_BCE_CASE
#undef FX_BCE_CASES8
#undef FX_FLUSH_GUARD
#undef FN
#undef FX_C1
#undef FX_C2
#undef FX_HAS_rowmax
#undef FX_HAS_first_eq
#undef FX_HAS_sumexp_skip
#undef FX_HAS_exp_affine
#undef FX_HAS_stats_small
#undef FX_HAS_xent_small
#undef FX_HAS_stats_mid
#undef FX_MID_C
#undef FX_HAS_sub_rows
#undef FX_HAS_sigmoid
#undef FX_HAS_log_sigmoid
#undef FX_HAS_bce
#undef FX_HAS_bce_eval_run
#undef FX_HAS_rowsum
#undef FX_HAS_sumexp_extras
#undef FX_HAS_vecmath_simd
#undef FX_HAS_exp_affine_flat
#undef FX_HAS_zform
#undef FX_SP_TABLE
#undef XP_LOG2E
#undef XP_LN2HI
#undef XP_LN2LO
#undef XP_MIN
#undef XP_FLOOR
#undef XP_FLUSH
#undef FX_TANH_VMAX
#undef FX_TANH_SIGNED
#undef XP_REDUCE

