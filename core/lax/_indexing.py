"""Indexing primitives: dynamic slices, gather and scatter.

derivax's ``gather`` and ``scatter`` index the *leading* ``k`` axes of the operand with ``k``
integer arrays of one shape (NumPy's advanced indexing, after ``derivax.numpy`` has moved
the indexed axes to the front and broadcast the index arrays). This keeps the rules short
while covering everything NumPy-style indexing needs.

Out-of-bounds indices follow ``mode``:

* ``"clip"`` (default for reads): indices are clamped into range;
* ``"fill"``: reads outside give ``fill_value`` (NaN for floats by default in ``.at[].get``);
* ``"drop"`` (default for updates): updates outside are ignored;
* ``"promise_in_bounds"``: the caller guarantees validity (treated as ``"clip"`` here).
"""

from __future__ import annotations

import numpy as np

from .._ad_util import Zero, add_tangents, instantiate, is_undefined
from .._config import config
from .._core import Primitive, ShapedArray
from . import _elementwise as E
from . import _structural as S
from ._util import aval_of, is_inexact, val, weak, wrap

MODES = ("clip", "fill", "drop", "promise_in_bounds")


def _check_mode(mode):
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")


# --------------------------------------------------------------------------- dynamic_slice


def _clamped_starts(starts, shape, sizes):
    if config.debug_index_checks:
        for axis, (s, d, z) in enumerate(zip(starts, shape, sizes, strict=True)):
            s = int(val(s))
            if not 0 <= s <= d - z:
                raise IndexError(
                    f"debug_index_checks: dynamic slice start {s} on axis {axis} does not fit "
                    f"a window of {z} in size {d}; without the check it is clamped to "
                    f"{min(max(s, 0), d - z)}."
                )
    return tuple(
        int(np.clip(int(val(s)), 0, d - z)) for s, d, z in zip(starts, shape, sizes, strict=True)
    )


def _ds_abstract_eval(x, *starts, slice_sizes):
    if len(starts) != x.ndim or len(slice_sizes) != x.ndim:
        raise TypeError(
            f"dynamic_slice: need one start index and one size per dimension of "
            f"{x.str_short()}, got {len(starts)} starts and slice_sizes={slice_sizes}."
        )
    for s in starts:
        if s.shape != () or not np.issubdtype(s.dtype, np.integer):
            raise TypeError(f"dynamic_slice: start indices must be integer scalars, got {s}.")
    for d, z in zip(x.shape, slice_sizes, strict=True):
        if not 0 <= z <= d:
            raise ValueError(
                f"dynamic_slice: slice_sizes {slice_sizes} do not fit in shape {x.shape}."
            )
    return ShapedArray(slice_sizes, x.dtype, x.weak_type)


def _ds_impl(x, *starts, slice_sizes):
    v = val(x)
    st = _clamped_starts(starts, v.shape, slice_sizes)
    idx = tuple(slice(s, s + z) for s, z in zip(st, slice_sizes, strict=True))
    return wrap(v[idx], weak(x))


def _ds_jvp(primals, tangents, *, slice_sizes):
    x, *starts = primals
    ans = dynamic_slice_p.bind(x, *starts, slice_sizes=slice_sizes)
    t = tangents[0]
    if type(t) is Zero:
        return ans, Zero.like(ans)
    return ans, dynamic_slice_p.bind(t, *starts, slice_sizes=slice_sizes)


def _ds_transpose(ct, x, *starts, slice_sizes):
    if type(ct) is Zero:
        return [Zero(x.aval)] + [None] * len(starts)
    zeros = S.full(x.aval.shape, 0, x.aval.dtype)
    return [dynamic_update_slice_p.bind(zeros, ct, *starts)] + [None] * len(starts)


