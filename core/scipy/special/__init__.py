"""``derivax.scipy.special``: special functions."""

from ._special import erf as erf
from ._special import expit as expit
from ._special import logit as logit
from ._special import logsumexp as logsumexp
from ._special import softmax as softmax

__all__ = ["erf", "expit", "logit", "logsumexp", "softmax"]
