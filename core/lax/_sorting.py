"""Sorting and cumulative primitives: ``sort``, ``top_k``, ``cumsum`` and its relatives.

* ``sort`` sorts several operands of one shape along one dimension by the first
  ``num_keys`` of them (lexicographically). Floats sort in NumPy's (and JAX's) order:
  NaNs last, ``-0.0`` equal to ``0.0``, ties kept in their original order. Its jvp sorts an
  iota along with the operands and permutes the tangents with the resulting indices.
* ``top_k`` returns the ``k`` largest entries along an axis and their int32 indices (NaN
  counts as the largest value, ``0.0`` ranks above ``-0.0``, ties go to the lower index).
* ``cumsum`` is linear (its transpose is a ``cumsum`` in the other direction);
  ``cumprod``, ``cummax``, ``cummin`` and ``cumlogsumexp`` take their derivatives from the
  parallel-prefix formulation (``associative_scan``) of the same operator, which is exact
  with zeros (``cumprod``) and splits ties evenly (``cummax``/``cummin``), as in JAX.
"""

from __future__ import annotations

import builtins

import numpy as np

from .. import _dtypes
from .._ad_util import Zero, instantiate, is_undefined
from .._core import Primitive, ShapedArray
from . import _elementwise as E
from . import _indexing as IX
from . import _structural as S
from ._util import aval_of, is_inexact, val, weak, wrap

__all__ = [
    "clamp",
    "cumlogsumexp",
    "cummax",
    "cummin",
    "cumprod",
    "cumsum",
    "sort",
    "sort_key_val",
    "top_k",
]

_BF16 = np.dtype(_dtypes.bfloat16)


def _np_key(v):
    """A NumPy array that NumPy's sort orders as derivax does (narrow floats widened)."""
    if v.dtype == _BF16 or v.dtype == np.float16:
        return v.astype(np.float32)
    return v


def take_along(x, idx, dimension):
    """``x`` permuted along ``dimension`` by the int32 ``idx`` of the same shape (a gather,
    so it is linear in ``x`` and transposes to a scatter-add)."""
    shape = aval_of(idx).shape
    arrays = [idx if d == dimension else S.iota(np.int32, shape, d) for d in range(len(shape))]
    return IX.gather(x, arrays, mode="clip")


# --------------------------------------------------------------------------- sort


def _sort_abstract_eval(*avals, dimension, is_stable, num_keys):
    a0 = avals[0]
    for a in avals[1:]:
        if a.shape != a0.shape:
            raise TypeError(
                "sort: every operand must have the same shape, got "
                f"{', '.join(a.str_short() for a in avals)}."
            )
    if a0.ndim == 0:
        raise TypeError("sort: operands must have at least one dimension, got a scalar.")
    if not 0 <= dimension < a0.ndim:
        raise ValueError(f"sort: dimension {dimension} is out of range for {a0.str_short()}.")
    if not 1 <= num_keys <= len(avals):
        raise ValueError(
            f"sort: num_keys={num_keys} must be between 1 and the number of operands "
            f"({len(avals)})."
        )
    return list(avals)


def _sort_impl(*operands, dimension, is_stable, num_keys):
    vals = [val(o) for o in operands]
    keys = [np.moveaxis(_np_key(v), dimension, -1) for v in vals[:num_keys]]
    if len(keys) == 1:
        perm = np.argsort(keys[0], axis=-1, kind="stable")
    else:
        perm = np.lexsort(keys[::-1], axis=-1)  # lexsort is stable; its last key is primary
    perm = np.moveaxis(perm, -1, dimension)
    return [
        wrap(np.take_along_axis(v, perm, axis=dimension), weak(o))
        for v, o in zip(vals, operands, strict=True)
    ]


def _sort_jvp(primals, tangents, *, dimension, is_stable, num_keys):
    shape = aval_of(primals[0]).shape
    iota = S.iota(np.int32, shape, dimension)
    outs = sort_p.bind(*primals, iota, dimension=dimension, is_stable=is_stable, num_keys=num_keys)
    outs, perm = outs[:-1], outs[-1]
    tangents_out = []
    for o, t in zip(outs, tangents, strict=True):
        if type(t) is Zero or not is_inexact(aval_of(o).dtype):
            tangents_out.append(Zero.like(o))
        else:
            tangents_out.append(take_along(t, perm, dimension))
    return outs, tangents_out