def _window_indices(starts, shape, sizes, size):
    """Per-example index arrays (B, *sizes) for a batched window read or write."""
    idx = []
    nd = len(shape)
    for i, (s, d, z) in enumerate(zip(starts, shape, sizes, strict=True)):
        s = E.convert_element_type(s, np.int32)
        s = E.max(
            E.min(s, S.full(aval_of(s).shape, d - z, np.int32)),
            S.full(aval_of(s).shape, 0, np.int32),
        )
        s = S.bdim_to_front(s, 0, size) if aval_of(s).ndim else S.broadcast(s, (size,))
        full_shape = (size, *sizes)
        base = S.broadcast_in_dim(s, full_shape, (0,))
        offs = S.iota(np.int32, full_shape, i + 1)
        idx.append(E.add(base, offs))
    del nd
    return idx


def _ds_batch(vals, dims, *, slice_sizes):
    x, *starts = vals
    xd, *sd = dims
    if all(d is None for d in sd):
        x = S.moveaxis(x, xd, 0)
        size = aval_of(x).shape[0]
        zero = np.zeros((), np.int32)
        return dynamic_slice_p.bind(x, zero, *starts, slice_sizes=(size, *slice_sizes)), 0
    size = next(aval_of(v).shape[d] for v, d in zip(vals, dims, strict=True) if d is not None)
    x = S.bdim_to_front(x, xd, size)
    starts = [
        S.moveaxis(s, d, 0) if d is not None else S.broadcast(s, (size,))
        for s, d in zip(starts, sd, strict=True)
    ]
    shape = aval_of(x).shape[1:]
    idx = _window_indices(starts, shape, slice_sizes, size)
    bidx = S.iota(np.int32, (size, *slice_sizes), 0)
    return gather_p.bind(x, bidx, *idx, mode="clip", fill_value=None), 0


dynamic_slice_p = Primitive("dynamic_slice")
dynamic_slice_p.impl = _ds_impl
dynamic_slice_p.abstract_eval = _ds_abstract_eval
dynamic_slice_p.jvp = _ds_jvp
dynamic_slice_p.transpose = _ds_transpose
dynamic_slice_p.batch = _ds_batch
dynamic_slice_p.linear = True


def dynamic_slice(x, start_indices, slice_sizes):
    """A window of ``slice_sizes`` at traced ``start_indices`` (clamped to stay in bounds)."""
    return dynamic_slice_p.bind(x, *start_indices, slice_sizes=tuple(int(s) for s in slice_sizes))


# --------------------------------------------------------------------------- dynamic_update_slice


def _dus_abstract_eval(x, update, *starts):
    if update.ndim != x.ndim or update.dtype != x.dtype or len(starts) != x.ndim:
        raise TypeError(
            f"dynamic_update_slice: update {update.str_short()} must have the rank and dtype "
            f"of the operand {x.str_short()}, with one start index per dimension."
        )
    if any(u > d for u, d in zip(update.shape, x.shape, strict=True)):
        raise ValueError(
            f"dynamic_update_slice: update shape {update.shape} is larger than operand "
            f"shape {x.shape}."
        )
    return ShapedArray(x.shape, x.dtype, x.weak_type)


def _dus_impl(x, update, *starts):
    v = val(x).copy()
    u = val(update)
    st = _clamped_starts(starts, v.shape, u.shape)
    v[tuple(slice(s, s + z) for s, z in zip(st, u.shape, strict=True))] = u
    return wrap(v, weak(x))


def _dus_jvp(primals, tangents):
    x, update, *starts = primals
    tx, tu = tangents[:2]
    ans = dynamic_update_slice_p.bind(x, update, *starts)
    if type(tx) is Zero and type(tu) is Zero:
        return ans, Zero.like(ans)
    return ans, dynamic_update_slice_p.bind(instantiate(tx), instantiate(tu), *starts)


