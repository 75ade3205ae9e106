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
