# Result types (defined in _results.py).  They are generic so that
# fusedxent.dask can type their fields as lazy Dask arrays.
from typing import Any, Generic, NamedTuple, Optional

from typing_extensions import TypeVar

import numpy as np
from numpy.typing import NDArray

_F = TypeVar("_F")   # the scalar metrics
_I = TypeVar("_I")   # count
_R = TypeVar("_R")   # per-row lse
_A = TypeVar("_A")   # per-row argmax
# the histogram arrays (bins, per-class counts); defaulted so that the
# four-parameter Evaluation[...] of earlier releases still type-checks
_T = TypeVar("_T", default=NDArray[np.float64])

class Calibration(NamedTuple, Generic[_T]):
    """Reliability bins: edges (B + 1), weight, confidence_sum, correct_sum
    (B each) and the total counted weight; .ece, .rmsce, .mce, .confidence, .accuracy."""
    edges: NDArray[np.float64]
    weight: _T
    confidence_sum: _T
    correct_sum: _T
    total_weight: Any
    @property
    def ece(self) -> float: ...
    @property
    def rmsce(self) -> float: ...
    @property
    def mce(self) -> float: ...
    @property
    def confidence(self) -> _T: ...
    @property
    def accuracy(self) -> _T: ...

class PerClass(NamedTuple, Generic[_T]):
    """Per-class support, predicted, correct (C each) and the optional C x C
    confusion matrix; recall, precision, f1, macro_f1, balanced_accuracy."""
    support: _T
    predicted: _T
    correct: _T
    confusion: Optional[_T]
    @property
    def recall(self) -> NDArray[np.float64]: ...
    @property
    def precision(self) -> NDArray[np.float64]: ...
    @property
    def f1(self) -> NDArray[np.float64]: ...
    @property
    def macro_f1(self) -> float: ...
    @property
    def balanced_accuracy(self) -> float: ...

class Evaluation(NamedTuple, Generic[_F, _I, _R, _A, _T]):
    """loss, accuracy, count, lse, argmax, topk_accuracy, brier, entropy,
    calibration, per_class, base: floats, an int, per-row arrays and
    histograms from fusedxent.evaluate; lazy Dask arrays from fusedxent.dask."""
    loss: _F
    accuracy: _F
    count: _I  # type: ignore[assignment]  # the field shadows tuple.count, as at run time
    lse: _R
    argmax: _A
    topk_accuracy: dict[int, _F] = ...
    brier: _F = ...
    entropy: _F = ...
    calibration: Optional[Calibration[_T]] = ...
    per_class: Optional[PerClass[_T]] = ...
    base: float = ...
    classwise: Optional[Classwise[_T]] = ...
    roc: Optional[OneVsRest[_T]] = ...
    @property
    def perplexity(self) -> float: ...

class OneVsRest(NamedTuple, Generic[_T]):
    """One-vs-rest ROC histograms (C x R) of evaluate(roc_bins=R), with .auroc (macro) and .class_auroc."""
    edges: NDArray[np.float64]
    positive: _T
    negative: _T
    def class_roc(self, j: int) -> ROC[NDArray[np.float64]]: ...
    @property
    def class_auroc(self) -> NDArray[np.float64]: ...
    @property
    def auroc(self) -> float: ...

class Classwise(NamedTuple, Generic[_T]):
    """Classwise reliability bins (C x B) of evaluate(classwise_bins=B), with .ece and .class_ece."""
    edges: NDArray[np.float64]
    weight: _T
    confidence_sum: _T
    frequency_sum: _T
    total_weight: Any
    @property
    def class_ece(self) -> NDArray[np.float64]: ...
    @property
    def ece(self) -> float: ...

class BinaryEvaluation(NamedTuple, Generic[_F, _I, _T]):
    """loss, accuracy, count, brier, calibration, base, roc of evaluate_binary."""
    loss: _F
    accuracy: _F
    count: _I  # type: ignore[assignment]  # the field shadows tuple.count, as at run time
    brier: _F
    calibration: Optional[Calibration[_T]] = ...
    base: float = ...
    roc: Optional[ROC[_T]] = ...

class ROC(NamedTuple, Generic[_T]):
    """Binned ROC / precision-recall of evaluate_binary(roc_bins=R): logit edges, positive and negative weight."""
    edges: NDArray[np.float64]
    positive: _T
    negative: _T
    @property
    def thresholds(self) -> NDArray[np.float64]: ...
    @property
    def tpr(self) -> NDArray[np.float64]: ...
    @property
    def fpr(self) -> NDArray[np.float64]: ...
    @property
    def recall(self) -> NDArray[np.float64]: ...
    @property
    def precision(self) -> NDArray[np.float64]: ...
    @property
    def auroc(self) -> float: ...
    @property
    def average_precision(self) -> float: ...

class RowStats(NamedTuple):
    """Per-row lse, entropy (float64) and argmax (int64) of linear_cross_entropy's logits."""
    lse: NDArray[np.float64]
    entropy: NDArray[np.float64]
    argmax: NDArray[np.int64]

class LinearGrads(NamedTuple):
    """Gradients of linear_cross_entropy: hidden, linear_weight, linear_bias (or None)."""
    hidden: NDArray[Any]
    linear_weight: NDArray[Any]
    linear_bias: Optional[NDArray[Any]]

class TemperatureFit(NamedTuple):
    """fit_temperature's result: temperature, loss_before, loss_after (nats), iterations."""
    temperature: float
    loss_before: float
    loss_after: float
    iterations: int
