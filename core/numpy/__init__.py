"""``derivax.numpy``: NumPy's API on derivax arrays (import as ``dnp``).

Every function is written with derivax primitives, so it runs eagerly, under ``jit``, and
under ``grad`` and ``vmap``. Type promotion follows JAX's lattice with weak Python scalars
(``float32_array * 2.0`` stays float32); 64-bit types need
``derivax.config.update("enable_x64", True)``.
"""

import numpy as _np

from .. import _dtypes
from .._array import Array as _Array
from . import _methods as _methods  # installs Array/tracer operators on import
from . import fft as fft
from . import linalg as linalg
from ._array_api import *  # noqa: F403 - each module lists its public names in __all__
from ._creation import arange as arange
from ._creation import array as array
from ._creation import asarray as asarray
from ._creation import empty as empty
from ._creation import empty_like as empty_like
from ._creation import eye as eye
from ._creation import full as full
from ._creation import full_like as full_like
from ._creation import identity as identity
from ._creation import linspace as linspace
from ._creation import ones as ones
from ._creation import ones_like as ones_like
from ._creation import zeros as zeros
from ._creation import zeros_like as zeros_like
from ._elementwise import abs as abs
from ._elementwise import absolute as absolute
from ._elementwise import acos as acos
from ._elementwise import acosh as acosh
from ._elementwise import add as add
from ._elementwise import arccos as arccos
from ._elementwise import arccosh as arccosh
from ._elementwise import arcsin as arcsin
from ._elementwise import arcsinh as arcsinh
from ._elementwise import arctan as arctan
from ._elementwise import arctan2 as arctan2
from ._elementwise import arctanh as arctanh
from ._elementwise import around as around
from ._elementwise import asin as asin
from ._elementwise import asinh as asinh
from ._elementwise import astype as astype
from ._elementwise import atan as atan
from ._elementwise import atan2 as atan2
from ._elementwise import atanh as atanh
from ._elementwise import bitwise_and as bitwise_and
from ._elementwise import bitwise_invert as bitwise_invert
from ._elementwise import bitwise_not as bitwise_not
from ._elementwise import bitwise_or as bitwise_or
from ._elementwise import bitwise_xor as bitwise_xor
from ._elementwise import cbrt as cbrt
from ._elementwise import ceil as ceil
from ._elementwise import clip as clip
from ._elementwise import conj as conj
from ._elementwise import conjugate as conjugate
from ._elementwise import cos as cos
from ._elementwise import cosh as cosh
from ._elementwise import divide as divide
from ._elementwise import equal as equal
from ._elementwise import exp as exp
from ._elementwise import exp2 as exp2
from ._elementwise import expm1 as expm1
from ._elementwise import fabs as fabs
from ._elementwise import floor as floor
from ._elementwise import floor_divide as floor_divide
from ._elementwise import fmod as fmod
from ._elementwise import greater as greater
from ._elementwise import greater_equal as greater_equal
from ._elementwise import invert as invert
from ._elementwise import isfinite as isfinite
from ._elementwise import isinf as isinf
from ._elementwise import isnan as isnan
from ._elementwise import less as less
from ._elementwise import less_equal as less_equal
from ._elementwise import log as log
from ._elementwise import log1p as log1p
from ._elementwise import log2 as log2
from ._elementwise import log10 as log10
from ._elementwise import logical_and as logical_and
from ._elementwise import logical_not as logical_not
from ._elementwise import logical_or as logical_or
from ._elementwise import logical_xor as logical_xor
from ._elementwise import maximum as maximum
from ._elementwise import minimum as minimum
from ._elementwise import mod as mod
from ._elementwise import multiply as multiply
from ._elementwise import negative as negative
from ._elementwise import not_equal as not_equal
from ._elementwise import positive as positive
from ._elementwise import pow as pow
from ._elementwise import power as power
from ._elementwise import real as real
from ._elementwise import reciprocal as reciprocal
from ._elementwise import remainder as remainder
from ._elementwise import rint as rint
from ._elementwise import round as round
from ._elementwise import sign as sign
from ._elementwise import signbit as signbit
from ._elementwise import sin as sin
from ._elementwise import sinh as sinh
from ._elementwise import sqrt as sqrt
from ._elementwise import square as square
from ._elementwise import subtract as subtract
from ._elementwise import tan as tan
from ._elementwise import tanh as tanh
from ._elementwise import true_divide as true_divide
from ._elementwise import trunc as trunc
from ._elementwise import where as where
from ._indexing import NonConcreteBooleanIndexError as NonConcreteBooleanIndexError
from ._indexing import nonzero as nonzero
from ._indexing import take as take
from ._indexing import take_along_axis as take_along_axis
from ._manipulation import *  # noqa: F403
from ._misc import can_cast as can_cast
from ._misc import isdtype as isdtype
from ._misc import ndim as ndim
from ._misc import promote_types as promote_types
from ._misc import result_type as result_type
from ._misc import shape as shape
from ._misc import size as size
from ._padding import *  # noqa: F403
from ._products import dot as dot
from ._products import einsum as einsum
from ._products import inner as inner
from ._products import matmul as matmul
from ._products import outer as outer
from ._products import tensordot as tensordot
from ._products import vdot as vdot
from ._reductions import all as all
from ._reductions import amax as amax
from ._reductions import amin as amin
from ._reductions import any as any
from ._reductions import argmax as argmax
from ._reductions import argmin as argmin
from ._reductions import count_nonzero as count_nonzero
from ._reductions import max as max
from ._reductions import mean as mean
from ._reductions import min as min
from ._reductions import prod as prod
from ._reductions import std as std
from ._reductions import sum as sum
from ._reductions import var as var
from ._shape import atleast_1d as atleast_1d
from ._shape import atleast_2d as atleast_2d
from ._shape import broadcast_arrays as broadcast_arrays
from ._shape import broadcast_to as broadcast_to
from ._shape import concat as concat
from ._shape import concatenate as concatenate
from ._shape import expand_dims as expand_dims
from ._shape import flip as flip
from ._shape import hstack as hstack
from ._shape import matrix_transpose as matrix_transpose
from ._shape import moveaxis as moveaxis
from ._shape import permute_dims as permute_dims
from ._shape import ravel as ravel
from ._shape import reshape as reshape
from ._shape import squeeze as squeeze
from ._shape import stack as stack
from ._shape import swapaxes as swapaxes
from ._shape import transpose as transpose
from ._shape import vstack as vstack
from ._sorting import *  # noqa: F403
from ._statistics import *  # noqa: F403
from ._triangular import *  # noqa: F403

ndarray = _Array
bool_ = _dtypes.bool_
bool = _dtypes.bool_  # noqa: A001 - the Array API name
int8 = _dtypes.int8
int16 = _dtypes.int16
int32 = _dtypes.int32
int64 = _dtypes.int64
uint8 = _dtypes.uint8
uint16 = _dtypes.uint16
uint32 = _dtypes.uint32
uint64 = _dtypes.uint64
float16 = _dtypes.float16
bfloat16 = _dtypes.bfloat16
float32 = _dtypes.float32
float64 = _dtypes.float64
complex64 = _dtypes.complex64
complex128 = _dtypes.complex128
dtype = _np.dtype
iinfo = _dtypes.iinfo
finfo = _dtypes.finfo
issubdtype = _dtypes.issubdtype
floating = _np.floating
integer = _np.integer
inexact = _np.inexact
signedinteger = _np.signedinteger
unsignedinteger = _np.unsignedinteger
complexfloating = _np.complexfloating
number = _np.number

pi = _np.pi
e = _np.e
inf = _np.inf
nan = _np.nan
euler_gamma = _np.euler_gamma
newaxis = None

__all__ = sorted(
    name for name in dir() if not name.startswith("_") and name not in ("annotations",)
)
