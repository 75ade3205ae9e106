"""`python -m fusedxent bench`: every kernel against the NumPy reference and
the machine's streaming roofline, measured side by side in one run.

Method: for each case the fusedxent call, the read probe (a parallel sum
over the same bytes, same threads, same compiler flags) and, for calls that
write an output, the copy probe are timed in interleaved rounds; the figure
is the median.  The reference (and PyTorch when installed) are timed in the
same run.  Ratios hold on shared machines where absolute times drift.
"""
import json
import time

from typing import Any

import numpy as np

from . import _kernels as _k
from . import _testing as _t
from . import _api
from . import _teacher
from . import reference as R


CACHE_BYTES = 8 << 20     # the "in cache" column's working set: fits a server's last-level cache


def _median_time(fn, repeat):
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def _interleaved(fns, repeat):
    """Median time of each callable over `repeat` interleaved rounds."""
    times = [[] for _ in fns]
    for f in fns:          # warm-up (page faults, thread team start)
        f()
    for _ in range(repeat):
        for i, f in enumerate(fns):
            t0 = time.perf_counter()
            f()
            times[i].append(time.perf_counter() - t0)
    return [float(np.median(t)) for t in times]


def _probes(flat, nt):
    if flat.dtype == np.float16:      # the probes stream bytes: read half data as float32 pairs
        flat = flat[: flat.size // 2 * 2].view(np.float32)
    nb = -(-flat.size // _api.BLOCK_ELEMS)        # blocks of the read probe's partial sums
    partial = np.empty(nb)
    out = []            # the copy probe's destination, allocated only if it runs

    def copy():
        if not out:
            out.append(np.empty_like(flat))
        _t.probe_copy(flat, out[0], _api.BLOCK_ELEMS, nt)

    read = lambda: _t.probe_read(flat, partial, _api.BLOCK_ELEMS, nt)
    return read, copy


def _err(a, b):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    fin = np.isfinite(a) & np.isfinite(b)
    if not fin.any():
        return 0.0, 0.0
    d = np.abs(a[fin] - b[fin])
    return float(d.max()), float((d / np.maximum(np.abs(b[fin]), 1e-300)).max())


def _torch_cases(x, y, nt):
    try:
        import torch
    except ImportError:
        return None, None
    torch.set_num_threads(nt)
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(y)

    def fwd():
        with torch.no_grad():
            torch.nn.functional.cross_entropy(xt, yt)

    def fwd_bwd():
        xg = xt.clone().requires_grad_(True)   # clone: autograd needs a leaf of its own
        torch.nn.functional.cross_entropy(xg, yt).backward()

    return fwd, fwd_bwd


def _torch_option_case(x, y, nt, kind, t=None):
    """PyTorch forward+backward of the soft-capped (Gemma 2's
    `cap * tanh(x / cap)` then F.cross_entropy) or the softmax focal loss
    (gamma = 2, written out), with autograd; or (kind "lbfgs") the
    temperature fit of Guo et al.'s code (LBFGS, lr 0.01, max_iter 50, from
    T = 1.5, on the NLL of logits / T); or (kind "kl") the distillation
    recipe kl_div(log_softmax(x/T), log_softmax(t/T), log_target)*T^2
    against the teacher t; None without torch."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(nt)
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(y)
    tt = None if t is None else torch.from_numpy(t)
    F = torch.nn.functional

    if kind == "lbfgs":
        def fit():
            T = torch.nn.Parameter(torch.full((1,), 1.5, dtype=xt.dtype))
            opt = torch.optim.LBFGS([T], lr=0.01, max_iter=50)

            def closure():
                opt.zero_grad()
                loss = F.cross_entropy(xt / T, yt)
                loss.backward()
                return loss
            opt.step(closure)
            return float(T.detach())
        return fit

    def fwd_bwd():
        xg = xt.clone().requires_grad_(True)
        if kind == "softcap":
            loss = F.cross_entropy(SOFTCAP * torch.tanh(xg / SOFTCAP), yt)
        elif kind == "kl":
            T = DISTILL_T
            loss = F.kl_div(F.log_softmax(xg / T, -1), F.log_softmax(tt / T, -1), log_target=True,
                            reduction="batchmean") * (T * T)
        else:
            lp = F.log_softmax(xg, -1).gather(1, yt[:, None])[:, 0]
            loss = (-(1 - lp.exp()) ** 2 * lp).mean()
        loss.backward()
    return fwd_bwd


def _sklearn_cases(x, y, nt):
    """scikit-learn's HalfMultinomialLoss (per-row CE, then the mean), when installed."""
    try:
        from sklearn._loss.loss import HalfMultinomialLoss
    except ImportError:
        return None, None
    loss = HalfMultinomialLoss(n_classes=x.shape[1])
    yf = y.astype(x.dtype)
    lo = np.empty(x.shape[0], x.dtype)
    go = np.empty_like(x)
    fwd = lambda: float(np.mean(loss.loss(yf, x, loss_out=lo, n_threads=nt)))
    fwd_bwd = lambda: loss.loss_gradient(yf, x, loss_out=lo, gradient_out=go, n_threads=nt)
    return fwd, fwd_bwd


def _bce_peer_cases(x, t, nt):
    """PyTorch's binary_cross_entropy_with_logits and scikit-learn's
    HalfBinomialLoss (0/1 targets) on the same arrays, when installed:
    [(torch fwd, torch fwd+bwd), (sklearn fwd, sklearn fwd+grad)]."""
    out = [(None, None), (None, None)]
    try:
        import torch
        torch.set_num_threads(nt)
        xt, tt = torch.from_numpy(x), torch.from_numpy(t)

        def fwd():
            with torch.no_grad():
                torch.nn.functional.binary_cross_entropy_with_logits(xt, tt)

        def fwd_bwd():
            xg = xt.clone().requires_grad_(True)
            torch.nn.functional.binary_cross_entropy_with_logits(xg, tt).backward()

        out[0] = (fwd, fwd_bwd)
    except ImportError:
        pass
    try:
        from sklearn._loss.loss import HalfBinomialLoss
        loss = HalfBinomialLoss()
        xf, tf = x.reshape(-1), t.reshape(-1)
        lo, go = np.empty_like(xf), np.empty_like(xf)
        out[1] = (lambda: float(np.mean(loss.loss(tf, xf, loss_out=lo, n_threads=nt))),
                  lambda: loss.loss_gradient(tf, xf, loss_out=lo, gradient_out=go, n_threads=nt))
    except ImportError:
        pass
    return out


def _peak_extra_bytes(fn):
    """Peak bytes allocated through NumPy/Python during one call (the kernels
    allocate nothing themselves)."""
    import tracemalloc
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def sweep(classes: "tuple[int, ...]" = (2, 10, 100, 1000, 32000, 262144), elements: int = 1 << 25,
          dtype: str = "float32", threads: "int | None" = None, repeat: int = 5, plot: "str | None" = None,
          out: "Any" = print) -> "list[dict[str, Any]]":
    """Forward CE throughput against class count: fusedxent, the read probe
    (the roofline) and the peers, same data, same run.  The reference is
    timed in the same run on the first eighth of the rows and scaled to the
    whole batch (its float64 temporaries would otherwise dominate the run).

    "in cache" is fusedxent on the first CACHE_BYTES of the rows, which stay
    in the last-level cache between calls: when it is no faster than the
    full batch from DRAM, the kernel is bound by its arithmetic, not by
    memory bandwidth."""
    dt = np.dtype(dtype)
    nt = threads or _k.max_threads()
    rng = np.random.default_rng(0)
    rows = []
    out("reference: timed on 1/8 of the rows, scaled to the batch")
    out(f"{'classes':>8}{'rows':>10}{'fusedxent GB/s':>16}{'in cache':>10}{'probe GB/s':>12}{'x probe':>9}"
        f"{'reference GB/s':>16}{'torch GB/s':>12}{'sklearn GB/s':>14}")
    for C in classes:
        N = max(1, elements // C)
        x = rng.standard_normal((N, C)).astype(dt)
        y = rng.integers(0, C, N)
        read, _ = _probes(x.reshape(-1), nt)
        tfwd, _ = _torch_cases(x, y, nt) if dt != np.float16 else (None, None)
        sfwd, _ = _sklearn_cases(x, y, nt) if dt != np.float16 else (None, None)
        nc = max(1, CACHE_BYTES // (C * dt.itemsize))
        xc, yc = x[:nc], y[:nc]
        reps = max(1, N // nc)

        def cached():
            for _ in range(reps):
                _api.softmax_cross_entropy(xc, yc, num_threads=nt)

        fns = [lambda: _api.softmax_cross_entropy(x, y, num_threads=nt), read, cached] + [
            f for f in (tfwd, sfwd) if f]
        ts = _interleaved(fns, repeat)
        t_cache = ts.pop(2) / (reps * xc.nbytes) * x.nbytes
        t_ref = _median_time(lambda: R.softmax_cross_entropy(x[: max(1, N // 8)], y[: max(1, N // 8)]), 1) * (
            N / max(1, N // 8))
        gb = x.nbytes / 1e9
        r = dict(classes=C, rows=N, fusedxent=gb / ts[0], cache=gb / t_cache, probe=gb / ts[1],
                 reference=gb / t_ref,
                 torch=gb / ts[2] if tfwd else None, sklearn=gb / ts[-1] if sfwd else None)
        rows.append(r)
        fmt = lambda v: f"{v:.1f}" if v else "-"
        out(f"{C:>8}{N:>10}{r['fusedxent']:>16.1f}{r['cache']:>10.1f}{r['probe']:>12.1f}{ts[0] / ts[1]:>8.2f}x"
            f"{r['reference']:>16.2f}{fmt(r['torch']):>12}{fmt(r['sklearn']):>14}")
    if plot:
        import matplotlib
        matplotlib.use("Agg")
        fig = plot_sweep(rows, f"softmax cross-entropy forward, {dt.name}, {nt} threads, isa {_k.isa_current()}")
        fig.savefig(plot, dpi=110)
        import matplotlib.pyplot as plt
        plt.close(fig)
        out(f"plot written to {plot}")
    return rows


def plot_sweep(rows: "list[dict[str, Any]]", title: str) -> "Any":
    """The sweep's rows as a figure: GB/s of logits read against class
    count, fusedxent beside the read probe, the in-cache run and the peers
    (the README's and the gallery's plot)."""
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    cs = [r["classes"] for r in rows]
    labels = {"probe": "read probe (roofline)", "cache": "fusedxent, logits in cache"}
    for key, style in (("probe", "k--"), ("fusedxent", "o-"), ("cache", "o:"), ("torch", "s-"),
                       ("sklearn", "^-"), ("reference", "x-")):
        vals = [r[key] for r in rows]
        if all(v is not None for v in vals):
            ax.plot(cs, vals, style, label=labels.get(key, key))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("classes")
    ax.set_ylabel("GB/s of logits read (forward CE, mean)")
    ax.set_title(title)
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return fig


def run(rows=None, classes=None, dtype="float32", threads=None, repeat=5, ref_repeat=1,
        json_path=None, quick=False, out=print):
    """Run the benchmark table; returns the list of result dicts."""
    dt = np.dtype(dtype)
    nt = threads or _k.max_threads()
    rng = np.random.default_rng(0)
    if rows or classes:
        shapes = [(rows or 65536, classes or 1000)]
    elif quick:
        shapes = [(4096, 1000), (65536, 10)]
    else:
        shapes = [(65536, 1000), (1_000_000, 10)]
    results = []
    header = (f"{'kernel':<30}{'shape':>14}{'fusedxent':>11}{'reference':>11}{'speedup':>9}"
              f"{'GB/s':>7}{'x probe':>9}{'torch':>9}{'sklearn':>9}{'extra MB':>9}{'max rel err':>12}")
    out(f"fusedxent bench: dtype {dt.name}, {nt} threads, isa {_k.isa_current()}, medians of {repeat} "
        f"interleaved runs (reference: {ref_repeat})")
    out("x probe = fusedxent time / streaming-read probe (copy probe for calls that write N x C); "
        "torch, sklearn = their time / fusedxent time; extra MB = peak allocation during the call")
    out(header)

    def record(name, shape, f_fx, f_ref, probe, nbytes, pick=lambda r: r, torch_fn=None, sk_fn=None):
        peers = [f for f in (torch_fn, sk_fn) if f]
        t_fx, t_probe, *t_peer = _interleaved([f_fx, probe] + peers, repeat)
        t_torch = t_peer.pop(0) if torch_fn else None
        t_sk = t_peer.pop(0) if sk_fn else None
        ref_out = []
        t_ref = _median_time(lambda: ref_out.append(f_ref()), ref_repeat)
        ea, er = _err(pick(f_fx()), pick(ref_out[-1]))
        extra = _peak_extra_bytes(f_fx)
        r = dict(kernel=name, shape=list(shape), dtype=dt.name, threads=nt, isa=_k.isa_current(),
                 t_fusedxent=t_fx, t_reference=t_ref, t_probe=t_probe, t_torch=t_torch, t_sklearn=t_sk,
                 speedup=t_ref / t_fx, gbps=nbytes / t_fx / 1e9, probe_ratio=t_fx / t_probe,
                 extra_bytes=extra, max_abs_err=ea, max_rel_err=er)
        results.append(r)
        peer = lambda t: f"{t / t_fx:>8.1f}x" if t else f"{'-':>9}"
        out(f"{name:<30}{'x'.join(map(str, shape)):>14}{t_fx * 1e3:>9.2f}ms{t_ref * 1e3:>9.0f}ms"
            f"{r['speedup']:>8.1f}x{r['gbps']:>7.1f}{r['probe_ratio']:>8.2f}x{peer(t_torch)}{peer(t_sk)}"
            f"{extra / 1e6:>9.2f}{er:>12.1e}")

    grad = lambda r: r[1]
    for N, C in shapes:
        x = rng.standard_normal((N, C)).astype(dt)
        y = rng.integers(0, C, N)
        read, copy = _probes(x.reshape(-1), nt)
        nb = x.nbytes
        tfwd, tbwd = _torch_cases(x, y, nt) if dt != np.float16 else (None, None)
        sfwd, sbwd = _sklearn_cases(x, y, nt) if dt != np.float16 else (None, None)
        record("softmax_cross_entropy", (N, C), lambda: _api.softmax_cross_entropy(x, y, num_threads=nt),
               lambda: R.softmax_cross_entropy(x, y), read, nb, torch_fn=tfwd, sk_fn=sfwd)
        g = np.empty_like(x)
        record("softmax_cross_entropy+grad", (N, C),
               lambda: _api.softmax_cross_entropy(x, y, return_grad=True, grad_out=g, num_threads=nt),
               lambda: R.softmax_cross_entropy(x, y, return_grad=True), copy, 2 * nb, grad, tbwd, sbwd)
        record("evaluate", (N, C), lambda: _api.evaluate(x, y, num_threads=nt), lambda: R.evaluate(x, y),
               read, nb, lambda r: r.lse)
        if C < 100:
            continue
        # the other kernels on a quarter of the rows: the reference needs
        # several float64 temporaries of the full size and would dominate the run
        xs = x[: max(1, N // 4)]
        Ns = xs.shape[0]
        read, copy = _probes(xs.reshape(-1), nt)
        nb = xs.nbytes
        o = np.empty_like(xs)
        for name in ("softmax", "log_softmax", "sigmoid"):
            f, fr = getattr(_api, name), getattr(R, name)
            record(name, (Ns, C), lambda: f(xs, out=o, num_threads=nt), lambda: fr(xs), copy, 2 * nb)
        record("logsumexp", (Ns, C), lambda: _api.logsumexp(xs, num_threads=nt), lambda: R.logsumexp(xs),
               read, nb)
        t = (rng.random((Ns, C)) < 0.5).astype(dt)
        read2, _ = _probes(np.concatenate([xs.reshape(-1), t.reshape(-1)]), nt)
        (tb_f, tb_b), (sb_f, sb_b) = _bce_peer_cases(xs, t, nt) if dt != np.float16 else [(None, None)] * 2
        record("sigmoid_binary_cross_entropy", (Ns, C),
               lambda: _api.sigmoid_binary_cross_entropy(xs, t, num_threads=nt),
               lambda: R.sigmoid_binary_cross_entropy(xs, t), read2, 2 * nb, torch_fn=tb_f, sk_fn=sb_f)
        gb = np.empty_like(xs)
        record("sigmoid_bce+grad", (Ns, C),
               lambda: _api.sigmoid_binary_cross_entropy(xs, t, return_grad=True, grad_out=gb, num_threads=nt),
               lambda: R.sigmoid_binary_cross_entropy(xs, t, return_grad=True), read2, 3 * nb, grad,
               tb_b, sb_b)
    if json_path:
        with open(json_path, "w") as f:
            json.dump(results, f, indent=1)
    return results


# ------------------------------------------------------------------ the performance targets

# (name, shape, dtype, what, target ratio, against): "probe" = read probe,
# "copy" = copy probe, "ce" / "bce" = the CE / BCE forward of the same shape, "torch" =
# PyTorch's time divided by ours (a speedup: at least the target)
TARGETS = [
    ("CE forward", (65536, 1000), "float32", "ce", 1.3, "probe"),
    ("CE forward", (4096, 32000), "float32", "ce", 1.3, "probe"),
    ("CE forward", (512, 262144), "float32", "ce", 1.3, "probe"),
    ("CE forward", (111848, 300), "float32", "ce", 1.6, "probe"),
    ("CE forward", (335544, 100), "float32", "ce", 2.0, "probe"),
    ("CE forward", (1048576, 32), "float32", "ce", 3.0, "probe"),
    ("CE forward", (3355443, 10), "float32", "ce", 3.0, "probe"),
    ("CE forward", (16777216, 2), "float32", "ce", 4.0, "probe"),
    ("CE forward+grad", (65536, 1000), "float32", "ce+grad", 1.3, "copy"),
    ("softmax", (65536, 1000), "float32", "softmax", 1.3, "copy"),
    ("log_softmax", (65536, 1000), "float32", "log_softmax", 1.3, "copy"),
    ("BCE forward", (65536, 1024), "float32", "bce", 1.5, "probe"),
    ("CE forward float64", (32768, 1000), "float64", "ce", 1.5, "probe"),
    ("evaluate", (65536, 1000), "float32", "evaluate", 1.1, "ce"),
    ("evaluate topk=(1,5) bins=15", (65536, 1000), "float32", "evaluate+", 1.25, "ce"),
    ("evaluate + per_class", (65536, 1000), "float32", "evaluate+pc", 1.35, "ce"),
    ("evaluate + per_class, quantile bins", (65536, 1000), "float32", "evaluate+pcq", 1.35, "ce"),
    ("evaluate classwise_bins=15", (65536, 1000), "float32", "evaluate+cw", 2.0, "ce"),
    ("evaluate_binary bins=15", (65536, 1024), "float32", "evaluate_binary", 1.5, "bce"),   # issue 28 (1.2 before it)
    ("evaluate_binary roc_bins=4096", (65536, 1024), "float32", "evaluate_binary_roc", 2.0, "bce"),
    ("evaluate roc_bins=4096 (one-vs-rest)", (65536, 1000), "float32", "evaluate+roc", 12.0, "ce"),
    ("CE forward vs torch", (65536, 1000), "float32", "ce", 8.0, "torch"),
    ("CE forward+grad vs torch fwd+bwd", (65536, 1000), "float32", "ce+grad", 15.0, "torch"),
    # issue 26: the options against the plain call of the same shape
    ("CE forward softcap=30", (65536, 1000), "float32", "ce:softcap", 1.25, "ce"),
    ("CE forward temperature=0.7", (65536, 1000), "float32", "ce:temperature", 1.25, "ce"),
    ("CE forward focal gamma=2", (65536, 1000), "float32", "ce:focal", 1.3, "ce"),
    ("CE fwd+grad softcap=30", (65536, 1000), "float32", "ce+grad:softcap", 1.3, "ce+grad"),
    ("CE fwd+grad temperature=0.7", (65536, 1000), "float32", "ce+grad:temperature", 1.3, "ce+grad"),
    ("CE fwd+grad focal gamma=2", (65536, 1000), "float32", "ce+grad:focal", 1.3, "ce+grad"),
    ("softcap fwd+grad vs torch", (65536, 1000), "float32", "ce+grad:softcap", 10.0, "torch:softcap"),
    ("focal fwd+grad vs torch", (65536, 1000), "float32", "ce+grad:focal", 10.0, "torch:focal"),
    # issue 28: temperature scaling to tol=1e-7 (every pass), against one CE
    # forward and against PyTorch's LBFGS recipe (Guo et al.'s code)
    ("fit_temperature", (65536, 1000), "float32", "fit", 8.0, "ce"),
    ("fit_temperature vs torch LBFGS", (65536, 1000), "float32", "fit", 1.0, "torch:lbfgs"),
    # issue 27: dense-teacher distillation (KL, T = 2); the probes stream
    # both arrays (the copy probe writes both: one more stream than the call)
    ("distillation KL forward", (4096, 32000), "float32", "distill", 1.5, "probe"),
    ("distillation KL forward+grad", (4096, 32000), "float32", "distill+grad", 1.5, "copy"),
    ("distillation fwd+grad vs torch", (4096, 32000), "float32", "distill+grad", 15.0, "torch:kl"),
    ("distillation sparse k=64 forward", (4096, 32000), "float32", "distill-sparse", 1.2, "ce"),
]
SPARSE_K = 64
DISTILL_T = 2.0
SOFTCAP = 30.0
OPTION_CASES = {"softcap": dict(softcap=SOFTCAP), "temperature": dict(temperature=0.7), "focal": dict(gamma=2.0)}


def load_build(path):
    """An earlier build of fusedxent imported beside this one: `path` is its
    package directory (e.g. a copy of an installed `fusedxent/`), imported
    under another name so both run in one process on the same arrays --
    the only comparison of two builds that resolves 1-2 %, where separate
    processes differ far more."""
    import importlib.util
    import os
    import sys
    name = "fusedxent_build_" + str(abs(hash(os.path.abspath(path))))
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, os.path.join(path, "__init__.py"),
                                                  submodule_search_locations=[path])
    if spec is None or spec.loader is None:
        raise SystemExit(f"--baseline-build {path}: no fusedxent package there")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def _case(what, x, y, t, g, nt, api=None):
    _api = api or globals()["_api"]
    what, _, opt = what.partition(":")
    o = OPTION_CASES[opt] if opt else {}
    if what == "ce":
        return lambda: _api.softmax_cross_entropy(x, y, num_threads=nt, **o)
    if what == "ce+grad":
        return lambda: _api.softmax_cross_entropy(x, y, return_grad=True, grad_out=g, num_threads=nt, **o)
    if what in ("softmax", "log_softmax"):
        f = getattr(_api, what)
        return lambda: f(x, out=g, num_threads=nt)
    if what == "bce":
        return lambda: _api.sigmoid_binary_cross_entropy(x, t, num_threads=nt)
    if what == "evaluate":
        return lambda: _api.evaluate(x, y, num_threads=nt)
    if what == "evaluate+":
        return lambda: _api.evaluate(x, y, topk=(1, 5), calibration_bins=15, num_threads=nt)
    if what == "evaluate+pc":
        return lambda: _api.evaluate(x, y, topk=(1, 5), calibration_bins=15, per_class=True, num_threads=nt)
    if what == "evaluate+cw":
        return lambda: _api.evaluate(x, y, classwise_bins=15, num_threads=nt)
    if what == "evaluate+roc":
        return lambda: _api.evaluate(x, y, roc_bins=4096, num_threads=nt)
    if what == "evaluate+pcq":
        return lambda: _api.evaluate(x, y, topk=(1, 5), calibration_bins=15, per_class=True,
                                     calibration_strategy="quantile", num_threads=nt)
    if what == "evaluate_binary":
        return lambda: _api.evaluate_binary(x, t, calibration_bins=15, num_threads=nt)
    if what == "evaluate_binary_roc":
        return lambda: _api.evaluate_binary(x, t, roc_bins=4096, num_threads=nt)
    if what == "fit":
        return lambda: _api.fit_temperature(x, y, num_threads=nt)
    if what in ("distill", "distill-sparse"):
        return lambda: _api.distillation_loss(x, t, temperature=DISTILL_T, num_threads=nt)
    if what == "distill+grad":
        return lambda: _api.distillation_loss(x, t, temperature=DISTILL_T, return_grad=True, grad_out=g,
                                              num_threads=nt)
    raise ValueError(what)


def _has_case(api, what):
    """Whether an earlier build has what the case calls (a baseline build
    joins only the cases it can run)."""
    import inspect
    if what == "fit":
        return hasattr(api, "fit_temperature")
    if what == "distill-sparse":
        return hasattr(api, "SparseTeacher")
    if what.startswith("distill"):
        return hasattr(api, "distillation_loss")
    if what == "evaluate+pcq":
        return "calibration_strategy" in inspect.signature(api.evaluate).parameters
    if what == "evaluate+cw":
        return "classwise_bins" in inspect.signature(api.evaluate).parameters
    if what == "evaluate_binary_roc":
        return "roc_bins" in inspect.signature(api.evaluate_binary).parameters
    if what == "evaluate+roc":
        return "roc_bins" in inspect.signature(api.evaluate).parameters
    return True


def targets(threads=None, repeat=7, isas=None, quick=False, baseline=None, out=print):
    """The issue's performance targets, each measured in one interleaved run
    beside what it is a ratio to, on every path this CPU runs (or `isas`).
    baseline: the package directory of an earlier build (load_build), whose
    same case joins each interleaved run ("base ms", "new/base").
    Returns result dicts (path, case, shape, ratio, target, met, and with a
    baseline t_base)."""
    from ._config import set_isa
    base = load_build(baseline) if baseline else None
    nt = threads or _k.max_threads()
    isas = isas or list(_k.isa_supported())
    before = _k.isa_current()
    rng = np.random.default_rng(0)
    res = []
    out(f"targets: {nt} threads, medians of {repeat} interleaved runs; ratio = time / reference time "
        f"(torch rows: torch time / fusedxent time)")
    if base is not None:
        out(f"baseline build: {baseline} (its own case in every interleaved run)")
    out(f"{'path':9}{'case':34}{'shape':>14}{'ms':>9}{'ref ms':>9}{'ratio':>8}{'target':>8}  met"
        + ("   base ms  new/base" if base is not None else ""))
    try:
        for name, shape, dtype, what, target, against in TARGETS:
            N, C = shape
            if quick:
                N = max(1, N // 16)
            dt = np.dtype(dtype)
            x = rng.standard_normal((N, C)).astype(dt)
            y = rng.integers(0, C, N)
            if what == "fit":          # an over-confident model: labels score high, logits too large
                x[np.arange(N), y] += 3.0
                x *= 2.0
            t = (rng.random((N, C)) < 0.5).astype(dt) if what in ("bce", "evaluate_binary", "evaluate_binary_roc") \
                else (x + 0.5 * rng.standard_normal((N, C))).astype(dt) if what.startswith("distill") else None
            g = np.empty_like(x) if what.split(":")[0] in ("ce+grad", "softmax", "log_softmax", "distill+grad") \
                else None
            read, copy = _probes(x.reshape(-1) if t is None else np.concatenate([x.reshape(-1), t.reshape(-1)]), nt)
            if what == "distill-sparse":          # the teacher's top k, as stored
                lt = t - _api.logsumexp(t.astype(np.float64))[:, None]
                ids = np.argsort(-t, axis=1)[:, :SPARSE_K]
                t = _teacher.SparseTeacher(ids, np.take_along_axis(lt, ids, 1).astype(dt))
            for isa in isas:
                set_isa(isa)
                f = _case(what, x, y, t, g, nt)
                fb = None
                if base is not None and _has_case(base, what):
                    base.set_isa(isa)
                    fb = _case(what, x, y, t, g, nt, api=base)
                if against == "torch":
                    tf, tb = _torch_cases(x, y, nt)
                    ref = tf if what == "ce" else tb
                    if ref is None:
                        continue
                elif against.startswith("torch:"):
                    ref = _torch_option_case(x, y, nt, against.split(":")[1], t)
                    if ref is None:
                        continue
                elif against in ("ce", "bce", "ce+grad"):
                    ref = _case(against, x, y, t, g, nt)
                else:
                    ref = read if against == "probe" else copy
                t_fx, t_ref, *t_base = _interleaved([f, ref] + ([fb] if fb else []), repeat)
                peer = against.startswith("torch")
                ratio = t_ref / t_fx if peer else t_fx / t_ref
                met = ratio >= target if peer else ratio <= target
                r = dict(path=isa, case=name, shape=list(shape if not quick else (N, C)), dtype=dt.name,
                         threads=nt, t=t_fx, t_ref=t_ref, against=against, ratio=ratio, target=target, met=met)
                if t_base:
                    r["t_base"] = t_base[0]
                res.append(r)
                op = ">=" if peer else "<="
                out(f"{isa:9}{name:34}{'x'.join(map(str, r['shape'])):>14}{t_fx * 1e3:9.2f}{t_ref * 1e3:9.2f}"
                    f"{ratio:7.2f}x{op:>4}{target:g}x  {'yes' if met else 'NO '}"
                    + (f"{t_base[0] * 1e3:10.2f}{t_fx / t_base[0]:9.3f}" if t_base else "") + f"  ({against})")
    finally:
        set_isa(before)
        if base is not None:
            base.set_isa(before)
    return res


def small_call(repeat=5, calls=20000, out=print):
    """Median time of one 64x10 float32 softmax_cross_entropy call."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 10)).astype(np.float32)
    y = rng.integers(0, 10, 64)

    def loop():
        for _ in range(calls):
            _api.softmax_cross_entropy(x, y)
    t = _interleaved([loop], repeat)[0] / calls
    out(f"64x10 call: {t * 1e6:.2f} us (target <= 5 us: {'yes' if t <= 5e-6 else 'NO'})")
    return t


def compare(old_path, new_rows, out=print):
    """Each row's change in its probe ratio against an earlier --json file
    (rows matched by kernel, shape, dtype and path): a regression shows as a
    ratio that grew, whatever the two machines' absolute speeds."""
    with open(old_path) as f:
        old = json.load(f)
    key = lambda r: (r.get("kernel") or r.get("case"), tuple(r["shape"]), r["dtype"], r.get("isa") or r.get("path"))
    ratio = lambda r: r.get("probe_ratio", r.get("ratio"))
    before = {key(r): r for r in (old if isinstance(old, list) else old.get("rows", []))}
    out(f"change of the ratio to the probe against {old_path} (+ = slower relative to the memory roofline)")
    out(f"{'kernel':34}{'shape':>14}{'dtype':>9}{'path':>9}{'old':>8}{'new':>8}{'change':>9}")
    rows = []
    for r in new_rows:
        o = before.get(key(r))
        if o is None or ratio(o) is None:
            continue
        ch = ratio(r) / ratio(o) - 1
        rows.append((key(r), ratio(o), ratio(r), ch))
        k = key(r)
        out(f"{k[0]:34}{'x'.join(map(str, k[1])):>14}{k[2]:>9}{k[3]:>9}{ratio(o):7.2f}x{ratio(r):7.2f}x{ch:+8.1%}")
    return rows


def linear(N=4096, H=768, V=50257, threads=None, repeat=3, quick=False, out=print):
    """linear_cross_entropy against the matrix products it cannot avoid, each
    timed alone in the same interleaved run: the logits product
    hidden @ W.T (the forward's floor) and the three products of
    forward+gradient (logits, G @ W, G.T @ hidden); PyTorch's eager
    F.cross_entropy(F.linear(...)) forward+backward when installed.
    Returns result dicts."""
    from ._linear import linear_cross_entropy, linear_evaluate
    if quick:
        N, H, V = N // 8, H // 4, V // 8
    nt = threads or _k.max_threads()
    rng = np.random.default_rng(0)
    h = rng.standard_normal((N, H)).astype(np.float32)
    W = (rng.standard_normal((V, H)) / np.sqrt(H)).astype(np.float32)
    y = rng.integers(0, V, N)
    logits = np.empty((N, V), np.float32)
    dh = np.empty((N, H), np.float32)
    dW = np.empty((V, H), np.float32)

    def product():
        np.matmul(h, W.T, out=logits)

    def three():
        np.matmul(h, W.T, out=logits)
        np.matmul(logits, W, out=dh)
        np.matmul(logits.T, h, out=dW)

    fns = {"hidden @ W.T": product, "forward": lambda: linear_cross_entropy(h, W, y, num_threads=nt),
           "forward + stats": lambda: linear_cross_entropy(h, W, y, return_stats=True, num_threads=nt),
           "linear_evaluate": lambda: linear_evaluate(h, W, y, num_threads=nt),
           "3 products": three,
           "forward+grad": lambda: linear_cross_entropy(h, W, y, return_grad=True, num_threads=nt)}
    try:
        import torch
        import torch.nn.functional as F
        torch.set_num_threads(nt)
        th, tW, ty = torch.from_numpy(h).requires_grad_(), torch.from_numpy(W).requires_grad_(), torch.from_numpy(y)

        def eager():
            th.grad = tW.grad = None
            F.cross_entropy(F.linear(th, tW), ty).backward()
        fns["torch eager fwd+bwd"] = eager
    except ImportError:
        pass
    ts = dict(zip(fns, _interleaved(list(fns.values()), repeat)))
    out(f"linear_cross_entropy, N={N} H={H} V={V} float32, {nt} threads, medians of {repeat} interleaved runs")
    rows = []
    for name, t in ts.items():
        note = ""
        if name == "forward":
            note = f"{t / ts['hidden @ W.T']:.2f}x the product (target <= 1.1x)"
        elif name in ("forward + stats", "linear_evaluate"):
            note = (f"{t / ts['forward']:.3f}x the forward (target <= "
                    f"{'1.03' if name == 'forward + stats' else '1.05'}x)")
        elif name == "forward+grad":
            note = f"{t / ts['3 products']:.2f}x the three products (target <= 1.2x)"
        elif name.startswith("torch"):
            note = f"{t / ts['forward+grad']:.2f}x fusedxent forward+grad"
        out(f"  {name:22}{t * 1e3:10.1f} ms  {note}")
        rows.append(dict(kernel="linear_cross_entropy " + name, shape=[N, H, V], dtype="float32", t=t))
    return rows


def linear_bf16(N=4096, H=768, V=50257, threads=None, repeat=3, quick=False, out=print):
    """The bfloat16 linear head (hidden and weight bfloat16) against
    PyTorch's bfloat16 product h @ W.T and its eager bfloat16
    F.cross_entropy(F.linear(...)) forward+backward, with the float32 head
    on the same values, in one interleaved run.  Needs ml_dtypes and
    PyTorch; returns result dicts ([] without them)."""
    from ._linear import linear_cross_entropy
    try:
        import ml_dtypes
        import torch
        import torch.nn.functional as F
    except ImportError:
        out("bfloat16 linear head: needs ml_dtypes and torch, skipped")
        return []
    if quick:
        N, H, V = N // 8, H // 4, V // 8
    nt = threads or _k.max_threads()
    torch.set_num_threads(nt)
    rng = np.random.default_rng(0)
    bf = np.dtype(ml_dtypes.bfloat16)
    h = rng.standard_normal((N, H)).astype(bf)
    W = (rng.standard_normal((V, H)) / np.sqrt(H)).astype(bf)
    y = rng.integers(0, V, N)
    h32, W32 = h.astype(np.float32), W.astype(np.float32)

    def tbf(a):
        return torch.from_numpy(a.view(np.int16)).view(torch.bfloat16)
    th, tW, ty = tbf(h).requires_grad_(), tbf(W).requires_grad_(), torch.from_numpy(y)

    def tprod():
        with torch.no_grad():
            torch.matmul(th, tW.T)

    def teager():
        th.grad = tW.grad = None
        F.cross_entropy(F.linear(th, tW), ty).backward()
    fns = {"torch bf16 h @ W.T": tprod,
           "forward": lambda: linear_cross_entropy(h, W, y, num_threads=nt),
           "torch bf16 eager fwd+bwd": teager,
           "forward+grad": lambda: linear_cross_entropy(h, W, y, return_grad=True, num_threads=nt),
           "float32 head forward+grad": lambda: linear_cross_entropy(h32, W32, y, return_grad=True, num_threads=nt)}
    ts = dict(zip(fns, _interleaved(list(fns.values()), repeat)))
    path = "AVX512-BF16" if _k.bf16_ready() else "float32 products (no AVX512-BF16 on this path)"
    out(f"linear_cross_entropy bfloat16, N={N} H={H} V={V}, {path}, {nt} threads, medians of {repeat} "
        f"interleaved runs")
    rows = []
    for name, t in ts.items():
        note = ""
        if name == "forward":
            note = f"{t / ts['torch bf16 h @ W.T']:.2f}x PyTorch's bf16 product (target <= 1.1x)"
        elif name == "forward+grad":
            note = f"{t / ts['torch bf16 eager fwd+bwd']:.2f}x PyTorch's bf16 eager (target <= 0.9x)"
        out(f"  {name:28}{t * 1e3:10.1f} ms  {note}")
        rows.append(dict(kernel="linear_cross_entropy bfloat16 " + name, shape=[N, H, V], dtype="bfloat16", t=t))
    return rows
