"""Windowed reductions (``reduce_window`` with max, min or sum) and the max-pool gradient.

Three primitives reduce every window of a (dilated, padded) operand: ``reduce_window_sum``,
``reduce_window_max`` and ``reduce_window_min``; padding and base-dilation holes hold the
reduction's identity. Their parameters are the same: ``window_dimensions``,
``window_strides``, ``padding`` (``(low, high)`` pairs), ``base_dilation`` and
``window_dilation``, one entry per operand dimension.

The derivative of a max (min) window is the tangent at the window's first maximum
(minimum) in row-major window order, as JAX computes it. Two linear primitives carry it:

* ``select_and_gather_add(t, x)``: for every window of ``x``, the element of ``t`` at the
  selected position (the jvp of ``reduce_window_max``);
* ``select_and_scatter_add(s, x)``: adds each output cotangent of ``s`` into the selected
  position of its window (the transpose of the former, and vice versa).

Both are linear in their first operand; ``x`` only chooses positions, so its derivative
through them is zero.
"""

from __future__ import annotations

import builtins
import itertools
import operator

import numpy as np

from .._ad_util import Zero, instantiate, is_undefined
from .._core import Primitive, ShapedArray, Tracer
from . import _elementwise as E
from . import _structural as S
from ._util import aval_of, is_inexact, val, weak, wrap
from ._windows import (
    PADDING_STRINGS,
    check_int_seq,
    check_padding_pairs,
    dilate_dim,
    dilate_pad,
    padtype_to_pads,
    undilate_unpad,
    window_out_dim,
)

_WINDOW_PARAMS = (
    "window_dimensions",
    "window_strides",
    "padding",
    "base_dilation",
    "window_dilation",
)
_LOOP_LIMIT = 256  # windows up to this size reduce with one NumPy call per window offset


def _identity(kind, dtype):
    dtype = np.dtype(dtype)
    if kind == "sum":
        return np.zeros((), dtype)[()]
    if is_inexact(dtype):
        return np.array(-np.inf if kind == "max" else np.inf, dtype)[()]
    if dtype == np.bool_:
        return np.bool_(kind == "min")
    info = np.iinfo(dtype)
    return np.array(info.min if kind == "max" else info.max, dtype)[()]


def _out_shape(shape, params):
    out = []
    for s, k, st, (lo, hi), bd, wd in zip(
        shape,
        params["window_dimensions"],
        params["window_strides"],
        params["padding"],
        params["base_dilation"],
        params["window_dilation"],
        strict=True,
    ):
        out.append(window_out_dim(lo + dilate_dim(s, bd) + hi, dilate_dim(k, wd), st))
    return tuple(out)


def _check_params(name, aval, params):
    nd = aval.ndim
    for p in _WINDOW_PARAMS:
        if len(params[p]) != nd:
            raise ValueError(
                f"{name}: {p} has {len(params[p])} entries but the operand {aval.str_short()} "
                f"has {nd} dimensions; give one entry per operand dimension."
            )
    for p in ("window_dimensions", "window_strides", "base_dilation", "window_dilation"):
        if any(v < 1 for v in params[p]):
            raise ValueError(f"{name}: every entry of {p} must be >= 1, got {params[p]}.")


def _offsets(params):
    """Window element offsets into the padded operand, in row-major window order."""
    ranges = [
        range(0, k * d, d)
        for k, d in zip(params["window_dimensions"], params["window_dilation"], strict=True)
    ]
    return list(itertools.product(*ranges))


def _window_slice(offset, out_shape, strides):
    return tuple(
        builtins.slice(o, o + (n - 1) * s + 1 if n else o, s)
        for o, n, s in zip(offset, out_shape, strides, strict=True)
    )


def _padded(x, params, fill):
    axes = tuple(range(x.ndim))
    return dilate_pad(x, axes, params["base_dilation"], params["padding"], fill)


# --------------------------------------------------------------------------- reduce_window_*

