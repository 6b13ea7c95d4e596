"""NumPy-style indexing (``x[idx]``), functional updates (``x.at[idx].set(v)``), ``take``,
``take_along_axis`` and ``nonzero``.

Static indices (Python ints, slices, concrete index arrays) are checked like NumPy checks
them: an out-of-bounds index raises ``IndexError`` rather than being clamped. Indices that
are traced (only known when the program runs) follow ``mode``: reads clamp (``"clip"``),
updates skip out-of-bounds positions (``"drop"``), as in JAX; ``mode="fill"`` reads give
``fill_value`` instead.
"""

from __future__ import annotations

import numpy as np

from .. import _dtypes
from .._array import Array, _wrap
from .._core import ConcretizationTypeError, Tracer, concretization_message, get_aval
from ..lax import _elementwise as E
from ..lax import _indexing as IX
from ..lax import _structural as S
from ._util import asarray_any, broadcast_shapes, broadcast_to_shape, canonical_axis


class NonConcreteBooleanIndexError(ConcretizationTypeError):
    """A boolean mask that is traced was used as an index. The result's shape would depend
    on the mask's values, which are unknown while tracing. Use ``derivax.numpy.where(mask,
    x, fill)`` to keep the shape, or index outside ``jit``."""


def _index_dtype():
    return _dtypes.default_int_dtype()


def _is_int_scalar(e):
    return isinstance(e, (int, np.integer)) and not isinstance(e, (bool, np.bool_))


def _normalize_entries(shape, idx):
    """Entries in a canonical form: 'new', int, slice, or ('arr', array) per input dim."""
    if not isinstance(idx, tuple):
        idx = (idx,)
    entries = []
    for e in idx:
        if e is None:
            entries.append("new")
        elif e is Ellipsis:
            entries.append(Ellipsis)
        elif isinstance(e, slice):
            for part in (e.start, e.stop, e.step):
                if isinstance(part, Tracer):
                    raise IndexError(
                        "Slice bounds must be static (Python ints): a traced value was used in "
                        "a slice. Use derivax.lax.dynamic_slice(x, starts, sizes) for a "
                        "window at a traced position."
                    )
            entries.append(
                slice(*(None if p is None else int(p) for p in (e.start, e.stop, e.step)))
            )
        elif _is_int_scalar(e):
            entries.append(int(e))
        elif isinstance(e, (bool, np.bool_)):
            raise IndexError("Indexing with a Python bool is not supported; use a bool array.")
        elif isinstance(e, (Array, Tracer, np.ndarray, list, tuple)):
            arr = (
                e
                if isinstance(e, (Array, Tracer))
                else asarray_any(
                    np.asarray(e) if not isinstance(e, list) or e else np.asarray(e, np.int32)
                )
            )
            dt = get_aval(arr).dtype
            if dt == np.bool_:
                if isinstance(arr, Tracer):
                    val = arr.to_concrete_value()
                    if val is None:
                        raise NonConcreteBooleanIndexError(
                            concretization_message(arr, "a boolean mask index")
                            + "\nA boolean mask gives a result whose shape depends on the "
                            "mask's values. Keep the shape with derivax.numpy.where(mask, x, 0)."
                        )
                    arr = val
                v = np.asarray(arr)
                if v.ndim == 0:
                    raise IndexError("0-d boolean indices are not supported.")
                for nz in np.nonzero(v):
                    entries.append(("arr", _wrap(nz.astype(_index_dtype()))))
                continue
            if not (_dtypes.is_int(dt)):
                raise IndexError(
                    f"Arrays used as indices must be of integer (or boolean) type, got {dt}. "
                    "Convert with .astype(derivax.numpy.int32)."
                )
            entries.append(("arr", arr))
        else:
            raise TypeError(
                f"Invalid index of type {type(e).__name__}: use ints, slices, None, Ellipsis "
                "or integer/boolean arrays."
            )
    consumed = sum(1 for e in entries if e not in ("new", Ellipsis))
    n_ell = sum(1 for e in entries if e is Ellipsis)
    if n_ell > 1:
        raise IndexError("An index can only have a single ellipsis ('...').")
    if consumed > len(shape):
        raise IndexError(
            f"Too many indices: the array has {len(shape)} dimensions (shape {shape}) but "
            f"{consumed} were indexed."
        )
    fill = [slice(None)] * (len(shape) - consumed)
    if n_ell:
        i = entries.index(Ellipsis)
        entries = entries[:i] + fill + entries[i + 1 :]
    else:
        entries = entries + fill
    return entries


