"""Continuous distributions built on uniform bits: uniform, normal and their relatives.

Each sampler turns random bits into floats exactly as JAX does, so the same key gives the
same numbers. ``uniform`` sets the exponent of a float to that of 1.0 and fills its
mantissa with random bits, which gives a uniform value in [1, 2); subtracting 1 and scaling
(with one rounding, ``u * (maxval - minval) + minval``) gives [minval, maxval). ``normal``
maps a uniform value in (-1, 1) through ``sqrt(2) * erf_inv``.
"""

from __future__ import annotations

import numpy as np

from .. import _dtypes
from .. import numpy as dnp
from .._array import Array
from .._core import Tracer, get_aval
from ..lax import _bits
from ..lax import _elementwise as E
from ..lax import _structural as S
from . import _keys as K

# --------------------------------------------------------------------------- helpers


def float_dtype(fname, dtype, *, complex_ok=False):
    """The float dtype to sample: the default float dtype when ``dtype`` is None."""
    dt = _dtypes.default_float_dtype() if dtype is None else _dtypes.canonicalize_dtype(dtype)
    ok = _dtypes.is_float(dt) or (complex_ok and _dtypes.is_complex(dt))
    if not ok:
        kinds = "float or complex" if complex_ok else "float"
        raise ValueError(
            f"{fname}: `dtype` must be a {kinds} dtype (float32, float16, bfloat16, or "
            f"float64 with x64 on), got {dt.name}."
        )
    return dt


def param(x, dtype=None):
    """A distribution parameter as an array (converted to ``dtype`` if given)."""
    if isinstance(x, K.KeyArray):
        raise TypeError("a PRNG key was passed where a numeric parameter was expected.")
    if dtype is not None and type(x) in (int, float):
        return dnp.asarray(x, dtype)  # Python scalars are weak: convert them directly
    if not isinstance(x, Array | Tracer):
        x = dnp.asarray(x)
    if dtype is not None and get_aval(x).dtype != dtype:
        x = E.convert_element_type(x, dtype)
    return x


def check_shape(fname, shape, **params):
    """Parameter shapes (arrays or shape tuples) must broadcast to exactly ``shape``."""
    for name, p in params.items():
        pshape = tuple(p) if isinstance(p, tuple) else tuple(get_aval(p).shape)
        try:
            out = np.broadcast_shapes(shape, pshape)
        except ValueError:
            out = None
        if out != tuple(shape):
            raise ValueError(
                f"{fname}: `{name}` of shape {pshape} does not broadcast to the requested "
                f"shape {tuple(shape)}. Pass a shape that the parameters broadcast to, or "
                "shape=None to use the parameters' broadcast shape."
            )


def broadcast_shape(*params):
    return tuple(np.broadcast_shapes(*(tuple(get_aval(p).shape) for p in params)))


def to_shape(x, shape):
    a = get_aval(x)
    if a.shape == tuple(shape):
        return x
    nd = len(shape)
    return S.broadcast_in_dim(x, tuple(shape), tuple(range(nd - a.ndim, nd)))


def _full(shape, value, dtype):
    return S.full(shape, value, dtype)


# --------------------------------------------------------------------------- uniform


def uniform_data(data, shape, dtype, minval, maxval):
    """``uniform`` for a single key's data; ``minval``/``maxval`` are arrays or scalars."""
    info = _dtypes.finfo(dtype)
    nbits, nmant = info.bits, info.nmant
    rng_bits = nbits if nmant >= 8 else 8
    bits = K.random_bits(data, rng_bits, shape)
    uint = np.dtype(f"uint{nbits}")
    if rng_bits != nbits:
        bits = E.convert_element_type(bits, uint)
    one_bits = int(np.array(1.0, dtype).view(uint))
    mantissa = _bits.shift_right_logical(bits, rng_bits - nmant)
    fbits = E.bitwise_or(mantissa, _full(shape, one_bits, uint))
    floats = E.sub(_bits.bitcast_convert_type(fbits, dtype), _full(shape, 1, dtype))
    lo = to_shape(param(minval, dtype), shape)
    hi = to_shape(param(maxval, dtype), shape)
    return E.max(lo, _bits.fma(floats, E.sub(hi, lo), lo))


