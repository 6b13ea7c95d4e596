"""nn_transform: neural networks as transformed functions (Haiku's idiom on derivax).

Write the forward pass as an ordinary function that creates modules and calls them;
`transform` turns it into a pair of pure functions: ``init(rng, *inputs) -> params``
collects the parameters, ``apply(params, rng, *inputs) -> out`` runs the function with
them. Parameters are a two-level dict keyed by automatic, stable module names
(``{'mlp/~/linear_0': {'w': ..., 'b': ...}}``), so ``derivax.grad``, ``derivax.jit`` and
``derivax.optim`` work on them directly. `transform_with_state` adds state (BatchNorm's
moving averages): ``apply(params, state, rng, *inputs) -> (out, new_state)``.

Example:
    >>> import derivax, derivax.numpy as dnp
    >>> import nn_transform as nt
    >>> def forward(x):
    ...     return nt.nets.MLP([32, 10])(x)
    >>> model = nt.transform(forward)
    >>> params = model.init(derivax.random.PRNGKey(0), dnp.ones((4, 784)))
    >>> list(params)
    ['mlp/~/linear_0', 'mlp/~/linear_1']
    >>> model.apply(params, None, dnp.ones((4, 784))).shape
    (4, 10)
"""

from . import data_structures as data_structures
from . import experimental as experimental
from . import initializers as initializers
from . import nets as nets
from ._attention import Embed as Embed
from ._attention import MultiHeadAttention as MultiHeadAttention
from ._base import PRNGSequence as PRNGSequence
from ._base import get_parameter as get_parameter
from ._base import get_state as get_state
from ._base import maybe_next_rng_key as maybe_next_rng_key
from ._base import next_rng_key as next_rng_key
from ._base import next_rng_keys as next_rng_keys
from ._base import running_init as running_init
from ._base import set_state as set_state
from ._basic import Flatten as Flatten
from ._basic import Linear as Linear
from ._basic import Sequential as Sequential
from ._basic import dropout as dropout
from ._conv import Conv1D as Conv1D
from ._conv import Conv1DTranspose as Conv1DTranspose
from ._conv import Conv2D as Conv2D
from ._conv import Conv2DTranspose as Conv2DTranspose
from ._conv import Conv3D as Conv3D
from ._conv import Conv3DTranspose as Conv3DTranspose
from ._conv import ConvND as ConvND
from ._conv import ConvNDTranspose as ConvNDTranspose
from ._errors import MissingParameterError as MissingParameterError
from ._errors import MissingRNGError as MissingRNGError
from ._errors import MissingStateError as MissingStateError
from ._errors import ModuleNameError as ModuleNameError
from ._errors import NotInTransformError as NotInTransformError
from ._errors import ParameterShapeError as ParameterShapeError
from ._errors import StatefulFunctionError as StatefulFunctionError
from ._errors import TransformMixingError as TransformMixingError
from ._lift import cond as cond
from ._lift import fori_loop as fori_loop
from ._lift import jit as jit
from ._lift import remat as remat
from ._lift import scan as scan
from ._lift import switch as switch
from ._lift import vmap as vmap
from ._module import MethodContext as MethodContext
from ._module import Module as Module
from ._module import intercept_methods as intercept_methods
from ._module import name_scope as name_scope
from ._norm import BatchNorm as BatchNorm
from ._norm import ExponentialMovingAverage as ExponentialMovingAverage
from ._norm import GroupNorm as GroupNorm
from ._norm import LayerNorm as LayerNorm
from ._norm import RMSNorm as RMSNorm
from ._pool import AvgPool as AvgPool
from ._pool import MaxPool as MaxPool
from ._pool import avg_pool as avg_pool
from ._pool import max_pool as max_pool
from ._recurrent import GRU as GRU
from ._recurrent import LSTM as LSTM
from ._recurrent import LSTMState as LSTMState
from ._recurrent import RNNCore as RNNCore
from ._recurrent import VanillaRNN as VanillaRNN
from ._recurrent import dynamic_unroll as dynamic_unroll
from ._recurrent import static_unroll as static_unroll
from ._transform import MultiTransformed as MultiTransformed
from ._transform import MultiTransformedWithState as MultiTransformedWithState
from ._transform import Transformed as Transformed
from ._transform import TransformedWithState as TransformedWithState
from ._transform import multi_transform as multi_transform
from ._transform import multi_transform_with_state as multi_transform_with_state
from ._transform import transform as transform
from ._transform import transform_with_state as transform_with_state
from ._transform import without_apply_rng as without_apply_rng

__all__ = [
    "AvgPool",
    "BatchNorm",
    "Conv1D",
    "Conv1DTranspose",
    "Conv2D",
    "Conv2DTranspose",
    "Conv3D",
    "Conv3DTranspose",
    "ConvND",
    "ConvNDTranspose",
    "Embed",
    "ExponentialMovingAverage",
    "Flatten",
    "GRU",
    "GroupNorm",
    "LSTM",
    "LSTMState",
    "LayerNorm",
    "Linear",
    "MaxPool",
    "MethodContext",
    "MissingParameterError",
    "MissingRNGError",
    "MissingStateError",
    "Module",
    "ModuleNameError",
    "MultiHeadAttention",
    "MultiTransformed",
    "MultiTransformedWithState",
    "NotInTransformError",
    "PRNGSequence",
    "ParameterShapeError",
    "RMSNorm",
    "RNNCore",
    "Sequential",
    "StatefulFunctionError",
    "TransformMixingError",
    "Transformed",
    "TransformedWithState",
    "VanillaRNN",
    "avg_pool",
    "cond",
    "data_structures",
    "dropout",
    "dynamic_unroll",
    "experimental",
    "fori_loop",
    "get_parameter",
    "get_state",
    "initializers",
    "intercept_methods",
    "jit",
    "max_pool",
    "maybe_next_rng_key",
    "multi_transform",
    "multi_transform_with_state",
    "name_scope",
    "nets",
    "next_rng_key",
    "next_rng_keys",
    "remat",
    "running_init",
    "scan",
    "set_state",
    "static_unroll",
    "switch",
    "transform",
    "transform_with_state",
    "vmap",
    "without_apply_rng",
]
