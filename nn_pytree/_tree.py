"""Tree surgery on immutable models: `tree_at`, `tree_equal`, `apply_updates`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import derivax.numpy as dnp
from derivax import tree

from ._compat import Tracer
from ._filters import is_array

__all__ = ["apply_updates", "tree_at", "tree_equal"]


class _Sentinel:
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


_MISSING: Any = _Sentinel("<missing>")


class _Marker:
    """Stands in for a leaf (or a None, or an is_leaf subtree) while ``where`` runs."""

    __slots__ = ("path",)

    def __init__(self, path: tuple[int, ...]):
        self.path = path

    def __repr__(self) -> str:
        return f"<leaf at {self.path}>"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise ValueError(
            f"tree_at: `where` read .{name} of a leaf. `where` must select existing nodes with "
            "attribute and item access (m.layers[0].weight), not compute new values "
            "(m.weight.T, m.weight + 1)."
        )


def _split(x: Any) -> tuple[list[Any], Any] | None:
    """The children and structure of one node, or None if ``x`` is a leaf."""
    kids, treedef = tree.flatten(x, is_leaf=lambda y: y is not x)
    if len(kids) == 1 and kids[0] is x:
        return None
    return kids, treedef


class _Walker:
    def __init__(self, is_leaf: Callable[[Any], bool] | None):
        self.is_leaf = is_leaf
        self.nodes: dict[int, tuple[tuple[int, ...], Any]] = {}
        self.ambiguous: set[int] = set()

    def leafish(self, x: Any) -> bool:
        return x is None or (self.is_leaf is not None and self.is_leaf(x))

    def mark(self, x: Any, path: tuple[int, ...]) -> Any:
        if self.leafish(x):
            return _Marker(path)
        split = _split(x)
        if split is None:
            return _Marker(path)
        kids, treedef = split
        new = treedef.unflatten([self.mark(c, (*path, i)) for i, c in enumerate(kids)])
        if id(new) in self.nodes:  # e.g. the empty-tuple singleton
            self.ambiguous.add(id(new))
        self.nodes[id(new)] = (path, new)
        return new

    def lookup(self, obj: Any) -> tuple[int, ...] | None:
        if isinstance(obj, _Marker):
            return obj.path
        entry = self.nodes.get(id(obj))
        if entry is None or entry[1] is not obj:
            return None
        if id(obj) in self.ambiguous:
            raise ValueError(
                f"tree_at: `where` returned {obj!r}, which occurs several times in the tree as "
                "the same object (Python shares empty tuples), so which one to replace is "
                "ambiguous. Select its parent node instead."
            )
        return entry[0]


def _describe(obj: Any) -> str:
    text = repr(obj)
    return text if len(text) < 60 else text[:57] + "..."


def tree_at(
    where: Callable[[Any], Any],
    pytree: Any,
    replace: Any = _MISSING,
    replace_fn: Any = _MISSING,
    is_leaf: Callable[[Any], bool] | None = None,
) -> Any:
    """A copy of ``pytree`` with the nodes selected by ``where`` replaced.

    The way to "modify" an immutable model: ``tree_at(lambda m: m.layers[0].bias, model,
    new_bias)``. ``where`` may select leaves, subtrees (a whole sub-module) or ``None``
    nodes, and several at once by returning a tuple or list of them.

    Args:
        where: A function ``pytree -> node`` or ``pytree -> sequence of nodes``, using
            attribute and item access only (it is called on a stand-in copy of the tree).
        pytree: The tree to copy.
        replace: The new value, or a sequence of values (one per selected node) when
            ``where`` returns a sequence.
        replace_fn: Instead of ``replace``: a function ``old node -> new node`` applied to
            each selected node.
        is_leaf: Optional predicate marking subtrees as leaves.

    Returns:
        The new tree; ``pytree`` is unchanged.

    Raises:
        ValueError: If not exactly one of ``replace`` and ``replace_fn`` is given,
            ``where`` returns something that is not a node of the tree (for example a
            value computed from it), selects a node twice, or the number of replacements
            does not match.

    Example:
        >>> import nn_pytree as nnp
        >>> nnp.tree_at(lambda t: t["b"][0], {"a": 1, "b": [2, 3]}, 20)
        {'a': 1, 'b': [20, 3]}
        >>> nnp.tree_at(lambda t: (t[0], t[1]), [1, None], replace_fn=lambda x: (x, x))
        [(1, 1), (None, None)]
    """
    if (replace is _MISSING) == (replace_fn is _MISSING):
        raise ValueError(
            "tree_at: give exactly one of `replace` (the new value) and `replace_fn` (a "
            "function old -> new), e.g. tree_at(lambda m: m.bias, model, replace=new_bias)."
        )
    if not callable(where):
        raise TypeError(
            f"tree_at: `where` must be a function selecting nodes, such as "
            f"lambda m: m.weight; got {where!r}."
        )
    walker = _Walker(is_leaf)
    marked = walker.mark(pytree, ())
    selected = where(marked)
    single = walker.lookup(selected)
    if single is not None:
        paths = [single]
        replacements = None if replace is _MISSING else [replace]
    elif isinstance(selected, (list, tuple)):
        paths = []
        for i, obj in enumerate(selected):
            path = walker.lookup(obj)
            if path is None:
                raise ValueError(
                    f"tree_at: element {i} of what `where` returned, {_describe(obj)}, is not "
                    "a node of the tree. `where` must select existing nodes with attribute "
                    "and item access (m.layers[0].weight), not compute new values "
                    "(m.weight.T, m.weight + 1)."
                )
            paths.append(path)
        if replace is _MISSING:
            replacements = None
        else:
            if not isinstance(replace, (list, tuple)) or len(replace) != len(paths):
                n = len(replace) if isinstance(replace, (list, tuple)) else "a non-sequence"
                raise ValueError(
                    f"tree_at: `where` selected {len(paths)} nodes, so `replace` must be a "
                    f"sequence of {len(paths)} values; got {n}."
                )
            replacements = list(replace)
    else:
        raise ValueError(
            f"tree_at: `where` returned {_describe(selected)}, which is not a node of the "
            "tree. `where` must select existing nodes with attribute and item access "
            "(m.layers[0].weight), not compute new values (m.weight.T, m.weight + 1)."
        )
    if len(set(paths)) != len(paths):
        raise ValueError("tree_at: `where` selected the same node more than once.")
    targets = dict(zip(paths, range(len(paths)), strict=True))

    def rebuild(x: Any, path: tuple[int, ...]) -> Any:
        k = targets.get(path)
        if k is not None:
            return replace_fn(x) if replacements is None else replacements[k]
        if not any(t[: len(path)] == path for t in targets):
            return x
        kids, treedef = _split(x)  # type: ignore[misc]  # a prefix of a target is a node
        return treedef.unflatten([rebuild(c, (*path, i)) for i, c in enumerate(kids)])

    return rebuild(pytree, ())


def _is_traced(*xs: Any) -> bool:
    return any(isinstance(x, Tracer) for x in xs)


def tree_equal(*pytrees: Any, typematch: bool = False, rtol: float = 0.0, atol: float = 0.0) -> Any:
    """True if all the pytrees have the same structure and equal leaves.

    Arrays are equal when they have the same shape and dtype and equal values (within
    ``rtol``/``atol`` if given); other leaves are compared with ``==``.

    Args:
        *pytrees: Two or more pytrees (one is trivially equal to itself).
        typematch: Also require leaves at the same position to have the same type.
        rtol: Relative tolerance for array values.
        atol: Absolute tolerance for array values.

    Returns:
        A Python bool; inside a transformation, where array values are not known, a
        boolean array.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_pytree as nnp
        >>> nnp.tree_equal([1, dnp.ones(2)], [1, dnp.ones(2)])
        True
        >>> nnp.tree_equal([1, dnp.ones(2)], [1, dnp.zeros(2)])
        False
        >>> nnp.tree_equal(1, 1.0), nnp.tree_equal(1, 1.0, typematch=True)
        (True, False)
    """
    if not pytrees:
        return True
    first_leaves, first_def = tree.flatten(pytrees[0])
    traced: list[Any] = []
    for other in pytrees[1:]:
        leaves, treedef = tree.flatten(other)
        if treedef != first_def:
            return False
        for a, b in zip(first_leaves, leaves, strict=True):
            if typematch and type(a) is not type(b):
                return False
            a_arr, b_arr = is_array(a), is_array(b)
            if a_arr != b_arr:
                return False
            if a_arr:
                if tuple(a.shape) != tuple(b.shape) or np.dtype(a.dtype) != np.dtype(b.dtype):
                    return False
                if _is_traced(a, b):
                    if rtol == 0 and atol == 0:
                        traced.append(dnp.all(a == b))
                    else:
                        traced.append(dnp.all(dnp.abs(a - b) <= atol + rtol * dnp.abs(b)))
                    continue
                a_np, b_np = np.asarray(a), np.asarray(b)
                if rtol == 0 and atol == 0:
                    same = np.array_equal(a_np, b_np)
                else:
                    same = np.allclose(a_np, b_np, rtol=rtol, atol=atol)
                if not same:
                    return False
            elif a is not b:
                try:
                    same = a == b
                    same = bool(same)
                except Exception:
                    return False
                if not same:
                    return False
    if not traced:
        return True
    result = traced[0]
    for t in traced[1:]:
        result = dnp.logical_and(result, t)
    return result


def apply_updates(model: Any, updates: Any) -> Any:
    """Adds ``updates`` to ``model`` leaf by leaf; ``None`` updates leave the leaf as it is.

    Updates from ``derivax.optim`` applied to the gradients of `filter_grad` have
    ``None`` wherever the model has a non-array leaf (an activation function, a size), so
    the model's structure is kept.

    Args:
        model: The pytree to update.
        updates: A pytree with the structure of ``model`` where ``None`` may stand for
            any subtree.

    Returns:
        The updated pytree.

    Raises:
        ValueError: If the structures do not match.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_pytree as nnp
        >>> nnp.apply_updates([dnp.ones(2), "relu"], [dnp.ones(2), None])
        [Array([2., 2.], dtype=float32), 'relu']
    """

    def add(update: Any, leaf: Any) -> Any:
        return leaf if update is None else leaf + update

    try:
        return tree.map(add, updates, model, is_leaf=lambda x: x is None)
    except tree.TreeStructureError as e:
        raise ValueError(
            "apply_updates: `updates` must have the structure of `model`, with None where a "
            f"leaf is not updated (what filter_grad gives for non-array leaves):\n{e}"
        ) from None
