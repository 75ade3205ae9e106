"""Equal-mass ("quantile") calibration bins with bounded memory.

Equal-mass bins need the quantiles of the confidence over every counted
row, which a stream cannot hold.  The passes keep instead a fine
histogram (weight, confidence sum, hit or target sum) over the confidence's
logit u = log(c / (1 - c)) -- for softmax top-label confidence c = 1/(1+s)
that is -log(s), for a sigmoid output p the logit x itself -- in FINE_BINS
equal bins on [-LOGIT_SPAN, LOGIT_SPAN).  In the logit a confident model's
mass is spread out (c = 1 - 1e-6 is u = 13.8), where it would be one
equal-width bin of c.  Histograms add, so streams and Dask blocks merge
exactly; the B equal-mass bins are formed at the end by cutting the fine
histogram where its cumulative weight is nearest k W / B, so an edge is
off by at most one fine bin (a factor of 1.0044 in 1 - c near 1, in c
near 0) and the ECE by at most the mass of those fine bins.

Kernel-free: the reference does not use it (it sorts, exactly).
"""
import numpy as np

from . import _validate as V

FINE_BINS = 1 << 14
LOGIT_SPAN = 36.0                       # beyond: 1 - c < 2.4e-16, c = 1 in double
FINE_WIDTH = 2.0 * LOGIT_SPAN / FINE_BINS
STRATEGIES = ("uniform", "quantile")


def strategy(s):
    """The calibration_strategy, checked."""
    if s not in STRATEGIES:
        raise ValueError(f'calibration_strategy must be "uniform" or "quantile", got {s!r}')
    return s


def partial_bins(B, s):
    """Bins of a pass's calibration partials: B, or the fine histogram's."""
    return FINE_BINS if (B and s == "quantile") else B


MAX_ROC_BINS = 1 << 16


def roc_bins(R):
    """roc_bins checked: None or 1..MAX_ROC_BINS equal-width bins of the
    logit on [-LOGIT_SPAN, LOGIT_SPAN] (the outer bins open)."""
    if R is None:
        return None
    R = V.positive_int(R, "roc_bins")
    if R > MAX_ROC_BINS:
        raise ValueError(f"roc_bins must be at most {MAX_ROC_BINS}, got {R}")
    return R


def roc_edges(R):
    """The R + 1 logit edges of the ROC bins."""
    return np.linspace(-LOGIT_SPAN, LOGIT_SPAN, R + 1)


def logit_args():
    """(logit_lo, logit_scale) of the kernels' fine histograms: fine bin
    floor((u - logit_lo) logit_scale) of the logit u, clamped."""
    return -LOGIT_SPAN, 1.0 / FINE_WIDTH


def quantile_bins(fine, B):
    """(edges (B + 1,), sums (3, B)) of B equal-mass bins cut from a fine
    histogram (3, FINE_BINS): each interior edge at the fine boundary where
    the cumulative weight is nearest k W / B (ties in the fine histogram
    stay together: a bin may be empty); edges[0] = 0, edges[B] = 1."""
    fine = np.asarray(fine, np.float64).reshape(3, -1)
    cum = np.cumsum(fine, axis=1)
    W = cum[0, -1] if cum.shape[1] else 0.0
    edges = np.empty(B + 1)
    edges[0], edges[B] = 0.0, 1.0
    if not W > 0:
        edges[1:B] = np.linspace(0.0, 1.0, B + 1)[1:B]
        return edges, np.zeros((3, B))
    target = W * np.arange(1, B) / B
    i = np.searchsorted(cum[0], target, side="left")             # first fine bin reaching the target
    below = np.where(i > 0, cum[0, np.maximum(i - 1, 0)], 0.0)
    cut = np.where(target - below < cum[0, np.minimum(i, cum.shape[1] - 1)] - target, i - 1, i)
    cut = np.maximum.accumulate(np.clip(cut, -1, FINE_BINS - 1))  # lower bins hold fine bins 0..cut
    at = np.concatenate([np.zeros((3, 1)), cum], axis=1)[:, cut + 1]
    sums = np.diff(np.concatenate([np.zeros((3, 1)), at, cum[:, -1:]], axis=1), axis=1)
    u = -LOGIT_SPAN + (cut + 1) * FINE_WIDTH
    edges[1:B] = 1.0 / (1.0 + np.exp(-u))
    return edges, sums
