"""linear_cross_entropy against PyTorch: time and peak memory, each side in
a fresh process (so one side's allocator cache does not hide the other's
peak), gradients included on both sides.

    python bench/bench_linear.py [N H V] [--threads T] [--dtype bfloat16]

Prints, per side, the forward+backward time (median of the runs inside the
process after one warm-up) and the peak RSS rise over the process's RSS
with the inputs in place (VmHWM after resetting it, Linux).  Sides: fusedxent, PyTorch eager
(F.cross_entropy(F.linear(h, W), y) + backward) and PyTorch's chunked
F.linear_cross_entropy(options=LinearCrossEntropyOptions()) when torch is
installed.  --dtype bfloat16: hidden and weight bfloat16 on every side
(ml_dtypes' dtype for fusedxent, its bfloat16 head where the CPU has one),
and the float32 head on the same values as one more side ("fusedxent-f32").
"""
import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, sys, time
import numpy as np
N, H, V, T, side, runs, dtype = (int(a) if a.isdigit() else a for a in sys.argv[1:8])
rng = np.random.default_rng(0)
h = rng.standard_normal((N, H), dtype=np.float32)
W = (rng.standard_normal((V, H), dtype=np.float32) / np.sqrt(H)).astype(np.float32)
y = rng.integers(0, V, N)
if dtype == "bfloat16":
    import ml_dtypes
    h, W = h.astype(ml_dtypes.bfloat16), W.astype(ml_dtypes.bfloat16)
    if side == "fusedxent-f32":         # the float32 head on the same values
        h, W = h.astype(np.float32), W.astype(np.float32)
if side.startswith("fusedxent"):
    import fusedxent as fx
    def step():
        return fx.linear_cross_entropy(h, W, y, return_grad=True, num_threads=T)
else:
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(T)
    tt = lambda a: torch.from_numpy(a.view(np.int16)).view(torch.bfloat16) if a.dtype.itemsize == 2 \
        else torch.from_numpy(a)
    th = tt(h).requires_grad_()
    tW = tt(W).requires_grad_()
    ty = torch.from_numpy(y)
    def step():
        th.grad = tW.grad = None
        if side == "torch-eager":
            loss = F.cross_entropy(F.linear(th, tW), ty)
        else:
            loss = F.linear_cross_entropy(th, tW, ty, options=torch.nn.LinearCrossEntropyOptions())
        loss.backward()
        return loss.item(), th.grad, tW.grad
import gc
gc.collect()
def rss(field):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith(field))
with open("/proc/self/clear_refs", "w") as f:    # reset the high-water mark (Linux): input setup's
    f.write("5")                                  # temporaries must not count as the step's peak
base = rss("VmRSS:")
ts = []
for _ in range(runs + 1):
    t0 = time.perf_counter()
    out = step()
    ts.append(time.perf_counter() - t0)
    del out
peak = rss("VmHWM:")
grads = (N * H + V * H) * h.dtype.itemsize
print(json.dumps(dict(side=side, t=float(np.median(ts[1:] if runs else ts)), rss_rise_mb=(peak - base) / 1024,
                      grads_mb=grads / 2**20)))
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("shape", nargs="*", type=int, default=[4096, 768, 50257])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=2, help="timed runs per process after one warm-up")
    ap.add_argument("--sides", nargs="+", help="only these (fusedxent, fusedxent-f32, torch-eager, torch-chunked)")
    ap.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    args = ap.parse_args()
    N, H, V = args.shape
    sides = ["fusedxent"] + (["fusedxent-f32"] if args.dtype == "bfloat16" else [])
    try:
        import torch  # noqa: F401
        sides += ["torch-eager", "torch-chunked"]
    except ImportError:
        pass
    if args.sides:
        sides = [s for s in sides if s in args.sides]
    print(f"N={N} H={H} V={V} {args.dtype}, {args.threads} threads; forward+backward, each side in a fresh process")
    print(f"{'side':16}{'time s':>9}{'peak RSS rise MB':>18}{'(gradients MB)':>16}")
    for side in sides:
        r = subprocess.run([sys.executable, "-c", CHILD, str(N), str(H), str(V), str(args.threads), side,
                            str(args.runs), args.dtype], capture_output=True, text=True)
        if r.returncode:
            print(f"{side:16} failed: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}")
            continue
        d = json.loads(r.stdout.strip().splitlines()[-1])
        print(f"{side:16}{d['t']:9.2f}{d['rss_rise_mb']:18.0f}{d['grads_mb']:16.0f}")


if __name__ == "__main__":
    main()
