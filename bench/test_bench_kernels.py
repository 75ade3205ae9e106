"""pytest-benchmark suites: each kernel beside the NumPy reference, PyTorch
CPU and scikit-learn's HalfMultinomialLoss / HalfBinomialLoss (when
installed) in the same group, over class counts 2 .. 262144 and float32 /
float64 (bench/conftest.py).  CI runs them with --benchmark-disable (once
each, as a smoke test that every peer call works); for figures run

    pytest bench/ --benchmark-only --benchmark-group-by=group -p no:randomly

`python -m fusedxent bench` gives the roofline ratios and the performance table (README, docs/performance.md).
"""
import numpy as np
import pytest

import fusedxent as fx
from fusedxent import reference as R

IMPLS = ["fusedxent", "reference", "torch", "sklearn"]


def _group(benchmark, what, x):
    benchmark.group = f"{what} {x.shape[0]}x{x.shape[1]} {x.dtype.name}"


def _torch():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(fx._kernels.max_threads())
    return torch


def _sk_multinomial(x):
    loss = pytest.importorskip("sklearn._loss.loss")
    return loss.HalfMultinomialLoss(n_classes=x.shape[1])


def _nt():
    return fx._kernels.max_threads()


@pytest.mark.parametrize("impl", IMPLS)
def test_cross_entropy_forward(benchmark, data, impl):
    x, y, _ = data
    _group(benchmark, "softmax_cross_entropy", x)
    if impl == "torch":
        torch = _torch()
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        fn = lambda: float(torch.nn.functional.cross_entropy(xt, yt))
    elif impl == "sklearn":
        loss, yf, lo = _sk_multinomial(x), y.astype(x.dtype), np.empty(x.shape[0], x.dtype)
        fn = lambda: float(np.mean(loss.loss(yf, x, loss_out=lo, n_threads=_nt())))
    else:
        mod = fx if impl == "fusedxent" else R
        fn = lambda: mod.softmax_cross_entropy(x, y)
    got = benchmark(fn)
    assert np.isclose(got, R.softmax_cross_entropy(x, y), rtol=1e-4)


@pytest.mark.parametrize("impl", IMPLS)
def test_cross_entropy_forward_backward(benchmark, data, impl):
    x, y, _ = data
    _group(benchmark, "softmax_cross_entropy+grad", x)
    if impl == "torch":
        torch = _torch()
        yt = torch.from_numpy(y)

        def fn():
            xt = torch.from_numpy(x).clone().requires_grad_(True)
            torch.nn.functional.cross_entropy(xt, yt).backward()
            return xt.grad.numpy()
    elif impl == "sklearn":
        # sklearn's gradient is per row (of the half loss, unscaled): the same
        # work, compared for time only
        loss, yf = _sk_multinomial(x), y.astype(x.dtype)
        lo, go = np.empty(x.shape[0], x.dtype), np.empty_like(x)
        fn = lambda: loss.loss_gradient(yf, x, loss_out=lo, gradient_out=go, n_threads=_nt())[1]
    else:
        mod = fx if impl == "fusedxent" else R
        fn = lambda: mod.softmax_cross_entropy(x, y, return_grad=True)[1]
    g = benchmark(fn)
    assert g.shape == x.shape


@pytest.mark.parametrize("impl", IMPLS)
def test_bce_forward(benchmark, data, impl):
    x, _, t = data
    _group(benchmark, "sigmoid_binary_cross_entropy", x)
    if impl == "torch":
        torch = _torch()
        xt, tt = torch.from_numpy(x), torch.from_numpy(t)
        fn = lambda: float(torch.nn.functional.binary_cross_entropy_with_logits(xt, tt))
    elif impl == "sklearn":
        loss = pytest.importorskip("sklearn._loss.loss").HalfBinomialLoss()
        xf, tf = x.reshape(-1), t.reshape(-1)
        lo = np.empty_like(xf)
        fn = lambda: float(np.mean(loss.loss(tf, xf, loss_out=lo, n_threads=_nt())))
    else:
        mod = fx if impl == "fusedxent" else R
        fn = lambda: mod.sigmoid_binary_cross_entropy(x, t)
    assert np.isclose(benchmark(fn), R.sigmoid_binary_cross_entropy(x, t), rtol=1e-4)


@pytest.mark.parametrize("impl", ["fusedxent", "reference", "torch"])
def test_bce_forward_backward(benchmark, data, impl):
    x, _, t = data
    _group(benchmark, "sigmoid_binary_cross_entropy+grad", x)
    if impl == "torch":
        torch = _torch()
        tt = torch.from_numpy(t)

        def fn():
            xt = torch.from_numpy(x).clone().requires_grad_(True)
            torch.nn.functional.binary_cross_entropy_with_logits(xt, tt).backward()
            return xt.grad.numpy()
    else:
        mod = fx if impl == "fusedxent" else R
        fn = lambda: mod.sigmoid_binary_cross_entropy(x, t, return_grad=True)[1]
    assert benchmark(fn).shape == x.shape


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp", "sigmoid"])
@pytest.mark.parametrize("impl", ["fusedxent", "reference", "torch"])
def test_normalizers(benchmark, data, name, impl):
    x, _, _ = data
    _group(benchmark, name, x)
    if impl == "torch":
        torch = _torch()
        xt = torch.from_numpy(x)
        tf = {"softmax": lambda: torch.softmax(xt, -1), "log_softmax": lambda: torch.log_softmax(xt, -1),
              "logsumexp": lambda: torch.logsumexp(xt, -1), "sigmoid": lambda: torch.sigmoid(xt)}[name]
        fn = lambda: tf().numpy()
    else:
        f = getattr(fx if impl == "fusedxent" else R, name)
        fn = lambda: f(x)
    assert benchmark(fn).dtype == x.dtype


@pytest.mark.parametrize("impl", ["fusedxent", "reference"])
def test_evaluate(benchmark, data, impl):
    x, y, _ = data
    _group(benchmark, "evaluate", x)
    mod = fx if impl == "fusedxent" else R
    assert benchmark(mod.evaluate, x, y).count == len(y)


OPTIONS = {"softcap": dict(softcap=30.0), "temperature": dict(temperature=0.7), "focal": dict(gamma=2.0)}


@pytest.mark.parametrize("option", sorted(OPTIONS))
@pytest.mark.parametrize("impl", ["fusedxent", "reference", "torch"])
def test_cross_entropy_options_forward_backward(benchmark, data, option, impl):
    """Soft-cap, temperature and the softmax focal loss (forward+gradient)
    beside the same written in PyTorch with autograd."""
    x, y, _ = data
    o = OPTIONS[option]
    _group(benchmark, f"softmax_cross_entropy+grad {option}", x)
    if impl == "torch":
        torch = _torch()
        yt = torch.from_numpy(y)
        F = torch.nn.functional

        def fn():
            xt = torch.from_numpy(x).clone().requires_grad_(True)
            if option == "softcap":
                loss = F.cross_entropy(30.0 * torch.tanh(xt / 30.0), yt)
            elif option == "temperature":
                loss = F.cross_entropy(xt / 0.7, yt)
            else:
                lp = F.log_softmax(xt, -1).gather(1, yt[:, None])[:, 0]
                loss = (-(1 - lp.exp()) ** 2 * lp).mean()
            loss.backward()
            return xt.grad.numpy()
    else:
        mod = fx if impl == "fusedxent" else R
        fn = lambda: mod.softmax_cross_entropy(x, y, return_grad=True, **o)[1]
    g = benchmark(fn)
    assert g.shape == x.shape
