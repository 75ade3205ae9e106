"""Logit soft-capping, temperature and the softmax focal loss (issue 26):
each against PyTorch autograd in float64 (the loss written as the formula,
the gradient from autograd, not from the closed form the kernels use), on
every path the kernels take -- the small-class tiles (2..64 classes), the
row kernels (65 and more), many reduction blocks, 16-bit inputs, a class
axis that is not last, ignored rows, class and sample weights,
probability targets, every reduction, grad_out and in-place gradients --
and combined with the options that were there before; plus the options
value itself (validated once, immutable, hashable)."""
import numpy as np
import pytest

import fusedxent as fx
from fusedxent import reference as R
from fusedxent._options import LogitTransform, XentOptions, xent_options

torch = pytest.importorskip("torch")


def torch_loss(x, target, *, axis=-1, weight=None, sample_weight=None, ignore_index=-100, label_smoothing=0.0,
               reduction="mean", z_loss=0.0, softcap=None, temperature=1.0, gamma=0.0, alpha=None):
    """The definition in float64 torch, autograd for the gradient."""
    x = np.asarray(x, np.float64)
    xt = torch.tensor(np.moveaxis(x, axis, -1).copy(), requires_grad=True)
    C = xt.shape[-1]
    z = xt / temperature
    if softcap is not None:
        z = softcap * torch.tanh(z / softcap)
    z2 = z.reshape(-1, C)
    lp = torch.log_softmax(z2, -1)
    lse = torch.logsumexp(z2, -1)
    p = lp.exp()
    w = torch.ones(C, dtype=torch.float64) if weight is None else torch.tensor(np.asarray(weight, np.float64))
    a = torch.ones(C, dtype=torch.float64) if alpha is None else \
        torch.tensor(np.broadcast_to(np.asarray(alpha, np.float64), (C,)).copy())
    N = z2.shape[0]
    sw = torch.ones(N, dtype=torch.float64) if sample_weight is None else \
        torch.tensor(np.asarray(sample_weight, np.float64).reshape(-1))
    t = np.asarray(target)
    if t.dtype.kind in "iu":
        y = torch.tensor(t.reshape(-1).astype(np.int64))
        keep = y != ignore_index
        yy = torch.where(keep, y, torch.zeros_like(y))
        tt = (1 - label_smoothing) * torch.nn.functional.one_hot(yy, C).double() + label_smoothing / C
        denom = (sw * w[yy] * keep).sum()
    else:
        tt = torch.tensor(np.moveaxis(t.astype(np.float64), axis, -1).reshape(-1, C))
        tt = (1 - label_smoothing) * tt + label_smoothing / C
        keep = torch.ones(N, dtype=torch.bool)
        denom = sw.sum()
    terms = -(w * a)[None, :] * tt * (1 - p) ** gamma * lp
    rows = terms.sum(-1) + z_loss * lse ** 2
    rows = torch.where(keep, sw * rows, torch.zeros_like(rows))
    if reduction == "none":
        loss = rows
        rows.sum().backward()      # the per-row losses' sum: what return_grad's gradient is of
    else:
        loss = rows.sum() / (denom if reduction == "mean" else 1.0)
        loss.backward()
    g = np.moveaxis(xt.grad.numpy(), -1, axis)
    out = loss.detach().numpy()
    if reduction == "none":
        out = np.moveaxis(out.reshape(np.moveaxis(x, axis, -1).shape[:-1]), -1, -1) if x.ndim > 1 else out
    return out, g


def close(got, want, dtype, what):
    tol = {np.float64: 1e-10, np.float32: 3e-5}[np.dtype(dtype).type] if np.dtype(dtype).itemsize >= 4 else 3e-2
    got = np.asarray(got, np.float64)
    want = np.asarray(want, np.float64)
    scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale * 1e-2 if dtype == np.float64 else tol * scale,
                               err_msg=what)


SHAPES = [(37, 2), (300, 7), (70, 64), (129, 65), (700, 100)]   # small-class tiles, row kernels, many blocks
OPTS = [dict(softcap=3.0), dict(temperature=0.6), dict(softcap=2.0, temperature=1.7),
        dict(gamma=2.0), dict(gamma=0.5, alpha=0.25), dict(gamma=1.5, alpha="vector"),
        dict(gamma=2.0, softcap=4.0, temperature=2.0, alpha="vector")]


