# Public signatures of fusedxent (the functions are defined in _api.py and
# documented there).  Overloads give the exact result type from
# `reduction` and `return_grad`: a float for "mean"/"sum", an array for
# "none", and a (loss, grad) pair with return_grad=True.
import os
from typing import Any, Callable, Literal, NamedTuple, Optional, Union, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._options import IDENTITY as IDENTITY, LogitTransform as LogitTransform, XentOptions
from ._options import xent_options as xent_options
from ._results import BinaryEvaluation, Evaluation
from ._temperature import fit_temperature as fit_temperature
from ._temperature import fit_temperature_file as fit_temperature_file
from ._distill import distillation_loss as distillation_loss

_Arr = NDArray[np.floating[Any]]
_Reduced = Literal["mean", "sum"]
_Base = Optional[float]
_Threads = Optional[int]
_Hist = NDArray[np.float64]
_Eval = Evaluation[float, int, Optional[_Arr], Optional[NDArray[np.int64]], _Hist]
_BinEval = BinaryEvaluation[float, int, _Hist]
_TopK = Union[int, tuple[int, ...], list[int]]
_PerClass = Union[bool, Literal["confusion"]]
_Strategy = Literal["uniform", "quantile"]

BLOCK_ELEMS: int
_FAST_DTYPES: tuple[np.dtype[Any], ...]
_INT64: np.dtype[np.int64]
SERIAL_BELOW: int

def sigmoid(x: ArrayLike, *, out: Optional[_Arr] = ..., num_threads: _Threads = ...) -> _Arr: ...
def log_sigmoid(x: ArrayLike, *, out: Optional[_Arr] = ..., num_threads: _Threads = ...) -> _Arr: ...
def softmax(x: ArrayLike, axis: int = ..., *, out: Optional[_Arr] = ...,
            num_threads: _Threads = ...) -> _Arr: ...
def log_softmax(x: ArrayLike, axis: int = ..., *, out: Optional[_Arr] = ...,
                num_threads: _Threads = ...) -> _Arr: ...
def logsumexp(x: ArrayLike, axis: int = ..., *, num_threads: _Threads = ...) -> _Arr: ...

@overload
def softmax_cross_entropy(logits: ArrayLike, target: ArrayLike, *, axis: int = ...,
                          weight: Optional[ArrayLike] = ..., sample_weight: Optional[ArrayLike] = ...,
                          ignore_index: int = ..., label_smoothing: float = ...,
                          reduction: _Reduced = ..., base: _Base = ..., z_loss: float = ...,
                          softcap: Optional[float] = ..., temperature: float = ..., gamma: float = ...,
                          alpha: Optional[ArrayLike] = ..., return_grad: Literal[False] = ..., grad_out: None = ...,
                          num_threads: _Threads = ...) -> float: ...
@overload
def softmax_cross_entropy(logits: ArrayLike, target: ArrayLike, *, axis: int = ...,
                          weight: Optional[ArrayLike] = ..., sample_weight: Optional[ArrayLike] = ...,
                          ignore_index: int = ..., label_smoothing: float = ...,
                          reduction: Literal["none"], base: _Base = ..., z_loss: float = ...,
                          softcap: Optional[float] = ..., temperature: float = ..., gamma: float = ...,
                          alpha: Optional[ArrayLike] = ..., return_grad: Literal[False] = ..., grad_out: None = ...,
                          num_threads: _Threads = ...) -> _Arr: ...
@overload
def softmax_cross_entropy(logits: ArrayLike, target: ArrayLike, *, axis: int = ...,
                          weight: Optional[ArrayLike] = ..., sample_weight: Optional[ArrayLike] = ...,
                          ignore_index: int = ..., label_smoothing: float = ...,
                          reduction: _Reduced = ..., base: _Base = ..., z_loss: float = ...,
                          softcap: Optional[float] = ..., temperature: float = ..., gamma: float = ...,
                          alpha: Optional[ArrayLike] = ..., return_grad: Literal[True], grad_out: Optional[_Arr] = ...,
                          num_threads: _Threads = ...) -> tuple[float, _Arr]: ...
