"""The public functions: validate, lay out, call one kernel, shape the result.

Design: all checks run before any output is touched, so an error never
leaves `out=` or `grad_out=` partly written.  Logits are viewed as 2-D
(rows, classes) with the class axis last and unit stride -- copied only
when the layout forces it.  Reductions come back from the kernels as
per-block partial sums in double (blocks sized by the shape alone) and are
added here in order, so results do not depend on the thread count.
float16 and bfloat16 arrays go to the kernels as they are: the kernels'
driver converts each block of rows into float32 scratch and back, so no
full-size float32 copy is ever made.

The block-level passes (`softmax_xent_parts`, `bce_parts`,
`evaluate_parts`, `finish_loss`, `xent_denominator`) are what the public
functions are made of; fusedxent.dask calls the same ones per block.
"""
import math
from typing import Any, NamedTuple, Optional

import numpy as np

from . import _kernels as _k
from . import _validate as V
from ._options import IDENTITY, LogitTransform, xent_options
from ._results import BinaryEvaluation, Calibration, Evaluation, PerClass, RowStats

BLOCK_ELEMS = 16384      # elements per reduction block (by shape only -> bitwise reproducible)
SERIAL_BELOW = 1 << 15   # below this many elements one thread is faster than waking the team
_FAST_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_INT64 = np.dtype(np.int64)
_PLAIN_NUMBERS = (int, float)


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


# ------------------------------------------------------------------ normalizers

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


# ------------------------------------------------------------------ softmax cross-entropy

def finish_loss(loss_sum, denominator, reduction, k):
    """A reduced loss from a pass's sums: "sum" -> loss_sum * k, "mean" ->
    loss_sum / denominator * k, 0.0 when the denominator is 0 (all rows
    ignored, empty batch; PyTorch gives NaN)."""
    if reduction == "sum":
        return loss_sum * k
    return loss_sum / denominator * k if denominator != 0 else 0.0


class XentParts(NamedTuple):
    """One pass of softmax cross-entropy over a batch (or a Dask block)."""
    loss_sum: float          #: sum of the weighted row losses, in nats
    weight_sum: float        #: the mean's denominator over these rows
    rows: Any                #: per-row losses in units of `base` ("none"), else None
    grad: Any                #: the gradient (want_grad), else None
    stats: Any = None        #: RowStats (want_stats), flat, else None


def softmax_cross_entropy(logits, target, *, axis=-1, weight=None, sample_weight=None,
                          ignore_index=-100, label_smoothing=0.0, reduction="mean",
                          base=None, z_loss=0.0, softcap=None, temperature=1.0, gamma=0.0, alpha=None,
                          return_grad=False, grad_out=None, num_threads=None):
    """Fused log-softmax + cross-entropy from logits, in one pass per row.

    Parameters
    ----------
    logits : array_like, float
        Class scores; the class axis is `axis`.
    target : array_like
        Integer class indices with the logits' shape without `axis`, or
        float class probabilities with the logits' shape.
    axis : int
        The class axis.
    weight : array_like of shape (C,), optional
        Per-class weights (PyTorch's `weight`).
    sample_weight : array_like, optional
        Per-row weights, shape of the logits without `axis`.
    ignore_index : int
        Rows whose label equals it contribute nothing (index targets only).
    label_smoothing : float in [0, 1]
        PyTorch's formula; class weights included.
    reduction : {"mean", "sum", "none"}
        "mean" divides by sum(sample_weight * weight[y]) over rows kept
        (index targets) or sum(sample_weight) (probability targets); it is
        0.0 when that is 0 (all rows ignored, empty batch).
    base : float, optional
        Logarithm base of the result (None or e: nats, 2: bits).
    z_loss : float >= 0
        Adds z * lse**2 per row (PaLM), weighted by sample_weight.
    softcap : float > 0, optional
        Logit soft-capping (Gemma 2): z = softcap * tanh(z / softcap).
    temperature : float > 0
        z = logits / temperature, before the soft-cap.  Every loss and
        gradient is that of z; the gradient is with respect to the logits.
    gamma : float >= 0
        Focal loss (Lin et al. 2017, Keras' categorical form): each class
        term -log p_j is multiplied by alpha_j (1 - p_j)**gamma.
    alpha : float or array_like of shape (C,), optional
        The focal class balance (None: 1); it multiplies with `weight` and
        `sample_weight`, the mean's denominator stays without it.
    return_grad : bool
        Also return d(loss)/d(logits) from the same pass.
    grad_out : ndarray, optional
        Receives the gradient (logits' shape and dtype); may be `logits`.
    num_threads : int, optional
        OpenMP threads (1..1024); default: the OpenMP default.

    Returns
    -------
    loss : float (mean, sum) or ndarray of the logits' dtype (none)
    grad : ndarray, only with return_grad
    """
    o = xent_options(axis=axis, weight=weight, ignore_index=ignore_index, label_smoothing=label_smoothing,
                     reduction=reduction, base=base, z_loss=z_loss, softcap=softcap, temperature=temperature,
                     gamma=gamma, alpha=alpha)
    if (o.shortcut and not return_grad and sample_weight is None and grad_out is None and num_threads is None
            and type(logits) is np.ndarray and type(target) is np.ndarray and 0 < logits.size <= BLOCK_ELEMS
            and logits.ndim == 2 and logits.dtype in _FAST_DTYPES and target.dtype == _INT64
            and target.ndim == 1 and logits.flags.c_contiguous and logits.flags.aligned
            and target.flags.c_contiguous and target.flags.aligned):
        # small-call fast path: the options allow it (o.shortcut), the data
        # is one reduction block -- the same kernel code and numbers as
        # below without the general set-up (labels are checked in the
        # kernel; a bad one goes the long way and raises there)
        r = _k.xent_index_one_block(logits, target, o.ignore_index)
        if r is not None:
            return r[0] if o.reduction == "sum" else (r[0] / r[1] if r[1] != 0 else 0.0)
    parts = softmax_xent_parts(logits, target, o, sample_weight=sample_weight, want_grad=return_grad,
                               grad_out=grad_out, num_threads=num_threads)
    # the loss divides by the kernel's sum of the weights, so it is the same
    # number with and without return_grad
    loss = parts.rows if o.reduction == "none" else finish_loss(parts.loss_sum, parts.weight_sum, o.reduction,
                                                                o.k)
    return (loss, parts.grad) if return_grad else loss


