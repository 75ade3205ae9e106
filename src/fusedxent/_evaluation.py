"""evaluate / Evaluator and evaluate_binary / BinaryEvaluator with their
block passes (`evaluate_parts`, `evaluate_binary_parts`) and the results
built from partial sums (`evaluation_from_parts`, ...)."""
import math
from typing import Any, NamedTuple

import numpy as np

from . import _calibration as CAL
from . import _kernels as _k
from . import _validate as V
from ._layout import BLOCK_ELEMS, _logit_rows, _nblocks, _rows_per_block, _threads
from ._options import IDENTITY, LogitTransform
from ._results import ROC, BinaryEvaluation, Calibration, Classwise, Evaluation, OneVsRest, PerClass


def _check_classes(C, expected, what):
    if expected is not None and C != expected:
        raise ValueError(f"{what} has {C} classes, but the evaluator has seen {expected}: "
                         f"rows with different class counts cannot be evaluated together")


class EvalParts(NamedTuple):
    """One pass of `evaluate` over a batch (or a Dask block): double sums
    that add across batches, and the per-row outputs."""
    sums: Any                #: [loss (nats), weight, top-1 hits, count, Brier, entropy (nats), hits per k...]
    topk: tuple              #: the k of the per-k hits, in order
    calibration: Any         #: (3, B): weight, confidence sum, hit sum per bin (quantile: the fine histogram); or None
    per_class: Any           #: (3, C): support, predicted, correct; or None
    confusion: Any           #: (C, C) or None
    lse: Any                 #: per-row logsumexp (the logits' dtype), index shape
    argmax: Any              #: per-row argmax (int64), index shape
    n_classes: int
    classwise: Any = None    #: flat classwise sums (see classwise_from_sums), or None
    roc: Any = None          #: (2, C, R): one-vs-rest positive and negative weight per score bin, or None

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


MAX_CLASSWISE_CLASSES = 4096
MAX_CLASSWISE_BINS = 1024
MAX_OVR_CLASSES = 1024
MAX_OVR_CELLS = 1 << 22      # C x R: the two (C, R) histograms in 64 MB


def check_classwise_bins(B, C=None):
    """classwise_bins checked: None or 1..1024, with at most 4096 classes."""
    if B is None:
        return None
    B = V.positive_int(B, "classwise_bins")
    if B > MAX_CLASSWISE_BINS:
        raise ValueError(f"classwise_bins must be at most {MAX_CLASSWISE_BINS}, got {B}")
    if C is not None and C > MAX_CLASSWISE_CLASSES:
        raise ValueError(f"classwise_bins needs at most {MAX_CLASSWISE_CLASSES} classes (C x B bins per class "
                         f"and block), got {C}")
    return B


def check_ovr_bins(R, C=None):
    """roc_bins of class logits checked: as evaluate_binary's, with at
    most MAX_OVR_CLASSES classes and C x R <= MAX_OVR_CELLS."""
    R = CAL.roc_bins(R)
    if R is None or C is None:
        return R
    if C > MAX_OVR_CLASSES:
        raise ValueError(f"roc_bins (one-vs-rest AUROC) needs at most {MAX_OVR_CLASSES} classes, got {C}")
    if C * R > MAX_OVR_CELLS:
        raise ValueError(f"roc_bins={R} with {C} classes: one-vs-rest needs classes x roc_bins <= "
                         f"{MAX_OVR_CELLS} (two histograms of that many doubles); at most {MAX_OVR_CELLS // C} "
                         f"bins for {C} classes")
    return R


