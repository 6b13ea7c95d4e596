"""``derivax.scipy.special``: special functions."""

from ._special import betaln as betaln
from ._special import digamma as digamma
from ._special import entr as entr
from ._special import erf as erf
from ._special import erfc as erfc
from ._special import erfinv as erfinv
from ._special import expit as expit
from ._special import gamma as gamma
from ._special import gammaln as gammaln
from ._special import kl_div as kl_div
from ._special import log_ndtr as log_ndtr
from ._special import log_softmax as log_softmax
from ._special import logit as logit
from ._special import logsumexp as logsumexp
from ._special import ndtr as ndtr
from ._special import ndtri as ndtri
from ._special import polygamma as polygamma
from ._special import psi as psi
from ._special import rel_entr as rel_entr
from ._special import softmax as softmax
from ._special import xlog1py as xlog1py
from ._special import xlogy as xlogy
from ._special import zeta as zeta

__all__ = [
    "betaln",
    "digamma",
    "entr",
    "erf",
    "erfc",
    "erfinv",
    "expit",
    "gamma",
    "gammaln",
    "kl_div",
    "log_ndtr",
    "log_softmax",
    "logit",
    "logsumexp",
    "ndtr",
    "ndtri",
    "polygamma",
    "psi",
    "rel_entr",
    "softmax",
    "xlog1py",
    "xlogy",
    "zeta",
]
