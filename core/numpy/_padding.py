"""``derivax.numpy.pad``: every NumPy mode except ``median``, built from slices,
concatenations and selects so it runs eagerly and under ``jit``, ``grad`` and ``vmap``.
Pad widths decide the result's shape, so they must be static."""

from __future__ import annotations

import numpy as np

from .. import _dtypes
from .._array import _wrap
from .._core import Tracer
from ..lax import _elementwise as E
from ..lax import _structural as S
from ._elementwise import add, multiply
from ._elementwise import round as _round
from ._manipulation import _aval, _static, _take_static
from ._reductions import max as _max
from ._reductions import mean as _mean
from ._reductions import min as _min
from ._shape import (
    concatenate,
)
from ._util import asarray_any, broadcast_to_shape

__all__ = ["pad"]

_INT = np.int32


# --------------------------------------------------------------------------- pad

_PAD_MODES = (
    "constant",
    "edge",
    "reflect",
    "symmetric",
    "wrap",
    "linear_ramp",
    "maximum",
    "minimum",
    "mean",
    "empty",
)


def _pairs(value, ndim, fname, argname, integer=True):
    """Broadcast a scalar, ``(before, after)`` or per-axis pairs to an ``(ndim, 2)`` array."""
    v = np.asarray(_static(value, fname, argname))
    if integer and v.size and v.dtype.kind not in "iu":
        raise TypeError(f"{fname}: `{argname}` must hold integers, got {value!r}.")
    try:
        return np.broadcast_to(v, (ndim, 2))
    except ValueError:
        raise ValueError(
            f"{fname}: `{argname}` of shape {v.shape} cannot be broadcast to ({ndim}, 2): give an "
            "int, a (before, after) pair, or one (before, after) pair per axis of the array."
        ) from None


def _edge_slice(x, axis, start, stop):
    return S.slice_in_dim(x, start, stop, 1, axis)


def _repeat_along(x, axis, count):
    """A size-1 slice ``x`` broadcast to ``count`` entries along ``axis``."""
    shape = list(_aval(x).shape)
    shape[axis] = count
    return broadcast_to_shape(x, tuple(shape))


def _pad_constant_axis(x, axis, before, after, values):
    dt = _aval(x).dtype
    lo, hi = values
    cfg = [(0, 0, 0)] * _aval(x).ndim
    if before:
        cfg[axis] = (before, 0, 0)
        x = S.pad(x, asarray_any(lo, dt), cfg)
    if after:
        cfg[axis] = (0, after, 0)
        x = S.pad(x, asarray_any(hi, dt), cfg)
    return x


def _reflect_map(n, before, after, symmetric):
    """Source index and the odd-reflection coefficients for every output position."""
    i = np.arange(-before, n + after)
    period = 2 * n if symmetric else 2 * (n - 1)
    q, r = np.divmod(i, period)
    mirrored = r >= n
    idx = np.where(mirrored, (period - 1 if symmetric else period) - r, r)
    return idx, q, mirrored


def _pad_reflect_axis(x, axis, before, after, symmetric, odd):
    n = _aval(x).shape[axis]
    if n == 1 and not symmetric:
        # A single element has nothing to reflect over: NumPy repeats it (edge mode).
        return _pad_edge_axis(x, axis, before, after)
    idx, q, mirrored = _reflect_map(n, before, after, symmetric)
    out = _take_static(x, idx, axis)
    if not odd:
        return out
    # The odd extension: g(i + period) = g(i) + 2 (x[-1] - x[0]); mirrored positions are
    # 2 x[-1] - x[idx].
    first = _edge_slice(x, axis, 0, 1)
    last = _edge_slice(x, axis, n - 1, n)
    shape = [1] * _aval(x).ndim
    shape[axis] = len(idx)
    dt = _aval(x).dtype
    sign = _wrap(np.where(mirrored, -1, 1).reshape(shape).astype(dt))
    c_last = _wrap((2 * q + 2 * mirrored).reshape(shape).astype(dt))
    c_first = _wrap((-2 * q).reshape(shape).astype(dt))
    return add(add(multiply(sign, out), multiply(c_last, last)), multiply(c_first, first))


def _pad_edge_axis(x, axis, before, after):
    n = _aval(x).shape[axis]
    parts = []
    if before:
        parts.append(_repeat_along(_edge_slice(x, axis, 0, 1), axis, before))
    parts.append(x)
    if after:
        parts.append(_repeat_along(_edge_slice(x, axis, n - 1, n), axis, after))
    return concatenate(parts, axis) if len(parts) > 1 else x


def _pad_wrap_axis(x, axis, before, after):
    n = _aval(x).shape[axis]
    return _take_static(x, np.arange(-before, n + after) % n, axis)


def _pad_ramp_axis(x, axis, before, after, ends):
    n = _aval(x).shape[axis]
    dt = _aval(x).dtype
    work = dt if _dtypes.is_inexact(dt) else _dtypes.default_float_dtype()
    xw = E.convert_element_type(x, work) if dt != work else x
    shape = [1] * _aval(x).ndim
    parts = []
    if before:
        edge = _edge_slice(xw, axis, 0, 1)
        shape[axis] = before
        t = _wrap((np.arange(before) / before).reshape(shape).astype(work))
        end = asarray_any(ends[0], work)
        parts.append(add(end, multiply(t, edge - end)))
    parts.append(xw)
    if after:
        edge = _edge_slice(xw, axis, n - 1, n)
        shape[axis] = after
        # Mirror of the left ramp: ``end`` at the far end, approaching the edge value.
        t = _wrap((np.arange(after - 1, -1, -1) / after).reshape(shape).astype(work))
        end = asarray_any(ends[1], work)
        parts.append(add(end, multiply(t, edge - end)))
    out = concatenate(parts, axis)
    if work != dt:
        from ._elementwise import floor

        out = E.convert_element_type(floor(out), dt)
    return out