_NP_REDUCE = {"sum": (np.add, np.sum), "max": (np.maximum, np.max), "min": (np.minimum, np.min)}


def _reduce_impl(kind):
    binary, reducer = _NP_REDUCE[kind]

    def impl(x, **params):
        v = val(x)
        out_shape = _out_shape(v.shape, params)
        ident = _identity(kind, v.dtype)
        if 0 in out_shape:
            return wrap(np.zeros(out_shape, v.dtype), weak(x))
        xp = _padded(v, params, ident)
        strides = params["window_strides"]
        offsets = _offsets(params)
        with np.errstate(all="ignore"):
            if len(offsets) <= _LOOP_LIMIT:
                out = np.array(xp[_window_slice(offsets[0], out_shape, strides)], copy=True)
                for off in offsets[1:]:
                    binary(out, xp[_window_slice(off, out_shape, strides)], out=out)
            else:
                extent = [
                    dilate_dim(k, d)
                    for k, d in zip(
                        params["window_dimensions"], params["window_dilation"], strict=True
                    )
                ]
                views = np.lib.stride_tricks.sliding_window_view(xp, extent)
                idx = tuple(builtins.slice(None, None, s) for s in strides) + tuple(
                    builtins.slice(None, None, d) for d in params["window_dilation"]
                )
                views = views[idx]
                out = reducer(views, axis=tuple(range(v.ndim, 2 * v.ndim)))
        return wrap(np.asarray(out, v.dtype), weak(x))

    return impl


def _reduce_abstract_eval(name):
    def abstract_eval(x, **params):
        _check_params(name, x, params)
        if name == "reduce_window_sum" and x.dtype == np.bool_:
            raise TypeError(f"{name}: bool operands cannot be summed; convert them first.")
        return ShapedArray(_out_shape(x.shape, params), x.dtype, x.weak_type)

    return abstract_eval


def _shifted_params(params):
    """Parameters for an operand with one extra leading (batch) dimension."""
    return dict(
        window_dimensions=(1, *params["window_dimensions"]),
        window_strides=(1, *params["window_strides"]),
        padding=((0, 0), *params["padding"]),
        base_dilation=(1, *params["base_dilation"]),
        window_dilation=(1, *params["window_dilation"]),
    )


def _reduce_batch(prim):
    def batch(vals, dims, **params):
        (x,), (d,) = vals, dims
        x = S.moveaxis(x, d, 0)
        return prim.bind(x, **_shifted_params(params)), 0

    return batch


def _sum_transpose(ct, x, **params):
    """Every input position receives the cotangents of the windows that contain it: a sum
    over windows of the stride-dilated cotangent (the window is symmetric, so no flip)."""
    if type(ct) is Zero:
        return [Zero(x.aval)]
    in_shape = x.aval.shape
    ct_shape = aval_of(ct).shape
    config = []
    for s, k, y, st, (lo, _), bd, wd in zip(
        in_shape,
        params["window_dimensions"],
        ct_shape,
        params["window_strides"],
        params["padding"],
        params["base_dilation"],
        params["window_dilation"],
        strict=True,
    ):
        extent = dilate_dim(k, wd)
        low = extent - 1 - lo
        high = (s - 1) * bd + extent - low - dilate_dim(y, st)
        config.append((low, high, st - 1))
    padded = S.pad(ct, S.full((), 0, aval_of(ct).dtype), config)
    nd = len(in_shape)
    out = reduce_window_sum_p.bind(
        padded,
        window_dimensions=tuple(params["window_dimensions"]),
        window_strides=tuple(params["base_dilation"]),
        padding=((0, 0),) * nd,
        base_dilation=(1,) * nd,
        window_dilation=tuple(params["window_dilation"]),
    )
    return [out]


