"""Scaled dot-product attention with JAX's ``dot_product_attention`` conventions."""

from __future__ import annotations

import math

import numpy as np

from .. import _dtypes
from .. import numpy as dnp
from ..numpy._util import promote_inexact
from ._activations import softmax
from ._stochastic import dropout

__all__ = ["dot_product_attention"]


def dot_product_attention(
    query,
    key,
    value,
    bias=None,
    mask=None,
    *,
    scale=None,
    is_causal=False,
    dropout_rate=0.0,
    dropout_key=None,
    broadcast_dropout=False,
):
    """``softmax(q k^T * scale + bias, masked) v`` over the key positions, per head.

    Shapes follow ``jax.nn.dot_product_attention`` (batch ``B``, query length ``T``, key
    length ``S``, heads ``N``, head size ``H``): ``query (B, T, N, H)``, ``key (B, S, K, H)``
    and ``value (B, S, K, V)`` where ``K`` divides ``N`` (grouped-query attention: query
    head ``n`` attends with key/value head ``n // (N // K)``) and the value head size ``V``
    may differ from ``H`` (it is ``H`` in ``jax.nn.dot_product_attention``, which this
    generalises); the batch axis may be absent from all three. ``bias`` and ``mask`` broadcast to the logits ``(B, N, T, S)``. Logits
    and the softmax are computed in at least float32; masked logits are set to a large
    negative number, so a fully masked row attends uniformly.

    Args:
        query: ``(B, T, N, H)`` or ``(T, N, H)``.
        key: ``(B, S, K, H)`` or ``(S, K, H)``.
        value: ``(B, S, K, V)`` or ``(S, K, V)``.
        bias: optional additive bias broadcastable to ``(B, N, T, S)``.
        mask: optional boolean mask broadcastable to ``(B, N, T, S)``; True attends.
        scale: the logit scale, default ``1 / sqrt(H)``.
        is_causal: also mask key positions after the query position (``s > t``).
        dropout_rate: dropout on the attention weights (needs ``dropout_key``), as in
            Flax's attention.
        dropout_key: a PRNG key for the dropout.
        broadcast_dropout: draw one ``(T, S)`` dropout mask and share it across the batch
            and the heads (Flax's ``broadcast_dropout=True``) instead of one mask entry per
            attention weight. The same key gives the same mask as Flax either way.

    Returns:
        ``(B, T, N, V)`` (or ``(T, N, V)``), in the dtype of the inputs.

    Raises:
        ValueError: for inconsistent shapes; the message names them.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> q = dnp.ones((1, 2, 1, 4))
        >>> k = dnp.ones((1, 3, 1, 4))
        >>> v = dnp.arange(3.0).reshape(1, 3, 1, 1) * dnp.ones((1, 3, 1, 4))
        >>> derivax.nn.dot_product_attention(q, k, v, is_causal=True)[0, :, 0, 0]
        Array([0. , 0.5], dtype=float32)
    """
    query, key, value = promote_inexact("dot_product_attention", query, key, value)
    unbatched = query.ndim == 3
    if unbatched:
        if key.ndim != 3 or value.ndim != 3:
            raise ValueError(
                "dot_product_attention: query, key and value must all be (B, T/S, heads, H) "
                f"or all (T/S, heads, H); got {query.shape}, {key.shape}, {value.shape}."
            )
        query, key, value = query[None], key[None], value[None]
    if query.ndim != 4 or key.ndim != 4 or value.ndim != 4:
        raise ValueError(
            "dot_product_attention: expected query (B, T, N, H), key (B, S, K, H) and value "
            "(B, S, K, V); "
            f"got {query.shape}, {key.shape}, {value.shape}."
        )
    b, t, n, h = query.shape
    if key.shape[:3] != value.shape[:3] or key.shape[0] != b or key.shape[3] != h:
        raise ValueError(
            "dot_product_attention: key (B, S, K, H) must have the query's batch and head "
            "size H, and value (B, S, K, V) the same shape as key except for its head size V; "
            f"got query {query.shape}, key {key.shape}, value {value.shape}."
        )
    s, k = key.shape[1], key.shape[2]
    if k == 0 or n % k:
        raise ValueError(
            f"dot_product_attention: the number of key/value heads {k} must divide the number "
            f"of query heads {n} (query {query.shape}, key {key.shape})."
        )
    g = n // k
    logits_dtype = _dtypes.promote_types(query.dtype, np.float32)
    q = dnp.reshape(query, (b, t, k, g, h)).astype(logits_dtype)
    logits = dnp.einsum("btkgh,bskh->bkgts", q, key.astype(logits_dtype))
    logits = dnp.reshape(logits, (b, n, t, s))
    scale = 1.0 / math.sqrt(h) if scale is None else scale
    logits = logits * dnp.asarray(scale, logits_dtype)
    if bias is not None:
        logits = (logits + dnp.asarray(bias)).astype(logits_dtype)
    keep = None
    if mask is not None:
        keep = dnp.asarray(mask).astype(bool)
    if is_causal:
        causal = dnp.arange(t)[:, None] >= dnp.arange(s)[None, :]
        keep = causal if keep is None else keep & causal
    if keep is not None:
        large_negative = dnp.asarray(-0.7 * float(np.finfo(logits_dtype).max), logits_dtype)
        logits = dnp.where(keep, logits, large_negative)
    probs = softmax(logits, axis=-1).astype(value.dtype)
    if dropout_rate:
        # probs is (B, N, T, S), the layout of Flax's attention weights, so a shared mask
        # drawn with shape (1, 1, T, S) has the same bits as Flax's for the same key.
        shared = (0, 1) if broadcast_dropout else ()
        probs = dropout(dropout_key, dropout_rate, probs, broadcast_dims=shared)
    probs = dnp.reshape(probs, (b, k, g, t, s))
    out = dnp.einsum("bkgts,bskv->btkgv", probs, value)
    out = dnp.reshape(out, (b, t, n, value.shape[3]))
    return out[0] if unbatched else out
