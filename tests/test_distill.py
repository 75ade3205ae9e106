"""distillation_loss with a dense teacher: against PyTorch's autograd on
float64 (every divergence, temperature, the hard+soft mix, weights,
ignored rows, reductions), the per-row accuracy on near-identical rows
against mpmath, exact zeros and non-negativity, the reference, 16-bit
inputs, in-place gradients, infinite logits and the errors."""
import numpy as np
import pytest

import fusedxent as fx
import fusedxent.reference as R
from helpers import assert_close

DIVS = ("kl", "reverse_kl", "jsd")


def _torch_loss(s, t, *, T, div, beta, y, hw, sw_, keep, soft_w, reduction, base=None):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    S = torch.tensor(s, dtype=torch.float64, requires_grad=True)
    ls = F.log_softmax(S / T, -1)
    lt = F.log_softmax(torch.tensor(t, dtype=torch.float64) / T, -1)
    if div == "kl":
        d = F.kl_div(ls, lt, log_target=True, reduction="none").sum(-1)
    elif div == "reverse_kl":
        d = F.kl_div(lt, ls, log_target=True, reduction="none").sum(-1)
    else:
        P, Q = lt.exp(), ls.exp()
        lm = (beta * P + (1 - beta) * Q).log()
        d = beta * F.kl_div(lm, lt, log_target=True, reduction="none").sum(-1) \
            + (1 - beta) * F.kl_div(lm, ls, log_target=True, reduction="none").sum(-1)
    row = soft_w * T * T * d
    if hw:
        yy = torch.tensor(np.where(keep, y, 0))
        row = row + hw * F.cross_entropy(S, yy, reduction="none")
    w = torch.tensor(np.where(keep, sw_, 0.0))
    rows = row * w
    if reduction == "mean":
        L = rows.sum() / w.sum()
    elif reduction == "sum":
        L = rows.sum()
    else:
        L = rows
    if base is not None:
        L = L / np.log(base)
    (L.sum() if reduction == "none" else L).backward()
    return L.detach().numpy(), S.grad.numpy()


@pytest.mark.parametrize("div", DIVS)
@pytest.mark.parametrize("T", [1.0, 2.5])
@pytest.mark.parametrize("hard", [False, True])
def test_matches_torch_autograd_float64(isa, rng, div, T, hard):
    N, C = 37, 300
    s = 3 * rng.standard_normal((N, C))
    t = s + rng.standard_normal((N, C))
    y = rng.integers(0, C, N)
    y[[3, 11]] = -100
    sw = rng.uniform(0.5, 2.0, N)
    for reduction in ("mean", "sum", "none"):
        kw = dict(temperature=T, divergence=div, beta=0.3, soft_weight=0.8, sample_weight=sw, reduction=reduction)
        if hard:
            kw.update(target=y, hard_weight=0.6)
        loss, grad = fx.distillation_loss(s, t, return_grad=True, **kw)
        keep = y != -100 if hard else np.ones(N, bool)
        L, G = _torch_loss(s, t, T=T, div=div, beta=0.3, y=y, hw=0.6 if hard else 0.0, sw_=sw, keep=keep,
                           soft_w=0.8, reduction=reduction)
        assert_close(loss, L, np.float64)
        assert_close(grad, G, np.float64)
        if hard:
            assert np.all(grad[[3, 11]] == 0)
        # the forward alone gives the same loss
        assert_close(fx.distillation_loss(s, t, **kw), L, np.float64)


@pytest.mark.parametrize("div", DIVS)
def test_float32_axis_base_and_reference(isa, rng, div):
    s = 2 * rng.standard_normal((5, 40, 7)).astype(np.float32)
    t = (s + rng.standard_normal(s.shape)).astype(np.float32)
    y = rng.integers(0, 40, (5, 7))
    kw = dict(axis=1, temperature=1.7, divergence=div, beta=0.6, target=y, hard_weight=0.25, base=2)
    loss, grad = fx.distillation_loss(s, t, return_grad=True, **kw)
    rl, rg = R.distillation_loss(s, t, return_grad=True, **kw)
    assert grad.dtype == np.float32 and grad.shape == s.shape
    assert_close(loss, rl, np.float32)
    assert_close(grad, rg, np.float32)
    rows = fx.distillation_loss(s, t, reduction="none", **kw)
    assert rows.dtype == np.float32 and rows.shape == (5, 7)
    assert_close(rows, R.distillation_loss(s, t, reduction="none", **kw), np.float32)


