"""Norms that stay differentiable at zero, shared by transforms and losses."""

from __future__ import annotations

from typing import Any

import derivax.numpy as dnp

from ._tree_utils import tree_l2_norm

__all__ = ["global_norm", "safe_norm", "safe_root_mean_squares"]


def _l2(x: Any, axis: Any, keepdims: bool) -> Any:
    return dnp.sqrt(dnp.sum(x * x, axis=axis, keepdims=keepdims))


def safe_norm(
    x: Any, min_norm: Any, ord: Any = None, axis: Any = None, keepdims: bool = False
) -> Any:
    """The l2 norm of ``x``, clamped below at ``min_norm``, with a gradient that is never NaN.

    The plain ``sqrt(sum(x**2))`` has an infinite derivative at ``x = 0``. Here elements
    whose norm is at most ``min_norm`` are replaced by ones before the norm is taken, so
    both the value (``min_norm``) and its gradient (zero) are finite there.

    Args:
        x: An array.
        min_norm: The lower bound of the result.
        ord: Only None (the l2/Frobenius norm) is supported.
        axis: The axis or axes to reduce (None: all).
        keepdims: Keep the reduced axes with size 1.

    Returns:
        ``max(norm(x), min_norm)`` in the sense above.

    Raises:
        ValueError: If ``ord`` is not None.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> float(optim.safe_norm(dnp.array([3.0, 4.0]), 1.0))
        5.0
        >>> float(optim.safe_norm(dnp.zeros(2), 0.5))
        0.5
    """
    if ord is not None:
        raise ValueError(f"safe_norm: only ord=None (the l2 norm) is supported, got ord={ord!r}.")
    norm = _l2(x, axis, keepdims=True)
    small = norm <= min_norm
    masked = _l2(dnp.where(small, dnp.ones_like(x), x), axis, keepdims)
    if not keepdims:
        small = dnp.reshape(small, dnp.shape(masked))
    return dnp.where(small, dnp.asarray(min_norm, dtype=masked.dtype), masked)


def safe_root_mean_squares(x: Any, min_rms: Any) -> Any:
    """``max(sqrt(mean(x**2)), min_rms)`` with a gradient that is finite at zero.

    Args:
        x: An array.
        min_rms: The lower bound of the result.

    Returns:
        A scalar array.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> float(optim.safe_root_mean_squares(dnp.array([3.0, -3.0]), 1e-3))
        3.0
    """
    rms = dnp.sqrt(dnp.mean(x * x))
    small = rms <= min_rms
    x = dnp.where(small, dnp.ones_like(x), x)
    return dnp.where(small, dnp.asarray(min_rms, dtype=rms.dtype), dnp.sqrt(dnp.mean(x * x)))


def global_norm(updates: Any) -> Any:
    """The l2 norm of all leaves of a pytree taken together.

    Args:
        updates: A pytree of arrays (gradients, updates, parameters).

    Returns:
        A scalar array: ``sqrt(sum over leaves of sum(x**2))``.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> float(optim.global_norm({"a": dnp.array([3.0]), "b": dnp.array([4.0])}))
        5.0
    """
    return tree_l2_norm(updates)
