"""Conversion, type promotion and broadcasting shared by every ``derivax.numpy`` function."""

from __future__ import annotations

import numpy as np

from .. import _dtypes
from .._array import Array, _wrap
from .._core import Tracer, _state, get_aval
from ..lax import _elementwise as E
from ..lax import _structural as S

_SCALARS = (bool, int, float, complex)


def is_arraylike(x) -> bool:
    return isinstance(x, (Array, Tracer, np.ndarray, np.generic)) or type(x) in _SCALARS


def check_arraylike(fname, *args):
    for i, a in enumerate(args):
        if not is_arraylike(a):
            if isinstance(a, (list, tuple)):
                hint = (
                    f"a {type(a).__name__}; wrap it with derivax.numpy.asarray(...) first "
                    "(lists are not converted implicitly, as in JAX)"
                )
            else:
                hint = f"a {type(a).__name__}"
            raise TypeError(f"{fname}: argument {i} must be an array or a scalar, got {hint}.")


def _from_python(x, dtype=None):
    if dtype is None:
        dt, weak = _dtypes.python_scalar_dtype(x)
        return _wrap(np.asarray(x, dt), weak)
    return _wrap(np.asarray(x, dtype))


def asarray_any(x, dtype=None, *, argname="dtype"):
    """Convert to an Array or keep a tracer; ``dtype`` is an explicit request."""
    if dtype is not None:
        dtype = _dtypes.canonicalize_dtype(dtype, argname=argname)
    if isinstance(x, Tracer):
        return x if dtype is None else E.convert_element_type(x, dtype)
    if type(x) is Array:
        if dtype is None or x.dtype == dtype:
            return x
        return E.convert_element_type(x, dtype)
    if type(x) in _SCALARS:
        return _from_python(x, dtype)
    if isinstance(x, (np.ndarray, np.generic)):
        v = np.asarray(x)
        # bfloat16 (from ml_dtypes) has NumPy kind "V"; other void dtypes are records.
        if v.dtype == object or (v.dtype.kind in "SUMmV" and v.dtype != _dtypes.bfloat16):
            raise TypeError(f"asarray: arrays of dtype {v.dtype} are not supported.")
        target = dtype or _dtypes.canonicalize_dtype(v.dtype, explicit=False)
        with np.errstate(all="ignore"):
            out = v.astype(target, copy=True) if v.dtype != target else v.copy()
        return _wrap(out)
    if isinstance(x, (list, tuple)):
        flat = list(_flat_seq(x))
        if any(isinstance(e, Tracer) for e in flat):
            from ._shape import stack

            return stack([asarray_any(e, dtype) for e in x])
        try:
            v = np.array(_to_np_nested(x))
        except ValueError as e:
            raise ValueError(f"asarray: the nested sequence is ragged or invalid: {e}") from None
        if dtype is None:
            all_py = all(type(e) in _SCALARS for e in flat)
            if all_py and v.dtype.kind == "f":
                dtype = _dtypes.default_float_dtype()
            elif all_py and v.dtype.kind == "c":
                dtype = _dtypes.default_complex_dtype()
            else:
                dtype = _dtypes.canonicalize_dtype(v.dtype, explicit=False)
        return _wrap(v.astype(dtype))
    if hasattr(x, "__array__"):
        return asarray_any(np.asarray(x), dtype)
    raise TypeError(f"asarray: cannot convert an object of type {type(x).__name__} to an array.")


def _flat_seq(x):
    if isinstance(x, (list, tuple)):
        for e in x:
            yield from _flat_seq(e)
    else:
        yield x


def _to_np_nested(x):
    if isinstance(x, (list, tuple)):
        return [_to_np_nested(e) for e in x]
    if type(x) is Array:
        return x._value
    return x


