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