def _chooser_jvp(prim, kind):
    def jvp(primals, tangents, **params):
        (x,), (t,) = primals, tangents
        out = prim.bind(x, **params)
        if type(t) is Zero or not is_inexact(aval_of(out).dtype):
            return out, Zero.like(out)
        return out, select_and_gather_add_p.bind(t, x, select=kind, **params)

    return jvp


def _make_reduce(kind):
    name = f"reduce_window_{kind}"
    prim = Primitive(name)
    prim.impl = _reduce_impl(kind)
    prim.abstract_eval = _reduce_abstract_eval(name)
    prim.batch = _reduce_batch(prim)
    return prim


reduce_window_sum_p = _make_reduce("sum")
reduce_window_sum_p.linear = True
reduce_window_sum_p.transpose = _sum_transpose


def _sum_jvp(primals, tangents, **params):
    (x,), (t,) = primals, tangents
    out = reduce_window_sum_p.bind(x, **params)
    if type(t) is Zero or not is_inexact(aval_of(out).dtype):
        return out, Zero.like(out)
    return out, reduce_window_sum_p.bind(instantiate(t), **params)


reduce_window_sum_p.jvp = _sum_jvp
reduce_window_max_p = _make_reduce("max")
reduce_window_max_p.jvp = _chooser_jvp(reduce_window_max_p, "max")
reduce_window_min_p = _make_reduce("min")
reduce_window_min_p.jvp = _chooser_jvp(reduce_window_min_p, "min")


# --------------------------------------------------------------------------- select and gather/scatter


def _selected_offsets(xp, out_shape, params, kind):
    """Index (into ``_offsets``) of the first max/min element of every window (JAX's
    tie-breaking rule): a running extremum, replaced only by a strictly better value."""
    strides = params["window_strides"]
    offsets = _offsets(params)
    better, combine = (np.greater, np.maximum) if kind == "max" else (np.less, np.minimum)
    best = np.array(xp[_window_slice(offsets[0], out_shape, strides)], copy=True)
    dtype = np.int8 if len(offsets) < 128 else np.int32
    which = np.zeros(out_shape, dtype)
    for i, off in enumerate(offsets[1:], start=1):
        cand = xp[_window_slice(off, out_shape, strides)]
        take = better(cand, best).view(np.int8)
        combine(best, cand, out=best)
        # which = i where take, else unchanged; arithmetic is faster than masked writes.
        which -= (which - dtype(i)) * take
    return offsets, which


def _selected_flat_index(padded_shape, out_shape, params, offsets, which):
    """Flat index into the padded operand of every window's selected element."""
    c_strides = np.cumprod((1, *padded_shape[:0:-1]), dtype=np.int64)[::-1]
    index = np.zeros((), np.int64)
    for d, (n, st, cs) in enumerate(
        zip(out_shape, params["window_strides"], c_strides, strict=True)
    ):
        shape = [1] * len(out_shape)
        shape[d] = n
        index = index + (np.arange(n, dtype=np.int64) * (st * cs)).reshape(shape)
    flat_offsets = np.array([int(np.dot(o, c_strides)) for o in offsets], np.int64)
    return index + flat_offsets[which]


def _sga_impl(t, x, *, select, **params):
    tv, xv = val(t), val(x)
    out_shape = _out_shape(xv.shape, params)
    if 0 in out_shape:
        return wrap(np.zeros(out_shape, tv.dtype), weak(t))
    with np.errstate(all="ignore"):
        xp = _padded(xv, params, _identity(select, xv.dtype))
        tp = _padded(tv, params, np.zeros((), tv.dtype)[()])
        offsets, which = _selected_offsets(xp, out_shape, params, select)
        index = _selected_flat_index(xp.shape, out_shape, params, offsets, which)
        out = np.ascontiguousarray(tp).reshape(-1)[index]
    return wrap(out, weak(t))


