"""The bfloat16 linear head: the AVX512-BF16 products (where the CPU has
them; elsewhere the float32 products of the same values) against the
float64 materialized computation on bfloat16-representable inputs, for
every option of the linear functions; the kernels' products against
float64 for every edge of their tiles."""
import tracemalloc

import numpy as np
import pytest

import fusedxent as fx
from fusedxent import _kernels as K
from fusedxent._validate import bf16_round

ml = pytest.importorskip("ml_dtypes")
BF = np.dtype(ml.bfloat16)
NATIVE = K.bf16_ready()


@pytest.fixture(params=["best", "avx2"] if "avx2" in K.isa_supported() else ["best"])
def path(request):
    """The bfloat16 products where this CPU has them ('best'), and the
    float32 products forced by the avx2 path: both must meet the bounds."""
    before = K.isa_current()
    fx.set_isa(request.param)
    yield request.param
    fx.set_isa(before)


def _layer(seed, N=53, H=24, V=37, scale=3.0):
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((N, H)).astype(BF)
    W = (rng.standard_normal((V, H)) * scale / np.sqrt(max(H, 1))).astype(BF)
    b = rng.standard_normal(V).astype(BF)
    y = rng.integers(0, V, N)
    if N > 3:
        y[::5] = -100
    return h, W, b, y


def _materialized(h, W, b, y, **opts):
    h64, W64 = h.astype(np.float64), W.astype(np.float64)
    logits = h64 @ W64.T + (0.0 if b is None else b.astype(np.float64))
    loss, g = fx.softmax_cross_entropy(logits, y, return_grad=True, **opts)
    return loss, (g @ W64, g.T @ h64, None if b is None else g.sum(0)), logits


def _rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-300)


# The bounds.  The logits are float32 sums of exact products, so the loss
# is as good as the float32 head's (1e-6 relative here, measured ~4e-9 on
# the mean); the gradients carry G rounded to bfloat16 (2^-9 relative per
# element) and their own rounding to bfloat16 on return (2^-9): measured
# 4.4e-3 of the largest, bound 1e-2.
LOSS_RTOL = 1e-6
GRAD_RTOL = 1e-2

OPTIONS = [dict(), dict(label_smoothing=0.2, z_loss=1e-3), dict(reduction="sum"), dict(reduction="none"),
           dict(weight="class", sample_weight="rows", base=2), dict(softcap=5.0, temperature=1.5),
           dict(gamma=2.0, alpha=0.25)]


@pytest.mark.parametrize("shape", [(53, 24, 37), (40, 33, 129), (7, 1, 64), (130, 96, 1001)],
                         ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: ",".join(o) or "default")
def test_loss_and_gradients_match_float64(path, shape, opts):
    N, H, V = shape
    h, W, b, y = _layer(sum(shape), N, H, V)
    rng = np.random.default_rng(1)
    o = dict(opts)
    if o.get("weight") == "class":
        o["weight"] = rng.random(V) + 0.5
    if o.get("sample_weight") == "rows":
        o["sample_weight"] = rng.random(N) + 0.1
    want, wg, _ = _materialized(h, W, b, y, **o)
    for cs in (None, 1, 6, 7):
        loss, g = fx.linear_cross_entropy(h, W, y, linear_bias=b, return_grad=True, chunk_size=cs, **o)
        # per-row losses come back in bfloat16, the input's dtype (2^-9 relative)
        assert _rel(loss, want) <= (2.0 ** -8 if o.get("reduction") == "none" else LOSS_RTOL), cs
        for got, w in zip(g, wg):
            assert got.dtype == BF
            assert _rel(got, w) <= GRAD_RTOL, cs
        only = fx.linear_cross_entropy(h, W, y, linear_bias=b, chunk_size=cs, **o)
        np.testing.assert_allclose(np.asarray(only, np.float64), np.asarray(loss, np.float64), rtol=1e-6)


