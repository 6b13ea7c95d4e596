"""Shape manipulation in ``derivax.numpy``."""

from __future__ import annotations

import operator

import numpy as np

from .._core import ConcretizationTypeError, Tracer, get_aval
from ..lax import _structural as S
from ._util import asarray_any, broadcast_shapes, broadcast_to_shape, canonical_axis, promote


def _shape_arg(shape, fname):
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    if isinstance(shape, Tracer) or getattr(shape, "ndim", None) == 0:
        shape = (shape,)
    try:
        return tuple(operator.index(s) for s in shape)
    except ConcretizationTypeError:  # a traced size: a shape computed from data
        raise
    except TypeError:
        raise TypeError(
            f"{fname}: shape must be an int or a tuple of ints, got {shape!r}."
        ) from None


def reshape(a, shape=None, order="C", *, newshape=None, copy=None):
    """Give ``a`` a new shape (one entry may be -1).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.reshape(dnp.arange(6), (2, -1))
        Array([[0, 1, 2],
               [3, 4, 5]], dtype=int32)
    """
    if shape is None:
        shape = newshape
    if shape is None:
        raise TypeError("reshape: the new shape is required.")
    if order != "C":
        raise NotImplementedError("reshape: only order='C' is supported.")
    a = asarray_any(a)
    size = get_aval(a).size
    shape = list(_shape_arg(shape, "reshape"))
    if shape.count(-1) > 1:
        raise ValueError(f"reshape: only one dimension can be -1, got {tuple(shape)}.")
    if -1 in shape:
        known = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
        if known == 0 or size % known:
            raise ValueError(
                f"reshape: cannot reshape an array of shape {get_aval(a).shape} ({size} "
                f"elements) into shape {tuple(shape)}."
            )
        shape[shape.index(-1)] = size // known
    if int(np.prod(shape, dtype=np.int64)) != size:
        raise ValueError(
            f"reshape: cannot reshape an array of shape {get_aval(a).shape} ({size} elements) "
            f"into shape {tuple(shape)} ({int(np.prod(shape, dtype=np.int64))} elements)."
        )
    return S.reshape(a, tuple(shape))


def ravel(a, order="C"):
    """Flatten to 1-D.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.ravel(dnp.ones((2, 2)))
        Array([1., 1., 1., 1.], dtype=float32)
    """
    return reshape(a, (-1,), order)


def transpose(a, axes=None):
    """Permute axes (reverse them by default).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.transpose(dnp.ones((2, 3))).shape
        (3, 2)
    """
    a = asarray_any(a)
    nd = get_aval(a).ndim
    if axes is None:
        axes = tuple(range(nd - 1, -1, -1))
    axes = tuple(canonical_axis(x, nd, "transpose", "axes") for x in axes)
    if sorted(axes) != list(range(nd)):
        raise ValueError(f"transpose: axes {axes} are not a permutation of {nd} axes.")
    return S.transpose(a, axes)


permute_dims = transpose


def matrix_transpose(x, /):
    """Swap the last two axes.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.matrix_transpose(dnp.ones((4, 2, 3))).shape
        (4, 3, 2)
    """
    x = asarray_any(x)
    nd = get_aval(x).ndim
    if nd < 2:
        raise ValueError(f"matrix_transpose needs at least 2 dimensions, got {nd}.")
    return swapaxes(x, -1, -2)


def swapaxes(a, axis1, axis2):
    """Exchange two axes.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.swapaxes(dnp.ones((2, 3, 4)), 0, 2).shape
        (4, 3, 2)
    """
    a = asarray_any(a)
    nd = get_aval(a).ndim
    i, j = canonical_axis(axis1, nd, "swapaxes"), canonical_axis(axis2, nd, "swapaxes")
    perm = list(range(nd))
    perm[i], perm[j] = perm[j], perm[i]
    return S.transpose(a, tuple(perm))


def moveaxis(a, source, destination):
    """Move axes to new positions.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.moveaxis(dnp.ones((2, 3, 4)), 0, -1).shape
        (3, 4, 2)
    """
    a = asarray_any(a)
    nd = get_aval(a).ndim
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    if len(src) != len(dst):
        raise ValueError("moveaxis: source and destination need the same number of axes.")
    src = [canonical_axis(s, nd, "moveaxis", "source") for s in src]
    dst = [canonical_axis(d, nd, "moveaxis", "destination") for d in dst]
    order = [i for i in range(nd) if i not in src]
    for d, s in sorted(zip(dst, src, strict=True)):
        order.insert(d, s)
    return S.transpose(a, tuple(order))


def expand_dims(a, axis):
    """Insert size-1 axes at ``axis`` (an int or tuple) of the result.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.expand_dims(dnp.ones(3), 0).shape
        (1, 3)
    """
    a = asarray_any(a)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return S.expand_dims(a, axes)


