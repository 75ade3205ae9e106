"""out= and grad_out= that share memory with an input.

NumPy's rule: the result is that of the same call on non-overlapping
copies of the inputs, whatever the overlap (shifted, reversed, strided,
partial).  Exact in place (`out` is the input, `grad_out` is the logits)
stays zero-copy.  Both sides run through the same kernel path, so the
comparison is bitwise.
"""
import tracemalloc

import numpy as np
import pytest

import fusedxent as fx

N, C = 100, 10


def _overlaps(rng, dtype):
    """(name, input, output) pairs of (N, C) views of one buffer."""
    n = N * C
    buf = lambda m: rng.standard_normal(m).astype(dtype)
    b = buf(n + 2 * C)
    yield "shift +1 element", b[:n].reshape(N, C), b[1:n + 1].reshape(N, C)
    b = buf(n + 2 * C)
    yield "shift -1 element", b[1:n + 1].reshape(N, C), b[:n].reshape(N, C)
    b = buf(n + 2 * C)
    yield "shift +1 row", b[:n].reshape(N, C), b[C:n + C].reshape(N, C)
    b = buf(n + 2 * C)
    yield "shift -1 row", b[C:n + C].reshape(N, C), b[:n].reshape(N, C)
    b = buf(n)
    yield "reversed", b.reshape(N, C), b[::-1].reshape(N, C)
    b = buf(n)
    yield "rows reversed", b.reshape(N, C), b.reshape(N, C)[::-1]
    b = buf(2 * n)
    yield "strided input", b.reshape(N, 2 * C)[:, ::2], b[:n].reshape(N, C)
    b = buf(2 * n)
    yield "strided output", b[:n].reshape(N, C), b.reshape(N, 2 * C)[:, 1::2]
    b = buf(2 * n + C)
    yield "interleaved rows", b[:2 * n].reshape(2 * N, C)[::2], b[C:2 * n + C].reshape(2 * N, C)[::2]


DTYPES = [np.float16, np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn", ["sigmoid", "log_sigmoid", "softmax", "log_softmax"])
def test_out_overlapping_the_input(fn, dtype):
    rng = np.random.default_rng(11)
    f = getattr(fx, fn)
    for name, x, out in _overlaps(rng, dtype):
        want = f(x.copy())
        got = f(x, out=out)
        assert got is out, name
        np.testing.assert_array_equal(out, want, err_msg=name)


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_out_overlapping_along_axis0(fn):
    rng = np.random.default_rng(12)
    b = rng.standard_normal(N * C + C)
    x, out = b[:N * C].reshape(N, C), b[C:].reshape(N, C)
    want = getattr(fx, fn)(x.copy(), axis=0)
    getattr(fx, fn)(x, axis=0, out=out)
    np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("fn", ["sigmoid", "log_sigmoid", "softmax", "log_softmax"])
def test_exact_in_place_is_zero_copy(fn):
    x = np.random.default_rng(13).standard_normal((2000, 500))
    want = getattr(fx, fn)(x)
    tracemalloc.start()
    try:
        got = getattr(fx, fn)(x, out=x)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert got is x and np.array_equal(x, want)
    assert peak < x.nbytes // 20, f"in place allocated {peak} bytes"


def test_grad_in_place_is_zero_copy():
    rng = np.random.default_rng(14)
    x = rng.standard_normal((2000, 500))
    y = rng.integers(0, 500, 2000)
    t = (rng.random(x.shape) < 0.5).astype(np.float64)
    want_ce = fx.softmax_cross_entropy(x, y, return_grad=True)
    want_bce = fx.sigmoid_binary_cross_entropy(x, t, return_grad=True)
    for call, want in ((lambda a: fx.softmax_cross_entropy(a, y, return_grad=True, grad_out=a), want_ce),
                       (lambda a: fx.sigmoid_binary_cross_entropy(a, t, return_grad=True, grad_out=a), want_bce)):
        a = x.copy()
        tracemalloc.start()
        try:
            l, g = call(a)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert g is a and l == want[0] and np.array_equal(a, want[1])
        assert peak < x.nbytes // 20, f"in place allocated {peak} bytes"


def _ce_cases(rng, dtype):
    """(name, kwargs builder) for softmax_cross_entropy with grad_out
    sharing memory with one of its inputs.  Each builder returns
    (logits, target, options, grad_out) over fresh buffers."""
    n = N * C

    def logits_shift(k):
        def make():
            b = rng.standard_normal(n + 2 * C).astype(dtype)
            x = b[C:n + C].reshape(N, C)
            return x, rng.integers(0, C, N), {}, b[C + k:n + C + k].reshape(N, C)
        return make

    def soft_target_is_grad():
        x = rng.standard_normal((N, C)).astype(dtype)
        t = rng.random((N, C)).astype(dtype)
        t /= t.sum(1, keepdims=True)
        return x, t, {}, t

    def soft_target_shifted():
        x = rng.standard_normal((N, C)).astype(dtype)
        b = rng.random(n + C).astype(dtype)
        t = b[:n].reshape(N, C)
        return x, t, {"label_smoothing": 0.1}, b[C:].reshape(N, C)

    def sample_weight_in_grad():
        x = rng.standard_normal((N, C)).astype(dtype)
        g = np.empty((N, C), dtype)
        sw = g.reshape(-1)[n - N:] if dtype == np.float64 else None
        if sw is None:                              # float64 weights can only alias float64 memory
            sw = rng.random(N)
            return x, rng.integers(0, C, N), {"sample_weight": sw}, g
        sw[...] = rng.random(N)
        return x, rng.integers(0, C, N), {"sample_weight": sw, "reduction": "mean"}, g

    def class_weight_in_grad():
        x = rng.standard_normal((N, C)).astype(dtype)
        g = np.empty((N, C), dtype)
        if dtype != np.float64:
            return x, rng.integers(0, C, N), {"weight": rng.random(C)}, g
        w = g[0]
        w[...] = rng.random(C) + 0.5
        return x, rng.integers(0, C, N), {"weight": w, "label_smoothing": 0.2}, g

    def labels_in_grad():
        x = rng.standard_normal((N, C)).astype(dtype)
        g = np.empty((N, C), dtype)
        y = g.reshape(-1).view(np.uint8)[:N * 8].view(np.int64)
        y[...] = rng.integers(0, C, N)
        return x, y, {}, g

    yield "logits shifted +1", logits_shift(1)
    yield "logits shifted -1", logits_shift(-1)
    yield "logits shifted a row", logits_shift(C)
    yield "soft target is grad_out", soft_target_is_grad
    yield "soft target shifted", soft_target_shifted
    yield "sample_weight inside grad_out", sample_weight_in_grad
    yield "class weight inside grad_out", class_weight_in_grad
    yield "labels inside grad_out", labels_in_grad


@pytest.mark.parametrize("dtype", DTYPES)
def test_grad_out_overlapping_ce_inputs(dtype):
    rng = np.random.default_rng(15)
    for name, make in _ce_cases(rng, dtype):
        for red in ("mean", "none"):
            x, t, opts, g = make()
            opts = dict(opts)
            opts.setdefault("reduction", red)
            copies = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in opts.items()}
            want_l, want_g = fx.softmax_cross_entropy(x.copy(), t.copy(), return_grad=True, **copies)
            got_l, got_g = fx.softmax_cross_entropy(x, t, return_grad=True, grad_out=g, **opts)
            assert got_g is g, name
            np.testing.assert_array_equal(got_l, want_l, err_msg=name)
            np.testing.assert_array_equal(g, want_g, err_msg=name)