def ovr_histogram(x2, y, sw, lse64, s64, amax, ignore_index, R, transform, nt):
    """The (2, C, R) one-vs-rest histograms of evaluate(roc_bins=R) from
    the rows' double lse and s (the evaluate kernel's): score g = z_j - lse
    = log p_j, and for the top class, where 1 - p_k = s / (1 + s) is known
    without cancellation, -log(4 (1 - p_k)) when p_k > 1/2 (OneVsRest)."""
    N, C = x2.shape
    with np.errstate(divide="ignore", invalid="ignore"):
        L = np.where((y != ignore_index) & np.isfinite(lse64), lse64, np.nan)
        gk = np.where(s64 < 1.0, np.log1p(s64) - np.log(4.0 * s64), -np.log1p(s64))
    out = np.zeros((2, C, R))
    T, cap = transform.kernel_args()[:2]
    args = dict(out=out, lo=-CAL.LOGIT_SPAN, scale=R / (2.0 * CAL.LOGIT_SPAN), temperature=T, softcap=cap, nt=nt)
    if x2.dtype in (np.float32, np.float64):
        _k.ovr_histogram(x2, y, sample_weight=sw, row_lse=L, argmax_score=gk, argmax=amax, **args)
    else:                     # 16-bit logits: float32 a slice of rows at a time (bounded scratch)
        step = max(1, (1 << 22) // max(C, 1))
        for r0 in range(0, N, step):
            r1 = min(N, r0 + step)
            _k.ovr_histogram(np.asarray(x2[r0:r1], np.float32), y[r0:r1],
                             sample_weight=None if sw is None else sw[r0:r1], row_lse=L[r0:r1],
                             argmax_score=gk[r0:r1], argmax=amax[r0:r1], **args)
    return out


def classwise_from_sums(flat, C, B, total_weight):
    """The Classwise of the kernel's flat sums [W | P | F (each C x B) |
    T (C) | finite weight]: bin 0 holds (F) or is (W: the finite weight, P:
    T) every row's totals (classwise in _kernels_eval.pxi) and becomes the
    totals less the other bins."""
    f = np.array(flat, np.float64)
    W, P, F = (f[k * C * B:(k + 1) * C * B].reshape(C, B) for k in range(3))
    W[:, 0] = f[-1] - W[:, 1:].sum(axis=1)
    P[:, 0] = f[3 * C * B:3 * C * B + C] - P[:, 1:].sum(axis=1)
    F[:, 0] -= F[:, 1:].sum(axis=1)
    return Classwise(np.linspace(0.0, 1.0, B + 1), W, P, F, float(total_weight))


def evaluate_parts(logits, labels, *, axis=-1, ignore_index=-100, sample_weight=None, topk=(1,),
                   calibration_bins=None, per_class=False, num_threads=None, n_classes=None,
                   transform=IDENTITY, calibration_strategy="uniform", classwise_bins=None, roc_bins=None):
    """One validated kernel pass of `evaluate` (its options, the logits'
    transform as a LogitTransform; `n_classes`: the class count the logits
    must have, an Evaluator's).  Returns
    EvalParts: sums from the kernel's blocks, histograms from the per-row
    outputs by np.bincount (summed in row order: independent of threads)."""
    x, ax, x2, mshape = _logit_rows(logits, axis, "logits")
    N, C = x2.shape
    _check_classes(C, n_classes, "this batch")
    ks, B, pc = V.eval_options(topk, calibration_bins, per_class, C)
    quantile = CAL.strategy(calibration_strategy) == "quantile" and bool(B)
    CB = check_classwise_bins(classwise_bins, C)
    R = check_ovr_bins(roc_bins, C)
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
    lse64, s64 = (np.empty(N), np.empty(N)) if R else (None, None)
    rpb = _rows_per_block(C)
    big = tuple(k for k in ks if k > 1)
    width = 6 + len(big)
    if CB:
        # blocks of at least 64 B rows: the per-block classwise sums (3 C B
        # doubles) stay under 3/8 byte per logit
        rpb = max(rpb, 64 * CB)
        width += 3 * C * CB + C + 1
    partial = np.zeros((_nblocks(N, rpb), width))
    # k >= C means every class: the kernel takes it as C (k may not fit a C integer)
    _k.evaluate(x2, y, sample_weight=sw, ignore_index=ii, topk=tuple(min(k, C) for k in big), lse_out=lse, argmax_out=amax,
                confidence_out=conf, bin_out=rbin, bins=(CAL.FINE_BINS if quantile else B) or 0,
                partial=partial, rows_per_block=rpb, nt=nt, logit_lo=CAL.logit_args()[0] if quantile else 0.0,
                logit_scale=CAL.logit_args()[1] if quantile else 0.0, classwise_bins=CB or 0,
                temperature=transform.kernel_args()[0], softcap=transform.kernel_args()[1],
                lse64_out=lse64, s64_out=s64)
    tot = partial.sum(axis=0) if len(partial) else np.zeros(width)
    roc = ovr_histogram(x2, y, sw, lse64, s64, amax, ii, R, transform, nt) if R else None
    sums = tot[:6 + len(big)]
    classwise = tot[6 + len(big):] if CB else None
    calib = per = conf_m = None
    if B or pc:
        # histograms of the per-row outputs, in row order (independent of
        # threads); index -1 (B for bins, C for classes) collects the rows
        # that count in no bin or class, so no masked copies are made
        hit = amax == y                          # NaN rows: argmax is the NaN's index, excluded below
        sw = None if sw is None else np.reshape(sw, -1)
        if B:
            b = rbin + 1                         # 0: ignored rows and rows without a finite confidence
            FB = CAL.partial_bins(B, calibration_strategy)   # quantile: the fine histogram of the logit
            hw = hit if sw is None else hit * sw
            cw = conf if sw is None else conf * sw
            calib = np.stack([np.bincount(b, sw, FB + 1)[1:], np.bincount(b, cw, FB + 1)[1:],
                              np.bincount(b, hw, FB + 1)[1:]])
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
                     amax.reshape(idx_shape), C, classwise, roc)


