"""Bit-level primitives: shifts, bit casts, ``erf_inv``, ``nextafter`` and threefry2x32.

``derivax.random`` is built from these. Its contract is to return exactly the numbers JAX
returns for the same key, so the NumPy implementations here reproduce what XLA's CPU back
end computes, bit for bit, where that matters:

* integer shifts follow XLA: a shift by at least the bit width (or by a negative amount)
  gives 0, or the sign fill for ``shift_right_arithmetic``;
* ``erf_inv`` is the polynomial XLA uses (M. Giles, "Approximating the erfinv function",
  in single and double precision), evaluated the way XLA's CPU code evaluates it: its own
  ``log``/``log1p`` kernels, and every ``a * b + c`` fused into one rounding, as LLVM
  contracts them. In float32 it agrees with XLA on all 2**23 inputs ``random.normal`` can
  produce;
* a private fused multiply-add, ``fma``, rounds once: XLA fuses ``u * (hi - lo) + lo`` in
  ``random.uniform`` that way.

Denormal inputs of ``erf_inv`` are flushed to zero, as XLA's CPU code does.
"""

from __future__ import annotations

import math

import numpy as np

from .._core import Primitive, ShapedArray
from . import _elementwise as E
from . import _structural as S
from ._util import aval_of, is_float, is_inexact, is_integral, val, wrap

__all__ = [
    "bitcast_convert_type",
    "clz",
    "erf_inv",
    "nextafter",
    "shift_left",
    "shift_right_arithmetic",
    "shift_right_logical",
    "threefry2x32",
]


def _int_operand(name, x, like=None):
    """An integer operand; Python ints take the dtype and shape of ``like``."""
    if like is not None and isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        a = aval_of(like)
        return S.full(a.shape, x, a.dtype)
    a = aval_of(x)
    if not is_integral(a.dtype) or a.dtype == np.bool_:
        raise TypeError(
            f"{name} needs integer operands, got {a.str_short()}. Convert with "
            "derivax.lax.convert_element_type(x, derivax.numpy.uint32) first."
        )
    return x


def _same_shape(x, y):
    """Broadcast a scalar operand to the shape of the other one."""
    ax, ay = aval_of(x), aval_of(y)
    if ax.shape != ay.shape and ay.shape == ():
        y = S.broadcast_in_dim(y, ax.shape, ())
    elif ax.shape != ay.shape and ax.shape == ():
        x = S.broadcast_in_dim(x, ay.shape, ())
    return x, y


# --------------------------------------------------------------------------- shifts


def _nbits(dtype):
    return np.dtype(dtype).itemsize * 8


def _valid_shift(y, nbits):
    """(shift amounts with invalid ones replaced by 0, mask of the valid ones)."""
    y64 = y.astype(np.int64)
    ok = (y64 >= 0) & (y64 < nbits)
    return np.where(ok, y64, 0).astype(y.dtype), ok


def _np_shift_left(x, y):
    s, ok = _valid_shift(y, _nbits(x.dtype))
    return np.where(ok, np.left_shift(x, s), 0).astype(x.dtype)


def _unsigned(dtype):
    return np.dtype(f"uint{_nbits(dtype)}")


def _np_shift_right_logical(x, y):
    s, ok = _valid_shift(y, _nbits(x.dtype))
    u = x.view(_unsigned(x.dtype)) if x.dtype.kind == "i" else x
    out = np.right_shift(u, s.astype(u.dtype))
    out = np.where(ok, out, 0).astype(u.dtype)
    return out.view(x.dtype) if x.dtype.kind == "i" else out


def _np_shift_right_arithmetic(x, y):
    nbits = _nbits(x.dtype)
    y64 = y.astype(np.int64)
    s = np.where((y64 < 0) | (y64 >= nbits), nbits - 1, y64)
    signed = x.view(np.dtype(f"int{nbits}")) if x.dtype.kind == "u" else x
    out = np.right_shift(signed, s.astype(signed.dtype)).astype(signed.dtype)
    return out.view(x.dtype) if x.dtype.kind == "u" else out


