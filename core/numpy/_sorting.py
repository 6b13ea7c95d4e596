"""Sorting, searching, cumulative sums, order statistics, histograms and set operations.

Everything here is built on the ``sort`` and cumulative primitives of ``derivax.lax``,
so it runs under ``jit``, ``vmap`` and ``grad`` (sorting, quantiles, ``interp`` and
cumulative sums are differentiable in their float inputs, as in NumPy's calculus).

Functions whose output size depends on the data (``unique``, ``union1d``,
``intersect1d``, ``setdiff1d``) run eagerly on concrete arrays; under ``jit`` they need a
static ``size=`` (results are padded with ``fill_value`` or truncated), as in JAX.
"""

from __future__ import annotations

import builtins
import math
import operator
from typing import NamedTuple

import numpy as np

from .. import _dtypes
from .._core import ConcretizationTypeError, Tracer, concretization_message, get_aval
from ..lax import _elementwise as E
from ..lax import _indexing as IX
from ..lax import _sorting as L
from ..lax import _structural as S
from ._util import (
    asarray_any,
    canonical_axis,
    check_arraylike,
    promote,
    promote_inexact,
    reduction_axes,
)

__all__ = [
    "argpartition",
    "argsort",
    "cumprod",
    "cumsum",
    "cumulative_prod",
    "cumulative_sum",
    "diff",
    "digitize",
    "ediff1d",
    "histogram",
    "histogram_bin_edges",
    "interp",
    "intersect1d",
    "isin",
    "lexsort",
    "median",
    "nancumprod",
    "nancumsum",
    "nanmedian",
    "nanpercentile",
    "nanquantile",
    "partition",
    "percentile",
    "quantile",
    "searchsorted",
    "setdiff1d",
    "sort",
    "sort_complex",
    "union1d",
    "unique",
    "unique_all",
    "unique_counts",
    "unique_inverse",
    "unique_values",
]

_I32 = np.dtype(np.int32)

# --------------------------------------------------------------------------- small helpers


def _arr(fname, a):
    check_arraylike(fname, a)
    return asarray_any(a)


def _shape(x):
    return get_aval(x).shape


def _full_like(x, value, dtype=None):
    a = get_aval(x)
    return S.full(a.shape, value, a.dtype if dtype is None else dtype)


def _scalar(value, dtype):
    return S.full((), value, dtype)


def _ravel(x):
    return S.reshape(x, (get_aval(x).size,))


def _isnan(x):
    if not _dtypes.is_inexact(get_aval(x).dtype):
        return _full_like(x, False, np.bool_)
    return E.ne(x, x)


def _cast(x, dtype):
    return E.convert_element_type(x, dtype)


def _strong(x):
    """Drop the weak type (results of these functions are strongly typed, as in JAX)."""
    a = get_aval(x)
    return E.convert_element_type(x, a.dtype) if a.weak_type else x


def _axis_or_flat(fname, a, axis):
    """(array, axis): ``axis=None`` flattens."""
    if axis is None:
        return _ravel(a), 0
    nd = get_aval(a).ndim
    if nd == 0:
        raise ValueError(f"{fname}: axis={axis} is invalid for a 0-d array; use axis=None.")
    return a, canonical_axis(axis, nd, fname)


def _iota_like(x, axis):
    return S.iota(_I32, _shape(x), axis)


def _concrete_or_none(x):
    """The NumPy value of ``x`` if it is known (eager, or a tracer of eager values)."""
    if isinstance(x, Tracer):
        v = x.to_concrete_value()
        return None if v is None else np.asarray(v)
    return np.asarray(x)


# --------------------------------------------------------------------------- sort & friends


def _check_sort_args(fname, kind, order):
    if order is not None:
        raise NotImplementedError(f"{fname}: order= (structured arrays) is not supported.")
    del kind  # every sort is stable here, whatever algorithm is asked for


def sort(a, axis=-1, *, kind=None, order=None, stable=True, descending=False):
    """A sorted copy of ``a`` along ``axis`` (``axis=None`` flattens first).

    NaNs sort to the end (to the front with ``descending=True``); the sort is stable.

    Args:
        a: an array.
        axis: the axis to sort along, or None to sort the flattened array.
        kind: accepted for NumPy compatibility (the sort is always stable).
        order: not supported.
        stable: accepted for Array API compatibility.
        descending: sort from largest to smallest (equal values keep their order).

    Returns:
        The sorted array.

    Raises:
        ValueError: ``axis`` is out of range.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.sort(dnp.array([3.0, 1.0, 2.0]))
        Array([1., 2., 3.], dtype=float32)
        >>> dnp.sort(dnp.array([[3, 1], [0, 2]]), axis=0, descending=True)
        Array([[3, 2],
               [0, 1]], dtype=int32)
    """
    _check_sort_args("sort", kind, order)
    a, axis = _axis_or_flat("sort", _arr("sort", a), axis)
    if descending:
        return S.rev(L.sort(S.rev(a, (axis,)), dimension=axis), (axis,))
    return L.sort(a, dimension=axis)


def argsort(a, axis=-1, *, kind=None, order=None, stable=True, descending=False):
    """Indices that sort ``a`` along ``axis`` (int32; stable: ties keep their order).

    Args:
        a: an array.
        axis: the axis to sort along, or None for the flattened array.
        kind: accepted for NumPy compatibility.
        order: not supported.
        stable: accepted for Array API compatibility (the sort is always stable).
        descending: largest first; equal values still come lowest index first.

    Returns:
        An int32 array of ``a``'s shape (flattened with ``axis=None``).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.argsort(dnp.array([3.0, 1.0, 2.0]))
        Array([1, 2, 0], dtype=int32)
        >>> dnp.argsort(dnp.array([1, 3, 3, 2]), descending=True)
        Array([1, 2, 3, 0], dtype=int32)
    """
    _check_sort_args("argsort", kind, order)
    a, axis = _axis_or_flat("argsort", _arr("argsort", a), axis)
    if descending:
        n = _shape(a)[axis]
        _, idx = L.sort((S.rev(a, (axis,)), _iota_like(a, axis)), dimension=axis)
        return S.rev(E.sub(_full_like(idx, n - 1), idx), (axis,))
    _, idx = L.sort((a, _iota_like(a, axis)), dimension=axis)
    return idx


def lexsort(keys, axis=-1):
    """Indices that sort by several keys; the **last** key is the primary one (NumPy).

    Args:
        keys: a sequence of arrays of one shape (or a 2-D array whose rows are the keys).
        axis: the axis to sort along.

    Returns:
        int32 indices of the keys' shape.

    Raises:
        TypeError: ``keys`` is empty or its arrays differ in shape.

    Example:
        >>> import derivax.numpy as dnp
        >>> surname = dnp.array([2, 1, 2, 1])
        >>> first = dnp.array([0, 5, 1, 3])
        >>> dnp.lexsort((first, surname))
        Array([3, 1, 0, 2], dtype=int32)
    """
    if isinstance(keys, (list, tuple)):
        ks = [_arr("lexsort", k) for k in keys]
    else:
        k = _arr("lexsort", keys)
        ks = [S.squeeze(S.slice_in_dim(k, i, i + 1, 1, 0), (0,)) for i in range(_shape(k)[0])]
    if not ks:
        raise TypeError("lexsort: need at least one key.")
    shapes = {_shape(k) for k in ks}
    if len(shapes) != 1:
        raise TypeError(f"lexsort: all keys must have the same shape, got {sorted(shapes)}.")
    nd = get_aval(ks[0]).ndim
    if nd == 0:
        raise TypeError("lexsort: keys must have at least one dimension.")
    axis = canonical_axis(axis, nd, "lexsort")
    outs = L.sort((*ks[::-1], _iota_like(ks[0], axis)), dimension=axis, num_keys=len(ks))
    return outs[-1]


