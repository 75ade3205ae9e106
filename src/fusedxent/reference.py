"""Pure-NumPy reference implementation of every public function.

Same signatures and semantics as the compiled API; it is the oracle of the
tests, of `fusedxent.check()` and of the benchmarks.  Written for clarity
and numerical stability, not speed: everything is computed in float64 with
the same stable formulas the kernels use (log-sum-exp through
m + log1p(s) with one maximum term taken out of s, softplus-form BCE,
sign-branched sigmoid), and then cast to the dtype the API returns.
It never imports the kernels.
"""
import math

import numpy as np

from . import _validate as V
from ._calibration import LOGIT_SPAN as _LOGIT_SPAN
from ._calibration import roc_bins as _roc_bins
from ._calibration import roc_edges as _roc_edges
from ._calibration import strategy as _calibration_strategy
from ._options import LogitTransform, distill_options, xent_options
from ._teacher import SparseTeacher, dense_rows, distill_labels, sparse_rows, teacher_operand
from ._results import (ROC, BinaryEvaluation, Calibration, Classwise, Evaluation, LinearGrads, OneVsRest,  # noqa: F401
                       PerClass, RowStats, TemperatureFit)


# ------------------------------------------------------------------ helpers

def _row_parts(x2):
    """For 2-D float64 rows: m, s (sum of exp(x - m) less one max term),
    l = log1p(s), and the row kind (finite max or not)."""
    with np.errstate(invalid="ignore", over="ignore"):
        m = x2.max(axis=1) if x2.shape[1] else np.full(x2.shape[0], -np.inf)
        finite = np.isfinite(m)
        mm = np.where(finite, m, 0.0)[:, None]
        e = np.exp(x2 - mm)
        eq = x2 == mm
        s = np.where(eq, 0.0, e).sum(axis=1) + (eq.sum(axis=1) - 1.0)
        l = np.log1p(np.where(finite, s, 0.0))
    return m, s, l, finite


def _lse(x2):
    m, s, l, finite = _row_parts(x2)
    return np.where(finite, m + l, m)   # non-finite max: lse is that max


def _softmax2(x2):
    m, s, l, finite = _row_parts(x2)
    with np.errstate(invalid="ignore", over="ignore"):
        p = np.exp(x2 - np.where(finite, m, 0.0)[:, None]) / (1.0 + s)[:, None]
    p[~finite] = np.nan
    return p, m, s, l, finite


def _log_softmax2(x2):
    m, s, l, finite = _row_parts(x2)
    with np.errstate(invalid="ignore"):
        r = (x2 - m[:, None]) - l[:, None]
    r[~finite] = np.nan
    return r


def _rows(x, axis, name="x", allow_empty=False):
    x = V.float_array(x, name, allow_0d=False)
    ax = V.axis_index(axis, x.ndim)
    if x.shape[ax] == 0 and not allow_empty:
        raise ValueError(f"{name} has zero classes along axis {axis}")
    x2, mshape = V.rows_view(x, ax)
    return x, ax, x2.astype(np.float64), mshape


def _back(res2, x, ax, mshape, dtype):
    return np.ascontiguousarray(np.moveaxis(res2.reshape(mshape), -1, ax)).astype(dtype, copy=False)


def _finish(out, res):
    if out is None:
        return res
    np.copyto(out, res)
    return out


# ------------------------------------------------------------------ normalizers

def sigmoid(x, *, out=None, num_threads=None):
    """sigmoid(x) = 1/(1+exp(-x)), branched on the sign so exp never overflows."""
    x = V.float_array(x, "x")
    V.num_threads(num_threads)
    if out is not None:
        V.out_array(out, x.shape, x.dtype, "out")
    v = x.astype(np.float64)
    e = np.exp(-np.abs(v))
    res = np.where(v >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype)
    return _finish(out, res)


def log_sigmoid(x, *, out=None, num_threads=None):
    """log sigmoid(x) = ``min(x, 0) - log1p(exp(-|x|))``."""
    x = V.float_array(x, "x")
    V.num_threads(num_threads)
    if out is not None:
        V.out_array(out, x.shape, x.dtype, "out")
    v = x.astype(np.float64)
    res = (np.minimum(v, 0.0) - np.log1p(np.exp(-np.abs(v)))).astype(x.dtype)
    return _finish(out, res)


def softmax(x, axis=-1, *, out=None, num_threads=None):
    """exp(x - logsumexp(x)) along axis; no classes: an empty array."""
    x, ax, x2, mshape = _rows(x, axis, allow_empty=True)
    V.num_threads(num_threads)
    if out is not None:
        V.out_array(out, x.shape, x.dtype, "out")
    p = _softmax2(x2)[0]
    return _finish(out, _back(p, x, ax, mshape, x.dtype))


def log_softmax(x, axis=-1, *, out=None, num_threads=None):
    """(x - max) - log1p(s) along axis; no classes: an empty array."""
    x, ax, x2, mshape = _rows(x, axis, allow_empty=True)
    V.num_threads(num_threads)
    if out is not None:
        V.out_array(out, x.shape, x.dtype, "out")
    return _finish(out, _back(_log_softmax2(x2), x, ax, mshape, x.dtype))


def logsumexp(x, axis=-1, *, num_threads=None):
    """m + log1p(s) along axis; no classes: -inf, the log of an empty sum."""
    x, ax, x2, mshape = _rows(x, axis, allow_empty=True)
    V.num_threads(num_threads)
    return _lse(x2).reshape(mshape[:-1]).astype(x.dtype)


# ------------------------------------------------------------------ losses from logits

def _reduce(rows, denom, reduction, k, dtype, shape):
    if reduction == "none":
        return (rows * k).reshape(shape).astype(dtype)
    total = float(np.sum(rows))
    if reduction == "sum":
        return total * k
    return total / denom * k if denom != 0 else 0.0


