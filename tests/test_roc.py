"""evaluate_binary(roc_bins=R): AUROC and average precision from logit
bins against scikit-learn's exact values (weighted, any spread, confident
scores within 1e-12 of 0 and 1), the curves, streaming, Dask, the CLI;
evaluate(roc_bins=R): one-vs-rest macro AUROC of class logits likewise."""
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
                        "--plot-roc", str(tmp_path / "no.png")], capture_output=True, text=True)
    assert r.returncode == 2 and "--binary" in r.stderr


# ---------------------------------------------------------------- one-vs-rest AUROC of class logits

def _class_logits(rng, n, C, spread):
    x = rng.standard_normal((n, C)) * spread
    y = rng.integers(0, C, n)
    x[np.arange(n), y] += rng.uniform(0, 2 * spread, n)       # better than chance, not perfect
    return x, y


def _exact_ovr(x, y, w):
    """scikit-learn's per-class AUROC on an exact score of p_j in float64
    (the logit, 1 - p of the top class from the other terms: confident
    rows stay apart where p itself rounds to 1), macro-averaged."""
    m = x.max(axis=1, keepdims=True)
    e = np.exp(x - m)
    top = np.arange(x.shape[1]) == np.argmax(x, axis=1)[:, None]
    rest = np.sum(np.where(top, 0.0, e), axis=1, keepdims=True)    # the top class's 1 - p, times S
    S = e.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        u = (x - m) - np.log(np.where(top, rest, S - e))           # S - e: the other classes' terms
    u = np.nan_to_num(u, posinf=1e300, neginf=-1e300)
    return np.mean([metrics.roc_auc_score(y == j, u[:, j], sample_weight=w) for j in range(x.shape[1])])


