"""The documentation's examples run: every public function's docstring
example (fusedxent, fusedxent.reference, fusedxent.dask) as a doctest, and
every public function documents Parameters, Returns, Raises and Examples."""
import doctest
import importlib
import inspect

import numpy as np
import pytest

import fusedxent as fx

MODULES = ["fusedxent", "fusedxent.reference", "fusedxent.dask"]
# the result types document their fields as Attributes (no example of their own)
RESULT_TYPES = {"Evaluation", "BinaryEvaluation", "Calibration", "PerClass", "LinearGrads", "RowStats", "TemperatureFit", "ROC", "OneVsRest", "Classwise"}


def _public(modname):
    mod = importlib.import_module(modname)
    names = getattr(mod, "__all__", None) or [n for n, o in vars(mod).items() if inspect.isfunction(o)
                                               and not n.startswith("_") and o.__module__ == mod.__name__]
    return mod, [n for n in names if callable(getattr(mod, n))]


def _import(modname):
    if modname == "fusedxent.dask":
        pytest.importorskip("dask.array")
    return _public(modname)


@pytest.mark.parametrize("modname", MODULES)
def test_docstring_examples_run(modname):
    mod, names = _import(modname)
    before = fx._kernels.isa_current()
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    ran = 0
    with np.printoptions(legacy=False):
        for name in names:
            for t in finder.find(getattr(mod, name), f"{modname}.{name}", globs={}):
                if t.examples:
                    runner.run(t)
                    ran += 1
    fx.set_isa(before)
    assert runner.failures == 0, f"{runner.failures} failing examples in {modname} (see the output above)"
    assert ran == len([n for n in names if n not in RESULT_TYPES])     # one example each


@pytest.mark.parametrize("modname", MODULES)
def test_every_public_function_has_its_sections(modname):
    mod, names = _import(modname)
    missing = []
    for name in names:
        obj = getattr(mod, name)
        doc = inspect.getdoc(obj) or ""
        if name in RESULT_TYPES:
            need = ["Attributes"]
        else:
            need = ["Parameters"] if inspect.signature(obj).parameters else []
            need += [] if inspect.isclass(obj) else ["Returns"]
            need += ["Examples"] + ([] if name in ("show_config", "set_isa") else ["Raises"])
        missing += [f"{modname}.{name}: {s}" for s in need if f"{s}\n{'-' * len(s)}" not in doc]
    assert not missing, missing
