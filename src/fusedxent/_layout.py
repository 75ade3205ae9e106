"""What every family's public functions share: the reduction blocks, the
thread count, and the 2-D row view of the logits with its outputs.

Design: all checks run before any output is touched, so an error never
leaves `out=` or `grad_out=` partly written.  Logits are viewed as 2-D
(rows, classes) with the class axis last and unit stride -- copied only
when the layout forces it.  Reductions come back from the kernels as
per-block partial sums in double (blocks sized by the shape alone) and are
added here in order, so results do not depend on the thread count.
float16 and bfloat16 arrays go to the kernels as they are: the kernels'
driver converts each block of rows into float32 scratch and back, so no
full-size float32 copy is ever made.
"""
import numpy as np

from . import _kernels as _k
from . import _validate as V

BLOCK_ELEMS = 16384      # elements per reduction block (by shape only -> bitwise reproducible)
SERIAL_BELOW = 1 << 15   # below this many elements one thread is faster than waking the team
_FAST_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_INT64 = np.dtype(np.int64)


def _threads(num_threads, work):
    n = V.num_threads(num_threads)
    if work < SERIAL_BELOW:
        return 1
    return _k.max_threads() if n is None else n


def _rows_per_block(C):
    return max(1, BLOCK_ELEMS // C)


def _nblocks(n, per):
    return (n + per - 1) // per


def _logit_rows(x, axis, name, allow_empty=False):
    x = V.float_array(x, name, allow_0d=False)
    ax = V.axis_index(axis, x.ndim)
    if x.shape[ax] == 0 and not allow_empty:
        raise ValueError(f"{name} has zero classes along axis {axis}")
    x2, mshape = V.rows_view(x, ax)
    return x, ax, V.as_kernel_layout(x2, x.dtype), mshape


def _row_output(out, x, ax):
    """The caller's array itself when the rows can be written into it (class
    axis last, C-contiguous), else None."""
    if out is not None and ax == x.ndim - 1 and out.flags.c_contiguous:
        return out.reshape(-1, x.shape[-1])
    return None


def _same_memory(a, b):
    """a and b are the same elements in the same order (exact in place)."""
    return (a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
            and a.shape == b.shape and a.strides == b.strides and a.dtype.itemsize == b.dtype.itemsize)


def _writable(dest, inputs, inplace=None):
    """`dest` when the kernel may write into it while it reads `inputs`,
    else None (the caller writes a fresh buffer, then copies it over):
    NumPy's rule that an output overlapping an input gives the result of the
    non-overlapping call.  Exact in place (`dest` is the same memory as
    `inplace`, which the kernels allow) keeps writing directly.
    may_share_memory only compares bounds: an interleaved non-overlap
    costs a copy, never a wrong answer."""
    if dest is None:
        return None
    for a in inputs:
        if a is not None and np.may_share_memory(dest, a):
            if a is inplace and _same_memory(dest, a):
                continue
            return None
    return dest


def _place(res2, mshape, ax, out):
    res = np.moveaxis(res2.reshape(mshape), -1, ax)
    if out is not None:
        np.copyto(out, res)
        return out
    return np.ascontiguousarray(res)