@pytest.mark.parametrize("spread", [0.5, 3.0, 12.0])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_ovr_auroc_matches_scikit_learn(isa, rng, spread, dt):
    x, y = _class_logits(rng, 6000, 23, spread)
    x = x.astype(dt)
    w = rng.random(len(y))
    roc = fx.evaluate(x, y, sample_weight=w, roc_bins=4096).roc
    assert isinstance(roc, fx.OneVsRest) and roc.positive.shape == (23, 4096)
    assert abs(roc.auroc - _exact_ovr(x.astype(np.float64), y, w)) <= 1e-3
    if spread < 12:                        # probabilities that do not round to 1: scikit-learn's own input
        p = np.exp(x - x.max(axis=1, keepdims=True).astype(np.float64))
        p /= p.sum(axis=1, keepdims=True)
        want = metrics.roc_auc_score(y, p, multi_class="ovr", average="macro", sample_weight=w)
        assert abs(roc.auroc - want) <= 1e-3
    ref = R.evaluate(x, y, sample_weight=w, roc_bins=4096).roc
    np.testing.assert_allclose(roc.positive.sum(axis=1), ref.positive.sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(roc.negative.sum(axis=1), ref.negative.sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(roc.class_auroc, ref.class_auroc, atol=1e-5)


def test_ovr_confident_rows_stay_apart(rng):
    """Top-class probabilities within 1e-9 of 1: binned in p they would
    share the last bin; the score keeps their order."""
    n, C = 4000, 5
    y = rng.integers(0, C, n)
    x = rng.standard_normal((n, C))
    x[np.arange(n), y] += rng.uniform(21, 30, n)
    flip = rng.random(n) < 0.3                           # the wrong class confident too, by a margin
    yw = (y + 1) % C
    x[flip, yw[flip]] = x[flip, y[flip]] - rng.uniform(-3, 3, flip.sum())
    roc = fx.evaluate(x, y, roc_bins=4096).roc
    assert abs(roc.auroc - _exact_ovr(x, y, None)) <= 1e-3
    assert 0.5 < roc.auroc < 0.999


def test_ovr_rows_and_classes_left_out(rng):
    x, y = _class_logits(rng, 3000, 6, 2.0)
    y[::7] = -100                          # ignored
    x[3, 2] = np.nan                       # no finite lse: in no bin
    x[4, 1] = np.inf
    y[y == 5] = 0                          # class 5 never a label: NaN, out of the macro mean
    roc = fx.evaluate(x, y, roc_bins=512).roc
    keep = (y != -100) & np.isfinite(x).all(axis=1)
    assert roc.positive.sum() == keep.sum() and roc.negative.sum() == 5 * keep.sum()
    assert np.isnan(roc.class_auroc[5]) and not np.isnan(roc.class_auroc[:5]).any()
    assert roc.auroc == pytest.approx(np.mean(roc.class_auroc[:5]), rel=1e-15)
    sub = fx.evaluate(x[keep], y[keep], roc_bins=512).roc
    np.testing.assert_array_equal(roc.positive, sub.positive)
    np.testing.assert_array_equal(roc.negative, sub.negative)
    assert roc.class_roc(2).auroc == pytest.approx(roc.class_auroc[2], rel=1e-12)


def test_ovr_threads_transforms_and_16_bit(rng):
    x, y = _class_logits(rng, 5000, 40, 3.0)        # 3 groups of 16 classes
    w = rng.random(len(y))
    one = fx.evaluate(x, y, sample_weight=w, roc_bins=1024, num_threads=1).roc
    two = fx.evaluate(x, y, sample_weight=w, roc_bins=1024, num_threads=2).roc
    np.testing.assert_array_equal(one.positive, two.positive)             # bitwise: classes per task
    np.testing.assert_array_equal(one.negative, two.negative)
    for tf in (dict(temperature=0.6), dict(softcap=5.0, temperature=1.4)):
        got = fx.evaluate(x, y, roc_bins=2048, **tf).roc
        ref = R.evaluate(x, y, roc_bins=2048, **tf).roc
        np.testing.assert_array_equal(got.positive, ref.positive)
        assert got.auroc == pytest.approx(ref.auroc, abs=1e-12)
    h = x.astype(np.float16)
    got = fx.evaluate(h, y, roc_bins=2048).roc
    ref = R.evaluate(h.astype(np.float32), y, roc_bins=2048).roc
    assert got.auroc == pytest.approx(ref.auroc, abs=1e-5)
    ml = pytest.importorskip("ml_dtypes")
    b = x.astype(ml.bfloat16)
    got = fx.evaluate(b, y, roc_bins=2048).roc
    ref = R.evaluate(b.astype(np.float32), y, roc_bins=2048).roc
    assert got.auroc == pytest.approx(ref.auroc, abs=1e-5)


def test_ovr_stream_merge_pickle_linear_dask_and_errors(rng):
    import pickle
    x, y = _class_logits(rng, 4000, 12, 2.0)
    w = rng.random(len(y))
    opts = dict(roc_bins=1000, calibration_bins=10)
    one = fx.evaluate(x, y, sample_weight=w, **opts)
    a = fx.Evaluator(**opts).update(x[:1500], y[:1500], w[:1500])
    b = pickle.loads(pickle.dumps(fx.Evaluator(**opts).update(x[1500:], y[1500:], w[1500:])))
    got = a.merge(b).result()
    np.testing.assert_allclose(got.roc.positive, one.roc.positive, rtol=1e-12)
    np.testing.assert_allclose(got.roc.negative, one.roc.negative, rtol=1e-12)
    assert got.roc.auroc == pytest.approx(one.roc.auroc, rel=1e-12)
    empty = fx.Evaluator(roc_bins=64).result()
    assert empty.roc.positive.shape == (0, 64) and np.isnan(empty.roc.auroc)
    with pytest.raises(ValueError, match="roc_bins"):
        fx.Evaluator(roc_bins=10).merge(fx.Evaluator(roc_bins=20))
    h = rng.standard_normal((300, 16))
    W = rng.standard_normal((12, 16)) / 2
    lin = fx.linear_evaluate(h, W, y[:300], roc_bins=256, chunk_size=70)
    mat = fx.evaluate(h @ W.T, y[:300], roc_bins=256)
    assert lin.roc.auroc == pytest.approx(mat.roc.auroc, abs=1e-9)
    with pytest.raises(ValueError, match="1024 classes"):
        fx.evaluate(np.zeros((2, 1025)), np.zeros(2, np.int64), roc_bins=8)
    with pytest.raises(ValueError, match="classes x roc_bins"):
        fx.evaluate(np.zeros((2, 1024)), np.zeros(2, np.int64), roc_bins=8192)
    for bad in (0, -1, 1 << 20):
        with pytest.raises(ValueError, match="roc_bins"):
            fx.evaluate(x, y, roc_bins=bad)
    da = pytest.importorskip("dask.array")
    import dask
    import fusedxent.dask as fxd
    (d,) = dask.compute(fxd.evaluate(da.from_array(x, chunks=(1000, 12)), y, sample_weight=w, **opts))
    np.testing.assert_allclose(d.roc.positive, one.roc.positive, rtol=1e-12)
    assert float(d.roc.auroc) == pytest.approx(one.roc.auroc, rel=1e-12)
    (dl,) = dask.compute(fxd.linear_evaluate(da.from_array(h, chunks=(100, 16)), W, y[:300], roc_bins=256))
    assert float(dl.roc.auroc) == pytest.approx(lin.roc.auroc, rel=1e-12)


def test_cli_ovr(tmp_path, rng):
    x, y = _class_logits(rng, 3000, 7, 2.0)
    np.save(tmp_path / "x.npy", x.astype(np.float32))
    np.save(tmp_path / "y.npy", y)
    r = subprocess.run([sys.executable, "-m", "fusedxent", "evaluate", str(tmp_path / "x.npy"), str(tmp_path / "y.npy"),
                        "--roc-bins", "4096", "--quiet", "--json", str(tmp_path / "m.json"), "--batch-rows", "1000"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "auroc (ovr macro)" in r.stdout
    doc = json.load(open(tmp_path / "m.json"))
    want = fx.evaluate(x.astype(np.float32), y, roc_bins=4096).roc
    assert doc["roc"]["auroc"] == pytest.approx(want.auroc, rel=1e-12)
    assert len(doc["roc"]["class_auroc"]) == 7
