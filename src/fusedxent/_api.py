"""The public functions, one module per family, gathered here.

  _layout      the reduction blocks, thread counts, the logits' 2-D row view
  _normalize   sigmoid, log_sigmoid, softmax, log_softmax, logsumexp
  _xent        softmax_cross_entropy and its block pass (softmax_xent_parts)
  _binary      sigmoid_binary_cross_entropy (bce_parts), cross_entropy,
               binary_cross_entropy
  _evaluation  evaluate / Evaluator, evaluate_binary / BinaryEvaluator and
               their block passes
  _files       evaluate_file
  _temperature fit_temperature, fit_temperature_file (temperature scaling)
  _options     the options of a family as one validated value
               (xent_options, LogitTransform)

Each public function validates, lays out, calls one kernel pass and shapes
the result; the block-level passes (`softmax_xent_parts`, `bce_parts`,
`evaluate_parts`, `finish_loss`, `xent_denominator`) are what the public
functions are made of, and fusedxent.dask and the linear head call the
same ones per block.
"""
from ._binary import (BCEParts, bce_parts, binary_cross_entropy, cross_entropy,  # noqa: F401
                      sigmoid_binary_cross_entropy)
from ._evaluation import (BinaryEvaluator, BinaryParts, EvalParts, Evaluator, binary_evaluation_from_parts,  # noqa: F401
                          check_classwise_bins, check_ovr_bins, classwise_from_sums, evaluate, evaluate_binary,
                          evaluate_binary_parts, evaluate_parts, evaluation_from_parts)
from ._files import evaluate_file  # noqa: F401
from ._layout import BLOCK_ELEMS, SERIAL_BELOW, _FAST_DTYPES, _INT64  # noqa: F401
from ._normalize import log_sigmoid, log_softmax, logsumexp, sigmoid, softmax  # noqa: F401
from ._temperature import fit_temperature, fit_temperature_file  # noqa: F401
from ._distill import distillation_loss  # noqa: F401
from ._options import IDENTITY, LogitTransform, XentOptions, xent_options  # noqa: F401
from ._xent import XentParts, finish_loss, softmax_cross_entropy, softmax_xent_parts, xent_denominator  # noqa: F401
