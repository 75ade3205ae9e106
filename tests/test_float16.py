"""float16 inputs: the kernels convert each block of rows to float32 in
scratch, run the float32 arithmetic on it and round the outputs back, so a
float16 call must give bitwise what the float32 call gives on the same
values (x.astype(float32)), rounded to float16 -- for every function, every
kernel shape (small-class groups, rows in cache, rows read in chunks, one
row per block), every option, any thread count."""
import numpy as np
import pytest

import fusedxent as fx

F16, F32 = np.float16, np.float32

# (rows, classes): small-class groups, two ragged blocks, rows longer than
# a reduction block (one row per block) and than the online chunk (8192)
SHAPES = [(1000, 3), (700, 10), (300, 33), (200, 64), (100, 65), (40, 1000), (5, 20000), (3, 9000),
          (1, 1), (0, 7)]


def same(a, b):
    """Bitwise equal, NaN equal to NaN (as float16 bit patterns)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    if a.dtype == F16:
        a, b = a.view(np.uint16), b.view(np.uint16)
        na = np.isnan(np.asarray(a).view(F16))
        nb = np.isnan(np.asarray(b).view(F16))
        assert np.array_equal(na, nb)
        assert np.array_equal(a[~na], b[~nb])
    else:
        assert np.array_equal(a, b, equal_nan=True)


def as16(v):
    return np.asarray(v, F32).astype(F16)


@pytest.fixture(params=SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def logits(request, rng):
    N, C = request.param
    x = (rng.standard_normal((N, C)) * 4).astype(F16)
    if N > 2 and C > 1:
        x[1, C // 2] = np.nan          # IEEE rows take the scalar path
        x[2, :] = -np.inf
    return x


@pytest.mark.parametrize("fn", ["softmax", "log_softmax", "logsumexp"])
def test_normalizers_are_float32_rounded(logits, fn):
    f = getattr(fx, fn)
    got = f(logits)
    assert got.dtype == F16
    same(got, as16(f(logits.astype(F32))))


@pytest.mark.parametrize("fn", ["sigmoid", "log_sigmoid"])
def test_elementwise_are_float32_rounded(rng, fn):
    x = (rng.standard_normal((37, 1001)) * 8).astype(F16)   # 37037 elements: 3 blocks
    x.flat[::97] = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 65504, -65504], F16)[
        np.arange(x.size)[::97] % 7]
    f = getattr(fx, fn)
    same(f(x), as16(f(x.astype(F32))))
    out = np.empty_like(x)
    assert f(x, out=out) is out
    same(out, f(x))
    same(f(x[:, ::2]), as16(f(x[:, ::2].astype(F32))))     # strided input


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("opts", [{}, {"label_smoothing": 0.1, "z_loss": 1e-3},
                                  {"weight": True, "sample_weight": True, "ignore_index": 0}])
def test_cross_entropy_index_is_float32_rounded(logits, rng, reduction, opts):
    N, C = logits.shape
    y = rng.integers(0, C, N)
    kw = dict(opts)
    if kw.pop("weight", False):
        kw["weight"] = rng.random(C) + 0.5
    if kw.pop("sample_weight", False):
        kw["sample_weight"] = rng.random(N)
    l16, g16 = fx.softmax_cross_entropy(logits, y, reduction=reduction, return_grad=True, **kw)
    l32, g32 = fx.softmax_cross_entropy(logits.astype(F32), y, reduction=reduction, return_grad=True, **kw)
    assert g16.dtype == F16
    same(g16, as16(g32))
    if reduction == "none":
        assert l16.dtype == F16
        same(l16, as16(l32))
    else:
        assert l16 == l32 or (np.isnan(l16) and np.isnan(l32))
    # forward only, and the gradient written over the logits themselves
    lf = fx.softmax_cross_entropy(logits, y, reduction=reduction, **kw)
    same(np.asarray(lf), np.asarray(l16))
    inplace = logits.copy()
    _, g = fx.softmax_cross_entropy(inplace, y, reduction=reduction, return_grad=True,
                                    grad_out=inplace, **kw)
    assert g is inplace
    same(inplace, g16)


@pytest.mark.parametrize("tdtype", [F16, F32, np.float64])
def test_cross_entropy_soft_targets_any_dtype(logits, rng, tdtype):
    N, C = logits.shape
    t = rng.random((N, C))
    t /= np.maximum(t.sum(1, keepdims=True), 1e-30)
    t = t.astype(tdtype)
    kw = dict(reduction="none", return_grad=True, label_smoothing=0.05)
    l16, g16 = fx.softmax_cross_entropy(logits, t, **kw)
    # float16 logits read float16 targets as they are and others in float32
    l32, g32 = fx.softmax_cross_entropy(logits.astype(F32), t.astype(F32), **kw)
    same(l16, as16(l32))
    same(g16, as16(g32))


def test_evaluate_is_float32_rounded(logits, rng):
    N, C = logits.shape
    y = rng.integers(0, C, N)
    sw = rng.random(N)
    e16 = fx.evaluate(logits, y, sample_weight=sw)
    e32 = fx.evaluate(logits.astype(F32), y, sample_weight=sw)
    same(e16.lse, as16(e32.lse))
    same(e16.argmax, e32.argmax)
    for a, b in zip(e16, e32):
        if np.ndim(a) == 0:
            assert a == b or (np.isnan(a) and np.isnan(b))


@pytest.mark.parametrize("tdtype", [F16, F32, np.float64, np.bool_])
@pytest.mark.parametrize("opts", [{}, {"weight": "col", "pos_weight": True},
                                  {"weight": "full", "gamma": 2.0, "alpha": 0.25, "label_smoothing": 0.1}])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_bce_is_float32_rounded(rng, tdtype, opts, reduction):
    x = (rng.standard_normal((29, 1200)) * 5).astype(F16)     # 34800 elements: 3 blocks, ragged rows
    x[3, 7] = np.inf
    x[4, 9] = -np.inf
    t = (rng.random(x.shape) < 0.3) if tdtype is np.bool_ else rng.random(x.shape).astype(tdtype)
    kw = dict(opts)
    w = kw.pop("weight", None)
    if w == "col":
        kw["weight"] = rng.random(1200)
    elif w == "full":
        kw["weight"] = rng.random(x.shape)
    if kw.pop("pos_weight", False):
        kw["pos_weight"] = rng.random(1200) * 3
    l16, g16 = fx.sigmoid_binary_cross_entropy(x, t, reduction=reduction, return_grad=True, **kw)
    l32, g32 = fx.sigmoid_binary_cross_entropy(x.astype(F32), t if tdtype is np.bool_ else t.astype(F32),
                                               reduction=reduction, return_grad=True, **kw)
    same(g16, as16(g32))
    if reduction == "none":
        same(l16, as16(l32))
    else:
        assert l16 == l32


def test_float16_results_do_not_depend_on_threads(rng):
    # 150000 elements: 10 reduction blocks, above the one-thread threshold
    x = rng.standard_normal((3000, 50)).astype(F16)
    y = rng.integers(0, 50, 3000)
    nt = 2
    l1, g1 = fx.softmax_cross_entropy(x, y, return_grad=True, num_threads=1)
    l2, g2 = fx.softmax_cross_entropy(x, y, return_grad=True, num_threads=nt)
    assert l1 == l2
    same(g1, g2)
    same(fx.softmax(x, num_threads=1), fx.softmax(x, num_threads=nt))


def test_float16_outputs_into_noncontiguous_out(rng):
    x = rng.standard_normal((200, 30)).astype(F16)
    out = np.empty((30, 200), F16).T            # Fortran-ordered view
    assert fx.softmax(x, out=out) is out
    same(np.ascontiguousarray(out), fx.softmax(x))
    x3 = rng.standard_normal((20, 7, 11)).astype(F16)
    same(fx.log_softmax(x3, axis=1), as16(fx.log_softmax(x3.astype(F32), axis=1)))


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_losses_from_probabilities_are_float32_rounded(rng, reduction):
    p = rng.random((600, 40))
    p /= p.sum(1, keepdims=True)
    q = rng.random((600, 40))
    q /= q.sum(1, keepdims=True)
    p16, q16 = p.astype(F16), q.astype(F16)
    q16[0, 0] = 0                                   # clipped to eps
    a = fx.cross_entropy(p16, q16, reduction=reduction)
    b = fx.cross_entropy(p16.astype(F32), q16.astype(F32), eps=float(np.finfo(F16).eps),
                         reduction=reduction)
    same(np.asarray(a), np.asarray(b if reduction != "none" else as16(b)))
    pr = rng.random((70, 500)).astype(F16)         # 35000 elements: 3 blocks
    w = rng.random((1, 500))
    for t in (rng.random(pr.shape).astype(F16), rng.random(pr.shape) < 0.5, rng.random(pr.shape)):
        a = fx.binary_cross_entropy(pr, t, weight=w, reduction=reduction)
        b = fx.binary_cross_entropy(pr.astype(F32), np.asarray(t, F16 if t.dtype == F16 else F32).astype(F32),
                                    weight=w, eps=float(np.finfo(F16).eps), reduction=reduction)
        same(np.asarray(a), np.asarray(b if reduction != "none" else as16(b)))


def test_float16_kernels_reject_mismatched_views():
    from fusedxent import _kernels as k
    x = np.zeros(100, F16)
    with pytest.raises(ValueError, match="grad_out has 200 elements, expected 100"):
        k.sigmoid_bce_half(x.view(np.uint16), x.view(np.uint16), None, None, False, None, None, 100,
                           1.0, 0.0, 0.0, -1.0, 1.0, None, np.zeros(200, np.uint16), np.zeros(1), 16384, 1)
