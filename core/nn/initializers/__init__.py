"""``derivax.nn.initializers``: parameter initializers with JAX's signatures.

Each factory returns ``init(key, shape, dtype=None)``.
"""

from .._initializers import constant as constant
from .._initializers import delta_orthogonal as delta_orthogonal
from .._initializers import glorot_normal as glorot_normal
from .._initializers import glorot_uniform as glorot_uniform
from .._initializers import he_normal as he_normal
from .._initializers import he_uniform as he_uniform
from .._initializers import kaiming_normal as kaiming_normal
from .._initializers import kaiming_uniform as kaiming_uniform
from .._initializers import lecun_normal as lecun_normal
from .._initializers import lecun_uniform as lecun_uniform
from .._initializers import normal as normal
from .._initializers import ones as ones
from .._initializers import orthogonal as orthogonal
from .._initializers import truncated_normal as truncated_normal
from .._initializers import uniform as uniform
from .._initializers import variance_scaling as variance_scaling
from .._initializers import xavier_normal as xavier_normal
from .._initializers import xavier_uniform as xavier_uniform
from .._initializers import zeros as zeros

__all__ = [
    "constant",
    "delta_orthogonal",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "kaiming_normal",
    "kaiming_uniform",
    "lecun_normal",
    "lecun_uniform",
    "normal",
    "ones",
    "orthogonal",
    "truncated_normal",
    "uniform",
    "variance_scaling",
    "xavier_normal",
    "xavier_uniform",
    "zeros",
]
