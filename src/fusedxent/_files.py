"""evaluate_file: logits from a `.npy` file that may not fit in memory."""
import numpy as np

from . import _validate as V
from ._evaluation import BinaryEvaluator, Evaluator


def _open_npy(path, what):
    V.npy_file(path, what)
    return np.load(path, mmap_mode="r")


def _is_path(a):
    return isinstance(a, (str, bytes)) or hasattr(a, "__fspath__")


def evaluate_file(logits_path, labels, *, batch_rows=65536, progress=None, binary=False, **options):
    """Evaluate a `.npy` file of logits that may not fit in memory.

    The file is opened with mmap_mode='r' and read `batch_rows` rows at a
    time through an `Evaluator` (a `BinaryEvaluator` with binary=True), so
    memory stays constant.  Both files are checked before any work.

    Parameters
    ----------
    logits_path : str or path-like
        A `.npy` file of 2-D (rows, classes) logits (binary: any shape,
        read along its first axis).
    labels : array_like or str or path-like
        Class indices, one per row (binary: targets of the logits' shape),
        or a `.npy` path (memory-mapped too).
    batch_rows : int
        Rows read per batch.
    progress : bool or callable, optional
        A tqdm progress bar when tqdm is installed: None shows it for runs
        of 8 batches or more, False never; or progress(total) returning a
        function called after each batch.
    binary : bool
        Sigmoid outputs: `evaluate_binary` per element.
    **options
        `Evaluator` (or `BinaryEvaluator`) options.

    Returns
    -------
    Evaluation or BinaryEvaluation
        With lse = argmax = None (per-row outputs are not kept).
    """
    # every check before any work: np.load's own errors on damaged files
    # name neither the file nor the problem
    x = _open_npy(logits_path, "logits")
    y = _open_npy(labels, "labels") if _is_path(labels) else np.asarray(labels)
    check_file_operands(x, y, binary, options.get("axis", -1), "evaluate_file")
    ev = BinaryEvaluator(**options) if binary else Evaluator(keep_rows=False, **options)
    n = x.shape[0] if x.ndim else 1
    batch_rows = V.positive_int(batch_rows, "batch_rows")
    starts, tick = _progress(range(0, n, batch_rows), progress, "evaluate_file")
    for r0 in starts:
        try:
            if x.ndim:
                ev.update(x[r0:r0 + batch_rows], y[r0:r0 + batch_rows])
            else:
                ev.update(x, y)
        except ValueError as e:              # a bad label: say where in the file it is
            raise ValueError(f"in rows {r0}..{min(r0 + batch_rows, n) - 1} of the file (indices below count "
                             f"from row {r0}): {e}") from None
        if tick:
            tick()
    return ev.result()


def check_file_operands(x, y, binary, axis, name):
    """The memory-mapped logits and their labels (targets) checked before
    any work, without reading them: dtypes and shapes.  Returns the class
    axis (None for binary)."""
    V.float_array(x[:0] if x.ndim else x, "logits")
    if binary:
        V.bce_target(y[:0] if y.ndim else y, x[:0].shape if x.ndim else x.shape)
        if y.shape != x.shape:
            raise ValueError(f"targets must have the logits' shape {x.shape}, got {y.shape}")
        return None
    if x.ndim < 2:
        raise ValueError(f"{name} reads (rows, ..., classes) logits of 2 or more dimensions, got shape {x.shape}")
    ax = V.axis_index(axis, x.ndim)
    if ax == 0:
        raise ValueError(f"{name} streams the first axis of the logits: the class axis must be another")
    want = x.shape[:ax] + x.shape[ax + 1:]
    if y.shape != want:
        raise ValueError(f"labels must have shape {want} (the logits' shape without axis {ax}), got {y.shape}")
    V.class_labels(y[:0], 1, 0, name="labels")     # the dtype: integer class indices
    return ax


def _progress(starts, progress, desc):
    """(iterable over starts, tick or None): progress False: none; a
    callable: progress(total) returns the tick called after each batch;
    else a tqdm bar when tqdm is installed (None: only for 8 batches or
    more)."""
    if callable(progress):
        return starts, progress(len(starts))
    if progress is not False:
        try:
            from tqdm.auto import tqdm
            return tqdm(starts, total=len(starts), unit="batch", desc=desc,
                        disable=progress is None and len(starts) < 8), None
        except ImportError:
            pass
    return starts, None
