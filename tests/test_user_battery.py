"""Defects found by trying the package as a new user would: results that
change after they are returned, overflow on valid input, half-written
command-line outputs, bfloat16 weights, edge values of options (H = 0,
huge num_threads and topk), focal loss above its cross-entropy, and the
documented sign of weights.  Each test failed before its fix."""
import json
import math
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import fusedxent as fx
from fusedxent import reference as R


def _data(seed=0, N=400, C=6, dtype=np.float32):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((N, C)) * 3).astype(dtype)
    y = rng.integers(0, C, N)
    y[::7] = -100
    return x, y, rng.random(N) + 0.1


# ------------------------------------------------------------ 1. snapshots

def _arrays_of(ev):
    """Every array an evaluation result holds, by name, copied."""
    out = {}
    cal = ev.calibration
    if cal is not None:
        for f in cal._fields:
            out["calibration." + f] = np.array(getattr(cal, f), copy=True)
        out["ece"], out["mce"] = cal.ece, cal.mce
    per = getattr(ev, "per_class", None)
    if per is not None:
        for f in per._fields:
            v = getattr(per, f)
            out["per_class." + f] = None if v is None else np.array(v, copy=True)
    for f in ("lse", "argmax"):
        v = getattr(ev, f, None)
        if v is not None:
            out[f] = np.array(v, copy=True)
    return out


def _assert_same(before, ev):
    now = _arrays_of(ev)
    assert before.keys() == now.keys()
    for k in before:
        np.testing.assert_array_equal(np.asarray(now[k]), np.asarray(before[k]), err_msg=k)


def test_evaluator_result_is_a_snapshot():
    x, y, sw = _data(1)
    opts = dict(calibration_bins=4, per_class="confusion", topk=(1, 3))
    ev = fx.Evaluator(**opts)
    ev.update(x[:150], y[:150], sw[:150])
    r = ev.result()
    before = _arrays_of(r)
    ev.update(x[150:300], y[150:300], sw[150:300])
    other = fx.Evaluator(**opts).update(x[300:], y[300:], sw[300:])
    ev.merge(other)
    _assert_same(before, r)
    # and writing into a result changes neither the evaluator nor a later result
    final = _arrays_of(ev.result())
    r.calibration.weight[:] = -1
    r.per_class.support[:] = -1
    r.per_class.confusion[:] = -1
    _assert_same(final, ev.result())
    # the merged evaluator's own result is the one-shot one
    one = fx.evaluate(x, y, sample_weight=sw, **opts)
    np.testing.assert_allclose(ev.result().calibration.weight, one.calibration.weight, rtol=1e-12)


def test_merge_source_does_not_alias_the_target():
    x, y, sw = _data(2)
    a = fx.Evaluator(calibration_bins=5, per_class="confusion").update(x[:200], y[:200])
    b = fx.Evaluator(calibration_bins=5, per_class="confusion").update(x[200:], y[200:])
    rb = _arrays_of(b.result())
    a.merge(b)
    a.update(x, y)                   # in place on a's state
    _assert_same(rb, b.result())


def test_binary_evaluator_result_is_a_snapshot():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((300, 4)).astype(np.float32)
    t = (rng.random(x.shape) < 0.4).astype(np.float32)
    ev = fx.BinaryEvaluator(calibration_bins=4).update(x[:100], t[:100])
    r = ev.result()
    before = _arrays_of(r)
    ev.update(x[100:], t[100:])
    ev.merge(fx.BinaryEvaluator(calibration_bins=4).update(x, t))
    _assert_same(before, r)


def test_dask_results_are_snapshots():
    da = pytest.importorskip("dask.array")
    import fusedxent.dask as fd
    x, y, _ = _data(4)
    ev = fd.evaluate(da.from_array(x, chunks=(100, 6)), da.from_array(y, chunks=100), calibration_bins=4,
                     per_class=True)
    w1 = ev.calibration.weight.compute()
    w1[:] = -5
    np.testing.assert_array_equal(ev.calibration.weight.compute(), fx.evaluate(x, y, calibration_bins=4)
                                  .calibration.weight)


# ------------------------------------------------------------ 2. perplexity overflow

