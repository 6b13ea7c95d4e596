"""NumPy versions of the basic samplers, for the implementations of the loop primitives.

``gamma`` and ``poisson`` draw until every value is accepted: a data-dependent number of
rounds. Their primitives run that loop in NumPy, with these functions, which compute the
same bits and floats as ``_keys``/``_continuous`` (a test checks that they agree). Every
function takes a batch of keys, an array of shape ``(..., 2)``, and works lane by lane.
"""

from __future__ import annotations

import numpy as np

from ..lax import _bits

U32 = np.uint32


def split(keys, num):
    """``split(key, num)`` for every key: shape ``(..., num, 2)``."""
    keys = np.asarray(keys, U32)
    ctr = np.arange(num, dtype=U32)
    a, b = _bits.threefry2x32_np(keys[..., 0, None], keys[..., 1, None], np.zeros_like(ctr), ctr)
    return np.stack([a, b], axis=-1)


def _hash(keys, shape):
    size = int(np.prod(shape, dtype=np.int64))
    ctr = np.arange(size, dtype=U32).reshape(shape)
    lead = keys.shape[:-1]
    k1 = keys[..., 0].reshape(lead + (1,) * len(shape))
    k2 = keys[..., 1].reshape(lead + (1,) * len(shape))
    return _bits.threefry2x32_np(k1, k2, np.zeros_like(ctr), ctr)


def bits(keys, shape, width=32):
    """Random bits of ``width`` 32 or 64 for every key: shape ``(..., *shape)``."""
    a, b = _hash(np.asarray(keys, U32), tuple(shape))
    if width == 64:
        return (a.astype(np.uint64) << np.uint64(32)) | b.astype(np.uint64)
    return a ^ b


def uniform(keys, shape, dtype):
    """Uniform floats in [0, 1) (float32 or float64) for every key."""
    dtype = np.dtype(dtype)
    if dtype == np.float64:
        raw = bits(keys, shape, 64) >> np.uint64(12)
        return (raw | np.uint64(0x3FF0000000000000)).view(np.float64) - 1.0
    raw = bits(keys, shape, 32) >> U32(9)
    return (raw | U32(0x3F800000)).view(np.float32) - np.float32(1)


def normal(keys, shape, dtype):
    """Standard normal values for every key (float32 or float64)."""
    dtype = np.dtype(dtype)
    f = uniform(keys, shape, dtype)
    lo = np.nextafter(dtype.type(-1), dtype.type(0))
    # u = max(lo, f * (1 - lo) + lo); 1 - lo rounds to 2, and f * 2 is exact.
    u = np.maximum(lo, f * dtype.type(2) + lo)
    return dtype.type(np.sqrt(2.0)) * _bits._np_erf_inv(u)


def fma(a, b, c):
    """``a * b + c`` with XLA's rounding (one rounding in float32 and float64)."""
    dtype = np.result_type(a)
    a, b, c = np.broadcast_arrays(*(np.asarray(v, dtype) for v in (a, b, c)))
    return _bits._np_fma(a, b, c)


def log(x):
    """XLA's natural logarithm (float32 kernel; float64 is the C library's)."""
    if x.dtype == np.float32:
        return _bits.xla_log_f32(x)
    with np.errstate(all="ignore"):
        return np.log(x)


def log1p(x):
    """XLA's ``log(1 + x)``."""
    if x.dtype == np.float32:
        return _bits.xla_log1p_f32(x)
    with np.errstate(all="ignore"):
        return _bits._log1p_f64(x)