shift_left_p = E.elementwise("shift_left", _np_shift_left, "int", None, nargs=2)
shift_right_logical_p = E.elementwise(
    "shift_right_logical", _np_shift_right_logical, "int", None, nargs=2
)
shift_right_arithmetic_p = E.elementwise(
    "shift_right_arithmetic", _np_shift_right_arithmetic, "int", None, nargs=2
)


def _shift(prim, name, x, y):
    x = _int_operand(name, x)
    y = _int_operand(name, y, like=x)
    x, y = _same_shape(x, y)
    prim.abstract_eval(aval_of(x), aval_of(y))  # eager binds skip the shape rule: check here
    return prim.bind(x, y)


def shift_left(x, y):
    """Shift the bits of the integers ``x`` left by ``y``.

    A shift by at least the bit width of the dtype (or by a negative amount) gives 0, as in
    XLA; NumPy leaves that case to the platform.

    Args:
        x: an integer array.
        y: the shift amounts: an array of ``x``'s dtype and shape, a scalar array of that
            dtype, or a Python int.

    Returns:
        An array of ``x``'s shape and dtype.

    Raises:
        TypeError: an operand is not an integer array, or the shapes/dtypes differ.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> lax.shift_left(dnp.array([1, 3], dnp.uint32), 31)
        Array([2147483648, 2147483648], dtype=uint32)
        >>> lax.shift_left(dnp.array([1, 3], dnp.uint32), 32)
        Array([0, 0], dtype=uint32)
    """
    return _shift(shift_left_p, "shift_left", x, y)


def shift_right_logical(x, y):
    """Shift the bits of ``x`` right by ``y``, filling with zeros (for signed ints too).

    Args:
        x: an integer array.
        y: the shift amounts (array of ``x``'s dtype and shape, scalar array, or Python
            int). Shifting by the bit width or more gives 0.

    Returns:
        An array of ``x``'s shape and dtype.

    Raises:
        TypeError: an operand is not an integer array, or the shapes/dtypes differ.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> lax.shift_right_logical(dnp.array([-8, 8], dnp.int32), 1)
        Array([2147483644,          4], dtype=int32)
    """
    return _shift(shift_right_logical_p, "shift_right_logical", x, y)


def shift_right_arithmetic(x, y):
    """Shift the bits of ``x`` right by ``y``, filling with copies of the sign bit.

    Args:
        x: an integer array.
        y: the shift amounts (array of ``x``'s dtype and shape, scalar array, or Python
            int). Shifting by the bit width or more fills the result with the sign bit.

    Returns:
        An array of ``x``'s shape and dtype.

    Raises:
        TypeError: an operand is not an integer array, or the shapes/dtypes differ.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> lax.shift_right_arithmetic(dnp.array([-8, 8], dnp.int32), 1)
        Array([-4,  4], dtype=int32)
    """
    return _shift(shift_right_arithmetic_p, "shift_right_arithmetic", x, y)


def _np_clz(x):
    nbits = _nbits(x.dtype)
    u = x.view(_unsigned(x.dtype)).astype(np.uint64)
    out = np.full(u.shape, nbits, np.int64)
    rest = u.copy()
    # Binary search on the highest set bit, vectorised over the array.
    for width in (32, 16, 8, 4, 2, 1):
        if width >= nbits:
            continue
        top = rest >> np.uint64(width)
        has = top != 0
        out = np.where(has, out - width, out)
        rest = np.where(has, top, rest)
    out = np.where(rest != 0, out - 1, out)
    return out.astype(x.dtype)


clz_p = E.elementwise("clz", _np_clz, "int", None)


def clz(x):
    """Count the leading zero bits of each integer in ``x``.

    Args:
        x: an integer array.

    Returns:
        An array of ``x``'s shape and dtype: the number of zero bits above the highest set
        bit (the bit width for 0).

    Raises:
        TypeError: ``x`` is not an integer array.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> lax.clz(dnp.array([0, 1, 255, 2**31], dnp.uint32))
        Array([32, 31, 24,  0], dtype=uint32)
    """
    return clz_p.bind(_int_operand("clz", x))


