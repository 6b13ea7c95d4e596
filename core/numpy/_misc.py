"""Small helpers of ``derivax.numpy``: shape queries and dtype functions."""

from __future__ import annotations

import numpy as np

from .. import _dtypes
from .._array import Array
from .._core import Tracer, get_aval
from ._util import asarray_any


def shape(a):
    """The shape of ``a``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.shape(dnp.ones((2, 3)))
        (2, 3)
    """
    return get_aval(asarray_any(a)).shape


def ndim(a):
    """The number of dimensions of ``a``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.ndim(1.0)
        0
    """
    return get_aval(asarray_any(a)).ndim


def size(a, axis=None):
    """The number of elements of ``a`` (along ``axis``).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.size(dnp.ones((2, 3)))
        6
    """
    s = get_aval(asarray_any(a)).shape
    if axis is None:
        n = 1
        for d in s:
            n *= d
        return n
    return s[axis]


def result_type(*arrays_and_dtypes):
    """The dtype that combining the arguments gives (JAX's promotion lattice).

    Arguments may be arrays, dtypes and Python scalars (``bool``, ``int``, ``float``,
    ``complex``). Python scalars are weakly typed: they take the dtype of the arrays they
    meet when that dtype has their kind (``result_type(int8_array, 1)`` is int8), as the
    Array API standard 2024.12 asks.

    Args:
        *arrays_and_dtypes: at least one array, dtype or scalar.

    Returns:
        A ``numpy.dtype``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.result_type(dnp.int32, dnp.float16)
        dtype('float16')
        >>> dnp.result_type(dnp.ones(2, dnp.int8), 1)
        dtype('int8')
    """
    if not arrays_and_dtypes:
        raise ValueError("result_type: at least one array, dtype or scalar is required.")
    return _dtypes.result_type(*arrays_and_dtypes)


def promote_types(type1, type2):
    """The promoted dtype of two dtypes (JAX's lattice, no weak types).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.promote_types(dnp.uint8, dnp.int8)
        dtype('int16')
    """
    return _dtypes.promote_types(type1, type2)


def can_cast(from_, to, casting="safe"):
    """Whether values of ``from_`` convert to ``to`` under NumPy's ``casting`` rule.

    With the default ``casting="safe"`` this is True only when every value of ``from_``
    is represented in ``to`` (``int16 -> float32`` yes, ``int32 -> float32`` no), as the
    Array API standard asks.

    Args:
        from_: a dtype, an array or a tracer (its dtype is used).
        to: a dtype.
        casting: ``"no"``, ``"equiv"``, ``"safe"``, ``"same_kind"`` or ``"unsafe"``.

    Returns:
        A Python bool.

    Raises:
        TypeError: ``from_`` or ``to`` is not a supported dtype.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.can_cast(dnp.int8, dnp.float32), dnp.can_cast(dnp.float32, dnp.int32)
        (True, False)
    """
    if isinstance(from_, (Array, Tracer, np.ndarray, np.generic)):
        frm = from_.dtype
    else:
        frm = _dtypes.to_numpy_dtype(from_, argname="from_")
    return bool(np.can_cast(frm, _dtypes.to_numpy_dtype(to, argname="to"), casting))


def isdtype(dtype, kind):
    """Array API ``isdtype``: is ``dtype`` of ``kind`` ('bool', 'signed integer',
    'unsigned integer', 'integral', 'real floating', 'complex floating', 'numeric', or a dtype
    or tuple of those).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.isdtype(dnp.float32, "real floating")
        True
    """
    if isinstance(dtype, (Array, Tracer, np.ndarray)):
        raise TypeError(
            f"isdtype: dtype must be a dtype, got an array of type {type(dtype).__name__}; "
            "pass x.dtype."
        )
    dt = _dtypes.to_numpy_dtype(dtype)
    if isinstance(kind, tuple):
        return any(isdtype(dt, k) for k in kind)
    if not isinstance(kind, str):
        return dt == _dtypes.to_numpy_dtype(kind, argname="kind")
    checks = {
        "bool": dt == np.bool_,
        "signed integer": dt.kind == "i",
        "unsigned integer": dt.kind == "u",
        "integral": dt.kind in "iu",
        "real floating": _dtypes.is_float(dt),
        "complex floating": dt.kind == "c",
        "numeric": dt != np.bool_,
    }
    if kind not in checks:
        raise ValueError(f"isdtype: unknown kind {kind!r}; expected one of {sorted(checks)}.")
    return bool(checks[kind])
