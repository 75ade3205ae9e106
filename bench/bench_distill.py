"""linear_distillation_loss against the three matrix products it cannot
avoid (logits, d_hidden, d_W), and against linear_cross_entropy, in one
process, interleaved rounds (medians), gradients included.

    python bench/bench_distill.py [N H V] [--threads T] [--repeat R]

The issue's target: forward+gradient <= 1.25x the three products alone.
"""
import argparse
import time

import numpy as np

import fusedxent as fx


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("shape", nargs="*", type=int, default=[4096, 768, 50257])
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    N, H, V = a.shape
    rng = np.random.default_rng(0)
    h = rng.standard_normal((N, H), dtype=np.float32)
    W = rng.standard_normal((V, H), dtype=np.float32) / np.float32(np.sqrt(H))
    t = h @ W.T + rng.standard_normal((N, V), dtype=np.float32)      # a teacher near the student
    y = rng.integers(0, V, N)
    nt = a.threads

    def products():
        z = np.matmul(h, W.T)
        np.matmul(z, W)
        np.matmul(z.T, h)

    cases = {"linear_distillation_loss (KL, T=2)": lambda: fx.linear_distillation_loss(
                 h, W, t, temperature=2.0, return_grad=True, num_threads=nt),
             "linear_cross_entropy": lambda: fx.linear_cross_entropy(h, W, y, return_grad=True, num_threads=nt),
             "the three products alone": products}
    times = {k: [] for k in cases}
    for _ in range(a.repeat):
        for k, f in cases.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    ref = np.median(times["the three products alone"])
    print(f"N={N} H={H} V={V}, forward+gradient, medians of {a.repeat} interleaved rounds")
    for k, v in times.items():
        print(f"  {k:38}{np.median(v) * 1e3:9.0f} ms  {np.median(v) / ref:5.2f}x the products")


if __name__ == "__main__":
    main()
