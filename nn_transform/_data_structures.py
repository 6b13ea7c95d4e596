"""Helpers for the two-level parameter dicts: counting, sizing, splitting and merging."""

from __future__ import annotations

import math

import numpy as np

import derivax.tree as dtree

__all__ = ["merge", "partition", "tree_bytes", "tree_size"]


def tree_size(tree) -> int:
    """The number of scalars in all the arrays of ``tree`` (the parameter count).

    Args:
        tree: a pytree of arrays (or of anything with a ``shape``).

    Returns:
        The total number of elements.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> params = nt.transform(lambda x: nt.Linear(4)(x)).init(0, dnp.ones((1, 3)))
        >>> nt.data_structures.tree_size(params)
        16
    """
    return sum(math.prod(leaf.shape) for leaf in dtree.leaves(tree))


def tree_bytes(tree) -> int:
    """The number of bytes of all the arrays of ``tree``.

    Args:
        tree: a pytree of arrays (or of anything with ``shape`` and ``dtype``).

    Returns:
        The total size in bytes.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> nt.data_structures.tree_bytes({"m": {"w": dnp.ones((2, 3))}})
        24
    """
    return sum(math.prod(leaf.shape) * np.dtype(leaf.dtype).itemsize for leaf in dtree.leaves(tree))


def partition(predicate, params):
    """Split a two-level dict in two by ``predicate(module_name, name, value)``.

    Args:
        predicate: decides, for each value, whether it goes to the first dict.
        params: ``{module_name: {name: value}}``.

    Returns:
        ``(matching, others)``, two dicts of the same layout.

    Example:
        >>> import nn_transform as nt
        >>> params = {"linear": {"w": 1, "b": 2}, "linear_1": {"w": 3, "b": 4}}
        >>> trainable, frozen = nt.data_structures.partition(lambda m, n, v: m == "linear", params)
        >>> trainable, frozen
        ({'linear': {'w': 1, 'b': 2}}, {'linear_1': {'w': 3, 'b': 4}})
    """
    yes: dict = {}
    no: dict = {}
    for module, values in params.items():
        for name, value in values.items():
            target = yes if predicate(module, name, value) else no
            target.setdefault(module, {})[name] = value
    return yes, no


def merge(*dicts):
    """Merge two-level dicts (later ones win on conflicts); the inverse of `partition`.

    Args:
        *dicts: ``{module_name: {name: value}}`` dicts.

    Returns:
        One dict with every entry.

    Example:
        >>> import nn_transform as nt
        >>> nt.data_structures.merge({"a": {"w": 1}}, {"a": {"b": 2}, "c": {"w": 3}})
        {'a': {'w': 1, 'b': 2}, 'c': {'w': 3}}
    """
    out: dict = {}
    for d in dicts:
        for module, values in d.items():
            out.setdefault(module, {}).update(values)
    return out