def test_stats_nd_hidden_and_no_bias(path):
    h, W, _, y = _layer(3, N=24, H=17, V=70)
    h3, y3 = h.reshape(2, 3, 4, -1), y.reshape(2, 3, 4)
    loss, g, st = fx.linear_cross_entropy(h3, W, y3, return_grad=True, return_stats=True, chunk_size=5,
                                          reduction="none")
    want, wg, logits = _materialized(h, W, None, y, reduction="none")
    assert loss.shape == (2, 3, 4) and g.hidden.shape == h3.shape and g.linear_bias is None
    assert _rel(loss.reshape(-1), want) <= 2.0 ** -8      # per-row losses in bfloat16
    assert _rel(g.hidden.reshape(h.shape), wg[0]) <= GRAD_RTOL
    assert _rel(st.lse.reshape(-1), np.logaddexp.reduce(logits, axis=1)) <= 1e-6
    np.testing.assert_array_equal(st.argmax.reshape(-1), logits.argmax(1))


def test_linear_evaluate_and_distillation(path):
    h, W, b, y = _layer(4, N=41, H=30, V=150)
    _, _, logits = _materialized(h, W, b, y)
    got = fx.linear_evaluate(h, W, y, linear_bias=b, topk=(1, 5), chunk_size=9)
    want = fx.evaluate(logits, y, topk=(1, 5))
    assert abs(got.loss - want.loss) <= 1e-6 * want.loss
    assert got.topk_accuracy == want.topk_accuracy
    teacher = (np.random.default_rng(5).standard_normal((41, 150)) * 2).astype(np.float32)
    dl, dg = fx.linear_distillation_loss(h, W, teacher, linear_bias=b, temperature=2.0, target=y, hard_weight=0.5,
                                         return_grad=True, chunk_size=8)
    wl, wgl = fx.distillation_loss(logits, teacher.astype(np.float64), temperature=2.0, target=y, hard_weight=0.5,
                                   return_grad=True)
    assert abs(dl - wl) <= 1e-5 * wl
    h64, W64 = h.astype(np.float64), W.astype(np.float64)
    assert _rel(dg.hidden, wgl @ W64) <= GRAD_RTOL
    assert _rel(dg.linear_weight, wgl.T @ h64) <= GRAD_RTOL


def test_compute_dtype_bfloat16_rounds_float32_inputs(path):
    rng = np.random.default_rng(6)
    h = rng.standard_normal((29, 20)).astype(np.float32)
    W = (rng.standard_normal((90, 20)) / 4).astype(np.float32)
    y = rng.integers(0, 90, 29)
    hr, Wr = bf16_round(h), bf16_round(W)
    np.testing.assert_array_equal(hr, h.astype(BF).astype(np.float32))      # nearest even, as ml_dtypes
    loss, g = fx.linear_cross_entropy(h, W, y, return_grad=True, compute_dtype="bfloat16")
    want, wg, _ = _materialized(hr, Wr, None, y)
    assert g.hidden.dtype == np.float32
    assert _rel(loss, want) <= LOSS_RTOL
    # float32 outputs: only G's rounding to bfloat16 (2^-9 relative)
    for got, w in zip(g[:2], wg[:2]):
        assert _rel(got, w) <= 5e-3
    # the default for float32 stays float32: the unrounded inputs' loss
    exact, _, _ = _materialized(h, W, None, y)
    assert _rel(fx.linear_cross_entropy(h, W, y), exact) <= 1e-6
    assert _rel(fx.linear_cross_entropy(h, W, y, compute_dtype="float32"), exact) <= 1e-6
    ev = fx.linear_evaluate(h, W, y, compute_dtype="bfloat16")
    assert abs(ev.loss - want) <= 1e-6 * want


