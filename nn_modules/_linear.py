"""Linear layers: `Dense`, `DenseGeneral`, `Conv`, `ConvTranspose`, `Embed`.

The math is `derivax.nn`'s (``dense``, ``conv``, ``conv_transpose``,
``embedding_lookup``); these modules only declare the parameters (Flax's names and
layouts: ``kernel`` is ``(in, out)`` or ``(*window, in, out)``, ``bias`` is ``(out,)``,
``embedding`` is ``(num_embeddings, features)``) and pick the dtypes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import derivax as dx
import derivax.nn
import derivax.numpy as dnp

from ._module import Module, compact

__all__ = ["Conv", "ConvTranspose", "Dense", "DenseGeneral", "Embed", "default_kernel_init"]

#: The default kernel initializer of the linear layers: LeCun normal (variance 1 / fan_in).
default_kernel_init = dx.nn.initializers.lecun_normal()


def cast(dtype: Any, *arrays: Any) -> tuple:
    """Cast the non-None arrays to ``dtype`` (no-op for ``dtype=None``)."""
    if dtype is None:
        return arrays
    return tuple(None if a is None else dnp.asarray(a).astype(dtype) for a in arrays)


def _normalize_axes(axes: int | Sequence[int], ndim: int, who: str) -> tuple[int, ...]:
    axes = (axes,) if isinstance(axes, int) else tuple(axes)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"{who}: axis {a} is out of range for an input of rank {ndim}.")
        out.append(a % ndim)
    return tuple(out)


class Dense(Module):
    """A linear transformation of the last axis: ``x @ kernel + bias``.

    Attributes:
        features: the number of output features.
        use_bias: whether to add a bias.
        dtype: the computation dtype (default: promoted from the inputs and parameters).
        param_dtype: the dtype of the parameters.
        kernel_init: initializer of the ``(in, features)`` kernel (LeCun normal).
        bias_init: initializer of the ``(features,)`` bias (zeros).

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> import nn_modules as nn
        >>> layer = nn.Dense(4)
        >>> variables = layer.init(derivax.random.key(0), dnp.ones((2, 3)))
        >>> derivax.tree.map(lambda a: a.shape, variables["params"])
        {'bias': (4,), 'kernel': (3, 4)}
        >>> layer.apply(variables, dnp.ones((2, 3))).shape
        (2, 4)
    """

    features: int
    use_bias: bool = True
    dtype: Any = None
    param_dtype: Any = dnp.float32
    kernel_init: Callable = default_kernel_init
    bias_init: Callable = dx.nn.initializers.zeros

    @compact
    def __call__(self, inputs):
        """Apply the layer to ``inputs`` of shape ``(..., in)``; returns ``(..., features)``."""
        inputs = dnp.asarray(inputs)
        kernel = self.param(
            "kernel", self.kernel_init, (inputs.shape[-1], self.features), self.param_dtype
        )
        bias = (
            self.param("bias", self.bias_init, (self.features,), self.param_dtype)
            if self.use_bias
            else None
        )
        inputs, kernel, bias = cast(self.dtype, inputs, kernel, bias)
        return dx.nn.dense(inputs, kernel, bias)


class DenseGeneral(Module):
    """A linear transformation over several input axes into several output axes.

    The kernel has shape ``(*batch_sizes, *in_sizes, *features)`` where ``in_sizes`` are
    the sizes of ``axis``; the bias ``(*batch_sizes, *features)``. Attention layers use it
    to produce ``(heads, head_dim)`` features and to merge them back.

    Attributes:
        features: an int or a tuple of output sizes.
        axis: the input axis or axes contracted with the kernel (default -1).
        batch_dims: leading axes that have their own kernels (a batched matmul).
        use_bias: whether to add a bias.
        dtype: the computation dtype.
        param_dtype: the dtype of the parameters.
        kernel_init: initializer, called with the flattened ``(in, out)`` shape so that fans
            count all contracted and produced axes.
        bias_init: bias initializer.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> import nn_modules as nn
        >>> layer = nn.DenseGeneral(features=(2, 4), axis=-1)
        >>> y, v = layer.init_with_output(derivax.random.key(0), dnp.ones((5, 3)))
        >>> y.shape, v["params"]["kernel"].shape
        ((5, 2, 4), (3, 2, 4))
    """

    features: int | Sequence[int]
    axis: int | Sequence[int] = -1
    batch_dims: Sequence[int] = ()
    use_bias: bool = True
    dtype: Any = None
    param_dtype: Any = dnp.float32
    kernel_init: Callable = default_kernel_init
    bias_init: Callable = dx.nn.initializers.zeros

    @compact
    def __call__(self, inputs):
        """Contract ``axis`` of ``inputs`` with the kernel; the new axes come last."""
        inputs = dnp.asarray(inputs)
        features = (self.features,) if isinstance(self.features, int) else tuple(self.features)
        ndim = inputs.ndim
        axis = _normalize_axes(self.axis, ndim, "DenseGeneral")
        batch = _normalize_axes(self.batch_dims, ndim, "DenseGeneral")
        if set(axis) & set(batch):
            raise ValueError(
                f"DenseGeneral: axis {self.axis} and batch_dims {self.batch_dims} overlap."
            )
        if batch and batch != tuple(range(len(batch))):
            raise ValueError(
                f"DenseGeneral: batch_dims must be the leading axes (0, 1, ...), got {self.batch_dims}."
            )
        batch_shape = tuple(inputs.shape[a] for a in batch)
        in_shape = tuple(inputs.shape[a] for a in axis)
        kernel_shape = (*batch_shape, *in_shape, *features)
        flat_in = math.prod(batch_shape) * math.prod(in_shape)
        flat_out = math.prod(features)

        def kernel_init(key, shape, dtype):
            flat = self.kernel_init(key, (flat_in, flat_out), dtype)
            return dnp.reshape(flat, shape)

        kernel = self.param("kernel", kernel_init, kernel_shape, self.param_dtype)
        bias = None
        if self.use_bias:

            def bias_init(key, shape, dtype):
                return dnp.reshape(self.bias_init(key, (math.prod(shape),), dtype), shape)

            bias = self.param("bias", bias_init, (*batch_shape, *features), self.param_dtype)
        inputs, kernel, bias = cast(self.dtype, inputs, kernel, bias)
        if not batch:
            # Move the contracted axes last, flatten them, and use the dense layer math.
            rest = tuple(a for a in range(ndim) if a not in axis)
            x = dnp.transpose(inputs, (*rest, *axis))
            lead = x.shape[: len(rest)]
            x = dnp.reshape(x, (*lead, math.prod(in_shape)))
            w = dnp.reshape(kernel, (math.prod(in_shape), flat_out))
            b = None if bias is None else dnp.reshape(bias, (flat_out,))
            return dnp.reshape(dx.nn.dense(x, w, b), (*lead, *features))
        n_b, n_in = len(batch), len(axis)
        contract = (axis, tuple(range(n_b, n_b + n_in)))
        out = dx.lax.dot_general(inputs, kernel, (contract, (batch, tuple(range(n_b)))))
        if bias is not None:
            # dot_general puts the batch axes first, then the free input axes, then features.
            free = ndim - n_b - n_in
            out = out + dnp.reshape(bias, (*batch_shape, *([1] * free), *features))
        return out


def _conv_padding(padding: Any, kernel_size: tuple, dilation: tuple, who: str):
    """Flax's padding spellings -> (derivax padding, circular pads or None)."""
    if isinstance(padding, str):
        mode = padding.upper()
        if mode in ("SAME", "VALID", "SAME_LOWER"):
            return mode, None
        if mode == "CAUSAL":
            if len(kernel_size) != 1:
                raise ValueError(f"{who}: padding='CAUSAL' is for 1-D convolutions only.")
            return (((kernel_size[0] - 1) * dilation[0], 0),), None
        if mode == "CIRCULAR":
            pads = []
            for k, d in zip(kernel_size, dilation, strict=True):
                total = (k - 1) * d
                pads.append((total // 2, total - total // 2))
            return "VALID", tuple(pads)
        raise ValueError(
            f"{who}: padding={padding!r} is not one of 'SAME', 'VALID', 'CIRCULAR', 'CAUSAL', an "
            "int or a sequence of (low, high) pairs."
        )
    return padding, None


def _wrap_pad(x, pads: tuple, n_spatial: int):
    """Periodic padding of the spatial axes (the ``n_spatial`` axes before the channels)."""
    for i, (lo, hi) in enumerate(pads):
        axis = x.ndim - 1 - n_spatial + i
        size = x.shape[axis]
        index = np.arange(-lo, size + hi) % size
        x = dnp.take(x, dnp.asarray(index.astype(np.int32)), axis=axis)
    return x


def _wrap_sum(y, periods: list, transpose_kernel: bool):
    """Fold the 'VALID' transposed convolution ``y`` onto periodic outputs of the sizes
    ``periods`` (input size x stride) for ``padding='CIRCULAR'``, as Flax does.

    Along each spatial axis ``y`` is padded with zeros to an odd number of periods, placed
    so that the input's first position stays at the start of a period, then cut into
    periods that are summed: what spills over one edge wraps around to the other.
    """
    n = len(periods)
    for i, period in enumerate(periods):
        axis = y.ndim - 1 - n + i
        extra = -(y.shape[axis] - period) % (2 * period)
        # Even-sized kernels: the odd element goes on the left, or on the right when the
        # kernel is transposed (mirroring a regular convolution with the same kernel).
        lo = extra // 2 if transpose_kernel else (extra + 1) // 2
        pads = [(0, 0)] * y.ndim
        pads[axis] = (lo, extra - lo)
        y = dnp.pad(y, pads)
        y = dnp.reshape(y, (*y.shape[:axis], -1, period, *y.shape[axis + 1 :])).sum(axis=axis)
    return y


def _tuple(value: Any, n: int, who: str, what: str) -> tuple[int, ...]:
    if value is None:
        return (1,) * n
    if isinstance(value, int):
        return (value,) * n
    value = tuple(value)
    if len(value) != n:
        raise ValueError(f"{who}: {what} needs {n} entries (one per spatial axis), got {value}.")
    return value


class Conv(Module):
    """A convolution over the spatial axes of channels-last input ``(*batch, *spatial, in)``.

    Attributes:
        features: the number of output channels.
        kernel_size: the window, one int per spatial axis (an int means a 1-D window).
        strides: an int or one per spatial axis.
        padding: ``'SAME'``, ``'VALID'``, ``'CIRCULAR'`` (periodic), ``'CAUSAL'`` (1-D), an
            int, or one ``(low, high)`` pair per spatial axis.
        input_dilation: an int or one per spatial axis.
        kernel_dilation: an int or one per spatial axis (atrous convolution).
        feature_group_count: the number of groups (``in`` for a depthwise convolution).
        use_bias: whether to add a bias.
        mask: an optional array multiplied with the kernel (e.g. masked convolutions).
        dtype: the computation dtype.
        param_dtype: the dtype of the parameters.
        kernel_init: initializer of the ``(*kernel_size, in / groups, features)`` kernel.
        bias_init: initializer of the ``(features,)`` bias.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> import nn_modules as nn
        >>> conv = nn.Conv(features=8, kernel_size=(3, 3))
        >>> y, v = conv.init_with_output(derivax.random.key(0), dnp.ones((2, 28, 28, 1)))
        >>> y.shape, v["params"]["kernel"].shape
        ((2, 28, 28, 8), (3, 3, 1, 8))
    """

    features: int
    kernel_size: int | Sequence[int]
    strides: int | Sequence[int] = 1
    padding: Any = "SAME"
    input_dilation: int | Sequence[int] = 1
    kernel_dilation: int | Sequence[int] = 1
    feature_group_count: int = 1
    use_bias: bool = True
    mask: Any = None
    dtype: Any = None
    param_dtype: Any = dnp.float32
    kernel_init: Callable = default_kernel_init
    bias_init: Callable = dx.nn.initializers.zeros

    @compact
    def __call__(self, inputs):
        """Convolve ``inputs``; returns ``(*batch, *out_spatial, features)``."""
        inputs = dnp.asarray(inputs)
        kernel_size = (
            (self.kernel_size,) if isinstance(self.kernel_size, int) else tuple(self.kernel_size)
        )
        n = len(kernel_size)
        if inputs.ndim < n + 1:
            raise ValueError(
                f"Conv: input of shape {inputs.shape} has fewer than the {n + 1} axes "
                f"(*spatial, channels) that kernel_size {kernel_size} needs."
            )
        in_features = inputs.shape[-1]
        groups = self.feature_group_count
        if in_features % groups or self.features % groups:
            raise ValueError(
                f"Conv: feature_group_count={groups} must divide the input channels "
                f"({in_features}) and features ({self.features})."
            )
        dilation = _tuple(self.kernel_dilation, n, "Conv", "kernel_dilation")
        padding, circular = _conv_padding(self.padding, kernel_size, dilation, "Conv")
        if circular is not None:
            inputs = _wrap_pad(inputs, circular, n)
        kernel_shape = (*kernel_size, in_features // groups, self.features)
        kernel = self.param("kernel", self.kernel_init, kernel_shape, self.param_dtype)
        if self.mask is not None:
            kernel = kernel * self.mask
        bias = (
            self.param("bias", self.bias_init, (self.features,), self.param_dtype)
            if self.use_bias
            else None
        )
        inputs, kernel, bias = cast(self.dtype, inputs, kernel, bias)
        return dx.nn.conv(
            inputs,
            kernel,
            bias,
            strides=_tuple(self.strides, n, "Conv", "strides"),
            padding=padding,
            dilation=dilation,
            input_dilation=_tuple(self.input_dilation, n, "Conv", "input_dilation"),
            feature_group_count=groups,
        )


class ConvTranspose(Module):
    """A transposed convolution (upsampling by ``strides``) of channels-last input.

    Attributes:
        features: the number of output channels.
        kernel_size: the window, one int per spatial axis.
        strides: an int or one per spatial axis (default 1).
        padding: ``'SAME'`` (output size = input size x stride), ``'VALID'``,
            ``'CIRCULAR'`` (periodic: output size = input size x stride, what spills over
            an edge wraps around), an int, or one ``(low, high)`` pair per spatial axis.
        kernel_dilation: an int or one per spatial axis.
        use_bias: whether to add a bias.
        mask: an optional array multiplied with the kernel.
        dtype: the computation dtype.
        param_dtype: the dtype of the parameters.
        kernel_init: initializer of the ``(*kernel_size, in, features)`` kernel.
        bias_init: initializer of the bias.
        transpose_kernel: read the kernel as ``(*kernel_size, features, in)`` and flip it,
            making this the gradient of a `Conv` with the same kernel.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> import nn_modules as nn
        >>> up = nn.ConvTranspose(features=3, kernel_size=(2, 2), strides=2)
        >>> y, v = up.init_with_output(derivax.random.key(0), dnp.ones((1, 4, 4, 8)))
        >>> y.shape, v["params"]["kernel"].shape
        ((1, 8, 8, 3), (2, 2, 8, 3))
    """

    features: int
    kernel_size: int | Sequence[int]
    strides: int | Sequence[int] | None = None
    padding: Any = "SAME"
    kernel_dilation: int | Sequence[int] | None = None
    use_bias: bool = True
    mask: Any = None
    dtype: Any = None
    param_dtype: Any = dnp.float32
    kernel_init: Callable = default_kernel_init
    bias_init: Callable = dx.nn.initializers.zeros
    transpose_kernel: bool = False

    @compact
    def __call__(self, inputs):
        """Upsample ``inputs``; returns ``(*batch, *out_spatial, features)``."""
        inputs = dnp.asarray(inputs)
        kernel_size = (
            (self.kernel_size,) if isinstance(self.kernel_size, int) else tuple(self.kernel_size)
        )
        n = len(kernel_size)
        if inputs.ndim < n + 1:
            raise ValueError(
                f"ConvTranspose: input of shape {inputs.shape} has fewer than the {n + 1} axes "
                f"(*spatial, channels) that kernel_size {kernel_size} needs."
            )
        in_features = inputs.shape[-1]
        dilation = _tuple(self.kernel_dilation, n, "ConvTranspose", "kernel_dilation")
        strides = _tuple(self.strides, n, "ConvTranspose", "strides")
        padding = self.padding
        circular = isinstance(padding, str) and padding.upper() == "CIRCULAR"
        if circular:
            padding = "VALID"
        elif isinstance(padding, str) and padding.upper() not in ("SAME", "VALID"):
            raise ValueError(
                f"ConvTranspose: padding={self.padding!r} is not supported; use 'SAME', "
                "'VALID', 'CIRCULAR', an int or one (low, high) pair per spatial axis."
            )
        if self.transpose_kernel:
            kernel_shape = (*kernel_size, self.features, in_features)
        else:
            kernel_shape = (*kernel_size, in_features, self.features)
        kernel = self.param("kernel", self.kernel_init, kernel_shape, self.param_dtype)
        if self.mask is not None:
            kernel = kernel * self.mask
        bias = (
            self.param("bias", self.bias_init, (self.features,), self.param_dtype)
            if self.use_bias
            else None
        )
        inputs, kernel, bias = cast(self.dtype, inputs, kernel, bias)
        y = dx.nn.conv_transpose(
            inputs,
            kernel,
            None if circular else bias,
            strides=strides,
            padding=padding,
            dilation=dilation,
            transpose_kernel=self.transpose_kernel,
        )
        if circular:
            periods = [size * s for size, s in zip(inputs.shape[-1 - n : -1], strides, strict=True)]
            y = _wrap_sum(y, periods, self.transpose_kernel)
            if bias is not None:
                y = y + bias
        return y


class Embed(Module):
    """A lookup table of ``features``-dimensional embeddings for integer ids.

    Attributes:
        num_embeddings: the number of rows (the vocabulary size).
        features: the embedding size.
        dtype: the dtype of the returned embeddings.
        param_dtype: the dtype of the table.
        embedding_init: initializer of the ``(num_embeddings, features)`` table (normal
            with variance 1 / features).

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> import nn_modules as nn
        >>> embed = nn.Embed(num_embeddings=10, features=4)
        >>> ids = dnp.array([[1, 2, 3]])
        >>> y, v = embed.init_with_output(derivax.random.key(0), ids)
        >>> y.shape, v["params"]["embedding"].shape
        ((1, 3, 4), (10, 4))
        >>> embed.apply(v, y, method="attend").shape  # logits against every row
        (1, 3, 10)
    """

    num_embeddings: int
    features: int
    dtype: Any = None
    param_dtype: Any = dnp.float32
    embedding_init: Callable = dx.nn.initializers.variance_scaling(
        1.0, "fan_in", "normal", out_axis=0
    )

    def setup(self):
        self.embedding = self.param(
            "embedding",
            self.embedding_init,
            (self.num_embeddings, self.features),
            self.param_dtype,
        )

    def __call__(self, inputs):
        """The rows at integer ``inputs``: shape ``(*inputs.shape, features)``.

        Raises:
            TypeError: the inputs are not integers.
        """
        inputs = dnp.asarray(inputs)
        if not dnp.issubdtype(inputs.dtype, dnp.integer):
            raise TypeError(
                f"Embed: the inputs must be integer ids, got dtype {inputs.dtype}; convert them "
                "with .astype(derivax.numpy.int32)."
            )
        (embedding,) = cast(self.dtype, self.embedding)
        return dx.nn.embedding_lookup(embedding, inputs)

    def attend(self, query):
        """Logits of ``query`` (``(..., features)``) against every embedding (tied weights)."""
        (embedding,) = cast(self.dtype, self.embedding)
        return dx.nn.dense(query, dnp.transpose(embedding))