def _focal_rows(x2, c, alpha, gamma, z, m, l, lse, finite):
    """Focal loss rows and gradient (w.r.t. x2) from the class coefficients
    c (N, C) = class weight x target, element by element in float64:
    sum_j c_j a_j q_j^g L_j + z lse^2 with L_j = lse - x_j, q_j = 1 - p_j."""
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        L = (np.where(finite, m, 0.0)[:, None] - x2) + l[:, None]
        q = -np.expm1(-L)
        p = np.exp(-L)
        qg = q ** gamma if gamma else np.ones_like(q)
        ca = c * alpha[None, :]
        rows = np.where(ca == 0, 0.0, ca * qg * L).sum(axis=1) + z * lse * lse
        ratio = np.where(q > 0, L / q, 1.0)
        g = qg * (1.0 + np.where(p > 0, gamma * p * ratio, 0.0))
        G = np.where(ca == 0, 0.0, ca * g)
        # (G_tot + 2 z lse) p_k - G_k with p_k - 1 = -q_k kept exact (a
        # confident class's p_k rounds to 1)
        grad = ((G.sum(axis=1) + 2 * z * lse)[:, None] - G) * p - G * q
    return np.where(finite, rows, np.nan), grad


def softmax_cross_entropy(logits, target, *, axis=-1, weight=None, sample_weight=None,
                          ignore_index=-100, label_smoothing=0.0, reduction="mean",
                          base=None, z_loss=0.0, softcap=None, temperature=1.0, gamma=0.0, alpha=None,
                          return_grad=False, grad_out=None, num_threads=None):
    o = xent_options(axis=axis, weight=weight, ignore_index=ignore_index, label_smoothing=label_smoothing,
                     reduction=reduction, base=base, z_loss=z_loss, softcap=softcap, temperature=temperature,
                     gamma=gamma, alpha=alpha)
    x, ax, x2, mshape = _rows(logits, axis, "logits")
    dtype = x.dtype
    C = mshape[-1]
    idx_shape = mshape[:-1]
    reduction, k, eps, z, ignore_index = o.reduction, o.k, o.label_smoothing, o.z_loss, o.ignore_index
    V.num_threads(num_threads)
    kind, t = V.target_kind(target, x.shape, idx_shape, ax)
    w = o.class_weight(C)
    av = o.class_alpha(C)
    dz = None
    if not o.transform.identity:
        x2, dz = o.transform.apply(x2)
    sw = None if sample_weight is None else V.sample_weight(sample_weight, idx_shape)
    if grad_out is not None:
        V.out_array(grad_out, x.shape, dtype, "grad_out")
    N = x2.shape[0]
    s_i = np.ones(N) if sw is None else sw
    wv = np.ones(C) if w is None else w
    W = wv.sum()
    p, m, s, l, finite = _softmax2(x2)
    lse = np.where(finite, m + l, m)
    mm = np.where(finite, m, 0.0)[:, None]
    with np.errstate(invalid="ignore", over="ignore"):
        if kind == "index":
            y = V.class_labels(t, C, ignore_index)
            keep = y != ignore_index
            yy = np.where(keep, y, 0)
            xy = x2[np.arange(N), yy]
            wy = wv[yy]
            nll = (m - xy) + l
            rows = wy * (1 - eps) * nll
            if eps:
                rows = rows + eps / C * (np.where(wv == 0, 0.0, wv * (mm - x2)).sum(axis=1) + W * l)
            if z:
                rows = rows + z * lse * lse
            if o.focal:
                c = wv * ((1 - eps) * (np.arange(C) == yy[:, None]) + eps / C)
                rows, fgrad = _focal_rows(x2, c, np.ones(C) if av is None else av, o.gamma, z, m, l, lse, finite)
            rows = np.where(finite, rows, np.nan)
            rows = np.where(keep, s_i * rows, 0.0)
            denom = float(np.sum(np.where(keep, s_i * wy, 0.0)))
        else:
            tt = np.moveaxis(t, ax, -1).reshape(-1, C).astype(np.float64)
            c = wv * (tt * (1 - eps) + eps / C)
            T = c.sum(axis=1)
            rows = np.where(c == 0, 0.0, c * (mm - x2)).sum(axis=1) + T * l
            if z:
                rows = rows + z * lse * lse
            if o.focal:
                rows, fgrad = _focal_rows(x2, c, np.ones(C) if av is None else av, o.gamma, z, m, l, lse, finite)
            rows = s_i * np.where(finite, rows, np.nan)
            keep = np.ones(N, bool)
            denom = float(np.sum(s_i))
    loss = _reduce(rows, denom, reduction, k, dtype, idx_shape)
    if not return_grad:
        return loss
    g_scale = k * (1.0 / denom if denom != 0 else 0.0) if reduction == "mean" else k
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        if kind == "index":
            A = wy * (1 - eps) + eps / C * W + 2 * z * lse
            g = A[:, None] * p - eps / C * wv[None, :]
            S = 1.0 + s
            py = np.exp(xy - mm[:, 0]) / S
            pym1 = np.where(xy == m, -s / S, py - 1.0)
            g[np.arange(N), yy] = (wy * (1 - eps) * pym1 + (eps / C * W + 2 * z * lse) * py
                                   - eps / C * wv[yy])
            g = np.where(keep[:, None], g, 0.0)
        else:
            g = (T + 2 * z * lse)[:, None] * p - c
        if o.focal:
            g = np.where(keep[:, None], fgrad, 0.0)
        g[keep & ~finite] = np.nan
        g = g * (s_i * g_scale)[:, None]
        if dz is not None:
            g = g * dz
    g = _back(g, x, ax, mshape, dtype)
    if grad_out is not None:
        np.copyto(grad_out, g)
        g = grad_out
    return loss, g


