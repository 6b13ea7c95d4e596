"""Triangles and diagonals in ``derivax.numpy``: tri, tril, triu, their index helpers,
diag, diagflat, diagonal, trace and kron. Offsets and sizes must be static."""

from __future__ import annotations

import numpy as np

from .._array import _wrap
from ..lax import _structural as S
from ._elementwise import multiply, where
from ._indexing import _take_diagonal
from ._manipulation import _aval, _grid_dtype, _static_int
from ._reductions import sum as _sum
from ._shape import (
    ravel,
    reshape,
)
from ._util import asarray_any, canonical_axis, promote

__all__ = [
    "diag",
    "diag_indices",
    "diag_indices_from",
    "diagflat",
    "diagonal",
    "kron",
    "trace",
    "tri",
    "tril",
    "tril_indices",
    "tril_indices_from",
    "triu",
    "triu_indices",
    "triu_indices_from",
]

_INT = np.int32


# --------------------------------------------------------------------------- triangles, diagonals


def tri(N, M=None, k=0, dtype=None):  # noqa: N803 - NumPy's names
    """An ``N`` x ``M`` array with ones at and below the ``k``-th diagonal.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.tri(2, 3, dtype=dnp.int32)
        Array([[1, 0, 0],
               [1, 1, 0]], dtype=int32)
    """
    n = _static_int(N, "tri", "N")
    m = n if M is None else _static_int(M, "tri", "M")
    k = _static_int(k, "tri", "k")
    return _wrap(np.tri(n, m, k).astype(_grid_dtype(dtype)))


def _tri_mask(x, k, lower, fname):
    shape = _aval(x).shape
    if len(shape) < 2:
        raise ValueError(
            f"{fname}: needs an array of at least 2 dimensions (a stack of matrices), got "
            f"shape {shape}."
        )
    k = _static_int(k, fname, "k")
    rows, cols = shape[-2:]
    mask = np.tri(rows, cols, k if lower else k - 1, dtype=bool)
    if not lower:
        mask = ~mask
    return _wrap(np.broadcast_to(mask, shape).copy())


def tril(m, k=0):
    """The lower triangle (at and below the ``k``-th diagonal) of the last two axes; zeros
    elsewhere.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.tril(dnp.ones((2, 2), dnp.int32))
        Array([[1, 0],
               [1, 1]], dtype=int32)
    """
    x = asarray_any(m)
    return where(_tri_mask(x, k, True, "tril"), x, S.full(_aval(x).shape, 0, _aval(x).dtype))


def triu(m, k=0):
    """The upper triangle (at and above the ``k``-th diagonal) of the last two axes; zeros
    elsewhere.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.triu(dnp.ones((2, 2), dnp.int32))
        Array([[1, 1],
               [0, 1]], dtype=int32)
    """
    x = asarray_any(m)
    return where(_tri_mask(x, k, False, "triu"), x, S.full(_aval(x).shape, 0, _aval(x).dtype))


def _index_tuple(arrays):
    return tuple(_wrap(np.asarray(a).astype(_INT)) for a in arrays)


def tril_indices(n, k=0, m=None):
    """Row and column indices of the lower triangle of an ``n`` x ``m`` array.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.tril_indices(2)
        (Array([0, 1, 1], dtype=int32), Array([0, 0, 1], dtype=int32))
    """
    n = _static_int(n, "tril_indices", "n")
    m = None if m is None else _static_int(m, "tril_indices", "m")
    return _index_tuple(np.tril_indices(n, _static_int(k, "tril_indices", "k"), m))


def triu_indices(n, k=0, m=None):
    """Row and column indices of the upper triangle of an ``n`` x ``m`` array.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.triu_indices(2)
        (Array([0, 0, 1], dtype=int32), Array([0, 1, 1], dtype=int32))
    """
    n = _static_int(n, "triu_indices", "n")
    m = None if m is None else _static_int(m, "triu_indices", "m")
    return _index_tuple(np.triu_indices(n, _static_int(k, "triu_indices", "k"), m))


def _matrix_shape(arr, fname):
    shape = _aval(asarray_any(arr)).shape
    if len(shape) != 2:
        raise ValueError(f"{fname}: needs a 2-D array, got shape {shape}.")
    return shape


def tril_indices_from(arr, k=0):
    """:func:`tril_indices` for the shape of the 2-D array ``arr``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.tril_indices_from(dnp.ones((2, 2)))[1]
        Array([0, 0, 1], dtype=int32)
    """
    n, m = _matrix_shape(arr, "tril_indices_from")
    return tril_indices(n, k, m)


def triu_indices_from(arr, k=0):
    """:func:`triu_indices` for the shape of the 2-D array ``arr``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.triu_indices_from(dnp.ones((2, 2)))[1]
        Array([0, 1, 1], dtype=int32)
    """
    n, m = _matrix_shape(arr, "triu_indices_from")
    return triu_indices(n, k, m)