def _bce_cases(rng, dtype):
    n = N * C

    def logits_shift(k):
        def make():
            b = rng.standard_normal(n + 2 * C).astype(dtype)
            return (b[C:n + C].reshape(N, C), (rng.random((N, C)) < 0.5).astype(dtype), {},
                    b[C + k:n + C + k].reshape(N, C))
        return make

    def target_is_grad():
        t = rng.random((N, C)).astype(dtype)
        return rng.standard_normal((N, C)).astype(dtype), t, {"gamma": 2.0}, t

    def target_reversed():
        t = rng.random((N, C)).astype(dtype)
        return rng.standard_normal((N, C)).astype(dtype), t, {}, t[::-1]

    def weight_in_grad():
        x = rng.standard_normal((N, C)).astype(dtype)
        t = rng.random((N, C)).astype(dtype)
        g = np.empty((N, C), dtype)
        if dtype != np.float64:
            return x, t, {"weight": rng.random((N, C))}, g
        g[...] = rng.random((N, C))
        return x, t, {"weight": g}, g

    def pos_weight_in_grad():
        x = rng.standard_normal((N, C)).astype(dtype)
        t = rng.random((N, C)).astype(dtype)
        g = np.empty((N, C), dtype)
        if dtype != np.float64:
            return x, t, {"pos_weight": rng.random(C) + 0.5}, g
        g[N - 1] = rng.random(C) + 0.5
        return x, t, {"pos_weight": g[N - 1]}, g

    yield "logits shifted +1", logits_shift(1)
    yield "logits shifted -1", logits_shift(-1)
    yield "target is grad_out", target_is_grad
    yield "target reversed", target_reversed
    yield "weight is grad_out", weight_in_grad
    yield "pos_weight inside grad_out", pos_weight_in_grad


@pytest.mark.parametrize("dtype", DTYPES)
def test_grad_out_overlapping_bce_inputs(dtype):
    rng = np.random.default_rng(16)
    for name, make in _bce_cases(rng, dtype):
        for red in ("mean", "none"):
            x, t, opts, g = make()
            opts = dict(opts, reduction=red)
            copies = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in opts.items()}
            want_l, want_g = fx.sigmoid_binary_cross_entropy(x.copy(), t.copy(), return_grad=True, **copies)
            got_l, got_g = fx.sigmoid_binary_cross_entropy(x, t, return_grad=True, grad_out=g, **opts)
            assert got_g is g, name
            np.testing.assert_array_equal(got_l, want_l, err_msg=name)
            np.testing.assert_array_equal(g, want_g, err_msg=name)
