"""Normalisation layers: `BatchNorm` (stateful), `LayerNorm`, `GroupNorm`, `RMSNorm`."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, ClassVar

import derivax
import derivax.numpy as dnp

from .._module import Module, field
from ._misc import as_input, check_size, float_dtype
from ._stateful import State, StateIndex

__all__ = ["BatchNorm", "GroupNorm", "LayerNorm", "RMSNorm"]


class _NoState:
    def __repr__(self) -> str:
        return "<no state>"


_NO_STATE: Any = _NoState()


def _with_state(y: Any, state: Any) -> Any:
    return y if state is _NO_STATE else (y, state)


def _shape(layer: str, shape: int | Sequence[int]) -> tuple[int, ...]:
    if isinstance(shape, int):
        return (shape,)
    try:
        return tuple(int(s) for s in shape)
    except TypeError:
        raise TypeError(
            f"{layer}: shape must be an int or a sequence of ints, got {shape!r}."
        ) from None


def _check_shape(layer: str, x: Any, shape: tuple[int, ...]) -> None:
    got = tuple(x.shape)
    if got == shape:
        return
    if got[1:] == shape:
        raise ValueError(
            f"{layer} expects one unbatched example of shape {shape}, got {got}: its extra "
            f"leading axis looks like a batch of {got[0]}. Layers in nn_pytree take one "
            f"example; batch them with derivax.vmap(layer)(x) (or nnp.filter_vmap(layer)(x))."
        )
    raise ValueError(
        f"{layer} was built for inputs of shape {shape} but got {got}. Build it with "
        f"shape={got}, or vmap it over the leading axes to normalise only the last ones."
    )


class LayerNorm(Module):
    """Standardises the whole input, then scales and shifts it elementwise.

    ``y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias`` with the statistics over
    every element. To normalise only the last axes, ``vmap`` over the others.

    Args:
        shape: The input shape (an int for a vector).
        eps: Added to the variance.
        use_weight: Learn ``weight`` (ones at first).
        use_bias: Learn ``bias`` (zeros at first).
        dtype: The parameters' dtype.
        elementwise_affine: If given, sets both ``use_weight`` and ``use_bias``.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_pytree as nnp
        >>> nnp.nn.LayerNorm(2)(dnp.array([1.0, 3.0]))
        Array([-0.999995,  0.999995], dtype=float32)
    """

    weight: derivax.Array | None
    bias: derivax.Array | None
    shape: tuple[int, ...] = field(static=True)
    eps: float = field(static=True)
    use_weight: bool = field(static=True)
    use_bias: bool = field(static=True)

    def __init__(
        self,
        shape: int | Sequence[int],
        eps: float = 1e-5,
        use_weight: bool = True,
        use_bias: bool = True,
        dtype: Any = None,
        *,
        elementwise_affine: bool | None = None,
    ):
        if elementwise_affine is not None:
            use_weight = use_bias = elementwise_affine
        self.shape = _shape("LayerNorm", shape)
        self.eps = eps
        self.use_weight = use_weight
        self.use_bias = use_bias
        dtype = float_dtype(dtype)
        self.weight = dnp.ones(self.shape, dtype) if use_weight else None
        self.bias = dnp.zeros(self.shape, dtype) if use_bias else None

    def __call__(self, x: Any, state: Any = _NO_STATE, *, key: Any = None) -> Any:
        """Normalises one example.

        Args:
            x: Shape ``shape``.
            state: Optional; passed through and returned (so the layer can sit in a
                `Sequential` that threads state).
            key: Ignored.

        Returns:
            The normalised array (and ``state`` if one was given).

        Raises:
            ValueError: For a batched input or a different shape.
        """
        x = as_input("LayerNorm", x)
        _check_shape("LayerNorm", x, self.shape)
        axes = tuple(range(x.ndim))
        y = derivax.nn.layer_norm(x, self.weight, self.bias, axis=axes, epsilon=self.eps)
        return _with_state(y, state)


class RMSNorm(Module):
    """Scales the input by the inverse of its root mean square, then scales and shifts it.

    ``y = x / sqrt(mean(x ** 2) + eps) * weight + bias`` over every element.

    Args:
        shape: The input shape (an int for a vector).
        eps: Added to the mean square.
        use_weight: Learn ``weight`` (ones at first).
        use_bias: Learn ``bias`` (zeros at first).
        dtype: The parameters' dtype.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_pytree as nnp
        >>> dnp.round(nnp.nn.RMSNorm(2, eps=0.0)(dnp.array([3.0, 4.0])), 4)
        Array([0.8485, 1.1314], dtype=float32)
    """

    weight: derivax.Array | None
    bias: derivax.Array | None
    shape: tuple[int, ...] = field(static=True)
    eps: float = field(static=True)
    use_weight: bool = field(static=True)
    use_bias: bool = field(static=True)

    def __init__(
        self,
        shape: int | Sequence[int],
        eps: float = 1e-5,
        use_weight: bool = True,
        use_bias: bool = True,
        dtype: Any = None,
    ):
        self.shape = _shape("RMSNorm", shape)
        self.eps = eps
        self.use_weight = use_weight
        self.use_bias = use_bias
        dtype = float_dtype(dtype)
        self.weight = dnp.ones(self.shape, dtype) if use_weight else None
        self.bias = dnp.zeros(self.shape, dtype) if use_bias else None

    def __call__(self, x: Any, state: Any = _NO_STATE, *, key: Any = None) -> Any:
        """Normalises one example.

        Args:
            x: Shape ``shape``.
            state: Optional; passed through and returned.
            key: Ignored.

        Returns:
            The normalised array (and ``state`` if one was given).

        Raises:
            ValueError: For a batched input or a different shape.
        """
        x = as_input("RMSNorm", x)
        _check_shape("RMSNorm", x, self.shape)
        y = derivax.nn.rms_norm(x, self.weight, axis=tuple(range(x.ndim)), epsilon=self.eps)
        if self.bias is not None:
            y = y + self.bias
        return _with_state(y, state)


class GroupNorm(Module):
    """Splits the channels into groups and standardises each group of one example.

    The input is ``(channels, *spatial)``; each group's statistics cover its channels and
    every spatial position. With ``channelwise_affine`` a per-channel ``weight`` and
    ``bias`` follow.

    Args:
        groups: The number of groups; it must divide ``channels``.
        channels: The number of channels (required with ``channelwise_affine``).
        eps: Added to the variance.
        channelwise_affine: Learn a per-channel scale and offset.
        dtype: The parameters' dtype.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_pytree as nnp
        >>> y = nnp.nn.GroupNorm(2, 4)(dnp.array([[1.0], [3.0], [10.0], [30.0]]))
        >>> dnp.round(y[:, 0], 4)
        Array([-1.,  1., -1.,  1.], dtype=float32)
    """

    weight: derivax.Array | None
    bias: derivax.Array | None
    groups: int = field(static=True)
    channels: int | None = field(static=True)
    eps: float = field(static=True)
    channelwise_affine: bool = field(static=True)

    def __init__(
        self,
        groups: int,
        channels: int | None = None,
        eps: float = 1e-5,
        channelwise_affine: bool = True,
        dtype: Any = None,
    ):
        if not isinstance(groups, int) or groups < 1:
            raise ValueError(f"GroupNorm: groups must be a positive int, got {groups!r}.")
        if channels is not None and channels % groups:
            raise ValueError(f"GroupNorm: groups={groups} must divide channels={channels}.")
        if channelwise_affine and channels is None:
            raise ValueError(
                "GroupNorm: channelwise_affine=True needs `channels` to size the per-channel "
                "weight and bias; pass channels=C (or channelwise_affine=False)."
            )
        self.groups = groups
        self.channels = channels
        self.eps = eps
        self.channelwise_affine = channelwise_affine
        dtype = float_dtype(dtype)
        self.weight = dnp.ones(channels, dtype) if channelwise_affine else None
        self.bias = dnp.zeros(channels, dtype) if channelwise_affine else None

    def __call__(self, x: Any, state: Any = _NO_STATE, *, key: Any = None) -> Any:
        """Normalises one example.

        Args:
            x: Shape ``(channels, *spatial)``.
            state: Optional; passed through and returned.
            key: Ignored.

        Returns:
            The normalised array (and ``state`` if one was given).

        Raises:
            ValueError: For a wrong channel count or a channel count ``groups`` does not
                divide.
        """
        x = as_input("GroupNorm", x)
        if x.ndim == 0:
            raise ValueError(
                "GroupNorm expects one example of shape (channels, *spatial), got a scalar."
            )
        if self.channels is not None:
            check_size("GroupNorm", x, 0, self.channels, "channels", "channels")
        elif x.shape[0] % self.groups:
            raise ValueError(
                f"GroupNorm: groups={self.groups} must divide the {x.shape[0]} channels of the "
                f"input of shape {tuple(x.shape)} (axis 0 holds the channels)."
            )
        y = derivax.nn.group_norm(
            x, self.groups, self.weight, self.bias, epsilon=self.eps, channel_axis=0, batch_dims=0
        )
        return _with_state(y, state)


class BatchNorm(Module):
    """Batch normalisation over a ``vmap`` axis, with running statistics kept in `State`.

    Call it on one example ``(input_size, *spatial)`` inside
    ``derivax.vmap(..., axis_name=axis_name)``: in training the mean and (biased)
    variance are taken over the mapped axis and the spatial axes, the running averages
    are updated as ``momentum * running + (1 - momentum) * batch`` (on the first training
    call they are set to the batch statistics), and the updated running averages normalise
    the output (Equinox's ``"ema"`` mode). In inference mode (``inference=True``,
    see `inference_mode`) the running statistics normalise and the state is unchanged.

    Build it with `make_with_state` and call it as ``y, state = bn(x, state)``.

    Args:
        input_size: The number of channels.
        axis_name: The name of the ``vmap`` axis the batch lies along.
        eps: Added to the variance.
        channelwise_affine: Learn a per-channel ``weight`` (ones) and ``bias`` (zeros).
        momentum: The running-average decay.
        inference: Start in inference mode.
        dtype: The parameters' dtype.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> import nn_pytree as nnp
        >>> bn, state = nnp.nn.make_with_state(nnp.nn.BatchNorm)(2, axis_name="batch")
        >>> bn = nnp.nn.inference_mode(bn)
        >>> y, state = derivax.vmap(bn, in_axes=(0, None), out_axes=(0, None),
        ...                         axis_name="batch")(dnp.ones((4, 2)), state)
        >>> y.shape
        (4, 2)
    """

    stateful: ClassVar[bool] = True

    weight: derivax.Array | None
    bias: derivax.Array | None
    first_time_index: StateIndex
    state_index: StateIndex
    inference: bool
    axis_name: Hashable = field(static=True)
    input_size: int = field(static=True)
    eps: float = field(static=True)
    channelwise_affine: bool = field(static=True)
    momentum: float = field(static=True)

    def __init__(
        self,
        input_size: int,
        axis_name: Hashable,
        eps: float = 1e-5,
        channelwise_affine: bool = True,
        momentum: float = 0.99,
        inference: bool = False,
        dtype: Any = None,
    ):
        if not isinstance(input_size, int) or input_size < 1:
            raise ValueError(f"BatchNorm: input_size must be a positive int, got {input_size!r}.")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNorm: momentum must be in [0, 1], got {momentum!r}.")
        dtype = float_dtype(dtype)
        self.weight = dnp.ones(input_size, dtype) if channelwise_affine else None
        self.bias = dnp.zeros(input_size, dtype) if channelwise_affine else None
        self.first_time_index = StateIndex(dnp.array(True))
        self.state_index = StateIndex((dnp.zeros(input_size, dtype), dnp.ones(input_size, dtype)))
        self.inference = inference
        self.axis_name = axis_name
        self.input_size = input_size
        self.eps = eps
        self.channelwise_affine = channelwise_affine
        self.momentum = momentum

    def __call__(
        self, x: Any, state: State, *, key: Any = None, inference: bool | None = None
    ) -> tuple[Any, State]:
        """Normalises one example and returns the updated state.

        Args:
            x: Shape ``(input_size, *spatial)``, inside a ``vmap`` over ``axis_name``.
            state: The `State` from `make_with_state`.
            key: Ignored.
            inference: Overrides the layer's ``inference`` flag for this call.

        Returns:
            ``(y, state)``.

        Raises:
            ValueError: For a wrong channel count.
            TypeError: If ``state`` is not a `State`.
        """
        if not isinstance(state, State):
            raise TypeError(
                f"BatchNorm takes the model state as its second argument: y, state = bn(x, "
                f"state), with state from nnp.nn.make_with_state; got {type(state).__name__}."
            )
        x = as_input("BatchNorm", x)
        if x.ndim == 0:
            raise ValueError(
                "BatchNorm expects one example of shape (input_size, *spatial), got a scalar."
            )
        check_size("BatchNorm", x, 0, self.input_size, "channels", "input_size")
        inference = self.inference if inference is None else inference
        running_mean, running_var = state.get(self.state_index)
        if inference:
            y, _ = derivax.nn.batch_norm(
                x,
                self.weight,
                self.bias,
                running_mean,
                running_var,
                training=False,
                epsilon=self.eps,
                axis=0,
            )
            return y, state
        _, stats = derivax.nn.batch_norm(
            x,
            self.weight,
            self.bias,
            running_mean,
            running_var,
            training=True,
            momentum=self.momentum,
            epsilon=self.eps,
            axis=0,
            axis_name=self.axis_name,
        )
        first = state.get(self.first_time_index)
        new_mean = dnp.where(first, stats.mean, stats.running_mean).astype(running_mean.dtype)
        new_var = dnp.where(first, stats.var, stats.running_var).astype(running_var.dtype)
        # Equinox's "ema" mode: the updated running statistics (which include this batch)
        # normalise the output, in training as in inference.
        y, _ = derivax.nn.batch_norm(
            x, self.weight, self.bias, new_mean, new_var, training=False, epsilon=self.eps, axis=0
        )
        state = state.set(self.state_index, (new_mean, new_var))
        state = state.set(self.first_time_index, dnp.zeros_like(first))
        return y, state
