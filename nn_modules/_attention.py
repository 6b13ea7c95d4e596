"""Attention: `MultiHeadDotProductAttention`, `SelfAttention` and mask helpers.

The projections are `DenseGeneral` submodules named ``query``, ``key``, ``value`` (kernels
``(in, heads, head_dim)``) and ``out`` (kernel ``(heads, head_dim, out)``), as in Flax; the
attention itself is ``derivax.nn.dot_product_attention``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import derivax as dx
import derivax.nn
import derivax.numpy as dnp

from ._linear import DenseGeneral, default_kernel_init
from ._module import Module, compact
from ._normalization import merge_param

__all__ = [
    "MultiHeadDotProductAttention",
    "SelfAttention",
    "make_attention_mask",
    "make_causal_mask",
]


def make_attention_mask(
    query_input: Any,
    key_input: Any,
    pairwise_fn: Callable = dnp.multiply,
    extra_batch_dims: int = 0,
    dtype: Any = dnp.float32,
):
    """A ``(batch..., 1, q_len, kv_len)`` mask from per-position query and key flags.

    Args:
        query_input: ``(batch..., q_len)`` flags (e.g. ``tokens > 0`` for non-padding).
        key_input: ``(batch..., kv_len)`` flags.
        pairwise_fn: combines a query flag with a key flag (default: multiply, i.e. both).
        extra_batch_dims: leading axes of size 1 to add.
        dtype: the dtype of the mask.

    Returns:
        The mask, broadcastable to the attention logits ``(batch..., heads, q, kv)``.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_modules as nn
        >>> tokens = dnp.array([[5, 7, 0]])
        >>> nn.make_attention_mask(tokens > 0, tokens > 0)[0, 0]
        Array([[1., 1., 0.],
               [1., 1., 0.],
               [0., 0., 0.]], dtype=float32)
    """
    query_input, key_input = dnp.asarray(query_input), dnp.asarray(key_input)
    mask = pairwise_fn(query_input[..., :, None], key_input[..., None, :])
    mask = dnp.expand_dims(mask, axis=-3)
    mask = dnp.reshape(mask, (1,) * extra_batch_dims + tuple(mask.shape))
    return mask.astype(dtype)


def make_causal_mask(x: Any, extra_batch_dims: int = 0, dtype: Any = dnp.float32):
    """A causal mask ``(batch..., 1, len, len)``: position ``i`` attends to ``j <= i``.

    Args:
        x: ``(batch..., len)``; only its shape is used.
        extra_batch_dims: leading axes of size 1 to add.
        dtype: the dtype of the mask.

    Returns:
        The mask.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_modules as nn
        >>> nn.make_causal_mask(dnp.ones((1, 3)))[0, 0]
        Array([[1., 0., 0.],
               [1., 1., 0.],
               [1., 1., 1.]], dtype=float32)
    """
    x = dnp.asarray(x)
    idxs = dnp.broadcast_to(dnp.arange(x.shape[-1], dtype=dnp.int32), x.shape)
    return make_attention_mask(idxs, idxs, dnp.greater_equal, extra_batch_dims, dtype)


class MultiHeadDotProductAttention(Module):
    """Multi-head dot-product attention from ``inputs_q`` to ``inputs_k``/``inputs_v``.

    Inputs are ``(batch..., length, features)``. Queries, keys and values are projected
    to ``num_heads`` heads of ``qkv_features // num_heads`` features, attended with
    ``derivax.nn.dot_product_attention`` (logits scaled by ``1/sqrt(head_dim)``) and
    projected back to ``out_features``.

    Attributes:
        num_heads: the number of heads.
        dtype: the computation dtype.
        param_dtype: the dtype of the parameters.
        qkv_features: the total size of the query/key/value projections (default: the
            query's feature size); must be divisible by ``num_heads``.
        out_features: the output size (default: the query's feature size).
        broadcast_dropout: share one attention-dropout mask ``(q_len, kv_len)`` across
            the batch and the heads (default, as in Flax); False draws one mask entry per
            attention weight.
        dropout_rate: dropout on the attention weights.
        deterministic: evaluation mode (no dropout); may instead be passed at call time.
        kernel_init: initializer of the projection kernels.
        out_kernel_init: initializer of the output kernel (default ``kernel_init``).
        bias_init: initializer of the biases.
        out_bias_init: initializer of the output bias (default ``bias_init``).
        use_bias: whether the projections have biases.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> import nn_modules as nn
        >>> attn = nn.MultiHeadDotProductAttention(num_heads=2, qkv_features=8)
        >>> q, kv = dnp.ones((1, 3, 6)), dnp.ones((1, 5, 6))
        >>> y, v = attn.init_with_output(derivax.random.key(0), q, kv)
        >>> y.shape, v["params"]["query"]["kernel"].shape, v["params"]["out"]["kernel"].shape
        ((1, 3, 6), (6, 2, 4), (2, 4, 6))
    """

    num_heads: int
    dtype: Any = None
    param_dtype: Any = dnp.float32
    qkv_features: int | None = None
    out_features: int | None = None
    broadcast_dropout: bool = True
    dropout_rate: float = 0.0
    deterministic: bool | None = None
    kernel_init: Callable = default_kernel_init
    out_kernel_init: Callable | None = None
    bias_init: Callable = dx.nn.initializers.zeros
    out_bias_init: Callable | None = None
    use_bias: bool = True

    @compact
    def __call__(
        self,
        inputs_q,
        inputs_k=None,
        inputs_v=None,
        *,
        mask=None,
        deterministic: bool | None = None,
        dropout_rng=None,
    ):
        """Attend from ``inputs_q`` to ``inputs_k`` (default ``inputs_q``) and ``inputs_v``
        (default ``inputs_k``); ``mask`` (True/1 attends) broadcasts to
        ``(batch..., heads, q_len, kv_len)``.

        Returns:
            ``(batch..., q_len, out_features)``.
        """
        inputs_q = dnp.asarray(inputs_q)
        if inputs_k is None:
            if inputs_v is not None:
                raise ValueError(
                    "MultiHeadDotProductAttention: inputs_v was given without inputs_k; give "
                    "both (or neither, for self-attention)."
                )
            inputs_k = inputs_q
        if inputs_v is None:
            inputs_v = inputs_k
        features = self.out_features or inputs_q.shape[-1]
        qkv_features = self.qkv_features or inputs_q.shape[-1]
        if qkv_features % self.num_heads:
            raise ValueError(
                f"MultiHeadDotProductAttention: qkv_features ({qkv_features}) must be divisible "
                f"by num_heads ({self.num_heads})."
            )
        head_dim = qkv_features // self.num_heads

        def projection(name):
            return DenseGeneral(
                features=(self.num_heads, head_dim),
                axis=-1,
                dtype=self.dtype,
                param_dtype=self.param_dtype,
                kernel_init=self.kernel_init,
                bias_init=self.bias_init,
                use_bias=self.use_bias,
                name=name,
            )

        query = projection("query")(inputs_q)
        key = projection("key")(inputs_k)
        value = projection("value")(inputs_v)

        dropout_key = None
        rate = 0.0
        if self.dropout_rate > 0.0:
            deterministic = merge_param("deterministic", self.deterministic, deterministic)
            if not deterministic:
                rate = self.dropout_rate
                dropout_key = dropout_rng if dropout_rng is not None else self.make_rng("dropout")

        batch = query.shape[:-3]
        if len(batch) > 1:
            # derivax.nn.dot_product_attention takes one batch axis: flatten the others.
            n = math.prod(batch)
            query, key, value = (dnp.reshape(t, (n, *t.shape[-3:])) for t in (query, key, value))
            if mask is not None:
                full = (*batch, self.num_heads, query.shape[-3], key.shape[-3])
                mask = dnp.reshape(dnp.broadcast_to(dnp.asarray(mask), full), (n, *full[-3:]))
        if mask is not None:
            mask = dnp.asarray(mask).astype(bool)
        x = dx.nn.dot_product_attention(
            query,
            key,
            value,
            mask=mask,
            dropout_rate=rate,
            dropout_key=dropout_key,
            broadcast_dropout=self.broadcast_dropout,
        )
        if len(batch) > 1:
            x = dnp.reshape(x, (*batch, *x.shape[-3:]))
        return DenseGeneral(
            features=features,
            axis=(-2, -1),
            dtype=self.dtype,
            param_dtype=self.param_dtype,
            kernel_init=self.out_kernel_init or self.kernel_init,
            bias_init=self.out_bias_init or self.bias_init,
            use_bias=self.use_bias,
            name="out",
        )(x)


class SelfAttention(MultiHeadDotProductAttention):
    """Multi-head attention of a sequence to itself (queries, keys and values from one input).

    Same attributes and parameters as `MultiHeadDotProductAttention`.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> import nn_modules as nn
        >>> x = dnp.ones((2, 4, 8))
        >>> attn = nn.SelfAttention(num_heads=2)
        >>> y, v = attn.init_with_output(derivax.random.key(0), x, mask=nn.make_causal_mask(x[..., 0]))
        >>> y.shape
        (2, 4, 8)
    """

    def __call__(self, inputs_q, mask=None, deterministic: bool | None = None, dropout_rng=None):
        """Attend from ``inputs_q`` to itself."""
        return super().__call__(
            inputs_q, mask=mask, deterministic=deterministic, dropout_rng=dropout_rng
        )
