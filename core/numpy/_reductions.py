"""Reductions in ``derivax.numpy``."""

from __future__ import annotations

import builtins

import numpy as np

from .. import _dtypes
from .._core import get_aval
from ..lax import _elementwise as E
from ..lax import _structural as S
from ._util import asarray_any, check_arraylike, reduction_axes


def _keep(out, in_shape, axes, keepdims):
    if not keepdims:
        return out
    shape = tuple(1 if i in axes else s for i, s in enumerate(in_shape))
    return S.reshape(out, shape)


def _prep(fname, a, axis, dtype=None):
    check_arraylike(fname, a)
    a = asarray_any(a)
    aval = get_aval(a)
    axes = reduction_axes(axis, aval.ndim, fname)
    if dtype is not None:
        a = E.convert_element_type(a, _dtypes.canonicalize_dtype(dtype))
    elif aval.weak_type:  # reductions give strongly typed results, as in JAX
        a = E.convert_element_type(a, aval.dtype)
    return a, aval.shape, axes


def _sum_dtype(a):
    """The accumulation dtype of sum/prod without ``dtype=``: bools and integers narrower
    than the default integer accumulate in the default int (unsigned ones in the unsigned
    type of that width), as the Array API standard and JAX do. None keeps the input dtype."""
    dt = get_aval(a).dtype
    default = _dtypes.default_int_dtype()
    if dt == np.bool_ or (dt.kind == "i" and dt.itemsize < default.itemsize):
        return default
    if dt.kind == "u" and dt.itemsize < default.itemsize:
        return np.dtype(f"uint{default.itemsize * 8}")
    return None


def sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):  # noqa: A001
    """Sum over ``axis`` (all axes by default). Bools and small ints sum as int32.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.sum(dnp.ones((2, 3)), axis=0)
        Array([2., 2., 2.], dtype=float32)
    """
    _no_out(out, "sum")
    a, shape, axes = _prep("sum", a, axis, dtype)
    if dtype is None and (d := _sum_dtype(a)) is not None:
        a = E.convert_element_type(a, d)
    if where is not None:
        from ._elementwise import where as _where

        a = _where(where, a, 0)
    r = S.reduce_sum(a, axes)
    if initial is not None:
        r = E.add(r, S.full(get_aval(r).shape, initial, get_aval(r).dtype))
    return _keep(r, shape, axes, keepdims)


def prod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """Product over ``axis``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.prod(dnp.array([1.0, 2.0, 3.0]))
        Array(6., dtype=float32)
    """
    _no_out(out, "prod")
    a, shape, axes = _prep("prod", a, axis, dtype)
    if dtype is None and (d := _sum_dtype(a)) is not None:
        a = E.convert_element_type(a, d)
    if where is not None:
        from ._elementwise import where as _where

        a = _where(where, a, 1)
    r = S.reduce_prod(a, axes)
    if initial is not None:
        r = E.mul(r, S.full(get_aval(r).shape, initial, get_aval(r).dtype))
    return _keep(r, shape, axes, keepdims)


def _minmax(fname, reducer, a, axis, out, keepdims, initial, where):
    _no_out(out, fname)
    a, shape, axes = _prep(fname, a, axis)
    if where is not None:
        if initial is None:
            raise ValueError(f"{fname}: where= needs initial= (the value for empty slots).")
        from ._elementwise import where as _where

        a = _where(where, a, initial)
    if initial is None and builtins.any(shape[i] == 0 for i in axes):
        raise ValueError(
            f"{fname}: zero-size reduction over axes {axes} of shape {shape} has no identity; "
            "pass initial=..."
        )
    r = reducer(a, axes)
    if initial is not None:
        init = S.full(get_aval(r).shape, initial, get_aval(r).dtype)
        r = E.max(r, init) if fname == "max" else E.min(r, init)
    return _keep(r, shape, axes, keepdims)


def max(a, axis=None, out=None, keepdims=False, initial=None, where=None):  # noqa: A001
    """Maximum over ``axis`` (NaN propagates).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.max(dnp.array([[1, 5], [3, 2]]), axis=1)
        Array([5, 3], dtype=int32)
    """
    return _minmax("max", S.reduce_max, a, axis, out, keepdims, initial, where)


def min(a, axis=None, out=None, keepdims=False, initial=None, where=None):  # noqa: A001
    """Minimum over ``axis`` (NaN propagates).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.min(dnp.array([[1, 5], [3, 2]]), axis=0)
        Array([1, 2], dtype=int32)
    """
    return _minmax("min", S.reduce_min, a, axis, out, keepdims, initial, where)


amax, amin = max, min


def all(a, axis=None, out=None, keepdims=False, *, where=None):  # noqa: A001
    """True where all elements along ``axis`` are nonzero.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.all(dnp.array([1, 0, 2]))
        Array(False, dtype=bool)
    """
    from ._elementwise import _as_bool

    _no_out(out, "all")
    a, shape, axes = _prep("all", a, axis)
    a = _as_bool(a)
    if where is not None:
        from ._elementwise import logical_not, logical_or

        a = logical_or(a, logical_not(where))
    return _keep(S.reduce_and(a, axes), shape, axes, keepdims)


