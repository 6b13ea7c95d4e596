"""PRNG keys: creating, splitting and folding them, and drawing raw random bits.

A key is two uint32 words. Every random number is a threefry2x32 hash of a key and a
counter, so the same key always gives the same numbers, and a computation that needs more
randomness *splits* the key into new independent keys instead of mutating a state.

The scheme is JAX's default one (``threefry2x32`` with ``jax_threefry_partitionable``, the
default since JAX 0.5):

* ``key(seed)``: the words are the high and low 32 bits of the seed (a 32-bit seed has a
  zero high word);
* ``split(key, shape)``: key number ``i`` (row-major in ``shape``) is
  ``threefry2x32(key, (i >> 32, i & 0xFFFFFFFF))``;
* ``fold_in(key, d)``: ``threefry2x32(key, (0, d))``;
* ``bits(key, shape)``: element ``i`` is the xor of the two words of
  ``threefry2x32(key, (i >> 32, i & 0xFFFFFFFF))`` (for 64-bit values: high word, low word).
"""

from __future__ import annotations

import math

import numpy as np

from .. import _dtypes
from .. import numpy as dnp
from .. import tree as tree_util
from .._array import Array
from .._config import config
from .._core import Tracer, get_aval
from ..lax import _bits
from ..lax import _elementwise as E
from ..lax import _structural as S

IMPL_NAME = "threefry2x32"
_U32 = np.dtype(np.uint32)


# --------------------------------------------------------------------------- key arrays


class _KeyDtype:
    """The dtype of typed key arrays: ``key<fry>`` (threefry2x32 keys)."""

    name = "key<fry>"
    impl = IMPL_NAME

    def __repr__(self):
        return self.name

    __str__ = __repr__


KEY_DTYPE = _KeyDtype()


class KeyArray:
    """An array of PRNG keys: what `key` and `split` return.

    Each key is two uint32 words, stored in an array of shape ``(*shape, 2)`` (see
    `key_data`). A key array behaves like an array of that ``shape``: it can be indexed,
    iterated, reshaped, compared with ``==``, and passed through `derivax.jit`,
    `derivax.vmap` and `derivax.grad` (it is a pytree whose only leaf is the key data, so
    ``vmap`` maps over its leading axes). Arithmetic on keys is not defined.

    Create keys with `key` (or `PRNGKey` for a raw ``uint32[2]`` key) rather than with this
    class.

    Example:
        >>> from derivax import random
        >>> k = random.key(0)
        >>> k
        KeyArray((), dtype=key<fry>) overlaying:
        [0 0]
        >>> keys = random.split(k, 3)
        >>> keys.shape, keys[1].shape
        ((3,), ())
    """

    __slots__ = ("_data",)
    __array_priority__ = 200

    def __init__(self, data):
        # No validation: tree unflattening builds key arrays from arbitrary leaves.
        self._data = data

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._data.shape[:-1])

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def dtype(self):
        return KEY_DTYPE

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a single key (a key array of shape ()) is undefined.")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a single key (a key array of shape ())")
        return (self[i] for i in range(self.shape[0]))

    def __getitem__(self, idx):
        idx = idx if isinstance(idx, tuple) else (idx,)
        return KeyArray(self._data[(*idx, slice(None))])

    def reshape(self, *shape):
        """The same keys in a new shape (row-major), like ``Array.reshape``.

        Example:
            >>> from derivax import random
            >>> random.split(random.key(0), 6).reshape(2, 3).shape
            (2, 3)
        """
        if len(shape) == 1 and isinstance(shape[0], tuple | list):
            shape = tuple(shape[0])
        shape = tuple(int(s) for s in shape)
        if -1 in shape:
            known = math.prod(s for s in shape if s != -1)
            shape = tuple(self.size // max(known, 1) if s == -1 else s for s in shape)
        return KeyArray(dnp.reshape(self._data, (*shape, 2)))

    def ravel(self):
        """The keys as a 1-D key array.

        Example:
            >>> from derivax import random
            >>> random.split(random.key(0), (2, 2)).ravel().shape
            (4,)
        """
        return self.reshape(self.size)

    def __eq__(self, other):
        if not isinstance(other, KeyArray):
            return NotImplemented
        return dnp.all(self._data == other._data, axis=-1)

    def __ne__(self, other):
        if not isinstance(other, KeyArray):
            return NotImplemented
        return dnp.any(self._data != other._data, axis=-1)

    __hash__ = None

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "A key array cannot be converted to a NumPy array. Take its uint32 words with "
            "derivax.random.key_data(key) (and rebuild it with wrap_key_data)."
        )

    def __repr__(self):
        data = self._data
        if isinstance(data, Tracer):
            return f"KeyArray({self.shape}, dtype=key<fry>) overlaying: {data!r}"
        try:
            body = np.array2string(np.asarray(data))
        except Exception:  # unflattened from a non-array leaf
            body = repr(data)
        return f"KeyArray({self.shape}, dtype=key<fry>) overlaying:\n{body}"


