"""``derivax.nn``: activations and softmax helpers (the layer math grows here)."""

from ._activations import elu as elu
from ._activations import gelu as gelu
from ._activations import leaky_relu as leaky_relu
from ._activations import log_sigmoid as log_sigmoid
from ._activations import log_softmax as log_softmax
from ._activations import logsumexp as logsumexp
from ._activations import one_hot as one_hot
from ._activations import relu as relu
from ._activations import sigmoid as sigmoid
from ._activations import silu as silu
from ._activations import softmax as softmax
from ._activations import softplus as softplus
from ._activations import standardize as standardize
from ._activations import swish as swish
from ._activations import tanh as tanh

__all__ = sorted(n for n in dir() if not n.startswith("_"))
