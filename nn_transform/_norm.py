"""Normalization: `BatchNorm` (with `ExponentialMovingAverage` state), `LayerNorm`,
`GroupNorm` and `RMSNorm`. The arithmetic is ``derivax.nn``'s."""

from __future__ import annotations

import derivax.nn as dnn
import derivax.numpy as dnp

from ._base import get_parameter, get_state, running_init, set_state
from ._basic import param_dtype
from ._module import Module

__all__ = ["BatchNorm", "ExponentialMovingAverage", "GroupNorm", "LayerNorm", "RMSNorm"]


def _axes(who, axis, ndim, name="axis") -> tuple[int, ...]:
    """``axis`` (an int, a sequence or a slice) as sorted non-negative axes of ``ndim``."""
    if isinstance(axis, slice):
        return tuple(range(ndim))[axis]
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"{who}: {name} {a} is out of range for an input of rank {ndim}.")
    return tuple(sorted({a % ndim for a in axes}))


def _full_rank(p, ndim, axes):
    """Reshape a parameter over ``axes`` so that it broadcasts against a rank-``ndim`` input."""
    if p is None:
        return None
    p = dnp.asarray(p)
    if p.ndim == ndim:
        return p
    shape = [1] * ndim
    for a, s in zip(axes, p.shape, strict=True):
        shape[a] = s
    return dnp.reshape(p, tuple(shape))


class ExponentialMovingAverage(Module):
    """A moving average kept in state: ``hidden = decay * hidden + (1 - decay) * value``.

    With ``zero_debias`` (the default) the average is ``hidden / (1 - decay^t)`` after
    ``t`` updates, so it is not biased towards the zero it starts from. State: ``counter``
    (int32), ``hidden`` and ``average``; ``init`` leaves ``counter=0``, ``hidden=0`` and
    ``average`` equal to the first value.

    Args:
        decay: the decay rate in ``[0, 1]``.
        zero_debias: whether to divide out the bias towards zero.
        warmup_length: with ``zero_debias=False``, the average is the latest value for the
            first ``warmup_length`` updates, then starts decaying.
        name: the module name.

    Example:
        >>> import nn_transform as nt
        >>> t = nt.transform_with_state(lambda v: nt.ExponentialMovingAverage(0.5)(v))
        >>> params, state = t.init(None, 1.0)
        >>> avg, state = t.apply(params, state, None, 2.0)
        >>> avg, state["exponential_moving_average"]["counter"]
        (Array(2., dtype=float32), Array(1, dtype=int32))
    """

    def __init__(self, decay, zero_debias=True, warmup_length=0, name=None):
        super().__init__(name=name)
        if warmup_length and zero_debias:
            raise ValueError(
                "ExponentialMovingAverage: warmup_length > 0 needs zero_debias=False (the "
                "warm-up replaces the zero start that debiasing corrects)."
            )
        self.decay = decay
        self.zero_debias = zero_debias
        self.warmup_length = int(warmup_length)

    def __call__(self, value, update_stats=True):
        """Fold ``value`` into the average and return the new average.

        Args:
            value: an array (or scalar).
            update_stats: store the new state (False computes it without storing).

        Returns:
            The new average.

        Example:
            >>> import nn_transform as nt
            >>> t = nt.transform_with_state(lambda v: nt.ExponentialMovingAverage(0.9)(v))
            >>> t.apply(*t.init(None, 3.0), None, 3.0)[0]
            Array(3., dtype=float32)
        """
        value = dnp.asarray(value)
        if not dnp.issubdtype(value.dtype, dnp.inexact):
            value = value.astype(dnp.float32)
        counter = get_state("counter", (), dnp.int32, init=dnp.zeros) + 1
        decay = dnp.asarray(self.decay, value.dtype)
        if self.warmup_length > 0:
            decay = dnp.where(counter <= self.warmup_length, dnp.zeros_like(decay), decay)
        hidden = get_state("hidden", value.shape, value.dtype, init=dnp.zeros)
        get_state("average", value.shape, value.dtype, init=lambda *_: value)
        hidden = hidden - (hidden - value) * (1 - decay)
        average = hidden
        if self.zero_debias:
            average = hidden / (1 - decay ** counter.astype(value.dtype))
        if update_stats:
            set_state("counter", counter)
            set_state("hidden", hidden)
            set_state("average", average)
        return average

    @property
    def average(self):
        """The current average (state ``average``)."""
        return get_state("average")


