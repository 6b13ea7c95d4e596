"""Modules: objects whose methods run with the module's name on the naming stack.

A `Module` is sugar over the functional core: constructing one picks a unique name in the
current scope (``linear``, ``linear_1``, ``mlp/~/linear_0`` for a child made in the
constructor of ``mlp``, ``mlp/linear`` for one made in its ``__call__``), and every public
method pushes that name so that `get_parameter` files parameters under it. Nothing else:
parameters live in the frame, not on the module, so calling a module twice reuses them.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import re
from typing import Any, NamedTuple

from ._base import LOCAL, Scope, current_frame, maybe_current_frame
from ._errors import ModuleNameError, NotInTransformError

__all__ = ["MethodContext", "Module", "intercept_methods", "name_scope"]

_CAMEL = re.compile(r"((?<=[a-z0-9])[A-Z]|(?!^)[A-Z](?=[a-z]))")
_NUMBERED = re.compile(r".*_\d+")


def camel_to_snake(name: str) -> str:
    """``MultiHeadAttention`` -> ``multi_head_attention``, ``Conv2D`` -> ``conv2_d``."""
    return _CAMEL.sub(r"_\1", name).lower()


def _check_name(kind: str, name, *, allow_slash: bool) -> str:
    if not isinstance(name, str) or not name:
        raise ModuleNameError(f"{kind} name must be a non-empty string, got {name!r}.")
    bad = "~" in name or (not allow_slash and "/" in name)
    bad = bad or name.startswith("/") or name.endswith("/") or "//" in name
    if bad:
        allowed = "letters, digits, '_' and (for name_scope) inner '/'"
        raise ModuleNameError(f"{kind} name {name!r} is not valid: use {allowed}.")
    return name


def unique_name(scope: Scope, base: str, *, explicit: bool) -> str:
    """Reserve a child name in ``scope``: ``base``, then ``base_1``, ``base_2``...

    An explicit name with a numeric suffix is taken as it is and must be free."""
    if explicit and _NUMBERED.fullmatch(base):
        if base in scope.used:
            where = scope.name or "the top level"
            raise ModuleNameError(
                f"module name {base!r} is already taken in {where}; choose another name= "
                "or leave it out to get a unique one."
            )
        scope.used.add(base)
        return scope.prefix() + base
    n = scope.counts.get(base, 0)
    candidate = base if n == 0 else f"{base}_{n}"
    while candidate in scope.used:
        n += 1
        candidate = f"{base}_{n}"
    scope.counts[base] = n + 1
    scope.used.add(candidate)
    return scope.prefix() + candidate


def _frame_for(cls_name: str, what: str):
    frame = maybe_current_frame()
    if frame is None:
        raise NotInTransformError(
            f"{cls_name} {what} outside a transformed function. Modules must be created and "
            "called inside a function transformed with nt.transform (or "
            "nt.transform_with_state): `f = nt.transform(lambda x: "
            f"nt.{cls_name}(...)(x))`, then `f.init(key, x)` and `f.apply(params, key, x)`."
        )
    return frame


class MethodContext(NamedTuple):
    """What an interceptor (see `intercept_methods`) learns about an intercepted call.

    Attributes:
        module: the module instance.
        method_name: the name of the method called (e.g. ``"__call__"``).
        orig_method: the undecorated method, bound to the module.
        orig_class: the class that defines the method.

    Example:
        >>> MethodContext(None, "__call__", None, None).method_name
        '__call__'
    """

    module: Any
    method_name: str
    orig_method: Any
    orig_class: type


@contextlib.contextmanager
def intercept_methods(interceptor):
    """Route every module method call through ``interceptor`` while the context is active.

    ``interceptor(next_fun, args, kwargs, context)`` is called instead of the method; it
    may inspect or change the arguments and must call ``next_fun(*args, **kwargs)`` to run
    the method (or the next interceptor). ``context`` is a `MethodContext`. Interceptors
    nest: the first one entered runs outermost.

    Args:
        interceptor: the function described above.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> calls = []
        >>> def log(next_fun, args, kwargs, context):
        ...     calls.append(f"{context.module.module_name}.{context.method_name}")
        ...     return next_fun(*args, **kwargs)
        >>> def forward(x):
        ...     with nt.intercept_methods(log):
        ...         return nt.nets.MLP([3, 2])(x)
        >>> _ = nt.transform(forward).init(0, dnp.ones((1, 4)))
        >>> calls
        ['mlp.__call__', 'mlp/~/linear_0.__call__', 'mlp/~/linear_1.__call__']
    """
    LOCAL.interceptors.append(interceptor)
    try:
        yield
    finally:
        LOCAL.interceptors.remove(interceptor)


def _run_intercepted(run, args, kwargs, context):
    interceptors = tuple(LOCAL.interceptors)

    def call(i, a, k):
        if i == len(interceptors):
            return run(*a, **k)
        return interceptors[i](lambda *a2, **k2: call(i + 1, a2, k2), a, k, context)

    return call(0, args, kwargs)


def _wrap_method(method, method_name: str):
    @functools.wraps(method)
    def wrapped(self, *args, **kwargs):
        frame = _frame_for(type(self).__name__, f".{method_name} was called")
        if not hasattr(self, "module_name"):
            raise TypeError(
                f"{type(self).__name__}.{method_name} was called before the module was named: "
                "its __init__ must call super().__init__(name=name) first."
            )

        def run(*a, **k):
            frame.naming.stack.append(Scope(self.module_name, module=self))
            try:
                return method(self, *a, **k)
            finally:
                frame.naming.stack.pop()

        if not LOCAL.interceptors:
            return run(*args, **kwargs)
        context = MethodContext(self, method_name, functools.partial(method, self), type(self))
        return _run_intercepted(run, args, kwargs, context)

    wrapped.__nt_wrapped__ = True
    return wrapped


def _wrap_init(init):
    @functools.wraps(init)
    def wrapped(self, *args, **kwargs):
        frame = _frame_for(type(self).__name__, "was created")
        stack = frame.naming.stack
        scope = Scope(getattr(self, "module_name", None), module=self, ctor=True)
        for outer in stack:  # a subclass __init__ running its parent's: one set of names
            if outer.module is self and outer.ctor:
                scope.counts, scope.used = outer.counts, outer.used
        stack.append(scope)
        try:
            init(self, *args, **kwargs)
        finally:
            stack.pop()
        if not hasattr(self, "module_name"):
            raise TypeError(
                f"{type(self).__name__}.__init__ must call super().__init__(name=name) before "
                "it returns (that is where the module gets its name)."
            )

    wrapped.__nt_wrapped__ = True
    return wrapped


class Module:
    """Base class of modules: named objects whose methods own parameters.

    Subclasses call ``super().__init__(name=name)`` first in their ``__init__`` and create
    parameters with `get_parameter` in their methods. The name defaults to the class name
    in snake case and is made unique in its scope; ``module_name`` is the full path
    (``mlp/~/linear_0``) and the key of the module's parameters in ``params``.

    Args:
        name: the module's name (default: from the class name).

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> class Scale(nt.Module):
        ...     def __call__(self, x):
        ...         s = nt.get_parameter("s", (x.shape[-1],), init=dnp.ones)
        ...         return x * s
        >>> t = nt.transform(lambda x: Scale()(x) + Scale(name="other")(x))
        >>> sorted(t.init(None, dnp.ones(3)))
        ['other', 'scale']
    """

    module_name: str
    name: str

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for attr, value in list(vars(cls).items()):
            if isinstance(value, property) and inspect.isfunction(value.fget):
                if not attr.startswith("_") and not getattr(value.fget, "__nt_wrapped__", False):
                    getter = _wrap_method(value.fget, attr)
                    setattr(cls, attr, property(getter, value.fset, value.fdel, value.__doc__))
                continue
            if not inspect.isfunction(value) or getattr(value, "__nt_wrapped__", False):
                continue
            if attr == "__init__":
                setattr(cls, attr, _wrap_init(value))
            elif attr == "__call__" or not attr.startswith("_"):
                setattr(cls, attr, _wrap_method(value, attr))

    def __init__(self, name: str | None = None):
        frame = _frame_for(type(self).__name__, "was created")
        explicit = name is not None
        base = name if explicit else camel_to_snake(type(self).__name__)
        _check_name("module", base, allow_slash=False)
        naming = frame.naming
        full = unique_name(naming.parent_of(self), base, explicit=explicit)
        self.module_name = full
        self.name = full.rsplit("/", 1)[-1]
        for scope in naming.stack:
            if scope.module is self:
                scope.name = full

    def params_dict(self) -> dict:
        """The parameters of this module and of the modules under it, by module name.

        Example:
            >>> import derivax.numpy as dnp
            >>> import nn_transform as nt
            >>> def f(x):
            ...     mlp = nt.nets.MLP([2, 2])
            ...     mlp(x)
            ...     return sorted(mlp.params_dict())
            >>> t = nt.transform(f)
            >>> t.apply(t.init(0, dnp.ones((1, 3))), None, dnp.ones((1, 3)))
            ['mlp/~/linear_0', 'mlp/~/linear_1']
        """
        params = current_frame("Module.params_dict").params
        return {k: v for k, v in params.items() if _owned(k, self.module_name)}

    def state_dict(self) -> dict:
        """The current state of this module and of the modules under it, by module name.

        Example:
            >>> import derivax.numpy as dnp
            >>> import nn_transform as nt
            >>> def f(x):
            ...     bn = nt.BatchNorm(True, True, 0.9)
            ...     bn(x, is_training=True)
            ...     return sorted(bn.state_dict())
            >>> nt.transform_with_state(f).apply(
            ...     *nt.transform_with_state(f).init(None, dnp.ones((2, 3))), None, dnp.ones((2, 3))
            ... )[0]
            ['batch_norm/~/mean_ema', 'batch_norm/~/var_ema']
        """
        frame = current_frame("Module.state_dict")
        values = frame.state_values()
        return {k: v for k, v in values.items() if _owned(k, self.module_name)}

    def __repr__(self):
        name = getattr(self, "module_name", "<unnamed>")
        return f"{type(self).__name__}(name={name!r})"


def _owned(key: str, module_name: str) -> bool:
    return key == module_name or key.startswith(module_name + "/")


@contextlib.contextmanager
def name_scope(name: str):
    """Put the parameters and modules created in the block under ``name``.

    Inside a module, the scope is nested under the module (``mlp/block``); names are made
    unique like module names, and the same scope in a method called twice is the same
    scope each time (its parameters are reused).

    Args:
        name: the scope's name; inner ``/`` make nested scopes.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> def f():
        ...     with nt.name_scope("block"):
        ...         return nt.get_parameter("w", (), init=dnp.zeros)
        >>> nt.transform(f).init(None)
        {'block': {'w': Array(0., dtype=float32)}}
    """
    frame = current_frame("name_scope")
    _check_name("name_scope", name, allow_slash=True)
    full = unique_name(frame.naming.top, name, explicit=False)
    frame.naming.stack.append(Scope(full))
    try:
        yield
    finally:
        frame.naming.stack.pop()
