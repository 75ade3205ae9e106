"""Classwise calibration (Kull et al. 2019): evaluate(classwise_bins=B)
against a written-out NumPy classwise ECE and the reference, on weighted,
ignored and NaN rows, streamed, merged, on Dask and in the CLI."""
import json
import pickle
import subprocess
import sys

import numpy as np
import pytest

import fusedxent as fx
import fusedxent.reference as R


def _written_out(x, y, w, B, ii=-100):
    """Every class's B equal-width bins of p_j over the counted rows with
    finite logits; ECE_j = sum_b |sum w [y = j] - sum w p_j| / W."""
    x = np.asarray(x, np.float64)
    keep = y != ii
    W = w[keep].sum()
    ok = keep & np.isfinite(x).all(axis=1)
    z = x[ok] - x[ok].max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    ece = []
    for j in range(x.shape[1]):
        b = np.minimum((p[:, j] * B).astype(int), B - 1)
        f = np.bincount(b, w[ok] * (y[ok] == j), B)
        c = np.bincount(b, w[ok] * p[:, j], B)
        ece.append(np.abs(f - c).sum() / W)
    return np.array(ece)


def _data(rng, N, C):
    y = rng.integers(0, C, N)
    x = rng.standard_normal((N, C)) * 2.0
    x[np.arange(N), y] += 2.0
    return x * rng.choice([0.3, 1.0, 4.0], N)[:, None], y


@pytest.mark.parametrize("C", [2, 5, 17, 300])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_classwise_matches_the_written_out_ece(isa, rng, C, dt):
    x, y = _data(rng, 2500, C)
    y[::13] = -100
    x[4, 0] = np.nan                              # counted, in no bin
    w = rng.random(len(y))
    ev = fx.evaluate(x.astype(dt), y, sample_weight=w, classwise_bins=10, calibration_bins=7)
    want = _written_out(x.astype(dt), y, w, 10)
    tol = 1e-5 if dt == np.float32 else 1e-12
    np.testing.assert_allclose(ev.classwise.class_ece, want, rtol=tol, atol=tol)
    assert ev.classwise.ece == pytest.approx(want.mean(), rel=tol, abs=tol)
    ref = R.evaluate(x.astype(dt), y, sample_weight=w, classwise_bins=10, calibration_bins=7)
    np.testing.assert_allclose(ev.classwise.weight, ref.classwise.weight, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(ev.classwise.frequency_sum, ref.classwise.frequency_sum, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(ev.classwise.confidence_sum, ref.classwise.confidence_sum, rtol=tol, atol=tol)
    assert ev.classwise.total_weight == pytest.approx(w[y != -100].sum(), rel=1e-12)
    # the other outputs are unchanged by the classwise sums riding along
    plain = fx.evaluate(x.astype(dt), y, sample_weight=w, calibration_bins=7)
    assert ev.calibration.ece == pytest.approx(plain.calibration.ece, rel=1e-9)
    assert ev.loss == pytest.approx(plain.loss, rel=1e-9, nan_ok=True)


def test_streams_merge_pickle_dask_linear(rng):
    x, y = _data(rng, 3000, 6)
    w = rng.random(3000)
    one = fx.evaluate(x, y, sample_weight=w, classwise_bins=8)
    a = fx.Evaluator(classwise_bins=8)
    for r0 in range(0, 2000, 300):
        a.update(x[r0:min(r0 + 300, 2000)], y[r0:min(r0 + 300, 2000)], w[r0:min(r0 + 300, 2000)])
    b = fx.Evaluator(classwise_bins=8).update(x[2000:], y[2000:], w[2000:])
    got = pickle.loads(pickle.dumps(a)).merge(b).result().classwise
    np.testing.assert_allclose(got.confidence_sum, one.classwise.confidence_sum, rtol=1e-12, atol=1e-12)
    assert got.ece == pytest.approx(one.classwise.ece, rel=1e-12)
    with pytest.raises(ValueError, match="classwise_bins"):
        fx.Evaluator(classwise_bins=8).merge(fx.Evaluator(classwise_bins=9))
    assert fx.Evaluator(classwise_bins=4).result().classwise.ece == 0.0          # nothing seen yet
    da = pytest.importorskip("dask.array")
    import dask
    import fusedxent.dask as fxd
    (d,) = dask.compute(fxd.evaluate(da.from_array(x, chunks=(700, 6)), da.from_array(y, chunks=700),
                                     sample_weight=w, classwise_bins=8))
    assert float(d.classwise.ece) == pytest.approx(one.classwise.ece, rel=1e-12)
    h = rng.standard_normal((400, 5))
    W = rng.standard_normal((6, 5))
    yl = np.argmax(h @ W.T + rng.standard_normal((400, 6)), axis=1)
    assert fx.linear_evaluate(h, W, yl, classwise_bins=5, chunk_size=64).classwise.ece == pytest.approx(
        fx.evaluate(h @ W.T, yl, classwise_bins=5).classwise.ece, rel=1e-9)


def test_limits(rng):
    x, y = _data(rng, 10, 3)
    for f in (fx.evaluate, R.evaluate):
        with pytest.raises(ValueError, match="classwise_bins"):
            f(x, y, classwise_bins=0)
        with pytest.raises(ValueError, match="classwise_bins"):
            f(x, y, classwise_bins=1025)
        with pytest.raises(ValueError, match="4096 classes"):
            f(np.zeros((2, 4097)), np.zeros(2, np.int64), classwise_bins=5)


def test_cli_classwise(tmp_path, rng):
    x, y = _data(rng, 2000, 5)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    r = subprocess.run([sys.executable, "-m", "fusedxent", "evaluate", str(tmp_path / "x.npy"), str(tmp_path / "y.npy"),
                        "--classwise-bins", "10", "--quiet", "--json", str(tmp_path / "m.json")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "classwise ece" in r.stdout
    doc = json.load(open(tmp_path / "m.json"))
    ev = fx.evaluate(x, y, classwise_bins=10)
    assert doc["classwise"]["ece"] == pytest.approx(ev.classwise.ece, rel=1e-12)
    np.testing.assert_allclose(doc["classwise"]["class_ece"], ev.classwise.class_ece, rtol=1e-12)
