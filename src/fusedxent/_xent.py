"""Softmax cross-entropy: the public function and its block-level pass
(`softmax_xent_parts`, `finish_loss`, `xent_denominator`), which
fusedxent.dask and the linear head call per block."""
from typing import Any, NamedTuple

import numpy as np

from . import _kernels as _k
from . import _validate as V
from ._layout import (BLOCK_ELEMS, _FAST_DTYPES, _INT64, _logit_rows, _nblocks, _place, _row_output,
                      _rows_per_block, _threads, _writable)
from ._options import xent_options
from ._results import RowStats


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