def _calibration_snapshot(calibration, wsum, B=None, strategy="uniform"):
    """Calibration over a (3, B) array of running sums, copied: a result
    must not change when the evaluator that made it goes on (_results);
    "quantile": B equal-mass bins cut from the fine histogram."""
    c = np.array(calibration, np.float64)
    if strategy == "quantile":
        edges, c = CAL.quantile_bins(c, B)
        return Calibration(edges, c[0], c[1], c[2], wsum)
    return Calibration(np.linspace(0.0, 1.0, c.shape[1] + 1), c[0], c[1], c[2], wsum)


def evaluation_from_parts(sums, topk, calibration=None, per_class=None, confusion=None, *, k=1.0,
                          base=None, lse=None, argmax=None, calibration_bins=None, calibration_strategy="uniform",
                          classwise=None, classwise_bins=None, roc=None):
    """The Evaluation of a pass's (or a stream's) sums: means over the
    counted weight, 0.0 when no row counts; loss and entropy times k (the
    log-base factor)."""
    lsum, wsum, hits, count, bsum, hsum = (float(v) for v in sums[:6])
    mean = (lambda v: v / wsum) if wsum != 0 else (lambda v: 0.0)
    hk = dict(zip([q for q in topk if q > 1], (float(v) for v in sums[6:])))
    tk = {q: (mean(hits) if q == 1 else mean(hk[q])) for q in topk}
    cal = None
    if calibration is not None:
        cal = _calibration_snapshot(calibration, wsum, calibration_bins, calibration_strategy)
    pcl = None
    if per_class is not None:
        per_class = np.array(per_class, np.float64)        # a snapshot: see _results
        pcl = PerClass(per_class[0], per_class[1], per_class[2],
                       None if confusion is None else np.array(confusion, np.float64))
    cws = None
    if classwise is not None:
        B = int(classwise_bins)
        cws = classwise_from_sums(classwise, (len(classwise) - 1) // (3 * B + 1), B, wsum)
    ovr = None
    if roc is not None:
        r3 = np.array(roc, np.float64)            # a snapshot: see _results
        ovr = OneVsRest(CAL.roc_edges(r3.shape[2]), r3[0], r3[1])
    return Evaluation(mean(lsum) * k, mean(hits), int(count), lse, argmax, tk, mean(bsum), mean(hsum) * k,
                      cal, pcl, math.e if base is None else float(base), cws, ovr)


def evaluate(logits, labels, *, axis=-1, ignore_index=-100, sample_weight=None, base=None, topk=(1,),
             calibration_bins=None, calibration_strategy="uniform", classwise_bins=None, per_class=False,
             roc_bins=None, softcap=None, temperature=1.0, num_threads=None):
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
        B reliability bins of the confidence max_j p_j; None: no
        calibration.
    calibration_strategy : {"uniform", "quantile"}
        "uniform": equal-width bins on [0, 1]; "quantile": equal-mass bins,
        their edges at the weighted quantiles of the confidence over the
        counted rows (to a fine histogram's resolution: fusedxent._calibration),
        reported in calibration.edges.
    classwise_bins : int, optional
        B equal-width bins of every class's p_j over all counted rows, with
        the observed frequency of y = j (classwise calibration, Kull et al.
        2019; at most 4096 classes): Evaluation.classwise, with .ece.
    per_class : bool or "confusion"
        Per-class support, predictions and hits (True), plus the C x C
        confusion matrix ("confusion", C <= 1024).
    roc_bins : int, optional
        R bins of every class's score for one-vs-rest ROC
        (`Evaluation.roc`, a `OneVsRest`): the macro AUROC of
        scikit-learn's ``roc_auc_score(multi_class="ovr")`` within 1e-3 at
        R = 4096, per-class AUROC and curves.  At most 1024 classes and
        C x R <= 2**22 (two C x R histograms, 64 MB at most); a second
        read of the logits.
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
                       num_threads=num_threads, transform=LogitTransform.of(softcap, temperature),
                       calibration_strategy=calibration_strategy, classwise_bins=classwise_bins,
                       roc_bins=roc_bins)
    return evaluation_from_parts(e.sums, e.topk, e.calibration, e.per_class, e.confusion, k=k, base=base,
                                 lse=e.lse, argmax=e.argmax, calibration_bins=calibration_bins,
                                 calibration_strategy=calibration_strategy, classwise=e.classwise,
                                 classwise_bins=classwise_bins, roc=e.roc)


class Evaluator:
    """Streaming `evaluate`: feed batches with `update`, read `result()`.

    Every partial (the sums, the calibration bins, the per-class counts) is
    carried in double, so the result over any batch boundaries equals one
    `evaluate` call over the concatenated rows to rounding (1e-12
    relative).  Evaluators `merge` and pickle.

    Parameters
    ----------
    axis, ignore_index, base, topk, calibration_bins, calibration_strategy, classwise_bins, per_class, roc_bins, softcap, temperature, num_threads :
        As in `evaluate`, for every batch (quantile bins: the fine
        histogram is what streams and merges).
    keep_rows : bool
        Keep the per-row lse and argmax for `result()`; False keeps memory
        constant over a stream and `result()` has None in those fields.
    """

    calibration_strategy = "uniform"      # the defaults of evaluators pickled before the options existed
    classwise_bins = None
    _cw = None
    roc_bins = None
    _roc = None

    def __init__(self, *, axis=-1, ignore_index=-100, base=None, topk=(1,), calibration_bins=None,
                 calibration_strategy="uniform", classwise_bins=None, per_class=False, roc_bins=None, softcap=None,
                 temperature=1.0, num_threads=None, keep_rows=True):
        self.axis = axis
        self.transform = LogitTransform.of(softcap, temperature)
        self.ignore_index = V.ignore_index(ignore_index)
        self.base = base
        self.k = V.log_base(base)
        self.topk, self.calibration_bins, self.per_class = V.eval_options(topk, calibration_bins, per_class)
        self.calibration_strategy = CAL.strategy(calibration_strategy)
        self.classwise_bins = check_classwise_bins(classwise_bins)
        self._cw = None
        self.roc_bins = check_ovr_bins(roc_bins)
        self._roc = None
        self.num_threads = V.num_threads(num_threads)
        self.keep_rows = bool(keep_rows)
        self.n_classes = None      # fixed by the first batch; later batches and merges must match
        self.sums = np.zeros(6 + sum(1 for q in self.topk if q > 1))
        self._calib = None if self.calibration_bins is None else \
            np.zeros((3, CAL.partial_bins(self.calibration_bins, self.calibration_strategy)))
        self._per = None
        self._confusion = None
        self._lse = []
        self._argmax = []

    def _options(self):
        return (self.topk, self.calibration_bins, self.calibration_strategy, self.classwise_bins,
                self.per_class, self.roc_bins, self.transform)

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
                           transform=self.transform, calibration_strategy=self.calibration_strategy,
                           classwise_bins=self.classwise_bins, roc_bins=self.roc_bins)
        self.n_classes = e.n_classes
        if e.classwise is not None:
            self._cw = e.classwise if self._cw is None else self._cw + e.classwise
        if e.roc is not None:
            self._roc = e.roc if self._roc is None else self._roc + e.roc
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
                             "calibration_strategy, classwise_bins, per_class, roc_bins, softcap and temperature "
                             "options")
        if other.n_classes is not None:
            _check_classes(other.n_classes, self.n_classes, "the merged evaluator")
            self.n_classes = other.n_classes
        self.sums += other.sums
        if self._calib is not None:
            self._calib += other._calib
        for name in ("_per", "_confusion", "_cw", "_roc"):
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
                                     lse=lse, argmax=amax, calibration_bins=self.calibration_bins,
                                     calibration_strategy=self.calibration_strategy, roc=self._roc_sums(),
                                     **self._classwise_args())

    def _roc_sums(self):
        if not self.roc_bins:
            return None
        if self._roc is None:                           # no rows yet
            return np.zeros((2, self.n_classes or 0, self.roc_bins))
        return self._roc

    def _classwise_args(self):
        B = self.classwise_bins
        if not B:
            return {}
        cw = self._cw
        if cw is None:                                  # no rows yet: the layout of classwise_from_sums
            C = self.n_classes or 0
            cw = np.zeros(3 * C * B + C + 1)
        return dict(classwise=cw, classwise_bins=B)


