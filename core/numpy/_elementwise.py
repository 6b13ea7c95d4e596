"""Elementwise functions of ``derivax.numpy``: promotion and broadcasting around lax ops."""

from __future__ import annotations

import numpy as np

from .. import _dtypes
from .._array import Array, check_device
from .._core import Tracer, get_aval
from ..lax import _bits as B
from ..lax import _complex as F
from ..lax import _elementwise as E
from ..lax import _structural as S
from ._util import (
    asarray_any,
    binary_args,
    broadcast_all,
    broadcast_shapes,
    broadcast_to_shape,
    check_arraylike,
    promote,
    promote_inexact,
)


def _doc(name, what, example):
    return f"""{what}

    Args:
        x: array or scalar (ints and bools are promoted as in JAX).

    Returns:
        An array of the promoted dtype.

    Example:
        >>> import derivax.numpy as dnp
        >>> {example}
    """


def _unary_inexact(name, op, what, example):
    def f(x, /):
        check_arraylike(name, x)
        (x,) = promote_inexact(name, x)
        return op(x)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = _doc(name, what, example)
    return f


def _unary_numeric(name, op, what, example):
    def f(x, /):
        check_arraylike(name, x)
        (x,) = promote(name, x)
        return op(x)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = _doc(name, what, example)
    return f


exp = _unary_inexact(
    "exp",
    E.exp,
    "Elementwise e**x.",
    "dnp.exp(0.0)\n        Array(1., dtype=float32, weak_type=True)",
)
exp2 = _unary_inexact(
    "exp2",
    E.exp2,
    "Elementwise 2**x.",
    "dnp.exp2(3.0)\n        Array(8., dtype=float32, weak_type=True)",
)
log = _unary_inexact(
    "log",
    E.log,
    "Natural logarithm (log of a negative number is nan).",
    "dnp.log(1.0)\n        Array(0., dtype=float32, weak_type=True)",
)
log1p = _unary_inexact(
    "log1p",
    E.log1p,
    "log(1 + x), accurate for small x.",
    "dnp.log1p(0.0)\n        Array(0., dtype=float32, weak_type=True)",
)
expm1 = _unary_inexact(
    "expm1",
    E.expm1,
    "exp(x) - 1, accurate for small x.",
    "dnp.expm1(0.0)\n        Array(0., dtype=float32, weak_type=True)",
)
sin = _unary_inexact(
    "sin",
    E.sin,
    "Elementwise sine.",
    "dnp.sin(0.0)\n        Array(0., dtype=float32, weak_type=True)",
)
cos = _unary_inexact(
    "cos",
    E.cos,
    "Elementwise cosine.",
    "dnp.cos(0.0)\n        Array(1., dtype=float32, weak_type=True)",
)
tan = _unary_inexact(
    "tan",
    E.tan,
    "Elementwise tangent.",
    "dnp.tan(0.0)\n        Array(0., dtype=float32, weak_type=True)",
)
arcsin = _unary_inexact(
    "arcsin",
    E.asin,
    "Inverse sine.",
    "dnp.arcsin(0.0)\n        Array(0., dtype=float32, weak_type=True)",
)
arccos = _unary_inexact(
    "arccos",
    E.acos,
    "Inverse cosine.",
    "dnp.arccos(1.0)\n        Array(0., dtype=float32, weak_type=True)",
)
arctan = _unary_inexact(
    "arctan",
    E.atan,
    "Inverse tangent.",
    "dnp.arctan(0.0)\n        Array(0., dtype=float32, weak_type=True)",
)
sinh = _unary_inexact(
    "sinh",
    E.sinh,
    "Hyperbolic sine.",
    "dnp.sinh(0.0)\n        Array(0., dtype=float32, weak_type=True)",
)
cosh = _unary_inexact(
    "cosh",
    E.cosh,
    "Hyperbolic cosine.",
    "dnp.cosh(0.0)\n        Array(1., dtype=float32, weak_type=True)",
)
tanh = _unary_inexact(
    "tanh",
    E.tanh,
    "Hyperbolic tangent.",
    "dnp.tanh(0.0)\n        Array(0., dtype=float32, weak_type=True)",
)
arcsinh = _unary_inexact(
    "arcsinh",
    E.asinh,
    "Inverse hyperbolic sine.",
    "dnp.arcsinh(0.0)\n        Array(0., dtype=float32, weak_type=True)",
)
arccosh = _unary_inexact(
    "arccosh",
    E.acosh,
    "Inverse hyperbolic cosine.",
    "dnp.arccosh(1.0)\n        Array(0., dtype=float32, weak_type=True)",
)
arctanh = _unary_inexact(
    "arctanh",
    E.atanh,
    "Inverse hyperbolic tangent.",
    "dnp.arctanh(0.0)\n        Array(0., dtype=float32, weak_type=True)",
)
sqrt = _unary_inexact(
    "sqrt",
    E.sqrt,
    "Square root (nan for negative inputs).",
    "dnp.sqrt(4.0)\n        Array(2., dtype=float32, weak_type=True)",
)
cbrt = _unary_inexact(
    "cbrt", E.cbrt, "Cube root.", "dnp.cbrt(8.0)\n        Array(2., dtype=float32, weak_type=True)"
)
floor = _unary_inexact(
    "floor",
    E.floor,
    "Round down.",
    "dnp.floor(1.5)\n        Array(1., dtype=float32, weak_type=True)",
)
ceil = _unary_inexact(
    "ceil", E.ceil, "Round up.", "dnp.ceil(1.5)\n        Array(2., dtype=float32, weak_type=True)"
)
negative = _unary_numeric(
    "negative",
    E.neg,
    "Elementwise -x.",
    "dnp.negative(1)\n        Array(-1, dtype=int32, weak_type=True)",
)
sign = _unary_numeric(
    "sign",
    E.sign,
    "-1, 0 or 1 by the sign of x.",
    "dnp.sign(-2.0)\n        Array(-1., dtype=float32, weak_type=True)",
)