def xent_denominator(labels, *, ignore_index, weight=None, sample_weight=None, rows=None):
    """The mean's denominator from labels and weights alone (N-sized, not
    N x C): sum(sample_weight * weight[y]) over rows kept, for validated
    flat int64 labels; with labels None (probability targets), `rows` or
    sum(sample_weight)."""
    sw = sample_weight
    if labels is None:
        return float(rows if sw is None else np.sum(sw))
    keep = labels != ignore_index
    wy = 1.0 if weight is None else weight[np.where(keep, labels, 0)]
    return float(np.sum(np.where(keep, wy * (1.0 if sw is None else sw), 0.0)))


def softmax_xent_parts(logits, target, options, *, sample_weight=None, want_grad=False, grad_out=None,
                       grad_denominator=None, want_stats=False, num_threads=None):
    """One validated kernel pass of softmax cross-entropy: `options` an
    XentOptions (xent_options), `grad_denominator` to fix the mean
    gradient's denominator (fusedxent.dask passes the global one; default:
    this batch's), want_stats: the rows' RowStats from the same pass.
    Returns XentParts."""
    o = options
    x, ax, x2, mshape = _logit_rows(logits, o.axis, "logits")
    N, C = x2.shape
    idx_shape = mshape[:-1]
    reduction, k, ii = o.reduction, o.k, o.ignore_index
    kind, t = V.target_kind(target, x.shape, idx_shape, ax)
    w = o.class_weight(C)
    o.class_alpha(C)                     # its shape, before any work
    sw = None if sample_weight is None else V.sample_weight(sample_weight, idx_shape)
    if grad_out is not None:
        V.out_array(grad_out, x.shape, x.dtype, "grad_out")
    nt = _threads(num_threads, N * C)
    # With no caller's array to write into, the kernels check the label
    # range tile by tile, on labels already in cache, instead of a separate
    # pass over them (at 2 classes that pass cost a third of the call); a
    # block with a bad label reports NaN, and the full check then names it.
    # A weighted mean gradient needs valid labels for its denominator first.
    defer = kind == "index" and grad_out is None and not (
        want_grad and reduction == "mean" and grad_denominator is None and w is not None)
    if kind == "index":
        y = V.class_labels(t, C, ii, check=not defer)
        soft = None
        ta, tb = 0.0, 0.0
    else:
        y = None
        soft = np.moveaxis(t, ax, -1).reshape(-1, C)
        soft = V.as_kernel_layout(soft, V.partner_dtype(soft.dtype, x.dtype))
        ta, tb = 1.0 - o.label_smoothing, o.label_smoothing / C
    denom = grad_denominator
    if reduction == "mean" and want_grad and denom is None:
        # the gradient's scale must be known before the pass
        denom = xent_denominator(y, ignore_index=ii, weight=w, sample_weight=sw, rows=N)
    gscale = k * ((1.0 / denom) if denom else 0.0) if reduction == "mean" else k
    loss_rows = np.empty(N, x.dtype) if reduction == "none" else None
    g2 = None
    direct = False
    if want_grad:
        # the kernels may write the gradient over the logits, nothing else
        g2 = _writable(_row_output(grad_out, x, ax), (x2, y, soft, w, sw), x2)
        direct = g2 is not None
        if g2 is None:
            g2 = np.empty((N, C), x.dtype)
    rpb = _rows_per_block(C)
    partial = np.zeros((_nblocks(N, rpb), 2))
    kopts = o.kernel(C, grad_scale=gscale, target_a=ta, target_b=tb, check_labels=defer, row_stats=want_stats)
    st = RowStats(np.empty(N), np.empty(N), np.empty(N, np.int64)) if want_stats else RowStats(None, None, None)
    _k.softmax_xent(x2, options=kopts, labels=y, probabilities=soft, sample_weight=sw, loss_out=loss_rows,
                    grad_out=g2, lse_out=st.lse, entropy_out=st.entropy, argmax_out=st.argmax, partial=partial,
                    rows_per_block=rpb, nt=nt)
    sums = partial[0] if len(partial) == 1 else partial.sum(axis=0)
    if defer and not np.isfinite(sums).all():
        V.class_labels(t, C, ii)          # raises if a label is out of range (else the NaN is the data's)
    if loss_rows is not None:
        loss_rows = loss_rows.reshape(idx_shape)
    grad = None
    if want_grad:
        grad = grad_out if direct else _place(g2, mshape, ax, grad_out)
    return XentParts(float(sums[0]), float(sums[1]), loss_rows, grad, st if want_stats else None)


# ------------------------------------------------------------------ sigmoid binary cross-entropy

