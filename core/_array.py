"""``derivax.Array``: an immutable array backed by a NumPy buffer on the CPU.

Operators and most methods (``x + y``, ``x.sum()``, ``x.reshape``, ``x.at[i].set(v)``) are
attached by ``derivax.numpy`` when it is imported, so that arrays and tracers share one
definition of every method.
"""

from __future__ import annotations

import numpy as np

from . import _dtypes
from ._core import ShapedArray, Tracer, _immutable_message


class Array:
    """An immutable n-dimensional array.

    Create arrays with ``derivax.numpy.asarray`` / ``array`` / ``zeros`` and friends rather
    than with this class directly. Arrays convert to NumPy with ``np.asarray(x)`` (a
    read-only view, no copy).

    Example:
        >>> import derivax.numpy as dnp
        >>> x = dnp.arange(6.0).reshape(2, 3)
        >>> x
        Array([[0., 1., 2.],
               [3., 4., 5.]], dtype=float32)
        >>> x.at[0, 1].set(10.0)[0]
        Array([ 0., 10.,  2.], dtype=float32)
    """

    __slots__ = ("_value", "weak_type")
    __array_priority__ = 100

    def __init__(self, value, weak_type=False):
        value = np.asarray(value)
        dtype = _dtypes.canonicalize_dtype(value.dtype, explicit=False)
        if value.dtype != dtype:
            value = value.astype(dtype)
        self._value = value
        self.weak_type = bool(weak_type)

    # -- metadata
    @property
    def aval(self) -> ShapedArray:
        v = self._value
        return ShapedArray(v.shape, v.dtype, self.weak_type)

    shape = property(lambda self: self._value.shape)
    dtype = property(lambda self: self._value.dtype)
    ndim = property(lambda self: self._value.ndim)
    size = property(lambda self: self._value.size)
    nbytes = property(lambda self: self._value.nbytes)
    itemsize = property(lambda self: self._value.itemsize)

    @property
    def device(self) -> Device:
        """The device holding the array: always ``CPU_DEVICE``."""
        return CPU_DEVICE

    def devices(self):
        """The set of devices holding the array: ``{CPU_DEVICE}``."""
        return {CPU_DEVICE}

    def to_device(self, device, /, *, stream=None):
        """The array on ``device`` (Array API): the array itself, derivax runs on the CPU.

        Raises:
            ValueError: ``device`` is not the CPU device (or ``"cpu"``).
        """
        check_device(device, "to_device")
        if stream is not None:
            raise ValueError(f"to_device: stream={stream!r} is not supported; pass None.")
        return self

    # -- conversion
    def __array__(self, dtype=None, copy=None):
        v = self._value
        if copy:
            return np.array(v, dtype=dtype, copy=True)
        view = v.view()
        view.flags.writeable = False
        if dtype is not None and np.dtype(dtype) != v.dtype:
            return view.astype(dtype)
        return view

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        # Exported read-only: consumers must not write into an immutable array's buffer.
        v = self._value
        if copy:
            v = v.copy()
        kwargs = {"stream": stream}
        if max_version is not None:
            kwargs["max_version"] = max_version
        if dl_device is not None:
            kwargs["dl_device"] = dl_device
        if copy is not None:
            kwargs["copy"] = copy
        return v.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._value.__dlpack_device__()

    def __bool__(self):
        return bool(self._value)

    def __int__(self):
        return int(self._value)

    def __float__(self):
        return float(self._value)

    def __complex__(self):
        return complex(self._value)

    def __index__(self):
        if not _dtypes.is_int(self.dtype) and self.dtype != np.bool_:
            raise TypeError(f"only integer arrays can be used as an index, got {self.dtype}")
        return int(self._value)

    def item(self, *args):
        return self._value.item(*args)

    def tolist(self):
        return self._value.tolist()

    def __len__(self):
        if not self._value.ndim:
            raise TypeError("len() of a 0-d array (a scalar) is undefined.")
        return len(self._value)

    def __iter__(self):
        if not self._value.ndim:
            raise TypeError("iteration over a 0-d array (a scalar)")
        weak = self.weak_type
        return (_wrap(np.asarray(row), weak) for row in self._value)

    def __hash__(self):
        raise TypeError(
            "derivax arrays are unhashable (like NumPy arrays). To use one as a static jit "
            "argument or dict key, convert it: tuple(x.tolist()) or x.item()."
        )

    def __setitem__(self, idx, value):
        raise TypeError(_immutable_message("derivax Array"))

    def __reduce__(self):
        return (_reconstruct, (np.array(self._value), self.weak_type))

    def __repr__(self):
        v = self._value
        weak = ", weak_type=True" if self.weak_type else ""
        if v.size == 0:
            return f"Array([], shape={v.shape}, dtype={v.dtype}{weak})"
        body = np.array2string(v, separator=", ", prefix="Array(")
        return f"Array({body}, dtype={v.dtype}{weak})"

    def __str__(self):
        return str(self._value)

    def __format__(self, spec):
        if self._value.ndim == 0:
            return format(self._value.item(), spec)
        return format(str(self), spec)

    # -- runtime
    def block_until_ready(self):
        return self

    def copy(self):
        return _wrap(self._value.copy(), self.weak_type)

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __array_namespace__(self, *, api_version=None):
        """The Array API namespace of derivax arrays: ``derivax.numpy``.

        Raises:
            ValueError: ``api_version`` names a version derivax does not implement.
        """
        return array_namespace(api_version)