@pytest.mark.parametrize("C", [10, 1000, 32000])
def test_float32_gradients_to_float_rounding(isa, rng, C):
    # the float32 path's gradient, each row against the float64 reference
    # on the same float32 numbers, relative to the row's largest element:
    # a few float roundings (the largest seen 2.0e-6), not the 1e-5 a
    # short series or the 5e-5 a difference with the divergence leaves
    s = (4 * rng.standard_normal((6, C))).astype(np.float32)
    y = rng.integers(0, C, 6)
    for eps in (1e-4, 0.5, 3.0):
        t = (s + eps * rng.standard_normal(s.shape)).astype(np.float32)
        for div in DIVS:
            for T, kw in ((1.0, {}), (2.0, {}), (1.0, dict(target=y, hard_weight=0.3)),
                          (0.7, dict(target=y, hard_weight=0.3))):
                _, g = fx.distillation_loss(s, t, temperature=T, divergence=div, return_grad=True,
                                            reduction="sum", **kw)
                _, gr = R.distillation_loss(s.astype(np.float64), t.astype(np.float64), temperature=T,
                                            divergence=div, return_grad=True, reduction="sum", **kw)
                err = np.max(np.abs(g - gr) / np.abs(gr).max(axis=-1, keepdims=True))
                assert err < 5e-6, (C, eps, div, T, kw, err)


def _mp_divergence(s, t, T, div, beta, mpmath):
    a = [mpmath.mpf(float(v)) / T for v in s]
    b = [mpmath.mpf(float(v)) / T for v in t]
    la = mpmath.log(mpmath.fsum(mpmath.exp(v) for v in a))
    lb = mpmath.log(mpmath.fsum(mpmath.exp(v) for v in b))
    lq = [v - la for v in a]
    lp = [v - lb for v in b]
    if div == "kl":
        return mpmath.fsum(mpmath.exp(p) * (p - q) for p, q in zip(lp, lq))
    if div == "reverse_kl":
        return mpmath.fsum(mpmath.exp(q) * (q - p) for p, q in zip(lp, lq))
    terms = []
    for p, q in zip(lp, lq):
        P, Q = mpmath.exp(p), mpmath.exp(q)
        lm = mpmath.log(beta * P + (1 - beta) * Q)
        terms.append(beta * P * (p - lm) + (1 - beta) * Q * (q - lm))
    return mpmath.fsum(terms)


@pytest.mark.parametrize("C", [2, 1000, 32000])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_near_identical_rows_against_mpmath(rng, C, dtype):
    # per-row divergences from ~1e-2 down to 1e-14: within 1e-4 relative on
    # float32 inputs (the float32 result's own rounding is 6e-8) and 1e-10
    # on float64 inputs, where the textbook form cancels to noise
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    bound = 1e-4 if dtype == np.float32 else 1e-10
    cases = [(1e-6, 0.0, 1.0), (1e-6, 5.0, 2.0), (1e-4, 0.0, 0.5)] if C > 1000 else \
        [(1e-7, 0.0, 1.0), (1e-6, 5.0, 2.0), (1e-4, 0.0, 0.5), (1e-2, -3.0, 1.0)]
    for eps, shift, T in cases:
        s = (4 * rng.standard_normal((1, C))).astype(dtype)
        t = (s.astype(np.float64) + eps * rng.standard_normal((1, C)) + shift).astype(dtype)
        for div in DIVS:
            got = fx.distillation_loss(s, t, temperature=T, divergence=div, beta=0.3, reduction="none")[0] / T**2
            ref = _mp_divergence(s[0], t[0], T, div, mpmath.mpf("0.3"), mpmath)
            assert ref > 0
            rel = abs(float((mpmath.mpf(float(got)) - ref) / ref))
            assert rel < bound, (C, dtype, eps, shift, T, div, float(ref), float(got))
            if dtype == np.float64 and C == 1000 and div == "kl":
                # what the textbook form gives on the same row
                naive = float(R.distillation_loss(s, t, temperature=T, reduction="none")[0]) / T**2
                assert abs(naive - float(ref)) > 1e3 * rel * float(ref) or eps > 1e-6


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_equal_rows_give_zero_and_rows_are_never_negative(isa, rng, dtype):
    s = (5 * rng.standard_normal((64, 513))).astype(dtype)
    for div in DIVS:
        for T in (1.0, 0.3, 4.0):
            loss, grad = fx.distillation_loss(s, s.copy(), temperature=T, divergence=div, return_grad=True)
            assert loss == 0.0
            assert np.all(grad == 0)
            t = (s + 1e-3 * rng.standard_normal(s.shape)).astype(dtype)
            rows = fx.distillation_loss(s, t, temperature=T, divergence=div, reduction="none")
            assert np.all(rows > 0)


