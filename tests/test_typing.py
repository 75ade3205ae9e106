"""The type stubs: `mypy --strict` passes on the public API and the
examples (configured in pyproject.toml), and stubtest finds every stub true
to the installed modules (names, parameters, defaults)."""
import pathlib
import subprocess
import sys

import pytest

pytest.importorskip("mypy")
ROOT = pathlib.Path(__file__).resolve().parent.parent


def _run(*args):
    r = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def test_mypy_strict_on_public_api_and_examples():
    code, out = _run("mypy")
    assert code == 0, out


def test_stubs_match_the_modules():
    pytest.importorskip("dask.array")
    code, out = _run("mypy.stubtest", "fusedxent._api", "fusedxent.reference", "fusedxent.dask",
                     "fusedxent._kernels", "fusedxent._testing", "fusedxent._linear", "fusedxent._results",
                     "fusedxent._temperature", "fusedxent._distill", "fusedxent._teacher",
                     "--allowlist", "stubtest-allowlist.txt")
    assert code == 0, out


def test_mypy_catches_a_misuse(tmp_path):
    # the overloads carry information: a forward loss is a float, not a pair
    f = tmp_path / "misuse.py"
    f.write_text("import numpy as np\nimport fusedxent as fx\n"
                 "loss, grad = fx.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 1]))\n")
    code, out = _run("mypy", "--strict", "--config-file", "pyproject.toml", str(f))
    assert code == 1 and '"float" object is not iterable' in out, out


# the result types document their fields as Attributes, the rest take Parameters
RESULT_TYPES = {"Evaluation", "BinaryEvaluation", "Calibration", "PerClass", "LinearGrads", "RowStats", "TemperatureFit", "ROC", "OneVsRest", "Classwise"}


def test_every_public_function_has_numpydoc_sections():
    import inspect

    import fusedxent as fx
    mods = [fx]
    try:
        import fusedxent.dask as fxd
        mods.append(fxd)
    except ImportError:
        pass
    missing = []
    for mod in mods:
        for name in mod.__all__:
            obj = getattr(mod, name)
            if not callable(obj):
                continue
            doc = inspect.getdoc(obj) or ""
            has_params = bool(inspect.signature(obj).parameters)
            need = ["Attributes\n----------"] if name in RESULT_TYPES else \
                (["Parameters\n----------"] if has_params else []) + \
                ([] if inspect.isclass(obj) else ["Returns\n-------"])
            missing += [f"{mod.__name__}.{name}: {n.splitlines()[0]}" for n in need if n not in doc]
    assert not missing, missing
