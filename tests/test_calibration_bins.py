"""Equal-mass ("quantile") calibration bins: the fine-histogram edges and
ECE against the exact equal-mass bins (scikit-learn's calibration_curve
placement, and the reference's weighted sort), streamed, merged, on Dask
and in the CLI."""
import json
import subprocess
import sys

import numpy as np
import pytest

import fusedxent as fx
import fusedxent.reference as R
from fusedxent import _calibration as CAL


def _mixed(rng, N, C):
    """Logits whose calibration gap changes sign along the confidence (so
    the ECE depends on where the edges fall): per-row temperatures."""
    y = rng.integers(0, C, N)
    x = rng.standard_normal((N, C)) * 2.0
    x[np.arange(N), y] += 2.0
    return x * rng.choice([0.4, 1.0, 4.0], N)[:, None], y


def _exact_ece(conf, hit, B):
    """scikit-learn's quantile placement, written out: edges at
    np.percentile, bins by searchsorted (as calibration_curve)."""
    edges = np.percentile(conf, np.linspace(0, 100, B + 1))
    ids = np.searchsorted(edges[1:-1], conf)
    return np.sum(np.abs(np.bincount(ids, hit, B) - np.bincount(ids, conf, B))) / len(conf), edges


@pytest.mark.parametrize("B", [10, 15])
def test_class_quantile_bins_match_the_exact_ones(isa, rng, B):
    x, y = _mixed(rng, 60000, 12)
    ev = fx.evaluate(x.astype(np.float32), y, calibration_bins=B, calibration_strategy="quantile")
    p = R.softmax(x)
    conf, hit = p.max(axis=1), (p.argmax(axis=1) == y).astype(float)
    want, edges = _exact_ece(conf, hit, B)
    cal = ev.calibration
    assert abs(cal.ece - want) <= 1e-3
    assert abs(cal.ece - R.evaluate(x, y, calibration_bins=B, calibration_strategy="quantile").calibration.ece) <= 1e-3
    np.testing.assert_allclose(cal.edges[1:-1], edges[1:-1], rtol=0, atol=2e-3)
    np.testing.assert_allclose(cal.weight, len(y) / B, rtol=1e-2)     # equal mass, to a fine bin or two
    assert cal.edges[0] == 0.0 and cal.edges[-1] == 1.0
    sk = pytest.importorskip("sklearn.calibration")
    pt, pp = sk.calibration_curve(hit, conf, n_bins=B, strategy="quantile")
    np.testing.assert_allclose(cal.accuracy, pt, atol=2e-2)           # the same bins to a few rows
    np.testing.assert_allclose(cal.confidence, pp, atol=2e-3)


def test_weighted_and_ignored_rows_against_the_reference(rng):
    x, y = _mixed(rng, 40000, 7)
    y[::9] = -100
    x[5, 2] = np.nan                                   # a NaN row: counted, in no bin
    sw = rng.random(len(y)) * 2
    opts = dict(sample_weight=sw, calibration_bins=12, calibration_strategy="quantile")
    ev, er = fx.evaluate(x, y, **opts), R.evaluate(x, y, **opts)
    assert abs(ev.calibration.ece - er.calibration.ece) <= 1e-3
    assert abs(ev.calibration.rmsce - er.calibration.rmsce) <= 2e-3
    assert ev.calibration.total_weight == pytest.approx(er.calibration.total_weight, rel=1e-12)
    np.testing.assert_allclose(ev.calibration.edges, er.calibration.edges, atol=2e-3)
    np.testing.assert_allclose(ev.calibration.weight.sum(), er.calibration.weight.sum(), rtol=1e-12)


@pytest.mark.parametrize("scale", [0.5, 6.0, 40.0])               # near 1/2 to confident within 1e-12 of 0 and 1
def test_binary_quantile_bins_match_the_exact_ones(isa, rng, scale):
    xb = rng.standard_normal(200000) * scale
    t = (rng.random(xb.size) < 1 / (1 + np.exp(-xb / 1.5))).astype(np.float64)
    bv = fx.evaluate_binary(xb.astype(np.float32), t, calibration_bins=10, calibration_strategy="quantile")
    p = 1 / (1 + np.exp(-xb))
    want, edges = _exact_ece(p, t, 10)
    assert abs(bv.calibration.ece - want) <= 1e-3
    w = rng.random(xb.size)
    opts = dict(sample_weight=w, calibration_bins=10, calibration_strategy="quantile")
    assert abs(fx.evaluate_binary(xb, t, **opts).calibration.ece - R.evaluate_binary(xb, t, **opts).calibration.ece) <= 1e-3


