"""fit_temperature: temperature scaling (Guo et al. 2017) fitted by a
safeguarded Halley method, one fused kernel pass per step.

With beta = 1 / T, the mean NLL f of softmax(beta x) is convex in beta;
its derivatives f1, f2, f3 in beta are
    f(beta)  = mean_w [lse(beta x) - beta x_y]
    f1(beta) = mean_w [E_p x - x_y]              (p = softmax(beta x))
    f2(beta) = mean_w Var_p x  >= 0
    f3(beta) = mean_w E_p[(x - E_p x)^3]
(sigmoid: f1 = mean_w (sigma - t) x, f2 = mean_w sigma (1 - sigma) x^2,
f3 = mean_w sigma (1 - sigma) (1 - 2 sigma) x^3).  The kernels return the
four in one pass (the row moments come with the exp-sum:
_kernels.temperature_moments), so Halley's method on the root of f1
(cubic convergence: Newton's step corrected by f3) needs a few passes; a
bracket [lo, hi] on that root (f1 increases) catches a step that leaves
it, and Newton's step stands in where the correction is not modest.  A finite minimiser exists when f'(inf) > 0
(some counted row's label is not its top class) and f'(0) < 0 (the labels
score above the average class); otherwise the NLL falls toward T -> 0 or
T -> inf and the fit says so.
"""
import math
import warnings

import numpy as np

from . import _kernels as _k
from . import _validate as V
from ._evaluation import binary_operands
from ._layout import BLOCK_ELEMS, _logit_rows, _nblocks, _rows_per_block, _threads
from ._results import TemperatureFit

#: beta below this (T above 1e12) with the NLL still falling: no finite minimiser
_BETA_FLOOR = 1e-12
#: the sums of one pass (both kernels; the class kernel's blocks also count bad labels)
WIDTH = 7


def class_moments(logits, labels, *, axis=-1, ignore_index=-100, sample_weight=None, num_threads=None):
    """The softmax operands validated once; returns sums(T): the (7,)
    sums of _kernels.temperature_moments over every block (in block order,
    so independent of threads): NLL, weight, D, V, m - z_y, count, K."""
    x, ax, x2, mshape = _logit_rows(logits, axis, "logits")
    N, C = x2.shape
    idx_shape = tuple(mshape[:-1])
    ii = V.ignore_index(ignore_index)
    yl = np.asarray(labels)
    if yl.dtype.kind in "iu" and yl.shape != idx_shape:
        raise ValueError(f"labels must have shape {idx_shape} (the logits' shape without axis {ax}), "
                         f"got {yl.shape}")
    y = V.class_labels(yl, C, ii, name="labels", check=False)   # the range: by the kernel, every pass
    sw = None if sample_weight is None else V.sample_weight(sample_weight, idx_shape)
    nt = _threads(num_threads, N * C)
    rpb = _rows_per_block(C)
    partial = np.zeros((_nblocks(N, rpb), WIDTH + 1))

    def sums(T):
        partial[:] = 0.0
        _k.temperature_moments(x2, y, sample_weight=sw, ignore_index=ii, temperature=T, partial=partial,
                               rows_per_block=rpb, nt=nt)
        tot = partial.sum(axis=0) if len(partial) else np.zeros(WIDTH + 1)
        if tot[WIDTH] > 0:
            V.class_labels(yl, C, ii, name="labels")   # raises, naming the first bad label
        return tot[:WIDTH]
    return sums


def binary_moments(logits, targets, *, sample_weight=None, num_threads=None):
    """The sigmoid operands validated once; returns sums(T): the (7,) sums
    of _kernels.binary_temperature_moments: NLL, weight, f1, f2, f1(inf),
    f1(0), f3 (each times the weight sum)."""
    x, xf, tf, wf = binary_operands(logits, targets, sample_weight)
    n = x.size
    nt = _threads(num_threads, n)
    partial = np.zeros((_nblocks(n, BLOCK_ELEMS), WIDTH))

    def sums(T):
        partial[:] = 0.0
        _k.binary_temperature_moments(xf, tf, weight=wf, temperature=T, partial=partial, block=BLOCK_ELEMS, nt=nt)
        return partial.sum(axis=0) if len(partial) else np.zeros(WIDTH)
    return sums


def fit_options(tol, max_iter, binary, ignore_index):
    """tol, max_iter checked; ignore_index refused with binary targets."""
    tol = float(tol)
    if not (0.0 < tol < 1.0):
        raise ValueError(f"tol must be in (0, 1), got {tol}")
    max_iter = V.positive_int(max_iter, "max_iter")
    if binary and ignore_index != -100:
        raise ValueError("ignore_index applies to class labels; binary targets have none to ignore "
                         "(give those elements sample_weight 0)")
    return tol, max_iter


def _derivatives(s, beta, binary):
    """(f, f1, f2, f3, f1(inf), f1(0) or None) in beta from one pass's sums."""
    W = s[1]
    if binary:
        return s[0] / W, s[2] / W, s[3] / W, s[6] / W, s[4] / W, s[5] / W
    return (s[0] / W, s[2] / (beta * W), s[3] / (beta * beta * W), s[6] / (beta ** 3 * W), s[4] / (beta * W),
            None)


