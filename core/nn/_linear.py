"""Linear layer math: dense, convolutions and embedding lookup.

These are the pure functions the three NN libraries build their layers on; each takes the
input, the parameters and static settings, and nothing else. Kernels use the layouts of
JAX's ecosystem: dense kernels are ``(in, out)``; convolution kernels are
``(*window, in / groups, out)`` for the default channels-last layout.
"""

from __future__ import annotations

import numpy as np

from .. import lax
from .. import numpy as dnp
from ..numpy._util import asarray_any, promote_inexact

__all__ = ["conv", "conv_transpose", "dense", "embedding_lookup"]


def _check_bias(fname, b, size):
    if b is None:
        return None
    b = asarray_any(b)
    if b.shape != (size,):
        raise ValueError(
            f"{fname}: the bias must have shape ({size},) (one entry per output feature), "
            f"got shape {b.shape}."
        )
    return b


def dense(x, w, b=None):
    """Affine map over the last axis: ``x @ w + b``.

    Args:
        x: input of shape ``(..., in)``.
        w: kernel of shape ``(in, out)``.
        b: optional bias of shape ``(out,)``.

    Returns:
        ``(..., out)``, in the promoted dtype of the arguments.

    Raises:
        ValueError: when ``x.shape[-1]`` differs from ``w.shape[0]`` or the bias does not
            have shape ``(out,)``.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> x = dnp.ones((2, 3))
        >>> derivax.nn.dense(x, dnp.ones((3, 4)), dnp.arange(4.0))
        Array([[3., 4., 5., 6.],
               [3., 4., 5., 6.]], dtype=float32)
    """
    if b is None:
        x, w = promote_inexact("dense", x, w)
    else:
        x, w, b = promote_inexact("dense", x, w, b)
    if w.ndim != 2:
        raise ValueError(f"dense: the kernel must be 2-D (in, out), got shape {w.shape}.")
    if x.ndim == 0 or x.shape[-1] != w.shape[0]:
        raise ValueError(
            f"dense: the last axis of x (shape {x.shape}) must match the kernel's input size "
            f"(kernel shape {w.shape} = (in, out))."
        )
    y = lax.dot_general(x, w, (((x.ndim - 1,), (0,)), ((), ())))
    b = _check_bias("dense", b, w.shape[1])
    return y if b is None else y + b


def _channels_last(nd):
    letters = "HWDEFGJKLMPQRSTUVXYZ"[: nd - 2]
    return (f"N{letters}C", f"{letters}IO", f"N{letters}C")


def _padding(fname, padding, n):
    if isinstance(padding, str):
        return padding
    if isinstance(padding, (int, np.integer)):
        return ((int(padding), int(padding)),) * n
    pads = []
    for p in padding:
        if isinstance(p, (int, np.integer)):
            pads.append((int(p), int(p)))
        else:
            lo, hi = p
            pads.append((int(lo), int(hi)))
    if len(pads) != n:
        raise ValueError(
            f"{fname}: padding needs {n} entries (one per spatial dimension), got {padding!r}."
        )
    return tuple(pads)


def _ints(fname, name, v, n):
    if isinstance(v, (int, np.integer)):
        return (int(v),) * n
    out = tuple(int(s) for s in v)
    if len(out) != n:
        raise ValueError(
            f"{fname}: {name} needs {n} entries (one per spatial dimension), got {v!r}."
        )
    return out


def _prepare_conv(fname, x, w, b, dimension_numbers):
    if b is None:
        x, w = promote_inexact(fname, x, w)
    else:
        x, w, b = promote_inexact(fname, x, w, b)
    if w.ndim < 3:
        raise ValueError(
            f"{fname}: the kernel must have at least 3 dimensions (*window, in, out), got "
            f"shape {w.shape}."
        )
    n = w.ndim - 2
    batch_shape = None
    if dimension_numbers is None:
        dimension_numbers = _channels_last(w.ndim)
        # Channels-last input may have any number of leading batch dimensions (or none).
        if x.ndim < n + 1:
            raise ValueError(
                f"{fname}: input of shape {x.shape} has fewer than the {n + 1} dimensions "
                f"(*spatial, channels) that a {n}-D kernel of shape {w.shape} needs."
            )
        batch_shape = x.shape[: x.ndim - n - 1]
        x = dnp.reshape(x, (int(np.prod(batch_shape, dtype=np.int64)), *x.shape[-n - 1 :]))
    elif x.ndim != w.ndim:
        raise ValueError(
            f"{fname}: with explicit dimension_numbers the input must have the kernel's rank "
            f"{w.ndim} (batch, features, spatial), got shape {x.shape}."
        )
    return x, w, b, n, dimension_numbers, batch_shape


def _finish_conv(fname, y, b, dn, batch_shape):
    if b is not None:
        feat_axis = dn.out_spec[1]
        b = _check_bias(fname, b, y.shape[feat_axis])
        shape = [1] * y.ndim
        shape[feat_axis] = b.shape[0]
        y = y + dnp.reshape(b, tuple(shape))
    if batch_shape is not None:
        y = dnp.reshape(y, (*batch_shape, *y.shape[1:]))
    return y


