"""Activation functions and softmax helpers, numerically stable.

Every function is a composition of ``derivax.numpy``/``lax`` operations, so it runs eagerly
and under every transformation. Where the naive derivative is unstable or undefined, a
``custom_jvp`` gives the intended one: ``relu`` and ``relu6`` have derivative 0 at their
kinks (as JAX), ``softplus`` differentiates to ``sigmoid`` (no ``inf / inf`` for large
inputs), and ``softmax`` uses the closed form ``y * (t - sum(y * t))``.
"""

from __future__ import annotations

import math

from .. import _dtypes
from .. import numpy as dnp
from .._api import stop_gradient
from .._custom import custom_jvp
from ..lax import _elementwise as E
from ..lax import _structural as S
from ..numpy._util import asarray_any, promote_inexact

__all__ = [
    "celu",
    "elu",
    "gelu",
    "glu",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "hard_tanh",
    "leaky_relu",
    "log_sigmoid",
    "log_softmax",
    "logsumexp",
    "mish",
    "one_hot",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "soft_sign",
    "softmax",
    "softplus",
    "standardize",
    "swish",
    "tanh",
]


def _float(name, x):
    (x,) = promote_inexact(name, x)
    return x


# --------------------------------------------------------------------------- rectifiers


@custom_jvp
def _relu(x):
    return dnp.maximum(x, dnp.zeros_like(x))


@_relu.defjvp
def _relu_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return _relu(x), dnp.where(x > 0, t, dnp.zeros_like(t))


def relu(x):
    """Rectified linear unit ``max(x, 0)``; its derivative at 0 is 0.

    Args:
        x: an array (integers are converted to the default float dtype).

    Returns:
        ``max(x, 0)`` elementwise.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.nn.relu(dnp.array([-1.0, 0.0, 2.0]))
        Array([0., 0., 2.], dtype=float32)
        >>> derivax.grad(derivax.nn.relu)(0.0)
        Array(0., dtype=float32)
    """
    return _relu(_float("relu", x))


@custom_jvp
def _relu6(x):
    return dnp.minimum(dnp.maximum(x, 0.0), 6.0)


@_relu6.defjvp
def _relu6_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return _relu6(x), dnp.where((x > 0) & (x < 6), t, dnp.zeros_like(t))


def relu6(x):
    """``min(max(x, 0), 6)``; its derivative is 0 at 0 and at 6.

    Args:
        x: an array.

    Returns:
        The clipped values.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.nn.relu6(dnp.array([-1.0, 3.0, 8.0]))
        Array([0., 3., 6.], dtype=float32)
    """
    return _relu6(_float("relu6", x))


def leaky_relu(x, negative_slope=0.01):
    """``x`` where ``x >= 0``, else ``negative_slope * x``.

    Args:
        x: an array.
        negative_slope: the slope for negative inputs.

    Returns:
        The activations.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.nn.leaky_relu(dnp.array([-1.0, 1.0]))
        Array([-0.01,  1.  ], dtype=float32)
    """
    x = _float("leaky_relu", x)
    return dnp.where(x >= 0, x, negative_slope * x)


def elu(x, alpha=1.0):
    """Exponential linear unit: ``x`` where ``x > 0``, else ``alpha * (exp(x) - 1)``.

    Args:
        x: an array.
        alpha: the negative saturation value's magnitude.

    Returns:
        The activations (no overflow for large positive ``x``, also in the gradient).

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.nn.elu(dnp.array([-1.0, 1.0]))
        Array([-0.63212055,  1.        ], dtype=float32)
    """
    x = _float("elu", x)
    safe = dnp.where(x > 0, dnp.zeros_like(x), x)
    return dnp.where(x > 0, x, alpha * dnp.expm1(safe))


def celu(x, alpha=1.0):
    """Continuously differentiable ELU: ``max(x, 0) + alpha * expm1(min(x, 0) / alpha)``.

    Args:
        x: an array.
        alpha: the scale of the negative part.

    Returns:
        The activations.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.nn.celu(dnp.array([-1.0, 1.0]), alpha=2.0)
        Array([-0.78693867,  1.        ], dtype=float32)
    """
    x = _float("celu", x)
    return dnp.maximum(x, 0.0) + alpha * dnp.expm1(dnp.minimum(x, 0.0) / alpha)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(x):
    """Scaled ELU: ``scale * elu(x, alpha)`` with the self-normalising constants
    ``alpha ~ 1.6733`` and ``scale ~ 1.0507``.

    Args:
        x: an array.

    Returns:
        The activations.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.nn.selu(dnp.array([-1.0, 1.0]))
        Array([-1.1113307,  1.050701 ], dtype=float32)
    """
    return _SELU_SCALE * elu(x, _SELU_ALPHA)