@overload
def softmax_cross_entropy(logits: ArrayLike, target: ArrayLike, *, axis: int = ...,
                          weight: Optional[ArrayLike] = ..., sample_weight: Optional[ArrayLike] = ...,
                          ignore_index: int = ..., label_smoothing: float = ...,
                          reduction: Literal["none"], base: _Base = ..., z_loss: float = ...,
                          softcap: Optional[float] = ..., temperature: float = ..., gamma: float = ...,
                          alpha: Optional[ArrayLike] = ..., return_grad: Literal[True], grad_out: Optional[_Arr] = ...,
                          num_threads: _Threads = ...) -> tuple[_Arr, _Arr]: ...

@overload
def sigmoid_binary_cross_entropy(logits: ArrayLike, target: ArrayLike, *,
                                 weight: Optional[ArrayLike] = ..., pos_weight: Optional[ArrayLike] = ...,
                                 label_smoothing: float = ..., gamma: float = ...,
                                 alpha: Optional[float] = ..., reduction: _Reduced = ...,
                                 base: _Base = ..., return_grad: Literal[False] = ...,
                                 grad_out: None = ..., num_threads: _Threads = ...) -> float: ...
@overload
def sigmoid_binary_cross_entropy(logits: ArrayLike, target: ArrayLike, *,
                                 weight: Optional[ArrayLike] = ..., pos_weight: Optional[ArrayLike] = ...,
                                 label_smoothing: float = ..., gamma: float = ...,
                                 alpha: Optional[float] = ..., reduction: Literal["none"],
                                 base: _Base = ..., return_grad: Literal[False] = ...,
                                 grad_out: None = ..., num_threads: _Threads = ...) -> _Arr: ...
@overload
def sigmoid_binary_cross_entropy(logits: ArrayLike, target: ArrayLike, *,
                                 weight: Optional[ArrayLike] = ..., pos_weight: Optional[ArrayLike] = ...,
                                 label_smoothing: float = ..., gamma: float = ...,
                                 alpha: Optional[float] = ..., reduction: _Reduced = ...,
                                 base: _Base = ..., return_grad: Literal[True],
                                 grad_out: Optional[_Arr] = ...,
                                 num_threads: _Threads = ...) -> tuple[float, _Arr]: ...
@overload
def sigmoid_binary_cross_entropy(logits: ArrayLike, target: ArrayLike, *,
                                 weight: Optional[ArrayLike] = ..., pos_weight: Optional[ArrayLike] = ...,
                                 label_smoothing: float = ..., gamma: float = ...,
                                 alpha: Optional[float] = ..., reduction: Literal["none"],
                                 base: _Base = ..., return_grad: Literal[True],
                                 grad_out: Optional[_Arr] = ...,
                                 num_threads: _Threads = ...) -> tuple[_Arr, _Arr]: ...

@overload
def cross_entropy(p: ArrayLike, q: ArrayLike, *, axis: int = ..., base: _Base = ...,
                  eps: Union[float, Literal["auto"]] = ..., reduction: _Reduced = ...) -> float: ...
@overload
def cross_entropy(p: ArrayLike, q: ArrayLike, *, axis: int = ..., base: _Base = ...,
                  eps: Union[float, Literal["auto"]] = ..., reduction: Literal["none"]) -> _Arr: ...
@overload
def binary_cross_entropy(prob: ArrayLike, target: ArrayLike, *, weight: Optional[ArrayLike] = ...,
                         base: _Base = ..., eps: Union[float, Literal["auto"]] = ...,
                         reduction: _Reduced = ...) -> float: ...
@overload
def binary_cross_entropy(prob: ArrayLike, target: ArrayLike, *, weight: Optional[ArrayLike] = ...,
                         base: _Base = ..., eps: Union[float, Literal["auto"]] = ...,
                         reduction: Literal["none"]) -> _Arr: ...

