"""`Embed` (a lookup table) and `MultiHeadAttention`."""

from __future__ import annotations

import math

import derivax.nn as dnn
import derivax.numpy as dnp

from ._base import get_parameter
from ._basic import Linear
from ._initializers import Constant, TruncatedNormal, VarianceScaling
from ._module import Module

__all__ = ["Embed", "MultiHeadAttention"]

_LOOKUP_STYLES = ("ARRAY_INDEX", "ONE_HOT")


class Embed(Module):
    """A table of ``vocab_size`` vectors of size ``embed_dim``, looked up by integer id.

    Parameter: ``embeddings`` of shape ``(vocab_size, embed_dim)``, initialized by a
    truncated normal with stddev 1 (or to ``embedding_matrix``).

    Args:
        vocab_size: the number of rows.
        embed_dim: the size of each row.
        embedding_matrix: an initial table (then ``vocab_size``/``embed_dim`` are read
            from it).
        w_init: initializer of the table.
        lookup_style: ``"ARRAY_INDEX"`` (gather rows) or ``"ONE_HOT"`` (one-hot matmul).
        name: the module name.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> table = dnp.arange(6.0).reshape(3, 2)
        >>> t = nt.transform(lambda ids: nt.Embed(embedding_matrix=table)(ids))
        >>> ids = dnp.array([2, 0])
        >>> t.apply(t.init(None, ids), None, ids)
        Array([[4., 5.],
               [0., 1.]], dtype=float32)
    """

    def __init__(
        self,
        vocab_size=None,
        embed_dim=None,
        embedding_matrix=None,
        w_init=None,
        lookup_style="ARRAY_INDEX",
        name=None,
    ):
        super().__init__(name=name)
        if embedding_matrix is not None:
            if w_init is not None:
                raise ValueError(f"{self.module_name}: give embedding_matrix or w_init, not both.")
            embedding_matrix = dnp.asarray(embedding_matrix)
            if embedding_matrix.ndim != 2:
                raise ValueError(
                    f"{self.module_name}: embedding_matrix must be 2-D (vocab_size, embed_dim), "
                    f"got shape {embedding_matrix.shape}."
                )
            shape = embedding_matrix.shape
            if (vocab_size, embed_dim) != (None, None) and (vocab_size, embed_dim) != shape:
                raise ValueError(
                    f"{self.module_name}: vocab_size={vocab_size} and embed_dim={embed_dim} do "
                    f"not match embedding_matrix of shape {shape}."
                )
            vocab_size, embed_dim = shape
            w_init = Constant(embedding_matrix)
        elif vocab_size is None or embed_dim is None:
            raise ValueError(
                f"{self.module_name}: give vocab_size and embed_dim, or an embedding_matrix."
            )
        if lookup_style not in _LOOKUP_STYLES:
            raise ValueError(f"lookup_style must be one of {_LOOKUP_STYLES}, got {lookup_style!r}.")
        self.vocab_size = int(vocab_size)
        self.embed_dim = int(embed_dim)
        self.w_init = w_init or TruncatedNormal()
        self.lookup_style = lookup_style

    @property
    def embeddings(self):
        """The table ``(vocab_size, embed_dim)``."""
        return get_parameter(
            "embeddings", (self.vocab_size, self.embed_dim), dnp.float32, init=self.w_init
        )

    def __call__(self, ids, lookup_style=None):
        """Look up ``ids`` (an integer array of any shape) -> ``(*ids.shape, embed_dim)``.

        Args:
            ids: integer ids in ``[0, vocab_size)``.
            lookup_style: overrides the module's lookup style.

        Returns:
            The embeddings.

        Example:
            >>> import derivax.numpy as dnp
            >>> import nn_transform as nt
            >>> t = nt.transform(lambda ids: nt.Embed(5, 3)(ids))
            >>> ids = dnp.array([[0, 4]])
            >>> t.apply(t.init(0, ids), None, ids).shape
            (1, 2, 3)
        """
        ids = dnp.asarray(ids)
        style = lookup_style or self.lookup_style
        if style not in _LOOKUP_STYLES:
            raise ValueError(f"lookup_style must be one of {_LOOKUP_STYLES}, got {style!r}.")
        table = self.embeddings
        if style == "ONE_HOT":
            return dnn.one_hot(ids, self.vocab_size, dtype=table.dtype) @ table
        return dnn.embedding_lookup(table, ids)


