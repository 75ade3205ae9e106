"""Command line: `python -m fusedxent {bench,check,info,ulp,evaluate}`."""
import argparse
import sys


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m fusedxent", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bench", help="time every kernel against the NumPy reference and the roofline")
    b.add_argument("--rows", type=int, help="rows of the logits (default: 65536 and 1,000,000)")
    b.add_argument("--classes", type=int, help="classes (default: 1000 and 10)")
    b.add_argument("--dtype", default="float32", choices=["float16", "float32", "float64"])
    b.add_argument("--threads", type=int, help="OpenMP threads (default: the OpenMP default)")
    b.add_argument("--repeat", type=int, default=5, help="interleaved runs per figure (median)")
    b.add_argument("--ref-repeat", type=int, default=1, help="runs of the slow NumPy reference")
    b.add_argument("--quick", action="store_true", help="small shapes, for a smoke run")
    b.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    b.add_argument("--sweep", action="store_true",
                   help="also sweep the class count (2 .. 262144) for the forward loss")
    b.add_argument("--plot", metavar="FILE.png", help="with --sweep: draw throughput against class count")
    b.add_argument("--targets", action="store_true",
                   help="also measure the performance targets (each case beside its probe or peer) on every path")
    b.add_argument("--baseline-build", metavar="DIR",
                   help="with --targets: time an earlier build's package directory (a copy of its installed "
                        "fusedxent/) beside this one in every interleaved run")
    b.add_argument("--compare", metavar="OLD.json",
                   help="print each row's change in its probe ratio against an earlier --json file")
    c = sub.add_parser("check", help="run fusedxent.check(): every kernel against the reference")
    c.add_argument("--seed", type=int, default=0)
    sub.add_parser("info", help="version, kernel path, OpenMP and threads")
    u = sub.add_parser("ulp", help="error of the vector math in ULP, on every path this CPU runs")
    u.add_argument("--exhaustive", action="store_true", help="every float32 input (a few minutes per function)")
    u.add_argument("--samples", type=int, default=1_000_000, help="sampled inputs per function")
    u.add_argument("--isa", action="append", help="only this path (repeatable; default: all this CPU runs)")
    from . import _cli_eval
    _cli_eval.add_parser(sub)
    args = ap.parse_args(argv)
    if args.cmd == "evaluate":
        return _cli_eval.run(args)

    import fusedxent as fx
    if args.cmd == "bench":
        from . import _bench
        fx.show_config()
        rows = _bench.run(rows=args.rows, classes=args.classes, dtype=args.dtype, threads=args.threads,
                          repeat=args.repeat, ref_repeat=args.ref_repeat, json_path=None, quick=args.quick)
        print()
        _bench.small_call(repeat=args.repeat, calls=2000 if args.quick else 20000)
        if args.sweep or args.plot:
            print()
            _bench.sweep(dtype=args.dtype, threads=args.threads, repeat=args.repeat, plot=args.plot,
                         elements=(1 << 22) if args.quick else (1 << 25))
        if args.targets:
            print()
            rows = rows + _bench.targets(threads=args.threads, repeat=args.repeat, quick=args.quick,
                                         baseline=args.baseline_build)
            print()
            rows = rows + _bench.linear(threads=args.threads, repeat=2, quick=args.quick)
            print()
            rows = rows + _bench.linear_bf16(threads=args.threads, repeat=3, quick=args.quick)
        if args.json:
            import json
            with open(args.json, "w") as f:
                json.dump(rows, f, indent=1)
        if args.compare:
            print()
            _bench.compare(args.compare, rows)
        return 0
    if args.cmd == "check":
        rep = fx.check(seed=args.seed)
        print(rep)
        return 0 if rep.ok else 1
    if args.cmd == "ulp":
        from . import _ulp
        _ulp.table(isas=args.isa, exhaustive=args.exhaustive, n=args.samples)
        return 0
    fx.show_config()
    return 0


if __name__ == "__main__":
    sys.exit(main())
