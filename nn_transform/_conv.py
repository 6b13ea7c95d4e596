"""Convolutions: `ConvND` (`Conv1D`, `Conv2D`, `Conv3D`) and `ConvNDTranspose`
(`Conv1DTranspose`, `Conv2DTranspose`, `Conv3DTranspose`).

Kernels are ``(*kernel_shape, in / groups, out)`` for convolutions and
``(*kernel_shape, out, in)`` for transposed convolutions. The input is channels-last
(``NHWC``; unbatched ``HWC`` also works) unless ``data_format`` puts channels first.
"""

from __future__ import annotations

import inspect
import math

import derivax.nn as dnn
import derivax.numpy as dnp

from ._base import get_parameter
from ._basic import param_dtype
from ._initializers import TruncatedNormal
from ._module import Module

__all__ = [
    "Conv1D",
    "Conv1DTranspose",
    "Conv2D",
    "Conv2DTranspose",
    "Conv3D",
    "Conv3DTranspose",
    "ConvND",
    "ConvNDTranspose",
]

_SPATIAL = "HWD"  # letters for 1, 2, 3 spatial dimensions in dimension-number strings


def _channels_first(data_format: str, n: int, who: str) -> bool:
    """Whether ``data_format`` (``channels_last``/``channels_first`` or a layout string
    such as ``NHWC``/``NCHW``) puts the channels before the spatial axes."""
    explicit = isinstance(data_format, str) and len(data_format) == n + 2
    if data_format == "channels_last" or (
        explicit and data_format[0] == "N" and data_format[-1] == "C"
    ):
        return False
    if data_format == "channels_first" or (explicit and data_format[:2] == "NC"):
        return True
    sp = "DHW"[3 - n :]
    raise ValueError(
        f"{who}: data_format must be 'channels_last', 'channels_first', 'N{sp}C' or 'NC{sp}', "
        f"got {data_format!r}."
    )


def _tuple(who, name, v, n):
    if isinstance(v, int):
        return (v,) * n
    v = tuple(int(s) for s in v)
    if len(v) != n:
        raise ValueError(f"{who}: {name} needs 1 or {n} entries, got {v}.")
    return v


class _ConvBase(Module):
    def __init__(self, num_spatial_dims, output_channels, kernel_shape, data_format, name):
        super().__init__(name=name)
        if num_spatial_dims not in (1, 2, 3):
            raise ValueError(f"num_spatial_dims must be 1, 2 or 3, got {num_spatial_dims}.")
        self.num_spatial_dims = n = num_spatial_dims
        self.output_channels = int(output_channels)
        self.kernel_shape = _tuple(self.module_name, "kernel_shape", kernel_shape, n)
        self.channels_first = _channels_first(data_format, n, self.module_name)
        self.data_format = data_format

    def _batched(self, inputs):
        """The input with exactly one batch axis (channels first) and a function undoing it."""
        inputs = dnp.asarray(inputs)
        n = self.num_spatial_dims
        if inputs.ndim < n + 1 or (self.channels_first and inputs.ndim > n + 2):
            layout = ("C" + _SPATIAL[:n]) if self.channels_first else (_SPATIAL[:n] + "C")
            raise ValueError(
                f"{self.module_name}: a {n}-D convolution needs inputs of shape (N, {', '.join(layout)}) "
                f"or unbatched ({', '.join(layout)}), got shape {inputs.shape}."
            )
        if self.channels_first and inputs.ndim == n + 1:
            return inputs[None], lambda y: y[0]
        return inputs, lambda y: y

    def _in_channels(self, inputs):
        return inputs.shape[1] if self.channels_first else inputs.shape[-1]

    def _dn(self, kernel_spec):
        sp = _SPATIAL[: self.num_spatial_dims]
        if self.channels_first:
            return ("NC" + sp, sp + kernel_spec, "NC" + sp)
        return ("N" + sp + "C", sp + kernel_spec, "N" + sp + "C")

    def _weights(self, w_shape, fan_in, dtype, w_init, b_init, mask, with_bias):
        w_init = w_init or TruncatedNormal(1.0 / math.sqrt(max(fan_in, 1)))
        w = get_parameter("w", w_shape, dtype, init=w_init)
        if mask is not None:
            mask = dnp.asarray(mask)
            if mask.shape != w.shape:
                raise ValueError(
                    f"{self.module_name}: mask must have the kernel's shape {w.shape}, got "
                    f"{mask.shape}."
                )
            w = w * mask
        b = None
        if with_bias:
            b = get_parameter("b", (self.output_channels,), dtype, init=b_init or dnp.zeros)
        return w, b


