"""Filters: which leaves of a model are arrays, and splitting a tree by a filter.

A *filter* is a callable ``leaf -> bool`` (such as `is_array`) or a bool. A *filter spec*
is a pytree of filters that is a prefix of the tree being filtered: each filter applies
to every leaf of the subtree at its position. `partition` splits a tree in two along a
filter spec (the leaves that were not kept become ``None``) and `combine` merges the
halves back, which is how `filter_jit`, `filter_grad` and `filter_vmap` treat arrays and
everything else differently.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import derivax
from derivax import tree

from ._compat import Tracer

__all__ = [
    "combine",
    "filter",
    "is_array",
    "is_array_like",
    "is_inexact_array",
    "partition",
]

# Exact types checked first: a set lookup is several times cheaper than isinstance with a
# tuple, and every leaf of every filter_jit call goes through is_array.
_ARRAY_TYPES = (derivax.Array, np.ndarray, np.generic, Tracer)
_EXACT_ARRAY_TYPES = {derivax.Array, np.ndarray}


def is_array(element: Any) -> bool:
    """True for arrays: `derivax.Array`, traced arrays, NumPy arrays and NumPy scalars.

    Python scalars are not arrays: `filter_jit` keeps them static and `filter_grad` does
    not differentiate them.

    Args:
        element: Any object (usually a leaf of a pytree).

    Returns:
        Whether ``element`` is an array.

    Example:
        >>> import numpy as np
        >>> import derivax.numpy as dnp
        >>> import nn_pytree as nnp
        >>> nnp.is_array(dnp.ones(2)), nnp.is_array(np.float32(1)), nnp.is_array(1.0)
        (True, True, False)
    """
    return type(element) in _EXACT_ARRAY_TYPES or isinstance(element, _ARRAY_TYPES)


def is_inexact_array(element: Any) -> bool:
    """True for arrays (see `is_array`) of a floating or complex dtype.

    These are the leaves `filter_grad` differentiates.

    Args:
        element: Any object.

    Returns:
        Whether ``element`` is a floating-point or complex array.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_pytree as nnp
        >>> nnp.is_inexact_array(dnp.ones(2)), nnp.is_inexact_array(dnp.arange(2))
        (True, False)
    """
    if not is_array(element):
        return False
    return bool(np.issubdtype(element.dtype, np.inexact))


def is_array_like(element: Any) -> bool:
    """True for arrays and for Python/NumPy numbers and booleans (what converts to an array).

    Args:
        element: Any object.

    Returns:
        Whether ``element`` is an array, a NumPy scalar or a Python bool/int/float/complex.

    Example:
        >>> import nn_pytree as nnp
        >>> nnp.is_array_like(1.0), nnp.is_array_like(True), nnp.is_array_like("a")
        (True, True, False)
    """
    return is_array(element) or isinstance(element, (bool, int, float, complex))


def _check_spec_leaf(spec: Any, fn_name: str) -> None:
    if not (isinstance(spec, bool) or callable(spec)):
        raise TypeError(
            f"{fn_name}: every leaf of `filter_spec` must be a bool or a callable "
            f"leaf -> bool (such as nnp.is_array), got {spec!r} of type "
            f"{type(spec).__name__}. Build the spec from True/False and filter functions, "
            f"for example filter_spec=nnp.is_inexact_array."
        )


def _mask(spec: Any, subtree: Any, is_leaf: Callable[[Any], bool] | None, fn_name: str) -> Any:
    """The tree of bools saying which leaves of ``subtree`` the filter ``spec`` keeps."""
    _check_spec_leaf(spec, fn_name)
    if isinstance(spec, bool):
        return tree.map(lambda _: spec, subtree, is_leaf=is_leaf)

    def keep(leaf: Any) -> bool:
        out = spec(leaf)
        if not isinstance(out, (bool, np.bool_)):
            raise TypeError(
                f"{fn_name}: the filter {getattr(spec, '__name__', spec)!r} returned "
                f"{out!r} of type {type(out).__name__} for a leaf of type "
                f"{type(leaf).__name__}; a filter must return a Python bool."
            )
        return bool(out)

    return tree.map(keep, subtree, is_leaf=is_leaf)


def _mask_tree(
    pytree: Any, filter_spec: Any, is_leaf: Callable[[Any], bool] | None, fn_name: str
) -> Any:
    try:
        return tree.map(lambda spec, sub: _mask(spec, sub, is_leaf, fn_name), filter_spec, pytree)
    except tree.TreeStructureError as e:
        raise ValueError(
            f"{fn_name}: `filter_spec` must be a prefix of `pytree` (same structure down to "
            f"the spec's leaves, where a bool or a filter function covers a whole subtree). "
            f"It is not:\n{e}"
        ) from None


def filter(  # noqa: A001 - the name users know
    pytree: Any,
    filter_spec: Any,
    inverse: bool = False,
    replace: Any = None,
    is_leaf: Callable[[Any], bool] | None = None,
) -> Any:
    """Keeps the leaves of ``pytree`` selected by ``filter_spec``; the others become ``replace``.

    Args:
        pytree: Any pytree, e.g. a model.
        filter_spec: A bool, a callable ``leaf -> bool``, or a pytree of those that is a
            prefix of ``pytree``; each covers the whole subtree at its position.
        inverse: Keep the leaves the spec rejects instead.
        replace: The value put in place of the leaves that are not kept.
        is_leaf: Optional predicate marking subtrees of ``pytree`` as leaves.

    Returns:
        A pytree with the structure of ``pytree``.

    Raises:
        ValueError: If ``filter_spec`` is not a prefix of ``pytree``.
        TypeError: If a spec leaf is neither a bool nor a callable, or a filter returns
            something other than a bool.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_pytree as nnp
        >>> nnp.filter([1, dnp.ones(2), "relu"], nnp.is_array)
        [None, Array([1., 1.], dtype=float32), None]
        >>> nnp.filter([1, dnp.ones(2)], [True, False], replace=0)
        [1, 0]
    """
    mask = _mask_tree(pytree, filter_spec, is_leaf, "filter")
    keep = (lambda m, x: replace if m else x) if inverse else (lambda m, x: x if m else replace)
    return tree.map(keep, mask, pytree, is_leaf=is_leaf)


def partition(
    pytree: Any,
    filter_spec: Any,
    replace: Any = None,
    is_leaf: Callable[[Any], bool] | None = None,
) -> tuple[Any, Any]:
    """Splits ``pytree`` in two: the leaves ``filter_spec`` keeps, and all the others.

    ``combine(*partition(pytree, spec)) `` rebuilds ``pytree``.

    Args:
        pytree: Any pytree.
        filter_spec: As in `filter`.
        replace: The placeholder for missing leaves in each half (None by default, which is
            what `combine` looks for).
        is_leaf: Optional predicate marking subtrees of ``pytree`` as leaves.

    Returns:
        ``(kept, rest)``, two pytrees with the structure of ``pytree``.

    Raises:
        ValueError: If ``filter_spec`` is not a prefix of ``pytree``.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_pytree as nnp
        >>> arrays, static = nnp.partition({"w": dnp.ones(2), "act": "relu"}, nnp.is_array)
        >>> arrays, static
        ({'act': None, 'w': Array([1., 1.], dtype=float32)}, {'act': 'relu', 'w': None})
        >>> nnp.combine(arrays, static)["act"]
        'relu'
    """
    mask = _mask_tree(pytree, filter_spec, is_leaf, "partition")
    leaves, treedef = tree.flatten(pytree, is_leaf=is_leaf)
    mask_leaves = treedef.flatten_up_to(mask)
    kept = [x if m else replace for m, x in zip(mask_leaves, leaves, strict=True)]
    rest = [replace if m else x for m, x in zip(mask_leaves, leaves, strict=True)]
    return treedef.unflatten(kept), treedef.unflatten(rest)


def _is_none(x: Any) -> bool:
    return x is None


def combine(*pytrees: Any, is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """Merges pytrees of the same structure, taking at each leaf the first non-``None`` value.

    The inverse of `partition`.

    Args:
        *pytrees: One or more pytrees whose structures match when ``None`` counts as a leaf.
        is_leaf: Optional predicate marking more subtrees as leaves.

    Returns:
        The merged pytree; positions that are ``None`` in every input stay ``None``.

    Raises:
        TypeError: If no pytree is given.
        ValueError: If the structures differ.

    Example:
        >>> import nn_pytree as nnp
        >>> nnp.combine([1, None, None], [None, 2, None])
        [1, 2, None]
    """
    if not pytrees:
        raise TypeError("combine: pass at least one pytree, e.g. combine(arrays, static).")
    if is_leaf is None:
        leaf_test = _is_none
    else:

        def leaf_test(x: Any) -> bool:
            return x is None or is_leaf(x)

    def first(*xs: Any) -> Any:
        for x in xs:
            if x is not None:
                return x
        return None

    try:
        return tree.map(first, *pytrees, is_leaf=leaf_test)
    except tree.TreeStructureError as e:
        raise ValueError(
            "combine: the pytrees must have the same structure, with None where a half has "
            f"no leaf (as `partition` makes them):\n{e}"
        ) from None