def uniform(key, shape=(), dtype=None, minval=0.0, maxval=1.0):
    """Uniform random floats in ``[minval, maxval)``.

    Args:
        key: a single PRNG key.
        shape: the result's shape (int or tuple of ints). Default ``()``.
        dtype: a float dtype; default float32 (the default float dtype).
        minval: the inclusive lower bound, a scalar or an array that broadcasts to
            ``shape``. Default 0.
        maxval: the exclusive upper bound, likewise. Default 1.

    Returns:
        An array of ``shape`` and ``dtype``; differentiable in ``minval`` and ``maxval``.

    Raises:
        TypeError: bad key or shape.
        ValueError: a non-float ``dtype``, or bounds that do not broadcast to ``shape``.

    Example:
        >>> from derivax import random
        >>> random.uniform(random.PRNGKey(0), (3,))
        Array([0.947667  , 0.9785799 , 0.33229148], dtype=float32)
    """
    data, _ = K.check_key("uniform", key)
    shape = K.canonical_shape("uniform", shape)
    dtype = float_dtype("uniform", dtype)
    minval, maxval = param(minval, dtype), param(maxval, dtype)
    check_shape("uniform", shape, minval=minval, maxval=maxval)
    return uniform_data(data, shape, dtype, minval, maxval)


# --------------------------------------------------------------------------- normal


def _normal_real(data, shape, dtype):
    info = _dtypes.finfo(dtype)
    lo = -1.0 + float(info.epsneg)  # the float next to -1 toward 0
    u = uniform_data(data, shape, dtype, lo, 1.0)
    return E.mul(_full(shape, np.sqrt(2.0), dtype), _bits.erf_inv(u))


def normal_data(data, shape, dtype):
    if _dtypes.is_complex(dtype):
        real = np.dtype(np.float32) if dtype == np.complex64 else np.dtype(np.float64)
        keys = K.split_data(data, (2,))
        re = _normal_real(keys[0], shape, real)
        im = _normal_real(keys[1], shape, real)
        z = E.convert_element_type(re, dtype) + 1j * E.convert_element_type(im, dtype)
        return E.div(z, _full(shape, np.sqrt(2.0), dtype))
    return _normal_real(data, shape, dtype)


def normal(key, shape=(), dtype=None):
    """Standard normal random values (mean 0, variance 1).

    Complex dtypes give values whose real and imaginary parts are independent normals of
    variance 1/2.

    Args:
        key: a single PRNG key.
        shape: the result's shape. Default ``()``.
        dtype: a float or complex dtype; default float32.

    Returns:
        An array of ``shape`` and ``dtype``.

    Raises:
        TypeError: bad key or shape.
        ValueError: a dtype that is neither float nor complex.

    Example:
        >>> from derivax import random
        >>> random.normal(random.PRNGKey(0), (3,))
        Array([ 1.6226422 ,  2.0252647 , -0.43359444], dtype=float32)
    """
    data, _ = K.check_key("normal", key)
    shape = K.canonical_shape("normal", shape)
    dtype = float_dtype("normal", dtype, complex_ok=True)
    return normal_data(data, shape, dtype)


def truncated_normal(key, lower, upper, shape=None, dtype=None):
    """Standard normal values conditioned to lie in the open interval ``(lower, upper)``.

    Sampled by the inverse CDF: a uniform value between ``erf(lower / sqrt 2)`` and
    ``erf(upper / sqrt 2)`` goes through ``sqrt(2) * erf_inv``, and the result is clipped
    into the open interval.

    Args:
        key: a single PRNG key.
        lower: the lower bound (scalar or array).
        upper: the upper bound (scalar or array).
        shape: the result's shape; default: the broadcast shape of the bounds.
        dtype: a float dtype; default float32.

    Returns:
        An array of ``shape`` and ``dtype``.

    Raises:
        ValueError: bounds that do not broadcast to ``shape``, or a non-float ``dtype``.

    Example:
        >>> from derivax import random
        >>> x = random.truncated_normal(random.key(0), -1.0, 1.0, (1000,))
        >>> bool((x > -1).all() and (x < 1).all())
        True
    """
    data, _ = K.check_key("truncated_normal", key)
    dtype = float_dtype("truncated_normal", dtype)
    lower, upper = param(lower, dtype), param(upper, dtype)
    if shape is None:
        shape = broadcast_shape(lower, upper)
    else:
        shape = K.canonical_shape("truncated_normal", shape)
        check_shape("truncated_normal", shape, lower=lower, upper=upper)
    sqrt2 = np.sqrt(2.0)
    lo = E.erf(E.div(lower, _full(get_aval(lower).shape, sqrt2, dtype)))
    hi = E.erf(E.div(upper, _full(get_aval(upper).shape, sqrt2, dtype)))
    u = uniform_data(data, shape, dtype, lo, hi)
    out = E.mul(_full(shape, sqrt2, dtype), _bits.erf_inv(u))
    low = _bits.nextafter(E.stop_gradient(lower), _full(get_aval(lower).shape, np.inf, dtype))
    high = _bits.nextafter(E.stop_gradient(upper), _full(get_aval(upper).shape, -np.inf, dtype))
    return dnp.clip(out, to_shape(low, shape), to_shape(high, shape))


# --------------------------------------------------------------------------- from uniforms