arcsin.__name__ = "arcsin"
asin, acos, atan = arcsin, arccos, arctan
asinh, acosh, atanh = arcsinh, arccosh, arctanh


def positive(x, /):
    """Elementwise +x (a copy of x, promoted).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.positive(dnp.array([1, -2]))
        Array([ 1, -2], dtype=int32)
    """
    (x,) = promote("positive", x)
    return x


def abs(x, /):  # noqa: A001
    """Absolute value.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.abs(dnp.array([-1.5, 2.0]))
        Array([1.5, 2. ], dtype=float32)
    """
    (x,) = promote("abs", x)
    if x.dtype == np.bool_ or _dtypes.is_unsigned(x.dtype):
        return x
    if _dtypes.is_complex(x.dtype):
        return hypot(real(x), imag(x))
    return E.abs(x)


absolute = abs
fabs = abs


def trunc(x, /):
    """Round toward zero.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.trunc(dnp.array([-1.5, 1.5]))
        Array([-1.,  1.], dtype=float32)
    """
    (x,) = promote_inexact("trunc", x)
    return E.select(E.lt(x, S.full(x.shape, 0, x.dtype)), E.ceil(x), E.floor(x))


def round(a, decimals=0, out=None):  # noqa: A001
    """Round half to even (NumPy's rule), to ``decimals`` places.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.round(dnp.array([0.5, 1.5, 2.5, 0.125]), 2)
        Array([0.5 , 1.5 , 2.5 , 0.12], dtype=float32)
    """
    if out is not None:
        raise ValueError("round: out= is not supported (arrays are immutable).")
    (a,) = promote("round", a)
    if not _dtypes.is_inexact(a.dtype):
        return a
    if decimals == 0:
        return E.round(a, 1)
    factor = S.full(a.shape, 10.0**decimals, a.dtype)
    return E.div(E.round(E.mul(a, factor), 1), factor)


around = round


def rint(x, /):
    """Round to the nearest integer (half to even).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.rint(2.5)
        Array(2., dtype=float32, weak_type=True)
    """
    (x,) = promote_inexact("rint", x)
    return E.round(x, 1)


