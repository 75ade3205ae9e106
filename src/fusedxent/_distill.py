"""Knowledge distillation: the divergence between a teacher's softmax and a
student's, with the student's cross-entropy beside it, fused (the
kernels: fx_distill.h).  `distill_options` validates the options once;
`distill_parts` is the block-level pass that the public function calls.

The kernels write each row's divergence and hard cross-entropy in double;
the weighting and the reduction over rows happen here, on N-sized arrays.
"""
from fractions import Fraction
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np

from . import _kernels as _k
from . import _validate as V
from ._options import DIVERGENCES, TAILS, distill_options
from ._teacher import distill_labels, teacher_operand
from ._layout import _logit_rows, _place, _row_output, _rows_per_block, _threads, _writable

_NPOLY = 16                       # FX_DISTILL_NPOLY (the kernels check it)
_SERIES_DEGREE = _NPOLY + 8       # terms formed to bound the truncation


def _series_exp(n):
    """Taylor coefficients of e^r - 1 to degree n (index = power)."""
    c = [Fraction(0)] * (n + 1)
    f = Fraction(1)
    for k in range(1, n + 1):
        f /= k
        c[k] = f
    return c


def _mul(a, b, n):
    out = [Fraction(0)] * (n + 1)
    for i, ai in enumerate(a):
        if ai:
            for j in range(0, n + 1 - i):
                if b[j]:
                    out[i + j] += ai * b[j]
    return out


def _log1p_of(u, n):
    """Coefficients of log(1 + u(r)) for a series u with u(0) = 0."""
    out = [Fraction(0)] * (n + 1)
    p = [Fraction(1)] + [Fraction(0)] * n
    for k in range(1, n + 1):
        p = _mul(p, u, n)
        out = [o + Fraction((-1) ** (k + 1), k) * pk for o, pk in zip(out, p)]
    return out


@lru_cache(maxsize=64)
def _series(divergence, beta):
    """(term coefficients of r^2.., log(M/Q) coefficients of r^1.., tau):
    each row term is Q r^2 sum_k cs[k] r^k for |r| < tau (fx_distill.h),
    tau the largest of 1/4, 1/8, ... at which the first dropped terms stay
    below 1e-17 of the leading one.  Exact rational arithmetic, rounded
    once."""
    n = _SERIES_DEGREE
    em1 = _series_exp(n)
    if divergence == "kl":          # phi(r) = (r - 1) e^r + 1
        full = [Fraction(0)] * (n + 1)
        for k in range(2, n + 1):
            full[k] = Fraction(k - 1) * em1[k]
        logm = [Fraction(0)] * (n + 1)
    elif divergence == "reverse_kl":    # e^r - 1 - r
        full = [Fraction(0)] * 2 + em1[2:]
        logm = [Fraction(0)] * (n + 1)
    else:                           # beta r e^r - m log m, m = 1 + beta (e^r - 1)
        b = Fraction(beta)
        ex = [Fraction(1)] + em1[1:]
        r_ex = [Fraction(0)] + ex[:n]
        u = [b * c for c in em1]
        logm = _log1p_of(u, n)
        m = [Fraction(1)] + u[1:]
        mlogm = _mul(m, logm, n)
        full = [b * a - c for a, c in zip(r_ex, mlogm)]
    cs = full[2:2 + _NPOLY]
    cl = logm[1:1 + _NPOLY]
    tau = 0.25
    lead = abs(float(full[2]))
    while tau > 1e-3:
        tail = sum(abs(float(full[k])) * tau ** (k - 2) for k in range(2 + _NPOLY, n + 1))
        ltail = sum(abs(float(logm[k])) * tau ** (k - 1) for k in range(1 + _NPOLY, n + 1))
        if tail <= 1e-17 * lead and (divergence != "jsd" or ltail <= 1e-17 * abs(float(logm[1]))):
            break
        tau /= 2
    return tuple(float(c) for c in cs), tuple(float(c) for c in cl), tau


def kernel_options(o):
    """The kernels' option struct of a DistillOptions."""
    cs, cl, tau = _series(o.divergence, o.beta)
    return _k.DistillOptions(inv_temperature=1.0 / o.temperature, divergence=DIVERGENCES.index(o.divergence),
                             beta=o.beta, tau=tau, cs=cs, cl=cl)


