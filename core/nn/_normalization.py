"""Normalization layer math: batch, layer, group and RMS normalization.

Conventions shared by the three NN libraries:

* Variances are biased (divided by the number of elements, not ``n - 1``), as in Flax,
  Haiku and Equinox, and computed as the mean squared deviation from the mean.
* ``batch_norm`` running averages follow Flax's ``momentum`` convention:
  ``new = momentum * old + (1 - momentum) * batch_statistic`` (the biased batch variance).
* Normalized values are ``(x - mean) * (rsqrt(var + epsilon) * scale) + offset``.
"""

from __future__ import annotations

from typing import NamedTuple

from .. import numpy as dnp
from ..lax import _elementwise as E
from ..numpy._util import asarray_any, promote_inexact

__all__ = ["BatchNormStats", "batch_norm", "group_norm", "layer_norm", "rms_norm"]


def _axes(fname, axis, ndim, name="axis"):
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"{fname}: {name} {a} is out of range for an input of rank {ndim}.")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{fname}: {name} {axis} repeats an axis.")
    return tuple(sorted(out))


def _place(fname, name, p, x, axes):
    """Reshape a parameter of shape ``x.shape[axes]`` to broadcast against ``x``."""
    if p is None:
        return None
    p = asarray_any(p)
    want = tuple(x.shape[a] for a in axes)
    if p.ndim == x.ndim:
        return p
    if p.shape != want:
        raise ValueError(
            f"{fname}: {name} must have shape {want} (the sizes of axes {axes} of the input "
            f"of shape {x.shape}), got {p.shape}."
        )
    shape = [1] * x.ndim
    for a, s in zip(axes, want, strict=True):
        shape[a] = s
    return dnp.reshape(p, tuple(shape))


def _normalize(x, mean, var, scale, offset, epsilon):
    mul = E.rsqrt(var + dnp.asarray(epsilon, var.dtype))
    if scale is not None:
        mul = mul * scale
    y = (x - mean) * mul
    return y if offset is None else y + offset


def _pmean(x, axis_name):
    from .. import lax

    pmean = getattr(lax, "pmean", None)
    if pmean is None:
        raise NotImplementedError(
            "batch_norm: axis_name needs derivax.lax.pmean, which this build does not have yet; "
            "compute the statistics over an explicit batch axis instead."
        )
    return pmean(x, axis_name)


class BatchNormStats(NamedTuple):
    """The statistics of one :func:`batch_norm` call.

    Attributes:
        mean: the mean used to normalize (the batch mean in training, the running mean in
            inference), with the shape of the feature axes.
        var: the (biased) variance used to normalize.
        running_mean: the updated running mean (unchanged in inference; None when no
            running mean was given).
        running_var: the updated running variance (likewise).

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> _, stats = derivax.nn.batch_norm(dnp.array([[0.0], [2.0]]), training=True)
        >>> stats.mean, stats.var
        (Array([1.], dtype=float32), Array([1.], dtype=float32))
    """

    mean: object
    var: object
    running_mean: object
    running_var: object