def square(x, /):
    """Elementwise x*x.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.square(dnp.array([1, 2, 3]))
        Array([1, 4, 9], dtype=int32)
    """
    (x,) = promote("square", x)
    return E.integer_pow(x, 2)


def reciprocal(x, /):
    """Elementwise 1/x.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.reciprocal(4.0)
        Array(0.25, dtype=float32)
    """
    (x,) = promote_inexact("reciprocal", x)
    return E.div(S.full(x.shape, 1, x.dtype), x)


def log2(x, /):
    """Base-2 logarithm.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.log2(8.0)
        Array(3., dtype=float32)
    """
    (x,) = promote_inexact("log2", x)
    return E.div(E.log(x), S.full(x.shape, np.log(2), x.dtype))


def log10(x, /):
    """Base-10 logarithm.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.log10(100.0)
        Array(2., dtype=float32)
    """
    (x,) = promote_inexact("log10", x)
    return E.div(E.log(x), S.full(x.shape, np.log(10), x.dtype))


def _binary(name, op, what, example, inexact=False):
    def f(x1, x2, /):
        x1, x2 = binary_args(name, x1, x2)
        if inexact and not _dtypes.is_inexact(x1.dtype):
            weak = x1.weak_type and x2.weak_type
            x1 = E.convert_element_type(x1, _dtypes.default_float_dtype(), weak)
            x2 = E.convert_element_type(x2, _dtypes.default_float_dtype(), weak)
        return op(x1, x2)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"""{what}

    Args:
        x1, x2: arrays or scalars; promoted (JAX's lattice) and broadcast (NumPy's rules).

    Example:
        >>> import derivax.numpy as dnp
        >>> {example}
    """
    return f


add = _binary(
    "add",
    E.add,
    "Elementwise sum.",
    "dnp.add(dnp.array([1.0, 2.0]), 1.0)\n        Array([2., 3.], dtype=float32)",
)
subtract = _binary(
    "subtract",
    E.sub,
    "Elementwise difference.",
    "dnp.subtract(3, 1)\n        Array(2, dtype=int32, weak_type=True)",
)
multiply = _binary(
    "multiply",
    E.mul,
    "Elementwise product.",
    "dnp.multiply(dnp.array([1.0, 2.0]), 3.0)\n        Array([3., 6.], dtype=float32)",
)
true_divide = _binary(
    "true_divide",
    E.div,
    "Elementwise division (ints give floats).",
    "dnp.true_divide(1, 2)\n        Array(0.5, dtype=float32, weak_type=True)",
    inexact=True,
)
divide = true_divide
maximum = _binary(
    "maximum",
    E.max,
    "Elementwise maximum (nan propagates).",
    "dnp.maximum(dnp.array([1.0, 5.0]), 3.0)\n        Array([3., 5.], dtype=float32)",
)
minimum = _binary(
    "minimum",
    E.min,
    "Elementwise minimum (nan propagates).",
    "dnp.minimum(dnp.array([1.0, 5.0]), 3.0)\n        Array([1., 3.], dtype=float32)",
)
arctan2 = _binary(
    "arctan2",
    E.atan2,
    "Angle of (x2, x1) in radians.",
    "dnp.arctan2(1.0, 1.0)\n        Array(0.7853982, dtype=float32, weak_type=True)",
    inexact=True,
)
atan2 = arctan2
equal = _binary(
    "equal",
    E.eq,
    "Elementwise ==.",
    "dnp.equal(dnp.array([1, 2]), 2)\n        Array([False,  True], dtype=bool)",
)
not_equal = _binary(
    "not_equal",
    E.ne,
    "Elementwise !=.",
    "dnp.not_equal(dnp.array([1, 2]), 2)\n        Array([ True, False], dtype=bool)",
)
less = _binary(
    "less",
    E.lt,
    "Elementwise <.",
    "dnp.less(dnp.array([1, 2]), 2)\n        Array([ True, False], dtype=bool)",
)
less_equal = _binary(
    "less_equal",
    E.le,
    "Elementwise <=.",
    "dnp.less_equal(dnp.array([1, 2]), 2)\n        Array([ True,  True], dtype=bool)",
)
greater = _binary(
    "greater",
    E.gt,
    "Elementwise >.",
    "dnp.greater(dnp.array([1, 3]), 2)\n        Array([False,  True], dtype=bool)",
)
greater_equal = _binary(
    "greater_equal",
    E.ge,
    "Elementwise >=.",
    "dnp.greater_equal(dnp.array([1, 3]), 2)\n        Array([False,  True], dtype=bool)",
)