def _insert_new_axes(x, entries):
    if "new" not in entries:
        return x, entries
    shape = list(get_aval(x).shape)
    new_shape, out_entries, d = [], [], 0
    for e in entries:
        if e == "new":
            new_shape.append(1)
            out_entries.append(slice(None))
        else:
            new_shape.append(shape[d])
            out_entries.append(e)
            d += 1
    return S.reshape(x, tuple(new_shape)), out_entries


def _check_static_int(i, size, dim):
    if not -size <= i < size:
        raise IndexError(f"index {i} is out of bounds for axis {dim} with size {size}.")
    return i % size


def _prepare_index_array(arr, size, dim, mode):
    """Normalise negatives; check static arrays' bounds when no mode is given."""
    if type(arr) is Array and mode is None:
        v = arr._value
        if v.size and (v.min() < -size or v.max() >= size):
            bad = v[(v < -size) | (v >= size)].flat[0]
            raise IndexError(
                f"index {bad} is out of bounds for axis {dim} with size {size}. (Use "
                ".at[idx].get(mode='clip') or mode='fill' for other out-of-bounds behaviour.)"
            )
    arr = E.convert_element_type(asarray_any(arr), _index_dtype())
    zero = S.full(get_aval(arr).shape, 0, _index_dtype())
    n = S.full(get_aval(arr).shape, size, _index_dtype())
    return E.select(E.lt(arr, zero), E.add(arr, n), arr)


def _apply_basic(x, entries, has_arrays):
    """Apply slices (and static ints when there are no array indices)."""
    shape = get_aval(x).shape
    starts, limits, strides, revs, squeeze = [], [], [], [], []
    out_entries = []
    for d, (e, size) in enumerate(zip(entries, shape, strict=True)):
        if isinstance(e, slice):
            start, stop, step = e.indices(size)
            n = len(range(start, stop, step))
            if step < 0:
                revs.append(d)
                start = size - 1 - start
                step = -step
            if n == 0:
                starts.append(0)
                limits.append(0)
            else:
                starts.append(start)
                limits.append(start + (n - 1) * step + 1)
            strides.append(step)
            out_entries.append(slice(None))
        elif isinstance(e, int) and not has_arrays:
            i = _check_static_int(e, size, d)
            starts.append(i)
            limits.append(i + 1)
            strides.append(1)
            squeeze.append(d)
        else:
            starts.append(0)
            limits.append(size)
            strides.append(1)
            out_entries.append(e)
    if revs:
        x = S.rev(x, tuple(revs))
    if starts != [0] * len(shape) or limits != list(shape) or strides != [1] * len(shape):
        x = S.slice(x, starts, limits, strides)
    if squeeze:
        x = S.squeeze(x, tuple(squeeze))
    return x, out_entries


def _advanced_layout(entries, shape, mode):
    """Positions of the advanced entries and their broadcast index arrays."""
    pos = [d for d, e in enumerate(entries) if not isinstance(e, slice)]
    arrays = []
    for d in pos:
        e = entries[d]
        if isinstance(e, int):
            arrays.append(_wrap(np.asarray(_check_static_int(e, shape[d], d), _index_dtype())))
        else:
            arrays.append(_prepare_index_array(e[1], shape[d], d, mode))
    bshape = broadcast_shapes(*[get_aval(a).shape for a in arrays], fname="indexing")
    arrays = [broadcast_to_shape(a, bshape) for a in arrays]
    return pos, arrays, bshape


