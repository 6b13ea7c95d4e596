"""`MultiheadAttention` on one (unbatched) set of sequences."""

from __future__ import annotations

import math
from typing import Any

import derivax
import derivax.numpy as dnp

from .._module import Module, field
from ._dropout import Dropout, missing_key_message
from ._linear import Linear
from ._misc import as_input, check_key, check_rank, check_size, split

__all__ = ["MultiheadAttention"]


def _pad_last(x: Any, size: int) -> Any:
    if x.shape[-1] == size:
        return x
    zeros = dnp.zeros((*x.shape[:-1], size - x.shape[-1]), x.dtype)
    return dnp.concatenate([x, zeros], axis=-1)


class MultiheadAttention(Module):
    """Multi-head scaled dot-product attention.

    The query ``(q_seq, query_size)``, key ``(kv_seq, key_size)`` and value ``(kv_seq,
    value_size)`` are projected to ``num_heads`` heads of size ``qk_size`` (queries and
    keys) and ``vo_size`` (values); each head computes ``softmax(q k^T / sqrt(qk_size))
    v``, and the heads are concatenated and projected to ``output_size``. The projections
    are `Linear` layers (without biases by default).

    Args:
        num_heads: Number of heads.
        query_size: Query features.
        key_size: Key features (``query_size`` by default).
        value_size: Value features (``query_size`` by default).
        output_size: Output features (``query_size`` by default).
        qk_size: Query/key head size (``query_size // num_heads`` by default).
        vo_size: Value head size (``query_size // num_heads`` by default).
        use_query_bias: Bias in the query projection.
        use_key_bias: Bias in the key projection.
        use_value_bias: Bias in the value projection.
        use_output_bias: Bias in the output projection.
        dropout_p: Dropout on the attention weights in training.
        inference: Start in inference mode (no dropout).
        dtype: The parameters' dtype.
        key: A PRNG key (keyword only).

    Example:
        >>> import derivax.numpy as dnp, derivax.random as dr
        >>> import nn_pytree as nnp
        >>> mha = nnp.nn.MultiheadAttention(num_heads=2, query_size=8, key=dr.PRNGKey(0))
        >>> x = dnp.ones((5, 8))
        >>> mha(x, x, x).shape
        (5, 8)
    """

    query_proj: Linear
    key_proj: Linear
    value_proj: Linear
    output_proj: Linear
    dropout: Dropout
    num_heads: int = field(static=True)
    query_size: int = field(static=True)
    key_size: int = field(static=True)
    value_size: int = field(static=True)
    output_size: int = field(static=True)
    qk_size: int = field(static=True)
    vo_size: int = field(static=True)

    def __init__(
        self,
        num_heads: int,
        query_size: int,
        key_size: int | None = None,
        value_size: int | None = None,
        output_size: int | None = None,
        qk_size: int | None = None,
        vo_size: int | None = None,
        use_query_bias: bool = False,
        use_key_bias: bool = False,
        use_value_bias: bool = False,
        use_output_bias: bool = False,
        dropout_p: float = 0.0,
        inference: bool = False,
        dtype: Any = None,
        *,
        key: Any,
    ):
        check_key("MultiheadAttention", key)
        if not isinstance(num_heads, int) or num_heads < 1:
            raise ValueError(
                f"MultiheadAttention: num_heads must be a positive int, got {num_heads!r}."
            )
        key_size = query_size if key_size is None else key_size
        value_size = query_size if value_size is None else value_size
        output_size = query_size if output_size is None else output_size
        qk_size = query_size // num_heads if qk_size is None else qk_size
        vo_size = query_size // num_heads if vo_size is None else vo_size
        if qk_size < 1 or vo_size < 1:
            raise ValueError(
                f"MultiheadAttention: the head sizes qk_size={qk_size}, vo_size={vo_size} must be "
                f"positive (query_size={query_size} // num_heads={num_heads} by default); pass "
                f"qk_size/vo_size explicitly."
            )
        qkey, kkey, vkey, okey = split(key, 4)
        self.query_proj = Linear(query_size, num_heads * qk_size, use_query_bias, dtype, key=qkey)
        self.key_proj = Linear(key_size, num_heads * qk_size, use_key_bias, dtype, key=kkey)
        self.value_proj = Linear(value_size, num_heads * vo_size, use_value_bias, dtype, key=vkey)
        self.output_proj = Linear(
            num_heads * vo_size, output_size, use_output_bias, dtype, key=okey
        )
        self.dropout = Dropout(dropout_p, inference=inference)
        self.num_heads = num_heads
        self.query_size = query_size
        self.key_size = key_size
        self.value_size = value_size
        self.output_size = output_size
        self.qk_size = qk_size
        self.vo_size = vo_size

    def __call__(
        self,
        query: Any,
        key_: Any,
        value: Any,
        mask: Any = None,
        *,
        key: Any = None,
        inference: bool | None = None,
    ) -> Any:
        """Attends from each query position to the key/value positions.

        Args:
            query: ``(q_seq, query_size)``.
            key_: ``(kv_seq, key_size)``.
            value: ``(kv_seq, value_size)``.
            mask: Optional boolean ``(q_seq, kv_seq)`` or ``(num_heads, q_seq, kv_seq)``;
                True where a query may attend.
            key: A PRNG key for the attention dropout (training with ``dropout_p > 0``).
            inference: Overrides the dropout's ``inference`` flag for this call.

        Returns:
            ``(q_seq, output_size)``.

        Raises:
            ValueError: For batched inputs, wrong feature sizes, mismatched key/value
                lengths, or a missing key when dropout is active.
        """
        name = "MultiheadAttention"
        query, key_, value = (as_input(name, a) for a in (query, key_, value))
        check_rank(name, query, 2, f"query of shape (q_seq, {self.query_size})")
        check_rank(name, key_, 2, f"key of shape (kv_seq, {self.key_size})")
        check_rank(name, value, 2, f"value of shape (kv_seq, {self.value_size})")
        check_size(name, query, 1, self.query_size, "query features", "query_size")
        check_size(name, key_, 1, self.key_size, "key features", "key_size")
        check_size(name, value, 1, self.value_size, "value features", "value_size")
        if key_.shape[0] != value.shape[0]:
            raise ValueError(
                f"{name}: key and value must have the same sequence length, got key "
                f"{tuple(key_.shape)} and value {tuple(value.shape)}."
            )
        inference = self.dropout.inference if inference is None else inference
        rate = 0.0 if inference else self.dropout.p
        if rate > 0 and key is None:
            raise ValueError(missing_key_message(name, rate))
        h = self.num_heads
        q = dnp.reshape(derivax.vmap(self.query_proj)(query), (query.shape[0], h, self.qk_size))
        k = dnp.reshape(derivax.vmap(self.key_proj)(key_), (key_.shape[0], h, self.qk_size))
        v = dnp.reshape(derivax.vmap(self.value_proj)(value), (value.shape[0], h, self.vo_size))
        # The shared attention takes one head size; a smaller one is zero-padded, which
        # changes neither the logits (q.k) nor the kept value columns.
        size = max(self.qk_size, self.vo_size)
        out = derivax.nn.dot_product_attention(
            _pad_last(q, size),
            _pad_last(k, size),
            _pad_last(v, size),
            mask=mask,
            scale=1.0 / math.sqrt(self.qk_size),
            dropout_rate=rate,
            dropout_key=key,
        )[..., : self.vo_size]
        out = dnp.reshape(out, (query.shape[0], h * self.vo_size))
        return derivax.vmap(self.output_proj)(out)
