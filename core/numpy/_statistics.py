"""Comparisons, nan-aware reductions, averages, polynomials and convolutions in ``derivax.numpy``.

All of them are compositions of lax primitives: they run eagerly, under ``jit``, ``grad`` and
``vmap``. The nan-aware reductions replace NaNs with the reduction's identity through a
select, so their gradients are zero at NaN entries. ``convolve`` and ``correlate`` go through
``lax.conv_general_dilated``, so they are differentiable in both operands.
"""

from __future__ import annotations

import numpy as np

from .. import _dtypes
from .._array import _wrap
from .._core import ConcretizationTypeError, Tracer, concrete_or_error, get_aval
from ..lax import _elementwise as E
from ..lax import _structural as S
from ..lax._conv import conv_general_dilated
from ._elementwise import (
    abs as _abs,
)
from ._elementwise import (
    add,
    divide,
    equal,
    greater,
    isinf,
    isnan,
    less,
    less_equal,
    logical_and,
    logical_not,
    logical_or,
    multiply,
    sin,
    sqrt,
    subtract,
)
from ._elementwise import where as _select
from ._reductions import all as _all
from ._reductions import argmax, argmin
from ._reductions import max as _max
from ._reductions import min as _min
from ._reductions import prod as _prod
from ._reductions import sum as _sum
from ._shape import broadcast_to, concatenate, moveaxis, reshape
from ._util import (
    asarray_any,
    broadcast_shapes,
    canonical_axis,
    check_arraylike,
    promote,
    promote_inexact,
    reduction_axes,
)

__all__ = [
    "allclose",
    "array_equal",
    "array_equiv",
    "average",
    "bincount",
    "convolve",
    "corrcoef",
    "correlate",
    "cov",
    "cross",
    "gradient",
    "heaviside",
    "isclose",
    "nan_to_num",
    "nanargmax",
    "nanargmin",
    "nanmax",
    "nanmean",
    "nanmin",
    "nanprod",
    "nanstd",
    "nansum",
    "nanvar",
    "polyadd",
    "polyder",
    "polyint",
    "polymul",
    "polysub",
    "polyval",
    "ptp",
    "sinc",
    "trapezoid",
    "vecdot",
]

_INT = np.int32


def _aval(x):
    return get_aval(x)


def _full_like(x, value):
    a = _aval(x)
    return S.full(a.shape, value, a.dtype)


def _static_int(x, fname, argname):
    if isinstance(x, Tracer):
        x = concrete_or_error(x, f"the `{argname}` argument of {fname} (it must be static)")
    try:
        return int(np.asarray(x).item()) if np.ndim(x) == 0 else int(x)
    except (TypeError, ValueError):
        raise TypeError(f"{fname}: `{argname}` must be an integer, got {x!r}.") from None


# --------------------------------------------------------------------------- comparisons


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Elementwise ``|a - b| <= atol + rtol * |b|``, as ``numpy.isclose``.

    Infinities are close only to themselves; NaNs only to NaNs and only with ``equal_nan``.
    Integers are compared as floats.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.isclose(dnp.array([1.0, 1.1, dnp.nan]), dnp.array([1.0 + 1e-9, 1.0, dnp.nan]))
        Array([ True, False, False], dtype=bool)
    """
    check_arraylike("isclose", a, b)
    a, b = promote_inexact("isclose", a, b)
    shape = broadcast_shapes(_aval(a).shape, _aval(b).shape, fname="isclose")
    a, b = broadcast_to(a, shape), broadcast_to(b, shape)
    dt = _aval(a).dtype
    rtol = asarray_any(rtol, dt)
    atol = asarray_any(atol, dt)
    finite = logical_and(logical_not(isinf(a)), logical_not(isinf(b)))
    with_tol = less_equal(_abs(subtract(a, b)), add(atol, multiply(rtol, _abs(b))))
    out = _select(finite, with_tol, equal(a, b))
    if equal_nan:
        out = logical_or(out, logical_and(isnan(a), isnan(b)))
    return out


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True when every pair is close (see :func:`isclose`).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.allclose(dnp.array([1.0, 2.0]), dnp.array([1.0, 2.0 + 1e-7]))
        Array(True, dtype=bool)
    """
    return _all(isclose(a, b, rtol, atol, equal_nan))


def array_equal(a1, a2, equal_nan=False):
    """True when the arrays have one shape and equal elements (NaNs equal with
    ``equal_nan``).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.array_equal(dnp.array([1, 2]), dnp.array([1, 2]))
        Array(True, dtype=bool)
    """
    check_arraylike("array_equal", a1, a2)
    a, b = asarray_any(a1), asarray_any(a2)
    if _aval(a).shape != _aval(b).shape:
        return _wrap(np.asarray(False))
    a, b = promote("array_equal", a, b)
    eq = equal(a, b)
    if equal_nan and _dtypes.is_inexact(_aval(a).dtype):
        eq = logical_or(eq, logical_and(isnan(a), isnan(b)))
    return _all(eq)


def array_equiv(a1, a2):
    """True when the arrays broadcast together and are equal elementwise.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.array_equiv(dnp.array([1, 2]), dnp.array([[1, 2], [1, 2]]))
        Array(True, dtype=bool)
    """
    check_arraylike("array_equiv", a1, a2)
    a, b = promote("array_equiv", a1, a2)
    try:
        broadcast_shapes(_aval(a).shape, _aval(b).shape)
    except ValueError:
        return _wrap(np.asarray(False))
    return _all(equal(a, b))


