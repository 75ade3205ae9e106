"""linear_cross_entropy and linear_evaluate: softmax cross-entropy and
the evaluation of `hidden @ W.T + b` without the N x V logits.

Row blocks of `chunk_size` rows: the block's logits come from one matrix
product into a reused (chunk_size, V) buffer, the existing row kernel
computes the block's loss partials and -- with return_grad -- writes the
softmax gradient over that same buffer, which then feeds the two gradient
products (d_hidden of the block, and d_W accumulated over blocks).  Each
product is a NumPy `matmul` (the BLAS NumPy links: OpenBLAS in the wheels)
into a preallocated `out=`, so memory stays at the buffer, the gradients
and a small scratch for d_W's block product, taken a slice of classes at a
time (NumPy's matmul cannot add into its output; SciPy's sgemm with beta=1
could, but would make SciPy a run-time dependency for an 8 MB saving).

The products and the kernels run one after the other, never at the same
time: the BLAS pool and the OpenMP team take turns on the cores.
"""
import contextlib
from typing import Any, NamedTuple

import numpy as np

from . import _kernels as _k
from . import _validate as V
from ._api import Evaluator, check_classwise_bins, check_ovr_bins, finish_loss, softmax_xent_parts, xent_denominator
from ._distill import distill_parts
from ._options import distill_options, xent_options
from ._results import LinearGrads, RowStats
from ._teacher import SparseTeacher, dense_rows, sparse_rows

# the logits buffer's budget when chunk_size is None (bytes)
CHUNK_BUDGET = 64 << 20
# the scratch of d_W's per-block product, a slice of classes at a time
DW_SLICE_BYTES = 8 << 20