class DistillParts(NamedTuple):
    """One pass of distillation over a batch (or a block)."""
    loss_sum: float          #: sum of the weighted row losses, in nats
    weight_sum: float        #: the mean's denominator over these rows
    rows: Any                #: per-row losses in units of `base` ("none"), else None
    grad: Any                #: the gradient (want_grad), else None


def distill_parts(student_logits, teacher, options, *, target=None, sample_weight=None, want_grad=False,
                  grad_out=None, grad_denominator=None, num_threads=None):
    """One validated kernel pass: per-row divergences and hard terms, their
    weighted sums and (want_grad) the gradient with respect to the
    student's logits, scaled for `options.reduction` over this batch (or
    over `grad_denominator`, the global mean's denominator)."""
    o = options
    x, ax, x2, mshape = _logit_rows(student_logits, o.axis, "student_logits")
    N, C = x2.shape
    idx_shape = mshape[:-1]
    ind2, t2 = teacher_operand(teacher, x.shape, ax, idx_shape, C)
    sparse = ind2 is not None
    y = distill_labels(target, idx_shape, C, o)
    keep = None if y is None else y != o.ignore_index
    sw = None if sample_weight is None else V.sample_weight(sample_weight, idx_shape)
    if grad_out is not None:
        V.out_array(grad_out, x.shape, x.dtype, "grad_out")
    nt = _threads(num_threads, N * C)
    wide = x.dtype == np.float64 or t2.dtype == np.float64
    kx = V.as_kernel_layout(x2, np.float64) if wide else x2
    kt = V.as_kernel_layout(t2, np.float64 if wide else V.partner_dtype(t2.dtype, x.dtype))
    w = np.ones(N) if sw is None else sw
    if keep is not None:
        w = np.where(keep, w, 0.0)
    denom = float(np.sum(w)) if grad_denominator is None else grad_denominator
    scale = o.k * ((1.0 / denom if denom else 0.0) if o.reduction == "mean" else 1.0)
    labels = None
    if y is not None and o.hard_weight != 0:
        labels = np.where(keep, y, -1)
    g2 = direct = None
    gs = gh = None
    if want_grad:
        # d/dx of soft_weight T^2 D(P, softmax(x / T)) = soft_weight T dD/da
        gs = w * (scale * o.soft_weight * o.temperature)
        gh = w * (scale * o.hard_weight)
        # the kernels may write the gradient over the student's logits, nothing else
        g2 = _writable(_row_output(grad_out, x, ax), (x2, t2, kx, kt), x2) if kx.dtype == x.dtype else None
        direct = g2 is not None
        if g2 is None:
            g2 = np.empty((N, C), kx.dtype)
    if sparse:
        sh = np.empty((N, 2))
        _k.distill_sparse(kx, ind2, kt, options=kernel_options(o), tail=TAILS.index(o.tail), labels=labels,
                          soft_scale=gs, hard_scale=gh, grad_out=g2, rows_out=sh, rows_per_block=_rows_per_block(C),
                          nt=nt)
        soft, hard = sh[:, 0], sh[:, 1]
    else:
        soft = np.empty(N)
        hard = np.empty(N)
        _k.distill(kx, kt, options=kernel_options(o), labels=labels, soft_scale=gs, hard_scale=gh, grad_out=g2,
                   soft_out=soft, hard_out=hard, rows_per_block=_rows_per_block(C), nt=nt)
    with np.errstate(invalid="ignore"):
        rows = o.soft_weight * o.temperature ** 2 * soft
        if labels is not None:
            rows = rows + o.hard_weight * hard
        rows = np.where(w != 0, w * rows, 0.0) if (sw is not None or keep is not None) else rows
    loss_rows = None
    if o.reduction == "none":
        loss_rows = (rows * o.k).astype(x.dtype).reshape(idx_shape)
    grad = None
    if want_grad:
        if direct:
            grad = grad_out
        else:
            grad = _place(g2.astype(x.dtype, copy=False), mshape, ax, grad_out)
    return DistillParts(float(np.sum(rows)), float(np.sum(w)), loss_rows, grad)


