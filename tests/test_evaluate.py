"""evaluate in one pass: top-k, Brier, entropy, calibration, per-class
counts -- against scikit-learn and direct NumPy computations of the stated
rules, the reference, streamed / merged / Dask runs; evaluate_binary; and
the `python -m fusedxent evaluate` command."""
import json
import math
import pickle
import subprocess
import sys

import numpy as np
import pytest

import fusedxent as fx
from fusedxent import reference as R

metrics = pytest.importorskip("sklearn.metrics")


def _softmax(x):
    z = x.astype(np.float64)
    z = np.exp(z - z.max(1, keepdims=True))
    return z / z.sum(1, keepdims=True)


def _data(seed=0, N=2000, C=17, dtype=np.float32, ignore=True, scale=3.0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((N, C)) * scale).astype(dtype)
    y = rng.integers(0, C, N)
    x[np.arange(N), y] += 1.0                     # better than chance
    if ignore:
        y[::9] = -100
    sw = rng.random(N) + 0.1
    return x, y, sw


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
def test_metrics_match_sklearn(dtype, weighted):
    x, y, sw = _data(1, dtype=dtype)
    w = sw if weighted else None
    ev = fx.evaluate(x, y, sample_weight=w, topk=(1, 3, 5), calibration_bins=10, per_class="confusion")
    keep = y != -100
    xk, yk, wk = x[keep], y[keep], None if w is None else w[keep]
    p = _softmax(xk)
    C = x.shape[1]
    rtol = 1e-5 if dtype == np.float32 else 1e-10
    assert ev.count == keep.sum()
    assert ev.loss == pytest.approx(metrics.log_loss(yk, p, labels=range(C), sample_weight=wk), rel=rtol)
    for q in (3, 5):    # tie-free logits
        assert ev.topk_accuracy[q] == pytest.approx(
            metrics.top_k_accuracy_score(yk, xk, k=q, labels=range(C), sample_weight=wk), rel=1e-12)
    assert ev.topk_accuracy[1] == ev.accuracy
    assert ev.accuracy == pytest.approx(metrics.accuracy_score(yk, xk.argmax(1), sample_weight=wk), rel=1e-12)
    assert ev.brier == pytest.approx(metrics.brier_score_loss(yk, p, labels=range(C), sample_weight=wk), rel=rtol)
    ent = -np.sum(p * np.log(p), axis=1)
    assert ev.entropy == pytest.approx(np.average(ent, weights=wk), rel=rtol)
    pc = ev.per_class
    np.testing.assert_allclose(pc.confusion, metrics.confusion_matrix(yk, xk.argmax(1), labels=range(C),
                                                                      sample_weight=wk), rtol=1e-12)
    assert pc.macro_f1 == pytest.approx(metrics.f1_score(yk, xk.argmax(1), average="macro", sample_weight=wk,
                                                         zero_division=0), rel=1e-12)
    assert pc.balanced_accuracy == pytest.approx(
        metrics.balanced_accuracy_score(yk, xk.argmax(1), sample_weight=wk), rel=1e-12)
    np.testing.assert_allclose(pc.recall, metrics.recall_score(yk, xk.argmax(1), average=None, labels=range(C),
                                                               sample_weight=wk, zero_division=0), rtol=1e-12)
    np.testing.assert_allclose(pc.precision, metrics.precision_score(yk, xk.argmax(1), average=None,
                                                                     labels=range(C), sample_weight=wk,
                                                                     zero_division=0), rtol=1e-12)
    # the calibration rule, written out
    c = p.max(1)
    b = np.minimum(np.floor(c * 10).astype(int), 9)
    ww = np.ones(len(yk)) if wk is None else wk
    hit = (xk.argmax(1) == yk).astype(float)
    cal = ev.calibration
    np.testing.assert_allclose(cal.weight, np.bincount(b, ww, 10), rtol=1e-12)
    np.testing.assert_allclose(cal.confidence_sum, np.bincount(b, ww * c, 10), rtol=rtol)
    np.testing.assert_allclose(cal.correct_sum, np.bincount(b, ww * hit, 10), rtol=1e-12)
    ece = np.sum(np.abs(np.bincount(b, ww * hit, 10) - np.bincount(b, ww * c, 10))) / ww.sum()
    assert cal.ece == pytest.approx(ece, rel=rtol)
    nz = cal.weight > 0
    assert cal.mce == pytest.approx(np.max(np.abs(cal.correct_sum - cal.confidence_sum)[nz] / cal.weight[nz]),
                                    rel=1e-12)
    acc_b, conf_b = np.bincount(b, ww * hit, 10)[nz] / cal.weight[nz], np.bincount(b, ww * c, 10)[nz] / cal.weight[nz]
    assert cal.rmsce == pytest.approx(np.sqrt(np.sum(cal.weight[nz] / ww.sum() * (acc_b - conf_b) ** 2)), rel=rtol)
    np.testing.assert_array_equal(cal.edges, np.linspace(0, 1, 11))