def _step(g, h, k):
    """Halley's step for the root of f1 (f1 = g, f2 = h, f3 = k): Newton's
    -g/h divided by 1 + (-g/h) k / (2 h); Newton's alone where that divisor
    is outside [1/2, 2] (far from the root, where the correction is not
    to be trusted).  NaN without curvature."""
    if not h > 0:
        return math.nan
    sn = -g / h
    c = 1.0 + sn * k / (2.0 * h)
    return sn / c if 0.5 <= c <= 2.0 else sn


def _result(T, before, after, it):
    return TemperatureFit(float(T), float(before), float(after), int(it))


def no_minimiser(toward_zero):
    """The ValueError of a fit whose NLL has no finite minimiser."""
    if toward_zero:
        return ValueError("no finite temperature minimises the NLL: every counted row's label is its top "
                          "class, so the loss keeps falling as T -> 0")
    return ValueError("no finite temperature minimises the NLL: the logits score the targets below chance, "
                      "so the loss keeps falling as T -> infinity")


def fit(sums, *, binary, tol, max_iter):
    """The safeguarded Halley iteration in beta = 1 / T over sums(T).

    Stops when the step just computed is below tol (relative to beta), or
    when the steps shrink fast enough (superlinearly: ratio r < 0.1) that
    the next one, about r times this one or less, would be: then this
    step is taken without another pass.  loss_after is f at the final
    beta to third order in that last step."""
    beta, lo, hi = 1.0, 0.0, math.inf
    s = np.asarray(sums(1.0), np.float64)
    if not s[1] > 0:
        raise ValueError("fit_temperature needs counted rows of positive total weight; there are none")
    f, g, h, k, ginf, g0 = _derivatives(s, beta, binary)
    if not (math.isfinite(f) and math.isfinite(g) and math.isfinite(h)):
        raise ValueError("the NLL at T = 1 is not finite: the counted rows hold NaN or infinite logits")
    if not ginf > 0:
        raise no_minimiser(True)
    if g0 is not None and not g0 < 0:
        raise no_minimiser(False)
    loss_before, it, prev = f, 1, math.nan
    while True:
        if g > 0:
            hi = beta
        elif g < 0:
            lo = beta
        step = _step(g, h, k)
        bn = beta + step
        if g == 0:
            return _result(1.0 / beta, loss_before, f, it)
        if lo < bn < hi:
            r = abs(step) / abs(prev) if math.isfinite(prev) and prev != 0 else math.inf   # after a Halley step
            if abs(step) <= tol * beta or (r < 0.1 and r * abs(step) <= tol * beta):
                # the step is the error of beta to first order, and what
                # remains after it is below tol: take it, with f along it
                return _result(1.0 / bn, loss_before,
                               f + step * (g + step * (0.5 * h + step * k / 6.0)), it)
            prev = step
        else:
            prev = math.nan
            if hi == math.inf:                   # no curvature yet: search upward
                bn = 4.0 * beta
            elif lo > 0:                         # bracketed: bisect
                bn = 0.5 * (lo + hi)
            elif step < 0:                       # past 0: the step taken in T instead,
                bn = beta / (1.0 - step / beta)  # T (1 + |step| / beta), Newton's to first order
            else:
                bn = 0.25 * hi
            if hi - lo <= tol * beta:
                return _result(1.0 / beta, loss_before, f, it)
        if hi < _BETA_FLOOR:
            raise no_minimiser(False)
        if it >= max_iter:
            warnings.warn(f"fit_temperature did not converge to tol={tol} in {max_iter} passes "
                          f"(last step {abs(step) / beta:.2g} relative); returning the last temperature",
                          RuntimeWarning, stacklevel=3)
            return _result(1.0 / beta, loss_before, f, it)
        beta = bn
        s = np.asarray(sums(1.0 / beta), np.float64)
        f, g, h, k, _, _ = _derivatives(s, beta, binary)
        it += 1
        if not (math.isfinite(f) and math.isfinite(g) and math.isfinite(h)):
            raise FloatingPointError(f"the NLL at T = {1.0 / beta:g} is not finite")


