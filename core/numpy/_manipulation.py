"""Array manipulation in ``derivax.numpy``: split, tile, repeat, roll, stacking, functional updates, ...

Every function is a composition of lax primitives (slices, pads, concatenations, gathers,
scatters, selects), so it runs eagerly, under ``jit``, ``grad`` and ``vmap``. Arguments that
decide the *shape* of the result (pad widths, split points, repeat counts, deleted indices,
...) must be static: Python values or concrete arrays. A traced value there raises a
``ConcretizationTypeError`` that names the argument.
"""

from __future__ import annotations

import operator

import numpy as np

from .. import _dtypes
from .._array import Array, _wrap
from .._core import ConcretizationTypeError, Tracer, concrete_or_error, get_aval
from ..lax import _elementwise as E
from ..lax import _indexing as IX
from ..lax import _structural as S
from ..lax._reduce_window import reduce_window_sum
from ._elementwise import multiply, power, where
from ._indexing import take
from ._reductions import sum as _sum
from ._shape import (
    broadcast_to,
    concatenate,
    flip,
    moveaxis,
    ravel,
    reshape,
    swapaxes,
)
from ._util import asarray_any, broadcast_shapes, broadcast_to_shape, canonical_axis, promote

__all__ = [
    "append",
    "argwhere",
    "array_split",
    "atleast_3d",
    "block",
    "column_stack",
    "copy",
    "delete",
    "dsplit",
    "dstack",
    "flatnonzero",
    "fliplr",
    "flipud",
    "geomspace",
    "hsplit",
    "indices",
    "insert",
    "ix_",
    "logspace",
    "meshgrid",
    "piecewise",
    "place",
    "put",
    "put_along_axis",
    "repeat",
    "resize",
    "roll",
    "rot90",
    "select",
    "split",
    "tile",
    "unstack",
    "vsplit",
]

_INT = np.int32


# --------------------------------------------------------------------------- static arguments


def _static(x, fname, argname):
    """A concrete NumPy value for an argument that decides the result's shape."""
    if isinstance(x, Tracer):
        return concrete_or_error(
            x,
            f"the `{argname}` argument of {fname} (it decides the result's shape, so it must be static)",
        )
    if type(x) is Array:
        return np.asarray(x)
    if isinstance(x, (list, tuple)) and any(isinstance(e, Tracer) for e in x):
        return np.asarray([_static(e, fname, argname) for e in x])
    return x


def _static_int(x, fname, argname):
    v = _static(x, fname, argname)
    try:
        if isinstance(v, np.ndarray):
            if v.ndim != 0:
                raise TypeError
            v = v.item()
        return operator.index(v)
    except TypeError:
        raise TypeError(f"{fname}: `{argname}` must be an integer, got {x!r}.") from None


def _static_ints(x, fname, argname):
    v = np.asarray(_static(x, fname, argname))
    if v.size and v.dtype.kind not in "iu":
        raise TypeError(f"{fname}: `{argname}` must hold integers, got dtype {v.dtype} ({x!r}).")
    return v.astype(np.int64)


def _aval(x):
    return get_aval(x)


def _take_static(x, idx, axis):
    """``x`` indexed along ``axis`` by a static integer array (one gather)."""
    n = _aval(x).shape[axis]
    idx = np.asarray(idx, np.int64)
    if idx.ndim == 1 and idx.size == n and np.array_equal(idx, np.arange(n)):
        return x
    return take(x, _wrap(idx.astype(_INT)), axis=axis)


def _cumsum_int(x):
    """Inclusive cumulative sum of a 1-D array (a window sum, so it batches and differentiates)."""
    n = _aval(x).shape[0]
    if n == 0:
        return x
    return reduce_window_sum(x, (n,), (1,), ((n - 1, 0),))


# --------------------------------------------------------------------------- split


def _split_points(n, indices_or_sections, fname, equal):
    if isinstance(indices_or_sections, (int, np.integer)) or (
        np.ndim(_static(indices_or_sections, fname, "indices_or_sections")) == 0
    ):
        sections = _static_int(indices_or_sections, fname, "indices_or_sections")
        if sections <= 0:
            raise ValueError(f"{fname}: the number of sections must be positive, got {sections}.")
        if equal and n % sections:
            raise ValueError(
                f"{fname}: an axis of size {n} does not split into {sections} equal sections; "
                "use array_split for unequal sections, or pass the split indices."
            )
        each, extra = divmod(n, sections)
        sizes = [each + 1] * extra + [each] * (sections - extra)
        return np.concatenate([[0], np.cumsum(sizes)]).tolist()
    idx = _static_ints(indices_or_sections, fname, "indices_or_sections")
    if idx.ndim != 1:
        raise ValueError(f"{fname}: split indices must be a 1-D sequence, got shape {idx.shape}.")
    return [0, *idx.tolist(), n]


def _split(fname, ary, indices_or_sections, axis, equal):
    x = asarray_any(ary)
    nd = _aval(x).ndim
    if nd == 0:
        raise ValueError(f"{fname}: cannot split a 0-d array.")
    axis = canonical_axis(axis, nd, fname)
    n = _aval(x).shape[axis]
    points = _split_points(n, indices_or_sections, fname, equal)
    out = []
    for start, stop in zip(points[:-1], points[1:], strict=True):
        start, stop, _ = slice(start, stop).indices(n)
        out.append(S.slice_in_dim(x, start, max(start, stop), 1, axis))
    return out


def split(ary, indices_or_sections, axis=0):
    """Split into equal sections (an int) or at the given indices, as ``numpy.split``.

    Args:
        ary: the array.
        indices_or_sections: the number of equal sections, or the sorted split indices
            (static).
        axis: the axis to split.

    Returns:
        A list of arrays.

    Raises:
        ValueError: the axis does not divide into equal sections.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.split(dnp.arange(6), [2, 5])
        [Array([0, 1], dtype=int32), Array([2, 3, 4], dtype=int32), Array([5], dtype=int32)]
    """
    return _split("split", ary, indices_or_sections, axis, True)


