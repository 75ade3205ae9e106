"""Sigmoid binary cross-entropy with its block pass (`bce_parts`), and the
losses of probabilities (cross_entropy, binary_cross_entropy)."""
from typing import Any, NamedTuple

import numpy as np

from . import _kernels as _k
from . import _validate as V
from ._layout import BLOCK_ELEMS, _nblocks, _rows_per_block, _threads, _writable
from ._xent import finish_loss


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
