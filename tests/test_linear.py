"""linear_cross_entropy: equal to softmax_cross_entropy on the materialized
logits (and to the float64 reference and PyTorch autograd) for every
option, chunk size and shape, in bounded memory, with errors before work."""
import tracemalloc

import numpy as np
import pytest

import fusedxent as fx
from fusedxent import reference as R


def _layer(seed, N=53, H=24, V=37, dtype=np.float32, ignore=True):
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((N, H)).astype(dtype)
    W = (rng.standard_normal((V, H)) / np.sqrt(H)).astype(dtype)
    b = rng.standard_normal(V).astype(dtype)
    y = rng.integers(0, V, N)
    if ignore and N > 3:
        y[::4] = -100
    return h, W, b, y


def _materialized(h, W, b, y, **opts):
    """softmax_cross_entropy on the logits, and the chain rule, in float64."""
    h64, W64 = h.astype(np.float64), W.astype(np.float64)
    logits = h64 @ W64.T + (0.0 if b is None else b.astype(np.float64))
    out = fx.softmax_cross_entropy(logits, y, return_grad=True, **opts)
    loss, g = out
    return loss, (g @ W64, g.T @ h64, None if b is None else g.sum(0))


def _tol(dtype):
    return dict(rtol=2e-4, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-13)


OPTIONS = [dict(), dict(label_smoothing=0.2), dict(z_loss=1e-3), dict(reduction="sum"), dict(reduction="none"),
           dict(base=2), dict(weight="class"), dict(sample_weight="rows"),
           dict(weight="class", sample_weight="rows", label_smoothing=0.1, z_loss=1e-4, base=10)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: ",".join(o) or "default")
def test_matches_the_materialized_logits(dtype, opts):
    h, W, b, y = _layer(1, dtype=dtype)
    rng = np.random.default_rng(2)
    o = dict(opts)
    if o.get("weight") == "class":
        o["weight"] = rng.random(W.shape[0]) + 0.5
    if o.get("sample_weight") == "rows":
        o["sample_weight"] = rng.random(len(y)) + 0.1
    want_loss, want_g = _materialized(h, W, b, y, **o)
    for cs in (None, 1, 7, 53, 1000):          # dividing N or not, one block, larger than N
        loss, g = fx.linear_cross_entropy(h, W, y, linear_bias=b, return_grad=True, chunk_size=cs, **o)
        np.testing.assert_allclose(loss, want_loss, **_tol(dtype))
        for got, want in zip(g, want_g):
            assert got.dtype == dtype
            np.testing.assert_allclose(got, want, **_tol(dtype))
        only = fx.linear_cross_entropy(h, W, y, linear_bias=b, chunk_size=cs, **o)
        np.testing.assert_allclose(only, want_loss, **_tol(dtype))
    rl, rg = R.linear_cross_entropy(h, W, y, linear_bias=b, return_grad=True, **o)
    np.testing.assert_allclose(rl, want_loss, **_tol(dtype))
    for got, want in zip(rg, want_g):
        np.testing.assert_allclose(got, want, **_tol(dtype))


def test_nd_hidden_one_row_and_no_bias():
    h, W, b, y = _layer(3, N=24)
    h3, y3 = h.reshape(2, 3, 4, -1), y.reshape(2, 3, 4)
    loss, g = fx.linear_cross_entropy(h3, W, y3, return_grad=True, chunk_size=5, reduction="none")
    want, wg = _materialized(h, W, None, y, reduction="none")
    assert loss.shape == (2, 3, 4) and g.hidden.shape == h3.shape and g.linear_bias is None
    np.testing.assert_allclose(loss.reshape(-1), want, rtol=2e-5)
    np.testing.assert_allclose(g.hidden.reshape(h.shape), wg[0], rtol=2e-4, atol=1e-6)
    # one row: 1-D hidden with a 0-d target
    l1, g1 = fx.linear_cross_entropy(h[1], W, y[1], linear_bias=b, return_grad=True)
    w1, wg1 = _materialized(h[1:2], W, b, y[1:2])
    assert np.ndim(l1) == 0 and g1.hidden.shape == h[1].shape
    np.testing.assert_allclose(l1, w1, rtol=2e-5)
    np.testing.assert_allclose(g1.linear_weight, wg1[1], rtol=2e-4, atol=1e-6)


def test_all_rows_ignored_and_v_smaller_than_a_chunk():
    h, W, b, y = _layer(4, V=3)
    y[:] = -100
    loss, g = fx.linear_cross_entropy(h, W, y, linear_bias=b, return_grad=True)
    assert loss == 0.0 and not g.hidden.any() and not g.linear_weight.any() and not g.linear_bias.any()


