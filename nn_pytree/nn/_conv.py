"""Convolutions on one channels-first example: `Conv` and `ConvTranspose` (1-3d)."""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from typing import Any

import derivax
import derivax.numpy as dnp

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
    "ConvTranspose1d",
    "ConvTranspose2d",
    "ConvTranspose3d",
]

_SPATIAL = {1: "W", 2: "HW", 3: "DHW"}
# Padding modes and the `derivax.numpy.pad` mode that makes each one.
_PAD_MODES = {"ZEROS": "constant", "REFLECT": "reflect", "REPLICATE": "edge", "CIRCULAR": "wrap"}
_PADDING_STRINGS = ("SAME", "SAME_LOWER", "VALID")


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
) -> str:
    """Checks the arguments both layers share; returns the padding mode in upper case."""
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
    mode = padding_mode.upper() if isinstance(padding_mode, str) else padding_mode
    if mode not in _PAD_MODES:
        raise ValueError(
            f"{layer}: padding_mode must be one of {', '.join(map(repr, _PAD_MODES))}, got "
            f"{padding_mode!r}."
        )
    return mode


def _padding_arg(layer: str, padding: Any, n: int) -> str | tuple[tuple[int, int], ...]:
    if isinstance(padding, str):
        if padding.upper() not in _PADDING_STRINGS:
            raise ValueError(
                f"{layer}: padding string must be one of {', '.join(_PADDING_STRINGS)}, got "
                f"{padding!r}."
            )
        return padding.upper()
    return padding_pairs(layer, padding, n)


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
            ``"SAME"`` / ``"SAME_LOWER"`` / ``"VALID"``.
        dilation: Kernel dilation, an int or one per spatial dimension.
        groups: Feature groups (``in_channels`` for a depthwise convolution).
        use_bias: Whether to add a bias.
        padding_mode: What the padding holds: ``"ZEROS"``, ``"REFLECT"`` (``1234`` →
            ``32123432``), ``"REPLICATE"`` (``1234`` → ``11123444``) or ``"CIRCULAR"``
            (``1234`` → ``34123412``).
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
        mode = _check_common(
            layer, num_spatial_dims, in_channels, out_channels, groups, padding_mode
        )
        n = num_spatial_dims
        self.num_spatial_dims = n
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = ntuple(layer, "kernel_size", kernel_size, n)
        self.stride = ntuple(layer, "stride", stride, n)
        self.padding = _padding_arg(layer, padding, n)
        self.dilation = ntuple(layer, "dilation", dilation, n)
        self.groups = groups
        self.use_bias = use_bias
        self.padding_mode = mode
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
        padding = self.padding
        if self.padding_mode != "ZEROS":
            if isinstance(padding, str):
                extent = [d * (k - 1) + 1 for k, d in zip(self.kernel_size, self.dilation)]
                padding = derivax.lax.padtype_to_pads(x.shape[1:], extent, self.stride, padding)
            x = dnp.pad(x, [(0, 0), *padding], mode=_PAD_MODES[self.padding_mode])
            padding = "VALID"
        y = derivax.nn.conv(
            x[None],
            self.weight,
            strides=self.stride,
            padding=padding,
            dilation=self.dilation,
            feature_group_count=self.groups,
            dimension_numbers=_dimension_numbers(n),
        )[0]
        return y if self.bias is None else y + self.bias


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
            the matching `Conv` padded (it is removed here); or ``"VALID"``, ``"SAME"``
            (each output size is ``size * stride``, less ``output_padding``) or
            ``"SAME_LOWER"`` (as ``"SAME"`` with an odd padding's extra element at the low
            end).
        dilation: Kernel dilation.
        groups: Feature groups.
        use_bias: Whether to add a bias.
        padding_mode: ``"ZEROS"``, or ``"CIRCULAR"`` (with ``"SAME"``/``"SAME_LOWER"``
            padding and no ``output_padding``): the transpose of a circularly padded
            `Conv`, so outputs near one edge also receive the inputs near the other.
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
        output_padding: int | Sequence[int] = 0,
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
        mode = _check_common(
            layer, num_spatial_dims, in_channels, out_channels, groups, padding_mode
        )
        n = num_spatial_dims
        self.num_spatial_dims = n
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = ntuple(layer, "kernel_size", kernel_size, n)
        self.stride = ntuple(layer, "stride", stride, n)
        self.output_padding = ntuple(layer, "output_padding", output_padding, n)
        self.padding = _padding_arg(layer, padding, n)
        self.dilation = ntuple(layer, "dilation", dilation, n)
        if mode in ("REFLECT", "REPLICATE"):
            raise NotImplementedError(
                f"{layer}: padding_mode={padding_mode!r} has no transpose here; use 'ZEROS' "
                "or 'CIRCULAR' (or pad the output of the layer yourself)."
            )
        if mode == "CIRCULAR" and (
            self.padding not in ("SAME", "SAME_LOWER") or any(self.output_padding)
        ):
            raise NotImplementedError(
                f"{layer}: padding_mode='CIRCULAR' needs padding='SAME' or 'SAME_LOWER' and "
                f"output_padding=0, got padding={padding!r}, output_padding={output_padding!r}."
            )
        for op, s, d in zip(self.output_padding, self.stride, self.dilation, strict=True):
            if op >= max(s, d):
                raise ValueError(
                    f"{layer}: output_padding {self.output_padding} must be smaller than the "
                    f"stride {self.stride} or the dilation {self.dilation} in each dimension."
                )
        self.groups = groups
        self.use_bias = use_bias
        self.padding_mode = mode
        dtype = float_dtype(dtype)
        fan_in = in_channels // groups * prod(self.kernel_size)
        limit = 1 / math.sqrt(fan_in)
        wkey, bkey = split(key, 2)
        self.weight = uniform(
            wkey, (out_channels, in_channels // groups, *self.kernel_size), limit, dtype
        )
        self.bias = uniform(bkey, (out_channels,) + (1,) * n, limit, dtype) if use_bias else None

    def _conv_padding(self) -> list[tuple[int, int]]:
        """The padding of the stride-dilated input: each kernel tap must reach every input
        element, less what the matching `Conv` padded, plus ``output_padding`` at the end."""
        pads = []
        for k, d, s, op, i in zip(
            self.kernel_size,
            self.dilation,
            self.stride,
            self.output_padding,
            range(self.num_spatial_dims),
            strict=True,
        ):
            reach = d * (k - 1)
            if self.padding == "VALID":
                lo = hi = 0
            elif isinstance(self.padding, str):
                # The Conv padding that maps `size * stride - output_padding` back to `size`;
                # when it would be negative, the output grows by that much at the end.
                total = reach - s + op + 1
                op, total = max(-total, 0), max(total, 0)
                lo = (total + (self.padding == "SAME_LOWER")) // 2
                hi = total - lo
            else:
                lo, hi = self.padding[i]
            pads.append((reach - lo, reach - hi + op))
        return pads

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
        # A transposed convolution is a convolution of the stride-dilated input. As in
        # Equinox, the weight is the kernel of that convolution as stored (the transpose of
        # a Conv with the weight flipped spatially and its channel axes swapped).
        pads = self._conv_padding()
        if self.padding_mode == "CIRCULAR":
            # Whole strides of the padding come from the other edge of the input (wrapped
            # before dilation); what is left is zeros between dilated elements.
            wrap = [(lo // s, hi // s) for (lo, hi), s in zip(pads, self.stride, strict=True)]
            x = dnp.pad(x, [(0, 0), *wrap], mode="wrap")
            pads = [(lo % s, hi % s) for (lo, hi), s in zip(pads, self.stride, strict=True)]
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


def _fixed_dims(base: type, n: int, name: str, example: str) -> type:
    """``base`` with ``num_spatial_dims=n``: the same arguments, less that one."""
    signature = inspect.signature(base.__init__)
    params = [p for p in signature.parameters.values() if p.name != "num_spatial_dims"]

    def __init__(self, *args, **kwargs):
        base.__init__(self, n, *args, **kwargs)

    __init__.__signature__ = signature.replace(parameters=params)
    spatial = {1: "length", 2: "height, width", 3: "depth, height, width"}[n]
    doc = f"""`{base.__name__}` over {n} spatial dimension{"s" * (n > 1)}: input
    ``(in_channels, {spatial})``.

    Takes the arguments of `{base.__name__}` except ``num_spatial_dims``.

    Example:
        >>> import derivax.numpy as dnp, derivax.random as dr
        >>> import nn_pytree as nnp
        >>> {example}
    """
    namespace = {"__init__": __init__, "__doc__": doc, "__module__": __name__}
    namespace["__qualname__"] = name
    cls = type(base)(name, (base,), namespace)
    cls.__signature__ = signature.replace(parameters=params[1:])  # without `self`
    return cls


Conv1d = _fixed_dims(
    Conv,
    1,
    "Conv1d",
    "nnp.nn.Conv1d(2, 4, 3, key=dr.PRNGKey(0))(dnp.ones((2, 10))).shape\n        (4, 8)",
)
Conv2d = _fixed_dims(
    Conv,
    2,
    "Conv2d",
    "nnp.nn.Conv2d(1, 4, 3, stride=2, key=dr.PRNGKey(0))(dnp.ones((1, 9, 9))).shape\n        (4, 4, 4)",
)
Conv3d = _fixed_dims(
    Conv,
    3,
    "Conv3d",
    "nnp.nn.Conv3d(1, 2, 2, key=dr.PRNGKey(0))(dnp.ones((1, 3, 4, 5))).shape\n        (2, 2, 3, 4)",
)
ConvTranspose1d = _fixed_dims(
    ConvTranspose,
    1,
    "ConvTranspose1d",
    "nnp.nn.ConvTranspose1d(2, 1, 4, stride=2, padding='SAME', key=dr.PRNGKey(0))"
    "(dnp.ones((2, 5))).shape\n        (1, 10)",
)
ConvTranspose2d = _fixed_dims(
    ConvTranspose,
    2,
    "ConvTranspose2d",
    "nnp.nn.ConvTranspose2d(3, 1, 3, stride=2, padding=1, output_padding=1, "
    "key=dr.PRNGKey(0))(dnp.ones((3, 7, 7))).shape\n        (1, 14, 14)",
)
ConvTranspose3d = _fixed_dims(
    ConvTranspose,
    3,
    "ConvTranspose3d",
    "nnp.nn.ConvTranspose3d(1, 2, 2, stride=2, key=dr.PRNGKey(0))(dnp.ones((1, 2, 3, 4))).shape"
    "\n        (2, 4, 6, 8)",
)
