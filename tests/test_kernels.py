"""Every compiled function against the NumPy reference: dtypes x shapes x
axis x threads x layouts, on every instruction-set path of this CPU."""
import numpy as np
import pytest

import fusedxent as fx
from fusedxent import reference as R
from fusedxent import _testing

from helpers import assert_close

DTYPES = [np.float32, np.float64]
SHAPES = [((1, 1), -1), ((5, 1), -1), ((9, 2), -1), ((13, 7), -1), ((31, 1000), -1),
          ((3, 5, 17), 1), ((4, 6), 0), ((2, 3, 4, 5), -2),
          # the across-rows path (<= 64 classes): ragged 64-row groups, its upper edge
          ((200, 33), -1), ((130, 64), -1), ((70, 65), -1)]
THREADS = [1, 2]


def layouts(x):
    """The same values in several memory layouts."""
    yield "c", x
    ro = x.copy()
    ro.flags.writeable = False
    yield "readonly", ro
    yield "fortran", np.asfortranarray(x)
    big = np.zeros(tuple(2 * s for s in x.shape), x.dtype)
    sl = tuple(slice(None, None, 2) for _ in x.shape)
    big[sl] = x
    yield "strided", big[sl]
    rev = x[..., ::-1].copy()[..., ::-1]
    yield "negative-stride", rev


def _data(rng, shape, dtype, scale=3.0):
    return (scale * rng.standard_normal(shape)).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,axis", SHAPES)