def test_base_and_perplexity():
    x, y, _ = _data(2)
    e, b = fx.evaluate(x, y), fx.evaluate(x, y, base=2)
    assert b.loss == pytest.approx(e.loss / math.log(2), rel=1e-12)
    assert b.entropy == pytest.approx(e.entropy / math.log(2), rel=1e-12)
    assert b.perplexity == pytest.approx(e.perplexity, rel=1e-12) == pytest.approx(math.exp(e.loss), rel=1e-12)
    assert e.base == math.e and b.base == 2.0
    assert e[:5] == tuple(getattr(e, f) for f in ("loss", "accuracy", "count", "lse", "argmax"))


def test_topk_tie_rule():
    # label y is in the top k when #{x_j > x_y} + #{j < y: x_j == x_y} < k
    x = np.array([[1.0, 1.0, 1.0, 0.0], [2.0, 5.0, 5.0, 5.0], [0.0, 0.0, 0.0, 0.0]])
    y = np.array([2, 1, 3])
    for mod in (fx, R):
        ev = mod.evaluate(x, y, topk=(1, 2, 3, 4))
        # ranks: row 0: 2 ties before -> 2; row 1: 0 -> top-1 (argmax is 1); row 2: 3 ties before -> 3
        assert ev.accuracy == pytest.approx(1 / 3)
        assert ev.topk_accuracy == {1: pytest.approx(1 / 3), 2: pytest.approx(1 / 3), 3: pytest.approx(2 / 3),
                                    4: pytest.approx(1.0)}
    np.testing.assert_array_equal(fx.evaluate(x, y).argmax, [0, 1, 0])


@pytest.mark.parametrize("C", [3, 50, 200])
def test_confidence_one_in_the_last_bin(C):
    x = np.full((4, C), -1e4)
    x[:, 0] = 0.0                            # p_max = 1 exactly (s = 0)
    y = np.array([0, 0, 1, -100])
    for mod in (fx, R):
        cal = mod.evaluate(x, y, calibration_bins=5).calibration
        np.testing.assert_array_equal(cal.weight, [0, 0, 0, 0, 3])
        np.testing.assert_array_equal(cal.correct_sum, [0, 0, 0, 0, 2])
        assert cal.confidence_sum[-1] == 3.0 and cal.total_weight == 3.0


@pytest.mark.parametrize("C", [5, 70, 300])
def test_nan_rows_are_never_right(C):
    rng = np.random.default_rng(C)
    x = rng.standard_normal((6, C))
    y = np.zeros(6, np.int64)
    x[:, 0] += 10.0                            # every finite row predicts its label
    x[1, 0] = np.nan                           # argmax (NumPy) is the NaN at the label
    x[2, 3] = np.nan
    for mod in (fx, R):
        ev = mod.evaluate(x, y, topk=(1, 2, C), calibration_bins=4, per_class=True)
        assert ev.count == 6
        assert ev.accuracy == pytest.approx(4 / 6)
        assert ev.topk_accuracy[C] == pytest.approx(4 / 6)     # even k = C: NaN rows stay out
        assert np.isnan(ev.loss) and np.isnan(ev.brier) and np.isnan(ev.entropy)
        cal = ev.calibration
        assert cal.weight.sum() == 4 and cal.total_weight == 6   # no bin, in the denominator
        pc = ev.per_class
        assert pc.support[0] == 6 and pc.correct[0] == 4 and pc.predicted[0] == 4   # no prediction
        assert pc.recall[0] == pytest.approx(4 / 6)


