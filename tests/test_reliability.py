"""Reliability: every memory layout, huge arrays, threads, the GIL, leaks,
and property-based fuzzing against the reference."""
import gc
import resource
import sys
import threading
import time

import numpy as np
import pytest

import fusedxent as fx
from fusedxent import reference as R

from helpers import assert_close, tol

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st, HealthCheck  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402


# ------------------------------------------------------------------ layouts

def _unaligned(a):
    buf = np.empty(a.nbytes + 1, np.uint8)[1:]
    u = buf.view(a.dtype).reshape(a.shape)
    u[...] = a
    assert not u.flags.aligned
    return u


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_layout_gives_the_reference(tmp_path, dtype):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((11, 6)).astype(dtype)
    y = rng.integers(0, 6, 11)
    want_l, want_g = R.softmax_cross_entropy(x, y, reduction="none", return_grad=True)
    path = tmp_path / "x.npy"
    np.save(path, x)
    ypath = tmp_path / "y.npy"
    np.save(ypath, y)
    variants = {
        "C": x, "F": np.asfortranarray(x), "negative strides": x[::-1, ::-1][::-1, ::-1],
        "reversed rows": np.ascontiguousarray(x[::-1])[::-1],
        "strided class axis": np.repeat(x, 2, axis=1)[:, ::2],
        "big-endian": x.astype(x.dtype.newbyteorder(">")),
        "unaligned": _unaligned(x),
        "memmap": np.load(path, mmap_mode="r"),
        "list": x.tolist(),
    }
    ro = x.copy()
    ro.flags.writeable = False
    variants["read-only"] = ro
    for name, xv in variants.items():
        l, g = fx.softmax_cross_entropy(xv, y, reduction="none", return_grad=True)
        if name == "list":      # a list of Python floats is float64
            assert_close(l, R.softmax_cross_entropy(np.asarray(xv), y, reduction="none"), np.float64)
            continue
        assert_close(l, want_l, dtype)
        assert_close(g, want_g, dtype)
        assert_close(fx.softmax(xv), R.softmax(x), dtype)
        assert_close(fx.sigmoid(xv), R.sigmoid(x), dtype)
    assert_close(fx.softmax_cross_entropy(x, np.load(ypath, mmap_mode="r"), reduction="none"), want_l, dtype)


@pytest.mark.parametrize("ldtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
                                    np.uint32, np.uint64])
def test_every_label_dtype(ldtype):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((9, 5))
    y = rng.integers(0, 5, 9)
    yl = y.astype(ldtype)
    got = fx.softmax_cross_entropy(x, yl, reduction="none")
    # bitwise against int64 labels through the same kernel path (the label
    # dtype must not matter); against the reference within the tolerance
    # (the vector path's summation order may move the last bit)
    np.testing.assert_array_equal(got, fx.softmax_cross_entropy(x, y.astype(np.int64), reduction="none"))
    assert_close(got, R.softmax_cross_entropy(x, y, reduction="none"), np.float64)
    assert fx.evaluate(x, yl).count == 9
    if np.dtype(ldtype).kind == "i":
        ye = y.astype(ldtype)
        ye[0] = -100
        assert fx.evaluate(x, ye).count == 8


def test_empty_batches_and_one_class():
    for shape in [(0, 4), (0, 1), (3, 0, 4)]:
        x = np.zeros(shape)
        assert fx.softmax(x).shape == shape
        assert fx.logsumexp(x).shape == shape[:-1]
        y = np.zeros(shape[:-1], int)
        assert fx.softmax_cross_entropy(x, y) == 0.0
        assert fx.softmax_cross_entropy(x, y, reduction="none").shape == shape[:-1]
        ev = fx.evaluate(x, y)
        assert ev.count == 0 and ev.loss == 0.0 and ev.lse.shape == shape[:-1]
    for shape in [(3, 0), (0,), (0, 3)]:
        z = np.zeros(shape)
        assert fx.sigmoid_binary_cross_entropy(z, z, weight=1.0, pos_weight=2.0) == 0.0
        assert fx.sigmoid_binary_cross_entropy(z, z, reduction="none", return_grad=True)[1].shape == shape
    x1 = np.array([[2.0], [-3.0]])
    assert np.array_equal(fx.softmax(x1), [[1.0], [1.0]])
    l, g = fx.softmax_cross_entropy(x1, np.array([0, 0]), return_grad=True)
    assert l == 0.0 and not g.any()
    assert fx.sigmoid(np.float32(0.5)).shape == ()


