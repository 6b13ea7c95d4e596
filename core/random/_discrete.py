"""Discrete distributions: bernoulli, rademacher, randint, permutation, choice, categorical.

Shuffling follows JAX: sort the elements by fresh random 32-bit keys, repeating the sort
with new keys as often as needed to make ties between keys negligible. The sort is a
private stable argsort primitive (``stable_argsort``), kept here until ``derivax.lax`` has a
general sort.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _dtypes
from .. import numpy as dnp
from .._array import Array
from .._core import Primitive, ShapedArray, Tracer, concrete_or_error, get_aval
from ..lax import _elementwise as E
from ..lax import _structural as S
from ..lax._util import val, wrap
from . import _continuous as C
from . import _keys as K

# --------------------------------------------------------------------------- stable argsort


def _argsort_order_keys(v, descending):
    if not descending:
        return v
    if v.dtype.kind in "iu":
        return np.invert(v)  # reverses the order of every integer type
    return -v.astype(np.float64) if v.dtype.kind == "f" else -v


def _argsort_impl(x, *, dimension, descending):
    v = _argsort_order_keys(val(x), descending)
    return wrap(np.argsort(v, axis=dimension, kind="stable").astype(np.int32))


def _argsort_abstract_eval(x, *, dimension, descending):
    if x.dtype == np.bool_ or x.dtype.kind == "c":
        raise TypeError(f"stable_argsort needs real numbers, got {x.str_short()}.")
    if not 0 <= dimension < x.ndim:
        raise ValueError(f"stable_argsort: dimension {dimension} is out of range for {x.shape}.")
    return ShapedArray(x.shape, np.int32)


def _argsort_batch(vals, dims, *, dimension, descending):
    (x,), (d,) = vals, dims
    x = S.moveaxis(x, d, 0)
    return stable_argsort_p.bind(x, dimension=dimension + 1, descending=descending), 0


stable_argsort_p = Primitive("stable_argsort")
stable_argsort_p.impl = _argsort_impl
stable_argsort_p.abstract_eval = _argsort_abstract_eval
stable_argsort_p.jvp = E._zero_jvp(stable_argsort_p)
stable_argsort_p.batch = _argsort_batch


def stable_argsort(x, axis=-1, descending=False):
    """Indices that sort ``x`` along ``axis``; equal values keep their order (int32)."""
    nd = get_aval(x).ndim
    return stable_argsort_p.bind(x, dimension=axis % nd, descending=bool(descending))


def _top_k_indices(x, k):
    """Indices of the ``k`` largest values along the last axis, largest first."""
    order = stable_argsort(x, -1, descending=True)
    n = get_aval(x).shape[-1]
    return S.slice_in_dim(order, 0, k, 1, get_aval(x).ndim - 1) if k != n else order


def _cumsum(x):
    """Running sums of a 1-D array, added left to right (the order XLA uses on the CPU)."""
    n = get_aval(x).shape[0]
    parts = [S.slice_in_dim(x, 0, 1)]
    for i in range(1, n):
        parts.append(E.add(parts[-1], S.slice_in_dim(x, i, i + 1)))
    return S.concatenate(parts, 0)


# --------------------------------------------------------------------------- bernoulli


def _probability(fname, p):
    p = C.param(p)
    if not _dtypes.is_float(get_aval(p).dtype):
        raise TypeError(
            f"{fname}: the probability `p` must have a floating dtype, got "
            f"{get_aval(p).str_short()}. Pass a float such as 0.5 or p.astype(float)."
        )
    return p


def bernoulli_data(data, p, shape, mode="low"):
    dtype = get_aval(p).dtype
    p = C.to_shape(p, shape)
    if mode == "high":
        both = C.uniform_data(data, (2, *shape), dtype, 0.0, 1.0)
        u1 = S.reshape(S.slice_in_dim(both, 0, 1, 1, 0), shape)
        u2 = S.reshape(S.slice_in_dim(both, 1, 2, 1, 0), shape)
        u2 = E.mul(u2, S.full(shape, 2.0 ** -_dtypes.finfo(dtype).nmant, dtype))
        return E.lt(u2, E.sub(p, u1))
    return E.lt(C.uniform_data(data, shape, dtype, 0.0, 1.0), p)


def bernoulli(key, p=0.5, shape=None, mode="low"):
    """Random booleans that are True with probability ``p``.

    Args:
        key: a single PRNG key.
        p: the probability of True, a float or float array. Default 0.5.
        shape: the result's shape; default ``p``'s shape. ``p`` must broadcast to it.
        mode: ``"low"`` (default: ``uniform < p``, exact down to p of about 1e-7 in
            float32) or ``"high"`` (two uniforms per value, for smaller ``p``).

    Returns:
        A bool array of ``shape``.

    Raises:
        TypeError: ``p`` is not a float.
        ValueError: a bad ``mode``, or ``p`` does not broadcast to ``shape``.

    Example:
        >>> from derivax import random
        >>> random.bernoulli(random.PRNGKey(0), 0.5, (4,))
        Array([False, False,  True,  True], dtype=bool)
    """
    if mode not in ("low", "high"):
        raise ValueError(f"bernoulli: mode must be 'low' or 'high', got {mode!r}.")
    data, _ = K.check_key("bernoulli", key)
    p = _probability("bernoulli", p)
    if shape is None:
        shape = get_aval(p).shape
    else:
        shape = K.canonical_shape("bernoulli", shape)
        C.check_shape("bernoulli", shape, p=p)
    return bernoulli_data(data, p, tuple(shape), mode)


def _int_dtype(fname, dtype, *, allow_float=False):
    dt = _dtypes.default_int_dtype() if dtype is None else _dtypes.canonicalize_dtype(dtype)
    if not (_dtypes.is_int(dt) or (allow_float and _dtypes.is_float(dt))):
        raise TypeError(f"{fname}: `dtype` must be an integer dtype, got {dt.name}.")
    return dt


def rademacher(key, shape=(), dtype=None):
    """Random signs: -1 or +1 with equal probability.

    Args:
        key: a single PRNG key.
        shape: the result's shape. Default ``()``.
        dtype: the result's dtype; default int32 (a float dtype works too).

    Returns:
        An array of ``shape`` and ``dtype`` with values in {-1, 1}.

    Example:
        >>> from derivax import random
        >>> random.rademacher(random.PRNGKey(0), (4,))
        Array([-1, -1,  1,  1], dtype=int32)
    """
    data, _ = K.check_key("rademacher", key)
    shape = K.canonical_shape("rademacher", shape)
    dtype = _int_dtype("rademacher", dtype, allow_float=True)
    half = dnp.asarray(0.5, _dtypes.default_float_dtype())
    b = E.convert_element_type(bernoulli_data(data, half, shape), dtype)
    return E.sub(E.mul(S.full(shape, 2, dtype), b), S.full(shape, 1, dtype))


# --------------------------------------------------------------------------- randint


def _clip_to(x, dtype):
    """Integers ``x`` clipped to the range both ``x``'s dtype and ``dtype`` can hold."""
    src = get_aval(x).dtype
    lo = max(int(np.iinfo(dtype).min), int(np.iinfo(src).min))
    hi = min(int(np.iinfo(dtype).max), int(np.iinfo(src).max))
    shape = get_aval(x).shape
    x = E.max(x, S.full(shape, lo, src))
    x = E.min(x, S.full(shape, hi, src))
    return E.convert_element_type(x, dtype)


