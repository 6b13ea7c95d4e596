"""Normalization layers: `BatchNorm`, `LayerNorm`, `GroupNorm`, `RMSNorm`.

The math is `derivax.nn`'s; the modules declare ``scale`` and ``bias`` parameters (shaped
like the feature axes) and, for `BatchNorm`, the running ``mean`` and ``var`` in the
``batch_stats`` collection.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import derivax as dx
import derivax.nn
import derivax.numpy as dnp

from ._linear import _normalize_axes, cast
from ._module import Module, compact

__all__ = ["BatchNorm", "GroupNorm", "LayerNorm", "RMSNorm", "merge_param"]


def merge_param(name: str, module_value: Any, call_value: Any) -> Any:
    """Combine a setting given to the constructor with the same one given at call time.

    Exactly one of the two must be set (not None).

    Args:
        name: the setting's name (for the error message).
        module_value: the attribute's value.
        call_value: the call argument's value.

    Returns:
        The value that was given.

    Raises:
        ValueError: both or neither were given.

    Example:
        >>> merge_param("deterministic", None, True)
        True
    """
    if module_value is not None and call_value is not None:
        raise ValueError(
            f"{name!r} was given both to the constructor ({module_value!r}) and at call time "
            f"({call_value!r}); give it once."
        )
    if module_value is None and call_value is None:
        raise ValueError(
            f"{name!r} must be given to the constructor or at call time, e.g. "
            f"Layer(..., {name}=True) or layer(x, {name}=True)."
        )
    return module_value if call_value is None else call_value


def _feature_params(module, x, feature_axes, use_scale, use_bias):
    """``scale`` and ``bias`` of the feature shape, reshaped to broadcast against ``x``."""
    shape = tuple(x.shape[a] for a in feature_axes)
    broadcast = [1] * x.ndim
    for a in feature_axes:
        broadcast[a] = x.shape[a]
    scale = bias = None
    if use_scale:
        scale = module.param("scale", module.scale_init, shape, module.param_dtype)
        scale = dnp.reshape(scale, tuple(broadcast))
    if use_bias:
        bias = module.param("bias", module.bias_init, shape, module.param_dtype)
        bias = dnp.reshape(bias, tuple(broadcast))
    return scale, bias


class BatchNorm(Module):
    """Batch normalization with running statistics in the ``batch_stats`` collection.

    In training (``use_running_average=False``) the batch statistics normalize and the
    running averages are updated as ``momentum * old + (1 - momentum) * batch`` (Flax's
    convention): call ``apply(..., mutable=['batch_stats'])`` and keep the returned
    collection. In evaluation (``use_running_average=True``) the running averages
    normalize and nothing is written. ``init`` does not update the running averages.

    Attributes:
        use_running_average: evaluation mode; may instead be passed at call time.
        axis: the feature axis or axes (default -1).
        momentum: the decay of the running averages (default 0.99).
        epsilon: added to the variance (default 1e-5).
        dtype: the computation dtype.
        param_dtype: the dtype of ``scale`` and ``bias``.
        use_bias: learn an offset ``bias``.
        use_scale: learn a multiplier ``scale``.
        bias_init: initializer of ``bias`` (zeros).
        scale_init: initializer of ``scale`` (ones).
        axis_name: the name of a ``vmap`` axis (``nn.vmap``'s ``axis_name``) over which
            the statistics are averaged, for per-example code.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> import nn_modules as nn
        >>> bn = nn.BatchNorm(use_running_average=False, momentum=0.9)
        >>> x = dnp.array([[0.0, 10.0], [2.0, 30.0]])
        >>> variables = bn.init(derivax.random.key(0), x)
        >>> y, updates = bn.apply(variables, x, mutable=["batch_stats"])
        >>> updates["batch_stats"]["mean"]
        Array([0.1, 2. ], dtype=float32)
    """

    use_running_average: bool | None = None
    axis: int | Sequence[int] = -1
    momentum: float = 0.99
    epsilon: float = 1e-5
    dtype: Any = None
    param_dtype: Any = dnp.float32
    use_bias: bool = True
    use_scale: bool = True
    bias_init: Callable = dx.nn.initializers.zeros
    scale_init: Callable = dx.nn.initializers.ones
    axis_name: Any = None

    @compact
    def __call__(self, x, use_running_average: bool | None = None):
        """Normalize ``x``; ``use_running_average`` overrides the attribute when given."""
        use_running_average = merge_param(
            "use_running_average", self.use_running_average, use_running_average
        )
        x = dnp.asarray(x)
        feature_axes = _normalize_axes(self.axis, x.ndim, "BatchNorm")
        feature_shape = tuple(x.shape[a] for a in feature_axes)
        ra_mean = self.variable(
            "batch_stats", "mean", lambda s: dnp.zeros(s, dnp.float32), feature_shape
        )
        ra_var = self.variable(
            "batch_stats", "var", lambda s: dnp.ones(s, dnp.float32), feature_shape
        )
        scale = bias = None
        if self.use_scale:
            scale = self.param("scale", self.scale_init, feature_shape, self.param_dtype)
        if self.use_bias:
            bias = self.param("bias", self.bias_init, feature_shape, self.param_dtype)
        x, scale, bias = cast(self.dtype, x, scale, bias)
        y, stats = dx.nn.batch_norm(
            x,
            scale,
            bias,
            ra_mean.value,
            ra_var.value,
            training=not use_running_average,
            momentum=self.momentum,
            epsilon=self.epsilon,
            axis=feature_axes,
            axis_name=None if use_running_average else self.axis_name,
        )
        if not use_running_average and not self.is_initializing():
            ra_mean.value = stats.running_mean
            ra_var.value = stats.running_var
        return y


class LayerNorm(Module):
    """Layer normalization: standardize over ``reduction_axes`` then scale and shift.

    Attributes:
        epsilon: added to the variance (default 1e-6).
        dtype: the computation dtype.
        param_dtype: the dtype of the parameters.
        use_bias: learn ``bias``.
        use_scale: learn ``scale``.
        bias_init: initializer of ``bias``.
        scale_init: initializer of ``scale``.
        reduction_axes: the axes the statistics are computed over (default -1).
        feature_axes: the axes that have their own ``scale``/``bias`` (default -1).

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> import nn_modules as nn
        >>> y, v = nn.LayerNorm().init_with_output(derivax.random.key(0), dnp.array([[1.0, 3.0]]))
        >>> y
        Array([[-0.9999995,  0.9999995]], dtype=float32)
    """

    epsilon: float = 1e-6
    dtype: Any = None
    param_dtype: Any = dnp.float32
    use_bias: bool = True
    use_scale: bool = True
    bias_init: Callable = dx.nn.initializers.zeros
    scale_init: Callable = dx.nn.initializers.ones
    reduction_axes: int | Sequence[int] = -1
    feature_axes: int | Sequence[int] = -1

    @compact
    def __call__(self, x):
        """Normalize ``x``."""
        x = dnp.asarray(x)
        reduction = _normalize_axes(self.reduction_axes, x.ndim, "LayerNorm")
        features = _normalize_axes(self.feature_axes, x.ndim, "LayerNorm")
        scale, bias = _feature_params(self, x, features, self.use_scale, self.use_bias)
        x, scale, bias = cast(self.dtype, x, scale, bias)
        return dx.nn.layer_norm(x, scale, bias, axis=reduction, epsilon=self.epsilon)


class RMSNorm(Module):
    """Root-mean-square normalization: ``x / sqrt(mean(x**2) + epsilon) * scale``.

    Attributes:
        epsilon: added to the mean square (default 1e-6).
        dtype: the computation dtype.
        param_dtype: the dtype of ``scale``.
        use_scale: learn ``scale``.
        scale_init: initializer of ``scale`` (ones).
        reduction_axes: the axes averaged over (default -1).
        feature_axes: the axes that have their own ``scale`` (default -1).

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> import nn_modules as nn
        >>> y, v = nn.RMSNorm(epsilon=0.0).init_with_output(derivax.random.key(0), dnp.array([3.0, 4.0]))
        >>> y
        Array([0.84852815, 1.1313709 ], dtype=float32)
    """

    epsilon: float = 1e-6
    dtype: Any = None
    param_dtype: Any = dnp.float32
    use_scale: bool = True
    scale_init: Callable = dx.nn.initializers.ones
    reduction_axes: int | Sequence[int] = -1
    feature_axes: int | Sequence[int] = -1

    @compact
    def __call__(self, x):
        """Normalize ``x``."""
        x = dnp.asarray(x)
        reduction = _normalize_axes(self.reduction_axes, x.ndim, "RMSNorm")
        features = _normalize_axes(self.feature_axes, x.ndim, "RMSNorm")
        scale, _ = _feature_params(self, x, features, self.use_scale, False)
        x, scale = cast(self.dtype, x, scale)
        return dx.nn.rms_norm(x, scale, axis=reduction, epsilon=self.epsilon)


class GroupNorm(Module):
    """Group normalization: standardize groups of channels per example.

    The channels (last axis) are split into ``num_groups`` groups (or groups of
    ``group_size``); each group is standardized over its channels and every axis in
    ``reduction_axes`` (default: all but the first, batch, axis).

    Attributes:
        num_groups: the number of groups (default 32); None when ``group_size`` is given.
        group_size: channels per group, instead of ``num_groups``.
        epsilon: added to the variance (default 1e-6).
        dtype: the computation dtype.
        param_dtype: the dtype of the parameters.
        use_bias: learn ``bias`` (one per channel).
        use_scale: learn ``scale`` (one per channel).
        bias_init: initializer of ``bias``.
        scale_init: initializer of ``scale``.
        reduction_axes: the axes statistics are computed over; they must be trailing and
            include the channel axis. Default: every axis but the first.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> import nn_modules as nn
        >>> x = dnp.array([[1.0, 3.0, 10.0, 30.0]])
        >>> y, v = nn.GroupNorm(num_groups=2).init_with_output(derivax.random.key(0), x)
        >>> y
        Array([[-0.9999995,  0.9999995, -1.       ,  1.       ]], dtype=float32)
    """

    num_groups: int | None = 32
    group_size: int | None = None
    epsilon: float = 1e-6
    dtype: Any = None
    param_dtype: Any = dnp.float32
    use_bias: bool = True
    use_scale: bool = True
    bias_init: Callable = dx.nn.initializers.zeros
    scale_init: Callable = dx.nn.initializers.ones
    reduction_axes: Sequence[int] | None = None

    @compact
    def __call__(self, x):
        """Normalize ``x`` of shape ``(batch, ..., channels)``."""
        x = dnp.asarray(x)
        channels = x.shape[-1]
        if (self.num_groups is None) == (self.group_size is None):
            raise ValueError(
                "GroupNorm: give exactly one of num_groups and group_size, got "
                f"num_groups={self.num_groups}, group_size={self.group_size}."
            )
        if self.group_size is not None:
            if channels % self.group_size:
                raise ValueError(
                    f"GroupNorm: group_size={self.group_size} must divide the {channels} channels."
                )
            num_groups = channels // self.group_size
        else:
            num_groups = self.num_groups
        if self.reduction_axes is None:
            batch_dims = 1
        else:
            axes = _normalize_axes(self.reduction_axes, x.ndim, "GroupNorm")
            if x.ndim - 1 not in axes or sorted(axes) != list(range(min(axes), x.ndim)):
                raise ValueError(
                    f"GroupNorm: reduction_axes {self.reduction_axes} must be the trailing axes "
                    f"of the input of shape {x.shape}, channel axis included."
                )
            batch_dims = min(axes)
        scale, bias = _feature_params(self, x, (x.ndim - 1,), self.use_scale, self.use_bias)
        x, scale, bias = cast(self.dtype, x, scale, bias)
        flat = lambda p: None if p is None else dnp.reshape(p, (channels,))
        return dx.nn.group_norm(
            x,
            num_groups,
            flat(scale),
            flat(bias),
            epsilon=self.epsilon,
            channel_axis=-1,
            batch_dims=batch_dims,
        )