@pytest.mark.parametrize("mod", [fx, R], ids=["fusedxent", "reference"])
def test_perplexity_overflows_to_inf(mod):
    x = np.array([[1000.0, -1000.0], [800.0, 0.0]])
    y = np.array([1, 1])
    ev = mod.evaluate(x, y)
    assert ev.loss > 709.8
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ev.perplexity == math.inf
    assert mod.evaluate(x, y, base=2).perplexity == math.inf
    assert mod.evaluate(np.array([[0.0, 0.0]]), np.array([0])).perplexity == pytest.approx(2.0, rel=1e-12)
    nan = mod.evaluate(np.array([[np.nan, 0.0]]), np.array([0]))
    assert math.isnan(nan.perplexity)


def test_perplexity_overflow_on_dask():
    da = pytest.importorskip("dask.array")
    import fusedxent.dask as fd
    x = np.array([[1000.0, -1000.0]] * 4)
    ev = fd.evaluate(da.from_array(x, chunks=(2, 2)), da.from_array(np.ones(4, np.int64), chunks=2))
    assert ev.perplexity == math.inf


# ------------------------------------------------------------ 3. the CLI's outputs

def _cli(*args):
    r = subprocess.run([sys.executable, "-m", "fusedxent", "evaluate", *map(str, args), "--quiet"],
                       capture_output=True, text=True)
    return r.returncode, r.stdout, r.stderr


@pytest.fixture
def saved(tmp_path):
    x, y, _ = _data(5, N=300, C=5)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    (tmp_path / "afile").write_text("not a directory")
    (tmp_path / "adir").mkdir()
    return tmp_path


