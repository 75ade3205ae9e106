# The reference mirrors the public API function for function, with the same
# signatures: its stub re-exports those of fusedxent._api for typing only
# (at run time reference.py is pure NumPy and never imports the kernels).
from ._api import (
    binary_cross_entropy as binary_cross_entropy,
    cross_entropy as cross_entropy,
    evaluate as evaluate,
    evaluate_binary as evaluate_binary,
    log_sigmoid as log_sigmoid,
    log_softmax as log_softmax,
    logsumexp as logsumexp,
    sigmoid as sigmoid,
    sigmoid_binary_cross_entropy as sigmoid_binary_cross_entropy,
    softmax as softmax,
    softmax_cross_entropy as softmax_cross_entropy,
)
from ._linear import linear_cross_entropy as linear_cross_entropy
from ._temperature import fit_temperature as fit_temperature
from ._distill import distillation_loss as distillation_loss
from ._linear import linear_evaluate as linear_evaluate
from ._linear import linear_distillation_loss as linear_distillation_loss
from ._results import BinaryEvaluation as BinaryEvaluation
from ._results import LinearGrads as LinearGrads
from ._results import RowStats as RowStats
from ._results import TemperatureFit as TemperatureFit
from ._results import Calibration as Calibration
from ._results import Evaluation as Evaluation
from ._results import PerClass as PerClass
