"""`Embedding`: a lookup table of vectors indexed by an integer."""

from __future__ import annotations

from typing import Any

import numpy as np

import derivax
import derivax.numpy as dnp
import derivax.random as dr

from .._module import Module, field
from ._misc import as_input, float_dtype

__all__ = ["Embedding"]


class Embedding(Module):
    """Maps an integer index to a row of a learned ``(num_embeddings, embedding_size)`` table.

    The table starts from a standard normal distribution, or is given as ``weight``.

    Args:
        num_embeddings: The number of rows (omit when ``weight`` is given).
        embedding_size: The row size (omit when ``weight`` is given).
        weight: An initial table; then ``key`` is not needed.
        dtype: The table's dtype.
        key: A PRNG key (keyword only), required without ``weight``.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_pytree as nnp
        >>> emb = nnp.nn.Embedding(weight=dnp.arange(6.0).reshape(3, 2))
        >>> emb(2)
        Array([4., 5.], dtype=float32)
    """

    weight: derivax.Array
    num_embeddings: int = field(static=True)
    embedding_size: int = field(static=True)

    def __init__(
        self,
        num_embeddings: int | None = None,
        embedding_size: int | None = None,
        weight: Any = None,
        dtype: Any = None,
        *,
        key: Any = None,
    ):
        if weight is None:
            if num_embeddings is None or embedding_size is None or key is None:
                raise TypeError(
                    "Embedding: pass num_embeddings, embedding_size and key=derivax.random."
                    "PRNGKey(seed) to draw a table, or weight=<(num_embeddings, embedding_size) "
                    "array> to use a given one."
                )
            weight = dr.normal(key, (num_embeddings, embedding_size), float_dtype(dtype))
        else:
            weight = dnp.asarray(weight, dtype)
            if weight.ndim != 2:
                raise ValueError(
                    f"Embedding: weight must be a 2-D (num_embeddings, embedding_size) array, "
                    f"got shape {tuple(weight.shape)}."
                )
            for name, given, actual in (
                ("num_embeddings", num_embeddings, weight.shape[0]),
                ("embedding_size", embedding_size, weight.shape[1]),
            ):
                if given is not None and given != actual:
                    raise ValueError(
                        f"Embedding: {name}={given} disagrees with the weight of shape "
                        f"{tuple(weight.shape)}."
                    )
        self.weight = weight
        self.num_embeddings = int(weight.shape[0])
        self.embedding_size = int(weight.shape[1])

    def __call__(self, x: Any, *, key: Any = None) -> Any:
        """Looks up one index.

        Args:
            x: A scalar integer (array or Python int) in ``[0, num_embeddings)``.
            key: Ignored.

        Returns:
            Shape ``(embedding_size,)``.

        Raises:
            ValueError: If ``x`` is not a scalar (e.g. a batch of indices).
            TypeError: If ``x`` is not an integer.
        """
        x = as_input("Embedding", x)
        if x.ndim != 0:
            raise ValueError(
                f"Embedding looks up one index (a scalar integer), got an input of shape "
                f"{tuple(x.shape)}. Layers in nn_pytree take one example; for many indices use "
                f"derivax.vmap(embedding)(indices)."
            )
        if not np.issubdtype(np.dtype(x.dtype), np.integer):
            raise TypeError(
                f"Embedding: the index must be an integer, got dtype {np.dtype(x.dtype).name}; "
                f"convert it with .astype(derivax.numpy.int32)."
            )
        return derivax.nn.embedding_lookup(self.weight, x)
