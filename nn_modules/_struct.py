"""Frozen dataclasses that are pytrees: the base of `TrainState`.

Fields are pytree children (traced by ``jit``, differentiated by ``grad``) unless
declared with ``field(pytree_node=False)``, which makes them static (part of the tree
structure, e.g. functions such as ``apply_fn`` and the optimizer).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import derivax.tree

__all__ = ["PyTreeNode", "dataclass", "field"]


def field(pytree_node: bool = True, **kwargs: Any) -> Any:
    """A dataclass field that is a pytree child (default) or static data.

    Args:
        pytree_node: False for static data (functions, settings); it must be hashable.
        **kwargs: passed to ``dataclasses.field`` (``default``, ``default_factory``, ...).

    Returns:
        The field specification.

    Example:
        >>> import derivax
        >>> from nn_modules import struct
        >>> @struct.dataclass
        ... class Pair:
        ...     value: float
        ...     label: str = struct.field(pytree_node=False, default="a")
        >>> derivax.tree.leaves(Pair(1.0))
        [1.0]
    """
    metadata = dict(kwargs.pop("metadata", None) or {})
    metadata["pytree_node"] = pytree_node
    return dataclasses.field(metadata=metadata, **kwargs)


def _replace(self, **updates: Any) -> Any:
    """A copy with some fields changed."""
    return dataclasses.replace(self, **updates)


def dataclass(cls: type) -> type:
    """Make ``cls`` a frozen dataclass registered as a pytree (with a ``replace`` method).

    Args:
        cls: the class.

    Returns:
        The same class, now a frozen dataclass and a pytree node.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> from nn_modules import struct
        >>> @struct.dataclass
        ... class Point:
        ...     x: object
        ...     y: object
        >>> derivax.tree.map(lambda a: a * 2, Point(1.0, dnp.ones(2))).replace(x=0.0)
        Point(x=0.0, y=Array([2., 2.], dtype=float32))
    """
    if "__dataclass_fields__" in cls.__dict__ and getattr(cls, "__nn_struct__", None) is cls:
        return cls
    data_cls = dataclasses.dataclass(frozen=True)(cls)
    meta, data = [], []
    for f in dataclasses.fields(data_cls):
        (data if f.metadata.get("pytree_node", True) else meta).append(f.name)
    derivax.tree.register_dataclass(data_cls, data_fields=data, meta_fields=meta)
    if "replace" not in data_cls.__dict__:
        data_cls.replace = _replace
    data_cls.__nn_struct__ = data_cls
    return data_cls


class PyTreeNode:
    """Base class: subclasses are frozen dataclasses registered as pytrees.

    Example:
        >>> import derivax
        >>> from nn_modules import struct
        >>> class Counter(struct.PyTreeNode):
        ...     count: int
        ...     name: str = struct.field(pytree_node=False, default="steps")
        >>> c = derivax.tree.map(lambda n: n + 1, Counter(1))
        >>> c, c.replace(count=5).count
        (Counter(count=2, name='steps'), 5)
    """

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        dataclass(cls)

    def replace(self, **updates: Any) -> Any:
        """A copy with some fields changed.

        Example:
            >>> from nn_modules import struct
            >>> class P(struct.PyTreeNode):
            ...     a: int
            >>> P(1).replace(a=2)
            P(a=2)
        """
        return dataclasses.replace(self, **updates)
