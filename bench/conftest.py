import numpy as np
import pytest

# class counts of the performance issue; rows chosen so every case holds
# about ELEMENTS logits (whole rows), so the groups compare like with like
CLASSES = [2, 10, 100, 1000, 32000, 262144]
ELEMENTS = 1 << 21
DTYPES = [np.float32, np.float64]


@pytest.fixture(params=[(C, dt) for dt in DTYPES for C in CLASSES],
                ids=lambda p: f"C{p[0]}-{np.dtype(p[1]).name}")
def data(request):
    C, dt = request.param
    N = max(1, ELEMENTS // C)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C)).astype(dt)
    y = rng.integers(0, C, N)
    t = (rng.random((N, C)) < 0.5).astype(dt)
    return x, y, t
