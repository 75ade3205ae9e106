"""The Raises and Examples sections of the public functions' docstrings,
for `fusedxent`, `fusedxent.reference` and `fusedxent.dask` alike.

The three modules document one contract: the errors are the same
(the same validation runs in each) and every function has an example that
runs.  Each module calls `complete` at its end, which appends these
sections to its own docstrings; `reference` also builds its twins'
Parameters and Returns from their signatures with `twin`.  The examples
run as doctests in the test suite (tests/test_docs.py), so they stay true.
Kernel-free: the reference imports this module.
"""
import inspect
import textwrap
from typing import Any


RAISES = {
    'elementwise': """\
TypeError
    `x` is not an array of real numbers (complex, object or string dtype).
ValueError
    `out` has the wrong shape or dtype or is read-only; `num_threads` is
    outside 1..1024.
""",
    'rows': """\
TypeError
    `x` is not an array of real numbers, or `axis` is not an integer.
ValueError
    `axis` is out of range; `out` has the wrong shape or dtype or is
    read-only; `num_threads` is outside 1..1024.
""",
    'softmax_cross_entropy': """\
TypeError
    `logits` are not real numbers; `target` is neither integer class
    indices nor float probabilities (a float target of the index shape says
    so); a weight is not real numbers.
ValueError
    A shape does not match (the message gives the expected one); a label is
    out of ``[0, C)`` and not `ignore_index` (the message names its index
    and value); an option is out of range (`reduction`, `label_smoothing`,
    `base`, `z_loss`, `softcap` and `temperature` finite and > 0, `gamma`
    >= 0, `alpha` >= 0 and a scalar or one per class); the logits have zero
    classes; `grad_out` has the
    wrong shape or dtype or is read-only; `num_threads` is outside 1..1024.
    Nothing is written to `grad_out` when an error is raised.
""",
    'sigmoid_binary_cross_entropy': """\
TypeError
    `logits`, `target` or a weight are not real numbers.
ValueError
    `target` does not have the logits' shape; `weight` does not broadcast
    to it; `pos_weight` is not a scalar or of the last axis' length; an
    option is out of range (`reduction`, `label_smoothing`, `gamma`,
    `alpha`, `base`); `grad_out` has the wrong shape or dtype or is
    read-only; `num_threads` is outside 1..1024.
""",
    'probabilities': """\
TypeError
    An operand is not real numbers, or `eps` is neither "auto" nor a number.
ValueError
    The shapes do not match; `eps` is outside (0, 0.5); `reduction` or
    `base` is invalid.
""",
    'linear_cross_entropy': """\
TypeError
    An operand is not real numbers; `hidden`, `linear_weight` and
    `linear_bias` do not compute in one precision; `target` is not integer
    class indices.
ValueError
    A shape does not match (`linear_weight` must be (V, H) with V > 0,
    `target` hidden's shape without its last axis); a label is out of
    ``[0, V)`` and not `ignore_index`; an option is out of range;
    `chunk_size` or `num_threads` is not a positive integer (at most 1024
    threads).
""",
    'evaluate': """\
TypeError
    `logits` are not real numbers or `labels` are not integers.
ValueError
    A shape does not match; a label is out of ``[0, C)`` and not
    `ignore_index`; `topk` holds a value below 1 or more than 16 values above
    1; `calibration_bins` is not a positive integer (at most 2**20);
    `per_class` is not False, True or "confusion" (at most 1024 classes for
    the confusion matrix); `softcap` or `temperature` is not finite and
    > 0; `num_threads` is outside 1..1024.
""",
    'linear_evaluate': """\
TypeError
    An operand is not real numbers; `labels` are not integer class indices.
ValueError
    A shape does not match (`linear_weight` must be (V, H) with V > 0,
    `labels` hidden's shape without its last axis); a label is out of
    ``[0, V)`` and not `ignore_index`; an option is out of range (as in
    `evaluate`); `chunk_size` or `num_threads` is not a positive integer.
""",
    'evaluate_binary': """\
TypeError
    `logits`, `targets` or `sample_weight` are not real numbers.
ValueError
    `targets` does not have the logits' shape; `sample_weight` does not
    broadcast to it; `calibration_bins` is not a positive integer;
    `num_threads` is outside 1..1024.
""",
    'evaluate_file': """\
FileNotFoundError
    A file does not exist.
ValueError
    A file is not a `.npy` file, is an `.npz` archive, is truncated or
    holds Python objects; the shapes do not match; the class axis is the
    first (streamed) axis; a label is out of range (the message gives the
    rows of the file); an option is invalid (as in `Evaluator`).
TypeError
    The logits are not real numbers or the labels are not integers.
""",
    'fit_temperature': """\
ValueError
    No finite temperature minimises the NLL (every counted row's label is
    its top class: T -> 0; the logits score the labels below chance:
    T -> infinity); counted rows hold NaN or infinite logits; no counted
    rows; a label is out of range; shapes do not match; `tol` is not in
    (0, 1) or `max_iter` < 1; `ignore_index` with binary=True.
TypeError
    The logits are not real numbers or the labels are not integers.
""",
    'fit_temperature_file': """\
FileNotFoundError
    A file does not exist.
ValueError
    As in `fit_temperature`; a file is not a `.npy` file; the class axis is
    the first (streamed) axis; a label is out of range (the message gives
    the rows of the file).
TypeError
    The logits are not real numbers or the labels are not integers.
""",
    'distillation_loss': """\
ValueError
    The teacher's shape differs from the student's; `target` has the wrong
    shape or a label out of range; `hard_weight` without `target`;
    `temperature` is not finite and > 0; `beta` is not in (0, 1);
    `divergence` or `tail` is unknown; `reduction` or `base` is invalid;
    a sparse teacher's ids are out of range or repeat within a row, its k
    exceeds the class count, its shapes differ from the student's rows, or
    a row's probabilities sum above 1 (beyond 1e-3); `grad_out` has the
    wrong shape or dtype or is read-only; `num_threads` is outside 1..1024.
TypeError
    The logits are not real numbers or the labels are not integers.
""",
    'linear_distillation_loss': """\
ValueError
    As in `distillation_loss`; `linear_weight` is not 2-D (V, H) or has no
    classes; `hidden`'s last axis is not H; `linear_bias` is not (V,); a
    dense teacher is not hidden's shape with V for H; `chunk_size` is not a
    positive integer.
TypeError
    As in `distillation_loss`; hidden, weight and bias do not compute in
    one precision.
""",
    'SparseTeacher': """\
ValueError
    From `distillation_loss`, which checks it (constructing one checks
    nothing): ids out of range or repeated within a row, k above the class
    count, shapes other than the student's rows + (k,), a row's
    probabilities summing above 1 (beyond 1e-3).
TypeError
    From `distillation_loss`: ids that are not integers, log-probabilities
    that are not real numbers.
""",
    'Evaluator': """\
ValueError
    An option is invalid (as in `evaluate`); `update` gets a batch whose
    class count differs from the batches before it (and adds nothing);
    `merge` gets an evaluator with other options.
TypeError
    `merge` gets something that is not an evaluator of the same kind.
""",
    'check': """\
AssertionError
    With ``raise_on_failure=True``, when a comparison disagrees.
""",
    'open_npy': """\
FileNotFoundError
    The file does not exist.
ValueError
    The file is not a `.npy` file, is truncated or holds Python objects.
""",
}

