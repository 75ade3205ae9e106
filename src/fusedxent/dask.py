"""fusedxent on Dask arrays: the same functions, lazy, block by block.

Install with ``pip install "fusedxent[dask]"``.  Each function takes
``dask.array`` (or anything `dask.array.asarray` accepts) with the options
of its in-memory twin and returns lazy Dask results: arrays for per-row or
per-element outputs, 0-d arrays for reduced losses.  Nothing runs until
``.compute()`` / ``dask.compute(...)``, on whatever scheduler is active
(threads, processes or a ``dask.distributed`` cluster).

Chunks: batch axes may be chunked any way.  Softmax-type functions need a
whole row in one block, so the class axis is rechunked to a single chunk
(``x.rechunk({axis: -1})``, the batch chunks are kept: size them so one
block of whole rows fits in a worker's memory).  Targets and weights are
rechunked to the logits' chunks.

Exactness: every block calls the compiled kernel and returns its partial
sums in double (loss sum and weight sum; for `evaluate` the evaluator's
four partials); Dask adds them in a tree and the loss is formed once at the
root, so a reduced loss equals the in-memory one to rounding (1e-12
relative), whatever the chunking.  Gradients (``return_grad=True``) are
computed blockwise with the *global* scale -- for ``reduction="mean"`` the
denominator is reduced first from the labels and weights alone, which does
not read the logits -- so they equal the in-memory gradient element for
element when that denominator is a count (no weights), and to one ulp with
weights (their sum is added in another order).  Each block's loss partials and gradient come from one kernel
call: the logits are read once.

Validation: shapes, dtypes and options are checked when the graph is built
(the same messages as the in-memory functions); checks that need the
values (labels in range) run inside the tasks and raise at compute time.
Weights are not checked for sign, here or in memory: negative weights are
used as given (scikit-learn accepts them too).

Threads: each task runs the kernel with `num_threads` OpenMP threads
(default: the OpenMP maximum).  ``dask.distributed`` worker processes start
with ``OMP_NUM_THREADS=1``, so a cluster parallelizes across its workers.
"""
import dataclasses
import math
import operator
import os

import numpy as np

try:
    import dask.array as da
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise ImportError('fusedxent.dask needs Dask: pip install "fusedxent[dask]"') from e

from . import _api
from . import _validate as V
from . import _linear
from . import _calibration
from . import _temperature
from . import _distill
from . import _teacher
from ._options import distill_options, xent_options
from ._results import (ROC, BinaryEvaluation, Calibration, Classwise, Evaluation, LinearGrads, OneVsRest, PerClass,
                       RowStats)

__all__ = ["softmax", "log_softmax", "sigmoid", "log_sigmoid", "logsumexp",
           "softmax_cross_entropy", "sigmoid_binary_cross_entropy", "evaluate", "evaluate_binary",
           "linear_cross_entropy", "linear_evaluate", "fit_temperature", "distillation_loss",
           "linear_distillation_loss", "open_npy"]


# ------------------------------------------------------------------ reading .npy files in the workers

class _NpyFile:
    """What `dask.array.from_array` needs of an array -- shape, dtype, ndim
    and slicing -- for a `.npy` file that is memory-mapped afresh at each
    read.  The graph carries the path, not the data (wrapping an open
    np.memmap instead pickles its bytes into the graph), and each worker
    reads only its own blocks."""

    def __init__(self, path):
        self.path = os.fspath(path)
        V.npy_file(self.path, "the")       # damaged or foreign files: a clear error at graph time
        a = np.load(self.path, mmap_mode="r")
        self.shape, self.dtype, self.ndim = a.shape, a.dtype, a.ndim

    def __getitem__(self, key):
        return np.load(self.path, mmap_mode="r")[key]


def open_npy(path, chunks=None):
    """A lazy Dask array over a `.npy` file, read by the workers.

    Parameters
    ----------
    path : str or path-like
        The file; every worker must see it at the same path.
    chunks : optional
        As for `dask.array.from_array`; by default rows are chunked "auto"
        (Dask's `array.chunk-size`) and every other axis is whole, so a
        block holds complete rows.

    Returns
    -------
    dask.array.Array
        The file's shape and dtype; the graph carries the path, not the data.
    """
    f = _NpyFile(path)
    if chunks is None:
        chunks = {0: "auto", **{i: -1 for i in range(1, f.ndim)}}
    return da.from_array(f, chunks=chunks, name=f"npy-{f.path}-{os.stat(f.path).st_mtime_ns}",
                         meta=np.empty((0,) * f.ndim, f.dtype))


# ------------------------------------------------------------------ graph-time checks

def _known_shape(a, name):
    if any(np.isnan(s) for s in a.shape):
        raise ValueError(f"{name} has unknown chunk sizes {a.shape}; call .compute_chunk_sizes() first")


def _float_dask(x, name, allow_0d=True):
    """`x` as a dask array of float16/32/64, with the in-memory dtype rules."""
    if x is None:
        raise TypeError(f"{name} must be an array of numbers, not None")
    a = da.asarray(x)
    _known_shape(a, name)
    if a.dtype.kind in "biu" or (a.dtype.kind == "f" and a.dtype.itemsize > 8):
        a = a.astype(np.float64)
    else:
        V.float_array(_stand_in(a), name)         # raises the in-memory TypeError
        if not a.dtype.isnative:
            a = a.astype(a.dtype.newbyteorder("="))
    if not allow_0d and a.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension (the class axis), got a 0-d array")
    return a


def _stand_in(a):
    """A zero-byte NumPy array with `a`'s shape and dtype, so the in-memory
    validators check a Dask array's metadata with their own messages."""
    return np.broadcast_to(np.zeros((), a.dtype), a.shape)


def _optional_dask(a, name):
    if a is None:
        return None
    d = da.asarray(a)
    _known_shape(d, name)
    return d


def _logits(logits, axis, allow_empty=False):
    x = _float_dask(logits, "logits", allow_0d=False)
    ax = V.axis_index(axis, x.ndim)
    if x.shape[ax] == 0 and not allow_empty:
        raise ValueError(f"logits has zero classes along axis {axis}")
    if len(x.chunks[ax]) > 1:
        x = x.rechunk({ax: -1})
    return x, ax


def _broadcast_like(w, x):
    """`w` broadcast to `x`'s shape and chunks (its own axes rechunked to
    match, so every block is a broadcast view, never a materialized copy)."""
    lead = x.ndim - w.ndim
    w = w.rechunk(tuple((1,) if s == 1 else x.chunks[lead + i] for i, s in enumerate(w.shape)))
    return da.broadcast_to(w, x.shape, chunks=x.chunks)


def _batch_chunks(x, ax):
    return tuple(c for i, c in enumerate(x.chunks) if i != ax)


# ------------------------------------------------------------------ one task per block, several outputs

def _tuple_blocks(func, x, args, **kwargs):
    """One task per block of `x` computing a tuple of outputs.  `args` are
    (array or None, index) pairs in `x`'s index space (axes numbered 0..nd-1);
    every output is then taken from the tuple with `_take`, so inputs are
    read once however many outputs there are."""
    nd = x.ndim
    flat = [x, tuple(range(nd))]
    for a, ind in args:
        flat += [a, ind if a is not None else None]
    return da.blockwise(func, tuple(range(nd)), *flat, concatenate=True,
                        meta=np.empty((0,) * nd, dtype=object), **kwargs)