def _data(N, C, seed, scale=3.0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((N, C)) * scale).astype(dtype)
    y = rng.integers(0, C, N)
    return rng, x, y


def _opts(o, C, rng):
    o = dict(o)
    if isinstance(o.get("alpha"), str):
        o["alpha"] = rng.uniform(0.1, 1.0, C)
    return o


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("k", range(len(OPTS)))
def test_index_targets_match_torch(shape, k):
    N, C = shape
    rng, x, y = _data(N, C, 7 * k + C)
    o = _opts(OPTS[k], C, rng)
    loss, g = fx.softmax_cross_entropy(x, y, return_grad=True, **o)
    lt, gt = torch_loss(x, y, **o)
    close(loss, lt, np.float64, f"loss {o}")
    close(g, gt, np.float64, f"grad {o}")
    np.testing.assert_allclose(fx.softmax_cross_entropy(x, y, **o), loss, rtol=1e-14)   # with and without the gradient
    lr, gr = R.softmax_cross_entropy(x, y, return_grad=True, **o)
    close(lr, lt, np.float64, "reference loss")
    close(gr, gt, np.float64, "reference grad")


@pytest.mark.parametrize("shape", [(50, 3), (90, 130)])
@pytest.mark.parametrize("k", range(len(OPTS)))
@pytest.mark.parametrize("combo", ["weights", "smoothing", "zloss_ignore", "none", "sum"])
def test_combined_with_every_option(shape, k, combo):
    N, C = shape
    rng, x, y = _data(N, C, 3 * k + C)
    o = _opts(OPTS[k], C, rng)
    if combo == "weights":
        o.update(weight=rng.uniform(0.2, 2.0, C), sample_weight=rng.uniform(0, 2, N))
    elif combo == "smoothing":
        o.update(label_smoothing=0.15, weight=rng.uniform(0.2, 2.0, C))
    elif combo == "zloss_ignore":
        y[::5] = -7
        o.update(z_loss=1e-2, ignore_index=-7, sample_weight=rng.uniform(0, 2, N))
    else:
        o.update(reduction=combo)
    loss, g = fx.softmax_cross_entropy(x, y, return_grad=True, **o)
    lt, gt = torch_loss(x, y, **o)
    close(loss, lt, np.float64, f"loss {combo} {o}")
    close(g, gt, np.float64, f"grad {combo} {o}")
    lr, gr = R.softmax_cross_entropy(x, y, return_grad=True, **o)
    close(lr, lt, np.float64, "reference loss")
    close(gr, gt, np.float64, "reference grad")


@pytest.mark.parametrize("shape", [(40, 5), (80, 70)])
@pytest.mark.parametrize("k", range(len(OPTS)))
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_probability_targets(shape, k, smoothing):
    N, C = shape
    rng, x, _ = _data(N, C, k + C)
    t = rng.dirichlet(np.full(C, 0.3), N)
    t[::7] = np.eye(C)[rng.integers(0, C, len(t[::7]))]     # one-hot rows: zero terms
    o = _opts(OPTS[k], C, rng)
    o.update(label_smoothing=smoothing, sample_weight=rng.uniform(0, 2, N), weight=rng.uniform(0.5, 1.5, C))
    loss, g = fx.softmax_cross_entropy(x, t, return_grad=True, **o)
    lt, gt = torch_loss(x, t, **o)
    close(loss, lt, np.float64, f"loss {o}")
    close(g, gt, np.float64, f"grad {o}")