def batch_norm(
    x,
    scale=None,
    offset=None,
    running_mean=None,
    running_var=None,
    *,
    training,
    momentum=0.99,
    epsilon=1e-5,
    axis=-1,
    axis_name=None,
):
    """Batch normalization in training or inference mode.

    In training, the statistics are the mean and (biased) variance of ``x`` over every axis
    except the feature ``axis`` (and, with ``axis_name``, across the ``vmap`` axis of that
    name, for per-example code); the running averages are updated as
    ``momentum * old + (1 - momentum) * batch``. In inference the running averages
    normalize and are returned unchanged.

    Args:
        x: the input, e.g. ``(N, H, W, C)``.
        scale: optional ``gamma`` with the shape of the feature axes.
        offset: optional ``beta`` with the shape of the feature axes.
        running_mean: running mean (feature shape); required in inference, optional in
            training (then ``stats.running_mean`` is None).
        running_var: running variance, likewise.
        training: use and return batch statistics (True) or the running ones (False).
        momentum: the running-average decay (Flax's convention; PyTorch's ``momentum=m``
            is ``1 - m`` here).
        epsilon: added to the variance.
        axis: the feature axis or axes.
        axis_name: name of a ``vmap`` axis to average the statistics over.

    Returns:
        ``(y, stats)``: the normalized array and a :class:`BatchNormStats`.

    Raises:
        ValueError: in inference without running statistics, or for parameter shapes that
            do not match the feature axes.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> x = dnp.array([[1.0, 10.0], [3.0, 30.0]])
        >>> y, stats = derivax.nn.batch_norm(
        ...     x, running_mean=dnp.zeros(2), running_var=dnp.ones(2), training=True, momentum=0.9
        ... )
        >>> y
        Array([[-0.999995, -1.      ],
               [ 0.999995,  1.      ]], dtype=float32)
        >>> stats.running_mean
        Array([0.2, 2. ], dtype=float32)
    """
    x = promote_inexact("batch_norm", x)[0]
    feat = _axes("batch_norm", axis, x.ndim)
    reduce = tuple(a for a in range(x.ndim) if a not in feat)
    feat_shape = tuple(x.shape[a] for a in feat)
    scale_b = _place("batch_norm", "scale", scale, x, feat)
    offset_b = _place("batch_norm", "offset", offset, x, feat)
    for name, r in (("running_mean", running_mean), ("running_var", running_var)):
        if r is not None and asarray_any(r).shape != feat_shape:
            raise ValueError(
                f"batch_norm: {name} must have the feature shape {feat_shape} (axes {feat} of "
                f"the input of shape {x.shape}), got {asarray_any(r).shape}."
            )
    if not training:
        if running_mean is None or running_var is None:
            raise ValueError(
                "batch_norm: inference (training=False) normalizes with the running "
                "statistics; pass running_mean and running_var, or use training=True."
            )
        mean = asarray_any(running_mean).astype(x.dtype)
        var = asarray_any(running_var).astype(x.dtype)
        y = _normalize(
            x,
            _place("batch_norm", "running_mean", mean, x, feat),
            _place("batch_norm", "running_var", var, x, feat),
            scale_b,
            offset_b,
            epsilon,
        )
        return y, BatchNormStats(mean, var, running_mean, running_var)
    mean_k = dnp.mean(x, axis=reduce, keepdims=True)
    if axis_name is not None:
        mean_k = _pmean(mean_k, axis_name)
    var_k = dnp.mean(dnp.square(x - mean_k), axis=reduce, keepdims=True)
    if axis_name is not None:
        var_k = _pmean(var_k, axis_name)
    y = _normalize(x, mean_k, var_k, scale_b, offset_b, epsilon)
    mean = dnp.reshape(mean_k, feat_shape)
    var = dnp.reshape(var_k, feat_shape)
    new_mean = new_var = None
    if running_mean is not None:
        new_mean = momentum * asarray_any(running_mean) + (1.0 - momentum) * mean
    if running_var is not None:
        new_var = momentum * asarray_any(running_var) + (1.0 - momentum) * var
    return y, BatchNormStats(mean, var, new_mean, new_var)


def layer_norm(x, scale=None, offset=None, *, axis=-1, epsilon=1e-5):
    """Layer normalization: standardize over ``axis``, then scale and shift.

    Args:
        x: the input.
        scale: optional scale, of the shape of the normalized axes (or of ``x``'s rank,
            broadcastable).
        offset: optional offset, likewise.
        axis: the axis or axes normalized over (default the last).
        epsilon: added to the variance.

    Returns:
        The normalized array.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.nn.layer_norm(dnp.array([[1.0, 3.0]]), dnp.array([1.0, 2.0]), dnp.array([0.0, 1.0]))
        Array([[-0.999995,  2.99999 ]], dtype=float32)
    """
    x = promote_inexact("layer_norm", x)[0]
    axes = _axes("layer_norm", axis, x.ndim)
    mean = dnp.mean(x, axis=axes, keepdims=True)
    var = dnp.mean(dnp.square(x - mean), axis=axes, keepdims=True)
    return _normalize(
        x,
        mean,
        var,
        _place("layer_norm", "scale", scale, x, axes),
        _place("layer_norm", "offset", offset, x, axes),
        epsilon,
    )