def _listing(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_cli_confident_wrong_predictions_print_inf(saved):
    x = np.array([[1000.0, -1000.0]] * 10, np.float32)
    np.save(saved / "w.npy", x)
    np.save(saved / "wy.npy", np.ones(10, np.int64))
    code, out, err = _cli(saved / "w.npy", saved / "wy.npy", "--json", saved / "m.json")
    assert code == 0, err
    assert "perplexity" in out and "inf" in out
    assert json.loads((saved / "m.json").read_text())["perplexity"] is None     # strict JSON: inf as null


@pytest.mark.parametrize("case", ["json-missing-dir", "json-under-file", "json-is-dir", "plot-is-dir",
                                  "plot-under-file", "plot-bad-format", "same-output", "json-is-input",
                                  "plot-is-input"])
def test_cli_output_problems_write_nothing(saved, case):
    pytest.importorskip("matplotlib")
    s = saved
    good_json, good_plot = s / "m.json", s / "r.png"
    (s / "old.json").write_text("old")
    args = {
        "json-missing-dir": ("--json", s / "nodir" / "m.json", "--plot", good_plot),
        "json-under-file": ("--json", s / "afile" / "m.json", "--plot", good_plot),
        "json-is-dir": ("--json", s / "adir", "--plot", good_plot),
        "plot-is-dir": ("--json", s / "old.json", "--plot", s / "adir"),
        "plot-under-file": ("--json", good_json, "--plot", s / "afile" / "r.png"),
        "plot-bad-format": ("--json", good_json, "--plot", s / "r.notaformat"),
        "same-output": ("--json", s / "both.png", "--plot", s / "both.png"),
        "json-is-input": ("--json", s / "x.npy"),
        "plot-is-input": ("--plot", s / "y.npy"),
    }[case]
    before = _listing(s)
    raw = {p: (s / p).read_bytes() for p in before if (s / p).is_file()}
    code, out, err = _cli(s / "x.npy", s / "y.npy", *args)
    assert code == 2, (case, out, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith("fusedxent evaluate: error: --")      # names the option
    assert _listing(s) == before                                 # no output, no temporary left
    for p, b in raw.items():
        assert (s / p).read_bytes() == b, p                      # nothing overwritten


def test_cli_bad_input_leaves_no_temporaries(saved):
    yb = np.load(saved / "y.npy")
    yb[33] = 99
    np.save(saved / "bad.npy", yb)
    before = _listing(saved)
    code, out, err = _cli(saved / "x.npy", saved / "bad.npy", "--json", saved / "m.json")
    assert code == 2 and "value 99" in err
    assert _listing(saved) == before


def test_cli_plot_path_is_written_as_given(saved):
    pytest.importorskip("matplotlib")
    code, out, err = _cli(saved / "x.npy", saved / "y.npy", "--plot", saved / "diagram", "--json",
                          saved / "m.json")
    assert code == 0, err
    assert (saved / "diagram").read_bytes()[:4] == b"\x89PNG"
    assert not (saved / "diagram.png").exists()
    assert f"written to {saved / 'diagram'}\n" in out
    code, out, err = _cli(saved / "x.npy", saved / "y.npy", "--plot", saved / "d.svg")
    assert code == 0, err
    assert b"<svg" in (saved / "d.svg").read_bytes()[:400]
    # written files get the usual permissions, not the reservation's 0600
    umask = os.umask(0)
    os.umask(umask)
    assert (saved / "m.json").stat().st_mode & 0o777 == 0o666 & ~umask


# ------------------------------------------------------------ 4. bfloat16 weights

def _bf16():
    return pytest.importorskip("ml_dtypes").bfloat16


def test_bfloat16_weights_read_as_values():
    bf16 = _bf16()
    x, y, sw = _data(6)
    w = np.array([1.0, 2.0, 0.5, 0.25, 3.0, 1.5])
    wb, swb = w.astype(bf16), sw.astype(bf16)
    sw32 = swb.astype(np.float32)
    for mod in (fx, R):
        assert mod.softmax_cross_entropy(x, y, weight=wb, sample_weight=swb) == pytest.approx(
            mod.softmax_cross_entropy(x, y, weight=w, sample_weight=sw32), rel=1e-12)
        t = (x > 0).astype(np.float32)
        assert mod.sigmoid_binary_cross_entropy(x, t, weight=wb, pos_weight=wb) == pytest.approx(
            mod.sigmoid_binary_cross_entropy(x, t, weight=w, pos_weight=w), rel=1e-12)
        assert mod.evaluate(x, y, sample_weight=swb).loss == pytest.approx(
            mod.evaluate(x, y, sample_weight=sw32).loss, rel=1e-12)
        eb = np.broadcast_to(wb, x.shape)
        assert mod.evaluate_binary(x, t, sample_weight=eb).loss == pytest.approx(
            mod.evaluate_binary(x, t, sample_weight=w).loss, rel=1e-12)
        h = x[:, :4]
        W = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
        assert mod.linear_cross_entropy(h, W, y, weight=wb, sample_weight=swb) == pytest.approx(
            mod.linear_cross_entropy(h, W, y, weight=w, sample_weight=sw32), rel=1e-6)
    assert fx.Evaluator().update(x, y, swb).result().loss == pytest.approx(
        fx.evaluate(x, y, sample_weight=sw32).loss, rel=1e-12)
    assert fx.BinaryEvaluator().update(x, (x > 0), wb).result().loss == pytest.approx(
        fx.evaluate_binary(x, (x > 0), sample_weight=w).loss, rel=1e-12)
    with pytest.raises(TypeError, match="integer"):
        fx.softmax_cross_entropy(x, y.astype(bf16))       # labels stay integers


def test_bfloat16_weights_on_dask():
    bf16 = _bf16()
    da = pytest.importorskip("dask.array")
    import fusedxent.dask as fd
    x, y, sw = _data(7)
    w = np.array([1.0, 2.0, 0.5, 0.25, 3.0, 1.5])
    xd, yd = da.from_array(x, chunks=(100, 6)), da.from_array(y, chunks=100)
    swd = da.from_array(sw.astype(bf16), chunks=100)
    sw32 = sw.astype(bf16).astype(np.float32)
    got = fd.softmax_cross_entropy(xd, yd, weight=w.astype(bf16), sample_weight=swd).compute()
    assert got == pytest.approx(fx.softmax_cross_entropy(x, y, weight=w, sample_weight=sw32), rel=1e-12)
    t = (x > 0).astype(np.float32)
    got = fd.sigmoid_binary_cross_entropy(xd, da.from_array(t, chunks=(100, 6)), pos_weight=w.astype(bf16)).compute()
    assert got == pytest.approx(fx.sigmoid_binary_cross_entropy(x, t, pos_weight=w), rel=1e-12)
    assert fd.evaluate(xd, yd, sample_weight=swd).loss.compute() == pytest.approx(
        fx.evaluate(x, y, sample_weight=sw32).loss, rel=1e-12)


# ------------------------------------------------------------ 5. edge values of options

def _zero_feature_case(mod, bias):
    y = np.array([0, 1, 2, -100, 4])
    return mod.linear_cross_entropy(np.zeros((5, 0)), np.zeros((5, 0)), y, linear_bias=bias, return_grad=True)


@pytest.mark.parametrize("mod", [fx, R], ids=["fusedxent", "reference"])
def test_linear_with_no_features_is_the_bias_loss(mod):
    loss, g = _zero_feature_case(mod, None)
    assert loss == pytest.approx(math.log(5), rel=1e-12)
    assert g.hidden.shape == (5, 0) and g.linear_weight.shape == (5, 0) and g.linear_bias is None
    b = np.array([0.5, -1.0, 2.0, 0.0, 1.0])
    loss, g = _zero_feature_case(mod, b)
    want, gb = R.softmax_cross_entropy(np.tile(b, (5, 1)), np.array([0, 1, 2, -100, 4]), return_grad=True)
    assert loss == pytest.approx(want, rel=1e-12)
    np.testing.assert_allclose(g.linear_bias, gb.sum(0), rtol=1e-12, atol=1e-15)
    torch = pytest.importorskip("torch")
    bt = torch.tensor(b, requires_grad=True)
    lt = torch.nn.functional.cross_entropy(torch.zeros((5, 0), dtype=torch.float64)
                                           @ torch.zeros((5, 0), dtype=torch.float64).T + bt,
                                           torch.tensor([0, 1, 2, -100, 4]))
    lt.backward()
    assert loss == pytest.approx(lt.item(), rel=1e-12)
    np.testing.assert_allclose(g.linear_bias, bt.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_linear_with_no_features_on_dask():
    da = pytest.importorskip("dask.array")
    import fusedxent.dask as fd
    got = fd.linear_cross_entropy(da.zeros((6, 0), chunks=2), np.zeros((3, 0)), np.array([0, 1, 2, 0, 1, 2]))
    assert got.compute() == pytest.approx(math.log(3), rel=1e-12)


@pytest.mark.parametrize("n", [2 ** 31, 2 ** 64, 10 ** 6])
def test_huge_num_threads_is_a_clear_error(n):
    x, y, _ = _data(8, N=50)
    calls = [lambda: fx.softmax(x, num_threads=n), lambda: fx.softmax_cross_entropy(x, y, num_threads=n),
             lambda: fx.evaluate(x, y, num_threads=n), lambda: fx.Evaluator(num_threads=n),
             lambda: fx.sigmoid(x, num_threads=n),
             lambda: fx.linear_cross_entropy(x, np.ones((3, 6), np.float32), y % 3, num_threads=n)]
    for call in calls:
        with pytest.raises(ValueError, match="num_threads must be at most"):
            call()


def test_largest_num_threads_runs():
    from fusedxent._validate import MAX_THREADS
    x, y, _ = _data(9, N=50)
    assert fx.softmax_cross_entropy(x, y, num_threads=MAX_THREADS) == fx.softmax_cross_entropy(x, y)


@pytest.mark.parametrize("k", [6, 7, 2 ** 31, 2 ** 63, 2 ** 64, 10 ** 30])
def test_topk_beyond_the_classes_means_all(k):
    x, y, sw = _data(10, C=6)
    x[3, 1] = np.nan                           # a NaN row is never a hit
    want = sw[(y != -100) & ~np.isnan(x).any(1)].sum() / sw[y != -100].sum()
    for ev in (fx.evaluate(x, y, sample_weight=sw, topk=(1, k)), R.evaluate(x, y, sample_weight=sw, topk=(1, k)),
               fx.Evaluator(topk=(1, k)).update(x, y, sw).result()):
        assert ev.topk_accuracy[k] == pytest.approx(want, rel=1e-12)


def test_topk_beyond_the_classes_on_dask():
    da = pytest.importorskip("dask.array")
    import fusedxent.dask as fd
    x, y, _ = _data(11, C=4)
    ev = fd.evaluate(da.from_array(x, chunks=(100, 4)), da.from_array(y, chunks=100), topk=(1, 2 ** 64))
    assert ev.topk_accuracy[2 ** 64].compute() == pytest.approx(1.0, rel=1e-12)


# ------------------------------------------------------------ 6. focal loss within its cross-entropy

def _diverse(dtype, rng):
    """torchvision's focal-loss test data, widened: small, moderate and
    saturating logits, every sign, both targets."""
    x = np.concatenate([rng.standard_normal(3000), rng.standard_normal(3000) * 10, rng.standard_normal(3000) * 50,
                        np.linspace(-40, 40, 4001), [0.0, -0.0, 1e-30, -1e-30, 88.0, -88.0, 700.0, -700.0]])
    t = (rng.random(x.size) < 0.5).astype(np.float64)
    return x.astype(dtype), t.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("gamma,alpha", [(0.0, 0.0), (0.0, 0.25), (0.0, 1.0), (2.0, None), (2.0, 0.0),
                                         (2.0, 0.25), (0.5, 0.75)])
def test_focal_never_above_its_cross_entropy(isa, dtype, gamma, alpha):
    rng = np.random.default_rng(12)
    x, t = _diverse(dtype, rng)
    ce = fx.sigmoid_binary_cross_entropy(x, t, reduction="none")
    fl = fx.sigmoid_binary_cross_entropy(x, t, gamma=gamma, alpha=alpha, reduction="none")
    assert np.all(fl <= ce), (isa, int(np.sum(fl > ce)))
    if gamma == 0:
        # the focal factor is exactly 1: the loss is alpha_t times the plain path's loss
        at = (alpha * t + (1 - alpha) * (1 - t)).astype(dtype)
        np.testing.assert_array_equal(fl, at * ce)
    # soft and smoothed targets, pos_weight and weights keep the bound
    ts = rng.random(x.size).astype(dtype)
    pw = np.array([2.5], dtype)
    kw = dict(pos_weight=pw, label_smoothing=0.1, weight=np.full(x.shape, 0.7), reduction="none")
    assert np.all(fx.sigmoid_binary_cross_entropy(x, ts, gamma=gamma, alpha=alpha, **kw)
                  <= fx.sigmoid_binary_cross_entropy(x, ts, **kw))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_focal_ratio_as_torchvision_checks(isa, dtype):
    # torchvision's test_correct_ratio: focal / ce == (1 - p_t)^gamma alpha_t
    rng = np.random.default_rng(13)
    x = (rng.standard_normal(5000) * 4).astype(dtype)
    t = (rng.random(5000) < 0.5).astype(dtype)
    for gamma, alpha in [(0.0, 0.0), (0.0, 0.25), (2.0, None), (2.0, 0.25)]:
        ce = fx.sigmoid_binary_cross_entropy(x, t, reduction="none").astype(np.float64)
        fl = fx.sigmoid_binary_cross_entropy(x, t, gamma=gamma, alpha=alpha, reduction="none")
        x64, t64 = x.astype(np.float64), t.astype(np.float64)
        p = 1 / (1 + np.exp(-x64))
        ratio = (1 - (p * t64 + (1 - p) * (1 - t64))) ** gamma
        if alpha is not None:
            ratio = ratio * (alpha * t64 + (1 - alpha) * (1 - t64))
        ok = ce > 0
        tol = 1e-5 if dtype == np.float32 else 1e-10
        np.testing.assert_allclose(fl[ok] / ce[ok], ratio[ok], rtol=tol, atol=tol)


# ------------------------------------------------------------ 7. the sign of weights

def test_negative_weights_are_used_as_given():
    # documented (fusedxent.dask's docstring, the Dask guide): no sign check anywhere
    x, y, sw = _data(14)
    sw = sw - 0.5
    got = fx.softmax_cross_entropy(x, y, sample_weight=sw)
    assert got == pytest.approx(R.softmax_cross_entropy(x, y, sample_weight=sw), rel=1e-9)
    import fusedxent.dask as fd
    assert "not checked for sign" in " ".join(fd.__doc__.split())
