"""fusedxent.dask on a real dask.distributed LocalCluster (2 worker processes):
every lazy function against its in-memory twin, over .npy memmaps wrapped
with da.from_array."""
import os
import sys

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
import dask  # noqa: E402

import fusedxent as fx  # noqa: E402
import fusedxent.dask as fxd  # noqa: E402

N, C = 3001, 53


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    rng = np.random.default_rng(11)
    d = tmp_path_factory.mktemp("dask")
    x = (rng.normal(size=(N, C)) * 4).astype(np.float32)
    y = rng.integers(0, C, N)
    y[::9] = -100
    np.save(d / "x.npy", x)
    np.save(d / "y.npy", y)
    np.save(d / "x64.npy", x.astype(np.float64))
    return d


def _mm(files, name, chunks):
    a = np.load(files / name, mmap_mode="r")
    return np.asarray(a), da.from_array(a, chunks=chunks)


def _rel(a, b):
    a, b = float(a), float(b)
    return abs(a - b) / max(abs(a), 1e-300)


def test_runs_on_two_worker_processes(client):
    pids = set(client.run(os.getpid).values())
    assert len(pids) == 2 and os.getpid() not in pids
    x = da.ones((1000, 5), chunks=(10, 5))
    with distributed.get_task_stream(client) as ts:
        got = fxd.logsumexp(x).compute()
    np.testing.assert_allclose(got, 1 + np.log(5.0), rtol=1e-15)
    # the functions were pickled to both worker processes and ran there
    workers = {t["worker"] for t in ts.data if "logsumexp" in str(t["key"])}
    assert len(workers) == 2, ts.data[:3]
    assert all(client.run(lambda: "fusedxent._kernels" in sys.modules).values())


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("return_grad", [False, True])
@pytest.mark.parametrize("name", ["x.npy", "x64.npy"])
def test_softmax_cross_entropy_matches_in_memory(client, files, reduction, return_grad, name):
    x, X = _mm(files, name, (700, C))
    y, Y = _mm(files, "y.npy", 450)
    rng = np.random.default_rng(1)
    sw = rng.random(N)
    w = rng.random(C) + 0.5
    opts = dict(weight=w, reduction=reduction, return_grad=return_grad, label_smoothing=0.1,
                z_loss=1e-3, base=2)
    want = fx.softmax_cross_entropy(x, y, sample_weight=sw, **opts)
    got = dask.compute(fxd.softmax_cross_entropy(X, Y, sample_weight=da.from_array(sw, chunks=1000),
                                                 **opts))[0]
    wl, gl = (want if return_grad else (want, None))
    ol, og = (got if return_grad else (got, None))
    if reduction == "none":
        np.testing.assert_array_equal(ol, wl)       # rows are computed row by row: bitwise
        assert ol.dtype == x.dtype
    else:
        assert _rel(ol, wl) < 1e-12
    if return_grad:
        # the global denominator: with weights it is summed in another order
        # than in memory, so the gradient's scale may differ in its last bit
        np.testing.assert_array_max_ulp(og, gl, maxulp=1)
        # without weights the denominator is a count, exact either way: bitwise
        want_g = fx.softmax_cross_entropy(x, y, reduction=reduction, return_grad=True)[1]
        got_g = fxd.softmax_cross_entropy(X, Y, reduction=reduction, return_grad=True)[1].compute()
        np.testing.assert_array_equal(got_g, want_g)


def test_probability_targets_and_chunked_class_axis(client, files):
    x, _ = _mm(files, "x64.npy", (700, C))
    t = np.random.default_rng(2).dirichlet(np.ones(C), N)
    X = da.from_array(x, chunks=(600, 20))          # class axis in 3 chunks: rechunked
    T = da.from_array(t, chunks=(250, 30))
    want = fx.softmax_cross_entropy(x, t, return_grad=True, label_smoothing=0.2)
    got = dask.compute(fxd.softmax_cross_entropy(X, T, return_grad=True, label_smoothing=0.2))[0]
    assert _rel(got[0], want[0]) < 1e-12
    np.testing.assert_array_equal(got[1], want[1])