def evaluate(logits: ArrayLike, labels: ArrayLike, *, axis: int = ..., ignore_index: int = ...,
             sample_weight: Optional[ArrayLike] = ..., base: _Base = ..., topk: _TopK = ...,
             calibration_bins: Optional[int] = ..., calibration_strategy: _Strategy = ...,
             classwise_bins: Optional[int] = ..., per_class: _PerClass = ..., roc_bins: Optional[int] = ...,
             softcap: Optional[float] = ..., temperature: float = ..., num_threads: _Threads = ...) -> _Eval: ...

class Evaluator:
    axis: int
    ignore_index: int
    base: _Base
    k: float
    topk: tuple[int, ...]
    calibration_bins: Optional[int]
    calibration_strategy: _Strategy
    classwise_bins: Optional[int]
    per_class: _PerClass
    roc_bins: Optional[int]
    transform: LogitTransform
    num_threads: _Threads
    keep_rows: bool
    n_classes: Optional[int]
    sums: NDArray[np.float64]
    def __init__(self, *, axis: int = ..., ignore_index: int = ..., base: _Base = ..., topk: _TopK = ...,
                 calibration_bins: Optional[int] = ..., calibration_strategy: _Strategy = ...,
                 classwise_bins: Optional[int] = ..., per_class: _PerClass = ..., roc_bins: Optional[int] = ...,
                 softcap: Optional[float] = ..., temperature: float = ..., num_threads: _Threads = ...,
                 keep_rows: bool = ...) -> None: ...
    def update(self, logits: ArrayLike, labels: ArrayLike,
               sample_weight: Optional[ArrayLike] = ...) -> Evaluator: ...
    def merge(self, other: Evaluator) -> Evaluator: ...
    def result(self) -> _Eval: ...

def evaluate_file(logits_path: Union[str, os.PathLike[str]],
                  labels: Union[ArrayLike, str, os.PathLike[str]], *, batch_rows: int = ...,
                  progress: Union[None, bool, Callable[[int], Callable[[], object]]] = ...,
                  binary: bool = ..., **options: Any) -> Any: ...

def evaluate_binary(logits: ArrayLike, targets: ArrayLike, *, sample_weight: Optional[ArrayLike] = ...,
                    base: _Base = ..., calibration_bins: Optional[int] = ...,
                    calibration_strategy: _Strategy = ..., roc_bins: Optional[int] = ...,
                    num_threads: _Threads = ...) -> _BinEval: ...

class BinaryEvaluator:
    base: _Base
    k: float
    calibration_bins: Optional[int]
    calibration_strategy: _Strategy
    roc_bins: Optional[int]
    num_threads: _Threads
    sums: NDArray[np.float64]
    def __init__(self, *, base: _Base = ..., calibration_bins: Optional[int] = ...,
                 calibration_strategy: _Strategy = ..., roc_bins: Optional[int] = ...,
                 num_threads: _Threads = ...) -> None: ...
    def update(self, logits: ArrayLike, targets: ArrayLike,
               sample_weight: Optional[ArrayLike] = ...) -> BinaryEvaluator: ...
    def merge(self, other: BinaryEvaluator) -> BinaryEvaluator: ...
    def result(self) -> _BinEval: ...

# the block-level passes the public functions (and fusedxent.dask) are made of
def finish_loss(loss_sum: float, denominator: float, reduction: str, k: float) -> float: ...

class XentParts(NamedTuple):
    loss_sum: float
    weight_sum: float
    rows: Any
    grad: Any
    stats: Any = ...

class BCEParts(NamedTuple):
    loss_sum: float
    count: int  # type: ignore[assignment]  # the field shadows tuple.count, as at run time
    elements: Any
    grad: Any

class EvalParts(NamedTuple):
    sums: NDArray[np.float64]
    topk: tuple[int, ...]
    calibration: Optional[NDArray[np.float64]]
    per_class: Optional[NDArray[np.float64]]
    confusion: Optional[NDArray[np.float64]]
    lse: Any
    argmax: Any
    n_classes: int
    classwise: Optional[NDArray[np.float64]] = ...
    roc: Optional[NDArray[np.float64]] = ...
    @property
    def loss_sum(self) -> float: ...
    @property
    def weight_sum(self) -> float: ...
    @property
    def correct_sum(self) -> float: ...
    @property
    def count(self) -> int: ...  # type: ignore[override]  # shadows tuple.count, as at run time