def any(a, axis=None, out=None, keepdims=False, *, where=None):  # noqa: A001
    """True where any element along ``axis`` is nonzero.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.any(dnp.array([0, 0, 2]))
        Array(True, dtype=bool)
    """
    from ._elementwise import _as_bool

    _no_out(out, "any")
    a, shape, axes = _prep("any", a, axis)
    a = _as_bool(a)
    if where is not None:
        from ._elementwise import logical_and

        a = logical_and(a, where)
    return _keep(S.reduce_or(a, axes), shape, axes, keepdims)


def _count(shape, axes):
    return int(np.prod([shape[i] for i in axes], dtype=np.int64))


def mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    """Arithmetic mean over ``axis`` (ints give floats).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.mean(dnp.array([1, 2, 3, 4]))
        Array(2.5, dtype=float32)
    """
    _no_out(out, "mean")
    check_arraylike("mean", a)
    a = asarray_any(a)
    if dtype is None and not _dtypes.is_inexact(get_aval(a).dtype):
        dtype = _dtypes.default_float_dtype()
    a, shape, axes = _prep("mean", a, axis, dtype)
    if where is not None:
        s = sum(a, axis, keepdims=keepdims, where=where)
        from ._shape import broadcast_to

        n = sum(
            broadcast_to(asarray_any(where), shape),
            axis,
            dtype=get_aval(a).dtype,
            keepdims=keepdims,
        )
        return E.div(s, n)
    s = S.reduce_sum(a, axes)
    n = S.full(get_aval(s).shape, _count(shape, axes), get_aval(s).dtype)
    return _keep(E.div(s, n), shape, axes, keepdims)


def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, correction=None):
    """Variance over ``axis`` with ``ddof`` (or ``correction``) delta degrees of freedom.

    ``correction`` is the Array API standard's name for NumPy's ``ddof``; it may be a float.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.var(dnp.array([1.0, 2.0, 3.0, 4.0]), ddof=1)
        Array(1.6666666, dtype=float32)
    """
    _no_out(out, "var")
    if correction is not None:
        if ddof != 0 and ddof != correction:
            raise ValueError(
                f"var/std: ddof={ddof} and correction={correction} disagree; they are two "
                "names for one setting (NumPy's and the Array API's): pass only one."
            )
        ddof = correction
    check_arraylike("var", a)
    a = asarray_any(a)
    if dtype is None and not _dtypes.is_inexact(get_aval(a).dtype):
        dtype = _dtypes.default_float_dtype()
    a, shape, axes = _prep("var", a, axis, dtype)
    if where is not None:
        raise NotImplementedError("var: where= is not supported yet.")
    m = mean(a, axes, keepdims=True)
    from ._shape import broadcast_to

    d = E.sub(a, broadcast_to(m, shape))
    s = S.reduce_sum(E.mul(d, d), axes)
    n = _count(shape, axes) - ddof
    r = E.div(s, S.full(get_aval(s).shape, n if n > 0 else np.nan, get_aval(s).dtype))
    if n <= 0:
        r = E.mul(r, S.full(get_aval(r).shape, np.nan, get_aval(r).dtype))
    return _keep(r, shape, axes, keepdims)


def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, correction=None):
    """Standard deviation: ``sqrt(var(...))``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.std(dnp.array([1.0, 3.0]))
        Array(1., dtype=float32)
    """
    return E.sqrt(var(a, axis, dtype, out, ddof, keepdims, where=where, correction=correction))


def _arg(fname, prim_fn, a, axis, keepdims):
    check_arraylike(fname, a)
    a = asarray_any(a)
    aval = get_aval(a)
    if axis is None:
        if aval.size == 0:
            raise ValueError(f"{fname} of an empty array is undefined.")
        from ._shape import ravel

        r = prim_fn(ravel(a), 0)
        return S.reshape(r, (1,) * aval.ndim) if keepdims else r
    (ax,) = reduction_axes(axis, aval.ndim, fname)
    if aval.shape[ax] == 0:
        raise ValueError(f"{fname}: axis {ax} of shape {aval.shape} is empty.")
    r = prim_fn(a, ax)
    return _keep(r, aval.shape, (ax,), keepdims)


def argmax(a, axis=None, out=None, keepdims=False):
    """Index of the maximum (first on ties; the flat index when ``axis`` is None).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.argmax(dnp.array([[1, 5], [7, 2]]), axis=1)
        Array([1, 0], dtype=int32)
    """
    _no_out(out, "argmax")
    return _arg("argmax", S.argmax, a, axis, keepdims)


def argmin(a, axis=None, out=None, keepdims=False):
    """Index of the minimum (first on ties).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.argmin(dnp.array([3, 1, 2]))
        Array(1, dtype=int32)
    """
    _no_out(out, "argmin")
    return _arg("argmin", S.argmin, a, axis, keepdims)


def count_nonzero(a, axis=None, keepdims=False):
    """Number of nonzero elements along ``axis``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.count_nonzero(dnp.array([0, 1, 2]))
        Array(2, dtype=int32)
    """
    from ._elementwise import _as_bool

    return sum(_as_bool(a), axis, dtype=_dtypes.default_int_dtype(), keepdims=keepdims)


def _no_out(out, fname):
    if out is not None:
        raise ValueError(f"{fname}: out= is not supported (derivax arrays are immutable).")
