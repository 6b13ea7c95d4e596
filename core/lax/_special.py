"""Special-function primitives: ``lgamma``, ``digamma``, ``erfc``, ``polygamma``, ``zeta``.

Each is an elementwise primitive made by the family combinators of ``_elementwise``: a NumPy
kernel (computed in float64 and rounded once, as ``_elementwise``'s own kernels are), the
dtypes it takes and its derivative. The derivatives chain into each other:
``lgamma' = digamma``, ``digamma' = polygamma(1, .)``, ``polygamma(m, .)' = polygamma(m + 1, .)``
and ``polygamma(m, x) = (-1)^(m+1) m! zeta(m + 1, x)``, so every order is available.

The kernels are written here (the standard library's ``math.lgamma``/``math.erfc``,
the asymptotic series of the digamma function and the Euler-Maclaurin sum of the Hurwitz
zeta function), so the library does not depend on SciPy; tests compare them with SciPy.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from . import _elementwise as E
from ._util import aval_of

__all__ = ["digamma", "erfc", "lgamma", "polygamma", "zeta"]

# --------------------------------------------------------------------------- kernels


def _lgamma_scalar(v):
    try:
        return math.lgamma(v)
    except ValueError:  # the poles 0, -1, -2, ...: SciPy's (and XLA's) value is +inf
        return math.inf


_lgamma_obj = np.frompyfunc(_lgamma_scalar, 1, 1)
_erfc_obj = np.frompyfunc(math.erfc, 1, 1)


def _f64(x):
    return np.asarray(x, np.float64)


def _np_lgamma(x):
    out = _f64(_lgamma_obj(_f64(x)))
    # |gamma(x)| -> 0 as x -> -inf (through its poles); SciPy's gammaln gives -inf there.
    return np.where(x == -np.inf, -np.inf, out).astype(x.dtype)


def _np_erfc(x):
    return _f64(_erfc_obj(_f64(x))).astype(x.dtype)


# psi(x) ~ log(x) - 1/(2x) - sum_k B_2k / (2k x^(2k)) for large x.
_PSI_SERIES = [
    float(Fraction(b) / (2 * k))
    for k, b in enumerate(
        ["1/6", "-1/30", "1/42", "-1/30", "5/66", "-691/2730", "7/6", "-3617/510"], start=1
    )
]


def _digamma64(x):
    x = _f64(x)
    # Reflection for x < 1/2: psi(x) = psi(1 - x) - pi / tan(pi x); tan has period 1, so
    # reduce the argument exactly first (pi * x itself would lose digits for large |x|).
    reflect = x < 0.5
    frac = x - np.floor(x)
    with np.errstate(all="ignore"):
        cot_term = np.where(reflect, np.pi / np.tan(np.pi * frac), 0.0)
    y = np.where(reflect, 1.0 - x, x)
    # Recurrence psi(y) = psi(y + 1) - 1 / y up to y >= 10, where the series converges.
    acc = np.zeros_like(y)
    for _ in range(10):
        small = y < 10.0
        acc = acc - np.where(small, 1.0 / np.where(small, y, 1.0), 0.0)
        y = np.where(small, y + 1.0, y)
    with np.errstate(all="ignore"):
        inv2 = 1.0 / (y * y)
        series = np.zeros_like(y)
        for c in reversed(_PSI_SERIES):
            series = (series + c) * inv2
        out = np.log(y) - 0.5 / y - series + acc - cot_term
    poles = (x < 0) & (x == np.floor(x))
    with np.errstate(all="ignore"):
        at_zero = -1.0 / x  # psi(x) ~ -1/x: -inf at +0.0, +inf at -0.0
    out = np.where(x == 0, at_zero, np.where(x == np.inf, np.inf, out))
    return np.where(poles, np.nan, out)


def _np_digamma(x):
    return _digamma64(x).astype(x.dtype)


# Euler-Maclaurin tail of the Hurwitz zeta function: B_2j / (2j)!, j = 1..12.
_BERNOULLI_2J = [
    "1/6", "-1/30", "1/42", "-1/30", "5/66", "-691/2730", "7/6", "-3617/510", "43867/798",
    "-174611/330", "854513/138", "-236364091/2730",
]  # fmt: skip
_EM_COEFS = [float(Fraction(b) / math.factorial(2 * j)) for j, b in enumerate(_BERNOULLI_2J, 1)]


def _zeta64(s, q):
    """Hurwitz zeta ``sum_k (q + k)^-s`` (s > 1) by Euler-Maclaurin summation."""
    s, q = np.broadcast_arrays(_f64(s), _f64(q))
    bad_q = (q <= 0) & (q == np.floor(q))  # a term (q + k)^-s is infinite
    # q < 0 needs a real power (q + k)^-s, so only integer s; then sum until q + N > 9.
    domain = (s > 1) & ~bad_q & ((q > 0) | (s == np.floor(s)))
    ss = np.where(domain, s, 2.0)
    qq = np.where(domain, q, 1.0)
    n_terms = np.maximum(10, np.ceil(10 - np.minimum(qq, 0))).astype(np.int64)
    total = np.zeros_like(ss)
    with np.errstate(all="ignore"):
        for k in range(int(n_terms.max(initial=10))):
            total += np.where(k < n_terms, np.power(qq + k, -ss), 0.0)
        w = qq + n_terms
        wpow = np.power(w, -ss)
        total += np.power(w, 1 - ss) / (ss - 1) + 0.5 * wpow
        rising = ss  # s (s + 1) ... (s + 2j - 2)
        wterm = wpow / w
        for j, c in enumerate(_EM_COEFS):
            total += c * rising * wterm
            rising = rising * (ss + 2 * j + 1) * (ss + 2 * j + 2)
            wterm = wterm / (w * w)
    out = np.where(domain, total, np.nan)
    out = np.where(bad_q & (s > 1) | (s == 1), np.inf, out)
    return np.where(np.isnan(s) | np.isnan(q), np.nan, out)


def _np_zeta(s, q):
    return _zeta64(s, q).astype(s.dtype)


def _np_polygamma(m, x):
    m64, x64 = np.broadcast_arrays(_f64(m), _f64(x))
    valid = (m64 >= 0) & (m64 == np.floor(m64))
    mm = np.where(valid, m64, 1.0)
    lgfact = np.asarray(_lgamma_obj(mm + 1.0), np.float64)
    with np.errstate(all="ignore"):
        higher = np.where(mm % 2 == 1, 1.0, -1.0) * np.exp(lgfact) * _zeta64(mm + 1.0, x64)
    out = np.where(mm == 0, _digamma64(x64), higher)
    return np.where(valid, out, np.nan).astype(x.dtype)


# --------------------------------------------------------------------------- primitives


def _real_only(prim):
    """Restrict a float-kind elementwise primitive to real floating dtypes."""
    shape_rule = prim.abstract_eval

    def abstract_eval(*avals, **params):
        for a in avals:
            if np.dtype(a.dtype).kind == "c":
                raise TypeError(
                    f"{prim.name} is defined for real floating-point operands, got "
                    f"{', '.join(x.str_short() for x in avals)}. Apply it to the real and "
                    "imaginary parts separately if that is what you mean."
                )
        return shape_rule(*avals, **params)

    prim.abstract_eval = abstract_eval
    impl = prim.impl

    def checked_impl(*args, **params):
        abstract_eval(*[aval_of(a) for a in args], **params)  # the errors jit would give
        return impl(*args, **params)

    prim.impl = checked_impl
    return prim


def _not_differentiable(name, arg):
    def rule(t, *primals, ans):
        raise NotImplementedError(
            f"{name} is not differentiable with respect to {arg}; stop the gradient there "
            f"(derivax.lax.stop_gradient) or keep {arg} constant."
        )

    return rule


_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)

lgamma_p = _real_only(
    E.elementwise("lgamma", _np_lgamma, "float", [lambda t, x, ans: E.mul(t, digamma(x))])
)
digamma_p = _real_only(
    E.elementwise(
        "digamma",
        _np_digamma,
        "float",
        [lambda t, x, ans: E.mul(t, polygamma(E._const(x, 1), x))],
    )
)
erfc_p = _real_only(
    E.elementwise(
        "erfc",
        _np_erfc,
        "float",
        [
            lambda t, x, ans: E.mul(
                t, E.mul(E._const(x, -_TWO_OVER_SQRT_PI), E.exp(E.neg(E.mul(x, x))))
            )
        ],
    )
)
polygamma_p = _real_only(
    E.elementwise(
        "polygamma",
        _np_polygamma,
        "float",
        [
            _not_differentiable("polygamma", "its order m"),
            lambda t, m, x, ans: E.mul(t, polygamma(E.add(m, E._const(m, 1)), x)),
        ],
        nargs=2,
    )
)
zeta_p = _real_only(
    E.elementwise(
        "zeta",
        _np_zeta,
        "float",
        [
            _not_differentiable("zeta", "its exponent x"),
            # d/dq sum (q + k)^-x = -x * zeta(x + 1, q)
            lambda t, x, q, ans: E.mul(t, E.neg(E.mul(x, zeta(E.add(x, E._const(x, 1)), q)))),
        ],
        nargs=2,
    )
)


def lgamma(x):
    """The log of the absolute value of the gamma function, elementwise.

    ``+inf`` at the poles ``0, -1, -2, ...``; its derivative is ``digamma``.

    Args:
        x: a real floating-point array.

    Returns:
        An array of ``x``'s shape and dtype.

    Raises:
        TypeError: ``x`` is not a real floating-point array.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> lax.lgamma(dnp.array([1.0, 4.0]))
        Array([0.       , 1.7917595], dtype=float32)
    """
    return lgamma_p.bind(x)


def digamma(x):
    """The digamma function ``d/dx log(gamma(x))``, elementwise.

    ``-inf`` at ``+0.0``, NaN at the poles ``-1, -2, ...``; its derivative is ``polygamma(1, x)``.

    Args:
        x: a real floating-point array.

    Returns:
        An array of ``x``'s shape and dtype.

    Raises:
        TypeError: ``x`` is not a real floating-point array.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> lax.digamma(dnp.array([1.0]))
        Array([-0.5772157], dtype=float32)
    """
    return digamma_p.bind(x)


def erfc(x):
    """The complementary error function ``1 - erf(x)``, accurate where it is tiny.

    Args:
        x: a real floating-point array.

    Returns:
        An array of ``x``'s shape and dtype.

    Raises:
        TypeError: ``x`` is not a real floating-point array.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> lax.erfc(dnp.array([0.0, 5.0]))
        Array([1.0000000e+00, 1.5374598e-12], dtype=float32)
    """
    return erfc_p.bind(x)


def polygamma(m, x):
    """The polygamma function: the ``m``-th derivative of ``digamma``, elementwise.

    ``m`` must hold non-negative integer values (NaN otherwise); it is not differentiable.

    Args:
        m: the order, an array of ``x``'s shape and dtype.
        x: a real floating-point array.

    Returns:
        An array of ``x``'s shape and dtype.

    Raises:
        TypeError: the operands differ in shape or dtype, or are not real floats.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> lax.polygamma(dnp.array([1.0]), dnp.array([1.0]))  # pi ** 2 / 6
        Array([1.644934], dtype=float32)
    """
    return polygamma_p.bind(m, x)


def zeta(x, q):
    """The Hurwitz zeta function ``sum_k (q + k) ** -x``, elementwise.

    Defined for ``x > 1`` (``+inf`` at ``x == 1`` and at ``q = 0, -1, ...``; NaN for
    ``x < 1``); differentiable in ``q`` only.

    Args:
        x: the exponent, a real floating-point array.
        q: the offset, of ``x``'s shape and dtype.

    Returns:
        An array of ``x``'s shape and dtype.

    Raises:
        TypeError: the operands differ in shape or dtype, or are not real floats.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> lax.zeta(dnp.array([2.0]), dnp.array([1.0]))  # pi ** 2 / 6
        Array([1.644934], dtype=float32)
    """
    return zeta_p.bind(x, q)