class BatchNorm(Module):
    """Batch normalization with moving averages of the statistics in state.

    Training (``is_training=True``) normalizes with the batch mean and (biased) variance
    and folds them into the moving averages ``mean_ema`` and ``var_ema`` (zero-debiased
    `ExponentialMovingAverage` with ``decay_rate``); evaluation normalizes with the
    averages. Parameters ``scale`` and ``offset`` and the statistics have the input's rank
    with 1 on the reduced axes (``(1, 1, 1, C)`` for ``NHWC``).

    Args:
        create_scale: learn a ``scale`` (gamma), initialized to ones.
        create_offset: learn an ``offset`` (beta), initialized to zeros.
        decay_rate: the moving averages' decay (e.g. 0.9 or 0.99).
        eps: added to the variance.
        scale_init: initializer of ``scale``.
        offset_init: initializer of ``offset``.
        axis: the axes reduced over (default: all but the channel axis).
        cross_replica_axis: a ``vmap`` axis name to average the statistics over.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        name: the module name.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> def f(x, is_training):
        ...     return nt.BatchNorm(True, True, 0.9)(x, is_training)
        >>> t = nt.transform_with_state(f)
        >>> x = dnp.array([[1.0], [3.0]])
        >>> params, state = t.init(None, x, True)
        >>> y, state = t.apply(params, state, None, x, True)
        >>> y
        Array([[-0.999995],
               [ 0.999995]], dtype=float32)
        >>> state["batch_norm/~/mean_ema"]["average"]
        Array([[2.]], dtype=float32)
    """

    def __init__(
        self,
        create_scale,
        create_offset,
        decay_rate,
        eps=1e-5,
        scale_init=None,
        offset_init=None,
        axis=None,
        cross_replica_axis=None,
        data_format="channels_last",
        name=None,
    ):
        super().__init__(name=name)
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(
                f"{self.module_name}: data_format must be 'channels_last' or 'channels_first', "
                f"got {data_format!r}."
            )
        if not create_scale and scale_init is not None:
            raise ValueError(f"{self.module_name}: scale_init given but create_scale=False.")
        if not create_offset and offset_init is not None:
            raise ValueError(f"{self.module_name}: offset_init given but create_offset=False.")
        self.create_scale = create_scale
        self.create_offset = create_offset
        self.eps = eps
        self.scale_init = scale_init or dnp.ones
        self.offset_init = offset_init or dnp.zeros
        self.axis = axis
        self.cross_replica_axis = cross_replica_axis
        self.channel_index = -1 if data_format == "channels_last" else 1
        self.mean_ema = ExponentialMovingAverage(decay_rate, name="mean_ema")
        self.var_ema = ExponentialMovingAverage(decay_rate, name="var_ema")

    def __call__(self, inputs, is_training, test_local_stats=False, scale=None, offset=None):
        """Normalize ``inputs``.

        Args:
            inputs: the input, e.g. ``(N, H, W, C)``.
            is_training: use and update batch statistics (True) or use the averages.
            test_local_stats: in evaluation, normalize with the batch statistics anyway
                (without updating the averages).
            scale: a scale to use when ``create_scale=False``.
            offset: an offset to use when ``create_offset=False``.

        Returns:
            The normalized input.

        Example:
            >>> import derivax.numpy as dnp
            >>> import nn_transform as nt
            >>> t = nt.transform_with_state(lambda x: nt.BatchNorm(False, False, 0.9)(x, False))
            >>> t.apply(*t.init(None, dnp.ones((2, 1))), None, dnp.ones((2, 1)))[0].shape
            (2, 1)
        """
        inputs = dnp.asarray(inputs)
        who = self.module_name
        if self.create_scale and scale is not None:
            raise ValueError(f"{who}: scale was passed to a BatchNorm with create_scale=True.")
        if self.create_offset and offset is not None:
            raise ValueError(f"{who}: offset was passed to a BatchNorm with create_offset=True.")
        ndim = inputs.ndim
        if ndim < 2:
            raise ValueError(
                f"{who}: BatchNorm needs a batch and a channel axis, got {inputs.shape}."
            )
        channel = self.channel_index % ndim
        reduced = (
            tuple(a for a in range(ndim) if a != channel)
            if self.axis is None
            else _axes(who, self.axis, ndim)
        )
        features = tuple(a for a in range(ndim) if a not in reduced)
        stat_shape = tuple(1 if a in reduced else inputs.shape[a] for a in range(ndim))
        feature_shape = tuple(inputs.shape[a] for a in features)
        dtype = param_dtype(inputs)
        if self.create_scale:
            scale = get_parameter("scale", stat_shape, dtype, init=self.scale_init)
        if self.create_offset:
            offset = get_parameter("offset", stat_shape, dtype, init=self.offset_init)

        def normalize(**stats):
            return dnn.batch_norm(
                inputs,
                scale,
                offset,
                epsilon=self.eps,
                axis=features,
                axis_name=self.cross_replica_axis,
                **stats,
            )[0]

        local = is_training or test_local_stats or running_init()
        if local:
            y, stats = dnn.batch_norm(
                inputs,
                scale,
                offset,
                training=True,
                epsilon=self.eps,
                axis=features,
                axis_name=self.cross_replica_axis,
            )
            mean = dnp.reshape(stats.mean, stat_shape)
            var = dnp.reshape(stats.var, stat_shape)
            # In init the averages are created from this batch even in evaluation mode.
            self.mean_ema(mean, update_stats=bool(is_training))
            self.var_ema(var, update_stats=bool(is_training))
            if is_training or test_local_stats:
                return y
        mean = dnp.reshape(self.mean_ema.average, feature_shape).astype(inputs.dtype)
        var = dnp.reshape(self.var_ema.average, feature_shape).astype(inputs.dtype)
        return normalize(running_mean=mean, running_var=var, training=False)


