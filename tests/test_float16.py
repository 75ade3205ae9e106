"""16-bit inputs (float16, and ml_dtypes' bfloat16): the kernels convert
each block of rows to float32 in scratch, run the float32 arithmetic on it
and round the outputs back, so a 16-bit call must give bitwise what the
float32 call gives on the same values (x.astype(float32)), rounded to the
16-bit type -- for every function, every kernel shape (small-class groups,
rows in cache, rows read in chunks, one row per block), every option, any
thread count.  Every test runs for both types (the `H` fixture)."""
import numpy as np
import pytest

import fusedxent as fx
from fusedxent._validate import machine_eps

F16, F32 = np.float16, np.float32
try:
    import ml_dtypes
    BF16 = np.dtype(ml_dtypes.bfloat16).type
except ImportError:          # pragma: no cover - ml_dtypes is a test dependency
    BF16 = None

# (rows, classes): small-class groups, two ragged blocks, rows longer than
# a reduction block (one row per block) and than the online chunk (1024)
SHAPES = [(1000, 3), (700, 10), (300, 33), (200, 64), (100, 65), (40, 1000), (5, 20000), (3, 9000),
          (1, 1), (0, 7)]


@pytest.fixture(params=["float16", "bfloat16"])
def H(request):
    """The 16-bit type under test."""
    if request.param == "float16":
        return F16
    if BF16 is None:
        pytest.skip("bfloat16 needs ml_dtypes")
    return BF16


def other(H):
    """The other 16-bit type (mixed 16-bit targets)."""
    return BF16 if H is F16 else F16