def _int_or_bool(name, x1, x2):
    x1, x2 = binary_args(name, x1, x2)
    if not (_dtypes.is_int(x1.dtype) or x1.dtype == np.bool_):
        raise TypeError(f"{name} needs integer or bool operands, got {x1.dtype}.")
    return x1, x2


def bitwise_and(x1, x2, /):
    """Elementwise bitwise (or logical, for bools) AND.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.bitwise_and(dnp.array([3, 5]), 1)
        Array([1, 1], dtype=int32)
    """
    return E.bitwise_and(*_int_or_bool("bitwise_and", x1, x2))


def bitwise_or(x1, x2, /):
    """Elementwise bitwise OR.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.bitwise_or(dnp.array([1, 4]), 2)
        Array([3, 6], dtype=int32)
    """
    return E.bitwise_or(*_int_or_bool("bitwise_or", x1, x2))


def bitwise_xor(x1, x2, /):
    """Elementwise bitwise XOR.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.bitwise_xor(dnp.array([3]), 1)
        Array([2], dtype=int32)
    """
    return E.bitwise_xor(*_int_or_bool("bitwise_xor", x1, x2))


def bitwise_not(x, /):
    """Elementwise bitwise NOT (logical NOT for bools).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.bitwise_not(dnp.array([True, False]))
        Array([False,  True], dtype=bool)
    """
    (x,) = promote("bitwise_not", x)
    return E.bitwise_not(x)


invert = bitwise_invert = bitwise_not


def _as_bool(x):
    x = asarray_any(x)
    return x if x.dtype == np.bool_ else E.ne(x, S.full(x.shape, 0, x.dtype))


def logical_and(x1, x2, /):
    """Elementwise logical AND (nonzero is True).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.logical_and(dnp.array([1, 0]), True)
        Array([ True, False], dtype=bool)
    """
    return E.bitwise_and(*broadcast_all("logical_and", _as_bool(x1), _as_bool(x2)))


def logical_or(x1, x2, /):
    """Elementwise logical OR.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.logical_or(dnp.array([1, 0]), False)
        Array([ True, False], dtype=bool)
    """
    return E.bitwise_or(*broadcast_all("logical_or", _as_bool(x1), _as_bool(x2)))


def logical_xor(x1, x2, /):
    """Elementwise logical XOR.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.logical_xor(dnp.array([1, 0]), True)
        Array([False,  True], dtype=bool)
    """
    return E.bitwise_xor(*broadcast_all("logical_xor", _as_bool(x1), _as_bool(x2)))


def logical_not(x, /):
    """Elementwise logical NOT.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.logical_not(dnp.array([1, 0]))
        Array([False,  True], dtype=bool)
    """
    return E.bitwise_not(_as_bool(x))


def floor_divide(x1, x2, /):
    """Division rounded toward -inf (Python's ``//``).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.floor_divide(dnp.array([7, -7]), 2)
        Array([ 3, -4], dtype=int32)
    """
    x1, x2 = binary_args("floor_divide", x1, x2)
    if _dtypes.is_inexact(x1.dtype):
        return E.floor(E.div(x1, x2))
    q = E.div(x1, x2)
    if _dtypes.is_unsigned(x1.dtype) or x1.dtype == np.bool_:
        return q
    # C division truncates; step down where the signs differ and there is a remainder.
    r = E.rem(x1, x2)
    zero = S.full(x1.shape, 0, x1.dtype)
    fix = E.bitwise_and(E.ne(r, zero), E.ne(E.lt(x1, zero), E.lt(x2, zero)))
    return E.select(fix, E.sub(q, S.full(x1.shape, 1, x1.dtype)), q)


