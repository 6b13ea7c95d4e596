"""Dropout with an explicit PRNG key."""

from __future__ import annotations

import numbers

from .. import numpy as dnp
from .._core import Tracer
from ..numpy._util import promote_inexact

__all__ = ["dropout"]


def _keep_mask(key, keep_prob, shape):
    """``uniform(key, shape) < keep_prob``: the same bits as ``random.bernoulli``."""
    from .. import random

    return random.uniform(key, shape, dnp.float32) < keep_prob


def dropout(key, rate, x, deterministic=False, *, broadcast_dims=()):
    """Zero each element with probability ``rate`` and scale the rest by ``1 / (1 - rate)``.

    The expected value of the output equals ``x``. The kept positions are
    ``random.uniform(key, shape) < 1 - rate`` (JAX's ``bernoulli``), so the same key gives
    the same mask as Flax, Haiku and Equinox.

    Args:
        key: a PRNG key (may be None when ``deterministic`` or ``rate == 0``).
        rate: the drop probability, in ``[0, 1]``; 1 gives all zeros.
        x: the input.
        deterministic: return ``x`` unchanged (evaluation mode).
        broadcast_dims: axes along which the mask is shared (e.g. spatial axes for
            channel dropout).

    Returns:
        The array with dropout applied.

    Raises:
        ValueError: when ``rate`` is outside ``[0, 1]`` or ``key`` is missing in training.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> y = derivax.nn.dropout(derivax.random.PRNGKey(0), 0.5, dnp.ones(8))
        >>> sorted(set(y.tolist())) in ([0.0, 2.0], [0.0], [2.0])
        True
        >>> derivax.nn.dropout(None, 0.5, dnp.ones(2), deterministic=True)
        Array([1., 1.], dtype=float32)
    """
    x = promote_inexact("dropout", x)[0]
    if isinstance(rate, numbers.Real) and not isinstance(rate, Tracer):
        rate = float(rate)
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"dropout: rate must be in [0, 1], got {rate}.")
        if deterministic or rate == 0.0:
            return x
        if rate == 1.0:
            return dnp.zeros_like(x)
    elif deterministic:
        return x
    if key is None:
        raise ValueError(
            "dropout: a PRNG key is needed when deterministic=False; pass key=..., or "
            "deterministic=True for evaluation."
        )
    dims = {d % x.ndim for d in broadcast_dims} if x.ndim else set()
    shape = tuple(1 if i in dims else s for i, s in enumerate(x.shape))
    keep_prob = 1.0 - rate
    mask = dnp.broadcast_to(_keep_mask(key, keep_prob, shape), x.shape)
    return dnp.where(mask, x / keep_prob, dnp.zeros_like(x))
