"""The vector math of pyx/fx_vecmath.h in ULP against double (float32
inputs) and long double (float64 inputs), on every instruction-set path this CPU runs, over each function's whole domain
(sampled uniformly over bit patterns, so every binade counts, plus edge
values).  The bounds are the measured maxima of the accuracy page (docs/guide/accuracy.md) (float32 measured
exhaustively with `python -m fusedxent ulp --exhaustive`) rounded up."""
import numpy as np
import pytest

from fusedxent import _kernels, _ulp

pytestmark = pytest.mark.skipif(np.finfo(np.longdouble).nmant < 63,
                                reason="the reference needs x87 long double")

# fn -> (float32 bound, float64 bound)
BOUNDS = {0: (1.5, 1.5), 1: (1.5, 1.5), 2: (3.0, 2.5), 3: (3.0, 3.0), 4: (3.5, 3.5), 8: (3.0, 3.0), 9: (4.0, 3.5)}


@pytest.mark.parametrize("fn", sorted(BOUNDS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_ulp_error(isa, fn, dtype):
    worst, at, tried = _ulp.max_ulp(fn, dtype, n=300_000, seed=fn)
    assert tried > 100_000
    bound = BOUNDS[fn][dtype == np.float64]
    assert worst <= bound, f"{_ulp.FUNCS[fn][1]} {np.dtype(dtype).name}: {worst:.3f} ulp at x={at!r}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_special_values(isa, dtype):
    def f(fn, xs):
        x = np.array(xs, dtype)
        out = np.empty_like(x)
        _kernels.vecmath(fn, x, out)
        return out
    inf, nan = np.inf, np.nan
    np.testing.assert_array_equal(f(0, [0.0, -0.0, -inf, nan]), [1, 1, 0, nan])
    tiny = np.finfo(dtype).smallest_subnormal
    # the exact exp keeps subnormal results; the flushing one returns 0 there
    x_sub = np.log(np.float64(tiny)) + 0.1
    assert f(0, [x_sub])[0] > 0 and f(1, [x_sub])[0] == 0
    np.testing.assert_array_equal(f(2, [1.0, inf, 0.0, nan]), [0, inf, -inf, nan])
    np.testing.assert_array_equal(f(4, [0.0, -1.0, inf, nan]), [0, -inf, inf, nan])
    np.testing.assert_array_equal(f(3, [0.0]), [0])
    # log1p keeps tiny arguments exact: log1p(x) = x to the last bit
    np.testing.assert_array_equal(f(4, [tiny, 1e-30]), np.array([tiny, 1e-30], dtype))
    # the kernels' log1p on [0, 1] (a polynomial on the AVX paths' float):
    # exact at 0 and for arguments too small to change 1 + x
    np.testing.assert_array_equal(f(8, [0.0, tiny, 1e-30]), np.array([0.0, tiny, 1e-30], dtype))
    assert np.isnan(f(8, [nan])[0])
    # softplus(-x): ln 2 at 0 (to the ulp), 0 at inf, NaN through; beyond
    # 103.98 (float) the result is below half the smallest subnormal
    sp = f(9, [0.0, inf, nan, 120.0 if dtype == np.float32 else 800.0])
    assert abs(sp[0] - np.log(2)) <= np.spacing(dtype(np.log(2)))
    assert sp[1] == 0 and np.isnan(sp[2]) and sp[3] == 0


def test_errors_measure_what_they_claim():
    # a result one ulp off reads as about one ulp
    x = np.array([-1.0], np.float32)
    e, _ = _ulp.ulp_errors(0, x)
    assert e[0] < 1
    with pytest.raises(ValueError):
        _kernels.vecmath(99, x, x.copy())
    with pytest.raises(ValueError):
        _kernels.vecmath(0, x, np.empty(2, np.float32))
