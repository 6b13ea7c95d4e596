"""Finding and describing every place where two tree structures differ.

Used for the error messages of `map`, `PyTreeDef.flatten_up_to` and `transpose`, and by
`diff`. This is the slow path: it runs only after the fast structure check has failed (or
when the user asks for a diff), so it favors clear messages over speed.
"""

from __future__ import annotations

import collections
from typing import Any

from ._keys import DictKey, keystr
from ._registry import (
    DICT_TYPES,
    NoneType,
    _registry,
    dict_keys_of,
    is_namedtuple,
    one_level_with_keys,
)

__all__ = ["TreeStructureError"]


class _Leaf:
    """The type of `LEAF`; a singleton, also under copy and pickle (nodes are compared by
    identity)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "*"

    def __reduce__(self) -> str:
        return "LEAF"


LEAF = _Leaf()
"""The treedef node of a leaf (printed as ``*``)."""


class TreeStructureError(ValueError):
    """Two pytrees that must have the same structure do not.

    Raised by `map`, `map_with_path`, `transpose`, `PyTreeDef.flatten_up_to` and
    `PyTreeDef.unflatten`. The message lists every key path where the structures differ
    and what each side has there; the same lines are in the ``differences`` attribute.
    To fix it, make the trees match (``derivax.tree.diff(a, b)`` describes how two trees
    differ), or pass the mismatching part as a single leaf.

    Example:
        >>> from derivax import tree
        >>> try:
        ...     tree.map(lambda a, b: a + b, [1, 2], [1, 2, 3])
        ... except tree.TreeStructureError as e:
        ...     print(e.differences)
        ['at the root: tree 0 is a list of length 2, tree 1 is a list of length 3']
    """

    def __init__(self, message: str, differences: list[str] | None = None):
        super().__init__(message)
        self.differences = list(differences or ())


def _level(x: Any, is_leaf: Any) -> tuple | None:
    if is_leaf is not None and is_leaf(x):
        return None
    return one_level_with_keys(x)


def _keys_text(keys: tuple) -> str:
    shown = ", ".join(repr(k) for k in keys[:12])
    return f"[{shown}, ... ({len(keys)} keys)]" if len(keys) > 12 else f"[{shown}]"


def _type_label(t: type, other: type | None) -> str:
    if other is not None and other is not t and other.__name__ == t.__name__:
        return f"{t.__module__}.{t.__qualname__}"
    return t.__name__


def describe(t: type | None, aux: Any, n: int, other: type | None = None) -> str:
    """What a tree has at one place: ``'has a leaf'``, ``'is a list of length 2'``..."""
    if t is None:
        return "has a leaf"
    if t is NoneType:
        return "has None"
    if t is list or t is tuple:
        return f"is a {t.__name__} of length {n}"
    if t in DICT_TYPES:
        article = "an" if t.__name__[0] in "AEIOUaeiou" else "a"
        text = f"is {article} {t.__name__} with keys {_keys_text(dict_keys_of(t, aux))}"
        if t is collections.defaultdict and other is t:
            text += f" and default_factory {aux[0]!r}"
        return text
    label = _type_label(t, other)
    if is_namedtuple(t) and t not in _registry:
        return f"is a {label} (namedtuple)"
    text = f"is a {label}"
    if other is t:  # same custom type: the difference is in the aux data or child count
        text += f" with {n} {'child' if n == 1 else 'children'} and aux data {aux!r}"
    return text


def _where(path: tuple) -> str:
    return f"at {keystr(path)}" if path else "at the root"


def walk(node: Any, x: Any, path: tuple, up_to: bool, is_leaf: Any, out: list) -> None:
    """Appends ``(path, reference description, other description, note)`` per difference.

    Args:
        node: A treedef node (the reference structure).
        x: The other tree, an actual Python object.
        path: Key path of ``node``/``x`` from the root.
        up_to: If True, a leaf of ``node`` matches any subtree of ``x`` (map semantics).
        is_leaf: Predicate that marks subtrees of ``x`` as leaves, or None.
        out: Receives the differences.
    """
    other = _level(x, is_leaf)
    if node is LEAF:
        if not up_to and other is not None:
            t2, aux2, ch2, _ = other
            out.append((path, "has a leaf", describe(t2, aux2, len(ch2)), None))
        return
    t, aux, children = node
    if other is None:
        out.append((path, describe(t, aux, len(children)), "has a leaf", None))
        return
    t2, aux2, ch2, keys2 = other
    if t2 is not t:
        d1, d2 = describe(t, aux, len(children), t2), describe(t2, aux2, len(ch2), t)
        out.append((path, d1, d2, None))
        return
    if t in DICT_TYPES:
        k1, k2 = dict_keys_of(t, aux), dict_keys_of(t2, aux2)
        if not same_aux(aux, aux2):
            d1, d2 = describe(t, aux, len(children), t), describe(t2, aux2, len(ch2), t)
            only1 = [k for k in k1 if k not in k2]
            only2 = [k for k in k2 if k not in k1]
            note = (only1, only2) if only1 or only2 else None
            if note is None and k1 != k2:
                d2 += " (the same keys in a different order)"
            out.append((path, d1, d2, note))
        index2 = {k: i for i, k in enumerate(k2)}
        for k, c in zip(k1, children, strict=True):
            if k in index2:
                walk(c, ch2[index2[k]], (*path, DictKey(k)), up_to, is_leaf, out)
        return
    if len(children) != len(ch2) or not same_aux(aux, aux2):
        d1, d2 = describe(t, aux, len(children), t), describe(t2, aux2, len(ch2), t)
        out.append((path, d1, d2, None))
        return
    for c, k, v in zip(children, keys2, ch2, strict=True):
        walk(c, v, (*path, k), up_to, is_leaf, out)


def same_aux(a: Any, b: Any) -> bool:
    """Aux-data equality that never raises (arrays in aux data compare by identity)."""
    if a is b:
        return True
    try:
        return bool(a == b)
    except Exception:  # e.g. numpy arrays: the truth value of == is ambiguous
        return False


def difference_lines(
    node: Any,
    x: Any,
    names: tuple[str, str],
    up_to: bool,
    is_leaf: Any = None,
    path: tuple = (),
) -> list[str]:
    """Human-readable lines, one per difference, naming the two sides ``names``.

    ``path`` is the key path of ``node``/``x`` inside a larger tree, prefixed to every line.
    """
    found: list = []
    walk(node, x, path, up_to, is_leaf, found)
    n0, n1 = names
    lines = []
    for path, d0, d1, note in found:
        line = f"{_where(path)}: {n0} {d0}, {n1} {d1}"
        if note is not None:
            line += f" (only in {n0}: {_keys_text(tuple(note[0]))}; "
            line += f"only in {n1}: {_keys_text(tuple(note[1]))})"
        lines.append(line)
    return lines


def leaf_paths(node: Any, x: Any, path: tuple = ()) -> list[tuple]:
    """The key paths of the leaves of ``node`` in ``x``, a tree that matches it up to them."""
    if node is LEAF:
        return [path]
    _, _, children, keys = one_level_with_keys(x)
    out: list = []
    for c, k, v in zip(node[2], keys, children, strict=True):
        out += leaf_paths(c, v, (*path, k))
    return out
