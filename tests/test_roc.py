"""evaluate_binary(roc_bins=R): AUROC and average precision from logit
bins against scikit-learn's exact values (weighted, any spread, confident
scores within 1e-12 of 0 and 1), the curves, streaming, Dask, the CLI."""
import json
import subprocess
import sys

import numpy as np
import pytest

import fusedxent as fx
import fusedxent.reference as R

metrics = pytest.importorskip("sklearn.metrics")


def _scores(rng, n, spread):
    x = rng.standard_normal(n) * spread
    t = (rng.random(n) < 1 / (1 + np.exp(-x / (0.5 + spread / 2)))).astype(np.float64)
    return x, t


@pytest.mark.parametrize("spread", [0.5, 2.0, 8.0, 12.0])        # logits beyond +-36 share the end bins
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_auroc_and_ap_match_scikit_learn(isa, rng, spread, dt):
    x, t = _scores(rng, 100000, spread)
    x = x.astype(dt)
    w = rng.random(x.size)
    roc = fx.evaluate_binary(x, t, sample_weight=w, roc_bins=4096).roc
    assert abs(roc.auroc - metrics.roc_auc_score(t, x, sample_weight=w)) <= 1e-3
    assert abs(roc.average_precision - metrics.average_precision_score(t, x, sample_weight=w)) <= 2e-3
    # the reference bins in double, the kernels in the logits' type: an
    # element on a bin boundary may land in the neighbouring bin
    ref = R.evaluate_binary(x, t, sample_weight=w, roc_bins=4096).roc
    assert roc.positive.sum() == pytest.approx(ref.positive.sum(), rel=1e-12)
    assert roc.negative.sum() == pytest.approx(ref.negative.sum(), rel=1e-12)
    assert roc.auroc == pytest.approx(ref.auroc, abs=1e-5)
    assert roc.average_precision == pytest.approx(ref.average_precision, abs=1e-5)


def test_curves_are_scikit_learns_on_distinct_bins(rng):
    """Scores one to a bin: the binned curves are the exact ones."""
    x = np.linspace(-20, 20, 400)[rng.permutation(400)]
    t = (rng.random(400) < 1 / (1 + np.exp(-x / 5))).astype(float)
    roc = fx.evaluate_binary(x, t, roc_bins=2048).roc
    fpr, tpr, _ = metrics.roc_curve(t, x, drop_intermediate=False)
    keep = np.r_[True, (np.diff(roc.fpr) != 0) | (np.diff(roc.tpr) != 0)]
    np.testing.assert_allclose(roc.fpr[keep], fpr, atol=1e-12)
    np.testing.assert_allclose(roc.tpr[keep], tpr, atol=1e-12)
    assert roc.auroc == pytest.approx(metrics.roc_auc_score(t, x), abs=1e-12)
    assert roc.average_precision == pytest.approx(metrics.average_precision_score(t, x), abs=1e-12)
    assert np.all(np.diff(roc.thresholds) < 0) and roc.precision[0] == 1.0


def test_confident_scores_stay_apart(rng):
    """Probabilities within 1e-12 of 0 and 1: binned in the logit they keep
    their order (binned in p they would all share the end bins)."""
    x = np.concatenate([rng.uniform(20, 28, 5000), rng.uniform(-28, -20, 5000)])
    t = np.concatenate([rng.random(5000) < 0.98, rng.random(5000) < 0.02]).astype(float)
    t[:200] = (x[:200] > 24)                                  # order inside the confident group matters
    roc = fx.evaluate_binary(x, t, roc_bins=4096).roc
    assert abs(roc.auroc - metrics.roc_auc_score(t, x)) <= 1e-3