def _take(tup, i, dtype, drop_axis=None, parts=None):
    """Output `i` of `_tuple_blocks`: shaped like the block (drop_axis
    removed), or, with parts=P, a (1, ..., 1, P) block of partial sums."""
    if parts is not None:
        chunks = tuple((1,) * len(c) for c in tup.chunks) + ((parts,),)
        return tup.map_blocks(operator.getitem, i, new_axis=tup.ndim, chunks=chunks, dtype=dtype,
                              meta=np.empty((0,) * (tup.ndim + 1), dtype))
    if drop_axis is None:
        return tup.map_blocks(operator.getitem, i, dtype=dtype, meta=np.empty((0,) * tup.ndim, dtype))
    # the dropped (class) axis is one chunk: the task sees a list of one tuple
    out_ind = tuple(j for j in range(tup.ndim) if j != drop_axis)
    return da.blockwise(_item_of_only, out_ind, tup, tuple(range(tup.ndim)), i, None,
                        concatenate=False, dtype=dtype, meta=np.empty((0,) * len(out_ind), dtype))


def _item_of_only(blocks, i):
    (block,) = blocks
    return block[i]


def _tree_sum(parts):
    """Sum (1, ..., 1, P) partial blocks over every block: Dask's tree
    reduction, in double.  Returns a (P,) array in one chunk."""
    return parts.sum(axis=tuple(range(parts.ndim - 1)), dtype=np.float64)


def _scalar(total, func, dtype=np.float64, **kwargs):
    """A 0-d Dask array func(total_block, **kwargs) from a one-chunk (P,) array."""
    return total.map_blocks(func, drop_axis=0, dtype=dtype, meta=np.empty((), dtype), **kwargs)


# ------------------------------------------------------------------ normalizers

def sigmoid(x, *, num_threads=None):
    """Lazy `fusedxent.sigmoid`, block by block (any chunking).

    Parameters
    ----------
    x : dask.array.Array or array_like
        Any shape and chunking.
    num_threads : int, optional
        OpenMP threads per task; default: the OpenMP default (1 in
        dask.distributed workers).

    Returns
    -------
    dask.array.Array
        x's shape, chunks and float dtype.
    """
    x = _float_dask(x, "x")
    return x.map_blocks(_api.sigmoid, num_threads=V.num_threads(num_threads), dtype=x.dtype,
                        meta=np.empty((0,) * x.ndim, x.dtype))


def log_sigmoid(x, *, num_threads=None):
    """Lazy `fusedxent.log_sigmoid`, block by block (any chunking).

    Parameters
    ----------
    x : dask.array.Array or array_like
        Any shape and chunking.
    num_threads : int, optional
        OpenMP threads per task; default: the OpenMP default (1 in
        dask.distributed workers).

    Returns
    -------
    dask.array.Array
        x's shape, chunks and float dtype.
    """
    x = _float_dask(x, "x")
    return x.map_blocks(_api.log_sigmoid, num_threads=V.num_threads(num_threads), dtype=x.dtype,
                        meta=np.empty((0,) * x.ndim, x.dtype))


def _rowwise(func, x, axis, num_threads, drop):
    x, ax = _logits(x, axis, allow_empty=True)    # no classes: SciPy's empty results, as in memory
    nd = x.ndim - drop
    return x.map_blocks(func, axis=ax, num_threads=V.num_threads(num_threads), dtype=x.dtype,
                        drop_axis=ax if drop else None, meta=np.empty((0,) * nd, x.dtype))


def softmax(x, axis=-1, *, num_threads=None):
    """Lazy `fusedxent.softmax`, block by block.

    Parameters
    ----------
    x : dask.array.Array or array_like
        At least 1-D; batch axes chunked any way.
    axis : int
        The class axis; rechunked to a single chunk.
    num_threads : int, optional
        OpenMP threads per task; default: the OpenMP default (1 in
        dask.distributed workers).

    Returns
    -------
    dask.array.Array
        x's shape and float dtype; the class axis in one chunk.
    """
    return _rowwise(_api.softmax, x, axis, num_threads, False)


def log_softmax(x, axis=-1, *, num_threads=None):
    """Lazy `fusedxent.log_softmax`, block by block.

    Parameters
    ----------
    x : dask.array.Array or array_like
        At least 1-D; batch axes chunked any way.
    axis : int
        The class axis; rechunked to a single chunk.
    num_threads : int, optional
        OpenMP threads per task; default: the OpenMP default (1 in
        dask.distributed workers).

    Returns
    -------
    dask.array.Array
        x's shape and float dtype; the class axis in one chunk.
    """
    return _rowwise(_api.log_softmax, x, axis, num_threads, False)


def logsumexp(x, axis=-1, *, num_threads=None):
    """Lazy `fusedxent.logsumexp`, block by block.

    Parameters
    ----------
    x : dask.array.Array or array_like
        At least 1-D; batch axes chunked any way.
    axis : int
        The class axis; rechunked to a single chunk.
    num_threads : int, optional
        OpenMP threads per task; default: the OpenMP default (1 in
        dask.distributed workers).

    Returns
    -------
    dask.array.Array
        x's shape without `axis`, x's float dtype.
    """
    return _rowwise(_api.logsumexp, x, axis, num_threads, True)


# ------------------------------------------------------------------ softmax cross-entropy

def _xent_denominator_block(y, sw, *, nd, weight, ignore_index, n_classes):
    """(1, ..., 1, 1) block: the mean's denominator over this block's rows."""
    sw = None if sw is None else np.asarray(sw, np.float64).reshape(-1)
    yv = None if y is None else V.class_labels(y, n_classes, ignore_index)
    d = _api.xent_denominator(yv, ignore_index=ignore_index, weight=weight, sample_weight=sw)
    return np.full((1,) * nd + (1,), d)


def _xent_block(x, t, sw, denom, *, want_grad, options, num_threads):
    p = _api.softmax_xent_parts(x, t, options, sample_weight=sw, want_grad=want_grad,
                                grad_denominator=None if denom is None else float(denom), num_threads=num_threads)
    return p.grad, p.rows, np.array([p.loss_sum, p.weight_sum]).reshape((1,) * x.ndim + (2,))


def _finish_mean_or_sum(total, *, reduction, k):
    return np.float64(_api.finish_loss(float(total[0]), float(total[1]), reduction, k))