def remainder(x1, x2, /):
    """Remainder with the sign of the divisor (Python's ``%``).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.remainder(dnp.array([7, -7]), 3)
        Array([1, 2], dtype=int32)
    """
    x1, x2 = binary_args("remainder", x1, x2)
    r = E.rem(x1, x2)
    if _dtypes.is_unsigned(x1.dtype):
        return r
    zero = S.full(x1.shape, 0, x1.dtype)
    fix = E.bitwise_and(E.ne(r, zero), E.ne(E.lt(r, zero), E.lt(x2, zero)))
    return E.select(fix, E.add(r, x2), r)


mod = remainder


def fmod(x1, x2, /):
    """Remainder with the sign of the dividend (C's fmod).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.fmod(dnp.array([7, -7]), 3)
        Array([ 1, -1], dtype=int32)
    """
    return E.rem(*binary_args("fmod", x1, x2))


def _int_power(x, y):
    # Exact integer powers by squaring over the bits of y (negative exponents give 0,
    # except for bases 1 and -1).
    acc = S.full(x.shape, 1, x.dtype)
    base = x
    zero = S.full(x.shape, 0, x.dtype)
    for bit in range(np.iinfo(x.dtype).bits - 1):
        mask = S.full(x.shape, 1 << bit, y.dtype)
        on = E.ne(E.bitwise_and(y, mask), S.full(x.shape, 0, y.dtype))
        acc = E.select(on, E.mul(acc, base), acc)
        base = E.mul(base, base)
    return E.select(E.lt(y, S.full(y.shape, 0, y.dtype)), zero, acc)


def power(x1, x2, /):
    """``x1 ** x2``. A static Python int exponent uses exact repeated multiplication.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.power(dnp.array([1.0, 2.0, 3.0]), 2)
        Array([1., 4., 9.], dtype=float32)
    """
    if type(x2) is int and not isinstance(x1, bool):
        check_arraylike("power", x1)
        (x1,) = promote("power", x1)
        if x2 >= 0 or _dtypes.is_inexact(x1.dtype):
            return E.integer_pow(x1, x2)
    # As in JAX, a strongly typed integer exponent makes a float result strong (a Python
    # float raised to an int32 array gives float32, not a weak float).
    strong_int_exponent = (
        not _dtypes.is_weakly_typed(x2) and hasattr(x2, "dtype") and np.dtype(x2.dtype).kind in "iu"
    )
    x1, x2 = binary_args("power", x1, x2)
    weak = x1.weak_type and x2.weak_type and not strong_int_exponent
    if not _dtypes.is_inexact(x1.dtype):
        if x1.dtype == np.bool_:
            raise TypeError("power: bool operands are not supported; convert to int first.")
        out = _int_power(x1, x2)
    else:
        out = E.pow(x1, x2)
    return E.convert_element_type(out, out.dtype, weak)


pow = power  # noqa: A001


def isnan(x, /):
    """True where x is NaN.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.isnan(dnp.array([1.0, dnp.nan]))
        Array([False,  True], dtype=bool)
    """
    (x,) = promote("isnan", x)
    if not _dtypes.is_inexact(x.dtype):
        return S.full(x.shape, False, np.bool_)
    return E.ne(x, x)


def isfinite(x, /):
    """True where x is neither inf nor NaN.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.isfinite(dnp.array([1.0, dnp.inf]))
        Array([ True, False], dtype=bool)
    """
    (x,) = promote("isfinite", x)
    if not _dtypes.is_inexact(x.dtype):
        return S.full(x.shape, True, np.bool_)
    return E.is_finite(x)