# --------------------------------------------------------------------------- bitcast


def _bitcast_shape(shape, old, new, name="bitcast_convert_type"):
    a, b = np.dtype(old).itemsize, np.dtype(new).itemsize
    if a == b:
        return tuple(shape)
    if a > b:
        return (*shape, a // b)
    if not shape or shape[-1] != b // a:
        raise TypeError(
            f"{name}: converting {np.dtype(old).name} to the wider {np.dtype(new).name} needs "
            f"a last dimension of size {b // a} (the narrow values that form one wide value); "
            f"the operand has shape {tuple(shape)}."
        )
    return tuple(shape[:-1])


def _bitcast_impl(x, *, new_dtype):
    v = val(x)
    if not v.flags.c_contiguous:
        v = v.copy()
    out = (
        v.reshape(v.shape or (1,))
        .view(new_dtype)
        .reshape(_bitcast_shape(v.shape, v.dtype, new_dtype))
    )
    return wrap(out)


def _bitcast_abstract_eval(x, *, new_dtype):
    for dt in (x.dtype, new_dtype):
        if dt == np.bool_ or not (is_integral(dt) or is_inexact(dt)):
            raise TypeError(
                f"bitcast_convert_type converts between numeric dtypes, got "
                f"{x.dtype.name} -> {np.dtype(new_dtype).name}; bool has no defined bit "
                "layout. Convert bools with convert_element_type."
            )
    return ShapedArray(_bitcast_shape(x.shape, x.dtype, new_dtype), new_dtype)


def _bitcast_batch(vals, dims, *, new_dtype):
    (x,), (d,) = vals, dims
    x = S.moveaxis(x, d, 0)
    return bitcast_convert_type_p.bind(x, new_dtype=new_dtype), 0


bitcast_convert_type_p = Primitive("bitcast_convert_type")
bitcast_convert_type_p.impl = _bitcast_impl
bitcast_convert_type_p.abstract_eval = _bitcast_abstract_eval
bitcast_convert_type_p.jvp = E._zero_jvp(bitcast_convert_type_p)
bitcast_convert_type_p.batch = _bitcast_batch
bitcast_convert_type_p.print_params = lambda p: {"new_dtype": np.dtype(p["new_dtype"]).name}


def bitcast_convert_type(x, new_dtype):
    """Reinterpret the bits of ``x`` as ``new_dtype`` (no numeric conversion).

    Between dtypes of one width the shape is kept. To a narrower dtype a last dimension is
    added (``uint32[n] -> uint8[n, 4]``); from a narrower dtype the last dimension, which
    must hold one wide value's worth of narrow values, is removed. Bytes are taken in the
    machine's (little-endian) order. The result has a zero derivative.

    Args:
        x: a numeric array.
        new_dtype: the dtype to reinterpret the bits as.

    Returns:
        An array of ``new_dtype`` holding the same bits.

    Raises:
        TypeError: a bool dtype, or a last dimension that does not fit the width ratio.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> lax.bitcast_convert_type(dnp.array([1.0, -2.0]), dnp.uint32)
        Array([1065353216, 3221225472], dtype=uint32)
        >>> lax.bitcast_convert_type(dnp.array([0x3F800000], dnp.uint32), dnp.float32)
        Array([1.], dtype=float32)
    """
    new_dtype = np.dtype(new_dtype)
    if aval_of(x).dtype == new_dtype:
        return x
    _bitcast_abstract_eval(aval_of(x), new_dtype=new_dtype)  # check before eager evaluation
    return bitcast_convert_type_p.bind(x, new_dtype=new_dtype)


# --------------------------------------------------------------------------- XLA's CPU kernels
# The log, log1p and erf_inv below evaluate the same operations, in the same order and with
# the same fused multiply-adds, as the machine code XLA's CPU back end emits. (In float64
# XLA calls the C library's log, as NumPy does.)


def _f32(bits):
    return np.array(bits, np.uint32).view(np.float32)


def _fma32(a, b, c):
    """``a * b + c`` rounded once to float32 (the float64 product of two float32 is exact)."""
    return (np.asarray(a, np.float64) * np.asarray(b, np.float64) + c).astype(np.float32)


_TINY32 = np.float32(np.finfo(np.float32).tiny)
_LOG_POLY = [_f32(b) for b in (0x3D9021BB, 0xBDEBD1B8, 0xBDFE5D4F, 0x3E11E9BF, 0x3E4CCEAC)]
_LOG_POLY += [_f32(b) for b in (0xBE7FFFFC, 0x3DEF251A, 0xBE2AAE50, 0x3EAAAAAA)]
_LOG_Q1, _LOG_Q2 = _f32(0xB95E8083), _f32(0x3F318000)  # ln 2 split in two parts
_SQRT_HALF = _f32(0x3F3504F3)


def xla_log_f32(x):
    """Natural log of a float32 array, bit-identical to XLA's CPU kernel.

    A Cephes-style reduction to a mantissa in [sqrt(1/2), sqrt(2)) and a degree-8
    polynomial evaluated in Estrin form.
    """
    x = np.asarray(x, np.float32)
    p0, p1, p3, p4, p6, p7, p2, p5, p8 = _LOG_POLY
    with np.errstate(all="ignore"):
        xc = np.where(x > _TINY32, x, _TINY32)
        bits = xc.view(np.uint32)
        e = ((bits >> np.uint32(23)).astype(np.int32) - 127).astype(np.float32) + np.float32(1)
        m = ((bits & np.uint32(0x807FFFFF)) | np.uint32(0x3F000000)).view(np.float32)
        small = m < _SQRT_HALF
        r = (m - np.float32(1)) + np.where(small, m, np.float32(0))
        e = e - np.where(small, np.float32(1), np.float32(0))
        r2 = r * r
        r3 = r2 * r
        y = _fma32(_fma32(r, p0, p1), r, p2)
        y1 = _fma32(_fma32(r, p3, p4), r, p5)
        y2 = _fma32(_fma32(r, p6, p7), r, p8)
        y = _fma32(_fma32(y, r3, y1), r3, y2)
        y = _fma32(y, r3, e * _LOG_Q1)
        out = _fma32(r2, np.float32(-0.5), r) + y
        out = _fma32(e, _LOG_Q2, out)
        out = np.where(x == np.float32(np.inf), np.float32(np.inf), out)
        out = np.where(x == 0, np.float32(-np.inf), out)
        return np.where((x > 0) | (x == 0), out, np.float32(np.nan)).astype(np.float32)


# Cephes' rational approximation of log1p on |x| < sqrt(2) - 1, as XLA evaluates it.
_LOG1P_DEN = (1.0, 1.5062909083469192043167e1, 8.3047565967967209469434e1)
_LOG1P_DEN += (2.2176239823732856465394e2, 3.0909872225312059774938e2)
_LOG1P_DEN += (2.1642788614495947685003e2, 6.0118660497603843919306e1)
_LOG1P_NUM = (4.5270000862445199635215e-5, 4.9854102823193375972212e-1)
_LOG1P_NUM += (6.5787325942061044846969e0, 2.9911919328553073277375e1)
_LOG1P_NUM += (6.0949667980987787057556e1, 5.7112963590585538103336e1)
_LOG1P_NUM += (2.0039553499201281259648e1,)


def _horner32(x, coeffs):
    acc = _fma32(x, np.float32(0), np.float32(coeffs[0]))
    for c in coeffs[1:]:
        acc = _fma32(acc, x, np.float32(c))
    return acc


def xla_log1p_f32(x):
    """``log(1 + x)`` of a float32 array, bit-identical to XLA's CPU kernel."""
    x = np.asarray(x, np.float32)
    out = np.empty_like(x)
    with np.errstate(all="ignore"):
        near = np.abs(x) < np.float32(0.41421356237309504880)
        far = ~near
        out[far] = xla_log_f32(x[far] + np.float32(1))
        xs = x[near]
        x2 = xs * xs
        ratio = _horner32(xs, _LOG1P_NUM) / _horner32(xs, _LOG1P_DEN)
        out[near] = xs + _fma32(x2, np.float32(-0.5), (xs * x2) * ratio)
    return out


_ERFINV_LT5 = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087)
_ERFINV_LT5 += (-0.00125372503, -0.00417768164, 0.246640727, 1.50140941)
_ERFINV_GE5 = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773)
_ERFINV_GE5 += (-0.0076224613, 0.00943887047, 1.00167406, 2.83297682)
# The coefficients as float32 values, held in float64 for the fused steps of _poly32.
_ERFINV_LT5_F32 = tuple(float(np.float32(c)) for c in _ERFINV_LT5)
_ERFINV_GE5_F32 = tuple(float(np.float32(c)) for c in _ERFINV_GE5)


