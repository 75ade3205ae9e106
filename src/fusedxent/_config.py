"""Build and runtime configuration: instruction-set path, OpenMP, threads."""
from typing import Any

import numpy as np

from . import _kernels


def set_isa(name: str = "best") -> str:
    """Use the kernels compiled for one instruction set.

    Parameters
    ----------
    name : {"best", "baseline", "avx2", "avx512", "neon"}
        "best" picks the widest this CPU runs.  The paths compiled depend on
        the platform: "baseline", "avx2" and "avx512" on x86-64, "baseline"
        and "neon" on aarch64.  The FUSEDXENT_ISA environment variable sets
        it at import.

    Returns
    -------
    str
        The path now in use.

    Raises
    ------
    ValueError
        For an unknown name or one this CPU cannot run.
    """
    names = _kernels.isa_names()          # by level, from the C dispatch
    if name != "best" and name not in names:
        raise ValueError(f"unknown instruction set {name!r}; choose from {('best',) + names}")
    got = _kernels.select_isa(-1 if name == "best" else names.index(name))
    if got is None:
        raise ValueError(f"this CPU cannot run the {name!r} kernels; it supports {_kernels.isa_supported()}")
    return str(got)


def config() -> dict[str, Any]:
    from . import __version__

    return {
        "version": __version__,
        "numpy": np.__version__,
        "isa": _kernels.isa_current(),
        "isa_supported": list(_kernels.isa_supported()),
        "simde": _kernels.simde_build(),
        "bf16_head": _kernels.bf16_ready(),       # the linear head's bfloat16 products (AVX512-BF16)
        "openmp": _kernels.have_openmp(),
        "max_threads": _kernels.max_threads(),
    }


def show_config() -> None:
    """Print the version, the kernel path in use, OpenMP and thread count.

    Returns
    -------
    None
        The same fields are returned as a dict by `fusedxent._config.config()`.
    """
    for k, v in config().items():
        print(f"{k:>14}: {v}")