def softmax_cross_entropy(logits, target, *, axis=-1, weight=None, sample_weight=None,
                          ignore_index=-100, label_smoothing=0.0, reduction="mean",
                          base=None, z_loss=0.0, softcap=None, temperature=1.0, gamma=0.0, alpha=None,
                          return_grad=False, num_threads=None):
    """Lazy `fusedxent.softmax_cross_entropy` over Dask arrays.

    Parameters
    ----------
    logits : dask.array.Array or array_like
        Class scores; batch axes chunked any way, the class axis is
        rechunked to one chunk.
    target : dask.array.Array or array_like
        Integer class indices (the logits' shape without `axis`) or float
        probabilities (the logits' shape); rechunked to match.
    axis, weight, ignore_index, label_smoothing, reduction, base, z_loss, softcap, temperature, gamma, alpha, num_threads :
        As in `fusedxent.softmax_cross_entropy`; `weight` and `alpha` are NumPy vectors.
    sample_weight : dask.array.Array or array_like, optional
        Per-row weights, rechunked like the rows.
    return_grad : bool
        Also return the gradient, computed blockwise with the global scale.
        (No `grad_out`: Dask arrays are immutable.)

    Returns
    -------
    loss : dask.array.Array
        0-d for "mean"/"sum" (float64), per-row losses for "none".
    grad : dask.array.Array, only with return_grad
        The in-memory gradient: bitwise without weights, to one ulp with
        weights (the mean's denominator is summed in another order).
    """
    o = xent_options(axis=axis, weight=weight, ignore_index=ignore_index, label_smoothing=label_smoothing,
                     reduction=reduction, base=base, z_loss=z_loss, softcap=softcap, temperature=temperature,
                     gamma=gamma, alpha=alpha)
    x, ax = _logits(logits, o.axis)
    C = x.shape[ax]
    nd = x.ndim
    b_ind = tuple(i for i in range(nd) if i != ax)
    reduction, k = o.reduction, o.k
    w = o.class_weight(C)
    o.class_alpha(C)
    o = dataclasses.replace(o, axis=ax)     # the blocks' axis, non-negative
    nt = V.num_threads(num_threads)
    t = _optional_dask(target, "target")
    if t is None:
        raise TypeError("target must be integer class indices or float probabilities, not None")
    idx_shape = tuple(s for i, s in enumerate(x.shape) if i != ax)
    kind, _ = V.target_kind(_stand_in(t), x.shape, idx_shape, ax)
    sw = _optional_dask(sample_weight, "sample_weight")
    if sw is not None:
        V.check_sample_weight(sw, idx_shape)
        sw = sw.rechunk(_batch_chunks(x, ax))
    if kind == "index":
        t, t_ind = t.rechunk(_batch_chunks(x, ax)), b_ind
    else:
        t, t_ind = t.rechunk(x.chunks), tuple(range(nd))

    denom, d_ind = None, None
    if return_grad and reduction == "mean" and kind != "index" and sw is None:
        denom, d_ind = da.asarray(np.float64(np.prod(idx_shape, dtype=np.float64))), ()
    elif return_grad and reduction == "mean":
        # the gradient's global scale, from labels and weights only
        dparts = da.blockwise(
            _xent_denominator_block, b_ind + (nd,),
            t if kind == "index" else None, b_ind if kind == "index" else None,
            sw, b_ind if sw is not None else None,
            nd=len(b_ind), weight=w, ignore_index=o.ignore_index, n_classes=C,
            new_axes={nd: 1}, adjust_chunks={i: 1 for i in b_ind}, dtype=np.float64,
            meta=np.empty((0,) * (len(b_ind) + 1)))
        denom, d_ind = _scalar(_tree_sum(dparts), operator.itemgetter(0)), ()
    tup = _tuple_blocks(_xent_block, x, [(t, t_ind), (sw, b_ind), (denom, d_ind)],
                        want_grad=bool(return_grad), options=o, num_threads=nt)
    if reduction == "none":
        loss = _take(tup, 1, x.dtype, drop_axis=ax)
    else:
        total = _tree_sum(_take(tup, 2, np.float64, parts=2))
        loss = _scalar(total, _finish_mean_or_sum, reduction=reduction, k=k)
    if not return_grad:
        return loss
    return loss, _take(tup, 0, x.dtype)


# ------------------------------------------------------------------ distillation

def _lazy_teacher(teacher, shape, chunks, idx_shape, bchunks, C):
    """(dense, indices, logprobs), the other two None: a dense teacher of
    the student logits' `shape`, rechunked to `chunks`; or a
    SparseTeacher's arrays, (idx_shape + (k,)), rechunked like the rows
    (`bchunks`) with k in one chunk -- checked as in memory (the ids'
    values and sums in the tasks)."""
    if not isinstance(teacher, _teacher.SparseTeacher):
        t = _float_dask(teacher, "teacher", allow_0d=False)
        if t.shape != tuple(shape):
            raise ValueError(f"teacher has shape {t.shape}, the student's logits {tuple(shape)}: a dense teacher "
                             f"gives logits of the student's shape")
        return t.rechunk(chunks), None, None
    ind = _optional_dask(teacher.indices, "SparseTeacher.indices")
    lp = _float_dask(teacher.logprobs, "SparseTeacher.logprobs", allow_0d=False)
    if ind.dtype.kind not in "iu":
        raise TypeError(f"SparseTeacher.indices must be integer class ids, got dtype {ind.dtype}")
    if ind.ndim != len(idx_shape) + 1 or ind.shape[:-1] != tuple(idx_shape) or ind.shape[-1] < 1:
        raise ValueError(f"SparseTeacher.indices must have shape {tuple(idx_shape)} + (k,) with k >= 1 (the "
                         f"student's shape without its class axis, then k), got {ind.shape}")
    if ind.shape[-1] > C:
        raise ValueError(f"SparseTeacher has k={ind.shape[-1]} classes per row, more than the student's {C}")
    if lp.shape != ind.shape:
        raise ValueError(f"SparseTeacher.logprobs has shape {lp.shape}, its indices {ind.shape}")
    return None, ind.rechunk(tuple(bchunks) + (-1,)), lp.rechunk(tuple(bchunks) + (-1,))


def _distill_denominator_block(y, sw, *, nd, ignore_index):
    """(1, ..., 1, 1) block: the sum of the counted rows' weights."""
    w = np.ones(np.shape(y if y is not None else sw)) if sw is None else np.asarray(sw, np.float64)
    if y is not None:
        w = np.where(np.asarray(y) != ignore_index, w, 0.0)
    return np.full((1,) * nd + (1,), float(np.sum(w)))


def _distill_denominator(y, sw, idx_shape, b_ind, ignore_index):
    """The mean's global denominator (0-d): the counted rows' weights summed
    over the blocks (y, sw indexed b_ind, either None), or the row count."""
    if y is None and sw is None:
        return da.asarray(np.float64(math.prod(idx_shape)))
    new = 1 + max(b_ind, default=-1)          # an index of its own: the blocks' partial sums
    dparts = da.blockwise(_distill_denominator_block, b_ind + (new,), y, b_ind if y is not None else None,
                          sw, b_ind if sw is not None else None, nd=len(b_ind), ignore_index=ignore_index,
                          new_axes={new: 1}, adjust_chunks={i: 1 for i in b_ind}, dtype=np.float64,
                          meta=np.empty((0,) * (len(b_ind) + 1)))
    return _scalar(_tree_sum(dparts), operator.itemgetter(0))


def _distill_block(x, t, ind, lp, y, sw, denom, *, want_grad, options, num_threads):
    if t is None:
        t = _teacher.SparseTeacher(ind, lp)
    p = _distill.distill_parts(x, t, options, target=y, sample_weight=sw, want_grad=want_grad,
                               grad_denominator=None if denom is None else float(denom), num_threads=num_threads)
    return p.grad, p.rows, np.array([p.loss_sum, p.weight_sum]).reshape((1,) * x.ndim + (2,))


