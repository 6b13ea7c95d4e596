"""State dicts and bytes: `to_state_dict`, `from_state_dict`, `to_bytes`, `from_bytes`.

A *state dict* is a nested dict with string keys and array (or Python scalar) leaves:
dicts keep their keys, lists and tuples become ``{'0': ..., '1': ...}``, NamedTuples and
`struct` dataclasses (such as `TrainState`) become dicts of their (pytree) fields. It is
what checkpoints store, independent of the Python classes. `from_state_dict` pours a
state dict back into a *target* of the right structure (for example a freshly
initialised `TrainState`), checking keys and array shapes.

`to_bytes` / `from_bytes` write and read the state dict in derivax's checkpoint format
(``derivax.serialization``: safetensors with a tree description and a checksum; never
pickle).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

import derivax.serialization

from ._errors import ModuleError

__all__ = [
    "StateDictError",
    "from_bytes",
    "from_state_dict",
    "register_serialization_state",
    "to_bytes",
    "to_state_dict",
]


class StateDictError(ModuleError, ValueError):
    """A state dict does not fit the target it is restored into.

    Cause: keys present on one side only, or an array with another shape, at the key path
    the message names: the checkpoint was written for another model or optimizer.

    Fix: build the target exactly as the saved state was built (same model, same
    optimizer, same input shapes), or inspect the state dict itself (``to_state_dict``).
    """


_REGISTRY: dict[type, tuple[Callable, Callable]] = {}


def register_serialization_state(
    ty: type,
    ty_to_state_dict: Callable[[Any], dict],
    ty_from_state_dict: Callable[[Any, dict], Any],
    override: bool = False,
) -> None:
    """Teach `to_state_dict` / `from_state_dict` a new container type.

    Args:
        ty: the class.
        ty_to_state_dict: ``obj -> dict`` of its children (already converted or not: the
            result is converted recursively).
        ty_from_state_dict: ``(target, state_dict) -> obj``.
        override: replace an existing registration.

    Raises:
        ValueError: ``ty`` is already registered and ``override`` is False.

    Example:
        >>> import nn_modules as nn
        >>> class Box:
        ...     def __init__(self, v):
        ...         self.v = v
        >>> nn.register_serialization_state(
        ...     Box, lambda b: {"v": b.v}, lambda target, s: Box(s["v"]))
        >>> nn.to_state_dict(Box(3))
        {'v': 3}
    """
    if ty in _REGISTRY and not override:
        raise ValueError(
            f"register_serialization_state: {ty.__name__} is already registered; pass "
            "override=True to replace it."
        )
    _REGISTRY[ty] = (ty_to_state_dict, ty_from_state_dict)


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _struct_fields(x: Any) -> list[str] | None:
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return [f.name for f in dataclasses.fields(x) if f.metadata.get("pytree_node", True)]
    return None


def to_state_dict(target: Any) -> Any:
    """The state dict of a pytree of arrays (see the module notes for the conversions).

    Args:
        target: dicts, lists, tuples, NamedTuples, `struct` dataclasses (such as
            `TrainState`) and registered types, with array or scalar leaves.

    Returns:
        Nested dicts with string keys.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_modules as nn
        >>> nn.to_state_dict({"layers": [dnp.ones(1), dnp.zeros(2)], "step": 3})
        {'layers': {'0': Array([1.], dtype=float32), '1': Array([0., 0.], dtype=float32)}, 'step': 3}
    """
    for ty in type(target).__mro__:
        if ty in _REGISTRY:
            return {str(k): to_state_dict(v) for k, v in _REGISTRY[ty][0](target).items()}
    if isinstance(target, Mapping):
        return {str(k): to_state_dict(v) for k, v in target.items()}
    if _is_namedtuple(target):
        return {name: to_state_dict(getattr(target, name)) for name in target._fields}
    if isinstance(target, (list, tuple)):
        return {str(i): to_state_dict(v) for i, v in enumerate(target)}
    names = _struct_fields(target)
    if names is not None:
        return {name: to_state_dict(getattr(target, name)) for name in names}
    return target


def _check_keys(path: str, want: list[str], state: Any) -> Mapping:
    if not isinstance(state, Mapping):
        raise StateDictError(
            f"from_state_dict: at {path} the target has a container with keys {want} but the "
            f"state dict has {type(state).__name__}."
        )
    got = [str(k) for k in state]
    missing = [k for k in want if k not in got]
    extra = [k for k in got if k not in want]
    if missing or extra:
        raise StateDictError(
            f"from_state_dict: the keys at {path} do not match: missing from the state dict "
            f"{missing or 'none'}, not in the target {extra or 'none'}. The state dict was "
            "made for another model or optimizer."
        )
    return {str(k): v for k, v in state.items()}


def _join(path: str, key: str) -> str:
    return f"{path.rstrip('/')}/{key}"


def from_state_dict(target: Any, state: Any, name: str = "/") -> Any:
    """Rebuild ``target``'s structure with the values of ``state`` (a state dict).

    Args:
        target: a tree with the expected structure (its leaves are only checked).
        state: a state dict, e.g. from `to_state_dict` or a restored checkpoint.
        name: the path of ``target`` (used in error messages).

    Returns:
        A tree like ``target`` holding ``state``'s leaves.

    Raises:
        StateDictError: keys differ, or an array leaf has another shape.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_modules as nn
        >>> target = {"w": dnp.zeros(2), "opt": (dnp.zeros(()),)}
        >>> nn.from_state_dict(target, {"w": dnp.ones(2), "opt": {"0": dnp.ones(())}})
        {'w': Array([1., 1.], dtype=float32), 'opt': (Array(1., dtype=float32),)}
    """
    for ty in type(target).__mro__:
        if ty in _REGISTRY:
            return _REGISTRY[ty][1](target, state)
    if isinstance(target, Mapping):
        keys = [str(k) for k in target]
        state = _check_keys(name, keys, state)
        values = {
            k: from_state_dict(v, state[str(k)], _join(name, str(k))) for k, v in target.items()
        }
        return type(target)(values) if type(target) is not dict else values
    if _is_namedtuple(target):
        state = _check_keys(name, list(target._fields), state)
        return type(target)(
            *(from_state_dict(getattr(target, f), state[f], _join(name, f)) for f in target._fields)
        )
    if isinstance(target, (list, tuple)):
        state = _check_keys(name, [str(i) for i in range(len(target))], state)
        values = [
            from_state_dict(v, state[str(i)], _join(name, str(i))) for i, v in enumerate(target)
        ]
        return type(target)(values)
    names = _struct_fields(target)
    if names is not None:
        state = _check_keys(name, names, state)
        updates = {f: from_state_dict(getattr(target, f), state[f], _join(name, f)) for f in names}
        return dataclasses.replace(target, **updates)
    want, got = np.shape(target), np.shape(state)
    if hasattr(target, "shape") and hasattr(state, "shape") and want != got:
        raise StateDictError(
            f"from_state_dict: the array at {name} has shape {got} in the state dict but "
            f"{want} in the target. The state dict was made for another model or input shape."
        )
    return state


def to_bytes(target: Any) -> bytes:
    """Serialize ``target``'s state dict to bytes in derivax's checkpoint format.

    Args:
        target: a pytree accepted by `to_state_dict` whose leaves are arrays, Python
            scalars, strings or None.

    Returns:
        The bytes of a checkpoint file (safetensors with a tree description and a
        checksum).

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_modules as nn
        >>> data = nn.to_bytes({"w": dnp.arange(3.0)})
        >>> nn.from_bytes({"w": dnp.zeros(3)}, data)["w"]
        Array([0., 1., 2.], dtype=float32)
    """
    return derivax.serialization.to_bytes(to_state_dict(target))


def from_bytes(target: Any, encoded_bytes: bytes) -> Any:
    """Restore ``target``'s structure from bytes made by `to_bytes`.

    The bytes are verified (lengths, offsets, dtypes, checksum) before any value is used;
    nothing in the format can run code.

    Args:
        target: a tree with the structure that was saved.
        encoded_bytes: the output of `to_bytes`.

    Returns:
        A tree like ``target`` with the saved values.

    Raises:
        derivax.serialization.CheckpointError: the bytes are damaged or not a checkpoint.
        StateDictError: the saved structure does not fit ``target``.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_modules as nn
        >>> nn.from_bytes({"w": dnp.zeros(2)}, nn.to_bytes({"w": dnp.ones(2)}))
        {'w': Array([1., 1.], dtype=float32)}
    """
    if not isinstance(encoded_bytes, (bytes, bytearray, memoryview)):
        raise TypeError(
            f"from_bytes: encoded_bytes must be bytes (from to_bytes), got "
            f"{type(encoded_bytes).__name__}."
        )
    return from_state_dict(target, derivax.serialization.from_bytes(encoded_bytes))