def array_split(ary, indices_or_sections, axis=0):
    """Like :func:`split`, but the sections may be unequal (the first ones one larger).

    Example:
        >>> import derivax.numpy as dnp
        >>> [p.shape for p in dnp.array_split(dnp.arange(7), 3)]
        [(3,), (2,), (2,)]
    """
    return _split("array_split", ary, indices_or_sections, axis, False)


def hsplit(ary, indices_or_sections):
    """Split along axis 1 (axis 0 for 1-D arrays).

    Example:
        >>> import derivax.numpy as dnp
        >>> [p.shape for p in dnp.hsplit(dnp.ones((2, 4)), 2)]
        [(2, 2), (2, 2)]
    """
    x = asarray_any(ary)
    if _aval(x).ndim == 0:
        raise ValueError("hsplit: cannot split a 0-d array; it needs at least 1 dimension.")
    return _split("hsplit", x, indices_or_sections, 1 if _aval(x).ndim > 1 else 0, True)


def vsplit(ary, indices_or_sections):
    """Split along axis 0 (needs at least 2 dimensions).

    Example:
        >>> import derivax.numpy as dnp
        >>> [p.shape for p in dnp.vsplit(dnp.ones((4, 2)), 2)]
        [(2, 2), (2, 2)]
    """
    x = asarray_any(ary)
    if _aval(x).ndim < 2:
        raise ValueError(
            f"vsplit: needs an array of at least 2 dimensions, got shape {_aval(x).shape}."
        )
    return _split("vsplit", x, indices_or_sections, 0, True)


def dsplit(ary, indices_or_sections):
    """Split along axis 2 (needs at least 3 dimensions).

    Example:
        >>> import derivax.numpy as dnp
        >>> [p.shape for p in dnp.dsplit(dnp.ones((1, 2, 4)), 2)]
        [(1, 2, 2), (1, 2, 2)]
    """
    x = asarray_any(ary)
    if _aval(x).ndim < 3:
        raise ValueError(
            f"dsplit: needs an array of at least 3 dimensions, got shape {_aval(x).shape}."
        )
    return _split("dsplit", x, indices_or_sections, 2, True)


def unstack(x, /, *, axis=0):
    """The slices of ``x`` along ``axis``, as a tuple (Array API).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.unstack(dnp.array([[1, 2], [3, 4]]), axis=1)
        (Array([1, 3], dtype=int32), Array([2, 4], dtype=int32))
    """
    x = asarray_any(x)
    nd = _aval(x).ndim
    if nd == 0:
        raise ValueError("unstack: needs an array of at least 1 dimension, got a 0-d array.")
    axis = canonical_axis(axis, nd, "unstack")
    n = _aval(x).shape[axis]
    return tuple(S.squeeze(S.slice_in_dim(x, i, i + 1, 1, axis), (axis,)) for i in range(n))


# --------------------------------------------------------------------------- tile, repeat, roll


def tile(A, reps):  # noqa: N803 - NumPy's name
    """Repeat the whole array ``reps`` times along each axis, as ``numpy.tile``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.tile(dnp.array([1, 2]), (2, 2))
        Array([[1, 2, 1, 2],
               [1, 2, 1, 2]], dtype=int32)
    """
    x = asarray_any(A)
    reps = _static_ints(reps, "tile", "reps").reshape(-1).tolist()
    if any(r < 0 for r in reps):
        raise ValueError(f"tile: `reps` must be non-negative, got {reps}.")
    shape = _aval(x).shape
    d = max(len(reps), len(shape))
    reps = [1] * (d - len(reps)) + reps
    shape = (1,) * (d - len(shape)) + shape
    x = reshape(x, shape)
    big = tuple(v for r, s in zip(reps, shape, strict=True) for v in (r, s))
    x = S.broadcast_in_dim(x, big, tuple(range(1, 2 * d, 2)))
    return reshape(x, tuple(r * s for r, s in zip(reps, shape, strict=True)))


def repeat(a, repeats, axis=None, *, total_repeat_length=None):
    """Repeat each element ``repeats`` times along ``axis``, as ``numpy.repeat``.

    Args:
        a: the array (flattened when ``axis`` is None).
        repeats: an int, or one count per element along ``axis``. Counts that are traced
            (under ``jit`` or ``vmap``) need ``total_repeat_length``.
        axis: the axis to repeat along.
        total_repeat_length: the static length of the result along ``axis``. A longer
            repeat is cut; positions past ``sum(repeats)`` hold the last element.

    Returns:
        The repeated array.

    Raises:
        ConcretizationTypeError: ``repeats`` is traced and ``total_repeat_length`` is None.
        ValueError: negative counts, or counts that do not match the axis.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.repeat(dnp.array([1, 2, 3]), dnp.array([2, 0, 1]))
        Array([1, 1, 3], dtype=int32)
    """
    x = asarray_any(a)
    if axis is None:
        x = ravel(x)
        axis = 0
    axis = canonical_axis(axis, _aval(x).ndim, "repeat")
    n = _aval(x).shape[axis]
    if isinstance(repeats, Tracer) and repeats.to_concrete_value() is None:
        if total_repeat_length is None:
            raise ConcretizationTypeError(
                "repeat: `repeats` is traced (its values are unknown while tracing), so the "
                "length of the result is unknown. Pass total_repeat_length=<int> (the static "
                "length of the result along the axis), or make `repeats` static."
            )
        return _repeat_traced(x, repeats, axis, n, int(total_repeat_length))
    reps = _static_ints(repeats, "repeat", "repeats")
    if (reps < 0).any():
        raise ValueError(f"repeat: `repeats` must be non-negative, got {reps.tolist()}.")
    if reps.ndim > 1 or (reps.ndim == 1 and reps.size not in (1, n)):
        raise ValueError(
            f"repeat: `repeats` of shape {reps.shape} does not match axis {axis} of size {n} "
            f"(array shape {_aval(x).shape}); give an int or {n} counts."
        )
    if reps.size == 1 and total_repeat_length is None:
        r = int(reps.reshape(()))
        shape = _aval(x).shape
        big = shape[: axis + 1] + (r,) + shape[axis + 1 :]
        dims = tuple(i for i in range(len(big)) if i != axis + 1)
        out = S.broadcast_in_dim(x, big, dims)
        return reshape(out, shape[:axis] + (n * r,) + shape[axis + 1 :])
    idx = np.repeat(np.arange(n), np.broadcast_to(reps.reshape(-1), (n,)))
    if total_repeat_length is not None:
        total = int(total_repeat_length)
        idx = idx[:total]
        if len(idx) < total:
            idx = np.concatenate([idx, np.full(total - len(idx), n - 1)])
    return _take_static(x, idx, axis)


