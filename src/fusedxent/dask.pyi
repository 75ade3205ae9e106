# Public signatures of fusedxent.dask (defined and documented in dask.py).
import os
from typing import Any, Literal, Optional, Union, overload

from dask.array import Array
from numpy.typing import ArrayLike

from ._results import BinaryEvaluation, Evaluation, LinearGrads, TemperatureFit
from ._teacher import SparseTeacher

__all__ = ["softmax", "log_softmax", "sigmoid", "log_sigmoid", "logsumexp",
           "softmax_cross_entropy", "sigmoid_binary_cross_entropy", "evaluate", "evaluate_binary",
           "linear_cross_entropy", "linear_evaluate", "fit_temperature", "distillation_loss",
           "linear_distillation_loss", "open_npy"]

_In = Union[Array, ArrayLike]
_Reduced = Literal["mean", "sum"]

def open_npy(path: Union[str, os.PathLike[str]], chunks: Any = ...) -> Array: ...
def sigmoid(x: _In, *, num_threads: Optional[int] = ...) -> Array: ...
def log_sigmoid(x: _In, *, num_threads: Optional[int] = ...) -> Array: ...
def softmax(x: _In, axis: int = ..., *, num_threads: Optional[int] = ...) -> Array: ...
def log_softmax(x: _In, axis: int = ..., *, num_threads: Optional[int] = ...) -> Array: ...
def logsumexp(x: _In, axis: int = ..., *, num_threads: Optional[int] = ...) -> Array: ...

@overload
def softmax_cross_entropy(logits: _In, target: _In, *, axis: int = ...,
                          weight: Optional[ArrayLike] = ..., sample_weight: Optional[_In] = ...,
                          ignore_index: int = ..., label_smoothing: float = ...,
                          reduction: Union[_Reduced, Literal["none"]] = ..., base: Optional[float] = ...,
                          z_loss: float = ...,
                          softcap: Optional[float] = ..., temperature: float = ..., gamma: float = ...,
                          alpha: Optional[ArrayLike] = ..., return_grad: Literal[False] = ...,
                          num_threads: Optional[int] = ...) -> Array: ...
@overload
def softmax_cross_entropy(logits: _In, target: _In, *, axis: int = ...,
                          weight: Optional[ArrayLike] = ..., sample_weight: Optional[_In] = ...,
                          ignore_index: int = ..., label_smoothing: float = ...,
                          reduction: Union[_Reduced, Literal["none"]] = ..., base: Optional[float] = ...,
                          z_loss: float = ...,
                          softcap: Optional[float] = ..., temperature: float = ..., gamma: float = ...,
                          alpha: Optional[ArrayLike] = ..., return_grad: Literal[True],
                          num_threads: Optional[int] = ...) -> tuple[Array, Array]: ...
@overload
def sigmoid_binary_cross_entropy(logits: _In, target: _In, *, weight: Optional[_In] = ...,
                                 pos_weight: Optional[_In] = ..., label_smoothing: float = ...,
                                 gamma: float = ..., alpha: Optional[float] = ...,
                                 reduction: Union[_Reduced, Literal["none"]] = ...,
                                 base: Optional[float] = ..., return_grad: Literal[False] = ...,
                                 num_threads: Optional[int] = ...) -> Array: ...
@overload
def sigmoid_binary_cross_entropy(logits: _In, target: _In, *, weight: Optional[_In] = ...,
                                 pos_weight: Optional[_In] = ..., label_smoothing: float = ...,
                                 gamma: float = ..., alpha: Optional[float] = ...,
                                 reduction: Union[_Reduced, Literal["none"]] = ...,
                                 base: Optional[float] = ..., return_grad: Literal[True],
                                 num_threads: Optional[int] = ...) -> tuple[Array, Array]: ...

def evaluate(logits: _In, labels: _In, *, axis: int = ..., ignore_index: int = ...,
             sample_weight: Optional[_In] = ..., base: Optional[float] = ...,
             topk: Union[int, tuple[int, ...], list[int]] = ..., calibration_bins: Optional[int] = ...,
             calibration_strategy: Literal["uniform", "quantile"] = ..., classwise_bins: Optional[int] = ...,
             per_class: Union[bool, Literal["confusion"]] = ..., roc_bins: Optional[int] = ...,
             softcap: Optional[float] = ..., temperature: float = ...,
             num_threads: Optional[int] = ...) -> Evaluation[Array, Array, Array, Array, Array]: ...
def evaluate_binary(logits: _In, targets: _In, *, sample_weight: Optional[_In] = ...,
                    base: Optional[float] = ..., calibration_bins: Optional[int] = ...,
             calibration_strategy: Literal["uniform", "quantile"] = ..., roc_bins: Optional[int] = ...,
                    num_threads: Optional[int] = ...) -> BinaryEvaluation[Array, Array, Array]: ...

