"""The options of a loss family as one value: validated once, immutable,
hashable, and handed whole to the kernels' option structs, the reference,
the Dask partials and the linear head.

A public function builds its value from its keyword arguments
(`xent_options(...)`); everything downstream reads fields of it, and the
fast paths are chosen by fields derived from all the others at
construction (`XentOptions.shortcut`, `.plain`), so an option added here is
never silently ignored on one path.  Adding an option: a field, its check
in the builder, its place in `plain`/`shortcut` if it changes the
arithmetic, its use in the kernel struct (`kernel`) and the reference --
the public signatures (and their stubs) forward it by name.
"""
from __future__ import annotations

import functools
import math
import numbers
from dataclasses import dataclass, field, fields
from typing import NamedTuple

import numpy as np

from . import _validate as V


def _positive_finite(v, name):
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(v).__name__}")
    v = float(v)
    if not (v > 0 and math.isfinite(v)):
        raise ValueError(f"{name} must be finite and > 0, got {v!r}")
    return v


@dataclass(frozen=True)
class LogitTransform:
    """z = x / temperature, then softcap * tanh(z / softcap) when softcap is
    given (Gemma 2's logit soft-cap): every loss, metric, lse and gradient
    is that of z, the gradient with respect to x."""
    temperature: float = 1.0
    softcap: float | None = None

    @classmethod
    def of(cls, softcap=None, temperature=1.0):
        return cls(_positive_finite(temperature, "temperature"),
                   None if softcap is None else _positive_finite(softcap, "softcap"))

    @property
    def identity(self):
        """True when z = x: today's arithmetic, untouched."""
        return self.temperature == 1.0 and self.softcap is None

    def kernel_args(self):
        """(temperature, softcap or 0) as the kernels take them."""
        return self.temperature, (0.0 if self.softcap is None else self.softcap)

    def apply(self, x):
        """(z, dz/dx) in float64 -- the reference's transform."""
        x = np.asarray(x, np.float64)
        T, cap = self.temperature, self.softcap
        if cap is None:
            return x / T, np.full(x.shape, 1.0 / T)
        u = x / T / cap
        with np.errstate(over="ignore"):
            return cap * np.tanh(u), 1.0 / T / np.cosh(u) ** 2


IDENTITY = LogitTransform()


def _frozen(a):
    a = np.array(a, np.float64)          # a copy: the caller's array may change later
    a.flags.writeable = False
    return a


def _key(v):
    return (v.shape, v.tobytes()) if isinstance(v, np.ndarray) else v


@dataclass(frozen=True, eq=False)
class XentOptions:
    """The options of softmax cross-entropy (`softmax_cross_entropy`,
    `linear_cross_entropy`, `fusedxent.dask`): everything but the data and
    how to run (sample_weight, grad_out, num_threads).  `weight` and a
    per-class `alpha` are read-only float64 copies; their length is checked
    against the class count when the kernels' struct is made (`kernel`)."""
    axis: int = -1
    weight: np.ndarray | None = None
    ignore_index: int = -100
    label_smoothing: float = 0.0
    reduction: str = "mean"
    base: float | None = None
    z_loss: float = 0.0
    transform: LogitTransform = IDENTITY
    gamma: float = 0.0
    alpha: float | np.ndarray | None = None
    k: float = field(default=1.0, repr=False)          # 1 / ln(base)
    # derived once (a small call reads them on every call)
    focal: bool = field(init=False, repr=False)
    plain: bool = field(init=False, repr=False)
    shortcut: bool = field(init=False, repr=False)

    def __post_init__(self):
        # The focal loss: gamma or alpha given (gamma 0, alpha None: cross-entropy).
        focal = self.gamma != 0.0 or self.alpha is not None
        # plain: the forward loss is sum s_i w_y (lse - x_y) of the
        # (transformed) logits, which the kernels' one-operation path computes.
        plain = self.label_smoothing == 0.0 and self.z_loss == 0.0 and not focal
        # shortcut: every option at its default but the reduction ("mean" or
        # "sum") and ignore_index -- the small-call path of softmax_cross_entropy.
        shortcut = (plain and self.weight is None and self.base is None and self.transform.identity
                    and self.reduction != "none" and self.axis in (-1, 1)
                    and -(1 << 62) < self.ignore_index < (1 << 62))
        object.__setattr__(self, "focal", focal)
        object.__setattr__(self, "plain", plain)
        object.__setattr__(self, "shortcut", shortcut)

    def _fields(self):
        return (self.axis, _key(self.weight), self.ignore_index, self.label_smoothing, self.reduction,
                self.base, self.z_loss, self.transform, self.gamma, _key(self.alpha))

    def __eq__(self, other):
        return type(other) is XentOptions and self._fields() == other._fields()

    def __reduce__(self):
        # unpickled (a Dask worker's copy), the arrays are read-only again
        return _rebuild, ({f.name: getattr(self, f.name) for f in fields(self) if f.init},)

    def __hash__(self):
        return hash(self._fields())

    def class_weight(self, C):
        return None if self.weight is None else V.weight_vector(self.weight, C, "weight", "one weight per class")

    def class_alpha(self, C):
        """alpha as the kernels take it: None or a float64 vector of C."""
        if self.alpha is None:
            return None
        return V.weight_vector(self.alpha, C, "alpha", "one focal weight per class")

    def kernel(self, C, *, grad_scale=0.0, target_a=1.0, target_b=0.0, check_labels=False, row_stats=False):
        """The kernels' option struct for C classes (the pass's own scales;
        row_stats: the pass writes per-row statistics, which the plain
        forward path does not give)."""
        from . import _kernels as _k
        w = self.class_weight(C)
        fc = None
        if self.focal:          # the focal path's per-class coefficient: class weight x alpha
            a = self.class_alpha(C)
            fc = (np.ones(C) if w is None else w) * (1.0 if a is None else a)
        T, cap = self.transform.kernel_args()
        return _k.CEOptions(n_classes=C, class_weight=w, class_weight_sum=float(C if w is None else np.sum(w)),
                            ignore_index=self.ignore_index, label_smoothing=self.label_smoothing,
                            z_loss=self.z_loss, grad_scale=grad_scale, loss_scale=self.k, target_a=target_a,
                            target_b=target_b, check_labels=check_labels, plain=self.plain and not row_stats,
                            gamma=self.gamma,
                            focal_class=fc, temperature=T, softcap=cap)