def _ssa_impl(s, x, *, select, **params):
    sv, xv = val(s), val(x)
    out_shape = _out_shape(xv.shape, params)
    if 0 in out_shape or 0 in xv.shape:
        return wrap(np.zeros(xv.shape, sv.dtype), weak(s))
    with np.errstate(all="ignore"):
        xp = _padded(xv, params, _identity(select, xv.dtype))
        offsets, which = _selected_offsets(xp, out_shape, params, select)
        index = _selected_flat_index(xp.shape, out_shape, params, offsets, which)
        # Overlapping windows may select the same element: bincount adds them all up.
        acc = np.bincount(
            index.reshape(-1), weights=sv.reshape(-1).astype(np.float64), minlength=xp.size
        )
        acc = acc.reshape(xp.shape).astype(sv.dtype)
        out = undilate_unpad(
            acc, tuple(range(xv.ndim)), params["base_dilation"], params["padding"], xv.shape
        )
    return wrap(out, weak(s))


def _sga_abstract_eval(t, x, *, select, **params):
    _check_params("select_and_gather_add", x, params)
    if t.shape != x.shape:
        raise TypeError(
            f"select_and_gather_add: the tangent {t.str_short()} and the operand "
            f"{x.str_short()} must have the same shape."
        )
    return ShapedArray(_out_shape(x.shape, params), t.dtype, t.weak_type)


def _ssa_abstract_eval(s, x, *, select, **params):
    _check_params("select_and_scatter_add", x, params)
    if s.shape != _out_shape(x.shape, params):
        raise TypeError(
            f"select_and_scatter_add: the source {s.str_short()} must have the window output "
            f"shape {_out_shape(x.shape, params)} of the operand {x.str_short()}."
        )
    return ShapedArray(x.shape, s.dtype, s.weak_type)


def _linear_first_jvp(prim):
    def jvp(primals, tangents, **params):
        (a, x), (ta, _) = primals, tangents
        out = prim.bind(a, x, **params)
        if type(ta) is Zero:
            return out, Zero.like(out)
        return out, prim.bind(ta, x, **params)

    return jvp


def _sga_transpose(ct, t, x, **params):
    if is_undefined(x):
        raise ValueError("select_and_gather_add is not linear in its operand.")
    if type(ct) is Zero:
        return [Zero(t.aval), None]
    return [select_and_scatter_add_p.bind(ct, x, **params), None]


def _ssa_transpose(ct, s, x, **params):
    if is_undefined(x):
        raise ValueError("select_and_scatter_add is not linear in its operand.")
    if type(ct) is Zero:
        return [Zero(s.aval), None]
    return [select_and_gather_add_p.bind(ct, x, **params), None]


def _select_batch(prim):
    def batch(vals, dims, *, select, **params):
        a, x = vals
        da, dx = dims
        size = aval_of(a).shape[da] if da is not None else aval_of(x).shape[dx]
        a = S.bdim_to_front(a, da, size)
        x = S.bdim_to_front(x, dx, size)
        return prim.bind(a, x, select=select, **_shifted_params(params)), 0

    return batch


select_and_gather_add_p = Primitive("select_and_gather_add")
select_and_gather_add_p.impl = _sga_impl
select_and_gather_add_p.abstract_eval = _sga_abstract_eval
select_and_gather_add_p.jvp = _linear_first_jvp(select_and_gather_add_p)
select_and_gather_add_p.transpose = _sga_transpose
select_and_gather_add_p.batch = _select_batch(select_and_gather_add_p)
select_and_gather_add_p.linear = True

select_and_scatter_add_p = Primitive("select_and_scatter_add")
select_and_scatter_add_p.impl = _ssa_impl
select_and_scatter_add_p.abstract_eval = _ssa_abstract_eval
select_and_scatter_add_p.jvp = _linear_first_jvp(select_and_scatter_add_p)
select_and_scatter_add_p.transpose = _ssa_transpose
select_and_scatter_add_p.batch = _select_batch(select_and_scatter_add_p)
select_and_scatter_add_p.linear = True


# --------------------------------------------------------------------------- public API


