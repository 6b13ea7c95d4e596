"""State for stateful layers (batch norm's running statistics), kept outside the model.

A stateful layer holds a `StateIndex`: a key plus the initial value of its state. The
values live in a separate `State` pytree, built from the model once by `make_with_state`
and threaded through calls: ``y, state = layer(x, state)``. The model stays an immutable
value that gradients and optimizers see; the state is updated by returning a new `State`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from derivax import tree

from .._module import Module, field
from .._tree import _split

__all__ = ["State", "StateIndex", "make_with_state"]

_markers = itertools.count()


class _Deleted:
    """The ``init`` of a `StateIndex` whose value was moved into a `State`."""

    _instance: _Deleted | None = None

    def __new__(cls) -> _Deleted:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<moved to State>"


_DELETED = _Deleted()


class StateIndex(Module):
    """The key of one piece of state, and its initial value.

    Layers create one in ``__init__``; `State` collects the initial values and
    ``state.get(index)`` / ``state.set(index, value)`` read and replace the current one.

    Args:
        init: The initial value: an array or a pytree of arrays.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_pytree as nnp
        >>> class Counter(nnp.Module):
        ...     index: nnp.nn.StateIndex
        ...     def __init__(self):
        ...         self.index = nnp.nn.StateIndex(dnp.zeros(()))
        ...     def __call__(self, x, state):
        ...         count = state.get(self.index) + 1
        ...         return x, state.set(self.index, count)
        >>> counter, state = nnp.nn.make_with_state(Counter)()
        >>> _, state = counter(1.0, state)
        >>> _, state = counter(1.0, state)
        >>> state.get(counter.index)
        Array(2., dtype=float32)
    """

    marker: int = field(static=True)
    init: Any

    def __init__(self, init: Any):
        self.marker = next(_markers)
        self.init = init


def _is_index(x: Any) -> bool:
    return isinstance(x, StateIndex)


def _spec(x: Any) -> str:
    shape = getattr(x, "shape", None)
    dtype = getattr(x, "dtype", None)
    if shape is None or dtype is None:
        return type(x).__name__
    return f"{np.dtype(dtype).name}{list(shape)}"


class State:
    """The current values of every `StateIndex` of a model; an immutable pytree.

    Build it with `make_with_state` (or ``State(model)`` on a model whose indices still
    hold their initial values). Pass it to ``jit``/``grad``/optimizers like any pytree.

    Args:
        model: A pytree containing `StateIndex` objects.

    Raises:
        ValueError: If an index's initial value was already moved into another `State`
            by `make_with_state`.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_pytree as nnp
        >>> index = nnp.nn.StateIndex(dnp.zeros(2))
        >>> state = nnp.nn.State([index])
        >>> state.set(index, dnp.ones(2)).get(index)
        Array([1., 1.], dtype=float32)
    """

    __slots__ = ("_values",)

    def __init__(self, model: Any):
        values: dict[int, Any] = {}
        for index in tree.leaves(model, is_leaf=_is_index):
            if not _is_index(index):
                continue
            if index.init is _DELETED:
                raise ValueError(
                    "State(model): this model's StateIndex values were already moved into a "
                    "State by make_with_state, so the model no longer holds them. Keep the "
                    "state that make_with_state returned, or build a fresh model."
                )
            values[index.marker] = index.init
        self._values = values

    @classmethod
    def _from_values(cls, values: dict[int, Any]) -> State:
        new = object.__new__(cls)
        new._values = values
        return new

    def _check(self, item: Any, method: str) -> int:
        if not _is_index(item):
            raise TypeError(
                f"State.{method}: expected a StateIndex (the layer's index field, e.g. "
                f"state.{method}(bn.state_index)), got {type(item).__name__}."
            )
        if item.marker not in self._values:
            raise KeyError(
                f"State.{method}: this StateIndex is not in the state (the state holds "
                f"{len(self._values)} entries). The state must come from make_with_state (or "
                f"State(model)) on the model the layer belongs to."
            )
        return item.marker

    def get(self, item: StateIndex) -> Any:
        """The current value stored under ``item``.

        Args:
            item: A `StateIndex` of the model this state was built from.

        Returns:
            The value.

        Raises:
            KeyError: If ``item`` is not part of this state.
        """
        return self._values[self._check(item, "get")]

    def set(self, item: StateIndex, value: Any) -> State:
        """A new state with ``value`` stored under ``item`` (this one is unchanged).

        Args:
            item: A `StateIndex` of the model this state was built from.
            value: The new value: same tree structure, shapes and dtypes as the old one.

        Returns:
            The new `State`.

        Raises:
            KeyError: If ``item`` is not part of this state.
            ValueError: If ``value`` differs in structure, shape or dtype from the value
                it replaces (state has a fixed layout so jitted code does not retrace).
        """
        marker = self._check(item, "set")
        old = self._values[marker]
        old_leaves, old_def = tree.flatten(old)
        new_leaves, new_def = tree.flatten(value)
        if old_def != new_def:
            raise ValueError(
                f"State.set: the new value has the structure {new_def}, the current value "
                f"{old_def}; state keeps its structure. Return the same kind of value."
            )
        for i, (a, b) in enumerate(zip(old_leaves, new_leaves, strict=True)):
            if _spec(a) != _spec(b):
                raise ValueError(
                    f"State.set: leaf {i} of the new value is {_spec(b)} but the current value "
                    f"is {_spec(a)}; state keeps its shapes and dtypes. Cast or reshape the "
                    f"new value (e.g. value.astype(old.dtype))."
                )
        values = dict(self._values)
        values[marker] = value
        return State._from_values(values)

    def substate(self, pytree: Any) -> State:
        """The part of this state used by the `StateIndex` objects inside ``pytree``.

        Args:
            pytree: A sub-model.

        Returns:
            A `State` with only those entries.
        """
        markers = [
            self._check(i, "substate")
            for i in tree.leaves(pytree, is_leaf=_is_index)
            if _is_index(i)
        ]
        return State._from_values({m: self._values[m] for m in markers})

    def update(self, substate: State) -> State:
        """A new state with the entries of ``substate`` (from `substate`) replaced.

        Args:
            substate: A state whose entries all belong to this one.

        Returns:
            The merged `State`.

        Raises:
            KeyError: If ``substate`` has entries this state does not.
        """
        extra = set(substate._values) - set(self._values)
        if extra:
            raise KeyError(
                f"State.update: {len(extra)} entries of the substate are not in this state; "
                "update only with a substate taken from it."
            )
        values = dict(self._values)
        values.update(substate._values)
        return State._from_values(values)

    def __repr__(self) -> str:
        from .._pretty import tree_pformat

        items = ", ".join(tree_pformat(self._values[k]) for k in sorted(self._values))
        return f"State({items})"


def _state_flatten(state: State) -> tuple[list, tuple]:
    keys = tuple(sorted(state._values))
    return [state._values[k] for k in keys], keys


def _state_flatten_with_keys(state: State) -> tuple[list, tuple]:
    # Positions, not markers, name the entries: markers are process-local counters, and a
    # checkpoint must match a model built again in another process.
    children, keys = _state_flatten(state)
    return [(tree.SequenceKey(i), c) for i, c in enumerate(children)], keys


def _state_unflatten(keys: tuple, children: tuple) -> State:
    return State._from_values(dict(zip(keys, children, strict=True)))


tree.register_pytree_node(State, _state_flatten, _state_unflatten, _state_flatten_with_keys)


def _delete_init(x: Any) -> Any:
    if _is_index(x):
        new = object.__new__(StateIndex)
        new.__dict__.update(x.__dict__)
        new.__dict__["init"] = _DELETED
        return new
    split = _split(x)
    if split is None:
        return x
    kids, treedef = split
    return treedef.unflatten([_delete_init(c) for c in kids])


def make_with_state(make_model: Callable[..., Any]) -> Callable[..., tuple[Any, State]]:
    """Wraps a model constructor to return ``(model, state)``.

    The initial values of the model's `StateIndex` objects move into the returned
    `State` (the model keeps only the keys), so the model holds no stale copy that
    gradients or optimizers would touch.

    Args:
        make_model: A model class or any function returning a model.

    Returns:
        A function with the same arguments returning ``(model, state)``.

    Example:
        >>> import derivax.random as dr
        >>> import nn_pytree as nnp
        >>> bn, state = nnp.nn.make_with_state(nnp.nn.BatchNorm)(3, axis_name="batch")
        >>> [x.shape for x in state.get(bn.state_index)]
        [(3,), (3,)]
    """
    if not callable(make_model):
        raise TypeError(
            f"make_with_state: expected a model class or constructor function, got "
            f"{type(make_model).__name__}. Write make_with_state(MyModel)(*args)."
        )

    def make(*args: Any, **kwargs: Any) -> tuple[Any, State]:
        model = make_model(*args, **kwargs)
        state = State(model)
        return _delete_init(model), state

    return make