def sigmoid_binary_cross_entropy(logits, target, *, weight=None, pos_weight=None,
                                 label_smoothing=0.0, gamma=0.0, alpha=None,
                                 reduction="mean", base=None, return_grad=False,
                                 grad_out=None, num_threads=None):
    x = V.float_array(logits, "logits")
    dtype = x.dtype
    t = V.bce_target(target, x.shape)
    reduction = V.reduction(reduction)
    k = V.log_base(base)
    eps = V.unit_interval(label_smoothing, "label_smoothing")
    gamma = V.nonneg(gamma, "gamma")
    if alpha is not None:
        alpha = V.unit_interval(alpha, "alpha")
    V.num_threads(num_threads)
    w = V.bce_weight(weight, x.shape, "weight")
    pw = V.pos_weight(pos_weight, x.shape)
    if grad_out is not None:
        V.out_array(grad_out, x.shape, dtype, "grad_out")
    v = x.astype(np.float64)
    tt = t.astype(np.float64) * (1 - eps) + eps / 2
    c1 = tt * (1.0 if pw is None else pw)
    c0 = 1.0 - tt
    sp_pos = np.logaddexp(0.0, v)    # softplus(x)  = -log(1 - sigmoid(x))
    sp_neg = np.logaddexp(0.0, -v)   # softplus(-x) = -log sigmoid(x)
    with np.errstate(invalid="ignore"):
        ce = np.where(c1 == 0, 0.0, c1 * sp_neg) + np.where(c0 == 0, 0.0, c0 * sp_pos)
    sig = sigmoid(v)
    sig_neg = sigmoid(-v)
    dce = c0 * sig - c1 * sig_neg
    if gamma != 0.0 or alpha is not None:
        # torchvision's sigmoid_focal_loss: ce * (1 - p_t)^gamma * alpha_t with
        # 1 - p_t = t sigmoid(-x) + (1-t) sigmoid(x), taken in log space
        with np.errstate(divide="ignore"):
            log_q = np.logaddexp(np.log(tt) - sp_pos, np.log1p(-tt) - sp_neg)
        mod = np.exp(gamma * log_q)
        # d(1 - p_t)/dx / (1 - p_t) = (1 - 2t) sigmoid(x) sigmoid(-x) / q
        with np.errstate(invalid="ignore"):
            # where q underflows to 0 the factor q^gamma is 0 and so is this term
            dlogq = np.where(np.isneginf(log_q), 0.0, (1 - 2 * tt) * np.exp(-sp_pos - sp_neg - log_q))
        a_t = 1.0 if alpha is None else alpha * tt + (1 - alpha) * (1 - tt)
        with np.errstate(invalid="ignore"):   # ce = inf where q' = 0: the limit of the product is 0
            dce = a_t * mod * (dce + np.where(dlogq == 0, 0.0, gamma * ce * dlogq))
        ce = a_t * mod * ce
    wt = 1.0 if w is None else w
    with np.errstate(invalid="ignore"):
        rows = np.where(np.broadcast_to(wt, ce.shape) == 0, 0.0, wt * ce)
    n = rows.size
    loss = _reduce(rows.reshape(-1), n, reduction, k, dtype, x.shape)
    if not return_grad:
        return loss
    g_scale = k * (1.0 / n if n else 0.0) if reduction == "mean" else k
    g = (g_scale * wt * dce).astype(dtype)
    g = np.broadcast_to(g, x.shape)
    if grad_out is not None:
        np.copyto(grad_out, g)
        return loss, grad_out
    return loss, np.ascontiguousarray(g)


# ------------------------------------------------------------------ losses from probabilities

def cross_entropy(p, q, *, axis=-1, base=None, eps="auto", reduction="mean"):
    """H(p, q) = -sum_c p_c log(clip(q_c, eps, 1 - eps)) along `axis`, 0 log 0 = 0."""
    p = V.float_array(p, "p", allow_0d=False)
    q = V.float_array(q, "q", allow_0d=False)
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same shape, got {p.shape} and {q.shape}")
    ax = V.axis_index(axis, q.ndim)
    reduction = V.reduction(reduction)
    k = V.log_base(base)
    dtype = V.common_float(p.dtype, q.dtype)
    e = V.clip_eps(eps, q.dtype)     # q's own dtype (scikit-learn's log_loss)
    qc = np.clip(q.astype(np.float64), e, 1 - e)
    pp = p.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        terms = np.where(pp == 0, 0.0, pp * np.log(qc))
    rows = -np.moveaxis(terms, ax, -1).sum(axis=-1)
    idx_shape = rows.shape
    return _reduce(rows.reshape(-1), rows.size, reduction, k, dtype, idx_shape)


def binary_cross_entropy(prob, target, *, weight=None, base=None, eps="auto", reduction="mean"):
    """-(t log p + (1-t) log(1-p)) per element, p clipped to [eps, 1-eps]."""
    pr = V.float_array(prob, "prob")
    t = V.bce_target(target, pr.shape)
    reduction = V.reduction(reduction)
    k = V.log_base(base)
    e = V.clip_eps(eps, pr.dtype)
    w = V.bce_weight(weight, pr.shape, "weight")
    pc = np.clip(pr.astype(np.float64), e, 1 - e)
    tt = t.astype(np.float64)
    with np.errstate(invalid="ignore"):
        l = -(np.where(tt == 0, 0.0, tt * np.log(pc)) + np.where(tt == 1, 0.0, (1 - tt) * np.log1p(-pc)))
        if w is not None:
            l = np.where(np.broadcast_to(w, l.shape) == 0, 0.0, w * l)
    return _reduce(l.reshape(-1), l.size, reduction, k, pr.dtype, pr.shape)


# ------------------------------------------------------------------ evaluation