def isinf(x, /):
    """True where x is +inf or -inf.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.isinf(dnp.array([1.0, -dnp.inf]))
        Array([False,  True], dtype=bool)
    """
    (x,) = promote("isinf", x)
    if not _dtypes.is_inexact(x.dtype):
        return S.full(x.shape, False, np.bool_)
    return E.eq(E.abs(x), S.full(x.shape, np.inf, x.dtype))


def where(condition, x=None, y=None, /):
    """``x`` where ``condition`` else ``y`` (broadcast); with one argument, ``nonzero``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.where(dnp.array([True, False]), 1.0, dnp.array([5.0, 6.0]))
        Array([1., 6.], dtype=float32)
    """
    if x is None and y is None:
        from ._indexing import nonzero

        return nonzero(condition)
    if x is None or y is None:
        raise ValueError("where takes either 1 or 3 arguments (condition, x, y).")
    c = _as_bool(condition)
    x, y = promote("where", x, y)
    c, x, y = broadcast_all("where", c, x, y)
    return E.select(c, x, y)


def clip(a, a_min=None, a_max=None, *, min=None, max=None):  # noqa: A002
    """Limit values to ``[a_min, a_max]`` (either may be None).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.clip(dnp.array([-2.0, 0.5, 3.0]), -1.0, 1.0)
        Array([-1. ,  0.5,  1. ], dtype=float32)
    """
    lo = a_min if a_min is not None else min
    hi = a_max if a_max is not None else max
    (a,) = promote("clip", a)
    if lo is not None:
        a = maximum(a, lo)
    if hi is not None:
        a = minimum(a, hi)
    return a


# --------------------------------------------------------------------------- complex parts
# The real, imag and conj primitives live in derivax.lax (next to fft, which needs them).


def real(x, /):
    """The real part of ``x`` (``x`` itself for real dtypes).

    Args:
        x: an array or scalar.

    Returns:
        A real array: float32 for complex64, float64 for complex128.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.real(dnp.array([1.0 + 2.0j, 3.0 - 1.0j]))
        Array([1., 3.], dtype=float32)
    """
    check_arraylike("real", x)
    (x,) = promote("real", x)
    return F.real(x) if _dtypes.is_complex(x.dtype) else x


def imag(x, /):
    """The imaginary part of ``x`` (zeros for real dtypes).

    Args:
        x: an array or scalar.

    Returns:
        A real array: float32 for complex64, float64 for complex128.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.imag(dnp.array([1.0 + 2.0j, 3.0 - 1.0j]))
        Array([ 2., -1.], dtype=float32)
    """
    check_arraylike("imag", x)
    (x,) = promote("imag", x)
    if _dtypes.is_complex(x.dtype):
        return F.imag(x)
    return S.full(x.shape, 0, x.dtype)


def conjugate(x, /):
    """The complex conjugate of ``x`` (``x`` itself for real dtypes).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.conjugate(dnp.array([1.0 + 2.0j]))
        Array([1.-2.j], dtype=complex64)
    """
    check_arraylike("conjugate", x)
    (x,) = promote("conjugate", x)
    return F.conj(x) if _dtypes.is_complex(x.dtype) else x


conj = conjugate


def signbit(x, /):
    """True where the sign bit is set: negative numbers, -0.0 and NaNs with the sign bit.

    Args:
        x: a real array or scalar (integers are negative or not; bools never are).

    Returns:
        A bool array of ``x``'s shape.

    Raises:
        TypeError: ``x`` is complex.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.signbit(dnp.array([-0.0, 1.0, -2.0]))
        Array([ True, False,  True], dtype=bool)
    """
    check_arraylike("signbit", x)
    (x,) = promote("signbit", x)
    dt = x.dtype
    if _dtypes.is_complex(dt):
        raise TypeError(f"signbit needs a real operand, got {dt}; take dnp.real(x) first.")
    if dt == np.bool_ or _dtypes.is_unsigned(dt):
        return S.full(x.shape, False, np.bool_)
    if _dtypes.is_int(dt):
        return E.lt(x, S.full(x.shape, 0, dt))
    # The sign is the top bit of the float's bit pattern, read as a signed integer.
    bits = B.bitcast_convert_type(x, np.dtype(f"int{dt.itemsize * 8}"))
    return E.lt(bits, S.full(x.shape, 0, bits.dtype))