def _dus_transpose(ct, x, update, *starts):
    ua = update.aval if is_undefined(update) else aval_of(update)
    xa = x.aval if is_undefined(x) else aval_of(x)
    if type(ct) is Zero:
        return [
            Zero(xa) if is_undefined(x) else None,
            Zero(ua) if is_undefined(update) else None,
        ] + [None] * len(starts)
    ct_x = ct_u = None
    if is_undefined(x):
        ct_x = dynamic_update_slice_p.bind(ct, S.full(ua.shape, 0, ua.dtype), *starts)
    if is_undefined(update):
        ct_u = dynamic_slice_p.bind(ct, *starts, slice_sizes=ua.shape)
    return [ct_x, ct_u] + [None] * len(starts)


def _dus_batch(vals, dims):
    x, update, *starts = vals
    xd, ud, *sd = dims
    size = next(aval_of(v).shape[d] for v, d in zip(vals, dims, strict=True) if d is not None)
    x = S.bdim_to_front(x, xd, size)
    update = S.bdim_to_front(update, ud, size)
    if all(d is None for d in sd):
        zero = np.zeros((), np.int32)
        return dynamic_update_slice_p.bind(x, update, zero, *starts), 0
    starts = [
        S.moveaxis(s, d, 0) if d is not None else S.broadcast(s, (size,))
        for s, d in zip(starts, sd, strict=True)
    ]
    sizes = aval_of(update).shape[1:]
    idx = _window_indices(starts, aval_of(x).shape[1:], sizes, size)
    bidx = S.iota(np.int32, (size, *sizes), 0)
    return scatter_p.bind(x, bidx, *idx, update, mode="clip", combine="set"), 0


dynamic_update_slice_p = Primitive("dynamic_update_slice")
dynamic_update_slice_p.impl = _dus_impl
dynamic_update_slice_p.abstract_eval = _dus_abstract_eval
dynamic_update_slice_p.jvp = _dus_jvp
dynamic_update_slice_p.transpose = _dus_transpose
dynamic_update_slice_p.batch = _dus_batch
dynamic_update_slice_p.linear = True


def dynamic_update_slice(x, update, start_indices):
    """Write ``update`` into ``x`` at traced ``start_indices`` (clamped to stay in bounds)."""
    return dynamic_update_slice_p.bind(x, update, *start_indices)


# --------------------------------------------------------------------------- gather


def _check_indices(name, x, idx):
    k = len(idx)
    if k == 0 or k > x.ndim:
        raise TypeError(f"{name}: need between 1 and {x.ndim} index arrays, got {k}.")
    s0 = idx[0].shape
    for i in idx:
        if i.shape != s0 or not np.issubdtype(i.dtype, np.integer):
            raise TypeError(
                f"{name}: index arrays must be integers of one shape, got "
                f"{', '.join(a.str_short() for a in idx)}."
            )
    return s0


def _gather_abstract_eval(x, *idx, mode, fill_value):
    _check_mode(mode)
    ishape = _check_indices("gather", x, idx)
    return ShapedArray(ishape + x.shape[len(idx) :], x.dtype, x.weak_type)


def _debug_check(op, v, idx):
    """With ``config.debug_index_checks``, raise on any out-of-bounds index."""
    for axis, (i, d) in enumerate(zip(idx, v.shape, strict=False)):
        i = val(i)
        bad = (i < 0) | (i >= d)
        if bad.any():
            raise IndexError(
                f"debug_index_checks: {op} got index {int(i[bad].flat[0])} for axis {axis} of "
                f"size {d} (operand shape {v.shape}). Without the check it would be "
                "clamped (reads) or dropped (updates)."
            )


def _np_indices(v, idx, mode):
    """Normalise index arrays for NumPy: returns (indices, in_bounds mask or None)."""
    if config.debug_index_checks:
        _debug_check("gather/scatter", v, idx)
    out, mask = [], None
    for i, d in zip(idx, v.shape, strict=False):
        i = val(i).astype(np.int64)
        if mode in ("clip", "promise_in_bounds"):
            out.append(np.clip(i, 0, max(d - 1, 0)))
        else:
            ok = (i >= 0) & (i < d)
            mask = ok if mask is None else mask & ok
            out.append(np.where(ok, i, 0))
    return tuple(out), mask


