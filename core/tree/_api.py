"""The tree functions: flatten, map, reduce, key paths, transpose and diff.

``map`` and ``all`` shadow the builtins in this module on purpose (they are
``derivax.tree.map`` and ``derivax.tree.all``); the builtins are reached via `builtins`.
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import Callable, Iterable
from typing import Any

from ._mismatch import LEAF, TreeStructureError, difference_lines, leaf_paths
from ._registry import one_level_with_keys
from ._treedef import PyTreeDef, _up_to, flatten_fast, flatten_pred, unflatten_iter

__all__ = [
    "all",
    "diff",
    "flatten",
    "flatten_with_path",
    "leaves",
    "leaves_with_path",
    "map",
    "map_with_path",
    "reduce",
    "structure",
    "transpose",
    "unflatten",
]

IsLeaf = Callable[[Any], bool] | None
KeyPath = tuple[Any, ...]


def _check_is_leaf(fn_name: str, is_leaf: Any) -> None:
    if not callable(is_leaf):
        raise TypeError(
            f"{fn_name}: `is_leaf` must be None or a callable that takes a subtree and "
            f"returns True to treat it as a leaf, got {is_leaf!r} of type "
            f"{type(is_leaf).__name__}. For example: is_leaf=lambda x: isinstance(x, tuple)."
        )


def _flatten(fn_name: str, tree: Any, is_leaf: IsLeaf) -> tuple[list, Any]:
    out: list = []
    if is_leaf is None:
        return out, flatten_fast(tree, out)
    _check_is_leaf(fn_name, is_leaf)
    return out, flatten_pred(tree, out, is_leaf)


def flatten(tree: Any, is_leaf: IsLeaf = None) -> tuple[list[Any], PyTreeDef]:
    """Splits a pytree into its leaves and its structure.

    Dicts are flattened in sorted-key order, OrderedDicts in insertion order; ``None`` is a
    node with no children; unregistered types are leaves.

    Args:
        tree: The pytree.
        is_leaf: Optional predicate called on every subtree (root first); where it returns
            True the subtree is a leaf and is not looked into.

    Returns:
        ``(leaves, treedef)``: the leaves in order and the `PyTreeDef` that `unflatten`
        uses to rebuild the tree.

    Raises:
        TypeError: If ``is_leaf`` is not callable, or a dict has keys that cannot be sorted.

    Example:
        >>> from derivax import tree
        >>> tree.flatten({"b": [1, None], "a": (2, 3)})
        ([2, 3, 1], PyTreeDef({'a': (*, *), 'b': [*, None]}))
        >>> tree.flatten([(1, 2), 3], is_leaf=lambda x: isinstance(x, tuple))
        ([(1, 2), 3], PyTreeDef([*, *]))
    """
    out, node = _flatten("flatten", tree, is_leaf)
    return out, PyTreeDef(node, len(out))


def unflatten(treedef: PyTreeDef, leaves: Iterable[Any]) -> Any:
    """Builds a pytree with structure ``treedef`` from ``leaves``; the inverse of `flatten`.

    Args:
        treedef: The structure, from `flatten` or `structure`.
        leaves: Exactly ``treedef.num_leaves`` values, in flattening order.

    Returns:
        The pytree.

    Raises:
        TypeError: If ``treedef`` is not a `PyTreeDef` (the order is ``treedef, leaves``).
        TreeStructureError: If the number of leaves is wrong.

    Example:
        >>> from derivax import tree
        >>> leaves, treedef = tree.flatten({"w": 1, "b": 2})
        >>> tree.unflatten(treedef, [x * 10 for x in leaves])
        {'b': 20, 'w': 10}
    """
    if not isinstance(treedef, PyTreeDef):
        raise TypeError(
            f"unflatten: `treedef` must be a PyTreeDef (from flatten or structure), got "
            f"{type(treedef).__name__}. The argument order is unflatten(treedef, leaves)."
        )
    return treedef.unflatten(leaves)


def leaves(tree: Any, is_leaf: IsLeaf = None) -> list[Any]:
    """The leaves of a pytree, in flattening order.

    Args:
        tree: The pytree.
        is_leaf: Optional predicate marking subtrees as leaves (see `flatten`).

    Returns:
        The list of leaves.

    Example:
        >>> from derivax import tree
        >>> tree.leaves({"b": [1, None], "a": (2, 3)})
        [2, 3, 1]
        >>> tree.leaves([None, 1], is_leaf=lambda x: x is None)
        [None, 1]
    """
    return _flatten("leaves", tree, is_leaf)[0]


def structure(tree: Any, is_leaf: IsLeaf = None) -> PyTreeDef:
    """The structure (`PyTreeDef`) of a pytree.

    Args:
        tree: The pytree.
        is_leaf: Optional predicate marking subtrees as leaves (see `flatten`).

    Returns:
        The treedef.

    Example:
        >>> from derivax import tree
        >>> tree.structure({"a": 1.0, "b": [2.0, None]})
        PyTreeDef({'a': *, 'b': [*, None]})
    """
    out, node = _flatten("structure", tree, is_leaf)
    return PyTreeDef(node, len(out))


def _rest_leaves(fn_name: str, node: Any, rest: tuple) -> list[list]:
    """Flattens each tree in ``rest`` up to ``node``; one error listing every mismatch."""
    flat: list[list] = []
    bad: list[int] = []
    for i, r in enumerate(rest):
        sub: list = []
        if _up_to(node, r, sub):
            flat.append(sub)
        else:
            bad.append(i)
    if not bad:
        return flat
    lines: list[str] = []
    for i in bad:
        lines += difference_lines(node, rest[i], ("tree 0", f"tree {i + 1}"), up_to=True)
    named = ", ".join(f"tree {i + 1} is rest[{i}]" for i in bad)
    raise TreeStructureError(
        f"{fn_name}: every tree must have the structure of the first tree (tree 0, the "
        f"`tree` argument; {named}):\n  "
        + "\n  ".join(lines)
        + "\nFix: make the trees match. Where tree 0 has a leaf, the others may have any "
        "subtree; derivax.tree.diff(a, b) describes how two trees differ.",
        lines,
    )


def map(f: Callable[..., Any], tree: Any, *rest: Any, is_leaf: IsLeaf = None) -> Any:
    """Applies ``f`` to the leaves of one or more pytrees, keeping the structure.

    With several trees, ``f`` gets one leaf of each tree at the same position. The trees in
    ``rest`` must have the structure of ``tree``, except that where ``tree`` has a leaf they
    may have any subtree, which ``f`` then receives whole (as in JAX).

    Args:
        f: Function of ``1 + len(rest)`` arguments.
        tree: The first pytree; its structure is the structure of the result.
        *rest: More pytrees with the structure of ``tree``.
        is_leaf: Optional predicate marking subtrees of ``tree`` as leaves.

    Returns:
        A pytree with the structure of ``tree`` whose leaves are ``f(leaf, *rest_leaves)``.

    Raises:
        TreeStructureError: If a tree in ``rest`` does not match; the message lists every
            key path where it differs, with what each tree has there.

    Example:
        >>> from derivax import tree
        >>> tree.map(lambda x: x * 2, {"a": 1, "b": [2, None]})
        {'a': 2, 'b': [4, None]}
        >>> tree.map(lambda x, y: x + y, [1, 2], [10, 20])
        [11, 22]
    """
    flat, node = _flatten("map", tree, is_leaf)
    if rest:
        cols = builtins.map(f, flat, *_rest_leaves("map", node, rest))
    else:
        cols = builtins.map(f, flat)
    return unflatten_iter(node, cols)


def all(tree: Any, *, is_leaf: IsLeaf = None) -> bool:
    """True if every leaf of ``tree`` is truthy (and for a tree without leaves).

    Args:
        tree: The pytree.
        is_leaf: Optional predicate marking subtrees as leaves.

    Returns:
        ``builtins.all(leaves(tree))``.

    Example:
        >>> from derivax import tree
        >>> tree.all({"a": True, "b": [1, 2]}), tree.all([True, 0]), tree.all([None])
        (True, False, True)
    """
    return builtins.all(_flatten("all", tree, is_leaf)[0])


class _Missing:
    def __repr__(self) -> str:
        return "<no initializer>"


_MISSING: Any = _Missing()


def reduce(
    function: Callable[[Any, Any], Any],
    tree: Any,
    initializer: Any = _MISSING,
    is_leaf: IsLeaf = None,
) -> Any:
    """Folds ``function`` over the leaves of ``tree``, like `functools.reduce`.

    Args:
        function: Binary function ``(accumulated, leaf) -> accumulated``.
        tree: The pytree.
        initializer: Optional starting value; required if the tree has no leaves.
        is_leaf: Optional predicate marking subtrees as leaves.

    Returns:
        The reduced value.

    Raises:
        TypeError: If the tree has no leaves and no ``initializer`` is given.

    Example:
        >>> import operator
        >>> from derivax import tree
        >>> tree.reduce(operator.add, {"a": 1, "b": [2, 3]})
        6
        >>> tree.reduce(operator.add, [None], initializer=0)
        0
    """
    flat = _flatten("reduce", tree, is_leaf)[0]
    if initializer is _MISSING:
        if not flat:
            raise TypeError(
                "reduce: `tree` has no leaves and no `initializer` was given, so there is "
                "nothing to return. Pass initializer=<value for an empty tree>."
            )
        return functools.reduce(function, flat)
    return functools.reduce(function, flat, initializer)


def _flatten_paths(x: Any, path: KeyPath, pairs: list, is_leaf: IsLeaf) -> Any:
    if is_leaf is not None and is_leaf(x):
        pairs.append((path, x))
        return LEAF
    level = one_level_with_keys(x)
    if level is None:
        pairs.append((path, x))
        return LEAF
    t, aux, children, keys = level
    return (
        t,
        aux,
        tuple(
            [
                _flatten_paths(c, (*path, k), pairs, is_leaf)
                for c, k in zip(children, keys, strict=True)
            ]
        ),
    )


def flatten_with_path(
    tree: Any, is_leaf: IsLeaf = None
) -> tuple[list[tuple[KeyPath, Any]], PyTreeDef]:
    """Like `flatten`, but pairs each leaf with its key path.

    Args:
        tree: The pytree.
        is_leaf: Optional predicate marking subtrees as leaves.

    Returns:
        ``([(path, leaf), ...], treedef)``; each path is a tuple of key entries
        (`DictKey`, `SequenceKey`, `GetAttrKey`, `FlattenedIndexKey`); `keystr` formats it.

    Example:
        >>> from derivax import tree
        >>> pairs, treedef = tree.flatten_with_path({"w": [5, 6]})
        >>> [(tree.keystr(p), x) for p, x in pairs]
        [("['w'][0]", 5), ("['w'][1]", 6)]
    """
    if is_leaf is not None:
        _check_is_leaf("flatten_with_path", is_leaf)
    pairs: list = []
    node = _flatten_paths(tree, (), pairs, is_leaf)
    return pairs, PyTreeDef(node, len(pairs))


def leaves_with_path(tree: Any, is_leaf: IsLeaf = None) -> list[tuple[KeyPath, Any]]:
    """The ``(key path, leaf)`` pairs of a pytree, in flattening order.

    Args:
        tree: The pytree.
        is_leaf: Optional predicate marking subtrees as leaves.

    Returns:
        A list of ``(path, leaf)``.

    Example:
        >>> from derivax import tree
        >>> for path, x in tree.leaves_with_path({"b": (1, 2), "a": 0}):
        ...     print(tree.keystr(path), x)
        ['a'] 0
        ['b'][0] 1
        ['b'][1] 2
    """
    if is_leaf is not None:
        _check_is_leaf("leaves_with_path", is_leaf)
    pairs: list = []
    _flatten_paths(tree, (), pairs, is_leaf)
    return pairs


def map_with_path(f: Callable[..., Any], tree: Any, *rest: Any, is_leaf: IsLeaf = None) -> Any:
    """Like `map`, but ``f`` also gets the key path of each leaf as its first argument.

    Args:
        f: Function ``(path, leaf, *rest_leaves) -> new leaf``.
        tree: The first pytree; its structure is the structure of the result.
        *rest: More pytrees with the structure of ``tree`` (up to its leaves, as in `map`).
        is_leaf: Optional predicate marking subtrees of ``tree`` as leaves.

    Returns:
        A pytree with the structure of ``tree``.

    Raises:
        TreeStructureError: If a tree in ``rest`` does not match ``tree``.

    Example:
        >>> from derivax import tree
        >>> params = {"w": 1.0, "b": 2.0}
        >>> tree.map_with_path(lambda p, x: 0.0 if tree.keystr(p) == "['b']" else x, params)
        {'b': 0.0, 'w': 1.0}
    """
    if is_leaf is not None:
        _check_is_leaf("map_with_path", is_leaf)
    pairs: list = []
    node = _flatten_paths(tree, (), pairs, is_leaf)
    paths = [p for p, _ in pairs]
    flat = [x for _, x in pairs]
    cols = builtins.map(f, paths, flat, *_rest_leaves("map_with_path", node, rest))
    return unflatten_iter(node, cols)


def transpose(
    outer_treedef: PyTreeDef, inner_treedef: PyTreeDef | None, pytree_to_transpose: Any
) -> Any:
    """Turns a tree of structure (outer, inner) into one of structure (inner, outer).

    ``pytree_to_transpose`` must have ``outer_treedef`` as its structure with a tree of
    structure ``inner_treedef`` at each of its leaves. Where ``inner_treedef`` has a leaf
    the input may hold any subtree; it is moved whole (JAX instead requires the full
    structure to match exactly).

    Args:
        outer_treedef: The outer structure.
        inner_treedef: The inner structure, or None to take it from the first inner tree.
        pytree_to_transpose: The tree to transpose.

    Returns:
        A tree of structure ``inner_treedef`` whose leaves are trees of structure
        ``outer_treedef``.

    Raises:
        TypeError: If a treedef argument is not a `PyTreeDef`.
        TreeStructureError: If the tree does not match the two structures, or
            ``inner_treedef`` is None and ``outer_treedef`` has no leaves to infer it from.

    Example:
        >>> from derivax import tree
        >>> rows = [{"x": 1, "y": 2}, {"x": 3, "y": 4}]
        >>> tree.transpose(tree.structure([0, 0]), tree.structure({"x": 0, "y": 0}), rows)
        {'x': [1, 3], 'y': [2, 4]}
        >>> tree.transpose(tree.structure([0, 0]), None, rows)
        {'x': [1, 3], 'y': [2, 4]}
    """
    for name, td in (("outer_treedef", outer_treedef), ("inner_treedef", inner_treedef)):
        if not isinstance(td, PyTreeDef) and not (name == "inner_treedef" and td is None):
            raise TypeError(
                f"transpose: `{name}` must be a PyTreeDef (use derivax.tree.structure(...)), "
                f"got {type(td).__name__}."
            )
    outer: list = []
    if not _up_to(outer_treedef._node, pytree_to_transpose, outer):
        lines = difference_lines(
            outer_treedef._node, pytree_to_transpose, ("outer_treedef", "the tree"), True
        )
        raise TreeStructureError(
            f"transpose: `pytree_to_transpose` does not have the outer structure "
            f"{outer_treedef!r}:\n  " + "\n  ".join(lines),
            lines,
        )
    if inner_treedef is None:
        if not outer:
            raise TreeStructureError(
                f"transpose: cannot infer `inner_treedef` because `outer_treedef` "
                f"{outer_treedef!r} has no leaves. Pass inner_treedef explicitly."
            )
        inner_treedef = structure(outer[0])
    columns: list[list] = []
    bad: list[int] = []
    for i, sub in enumerate(outer):
        row: list = []
        if _up_to(inner_treedef._node, sub, row):
            columns.append(row)
        else:
            bad.append(i)
    if bad:  # key paths are computed only to explain the error
        paths = leaf_paths(outer_treedef._node, pytree_to_transpose)
        found: list[str] = []
        for i in bad:
            names = ("inner_treedef", "the tree")
            found += difference_lines(inner_treedef._node, outer[i], names, True, path=paths[i])
        raise TreeStructureError(
            f"transpose: the trees at the leaves of `outer_treedef` must have the structure "
            f"{inner_treedef!r}:\n  " + "\n  ".join(found),
            found,
        )
    if not columns:  # no outer leaves: every inner leaf holds an empty outer tree
        return inner_treedef.unflatten([outer_treedef.unflatten([])] * inner_treedef.num_leaves)
    return inner_treedef.unflatten(
        [outer_treedef.unflatten(col) for col in zip(*columns, strict=True)]
    )


def diff(a: Any, b: Any, *, is_leaf: IsLeaf = None) -> str | None:
    """Describes every key path where two pytrees differ in structure.

    Leaf values are not compared, only structure: node types, dict keys, sequence lengths,
    custom-node aux data, and leaf-versus-subtree.

    Args:
        a: The first pytree.
        b: The second pytree.
        is_leaf: Optional predicate marking subtrees (of both trees) as leaves.

    Returns:
        None if ``a`` and ``b`` have the same structure, else one line per difference,
        ``at <path>: a ..., b ...``.

    Example:
        >>> from derivax import tree
        >>> print(tree.diff({"w": [1, 2], "b": 0}, {"w": [1, 2], "b": 0}))
        None
        >>> print(tree.diff({"w": [1, 2], "b": 0}, {"w": [1], "b": None}))
        at ['b']: a has a leaf, b has None
        at ['w']: a is a list of length 2, b is a list of length 1
    """
    if is_leaf is not None:
        _check_is_leaf("diff", is_leaf)
    _, node = _flatten("diff", a, is_leaf)
    lines = difference_lines(node, b, ("a", "b"), up_to=False, is_leaf=is_leaf)
    return "\n".join(lines) if lines else None
