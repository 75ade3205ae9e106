"""Bad input: a clear TypeError/ValueError naming the problem, and no
out=/grad_out= array partly written."""
import numpy as np
import pytest

import fusedxent as fx
from fusedxent import reference as R

X = np.random.default_rng(0).standard_normal((6, 4))
Y = np.array([0, 1, 2, 3, 0, 1])
T = np.random.default_rng(1).random((6, 4))

CE_BAD = [
    ("label >= C", dict(target=np.array([0, 1, 2, 4, 0, 1])), ValueError, r"value 4 at index 3 .*\[0, 4\)"),
    ("negative label", dict(target=np.array([0, -1, 2, 3, 0, 1])), ValueError, r"value -1 at index 1"),
    ("int64 max", dict(target=np.array([0, 1, 2, 3, 0, np.iinfo(np.int64).max])), ValueError, r"at index 5"),
    ("uint64 huge", dict(target=np.array([0, 1, 2, 3, 0, 2**63 + 5], dtype=np.uint64)), ValueError, r"out of range"),
    ("float labels", dict(target=Y.astype(float)), TypeError, r"must be integers"),
    ("int targets with logits' shape", dict(target=np.zeros((6, 4), int)), ValueError, r"must have shape \(6,\)"),
    ("target wrong length", dict(target=Y[:5]), ValueError, r"\(6,\).*\(5,\)"),
    ("soft target wrong shape", dict(target=T[:, :3]), ValueError, r"logits' shape"),
    ("string target", dict(target=np.array(["a"] * 6)), TypeError, r"target"),
    ("weight wrong shape", dict(weight=np.ones(3)), ValueError, r"weight must have shape \(4,\)"),
    ("sample_weight wrong shape", dict(sample_weight=np.ones(5)), ValueError, r"sample_weight"),
    ("complex weight", dict(weight=np.ones(4, complex)), TypeError, r"weight"),
    ("reduction", dict(reduction="avg"), ValueError, r"reduction must be one of"),
    ("base 1", dict(base=1), ValueError, r"base"),
    ("base 0", dict(base=0), ValueError, r"base"),
    ("base negative", dict(base=-2.0), ValueError, r"base"),
    ("base string", dict(base="2"), TypeError, r"base"),
    ("label_smoothing > 1", dict(label_smoothing=1.5), ValueError, r"label_smoothing"),
    ("label_smoothing < 0", dict(label_smoothing=-0.1), ValueError, r"label_smoothing"),
    ("z_loss < 0", dict(z_loss=-1.0), ValueError, r"z_loss"),
    ("axis out of range", dict(axis=2), ValueError, r"axis=2"),
    ("axis float", dict(axis=1.0), TypeError, r"axis"),
    ("ignore_index float", dict(ignore_index=1.5), TypeError, r"ignore_index"),
    ("num_threads 0", dict(num_threads=0), ValueError, r"num_threads"),
    ("num_threads str", dict(num_threads="2"), TypeError, r"num_threads"),
    ("grad_out wrong shape", dict(return_grad=True, grad_out=np.zeros((4, 6))), ValueError, r"grad_out has shape"),
    ("grad_out wrong dtype", dict(return_grad=True, grad_out=np.zeros((6, 4), np.float32)), ValueError, r"grad_out has dtype"),
    ("grad_out list", dict(return_grad=True, grad_out=[[0.0] * 4] * 6), TypeError, r"grad_out"),
]


@pytest.mark.parametrize("mod", [fx, R], ids=["fusedxent", "reference"])
@pytest.mark.parametrize("case,kw,exc,match", CE_BAD, ids=[c[0] for c in CE_BAD])
def test_softmax_cross_entropy_bad_input(mod, case, kw, exc, match):
    kw = dict(kw)
    target = kw.pop("target", Y)
    go = kw.get("grad_out")
    sentinel = go.copy() if isinstance(go, np.ndarray) else None
    with pytest.raises(exc, match=match):
        mod.softmax_cross_entropy(X, target, **kw)
    if sentinel is not None:
        assert np.array_equal(go, sentinel)


def test_no_partial_write_on_label_error():
    g = np.full((6, 4), 7.0)
    with pytest.raises(ValueError):
        fx.softmax_cross_entropy(X, np.array([0, 1, 2, 3, 0, 9]), return_grad=True, grad_out=g)
    assert (g == 7.0).all()
    ro = np.zeros((6, 4))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        fx.softmax_cross_entropy(X, Y, return_grad=True, grad_out=ro)


LOGIT_BAD = [
    ("complex", np.ones((2, 3), complex), TypeError, r"complex"),
    ("object", np.array([[1, "a"]], dtype=object), TypeError, r"dtype object"),
    ("string", np.array([["a", "b"]]), TypeError, r"real numbers"),
    ("None", None, TypeError, r"None"),
    ("ragged", [[1.0, 2.0], [3.0]], ValueError, r"could not be converted"),
    ("0-d", np.float64(1.0), ValueError, r"at least one dimension"),
]