class BinaryParts(NamedTuple):
    sums: NDArray[np.float64]
    calibration: Optional[NDArray[np.float64]]
    roc: Optional[NDArray[np.float64]] = ...

def xent_denominator(labels: Optional[NDArray[np.int64]], *, ignore_index: int,
                     weight: Optional[NDArray[np.float64]] = ..., sample_weight: Optional[NDArray[np.float64]] = ...,
                     rows: Optional[int] = ...) -> float: ...
def softmax_xent_parts(logits: ArrayLike, target: ArrayLike, options: XentOptions, *,
                       sample_weight: Optional[ArrayLike] = ..., want_grad: bool = ..., grad_out: Optional[_Arr] = ...,
                       grad_denominator: Optional[float] = ..., want_stats: bool = ...,
                       num_threads: _Threads = ...) -> XentParts: ...
def bce_parts(logits: ArrayLike, target: ArrayLike, *, weight: Optional[ArrayLike] = ...,
              pos_weight: Optional[ArrayLike] = ..., label_smoothing: float = ..., gamma: float = ...,
              alpha: Optional[float] = ..., reduction: str = ..., base: _Base = ..., want_grad: bool = ...,
              grad_out: Optional[_Arr] = ..., grad_count: Optional[int] = ...,
              num_threads: _Threads = ...) -> BCEParts: ...
def evaluate_parts(logits: ArrayLike, labels: ArrayLike, *, axis: int = ..., ignore_index: int = ...,
                   sample_weight: Optional[ArrayLike] = ..., topk: _TopK = ...,
                   calibration_bins: Optional[int] = ..., per_class: _PerClass = ...,
                   num_threads: _Threads = ..., n_classes: Optional[int] = ...,
                   transform: LogitTransform = ..., calibration_strategy: _Strategy = ...,
                   classwise_bins: Optional[int] = ..., roc_bins: Optional[int] = ...) -> EvalParts: ...
def check_classwise_bins(B: Optional[int], C: Optional[int] = ...) -> Optional[int]: ...
def check_ovr_bins(R: Optional[int], C: Optional[int] = ...) -> Optional[int]: ...
def classwise_from_sums(flat: NDArray[np.float64], C: int, B: int, total_weight: float) -> Any: ...
def evaluation_from_parts(sums: NDArray[np.float64], topk: tuple[int, ...],
                          calibration: Optional[NDArray[np.float64]] = ...,
                          per_class: Optional[NDArray[np.float64]] = ...,
                          confusion: Optional[NDArray[np.float64]] = ..., *, k: float = ..., base: _Base = ...,
                          lse: Optional[_Arr] = ..., argmax: Optional[NDArray[np.int64]] = ...,
                          calibration_bins: Optional[int] = ...,
                          calibration_strategy: _Strategy = ..., classwise: Optional[NDArray[np.float64]] = ...,
                          classwise_bins: Optional[int] = ..., roc: Optional[NDArray[np.float64]] = ...) -> _Eval: ...
def evaluate_binary_parts(logits: ArrayLike, targets: ArrayLike, *, sample_weight: Optional[ArrayLike] = ...,
                          calibration_bins: Optional[int] = ..., num_threads: _Threads = ...,
                          calibration_strategy: _Strategy = ..., roc_bins: Optional[int] = ...) -> BinaryParts: ...
def binary_evaluation_from_parts(sums: NDArray[np.float64], calibration: Optional[NDArray[np.float64]] = ..., *,
                                 k: float = ..., base: _Base = ..., calibration_bins: Optional[int] = ...,
                                 calibration_strategy: _Strategy = ...,
                                 roc: Optional[NDArray[np.float64]] = ...) -> _BinEval: ...