def test_streams_and_merges_equal_one_pass(rng):
    x, y = _mixed(rng, 9000, 6)
    opts = dict(calibration_bins=15, calibration_strategy="quantile")
    one = fx.evaluate(x, y, **opts).calibration
    a, b = fx.Evaluator(**opts), fx.Evaluator(**opts)
    for r0 in range(0, 5000, 700):
        a.update(x[r0:min(r0 + 700, 5000)], y[r0:min(r0 + 700, 5000)])
    b.update(x[5000:], y[5000:])
    import pickle
    got = pickle.loads(pickle.dumps(a)).merge(b).result().calibration
    np.testing.assert_array_equal(got.edges, one.edges)
    np.testing.assert_allclose([got.weight, got.confidence_sum, got.correct_sum],
                               [one.weight, one.confidence_sum, one.correct_sum], rtol=1e-12)
    with pytest.raises(ValueError, match="calibration_strategy"):
        fx.Evaluator(calibration_bins=15).merge(fx.Evaluator(**opts))
    xb, tb = x[:, 0], (y % 2).astype(float)
    bo = dict(calibration_bins=8, calibration_strategy="quantile")
    e1 = fx.BinaryEvaluator(**bo).update(xb[:4000], tb[:4000]).merge(fx.BinaryEvaluator(**bo).update(xb[4000:], tb[4000:]))
    assert e1.result().calibration.ece == pytest.approx(fx.evaluate_binary(xb, tb, **bo).calibration.ece, rel=1e-12)
    with pytest.raises(ValueError, match="calibration_strategy"):
        fx.BinaryEvaluator(calibration_bins=8).merge(fx.BinaryEvaluator(**bo))


def test_bad_strategy_and_dask(rng):
    x, y = _mixed(rng, 3000, 5)
    for f in (fx.evaluate, R.evaluate):
        with pytest.raises(ValueError, match="calibration_strategy"):
            f(x, y, calibration_strategy="equal")
    with pytest.raises(ValueError, match="calibration_strategy"):
        fx.evaluate_binary(x[:, 0], (y % 2).astype(float), calibration_strategy="kmeans")
    da = pytest.importorskip("dask.array")
    import dask
    import fusedxent.dask as fxd
    opts = dict(calibration_bins=9, calibration_strategy="quantile")
    (ed,) = dask.compute(fxd.evaluate(da.from_array(x, chunks=(700, 5)), da.from_array(y, chunks=700), **opts))
    em = fx.evaluate(x, y, **opts)
    np.testing.assert_allclose(ed.calibration.edges, em.calibration.edges, rtol=1e-12)
    assert float(ed.calibration.ece) == pytest.approx(em.calibration.ece, rel=1e-12)
    xb, tb = x[:, 0], (y % 2).astype(float)
    (bd,) = dask.compute(fxd.evaluate_binary(da.from_array(xb, chunks=900), tb, **opts))
    assert float(bd.calibration.ece) == pytest.approx(fx.evaluate_binary(xb, tb, **opts).calibration.ece, rel=1e-12)
    h = rng.standard_normal((500, 8))
    W = rng.standard_normal((6, 8))
    yl = np.argmax(h @ W.T + rng.standard_normal((500, 6)), axis=1)
    lv = fx.linear_evaluate(h, W, yl, **opts)
    assert lv.calibration.ece == pytest.approx(fx.evaluate(h @ W.T, yl, **opts).calibration.ece, rel=1e-9)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_fine_histogram_bins_the_logit(isa, dt):
    """The kernels' fine bin of a confidence is that of its logit: -log(s)
    for a softmax row (here two classes, s = exp(-u)), x for a sigmoid."""
    from fusedxent import _kernels
    u = np.array([-30.0, -1.0, 0.0, 0.3, 13.8, 30.0, 50.0, np.nan])
    lo, sc = CAL.logit_args()
    want = np.clip(np.floor((u - lo) * sc), 0, CAL.FINE_BINS - 1)
    x = np.stack([u, np.zeros_like(u)], axis=1).astype(dt)       # the top class first: s = exp(-u) for u >= 0
    y = np.zeros(len(u), np.int64)
    N = len(u)
    conf, rbin = np.empty(N), np.empty(N, np.int64)
    _kernels.evaluate(x, y, ignore_index=-100, lse_out=np.empty(N, dt), argmax_out=np.empty(N, np.int64),
                      confidence_out=conf, bin_out=rbin, bins=CAL.FINE_BINS, partial=np.zeros((1, 6)),
                      rows_per_block=N, nt=1, logit_lo=lo, logit_scale=sc)
    pos = u >= 0
    np.testing.assert_array_equal(rbin[pos], want[pos])
    assert rbin[-1] == -1                                        # a NaN row is in no bin
    part = np.zeros((1, 4 + 4 * CAL.FINE_BINS))                    # bins of (w, w p, w t, 0)
    xb = u.astype(dt)
    _kernels.evaluate_binary(xb, np.ones(N, dt), bins=CAL.FINE_BINS, partial=part, block=N, nt=1, logit_lo=lo,
                             logit_scale=sc)
    got = np.flatnonzero(part[0, 4:].reshape(CAL.FINE_BINS, 4)[:, 0])
    np.testing.assert_array_equal(got, np.unique(want[:-1]).astype(np.int64))


def test_cli_bins_strategy(tmp_path, rng):
    x, y = _mixed(rng, 4000, 5)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    r = subprocess.run([sys.executable, "-m", "fusedxent", "evaluate", str(tmp_path / "x.npy"), str(tmp_path / "y.npy"),
                        "--bins", "10", "--bins-strategy", "quantile", "--quiet", "--json", str(tmp_path / "m.json")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    doc = json.load(open(tmp_path / "m.json"))
    ev = fx.evaluate(x, y, calibration_bins=10, calibration_strategy="quantile")
    assert doc["calibration"]["strategy"] == "quantile"
    np.testing.assert_allclose(doc["calibration"]["edges"], ev.calibration.edges, rtol=1e-12)
    assert doc["calibration"]["ece"] == pytest.approx(ev.calibration.ece, rel=1e-12)
