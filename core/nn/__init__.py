"""``derivax.nn``: activations, initializers and the functional layer math shared by the
three NN libraries (dense, convolutions, pooling, normalization, dropout, embeddings,
attention)."""

from . import initializers as initializers
from ._activations import celu as celu
from ._activations import elu as elu
from ._activations import gelu as gelu
from ._activations import glu as glu
from ._activations import hard_sigmoid as hard_sigmoid
from ._activations import hard_silu as hard_silu
from ._activations import hard_swish as hard_swish
from ._activations import hard_tanh as hard_tanh
from ._activations import leaky_relu as leaky_relu
from ._activations import log_sigmoid as log_sigmoid
from ._activations import log_softmax as log_softmax
from ._activations import logsumexp as logsumexp
from ._activations import mish as mish
from ._activations import one_hot as one_hot
from ._activations import relu as relu
from ._activations import relu6 as relu6
from ._activations import selu as selu
from ._activations import sigmoid as sigmoid
from ._activations import silu as silu
from ._activations import soft_sign as soft_sign
from ._activations import softmax as softmax
from ._activations import softplus as softplus
from ._activations import standardize as standardize
from ._activations import swish as swish
from ._activations import tanh as tanh
from ._attention import dot_product_attention as dot_product_attention
from ._linear import conv as conv
from ._linear import conv_transpose as conv_transpose
from ._linear import dense as dense
from ._linear import embedding_lookup as embedding_lookup
from ._normalization import BatchNormStats as BatchNormStats
from ._normalization import batch_norm as batch_norm
from ._normalization import group_norm as group_norm
from ._normalization import layer_norm as layer_norm
from ._normalization import rms_norm as rms_norm
from ._pooling import avg_pool as avg_pool
from ._pooling import max_pool as max_pool
from ._pooling import min_pool as min_pool
from ._stochastic import dropout as dropout

__all__ = [
    "BatchNormStats",
    "avg_pool",
    "batch_norm",
    "celu",
    "conv",
    "conv_transpose",
    "dense",
    "dot_product_attention",
    "dropout",
    "elu",
    "embedding_lookup",
    "gelu",
    "glu",
    "group_norm",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "hard_tanh",
    "initializers",
    "layer_norm",
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
    "rms_norm",
    "selu",
    "sigmoid",
    "silu",
    "soft_sign",
    "softmax",
    "softplus",
    "standardize",
    "swish",
    "tanh",
]
