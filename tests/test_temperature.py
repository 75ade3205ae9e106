"""fit_temperature: the kernels' moments against explicit float64 sums,
the fitted T against SciPy's optimiser on the same NLL (synthetic over- and
under-confident logits, real predictions), the file, Dask and CLI forms,
and the cases without a finite minimiser."""
import json
import subprocess
import sys

import numpy as np
import pytest

import fusedxent as fx
import fusedxent.reference as R
from fusedxent import _kernels

so = pytest.importorskip("scipy.optimize")


def _nll64(x, y, w, T):
    """The weighted mean NLL of softmax(x / T) in float64, written out."""
    z = np.asarray(x, np.float64) / T
    m = z.max(axis=1)
    lse = m + np.log(np.exp(z - m[:, None]).sum(axis=1))
    return np.sum(w * (lse - z[np.arange(len(y)), y])) / np.sum(w)


def _scipy_T(nll):
    """SciPy's bounded scalar minimiser in log T, to its tightest tolerance."""
    r = so.minimize_scalar(lambda u: nll(np.exp(u)), bounds=(np.log(1e-3), np.log(1e3)), method="bounded",
                           options=dict(xatol=1e-10))
    return float(np.exp(r.x))


def _logits(rng, N, C, scale, margin=2.5):
    y = rng.integers(0, C, N)
    x = rng.standard_normal((N, C)) * 2.0
    x[np.arange(N), y] += margin
    return x * scale, y


@pytest.mark.parametrize("C", [2, 3, 10, 17, 100, 1000, 4099])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_moments_match_explicit_sums(isa, rng, C, dt):
    N = 301
    x = (rng.standard_normal((N, C)) * 3).astype(dt)
    x[:, ::5] = -np.inf if C > 2 else x[:, ::5]          # masked classes add nothing
    y = rng.integers(0, C, N)
    if C > 2:
        y = np.where(y % 5 == 0, (y + 1) % C, y)
    y[7] = -100
    sw = rng.random(N)
    T = 0.7
    part = np.zeros((3, 8))
    _kernels.temperature_moments(x, y, sample_weight=sw, ignore_index=-100, temperature=T, partial=part,
                                 rows_per_block=128, nt=2)
    s = part.sum(axis=0)
    assert s[7] == 0                                         # no bad labels
    bad = y.copy()
    bad[[3, 200, N - 1]] = [-1, C, C + 70000]                # rows left out and counted, never read
    pb = np.zeros((3, 8))
    _kernels.temperature_moments(x, bad, sample_weight=sw, ignore_index=-100, temperature=T, partial=pb,
                                 rows_per_block=128, nt=2)
    sb = pb.sum(axis=0)
    assert sb[7] == 3
    y[[3, 200, N - 1]] = -100                                # the same rows ignored: the same sums
    part[:] = 0
    _kernels.temperature_moments(x, y, sample_weight=sw, ignore_index=-100, temperature=T, partial=part,
                                 rows_per_block=128, nt=2)
    s = part.sum(axis=0)
    np.testing.assert_array_equal(sb[:7], s[:7])
    s = s[:7]
    keep = y != -100
    z, yy, w = x[keep].astype(np.float64) / T, y[keep], sw[keep]
    m = z.max(axis=1)
    e = np.exp(z - m[:, None])
    p = e / e.sum(axis=1, keepdims=True)
    zy = z[np.arange(len(yy)), yy]
    zs = np.where(np.isfinite(z), z, 0.0)
    Ez = np.sum(p * zs, axis=1)
    want = [np.sum(w * (m + np.log(e.sum(axis=1)) - zy)), w.sum(), np.sum(w * (Ez - zy)),
            np.sum(w * (np.sum(p * zs * zs, axis=1) - Ez ** 2)), np.sum(w * (m - zy)), keep.sum(),
            np.sum(w * np.sum(p * np.where(np.isfinite(z), z - Ez[:, None], 0.0) ** 3, axis=1))]
    tol = 2e-6 if dt == np.float32 else 1e-11
    np.testing.assert_allclose(s, want, rtol=tol)


@pytest.mark.parametrize("scale", [0.3, 1.0, 1.8, 6.0])     # under- to over-confident
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_matches_scipy_on_synthetic_logits(isa, rng, scale, dt):
    x, y = _logits(rng, 4000, 12, scale)
    x = x.astype(dt)
    y[::13] = -100
    sw = rng.random(len(y)) + 0.1
    keep = y != -100
    want = _scipy_T(lambda T: _nll64(x[keep], y[keep], sw[keep], T))
    r = fx.fit_temperature(x, y, sample_weight=sw)
    assert r.temperature == pytest.approx(want, rel=1e-6)
    assert r.iterations <= 10
    assert r.loss_after == pytest.approx(_nll64(x[keep], y[keep], sw[keep], r.temperature), rel=1e-6)
    assert r.loss_before == pytest.approx(_nll64(x[keep], y[keep], sw[keep], 1.0), rel=1e-6)
    assert r.loss_after <= r.loss_before
    # the fit agrees with evaluate at that temperature, and the reference
    assert fx.evaluate(x, y, sample_weight=sw, temperature=r.temperature).loss == pytest.approx(r.loss_after, rel=1e-6)
    ref = R.fit_temperature(x, y, sample_weight=sw)
    assert ref.temperature == pytest.approx(want, rel=1e-6)