def same(a, b):
    """Bitwise equal, NaN equal to NaN (as 16-bit patterns)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    if a.dtype.itemsize == 2:
        na = np.isnan(a.astype(F32))
        nb = np.isnan(b.astype(F32))
        a, b = a.view(np.uint16), b.view(np.uint16)
        assert np.array_equal(na, nb)
        assert np.array_equal(a[~na], b[~nb])
    else:
        assert np.array_equal(a, b, equal_nan=True)


def as16(v, H):
    return np.asarray(v, F32).astype(H)


@pytest.fixture(params=SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def logits(request, rng, H):
    N, C = request.param
    x = (rng.standard_normal((N, C)) * 4).astype(H)
    if N > 2 and C > 1:
        x[1, C // 2] = np.nan          # IEEE rows take the scalar path
        x[2, :] = -np.inf
    return x


@pytest.mark.parametrize("fn", ["softmax", "log_softmax", "logsumexp"])
def test_normalizers_are_float32_rounded(logits, fn, H):
    f = getattr(fx, fn)
    got = f(logits)
    assert got.dtype == H
    same(got, as16(f(logits.astype(F32)), H))


@pytest.mark.parametrize("fn", ["sigmoid", "log_sigmoid"])
def test_elementwise_are_float32_rounded(rng, fn, H):
    x = (rng.standard_normal((37, 1001)) * 8).astype(H)   # 37037 elements: 3 blocks
    x.flat[::97] = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 65504, -65504], F32).astype(H)[
        np.arange(x.size)[::97] % 7]
    f = getattr(fx, fn)
    same(f(x), as16(f(x.astype(F32)), H))
    out = np.empty_like(x)
    assert f(x, out=out) is out
    same(out, f(x))
    same(f(x[:, ::2]), as16(f(x[:, ::2].astype(F32)), H))     # strided input


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("opts", [{}, {"label_smoothing": 0.1, "z_loss": 1e-3},
                                  {"weight": True, "sample_weight": True, "ignore_index": 0},
                                  {"softcap": 3.0, "temperature": 0.8}, {"gamma": 2.0, "alpha": 0.5},
                                  {"softcap": 5.0, "gamma": 1.0, "label_smoothing": 0.1}])
@pytest.mark.parametrize("base", [None, 2])
def test_cross_entropy_index_is_float32_rounded(logits, rng, reduction, opts, base, H):
    N, C = logits.shape
    y = rng.integers(0, C, N)
    kw = dict(opts)
    if kw.pop("weight", False):
        kw["weight"] = rng.random(C) + 0.5
    if kw.pop("sample_weight", False):
        kw["sample_weight"] = rng.random(N)
    kw["base"] = base          # losses in bits: scaled in float32, rounded once
    l16, g16 = fx.softmax_cross_entropy(logits, y, reduction=reduction, return_grad=True, **kw)
    l32, g32 = fx.softmax_cross_entropy(logits.astype(F32), y, reduction=reduction, return_grad=True, **kw)
    assert g16.dtype == H
    same(g16, as16(g32, H))
    if reduction == "none":
        assert l16.dtype == H
        same(l16, as16(l32, H))
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


@pytest.mark.parametrize("tdtype", ["half", "other half", F32, np.float64])
def test_cross_entropy_soft_targets_any_dtype(logits, rng, tdtype, H):
    N, C = logits.shape
    t = rng.random((N, C))
    t /= np.maximum(t.sum(1, keepdims=True), 1e-30)
    t = t.astype({"half": H, "other half": other(H)}.get(tdtype, tdtype))
    kw = dict(reduction="none", return_grad=True, label_smoothing=0.05, base=2)
    l16, g16 = fx.softmax_cross_entropy(logits, t, **kw)
    # 16-bit logits read 16-bit targets as they are and others in float32
    l32, g32 = fx.softmax_cross_entropy(logits.astype(F32), t.astype(F32), **kw)
    same(l16, as16(l32, H))
    same(g16, as16(g32, H))


def test_evaluate_is_float32_rounded(logits, rng, H):
    N, C = logits.shape
    y = rng.integers(0, C, N)
    sw = rng.random(N)
    e16 = fx.evaluate(logits, y, sample_weight=sw)
    e32 = fx.evaluate(logits.astype(F32), y, sample_weight=sw)
    same(e16.lse, as16(e32.lse, H))
    same(e16.argmax, e32.argmax)
    for a, b in zip(e16, e32):
        if np.ndim(a) == 0:
            assert a == b or (np.isnan(a) and np.isnan(b))


@pytest.mark.parametrize("tdtype", ["half", "other half", F32, np.float64, np.bool_])
@pytest.mark.parametrize("opts", [{}, {"weight": "col", "pos_weight": True},
                                  {"weight": "full", "gamma": 2.0, "alpha": 0.25, "label_smoothing": 0.1}])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_bce_is_float32_rounded(rng, tdtype, opts, reduction, H):
    x = (rng.standard_normal((29, 1200)) * 5).astype(H)     # 34800 elements: 3 blocks, ragged rows
    x[3, 7] = np.inf
    x[4, 9] = -np.inf
    tdtype = {"half": H, "other half": other(H)}.get(tdtype, tdtype)
    t = (rng.random(x.shape) < 0.3) if tdtype is np.bool_ else rng.random(x.shape).astype(tdtype)
    kw0 = {"base": 2} if reduction == "none" else {}
    kw = dict(opts)
    w = kw.pop("weight", None)
    if w == "col":
        kw["weight"] = rng.random(1200)
    elif w == "full":
        kw["weight"] = rng.random(x.shape)
    if kw.pop("pos_weight", False):
        kw["pos_weight"] = rng.random(1200) * 3
    kw.update(kw0)
    l16, g16 = fx.sigmoid_binary_cross_entropy(x, t, reduction=reduction, return_grad=True, **kw)
    l32, g32 = fx.sigmoid_binary_cross_entropy(x.astype(F32), t if tdtype is np.bool_ else t.astype(F32),
                                               reduction=reduction, return_grad=True, **kw)
    same(g16, as16(g32, H))
    if reduction == "none":
        same(l16, as16(l32, H))
    else:
        assert l16 == l32


def test_float16_results_do_not_depend_on_threads(rng, H):
    # 150000 elements: 10 reduction blocks, above the one-thread threshold
    x = rng.standard_normal((3000, 50)).astype(H)
    y = rng.integers(0, 50, 3000)
    nt = 2
    l1, g1 = fx.softmax_cross_entropy(x, y, return_grad=True, num_threads=1)
    l2, g2 = fx.softmax_cross_entropy(x, y, return_grad=True, num_threads=nt)
    assert l1 == l2
    same(g1, g2)
    same(fx.softmax(x, num_threads=1), fx.softmax(x, num_threads=nt))


def test_float16_outputs_into_noncontiguous_out(rng, H):
    x = rng.standard_normal((200, 30)).astype(H)
    out = np.empty((30, 200), H).T            # Fortran-ordered view
    assert fx.softmax(x, out=out) is out
    same(np.ascontiguousarray(out), fx.softmax(x))
    x3 = rng.standard_normal((20, 7, 11)).astype(H)
    same(fx.log_softmax(x3, axis=1), as16(fx.log_softmax(x3.astype(F32), axis=1), H))
    _, g = fx.softmax_cross_entropy(x3, np.zeros((20, 11), int), axis=1, return_grad=True,
                                    grad_out=np.empty((11, 7, 20), H).T)      # Fortran grad_out
    _, g32 = fx.softmax_cross_entropy(x3.astype(F32), np.zeros((20, 11), int), axis=1, return_grad=True)
    same(np.ascontiguousarray(g), as16(g32, H))


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_losses_from_probabilities_are_float32_rounded(rng, reduction, H):
    p = rng.random((600, 40))
    p /= p.sum(1, keepdims=True)
    q = rng.random((600, 40))
    q /= q.sum(1, keepdims=True)
    p16, q16 = p.astype(H), q.astype(H)
    q16[0, 0] = 0                                   # clipped to eps
    kw = {"base": 2} if reduction == "none" else {}
    a = fx.cross_entropy(p16, q16, reduction=reduction, **kw)
    b = fx.cross_entropy(p16.astype(F32), q16.astype(F32), eps=machine_eps(H), reduction=reduction, **kw)
    same(np.asarray(a), np.asarray(b if reduction != "none" else as16(b, H)))
    pr = rng.random((70, 500)).astype(H)         # 35000 elements: 3 blocks
    w = rng.random((1, 500))
    for t in (rng.random(pr.shape).astype(H), rng.random(pr.shape).astype(other(H)), rng.random(pr.shape) < 0.5,
              rng.random(pr.shape)):
        a = fx.binary_cross_entropy(pr, t, weight=w, reduction=reduction, **kw)
        b = fx.binary_cross_entropy(pr.astype(F32), np.asarray(t, t.dtype if t.dtype.itemsize == 2 else F32).astype(F32),
                                    weight=w, eps=machine_eps(H), reduction=reduction, **kw)
        same(np.asarray(a), np.asarray(b if reduction != "none" else as16(b, H)))


def test_float16_kernels_reject_mismatched_views(H):
    # the kernels take 16-bit arrays as they are; a wrong array handed to
    # them (a bug in the Python layer) raises instead of writing past its end
    from fusedxent import _kernels as k
    x = np.zeros(100, H)
    opts = k.BCEOptions(row_length=100, size=100)
    with pytest.raises(ValueError, match="grad_out must be a C-contiguous writable array of 100 elements"):
        k.sigmoid_bce(x, x, options=opts, grad_out=np.zeros(200, H)[::2], partial=np.zeros(1), block=16384, nt=1)
    with pytest.raises(ValueError, match="grad_out must be a C-contiguous writable array of 100 elements"):
        k.sigmoid_bce(x, x, options=opts, grad_out=np.zeros(200, H), partial=np.zeros(1), block=16384, nt=1)
    with pytest.raises(TypeError, match="computes in float32"):
        k.sigmoid_bce(x, x, options=opts, grad_out=np.zeros(100), partial=np.zeros(1), block=16384, nt=1)
