"""`python -m fusedxent evaluate LOGITS.npy LABELS.npy ...`: score saved
predictions in one streamed pass -- a table of the metrics, JSON, and a
reliability diagram.

Bad input (a missing file, not an .npy, an .npz, wrong shapes, labels out
of range) and bad outputs (a --json or --plot path that cannot be created:
a missing directory, a path under a file, a directory, an output that is
an input, a plot format matplotlib cannot write) print one line naming the
problem and exit 2 with nothing written.  Outputs are checked before the
pass by creating a temporary file beside each, written after the pass, and
renamed onto their targets only when both are complete.
"""
import json
import math
import os
import sys
import tempfile

import numpy as np


def add_parser(sub):
    e = sub.add_parser("evaluate", help="score saved logits against labels in one streamed pass")
    e.add_argument("logits", help=".npy of logits (rows, classes); binary: any shape")
    e.add_argument("labels", help=".npy of class indices (rows,); binary: targets of the logits' shape")
    e.add_argument("--axis", type=int, default=-1, help="the class axis (not the streamed first axis)")
    e.add_argument("--ignore-index", type=int, default=-100, help="label of rows to leave out")
    e.add_argument("--topk", type=int, nargs="+", default=[1, 5], help="k of the top-k accuracies")
    e.add_argument("--bins", type=int, default=None, help="reliability bins (default 15 with --plot)")
    e.add_argument("--bins-strategy", choices=("uniform", "quantile"), default="uniform",
                   help="reliability bins of equal width or of equal mass (edges at the confidence's quantiles)")
    e.add_argument("--classwise-bins", type=int, default=None,
                   help="classwise calibration: bins of every class's probability (not with --binary)")
    e.add_argument("--roc-bins", type=int, default=None,
                   help="AUROC from this many score bins (4096: within 1e-3): with --binary also average "
                        "precision; of class logits the one-vs-rest macro AUROC (at most 1024 classes)")
    e.add_argument("--per-class", action="store_true", help="per-class recall, precision, F1")
    e.add_argument("--binary", action="store_true", help="sigmoid outputs: evaluate_binary per element")
    e.add_argument("--base", type=float, default=None, help="logarithm base of loss and entropy (default e)")
    e.add_argument("--softcap", type=float, default=None,
                   help="logit soft-cap: metrics of softcap*tanh(z/softcap) (not with --binary)")
    e.add_argument("--temperature", type=float, default=1.0,
                   help="metrics of logits/temperature (before the soft-cap; not with --binary)")
    e.add_argument("--fit-temperature", action="store_true",
                   help="fit the temperature minimising the NLL (a few streamed passes) and show the metrics "
                        "before and after scaling")
    e.add_argument("--batch-rows", type=int, default=65536, help="rows read per batch")
    e.add_argument("--json", metavar="OUT.json", help="write the metrics as JSON")
    e.add_argument("--plot", metavar="OUT.png", help="draw the reliability diagram (needs matplotlib)")
    e.add_argument("--plot-roc", metavar="OUT.png",
                   help="with --binary: draw the ROC and precision-recall curves (needs matplotlib; "
                        "--roc-bins default 4096)")
    e.add_argument("--quiet", action="store_true", help="no progress line")
    return e


def _progress_line(total):
    """A plain progress line on stderr, for when tqdm is not installed."""
    done = [0]

    def tick():
        done[0] += 1
        sys.stderr.write(f"\r{done[0]}/{total} batches")
        if done[0] == total:
            sys.stderr.write("\n")
        sys.stderr.flush()
    return tick


