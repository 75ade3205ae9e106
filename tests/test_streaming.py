"""Evaluator (streaming evaluate), evaluate_file over memmaps, threadpoolctl."""
import pickle

import numpy as np
import pytest

import fusedxent as fx


def _data(seed=0, N=1000, C=13, dtype=np.float32):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((N, C)) * 3).astype(dtype)
    y = rng.integers(0, C, N)
    y[::7] = -100
    sw = rng.random(N)
    return x, y, sw


@pytest.mark.parametrize("cuts", [[1000], [1, 999], [333, 333, 334], [0, 500, 0, 500], [7] * 142 + [6]])
def test_evaluator_equals_one_call(cuts):
    x, y, sw = _data()
    want = fx.evaluate(x, y, sample_weight=sw)
    ev = fx.Evaluator()
    r0 = 0
    for n in cuts:
        ev.update(x[r0:r0 + n], y[r0:r0 + n], sample_weight=sw[r0:r0 + n])
        r0 += n
    got = ev.result()
    assert got.count == want.count
    assert got.loss == pytest.approx(want.loss, rel=1e-12)
    assert got.accuracy == pytest.approx(want.accuracy, rel=1e-12)
    assert np.array_equal(got.argmax, want.argmax) and np.array_equal(got.lse, want.lse)


def test_evaluator_merge_and_pickle():
    x, y, _ = _data(1)
    a, b = fx.Evaluator(), fx.Evaluator()
    a.update(x[:600], y[:600])
    b.update(x[600:], y[600:])
    b2 = pickle.loads(pickle.dumps(b))
    merged = pickle.loads(pickle.dumps(a)).merge(b2).result()
    want = fx.evaluate(x, y)
    assert merged.loss == pytest.approx(want.loss, rel=1e-12) and merged.count == want.count
    assert np.array_equal(merged.argmax, want.argmax)
    with pytest.raises(TypeError):
        a.merge(3)


def test_evaluate_file_memmap(tmp_path):
    x, y, _ = _data(2, N=5000, C=37)
    np.save(tmp_path / "logits.npy", x)
    np.save(tmp_path / "labels.npy", y)
    got = fx.evaluate_file(tmp_path / "logits.npy", tmp_path / "labels.npy", batch_rows=777, progress=False)
    want = fx.evaluate(x, y)
    assert got.loss == pytest.approx(want.loss, rel=1e-12) and got.accuracy == want.accuracy
    assert got.lse is None
    with pytest.raises(ValueError, match="labels must have shape"):
        fx.evaluate_file(tmp_path / "logits.npy", y[:10])


def test_threadpoolctl_limits_the_kernels():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from fusedxent import _kernels
    with threadpoolctl.threadpool_limits(1):
        assert _kernels.max_threads() == 1
    assert _kernels.max_threads() >= 1


# ------------------------------------------------------------------ class counts must agree

def test_evaluator_rejects_another_class_count():
    x1, y1, _ = _data(3, N=100, C=10)
    x2, y2, _ = _data(4, N=5, C=7)
    e1 = fx.Evaluator().update(x1, y1)
    with pytest.raises(ValueError, match=r"7 classes.*10|10 classes.*7"):
        e1.update(x2, y2)
    assert e1.result().count == fx.evaluate(x1, y1).count        # the bad batch left no trace
    e2 = fx.Evaluator().update(x2, y2)
    with pytest.raises(ValueError, match=r"7 classes.*10|10 classes.*7"):
        e1.merge(e2)
    assert e1.result().count == fx.evaluate(x1, y1).count
    # an empty evaluator merges with anything; the class count survives pickling
    e3 = pickle.loads(pickle.dumps(fx.Evaluator().merge(e2)))
    with pytest.raises(ValueError, match="classes"):
        e3.update(x1, y1)
    assert fx.Evaluator().merge(fx.Evaluator()).result().count == 0
    # the class axis is the configured one
    e4 = fx.Evaluator(axis=0).update(x1.T, y1)
    with pytest.raises(ValueError, match="classes"):
        e4.update(x1, y1[:10])


# ------------------------------------------------------------------ damaged and foreign files

def test_evaluate_file_damaged_inputs(tmp_path):
    x, y, _ = _data(5, N=300, C=9)
    good = tmp_path / "x.npy"
    np.save(good, x)
    ypath = tmp_path / "y.npy"
    np.save(ypath, y)
    raw = good.read_bytes()

    trunc = tmp_path / "truncated.npy"
    trunc.write_bytes(raw[:-100])
    with pytest.raises(ValueError, match=r"truncated\.npy.*truncated.*expected %d bytes.*%d" % (len(raw), len(raw) - 100)):
        fx.evaluate_file(trunc, ypath)

    notnpy = tmp_path / "notnpy.npy"
    notnpy.write_bytes(b"hello, this is not numpy" * 10)
    with pytest.raises(ValueError, match=r"notnpy\.npy.*not a \.npy file.*magic"):
        fx.evaluate_file(notnpy, ypath)

    obj = tmp_path / "object.npy"
    np.save(obj, np.array([[1, "a"]], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"object\.npy.*object.*not supported"):
        fx.evaluate_file(obj, ypath)

    npz = tmp_path / "arrays.npz"
    np.savez(npz, x=x)
    with pytest.raises(ValueError, match=r"arrays\.npz.*\.npz archive"):
        fx.evaluate_file(npz, ypath)

    # the labels file is checked the same way, before any work
    ytrunc = tmp_path / "ytrunc.npy"
    ytrunc.write_bytes(ypath.read_bytes()[:-8])
    with pytest.raises(ValueError, match=r"ytrunc\.npy.*truncated"):
        fx.evaluate_file(good, ytrunc)
    with pytest.raises(FileNotFoundError, match="missing"):
        fx.evaluate_file(tmp_path / "missing.npy", ypath)
    # a float labels file says what it holds
    yf = tmp_path / "yfloat.npy"
    np.save(yf, y.astype(float))
    with pytest.raises(TypeError, match="labels"):
        fx.evaluate_file(good, yf)


def test_evaluator_takes_bfloat16_batches():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    x, y, sw = _data(6, N=1000, C=21)
    xb = x.astype(ml_dtypes.bfloat16)
    want = fx.evaluate(xb, y, sample_weight=sw)
    ev = fx.Evaluator()
    for r0 in range(0, 1000, 300):
        ev.update(xb[r0:r0 + 300], y[r0:r0 + 300], sample_weight=sw[r0:r0 + 300])
    got = ev.result()
    assert got.loss == pytest.approx(want.loss, rel=1e-12) and got.count == want.count
    assert got.lse.dtype == xb.dtype
    np.testing.assert_array_equal(got.lse.view(np.uint16), want.lse.view(np.uint16))