@pytest.mark.parametrize("H", ["float16", "bfloat16"])
def test_half_inputs_compute_in_float32(H):
    if H == "bfloat16":
        ml = pytest.importorskip("ml_dtypes")
        dt = np.dtype(ml.bfloat16)
    else:
        dt = np.dtype(np.float16)
    h, W, b, y = _layer(5)
    h16, W16, b16 = h.astype(dt), W.astype(dt), b.astype(dt)
    loss, g = fx.linear_cross_entropy(h16, W16, y, linear_bias=b16, return_grad=True, chunk_size=8)
    want, wg = _materialized(h16.astype(np.float32), W16.astype(np.float32), b16.astype(np.float32), y)
    assert g.hidden.dtype == dt and g.linear_weight.dtype == dt
    np.testing.assert_allclose(loss, want, rtol=1e-5)
    np.testing.assert_allclose(g.linear_weight.astype(np.float32), wg[1], rtol=2e-2, atol=1e-3)


def test_against_torch_autograd():
    torch = pytest.importorskip("torch")
    h, W, b, y = _layer(6, dtype=np.float64)
    rng = np.random.default_rng(7)
    cw = rng.random(W.shape[0]) + 0.5
    loss, g = fx.linear_cross_entropy(h, W, y, linear_bias=b, weight=cw, label_smoothing=0.1, return_grad=True,
                                      chunk_size=10)
    th, tW, tb = (torch.tensor(a, requires_grad=True) for a in (h, W, b))
    tl = torch.nn.functional.cross_entropy(torch.nn.functional.linear(th, tW, tb), torch.tensor(y),
                                           weight=torch.tensor(cw), label_smoothing=0.1, ignore_index=-100)
    tl.backward()
    assert loss == pytest.approx(tl.item(), rel=1e-10)
    for got, t in zip(g, (th, tW, tb)):
        np.testing.assert_allclose(got, t.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_memory_stays_below_the_logits():
    # 4096 x 4000 float32 logits are 65.5 MB; with 64-row blocks the call
    # must stay far below that (gradients of hidden and W are 0.5 MB each)
    rng = np.random.default_rng(8)
    N, H, V = 4096, 32, 4000
    h = rng.standard_normal((N, H)).astype(np.float32)
    W = (rng.standard_normal((V, H)) / 8).astype(np.float32)
    y = rng.integers(0, V, N)
    logits_bytes = N * V * 4
    tracemalloc.start()
    try:
        loss, g = fx.linear_cross_entropy(h, W, y, return_grad=True, chunk_size=64)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < logits_bytes / 8, peak
    want = fx.softmax_cross_entropy(h @ W.T, y)
    assert loss == pytest.approx(want, rel=1e-5)


def test_errors_before_any_work():
    h, W, b, y = _layer(9)
    f = fx.linear_cross_entropy
    with pytest.raises(ValueError, match="features"):
        f(h[:, :-1], W, y)
    with pytest.raises(ValueError, match="linear_bias must have shape"):
        f(h, W, y, linear_bias=b[:-1])
    with pytest.raises(ValueError, match="weight must have shape"):
        f(h, W, y, weight=np.ones(W.shape[0] + 1))
    with pytest.raises(ValueError, match="2-D"):
        f(h, W[0], y)
    with pytest.raises(TypeError, match="integer class indices"):
        f(h, W, y.astype(np.float32))
    with pytest.raises(ValueError, match="target must have shape"):
        f(h, W, y[:-1])
    bad = y.copy()
    bad[5] = W.shape[0]
    with pytest.raises(ValueError, match="out of range"):
        f(h, W, bad)
    with pytest.raises(ValueError, match="chunk_size"):
        f(h, W, y, chunk_size=0)
    with pytest.raises(TypeError, match="one precision"):
        f(h.astype(np.float64), W, y)
    with pytest.raises(ValueError, match="zero classes"):
        f(h, W[:0], y * 0)


def test_num_threads_limits_both_pools_and_keeps_the_result():
    h, W, b, y = _layer(10, N=300, V=70)
    one = fx.linear_cross_entropy(h, W, y, linear_bias=b, return_grad=True, num_threads=1, chunk_size=64)
    dflt = fx.linear_cross_entropy(h, W, y, linear_bias=b, return_grad=True, chunk_size=64)
    assert one[0] == pytest.approx(dflt[0], rel=1e-6)
    for a, c in zip(one[1], dflt[1]):
        np.testing.assert_allclose(a, c, rtol=1e-4, atol=1e-7)
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = [p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
    fx.linear_cross_entropy(h, W, y, num_threads=1)
    after = [p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
    assert before == after          # the limit holds for the call only
