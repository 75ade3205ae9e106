"""fusedxent.check(): every kernel against the NumPy reference on generated data."""
import math
from dataclasses import dataclass, field
from typing import Any, Iterator, List, Tuple

import numpy as np

# Documented tolerance: relative error per element, with an absolute floor
# of RTOL * (largest magnitude in the compared array) for values near 0.
RTOL: dict[np.dtype[Any], float] = {np.dtype(np.float16): 2e-3, np.dtype(np.float32): 2e-5, np.dtype(np.float64): 1e-12}
# fit_temperature's temperature: relative, for solvers run to a hundredth of it
TTOL: dict[np.dtype[Any], float] = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-9}


def compare(a: Any, b: Any, dtype: Any, atol: float = 0.0) -> Tuple[float, float, bool]:
    """(max abs err, max rel err, ok) of a against the reference b; NaN and
    infinities must sit in the same places with the same signs; atol: an
    absolute floor besides (the rounding of a reference's own formula)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return np.inf, np.inf, False
    same_special = np.array_equal(np.isnan(a), np.isnan(b)) and np.array_equal(
        np.where(np.isinf(b), b, 0), np.where(np.isinf(a), a, 0))
    fin = np.isfinite(a) & np.isfinite(b)
    if not fin.any():
        return 0.0, 0.0, bool(same_special)
    d = np.abs(a[fin] - b[fin])
    scale = np.abs(b[fin])
    rtol = RTOL[np.dtype(dtype)]
    floor = rtol * scale.max() if scale.size else 0.0
    rel = d / np.maximum(scale, np.finfo(np.float64).tiny)
    ok = bool(same_special and np.all(d <= rtol * scale + floor + atol))
    return float(d.max()), float(rel.max()), ok


@dataclass
class CheckReport:
    """Rows of (function, case, dtype, max abs err, max rel err, ok)."""
    rows: List[Tuple[str, str, str, float, float, bool]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r[-1] for r in self.rows)

    @property
    def failures(self) -> List[Tuple[str, str, str, float, float, bool]]:
        return [r for r in self.rows if not r[-1]]

    def __str__(self) -> str:
        lines = [f"{'function':<34}{'case':<26}{'dtype':<9}{'max abs err':>12}{'max rel err':>12}  ok"]
        for fn, case, dt, ea, er, ok in self.rows:
            lines.append(f"{fn:<34}{case:<26}{dt:<9}{ea:>12.2e}{er:>12.2e}  {'yes' if ok else 'NO'}")
        lines.append(f"{len(self.rows)} comparisons, {len(self.failures)} failed "
                     f"(tolerance: relative {', '.join(f'{k.name} {v:g}' for k, v in RTOL.items())})")
        return "\n".join(lines)


def _cases(rng: np.random.Generator) -> Iterator[Tuple[str, Any]]:
    yield "normal 64x1000", rng.standard_normal((64, 1000))
    yield "wide x30 33x10", 30 * rng.standard_normal((33, 10))
    yield "1 row, 1 class", rng.standard_normal((1, 1))
    yield "odd 7x3x17 axis=1", rng.standard_normal((7, 3, 17))
    conf = rng.standard_normal((40, 12))
    conf[np.arange(40), np.arange(40) % 12] += 40.0
    yield "confident 40x12", conf
    masked = rng.standard_normal((25, 9))
    masked[:, ::3] = -np.inf
    yield "masked -inf 25x9", masked
    yield "huge +-1e4 16x5", 1e4 * rng.standard_normal((16, 5))


def check(seed: int = 0, raise_on_failure: bool = False) -> CheckReport:
    """Run every compiled function against `fusedxent.reference`.

    Covers float32 and float64, several shapes (1x1, odd sizes, 1000
    classes, a 3-D array with axis=1), wide, confident, masked (-inf) and
    huge logits, gradients included.

    Parameters
    ----------
    seed : int
        Seed of the generated data.
    raise_on_failure : bool
        Raise AssertionError, carrying the report, when anything disagrees
        beyond the tolerance.

    Returns
    -------
    CheckReport
        `.ok`, `.failures`, and a printable table of every comparison.
    """
    import fusedxent as fx
    from . import reference as R

    rng = np.random.default_rng(seed)
    trng = np.random.default_rng([seed, 1])     # the teachers' own stream: the other cases' data stay as they were
    rep = CheckReport()

    def cmp(fn: str, case: str, dt: Any, a: Any, b: Any, atol: Tuple[float, float] = (0.0, 0.0)) -> None:
        if isinstance(a, tuple):
            for part, aa, bb, at in zip(("", " grad"), a, b, atol):
                cmp(fn + part, case, dt, aa, bb, (at, at))
            return
        rep.rows.append((fn, case, np.dtype(dt).name) + compare(a, b, dt, atol[0]))

    for case, x64 in _cases(rng):
        axis = 1 if x64.ndim == 3 else -1
        C = x64.shape[axis]
        idx_shape = np.delete(x64.shape, axis)
        y = rng.integers(0, C, size=idx_shape)
        if case.startswith("confident"):
            y = np.argmax(x64, axis=axis)
        if case.startswith("masked"):
            y = 1 + 3 * rng.integers(0, C // 3, size=idx_shape)
        t = rng.random(x64.shape)
        t /= t.sum(axis=axis, keepdims=True)
        tb = (rng.random(x64.shape) < 0.5).astype(np.float64)
        w = rng.random(C) + 0.5
        for dt in (np.float32, np.float64):
            x = x64.astype(dt)
            for name in ("softmax", "log_softmax", "logsumexp"):
                cmp(name, case, dt, getattr(fx, name)(x, axis=axis), getattr(R, name)(x, axis=axis))
            for name in ("sigmoid", "log_sigmoid"):
                cmp(name, case, dt, getattr(fx, name)(x), getattr(R, name)(x))
            sw = rng.random(idx_shape)
            for opts, label in (({}, "mean"), ({"reduction": "none", "weight": w}, "none,weight"),
                                ({"reduction": "sum", "base": 2}, "sum,base2"),
                                ({"label_smoothing": 0.1, "weight": w, "sample_weight": sw, "z_loss": 1e-3},
                                 "smoothing,sample_weight,z"),
                                ({"softcap": 3.0, "temperature": 1.5, "weight": w}, "softcap,temperature"),
                                ({"gamma": 2.0, "alpha": 0.25 * w, "sample_weight": sw}, "focal"),
                                ({"gamma": 1.5, "label_smoothing": 0.1, "softcap": 5.0}, "focal,smoothing,softcap")):
                cmp(f"softmax_cross_entropy[{label}]", case, dt,
                    fx.softmax_cross_entropy(x, y, axis=axis, return_grad=True, **opts),
                    R.softmax_cross_entropy(x, y, axis=axis, return_grad=True, **opts))
            sopts: Tuple[Tuple[dict[str, Any], str], ...] = (({}, "soft"),
                                                              ({"gamma": 2.0, "temperature": 0.7}, "soft,focal,temperature"))
            for opts, label in sopts:
                cmp(f"softmax_cross_entropy[{label}]", case, dt,
                    fx.softmax_cross_entropy(x, t.astype(dt), axis=axis, return_grad=True, **opts),
                    R.softmax_cross_entropy(x, t.astype(dt), axis=axis, return_grad=True, **opts))
            for opts, label in (({}, "mean"), ({"reduction": "none", "pos_weight": 2.0}, "none,pos_weight"),
                                ({"reduction": "none", "gamma": 2.0, "alpha": 0.25}, "none,focal"),
                                ({"label_smoothing": 0.1, "weight": 0.5}, "smoothing,weight")):
                cmp(f"sigmoid_binary_cross_entropy[{label}]", case, dt,
                    fx.sigmoid_binary_cross_entropy(x, tb.astype(dt), return_grad=True, **opts),
                    R.sigmoid_binary_cross_entropy(x, tb.astype(dt), return_grad=True, **opts))
            q = R.softmax(x64, axis=axis).astype(dt)
            cmp("cross_entropy", case, dt, fx.cross_entropy(t.astype(dt), q, axis=axis, reduction="none"),
                R.cross_entropy(t.astype(dt), q, axis=axis, reduction="none"))
            pr = R.sigmoid(x64).astype(dt)
            cmp("binary_cross_entropy", case, dt, fx.binary_cross_entropy(pr, tb.astype(dt), reduction="none"),
                R.binary_cross_entropy(pr, tb.astype(dt), reduction="none"))
            ev = fx.evaluate(x, y, axis=axis, topk=(1, 2, 5), calibration_bins=10, per_class=True,
                             sample_weight=sw)
            er = R.evaluate(x, y, axis=axis, topk=(1, 2, 5), calibration_bins=10, per_class=True,
                            sample_weight=sw)
            cmp("evaluate.loss", case, dt, ev.loss, er.loss)
            cmp("evaluate.lse", case, dt, ev.lse, er.lse)
            cmp("evaluate.brier", case, dt, ev.brier, er.brier)
            cmp("evaluate.entropy", case, dt, ev.entropy, er.entropy)
            assert ev.calibration is not None and er.calibration is not None
            assert ev.per_class is not None and er.per_class is not None
            cmp("evaluate.calibration", case, dt, ev.calibration.confidence_sum, er.calibration.confidence_sum)
            rep.rows.append(("evaluate.argmax/accuracy", case, np.dtype(dt).name, 0.0, 0.0,
                             bool(np.array_equal(np.asarray(ev.argmax), np.asarray(er.argmax))
                                  and abs(ev.accuracy - er.accuracy) <= 1e-12
                                  and ev.count == er.count)))
            rep.rows.append(("evaluate.topk", case, np.dtype(dt).name, 0.0, 0.0,
                             all(abs(ev.topk_accuracy[q] - er.topk_accuracy[q]) <= 1e-12 for q in (1, 2, 5))))
            rep.rows.append(("evaluate.per_class", case, np.dtype(dt).name, 0.0, 0.0,
                             bool(np.allclose(ev.per_class.support, er.per_class.support, rtol=1e-12)
                                  and np.allclose(ev.per_class.correct, er.per_class.correct, rtol=1e-12)
                                  and np.allclose(ev.calibration.weight, er.calibration.weight, rtol=1e-12))))
            # one-vs-rest AUROC: the same bins but for scores on a bin
            # boundary (the kernel's z in the logits' type); the totals exact
            ev, er = (f.evaluate(x, y, axis=axis, roc_bins=512, sample_weight=sw) for f in (fx, R))
            assert ev.roc is not None and er.roc is not None
            d = 0.0 if math.isnan(ev.roc.auroc) and math.isnan(er.roc.auroc) else abs(ev.roc.auroc - er.roc.auroc)
            rep.rows.append(("evaluate.roc", case, np.dtype(dt).name, d, 0.0,
                             bool(d <= 1e-3
                                  and np.allclose(ev.roc.positive.sum(1), er.roc.positive.sum(1), rtol=1e-12)
                                  and np.allclose(ev.roc.negative.sum(1), er.roc.negative.sum(1), rtol=1e-12))))
            tf: dict[str, Any] = dict(softcap=4.0, temperature=1.3)
            ev, er = fx.evaluate(x, y, axis=axis, **tf), R.evaluate(x, y, axis=axis, **tf)
            cmp("evaluate[softcap,temperature]", case, dt, [ev.loss, ev.brier, ev.entropy],
                [er.loss, er.brier, er.entropy])
            # distillation against a teacher near the student (masked classes
            # kept).  The reference's textbook form rounds to ~eps (1 + |x| / T)
            # absolute (it cancels where the kernels do not: confident rows
            # differ in their last digits there), hence the absolute floors.
            teacher = (x64 + trng.standard_normal(x64.shape)).astype(dt)
            T = 1.5
            xmax = float(np.max(np.abs(x64[np.isfinite(x64)]), initial=0.0))
            ref_eps = 8 * np.finfo(np.float64).eps * (1 + xmax / T)
            gfloor = ref_eps * (T + 1) * float(sw.max() / np.sum(sw))
            for div in ("kl", "reverse_kl", "jsd"):
                dopts: dict[str, Any] = dict(axis=axis, divergence=div, temperature=T, target=y, hard_weight=0.3,
                                             sample_weight=sw)
                cmp(f"distillation_loss[{div}]", case, dt,
                    fx.distillation_loss(x, teacher, return_grad=True, **dopts),
                    R.distillation_loss(x, teacher, return_grad=True, **dopts), (ref_eps * T * T, gfloor))
                cmp(f"distillation_loss[{div},none]", case, dt,
                    fx.distillation_loss(x, teacher, axis=axis, divergence=div, reduction="none"),
                    R.distillation_loss(x, teacher, axis=axis, divergence=div, reduction="none"),
                    (ref_eps * (1 + xmax), 0.0))
            # a sparse teacher: the teacher's top k (k = C for one class: no bucket)
            tm = np.moveaxis(teacher.astype(np.float64), axis, -1)
            with np.errstate(invalid="ignore"):
                lt = tm - R.logsumexp(tm)[..., None]
            ids = np.argsort(-tm, axis=-1, kind="stable")[..., :min(C, 5)]
            top = fx.SparseTeacher(ids, np.take_along_axis(lt, ids, -1).astype(dt))
            for tail in ("bucket", "renormalize"):
                dopts = dict(axis=axis, divergence="jsd", temperature=T, target=y, hard_weight=0.3, tail=tail)
                cmp(f"distillation_loss[sparse,{tail}]", case, dt,
                    fx.distillation_loss(x, top, return_grad=True, **dopts),
                    R.distillation_loss(x, top, return_grad=True, **dopts), (ref_eps * T * T, gfloor))
            bopts = dict(calibration_bins=5, sample_weight=0.5 + tb)
            bv, br = fx.evaluate_binary(x, tb.astype(dt), **bopts), R.evaluate_binary(x, tb.astype(dt), **bopts)
            cmp("evaluate_binary", case, dt, [bv.loss, bv.accuracy, bv.brier], [br.loss, br.accuracy, br.brier])
    # the linear layer's loss and gradients, in blocks that do not divide
    # the rows, against the reference's materialized logits
    for dt in (np.float32, np.float64):
        h = rng.standard_normal((45, 12)).astype(dt)
        W = (rng.standard_normal((19, 12)) / 3).astype(dt)
        b = rng.standard_normal(19).astype(dt)
        y = rng.integers(0, 19, 45)
        y[::5] = -100
        lcases: Tuple[Tuple[str, dict[str, Any]], ...] = (
            ("", dict(label_smoothing=0.1, z_loss=1e-3)),
            ("[softcap,focal]", dict(softcap=3.0, temperature=0.8, gamma=2.0)))
        for label, lopts in lcases:
            lf, gf = fx.linear_cross_entropy(h, W, y, linear_bias=b, return_grad=True, chunk_size=8, **lopts)
            lr, gr = R.linear_cross_entropy(h, W, y, linear_bias=b, return_grad=True, **lopts)
            cmp(f"linear_cross_entropy{label}", "45x12 @ 19x12", dt, [lf], [lr])
            cmp(f"linear_cross_entropy{label}.grads", "45x12 @ 19x12", dt,
                np.concatenate([a.reshape(-1) for a in gf if a is not None]),
                np.concatenate([a.reshape(-1) for a in gr if a is not None]))
        if dt == np.float32:
            # the bfloat16 products (AVX512-BF16 where the CPU has them, else
            # the float32 products of the rounded values) against the
            # reference on the rounded inputs; the gradients carry G's
            # rounding to bfloat16, 2^-9 of each element, hence the floor
            lf, gf = fx.linear_cross_entropy(h, W, y, linear_bias=b, return_grad=True, chunk_size=8,
                                             compute_dtype="bfloat16")
            lr, gr = R.linear_cross_entropy(h, W, y, linear_bias=b, return_grad=True, compute_dtype="bfloat16")
            cmp("linear_cross_entropy[bf16]", "45x12 @ 19x12", dt, [lf], [lr])
            gfl = np.concatenate([a.reshape(-1) for a in gf if a is not None])
            grl = np.concatenate([a.reshape(-1) for a in gr if a is not None])
            cmp("linear_cross_entropy[bf16].grads", "45x12 @ 19x12", dt, gfl, grl,
                (2.0 ** -8 * float(np.abs(grl).max()), 0.0))
        eopts: dict[str, Any] = dict(linear_bias=b, softcap=3.0, topk=(1, 3))
        ef = fx.linear_evaluate(h, W, y, chunk_size=8, **eopts)
        er = R.linear_evaluate(h, W, y, **eopts)
        cmp("linear_evaluate", "45x12 @ 19x12", dt, [ef.loss, ef.brier, ef.entropy, ef.topk_accuracy[3]],
            [er.loss, er.brier, er.entropy, er.topk_accuracy[3]])
    # temperature scaling of over- and under-confident logits (a minimiser
    # exists: most rows right, not all), class and binary, Newton against
    # bisection: the losses at the dtype's tolerance, the temperature at the
    # solvers' own (TTOL: a root of the NLL's derivative is fixed only to the
    # rounding of that derivative over its slope, 1e-12 and more apart
    # between compilers and paths in float64)
    for dt in (np.float32, np.float64):
        ttol = TTOL[np.dtype(dt)]
        for scale in (0.4, 3.0):
            yt = rng.integers(0, 8, 300)
            xt = rng.standard_normal((300, 8)) * 2.0
            xt[np.arange(300), yt] += 2.0
            xt = (xt * scale).astype(dt)
            swt = rng.random(300)
            xb = (rng.standard_normal(400) * 3 * scale).astype(dt)
            tb2 = (rng.random(400) < 1 / (1 + np.exp(-xb.astype(np.float64) / (3 * scale)))).astype(dt)
            for name, case, args, kw in (("fit_temperature", f"300x8 x{scale}", (xt, yt), dict(sample_weight=swt)),
                                         ("fit_temperature[binary]", f"400 x{scale}", (xb, tb2), dict(binary=True))):
                ff = fx.fit_temperature(*args, tol=ttol / 100, **kw)
                fr = R.fit_temperature(*args, tol=ttol / 100, **kw)
                cmp(name, case, dt, [ff.loss_before, ff.loss_after], [fr.loss_before, fr.loss_after])
                err = abs(ff.temperature - fr.temperature)
                rep.rows.append((name + " T", case, np.dtype(dt).name, err, err / fr.temperature,
                                 err <= ttol * fr.temperature))
    if raise_on_failure and not rep.ok:
        raise AssertionError("fusedxent.check() found disagreements:\n" + str(rep))
    return rep