KIND = {'sigmoid': 'elementwise', 'log_sigmoid': 'elementwise', 'softmax': 'rows', 'log_softmax': 'rows', 'logsumexp': 'rows', 'softmax_cross_entropy': 'softmax_cross_entropy', 'sigmoid_binary_cross_entropy': 'sigmoid_binary_cross_entropy', 'cross_entropy': 'probabilities', 'binary_cross_entropy': 'probabilities', 'linear_cross_entropy': 'linear_cross_entropy', 'linear_evaluate': 'linear_evaluate', 'evaluate': 'evaluate', 'evaluate_binary': 'evaluate_binary', 'evaluate_file': 'evaluate_file', 'Evaluator': 'Evaluator', 'BinaryEvaluator': 'Evaluator', 'check': 'check', 'open_npy': 'open_npy', 'fit_temperature': 'fit_temperature', 'fit_temperature_file': 'fit_temperature_file', 'distillation_loss': 'distillation_loss', 'SparseTeacher': 'SparseTeacher', 'linear_distillation_loss': 'linear_distillation_loss'}

FX_EXAMPLES = {
    'sigmoid': """\
>>> import numpy as np
>>> import fusedxent as fx
>>> fx.sigmoid(np.array([-243.0, 0.0, 2.0]))
array([2.92712250e-106, 5.00000000e-001, 8.80797078e-001])
""",
    'log_sigmoid': """\
>>> import numpy as np
>>> import fusedxent as fx
>>> fx.log_sigmoid(np.array([-800.0, 0.0, 40.0]))
array([-8.00000000e+02, -6.93147181e-01, -4.24835426e-18])
""",
    'softmax': """\
>>> import numpy as np
>>> import fusedxent as fx
>>> fx.softmax(np.array([[1.0, 2.0, 3.0]], np.float32)).round(4)
array([[0.09  , 0.2447, 0.6652]], dtype=float32)
""",
    'log_softmax': """\
>>> import numpy as np
>>> import fusedxent as fx
>>> fx.log_softmax(np.array([[1.0, 2.0, 3.0]])).round(4)
array([[-2.4076, -1.4076, -0.4076]])
""",
    'logsumexp': """\
>>> import numpy as np
>>> import fusedxent as fx
>>> fx.logsumexp(np.array([[1000.0, 1000.0], [0.0, -np.inf]]))
array([1000.69314718,    0.        ])
""",
    'softmax_cross_entropy': """\
>>> import numpy as np
>>> import fusedxent as fx
>>> x = np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]], np.float32)
>>> y = np.array([0, 2])
>>> round(fx.softmax_cross_entropy(x, y), 6)
0.175456
>>> loss, grad = fx.softmax_cross_entropy(x, y, reduction='none', return_grad=True)
>>> loss.round(4)
array([0.2413, 0.1096], dtype=float32)
>>> grad.round(4)
array([[-0.2144,  0.1753,  0.0391],
       [ 0.0493,  0.0545, -0.1038]], dtype=float32)
>>> f'{fx.softmax_cross_entropy(np.array([[30.0, 0.0]], np.float32), np.array([0])):.4e}'  # exact where lse - x[y] rounds to 0
'9.3576e-14'
>>> round(fx.softmax_cross_entropy(x, y, gamma=2.0), 6)        # focal: confident rows count less
0.006137
>>> round(fx.softmax_cross_entropy(x, y, softcap=1.0, temperature=2.0), 6)
0.631981
""",
    'sigmoid_binary_cross_entropy': """\
>>> import numpy as np
>>> import fusedxent as fx
>>> x = np.array([3.0, -1.0, 0.5])
>>> t = np.array([1.0, 0.0, 1.0])
>>> round(fx.sigmoid_binary_cross_entropy(x, t), 6)
0.278642
>>> fx.sigmoid_binary_cross_entropy(x, t, gamma=2.0, alpha=0.25, reduction='none').round(6)
array([2.7000e-05, 1.6994e-02, 1.6893e-02])
""",
    'cross_entropy': """\
>>> import numpy as np
>>> import fusedxent as fx
>>> p = np.array([[0.5, 0.5], [1.0, 0.0]])
>>> q = np.array([[0.25, 0.75], [0.5, 0.5]])
>>> fx.cross_entropy(p, q, base=2, reduction='none').round(6)
array([1.207519, 1.      ])
""",
    'binary_cross_entropy': """\
>>> import numpy as np
>>> import fusedxent as fx
>>> round(fx.binary_cross_entropy(np.array([0.9, 0.2]), np.array([1.0, 0.0])), 6)
0.164252
""",
    'linear_cross_entropy': """\
>>> import numpy as np
>>> import fusedxent as fx
>>> rng = np.random.default_rng(0)
>>> h = rng.standard_normal((8, 4))
>>> W = rng.standard_normal((5, 4))
>>> y = np.array([0, 1, 2, 3, 4, 0, 1, -100])
>>> loss, g = fx.linear_cross_entropy(h, W, y, return_grad=True)
>>> bool(np.isclose(loss, fx.softmax_cross_entropy(h @ W.T, y)))
True
>>> g.hidden.shape, g.linear_weight.shape
((8, 4), (5, 4))
>>> loss, stats = fx.linear_cross_entropy(h, W, y, softcap=2.0, return_stats=True)
>>> stats.argmax
array([3, 2, 1, 2, 3, 2, 4, 0])
""",
    'linear_evaluate': """\
>>> import numpy as np
>>> import fusedxent as fx
>>> rng = np.random.default_rng(0)
>>> h = rng.standard_normal((8, 4))
>>> W = rng.standard_normal((5, 4))
>>> y = np.array([0, 1, 2, 3, 4, 0, 1, -100])
>>> ev = fx.linear_evaluate(h, W, y, topk=(1, 2))
>>> ev.count, bool(np.isclose(ev.loss, fx.evaluate(h @ W.T, y).loss))
(7, True)
""",
    'evaluate': """\
>>> import numpy as np
>>> import fusedxent as fx
>>> x = np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0], [1.0, 3.0, 0.0]])
>>> y = np.array([0, 2, 0])
>>> ev = fx.evaluate(x, y, topk=(1, 2), calibration_bins=4)
>>> ev.count, round(ev.accuracy, 4), {k: round(v, 4) for k, v in ev.topk_accuracy.items()}
(3, 0.6667, {1: 0.6667, 2: 1.0})
>>> round(ev.loss, 6), round(ev.perplexity, 6)
(0.840253, 2.316953)
>>> ev.argmax
array([0, 2, 1])
>>> round(ev.calibration.ece, 6)
0.175194
""",
    'evaluate_binary': """\
>>> import numpy as np
>>> import fusedxent as fx
>>> ev = fx.evaluate_binary(np.array([2.0, -1.0, 0.5, -3.0]), np.array([1, 0, 0, 0]))
>>> ev.count, round(ev.accuracy, 4), round(ev.loss, 6)
(4, 0.75, 0.365714)
""",
    'evaluate_file': """\
>>> import numpy as np
>>> import fusedxent as fx
>>> import os, tempfile
>>> d = tempfile.mkdtemp()
>>> path = os.path.join(d, 'logits.npy')
>>> np.save(path, np.array([[2.0, 0.5], [0.1, 3.0], [1.0, 0.0]], np.float32))
>>> ev = fx.evaluate_file(path, np.array([0, 1, 1]), batch_rows=2, progress=False)
>>> ev.count, round(ev.accuracy, 4), round(ev.loss, 6)
(3, 0.6667, 0.522746)
""",
    'fit_temperature': """\
>>> import numpy as np
>>> import fusedxent as fx
>>> x = np.array([[4.0, 1.0, -2.0], [0.5, 0.0, 6.0], [3.0, 5.0, 0.0], [1.0, -1.0, 2.0]])
>>> y = np.array([0, 2, 0, 2])
>>> r = fx.fit_temperature(x, y)
>>> round(r.temperature, 4), round(r.loss_before, 4), round(r.loss_after, 4)
(1.6013, 0.6348, 0.5691)
>>> round(fx.fit_temperature(np.array([3.0, -2.0, 0.5, -4.0, 2.0]), np.array([1, 0, 0, 0, 1]), binary=True).temperature, 4)
0.7481
""",
    'fit_temperature_file': """\
>>> import numpy as np
>>> import fusedxent as fx
>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), 'logits.npy')
>>> np.save(path, np.array([[4.0, 1.0, -2.0], [0.5, 0.0, 6.0], [3.0, 5.0, 0.0], [1.0, -1.0, 2.0]]))
>>> r = fx.fit_temperature_file(path, np.array([0, 2, 0, 2]), batch_rows=3, progress=False)
>>> round(r.temperature, 4), r.iterations
(1.6013, 3)
""",
    'distillation_loss': """\
>>> import numpy as np
>>> import fusedxent as fx
>>> s = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.0]])
>>> t = np.array([[2.2, 0.9, 0.0], [0.4, 2.0, 0.3]])
>>> round(fx.distillation_loss(s, t, temperature=2.0), 8)
0.03135044
>>> fx.distillation_loss(s, s)
0.0
>>> fx.distillation_loss(s, t, divergence="jsd", reduction="none").round(6)
array([0.002393, 0.00808 ])
>>> loss, grad = fx.distillation_loss(s, t, target=np.array([0, 1]), hard_weight=0.5, return_grad=True)
>>> round(loss, 6), grad.round(4)[0]
(0.17575, array([-0.1172,  0.0833,  0.0339]))
""",
    'linear_distillation_loss': """\
>>> import numpy as np
>>> import fusedxent as fx
>>> rng = np.random.default_rng(0)
>>> h, W = rng.standard_normal((8, 4)), rng.standard_normal((5, 4))
>>> t = rng.standard_normal((8, 5))
>>> round(fx.linear_distillation_loss(h, W, t, temperature=2.0), 8)
1.23581063
>>> loss, g = fx.linear_distillation_loss(h, W, t, return_grad=True, chunk_size=3)
>>> g.hidden.shape, g.linear_weight.shape, g.linear_bias
((8, 4), (5, 4), None)
""",
    'SparseTeacher': """\
>>> import numpy as np
>>> import fusedxent as fx
>>> s = np.array([[2.0, 1.0, 0.1, -1.0], [0.5, 2.5, 0.0, 0.3]])
>>> top = fx.SparseTeacher(np.array([[0, 1], [1, 3]]), np.log(np.array([[0.6, 0.3], [0.7, 0.1]])))
>>> round(fx.distillation_loss(s, top), 8), round(fx.distillation_loss(s, top, tail="renormalize"), 8)
(0.00992104, 0.00669701)
""",
    'Evaluator': """\
>>> import numpy as np
>>> import fusedxent as fx
>>> x = np.array([[2.0, 0.5], [0.1, 3.0], [1.0, 0.0]])
>>> y = np.array([0, 1, 1])
>>> ev = fx.Evaluator(calibration_bins=2)
>>> _ = ev.update(x[:2], y[:2]).update(x[2:], y[2:])
>>> r = ev.result()
>>> r.count, round(r.loss, 6) == round(fx.evaluate(x, y).loss, 6)
(3, True)
""",
    'BinaryEvaluator': """\
>>> import numpy as np
>>> import fusedxent as fx
>>> ev = fx.BinaryEvaluator()
>>> _ = ev.update(np.array([2.0, -1.0]), np.array([1, 0]))
>>> _ = ev.update(np.array([0.5]), np.array([0]))
>>> r = ev.result()
>>> r.count, round(r.accuracy, 4)
(3, 0.6667)
""",
    'check': """\
>>> import numpy as np
>>> import fusedxent as fx
>>> rep = fx.check()
>>> rep.ok
True
""",
    'show_config': """\
>>> import fusedxent as fx
>>> fx.show_config()  # doctest: +ELLIPSIS
       version: ...
           isa: ...

""",
    'set_isa': """\
>>> import numpy as np
>>> import fusedxent as fx
>>> fx.set_isa('baseline')
'baseline'
>>> fx.set_isa('best') in ('baseline', 'avx2', 'avx512', 'neon')
True
""",
}