def _rebuild(kw):
    return XentOptions(**{k: (_frozen(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()})


def _class_vector(v, name, what, nonneg):
    """A scalar or a (C,) vector of real numbers (C checked later, against
    the logits): a float, or a read-only float64 copy."""
    if v is None:
        return None
    a = np.asarray(v)
    if not V.is_real(a.dtype):
        raise TypeError(f"{name} must be real numbers, got dtype {a.dtype}")
    if a.ndim > 1:
        raise ValueError(f"{name} must be a scalar or have shape (C,) ({what}), got {a.shape}")
    if nonneg and not (np.all(a >= 0) and np.all(np.isfinite(a))):
        raise ValueError(f"{name} must be finite and >= 0")
    if a.ndim == 0 and nonneg:
        return float(a)                  # alpha: a scalar stays a number (hashable, and the memo's key)
    return _frozen(a)


def _build(axis, weight, ignore_index, label_smoothing, reduction, base, z_loss, softcap, temperature,
           gamma, alpha):
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"axis must be an integer, got {type(axis).__name__}")
    return XentOptions(axis=int(axis), weight=_class_vector(weight, "weight", "one weight per class", False),
                       ignore_index=V.ignore_index(ignore_index),
                       label_smoothing=V.unit_interval(label_smoothing, "label_smoothing"),
                       reduction=V.reduction(reduction), base=base, z_loss=V.nonneg(z_loss, "z_loss"),
                       transform=LogitTransform.of(softcap, temperature), gamma=V.nonneg(gamma, "gamma"),
                       alpha=_class_vector(alpha, "alpha", "one focal weight per class", True),
                       k=V.log_base(base))


_build_cached = functools.lru_cache(maxsize=256, typed=True)(_build)


def xent_options(*, axis=-1, weight=None, ignore_index=-100, label_smoothing=0.0, reduction="mean", base=None,
                 z_loss=0.0, softcap=None, temperature=1.0, gamma=0.0, alpha=None):
    """The validated XentOptions of softmax_cross_entropy's keywords (raises
    as the public function documents).  Calls without arrays are memoized:
    a small call's options cost a dictionary lookup."""
    args = (axis, weight, ignore_index, label_smoothing, reduction, base, z_loss, softcap, temperature, gamma,
            alpha)
    if weight is None and (alpha is None or type(alpha) in (int, float)):
        try:
            return _build_cached(*args)
        except TypeError as e:
            if "unhashable" not in str(e):
                raise
    return _build(*args)


# ------------------------------------------------------------------ distillation

DIVERGENCES = ("kl", "reverse_kl", "jsd")
TAILS = ("bucket", "renormalize")


class DistillOptions(NamedTuple):
    """The validated scalar options of a distillation call."""
    axis: int
    temperature: float
    divergence: str
    beta: float
    hard_weight: float
    soft_weight: float
    ignore_index: int
    reduction: str
    k: float                 #: 1 / ln(base)
    tail: str = "bucket"     #: a sparse teacher's rest: one bucket, or both renormalized over the k


def distill_options(*, axis=-1, temperature=1.0, divergence="kl", beta=0.5, hard_weight=0.0, soft_weight=1.0,
                    ignore_index=-100, reduction="mean", base=None, tail="bucket"):
    """DistillOptions from the keyword arguments of distillation_loss,
    checked (beta only matters to "jsd", and is 0.5 otherwise)."""
    if not isinstance(divergence, str) or divergence not in DIVERGENCES:
        raise ValueError(f"divergence must be one of {DIVERGENCES}, got {divergence!r}")
    if not isinstance(tail, str) or tail not in TAILS:
        raise ValueError(f"tail must be one of {TAILS}, got {tail!r}")
    b = V.unit_interval(beta, "beta", lo_open=True, hi_open=True)
    return DistillOptions(axis=axis, temperature=_positive_finite(temperature, "temperature"),
                          divergence=divergence, beta=b if divergence == "jsd" else 0.5,
                          hard_weight=V.nonneg(hard_weight, "hard_weight"),
                          soft_weight=V.nonneg(soft_weight, "soft_weight"),
                          ignore_index=V.ignore_index(ignore_index), reduction=V.reduction(reduction),
                          k=V.log_base(base), tail=tail)
