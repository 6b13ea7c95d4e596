"""Flattening, unflattening, and `PyTreeDef`, the structure of a tree.

A treedef is built from plain tuples so that hashing and comparing it run in C: an
internal node is ``(nodetype, aux_data, children)`` and a leaf is the `LEAF` sentinel.
``flatten`` + hash + ``==`` + ``unflatten`` is on the path of every jitted call, so the
common containers (dict, list, tuple, None) are handled inline, and key paths are only
computed by the ``*_with_path`` functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ._mismatch import LEAF, TreeStructureError, difference_lines, same_aux
from ._registry import (
    NoneType,
    _call_flatten,
    _registry,
    _sorted_keys,
    leaf_types,
    node_repr,
    one_level,
    rebuild,
)

__all__ = ["PyTreeDef"]

_NONE_NODE = (NoneType, None, ())


def flatten_fast(x: Any, leaves: list) -> Any:
    """Appends the leaves of ``x`` to ``leaves`` and returns its treedef node.

    Children whose type is a known leaf type are appended inline, without a recursive call:
    most children of a parameter dict are arrays.
    """
    t = type(x)
    if t is dict:
        try:
            keys = sorted(x)
        except TypeError:
            _sorted_keys(x)  # raises an error that names the key types
            raise
        kids = []
        for k in keys:
            c = x[k]
            if type(c) in leaf_types:
                leaves.append(c)
                kids.append(LEAF)
            else:
                kids.append(flatten_fast(c, leaves))
        return (dict, tuple(keys), tuple(kids))
    if t is list or t is tuple:
        kids = []
        for c in x:
            if type(c) in leaf_types:
                leaves.append(c)
                kids.append(LEAF)
            else:
                kids.append(flatten_fast(c, leaves))
        return (t, None, tuple(kids))
    if x is None:
        return _NONE_NODE
    if t in leaf_types:
        leaves.append(x)
        return LEAF
    h = _registry.get(t)
    if h is None:
        if issubclass(t, tuple) and hasattr(t, "_fields"):  # namedtuple
            return (t, None, tuple([flatten_fast(c, leaves) for c in x]))
        if len(leaf_types) > 4096:
            leaf_types.clear()
        leaf_types.add(t)
        leaves.append(x)
        return LEAF
    children, aux = _call_flatten(h, x)
    return (t, aux, tuple([flatten_fast(c, leaves) for c in children]))


def flatten_pred(x: Any, leaves: list, is_leaf: Callable[[Any], bool]) -> Any:
    """`flatten_fast` with an ``is_leaf`` predicate, checked at every subtree."""
    if is_leaf(x):
        leaves.append(x)
        return LEAF
    level = one_level(x)
    if level is None:
        leaves.append(x)
        return LEAF
    t, aux, children = level
    return (t, aux, tuple([flatten_pred(c, leaves, is_leaf) for c in children]))


def _unflatten(node: Any, it: Any) -> Any:
    """Builds the tree of an internal ``node``, taking its leaves from the iterator ``it``."""
    t, aux, children = node
    vals = []
    for c in children:
        vals.append(next(it) if c is LEAF else _unflatten(c, it))
    if t is dict:
        # Not strict=True: lengths match by construction, and strict costs ~0.5 us a call.
        return dict(zip(aux, vals))
    if t is list:
        return vals
    if t is tuple:
        return tuple(vals)
    if t is NoneType:
        return None
    return rebuild(t, aux, tuple(vals))


def unflatten_iter(node: Any, it: Any) -> Any:
    """Builds the tree of ``node`` (leaf or not) from the leaves yielded by ``it``."""
    return next(it) if node is LEAF else _unflatten(node, it)


_MAX_BUILDER_DEPTH = 40
_MAX_BUILDER_LEAVES = 4096


def _compile_builder(node: Any) -> Callable[[Any], Any] | None:
    """Generates ``build(leaves) -> tree`` as one Python expression for ``node``.

    A treedef that is unflattened again and again (a jitted function's output structure)
    gets this builder: evaluating one literal expression is several times faster than
    walking the node tuples. Returns None for trees too deep or large for the compiler.
    """
    consts: dict[str, Any] = {"_rebuild": rebuild}
    count = 0

    def const(value: Any) -> str:
        if type(value) in (str, int):
            return repr(value)
        name = f"_c{len(consts)}"
        consts[name] = value
        return name

    def expr(n: Any, depth: int) -> str:
        nonlocal count
        if depth > _MAX_BUILDER_DEPTH:
            raise RecursionError
        if n is LEAF:
            count += 1
            return f"L[{count - 1}]"
        t, aux, children = n
        parts = [expr(c, depth + 1) for c in children]
        if t is dict:
            items = ", ".join(f"{const(k)}: {p}" for k, p in zip(aux, parts, strict=True))
            return "{" + items + "}"
        if t is list:
            return "[" + ", ".join(parts) + "]"
        if t is tuple:
            return "(" + "".join(p + ", " for p in parts) + ")"
        if t is NoneType:
            return "None"
        return f"_rebuild({const(t)}, {const(aux)}, ({''.join(p + ', ' for p in parts)}))"

    try:
        body = expr(node, 0)
    except RecursionError:
        return None
    if count > _MAX_BUILDER_LEAVES:
        return None
    namespace = dict(consts)
    exec(
        compile(f"def build(L):\n    return {body}\n", "<derivax.tree unflatten>", "exec"),
        namespace,
    )
    return namespace["build"]


def _up_to(node: Any, x: Any, out: list) -> bool:
    """Appends the subtrees of ``x`` at the leaves of ``node``; False on a mismatch."""
    if node is LEAF:
        out.append(x)
        return True
    t, aux, children = node
    if type(x) is not t:
        return False
    if t is dict:
        if len(x) != len(aux):
            return False
        for k, c in zip(aux, children):
            if k not in x or not _up_to(c, x[k], out):
                return False
        return True
    if t is list or t is tuple:
        if len(x) != len(children):
            return False
        for c, v in zip(children, x):
            if not _up_to(c, v, out):
                return False
        return True
    if t is NoneType:
        return True
    h = _registry.get(t)
    if h is None:  # namedtuple: same type implies same length
        children2 = tuple(x)
    else:
        children2, aux2 = _call_flatten(h, x)
        children2 = tuple(children2)
        if len(children2) != len(children) or not same_aux(aux, aux2):
            return False
    for c, v in zip(children, children2):
        if not _up_to(c, v, out):
            return False
    return True


def _count(node: Any) -> tuple[int, int]:
    """(number of leaves, number of nodes) under ``node``."""
    if node is LEAF:
        return 1, 1
    leaves, nodes = 0, 1
    for c in node[2]:
        nl, nn = _count(c)
        leaves += nl
        nodes += nn
    return leaves, nodes


def _repr(node: Any) -> str:
    if node is LEAF:
        return "*"
    t, aux, children = node
    return node_repr(t, aux, [_repr(c) for c in children])


def _find_unhashable(node: Any) -> str | None:
    if node is LEAF:
        return None
    t, aux, children = node
    try:
        hash(aux)
    except TypeError:
        return f"{t.__name__} (aux data {aux!r})"
    for c in children:
        found = _find_unhashable(c)
        if found is not None:
            return found
    return None


class PyTreeDef:
    """The structure of a pytree: its node types, their aux data, and where the leaves go.

    Obtained from `flatten` or `structure`, never built directly. Treedefs are immutable,
    hashable and comparable (equal structures compare equal and hash alike), so they can be
    used as cache keys; the hash is computed once and cached.

    Example:
        >>> from derivax import tree
        >>> td = tree.structure({"a": 1, "b": [2, 3]})
        >>> td
        PyTreeDef({'a': *, 'b': [*, *]})
        >>> td.num_leaves, td.num_nodes
        (3, 5)
        >>> td == tree.structure({"b": [0, 0], "a": 0})
        True
    """

    __slots__ = ("_builder", "_hash", "_node", "_num_leaves", "_num_nodes", "_uses")

    def __init__(self, node: Any, num_leaves: int | None = None):
        self._node = node
        self._num_leaves = num_leaves
        self._num_nodes = None
        self._hash = None
        # A treedef unflattened twice is likely to be unflattened many times (a jitted
        # function's outputs): the second call compiles a builder (see _compile_builder).
        self._uses = 0
        self._builder: Callable[[Any], Any] | None = None

    @property
    def num_leaves(self) -> int:
        """The number of leaves in the structure.

        Example:
            >>> from derivax import tree
            >>> tree.structure([1, None, (2, 3)]).num_leaves
            3
        """
        if self._num_leaves is None:
            self._num_leaves, self._num_nodes = _count(self._node)
        return self._num_leaves

    @property
    def num_nodes(self) -> int:
        """The number of nodes in the structure, counting leaves and ``None`` as nodes.

        Example:
            >>> from derivax import tree
            >>> tree.structure([1, None]).num_nodes
            3
        """
        if self._num_nodes is None:
            self._num_leaves, self._num_nodes = _count(self._node)
        return self._num_nodes

    def unflatten(self, leaves: Iterable[Any]) -> Any:
        """Builds a tree of this structure with ``leaves`` in flattening order.

        Args:
            leaves: Exactly ``num_leaves`` values.

        Returns:
            The tree.

        Raises:
            TreeStructureError: If the number of leaves is not ``num_leaves``.

        Example:
            >>> from derivax import tree
            >>> tree.structure({"a": 0, "b": (0, 0)}).unflatten([1, 2, 3])
            {'a': 1, 'b': (2, 3)}
        """
        if type(leaves) is not list and type(leaves) is not tuple:
            leaves = list(leaves)
        if len(leaves) != self.num_leaves:
            raise TreeStructureError(
                f"unflatten: expected {self.num_leaves} leaves for the treedef {self!r}, got "
                f"{len(leaves)}. Pass exactly treedef.num_leaves leaves, in the order that "
                f"flatten returned them."
            )
        if self._builder is not None:
            return self._builder(leaves)
        self._uses += 1
        if self._uses == 2:
            self._builder = _compile_builder(self._node)
            if self._builder is not None:
                return self._builder(leaves)
        return unflatten_iter(self._node, iter(leaves))

    def flatten_up_to(self, tree: Any) -> list[Any]:
        """Flattens ``tree`` down to this structure's leaves.

        ``tree`` must have this structure, except that where this structure has a leaf,
        ``tree`` may have any subtree; that subtree is returned whole.

        Args:
            tree: A tree whose structure has this one as a prefix.

        Returns:
            One subtree of ``tree`` per leaf of this structure, in order.

        Raises:
            TreeStructureError: If ``tree`` does not match; the message lists every key path
                where it differs.

        Example:
            >>> from derivax import tree
            >>> tree.structure([0, 0]).flatten_up_to([1, {"x": 2}])
            [1, {'x': 2}]
        """
        out: list = []
        if _up_to(self._node, tree, out):
            return out
        lines = difference_lines(self._node, tree, ("treedef", "tree"), up_to=True)
        raise TreeStructureError(
            f"flatten_up_to: `tree` does not have the structure {self!r}:\n  "
            + "\n  ".join(lines)
            + "\nFix: make `tree` match the treedef; where the treedef has a leaf, any "
            "subtree is accepted.",
            lines,
        )

    def children(self) -> list[PyTreeDef]:
        """The treedefs of the root's children (empty for a leaf or ``None``).

        Example:
            >>> from derivax import tree
            >>> tree.structure({"a": 1, "b": [2, 3]}).children()
            [PyTreeDef(*), PyTreeDef([*, *])]
        """
        if self._node is LEAF:
            return []
        return [PyTreeDef(c) for c in self._node[2]]

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, PyTreeDef):
            return NotImplemented
        if self._hash is not None and other._hash is not None and self._hash != other._hash:
            return False
        try:
            return self._node == other._node
        except (TypeError, ValueError) as e:  # e.g. numpy arrays in aux data
            raise TypeError(
                f"cannot compare the treedefs {self!r} and {other!r}: comparing their aux data "
                f"failed ({e}). Aux data (and register_dataclass meta fields) must be "
                f"hashable values with a plain ==, such as tuples, strings and numbers."
            ) from e

    def __hash__(self) -> int:
        h = self._hash
        if h is None:
            try:
                h = self._hash = hash(self._node)
            except TypeError:
                where = _find_unhashable(self._node)
                raise TypeError(
                    f"PyTreeDef {self!r} is not hashable: the node {where} has unhashable "
                    f"aux data. Aux data (and register_dataclass meta fields) must be "
                    f"hashable; make it a tuple/frozen value, or move it into the children."
                ) from None
        return h

    def __repr__(self) -> str:
        return f"PyTreeDef({_repr(self._node)})"

    def __copy__(self) -> PyTreeDef:
        return self  # immutable

    def __deepcopy__(self, memo: dict) -> PyTreeDef:
        return self