def test_textbook_torch_goes_negative_fusedxent_does_not(rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    s = (4 * rng.standard_normal((256, 32000))).astype(np.float32)
    t = (s + 1e-4 * rng.standard_normal(s.shape)).astype(np.float32)
    pt = F.kl_div(F.log_softmax(torch.tensor(s), -1), F.log_softmax(torch.tensor(t), -1), log_target=True,
                  reduction="none").sum(-1).numpy()
    ours = fx.distillation_loss(s, t, reduction="none")
    exact = R.distillation_loss(s.astype(np.float64), t.astype(np.float64), reduction="none")
    assert np.all(ours > 0)
    assert np.median(np.abs(ours / exact - 1)) < 1e-3       # the float64 textbook form is itself good to ~1e-4 here
    assert np.median(np.abs(pt / exact - 1)) > 1e-2 or np.any(pt < 0)


@pytest.mark.parametrize("half", ["float16", "bfloat16"])
def test_16bit_inputs_compute_in_float32(isa, rng, half):
    if half == "bfloat16":
        ml = pytest.importorskip("ml_dtypes")
        dt = np.dtype(ml.bfloat16)
    else:
        dt = np.dtype(np.float16)
    s = rng.standard_normal((20, 77)).astype(dt)
    t = (s.astype(np.float32) + 0.5 * rng.standard_normal((20, 77))).astype(dt)
    y = rng.integers(0, 77, 20)
    for div in DIVS:
        kw = dict(temperature=2.0, divergence=div, target=y, hard_weight=0.5)
        loss, grad = fx.distillation_loss(s, t, return_grad=True, **kw)
        l32, g32 = fx.distillation_loss(s.astype(np.float32), t.astype(np.float32), return_grad=True, **kw)
        assert grad.dtype == dt
        assert loss == pytest.approx(l32, rel=1e-6)
        np.testing.assert_allclose(grad.astype(np.float32), g32, rtol=1e-2, atol=1e-2 * np.abs(g32).max())
    # a float32 student beside a bfloat16/float16 teacher (a stored teacher), and float64 beside either
    t16 = t
    l_mixed = fx.distillation_loss(s.astype(np.float32), t16)
    assert l_mixed == pytest.approx(fx.distillation_loss(s.astype(np.float32), t16.astype(np.float32)), rel=1e-6)
    l64 = fx.distillation_loss(s.astype(np.float64), t16)
    assert l64 == pytest.approx(R.distillation_loss(s.astype(np.float64), t16.astype(np.float64)), rel=1e-12)


def test_grad_in_place_threads_and_memmap(rng, tmp_path):
    s = rng.standard_normal((300, 129))
    t = s + rng.standard_normal(s.shape)
    path = tmp_path / "teacher.npy"
    np.save(path, t.astype(np.float32))
    tm = np.load(path, mmap_mode="r")
    y = rng.integers(0, 129, 300)
    kw = dict(temperature=1.5, divergence="jsd", target=y, hard_weight=0.3)
    loss, grad = fx.distillation_loss(s, tm, return_grad=True, **kw)
    rl, rg = R.distillation_loss(s, tm, return_grad=True, **kw)
    assert_close(loss, rl, np.float64)
    assert_close(grad, rg, np.float64)
    for nt in (1, 2, 3):
        l2, g2 = fx.distillation_loss(s, tm, return_grad=True, num_threads=nt, **kw)
        assert l2 == loss and np.array_equal(g2, grad)
    x = s.copy()
    l3, g3 = fx.distillation_loss(x, tm, return_grad=True, grad_out=x, **kw)
    assert g3 is x and l3 == loss and np.array_equal(x, grad)
    out = np.empty_like(s)
    assert fx.distillation_loss(s, tm, return_grad=True, grad_out=out, **kw)[1] is out


def test_infinite_and_nan_logits(rng):
    s = rng.standard_normal((4, 6))
    t = s + 0.1 * rng.standard_normal(s.shape)
    s[:, 0] = t[:, 0] = -np.inf          # a class masked in both: no part in the divergence
    s[1, 2] = -np.inf                    # the student rules out what the teacher allows
    t[2, 3] = -np.inf                    # and the other way
    s[3, 4] = np.nan
    for div in DIVS:
        got = fx.distillation_loss(s, t, divergence=div, reduction="none")
        ref = R.distillation_loss(s, t, divergence=div, reduction="none")
        assert np.isnan(got[3]) and np.isnan(ref[3])
        assert_close(got[[0]], ref[[0]], np.float64)
        for i in (1, 2):
            if np.isinf(ref[i]):
                assert got[i] == ref[i]
            else:
                assert_close(got[i], ref[i], np.float64)
    assert fx.distillation_loss(s, t, reduction="none")[1] == np.inf       # KL(P||Q), Q_j = 0 < P_j
    assert fx.distillation_loss(s, t, divergence="reverse_kl", reduction="none")[2] == np.inf
    assert np.isfinite(fx.distillation_loss(s, t, divergence="jsd", reduction="none")[:3]).all()


def test_ignored_rows_and_empty_mean(rng):
    s = rng.standard_normal((3, 5))
    t = rng.standard_normal((3, 5))
    y = np.full(3, -100)
    loss, grad = fx.distillation_loss(s, t, target=y, hard_weight=1.0, return_grad=True)
    assert loss == 0.0 and np.all(grad == 0)
    rows = fx.distillation_loss(s, t, target=np.array([1, -100, 2]), reduction="none")
    assert rows[1] == 0 and rows[0] > 0
    assert fx.distillation_loss(s[:0], t[:0]) == 0.0


@pytest.mark.parametrize("kw, err, match", [
    (dict(temperature=0.0), ValueError, "temperature"),
    (dict(temperature=float("inf")), ValueError, "temperature"),
    (dict(divergence="kld"), ValueError, "divergence"),
    (dict(divergence="jsd", beta=1.0), ValueError, "beta"),
    (dict(divergence="jsd", beta=0.0), ValueError, "beta"),
    (dict(hard_weight=1.0), ValueError, "needs target"),
    (dict(target=np.array([0, 5])), ValueError, "out of range"),
    (dict(target=np.array([0, 1, 2])), ValueError, "shape"),
    (dict(target=np.array([0.0, 1.0])), TypeError, "integer"),
    (dict(soft_weight=-1.0), ValueError, "soft_weight"),
    (dict(reduction="batchmean"), ValueError, "reduction"),
    (dict(grad_out=np.empty((2, 4), np.float32), return_grad=True), ValueError, "dtype"),
    (dict(num_threads=0), ValueError, "num_threads"),
])
def test_errors_before_any_work(kw, err, match):
    s = np.zeros((2, 5))
    out = kw.get("grad_out")
    if out is not None:
        kw["grad_out"] = np.empty((2, 5), np.float32)
    with pytest.raises(err, match=match):
        fx.distillation_loss(s, np.zeros((2, 5)), **kw)
    with pytest.raises(err, match=match):
        R.distillation_loss(s, np.zeros((2, 5)), **kw)


def test_teacher_shape_must_be_the_students():
    with pytest.raises(ValueError, match="teacher has shape"):
        fx.distillation_loss(np.zeros((2, 5)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="teacher has shape"):
        R.distillation_loss(np.zeros((2, 5)), np.zeros((5, 2)))


# ------------------------------------------------------------------ a sparse teacher (top-k log-probabilities)

def _topk_teacher(rng, s, k, noise=1.0):
    t = s + noise * rng.standard_normal(s.shape)
    lt = t - np.logaddexp.reduce(t, axis=-1, keepdims=True)
    idx = np.argsort(-t, axis=-1)[..., :k]
    rng.permuted(idx, axis=-1, out=idx)                 # the ids in any order
    return t, idx, np.take_along_axis(lt, idx, -1)


def _torch_sparse(s, idx, lp, *, T, div, beta, tail, y, keep, sw, hw, soft_w, reduction):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    S = torch.tensor(s, requires_grad=True)
    ls = F.log_softmax(S / T, -1)
    ind, LP = torch.tensor(idx), torch.tensor(lp)
    lq = ls.gather(1, ind)
    if tail == "bucket":
        mask = torch.ones(s.shape, dtype=torch.bool).scatter_(1, ind, False)
        lq = torch.cat([lq, (ls.exp() * mask).sum(1, keepdim=True).log()], 1)
        LP = torch.cat([LP, (1 - LP.exp().sum(1, keepdim=True)).clamp_min(0).log()], 1)
    else:
        lq = lq - torch.logsumexp(lq, 1, keepdim=True)
        LP = LP - torch.logsumexp(LP, 1, keepdim=True)
    P, Q = LP.exp(), lq.exp()
    xlogy = torch.special.xlogy
    if div == "kl":
        d = (xlogy(P, P) - P * lq).sum(1)
    elif div == "reverse_kl":
        d = (xlogy(Q, Q) - Q * torch.where(Q > 0, LP, 0)).sum(1)
    else:
        M = beta * P + (1 - beta) * Q
        d = beta * (xlogy(P, P) - xlogy(P, M)).sum(1) + (1 - beta) * (xlogy(Q, Q) - xlogy(Q, M)).sum(1)
    row = soft_w * T * T * d
    if hw:
        row = row + hw * F.cross_entropy(S, torch.tensor(np.where(keep, y, 0)), reduction="none")
    w = torch.tensor(np.where(keep, sw, 0.0))
    L = (row * w).sum() / (w.sum() if reduction == "mean" else 1.0) if reduction != "none" else row * w
    (L.sum() if reduction == "none" else L).backward()
    return L.detach().numpy(), S.grad.numpy()


@pytest.mark.parametrize("div", DIVS)
@pytest.mark.parametrize("tail", ["bucket", "renormalize"])
@pytest.mark.parametrize("T", [1.0, 2.0])
def test_sparse_teacher_matches_torch_autograd_float64(isa, rng, div, tail, T):
    N, C, k = 29, 140, 9
    s = 2 * rng.standard_normal((N, C))
    _, idx, lp = _topk_teacher(rng, s, k)
    y = rng.integers(0, C, N)
    y[[4, 9]] = -100
    y[5] = idx[5, 0]                      # a label among the teacher's k
    sw = rng.uniform(0.5, 2.0, N)
    keep = y != -100
    for reduction in ("mean", "sum", "none"):
        kw = dict(temperature=T, divergence=div, beta=0.3, tail=tail, target=y, hard_weight=0.4, soft_weight=0.9,
                  sample_weight=sw, reduction=reduction)
        loss, grad = fx.distillation_loss(s, fx.SparseTeacher(idx, lp), return_grad=True, **kw)
        L, G = _torch_sparse(s, idx, lp, T=T, div=div, beta=0.3, tail=tail, y=y, keep=keep, sw=sw, hw=0.4,
                             soft_w=0.9, reduction=reduction)
        assert_close(loss, L, np.float64)
        assert_close(grad, G, np.float64)
        assert np.all(grad[[4, 9]] == 0)
        rl, rg = R.distillation_loss(s, fx.SparseTeacher(idx, lp), return_grad=True, **kw)
        assert_close(loss, rl, np.float64)
        assert_close(grad, rg, np.float64)


def test_sparse_teacher_float32_threads_and_axis(rng):
    s = (2 * rng.standard_normal((6, 300, 5))).astype(np.float32)          # classes on axis 1
    sm = np.moveaxis(s, 1, -1)
    _, idx, lp = _topk_teacher(rng, sm.astype(np.float64), 16)
    top = fx.SparseTeacher(idx, lp.astype(np.float32))
    kw = dict(axis=1, temperature=1.3, divergence="jsd")
    loss, grad = fx.distillation_loss(s, top, return_grad=True, **kw)
    rl, rg = R.distillation_loss(s, top, return_grad=True, **kw)
    assert grad.shape == s.shape and grad.dtype == np.float32
    assert_close(loss, rl, np.float32)
    assert_close(grad, rg, np.float32)
    for nt in (1, 3):
        l2, g2 = fx.distillation_loss(s, top, return_grad=True, num_threads=nt, **kw)
        assert l2 == loss and np.array_equal(g2, grad)


def test_sparse_teacher_of_every_class_is_the_dense_one_and_top_k_never_exceeds_it(rng):
    s = 2 * rng.standard_normal((40, 64))
    t, idx, lp = _topk_teacher(rng, s, 64)
    for div in DIVS:
        dense = fx.distillation_loss(s, t, divergence=div, reduction="none")
        full = fx.distillation_loss(s, fx.SparseTeacher(idx, lp), divergence=div, reduction="none")
        np.testing.assert_allclose(full, dense, rtol=1e-12, atol=1e-15)
    # the coarsened distributions' divergence is at most the full one (data processing)
    _, idx8, lp8 = _topk_teacher(np.random.default_rng(0), s, 8)
    t8 = s + np.random.default_rng(0).standard_normal(s.shape)
    for div in DIVS:
        assert np.all(fx.distillation_loss(s, fx.SparseTeacher(idx8, lp8), divergence=div, reduction="none")
                      <= fx.distillation_loss(s, t8, divergence=div, reduction="none") * (1 + 1e-12))


def test_sparse_teacher_nan_and_16bit(rng):
    s = rng.standard_normal((5, 30))
    _, idx, lp = _topk_teacher(rng, s, 4)
    lp[2, 1] = np.nan
    rows = fx.distillation_loss(s, fx.SparseTeacher(idx, lp), reduction="none")
    assert np.isnan(rows[2]) and np.isfinite(rows[[0, 1, 3, 4]]).all()
    lp[2, 1] = -1.0
    l16 = fx.distillation_loss(s.astype(np.float16), fx.SparseTeacher(idx, lp.astype(np.float16)))
    l32 = fx.distillation_loss(s.astype(np.float16).astype(np.float32),
                               fx.SparseTeacher(idx, lp.astype(np.float16).astype(np.float32)))
    assert l16 == pytest.approx(l32, rel=1e-6)


@pytest.mark.parametrize("make, err, match", [
    (lambda i, p: (i[:, :0], p[:, :0]), ValueError, "k >= 1"),
    (lambda i, p: (np.tile(np.arange(12), (3, 1)), np.log(np.full((3, 12), 0.05))), ValueError, "more than"),
    (lambda i, p: (np.where(i == i[0, 0], 10, i), p), ValueError, "out of range"),
    (lambda i, p: (np.concatenate([i[:, :1], i[:, :1]], 1), p[:, :2]), ValueError, "repeat"),
    (lambda i, p: (i, p + 1.0), ValueError, "above 1"),
    (lambda i, p: (i, p[:, :2]), ValueError, "logprobs has shape"),
    (lambda i, p: (i[:1], p[:1]), ValueError, "must have shape"),
    (lambda i, p: (i.astype(float), p), TypeError, "integer"),
])
def test_sparse_teacher_errors(make, err, match):
    s = np.zeros((3, 10))
    i = np.tile(np.array([[1, 4, 7]]), (3, 1))
    p = np.log(np.full((3, 3), 0.2))
    ii, pp = make(i, p)
    for f in (fx, R):
        with pytest.raises(err, match=match):
            f.distillation_loss(s, fx.SparseTeacher(ii, pp))
    with pytest.raises(ValueError, match="tail"):
        fx.distillation_loss(s, fx.SparseTeacher(i, p), tail="drop")


@pytest.mark.parametrize("div", DIVS)
def test_gradient_written_over_the_student_in_place(isa, rng, div):
    s = 2 * rng.standard_normal((50, 97))
    t = s + rng.standard_normal(s.shape)
    _, idx, lp = _topk_teacher(rng, s, 6)
    y = rng.integers(0, 97, 50)
    y[3] = idx[3, 2]
    for teacher in (t, fx.SparseTeacher(idx, lp)):
        for dt in (np.float32, np.float64):
            x = s.astype(dt)
            kw = dict(temperature=1.7, divergence=div, target=y, hard_weight=0.5)
            want = fx.distillation_loss(x, teacher, return_grad=True, **kw)
            xc = x.copy()
            got = fx.distillation_loss(xc, teacher, return_grad=True, grad_out=xc, **kw)
            assert got[1] is xc and got[0] == want[0]
            np.testing.assert_array_equal(xc, want[1])


# ------------------------------------------------------------------ the linear head

@pytest.mark.parametrize("div", DIVS)
@pytest.mark.parametrize("sparse", [False, True])
def test_linear_head_matches_torch_autograd_float64(rng, div, sparse):
    torch = pytest.importorskip("torch")
    B_, S_, H, V = 3, 13, 16, 203                      # hidden (3, 13, 16): rows over two axes
    h = rng.standard_normal((B_, S_, H))
    W = rng.standard_normal((V, H)) * 0.3
    b = rng.standard_normal(V)
    t = rng.standard_normal((B_, S_, V))
    y = rng.integers(0, V, (B_, S_))
    y[1, 4] = -100
    sw = rng.uniform(0.5, 2.0, (B_, S_))
    if sparse:
        lt = t - np.logaddexp.reduce(t, axis=-1, keepdims=True)
        idx = np.argsort(-t, axis=-1)[..., :11]
        teacher = fx.SparseTeacher(idx, np.take_along_axis(lt, idx, -1))
    else:
        teacher = t
    for reduction in ("mean", "sum", "none"):
        kw = dict(temperature=1.5, divergence=div, target=y, hard_weight=0.3, sample_weight=sw, reduction=reduction)
        loss, g = fx.linear_distillation_loss(h, W, teacher, linear_bias=b, return_grad=True, chunk_size=7, **kw)
        Ht, Wt, bt = (torch.tensor(a, requires_grad=True) for a in (h, W, b))
        z = Ht @ Wt.T + bt
        lz, gz = fx.distillation_loss(z.detach().numpy(), teacher, return_grad=True, **kw)
        z.backward(torch.tensor(gz))
        assert_close(loss, lz, np.float64)
        for got, want in zip(g, (Ht.grad, Wt.grad, bt.grad)):
            assert_close(got, want.numpy(), np.float64)
        rl, rg = R.linear_distillation_loss(h, W, teacher, linear_bias=b, return_grad=True, **kw)
        assert_close(loss, rl, np.float64)
        for got, want in zip(g, rg):
            assert_close(got, want, np.float64)


def test_linear_head_float32_and_errors(rng):
    h = rng.standard_normal((40, 8)).astype(np.float32)
    W = (rng.standard_normal((50, 8)) * 0.5).astype(np.float32)
    t = rng.standard_normal((40, 50)).astype(np.float32)
    loss, g = fx.linear_distillation_loss(h, W, t, divergence="jsd", return_grad=True, chunk_size=9)
    rl, rg = R.linear_distillation_loss(h, W, t, divergence="jsd", return_grad=True)
    assert g.hidden.dtype == np.float32 and g.linear_bias is None
    assert_close(loss, rl, np.float32)
    assert_close(g.linear_weight, rg.linear_weight, np.float32)
    assert fx.linear_distillation_loss(h, W, t, reduction="none").shape == (40,)
    for f in (fx, R):
        with pytest.raises(ValueError, match="teacher has shape"):
            f.linear_distillation_loss(h, W, t[:, :49])
        with pytest.raises(ValueError, match="needs target"):
            f.linear_distillation_loss(h, W, t, hard_weight=1.0)
