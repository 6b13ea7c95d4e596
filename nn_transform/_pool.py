"""Pooling: the functions `max_pool`, `avg_pool` and the modules `MaxPool`, `AvgPool`.

Which axes are pooled, for an input of rank ``r`` with ``channel_axis`` ``c``:

* an int ``window_shape`` pools every axis except the first (the batch axis) and ``c``;
* a sequence of length ``r`` gives the window of every axis (1 for unpooled axes);
* a shorter sequence pools that many axes, the last ones other than ``c``.

``avg_pool`` divides by the number of input elements in each window, so padding does not
dilute the edges.
"""

from __future__ import annotations

import derivax.nn as dnn
import derivax.numpy as dnp

from ._module import Module

__all__ = ["AvgPool", "MaxPool", "avg_pool", "max_pool"]


def _ints(who, name, v, n):
    if isinstance(v, int):
        return (v,) * n
    v = tuple(int(s) for s in v)
    if len(v) != n:
        raise ValueError(f"{who}: {name} needs 1 or {n} entries to match the window, got {v}.")
    return v


def _layout(who, x, window_shape, strides, channel_axis):
    """(window, strides, channel_axis) in the form ``derivax.nn`` pooling takes."""
    r = x.ndim
    if channel_axis is not None and not -r <= channel_axis < r:
        raise ValueError(f"{who}: channel_axis {channel_axis} is out of range for shape {x.shape}.")
    ch = None if channel_axis is None else channel_axis % r
    if isinstance(window_shape, int):
        n = len([a for a in range(1, r) if a != ch])
        if n == 0:
            raise ValueError(
                f"{who}: an int window pools every axis but the batch and channel axes; the "
                f"input of shape {x.shape} has none."
            )
        return (window_shape,) * n, _ints(who, "strides", strides, n), channel_axis
    window = tuple(int(w) for w in window_shape)
    if len(window) == r:  # one entry per axis of the input
        return window, _ints(who, "strides", strides, r), None
    return window, _ints(who, "strides", strides, len(window)), channel_axis


def max_pool(value, window_shape, strides, padding, channel_axis=-1):
    """Maximum over windows; see the module notes for the axes.

    Args:
        value: the input, e.g. ``(N, H, W, C)``.
        window_shape: an int, one entry per pooled axis, or one per input axis.
        strides: likewise.
        padding: ``"SAME"`` or ``"VALID"``.
        channel_axis: the channel axis (never pooled), or None.

    Returns:
        The pooled array.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> x = dnp.arange(16.0).reshape(1, 4, 4, 1)
        >>> nt.max_pool(x, 2, 2, "VALID")[0, :, :, 0]
        Array([[ 5.,  7.],
               [13., 15.]], dtype=float32)
    """
    value = dnp.asarray(value)
    window, strides, channel_axis = _layout("max_pool", value, window_shape, strides, channel_axis)
    return dnn.max_pool(value, window, strides, padding, channel_axis=channel_axis)


def avg_pool(value, window_shape, strides, padding, channel_axis=-1):
    """Mean over windows (padding excluded from the count); see the module notes.

    Args:
        value: the input, e.g. ``(N, H, W, C)``.
        window_shape: an int, one entry per pooled axis, or one per input axis.
        strides: likewise.
        padding: ``"SAME"`` or ``"VALID"``.
        channel_axis: the channel axis (never pooled), or None.

    Returns:
        The pooled array.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> x = dnp.arange(16.0).reshape(1, 4, 4, 1)
        >>> nt.avg_pool(x, 2, 2, "VALID")[0, :, :, 0]
        Array([[ 2.5,  4.5],
               [10.5, 12.5]], dtype=float32)
    """
    value = dnp.asarray(value)
    window, strides, channel_axis = _layout("avg_pool", value, window_shape, strides, channel_axis)
    return dnn.avg_pool(
        value, window, strides, padding, count_include_pad=False, channel_axis=channel_axis
    )


class _Pool(Module):
    """A pooling function as a module (no parameters); subclasses set ``reducer``."""

    reducer = None  # the pooling function: (value, window_shape, strides, padding, channel_axis)

    def __init__(self, window_shape, strides, padding, channel_axis=-1, name=None):
        super().__init__(name=name)
        self.window_shape = window_shape
        self.strides = strides
        self.padding = padding
        self.channel_axis = channel_axis

    def __call__(self, value):
        """Pool ``value`` (see the module notes for which axes)."""
        return type(self).reducer(
            value, self.window_shape, self.strides, self.padding, self.channel_axis
        )


class MaxPool(_Pool):
    """`max_pool` as a module (no parameters).

    Args:
        window_shape: the window (see the module notes).
        strides: the strides.
        padding: ``"SAME"`` or ``"VALID"``.
        channel_axis: the channel axis, or None.
        name: the module name.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> f = nt.transform(lambda x: nt.MaxPool(2, 2, "SAME")(x))
        >>> f.apply({}, None, dnp.ones((1, 5, 5, 3))).shape
        (1, 3, 3, 3)
    """

    reducer = staticmethod(max_pool)


class AvgPool(_Pool):
    """`avg_pool` as a module (no parameters).

    Args:
        window_shape: the window (see the module notes).
        strides: the strides.
        padding: ``"SAME"`` or ``"VALID"``.
        channel_axis: the channel axis, or None.
        name: the module name.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> f = nt.transform(lambda x: nt.AvgPool(2, 2, "VALID")(x))
        >>> f.apply({}, None, dnp.ones((1, 4, 4, 3))).shape
        (1, 2, 2, 3)
    """

    reducer = staticmethod(avg_pool)
