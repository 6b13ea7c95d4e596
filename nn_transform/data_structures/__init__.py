"""``nn_transform.data_structures``: counting, sizing, splitting and merging the two-level
parameter dicts."""

from .._data_structures import merge as merge
from .._data_structures import partition as partition
from .._data_structures import tree_bytes as tree_bytes
from .._data_structures import tree_size as tree_size

__all__ = ["merge", "partition", "tree_bytes", "tree_size"]