def _gather_impl(x, *idx, mode, fill_value):
    v = val(x)
    k = len(idx)
    ishape = np.shape(val(idx[0]))
    if any(v.shape[i] == 0 for i in range(k)):
        fv = 0 if fill_value is None else fill_value
        return wrap(np.full(ishape + v.shape[k:], fv, v.dtype), weak(x))
    ii, mask = _np_indices(v, idx, mode)
    out = v[ii]
    if mask is not None and not mask.all():
        fv = fill_value
        if fv is None:
            fv = (
                np.nan
                if is_inexact(v.dtype)
                else (np.iinfo(v.dtype).min if v.dtype != np.bool_ else True)
            )
        m = mask.reshape(mask.shape + (1,) * (out.ndim - mask.ndim))
        out = np.where(m, out, np.asarray(fv, v.dtype))
    return wrap(np.asarray(out), weak(x))


def _gather_jvp(primals, tangents, *, mode, fill_value):
    x, *idx = primals
    ans = gather_p.bind(x, *idx, mode=mode, fill_value=fill_value)
    t = tangents[0]
    if type(t) is Zero:
        return ans, Zero.like(ans)
    return ans, gather_p.bind(t, *idx, mode=mode, fill_value=0)


def _gather_transpose(ct, x, *idx, mode, fill_value):
    if type(ct) is Zero:
        return [Zero(x.aval)] + [None] * len(idx)
    zeros = S.full(x.aval.shape, 0, x.aval.dtype)
    smode = "clip" if mode in ("clip", "promise_in_bounds") else "drop"
    return [scatter_p.bind(zeros, *idx, ct, mode=smode, combine="add")] + [None] * len(idx)


def _batched_index_operands(x, xd, idx, idd, size):
    """Move everything to a leading batch axis and index it with an iota."""
    x = S.bdim_to_front(x, xd, size)
    idx = [S.bdim_to_front(i, d, size) for i, d in zip(idx, idd, strict=True)]
    ishape = aval_of(idx[0]).shape
    bidx = S.iota(np.int32, ishape, 0)
    idx = [E.convert_element_type(i, np.int32) for i in idx]
    return x, [bidx, *idx]


def _gather_batch(vals, dims, *, mode, fill_value):
    x, *idx = vals
    xd, *idd = dims
    k = len(idx)
    if all(d is None for d in idd):
        # Only the operand is batched: put its batch axis just after the indexed axes.
        x = S.moveaxis(x, xd, k)
        ishape = aval_of(idx[0]).shape
        return gather_p.bind(x, *idx, mode=mode, fill_value=fill_value), len(ishape)
    size = next(aval_of(v).shape[d] for v, d in zip(vals, dims, strict=True) if d is not None)
    x, idx = _batched_index_operands(x, xd, idx, idd, size)
    return gather_p.bind(x, *idx, mode=mode, fill_value=fill_value), 0


gather_p = Primitive("gather")
gather_p.impl = _gather_impl
gather_p.abstract_eval = _gather_abstract_eval
gather_p.jvp = _gather_jvp
gather_p.transpose = _gather_transpose
gather_p.batch = _gather_batch
gather_p.linear = True


def gather(x, indices, mode="clip", fill_value=None):
    """``x[i0, i1, ...]`` for integer arrays ``indices`` of one shape (leading axes)."""
    _check_mode(mode)
    return gather_p.bind(x, *indices, mode=mode, fill_value=fill_value)


# --------------------------------------------------------------------------- scatter

_UFUNCS = {"add": np.add, "mul": np.multiply, "min": np.minimum, "max": np.maximum}
COMBINES = ("set", "add", "mul", "min", "max")


