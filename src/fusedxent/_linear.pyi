# Public signature of fusedxent.linear_cross_entropy (defined and
# documented in _linear.py).
from typing import Any, Literal, NamedTuple, Optional, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._options import XentOptions
from ._results import LinearGrads

CHUNK_BUDGET: int
DW_SLICE_BYTES: int
_Arr = NDArray[np.floating]

def default_chunk_size(V_: int, itemsize: int, budget: int = ...) -> int: ...

@overload
def linear_cross_entropy(hidden: ArrayLike, linear_weight: ArrayLike, target: ArrayLike, *,
                         linear_bias: Optional[ArrayLike] = ..., weight: Optional[ArrayLike] = ...,
                         sample_weight: Optional[ArrayLike] = ..., ignore_index: int = ...,
                         label_smoothing: float = ..., reduction: Literal["mean", "sum"] = ...,
                         base: Optional[float] = ..., z_loss: float = ...,
                         softcap: Optional[float] = ..., temperature: float = ..., gamma: float = ...,
                         alpha: Optional[ArrayLike] = ..., return_grad: Literal[False] = ...,
                         chunk_size: Optional[int] = ..., num_threads: Optional[int] = ...) -> float: ...
@overload
def linear_cross_entropy(hidden: ArrayLike, linear_weight: ArrayLike, target: ArrayLike, *,
                         linear_bias: Optional[ArrayLike] = ..., weight: Optional[ArrayLike] = ...,
                         sample_weight: Optional[ArrayLike] = ..., ignore_index: int = ...,
                         label_smoothing: float = ..., reduction: Literal["none"],
                         base: Optional[float] = ..., z_loss: float = ...,
                         softcap: Optional[float] = ..., temperature: float = ..., gamma: float = ...,
                         alpha: Optional[ArrayLike] = ..., return_grad: Literal[False] = ...,
                         chunk_size: Optional[int] = ..., num_threads: Optional[int] = ...) -> _Arr: ...
@overload
def linear_cross_entropy(hidden: ArrayLike, linear_weight: ArrayLike, target: ArrayLike, *,
                         linear_bias: Optional[ArrayLike] = ..., weight: Optional[ArrayLike] = ...,
                         sample_weight: Optional[ArrayLike] = ..., ignore_index: int = ...,
                         label_smoothing: float = ..., reduction: Literal["mean", "sum"] = ...,
                         base: Optional[float] = ..., z_loss: float = ...,
                         softcap: Optional[float] = ..., temperature: float = ..., gamma: float = ...,
                         alpha: Optional[ArrayLike] = ..., return_grad: Literal[True],
                         chunk_size: Optional[int] = ...,
                         num_threads: Optional[int] = ...) -> tuple[float, LinearGrads]: ...
@overload
def linear_cross_entropy(hidden: ArrayLike, linear_weight: ArrayLike, target: ArrayLike, *,
                         linear_bias: Optional[ArrayLike] = ..., weight: Optional[ArrayLike] = ...,
                         sample_weight: Optional[ArrayLike] = ..., ignore_index: int = ...,
                         label_smoothing: float = ..., reduction: Literal["none"],
                         base: Optional[float] = ..., z_loss: float = ...,
                         softcap: Optional[float] = ..., temperature: float = ..., gamma: float = ...,
                         alpha: Optional[ArrayLike] = ..., return_grad: Literal[True],
                         chunk_size: Optional[int] = ...,
                         num_threads: Optional[int] = ...) -> tuple[_Arr, LinearGrads]: ...

class LinearParts(NamedTuple):
    loss_sum: float
    weight_sum: float
    rows: Any
    d_hidden: Any
    d_weight: Any
    d_bias: Any

def linear_xent_parts(h2: NDArray[Any], W: NDArray[Any], y: ArrayLike, b: Optional[NDArray[Any]] = ...,
                      options: Optional[XentOptions] = ..., *, hshape: Optional[tuple[int, ...]] = ...,
                      sample_weight: Optional[ArrayLike] = ..., want_grad: bool = ...,
                      grad_denominator: Optional[float] = ..., chunk_size: Optional[int] = ...,
                      num_threads: Optional[int] = ...) -> LinearParts: ...
