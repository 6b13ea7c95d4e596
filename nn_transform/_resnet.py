"""`ResNet` with basic (two 3x3 convolution) blocks, and `ResNet18`."""

from __future__ import annotations

import derivax.nn as dnn
import derivax.numpy as dnp

from ._basic import Linear
from ._conv import Conv2D
from ._module import Module
from ._norm import BatchNorm
from ._pool import max_pool

__all__ = ["ResNet", "ResNet18"]


def _bn_config(bn_config):
    config = dict(bn_config or {})
    config.setdefault("create_scale", True)
    config.setdefault("create_offset", True)
    config.setdefault("decay_rate", 0.9)
    config.setdefault("eps", 1e-5)
    return config


class _Block(Module):
    """``relu(bn(conv(relu(bn(conv(x))))) + shortcut(x))``; the shortcut is a strided 1x1
    convolution with batch norm when ``use_projection``."""

    def __init__(self, channels, stride, use_projection, bn_config, name=None):
        super().__init__(name=name)
        self.use_projection = use_projection
        if use_projection:
            self.proj_conv = Conv2D(channels, 1, stride, with_bias=False, name="shortcut_conv")
            self.proj_batchnorm = BatchNorm(name="shortcut_batchnorm", **bn_config)
        self.conv_0 = Conv2D(channels, 3, stride, with_bias=False, name="conv_0")
        self.batchnorm_0 = BatchNorm(name="batchnorm_0", **bn_config)
        self.conv_1 = Conv2D(channels, 3, 1, with_bias=False, name="conv_1")
        self.batchnorm_1 = BatchNorm(name="batchnorm_1", **bn_config)

    def __call__(self, inputs, is_training, test_local_stats):
        shortcut = inputs
        if self.use_projection:
            shortcut = self.proj_batchnorm(self.proj_conv(inputs), is_training, test_local_stats)
        out = self.batchnorm_0(self.conv_0(inputs), is_training, test_local_stats)
        out = dnn.relu(out)
        out = self.batchnorm_1(self.conv_1(out), is_training, test_local_stats)
        return dnn.relu(out + shortcut)


class _BlockGroup(Module):
    def __init__(self, channels, num_blocks, stride, use_projection, bn_config, name=None):
        super().__init__(name=name)
        self.blocks = tuple(
            _Block(
                channels,
                stride if i == 0 else 1,
                use_projection if i == 0 else False,
                bn_config,
                name=f"block_{i}",
            )
            for i in range(num_blocks)
        )

    def __call__(self, inputs, is_training, test_local_stats):
        out = inputs
        for block in self.blocks:
            out = block(out, is_training, test_local_stats)
        return out


