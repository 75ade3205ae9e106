"""The teacher operands of distillation -- dense logits, or a
`SparseTeacher` (top-k class ids and log-probabilities) -- and their
checks, shared by the kernels' caller, the reference and fusedxent.dask.
Kernel-free."""
from typing import Any, NamedTuple

import numpy as np

from . import _validate as V


class SparseTeacher(NamedTuple):
    """A teacher given by its top-k: class ids and their log-probabilities.

    What distillation pipelines store instead of the teacher's full logits
    (k = 64 of 32000 classes is 0.2 % of the bytes).

    Parameters
    ----------
    indices : array_like of int, shape (..., k)
        Class ids, distinct within a row, in [0, C); the leading shape is the
        student's without its class axis.
    logprobs : array_like of float, shape (..., k)
        The teacher's log-probabilities of those classes, as stored (the
        temperature applies to the student only); a row's probabilities
        must not sum above 1 beyond rounding (1e-3).
    """
    indices: Any
    logprobs: Any


PROB_SLACK = 1e-3           # a sparse teacher's stored probabilities may sum to 1 + this


def dense_rows(teacher, shape, ax, C):
    """A dense teacher's logits as (N, C) rows in the student's layout."""
    t = V.float_array(teacher, "teacher", allow_0d=False)
    if t.shape != shape:
        raise ValueError(f"teacher has shape {t.shape}, the student's logits {shape}: a dense teacher gives "
                         f"logits of the student's shape")
    return (t if ax == t.ndim - 1 else np.moveaxis(t, ax, -1)).reshape(-1, C)


def sparse_rows(teacher, idx_shape, C):
    """(indices (N, k) int64, logprobs (N, k) float) of a SparseTeacher,
    checked: shapes, k <= C, ids in range and distinct, probabilities not
    summing above 1 + PROB_SLACK (NaN rows are the data's)."""
    ind = np.asarray(teacher.indices)
    if ind.dtype.kind not in "iu":
        raise TypeError(f"SparseTeacher.indices must be integer class ids, got dtype {ind.dtype}")
    if ind.ndim != len(idx_shape) + 1 or ind.shape[:-1] != tuple(idx_shape) or ind.shape[-1] < 1:
        raise ValueError(f"SparseTeacher.indices must have shape {tuple(idx_shape)} + (k,) with k >= 1 (the "
                         f"student's shape without its class axis, then k), got {ind.shape}")
    k = ind.shape[-1]
    if k > C:
        raise ValueError(f"SparseTeacher has k={k} classes per row, more than the student's {C}")
    lp = V.float_array(teacher.logprobs, "SparseTeacher.logprobs")
    if lp.shape != ind.shape:
        raise ValueError(f"SparseTeacher.logprobs has shape {lp.shape}, its indices {ind.shape}")
    ind2 = ind.reshape(-1, k)
    lp2 = lp.reshape(-1, k)
    if ind2.size:
        lo, hi = ind2.min(), ind2.max()
        if lo < 0 or hi >= C:
            bad = np.argwhere((ind2 < 0) | (ind2 >= C))[0]
            raise ValueError(f"SparseTeacher.indices value {int(ind2[tuple(bad)])} in row {int(bad[0])} is out of "
                             f"range [0, {C})")
        srt = np.sort(ind2, axis=1)
        dup = (srt[:, 1:] == srt[:, :-1]).any(axis=1)
        if dup.any():
            row = int(np.argmax(dup))
            raise ValueError(f"SparseTeacher.indices repeat a class in row {row}: the k ids of a row must be "
                             f"distinct")
        with np.errstate(over="ignore", invalid="ignore"):
            tot = np.exp(lp2.astype(np.float64)).sum(axis=1)
        over = tot > 1.0 + PROB_SLACK
        if over.any():
            row = int(np.argmax(over))
            raise ValueError(f"SparseTeacher.logprobs of row {row} give probabilities summing to {tot[row]:.6g}, "
                             f"above 1 (beyond rounding, {PROB_SLACK:g})")
    return np.ascontiguousarray(ind2, dtype=np.int64), lp2


def teacher_operand(teacher, x_shape, ax, idx_shape, C):
    """(ind (N, k) int64 or None, rows): a SparseTeacher's checked ids and
    log-probabilities, or a dense teacher's (N, C) rows."""
    if isinstance(teacher, SparseTeacher):
        return sparse_rows(teacher, idx_shape, C)
    return None, dense_rows(teacher, x_shape, ax, C)


def distill_labels(target, idx_shape, C, options):
    """The hard term's labels, flat int64 (None without a target; an error
    when hard_weight needs one)."""
    if target is None:
        if options.hard_weight != 0:
            raise ValueError("hard_weight needs target (class indices)")
        return None
    ta = np.asarray(target)
    if ta.shape != tuple(idx_shape):
        raise ValueError(f"target must have shape {tuple(idx_shape)} (the logits' shape without axis), got {ta.shape}")
    return V.class_labels(ta, C, options.ignore_index)
