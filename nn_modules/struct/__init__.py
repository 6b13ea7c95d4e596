"""Frozen dataclasses that are pytrees (the base of `nn_modules.TrainState`).

Example:
    >>> import derivax
    >>> from nn_modules import struct
    >>> class Stats(struct.PyTreeNode):
    ...     total: float
    ...     unit: str = struct.field(pytree_node=False, default="s")
    >>> derivax.tree.leaves(Stats(2.0))
    [2.0]
"""

from .._struct import PyTreeNode as PyTreeNode
from .._struct import dataclass as dataclass
from .._struct import field as field

__all__ = ["PyTreeNode", "dataclass", "field"]
