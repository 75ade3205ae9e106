"""Result types of the public API.

They live apart from the kernels so that `fusedxent.reference` (which never
imports the kernels) returns the same types as `fusedxent`.
"""
from collections import namedtuple

Evaluation = namedtuple("Evaluation", ["loss", "accuracy", "count", "lse", "argmax"])
Evaluation.__doc__ = """Result of `evaluate`.

Attributes
----------
loss : float
    Mean cross-entropy (nats) over the rows counted, weighted.
accuracy : float
    Top-1 accuracy over the same rows and weights.
count : int
    Rows counted (label != ignore_index).
lse : ndarray or None
    Per-row logsumexp, the logits' dtype.
argmax : ndarray of int64 or None
    Per-row argmax (first index on ties, NumPy's rule).

In `fusedxent.dask` every field is a lazy Dask array.
"""