class LayerNorm(Module):
    """Layer normalization over ``axis``, with a learned scale and offset.

    Args:
        axis: the axes normalized over (an int, a sequence or a slice), e.g. -1.
        create_scale: learn a ``scale`` (initialized to ones).
        create_offset: learn an ``offset`` (initialized to zeros).
        eps: added to the variance.
        scale_init: initializer of ``scale``.
        offset_init: initializer of ``offset``.
        use_fast_variance: accepted for compatibility; the variance is always the mean
            squared deviation.
        name: the module name.
        param_axis: the axes the parameters span (default -1, the features).

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> t = nt.transform(lambda x: nt.LayerNorm(-1, True, True)(x))
        >>> x = dnp.array([[1.0, 3.0]])
        >>> t.apply(t.init(None, x), None, x)
        Array([[-0.999995,  0.999995]], dtype=float32)
    """

    def __init__(
        self,
        axis,
        create_scale,
        create_offset,
        eps=1e-5,
        scale_init=None,
        offset_init=None,
        use_fast_variance=False,
        name=None,
        *,
        param_axis=None,
    ):
        super().__init__(name=name)
        if not create_scale and scale_init is not None:
            raise ValueError(f"{self.module_name}: scale_init given but create_scale=False.")
        if not create_offset and offset_init is not None:
            raise ValueError(f"{self.module_name}: offset_init given but create_offset=False.")
        self.axis = axis
        self.create_scale = create_scale
        self.create_offset = create_offset
        self.eps = eps
        self.scale_init = scale_init or dnp.ones
        self.offset_init = offset_init or dnp.zeros
        self.use_fast_variance = use_fast_variance
        self.param_axis = -1 if param_axis is None else param_axis

    def __call__(self, inputs, scale=None, offset=None):
        inputs = dnp.asarray(inputs)
        ndim = inputs.ndim
        axes = _axes(self.module_name, self.axis, ndim)
        param_axes = _axes(self.module_name, self.param_axis, ndim, "param_axis")
        param_shape = tuple(inputs.shape[a] for a in param_axes)
        dtype = param_dtype(inputs)
        if self.create_scale:
            scale = get_parameter("scale", param_shape, dtype, init=self.scale_init)
        if self.create_offset:
            offset = get_parameter("offset", param_shape, dtype, init=self.offset_init)
        return dnn.layer_norm(
            inputs,
            _full_rank(scale, ndim, param_axes),
            _full_rank(offset, ndim, param_axes),
            axis=axes,
            epsilon=self.eps,
        )


