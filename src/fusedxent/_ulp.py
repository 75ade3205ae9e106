"""Error of the vector math (pyx/fx_vecmath.h) in ULP, per instruction-set path.

`python -m fusedxent ulp` prints the table of the accuracy page (docs/guide/accuracy.md); `--exhaustive`
runs every float32 input of each function's domain (2^31 values for exp;
a few minutes per function), otherwise a sample uniform over bit patterns, so every
binade of the domain is covered equally, plus its edge values.

The reference is the same function in double for float32 inputs and in
long double (x87 extended, 64-bit significand on x86-64: 11 bits beyond
double) for float64 inputs, and the error is
|f(x) - ref| / ulp(ref rounded to the element type), subnormal results
measured in the subnormal spacing.
"""
from enum import IntEnum

import numpy as np

from . import _testing as _t

# The functions by name, their codes from the kernels' own list
# (pyx/fx_vecmath_fns.def): VecMath.EXP_SUM is the row sums' exp, ...
VecMath = IntEnum("VecMath", {name.upper(): code for code, name in enumerate(_t.vecmath_names())})
V = VecMath

# fn -> (label, reference, domain, note); tanh, sech^2 and the last five are
# what the kernels of the selected path call (intrinsics on the vector paths)
FUNCS = {
    V.EXP: ("exp", np.exp, "x <= 0", "subnormal results kept"),
    V.EXP_FLUSH: ("exp (flushing)", np.exp, "x <= 0", "0 below x = -87 (float) / -708 (double)"),
    V.LOG: ("log", np.log, "x > 0", ""),
    V.LOG1P01: ("log1p", np.log1p, "0 <= x <= 1", "the softmax-loss variant"),
    V.LOG1P: ("log1p", np.log1p, "x >= -1", ""),
    V.TANH: ("tanh", np.tanh, "any x", "the soft-cap, cap tanh(x / cap); expm1 form on vector paths"),
    V.SECH2: ("sech^2", lambda x: 1 / np.cosh(x) ** 2, "any x", "the soft-cap's derivative"),
    V.EXP_SUM: ("exp, summed", np.exp, "x <= 0", "row sums (degree 5 float); above FLT_MIN / DBL_MIN"),
    V.EXP_WRITE: ("exp, written", np.exp, "x <= 0", "probabilities, gradients; 0 below FLT_MIN / DBL_MIN"),
    V.EXP_ACC: ("exp, accurate", np.exp, "x <= 0", "sigmoid, BCE; subnormal results kept"),
    V.LOG1P_BCE: ("log1p (BCE)", np.log1p, "0 <= x <= 1", "evaluate_binary; BCE and log_sigmoid off the table"),
    V.SOFTPLUS_NEG: ("softplus(-x)", lambda x: np.log1p(np.exp(-x)), "x >= 0",
                     "BCE, log_sigmoid: log1p(exp(-x)); a table on AVX-512 float"),
}
assert set(FUNCS) == set(VecMath), "fx_vecmath_fns.def and FUNCS disagree"
EXP_FNS = (V.EXP, V.EXP_FLUSH, V.EXP_SUM, V.EXP_WRITE, V.EXP_ACC)
# results below the normal range flushed to 0 on purpose (the written exps)
FLUSHING = (V.EXP_FLUSH, V.EXP_SUM, V.EXP_WRITE)
FLUSH_BELOW = {np.dtype(np.float32): -87.0, np.dtype(np.float64): -708.0}


def _to_domain(fn, v):
    """Map arbitrary finite values onto fn's domain, keeping their binades."""
    a = np.abs(v)
    if fn in EXP_FNS:
        return -a
    if fn == V.LOG:
        return a[a > 0]
    if fn in (V.LOG1P01, V.LOG1P_BCE):
        return a[a <= 1]
    if fn == V.SOFTPLUS_NEG:
        return a
    if fn in (V.TANH, V.SECH2):
        return v
    return np.where(a <= 1, -a, a)     # log1p: [-1, 0) and [0, inf)


def _edges(fn, dt):
    fi = np.finfo(dt)
    common = [0.0, fi.tiny, fi.smallest_subnormal, fi.eps, 0.5, 1.0, 2.0]
    exp = [-fi.tiny, -1e-30, -0.5, -1.0, -87.3, -103.0, -745.0, -1e300, -fi.max, -np.inf]
    flushing = [-fi.tiny, -1.0, -86.9, -707.9, -1e300, -np.inf]
    log1p01 = [1 - fi.epsneg, 0.4142135, 0.4142136]
    extra = {V.EXP: exp, V.EXP_FLUSH: flushing, V.EXP_SUM: flushing, V.EXP_WRITE: flushing, V.EXP_ACC: exp,
             V.LOG: [fi.max, np.inf, 1 - fi.epsneg, 1 + fi.eps],
             V.LOG1P01: log1p01, V.LOG1P_BCE: log1p01,
             V.LOG1P: [-1.0, -1 + fi.epsneg, -0.2928932, -0.2928933, 0.4142135, 0.4142136, fi.max, np.inf],
             V.TANH: [-0.0, 0.25, -0.2499999, 0.2500001, 9.0, -9.1, 19.0, 44.0, 400.0, np.inf, -np.inf],
             V.SECH2: [-0.0, 0.25, 0.2499999, -1.0, 9.0, 44.0, 50.0, 360.0, 380.0, np.inf, -np.inf],
             V.SOFTPLUS_NEG: [0.25, 0.2500001, 15.5, 15.749999, 15.75, 16.0, 87.3, 103.0, 104.0, 1e30, np.inf]}
    with np.errstate(over="ignore"):       # -1e300 and fi.max of float64 become -inf in float32
        x = np.array(common + extra[fn], dtype=np.float64).astype(dt)
    return _to_domain(fn, x) if fn != V.LOG1P else x[x >= -1]


