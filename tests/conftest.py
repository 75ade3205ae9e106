import numpy as np
import pytest

import fusedxent as fx
from fusedxent import _kernels

ISAS = list(_kernels.isa_supported())


@pytest.fixture(params=ISAS)
def isa(request):
    """Run a test on every instruction-set path this CPU supports."""
    before = _kernels.isa_current()
    fx.set_isa(request.param)
    yield request.param
    fx.set_isa(before)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def tol(dtype):
    return {np.dtype(np.float16): 2e-3, np.dtype(np.float32): 2e-5, np.dtype(np.float64): 1e-12}[np.dtype(dtype)]


def assert_close(a, b, dtype, scale_floor=True):
    """Relative agreement with an absolute floor of tol * max|b|; NaN/inf
    in the same places."""
    from fusedxent._check import compare
    ea, er, ok = compare(a, b, dtype)
    assert ok, f"max abs err {ea:.3g}, max rel err {er:.3g} (dtype {np.dtype(dtype).name})"