@pytest.mark.parametrize("k", range(len(OPTS)))
def test_class_axis_not_last_and_grad_out(k):
    rng = np.random.default_rng(k)
    x = rng.standard_normal((6, 9, 11)) * 2
    y = rng.integers(0, 9, (6, 11))
    o = _opts(OPTS[k], 9, rng)
    lt, gt = torch_loss(x, y, axis=1, **o)
    out = np.empty_like(x)
    loss, g = fx.softmax_cross_entropy(x, y, axis=1, return_grad=True, grad_out=out, **o)
    assert g is out
    close(loss, lt, np.float64, "loss")
    close(g, gt, np.float64, "grad")
    # in place: the gradient written over the logits
    x2 = np.ascontiguousarray(rng.standard_normal((300, 70)))
    y2 = rng.integers(0, 70, 300)
    lt, gt = torch_loss(x2, y2, **_opts(OPTS[k], 70, np.random.default_rng(1)))
    loss, g = fx.softmax_cross_entropy(x2, y2, return_grad=True, grad_out=x2, **_opts(OPTS[k], 70,
                                                                                       np.random.default_rng(1)))
    assert g is x2
    close(loss, lt, np.float64, "in-place loss")
    close(g, gt, np.float64, "in-place grad")


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("k", [0, 2, 3, 6])
@pytest.mark.parametrize("C", [5, 100])
def test_narrow_inputs(dtype, k, C):
    if dtype == "bfloat16":
        ml = pytest.importorskip("ml_dtypes")
        dt = np.dtype(ml.bfloat16)
    else:
        dt = np.dtype(dtype)
    rng, x, y = _data(400, C, k, dtype=np.float64)
    x = x.astype(dt)
    o = _opts(OPTS[k], C, rng)
    loss, g = fx.softmax_cross_entropy(x, y, return_grad=True, **o)
    assert g.dtype == dt
    lt, gt = torch_loss(x.astype(np.float64), y, **o)
    close(loss, lt, np.float32 if dt.itemsize >= 4 else np.float16, "loss")
    close(g.astype(np.float64), gt, np.float32 if dt.itemsize >= 4 else np.float16, "grad")


def test_defaults_leave_results_bitwise():
    rng, x, y = _data(500, 40, 1)
    for o in (dict(), dict(label_smoothing=0.1, z_loss=1e-3)):
        a = fx.softmax_cross_entropy(x, y, return_grad=True, **o)
        b = fx.softmax_cross_entropy(x, y, return_grad=True, softcap=None, temperature=1.0, gamma=0.0,
                                     alpha=None, **o)
        assert a[0] == b[0] and np.array_equal(a[1], b[1])


def test_focal_with_gamma_zero_is_cross_entropy():
    rng, x, y = _data(300, 30, 2)
    w = rng.uniform(0.5, 2, 30)
    ce, gce = fx.softmax_cross_entropy(x, y, weight=w, return_grad=True)
    fl, gfl = fx.softmax_cross_entropy(x, y, weight=w, gamma=0.0, alpha=1.0, return_grad=True)
    np.testing.assert_allclose(fl, ce, rtol=1e-14)
    np.testing.assert_allclose(gfl, gce, rtol=1e-12, atol=1e-17)


def test_focal_confident_rows_keep_relative_accuracy():
    # p_y = 1 - 1e-30: the loss is q^2 * (-log p) ~ 1e-90, far below what
    # 1 - p_y in floating point could give
    x = np.array([[0.0, -69.0776, -80.0]])
    y = np.array([0])
    got = fx.softmax_cross_entropy(x, y, gamma=2.0)
    s = np.exp(-69.0776) + np.exp(-80.0)
    L = np.log1p(s)
    q = s / (1 + s)
    np.testing.assert_allclose(got, q ** 2 * L, rtol=1e-12)
    assert got > 0


