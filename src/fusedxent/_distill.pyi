# Public signature of fusedxent.distillation_loss (defined and documented
# in _distill.py).  Overloads: a float for "mean"/"sum", an array for
# "none", a (loss, grad) pair with return_grad=True.
from typing import Any, Literal, NamedTuple, Optional, Union, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _kernels
from ._options import DIVERGENCES as DIVERGENCES, TAILS as TAILS, DistillOptions, distill_options as distill_options
from ._teacher import SparseTeacher as SparseTeacher, dense_rows as dense_rows, sparse_rows as sparse_rows

_Arr = NDArray[np.floating[Any]]
_Div = Literal["kl", "reverse_kl", "jsd"]
_Tail = Literal["bucket", "renormalize"]
_Teacher = Union[ArrayLike, SparseTeacher]
_NPOLY: int
_SERIES_DEGREE: int

class DistillParts(NamedTuple):
    loss_sum: float
    weight_sum: float
    rows: Any
    grad: Any

def kernel_options(o: DistillOptions) -> _kernels.DistillOptions: ...
def distill_parts(student_logits: ArrayLike, teacher: _Teacher, options: DistillOptions, *,
                  target: Optional[ArrayLike] = ..., sample_weight: Optional[ArrayLike] = ...,
                  want_grad: bool = ..., grad_out: Optional[_Arr] = ..., grad_denominator: Optional[float] = ...,
                  num_threads: Optional[int] = ...) -> DistillParts: ...

@overload
def distillation_loss(student_logits: ArrayLike, teacher: _Teacher, *, axis: int = ..., temperature: float = ...,
                      divergence: _Div = ..., beta: float = ..., target: Optional[ArrayLike] = ...,
                      hard_weight: float = ..., soft_weight: float = ..., ignore_index: int = ...,
                      sample_weight: Optional[ArrayLike] = ..., reduction: Literal["mean", "sum"] = ...,
                      base: Optional[float] = ..., tail: _Tail = ..., return_grad: Literal[False] = ...,
                      grad_out: None = ...,
                      num_threads: Optional[int] = ...) -> float: ...
@overload
def distillation_loss(student_logits: ArrayLike, teacher: _Teacher, *, axis: int = ..., temperature: float = ...,
                      divergence: _Div = ..., beta: float = ..., target: Optional[ArrayLike] = ...,
                      hard_weight: float = ..., soft_weight: float = ..., ignore_index: int = ...,
                      sample_weight: Optional[ArrayLike] = ..., reduction: Literal["none"],
                      base: Optional[float] = ..., tail: _Tail = ..., return_grad: Literal[False] = ...,
                      grad_out: None = ...,
                      num_threads: Optional[int] = ...) -> _Arr: ...
@overload
def distillation_loss(student_logits: ArrayLike, teacher: _Teacher, *, axis: int = ..., temperature: float = ...,
                      divergence: _Div = ..., beta: float = ..., target: Optional[ArrayLike] = ...,
                      hard_weight: float = ..., soft_weight: float = ..., ignore_index: int = ...,
                      sample_weight: Optional[ArrayLike] = ..., reduction: Literal["mean", "sum"] = ...,
                      base: Optional[float] = ..., tail: _Tail = ..., return_grad: Literal[True],
                      grad_out: Optional[_Arr] = ..., num_threads: Optional[int] = ...) -> tuple[float, _Arr]: ...
@overload
def distillation_loss(student_logits: ArrayLike, teacher: _Teacher, *, axis: int = ..., temperature: float = ...,
                      divergence: _Div = ..., beta: float = ..., target: Optional[ArrayLike] = ...,
                      hard_weight: float = ..., soft_weight: float = ..., ignore_index: int = ...,
                      sample_weight: Optional[ArrayLike] = ..., reduction: Literal["none"],
                      base: Optional[float] = ..., tail: _Tail = ..., return_grad: Literal[True],
                      grad_out: Optional[_Arr] = ..., num_threads: Optional[int] = ...) -> tuple[_Arr, _Arr]: ...
@overload
def distillation_loss(student_logits: ArrayLike, teacher: _Teacher, *, axis: int = ..., temperature: float = ...,
                      divergence: _Div = ..., beta: float = ..., target: Optional[ArrayLike] = ...,
                      hard_weight: float = ..., soft_weight: float = ..., ignore_index: int = ...,
                      sample_weight: Optional[ArrayLike] = ..., reduction: str = ..., base: Optional[float] = ...,
                      tail: _Tail = ..., return_grad: bool = ..., grad_out: Optional[_Arr] = ...,
                      num_threads: Optional[int] = ...) -> Union[float, _Arr, tuple[Union[float, _Arr], _Arr]]: ...