def distillation_loss(student_logits, teacher, *, axis=-1, temperature=1.0, divergence="kl", beta=0.5,
                      target=None, hard_weight=0.0, soft_weight=1.0, ignore_index=-100, sample_weight=None,
                      reduction="mean", base=None, tail="bucket", return_grad=False, num_threads=None):
    """Lazy `fusedxent.distillation_loss` over Dask arrays.

    Parameters
    ----------
    student_logits : dask.array.Array or array_like
        The student's class scores; batch axes chunked any way, the class
        axis is rechunked to one chunk.
    teacher : dask.array.Array or array_like, or SparseTeacher
        The teacher's logits, the student's shape, rechunked like it; or a
        `fusedxent.SparseTeacher` of (Dask) arrays, rechunked like the rows
        with k in one chunk.
    target, sample_weight : dask.array.Array or array_like, optional
        Class indices and per-row weights (the logits' shape without
        `axis`), rechunked like the rows.
    axis, temperature, divergence, beta, hard_weight, soft_weight, ignore_index, reduction, base, tail, num_threads :
        As in `fusedxent.distillation_loss`.
    return_grad : bool
        Also return the gradient, computed blockwise with the global scale.
        (No `grad_out`: Dask arrays are immutable.)

    Returns
    -------
    loss : dask.array.Array
        0-d for "mean"/"sum" (float64), per-row losses for "none".
    grad : dask.array.Array, only with return_grad
    """
    o = distill_options(axis=axis, temperature=temperature, divergence=divergence, beta=beta,
                        hard_weight=hard_weight, soft_weight=soft_weight, ignore_index=ignore_index,
                        reduction=reduction, base=base, tail=tail)
    x = _float_dask(student_logits, "student_logits", allow_0d=False)
    ax = V.axis_index(axis, x.ndim)
    if x.shape[ax] == 0:
        raise ValueError(f"student_logits has zero classes along axis {axis}")
    if len(x.chunks[ax]) > 1:
        x = x.rechunk({ax: -1})
    o = o._replace(axis=ax)                 # the blocks' axis, non-negative
    nd = x.ndim
    b_ind = tuple(i for i in range(nd) if i != ax)
    idx_shape = tuple(s for i, s in enumerate(x.shape) if i != ax)
    nt = V.num_threads(num_threads)
    k_ind = b_ind + (nd,)                   # a sparse teacher's k axis: its own index, one chunk
    t, ind, lp = _lazy_teacher(teacher, x.shape, x.chunks, idx_shape, _batch_chunks(x, ax), x.shape[ax])
    y = _optional_dask(target, "target")
    if y is None and o.hard_weight != 0:
        raise ValueError("hard_weight needs target (class indices)")
    if y is not None:
        if y.dtype.kind not in "iu":
            raise TypeError(f"target must hold integer class indices, got dtype {y.dtype}")
        if y.shape != idx_shape:
            raise ValueError(f"target must have shape {idx_shape} (the logits' shape without axis), got {y.shape}")
        y = y.rechunk(_batch_chunks(x, ax))
    sw = _optional_dask(sample_weight, "sample_weight")
    if sw is not None:
        V.check_sample_weight(sw, idx_shape)
        sw = sw.rechunk(_batch_chunks(x, ax))
    denom, d_ind = None, None
    if return_grad and o.reduction == "mean":
        denom, d_ind = _distill_denominator(y, sw, idx_shape, b_ind, o.ignore_index), ()
    tup = _tuple_blocks(_distill_block, x, [(t, tuple(range(nd))), (ind, k_ind), (lp, k_ind), (y, b_ind),
                                            (sw, b_ind), (denom, d_ind)],
                        want_grad=bool(return_grad), options=o, num_threads=nt)
    if o.reduction == "none":
        loss = _take(tup, 1, x.dtype, drop_axis=ax)
    else:
        total = _tree_sum(_take(tup, 2, np.float64, parts=2))
        loss = _scalar(total, _finish_mean_or_sum, reduction=o.reduction, k=o.k)
    if not return_grad:
        return loss
    return loss, _take(tup, 0, x.dtype)


# ------------------------------------------------------------------ sigmoid binary cross-entropy

def _bce_block(x, t, w, pw, *, want_grad, count, opts):
    o = dict(opts)
    if pw is not None:
        o["pos_weight"] = pw
    p = _api.bce_parts(x, t, weight=w, want_grad=want_grad, grad_count=count, **o)
    return p.grad, p.elements, np.full((1,) * x.ndim + (1,), p.loss_sum)


def _bce_operands(x, target, tname, weight, wname):
    """The targets (checked, chunked like the logits x) and the element
    weights (checked, float64, broadcast blockwise to x; or None) of a
    binary call."""
    t = _optional_dask(target, tname)
    if t is None:
        raise TypeError(f"{tname} must be real numbers (0/1 labels or probabilities), not None")
    V.bce_target(_stand_in(t), x.shape)
    t = t.rechunk(x.chunks)
    w = _optional_dask(weight, wname)
    if w is not None:
        V.check_bce_weight(w, x.shape, wname)
        w = _broadcast_like(w.astype(np.float64), x)
    return t, w


def sigmoid_binary_cross_entropy(logits, target, *, weight=None, pos_weight=None,
                                 label_smoothing=0.0, gamma=0.0, alpha=None,
                                 reduction="mean", base=None, return_grad=False,
                                 num_threads=None):
    """Lazy `fusedxent.sigmoid_binary_cross_entropy` over Dask arrays.

    Parameters
    ----------
    logits : dask.array.Array or array_like
        Any shape and chunking.
    target : dask.array.Array or array_like
        The logits' shape; rechunked to match.
    weight : dask.array.Array or array_like, optional
        Broadcastable to the logits; broadcast blockwise, never materialized.
    pos_weight : float or array_like of shape (logits.shape[-1],), optional
        Sliced to each block's columns.
    label_smoothing, gamma, alpha, reduction, base, num_threads :
        As in `fusedxent.sigmoid_binary_cross_entropy`.
    return_grad : bool
        Also return the gradient (the global element count for "mean").

    Returns
    -------
    loss : dask.array.Array
        0-d for "mean"/"sum" (float64), element losses for "none".
    grad : dask.array.Array, only with return_grad
    """
    x = _float_dask(logits, "logits")
    nd = x.ndim
    ind = tuple(range(nd))
    reduction = V.reduction(reduction)
    k = V.log_base(base)
    opts = dict(label_smoothing=V.unit_interval(label_smoothing, "label_smoothing"),
                gamma=V.nonneg(gamma, "gamma"),
                alpha=None if alpha is None else V.unit_interval(alpha, "alpha"),
                reduction=reduction, base=base, num_threads=V.num_threads(num_threads),
                pos_weight=None)
    t, w = _bce_operands(x, target, "target", weight, "weight")
    pw, pw_ind = None, None
    if pos_weight is not None:
        pwd = _optional_dask(pos_weight, "pos_weight")
        V.pos_weight(_stand_in(pwd), x.shape)
        if pwd.ndim == 0:
            opts["pos_weight"] = pos_weight
        else:
            pw, pw_ind = _broadcast_like(pwd.astype(np.float64), x[(0,) * (nd - 1)]), (nd - 1,)
    tup = _tuple_blocks(_bce_block, x, [(t, ind), (w, ind), (pw, pw_ind)],
                        want_grad=bool(return_grad), count=int(np.prod(x.shape)), opts=opts)
    if reduction == "none":
        loss = _take(tup, 1, x.dtype)
    else:
        total = _tree_sum(_take(tup, 2, np.float64, parts=1))
        loss = _scalar(total, _finish_bce, reduction=reduction, k=k, count=int(np.prod(x.shape)))
    if not return_grad:
        return loss
    return loss, _take(tup, 0, x.dtype)


def _finish_bce(total, *, reduction, k, count):
    return np.float64(_api.finish_loss(float(total[0]), count, reduction, k))


# ------------------------------------------------------------------ evaluation

def _label_operands(x, ax, labels, sample_weight, ignore_index):
    """The class labels and row weights of class logits x (class axis ax),
    checked (dtype, shape) and rechunked like x's rows: (y, sw or None,
    ignore_index)."""
    idx_shape = tuple(s for i, s in enumerate(x.shape) if i != ax)
    ii = V.ignore_index(ignore_index)
    y = _optional_dask(labels, "labels")
    if y is None:
        raise TypeError("labels must hold integer class indices, not None")
    V.class_labels(np.zeros(0, y.dtype), x.shape[ax], ii, name="labels")   # the dtype check
    if y.shape != idx_shape:
        raise ValueError(f"labels must have shape {idx_shape} (the logits' shape without axis "
                         f"{ax}), got {y.shape}")
    y = y.rechunk(_batch_chunks(x, ax))
    sw = _optional_dask(sample_weight, "sample_weight")
    if sw is not None:
        V.check_sample_weight(sw, idx_shape)
        sw = sw.rechunk(_batch_chunks(x, ax))
    return y, sw, ii


def _evaluate_block(x, y, sw, *, axis, opts):
    e = _api.evaluate_parts(x, y, axis=axis, sample_weight=sw, **opts)
    parts = _flat_parts(e)
    return e.lse, e.argmax, parts.reshape((1,) * x.ndim + (parts.size,))


