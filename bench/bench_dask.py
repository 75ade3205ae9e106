"""Dask scale-out benchmark: evaluate a logits file on disk with 1 and with
2 LocalCluster worker processes, beside the in-process streaming helper
(`fusedxent.evaluate_file`) and a streaming-read probe over the same file,
all in one run, medians of interleaved repeats.

    python bench/bench_dask.py [--rows 2000000] [--classes 100] [--repeat 5]

The file is written first, so it is read from the page cache: the figures
measure compute and scheduling, not the disk.  Each worker runs the
kernels single-threaded (dask.distributed sets OMP_NUM_THREADS=1 in its
workers); the in-process helper uses every core.
"""
import argparse
import os
import statistics
import tempfile
import time

import numpy as np


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--classes", type=int, default=100)
    ap.add_argument("--chunk-rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args(argv)

    import dask
    from dask.distributed import Client, LocalCluster

    import fusedxent as fx
    import fusedxent.dask as fxd
    from fusedxent import _bench, _kernels

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as d:
        path, ypath = os.path.join(d, "logits.npy"), os.path.join(d, "labels.npy")
        mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(a.rows, a.classes))
        for r0 in range(0, a.rows, a.chunk_rows):
            mm[r0:r0 + a.chunk_rows] = rng.standard_normal((min(a.chunk_rows, a.rows - r0), a.classes))
        mm.flush()
        del mm
        labels = rng.integers(0, a.classes, a.rows)
        np.save(ypath, labels)
        gb = a.rows * a.classes * 4 / 1e9
        clusters = {w: LocalCluster(n_workers=w, threads_per_worker=1, processes=True,
                                    dashboard_address=":0", silence_logs=40) for w in (1, 2)}
        clients = {w: Client(c, set_as_default=False) for w, c in clusters.items()}
        probe_read, _ = _bench._probes(np.load(path, mmap_mode="r").reshape(-1), _kernels.max_threads())
        results, times = {}, {k: [] for k in ("probe", "evaluate_file", "dask 1 worker", "dask 2 workers")}

        def run_dask(w):
            ev = fxd.evaluate(fxd.open_npy(path, chunks=(a.chunk_rows, a.classes)),
                              fxd.open_npy(ypath, chunks=(a.chunk_rows,)))
            return dask.compute(ev, scheduler=clients[w].get)[0]

        for _ in range(a.repeat):             # interleaved: one of each per round
            for k in times:
                t0 = time.perf_counter()
                if k == "probe":
                    probe_read()
                elif k == "evaluate_file":
                    results[k] = fx.evaluate_file(path, labels, batch_rows=a.chunk_rows, progress=False)
                else:
                    results[k] = run_dask(int(k.split()[1]))
                times[k].append(time.perf_counter() - t0)
        for c in clients.values():
            c.close()
        for c in clusters.values():
            c.close()
        ref = results["evaluate_file"]
        print(f"{a.rows} x {a.classes} float32 logits on disk ({gb:.2f} GB), chunks of "
              f"{a.chunk_rows} rows, {os.cpu_count()} cores, medians of {a.repeat} interleaved runs")
        print(f"{'':16} {'ms':>9} {'GB/s':>7} {'x probe':>8}  loss (rel. diff to evaluate_file)")
        probe = statistics.median(times["probe"])
        for k, ts in times.items():
            t = statistics.median(ts)
            extra = ""
            if k in results:
                r = results[k]
                extra = f"{float(r.loss):.12f} ({abs(float(r.loss) - ref.loss) / ref.loss:.1e})"
            print(f"{k:16} {t * 1e3:9.1f} {gb / t:7.2f} {t / probe:8.2f}  {extra}")
        t1, t2 = statistics.median(times["dask 1 worker"]), statistics.median(times["dask 2 workers"])
        print(f"2 workers vs 1: {t1 / t2:.2f}x faster")


if __name__ == "__main__":
    main()
