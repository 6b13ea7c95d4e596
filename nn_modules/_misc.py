"""`Dropout` and `Sequential`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import derivax as dx
import derivax.nn
import derivax.numpy as dnp

from ._module import Module, compact
from ._normalization import merge_param

__all__ = ["Dropout", "Sequential"]


class Dropout(Module):
    """Zero inputs with probability ``rate`` in training and scale the rest by ``1/(1-rate)``.

    In training (``deterministic=False``) the mask comes from the ``rng_collection``
    stream (``'dropout'``): pass ``rngs={'dropout': key}`` to ``apply``. In evaluation
    (``deterministic=True``) the input is returned unchanged and no key is needed.

    Attributes:
        rate: the drop probability.
        broadcast_dims: axes along which the mask is shared (e.g. the spatial axes, to
            drop whole channels).
        deterministic: evaluation mode; may instead be passed at call time.
        rng_collection: the RNG stream the mask is drawn from.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> import nn_modules as nn
        >>> drop = nn.Dropout(rate=0.5)
        >>> x = dnp.ones((2, 4))
        >>> drop.apply({}, x, deterministic=True)
        Array([[1., 1., 1., 1.],
               [1., 1., 1., 1.]], dtype=float32)
        >>> y = drop.apply({}, x, deterministic=False, rngs={"dropout": derivax.random.key(0)})
        >>> sorted(set(y.reshape(-1).tolist())) in ([0.0, 2.0], [2.0], [0.0])
        True
    """

    rate: float
    broadcast_dims: Sequence[int] = ()
    deterministic: bool | None = None
    rng_collection: str = "dropout"

    @compact
    def __call__(self, inputs, deterministic: bool | None = None, rng: Any = None):
        """Apply dropout; ``rng`` overrides the key drawn from the stream.

        Raises:
            MissingRngError: training mode and no key for the stream was given.
        """
        deterministic = merge_param("deterministic", self.deterministic, deterministic)
        if deterministic or self.rate == 0.0:
            return dnp.asarray(inputs)
        if self.rate == 1.0:
            return dnp.zeros_like(dnp.asarray(inputs))
        if rng is None:
            rng = self.make_rng(self.rng_collection)
        return dx.nn.dropout(rng, self.rate, inputs, broadcast_dims=tuple(self.broadcast_dims))


class Sequential(Module):
    """Apply ``layers`` in order, each to the output of the previous one.

    A tuple output is unpacked into the next layer's positional arguments and a dict
    output into its keyword arguments. Layers may be modules or plain functions
    (activations); modules given to the constructor are named ``layers_0``,
    ``layers_1``, ... after their position.

    Attributes:
        layers: the modules and functions, in order.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> import nn_modules as nn
        >>> mlp = nn.Sequential([nn.Dense(8), nn.relu, nn.Dense(2)])
        >>> y, v = mlp.init_with_output(derivax.random.key(0), dnp.ones((1, 3)))
        >>> y.shape, sorted(v["params"])
        ((1, 2), ['layers_0', 'layers_2'])
    """

    layers: Sequence[Callable]

    def __call__(self, *args, **kwargs):
        """Run the chain on the inputs of the first layer."""
        if not self.layers:
            raise ValueError(
                f"Sequential {self.name or ''} has no layers; give it at least one module or "
                "function."
            )
        outputs = self.layers[0](*args, **kwargs)
        for layer in self.layers[1:]:
            if isinstance(outputs, tuple):
                outputs = layer(*outputs)
            elif isinstance(outputs, dict):
                outputs = layer(**outputs)
            else:
                outputs = layer(outputs)
        return outputs