def getitem(x, idx, mode=None, fill_value=None):
    """``x[idx]`` with NumPy's semantics (see the module docstring for bounds)."""
    x = asarray_any(x)
    if type(idx) is int and type(x) is Array and x._value.ndim and mode is None:
        v = x._value  # fast path: x[i] on a concrete array
        i = _check_static_int(idx, v.shape[0], 0)
        return _wrap(v[i], x.weak_type)
    entries = _normalize_entries(get_aval(x).shape, idx)
    x, entries = _insert_new_axes(x, entries)
    has_arrays = any(isinstance(e, tuple) for e in entries)
    x, entries = _apply_basic(x, entries, has_arrays)
    if not has_arrays:
        return x
    shape = get_aval(x).shape
    pos, arrays, bshape = _advanced_layout(entries, shape, mode)
    others = [d for d in range(len(shape)) if d not in pos]
    x = S.transpose(x, tuple(pos + others))
    gmode = "clip" if mode in (None, "promise_in_bounds", "clip") else "fill"
    out = IX.gather(x, arrays, mode=gmode, fill_value=fill_value)
    return _place_advanced(out, pos, len(bshape), len(others))


def _place_advanced(out, pos, nb, n_others):
    contiguous = pos == list(range(pos[0], pos[0] + len(pos)))
    if contiguous and pos[0] > 0:
        p = pos[0]
        perm = list(range(nb, nb + p)) + list(range(nb)) + list(range(nb + p, nb + n_others))
        out = S.transpose(out, tuple(perm))
    return out


def _unplace_advanced(upd, pos, nb, n_others):
    contiguous = pos == list(range(pos[0], pos[0] + len(pos)))
    if contiguous and pos[0] > 0:
        p = pos[0]
        perm = list(range(p, p + nb)) + list(range(p)) + list(range(p + nb, p + nb + n_others))
        upd = S.transpose(upd, tuple(perm))
    return upd


def _has_tracer_index(idx):
    items = idx if isinstance(idx, tuple) else (idx,)
    return any(isinstance(e, Tracer) for e in items)


def scatter_update(x, idx, values, combine, mode=None):
    """Functional ``x[idx] (combine)= values``."""
    x = asarray_any(x)
    xa = get_aval(x)
    values = asarray_any(values)
    if get_aval(values).dtype != xa.dtype:
        values = E.convert_element_type(values, xa.dtype, xa.weak_type)
    if not _has_tracer_index(idx):
        return _static_scatter(x, idx, values, combine, mode)
    entries = _normalize_entries(xa.shape, idx)
    if "new" in entries or any(isinstance(e, slice) and e != slice(None) for e in entries):
        return _scatter_with_slices(x, entries, values, combine, mode)
    pos, arrays, bshape = _advanced_layout(entries, xa.shape, mode or "drop")
    others = [d for d in range(xa.ndim) if d not in pos]
    xt = S.transpose(x, tuple(pos + others))
    target = bshape + tuple(xa.shape[d] for d in others)
    placed = _place_advanced_shape(pos, bshape, [xa.shape[d] for d in others])
    upd = broadcast_to_shape_checked(values, placed)
    upd = _unplace_advanced(upd, pos, len(bshape), len(others))
    assert get_aval(upd).shape == target
    smode = "clip" if mode in ("clip", "promise_in_bounds") else "drop"
    out = IX.scatter(xt, arrays, upd, combine=combine, mode=smode)
    inv = np.argsort(pos + others)
    return S.transpose(out, tuple(int(i) for i in inv))