def _check_kth(fname, kth, n):
    if not isinstance(kth, (int, np.integer)):
        raise TypeError(f"{fname}: kth must be a static int, got {type(kth).__name__}.")
    if not -n <= kth < n:
        raise ValueError(f"{fname}: kth={kth} is out of bounds for an axis of size {n}.")


def partition(a, kth, axis=-1):
    """``a`` rearranged so that position ``kth`` holds the value a full sort would put
    there, smaller-or-equal values before it and larger-or-equal values after it.

    This implementation returns the fully sorted array, which is one valid partition.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.partition(dnp.array([3.0, 1.0, 2.0, 0.0]), 1)[1]
        Array(1., dtype=float32)
    """
    a = _arr("partition", a)
    a, axis = _axis_or_flat("partition", a, axis)
    _check_kth("partition", kth, _shape(a)[axis])
    return L.sort(a, dimension=axis)


def argpartition(a, kth, axis=-1):
    """Indices that partition ``a`` around position ``kth`` (see ``partition``).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.argpartition(dnp.array([3.0, 1.0, 2.0, 0.0]), 1)[1]
        Array(1, dtype=int32)
    """
    a = _arr("argpartition", a)
    a, axis = _axis_or_flat("argpartition", a, axis)
    _check_kth("argpartition", kth, _shape(a)[axis])
    return argsort(a, axis)


def sort_complex(a):
    """Sort a 1-D array by real part, then imaginary part; the result is complex.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.sort_complex(dnp.array([3.0, 1.0, 2.0]))
        Array([1.+0.j, 2.+0.j, 3.+0.j], dtype=complex64)
    """
    a = sort(_arr("sort_complex", a), axis=0)
    dt = get_aval(a).dtype
    if dt.kind != "c":
        target = _dtypes.complex128 if dt.itemsize == 8 and dt.kind == "f" else _dtypes.complex64
        a = _cast(a, _dtypes.canonicalize_dtype(target, explicit=False))
    return a


# --------------------------------------------------------------------------- searchsorted


def _sort_lt(x, y):
    """``x < y`` in sort order (NaN above everything)."""
    lt = E.lt(x, y)
    if _dtypes.is_inexact(get_aval(x).dtype):
        lt = E.bitwise_or(lt, E.bitwise_and(_isnan(y), E.bitwise_not(_isnan(x))))
    return lt


def searchsorted(a, v, side="left", sorter=None, *, method="scan"):
    """Where to insert ``v`` into the sorted 1-D ``a`` to keep it sorted.

    ``side="left"`` gives the first suitable index (``a[i-1] < v <= a[i]``),
    ``side="right"`` the last (``a[i-1] <= v < a[i]``). NaNs count as the largest values,
    matching where ``sort`` puts them.

    Args:
        a: a sorted 1-D array (or any 1-D array with ``sorter``).
        v: values to insert, any shape.
        side: ``"left"`` or ``"right"``.
        sorter: optional int indices that sort ``a``.
        method: ``"scan"`` or ``"sort"`` (binary search, ``O(len(v) log len(a))``) or
            ``"compare_all"`` (compares every pair: faster for small ``a``).

    Returns:
        int32 indices of ``v``'s shape.

    Raises:
        ValueError: ``a`` is not 1-D, or ``side``/``method`` is unknown.

    Example:
        >>> import derivax.numpy as dnp
        >>> a = dnp.array([1.0, 2.0, 2.0, 3.0])
        >>> dnp.searchsorted(a, dnp.array([2.0, 2.5]))
        Array([1, 3], dtype=int32)
        >>> dnp.searchsorted(a, 2.0, side="right")
        Array(3, dtype=int32)
    """
    check_arraylike("searchsorted", a, v)
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}.")
    if method not in ("scan", "scan_unrolled", "sort", "compare_all"):
        raise ValueError(
            "searchsorted: method must be 'scan', 'scan_unrolled', 'sort' or 'compare_all', "
            f"got {method!r}."
        )
    a, v = promote("searchsorted", a, v)
    if get_aval(a).ndim != 1:
        raise ValueError(f"searchsorted: a must be 1-D, got shape {_shape(a)}.")
    if sorter is not None:
        from ._indexing import take

        a = take(a, asarray_any(sorter))
    a, v = _strong(a), _strong(v)
    n = _shape(a)[0]
    vshape = _shape(v)
    if n == 0:
        return S.full(vshape, 0, _I32)
    if method == "compare_all":
        aa = S.broadcast_in_dim(a, (*vshape, n), (len(vshape),))
        vv = S.broadcast_in_dim(v, (*vshape, n), tuple(range(len(vshape))))
        before = _sort_lt(aa, vv) if side == "left" else E.bitwise_not(_sort_lt(vv, aa))
        return S.reduce_sum(_cast(before, _I32), (len(vshape),))
    lo = S.full(vshape, 0, _I32)
    hi = S.full(vshape, n, _I32)
    for _ in range(builtins.max(1, math.ceil(math.log2(n + 1)))):
        mid = E.div(E.add(lo, hi), S.full(vshape, 2, _I32))
        am = IX.gather(a, [E.min(mid, S.full(vshape, n - 1, _I32))], mode="clip")
        go_right = _sort_lt(am, v) if side == "left" else E.bitwise_not(_sort_lt(v, am))
        go_right = E.bitwise_and(go_right, E.lt(lo, hi))
        lo = E.select(go_right, E.add(mid, S.full(vshape, 1, _I32)), lo)
        hi = E.select(go_right, hi, E.select(E.lt(lo, hi), mid, hi))
    return lo


def digitize(x, bins, right=False):
    """Index of the bin of each value of ``x`` (bins monotonic, increasing or decreasing).

    For increasing bins, ``right=False`` returns ``i`` with ``bins[i-1] <= x < bins[i]``
    (0 below the first edge, ``len(bins)`` above the last), like NumPy.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.digitize(dnp.array([0.5, 1.0, 2.5, 4.0]), dnp.array([1.0, 2.0, 3.0]))
        Array([0, 1, 2, 3], dtype=int32)
    """
    check_arraylike("digitize", x, bins)
    x, bins = promote("digitize", x, bins)
    if get_aval(bins).ndim != 1:
        raise ValueError(f"digitize: bins must be 1-D, got shape {_shape(bins)}.")
    n = _shape(bins)[0]
    if n == 0:
        return S.full(_shape(x), 0, _I32)
    side = "left" if right else "right"
    inc = searchsorted(bins, x, side=side)
    dec = E.sub(S.full(_shape(x), n, _I32), searchsorted(S.rev(bins, (0,)), x, side=side))
    first = S.slice_in_dim(bins, 0, 1)
    last = S.slice_in_dim(bins, n - 1, n)
    increasing = S.reshape(E.ge(last, first), ())
    return E.select(S.broadcast_in_dim(increasing, _shape(x), ()), inc, dec)