def _integer_bound(x):
    x = C.param(x)
    dt = get_aval(x).dtype
    if _dtypes.is_float(dt) or dt == np.bool_:
        x = E.convert_element_type(x, _dtypes.default_int_dtype())
    elif not _dtypes.is_int(dt):
        raise TypeError(f"randint: bounds must be integers, got {get_aval(x).str_short()}.")
    return x


def _randint_data(data, shape, minval, maxval, dtype):
    info = np.iinfo(dtype)
    nbits = info.bits
    top = _clip_to(S.full((), int(info.max), dtype), get_aval(maxval).dtype)
    maxval_too_big = E.gt(maxval, S.broadcast_in_dim(top, get_aval(maxval).shape, ()))
    minval = C.to_shape(_clip_to(minval, dtype), shape)
    maxval = C.to_shape(_clip_to(maxval, dtype), shape)
    maxval_too_big = C.to_shape(maxval_too_big, shape)
    keys = K.split_data(data, (2,))
    k1 = S.reshape(S.slice_in_dim(keys, 0, 1, 1, 0), (2,))
    k2 = S.reshape(S.slice_in_dim(keys, 1, 2, 1, 0), (2,))
    higher = K.random_bits(k1, nbits, shape)
    lower = K.random_bits(k2, nbits, shape)
    udt = np.dtype(f"uint{nbits}")
    full = lambda v: S.full(shape, v, udt)  # noqa: E731
    span = E.convert_element_type(E.sub(maxval, minval), udt)
    # maxval <= minval gives minval; a maxval beyond the dtype's range widens the span by 1
    # (wrapping to 0 for the full range, which makes the remainders below no-ops).
    span = E.select(E.le(maxval, minval), full(1), span)
    span = E.select(E.bitwise_and(maxval_too_big, E.gt(maxval, minval)), E.add(span, full(1)), span)
    # (hi * 2**nbits + lo) % span, with 2**nbits % span computed without overflow.
    multiplier = E.rem(full(2 ** (nbits // 2)), span)
    multiplier = E.rem(E.mul(multiplier, multiplier), span)
    offset = E.add(E.mul(E.rem(higher, span), multiplier), E.rem(lower, span))
    offset = E.rem(offset, span)
    return E.add(minval, E.convert_element_type(offset, dtype))


def randint(key, shape, minval, maxval, dtype=None):
    """Uniform random integers in ``[minval, maxval)``.

    Two random words per value are reduced modulo the range, so the bias toward small
    offsets is about ``range / 2**32`` (zero for power-of-two ranges), as in JAX. 8- and
    16-bit results are sampled in 32 bits. ``maxval <= minval`` gives ``minval``.

    Args:
        key: a single PRNG key.
        shape: the result's shape.
        minval: the inclusive lower bound (int or integer array broadcasting to
            ``shape``); values outside the dtype's range are clipped to it.
        maxval: the exclusive upper bound, likewise (``maxval = 256`` with uint8 allows
            255).
        dtype: an integer dtype; default int32.

    Returns:
        An integer array of ``shape`` and ``dtype``.

    Raises:
        TypeError: a non-integer ``dtype``.
        ValueError: bounds that do not broadcast to ``shape``.

    Example:
        >>> from derivax import random
        >>> random.randint(random.PRNGKey(0), (5,), 0, 10)
        Array([9, 0, 2, 3, 1], dtype=int32)
    """
    data, _ = K.check_key("randint", key)
    shape = K.canonical_shape("randint", shape)
    dtype = _int_dtype("randint", dtype)
    minval, maxval = _integer_bound(minval), _integer_bound(maxval)
    C.check_shape("randint", shape, minval=minval, maxval=maxval)
    return randint_data(data, shape, minval, maxval, dtype)


def randint_data(data, shape, minval, maxval, dtype):
    info = np.iinfo(dtype)
    sample_dtype = dtype
    if info.bits < 32:
        # Sample in 32 bits: narrower words would make the modulo bias large.
        sample_dtype = np.dtype(np.int32)
        minval = _clamp32(minval, int(info.min), int(info.max))
        maxval = _clamp32(maxval, int(info.min), int(info.max) + 1)
    out = _randint_data(data, shape, minval, maxval, sample_dtype)
    return E.convert_element_type(out, dtype)


def _clamp32(x, lo, hi):
    x = E.convert_element_type(x, np.int32)
    shape = get_aval(x).shape
    return E.min(E.max(x, S.full(shape, lo, np.int32)), S.full(shape, hi, np.int32))


# --------------------------------------------------------------------------- permutation


def _shuffle(data, x, axis):
    """Shuffle ``x`` along ``axis`` by sorting with random keys (JAX's algorithm)."""
    size = get_aval(x).size
    rounds = int(np.ceil(3 * np.log(max(1, size)) / np.log(np.iinfo(np.uint32).max)))
    for _ in range(rounds):
        keys = K.split_data(data, (2,))
        data = S.reshape(S.slice_in_dim(keys, 0, 1, 1, 0), (2,))
        subkey = S.reshape(S.slice_in_dim(keys, 1, 2, 1, 0), (2,))
        sort_keys = K.random_bits(subkey, 32, get_aval(x).shape)
        order = stable_argsort(sort_keys, axis)
        x = dnp.take_along_axis(x, order, axis)
    return x


def _static_int(fname, x, what):
    if isinstance(x, Tracer):
        return int(concrete_or_error(x, f"{what} of derivax.random.{fname}"))
    return int(x)


def permutation(key, x, axis=0, independent=False):
    """A random permutation of ``arange(x)`` (for an int) or of ``x`` along ``axis``.

    Args:
        key: a single PRNG key.
        x: an int ``n`` (shuffle ``arange(n)``; it must be concrete) or an array.
        axis: the axis to shuffle along. Default 0.
        independent: for arrays of rank 2 or more, shuffle every slice along ``axis``
            independently (True) or move whole slices with one permutation (False,
            default).

    Returns:
        The shuffled array (int32 ``arange`` for an int).

    Raises:
        TypeError: ``x`` is a non-integer scalar.
        ValueError: ``axis`` is out of range.

    Example:
        >>> from derivax import random
        >>> random.permutation(random.PRNGKey(0), 5)
        Array([0, 1, 4, 3, 2], dtype=int32)
    """
    data, _ = K.check_key("permutation", key)
    if np.ndim(x) == 0 if not isinstance(x, Array | Tracer) else get_aval(x).ndim == 0:
        dt = np.dtype(np.int32) if type(x) is int else get_aval(C.param(x)).dtype
        if not _dtypes.is_int(dt):
            raise TypeError(
                f"permutation: x must be an integer (to shuffle arange(x)) or an array of "
                f"rank >= 1, got a scalar of dtype {dt.name}."
            )
        n = _static_int("permutation", x, "the size `x`")
        if n < 0:
            raise ValueError(f"permutation: x={n} must be non-negative.")
        return _shuffle(data, S.iota(_dtypes.default_int_dtype(), (n,), 0), 0)
    x = C.param(x)
    nd = get_aval(x).ndim
    if not -nd <= axis < nd:
        raise ValueError(f"permutation: axis={axis} is out of range for an array of rank {nd}.")
    return _permute(data, x, axis % nd, independent)


def _permute(data, x, axis, independent=False):
    if independent or get_aval(x).ndim == 1:
        return _shuffle(data, x, axis)
    ind = _shuffle(data, S.iota(_dtypes.default_int_dtype(), (get_aval(x).shape[axis],), 0), 0)
    return dnp.take(x, ind, axis)


# --------------------------------------------------------------------------- choice


def choice(key, a, shape=(), replace=True, p=None, axis=0, mode=None):
    """Random samples from ``a`` (an array, or ``arange(a)`` for an int).

    Args:
        key: a single PRNG key.
        a: an int ``n`` (concrete) or an array whose slices along ``axis`` are sampled.
        shape: the shape of the draws (a tuple). Default ``()``: one draw.
        replace: sample with replacement (default) or without.
        p: optional probabilities of the ``n`` candidates (a 1-D array); default
            uniform.
        axis: the axis of ``a`` to sample along. Default 0.
        mode: the Gumbel sampler's mode for ``p`` without replacement (``"low"`` or
            ``"high"``, see `gumbel`).

    Returns:
        The samples: shape ``shape`` for an int ``a``, else ``a.shape`` with ``axis``
        replaced by ``shape``.

    Raises:
        ValueError: more draws than candidates without replacement, a ``p`` of the wrong
            shape, or an empty population.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import random
        >>> random.choice(random.PRNGKey(0), 10, (3,), replace=False)
        Array([0, 1, 8], dtype=int32)
    """
    data, _ = K.check_key("choice", key)
    if not isinstance(shape, tuple | list):
        raise TypeError(f"choice: `shape` must be a tuple of ints, got {shape!r}.")
    shape = K.canonical_shape("choice", shape)
    scalar = isinstance(a, int | np.integer) or get_aval(C.param(a)).ndim == 0
    if scalar:
        n = _static_int("choice", a, "the population size `a`")
        arr = None
    else:
        arr = C.param(a)
        nd = get_aval(arr).ndim
        if not -nd <= axis < nd:
            raise ValueError(f"choice: axis={axis} is out of range for an array of rank {nd}.")
        axis %= nd
        n = get_aval(arr).shape[axis]
    draws = math.prod(shape)
    int_dt = _dtypes.default_int_dtype()
    if arr is None:
        out_shape = shape
    else:
        ashape = get_aval(arr).shape
        out_shape = ashape[:axis] + shape + ashape[axis + 1 :]
    if draws == 0:
        return dnp.zeros(out_shape, int_dt if arr is None else get_aval(arr).dtype)
    if n <= 0:
        raise ValueError("choice: the population `a` is empty, so no samples can be drawn.")
    if not replace and draws > n:
        raise ValueError(
            f"choice: cannot take {draws} samples without replacement from a population of "
            f"{n}. Use replace=True or draw fewer samples."
        )
    if p is None:
        if replace:
            zero, top = S.full((), 0, int_dt), S.full((), n, int_dt)
            ind = randint_data(data, shape, zero, top, int_dt)
            result = ind if arr is None else dnp.take(arr, ind, axis)
        else:
            if arr is None:
                result = S.slice_in_dim(_shuffle(data, S.iota(int_dt, (n,), 0), 0), 0, draws)
            else:
                result = S.slice_in_dim(_permute(data, arr, axis), 0, draws, 1, axis)
    else:
        p = C.param(p)
        if not _dtypes.is_inexact(get_aval(p).dtype):
            p = E.convert_element_type(p, _dtypes.default_float_dtype())
        if get_aval(p).shape != (n,):
            raise ValueError(
                "choice: p must be None or a 1-D array with one probability per candidate: "
                f"p has shape {get_aval(p).shape} and a.shape[axis] is {n}."
            )
        pdt = get_aval(p).dtype
        if replace:
            cum = _cumsum(p)
            total = S.reshape(S.slice_in_dim(cum, n - 1, n), ())
            u = C.uniform_data(data, shape, pdt, 0.0, 1.0)
            r = E.mul(S.full(shape, 1, pdt) - u, S.broadcast_in_dim(total, shape, ()))
            below = E.lt(
                S.broadcast_in_dim(cum, (*shape, n), (len(shape),)),
                S.broadcast_in_dim(r, (*shape, n), tuple(range(len(shape)))),
            )
            ind = dnp.sum(below, axis=-1, dtype=int_dt)
        else:
            g = C.gumbel_data(data, (n,), pdt, C.check_gumbel_mode("choice", mode))
            ind = _top_k_indices(E.add(g, E.log(p)), draws)
        result = ind if arr is None else dnp.take(arr, ind, axis)
    return dnp.reshape(result, out_shape)


# --------------------------------------------------------------------------- categorical


def categorical(key, logits, axis=-1, shape=None, replace=True, mode=None):
    """Random category indices drawn from unnormalised log-probabilities.

    With replacement, the Gumbel-max trick: ``argmax(logits + gumbel)``. Without, the
    Gumbel-top-k trick: the ``k`` largest of ``logits + gumbel``, where ``k`` is the number
    of draws per distribution.

    Args:
        key: a single PRNG key.
        logits: unnormalised log-probabilities; ``softmax(logits, axis)`` are the
            probabilities.
        axis: the axis of the categories. Default -1.
        shape: the result's shape: leading sample dimensions followed by ``logits``'s
            shape without ``axis`` (its default).
        replace: sample with replacement (default) or without.
        mode: the Gumbel sampler's mode, ``"low"`` (default) or ``"high"``.

    Returns:
        An int32 array of ``shape``.

    Raises:
        ValueError: ``shape`` does not end with the batch shape of ``logits``, or more
            draws than categories without replacement.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import random
        >>> logits = dnp.log(dnp.array([0.1, 0.2, 0.7]))
        >>> random.categorical(random.PRNGKey(0), logits, shape=(6,))
        Array([1, 2, 2, 1, 2, 2], dtype=int32)
    """
    data, _ = K.check_key("categorical", key)
    logits = C.param(logits)
    if not _dtypes.is_float(get_aval(logits).dtype):
        logits = E.convert_element_type(logits, _dtypes.default_float_dtype())
    lshape = get_aval(logits).shape
    nd = len(lshape)
    if not -nd <= axis < nd:
        raise ValueError(f"categorical: axis={axis} is out of range for logits of rank {nd}.")
    batch_shape = tuple(s for i, s in enumerate(lshape) if i != axis % nd)
    if shape is None:
        shape = batch_shape
    else:
        shape = K.canonical_shape("categorical", shape)
        if shape[len(shape) - len(batch_shape) :] != batch_shape:
            raise ValueError(
                f"categorical: shape {shape} must end with the batch shape {batch_shape} of "
                f"logits {lshape} (the logits' shape without axis {axis})."
            )
    mode = C.check_gumbel_mode("categorical", mode)
    prefix = shape[: len(shape) - len(batch_shape)]
    dtype = get_aval(logits).dtype
    if replace:
        neg_axis = axis - nd if axis >= 0 else axis
        gshape = list(shape[len(shape) - len(batch_shape) :])
        gshape.insert(neg_axis % nd, lshape[neg_axis])
        gshape = (*prefix, *gshape)
        g = C.gumbel_data(data, gshape, dtype, mode)
        full = S.broadcast_in_dim(logits, gshape, tuple(range(len(prefix), len(gshape))))
        return dnp.argmax(E.add(g, full), axis=neg_axis).astype(_dtypes.default_int_dtype())
    k = math.prod(prefix)
    if k > lshape[axis]:
        raise ValueError(
            f"categorical: cannot draw {k} samples without replacement from "
            f"{lshape[axis]} categories."
        )
    noisy = E.add(logits, C.gumbel_data(data, lshape, dtype, mode))
    ind = _top_k_indices(dnp.moveaxis(noisy, axis, -1), k)
    ind = dnp.moveaxis(ind, -1, 0)
    return dnp.reshape(ind, shape).astype(_dtypes.default_int_dtype())
