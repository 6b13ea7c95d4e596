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

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.result_type(dnp.int32, dnp.float16)
        dtype('float16')
    """
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
    """Whether ``from_`` converts to ``to`` without loss under the promotion lattice.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.can_cast(dnp.int8, dnp.float32)
        True
    """
    frm = from_.dtype if isinstance(from_, (Array, Tracer, np.ndarray)) else from_
    return _dtypes.promote_types(frm, to) == _dtypes.canonicalize_dtype(to)


def isdtype(dtype, kind):
    """Array API ``isdtype``: is ``dtype`` of ``kind`` ('bool', 'signed integer',
    'unsigned integer', 'integral', 'real floating', 'complex floating', 'numeric', or a dtype
    or tuple of those).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.isdtype(dnp.float32, "real floating")
        True
    """
    dt = np.dtype(dtype)
    if isinstance(kind, tuple):
        return any(isdtype(dt, k) for k in kind)
    if not isinstance(kind, str):
        return dt == np.dtype(kind)
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
