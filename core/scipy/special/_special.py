"""``derivax.scipy.special``: SciPy's special functions on derivax arrays.

Functions promote their arguments like ``derivax.numpy`` (integers become the default float
type) and are built from the special-function primitives of ``derivax.lax`` (``lgamma``,
``digamma``, ``erfc``, ``erf_inv``, ``polygamma``, ``zeta``) and ordinary array operations,
so they run eagerly, under ``jit``, ``grad`` and ``vmap``. Where the naive derivative of a
formula is wrong or NaN at an edge (``xlogy`` at ``x == 0``, the inverse normal CDF), a
``custom_jvp`` gives the right one. Branches that a ``where`` discards are evaluated at safe
points, so they never poison a gradient with NaN.
"""

from __future__ import annotations

import math

import numpy as np

from ... import numpy as dnp
from ..._custom import custom_jvp
from ...lax import _bits
from ...lax import _elementwise as E
from ...lax import _special as L
from ...nn._activations import log_softmax as _log_softmax
from ...nn._activations import logsumexp as _logsumexp
from ...nn._activations import softmax as _softmax
from ...numpy._util import broadcast_all, promote_inexact

_SQRT_HALF = math.sqrt(0.5)
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def _real_inexact(name, *args):
    args = promote_inexact(name, *args)
    if dnp.issubdtype(args[0].dtype, dnp.complexfloating):
        raise TypeError(
            f"{name} is defined for real arguments here, got "
            f"{', '.join(str(a.dtype) for a in args)}."
        )
    return broadcast_all(name, *args) if len(args) > 1 else args


def _is_f64(x):
    return x.dtype == np.float64


# --------------------------------------------------------------------------- softmax family


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False, where=None):
    """``log(sum(b * exp(a)))`` over ``axis``, without overflow (SciPy's signature).

    Args:
        a: an array.
        axis: an int, a tuple of ints, or None (all axes).
        b: optional weights broadcast against ``a``; they may be negative or zero when
            ``return_sign`` is True.
        keepdims: keep the reduced axes with size 1.
        return_sign: also return the sign of the sum, and the log of its absolute value.
        where: optional boolean mask of the elements to include.

    Returns:
        The log-sum-exp (``-inf`` for an all-zero sum; NaN for a negative sum without
        ``return_sign``), and with ``return_sign`` the pair ``(value, sign)``.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax.scipy.special import logsumexp
        >>> logsumexp(dnp.array([0.0, 0.0]))
        Array(0.6931472, dtype=float32)
        >>> logsumexp(dnp.array([0.0, 0.0]), b=dnp.array([1.0, -2.0]), return_sign=True)
        (Array(0., dtype=float32), Array(-1., dtype=float32))
    """
    return _logsumexp(a, axis, b, keepdims, return_sign, where)


def softmax(x, axis=None):
    """SciPy's softmax ``exp(x) / sum(exp(x))`` (over all axes by default).

    Args:
        x: an array.
        axis: an int, a tuple of ints or None (all axes).

    Returns:
        Probabilities summing to 1 over ``axis``.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax.scipy.special import softmax
        >>> softmax(dnp.array([0.0, 0.0]))
        Array([0.5, 0.5], dtype=float32)
    """
    return _softmax(x, axis=axis)


def log_softmax(x, axis=None):
    """SciPy's log-softmax ``x - logsumexp(x)`` (over all axes by default), stable for large
    values.

    Args:
        x: an array.
        axis: an int, a tuple of ints or None (all axes).

    Returns:
        Log-probabilities over ``axis``.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax.scipy.special import log_softmax
        >>> log_softmax(dnp.array([0.0, 0.0]))
        Array([-0.6931472, -0.6931472], dtype=float32)
    """
    return _log_softmax(x, axis=axis)


# --------------------------------------------------------------------------- error functions


def erf(x):
    """The error function.

    Args:
        x: a real array.

    Returns:
        ``erf(x)``, elementwise.

    Example:
        >>> from derivax.scipy.special import erf
        >>> erf(0.0)
        Array(0., dtype=float32, weak_type=True)
    """
    (x,) = promote_inexact("erf", x)
    return E.erf(x)