def _report(ev, binary, strategy="uniform"):
    """(label, value) rows of the table, and the JSON document."""
    doc = {"count": int(ev.count), "loss": float(ev.loss), "base": float(ev.base), "accuracy": float(ev.accuracy),
           "brier": float(ev.brier)}
    rows = [("rows" if not binary else "elements", ev.count), ("loss", ev.loss)]
    if not binary:
        rows.append(("perplexity", ev.perplexity))
        doc["perplexity"] = float(ev.perplexity)
        for q, v in ev.topk_accuracy.items():
            rows.append((f"top-{q} accuracy", v))
        doc["topk_accuracy"] = {str(q): float(v) for q, v in ev.topk_accuracy.items()}
        rows.append(("entropy", ev.entropy))
        doc["entropy"] = float(ev.entropy)
    else:
        rows.append(("accuracy", ev.accuracy))
    rows.append(("brier", ev.brier))
    cal = ev.calibration
    if cal is not None:
        rows += [("ece", cal.ece), ("rmsce", cal.rmsce), ("mce", cal.mce)]
        doc["calibration"] = {"strategy": strategy, "edges": cal.edges.tolist(), "weight": cal.weight.tolist(),
                              "confidence_sum": cal.confidence_sum.tolist(), "correct_sum": cal.correct_sum.tolist(),
                              "total_weight": float(cal.total_weight), "ece": cal.ece, "rmsce": cal.rmsce,
                              "mce": cal.mce}
    cw = getattr(ev, "classwise", None)
    if cw is not None:
        rows.append(("classwise ece", cw.ece))
        doc["classwise"] = {"bins": int(cw.weight.shape[1]), "ece": cw.ece, "class_ece": cw.class_ece.tolist()}
    roc = getattr(ev, "roc", None)
    if roc is not None and roc.positive.ndim == 2:                 # one-vs-rest of class logits
        rows.append(("auroc (ovr macro)", roc.auroc))
        doc["roc"] = {"bins": int(roc.positive.shape[1]), "auroc": roc.auroc,
                      "class_auroc": [None if a != a else float(a) for a in roc.class_auroc]}
    elif roc is not None:
        rows += [("auroc", roc.auroc), ("average precision", roc.average_precision)]
        doc["roc"] = {"edges": roc.edges.tolist(), "positive": roc.positive.tolist(), "negative": roc.negative.tolist(),
                      "auroc": roc.auroc, "average_precision": roc.average_precision}
    per = getattr(ev, "per_class", None)
    if per is not None:
        rows += [("macro F1", per.macro_f1), ("balanced accuracy", per.balanced_accuracy)]
        doc["per_class"] = {"support": per.support.tolist(), "predicted": per.predicted.tolist(),
                            "correct": per.correct.tolist(), "recall": per.recall.tolist(),
                            "precision": per.precision.tolist(), "f1": per.f1.tolist(),
                            "macro_f1": per.macro_f1, "balanced_accuracy": per.balanced_accuracy}
    return rows, doc


def _json_safe(o):
    """NaN and infinities (a NaN row's loss, an empty bin's mean) as null:
    strict JSON has no literal for them."""
    if isinstance(o, dict):
        return {k: _json_safe(v) for k, v in o.items()}
    if isinstance(o, list):
        return [_json_safe(v) for v in o]
    if isinstance(o, float) and not math.isfinite(o):
        return None
    return o


class OutputError(Exception):
    """An output path the command cannot write (one line for the user)."""


def _plot_format(path, option="--plot"):
    """The image format of a --plot path: its extension when it has one
    (it must be one matplotlib writes), PNG when it has none -- the file is
    written at exactly the path given, never at PATH.png."""
    ext = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    if not ext:
        return "png"
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    supported = FigureCanvasAgg(Figure()).get_supported_filetypes()
    if ext not in supported:
        raise OutputError(f"{option} {path}: matplotlib cannot write .{ext} files "
                          f"(supported: {', '.join('.' + e for e in sorted(supported))})")
    return ext


class _Outputs:
    """The command's output files, each reserved before the pass as a
    temporary file beside its target (so an unwritable target fails before
    any work) and renamed onto the target only when every output has been
    written: an error at any point leaves no output, old or half-written."""

    def __init__(self, inputs):
        self._inputs = [os.path.realpath(p) for p in inputs]
        self._items = []          # (option, target, temporary)

    def reserve(self, option, target):
        target = os.fspath(target)
        real = os.path.realpath(target)
        if os.path.isdir(target):
            raise OutputError(f"{option} {target}: is a directory")
        if real in self._inputs:
            raise OutputError(f"{option} {target}: is one of the input files")
        if any(os.path.realpath(t) == real for _, t, _ in self._items):
            raise OutputError(f"{option} {target}: another output is written there too")
        parent = os.path.dirname(os.path.abspath(target))
        if not os.path.exists(parent):
            raise OutputError(f"{option} {target}: directory {parent} does not exist")
        if not os.path.isdir(parent):
            raise OutputError(f"{option} {target}: {parent} is not a directory")
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".part", dir=parent)
        except OSError as e:
            raise OutputError(f"{option} {target}: cannot be created ({e.strerror or e})") from None
        os.close(fd)
        self._items.append((option, target, tmp))
        return tmp

    def commit(self):
        umask = os.umask(0)
        os.umask(umask)
        for option, target, tmp in self._items:
            try:
                os.chmod(tmp, 0o666 & ~umask)      # mkstemp's 0600 is for the reservation only
                os.replace(tmp, target)
            except OSError as e:
                raise OutputError(f"{option} {target}: cannot be written ({e.strerror or e})") from None
        self._items = []

    def discard(self):
        for _, _, tmp in self._items:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        self._items = []


