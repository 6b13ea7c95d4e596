"""Special-function primitives: ``lgamma``, ``digamma``, ``erfc``, ``polygamma``, ``zeta``.

Each is an elementwise primitive made by the family combinators of ``_elementwise``: a NumPy
kernel (computed in float64 and rounded once, as ``_elementwise``'s own kernels are), the
dtypes it takes and its derivative. The derivatives chain into each other:
``lgamma' = digamma``, ``digamma' = polygamma(1, .)``, ``polygamma(m, .)' = polygamma(m + 1, .)``
and ``polygamma(m, x) = (-1)^(m+1) m! zeta(m + 1, x)``, so every order is available.

The kernels are vectorized float64 NumPy algorithms written here, so the library does not
depend on SciPy: erf/erfc by piecewise polynomials (erfc as exp(-x^2) times a fit of
exp(x^2) erfc(x), with x^2 split so that it is not rounded), lgamma by a series about 2,
downward recurrence, Stirling's series and reflection, digamma by recurrence, its
asymptotic series and reflection, the Hurwitz zeta function by Euler-Maclaurin summation.
The LLVM back end (``derivax._compiler.mathlib``) evaluates the same algorithms and tables.
Tests compare them with the standard library and SciPy.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from . import _elementwise as E
from ._util import aval_of

__all__ = ["digamma", "erfc", "lgamma", "polygamma", "zeta"]

# --------------------------------------------------------------------------- kernels
#
# Every kernel works in float64 on whole arrays (no per-element Python) and the primitive
# rounds the result once to the operand's dtype. The polynomial tables below are shared
# with the compiled versions in ``derivax._compiler.mathlib``, so both back ends evaluate
# the same approximations. They are near-minimax fits (Chebyshev interpolation on 40
# nodes, truncated) computed with 90-digit decimal arithmetic: the truncation error of
# each is below 1e-18 relative, far under float64 rounding.

# erf(x) = x * P(x^2) for |x| < 0.84375 (P in powers of x^2).
_ERF_SMALL_END = 0.84375
_ERF_SMALL = (
    1.1283791670955126,
    -0.3761263890318375,
    0.11283791670954747,
    -0.02686617064503173,
    0.005223977624088953,
    -0.0008548326914788754,
    0.000120553274432313,
    -1.4925464145762318e-05,
    1.6457924042769818e-06,
    -1.6303196466129588e-07,
    1.420619410239985e-08,
    -8.881232333500952e-10,
)

# erfcx(x) = exp(x^2) erfc(x) for x >= 0.84375, piecewise: rows (start, center, coeffs).
# Below 2 the polynomial is in x - center; from 2 on, erfcx(x) = Q(1/x - center) / x.
# The rows cover [start, next start), the last one [7, 28].
_ERFCX_RECIP_FROM = 2.0
_ERFC_ZERO_FROM = 28.0  # erfc(x) < 2**-1075 from about 27.3 on
_ERFCX = (
    (
        0.84375,
        1.046875,
        (
            0.41510797586171466,
            -0.25924684263504744,
            0.14370893747814936,
            -0.0725343658084065,
            0.033887261636236836,
            -0.014823455513203937,
            0.006122985548630569,
            -0.0024038442887751987,
            0.000901615263474328,
            -0.00032443695274817164,
            0.00011239412731680016,
            -3.759196901483239e-05,
            1.2171623446958155e-05,
            -3.877463998290959e-06,
            1.1838793437197105e-06,
        ),
    ),
    (
        1.25,
        1.625,
        (
            0.30226120936348594,
            -0.14603023666418338,
            0.06496207478418801,
            -0.026977910093244493,
            0.010561485441322141,
            -0.003926198501007339,
            0.0013938042929705005,
            -0.0004746475592719168,
            0.00015562548699474567,
            -4.927947820023846e-05,
            1.5109489110864241e-05,
            -4.492614693555404e-06,
            1.299701891064755e-06,
            -3.8105852915293737e-07,
            1.0480958224165337e-07,
        ),
    ),
    (
        2.0,
        0.4166666666666667,
        (
            0.5243969628888799,
            -0.1583663349566998,
            -0.07111188400637154,
            0.1574892840307661,
            -0.11966462443108696,
            0.0025309671591871754,
            0.12901042416057212,
            -0.20376699525666855,
            0.16508977891776944,
            0.004573473134487415,
            -0.26228003084549384,
            0.49691809860683517,
            -0.5448865990076944,
            0.20244899549724443,
            0.5486634764404256,
        ),
    ),
    (
        3.0,
        0.2777777777777778,
        (
            0.544555079396546,
            -0.12826343446983526,
            -0.1496783021717894,
            0.2144612387677262,
            -0.06131193527795802,
            -0.20657674493536501,
            0.3792888407995906,
            -0.21710290375483624,
            -0.37881798170676395,
            1.1425803811961617,
            -1.310872133096991,
            -0.1592473547525639,
            3.7384701198123027,
            -7.727335366870675,
            6.746023823728015,
        ),
    ),
    (
        4.5,
        0.18253968253968253,
        (
            0.5552246280966256,
            -0.09380939509579832,
            -0.2120125860642158,
            0.21215118629737492,
            0.09173100726283528,
            -0.43224855029052367,
            0.32646626787203586,
            0.5418793344366509,
            -1.6308717126635286,
            1.0959325346698032,
            3.1367723482857692,
            -9.526102961123131,
            7.651906508972736,
            20.79987921676855,
            -74.75616891956584,
        ),
    ),
    (
        7.0,
        0.08928571428571429,
        (
            0.561967111087018,
            -0.04920406553455654,
            -0.2628139634480309,
            0.1371557568558766,
            0.31150906554360697,
            -0.4400496475799299,
            -0.4170956520477425,
            1.5563864821371296,
            -0.10967106490557624,
            -5.507563908093101,
            6.72950477109329,
            16.007890504997103,
            -53.94448903659148,
            -9.844591243924894,
            296.64211290513776,
        ),
    ),
)

# lgamma(2 + z) = z * Q(z) for |z| <= 1/2 (Q(0) = 1 - Euler's gamma).
_LGAMMA2 = (
    0.42278433509846713,
    0.3224670334241132,
    -0.06735230105319814,
    0.02058080842778463,
    -0.007385551028668096,
    0.0028905103307343394,
    -0.0011927539120033873,
    0.0005096695250262799,
    -0.00022315475069647703,
    9.945750665169756e-05,
    -4.492635166770342e-05,
    2.0507292365464966e-05,
    -9.438454884054723e-06,
    4.374221208333783e-06,
    -2.044935323180052e-06,
    9.584290249224467e-07,
    -4.303234692956732e-07,
    2.0192169921430407e-07,
    -1.341570273460026e-07,
    6.473973449314896e-08,
)

# lgamma(x) for x >= 10: (x - 1/2) log x - x + log(2 pi)/2 + sum_k c_k x^(1 - 2k) with
# c_k = B_2k / (2k (2k - 1)) (Stirling; 9 terms give < 1e-19 relative error from 10 on).
_STIRLING_FROM = 10.0
_STIRLING = tuple(
    float(Fraction(b) / (2 * k * (2 * k - 1)))
    for k, b in enumerate(
        ["1/6", "-1/30", "1/42", "-1/30", "5/66", "-691/2730", "7/6", "-3617/510", "43867/798"],
        start=1,
    )
)
_HALF_LOG_2PI = 0.9189385332046728  # log(2 pi) / 2
_LOG_PI = 1.1447298858494002
# sin(pi a) = a S(a^2) and cos(pi a) = C(a^2) for |a| <= 1/4 (Taylor, < 1e-19 relative),
# used by the compiled kernels.
_SINPI = tuple((-1) ** k * math.pi ** (2 * k + 1) / math.factorial(2 * k + 1) for k in range(10))
_COSPI = tuple((-1) ** k * math.pi ** (2 * k) / math.factorial(2 * k) for k in range(11))


def _f64(x):
    return np.asarray(x, np.float64)


def _horner(t, coeffs):
    acc = np.full_like(t, coeffs[-1])
    for c in reversed(coeffs[:-1]):
        acc *= t
        acc += c
    return acc


def _on(mask, out, fn, *args):
    """``out[mask] = fn(*(a[mask] for a in args))``, evaluated on the selected elements only."""
    idx = np.flatnonzero(mask)
    if idx.size:
        out.flat[idx] = fn(*(a.ravel()[idx] for a in args))


def _split_square(ax):
    """(s^2, d) with ax^2 = s^2 - d, s^2 exact (s is ax cut to 21 significant bits).

    exp(-ax^2) = exp(-s^2) exp(d) then has no error from rounding ax^2 (which would cost
    up to ax^2 ULP).
    """
    s = (ax.view(np.int64) & np.int64(-(1 << 32))).view(np.float64)
    return s * s, (s - ax) * (s + ax)


def _erfcx_table(ax):
    """exp(x^2) erfc(x) on the rows of ``_ERFCX`` (0.84375 <= ax <= 28)."""
    out = np.empty_like(ax)
    starts = np.array([row[0] for row in _ERFCX])
    row_of = np.searchsorted(starts, ax, side="right") - 1
    for k, (start, center, coeffs) in enumerate(_ERFCX):
        if start < _ERFCX_RECIP_FROM:
            _on(row_of == k, out, lambda v, m=center, c=coeffs: _horner(v - m, c), ax)
        else:

            def recip(v, m=center, c=coeffs):
                return _horner(1.0 / v - m, c) / v

            _on(row_of == k, out, recip, ax)
    return out


def _erfc_pos(ax):
    """erfc(ax) for ax >= 0.84375 (any such float64, inf included; NaN not)."""
    axc = np.minimum(ax, _ERFC_ZERO_FROM)
    s2, d = _split_square(axc)
    g = _erfcx_table(axc)
    return np.exp(-s2) * (g + g * np.expm1(d))


def _erf_erfc64(x, want_erf):
    x = _f64(x)
    with np.errstate(all="ignore"):
        ax = np.abs(x)
        out = np.empty_like(x)
        small = ax < _ERF_SMALL_END
        if want_erf:
            _on(small, out, lambda v: v * _horner(v * v, _ERF_SMALL), x)
            _on(~small, out, lambda v: np.copysign(1.0 - _erfc_pos(np.abs(v)), v), x)
        else:
            _on(small, out, lambda v: 1.0 - v * _horner(v * v, _ERF_SMALL), x)

            def big(v):
                e = _erfc_pos(np.abs(v))
                return np.where(v < 0, 2.0 - e, e)

            _on(~small, out, big, x)
        return np.where(np.isnan(x), x, out)


def _erf64(x):
    """erf in float64 (a few ULP over the whole line)."""
    return _erf_erfc64(x, True)


def _erfc64(x):
    """erfc in float64, relatively accurate where erfc is tiny (no 1 - erf cancellation)."""
    return _erf_erfc64(x, False)


def _np_erfc(x):
    return _erfc64(x).astype(x.dtype)


def _lgamma2(z):
    """lgamma(2 + z) for |z| <= 1/2."""
    return z * _horner(z, _LGAMMA2)


def _lgamma_pos(y):
    """lgamma(y) for y > 0 (y = +inf gives +inf)."""
    out = np.empty_like(y)

    # [10, inf]: Stirling.
    def stirling(v):
        w = 1.0 / v
        series = w * _horner(w * w, _STIRLING)
        return (v - 0.5) * np.log(v) - v + (_HALF_LOG_2PI + series)

    _on(y >= _STIRLING_FROM, out, stirling, y)

    # [2.5, 10): down to z in [1.5, 2.5) (y - n is exact), lgamma(y) = lgamma(z) + log(prod).
    def shifted(v):
        n = np.floor(v - 1.5)
        z = v - n
        prod = z.copy()
        for k in range(1, 8):
            prod *= np.where(k < n, z + k, 1.0)
        return _lgamma2(z - 2.0) + np.log(prod)

    _on((y >= 2.5) & (y < _STIRLING_FROM), out, shifted, y)
    # [1.5, 2.5): the series about 2.
    _on((y >= 1.5) & (y < 2.5), out, lambda v: _lgamma2(v - 2.0), y)
    # [0.5, 1.5): lgamma(1 + z) = lgamma(2 + z) - log1p(z), z = y - 1 exact.
    _on((y >= 0.5) & (y < 1.5), out, lambda v: _lgamma2(v - 1.0) - np.log1p(v - 1.0), y)
    # (0, 0.5): lgamma(y) = lgamma(2 + y) - log1p(y) - log(y).
    _on(y < 0.5, out, lambda v: (_lgamma2(v) - np.log1p(v)) - np.log(v), y)
    return out


def _log_abs_sinpi(x):
    """log|sin(pi x)| for finite x (-inf at the integers), the argument reduced exactly.

    sin(pi a) for a in [0, 1/2]: pi * a rounds once, which moves the log by < 2**-52
    (the compiled kernel evaluates the ``_SINPI``/``_COSPI`` polynomials instead).
    """
    a = np.abs(x - np.round(x))  # in [0, 1/2], exact
    return np.log(np.sin(np.pi * a))


def _lgamma64(x):
    """log|Gamma(x)| in float64; +inf at the poles 0, -1, -2, ..., -inf at -inf."""
    x = _f64(x)
    with np.errstate(all="ignore"):
        neg = x < 0
        y = np.where(neg, 1.0 - x, x)
        y = np.where(np.isnan(y) | (y <= 0), 1.0, y)
        out = _lgamma_pos(y)
        if neg.any():
            # Reflection: |Gamma(x) Gamma(1 - x)| = pi / |sin(pi x)|.
            refl = np.empty_like(x)
            _on(neg, refl, lambda v, lg: _LOG_PI - _log_abs_sinpi(v) - lg, x, out)
            out = np.where(neg, refl, out)
        # |x| < 2**-54: lgamma(x) = -log|x| - gamma x + O(x^2) rounds to -log|x|.
        out = np.where(np.abs(x) < 2.0**-54, -np.log(np.abs(x)), out)
        out = np.where((x <= 0) & (x == np.floor(x)), np.inf, out)  # poles (and 0)
        out = np.where(x == np.inf, np.inf, np.where(x == -np.inf, -np.inf, out))
        return np.where(np.isnan(x), x, out)


def _np_lgamma(x):
    return _lgamma64(x).astype(x.dtype)


# psi(x) ~ log(x) - 1/(2x) - sum_k B_2k / (2k x^(2k)) for large x.
_PSI_SERIES = tuple(
    float(Fraction(b) / (2 * k))
    for k, b in enumerate(
        ["1/6", "-1/30", "1/42", "-1/30", "5/66", "-691/2730", "7/6", "-3617/510"], start=1
    )
)
_PSI_FROM = 10.0


def _digamma_big(v):
    """psi(v) for v >= 10 (asymptotic series)."""
    w = 1.0 / (v * v)
    return np.log(v) - 0.5 / v - w * _horner(w, _PSI_SERIES)


def _digamma_shifted(v):
    """psi(v) for 0 < v < 10: psi(v + 10) - sum_{k < 10} 1 / (v + k)."""
    acc = np.zeros_like(v)
    for k in range(10):
        acc += 1.0 / (v + k)
    return _digamma_big(v + 10.0) - acc


def _digamma64(x):
    x = _f64(x)
    with np.errstate(all="ignore"):
        # Reflection for x < 1/2: psi(x) = psi(1 - x) - pi / tan(pi x); tan has period 1,
        # so reduce the argument exactly to [-1/2, 1/2] first (pi * x would lose digits).
        reflect = x < 0.5
        y = np.where(reflect, 1.0 - x, x)
        out = np.empty_like(y)
        big = y >= _PSI_FROM
        _on(big, out, _digamma_big, y)
        _on(~big, out, _digamma_shifted, y)  # NaN included
        if reflect.any():
            cot = np.zeros_like(y)
            _on(reflect, cot, lambda v: np.pi / np.tan(np.pi * (v - np.round(v))), x)
            out = out - cot
        poles = (x < 0) & (x == np.floor(x))
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
    lgfact = _lgamma64(mm + 1.0)
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
