"""The write-or-check main of the scripts whose output is committed
(pyx/KERNELS.txt, pyx/fx_coeffs.h): written by default, compared with
--check (CI), which exits 1 when the committed file is not current."""
import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(path, render, description, argv=None):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--check", action="store_true", help="exit 1 when the committed file is not current")
    args = ap.parse_args(argv)
    text = render()
    rel = os.path.relpath(path, ROOT)
    if args.check:
        old = open(path).read() if os.path.exists(path) else ""
        if old != text:
            sys.stderr.write(f"{rel} is not current: run python {os.path.relpath(sys.argv[0], ROOT)}\n")
            return 1
        print(f"{rel} is current")
        return 0
    with open(path, "w") as f:
        f.write(text)
    print(f"wrote {rel}")
    return 0