def _scatter_with_slices(x, entries, values, combine, mode):
    """Traced indices mixed with partial slices or ``None``: every dimension becomes an index.

    Each slice turns into a static ``arange`` laid along its own axis of NumPy's result
    layout, and each advanced index is broadcast into that layout, so one scatter with an
    index array per dimension covers every element the index selects.
    """
    shape = get_aval(x).shape
    xr, entries = _insert_new_axes(x, entries)
    rshape = get_aval(xr).shape
    adv = [d for d, e in enumerate(entries) if not isinstance(e, slice)]
    _, adv_arrays, bshape = _advanced_layout(entries, rshape, mode or "drop")
    slices = [d for d in range(len(rshape)) if d not in adv]
    ranges = {d: range(*entries[d].indices(rshape[d])) for d in slices}
    # NumPy's layout: the broadcast index dims replace the advanced entries when those are
    # adjacent, otherwise they go first.
    contiguous = adv == list(range(adv[0], adv[0] + len(adv)))
    at = adv[0] if contiguous else 0
    before = [d for d in slices if d < at] if contiguous else []
    after = [d for d in slices if d not in before]
    layout = [*(len(ranges[d]) for d in before), *bshape, *(len(ranges[d]) for d in after)]
    nb = len(bshape)
    arrays = []
    for d in range(len(rshape)):
        if d in adv:
            a = adv_arrays[adv.index(d)]
            a = S.reshape(a, (1,) * len(before) + tuple(bshape) + (1,) * len(after))
        else:
            axis = before.index(d) if d in before else len(before) + nb + after.index(d)
            col = np.asarray(ranges[d], _index_dtype()).reshape(
                [len(ranges[d]) if i == axis else 1 for i in range(len(layout))]
            )
            a = _wrap(col)
        arrays.append(broadcast_to_shape(a, tuple(layout)))
    upd = broadcast_to_shape_checked(values, tuple(layout))
    smode = "clip" if mode in ("clip", "promise_in_bounds") else "drop"
    out = IX.scatter(xr, arrays, upd, combine=combine, mode=smode)
    return S.reshape(out, shape) if get_aval(out).shape != shape else out


def _place_advanced_shape(pos, bshape, other_sizes):
    contiguous = pos == list(range(pos[0], pos[0] + len(pos)))
    if contiguous and pos[0] > 0:
        p = pos[0]
        return tuple(other_sizes[:p]) + tuple(bshape) + tuple(other_sizes[p:])
    return tuple(bshape) + tuple(other_sizes)


def broadcast_to_shape_checked(values, shape):
    vs = get_aval(values).shape
    if broadcast_shapes(vs, shape, fname=".at[] update") != tuple(shape) or len(vs) > len(shape):
        raise ValueError(
            f".at[] update: values of shape {vs} cannot be broadcast to the indexed shape "
            f"{tuple(shape)}."
        )
    return broadcast_to_shape(values, tuple(shape))


def _static_scatter(x, idx, values, combine, mode):
    xa = get_aval(x)
    pos = _static_positions(idx, xa.shape, mode)
    upd = broadcast_to_shape_checked(values, pos.shape)
    flat = S.reshape(x, (xa.size,))
    # Dropped entries point one past the end, where the scatter (mode "drop") skips them.
    pos = np.where(pos < 0, xa.size, pos)
    pos_arr = _wrap(pos.astype(_index_dtype()) if xa.size < 2**31 else pos)
    out = IX.scatter(flat, [pos_arr], upd, combine=combine, mode="drop")
    return S.reshape(out, xa.shape)


def _static_positions(idx, shape, mode):
    """The flat positions ``x[idx]`` refers to, in NumPy's result layout.

    Out-of-bounds entries follow ``mode``: ``None`` raises IndexError, ``"clip"`` clamps,
    ``"drop"``/``"fill"`` mark them with -1. The positions are read from an array one
    larger in every dimension whose extra slots hold -1, so an out-of-bounds index can
    point at an extra slot whatever the layout of the result (slices are made explicit so
    that they never reach the extra slots).
    """
    entries = _normalize_entries(shape, idx)
    np_idx = []
    dim = 0
    for e in entries:
        if isinstance(e, str):  # "new": a None in the index
            np_idx.append(None)
            continue
        n = shape[dim]
        if isinstance(e, slice):
            start, stop, step = e.indices(n)
            np_idx.append(slice(start, None if stop < 0 else stop, step))
        else:
            v = np.asarray(e[1] if isinstance(e, tuple) else e).astype(np.int64)
            bad = (v < -n) | (v >= n)
            if bad.any() and mode in (None, "promise_in_bounds"):
                raise IndexError(
                    f"index {int(v[bad].flat[0])} is out of bounds for axis {dim} with size "
                    f"{n} (in x.at[...] on an array of shape {tuple(shape)}; pass "
                    "mode='drop' to skip out-of-bounds positions or mode='clip' to clamp "
                    "them)."
                )
            v = np.where(v < 0, v + n, v)
            v = np.clip(v, 0, max(n - 1, 0)) if mode == "clip" else np.where(bad, n, v)
            np_idx.append(v if v.ndim else int(v))
        dim += 1
    size = int(np.prod(shape, dtype=np.int64))
    extended = np.full(tuple(n + 1 for n in shape), -1, np.int64)
    extended[tuple(slice(0, n) for n in shape)] = np.arange(size).reshape(shape)
    return np.asarray(extended[tuple(np_idx)])


