"""Semantics of the contract: peers (PyTorch, scikit-learn), closed forms,
finite-difference gradients, tiny losses, IEEE cases, threads, aliasing."""
import itertools
import math

import numpy as np
import pytest

import fusedxent as fx
from fusedxent import reference as R

from helpers import assert_close


# ------------------------------------------------------------------ PyTorch parity

@pytest.mark.parametrize("weighted,ignore,smoothing,reduction,soft",
                         list(itertools.product([False, True], [False, True], [0.0, 0.2],
                                                ["mean", "sum", "none"], [False, True])))
def test_cross_entropy_matches_torch(rng, weighted, ignore, smoothing, reduction, soft):
    torch = pytest.importorskip("torch")
    if soft and ignore:
        pytest.skip("ignore_index applies to class indices only")
    N, C = 23, 7
    x = rng.standard_normal((N, C)) * 3
    y = rng.integers(0, C, N)
    if ignore:
        y[::4] = -100
    t = rng.random((N, C))
    t /= t.sum(1, keepdims=True)
    w = rng.random(C) + 0.2 if weighted else None
    target = t if soft else y
    xt = torch.tensor(x, requires_grad=True)
    tt = torch.tensor(target)
    lt = torch.nn.functional.cross_entropy(xt, tt, weight=None if w is None else torch.tensor(w),
                                           reduction=reduction, label_smoothing=smoothing)
    lt.sum().backward()
    for mod in (fx, R):
        l, g = mod.softmax_cross_entropy(x, target, weight=w, label_smoothing=smoothing,
                                         reduction=reduction, return_grad=True)
        np.testing.assert_allclose(l, lt.detach().numpy(), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-11, atol=1e-15)


@pytest.mark.parametrize("pos_weight,weight,reduction",
                         list(itertools.product([False, True], [False, True], ["mean", "sum", "none"])))
def test_bce_matches_torch(rng, pos_weight, weight, reduction):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((9, 5)) * 4
    t = rng.random((9, 5))
    pw = rng.random(5) + 0.5 if pos_weight else None
    w = rng.random((9, 1)) if weight else None
    xt = torch.tensor(x, requires_grad=True)
    lt = torch.nn.functional.binary_cross_entropy_with_logits(
        xt, torch.tensor(t), weight=None if w is None else torch.tensor(w),
        pos_weight=None if pw is None else torch.tensor(pw), reduction=reduction)
    lt.sum().backward()
    l, g = fx.sigmoid_binary_cross_entropy(x, t, weight=w, pos_weight=pw, reduction=reduction,
                                           return_grad=True)
    np.testing.assert_allclose(l, lt.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-11, atol=1e-16)