# --------------------------------------------------------------------------- nan-aware reductions


def _no_out(out, fname):
    if out is not None:
        raise ValueError(f"{fname}: out= is not supported (derivax arrays are immutable).")


def _replace_nan(fname, a, value):
    check_arraylike(fname, a)
    a = asarray_any(a)
    if not _dtypes.is_inexact(_aval(a).dtype):
        return a, None
    mask = isnan(a)
    return _select(mask, _full_like(a, value), a), mask


def nansum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """Sum treating NaNs as zero.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.nansum(dnp.array([1.0, dnp.nan, 2.0]))
        Array(3., dtype=float32)
    """
    _no_out(out, "nansum")
    a, _ = _replace_nan("nansum", a, 0)
    return _sum(a, axis, dtype, keepdims=keepdims, initial=initial, where=where)


def nanprod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """Product treating NaNs as one.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.nanprod(dnp.array([2.0, dnp.nan, 3.0]))
        Array(6., dtype=float32)
    """
    _no_out(out, "nanprod")
    a, _ = _replace_nan("nanprod", a, 1)
    return _prod(a, axis, dtype, keepdims=keepdims, initial=initial, where=where)


def _count(mask, a, axis, keepdims, dtype):
    """The number of non-NaN entries along ``axis``, in ``dtype``."""
    if mask is None:
        ones = S.full(_aval(a).shape, 1, dtype)
        return _sum(ones, axis, keepdims=keepdims)
    return _sum(logical_not(mask), axis, dtype=dtype, keepdims=keepdims)


def nanmean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    """Mean ignoring NaNs (NaN where a slice is all NaN).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.nanmean(dnp.array([1.0, dnp.nan, 3.0]))
        Array(2., dtype=float32)
    """
    _no_out(out, "nanmean")
    if where is not None:
        raise NotImplementedError("nanmean: where= is not supported yet.")
    check_arraylike("nanmean", a)
    a = asarray_any(a)
    dt = _aval(a).dtype if dtype is None else _dtypes.canonicalize_dtype(dtype)
    if not _dtypes.is_inexact(dt):
        dt = _dtypes.default_float_dtype()
    if _aval(a).dtype != dt:
        a = E.convert_element_type(a, dt)
    filled, mask = _replace_nan("nanmean", a, 0)
    s = _sum(filled, axis, keepdims=keepdims)
    return divide(s, _count(mask, a, axis, keepdims, dt))


def _nan_minmax(fname, reducer, a, axis, out, keepdims, initial, where, fill):
    _no_out(out, fname)
    filled, mask = _replace_nan(fname, a, fill)
    r = reducer(filled, axis, keepdims=keepdims, initial=initial, where=where)
    if mask is None:
        return r
    all_nan = _all(mask, axis, keepdims=keepdims)
    return _select(all_nan, _full_like(r, np.nan), r)


