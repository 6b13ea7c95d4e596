"""State-aware transformations: `jit`, `vmap`, `scan`, `cond`, `switch`, `fori_loop`,
`remat`.

A derivax transformation only sees its arguments, so each of these turns the stateful
function into a pure one before applying the derivax transformation: the current
parameters, state and a fresh key go in as arguments, the code runs in a frame derived
from them (`Frame.derive`), and the updated state comes out and is written back.

Parameters cannot be created inside the transformation (they would be values of the
inner trace). During ``init`` each transformation therefore first runs the function once
*outside* it (the pre-run), which creates every parameter and state value, then undoes
everything else the pre-run did (names taken, state updates) and runs the real thing.

Outside a transformed function each of them is the plain derivax transformation.
"""

from __future__ import annotations

import functools
import threading

import derivax
import derivax.lax as lax
import derivax.numpy as dnp
import derivax.random as dr
import derivax.tree as dtree

from ._base import PRNGSequence, check_trace, frame_scope, maybe_current_frame, next_rng_keys

__all__ = ["cond", "fori_loop", "jit", "remat", "scan", "switch", "vmap"]


def _run_derived(frame, fun, params, state, key, args, kwargs):
    """Run ``fun`` in a frame derived from ``frame``; ``(out, new_state_values)``."""
    inner = frame.derive(params, state, key)
    with frame_scope(inner):
        out = fun(*args, **kwargs)
    return out, inner.state_values()


_OUTER = object()  # _prerun's default: draw keys from the frame's own sequence


def _enter(frame, api):
    check_trace(frame, api, f"nt.{api} is called")


def _prerun(frame, fun, args, kwargs=None, *, key=_OUTER):
    """In ``init``: run ``fun`` once to create parameters and state, then undo the rest.

    With ``key`` (a key or None) the pre-run draws its random keys from ``key``, as the
    transformed run will, instead of from the frame's own sequence, which is left as is.
    """
    if not (frame.is_init and frame.can_create):
        return
    snapshot = frame.snapshot()
    rng = frame.rng
    if key is not _OUTER:
        frame.rng = None if key is None else PRNGSequence(key)
    try:
        fun(*args, **(kwargs or {}))
    finally:
        frame.rng = rng
        frame.restore(snapshot)


def _draw_key(frame):
    return None if frame.rng is None else next(frame.rng)


def _split(key):
    """``(carry_key, step_key)``, or ``(None, None)`` without a key."""
    if key is None:
        return None, None
    keys = dr.split(key)
    return keys[0], keys[1]


# --------------------------------------------------------------------------- jit


class _JitLocal(threading.local):
    def __init__(self):
        self.frame = None
        self.traced = False


def jit(fun, static_argnums=(), static_argnames=()):
    """``derivax.jit`` for functions that use parameters, state and random keys.

    Inside a transformed function the current parameters, state and a fresh key are passed
    to the compiled program and the updated state is written back, so modules (even
    ``BatchNorm``) can be jitted piecewise. Outside a transformed function it is
    ``derivax.jit``.

    Args:
        fun: the function.
        static_argnums: positions of arguments that are settings (hashable).
        static_argnames: names of keyword arguments that are settings.

    Returns:
        The compiled function.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> def f(x):
        ...     return nt.jit(lambda x: nt.Linear(3)(x))(x)
        >>> t = nt.transform(f)
        >>> params = t.init(0, dnp.ones((2, 4)))
        >>> sorted(params), t.apply(params, None, dnp.ones((2, 4))).shape
        (['linear'], (2, 3))
    """
    static_argnums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    local = _JitLocal()
    naming_effects: dict = {}

    def pure(params, state, key, context, *args, **kwargs):
        del context  # a static argument: it only keys the compilation cache
        local.traced = True
        return _run_derived(local.frame, fun, params, state, key, args, kwargs)

    compiled = derivax.jit(
        pure,
        static_argnums=(3, *(i + 4 for i in static_argnums)),
        static_argnames=static_argnames,
    )
    plain = derivax.jit(fun, static_argnums=static_argnums, static_argnames=static_argnames)

    @functools.wraps(fun)
    def wrapped(*args, **kwargs):
        frame = maybe_current_frame()
        if frame is None:
            return plain(*args, **kwargs)
        _enter(frame, "jit")
        _prerun(frame, fun, args, kwargs)
        key = _draw_key(frame)
        top = frame.naming.top
        # Modules created inside take names in the current scope. A cached program does
        # not run the Python code again, so the names it took are recorded and replayed.
        context = (frame.is_init, key is None, frame.naming.context_key())
        before_counts, before_used = dict(top.counts), set(top.used)
        outer = (local.frame, local.traced)
        local.frame, local.traced = frame, False
        try:
            out, state = compiled(frame.params, frame.state_values(), key, context, *args, **kwargs)
            traced = local.traced
        finally:
            local.frame, local.traced = outer
        if traced:
            counts = {k: v for k, v in top.counts.items() if before_counts.get(k) != v}
            naming_effects[context] = (counts, top.used - before_used)
        elif context in naming_effects:
            counts, used = naming_effects[context]
            top.counts.update(counts)
            top.used.update(used)
        frame.set_state_values(state)
        return out

    return wrapped


