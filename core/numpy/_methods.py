"""Operators and methods shared by ``derivax.Array`` and every tracer.

Installed once, when ``derivax.numpy`` is imported, so arrays and tracers behave the same.
"""

from __future__ import annotations

from .._array import CPU_DEVICE, Array
from .._core import Tracer, get_aval
from . import _elementwise as el
from . import _indexing as ix
from . import _products as pr
from . import _reductions as rd
from . import _shape as sh
from ._util import is_arraylike


def _binop(f, reverse=False):
    if reverse:

        def op(self, other):
            if not is_arraylike(other):
                return NotImplemented
            return f(other, self)

    else:

        def op(self, other):
            if not is_arraylike(other):
                return NotImplemented
            return f(self, other)

    return op


def _reshape(self, *shape, order="C"):
    if len(shape) == 1 and not isinstance(shape[0], int):
        shape = shape[0]
    return sh.reshape(self, shape, order)


def _transpose(self, *axes):
    if len(axes) == 1 and not isinstance(axes[0], int):
        axes = axes[0]
    return sh.transpose(self, axes or None)


def _astype(self, dtype, copy=True, *, device=None):
    return el.astype(self, dtype, copy=copy, device=device)


def _mT(self):
    return sh.matrix_transpose(self)


def _flatten(self, order="C"):
    return sh.ravel(self, order)


_METHODS = {
    "__add__": _binop(el.add),
    "__radd__": _binop(el.add, True),
    "__sub__": _binop(el.subtract),
    "__rsub__": _binop(el.subtract, True),
    "__mul__": _binop(el.multiply),
    "__rmul__": _binop(el.multiply, True),
    "__truediv__": _binop(el.true_divide),
    "__rtruediv__": _binop(el.true_divide, True),
    "__floordiv__": _binop(el.floor_divide),
    "__rfloordiv__": _binop(el.floor_divide, True),
    "__mod__": _binop(el.remainder),
    "__rmod__": _binop(el.remainder, True),
    "__pow__": _binop(el.power),
    "__rpow__": _binop(el.power, True),
    "__matmul__": _binop(pr.matmul),
    "__rmatmul__": _binop(pr.matmul, True),
    "__and__": _binop(el.bitwise_and),
    "__rand__": _binop(el.bitwise_and, True),
    "__or__": _binop(el.bitwise_or),
    "__ror__": _binop(el.bitwise_or, True),
    "__xor__": _binop(el.bitwise_xor),
    "__rxor__": _binop(el.bitwise_xor, True),
    "__lshift__": _binop(el.bitwise_left_shift),
    "__rlshift__": _binop(el.bitwise_left_shift, True),
    "__rshift__": _binop(el.bitwise_right_shift),
    "__rrshift__": _binop(el.bitwise_right_shift, True),
    "__eq__": _binop(el.equal),
    "__ne__": _binop(el.not_equal),
    "__lt__": _binop(el.less),
    "__le__": _binop(el.less_equal),
    "__gt__": _binop(el.greater),
    "__ge__": _binop(el.greater_equal),
    "__neg__": lambda self: el.negative(self),
    "__pos__": lambda self: el.positive(self),
    "__abs__": lambda self: el.abs(self),
    "__invert__": lambda self: el.bitwise_not(self),
    "__getitem__": lambda self, idx: ix.getitem(self, idx),
    "at": property(lambda self: ix._IndexUpdateHelper(self)),
    "T": property(lambda self: sh.transpose(self)),
    "mT": property(_mT),
    "reshape": _reshape,
    "transpose": _transpose,
    "astype": _astype,
    "ravel": _flatten,
    "flatten": _flatten,
    "squeeze": lambda self, axis=None: sh.squeeze(self, axis),
    "swapaxes": lambda self, a, b: sh.swapaxes(self, a, b),
    "sum": lambda self, axis=None, dtype=None, out=None, keepdims=False, **kw: rd.sum(
        self, axis, dtype, out, keepdims, **kw
    ),
    "prod": lambda self, axis=None, dtype=None, out=None, keepdims=False, **kw: rd.prod(
        self, axis, dtype, out, keepdims, **kw
    ),
    "mean": lambda self, axis=None, dtype=None, out=None, keepdims=False, **kw: rd.mean(
        self, axis, dtype, out, keepdims, **kw
    ),
    "max": lambda self, axis=None, out=None, keepdims=False, **kw: rd.max(
        self, axis, out, keepdims, **kw
    ),
    "min": lambda self, axis=None, out=None, keepdims=False, **kw: rd.min(
        self, axis, out, keepdims, **kw
    ),
    "all": lambda self, axis=None, out=None, keepdims=False: rd.all(self, axis, out, keepdims),
    "any": lambda self, axis=None, out=None, keepdims=False: rd.any(self, axis, out, keepdims),
    "argmax": lambda self, axis=None, out=None, keepdims=False: rd.argmax(
        self, axis, out, keepdims
    ),
    "argmin": lambda self, axis=None, out=None, keepdims=False: rd.argmin(
        self, axis, out, keepdims
    ),
    "var": lambda self, axis=None, dtype=None, out=None, ddof=0, keepdims=False: rd.var(
        self, axis, dtype, out, ddof, keepdims
    ),
    "std": lambda self, axis=None, dtype=None, out=None, ddof=0, keepdims=False: rd.std(
        self, axis, dtype, out, ddof, keepdims
    ),
    "clip": lambda self, min=None, max=None: el.clip(self, min, max),
    "round": lambda self, decimals=0: el.round(self, decimals),
    "dot": lambda self, b: pr.dot(self, b),
    "conj": lambda self: el.conjugate(self),
    "conjugate": lambda self: el.conjugate(self),
    "take": lambda self, indices, axis=None, mode=None: ix.take(self, indices, axis, mode),
}


# Array API attributes that ``derivax.Array`` defines itself; tracers get the same ones so
# that code written against the standard runs under jit, grad and vmap.
_TRACER_ONLY = {
    "device": property(lambda self: CPU_DEVICE),
    "devices": lambda self: {CPU_DEVICE},
    "to_device": Array.to_device,
    "__array_namespace__": Array.__array_namespace__,
}


def install():
    for name, impl in _METHODS.items():
        for cls in (Array, Tracer):
            setattr(cls, name, impl)
    for name, impl in _TRACER_ONLY.items():
        setattr(Tracer, name, impl)
    # Comparisons make arrays unhashable like NumPy's, so restore the explicit errors.
    Array.__hash__ = _array_hash
    Tracer.__hash__ = _tracer_hash


_array_hash = Array.__hash__
_tracer_hash = Tracer.__hash__
del get_aval

install()
