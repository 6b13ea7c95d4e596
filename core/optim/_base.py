"""The gradient-transformation interface and the combinators built directly on it.

An optimizer is a pair of pure functions: ``init(params) -> state`` and
``update(updates, state, params=None) -> (updates, new_state)``. States are pytrees of
arrays (usually NamedTuples), so they work under `derivax.jit`, can be checkpointed with
`derivax.serialization` and are shared by every NN library.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import derivax.numpy as dnp
from derivax import tree as _tree

__all__ = [
    "EmptyState",
    "GradientTransformation",
    "GradientTransformationExtraArgs",
    "Schedule",
    "apply_updates",
    "chain",
    "identity",
    "init_empty_state",
    "named_chain",
    "set_to_zero",
    "stateless",
    "with_extra_args_support",
]

Params = Any
Updates = Any
OptState = Any


class Schedule(Protocol):
    """A function of the step count returning a scalar hyperparameter value.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> schedule: optim.Schedule = optim.linear_schedule(1.0, 0.0, 10)
        >>> float(schedule(5))
        0.5
    """

    def __call__(self, count: Any) -> Any: ...


class GradientTransformation(NamedTuple):
    """A pair of pure functions that make up an optimizer or one step of it.

    Attributes:
        init: ``init(params) -> state`` builds the initial state (a pytree of arrays).
        update: ``update(updates, state, params=None) -> (updates, new_state)`` turns
            gradients (or the output of a previous transformation) into updates.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> double = optim.GradientTransformation(
        ...     lambda params: optim.EmptyState(),
        ...     lambda updates, state, params=None: (2 * updates, state),
        ... )
        >>> double.update(dnp.ones(2), double.init(dnp.ones(2)))[0].tolist()
        [2.0, 2.0]
    """

    init: Callable[[Params], OptState]
    update: Callable[..., tuple[Updates, OptState]]


class GradientTransformationExtraArgs(GradientTransformation):
    """A `GradientTransformation` whose ``update`` also takes keyword arguments.

    ``update(updates, state, params=None, **extra_args)``: combinators forward
    ``extra_args`` (e.g. ``value=loss`` for a line search) to every inner transformation
    that accepts them; plain transformations are wrapped by `with_extra_args_support`.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> tx = optim.chain(optim.scale(0.5))
        >>> isinstance(tx, optim.GradientTransformationExtraArgs)
        True
    """


class EmptyState(NamedTuple):
    """The state of a stateless transformation: an empty pytree.

    Example:
        >>> from derivax import optim
        >>> optim.EmptyState()
        EmptyState()
    """


def require_params(name: str, params: Any) -> None:
    """Raises the error of an ``update`` that needs ``params`` but got None."""
    if params is None:
        raise ValueError(
            f"{name}.update needs the current parameters: call update(updates, state, params)."
        )


def init_empty_state(params: Params) -> EmptyState:
    """The ``init`` of a stateless transformation: ignores ``params``.

    Args:
        params: Ignored.

    Returns:
        ``EmptyState()``.

    Example:
        >>> from derivax import optim
        >>> optim.init_empty_state({"w": 1.0})
        EmptyState()
    """
    del params
    return EmptyState()


def with_extra_args_support(tx: GradientTransformation) -> GradientTransformationExtraArgs:
    """Wraps ``tx`` so its ``update`` accepts (and ignores) extra keyword arguments.

    Args:
        tx: A transformation.

    Returns:
        ``tx`` itself if it already accepts extra arguments, else a wrapper.

    Raises:
        TypeError: If ``tx`` is not a `GradientTransformation`.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> tx = optim.with_extra_args_support(optim.scale(2.0))
        >>> tx.update(dnp.ones(1), tx.init(None), None, value=3.0)[0].tolist()
        [2.0]
    """
    if isinstance(tx, GradientTransformationExtraArgs):
        return tx
    if not isinstance(tx, GradientTransformation):
        raise TypeError(
            f"expected a GradientTransformation (a pair init, update), got "
            f"{type(tx).__name__}. Build one with optim.GradientTransformation(init, update) "
            "or an optimizer such as optim.adam(1e-3)."
        )

    def update(updates, state, params=None, **extra_args):
        del extra_args
        return tx.update(updates, state, params)

    return GradientTransformationExtraArgs(tx.init, update)


def identity() -> GradientTransformation:
    """A transformation that returns the updates unchanged.

    Returns:
        A stateless `GradientTransformation`.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.identity().update(dnp.ones(2), optim.EmptyState())[0].tolist()
        [1.0, 1.0]
    """

    def update(updates, state, params=None):
        del params
        return updates, state

    return GradientTransformation(init_empty_state, update)


def set_to_zero() -> GradientTransformation:
    """A transformation that replaces every update by zeros (freezes parameters).

    Usually combined with `multi_transform` or `masked` to freeze part of a model.

    Returns:
        A stateless `GradientTransformation`.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.set_to_zero().update(dnp.ones(2), optim.EmptyState())[0].tolist()
        [0.0, 0.0]
    """

    def update(updates, state, params=None):
        del params
        return _tree.map(dnp.zeros_like, updates), state

    return GradientTransformation(init_empty_state, update)


def stateless(f: Callable[[Updates, Params], Updates]) -> GradientTransformation:
    """Makes a stateless transformation from ``f(updates, params) -> updates``.

    Args:
        f: A function of the whole updates tree and the params (which may be None).

    Returns:
        A `GradientTransformation` with an `EmptyState`.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> halve = optim.stateless(lambda u, p: u / 2)
        >>> halve.update(dnp.ones(2), halve.init(None))[0].tolist()
        [0.5, 0.5]
    """

    def update(updates, state, params=None):
        return f(updates, params), state

    return GradientTransformation(init_empty_state, update)


def _check_transforms(fn: str, transforms) -> list[GradientTransformationExtraArgs]:
    out = []
    for i, tx in enumerate(transforms):
        if not isinstance(tx, GradientTransformation):
            raise TypeError(
                f"{fn}: argument {i} is a {type(tx).__name__}, not a GradientTransformation. "
                "Pass transformations such as optim.scale_by_adam(), not their states or "
                "factories (call optim.adam(1e-3), not optim.adam)."
            )
        out.append(with_extra_args_support(tx))
    return out


def chain(*transforms: GradientTransformation) -> GradientTransformationExtraArgs:
    """Applies transformations one after another; the state is the tuple of their states.

    Args:
        *transforms: The transformations, first applied first.

    Returns:
        The combined `GradientTransformationExtraArgs`.

    Raises:
        TypeError: If an argument is not a `GradientTransformation`.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> tx = optim.chain(optim.clip(1.0), optim.scale(-0.5))
        >>> tx.update(dnp.array([3.0, -0.5]), tx.init(None))[0].tolist()
        [-0.5, 0.25]
    """
    txs = _check_transforms("chain", transforms)

    def init(params):
        return tuple(tx.init(params) for tx in txs)

    def update(updates, state, params=None, **extra_args):
        if not isinstance(state, tuple) or len(state) != len(txs):
            raise ValueError(
                f"chain.update: expected the state returned by this chain's init (a tuple "
                f"of {len(txs)} states), got {type(state).__name__}"
                f"{f' of length {len(state)}' if isinstance(state, tuple) else ''}. Call "
                "init with the same chain first."
            )
        new_state = []
        for tx, s in zip(txs, state, strict=True):
            updates, s = tx.update(updates, s, params, **extra_args)
            new_state.append(s)
        return updates, tuple(new_state)

    return GradientTransformationExtraArgs(init, update)


def named_chain(*named: tuple[str, GradientTransformation]) -> GradientTransformationExtraArgs:
    """Like `chain`, but the state is a dict keyed by the given names.

    Args:
        *named: ``(name, transformation)`` pairs, applied in order; names must be unique.

    Returns:
        The combined `GradientTransformationExtraArgs`.

    Raises:
        ValueError: If two names are equal.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> tx = optim.named_chain(("clip", optim.clip(1.0)), ("lr", optim.scale(-0.1)))
        >>> sorted(tx.init(dnp.ones(2)))
        ['clip', 'lr']
    """
    names = [n for n, _ in named]
    if len(set(names)) != len(names):
        raise ValueError(f"named_chain: names must be unique, got {names}.")
    txs = _check_transforms("named_chain", [t for _, t in named])

    def init(params):
        return {n: tx.init(params) for n, tx in zip(names, txs, strict=True)}

    def update(updates, state, params=None, **extra_args):
        new_state = {}
        for n, tx in zip(names, txs, strict=True):
            updates, new_state[n] = tx.update(updates, state[n], params, **extra_args)
        return updates, new_state

    return GradientTransformationExtraArgs(init, update)


def apply_updates(params: Params, updates: Updates) -> Params:
    """Adds ``updates`` to ``params`` leaf by leaf, keeping each parameter's dtype.

    Args:
        params: A pytree of arrays.
        updates: A pytree of the same structure, e.g. from an optimizer's ``update``.

    Returns:
        ``params + updates``, cast back to the dtypes of ``params``.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.apply_updates({"w": dnp.ones(2)}, {"w": dnp.full(2, -0.5)})["w"].tolist()
        [0.5, 0.5]
    """

    def add(p, u):
        if p is None:
            return None
        p = dnp.asarray(p)
        return (p + u).astype(p.dtype)

    return _tree.map(add, params, updates, is_leaf=lambda x: x is None)