def _bce_weight_parts(w, shape):
    """Split an element weight broadcast to `shape` into what the kernel
    indexes cheaply: (vector, is_full, row_vector).  A weight constant
    along the last axis becomes per-row, one constant across rows becomes
    per-column, anything else is materialized at full size."""
    if w is None or 0 in shape:       # no elements: nothing to weight
        return None, False, None
    L = shape[-1] if len(shape) else 1
    wb = np.broadcast_to(w, shape).reshape(-1, L) if len(shape) else np.broadcast_to(w, (1, 1))
    if wb.shape[0] <= 1 or wb.strides[0] == 0:
        return np.ascontiguousarray(wb[0] if wb.shape[0] else np.zeros(L)), False, None
    if wb.strides[1] == 0 or L == 1:
        return None, False, np.ascontiguousarray(wb[:, 0])
    return np.ascontiguousarray(wb).reshape(-1), True, None


def sigmoid_binary_cross_entropy(logits, target, *, weight=None, pos_weight=None,
                                 label_smoothing=0.0, gamma=0.0, alpha=None,
                                 reduction="mean", base=None, return_grad=False,
                                 grad_out=None, num_threads=None):
    """Binary cross-entropy with logits, element-wise, in one pass.

    loss = pos_weight * t * softplus(-x) + (1 - t) * softplus(x), each term
    computed without cancellation; t may be soft (any value in [0, 1]).

    Parameters
    ----------
    logits : array_like, float
        Any shape.
    target : array_like
        The logits' shape; 0/1 labels or probabilities in [0, 1] (any real
        or bool dtype).
    weight : array_like, optional
        Element weights broadcastable to the logits (PyTorch's `weight`).
    pos_weight : float or array_like of shape (logits.shape[-1],), optional
        Weight of the positive term, along the last axis.
    label_smoothing : float in [0, 1]
        t -> t (1 - eps) + eps / 2.
    gamma : float >= 0
        Focal-loss exponent (torchvision's sigmoid_focal_loss); 0: off.
    alpha : float in [0, 1], optional
        Focal-loss class balance: alpha t + (1 - alpha)(1 - t).
    reduction : {"mean", "sum", "none"}
        "mean" divides by the number of elements (0.0 for an empty input).
    base : float, optional
        Logarithm base of the result (None or e: nats, 2: bits).
    return_grad : bool
        Also return d(loss)/d(logits) from the same pass.
    grad_out : ndarray, optional
        Receives the gradient (logits' shape and dtype); may be `logits`.
    num_threads : int, optional
        OpenMP threads; default: the OpenMP default.

    Returns
    -------
    loss : float (mean, sum) or ndarray of the logits' dtype and shape (none)
    grad : ndarray, only with return_grad
    """
    reduction = V.reduction(reduction)
    parts = bce_parts(logits, target, weight=weight, pos_weight=pos_weight, label_smoothing=label_smoothing,
                      gamma=gamma, alpha=alpha, reduction=reduction, base=base, want_grad=return_grad,
                      grad_out=grad_out, num_threads=num_threads)
    loss = parts.elements if reduction == "none" else finish_loss(parts.loss_sum, parts.count, reduction,
                                                                  V.log_base(base))
    return (loss, parts.grad) if return_grad else loss


class BCEParts(NamedTuple):
    """One pass of binary cross-entropy with logits over a batch (or a Dask block)."""
    loss_sum: float          #: sum of the weighted element losses, in nats
    count: int               #: elements (the mean's denominator)
    elements: Any            #: element losses in units of `base` ("none"), else None
    grad: Any                #: the gradient (want_grad), else None


def bce_parts(logits, target, *, weight=None, pos_weight=None, label_smoothing=0.0, gamma=0.0, alpha=None,
              reduction="mean", base=None, want_grad=False, grad_out=None, grad_count=None, num_threads=None):
    """One validated kernel pass of sigmoid binary cross-entropy: the
    options of `sigmoid_binary_cross_entropy`, and `grad_count` to fix the
    mean gradient's element count (fusedxent.dask passes the global one).
    Returns BCEParts."""
    x = V.float_array(logits, "logits")
    t = V.bce_target(target, x.shape)
    reduction = V.reduction(reduction)
    k = V.log_base(base)
    eps = V.unit_interval(label_smoothing, "label_smoothing")
    gamma = V.nonneg(gamma, "gamma")
    if alpha is not None:
        alpha = V.unit_interval(alpha, "alpha")
    w = V.bce_weight(weight, x.shape, "weight")
    pw = V.pos_weight(pos_weight, x.shape)
    if grad_out is not None:
        V.out_array(grad_out, x.shape, x.dtype, "grad_out")
    n = x.size
    L = x.shape[-1] if x.ndim else 1
    nt = _threads(num_threads, n)
    # 16-bit logits stay 16-bit (the driver converts them block by block),
    # and so do 16-bit targets; other targets of 16-bit logits are float32
    xf = V.as_kernel_layout(np.ascontiguousarray(x).reshape(-1), x.dtype)
    tf = np.ascontiguousarray(t).reshape(-1)
    tf = V.as_kernel_layout(tf, V.partner_dtype(tf.dtype, x.dtype))
    wv, w_full, wrow = _bce_weight_parts(w, x.shape)
    pwv = None if pw is None else np.ascontiguousarray(np.broadcast_to(pw, (L,)), dtype=np.float64)
    count = n if grad_count is None else grad_count
    gscale = k * ((1.0 / count) if count else 0.0) if reduction == "mean" else k
    loss_el = np.empty(n, x.dtype) if reduction == "none" else None
    gf = None
    direct = False
    if want_grad:
        direct = grad_out is not None and grad_out.flags.c_contiguous
        gf = _writable(grad_out.reshape(-1), (xf, tf, wv, wrow, pwv), xf) if direct else None
        direct = gf is not None
        if gf is None:
            gf = np.empty(n, x.dtype)
    partial = np.zeros(_nblocks(n, BLOCK_ELEMS))
    opts = _k.BCEOptions(row_length=L, size=n, weight=wv, weight_full=w_full, row_weight=wrow, pos_weight=pwv,
                         target_a=1.0 - eps, target_b=eps / 2.0, gamma=gamma,
                         alpha=-1.0 if alpha is None else alpha, grad_scale=gscale, loss_scale=k)
    _k.sigmoid_bce(xf, tf, options=opts, loss_out=loss_el, grad_out=gf, partial=partial, block=BLOCK_ELEMS,
                   nt=nt)
    if loss_el is not None:
        loss_el = loss_el.reshape(x.shape)
    grad = None
    if want_grad:
        grad = gf.reshape(x.shape)
        if grad_out is not None:
            if not direct:
                np.copyto(grad_out, grad)
            grad = grad_out
    return BCEParts(float(partial.sum()), n, loss_el, grad)


