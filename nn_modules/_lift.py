"""Lifted transformations: derivax's jit, vmap, scan and checkpoint over stateful code.

A derivax transformation needs a pure function. Lifting makes one out of a scope
function ``fn(scope, *args)``: the variables under the scope and fresh keys of its RNG
streams become explicit inputs, a new root scope is built from them inside the
transformation, and the collections the call may change come back as outputs and are
written into the outer scope. Per collection, the transformation decides what happens to
the variables: `vmap` maps them along an axis or broadcasts them, `scan` broadcasts,
carries or stacks them.

The functions here work on scope functions (``nn_modules.core``); the module versions in
``nn_modules`` (`lift_transform`) apply them to a module class or to a function whose
first argument is a module.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping
from typing import Any

import derivax as dx
import derivax.numpy as dnp
import derivax.tree

from ._errors import LiftError
from ._scope import Scope, _Root, in_filter

__all__ = ["broadcast", "jit", "remat", "scan", "vmap"]


class _Broadcast:
    """Marks a scan input that is passed whole to every step instead of being sliced."""

    def __repr__(self):
        return "broadcast"


#: Use as an entry of ``in_axes`` of `scan` for an input every step sees whole.
broadcast = _Broadcast()


class _LiftContext(threading.local):
    def __init__(self):
        self.roots: list[_Root] = []


_lift_context = _LiftContext()


def check_root(scope: Scope, who: str) -> None:
    """Raise `LiftError` when ``scope`` is bound outside the innermost running lift."""
    roots = _lift_context.roots
    if roots and scope._root is not roots[-1]:
        raise LiftError(
            f"{who} is bound outside the lifted transformation that is running, so its "
            "variables cannot be traced by it. Create the module inside the transformed "
            "module, or pass it as the transformed function's first argument "
            "(nn.scan(fn)(module, ...))."
        )


def _run_inner(fn, variables, rngs, mutable, initializing, args, kwargs):
    """Run ``fn`` on a fresh root; returns ``(out, root)`` with the root already closed."""
    root = _Root(variables, mutable, rngs, initializing)
    _lift_context.roots.append(root)
    try:
        out = fn(root.scope(()), *args, **kwargs)
    finally:
        _lift_context.roots.pop()
        root.valid = False
    return out, root


def _lifted_inputs(scope: Scope, variables_filter: Any, rngs_filter: Any):
    variables = {c: t for c, t in scope.variables().items() if in_filter(variables_filter, c)}
    rngs = {n: scope.make_rng(n) for n in scope.rng_names if in_filter(rngs_filter, n)}
    return variables, rngs


def _write_back(scope: Scope, collections: Mapping) -> None:
    for col, tree in collections.items():
        if scope.is_mutable_collection(col):
            scope.put_collection(col, tree)


def _static_split(args, kwargs, static_argnums, static_argnames):
    n = len(args)
    positions = sorted({i % n for i in static_argnums if -n <= i < n})
    static = tuple((i, args[i]) for i in positions)
    dynamic = tuple(a for i, a in enumerate(args) if i not in positions)
    static_kw = tuple(sorted((k, v) for k, v in kwargs.items() if k in static_argnames))
    dynamic_kw = {k: v for k, v in kwargs.items() if k not in static_argnames}
    return static, dynamic, static_kw, dynamic_kw


def _static_merge(static, dynamic, static_kw, dynamic_kw):
    args = list(dynamic)
    for i, value in static:
        args.insert(i, value)
    return tuple(args), {**dynamic_kw, **dict(static_kw)}


# --------------------------------------------------------------------------- jit


def _jit_pure(fn, config, variables, rngs, dynamic, dynamic_kw):
    mutable, initializing, static, static_kw = config
    args, kwargs = _static_merge(static, dynamic, static_kw, dynamic_kw)
    out, root = _run_inner(fn, variables, rngs, mutable, initializing, args, kwargs)
    return out, root.mutated()


def jit(
    fn: Callable,
    variables: Any = True,
    rngs: Any = True,
    static_argnums: int | tuple[int, ...] = (),
    static_argnames: str | tuple[str, ...] = (),
) -> Callable:
    """Lifted ``derivax.jit`` of a scope function ``fn(scope, *args, **kwargs)``.

    The function is traced once per (argument shapes, mutable collections, init or apply,
    static arguments) and the compiled program is reused.

    Args:
        fn: the scope function; it must be hashable (plain functions are).
        variables: the collections passed in (default all).
        rngs: the RNG streams passed in (default all).
        static_argnums: positions in ``args`` (after the scope) that are static.
        static_argnames: keyword names that are static.

    Returns:
        ``wrapper(scope, *args, **kwargs)``.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> from nn_modules import core
        >>> def scale(scope, x):
        ...     return x * scope.param("s", derivax.nn.initializers.ones, ())
        >>> fast = core.jit(scale)
        >>> out, variables = core.init(fast)(derivax.random.key(0), dnp.arange(3.0))
        >>> core.apply(fast)(variables, dnp.arange(3.0))
        Array([0., 1., 2.], dtype=float32)
    """
    static_argnums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    static_argnames = (
        (static_argnames,) if isinstance(static_argnames, str) else tuple(static_argnames)
    )
    cache: dict = {}

    def wrapper(scope: Scope, *args, **kwargs):
        static, dynamic, static_kw, dynamic_kw = _static_split(
            args, kwargs, static_argnums, static_argnames
        )
        config = (scope.mutable, scope.is_initializing(), static, static_kw)
        key = (fn, config)
        compiled = cache.get(key)
        if compiled is None:
            name = getattr(fn, "__name__", None) or type(fn).__name__
            compiled = cache[key] = dx.jit(functools.partial(_jit_pure, fn, config), name=name)
        lifted_vars, keys = _lifted_inputs(scope, variables, rngs)
        out, mutated = compiled(lifted_vars, keys, dynamic, dynamic_kw)
        _write_back(scope, mutated)
        return out

    return wrapper


# --------------------------------------------------------------------------- remat


def remat(
    fn: Callable,
    variables: Any = True,
    rngs: Any = True,
    prevent_cse: bool = True,
    static_argnums: int | tuple[int, ...] = (),
    policy: Callable | None = None,
) -> Callable:
    """Lifted ``derivax.checkpoint``: recompute ``fn``'s intermediates in the backward pass.

    Args:
        fn: the scope function ``fn(scope, *args, **kwargs)``; keyword arguments are
            passed through as they are (e.g. ``train=True``).
        variables: the collections passed in (default all).
        rngs: the RNG streams passed in (default all).
        prevent_cse: as in ``derivax.checkpoint``.
        static_argnums: positions in ``args`` that are not arrays.
        policy: which intermediates may be saved, as in ``derivax.checkpoint``.

    Returns:
        ``wrapper(scope, *args)``.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> from nn_modules import core
        >>> def layer(scope, x):
        ...     return dnp.tanh(x * scope.param("w", derivax.nn.initializers.ones, ()))
        >>> _, v = core.init(core.remat(layer))(derivax.random.key(0), 1.0)
        >>> g = derivax.grad(lambda p: core.apply(core.remat(layer))({"params": p}, 1.0))(v["params"])
        >>> round(float(g["w"]), 4)
        0.42
    """
    static_argnums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)

    def wrapper(scope: Scope, *args, **kwargs):
        static, dynamic, _, _ = _static_split(args, {}, static_argnums, ())
        mutable, initializing = scope.mutable, scope.is_initializing()

        # Keyword arguments are closed over (settings such as train=True stay Python values).
        def pure(variables, rngs, dynamic):
            args = _static_merge(static, dynamic, (), {})[0]
            out, root = _run_inner(fn, variables, rngs, mutable, initializing, args, kwargs)
            return out, root.mutated()

        lifted_vars, keys = _lifted_inputs(scope, variables, rngs)
        checkpointed = dx.checkpoint(pure, prevent_cse=prevent_cse, policy=policy)
        out, mutated = checkpointed(lifted_vars, keys, dynamic)
        _write_back(scope, mutated)
        return out

    return wrapper


# --------------------------------------------------------------------------- vmap


def _split_spec(name: str, spec: Any) -> Callable[[str], bool]:
    if isinstance(spec, bool) or spec is None:
        return lambda stream: bool(spec)
    if isinstance(spec, str):
        return lambda stream: stream == spec
    if isinstance(spec, Mapping):
        return lambda stream: bool(spec.get(stream, False))
    raise TypeError(
        f"{name}: split_rngs must be a dict of stream name to bool (e.g. {{'params': True}}), "
        f"True or False; got {spec!r}."
    )


def _axis_of(name: str, axes: Any) -> dict:
    if axes is None:
        return {}
    if not isinstance(axes, Mapping):
        raise TypeError(
            f"{name}: variable_axes must be a dict of collection name to axis (int or None), "
            f"e.g. {{'params': 0}}; got {axes!r}."
        )
    for col, ax in axes.items():
        if not isinstance(col, str) or not (ax is None or isinstance(ax, int)):
            raise TypeError(
                f"{name}: variable_axes entries must be collection name -> int or None, got "
                f"{col!r}: {ax!r}."
            )
    return dict(axes)


def _mapped_size(args: tuple, in_axes: Any) -> int | None:
    """The size of the mapped axis, read from the first mapped array in ``args``."""

    def walk(tree, axes):
        if axes is None:
            return None
        if isinstance(axes, int):
            for leaf in derivax.tree.leaves(tree):
                shape = getattr(leaf, "shape", None)
                if shape is not None and len(shape) > (axes if axes >= 0 else -axes - 1):
                    return shape[axes]
            return None
        if isinstance(axes, (list, tuple)) and isinstance(tree, (list, tuple)):
            for sub, ax in zip(tree, axes):
                size = walk(sub, ax)
                if size is not None:
                    return size
            return None
        if isinstance(axes, Mapping) and isinstance(tree, Mapping):
            for k, ax in axes.items():
                if k in tree:
                    size = walk(tree[k], ax)
                    if size is not None:
                        return size
        return None

    return walk(args, in_axes)


def vmap(
    fn: Callable,
    variable_axes: Mapping[str, int | None] | None = None,
    split_rngs: Any = None,
    in_axes: Any = 0,
    out_axes: Any = 0,
    axis_size: int | None = None,
    axis_name: Any = None,
) -> Callable:
    """Lifted ``derivax.vmap`` of a scope function ``fn(scope, *args)``.

    Args:
        fn: the scope function; keyword arguments are passed to it unmapped.
        variable_axes: collection name -> axis along which its variables are mapped (an
            ensemble of independent parameters is ``{'params': 0}``); collections not
            listed (or mapped to None) are shared by every element and must not be written
            with per-element values.
        split_rngs: stream name -> whether each element gets its own key (``{'params':
            True}`` gives every ensemble member its own initialisation).
        in_axes: as in ``derivax.vmap``, for ``args``.
        out_axes: as in ``derivax.vmap``, for the output.
        axis_size: the mapped size, when no argument is mapped.
        axis_name: a name for collectives over the mapped axis (e.g. batch norm's
            ``axis_name``).

    Returns:
        ``wrapper(scope, *args)``.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> from nn_modules import core
        >>> def affine(scope, x):
        ...     return x * scope.param("w", derivax.random.normal, ())
        >>> ensemble = core.vmap(affine, {"params": 0}, {"params": True}, in_axes=None, axis_size=3)
        >>> out, v = core.init(ensemble)(derivax.random.key(0), 1.0)
        >>> v["params"]["w"].shape, out.shape
        ((3,), (3,))
    """
    axes = _axis_of("vmap", variable_axes)
    split = _split_spec("vmap", split_rngs)
    groups = list(dict.fromkeys([*axes.values(), None]))

    def wrapper(scope: Scope, *args, **kwargs):
        variables = scope.variables()
        size = axis_size if axis_size is not None else _mapped_size(args, in_axes)
        keys, key_axes = {}, {}
        for stream in scope.rng_names:
            key = scope.make_rng(stream)
            if split(stream):
                if size is None:
                    raise LiftError(
                        f"vmap: cannot split the {stream!r} stream without knowing the mapped "
                        "size; map at least one argument (in_axes) or pass axis_size."
                    )
                keys[stream], key_axes[stream] = dx.random.split(key, size), 0
            else:
                keys[stream], key_axes[stream] = key, None
        var_axes = {c: axes.get(c) for c in variables}
        mutable, initializing = scope.mutable, scope.is_initializing()

        def pure(variables, rngs, args):
            out, root = _run_inner(fn, variables, rngs, mutable, initializing, args, kwargs)
            mutated = root.mutated()
            grouped = tuple(
                {c: t for c, t in mutated.items() if axes.get(c) == ax} for ax in groups
            )
            return out, grouped

        try:
            out, grouped = dx.vmap(
                pure,
                in_axes=(var_axes, key_axes, in_axes),
                out_axes=(out_axes, tuple(groups)),
                axis_size=size,
                axis_name=axis_name,
            )(variables, keys, args)
        except LiftError:
            raise
        except ValueError as err:
            if "out_axes" not in str(err):
                raise
            raise LiftError(
                f"vmap: a collection without an entry in variable_axes was written with "
                f"values that differ per mapped element ({err}). Map that collection "
                "(variable_axes={'batch_stats': 0}) or average over the axis (batch norm's "
                "axis_name)."
            ) from err
        for group in grouped:
            _write_back(scope, group)
        return out

    return wrapper


# --------------------------------------------------------------------------- scan


def _moveaxis_tree(tree, src, dst):
    if src == dst:
        return tree
    return derivax.tree.map(lambda a: dnp.moveaxis(a, src, dst), tree)


def scan(
    fn: Callable,
    variable_axes: Mapping[str, int] | None = None,
    variable_broadcast: Any = False,
    variable_carry: Any = False,
    split_rngs: Any = None,
    in_axes: Any = 0,
    out_axes: int = 0,
    length: int | None = None,
    reverse: bool = False,
    unroll: int = 1,
) -> Callable:
    """Lifted ``derivax.lax.scan`` of ``fn(scope, carry, *xs) -> (carry, ys)``.

    Every step sees the same variables of the *broadcast* collections (typically
    ``'params'``, shared by all time steps of an RNN: they are created by running ``fn``
    once on the first slice during init and must not change inside the loop), threads the
    *carry* collections from step to step, and gets its own slice of the *axes*
    collections (stacked along ``variable_axes[col]``; ``{'params': 0}`` with
    ``split_rngs={'params': True}`` is a stack of independent layers). Collections not
    listed anywhere are broadcast.

    Args:
        fn: ``fn(scope, carry, *xs, **kwargs) -> (carry, ys)``; keyword arguments reach
            every step unchanged.
        variable_axes: collection -> axis of stacking.
        variable_broadcast: a collection filter of broadcast collections.
        variable_carry: a collection filter of carried collections.
        split_rngs: stream -> whether each step gets its own key.
        in_axes: the scanned axis of each ``xs`` entry (an int for all), or `broadcast`
            for an input every step sees whole.
        out_axes: the axis along which ``ys`` are stacked.
        length: the number of steps when no input is scanned.
        reverse: scan from the end.
        unroll: as in ``derivax.lax.scan``.

    Returns:
        ``wrapper(scope, carry, *xs) -> (carry, ys)``.

    Raises:
        LiftError: a collection is both mapped and broadcast, or a broadcast collection
            is written inside the loop.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> from nn_modules import core
        >>> def step(scope, h, x):
        ...     w = scope.param("w", derivax.nn.initializers.constant(0.5), ())
        ...     h = w * h + x
        ...     return h, h
        >>> rnn = core.scan(step, variable_broadcast="params")
        >>> (h, hs), v = core.init(rnn)(derivax.random.key(0), 0.0, dnp.ones(3))
        >>> hs
        Array([1.  , 1.5 , 1.75], dtype=float32)
    """
    axes = _axis_of("scan", variable_axes)
    split = _split_spec("scan", split_rngs)
    for col in axes:
        if in_filter(variable_broadcast, col) or in_filter(variable_carry, col):
            raise LiftError(
                f"scan: collection {col!r} is in variable_axes and also in variable_broadcast "
                "or variable_carry; each collection gets one role."
            )
    if not isinstance(out_axes, int):
        raise TypeError(f"scan: out_axes must be an int, got {out_axes!r}.")

    def kind(col: str) -> str:
        if col in axes:
            return "axes"
        if in_filter(variable_carry, col):
            return "carry"
        return "broadcast"

    def wrapper(scope: Scope, carry, *xs, **kwargs):
        xs_axes = in_axes if isinstance(in_axes, (tuple, list)) else (in_axes,) * len(xs)
        if len(xs_axes) != len(xs):
            raise ValueError(
                f"scan: in_axes has {len(xs_axes)} entries for {len(xs)} scanned inputs."
            )
        scanned, where = [], []
        for x, ax in zip(xs, xs_axes, strict=True):
            if ax is broadcast:
                where.append(None)
            elif isinstance(ax, int):
                where.append(len(scanned))
                scanned.append(_moveaxis_tree(x, ax, 0))
            else:
                raise TypeError(f"scan: in_axes entries must be ints or nn.broadcast, got {ax!r}.")
        n = length
        if n is None:
            leaves = derivax.tree.leaves(scanned)
            if not leaves:
                raise ValueError("scan: nothing is scanned; pass length=.")
            n = leaves[0].shape[0]

        def merge_xs(sliced):
            return tuple(xs[i] if w is None else sliced[w] for i, w in enumerate(where))

        variables = scope.variables()
        mutable, initializing = scope.mutable, scope.is_initializing()
        const_keys, step_keys = {}, {}
        for stream in scope.rng_names:
            key = scope.make_rng(stream)
            if split(stream):
                step_keys[stream] = dx.random.split(key, n)
            else:
                const_keys[stream] = key
        bcast = {c: t for c, t in variables.items() if kind(c) == "broadcast"}
        carried = {c: t for c, t in variables.items() if kind(c) == "carry"}
        stacked = {c: _moveaxis_tree(t, axes[c], 0) for c, t in variables.items() if c in axes}

        created = {}
        if initializing:
            # Broadcast and carried variables must exist before the loop: create them by
            # running the body once on the first slice (its other results are discarded).
            first = derivax.tree.map(lambda a: a[0], (scanned, stacked, step_keys))
            _, root = _run_inner(
                fn,
                {**bcast, **carried, **first[1]},
                {**const_keys, **first[2]},
                mutable,
                True,
                (carry, *merge_xs(first[0])),
                kwargs,
            )
            for col in root.written:
                if kind(col) == "broadcast":
                    bcast[col] = created[col] = root.variables[col]
                elif kind(col) == "carry":
                    carried[col] = root.variables[col]

        def body(state, x):
            user_carry, carried_vars = state
            x_user, x_vars, x_keys = x
            (new_carry, ys), root = _run_inner(
                fn,
                {**bcast, **carried_vars, **x_vars},
                {**const_keys, **x_keys},
                mutable,
                initializing,
                (user_carry, *merge_xs(x_user)),
                kwargs,
            )
            written = sorted(c for c in root.written if kind(c) == "broadcast")
            if written:
                raise LiftError(
                    f"scan: collection(s) {written} are broadcast (shared by every step) but "
                    "were written inside the loop. List them in variable_carry (state passed "
                    "from step to step) or variable_axes (one entry per step)."
                )
            new_carried = {c: root.variables[c] for c in carried_vars}
            new_stacked = {
                c: t for c, t in root.variables.items() if c in axes and in_filter(mutable, c)
            }
            return (new_carry, new_carried), (ys, new_stacked)

        (carry, carried), (ys, stacked_out) = dx.lax.scan(
            body,
            (carry, carried),
            (scanned, stacked, step_keys),
            length=n,
            reverse=reverse,
            unroll=unroll,
        )
        _write_back(scope, created)
        _write_back(scope, carried)
        _write_back(scope, {c: _moveaxis_tree(t, 0, axes[c]) for c, t in stacked_out.items()})
        return carry, _moveaxis_tree(ys, 0, out_axes)

    return wrapper