class RMSNorm(Module):
    """Root-mean-square normalization: ``x / sqrt(mean(x^2) + eps) * scale``.

    Args:
        axis: the axes normalized over.
        eps: added to the mean square.
        scale_init: initializer of ``scale`` (default ones).
        name: the module name.
        create_scale: learn a ``scale``.
        param_axis: the axes the scale spans (default -1).

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> t = nt.transform(lambda x: nt.RMSNorm(-1, eps=0.0)(x))
        >>> x = dnp.array([3.0, 4.0])
        >>> t.apply(t.init(None, x), None, x)
        Array([0.84852815, 1.1313709 ], dtype=float32)
    """

    def __init__(
        self, axis, eps=1e-5, scale_init=None, name=None, create_scale=True, *, param_axis=None
    ):
        super().__init__(name=name)
        if not create_scale and scale_init is not None:
            raise ValueError(f"{self.module_name}: scale_init given but create_scale=False.")
        self.axis = axis
        self.eps = eps
        self.scale_init = scale_init or dnp.ones
        self.create_scale = create_scale
        self.param_axis = -1 if param_axis is None else param_axis

    def __call__(self, inputs):
        inputs = dnp.asarray(inputs)
        ndim = inputs.ndim
        axes = _axes(self.module_name, self.axis, ndim)
        scale = None
        if self.create_scale:
            param_axes = _axes(self.module_name, self.param_axis, ndim, "param_axis")
            shape = tuple(inputs.shape[a] for a in param_axes)
            scale = get_parameter("scale", shape, param_dtype(inputs), init=self.scale_init)
            scale = _full_rank(scale, ndim, param_axes)
        return dnn.rms_norm(inputs, scale, axis=axes, epsilon=self.eps)


class GroupNorm(Module):
    """Group normalization: statistics per example over groups of channels.

    Args:
        groups: the number of groups; it must divide the channel count.
        axis: the axes the statistics span (default every axis after the batch axis);
            they must be all the axes from some axis ``k`` on.
        create_scale: learn a per-channel ``scale``.
        create_offset: learn a per-channel ``offset``.
        eps: added to the variance.
        scale_init: initializer of ``scale``.
        offset_init: initializer of ``offset``.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        name: the module name.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> t = nt.transform(lambda x: nt.GroupNorm(2)(x))
        >>> x = dnp.array([[1.0, 3.0, 10.0, 30.0]])
        >>> t.apply(t.init(None, x), None, x)
        Array([[-0.999995,  0.999995, -1.      ,  1.      ]], dtype=float32)
    """

    def __init__(
        self,
        groups,
        axis=slice(1, None),
        create_scale=True,
        create_offset=True,
        eps=1e-5,
        scale_init=None,
        offset_init=None,
        data_format="channels_last",
        name=None,
    ):
        super().__init__(name=name)
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(
                f"{self.module_name}: data_format must be 'channels_last' or 'channels_first', "
                f"got {data_format!r}."
            )
        self.groups = int(groups)
        self.axis = axis
        self.create_scale = create_scale
        self.create_offset = create_offset
        self.eps = eps
        self.scale_init = scale_init or dnp.ones
        self.offset_init = offset_init or dnp.zeros
        self.channel_index = -1 if data_format == "channels_last" else 1

    def __call__(self, x, scale=None, offset=None):
        x = dnp.asarray(x)
        ndim = x.ndim
        axes = _axes(self.module_name, self.axis, ndim)
        if not axes or axes != tuple(range(axes[0], ndim)):
            raise ValueError(
                f"{self.module_name}: axis must be every axis from some k on (statistics per "
                f"example), got {self.axis!r} for an input of rank {ndim}."
            )
        channel = self.channel_index % ndim
        dtype = param_dtype(x)
        if self.create_scale:
            scale = get_parameter("scale", (x.shape[channel],), dtype, init=self.scale_init)
        if self.create_offset:
            offset = get_parameter("offset", (x.shape[channel],), dtype, init=self.offset_init)
        return dnn.group_norm(
            x,
            self.groups,
            scale,
            offset,
            epsilon=self.eps,
            channel_axis=channel,
            batch_dims=axes[0],
        )