class ResNet(Module):
    """A residual network of basic blocks (He et al., 2016), inputs ``(N, H, W, C)``.

    Stem: a 7x7 stride-2 convolution, batch norm, ReLU and a 3x3 stride-2 max pool; then
    the block groups; then a global average pool and a `Linear` ``logits`` layer
    (zero-initialized). Uses `BatchNorm`, so transform it with `transform_with_state`.

    Args:
        blocks_per_group: the number of blocks in each group.
        num_classes: the number of logits.
        bn_config: keyword arguments of every `BatchNorm` (default
            ``decay_rate=0.9, eps=1e-5`` with scale and offset).
        channels_per_group: the channels of each group (the stem has the first).
        use_projection: per group, whether the first block's shortcut is a projection
            (default all).
        strides: per group, the first block's stride (default 1, then 2).
        initial_conv_config: keyword arguments overriding the stem convolution's.
        name: the module name.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> def f(x, is_training):
        ...     net = nt.nets.ResNet([1, 1], 10, channels_per_group=(4, 8), strides=(1, 2),
        ...                          use_projection=(False, True))
        ...     return net(x, is_training)
        >>> t = nt.transform_with_state(f)
        >>> x = dnp.ones((2, 16, 16, 3))
        >>> params, state = t.init(0, x, True)
        >>> t.apply(params, state, None, x, False)[0].shape
        (2, 10)
    """

    def __init__(
        self,
        blocks_per_group,
        num_classes,
        bn_config=None,
        channels_per_group=(64, 128, 256, 512),
        use_projection=None,
        strides=None,
        initial_conv_config=None,
        name=None,
    ):
        super().__init__(name=name)
        groups = len(blocks_per_group)
        if use_projection is None:
            use_projection = (True,) * groups
        if strides is None:
            strides = (1,) + (2,) * (groups - 1)
        for what, seq in (
            ("channels_per_group", channels_per_group),
            ("use_projection", use_projection),
            ("strides", strides),
        ):
            if len(seq) != groups:
                raise ValueError(
                    f"ResNet: {what} needs one entry per group ({groups}, the length of "
                    f"blocks_per_group), got {tuple(seq)}."
                )
        bn_config = _bn_config(bn_config)
        conv_config = {
            "output_channels": channels_per_group[0],
            "kernel_shape": 7,
            "stride": 2,
            "with_bias": False,
            "padding": "SAME",
            "name": "initial_conv",
        }
        conv_config.update(initial_conv_config or {})
        self.initial_conv = Conv2D(**conv_config)
        self.initial_batchnorm = BatchNorm(name="initial_batchnorm", **bn_config)
        self.block_groups = tuple(
            _BlockGroup(
                channels_per_group[i],
                blocks_per_group[i],
                strides[i],
                use_projection[i],
                bn_config,
                name=f"block_group_{i}",
            )
            for i in range(groups)
        )
        self.logits = Linear(num_classes, w_init=dnp.zeros, name="logits")

    def __call__(self, inputs, is_training, test_local_stats=False):
        """Logits ``(N, num_classes)`` for images ``(N, H, W, C)``.

        Args:
            inputs: the images.
            is_training: batch norm in training mode (batch statistics, averages updated).
            test_local_stats: batch norm in evaluation uses batch statistics.

        Returns:
            The logits.

        Example:
            >>> import derivax.numpy as dnp
            >>> import nn_transform as nt
            >>> def f(x):
            ...     return nt.nets.ResNet18(3, channels_per_group=(2, 2, 2, 2))(x, True)
            >>> t = nt.transform_with_state(f)
            >>> x = dnp.ones((1, 8, 8, 1))
            >>> t.apply(*t.init(0, x), None, x)[0].shape
            (1, 3)
        """
        out = self.initial_conv(inputs)
        out = dnn.relu(self.initial_batchnorm(out, is_training, test_local_stats))
        out = max_pool(out, 3, 2, "SAME")
        for group in self.block_groups:
            out = group(out, is_training, test_local_stats)
        out = dnp.mean(out, axis=(1, 2))
        return self.logits(out)


class ResNet18(ResNet):
    """`ResNet` with two basic blocks in each of four groups (ResNet-18).

    Args:
        num_classes: the number of logits.
        bn_config: keyword arguments of every `BatchNorm`.
        channels_per_group: the channels of the four groups (smaller values make a small
            network of the same shape).
        strides: the first stride of each group.
        initial_conv_config: keyword arguments overriding the stem convolution's.
        name: the module name (default ``res_net18``).

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> def f(x):
        ...     return nt.nets.ResNet18(10, channels_per_group=(4, 4, 8, 8))(x, is_training=True)
        >>> params, state = nt.transform_with_state(f).init(0, dnp.ones((1, 16, 16, 3)))
        >>> len(params), params["res_net18/~/logits"]["w"].shape
        (41, (8, 10))
    """

    def __init__(
        self,
        num_classes,
        bn_config=None,
        channels_per_group=(64, 128, 256, 512),
        strides=(1, 2, 2, 2),
        initial_conv_config=None,
        name=None,
    ):
        super().__init__(
            (2, 2, 2, 2),
            num_classes,
            bn_config=bn_config,
            channels_per_group=channels_per_group,
            use_projection=(False, True, True, True),
            strides=strides,
            initial_conv_config=initial_conv_config,
            name=name,
        )
