"""``derivax.lax``: the primitives, one function each, with XLA-like semantics.

Unlike ``derivax.numpy``, these functions do not promote dtypes or broadcast: operands of
elementwise ops must already share one shape and dtype.
"""

from . import _docs as _docs  # attaches docstrings to the generated functions
from ._bits import *  # noqa: F403 - each module lists its public names in __all__
from ._complex import *  # noqa: F403
from ._control_flow import *  # noqa: F403
from ._conv import *  # noqa: F403
from ._elementwise import abs as abs
from ._elementwise import acos as acos
from ._elementwise import acosh as acosh
from ._elementwise import add as add
from ._elementwise import asin as asin
from ._elementwise import asinh as asinh
from ._elementwise import atan as atan
from ._elementwise import atan2 as atan2
from ._elementwise import atanh as atanh
from ._elementwise import bitwise_and as bitwise_and
from ._elementwise import bitwise_not as bitwise_not
from ._elementwise import bitwise_or as bitwise_or
from ._elementwise import bitwise_xor as bitwise_xor
from ._elementwise import cbrt as cbrt
from ._elementwise import ceil as ceil
from ._elementwise import convert_element_type as convert_element_type
from ._elementwise import cos as cos
from ._elementwise import cosh as cosh
from ._elementwise import div as div
from ._elementwise import eq as eq
from ._elementwise import erf as erf
from ._elementwise import exp as exp
from ._elementwise import exp2 as exp2
from ._elementwise import expm1 as expm1
from ._elementwise import floor as floor
from ._elementwise import ge as ge
from ._elementwise import gt as gt
from ._elementwise import integer_pow as integer_pow
from ._elementwise import is_finite as is_finite
from ._elementwise import le as le
from ._elementwise import log as log
from ._elementwise import log1p as log1p
from ._elementwise import logistic as logistic
from ._elementwise import lt as lt
from ._elementwise import max as max
from ._elementwise import min as min
from ._elementwise import mul as mul
from ._elementwise import ne as ne
from ._elementwise import neg as neg
from ._elementwise import pow as pow
from ._elementwise import rem as rem
from ._elementwise import round as round
from ._elementwise import rsqrt as rsqrt
from ._elementwise import select as select
from ._elementwise import select_n as select_n
from ._elementwise import sign as sign
from ._elementwise import sin as sin
from ._elementwise import sinh as sinh
from ._elementwise import sqrt as sqrt
from ._elementwise import square as square
from ._elementwise import stop_gradient as stop_gradient
from ._elementwise import sub as sub
from ._elementwise import tan as tan
from ._elementwise import tanh as tanh
from ._fft import *  # noqa: F403
from ._indexing import dynamic_slice as dynamic_slice
from ._indexing import dynamic_update_slice as dynamic_update_slice
from ._indexing import gather as gather
from ._indexing import scatter as scatter
from ._linalg import *  # noqa: F403
from ._parallel import *  # noqa: F403
from ._sorting import *  # noqa: F403
from ._special import *  # noqa: F403
from ._structural import argmax as argmax
from ._structural import argmin as argmin
from ._structural import broadcast as broadcast
from ._structural import broadcast_in_dim as broadcast_in_dim
from ._structural import concatenate as concatenate
from ._structural import dot_general as dot_general
from ._structural import expand_dims as expand_dims
from ._structural import full as full
from ._structural import iota as iota
from ._structural import pad as pad
from ._structural import reduce_and as reduce_and
from ._structural import reduce_max as reduce_max
from ._structural import reduce_min as reduce_min
from ._structural import reduce_or as reduce_or
from ._structural import reduce_prod as reduce_prod
from ._structural import reduce_sum as reduce_sum
from ._structural import reshape as reshape
from ._structural import rev as rev
from ._structural import slice as slice
from ._structural import slice_in_dim as slice_in_dim
from ._structural import squeeze as squeeze
from ._structural import transpose as transpose

__all__ = sorted(n for n in dir() if not n.startswith("_"))