# the reference's examples are the compiled functions' examples run on the
# twin (same printed results: they round below the two's differences), but
# for linear_cross_entropy, whose reference materializes the logits
REFERENCE_EXAMPLES = {
    name: FX_EXAMPLES[name].replace(">>> import fusedxent as fx", ">>> from fusedxent import reference")
                           .replace("fx.", "reference.")
    for name in ("sigmoid", "log_sigmoid", "softmax", "log_softmax", "logsumexp", "softmax_cross_entropy",
                 "sigmoid_binary_cross_entropy", "cross_entropy", "binary_cross_entropy", "evaluate",
                 "evaluate_binary", "fit_temperature", "distillation_loss")
}
REFERENCE_EXAMPLES.update({
    'linear_cross_entropy': """\
>>> import numpy as np
>>> from fusedxent import reference
>>> rng = np.random.default_rng(0)
>>> h, W = rng.standard_normal((8, 4)), rng.standard_normal((5, 4))
>>> y = np.array([0, 1, 2, 3, 4, 0, 1, -100])
>>> bool(np.isclose(reference.linear_cross_entropy(h, W, y), reference.softmax_cross_entropy(h @ W.T, y)))
True
""",
    'linear_distillation_loss': """\
>>> import numpy as np
>>> from fusedxent import reference
>>> rng = np.random.default_rng(0)
>>> h, W = rng.standard_normal((8, 4)), rng.standard_normal((5, 4))
>>> t = rng.standard_normal((8, 5))
>>> bool(np.isclose(reference.linear_distillation_loss(h, W, t), reference.distillation_loss(h @ W.T, t)))
True
""",
    'linear_evaluate': """\
>>> import numpy as np
>>> from fusedxent import reference
>>> rng = np.random.default_rng(0)
>>> h, W = rng.standard_normal((8, 4)), rng.standard_normal((5, 4))
>>> y = np.array([0, 1, 2, 3, 4, 0, 1, -100])
>>> bool(np.isclose(reference.linear_evaluate(h, W, y).loss, reference.evaluate(h @ W.T, y).loss))
True
""",
})
DASK_EXAMPLES = {
    'open_npy': """\
>>> import numpy as np
>>> import dask.array as da
>>> import fusedxent.dask as fxd
>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), 'logits.npy')
>>> np.save(path, np.zeros((1000, 10), np.float32))
>>> x = fxd.open_npy(path, chunks=(250, 10))
>>> x.chunks[0]
(250, 250, 250, 250)
>>> round(float(fxd.logsumexp(x).mean().compute()), 6)
2.302585
""",
    'sigmoid': """\
>>> import numpy as np
>>> import dask.array as da
>>> import fusedxent.dask as fxd
>>> x = da.from_array(np.array([-2.0, 0.0, 2.0, 4.0]), chunks=2)
>>> fxd.sigmoid(x).compute().round(4)
array([0.1192, 0.5   , 0.8808, 0.982 ])
""",
    'log_sigmoid': """\
>>> import numpy as np
>>> import dask.array as da
>>> import fusedxent.dask as fxd
>>> x = da.from_array(np.array([-2.0, 0.0, 2.0, 4.0]), chunks=2)
>>> fxd.log_sigmoid(x).compute().round(4)
array([-2.1269, -0.6931, -0.1269, -0.0181])
""",
    'softmax': """\
>>> import numpy as np
>>> import dask.array as da
>>> import fusedxent.dask as fxd
>>> x = da.from_array(np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]), chunks=(1, 3))
>>> fxd.softmax(x).compute().round(4)
array([[0.09  , 0.2447, 0.6652],
       [0.3333, 0.3333, 0.3333]])
""",
    'log_softmax': """\
>>> import numpy as np
>>> import dask.array as da
>>> import fusedxent.dask as fxd
>>> x = da.from_array(np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]), chunks=(1, 3))
>>> fxd.log_softmax(x).compute().round(4)
array([[-2.4076, -1.4076, -0.4076],
       [-1.0986, -1.0986, -1.0986]])
""",
    'logsumexp': """\
>>> import numpy as np
>>> import dask.array as da
>>> import fusedxent.dask as fxd
>>> x = da.from_array(np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]), chunks=(1, 3))
>>> fxd.logsumexp(x).compute().round(4)
array([3.4076, 1.0986])
""",
    'softmax_cross_entropy': """\
>>> import numpy as np
>>> import dask.array as da
>>> import fusedxent.dask as fxd
>>> x = da.from_array(np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]]), chunks=(1, 3))
>>> y = da.from_array(np.array([0, 2]), chunks=1)
>>> round(float(fxd.softmax_cross_entropy(x, y).compute()), 6)
0.175456
""",
    'sigmoid_binary_cross_entropy': """\
>>> import numpy as np
>>> import dask.array as da
>>> import fusedxent.dask as fxd
>>> x = da.from_array(np.array([3.0, -1.0, 0.5, 0.0]), chunks=2)
>>> t = da.from_array(np.array([1.0, 0.0, 1.0, 1.0]), chunks=2)
>>> round(float(fxd.sigmoid_binary_cross_entropy(x, t).compute()), 6)
0.382268
""",
    'evaluate': """\
>>> import numpy as np
>>> import dask.array as da
>>> import fusedxent.dask as fxd
>>> x = da.from_array(np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0], [1.0, 3.0, 0.0]]), chunks=(2, 3))
>>> y = da.from_array(np.array([0, 2, 0]), chunks=2)
>>> ev = fxd.evaluate(x, y)
>>> int(ev.count.compute()), round(float(ev.accuracy.compute()), 4)
(3, 0.6667)
""",
    'evaluate_binary': """\
>>> import numpy as np
>>> import dask.array as da
>>> import fusedxent.dask as fxd
>>> x = da.from_array(np.array([2.0, -1.0, 0.5, -3.0]), chunks=2)
>>> t = da.from_array(np.array([1, 0, 0, 0]), chunks=2)
>>> ev = fxd.evaluate_binary(x, t)
>>> round(float(ev.accuracy.compute()), 4)
0.75
""",
    'linear_cross_entropy': """\
>>> import numpy as np
>>> import dask.array as da
>>> import fusedxent.dask as fxd
>>> rng = np.random.default_rng(0)
>>> h = da.from_array(rng.standard_normal((8, 4)), chunks=(4, 4))
>>> W = rng.standard_normal((5, 4))
>>> y = da.from_array(np.array([0, 1, 2, 3, 4, 0, 1, 2]), chunks=4)
>>> import fusedxent as fx
>>> bool(np.isclose(fxd.linear_cross_entropy(h, W, y).compute(), fx.linear_cross_entropy(h.compute(), W, y.compute())))
True
""",
    'fit_temperature': """\
>>> import numpy as np
>>> import dask.array as da
>>> import fusedxent.dask as fxd
>>> x = da.from_array(np.array([[4.0, 1.0, -2.0], [0.5, 0.0, 6.0], [3.0, 5.0, 0.0], [1.0, -1.0, 2.0]]), chunks=(2, 3))
>>> round(fxd.fit_temperature(x, np.array([0, 2, 0, 2])).temperature, 4)
1.6013
""",
    'linear_distillation_loss': """\
>>> import numpy as np
>>> import dask.array as da
>>> import fusedxent.dask as fxd
>>> rng = np.random.default_rng(0)
>>> h, W = rng.standard_normal((8, 4)), rng.standard_normal((5, 4))
>>> t = rng.standard_normal((8, 5))
>>> round(float(fxd.linear_distillation_loss(da.from_array(h, chunks=(3, 4)), W, t, temperature=2.0).compute()), 8)
1.23581063
""",
    'distillation_loss': """\
>>> import numpy as np
>>> import dask.array as da
>>> import fusedxent.dask as fxd
>>> s = da.from_array(np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.0]]), chunks=(1, 3))
>>> t = da.from_array(np.array([[2.2, 0.9, 0.0], [0.4, 2.0, 0.3]]), chunks=(1, 3))
>>> round(float(fxd.distillation_loss(s, t, temperature=2.0).compute()), 8)
0.03135044
""",
    'linear_evaluate': """\
>>> import numpy as np
>>> import dask
>>> import dask.array as da
>>> import fusedxent.dask as fxd
>>> rng = np.random.default_rng(0)
>>> h = da.from_array(rng.standard_normal((8, 4)), chunks=(4, 4))
>>> W = rng.standard_normal((5, 4))
>>> y = da.from_array(np.array([0, 1, 2, 3, 4, 0, 1, 2]), chunks=4)
>>> (ev,) = dask.compute(fxd.linear_evaluate(h, W, y, topk=(1, 3)))
>>> import fusedxent as fx
>>> bool(np.isclose(ev.loss, fx.linear_evaluate(h.compute(), W, y.compute()).loss))
True
>>> int(ev.count), sorted(ev.topk_accuracy)
(8, [1, 3])
""",
}