class MultiHeadAttention(Module):
    """Multi-head attention: project, attend per head, concatenate, project back.

    Queries, keys and values are projected by `Linear` modules named ``query``, ``key``
    and ``value`` to ``num_heads`` heads; the heads' outputs are concatenated and projected
    by ``linear`` to ``model_size``. Inputs are ``(..., T, D)`` (any leading axes).

    Args:
        num_heads: the number of heads.
        key_size: the head size of queries and keys.
        w_init_scale: scale of the default initializer ``VarianceScaling(w_init_scale)``.
        w_init: initializer of the projection kernels (instead of ``w_init_scale``).
        with_bias: whether the projections have biases.
        b_init: initializer of the biases.
        value_size: the head size of values (default ``key_size``).
        model_size: the output size (default ``key_size * num_heads``).
        name: the module name.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> t = nt.transform(lambda x: nt.MultiHeadAttention(2, 4, w_init_scale=1.0)(x, x, x))
        >>> x = dnp.ones((3, 5, 6))
        >>> params = t.init(0, x)
        >>> sorted(params)
        ['multi_head_attention/key', 'multi_head_attention/linear', 'multi_head_attention/query', 'multi_head_attention/value']
        >>> t.apply(params, None, x).shape
        (3, 5, 8)
    """

    def __init__(
        self,
        num_heads,
        key_size,
        w_init_scale=None,
        *,
        w_init=None,
        with_bias=True,
        b_init=None,
        value_size=None,
        model_size=None,
        name=None,
    ):
        super().__init__(name=name)
        if w_init is not None and w_init_scale is not None:
            raise ValueError(f"{self.module_name}: give w_init or w_init_scale, not both.")
        self.num_heads = int(num_heads)
        self.key_size = int(key_size)
        self.value_size = int(value_size or key_size)
        self.model_size = int(model_size or key_size * num_heads)
        self.w_init = w_init or VarianceScaling(1.0 if w_init_scale is None else w_init_scale)
        self.with_bias = with_bias
        self.b_init = b_init

    def _projection(self, x, head_size, name):
        y = Linear(
            self.num_heads * head_size,
            with_bias=self.with_bias,
            w_init=self.w_init,
            b_init=self.b_init,
            name=name,
        )(x)
        return dnp.reshape(y, (*x.shape[:-1], self.num_heads, head_size))

    def __call__(self, query, key, value, mask=None):
        """Attend from ``query`` ``(..., T, D)`` to ``key``/``value`` ``(..., S, D')``.

        Args:
            query: the queries.
            key: the keys.
            value: the values.
            mask: optional boolean mask broadcastable to ``(..., num_heads, T, S)``; True
                attends.

        Returns:
            ``(..., T, model_size)``.

        Example:
            >>> import derivax.numpy as dnp
            >>> import nn_transform as nt
            >>> def f(q, kv):
            ...     return nt.MultiHeadAttention(1, 2, model_size=3)(q, kv, kv)
            >>> t = nt.transform(f)
            >>> q, kv = dnp.ones((4, 2)), dnp.ones((6, 2))
            >>> t.apply(t.init(0, q, kv), None, q, kv).shape
            (4, 3)
        """
        query, key, value = dnp.asarray(query), dnp.asarray(key), dnp.asarray(value)
        if query.ndim < 2 or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(
                f"{self.module_name}: query, key and value must be (..., length, features) with "
                f"the same leading axes; got {query.shape}, {key.shape}, {value.shape}."
            )
        leading = query.shape[:-2]
        t, s = query.shape[-2], key.shape[-2]
        q = self._projection(query, self.key_size, "query")
        k = self._projection(key, self.key_size, "key")
        v = self._projection(value, self.value_size, "value")
        batch = math.prod(leading)
        q = dnp.reshape(q, (batch, t, self.num_heads, self.key_size))
        k = dnp.reshape(k, (batch, s, self.num_heads, self.key_size))
        v = dnp.reshape(v, (batch, s, self.num_heads, self.value_size))
        if mask is not None:
            mask = dnp.asarray(mask)
            full = (*leading, self.num_heads, t, s)
            if mask.ndim > len(full):
                raise ValueError(
                    f"{self.module_name}: mask of shape {mask.shape} has more axes than the "
                    f"attention logits {full}."
                )
            mask = dnp.reshape(dnp.broadcast_to(mask, full), (batch, self.num_heads, t, s))
        # derivax.nn's attention takes a value head size that differs from the key's.
        attn = dnn.dot_product_attention(q, k, v, mask=mask)
        attn = dnp.reshape(attn, (*leading, t, self.num_heads * self.value_size))
        return Linear(
            self.model_size, with_bias=self.with_bias, w_init=self.w_init, b_init=self.b_init
        )(attn)