# --------------------------------------------------------------------------- cumulative sums


def _cum_dtype(a, dtype, fname):
    if dtype is not None:
        return _dtypes.canonicalize_dtype(dtype)
    dt = get_aval(a).dtype
    if dt == np.bool_:
        return _dtypes.default_int_dtype()
    return dt


def _cumulative(fname, prim_fn, a, axis, dtype, nan_to=None):
    a = _arr(fname, a)
    a, axis = _axis_or_flat(fname, a, axis)
    a = _strong(_cast(a, _cum_dtype(a, dtype, fname)))
    if nan_to is not None and _dtypes.is_inexact(get_aval(a).dtype):
        a = E.select(_isnan(a), _full_like(a, nan_to), a)
    return prim_fn(a, axis=axis)


def cumsum(a, axis=None, dtype=None, out=None):
    """Running sum along ``axis`` (over the flattened array by default).

    Bools accumulate as the default int; other dtypes keep their dtype (as in JAX).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.cumsum(dnp.array([[1, 2], [3, 4]]), axis=1)
        Array([[1, 3],
               [3, 7]], dtype=int32)
    """
    _no_out(out, "cumsum")
    return _cumulative("cumsum", L.cumsum, a, axis, dtype)


def cumprod(a, axis=None, dtype=None, out=None):
    """Running product along ``axis`` (over the flattened array by default).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.cumprod(dnp.array([1.0, 2.0, 3.0]))
        Array([1., 2., 6.], dtype=float32)
    """
    _no_out(out, "cumprod")
    return _cumulative("cumprod", L.cumprod, a, axis, dtype)


def nancumsum(a, axis=None, dtype=None, out=None):
    """``cumsum`` with NaNs counted as zero.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.nancumsum(dnp.array([1.0, dnp.nan, 2.0]))
        Array([1., 1., 3.], dtype=float32)
    """
    _no_out(out, "nancumsum")
    return _cumulative("nancumsum", L.cumsum, a, axis, dtype, nan_to=0)


def nancumprod(a, axis=None, dtype=None, out=None):
    """``cumprod`` with NaNs counted as one.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.nancumprod(dnp.array([2.0, dnp.nan, 3.0]))
        Array([2., 2., 6.], dtype=float32)
    """
    _no_out(out, "nancumprod")
    return _cumulative("nancumprod", L.cumprod, a, axis, dtype, nan_to=1)


def _cumulative_api(fname, prim_fn, initial, x, axis, dtype, include_initial):
    x = _arr(fname, x)
    nd = get_aval(x).ndim
    if axis is None:
        if nd > 1:
            raise ValueError(
                f"{fname}: axis is required for arrays of more than one dimension (got shape "
                f"{_shape(x)})."
            )
        axis = 0
    if nd == 0:
        raise ValueError(f"{fname}: the input must have at least one dimension.")
    axis = canonical_axis(axis, nd, fname)
    out = _cumulative(fname, prim_fn, x, axis, dtype)
    if include_initial:
        shape = list(_shape(out))
        shape[axis] = 1
        first = S.full(tuple(shape), initial, get_aval(out).dtype)
        out = S.concatenate([first, out], axis)
    return out


def cumulative_sum(x, /, *, axis=None, dtype=None, include_initial=False):
    """Array API running sum; ``include_initial=True`` prepends the empty sum (zero).

    Args:
        x: the input array.
        axis: the axis; required when ``x`` has more than one dimension.
        dtype: accumulate (and return) in this dtype.
        include_initial: start with a 0, so the axis grows by one.

    Returns:
        The running sums.

    Raises:
        ValueError: ``axis`` is missing for a multi-dimensional array.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.cumulative_sum(dnp.array([1, 2, 3]), include_initial=True)
        Array([0, 1, 3, 6], dtype=int32)
    """
    return _cumulative_api("cumulative_sum", L.cumsum, 0, x, axis, dtype, include_initial)


def cumulative_prod(x, /, *, axis=None, dtype=None, include_initial=False):
    """Array API running product; ``include_initial=True`` prepends the empty product (1).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.cumulative_prod(dnp.array([2.0, 3.0]), include_initial=True)
        Array([1., 2., 6.], dtype=float32)
    """
    return _cumulative_api("cumulative_prod", L.cumprod, 1, x, axis, dtype, include_initial)


def _no_out(out, fname):
    if out is not None:
        raise NotImplementedError(
            f"{fname}: out= is not supported (derivax arrays are immutable); use the return value."
        )


# --------------------------------------------------------------------------- differences


def _edge(fname, name, value, a, axis):
    """``prepend``/``append`` as an array with ``a``'s shape except 1 along ``axis``."""
    value = asarray_any(value)
    shape = list(_shape(a))
    if get_aval(value).ndim == 0:
        shape[axis] = 1
        return S.broadcast_in_dim(value, tuple(shape), ())
    if get_aval(value).ndim != len(shape):
        raise ValueError(
            f"{fname}: {name} of shape {_shape(value)} must be a scalar or have the rank of a "
            f"(shape {tuple(shape)})."
        )
    return value


def diff(a, n=1, axis=-1, prepend=None, append=None):
    """The ``n``-th discrete difference along ``axis`` (``a[1:] - a[:-1]``, ``n`` times).

    Bool arrays use ``!=`` as NumPy does. ``prepend``/``append`` (scalars or arrays) are
    joined to ``a`` along ``axis`` first.

    Args:
        a: the input array (at least 1-D).
        n: how many times to difference (``n=0`` returns ``a``).
        axis: the axis to difference along.
        prepend: values joined before ``a`` along ``axis``.
        append: values joined after ``a`` along ``axis``.

    Returns:
        An array whose ``axis`` is ``n`` shorter (plus the joined values).

    Raises:
        ValueError: ``n`` is negative or ``a`` is 0-d.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.diff(dnp.array([1.0, 4.0, 9.0, 16.0]))
        Array([3., 5., 7.], dtype=float32)
        >>> dnp.diff(dnp.array([1, 4, 9]), n=2)
        Array([2], dtype=int32)
    """
    a = _arr("diff", a)
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"diff: n must be a non-negative int, got {n!r}.")
    if n == 0:
        return a
    nd = get_aval(a).ndim
    if nd == 0:
        raise ValueError("diff: the input must have at least one dimension.")
    axis = canonical_axis(axis, nd, "diff")
    parts = [a]
    if prepend is not None:
        parts.insert(0, _edge("diff", "prepend", prepend, a, axis))
    if append is not None:
        parts.append(_edge("diff", "append", append, a, axis))
    if len(parts) > 1:
        parts = promote("diff", *parts)
        a = S.concatenate(parts, axis)
    a = _strong(a)
    for _ in range(n):
        m = _shape(a)[axis]
        if m == 0:
            break
        hi = S.slice_in_dim(a, 1, m, 1, axis)
        lo = S.slice_in_dim(a, 0, m - 1, 1, axis)
        a = E.ne(hi, lo) if get_aval(a).dtype == np.bool_ else E.sub(hi, lo)
    return a


