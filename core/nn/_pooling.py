"""Pooling: max, min and average over spatial windows.

The window slides over the last ``len(window_shape)`` axes other than ``channel_axis``
(default -1, channels last); axes before them are batch axes. So ``(N, H, W, C)`` and
unbatched ``(H, W, C)`` pool over ``H, W`` with ``channel_axis=-1``; ``(N, C, H, W)`` uses
``channel_axis=1`` and unbatched ``(C, H, W)`` ``channel_axis=0``; ``channel_axis=None``
pools the last axes of an input without channels.
"""

from __future__ import annotations

import numpy as np

from .. import lax
from .. import numpy as dnp
from ..lax._windows import padtype_to_pads, window_out_dim
from ..numpy._util import asarray_any

__all__ = ["avg_pool", "max_pool", "min_pool"]


def _ints(fname, name, v, n):
    if isinstance(v, (int, np.integer)):
        return (int(v),) * n
    out = tuple(int(s) for s in v)
    if len(out) != n or any(s < 1 for s in out):
        raise ValueError(
            f"{fname}: {name} needs {n} positive entries (one per pooled dimension), got {v!r}."
        )
    return out


def _setup(fname, x, window_shape, strides, padding, channel_axis):
    """Full-rank window parameters and the pooled axes."""
    x = asarray_any(x)
    if isinstance(window_shape, (int, np.integer)):
        window_shape = (window_shape,)
    window = _ints(fname, "window_shape", window_shape, len(tuple(window_shape)))
    n = len(window)
    strides = (1,) * n if strides is None else _ints(fname, "strides", strides, n)
    if channel_axis is None:
        candidates = list(range(x.ndim))
    else:
        if not -x.ndim <= channel_axis < x.ndim:
            raise ValueError(
                f"{fname}: channel_axis {channel_axis} is out of range for an input of shape "
                f"{x.shape}."
            )
        ch = channel_axis % x.ndim
        candidates = [a for a in range(x.ndim) if a != ch]
    if len(candidates) < n:
        raise ValueError(
            f"{fname}: a {n}-D window {window} needs {n} spatial axes, but the input of shape "
            f"{x.shape} has only {len(candidates)} besides the channel axis {channel_axis}."
        )
    axes = candidates[len(candidates) - n :]
    spatial = [x.shape[a] for a in axes]
    if isinstance(padding, str):
        pads = padtype_to_pads(spatial, window, strides, padding)
    elif isinstance(padding, (int, np.integer)):
        pads = [(int(padding), int(padding))] * n
    else:
        pads = [
            (int(p), int(p)) if isinstance(p, (int, np.integer)) else tuple(map(int, p))
            for p in padding
        ]
        if len(pads) != n:
            raise ValueError(
                f"{fname}: padding needs {n} entries (one per pooled dimension), got {padding!r}."
            )
    full_window = [1] * x.ndim
    full_strides = [1] * x.ndim
    full_pads = [(0, 0)] * x.ndim
    for a, k, s, p in zip(axes, window, strides, pads, strict=True):
        full_window[a], full_strides[a], full_pads[a] = k, s, p
    return x, axes, window, strides, pads, tuple(full_window), tuple(full_strides), tuple(full_pads)


def max_pool(x, window_shape, strides=None, padding="VALID", *, channel_axis=-1):
    """Maximum over each window (padding never wins).

    Args:
        x: the input, e.g. ``(N, H, W, C)``; see the module notes for the layout.
        window_shape: window size per pooled axis (an int for 1-D pooling).
        strides: stride per pooled axis; default 1 (as Flax; pass ``window_shape`` for
            non-overlapping windows).
        padding: ``"SAME"``, ``"SAME_LOWER"``, ``"VALID"``, an int, or one int or
            ``(low, high)`` pair per pooled axis.
        channel_axis: the channel axis, or None.

    Returns:
        The pooled array. Its gradient flows to the first maximum of each window.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> x = dnp.arange(16.0).reshape(1, 4, 4, 1)
        >>> derivax.nn.max_pool(x, (2, 2), strides=(2, 2))[0, :, :, 0]
        Array([[ 5.,  7.],
               [13., 15.]], dtype=float32)
    """
    x, _, _, _, _, window, strides, pads = _setup(
        "max_pool", x, window_shape, strides, padding, channel_axis
    )
    return lax.reduce_window_max(x, window, strides, pads)


def min_pool(x, window_shape, strides=None, padding="VALID", *, channel_axis=-1):
    """Minimum over each window (padding never wins).

    Args:
        x: the input; see :func:`max_pool`.
        window_shape: window size per pooled axis.
        strides: stride per pooled axis (default 1).
        padding: as for :func:`max_pool`.
        channel_axis: the channel axis, or None.

    Returns:
        The pooled array.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.nn.min_pool(dnp.array([[3.0], [1.0], [2.0]]), (2,))[:, 0]
        Array([1., 1.], dtype=float32)
    """
    x, _, _, _, _, window, strides, pads = _setup(
        "min_pool", x, window_shape, strides, padding, channel_axis
    )
    return lax.reduce_window_min(x, window, strides, pads)


def _valid_counts(spatial, window, strides, pads):
    """Number of non-padding elements in each window, as a NumPy array over the pooled axes."""
    counts = np.ones((), np.float64)
    for size, k, s, (lo, hi) in zip(spatial, window, strides, pads, strict=True):
        n_out = window_out_dim(lo + size + hi, k, s)
        starts = np.arange(n_out) * s - lo
        c = np.clip(starts + k, 0, size) - np.clip(starts, 0, size)
        counts = np.multiply.outer(counts, c)
    return counts


def avg_pool(
    x, window_shape, strides=None, padding="VALID", *, count_include_pad=True, channel_axis=-1
):
    """Mean over each window.

    Args:
        x: the input; see :func:`max_pool`.
        window_shape: window size per pooled axis.
        strides: stride per pooled axis (default 1).
        padding: as for :func:`max_pool`.
        count_include_pad: divide by the full window size (padding counts as zeros);
            with False, divide by the number of input elements in the window.
        channel_axis: the channel axis, or None.

    Returns:
        The pooled array.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> x = dnp.array([1.0, 2.0, 3.0]).reshape(1, 3, 1)
        >>> derivax.nn.avg_pool(x, (2,), padding=((0, 1),))[0, :, 0]
        Array([1.5, 2.5, 1.5], dtype=float32)
        >>> derivax.nn.avg_pool(x, (2,), padding=((0, 1),), count_include_pad=False)[0, :, 0]
        Array([1.5, 2.5, 3. ], dtype=float32)
    """
    x, axes, window, strides_s, pads_s, full_w, full_s, full_p = _setup(
        "avg_pool", x, window_shape, strides, padding, channel_axis
    )
    if not (x.dtype.kind == "f" or x.dtype.name == "bfloat16"):
        x = x.astype(dnp.float32)
    total = lax.reduce_window_sum(x, full_w, full_s, full_p)
    if count_include_pad:
        return total / float(np.prod(window))
    counts = _valid_counts([x.shape[a] for a in axes], window, strides_s, pads_s)
    shape = [1] * x.ndim
    for a, c in zip(axes, counts.shape, strict=True):
        shape[a] = c
    return total / dnp.asarray(counts.reshape(shape), x.dtype)
