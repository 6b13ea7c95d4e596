"""Small values shared by the differentiation rules: symbolic zeros and undefined primals."""

from __future__ import annotations

import numpy as np

from ._core import ShapedArray, get_aval


class Zero:
    """A symbolic zero tangent or cotangent of a known shape and dtype.

    Rules skip work on symbolic zeros (``x * 0`` is never computed), and integer-valued
    outputs always have symbolic zero tangents.
    """

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    @staticmethod
    def like(x) -> Zero:
        return Zero(get_aval(x).strip_weak_type())

    def __repr__(self):
        return f"Zero({self.aval.str_short()})"


class UndefinedPrimal:
    """Marks a linear input of an equation during transposition (its value is unknown)."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self):
        return f"UndefinedPrimal({self.aval.str_short()})"


def is_undefined(x) -> bool:
    return type(x) is UndefinedPrimal


def zeros_like_aval(aval: ShapedArray):
    from .lax import _structural

    return _structural.full(aval.shape, 0, aval.dtype)


def instantiate(t):
    """Turn a symbolic zero into an array of zeros; leave other values alone."""
    if type(t) is Zero:
        return zeros_like_aval(t.aval)
    return t


def add_tangents(x, y):
    if type(x) is Zero:
        return y
    if type(y) is Zero:
        return x
    from .lax import _elementwise

    return _elementwise.add(x, y)


def is_float_dtype(dtype) -> bool:
    dtype = np.dtype(dtype)
    return dtype.kind in "fc" or dtype.name == "bfloat16"