def _window_params(
    name, operand, window_dimensions, window_strides, padding, base_dilation, window_dilation
):
    nd = aval_of(operand).ndim
    window = check_int_seq(f"{name} window_dimensions", window_dimensions, nd)
    strides = check_int_seq(f"{name} window_strides", window_strides, nd)
    base = check_int_seq(f"{name} base_dilation", base_dilation, nd)
    wdil = check_int_seq(f"{name} window_dilation", window_dilation, nd)
    if isinstance(padding, str):
        if padding.upper() not in PADDING_STRINGS:
            raise ValueError(
                f"{name} padding: unknown string {padding!r}; use 'SAME', 'SAME_LOWER', "
                "'VALID' or a sequence of (low, high) pairs."
            )
        shape = aval_of(operand).shape
        extent = [dilate_dim(k, d) for k, d in zip(window, wdil, strict=True)]
        pads = tuple(padtype_to_pads(shape, extent, strides, padding))
    else:
        pads = check_padding_pairs(padding, nd, f"{name} padding")
    return dict(
        window_dimensions=window,
        window_strides=strides,
        padding=pads,
        base_dilation=base,
        window_dilation=wdil,
    )


def _operand(x):
    from .._array import Array

    if isinstance(x, (Tracer, Array)):
        return x
    from ..numpy._util import asarray_any

    return asarray_any(x)


def _computation_kind(computation):
    """ "sum", "max" or "min" for the binary functions that denote those reductions."""
    from .. import numpy as dnp

    kinds = {
        E.add: "sum",
        E.max: "max",
        E.min: "min",
        operator.add: "sum",
        dnp.add: "sum",
        dnp.maximum: "max",
        dnp.minimum: "min",
    }
    return kinds.get(computation)


def reduce_window(
    operand,
    init_value,
    computation,
    window_dimensions,
    window_strides,
    padding,
    base_dilation=None,
    window_dilation=None,
):
    """Reduce every window of ``operand`` with ``computation`` (max, min or add).

    Padding and base-dilation holes take no part in the reduction, and every window's
    reduction starts from ``init_value``: with the reduction's identity (``-inf`` for max,
    ``+inf`` for min, ``0`` for add) this is max/min/sum pooling. String padding is computed
    from the operand's (undilated) shape and the dilated window, as JAX does.

    Args:
        operand: the array.
        init_value: a scalar of the operand's dtype.
        computation: ``lax.max``, ``lax.min`` or ``lax.add`` (``derivax.numpy.maximum``,
            ``minimum`` and ``add`` are accepted too).
        window_dimensions: the window size, one entry per operand dimension.
        window_strides: the strides, one per dimension.
        padding: ``"SAME"``, ``"SAME_LOWER"``, ``"VALID"`` or ``(low, high)`` pairs.
        base_dilation: operand dilation per dimension (default 1).
        window_dilation: window dilation per dimension (default 1).

    Returns:
        The reduced windows.

    Raises:
        NotImplementedError: for another ``computation``.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> x = dnp.array([1.0, 3.0, 2.0, 5.0])
        >>> lax.reduce_window(x, -dnp.inf, lax.max, (2,), (2,), "VALID")
        Array([3., 5.], dtype=float32)
    """
    kind = _computation_kind(computation)
    if kind is None:
        raise NotImplementedError(
            f"reduce_window: computation {computation!r} is not supported; pass lax.max, "
            "lax.min or lax.add (derivax.numpy.maximum/minimum/add also work)."
        )
    operand = _operand(operand)
    a = aval_of(operand)
    params = _window_params(
        "reduce_window",
        operand,
        window_dimensions,
        window_strides,
        padding,
        base_dilation,
        window_dilation,
    )
    init = init_value
    if isinstance(init, Tracer):
        init = E.convert_element_type(init, a.dtype)
    else:
        init_np = np.asarray(val(init))
        if init_np.shape != ():
            raise TypeError(
                f"reduce_window: init_value must be a scalar, got shape {init_np.shape}."
            )
        with np.errstate(all="ignore"):
            init_np = init_np.astype(a.dtype)
        if init_np == _identity(kind, a.dtype):
            return _PRIMS[kind].bind(operand, **params)
        init = wrap(init_np)
    # Padding and dilation holes are absent from the reduction (as in XLA); a non-identity
    # init value enters every window's reduction once.
    out = _PRIMS[kind].bind(operand, **params)
    combine = {"sum": E.add, "max": E.max, "min": E.min}[kind]
    return combine(out, S.full(aval_of(out).shape, init, a.dtype))


