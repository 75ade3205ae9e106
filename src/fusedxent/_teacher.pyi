# Public type of fusedxent.SparseTeacher (defined and documented in _teacher.py).
from typing import Any, NamedTuple, Optional

import numpy as np
from numpy.typing import NDArray

PROB_SLACK: float

class SparseTeacher(NamedTuple):
    indices: Any
    logprobs: Any

def dense_rows(teacher: Any, shape: tuple[int, ...], ax: int, C: int) -> NDArray[np.floating[Any]]: ...
def sparse_rows(teacher: SparseTeacher, idx_shape: tuple[int, ...],
                C: int) -> tuple[NDArray[np.int64], NDArray[np.floating[Any]]]: ...
def teacher_operand(teacher: Any, x_shape: tuple[int, ...], ax: int, idx_shape: tuple[int, ...],
                    C: int) -> tuple[Optional[NDArray[np.int64]], NDArray[np.floating[Any]]]: ...
def distill_labels(target: Any, idx_shape: tuple[int, ...], C: int, options: Any) -> Optional[NDArray[np.int64]]: ...
