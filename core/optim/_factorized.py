"""Adafactor's factored second moments (Shazeer & Stern, 2018)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

import derivax.numpy as dnp
from derivax import tree as _tree

from ._base import GradientTransformation, require_params
from ._tree_utils import safe_increment

__all__ = ["FactoredState", "scale_by_factored_rms"]


class FactoredState(NamedTuple):
    """State of `scale_by_factored_rms`.

    Attributes:
        count: The number of updates so far.
        v_row: Per factored leaf, the row statistics (the leaf's shape without its last
            large axis); a 1-element placeholder for unfactored leaves.
        v_col: Per factored leaf, the column statistics; a placeholder otherwise.
        v: Per unfactored leaf, the full second moment; a placeholder otherwise.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.scale_by_factored_rms().init(dnp.zeros(2))._fields
        ('count', 'v_row', 'v_col', 'v')
    """

    count: Any
    v_row: Any
    v_col: Any
    v: Any


def _factored_dims(shape: tuple, factored: bool, min_dim_size_to_factor: int):
    """The two largest axes ``(d1, d0)`` (d0 the largest) if the leaf is factored."""
    if not factored or len(shape) < 2:
        return None
    order = np.argsort(shape)
    if shape[order[-2]] < min_dim_size_to_factor:
        return None
    return int(order[-2]), int(order[-1])


def _decay_rate_pow(step: Any, exponent: Any = 0.8) -> Any:
    t = (step + 1).astype(dnp.float32)
    return 1.0 - t ** (-exponent)


def scale_by_factored_rms(
    factored: bool = True,
    decay_rate: Any = 0.8,
    step_offset: int = 0,
    min_dim_size_to_factor: int = 128,
    epsilon: Any = 1e-30,
    decay_rate_fn: Any = _decay_rate_pow,
) -> GradientTransformation:
    """Adafactor's rescaling ``g / sqrt(v)`` with ``v`` stored as row and column factors.

    For a leaf whose two largest axes are both at least ``min_dim_size_to_factor``, the
    second moment of ``g^2 + epsilon`` is kept as its means along each of these axes
    (memory ``n + m`` instead of ``n * m``) and rebuilt as their normalised outer
    product. Smaller leaves keep the full second moment. The decay at step ``t`` is
    ``decay_rate_fn(t - step_offset, decay_rate)``, by default ``1 - (t + 1)^-0.8``.

    Args:
        factored: Factor large leaves (False: keep every second moment in full).
        decay_rate: The exponent given to ``decay_rate_fn``.
        step_offset: Subtracted from the step before computing the decay.
        min_dim_size_to_factor: Smallest size of the second-largest axis to factor.
        epsilon: Added to ``g^2``.
        decay_rate_fn: ``fn(step, decay_rate) -> decay``.

    Returns:
        A `GradientTransformation` with a `FactoredState`; ``update`` needs ``params``.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> tx = optim.scale_by_factored_rms(min_dim_size_to_factor=2)
        >>> state = tx.init(dnp.zeros((3, 4)))
        >>> state.v_row.shape, state.v_col.shape
        ((3,), (4,))
    """

    def init(params):
        def one(p):
            shape, dtype = dnp.shape(p), dnp.result_type(p)
            dims = _factored_dims(shape, factored, min_dim_size_to_factor)
            placeholder = dnp.zeros((1,), dtype)
            if dims is None:
                return placeholder, placeholder, dnp.zeros(shape, dtype)
            d1, d0 = dims
            row_shape = tuple(n for i, n in enumerate(shape) if i != d0)
            col_shape = tuple(n for i, n in enumerate(shape) if i != d1)
            return dnp.zeros(row_shape, dtype), dnp.zeros(col_shape, dtype), placeholder

        parts = _tree.map(one, params)
        return FactoredState(
            count=dnp.zeros((), dnp.int32),
            v_row=_tree.map(lambda _, r: r[0], params, parts),
            v_col=_tree.map(lambda _, r: r[1], params, parts),
            v=_tree.map(lambda _, r: r[2], params, parts),
        )

    def update(updates, state, params=None):
        require_params("scale_by_factored_rms", params)
        decay = decay_rate_fn(state.count - step_offset, decay_rate)

        def one(g, v_row, v_col, v, p):
            shape, dtype = dnp.shape(p), dnp.result_type(p)
            dims = _factored_dims(shape, factored, min_dim_size_to_factor)
            g_sq = g * g + epsilon
            if dims is None:
                new_v = (decay * v + (1.0 - decay) * g_sq).astype(dtype)
                return g * new_v ** (-0.5), v_row, v_col, new_v
            d1, d0 = dims
            new_row = (decay * v_row + (1.0 - decay) * dnp.mean(g_sq, axis=d0)).astype(dtype)
            new_col = (decay * v_col + (1.0 - decay) * dnp.mean(g_sq, axis=d1)).astype(dtype)
            reduced_d1 = d1 - 1 if d1 > d0 else d1
            row_mean = dnp.mean(new_row, axis=reduced_d1, keepdims=True)
            row_factor = (new_row / row_mean) ** (-0.5)
            col_factor = new_col ** (-0.5)
            out = g * dnp.expand_dims(row_factor, d0) * dnp.expand_dims(col_factor, d1)
            return out, new_row, new_col, v

        parts = _tree.map(one, updates, state.v_row, state.v_col, state.v, params)
        pick = lambda i: _tree.map(lambda _, r: r[i], updates, parts)
        new_state = FactoredState(safe_increment(state.count), pick(1), pick(2), pick(3))
        return pick(0), new_state

    return GradientTransformation(init, update)