def test_normalizers_match_torch_and_scipy(rng):
    torch = pytest.importorskip("torch")
    scipy_special = pytest.importorskip("scipy.special")
    x = rng.standard_normal((6, 4, 11)) * 5
    for axis in (0, 1, 2):
        xt = torch.tensor(x)
        np.testing.assert_allclose(fx.softmax(x, axis=axis), torch.softmax(xt, axis).numpy(), rtol=1e-13)
        # torch forms x - lse and loses the low digits of log-probabilities near 0
        np.testing.assert_allclose(fx.log_softmax(x, axis=axis), torch.log_softmax(xt, axis).numpy(), rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(fx.logsumexp(x, axis=axis), scipy_special.logsumexp(x, axis=axis), rtol=1e-14)
    np.testing.assert_allclose(fx.sigmoid(x), scipy_special.expit(x), rtol=1e-14)
    np.testing.assert_allclose(fx.log_sigmoid(x), scipy_special.log_expit(x), rtol=1e-14)


def test_log_loss_matches_sklearn(rng):
    metrics = pytest.importorskip("sklearn.metrics")
    N, C = 50, 4
    q = R.softmax(rng.standard_normal((N, C)) * 4)
    y = rng.integers(0, C, N)
    onehot = np.eye(C)[y]
    for dt in (np.float64, np.float32):
        qq = q.astype(dt)
        want = metrics.log_loss(y, qq, labels=np.arange(C))
        assert fx.cross_entropy(onehot.astype(dt), qq) == pytest.approx(want, rel=1e-6)
    pb = R.sigmoid(rng.standard_normal(40) * 5)
    pb[:3] = [0.0, 1.0, 1e-20]   # clipped at eps
    tb = rng.integers(0, 2, 40)
    assert fx.binary_cross_entropy(pb, tb) == pytest.approx(metrics.log_loss(tb, pb), rel=1e-12)


# ------------------------------------------------------------------ gradients by finite differences

def _fd(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        g[i] = (f(xp) - f(xm)) / (2 * h)
    return g


@pytest.mark.parametrize("opts", [{}, {"reduction": "sum"}, {"reduction": "none"}, {"weight": True},
                                  {"base": 2}, {"soft": True}, {"soft": True, "weight": True},
                                  {"label_smoothing": 0.3, "weight": True}, {"z_loss": 0.05},
                                  {"sample_weight": True, "weight": True},
                                  {"soft": True, "z_loss": 0.1, "label_smoothing": 0.2, "sample_weight": True}])
def test_ce_gradient_finite_differences(rng, opts):
    opts = dict(opts)
    x = rng.standard_normal((4, 5))
    target = rng.integers(0, 5, 4)
    if opts.pop("soft", False):
        target = rng.random((4, 5))
    if opts.pop("weight", False):
        opts["weight"] = rng.random(5) + 0.5
    if opts.pop("sample_weight", False):
        opts["sample_weight"] = rng.random(4)
    f = lambda z: np.sum(fx.softmax_cross_entropy(z, target, **opts))
    _, g = fx.softmax_cross_entropy(x, target, return_grad=True, **opts)
    np.testing.assert_allclose(g, _fd(f, x), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("opts", [{}, {"reduction": "sum"}, {"pos_weight": True}, {"weight": True},
                                  {"label_smoothing": 0.2}, {"gamma": 2.0, "alpha": 0.25},
                                  {"gamma": 0.5}])
def test_bce_gradient_finite_differences(rng, opts):
    opts = dict(opts)
    x = rng.standard_normal((3, 4)) * 2
    t = rng.random((3, 4))
    if opts.pop("pos_weight", False):
        opts["pos_weight"] = rng.random(4) + 0.5
    if opts.pop("weight", False):
        opts["weight"] = rng.random((3, 4))
    f = lambda z: np.sum(fx.sigmoid_binary_cross_entropy(z, t, **opts))
    _, g = fx.sigmoid_binary_cross_entropy(x, t, return_grad=True, **opts)
    np.testing.assert_allclose(g, _fd(f, x), rtol=1e-6, atol=1e-8)


# ------------------------------------------------------------------ accuracy of tiny losses

@pytest.mark.parametrize("gap", [10.0, 30.0, 50.0, 69.0])
def test_tiny_losses_keep_relative_accuracy(gap):
    # row [gap, 0, 0, 0], label 0: loss = log1p(3 e^-gap), dL/dx0 = -3e^-gap/(1+3e^-gap)
    exact = math.log1p(3 * math.exp(-gap))
    x = np.array([[gap, 0.0, 0.0, 0.0]])
    for dt, rtol in ((np.float32, 1e-5), (np.float64, 1e-13)):
        l, g = fx.softmax_cross_entropy(x.astype(dt), np.array([0]), reduction="none", return_grad=True)
        assert l[0] == pytest.approx(exact, rel=rtol)
        s = 3 * math.exp(-gap)
        assert g[0, 0] == pytest.approx(-s / (1 + s), rel=rtol)
        lr = R.softmax_cross_entropy(x.astype(dt), np.array([0]), reduction="none")
        assert lr[0] == pytest.approx(exact, rel=rtol)
        # what the textbook formula gives: 0 (a 100% relative error) from gap ~17 (float32) on
        naive = np.log(np.exp(x.astype(dt)).sum()) - x.astype(dt)[0, 0]
        if dt == np.float32 and gap >= 30:
            assert naive == 0.0
    lb = fx.sigmoid_binary_cross_entropy(np.array([40.0], np.float32), np.array([1.0], np.float32),
                                         reduction="none")
    assert lb[0] == pytest.approx(math.log1p(math.exp(-40)), rel=1e-5)


# ------------------------------------------------------------------ IEEE cases

def test_ieee_rows():
    x = np.array([[0.0, 1.0, np.nan],
                  [0.0, -np.inf, 2.0],
                  [-np.inf, -np.inf, -np.inf],
                  [np.inf, 1.0, 0.0],
                  [1e4, -1e4, 0.0]])
    y = np.array([0, 1, 0, 1, 0])
    for mod in (fx, R):
        lse = mod.logsumexp(x)
        assert np.isnan(lse[0]) and lse[2] == -np.inf and lse[3] == np.inf and lse[4] == 1e4
        p = mod.softmax(x)
        assert np.isnan(p[0]).all() and np.isnan(p[2]).all() and np.isnan(p[3]).all()
        assert p[1, 1] == 0.0 and p[4, 0] == 1.0
        l = mod.softmax_cross_entropy(x, y, reduction="none")
        assert np.isnan(l[0]) and l[1] == np.inf and np.isnan(l[2]) and np.isnan(l[3]) and l[4] == 0.0
        _, g = mod.softmax_cross_entropy(x, y, reduction="none", return_grad=True)
        assert np.isnan(g[0]).all() and np.isfinite(g[1]).all() and g[1, 1] == -1.0
    b = fx.sigmoid_binary_cross_entropy(np.array([np.inf, np.inf, -np.inf, -np.inf, 1e308]),
                                        np.array([1.0, 0.0, 0.0, 1.0, 1.0]), reduction="none")
    assert list(b) == [0.0, np.inf, 0.0, np.inf, 0.0]
    f32 = fx.softmax_cross_entropy(np.array([[3e38, -3e38]], np.float32), np.array([1]), reduction="none")
    assert f32[0] == np.float32(6e38) or np.isinf(f32[0])   # 6e38 overflows float32: inf
    f64 = fx.softmax_cross_entropy(np.array([[1e308, -1e308]]), np.array([0]), reduction="none")
    assert f64[0] == 0.0


def test_all_ignored_and_empty():
    x = np.random.default_rng(0).standard_normal((4, 3))
    y = np.full(4, -100)
    for mod in (fx, R):
        l, g = mod.softmax_cross_entropy(x, y, return_grad=True)
        assert l == 0.0 and not g.any()
        assert mod.softmax_cross_entropy(x, y, reduction="sum") == 0.0
        assert not mod.softmax_cross_entropy(x, y, reduction="none").any()
        l, g = mod.softmax_cross_entropy(np.zeros((0, 3)), np.zeros(0, int), return_grad=True)
        assert l == 0.0 and g.shape == (0, 3)
        assert mod.sigmoid_binary_cross_entropy(np.zeros(0), np.zeros(0)) == 0.0


# ------------------------------------------------------------------ threads, aliasing, out=

def test_results_do_not_depend_on_thread_count(rng):
    x = rng.standard_normal((3000, 37)).astype(np.float32)
    y = rng.integers(0, 37, 3000)
    t = (rng.random(x.shape) < 0.5).astype(np.float32)
    base = None
    for nt in (1, 2, 3, 4):
        r = (fx.softmax_cross_entropy(x, y, num_threads=nt),
             fx.softmax_cross_entropy(x, y, return_grad=True, num_threads=nt)[1],
             fx.sigmoid_binary_cross_entropy(x, t, num_threads=nt),
             fx.evaluate(x, y, num_threads=nt).loss, fx.softmax(x, num_threads=nt))
        if base is None:
            base = r
        else:
            assert r[0] == base[0] and r[2] == base[2] and r[3] == base[3]
            assert np.array_equal(r[1], base[1]) and np.array_equal(r[4], base[4])


def test_grad_out_in_place(rng):
    x = rng.standard_normal((50, 9))
    y = rng.integers(0, 9, 50)
    want_l, want_g = fx.softmax_cross_entropy(x, y, return_grad=True)
    buf = x.copy()
    l, g = fx.softmax_cross_entropy(buf, y, return_grad=True, grad_out=buf)
    assert g is buf and np.shares_memory(g, buf)
    assert l == want_l and np.array_equal(g, want_g)
    go = np.empty_like(x)
    _, g2 = fx.softmax_cross_entropy(x, y, return_grad=True, grad_out=go)
    assert g2 is go and np.array_equal(go, want_g)
    # Fortran-order grad_out and axis=0 go through a temporary but land in place
    gf = np.asfortranarray(np.empty_like(x.T))
    _, g3 = fx.softmax_cross_entropy(x.T, y, axis=0, return_grad=True, grad_out=gf)
    assert g3 is gf and np.allclose(gf, want_g.T, rtol=1e-14)
    t = rng.random(x.shape)
    want_b = fx.sigmoid_binary_cross_entropy(x, t, return_grad=True)[1]
    xb = x.copy()
    _, gb = fx.sigmoid_binary_cross_entropy(xb, t, return_grad=True, grad_out=xb)
    assert gb is xb and np.array_equal(xb, want_b)


@pytest.mark.parametrize("C", [9, 65, 100, 1000, 8193])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_in_place_equals_not_in_place(isa, rng, C, dtype):
    """softmax(x, out=x), log_softmax(x, out=x) and grad_out=logits give
    bitwise what the call with a separate output gives, on every path and
    class count (rows of more than 64 classes write their exps, or x - m,
    to the output and finish them there; in place they go through scratch
    first), special rows included."""
    x = (rng.standard_normal((40, C)) * 4).astype(dtype)
    x[1, 3] = np.nan
    x[2, :] = -np.inf
    x[3, 0] = np.inf
    x[4, :] = 0.0
    x[4, 5] = 120.0 if dtype == np.float32 else 800.0        # a tiny sum, redone
    y = rng.integers(0, C, 40)
    y[4] = 5
    y[7] = -100
    w = rng.random(C) + 0.5
    t = rng.random((40, C)).astype(dtype)
    t /= t.sum(axis=1, keepdims=True)
    cases = [(y, {}), (y, {"weight": w}), (y, {"label_smoothing": 0.1, "z_loss": 1e-3}), (y, {"reduction": "none"}),
             (t, {}), (t, {"weight": w, "label_smoothing": 0.2, "reduction": "none"})]
    for target, opts in cases:
        want_l, want_g = fx.softmax_cross_entropy(x, target, return_grad=True, grad_out=np.empty_like(x), **opts)
        buf = x.copy()
        l, g = fx.softmax_cross_entropy(buf, target, return_grad=True, grad_out=buf, **opts)
        assert g is buf
        np.testing.assert_array_equal(l, want_l)
        np.testing.assert_array_equal(g, want_g)
    for fn in (fx.softmax, fx.log_softmax):
        want = fn(x)
        buf = x.copy()
        assert fn(buf, out=buf) is buf
        np.testing.assert_array_equal(buf, want)
        np.testing.assert_array_equal(np.isnan(want).all(axis=1)[:4], [False, True, True, True])


@pytest.mark.parametrize("fn", ["softmax", "log_softmax", "sigmoid", "log_sigmoid"])
def test_out_argument(rng, fn):
    x = rng.standard_normal((20, 8)).astype(np.float32)
    want = getattr(fx, fn)(x)
    out = np.empty_like(x)
    assert getattr(fx, fn)(x, out=out) is out and np.array_equal(out, want)
    inplace = x.copy()
    assert getattr(fx, fn)(inplace, out=inplace) is inplace and np.array_equal(inplace, want)
    fo = np.asfortranarray(np.empty_like(x))
    assert getattr(fx, fn)(x, out=fo) is fo and np.array_equal(fo, want)


def test_float16_and_integer_inputs(rng):
    x = rng.standard_normal((300, 2000)).astype(np.float16)   # > one float16 chunk
    y = rng.integers(0, 2000, 300)
    assert fx.softmax(x).dtype == np.float16
    assert_close(fx.softmax(x), R.softmax(x), np.float16)
    l = fx.softmax_cross_entropy(x, y)
    assert l == pytest.approx(R.softmax_cross_entropy(x.astype(np.float32), y), rel=1e-5)
    l16, g16 = fx.softmax_cross_entropy(x, y, return_grad=True)
    assert g16.dtype == np.float16
    ev = fx.evaluate(x, y)
    assert np.array_equal(ev.argmax, np.argmax(x, 1))
    xi = np.array([[1, 2, 3]])
    assert fx.softmax(xi).dtype == np.float64
    np.testing.assert_allclose(fx.softmax(xi), R.softmax(xi.astype(float)), rtol=1e-15)


def test_isa_forced_paths_agree(rng):
    from fusedxent import _kernels
    x = rng.standard_normal((100, 333)).astype(np.float32)
    y = rng.integers(0, 333, 100)
    before = _kernels.isa_current()
    res = {}
    try:
        for isa in _kernels.isa_supported():
            fx.set_isa(isa)
            res[isa] = fx.softmax_cross_entropy(x, y, reduction="none")
    finally:
        fx.set_isa(before)
    for v in res.values():
        assert_close(v, res["baseline"], np.float32)
    with pytest.raises(ValueError, match="unknown instruction set"):
        fx.set_isa("sse9")


@pytest.mark.parametrize("gamma,alpha", [(2.0, 0.25), (0.5, None), (0.0, 0.7), (3.0, 1.0)])
def test_focal_loss_matches_torchvision_formula(rng, gamma, alpha):
    # torchvision.ops.sigmoid_focal_loss, written out in float64
    x = rng.standard_normal((7, 5)) * 3
    t = rng.random((7, 5))
    p = 1 / (1 + np.exp(-x))
    ce = np.logaddexp(0, x) - x * t
    p_t = p * t + (1 - p) * (1 - t)
    want = ce * (1 - p_t) ** gamma
    if alpha is not None:
        want = want * (alpha * t + (1 - alpha) * (1 - t))
    got = fx.sigmoid_binary_cross_entropy(x, t, gamma=gamma, alpha=alpha, reduction="none")
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-300)


@pytest.mark.parametrize("C", [5, 8192, 8193, 30000])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_long_rows_single_pass(C, dtype):
    """Rows longer than a cache chunk are read once with a running maximum;
    the same answers as the reference, IEEE rows and tiny losses included."""
    rng = np.random.default_rng(C)
    x = (rng.standard_normal((7, C)) * 3).astype(dtype)
    x[1, 20000 % C] += 80                     # a confident row whose max sits in a late chunk
    x[2, :] = -np.inf
    x[2, C - 1] = 0
    x[3, 3] = np.nan
    x[4, 4000 % C] = np.inf
    x[5, :] = -np.inf
    x[5, C // 2] = np.nan
    x[6, :] = np.round(x[6, :])               # ties across chunks
    y = np.array([0, 20000 % C, C - 1, 1, 2, 0, 1])
    l, g = fx.softmax_cross_entropy(x, y, reduction="none", return_grad=True)
    lr, gr = R.softmax_cross_entropy(x, y, reduction="none", return_grad=True)
    assert_close(l, lr, dtype)
    assert_close(g, gr, dtype)
    assert_close(fx.logsumexp(x), R.logsumexp(x), dtype)
    assert np.array_equal(fx.evaluate(x, y).argmax, np.argmax(x, axis=1))


@pytest.mark.parametrize("C", [50, 10000, 20000])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tiny_loss_made_of_subnormal_terms(C, dtype):
    # loss 1e-30 = log1p((C-1) e^d): for C = 10^4 each term is ~1e-34, below
    # FLT_MIN; the fast sum flushes such terms, so the kernel redoes the row
    x = np.zeros((2, C), dtype)
    x[:, 1:] = -(np.log(C - 1) + np.log(1e30))
    exact = math.log1p((C - 1) * math.exp(float(x[0, 1])))
    l = fx.softmax_cross_entropy(x, np.array([0, 0]), reduction="none")
    np.testing.assert_allclose(l, exact, rtol=1e-5 if dtype == np.float32 else 1e-13)


@pytest.mark.parametrize("C", [2, 10, 32, 64])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_small_class_rows_with_flushed_terms(C, dtype):
    # rows of <= 64 classes take the across-rows path, whose fast exp flushes
    # terms below the normal range; confident rows whose whole sum is that
    # small must come back exact (float32: e^-100 ~ 3.7e-44 is subnormal)
    gaps = np.array([20.0, 80.0, 90.0, 100.0, 103.0, 110.0, 700.0, 740.0] * 20)
    x = np.zeros((gaps.size, C), dtype)
    x[:, 0] = gaps
    y = np.zeros(gaps.size, np.int64)
    exact = np.array([math.log1p((C - 1) * math.exp(-g)) for g in gaps])
    l = fx.softmax_cross_entropy(x, y, reduction="none").astype(np.float64)
    # each subnormal term is rounded to a multiple of the smallest subnormal
    tiny = C * float(np.finfo(dtype).smallest_subnormal)
    np.testing.assert_allclose(l, exact.astype(dtype), rtol=1e-5 if dtype == np.float32 else 1e-13, atol=tiny)
    assert (l[exact.astype(dtype) > 0] > 0).all()


# ------------------------------------------------------------------ zero-length class axis (SciPy's rule)

@pytest.mark.parametrize("mod", [fx, R], ids=["fusedxent", "reference"])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_empty_class_axis_normalizers(mod, dtype):
    # log of an empty sum is -inf (scipy.special.logsumexp); softmax of no
    # classes is an empty array of the input's shape
    assert mod.logsumexp(np.array([], dtype)) == -np.inf
    for shape, axis in (((0,), -1), ((3, 0), -1), ((3, 0), 1), ((0, 4), 0), ((2, 0, 5), 1), ((0, 0), 0)):
        x = np.zeros(shape, dtype)
        lse = mod.logsumexp(x, axis=axis)
        want_shape = tuple(s for i, s in enumerate(shape) if i != axis % len(shape))
        assert lse.shape == want_shape and lse.dtype == dtype and (lse == -np.inf).all()
        for fn in ("softmax", "log_softmax"):
            r = getattr(mod, fn)(x, axis=axis)
            assert r.shape == shape and r.dtype == dtype
            out = np.empty(shape, dtype)
            assert getattr(mod, fn)(x, axis=axis, out=out) is out


def test_empty_class_axis_matches_scipy():
    scipy_special = pytest.importorskip("scipy.special")
    for x in (np.array([]), np.zeros((3, 0)), np.zeros((3, 0), np.float32)):
        np.testing.assert_array_equal(fx.logsumexp(x), scipy_special.logsumexp(x, axis=-1))


@pytest.mark.parametrize("mod", [fx, R], ids=["fusedxent", "reference"])
def test_losses_with_zero_classes_raise(mod):
    x = np.zeros((3, 0))
    with pytest.raises(ValueError, match="zero classes"):
        mod.softmax_cross_entropy(x, np.zeros(3, int))
    with pytest.raises(ValueError, match="zero classes"):
        mod.softmax_cross_entropy(x, np.zeros((3, 0)))
    with pytest.raises(ValueError, match="zero classes"):
        mod.evaluate(x, np.zeros(3, int))


# ------------------------------------------------------------------ eps="auto" follows the probabilities' dtype

@pytest.mark.parametrize("mod", [fx, R], ids=["fusedxent", "reference"])
def test_auto_eps_follows_q_dtype(mod):
    q32 = np.array([[1, 0, 0, 0, 0, 0]], np.float32)
    p = np.eye(6)[[3]]                       # float64 targets
    want = -math.log(float(np.finfo(np.float32).eps))   # 15.94: clipped at float32's eps
    assert mod.cross_entropy(p, q32) == pytest.approx(want, rel=1e-6)
    assert mod.cross_entropy(p.astype(np.float16), q32) == pytest.approx(want, rel=1e-6)
    # float64 q with float32 p: float64's eps
    assert mod.cross_entropy(p.astype(np.float32), q32.astype(np.float64)) == pytest.approx(
        -math.log(float(np.finfo(np.float64).eps)), rel=1e-12)
    # integer q: float64's eps
    assert mod.cross_entropy(p, q32.astype(np.int64)) == pytest.approx(
        -math.log(float(np.finfo(np.float64).eps)), rel=1e-12)
    # binary: prob's dtype, whatever the target's
    pb = np.array([0.0, 1.0], np.float32)
    tb = np.array([1.0, 0.0])
    assert mod.binary_cross_entropy(pb, tb) == pytest.approx(want, rel=1e-6)
    assert mod.binary_cross_entropy(pb.astype(np.float64), tb.astype(np.float32)) == pytest.approx(
        -math.log(float(np.finfo(np.float64).eps)), rel=1e-9)


def test_auto_eps_matches_sklearn_log_loss():
    metrics = pytest.importorskip("sklearn.metrics")
    q = np.array([[1, 0, 0, 0, 0, 0], [0.2, 0.2, 0.2, 0.2, 0.2, 0.0]], np.float32)
    y = np.array([3, 5])
    for p in (np.eye(6)[y], np.eye(6, dtype=np.float32)[y]):
        assert fx.cross_entropy(p, q) == pytest.approx(metrics.log_loss(y, q, labels=range(6)), rel=1e-6)
