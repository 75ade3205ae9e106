"""Shared assertions of the test suite."""
import numpy as np


def tol(dtype):
    return {np.dtype(np.float16): 2e-3, np.dtype(np.float32): 2e-5, np.dtype(np.float64): 1e-12}[np.dtype(dtype)]


def assert_close(a, b, dtype, scale_floor=True):
    """Relative agreement with an absolute floor of tol * max|b|; NaN/inf
    in the same places."""
    from fusedxent._check import compare
    ea, er, ok = compare(a, b, dtype)
    assert ok, f"max abs err {ea:.3g}, max rel err {er:.3g} (dtype {np.dtype(dtype).name})"