def _repeat_traced(x, repeats, axis, n, total):
    reps = asarray_any(repeats)
    if _aval(reps).ndim > 1 or _aval(reps).size not in (1, n):
        raise ValueError(
            f"repeat: `repeats` of shape {_aval(reps).shape} does not match axis {axis} of "
            f"size {n}; give a scalar or {n} counts."
        )
    reps = broadcast_to_shape(E.convert_element_type(reshape(reps, (-1,)), _INT), (n,))
    ends = _cumsum_int(reps)  # element i fills positions [ends[i] - reps[i], ends[i])
    pos = S.iota(_INT, (total, n), 0)
    src = _sum(
        E.convert_element_type(E.ge(pos, S.broadcast_in_dim(ends, (total, n), (1,))), _INT), axis=1
    )
    src = E.min(src, S.full((total,), max(n - 1, 0), _INT))
    return take(x, src, axis=axis)


def roll(a, shift, axis=None):
    """Shift elements along ``axis`` with wrap-around, as ``numpy.roll``.

    Args:
        a: the array (flattened and reshaped back when ``axis`` is None).
        shift: an int or a tuple of ints (one per axis); may be traced.
        axis: an int, a tuple of ints, or None.

    Returns:
        The rolled array.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.roll(dnp.arange(5), 2)
        Array([3, 4, 0, 1, 2], dtype=int32)
    """
    x = asarray_any(a)
    if axis is None:
        return reshape(roll(ravel(x), shift, 0), _aval(x).shape)
    nd = _aval(x).ndim
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    traced = isinstance(shift, Tracer) and shift.to_concrete_value() is None
    if traced:
        s = asarray_any(shift)
        shifts = [s] if _aval(s).ndim == 0 else [s[i] for i in range(_aval(s).shape[0])]
    else:
        shifts = _static_ints(shift, "roll", "shift").reshape(-1).tolist()
    if len(shifts) == 1:
        shifts = shifts * len(axes)
    elif len(axes) == 1:
        axes = axes * len(shifts)
    if len(shifts) != len(axes):
        raise ValueError(
            f"roll: `shift` ({len(shifts)} values) and `axis` ({len(axes)} values) must have "
            "the same length."
        )
    for s, ax in zip(shifts, axes, strict=True):
        ax = canonical_axis(ax, nd, "roll")
        n = _aval(x).shape[ax]
        if n == 0:
            continue
        if isinstance(s, Tracer):
            x = _roll_traced(x, s, ax, n)
            continue
        s = int(s) % n
        if s:
            x = concatenate(
                [S.slice_in_dim(x, n - s, n, 1, ax), S.slice_in_dim(x, 0, n - s, 1, ax)], ax
            )
    return x


def _roll_traced(x, s, ax, n):
    s = E.convert_element_type(s, _INT)
    start = E.rem(
        E.add(E.rem(E.neg(s), S.full((), n, _INT)), S.full((), n, _INT)), S.full((), n, _INT)
    )
    doubled = concatenate([x, x], ax)
    starts = [S.full((), 0, _INT)] * _aval(x).ndim
    starts[ax] = start
    return IX.dynamic_slice(doubled, starts, _aval(x).shape)


def rot90(m, k=1, axes=(0, 1)):
    """Rotate by 90 degrees ``k`` times in the plane of ``axes`` (from the first towards the
    second).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.rot90(dnp.array([[1, 2], [3, 4]]))
        Array([[2, 4],
               [1, 3]], dtype=int32)
    """
    x = asarray_any(m)
    nd = _aval(x).ndim
    axes = tuple(axes)
    if len(axes) != 2:
        raise ValueError(f"rot90: `axes` must hold 2 axes, got {axes}.")
    if nd < 2:
        raise ValueError(
            f"rot90: needs an array of at least 2 dimensions, got shape {_aval(x).shape}."
        )
    a0, a1 = (canonical_axis(a, nd, "rot90", "axes") for a in axes)
    if a0 == a1:
        raise ValueError(f"rot90: the two `axes` must differ, got {axes}.")
    k = _static_int(k, "rot90", "k") % 4
    if k == 0:
        return x
    if k == 2:
        return flip(flip(x, a0), a1)
    if k == 1:
        return swapaxes(flip(x, a1), a0, a1)
    return flip(swapaxes(x, a0, a1), a1)


def fliplr(m):
    """Reverse the columns (axis 1).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.fliplr(dnp.array([[1, 2, 3]]))
        Array([[3, 2, 1]], dtype=int32)
    """
    x = asarray_any(m)
    if _aval(x).ndim < 2:
        raise ValueError(f"fliplr: needs at least 2 dimensions, got shape {_aval(x).shape}.")
    return flip(x, 1)


