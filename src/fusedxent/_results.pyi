# Result types (defined in _results.py).  Evaluation is generic so that
# fusedxent.dask can type its fields as lazy Dask arrays.
from typing import Generic, NamedTuple, TypeVar

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