class ConvND(_ConvBase):
    """An N-dimensional convolution (cross-correlation) with an optional bias.

    Parameters: ``w`` of shape ``(*kernel_shape, in_channels / feature_group_count,
    output_channels)`` and ``b`` of shape ``(output_channels,)``.

    Args:
        num_spatial_dims: 1, 2 or 3.
        output_channels: the number of output channels.
        kernel_shape: the window size (an int or one per spatial dimension).
        stride: the stride (an int or one per spatial dimension).
        rate: the kernel dilation (atrous rate).
        padding: ``"SAME"``, ``"VALID"`` or one ``(low, high)`` pair per spatial dimension.
        with_bias: whether to add ``b``.
        w_init: initializer of ``w``; default truncated normal with stddev
            ``1 / sqrt(fan_in)``, ``fan_in = prod(kernel_shape) * in / groups``.
        b_init: initializer of ``b``; default zeros.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``, or the
            explicit ``"NHWC"``/``"NCHW"`` (and 1-D/3-D) strings.
        mask: optional array multiplied into the kernel.
        feature_group_count: the number of channel groups (``in`` for depthwise).
        name: the module name.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> f = nt.transform(lambda x: nt.ConvND(2, 4, 3)(x))
        >>> params = f.init(0, dnp.ones((1, 8, 8, 3)))
        >>> params["conv_nd"]["w"].shape
        (3, 3, 3, 4)
    """

    def __init__(
        self,
        num_spatial_dims,
        output_channels,
        kernel_shape,
        stride=1,
        rate=1,
        padding="SAME",
        with_bias=True,
        w_init=None,
        b_init=None,
        data_format="channels_last",
        mask=None,
        feature_group_count=1,
        name=None,
    ):
        super().__init__(num_spatial_dims, output_channels, kernel_shape, data_format, name)
        n = num_spatial_dims
        self.stride = _tuple(self.module_name, "stride", stride, n)
        self.rate = _tuple(self.module_name, "rate", rate, n)
        self.padding = padding
        self.with_bias = with_bias
        self.w_init = w_init
        self.b_init = b_init
        self.mask = mask
        self.feature_group_count = int(feature_group_count)

    def __call__(self, inputs):
        x, unbatch = self._batched(inputs)
        in_channels = self._in_channels(x)
        groups = self.feature_group_count
        if in_channels % groups:
            raise ValueError(
                f"{self.module_name}: feature_group_count={groups} must divide the "
                f"{in_channels} input channels (input shape {x.shape})."
            )
        w_shape = (*self.kernel_shape, in_channels // groups, self.output_channels)
        fan_in = math.prod(self.kernel_shape) * in_channels // groups
        w, b = self._weights(
            w_shape, fan_in, param_dtype(x), self.w_init, self.b_init, self.mask, self.with_bias
        )
        y = dnn.conv(
            x,
            w,
            b,
            strides=self.stride,
            padding=self.padding,
            dilation=self.rate,
            feature_group_count=groups,
            dimension_numbers=self._dn("IO") if self.channels_first else None,
        )
        return unbatch(y)


def _fixed_dims(base, n, default_format):
    """``base`` (`ConvND` or `ConvNDTranspose`) with ``num_spatial_dims`` fixed to ``n`` and
    ``data_format`` defaulting to ``default_format``: the per-dimension classes take the
    N-D class's arguments, minus ``num_spatial_dims``, with the same names and order."""
    params = list(inspect.signature(base.__init__).parameters.values())
    params = [params[0]] + [
        p.replace(default=default_format) if p.name == "data_format" else p for p in params[2:]
    ]
    signature = inspect.Signature(params)

    def __init__(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        base.__init__(self, n, *bound.args[1:], **bound.kwargs)

    __init__.__signature__ = signature
    return type(f"_{base.__name__}{n}", (base,), {"__init__": __init__, "__module__": __name__})


class Conv1D(_fixed_dims(ConvND, 1, "NWC")):
    """A 1-D convolution over inputs ``(N, W, C)``: `ConvND` with ``num_spatial_dims=1``.

    Args:
        output_channels: the number of output channels.
        kernel_shape: the window size.
        stride: the stride.
        rate: the kernel dilation.
        padding: ``"SAME"``, ``"VALID"`` or ``((low, high),)``.
        with_bias: whether to add a bias.
        w_init: initializer of the kernel.
        b_init: initializer of the bias.
        data_format: ``"NWC"`` (default) or ``"NCW"``.
        mask: optional kernel mask.
        feature_group_count: the number of channel groups.
        name: the module name (default ``conv1_d``).

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> f = nt.transform(lambda x: nt.Conv1D(4, 3, padding="VALID")(x))
        >>> f.apply(f.init(0, dnp.ones((2, 10, 3))), None, dnp.ones((2, 10, 3))).shape
        (2, 8, 4)
    """


class Conv2D(_fixed_dims(ConvND, 2, "NHWC")):
    """A 2-D convolution over inputs ``(N, H, W, C)``: `ConvND` with ``num_spatial_dims=2``.

    Args:
        output_channels: the number of output channels.
        kernel_shape: the window size (int or pair).
        stride: the stride.
        rate: the kernel dilation.
        padding: ``"SAME"``, ``"VALID"`` or two ``(low, high)`` pairs.
        with_bias: whether to add a bias.
        w_init: initializer of the kernel.
        b_init: initializer of the bias.
        data_format: ``"NHWC"`` (default) or ``"NCHW"``.
        mask: optional kernel mask.
        feature_group_count: the number of channel groups.
        name: the module name (default ``conv2_d``).

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> f = nt.transform(lambda x: nt.Conv2D(8, 3, stride=2)(x))
        >>> params = f.init(0, dnp.ones((2, 28, 28, 1)))
        >>> params["conv2_d"]["w"].shape, f.apply(params, None, dnp.ones((2, 28, 28, 1))).shape
        ((3, 3, 1, 8), (2, 14, 14, 8))
    """


class Conv3D(_fixed_dims(ConvND, 3, "NDHWC")):
    """A 3-D convolution over inputs ``(N, D, H, W, C)``: `ConvND` with
    ``num_spatial_dims=3``.

    Args:
        output_channels: the number of output channels.
        kernel_shape: the window size.
        stride: the stride.
        rate: the kernel dilation.
        padding: ``"SAME"``, ``"VALID"`` or three ``(low, high)`` pairs.
        with_bias: whether to add a bias.
        w_init: initializer of the kernel.
        b_init: initializer of the bias.
        data_format: ``"NDHWC"`` (default) or ``"NCDHW"``.
        mask: optional kernel mask.
        feature_group_count: the number of channel groups.
        name: the module name (default ``conv3_d``).

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> f = nt.transform(lambda x: nt.Conv3D(2, 2)(x))
        >>> f.init(0, dnp.ones((1, 4, 4, 4, 1)))["conv3_d"]["w"].shape
        (2, 2, 2, 1, 2)
    """


class ConvNDTranspose(_ConvBase):
    """An N-dimensional transposed convolution (upsampling by ``stride``).

    Parameters: ``w`` of shape ``(*kernel_shape, output_channels, in_channels)`` and ``b``
    of shape ``(output_channels,)``. With ``"SAME"`` padding the spatial sizes are
    multiplied by the stride.

    Args:
        num_spatial_dims: 1, 2 or 3.
        output_channels: the number of output channels.
        kernel_shape: the window size.
        stride: the upsampling factor.
        output_shape: the spatial output shape (an int or one per spatial dimension), or
            None for the default (input x stride with ``"SAME"``). The ``"SAME"`` or
            ``"VALID"`` padding is adjusted to produce it; it must be a shape that the
            forward convolution would map back to the input's shape.
        padding: ``"SAME"``, ``"VALID"`` or ``(low, high)`` pairs.
        with_bias: whether to add ``b``.
        w_init: initializer of ``w``; default truncated normal with stddev
            ``1 / sqrt(prod(kernel_shape) * in_channels)``.
        b_init: initializer of ``b``; default zeros.
        data_format: ``"channels_last"`` or ``"channels_first"`` (or explicit strings).
        mask: optional kernel mask.
        name: the module name.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> f = nt.transform(lambda x: nt.ConvNDTranspose(2, 4, 3, stride=2)(x))
        >>> f.apply(f.init(0, dnp.ones((1, 5, 5, 3))), None, dnp.ones((1, 5, 5, 3))).shape
        (1, 10, 10, 4)
    """

    def __init__(
        self,
        num_spatial_dims,
        output_channels,
        kernel_shape,
        stride=1,
        output_shape=None,
        padding="SAME",
        with_bias=True,
        w_init=None,
        b_init=None,
        data_format="channels_last",
        mask=None,
        name=None,
    ):
        super().__init__(num_spatial_dims, output_channels, kernel_shape, data_format, name)
        self.stride = _tuple(self.module_name, "stride", stride, num_spatial_dims)
        self.output_shape = None
        if output_shape is not None:
            self.output_shape = _tuple(
                self.module_name, "output_shape", output_shape, num_spatial_dims
            )
            if not (isinstance(padding, str) and padding.upper() in ("SAME", "VALID")):
                raise ValueError(
                    f"{self.module_name}: output_shape={output_shape} needs padding 'SAME' or "
                    f"'VALID' (the padding is then adjusted to give that shape), got "
                    f"padding={padding!r}."
                )
        self.padding = padding
        self.with_bias = with_bias
        self.w_init = w_init
        self.b_init = b_init
        self.mask = mask

    def __call__(self, inputs):
        x, unbatch = self._batched(inputs)
        unbatched = x.ndim == self.num_spatial_dims + 1
        if unbatched:  # explicit dimension numbers need exactly one batch axis
            x, unbatch = x[None], lambda y: y[0]
        in_channels = self._in_channels(x)
        w_shape = (*self.kernel_shape, self.output_channels, in_channels)
        fan_in = math.prod(self.kernel_shape) * in_channels
        w, b = self._weights(
            w_shape, fan_in, param_dtype(x), self.w_init, self.b_init, self.mask, self.with_bias
        )
        padding = self.padding
        if self.output_shape is not None:
            spatial = x.shape[2:] if self.channels_first else x.shape[1:-1]
            padding = tuple(
                self._padding_for(i, o, k, s)
                for i, o, k, s in zip(
                    spatial, self.output_shape, self.kernel_shape, self.stride, strict=True
                )
            )
        y = dnn.conv_transpose(
            x, w, b, strides=self.stride, padding=padding, dimension_numbers=self._dn("OI")
        )
        return unbatch(y)

    def _padding_for(self, in_size, out_size, kernel, stride):
        """The ``(low, high)`` padding (of the stride-dilated input) that makes a transposed
        convolution of ``in_size`` positions produce ``out_size``, for this padding mode.

        ``out_size`` must be one of the sizes whose forward convolution with the same
        kernel, stride and padding gives ``in_size``; otherwise the error says which input
        size it would need.
        """
        mode = self.padding.upper()
        if mode == "VALID":
            expected = (out_size - kernel + stride) // stride
            before = 0
        else:
            expected = (out_size + stride - 1) // stride
            before = max(0, (in_size - 1) * stride + kernel - out_size) // 2
        if in_size != expected:
            raise ValueError(
                f"{self.module_name}: output_shape entry {out_size} with kernel {kernel}, "
                f"stride {stride} and padding {self.padding!r} needs an input of size "
                f"{expected} along that axis, but the input has {in_size}; change "
                "output_shape or the input."
            )
        low = kernel - 1 - before
        high = (out_size + kernel - 1) - ((in_size - 1) * stride + 1) - low
        return (low, high)


class Conv1DTranspose(_fixed_dims(ConvNDTranspose, 1, "channels_last")):
    """A 1-D transposed convolution: `ConvNDTranspose` with ``num_spatial_dims=1``.

    Args:
        output_channels: the number of output channels.
        kernel_shape: the window size.
        stride: the upsampling factor.
        output_shape: the spatial output shape, or None (see `ConvNDTranspose`).
        padding: ``"SAME"``, ``"VALID"`` or a ``(low, high)`` pair.
        with_bias: whether to add a bias.
        w_init: initializer of the kernel.
        b_init: initializer of the bias.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        mask: optional kernel mask.
        name: the module name (default ``conv1_d_transpose``).

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> f = nt.transform(lambda x: nt.Conv1DTranspose(2, 3, stride=2)(x))
        >>> f.apply(f.init(0, dnp.ones((1, 4, 1))), None, dnp.ones((1, 4, 1))).shape
        (1, 8, 2)
    """


class Conv2DTranspose(_fixed_dims(ConvNDTranspose, 2, "channels_last")):
    """A 2-D transposed convolution: `ConvNDTranspose` with ``num_spatial_dims=2``.

    Args:
        output_channels: the number of output channels.
        kernel_shape: the window size.
        stride: the upsampling factor.
        output_shape: the spatial output shape, or None (see `ConvNDTranspose`).
        padding: ``"SAME"``, ``"VALID"`` or two ``(low, high)`` pairs.
        with_bias: whether to add a bias.
        w_init: initializer of the kernel.
        b_init: initializer of the bias.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        mask: optional kernel mask.
        name: the module name (default ``conv2_d_transpose``).

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> f = nt.transform(lambda x: nt.Conv2DTranspose(4, 3, stride=2, padding="VALID")(x))
        >>> params = f.init(0, dnp.ones((2, 4, 4, 3)))
        >>> params["conv2_d_transpose"]["w"].shape, f.apply(params, None, dnp.ones((2, 4, 4, 3))).shape
        ((3, 3, 4, 3), (2, 9, 9, 4))
    """


class Conv3DTranspose(_fixed_dims(ConvNDTranspose, 3, "channels_last")):
    """A 3-D transposed convolution: `ConvNDTranspose` with ``num_spatial_dims=3``.

    Args:
        output_channels: the number of output channels.
        kernel_shape: the window size.
        stride: the upsampling factor.
        output_shape: the spatial output shape, or None (see `ConvNDTranspose`).
        padding: ``"SAME"``, ``"VALID"`` or three ``(low, high)`` pairs.
        with_bias: whether to add a bias.
        w_init: initializer of the kernel.
        b_init: initializer of the bias.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        mask: optional kernel mask.
        name: the module name (default ``conv3_d_transpose``).

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> f = nt.transform(lambda x: nt.Conv3DTranspose(1, 2, stride=2)(x))
        >>> f.apply(f.init(0, dnp.ones((1, 2, 2, 2, 1))), None, dnp.ones((1, 2, 2, 2, 1))).shape
        (1, 4, 4, 4, 1)
    """