def erfc(x):
    """The complementary error function ``1 - erf(x)``, accurate in the tail.

    Args:
        x: a real array.

    Returns:
        ``erfc(x)``, elementwise.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax.scipy.special import erfc
        >>> erfc(dnp.array([0.0, 5.0]))
        Array([1.0000000e+00, 1.5374598e-12], dtype=float32)
    """
    (x,) = _real_inexact("erfc", x)
    return L.erfc(x)


def erfinv(x):
    """The inverse error function (``lax.erf_inv``): ``erf(erfinv(y)) == y`` on ``(-1, 1)``.

    Args:
        x: a real array; ``+-1`` give ``+-inf``, ``|x| > 1`` gives NaN.

    Returns:
        ``erfinv(x)``, elementwise.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax.scipy.special import erfinv
        >>> erfinv(dnp.array([0.0, 0.5]))
        Array([0.        , 0.47693628], dtype=float32)
    """
    (x,) = _real_inexact("erfinv", x)
    return _bits.erf_inv(x)


def ndtr(x):
    """The standard normal CDF ``(1 + erf(x / sqrt(2))) / 2``, accurate in both tails.

    Args:
        x: a real array.

    Returns:
        ``P(Z <= x)`` for a standard normal ``Z``, elementwise.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax.scipy.special import ndtr
        >>> ndtr(dnp.array([0.0, -10.0]))
        Array([5.000000e-01, 7.619854e-24], dtype=float32)
    """
    (x,) = _real_inexact("ndtr", x)
    # erfc keeps the relative accuracy of the tiny lower tail, and is near 1 elsewhere.
    return 0.5 * L.erfc(-x * _SQRT_HALF)


def _log_ndtr_tail(x, n_terms):
    # log Phi(x) ~ -x^2/2 - log(-x) - log(sqrt(2 pi)) + log(sum_n (-1)^n (2n-1)!! / x^(2n))
    inv_x2 = 1.0 / (x * x)
    series = dnp.ones_like(x)
    term = dnp.ones_like(x)
    for n in range(1, n_terms + 1):
        term = term * (-(2 * n - 1)) * inv_x2
        series = series + term
    return -0.5 * x * x - dnp.log(-x) - _LOG_SQRT_2PI + dnp.log(series)


def log_ndtr(x):
    """The log of the standard normal CDF, accurate far into both tails.

    Args:
        x: a real array.

    Returns:
        ``log(ndtr(x))``, elementwise (about ``-x**2 / 2`` for very negative ``x``).

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax.scipy.special import log_ndtr
        >>> log_ndtr(dnp.array([0.0, -50.0]))
        Array([-6.9314718e-01, -1.2548313e+03], dtype=float32)
    """
    (x,) = _real_inexact("log_ndtr", x)
    lower, upper = (-20.0, 8.0) if _is_f64(x) else (-10.0, 5.0)
    # Each branch sees its inputs clamped to its own range, so the branches a where
    # discards stay finite and their (zero-weighted) gradients never turn into NaN.
    x_mid = dnp.clip(x, lower, upper)
    x_low = dnp.minimum(x, lower)
    x_high = dnp.maximum(x, upper)
    mid = dnp.log(ndtr(x_mid))
    high = -ndtr(-x_high)  # log(1 - q) ~ -q for the tiny upper tail q
    low = _log_ndtr_tail(x_low, 8)
    return dnp.where(x > upper, high, dnp.where(x < lower, low, mid))


def _ndtri_lower(p):
    """The quantile ``z <= 0`` of ``0 < p <= 1/2``: a rational start refined by Newton."""
    t = dnp.sqrt(-2.0 * dnp.log(p))
    # Abramowitz & Stegun 26.2.23 (absolute error < 4.5e-4) as the starting point.
    num = 2.515517 + t * (0.802853 + t * 0.010328)
    den = 1.0 + t * (1.432788 + t * (0.189269 + t * 0.001308))
    z = -(t - num / den)
    log_p = dnp.log(p)
    for _ in range(4):
        # Newton on log_ndtr(z) = log(p): the log keeps the tail well conditioned.
        lz = log_ndtr(z)
        slope = dnp.exp(-0.5 * z * z - _LOG_SQRT_2PI - lz)
        z = z - (lz - log_p) / slope
    return z


