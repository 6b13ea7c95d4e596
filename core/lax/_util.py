"""Helpers shared by the primitive definitions: unwrapping values and checking avals."""

from __future__ import annotations

import numpy as np

from .. import _dtypes
from .._array import Array, _wrap
from .._core import ShapedArray, Tracer, get_aval


def val(x) -> np.ndarray:
    """The NumPy value of an eager operand (Array, NumPy array or Python scalar)."""
    if type(x) is Array:
        return x._value
    return np.asarray(x)


def weak(x) -> bool:
    if type(x) is Array:
        return x.weak_type
    if isinstance(x, Tracer):
        return x.aval.weak_type
    return type(x) in (int, float, complex)


def wrap(value, weak_type=False) -> Array:
    return _wrap(value, weak_type)


def aval_of(x) -> ShapedArray:
    return get_aval(x)


def short(aval) -> str:
    return aval.str_short()


def dtype_str(dtype) -> str:
    return _dtypes.dtype_to_str(np.dtype(dtype))


def canonical_axes(axes, ndim, name="axes"):
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < ndim:
            raise ValueError(f"{name}: axis {a} is out of range for an array of rank {ndim}.")
        out.append(a % ndim if ndim else 0)
    return tuple(out)


def is_float(dtype) -> bool:
    dtype = np.dtype(dtype)
    return dtype.kind == "f" or dtype.name == "bfloat16"


def is_inexact(dtype) -> bool:
    dtype = np.dtype(dtype)
    return dtype.kind in "fc" or dtype.name == "bfloat16"


def is_integral(dtype) -> bool:
    return np.dtype(dtype).kind in "iub"