def _flat_parts(e):
    """An EvalParts' partials as one flat vector, in _eval_layout's order."""
    return np.concatenate([e.sums] + [a.reshape(-1) for a in (e.calibration, e.per_class, e.confusion, e.classwise,
                                                              e.roc) if a is not None])


def _eval_layout(nk, B, C, pc, strategy="uniform", CB=None, R=None):
    """Slices of the flat partial vector: sums, calibration (quantile: the
    fine histogram), per-class, confusion, classwise, one-vs-rest ROC."""
    sl, at = {}, 0
    FB = _calibration.partial_bins(B, strategy)
    for name, size in (("sums", 6 + nk), ("calibration", 3 * FB if B else 0), ("per_class", 3 * C if pc else 0),
                       ("confusion", C * C if pc == "confusion" else 0),
                       ("classwise", 3 * C * CB + C + 1 if CB else 0), ("roc", 2 * C * R if R else 0)):
        sl[name] = slice(at, at + size)
        at += size
    return sl, at


def _finish_evaluation(total, *, field, layout, topk, B, C, pc, k, base, strategy="uniform", CB=None, R=None):
    sl = layout
    cal = total[sl["calibration"]].reshape(3, -1) if B else None
    per = total[sl["per_class"]].reshape(3, C) if pc else None
    conf = total[sl["confusion"]].reshape(C, C) if pc == "confusion" else None
    ev = _api.evaluation_from_parts(total[sl["sums"]], topk, cal, per, conf, k=k, base=base, calibration_bins=B,
                                    calibration_strategy=strategy,
                                    classwise=total[sl["classwise"]] if CB else None, classwise_bins=CB,
                                    roc=total[sl["roc"]].reshape(2, C, R) if R else None)
    v = ev[field] if isinstance(field, int) else getattr(ev, field[0])
    if isinstance(field, tuple):          # an item of a structured field
        v = v[field[1]] if isinstance(v, dict) else getattr(v, field[1])
    return np.asarray(v, np.int64 if field == 2 else np.float64)


def evaluate(logits, labels, *, axis=-1, ignore_index=-100, sample_weight=None, base=None, topk=(1,),
             calibration_bins=None, calibration_strategy="uniform", classwise_bins=None, per_class=False,
             roc_bins=None, softcap=None, temperature=1.0, num_threads=None):
    """Lazy `fusedxent.evaluate`: one pass over the logits for every field.

    Parameters
    ----------
    logits : dask.array.Array or array_like
        Class scores; batch axes chunked any way, the class axis rechunked
        to one chunk.
    labels : dask.array.Array or array_like of int
        The logits' shape without `axis`; rechunked like the rows.
    axis, ignore_index, base, topk, calibration_bins, calibration_strategy, classwise_bins, per_class, roc_bins, softcap, temperature, num_threads :
        As in `fusedxent.evaluate` (quantile bins: every block's fine
        histogram is summed, the bins cut once at the root).
    sample_weight : dask.array.Array or array_like, optional
        Per-row weights.

    Returns
    -------
    Evaluation
        Of Dask arrays: loss, accuracy, brier, entropy (0-d float64), count
        (0-d int64), lse and argmax (per row), topk_accuracy ({k: 0-d}),
        calibration and per_class (of Dask arrays, or None).
        ``dask.compute(ev)`` computes them together; every block's double
        partials (sums, bins, per-class counts) are added in Dask's tree.
    """
    tf = _api.LogitTransform.of(softcap, temperature)
    x, ax = _logits(logits, axis)
    nd = x.ndim
    C = x.shape[ax]
    b_ind = tuple(i for i in range(nd) if i != ax)
    k = V.log_base(base)
    ks, B, pc = V.eval_options(topk, calibration_bins, per_class, C)
    y, sw, ii = _label_operands(x, ax, labels, sample_weight, ignore_index)
    nk = sum(1 for q in ks if q > 1)
    strategy = _calibration.strategy(calibration_strategy)
    CB = _api.check_classwise_bins(classwise_bins, C)
    R = _api.check_ovr_bins(roc_bins, C)
    layout, size = _eval_layout(nk, B, C, pc, strategy, CB, R)
    opts = dict(ignore_index=ii, topk=ks, calibration_bins=B, per_class=pc, num_threads=V.num_threads(num_threads),
                transform=tf, calibration_strategy=strategy, classwise_bins=CB, roc_bins=R)
    tup = _tuple_blocks(_evaluate_block, x, [(y, b_ind), (sw, b_ind)], axis=ax, opts=opts)
    return _evaluation_of(tup, ax, x.dtype, layout, size, ks, B, C, pc, k, base, strategy, CB, R)


def _quantile_rows(fine, *, B):
    """(4, B + 1): the edges, then the three sums (padded) of the
    equal-mass bins cut from a flat fine histogram."""
    edges, sums = _calibration.quantile_bins(fine, B)
    out = np.zeros((4, B + 1))
    out[0] = edges
    out[1:, :B] = sums
    return out


def _lazy_calibration(cal, B, strategy, total_weight):
    """The Calibration of Dask arrays of a one-chunk flat calibration
    partial: B equal-width bins as they are, or equal-mass bins cut from
    the fine histogram in one task at the root."""
    if strategy != "quantile":
        c3 = cal.reshape(3, B)
        return Calibration(np.linspace(0.0, 1.0, B + 1), c3[0], c3[1], c3[2], total_weight)
    q = cal.map_blocks(_quantile_rows, B=B, chunks=((4,), (B + 1,)), new_axis=0, dtype=np.float64,
                       meta=np.empty((0, 0)))
    return Calibration(q[0], q[1, :B], q[2, :B], q[3, :B], total_weight)


def _classwise_rows(flat, *, C, B):
    """(3, C, B): weight, confidence and frequency sums of the classwise
    bins from the flat kernel sums (bin 0 from the totals)."""
    c = _api.classwise_from_sums(flat, C, B, 0.0)
    return np.stack([c.weight, c.confidence_sum, c.frequency_sum])


def _evaluation_of(tup, ax, dtype, layout, size, ks, B, C, pc, k, base, strategy="uniform", CB=None, R=None):
    """The lazy Evaluation of per-block (lse, argmax, flat partials) tuples
    (axis `ax` of the blocks dropped from the per-row outputs)."""
    total = _tree_sum(_take(tup, 2, np.float64, parts=size))
    topk_out = tuple(ks)
    fin = lambda field, dtype=np.float64: _scalar(total, _finish_evaluation, dtype=dtype, field=field,
                                                  layout=layout, topk=topk_out, B=B, C=C, pc=pc, k=k, base=base,
                                                  strategy=strategy, CB=CB, R=R)
    arr = lambda name, shape: total[layout[name]].reshape(shape)
    cal = None
    if B:
        cal = _lazy_calibration(total[layout["calibration"]], B, strategy, total[1])
    per = None
    if pc:
        p3 = arr("per_class", (3, C))
        per = PerClass(p3[0], p3[1], p3[2], arr("confusion", (C, C)) if pc == "confusion" else None)
    cws = None
    if CB:
        q = total[layout["classwise"]].map_blocks(_classwise_rows, C=C, B=CB, chunks=((3,), (C,), (CB,)),
                                                  new_axis=(0, 1), dtype=np.float64, meta=np.empty((0, 0, 0)))
        cws = Classwise(np.linspace(0.0, 1.0, CB + 1), q[0], q[1], q[2], total[1])
    ovr = None
    if R:
        r3 = arr("roc", (2, C, R))
        ovr = OneVsRest(_calibration.roc_edges(R), r3[0], r3[1])
    return Evaluation(fin(0), fin(1), fin(2, np.int64), _take(tup, 0, dtype, drop_axis=ax),
                      _take(tup, 1, np.int64, drop_axis=ax), {q: fin(("topk_accuracy", q)) for q in ks},
                      fin(6), fin(7), cal, per, float(np.e if base is None else base), cws, ovr)