class _IndexUpdateRef:
    __slots__ = ("array", "index")

    def __init__(self, array, index):
        self.array = array
        self.index = index

    def get(self, *, mode=None, fill_value=None, indices_are_sorted=False, unique_indices=False):
        """``x[idx]``; ``mode='fill'`` gives ``fill_value`` (NaN for floats) out of bounds,
        ``mode='clip'`` clamps."""
        IX._check_mode(mode or "clip")
        return getitem(self.array, self.index, mode=mode, fill_value=fill_value)

    def _update(self, values, combine, mode):
        if mode is not None:
            IX._check_mode(mode)
        return scatter_update(self.array, self.index, values, combine, mode)

    def set(self, values, *, mode=None, indices_are_sorted=False, unique_indices=False):
        """A copy of the array with ``x[idx] = values``."""
        return self._update(values, "set", mode)

    def add(self, values, *, mode=None, indices_are_sorted=False, unique_indices=False):
        """A copy with ``x[idx] += values`` (repeated indices accumulate)."""
        return self._update(values, "add", mode)

    def multiply(self, values, *, mode=None, indices_are_sorted=False, unique_indices=False):
        """A copy with ``x[idx] *= values``."""
        return self._update(values, "mul", mode)

    mul = multiply

    def divide(self, values, *, mode=None, indices_are_sorted=False, unique_indices=False):
        """A copy with ``x[idx] /= values``."""
        from ._elementwise import reciprocal

        return self._update(reciprocal(values), "mul", mode)

    def power(self, values, *, mode=None, indices_are_sorted=False, unique_indices=False):
        """A copy with ``x[idx] **= values``."""
        from ._elementwise import power

        cur = getitem(self.array, self.index, mode="clip" if mode else None)
        return self._update(power(cur, values), "set", mode)

    def min(self, values, *, mode=None, indices_are_sorted=False, unique_indices=False):
        """A copy with ``x[idx] = minimum(x[idx], values)``."""
        return self._update(values, "min", mode)

    def max(self, values, *, mode=None, indices_are_sorted=False, unique_indices=False):
        """A copy with ``x[idx] = maximum(x[idx], values)``."""
        return self._update(values, "max", mode)


class _IndexUpdateHelper:
    """``x.at[idx]``: functional updates of an immutable array.

    Example:
        >>> import derivax.numpy as dnp
        >>> x = dnp.zeros(4)
        >>> x.at[1].set(5.0)
        Array([0., 5., 0., 0.], dtype=float32)
        >>> x.at[dnp.array([0, 0, 2])].add(1.0)
        Array([2., 0., 1., 0.], dtype=float32)
    """

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array

    def __getitem__(self, index):
        return _IndexUpdateRef(self.array, index)


def take(a, indices, axis=None, mode=None, fill_value=None):
    """Elements of ``a`` at ``indices`` along ``axis`` (of the flattened array if None).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.take(dnp.array([10, 20, 30]), dnp.array([2, 0]))
        Array([30, 10], dtype=int32)
    """
    a = asarray_any(a)
    if axis is None:
        a = S.reshape(a, (get_aval(a).size,))
        axis = 0
    axis = canonical_axis(axis, get_aval(a).ndim, "take")
    idx = (slice(None),) * axis + (asarray_any(indices),)
    return getitem(a, idx, mode=mode, fill_value=fill_value)


