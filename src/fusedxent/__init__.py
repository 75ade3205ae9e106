"""fusedxent: fused, compiled sigmoid / softmax / cross-entropy kernels for NumPy.

Every function has a pure-NumPy twin in `fusedxent.reference` with the same
signature; `fusedxent.check()` compares the two on generated data.
"""
import os as _os

from . import _kernels
from ._api import (
    BinaryEvaluator,
    Evaluator,
    binary_cross_entropy,
    cross_entropy,
    evaluate,
    evaluate_binary,
    evaluate_file,
    log_sigmoid,
    log_softmax,
    logsumexp,
    sigmoid,
    sigmoid_binary_cross_entropy,
    softmax,
    softmax_cross_entropy,
)
from ._results import (ROC, BinaryEvaluation, Calibration, Classwise, Evaluation, LinearGrads, OneVsRest, PerClass,
                       RowStats, TemperatureFit)
from ._linear import linear_cross_entropy, linear_distillation_loss, linear_evaluate
from ._temperature import fit_temperature, fit_temperature_file
from ._distill import distillation_loss
from ._teacher import SparseTeacher
from ._check import check
from ._config import show_config, set_isa

__version__ = "0.1.0"

__all__ = [
    "sigmoid", "log_sigmoid", "softmax", "log_softmax", "logsumexp",
    "softmax_cross_entropy", "sigmoid_binary_cross_entropy",
    "cross_entropy", "binary_cross_entropy", "linear_cross_entropy", "LinearGrads", "RowStats",
    "linear_evaluate", "evaluate", "Evaluation", "Evaluator", "evaluate_file",
    "evaluate_binary", "BinaryEvaluation", "BinaryEvaluator", "Calibration", "PerClass",
    "fit_temperature", "fit_temperature_file", "TemperatureFit", "ROC", "OneVsRest", "Classwise",
    "distillation_loss", "SparseTeacher", "linear_distillation_loss",
    "check", "show_config", "set_isa", "__version__",
]

from . import _docs

_docs.complete(globals(), _docs.FX_EXAMPLES)     # the Raises and Examples sections

set_isa(_os.environ.get("FUSEDXENT_ISA", "best") or "best")