def _binary_block(x, t, w, *, opts):
    e = _api.evaluate_binary_parts(x, t, sample_weight=w, **opts)
    parts = np.concatenate([e.sums] + [a.reshape(-1) for a in (e.calibration, e.roc) if a is not None])
    return parts.reshape((1,) * x.ndim + (parts.size,))


def _finish_binary(total, *, field, B, k, base, strategy="uniform", csize=0):
    cal = total[5:5 + csize].reshape(3, -1) if B else None
    return np.asarray(_api.binary_evaluation_from_parts(total[:5], cal, k=k, base=base, calibration_bins=B,
                                                        calibration_strategy=strategy)[field],
                      np.int64 if field == 2 else np.float64)


def evaluate_binary(logits, targets, *, sample_weight=None, base=None, calibration_bins=None,
                    calibration_strategy="uniform", roc_bins=None, num_threads=None):
    """Lazy `fusedxent.evaluate_binary` over Dask arrays (any chunking).

    Parameters
    ----------
    logits, targets : dask.array.Array or array_like
        The same shape; targets rechunked like the logits.
    sample_weight : dask.array.Array or array_like, optional
        Broadcastable to the logits; broadcast blockwise.
    base, calibration_bins, calibration_strategy, roc_bins, num_threads :
        As in `fusedxent.evaluate_binary`.

    Returns
    -------
    BinaryEvaluation
        Of 0-d Dask arrays (calibration and roc of Dask arrays, or None).
    """
    x = _float_dask(logits, "logits")
    nd = x.ndim
    ind = tuple(range(nd))
    k = V.log_base(base)
    _, B, _ = V.eval_options((1,), calibration_bins, False)
    t, w = _bce_operands(x, targets, "targets", sample_weight, "sample_weight")
    strategy = _calibration.strategy(calibration_strategy)
    R = _calibration.roc_bins(roc_bins)
    csize = 3 * _calibration.partial_bins(B, strategy) if B else 0
    size = 5 + csize + (2 * R if R else 0)
    opts = dict(calibration_bins=B, num_threads=V.num_threads(num_threads), calibration_strategy=strategy,
                roc_bins=R)
    parts = da.blockwise(_binary_block, ind + (nd,), x, ind, t, ind, w, ind if w is not None else None,
                         opts=opts, new_axes={nd: size}, adjust_chunks={i: 1 for i in ind}, dtype=np.float64,
                         meta=np.empty((0,) * (nd + 1)))
    total = _tree_sum(parts)
    fin = lambda field, dtype=np.float64: _scalar(total, _finish_binary, dtype=dtype, field=field, B=B, k=k,
                                                  base=base, strategy=strategy, csize=csize)
    cal = roc = None
    if B:
        cal = _lazy_calibration(total[5:5 + csize], B, strategy, total[1])
    if R:
        r2 = total[5 + csize:].reshape(2, R)
        roc = ROC(_calibration.roc_edges(R), r2[0], r2[1])
    return BinaryEvaluation(fin(0), fin(1), fin(2, np.int64), fin(3), cal, float(np.e if base is None else base),
                            roc)


# ------------------------------------------------------------------ temperature scaling

def _tfit_block(x, y, sw, *, T, binary, opts):
    if binary:
        s = _temperature.binary_moments(x, y, sample_weight=sw, **opts)(T)
    else:
        s = _temperature.class_moments(x, y, sample_weight=sw, **opts)(T)
    return s.reshape((1,) * x.ndim + (s.size,))


def fit_temperature(logits, labels, *, axis=-1, ignore_index=-100, sample_weight=None, binary=False, tol=1e-7,
                    max_iter=50, num_threads=None):
    """`fusedxent.fit_temperature` over Dask arrays: each Newton step is one
    computed pass (every block's partial sums added in Dask's tree), so
    the fit is eager and returns a TemperatureFit of Python numbers.

    Parameters
    ----------
    logits, labels, sample_weight : dask.array.Array or array_like
        As in `fusedxent.fit_temperature` (labels and weights rechunked
        like the rows; binary: like the logits, weights broadcast).
        Every pass reads the inputs again: ``persist()`` them first when
        they are computed rather than read.
    axis, ignore_index, binary, tol, max_iter, num_threads :
        As in `fusedxent.fit_temperature`.

    Returns
    -------
    TemperatureFit
    """
    tol, max_iter = _temperature.fit_options(tol, max_iter, binary, ignore_index)
    nt = V.num_threads(num_threads)
    if binary:
        x = _float_dask(logits, "logits")
        nd = x.ndim
        ind = tuple(range(nd))
        y, w = _bce_operands(x, labels, "targets", sample_weight, "sample_weight")
        yind = ind
        opts = dict(num_threads=nt)
    else:
        x, ax = _logits(logits, axis)
        nd = x.ndim
        ind = tuple(range(nd))
        yind = tuple(i for i in ind if i != ax)
        y, w, ii = _label_operands(x, ax, labels, sample_weight, ignore_index)
        opts = dict(axis=ax, ignore_index=ii, num_threads=nt)

    def sums(T):
        parts = da.blockwise(_tfit_block, ind + (nd,), x, ind, y, yind, w, yind if w is not None else None,
                             T=T, binary=binary, opts=opts, new_axes={nd: _temperature.WIDTH},
                             adjust_chunks={i: 1 for i in ind},
                             dtype=np.float64, meta=np.empty((0,) * (nd + 1)))
        return np.asarray(_tree_sum(parts).compute(), np.float64)
    return _temperature.fit(sums, binary=binary, tol=tol, max_iter=max_iter)


# ------------------------------------------------------------------ linear cross-entropy

def _linear_operands(hidden, linear_weight, target, linear_bias, tname):
    """The lazy linear head's operands: hidden as a float Dask array with
    its feature axis in one chunk, the integer target, the weight and bias
    in memory (checked as the in-memory head checks them), and the shape
    and dtype of hidden."""
    h = _float_dask(hidden, "hidden")
    if h.ndim < 1:
        raise ValueError("hidden must have at least one dimension (the feature axis H), got a 0-d array")
    if len(h.chunks[-1]) > 1:
        h = h.rechunk({h.ndim - 1: -1})
    y = _optional_dask(target, tname)
    if y is None:
        raise TypeError(f"{tname} must hold integer class indices, not None")
    _, W, _, b, _, hshape, hdtype = V.linear_operands(_stand_in(h), np.asarray(linear_weight), _stand_in(y),
                                                      linear_bias)
    return h, y, W, b, hshape, hdtype


def _linear_block(h, y, sw, denom, W, *, b, want_grad, want_stats, options, chunk_size, num_threads,
                  compute_dtype=None):
    hs = h.shape
    p = _linear.linear_xent_parts(h.reshape(math.prod(hs[:-1]), hs[-1]), W, y, b, options, hshape=hs,
                                  sample_weight=sw, want_grad=want_grad,
                                  grad_denominator=None if denom is None else float(denom),
                                  want_stats=want_stats, chunk_size=chunk_size, num_threads=num_threads,
                                  compute_dtype=compute_dtype)
    st = (None,) * 3 if p.stats is None else tuple(a.reshape(hs[:-1]) for a in p.stats)
    return _linear_outputs(p, h, want_grad) + st


def _linear_outputs(p, h, want_grad):
    """A linear head's block outputs from its LinearParts: (d_hidden,
    per-row losses, the (loss, weight) sums, d_W and d_b flat in double for
    the tree sum)."""
    hs = h.shape
    one = (1,) * h.ndim
    dh = None if p.d_hidden is None else p.d_hidden.reshape(hs).astype(h.dtype, copy=False)
    rows = None if p.rows is None else p.rows.reshape(hs[:-1]).astype(h.dtype, copy=False)
    wparts = None
    if want_grad:
        flat = [p.d_weight.reshape(-1)] + ([p.d_bias] if p.d_bias is not None else [])
        wparts = np.concatenate([np.asarray(a, np.float64) for a in flat]).reshape(one + (-1,))
    return dh, rows, np.array([p.loss_sum, p.weight_sum]).reshape(one + (2,)), wparts