# --------------------------------------------------------------------------- sigmoids


def sigmoid(x):
    """The logistic function ``1 / (1 + exp(-x))``, stable for large ``|x|``.

    Args:
        x: an array.

    Returns:
        Values in ``[0, 1]``.

    Example:
        >>> import derivax
        >>> derivax.nn.sigmoid(0.0)
        Array(0.5, dtype=float32, weak_type=True)
    """
    return E.logistic(_float("sigmoid", x))


@custom_jvp
def _softplus(x):
    return dnp.maximum(x, 0.0) + dnp.log1p(dnp.exp(-dnp.abs(x)))


@_softplus.defjvp
def _softplus_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return _softplus(x), t * E.logistic(x)


def softplus(x):
    """``log(1 + exp(x))``, stable for large ``|x|``; its derivative is ``sigmoid(x)``.

    Args:
        x: an array.

    Returns:
        Positive values (``x`` itself for large ``x``, ``exp(x)`` for very negative ``x``).

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.nn.softplus(dnp.array([0.0, 1000.0]))
        Array([6.931472e-01, 1.000000e+03], dtype=float32)
    """
    return _softplus(_float("softplus", x))


def log_sigmoid(x):
    """``log(sigmoid(x)) = -softplus(-x)``, finite for every finite ``x``.

    Args:
        x: an array.

    Returns:
        Non-positive values.

    Example:
        >>> import derivax
        >>> derivax.nn.log_sigmoid(-1000.0)
        Array(-1000., dtype=float32, weak_type=True)
    """
    x = _float("log_sigmoid", x)
    return -softplus(-x)


def silu(x):
    """Sigmoid linear unit ``x * sigmoid(x)`` (also called swish).

    Args:
        x: an array.

    Returns:
        The activations.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.nn.silu(dnp.array([0.0, 1.0]))
        Array([0.       , 0.7310586], dtype=float32)
    """
    x = _float("silu", x)
    return x * E.logistic(x)


swish = silu


def hard_tanh(x):
    """``x`` clipped to ``[-1, 1]``.

    Args:
        x: an array.

    Returns:
        The clipped values.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.nn.hard_tanh(dnp.array([-2.0, 0.5, 2.0]))
        Array([-1. ,  0.5,  1. ], dtype=float32)
    """
    x = _float("hard_tanh", x)
    one = dnp.ones_like(x)
    return dnp.where(x > 1, one, dnp.where(x < -1, -one, x))


def hard_sigmoid(x):
    """Piecewise-linear sigmoid ``relu6(x + 3) / 6``.

    Args:
        x: an array.

    Returns:
        Values in ``[0, 1]``.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.nn.hard_sigmoid(dnp.array([-4.0, 0.0, 4.0]))
        Array([0. , 0.5, 1. ], dtype=float32)
    """
    x = _float("hard_sigmoid", x)
    return relu6(x + 3.0) / 6.0


def hard_swish(x):
    """``x * hard_sigmoid(x)`` (also called hard SiLU).

    Args:
        x: an array.

    Returns:
        The activations.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.nn.hard_swish(dnp.array([-4.0, 1.0, 4.0]))
        Array([-0.       ,  0.6666667,  4.       ], dtype=float32)
    """
    x = _float("hard_swish", x)
    return x * hard_sigmoid(x)


hard_silu = hard_swish


def soft_sign(x):
    """``x / (|x| + 1)``.

    Args:
        x: an array.

    Returns:
        Values in ``(-1, 1)``.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.nn.soft_sign(dnp.array([-1.0, 3.0]))
        Array([-0.5 ,  0.75], dtype=float32)
    """
    x = _float("soft_sign", x)
    return x / (dnp.abs(x) + 1.0)


def tanh(x):
    """Hyperbolic tangent.

    Args:
        x: an array.

    Returns:
        Values in ``[-1, 1]``.

    Example:
        >>> import derivax
        >>> derivax.nn.tanh(0.0)
        Array(0., dtype=float32, weak_type=True)
    """
    return dnp.tanh(x)


def mish(x):
    """``x * tanh(softplus(x))``.

    Args:
        x: an array.

    Returns:
        The activations.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.nn.mish(dnp.array([0.0, 1.0]))
        Array([0.       , 0.8650984], dtype=float32)
    """
    x = _float("mish", x)
    return x * dnp.tanh(softplus(x))


