"""``associative_scan``: all prefix combinations of an associative operator in parallel.

The parallel-prefix algorithm combines neighbouring pairs, recursively scans the half-size
sequence of pair results (which gives the prefixes ending at odd positions), then
combines those with the remaining elements (the prefixes at even positions) and
interleaves the two halves. It takes ``O(log n)`` rounds of ``fn`` on whole arrays and is
built from slicing, padding and ``select``, so ``grad``, ``vmap`` and ``jit`` apply to it
like to any other composition of primitives.
"""

from __future__ import annotations

import numpy as np

from .. import tree as tree_util
from .._core import get_aval
from . import _elementwise as E
from . import _structural as S
from ._cf_util import as_operand

__all__ = ["associative_scan"]


def _interleave(a, b, axis):
    """``[a0, b0, a1, b1, ...]`` along ``axis`` (``a`` has as many or one more elements)."""
    aval = get_aval(a)
    n = aval.shape[axis] + get_aval(b).shape[axis]
    zero = S.full((), 0, aval.dtype)
    cfg_a = [(0, 0, 0)] * aval.ndim
    cfg_b = [(0, 0, 0)] * aval.ndim
    cfg_a[axis] = (0, 1 - n % 2, 1)
    cfg_b[axis] = (1, n % 2, 1)
    pa, pb = S.pad(a, zero, cfg_a), S.pad(b, zero, cfg_b)
    odd = E.eq(
        E.rem(S.iota(np.int32, (n,), 0), S.full((n,), 2, np.int32)), S.full((n,), 1, np.int32)
    )
    shape = get_aval(pa).shape
    odd = S.broadcast_in_dim(odd, shape, (axis,))
    return E.select(odd, pb, pa)


def associative_scan(fn, elems, reverse=False, axis=0):
    """Inclusive prefix scan of ``elems`` with the associative operator ``fn``.

    Returns ``[e0, fn(e0, e1), fn(fn(e0, e1), e2), ...]`` along ``axis``, computed with
    ``O(log n)`` parallel rounds of ``fn``, so ``fn`` must be associative (the grouping of
    the combinations differs from a left-to-right loop) and vectorized: it is called on
    whole slices of the arrays, not on single elements.

    Args:
        fn: ``fn(a, b) -> c`` on pytrees with the structure of ``elems``; each leaf of
            ``a``, ``b`` and ``c`` is a slice along ``axis`` of the same length.
        elems: an array or a pytree of arrays with the same size along ``axis``.
        reverse: scan from the end (``result[i]`` combines ``elems[i:]``).
        axis: the axis to scan along.

    Returns:
        A pytree like ``elems`` with the prefix combinations.

    Raises:
        ValueError: ``elems`` is empty, ``axis`` is out of range, or the leaves disagree on
            their size along ``axis``.
        TypeError: ``fn`` returns a different structure or shape.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> lax.associative_scan(lambda a, b: a + b, dnp.arange(1.0, 6.0))
        Array([ 1.,  3.,  6., 10., 15.], dtype=float32)
        >>> lax.associative_scan(dnp.maximum, dnp.array([1, 3, 2, 5, 4]), reverse=True)
        Array([5, 5, 5, 5, 4], dtype=int32)
    """
    if not callable(fn):
        raise TypeError(f"associative_scan: fn must be callable, got {type(fn).__name__}.")
    leaves, tree = tree_util.flatten(elems)
    if not leaves:
        raise ValueError("associative_scan: elems has no arrays.")
    leaves = [as_operand(x) for x in leaves]
    ndim = get_aval(leaves[0]).ndim
    if any(get_aval(x).ndim != ndim for x in leaves) or not -ndim <= axis < ndim:
        raise ValueError(
            f"associative_scan: axis={axis} must be valid for every leaf of elems; their "
            f"shapes are {[get_aval(x).shape for x in leaves]}."
        )
    axis = axis % ndim
    sizes = {get_aval(x).shape[axis] for x in leaves}
    if len(sizes) != 1:
        raise ValueError(
            f"associative_scan: every leaf of elems must have the same size along axis "
            f"{axis}, got shapes {[get_aval(x).shape for x in leaves]}."
        )
    if reverse:
        leaves = [S.rev(x, (axis,)) for x in leaves]

    def combine(a, b):
        out = fn(tree_util.unflatten(tree, a), tree_util.unflatten(tree, b))
        out_leaves, out_tree = tree_util.flatten(out)
        if out_tree != tree:
            raise TypeError(
                f"associative_scan: fn must return the structure of elems ({tree}), got {out_tree}."
            )
        out_leaves = [as_operand(o) for o in out_leaves]
        for o, x in zip(out_leaves, a, strict=True):
            if get_aval(o).shape != get_aval(x).shape:
                raise TypeError(
                    f"associative_scan: fn must keep the shapes of its inputs, but it maps "
                    f"{get_aval(x).str_short()} inputs to {get_aval(o).str_short()}."
                )
        return out_leaves

    def sl(xs, start, stop, stride=1):
        return [S.slice_in_dim(x, start, stop, stride, axis) for x in xs]

    def prefix(xs):
        n = get_aval(xs[0]).shape[axis]
        if n < 2:
            return xs
        odd = prefix(combine(sl(xs, 0, n - 1, 2), sl(xs, 1, n, 2)))
        rest = sl(xs, 2, n, 2)
        if get_aval(rest[0]).shape[axis] == 0:
            even = sl(xs, 0, 1)
        else:
            m = get_aval(rest[0]).shape[axis]
            even = combine(sl(odd, 0, m), rest)
            even = [S.concatenate([f, e], axis) for f, e in zip(sl(xs, 0, 1), even, strict=True)]
        return [_interleave(e, o, axis) for e, o in zip(even, odd, strict=True)]

    out = prefix(leaves)
    if reverse:
        out = [S.rev(x, (axis,)) for x in out]
    return tree_util.unflatten(tree, out)
