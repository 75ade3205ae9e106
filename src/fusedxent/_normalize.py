"""The normalizers: sigmoid, log_sigmoid, softmax, log_softmax, logsumexp."""
import numpy as np

from . import _kernels as _k
from . import _validate as V
from ._layout import BLOCK_ELEMS, _logit_rows, _place, _row_output, _rows_per_block, _threads, _writable


def _elementwise(x, out, num_threads, log):
    x = V.float_array(x, "x")
    if out is not None:
        V.out_array(out, x.shape, x.dtype, "out")
    n = x.size
    nt = _threads(num_threads, n)
    xf = V.as_kernel_layout(x.reshape(-1) if x.flags.c_contiguous else np.ascontiguousarray(x).reshape(-1),
                            x.dtype)
    direct = out is not None and out.flags.c_contiguous and _writable(out.reshape(-1), (xf,), xf) is not None
    res = out.reshape(-1) if direct else np.empty(n, x.dtype)
    _k.sigmoid(xf, res, log, BLOCK_ELEMS, nt)
    if direct:
        return out
    res = res.reshape(x.shape)
    if out is not None:
        np.copyto(out, res)
        return out
    return res


def sigmoid(x, *, out=None, num_threads=None):
    """Logistic sigmoid 1/(1+exp(-x)), element-wise.

    Parameters
    ----------
    x : array_like
        Any shape.  float16/32/64 keep their dtype; integers and bools
        become float64.
    out : ndarray, optional
        Receives the result; must have x's shape and (float) dtype and be
        writable.  May be `x` itself.
    num_threads : int, optional
        OpenMP threads; default: the OpenMP default (OMP_NUM_THREADS,
        threadpoolctl).

    Returns
    -------
    ndarray of x's float dtype (`out` when given).
    """
    return _elementwise(x, out, num_threads, False)


def log_sigmoid(x, *, out=None, num_threads=None):
    """log(sigmoid(x)), element-wise, as ``min(x, 0) - log1p(exp(-|x|))``.

    Accurate for large ``|x|`` (no log of a rounded 1 or 0).

    Parameters
    ----------
    x : array_like
        Any shape; float16/32/64 keep their dtype, integers and bools
        become float64.
    out : ndarray, optional
        Receives the result (x's shape and float dtype); may be `x`.
    num_threads : int, optional
        OpenMP threads; default: the OpenMP default.

    Returns
    -------
    ndarray
        x's float dtype and shape (`out` when given).
    """
    return _elementwise(x, out, num_threads, True)


def _normalize(x, axis, out, num_threads, log):
    x, ax, x2, mshape = _logit_rows(x, axis, "x", allow_empty=True)
    if out is not None:
        V.out_array(out, x.shape, x.dtype, "out")
    N, C = x2.shape
    if C == 0:                        # no classes: an empty result (SciPy's convention)
        return out if out is not None else np.empty(x.shape, x.dtype)
    nt = _threads(num_threads, N * C)
    direct = _writable(_row_output(out, x, ax), (x2,), x2)
    res = direct if direct is not None else np.empty((N, C), x.dtype)
    rpb = _rows_per_block(C)
    _k.softmax(x2, res, log, rpb, nt)
    return out if direct is not None else _place(res, mshape, ax, out)


def softmax(x, axis=-1, *, out=None, num_threads=None):
    """softmax along `axis`: exp(x - logsumexp(x)).

    Parameters
    ----------
    x : array_like
        At least 1-D; float16/32/64 keep their dtype, integers become float64.
    axis : int
        The class axis.
    out : ndarray, optional
        Receives the result (x's shape and float dtype); may be `x`.
    num_threads : int, optional
        OpenMP threads; default: the OpenMP default.

    Returns
    -------
    ndarray
        x's float dtype and shape (`out` when given).  Rows whose maximum is
        NaN or +-inf give NaN; -inf entries of a finite row give 0 (the semantics guide,
        IEEE table).
    """
    return _normalize(x, axis, out, num_threads, False)


def log_softmax(x, axis=-1, *, out=None, num_threads=None):
    """log softmax along `axis`, computed as (x - max) - log1p(s), never as
    log(softmax(x)).

    Parameters
    ----------
    x : array_like
        At least 1-D; float16/32/64 keep their dtype, integers become float64.
    axis : int
        The class axis.
    out : ndarray, optional
        Receives the result (x's shape and float dtype); may be `x`.
    num_threads : int, optional
        OpenMP threads; default: the OpenMP default.

    Returns
    -------
    ndarray
        x's float dtype and shape (`out` when given); -inf where the logit
        is -inf in a finite row, NaN for rows with NaN or +inf.
    """
    return _normalize(x, axis, out, num_threads, True)


def logsumexp(x, axis=-1, *, num_threads=None):
    """log(sum(exp(x))) along `axis`, as max + log1p(sum of the others).

    Parameters
    ----------
    x : array_like
        At least 1-D; float16/32/64 keep their dtype, integers become float64.
    axis : int
        The axis reduced.
    num_threads : int, optional
        OpenMP threads; default: the OpenMP default.

    Returns
    -------
    ndarray
        x's shape without `axis`, x's float dtype.  All -inf rows give -inf,
        rows with +inf give +inf, rows with NaN give NaN (SciPy's convention).
    """
    x, ax, x2, mshape = _logit_rows(x, axis, "x", allow_empty=True)
    N, C = x2.shape
    if C == 0:                        # the log of an empty sum (scipy.special.logsumexp)
        return np.full(mshape[:-1], -np.inf, x.dtype)
    nt = _threads(num_threads, N * C)
    res = np.empty(N, x.dtype)
    rpb = _rows_per_block(C)
    _k.logsumexp(x2, res, rpb, nt)
    return res.reshape(mshape[:-1])