@pytest.mark.parametrize("fn", ["softmax", "log_softmax", "logsumexp"])
@pytest.mark.parametrize("case,x,exc,match", LOGIT_BAD, ids=[c[0] for c in LOGIT_BAD])
def test_normalizer_bad_input(fn, case, x, exc, match):
    with pytest.raises(exc, match=match):
        getattr(fx, fn)(x)


@pytest.mark.parametrize("fn", ["softmax", "log_softmax", "sigmoid", "log_sigmoid"])
def test_out_checked_before_writing(fn):
    x = np.ones((3, 4))
    for bad, match in ((np.zeros((4, 3)), "shape"), (np.zeros((3, 4), np.float32), "dtype")):
        sentinel = bad.copy()
        with pytest.raises(ValueError, match=match):
            getattr(fx, fn)(x, out=bad)
        assert np.array_equal(bad, sentinel)
    ro = np.zeros((3, 4))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        getattr(fx, fn)(x, out=ro)


BCE_BAD = [
    ("target shape", dict(target=np.zeros((6, 3))), ValueError, r"logits' shape"),
    ("pos_weight shape", dict(pos_weight=np.ones(3)), ValueError, r"pos_weight"),
    ("weight no broadcast", dict(weight=np.ones((5, 4))), ValueError, r"does not broadcast"),
    ("alpha > 1", dict(alpha=1.5), ValueError, r"alpha"),
    ("gamma < 0", dict(gamma=-1.0), ValueError, r"gamma"),
    ("label_smoothing", dict(label_smoothing=2.0), ValueError, r"label_smoothing"),
    ("complex target", dict(target=np.ones((6, 4), complex)), TypeError, r"target"),
    ("reduction", dict(reduction=None), ValueError, r"reduction"),
    ("base", dict(base=1.0), ValueError, r"base"),
]


@pytest.mark.parametrize("case,kw,exc,match", BCE_BAD, ids=[c[0] for c in BCE_BAD])
def test_bce_bad_input(case, kw, exc, match):
    kw = dict(kw)
    target = kw.pop("target", T)
    with pytest.raises(exc, match=match):
        fx.sigmoid_binary_cross_entropy(X, target, **kw)


PROB_BAD = [
    ("eps 0", dict(eps=0.0), ValueError, r"eps"),
    ("eps 0.5", dict(eps=0.5), ValueError, r"eps"),
    ("eps string", dict(eps="tiny"), ValueError, r"eps"),
    ("shape mismatch", dict(q=np.ones((6, 3))), ValueError, r"same shape"),
    ("base", dict(base=-1), ValueError, r"base"),
]


@pytest.mark.parametrize("case,kw,exc,match", PROB_BAD, ids=[c[0] for c in PROB_BAD])
def test_probability_bad_input(case, kw, exc, match):
    kw = dict(kw)
    q = kw.pop("q", T)
    with pytest.raises(exc, match=match):
        fx.cross_entropy(T, q, **kw)


def test_evaluate_bad_labels():
    with pytest.raises(ValueError, match=r"labels value 7 at index 2"):
        fx.evaluate(X, np.array([0, 1, 7, 3, 0, 1]))
    with pytest.raises(TypeError, match="labels"):
        fx.evaluate(X, Y.astype(float))
    with pytest.raises(ValueError, match=r"labels must have shape \(6,\)"):
        fx.evaluate(X, Y[:2])


ELEMENTWISE_BAD = [
    ("complex", np.ones(3, complex), TypeError, r"complex"),
    ("object", np.array([1, None], dtype=object), TypeError, r"dtype object"),
    ("None", None, TypeError, r"None"),
    ("string", "abc", TypeError, r"real numbers"),
]


@pytest.mark.parametrize("fn", ["sigmoid", "log_sigmoid"])
@pytest.mark.parametrize("case,x,exc,match", ELEMENTWISE_BAD, ids=[c[0] for c in ELEMENTWISE_BAD])
def test_elementwise_bad_input(fn, case, x, exc, match):
    with pytest.raises(exc, match=match):
        getattr(fx, fn)(x)


BIN_PROB_BAD = [
    ("target shape", dict(target=np.zeros(3)), ValueError, r"logits' shape"),
    ("eps", dict(eps=0.7), ValueError, r"eps"),
    ("weight shape", dict(weight=np.ones(5)), ValueError, r"does not broadcast"),
    ("reduction", dict(reduction="max"), ValueError, r"reduction"),
    ("complex prob", dict(prob=np.ones(4, complex)), TypeError, r"complex"),
]


@pytest.mark.parametrize("mod", [fx, R], ids=["fusedxent", "reference"])
@pytest.mark.parametrize("case,kw,exc,match", BIN_PROB_BAD, ids=[c[0] for c in BIN_PROB_BAD])
def test_binary_cross_entropy_bad_input(mod, case, kw, exc, match):
    kw = dict(kw)
    prob = kw.pop("prob", np.full(4, 0.5))
    target = kw.pop("target", np.array([0, 1, 1, 0]))
    with pytest.raises(exc, match=match):
        mod.binary_cross_entropy(prob, target, **kw)