def fit_temperature(logits, labels, *, axis=-1, ignore_index=-100, sample_weight=None, binary=False, tol=1e-7,
                    max_iter=50, num_threads=None):
    """Fit the temperature T > 0 that minimises the weighted mean NLL of
    ``softmax(logits / T)`` (temperature scaling, Guo et al. 2017).

    Each iteration is one fused pass over the logits that returns the NLL
    and its first and second derivatives in 1/T, in which the NLL is
    convex; a safeguarded Newton method converges in a handful of passes.

    Parameters
    ----------
    logits : array_like, float
        Class scores (binary=True: sigmoid logits of any shape).
    labels : array_like
        Class indices, the logits' shape without `axis` (binary=True:
        0/1 targets or probabilities of the logits' shape).
    axis : int
        The class axis.
    ignore_index : int
        Rows with this label are not counted (class labels only).
    sample_weight : array_like, optional
        Per-row weights (binary: broadcastable to the logits).
    binary : bool
        Fit ``sigmoid(logits / T)`` against binary targets.
    tol : float
        Stop when a Newton step changes T by at most this, relatively.
    max_iter : int
        At most this many passes; a RuntimeWarning if they do not reach tol.
    num_threads : int, optional
        OpenMP threads; default: the OpenMP default.

    Returns
    -------
    TemperatureFit
        temperature, loss_before (T = 1), loss_after (in nats), iterations.

    Notes
    -----
    A finite minimiser exists unless every counted row's label is its top
    class (the NLL falls toward T -> 0) or the logits score the labels
    below chance (it falls toward T -> infinity); both are ValueErrors, as
    are NaN or infinite logits in counted rows.
    """
    tol, max_iter = fit_options(tol, max_iter, binary, ignore_index)
    if binary:
        sums = binary_moments(logits, labels, sample_weight=sample_weight, num_threads=num_threads)
    else:
        sums = class_moments(logits, labels, axis=axis, ignore_index=ignore_index, sample_weight=sample_weight,
                             num_threads=num_threads)
    return fit(sums, binary=binary, tol=tol, max_iter=max_iter)


def _file_sums(x, y, w, *, binary, batch_rows, progress, options):
    """sums(T) over a memory-mapped file, batch_rows rows at a time: each
    batch validated and passed through the kernels (bounded memory); the
    batches' sums added in file order."""
    from ._files import _progress
    n = x.shape[0]
    starts = range(0, n, batch_rows)
    passes = [0]

    def sums(T):
        passes[0] += 1
        total = np.zeros(WIDTH)
        it, tick = _progress(starts, progress, f"fit_temperature pass {passes[0]}")
        for r0 in it:
            r1 = min(r0 + batch_rows, n)
            wb = None if w is None else w[r0:r1]
            try:
                if binary:
                    f = binary_moments(x[r0:r1], y[r0:r1], sample_weight=wb, num_threads=options["num_threads"])
                else:
                    f = class_moments(x[r0:r1], y[r0:r1], sample_weight=wb, **options)
                total += f(T)
            except ValueError as e:          # a bad label: say where in the file it is
                raise ValueError(f"in rows {r0}..{r1 - 1} of the file (indices below count from row {r0}): "
                                 f"{e}") from None
            if tick:
                tick()
        return total
    return sums


def fit_temperature_file(logits_path, labels, *, axis=-1, ignore_index=-100, sample_weight=None, binary=False,
                         tol=1e-7, max_iter=50, batch_rows=65536, progress=None, num_threads=None):
    """`fit_temperature` over a `.npy` file of logits that may not fit in
    memory: every pass reads the file `batch_rows` rows at a time through
    mmap_mode='r', so memory stays bounded (a handful of passes).

    Parameters
    ----------
    logits_path : str or path-like
        A `.npy` file of logits, rows along its first axis.
    labels : array_like or str or path-like
        As in `fit_temperature`, or a `.npy` path (memory-mapped too).
    sample_weight : array_like or str or path-like, optional
        As in `fit_temperature` (binary: the logits' shape), or a `.npy` path.
    axis, ignore_index, binary, tol, max_iter, num_threads :
        As in `fit_temperature`; axis must not be the first.
    batch_rows : int
        Rows read per batch.
    progress : bool or callable, optional
        A tqdm progress bar per pass when tqdm is installed: None shows it
        for passes of 8 batches or more, False never; or progress(total)
        returning a function called after each batch (once per pass).

    Returns
    -------
    TemperatureFit
    """
    from ._files import _is_path, _open_npy, check_file_operands
    tol, max_iter = fit_options(tol, max_iter, binary, ignore_index)
    x = _open_npy(logits_path, "logits")
    y = _open_npy(labels, "labels") if _is_path(labels) else np.asarray(labels)
    ax = check_file_operands(x, y, binary, axis, "fit_temperature_file")
    w = None
    if sample_weight is not None:
        w = _open_npy(sample_weight, "sample_weight") if _is_path(sample_weight) else np.asarray(sample_weight)
        want = x.shape if binary else y.shape
        if w.shape != want:
            raise ValueError(f"sample_weight must have shape {want} (one weight per "
                             f"{'element' if binary else 'row'}), got {w.shape}")
    if x.ndim == 0:
        raise ValueError("fit_temperature_file reads its logits along the first axis; got a 0-d array")
    options = dict(num_threads=num_threads) if binary else dict(axis=ax, ignore_index=ignore_index,
                                                                  num_threads=num_threads)
    batch_rows = V.positive_int(batch_rows, "batch_rows")
    return fit(_file_sums(x, y, w, binary=binary, batch_rows=batch_rows, progress=progress, options=options),
               binary=binary, tol=tol, max_iter=max_iter)