def test_compute_dtype_errors_and_bfloat16_inputs_forced_to_float32():
    h, W, b, y = _layer(7)
    with pytest.raises(ValueError, match="compute_dtype"):
        fx.linear_cross_entropy(h, W, y, compute_dtype="bf16")
    with pytest.raises(TypeError, match="float64"):
        fx.linear_cross_entropy(h.astype(np.float64), W.astype(np.float64), y, compute_dtype="bfloat16")
    want, wg, _ = _materialized(h, W, b, y)
    loss, g = fx.linear_cross_entropy(h, W, y, linear_bias=b, return_grad=True, compute_dtype="float32")
    assert _rel(loss, want) <= LOSS_RTOL
    assert _rel(g.hidden, wg[0]) <= 4e-3          # no G rounding: only the output's


def test_no_features_and_non_finite(path):
    rng = np.random.default_rng(8)
    y = rng.integers(0, 5, 6)
    h0, W0 = np.zeros((6, 0), BF), np.zeros((5, 0), BF)
    loss, g = fx.linear_cross_entropy(h0, W0, y, return_grad=True)
    assert loss == pytest.approx(np.log(5), rel=1e-6) and g.hidden.shape == (6, 0)
    h, W, b, y = _layer(9, N=12, H=10, V=20)
    h[3, 2] = np.nan
    rows = fx.linear_cross_entropy(h, W, y, reduction="none")
    assert np.isnan(rows[3]) and not np.isnan(np.delete(rows, 3)).any()


@pytest.mark.skipif(not NATIVE, reason="no AVX512-BF16 on this CPU: the products run in float32 (tested above)")
@pytest.mark.parametrize("M,N,Kd", [(1, 1, 1), (7, 65, 3), (6, 64, 2), (13, 130, 33), (5, 17, 1025),
                                    (50, 200, 600), (400, 70, 9)])