def _calibration(conf, hit, w, B, total, strategy="uniform"):
    """Equal-width bins on [0, 1] of finite confidences, the last bin
    closed; or ("quantile") equal-mass bins, exactly: the rows sorted by
    confidence, interior edge k the smallest confidence whose cumulative
    weight reaches k W / B (the weighted inverted-CDF quantile), a
    confidence equal to an edge in the bin below it."""
    ok = np.isfinite(conf)
    if _calibration_strategy(strategy) == "quantile":
        c, ww = conf[ok], w[ok]
        order = np.argsort(c, kind="stable")
        cum = np.cumsum(ww[order])
        inner = np.empty(max(B - 1, 0))
        if len(c):
            at = np.searchsorted(cum, cum[-1] * np.arange(1, B) / B, side="left")
            inner = c[order][np.minimum(at, len(c) - 1)]
        b = np.searchsorted(inner, c, side="left")
        edges = np.concatenate([[0.0], inner, [1.0]])
    else:
        b = np.minimum(np.floor(conf[ok] * B).astype(np.int64), B - 1)
        edges = np.linspace(0.0, 1.0, B + 1)
    return Calibration(edges, np.bincount(b, w[ok], B), np.bincount(b, (w * conf)[ok], B),
                       np.bincount(b, (w * hit)[ok], B), total)


def evaluate(logits, labels, *, axis=-1, ignore_index=-100, sample_weight=None, base=None, topk=(1,),
             calibration_bins=None, calibration_strategy="uniform", classwise_bins=None, per_class=False,
             roc_bins=None, softcap=None, temperature=1.0, num_threads=None):
    """Every metric of `evaluate` from the softmax in float64, row by row."""
    tf = LogitTransform.of(softcap, temperature)
    x, ax, x2, mshape = _rows(logits, axis, "logits")
    if not tf.identity:
        x2 = tf.apply(x2)[0]
    C = mshape[-1]
    idx_shape = mshape[:-1]
    ignore_index = V.ignore_index(ignore_index)
    k = V.log_base(base)
    ks, B, pc = V.eval_options(topk, calibration_bins, per_class, C)
    _calibration_strategy(calibration_strategy)
    if classwise_bins is not None:
        CB = V.positive_int(classwise_bins, "classwise_bins")
        if CB > 1024:
            raise ValueError(f"classwise_bins must be at most 1024, got {CB}")
        if C > 4096:
            raise ValueError(f"classwise_bins needs at most 4096 classes (C x B bins per class and block), got {C}")
    if roc_bins is not None:
        R = _roc_bins(roc_bins)
        if C > 1024 or C * R > 1 << 22:
            raise ValueError(f"roc_bins (one-vs-rest AUROC) needs at most 1024 classes and classes x roc_bins "
                             f"<= {1 << 22}, got {C} classes and {R} bins")
    V.num_threads(num_threads)
    y = V.class_labels(labels, C, ignore_index, name="labels")
    if y.size != x2.shape[0]:
        raise ValueError(f"labels must have shape {tuple(idx_shape)}, got {np.shape(labels)}")
    N = x2.shape[0]
    sw = np.ones(N) if sample_weight is None else V.sample_weight(sample_weight, idx_shape)
    m, s, l, finite = _row_parts(x2)
    lse = np.where(finite, m + l, m)
    amax = np.argmax(x2, axis=1)
    keep = y != ignore_index
    nanrow = np.isnan(x2).any(axis=1)
    yy = np.where(keep, y, 0)
    rows_i = np.arange(N)
    xy = x2[rows_i, yy]
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        p = np.exp(x2 - np.where(finite, m, 0.0)[:, None]) / (1.0 + s)[:, None]
        p[~finite] = np.nan
        loss_r = np.where(finite, (m - xy) + l, np.nan)
        # Brier: the label's term as (1 - p_y)^2 with 1 - p_y = s / (1 + s) when
        # x_y is the maximum (p_y rounds to 1 for a confident row); entropy
        # as l + sum_j p_j (m - x_j), two sums of terms >= 0
        isy = np.arange(C) == yy[:, None]
        q = np.where(xy == m, s / (1.0 + s), 1.0 - p[rows_i, yy])
        brier_r = np.sum(np.where(isy, 0.0, p * p), axis=1) + q * q
        ent_r = l + np.sum(np.where(p > 0, p * (np.where(finite, m, 0.0)[:, None] - x2), 0.0), axis=1)
        ent_r[~finite] = np.nan
        brier_r[~finite] = np.nan
        # rank: logits above the label's, and ties before it (NaN rows: never in any top k)
        rank = np.sum(x2 > xy[:, None], axis=1) + np.sum((x2 == xy[:, None]) & (np.arange(C) < yy[:, None]), axis=1)
    rank = np.where(nanrow, C, rank)
    hit = keep & ~nanrow & (amax == y)
    w = np.where(keep, sw, 0.0)
    wsum = float(np.sum(w))
    mean = (lambda v: float(np.sum((w * v)[keep])) / wsum) if wsum != 0 else (lambda v: 0.0)
    topk_acc = {q: mean((rank < q) & ~nanrow) for q in ks}
    cal = _calibration(np.where(keep, 1.0 / (1.0 + s), np.nan), hit, w, B, wsum, calibration_strategy) if B else None
    per = None
    if pc:
        valid = keep & ~nanrow
        conf_m = None
        if pc == "confusion":
            conf_m = np.bincount(y[valid] * C + amax[valid], w[valid], C * C).reshape(C, C)
        per = PerClass(np.bincount(y[keep], w[keep], C), np.bincount(amax[valid], w[valid], C),
                       np.bincount(y[hit], w[hit], C), conf_m)
    cws = None
    if classwise_bins is not None:
        # every class's p_j binned over the counted rows with a finite maximum
        ok = keep & finite
        pk, wk = p[ok], w[ok]
        b = np.minimum(np.floor(pk * CB).astype(np.int64), CB - 1) + CB * np.arange(C)
        wb = np.broadcast_to(wk[:, None], pk.shape)
        freq = (np.arange(C) == y[ok][:, None]) * wb
        cws = Classwise(np.linspace(0.0, 1.0, CB + 1), np.bincount(b.ravel(), wb.ravel(), C * CB).reshape(C, CB),
                        np.bincount(b.ravel(), (wb * pk).ravel(), C * CB).reshape(C, CB),
                        np.bincount(b.ravel(), freq.ravel(), C * CB).reshape(C, CB), wsum)
    ovr = None
    if roc_bins is not None:
        # every class's score over the counted rows with a finite lse: log p_j
        # up to p_j = 1/2, -log(4 (1 - p_j)) above (1 - p of the top class
        # from s), in R bins of [-LOGIT_SPAN, LOGIT_SPAN]
        ok = keep & finite & np.isfinite(lse)
        pk, wk, sk = p[ok], w[ok], s[ok]
        top = np.arange(C) == amax[ok][:, None]
        with np.errstate(divide="ignore"):
            q = np.where(top, (sk / (1.0 + sk))[:, None], 1.0 - pk)
            g = np.where(pk <= 0.5, np.log(pk), -np.log(4.0 * q))
        b = np.clip(np.floor((g + _LOGIT_SPAN) * (R / (2.0 * _LOGIT_SPAN))), 0, R - 1).astype(np.int64)
        b += R * np.arange(C)
        wb = np.broadcast_to(wk[:, None], pk.shape)
        isy = np.arange(C) == y[ok][:, None]
        ovr = OneVsRest(_roc_edges(R), np.bincount(b.ravel(), (wb * isy).ravel(), C * R).reshape(C, R),
                        np.bincount(b.ravel(), (wb * ~isy).ravel(), C * R).reshape(C, R))
    return Evaluation(mean(loss_r) * k, mean(hit), int(keep.sum()), lse.reshape(idx_shape).astype(x.dtype),
                      amax.reshape(idx_shape).astype(np.int64), topk_acc, mean(brier_r), mean(ent_r) * k,
                      cal, per, math.e if base is None else float(base), cws, ovr)


