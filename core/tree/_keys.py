"""Key entries that name one step from a pytree node to a child, and `keystr`.

A *key path* is a tuple of key entries, from the root of a tree down to one of its leaves.
Its string form is Python indexing syntax: ``['params'][0].weight``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Iterable
from typing import Any

__all__ = ["DictKey", "FlattenedIndexKey", "GetAttrKey", "SequenceKey", "keystr"]


@dataclasses.dataclass(frozen=True, slots=True)
class DictKey:
    """The key of a child of a mapping node (dict, OrderedDict, defaultdict).

    Example:
        >>> str(DictKey("w")), str(DictKey(3))
        ("['w']", '[3]')
    """

    key: Hashable

    def __str__(self) -> str:
        return f"[{self.key!r}]"


@dataclasses.dataclass(frozen=True, slots=True)
class SequenceKey:
    """The position of a child of a sequence node (list, tuple).

    Example:
        >>> str(SequenceKey(0))
        '[0]'
    """

    idx: int

    def __str__(self) -> str:
        return f"[{self.idx!r}]"


@dataclasses.dataclass(frozen=True, slots=True)
class GetAttrKey:
    """The attribute name of a child of a namedtuple or dataclass node.

    Example:
        >>> str(GetAttrKey("weight"))
        '.weight'
    """

    name: str

    def __str__(self) -> str:
        return f".{self.name}"


@dataclasses.dataclass(frozen=True, slots=True)
class FlattenedIndexKey:
    """The position of a child among the children of a custom node.

    Used for nodes registered without a ``flatten_with_keys_fn``: the index is the
    child's position in what the node's ``flatten_fn`` returned.

    Example:
        >>> str(FlattenedIndexKey(1))
        '[<flat index 1>]'
    """

    key: int

    def __str__(self) -> str:
        return f"[<flat index {self.key}>]"


def _simple(entry: Any) -> str:
    if isinstance(entry, DictKey):
        return str(entry.key)
    if isinstance(entry, SequenceKey):
        return str(entry.idx)
    if isinstance(entry, GetAttrKey):
        return entry.name
    if isinstance(entry, FlattenedIndexKey):
        return str(entry.key)
    return str(entry)


def keystr(keys: Iterable[Any], *, simple: bool = False, separator: str = "") -> str:
    """Formats a key path as a string.

    Args:
        keys: A key path, as produced by `flatten_with_path`: a tuple of `DictKey`,
            `SequenceKey`, `GetAttrKey`, `FlattenedIndexKey`, or any object with a ``str``.
        simple: If True, write each key bare (``params``, ``0``, ``weight``) instead of in
            indexing syntax (``['params']``, ``[0]``, ``.weight``). Shorter, but ambiguous:
            ``0`` can be a list position or a dict key.
        separator: The string placed between keys.

    Returns:
        The keys joined into one string; ``''`` for the empty path (the root).

    Raises:
        TypeError: If ``keys`` is a string rather than a sequence of key entries.

    Example:
        >>> path = (DictKey("params"), SequenceKey(0), GetAttrKey("weight"))
        >>> keystr(path)
        "['params'][0].weight"
        >>> keystr(path, simple=True, separator="/")
        'params/0/weight'
    """
    if isinstance(keys, str):
        raise TypeError(
            f"keystr: `keys` must be a key path (a tuple of key entries such as DictKey('a')), "
            f"got the string {keys!r}. Pass the path returned by flatten_with_path."
        )
    if simple:
        return separator.join(_simple(k) for k in keys)
    return separator.join(str(k) for k in keys)
