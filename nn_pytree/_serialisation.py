"""Saving and loading a model's leaves in the project's checkpoint format.

`tree_serialise_leaves` writes the array leaves and the Python scalar leaves (bool, int,
float, complex, str) of a pytree with `derivax.serialization.save`: a safetensors file,
never pickle. `tree_deserialise_leaves` reads them back into the structure of a ``like``
tree, typically a freshly built model (or one from `filter_eval_shape`), and keeps
``like``'s other leaves (activation functions and the like).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import derivax
from derivax import serialization

from ._filters import combine, is_array, partition

__all__ = ["tree_deserialise_leaves", "tree_serialise_leaves"]


def _stored(x: Any) -> bool:
    return is_array(x) or isinstance(x, (bool, int, float, complex, str))


def _like_leaf(x: Any) -> bool:
    return _stored(x) or isinstance(x, derivax.ShapeDtypeStruct)


def tree_serialise_leaves(
    path: str | os.PathLike,
    pytree: Any,
    is_leaf: Callable[[Any], bool] | None = None,
) -> None:
    """Saves the array and Python-scalar leaves of ``pytree`` (a model, a state ...) to a file.

    Args:
        path: The file to write (its directory must exist); replaced atomically.
        pytree: The tree to save. Leaves that are neither arrays nor Python scalars or
            strings (functions, for example) are not stored; `tree_deserialise_leaves`
            takes them from its ``like`` argument.
        is_leaf: Optional predicate marking subtrees as leaves.

    Raises:
        TypeError: If an array has a dtype the checkpoint format cannot store.
        FileNotFoundError: If the directory of ``path`` does not exist.

    Example:
        >>> import os, tempfile
        >>> import derivax.numpy as dnp
        >>> import nn_pytree as nnp
        >>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
        >>> nnp.tree_serialise_leaves(path, {"w": dnp.ones(2), "act": dnp.tanh})
        >>> nnp.tree_deserialise_leaves(path, {"w": dnp.zeros(2), "act": dnp.tanh})["w"]
        Array([1., 1.], dtype=float32)
    """
    stored, _ = partition(pytree, _stored, is_leaf=is_leaf)
    serialization.save(path, stored)


def tree_deserialise_leaves(
    path: str | os.PathLike,
    like: Any,
    is_leaf: Callable[[Any], bool] | None = None,
) -> Any:
    """Loads leaves saved by `tree_serialise_leaves` into the structure of ``like``.

    Args:
        path: A file written by `tree_serialise_leaves`.
        like: A tree with the structure of the saved one: a model built the same way (its
            array values are ignored) or its `filter_eval_shape`. Its leaves that are not
            arrays, shape structs or Python scalars are kept as they are.
        is_leaf: Optional predicate marking subtrees as leaves.

    Returns:
        A tree like ``like`` with the stored leaves from the file.

    Raises:
        derivax.serialization.CheckpointMismatchError: If the file does not match ``like``
            (the message lists each differing key path, shape and dtype).
        derivax.serialization.CheckpointError: If the file is damaged.
        FileNotFoundError: If ``path`` does not exist.

    Example:
        >>> import os, tempfile
        >>> import derivax.numpy as dnp
        >>> import nn_pytree as nnp
        >>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
        >>> nnp.tree_serialise_leaves(path, [dnp.arange(3.0), 7])
        >>> nnp.tree_deserialise_leaves(path, [dnp.zeros(3), 0])
        [Array([0., 1., 2.], dtype=float32), 7]
    """
    stored_like, rest = partition(like, _like_leaf, is_leaf=is_leaf)
    loaded = serialization.restore(path, like=stored_like)
    return combine(loaded, rest, is_leaf=is_leaf)
