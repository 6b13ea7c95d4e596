"""Array API standard support: ``__array_api_version__``, ``__array_namespace_info__`` and
the standard's names that ``derivax.numpy`` did not have under a NumPy name.

``derivax.numpy`` is an Array API standard 2024.12 namespace as well as a NumPy-like one: an
array's ``__array_namespace__()`` returns it, so code written against the standard
(``xp = x.__array_namespace__()``) runs on derivax arrays, under ``jit``, ``grad`` and
``vmap`` too. Where NumPy and the standard differ, the function accepts both spellings
(``clip(x, min=, max=)``, ``var(x, correction=)``, ``astype(x, dtype, copy=, device=)``).

Deliberate differences from the standard, as in JAX:

* Arrays are immutable, so ``x[i] = v`` raises and augmented assignments such as ``x += 1``
  rebind the name to a new array (the standard allows this for libraries without mutation).
* Type promotion follows JAX's lattice, which agrees with the standard's table wherever the
  standard defines a result, and also defines mixed-kind results (``int32 + float16`` gives
  float16) that the standard leaves unspecified.
* 64-bit dtypes need ``derivax.config.update("enable_x64", True)``; without it
  ``__array_namespace_info__().dtypes()`` lists the 32-bit ones only.
* ``x.T`` reverses all axes for any rank, as in NumPy (the standard only specifies 2-D);
  use ``x.mT`` or ``matrix_transpose`` for a batch of matrices.
"""

from __future__ import annotations

import numpy as np

from .. import _dtypes
from .._array import CPU_DEVICE, check_device
from ._elementwise import bitwise_left_shift as bitwise_left_shift
from ._elementwise import bitwise_right_shift as bitwise_right_shift
from ._elementwise import copysign as copysign
from ._elementwise import hypot as hypot
from ._elementwise import imag as imag
from ._elementwise import left_shift as left_shift
from ._elementwise import logaddexp as logaddexp
from ._elementwise import nextafter as nextafter
from ._elementwise import right_shift as right_shift
from ._util import asarray_any

__all__ = [
    "__array_api_version__",
    "__array_namespace_info__",
    "bitwise_left_shift",
    "bitwise_right_shift",
    "copysign",
    "from_dlpack",
    "hypot",
    "imag",
    "left_shift",
    "logaddexp",
    "nextafter",
    "right_shift",
]

__array_api_version__ = "2024.12"

# The standard's dtype names by kind (float16 and bfloat16 are derivax extras outside it).
_KIND_NAMES = {
    "bool": ("bool",),
    "signed integer": ("int8", "int16", "int32", "int64"),
    "unsigned integer": ("uint8", "uint16", "uint32", "uint64"),
    "real floating": ("float32", "float64"),
    "complex floating": ("complex64", "complex128"),
}
_KIND_NAMES["integral"] = _KIND_NAMES["signed integer"] + _KIND_NAMES["unsigned integer"]
_KIND_NAMES["numeric"] = (
    _KIND_NAMES["integral"] + _KIND_NAMES["real floating"] + _KIND_NAMES["complex floating"]
)
_ALL_NAMES = ("bool", *_KIND_NAMES["numeric"])
_WIDE = frozenset({"int64", "uint64", "float64", "complex128"})