# ------------------------------------------------------------------ losses from probabilities

def cross_entropy(p, q, *, axis=-1, base=None, eps="auto", reduction="mean"):
    """H(p, q) = -sum_c p_c log q_c along `axis` (the article's form).

    Parameters
    ----------
    p : array_like
        Target distribution (at least 1-D); 0 log 0 = 0.
    q : array_like
        Predicted probabilities, p's shape; clipped to [eps, 1 - eps].
    axis : int
        The class axis.
    base : float, optional
        Logarithm base (None or e: nats, 2: bits).
    eps : float in (0, 0.5) or "auto"
        "auto": the machine epsilon of the inputs' dtype (scikit-learn's
        log_loss).
    reduction : {"mean", "sum", "none"}
        "mean" averages over rows.

    Returns
    -------
    float (mean, sum) or ndarray of p's shape without `axis` (none)
    """
    p = V.float_array(p, "p", allow_0d=False)
    q = V.float_array(q, "q", allow_0d=False)
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same shape, got {p.shape} and {q.shape}")
    ax = V.axis_index(axis, q.ndim)
    reduction = V.reduction(reduction)
    k = V.log_base(base)
    dtype = V.common_float(p.dtype, q.dtype)
    e = V.clip_eps(eps, q.dtype)      # q's own dtype, as scikit-learn's log_loss
    p2, mshape = V.rows_view(p, ax)
    q2, _ = V.rows_view(q, ax)
    N, C = q2.shape
    # 16-bit operands stay 16-bit (the driver converts them) unless the call is float64
    p2 = V.as_kernel_layout(p2, V.partner_dtype(p2.dtype, dtype))
    q2 = V.as_kernel_layout(q2, V.partner_dtype(q2.dtype, dtype))
    rpb = _rows_per_block(max(C, 1))
    partial = np.zeros(_nblocks(N, rpb))
    loss_rows = np.empty(N, dtype) if reduction == "none" else None
    nt = _threads(None, N * C)
    if C:
        _k.cross_entropy_prob(p2, q2, lo=e, hi=1.0 - e, loss_scale=k, loss_out=loss_rows, partial=partial,
                              rows_per_block=rpb, nt=nt)
    elif loss_rows is not None:
        loss_rows[:] = 0
    if reduction == "none":
        return loss_rows.reshape(mshape[:-1])
    return finish_loss(float(partial.sum()), N, reduction, k)


def binary_cross_entropy(prob, target, *, weight=None, base=None, eps="auto", reduction="mean"):
    """-(t log p + (1 - t) log(1 - p)) element-wise from probabilities.

    Parameters
    ----------
    prob : array_like
        Predicted probabilities, any shape; clipped to [eps, 1 - eps].
    target : array_like
        prob's shape; 0/1 labels or probabilities.
    weight : array_like, optional
        Element weights broadcastable to prob.
    base : float, optional
        Logarithm base (None or e: nats, 2: bits).
    eps : float in (0, 0.5) or "auto"
        "auto": the machine epsilon of prob's dtype (scikit-learn's log_loss).
    reduction : {"mean", "sum", "none"}
        "mean" averages over elements.

    Returns
    -------
    float (mean, sum) or ndarray of prob's shape (none)
    """
    pr = V.float_array(prob, "prob")
    t = V.bce_target(target, pr.shape)
    reduction = V.reduction(reduction)
    k = V.log_base(base)
    e = V.clip_eps(eps, pr.dtype)
    w = V.bce_weight(weight, pr.shape, "weight")
    n = pr.size
    # as in sigmoid_binary_cross_entropy: 16-bit stays 16-bit, other targets of 16-bit probabilities float32
    pf = V.as_kernel_layout(np.ascontiguousarray(pr).reshape(-1), pr.dtype)
    tf = np.ascontiguousarray(t).reshape(-1)
    tf = V.as_kernel_layout(tf, V.partner_dtype(tf.dtype, pr.dtype))
    wf = None if w is None else np.ascontiguousarray(np.broadcast_to(w, pr.shape), dtype=np.float64).reshape(-1)
    loss_el = np.empty(n, pr.dtype) if reduction == "none" else None
    partial = np.zeros(_nblocks(n, BLOCK_ELEMS))
    nt = _threads(None, n)
    _k.binary_cross_entropy_prob(pf, tf, weight=wf, lo=e, hi=1.0 - e, loss_scale=k, loss_out=loss_el,
                                 partial=partial, block=BLOCK_ELEMS, nt=nt)
    if reduction == "none":
        return loss_el.reshape(pr.shape)
    return finish_loss(float(partial.sum()), n, reduction, k)


# ------------------------------------------------------------------ evaluation

def _check_classes(C, expected, what):
    if expected is not None and C != expected:
        raise ValueError(f"{what} has {C} classes, but the evaluator has seen {expected}: "
                         f"rows with different class counts cannot be evaluated together")


