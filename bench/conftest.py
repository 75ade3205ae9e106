import numpy as np
import pytest

SIZES = [(4096, 1000), (65536, 10)]


@pytest.fixture(params=SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def data(request):
    rng = np.random.default_rng(0)
    N, C = request.param
    x = rng.standard_normal((N, C)).astype(np.float32)
    y = rng.integers(0, C, N)
    t = (rng.random((N, C)) < 0.5).astype(np.float32)
    return x, y, t