def ediff1d(ary, to_end=None, to_begin=None):
    """Differences of consecutive elements of the flattened array, with optional values
    joined at the start and end.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.ediff1d(dnp.array([1, 2, 4, 7]), to_begin=0)
        Array([0, 1, 2, 3], dtype=int32)
    """
    a = _ravel(_arr("ediff1d", ary))
    out = diff(a) if get_aval(a).dtype != np.bool_ else diff(_cast(a, _I32))
    dt = get_aval(out).dtype
    parts = []
    if to_begin is not None:
        parts.append(_ravel(_cast(asarray_any(to_begin), dt)))
    parts.append(out)
    if to_end is not None:
        parts.append(_ravel(_cast(asarray_any(to_end), dt)))
    return S.concatenate(parts, 0) if len(parts) > 1 else out


# --------------------------------------------------------------------------- quantiles

_METHODS = ("linear", "lower", "higher", "nearest", "midpoint")


def _quantile(fname, a, q, axis, method, keepdims, ignore_nan):
    if method not in _METHODS:
        raise ValueError(
            f"{fname}: method={method!r} is not supported; use one of {', '.join(_METHODS)}."
        )
    check_arraylike(fname, a, q)
    a, q = promote_inexact(fname, a, q)
    a, q = _strong(a), _strong(q)
    if _dtypes.is_inexact(get_aval(a).dtype) and get_aval(a).dtype.kind == "c":
        raise TypeError(f"{fname}: complex input has no order; got {get_aval(a).dtype}.")
    shape = _shape(a)
    nd = len(shape)
    axes = reduction_axes(axis, nd, fname)
    kept = [d for d in range(nd) if d not in axes]
    n = int(np.prod([shape[d] for d in axes], dtype=np.int64))
    kept_shape = tuple(shape[d] for d in kept)
    m = int(np.prod(kept_shape, dtype=np.int64))
    x = S.reshape(S.transpose(a, (*kept, *axes)), (m, n))
    dt = get_aval(x).dtype
    if n == 0:
        raise ValueError(f"{fname}: cannot take a quantile over an empty axis (shape {shape}).")
    nan_mask = _isnan(x)
    xs = L.sort(x, dimension=1)  # NaNs last
    if ignore_nan:
        count = S.reduce_sum(_cast(E.bitwise_not(nan_mask), _I32), (1,))
    else:
        count = S.full((m,), n, _I32)
    qshape = _shape(q)
    full = (*qshape, m)
    qb = S.broadcast_in_dim(q, full, tuple(range(len(qshape))))
    cnt = S.broadcast_in_dim(count, full, (len(qshape),))
    last = E.sub(cnt, S.full(full, 1, _I32))
    pos = E.mul(qb, _cast(E.max(last, S.full(full, 0, _I32)), dt))
    low = E.floor(pos)
    frac = E.sub(pos, low)
    low_i = _cast(low, _I32)
    clip_hi = E.max(last, S.full(full, 0, _I32))
    low_i = E.min(E.max(low_i, S.full(full, 0, _I32)), clip_hi)
    high_i = E.min(E.add(low_i, S.full(full, 1, _I32)), clip_hi)
    rows = S.iota(_I32, full, len(qshape))
    v_low = IX.gather(xs, [rows, low_i], mode="clip")
    v_high = IX.gather(xs, [rows, high_i], mode="clip")
    if method == "linear":
        diff_ = E.sub(v_high, v_low)
        # NumPy's two-sided lerp: exact at both ends.
        out = E.select(
            E.ge(frac, _full_like(frac, 0.5)),
            E.sub(v_high, E.mul(diff_, E.sub(_full_like(frac, 1), frac))),
            E.add(v_low, E.mul(diff_, frac)),
        )
    elif method == "lower":
        out = v_low
    elif method == "higher":
        out = E.select(E.gt(frac, _full_like(frac, 0)), v_high, v_low)
    elif method == "nearest":
        # Round half to even, as NumPy does.
        up = E.gt(frac, _full_like(frac, 0.5))
        tie = E.eq(frac, _full_like(frac, 0.5))
        low_odd = E.eq(E.rem(low_i, S.full(full, 2, _I32)), S.full(full, 1, _I32))
        out = E.select(E.bitwise_or(up, E.bitwise_and(tie, low_odd)), v_high, v_low)
    else:  # midpoint
        half = _full_like(v_low, 0.5)
        mid = E.add(v_low, E.mul(E.sub(v_high, v_low), half))
        out = E.select(E.gt(frac, _full_like(frac, 0)), mid, v_low)
    if ignore_nan:
        bad = E.eq(cnt, S.full(full, 0, _I32))
    else:
        any_nan = S.reduce_or(nan_mask, (1,))
        bad = S.broadcast_in_dim(any_nan, full, (len(qshape),))
    out = E.select(bad, _full_like(out, np.nan), out)
    bad_q = E.bitwise_or(E.lt(qb, _full_like(qb, 0)), E.gt(qb, _full_like(qb, 1)))
    if isinstance(q, Tracer):
        out = E.select(bad_q, _full_like(out, np.nan), out)
    else:
        qv = np.asarray(q._value) if hasattr(q, "_value") else np.asarray(q)
        if np.any((qv < 0) | (qv > 1)):
            raise ValueError(f"{fname}: quantiles must be in the range [0, 1] (got {qv}).")
    if keepdims:
        out_shape = (*qshape, *(1 if d in axes else s for d, s in enumerate(shape)))
    else:
        out_shape = (*qshape, *kept_shape)
    return S.reshape(out, out_shape)


def quantile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
             keepdims=False):  # fmt: skip
    """The ``q``-th quantiles of ``a`` along ``axis`` (all axes by default).

    ``q`` (scalar or array, in ``[0, 1]``) gives the leading dimensions of the result.
    The position of a quantile among the ``n`` sorted values is ``q * (n - 1)``; ``method``
    says how to read a position between two values: ``"linear"`` interpolates,
    ``"lower"``/``"higher"`` take a neighbour, ``"nearest"`` rounds (half to even),
    ``"midpoint"`` averages the two. A NaN in a slice makes its result NaN (see
    ``nanquantile``). Differentiable in ``a`` (and in ``q`` for ``"linear"``).

    Args:
        a: the data.
        q: quantiles in ``[0, 1]``.
        axis: an int, a tuple of ints, or None (all axes).
        out: not supported.
        overwrite_input: ignored (arrays are immutable).
        method: one of ``"linear"``, ``"lower"``, ``"higher"``, ``"nearest"``, ``"midpoint"``.
        keepdims: keep the reduced axes as size 1.

    Returns:
        A float array of shape ``q.shape + reduced shape``.

    Raises:
        ValueError: an unknown ``method``, a concrete ``q`` outside ``[0, 1]``, or an
            empty reduction.

    Example:
        >>> import derivax.numpy as dnp
        >>> x = dnp.array([1.0, 2.0, 3.0, 4.0])
        >>> dnp.quantile(x, 0.5)
        Array(2.5, dtype=float32)
        >>> dnp.quantile(x, dnp.array([0.0, 1.0 / 3.0]), method="lower")
        Array([1., 2.], dtype=float32)
    """
    _no_out(out, "quantile")
    return _quantile("quantile", a, q, axis, method, keepdims, False)


