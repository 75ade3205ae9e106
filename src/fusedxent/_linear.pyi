# Public signature of fusedxent.linear_cross_entropy (defined and
# documented in _linear.py).
from typing import Any, Iterator, Literal, NamedTuple, Optional, Union, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._options import DistillOptions, XentOptions
from ._results import Evaluation, LinearGrads, RowStats
from ._teacher import SparseTeacher

_CDt = Optional[Literal["float32", "bfloat16"]]

CHUNK_BUDGET: int
DW_SLICE_BYTES: int
_Arr = NDArray[np.floating]

def default_chunk_size(V_: int, itemsize: int, budget: int = ...) -> int: ...
def block_rows(chunk_size: Optional[int], Vn: int, dt: Any, bf: Optional[_Bf16Head], want_grad: bool) -> int: ...
def narrow_grads(gs: list[Any], hshape: tuple[int, ...], hdtype: Any, W: _Arr, b: Optional[_Arr]) -> LinearGrads: ...
def logit_chunks(h2: _Arr, W: ArrayLike, b: Optional[ArrayLike], dt: Any, chunk_size: int,
                 bf16: Optional[_Bf16Head] = ...) -> Iterator[tuple[int, int, NDArray[Any], _Arr]]: ...

@overload
def linear_cross_entropy(hidden: ArrayLike, linear_weight: ArrayLike, target: ArrayLike, *,
                         linear_bias: Optional[ArrayLike] = ..., weight: Optional[ArrayLike] = ...,
                         sample_weight: Optional[ArrayLike] = ..., ignore_index: int = ...,
                         label_smoothing: float = ..., reduction: Literal["mean", "sum"] = ...,
                         base: Optional[float] = ..., z_loss: float = ...,
                         softcap: Optional[float] = ..., temperature: float = ..., gamma: float = ...,
                         alpha: Optional[ArrayLike] = ..., return_grad: Literal[False] = ...,
                         return_stats: Literal[False] = ..., chunk_size: Optional[int] = ..., num_threads: Optional[int] = ...,
                         compute_dtype: _CDt = ...) -> float: ...
@overload
def linear_cross_entropy(hidden: ArrayLike, linear_weight: ArrayLike, target: ArrayLike, *,
                         linear_bias: Optional[ArrayLike] = ..., weight: Optional[ArrayLike] = ...,
                         sample_weight: Optional[ArrayLike] = ..., ignore_index: int = ...,
                         label_smoothing: float = ..., reduction: Literal["none"],
                         base: Optional[float] = ..., z_loss: float = ...,
                         softcap: Optional[float] = ..., temperature: float = ..., gamma: float = ...,
                         alpha: Optional[ArrayLike] = ..., return_grad: Literal[False] = ...,
                         return_stats: Literal[False] = ..., chunk_size: Optional[int] = ..., num_threads: Optional[int] = ...,
                         compute_dtype: _CDt = ...) -> _Arr: ...
@overload
def linear_cross_entropy(hidden: ArrayLike, linear_weight: ArrayLike, target: ArrayLike, *,
                         linear_bias: Optional[ArrayLike] = ..., weight: Optional[ArrayLike] = ...,
                         sample_weight: Optional[ArrayLike] = ..., ignore_index: int = ...,
                         label_smoothing: float = ..., reduction: Literal["mean", "sum"] = ...,
                         base: Optional[float] = ..., z_loss: float = ...,
                         softcap: Optional[float] = ..., temperature: float = ..., gamma: float = ...,
                         alpha: Optional[ArrayLike] = ..., return_grad: Literal[True], return_stats: Literal[False] = ...,
                         chunk_size: Optional[int] = ...,
                         num_threads: Optional[int] = ...,
                         compute_dtype: _CDt = ...) -> tuple[float, LinearGrads]: ...