def test_matches_scipy_on_real_predictions():
    """The digits example: a logistic regression's decision function on
    held-out rows (a real, miscalibrated model)."""
    datasets = pytest.importorskip("sklearn.datasets")
    lm = pytest.importorskip("sklearn.linear_model")
    X, y = datasets.load_digits(return_X_y=True)
    clf = lm.LogisticRegression(C=10.0, max_iter=3000).fit(X[:1000], y[:1000])
    x = clf.decision_function(X[1000:])
    yt = y[1000:]
    want = _scipy_T(lambda T: _nll64(x, yt, np.ones(len(yt)), T))
    r = fx.fit_temperature(x, yt)
    assert r.temperature == pytest.approx(want, rel=1e-6)
    r32 = fx.fit_temperature(x.astype(np.float32), yt)
    assert r32.temperature == pytest.approx(want, rel=1e-5)


def test_class_axis_and_batch_shape(rng):
    x, y = _logits(rng, 600, 7, 1.5)
    x3 = np.moveaxis(x.reshape(20, 30, 7), 2, 1)             # (20, 7, 30): classes on axis 1
    r = fx.fit_temperature(x3, y.reshape(20, 30), axis=1)
    assert r.temperature == pytest.approx(fx.fit_temperature(x, y).temperature, rel=1e-12)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_binary_matches_scipy(isa, rng, dt):
    x = rng.standard_normal((3000, 4)) * 3
    t = (rng.random(x.shape) < 1 / (1 + np.exp(-x / 2.5))).astype(np.float64)
    t[:, 0] = np.clip(t[:, 0] * 0.9 + 0.05, 0, 1)            # a column of probabilities
    w = rng.random(4) + 0.5                                  # broadcast weights
    x = x.astype(dt)
    x64, wb = x.astype(np.float64), np.broadcast_to(w, x.shape)
    nll = lambda T: np.sum(wb * (np.logaddexp(0.0, x64 / T) - t * x64 / T)) / wb.sum()
    want = _scipy_T(nll)
    r = fx.fit_temperature(x, t.astype(dt), binary=True, sample_weight=w)
    assert r.temperature == pytest.approx(want, rel=1e-6)
    assert r.loss_after == pytest.approx(nll(r.temperature), rel=1e-6)
    assert R.fit_temperature(x, t.astype(dt), binary=True, sample_weight=w).temperature == \
        pytest.approx(want, rel=1e-6)


def test_no_finite_minimiser_is_an_error(rng):
    x = rng.standard_normal((50, 5))
    y = np.argmax(x, axis=1)                                 # every row right: T -> 0
    with pytest.raises(ValueError, match="T -> 0"):
        fx.fit_temperature(x, y)
    with pytest.raises(ValueError, match="T -> 0"):
        R.fit_temperature(x, y)
    y = np.argmin(x, axis=1)                                 # labels on the worst class: T -> infinity
    with pytest.raises(ValueError, match="infinity"):
        fx.fit_temperature(x, y)
    with pytest.raises(ValueError, match="infinity"):
        R.fit_temperature(x, y)
    xb = rng.standard_normal(100)
    with pytest.raises(ValueError, match="infinity"):
        fx.fit_temperature(xb, (xb < 0).astype(float), binary=True)
    with pytest.raises(ValueError, match="T -> 0"):
        fx.fit_temperature(xb, (xb > 0).astype(float), binary=True)


def test_bad_input(rng):
    x, y = _logits(rng, 40, 4, 1.0)
    xn = x.copy()
    xn[3, 1] = np.nan
    with pytest.raises(ValueError, match="not finite"):
        fx.fit_temperature(xn, y)
    yi = y.copy()
    yi[3] = -100
    xn[3, 1] = 0.0
    xn[3, 2] = np.nan                        # a NaN in an ignored row is not counted
    assert fx.fit_temperature(xn, yi).temperature == pytest.approx(
        fx.fit_temperature(np.delete(x, 3, 0), np.delete(y, 3)).temperature, rel=1e-12)
    with pytest.raises(ValueError, match="positive total weight"):
        fx.fit_temperature(x, np.full(40, -100))
    with pytest.raises(ValueError, match="tol"):
        fx.fit_temperature(x, y, tol=0)
    with pytest.raises(ValueError, match="max_iter"):
        fx.fit_temperature(x, y, max_iter=0)
    with pytest.raises(ValueError, match="ignore_index"):
        fx.fit_temperature(x[:, 0], (y > 1).astype(float), binary=True, ignore_index=3)
    for bad, v in ((12, 12), (-3, -3)):                     # labels out of range, named
        yb = y.copy()
        yb[17] = bad
        with pytest.raises(ValueError, match=f"labels value {v} at index 17 is out of range"):
            fx.fit_temperature(x, yb)
    with pytest.warns(RuntimeWarning, match="did not converge"):
        r = fx.fit_temperature(x * 5, y, max_iter=1)
    assert r.iterations == 1


