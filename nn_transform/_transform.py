"""``transform``: turn a function that uses parameters into a pure ``(init, apply)`` pair.

There is one implementation, `transform_with_state`; `transform`, `without_apply_rng` and
the ``multi_`` variants are thin layers over it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, NamedTuple

import derivax.tree as dtree

from ._base import Frame, PRNGSequence, StateEntry, as_key, frame_scope
from ._errors import StatefulFunctionError

__all__ = [
    "MultiTransformed",
    "MultiTransformedWithState",
    "Transformed",
    "TransformedWithState",
    "multi_transform",
    "multi_transform_with_state",
    "transform",
    "transform_with_state",
    "without_apply_rng",
]


class Transformed(NamedTuple):
    """The pure functions of `transform`: ``init(rng, *args)`` and
    ``apply(params, rng, *args)``.

    Example:
        >>> import nn_transform as nt
        >>> init, apply = nt.transform(lambda x: x)
        >>> apply({}, None, 1.0)
        1.0
    """

    init: Any
    apply: Any


class TransformedWithState(NamedTuple):
    """The pure functions of `transform_with_state`: ``init(rng, *args) -> (params,
    state)`` and ``apply(params, state, rng, *args) -> (out, new_state)``.

    Example:
        >>> import nn_transform as nt
        >>> init, apply = nt.transform_with_state(lambda x: x)
        >>> apply({}, {}, None, 1.0)
        (1.0, {})
    """

    init: Any
    apply: Any


class MultiTransformed(NamedTuple):
    """The pure functions of `multi_transform`: one ``init`` and a pytree of ``apply``.

    Example:
        >>> import nn_transform as nt
        >>> t = nt.multi_transform(lambda: (lambda: None, (lambda: 1, lambda: 2)))
        >>> [f({}, None) for f in t.apply]
        [1, 2]
    """

    init: Any
    apply: Any


class MultiTransformedWithState(NamedTuple):
    """The pure functions of `multi_transform_with_state`.

    Example:
        >>> import nn_transform as nt
        >>> t = nt.multi_transform_with_state(lambda: (lambda: None, {"one": lambda: 1}))
        >>> t.apply["one"]({}, {}, None)
        (1, {})
    """

    init: Any
    apply: Any


def _check_params(where: str, params) -> dict:
    """A fresh two-level copy of ``params`` (apply must not mutate the caller's dicts)."""
    if params is None:
        return {}
    if not isinstance(params, Mapping) or not all(isinstance(v, Mapping) for v in params.values()):
        got = type(params).__name__
        raise TypeError(
            f"{where}: params must be the two-level dict returned by init "
            f"({{module_name: {{name: array}}}}), got a {got}. The arguments are "
            "apply(params, rng, *inputs) (with state: apply(params, state, rng, *inputs))."
        )
    return {m: dict(v) for m, v in params.items()}


def _check_state(where: str, state) -> dict:
    if state is None:
        return {}
    if not isinstance(state, Mapping) or not all(isinstance(v, Mapping) for v in state.values()):
        raise TypeError(
            f"{where}: state must be the two-level dict returned by init or apply "
            f"({{module_name: {{name: array}}}}), got a {type(state).__name__}. The arguments "
            "are apply(params, state, rng, *inputs)."
        )
    return {m: {n: StateEntry(v, v) for n, v in entries.items()} for m, entries in state.items()}


class _WithoutApplyRng:
    """The ``rng`` that `without_apply_rng` passes: None, with a better error message."""

    hint = (
        "the function was transformed with nt.without_apply_rng, whose apply passes no key "
        "(drop nt.without_apply_rng and pass a key to apply)"
    )


_WITHOUT_APPLY_RNG = _WithoutApplyRng()


def _name(f) -> str:
    return getattr(f, "__name__", type(f).__name__)


def transform_with_state(f) -> TransformedWithState:
    """Make ``f``, which may use parameters, state and random keys, into pure functions.

    ``init(rng, *args, **kwargs) -> (params, state)`` runs ``f`` and collects the
    parameters and the initial state it creates. ``apply(params, state, rng, *args,
    **kwargs) -> (out, new_state)`` runs ``f`` with them and returns its output and the
    state as ``f`` left it. Both are pure: they may be wrapped in ``derivax.jit``,
    ``grad`` or ``vmap``.

    Args:
        f: the function; inside it, `get_parameter`, `get_state`, `set_state`,
            `next_rng_key` and modules may be used.

    Returns:
        A `TransformedWithState` ``(init, apply)``. ``rng`` is a PRNG key, or None when
        ``f`` draws no random numbers (``init`` also takes an int seed).

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> def f(x):
        ...     x = nt.Linear(2, w_init=nt.initializers.Constant(0.5))(x)
        ...     return nt.BatchNorm(True, True, decay_rate=0.9)(x, is_training=True)
        >>> t = nt.transform_with_state(f)
        >>> params, state = t.init(0, dnp.ones((4, 3)))
        >>> sorted(params), sorted(state)
        (['batch_norm', 'linear'], ['batch_norm/~/mean_ema', 'batch_norm/~/var_ema'])
        >>> out, state = t.apply(params, state, None, dnp.ones((4, 3)))
        >>> out.shape
        (4, 2)
    """
    name = _name(f)

    def init_fn(rng, *args, **kwargs):
        key = as_key(rng, f"init of {name}", allow_int=True)
        frame = Frame(
            {},
            {},
            None if key is None else PRNGSequence(key),
            is_init=True,
            can_create=True,
            rng_hint="init was called with rng=None",
        )
        with frame_scope(frame):
            f(*args, **kwargs)
        return frame.params, frame.state_values("initial")

    def apply_fn(params, state, rng, *args, **kwargs):
        where = f"apply of {name}"
        params = _check_params(where, params)
        state_entries = _check_state(where, state)
        hint = "apply was called with rng=None"
        if rng is _WITHOUT_APPLY_RNG:
            rng, hint = None, _WITHOUT_APPLY_RNG.hint
        key = as_key(rng, where, allow_int=False)
        frame = Frame(
            params,
            state_entries,
            None if key is None else PRNGSequence(key),
            is_init=False,
            can_create=False,
            rng_hint=hint,
        )
        with frame_scope(frame):
            out = f(*args, **kwargs)
        return out, frame.state_values()

    functools.update_wrapper(init_fn, f, assigned=("__module__", "__name__", "__qualname__"))
    functools.update_wrapper(apply_fn, f, assigned=("__module__", "__name__", "__qualname__"))
    return TransformedWithState(init_fn, apply_fn)


def _stateless_init(init, name):
    @functools.wraps(init)
    def init_fn(rng, *args, **kwargs):
        params, state = init(rng, *args, **kwargs)
        if state:
            raise StatefulFunctionError(
                f"{name} uses state ({sorted(state)}: get_state/set_state, e.g. BatchNorm), "
                "which nt.transform would drop. Transform it with nt.transform_with_state: "
                "init returns (params, state) and apply(params, state, rng, *inputs) returns "
                "(out, new_state)."
            )
        return params

    return init_fn


def transform(f) -> Transformed:
    """Make ``f``, which may use parameters and random keys (no state), into pure functions.

    ``init(rng, *args, **kwargs) -> params`` and ``apply(params, rng, *args, **kwargs) ->
    out``. It is `transform_with_state` with the state left out; a function that uses
    state raises `StatefulFunctionError` (use `transform_with_state`).

    Args:
        f: the function.

    Returns:
        A `Transformed` ``(init, apply)``.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> model = nt.transform(lambda x: nt.nets.MLP([8, 2])(x))
        >>> params = model.init(derivax.random.PRNGKey(0), dnp.ones((5, 3)))
        >>> {k: v["w"].shape for k, v in params.items()}
        {'mlp/~/linear_0': (3, 8), 'mlp/~/linear_1': (8, 2)}
        >>> model.apply(params, None, dnp.ones((5, 3))).shape
        (5, 2)
    """
    inner = transform_with_state(f)
    name = _name(f)

    def apply_fn(params, rng, *args, **kwargs):
        out, _ = inner.apply(params, {}, rng, *args, **kwargs)
        return out

    functools.update_wrapper(apply_fn, inner.apply)
    return Transformed(_stateless_init(inner.init, name), apply_fn)


def without_apply_rng(transformed):
    """Remove the ``rng`` argument from ``apply`` (it passes None).

    For functions that draw no random numbers at apply time:
    ``apply(params, *args)`` (or ``apply(params, state, *args)``).

    Args:
        transformed: the result of `transform`, `transform_with_state` or a ``multi_``
            variant.

    Returns:
        The same kind of object with the new ``apply`` (or pytree of them).

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> t = nt.without_apply_rng(nt.transform(lambda x: nt.Linear(2)(x)))
        >>> params = t.init(0, dnp.ones((1, 3)))
        >>> t.apply(params, dnp.ones((1, 3))).shape
        (1, 2)
    """
    with_state = isinstance(transformed, (TransformedWithState, MultiTransformedWithState))
    if not isinstance(
        transformed,
        (Transformed, TransformedWithState, MultiTransformed, MultiTransformedWithState),
    ):
        raise TypeError(
            "nt.without_apply_rng takes the result of nt.transform, nt.transform_with_state "
            f"or nt.multi_transform(_with_state), got {type(transformed).__name__}."
        )

    def strip(apply):
        if with_state:

            def apply_fn(params, state, *args, **kwargs):
                return apply(params, state, _WITHOUT_APPLY_RNG, *args, **kwargs)
        else:

            def apply_fn(params, *args, **kwargs):
                return apply(params, _WITHOUT_APPLY_RNG, *args, **kwargs)

        return functools.wraps(apply)(apply_fn)

    if isinstance(transformed, (MultiTransformed, MultiTransformedWithState)):
        return type(transformed)(transformed.init, dtree.map(strip, transformed.apply))
    return type(transformed)(transformed.init, strip(transformed.apply))


def multi_transform_with_state(f) -> MultiTransformedWithState:
    """Several functions that share parameters and state, transformed together.

    ``f()`` builds the modules and returns ``(template, fns)``: ``init(rng, *args)`` runs
    ``template(*args)`` to create every parameter, and ``apply`` is a pytree shaped like
    ``fns`` whose leaves are ``apply(params, state, rng, *args)`` for each function.

    Args:
        f: a function of no arguments returning ``(template, fns)``.

    Returns:
        A `MultiTransformedWithState`.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> def f():
        ...     encoder, decoder = nt.Linear(2, name="enc"), nt.Linear(3, name="dec")
        ...     return (lambda x: decoder(encoder(x))), (encoder, decoder)
        >>> t = nt.multi_transform_with_state(f)
        >>> params, state = t.init(0, dnp.ones((1, 3)))
        >>> encode, decode = t.apply
        >>> encode(params, state, None, dnp.ones((1, 3)))[0].shape
        (1, 2)
    """

    def template(*args, **kwargs):
        return f()[0](*args, **kwargs)

    template.__name__ = _name(f)
    init = transform_with_state(template).init
    # The shape of the pytree of functions: build the modules once, without parameters.
    probe = Frame({}, {}, None, is_init=True, can_create=False)
    with frame_scope(probe):
        _, fns = f()
    leaves, treedef = dtree.flatten(fns, is_leaf=callable)

    def leaf_apply(i):
        def run(*args, **kwargs):
            return dtree.leaves(f()[1], is_leaf=callable)[i](*args, **kwargs)

        run.__name__ = f"{_name(f)}[{i}]"
        return transform_with_state(run).apply

    return MultiTransformedWithState(
        init, dtree.unflatten(treedef, [leaf_apply(i) for i in range(len(leaves))])
    )


def multi_transform(f) -> MultiTransformed:
    """`multi_transform_with_state` without state: ``init(rng, *args) -> params`` and
    ``apply`` leaves ``apply(params, rng, *args)``.

    Args:
        f: a function of no arguments returning ``(template, fns)``.

    Returns:
        A `MultiTransformed`.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> def f():
        ...     shared = nt.Linear(2)
        ...     return shared, {"twice": lambda x: shared(shared(x)[:, :2])}
        >>> t = nt.multi_transform(f)
        >>> params = t.init(0, dnp.ones((1, 2)))
        >>> t.apply["twice"](params, None, dnp.ones((1, 2))).shape
        (1, 2)
    """
    inner = multi_transform_with_state(f)

    def stateless(apply):
        def apply_fn(params, rng, *args, **kwargs):
            return apply(params, {}, rng, *args, **kwargs)[0]

        return functools.wraps(apply)(apply_fn)

    return MultiTransformed(
        _stateless_init(inner.init, _name(f)), dtree.map(stateless, inner.apply, is_leaf=callable)
    )