@overload
def linear_cross_entropy(hidden: ArrayLike, linear_weight: ArrayLike, target: ArrayLike, *,
                         linear_bias: Optional[ArrayLike] = ..., weight: Optional[ArrayLike] = ...,
                         sample_weight: Optional[ArrayLike] = ..., ignore_index: int = ...,
                         label_smoothing: float = ..., reduction: Literal["none"],
                         base: Optional[float] = ..., z_loss: float = ...,
                         softcap: Optional[float] = ..., temperature: float = ..., gamma: float = ...,
                         alpha: Optional[ArrayLike] = ..., return_grad: Literal[True], return_stats: Literal[False] = ...,
                         chunk_size: Optional[int] = ...,
                         num_threads: Optional[int] = ...,
                         compute_dtype: _CDt = ...) -> tuple[_Arr, LinearGrads]: ...

@overload
def linear_cross_entropy(hidden: ArrayLike, linear_weight: ArrayLike, target: ArrayLike, *,
                         linear_bias: Optional[ArrayLike] = ..., weight: Optional[ArrayLike] = ...,
                         sample_weight: Optional[ArrayLike] = ..., ignore_index: int = ...,
                         label_smoothing: float = ..., reduction: str = ...,
                         base: Optional[float] = ..., z_loss: float = ...,
                         softcap: Optional[float] = ..., temperature: float = ..., gamma: float = ...,
                         alpha: Optional[ArrayLike] = ..., return_grad: Literal[False] = ...,
                         return_stats: Literal[True], chunk_size: Optional[int] = ...,
                         num_threads: Optional[int] = ...,
                         compute_dtype: _CDt = ...) -> tuple[Union[float, _Arr], RowStats]: ...
@overload
def linear_cross_entropy(hidden: ArrayLike, linear_weight: ArrayLike, target: ArrayLike, *,
                         linear_bias: Optional[ArrayLike] = ..., weight: Optional[ArrayLike] = ...,
                         sample_weight: Optional[ArrayLike] = ..., ignore_index: int = ...,
                         label_smoothing: float = ..., reduction: str = ...,
                         base: Optional[float] = ..., z_loss: float = ...,
                         softcap: Optional[float] = ..., temperature: float = ..., gamma: float = ...,
                         alpha: Optional[ArrayLike] = ..., return_grad: Literal[True],
                         return_stats: Literal[True], chunk_size: Optional[int] = ...,
                         num_threads: Optional[int] = ...,
                         compute_dtype: _CDt = ...) -> tuple[Union[float, _Arr], LinearGrads, RowStats]: ...

def linear_evaluate(hidden: ArrayLike, linear_weight: ArrayLike, labels: ArrayLike, *,
                    linear_bias: Optional[ArrayLike] = ..., ignore_index: int = ...,
                    sample_weight: Optional[ArrayLike] = ..., base: Optional[float] = ...,
                    topk: Union[int, tuple[int, ...], list[int]] = ..., calibration_bins: Optional[int] = ...,
                    calibration_strategy: Literal["uniform", "quantile"] = ...,
                    classwise_bins: Optional[int] = ...,
                    per_class: Union[bool, Literal["confusion"]] = ..., roc_bins: Optional[int] = ...,
                    softcap: Optional[float] = ...,
                    temperature: float = ..., chunk_size: Optional[int] = ...,
                    num_threads: Optional[int] = ...,
                    compute_dtype: _CDt = ...) -> Evaluation[float, int, Optional[_Arr],
                                                                    Optional[NDArray[np.int64]],
                                                                    NDArray[np.float64]]: ...

class LinearParts(NamedTuple):
    loss_sum: float
    weight_sum: float
    rows: Any
    d_hidden: Any
    d_weight: Any
    d_bias: Any
    stats: Any = ...

def linear_xent_parts(h2: NDArray[Any], W: NDArray[Any], y: ArrayLike, b: Optional[NDArray[Any]] = ...,
                      options: Optional[XentOptions] = ..., *, hshape: Optional[tuple[int, ...]] = ...,
                      sample_weight: Optional[ArrayLike] = ..., want_grad: bool = ...,
                      grad_denominator: Optional[float] = ..., want_stats: bool = ...,
                      chunk_size: Optional[int] = ...,
                      num_threads: Optional[int] = ..., compute_dtype: _CDt = ...) -> LinearParts: ...