def evaluate_binary(logits, targets, *, sample_weight=None, base=None, calibration_bins=None,
                    calibration_strategy="uniform", roc_bins=None, num_threads=None):
    """evaluate_binary in float64: BCE, accuracy, Brier, calibration per element."""
    x = V.float_array(logits, "logits")
    t = V.bce_target(targets, x.shape).astype(np.float64)
    k = V.log_base(base)
    _, B, _ = V.eval_options((1,), calibration_bins, False)
    _calibration_strategy(calibration_strategy)
    V.num_threads(num_threads)
    w = V.bce_weight(sample_weight, x.shape, "sample_weight")
    w = np.ones(x.shape) if w is None else np.broadcast_to(w, x.shape).astype(np.float64)
    v = x.astype(np.float64)
    with np.errstate(invalid="ignore"):
        loss = np.where(t == 0, 0.0, t * np.logaddexp(0.0, -v)) + np.where(t == 1, 0.0, (1 - t) * np.logaddexp(0.0, v))
        loss = np.where(w == 0, 0.0, w * loss)
    p = sigmoid(v)
    hit = (((v > 0) == (t >= 0.5)) & ~np.isnan(v)).astype(np.float64)   # a NaN logit is never right
    wsum = float(np.sum(w))
    mean = (lambda a: float(np.sum(a)) / wsum) if wsum != 0 else (lambda a: 0.0)
    cal = _calibration(p.reshape(-1), t.reshape(-1), w.reshape(-1), B, wsum, calibration_strategy) if B else None
    roc = None
    if roc_bins is not None:
        # R equal-width bins of the logit on [-LOGIT_SPAN, LOGIT_SPAN], the outer bins open
        R = _roc_bins(roc_bins)
        vf, tf_, wf = v.reshape(-1), t.reshape(-1), w.reshape(-1)
        ok = ~np.isnan(vf)
        b = np.clip(np.floor((vf[ok] + _LOGIT_SPAN) * (R / (2.0 * _LOGIT_SPAN))), 0, R - 1).astype(np.int64)
        roc = ROC(_roc_edges(R), np.bincount(b, (wf * tf_)[ok], R),
                  np.bincount(b, (wf * (1 - tf_))[ok], R))
    return BinaryEvaluation(mean(loss) * k, mean(w * hit), int(x.size), mean(w * (p - t) ** 2), cal,
                            math.e if base is None else float(base), roc)


def _rounded_inputs(h2, W, compute_dtype):
    """hidden and weight as the products see them: rounded to bfloat16
    values for compute_dtype="bfloat16", else as given (the weight keeps
    its dtype for the gradient's)."""
    V.check_compute_dtype(compute_dtype, W.dtype)
    if compute_dtype != "bfloat16":
        return h2, W
    return V.bf16_round(h2), V.bf16_round(W).astype(W.dtype)


def _linear_logits(h2, W, b):
    """(hidden, weight, logits) of a linear layer, materialized in float64."""
    h64, W64 = h2.astype(np.float64), W.astype(np.float64)
    return h64, W64, h64 @ W64.T + (0.0 if b is None else b.astype(np.float64))


def _linear_grads(g, h64, W64, W, b, hshape, hdtype):
    """LinearGrads from the logits' gradient g: the chain rule through the layer."""
    g = np.asarray(g, np.float64)
    return LinearGrads((g @ W64).reshape(hshape).astype(hdtype), (g.T @ h64).astype(W.dtype),
                       None if b is None else g.sum(axis=0).astype(b.dtype))