def copysign(x1, x2, /):
    """The magnitude of ``x1`` with the sign (bit) of ``x2``, elementwise.

    Args:
        x1, x2: real arrays or scalars; promoted to a common floating dtype and broadcast.

    Returns:
        A floating array.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.copysign(dnp.array([1.0, -2.0, 3.0]), dnp.array([-1.0, 1.0, -0.0]))
        Array([-1.,  2., -3.], dtype=float32)
    """
    x1, x2 = _binary_inexact("copysign", x1, x2)
    mag = E.abs(x1)
    return E.select(signbit(x2), E.neg(mag), mag)


def hypot(x1, x2, /):
    """``sqrt(x1**2 + x2**2)`` elementwise, without overflow or underflow in the squares.

    Args:
        x1, x2: real arrays or scalars; promoted to a common floating dtype and broadcast.

    Returns:
        A floating array (inf if either operand is infinite, even when the other is NaN).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.hypot(dnp.array([3.0, 3e30]), dnp.array([4.0, 4e30]))
        Array([5.e+00, 5.e+30], dtype=float32)
    """
    x1, x2 = _binary_inexact("hypot", x1, x2)
    a, b = E.abs(x1), E.abs(x2)
    big, small = E.max(a, b), E.min(a, b)
    zero = S.full(a.shape, 0, a.dtype)
    one = S.full(a.shape, 1, a.dtype)
    # Divide by the larger magnitude; guard 0/0 on both sides of the select so that the
    # derivative stays finite away from the origin.
    is_zero = E.eq(big, zero)
    ratio = E.div(small, E.select(is_zero, one, big))
    out = E.mul(big, E.sqrt(E.add(one, E.mul(ratio, ratio))))
    inf = S.full(a.shape, np.inf, a.dtype)
    return E.select(E.bitwise_or(E.eq(a, inf), E.eq(b, inf)), inf, out)


def logaddexp(x1, x2, /):
    """``log(exp(x1) + exp(x2))`` elementwise, without overflow.

    Args:
        x1, x2: real arrays or scalars; promoted to a common floating dtype and broadcast.

    Returns:
        A floating array.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.logaddexp(dnp.array([0.0, 1000.0]), dnp.array([0.0, 0.0]))
        Array([6.931472e-01, 1.000000e+03], dtype=float32)
    """
    x1, x2 = _binary_inexact("logaddexp", x1, x2)
    big = E.max(x1, x2)
    # Equal operands (infinities included, where x1 - x2 is NaN) differ by exactly 0.
    diff = E.select(E.eq(x1, x2), S.full(x1.shape, 0, x1.dtype), E.sub(x1, x2))
    return E.add(big, E.log1p(E.exp(E.neg(E.abs(diff)))))


def nextafter(x1, x2, /):
    """The floating-point number next to ``x1`` in the direction of ``x2``.

    Args:
        x1, x2: real arrays or scalars; promoted to a common floating dtype and broadcast.

    Returns:
        A floating array; ``x2`` where ``x1 == x2``. It has no derivative (it is piecewise
        constant); wrap the operands in ``stop_gradient`` when differentiating around it.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.nextafter(dnp.float32(1.0), dnp.float32(2.0)) - 1.0
        Array(1.1920929e-07, dtype=float32)
    """
    x1, x2 = _binary_inexact("nextafter", x1, x2)
    if _dtypes.is_complex(x1.dtype):
        raise TypeError(f"nextafter needs real operands, got {x1.dtype}.")
    return B.nextafter(*_broadcast_explicit("nextafter", x1, x2))


def _binary_inexact(name, x1, x2):
    x1, x2 = binary_args(name, x1, x2)
    if not _dtypes.is_inexact(x1.dtype):
        weak = x1.weak_type and x2.weak_type
        x1 = E.convert_element_type(x1, _dtypes.default_float_dtype(), weak)
        x2 = E.convert_element_type(x2, _dtypes.default_float_dtype(), weak)
    elif _dtypes.is_complex(x1.dtype) and name != "nextafter":
        raise TypeError(f"{name} needs real operands, got {x1.dtype}.")
    return x1, x2


