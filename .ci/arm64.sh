#!/usr/bin/env bash
# The arm64 (aarch64) build and tests under emulation: a Debian arm64
# userland under qemu-user (Debian's qemu-user-static, debootstrap,
# binfmt-support; run as root), the package built there from this source
# tree, `check` on the NEON and the portable path, and the kernel tests.
# Correctness only: nothing is timed under emulation.  PyTorch stays out of
# the emulated environment (its aarch64 wheel crashes under qemu-user at its
# CPU probe), so the torch-based tests skip there.
#
#   bash .ci/arm64.sh            # ARM64_ROOT=/tmp/fx-arm64 by default; reused when it exists
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="${ARM64_ROOT:-/tmp/fx-arm64}"

if ! command -v debootstrap > /dev/null || [ ! -e /usr/bin/qemu-aarch64-static ]; then
    apt-get update -q > /dev/null || echo "apt-get update failed; trying the install anyway"
    apt-get install -y -q qemu-user-static debootstrap binfmt-support > /dev/null
fi
mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
update-binfmts --enable qemu-aarch64 2> /dev/null || true
if [ ! -x "$ROOT/usr/bin/python3" ]; then
    # the mirror this machine's apt uses
    MIRROR="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2> /dev/null || true)"
    MIRROR="${MIRROR:-http://deb.debian.org/debian}"
    debootstrap --arch=arm64 --include=python3,python3-venv,python3-dev,gcc,g++ bookworm "$ROOT" "$MIRROR" > /dev/null
fi
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"

# the source tree as git has it (no build outputs, no virtual environments)
rm -rf "$ROOT/src" && mkdir -p "$ROOT/src"
git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$ROOT/src"

mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
trap 'umount "$ROOT/proc" 2> /dev/null || true' EXIT

chroot "$ROOT" /usr/bin/env -i HOME=/root PATH=/usr/bin:/bin LANG=C.UTF-8 /bin/bash -euo pipefail -c '
    uname -m
    cd /src
    python3 tools/list_kernels.py --check      # pyx/KERNELS-aarch64.txt: the names this target compiles
    [ -x /venv/bin/python ] || python3 -m venv /venv
    /venv/bin/python -m pip install -q --upgrade pip
    /venv/bin/python -m pip install -q . pytest hypothesis scipy mpmath ml-dtypes
    cd /tmp
    /venv/bin/python -m fusedxent info
    for isa in neon baseline; do
        FUSEDXENT_ISA=$isa /venv/bin/python -m fusedxent check > /dev/null
        echo "arm64: check passed on $isa"
    done
    cd /src
    /venv/bin/python -m pytest -q -p no:cacheprovider tests/test_kernels.py tests/test_simd.py tests/test_vecmath.py \
        tests/test_semantics.py tests/test_float16.py tests/test_article.py tests/test_errors.py tests/test_layout.py \
        tests/test_bf16_head.py
'
echo "arm64 (emulated): check and the kernel tests passed"
