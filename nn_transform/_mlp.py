"""`MLP`: a stack of `Linear` layers with an activation in between."""

from __future__ import annotations

import derivax.nn as dnn

from ._base import PRNGSequence
from ._basic import Linear, dropout
from ._module import Module

__all__ = ["MLP"]


class MLP(Module):
    """A multi-layer perceptron: ``Linear -> activation -> ... -> Linear``.

    The layers are children named ``linear_0``, ``linear_1``... created in the
    constructor, so their parameters are ``mlp/~/linear_0`` and so on.

    Args:
        output_sizes: the output size of each layer.
        w_init: initializer of every kernel (default `Linear`'s).
        b_init: initializer of every bias.
        with_bias: whether the layers have biases.
        activation: applied between layers (default ``derivax.nn.relu``).
        activate_final: also apply it after the last layer.
        name: the module name (default ``mlp``).

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> t = nt.transform(lambda x: nt.nets.MLP([16, 16, 10])(x))
        >>> params = t.init(0, dnp.ones((2, 8)))
        >>> list(params)
        ['mlp/~/linear_0', 'mlp/~/linear_1', 'mlp/~/linear_2']
        >>> t.apply(params, None, dnp.ones((2, 8))).shape
        (2, 10)
    """

    def __init__(
        self,
        output_sizes,
        w_init=None,
        b_init=None,
        with_bias=True,
        activation=dnn.relu,
        activate_final=False,
        name=None,
    ):
        super().__init__(name=name)
        if not with_bias and b_init is not None:
            raise ValueError("MLP: b_init was given but with_bias=False.")
        self.output_sizes = tuple(int(s) for s in output_sizes)
        self.activation = activation
        self.activate_final = activate_final
        self.layers = tuple(
            Linear(size, with_bias=with_bias, w_init=w_init, b_init=b_init, name=f"linear_{i}")
            for i, size in enumerate(self.output_sizes)
        )

    def __call__(self, inputs, dropout_rate=None, rng=None):
        """Apply the layers; with ``dropout_rate``, dropout follows each activation.

        Args:
            inputs: ``(..., features)``.
            dropout_rate: the drop probability (needs ``rng``), or None.
            rng: a PRNG key for dropout.

        Returns:
            ``(..., output_sizes[-1])``.

        Example:
            >>> import derivax.numpy as dnp, derivax.random as dr
            >>> import nn_transform as nt
            >>> t = nt.transform(lambda x: nt.nets.MLP([4, 2])(x, 0.5, nt.next_rng_key()))
            >>> t.apply(t.init(0, dnp.ones((1, 3))), dr.PRNGKey(1), dnp.ones((1, 3))).shape
            (1, 2)
        """
        if dropout_rate is not None and rng is None:
            raise ValueError(
                f"{self.module_name}: dropout_rate={dropout_rate} needs rng (e.g. "
                "nt.next_rng_key()); pass dropout_rate=None for no dropout."
            )
        keys = PRNGSequence(rng) if dropout_rate is not None else None
        out = inputs
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            out = layer(out)
            if i < last or self.activate_final:
                if keys is not None:
                    out = dropout(next(keys), dropout_rate, out)
                out = self.activation(out)
        return out
