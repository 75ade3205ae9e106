"""The examples run and say what they claim."""
import importlib.util
import pathlib

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_digits_softmax_regression_matches_sklearn():
    pytest.importorskip("sklearn")
    ours, theirs = _load("digits_softmax_regression").main()
    assert ours >= theirs - 0.01


def test_score_memmap():
    res = _load("score_memmap").main(rows=50_000, classes=20, batch_rows=7_000)
    assert res.count == 50_000 and 0 < res.accuracy < 1


def test_dask_cluster():
    pytest.importorskip("dask.distributed")
    ev, ref = _load("dask_cluster").main(rows=40_000, classes=30, chunk_rows=7_000)
    assert abs(ev.loss - ref.loss) <= 1e-12 * ref.loss
    assert ev.count == ref.count == 40_000
    assert float(ev.accuracy) == ref.accuracy