def flipud(m):
    """Reverse the rows (axis 0).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.flipud(dnp.array([1, 2, 3]))
        Array([3, 2, 1], dtype=int32)
    """
    x = asarray_any(m)
    if _aval(x).ndim < 1:
        raise ValueError("flipud: needs at least 1 dimension, got a 0-d array.")
    return flip(x, 0)


# --------------------------------------------------------------------------- stacking


def atleast_3d(*arys):
    """View inputs as arrays of at least three dimensions (``(N,)`` becomes ``(1, N, 1)``).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.atleast_3d(dnp.ones((2, 3))).shape
        (2, 3, 1)
    """
    res = []
    for a in arys:
        x = asarray_any(a)
        shape = _aval(x).shape
        if len(shape) == 0:
            x = reshape(x, (1, 1, 1))
        elif len(shape) == 1:
            x = reshape(x, (1, shape[0], 1))
        elif len(shape) == 2:
            x = reshape(x, (*shape, 1))
        res.append(x)
    return res[0] if len(res) == 1 else res


def dstack(tup):
    """Stack along the third axis (depth).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.dstack([dnp.ones(2), dnp.zeros(2)]).shape
        (1, 2, 2)
    """
    arrs = [atleast_3d(a) for a in tup]
    if not arrs:
        raise ValueError("dstack needs at least one array.")
    return concatenate(arrs, 2)


def column_stack(tup):
    """Stack 1-D arrays as columns of a 2-D array (2-D arrays are stacked as they are).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.column_stack([dnp.array([1, 2]), dnp.array([3, 4])])
        Array([[1, 3],
               [2, 4]], dtype=int32)
    """
    arrs = []
    for a in tup:
        x = asarray_any(a)
        if _aval(x).ndim < 2:
            x = reshape(x, (-1, 1))
        arrs.append(x)
    if not arrs:
        raise ValueError("column_stack needs at least one array.")
    return concatenate(arrs, 1)


def _block_depth(arrays, path=()):
    if isinstance(arrays, tuple):
        raise TypeError(
            f"block: arrays{''.join(f'[{i}]' for i in path)} is a tuple; only lists nest blocks."
        )
    if isinstance(arrays, list):
        if not arrays:
            raise ValueError(f"block: arrays{''.join(f'[{i}]' for i in path)} is an empty list.")
        infos = [_block_depth(e, (*path, i)) for i, e in enumerate(arrays)]
        depths = {d for d, _ in infos}
        if len(depths) != 1:
            raise ValueError(
                f"block: lists at arrays{''.join(f'[{i}]' for i in path)} are nested to "
                f"different depths {sorted(depths)}; every leaf must be at the same depth."
            )
        return depths.pop() + 1, max(n for _, n in infos)
    return 0, _aval(asarray_any(arrays)).ndim


def block(arrays):
    """Assemble an array from nested lists of blocks, as ``numpy.block``.

    The innermost lists join along the last axis, the next ones along the second to last,
    and so on.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.block([[dnp.ones((2, 2)), dnp.zeros((2, 1))], [dnp.zeros((1, 3))]]).shape
        (3, 3)
    """
    depth, max_nd = _block_depth(arrays)
    nd = max(depth, max_nd)

    def build(x, level):
        if level == depth:
            x = asarray_any(x)
            shape = _aval(x).shape
            return reshape(x, (1,) * (nd - len(shape)) + shape)
        return concatenate([build(e, level + 1) for e in x], -(depth - level))

    return build(arrays, 0)


def meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    """Coordinate matrices from coordinate vectors, as ``numpy.meshgrid``.

    Args:
        *xi: 1-D arrays (others are flattened).
        copy: accepted for NumPy compatibility (arrays are immutable).
        sparse: return open grids (size-1 axes) instead of full ones.
        indexing: ``"xy"`` (Cartesian: the first two outputs swap axes) or ``"ij"``.

    Returns:
        A list of arrays, one per input.

    Example:
        >>> import derivax.numpy as dnp
        >>> x, y = dnp.meshgrid(dnp.arange(3), dnp.arange(2))
        >>> x
        Array([[0, 1, 2],
               [0, 1, 2]], dtype=int32)
    """
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}.")
    vecs = [ravel(asarray_any(x)) for x in xi]
    n = len(vecs)
    sizes = [_aval(v).shape[0] for v in vecs]
    out = []
    for i, v in enumerate(vecs):
        pos = i
        if indexing == "xy" and n > 1 and i < 2:
            pos = 1 - i
        shape = [1] * n
        shape[pos] = sizes[i]
        g = reshape(v, tuple(shape))
        out.append(g)
    if indexing == "xy" and n > 1:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    if not sparse:
        out = [broadcast_to_shape(g, tuple(sizes)) for g in out]
    return out


def _grid_dtype(dtype, *bounds):
    """An explicit ``dtype``, else the inexact promotion of the bounds (float32 for Python
    numbers)."""
    if dtype is not None:
        return _dtypes.canonicalize_dtype(dtype)
    if not bounds:
        return _dtypes.default_float_dtype()
    from ._util import promote_inexact

    return _aval(promote_inexact("logspace", *[asarray_any(b) for b in bounds])[0]).dtype


def logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    """``base ** linspace(start, stop, num)``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.logspace(0.0, 2.0, 3)
        Array([  1.,  10., 100.], dtype=float32)
    """
    num = _static_int(num, "logspace", "num")
    if num < 0:
        raise ValueError(f"logspace: `num` must be non-negative, got {num}.")
    dt = _grid_dtype(dtype, start, stop)
    if any(isinstance(v, Tracer) for v in (start, stop, base)):
        from ._creation import linspace

        exps = linspace(start, stop, num, endpoint=endpoint, axis=axis)
        out = power(asarray_any(base, _aval(exps).dtype), exps)
        return E.convert_element_type(out, dt) if _aval(out).dtype != dt else out
    vals = [np.asarray(v) for v in (start, stop, base)]
    with np.errstate(all="ignore"):
        r = np.logspace(vals[0], vals[1], num, endpoint=endpoint, base=vals[2], axis=axis)
    return _wrap(r.astype(dt))


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """Numbers evenly spaced on a log scale from ``start`` to ``stop`` (a geometric series).

    Raises:
        ValueError: ``start`` or ``stop`` is zero.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.geomspace(1.0, 1000.0, 4)
        Array([   1.,   10.,  100., 1000.], dtype=float32)
    """
    num = _static_int(num, "geomspace", "num")
    if num < 0:
        raise ValueError(f"geomspace: `num` must be non-negative, got {num}.")
    dt = _grid_dtype(dtype, start, stop)
    if any(isinstance(v, Tracer) for v in (start, stop)):
        from ._creation import linspace
        from ._elementwise import abs as _abs
        from ._elementwise import exp, log, sign

        s0, s1 = promote("geomspace", asarray_any(start), asarray_any(stop))
        lo, hi = log(_abs(s0)), log(_abs(s1))
        out = multiply(sign(s0), exp(linspace(lo, hi, num, endpoint=endpoint, axis=axis)))
        return E.convert_element_type(out, dt) if _aval(out).dtype != dt else out
    a, b = (
        np.asarray(_static(start, "geomspace", "start")),
        np.asarray(_static(stop, "geomspace", "stop")),
    )
    if (a == 0).any() or (b == 0).any():
        raise ValueError(f"geomspace: `start` and `stop` must be nonzero, got {a} and {b}.")
    with np.errstate(all="ignore"):
        r = np.geomspace(a, b, num, endpoint=endpoint, axis=axis)
    return _wrap(r.astype(dt))


# --------------------------------------------------------------------------- functional updates


def _no_inplace(inplace, fname):
    if inplace:
        raise ValueError(
            f"{fname}: derivax arrays are immutable, so {fname} cannot modify its argument. "
            f"Pass inplace=False and use the returned array: x = dnp.{fname}(x, ..., "
            "inplace=False)."
        )


def put_along_axis(arr, indices, values, axis, inplace=True, *, mode=None):
    """A copy of ``arr`` with ``values`` written at ``indices`` along ``axis``.

    The functional form of ``numpy.put_along_axis``: ``inplace=False`` is required.

    Args:
        arr: the array.
        indices: integer indices with ``arr``'s number of dimensions; other axes broadcast
            against ``arr``'s.
        values: broadcast to ``indices``' shape.
        axis: the axis the indices run along (None: the flattened array).
        inplace: must be False.
        mode: out-of-bounds handling, as in ``x.at[...].set`` (``"drop"``, ``"clip"``, or
            None: static indices must be in bounds).

    Returns:
        The updated array.

    Raises:
        ValueError: ``inplace`` is True, or the shapes do not fit together.

    Example:
        >>> import derivax.numpy as dnp
        >>> x = dnp.zeros((2, 3))
        >>> dnp.put_along_axis(x, dnp.array([[1], [2]]), 5.0, axis=1, inplace=False)
        Array([[0., 5., 0.],
               [0., 0., 5.]], dtype=float32)
    """
    _no_inplace(inplace, "put_along_axis")
    x = asarray_any(arr)
    idx = asarray_any(indices)
    shape = _aval(x).shape
    if axis is None:
        return reshape(put_along_axis(ravel(x), ravel(idx), values, 0, False, mode=mode), shape)
    nd = len(shape)
    ishape = _aval(idx).shape
    if len(ishape) != nd:
        raise ValueError(
            f"put_along_axis: indices (shape {ishape}) must have as many dimensions as arr "
            f"(shape {shape})."
        )
    if not _dtypes.is_int(_aval(idx).dtype):
        raise TypeError(f"put_along_axis: indices must be integers, got {_aval(idx).dtype}.")
    axis = canonical_axis(axis, nd, "put_along_axis")
    others = tuple(1 if d == axis else s for d, s in enumerate(shape))
    bshape = list(
        broadcast_shapes(
            others,
            tuple(1 if d == axis else s for d, s in enumerate(ishape)),
            fname="put_along_axis",
        )
    )
    if tuple(bshape) != others:
        raise ValueError(
            f"put_along_axis: indices of shape {ishape} do not broadcast against arr of shape "
            f"{shape} (every axis but {axis} must be 1 or match)."
        )
    bshape[axis] = ishape[axis]
    bshape = tuple(bshape)
    full_idx = []
    for d in range(nd):
        if d == axis:
            full_idx.append(broadcast_to_shape(idx, bshape))
        else:
            full_idx.append(S.iota(_INT, bshape, d))
    return x.at[tuple(full_idx)].set(broadcast_to(asarray_any(values), bshape), mode=mode)


def _cycled(values, count, fname):
    """``values`` flattened and repeated to ``count`` entries (NumPy's put/place rule)."""
    v = ravel(asarray_any(values))
    n = _aval(v).shape[0]
    if count and n == 0:
        raise ValueError(f"{fname}: cannot take values from an empty `vals`/`v`.")
    if n == count:
        return v
    return _take_static(v, np.arange(count) % max(n, 1), 0)