tree_util.register_pytree_node(
    KeyArray, lambda k: ((k._data,), None), lambda _, children: KeyArray(children[0])
)


def _describe(x) -> str:
    if type(x) in (bool, int, float, complex):
        return f"the Python {type(x).__name__} {x!r}"
    if isinstance(x, KeyArray):
        return f"a key array of shape {x.shape}"
    try:
        return f"an array {get_aval(x).str_short()}"
    except TypeError:
        return f"a {type(x).__name__}"


def check_key(fname: str, key, *, allow_batched: bool = False):
    """Return ``(data, typed)``: the key's uint32 words ``(..., 2)`` and whether it was typed."""
    if isinstance(key, KeyArray):
        data, typed = key._data, True
    elif isinstance(key, Array | Tracer | np.ndarray):
        aval = get_aval(key)
        if aval.dtype != _U32 or aval.ndim == 0 or aval.shape[-1] != 2:
            raise TypeError(
                f"{fname}: `key` must be a PRNG key from derivax.random.key(seed) (or a raw "
                f"PRNGKey(seed): a uint32 array of shape (2,)), got {_describe(key)}."
            )
        data = dnp.asarray(key) if isinstance(key, np.ndarray) else key
        typed = False
    else:
        raise TypeError(
            f"{fname}: `key` must be a PRNG key from derivax.random.key(seed) (or a raw "
            f"PRNGKey(seed)), got {_describe(key)}."
        )
    if not allow_batched and get_aval(data).ndim != 1:
        shape = get_aval(data).shape[:-1]
        raise ValueError(
            f"{fname} takes a single key, but got a key array of shape {shape}. To use "
            f"every key, map over them: derivax.vmap(lambda k: random.{fname}(k, ...))(keys); "
            "or pick one with keys[i]."
        )
    return data, typed


def rewrap(typed: bool, data):
    return KeyArray(data) if typed else data


def _check_impl(fname, impl):
    if impl is None or impl == IMPL_NAME or impl is KEY_DTYPE:
        return
    raise NotImplementedError(
        f"{fname}: impl={impl!r} is not available; derivax implements the default "
        f"'{IMPL_NAME}' generator only (pass impl=None)."
    )


# --------------------------------------------------------------------------- seeds


def _seed_data(fname, seed):
    """The two key words of an integer seed, as a uint32[2] array."""
    if isinstance(seed, KeyArray):
        raise TypeError(f"{fname} takes an integer seed, but was given a PRNG key.")
    if type(seed) is bool or isinstance(seed, np.bool_):
        raise TypeError(f"{fname} takes an integer seed, got the bool {seed!r}.")
    if isinstance(seed, int):
        if not -(2**63) <= seed < 2**63:
            raise OverflowError(
                f"{fname}: seed {seed} does not fit in 64 bits; seeds are 64-bit integers "
                "(reduce it, e.g. seed % 2**63)."
            )
        if not config.enable_x64:
            seed = ((seed + 2**31) % 2**32) - 2**31  # an int32 seed, as with x64 off
            hi, lo = 0, seed % 2**32
        else:
            hi, lo = (seed % 2**64) >> 32, seed % 2**32
        return dnp.asarray(np.array([hi, lo], np.uint32))
    seed = dnp.asarray(seed)
    aval = get_aval(seed)
    if aval.ndim:
        raise TypeError(
            f"{fname} takes a scalar seed, but was given an array of shape {aval.shape}. "
            f"Make several keys with derivax.vmap({fname})(seeds), or split one key."
        )
    if not _dtypes.is_int(aval.dtype):
        raise TypeError(
            f"{fname} takes an integer seed, got {aval.str_short()}. Convert it with "
            "seed.astype(derivax.numpy.int32)."
        )
    lo = E.convert_element_type(seed, _U32)
    if aval.dtype.itemsize == 8:
        hi = E.convert_element_type(_bits.shift_right_logical(seed, 32), _U32)
    else:
        hi = S.full((), 0, _U32)
    return S.concatenate([S.reshape(hi, (1,)), S.reshape(lo, (1,))], 0)