def test_all_ignored_and_empty():
    x, y, sw = _data(3, N=50)
    for mod in (fx, R):
        for yy in (np.full(50, -100), None):
            xx, lab = (x, yy) if yy is not None else (x[:0], np.zeros(0, np.int64))
            ev = mod.evaluate(xx, lab, topk=(1, 3), calibration_bins=7, per_class="confusion")
            assert ev.count == 0
            for v in (ev.loss, ev.accuracy, ev.brier, ev.entropy, ev.topk_accuracy[3], ev.calibration.ece,
                      ev.calibration.mce, ev.per_class.macro_f1, ev.per_class.balanced_accuracy):
                assert v == 0.0 and not np.isnan(v)
            assert (ev.calibration.weight == 0).all()
            assert not ev.per_class.confusion.any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fusedxent_equals_reference(dtype):
    x, y, sw = _data(4, N=700, C=90, dtype=dtype)
    x[5, :] = -np.inf
    x[5, 7] = 1.0
    x[6, 3] = -np.inf
    kw = dict(sample_weight=sw, topk=(1, 2, 10), calibration_bins=12, per_class="confusion", base=2)
    a, b = fx.evaluate(x, y, **kw), R.evaluate(x, y, **kw)
    rtol = 2e-5 if dtype == np.float32 else 1e-12
    for f in ("loss", "accuracy", "brier", "entropy"):
        assert getattr(a, f) == pytest.approx(getattr(b, f), rel=rtol)
    assert a.topk_accuracy == pytest.approx(b.topk_accuracy, rel=1e-12)
    np.testing.assert_allclose(a.calibration.confidence_sum, b.calibration.confidence_sum, rtol=rtol)
    np.testing.assert_array_equal(a.calibration.weight, b.calibration.weight)
    np.testing.assert_array_equal(a.per_class.confusion, b.per_class.confusion)


@pytest.mark.parametrize("cuts", [[700], [1, 699], [250, 0, 450], [7] * 100])
def test_streamed_and_merged_equal_one_shot(cuts):
    x, y, sw = _data(5, N=700, C=23)
    opts = dict(topk=(1, 5), calibration_bins=9, per_class="confusion", base=2)
    want = fx.evaluate(x, y, sample_weight=sw, **opts)
    evs, r0 = [], 0
    for n in cuts:
        evs.append(fx.Evaluator(**opts).update(x[r0:r0 + n], y[r0:r0 + n], sample_weight=sw[r0:r0 + n]))
        r0 += n
    got = pickle.loads(pickle.dumps(evs[0]))
    for e in evs[1:]:
        got.merge(pickle.loads(pickle.dumps(e)))
    got = got.result()
    for f in ("loss", "accuracy", "brier", "entropy"):
        assert getattr(got, f) == pytest.approx(getattr(want, f), rel=1e-12)
    assert got.topk_accuracy == pytest.approx(want.topk_accuracy, rel=1e-12)
    assert got.calibration.ece == pytest.approx(want.calibration.ece, rel=1e-12)
    np.testing.assert_allclose(got.per_class.confusion, want.per_class.confusion, rtol=1e-12)
    np.testing.assert_array_equal(got.lse, want.lse)
    with pytest.raises(ValueError, match="same base"):
        fx.Evaluator(topk=(1, 2)).merge(fx.Evaluator())


def test_evaluate_file_with_options(tmp_path):
    x, y, sw = _data(6, N=3000, C=12)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    got = fx.evaluate_file(tmp_path / "x.npy", tmp_path / "y.npy", batch_rows=499, progress=False, topk=(1, 3),
                           calibration_bins=6, per_class=True)
    want = fx.evaluate(x, y, topk=(1, 3), calibration_bins=6, per_class=True)
    assert got.loss == pytest.approx(want.loss, rel=1e-12) and got.topk_accuracy == pytest.approx(want.topk_accuracy)
    np.testing.assert_allclose(got.per_class.correct, want.per_class.correct)
    y[2500] = 99
    np.save(tmp_path / "bad.npy", y)
    with pytest.raises(ValueError, match=r"rows 2495..2993 .* value 99 at index 5"):
        fx.evaluate_file(tmp_path / "x.npy", tmp_path / "bad.npy", batch_rows=499, progress=False)


def test_option_errors():
    x, y, _ = _data(7, N=10, C=5)
    with pytest.raises(ValueError, match="topk"):
        fx.evaluate(x, y, topk=(0, 1))
    with pytest.raises(ValueError, match="at least one"):
        fx.evaluate(x, y, topk=())
    with pytest.raises(TypeError, match="calibration_bins"):
        fx.evaluate(x, y, calibration_bins=2.5)
    with pytest.raises(ValueError, match="calibration_bins"):
        fx.evaluate(x, y, calibration_bins=0)
    with pytest.raises(ValueError, match="at most 1048576"):
        fx.evaluate_binary(x, np.zeros_like(x), calibration_bins=(1 << 20) + 1)
    with pytest.raises(ValueError, match="per_class"):
        fx.evaluate(x, y, per_class="yes")
    with pytest.raises(ValueError, match="1024"):
        fx.evaluate(np.zeros((2, 1025)), np.zeros(2, int), per_class="confusion")
    with pytest.raises(ValueError, match="at most 16"):
        fx.evaluate(x, y, topk=tuple(range(1, 19)))


