"""Activation functions and softmax helpers, numerically stable."""

from __future__ import annotations

import math

from .. import _dtypes
from .. import numpy as dnp
from .._api import stop_gradient
from .._custom import custom_jvp
from ..lax import _elementwise as E
from ..numpy._util import asarray_any, promote_inexact


def relu(x):
    """max(x, 0), with derivative 0 at x = 0.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.nn.relu(dnp.array([-1.0, 2.0]))
        Array([0., 2.], dtype=float32)
    """
    (x,) = promote_inexact("relu", x)
    return dnp.where(x > 0, x, dnp.zeros_like(x))


def sigmoid(x):
    """The logistic function 1 / (1 + exp(-x)), stable for large |x|.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.nn.sigmoid(0.0)
        Array(0.5, dtype=float32, weak_type=True)
    """
    (x,) = promote_inexact("sigmoid", x)
    return E.logistic(x)


def log_sigmoid(x):
    """log(sigmoid(x)) = -softplus(-x), stable.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.nn.log_sigmoid(-200.0)
        Array(-200., dtype=float32, weak_type=True)
    """
    return -softplus(-asarray_any(x))


def softplus(x):
    """log(1 + exp(x)), stable for large |x|.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.nn.softplus(dnp.array([0.0, 100.0]))
        Array([  0.6931472, 100.       ], dtype=float32)
    """
    (x,) = promote_inexact("softplus", x)
    return dnp.maximum(x, 0.0) + dnp.log1p(dnp.exp(-dnp.abs(x)))


def silu(x):
    """x * sigmoid(x) (also called swish).

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.nn.silu(0.0)
        Array(0., dtype=float32, weak_type=True)
    """
    (x,) = promote_inexact("silu", x)
    return x * E.logistic(x)


swish = silu


def gelu(x, approximate=True):
    """Gaussian error linear unit: the tanh approximation, or exact with ``approximate=False``.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.nn.gelu(dnp.array([0.0, 1.0]))
        Array([0.      , 0.841192], dtype=float32)
    """
    (x,) = promote_inexact("gelu", x)
    if approximate:
        c = math.sqrt(2 / math.pi)
        return 0.5 * x * (1.0 + dnp.tanh(c * (x + 0.044715 * (x * x * x))))
    return 0.5 * x * (1.0 + E.erf(x * (1 / math.sqrt(2))))


def leaky_relu(x, negative_slope=0.01):
    """x where x >= 0, else negative_slope * x.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.nn.leaky_relu(dnp.array([-1.0, 1.0]))
        Array([-0.01,  1.  ], dtype=float32)
    """
    (x,) = promote_inexact("leaky_relu", x)
    return dnp.where(x >= 0, x, negative_slope * x)


def elu(x, alpha=1.0):
    """x where x > 0, else alpha * (exp(x) - 1).

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.nn.elu(dnp.array([-1.0, 1.0]))
        Array([-0.63212055,  1.        ], dtype=float32)
    """
    (x,) = promote_inexact("elu", x)
    safe = dnp.where(x > 0, dnp.zeros_like(x), x)
    return dnp.where(x > 0, x, alpha * dnp.expm1(safe))


def tanh(x):
    """Hyperbolic tangent.

    Example:
        >>> import derivax
        >>> derivax.nn.tanh(0.0)
        Array(0., dtype=float32, weak_type=True)
    """
    return dnp.tanh(x)


def _reduce_axis(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    return (axis,) if isinstance(axis, int) else tuple(axis)


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False, where=None):
    """log(sum(b * exp(a))) over ``axis``, without overflow (and -inf for all -inf rows).

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.nn.logsumexp(dnp.array([1000.0, 1000.0]))
        Array(1000.6932, dtype=float32)
    """
    (a,) = promote_inexact("logsumexp", a)
    axes = _reduce_axis(axis, a.ndim)
    if where is not None:
        a = dnp.where(where, a, -dnp.inf)
    amax = dnp.max(a, axis=axes, keepdims=True, initial=-dnp.inf) if a.size == 0 else dnp.max(
        a, axis=axes, keepdims=True
    )
    amax = stop_gradient(dnp.where(dnp.isfinite(amax), amax, dnp.zeros_like(amax)))
    e = dnp.exp(a - amax)
    if b is not None:
        e = e * b
    s = dnp.sum(e, axis=axes, keepdims=True)
    sign = dnp.sign(s) if return_sign else None
    out = dnp.log(dnp.abs(s) if return_sign else s) + amax
    if not keepdims:
        out = dnp.squeeze(out, axes)
        if sign is not None:
            sign = dnp.squeeze(sign, axes)
    return (out, sign) if return_sign else out


def log_softmax(x, axis=-1, where=None):
    """x - logsumexp(x) along ``axis``, stable for large values.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.nn.log_softmax(dnp.array([0.0, 0.0]))
        Array([-0.6931472, -0.6931472], dtype=float32)
    """
    (x,) = promote_inexact("log_softmax", x)
    shifted = x - stop_gradient(dnp.max(x, axis=axis, keepdims=True))
    if where is not None:
        shifted = dnp.where(where, shifted, -dnp.inf)
    return shifted - dnp.log(dnp.sum(dnp.exp(shifted), axis=axis, keepdims=True))


def softmax(x, axis=-1, where=None):
    """exp(x) / sum(exp(x)) along ``axis``, stable for large values.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.nn.softmax(dnp.array([0.0, 0.0]))
        Array([0.5, 0.5], dtype=float32)
    """
    (x,) = promote_inexact("softmax", x)
    shifted = x - stop_gradient(dnp.max(x, axis=axis, keepdims=True))
    if where is not None:
        shifted = dnp.where(where, shifted, -dnp.inf)
    e = dnp.exp(shifted)
    return e / dnp.sum(e, axis=axis, keepdims=True)


def one_hot(x, num_classes, *, dtype=None, axis=-1):
    """One-hot encoding of integer ``x`` with ``num_classes`` classes (out of range: all 0).

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.nn.one_hot(dnp.array([0, 2]), 3)
        Array([[1., 0., 0.],
               [0., 0., 1.]], dtype=float32)
    """
    x = asarray_any(x)
    dtype = _dtypes.default_float_dtype() if dtype is None else _dtypes.canonicalize_dtype(dtype)
    classes = dnp.arange(int(num_classes))
    expanded = dnp.expand_dims(x, axis if axis < 0 else axis)
    shape = [1] * (x.ndim + 1)
    ax = axis % (x.ndim + 1)
    shape[ax] = int(num_classes)
    return (expanded == classes.reshape(shape)).astype(dtype)


def standardize(x, axis=-1, mean=None, variance=None, epsilon=1e-5, where=None):
    """(x - mean) / sqrt(variance + epsilon) along ``axis``.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.nn.standardize(dnp.array([1.0, 3.0]))
        Array([-0.999995,  0.999995], dtype=float32)
    """
    (x,) = promote_inexact("standardize", x)
    if mean is None:
        mean = dnp.mean(x, axis=axis, keepdims=True)
    if variance is None:
        variance = dnp.mean(dnp.square(x - mean), axis=axis, keepdims=True)
    return (x - mean) / dnp.sqrt(variance + epsilon)


del custom_jvp