def key(seed, *, impl=None) -> KeyArray:
    """A PRNG key (a typed key array of shape ``()``) made from an integer seed.

    The key is JAX's ``jax.random.key(seed)``: every derivax.random function gives the
    numbers JAX gives for it. A seed is a 64-bit integer; with
    ``derivax.config.enable_x64`` off it is first reduced to 32 bits (as in JAX), so
    ``key(2**32 + 5)`` equals ``key(5)``.

    Args:
        seed: a Python int or a scalar integer array (it may be traced, e.g. under
            ``jit`` or ``vmap``).
        impl: ``None`` or ``"threefry2x32"`` (the only generator implemented).

    Returns:
        A `KeyArray` of shape ``()``.

    Raises:
        TypeError: the seed is not an integer scalar.
        OverflowError: a Python int seed does not fit in 64 bits.

    Example:
        >>> from derivax import random
        >>> random.key_data(random.key(42))
        Array([ 0, 42], dtype=uint32)
    """
    _check_impl("key", impl)
    return KeyArray(_seed_data("key", seed))


def PRNGKey(seed, *, impl=None):  # noqa: N802 - mirrors jax.random.PRNGKey
    """A raw PRNG key: the two uint32 words of `key` as a ``uint32[2]`` array.

    Raw keys are what older JAX code uses; every function accepts them as well as typed
    keys, and returns raw keys for raw keys (`split`, `fold_in`).

    Args:
        seed: a Python int or a scalar integer array (see `key`).
        impl: ``None`` or ``"threefry2x32"``.

    Returns:
        A uint32 array of shape ``(2,)``.

    Raises:
        TypeError: the seed is not an integer scalar.
        OverflowError: a Python int seed does not fit in 64 bits.

    Example:
        >>> from derivax import random
        >>> random.PRNGKey(0)
        Array([0, 0], dtype=uint32)
        >>> random.PRNGKey(-1)
        Array([         0, 4294967295], dtype=uint32)
    """
    _check_impl("PRNGKey", impl)
    return _seed_data("PRNGKey", seed)


def key_data(keys):
    """The uint32 words behind a key array: shape ``(*keys.shape, 2)``.

    Args:
        keys: a `KeyArray` of any shape, or a raw key array (returned as it is).

    Returns:
        A uint32 array.

    Raises:
        TypeError: ``keys`` is not a key array.

    Example:
        >>> from derivax import random
        >>> random.key_data(random.split(random.key(0), 2))
        Array([[1797259609, 2579123966],
               [ 928981903, 3453687069]], dtype=uint32)
    """
    data, _ = check_key("key_data", keys, allow_batched=True)
    return data


def wrap_key_data(key_bits_array, *, impl=None) -> KeyArray:
    """A typed key array from uint32 key words (the inverse of `key_data`).

    Args:
        key_bits_array: a uint32 array of shape ``(*shape, 2)``.
        impl: ``None`` or ``"threefry2x32"``.

    Returns:
        A `KeyArray` of shape ``shape``.

    Raises:
        TypeError: the array is not uint32 or its last dimension is not 2.

    Example:
        >>> import numpy as np
        >>> from derivax import random
        >>> k = random.wrap_key_data(np.array([0, 42], np.uint32))
        >>> bool(k == random.key(42))
        True
    """
    _check_impl("wrap_key_data", impl)
    if isinstance(key_bits_array, KeyArray):
        raise TypeError("wrap_key_data: the array is already a key array (use it as it is).")
    x = key_bits_array
    if not isinstance(x, Array | Tracer):
        x = dnp.asarray(x)
    aval = get_aval(x)
    if aval.dtype != _U32 or aval.ndim == 0 or aval.shape[-1] != 2:
        raise TypeError(
            "wrap_key_data needs the uint32 key words, an array of shape (..., 2) for "
            f"threefry2x32 keys; got {aval.str_short()}."
        )
    return KeyArray(x)