def distillation_loss(student_logits, teacher, *, axis=-1, temperature=1.0, divergence="kl", beta=0.5,
                      target=None, hard_weight=0.0, soft_weight=1.0, ignore_index=-100, sample_weight=None,
                      reduction="mean", base=None, tail="bucket", return_grad=False, grad_out=None,
                      num_threads=None):
    """Knowledge-distillation loss of a student against a teacher's logits,
    fused: the divergence, the hard cross-entropy and the gradient in one
    pass per row, every per-row divergence >= 0 and exact to its last
    digits for a student close to its teacher.

    Parameters
    ----------
    student_logits : array_like, float
        The student's class scores; the class axis is `axis`.
    teacher : array_like, float, or SparseTeacher
        The teacher's logits, the student's shape (float16, bfloat16,
        float32, float64; a memmap is fine); or its top-k class ids and
        log-probabilities (`SparseTeacher`).
    axis : int
        The class axis.
    temperature : float > 0
        P = softmax(teacher / T), Q = softmax(student / T); the divergence
        is multiplied by T**2 (Hinton et al. 2015).
    divergence : {"kl", "reverse_kl", "jsd"}
        KL(P||Q) (forward), KL(Q||P), or the generalized Jensen-Shannon
        divergence beta KL(P||M) + (1 - beta) KL(Q||M), M = beta P + (1 - beta) Q.
    beta : float in (0, 1)
        The Jensen-Shannon weight (0.5: symmetric); used by "jsd" only.
    target : array_like of int, optional
        Class indices (the logits' shape without `axis`) for the hard term:
        the student's cross-entropy at temperature 1.  Rows whose target is
        `ignore_index` count for neither term nor the mean's denominator.
    hard_weight, soft_weight : float >= 0
        Per row: hard_weight * hard + soft_weight * T**2 * divergence.
    ignore_index : int
    sample_weight : array_like, optional
        Per-row weights, shape of the logits without `axis`.
    reduction : {"mean", "sum", "none"}
        "mean": the weighted mean over counted rows (PyTorch's
        "batchmean" per row, with weights); 0.0 when no row counts.
        "none": the weighted row losses, 0 for ignored rows.
    base : float, optional
        Logarithm base of the result (None or e: nats, 2: bits).
    tail : {"bucket", "renormalize"}
        A sparse teacher: the divergence between the distributions coarsened
        to the k classes plus one bucket holding the rest of each (exact for
        those, never above the full divergence), or between both
        renormalized over the k classes.
    return_grad : bool
        Also return d(loss)/d(student_logits) from the same pass.
    grad_out : ndarray, optional
        Receives the gradient (the student's shape and dtype); may be
        `student_logits`.
    num_threads : int, optional
        OpenMP threads (1..1024); default: the OpenMP default.

    Returns
    -------
    loss : float (mean, sum) or ndarray of the student's dtype (none)
    grad : ndarray, only with return_grad

    Notes
    -----
    With r_j = log(P_j / Q_j), each divergence is summed from per-class
    terms that are never negative: KL(P||Q) = sum_j Q_j ((r_j - 1) e^r_j + 1),
    KL(Q||P) = sum_j Q_j (e^r_j - 1 - r_j), the Jensen-Shannon divergence
    sum_j Q_j G(r_j) with G >= 0 by Jensen's inequality; a row equal to its
    teacher gives exactly 0.  The usual form sum_j P_j (b_j - a_j) minus the
    difference of the log-sum-exps cancels to rounding noise (and below 0)
    for students close to their teachers.
    """
    o = distill_options(axis=axis, temperature=temperature, divergence=divergence, beta=beta,
                        hard_weight=hard_weight, soft_weight=soft_weight, ignore_index=ignore_index,
                        reduction=reduction, base=base, tail=tail)
    parts = distill_parts(student_logits, teacher, o, target=target, sample_weight=sample_weight,
                          want_grad=return_grad, grad_out=grad_out, num_threads=num_threads)
    if o.reduction == "none":
        loss = parts.rows
    elif o.reduction == "sum":
        loss = parts.loss_sum * o.k
    else:
        loss = parts.loss_sum / parts.weight_sum * o.k if parts.weight_sum != 0 else 0.0
    return (loss, parts.grad) if return_grad else loss