# ------------------------------------------------------------------ scale (> 2**31 elements)

def _have_memory(nbytes):
    try:
        import os
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") > 2 * nbytes
    except (ValueError, OSError, AttributeError):
        return False


@pytest.mark.skipif(sys.maxsize < 2**40, reason="needs a 64-bit address space")
def test_huge_arrays_index_past_2_31():
    # np.zeros maps pages lazily: reading them costs time, not memory
    C = 2**30 + 3
    x = np.zeros((3, C), np.float32)
    y = np.array([0, C - 1, 12345])
    l = fx.softmax_cross_entropy(x, y, reduction="none")
    np.testing.assert_allclose(l, np.log(C), rtol=1e-6)
    assert np.array_equal(fx.evaluate(x, y).argmax, [0, 0, 0])
    n = 2**31 + 7
    xb = np.zeros(n, np.float32)
    tb = np.zeros(n, np.float32)
    assert fx.sigmoid_binary_cross_entropy(xb, tb) == pytest.approx(np.log(2), rel=1e-6)
    assert fx.sigmoid_binary_cross_entropy(xb, tb, reduction="sum") == pytest.approx(n * np.log(2), rel=1e-6)


# ------------------------------------------------------------------ threads and the GIL

def test_concurrent_calls_match_serial():
    rng = np.random.default_rng(5)
    jobs = []
    for k in range(8):
        x = rng.standard_normal((500 + 37 * k, 3 + 50 * k)).astype(np.float32 if k % 2 else np.float64)
        y = rng.integers(0, x.shape[1], x.shape[0])
        jobs.append((x, y))
    serial = [(fx.softmax_cross_entropy(x, y, return_grad=True), fx.evaluate(x, y).loss) for x, y in jobs]
    results = [None] * 8
    barrier = threading.Barrier(8)

    def work(i):
        barrier.wait()
        for _ in range(5):
            x, y = jobs[i]
            results[i] = (fx.softmax_cross_entropy(x, y, return_grad=True), fx.evaluate(x, y).loss)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for (a, b), (c, d) in zip(results, serial):
        assert a[0] == c[0] and np.array_equal(a[1], c[1]) and b == d