def test_kernel_products_against_float64(M, N, Kd):
    rng = np.random.default_rng(M * N + Kd)
    A = rng.standard_normal((M, Kd)).astype(BF)
    B = rng.standard_normal((N, Kd)).astype(BF)
    Kp = Kd + (Kd & 1)
    A2 = np.zeros((M, Kp), BF)
    A2[:, :Kd] = A
    A64, B64 = A.astype(np.float64), B.astype(np.float64)
    # logits: A B^T, B read along its rows' k
    C = np.full((M, N), np.nan, np.float32)
    assert K.bf16_gemm(A2.view(np.uint16).reshape(-1), Kp, 2, M, B.view(np.uint16), 1, C, False) == (Kd, N)
    assert _rel(C, A64 @ B64.T) <= 1e-6
    # the same B as a strided view (every other column of a wider matrix): element by element
    Bw = np.zeros((N, 2 * Kd), BF)
    Bw[:, ::2] = B
    C2 = np.full((M, N), np.nan, np.float32)
    K.bf16_gemm(A2.view(np.uint16).reshape(-1), Kp, 2, M, Bw.view(np.uint16)[:, ::2], 1, C2, False)
    np.testing.assert_array_equal(C2, C)
    # d_hidden: G (M, N) rounded to rows, times B (N, Kd) along its columns' k
    G = rng.standard_normal((M, N)).astype(np.float32)
    Gr = np.empty((M, N + (N & 1)), np.uint16)
    K.bf16_rows(G, Gr)
    np.testing.assert_array_equal(Gr[:, :N], G.astype(BF).view(np.uint16))
    D = np.empty((M, Kd), np.float32)
    K.bf16_gemm(Gr.reshape(-1), Gr.shape[1], 2, M, B.view(np.uint16), 0, D, False)
    G64 = G.astype(BF).astype(np.float64)
    assert _rel(D, G64 @ B64) <= 1e-6
    # d_W: G^T A accumulated, G as row pairs, A a strided view
    Gp = np.empty(((M + 1) // 2, N, 2), np.uint16)
    K.bf16_pairs(G, Gp)
    dW = np.ones((N, Kd), np.float32)
    K.bf16_gemm(Gp.reshape(-1), 2, 2 * N, N, A2.view(np.uint16)[:, :Kd], 0, dW, True)
    assert _rel(dW, 1 + G64.T @ A64) <= 1e-6


@pytest.mark.skipif(not NATIVE, reason="no AVX512-BF16 on this CPU")
def test_kernel_checks_its_operands():
    A = np.zeros(10, np.uint16)
    B = np.zeros((3, 4), np.uint16)
    C = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="past its end"):
        K.bf16_gemm(A, 8, 2, 2, B, 1, C, False)
    with pytest.raises(ValueError, match="k_axis"):
        K.bf16_gemm(A, 4, 2, 2, B, 2, C, False)
    with pytest.raises(ValueError, match="smaller"):
        K.bf16_gemm(A, 4, 2, 3, B, 1, C, False)


def test_dask_takes_compute_dtype(path):
    da = pytest.importorskip("dask.array")
    import fusedxent.dask as fxd
    rng = np.random.default_rng(10)
    h = rng.standard_normal((60, 22)).astype(np.float32)
    W = (rng.standard_normal((75, 22)) / 4).astype(np.float32)
    y = rng.integers(0, 75, 60)
    hd, yd = da.from_array(h, chunks=25), da.from_array(y, chunks=25)
    want, wg, logits = _materialized(bf16_round(h), bf16_round(W), None, y)
    loss, g = fxd.linear_cross_entropy(hd, W, yd, return_grad=True, compute_dtype="bfloat16")
    assert _rel(loss.compute(), want) <= LOSS_RTOL
    assert _rel(g.hidden.compute(), wg[0]) <= 5e-3 and _rel(g.linear_weight.compute(), wg[1]) <= 5e-3
    ev = fxd.linear_evaluate(hd, W, yd, compute_dtype="bfloat16")
    assert _rel(ev.loss.compute(), want) <= LOSS_RTOL
    teacher = rng.standard_normal((60, 75)).astype(np.float32)
    dl = fxd.linear_distillation_loss(hd, W, da.from_array(teacher, chunks=(25, 75)), compute_dtype="bfloat16")
    wl = fx.distillation_loss(logits, teacher.astype(np.float64))
    assert abs(float(dl.compute()) - wl) <= 1e-5 * wl
    with pytest.raises(ValueError, match="compute_dtype"):
        fxd.linear_cross_entropy(hd, W, yd, compute_dtype="half")
    with pytest.raises(TypeError, match="float64"):
        fxd.linear_evaluate(hd.astype(np.float64), W.astype(np.float64), yd, compute_dtype="bfloat16")


def _peak(f):
    tracemalloc.start()
    try:
        r = f()
        return tracemalloc.get_traced_memory()[1], r
    finally:
        tracemalloc.stop()


@pytest.mark.skipif(not NATIVE, reason="no AVX512-BF16 on this CPU: bfloat16 inputs take the float32 products")
def test_peak_memory_is_the_float32_heads():
    # the weight is never packed whole (the products pack it a k block at a
    # time) and the gradient's bfloat16 copy shares the logits' budget: the
    # bfloat16 head's peak is the float32 head's on the same values; V large
    # enough that the default blocks are cut by the budget, H large enough
    # that a packed weight copy (0.8 MB each) or d_weight's would show
    rng = np.random.default_rng(40)
    N, H, V = 1024, 96, 32768
    h = rng.standard_normal((N, H)).astype(BF)
    W = (rng.standard_normal((V, H)) / 10).astype(BF)
    y = rng.integers(0, V, N)
    h32, W32 = h.astype(np.float32), W.astype(np.float32)
    for grad in (False, True):
        p16, r16 = _peak(lambda: fx.linear_cross_entropy(h, W, y, return_grad=grad))
        p32, r32 = _peak(lambda: fx.linear_cross_entropy(h32, W32, y, return_grad=grad))
        assert p16 <= 1.01 * p32, (grad, p16, p32)
        assert float(r16 if not grad else r16[0]) == pytest.approx(float(r32 if not grad else r32[0]), rel=1e-5)