class EvalParts(NamedTuple):
    """One pass of `evaluate` over a batch (or a Dask block): double sums
    that add across batches, and the per-row outputs."""
    sums: Any                #: [loss (nats), weight, top-1 hits, count, Brier, entropy (nats), hits per k...]
    topk: tuple              #: the k of the per-k hits, in order
    calibration: Any         #: (3, B): weight, confidence sum, hit sum per bin; or None
    per_class: Any           #: (3, C): support, predicted, correct; or None
    confusion: Any           #: (C, C) or None
    lse: Any                 #: per-row logsumexp (the logits' dtype), index shape
    argmax: Any              #: per-row argmax (int64), index shape
    n_classes: int

    @property
    def loss_sum(self):
        return float(self.sums[0])

    @property
    def weight_sum(self):
        return float(self.sums[1])

    @property
    def correct_sum(self):
        return float(self.sums[2])

    @property
    def count(self):
        return int(self.sums[3])


def evaluate_parts(logits, labels, *, axis=-1, ignore_index=-100, sample_weight=None, topk=(1,),
                   calibration_bins=None, per_class=False, num_threads=None, n_classes=None,
                   transform=IDENTITY):
    """One validated kernel pass of `evaluate` (its options, the logits'
    transform as a LogitTransform; `n_classes`: the class count the logits
    must have, an Evaluator's).  Returns
    EvalParts: sums from the kernel's blocks, histograms from the per-row
    outputs by np.bincount (summed in row order: independent of threads)."""
    x, ax, x2, mshape = _logit_rows(logits, axis, "logits")
    N, C = x2.shape
    _check_classes(C, n_classes, "this batch")
    ks, B, pc = V.eval_options(topk, calibration_bins, per_class, C)
    idx_shape = mshape[:-1]
    ii = V.ignore_index(ignore_index)
    yl = np.asarray(labels)
    if yl.dtype.kind in "iu" and yl.shape != tuple(idx_shape):
        raise ValueError(f"labels must have shape {tuple(idx_shape)} (the logits' shape without axis "
                         f"{ax}), got {yl.shape}")
    y = V.class_labels(yl, C, ii, name="labels")
    sw = None if sample_weight is None else V.sample_weight(sample_weight, idx_shape)
    nt = _threads(num_threads, N * C)
    lse = np.empty(N, x.dtype)
    amax = np.empty(N, np.int64)
    conf = np.empty(N) if B else None
    rbin = np.empty(N, np.int64) if B else None
    rpb = _rows_per_block(C)
    big = tuple(k for k in ks if k > 1)
    partial = np.zeros((_nblocks(N, rpb), 6 + len(big)))
    # k >= C means every class: the kernel takes it as C (k may not fit a C integer)
    _k.evaluate(x2, y, sample_weight=sw, ignore_index=ii, topk=tuple(min(k, C) for k in big), lse_out=lse, argmax_out=amax,
                confidence_out=conf, bin_out=rbin, bins=B or 0, partial=partial, rows_per_block=rpb, nt=nt,
                temperature=transform.kernel_args()[0], softcap=transform.kernel_args()[1])
    sums = partial.sum(axis=0) if len(partial) else np.zeros(6 + len(big))
    calib = per = conf_m = None
    if B or pc:
        # histograms of the per-row outputs, in row order (independent of
        # threads); index -1 (B for bins, C for classes) collects the rows
        # that count in no bin or class, so no masked copies are made
        hit = amax == y                          # NaN rows: argmax is the NaN's index, excluded below
        sw = None if sw is None else np.reshape(sw, -1)
        if B:
            b = rbin + 1                         # -1: ignored rows and rows without a finite confidence
            hw = hit if sw is None else hit * sw
            cw = conf if sw is None else conf * sw
            calib = np.stack([np.bincount(b, sw, B + 1)[1:], np.bincount(b, cw, B + 1)[1:],
                              np.bincount(b, hw, B + 1)[1:]])
        if pc:
            keep = y != ii
            valid = keep & ~np.isnan(lse)        # rows holding a NaN have no predicted class
            hit &= valid
            yk = np.where(keep, y, C)
            pk = np.where(valid, amax, C)
            hk = np.where(hit, y, C)
            per = np.stack([np.bincount(yk, sw, C + 1)[:C], np.bincount(pk, sw, C + 1)[:C],
                            np.bincount(hk, sw, C + 1)[:C]]).astype(np.float64)
            if pc == "confusion":
                conf_m = np.bincount(np.where(valid, y * C + amax, C * C), sw, C * C + 1)[:-1].reshape(C, C)
                conf_m = conf_m.astype(np.float64)
    return EvalParts(sums, (1,) + big if 1 in ks else big, calib, per, conf_m, lse.reshape(idx_shape),
                     amax.reshape(idx_shape), C)


def _calibration_snapshot(calibration, wsum):
    """Calibration over a (3, B) array of running sums, copied: a result
    must not change when the evaluator that made it goes on (_results)."""
    c = np.array(calibration, np.float64)
    return Calibration(np.linspace(0.0, 1.0, c.shape[1] + 1), c[0], c[1], c[2], wsum)