def diag_indices(n, ndim=2):
    """Indices of the main diagonal of an ``(n,) * ndim`` array.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.diag_indices(2)
        (Array([0, 1], dtype=int32), Array([0, 1], dtype=int32))
    """
    n = _static_int(n, "diag_indices", "n")
    return _index_tuple(np.diag_indices(n, _static_int(ndim, "diag_indices", "ndim")))


def diag_indices_from(arr):
    """:func:`diag_indices` for ``arr``, whose axes must all have one length.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.diag_indices_from(dnp.ones((2, 2)))[0]
        Array([0, 1], dtype=int32)
    """
    shape = _aval(asarray_any(arr)).shape
    if len(shape) < 2 or len(set(shape)) != 1:
        raise ValueError(
            f"diag_indices_from: needs an array of at least 2 dimensions of equal length, got "
            f"shape {shape}."
        )
    return diag_indices(shape[0], len(shape))


def diagonal(a, offset=0, axis1=0, axis2=1):
    """The ``offset``-th diagonal of the plane ``(axis1, axis2)``, as the last axis.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.diagonal(dnp.arange(9).reshape(3, 3), offset=1)
        Array([1, 5], dtype=int32)
    """
    x = asarray_any(a)
    nd = _aval(x).ndim
    if nd < 2:
        raise ValueError(
            f"diagonal: needs an array of at least 2 dimensions, got shape {_aval(x).shape}."
        )
    i = canonical_axis(axis1, nd, "diagonal", "axis1")
    j = canonical_axis(axis2, nd, "diagonal", "axis2")
    if i == j:
        raise ValueError(f"diagonal: axis1 and axis2 must differ, got {axis1} and {axis2}.")
    offset = _static_int(offset, "diagonal", "offset")
    rows, cols = _aval(x).shape[i], _aval(x).shape[j]
    if offset >= 0:
        x = S.slice_in_dim(x, min(offset, cols), cols, 1, j)
    else:
        x = S.slice_in_dim(x, min(-offset, rows), rows, 1, i)
    return _take_diagonal(x, i, j)


def trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    """Sum along a diagonal (see :func:`diagonal`); small ints and bools sum as int32.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.trace(dnp.arange(9).reshape(3, 3))
        Array(12, dtype=int32)
    """
    if out is not None:
        raise ValueError("trace: out= is not supported (derivax arrays are immutable).")
    return _sum(diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype)


def diag(v, k=0):
    """The ``k``-th diagonal of a 2-D array, or a 2-D array with a 1-D ``v`` on its
    ``k``-th diagonal.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.diag(dnp.array([1, 2]))
        Array([[1, 0],
               [0, 2]], dtype=int32)
    """
    x = asarray_any(v)
    k = _static_int(k, "diag", "k")
    nd = _aval(x).ndim
    if nd == 2:
        return diagonal(x, k)
    if nd != 1:
        raise ValueError(f"diag: needs a 1-D or 2-D array, got shape {_aval(x).shape}.")
    n = _aval(x).shape[0] + abs(k)
    mask = _wrap(np.eye(n, k=k, dtype=bool))
    cfg = [(0, abs(k), 0)]
    vp = S.pad(x, S.full((), 0, _aval(x).dtype), cfg)
    # Row i of the k >= 0 diagonal holds v[i]; column j of the k < 0 diagonal holds v[j].
    full = S.broadcast_in_dim(vp, (n, n), (0,) if k >= 0 else (1,))
    return where(mask, full, S.full((n, n), 0, _aval(x).dtype))


def diagflat(v, k=0):
    """A 2-D array with the flattened ``v`` on its ``k``-th diagonal.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.diagflat(dnp.array([[1, 2]]), 1)
        Array([[0, 1, 0],
               [0, 0, 2],
               [0, 0, 0]], dtype=int32)
    """
    return diag(ravel(asarray_any(v)), k)


def kron(a, b):
    """The Kronecker product: blocks ``a[i, j] * b``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.kron(dnp.array([1, 10]), dnp.array([1, 2]))
        Array([ 1,  2, 10, 20], dtype=int32)
    """
    a, b = promote("kron", a, b)
    sa, sb = _aval(a).shape, _aval(b).shape
    nd = max(len(sa), len(sb))
    sa = (1,) * (nd - len(sa)) + sa
    sb = (1,) * (nd - len(sb)) + sb
    a = reshape(a, tuple(v for s in sa for v in (s, 1)))
    b = reshape(b, tuple(v for s in sb for v in (1, s)))
    return reshape(multiply(a, b), tuple(x * y for x, y in zip(sa, sb, strict=True)))