def _poly32(w, coeffs):
    """Horner's rule in float32 with every step fused (one rounding per coefficient)."""
    w64 = w.astype(np.float64)
    p = np.full(w.shape, coeffs[0], np.float32)
    for c in coeffs[1:]:
        p64 = p.astype(np.float64)
        p64 *= w64
        p64 += c
        p = p64.astype(np.float32)
    return p


def _erf_inv_f32(x):
    x = np.asarray(x, np.float32)
    with np.errstate(all="ignore"):
        x = np.where(np.abs(x) < _TINY32, x * np.float32(0), x)  # flush denormals to zero
        t = xla_log1p_f32(x * -x)
        p = np.empty_like(x)
        central = t > np.float32(-5)
        tail = ~central
        p[central] = _poly32(np.float32(-2.5) - t[central], _ERFINV_LT5_F32)
        p[tail] = _poly32(np.sqrt(-t[tail]) - np.float32(3), _ERFINV_GE5_F32)
        p[np.abs(x) == np.float32(1)] = np.float32(np.inf)
        return (x * p).astype(np.float32)


# Giles' double-precision coefficients, for w = -log(1 - x^2) in [0, 6.25), [6.25, 16), 16+.
# fmt: off
_ERFINV64 = (
    (
        -3.6444120640178196996e-21, -1.685059138182016589e-19, 1.2858480715256400167e-18,
        1.115787767802518096e-17, -1.333171662854620906e-16, 2.0972767875968561637e-17,
        6.6376381343583238325e-15, -4.0545662729752068639e-14, -8.1519341976054721522e-14,
        2.6335093153082322977e-12, -1.2975133253453532498e-11, -5.4154120542946279317e-11,
        1.051212273321532285e-09, -4.1126339803469836976e-09, -2.9070369957882005086e-08,
        4.2347877827932403518e-07, -1.3654692000834678645e-06, -1.3882523362786468719e-05,
        0.0001867342080340571352, -0.00074070253416626697512, -0.0060336708714301490533,
        0.24015818242558961693, 1.6536545626831027356,
    ),
    (
        2.2137376921775787049e-09, 9.0756561938885390979e-08, -2.7517406297064545428e-07,
        1.8239629214389227755e-08, 1.5027403968909827627e-06, -4.013867526981545969e-06,
        2.9234449089955446044e-06, 1.2475304481671778723e-05, -4.7318229009055733981e-05,
        6.8284851459573175448e-05, 2.4031110387097893999e-05, -0.0003550375203628474796,
        0.00095328937973738049703, -0.0016882755560235047313, 0.0024914420961078508066,
        -0.0037512085075692412107, 0.005370914553590063617, 1.0052589676941592334,
        3.0838856104922207635,
    ),
    (
        -2.7109920616438573243e-11, -2.5556418169965252055e-10, 1.5076572693500548083e-09,
        -3.7894654401267369937e-09, 7.6157012080783393804e-09, -1.4960026627149240478e-08,
        2.9147953450901080826e-08, -6.7711997758452339498e-08, 2.2900482228026654717e-07,
        -9.9298272942317002539e-07, 4.5260625972231537039e-06, -1.9681778105531670567e-05,
        7.5995277030017761139e-05, -0.00021503011930044477347, -0.00013871931833623122026,
        1.0103004648645343977, 4.8499064014085844221,
    ),
)
# fmt: on