def rms_norm(x, scale=None, *, axis=-1, epsilon=1e-6):
    """Root-mean-square normalization: ``x * rsqrt(mean(x^2) + epsilon) * scale``.

    Args:
        x: the input.
        scale: optional scale of the shape of the normalized axes.
        axis: the axis or axes normalized over (default the last).
        epsilon: added to the mean square.

    Returns:
        The normalized array.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.nn.rms_norm(dnp.array([3.0, 4.0]), epsilon=0.0)
        Array([0.84852815, 1.1313709 ], dtype=float32)
    """
    x = promote_inexact("rms_norm", x)[0]
    axes = _axes("rms_norm", axis, x.ndim)
    ms = dnp.mean(dnp.square(x), axis=axes, keepdims=True)
    mul = E.rsqrt(ms + dnp.asarray(epsilon, ms.dtype))
    scale = _place("rms_norm", "scale", scale, x, axes)
    if scale is not None:
        mul = mul * scale
    return x * mul


def group_norm(
    x, num_groups, scale=None, offset=None, *, epsilon=1e-5, channel_axis=-1, batch_dims=1
):
    """Group normalization: split the channels into ``num_groups`` groups and standardize
    each group over its channels and every non-batch axis.

    Args:
        x: the input, e.g. ``(N, H, W, C)`` (or unbatched ``(C, H, W)`` with
            ``channel_axis=0, batch_dims=0``).
        num_groups: the number of groups; it must divide the channel count.
        scale: optional per-channel scale ``(C,)``.
        offset: optional per-channel offset ``(C,)``.
        epsilon: added to the variance.
        channel_axis: the channel axis.
        batch_dims: the number of leading batch axes (statistics are per example).

    Returns:
        The normalized array.

    Raises:
        ValueError: when ``num_groups`` does not divide the channel count.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> x = dnp.array([[1.0, 3.0, 10.0, 30.0]])
        >>> derivax.nn.group_norm(x, 2)
        Array([[-0.999995,  0.999995, -1.      ,  1.      ]], dtype=float32)
    """
    x = promote_inexact("group_norm", x)[0]
    if not -x.ndim <= channel_axis < x.ndim:
        raise ValueError(
            f"group_norm: channel_axis {channel_axis} is out of range for shape {x.shape}."
        )
    ch = channel_axis % x.ndim
    if ch < batch_dims:
        raise ValueError(
            f"group_norm: channel_axis {channel_axis} falls among the {batch_dims} batch axes "
            f"of the input of shape {x.shape}."
        )
    c = x.shape[ch]
    g = int(num_groups)
    if g < 1 or c % g:
        raise ValueError(
            f"group_norm: num_groups={num_groups} must divide the {c} channels of axis "
            f"{channel_axis} (input shape {x.shape})."
        )
    moved = dnp.moveaxis(x, ch, -1)
    grouped = dnp.reshape(moved, (*moved.shape[:-1], g, c // g))
    axes = tuple(a for a in range(batch_dims, grouped.ndim) if a != grouped.ndim - 2)
    mean = dnp.mean(grouped, axis=axes, keepdims=True)
    var = dnp.mean(dnp.square(grouped - mean), axis=axes, keepdims=True)
    y = (grouped - mean) * E.rsqrt(var + dnp.asarray(epsilon, var.dtype))
    y = dnp.moveaxis(dnp.reshape(y, moved.shape), -1, ch)
    scale = _place("group_norm", "scale", scale, x, (ch,))
    offset = _place("group_norm", "offset", offset, x, (ch,))
    if scale is not None:
        y = y * scale
    return y if offset is None else y + offset