def key_impl(keys) -> str:
    """The name of the generator behind a key: always ``"threefry2x32"``.

    Example:
        >>> from derivax import random
        >>> random.key_impl(random.key(0))
        'threefry2x32'
    """
    check_key("key_impl", keys, allow_batched=True)
    return IMPL_NAME


# --------------------------------------------------------------------------- shapes


def canonical_shape(fname, shape, argname="shape") -> tuple[int, ...]:
    """A tuple of non-negative Python ints from an int or a sequence of ints."""
    if isinstance(shape, int | np.integer):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        raise TypeError(
            f"{fname}: `{argname}` must be a tuple of ints, got {type(shape).__name__}."
        ) from None
    out = []
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, int | np.integer | Array | Tracer):
            raise TypeError(f"{fname}: `{argname}` must be a tuple of ints, got {shape!r}.")
        d = int(d)
        if d < 0:
            raise ValueError(f"{fname}: `{argname}` {dims} has a negative dimension.")
        out.append(d)
    return tuple(out)


# --------------------------------------------------------------------------- counters and bits


def _words(data):
    """The two uint32 words of a single key's data (shape ``(2,)``) as scalars."""
    k1 = S.reshape(S.slice(data, (0,), (1,)), ())
    k2 = S.reshape(S.slice(data, (1,), (2,)), ())
    return k1, k2


def _iota_2x32(shape):
    """The flat index of every element of ``shape`` as (high word, low word) uint32 arrays."""
    size = math.prod(shape)
    if size >= 2**32:
        raise ValueError(
            f"derivax.random draws at most 2**32 - 1 values per call; shape {shape} has "
            f"{size}. Split the key and draw in several calls."
        )
    hi = S.full(shape, 0, _U32)
    lo = S.reshape(S.iota(_U32, (size,), 0), shape) if shape else S.full((), 0, _U32)
    return hi, lo


def hash_counters(data, shape):
    """``threefry2x32(key, counter)`` for the counters ``0 .. prod(shape) - 1``."""
    k1, k2 = _words(data)
    hi, lo = _iota_2x32(shape)
    k1 = S.broadcast_in_dim(k1, shape, ())
    k2 = S.broadcast_in_dim(k2, shape, ())
    a, b = _bits.threefry2x32_p.bind(k1, k2, hi, lo)
    return a, b


def _stack_words(a, b):
    shape = get_aval(a).shape
    nd = len(shape)
    a = S.reshape(a, (*shape, 1))
    b = S.reshape(b, (*shape, 1))
    return S.concatenate([a, b], nd)


def split_data(data, shape):
    """Key data of ``split(key, shape)`` for the data of a single key."""
    return _stack_words(*hash_counters(data, shape))


def random_bits(data, bit_width, shape):
    """Uniform random bits of width 8/16/32/64 from a single key's data."""
    a, b = hash_counters(data, shape)
    if bit_width == 64:
        u64 = np.dtype(np.uint64)
        hi = E.convert_element_type(a, u64)
        lo = E.convert_element_type(b, u64)
        return E.bitwise_or(_bits.shift_left(hi, 32), lo)
    bits = E.bitwise_xor(a, b)
    if bit_width == 32:
        return bits
    return E.convert_element_type(bits, np.dtype(f"uint{bit_width}"))