# --------------------------------------------------------------------------- vmap


def _map_prefix(fn, spec, tree):
    """Apply ``fn(leaf, axis)`` over ``tree`` where ``spec`` is an axis-spec prefix of it."""
    if spec is None or isinstance(spec, int):
        return dtree.map(lambda leaf: fn(leaf, spec), tree)
    if isinstance(spec, (tuple, list)):
        return type(tree)(_map_prefix(fn, s, t) for s, t in zip(spec, tree, strict=True))
    if isinstance(spec, dict):
        return {k: _map_prefix(fn, spec[k], tree[k]) for k in tree}
    raise TypeError(f"nt.vmap: in_axes entries must be ints, None or containers, got {spec!r}.")


def vmap(fun, in_axes=0, out_axes=0, axis_name=None, axis_size=None, *, split_rng):
    """``derivax.vmap`` for functions that use parameters, state and random keys.

    Parameters and state are shared by every example (not mapped); state updated inside
    must be the same for every example. ``split_rng`` chooses whether each example draws
    its own random keys (True: e.g. independent dropout masks) or all draw the same.

    Args:
        fun: the function.
        in_axes: an int, None, or one entry per positional argument.
        out_axes: as in ``derivax.vmap``.
        axis_name: a name for the mapped axis (for collectives).
        axis_size: the mapped size when no argument is mapped.
        split_rng: give each example its own keys (keyword-only, required).

    Returns:
        The batched function.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> def f(xs):  # a per-example function, vectorized
        ...     return nt.vmap(lambda x: nt.Linear(2)(x), split_rng=False)(xs)
        >>> t = nt.transform(f)
        >>> params = t.init(0, dnp.ones((5, 3)))
        >>> params["linear"]["w"].shape, t.apply(params, None, dnp.ones((5, 3))).shape
        ((3, 2), (5, 2))
    """
    if not isinstance(split_rng, bool):
        raise TypeError("nt.vmap: split_rng must be True or False.")

    @functools.wraps(fun)
    def wrapped(*args):
        frame = maybe_current_frame()
        if frame is None:
            return derivax.vmap(fun, in_axes, out_axes, axis_name, axis_size)(*args)
        _enter(frame, "vmap")
        if isinstance(in_axes, (tuple, list)):
            if len(in_axes) != len(args):
                raise ValueError(
                    f"nt.vmap: in_axes has {len(in_axes)} entries for {len(args)} arguments."
                )
            axes = tuple(in_axes)
        else:
            axes = (in_axes,) * len(args)
        sizes = []

        def record_size(leaf, ax):
            if ax is not None:
                sizes.append(leaf.shape[ax])

        for spec, arg in zip(axes, args, strict=True):
            _map_prefix(record_size, spec, arg)
        size = axis_size if axis_size is not None else (sizes[0] if sizes else None)
        if size is None:
            raise ValueError("nt.vmap: no argument is mapped; pass axis_size.")
        # As in Haiku: with split_rng each example gets its own key, the next `size` keys
        # of the sequence (next_rng_keys); without it all share one key.
        key_axis = None
        if split_rng and frame.rng is not None and size > 0:
            key, key_axis = next_rng_keys(size), 0
        else:
            key = _draw_key(frame)
            if key is not None and split_rng:
                key, key_axis = dr.split(key, size), 0
        if frame.is_init and frame.can_create and size > 0:
            # Parameters are shared by every example, so they are created outside the
            # vmap, from the first example with the key that example draws from.
            first = tuple(
                _map_prefix(
                    lambda leaf, ax: leaf if ax is None else dnp.take(leaf, 0, axis=ax), s, a
                )
                for s, a in zip(axes, args, strict=True)
            )
            _prerun(frame, fun, first, key=key if key_axis is None else key[0])

        def pure(params, state, key, *args):
            return _run_derived(frame, fun, params, state, key, args, {})

        mapped = derivax.vmap(
            pure,
            in_axes=(None, None, key_axis, *axes),
            out_axes=(out_axes, None),
            axis_name=axis_name,
            axis_size=axis_size,
        )
        try:
            out, state = mapped(frame.params, frame.state_values(), key, *args)
        except ValueError as err:
            if "out_axes is None" not in str(err):
                raise
            raise ValueError(
                "nt.vmap: a value that must be shared by every example varies along the "
                "mapped axis: either an output with out_axes=None, or state set with "
                "nt.set_state inside the mapped function (state is not mapped). Reduce it "
                "over the examples first (e.g. a mean, or BatchNorm's cross_replica_axis "
                "with axis_name), or move the stateful code outside nt.vmap."
            ) from err
        frame.set_state_values(state)
        return out

    return wrapped