def conv(
    x,
    w,
    b=None,
    *,
    strides=1,
    padding="SAME",
    dilation=1,
    input_dilation=1,
    feature_group_count=1,
    dimension_numbers=None,
):
    """N-dimensional convolution (cross-correlation) with an optional bias.

    With the default layout the input is channels-last, ``(*batch, *spatial, in)``, with any
    number of leading batch dimensions (also none), and the kernel is
    ``(*window, in / feature_group_count, out)``; the result is ``(*batch, *out_spatial,
    out)``. The number of spatial dimensions (1, 2 or 3) is ``w.ndim - 2``.

    Args:
        x: the input.
        w: the kernel.
        b: optional bias of shape ``(out,)``, added along the output feature axis.
        strides: an int or one per spatial dimension.
        padding: ``"SAME"``, ``"SAME_LOWER"``, ``"VALID"``, an int (the same on both sides
            of every spatial dimension), or one int or ``(low, high)`` pair per spatial
            dimension.
        dilation: kernel dilation (atrous convolution), an int or one per dimension.
        input_dilation: input dilation, an int or one per dimension.
        feature_group_count: number of feature groups (``in`` for a depthwise
            convolution).
        dimension_numbers: ``None`` for the channels-last default, or any layout
            accepted by :func:`derivax.lax.conv_general_dilated` (then ``x`` must have
            exactly one batch dimension, e.g. ``("NCHW", "OIHW", "NCHW")``).

    Returns:
        The convolution.

    Raises:
        ValueError: for mismatched shapes or settings; the message names them.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> x = dnp.ones((1, 4, 4, 1))
        >>> w = dnp.ones((3, 3, 1, 2))
        >>> derivax.nn.conv(x, w, padding="VALID").shape
        (1, 2, 2, 2)
        >>> derivax.nn.conv(x, w)[0, :, :, 0]  # SAME padding keeps the size
        Array([[4., 6., 6., 4.],
               [6., 9., 9., 6.],
               [6., 9., 9., 6.],
               [4., 6., 6., 4.]], dtype=float32)
    """
    x, w, b, n, dn_in, batch_shape = _prepare_conv("conv", x, w, b, dimension_numbers)
    dn = lax.conv_dimension_numbers(x.shape, w.shape, dn_in)
    padding = _padding("conv", padding, n)
    if isinstance(padding, str) and any(
        d > 1 for d in _ints("conv", "input_dilation", input_dilation, n)
    ):
        raise ValueError(
            "conv: string padding cannot be combined with input_dilation > 1; give explicit "
            "(low, high) pairs or use derivax.nn.conv_transpose."
        )
    y = lax.conv_general_dilated(
        x,
        w,
        _ints("conv", "strides", strides, n),
        padding,
        lhs_dilation=_ints("conv", "input_dilation", input_dilation, n),
        rhs_dilation=_ints("conv", "dilation", dilation, n),
        dimension_numbers=dn,
        feature_group_count=int(feature_group_count),
    )
    return _finish_conv("conv", y, b, dn, batch_shape)


def conv_transpose(
    x,
    w,
    b=None,
    *,
    strides=1,
    padding="SAME",
    dilation=1,
    dimension_numbers=None,
    transpose_kernel=False,
):
    """Transposed convolution (upsampling by ``strides``) with an optional bias.

    The semantics are those of :func:`derivax.lax.conv_transpose`: with ``"SAME"`` padding
    the spatial sizes are multiplied by the strides, with ``"VALID"`` they become
    ``in * stride + max(window - stride, 0)``. Layouts are as in :func:`conv`.

    Args:
        x: the input, ``(*batch, *spatial, in)`` by default.
        w: the kernel, ``(*window, in, out)`` by default (``(*window, out, in)`` read the
            other way with ``transpose_kernel=True``).
        b: optional bias of shape ``(out,)``.
        strides: an int or one per spatial dimension.
        padding: ``"SAME"``, ``"VALID"``, an int, or one int or ``(low, high)`` pair per
            spatial dimension (applied to the dilated input).
        dilation: kernel dilation, an int or one per dimension.
        dimension_numbers: ``None`` for channels-last, or an explicit layout.
        transpose_kernel: flip the kernel spatially and swap its feature axes, so that
            this is the gradient of :func:`conv` with the same kernel.

    Returns:
        The upsampled result.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> x = dnp.ones((1, 2, 2, 1))
        >>> derivax.nn.conv_transpose(x, dnp.ones((2, 2, 1, 3)), strides=2).shape
        (1, 4, 4, 3)
    """
    x, w, b, n, dn_in, batch_shape = _prepare_conv("conv_transpose", x, w, b, dimension_numbers)
    dn = lax.conv_dimension_numbers(x.shape, w.shape, dn_in)
    y = lax.conv_transpose(
        x,
        w,
        _ints("conv_transpose", "strides", strides, n),
        _padding("conv_transpose", padding, n),
        rhs_dilation=_ints("conv_transpose", "dilation", dilation, n),
        dimension_numbers=dn,
        transpose_kernel=transpose_kernel,
    )
    return _finish_conv("conv_transpose", y, b, dn, batch_shape)


def embedding_lookup(table, ids):
    """Rows of an embedding ``table`` at integer ``ids``: ``table[ids]``.

    Args:
        table: ``(num_embeddings, features)``.
        ids: integer array of any shape. Eagerly, an out-of-range id raises IndexError;
            under ``jit`` ids are clamped to the valid range (as JAX's gather does).

    Returns:
        ``(*ids.shape, features)``.

    Raises:
        TypeError: when ``ids`` are not integers.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> table = dnp.arange(6.0).reshape(3, 2)
        >>> derivax.nn.embedding_lookup(table, dnp.array([2, 0]))
        Array([[4., 5.],
               [0., 1.]], dtype=float32)
    """
    table = asarray_any(table)
    ids = asarray_any(ids)
    if ids.dtype.kind not in "iu":
        raise TypeError(
            f"embedding_lookup: ids must be integers, got dtype {ids.dtype}; convert them with "
            ".astype(derivax.numpy.int32)."
        )
    if table.ndim < 1:
        raise ValueError(
            f"embedding_lookup: the table must be at least 1-D, got shape {table.shape}."
        )
    return dnp.take(table, ids, axis=0)
