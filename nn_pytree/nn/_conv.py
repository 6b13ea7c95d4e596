"""Convolutions on one channels-first example: `Conv` (1-3d) and `ConvTranspose`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import derivax

from .._module import Module, field
from ._misc import (
    as_input,
    check_key,
    check_rank,
    check_size,
    float_dtype,
    ntuple,
    padding_pairs,
    prod,
    split,
    uniform,
)

__all__ = [
    "Conv",
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "ConvTranspose",
    "ConvTranspose2d",
]

_SPATIAL = {1: "W", 2: "HW", 3: "DHW"}


def _dimension_numbers(n: int) -> tuple[str, str, str]:
    s = _SPATIAL[n]
    return (f"NC{s}", f"OI{s}", f"NC{s}")


def _check_common(
    layer: str,
    num_spatial_dims: int,
    in_channels: int,
    out_channels: int,
    groups: int,
    padding_mode: str,
) -> None:
    if num_spatial_dims not in _SPATIAL:
        raise ValueError(f"{layer}: num_spatial_dims must be 1, 2 or 3, got {num_spatial_dims!r}.")
    for name, value in (
        ("in_channels", in_channels),
        ("out_channels", out_channels),
        ("groups", groups),
    ):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{layer}: {name} must be a positive int, got {value!r}.")
    if in_channels % groups or out_channels % groups:
        raise ValueError(
            f"{layer}: groups={groups} must divide both in_channels={in_channels} and "
            f"out_channels={out_channels}."
        )
    if padding_mode != "ZEROS":
        raise NotImplementedError(
            f"{layer}: padding_mode={padding_mode!r} is not supported; only 'ZEROS' is. Pad "
            f"the input yourself before the layer for other modes."
        )


class Conv(Module):
    """An N-dimensional convolution on one example of shape ``(in_channels, *spatial)``.

    The weight has shape ``(out_channels, in_channels // groups, *kernel_size)``, the bias
    ``(out_channels, 1, ..., 1)``; both start from ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``
    with ``fan_in = in_channels // groups * prod(kernel_size)``. `Conv1d`, `Conv2d` and
    `Conv3d` fix ``num_spatial_dims``.

    Args:
        num_spatial_dims: 1, 2 or 3.
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: An int or one int per spatial dimension.
        stride: An int or one per spatial dimension.
        padding: An int, one int or ``(low, high)`` pair per spatial dimension, or
            ``"SAME"`` / ``"VALID"``.
        dilation: Kernel dilation, an int or one per spatial dimension.
        groups: Feature groups (``in_channels`` for a depthwise convolution).
        use_bias: Whether to add a bias.
        padding_mode: Only ``"ZEROS"``.
        dtype: The parameters' dtype.
        key: A PRNG key (keyword only).

    Example:
        >>> import derivax.numpy as dnp, derivax.random as dr
        >>> import nn_pytree as nnp
        >>> conv = nnp.nn.Conv(2, 3, 8, kernel_size=3, padding=1, key=dr.PRNGKey(0))
        >>> conv(dnp.ones((3, 16, 16))).shape
        (8, 16, 16)
    """

    weight: derivax.Array
    bias: derivax.Array | None
    num_spatial_dims: int = field(static=True)
    in_channels: int = field(static=True)
    out_channels: int = field(static=True)
    kernel_size: tuple[int, ...] = field(static=True)
    stride: tuple[int, ...] = field(static=True)
    padding: str | tuple[tuple[int, int], ...] = field(static=True)
    dilation: tuple[int, ...] = field(static=True)
    groups: int = field(static=True)
    use_bias: bool = field(static=True)
    padding_mode: str = field(static=True)

    def __init__(
        self,
        num_spatial_dims: int,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: str | int | Sequence[int] | Sequence[tuple[int, int]] = 0,
        dilation: int | Sequence[int] = 1,
        groups: int = 1,
        use_bias: bool = True,
        padding_mode: str = "ZEROS",
        dtype: Any = None,
        *,
        key: Any,
    ):
        layer = type(self).__name__
        check_key(layer, key)
        _check_common(layer, num_spatial_dims, in_channels, out_channels, groups, padding_mode)
        n = num_spatial_dims
        self.num_spatial_dims = n
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = ntuple(layer, "kernel_size", kernel_size, n)
        self.stride = ntuple(layer, "stride", stride, n)
        if isinstance(padding, str):
            if padding.upper() not in ("SAME", "VALID"):
                raise ValueError(
                    f"{layer}: padding string must be 'SAME' or 'VALID', got {padding!r}."
                )
            self.padding = padding.upper()
        else:
            self.padding = padding_pairs(layer, padding, n)
        self.dilation = ntuple(layer, "dilation", dilation, n)
        self.groups = groups
        self.use_bias = use_bias
        self.padding_mode = padding_mode
        dtype = float_dtype(dtype)
        fan_in = in_channels // groups * prod(self.kernel_size)
        limit = 1 / math.sqrt(fan_in)
        wkey, bkey = split(key, 2)
        self.weight = uniform(
            wkey, (out_channels, in_channels // groups, *self.kernel_size), limit, dtype
        )
        self.bias = uniform(bkey, (out_channels,) + (1,) * n, limit, dtype) if use_bias else None

    def __call__(self, x: Any, *, key: Any = None) -> Any:
        """Applies the convolution to one example.

        Args:
            x: Shape ``(in_channels, *spatial)``.
            key: Ignored.

        Returns:
            Shape ``(out_channels, *out_spatial)``.

        Raises:
            ValueError: For a batched input or a wrong number of channels.
        """
        layer = type(self).__name__
        x = as_input(layer, x)
        n = self.num_spatial_dims
        check_rank(layer, x, n + 1, f"of shape (in_channels, {', '.join(_SPATIAL[n])})")
        check_size(layer, x, 0, self.in_channels, "input channels", "in_channels")
        y = derivax.nn.conv(
            x[None],
            self.weight,
            strides=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            feature_group_count=self.groups,
            dimension_numbers=_dimension_numbers(n),
        )[0]
        return y if self.bias is None else y + self.bias


class Conv1d(Conv):
    """`Conv` over one spatial dimension: input ``(in_channels, length)``.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: Window length.
        stride: Stride.
        padding: An int, a ``(low, high)`` pair in a sequence, or ``"SAME"``/``"VALID"``.
        dilation: Kernel dilation.
        groups: Feature groups.
        use_bias: Whether to add a bias.
        padding_mode: Only ``"ZEROS"``.
        dtype: The parameters' dtype.
        key: A PRNG key (keyword only).

    Example:
        >>> import derivax.numpy as dnp, derivax.random as dr
        >>> import nn_pytree as nnp
        >>> nnp.nn.Conv1d(2, 4, 3, key=dr.PRNGKey(0))(dnp.ones((2, 10))).shape
        (4, 8)
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        use_bias=True,
        padding_mode="ZEROS",
        dtype=None,
        *,
        key,
    ):
        super().__init__(
            1,
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            use_bias,
            padding_mode,
            dtype,
            key=key,
        )