def _pad_stat_axis(x, axis, before, after, mode, stat_length):
    n = _aval(x).shape[axis]
    dt = _aval(x).dtype
    reducer = {"maximum": _max, "minimum": _min, "mean": _mean}[mode]
    parts = []
    for side, count in (("before", before), ("after", after)):
        if not count:
            continue
        length = (
            n
            if stat_length is None
            else max(1, min(int(stat_length[1 if side == "after" else 0]), n))
        )
        region = (
            _edge_slice(x, axis, 0, length)
            if side == "before"
            else _edge_slice(x, axis, n - length, n)
        )
        stat = reducer(region, axis=axis, keepdims=True)
        if mode == "mean" and not _dtypes.is_inexact(dt):
            stat = E.convert_element_type(_round(stat), dt)
        elif _aval(stat).dtype != dt:
            stat = E.convert_element_type(stat, dt)
        parts.append((side, _repeat_along(stat, axis, count)))
    pieces = [p for s, p in parts if s == "before"] + [x] + [p for s, p in parts if s == "after"]
    return concatenate(pieces, axis) if len(pieces) > 1 else x


def pad(array, pad_width, mode="constant", **kwargs):
    """Pad an array, as ``numpy.pad``.

    Axes are padded in order, so a corner takes the value of the last axis' padding (as in
    NumPy).

    Args:
        array: the array to pad.
        pad_width: an int, a ``(before, after)`` pair, or one pair per axis (static).
        mode: ``"constant"`` (``constant_values``: a scalar, a pair or one pair per axis; may
            be traced), ``"edge"``, ``"reflect"`` and ``"symmetric"`` (``reflect_type``
            ``"even"`` or ``"odd"``), ``"wrap"``, ``"linear_ramp"`` (``end_values``),
            ``"maximum"``, ``"minimum"``, ``"mean"`` (``stat_length``), or ``"empty"``
            (zeros here).
        **kwargs: the mode's options, as above.

    Returns:
        The padded array, of ``array``'s dtype.

    Raises:
        ValueError: an unknown mode, an option the mode does not take, negative widths, or
            a non-constant mode extending an empty axis.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.pad(dnp.array([1, 2, 3]), (2, 1), mode="reflect")
        Array([3, 2, 1, 2, 3, 2], dtype=int32)
    """
    x = asarray_any(array)
    if callable(mode):
        raise NotImplementedError(
            "pad: a callable mode is not supported; use one of the named modes."
        )
    if mode not in _PAD_MODES:
        raise ValueError(
            f"pad: unknown mode {mode!r}; expected one of {', '.join(repr(m) for m in _PAD_MODES)}."
        )
    allowed = {
        "constant": {"constant_values"},
        "linear_ramp": {"end_values"},
        "maximum": {"stat_length"},
        "minimum": {"stat_length"},
        "mean": {"stat_length"},
        "reflect": {"reflect_type"},
        "symmetric": {"reflect_type"},
    }.get(mode, set())
    bad = set(kwargs) - allowed
    if bad:
        raise ValueError(
            f"pad: mode {mode!r} does not take {sorted(bad)}; it accepts "
            f"{sorted(allowed) if allowed else 'no options'}."
        )
    nd = _aval(x).ndim
    widths = _pairs(pad_width, nd, "pad", "pad_width")
    if (widths < 0).any():
        raise ValueError(
            f"pad: `pad_width` must be non-negative, got {np.asarray(pad_width).tolist()}."
        )
    shape = _aval(x).shape
    if mode not in ("constant", "empty"):
        for ax in range(nd):
            if shape[ax] == 0 and widths[ax].any():
                raise ValueError(
                    f"pad: cannot extend the empty axis {ax} of shape {shape} with mode {mode!r}; "
                    "use mode='constant'."
                )
    if mode in ("constant", "empty"):
        cv = kwargs.get("constant_values", 0)
        if isinstance(cv, Tracer) and _aval(cv).ndim == 0:
            values = [(cv, cv)] * nd
        elif isinstance(cv, Tracer):
            raise TypeError(
                "pad: a traced `constant_values` must be a scalar; pass per-axis values as "
                "Python numbers."
            )
        else:
            values = _pairs(cv, nd, "pad", "constant_values", integer=False)
    elif mode == "linear_ramp":
        values = _pairs(kwargs.get("end_values", 0), nd, "pad", "end_values", integer=False)
    elif mode in ("maximum", "minimum", "mean"):
        sl = kwargs.get("stat_length")
        values = None if sl is None else _pairs(sl, nd, "pad", "stat_length")
    reflect_type = kwargs.get("reflect_type", "even")
    if reflect_type not in ("even", "odd"):
        raise ValueError(f"pad: reflect_type must be 'even' or 'odd', got {reflect_type!r}.")
    for ax in range(nd):
        before, after = int(widths[ax, 0]), int(widths[ax, 1])
        if not (before or after):
            continue
        if mode in ("constant", "empty"):
            x = _pad_constant_axis(x, ax, before, after, values[ax])
        elif mode == "edge":
            x = _pad_edge_axis(x, ax, before, after)
        elif mode in ("reflect", "symmetric"):
            x = _pad_reflect_axis(x, ax, before, after, mode == "symmetric", reflect_type == "odd")
        elif mode == "wrap":
            x = _pad_wrap_axis(x, ax, before, after)
        elif mode == "linear_ramp":
            x = _pad_ramp_axis(x, ax, before, after, values[ax])
        else:
            x = _pad_stat_axis(x, ax, before, after, mode, None if values is None else values[ax])
    return x
