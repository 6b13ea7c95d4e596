"""Pooling on one channels-first example: `MaxPool2d`, `AvgPool2d`, `AdaptiveAvgPool2d`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import derivax
import derivax.numpy as dnp

from .._module import Module, field
from ._misc import as_input, check_rank, ntuple, padding_pairs

__all__ = ["AdaptiveAvgPool2d", "AvgPool2d", "MaxPool2d"]


class _Pool2d(Module):
    kernel_size: tuple[int, int] = field(static=True)
    stride: tuple[int, int] = field(static=True)
    padding: tuple[tuple[int, int], tuple[int, int]] = field(static=True)
    use_ceil: bool = field(static=True)

    def __init__(
        self,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: int | Sequence[int] | Sequence[tuple[int, int]] = 0,
        use_ceil: bool = False,
    ):
        layer = type(self).__name__
        self.kernel_size = ntuple(layer, "kernel_size", kernel_size, 2)
        self.stride = ntuple(layer, "stride", stride, 2)
        self.padding = padding_pairs(layer, padding, 2)
        self.use_ceil = bool(use_ceil)
        for k, s in zip(self.kernel_size, self.stride, strict=True):
            if k < 1 or s < 1:
                raise ValueError(
                    f"{layer}: kernel_size {self.kernel_size} and stride {self.stride} must be "
                    f"positive."
                )

    def _pads(self, x: Any) -> tuple[tuple[int, int], ...]:
        if not self.use_ceil:
            return self.padding
        pads = []
        for size, k, s, (lo, hi) in zip(
            x.shape[1:], self.kernel_size, self.stride, self.padding, strict=True
        ):
            rest = (size + lo + hi - k) % s
            pads.append((lo, hi + (s - rest if rest else 0)))
        return tuple(pads)

    def _check(self, x: Any) -> Any:
        layer = type(self).__name__
        x = as_input(layer, x)
        check_rank(layer, x, 3, "of shape (channels, height, width)")
        for size, k, (lo, hi) in zip(x.shape[1:], self.kernel_size, self.padding, strict=True):
            if size + lo + hi < k:
                raise ValueError(
                    f"{layer}: the input of shape {tuple(x.shape)} (padded by {self.padding}) is "
                    f"smaller than the kernel {self.kernel_size}."
                )
        return x


class MaxPool2d(_Pool2d):
    """The maximum over each ``kernel_size`` window of each channel.

    Args:
        kernel_size: An int or ``(kh, kw)``.
        stride: An int or a pair (1 by default, as in Equinox; pass ``kernel_size`` for
            non-overlapping windows).
        padding: An int, a pair, or two ``(low, high)`` pairs (padding never wins).
        use_ceil: Keep a last, partial window at the end of each dimension.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_pytree as nnp
        >>> x = dnp.arange(16.0).reshape(1, 4, 4)
        >>> nnp.nn.MaxPool2d(2, stride=2)(x)
        Array([[[ 5.,  7.],
                [13., 15.]]], dtype=float32)
    """

    def __call__(self, x: Any, *, key: Any = None) -> Any:
        """Pools one example.

        Args:
            x: Shape ``(channels, height, width)``.
            key: Ignored.

        Returns:
            Shape ``(channels, out_height, out_width)``.
        """
        x = self._check(x)
        return derivax.nn.max_pool(x, self.kernel_size, self.stride, self._pads(x), channel_axis=0)


class AvgPool2d(_Pool2d):
    """The mean over each ``kernel_size`` window of each channel (padding counts as zeros).

    Args:
        kernel_size: An int or ``(kh, kw)``.
        stride: An int or a pair (1 by default).
        padding: An int, a pair, or two ``(low, high)`` pairs.
        use_ceil: Keep a last, partial window at the end of each dimension.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_pytree as nnp
        >>> nnp.nn.AvgPool2d(2, stride=2)(dnp.arange(16.0).reshape(1, 4, 4))
        Array([[[ 2.5,  4.5],
                [10.5, 12.5]]], dtype=float32)
    """

    def __call__(self, x: Any, *, key: Any = None) -> Any:
        """Pools one example.

        Args:
            x: Shape ``(channels, height, width)``.
            key: Ignored.

        Returns:
            Shape ``(channels, out_height, out_width)``.
        """
        x = self._check(x)
        return derivax.nn.avg_pool(x, self.kernel_size, self.stride, self._pads(x), channel_axis=0)


def _adaptive_matrix(size: int, target: int) -> np.ndarray:
    """Row ``i`` averages the input positions ``floor(i*size/target) .. ceil((i+1)*size/target)``."""
    m = np.zeros((target, size), np.float32)
    for i in range(target):
        start = (i * size) // target
        stop = -((-(i + 1) * size) // target)
        m[i, start:stop] = 1.0 / (stop - start)
    return m


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size, whatever the input size.

    Output cell ``(i, j)`` averages the input rows ``floor(i * H / h) .. ceil((i + 1) * H
    / h)`` and the matching columns (PyTorch's definition), for ``target_shape = (h, w)``.

    Args:
        target_shape: An int or ``(h, w)``.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_pytree as nnp
        >>> nnp.nn.AdaptiveAvgPool2d(1)(dnp.arange(8.0).reshape(2, 2, 2))
        Array([[[1.5]],
        <BLANKLINE>
               [[5.5]]], dtype=float32)
    """

    target_shape: tuple[int, int] = field(static=True)

    def __init__(self, target_shape: int | Sequence[int]):
        self.target_shape = ntuple("AdaptiveAvgPool2d", "target_shape", target_shape, 2)
        if min(self.target_shape) < 1:
            raise ValueError(
                f"AdaptiveAvgPool2d: target_shape must be positive, got {self.target_shape}."
            )

    def __call__(self, x: Any, *, key: Any = None) -> Any:
        """Pools one example.

        Args:
            x: Shape ``(channels, height, width)`` with ``height >= h`` and ``width >= w``.
            key: Ignored.

        Returns:
            Shape ``(channels, h, w)``.

        Raises:
            ValueError: For a batched input, or one smaller than the target.
        """
        x = as_input("AdaptiveAvgPool2d", x)
        check_rank("AdaptiveAvgPool2d", x, 3, "of shape (channels, height, width)")
        h, w = x.shape[1:]
        th, tw = self.target_shape
        if h < th or w < tw:
            raise ValueError(
                f"AdaptiveAvgPool2d: the input of shape {tuple(x.shape)} is smaller than the "
                f"target {self.target_shape}."
            )
        # Averages over rectangles are separable: rows, then columns.
        rows = dnp.asarray(_adaptive_matrix(h, th), x.dtype)
        cols = dnp.asarray(_adaptive_matrix(w, tw), x.dtype)
        return dnp.einsum("ih,chw,jw->cij", rows, x, cols)
