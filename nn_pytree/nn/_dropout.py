"""`Dropout`: zeroes random elements in training, the identity in inference."""

from __future__ import annotations

from typing import Any

import derivax

from .._module import Module, field
from ._misc import as_input

__all__ = ["Dropout"]


def missing_key_message(layer: str, p: float) -> str:
    return (
        f"{layer}(p={p}) is in training mode and needs a PRNG key to draw its mask: call it "
        f"with key=... (e.g. one of derivax.random.split(key, n)). For evaluation switch it "
        f"off with nnp.nn.inference_mode(model) or inference=True."
    )


class Dropout(Module):
    """Zeroes each element with probability ``p`` and scales the others by ``1 / (1 - p)``.

    In inference mode (``inference=True``, see `inference_mode`) it returns its input
    unchanged. The mask is ``derivax.nn.dropout``'s, so the same key gives the same mask
    as the other libraries.

    Args:
        p: The drop probability, in ``[0, 1]``.
        inference: Start in inference mode.

    Example:
        >>> import derivax.numpy as dnp, derivax.random as dr
        >>> import nn_pytree as nnp
        >>> drop = nnp.nn.Dropout(0.5)
        >>> y = drop(dnp.ones(1000), key=dr.PRNGKey(0))
        >>> sorted(set(y.tolist()))
        [0.0, 2.0]
        >>> nnp.nn.inference_mode(drop)(dnp.ones(2))
        Array([1., 1.], dtype=float32)
    """

    p: float = field(static=True)
    inference: bool

    def __init__(self, p: float = 0.5, inference: bool = False):
        if not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {p!r}.")
        self.p = float(p)
        self.inference = inference

    def __call__(self, x: Any, *, key: Any = None, inference: bool | None = None) -> Any:
        """Applies dropout to one input (of any shape).

        Args:
            x: The input.
            key: A PRNG key; required in training mode when ``p > 0``.
            inference: Overrides the layer's ``inference`` flag for this call.

        Returns:
            An array of ``x``'s shape.

        Raises:
            ValueError: In training mode without a key.
        """
        x = as_input("Dropout", x)
        inference = self.inference if inference is None else inference
        if isinstance(inference, bool) and not inference and self.p > 0 and key is None:
            raise ValueError(missing_key_message("Dropout", self.p))
        return derivax.nn.dropout(key, self.p, x, deterministic=inference)
