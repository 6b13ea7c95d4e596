"""`MLP`: a stack of `Linear` layers with an activation between them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import derivax

from .._module import Module, field
from ._linear import Linear
from ._misc import check_key, split

__all__ = ["MLP"]


def identity(x: Any) -> Any:
    """The identity function: the default ``final_activation`` of `MLP`.

    Example:
        >>> identity(3)
        3
    """
    return x


class MLP(Module):
    """A multilayer perceptron: ``depth`` hidden layers of ``width_size`` units.

    ``depth + 1`` `Linear` layers; ``activation`` follows each hidden layer and
    ``final_activation`` the last one.

    Args:
        in_size: Input size (or ``"scalar"``).
        out_size: Output size (or ``"scalar"``).
        width_size: Units per hidden layer.
        depth: Number of hidden layers (0 gives a single `Linear`).
        activation: Applied after every hidden layer (``derivax.nn.relu`` by default).
        final_activation: Applied to the output (the identity by default).
        use_bias: Bias in the hidden layers.
        use_final_bias: Bias in the last layer.
        dtype: The parameters' dtype.
        key: A PRNG key (keyword only).

    Example:
        >>> import derivax.numpy as dnp, derivax.random as dr
        >>> import nn_pytree as nnp
        >>> mlp = nnp.nn.MLP(4, 2, width_size=8, depth=2, key=dr.PRNGKey(0))
        >>> [layer.weight.shape for layer in mlp.layers]
        [(8, 4), (8, 8), (2, 8)]
        >>> mlp(dnp.ones(4)).shape
        (2,)
    """

    layers: tuple[Linear, ...]
    activation: Callable[[Any], Any]
    final_activation: Callable[[Any], Any]
    use_bias: bool = field(static=True)
    use_final_bias: bool = field(static=True)
    in_size: int | Literal["scalar"] = field(static=True)
    out_size: int | Literal["scalar"] = field(static=True)
    width_size: int = field(static=True)
    depth: int = field(static=True)

    def __init__(
        self,
        in_size: int | Literal["scalar"],
        out_size: int | Literal["scalar"],
        width_size: int,
        depth: int,
        activation: Callable[[Any], Any] = derivax.nn.relu,
        final_activation: Callable[[Any], Any] = identity,
        use_bias: bool = True,
        use_final_bias: bool = True,
        dtype: Any = None,
        *,
        key: Any,
    ):
        check_key("MLP", key)
        if not isinstance(depth, int) or depth < 0:
            raise ValueError(f"MLP: depth must be a non-negative int, got {depth!r}.")
        keys = split(key, depth + 1)
        if depth == 0:
            layers = [Linear(in_size, out_size, use_final_bias, dtype, key=keys[0])]
        else:
            layers = [Linear(in_size, width_size, use_bias, dtype, key=keys[0])]
            for i in range(depth - 1):
                layers.append(Linear(width_size, width_size, use_bias, dtype, key=keys[i + 1]))
            layers.append(Linear(width_size, out_size, use_final_bias, dtype, key=keys[-1]))
        self.layers = tuple(layers)
        self.activation = activation
        self.final_activation = final_activation
        self.use_bias = use_bias
        self.use_final_bias = use_final_bias
        self.in_size = in_size
        self.out_size = out_size
        self.width_size = width_size
        self.depth = depth

    def __call__(self, x: Any, *, key: Any = None) -> Any:
        """Applies the network to one input.

        Args:
            x: Shape ``(in_size,)`` (or ``()`` for ``"scalar"``).
            key: Ignored.

        Returns:
            Shape ``(out_size,)`` (or ``()``).
        """
        for layer in self.layers[:-1]:
            x = self.activation(layer(x))
        return self.final_activation(self.layers[-1](x))