def put(a, ind, v, mode=None, *, inplace=True):
    """A copy of ``a`` with the flat positions ``ind`` set to ``v`` (cycled as needed).

    Args:
        a: the array.
        ind: flat indices.
        v: values, repeated cyclically to the length of ``ind``.
        mode: None or ``"raise"`` (static indices must be in bounds; traced ones out of
            bounds are dropped), ``"clip"`` or ``"wrap"``.
        inplace: must be False.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.put(dnp.zeros(4), dnp.array([0, 2]), 1.0, inplace=False)
        Array([1., 0., 1., 0.], dtype=float32)
    """
    _no_inplace(inplace, "put")
    if mode not in (None, "raise", "clip", "wrap"):
        raise ValueError(f"put: mode must be 'raise', 'clip' or 'wrap', got {mode!r}.")
    x = asarray_any(a)
    shape = _aval(x).shape
    flat = ravel(x)
    n = _aval(flat).shape[0]
    idx = ravel(asarray_any(ind))
    if mode == "wrap":
        idx = E.rem(
            E.add(
                E.rem(idx, S.full(_aval(idx).shape, n, _aval(idx).dtype)),
                S.full(_aval(idx).shape, n, _aval(idx).dtype),
            ),
            S.full(_aval(idx).shape, n, _aval(idx).dtype),
        )
    vals = _cycled(v, _aval(idx).shape[0], "put")
    at_mode = "clip" if mode == "clip" else None
    return reshape(flat.at[idx].set(vals, mode=at_mode), shape)


def place(arr, mask, vals, *, inplace=True):
    """A copy of ``arr`` whose entries where ``mask`` is True take the values ``vals`` in
    order (cycled). ``mask`` must be concrete.

    Example:
        >>> import derivax.numpy as dnp
        >>> x = dnp.arange(5)
        >>> dnp.place(x, x > 2, dnp.array([10, 20]), inplace=False)
        Array([ 0,  1,  2, 10, 20], dtype=int32)
    """
    _no_inplace(inplace, "place")
    x = asarray_any(arr)
    m = np.asarray(_static(mask, "place", "mask"), bool)
    if m.size != _aval(x).size:
        raise ValueError(f"place: mask of shape {m.shape} must have arr's size ({_aval(x).shape}).")
    pos = np.flatnonzero(m)
    flat = ravel(x)
    if not pos.size:
        return x
    vals = _cycled(vals, pos.size, "place")
    return reshape(flat.at[_wrap(pos.astype(_INT))].set(vals), _aval(x).shape)


def append(arr, values, axis=None):
    """``arr`` with ``values`` appended along ``axis`` (both flattened when None).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.append(dnp.array([1, 2]), dnp.array([[3]]))
        Array([1, 2, 3], dtype=int32)
    """
    x, v = asarray_any(arr), asarray_any(values)
    if axis is None:
        return concatenate([ravel(x), ravel(v)], 0)
    return concatenate([x, v], axis)


def _axis_or_flat(arr, axis, fname):
    x = asarray_any(arr)
    if axis is None:
        return ravel(x), 0
    return x, canonical_axis(axis, _aval(x).ndim, fname)


def delete(arr, obj, axis=None):
    """``arr`` without the entries ``obj`` (static: an int, a slice, ints or a bool mask)
    along ``axis`` (of the flattened array when None).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.delete(dnp.arange(5), dnp.array([0, 3]))
        Array([1, 2, 4], dtype=int32)
    """
    x, axis = _axis_or_flat(arr, axis, "delete")
    n = _aval(x).shape[axis]
    keep = np.ones(n, bool)
    if isinstance(obj, slice):
        keep[obj] = False
    else:
        o = np.asarray(_static(obj, "delete", "obj"))
        if o.dtype == bool:
            if o.shape != (n,):
                raise ValueError(
                    f"delete: a boolean `obj` must have shape ({n},) (the axis length), got {o.shape}."
                )
            keep = ~o
        else:
            o = _static_ints(o, "delete", "obj").reshape(-1)
            bad = (o < -n) | (o >= n)
            if bad.any():
                raise IndexError(
                    f"delete: index {int(o[bad][0])} is out of bounds for axis {axis} with size {n}."
                )
            keep[o] = False
    return _take_static(x, np.flatnonzero(keep), axis)


def insert(arr, obj, values, axis=None):
    """``arr`` with ``values`` inserted before the indices ``obj`` (static) along ``axis``
    (of the flattened array when None), as ``numpy.insert``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.insert(dnp.array([1, 2, 3]), 1, 9)
        Array([1, 9, 2, 3], dtype=int32)
        >>> dnp.insert(dnp.array([1, 2, 3]), dnp.array([0, 3]), dnp.array([7, 8]))
        Array([7, 1, 2, 3, 8], dtype=int32)
    """
    x, axis = _axis_or_flat(arr, axis, "insert")
    shape = _aval(x).shape
    nd = len(shape)
    n = shape[axis]
    dt = _aval(x).dtype
    v = asarray_any(values)
    if _aval(v).dtype != dt:
        v = E.convert_element_type(v, dt, _aval(x).weak_type)
    if isinstance(obj, slice):
        idx = np.arange(*obj.indices(n))
    else:
        idx = _static_ints(obj, "insert", "obj")
        if idx.ndim > 1:
            raise ValueError(f"insert: `obj` must be a scalar or 1-D, got shape {idx.shape}.")
    if idx.size == 1:
        index = int(idx.reshape(()))
        if not -n <= index <= n:
            raise IndexError(
                f"insert: index {index} is out of bounds for axis {axis} with size {n}."
            )
        index %= n + 1 if index >= 0 else n
        vs = _aval(v).shape
        v = reshape(v, (1,) * (nd - len(vs)) + vs) if len(vs) < nd else v
        if idx.ndim == 0 and not isinstance(obj, slice):
            v = moveaxis(v, 0, axis)
        vshape = list(shape)
        vshape[axis] = _aval(v).shape[axis]
        v = broadcast_to(v, tuple(vshape))
        parts = [S.slice_in_dim(x, 0, index, 1, axis), v, S.slice_in_dim(x, index, n, 1, axis)]
        return concatenate(parts, axis)
    bad = (idx < -n) | (idx > n)
    if bad.any():
        raise IndexError(
            f"insert: index {int(idx[bad][0])} is out of bounds for axis {axis} with size {n}."
        )
    idx = np.where(idx < 0, idx + n, idx)
    k = idx.size
    order = np.argsort(idx, kind="stable")
    new_pos = idx.copy()
    new_pos[order] += np.arange(k)
    vshape = list(shape)
    vshape[axis] = k
    v = broadcast_to(v, tuple(vshape))
    src = np.empty(n + k, np.int64)
    is_new = np.zeros(n + k, bool)
    is_new[new_pos] = True
    src[~is_new] = np.arange(n)
    src[new_pos] = n + np.arange(k)
    return _take_static(concatenate([x, v], axis), src, axis)