class ArrayNamespaceInfo:
    """What ``derivax.numpy.__array_namespace_info__()`` returns: the Array API inspection
    object (capabilities, devices, default and supported dtypes).

    Example:
        >>> import derivax.numpy as dnp
        >>> info = dnp.__array_namespace_info__()
        >>> info.default_dtypes()["real floating"]
        dtype('float32')
        >>> info.devices()
        [Device(platform='cpu', id=0)]
    """

    def __repr__(self):
        return "derivax.numpy.__array_namespace_info__()"

    def capabilities(self) -> dict:
        """Optional features of the standard that derivax supports.

        Boolean-mask indexing and functions with data-dependent output shapes (``nonzero``,
        ``unique_*``) work eagerly but not under ``jit``, so both report False, as JAX does.

        Example:
            >>> import derivax.numpy as dnp
            >>> dnp.__array_namespace_info__().capabilities()["boolean indexing"]
            False
        """
        return {"boolean indexing": False, "data-dependent shapes": False, "max dimensions": 64}

    def default_device(self):
        """The device arrays are created on: the CPU device.

        Example:
            >>> import derivax.numpy as dnp
            >>> dnp.__array_namespace_info__().default_device()
            Device(platform='cpu', id=0)
        """
        return CPU_DEVICE

    def devices(self) -> list:
        """Every device derivax can place arrays on (the CPU only).

        Example:
            >>> import derivax.numpy as dnp
            >>> len(dnp.__array_namespace_info__().devices())
            1
        """
        return [CPU_DEVICE]

    def default_dtypes(self, *, device=None) -> dict:
        """The dtypes functions use when no dtype is given (they follow ``enable_x64`` and
        ``default_float_dtype``).

        Args:
            device: None or the CPU device.

        Returns:
            A dict with the keys ``"real floating"``, ``"complex floating"``,
            ``"integral"`` and ``"indexing"``.

        Raises:
            ValueError: ``device`` is not the CPU device.

        Example:
            >>> import derivax.numpy as dnp
            >>> dnp.__array_namespace_info__().default_dtypes()["indexing"]
            dtype('int32')
        """
        check_device(device, "default_dtypes")
        return {
            "real floating": _dtypes.default_float_dtype(),
            "complex floating": _dtypes.default_complex_dtype(),
            "integral": _dtypes.default_int_dtype(),
            "indexing": _dtypes.default_int_dtype(),
        }

    def dtypes(self, *, device=None, kind=None) -> dict:
        """The Array API dtypes derivax supports now, by name (64-bit ones only with x64).

        Args:
            device: None or the CPU device.
            kind: None (all), a kind name as in ``isdtype`` (``"bool"``, ``"signed
                integer"``, ``"unsigned integer"``, ``"integral"``, ``"real floating"``,
                ``"complex floating"``, ``"numeric"``) or a tuple of kinds.

        Returns:
            A dict from dtype name to dtype.

        Raises:
            ValueError: ``device`` is not the CPU device, or ``kind`` is unknown.

        Example:
            >>> import derivax.numpy as dnp
            >>> sorted(dnp.__array_namespace_info__().dtypes(kind="real floating"))
            ['float32']
        """
        check_device(device, "dtypes")
        if kind is None:
            names = _ALL_NAMES
        else:
            kinds = kind if isinstance(kind, tuple) else (kind,)
            for k in kinds:
                if k not in _KIND_NAMES:
                    raise ValueError(
                        f"dtypes: unknown kind={k!r}; expected None, one of "
                        f"{sorted(_KIND_NAMES)}, or a tuple of those."
                    )
            names = tuple(n for n in _ALL_NAMES if any(n in _KIND_NAMES[k] for k in kinds))
        from .._config import config

        if not config.enable_x64:
            names = tuple(n for n in names if n not in _WIDE)
        return {n: np.dtype(n) for n in names}


_INFO = ArrayNamespaceInfo()


def __array_namespace_info__() -> ArrayNamespaceInfo:  # noqa: N807 - the standard's name
    """The Array API inspection object of ``derivax.numpy``.

    Returns:
        An object with ``capabilities()``, ``default_device()``, ``default_dtypes()``,
        ``dtypes()`` and ``devices()``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.__array_namespace_info__().default_device()
        Device(platform='cpu', id=0)
    """
    return _INFO


def from_dlpack(x, /, *, device=None, copy=None):
    """An array from any object that supports DLPack (``__dlpack__``): NumPy arrays,
    PyTorch CPU tensors, derivax arrays, ...

    The data is always copied into the new array (derivax arrays are immutable, so they
    never share a buffer that another library could write to). 64-bit data follows the
    usual input rule: it becomes 32-bit unless x64 is enabled.

    Args:
        x: the source object; it must live on the CPU.
        device: None or the CPU device.
        copy: None or True; False (never copy) is impossible and raises.

    Returns:
        A derivax array with the values of ``x``.

    Raises:
        ValueError: ``device`` is not the CPU device, or ``copy=False``.
        TypeError: ``x`` does not support DLPack.

    Example:
        >>> import numpy as np, derivax.numpy as dnp
        >>> dnp.from_dlpack(np.arange(3, dtype=np.int32))
        Array([0, 1, 2], dtype=int32)
    """
    check_device(device, "from_dlpack")
    if copy is False:
        raise ValueError(
            "from_dlpack: copy=False is not possible; derivax arrays own their (immutable) "
            "buffers, so the data is always copied. Pass copy=None or copy=True."
        )
    if not hasattr(x, "__dlpack__"):
        raise TypeError(
            f"from_dlpack: an object of type {type(x).__name__} does not support DLPack (it "
            "has no __dlpack__ method); use derivax.numpy.asarray for other inputs."
        )
    try:
        value = np.from_dlpack(x)
    except (BufferError, RuntimeError, TypeError) as err:
        raise TypeError(
            f"from_dlpack: cannot import the {type(x).__name__} through DLPack ({err}). "
            "Only CPU data can be imported; move it to the CPU first."
        ) from None
    return asarray_any(np.array(value, copy=True))