def squeeze(a, axis=None):
    """Remove size-1 axes (all of them, or those in ``axis``).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.squeeze(dnp.ones((1, 3, 1))).shape
        (3,)
    """
    a = asarray_any(a)
    shape = get_aval(a).shape
    if axis is None:
        axes = tuple(i for i, s in enumerate(shape) if s == 1)
    else:
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return S.squeeze(a, axes)


def broadcast_to(array, shape):
    """Broadcast ``array`` to ``shape`` (NumPy's rules).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.broadcast_to(dnp.arange(3), (2, 3))
        Array([[0, 1, 2],
               [0, 1, 2]], dtype=int32)
    """
    a = asarray_any(array)
    shape = _shape_arg(shape, "broadcast_to")
    src = get_aval(a).shape
    if len(src) > len(shape) or broadcast_shapes(src, shape, fname="broadcast_to") != shape:
        raise ValueError(f"broadcast_to: cannot broadcast an array of shape {src} to {shape}.")
    return broadcast_to_shape(a, shape)


def broadcast_arrays(*args):
    """Broadcast arrays against each other.

    Example:
        >>> import derivax.numpy as dnp
        >>> [x.shape for x in dnp.broadcast_arrays(dnp.ones((2, 1)), dnp.ones(3))]
        [(2, 3), (2, 3)]
    """
    arrs = [asarray_any(a) for a in args]
    shape = broadcast_shapes(*[get_aval(a).shape for a in arrs], fname="broadcast_arrays")
    return [broadcast_to_shape(a, shape) for a in arrs]


def concatenate(arrays, axis=0, dtype=None):
    """Join arrays along an existing axis (``axis=None`` flattens first).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.concatenate([dnp.ones(2), dnp.zeros(1)])
        Array([1., 1., 0.], dtype=float32)
    """
    arrays = list(arrays)
    if not arrays:
        raise ValueError("concatenate needs at least one array.")
    arrays = promote("concatenate", *arrays)
    if dtype is not None:
        arrays = [asarray_any(a, dtype) for a in arrays]
    if axis is None:
        arrays = [ravel(a) for a in arrays]
        axis = 0
    nd = get_aval(arrays[0]).ndim
    if nd == 0:
        raise ValueError("concatenate: zero-dimensional arrays cannot be concatenated.")
    for a in arrays:
        if get_aval(a).ndim != nd:
            raise ValueError(
                "concatenate: all arrays need the same number of dimensions, got shapes "
                + ", ".join(str(get_aval(x).shape) for x in arrays)
            )
    axis = canonical_axis(axis, nd, "concatenate")
    return S.concatenate(arrays, axis)


concat = concatenate


def stack(arrays, axis=0, dtype=None):
    """Join arrays along a new axis.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.stack([dnp.ones(2), dnp.zeros(2)]).shape
        (2, 2)
    """
    arrays = [asarray_any(a) for a in arrays]
    if not arrays:
        raise ValueError("stack needs at least one array.")
    shapes = {get_aval(a).shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"stack: all arrays must have the same shape, got {sorted(shapes)}.")
    nd = get_aval(arrays[0]).ndim + 1
    axis = canonical_axis(axis, nd, "stack")
    return concatenate([expand_dims(a, axis) for a in arrays], axis, dtype)


def hstack(tup):
    """Stack horizontally (along axis 1, or 0 for 1-D arrays).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.hstack([dnp.ones(2), dnp.zeros(1)]).shape
        (3,)
    """
    arrs = [asarray_any(a) for a in tup]
    return concatenate(arrs, 0 if get_aval(arrs[0]).ndim == 1 else 1)


def vstack(tup):
    """Stack vertically (rows).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.vstack([dnp.ones(2), dnp.zeros(2)]).shape
        (2, 2)
    """
    arrs = [asarray_any(a) for a in tup]
    arrs = [reshape(a, (1, -1)) if get_aval(a).ndim == 1 else a for a in arrs]
    return concatenate(arrs, 0)


def flip(m, axis=None):
    """Reverse the order of elements along ``axis`` (all axes by default).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.flip(dnp.arange(3))
        Array([2, 1, 0], dtype=int32)
    """
    m = asarray_any(m)
    nd = get_aval(m).ndim
    if axis is None:
        axes = tuple(range(nd))
    else:
        axes = tuple(
            canonical_axis(a, nd, "flip") for a in ((axis,) if isinstance(axis, int) else axis)
        )
    return S.rev(m, axes)


def atleast_1d(*arys):
    """View inputs as arrays with at least one dimension.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.atleast_1d(1.0).shape
        (1,)
    """
    res = [reshape(a, (1,)) if get_aval(a).ndim == 0 else a for a in (asarray_any(x) for x in arys)]
    return res[0] if len(res) == 1 else res


def atleast_2d(*arys):
    """View inputs as arrays with at least two dimensions.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.atleast_2d(dnp.ones(3)).shape
        (1, 3)
    """
    res = []
    for x in arys:
        a = asarray_any(x)
        nd = get_aval(a).ndim
        res.append(reshape(a, (1,) * (2 - nd) + get_aval(a).shape) if nd < 2 else a)
    return res[0] if len(res) == 1 else res