def evaluation_from_parts(sums, topk, calibration=None, per_class=None, confusion=None, *, k=1.0,
                          base=None, lse=None, argmax=None):
    """The Evaluation of a pass's (or a stream's) sums: means over the
    counted weight, 0.0 when no row counts; loss and entropy times k (the
    log-base factor)."""
    lsum, wsum, hits, count, bsum, hsum = (float(v) for v in sums[:6])
    mean = (lambda v: v / wsum) if wsum != 0 else (lambda v: 0.0)
    hk = dict(zip([q for q in topk if q > 1], (float(v) for v in sums[6:])))
    tk = {q: (mean(hits) if q == 1 else mean(hk[q])) for q in topk}
    cal = None
    if calibration is not None:
        cal = _calibration_snapshot(calibration, wsum)
    pcl = None
    if per_class is not None:
        per_class = np.array(per_class, np.float64)        # a snapshot: see _results
        pcl = PerClass(per_class[0], per_class[1], per_class[2],
                       None if confusion is None else np.array(confusion, np.float64))
    return Evaluation(mean(lsum) * k, mean(hits), int(count), lse, argmax, tk, mean(bsum), mean(hsum) * k,
                      cal, pcl, math.e if base is None else float(base))


def evaluate(logits, labels, *, axis=-1, ignore_index=-100, sample_weight=None, base=None, topk=(1,),
             calibration_bins=None, per_class=False, softcap=None, temperature=1.0, num_threads=None):
    """One pass over the logits of an evaluation job.

    Parameters
    ----------
    logits : array_like, float
        Class scores; the class axis is `axis`.
    labels : array_like of int
        Class indices, the logits' shape without `axis`.
    axis : int
        The class axis.
    ignore_index : int
        Rows with this label count nowhere.
    sample_weight : array_like, optional
        Per-row weights of every metric.
    base : float, optional
        Logarithm base of loss and entropy (None or e: nats, 2: bits).
    topk : sequence of int
        The k of topk_accuracy (k >= 1; at most 16 values above 1).  A k
        of the class count or more means every class: its accuracy is the
        weighted share of counted rows without a NaN.
    calibration_bins : int, optional
        B equal-width reliability bins on [0, 1] of the confidence
        max_j p_j; None: no calibration.
    per_class : bool or "confusion"
        Per-class support, predictions and hits (True), plus the C x C
        confusion matrix ("confusion", C <= 1024).
    softcap, temperature :
        As in `softmax_cross_entropy`: every metric, lse and argmax is that
        of z = softcap * tanh(logits / temperature / softcap).
    num_threads : int, optional
        OpenMP threads; default: the OpenMP default.

    Returns
    -------
    Evaluation
        loss, accuracy, count, lse, argmax, topk_accuracy, brier, entropy,
        calibration, per_class, base (and .perplexity): means over the
        rows whose label is not ignore_index, weighted by sample_weight,
        0.0 when no row counts.  A row holding a NaN is never a hit (top-1,
        top-k, per class) and has no predicted class; it makes loss, brier
        and entropy NaN.  argmax: first index on ties (NumPy's rule).
    """
    k = V.log_base(base)
    e = evaluate_parts(logits, labels, axis=axis, ignore_index=ignore_index, sample_weight=sample_weight,
                       topk=topk, calibration_bins=calibration_bins, per_class=per_class,
                       num_threads=num_threads, transform=LogitTransform.of(softcap, temperature))
    return evaluation_from_parts(e.sums, e.topk, e.calibration, e.per_class, e.confusion, k=k, base=base,
                                 lse=e.lse, argmax=e.argmax)


class Evaluator:
    """Streaming `evaluate`: feed batches with `update`, read `result()`.

    Every partial (the sums, the calibration bins, the per-class counts) is
    carried in double, so the result over any batch boundaries equals one
    `evaluate` call over the concatenated rows to rounding (1e-12
    relative).  Evaluators `merge` and pickle.

    Parameters
    ----------
    axis, ignore_index, base, topk, calibration_bins, per_class, softcap, temperature, num_threads :
        As in `evaluate`, for every batch.
    keep_rows : bool
        Keep the per-row lse and argmax for `result()`; False keeps memory
        constant over a stream and `result()` has None in those fields.
    """

    def __init__(self, *, axis=-1, ignore_index=-100, base=None, topk=(1,), calibration_bins=None,
                 per_class=False, softcap=None, temperature=1.0, num_threads=None, keep_rows=True):
        self.axis = axis
        self.transform = LogitTransform.of(softcap, temperature)
        self.ignore_index = V.ignore_index(ignore_index)
        self.base = base
        self.k = V.log_base(base)
        self.topk, self.calibration_bins, self.per_class = V.eval_options(topk, calibration_bins, per_class)
        self.num_threads = V.num_threads(num_threads)
        self.keep_rows = bool(keep_rows)
        self.n_classes = None      # fixed by the first batch; later batches and merges must match
        self.sums = np.zeros(6 + sum(1 for q in self.topk if q > 1))
        self._calib = None if self.calibration_bins is None else np.zeros((3, self.calibration_bins))
        self._per = None
        self._confusion = None
        self._lse = []
        self._argmax = []

    def _options(self):
        return (self.topk, self.calibration_bins, self.per_class, self.transform)

    def update(self, logits, labels, sample_weight=None):
        """Add a batch (any number of rows).

        Parameters
        ----------
        logits, labels, sample_weight :
            As in `evaluate`.

        Returns
        -------
        Evaluator
            self.

        Raises
        ------
        ValueError
            And adds nothing, when the batch's class count differs from
            the batches before it (or as `evaluate` raises)."""
        e = evaluate_parts(logits, labels, axis=self.axis, ignore_index=self.ignore_index,
                           sample_weight=sample_weight, topk=self.topk, calibration_bins=self.calibration_bins,
                           per_class=self.per_class, num_threads=self.num_threads, n_classes=self.n_classes,
                           transform=self.transform)
        self.n_classes = e.n_classes
        self.sums += e.sums
        if e.calibration is not None:
            self._calib += e.calibration
        if e.per_class is not None:
            self._per = e.per_class if self._per is None else self._per + e.per_class
        if e.confusion is not None:
            self._confusion = e.confusion if self._confusion is None else self._confusion + e.confusion
        if self.keep_rows:
            self._lse.append(e.lse)
            self._argmax.append(e.argmax)
        return self

    def merge(self, other):
        """Fold another Evaluator's rows into this one (this one's rows
        first); per-row outputs are kept only if both keep them.

        Parameters
        ----------
        other : Evaluator
            With the same options and class count.

        Returns
        -------
        Evaluator
            self."""
        if not isinstance(other, Evaluator):
            raise TypeError(f"can only merge an Evaluator, got {type(other).__name__}")
        if other._options() != self._options() or other.k != self.k:
            raise ValueError("can only merge an Evaluator with the same base, topk, calibration_bins, "
                             "per_class, softcap and temperature options")
        if other.n_classes is not None:
            _check_classes(other.n_classes, self.n_classes, "the merged evaluator")
            self.n_classes = other.n_classes
        self.sums += other.sums
        if self._calib is not None:
            self._calib += other._calib
        for name in ("_per", "_confusion"):
            a, b = getattr(self, name), getattr(other, name)
            if b is not None:
                setattr(self, name, b.copy() if a is None else a + b)
        if self.keep_rows and other.keep_rows:
            self._lse += other._lse
            self._argmax += other._argmax
        else:
            self.keep_rows = False
            self._lse, self._argmax = [], []
        return self

    def result(self):
        """The `Evaluation` of every row seen so far.

        Returns
        -------
        Evaluation
            A snapshot: later updates and merges do not change it."""
        lse = amax = None
        if self.keep_rows:
            lse = np.concatenate([a.reshape(-1) for a in self._lse]) if self._lse else np.empty(0)
            amax = (np.concatenate([a.reshape(-1) for a in self._argmax]) if self._argmax
                    else np.empty(0, np.int64))
        per = self._per
        if self.per_class and per is None:
            per = np.zeros((3, self.n_classes or 0))
        conf_m = self._confusion
        if self.per_class == "confusion" and conf_m is None:
            conf_m = np.zeros((self.n_classes or 0,) * 2)
        return evaluation_from_parts(self.sums, self.topk, self._calib, per, conf_m, k=self.k, base=self.base,
                                     lse=lse, argmax=amax)