def test_three_dimensional_with_weights(client):
    rng = np.random.default_rng(9)
    x = rng.normal(size=(40, 6, 25))
    t = rng.dirichlet(np.ones(6), (40, 25)).transpose(0, 2, 1)
    y = rng.integers(0, 6, (40, 25))
    sw = rng.random((40, 25))
    X = da.from_array(x, chunks=(7, 4, 9))
    for target, T in ((y, da.from_array(y, chunks=(11, 10))), (t, da.from_array(t, chunks=(5, 6, 25)))):
        want = fx.softmax_cross_entropy(x, target, axis=1, sample_weight=sw, return_grad=True)
        got = dask.compute(fxd.softmax_cross_entropy(X, T, axis=1, return_grad=True,
                                                     sample_weight=da.from_array(sw, chunks=(3, 25))))[0]
        assert _rel(got[0], want[0]) < 1e-12
        np.testing.assert_array_max_ulp(got[1], want[1], maxulp=1)


def test_class_axis_first(client, files):
    x, _ = _mm(files, "x.npy", (700, C))
    y, Y = _mm(files, "y.npy", 450)
    xt = np.ascontiguousarray(x.T)
    XT = da.from_array(xt, chunks=(10, 800))
    want = fx.softmax_cross_entropy(xt, y, axis=0, reduction="none", return_grad=True)
    got = dask.compute(fxd.softmax_cross_entropy(XT, Y, axis=0, reduction="none", return_grad=True))[0]
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    for f in ("softmax", "log_softmax", "logsumexp"):
        np.testing.assert_array_equal(getattr(fxd, f)(XT, axis=0).compute(), getattr(fx, f)(xt, axis=0))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_normalizers(client, dtype):
    x = (np.random.default_rng(3).normal(size=(517, 33)) * 5).astype(dtype)
    X = da.from_array(x, chunks=(100, 7))
    for f in ("softmax", "log_softmax", "logsumexp", "sigmoid", "log_sigmoid"):
        got = getattr(fxd, f)(X).compute()
        want = getattr(fx, f)(x)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_bce_matches_in_memory(client, reduction, dtype):
    rng = np.random.default_rng(4)
    x = (rng.normal(size=(1234, 40)) * 3).astype(dtype)
    t = (rng.random((1234, 40)) < 0.3).astype(dtype)
    row_w = rng.random((1234, 1))
    pw = rng.random(40) + 0.5
    X = da.from_array(x, chunks=(300, 15))
    opts = dict(pos_weight=pw, reduction=reduction, return_grad=True, gamma=1.5, alpha=0.25,
                label_smoothing=0.05)
    for w in (row_w, rng.random(40), rng.random((1234, 40))):
        wl, gl = fx.sigmoid_binary_cross_entropy(x, t, weight=w, **opts)
        ol, og = dask.compute(fxd.sigmoid_binary_cross_entropy(X, t, weight=w, **opts))[0]
        np.testing.assert_array_equal(og, gl)
        if reduction == "none":
            np.testing.assert_array_equal(ol, wl)
        else:
            # float32 losses are added in float32 within groups of 64 elements,
            # and those groups follow the blocks: rounding of float32 sums
            assert _rel(ol, wl) < (1e-12 if dtype == np.float64 else 1e-7)


def test_evaluate_matches_in_memory(client, files):
    x, X = _mm(files, "x.npy", (400, C))
    y, Y = _mm(files, "y.npy", 333)
    sw = np.random.default_rng(5).random(N)
    want = fx.evaluate(x, y, sample_weight=sw)
    ev = fxd.evaluate(X, Y, sample_weight=sw)
    assert isinstance(ev.loss, da.Array) and isinstance(ev.lse, da.Array)
    (got,) = dask.compute(ev)
    assert _rel(got.loss, want.loss) < 1e-12
    assert _rel(got.accuracy, want.accuracy) < 1e-12
    assert got.count == want.count and isinstance(got.count.item(), int)
    np.testing.assert_array_equal(got.lse, want.lse)
    np.testing.assert_array_equal(got.argmax, want.argmax)
    # the evaluator's partials: the same as a streaming Evaluator
    e = fx.Evaluator()
    for r0 in range(0, N, 1000):
        e.update(x[r0:r0 + 1000], y[r0:r0 + 1000], sample_weight=sw[r0:r0 + 1000])
    assert _rel(e.result().loss, got.loss) < 1e-12