def _sort_batch(vals, dims, *, dimension, is_stable, num_keys):
    size = next(aval_of(v).shape[d] for v, d in zip(vals, dims, strict=True) if d is not None)
    vals = [S.bdim_to_front(v, d, size) for v, d in zip(vals, dims, strict=True)]
    outs = sort_p.bind(*vals, dimension=dimension + 1, is_stable=is_stable, num_keys=num_keys)
    return outs, [0] * len(outs)


sort_p = Primitive("sort", multiple_results=True)
sort_p.impl = _sort_impl
sort_p.abstract_eval = _sort_abstract_eval
sort_p.jvp = _sort_jvp
sort_p.batch = _sort_batch


def _as_operand(x, fname):
    from ._cf_util import as_operand

    try:
        return as_operand(x)
    except TypeError as e:
        raise TypeError(f"{fname}: {e}") from None


def sort(operand, dimension=-1, is_stable=True, num_keys=1):
    """Sort one operand, or several operands by their first ``num_keys``, along a dimension.

    With several operands, all are permuted the same way: the order is lexicographic in
    the first ``num_keys`` operands (the first one decides, the next ones break ties).
    Floats sort as in NumPy and JAX: NaNs last, ``-0.0`` equal to ``0.0``. The sort is
    always stable (``is_stable`` is accepted for compatibility). Differentiable in every
    float operand: tangents are permuted like the values.

    Args:
        operand: an array, or a sequence of arrays of one shape.
        dimension: the dimension to sort along (negative counts from the end).
        is_stable: accepted for JAX compatibility; ties always keep their order.
        num_keys: how many leading operands form the sort key.

    Returns:
        The sorted array, or a tuple of sorted arrays when ``operand`` is a sequence.

    Raises:
        TypeError: the operands differ in shape or are scalars.
        ValueError: ``dimension`` or ``num_keys`` is out of range.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> lax.sort(dnp.array([3.0, 1.0, 2.0]))
        Array([1., 2., 3.], dtype=float32)
        >>> keys, vals = lax.sort((dnp.array([2, 1, 2]), dnp.array([0.5, 1.5, 2.5])))
        >>> vals
        Array([1.5, 0.5, 2.5], dtype=float32)
    """
    single = not isinstance(operand, (tuple, list))
    ops = [operand] if single else list(operand)
    if not ops:
        raise ValueError("sort: operand is an empty sequence; pass at least one array.")
    ops = [_as_operand(o, "sort") for o in ops]
    nd = aval_of(ops[0]).ndim
    if not isinstance(dimension, (int, np.integer)) or not -nd <= dimension < builtins.max(nd, 1):
        raise ValueError(
            f"sort: dimension={dimension} is out of range for operands of shape "
            f"{aval_of(ops[0]).shape}."
        )
    num_keys = int(num_keys)
    if not 1 <= num_keys <= len(ops):
        raise ValueError(
            f"sort: num_keys={num_keys} must be between 1 and the number of operands ({len(ops)})."
        )
    # Check eagerly too (the NumPy impl would fail with a less helpful message).
    _sort_abstract_eval(
        *[aval_of(o) for o in ops], dimension=int(dimension) % builtins.max(nd, 1),
        is_stable=True, num_keys=num_keys,
    )  # fmt: skip
    outs = sort_p.bind(
        *ops, dimension=int(dimension) % builtins.max(nd, 1), is_stable=bool(is_stable),
        num_keys=num_keys,
    )  # fmt: skip
    return outs[0] if single else tuple(outs)


def sort_key_val(keys, values, dimension=-1, is_stable=True):
    """Sort ``keys`` along ``dimension`` and permute ``values`` the same way.

    Args:
        keys: the array to sort by.
        values: an array of the same shape, reordered like ``keys``.
        dimension: the dimension to sort along.
        is_stable: accepted for JAX compatibility; the sort is always stable.

    Returns:
        ``(sorted_keys, values_in_key_order)``.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> lax.sort_key_val(dnp.array([3, 1, 2]), dnp.array([30.0, 10.0, 20.0]))
        (Array([1, 2, 3], dtype=int32), Array([10., 20., 30.], dtype=float32))
    """
    return sort((keys, values), dimension=dimension, is_stable=is_stable, num_keys=1)


# --------------------------------------------------------------------------- top_k


def _total_order_key(v):
    """Integers ordered like the values, with ``-0.0 < 0.0`` and NaN above ``+inf``."""
    v = _np_key(v)
    if v.dtype.kind == "f":
        ints = {4: np.int32, 8: np.int64}[v.dtype.itemsize]
        bits = v.view(ints)
        flip = np.array(np.iinfo(ints).max, ints)
        return np.where(bits < 0, bits ^ flip, bits)
    return v