def nanquantile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
                keepdims=False):  # fmt: skip
    """``quantile`` ignoring NaNs (a slice of only NaNs gives NaN).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.nanquantile(dnp.array([1.0, dnp.nan, 3.0]), 0.5)
        Array(2., dtype=float32)
    """
    _no_out(out, "nanquantile")
    return _quantile("nanquantile", a, q, axis, method, keepdims, True)


def _percent(q):
    q = asarray_any(q)
    if not _dtypes.is_inexact(get_aval(q).dtype):
        q = _cast(q, _dtypes.default_float_dtype())
    return E.div(q, _full_like(q, 100))


def percentile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
               keepdims=False):  # fmt: skip
    """``quantile`` with ``q`` in percent (``[0, 100]``).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.percentile(dnp.array([1.0, 2.0, 3.0, 4.0, 5.0]), 25)
        Array(2., dtype=float32)
    """
    _no_out(out, "percentile")
    check_arraylike("percentile", q)
    return _quantile("percentile", a, _percent(q), axis, method, keepdims, False)


def nanpercentile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
                  keepdims=False):  # fmt: skip
    """``nanquantile`` with ``q`` in percent.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.nanpercentile(dnp.array([1.0, dnp.nan, 3.0]), 50)
        Array(2., dtype=float32)
    """
    _no_out(out, "nanpercentile")
    check_arraylike("nanpercentile", q)
    return _quantile("nanpercentile", a, _percent(q), axis, method, keepdims, True)


def median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """The median along ``axis`` (mean of the two middle values for an even count).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.median(dnp.array([[1.0, 5.0, 2.0], [4.0, 3.0, 6.0]]), axis=1)
        Array([2., 4.], dtype=float32)
    """
    _no_out(out, "median")
    return _quantile("median", a, 0.5, axis, "linear", keepdims, False)


