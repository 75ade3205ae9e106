"""Build of the compiled kernels: one Extension per .pyx in pyx/.

FUSEDXENT_DEBUG=1 builds with Cython's bounds, wraparound and
initialization checks on and -O0 -g, for a debug test run.
FUSEDXENT_SANITIZE=address adds AddressSanitizer (run Python with
LD_PRELOAD=$(gcc -print-file-name=libasan.so); see README).
OpenMP is used when the compiler accepts -fopenmp; otherwise the kernels
build serial (prange runs on one thread) and `fusedxent.show_config()`
says so.
"""
import os
import subprocess
import sys
import sysconfig
import tempfile

from setuptools import Extension, setup
from Cython.Build import cythonize

DEBUG = os.environ.get("FUSEDXENT_DEBUG", "") not in ("", "0")
SANITIZE = os.environ.get("FUSEDXENT_SANITIZE", "")

DIRECTIVES = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": False,
    "initializedcheck": DEBUG,
    "cdivision": True,
    "embedsignature": True,
}


def _openmp_flags():
    """(compile, link) flags for OpenMP, or ([], []) when the compiler lacks it."""
    if sys.platform == "win32":
        return ["/openmp"], []
    if sys.platform == "darwin":
        candidates = [(["-Xpreprocessor", "-fopenmp"], ["-lomp"])]
    else:
        candidates = [(["-fopenmp"], ["-fopenmp"])]
    cc = (sysconfig.get_config_var("CC") or "cc").split()
    for cflags, lflags in candidates:
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "t.c")
            with open(src, "w") as f:
                f.write("#include <omp.h>\nint main(void){return omp_get_max_threads() < 1;}\n")
            try:
                r = subprocess.run(cc + cflags + [src, "-o", os.path.join(tmp, "t")] + lflags,
                                   capture_output=True)
            except OSError:
                continue
            if r.returncode == 0:
                return cflags, lflags
    print("fusedxent: OpenMP not available, building serial kernels", file=sys.stderr)
    return [], []


omp_c, omp_l = _openmp_flags()
if sys.platform == "win32":
    cflags = ["/O2"]
else:
    # -fno-trapping-math / -fno-math-errno only let the vectorizer if-convert
    # selects and drop errno stores; NaN/inf results and the FP environment
    # are untouched (unlike -ffast-math).  -fopenmp-simd honours
    # `#pragma omp simd` even when OpenMP itself is missing.
    cflags = ["-O0", "-g"] if DEBUG else ["-O3"]
    cflags += ["-fno-trapping-math", "-fno-math-errno", "-fopenmp-simd", "-Wno-unused-function"]
    if SANITIZE:
        cflags += [f"-fsanitize={SANITIZE}", "-fno-omit-frame-pointer"]
        omp_l = omp_l + [f"-fsanitize={SANITIZE}"]

extensions = [
    Extension(
        "fusedxent._kernels",
        sources=["pyx/_kernels.pyx"],
        include_dirs=["pyx"],
        depends=["pyx/fx_dispatch.h", "pyx/fx_vecmath.h", "pyx/fx_rowops.inc"],
        extra_compile_args=cflags + omp_c,
        extra_link_args=omp_l,
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
]

setup(ext_modules=cythonize(extensions, compiler_directives=DIRECTIVES,
                            build_dir="build/cython"))
