"""Result types of the public API.

They live apart from the kernels so that `fusedxent.reference` (which never
imports the kernels) returns the same types as `fusedxent`.  The derived
metrics are properties computed from the stored sums, so a result merged
from streamed batches derives them exactly as a one-shot one.

A result is a snapshot: its arrays are its own (the constructors in
`_api` copy what they wrap), so a later `update()` or `merge()` of the
evaluator that produced it, or a write into another result's arrays,
never changes it.
"""
import math
from collections import namedtuple
from typing import Any, NamedTuple

import numpy as np


class Calibration(namedtuple("Calibration", ["edges", "weight", "confidence_sum", "correct_sum", "total_weight"])):
    """Reliability bins of `evaluate` / `evaluate_binary`.

    Attributes
    ----------
    edges : ndarray (B + 1,)
        Bin edges on [0, 1].  Equal-width bins (calibration_strategy
        "uniform"): bin b holds b/B <= c < (b+1)/B and the last bin also
        c = 1.  Equal-mass bins ("quantile"): 0, the B - 1 interior edges at
        the weighted quantiles of the confidence (to the fine histogram's
        resolution, fusedxent._calibration), 1.
    weight : ndarray (B,)
        Sum of the sample weights of the rows (elements) in each bin.
    confidence_sum : ndarray (B,)
        Weighted sum of the confidences c = max_j p_j (binary: p = sigmoid(x)).
    correct_sum : ndarray (B,)
        Weighted sum of the hits (top-1 correct; binary: the targets).
    total_weight : float
        Weight of every counted row, binned or not (rows without a finite
        confidence -- NaN or infinite logits -- count here only).
    """
    __slots__ = ()

    @property
    def ece(self):
        """Expected calibration error: ``sum_b |correct_b - confidence_b| / total weight``."""
        if self.total_weight == 0:
            return 0.0
        return float(np.sum(np.abs(self.correct_sum - self.confidence_sum)) / self.total_weight)

    @property
    def rmsce(self):
        """Root-mean-square calibration error (the l2 norm):
        ``sqrt(sum_b (weight_b / total) (accuracy_b - confidence_b)^2)``, as
        torchmetrics' ``CalibrationError(norm="l2")``."""
        nz = self.weight > 0
        if self.total_weight == 0 or not nz.any():
            return 0.0
        d = self.correct_sum[nz] - self.confidence_sum[nz]
        return float(np.sqrt(np.sum(d * d / self.weight[nz]) / self.total_weight))

    @property
    def mce(self):
        """Maximum calibration error over the non-empty bins."""
        nz = self.weight > 0
        if not nz.any():
            return 0.0
        return float(np.max(np.abs(self.correct_sum[nz] - self.confidence_sum[nz]) / self.weight[nz]))

    @property
    def confidence(self):
        """Mean confidence per bin (NaN for empty bins)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.confidence_sum / self.weight

    @property
    def accuracy(self):
        """Mean hit rate (binary: mean target) per bin (NaN for empty bins)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.correct_sum / self.weight


