"""pytest-benchmark suites: each kernel beside the NumPy reference (and
PyTorch when installed) in the same group.  CI runs them with
--benchmark-disable (once each, as a smoke test); run them for figures with
`pytest bench/ --benchmark-only --benchmark-group-by=group`."""
import numpy as np
import pytest

import fusedxent as fx
from fusedxent import reference as R

IMPLS = ["fusedxent", "reference", "torch"]


def _torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("impl", IMPLS)
def test_cross_entropy_forward(benchmark, data, impl):
    x, y, _ = data
    benchmark.group = f"softmax_cross_entropy {x.shape}"
    if impl == "torch":
        torch = _torch()
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        fn = lambda: torch.nn.functional.cross_entropy(xt, yt)
    else:
        mod = fx if impl == "fusedxent" else R
        fn = lambda: mod.softmax_cross_entropy(x, y)
    r = benchmark(fn)
    assert np.isfinite(float(r))


@pytest.mark.parametrize("impl", IMPLS)
def test_cross_entropy_forward_backward(benchmark, data, impl):
    x, y, _ = data
    benchmark.group = f"softmax_cross_entropy+grad {x.shape}"
    if impl == "torch":
        torch = _torch()
        yt = torch.from_numpy(y)

        def fn():
            xt = torch.from_numpy(x).clone().requires_grad_(True)
            torch.nn.functional.cross_entropy(xt, yt).backward()
            return xt.grad
    else:
        mod = fx if impl == "fusedxent" else R
        fn = lambda: mod.softmax_cross_entropy(x, y, return_grad=True)[1]
    g = benchmark(fn)
    assert g.shape == x.shape


@pytest.mark.parametrize("impl", IMPLS)
def test_bce_forward(benchmark, data, impl):
    x, _, t = data
    benchmark.group = f"sigmoid_binary_cross_entropy {x.shape}"
    if impl == "torch":
        torch = _torch()
        xt, tt = torch.from_numpy(x), torch.from_numpy(t)
        fn = lambda: torch.nn.functional.binary_cross_entropy_with_logits(xt, tt)
    else:
        mod = fx if impl == "fusedxent" else R
        fn = lambda: mod.sigmoid_binary_cross_entropy(x, t)
    assert np.isfinite(float(benchmark(fn)))


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp", "sigmoid"])
@pytest.mark.parametrize("impl", ["fusedxent", "reference"])
def test_normalizers(benchmark, data, name, impl):
    x, _, _ = data
    benchmark.group = f"{name} {x.shape}"
    fn = getattr(fx if impl == "fusedxent" else R, name)
    assert benchmark(fn, x).dtype == x.dtype


@pytest.mark.parametrize("impl", ["fusedxent", "reference"])
def test_evaluate(benchmark, data, impl):
    x, y, _ = data
    benchmark.group = f"evaluate {x.shape}"
    mod = fx if impl == "fusedxent" else R
    assert benchmark(mod.evaluate, x, y).count == len(y)