def _top_k_impl(x, *, k):
    v = val(x)
    key = _total_order_key(v)[..., ::-1]
    n = v.shape[-1]
    # A stable ascending sort of the reversed row, read backwards, is a descending sort in
    # which equal values keep their original (lowest index first) order.
    perm = np.argsort(key, axis=-1, kind="stable")[..., ::-1][..., :k]
    idx = (n - 1 - perm).astype(np.int32)
    return [wrap(np.take_along_axis(v, idx, axis=-1), weak(x)), wrap(idx)]


def _top_k_abstract_eval(x, *, k):
    if x.ndim == 0:
        raise TypeError("top_k: the operand must have at least one dimension, got a scalar.")
    if x.dtype.kind == "c":
        raise TypeError(f"top_k: complex operands have no order, got {x.str_short()}.")
    if not 0 <= k <= x.shape[-1]:
        raise ValueError(
            f"top_k: k={k} must be between 0 and the size of the last axis of {x.str_short()}."
        )
    shape = (*x.shape[:-1], k)
    return [ShapedArray(shape, x.dtype, x.weak_type), ShapedArray(shape, np.int32)]


def _top_k_jvp(primals, tangents, *, k):
    (x,), (t,) = primals, tangents
    vals, idx = top_k_p.bind(x, k=k)
    if type(t) is Zero or not is_inexact(aval_of(x).dtype):
        return [vals, idx], [Zero.like(vals), Zero.like(idx)]
    nd = aval_of(x).ndim
    # Gather with the indices, broadcast over the other axes.
    shape = aval_of(idx).shape
    arrays = [S.iota(np.int32, shape, d) for d in range(nd - 1)] + [idx]
    return [vals, idx], [IX.gather(t, arrays, mode="clip"), Zero.like(idx)]


def _top_k_batch(vals, dims, *, k):
    (x,), (d,) = vals, dims
    nd = aval_of(x).ndim
    if d == nd - 1:
        x, d = S.moveaxis(x, d, 0), 0
    outs = top_k_p.bind(x, k=k)
    return outs, [d, d]


top_k_p = Primitive("top_k", multiple_results=True)
top_k_p.impl = _top_k_impl
top_k_p.abstract_eval = _top_k_abstract_eval
top_k_p.jvp = _top_k_jvp
top_k_p.batch = _top_k_batch


def top_k(operand, k, *, axis=-1):
    """The ``k`` largest entries along ``axis`` and their indices, largest first.

    Entries are ranked by IEEE total order: a NaN ranks above every number (a NaN with
    its sign bit set, as ``-nan`` prints, below every number), ``0.0`` above ``-0.0``, and
    equal values come out lowest index first. Differentiable in ``operand`` (the tangent of each value is the tangent of
    the entry it came from).

    Args:
        operand: a real array with at least one dimension.
        k: how many entries to keep (``0 <= k <= operand.shape[axis]``).
        axis: the axis to search.

    Returns:
        ``(values, indices)``: the values in ``operand``'s dtype and int32 indices, both of
        ``operand``'s shape with ``axis`` of size ``k``.

    Raises:
        TypeError: ``operand`` is a scalar or complex.
        ValueError: ``k`` or ``axis`` is out of range.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> lax.top_k(dnp.array([1.0, 4.0, 3.0, 4.0]), 3)
        (Array([4., 4., 3.], dtype=float32), Array([1, 3, 2], dtype=int32))
    """
    x = _as_operand(operand, "top_k")
    nd = aval_of(x).ndim
    if nd == 0:
        raise TypeError("top_k: the operand must have at least one dimension, got a scalar.")
    if not isinstance(k, (int, np.integer)):
        raise TypeError(f"top_k: k must be a static Python int, got {type(k).__name__}.")
    if not -nd <= axis < nd:
        raise ValueError(f"top_k: axis={axis} is out of range for shape {aval_of(x).shape}.")
    axis = axis % nd
    if axis != nd - 1:
        x = S.moveaxis(x, axis, nd - 1)
    _top_k_abstract_eval(aval_of(x), k=int(k))
    vals, idx = top_k_p.bind(x, k=int(k))
    if axis != nd - 1:
        vals, idx = S.moveaxis(vals, nd - 1, axis), S.moveaxis(idx, nd - 1, axis)
    return vals, idx


# --------------------------------------------------------------------------- cumulative ops


def _logaddexp(a, b):
    """``log(exp(a) + exp(b))`` without overflow; ``-inf`` (and equal infinities) safe."""
    m = E.max(a, b)
    d = E.sub(a, b)
    d = E.select(E.ne(d, d), S.full(aval_of(d).shape, 0, aval_of(d).dtype), d)
    return E.add(m, E.log1p(E.exp(E.neg(E.abs(d)))))