def _plot(cal, path, title, fmt="png"):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(5.5, 6.5), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 1]})
    edges = cal.edges
    mid = (edges[:-1] + edges[1:]) / 2
    width = np.diff(edges)
    nz = cal.weight > 0
    equal_width = np.allclose(width, width[0])
    if equal_width:
        top.bar(mid[nz], cal.accuracy[nz], width=width[nz] * 0.9, color="tab:blue", alpha=0.75,
                label="accuracy per bin")
        top.plot(cal.confidence[nz], cal.accuracy[nz], "o", color="tab:orange", ms=4,
                 label="(mean confidence, accuracy)")
    else:          # equal-mass bins: a curve through the bins' means (their widths vary by orders)
        top.plot(cal.confidence[nz], cal.accuracy[nz], "o-", color="tab:blue", ms=4,
                 label="(mean confidence, accuracy), equal-mass bins")
    top.plot([0, 1], [0, 1], "k--", lw=1, label="perfect calibration")
    top.set_ylabel("accuracy")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.set_title(f"{title}\nECE {cal.ece:.4f}, MCE {cal.mce:.4f}")
    top.legend(loc="upper left", fontsize=8)
    if equal_width:
        bottom.bar(mid, cal.weight / max(cal.weight.sum(), 1e-300), width=width * 0.9, color="tab:gray")
        bottom.set_ylabel("share of rows")
    else:
        bottom.vlines(edges[1:-1], 0, 1, color="tab:gray", lw=1)
        bottom.set_yticks([])
        bottom.set_ylabel("bin edges")
    bottom.set_xlabel("confidence")
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=110, format=fmt)
    finally:
        plt.close(fig)


def _scaled_evaluation(args, fx, _api, T, opts, progress):
    """The evaluation of logits / T: evaluate_file's temperature for class
    logits; sigmoid outputs streamed through a BinaryEvaluator, each batch
    divided by T (evaluate_binary has no temperature)."""
    if not args.binary:
        return _api.evaluate_file(args.logits, args.labels, batch_rows=args.batch_rows, progress=progress,
                                  binary=False, **dict(opts, temperature=T))
    x = np.load(args.logits, mmap_mode="r")
    y = np.load(args.labels, mmap_mode="r")
    ev = fx.BinaryEvaluator(**opts)
    if x.ndim == 0:
        return ev.update(np.asarray(x) / T, y).result()
    for r0 in range(0, x.shape[0], args.batch_rows):
        xb = np.asarray(x[r0:r0 + args.batch_rows])
        ev.update(xb / np.asarray(T, xb.dtype), y[r0:r0 + args.batch_rows])
    return ev.result()


def _plot_roc(roc, path, title, fmt="png"):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.6))
    left.plot(roc.fpr, roc.tpr, color="tab:blue", lw=1.5, label=f"AUROC {roc.auroc:.4f}")
    left.plot([0, 1], [0, 1], "k--", lw=1)
    left.set_xlabel("false-positive rate")
    left.set_ylabel("true-positive rate")
    left.set_title("ROC")
    left.legend(loc="lower right", fontsize=8)
    right.step(roc.recall, roc.precision, where="post", color="tab:orange", lw=1.5,
               label=f"average precision {roc.average_precision:.4f}")
    right.set_xlabel("recall")
    right.set_ylabel("precision")
    right.set_ylim(0, 1.02)
    right.set_title("precision-recall")
    right.legend(loc="lower left", fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=110, format=fmt)
    finally:
        plt.close(fig)


def run(args):
    """The `evaluate` command; returns the exit code."""
    import fusedxent as fx
    from . import _api

    def fail(msg):
        print(f"fusedxent evaluate: error: {msg}", file=sys.stderr)
        return 2

    outputs = _Outputs([args.logits, args.labels])
    try:
        return _run(args, fx, _api, outputs, fail)
    except OutputError as e:
        return fail(str(e))
    finally:
        outputs.discard()           # whatever was not committed