def linear_cross_entropy(hidden, linear_weight, target, *, linear_bias=None, weight=None,
                                   sample_weight=None, ignore_index=-100, label_smoothing=0.0, reduction="mean",
                                   base=None, z_loss=0.0, softcap=None, temperature=1.0, gamma=0.0, alpha=None,
                                   return_grad=False, return_stats=False, chunk_size=None, num_threads=None,
                                   compute_dtype=None):
    """The oracle: the logits materialized in float64, then the reference
    softmax_cross_entropy and the chain rule through the linear layer;
    compute_dtype="bfloat16" rounds hidden and weight to bfloat16 first
    (the gradient's own rounding in the bfloat16 products is not
    modelled: this is the exact result for the rounded inputs)."""
    h2, W, y, b, dt, hshape, hdtype = V.linear_operands(hidden, linear_weight, target, linear_bias)
    h2, W = _rounded_inputs(h2, W, compute_dtype)
    if chunk_size is not None:
        V.positive_int(chunk_size, "chunk_size")
    V.num_threads(num_threads)
    h64, W64, logits = _linear_logits(h2, W, b)
    out = softmax_cross_entropy(logits, y.reshape(-1), weight=weight,
                                  sample_weight=None if sample_weight is None else np.reshape(sample_weight, -1),
                                  ignore_index=ignore_index, label_smoothing=label_smoothing, reduction=reduction,
                                  base=base, z_loss=z_loss, softcap=softcap, temperature=temperature,
                                  gamma=gamma, alpha=alpha, return_grad=return_grad)
    loss, g = (out if return_grad else (out, None))
    if reduction == "none":
        loss = np.asarray(loss).reshape(hshape[:-1]).astype(hdtype)
    res = [loss]
    if return_grad:
        res.append(_linear_grads(g, h64, W64, W, b, hshape, hdtype))
    if return_stats:
        z = LogitTransform.of(softcap, temperature).apply(logits)[0]
        m, s, l, finite = _row_parts(z)
        with np.errstate(invalid="ignore", over="ignore"):
            p = np.exp(z - np.where(finite, m, 0.0)[:, None]) / (1.0 + s)[:, None]
            ent = l + np.sum(np.where(p > 0, p * (np.where(finite, m, 0.0)[:, None] - z), 0.0), axis=1)
        ent = np.where(finite, ent, np.nan)
        shp = hshape[:-1]
        res.append(RowStats(np.where(finite, m + l, m).reshape(shp), ent.reshape(shp),
                            np.argmax(z, axis=1).reshape(shp)))
    return res[0] if len(res) == 1 else tuple(res)


def linear_evaluate(hidden, linear_weight, labels, *, linear_bias=None, ignore_index=-100, sample_weight=None,
                    base=None, topk=(1,), calibration_bins=None, calibration_strategy="uniform", classwise_bins=None,
                    per_class=False, roc_bins=None, softcap=None, temperature=1.0, chunk_size=None, num_threads=None,
                    compute_dtype=None):
    """The oracle: the logits materialized in float64, then the reference
    evaluate (compute_dtype as in linear_cross_entropy)."""
    h2, W, y, b, dt, hshape, hdtype = V.linear_operands(hidden, linear_weight, labels, linear_bias)
    h2, W = _rounded_inputs(h2, W, compute_dtype)
    if chunk_size is not None:
        V.positive_int(chunk_size, "chunk_size")
    logits = h2.astype(np.float64) @ W.astype(np.float64).T + (0.0 if b is None else b.astype(np.float64))
    r = evaluate(logits, np.reshape(y, -1), ignore_index=ignore_index,
                 sample_weight=None if sample_weight is None else np.reshape(sample_weight, -1), base=base,
                 topk=topk, calibration_bins=calibration_bins, calibration_strategy=calibration_strategy,
                 classwise_bins=classwise_bins, per_class=per_class, roc_bins=roc_bins, softcap=softcap,
                 temperature=temperature, num_threads=num_threads)
    return r._replace(lse=r.lse.reshape(hshape[:-1]).astype(hdtype), argmax=r.argmax.reshape(hshape[:-1]))


def fit_temperature(logits, labels, *, axis=-1, ignore_index=-100, sample_weight=None, binary=False, tol=1e-7,
                    max_iter=50, num_threads=None):
    """The oracle: bisection on the NLL's derivative in beta = 1 / T
    (increasing: the NLL is convex in beta), from explicit float64
    probabilities, until the bracket is tol / 16 of beta wide.  A method
    independent of the kernels' Newton steps; max_iter is checked, not used
    (bisection needs about log2(16 / tol) passes); iterations counts its
    passes."""
    from ._temperature import fit_options, no_minimiser
    tol, max_iter = fit_options(tol, max_iter, binary, ignore_index)
    V.num_threads(num_threads)
    if binary:
        x = V.float_array(logits, "logits").astype(np.float64).reshape(-1)
        t = V.bce_target(labels, np.shape(logits)).astype(np.float64).reshape(-1)
        w = V.bce_weight(sample_weight, np.shape(logits), "sample_weight")
        w = np.ones(x.size) if w is None else np.broadcast_to(w, np.shape(logits)).astype(np.float64).reshape(-1)

        def nll(beta):
            z = beta * x
            return np.sum(w * (np.logaddexp(0.0, z) - t * z)), np.sum(w * (sigmoid(z) - t) * x)
        slope_inf, slope_0 = np.sum(w * (np.maximum(x, 0.0) - t * x)), np.sum(w * (0.5 - t) * x)
    else:
        x, ax, x2, mshape = _rows(logits, axis, "logits")
        ii = V.ignore_index(ignore_index)
        y = V.class_labels(np.asarray(labels), x2.shape[1], ii, name="labels").reshape(-1)
        w = np.ones(len(y)) if sample_weight is None else \
            np.asarray(V.sample_weight(sample_weight, tuple(mshape[:-1])), np.float64).reshape(-1)
        keep = y != ii
        x2, y, w = x2[keep].astype(np.float64), y[keep], w[keep]
        xy = x2[np.arange(len(y)), y]

        def nll(beta):
            z = beta * x2
            m, s, l, finite = _row_parts(z)
            p = np.exp(z - m[:, None]) / (1.0 + s)[:, None]
            return np.sum(w * (m + l - beta * xy)), np.sum(w * (np.sum(p * x2, axis=1) - xy))
        slope_inf, slope_0 = np.sum(w * (x2.max(axis=1) - xy)) if len(y) else 0.0, -1.0
    W = float(np.sum(w))
    if not W > 0:
        raise ValueError("fit_temperature needs counted rows of positive total weight; there are none")
    f1, g1 = nll(1.0)
    if not (np.isfinite(f1) and np.isfinite(g1)):
        raise ValueError("the NLL at T = 1 is not finite: the counted rows hold NaN or infinite logits")
    if not slope_inf > 0:
        raise no_minimiser(True)
    if not slope_0 < 0:
        raise no_minimiser(False)
    passes = 1
    lo, hi = (1.0, 2.0) if g1 < 0 else (0.5, 1.0)
    while True:                               # the bracket: g(lo) < 0 < g(hi)
        b = hi if g1 < 0 else lo
        g = nll(b)[1]
        passes += 1
        if (g > 0) == (g1 < 0) or g == 0:
            break
        if b < 1e-12:
            raise no_minimiser(False)
        lo, hi = (hi, 2.0 * hi) if g1 < 0 else (lo / 2.0, lo)
    while hi - lo > tol / 16.0 * lo:
        mid = 0.5 * (lo + hi)
        g = nll(mid)[1]
        passes += 1
        if g > 0:
            hi = mid
        else:
            lo = mid
    beta = 0.5 * (lo + hi)
    return TemperatureFit(1.0 / beta, float(f1) / W, float(nll(beta)[0]) / W, passes + 1)