def _div0(a, b):
    """a / b with 0 where b == 0 (scikit-learn's zero_division=0)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    out = np.zeros(np.broadcast(a, b).shape)
    np.divide(a, b, out=out, where=b != 0)
    return out


class PerClass(namedtuple("PerClass", ["support", "predicted", "correct", "confusion"])):
    """Per-class counts of `evaluate(per_class=True)`, weighted by the sample
    weights; derived metrics follow scikit-learn with zero_division=0.

    Attributes
    ----------
    support : ndarray (C,)
        Weight of the rows whose label is the class.
    predicted : ndarray (C,)
        Weight of the rows whose argmax is the class (rows holding a NaN
        have no predicted class).
    correct : ndarray (C,)
        Weight of the rows labelled and predicted as the class.
    confusion : ndarray (C, C) or None
        With per_class="confusion": true classes as rows, predictions as
        columns.
    """
    __slots__ = ()

    @property
    def recall(self):
        return _div0(self.correct, self.support)

    @property
    def precision(self):
        return _div0(self.correct, self.predicted)

    @property
    def f1(self):
        return _div0(2 * self.correct, self.support + self.predicted)

    @property
    def macro_f1(self):
        """Mean F1 over the classes that occur as labels or predictions
        (scikit-learn's f1_score(average="macro"))."""
        present = (self.support > 0) | (self.predicted > 0)
        return float(np.mean(self.f1[present])) if present.any() else 0.0

    @property
    def balanced_accuracy(self):
        """Mean recall over the classes that occur as labels
        (scikit-learn's balanced_accuracy_score)."""
        present = self.support > 0
        return float(np.mean(self.recall[present])) if present.any() else 0.0


_EVAL_FIELDS = ["loss", "accuracy", "count", "lse", "argmax", "topk_accuracy", "brier", "entropy",
                "calibration", "per_class", "base", "classwise", "roc"]


class Evaluation(namedtuple("Evaluation", _EVAL_FIELDS, defaults=({}, 0.0, 0.0, None, None, math.e, None, None))):
    """Result of `evaluate`.

    Attributes
    ----------
    loss : float
        Mean cross-entropy over the rows counted, weighted, in units of `base`.
    accuracy : float
        Top-1 accuracy over the same rows and weights.
    count : int
        Rows counted (label != ignore_index).
    lse : ndarray or None
        Per-row logsumexp, the logits' dtype.
    argmax : ndarray of int64 or None
        Per-row argmax (first index on ties, NumPy's rule).
    topk_accuracy : dict
        {k: weighted fraction of rows whose label is among the k largest
        logits (ties to the lower index)} for each k asked for.
    brier : float
        Mean of sum_j (p_j - [j == y])^2 (scikit-learn's multiclass
        brier_score_loss).
    entropy : float
        Mean predictive entropy -sum_j p_j log p_j, in units of `base`.
    calibration : Calibration or None
        Reliability bins (calibration_bins=B), with .ece and .mce.
    per_class : PerClass or None
        Per-class counts (per_class=True or "confusion").
    base : float
        The logarithm base of loss and entropy (e for nats).
    classwise : Classwise or None
        Classwise reliability bins (classwise_bins=B), with .ece.
    roc : OneVsRest or None
        One-vs-rest ROC histograms (roc_bins=R), with the macro .auroc.

    In `fusedxent.dask` every field is a lazy Dask array.
    """
    __slots__ = ()

    @property
    def perplexity(self):
        """base ** loss: exp of the mean cross-entropy in nats; inf when
        that overflows (a mean loss above ~709.78 nats), NaN for a NaN loss,
        as NumPy and PyTorch give."""
        loss = float(self.loss)                 # a Dask result computes here
        with np.errstate(over="ignore"):
            return float(np.power(np.float64(self.base), loss))


class BinaryEvaluation(namedtuple("BinaryEvaluation", ["loss", "accuracy", "count", "brier", "calibration",
                                                       "base", "roc"], defaults=(None, math.e, None))):
    """Result of `evaluate_binary`, per element.

    Attributes
    ----------
    loss : float
        Weighted mean binary cross-entropy with logits, in units of `base`.
    accuracy : float
        Weighted fraction of elements where (logit > 0) == (target >= 0.5).
    count : int
        Elements counted.
    brier : float
        Weighted mean of (sigmoid(x) - t)^2.
    calibration : Calibration or None
        Bins of p = sigmoid(x) with the observed (weighted) mean target.
    base : float
        The logarithm base of loss.
    roc : ROC or None
        With roc_bins: the binned ROC and precision-recall curves, with
        .auroc and .average_precision.
    """
    __slots__ = ()


class RowStats(NamedTuple):
    """Per-row statistics of the (transformed) logits, computed in the
    loss's pass: `linear_cross_entropy(..., return_stats=True)`.

    Attributes
    ----------
    lse : ndarray of float64
        log-sum-exp of each row, the target's shape.
    entropy : ndarray of float64
        Entropy of each row's softmax, in nats.
    argmax : ndarray of int64
        Predicted class (first index on ties; a row's first NaN for a row
        holding one).
    """
    lse: Any
    entropy: Any
    argmax: Any


class LinearGrads(NamedTuple):
    """Gradients of `linear_cross_entropy`.

    Attributes
    ----------
    hidden : ndarray
        d(loss)/d(hidden), hidden's shape and dtype.
    linear_weight : ndarray
        d(loss)/d(linear_weight), (V, H), linear_weight's dtype.
    linear_bias : ndarray or None
        d(loss)/d(linear_bias), (V,), or None when no bias was given.
    """
    hidden: Any
    linear_weight: Any
    linear_bias: Any


class TemperatureFit(NamedTuple):
    """The temperature that minimises the mean NLL: `fit_temperature`.

    Attributes
    ----------
    temperature : float
        T > 0: divide the logits by it (``softmax(x / T)``, or
        ``evaluate(..., temperature=T)``).
    loss_before : float
        The weighted mean NLL at T = 1, in nats.
    loss_after : float
        The weighted mean NLL at the fitted T, in nats.
    iterations : int
        Passes over the data (one per Newton step).
    """
    temperature: float
    loss_before: float
    loss_after: float
    iterations: int


class ROC(namedtuple("ROC", ["edges", "positive", "negative"])):
    """Binned ROC and precision-recall curves of `evaluate_binary(...,
    roc_bins=R)`: the weight of positive and negative targets in R
    equal-width bins of the logit (a monotone image of the probability in
    which confident outputs, within 1e-6 of 0 or 1, stay apart).

    Attributes
    ----------
    edges : ndarray (R + 1,)
        Logit bin edges, ascending, on [-36, 36]; the first and last bins
        also hold the logits beyond (their probabilities round to 0 and 1
        in double).
    positive : ndarray (R,)
        Weighted count of positives per bin: sum of w t.
    negative : ndarray (R,)
        Weighted count of negatives per bin: sum of w (1 - t).

    The curves are evaluated at the thresholds `edges[R], ..., edges[0]`
    (descending; predicted positive: logit >= threshold, so a bin's
    elements cross together, as scikit-learn's tied scores do).
    """
    __slots__ = ()

    def _cum(self):
        tp = np.concatenate([[0.0], np.cumsum(self.positive[::-1])])
        fp = np.concatenate([[0.0], np.cumsum(self.negative[::-1])])
        return tp, fp

    @property
    def thresholds(self):
        """The logit thresholds of the curve's points, descending (R + 1)."""
        return np.asarray(self.edges, np.float64)[::-1].copy()

    @property
    def tpr(self):
        """True-positive rate at each threshold (0 when there are no positives)."""
        tp, _ = self._cum()
        return tp / tp[-1] if tp[-1] > 0 else np.zeros_like(tp)

    @property
    def fpr(self):
        """False-positive rate at each threshold (0 when there are no negatives)."""
        _, fp = self._cum()
        return fp / fp[-1] if fp[-1] > 0 else np.zeros_like(fp)

    @property
    def recall(self):
        """Recall at each threshold: the true-positive rate."""
        return self.tpr

    @property
    def precision(self):
        """Precision tp / (tp + fp) at each threshold; 1 where nothing is
        predicted positive (scikit-learn's convention)."""
        tp, fp = self._cum()
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(tp + fp > 0, tp / (tp + fp), 1.0)

    @property
    def auroc(self):
        """Area under the ROC curve, trapezoids between the thresholds: a
        positive and a negative in one bin count one half.  NaN without
        positives or without negatives (scikit-learn raises)."""
        pos, neg = np.asarray(self.positive, np.float64), np.asarray(self.negative, np.float64)
        P, N = pos.sum(), neg.sum()
        if not (P > 0 and N > 0):
            return math.nan
        above = np.cumsum(pos[::-1])[::-1] - pos           # positives in the bins above each bin
        return float(np.sum(neg * (above + 0.5 * pos)) / (P * N))

    @property
    def average_precision(self):
        """Average precision: sum over the thresholds of (recall step) x
        precision, as scikit-learn's average_precision_score (a bin's
        elements crossing together).  NaN without positives."""
        tp, fp = self._cum()
        if not tp[-1] > 0:
            return math.nan
        step = np.diff(tp) / tp[-1]
        with np.errstate(invalid="ignore", divide="ignore"):
            prec = np.where(tp[1:] + fp[1:] > 0, tp[1:] / (tp[1:] + fp[1:]), 0.0)
        return float(np.sum(step * prec))


class OneVsRest(namedtuple("OneVsRest", ["edges", "positive", "negative"])):
    """One-vs-rest ROC histograms of `evaluate(..., roc_bins=R)`: for every
    class j, the weight of the rows labelled j (positive) and of the other
    counted rows (negative) in R equal-width bins of a monotone image of
    p_j, the score g = log p_j for p_j <= 1/2 and -log(4 (1 - p_j)) above
    (continuous at 1/2; within log 4 of the logit at both ends, so
    confident outputs within 1e-6 of 0 or 1 stay apart; 1 - p_j of the
    top class from the sum of the others, without cancellation).

    Attributes
    ----------
    edges : ndarray (R + 1,)
        Score bin edges, ascending, on [-36, 36]; the outer bins also hold
        the scores beyond.
    positive : ndarray (C, R)
        Weighted count of the rows labelled j in each bin of g_j.
    negative : ndarray (C, R)
        Weighted count of the other counted rows in each bin of g_j.

    Rows with ignore_index and rows without a finite logsumexp (a NaN or a
    +inf logit) are in no bin.
    """
    __slots__ = ()

    def class_roc(self, j):
        """One class's binned one-vs-rest curves.

        Parameters
        ----------
        j : int
            The class.

        Returns
        -------
        ROC
            Its positive and negative bins (the edges are the score's, not
            the logit's), with .auroc, .average_precision and the curves.
        """
        return ROC(self.edges, np.asarray(self.positive)[j], np.asarray(self.negative)[j])

    @property
    def class_auroc(self):
        """Each class's one-vs-rest AUROC (C,); NaN for a class without
        positive or without negative weight."""
        pos, neg = np.asarray(self.positive, np.float64), np.asarray(self.negative, np.float64)
        P, N = pos.sum(axis=1), neg.sum(axis=1)
        above = np.cumsum(pos[:, ::-1], axis=1)[:, ::-1] - pos     # positives in the bins above each bin
        with np.errstate(invalid="ignore", divide="ignore"):
            a = np.sum(neg * (above + 0.5 * pos), axis=1) / (P * N)
        return np.where((P > 0) & (N > 0), a, np.nan)

    @property
    def auroc(self):
        """Macro one-vs-rest AUROC: the mean of `class_auroc` over the
        classes that have both positives and negatives (scikit-learn's
        roc_auc_score(multi_class="ovr", average="macro"), which needs
        every class present); NaN when none has."""
        a = self.class_auroc
        a = a[~np.isnan(a)]
        return float(np.mean(a)) if a.size else math.nan


class Classwise(namedtuple("Classwise", ["edges", "weight", "confidence_sum", "frequency_sum", "total_weight"])):
    """Classwise reliability bins of `evaluate(..., classwise_bins=B)`
    (Kull et al. 2019): for every class j, B equal-width bins of p_j over
    all counted rows, with the observed frequency of y = j.

    Attributes
    ----------
    edges : ndarray (B + 1,)
        Equal-width bin edges on [0, 1] (the last bin also holds p = 1).
    weight : ndarray (C, B)
        Sum of the sample weights of the rows whose p_j is in bin b.
    confidence_sum : ndarray (C, B)
        Weighted sum of p_j in each bin.
    frequency_sum : ndarray (C, B)
        Weighted count of the rows labelled j in each bin.
    total_weight : float
        Weight of every counted row (rows holding a NaN are in no bin).
    """
    __slots__ = ()

    @property
    def class_ece(self):
        """Each class's ECE: ``sum_b |frequency_b - confidence_b| / total weight``."""
        if self.total_weight == 0:
            return np.zeros(np.shape(self.weight)[0])
        return np.sum(np.abs(np.asarray(self.frequency_sum) - np.asarray(self.confidence_sum)), axis=1) / \
            self.total_weight

    @property
    def ece(self):
        """Classwise ECE: the mean over the classes of `class_ece`."""
        c = self.class_ece
        return float(np.mean(c)) if c.size else 0.0
