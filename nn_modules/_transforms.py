"""Lifted transformations over modules: ``nn.jit``, ``nn.vmap``, ``nn.scan``, ``nn.remat``.

Each takes a target that is either a `Module` subclass, giving a subclass whose methods
run under the transformation (``nn.vmap(nn.Dense, ...)(features)`` is a module), or a
function ``fn(module, *args)`` whose first argument is a bound module, giving a function
with the same signature (``nn.scan(step, ...)(self.cell, carry, xs)``). Either way the
variables of the module's scope flow through the transformation of the functional core
(`nn_modules.core`), so parameter trees keep their structure and names.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from typing import Any

from . import _lift as lift_core
from ._errors import LiftError, UnboundModuleError
from ._module import Module, _map_modules

__all__ = ["jit", "remat", "scan", "vmap"]


def _rebuild(module: Module, cls: type, parent: Any) -> Module:
    """``module`` as an instance of ``cls`` (a base of its class) with a new parent."""

    def detach(m: Module, suffix: str) -> Module:
        return m.clone(parent=None) if m.parent is module else m

    values = {
        f.name: _map_modules(getattr(module, f.name), detach)
        for f in dataclasses.fields(cls)
        if f.init and f.name != "parent"
    }
    return cls(**values, parent=parent)


def _call_in_scope(scope, spec, *args, **kwargs):
    """Run ``spec`` = (module definition, method or function) bound to ``scope``."""
    definition, target = spec
    inner = _rebuild(definition, type(definition), scope)
    if isinstance(target, str):
        return getattr(type(inner), target)(inner, *args, **kwargs)
    return target(inner, *args, **kwargs)


def _bound_call(spec):
    def call(scope, *args, **kwargs):
        return _call_in_scope(scope, spec, *args, **kwargs)

    return call


def _scope_of(module: Any, who: str):
    if not isinstance(module, Module):
        raise LiftError(
            f"{who}: the first argument of a lifted function must be a Module, got "
            f"{type(module).__name__}."
        )
    if module.scope is None:
        raise UnboundModuleError(
            f"{who}: the module {type(module).__name__} is not bound; call the lifted function "
            "inside init/apply (from a @compact method or setup)."
        )
    return module.scope


def _lift_target(target: Any, make: Callable, kind: str, methods: Any, jit_like: bool) -> Any:
    """Apply ``make(fn)`` (a core transformation) to a module class or a module function."""
    if isinstance(target, type) and issubclass(target, Module):
        names = ["__call__"] if methods is None else list(methods)
        attrs: dict[str, Any] = {"setup": lambda self: None, "__module__": target.__module__}
        for name in names:
            if not callable(getattr(target, name, None)):
                raise LiftError(f"nn.{kind.lower()}: {target.__name__} has no method {name!r}.")
            attrs[name] = _lifted_method(target, name, make, jit_like)
        cls = type(f"{kind}{target.__name__}", (target,), attrs)
        cls.__doc__ = f"{target.__name__} under nn.{kind.lower()} (see nn_modules.{kind.lower()})."
        return cls
    if callable(target):
        return _lifted_function(target, make, kind, jit_like)
    raise LiftError(
        f"nn.{kind.lower()}: the target must be a Module subclass or a function "
        f"fn(module, *args), got {target!r}."
    )


def _lifted_method(target: type, name: str, make: Callable, jit_like: bool) -> Callable:
    core = make(_call_in_scope) if jit_like else None

    def method(self, *args, **kwargs):
        scope = _scope_of(self, f"{type(self).__name__}.{name}")
        definition = _rebuild(self, target, None)
        if jit_like:
            return core(scope, (definition, name), *args, **kwargs)
        return make(_bound_call((definition, name)))(scope, *args, **kwargs)

    method.__name__ = name
    method.__qualname__ = f"{target.__name__}.{name}"
    return method


def _lifted_function(fn: Callable, make: Callable, kind: str, jit_like: bool) -> Callable:
    core = make(_call_in_scope) if jit_like else None

    @functools.wraps(fn)
    def lifted(module, *args, **kwargs):
        scope = _scope_of(module, f"nn.{kind.lower()}({getattr(fn, '__name__', fn)})")
        definition = _rebuild(module, type(module), None)
        if jit_like:
            return core(scope, (definition, fn), *args, **kwargs)
        return make(_bound_call((definition, fn)))(scope, *args, **kwargs)

    return lifted


def _shift(argnums: Any) -> tuple[int, ...]:
    argnums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if any(i < 0 for i in argnums):
        raise ValueError("nn.jit: static_argnums must be non-negative positions.")
    return (0, *(i + 1 for i in argnums))


def jit(
    target: Any,
    variables: Any = True,
    rngs: Any = True,
    static_argnums: int | tuple[int, ...] = (),
    static_argnames: str | tuple[str, ...] = (),
    methods: Any = None,
) -> Any:
    """Lifted ``derivax.jit``: compile a module's method (or a function of a module).

    Args:
        target: a Module subclass, or a function ``fn(module, *args)``.
        variables: the collections passed through (default all).
        rngs: the RNG streams passed through (default all).
        static_argnums: positions of static arguments, counted after ``self`` (or after
            the module argument of a function target).
        static_argnames: names of static keyword arguments (e.g. ``'train'``).
        methods: the methods to compile (default ``['__call__']``).

    Returns:
        A Module subclass named ``Jit<Name>`` or a function.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> import nn_modules as nn
        >>> model = nn.jit(nn.Dense)(2)
        >>> variables = model.init(derivax.random.key(0), dnp.ones((1, 3)))
        >>> model.apply(variables, dnp.ones((1, 3))).shape
        (1, 2)
    """
    make = functools.partial(
        lift_core.jit,
        variables=variables,
        rngs=rngs,
        static_argnums=_shift(static_argnums),
        static_argnames=static_argnames,
    )
    return _lift_target(target, make, "Jit", methods, jit_like=True)


def remat(
    target: Any,
    variables: Any = True,
    rngs: Any = True,
    prevent_cse: bool = True,
    static_argnums: int | tuple[int, ...] = (),
    policy: Callable | None = None,
    methods: Any = None,
) -> Any:
    """Lifted ``derivax.checkpoint``: recompute a module's activations in the backward pass.

    Args:
        target: a Module subclass, or a function ``fn(module, *args)``.
        variables: the collections passed through (default all).
        rngs: the RNG streams passed through (default all).
        prevent_cse: as in ``derivax.checkpoint``.
        static_argnums: positions (after ``self``) of non-array arguments.
        policy: which intermediates may be saved.
        methods: the methods to wrap (default ``['__call__']``).

    Returns:
        A Module subclass named ``Checkpoint<Name>`` or a function.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> import nn_modules as nn
        >>> model = nn.remat(nn.Dense)(2)
        >>> v = model.init(derivax.random.key(0), dnp.ones((1, 3)))
        >>> g = derivax.grad(lambda p: model.apply({"params": p}, dnp.ones((1, 3))).sum())(v["params"])
        >>> g["kernel"].shape
        (3, 2)
    """
    make = functools.partial(
        lift_core.remat,
        variables=variables,
        rngs=rngs,
        prevent_cse=prevent_cse,
        static_argnums=static_argnums,
        policy=policy,
    )
    return _lift_target(target, make, "Checkpoint", methods, jit_like=False)


def vmap(
    target: Any,
    variable_axes: Mapping[str, int | None] | None = None,
    split_rngs: Any = None,
    in_axes: Any = 0,
    out_axes: Any = 0,
    axis_size: int | None = None,
    axis_name: Any = None,
    methods: Any = None,
) -> Any:
    """Lifted ``derivax.vmap``: map a module over an axis of its inputs.

    With ``variable_axes={'params': 0}`` and ``split_rngs={'params': True}`` every mapped
    element has its own parameters (an ensemble); with ``variable_axes={}`` the parameters
    are shared (per-example code, as when the module expects unbatched inputs).

    Args:
        target: a Module subclass, or a function ``fn(module, *args)``.
        variable_axes: collection -> mapped axis (None or absent: shared).
        split_rngs: stream -> whether each element gets its own key.
        in_axes: as in ``derivax.vmap``, for the method's arguments.
        out_axes: as in ``derivax.vmap``, for its output.
        axis_size: the mapped size when no argument is mapped.
        axis_name: name of the mapped axis for collectives.
        methods: the methods to map (default ``['__call__']``).

    Returns:
        A Module subclass named ``Vmap<Name>`` or a function.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> import nn_modules as nn
        >>> Ensemble = nn.vmap(nn.Dense, variable_axes={"params": 0}, split_rngs={"params": True},
        ...                    in_axes=None, axis_size=4)
        >>> v = Ensemble(2).init(derivax.random.key(0), dnp.ones((1, 3)))
        >>> v["params"]["kernel"].shape
        (4, 3, 2)
    """
    make = functools.partial(
        lift_core.vmap,
        variable_axes=variable_axes,
        split_rngs=split_rngs,
        in_axes=in_axes,
        out_axes=out_axes,
        axis_size=axis_size,
        axis_name=axis_name,
    )
    make(_bound_call(None))  # validates the settings now rather than at the first call
    return _lift_target(target, make, "Vmap", methods, jit_like=False)


def scan(
    target: Any,
    variable_axes: Mapping[str, int] | None = None,
    variable_broadcast: Any = False,
    variable_carry: Any = False,
    split_rngs: Any = None,
    in_axes: Any = 0,
    out_axes: int = 0,
    length: int | None = None,
    reverse: bool = False,
    unroll: int = 1,
    methods: Any = None,
) -> Any:
    """Lifted ``derivax.lax.scan``: loop a module's step ``(carry, *xs) -> (carry, ys)``.

    An RNN shares its parameters across time steps: ``variable_broadcast='params'``. A
    stack of identical layers has one set per step: ``variable_axes={'params': 0}`` with
    ``split_rngs={'params': True}``. State passed from step to step is
    ``variable_carry``.

    Args:
        target: a Module subclass whose method takes ``(carry, *xs)``, or a function
            ``fn(module, carry, *xs)``.
        variable_axes: collection -> stacking axis.
        variable_broadcast: collections shared by every step (read-only in the loop).
        variable_carry: collections threaded through the steps.
        split_rngs: stream -> whether each step gets its own key.
        in_axes: scanned axis of the inputs (an int, or ``nn.broadcast`` per input).
        out_axes: axis along which the outputs are stacked.
        length: number of steps when nothing is scanned.
        reverse: scan from the end.
        unroll: steps per loop iteration.
        methods: the methods to scan (default ``['__call__']``).

    Returns:
        A Module subclass named ``Scan<Name>`` or a function.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> import nn_modules as nn
        >>> def step(cell, carry, x):
        ...     return cell(carry, x)
        >>> class Encoder(nn.Module):
        ...     @nn.compact
        ...     def __call__(self, xs):
        ...         cell = nn.GRUCell(4)
        ...         carry = cell.initialize_carry(None, xs[0].shape)
        ...         scan = nn.scan(step, variable_broadcast="params", split_rngs={"params": False})
        ...         return scan(cell, carry, xs)[1]
        >>> ys, v = Encoder().init_with_output(derivax.random.key(0), dnp.ones((5, 2, 3)))
        >>> ys.shape, v["params"]["GRUCell_0"]["ir"]["kernel"].shape
        ((5, 2, 4), (3, 4))
    """
    make = functools.partial(
        lift_core.scan,
        variable_axes=variable_axes,
        variable_broadcast=variable_broadcast,
        variable_carry=variable_carry,
        split_rngs=split_rngs,
        in_axes=in_axes,
        out_axes=out_axes,
        length=length,
        reverse=reverse,
        unroll=unroll,
    )
    make(_bound_call(None))  # validates the settings now rather than at the first call
    return _lift_target(target, make, "Scan", methods, jit_like=False)