def test_file_and_dask_forms_equal_the_array_form(tmp_path, rng):
    x, y = _logits(rng, 5000, 9, 2.0)
    x = x.astype(np.float32)
    y[::11] = -100
    sw = rng.random(len(y))
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    np.save(tmp_path / "w.npy", sw)
    want = fx.fit_temperature(x, y, sample_weight=sw)
    ticks = []
    got = fx.fit_temperature_file(tmp_path / "x.npy", tmp_path / "y.npy", sample_weight=tmp_path / "w.npy",
                                  batch_rows=700, progress=lambda n: (lambda: ticks.append(n)))
    assert got.temperature == pytest.approx(want.temperature, rel=1e-12)
    assert got.iterations == want.iterations
    assert len(ticks) == want.iterations * 8                 # 8 batches a pass
    y2 = y.copy()
    y2[4321] = 9
    np.save(tmp_path / "y2.npy", y2)
    with pytest.raises(ValueError, match="rows 4200..4899"):
        fx.fit_temperature_file(tmp_path / "x.npy", tmp_path / "y2.npy", batch_rows=700, progress=False)
    da = pytest.importorskip("dask.array")
    import fusedxent.dask as fxd
    got = fxd.fit_temperature(da.from_array(x, chunks=(900, 9)), da.from_array(y, chunks=1100), sample_weight=sw)
    assert got.temperature == pytest.approx(want.temperature, rel=1e-12)
    xb = (rng.standard_normal(5000) * 3).astype(np.float32)
    tb = (rng.random(5000) < 1 / (1 + np.exp(-xb / 2))).astype(np.float32)
    wb = fx.fit_temperature(xb, tb, binary=True)
    assert fxd.fit_temperature(da.from_array(xb, chunks=777), tb, binary=True).temperature == \
        pytest.approx(wb.temperature, rel=1e-12)
    np.save(tmp_path / "xb.npy", xb)
    np.save(tmp_path / "tb.npy", tb)
    assert fx.fit_temperature_file(tmp_path / "xb.npy", tmp_path / "tb.npy", binary=True, batch_rows=999,
                                   progress=False).temperature == pytest.approx(wb.temperature, rel=1e-12)


def test_cli_fit_temperature(tmp_path, rng):
    x, y = _logits(rng, 3000, 6, 2.0)
    np.save(tmp_path / "x.npy", x.astype(np.float32))
    np.save(tmp_path / "y.npy", y)
    r = subprocess.run([sys.executable, "-m", "fusedxent", "evaluate", str(tmp_path / "x.npy"),
                        str(tmp_path / "y.npy"), "--fit-temperature", "--bins", "10", "--quiet",
                        "--json", str(tmp_path / "m.json")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "fitted temperature" in r.stdout
    doc = json.load(open(tmp_path / "m.json"))
    fit = fx.fit_temperature(x.astype(np.float32), y)
    assert doc["temperature_fit"]["temperature"] == pytest.approx(fit.temperature, rel=1e-12)
    after = fx.evaluate(x.astype(np.float32), y, temperature=fit.temperature, calibration_bins=10)
    assert doc["temperature_fit"]["after"]["loss"] == pytest.approx(after.loss, rel=1e-9)
    assert doc["temperature_fit"]["after"]["calibration"]["ece"] == pytest.approx(after.calibration.ece, rel=1e-9)
    assert doc["temperature_fit"]["after"]["calibration"]["ece"] < doc["calibration"]["ece"]
    r = subprocess.run([sys.executable, "-m", "fusedxent", "evaluate", str(tmp_path / "x.npy"),
                        str(tmp_path / "y.npy"), "--fit-temperature", "--temperature", "2", "--quiet"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "--fit-temperature" in r.stderr


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_binary_moments_match_explicit_sums(rng, dt):
    x = (rng.standard_normal(5000) * 4).astype(dt)
    x[:3] = [0.0, 40.0, -40.0]
    t = rng.random(5000).astype(dt)
    w = rng.random(5000)
    part = np.zeros((2, 7))
    _kernels.binary_temperature_moments(x, t, weight=w, temperature=0.8, partial=part, block=2500, nt=2)
    x64, t64 = x.astype(np.float64), t.astype(np.float64)
    z = x64 / 0.8
    sg = 1 / (1 + np.exp(-z))
    want = [np.sum(w * (np.logaddexp(0, z) - t64 * z)), w.sum(), np.sum(w * (sg - t64) * x64),
            np.sum(w * sg * (1 - sg) * x64 ** 2), np.sum(w * (np.maximum(x64, 0) - t64 * x64)),
            np.sum(w * (0.5 - t64) * x64), np.sum(w * sg * (1 - sg) * (1 - 2 * sg) * x64 ** 3)]
    np.testing.assert_allclose(part.sum(axis=0), want, rtol=1e-12)