def gelu(x, approximate=True):
    """Gaussian error linear unit ``x * Phi(x)``.

    Args:
        x: an array.
        approximate: use the tanh approximation
            ``0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3)))`` (the default, as
            JAX); ``False`` uses the exact form with ``erf``.

    Returns:
        The activations.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.nn.gelu(dnp.array([0.0, 1.0]))
        Array([0.      , 0.841192], dtype=float32)
        >>> derivax.nn.gelu(dnp.array([0.0, 1.0]), approximate=False)
        Array([0.       , 0.8413447], dtype=float32)
    """
    x = _float("gelu", x)
    if approximate:
        c = math.sqrt(2 / math.pi)
        return x * (0.5 * (1.0 + dnp.tanh(c * (x + 0.044715 * (x * x * x)))))
    return x * (E.erf(x * (1 / math.sqrt(2))) + 1.0) / 2.0


def glu(x, axis=-1):
    """Gated linear unit: split ``x`` in two halves ``a, b`` along ``axis``; ``a * sigmoid(b)``.

    Args:
        x: an array whose size along ``axis`` is even.
        axis: the axis to split.

    Returns:
        An array with half the size along ``axis``.

    Raises:
        ValueError: when the size along ``axis`` is odd.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.nn.glu(dnp.array([1.0, 2.0, 0.0, 100.0]))
        Array([0.5, 2. ], dtype=float32)
    """
    x = _float("glu", x)
    ax = axis % x.ndim if x.ndim else 0
    n = x.shape[ax] if x.ndim else 0
    if x.ndim == 0 or n % 2:
        raise ValueError(
            f"glu: the size along axis {axis} must be even to split it in two halves, got "
            f"shape {x.shape}."
        )
    a = S.slice_in_dim(x, 0, n // 2, 1, ax)
    b = S.slice_in_dim(x, n // 2, n, 1, ax)
    return a * E.logistic(b)


# --------------------------------------------------------------------------- softmax family


def _axes(axis, ndim, fname):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < max(ndim, 1):
            raise ValueError(f"{fname}: axis {a} is out of range for an array of rank {ndim}.")
        out.append(a % ndim if ndim else 0)
    return tuple(out)


def _safe_max(x, axes, where):
    """The stop-gradient max over ``axes`` (0 where a reduction has no finite values)."""
    if where is not None:
        x = dnp.where(where, x, -dnp.inf)
    if x.size == 0:
        m = dnp.zeros(tuple(1 if i in axes else s for i, s in enumerate(x.shape)), x.dtype)
    else:
        m = dnp.max(x, axis=axes, keepdims=True)
    return stop_gradient(dnp.where(dnp.isfinite(m), m, dnp.zeros_like(m)))


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False, where=None):
    """``log(sum(b * exp(a)))`` over ``axis`` without overflow.

    Args:
        a: an array.
        axis: an int, a tuple of ints, or None (all axes).
        b: optional weights broadcast against ``a`` (may be negative with ``return_sign``).
        keepdims: keep the reduced axes with size 1.
        return_sign: also return the sign of the sum (then the log of its absolute value).
        where: optional boolean mask of the elements to include.

    Returns:
        The log-sum-exp (``-inf`` when every included term is zero), and its sign with
        ``return_sign``.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.nn.logsumexp(dnp.array([1000.0, 1000.0]))
        Array(1000.6932, dtype=float32)
    """
    a = _float("logsumexp", a)
    axes = _axes(axis, a.ndim, "logsumexp")
    amax = _safe_max(a, axes, where)
    e = dnp.exp(a - amax)
    if b is not None:
        e = e * b
    if where is not None:
        e = dnp.where(where, e, dnp.zeros_like(e))
    s = dnp.sum(e, axis=axes, keepdims=True)
    sign = dnp.sign(s) if return_sign else None
    out = dnp.log(dnp.abs(s) if return_sign else s) + amax
    if not keepdims:
        out = dnp.squeeze(out, axes)
        if sign is not None:
            sign = dnp.squeeze(sign, axes)
    return (out, sign) if return_sign else out


def _make_softmax(axes):
    @custom_jvp
    def _softmax(x):
        unnormalized = dnp.exp(x - _safe_max(x, axes, None))
        return unnormalized / dnp.sum(unnormalized, axis=axes, keepdims=True)

    @_softmax.defjvp
    def _softmax_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        y = _softmax(x)
        return y, y * (t - dnp.sum(y * t, axis=axes, keepdims=True))

    return _softmax


_SOFTMAX_CACHE: dict = {}


def softmax(x, axis=-1, where=None):
    """``exp(x) / sum(exp(x))`` along ``axis``, stable for large values.

    Args:
        x: an array.
        axis: an int or a tuple of ints.
        where: optional boolean mask; masked-out elements get probability 0 (a row with
            no element included is all zeros, with zero gradient).

    Returns:
        Probabilities summing to 1 along ``axis``.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.nn.softmax(dnp.array([1000.0, 0.0]))
        Array([1., 0.], dtype=float32)
    """
    x = _float("softmax", x)
    axes = _axes(axis, x.ndim, "softmax")
    if where is None:
        fn = _SOFTMAX_CACHE.get(axes)
        if fn is None:
            fn = _SOFTMAX_CACHE[axes] = _make_softmax(axes)
        return fn(x)
    shifted = dnp.where(where, x - _safe_max(x, axes, where), -dnp.inf)
    unnormalized = dnp.exp(shifted)
    total = dnp.sum(unnormalized, axis=axes, keepdims=True)
    total = dnp.where(total > 0, total, dnp.ones_like(total))
    return dnp.where(where, unnormalized / total, dnp.zeros_like(x))


def log_softmax(x, axis=-1, where=None):
    """``x - logsumexp(x)`` along ``axis``, stable for large values.

    Args:
        x: an array.
        axis: an int or a tuple of ints.
        where: optional boolean mask; masked-out elements get ``-inf``.

    Returns:
        Log-probabilities along ``axis``.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.nn.log_softmax(dnp.array([1000.0, 0.0]))
        Array([    0., -1000.], dtype=float32)
    """
    x = _float("log_softmax", x)
    axes = _axes(axis, x.ndim, "log_softmax")
    shifted = x - _safe_max(x, axes, where)
    if where is not None:
        shifted = dnp.where(where, shifted, -dnp.inf)
    total = dnp.sum(dnp.exp(shifted), axis=axes, keepdims=True)
    out = shifted - dnp.log(total)
    if where is not None:
        out = dnp.where(where, out, -dnp.inf)
    return out


def standardize(x, axis=-1, mean=None, variance=None, epsilon=1e-5, where=None):
    """``(x - mean) / sqrt(variance + epsilon)`` along ``axis``.

    Args:
        x: an array.
        axis: an int or a tuple of ints.
        mean: the mean to subtract (computed over ``axis`` when None).
        variance: the variance (computed over ``axis`` as the mean squared deviation when
            None).
        epsilon: added to the variance.
        where: optional boolean mask of the elements used for the statistics.

    Returns:
        The standardized array.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.nn.standardize(dnp.array([1.0, 3.0]))
        Array([-0.999995,  0.999995], dtype=float32)
    """
    x = _float("standardize", x)
    axes = _axes(axis, x.ndim, "standardize")
    if mean is None:
        mean = dnp.mean(x, axis=axes, keepdims=True, where=where)
    if variance is None:
        variance = dnp.mean(dnp.square(x - mean), axis=axes, keepdims=True, where=where)
    return (x - mean) * E.rsqrt(asarray_any(variance + epsilon).astype(x.dtype))


def one_hot(x, num_classes, *, dtype=None, axis=-1):
    """One-hot encoding of integer ``x`` with ``num_classes`` classes.

    Args:
        x: integer class indices (values outside ``[0, num_classes)`` give all zeros).
        num_classes: the number of classes.
        dtype: the output dtype (default float).
        axis: where the new class axis goes.

    Returns:
        An array with one more dimension, of size ``num_classes`` at ``axis``.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.nn.one_hot(dnp.array([0, 2]), 3)
        Array([[1., 0., 0.],
               [0., 0., 1.]], dtype=float32)
    """
    x = asarray_any(x)
    dtype = _dtypes.default_float_dtype() if dtype is None else _dtypes.canonicalize_dtype(dtype)
    n = int(num_classes)
    nd = x.ndim + 1
    if not -nd <= axis < nd:
        raise ValueError(f"one_hot: axis {axis} is out of range for a result of rank {nd}.")
    ax = axis % nd
    shape = [1] * nd
    shape[ax] = n
    classes = dnp.arange(n).reshape(shape)
    return (dnp.expand_dims(x, ax) == classes).astype(dtype)