_PRIMS = {"sum": reduce_window_sum_p, "max": reduce_window_max_p, "min": reduce_window_min_p}


def _bind_window(kind, operand, window_dimensions, window_strides, padding, base_dilation,
                 window_dilation):  # fmt: skip
    name = f"reduce_window_{kind}"
    operand = _operand(operand)
    params = _window_params(
        name, operand, window_dimensions, window_strides, padding, base_dilation, window_dilation
    )
    return _PRIMS[kind].bind(operand, **params)


def reduce_window_sum(
    operand, window_dimensions, window_strides=None, padding="VALID", base_dilation=None,
    window_dilation=None,
):  # fmt: skip
    """Sum over every window (padding counts as zero).

    Args:
        operand: the array.
        window_dimensions: window size per dimension.
        window_strides: strides per dimension (default 1).
        padding: ``"SAME"``, ``"SAME_LOWER"``, ``"VALID"`` or ``(low, high)`` pairs.
        base_dilation: operand dilation per dimension (default 1).
        window_dilation: window dilation per dimension (default 1).

    Returns:
        The window sums.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> lax.reduce_window_sum(dnp.arange(4.0), (2,), (1,))
        Array([1., 3., 5.], dtype=float32)
    """
    return _bind_window(
        "sum", operand, window_dimensions, window_strides, padding, base_dilation, window_dilation
    )


def reduce_window_max(
    operand, window_dimensions, window_strides=None, padding="VALID", base_dilation=None,
    window_dilation=None,
):  # fmt: skip
    """Maximum over every window (padding counts as ``-inf``).

    Its derivative is the tangent at each window's first maximum (row-major order).

    Args:
        operand: the array.
        window_dimensions: window size per dimension.
        window_strides: strides per dimension (default 1).
        padding: ``"SAME"``, ``"SAME_LOWER"``, ``"VALID"`` or ``(low, high)`` pairs.
        base_dilation: operand dilation per dimension (default 1).
        window_dilation: window dilation per dimension (default 1).

    Returns:
        The window maxima.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> lax.reduce_window_max(dnp.array([1.0, 3.0, 2.0]), (2,), (1,))
        Array([3., 3.], dtype=float32)
    """
    return _bind_window(
        "max", operand, window_dimensions, window_strides, padding, base_dilation, window_dilation
    )


def reduce_window_min(
    operand, window_dimensions, window_strides=None, padding="VALID", base_dilation=None,
    window_dilation=None,
):  # fmt: skip
    """Minimum over every window (padding counts as ``+inf``).

    Its derivative is the tangent at each window's first minimum (row-major order).

    Args:
        operand: the array.
        window_dimensions: window size per dimension.
        window_strides: strides per dimension (default 1).
        padding: ``"SAME"``, ``"SAME_LOWER"``, ``"VALID"`` or ``(low, high)`` pairs.
        base_dilation: operand dilation per dimension (default 1).
        window_dilation: window dilation per dimension (default 1).

    Returns:
        The window minima.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> lax.reduce_window_min(dnp.array([1.0, 3.0, 2.0]), (2,), (1,))
        Array([1., 2.], dtype=float32)
    """
    return _bind_window(
        "min", operand, window_dimensions, window_strides, padding, base_dilation, window_dilation
    )
