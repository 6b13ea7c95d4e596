"""``nn_transform.initializers``: ``init(shape, dtype) -> array`` callables that draw their
key with ``nn_transform.next_rng_key`` (for `get_parameter` and the modules' ``w_init``)."""

from .._initializers import Constant as Constant
from .._initializers import Initializer as Initializer
from .._initializers import Orthogonal as Orthogonal
from .._initializers import RandomNormal as RandomNormal
from .._initializers import RandomUniform as RandomUniform
from .._initializers import TruncatedNormal as TruncatedNormal
from .._initializers import VarianceScaling as VarianceScaling
from .._initializers import from_derivax as from_derivax

__all__ = [
    "Constant",
    "Initializer",
    "Orthogonal",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "VarianceScaling",
    "from_derivax",
]
