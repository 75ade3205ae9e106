"""
Throughput against class count
==============================

The forward softmax cross-entropy beside the streaming-read probe (the
roofline: a parallel sum over the same bytes, same threads), the logits in
cache, the NumPy reference and PyTorch / scikit-learn when installed -- the
``python -m fusedxent bench --sweep`` measurement on a smaller batch (2^22
logits a class count), run when this page was built.  The figure on the
:doc:`/performance` page is the full-size run.
"""
from typing import Any

import fusedxent as fx
from fusedxent import _bench

fx.show_config()
rows: list[dict[str, Any]] = _bench.sweep(classes=(2, 10, 100, 1000, 32000), elements=1 << 22, repeat=3)
fig = _bench.plot_sweep(rows, "softmax cross-entropy forward, float32 (2^22 logits a class count)")