def test_softcap_limits_and_infinite_logits():
    # z = cap tanh(x / cap): an infinite logit becomes +-cap, its gradient 0
    x = np.array([[np.inf, 0.0, 1.0], [-np.inf, 2.0, 0.5]])
    y = np.array([0, 1])
    loss, g = fx.softmax_cross_entropy(x, y, softcap=5.0, return_grad=True, reduction="none")
    z = 5.0 * np.tanh(np.where(np.isfinite(x), x, np.sign(x) * 1e3) / 5.0)
    np.testing.assert_allclose(loss, R.softmax_cross_entropy(z, y, reduction="none"), rtol=1e-12)
    assert np.all(np.isfinite(g)) and g[0, 0] == 0 and g[1, 0] == 0
    # huge softcap: the identity to rounding
    rng, x, y = _data(50, 8, 4)
    np.testing.assert_allclose(fx.softmax_cross_entropy(x, y, softcap=1e8), fx.softmax_cross_entropy(x, y),
                               rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softcap_extreme_logits_on_every_path(isa, dtype):
    # the vector paths' tanh: the sign folded through expm1 on float (its
    # argument clamped where tanh has rounded to +-1), |u| with sech^2;
    # saturated, infinite and tiny logits, 37 classes (masked tails)
    cap = 5.0
    vals = np.array([np.inf, -np.inf, 1e30, -1e30, 300.0, -300.0, 60.0, -60.0, 45.2, -45.2, 22.6, -22.6,
                     9.05, -9.05, 1.0, -1.0, 0.3, -0.3, 1e-3, -1e-3, 1e-30, -1e-30, 0.0, -0.0])
    rng = np.random.default_rng(5)
    x = np.where(rng.random((40, 37)) < 0.5, rng.choice(vals, (40, 37)), rng.standard_normal((40, 37)) * 20)
    x = x.astype(dtype)
    y = rng.integers(0, 37, 40)
    x64 = x.astype(np.float64)
    u = np.where(np.isfinite(x64), x64, np.sign(x64) * 1e3) / cap
    z = cap * np.tanh(u)
    want = R.softmax_cross_entropy(z, y, reduction="none")
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    gz = p - np.eye(37)[y]
    gwant = gz / np.cosh(np.clip(u, -300, 300)) ** 2
    tol = 1e-5 if dtype == np.float32 else 1e-12
    loss = fx.softmax_cross_entropy(x, y, softcap=cap, reduction="none")
    loss2, g = fx.softmax_cross_entropy(x, y, softcap=cap, reduction="none", return_grad=True)
    np.testing.assert_allclose(loss, want, rtol=tol, atol=tol)
    np.testing.assert_allclose(loss2, want, rtol=tol, atol=tol)
    np.testing.assert_allclose(g, gwant, rtol=tol, atol=tol * 1e-2)
    assert np.all(g[np.isinf(x)] == 0)
    # a NaN logit: that row's loss and gradient are NaN, the others untouched
    x[3, 7] = np.nan
    loss = fx.softmax_cross_entropy(x, y, softcap=cap, reduction="none")
    assert np.isnan(loss[3]) and np.all(np.isfinite(np.delete(loss, 3)))
    np.testing.assert_allclose(np.delete(loss, 3), np.delete(want, 3), rtol=tol, atol=tol)


@pytest.mark.parametrize("C", [3, 90])
def test_evaluate_is_that_of_the_transformed_logits(C):
    rng, x, y = _data(400, C, C)
    tf = dict(softcap=2.5, temperature=1.3)
    z = 2.5 * np.tanh(x / 1.3 / 2.5)
    kw = dict(topk=(1, 2), calibration_bins=10, per_class=True, sample_weight=rng.uniform(0, 1, 400))
    got = fx.evaluate(x, y, **tf, **kw)
    want = fx.evaluate(z, y, **kw)
    ref = R.evaluate(x, y, **tf, **kw)
    for e in (want, ref):
        for f in ("loss", "accuracy", "brier", "entropy"):
            np.testing.assert_allclose(getattr(got, f), getattr(e, f), rtol=1e-12, err_msg=f)
        np.testing.assert_allclose(got.lse, e.lse, rtol=1e-12)
        np.testing.assert_array_equal(got.argmax, e.argmax)
    np.testing.assert_allclose(got.calibration.ece, want.calibration.ece, rtol=1e-9)
    # the loss is the cross-entropy's of the same transform
    np.testing.assert_allclose(got.loss, fx.softmax_cross_entropy(x, y, sample_weight=kw["sample_weight"], **tf),
                               rtol=1e-12)
    # streaming: batches and a merge give the same
    ev = fx.Evaluator(**tf, topk=(1, 2), calibration_bins=10, per_class=True)
    ev.update(x[:150], y[:150], kw["sample_weight"][:150])
    other = fx.Evaluator(**tf, topk=(1, 2), calibration_bins=10, per_class=True)
    other.update(x[150:], y[150:], kw["sample_weight"][150:])
    r = ev.merge(other).result()
    np.testing.assert_allclose(r.loss, got.loss, rtol=1e-12)
    with pytest.raises(ValueError, match="softcap"):
        fx.Evaluator(softcap=2.5, topk=(1, 2), calibration_bins=10, per_class=True).merge(
            fx.Evaluator(topk=(1, 2), calibration_bins=10, per_class=True))


def test_linear_head_takes_every_option():
    rng = np.random.default_rng(5)
    h = rng.standard_normal((64, 12))
    W = rng.standard_normal((90, 12)) * 0.5
    b = rng.standard_normal(90) * 0.1
    y = rng.integers(0, 90, 64)
    o = dict(softcap=3.0, temperature=0.8, gamma=2.0, alpha=rng.uniform(0.2, 1, 90), label_smoothing=0.05)
    loss, grads = fx.linear_cross_entropy(h, W, y, linear_bias=b, return_grad=True, chunk_size=16, **o)
    logits = h @ W.T + b
    lt, gt = torch_loss(logits, y, **o)
    close(loss, lt, np.float64, "loss")
    close(grads.hidden, gt @ W, np.float64, "d_hidden")
    close(grads.linear_weight, gt.T @ h, np.float64, "d_weight")
    lr, gr = R.linear_cross_entropy(h, W, y, linear_bias=b, return_grad=True, **o)
    close(lr, lt, np.float64, "reference")


def test_dask_takes_every_option():
    da = pytest.importorskip("dask.array")
    import fusedxent.dask  # noqa: F401
    rng, x, y = _data(300, 20, 8)
    o = dict(softcap=3.0, temperature=0.8, gamma=2.0, alpha=rng.uniform(0.2, 1, 20))
    loss, g = fx.softmax_cross_entropy(x, y, return_grad=True, **o)
    dl, dg = fx.dask.softmax_cross_entropy(da.from_array(x, chunks=(70, 20)), da.from_array(y, chunks=70),
                                           return_grad=True, **o)
    np.testing.assert_allclose(dl.compute(), loss, rtol=1e-12)
    np.testing.assert_allclose(dg.compute(), g, rtol=1e-12, atol=1e-18)
    ev = fx.dask.evaluate(da.from_array(x, chunks=(70, 20)), da.from_array(y, chunks=70), softcap=3.0,
                          temperature=0.8)
    np.testing.assert_allclose(float(ev.loss.compute()), fx.evaluate(x, y, softcap=3.0, temperature=0.8).loss,
                               rtol=1e-12)


@pytest.mark.parametrize("kw, err", [
    (dict(softcap=0.0), ValueError), (dict(softcap=-1.0), ValueError), (dict(softcap=np.inf), ValueError),
    (dict(softcap=np.nan), ValueError), (dict(temperature=0.0), ValueError), (dict(temperature=-2.0), ValueError),
    (dict(temperature=np.inf), ValueError), (dict(gamma=-0.5), ValueError), (dict(gamma=np.nan), ValueError),
    (dict(alpha=-0.1), ValueError), (dict(alpha=np.ones(4)), ValueError), (dict(alpha=np.ones((5, 1))), ValueError),
    (dict(alpha=[1, 2, -1, 1, 1]), ValueError), (dict(softcap="3"), TypeError), (dict(temperature=True), TypeError),
    (dict(alpha="x"), TypeError)])
def test_errors_before_any_work(kw, err):
    x = np.zeros((3, 5))
    y = np.array([0, 1, 2])
    out = np.full_like(x, 7.0)
    with pytest.raises(err):
        fx.softmax_cross_entropy(x, y, return_grad=True, grad_out=out, **kw)
    assert np.all(out == 7.0)
    if set(kw) <= {"softcap", "temperature"}:
        with pytest.raises(err):
            fx.evaluate(x, y, **kw)
        with pytest.raises(err):
            fx.Evaluator(**kw)
        with pytest.raises(err):
            R.evaluate(x, y, **kw)
    with pytest.raises(err):
        R.softmax_cross_entropy(x, y, **kw)


def test_the_options_value():
    a = xent_options(softcap=3, temperature=2, gamma=1, alpha=np.array([0.5, 1.0]))
    b = xent_options(softcap=3.0, temperature=2.0, gamma=1.0, alpha=[0.5, 1.0])
    assert isinstance(a, XentOptions) and a == b and hash(a) == hash(b)
    assert a != xent_options(softcap=3.0, temperature=2.0, gamma=1.0, alpha=[0.5, 1.5])
    with pytest.raises(Exception):
        a.gamma = 2.0
    with pytest.raises(ValueError):
        a.alpha[0] = 3.0                  # read-only copy: the caller's later writes cannot reach it
    w = np.ones(3)
    o = xent_options(weight=w)
    w[0] = 5.0
    assert o.weight[0] == 1.0
    assert xent_options().shortcut and xent_options(reduction="sum").shortcut
    for kw in (dict(softcap=1.0), dict(temperature=2.0), dict(gamma=1.0), dict(alpha=0.5), dict(z_loss=0.1),
               dict(label_smoothing=0.1), dict(weight=[1.0, 2.0]), dict(base=2), dict(reduction="none")):
        assert not xent_options(**kw).shortcut, kw
    assert not xent_options(gamma=1.0).plain and xent_options(softcap=1.0).plain
    assert LogitTransform.of(None, 1.0).identity and not LogitTransform.of(2.0, 1.0).identity
    # the memo does not confuse equal-comparing values of different types
    assert xent_options(temperature=2).transform.temperature == 2.0
    with pytest.raises(TypeError):
        xent_options(label_smoothing=False)            # not the memo's entry for 0.0
    # a pickled copy (what a Dask worker gets) is equal and as immutable
    import pickle
    p = pickle.loads(pickle.dumps(a))
    assert p == a and hash(p) == hash(a) and p.focal and not p.alpha.flags.writeable


@pytest.mark.parametrize("V_, o", [(7, dict()), (90, dict(softcap=3.0, temperature=0.7)),
                                   (130, dict(gamma=2.0, label_smoothing=0.1)), (50, dict(z_loss=1e-3))])
def test_linear_return_stats(V_, o):
    rng = np.random.default_rng(V_)
    h = rng.standard_normal((3, 25, 16))
    W = rng.standard_normal((V_, 16)) * 0.7
    y = rng.integers(0, V_, (3, 25))
    y[0, :3] = -100                                   # ignored rows still get their statistics
    loss, stats = fx.linear_cross_entropy(h, W, y, return_stats=True, chunk_size=11, **o)
    loss2, grads, stats2 = fx.linear_cross_entropy(h, W, y, return_stats=True, return_grad=True, chunk_size=11, **o)
    assert isinstance(stats, fx.RowStats) and isinstance(grads, fx.LinearGrads)
    np.testing.assert_allclose(loss, fx.linear_cross_entropy(h, W, y, chunk_size=11, **o), rtol=1e-13)
    tf = LogitTransform.of(o.get("softcap"), o.get("temperature", 1.0))
    z = tf.apply(h @ W.T)[0]
    m = z.max(-1, keepdims=True)
    lse = (m + np.log(np.exp(z - m).sum(-1, keepdims=True)))[..., 0]
    p = np.exp(z - lse[..., None])
    ent = -(p * np.log(p)).sum(-1)
    rl, rst = R.linear_cross_entropy(h, W, y, return_stats=True, **o)
    np.testing.assert_allclose(rl, loss, rtol=1e-12)
    for st in (stats, stats2, rst):
        assert st.lse.shape == y.shape and st.lse.dtype == np.float64 and st.argmax.dtype == np.int64
        np.testing.assert_allclose(st.lse, lse, rtol=1e-13)
        np.testing.assert_allclose(st.entropy, ent, rtol=1e-11, atol=1e-14)
        np.testing.assert_array_equal(st.argmax, z.argmax(-1))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("o", [dict(), dict(softcap=2.0, temperature=1.5, calibration_bins=8, per_class="confusion",
                                            topk=(1, 3))])
def test_linear_evaluate_equals_evaluate_on_the_logits(dtype, o):
    rng = np.random.default_rng(3)
    h = rng.standard_normal((200, 24)).astype(dtype)
    W = (rng.standard_normal((40, 24)) * 0.5).astype(dtype)
    b = (rng.standard_normal(40) * 0.1).astype(dtype)
    y = rng.integers(0, 40, 200)
    y[::9] = -1
    sw = rng.uniform(0, 1, 200)
    got = fx.linear_evaluate(h, W, y, linear_bias=b, ignore_index=-1, sample_weight=sw, chunk_size=33, **o)
    want = fx.evaluate(h @ W.T + b, y, ignore_index=-1, sample_weight=sw, **o)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for f in ("loss", "accuracy", "brier", "entropy", "count"):
        np.testing.assert_allclose(getattr(got, f), getattr(want, f), rtol=tol, err_msg=f)
    np.testing.assert_allclose(got.lse, want.lse, rtol=tol)
    np.testing.assert_array_equal(got.argmax, want.argmax)
    assert got.topk_accuracy.keys() == want.topk_accuracy.keys()
    if "calibration_bins" in o:
        np.testing.assert_allclose(got.calibration.ece, want.calibration.ece, rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(got.per_class.confusion, want.per_class.confusion)
    with pytest.raises(ValueError):
        fx.linear_evaluate(h, W, y[:-1])


def test_cli_softcap_and_temperature(tmp_path):
    import json
    import subprocess
    import sys
    rng, x, y = _data(3000, 12, 6)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)

    def cli(*args):
        r = subprocess.run([sys.executable, "-m", "fusedxent", "evaluate", *map(str, args)], capture_output=True,
                           text=True)
        return r.returncode, r.stdout, r.stderr
    code, out, err = cli(tmp_path / "x.npy", tmp_path / "y.npy", "--softcap", 2.5, "--temperature", 1.4,
                         "--bins", 10, "--batch-rows", 700, "--json", tmp_path / "m.json", "--quiet")
    assert code == 0, err
    want = fx.evaluate(x, y, softcap=2.5, temperature=1.4, topk=(1, 5), calibration_bins=10)
    doc = json.loads((tmp_path / "m.json").read_text())
    assert doc["loss"] == pytest.approx(want.loss, rel=1e-12)
    assert doc["calibration"]["ece"] == pytest.approx(want.calibration.ece, rel=1e-9)
    assert doc["softcap"] == 2.5 and doc["temperature"] == 1.4
    code, out, err = cli(tmp_path / "x.npy", tmp_path / "y.npy", "--softcap", -1, "--quiet")
    assert code == 2 and "softcap" in err
    code, out, err = cli(tmp_path / "x.npy", tmp_path / "x.npy", "--binary", "--temperature", 2, "--quiet")
    assert code == 2 and "--binary" in err


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_focal_gradient_of_confident_rows_against_mpmath(smoothing):
    # a confident row: p_y = 1 - 5e-17 rounds to 1 in float64; the label's
    # gradient entry must come from q = 1 - p_y, not from p_y - 1
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 60
    x = np.array([[0.0, -38.0, -40.0, -39.5]])
    y = np.array([0])
    gam = 2.0

    def loss(*z):
        lse = mp.log(sum(mp.e ** v for v in z))
        tot = 0
        for j, v in enumerate(z):
            t = (1 - smoothing) * (j == 0) + smoothing / 4
            p = mp.e ** (v - lse)
            tot += -t * (1 - p) ** gam * (v - lse)
        return tot
    z0 = [mp.mpf(float(v)) for v in x[0]]
    want_l = loss(*z0)
    want_g = [mp.diff(lambda v, j=j: loss(*(z0[:j] + [v] + z0[j + 1:])), z0[j]) for j in range(4)]
    got_l, got_g = fx.softmax_cross_entropy(x, y, gamma=gam, label_smoothing=smoothing, return_grad=True)
    ref_l, ref_g = R.softmax_cross_entropy(x, y, gamma=gam, label_smoothing=smoothing, return_grad=True)
    for l_, g_ in ((got_l, got_g), (ref_l, ref_g)):
        np.testing.assert_allclose(l_, float(want_l), rtol=1e-12)
        np.testing.assert_allclose(g_[0], [float(v) for v in want_g], rtol=1e-9)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_evaluate_16bit_with_the_transform(dtype):
    import pickle
    if dtype == "bfloat16":
        dt = np.dtype(pytest.importorskip("ml_dtypes").bfloat16)
    else:
        dt = np.dtype(dtype)
    rng, x, y = _data(500, 30, 9)
    xh = x.astype(dt)
    tf = dict(softcap=2.0, temperature=0.9)
    got = fx.evaluate(xh, y, calibration_bins=5, **tf)
    want = fx.evaluate(xh.astype(np.float32), y, calibration_bins=5, **tf)    # 16-bit: the float32 call, bitwise
    assert got.loss == want.loss and got.entropy == want.entropy and np.array_equal(got.argmax, want.argmax)
    np.testing.assert_array_equal(np.asarray(got.lse, np.float32), np.asarray(want.lse.astype(dt), np.float32))
    # an Evaluator with a transform survives pickling and refuses a merge without it
    ev = fx.Evaluator(**tf).update(xh, y)
    ev2 = pickle.loads(pickle.dumps(ev))
    assert ev2.transform == ev.transform
    np.testing.assert_allclose(ev2.merge(fx.Evaluator(**tf).update(xh, y)).result().loss, got.loss, rtol=1e-12)
    with pytest.raises(ValueError):
        ev2.merge(fx.Evaluator(softcap=2.0))
