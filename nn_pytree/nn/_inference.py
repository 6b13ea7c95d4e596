"""`inference_mode`: switch every layer with an ``inference`` flag at once."""

from __future__ import annotations

from typing import Any

from .._module import Module
from .._tree import _split

__all__ = ["inference_mode"]


def _has_inference(x: Any) -> bool:
    return isinstance(x, Module) and "inference" in type(x)._nnp_fields


def inference_mode(pytree: Any, value: bool = True) -> Any:
    """A copy of ``pytree`` with the ``inference`` field of every layer set to ``value``.

    `Dropout` becomes the identity and `BatchNorm` normalises with its running
    statistics instead of the batch's (and stops updating them) when ``inference`` is
    True. Call ``inference_mode(model, False)`` to train again.

    Args:
        pytree: A model, or any pytree containing modules.
        value: The new value of the flags.

    Returns:
        The modified copy.

    Raises:
        TypeError: If ``value`` is not a bool.

    Example:
        >>> import nn_pytree as nnp
        >>> model = [nnp.nn.Dropout(0.5), nnp.nn.Dropout(0.1)]
        >>> [d.inference for d in nnp.nn.inference_mode(model)]
        [True, True]
    """
    if not isinstance(value, bool):
        raise TypeError(f"inference_mode: `value` must be True or False, got {value!r}.")

    def walk(x: Any) -> Any:
        split = _split(x)
        if split is not None:
            kids, treedef = split
            x = treedef.unflatten([walk(c) for c in kids])
        if _has_inference(x):
            new = object.__new__(type(x))
            new.__dict__.update(x.__dict__)
            new.__dict__["inference"] = value
            return new
        return x

    return walk(pytree)