@pytest.mark.parametrize("nt", THREADS)
def test_normalizers(isa, rng, dtype, shape, axis, nt):
    x = _data(rng, shape, dtype)
    for name, xl in layouts(x):
        for fn in ("softmax", "log_softmax", "logsumexp"):
            got = getattr(fx, fn)(xl, axis=axis, num_threads=nt)
            want = getattr(R, fn)(x, axis=axis)
            assert got.dtype == dtype and got.shape == want.shape, (fn, name)
            assert_close(got, want, dtype)
        for fn in ("sigmoid", "log_sigmoid"):
            got = getattr(fx, fn)(xl, num_threads=nt)
            assert got.dtype == dtype
            assert_close(got, getattr(R, fn)(x), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_large_rows_parallel(isa, rng, dtype):
    # enough work to use the thread team: 300 x 1000 > the serial threshold
    x = _data(rng, (300, 1000), dtype)
    y = rng.integers(0, 1000, 300)
    for nt in (1, 2, 3):
        assert_close(fx.softmax(x, num_threads=nt), R.softmax(x), dtype)
        l, g = fx.softmax_cross_entropy(x, y, return_grad=True, num_threads=nt)
        lr, gr = R.softmax_cross_entropy(x, y, return_grad=True)
        assert l == pytest.approx(lr, rel=1e-6 if dtype == np.float32 else 1e-13)
        assert_close(g, gr, dtype)


def _targets(rng, shape, axis):
    C = shape[axis]
    idx_shape = tuple(np.delete(shape, axis % len(shape)))
    y = rng.integers(0, C, size=idx_shape)
    if y.size > 2:
        y.flat[1] = -100          # one ignored row
    t = rng.random(shape)
    t /= t.sum(axis=axis, keepdims=True)
    return y, t


CE_OPTIONS = [
    {},
    {"reduction": "sum"},
    {"reduction": "none"},
    {"weight": "w"},
    {"weight": "w", "reduction": "none"},
    {"base": 2},
    {"base": 10.0, "reduction": "sum"},
    {"ignore_index": 0},
    {"label_smoothing": 0.1, "weight": "w"},
    {"sample_weight": "sw"},
    {"z_loss": 1e-3, "label_smoothing": 0.2, "sample_weight": "sw", "weight": "w"},
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,axis", SHAPES)
@pytest.mark.parametrize("opts", CE_OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default")
def test_softmax_cross_entropy(isa, rng, dtype, shape, axis, opts):
    x = _data(rng, shape, dtype)
    y, t = _targets(rng, shape, axis)
    C = shape[axis]
    opts = dict(opts)
    if opts.get("weight") == "w":
        opts["weight"] = rng.random(C) + 0.1
    if opts.get("sample_weight") == "sw":
        opts["sample_weight"] = rng.random(y.shape)
    if "ignore_index" in opts:
        y = np.where(y == -100, opts["ignore_index"], y)
    for target in (y, t.astype(dtype)):
        if "ignore_index" in opts and target is not y:
            continue
        want_l, want_g = R.softmax_cross_entropy(x, target, axis=axis, return_grad=True, **opts)
        for name, xl in layouts(x):
            got_l, got_g = fx.softmax_cross_entropy(xl, target, axis=axis, return_grad=True, **opts)
            assert got_g.shape == x.shape and got_g.dtype == dtype
            if opts.get("reduction") == "none":
                assert got_l.dtype == dtype and got_l.shape == np.shape(want_l)
                assert_close(got_l, want_l, dtype)
            else:
                assert isinstance(got_l, float)
                assert got_l == pytest.approx(want_l, rel=1e-5 if dtype == np.float32 else 1e-12, abs=1e-30)
            assert_close(got_g, want_g, dtype)
            got_l2 = fx.softmax_cross_entropy(xl, target, axis=axis, **opts)
            # without the gradient the plain forward is its own pass (float32
            # rows of few classes: r = lse - x_y in float across rows), so the
            # two agree to rounding, not bitwise
            np.testing.assert_allclose(got_l2, got_l, rtol=2e-6 if dtype == np.float32 else 1e-13, atol=1e-30)


BCE_OPTIONS = [
    {},
    {"reduction": "sum"},
    {"reduction": "none"},
    {"pos_weight": "pw"},
    {"weight": "col"},
    {"weight": "row"},
    {"weight": "full", "reduction": "none"},
    {"base": 2},
    {"label_smoothing": 0.2, "reduction": "none"},
    {"gamma": 2.0, "alpha": 0.25},
    {"gamma": 0.5, "reduction": "none", "pos_weight": "pw", "weight": "row"},
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1,), (7,), (5, 3), (4, 3, 33), (1000,)])
@pytest.mark.parametrize("opts", BCE_OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default")
def test_sigmoid_bce(isa, rng, dtype, shape, opts):
    x = _data(rng, shape, dtype, 4.0)
    t = (rng.random(shape) < 0.4).astype(dtype)
    ts = rng.random(shape).astype(dtype)
    opts = dict(opts)
    L = shape[-1]
    if opts.get("pos_weight") == "pw":
        opts["pos_weight"] = rng.random(L) + 0.5
    w = opts.get("weight")
    if w == "col":
        opts["weight"] = rng.random(L)
    elif w == "row":
        opts["weight"] = rng.random(shape[:-1] + (1,))
    elif w == "full":
        opts["weight"] = rng.random(shape)
    for target in (t, ts):
        want_l, want_g = R.sigmoid_binary_cross_entropy(x, target, return_grad=True, **opts)
        for name, xl in layouts(x):
            got_l, got_g = fx.sigmoid_binary_cross_entropy(xl, target, return_grad=True, **opts)
            assert got_g.dtype == dtype and got_g.shape == x.shape
            if opts.get("reduction") == "none":
                assert_close(got_l, want_l, dtype)
            else:
                assert got_l == pytest.approx(want_l, rel=1e-5 if dtype == np.float32 else 1e-12)
            assert_close(got_g, want_g, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,axis", SHAPES)
def test_probability_losses(isa, rng, dtype, shape, axis):
    p = rng.random(shape)
    p /= p.sum(axis=axis, keepdims=True)
    q = R.softmax(_data(rng, shape, np.float64), axis=axis)
    p, q = p.astype(dtype), q.astype(dtype)
    for red in ("none", "mean", "sum"):
        got = fx.cross_entropy(p, q, axis=axis, reduction=red, base=2)
        want = R.cross_entropy(p, q, axis=axis, reduction=red, base=2)
        assert_close(got, want, dtype)
        t = (rng.random(shape) < 0.5).astype(dtype)
        assert_close(fx.binary_cross_entropy(q, t, reduction=red), R.binary_cross_entropy(q, t, reduction=red), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,axis", SHAPES)
def test_evaluate(isa, rng, dtype, shape, axis):
    x = _data(rng, shape, dtype)
    x = np.round(x)   # ties, to test the first-index rule
    y, _ = _targets(rng, shape, axis)
    sw = rng.random(y.shape)
    for kw in ({}, {"sample_weight": sw}):
        got = fx.evaluate(x, y, axis=axis, **kw)
        want = R.evaluate(x, y, axis=axis, **kw)
        assert got.count == want.count
        assert got.loss == pytest.approx(want.loss, rel=1e-5 if dtype == np.float32 else 1e-12)
        assert got.accuracy == pytest.approx(want.accuracy, rel=1e-12)
        assert np.array_equal(got.argmax, np.argmax(x, axis=axis))
        assert_close(got.lse, want.lse, dtype)
    # the extras of the same pass (top-k counts, Brier and entropy sums,
    # confidences) on this path
    got = fx.evaluate(x, y, axis=axis, sample_weight=sw, topk=(1, 2, 5), calibration_bins=7, per_class=True)
    want = R.evaluate(x, y, axis=axis, sample_weight=sw, topk=(1, 2, 5), calibration_bins=7, per_class=True)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert got.topk_accuracy == pytest.approx(want.topk_accuracy, rel=1e-12)
    assert got.brier == pytest.approx(want.brier, rel=rtol, abs=1e-12)
    assert got.entropy == pytest.approx(want.entropy, rel=rtol, abs=1e-12)
    np.testing.assert_allclose(got.per_class.correct, want.per_class.correct, rtol=1e-12)
    np.testing.assert_allclose(got.per_class.predicted, want.per_class.predicted, rtol=1e-12)
    # a confidence within rounding of a bin edge may fall either side: the totals
    assert got.calibration.weight.sum() == pytest.approx(want.calibration.weight.sum(), rel=1e-12)
    assert got.calibration.confidence_sum.sum() == pytest.approx(want.calibration.confidence_sum.sum(), rel=rtol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_evaluate_binary(isa, rng, dtype):
    # the binary pass and its per-block histograms on this path: a shape
    # that spans several blocks and a partial run, NaN and saturated logits
    x = (rng.standard_normal((131, 257)) * 5).astype(dtype)
    t = (rng.random(x.shape) < 0.4).astype(dtype)
    x[0, :3] = np.nan
    x[1, :4] = 100.0
    sw = rng.random(x.shape)
    for w in (None, sw):
        got = fx.evaluate_binary(x, t, sample_weight=w, calibration_bins=9)
        want = R.evaluate_binary(x, t, sample_weight=w, calibration_bins=9)
        assert got.accuracy == pytest.approx(want.accuracy, rel=1e-12)
        assert np.isnan(got.loss) and np.isnan(got.brier)
        assert got.calibration.weight.sum() == pytest.approx(want.calibration.weight.sum(), rel=1e-12)
        assert got.calibration.correct_sum.sum() == pytest.approx(want.calibration.correct_sum.sum(), rel=1e-12)
        ok = ~np.isnan(x)
        g2 = fx.evaluate_binary(x[ok], t[ok], sample_weight=None if w is None else w[ok])
        w2 = R.evaluate_binary(x[ok], t[ok], sample_weight=None if w is None else w[ok])
        rtol = 1e-5 if dtype == np.float32 else 1e-12
        assert g2.loss == pytest.approx(w2.loss, rel=rtol) and g2.brier == pytest.approx(w2.brier, rel=rtol)


def test_check_passes():
    rep = fx.check()
    assert rep.ok, str(rep)
    assert len(rep.rows) > 100


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_small_call_fast_path_equals_the_full_path(dtype):
    # calls with the default options and at most one reduction block take a
    # shortcut; num_threads=1 forces the general path: the numbers must be
    # bit for bit the same, and bad labels must still raise
    rng = np.random.default_rng(7)
    for N, C in [(1, 1), (64, 10), (3, 5461), (16384, 1), (100, 163)]:
        x = (rng.standard_normal((N, C)) * 5).astype(dtype)
        y = rng.integers(0, C, N)
        y[::3] = -100
        if N > 2:
            x[1, 0] = np.nan
        for red in ("mean", "sum"):
            for yy in (y, np.full(N, -100)):
                fast = fx.softmax_cross_entropy(x, yy, reduction=red)
                full = fx.softmax_cross_entropy(x, yy, reduction=red, num_threads=1)
                assert type(fast) is float
                np.testing.assert_array_equal(fast, full)
    x = np.zeros((4, 3), dtype)
    with pytest.raises(ValueError, match="out of range"):
        fx.softmax_cross_entropy(x, np.array([0, 1, 3, 0]))
    with pytest.raises(ValueError, match="shape"):
        fx.softmax_cross_entropy(x, np.array([0, 1, 2]))
    with pytest.raises(TypeError):
        fx.softmax_cross_entropy(x, np.array([0, 1, 2, 0]), label_smoothing=False)
    with pytest.raises(ValueError, match="int64"):
        fx.softmax_cross_entropy(x, np.array([0, 1, 2, 0]), ignore_index=2 ** 70)


def test_half_conversions_are_exact_on_every_path(isa):
    # every float16 bit pattern to float32 and back, and float32 values
    # around every float16 rounding boundary (ties, subnormals, overflow to
    # inf): the kernels' conversion must give NumPy's astype bits (NaN: a NaN)
    h = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    f = np.empty(h.size, np.float32)
    _testing.half_to_float(h, f, 4096, 2)
    want = h.view(np.float16).astype(np.float32)
    nan = np.isnan(want)
    np.testing.assert_array_equal(f.view(np.uint32)[~nan], want.view(np.uint32)[~nan])
    assert np.isnan(f[nan]).all()
    # midpoints between neighbouring halves, one float ulp either side, and random floats
    fin = want[np.isfinite(want)]
    fin = np.sort(fin[fin >= 0])
    mid = ((fin[:-1].astype(np.float64) + fin[1:]) / 2).astype(np.float32)
    rng = np.random.default_rng(3)
    vals = np.concatenate([mid, np.nextafter(mid, 0), np.nextafter(mid, np.inf), fin,
                           np.float32([65504, 65519.99, 65520, 1e6, np.inf, np.nan, 2.0 ** -25, 2.0 ** -26]),
                           rng.standard_normal(100_000).astype(np.float32) * 10.0 ** rng.integers(-9, 6, 100_000)])
    vals = np.concatenate([vals, -vals]).astype(np.float32)
    out = np.empty(vals.size, np.uint16)
    _testing.float_to_half(vals, out, 4096, 2)
    with np.errstate(over="ignore"):
        want16 = vals.astype(np.float16)
    nan = np.isnan(vals)
    np.testing.assert_array_equal(out[~nan], want16.view(np.uint16)[~nan])
    assert np.isnan(out.view(np.float16)[nan]).all()


def test_bfloat16_conversions_are_exact_on_every_path(isa):
    # every bfloat16 bit pattern to float32 and back, and float32 values
    # around every rounding boundary: ml_dtypes' astype bits (NaN: a NaN)
    ml_dtypes = pytest.importorskip("ml_dtypes")
    bf16 = ml_dtypes.bfloat16
    h = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    f = np.empty(h.size, np.float32)
    _testing.convert("b2f", h, f, 4096, 2)
    want = h.view(bf16).astype(np.float32)
    nan = np.isnan(want)
    np.testing.assert_array_equal(f.view(np.uint32)[~nan], want.view(np.uint32)[~nan])
    assert np.isnan(f[nan]).all()
    fin = np.sort(want[np.isfinite(want) & (want >= 0)])
    mid = ((fin[:-1].astype(np.float64) + fin[1:]) / 2).astype(np.float32)   # ties: round to even
    rng = np.random.default_rng(4)
    vals = np.concatenate([mid, np.nextafter(mid, 0), np.nextafter(mid, np.inf), fin,
                           np.float32([3.3895314e38, 3.4028235e38, np.inf, np.nan, 1e-45, 1e-40]),
                           rng.standard_normal(100_000).astype(np.float32) * 10.0 ** rng.integers(-40, 38, 100_000)])
    vals = np.concatenate([vals, -vals]).astype(np.float32)
    out = np.empty(vals.size, np.uint16)
    _testing.convert("f2b", vals, out, 4096, 2)
    want16 = vals.astype(bf16).view(np.uint16)
    nan = np.isnan(vals)
    np.testing.assert_array_equal(out[~nan], want16[~nan])
    assert np.isnan(out.view(bf16)[nan].astype(np.float32)).all()


@pytest.mark.parametrize("C", [2, 3, 5, 6, 10, 17, 64, 100])
@pytest.mark.parametrize("dtype", DTYPES)
def test_plain_forward_across_rows(isa, rng, C, dtype):
    """The plain forward loss (no smoothing, z-loss or gradient) is its own
    pass -- across rows for few classes on the AVX paths, labels checked on
    the way: ragged groups, several blocks and both thread counts, masked
    classes, sums small enough for the exact path, ignored rows (also an
    ignore_index inside [0, C)), weights; special rows per row."""
    N = 2 * (40000 // C) + 37
    x = _data(rng, (N, C), dtype)
    y = rng.integers(0, C, N)
    y[3::97] = -100
    x[20] = 0
    x[20, y[20]] = 90                  # s = (C-1) e^-90: subnormal terms, redone exactly
    x[21, (y[21] + 1) % C] = -np.inf   # a masked class
    w = rng.random(C) + 0.1
    sw = rng.random(N)
    for opts in ({}, {"reduction": "sum"}, {"reduction": "none"}, {"weight": w}, {"sample_weight": sw},
                 {"weight": w, "sample_weight": sw, "reduction": "none"}, {"base": 2.0}):
        want = R.softmax_cross_entropy(x, y, **opts)
        for nt in (1, 2):
            got = fx.softmax_cross_entropy(x, y, num_threads=nt, **opts)
            if opts.get("reduction") == "none":
                assert_close(got, want, dtype)
                assert got[20] > 0 and got[20] == pytest.approx((C - 1) * np.exp(-90.0), rel=1e-4)
            else:
                assert got == pytest.approx(want, rel=2e-6 if dtype == np.float32 else 1e-12)
    y0 = np.where(y == -100, 0, y)     # ignore_index=0: class 0's rows are skipped
    assert fx.softmax_cross_entropy(x, y0, ignore_index=0) == pytest.approx(
        R.softmax_cross_entropy(x, y0, ignore_index=0), rel=2e-6 if dtype == np.float32 else 1e-12)
    # special rows, each its own: NaN -> NaN, +inf -> NaN, all -inf -> NaN,
    # the label's logit -inf -> +inf, only the label finite -> 0
    s = _data(rng, (8, C), dtype)
    ys = rng.integers(0, C, 8)
    s[0, 0] = np.nan
    s[1, -1] = np.inf
    s[2] = -np.inf
    s[3, ys[3]] = -np.inf
    s[4] = -np.inf
    s[4, ys[4]] = 1.0
    got = fx.softmax_cross_entropy(np.tile(s, (9000 // C + 1, 1)), np.tile(ys, 9000 // C + 1), reduction="none")
    want = R.softmax_cross_entropy(s, ys, reduction="none")
    for r in range(8):
        np.testing.assert_array_equal(np.isnan(got[r::8]), np.isnan(want[r]))
        if not np.isnan(want[r]):
            assert_close(got[r::8], np.full(len(got[r::8]), want[r]), dtype)
    if C > 2:
        assert np.isinf(want[3]) and want[4] == 0


@pytest.mark.parametrize("C", [2, 10, 300])
def test_labels_checked_in_the_pass(isa, rng, C):
    """Without a caller's array to write, the kernels check the label range
    (no separate pass): a bad label is still named, whatever the logits."""
    N = 70000 // C + 50
    x = rng.standard_normal((N, C)).astype(np.float32)
    y = rng.integers(0, C, N)
    pos = N - 17
    for bad in (C, -5, 1 << 40):
        y2 = y.copy()
        y2[pos] = bad
        for opts in ({}, {"reduction": "sum"}, {"reduction": "none"}, {"weight": np.ones(C)}):
            with pytest.raises(ValueError, match=rf"value {bad} at index {pos} is out of range"):
                fx.softmax_cross_entropy(x, y2, **opts)
        with pytest.raises(ValueError, match=rf"value {bad} at index {pos}"):
            fx.softmax_cross_entropy(x, y2, return_grad=True)
        xn = x.copy()
        xn[::7] = np.nan                  # NaN blocks do not hide the bad label, nor fake one
        with pytest.raises(ValueError, match=rf"value {bad} at index {pos}"):
            fx.softmax_cross_entropy(xn, y2)
        g = np.full_like(x, 7.0)
        with pytest.raises(ValueError, match=rf"value {bad} at index {pos}"):
            fx.softmax_cross_entropy(x, y2, return_grad=True, grad_out=g)
        assert (g == 7.0).all()           # nothing written
    assert np.isnan(fx.softmax_cross_entropy(xn, y))           # a NaN of the data is no error
    y3 = y.copy()
    y3[pos] = -100                        # ignored, not bad
    assert np.isfinite(fx.softmax_cross_entropy(x, y3))
    with pytest.raises(ValueError, match=rf"value -100 at index {pos}"):
        fx.softmax_cross_entropy(x, y3, ignore_index=0)