def _scatter_abstract_eval(x, *rest, mode, combine):
    _check_mode(mode)
    if combine not in COMBINES:
        raise ValueError(f"scatter combine must be one of {COMBINES}, got {combine!r}.")
    *idx, upd = rest
    ishape = _check_indices("scatter", x, idx)
    want = ishape + x.shape[len(idx) :]
    if upd.shape != want or upd.dtype != x.dtype:
        raise TypeError(
            f"scatter: updates {upd.str_short()} must have shape {want} and dtype "
            f"{x.dtype} (index shape {ishape} + the operand's trailing shape)."
        )
    return ShapedArray(x.shape, x.dtype, x.weak_type)


def _scatter_impl(x, *rest, mode, combine):
    *idx, upd = rest
    v = val(x).copy()
    u = val(upd)
    if v.size == 0 or u.size == 0:
        return wrap(v, weak(x))
    ii, mask = _np_indices(v, idx, "drop" if mode in ("drop", "fill") else "clip")
    if mask is not None and not mask.all():
        ii = tuple(i[mask] for i in ii)
        u = u[mask]
    with np.errstate(all="ignore"):
        if combine == "set":
            v[ii] = u
        else:
            _UFUNCS[combine].at(v, ii, u)
    return wrap(v, weak(x))


def _scatter_jvp(primals, tangents, *, mode, combine):
    x, *idx, upd = primals
    tx, tu = tangents[0], tangents[-1]
    ans = scatter_p.bind(x, *idx, upd, mode=mode, combine=combine)
    if (type(tx) is Zero and type(tu) is Zero) or not is_inexact(aval_of(ans).dtype):
        return ans, Zero.like(ans)
    if combine in ("set", "add"):
        return ans, scatter_p.bind(
            instantiate(tx), *idx, instantiate(tu), mode=mode, combine=combine
        )
    if combine in ("min", "max"):
        # The tangent follows whichever value won; on a tie the operand wins.
        tx, tu = instantiate(tx), instantiate(tu)
        zero_x = S.full(aval_of(x).shape, 0, aval_of(x).dtype)
        from_x = E.select(E.eq(ans, x), tx, zero_x)
        won = gather_p.bind(ans, *idx, mode="clip", fill_value=None)
        orig = gather_p.bind(x, *idx, mode="clip", fill_value=None)
        zero_u = S.full(aval_of(upd).shape, 0, aval_of(upd).dtype)
        keep = E.bitwise_and(E.eq(upd, won), E.ne(won, orig))
        from_u = scatter_p.bind(zero_x, *idx, E.select(keep, tu, zero_u), mode=mode, combine="add")
        return ans, E.add(from_x, from_u)
    return ans, _scatter_mul_tangent(x, idx, upd, tx, tu, mode)


def _scatter_mul_tangent(x, idx, upd, tx, tu, mode):
    """Tangent of ``x * P`` where ``P`` is the product of the updates landing on each element.

    The derivative of ``P`` in update ``j`` is the product of the *other* updates at its
    position. Dividing ``P`` by ``u_j`` would fail at zeros, so the zeros are counted per
    position: with no zero there it is ``Q / u_j`` (``Q`` the product of the non-zero
    updates); when ``u_j`` is the only zero it is ``Q``; otherwise it is zero. This holds with
    repeated indices too.
    """
    xa, ua = aval_of(x), aval_of(upd)
    dt = xa.dtype
    ones_x = S.full(xa.shape, 1, dt)
    zeros_x = S.full(xa.shape, 0, dt)
    zeros_u = S.full(ua.shape, 0, dt)
    ones_u = S.full(ua.shape, 1, dt)
    is_zero = E.eq(upd, zeros_u)
    q = scatter_p.bind(ones_x, *idx, E.select(is_zero, ones_u, upd), mode=mode, combine="mul")
    n_zero = scatter_p.bind(
        zeros_x, *idx, E.select(is_zero, ones_u, zeros_u), mode=mode, combine="add"
    )
    q_at = gather_p.bind(q, *idx, mode="clip", fill_value=None)
    z_at = gather_p.bind(n_zero, *idx, mode="clip", fill_value=None)
    safe_u = E.select(is_zero, ones_u, upd)
    others = E.select(
        is_zero,
        E.select(E.eq(z_at, ones_u), q_at, zeros_u),
        E.select(E.eq(z_at, zeros_u), E.div(q_at, safe_u), zeros_u),
    )
    out = Zero(xa)
    if type(tx) is not Zero:
        product = scatter_p.bind(ones_x, *idx, upd, mode=mode, combine="mul")
        out = E.mul(tx, product)
    if type(tu) is not Zero:
        d_product = scatter_p.bind(zeros_x, *idx, E.mul(tu, others), mode=mode, combine="add")
        out = add_tangents(out, E.mul(x, d_product))
    return out


