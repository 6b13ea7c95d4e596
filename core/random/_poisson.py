"""Poisson variates: Knuth's multiplication method for small rates, Hormann's transformed
rejection (PTRS) for rates of 10 and more, as in JAX, TensorFlow and NumPy.

Both methods loop until every value is drawn, so sampling is a primitive,
``random_poisson``, whose implementation runs the loops in NumPy. Like JAX, each method
draws whole arrays per round (one fresh key per round) and both run on the same key; the
result picks Knuth's value where the rate is below 10.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _dtypes
from .._core import Primitive, ShapedArray, get_aval
from ..lax import _elementwise as E
from ..lax import _structural as S
from ..lax._util import val, wrap
from . import _continuous as C
from . import _keys as K
from . import _np_kernels as NK


def _lgamma_scalar(v):
    if math.isnan(v) or (v <= 0 and v == math.floor(v)):
        return math.inf  # the poles (XLA gives +inf there too)
    return math.lgamma(v)


_lgamma = np.frompyfunc(_lgamma_scalar, 1, 1)


def _knuth(key, lam):
    k = np.zeros(lam.shape, np.int64)
    log_prod = np.zeros(lam.shape, np.float32)
    with np.errstate(all="ignore"):
        while (log_prod > -lam).any():
            pair = NK.split(key, 2)
            key, sub = pair[0], pair[1]
            k = np.where(log_prod > -lam, k + 1, k)
            log_prod = log_prod + NK.log(NK.uniform(sub, lam.shape, np.float32))
    return k - 1


def _rejection(key, lam):
    f32 = np.float32
    with np.errstate(all="ignore"):
        log_lam = NK.log(lam)
        b = f32(0.931) + f32(2.53) * np.sqrt(lam)
        a = f32(-0.059) + f32(0.02483) * b
        inv_alpha = f32(1.1239) + f32(1.1328) / (b - f32(3.4))
        v_r = f32(0.9277) - f32(3.6224) / (b - f32(2))
        k_out = np.full(lam.shape, -1, np.float32)
        accepted = np.zeros(lam.shape, bool)
        while not accepted.all():
            three = NK.split(key, 3)
            key = three[0]
            u = NK.uniform(three[1], lam.shape, np.float32) - f32(0.5)
            v = NK.uniform(three[2], lam.shape, np.float32)
            us = f32(0.5) - np.abs(u)
            k = np.floor((f32(2) * a / us + b) * u + lam + f32(0.43)).astype(np.float32)
            s = NK.log(v * inv_alpha / (a / (us * us) + b))
            lg = _lgamma((k + f32(1)).astype(np.float64)).astype(np.float32)  # close to XLA's
            t = -lam + k * log_lam - lg
            accept1 = (us >= f32(0.07)) & (v <= v_r)
            reject = (k < 0) | ((us < f32(0.013)) & (v > us))
            accept = accept1 | (~reject & (s <= t))
            k_out = np.where(accept, k, k_out)
            accepted |= accept
    return k_out


def _poisson_one(key, lam, dtype):
    use_knuth = np.isnan(lam) | (lam < 10)
    knuth = _knuth(key, np.where(use_knuth, lam, np.float32(0)))
    reject = _rejection(key, np.where(use_knuth, np.float32(1e5), lam))
    with np.errstate(all="ignore"):
        out = np.where(use_knuth, knuth.astype(dtype), reject.astype(dtype))
    return np.where(lam == 0, 0, out).astype(dtype)


def _poisson_impl(keys, lam, *, dtype):
    kv, lv = val(keys), val(lam)
    lead = kv.shape[:-1]
    rest = lv.shape[len(lead) :]
    flat_keys = kv.reshape(-1, 2)
    flat_lam = lv.reshape((-1, *rest))
    out = np.empty(flat_lam.shape, dtype)
    for i in range(flat_keys.shape[0]):  # every key runs its own loops, as under jax.vmap
        out[i] = _poisson_one(flat_keys[i], flat_lam[i], dtype)
    return wrap(out.reshape(lv.shape))


def _poisson_abstract_eval(keys, lam, *, dtype):
    lead = keys.shape[:-1]
    if keys.dtype != np.uint32 or not keys.shape or keys.shape[-1] != 2:
        raise TypeError(f"random_poisson needs uint32 key data (..., 2), got {keys.str_short()}.")
    if lam.dtype != np.float32 or lam.shape[: len(lead)] != lead:
        raise TypeError(
            f"random_poisson: `lam` must be float32 with a shape that starts with the key "
            f"batch shape {lead}; got {lam.str_short()}."
        )
    return ShapedArray(lam.shape, dtype)


def _poisson_batch(vals, dims, *, dtype):
    size = next(get_aval(v).shape[d] for v, d in zip(vals, dims, strict=True) if d is not None)
    keys = S.bdim_to_front(vals[0], dims[0], size)
    lam = S.bdim_to_front(vals[1], dims[1], size)
    return random_poisson_p.bind(keys, lam, dtype=dtype), 0


random_poisson_p = Primitive("random_poisson")
random_poisson_p.impl = _poisson_impl
random_poisson_p.abstract_eval = _poisson_abstract_eval
random_poisson_p.batch = _poisson_batch
random_poisson_p.jvp = E._zero_jvp(random_poisson_p)
random_poisson_p.print_params = lambda p: {"dtype": np.dtype(p["dtype"]).name}


def poisson(key, lam, shape=None, dtype=None):
    """Poisson random counts with rate (mean) ``lam``.

    Args:
        key: a single PRNG key.
        lam: the rate, ``>= 0`` (a float or array; computed in float32).
        shape: the result's shape; default ``lam``'s shape.
        dtype: an integer dtype; default int32.

    Returns:
        An integer array of ``shape`` and ``dtype``.

    Raises:
        TypeError: a non-integer ``dtype``.
        ValueError: ``lam`` does not broadcast to ``shape``.

    Example:
        >>> from derivax import random
        >>> x = random.poisson(random.key(0), 4.0, (10000,))
        >>> round(float(x.mean()), 1)
        4.0
    """
    data, _ = K.check_key("poisson", key)
    dtype = _dtypes.default_int_dtype() if dtype is None else _dtypes.canonicalize_dtype(dtype)
    if not _dtypes.is_int(dtype):
        raise TypeError(f"poisson: `dtype` must be an integer dtype, got {dtype.name}.")
    lam = C.param(lam)
    if shape is None:
        shape = get_aval(lam).shape
    else:
        shape = K.canonical_shape("poisson", shape)
        C.check_shape("poisson", shape, lam=lam)
    lam = C.to_shape(E.convert_element_type(lam, np.float32), tuple(shape))
    return random_poisson_p.bind(data, lam, dtype=np.dtype(dtype))