def resize(a, new_shape):
    """A new array of ``new_shape`` filled with the flattened ``a`` repeated cyclically.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.resize(dnp.array([1, 2, 3]), (2, 2))
        Array([[1, 2],
               [3, 1]], dtype=int32)
    """
    x = ravel(asarray_any(a))
    shape = tuple(_static_ints(new_shape, "resize", "new_shape").reshape(-1).tolist())
    if any(s < 0 for s in shape):
        raise ValueError(f"resize: `new_shape` must be non-negative, got {shape}.")
    size = int(np.prod(shape, dtype=np.int64))
    n = _aval(x).shape[0]
    if n == 0:
        return S.full(shape, 0, _aval(x).dtype)
    return reshape(_take_static(x, np.arange(size) % n, 0), shape)


def indices(dimensions, dtype=None, sparse=False):
    """An array of grid indices, one slice per dimension, as ``numpy.indices``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.indices((2, 2))[0]
        Array([[0, 0],
               [1, 1]], dtype=int32)
    """
    dims = tuple(_static_ints(dimensions, "indices", "dimensions").reshape(-1).tolist())
    dt = _dtypes.default_int_dtype() if dtype is None else _dtypes.canonicalize_dtype(dtype)
    r = np.indices(dims, sparse=sparse)
    if sparse:
        return tuple(_wrap(np.asarray(g).astype(dt)) for g in r)
    return _wrap(r.astype(dt))


def ix_(*args):
    """An open mesh from 1-D sequences, for ``x[ix_(rows, cols)]`` cross indexing.

    Example:
        >>> import derivax.numpy as dnp
        >>> [g.shape for g in dnp.ix_(dnp.array([0, 1]), dnp.array([2, 0, 1]))]
        [(2, 1), (1, 3)]
    """
    out = []
    n = len(args)
    for i, a in enumerate(args):
        x = asarray_any(a)
        if _aval(x).ndim != 1:
            raise ValueError(f"ix_: argument {i} must be 1-D, got shape {_aval(x).shape}.")
        if _aval(x).dtype == np.bool_:
            x = _wrap(np.flatnonzero(np.asarray(_static(x, "ix_", f"args[{i}]"))).astype(_INT))
        shape = [1] * n
        shape[i] = _aval(x).shape[0]
        out.append(reshape(x, tuple(shape)))
    return tuple(out)


# --------------------------------------------------------------------------- nonzero-likes


def _concrete_or_none(x):
    if isinstance(x, Tracer):
        return x.to_concrete_value()
    return x


def _flat_nonzero_traced(flat, size, fill_value):
    """The first ``size`` positions where ``flat`` is nonzero, with a validity mask."""
    n = _aval(flat).shape[0]
    nz = E.convert_element_type(E.ne(flat, S.full((n,), 0, _aval(flat).dtype)), _INT)
    cs = _cumsum_int(nz) if n else nz
    k = S.iota(_INT, (size, n), 0)
    # Output k is the first position whose running count exceeds k.
    pos = _sum(
        E.convert_element_type(E.le(S.broadcast_in_dim(cs, (size, n), (1,)), k), _INT), axis=1
    )
    valid = E.lt(S.iota(_INT, (size,), 0), S.full((size,), 0, _INT) + _sum(nz))
    return pos, valid


def _needs_size(fname):
    return ConcretizationTypeError(
        f"{fname}: the number of nonzero elements is unknown while tracing (under jit or "
        f"vmap), so the result's shape is unknown. Pass size=<int> (and optionally "
        f"fill_value=...) for a result of static shape, e.g. dnp.{fname}(x, size=10)."
    )


def argwhere(a, *, size=None, fill_value=None):
    """Indices of the nonzero elements, one row each: shape ``(count, a.ndim)``.

    Args:
        a: the array.
        size: the static number of rows; required under ``jit``/``vmap``. Extra rows hold
            ``fill_value`` (default 0); extra nonzeros are dropped.
        fill_value: the value of padding rows.

    Returns:
        An int32 array.

    Raises:
        ConcretizationTypeError: ``a`` is traced and ``size`` is None.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.argwhere(dnp.array([[0, 1], [2, 0]]))
        Array([[0, 1],
               [1, 0]], dtype=int32)
    """
    x = asarray_any(a)
    shape = _aval(x).shape
    concrete = _concrete_or_none(x)
    if concrete is not None:
        r = np.argwhere(np.asarray(concrete))
        if size is not None:
            fv = 0 if fill_value is None else fill_value
            pad_rows = np.full((max(0, size - len(r)), r.shape[1]), fv, r.dtype)
            r = np.concatenate([r[:size], pad_rows])
        return _wrap(r.astype(_INT))
    if size is None:
        raise _needs_size("argwhere")
    size = _static_int(size, "argwhere", "size")
    pos, valid = _flat_nonzero_traced(ravel(x), size, fill_value)
    cols = []
    for d in range(len(shape)):
        stride = int(np.prod(shape[d + 1 :], dtype=np.int64))
        c = E.div(pos, S.full((size,), stride, _INT))
        if d:
            c = E.rem(c, S.full((size,), shape[d], _INT))
        cols.append(c)
    out = (
        S.concatenate([reshape(c, (size, 1)) for c in cols], 1)
        if cols
        else S.full((size, 0), 0, _INT)
    )
    fv = S.full(_aval(out).shape, 0 if fill_value is None else fill_value, _INT)
    return where(S.broadcast_in_dim(valid, (size, len(shape)), (0,)), out, fv)