def nanmax(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """Maximum ignoring NaNs (NaN where a slice is all NaN).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.nanmax(dnp.array([1.0, dnp.nan, 3.0]))
        Array(3., dtype=float32)
    """
    return _nan_minmax("nanmax", _max, a, axis, out, keepdims, initial, where, -np.inf)


def nanmin(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """Minimum ignoring NaNs (NaN where a slice is all NaN).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.nanmin(dnp.array([1.0, dnp.nan, 3.0]))
        Array(1., dtype=float32)
    """
    return _nan_minmax("nanmin", _min, a, axis, out, keepdims, initial, where, np.inf)


def _nan_arg(fname, fn, a, axis, out, keepdims, fill):
    _no_out(out, fname)
    filled, mask = _replace_nan(fname, a, fill)
    r = fn(filled, axis, keepdims=keepdims)
    if mask is None:
        return r
    if axis is None:
        all_nan = _all(mask, keepdims=keepdims)
        all_nan = reshape(all_nan, _aval(r).shape)
    else:
        all_nan = _all(mask, axis, keepdims=keepdims)
    return _select(all_nan, _full_like(r, -1), r)


def nanargmax(a, axis=None, out=None, keepdims=False):
    """Index of the maximum ignoring NaNs; -1 where a slice is all NaN.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.nanargmax(dnp.array([1.0, dnp.nan, 3.0]))
        Array(2, dtype=int32)
    """
    return _nan_arg("nanargmax", argmax, a, axis, out, keepdims, -np.inf)


def nanargmin(a, axis=None, out=None, keepdims=False):
    """Index of the minimum ignoring NaNs; -1 where a slice is all NaN.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.nanargmin(dnp.array([1.0, dnp.nan, 3.0]))
        Array(0, dtype=int32)
    """
    return _nan_arg("nanargmin", argmin, a, axis, out, keepdims, np.inf)


def nanvar(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None):
    """Variance ignoring NaNs, with ``ddof`` delta degrees of freedom (NaN where fewer than
    ``ddof + 1`` values remain).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.nanvar(dnp.array([1.0, dnp.nan, 3.0]))
        Array(1., dtype=float32)
    """
    _no_out(out, "nanvar")
    if where is not None:
        raise NotImplementedError("nanvar: where= is not supported yet.")
    check_arraylike("nanvar", a)
    a = asarray_any(a)
    dt = _aval(a).dtype if dtype is None else _dtypes.canonicalize_dtype(dtype)
    if not _dtypes.is_inexact(dt):
        dt = _dtypes.default_float_dtype()
    if _aval(a).dtype != dt:
        a = E.convert_element_type(a, dt)
    filled, mask = _replace_nan("nanvar", a, 0)
    n = _count(mask, a, axis, True, dt)
    m = divide(_sum(filled, axis, keepdims=True), n)
    d = subtract(a, m)
    if mask is not None:
        d = _select(mask, _full_like(d, 0), d)
    ss = _sum(multiply(d, d), axis, keepdims=keepdims)
    dof = subtract(_count(mask, a, axis, keepdims, dt), asarray_any(ddof, dt))
    pos = greater(dof, _full_like(dof, 0))
    return _select(pos, divide(ss, _select(pos, dof, _full_like(dof, 1))), _full_like(ss, np.nan))


def nanstd(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None):
    """Standard deviation ignoring NaNs: ``sqrt(nanvar(...))``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.nanstd(dnp.array([1.0, dnp.nan, 3.0]))
        Array(1., dtype=float32)
    """
    return sqrt(nanvar(a, axis, dtype, out, ddof, keepdims, where=where))


# --------------------------------------------------------------------------- averages


def average(a, axis=None, weights=None, returned=False, *, keepdims=False):
    """The (weighted) average over ``axis``, as ``numpy.average``.

    Args:
        a: the data.
        axis: an int, a tuple of ints or None (all axes).
        weights: None, an array of ``a``'s shape, or a 1-D array along ``axis`` (an int).
        returned: also return the sum of the weights, broadcast to the result's shape.
        keepdims: keep the reduced axes with size 1.

    Returns:
        The average, or ``(average, sum_of_weights)`` when ``returned``.

    Raises:
        ValueError: ``weights`` does not fit ``a`` and ``axis``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.average(dnp.array([1.0, 2.0, 4.0]), weights=dnp.array([1.0, 1.0, 2.0]))
        Array(2.75, dtype=float32)
    """
    check_arraylike("average", a)
    a = asarray_any(a)
    shape = _aval(a).shape
    axes = reduction_axes(axis, len(shape), "average")
    if weights is None:
        (a,) = promote_inexact("average", a)
        if _aval(a).weak_type:
            a = E.convert_element_type(a, _aval(a).dtype)
        avg = divide(_sum(a, axes, keepdims=keepdims), float(_count_of(shape, axes)))
        if not returned:
            return avg
        return avg, _full_like(avg, _count_of(shape, axes))
    a, w = promote_inexact("average", a, weights)
    wshape = _aval(w).shape
    if wshape != shape:
        if axis is None or not isinstance(axis, (int, np.integer)):
            raise ValueError(
                f"average: weights of shape {wshape} differ from a's shape {shape}; give "
                "weights of a's shape, or 1-D weights with an int axis."
            )
        if len(wshape) != 1 or wshape[0] != shape[axes[0]]:
            raise ValueError(
                f"average: 1-D weights must have the length of axis {axis} of a (shape "
                f"{shape}), got shape {wshape}."
            )
        bshape = [1] * len(shape)
        bshape[axes[0]] = wshape[0]
        w = broadcast_to(reshape(w, tuple(bshape)), shape)
    scl = _sum(w, axes, keepdims=keepdims)
    avg = divide(_sum(multiply(a, w), axes, keepdims=keepdims), scl)
    return (avg, broadcast_to(scl, _aval(avg).shape)) if returned else avg


def _count_of(shape, axes):
    return int(np.prod([shape[i] for i in axes], dtype=np.int64))


def ptp(a, axis=None, out=None, keepdims=False):
    """Range (maximum minus minimum) along ``axis``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.ptp(dnp.array([[1, 5], [3, 2]]), axis=1)
        Array([4, 1], dtype=int32)
    """
    _no_out(out, "ptp")
    return subtract(_max(a, axis, keepdims=keepdims), _min(a, axis, keepdims=keepdims))


def _as_2d_rows(x, rowvar, dtype, fname, argname):
    x = asarray_any(x)
    if _aval(x).ndim > 2:
        raise ValueError(
            f"{fname}: `{argname}` must have at most 2 dimensions, got shape {_aval(x).shape}."
        )
    if dtype is not None:
        x = asarray_any(x, dtype)
    if _aval(x).ndim < 2:
        x = reshape(x, (1, -1))
    if not rowvar and _aval(x).shape[0] != 1:
        x = S.transpose(x, (1, 0))
    return x


def _check_weights(w, n, fname, argname, integer):
    w = asarray_any(w)
    if _aval(w).ndim != 1 or _aval(w).shape[0] != n:
        raise ValueError(
            f"{fname}: `{argname}` must be 1-D with one weight per observation ({n}), got "
            f"shape {_aval(w).shape}."
        )
    concrete = w.to_concrete_value() if isinstance(w, Tracer) else w
    if concrete is not None:
        v = np.asarray(concrete)
        if integer and v.dtype.kind == "f" and not np.all(v == np.floor(v)):
            raise TypeError(f"{fname}: `{argname}` must hold integers, got {v.tolist()}.")
        if (v < 0).any():
            raise ValueError(f"{fname}: `{argname}` must be non-negative, got {v.tolist()}.")
    return w


def cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None, *, dtype=None):
    """The covariance matrix of the variables in ``m`` (and ``y``), as ``numpy.cov``.

    Args:
        m: 1-D or 2-D data; each row is a variable and each column an observation (the
            other way with ``rowvar=False``).
        y: more variables, stacked under ``m``'s.
        rowvar: whether rows are variables.
        bias: normalize by ``N`` rather than ``N - 1``.
        ddof: overrides ``bias``: normalize by ``N - ddof``.
        fweights: integer frequency weights per observation.
        aweights: observation weights.
        dtype: the computation dtype (default: the promoted inexact dtype).

    Returns:
        The covariance matrix, with size-1 axes squeezed (a scalar for one variable).

    Raises:
        ValueError: more than 2 dimensions, or weights of the wrong shape or sign.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.cov(dnp.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]]))
        Array([[ 1., -1.],
               [-1.,  1.]], dtype=float32)
    """
    x = _as_2d_rows(m, rowvar, dtype, "cov", "m")
    if y is not None:
        y = _as_2d_rows(y, rowvar, dtype, "cov", "y")
        x, y = promote("cov", x, y)
        if _aval(x).shape[1] != _aval(y).shape[1]:
            raise ValueError(
                f"cov: m and y must have the same number of observations, got shapes "
                f"{_aval(x).shape} and {_aval(y).shape} (after orienting by rowvar)."
            )
        x = concatenate([x, y], 0)
    (x,) = promote_inexact("cov", x)
    if _aval(x).weak_type:
        x = E.convert_element_type(x, _aval(x).dtype)
    dt = _aval(x).dtype
    nvar, nobs = _aval(x).shape
    if ddof is None:
        ddof = 0 if bias else 1
    w = None
    if fweights is not None:
        w = E.convert_element_type(_check_weights(fweights, nobs, "cov", "fweights", True), dt)
    aw = None
    if aweights is not None:
        aw = E.convert_element_type(_check_weights(aweights, nobs, "cov", "aweights", False), dt)
        w = aw if w is None else multiply(w, aw)
    if w is None:
        avg = divide(_sum(x, 1), float(nobs))
        fact = asarray_any(float(nobs - ddof), dt)
    else:
        w_sum = _sum(w)
        avg = divide(_sum(multiply(x, reshape(w, (1, -1))), 1), w_sum)
        if ddof == 0:
            fact = w_sum
        elif aw is None:
            fact = subtract(w_sum, float(ddof))
        else:
            fact = subtract(w_sum, multiply(float(ddof), divide(_sum(multiply(w, aw)), w_sum)))
    fact = _select(greater(fact, _full_like(fact, 0)), fact, _full_like(fact, 0))
    xc = subtract(x, reshape(avg, (nvar, 1)))
    xw = xc if w is None else multiply(xc, reshape(w, (1, -1)))
    c = S.dot_general(xc, xw, (((1,), (1,)), ((), ())))
    c = divide(c, fact)
    keep = tuple(i for i, s in enumerate(_aval(c).shape) if s != 1)
    return reshape(c, tuple(_aval(c).shape[i] for i in keep))


def corrcoef(x, y=None, rowvar=True, *, dtype=None):
    """Pearson correlation coefficients: :func:`cov` normalized by the standard deviations,
    clipped to ``[-1, 1]``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.corrcoef(dnp.array([[0.0, 1.0, 2.0], [0.0, 2.0, 4.0]]))
        Array([[1., 1.],
               [1., 1.]], dtype=float32)
    """
    c = cov(x, y, rowvar, dtype=dtype)
    if _aval(c).ndim == 0:
        return divide(c, c)
    from ._triangular import diagonal

    std = sqrt(diagonal(c))
    n = _aval(std).shape[0]
    c = divide(divide(c, reshape(std, (n, 1))), reshape(std, (1, n)))
    return E.max(E.min(c, _full_like(c, 1)), _full_like(c, -1))


# --------------------------------------------------------------------------- bincount


def bincount(x, weights=None, minlength=0, *, length=None):
    """Count the occurrences of each non-negative integer in ``x`` (or sum their
    ``weights``).

    Args:
        x: a 1-D array of non-negative integers.
        weights: optional weights, one per entry of ``x``.
        minlength: the minimum number of bins.
        length: the static number of bins; required under ``jit``/``vmap``. Values outside
            ``[0, length)`` are dropped.

    Returns:
        An int32 array of counts, or the weights' dtype with ``weights``.

    Raises:
        ConcretizationTypeError: ``x`` is traced and ``length`` is None.
        ValueError: ``x`` is not 1-D or (when concrete) holds negative values.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.bincount(dnp.array([0, 1, 1, 3]))
        Array([1, 2, 0, 1], dtype=int32)
    """
    check_arraylike("bincount", x)
    x = asarray_any(x)
    if _aval(x).ndim != 1:
        raise ValueError(f"bincount: `x` must be 1-D, got shape {_aval(x).shape}.")
    if not _dtypes.is_int(_aval(x).dtype):
        raise TypeError(f"bincount: `x` must hold integers, got {_aval(x).dtype}.")
    minlength = _static_int(minlength, "bincount", "minlength")
    if minlength < 0:
        raise ValueError(f"bincount: `minlength` must be non-negative, got {minlength}.")
    concrete = x.to_concrete_value() if isinstance(x, Tracer) else x
    if concrete is not None:
        v = np.asarray(concrete)
        if (v < 0).any():
            raise ValueError(f"bincount: `x` must be non-negative, got {int(v.min())}.")
        if length is None:
            length = max(int(v.max()) + 1 if v.size else 0, minlength)
    if length is None:
        raise ConcretizationTypeError(
            "bincount: `x` is traced (under jit or vmap), so the number of bins is unknown. "
            "Pass length=<int> (the static number of bins), e.g. dnp.bincount(x, length=10)."
        )
    length = _static_int(length, "bincount", "length")
    n = _aval(x).shape[0]
    if weights is None:
        w = S.full((n,), 1, _INT)
    else:
        w = asarray_any(weights)
        if _aval(w).shape != (n,):
            raise ValueError(
                f"bincount: weights of shape {_aval(w).shape} must have x's shape ({n},)."
            )
        if _aval(w).dtype == np.bool_:
            w = E.convert_element_type(w, _INT)
        elif _aval(w).weak_type:
            w = E.convert_element_type(w, _aval(w).dtype)
    idx = E.convert_element_type(x, _INT)
    # Negative values would wrap around as indices: send them out of bounds (dropped).
    idx = _select(less(idx, _full_like(idx, 0)), _full_like(idx, length), idx)
    out = S.full((length,), 0, _aval(w).dtype)
    return out.at[idx].add(w, mode="drop")


# --------------------------------------------------------------------------- polynomials


def _poly(fname, p):
    check_arraylike(fname, p)
    p = asarray_any(p)
    if _aval(p).ndim != 1:
        raise ValueError(f"{fname}: coefficients must be 1-D, got shape {_aval(p).shape}.")
    return p


def polyval(p, x):
    """Evaluate the polynomial with coefficients ``p`` (highest power first) at ``x``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.polyval(dnp.array([1, 0, -1]), dnp.array([2, 3]))
        Array([3, 8], dtype=int32)
    """
    p = _poly("polyval", p)
    check_arraylike("polyval", x)
    p, x = promote("polyval", p, x)
    y = S.full(_aval(x).shape, 0, _aval(x).dtype)
    for i in range(_aval(p).shape[0]):
        y = add(multiply(y, x), p[i])
    return y


def _align(a1, a2, fname):
    a1, a2 = promote(fname, _poly(fname, a1), _poly(fname, a2))
    n1, n2 = _aval(a1).shape[0], _aval(a2).shape[0]
    n = max(n1, n2)
    zero1, zero2 = S.full((), 0, _aval(a1).dtype), S.full((), 0, _aval(a2).dtype)
    a1 = S.pad(a1, zero1, [(n - n1, 0, 0)]) if n1 < n else a1
    a2 = S.pad(a2, zero2, [(n - n2, 0, 0)]) if n2 < n else a2
    return a1, a2


def polyadd(a1, a2):
    """The sum of two polynomials (coefficients highest power first).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.polyadd(dnp.array([1, 2]), dnp.array([1, 0, 0]))
        Array([1, 1, 2], dtype=int32)
    """
    a1, a2 = _align(a1, a2, "polyadd")
    return add(a1, a2)


def polysub(a1, a2):
    """The difference of two polynomials (coefficients highest power first).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.polysub(dnp.array([1, 2]), dnp.array([1, 0, 0]))
        Array([-1,  1,  2], dtype=int32)
    """
    a1, a2 = _align(a1, a2, "polysub")
    return subtract(a1, a2)


def polymul(a1, a2):
    """The product of two polynomials (the full convolution of their coefficients).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.polymul(dnp.array([1, 1]), dnp.array([1, -1]))
        Array([ 1,  0, -1], dtype=int32)
    """
    return convolve(_poly("polymul", a1), _poly("polymul", a2), "full")


def polyder(p, m=1):
    """The ``m``-th derivative of a polynomial.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.polyder(dnp.array([1, 1, 1, 1]))
        Array([3, 2, 1], dtype=int32)
    """
    p = _poly("polyder", p)
    m = _static_int(m, "polyder", "m")
    if m < 0:
        raise ValueError(f"polyder: the order `m` must be non-negative, got {m}.")
    if _aval(p).weak_type:
        p = E.convert_element_type(p, _aval(p).dtype)
    for _ in range(m):
        n = _aval(p).shape[0]
        if n <= 1:  # a constant's derivative: NumPy gives no coefficients
            return S.full((0,), 0, _aval(p).dtype)
        powers = _wrap(np.arange(n - 1, 0, -1).astype(_aval(p).dtype))
        p = multiply(p[: n - 1], powers)
    return p


def polyint(p, m=1, k=None):
    """The ``m``-th antiderivative of a polynomial, with integration constants ``k``
    (a scalar or ``m`` values, default 0).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.polyint(dnp.array([3.0, 2.0, 1.0]))
        Array([1., 1., 1., 0.], dtype=float32)
    """
    p = _poly("polyint", p)
    m = _static_int(m, "polyint", "m")
    if m < 0:
        raise ValueError(f"polyint: the order `m` must be non-negative, got {m}.")
    (p,) = promote_inexact("polyint", p)
    if _aval(p).weak_type:
        p = E.convert_element_type(p, _aval(p).dtype)
    dt = _aval(p).dtype
    ks = asarray_any(0 if k is None else k, dt)
    if _aval(ks).ndim == 0:
        ks = broadcast_to(ks, (m,))
    if _aval(ks).shape != (m,):
        raise ValueError(
            f"polyint: `k` must be a scalar or hold m={m} values, got shape {_aval(ks).shape}."
        )
    for i in range(m):
        n = _aval(p).shape[0]
        p = divide(p, _wrap(np.arange(n, 0, -1).astype(dt)))
        p = concatenate([p, reshape(ks[i], (1,))])
    return p


# --------------------------------------------------------------------------- convolutions


def _conv_operands(fname, a, v):
    check_arraylike(fname, a, v)
    a, v = promote(fname, a, v)
    for name, x in (("a", a), ("v", v)):
        if _aval(x).ndim != 1:
            raise ValueError(f"{fname}: `{name}` must be 1-D, got shape {_aval(x).shape}.")
        if _aval(x).shape[0] == 0:
            raise ValueError(f"{fname}: `{name}` cannot be empty.")
    dt = _aval(a).dtype
    if dt == np.bool_:
        raise TypeError(
            f"{fname}: boolean inputs are not supported; convert them with .astype(int)."
        )
    if _dtypes.is_complex(dt):
        raise NotImplementedError(f"{fname}: complex inputs are not supported yet.")
    if _aval(a).weak_type:
        a, v = E.convert_element_type(a, dt), E.convert_element_type(v, dt)
    return a, v


def _full_correlation(a, v):
    """``z[k] = sum_n a[n + k - (m - 1)] v[n]`` for ``k`` in ``[0, n + m - 1)``."""
    n, m = _aval(a).shape[0], _aval(v).shape[0]
    out = conv_general_dilated(
        reshape(a, (1, 1, n)), reshape(v, (1, 1, m)), (1,), ((m - 1, m - 1),)
    )
    return reshape(out, (n + m - 1,))


def _mode_slice(z, n, m, mode, fname, correlation):
    """The ``mode`` part of the full result ``z`` (NumPy's centering, found per case)."""
    if mode == "full":
        return z
    if mode == "valid":
        size, start = max(n, m) - min(n, m) + 1, min(n, m) - 1
    elif mode == "same":
        size = max(n, m)
        # NumPy's correlate swaps its operands when v is longer, which moves the center.
        start = min(n, m) // 2 if correlation and m > n else (min(n, m) - 1) // 2
    else:
        raise ValueError(f"{fname}: mode must be 'full', 'same' or 'valid', got {mode!r}.")
    return S.slice_in_dim(z, start, start + size, 1, 0)


def convolve(a, v, mode="full"):
    """The discrete linear convolution of two 1-D arrays, as ``numpy.convolve``.

    Args:
        a: the first 1-D array.
        v: the second 1-D array.
        mode: ``"full"`` (length ``n + m - 1``), ``"same"`` (``max(n, m)``, centered) or
            ``"valid"`` (only full overlaps, ``max(n, m) - min(n, m) + 1``).

    Returns:
        The convolution, of the promoted dtype.

    Raises:
        ValueError: an empty or non-1-D input, or an unknown mode.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.convolve(dnp.array([1.0, 2.0, 3.0]), dnp.array([0.0, 1.0, 0.5]))
        Array([0. , 1. , 2.5, 4. , 1.5], dtype=float32)
    """
    a, v = _conv_operands("convolve", a, v)
    n, m = _aval(a).shape[0], _aval(v).shape[0]
    z = _full_correlation(a, S.rev(v, (0,)))
    return _mode_slice(z, n, m, mode, "convolve", False)


def correlate(a, v, mode="valid"):
    """The cross-correlation ``z[k] = sum_n a[n + k] * v[n]`` of two 1-D arrays, as
    ``numpy.correlate``.

    Args:
        a: the first 1-D array.
        v: the second 1-D array.
        mode: ``"valid"`` (default), ``"same"`` or ``"full"``, as in :func:`convolve`.

    Returns:
        The correlation, of the promoted dtype.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.correlate(dnp.array([1.0, 2.0, 3.0]), dnp.array([0.0, 1.0, 0.5]))
        Array([3.5], dtype=float32)
    """
    a, v = _conv_operands("correlate", a, v)
    n, m = _aval(a).shape[0], _aval(v).shape[0]
    z = _full_correlation(a, v)
    return _mode_slice(z, n, m, mode, "correlate", True)


# --------------------------------------------------------------------------- elementwise helpers


def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """Replace NaN with ``nan``, +inf with ``posinf`` and -inf with ``neginf`` (default:
    the dtype's largest and smallest finite values). Integers are returned unchanged.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.nan_to_num(dnp.array([dnp.nan, 1.0, -dnp.inf]), neginf=-9.0)
        Array([ 0.,  1., -9.], dtype=float32)
    """
    check_arraylike("nan_to_num", x)
    x = asarray_any(x)
    dt = _aval(x).dtype
    if not _dtypes.is_inexact(dt):
        return x
    if _dtypes.is_complex(dt):
        raise NotImplementedError("nan_to_num: complex inputs are not supported yet.")
    info = _dtypes.finfo(dt)
    posinf = float(info.max) if posinf is None else posinf
    neginf = float(info.min) if neginf is None else neginf
    out = _select(isnan(x), asarray_any(nan, dt), x)
    out = _select(E.eq(x, _full_like(x, np.inf)), asarray_any(posinf, dt), out)
    return _select(E.eq(x, _full_like(x, -np.inf)), asarray_any(neginf, dt), out)


def sinc(x, /):
    """The normalized sinc function ``sin(pi x) / (pi x)``, 1 at 0 (with correct
    derivatives there).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.sinc(dnp.array([0.0, 0.5]))
        Array([1.        , 0.63661975], dtype=float32)
    """
    check_arraylike("sinc", x)
    (x,) = promote_inexact("sinc", x)
    px = multiply(x, np.pi)
    small = less(_abs(px), _full_like(px, 1e-2))
    safe = _select(small, _full_like(px, 1.0), px)
    exact = divide(sin(safe), safe)
    # Near 0, the Taylor series 1 - t^2/6 + t^4/120 - t^6/5040 has the right derivatives
    # (a guarded division would give a zero second derivative at 0).
    t2 = multiply(px, px)
    series = subtract(
        1.0,
        multiply(
            t2, subtract(1.0 / 6, multiply(t2, subtract(1.0 / 120, multiply(t2, 1.0 / 5040))))
        ),
    )
    out = _select(small, series, exact)
    # 1.0 - x keeps x's dtype but not its weak type; restore it for weak inputs.
    if _aval(out).weak_type != _aval(x).weak_type:
        out = E.convert_element_type(out, _aval(x).dtype, _aval(x).weak_type)
    return out


def heaviside(x1, x2, /):
    """The Heaviside step: 0 where ``x1 < 0``, ``x2`` where ``x1 == 0``, 1 where
    ``x1 > 0`` (NaN stays NaN).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.heaviside(dnp.array([-1.0, 0.0, 2.0]), 0.5)
        Array([0. , 0.5, 1. ], dtype=float32)
    """
    check_arraylike("heaviside", x1, x2)
    x1, x2 = promote_inexact("heaviside", x1, x2)
    shape = broadcast_shapes(_aval(x1).shape, _aval(x2).shape, fname="heaviside")
    x1, x2 = broadcast_to(x1, shape), broadcast_to(x2, shape)
    zero, one = _full_like(x1, 0), _full_like(x1, 1)
    out = _select(less(x1, zero), zero, _select(greater(x1, zero), one, x2))
    return _select(isnan(x1), x1, out)


def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """The cross product of 3-element (or 2-element) vectors along the given axes.

    Two 2-element vectors give the scalar z component; a 2-element and a 3-element vector
    treat the missing z as 0.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.cross(dnp.array([1.0, 0.0, 0.0]), dnp.array([0.0, 1.0, 0.0]))
        Array([0., 0., 1.], dtype=float32)
    """
    check_arraylike("cross", a, b)
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = promote("cross", a, b)
    a = moveaxis(a, canonical_axis(axisa, _aval(a).ndim, "cross", "axisa"), -1)
    b = moveaxis(b, canonical_axis(axisb, _aval(b).ndim, "cross", "axisb"), -1)
    na, nb = _aval(a).shape[-1], _aval(b).shape[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ValueError(
            f"cross: vectors must have 2 or 3 components along the given axes, got {na} and "
            f"{nb} (shapes {_aval(a).shape} and {_aval(b).shape} after moving the axes last)."
        )
    shape = broadcast_shapes(_aval(a).shape[:-1], _aval(b).shape[:-1], fname="cross")

    def comp(x, i):
        return broadcast_to(x[..., i], shape)

    a0, a1, b0, b1 = comp(a, 0), comp(a, 1), comp(b, 0), comp(b, 1)
    if na == 2 and nb == 2:
        return subtract(multiply(a0, b1), multiply(a1, b0))
    zero = S.full(shape, 0, _aval(a0).dtype)
    a2 = comp(a, 2) if na == 3 else zero
    b2 = comp(b, 2) if nb == 3 else zero
    c = [
        subtract(multiply(a1, b2), multiply(a2, b1)),
        subtract(multiply(a2, b0), multiply(a0, b2)),
        subtract(multiply(a0, b1), multiply(a1, b0)),
    ]
    out = S.concatenate([reshape(ci, (*shape, 1)) for ci in c], len(shape))
    return moveaxis(out, -1, canonical_axis(axisc, len(shape) + 1, "cross", "axisc"))


def vecdot(x1, x2, /, *, axis=-1):
    """The dot product of vectors along ``axis``, broadcasting the other axes (Array API).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.vecdot(dnp.array([[1.0, 2.0], [3.0, 4.0]]), dnp.array([1.0, 1.0]))
        Array([3., 7.], dtype=float32)
    """
    check_arraylike("vecdot", x1, x2)
    x1, x2 = promote("vecdot", x1, x2)
    s1, s2 = _aval(x1).shape, _aval(x2).shape
    nd = max(len(s1), len(s2))
    if not s1 or not s2:
        raise ValueError(f"vecdot: needs arrays of at least 1 dimension, got shapes {s1} and {s2}.")
    ax1 = canonical_axis(axis, len(s1), "vecdot")
    ax2 = canonical_axis(axis, len(s2), "vecdot")
    if s1[ax1] != s2[ax2]:
        raise ValueError(
            f"vecdot: the vectors along axis {axis} have different lengths: shapes {s1} and {s2}."
        )
    x1, x2 = moveaxis(x1, ax1, -1), moveaxis(x2, ax2, -1)
    del nd
    return _sum(multiply(x1, x2), -1)


# --------------------------------------------------------------------------- calculus


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """Integrate ``y`` along ``axis`` with the trapezoidal rule.

    Args:
        y: the samples.
        x: the sample points (1-D along ``axis``, or of ``y``'s shape); default spacing
            ``dx``.
        dx: the spacing when ``x`` is None.
        axis: the axis to integrate along.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.trapezoid(dnp.array([1.0, 2.0, 3.0]))
        Array(4., dtype=float32)
    """
    check_arraylike("trapezoid", y)
    if x is None:
        (y,) = promote_inexact("trapezoid", y)
    else:
        y, x = promote_inexact("trapezoid", y, x)
    nd = _aval(y).ndim
    axis = canonical_axis(axis, nd, "trapezoid")
    y = moveaxis(y, axis, -1)
    n = _aval(y).shape[-1]
    mid = multiply(add(y[..., 1:], y[..., : max(n - 1, 0)]), 0.5)
    if x is None:
        return multiply(_sum(mid, -1), asarray_any(dx, _aval(mid).dtype))
    if _aval(x).ndim == 1:
        if _aval(x).shape[0] != n:
            raise ValueError(
                f"trapezoid: 1-D x of shape {_aval(x).shape} must have y's length {n} along axis."
            )
        d = subtract(x[1:], x[: max(n - 1, 0)])
    else:
        x = moveaxis(x, axis, -1)
        d = subtract(x[..., 1:], x[..., : max(n - 1, 0)])
    return _sum(multiply(mid, d), -1)


def gradient(f, *varargs, axis=None, edge_order=1):
    """The gradient of sampled values by central differences (one-sided at the edges), as
    ``numpy.gradient``.

    Args:
        f: the samples.
        *varargs: the spacing: nothing (1), one scalar for every axis, one scalar per axis,
            or 1-D coordinate arrays per axis (``edge_order=1`` only).
        axis: None (all axes), an int or a tuple of ints.
        edge_order: 1 or 2, the accuracy order at the edges.

    Returns:
        One array for a single axis, else a tuple of arrays.

    Raises:
        ValueError: an axis with fewer than ``edge_order + 1`` samples, or bad spacing.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.gradient(dnp.array([1.0, 2.0, 4.0, 7.0]))
        Array([1. , 1.5, 2.5, 3. ], dtype=float32)
    """
    check_arraylike("gradient", f)
    (f,) = promote_inexact("gradient", f)
    nd = _aval(f).ndim
    axes = reduction_axes(axis, nd, "gradient")
    if edge_order not in (1, 2):
        raise ValueError(f"gradient: edge_order must be 1 or 2, got {edge_order}.")
    if not varargs:
        spacings = [1.0] * len(axes)
    elif len(varargs) == 1 and np.ndim(varargs[0]) == 0:
        spacings = [varargs[0]] * len(axes)
    elif len(varargs) == len(axes):
        spacings = list(varargs)
    else:
        raise ValueError(
            f"gradient: give no spacing, one scalar, or one spacing per axis ({len(axes)}); got "
            f"{len(varargs)}."
        )
    dt = _aval(f).dtype
    outs = []
    for ax, h in zip(axes, spacings, strict=True):
        g = moveaxis(f, ax, -1)
        n = _aval(g).shape[-1]
        if n < edge_order + 1:
            raise ValueError(
                f"gradient: axis {ax} has {n} samples; at least edge_order + 1 = "
                f"{edge_order + 1} are needed."
            )
        if np.ndim(h) == 0:
            h = asarray_any(h, dt)
            inner = divide(subtract(g[..., 2:], g[..., : n - 2]), multiply(h, 2.0))
            if edge_order == 1:
                first = divide(subtract(g[..., 1:2], g[..., 0:1]), h)
                last = divide(subtract(g[..., n - 1 :], g[..., n - 2 : n - 1]), h)
            else:
                first = divide(
                    add(
                        add(multiply(g[..., 0:1], -1.5), multiply(g[..., 1:2], 2.0)),
                        multiply(g[..., 2:3], -0.5),
                    ),
                    h,
                )
                last = divide(
                    add(
                        add(multiply(g[..., n - 1 :], 1.5), multiply(g[..., n - 2 : n - 1], -2.0)),
                        multiply(g[..., n - 3 : n - 2], 0.5),
                    ),
                    h,
                )
        else:
            xs = asarray_any(h, dt)
            if _aval(xs).shape != (n,):
                raise ValueError(
                    f"gradient: coordinates for axis {ax} must have shape ({n},), got {_aval(xs).shape}."
                )
            if edge_order != 1:
                raise NotImplementedError("gradient: coordinate arrays support edge_order=1 only.")
            dx = subtract(xs[1:], xs[: n - 1])
            d1, d2 = dx[: n - 2], dx[1:]
            a = divide(E.neg(d2), multiply(d1, add(d1, d2)))
            b = divide(subtract(d2, d1), multiply(d1, d2))
            c = divide(d1, multiply(d2, add(d1, d2)))
            inner = add(
                add(multiply(a, g[..., : n - 2]), multiply(b, g[..., 1 : n - 1])),
                multiply(c, g[..., 2:]),
            )
            first = divide(subtract(g[..., 1:2], g[..., 0:1]), dx[0:1])
            last = divide(subtract(g[..., n - 1 :], g[..., n - 2 : n - 1]), dx[n - 2 :])
        out = concatenate([first, inner, last], -1)
        outs.append(moveaxis(out, -1, ax))
    return outs[0] if len(outs) == 1 else tuple(outs)