def _np_logaddexp_accumulate(v, axis):
    return np.logaddexp.accumulate(v, axis=axis)


_CUM = {
    # name: (NumPy accumulate, accepted dtypes, combine fn of the prefix formulation)
    "cumsum": (lambda v, axis: np.cumsum(v, axis=axis, dtype=v.dtype), "num", E.add),
    "cumprod": (lambda v, axis: np.cumprod(v, axis=axis, dtype=v.dtype), "num", E.mul),
    "cummax": (lambda v, axis: np.maximum.accumulate(v, axis=axis), "num", E.max),
    "cummin": (lambda v, axis: np.minimum.accumulate(v, axis=axis), "num", E.min),
    "cumlogsumexp": (_np_logaddexp_accumulate, "float", _logaddexp),
}


def _cum_impl(np_fn):
    def impl(x, *, axis, reverse):
        v = val(x)
        wide = v.astype(np.float32) if v.dtype in (_BF16, np.dtype(np.float16)) else v
        with np.errstate(all="ignore"):
            if reverse:
                out = np.flip(np_fn(np.flip(wide, axis), axis), axis)
            else:
                out = np_fn(wide, axis)
        return wrap(np.ascontiguousarray(out).astype(v.dtype, copy=False), weak(x))

    return impl


def _cum_abstract_eval(name, kind):
    def abstract_eval(x, *, axis, reverse):
        if not 0 <= axis < x.ndim:
            raise ValueError(f"{name}: axis {axis} is out of range for {x.str_short()}.")
        if x.dtype == np.bool_ or (kind == "float" and not is_inexact(x.dtype)):
            want = "a floating-point" if kind == "float" else "a numeric (not bool)"
            raise TypeError(
                f"{name} requires {want} dtype, got {x.str_short()}. Convert the operand "
                "first, e.g. x.astype(derivax.numpy.float32)."
            )
        return x

    return abstract_eval


def _cum_batch(prim):
    def batch(vals, dims, *, axis, reverse):
        (x,), (d,) = vals, dims
        new_axis = axis + 1 if d <= axis else axis
        return prim.bind(x, axis=new_axis, reverse=reverse), d

    return batch


def _cum_scan_jvp(prim, combine):
    """jvp through the prefix-scan formulation of the same operator (exact with zeros and
    ties, like JAX's); the primal output is the primitive's own."""

    def jvp(primals, tangents, *, axis, reverse):
        from .._ad import jvp_flat
        from ._associative_scan import associative_scan

        (x,), (t,) = primals, tangents
        ans = prim.bind(x, axis=axis, reverse=reverse)
        if type(t) is Zero or not is_inexact(aval_of(x).dtype):
            return ans, Zero.like(ans)

        def scan(v):
            return [associative_scan(combine, v, reverse=reverse, axis=axis)]

        _, (t_out,) = jvp_flat(scan, [x], [t])
        return ans, instantiate(t_out)

    return jvp


def _cumsum_transpose(ct, x, *, axis, reverse):
    if type(ct) is Zero:
        return [Zero(x.aval if is_undefined(x) else aval_of(x))]
    return [cumsum_p.bind(ct, axis=axis, reverse=not reverse)]


def _make_cum(name):
    np_fn, kind, combine = _CUM[name]
    p = Primitive(name)
    p.impl = _cum_impl(np_fn)
    p.abstract_eval = _cum_abstract_eval(name, kind)
    p.batch = _cum_batch(p)
    p.jvp = _cum_scan_jvp(p, combine)
    return p


cumsum_p = _make_cum("cumsum")
cumprod_p = _make_cum("cumprod")
cummax_p = _make_cum("cummax")
cummin_p = _make_cum("cummin")
cumlogsumexp_p = _make_cum("cumlogsumexp")
cumsum_p.jvp = S._linear_jvp(cumsum_p)
cumsum_p.transpose = _cumsum_transpose
cumsum_p.linear = True


def _cumulative(prim, x, axis, reverse):
    x = _as_operand(x, prim.name)
    a = aval_of(x)
    if a.ndim == 0:
        raise ValueError(f"{prim.name}: the operand must have at least one dimension.")
    if not isinstance(axis, (int, np.integer)) or not -a.ndim <= axis < a.ndim:
        raise ValueError(f"{prim.name}: axis={axis} is out of range for shape {a.shape}.")
    params = dict(axis=int(axis) % a.ndim, reverse=bool(reverse))
    prim.abstract_eval(a, **params)
    return prim.bind(x, **params)


