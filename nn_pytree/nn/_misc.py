"""Shared checks and helpers of the layers: input shapes, keys, initial values."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

import derivax.numpy as dnp
import derivax.random as dr

__all__: list[str] = []

_BATCH_FIX = (
    "Layers in nn_pytree take one unbatched example; batch them with "
    "derivax.vmap(layer)(x) (or nnp.filter_vmap(layer)(x))."
)


def as_input(layer: str, x: Any) -> Any:
    """``x`` as an array (tracers pass through), with a clear error for other objects."""
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return x
    try:
        return dnp.asarray(x)
    except Exception as e:  # noqa: BLE001 - re-raised with the layer's name
        raise TypeError(
            f"{layer}: the input must be an array, got {type(x).__name__} ({e})."
        ) from None


def check_rank(layer: str, x: Any, rank: int, what: str) -> None:
    """Raises when ``x`` does not have ``rank`` dimensions, naming a batch axis if it has one more."""
    shape = tuple(x.shape)
    if len(shape) == rank:
        return
    if len(shape) == rank + 1:
        raise ValueError(
            f"{layer} expects one unbatched example {what}, got an input of shape {shape}: "
            f"its extra leading axis looks like a batch of {shape[0]}. {_BATCH_FIX}"
        )
    raise ValueError(
        f"{layer} expects one unbatched example {what} ({rank} dimension"
        f"{'s' * (rank != 1)}), got an input of shape {shape}."
    )


def check_size(layer: str, x: Any, axis: int, size: int, what: str, arg: str) -> None:
    """Raises when ``x.shape[axis]`` is not the size the layer was built for."""
    got = x.shape[axis]
    if got != size:
        raise ValueError(
            f"{layer} was built for {size} {what} but the input has {got} (input shape "
            f"{tuple(x.shape)}). Build the layer with {arg}={got}, or fix the input."
        )


def check_key(layer: str, key: Any, arg: str = "key") -> None:
    if key is None:
        raise TypeError(
            f"{layer}: `{arg}` is required to initialise the parameters. Pass "
            f"{arg}=derivax.random.PRNGKey(seed) (and split it for several layers)."
        )


def split(key: Any, n: int) -> list:
    """``n`` keys from ``key``, or ``n`` Nones when ``key`` is None."""
    if key is None:
        return [None] * n
    return list(dr.split(key, n))


def uniform(key: Any, shape: tuple, limit: float, dtype: Any) -> Any:
    """Samples ``U(-limit, limit)``: the initial values of weights and biases."""
    return dr.uniform(key, shape, dtype, minval=-limit, maxval=limit)


def float_dtype(dtype: Any) -> Any:
    return dnp.float32 if dtype is None else dtype


def ntuple(layer: str, name: str, value: Any, n: int) -> tuple[int, ...]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value),) * n
    if isinstance(value, Sequence) and len(value) == n:
        return tuple(int(v) for v in value)
    raise ValueError(
        f"{layer}: {name} must be an int or a sequence of {n} ints (one per spatial "
        f"dimension), got {value!r}."
    )


def padding_pairs(layer: str, padding: Any, n: int) -> tuple[tuple[int, int], ...]:
    """``padding`` as one ``(low, high)`` pair per spatial dimension."""
    if isinstance(padding, (int, np.integer)) and not isinstance(padding, bool):
        return ((int(padding), int(padding)),) * n
    if isinstance(padding, Sequence) and not isinstance(padding, str) and len(padding) == n:
        pairs = []
        for p in padding:
            if isinstance(p, (int, np.integer)):
                pairs.append((int(p), int(p)))
            elif isinstance(p, Sequence) and len(p) == 2:
                pairs.append((int(p[0]), int(p[1])))
            else:
                break
        else:
            return tuple(pairs)
    raise ValueError(
        f"{layer}: padding must be an int, {n} ints, or {n} (low, high) pairs (one per "
        f"spatial dimension), got {padding!r}."
    )


def prod(shape: Sequence[int]) -> int:
    return math.prod(int(s) for s in shape)