def _scatter_transpose(ct, x, *rest, mode, combine):
    *idx, upd = rest
    if combine not in ("add", "set"):
        raise ValueError(f"scatter with combine={combine!r} is not linear.")
    n = len(idx)
    if type(ct) is Zero:
        return (
            [Zero(x.aval) if is_undefined(x) else None]
            + [None] * n
            + [Zero(upd.aval) if is_undefined(upd) else None]
        )
    ct_x = ct_u = None
    if is_undefined(x):
        if combine == "add":
            ct_x = ct
        else:  # overwritten positions get no cotangent
            ua = upd.aval if is_undefined(upd) else aval_of(upd)
            ct_x = scatter_p.bind(ct, *idx, S.full(ua.shape, 0, ua.dtype), mode=mode, combine="set")
    if is_undefined(upd):
        gmode = "clip" if mode in ("clip", "promise_in_bounds") else "fill"
        ct_u = gather_p.bind(ct, *idx, mode=gmode, fill_value=0)
    return [ct_x] + [None] * n + [ct_u]


def _scatter_batch(vals, dims, *, mode, combine):
    x, *idx, upd = vals
    xd, *idd, ud = dims
    size = next(aval_of(v).shape[d] for v, d in zip(vals, dims, strict=True) if d is not None)
    k = len(idx)
    if all(d is None for d in idd):
        # Batch axis of operand just after the indexed axes; of updates after the index dims.
        ishape = aval_of(idx[0]).shape
        x = S.moveaxis(x, xd, k) if xd is not None else None
        if x is None:
            xa = aval_of(vals[0])
            x = S.broadcast_in_dim(
                vals[0],
                (*xa.shape[:k], size, *xa.shape[k:]),
                tuple(i for i in range(xa.ndim + 1) if i != k),
            )
        if ud is None:
            ua = aval_of(upd)
            n = len(ishape)
            upd = S.broadcast_in_dim(
                upd,
                (*ua.shape[:n], size, *ua.shape[n:]),
                tuple(i for i in range(ua.ndim + 1) if i != n),
            )
        else:
            upd = S.moveaxis(upd, ud, len(ishape))
        return scatter_p.bind(x, *idx, upd, mode=mode, combine=combine), k
    x, idx = _batched_index_operands(x, xd, idx, idd, size)
    upd = S.bdim_to_front(upd, ud, size)
    return scatter_p.bind(x, *idx, upd, mode=mode, combine=combine), 0


scatter_p = Primitive("scatter")
scatter_p.impl = _scatter_impl
scatter_p.abstract_eval = _scatter_abstract_eval
scatter_p.jvp = _scatter_jvp
scatter_p.transpose = _scatter_transpose
scatter_p.batch = _scatter_batch
scatter_p.linear = True  # for combine in ("add", "set")


def scatter(x, indices, updates, combine="add", mode="drop"):
    """Functional ``x[i0, i1, ...] (op)= updates`` on the leading axes of ``x``."""
    _check_mode(mode)
    return scatter_p.bind(x, *indices, updates, mode=mode, combine=combine)