def nanmedian(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """The median ignoring NaNs.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.nanmedian(dnp.array([1.0, dnp.nan, 3.0, 4.0]))
        Array(3., dtype=float32)
    """
    _no_out(out, "nanmedian")
    return _quantile("nanmedian", a, 0.5, axis, "linear", keepdims, True)


# --------------------------------------------------------------------------- interp


def interp(x, xp, fp, left=None, right=None, period=None):
    """Piecewise-linear interpolation of the points ``(xp, fp)`` at ``x``.

    Args:
        x: where to evaluate.
        xp: increasing 1-D sample positions (any order with ``period``).
        fp: 1-D sample values, as long as ``xp``.
        left: value for ``x < xp[0]`` (default ``fp[0]``).
        right: value for ``x > xp[-1]`` (default ``fp[-1]``).
        period: treat the positions as periodic with this period (``left``/``right`` are
            then ignored).

    Returns:
        A float array of ``x``'s shape. Differentiable in ``x``, ``xp`` and ``fp``.

    Raises:
        ValueError: ``xp``/``fp`` are not 1-D of one length, or ``period`` is zero.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.interp(dnp.array([0.5, 1.5, 3.0]), dnp.array([0.0, 1.0, 2.0]),
        ...            dnp.array([0.0, 10.0, 20.0]))
        Array([ 5., 15., 20.], dtype=float32)
    """
    check_arraylike("interp", x, xp, fp)
    x, xp, fp = promote_inexact("interp", x, xp, fp)
    x, xp, fp = _strong(x), _strong(xp), _strong(fp)
    if get_aval(xp).ndim != 1 or get_aval(fp).ndim != 1 or _shape(xp) != _shape(fp):
        raise ValueError(
            f"interp: xp and fp must be 1-D of the same length, got shapes {_shape(xp)} and "
            f"{_shape(fp)}."
        )
    if _shape(xp)[0] == 0:
        raise ValueError("interp: xp and fp must not be empty.")
    dt = get_aval(x).dtype
    if period is not None:
        per = _cast(asarray_any(period), dt)
        pv = _concrete_or_none(per)
        if pv is not None and np.all(pv == 0):
            raise ValueError("interp: period must be nonzero.")
        per = E.abs(per)

        def wrap(v):
            p = S.broadcast_in_dim(per, _shape(v), ())
            r = E.rem(v, p)
            return E.select(E.lt(r, _full_like(r, 0)), E.add(r, p), r)

        x, xp = wrap(x), wrap(xp)
        xp, fp = L.sort((xp, fp), dimension=0)
        k = _shape(xp)[0]
        p1 = S.reshape(per, (1,))
        xp = S.concatenate(
            [E.sub(S.slice_in_dim(xp, k - 1, k), p1), xp, E.add(S.slice_in_dim(xp, 0, 1), p1)],
            0,
        )
        fp = S.concatenate([S.slice_in_dim(fp, k - 1, k), fp, S.slice_in_dim(fp, 0, 1)], 0)
        left = right = None
    k = _shape(xp)[0]
    xshape = _shape(x)
    if k == 1:
        out = S.broadcast_in_dim(S.reshape(fp, ()), xshape, ())
    else:
        i = searchsorted(xp, x, side="right")
        i = E.min(E.max(E.sub(i, S.full(xshape, 1, _I32)), S.full(xshape, 0, _I32)),
                  S.full(xshape, k - 2, _I32))  # fmt: skip
        x0 = IX.gather(xp, [i])
        x1 = IX.gather(xp, [E.add(i, S.full(xshape, 1, _I32))])
        f0 = IX.gather(fp, [i])
        f1 = IX.gather(fp, [E.add(i, S.full(xshape, 1, _I32))])
        dx = E.sub(x1, x0)
        zero = E.eq(dx, _full_like(dx, 0))
        safe_dx = E.select(zero, _full_like(dx, 1), dx)
        t = E.div(E.sub(x, x0), safe_dx)
        out = E.select(zero, f0, E.add(f0, E.mul(t, E.sub(f1, f0))))
    first_x = S.broadcast_in_dim(S.reshape(S.slice_in_dim(xp, 0, 1), ()), xshape, ())
    last_x = S.broadcast_in_dim(S.reshape(S.slice_in_dim(xp, k - 1, k), ()), xshape, ())

    def edge_value(v, idx):
        if v is None:
            v = S.reshape(S.slice_in_dim(fp, idx, idx + 1), ())
        else:
            v = _cast(asarray_any(v), get_aval(out).dtype)
        return S.broadcast_in_dim(v, xshape, ()) if _shape(v) != xshape else v

    out = E.select(E.lt(x, first_x), edge_value(left, 0), out)
    out = E.select(E.gt(x, last_x), edge_value(right, k - 1), out)
    return out


# --------------------------------------------------------------------------- histograms


def _bin_edges(fname, a, bins, range_):
    dt = get_aval(a).dtype
    if isinstance(bins, (int, np.integer)):
        if bins < 1:
            raise ValueError(f"{fname}: bins must be a positive int, got {bins}.")
        if range_ is None:
            if get_aval(a).size == 0:
                lo, hi = _scalar(0, dt), _scalar(1, dt)
            else:
                lo = S.reduce_min(a, tuple(range(get_aval(a).ndim)))
                hi = S.reduce_max(a, tuple(range(get_aval(a).ndim)))
        else:
            if len(range_) != 2:
                raise ValueError(f"{fname}: range must be a (min, max) pair, got {range_!r}.")
            lo = S.reshape(_cast(asarray_any(range_[0]), dt), ())
            hi = S.reshape(_cast(asarray_any(range_[1]), dt), ())
            lv, hv = _concrete_or_none(lo), _concrete_or_none(hi)
            if lv is not None and hv is not None and lv > hv:
                raise ValueError(f"{fname}: range min {lv} must not exceed max {hv}.")
        same = E.eq(lo, hi)
        lo = E.select(same, E.sub(lo, _scalar(0.5, dt)), lo)
        hi = E.select(same, E.add(hi, _scalar(0.5, dt)), hi)
        steps = _cast(S.iota(_I32, (bins + 1,)), dt)
        width = E.sub(hi, lo)
        frac = E.div(steps, S.full((bins + 1,), bins, dt))
        edges = E.add(
            S.broadcast_in_dim(lo, (bins + 1,), ()),
            E.mul(frac, S.broadcast_in_dim(width, (bins + 1,), ())),
        )
        # The last edge is exactly the maximum (no rounding past it).
        return S.concatenate([S.slice_in_dim(edges, 0, bins), S.reshape(hi, (1,))], 0)
    edges = _strong(_cast(asarray_any(bins), dt))
    if get_aval(edges).ndim != 1 or _shape(edges)[0] < 2:
        raise ValueError(
            f"{fname}: bins must be an int or a 1-D array of at least 2 edges, got shape "
            f"{_shape(edges)}."
        )
    return edges


def histogram_bin_edges(a, bins=10, range=None, weights=None):  # noqa: A002 - NumPy's name
    """The bin edges ``histogram`` would use.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.histogram_bin_edges(dnp.array([0.0, 1.0, 2.0]), bins=2)
        Array([0., 1., 2.], dtype=float32)
    """
    del weights
    (a,) = promote_inexact("histogram_bin_edges", a)
    return _bin_edges("histogram_bin_edges", _strong(_ravel(a)), bins, range)


def histogram(a, bins=10, range=None, weights=None, density=None):  # noqa: A002
    """Counts of the values of ``a`` (flattened) in each bin.

    Bins are half-open ``[edge_i, edge_{i+1})`` except the last, which includes its right
    edge; values outside the edges are not counted.

    Args:
        a: the data (flattened).
        bins: the number of equal-width bins, or the 1-D array of edges.
        range: ``(min, max)`` for int ``bins`` (default: the data's min and max).
        weights: an array like ``a``; each value counts its weight.
        density: normalise so the histogram integrates to 1.

    Returns:
        ``(hist, bin_edges)``: int32 counts (or floats with ``weights``/``density``) and
        the float edges.

    Raises:
        ValueError: bad ``bins``/``range``, or ``weights`` of another shape.

    Example:
        >>> import derivax.numpy as dnp
        >>> hist, edges = dnp.histogram(dnp.array([0.0, 0.5, 1.0, 2.0]), bins=2)
        >>> hist
        Array([2, 2], dtype=int32)
        >>> edges
        Array([0., 1., 2.], dtype=float32)
    """
    check_arraylike("histogram", a)
    (a,) = promote_inexact("histogram", a)
    shape = _shape(a)
    a = _strong(_ravel(a))
    edges = _bin_edges("histogram", a, bins, range)
    nb = _shape(edges)[0] - 1
    size = get_aval(a).size
    idx = E.sub(searchsorted(edges, a, side="right"), S.full((size,), 1, _I32))
    last = S.broadcast_in_dim(S.reshape(S.slice_in_dim(edges, nb, nb + 1), ()), (size,), ())
    idx = E.select(E.eq(a, last), S.full((size,), nb - 1, _I32), idx)
    outside = E.bitwise_or(
        E.lt(idx, S.full((size,), 0, _I32)), E.ge(idx, S.full((size,), nb, _I32))
    )
    idx = E.select(outside, S.full((size,), nb, _I32), idx)  # dropped by the scatter
    if weights is None:
        w = S.full((size,), 1, _I32 if not density else get_aval(a).dtype)
    else:
        w = asarray_any(weights)
        if _shape(w) != shape:
            raise ValueError(
                f"histogram: weights of shape {_shape(w)} must have a's shape {shape}."
            )
        w = _strong(_ravel(w))
        if density and not _dtypes.is_inexact(get_aval(w).dtype):
            w = _cast(w, get_aval(a).dtype)
    wdt = get_aval(w).dtype
    hist = IX.scatter(S.full((nb,), 0, wdt), [idx], w, combine="add", mode="drop")
    if density:
        widths = diff(edges)
        total = S.reduce_sum(hist, (0,))
        hist = E.div(hist, E.mul(S.broadcast_in_dim(total, (nb,), ()), _cast(widths, wdt)))
    return hist, edges


# --------------------------------------------------------------------------- unique


class UniqueAllResult(NamedTuple):
    """The result of ``unique_all``."""

    values: object
    indices: object
    inverse_indices: object
    counts: object


class UniqueCountsResult(NamedTuple):
    """The result of ``unique_counts``."""

    values: object
    counts: object


class UniqueInverseResult(NamedTuple):
    """The result of ``unique_inverse``."""

    values: object
    inverse_indices: object


def _size_error(fname, ar):
    raise ConcretizationTypeError(
        concretization_message(ar, f"derivax.numpy.{fname}")
        + f"\n{fname}: the number of unique values depends on the data, so under jit (or "
        "vmap) pass a static size=N (the result is padded with fill_value or truncated to N "
        "entries), e.g. "
        f"derivax.numpy.{fname}(x, size=x.size, fill_value=0)."
    )


def _check_size(fname, size):
    if size is None:
        return None
    size = operator.index(size)
    if size < 0:
        raise ValueError(f"{fname}: size must be non-negative, got {size}.")
    return size


def _pad_to(x, size, fill, axis=0):
    """Truncate or pad ``x`` along ``axis`` to ``size`` entries with ``fill`` (array/scalar)."""
    n = _shape(x)[axis]
    if n >= size:
        return S.slice_in_dim(x, 0, size, 1, axis)
    shape = list(_shape(x))
    shape[axis] = size - n
    fill = asarray_any(fill)
    fill = _cast(fill, get_aval(x).dtype)
    if get_aval(fill).ndim == 0:
        pad = S.broadcast_in_dim(fill, tuple(shape), ())
    else:
        pad = S.broadcast_in_dim(
            S.expand_dims(fill, (axis,)), tuple(shape), tuple(range(len(shape)))
        )
    return S.concatenate([x, pad], axis)


def _unique_eager(ar, v, axis, equal_nan, size, fill_value):
    """Indices from NumPy on the concrete values; the values are gathered from ``ar`` so
    that they stay differentiable."""
    if axis is None:
        flat = _ravel(ar)
        with np.errstate(all="ignore"):
            u, index, inverse, counts = np.unique(
                v.reshape(-1), return_index=True, return_inverse=True, return_counts=True,
                equal_nan=equal_nan,
            )  # fmt: skip
        values = IX.gather(flat, [_const(index)])
        inverse = inverse.reshape(v.shape)
        ax = 0
    else:
        with np.errstate(all="ignore"):
            u, index, inverse, counts = np.unique(
                v, return_index=True, return_inverse=True, return_counts=True, axis=axis,
                equal_nan=equal_nan,
            )  # fmt: skip
        moved = S.moveaxis(ar, axis, 0)
        values = S.moveaxis(IX.gather(moved, [_const(index)]), 0, axis)
        inverse = inverse.reshape(-1)
        ax = axis
    index, inverse, counts = _const(index), _const(inverse), _const(counts)
    if size is not None:
        n = _shape(values)[ax]
        if fill_value is None and n:
            fill = S.slice_in_dim(values, 0, 1, 1, ax)
            fill = S.squeeze(fill, (ax,))
        else:
            fill = 0 if fill_value is None else fill_value
        values = _pad_to(values, size, fill, ax)
        first_index = S.reshape(S.slice_in_dim(index, 0, 1), ()) if n else 0
        index = _pad_to(index, size, first_index)
        counts = _pad_to(counts, size, 0)
    return values, index, inverse, counts


def _const(a):
    return asarray_any(np.asarray(a).astype(np.int32))


def _unique_traced(ar, equal_nan, size, fill_value):
    """Sort-based unique of the flattened ``ar`` with a static output ``size``."""
    flat = _ravel(ar)
    n = _shape(flat)[0]
    iota = S.iota(_I32, (n,))
    xs, perm = L.sort((flat, iota), dimension=0)
    if n == 0:
        empty = S.full((size,), 0, _I32)
        fill = 0 if fill_value is None else fill_value
        values = S.full((size,), 0, get_aval(flat).dtype) if size else S.reshape(flat, (0,))
        if size:
            values = _pad_to(S.reshape(flat, (0,)), size, fill)
        return values, empty, S.reshape(iota, _shape(ar)), empty, S.full((size,), False, np.bool_)
    new = E.ne(S.slice_in_dim(xs, 1, n), S.slice_in_dim(xs, 0, n - 1))
    if equal_nan and _dtypes.is_inexact(get_aval(xs).dtype):
        both_nan = E.bitwise_and(
            _isnan(S.slice_in_dim(xs, 1, n)), _isnan(S.slice_in_dim(xs, 0, n - 1))
        )
        new = E.bitwise_and(new, E.bitwise_not(both_nan))
    is_first = S.concatenate([S.full((1,), True, np.bool_), new], 0)
    group = E.sub(L.cumsum(_cast(is_first, _I32)), S.full((n,), 1, _I32))
    # Only first elements of groups are written; others go out of range and are dropped.
    target = E.select(is_first, group, S.full((n,), size, _I32))
    if fill_value is None:
        fill = S.reshape(S.slice_in_dim(xs, 0, 1), ())
    else:
        fill = _cast(asarray_any(fill_value), get_aval(xs).dtype)
    base = S.broadcast_in_dim(fill, (size,), ())
    values = IX.scatter(base, [target], xs, combine="set", mode="drop")
    first_index = S.reshape(S.slice_in_dim(perm, 0, 1), ())
    index = IX.scatter(
        S.broadcast_in_dim(first_index, (size,), ()), [target], perm, combine="set", mode="drop"
    )
    inverse = IX.scatter(S.full((n,), 0, _I32), [perm], group, combine="set", mode="drop")
    counts = IX.scatter(
        S.full((size,), 0, _I32), [group], S.full((n,), 1, _I32), combine="add", mode="drop"
    )
    n_unique = S.reduce_sum(_cast(is_first, _I32), (0,))
    valid = E.lt(S.iota(_I32, (size,)), S.broadcast_in_dim(n_unique, (size,), ()))
    return values, index, S.reshape(inverse, _shape(ar)), counts, valid


def _unique(fname, ar, axis, equal_nan, size, fill_value):
    """(values, index, inverse, counts)."""
    ar = _strong(_arr(fname, ar))
    size = _check_size(fname, size)
    if axis is not None:
        axis = canonical_axis(axis, get_aval(ar).ndim, fname)
    v = _concrete_or_none(ar)
    if v is not None:
        return _unique_eager(ar, v, axis, equal_nan, size, fill_value)
    if size is None:
        _size_error(fname, ar)
    if axis is not None:
        raise NotImplementedError(
            f"{fname}: axis= is only supported on concrete arrays (outside jit/vmap)."
        )
    return _unique_traced(ar, equal_nan, size, fill_value)[:4]


def unique(ar, return_index=False, return_inverse=False, return_counts=False, axis=None, *,
           equal_nan=True, size=None, fill_value=None, sorted=True):  # noqa: A002  # fmt: skip
    """The sorted unique values of ``ar``, with optional indices, inverse and counts.

    Eager on concrete arrays. Under ``jit``/``vmap`` the number of unique values is
    unknown, so ``size=`` is required: the results are padded to ``size`` entries with
    ``fill_value`` (default: the smallest value) or truncated.

    Args:
        ar: the input array (flattened unless ``axis`` is given).
        return_index: also return the index of each value's first occurrence.
        return_inverse: also return, for each input entry, the index of its value in the
            result (shaped like ``ar`` for ``axis=None``).
        return_counts: also return how often each value occurs.
        axis: find unique slices along this axis (concrete arrays only).
        equal_nan: treat all NaNs as one value.
        size: the static length of the result (required under ``jit``).
        fill_value: the padding value when ``size`` exceeds the number of unique values.
        sorted: accepted for compatibility; the values are always sorted.

    Returns:
        The unique values, or a tuple with the requested extra int32 arrays.

    Raises:
        ConcretizationTypeError: ``ar`` is traced and ``size`` is not given.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.unique(dnp.array([3, 1, 3, 2]))
        Array([1, 2, 3], dtype=int32)
        >>> dnp.unique(dnp.array([3, 1, 3]), return_counts=True)
        (Array([1, 3], dtype=int32), Array([1, 2], dtype=int32))
        >>> dnp.unique(dnp.array([2, 2]), size=3, fill_value=0)
        Array([2, 0, 0], dtype=int32)
    """
    values, index, inverse, counts = _unique("unique", ar, axis, equal_nan, size, fill_value)
    extra = [
        x
        for flag, x in ((return_index, index), (return_inverse, inverse), (return_counts, counts))
        if flag
    ]
    return (values, *extra) if extra else values


def unique_values(x, /, *, size=None, fill_value=None):
    """Array API: the unique values of ``x`` (flattened, sorted).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.unique_values(dnp.array([2, 1, 2]))
        Array([1, 2], dtype=int32)
    """
    return _unique("unique_values", x, None, True, size, fill_value)[0]


def unique_counts(x, /, *, size=None, fill_value=None):
    """Array API: ``(values, counts)`` of the unique values of ``x``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.unique_counts(dnp.array([2, 1, 2])).counts
        Array([1, 2], dtype=int32)
    """
    values, _, _, counts = _unique("unique_counts", x, None, True, size, fill_value)
    return UniqueCountsResult(values, counts)


def unique_inverse(x, /, *, size=None, fill_value=None):
    """Array API: ``(values, inverse_indices)``; ``values[inverse_indices]`` rebuilds ``x``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.unique_inverse(dnp.array([2, 1, 2])).inverse_indices
        Array([1, 0, 1], dtype=int32)
    """
    values, _, inverse, _ = _unique("unique_inverse", x, None, True, size, fill_value)
    return UniqueInverseResult(values, inverse)


def unique_all(x, /, *, size=None, fill_value=None):
    """Array API: ``(values, indices, inverse_indices, counts)`` of the unique values.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.unique_all(dnp.array([2, 1, 2])).indices
        Array([1, 0], dtype=int32)
    """
    return UniqueAllResult(*_unique("unique_all", x, None, True, size, fill_value))


# --------------------------------------------------------------------------- set operations


def isin(element, test_elements, assume_unique=False, invert=False, *, method="auto"):
    """True where an entry of ``element`` occurs in ``test_elements`` (shape of ``element``).

    Args:
        element: the values to look up.
        test_elements: the values to look for (any shape, flattened).
        assume_unique: accepted for NumPy compatibility.
        invert: return the negation (True where *not* found).
        method: ``"auto"`` or ``"compare_all"`` (compare every pair), or ``"sort"``
            (binary search in the sorted test elements).

    Returns:
        A bool array of ``element``'s shape.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.isin(dnp.array([1, 2, 3]), dnp.array([3, 1]))
        Array([ True, False,  True], dtype=bool)
    """
    if method not in ("auto", "compare_all", "sort", "binary_search"):
        raise ValueError(
            f"isin: method must be 'auto', 'compare_all', 'sort' or 'binary_search', got "
            f"{method!r}."
        )
    check_arraylike("isin", element, test_elements)
    element, test = promote("isin", element, test_elements)
    test = _ravel(test)
    shape = _shape(element)
    m = _shape(test)[0]
    if m == 0:
        found = S.full(shape, False, np.bool_)
    elif method in ("sort", "binary_search"):
        st = L.sort(test, dimension=0)
        i = searchsorted(st, element, side="left")
        i = E.min(i, S.full(shape, m - 1, _I32))
        found = E.eq(IX.gather(st, [i]), element)
    else:
        e = S.broadcast_in_dim(element, (*shape, m), tuple(range(len(shape))))
        t = S.broadcast_in_dim(test, (*shape, m), (len(shape),))
        found = S.reduce_or(E.eq(e, t), (len(shape),))
    return E.bitwise_not(found) if invert else found


def _compact(values, keep, size, fill):
    """The entries of 1-D ``values`` where ``keep``, moved to the front, padded to ``size``."""
    n = _shape(values)[0]
    pos = E.sub(L.cumsum(_cast(keep, _I32)), S.full((n,), 1, _I32))
    target = E.select(keep, pos, S.full((n,), size, _I32))
    base = S.broadcast_in_dim(_cast(asarray_any(fill), get_aval(values).dtype), (size,), ())
    return IX.scatter(base, [target], values, combine="set", mode="drop")


def _set_args(fname, ar1, ar2):
    check_arraylike(fname, ar1, ar2)
    a, b = promote(fname, ar1, ar2)
    return _strong(_ravel(a)), _strong(_ravel(b))


def union1d(ar1, ar2, *, size=None, fill_value=None):
    """The sorted unique values found in either array (flattened).

    Under ``jit`` pass ``size=`` (padded with ``fill_value``, default the smallest value).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.union1d(dnp.array([1, 3]), dnp.array([3, 2]))
        Array([1, 2, 3], dtype=int32)
    """
    a, b = _set_args("union1d", ar1, ar2)
    return _unique("union1d", S.concatenate([a, b], 0), None, True, size, fill_value)[0]


def setdiff1d(ar1, ar2, assume_unique=False, *, size=None, fill_value=None):
    """The sorted unique values of ``ar1`` that are not in ``ar2``.

    Under ``jit`` pass ``size=`` (padded with ``fill_value``, default 0).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.setdiff1d(dnp.array([5, 1, 3, 1]), dnp.array([3]))
        Array([1, 5], dtype=int32)
    """
    a, b = _set_args("setdiff1d", ar1, ar2)
    size = _check_size("setdiff1d", size)
    av, bv = _concrete_or_none(a), _concrete_or_none(b)
    if av is not None and bv is not None:
        u, index = np.unique(av, return_index=True)
        keep = ~np.isin(u, bv)
        out = IX.gather(a, [_const(index[keep])])
        if size is not None:
            out = _pad_to(out, size, 0 if fill_value is None else fill_value)
        return out
    if size is None:
        _size_error("setdiff1d", a if isinstance(a, Tracer) else b)
    n = _shape(a)[0]
    if n == 0:
        return S.full((size,), 0 if fill_value is None else fill_value, get_aval(a).dtype)
    values, _, _, _, valid = _unique_traced(a, True, n, None)
    keep = E.bitwise_and(valid, isin(values, b, invert=True))
    return _compact(values, keep, size, 0 if fill_value is None else fill_value)


def intersect1d(ar1, ar2, assume_unique=False, return_indices=False, *, size=None,
                fill_value=None):  # fmt: skip
    """The sorted unique values found in both arrays (flattened).

    Args:
        ar1, ar2: the arrays.
        assume_unique: accepted for NumPy compatibility.
        return_indices: also return the indices of the first occurrences in each array
            (concrete arrays only).
        size: the static result length (required under ``jit``).
        fill_value: the padding value (default: the smallest common value).

    Returns:
        The common values, or ``(values, indices1, indices2)``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.intersect1d(dnp.array([1, 3, 4, 3]), dnp.array([3, 1, 2, 1]))
        Array([1, 3], dtype=int32)
    """
    a, b = _set_args("intersect1d", ar1, ar2)
    size = _check_size("intersect1d", size)
    av, bv = _concrete_or_none(a), _concrete_or_none(b)
    if av is not None and bv is not None:
        _, i1, i2 = np.intersect1d(av, bv, return_indices=True)
        out = IX.gather(a, [_const(i1)])
        i1, i2 = _const(i1), _const(i2)
        if size is not None:
            n = _shape(out)[0]
            fill = fill_value if fill_value is not None else (
                S.reshape(S.slice_in_dim(out, 0, 1), ()) if n else 0
            )  # fmt: skip
            out = _pad_to(out, size, fill)
            i1, i2 = _pad_to(i1, size, 0), _pad_to(i2, size, 0)
        return (out, i1, i2) if return_indices else out
    if return_indices:
        raise NotImplementedError(
            "intersect1d: return_indices=True needs concrete arrays (outside jit/vmap)."
        )
    if size is None:
        _size_error("intersect1d", a if isinstance(a, Tracer) else b)
    n = _shape(a)[0]
    if n == 0:
        return S.full((size,), 0 if fill_value is None else fill_value, get_aval(a).dtype)
    values, _, _, _, valid = _unique_traced(a, True, n, None)
    keep = E.bitwise_and(valid, isin(values, b))
    if fill_value is None:
        # The smallest common value (the first kept one), or 0 when there is none.
        first = _compact(values, keep, 1, 0)
        fill = S.reshape(first, ())
    else:
        fill = fill_value
    return _compact(values, keep, size, fill)