# ------------------------------------------------------------------ binary

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_evaluate_binary_matches_sklearn(dtype):
    rng = np.random.default_rng(8)
    x = (rng.standard_normal((400, 7)) * 3).astype(dtype)
    t = (rng.random(x.shape) < 1 / (1 + np.exp(-x))).astype(dtype)
    w = rng.random(x.shape) + 0.1
    ev = fx.evaluate_binary(x, t, sample_weight=w, calibration_bins=8)
    p = 1 / (1 + np.exp(-x.astype(np.float64)))
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert ev.count == x.size
    assert ev.loss == pytest.approx(metrics.log_loss(t.ravel(), p.ravel(), sample_weight=w.ravel()), rel=rtol)
    assert ev.brier == pytest.approx(metrics.brier_score_loss(t.ravel(), p.ravel(), sample_weight=w.ravel()), rel=rtol)
    assert ev.accuracy == pytest.approx(metrics.accuracy_score(t.ravel(), (x > 0).ravel(), sample_weight=w.ravel()),
                                        rel=1e-12)
    b = np.minimum(np.floor(p.ravel() * 8).astype(int), 7)
    np.testing.assert_allclose(ev.calibration.correct_sum, np.bincount(b, w.ravel() * t.ravel(), 8), rtol=1e-12)
    r = R.evaluate_binary(x, t, sample_weight=w, calibration_bins=8)
    assert r.loss == pytest.approx(ev.loss, rel=rtol) and r.calibration.ece == pytest.approx(ev.calibration.ece, rel=rtol)
    # streamed
    be = fx.BinaryEvaluator(calibration_bins=8)
    for r0 in (0, 150, 300):
        be.update(x[r0:r0 + 150], t[r0:r0 + 150], sample_weight=w[r0:r0 + 150])
    got = pickle.loads(pickle.dumps(be)).result()
    assert got.loss == pytest.approx(ev.loss, rel=1e-12) and got.brier == pytest.approx(ev.brier, rel=1e-12)


@pytest.mark.parametrize("binary", [False, True])
def test_calibration_norms_match_torchmetrics(binary):
    # ece, rmsce, mce are torchmetrics' CalibrationError with norm l1, l2,
    # max (equal-width bins; no confidence exactly on an edge here)
    torch = pytest.importorskip("torch")
    tm = pytest.importorskip("torchmetrics.classification")
    rng = np.random.default_rng(9)
    if binary:
        x = rng.standard_normal(3000) * 2
        t = (rng.random(x.shape) < 1 / (1 + np.exp(-1.5 * x))).astype(np.float64)   # over-confident
        cal = fx.evaluate_binary(x, t, calibration_bins=12).calibration
        make = lambda norm: tm.BinaryCalibrationError(n_bins=12, norm=norm)
        args = (torch.from_numpy(1 / (1 + np.exp(-x))), torch.from_numpy(t.astype(np.int64)))
    else:
        x = rng.standard_normal((3000, 7)) * 2
        y = rng.integers(0, 7, 3000)
        x[np.arange(3000), y] += 1.5
        cal = fx.evaluate(x, y, calibration_bins=12).calibration
        make = lambda norm: tm.MulticlassCalibrationError(num_classes=7, n_bins=12, norm=norm)
        args = (torch.from_numpy(x), torch.from_numpy(y))
    for norm, got in (("l1", cal.ece), ("l2", cal.rmsce), ("max", cal.mce)):
        want = float(make(norm)(*args))
        assert got == pytest.approx(want, rel=1e-6), norm
    assert 0 < cal.ece <= cal.rmsce <= cal.mce


def test_check_covers_evaluate():
    rep = fx.check()
    names = {r[0] for r in rep.rows}
    assert {"evaluate.brier", "evaluate.entropy", "evaluate.topk", "evaluate.calibration",
            "evaluate.per_class", "evaluate_binary"} <= names
    assert rep.ok, str(rep)


# ------------------------------------------------------------------ the command

def _cli(*args, cwd=None):
    r = subprocess.run([sys.executable, "-m", "fusedxent", "evaluate", *map(str, args)], capture_output=True,
                       text=True, cwd=cwd)
    return r.returncode, r.stdout, r.stderr


