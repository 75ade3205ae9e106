"""The vector primitives of every instruction-set path this CPU runs (and
the emulated AVX-512 path of a SIMDe build) against the portable code of
the baseline path: row max and first argmax exactly, the exp-sum, row
statistics, row writes and element-wise functions within the documented
tolerance -- on every length around the vector widths (masked tails), and
on the IEEE cases that take special branches."""
import os
import platform

import numpy as np
import pytest

import fusedxent as fx
from fusedxent import _kernels as K
from fusedxent import _testing as T

from helpers import assert_close

LENGTHS = sorted(set(list(range(1, 70)) + [127, 128, 129, 255, 256, 257, 1000, 1023, 1025, 4096 + 3]))
DTYPES = [np.float32, np.float64]


def _on(isa, f, *args, **kw):
    before = K.isa_current()
    fx.set_isa(isa)
    try:
        return f(*args, **kw)
    finally:
        fx.set_isa(before)


@pytest.mark.parametrize("dtype", DTYPES)
def test_rowmax_of_rows_at_the_ends_of_the_range(isa, dtype):
    """-inf rows stay -inf (an OpenMP max reduction may start its lanes at
    the lowest finite value: clang's does), and the lowest finite value is
    still found where it is an element."""
    lo = np.finfo(dtype).min
    for n in (1, 7, 8, 64, 100):
        assert T.op_reduce("rowmax", np.full(n, -np.inf, dtype)) == -np.inf
        x = np.full(n, -np.inf, dtype)
        x[n // 2] = lo
        assert T.op_reduce("rowmax", x) == lo
        if n > 1:
            x[n - 1] = np.nan                                     # NaN skipped
            assert T.op_reduce("rowmax", x) == lo


def _rows(rng, n, C, dtype):
    x = (rng.standard_normal((n, C)) * 5).astype(dtype)
    return x


@pytest.mark.parametrize("dtype", DTYPES)
def test_rowmax_and_sumexp_every_length(isa, dtype):
    rng = np.random.default_rng(1)
    for n in LENGTHS:
        x = (rng.standard_normal(n) * 4).astype(dtype)
        m = float(x.max())
        assert T.op_reduce("rowmax", x) == m                      # exact on every path
        got = T.op_reduce("sumexp", x, m)
        want = _on("baseline", T.op_reduce, "sumexp", x, m)
        assert got == pytest.approx(want, rel=5e-6 if dtype == np.float32 else 1e-14)
        assert T.op_reduce("rowsum", x) == pytest.approx(float(x.astype(np.float64).sum()), rel=1e-5, abs=1e-4)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("C", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 257, 511, 512, 513, 1000,
                               1024, 1025, 4095, 8192, 8193, 20000])
