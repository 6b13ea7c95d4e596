"""nn_modules: neural networks as modules with explicit state (Flax linen's idiom).

A `Module` is a dataclass of hyperparameters; its variables live outside it, in a dict
of *collections* (``'params'``, ``'batch_stats'``, ...) created by ``init`` and passed to
``apply``. Randomness comes from named RNG streams (``rngs={'dropout': key}``), and only
the collections listed in ``mutable=`` may change during ``apply``. The layer math is
``derivax.nn``'s; the state and RNG plumbing is a small functional core
(`nn_modules.core`) with the module syntax as sugar on top.

Example:
    >>> import derivax, derivax.numpy as dnp
    >>> import nn_modules as nn
    >>> class MLP(nn.Module):
    ...     hidden: int = 16
    ...     @nn.compact
    ...     def __call__(self, x, train: bool = False):
    ...         x = nn.relu(nn.Dense(self.hidden)(x))
    ...         x = nn.BatchNorm(use_running_average=not train)(x)
    ...         return nn.Dense(2)(x)
    >>> model = MLP()
    >>> variables = model.init(derivax.random.key(0), dnp.ones((4, 3)))
    >>> sorted(variables), sorted(variables["params"])
    (['batch_stats', 'params'], ['BatchNorm_0', 'Dense_0', 'Dense_1'])
    >>> y, updates = model.apply(variables, dnp.ones((4, 3)), train=True, mutable=["batch_stats"])
    >>> y.shape
    (4, 2)
"""

from derivax.nn import avg_pool as avg_pool
from derivax.nn import celu as celu
from derivax.nn import elu as elu
from derivax.nn import gelu as gelu
from derivax.nn import glu as glu
from derivax.nn import hard_sigmoid as hard_sigmoid
from derivax.nn import hard_silu as hard_silu
from derivax.nn import hard_swish as hard_swish
from derivax.nn import hard_tanh as hard_tanh
from derivax.nn import initializers as initializers
from derivax.nn import leaky_relu as leaky_relu
from derivax.nn import log_sigmoid as log_sigmoid
from derivax.nn import log_softmax as log_softmax
from derivax.nn import logsumexp as logsumexp
from derivax.nn import max_pool as max_pool
from derivax.nn import min_pool as min_pool
from derivax.nn import mish as mish
from derivax.nn import one_hot as one_hot
from derivax.nn import relu as relu
from derivax.nn import relu6 as relu6
from derivax.nn import selu as selu
from derivax.nn import sigmoid as sigmoid
from derivax.nn import silu as silu
from derivax.nn import soft_sign as soft_sign
from derivax.nn import softmax as softmax
from derivax.nn import softplus as softplus
from derivax.nn import standardize as standardize
from derivax.nn import swish as swish
from derivax.nn import tanh as tanh

from . import core as core
from . import struct as struct
from ._attention import MultiHeadDotProductAttention as MultiHeadDotProductAttention
from ._attention import SelfAttention as SelfAttention
from ._attention import make_attention_mask as make_attention_mask
from ._attention import make_causal_mask as make_causal_mask
from ._errors import AssignSubModuleError as AssignSubModuleError
from ._errors import CollectionNotFoundError as CollectionNotFoundError
from ._errors import FrozenModuleError as FrozenModuleError
from ._errors import ImmutableCollectionError as ImmutableCollectionError
from ._errors import InvalidRngError as InvalidRngError
from ._errors import InvalidVariablesError as InvalidVariablesError
from ._errors import LiftError as LiftError
from ._errors import MissingRngError as MissingRngError
from ._errors import ModuleError as ModuleError
from ._errors import MultipleCompactMethodsError as MultipleCompactMethodsError
from ._errors import NameInUseError as NameInUseError
from ._errors import ParamNotFoundError as ParamNotFoundError
from ._errors import ParamShapeError as ParamShapeError
from ._errors import UnboundModuleError as UnboundModuleError
from ._errors import VariableNotFoundError as VariableNotFoundError
from ._lift import broadcast as broadcast
from ._linear import Conv as Conv
from ._linear import ConvTranspose as ConvTranspose
from ._linear import Dense as Dense
from ._linear import DenseGeneral as DenseGeneral
from ._linear import Embed as Embed
from ._misc import Dropout as Dropout
from ._misc import Sequential as Sequential
from ._module import Module as Module
from ._module import compact as compact
from ._module import nowrap as nowrap
from ._normalization import BatchNorm as BatchNorm
from ._normalization import GroupNorm as GroupNorm
from ._normalization import LayerNorm as LayerNorm
from ._normalization import RMSNorm as RMSNorm
from ._normalization import merge_param as merge_param
from ._recurrent import RNN as RNN
from ._recurrent import Bidirectional as Bidirectional
from ._recurrent import GRUCell as GRUCell
from ._recurrent import LSTMCell as LSTMCell
from ._recurrent import flip_sequences as flip_sequences
from ._scope import DenyList as DenyList
from ._scope import Variable as Variable
from ._serialization import StateDictError as StateDictError
from ._serialization import from_bytes as from_bytes
from ._serialization import from_state_dict as from_state_dict
from ._serialization import register_serialization_state as register_serialization_state
from ._serialization import to_bytes as to_bytes
from ._serialization import to_state_dict as to_state_dict
from ._summary import tabulate as tabulate
from ._train_state import TrainState as TrainState
from ._transforms import jit as jit
from ._transforms import remat as remat
from ._transforms import scan as scan
from ._transforms import vmap as vmap

__all__ = [
    # modules and their machinery
    "DenyList",
    "Module",
    "Variable",
    "compact",
    "merge_param",
    "nowrap",
    # layers
    "BatchNorm",
    "Bidirectional",
    "Conv",
    "ConvTranspose",
    "Dense",
    "DenseGeneral",
    "Dropout",
    "Embed",
    "GRUCell",
    "GroupNorm",
    "LSTMCell",
    "LayerNorm",
    "MultiHeadDotProductAttention",
    "RMSNorm",
    "RNN",
    "SelfAttention",
    "Sequential",
    "flip_sequences",
    "make_attention_mask",
    "make_causal_mask",
    # functions from derivax.nn
    "avg_pool",
    "celu",
    "elu",
    "gelu",
    "glu",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "hard_tanh",
    "initializers",
    "leaky_relu",
    "log_sigmoid",
    "log_softmax",
    "logsumexp",
    "max_pool",
    "min_pool",
    "mish",
    "one_hot",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "soft_sign",
    "softmax",
    "softplus",
    "standardize",
    "swish",
    "tanh",
    # lifted transformations
    "broadcast",
    "jit",
    "remat",
    "scan",
    "vmap",
    # training and serialization
    "StateDictError",
    "TrainState",
    "from_bytes",
    "from_state_dict",
    "register_serialization_state",
    "tabulate",
    "to_bytes",
    "to_state_dict",
    # subpackages
    "core",
    "struct",
    # errors
    "AssignSubModuleError",
    "CollectionNotFoundError",
    "FrozenModuleError",
    "ImmutableCollectionError",
    "InvalidRngError",
    "InvalidVariablesError",
    "LiftError",
    "MissingRngError",
    "ModuleError",
    "MultipleCompactMethodsError",
    "NameInUseError",
    "ParamNotFoundError",
    "ParamShapeError",
    "UnboundModuleError",
    "VariableNotFoundError",
]