# ------------------------------------------------------------------ distillation

def _plogq(p, lp, lq):
    return np.where(p > 0, p * (lp - lq), 0.0)


def _divergence_rows(lq, lp, o):
    """Each row's divergence between two log-probability arrays (textbook
    forms) and its derivative z_i in Q_i; the gradient with respect to the
    logits behind Q is then Q_i (z_i - sum_l Q_l z_l)."""
    Q, P = np.exp(lq), np.exp(lp)
    if o.divergence == "kl":
        return _plogq(P, lp, lq).sum(axis=1), np.where(Q > 0, -P / np.where(Q > 0, Q, 1.0), 0.0)
    if o.divergence == "reverse_kl":
        return _plogq(Q, lq, lp).sum(axis=1), np.where(Q > 0, lq - lp, 0.0)
    b = o.beta
    lm = np.log(b * P + (1 - b) * Q)
    d = (b * _plogq(P, lp, lm) + (1 - b) * _plogq(Q, lq, lm)).sum(axis=1)
    return d, np.where(Q > 0, (1 - b) * (lq - lm), 0.0)


def _kappa(lq, z):
    Q = np.exp(lq)
    return np.where(Q > 0, z - (Q * np.where(Q > 0, z, 0.0)).sum(axis=1, keepdims=True), 0.0)


def _dense_divergence(ls, lt, o):
    """(divergence per row, its gradient with respect to logits / T)."""
    d, z = _divergence_rows(ls, lt, o)
    return d, np.exp(ls) * _kappa(ls, z)


def _sparse_divergence(ls, ind, lp, o):
    """A sparse teacher's divergence over its k classes plus one bucket for
    the rest of each distribution ("bucket"), or both renormalized over the
    k, and its gradient with respect to logits / T."""
    N, C = ls.shape
    k = ind.shape[1]
    rows = np.arange(N)[:, None]
    Q = np.exp(ls)
    lq = ls[rows, ind]
    bucket = o.tail == "bucket" and k < C          # k = C: no rest, whatever 1 - sum P rounds to
    if bucket:
        rest = Q.copy()
        rest[rows, ind] = 0.0
        lq = np.concatenate([lq, np.log(rest.sum(axis=1))[:, None]], axis=1)
        pr = np.maximum(1.0 - np.exp(lp).sum(axis=1), 0.0)
        lp = np.concatenate([lp, np.log(pr)[:, None]], axis=1)
    else:
        lq = lq - np.logaddexp.reduce(lq, axis=1)[:, None]
        lp = lp - np.logaddexp.reduce(lp, axis=1)[:, None]
    d, z = _divergence_rows(lq, lp, o)
    kappa = _kappa(lq, z)
    if bucket:
        g = Q * kappa[:, k:k + 1]
        g[rows, ind] = Q[rows, ind] * kappa[:, :k]
    elif o.tail == "bucket":
        g = np.zeros_like(Q)
        g[rows, ind] = Q[rows, ind] * kappa
    else:
        g = np.zeros_like(Q)
        g[rows, ind] = np.exp(lq) * kappa
    return d, g


