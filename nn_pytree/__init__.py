"""nn_pytree: neural networks whose models are pytrees (Equinox's idiom on derivax).

A model is an immutable `Module` (a frozen dataclass registered as a pytree), so it goes
straight through ``derivax.jit``, ``grad`` and ``vmap`` and through ``derivax.optim``.
The ``filter_*`` transformations split any pytree into its arrays (traced,
differentiated, batched) and everything else (static); `tree_at` edits a model by making
a modified copy. Layers live in `nn_pytree.nn`.

Example:
    >>> import derivax, derivax.numpy as dnp
    >>> import nn_pytree as nnp
    >>> class Scale(nnp.Module):
    ...     w: derivax.Array
    ...     def __call__(self, x):
    ...         return self.w * x
    >>> model = Scale(dnp.array(3.0))
    >>> nnp.filter_grad(lambda m, x: m(x) ** 2)(model, 2.0).w
    Array(24., dtype=float32)
"""

from . import nn as nn
from ._ad import filter_grad as filter_grad
from ._ad import filter_value_and_grad as filter_value_and_grad
from ._filters import combine as combine
from ._filters import filter as filter  # noqa: A004
from ._filters import is_array as is_array
from ._filters import is_array_like as is_array_like
from ._filters import is_inexact_array as is_inexact_array
from ._filters import partition as partition
from ._jit import filter_jit as filter_jit
from ._module import BoundMethod as BoundMethod
from ._module import FrozenModuleError as FrozenModuleError
from ._module import Module as Module
from ._module import field as field
from ._pretty import tree_pformat as tree_pformat
from ._serialisation import tree_deserialise_leaves as tree_deserialise_leaves
from ._serialisation import tree_serialise_leaves as tree_serialise_leaves
from ._tree import apply_updates as apply_updates
from ._tree import tree_at as tree_at
from ._tree import tree_equal as tree_equal
from ._vmap import filter_eval_shape as filter_eval_shape
from ._vmap import filter_vmap as filter_vmap
from ._vmap import if_array as if_array

__all__ = [
    "BoundMethod",
    "FrozenModuleError",
    "Module",
    "apply_updates",
    "combine",
    "field",
    "filter",
    "filter_eval_shape",
    "filter_grad",
    "filter_jit",
    "filter_value_and_grad",
    "filter_vmap",
    "if_array",
    "is_array",
    "is_array_like",
    "is_inexact_array",
    "nn",
    "partition",
    "tree_at",
    "tree_deserialise_leaves",
    "tree_equal",
    "tree_pformat",
    "tree_serialise_leaves",
]