@custom_jvp
def _ndtri(p):
    lower = p <= 0.5
    q = dnp.where(lower, p, 1.0 - p)
    q_safe = dnp.where((q > 0) & (q <= 0.5), q, 0.25)
    z = _ndtri_lower(q_safe)
    z = dnp.where(lower, z, -z)
    z = dnp.where(p == 0.5, dnp.zeros_like(z), z)
    z = dnp.where(p == 0, -dnp.inf, dnp.where(p == 1, dnp.inf, z))
    return dnp.where((p < 0) | (p > 1) | dnp.isnan(p), dnp.nan, z)


@_ndtri.defjvp
def _ndtri_jvp(primals, tangents):
    (p,), (t,) = primals, tangents
    z = _ndtri(p)
    # dz/dp = 1 / pdf(z) = sqrt(2 pi) * exp(z^2 / 2)
    return z, t * dnp.exp(0.5 * z * z + _LOG_SQRT_2PI)


def ndtri(p):
    """The inverse of ``ndtr``: the standard normal quantile of ``p``.

    Args:
        p: probabilities in ``[0, 1]`` (``0 -> -inf``, ``1 -> inf``, outside: NaN).

    Returns:
        ``z`` with ``ndtr(z) == p``, elementwise.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax.scipy.special import ndtri
        >>> ndtri(dnp.array([0.5, 0.975]))
        Array([0.       , 1.9599645], dtype=float32)
    """
    (p,) = _real_inexact("ndtri", p)
    return _ndtri(p)


# --------------------------------------------------------------------------- gamma family


def gammaln(x):
    """The log of the absolute value of the gamma function (``+inf`` at its poles).

    Args:
        x: a real array.

    Returns:
        ``log(|gamma(x)|)``, elementwise; its derivative is ``digamma``.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax.scipy.special import gammaln
        >>> gammaln(dnp.array([1.0, 4.0, 0.0]))
        Array([0.       , 1.7917595,       inf], dtype=float32)
    """
    (x,) = _real_inexact("gammaln", x)
    return L.lgamma(x)


def digamma(x):
    """The digamma function ``d/dx log(gamma(x))``.

    Args:
        x: a real array.

    Returns:
        ``psi(x)``, elementwise (``-inf`` at ``+0.0``, NaN at ``-1, -2, ...``).

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax.scipy.special import digamma
        >>> digamma(dnp.array([1.0, 2.0]))
        Array([-0.5772157 ,  0.42278433], dtype=float32)
    """
    (x,) = _real_inexact("digamma", x)
    return L.digamma(x)


psi = digamma


def polygamma(n, x):
    """The polygamma function ``psi^(n)(x)``, the ``n``-th derivative of ``digamma``.

    Args:
        n: the order: non-negative integer values (NaN otherwise); not differentiable.
        x: a real array (broadcast against ``n``).

    Returns:
        ``psi^(n)(x)``, elementwise.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax.scipy.special import polygamma
        >>> polygamma(1, dnp.array([1.0]))
        Array([1.644934], dtype=float32)
    """
    n, x = _real_inexact("polygamma", n, x)
    n, x = _same_shape(n, x)
    return L.polygamma(n, x)


def _same_shape(*args):
    shape = np.broadcast_shapes(*(a.shape for a in args))
    return [dnp.broadcast_to(a, shape) for a in args]


def gamma(x):
    """The gamma function.

    Args:
        x: a real array.

    Returns:
        ``gamma(x)``, elementwise (``+-inf`` at ``+-0.0``, NaN at ``-1, -2, ...``).

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax.scipy.special import gamma
        >>> gamma(dnp.array([5.0, 0.5, -0.5]))
        Array([24.       ,  1.7724538, -3.5449076], dtype=float32)
    """
    (x,) = _real_inexact("gamma", x)
    # gamma is negative on (-1, 0), (-3, -2), ...: where floor(x) is odd and x < 0.
    floor = dnp.floor(x)
    odd = dnp.abs(floor - 2.0 * dnp.floor(0.5 * floor)) == 1.0
    sign = dnp.where((x < 0) & odd, -1.0, 1.0)
    sign = dnp.where(x == 0, dnp.where(dnp.signbit(x), -1.0, 1.0), sign)
    out = sign * dnp.exp(L.lgamma(x))
    poles = (x < 0) & (x == floor)
    return dnp.where(poles | (x == -dnp.inf), dnp.nan, out)


