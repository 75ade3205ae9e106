# The reference mirrors the public API function for function, with the same
# signatures: its stub re-exports those of fusedxent._api for typing only
# (at run time reference.py is pure NumPy and never imports the kernels).
from typing import Generic, NamedTuple, TypeVar

from ._api import (
    binary_cross_entropy as binary_cross_entropy,
    cross_entropy as cross_entropy,
    evaluate as evaluate,
    log_sigmoid as log_sigmoid,
    log_softmax as log_softmax,
    logsumexp as logsumexp,
    sigmoid as sigmoid,
    sigmoid_binary_cross_entropy as sigmoid_binary_cross_entropy,
    softmax as softmax,
    softmax_cross_entropy as softmax_cross_entropy,
)

_F = TypeVar("_F")
_I = TypeVar("_I")
_R = TypeVar("_R")
_A = TypeVar("_A")

class Evaluation(NamedTuple, Generic[_F, _I, _R, _A]):
    """(loss, accuracy, count, lse, argmax): floats, an int and per-row
    arrays from fusedxent.evaluate; lazy Dask arrays from fusedxent.dask."""
    loss: _F
    accuracy: _F
    count: _I  # type: ignore[assignment]  # the field shadows tuple.count, as at run time
    lse: _R
    argmax: _A
