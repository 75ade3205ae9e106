"""Build and runtime configuration: instruction-set path, OpenMP, threads."""
from typing import Any

import numpy as np

from . import _kernels


def set_isa(name: str = "best") -> str:
    """Use the kernels compiled for `name` ("baseline", "avx2", "avx512" or
    "best").  The FUSEDXENT_ISA environment variable sets it at import.
    Raises ValueError for an unknown name or one this CPU cannot run."""
    if name != "best" and name not in _kernels.ISA_LEVELS:
        raise ValueError(f"unknown instruction set {name!r}; choose from "
                         f"{('best',) + _kernels.ISA_LEVELS}")
    return _kernels.select_isa(name)


def config() -> dict[str, Any]:
    from . import __version__

    return {
        "version": __version__,
        "numpy": np.__version__,
        "isa": _kernels.isa_current(),
        "isa_supported": list(_kernels.isa_supported()),
        "openmp": _kernels.have_openmp(),
        "max_threads": _kernels.max_threads(),
    }


def show_config() -> None:
    """Print the version, the kernel path in use, OpenMP and thread count."""
    for k, v in config().items():
        print(f"{k:>14}: {v}")