def test_gil_is_released_during_kernels():
    x = np.random.default_rng(6).standard_normal((20000, 1000)).astype(np.float32)
    y = np.zeros(20000, int)
    ticks = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            ticks[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    try:
        time.sleep(0.01)
        before = ticks[0]
        t0 = time.perf_counter()
        n = 0
        while time.perf_counter() - t0 < 0.3:
            fx.softmax_cross_entropy(x, y, num_threads=1)
            n += 1
        progressed = ticks[0] - before
    finally:
        stop.set()
        t.join()
    assert n >= 1 and progressed > 1000


# ------------------------------------------------------------------ leaks

def _peak_rss_mb():
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024 if sys.platform != "darwin" else r / 2**20


def test_no_leaks_over_5000_calls():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((64, 10)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    t = (rng.random(x.shape) < 0.5).astype(np.float32)
    g = np.empty_like(x)

    def round_trip():
        fx.sigmoid(x)
        fx.log_sigmoid(x)
        fx.softmax(x)
        fx.log_softmax(x)
        fx.logsumexp(x)
        fx.softmax_cross_entropy(x, y, return_grad=True, grad_out=g)
        fx.softmax_cross_entropy(x, t, label_smoothing=0.1, return_grad=True)
        fx.sigmoid_binary_cross_entropy(x, t, return_grad=True, gamma=2.0)
        fx.cross_entropy(t, fx.softmax(x))
        fx.binary_cross_entropy(fx.sigmoid(x), t)
        fx.evaluate(x, y)
        for bad in (lambda: fx.softmax_cross_entropy(x, y + 10), lambda: fx.softmax(x, axis=3),
                    lambda: fx.sigmoid_binary_cross_entropy(x, t[:, :3])):
            try:
                bad()
            except ValueError:
                pass

    for _ in range(200):
        round_trip()
    gc.collect()
    before = _peak_rss_mb()
    for _ in range(5000):
        round_trip()
    gc.collect()
    assert _peak_rss_mb() - before < 5.0


# ------------------------------------------------------------------ property-based fuzzing

FLOATS = st.sampled_from([np.float32, np.float64])


@st.composite
def logits_cases(draw):
    dtype = draw(FLOATS)
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 7), min_size=ndim, max_size=ndim)))
    scale = draw(st.sampled_from([0.1, 1.0, 10.0, 60.0]))
    x = draw(hnp.arrays(dtype, shape, elements=st.floats(-1, 1, width=32))) * dtype(scale)
    axis = draw(st.integers(-ndim, ndim - 1))
    layout = draw(st.sampled_from(["C", "F", "reversed"]))
    if layout == "F":
        x = np.asfortranarray(x)
    elif layout == "reversed":
        x = np.ascontiguousarray(x[..., ::-1])[..., ::-1]
    return x, axis


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=logits_cases(), data=st.data())
def test_fuzz_cross_entropy_against_reference(case, data):
    x, axis = case
    C = x.shape[axis]
    idx_shape = tuple(int(d) for d in np.delete(x.shape, axis % x.ndim))
    y = data.draw(hnp.arrays(np.int64, idx_shape, elements=st.integers(0, C - 1)))
    opts = data.draw(st.fixed_dictionaries({}, optional={
        "label_smoothing": st.sampled_from([0.0, 0.1, 1.0]),
        "reduction": st.sampled_from(["none", "mean", "sum"]),
        "z_loss": st.sampled_from([0.0, 1e-3]),
        "base": st.sampled_from([None, 2]),
    }))
    l, g = fx.softmax_cross_entropy(x, y, axis=axis, return_grad=True, **opts)
    lr, gr = R.softmax_cross_entropy(x, y, axis=axis, return_grad=True, **opts)
    assert_close(l, lr, x.dtype)
    # gradient elements are gscale * (p - t) (+ the z-loss term): where p and
    # t cancel exactly (uniform logits, label_smoothing=1) the answer is 0
    # and both sides carry rounding of order gscale * eps, so the floor is
    # relative to gscale, not to max|grad|
    k = 1 / np.log(2) if opts.get("base") == 2 else 1.0
    gscale = k / max(1, int(np.prod(idx_shape))) if opts.get("reduction", "mean") == "mean" else k
    np.testing.assert_allclose(g, gr, rtol=tol(x.dtype), atol=tol(x.dtype) * (gscale + np.max(np.abs(gr), initial=0)))
    p = fx.softmax(x, axis=axis)
    np.testing.assert_allclose(p.sum(axis=axis), 1.0, rtol=1e-5 if x.dtype == np.float32 else 1e-13)
    assert (fx.log_softmax(x, axis=axis) <= 0).all()
    if opts.get("reduction", "mean") == "mean" and not opts.get("z_loss"):
        np.testing.assert_allclose(g.sum(axis=axis), 0.0, atol=1e-6 if x.dtype == np.float32 else 1e-14)


@settings(max_examples=100, deadline=None)
@given(case=logits_cases(), data=st.data())
def test_fuzz_bce_against_reference(case, data):
    x, _ = case
    t = data.draw(hnp.arrays(x.dtype, x.shape, elements=st.floats(0, 1, width=32)))
    opts = data.draw(st.fixed_dictionaries({}, optional={
        "label_smoothing": st.sampled_from([0.0, 0.2]),
        "reduction": st.sampled_from(["none", "mean", "sum"]),
        "gamma": st.sampled_from([0.0, 2.0]),
        "alpha": st.sampled_from([None, 0.25]),
        "pos_weight": st.sampled_from([None, 3.0]),
    }))
    l, g = fx.sigmoid_binary_cross_entropy(x, t, return_grad=True, **opts)
    lr, gr = R.sigmoid_binary_cross_entropy(x, t, return_grad=True, **opts)
    assert_close(l, lr, x.dtype)
    assert_close(g, gr, x.dtype)