def default_chunk_size(V_, itemsize, budget=CHUNK_BUDGET):
    """Rows per block so that the (rows, V) logits buffer fits `budget`
    (itemsize: the bytes a logit takes in the blocks' scratch)."""
    return max(1, budget // max(1, V_ * itemsize))


def block_rows(chunk_size, Vn, dt, bf, want_grad):
    """The rows of a block: chunk_size, or by default as many as fit the
    scratch budget -- the logits, and with the bfloat16 head's gradients
    G rounded to bfloat16 beside them (2 bytes a logit more), so that its
    peak memory stays the float32 head's."""
    if chunk_size is not None:
        return V.positive_int(chunk_size, "chunk_size")
    return default_chunk_size(Vn, dt.itemsize + (2 if bf is not None and want_grad else 0))


def narrow_grads(gs, hshape, hdtype, W, b):
    """LinearGrads in the inputs' dtypes from the list [d_hidden, d_weight,
    d_bias] in the compute dtype, emptied as it goes: each wide array is
    released once its copy exists, so that with bfloat16 or float16 inputs
    the peak is d_weight's two copies beside the narrow d_hidden."""
    dh = gs.pop(0).reshape(hshape).astype(hdtype, copy=False)
    dW = gs.pop(0).astype(W.dtype, copy=False)
    db = gs.pop(0)
    return LinearGrads(dh, dW, None if db is None else db.astype(b.dtype, copy=False))


def linear_cross_entropy(hidden, linear_weight, target, *, linear_bias=None, weight=None, sample_weight=None,
                         ignore_index=-100, label_smoothing=0.0, reduction="mean", base=None, z_loss=0.0,
                         softcap=None, temperature=1.0, gamma=0.0, alpha=None, return_grad=False,
                         return_stats=False, chunk_size=None, num_threads=None, compute_dtype=None):
    """Softmax cross-entropy of a linear layer's outputs without forming them.

    Equal to ``softmax_cross_entropy(hidden @ linear_weight.T + linear_bias,
    target, ...)`` with the logits computed ``chunk_size`` rows at a time
    into one reused buffer.  With no features (H = 0) the logits are the
    bias (zeros without one) and the loss is theirs -- log V without a bias
    -- as in PyTorch; the hidden and weight gradients are then empty.

    Parameters
    ----------
    hidden : array_like, float (..., H)
        The layer's inputs; 1-D (H,) is one row (with a 0-d target).
    linear_weight : array_like, float (V, H)
        The layer's weight in torch.nn.Linear's layout.
    target : array_like of int (...)
        Class indices in [0, V), hidden's shape without its last axis.
    linear_bias : array_like (V,), optional
        The layer's bias.
    weight, sample_weight, ignore_index, label_smoothing, reduction, base, z_loss, softcap, temperature, gamma, alpha :
        As in `softmax_cross_entropy` (class-index targets).
    return_grad : bool
        Also return the gradients of hidden, linear_weight and linear_bias.
    return_stats : bool
        Also return RowStats(lse, entropy, argmax) of every row's
        (transformed) logits, target's shape, from the same pass: lse and
        entropy float64, argmax int64 (first index on ties).
    chunk_size : int, optional
        Rows per block (the logits buffer is chunk_size x V); None: as many
        as fit 64 MB (with the bfloat16 head's gradients, the logits and
        their bfloat16 copy).
    num_threads : int, optional
        Threads of the row kernels (OpenMP) and of the matrix products (the
        BLAS pool, limited for the call through threadpoolctl when it is
        installed); default: each pool's own default.
    compute_dtype : {None, "float32", "bfloat16"}
        The matrix products' precision: None, bfloat16 products for
        bfloat16 hidden and weight where the CPU has AVX512-BF16 (float32
        elsewhere); "bfloat16", float32 inputs rounded to bfloat16 too;
        "float32", float32 products always.  See the linear head's guide.

    Returns
    -------
    loss : float, or ndarray of per-row losses with reduction="none"
    grads : LinearGrads, only with return_grad
        (hidden, linear_weight, linear_bias) gradients; linear_bias None
        when no bias was given.
    stats : RowStats, only with return_stats
        Last: (loss, stats) or (loss, grads, stats).
    """
    o = xent_options(weight=weight, ignore_index=ignore_index, label_smoothing=label_smoothing,
                     reduction=reduction, base=base, z_loss=z_loss, softcap=softcap, temperature=temperature,
                     gamma=gamma, alpha=alpha)
    h2, W, y, b, dt, hshape, hdtype = V.linear_operands(hidden, linear_weight, target, linear_bias)
    parts = linear_xent_parts(h2, W, y, b, o, hshape=hshape, sample_weight=sample_weight, want_grad=return_grad,
                              want_stats=return_stats, chunk_size=chunk_size, num_threads=num_threads,
                              compute_dtype=compute_dtype)
    if o.reduction == "none":
        loss = parts.rows.reshape(hshape[:-1]).astype(hdtype, copy=False)
    else:
        loss = finish_loss(parts.loss_sum, parts.weight_sum, o.reduction, o.k)
    out = [loss]
    if return_grad:
        gs = [parts.d_hidden, parts.d_weight, parts.d_bias]
        parts = parts._replace(d_hidden=None, d_weight=None, d_bias=None)
        out.append(narrow_grads(gs, hshape, hdtype, W, b))
    if return_stats:
        out.append(RowStats(*(a.reshape(hshape[:-1]) for a in parts.stats)))
    return out[0] if len(out) == 1 else tuple(out)


class LinearParts(NamedTuple):
    """One pass of linear_cross_entropy over a batch of rows (or a Dask block)."""
    loss_sum: float          #: sum of the weighted row losses, in nats
    weight_sum: float        #: the mean's denominator over these rows
    rows: Any                #: per-row losses in units of `base` ("none"), compute dtype, else None
    d_hidden: Any            #: (N, H) compute dtype, or None
    d_weight: Any            #: (V, H) compute dtype, or None
    d_bias: Any              #: (V,) compute dtype, or None (no bias or no gradient)
    stats: Any = None        #: RowStats of flat rows (want_stats), or None


def linear_xent_parts(h2, W, y, b=None, options=None, *, hshape=None, sample_weight=None, want_grad=False,
                      grad_denominator=None, want_stats=False, chunk_size=None, num_threads=None, compute_dtype=None):
    """The row-block loop of linear_cross_entropy over validated operands
    (h2 (N, H), W (V, H), integer y (N,) or of shape hshape[:-1], bias b)
    with `options` an XentOptions (default: the defaults): loss partials
    and, with want_grad, the three gradients scaled by `grad_denominator`
    (the global mean's; default: this batch's); compute_dtype as in
    bf16_head."""
    o = xent_options() if options is None else options
    N, H = h2.shape
    Vn = W.shape[0]
    dt = V.compute_dtype(W.dtype)
    hshape = h2.shape if hshape is None else hshape
    reduction, ii = o.reduction, o.ignore_index
    w = o.class_weight(Vn)
    o.class_alpha(Vn)                    # its shape, before any work
    sw = None if sample_weight is None else V.sample_weight(sample_weight, hshape[:-1])
    yf = V.class_labels(y, Vn, ii)
    nt = V.num_threads(num_threads)
    bf, h2, W = bf16_head(h2, W, nt, compute_dtype)
    cs = min(block_rows(chunk_size, Vn, dt, bf, want_grad), max(N, 1))
    denom = xent_denominator(yf, ignore_index=ii, weight=w, sample_weight=sw, rows=N)
    gden = denom if grad_denominator is None else float(grad_denominator)
    rows = np.empty(N, dt) if reduction == "none" else None
    acc = _GradSums(N, H, Vn, dt, b is not None, W, bf) if want_grad else None
    loss_sum = 0.0
    stats = RowStats(np.empty(N), np.empty(N), np.empty(N, np.int64)) if want_stats else None
    with _blas_threads(nt):
        for r0, r1, hb, logits in logit_chunks(h2, W, b, dt, cs, bf):
            parts = softmax_xent_parts(logits, yf[r0:r1], o, sample_weight=None if sw is None else sw[r0:r1],
                                       want_grad=want_grad, grad_out=logits if want_grad else None,
                                       grad_denominator=gden, want_stats=want_stats, num_threads=nt)
            loss_sum += parts.loss_sum
            if stats is not None:
                for a, v in zip(stats, parts.stats):
                    a[r0:r1] = v
            if rows is not None:
                rows[r0:r1] = parts.rows
            if acc is not None:
                acc.add(logits, hb, r0, r1)      # the gradient, written over the logits
    return LinearParts(loss_sum, denom, rows, *(acc.result() if acc else (None, None, None)), stats)


class _GradSums:
    """The three gradients of a linear head from its blocks' logit
    gradients G: d_hidden = G @ W per block, d_W += G.T @ hidden and
    d_b += sum G over blocks (with `bf16`, its bfloat16 products)."""

    def __init__(self, N, H, Vn, dt, bias, W, bf16=None):
        self.bf16 = bf16
        self.Wc = None if bf16 is not None else np.ascontiguousarray(W, dtype=dt)
        self.dh = np.empty((N, H), dt)
        self.dW = np.zeros((Vn, H), dt)
        self.vs = max(1, min(Vn, DW_SLICE_BYTES // max(1, H * dt.itemsize)))
        self.tmp = np.empty((self.vs, H), dt) if bf16 is None else None
        self.db = np.zeros(Vn, dt) if bias else None

    def add(self, g, hb, r0, r1):
        if self.db is not None:
            self.db += g.sum(axis=0)
        if self.bf16 is not None:
            self.bf16.add_grads(g, hb, self.dh[r0:r1], self.dW)
            return
        np.matmul(g, self.Wc, out=self.dh[r0:r1])
        # d_W += G.T @ hidden_block a slice of classes at a time: the
        # product's scratch stays small (NumPy has no GEMM that accumulates
        # into its output)
        Vn = self.dW.shape[0]
        for v0 in range(0, Vn, self.vs):
            v1 = min(Vn, v0 + self.vs)
            t = self.tmp[:v1 - v0]
            np.matmul(g[:, v0:v1].T, hb, out=t)
            self.dW[v0:v1] += t

    def result(self):
        return self.dh, self.dW, self.db


def logit_chunks(h2, W, b, dt, chunk_size, bf16=None):
    """(r0, r1, hidden, logits) for rows [r0, r1): the hidden rows and their
    logits h2 @ W.T + b, chunk_size rows at a time, every chunk's logits in
    one reused buffer (valid until the next is yielded).  float16 /
    bfloat16 compute in float32: the weight converted once, the hidden rows
    per chunk (in dtype dt).  With `bf16` (a _Bf16Head) the products are
    its bfloat16 ones and the hidden rows its bfloat16 bits."""
    N = h2.shape[0]
    cs = min(chunk_size, max(N, 1))
    bc = None if b is None else np.ascontiguousarray(b, dtype=dt)
    buf = np.empty((cs, W.shape[0]), dt)
    Wc = None if bf16 is not None else np.ascontiguousarray(W, dtype=dt)
    for r0 in range(0, N, cs):
        r1 = min(N, r0 + cs)
        logits = buf[:r1 - r0]
        if bf16 is not None:
            hb = bf16.logits(h2[r0:r1], logits)
        else:
            hb = np.ascontiguousarray(h2[r0:r1], dtype=dt)
            np.matmul(hb, Wc.T, out=logits)
        if bc is not None:
            logits += bc
        yield r0, r1, hb, logits


class _Bf16Head:
    """The linear head's three products in bfloat16 (AVX512-BF16, the
    kernels' bf16_gemm, which packs the weight a block at a time as it
    goes: no packed copy of it), float32 accumulation; the logit gradient
    G rounded to bfloat16 (nearest even) for d_hidden and d_W = G^T hidden
    -- what PyTorch's autocast does on the CPU.  Inputs: bfloat16, or
    float32 rounded to bfloat16 here (compute_dtype="bfloat16")."""

    def __init__(self, W, nt):
        self.nt = 0 if nt is None else nt
        self.W = V.bf16_bits(W)
        self.V, self.H = self.W.shape
        self.Hp = self.H + (self.H & 1)      # a row of A holds whole k pairs: a zero column when H is odd
        self.g16 = None                      # the gradients' scratch, reused across blocks

    def logits(self, h, out):
        """out = h @ W.T in float32; returns h's bfloat16 bits (rows, Hp)."""
        hb = np.zeros((h.shape[0], self.Hp), np.uint16)
        hb[:, :self.H] = V.bf16_bits(h)
        _k.bf16_gemm(hb.reshape(-1), self.Hp, 2, h.shape[0], self.W, 1, out, False, self.nt)
        return hb

    def add_grads(self, g, hb, dh, dW):
        """dh = G W (its rows' block) and dW += G^T hidden, G (rows, V)
        float32 rounded to bfloat16 into one reused scratch, first as rows
        (G's k pairs along V), then as row pairs (G^T's k pairs along the
        rows)."""
        M, Vn = g.shape
        Vp = Vn + (Vn & 1)
        if self.g16 is None or self.g16.size < M * Vp:
            self.g16 = np.empty(((M + 1) // 2) * 2 * Vp, np.uint16)
        rows = self.g16[:M * Vp].reshape(M, Vp)
        _k.bf16_rows(g, rows, self.nt)
        _k.bf16_gemm(self.g16, Vp, 2, M, self.W, 0, dh, False, self.nt)
        pairs = self.g16[:(M + 1) // 2 * 2 * Vn].reshape((M + 1) // 2, Vn, 2)
        _k.bf16_pairs(g, pairs, self.nt)
        _k.bf16_gemm(self.g16, 2, 2 * Vn, Vn, hb[:, :self.H], 0, dW, True, self.nt)


def bf16_head(h2, W, num_threads, compute_dtype=None):
    """(head, h2, W): a _Bf16Head when the products run in bfloat16 --
    hidden and weight bfloat16 (compute_dtype None), or compute_dtype
    "bfloat16" -- and this CPU runs them (AVX512-BF16 on the avx512 path),
    else None.  compute_dtype="bfloat16" without them rounds hidden and
    weight to bfloat16 values for the float32 products, so the result
    means the same on every CPU."""
    V.check_compute_dtype(compute_dtype, W.dtype)
    bf = compute_dtype == "bfloat16" or (compute_dtype is None and V.is_bfloat16(h2.dtype)
                                         and V.is_bfloat16(W.dtype))
    if not bf:
        return None, h2, W
    if _k.bf16_ready():
        return _Bf16Head(W, num_threads), h2, W
    if compute_dtype == "bfloat16":
        return None, V.bf16_round(h2), V.bf16_round(W)
    return None, h2, W


def linear_evaluate(hidden, linear_weight, labels, *, linear_bias=None, ignore_index=-100, sample_weight=None,
                    base=None, topk=(1,), calibration_bins=None, calibration_strategy="uniform", classwise_bins=None,
                    per_class=False, roc_bins=None, softcap=None, temperature=1.0, chunk_size=None, num_threads=None,
                    compute_dtype=None):
    """`evaluate` of a linear layer's outputs without forming them.

    Equal to ``evaluate(hidden @ linear_weight.T + linear_bias, labels,
    ...)``: the logits are computed ``chunk_size`` rows at a time into one
    reused buffer, and each block goes through evaluate's kernel pass.

    Parameters
    ----------
    hidden : array_like, float (..., H)
        The layer's inputs.
    linear_weight : array_like, float (V, H)
        The layer's weight in torch.nn.Linear's layout.
    labels : array_like of int (...)
        Class indices, hidden's shape without its last axis.
    linear_bias : array_like (V,), optional
        The layer's bias.
    ignore_index, sample_weight, base, topk, calibration_bins, calibration_strategy, classwise_bins, per_class, roc_bins, softcap, temperature :
        As in `evaluate`.
    chunk_size : int, optional
        Rows per block (the logits buffer is chunk_size x V); None: as many
        as fit 64 MB.
    num_threads : int, optional
        As in `linear_cross_entropy`.
    compute_dtype : {None, "float32", "bfloat16"}
        As in `linear_cross_entropy`.

    Returns
    -------
    Evaluation
        As `evaluate` returns it; lse and argmax have labels' shape.
    """
    ev = Evaluator(ignore_index=ignore_index, base=base, topk=topk, calibration_bins=calibration_bins,
                   calibration_strategy=calibration_strategy, classwise_bins=classwise_bins, per_class=per_class, roc_bins=roc_bins, softcap=softcap,
                   temperature=temperature, num_threads=num_threads)
    h2, W, y, b, dt, hshape, hdtype = V.linear_operands(hidden, linear_weight, labels, linear_bias)
    N, H = h2.shape
    Vn = W.shape[0]
    yf = V.class_labels(y, Vn, ev.ignore_index, name="labels")
    sw = None if sample_weight is None else V.sample_weight(sample_weight, hshape[:-1])
    V.eval_options(ev.topk, ev.calibration_bins, ev.per_class, Vn)      # the class-count checks, before any work
    check_classwise_bins(ev.classwise_bins, Vn)
    check_ovr_bins(ev.roc_bins, Vn)
    bf, h2, W = bf16_head(h2, W, ev.num_threads, compute_dtype)
    cs = block_rows(chunk_size, Vn, dt, bf, False)
    with _blas_threads(ev.num_threads):
        for r0, r1, _, logits in logit_chunks(h2, W, b, dt, cs, bf):
            ev.update(logits, yf[r0:r1], None if sw is None else sw[r0:r1])
    if N == 0:
        ev.n_classes = Vn
    r = ev.result()
    return r._replace(lse=r.lse.reshape(hshape[:-1]).astype(hdtype, copy=False),
                      argmax=r.argmax.reshape(hshape[:-1]))


def linear_distillation_loss(hidden, linear_weight, teacher, *, linear_bias=None, temperature=1.0, divergence="kl",
                             beta=0.5, target=None, hard_weight=0.0, soft_weight=1.0, ignore_index=-100,
                             sample_weight=None, reduction="mean", base=None, tail="bucket", return_grad=False,
                             chunk_size=None, num_threads=None, compute_dtype=None):
    """`distillation_loss` of a linear layer's outputs without forming them.

    Equal to ``distillation_loss(hidden @ linear_weight.T + linear_bias,
    teacher, ...)`` with the student's logits computed ``chunk_size`` rows
    at a time into one reused buffer, over which the kernel writes their
    gradient for the two gradient products.

    Parameters
    ----------
    hidden : array_like, float (..., H)
        The layer's inputs.
    linear_weight : array_like, float (V, H)
        The layer's weight in torch.nn.Linear's layout.
    teacher : array_like (..., V) or SparseTeacher
        The teacher's logits (hidden's shape with V for H; a memmap is
        read a block of rows at a time), or its top-k (`SparseTeacher`,
        hidden's shape without H, then k).
    linear_bias : array_like (V,), optional
        The layer's bias.
    temperature, divergence, beta, target, hard_weight, soft_weight, ignore_index, sample_weight, reduction, base, tail :
        As in `distillation_loss` (the class axis is the last).
    return_grad : bool
        Also return the gradients of hidden, linear_weight and linear_bias.
    chunk_size : int, optional
        Rows per block (the logits buffer is chunk_size x V); None: as many
        as fit 64 MB (with the bfloat16 head's gradients, the logits and
        their bfloat16 copy).
    num_threads : int, optional
        As in `linear_cross_entropy`.
    compute_dtype : {None, "float32", "bfloat16"}
        As in `linear_cross_entropy`.

    Returns
    -------
    loss : float, or ndarray of per-row losses with reduction="none"
    grads : LinearGrads, only with return_grad
    """
    o = distill_options(temperature=temperature, divergence=divergence, beta=beta, hard_weight=hard_weight,
                        soft_weight=soft_weight, ignore_index=ignore_index, reduction=reduction, base=base, tail=tail)
    h2, W, y, b, dt, hshape, hdtype = V.linear_operands(hidden, linear_weight, target, linear_bias)
    Vn = W.shape[0]
    idx_shape = hshape[:-1]
    if isinstance(teacher, SparseTeacher):
        teacher = SparseTeacher(*sparse_rows(teacher, idx_shape, Vn))
    else:
        teacher = dense_rows(teacher, idx_shape + (Vn,), len(hshape) - 1, Vn)
    if y is None and o.hard_weight != 0:
        raise ValueError("hard_weight needs target (class indices)")
    yf = None if y is None else V.class_labels(y, Vn, o.ignore_index)
    sw = None if sample_weight is None else V.sample_weight(sample_weight, idx_shape)
    parts = linear_distill_parts(h2, W, b, teacher, o, labels=yf, sample_weight=sw, want_grad=return_grad,
                                 chunk_size=chunk_size, num_threads=num_threads, compute_dtype=compute_dtype)
    if o.reduction == "none":
        loss = parts.rows.reshape(idx_shape).astype(hdtype, copy=False)
    else:
        loss = finish_loss(parts.loss_sum, parts.weight_sum, o.reduction, o.k)
    if not return_grad:
        return loss
    gs = [parts.d_hidden, parts.d_weight, parts.d_bias]
    del parts
    return loss, narrow_grads(gs, hshape, hdtype, W, b)


def linear_distill_parts(h2, W, b, teacher, options, *, labels=None, sample_weight=None, want_grad=False,
                         grad_denominator=None, chunk_size=None, num_threads=None, compute_dtype=None):
    """The row-block loop of linear_distillation_loss over validated flat
    operands (h2 (N, H), W (V, H), bias b, teacher (N, V) or a SparseTeacher
    of (N, k) arrays, int64 labels (N,) or None, sample weights (N,) or
    None): loss partials and, with want_grad, the three gradients scaled by
    `grad_denominator` (the global mean's; default: this batch's);
    compute_dtype as in bf16_head."""
    o = options
    N, H = h2.shape
    Vn = W.shape[0]
    dt = V.compute_dtype(W.dtype)
    if isinstance(teacher, SparseTeacher):
        block = lambda r0, r1: SparseTeacher(teacher.indices[r0:r1], teacher.logprobs[r0:r1])   # noqa: E731
    else:
        block = lambda r0, r1: teacher[r0:r1]                                                  # noqa: E731
    nt = V.num_threads(num_threads)
    w = np.ones(N) if sample_weight is None else sample_weight
    if labels is not None:
        w = np.where(labels != o.ignore_index, w, 0.0)
    denom = float(np.sum(w))
    gden = denom if grad_denominator is None else float(grad_denominator)
    bf, h2, W = bf16_head(h2, W, nt, compute_dtype)
    cs = block_rows(chunk_size, Vn, dt, bf, want_grad)
    acc = _GradSums(N, H, Vn, dt, b is not None, W, bf) if want_grad else None
    rows = np.empty(N, dt) if o.reduction == "none" else None
    loss_sum = 0.0
    with _blas_threads(nt):
        for r0, r1, hb, logits in logit_chunks(h2, W, b, dt, cs, bf):
            parts = distill_parts(logits, block(r0, r1), o, target=None if labels is None else labels[r0:r1],
                                  sample_weight=None if sample_weight is None else sample_weight[r0:r1],
                                  want_grad=want_grad, grad_out=logits if want_grad else None,
                                  grad_denominator=gden, num_threads=nt)
            loss_sum += parts.loss_sum
            if rows is not None:
                rows[r0:r1] = parts.rows
            if acc is not None:
                acc.add(logits, hb, r0, r1)
    return LinearParts(loss_sum, denom, rows, *(acc.result() if acc else (None, None, None)))


def _blas_threads(nt):
    """num_threads for the matrix products too: the BLAS pool limited to the
    kernels' thread count for the call (threadpoolctl, when installed; it
    comes with scikit-learn).  Without num_threads each pool keeps its own
    default; they never run at the same time."""
    if nt is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=nt, user_api="blas")