def betaln(a, b):
    """The log of the absolute value of the beta function ``B(a, b)``.

    Args:
        a: a real array.
        b: a real array (broadcast against ``a``).

    Returns:
        ``gammaln(a) + gammaln(b) - gammaln(a + b)``, elementwise.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax.scipy.special import betaln
        >>> betaln(dnp.array([1.0]), dnp.array([2.0]))
        Array([-0.6931472], dtype=float32)
    """
    a, b = _real_inexact("betaln", a, b)
    return L.lgamma(a) + L.lgamma(b) - L.lgamma(a + b)


def zeta(x, q=None):
    """The Riemann zeta function, or the Hurwitz zeta function ``sum_k (q + k) ** -x``.

    Args:
        x: the exponent (``x > 1``; ``x == 1`` gives ``inf``, ``x < 1`` NaN).
        q: the offset (default 1: Riemann's zeta); differentiable in ``q`` only.

    Returns:
        ``zeta(x, q)``, elementwise.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax.scipy.special import zeta
        >>> zeta(dnp.array([2.0, 4.0]))
        Array([1.644934 , 1.0823232], dtype=float32)
    """
    if q is None:
        (x,) = _real_inexact("zeta", x)
        q = dnp.ones_like(x)
    x, q = _real_inexact("zeta", x, q)
    x, q = _same_shape(x, q)
    return L.zeta(x, q)


# --------------------------------------------------------------------------- x log y family


@custom_jvp
def _xlogy(x, y):
    safe_y = dnp.where(x == 0, dnp.ones_like(y), y)
    return dnp.where((x == 0) & ~dnp.isnan(y), dnp.zeros_like(x), x * dnp.log(safe_y) + 0 * y)


@_xlogy.defjvp
def _xlogy_jvp(primals, tangents):
    (x, y), (tx, ty) = primals, tangents
    # x / y is taken as 0 where x == 0 (also at y == 0): the limit along y of x * log(y).
    ratio = dnp.where(x == 0, dnp.zeros_like(x), x / dnp.where(x == 0, dnp.ones_like(y), y))
    return _xlogy(x, y), tx * dnp.log(y) + ty * ratio


@custom_jvp
def _xlog1py(x, y):
    safe_y = dnp.where(x == 0, dnp.zeros_like(y), y)
    return dnp.where((x == 0) & ~dnp.isnan(y), dnp.zeros_like(x), x * dnp.log1p(safe_y) + 0 * y)


@_xlog1py.defjvp
def _xlog1py_jvp(primals, tangents):
    (x, y), (tx, ty) = primals, tangents
    safe = dnp.where(x == 0, dnp.ones_like(y), 1.0 + y)
    ratio = dnp.where(x == 0, dnp.zeros_like(x), x / safe)
    return _xlog1py(x, y), tx * dnp.log1p(y) + ty * ratio


def xlogy(x, y):
    """``x * log(y)``, defined as 0 where ``x == 0`` (unless ``y`` is NaN).

    The derivative in ``y`` is ``x / y``, so it is 0 where ``x == 0`` even at ``y == 0``.

    Args:
        x: a real array.
        y: a real array (broadcast against ``x``).

    Returns:
        ``x * log(y)``, elementwise.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax.scipy.special import xlogy
        >>> xlogy(dnp.array([0.0, 2.0]), dnp.array([0.0, 1.0]))
        Array([0., 0.], dtype=float32)
    """
    x, y = _real_inexact("xlogy", x, y)
    return _xlogy(*_same_shape(x, y))