def _open_npy(path, what):
    V.npy_file(path, what)
    return np.load(path, mmap_mode="r")


def _is_path(a):
    return isinstance(a, (str, bytes)) or hasattr(a, "__fspath__")


def evaluate_file(logits_path, labels, *, batch_rows=65536, progress=None, binary=False, **options):
    """Evaluate a `.npy` file of logits that may not fit in memory.

    The file is opened with mmap_mode='r' and read `batch_rows` rows at a
    time through an `Evaluator` (a `BinaryEvaluator` with binary=True), so
    memory stays constant.  Both files are checked before any work.

    Parameters
    ----------
    logits_path : str or path-like
        A `.npy` file of 2-D (rows, classes) logits (binary: any shape,
        read along its first axis).
    labels : array_like or str or path-like
        Class indices, one per row (binary: targets of the logits' shape),
        or a `.npy` path (memory-mapped too).
    batch_rows : int
        Rows read per batch.
    progress : bool or callable, optional
        A tqdm progress bar when tqdm is installed: None shows it for runs
        of 8 batches or more, False never; or progress(total) returning a
        function called after each batch.
    binary : bool
        Sigmoid outputs: `evaluate_binary` per element.
    **options
        `Evaluator` (or `BinaryEvaluator`) options.

    Returns
    -------
    Evaluation or BinaryEvaluation
        With lse = argmax = None (per-row outputs are not kept).
    """
    # every check before any work: np.load's own errors on damaged files
    # name neither the file nor the problem
    x = _open_npy(logits_path, "logits")
    y = _open_npy(labels, "labels") if _is_path(labels) else np.asarray(labels)
    V.float_array(x[:0] if x.ndim else x, "logits")
    if binary:
        V.bce_target(y[:0] if y.ndim else y, x[:0].shape if x.ndim else x.shape)
        if y.shape != x.shape:
            raise ValueError(f"targets must have the logits' shape {x.shape}, got {y.shape}")
        ev = BinaryEvaluator(**options)
    else:
        if x.ndim < 2:
            raise ValueError(f"evaluate_file reads (rows, ..., classes) logits of 2 or more dimensions, "
                             f"got shape {x.shape}")
        ax = V.axis_index(options.get("axis", -1), x.ndim)
        if ax == 0:
            raise ValueError("evaluate_file streams the first axis of the logits: the class axis must be another")
        want = x.shape[:ax] + x.shape[ax + 1:]
        if y.shape != want:
            raise ValueError(f"labels must have shape {want} (the logits' shape without axis {ax}), got {y.shape}")
        V.class_labels(y[:0], 1, 0, name="labels")     # the dtype: integer class indices
        ev = Evaluator(keep_rows=False, **options)
    n = x.shape[0] if x.ndim else 1
    batch_rows = V.positive_int(batch_rows, "batch_rows")
    starts = range(0, n, batch_rows)
    tick = None
    if callable(progress):
        tick = progress(len(starts))
    elif progress is not False:
        try:
            from tqdm.auto import tqdm
            starts = tqdm(starts, total=len(starts), unit="batch", disable=progress is None and len(starts) < 8)
        except ImportError:
            pass
    for r0 in starts:
        try:
            if x.ndim:
                ev.update(x[r0:r0 + batch_rows], y[r0:r0 + batch_rows])
            else:
                ev.update(x, y)
        except ValueError as e:              # a bad label: say where in the file it is
            raise ValueError(f"in rows {r0}..{min(r0 + batch_rows, n) - 1} of the file (indices below count "
                             f"from row {r0}): {e}") from None
        if tick:
            tick()
    return ev.result()