def _fma64(a, b, c):
    """``a * b + c`` rounded once in float64 (Boldo and Melquiond's emulation: an exact
    product, an exact sum, and a round-to-odd correction; no overflow or underflow)."""
    a, b, c = np.broadcast_arrays(*(np.asarray(v, np.float64) for v in (a, b, c)))
    with np.errstate(all="ignore"):
        uh, ul = _two_prod64(a, b)
        th, tl = _two_sum(c, uh)
        out = th + _round_odd_sum(tl, ul)
        return np.where(np.isfinite(out), out, a * b + c)


def _horner64(x, coeffs):
    acc = _fma64(x, 0.0, coeffs[0])
    for c in coeffs[1:]:
        acc = _fma64(acc, x, c)
    return acc


def _log1p_f64(x):
    """XLA's float64 log1p: the rational form near 0, ``log(1 + x)`` elsewhere."""
    x2 = x * x
    ratio = _horner64(x, _LOG1P_NUM) / _horner64(x, _LOG1P_DEN)
    small = x + _fma64(x2, -0.5, (x * x2) * ratio)
    return np.where(np.abs(x) < 0.41421356237309504880, small, np.log(x + 1.0))


def _erf_inv_f64(x):
    x = np.asarray(x, np.float64)
    with np.errstate(all="ignore"):
        t = _log1p_f64(x * -x)
        regions = (t > -6.25, (t <= -6.25) & (t > -16), ~(t > -16))
        shifts = (-3.125 - t, np.sqrt(-t) - 3.25, np.sqrt(-t) - 5.0)
        out = np.full_like(x, np.nan)
        for mask, w, coeffs in zip(regions, shifts, _ERFINV64, strict=True):
            w = w[mask]
            p = np.full_like(w, coeffs[0])
            for c in coeffs[1:]:
                p = _fma64(p, w, c)
            out[mask] = p
        out = np.where(np.abs(x) == 1, np.inf, out)
        return x * out


