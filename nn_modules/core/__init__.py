"""The functional core of nn_modules: scopes, `init`/`apply` and lifted transformations.

Functions here take a `Scope` as their first argument; `nn_modules.Module` is built on
exactly these pieces. Use them directly to write stateful code without classes, or to
understand what a module does.

Example:
    >>> import derivax, derivax.numpy as dnp
    >>> from nn_modules import core
    >>> def dense(scope, x, features):
    ...     w = scope.param("kernel", derivax.nn.initializers.lecun_normal(), (x.shape[-1], features))
    ...     return x @ w
    >>> def mlp(scope, x):
    ...     return dense(scope.push("out"), derivax.nn.relu(dense(scope.push("hidden"), x, 8)), 2)
    >>> y, variables = core.init(mlp)(derivax.random.key(0), dnp.ones((1, 3)))
    >>> derivax.tree.map(lambda a: a.shape, variables)
    {'params': {'hidden': {'kernel': (3, 8)}, 'out': {'kernel': (8, 2)}}}
"""

from .._lift import broadcast as broadcast
from .._lift import jit as jit
from .._lift import remat as remat
from .._lift import scan as scan
from .._lift import vmap as vmap
from .._scope import CollectionFilter as CollectionFilter
from .._scope import DenyList as DenyList
from .._scope import Scope as Scope
from .._scope import Variable as Variable
from .._scope import apply as apply
from .._scope import bind as bind
from .._scope import in_filter as in_filter
from .._scope import init as init

__all__ = [
    "CollectionFilter",
    "DenyList",
    "Scope",
    "Variable",
    "apply",
    "bind",
    "broadcast",
    "in_filter",
    "init",
    "jit",
    "remat",
    "scan",
    "vmap",
]
