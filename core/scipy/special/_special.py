"""Special functions (more arrive with the numpy/lax breadth issue)."""

from __future__ import annotations

from ... import numpy as dnp
from ...lax import _elementwise as E
from ...nn._activations import logsumexp as _logsumexp
from ...nn._activations import softmax as _softmax
from ...numpy._util import promote_inexact


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False, where=None):
    """log(sum(b * exp(a))) along ``axis`` (see ``derivax.nn.logsumexp``).

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax.scipy.special import logsumexp
        >>> logsumexp(dnp.array([0.0, 0.0]))
        Array(0.6931472, dtype=float32)
    """
    return _logsumexp(a, axis, b, keepdims, return_sign, where)


def softmax(x, axis=None):
    """SciPy's softmax (over all axes by default).

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax.scipy.special import softmax
        >>> softmax(dnp.array([0.0, 0.0]))
        Array([0.5, 0.5], dtype=float32)
    """
    return _softmax(x, axis=axis)


def erf(x):
    """The error function.

    Example:
        >>> from derivax.scipy.special import erf
        >>> erf(0.0)
        Array(0., dtype=float32, weak_type=True)
    """
    (x,) = promote_inexact("erf", x)
    return E.erf(x)


def expit(x):
    """The logistic sigmoid 1 / (1 + exp(-x)).

    Example:
        >>> from derivax.scipy.special import expit
        >>> expit(0.0)
        Array(0.5, dtype=float32, weak_type=True)
    """
    (x,) = promote_inexact("expit", x)
    return E.logistic(x)


def logit(x):
    """log(x / (1 - x)).

    Example:
        >>> from derivax.scipy.special import logit
        >>> logit(0.5)
        Array(0., dtype=float32, weak_type=True)
    """
    (x,) = promote_inexact("logit", x)
    return dnp.log(x / (1 - x))