def xlog1py(x, y):
    """``x * log1p(y)``, defined as 0 where ``x == 0`` (unless ``y`` is NaN).

    Args:
        x: a real array.
        y: a real array (broadcast against ``x``).

    Returns:
        ``x * log(1 + y)``, elementwise.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax.scipy.special import xlog1py
        >>> xlog1py(dnp.array([0.0, 2.0]), dnp.array([-1.0, 0.0]))
        Array([0., 0.], dtype=float32)
    """
    x, y = _real_inexact("xlog1py", x, y)
    return _xlog1py(*_same_shape(x, y))


def entr(x):
    """The elementwise entropy ``-x * log(x)`` (0 at ``x == 0``, ``-inf`` for ``x < 0``).

    Args:
        x: a real array.

    Returns:
        ``-x * log(x)``, elementwise.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax.scipy.special import entr
        >>> entr(dnp.array([0.0, 0.5, -1.0]))
        Array([0.       , 0.3465736,      -inf], dtype=float32)
    """
    (x,) = _real_inexact("entr", x)
    pos = x > 0
    safe = dnp.where(pos, x, dnp.ones_like(x))
    out = dnp.where(pos, -safe * dnp.log(safe), dnp.where(x == 0, 0.0, -dnp.inf))
    return dnp.where(dnp.isnan(x), dnp.nan, out)


def rel_entr(x, y):
    """The relative entropy term ``x * log(x / y)`` of SciPy's ``rel_entr``.

    0 where ``x == 0`` and ``y >= 0``; ``inf`` where either is negative or only ``y`` is 0.

    Args:
        x: a real array.
        y: a real array (broadcast against ``x``).

    Returns:
        ``x * log(x / y)``, elementwise.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax.scipy.special import rel_entr
        >>> rel_entr(dnp.array([1.0, 0.0]), dnp.array([2.0, 1.0]))
        Array([-0.6931472,  0.       ], dtype=float32)
    """
    x, y = _real_inexact("rel_entr", x, y)
    both = (x > 0) & (y > 0)
    sx = dnp.where(both, x, dnp.ones_like(x))
    sy = dnp.where(both, y, dnp.ones_like(y))
    zero = (x == 0) & (y >= 0)
    nan = dnp.isnan(x) | dnp.isnan(y)
    out = dnp.where(both, sx * dnp.log(sx / sy), dnp.where(zero, 0.0, dnp.inf))
    return dnp.where(nan, dnp.nan, out)


def kl_div(x, y):
    """SciPy's ``kl_div``: ``x * log(x / y) - x + y`` (``y`` where ``x == 0`` and ``y >= 0``).

    Args:
        x: a real array.
        y: a real array (broadcast against ``x``).

    Returns:
        The elementwise Kullback-Leibler term; ``inf`` outside the domain.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax.scipy.special import kl_div
        >>> kl_div(dnp.array([1.0, 0.0]), dnp.array([1.0, 2.0]))
        Array([0., 2.], dtype=float32)
    """
    x, y = _real_inexact("kl_div", x, y)
    both = (x > 0) & (y > 0)
    sx = dnp.where(both, x, dnp.ones_like(x))
    sy = dnp.where(both, y, dnp.ones_like(y))
    zero = (x == 0) & (y >= 0)
    nan = dnp.isnan(x) | dnp.isnan(y)
    out = dnp.where(both, sx * dnp.log(sx / sy) - sx + sy, dnp.where(zero, y, dnp.inf))
    return dnp.where(nan, dnp.nan, out)


# --------------------------------------------------------------------------- logistic


def expit(x):
    """The logistic sigmoid ``1 / (1 + exp(-x))``.

    Args:
        x: a real array.

    Returns:
        ``expit(x)``, elementwise.

    Example:
        >>> from derivax.scipy.special import expit
        >>> expit(0.0)
        Array(0.5, dtype=float32, weak_type=True)
    """
    (x,) = promote_inexact("expit", x)
    return E.logistic(x)


def logit(x):
    """The log-odds ``log(x / (1 - x))``, the inverse of ``expit``.

    Args:
        x: a real array of probabilities.

    Returns:
        ``logit(x)``, elementwise.

    Example:
        >>> from derivax.scipy.special import logit
        >>> logit(0.5)
        Array(0., dtype=float32, weak_type=True)
    """
    (x,) = promote_inexact("logit", x)
    return dnp.log(x / (1 - x))