def _indent(doc: "str | None") -> int:
    """The indentation of a docstring's body (what inspect.cleandoc strips)."""
    lines = [ln for ln in (doc or "").expandtabs().splitlines()[1:] if ln.strip()]
    return min((len(ln) - len(ln.lstrip()) for ln in lines), default=4)


def _section(title: str, body: str, pad: str) -> str:
    return textwrap.indent(f"{title}\n{'-' * len(title)}\n{body.strip()}\n", pad)


def complete(namespace: "dict[str, Any]", examples: "dict[str, str]", names: "Any" = None) -> None:
    """Append the Raises section (by KIND) and the example of each public
    function or class in `namespace` that has one in `examples`."""
    for name, example in examples.items():
        if names is not None and name not in names:
            continue
        obj = namespace[name]
        doc = obj.__doc__ or ""
        pad = " " * _indent(doc)
        add = []
        if name in KIND and "Raises\n" not in doc:
            add.append(_section("Raises", RAISES[KIND[name]], pad))
        if "Examples\n" not in doc:
            add.append(_section("Examples", example, pad))
        if add:
            obj.__doc__ = doc.rstrip() + "\n\n" + "\n".join(add) + pad


def twin(func: Any, summary: str) -> None:
    """The docstring of a reference twin: its summary, then Parameters and
    Returns pointing at the compiled function of the same name."""
    name = func.__name__
    params = "\n".join(f"{p}\n    As in `fusedxent.{name}`." for p in inspect.signature(func).parameters)
    func.__doc__ = (f"{summary}\n\n"
                    f"The float64 NumPy twin of `fusedxent.{name}`: the same parameters,\n"
                    f"semantics and errors, computed for clarity rather than speed, never\n"
                    f"through the kernels.\n\n"
                    f"Parameters\n----------\n{params}\n\n"
                    f"Returns\n-------\nresult\n    As `fusedxent.{name}` returns it (arrays in the input's float dtype).\n")