def _shift_args(name, x1, x2):
    x1, x2 = binary_args(name, x1, x2)
    if not _dtypes.is_int(x1.dtype):
        raise TypeError(
            f"{name} needs integer operands, got {x1.dtype} (after promotion). Convert with "
            "x.astype(derivax.numpy.int32) first."
        )
    return _broadcast_explicit(name, x1, x2)


def _broadcast_explicit(name, x1, x2):
    # binary_args leaves eager operands unbroadcast for NumPy's kernels to broadcast; the
    # lax bit operations check their shapes first, so broadcast here.
    shape = broadcast_shapes(x1.shape, x2.shape, fname=name)
    return broadcast_to_shape(x1, shape), broadcast_to_shape(x2, shape)


def bitwise_left_shift(x1, x2, /):
    """Shift the bits of the integers ``x1`` left by ``x2`` (NumPy's ``left_shift``).

    Shifting by the bit width or more gives 0. Negative shift amounts are not defined by
    the standard; derivax gives 0 for them too.

    Args:
        x1, x2: integer arrays or scalars; promoted and broadcast.

    Returns:
        An integer array of the promoted dtype.

    Raises:
        TypeError: an operand is not an integer (bools included).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.bitwise_left_shift(dnp.array([1, 3]), 2)
        Array([ 4, 12], dtype=int32)
    """
    return B.shift_left(*_shift_args("bitwise_left_shift", x1, x2))


def bitwise_right_shift(x1, x2, /):
    """Shift the bits of ``x1`` right by ``x2``: arithmetic (sign-filling) for signed
    integers, logical for unsigned ones, as NumPy's ``right_shift``.

    Args:
        x1, x2: integer arrays or scalars; promoted and broadcast.

    Returns:
        An integer array of the promoted dtype.

    Raises:
        TypeError: an operand is not an integer (bools included).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.bitwise_right_shift(dnp.array([-8, 8]), 1)
        Array([-4,  4], dtype=int32)
    """
    x1, x2 = _shift_args("bitwise_right_shift", x1, x2)
    if _dtypes.is_unsigned(x1.dtype):
        return B.shift_right_logical(x1, x2)
    return B.shift_right_arithmetic(x1, x2)


left_shift = bitwise_left_shift
right_shift = bitwise_right_shift


def astype(x, dtype, /, *, copy=True, device=None):
    """Convert ``x`` to ``dtype`` (64-bit types need x64 enabled).

    Float to integer conversion truncates toward zero; NaN becomes 0 and values out of range
    saturate. Complex to real conversion is refused: take ``real(x)`` first.

    Args:
        x: an array or scalar.
        dtype: the target dtype.
        copy: True (default) always returns a new array; False returns ``x`` itself when it
            already has ``dtype``.
        device: None, ``"cpu"`` or the CPU device.

    Returns:
        An array of ``dtype``.

    Raises:
        TypeError: complex to real conversion.
        ValueError: ``device`` is not the CPU.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.astype(dnp.array([1.7, -1.7]), dnp.int32)
        Array([ 1, -1], dtype=int32)
    """
    check_arraylike("astype", x)
    check_device(device, "astype")
    dtype = _dtypes.canonicalize_dtype(dtype)
    x = asarray_any(x)
    src = get_aval(x).dtype
    if _dtypes.is_complex(src) and not _dtypes.is_complex(dtype):
        raise TypeError(
            f"astype: converting {src} to {dtype} would drop the imaginary part; take "
            "derivax.numpy.real(x) (or abs(x)) first."
        )
    if copy and type(x) is Array and src == dtype:
        return Array(x._value.copy())  # astype results are strongly typed
    return E.convert_element_type(x, dtype)


def _is_float_array(x):
    return isinstance(x, (Array, Tracer)) and _dtypes.is_inexact(get_aval(x).dtype)


del _is_float_array