def _np_erf_inv(x):
    if x.dtype == np.float64:
        return _erf_inv_f64(x)
    if x.dtype == np.float32:
        return _erf_inv_f32(x)
    # float16 and bfloat16 are computed in float32 and rounded once, as XLA does.
    return _erf_inv_f32(x.astype(np.float32)).astype(x.dtype)


_SQRT_PI_2 = math.sqrt(math.pi) / 2

erf_inv_p, _erf_inv = E._unary(
    "erf_inv",
    _np_erf_inv,
    "float",
    lambda t, x, ans: E.mul(t, E.mul(E._const(ans, _SQRT_PI_2), E.exp(E.mul(ans, ans)))),
)


def erf_inv(x):
    """The inverse error function: ``erf(erf_inv(x)) == x`` for ``-1 < x < 1``.

    ``erf_inv(1) = inf``, ``erf_inv(-1) = -inf`` and ``|x| > 1`` gives NaN. In float32 the
    value is bit-identical to XLA's on the CPU (the polynomial of M. Giles); float16 and
    bfloat16 are computed in float32 and rounded. The derivative is
    ``sqrt(pi) / 2 * exp(erf_inv(x) ** 2)``.

    Args:
        x: a floating-point array.

    Returns:
        An array of ``x``'s shape and dtype.

    Raises:
        TypeError: ``x`` is not a floating-point array.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> lax.erf_inv(dnp.array([0.0, 0.5, -0.9, 1.0]))
        Array([ 0.        ,  0.47693628, -1.163087  ,         inf], dtype=float32)
    """
    a = aval_of(x)
    if a.dtype.kind == "c" or not is_float(a.dtype):
        raise TypeError(
            f"erf_inv needs a real floating-point operand, got {a.str_short()}. Convert "
            "it with x.astype(derivax.numpy.float32)."
        )
    return _erf_inv(x)


# --------------------------------------------------------------------------- nextafter


def _np_nextafter(x, y):
    if x.dtype in (np.float32, np.float64, np.float16):
        return np.nextafter(x, y)
    # bfloat16: step the bits of the float32 value toward y in bfloat16 units.
    return np.nextafter(x.astype(np.float32), y.astype(np.float32)).astype(x.dtype)