def linear_cross_entropy(hidden: _In, linear_weight: ArrayLike, target: _In, *,
                         linear_bias: Optional[ArrayLike] = ..., weight: Optional[ArrayLike] = ...,
                         sample_weight: Optional[_In] = ..., ignore_index: int = ..., label_smoothing: float = ...,
                         reduction: Union[_Reduced, Literal["none"]] = ..., base: Optional[float] = ...,
                         z_loss: float = ...,
                         softcap: Optional[float] = ..., temperature: float = ..., gamma: float = ...,
                         alpha: Optional[ArrayLike] = ..., return_grad: bool = ..., return_stats: bool = ...,
                         chunk_size: Optional[int] = ..., num_threads: Optional[int] = ...,
                         compute_dtype: Optional[Literal["float32", "bfloat16"]] = ...) -> Any: ...
def linear_evaluate(hidden: _In, linear_weight: ArrayLike, labels: _In, *, linear_bias: Optional[ArrayLike] = ...,
                    ignore_index: int = ..., sample_weight: Optional[_In] = ..., base: Optional[float] = ...,
                    topk: Union[int, tuple[int, ...], list[int]] = ..., calibration_bins: Optional[int] = ...,
             calibration_strategy: Literal["uniform", "quantile"] = ..., classwise_bins: Optional[int] = ...,
                    per_class: Union[bool, Literal["confusion"]] = ..., roc_bins: Optional[int] = ...,
                    softcap: Optional[float] = ..., temperature: float = ..., chunk_size: Optional[int] = ...,
                    num_threads: Optional[int] = ...,
                    compute_dtype: Optional[Literal["float32", "bfloat16"]] = ...) -> Evaluation[Array, Array, Array, Array, Array]: ...

def fit_temperature(logits: _In, labels: _In, *, axis: int = ..., ignore_index: int = ...,
                    sample_weight: Optional[_In] = ..., binary: bool = ..., tol: float = ..., max_iter: int = ...,
                    num_threads: Optional[int] = ...) -> TemperatureFit: ...

_Div = Literal["kl", "reverse_kl", "jsd"]

@overload
def distillation_loss(student_logits: _In, teacher: Union[_In, SparseTeacher], *, axis: int = ..., temperature: float = ...,
                      divergence: _Div = ..., beta: float = ..., target: Optional[_In] = ...,
                      hard_weight: float = ..., soft_weight: float = ..., ignore_index: int = ...,
                      sample_weight: Optional[_In] = ..., reduction: Union[_Reduced, Literal["none"]] = ...,
                      base: Optional[float] = ..., tail: Literal["bucket", "renormalize"] = ...,
                      return_grad: Literal[False] = ...,
                      num_threads: Optional[int] = ...) -> Array: ...
@overload
def distillation_loss(student_logits: _In, teacher: Union[_In, SparseTeacher], *, axis: int = ..., temperature: float = ...,
                      divergence: _Div = ..., beta: float = ..., target: Optional[_In] = ...,
                      hard_weight: float = ..., soft_weight: float = ..., ignore_index: int = ...,
                      sample_weight: Optional[_In] = ..., reduction: Union[_Reduced, Literal["none"]] = ...,
                      base: Optional[float] = ..., tail: Literal["bucket", "renormalize"] = ...,
                      return_grad: Literal[True],
                      num_threads: Optional[int] = ...) -> tuple[Array, Array]: ...
@overload
def linear_distillation_loss(hidden: _In, linear_weight: ArrayLike, teacher: Union[_In, SparseTeacher], *,
                             linear_bias: Optional[ArrayLike] = ..., temperature: float = ..., divergence: _Div = ...,
                             beta: float = ..., target: Optional[_In] = ..., hard_weight: float = ...,
                             soft_weight: float = ..., ignore_index: int = ..., sample_weight: Optional[_In] = ...,
                             reduction: Union[_Reduced, Literal["none"]] = ..., base: Optional[float] = ...,
                             tail: Literal["bucket", "renormalize"] = ..., return_grad: Literal[False] = ...,
                             chunk_size: Optional[int] = ..., num_threads: Optional[int] = ...,
                             compute_dtype: Optional[Literal["float32", "bfloat16"]] = ...) -> Array: ...
@overload
def linear_distillation_loss(hidden: _In, linear_weight: ArrayLike, teacher: Union[_In, SparseTeacher], *,
                             linear_bias: Optional[ArrayLike] = ..., temperature: float = ..., divergence: _Div = ...,
                             beta: float = ..., target: Optional[_In] = ..., hard_weight: float = ...,
                             soft_weight: float = ..., ignore_index: int = ..., sample_weight: Optional[_In] = ...,
                             reduction: Union[_Reduced, Literal["none"]] = ..., base: Optional[float] = ...,
                             tail: Literal["bucket", "renormalize"] = ..., return_grad: Literal[True],
                             chunk_size: Optional[int] = ..., num_threads: Optional[int] = ...) -> tuple[Array, LinearGrads]: ...