def take_along_axis(arr, indices, axis, mode=None, fill_value=None):
    """Pick values of ``arr`` along ``axis`` at ``indices`` (same rank as ``arr``).

    Example:
        >>> import derivax.numpy as dnp
        >>> logits = dnp.array([[1.0, 2.0], [3.0, 4.0]])
        >>> dnp.take_along_axis(logits, dnp.array([[1], [0]]), axis=1)
        Array([[2.],
               [3.]], dtype=float32)
    """
    arr = asarray_any(arr)
    indices = asarray_any(indices)
    aa, ia = get_aval(arr), get_aval(indices)
    if axis is None:
        arr = S.reshape(arr, (aa.size,))
        indices = S.reshape(indices, (ia.size,))
        aa, ia, axis = get_aval(arr), get_aval(indices), 0
    if ia.ndim != aa.ndim:
        raise ValueError(
            f"take_along_axis: indices (shape {ia.shape}) must have the same number of "
            f"dimensions as arr (shape {aa.shape})."
        )
    if not _dtypes.is_int(ia.dtype):
        raise TypeError(f"take_along_axis: indices must be integers, got {ia.dtype}.")
    axis = canonical_axis(axis, aa.ndim, "take_along_axis")
    shape = list(
        broadcast_shapes(
            tuple(1 if d == axis else s for d, s in enumerate(aa.shape)),
            tuple(1 if d == axis else s for d, s in enumerate(ia.shape)),
            fname="take_along_axis",
        )
    )
    shape[axis] = ia.shape[axis]
    shape = tuple(shape)
    idx = _prepare_index_array(indices, aa.shape[axis], axis, mode)
    idx = broadcast_to_shape(idx, shape)
    arrays = []
    for d in range(aa.ndim):
        if d == axis:
            arrays.append(idx)
        else:
            arrays.append(S.iota(_index_dtype(), shape, d))
    src = arr
    if any(aa.shape[d] == 1 and shape[d] != 1 for d in range(aa.ndim) if d != axis):
        src = broadcast_to_shape(
            arr, tuple(shape[d] if d != axis else aa.shape[d] for d in range(aa.ndim))
        )
    gmode = "clip" if mode in (None, "promise_in_bounds", "clip") else "fill"
    return IX.gather(src, arrays, mode=gmode, fill_value=fill_value)


def nonzero(a, *, size=None, fill_value=None):
    """Indices of the nonzero elements, one array per dimension (eager only).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.nonzero(dnp.array([0, 3, 0, 4]))
        (Array([1, 3], dtype=int32),)
    """
    a = asarray_any(a)
    if isinstance(a, Tracer):
        v = a.to_concrete_value()
        if v is None:
            raise ConcretizationTypeError(
                concretization_message(a, "nonzero (its output shape depends on the values)")
                + "\nUse derivax.numpy.where(mask, x, fill) to keep shapes static."
            )
        a = v
    v = np.asarray(a)
    res = np.nonzero(v)
    if size is not None:
        fv = 0 if fill_value is None else fill_value
        res = tuple(
            np.concatenate([r[:size], np.full(max(0, size - len(r)), fv, r.dtype)]) for r in res
        )
    return tuple(_wrap(r.astype(_index_dtype())) for r in res)


def _take_diagonal(x, i, j):
    """The diagonal of dims ``i`` and ``j`` of ``x``, as the last axis."""
    shape = get_aval(x).shape
    n = min(shape[i], shape[j])
    others = [d for d in range(len(shape)) if d not in (i, j)]
    xt = S.transpose(x, (i, j, *others))
    ar = S.iota(_index_dtype(), (n,), 0)
    out = IX.gather(xt, [ar, ar], mode="clip", fill_value=None)
    return S.moveaxis(out, 0, len(others))