def promote(fname, *args):
    """Convert ``args`` to arrays of their common dtype (JAX's lattice, weak types)."""
    check_arraylike(fname, *args)
    dtype, weak = _dtypes.result_type(*args, return_weak_type_flag=True)
    out = []
    for a in args:
        if type(a) in _SCALARS:
            out.append(_wrap(np.asarray(a, dtype), weak))
            continue
        if not isinstance(a, (Array, Tracer)):
            a = asarray_any(a)
        if a.dtype != dtype or a.weak_type != weak:
            a = E.convert_element_type(a, dtype, weak)
        out.append(a)
    return out


def promote_inexact(fname, *args):
    """Like ``promote`` but ints and bools become the default float dtype."""
    args = promote(fname, *args)
    dt = args[0].dtype
    if not _dtypes.is_inexact(dt):
        weak = all(a.weak_type for a in args)
        args = [E.convert_element_type(a, _dtypes.default_float_dtype(), weak) for a in args]
    return args


def broadcast_shapes(*shapes, fname="broadcast"):
    """NumPy broadcasting of shapes, with an error naming every shape."""
    nd = max((len(s) for s in shapes), default=0)
    result = []
    for i in range(nd):
        size = 1
        for s in shapes:
            d = s[i - nd + len(s)] if i - nd + len(s) >= 0 else 1
            if d != 1:
                if size not in (1, d):
                    raise ValueError(
                        f"{fname}: shapes {', '.join(str(tuple(s)) for s in shapes)} cannot be "
                        f"broadcast together (size {size} vs {d} in dimension {i} of the "
                        "result). Check the operands' shapes, or insert a size-1 axis with "
                        "x[:, None] / expand_dims where you mean to broadcast."
                    )
                size = d
        result.append(size)
    return tuple(result)


def broadcast_to_shape(x, shape):
    a = get_aval(x)
    if a.shape == shape:
        return x
    nd = len(shape)
    return S.broadcast_in_dim(x, shape, tuple(range(nd - a.ndim, nd)))


def broadcast_all(fname, *args):
    shapes = [a.shape for a in args]
    if all(s == shapes[0] for s in shapes):
        return list(args)
    shape = broadcast_shapes(*shapes, fname=fname)
    if _state.dynamic is None and all(type(a) is Array for a in args):
        # Eager: NumPy broadcasts inside the elementwise kernels (a view, no copy), which
        # gives the same values as an explicit broadcast_in_dim.
        return list(args)
    return [broadcast_to_shape(a, shape) for a in args]


def binary_args(fname, x, y):
    """Promote and broadcast two operands (the fast path for equal arrays is inlined)."""
    tx, ty = type(x), type(y)
    if tx is Array:
        if ty is Array:
            vx, vy = x._value, y._value
            if vx.dtype == vy.dtype and x.weak_type == y.weak_type and vx.shape == vy.shape:
                return x, y
        elif (ty is float or ty is int) and not x.weak_type and x._value.dtype.kind == "f":
            # A weak Python scalar takes a float array's dtype (the common `x * 2.0`).
            if _state.dynamic is None:
                return x, _wrap(np.asarray(y, x._value.dtype))
    elif ty is Array and (tx is float or tx is int) and not y.weak_type:
        if y._value.dtype.kind == "f" and _state.dynamic is None:
            return _wrap(np.asarray(x, y._value.dtype)), y
    x, y = promote(fname, x, y)
    return broadcast_all(fname, x, y)


def canonical_axis(axis, ndim, fname, argname="axis"):
    if not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{fname}: {argname} must be an int, got {type(axis).__name__}.")
    if not -ndim <= axis < max(ndim, 1):
        raise ValueError(f"{fname}: {argname}={axis} is out of bounds for an array of rank {ndim}.")
    return int(axis) % max(ndim, 1)


def reduction_axes(axis, ndim, fname):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        axes = tuple(canonical_axis(a, ndim, fname) for a in axis)
        if len(set(axes)) != len(axes):
            raise ValueError(f"{fname}: repeated axis in {axis}.")
        return axes
    return (canonical_axis(axis, ndim, fname),)