def ulp_errors(fn, x):
    """(errors in ULP, the inputs they belong to) of vecmath function fn on x,
    over the inputs where the function is meant to be accurate."""
    x = np.ascontiguousarray(x)
    dt = x.dtype
    out = np.empty_like(x)
    _t.vecmath(fn, x, out)
    # float32: a float64 reference (its own error is 2^-29 of a float32 ulp);
    # float64: long double
    wide = np.float64 if dt == np.float32 else np.longdouble
    with np.errstate(all="ignore"):
        ref = FUNCS[fn][1](x.astype(wide))
    keep = np.isfinite(ref)
    special_ok = bool(np.all((out[~keep] == ref[~keep].astype(dt)) | (np.isnan(out[~keep]) & np.isnan(ref[~keep]))))
    if fn in FLUSHING:
        # results below the normal range: flushed to 0 (the written exps);
        # the summed exp on AVX2 returns about FLT_MIN there (its rows' sums
        # are redone exactly when that small), on AVX-512 exact subnormals
        flushed = x < FLUSH_BELOW[np.dtype(dt)]
        if fn != V.EXP_SUM:
            special_ok &= bool(np.all(out[flushed] == 0))
        keep &= ~flushed
    r = ref[keep].astype(dt)
    spacing = np.spacing(np.abs(r)).astype(wide)
    err = np.abs(out[keep].astype(wide) - ref[keep]) / spacing
    if not special_ok:
        err = np.append(err, np.inf)     # a wrong infinity, NaN or flush counts as unbounded
    return err.astype(np.float64), x[keep] if special_ok else np.append(x[keep], np.nan)


def sample(fn, dtype, n, seed=0):
    """n inputs of fn's domain, uniform over bit patterns, plus its edges."""
    dt = np.dtype(dtype)
    ut = np.uint32 if dt == np.float32 else np.uint64
    bits = np.random.default_rng(seed).integers(0, np.iinfo(ut).max, n, dtype=ut, endpoint=True)
    v = bits.view(dt)
    v = v[np.isfinite(v)]
    return np.concatenate([_to_domain(fn, v), _edges(fn, dt)]).astype(dt)


def max_ulp(fn, dtype, n=1_000_000, seed=0, exhaustive=False):
    """(max error in ULP, input where it occurs, inputs tried)."""
    if exhaustive and np.dtype(dtype) == np.float32:
        worst, at, tried = 0.0, None, 0
        step = 1 << 24
        for b0 in range(0, 1 << 31, step):
            v = np.arange(b0, b0 + step, dtype=np.uint32).view(np.float32)   # every x >= 0 (and -x below)
            x = _to_domain(fn, v[np.isfinite(v)])
            if fn == V.LOG1P:
                x = np.concatenate([x, -v[(v > 0) & (v <= 1)]])
            if fn in (V.TANH, V.SECH2):     # the vector paths' tanh is not computed symmetrically
                x = np.concatenate([x, -x])
            if x.size == 0:
                continue
            e, xs = ulp_errors(fn, x)
            tried += x.size
            if e.size == 0:             # a chunk the flushing exp sends to 0 entirely
                continue
            i = int(np.argmax(e))
            if e[i] > worst:
                worst, at = float(e[i]), xs[i]
        return worst, at, tried
    x = sample(fn, dtype, n, seed)
    e, xs = ulp_errors(fn, x)
    i = int(np.argmax(e))
    return float(e[i]), xs[i], x.size


def table(isas=None, exhaustive=False, n=1_000_000, out=print):
    from ._config import config, set_isa
    cfg = config()
    isas = isas or cfg["isa_supported"]
    before = cfg["isa"]
    how = "every float32 input (exhaustive), " if exhaustive else ""
    out(f"vector math error in ULP against double (float32) and long double (float64): {how}"
        f"{n} sampled inputs per function otherwise")
    out(f"{'path':9} {'function':15} {'domain':12} {'float32':>9} {'float64':>9}  note")
    try:
        for isa in isas:
            set_isa(isa)
            for fn, (name, _, dom, note) in FUNCS.items():
                e32 = max_ulp(fn, np.float32, n, exhaustive=exhaustive)[0]
                e64 = max_ulp(fn, np.float64, n)[0]
                out(f"{isa:9} {name:15} {dom:12} {e32:9.3f} {e64:9.3f}  {note}")
    finally:
        set_isa(before)