# ------------------------------------------------------------------ binary evaluation

class BinaryParts(NamedTuple):
    sums: Any                #: [loss (nats), weight, hits, count, Brier]
    calibration: Any         #: (3, B): weight, probability sum, target sum; or None


def evaluate_binary_parts(logits, targets, *, sample_weight=None, calibration_bins=None, num_threads=None):
    """One validated kernel pass of `evaluate_binary`."""
    x = V.float_array(logits, "logits")
    t = V.bce_target(targets, x.shape)
    _, B, _ = V.eval_options((1,), calibration_bins, False)
    w = V.bce_weight(sample_weight, x.shape, "sample_weight")
    n = x.size
    nt = _threads(num_threads, n)
    xf = V.as_kernel_layout(np.ascontiguousarray(x).reshape(-1), x.dtype)
    tf = V.as_kernel_layout(np.ascontiguousarray(t).reshape(-1), V.partner_dtype(t.dtype, x.dtype))
    wf = None if w is None else np.ascontiguousarray(np.broadcast_to(w, x.shape), dtype=np.float64).reshape(-1)
    # blocks of at least 64 B elements: the per-block histograms stay
    # under 3/8 byte per element whatever B is (the size depends on the
    # shape and B only, so the sums stay independent of the thread count)
    block = max(BLOCK_ELEMS, 64 * (B or 0))
    width = 4 + 3 * (B or 0)
    partial = np.zeros((_nblocks(n, block), width))
    _k.evaluate_binary(xf, tf, weight=wf, bins=B or 0, partial=partial, block=block, nt=nt)
    tot = partial.sum(axis=0) if len(partial) else np.zeros(width)
    sums = np.array([tot[0], tot[3], tot[1], n, tot[2]])   # loss, weight, hits, count, Brier
    calib = tot[4:].reshape(3, B) if B else None
    return BinaryParts(sums, calib)


def binary_evaluation_from_parts(sums, calibration=None, *, k=1.0, base=None):
    lsum, wsum, hits, count, bsum = (float(v) for v in sums[:5])
    mean = (lambda v: v / wsum) if wsum != 0 else (lambda v: 0.0)
    cal = None if calibration is None else _calibration_snapshot(calibration, wsum)
    return BinaryEvaluation(mean(lsum) * k, mean(hits), int(count), mean(bsum), cal,
                            math.e if base is None else float(base))


def evaluate_binary(logits, targets, *, sample_weight=None, base=None, calibration_bins=None, num_threads=None):
    """One pass over sigmoid outputs: loss, accuracy, Brier and calibration
    per element.

    Parameters
    ----------
    logits : array_like, float
        Any shape.
    targets : array_like
        The logits' shape; 0/1 labels or probabilities.
    sample_weight : array_like, optional
        Element weights broadcastable to the logits.
    base : float, optional
        Logarithm base of the loss (None or e: nats, 2: bits).
    calibration_bins : int, optional
        B equal-width bins of p = sigmoid(x), with the observed mean target.
    num_threads : int, optional
        OpenMP threads; default: the OpenMP default.

    Returns
    -------
    BinaryEvaluation
        loss (binary cross-entropy with logits), accuracy of (logit > 0)
        against (target >= 0.5) (a NaN logit is never right), count
        (elements), brier ((p - t)^2),
        calibration, base: each averaged as sum(w m) / sum(w) (0.0 for no
        weight).
    """
    k = V.log_base(base)
    e = evaluate_binary_parts(logits, targets, sample_weight=sample_weight, calibration_bins=calibration_bins,
                              num_threads=num_threads)
    return binary_evaluation_from_parts(e.sums, e.calibration, k=k, base=base)


class BinaryEvaluator:
    """Streaming `evaluate_binary` (update / merge / pickle / result), with
    exact double partials.

    Parameters
    ----------
    base, calibration_bins, num_threads :
        As in `evaluate_binary`.
    """

    def __init__(self, *, base=None, calibration_bins=None, num_threads=None):
        self.base = base
        self.k = V.log_base(base)
        _, self.calibration_bins, _ = V.eval_options((1,), calibration_bins, False)
        self.num_threads = V.num_threads(num_threads)
        self.sums = np.zeros(5)
        self._calib = None if self.calibration_bins is None else np.zeros((3, self.calibration_bins))

    def update(self, logits, targets, sample_weight=None):
        """Add a batch.

        Parameters
        ----------
        logits, targets, sample_weight :
            As in `evaluate_binary`.

        Returns
        -------
        BinaryEvaluator
            self."""
        e = evaluate_binary_parts(logits, targets, sample_weight=sample_weight,
                                  calibration_bins=self.calibration_bins, num_threads=self.num_threads)
        self.sums += e.sums
        if e.calibration is not None:
            self._calib += e.calibration
        return self

    def merge(self, other):
        """Fold another BinaryEvaluator in.

        Parameters
        ----------
        other : BinaryEvaluator
            With the same options.

        Returns
        -------
        BinaryEvaluator
            self."""
        if not isinstance(other, BinaryEvaluator):
            raise TypeError(f"can only merge a BinaryEvaluator, got {type(other).__name__}")
        if other.calibration_bins != self.calibration_bins or other.k != self.k:
            raise ValueError("can only merge a BinaryEvaluator with the same base and calibration_bins")
        self.sums += other.sums
        if self._calib is not None:
            self._calib += other._calib
        return self

    def result(self):
        """The `BinaryEvaluation` of every element seen so far.

        Returns
        -------
        BinaryEvaluation
            A snapshot: later updates and merges do not change it."""
        return binary_evaluation_from_parts(self.sums, self._calib, k=self.k, base=self.base)