# --------------------------------------------------------------------------- loops


def scan(f, init, xs, length=None, reverse=False, unroll=1):
    """``derivax.lax.scan`` for functions that use parameters, state and random keys.

    ``f(carry, x) -> (carry, y)`` may call modules: their parameters are shared by every
    step (created from the first step during ``init``), state is threaded through the
    steps, and each step draws its own keys.

    Args:
        f: the step function.
        init: the initial carry.
        xs: the sequence (leading axis scanned), or None with ``length``.
        length: the number of steps when ``xs`` is None.
        reverse: scan from the end.
        unroll: how many steps each loop iteration runs.

    Returns:
        ``(final_carry, stacked_ys)``.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> def f(xs):
        ...     cell = nt.Linear(2)
        ...     return nt.scan(lambda h, x: (cell(x) + h, h), dnp.zeros(2), xs)
        >>> t = nt.transform(f)
        >>> params = t.init(0, dnp.ones((4, 3)))
        >>> h, hs = t.apply(params, None, dnp.ones((4, 3)))
        >>> sorted(params), hs.shape
        (['linear'], (4, 2))
    """
    frame = maybe_current_frame()
    if frame is None:
        return lax.scan(f, init, xs, length=length, reverse=reverse, unroll=unroll)
    _enter(frame, "scan")
    if xs is not None:
        first = dtree.map(lambda x: x[-1 if reverse else 0], xs)
        if dtree.leaves(xs) and dtree.leaves(xs)[0].shape[0] == 0:
            first = None
    else:
        first = None
    if xs is None or first is not None:
        _prerun(frame, f, (init, first))
    key = _draw_key(frame)

    def body(carry, x):
        c, state, k = carry
        k, step_key = _split(k)
        (c, y), state = _run_derived(frame, f, frame.params, state, step_key, (c, x), {})
        return (c, state, k), y

    (c, state, _), ys = lax.scan(
        body, (init, frame.state_values(), key), xs, length=length, reverse=reverse, unroll=unroll
    )
    frame.set_state_values(state)
    return c, ys


def fori_loop(lower, upper, body_fun, init_val):
    """``derivax.lax.fori_loop`` for bodies that use parameters, state and random keys.

    Args:
        lower: the first index.
        upper: one past the last index.
        body_fun: ``body_fun(i, val) -> val``.
        init_val: the initial value.

    Returns:
        The final value.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> def f(x):
        ...     layer = nt.Linear(3, w_init=nt.initializers.Constant(0.1))
        ...     return nt.fori_loop(0, 4, lambda i, h: layer(h), x)
        >>> t = nt.transform(f)
        >>> t.apply(t.init(0, dnp.ones((1, 3))), None, dnp.ones((1, 3))).shape
        (1, 3)
    """
    frame = maybe_current_frame()
    if frame is None:
        return lax.fori_loop(lower, upper, body_fun, init_val)
    _enter(frame, "fori_loop")
    _prerun(frame, body_fun, (dnp.asarray(lower, dnp.int32), init_val))
    key = _draw_key(frame)

    def body(i, carry):
        val, state, k = carry
        k, step_key = _split(k)
        val, state = _run_derived(frame, body_fun, frame.params, state, step_key, (i, val), {})
        return val, state, k

    val, state, _ = lax.fori_loop(lower, upper, body, (init_val, frame.state_values(), key))
    frame.set_state_values(state)
    return val


