"""derivax: composable transformations of NumPy-style Python functions.

``grad``/``jvp``/``vjp`` differentiate, ``vmap`` batches, ``jit`` compiles; they compose in
any order. ``derivax.numpy`` is NumPy's API on immutable derivax arrays.

Example:
    >>> import derivax, derivax.numpy as dnp
    >>> f = lambda x: dnp.sum(x**3 - 2.0 * x)
    >>> derivax.jit(derivax.grad(f))(dnp.array([0.0, 1.0, 2.0]))
    Array([-2.,  1., 10.], dtype=float32)
"""

__version__ = "0.1.0"

from . import core as core
from . import lax as lax
from . import nn as nn
from . import numpy as numpy
from . import optim as optim
from . import random as random
from . import scipy as scipy
from . import serialization as serialization
from . import tree as tree
from ._api import ShapeDtypeStruct as ShapeDtypeStruct
from ._api import checkpoint as checkpoint
from ._api import disable_jit as disable_jit
from ._api import eval_shape as eval_shape
from ._api import grad as grad
from ._api import hessian as hessian
from ._api import jacfwd as jacfwd
from ._api import jacrev as jacrev
from ._api import jit as jit
from ._api import jvp as jvp
from ._api import linearize as linearize
from ._api import make_jaxpr as make_jaxpr
from ._api import remat as remat
from ._api import stop_gradient as stop_gradient
from ._api import value_and_grad as value_and_grad
from ._api import vjp as vjp
from ._api import vmap as vmap
from ._array import Array as Array
from ._array import block_until_ready as block_until_ready
from ._array import device_get as device_get
from ._array import device_put as device_put
from ._config import ConfigError as ConfigError
from ._config import config as config
from ._config import enable_x64 as enable_x64
from ._core import ConcretizationTypeError as ConcretizationTypeError
from ._core import NaNError as NaNError
from ._core import NotDifferentiableError as NotDifferentiableError
from ._core import UnexpectedTracerError as UnexpectedTracerError
from ._custom import CustomVJPError as CustomVJPError
from ._custom import custom_jvp as custom_jvp
from ._custom import custom_vjp as custom_vjp
from ._dtypes import DtypeError as DtypeError
from ._ir import ClosedIR as ClosedIR
from ._jit import RetraceWarning as RetraceWarning

__all__ = [
    "Array",
    "ClosedIR",
    "ConcretizationTypeError",
    "ConfigError",
    "CustomVJPError",
    "DtypeError",
    "NaNError",
    "NotDifferentiableError",
    "RetraceWarning",
    "ShapeDtypeStruct",
    "UnexpectedTracerError",
    "block_until_ready",
    "checkpoint",
    "config",
    "core",
    "custom_jvp",
    "custom_vjp",
    "device_get",
    "device_put",
    "disable_jit",
    "enable_x64",
    "eval_shape",
    "grad",
    "hessian",
    "jacfwd",
    "jacrev",
    "jit",
    "jvp",
    "lax",
    "linearize",
    "make_jaxpr",
    "nn",
    "numpy",
    "optim",
    "random",
    "remat",
    "scipy",
    "serialization",
    "stop_gradient",
    "tree",
    "value_and_grad",
    "vjp",
    "vmap",
]