# Array API versions whose names and semantics ``derivax.numpy`` provides.
SUPPORTED_API_VERSIONS = ("2021.12", "2022.12", "2023.12", "2024.12")


def array_namespace(api_version=None):
    """``derivax.numpy`` after checking ``api_version`` (internal)."""
    if api_version is not None and api_version not in SUPPORTED_API_VERSIONS:
        raise ValueError(
            f"__array_namespace__: api_version={api_version!r} is not supported; derivax.numpy "
            f"implements the Array API standard versions {', '.join(SUPPORTED_API_VERSIONS)}. "
            "Pass one of them, or None for the latest."
        )
    from . import numpy as dnp

    return dnp


class Device:
    """A device that holds derivax arrays. derivax runs on the CPU: the only instance is
    ``CPU_DEVICE`` (what ``x.device`` returns). It compares equal to the string ``"cpu"``
    so that code written for ``device="cpu"`` keeps working.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.ones(2).device
        Device(platform='cpu', id=0)
    """

    __slots__ = ("platform", "id")

    def __init__(self, platform: str = "cpu", id: int = 0):  # noqa: A002 - JAX's name
        self.platform = platform
        self.id = id

    def __repr__(self):
        return f"Device(platform={self.platform!r}, id={self.id})"

    def __str__(self):
        return f"{self.platform}:{self.id}"

    def __eq__(self, other):
        if isinstance(other, Device):
            return (self.platform, self.id) == (other.platform, other.id)
        if isinstance(other, str):
            return other == self.platform
        return NotImplemented

    def __hash__(self):
        return hash(self.platform)

    def __reduce__(self):
        return (Device, (self.platform, self.id))


CPU_DEVICE = Device("cpu", 0)


def check_device(device, fname: str) -> None:
    """Raise a clear error unless ``device`` is None, ``CPU_DEVICE`` or ``"cpu"`` (internal)."""
    if device is None or device == CPU_DEVICE:
        return
    raise ValueError(
        f"{fname}: device={device!r} is not available; derivax runs on the CPU only. Pass "
        "device=None, 'cpu' or x.device (derivax.numpy.__array_namespace_info__().devices() "
        "lists the devices)."
    )


def _reconstruct(value, weak):
    return _wrap(value, weak)


_new = object.__new__


def _wrap(value, weak_type=False) -> Array:
    """Wrap a NumPy value that already has a canonical dtype (no checks; internal)."""
    if type(value) is not np.ndarray:
        value = np.asarray(value)
    a = _new(Array)
    a._value = value
    a.weak_type = weak_type
    return a


def to_numpy(x) -> np.ndarray:
    """The NumPy value of an Array, NumPy array or scalar (internal, no copy)."""
    if type(x) is Array:
        return x._value
    if isinstance(x, Tracer):
        return np.asarray(x)
    return np.asarray(x)


def is_weak(x) -> bool:
    if type(x) is Array:
        return x.weak_type
    if isinstance(x, Tracer):
        return x.aval.weak_type
    return type(x) in (int, float, complex)


def device_put(x, device=None):
    """Place a pytree of arrays on the (CPU) device as derivax Arrays.

    Args:
        x: a pytree whose leaves are arrays or scalars.
        device: ``None`` or ``"cpu"``; derivax runs on the CPU.

    Returns:
        The same tree with every leaf a ``derivax.Array`` (NumPy inputs are copied).

    Example:
        >>> import numpy as np, derivax
        >>> derivax.device_put(np.ones(2))
        Array([1., 1.], dtype=float32)
    """
    from . import numpy as dnp
    from . import tree

    if device not in (None, "cpu"):
        raise ValueError(f"derivax runs on the CPU only; got device={device!r}.")
    return tree.map(lambda leaf: leaf if isinstance(leaf, Tracer) else dnp.asarray(leaf), x)


def device_get(x):
    """Fetch a pytree of arrays as NumPy arrays (scalars stay as they are).

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.device_get({'a': dnp.ones(2)})
        {'a': array([1., 1.], dtype=float32)}
    """
    from . import tree

    def get(leaf):
        if type(leaf) is Array:
            return np.array(leaf._value)
        return leaf

    return tree.map(get, x)


def block_until_ready(x):
    """Wait until every array in a pytree is computed (derivax computes eagerly on the CPU,
    so this returns at once) and return the tree.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.block_until_ready(dnp.ones(2))
        Array([1., 1.], dtype=float32)
    """
    return x
