"""
Scoring a logits file with constant memory
==========================================

Write 200,000 rows of "model outputs" to a ``.npy`` file in batches, then
score it memory-mapped, one batch at a time, with an ``Evaluator`` -- and
the same through ``fx.evaluate_file``: the memory in use stays that of a
batch whatever the file's size.
"""
import os
import sys
import tempfile
from typing import Any

import numpy as np

import fusedxent as fx


def main(rows: int = 200_000, classes: int = 100, batch_rows: int = 20_000) -> "fx.Evaluation[float, int, Any, Any]":
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "logits.npy")
        mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, classes))
        labels = rng.integers(0, classes, rows)
        for r0 in range(0, rows, batch_rows):       # write the "model outputs" in batches
            block = rng.standard_normal((min(batch_rows, rows - r0), classes)).astype(np.float32)
            block[np.arange(len(block)), labels[r0:r0 + len(block)]] += 2.0
            mm[r0:r0 + len(block)] = block
        mm.flush()
        del mm
        # streaming: one Evaluator over memory-mapped batches
        x = np.load(path, mmap_mode="r")
        ev = fx.Evaluator(keep_rows=False)
        for r0 in range(0, rows, batch_rows):
            ev.update(x[r0:r0 + batch_rows], labels[r0:r0 + batch_rows])
        res = ev.result()
        # the same through the helper
        res2 = fx.evaluate_file(path, labels, batch_rows=batch_rows, progress=False)
        print(f"{rows} rows x {classes} classes: loss {res.loss:.6f}, accuracy {res.accuracy:.4f}, "
              f"rows counted {res.count}; evaluate_file agrees: {abs(res.loss - res2.loss) < 1e-12}")
        return res


if __name__ == "__main__":
    if not main().count:
        sys.exit(1)