def exponential(key, shape=(), dtype=None):
    """Exponential random values with rate 1 (density ``exp(-x)`` on ``x >= 0``).

    Computed as ``-log1p(-u)`` for a uniform ``u`` in [0, 1).

    Args:
        key: a single PRNG key.
        shape: the result's shape. Default ``()``.
        dtype: a float dtype; default float32.

    Returns:
        An array of ``shape`` and ``dtype``.

    Example:
        >>> from derivax import random
        >>> x = random.exponential(random.key(0), (10000,))
        >>> round(float(x.mean()), 1)
        1.0
    """
    data, _ = K.check_key("exponential", key)
    shape = K.canonical_shape("exponential", shape)
    dtype = float_dtype("exponential", dtype)
    return exponential_data(data, shape, dtype)


def exponential_data(data, shape, dtype):
    u = uniform_data(data, shape, dtype, 0.0, 1.0)
    return E.neg(E.log1p(E.neg(u)))


def laplace(key, shape=(), dtype=None):
    """Laplace random values: density ``exp(-|x|) / 2``.

    Args:
        key: a single PRNG key.
        shape: the result's shape. Default ``()``.
        dtype: a float dtype; default float32.

    Returns:
        An array of ``shape`` and ``dtype``.

    Example:
        >>> from derivax import random
        >>> x = random.laplace(random.key(0), (10000,))
        >>> round(float(abs(x).mean()), 1)
        1.0
    """
    data, _ = K.check_key("laplace", key)
    shape = K.canonical_shape("laplace", shape)
    dtype = float_dtype("laplace", dtype)
    lo = -1.0 + float(_dtypes.finfo(dtype).epsneg)
    u = uniform_data(data, shape, dtype, lo, 1.0)
    return E.mul(E.sign(u), E.log1p(E.neg(E.abs(u))))


def logistic(key, shape=(), dtype=None):
    """Logistic random values: density ``exp(-x) / (1 + exp(-x))**2``.

    Args:
        key: a single PRNG key.
        shape: the result's shape. Default ``()``.
        dtype: a float dtype; default float32.

    Returns:
        An array of ``shape`` and ``dtype``.

    Example:
        >>> from derivax import random
        >>> x = random.logistic(random.key(0), (10000,))
        >>> abs(float(x.mean())) < 0.1
        True
    """
    data, _ = K.check_key("logistic", key)
    shape = K.canonical_shape("logistic", shape)
    dtype = float_dtype("logistic", dtype)
    x = uniform_data(data, shape, dtype, float(_dtypes.finfo(dtype).tiny), 1.0)
    return E.sub(E.log(x), E.log1p(E.neg(x)))


def gumbel_data(data, shape, dtype, mode):
    info = _dtypes.finfo(dtype)
    if mode == "high":
        both = uniform_data(data, (2, *shape), dtype, 0.0, 1.0)
        high = S.reshape(S.slice_in_dim(both, 0, 1, 1, 0), shape)
        low = S.reshape(S.slice_in_dim(both, 1, 2, 1, 0), shape)
        scaled = E.mul(_full(shape, 2.0**-info.nmant, dtype), low)
        small = E.add(E.add(high, scaled), _full(shape, float(info.tiny), dtype))
        x = E.select(E.ge(high, _full(shape, 0.5, dtype)), high, small)
        return E.neg(E.log(E.neg(E.log1p(E.neg(x)))))
    u = uniform_data(data, shape, dtype, float(info.tiny), 1.0)
    return E.neg(E.log(E.neg(E.log(u))))


def check_gumbel_mode(fname, mode):
    mode = "low" if mode is None else mode
    if mode not in ("low", "high"):
        raise ValueError(
            f"{fname}: mode must be 'low', 'high' or None, got {mode!r}. 'high' uses twice "
            "the random bits to reach further into the tail."
        )
    return mode


def gumbel(key, shape=(), dtype=None, mode=None):
    """Standard Gumbel random values: density ``exp(-(x + exp(-x)))``.

    Args:
        key: a single PRNG key.
        shape: the result's shape. Default ``()``.
        dtype: a float dtype; default float32.
        mode: ``"low"`` (default, one uniform per value: the largest value is about 16 in
            float32) or ``"high"`` (two uniforms per value, reaching about 32).

    Returns:
        An array of ``shape`` and ``dtype``.

    Raises:
        ValueError: an unknown ``mode`` or a non-float ``dtype``.

    Example:
        >>> from derivax import random
        >>> x = random.gumbel(random.key(0), (10000,))
        >>> round(float(x.mean()), 1)  # the Euler-Mascheroni constant
        0.6
    """
    data, _ = K.check_key("gumbel", key)
    shape = K.canonical_shape("gumbel", shape)
    dtype = float_dtype("gumbel", dtype)
    return gumbel_data(data, shape, dtype, check_gumbel_mode("gumbel", mode))