def _run(args, fx, _api, outputs, fail):
    plot_fmt = roc_fmt = None
    if args.classwise_bins is not None and args.binary:
        return fail("--classwise-bins applies to class logits, not with --binary")
    if args.plot_roc and not args.binary:
        return fail("--plot-roc needs --binary (of class logits --roc-bins gives the one-vs-rest AUROC)")
    for opt, path in (("--plot", args.plot), ("--plot-roc", args.plot_roc)):
        if path:
            try:
                import matplotlib  # noqa: F401
            except ImportError:
                return fail(f"{opt} needs matplotlib (pip install matplotlib)")
    if args.plot:
        plot_fmt = _plot_format(args.plot)
    if args.plot_roc:
        roc_fmt = _plot_format(args.plot_roc, "--plot-roc")
    roc_bins = args.roc_bins if args.roc_bins is not None else (4096 if args.plot_roc else None)
    # every output is checked (and reserved) before the pass
    json_tmp = outputs.reserve("--json", args.json) if args.json else None
    plot_tmp = outputs.reserve("--plot", args.plot) if args.plot else None
    roc_tmp = outputs.reserve("--plot-roc", args.plot_roc) if args.plot_roc else None
    bins = args.bins if args.bins is not None else (15 if args.plot else None)
    try:
        if args.binary:
            if args.softcap is not None or args.temperature != 1.0:
                return fail("--softcap and --temperature apply to softmax logits, not with --binary")
            opts = dict(base=args.base, calibration_bins=bins, calibration_strategy=args.bins_strategy,
                        roc_bins=roc_bins)
        else:
            opts = dict(axis=args.axis, ignore_index=args.ignore_index, base=args.base, topk=tuple(args.topk),
                        calibration_bins=bins, calibration_strategy=args.bins_strategy,
                        classwise_bins=args.classwise_bins, per_class=args.per_class, roc_bins=roc_bins,
                        softcap=args.softcap,
                        temperature=args.temperature)
        progress = False if args.quiet else None
        try:
            import tqdm  # noqa: F401
        except ImportError:
            progress = False if args.quiet else _progress_line
        fit = after = None
        if args.fit_temperature:
            if args.softcap is not None or args.temperature != 1.0:
                return fail("--fit-temperature fits the logits as saved: not with --softcap or --temperature")
            fopts = {} if args.binary else dict(axis=args.axis, ignore_index=args.ignore_index)
            fit = fx.fit_temperature_file(args.logits, args.labels, batch_rows=args.batch_rows, progress=progress,
                                          binary=args.binary, **fopts)
        ev = _api.evaluate_file(args.logits, args.labels, batch_rows=args.batch_rows, progress=progress,
                                binary=args.binary, **opts)
        if fit is not None:
            after = _scaled_evaluation(args, fx, _api, fit.temperature, opts, progress)
    except (OSError, ValueError, TypeError) as e:
        return fail(str(e) if not isinstance(e, FileNotFoundError) else f"no such file: {e.filename}")
    rows, doc = _report(ev, args.binary, args.bins_strategy)
    if fit is not None:
        rows_after, doc_after = _report(after, args.binary, args.bins_strategy)
        doc["temperature_fit"] = {"temperature": fit.temperature, "loss_before": fit.loss_before,
                                  "loss_after": fit.loss_after, "iterations": fit.iterations, "after": doc_after}
    try:
        if json_tmp:
            doc.update(logits=str(args.logits), labels=str(args.labels), version=fx.__version__)
            if not args.binary:
                doc.update(softcap=args.softcap, temperature=args.temperature)
            with open(json_tmp, "w") as f:
                json.dump(_json_safe(doc), f, indent=1, allow_nan=False)
        if plot_tmp:
            _plot(ev.calibration, plot_tmp, f"reliability: {args.logits}", plot_fmt)
        if roc_tmp:
            _plot_roc(ev.roc, roc_tmp, f"{args.logits} against {args.labels}", roc_fmt)
    except OSError as e:
        return fail(f"writing the outputs failed: {e.strerror or e}")
    outputs.commit()
    print(f"fusedxent evaluate: {args.logits} against {args.labels}"
          f"{' (binary, per element)' if args.binary else ''}; "
          f"loss in {'nats' if ev.base == math.e else f'base {ev.base:g}'}")
    cell = lambda v: f"{v:>14}" if isinstance(v, (int, np.integer)) else f"{v:>14.6g}"
    if fit is None:
        for name, v in rows:
            print(f"  {name:<20}{cell(v)}")
    else:
        print(f"  fitted temperature  {fit.temperature:>14.6g}   ({fit.iterations} passes)")
        print(f"  {'':<20}{'T = 1':>14}{f'T = {fit.temperature:.4g}':>14}")
        for (name, v), (_, va) in zip(rows, rows_after):
            print(f"  {name:<20}{cell(v)}{cell(va)}")
    if args.json:
        print(f"metrics written to {args.json}")
    if args.plot:
        print(f"reliability diagram written to {args.plot}")
    if args.plot_roc:
        print(f"ROC and precision-recall curves written to {args.plot_roc}")
    return 0