class Conv2d(Conv):
    """`Conv` over two spatial dimensions: input ``(in_channels, height, width)``.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: An int or ``(kh, kw)``.
        stride: An int or a pair.
        padding: An int, a pair of ints or of ``(low, high)`` pairs, or ``"SAME"``/``"VALID"``.
        dilation: Kernel dilation.
        groups: Feature groups.
        use_bias: Whether to add a bias.
        padding_mode: Only ``"ZEROS"``.
        dtype: The parameters' dtype.
        key: A PRNG key (keyword only).

    Example:
        >>> import derivax.numpy as dnp, derivax.random as dr
        >>> import nn_pytree as nnp
        >>> nnp.nn.Conv2d(1, 4, 3, stride=2, key=dr.PRNGKey(0))(dnp.ones((1, 9, 9))).shape
        (4, 4, 4)
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        use_bias=True,
        padding_mode="ZEROS",
        dtype=None,
        *,
        key,
    ):
        super().__init__(
            2,
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            use_bias,
            padding_mode,
            dtype,
            key=key,
        )


class Conv3d(Conv):
    """`Conv` over three spatial dimensions: input ``(in_channels, depth, height, width)``.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: An int or a triple.
        stride: An int or a triple.
        padding: An int, a triple of ints or of ``(low, high)`` pairs, or ``"SAME"``/``"VALID"``.
        dilation: Kernel dilation.
        groups: Feature groups.
        use_bias: Whether to add a bias.
        padding_mode: Only ``"ZEROS"``.
        dtype: The parameters' dtype.
        key: A PRNG key (keyword only).

    Example:
        >>> import derivax.numpy as dnp, derivax.random as dr
        >>> import nn_pytree as nnp
        >>> nnp.nn.Conv3d(1, 2, 2, key=dr.PRNGKey(0))(dnp.ones((1, 3, 4, 5))).shape
        (2, 2, 3, 4)
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        use_bias=True,
        padding_mode="ZEROS",
        dtype=None,
        *,
        key,
    ):
        super().__init__(
            3,
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            use_bias,
            padding_mode,
            dtype,
            key=key,
        )