def flatnonzero(a, *, size=None, fill_value=None):
    """Indices of the nonzero elements of the flattened array.

    Args:
        a: the array.
        size: the static length of the result; required under ``jit``/``vmap``.
        fill_value: the value of padding entries (default 0).

    Raises:
        ConcretizationTypeError: ``a`` is traced and ``size`` is None.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.flatnonzero(dnp.array([0, 3, 0, 4]))
        Array([1, 3], dtype=int32)
    """
    x = ravel(asarray_any(a))
    concrete = _concrete_or_none(x)
    if concrete is not None:
        r = np.flatnonzero(np.asarray(concrete))
        if size is not None:
            fv = 0 if fill_value is None else fill_value
            r = np.concatenate([r[:size], np.full(max(0, size - len(r)), fv, r.dtype)])
        return _wrap(r.astype(_INT))
    if size is None:
        raise _needs_size("flatnonzero")
    size = _static_int(size, "flatnonzero", "size")
    pos, valid = _flat_nonzero_traced(x, size, fill_value)
    return where(valid, pos, S.full((size,), 0 if fill_value is None else fill_value, _INT))


# --------------------------------------------------------------------------- select, piecewise


def select(condlist, choicelist, default=0):
    """Elementwise: the choice of the first true condition, else ``default``.

    Args:
        condlist: a list of boolean arrays.
        choicelist: a list of arrays, one per condition.
        default: the value where no condition holds.

    Returns:
        An array of the broadcast shape and the promoted dtype of the choices and
        ``default``.

    Raises:
        ValueError: the lists have different lengths or are empty.
        TypeError: a condition is not boolean.

    Example:
        >>> import derivax.numpy as dnp
        >>> x = dnp.arange(5)
        >>> dnp.select([x < 2, x > 3], [x, x * 10], default=-1)
        Array([ 0,  1, -1, -1, 40], dtype=int32)
    """
    condlist, choicelist = list(condlist), list(choicelist)
    if len(condlist) != len(choicelist):
        raise ValueError(
            f"select: condlist ({len(condlist)} entries) and choicelist ({len(choicelist)} "
            "entries) must have the same length."
        )
    if not condlist:
        raise ValueError("select: condlist and choicelist must not be empty.")
    conds = [asarray_any(c) for c in condlist]
    for i, c in enumerate(conds):
        if _aval(c).dtype != np.bool_:
            raise TypeError(
                f"select: condlist[{i}] must be a boolean array, got dtype {_aval(c).dtype}; "
                "compare explicitly (e.g. x != 0)."
            )
    *choices, out = promote("select", *choicelist, default)
    for c, ch in zip(reversed(conds), reversed(choices), strict=True):
        out = where(c, ch, out)
    shape = broadcast_shapes(*[_aval(v).shape for v in (*conds, *choices, out)], fname="select")
    return broadcast_to_shape(out, shape) if _aval(out).shape != shape else out


def piecewise(x, condlist, funclist, *args, **kw):
    """Evaluate a piecewise function: ``funclist[i](x)`` where ``condlist[i]`` holds.

    Every function is evaluated on all of ``x`` and the results are selected elementwise
    (later conditions win, as in NumPy). One extra function is the value where no condition
    holds; an entry may be a constant instead of a function.

    Example:
        >>> import derivax.numpy as dnp
        >>> x = dnp.array([-2.0, 0.5, 3.0])
        >>> dnp.piecewise(x, [x < 0, x >= 0], [lambda v: -v, lambda v: v * 2])
        Array([2., 1., 6.], dtype=float32)
    """
    x = asarray_any(x)
    dt = _aval(x).dtype
    shape = _aval(x).shape
    if isinstance(condlist, (Array, Tracer, np.ndarray)) and np.ndim(condlist) == len(shape):
        condlist = [condlist]
    conds = [broadcast_to(asarray_any(c), shape) for c in condlist]
    funcs = list(funclist)
    if len(funcs) not in (len(conds), len(conds) + 1):
        raise ValueError(
            f"piecewise: with {len(conds)} conditions, funclist needs {len(conds)} or "
            f"{len(conds) + 1} entries, got {len(funcs)}."
        )
    if len(funcs) == len(conds) + 1:
        from ._elementwise import logical_not, logical_or

        other = S.full(shape, False, np.bool_)
        for c in conds:
            other = logical_or(other, c)
        conds = [*conds, logical_not(other)]
        conds = [conds[-1], *conds[:-1]]
        funcs = [funcs[-1], *funcs[:-1]]

    def value(f):
        v = f(x, *args, **kw) if callable(f) else f
        v = asarray_any(v)
        if _aval(v).dtype != dt:
            v = E.convert_element_type(v, dt, _aval(x).weak_type)
        return broadcast_to(v, shape)

    out = S.full(shape, 0, dt)
    for c, f in zip(conds, funcs, strict=True):
        out = where(c, value(f), out)
    return out


def copy(a, order=None):
    """A copy of ``a`` (arrays are immutable, so this only matters for NumPy inputs).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.copy(dnp.array([1, 2]))
        Array([1, 2], dtype=int32)
    """
    x = asarray_any(a)
    if type(x) is Array:
        return _wrap(np.array(x._value, copy=True), x.weak_type)
    return x