nextafter_p = E.elementwise("nextafter", _np_nextafter, "float", None, nargs=2)
nextafter_p.jvp = None
nextafter_p.no_rule_reasons["jvp"] = (
    "nextafter steps to the neighbouring floating-point number; it is piecewise constant "
    "in its second operand and not meant to be differentiated (wrap its operands in "
    "stop_gradient)."
)


def nextafter(x1, x2):
    """The floating-point number next to ``x1`` in the direction of ``x2``.

    Args:
        x1: a floating-point array.
        x2: an array of ``x1``'s dtype (and shape, or a scalar).

    Returns:
        An array of ``x1``'s shape and dtype; equal to ``x2`` where ``x1 == x2``.

    Raises:
        TypeError: the operands are not floats of one dtype.

    Example:
        >>> import numpy as np
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> float(lax.nextafter(dnp.float32(1.0), dnp.float32(2.0))) - 1.0 == 2.0 ** -23
        True
    """
    x1, x2 = _same_shape(x1, x2)
    nextafter_p.abstract_eval(aval_of(x1), aval_of(x2))
    return nextafter_p.bind(x1, x2)


# --------------------------------------------------------------------------- fma (private)
# XLA's CPU code fuses ``a * b + c`` in float32 and float64 into one rounding (float16 and
# bfloat16 are computed op by op in float32, so there the product is rounded first).
# random.uniform depends on it for its ``u * (maxval - minval) + minval``, so it binds this
# primitive to reproduce JAX's values.


def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _round_odd_sum(a, b):
    """``a + b`` rounded to odd: exact, or the neighbour with an odd last mantissa bit.

    Rounding to odd in a format with at least two more bits than the target makes a
    second rounding to nearest correct (Boldo and Melquiond).
    """
    s, e = _two_sum(a, b)
    bits = s.view(np.uint64)
    even = (bits & np.uint64(1)) == 0
    step = (e != 0) & even & np.isfinite(s)
    toward = np.where(e > 0, np.inf, -np.inf)
    return np.where(step, np.nextafter(s, toward), s)


def _two_prod64(a, b):
    p = a * b
    split = 134217729.0  # 2**27 + 1: Veltkamp's splitting into 26-bit halves
    ca, cb = split * a, split * b
    ah = ca - (ca - a)
    bh = cb - (cb - b)
    al, bl = a - ah, b - bh
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _np_fma(x, y, z):
    dt = x.dtype
    with np.errstate(all="ignore"):
        if dt == np.float64:
            return _fma64(x, y, z)
        if dt != np.float32:
            # XLA computes float16 and bfloat16 op by op in float32, rounding after each:
            # the product is rounded before the sum.
            return ((x * y).astype(dt) + z).astype(dt)
        prod = x.astype(np.float64) * y.astype(np.float64)  # exact for 24-bit mantissas
        return _round_odd_sum(prod, z.astype(np.float64)).astype(dt)


fma_p = E.elementwise(
    "fma",
    _np_fma,
    "float",
    [
        lambda t, x, y, z, ans: E.mul(t, y),
        lambda t, x, y, z, ans: E.mul(x, t),
        lambda t, x, y, z, ans: t,
    ],
    nargs=3,
)


def fma(x, y, z):
    """``x * y + z`` as XLA's CPU code computes it (operands of one shape and float dtype).

    One rounding in float32 and float64; float16 and bfloat16 round the product first.
    """
    return fma_p.bind(x, y, z)