class BinaryParts(NamedTuple):
    sums: Any                #: [loss (nats), weight, hits, count, Brier]
    calibration: Any         #: (3, B): weight, probability sum, target sum (quantile: fine); or None
    roc: Any = None          #: (2, R): positive and negative weight per logit bin; or None


def binary_operands(logits, targets, sample_weight):
    """Sigmoid logits, targets and element weights checked and laid out
    flat for the kernels: (x, xf, tf, wf or None)."""
    x = V.float_array(logits, "logits")
    t = V.bce_target(targets, x.shape)
    w = V.bce_weight(sample_weight, x.shape, "sample_weight")
    xf = V.as_kernel_layout(np.ascontiguousarray(x).reshape(-1), x.dtype)
    tf = V.as_kernel_layout(np.ascontiguousarray(t).reshape(-1), V.partner_dtype(t.dtype, x.dtype))
    wf = None if w is None else np.ascontiguousarray(np.broadcast_to(w, x.shape), dtype=np.float64).reshape(-1)
    return x, xf, tf, wf


def _binary_pass(xf, tf, wf, n, nt, B, lo, scale, R):
    """One kernel pass: the summed partials (4 sums, then B calibration
    bins and R ROC bins of the logit, 4 doubles each: weight, weighted
    p, weighted t, 0)."""
    # blocks of at least 64 (B + R) elements: the per-block histograms
    # stay under 1/2 byte per element whatever B and R are (the size
    # depends on the shape, B and R only, so the sums stay independent of
    # the thread count)
    block = max(BLOCK_ELEMS, 64 * (B + R))
    width = 4 + 4 * (B + R)
    # 64-byte aligned (rows are whole multiples of 32 bytes): the kernel's
    # four-double bin entries then never straddle a cache line
    nb = _nblocks(n, block)
    raw = np.zeros(nb * width + 8)
    skip = (-raw.ctypes.data % 64) // 8
    partial = raw[skip:skip + nb * width].reshape(nb, width)
    _k.evaluate_binary(xf, tf, weight=wf, bins=B, partial=partial, block=block, nt=nt, logit_lo=lo,
                       logit_scale=scale, roc_bins=R, roc_lo=-CAL.LOGIT_SPAN, roc_scale=R / (2.0 * CAL.LOGIT_SPAN))
    return partial.sum(axis=0) if len(partial) else np.zeros(width)