def test_chunking_does_not_change_results(client, files):
    x, _ = _mm(files, "x.npy", (700, C))
    y, _ = _mm(files, "y.npy", 450)
    outs = []
    for rows in (29, 97, 1000, N):
        X = da.from_array(x, chunks=(rows, C))
        Y = da.from_array(y, chunks=max(1, rows // 2))
        outs.append(dask.compute(fxd.softmax_cross_entropy(X, Y, return_grad=True),
                                 fxd.softmax_cross_entropy(X, Y, reduction="none"))[0:2])
    for (loss, grad), rows in outs[1:]:
        assert _rel(loss, outs[0][0][0]) < 1e-12
        np.testing.assert_array_equal(grad, outs[0][0][1])
        np.testing.assert_array_equal(rows, outs[0][1])


def test_results_are_lazy_and_errors(client):
    x = da.zeros((10, 4), chunks=(5, 4))
    bad = da.from_array(np.array([0, 1, 2, 3, 4, 0, 0, 0, 0, 0]), chunks=5)
    loss = fxd.softmax_cross_entropy(x, bad)             # label 4 is out of range ...
    assert isinstance(loss, da.Array) and loss.shape == ()
    with pytest.raises(ValueError, match="out of range"):  # ... found when computed
        loss.compute()
    y = da.zeros(10, dtype=np.int64, chunks=5)
    with pytest.raises(ValueError, match="reduction"):
        fxd.softmax_cross_entropy(x, y, reduction="avg")
    with pytest.raises(ValueError, match="shape"):
        fxd.softmax_cross_entropy(x, da.zeros(9, dtype=np.int64))
    with pytest.raises(TypeError, match="integer"):
        fxd.softmax_cross_entropy(x, da.zeros(10, dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        fxd.softmax_cross_entropy(x, y, weight=np.ones(3))
    with pytest.raises(ValueError, match="one weight per row"):
        fxd.softmax_cross_entropy(x, y, sample_weight=np.ones(3))
    with pytest.raises(TypeError, match="complex"):
        fxd.softmax(da.zeros((3, 3), dtype=complex))
    with pytest.raises(ValueError, match="does not broadcast"):
        fxd.sigmoid_binary_cross_entropy(x, x, weight=np.ones(3))
    with pytest.raises(ValueError, match="pos_weight"):
        fxd.sigmoid_binary_cross_entropy(x, x, pos_weight=np.ones(3))
    with pytest.raises(ValueError, match="shape"):
        fxd.evaluate(x, da.zeros(9, dtype=np.int64))
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        fxd.softmax(x[x[:, 0] > 0])


def test_integer_logits_and_numpy_inputs(client):
    x = np.arange(12).reshape(3, 4)
    got = fxd.softmax(x).compute()
    np.testing.assert_array_equal(got, fx.softmax(x))
    assert got.dtype == np.float64
    loss = fxd.softmax_cross_entropy(x, np.array([0, 1, 3])).compute()
    assert _rel(loss, fx.softmax_cross_entropy(x, np.array([0, 1, 3]))) < 1e-14


def test_open_npy_reads_in_the_workers(client, files):
    import pickle
    x, _ = _mm(files, "x.npy", (700, C))
    y, _ = _mm(files, "y.npy", 450)
    X = fxd.open_npy(files / "x.npy")
    assert X.chunks[1] == (C,) and X.dtype == np.float32
    # the graph carries the path, not the 600 kB of logits
    assert len(pickle.dumps(dict(X.__dask_graph__()))) < 20_000
    Xc = fxd.open_npy(files / "x.npy", chunks=(333, C))
    np.testing.assert_array_equal(Xc.compute(), x)
    (got,) = dask.compute(fxd.evaluate(Xc, fxd.open_npy(files / "y.npy", chunks=(333,))))
    want = fx.evaluate(x, y)
    assert _rel(got.loss, want.loss) < 1e-12 and got.count == want.count


def test_empty_class_axis_and_damaged_files(tmp_path):
    # no cluster needed: graph-time checks and the synchronous scheduler
    x = da.zeros((10, 0), chunks=(4, 0))
    with dask.config.set(scheduler="synchronous"):
        np.testing.assert_array_equal(fxd.logsumexp(x).compute(), np.full(10, -np.inf))
        assert fxd.softmax(x).compute().shape == (10, 0)
        assert fxd.log_softmax(x, axis=1).compute().shape == (10, 0)
    with pytest.raises(ValueError, match="zero classes"):
        fxd.softmax_cross_entropy(x, da.zeros(10, dtype=np.int64))
    good = tmp_path / "x.npy"
    np.save(good, np.ones((50, 3), np.float32))
    bad = tmp_path / "bad.npy"
    bad.write_bytes(good.read_bytes()[:-4])
    with pytest.raises(ValueError, match=r"bad\.npy.*truncated"):
        fxd.open_npy(bad)
    (tmp_path / "text.npy").write_text("just text")
    with pytest.raises(ValueError, match="not a .npy file"):
        fxd.open_npy(tmp_path / "text.npy")


def test_bfloat16_blocks_equal_the_in_memory_call():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    rng = np.random.default_rng(8)
    x = (rng.standard_normal((900, 37)) * 3).astype(ml_dtypes.bfloat16)
    y = rng.integers(0, 37, 900)
    X, Y = da.from_array(x, chunks=(250, 37)), da.from_array(y, chunks=250)
    with dask.config.set(scheduler="synchronous"):
        l, g = dask.compute(*fxd.softmax_cross_entropy(X, Y, return_grad=True, reduction="sum"))
        wl, wg = fx.softmax_cross_entropy(x, y, return_grad=True, reduction="sum")
        assert _rel(l, wl) < 1e-12
        assert g.dtype == x.dtype
        np.testing.assert_array_equal(g.view(np.uint16), wg.view(np.uint16))
        (ev,) = dask.compute(fxd.evaluate(X, Y))
        want = fx.evaluate(x, y)
        assert _rel(ev.loss, want.loss) < 1e-12
        np.testing.assert_array_equal(ev.lse.view(np.uint16), want.lse.view(np.uint16))
        np.testing.assert_array_equal(fxd.softmax(X).compute().view(np.uint16), fx.softmax(x).view(np.uint16))


def test_evaluate_with_every_metric_on_the_cluster(client, files):
    x, X = _mm(files, "x.npy", (700, C))
    y, Y = _mm(files, "y.npy", 700)
    opts = dict(topk=(1, 3), calibration_bins=8, per_class="confusion", base=2)
    (got,) = dask.compute(fxd.evaluate(X, Y, **opts))
    want = fx.evaluate(x, y, **opts)
    for f in ("loss", "accuracy", "brier", "entropy"):
        assert _rel(getattr(got, f), getattr(want, f)) < 1e-12
    assert got.count == want.count
    assert all(_rel(got.topk_accuracy[q], want.topk_accuracy[q]) < 1e-12 for q in (1, 3))
    np.testing.assert_allclose(got.calibration.weight, want.calibration.weight, rtol=1e-12)
    assert _rel(got.calibration.ece, want.calibration.ece) < 1e-12
    assert _rel(got.calibration.rmsce, want.calibration.rmsce) < 1e-12
    np.testing.assert_allclose(got.per_class.confusion, want.per_class.confusion, rtol=1e-12)
    assert _rel(got.per_class.macro_f1, want.per_class.macro_f1) < 1e-12
    t = (x > 0.5).astype(np.float32)
    (b,) = dask.compute(fxd.evaluate_binary(X, da.from_array(t, chunks=(700, C)), calibration_bins=6))
    wb = fx.evaluate_binary(x, t, calibration_bins=6)
    assert _rel(b.loss, wb.loss) < 1e-12 and _rel(b.brier, wb.brier) < 1e-12 and b.count == wb.count
    assert _rel(b.calibration.ece, wb.calibration.ece) < 1e-12


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_linear_cross_entropy_on_the_cluster(client, reduction):
    # hidden and target chunked by rows (3-D hidden, uneven chunks), the
    # weight in memory: loss, d_hidden blockwise, d_W / d_bias summed in the tree
    rng = np.random.default_rng(21)
    h = rng.standard_normal((5, 23, 12)).astype(np.float64)
    W = rng.standard_normal((31, 12)) / 3
    b = rng.standard_normal(31)
    y = rng.integers(0, 31, (5, 23))
    y[1, ::3] = -100
    sw = rng.random((5, 23)) + 0.1
    opts = dict(linear_bias=b, sample_weight=sw, label_smoothing=0.1, z_loss=1e-3, reduction=reduction,
                chunk_size=6)
    H = da.from_array(h, chunks=(2, 10, 12))
    (got,) = dask.compute(fxd.linear_cross_entropy(H, W, da.from_array(y, chunks=(3, 7)), return_grad=True, **opts))
    want = fx.linear_cross_entropy(h, W, y, return_grad=True, **opts)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
    for a, c in zip(got[1], want[1]):
        assert a.shape == c.shape and a.dtype == c.dtype
        np.testing.assert_allclose(a, c, rtol=1e-10, atol=1e-14)
    with pytest.raises(ValueError, match="features"):
        fxd.linear_cross_entropy(H, W[:, :-1], y)


@pytest.mark.parametrize("return_grad", [False, True])
def test_linear_cross_entropy_row_stats_on_the_cluster(client, return_grad):
    # return_stats: per-row lse, entropy and argmax of the transformed
    # logits, blockwise, equal to the in-memory call's; returned last
    rng = np.random.default_rng(22)
    h = rng.standard_normal((4, 19, 10)).astype(np.float32)
    W = (rng.standard_normal((27, 10)) / 2).astype(np.float32)
    y = rng.integers(0, 27, (4, 19))
    y[2, ::4] = -100
    opts = dict(softcap=2.5, temperature=0.8, gamma=1.5, chunk_size=5, return_grad=return_grad)
    H = da.from_array(h, chunks=(3, 8, 10))
    out = fxd.linear_cross_entropy(H, W, da.from_array(y, chunks=(2, 6)), return_stats=True, **opts)
    (got,) = dask.compute(out)
    want = fx.linear_cross_entropy(h, W, y, return_stats=True, **opts)
    assert len(got) == len(want) == (3 if return_grad else 2)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-6)
    for a, c in zip(got[-1], want[-1]):
        assert a.shape == c.shape == y.shape and a.dtype == c.dtype
        np.testing.assert_allclose(a, c, rtol=1e-6, atol=1e-7)
    assert type(got[-1]) is fx.RowStats


def test_linear_evaluate_on_the_cluster(client):
    # equal to the in-memory linear_evaluate (and so to evaluate of the
    # materialized logits) with every metric, uneven row chunks, a bias
    rng = np.random.default_rng(23)
    h = rng.standard_normal((5, 21, 9))
    W = rng.standard_normal((33, 9)) / 2
    b = rng.standard_normal(33) / 4
    y = rng.integers(0, 33, (5, 21))
    y[3, ::5] = -100
    sw = rng.random((5, 21)) + 0.1
    opts = dict(linear_bias=b, sample_weight=sw, topk=(1, 3), calibration_bins=7, per_class="confusion", base=2,
                softcap=4.0, temperature=1.3, chunk_size=4)
    H = da.from_array(h, chunks=(2, 8, 9))
    (got,) = dask.compute(fxd.linear_evaluate(H, W, da.from_array(y, chunks=(3, 5)), **opts))
    want = fx.linear_evaluate(h, W, y, **opts)
    for f in ("loss", "accuracy", "brier", "entropy"):
        assert _rel(getattr(got, f), getattr(want, f)) < 1e-12, f
    assert got.count == want.count
    assert all(_rel(got.topk_accuracy[q], want.topk_accuracy[q]) < 1e-12 for q in (1, 3))
    assert _rel(got.calibration.ece, want.calibration.ece) < 1e-12
    np.testing.assert_allclose(got.per_class.confusion, want.per_class.confusion, rtol=1e-12)
    np.testing.assert_allclose(got.lse, want.lse, rtol=1e-12)
    np.testing.assert_array_equal(got.argmax, want.argmax)
    assert got.lse.shape == y.shape and got.lse.dtype == want.lse.dtype
    with pytest.raises(ValueError, match="features"):
        fxd.linear_evaluate(H, W[:, :-1], y)
    with pytest.raises(ValueError):
        fxd.linear_evaluate(H, W, y, temperature=0.0)


@pytest.mark.parametrize("div", ["kl", "reverse_kl", "jsd"])
def test_distillation_loss_equals_in_memory(client, files, div):
    xn, xd = _mm(files, "x.npy", (700, C))
    yn, yd = _mm(files, "y.npy", 700)
    rng = np.random.default_rng(5)
    tn = (xn + rng.normal(size=xn.shape)).astype(np.float32)
    td = da.from_array(tn, chunks=(500, C))          # chunked otherwise than the student
    sw = rng.uniform(0.5, 2, N)
    kw = dict(temperature=1.7, divergence=div, beta=0.4, hard_weight=0.3, soft_weight=0.9)
    for reduction in ("mean", "sum", "none"):
        lazy = fxd.distillation_loss(xd, td, target=yd, sample_weight=da.from_array(sw, chunks=300),
                                     reduction=reduction, return_grad=True, **kw)
        got, grad = dask.compute(*lazy)
        want, wgrad = fx.distillation_loss(xn, tn, target=yn, sample_weight=sw, reduction=reduction,
                                           return_grad=True, **kw)
        if reduction == "none":
            np.testing.assert_array_equal(got, want)
        else:
            assert _rel(got, want) < 1e-12
        np.testing.assert_allclose(grad, wgrad, rtol=1e-6, atol=1e-12)
    # no target, no weights: the row count is the denominator
    got = fxd.distillation_loss(xd, td, temperature=2.0, return_grad=True)
    l2, g2 = dask.compute(*got)
    w2, wg2 = fx.distillation_loss(xn, tn, temperature=2.0, return_grad=True)
    assert _rel(l2, w2) < 1e-12
    np.testing.assert_array_equal(g2, wg2)
    with pytest.raises(ValueError, match="teacher has shape"):
        fxd.distillation_loss(xd, td[:, :-1])
    with pytest.raises(ValueError, match="needs target"):
        fxd.distillation_loss(xd, td, hard_weight=1.0)


@pytest.mark.parametrize("tail", ["bucket", "renormalize"])
def test_distillation_sparse_teacher_equals_in_memory(client, files, tail):
    xn, xd = _mm(files, "x.npy", (700, C))
    yn, yd = _mm(files, "y.npy", 700)
    rng = np.random.default_rng(6)
    t = xn.astype(np.float64) + rng.normal(size=xn.shape)
    lt = t - np.logaddexp.reduce(t, axis=1, keepdims=True)
    idx = np.argsort(-t, axis=1)[:, :8]
    lp = np.take_along_axis(lt, idx, 1).astype(np.float32)
    lazy_top = fx.SparseTeacher(da.from_array(idx, chunks=(400, 8)), da.from_array(lp, chunks=(900, 8)))
    kw = dict(temperature=1.5, divergence="jsd", tail=tail, hard_weight=0.2)
    got, grad = dask.compute(*fxd.distillation_loss(xd, lazy_top, target=yd, return_grad=True, **kw))
    want, wgrad = fx.distillation_loss(xn, fx.SparseTeacher(idx, lp), target=yn, return_grad=True, **kw)
    assert _rel(got, want) < 1e-12
    np.testing.assert_allclose(grad, wgrad, rtol=1e-6, atol=1e-12)
    rows = fxd.distillation_loss(xd, lazy_top, reduction="none", tail=tail).compute()
    np.testing.assert_array_equal(rows, fx.distillation_loss(xn, fx.SparseTeacher(idx, lp), reduction="none",
                                                             tail=tail))
    with pytest.raises(ValueError, match="must have shape"):
        fxd.distillation_loss(xd, fx.SparseTeacher(da.from_array(idx[:5]), da.from_array(lp[:5])))


@pytest.mark.parametrize("sparse", [False, True])
def test_linear_distillation_equals_in_memory(client, sparse):
    rng = np.random.default_rng(8)
    Nn, H, Vn = 900, 12, 97
    h = rng.normal(size=(Nn, H))
    W = rng.normal(size=(Vn, H)) * 0.4
    bias = rng.normal(size=Vn)
    t = h @ W.T + rng.normal(size=(Nn, Vn))
    y = rng.integers(0, Vn, Nn)
    y[::7] = -100
    if sparse:
        lt = t - np.logaddexp.reduce(t, axis=1, keepdims=True)
        idx = np.argsort(-t, axis=1)[:, :9]
        teacher = fx.SparseTeacher(idx, np.take_along_axis(lt, idx, 1))
        lazy_teacher = fx.SparseTeacher(da.from_array(idx, chunks=(400, 9)), da.from_array(teacher.logprobs, chunks=250))
    else:
        teacher, lazy_teacher = t, da.from_array(t, chunks=(350, Vn))
    kw = dict(linear_bias=bias, temperature=1.5, divergence="reverse_kl", hard_weight=0.3, chunk_size=64)
    lazy = fxd.linear_distillation_loss(da.from_array(h, chunks=(300, H)), W, lazy_teacher,
                                        target=da.from_array(y, chunks=200), return_grad=True, **kw)
    got, g = dask.compute(*lazy)
    want, wg = fx.linear_distillation_loss(h, W, teacher, target=y, return_grad=True, **kw)
    assert _rel(got, want) < 1e-12
    for a, b_ in zip(g, wg):
        np.testing.assert_allclose(a, b_, rtol=1e-9, atol=1e-12)
