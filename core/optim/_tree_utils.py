"""Arithmetic on whole pytrees, and the moment updates the optimizers share.

Every optimizer in this package does its tree arithmetic through these functions, so a
fix or a dtype rule lives in one place.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import derivax.numpy as dnp
from derivax import tree as _tree

__all__ = [
    "safe_increment",
    "tree_add",
    "tree_bias_correction",
    "tree_cast",
    "tree_full_like",
    "tree_l2_norm",
    "tree_mul",
    "tree_ones_like",
    "tree_scale",
    "tree_sub",
    "tree_sum",
    "tree_update_infinity_moment",
    "tree_update_moment",
    "tree_update_moment_per_elem_norm",
    "tree_vdot",
    "tree_zeros_like",
]


def tree_add(tree: Any, *others: Any) -> Any:
    """Leafwise sum of trees of the same structure.

    Args:
        tree: A pytree of arrays.
        *others: More pytrees with the same structure.

    Returns:
        ``tree + others[0] + ...`` leaf by leaf.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.tree_add({"a": dnp.ones(2)}, {"a": dnp.ones(2)})["a"].tolist()
        [2.0, 2.0]
    """
    return _tree.map(lambda *xs: sum(xs[1:], xs[0]), tree, *others)


def tree_sub(tree_x: Any, tree_y: Any) -> Any:
    """Leafwise difference ``tree_x - tree_y``.

    Args:
        tree_x: A pytree of arrays.
        tree_y: A pytree with the same structure.

    Returns:
        The difference, leaf by leaf.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.tree_sub([dnp.ones(1)], [dnp.ones(1)])[0].tolist()
        [0.0]
    """
    return _tree.map(lambda x, y: x - y, tree_x, tree_y)


def tree_mul(tree_x: Any, tree_y: Any) -> Any:
    """Leafwise product ``tree_x * tree_y``.

    Args:
        tree_x: A pytree of arrays.
        tree_y: A pytree with the same structure.

    Returns:
        The product, leaf by leaf.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.tree_mul([dnp.full(1, 2.0)], [dnp.full(1, 3.0)])[0].tolist()
        [6.0]
    """
    return _tree.map(lambda x, y: x * y, tree_x, tree_y)


def tree_scale(scalar: Any, tree: Any) -> Any:
    """Multiplies every leaf by a scalar, keeping each leaf's dtype.

    Args:
        scalar: A Python number or a 0-d array.
        tree: A pytree of arrays.

    Returns:
        ``scalar * tree`` leaf by leaf.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.tree_scale(0.5, {"a": dnp.ones(2)})["a"].tolist()
        [0.5, 0.5]
    """
    return _tree.map(lambda x: (scalar * x).astype(x.dtype), tree)


def tree_zeros_like(tree: Any, dtype: Any = None) -> Any:
    """A tree of zeros with the structure, shapes and (unless given) dtypes of ``tree``.

    Args:
        tree: A pytree of arrays.
        dtype: Optional dtype of every leaf.

    Returns:
        The tree of zeros.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.tree_zeros_like({"a": dnp.ones(2)})["a"].tolist()
        [0.0, 0.0]
    """
    return _tree.map(lambda x: dnp.zeros_like(x, dtype=dtype), tree)


def tree_ones_like(tree: Any, dtype: Any = None) -> Any:
    """A tree of ones with the structure, shapes and (unless given) dtypes of ``tree``.

    Args:
        tree: A pytree of arrays.
        dtype: Optional dtype of every leaf.

    Returns:
        The tree of ones.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.tree_ones_like([dnp.zeros(2)])[0].tolist()
        [1.0, 1.0]
    """
    return _tree.map(lambda x: dnp.ones_like(x, dtype=dtype), tree)


def tree_full_like(tree: Any, fill_value: Any, dtype: Any = None) -> Any:
    """A tree with every element equal to ``fill_value``.

    Args:
        tree: A pytree of arrays.
        fill_value: The value (a scalar).
        dtype: Optional dtype of every leaf (default: each leaf's dtype).

    Returns:
        The filled tree.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.tree_full_like([dnp.zeros(2)], 0.5)[0].tolist()
        [0.5, 0.5]
    """
    return _tree.map(
        lambda x: dnp.full(dnp.shape(x), fill_value, dtype=dtype or dnp.result_type(x)), tree
    )


def tree_cast(tree: Any, dtype: Any) -> Any:
    """Casts every leaf to ``dtype``; ``dtype=None`` returns ``tree`` unchanged.

    Args:
        tree: A pytree of arrays.
        dtype: The target dtype, or None.

    Returns:
        The cast tree.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.tree_cast([dnp.ones(1)], dnp.int32)[0].dtype
        dtype('int32')
    """
    if dtype is None:
        return tree
    return _tree.map(lambda x: x.astype(dtype), tree)


def tree_sum(tree: Any) -> Any:
    """The sum of all elements of all leaves, as a 0-d array.

    Args:
        tree: A pytree of arrays.

    Returns:
        A scalar array (0.0 for a tree without leaves).

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> float(optim.tree_sum({"a": dnp.ones(2), "b": dnp.ones(3)}))
        5.0
    """
    sums = [dnp.sum(x) for x in _tree.leaves(tree)]
    return sum(sums[1:], sums[0]) if sums else dnp.asarray(0.0)


def tree_vdot(tree_x: Any, tree_y: Any) -> Any:
    """The inner product of two trees: the sum over leaves of ``sum(x * y)``.

    Args:
        tree_x: A pytree of arrays.
        tree_y: A pytree with the same structure and shapes.

    Returns:
        A scalar array.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> float(optim.tree_vdot([dnp.ones(3)], [dnp.full(3, 2.0)]))
        6.0
    """
    return tree_sum(tree_mul(tree_x, tree_y))


def tree_l2_norm(tree: Any, squared: bool = False) -> Any:
    """The l2 norm of all leaves taken together (the "global norm").

    Args:
        tree: A pytree of arrays.
        squared: Return the squared norm instead.

    Returns:
        A scalar array.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> float(optim.tree_l2_norm([dnp.array([3.0]), dnp.array([4.0])]))
        5.0
    """
    sq = tree_sum(_tree.map(lambda x: x * x, tree))
    return sq if squared else dnp.sqrt(sq)


def safe_increment(count: Any) -> Any:
    """``count + 1`` that stops at the largest value of the count's dtype instead of wrapping.

    Args:
        count: An integer (or float) scalar array, e.g. a step counter in a state.

    Returns:
        The incremented count, same dtype.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> int(optim.safe_increment(dnp.asarray(2**31 - 1, dnp.int32)))
        2147483647
    """
    count = dnp.asarray(count)
    dtype = np.dtype(count.dtype)
    top = np.iinfo(dtype).max if dtype.kind in "iu" else np.finfo(dtype).max
    top = dnp.asarray(top, dtype=dtype)
    return dnp.where(count < top, count + dnp.asarray(1, dtype=dtype), top)


def tree_update_moment(updates: Any, moments: Any, decay: Any, order: int) -> Any:
    """Exponential moving average of ``updates ** order``: ``(1-decay) g^order + decay m``.

    Args:
        updates: The new values (gradients).
        moments: The running averages, same structure.
        decay: The decay rate (scalar).
        order: The power applied to ``updates`` (1 for the mean, 2 for the second moment).

    Returns:
        The new moments.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.tree_update_moment([dnp.full(1, 2.0)], [dnp.zeros(1)], 0.5, 2)[0].tolist()
        [2.0]
    """
    return _tree.map(lambda g, m: (1 - decay) * (g**order) + decay * m, updates, moments)


def tree_update_moment_per_elem_norm(updates: Any, moments: Any, decay: Any, order: int) -> Any:
    """Like `tree_update_moment` on ``|updates| ** order`` (the same for real inputs).

    Args:
        updates: The new values.
        moments: The running averages.
        decay: The decay rate.
        order: The power.

    Returns:
        The new moments.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> m = optim.tree_update_moment_per_elem_norm([dnp.full(1, -2.0)], [dnp.zeros(1)], 0.5, 1)
        >>> m[0].tolist()
        [1.0]
    """
    return _tree.map(lambda g, m: (1 - decay) * (dnp.abs(g) ** order) + decay * m, updates, moments)


def tree_update_infinity_moment(updates: Any, moments: Any, decay: Any, eps: Any) -> Any:
    """The infinity-norm moment of Adamax: ``max(|g| + eps, decay * m)``.

    Args:
        updates: The new values.
        moments: The running maxima.
        decay: The decay rate.
        eps: Added to ``|g|``, keeps the moment positive.

    Returns:
        The new moments.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.tree_update_infinity_moment([dnp.full(1, -2.0)], [dnp.ones(1)], 0.5, 0.0)[0].tolist()
        [2.0]
    """
    return _tree.map(lambda g, m: dnp.maximum(dnp.abs(g) + eps, decay * m), updates, moments)


def tree_bias_correction(moment: Any, decay: Any, count: Any) -> Any:
    """Divides an EMA by ``1 - decay ** count``, the bias of its zero initialisation.

    Args:
        moment: The moments.
        decay: The decay rate used to build them.
        count: The number of updates so far (>= 1), an integer array.

    Returns:
        The corrected moments, each in its own dtype.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.tree_bias_correction([dnp.full(1, 0.5)], 0.5, dnp.asarray(1))[0].tolist()
        [1.0]
    """
    correction = 1 - decay ** dnp.asarray(count).astype(dnp.float32)
    return _tree.map(lambda t: t / correction.astype(t.dtype), moment)
