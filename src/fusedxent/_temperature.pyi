import os
from typing import Any, Callable, Optional, Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._results import TemperatureFit

WIDTH: int

_Sums = Callable[[float], NDArray[np.float64]]
_Path = Union[str, os.PathLike[str]]

def class_moments(logits: ArrayLike, labels: ArrayLike, *, axis: int = ..., ignore_index: int = ...,
                  sample_weight: Optional[ArrayLike] = ..., num_threads: Optional[int] = ...) -> _Sums: ...
def binary_moments(logits: ArrayLike, targets: ArrayLike, *, sample_weight: Optional[ArrayLike] = ...,
                   num_threads: Optional[int] = ...) -> _Sums: ...
def fit_options(tol: float, max_iter: int, binary: bool, ignore_index: int) -> tuple[float, int]: ...
def no_minimiser(toward_zero: bool) -> ValueError: ...
def fit(sums: _Sums, *, binary: bool, tol: float, max_iter: int) -> TemperatureFit: ...
def fit_temperature(logits: ArrayLike, labels: ArrayLike, *, axis: int = ..., ignore_index: int = ...,
                    sample_weight: Optional[ArrayLike] = ..., binary: bool = ..., tol: float = ...,
                    max_iter: int = ..., num_threads: Optional[int] = ...) -> TemperatureFit: ...
def fit_temperature_file(logits_path: _Path, labels: Union[ArrayLike, _Path], *, axis: int = ...,
                         ignore_index: int = ..., sample_weight: Union[None, ArrayLike, _Path] = ...,
                         binary: bool = ..., tol: float = ..., max_iter: int = ..., batch_rows: int = ...,
                         progress: Union[None, bool, Callable[[int], Callable[[], object]]] = ...,
                         num_threads: Optional[int] = ...) -> TemperatureFit: ...