@pytest.mark.parametrize("extras", [True, False], ids=["extras", "plain"])
def test_row_stats_against_portable(isa, dtype, C, extras):
    rng = np.random.default_rng(C)
    n = max(3, min(201, 40000 // C))               # odd: a pair path's last row alone
    x = _rows(rng, n, C, dtype)
    x[0] = np.round(x[0])                          # ties: the first maximum is k
    x[-1] = np.round(x[-1] / 4)                    # many ties (each adds exactly 1 to s)
    if n > 4:
        x[1, C // 2] = np.nan                      # NaN row
        x[2, :] = -np.inf                          # all -inf
        x[3, C - 1] = np.inf                       # +inf
        x[4, :] = -np.inf
        x[4, 0] = 1.0                              # one finite, the rest masked
    if n > 6:
        x[5, :] = 0.0
        x[5, C // 3] = 120.0 if dtype == np.float32 else 800.0   # a tiny sum (redone exactly)
    y = rng.integers(0, C, n)
    got = T.op_row_stats(x, y, extras=extras)
    want = _on("baseline", T.op_row_stats, x, y, extras=extras)
    np.testing.assert_array_equal(got["k"], want["k"])
    np.testing.assert_array_equal(got["k"], np.argmax(x, axis=1))
    if extras:
        np.testing.assert_array_equal(got["rank"], want["rank"])
    fin = np.isfinite(want["m"])
    np.testing.assert_array_equal(got["m"][fin], want["m"][fin])
    np.testing.assert_array_equal(np.isnan(got["m"]), np.isnan(want["m"]))
    for key in ("s", "l", "s2", "sx") if extras else ("s", "l"):
        assert_close(got[key], want[key], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("C", [3, 64, 65, 79, 80, 81, 100, 127, 128, 129, 257, 1000, 1023, 1025, 4099, 8193, 20000])
def test_stats_exp_against_portable(isa, dtype, C):
    """stats_exp_rows: the statistics of row_stats, and (on the paths that
    fuse them, rows of more than 64 classes) e = exp(x - m) written with
    the exp of the row writes -- its sum over j != k is s."""
    rng = np.random.default_rng(C + 11)
    n = max(9, min(61, 40000 // C))
    x = _rows(rng, n, C, dtype)
    x[0] = np.round(x[0])                          # ties: the first maximum is k
    x[-1] = np.round(x[-1] / 4)                    # many ties (each adds exactly 1 to s)
    x[1, C // 2] = np.nan                          # NaN row
    x[2, :] = -np.inf                              # all -inf
    x[3, C - 1] = np.inf                           # +inf
    x[4, :] = -np.inf
    x[4, 0] = 1.0                                  # one finite, the rest exp(-inf) = 0
    x[5, :] = 0.0
    x[5, C // 3] = 120.0 if dtype == np.float32 else 800.0   # a tiny sum (redone), its terms flushed
    x[6, :] = -200.0 if dtype == np.float32 else -800.0      # terms below the normal range
    x[6, C - 1] = 0.0                              # the maximum in the tail
    got = T.op_row_stats(x, exps=True)
    want = _on("baseline", T.op_row_stats, x)
    assert got["wrote"] == (isa != "baseline" and C > 64)
    np.testing.assert_array_equal(got["k"], want["k"])
    np.testing.assert_array_equal(got["k"], np.argmax(x, axis=1))
    fin = np.isfinite(want["m"])
    np.testing.assert_array_equal(got["m"][fin], want["m"][fin])
    np.testing.assert_array_equal(np.isnan(got["m"]), np.isnan(want["m"]))
    assert_close(got["s"], want["s"], dtype)
    assert_close(got["l"], want["l"], dtype)
    if got["wrote"]:
        e = got["e"][fin]
        ones = np.ones(n)[fin]
        want_e = _on("baseline", T.op_row_write, "exp_affine", x[fin], want["m"][fin], ones)
        assert_close(e, want_e, dtype)
        rows = np.flatnonzero(fin)
        assert (e[np.arange(rows.size), want["k"][rows]] == 1.0).all()
        assert ((e >= 0) & (e <= 1)).all()
        assert (got["e"][6, :-1] == 0.0).all() and got["e"][6, -1] == 1.0
        assert (got["e"][4, 1:] == 0.0).all()
        shifted = T.op_row_stats(x, exps=True, shifted=True)
        for key in ("m", "s", "l", "k"):
            np.testing.assert_array_equal(shifted[key], got[key])
        np.testing.assert_array_equal(shifted["e"][fin], (x[fin] - got["m"][fin, None].astype(dtype)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("C", [1, 7, 8, 9, 16, 17, 65, 100, 1000])
def test_scale_rows_against_portable(isa, dtype, C):
    rng = np.random.default_rng(C + 5)
    n = 13
    e = rng.random((n, C)).astype(dtype)
    e[0, 0] = 0.0
    a = rng.random(n)
    b = rng.random(n)
    w = rng.random(C) + 0.5
    m = np.zeros(n)
    for args in ((a,), (a, None, b), (a, w, b)):
        got = T.op_row_write("scale", e, m, *args)
        want = args[0][:, None] * e.astype(np.float64)
        if len(args) > 1:
            want = want - args[2][:, None] * (args[1] if args[1] is not None else 1.0)
        assert_close(got, want.astype(dtype), dtype)
        assert_close(got, _on("baseline", T.op_row_write, "scale", e, m, *args), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("C", [1, 2, 3, 7, 8, 9, 16, 17, 33, 64, 65, 100, 1000])
def test_row_writes_against_portable(isa, dtype, C):
    rng = np.random.default_rng(C + 7)
    n = 37
    x = _rows(rng, n, C, dtype)
    if C > 1:
        x[1, 0] = -np.inf                          # probability 0 exactly
    x[2, :] = -200.0 if dtype == np.float32 else -800.0   # terms below the normal range
    x[2, 0] = 0.0
    st = T.op_row_stats(x)
    a = 1.0 / (1.0 + st["s"])
    b = rng.random(n)
    w = rng.random(C) + 0.5
    for args in ((a,), (a, None, b), (a, w, b)):
        got = T.op_row_write("exp_affine", x, st["m"], *args)
        want = _on("baseline", T.op_row_write, "exp_affine", x, st["m"], *args)
        assert_close(got, want, dtype)
    got = T.op_row_write("exp_affine", x, st["m"], a)
    assert (C == 1 or got[1, 0] == 0.0) and (got[2, 1:] == 0.0).all()
    got = T.op_row_write("sub", x, st["m"], st["l"])
    want = _on("baseline", T.op_row_write, "sub", x, st["m"], st["l"])
    assert_close(got, want, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn", ["sigmoid", "log_sigmoid"])
def test_elementwise_every_length(isa, dtype, fn):
    rng = np.random.default_rng(3)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 88.0, -88.0, 104.0, -104.0, 745.0, -745.0, 1e-30, -1e-30])
    for n in LENGTHS:
        x = (rng.standard_normal(n) * 20).astype(dtype)
        x[: min(n, special.size)] = special[: min(n, special.size)].astype(dtype)
        got = getattr(fx, fn)(x)
        want = _on("baseline", getattr(fx, fn), x)
        assert_close(got, want, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opts", [{}, {"weight": "full"}, {"pos_weight": True}, {"weight": "col", "pos_weight": True},
                                  {"label_smoothing": 0.1}, {"gamma": 2.0, "alpha": 0.25}])
def test_bce_segments_every_length(isa, dtype, opts):
    rng = np.random.default_rng(4)
    for L in (1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 130, 1001):
        x = (rng.standard_normal((3, L)) * 10).astype(dtype)
        x.flat[:6] = np.array([np.inf, -np.inf, 0.0, 90.0, -90.0, 700.0])[: min(6, x.size)]
        t = rng.random((3, L)).astype(dtype)
        t.flat[:3] = [1.0, 0.0, 1.0][: min(3, t.size)]
        kw = dict(opts)
        w = kw.pop("weight", None)
        if w == "full":
            kw["weight"] = rng.random((3, L))
        elif w == "col":
            kw["weight"] = rng.random(L)
        if kw.pop("pos_weight", False):
            kw["pos_weight"] = rng.random(L) + 0.5
        for red in ("none", "sum"):
            got = fx.sigmoid_binary_cross_entropy(x, t, reduction=red, return_grad=True, **kw)
            want = _on("baseline", fx.sigmoid_binary_cross_entropy, x, t, reduction=red, return_grad=True, **kw)
            assert_close(got[0], want[0], dtype)
            assert_close(got[1], want[1], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weighted"])
def test_evaluate_binary_every_length(isa, dtype, weighted):
    # the segment kernel's sums (loss, hits, Brier, weight) and the
    # histogram it feeds, against the portable loop: every tail length,
    # infinite and saturated logits, probability targets, zero weights
    rng = np.random.default_rng(9)
    for L in (1, 7, 8, 9, 15, 16, 17, 31, 33, 255, 256, 257, 1001):
        x = (rng.standard_normal(L) * 6).astype(dtype)
        x[: min(5, L)] = np.array([np.inf, -np.inf, 0.0, 90.0, -90.0])[: min(5, L)]
        t = rng.random(L).astype(dtype)
        t[: min(4, L)] = np.array([1.0, 0.0, 0.5, 1.0])[: min(4, L)]
        w = rng.random(L) if weighted else None
        if weighted:
            w[1::5] = 0.0
        got = fx.evaluate_binary(x, t, sample_weight=w, calibration_bins=7)
        want = _on("baseline", fx.evaluate_binary, x, t, sample_weight=w, calibration_bins=7)
        rtol = 1e-5 if dtype == np.float32 else 1e-12
        assert got.count == want.count
        assert got.accuracy == pytest.approx(want.accuracy, rel=1e-12)
        assert got.loss == pytest.approx(want.loss, rel=rtol)
        assert got.brier == pytest.approx(want.brier, rel=rtol, abs=1e-15)
        np.testing.assert_allclose(got.calibration.weight, want.calibration.weight, rtol=1e-12)
        np.testing.assert_allclose(got.calibration.confidence_sum, want.calibration.confidence_sum, rtol=rtol)
        np.testing.assert_allclose(got.calibration.correct_sum, want.calibration.correct_sum, rtol=1e-12)




@pytest.mark.parametrize("C", [3, 4, 5, 6, 10, 16, 17, 33, 64])
def test_forward_ties_at_the_maximum(isa, C):
    # the forward's across-rows pass keeps no argmax: it leaves out every
    # term equal to the maximum and adds back (count - 1), each tie being
    # exactly 1 -- rows of rounded logits (many ties), all-equal rows, two
    # tied maxima with the label on one of them or elsewhere, against the
    # reference row by row and in the mean
    from fusedxent import reference as R
    rng = np.random.default_rng(C)
    n = 16 * 9 + 5
    x = np.round(rng.standard_normal((n, C)) * 2).astype(np.float32)
    y = rng.integers(0, C, n)
    two = np.arange(3, n, 5)
    same = np.setdiff1d(np.arange(0, n, 7), two)
    x[same] = 1.5                                 # all equal: log(C)
    x[two] = rng.standard_normal((two.size, C)).astype(np.float32) - 30.0
    x[two, 0] = x[two, C - 1] = 4.0              # two maxima
    y[two[::2]] = 0                               # the label on a tied maximum: log1p(1 + tiny)
    got = fx.softmax_cross_entropy(x, y, reduction="none")
    want = R.softmax_cross_entropy(x.astype(np.float64), y, reduction="none")
    assert_close(got, want, np.float32)
    np.testing.assert_allclose(got[same], np.log(C), rtol=2e-7)
    np.testing.assert_allclose(got[two[::2]], want[two[::2]], rtol=3e-7)
    assert fx.softmax_cross_entropy(x, y) == pytest.approx(want.mean(), rel=1e-6)

def test_two_classes_every_difference(isa):
    # C = 2's loss comes from d = x_other - x_y (on AVX-512, max(d, 0) +
    # softplus(-|d|) from the table): within ~2.5 ULP of the float64 loss
    # row by row over d in [-200, 200] -- the table's half-unit intervals,
    # its exp branch from |d| = 15.75, the flush guard near |d| = 70.5 past
    # which rows are redone exactly (tiny losses keep their digits),
    # infinities and NaN -- with the label on either side, every tail length
    # and the mean (plain pass, ignored rows) beside reduction="none"
    from fusedxent import reference as R
    f32 = np.float32
    edges = [15.75, 70.0, 70.5, 71.0, 87.0, 104.0]
    d = np.concatenate([np.linspace(-200, 200, 4001), np.arange(-20, 20.25, 0.25),
                        [np.nextafter(f32(e), f32(s * 100)) * s for e in edges for s in (1, -1)],
                        [e * s for e in edges for s in (1, -1)],
                        [0.0, 1e-30, -1e-30, np.inf, -np.inf, np.nan]]).astype(f32)
    x = np.zeros((2 * d.size, 2), f32)
    y = np.zeros(2 * d.size, np.int64)
    x[: d.size, 1] = d                  # label 0: x_other - x_y = d exactly
    x[d.size:, 0] = d
    y[d.size:] = 1
    perm = np.random.default_rng(3).permutation(y.size)
    x, y = x[perm], y[perm]
    for n in (1, 15, 16, 17, 33, 64 * 3 + 5, y.size):
        got = fx.softmax_cross_entropy(x[:n], y[:n], reduction="none").astype(np.float64)
        want = R.softmax_cross_entropy(x[:n].astype(np.float64), y[:n], reduction="none")
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
        fin = np.isfinite(want)
        # the losses are float32: below 2^-126 an absolute step of 2^-149
        excess = np.abs(got[fin] - want[fin]) - (3e-7 * want[fin] + 2.0 ** -148)
        assert excess.max() <= 0, (excess.max(), x[:n][fin][np.argmax(excess)])
        # the pass's own sums: rows it leaves to the exact path (past the
        # guard, infinite, NaN) make the caller sum r itself, so without them
        ok = np.abs(x[:n, 0].astype(np.float64) - x[:n, 1]) < 60
        xo, yo = x[:n][ok], y[:n][ok].copy()
        yo[::3] = -100                  # ignored rows: neither summed nor counted
        kept = yo != -100
        if kept.any():
            assert fx.softmax_cross_entropy(xo, yo) == pytest.approx(want[ok][kept].mean(), rel=1e-6)

def test_paths_reported():
    import platform
    names = K.isa_names()
    # the rows of pyx/fx_isa_table.def this platform builds
    want = {"x86_64": ("baseline", "avx2", "avx512"), "AMD64": ("baseline", "avx2", "avx512"),
            "aarch64": ("baseline", "neon"), "arm64": ("baseline", "neon")}.get(platform.machine(), ("baseline",))
    assert names == want
    sup = K.isa_supported()
    assert sup[0] == "baseline" and set(sup) <= set(names)
    if K.simde_build():
        assert "avx512" in sup      # emulated


@pytest.mark.skipif(K.simde_build() or platform.machine() != "x86_64" or not os.path.exists("/proc/cpuinfo"),
                    reason="x86-64 Linux: the kernel's CPU flags are the second opinion")
def test_cpu_detection_agrees_with_the_operating_system():
    # The x86 paths are chosen from CPUID and XCR0 directly; Linux lists a
    # feature in /proc/cpuinfo only when the CPU has it and the kernel
    # saves its registers -- the same two conditions.
    with open("/proc/cpuinfo") as f:
        flags = set(next(ln for ln in f if ln.startswith("flags")).split(":", 1)[1].split())
    avx2 = {"avx", "avx2", "fma", "f16c"} <= flags
    avx512 = avx2 and {"avx512f", "avx512dq", "avx512bw", "avx512vl"} <= flags
    got = set(K.isa_supported())
    assert ("avx2" in got) == avx2 and ("avx512" in got) == avx512, (sorted(got), avx2, avx512)