def _linear_grads(tup, W, b, hdtype):
    """LinearGrads of a lazy linear head: d_hidden blockwise, d_W and d_b
    summed over the blocks in Dask's tree (in double)."""
    Vn, H = W.shape
    size = Vn * H + (Vn if b is not None else 0)
    wsum = _tree_sum(_take(tup, 3, np.float64, parts=size))
    dW = wsum[:Vn * H].reshape(Vn, H).astype(W.dtype)
    db = None if b is None else wsum[Vn * H:].astype(b.dtype)
    return LinearGrads(_take(tup, 0, hdtype), dW, db)


def linear_cross_entropy(hidden, linear_weight, target, *, linear_bias=None, weight=None, sample_weight=None,
                         ignore_index=-100, label_smoothing=0.0, reduction="mean", base=None, z_loss=0.0,
                         softcap=None, temperature=1.0, gamma=0.0, alpha=None, return_grad=False,
                         return_stats=False, chunk_size=None, num_threads=None, compute_dtype=None):
    """Lazy `fusedxent.linear_cross_entropy`: hidden and target chunked by rows.

    Parameters
    ----------
    hidden : dask.array.Array or array_like (..., H)
        Batch axes chunked any way; the feature axis is rechunked to one chunk.
    linear_weight : array_like (V, H)
        In memory, the same for every block (put into the graph once).
    target : dask.array.Array or array_like of int
        hidden's shape without its last axis; rechunked like the rows.
    linear_bias, weight, sample_weight, ignore_index, label_smoothing :
        As in `fusedxent.linear_cross_entropy`.
    reduction, base, z_loss, softcap, temperature, gamma, alpha, return_grad, return_stats, chunk_size, num_threads, compute_dtype :
        As in `fusedxent.linear_cross_entropy` (chunk_size: rows per block
        inside each task; with bfloat16 products each task packs the
        weight once).

    Returns
    -------
    loss : 0-d Dask array, or per-row losses with reduction="none"
    grads : LinearGrads of Dask arrays, only with return_grad
        d_hidden blockwise; d_linear_weight and d_linear_bias summed over
        the blocks (in double) in Dask's tree.
    stats : RowStats of Dask arrays, only with return_stats
        Per row, shaped like target, from the same tasks; returned last.
    """
    o = xent_options(weight=weight, ignore_index=ignore_index, label_smoothing=label_smoothing,
                     reduction=reduction, base=base, z_loss=z_loss, softcap=softcap, temperature=temperature,
                     gamma=gamma, alpha=alpha)
    h, y, W, b, hshape, hdtype = _linear_operands(hidden, linear_weight, target, linear_bias, "target")
    V.check_compute_dtype(compute_dtype, W.dtype)
    nd = h.ndim
    Vn, H = W.shape
    reduction, k, ii = o.reduction, o.k, o.ignore_index
    w = o.class_weight(Vn)
    o.class_alpha(Vn)
    cs = None if chunk_size is None else V.positive_int(chunk_size, "chunk_size")
    nt = V.num_threads(num_threads)
    b_ind = tuple(range(nd - 1))
    bchunks = h.chunks[:-1]
    y = y.rechunk(bchunks)
    sw = _optional_dask(sample_weight, "sample_weight")
    if sw is not None:
        V.check_sample_weight(sw, hshape[:-1])
        sw = sw.rechunk(bchunks)
    denom, d_ind = None, None
    if return_grad and reduction == "mean":
        dparts = da.blockwise(_xent_denominator_block, b_ind + (nd - 1,), y, b_ind, sw,
                              b_ind if sw is not None else None, nd=len(b_ind), weight=w, ignore_index=ii,
                              n_classes=Vn, new_axes={nd - 1: 1}, adjust_chunks={i: 1 for i in b_ind},
                              dtype=np.float64, meta=np.empty((0,) * nd))
        denom, d_ind = _scalar(_tree_sum(dparts), operator.itemgetter(0)), ()
    # the weight as one graph key (one chunk, axes of its own), sent once
    # to each worker rather than pickled into every task
    Wd = da.from_array(W, chunks=W.shape)
    tup = _tuple_blocks(_linear_block, h, [(y, b_ind), (sw, b_ind), (denom, d_ind), (Wd, (nd, nd + 1))], b=b,
                        want_grad=bool(return_grad), want_stats=bool(return_stats), options=o, chunk_size=cs,
                        num_threads=nt, compute_dtype=compute_dtype)
    if reduction == "none":
        loss = _take(tup, 1, hdtype, drop_axis=nd - 1)
    else:
        total = _tree_sum(_take(tup, 2, np.float64, parts=2))
        loss = _scalar(total, _finish_mean_or_sum, reduction=reduction, k=k)
    out = (loss,)
    if return_grad:
        out += (_linear_grads(tup, W, b, hdtype),)
    if return_stats:
        out += (RowStats(*(_take(tup, i, t, drop_axis=nd - 1)
                           for i, t in ((4, np.float64), (5, np.float64), (6, np.int64)))),)
    return out[0] if len(out) == 1 else out


def _linear_distill_block(h, t, ind, lp, y, sw, denom, W, *, b, want_grad, options, chunk_size, num_threads,
                          compute_dtype=None):
    hs = h.shape
    N = math.prod(hs[:-1])
    teacher = t.reshape(N, -1) if t is not None else _teacher.SparseTeacher(ind.reshape(N, -1), lp.reshape(N, -1))
    yv = None if y is None else V.class_labels(y.reshape(-1), W.shape[0], options.ignore_index)
    p = _linear.linear_distill_parts(h.reshape(N, hs[-1]), W, b, teacher, options, labels=yv,
                                     sample_weight=None if sw is None else np.asarray(sw, np.float64).reshape(-1),
                                     want_grad=want_grad, grad_denominator=None if denom is None else float(denom),
                                     chunk_size=chunk_size, num_threads=num_threads, compute_dtype=compute_dtype)
    return _linear_outputs(p, h, want_grad)