def split(key, num=2):
    """Split a key into new keys (``num`` of them, or an array of shape ``num``).

    Split keys are statistically independent of each other and of the parent; use each
    key once. Typed keys give typed keys, raw keys give raw ``uint32`` key arrays.

    Args:
        key: a single PRNG key (from `key`, `PRNGKey`, `split` or `fold_in`).
        num: an int or a tuple of ints: the number (or shape) of keys to make. Default 2.

    Returns:
        A key array of shape ``(num,)`` (or ``num``): a `KeyArray` for a typed key, else a
        uint32 array of shape ``(*shape, 2)``.

    Raises:
        TypeError: ``key`` is not a key, or ``num`` is not an int or tuple of ints.
        ValueError: ``key`` is a batch of keys, or ``num`` is negative.

    Example:
        >>> from derivax import random
        >>> key, subkey = random.split(random.PRNGKey(0))
        >>> subkey
        Array([ 928981903, 3453687069], dtype=uint32)
    """
    data, typed = check_key("split", key)
    shape = canonical_shape("split", num, "num")
    return rewrap(typed, split_data(data, shape))


def _fold_in_word(data):
    """``data`` as a uint32 scalar (Python ints must lie in [0, 2**32))."""
    if type(data) is bool or isinstance(data, np.bool_):
        raise TypeError(f"fold_in: `data` must be an integer, got the bool {data!r}.")
    if isinstance(data, int):
        if not 0 <= data < 2**32:
            raise OverflowError(
                f"fold_in: data={data} is out of range for uint32 [0, 2**32). Fold in "
                "data % 2**32, or an int32 array (whose 32 bits are used)."
            )
        return S.full((), data, _U32)
    x = data if isinstance(data, Array | Tracer) else dnp.asarray(data)
    aval = get_aval(x)
    if aval.ndim:
        raise TypeError(
            f"fold_in takes a scalar `data`, got shape {aval.shape}. Fold in many values "
            "with derivax.vmap(fold_in, in_axes=(None, 0))(key, data)."
        )
    if not _dtypes.is_int(aval.dtype):
        raise TypeError(f"fold_in: `data` must be an integer, got {aval.str_short()}.")
    return E.convert_element_type(x, _U32)


def fold_in(key, data):
    """A new key that is a deterministic function of ``key`` and the integer ``data``.

    Use it to derive a key per step, per layer or per example (``fold_in(key, step)``)
    without splitting.

    Args:
        key: a single PRNG key.
        data: a 32-bit unsigned integer: a Python int in ``[0, 2**32)`` or an integer
            scalar array (its low 32 bits are used; it may be traced).

    Returns:
        A key of the same kind as ``key`` (typed or raw).

    Raises:
        TypeError: ``key`` is not a single key, or ``data`` is not an integer scalar.
        OverflowError: a Python int ``data`` is outside ``[0, 2**32)``.

    Example:
        >>> from derivax import random
        >>> random.fold_in(random.PRNGKey(0), 1)
        Array([ 928981903, 3453687069], dtype=uint32)
    """
    kdata, typed = check_key("fold_in", key)
    word = _fold_in_word(data)
    k1, k2 = _words(kdata)
    zero = S.full(get_aval(word).shape, 0, _U32)
    a, b = _bits.threefry2x32_p.bind(k1, k2, zero, word)
    return rewrap(typed, _stack_words(a, b))


def bits(key, shape=(), dtype=None):
    """Uniform random unsigned integers: every bit is a fair coin.

    Args:
        key: a single PRNG key.
        shape: the result's shape (int or tuple of ints). Default ``()``.
        dtype: an unsigned integer dtype: uint8, uint16, uint32 (the default) or uint64
            (the default with x64 on; needs ``derivax.config.enable_x64``).

    Returns:
        An array of ``shape`` and ``dtype``.

    Raises:
        TypeError: bad key or shape.
        ValueError: ``dtype`` is not an unsigned integer dtype.

    Example:
        >>> from derivax import random
        >>> random.bits(random.PRNGKey(0), (3,))
        Array([4070199207, 4202968722, 1427181096], dtype=uint32)
    """
    data, _ = check_key("bits", key)
    if dtype is None:
        dtype = np.dtype(np.uint64) if config.enable_x64 else _U32
    dtype = _dtypes.canonicalize_dtype(dtype)
    if dtype.kind != "u":
        raise ValueError(
            f"bits: `dtype` must be an unsigned integer dtype (uint8, uint16, uint32, uint64), "
            f"got {dtype.name}. For signed integers in a range use random.randint."
        )
    shape = canonical_shape("bits", shape)
    return random_bits(data, dtype.itemsize * 8, shape)