def cumsum(operand, axis=0, reverse=False):
    """Running sum along ``axis`` (from the end with ``reverse=True``).

    Args:
        operand: a numeric array (not bool).
        axis: the axis to accumulate along.
        reverse: accumulate from the last element backwards.

    Returns:
        An array of ``operand``'s shape and dtype.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> lax.cumsum(dnp.array([1.0, 2.0, 3.0]))
        Array([1., 3., 6.], dtype=float32)
        >>> lax.cumsum(dnp.array([1, 2, 3]), reverse=True)
        Array([6, 5, 3], dtype=int32)
    """
    return _cumulative(cumsum_p, operand, axis, reverse)


def cumprod(operand, axis=0, reverse=False):
    """Running product along ``axis``; its derivative is exact when entries are zero.

    Args:
        operand: a numeric array (not bool).
        axis: the axis to accumulate along.
        reverse: accumulate from the last element backwards.

    Returns:
        An array of ``operand``'s shape and dtype.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> lax.cumprod(dnp.array([1.0, 2.0, 3.0]))
        Array([1., 2., 6.], dtype=float32)
    """
    return _cumulative(cumprod_p, operand, axis, reverse)


def cummax(operand, axis=0, reverse=False):
    """Running maximum along ``axis`` (NaN propagates; tied tangents are averaged).

    Args:
        operand: a numeric array (not bool).
        axis: the axis to accumulate along.
        reverse: accumulate from the last element backwards.

    Returns:
        An array of ``operand``'s shape and dtype.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> lax.cummax(dnp.array([1.0, 3.0, 2.0]))
        Array([1., 3., 3.], dtype=float32)
    """
    return _cumulative(cummax_p, operand, axis, reverse)


def cummin(operand, axis=0, reverse=False):
    """Running minimum along ``axis`` (NaN propagates; tied tangents are averaged).

    Args:
        operand: a numeric array (not bool).
        axis: the axis to accumulate along.
        reverse: accumulate from the last element backwards.

    Returns:
        An array of ``operand``'s shape and dtype.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> lax.cummin(dnp.array([3.0, 1.0, 2.0]))
        Array([3., 1., 1.], dtype=float32)
    """
    return _cumulative(cummin_p, operand, axis, reverse)


def cumlogsumexp(operand, axis=0, reverse=False):
    """Running ``log(sum(exp(x)))`` along ``axis``, computed without overflow.

    Args:
        operand: a floating-point array.
        axis: the axis to accumulate along.
        reverse: accumulate from the last element backwards.

    Returns:
        An array of ``operand``'s shape and dtype.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> lax.cumlogsumexp(dnp.array([0.0, 0.0]))
        Array([0.       , 0.6931472], dtype=float32)
    """
    return _cumulative(cumlogsumexp_p, operand, axis, reverse)


# --------------------------------------------------------------------------- clamp


def clamp(min, x, max):  # noqa: A002 - JAX's argument names
    """``x`` limited to ``[min, max]`` elementwise: ``min`` where ``x < min``, ``max`` where
    ``x > max``.

    ``min`` and ``max`` are scalars or arrays of ``x``'s shape, all of ``x``'s dtype. A NaN
    in ``x`` stays NaN. The derivative goes to whichever operand is selected (to the bound
    when ``x`` equals it).

    Args:
        min: the lower bound.
        x: the array to clamp.
        max: the upper bound.

    Returns:
        An array of ``x``'s shape and dtype.

    Raises:
        TypeError: the dtypes differ or a bound is neither a scalar nor of ``x``'s shape.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> lax.clamp(0.0, dnp.array([-1.0, 0.5, 2.0]), 1.0)
        Array([0. , 0.5, 1. ], dtype=float32)
    """
    x = _as_operand(x, "clamp")
    xa = aval_of(x)

    def bound(b, name):
        if type(b) in (int, float):
            return S.full(xa.shape, b, xa.dtype)
        b = _as_operand(b, "clamp")
        ba = aval_of(b)
        if ba.dtype != xa.dtype or ba.shape not in ((), xa.shape):
            raise TypeError(
                f"clamp: {name} must be a scalar or an array of x's shape, of x's dtype; got "
                f"{name}={ba.str_short()} for x={xa.str_short()}. Convert or broadcast it "
                "first (derivax.numpy.clip broadcasts and promotes for you)."
            )
        return S.broadcast_in_dim(b, xa.shape, ()) if ba.shape != xa.shape else b

    lo, hi = bound(min, "min"), bound(max, "max")
    return E.select(E.le(x, lo), lo, E.select(E.ge(x, hi), hi, x))