# --------------------------------------------------------------------------- branches

_NO_OPERAND = object()


def switch(index, branches, *operands):
    """``derivax.lax.switch`` for branches that use parameters, state and random keys.

    During ``init`` every branch runs once, so the parameters of all of them exist.

    Args:
        index: the branch to run (clamped to the valid range).
        branches: a sequence of functions of ``*operands``.
        *operands: the branches' arguments.

    Returns:
        The output of the chosen branch.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> def f(i, x):
        ...     return nt.switch(i, [nt.Linear(2, name="a"), nt.Linear(2, name="b")], x)
        >>> t = nt.transform(f)
        >>> params = t.init(0, 0, dnp.ones((1, 3)))
        >>> sorted(params), t.apply(params, None, 1, dnp.ones((1, 3))).shape
        (['a', 'b'], (1, 2))
    """
    frame = maybe_current_frame()
    branches = tuple(branches)
    if frame is None:
        return lax.switch(index, branches, *operands)
    _enter(frame, "switch")
    for branch in branches:
        _prerun(frame, branch, operands)
    key = _draw_key(frame)

    def pure(fn):
        def run(state, key, *ops):
            return _run_derived(frame, fn, frame.params, state, key, ops, {})

        return run

    out, state = lax.switch(
        index, [pure(b) for b in branches], frame.state_values(), key, *operands
    )
    frame.set_state_values(state)
    return out


def cond(pred, true_fun, false_fun, *operands, operand=_NO_OPERAND):
    """``derivax.lax.cond`` for branches that use parameters, state and random keys.

    During ``init`` both branches run once, so the parameters of both exist.

    Args:
        pred: a boolean scalar.
        true_fun: the branch run when ``pred`` is true.
        false_fun: the branch run otherwise.
        *operands: the branches' arguments.
        operand: a single operand (the older calling convention).

    Returns:
        The output of the branch taken.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> def f(x):
        ...     return nt.cond(x.sum() > 0, nt.Linear(2, name="pos"), nt.Linear(2, name="neg"), x)
        >>> t = nt.transform(f)
        >>> sorted(t.init(0, dnp.ones((1, 3))))
        ['neg', 'pos']
    """
    if operand is not _NO_OPERAND:
        if operands:
            raise TypeError("nt.cond: pass operands positionally or as operand=, not both.")
        operands = (operand,)
    frame = maybe_current_frame()
    if frame is None:
        return lax.cond(pred, true_fun, false_fun, *operands)
    index = dnp.asarray(pred).astype(dnp.int32)
    return switch(index, (false_fun, true_fun), *operands)


# --------------------------------------------------------------------------- remat


def remat(fun, *, prevent_cse=True, policy=None, static_argnums=()):
    """``derivax.checkpoint`` for functions that use parameters, state and random keys.

    Args:
        fun: the function.
        prevent_cse: as in ``derivax.checkpoint``.
        policy: as in ``derivax.checkpoint``.
        static_argnums: positions of static arguments.

    Returns:
        The function, recomputed in the backward pass instead of storing its internals.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> t = nt.transform(lambda x: nt.remat(nt.Linear(1))(x).sum())
        >>> params = t.init(0, dnp.ones((2, 3)))
        >>> derivax.grad(t.apply)(params, None, dnp.ones((2, 3)))["linear"]["b"]
        Array([2.], dtype=float32)
    """
    static_argnums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)

    @functools.wraps(fun)
    def wrapped(*args):
        frame = maybe_current_frame()
        if frame is None:
            return derivax.checkpoint(
                fun, prevent_cse=prevent_cse, policy=policy, static_argnums=static_argnums
            )(*args)
        _enter(frame, "remat")
        _prerun(frame, fun, args)
        key = _draw_key(frame)

        def pure(params, state, key, *args):
            return _run_derived(frame, fun, params, state, key, args, {})

        out, state = derivax.checkpoint(
            pure,
            prevent_cse=prevent_cse,
            policy=policy,
            static_argnums=tuple(i + 3 for i in static_argnums),
        )(frame.params, frame.state_values(), key, *args)
        frame.set_state_values(state)
        return out

    return wrapped