@pytest.mark.parametrize("cal", [(10, "uniform"), (200, "uniform"), (15, "quantile")])
@pytest.mark.parametrize("R", [32, 4096])                    # on the stack / in the caller's histogram
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_calibration_and_roc_in_one_pass_equal_each_alone(isa, rng, cal, R, dt):
    x, t = _scores(rng, 50001, 4.0)
    x = x.astype(dt)
    x[7] = np.nan
    w = rng.random(x.size)
    B, strategy = cal
    both = fx.evaluate_binary(x, t, sample_weight=w, calibration_bins=B, calibration_strategy=strategy, roc_bins=R)
    roc = fx.evaluate_binary(x, t, sample_weight=w, roc_bins=R).roc
    calib = fx.evaluate_binary(x, t, sample_weight=w, calibration_bins=B, calibration_strategy=strategy)
    np.testing.assert_allclose(both.roc.positive, roc.positive, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(both.roc.negative, roc.negative, rtol=1e-12, atol=1e-9)
    for f in ("edges", "weight", "confidence_sum", "correct_sum"):
        np.testing.assert_allclose(getattr(both.calibration, f), getattr(calib.calibration, f), rtol=1e-12,
                                   atol=1e-12, err_msg=f)
    np.testing.assert_allclose(both[:4], calib[:4], rtol=1e-12)     # loss (NaN: the NaN logit), accuracy, count, Brier


def test_stream_merge_dask_and_errors(rng):
    x, t = _scores(rng, 20000, 3.0)
    opts = dict(roc_bins=1000, calibration_bins=10)
    one = fx.evaluate_binary(x, t, **opts)
    ev = fx.BinaryEvaluator(**opts).update(x[:7000], t[:7000]).merge(fx.BinaryEvaluator(**opts).update(x[7000:], t[7000:]))
    got = ev.result()
    assert got.roc.auroc == pytest.approx(one.roc.auroc, rel=1e-12)
    assert got.calibration.ece == pytest.approx(one.calibration.ece, rel=1e-12)
    assert one.loss == pytest.approx(fx.evaluate_binary(x, t).loss, rel=1e-12)      # the two passes agree
    with pytest.raises(ValueError, match="roc_bins"):
        fx.BinaryEvaluator(roc_bins=10).merge(fx.BinaryEvaluator(roc_bins=20))
    for bad in (0, -1, 1 << 20):
        with pytest.raises(ValueError, match="roc_bins"):
            fx.evaluate_binary(x, t, roc_bins=bad)
    assert np.isnan(fx.evaluate_binary(x, np.ones_like(t), roc_bins=10).roc.auroc)   # one class only
    da = pytest.importorskip("dask.array")
    import dask
    import fusedxent.dask as fxd
    (d,) = dask.compute(fxd.evaluate_binary(da.from_array(x, chunks=3000), t, **opts))
    assert float(d.roc.auroc) == pytest.approx(one.roc.auroc, rel=1e-12)
    assert float(d.calibration.ece) == pytest.approx(one.calibration.ece, rel=1e-12)


def test_cli_roc(tmp_path, rng):
    x, t = _scores(rng, 5000, 3.0)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "t.npy", t)
    cmd = [sys.executable, "-m", "fusedxent", "evaluate", str(tmp_path / "x.npy"), str(tmp_path / "t.npy"),
           "--binary", "--quiet", "--json", str(tmp_path / "m.json")]
    pytest.importorskip("matplotlib")
    r = subprocess.run(cmd + ["--plot-roc", str(tmp_path / "roc.png")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "auroc" in r.stdout and (tmp_path / "roc.png").stat().st_size > 1000
    doc = json.load(open(tmp_path / "m.json"))
    assert doc["roc"]["auroc"] == pytest.approx(fx.evaluate_binary(x, t, roc_bins=4096).roc.auroc, rel=1e-12)
    y = (x > 0).astype(np.int64)
    np.save(tmp_path / "xc.npy", np.stack([x, -x], axis=1))
    np.save(tmp_path / "y.npy", y)
    r = subprocess.run([sys.executable, "-m", "fusedxent", "evaluate", str(tmp_path / "xc.npy"), str(tmp_path / "y.npy"),
                        "--roc-bins", "100"], capture_output=True, text=True)
    assert r.returncode == 2 and "--binary" in r.stderr
