"""Composition: `Sequential`, `Lambda`, and the `PReLU` activation layer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import derivax
import derivax.numpy as dnp

from .._module import Module
from ._misc import as_input, split

__all__ = ["Lambda", "PReLU", "Sequential"]

_NO_STATE: Any = object()


class Sequential(Module):
    """Calls layers in order, splitting ``key`` among them and threading ``state``.

    Called as ``seq(x, key=key)`` it returns the output; called as ``seq(x, state,
    key=key)`` it returns ``(output, state)``, passing the state to the layers that take
    one (those whose class sets ``stateful = True``, such as `BatchNorm`).

    Args:
        layers: The layers (any callables taking ``x`` and a keyword ``key``).

    Example:
        >>> import derivax, derivax.numpy as dnp, derivax.random as dr
        >>> import nn_pytree as nnp
        >>> k1, k2 = dr.split(dr.PRNGKey(0))
        >>> seq = nnp.nn.Sequential([nnp.nn.Linear(3, 4, key=k1),
        ...                          nnp.nn.Lambda(derivax.nn.relu),
        ...                          nnp.nn.Linear(4, 1, key=k2)])
        >>> seq(dnp.ones(3)).shape, len(seq)
        ((1,), 3)
    """

    stateful: ClassVar[bool] = True

    layers: tuple

    def __init__(self, layers: Sequence[Callable[..., Any]]):
        layers = tuple(layers)
        for i, layer in enumerate(layers):
            if not callable(layer):
                raise TypeError(
                    f"Sequential: layer {i} is a {type(layer).__name__}, which is not callable. "
                    f"Wrap functions in nnp.nn.Lambda(fn) and pass layers, not their classes' "
                    f"arguments."
                )
        self.layers = layers

    def __call__(self, x: Any, state: Any = _NO_STATE, *, key: Any = None) -> Any:
        """Applies the layers in order.

        Args:
            x: The input of the first layer.
            state: Optional `State`, threaded through stateful layers.
            key: Optional PRNG key, split into one key per layer.

        Returns:
            The last layer's output, or ``(output, state)`` when ``state`` was given.
        """
        keys = split(key, len(self.layers))
        for layer, k in zip(self.layers, keys, strict=True):
            if state is not _NO_STATE and getattr(layer, "stateful", False):
                x, state = layer(x, state, key=k)
            else:
                x = layer(x, key=k)
        return x if state is _NO_STATE else (x, state)

    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            return Sequential(self.layers[i])
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)


class Lambda(Module):
    """Wraps a function without parameters (an activation, a reshape) as a layer.

    Args:
        fn: The function ``x -> y``.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> import nn_pytree as nnp
        >>> nnp.nn.Lambda(derivax.nn.relu)(dnp.array([-1.0, 2.0]))
        Array([0., 2.], dtype=float32)
    """

    fn: Callable[[Any], Any]

    def __init__(self, fn: Callable[[Any], Any]):
        if not callable(fn):
            raise TypeError(f"Lambda: fn must be callable, got {type(fn).__name__}.")
        self.fn = fn

    def __call__(self, x: Any, *, key: Any = None) -> Any:
        """Returns ``fn(x)``.

        Args:
            x: The input.
            key: Ignored.

        Returns:
            ``fn(x)``.
        """
        return self.fn(x)


class PReLU(Module):
    """A leaky ReLU whose negative slope is learned: ``x if x >= 0 else slope * x``.

    Args:
        init_alpha: The initial slope: a float (one slope, shape ``()``) or an array (one
            slope per element, broadcast against the input).

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_pytree as nnp
        >>> nnp.nn.PReLU(0.1)(dnp.array([-2.0, 3.0]))
        Array([-0.2,  3. ], dtype=float32)
    """

    negative_slope: derivax.Array

    def __init__(self, init_alpha: Any = 0.25):
        self.negative_slope = dnp.asarray(init_alpha, dnp.float32)

    def __call__(self, x: Any, *, key: Any = None) -> Any:
        """Applies the activation elementwise.

        Args:
            x: Any array the slope broadcasts against.
            key: Ignored.

        Returns:
            An array of ``x``'s shape.
        """
        x = as_input("PReLU", x)
        return derivax.nn.leaky_relu(x, self.negative_slope)