# --------------------------------------------------------------------------- threefry2x32

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def threefry2x32_np(k1, k2, x1, x2):
    """The Threefry-2x32 block cipher with 20 rounds (Salmon et al., Random123), on NumPy.

    Args:
        k1, k2: the two key words, uint32 arrays broadcastable to the counters' shape.
        x1, x2: the two counter words, uint32 arrays of one shape.

    Returns:
        The two output words, uint32 arrays of the counters' shape.
    """
    u32 = np.uint32
    k1, k2, x1, x2 = np.broadcast_arrays(*(np.asarray(v, u32) for v in (k1, k2, x1, x2)))
    ks = (k1, k2, k1 ^ k2 ^ u32(0x1BD11BDA))
    with np.errstate(over="ignore"):
        a = np.add(x1, ks[0], out=np.empty(x1.shape, u32))
        b = np.add(x2, ks[1], out=np.empty(x1.shape, u32))
        tmp = np.empty_like(b)
        for i in range(5):
            for r in _ROTATIONS[i % 2]:
                np.add(a, b, out=a)
                np.left_shift(b, u32(r), out=tmp)  # b = rotate_left(b, r) ^ a
                np.right_shift(b, u32(32 - r), out=b)
                np.bitwise_or(b, tmp, out=b)
                np.bitwise_xor(b, a, out=b)
            np.add(a, ks[(i + 1) % 3], out=a)
            np.add(b, ks[(i + 2) % 3], out=b)
            np.add(b, u32(i + 1), out=b)
    return a, b


def _threefry_impl(k1, k2, x1, x2):
    a, b = threefry2x32_np(val(k1), val(k2), val(x1), val(x2))
    return [wrap(a), wrap(b)]


def _threefry_abstract_eval(*avals):
    shape = avals[0].shape
    for a in avals:
        if a.dtype != np.uint32 or a.shape != shape:
            raise TypeError(
                "threefry2x32 needs four uint32 operands of one shape (two key words, two "
                f"counter words), got {', '.join(x.str_short() for x in avals)}. The public "
                "derivax.lax.threefry2x32 broadcasts them for you."
            )
    out = ShapedArray(shape, np.uint32)
    return [out, out]


def _threefry_batch(vals, dims):
    size = next(aval_of(v).shape[d] for v, d in zip(vals, dims, strict=True) if d is not None)
    moved = [S.bdim_to_front(v, d, size) for v, d in zip(vals, dims, strict=True)]
    return threefry2x32_p.bind(*moved), [0, 0]


threefry2x32_p = Primitive("threefry2x32", multiple_results=True)
threefry2x32_p.impl = _threefry_impl
threefry2x32_p.abstract_eval = _threefry_abstract_eval
threefry2x32_p.batch = _threefry_batch
threefry2x32_p.no_rule_reasons["jvp"] = (
    "threefry2x32 hashes integer keys and counters into random bits; it has no derivative. "
    "Integer inputs always carry zero tangents, so differentiation normally never reaches "
    "it: differentiate with respect to the parameters that scale the random numbers."
)


def threefry2x32(k1, k2, x1, x2):
    """The Threefry-2x32 hash (20 rounds) that derivax.random is built on.

    Args:
        k1, k2: the key words, uint32 arrays (usually scalars).
        x1, x2: the counter words, uint32 arrays.

    All four are broadcast together (NumPy rules).

    Returns:
        A pair of uint32 arrays of the broadcast shape.

    Raises:
        TypeError: an operand is not uint32.

    Example:
        >>> import numpy as np
        >>> from derivax import lax
        >>> u32 = np.uint32
        >>> hi, lo = lax.threefry2x32(u32(0), u32(0), u32(0), u32(0))
        >>> hex(int(hi)), hex(int(lo))
        ('0x6b200159', '0x99ba4efe')
    """
    ops = []
    for name, v in zip(("k1", "k2", "x1", "x2"), (k1, k2, x1, x2), strict=True):
        if isinstance(v, np.ndarray | np.generic):
            v = wrap(np.asarray(v))
        a = aval_of(v)
        if a.dtype != np.uint32:
            raise TypeError(
                f"threefry2x32: `{name}` must be uint32, got {a.str_short()}. Convert it with "
                "derivax.lax.convert_element_type(x, derivax.numpy.uint32)."
            )
        ops.append(v)
    shape = np.broadcast_shapes(*(aval_of(v).shape for v in ops))
    ops = [
        S.broadcast_in_dim(v, shape, tuple(range(len(shape) - aval_of(v).ndim, len(shape))))
        for v in ops
    ]
    a, b = threefry2x32_p.bind(*ops)
    return a, b
