"""Layers for `nn_pytree`: each takes one unbatched example; ``vmap`` batches it.

Stateful layers (`BatchNorm`) keep their running values in a `State` built by
`make_with_state`; `inference_mode` switches `Dropout` and `BatchNorm` to evaluation.
"""

from ._attention import MultiheadAttention as MultiheadAttention
from ._conv import Conv as Conv
from ._conv import Conv1d as Conv1d
from ._conv import Conv2d as Conv2d
from ._conv import Conv3d as Conv3d
from ._conv import ConvTranspose as ConvTranspose
from ._conv import ConvTranspose1d as ConvTranspose1d
from ._conv import ConvTranspose2d as ConvTranspose2d
from ._conv import ConvTranspose3d as ConvTranspose3d
from ._dropout import Dropout as Dropout
from ._embedding import Embedding as Embedding
from ._inference import inference_mode as inference_mode
from ._linear import Identity as Identity
from ._linear import Linear as Linear
from ._mlp import MLP as MLP
from ._normalisation import BatchNorm as BatchNorm
from ._normalisation import GroupNorm as GroupNorm
from ._normalisation import LayerNorm as LayerNorm
from ._normalisation import RMSNorm as RMSNorm
from ._pool import AdaptiveAvgPool2d as AdaptiveAvgPool2d
from ._pool import AvgPool2d as AvgPool2d
from ._pool import MaxPool2d as MaxPool2d
from ._rnn import GRUCell as GRUCell
from ._rnn import LSTMCell as LSTMCell
from ._sequential import Lambda as Lambda
from ._sequential import PReLU as PReLU
from ._sequential import Sequential as Sequential
from ._stateful import State as State
from ._stateful import StateIndex as StateIndex
from ._stateful import make_with_state as make_with_state

__all__ = [
    "MLP",
    "AdaptiveAvgPool2d",
    "AvgPool2d",
    "BatchNorm",
    "Conv",
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "ConvTranspose",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "ConvTranspose3d",
    "Dropout",
    "Embedding",
    "GRUCell",
    "GroupNorm",
    "Identity",
    "LSTMCell",
    "Lambda",
    "LayerNorm",
    "Linear",
    "MaxPool2d",
    "MultiheadAttention",
    "PReLU",
    "RMSNorm",
    "Sequential",
    "State",
    "StateIndex",
    "inference_mode",
    "make_with_state",
]