def test_cli_evaluate_writes_table_json_and_plot(tmp_path):
    pytest.importorskip("matplotlib")
    x, y, _ = _data(9, N=5000, C=8, ignore=False)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    code, out, err = _cli(tmp_path / "x.npy", tmp_path / "y.npy", "--topk", 1, 3, "--bins", 10, "--per-class",
                          "--batch-rows", 700, "--json", tmp_path / "m.json", "--plot", tmp_path / "r.png", "--quiet")
    assert code == 0, err
    want = fx.evaluate(x, y, topk=(1, 3), calibration_bins=10, per_class=True)
    doc = json.loads((tmp_path / "m.json").read_text())
    assert doc["loss"] == pytest.approx(want.loss, rel=1e-12)
    assert doc["topk_accuracy"]["3"] == pytest.approx(want.topk_accuracy[3], rel=1e-12)
    assert doc["calibration"]["ece"] == pytest.approx(want.calibration.ece, rel=1e-12)
    assert doc["per_class"]["macro_f1"] == pytest.approx(want.per_class.macro_f1, rel=1e-12)
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"
    assert "top-3 accuracy" in out and "ece" in out
    t = (np.random.default_rng(0).random(x.shape) < 0.5).astype(np.float32)
    np.save(tmp_path / "t.npy", t)
    code, out, err = _cli(tmp_path / "x.npy", tmp_path / "t.npy", "--binary", "--bins", 5, "--quiet")
    assert code == 0, err
    assert "elements" in out


def test_cli_evaluate_errors(tmp_path):
    x, y, _ = _data(10, N=100, C=4, ignore=False)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    np.savez(tmp_path / "a.npz", x=x)
    (tmp_path / "text.npy").write_text("not numpy")
    np.save(tmp_path / "short.npy", y[:50])
    yb = y.copy()
    yb[77] = 9
    np.save(tmp_path / "bad.npy", yb)
    raw = (tmp_path / "x.npy").read_bytes()
    (tmp_path / "trunc.npy").write_bytes(raw[:-40])
    cases = [(("missing.npy", "y.npy"), "no such file"), (("a.npz", "y.npy"), ".npz archive"),
             (("text.npy", "y.npy"), "not a .npy file"), (("x.npy", "short.npy"), "labels must have shape"),
             (("x.npy", "bad.npy"), "value 9"), (("trunc.npy", "y.npy"), "truncated")]
    for (a, b), msg in cases:
        code, out, err = _cli(tmp_path / a, tmp_path / b, "--json", tmp_path / "o.json", "--quiet")
        assert code == 2, (a, b, err)
        assert msg in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1, err
        assert not (tmp_path / "o.json").exists()


def test_cli_json_is_strict_with_nan_rows(tmp_path):
    # a NaN row makes the loss NaN; strict JSON has no NaN literal: null
    x, y, _ = _data(11, N=300, C=5, ignore=False)
    x[4, 2] = np.nan
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    code, out, err = _cli(tmp_path / "x.npy", tmp_path / "y.npy", "--bins", 4, "--json", tmp_path / "m.json",
                          "--quiet")
    assert code == 0, err
    text = (tmp_path / "m.json").read_text()
    doc = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert doc["loss"] is None and doc["brier"] is None
    assert doc["accuracy"] == pytest.approx(fx.evaluate(x, y).accuracy, rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_evaluate_binary_nan_saturated_and_many_blocks(dtype):
    # NaN logits are never right and fall in no bin; p = 1 (saturated)
    # falls in the last bin; the histograms add across many blocks and
    # thread counts bitwise, with B large enough to widen the blocks
    rng = np.random.default_rng(12)
    x = (rng.standard_normal((300, 211)) * 4).astype(dtype)
    t = (rng.random(x.shape) < 0.5).astype(dtype)
    x[0, :5] = np.nan
    t[0, :5] = 0.0                  # (NaN > 0) == (0 >= 0.5) would read as a hit
    x[1, :7] = 200.0                # sigmoid rounds to 1
    for B in (10, 700):
        ev = fx.evaluate_binary(x, t, calibration_bins=B, num_threads=1)
        want = R.evaluate_binary(x, t, calibration_bins=B)
        assert ev.accuracy == pytest.approx(want.accuracy, rel=1e-12)
        assert ev.calibration.weight.sum() == x.size - 5
        assert ev.calibration.weight[-1] >= 7
        np.testing.assert_allclose(ev.calibration.weight, want.calibration.weight, rtol=0, atol=2)
        assert ev.calibration.correct_sum.sum() == pytest.approx(want.calibration.correct_sum.sum(), rel=1e-12)
        two = fx.evaluate_binary(x, t, calibration_bins=B, num_threads=2)
        np.testing.assert_array_equal(two.calibration.confidence_sum, ev.calibration.confidence_sum)
        assert two.accuracy == ev.accuracy and np.isnan(two.brier) and np.isnan(ev.brier)
    hits = ((x > 0) == (t >= 0.5)) & ~np.isnan(x)
    assert fx.evaluate_binary(x, t).accuracy == pytest.approx(hits.mean(), rel=1e-12)
