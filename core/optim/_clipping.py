"""Clipping and sanitising of updates."""

from __future__ import annotations

from typing import Any, NamedTuple

import derivax.numpy as dnp
from derivax import tree as _tree

from ._base import GradientTransformation, init_empty_state
from ._tree_utils import tree_l2_norm

__all__ = ["ZeroNansState", "clip", "clip_by_block_rms", "clip_by_global_norm", "zero_nans"]


def clip(max_delta: Any) -> GradientTransformation:
    """Clips every update element to ``[-max_delta, max_delta]``.

    Args:
        max_delta: The bound (positive scalar).

    Returns:
        A stateless `GradientTransformation`.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.clip(1.0).update(dnp.array([-3.0, 0.5, 2.0]), optim.EmptyState())[0].tolist()
        [-1.0, 0.5, 1.0]
    """

    def update(updates, state, params=None):
        del params
        return _tree.map(lambda g: dnp.clip(g, -max_delta, max_delta), updates), state

    return GradientTransformation(init_empty_state, update)


def clip_by_global_norm(max_norm: Any) -> GradientTransformation:
    """Rescales all updates together so their global l2 norm is at most ``max_norm``.

    Args:
        max_norm: The largest allowed global norm.

    Returns:
        A stateless `GradientTransformation`.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> g = {"a": dnp.array([3.0]), "b": dnp.array([4.0])}
        >>> u, _ = optim.clip_by_global_norm(1.0).update(g, optim.EmptyState())
        >>> [round(u["a"].tolist()[0], 6), round(u["b"].tolist()[0], 6)]
        [0.6, 0.8]
    """

    def update(updates, state, params=None):
        del params
        norm = tree_l2_norm(updates)
        keep = norm < max_norm
        # The divisor is only used where the norm is large, so it is never zero there.
        safe = dnp.where(keep, dnp.ones_like(norm), norm)

        def one(g):
            return dnp.where(keep, g, (g / safe.astype(g.dtype)) * max_norm)

        return _tree.map(one, updates), state

    return GradientTransformation(init_empty_state, update)


def clip_by_block_rms(threshold: Any) -> GradientTransformation:
    """Rescales each leaf so its root mean square is at most ``threshold``.

    Args:
        threshold: The largest allowed rms per leaf.

    Returns:
        A stateless `GradientTransformation`.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> u, _ = optim.clip_by_block_rms(1.0).update(dnp.array([4.0, -4.0]), optim.EmptyState())
        >>> u.tolist()
        [1.0, -1.0]
    """

    def one(u):
        return u / dnp.maximum(1.0, dnp.sqrt(dnp.mean(u * u)) / threshold).astype(u.dtype)

    def update(updates, state, params=None):
        del params
        return _tree.map(one, updates), state

    return GradientTransformation(init_empty_state, update)


class ZeroNansState(NamedTuple):
    """State of `zero_nans`: per leaf, whether the last update held a NaN.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.zero_nans().init({'w': dnp.zeros(2)})._fields
        ('found_nan',)
    """

    found_nan: Any


def zero_nans() -> GradientTransformation:
    """Replaces NaNs in the updates by zeros and records, per leaf, whether there were any.

    Returns:
        A `GradientTransformation` with a `ZeroNansState`.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> tx = optim.zero_nans()
        >>> u, state = tx.update(dnp.array([1.0, dnp.nan]), tx.init(dnp.zeros(2)))
        >>> u.tolist(), bool(state.found_nan)
        ([1.0, 0.0], True)
    """

    def init(params):
        return ZeroNansState(_tree.map(lambda p: dnp.asarray(False), params))

    def update(updates, state, params=None):
        del params
        found = _tree.map(lambda g: dnp.any(dnp.isnan(g)), updates)
        out = _tree.map(lambda g: dnp.where(dnp.isnan(g), dnp.zeros_like(g), g), updates)
        return out, ZeroNansState(found)

    return GradientTransformation(init, update)
