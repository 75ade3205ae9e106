"""
Evaluating on a Dask cluster
============================

A logits file on disk evaluated on a ``dask.distributed`` LocalCluster.
The same evaluation as score_memmap.py, scaled out: `fusedxent.dask.open_npy`
wraps the .npy file with dask.array.from_array so that each worker process
memory-maps the file and reads only its own blocks of rows; each block is
evaluated with the compiled kernel and the exact partial sums are added in
Dask's tree reduction.  The in-memory result is printed beside it.
"""
import os
import sys
import tempfile
import time
from typing import Any

import numpy as np

import fusedxent as fx


def main(rows: int = 200_000, classes: int = 100, chunk_rows: int = 25_000,
         workers: int = 2) -> tuple[Any, "fx.Evaluation[float, int, Any, Any]"]:
    import dask
    from dask.array import from_array as da_from_array
    from dask.distributed import Client, LocalCluster

    import fusedxent.dask as fxd

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "logits.npy")
        x = rng.standard_normal((rows, classes)).astype(np.float32)
        labels = rng.integers(0, classes, rows)
        x[np.arange(rows), labels] += 2.0
        np.save(path, x)
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          dashboard_address=":0") as cluster, Client(cluster):
            logits = fxd.open_npy(path, chunks=(chunk_rows, classes))
            y = da_from_array(labels, chunks=chunk_rows)
            t0 = time.perf_counter()
            (ev,) = dask.compute(fxd.evaluate(logits, y))
            t_dask = time.perf_counter() - t0
        ref = fx.evaluate(x, labels)
        print(f"{rows} rows x {classes} classes on {workers} workers: loss {ev.loss:.12f}, "
              f"accuracy {ev.accuracy:.4f}, rows {ev.count} ({t_dask * 1e3:.0f} ms)")
        print(f"in memory:                          loss {ref.loss:.12f}, accuracy {ref.accuracy:.4f}; "
              f"relative difference {abs(ev.loss - ref.loss) / ref.loss:.1e}")
        return ev, ref


if __name__ == "__main__":
    ev, ref = main()
    if abs(ev.loss - ref.loss) > 1e-12 * ref.loss:
        sys.exit(1)