def linear_distillation_loss(hidden, linear_weight, teacher, *, linear_bias=None, temperature=1.0, divergence="kl",
                             beta=0.5, target=None, hard_weight=0.0, soft_weight=1.0, ignore_index=-100,
                             sample_weight=None, reduction="mean", base=None, tail="bucket", return_grad=False,
                             chunk_size=None, num_threads=None, compute_dtype=None):
    """Lazy `fusedxent.linear_distillation_loss`: hidden, the teacher and
    target chunked by rows.

    Parameters
    ----------
    hidden : dask.array.Array or array_like (..., H)
        Batch axes chunked any way; the feature axis is rechunked to one chunk.
    linear_weight : array_like (V, H)
        In memory, the same for every block (put into the graph once).
    teacher : dask.array.Array or array_like (..., V), or SparseTeacher
        Dense teacher logits or a `fusedxent.SparseTeacher` of (Dask)
        arrays, rechunked like the rows.
    target, sample_weight : dask.array.Array or array_like, optional
        hidden's shape without its last axis; rechunked like the rows.
    linear_bias, temperature, divergence, beta, hard_weight, soft_weight, ignore_index, reduction, base, tail :
        As in `fusedxent.linear_distillation_loss`.
    return_grad, chunk_size, num_threads, compute_dtype :
        As in `fusedxent.linear_distillation_loss` (chunk_size: rows per
        block inside each task).

    Returns
    -------
    loss : 0-d Dask array, or per-row losses with reduction="none"
    grads : LinearGrads of Dask arrays, only with return_grad
        d_hidden blockwise; d_linear_weight and d_linear_bias summed over
        the blocks (in double) in Dask's tree.
    """
    o = distill_options(temperature=temperature, divergence=divergence, beta=beta, hard_weight=hard_weight,
                        soft_weight=soft_weight, ignore_index=ignore_index, reduction=reduction, base=base, tail=tail)
    h = _float_dask(hidden, "hidden")
    if h.ndim < 1:
        raise ValueError("hidden must have at least one dimension (the feature axis H), got a 0-d array")
    if len(h.chunks[-1]) > 1:
        h = h.rechunk({h.ndim - 1: -1})
    y = _optional_dask(target, "target")
    _, W, _, b, _, hshape, hdtype = V.linear_operands(_stand_in(h), np.asarray(linear_weight),
                                                      None if y is None else _stand_in(y), linear_bias)
    V.check_compute_dtype(compute_dtype, W.dtype)
    if y is None and o.hard_weight != 0:
        raise ValueError("hard_weight needs target (class indices)")
    nd = h.ndim
    Vn, H = W.shape
    idx_shape = hshape[:-1]
    b_ind = tuple(range(nd - 1))
    bchunks = h.chunks[:-1]
    t_ind = b_ind + (nd + 2,)               # the teacher's class (or k) axis: an index of its own
    t, ind, lp = _lazy_teacher(teacher, idx_shape + (Vn,), bchunks + (-1,), idx_shape, bchunks, Vn)
    if y is not None:
        y = y.rechunk(bchunks)
    sw = _optional_dask(sample_weight, "sample_weight")
    if sw is not None:
        V.check_sample_weight(sw, idx_shape)
        sw = sw.rechunk(bchunks)
    cs = None if chunk_size is None else V.positive_int(chunk_size, "chunk_size")
    nt = V.num_threads(num_threads)
    denom, d_ind = None, None
    if return_grad and o.reduction == "mean":
        denom, d_ind = _distill_denominator(y, sw, idx_shape, b_ind, o.ignore_index), ()
    Wd = da.from_array(W, chunks=W.shape)
    tup = _tuple_blocks(_linear_distill_block, h, [(t, t_ind), (ind, t_ind), (lp, t_ind), (y, b_ind), (sw, b_ind),
                                                   (denom, d_ind), (Wd, (nd, nd + 1))],
                        b=b, want_grad=bool(return_grad), options=o, chunk_size=cs, num_threads=nt,
                        compute_dtype=compute_dtype)
    if o.reduction == "none":
        loss = _take(tup, 1, hdtype, drop_axis=nd - 1)
    else:
        total = _tree_sum(_take(tup, 2, np.float64, parts=2))
        loss = _scalar(total, _finish_mean_or_sum, reduction=o.reduction, k=o.k)
    if not return_grad:
        return loss
    return loss, _linear_grads(tup, W, b, hdtype)


def _linear_eval_block(h, y, sw, W, *, b, opts, size, chunk_size, compute_dtype=None):
    """evaluate's partials of one block of hidden rows: the logits formed
    chunk_size rows at a time into one buffer, each chunk's flat partials
    (sums, bins, per-class counts) added, lse and argmax per row."""
    hs = h.shape
    h2 = h.reshape(math.prod(hs[:-1]), hs[-1])
    N = h2.shape[0]
    dt = V.compute_dtype(W.dtype)
    yf, swf = y.reshape(-1), None if sw is None else sw.reshape(-1)
    cs = chunk_size or _linear.default_chunk_size(W.shape[0], dt.itemsize)
    parts, lse, amax = np.zeros(size), np.empty(N, h.dtype), np.empty(N, np.int64)
    bf, h2, W = _linear.bf16_head(h2, W, opts["num_threads"], compute_dtype)
    with _linear._blas_threads(opts["num_threads"]):
        for r0, r1, _, logits in _linear.logit_chunks(h2, W, b, dt, cs, bf):
            e = _api.evaluate_parts(logits, yf[r0:r1], sample_weight=None if swf is None else swf[r0:r1], **opts)
            parts += _flat_parts(e)
            lse[r0:r1] = e.lse
            amax[r0:r1] = e.argmax
    one = (1,) * h.ndim
    return lse.reshape(hs[:-1]), amax.reshape(hs[:-1]), parts.reshape(one + (size,))


def linear_evaluate(hidden, linear_weight, labels, *, linear_bias=None, ignore_index=-100, sample_weight=None,
                    base=None, topk=(1,), calibration_bins=None, calibration_strategy="uniform", classwise_bins=None,
                    per_class=False, roc_bins=None, softcap=None, temperature=1.0, chunk_size=None, num_threads=None,
                    compute_dtype=None):
    """Lazy `fusedxent.linear_evaluate`: hidden and labels chunked by rows.

    Parameters
    ----------
    hidden : dask.array.Array or array_like (..., H)
        Batch axes chunked any way; the feature axis is rechunked to one chunk.
    linear_weight : array_like (V, H)
        In memory, the same for every block (put into the graph once).
    labels : dask.array.Array or array_like of int
        hidden's shape without its last axis; rechunked like the rows.
    linear_bias, ignore_index, sample_weight, base, topk, calibration_bins, calibration_strategy, classwise_bins, per_class, roc_bins, softcap, temperature :
        As in `fusedxent.linear_evaluate`.
    chunk_size, num_threads, compute_dtype :
        As in `fusedxent.linear_evaluate` (chunk_size: rows per logits
        buffer inside each task).

    Returns
    -------
    Evaluation
        Of Dask arrays, as `fusedxent.dask.evaluate` returns it (lse and
        argmax shaped like labels); every block's double partials added in
        Dask's tree.
    """
    tf = _api.LogitTransform.of(softcap, temperature)
    h, y, W, b, hshape, hdtype = _linear_operands(hidden, linear_weight, labels, linear_bias, "labels")
    V.check_compute_dtype(compute_dtype, W.dtype)
    nd = h.ndim
    Vn = W.shape[0]
    ii = V.ignore_index(ignore_index)
    k = V.log_base(base)
    ks, B, pc = V.eval_options(topk, calibration_bins, per_class, Vn)
    cs = None if chunk_size is None else V.positive_int(chunk_size, "chunk_size")
    b_ind = tuple(range(nd - 1))
    bchunks = h.chunks[:-1]
    y = y.rechunk(bchunks)
    sw = _optional_dask(sample_weight, "sample_weight")
    if sw is not None:
        V.check_sample_weight(sw, hshape[:-1])
        sw = sw.rechunk(bchunks)
    nk = sum(1 for q in ks if q > 1)
    strategy = _calibration.strategy(calibration_strategy)
    CB = _api.check_classwise_bins(classwise_bins, Vn)
    R = _api.check_ovr_bins(roc_bins, Vn)
    layout, size = _eval_layout(nk, B, Vn, pc, strategy, CB, R)
    opts = dict(ignore_index=ii, topk=ks, calibration_bins=B, per_class=pc, num_threads=V.num_threads(num_threads),
                transform=tf, calibration_strategy=strategy, classwise_bins=CB, roc_bins=R)
    Wd = da.from_array(W, chunks=W.shape)          # one graph key, sent once to each worker
    tup = _tuple_blocks(_linear_eval_block, h, [(y, b_ind), (sw, b_ind), (Wd, (nd, nd + 1))], b=b, opts=opts,
                        size=size, chunk_size=cs, compute_dtype=compute_dtype)
    return _evaluation_of(tup, nd - 1, hdtype, layout, size, ks, B, Vn, pc, k, base, strategy, CB, R)


from . import _docs  # noqa: E402

_docs.complete(globals(), _docs.DASK_EXAMPLES)     # the Raises and Examples sections