def evaluate_binary_parts(logits, targets, *, sample_weight=None, calibration_bins=None, num_threads=None,
                          calibration_strategy="uniform", roc_bins=None):
    """One validated kernel pass of `evaluate_binary` (calibration and ROC
    bins: each its own histogram, in the same pass)."""
    x, xf, tf, wf = binary_operands(logits, targets, sample_weight)
    _, B, _ = V.eval_options((1,), calibration_bins, False)
    R = CAL.roc_bins(roc_bins) or 0
    quantile = CAL.strategy(calibration_strategy) == "quantile" and bool(B)
    B = (CAL.FINE_BINS if quantile else B) or 0   # quantile: the fine histogram of the logit
    lo, scale = CAL.logit_args() if quantile else (0.0, 0.0)
    n = x.size
    tot = _binary_pass(xf, tf, wf, n, _threads(num_threads, n), B, lo, scale, R)
    sums = np.array([tot[0], tot[3], tot[1], n, tot[2]])   # loss, weight, hits, count, Brier
    calib = tot[4:4 + 4 * B].reshape(B, 4)[:, :3].T.copy() if B else None     # (3, B)
    roc = None
    if R:
        h = tot[4 + 4 * B:].reshape(R, 4).T
        roc = np.stack([h[2], h[0] - h[2]])       # sum w t, sum w (1 - t)
    return BinaryParts(sums, calib, roc)