def distillation_loss(student_logits, teacher, *, axis=-1, temperature=1.0, divergence="kl", beta=0.5,
                      target=None, hard_weight=0.0, soft_weight=1.0, ignore_index=-100, sample_weight=None,
                      reduction="mean", base=None, tail="bucket", return_grad=False, grad_out=None,
                      num_threads=None):
    # The textbook forms in float64: sum P (log P - log Q) from two
    # log-softmaxes.  They cancel for a student close to its teacher (the
    # kernels do not; their tests there are against mpmath), and are exact
    # enough everywhere else.
    o = distill_options(axis=axis, temperature=temperature, divergence=divergence, beta=beta,
                        hard_weight=hard_weight, soft_weight=soft_weight, ignore_index=ignore_index,
                        reduction=reduction, base=base, tail=tail)
    x, ax, x2, mshape = _rows(student_logits, o.axis, "student_logits")
    N, C = x2.shape
    idx_shape = mshape[:-1]
    ind2, t2 = teacher_operand(teacher, x.shape, ax, idx_shape, C)
    sparse = ind2 is not None
    lp2 = t2 = t2.astype(np.float64)
    V.num_threads(num_threads)
    y = distill_labels(target, idx_shape, C, o)
    keep = np.ones(N, bool) if y is None else y != o.ignore_index
    sw = np.ones(N) if sample_weight is None else V.sample_weight(sample_weight, idx_shape)
    if grad_out is not None:
        V.out_array(grad_out, x.shape, x.dtype, "grad_out")
    w = np.where(keep, sw, 0.0)
    T = o.temperature
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        ls = _log_softmax2(x2 / T)
        if sparse:
            soft, dsoft = _sparse_divergence(ls, ind2, lp2, o)
            bad = np.isnan(ls[:, 0]) | np.isnan(lp2).any(axis=1)
        else:
            lt = _log_softmax2(t2 / T)
            soft, dsoft = _dense_divergence(ls, lt, o)
            bad = np.isnan(ls[:, 0]) | np.isnan(lt[:, 0])    # NaN, +inf, all -inf: the row is NaN
        soft[bad] = np.nan
        dsoft[bad] = np.nan
        rows = o.soft_weight * T * T * soft
        ls1 = _log_softmax2(x2)
        if y is not None and o.hard_weight != 0:
            yy = np.where(keep, y, 0)
            rows = rows + o.hard_weight * -ls1[np.arange(N), yy]
        rows = np.where(w != 0, w * rows, 0.0)
    denom = float(np.sum(w))
    loss = _reduce(rows, denom, o.reduction, o.k, x.dtype, idx_shape)
    if not return_grad:
        return loss
    scale = o.k * ((1.0 / denom if denom else 0.0) if o.reduction == "mean" else 1.0)
    with np.errstate(invalid="ignore"):
        g = (o.soft_weight * T * scale * w)[:, None] * dsoft
        if y is not None and o.hard_weight != 0:
            h = np.exp(ls1)
            h[np.arange(N), np.where(keep, y, 0)] -= 1.0
            g = g + (o.hard_weight * scale * w)[:, None] * h
        g = np.where(w[:, None] != 0, g, 0.0)
    g = _back(g, x, ax, mshape, x.dtype)
    if grad_out is not None:
        np.copyto(grad_out, g)
        g = grad_out
    return loss, g



def linear_distillation_loss(hidden, linear_weight, teacher, *, linear_bias=None, temperature=1.0, divergence="kl",
                             beta=0.5, target=None, hard_weight=0.0, soft_weight=1.0, ignore_index=-100,
                             sample_weight=None, reduction="mean", base=None, tail="bucket", return_grad=False,
                             chunk_size=None, num_threads=None, compute_dtype=None):
    """The oracle: the logits materialized in float64, then the reference
    distillation_loss and the chain rule through the linear layer
    (compute_dtype as in linear_cross_entropy)."""
    h2, W, y, b, dt, hshape, hdtype = V.linear_operands(hidden, linear_weight, target, linear_bias)
    h2, W = _rounded_inputs(h2, W, compute_dtype)
    if chunk_size is not None:
        V.positive_int(chunk_size, "chunk_size")
    V.num_threads(num_threads)
    h64, W64, logits = _linear_logits(h2, W, b)
    if isinstance(teacher, SparseTeacher):
        ind2, lp2 = sparse_rows(teacher, hshape[:-1], W.shape[0])
        teacher = SparseTeacher(ind2, lp2)
    else:
        teacher = dense_rows(teacher, hshape[:-1] + (W.shape[0],), len(hshape) - 1, W.shape[0])
    out = distillation_loss(logits, teacher, temperature=temperature, divergence=divergence, beta=beta,
                            target=None if y is None else y.reshape(-1), hard_weight=hard_weight,
                            soft_weight=soft_weight, ignore_index=ignore_index,
                            sample_weight=None if sample_weight is None else np.reshape(sample_weight, -1),
                            reduction=reduction, base=base, tail=tail, return_grad=return_grad)
    loss, g = (out if return_grad else (out, None))
    if reduction == "none":
        loss = np.asarray(loss).reshape(hshape[:-1]).astype(hdtype)
    if not return_grad:
        return loss
    return loss, _linear_grads(g, h64, W64, W, b, hshape, hdtype)

# ------------------------------------------------------------------ docstrings

def _document():
    from . import _docs
    summaries = {
        "sigmoid": "Logistic sigmoid 1 / (1 + exp(-x)), elementwise.",
        "log_sigmoid": "log sigmoid(x), elementwise, without overflow or cancellation.",
        "softmax": "Softmax along `axis`.",
        "log_softmax": "log softmax along `axis`, as x - logsumexp(x).",
        "logsumexp": "log sum exp(x) along `axis`.",
        "softmax_cross_entropy": "Softmax cross-entropy from logits, class indices or probabilities.",
        "sigmoid_binary_cross_entropy": "Binary cross-entropy with logits, with focal loss.",
        "cross_entropy": "Cross-entropy H(p, q) = -sum p log q of probability rows.",
        "binary_cross_entropy": "Binary cross-entropy of probabilities.",
        "evaluate": "One evaluation of class logits: loss, accuracy, top-k, Brier, calibration.",
        "evaluate_binary": "One evaluation of sigmoid outputs, per element.",
        "linear_cross_entropy": "Softmax cross-entropy of a linear layer's outputs, materialized in float64.",
        "linear_evaluate": "evaluate of a linear layer's outputs, materialized in float64.",
        "fit_temperature": "Temperature scaling by bisection on the NLL's derivative, in float64.",
        "distillation_loss": "Distillation loss from two log-softmaxes, the textbook forms in float64.",
        "linear_distillation_loss": "distillation_loss of a linear layer's outputs, materialized in float64.",
    }
    ns = globals()
    for name, summary in summaries.items():
        _docs.twin(ns[name], summary)
    _docs.complete(ns, _docs.REFERENCE_EXAMPLES)


_document()