class ConvTranspose(Module):
    """A transposed convolution (the gradient of `Conv`), upsampling by ``stride``.

    On an input ``(in_channels, *spatial)`` each output size is
    ``(size - 1) * stride - padding_low - padding_high + dilation * (kernel - 1)
    + output_padding + 1``, as in PyTorch and Equinox. The weight has shape
    ``(out_channels, in_channels // groups, *kernel_size)``.

    Args:
        num_spatial_dims: 1, 2 or 3.
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: An int or one per spatial dimension.
        stride: The upsampling factor, an int or one per spatial dimension.
        output_padding: Extra size added at the high end of each dimension (less than the
            stride), to choose among the output sizes a strided `Conv` maps back from.
        padding: An int, or one int or ``(low, high)`` pair per spatial dimension: how much
            the matching `Conv` padded (it is removed here).
        dilation: Kernel dilation.
        groups: Feature groups.
        use_bias: Whether to add a bias.
        padding_mode: Only ``"ZEROS"``.
        dtype: The parameters' dtype.
        key: A PRNG key (keyword only).

    Example:
        >>> import derivax.numpy as dnp, derivax.random as dr
        >>> import nn_pytree as nnp
        >>> up = nnp.nn.ConvTranspose(2, 4, 2, kernel_size=2, stride=2, key=dr.PRNGKey(0))
        >>> up(dnp.ones((4, 5, 5))).shape
        (2, 10, 10)
    """

    weight: derivax.Array
    bias: derivax.Array | None
    num_spatial_dims: int = field(static=True)
    in_channels: int = field(static=True)
    out_channels: int = field(static=True)
    kernel_size: tuple[int, ...] = field(static=True)
    stride: tuple[int, ...] = field(static=True)
    output_padding: tuple[int, ...] = field(static=True)
    padding: tuple[tuple[int, int], ...] = field(static=True)
    dilation: tuple[int, ...] = field(static=True)
    groups: int = field(static=True)
    use_bias: bool = field(static=True)
    padding_mode: str = field(static=True)

    def __init__(
        self,
        num_spatial_dims: int,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        output_padding: int | Sequence[int] = 0,
        padding: int | Sequence[int] | Sequence[tuple[int, int]] = 0,
        dilation: int | Sequence[int] = 1,
        groups: int = 1,
        use_bias: bool = True,
        padding_mode: str = "ZEROS",
        dtype: Any = None,
        *,
        key: Any,
    ):
        layer = type(self).__name__
        check_key(layer, key)
        _check_common(layer, num_spatial_dims, in_channels, out_channels, groups, padding_mode)
        n = num_spatial_dims
        self.num_spatial_dims = n
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = ntuple(layer, "kernel_size", kernel_size, n)
        self.stride = ntuple(layer, "stride", stride, n)
        self.output_padding = ntuple(layer, "output_padding", output_padding, n)
        if isinstance(padding, str):
            raise ValueError(
                f"{layer}: padding must be ints or (low, high) pairs (the padding of the "
                f"matching Conv), got {padding!r}."
            )
        self.padding = padding_pairs(layer, padding, n)
        self.dilation = ntuple(layer, "dilation", dilation, n)
        for op, s, d in zip(self.output_padding, self.stride, self.dilation, strict=True):
            if op >= max(s, d):
                raise ValueError(
                    f"{layer}: output_padding {self.output_padding} must be smaller than the "
                    f"stride {self.stride} or the dilation {self.dilation} in each dimension."
                )
        self.groups = groups
        self.use_bias = use_bias
        self.padding_mode = padding_mode
        dtype = float_dtype(dtype)
        fan_in = in_channels // groups * prod(self.kernel_size)
        limit = 1 / math.sqrt(fan_in)
        wkey, bkey = split(key, 2)
        self.weight = uniform(
            wkey, (out_channels, in_channels // groups, *self.kernel_size), limit, dtype
        )
        self.bias = uniform(bkey, (out_channels,) + (1,) * n, limit, dtype) if use_bias else None

    def __call__(self, x: Any, *, key: Any = None) -> Any:
        """Applies the transposed convolution to one example.

        Args:
            x: Shape ``(in_channels, *spatial)``.
            key: Ignored.

        Returns:
            Shape ``(out_channels, *out_spatial)``.

        Raises:
            ValueError: For a batched input or a wrong number of channels.
        """
        layer = type(self).__name__
        x = as_input(layer, x)
        n = self.num_spatial_dims
        check_rank(layer, x, n + 1, f"of shape (in_channels, {', '.join(_SPATIAL[n])})")
        check_size(layer, x, 0, self.in_channels, "input channels", "in_channels")
        # A transposed convolution is a convolution of the stride-dilated input, padded so
        # each kernel tap reaches every input element. As in Equinox, the weight is the
        # kernel of that convolution as stored (the transpose of a Conv with the weight
        # flipped spatially and its channel axes swapped).
        pads = []
        for k, d, (lo, hi), op in zip(
            self.kernel_size, self.dilation, self.padding, self.output_padding, strict=True
        ):
            reach = d * (k - 1)
            pads.append((reach - lo, reach - hi + op))
        y = derivax.nn.conv(
            x[None],
            self.weight,
            strides=1,
            padding=tuple(pads),
            dilation=self.dilation,
            input_dilation=self.stride,
            feature_group_count=self.groups,
            dimension_numbers=_dimension_numbers(n),
        )[0]
        return y if self.bias is None else y + self.bias


class ConvTranspose2d(ConvTranspose):
    """`ConvTranspose` over two spatial dimensions: input ``(in_channels, height, width)``.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: An int or a pair.
        stride: The upsampling factor, an int or a pair.
        output_padding: Extra size at the high end, an int or a pair.
        padding: An int, a pair of ints or of ``(low, high)`` pairs.
        dilation: Kernel dilation.
        groups: Feature groups.
        use_bias: Whether to add a bias.
        padding_mode: Only ``"ZEROS"``.
        dtype: The parameters' dtype.
        key: A PRNG key (keyword only).

    Example:
        >>> import derivax.numpy as dnp, derivax.random as dr
        >>> import nn_pytree as nnp
        >>> up = nnp.nn.ConvTranspose2d(3, 1, 3, stride=2, padding=1, output_padding=1,
        ...                             key=dr.PRNGKey(0))
        >>> up(dnp.ones((3, 7, 7))).shape
        (1, 14, 14)
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        output_padding=0,
        padding=0,
        dilation=1,
        groups=1,
        use_bias=True,
        padding_mode="ZEROS",
        dtype=None,
        *,
        key,
    ):
        super().__init__(
            2,
            in_channels,
            out_channels,
            kernel_size,
            stride,
            output_padding,
            padding,
            dilation,
            groups,
            use_bias,
            padding_mode,
            dtype,
            key=key,
        )