def binary_evaluation_from_parts(sums, calibration=None, *, k=1.0, base=None, calibration_bins=None,
                                 calibration_strategy="uniform", roc=None):
    lsum, wsum, hits, count, bsum = (float(v) for v in sums[:5])
    mean = (lambda v: v / wsum) if wsum != 0 else (lambda v: 0.0)
    cal = None if calibration is None else _calibration_snapshot(calibration, wsum, calibration_bins,
                                                                 calibration_strategy)
    r = None
    if roc is not None:
        r2 = np.array(roc, np.float64)            # a snapshot: see _results
        r = ROC(CAL.roc_edges(r2.shape[1]), r2[0], r2[1])
    return BinaryEvaluation(mean(lsum) * k, mean(hits), int(count), mean(bsum), cal,
                            math.e if base is None else float(base), r)


def evaluate_binary(logits, targets, *, sample_weight=None, base=None, calibration_bins=None,
                    calibration_strategy="uniform", roc_bins=None, num_threads=None):
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
        B bins of p = sigmoid(x), with the observed mean target.
    calibration_strategy : {"uniform", "quantile"}
        Equal-width bins on [0, 1], or equal-mass bins (edges at the
        weighted quantiles of p over the elements, to a fine histogram's
        resolution, in calibration.edges).
    roc_bins : int, optional
        R equal-width bins of the logit on [-36, 36] (at most 65536) for
        the ROC and precision-recall curves, AUROC and average precision
        (`BinaryEvaluation.roc`); 4096 give AUROC within 1e-3 and average
        precision within 2e-3 of scikit-learn's exact values.  With
        calibration bins too, a second pass.
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
                              num_threads=num_threads, calibration_strategy=calibration_strategy, roc_bins=roc_bins)
    return binary_evaluation_from_parts(e.sums, e.calibration, k=k, base=base, calibration_bins=calibration_bins,
                                        calibration_strategy=calibration_strategy, roc=e.roc)


class BinaryEvaluator:
    """Streaming `evaluate_binary` (update / merge / pickle / result), with
    exact double partials.

    Parameters
    ----------
    base, calibration_bins, calibration_strategy, roc_bins, num_threads :
        As in `evaluate_binary`.
    """

    calibration_strategy = "uniform"      # the default of evaluators pickled before the option existed

    roc_bins = None                       # likewise
    _roc = None

    def __init__(self, *, base=None, calibration_bins=None, calibration_strategy="uniform", roc_bins=None,
                 num_threads=None):
        self.base = base
        self.k = V.log_base(base)
        _, self.calibration_bins, _ = V.eval_options((1,), calibration_bins, False)
        self.calibration_strategy = CAL.strategy(calibration_strategy)
        self.num_threads = V.num_threads(num_threads)
        self.sums = np.zeros(5)
        self._calib = None if self.calibration_bins is None else \
            np.zeros((3, CAL.partial_bins(self.calibration_bins, self.calibration_strategy)))
        self.roc_bins = CAL.roc_bins(roc_bins)
        self._roc = None if self.roc_bins is None else np.zeros((2, self.roc_bins))

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
                                  calibration_bins=self.calibration_bins, num_threads=self.num_threads,
                                  calibration_strategy=self.calibration_strategy, roc_bins=self.roc_bins)
        self.sums += e.sums
        if e.calibration is not None:
            self._calib += e.calibration
        if e.roc is not None:
            self._roc += e.roc
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
        mine = (self.calibration_bins, self.calibration_strategy, self.roc_bins)
        if (other.calibration_bins, other.calibration_strategy, other.roc_bins) != mine or other.k != self.k:
            raise ValueError("can only merge a BinaryEvaluator with the same base, calibration_bins, "
                             "calibration_strategy and roc_bins")
        self.sums += other.sums
        if self._calib is not None:
            self._calib += other._calib
        if self._roc is not None:
            self._roc += other._roc
        return self

    def result(self):
        """The `BinaryEvaluation` of every element seen so far.

        Returns
        -------
        BinaryEvaluation
            A snapshot: later updates and merges do not change it."""
        return binary_evaluation_from_parts(self.sums, self._calib, k=self.k, base=self.base,
                                            calibration_bins=self.calibration_bins,
                                            calibration_strategy=self.calibration_strategy,
                                            roc=self._roc)