_Div = Literal["kl", "reverse_kl", "jsd"]
_Tail = Literal["bucket", "renormalize"]
_Teacher = Union[ArrayLike, SparseTeacher]

def linear_distill_parts(h2: _Arr, W: _Arr, b: Optional[_Arr], teacher: Any, options: DistillOptions, *,
                         labels: Optional[NDArray[np.int64]] = ..., sample_weight: Optional[NDArray[np.float64]] = ...,
                         want_grad: bool = ..., grad_denominator: Optional[float] = ..., chunk_size: Optional[int] = ...,
                         num_threads: Optional[int] = ..., compute_dtype: _CDt = ...) -> LinearParts: ...

class _Bf16Head:
    def __init__(self, W: _Arr, nt: Optional[int]) -> None: ...
    def logits(self, h: _Arr, out: NDArray[np.float32]) -> NDArray[np.uint16]: ...
    def add_grads(self, g: NDArray[np.float32], hb: NDArray[np.uint16], dh: NDArray[np.float32],
                  dW: NDArray[np.float32]) -> None: ...

def bf16_head(h2: _Arr, W: _Arr, num_threads: Optional[int],
              compute_dtype: _CDt = ...) -> tuple[Optional[_Bf16Head], _Arr, _Arr]: ...

class _GradSums:
    def __init__(self, N: int, H: int, Vn: int, dt: Any, bias: bool, W: _Arr,
                 bf16: Optional[_Bf16Head] = ...) -> None: ...
    def add(self, g: _Arr, hb: _Arr, r0: int, r1: int) -> None: ...
    def result(self) -> tuple[_Arr, _Arr, Optional[_Arr]]: ...

@overload
def linear_distillation_loss(hidden: ArrayLike, linear_weight: ArrayLike, teacher: _Teacher, *,
                             linear_bias: Optional[ArrayLike] = ..., temperature: float = ..., divergence: _Div = ...,
                             beta: float = ..., target: Optional[ArrayLike] = ..., hard_weight: float = ...,
                             soft_weight: float = ..., ignore_index: int = ..., sample_weight: Optional[ArrayLike] = ...,
                             reduction: Literal["mean", "sum"] = ..., base: Optional[float] = ..., tail: _Tail = ...,
                             return_grad: Literal[False] = ..., chunk_size: Optional[int] = ...,
                             num_threads: Optional[int] = ..., compute_dtype: _CDt = ...) -> float: ...
@overload
def linear_distillation_loss(hidden: ArrayLike, linear_weight: ArrayLike, teacher: _Teacher, *,
                             linear_bias: Optional[ArrayLike] = ..., temperature: float = ..., divergence: _Div = ...,
                             beta: float = ..., target: Optional[ArrayLike] = ..., hard_weight: float = ...,
                             soft_weight: float = ..., ignore_index: int = ..., sample_weight: Optional[ArrayLike] = ...,
                             reduction: Literal["none"], base: Optional[float] = ..., tail: _Tail = ...,
                             return_grad: Literal[False] = ..., chunk_size: Optional[int] = ...,
                             num_threads: Optional[int] = ..., compute_dtype: _CDt = ...) -> _Arr: ...
@overload
def linear_distillation_loss(hidden: ArrayLike, linear_weight: ArrayLike, teacher: _Teacher, *,
                             linear_bias: Optional[ArrayLike] = ..., temperature: float = ..., divergence: _Div = ...,
                             beta: float = ..., target: Optional[ArrayLike] = ..., hard_weight: float = ...,
                             soft_weight: float = ..., ignore_index: int = ..., sample_weight: Optional[ArrayLike] = ...,
                             reduction: str = ..., base: Optional[float] = ..., tail: _Tail = ...,
                             return_grad: Literal[True], chunk_size: Optional[int] = ...,
                             num_threads: Optional[int] = ...,
                             compute_dtype: _CDt = ...) -> tuple[Any, LinearGrads]: ...
