"""Pytree utilities: flatten nested containers into leaves and rebuild them.

A pytree is a nested structure of containers (tuple, list, dict, OrderedDict, defaultdict,
namedtuple, None, and registered classes) whose non-container parts are leaves (arrays,
scalars, strings, functions, ...). ``jit``, ``grad`` and ``vmap`` and the neural-network
libraries do all their tree work through this module.
"""

from ._api import all as all
from ._api import diff as diff
from ._api import flatten as flatten
from ._api import flatten_with_path as flatten_with_path
from ._api import leaves as leaves
from ._api import leaves_with_path as leaves_with_path
from ._api import map as map
from ._api import map_with_path as map_with_path
from ._api import reduce as reduce
from ._api import structure as structure
from ._api import transpose as transpose
from ._api import unflatten as unflatten
from ._keys import DictKey as DictKey
from ._keys import FlattenedIndexKey as FlattenedIndexKey
from ._keys import GetAttrKey as GetAttrKey
from ._keys import SequenceKey as SequenceKey
from ._keys import keystr as keystr
from ._mismatch import TreeStructureError as TreeStructureError
from ._partial import Partial as Partial
from ._registry import register_dataclass as register_dataclass
from ._registry import register_pytree_node as register_pytree_node
from ._registry import register_pytree_node_class as register_pytree_node_class
from ._registry import register_static as register_static
from ._treedef import PyTreeDef as PyTreeDef

__all__ = [
    "DictKey",
    "FlattenedIndexKey",
    "GetAttrKey",
    "Partial",
    "PyTreeDef",
    "SequenceKey",
    "TreeStructureError",
    "all",
    "diff",
    "flatten",
    "flatten_with_path",
    "keystr",
    "leaves",
    "leaves_with_path",
    "map",
    "map_with_path",
    "reduce",
    "register_dataclass",
    "register_pytree_node",
    "register_pytree_node_class",
    "register_static",
    "structure",
    "transpose",
    "unflatten",
]
