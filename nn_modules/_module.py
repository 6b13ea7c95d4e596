"""`Module`: dataclass syntax over the functional core.

A `Module` subclass is a dataclass of hyperparameters. Unbound, an instance is only a
description; ``init``/``apply``/``bind`` clone it and bind the clone to a `Scope` of the
functional core, which holds its variables and RNG streams. Submodules are bound to child
scopes named after them:

* inside the ``@compact`` method, ``Dense(3)`` is named automatically (``Dense_0``,
  ``Dense_1``, ... counted per class and per call) unless ``name=`` is given;
* inside ``setup()``, ``self.dense = Dense(3)`` is named after the attribute (lists and
  dicts get ``layers_0`` and ``blocks_key``);
* modules held in dataclass fields (``Sequential(layers=[...])``, ``RNN(cell=...)``) that
  are not bound yet are adopted by the module holding them and named after the field.

Calling a submodule instance twice reuses its variables (tied weights).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import threading
from collections.abc import Callable, Mapping
from typing import Any

from . import _scope
from ._errors import (
    AssignSubModuleError,
    FrozenModuleError,
    MultipleCompactMethodsError,
    NameInUseError,
    UnboundModuleError,
)
from ._lift import check_root
from ._scope import CollectionFilter, DenyList, Scope, Variable

__all__ = ["Module", "compact", "nowrap"]


class _Unspecified:
    def __repr__(self):
        return "<unspecified parent>"


_UNSPECIFIED = _Unspecified()


class _Context(threading.local):
    def __init__(self):
        self.module_stack: list[Module] = []
        self.interceptors: list[Callable] = []


_context = _Context()


def compact(fun: Callable) -> Callable:
    """Mark the one method of a module that declares submodules and variables inline.

    Inside a compact method, ``Dense(3)(x)`` creates a submodule named ``Dense_0`` (then
    ``Dense_1``, ...) and ``self.param(...)`` creates a parameter, next to where they are
    used. A class has at most one compact method.

    Args:
        fun: the method, usually ``__call__``.

    Returns:
        The same function, marked.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> import nn_modules as nn
        >>> class MLP(nn.Module):
        ...     @nn.compact
        ...     def __call__(self, x):
        ...         h = nn.relu(nn.Dense(4)(x))  # Dense_0
        ...         return nn.Dense(2)(h)  # Dense_1
        >>> variables = MLP().init(derivax.random.key(0), dnp.ones((1, 3)))
        >>> sorted(variables["params"])
        ['Dense_0', 'Dense_1']
    """
    fun.compact = True
    return fun


def nowrap(fun: Callable) -> Callable:
    """Mark a helper method that must not be treated as a module method.

    Module methods are wrapped so that submodules created inside them find their parent
    and ``setup`` runs first; a ``nowrap`` helper runs as a plain function (useful for
    methods that only compute shapes or build other modules' arguments).

    Args:
        fun: the method.

    Returns:
        The same function, marked.

    Example:
        >>> import nn_modules as nn
        >>> class Block(nn.Module):
        ...     features: int = 4
        ...     @nn.nowrap
        ...     def doubled(self):
        ...         return 2 * self.features
        >>> Block().doubled()
        8
    """
    fun.nowrap = True
    return fun


# Methods of Module itself (and names of its machinery) are never wrapped.
_NOT_WRAPPED = frozenset(
    {
        "setup",
        "param",
        "variable",
        "make_rng",
        "has_rng",
        "is_mutable_collection",
        "is_initializing",
        "has_variable",
        "get_variable",
        "put_variable",
        "sow",
        "init",
        "init_with_output",
        "apply",
        "bind",
        "unbind",
        "clone",
        "tabulate",
    }
)


def _should_wrap(name: str, value: Any) -> bool:
    if name in _NOT_WRAPPED or (name.startswith("_") and name != "__call__"):
        return False
    if not callable(value) or isinstance(value, (staticmethod, classmethod, type)):
        return False
    if getattr(value, "nowrap", False) or getattr(value, "_nn_wrapped", False):
        return False
    return hasattr(value, "__code__")  # plain functions only


def _wrap_method(fun: Callable) -> Callable:
    @functools.wraps(fun)
    def wrapped(self, *args, **kwargs):
        return self._call_wrapped(fun, args, kwargs)

    wrapped._nn_wrapped = True
    wrapped._nn_method = fun
    return wrapped


def _map_modules(value: Any, fn: Callable, suffix: str = "") -> Any:
    """Apply ``fn(module, suffix)`` to modules in ``value`` (nested lists, tuples, dicts)."""
    if isinstance(value, Module):
        return fn(value, suffix)
    if type(value) in (list, tuple):
        return type(value)(_map_modules(v, fn, f"{suffix}_{i}") for i, v in enumerate(value))
    if type(value) is dict:
        return {k: _map_modules(v, fn, f"{suffix}_{k}") for k, v in value.items()}
    return value


def _hashable(value: Any) -> Any:
    if isinstance(value, Module):
        return value._definition_key()
    if type(value) in (list, tuple):
        return (type(value).__name__, *map(_hashable, value))
    if type(value) is dict:
        return ("dict", *((k, _hashable(v)) for k, v in value.items()))
    try:
        hash(value)
    except TypeError:
        return ("id", id(value))
    return value


def _append(stored: tuple, value: Any) -> tuple:
    return (*stored, value)


def _calls_only(module: Module, method_name: str) -> bool:
    return method_name == "__call__"


#: What ``init`` creates and returns by default: everything but sown intermediates.
_INIT_MUTABLE = DenyList("intermediates")


def _with_intermediates(mutable: CollectionFilter) -> CollectionFilter:
    """``mutable`` widened to include the ``'intermediates'`` collection."""
    if mutable is True:
        return True
    if isinstance(mutable, DenyList):
        deny = tuple(c for c in mutable.deny if c != "intermediates")
        return DenyList(deny) if deny else True
    names = () if mutable is False else tuple(mutable)
    return names if "intermediates" in names else (*names, "intermediates")


def _capture_filter(who: str, capture: Any) -> Callable | None:
    if capture is False or capture is None:
        return None
    if capture is True:
        return _calls_only
    if callable(capture):
        return capture
    raise TypeError(
        f"{who}: capture_intermediates must be True, False or a function "
        f"filter(module, method_name) -> bool, got {capture!r}."
    )


class _ModuleState:
    __slots__ = (
        "in_setup",
        "setup_called",
        "compact_depth",
        "cursor",
        "call_names",
        "setup_names",
        "adopted",
    )

    def __init__(self):
        self.in_setup = False
        self.setup_called = False
        self.compact_depth = 0
        self.cursor: dict[str, int] = {}
        self.call_names: dict[str, set] = {}
        self.setup_names: dict[str, set] = {}
        self.adopted: list[Module] = []


class Module:
    """Base class of every layer and model: a dataclass of hyperparameters.

    Subclasses declare hyperparameters as annotated class attributes and define their
    computation in a ``@compact`` method (declaring submodules and parameters inline) or
    in ``setup()`` plus ordinary methods. Every subclass also accepts the keyword-only
    fields ``name`` (its name in the parent, default automatic) and ``parent`` (set
    automatically).

    An instance holds no arrays. ``init`` creates the variables, ``apply`` runs a method
    with given variables, ``bind`` attaches variables for interactive use. A subclass that
    defines ``__post_init__`` must call ``super().__post_init__()``.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> import nn_modules as nn
        >>> class Affine(nn.Module):
        ...     features: int
        ...     @nn.compact
        ...     def __call__(self, x):
        ...         w = self.param("w", nn.initializers.ones, (x.shape[-1], self.features))
        ...         b = self.param("b", nn.initializers.zeros, (self.features,))
        ...         return x @ w + b
        >>> model = Affine(2)
        >>> variables = model.init(derivax.random.key(0), dnp.ones((1, 3)))
        >>> model.apply(variables, dnp.ones((1, 3)))
        Array([[3., 3.]], dtype=float32)
    """

    scope: Scope | None = None

    # -- class construction -------------------------------------------------------------

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        annotations = dict(cls.__dict__.get("__annotations__", {}))
        for reserved in ("parent", "name", "scope"):
            if reserved in annotations:
                raise TypeError(
                    f"{cls.__name__}: {reserved!r} is a reserved Module attribute; rename the "
                    "field."
                )
        annotations["parent"] = "Any"
        annotations["name"] = "str | None"
        cls.__annotations__ = annotations
        cls.parent = dataclasses.field(
            default=_UNSPECIFIED, kw_only=True, repr=False, compare=False
        )
        cls.name = dataclasses.field(default=None, kw_only=True)
        dataclasses.dataclass(cls, eq=False, repr=True)
        for attr, value in list(cls.__dict__.items()):
            if _should_wrap(attr, value):
                setattr(cls, attr, _wrap_method(value))
        compact_methods = sorted(
            attr
            for attr in dir(cls)
            if getattr(getattr(getattr(cls, attr, None), "_nn_method", None), "compact", False)
        )
        if len(compact_methods) > 1:
            raise MultipleCompactMethodsError(
                f"{cls.__name__} has several @compact methods {compact_methods}; a module has "
                "at most one. Keep @compact on one method and move shared submodules into "
                "setup()."
            )

    def __post_init__(self):
        object.__setattr__(self, "_state", _ModuleState())
        object.__setattr__(self, "scope", None)
        if self.name is not None and (not isinstance(self.name, str) or "/" in self.name):
            raise ValueError(
                f"{type(self).__name__}: name must be a string without '/', got {self.name!r}."
            )
        parent = self.parent
        if parent is _UNSPECIFIED:
            parent = _context.module_stack[-1] if _context.module_stack else None
            object.__setattr__(self, "parent", parent)
        self._adopt_field_modules()
        if isinstance(parent, Scope):
            self._bind(parent)
        elif isinstance(parent, Module) and parent.scope is not None:
            pstate = parent._state
            if pstate.in_setup:
                if self.name is not None:
                    parent._register_child(self, self.name)
                # else: named when assigned to an attribute (or adopted by a container)
            elif pstate.compact_depth > 0:
                name = self.name if self.name is not None else parent._autoname(type(self))
                parent._register_child(self, name)
            else:
                raise AssignSubModuleError(
                    f"{type(self).__name__} was created inside a method of "
                    f"{type(parent).__name__} that is neither setup() nor @compact, so it "
                    "cannot be named or hold variables. Create it in setup() (assigned to an "
                    "attribute) or mark the method with @nn.compact."
                )
        elif parent is not None and not isinstance(parent, Module):
            raise TypeError(
                f"{type(self).__name__}: parent must be a Module, a Scope or None, got "
                f"{type(parent).__name__}."
            )

    def _adopt_field_modules(self) -> None:
        # One instance held in several fields is adopted once, under the first field's
        # name, so its variables are shared (as in Flax).
        adopted: dict[int, Module] = {}
        for f in dataclasses.fields(self):
            if f.name in ("parent", "name"):
                continue
            value = getattr(self, f.name, None)

            def adopt(m: Module, suffix: str, field_name=f.name) -> Module:
                if m.scope is not None:
                    return m  # bound elsewhere: a shared reference, not ours to name
                if id(m) in adopted:
                    return adopted[id(m)]
                child = m.clone(parent=self, name=m.name or field_name + suffix)
                adopted[id(m)] = child
                self._state.adopted.append(child)
                return child

            new = _map_modules(value, adopt)
            if new is not value:
                object.__setattr__(self, f.name, new)

    # -- naming and binding -------------------------------------------------------------

    def _owner(self) -> str:
        path = self.scope.path_text if self.scope is not None else "(unbound)"
        return f"{type(self).__name__} at {path}"

    def _reserve(self, name: str, col: str | None, persistent: bool) -> None:
        """Register a submodule (col None) or variable name; raise on a collision."""
        st = self._state
        kind = "submodule" if col is None else f"variable of collection {col!r}"
        for table in (st.setup_names, st.call_names):
            used = table.get(name)
            if used is None:
                continue
            if col is None or None in used or col in used:
                other = (
                    "submodule" if None in used else f"variable of collection {sorted(used)[0]!r}"
                )
                raise NameInUseError(
                    f"Could not create {kind} {name!r} in {self._owner()}: the name is already "
                    f"used by a {other}. Give each submodule and variable a distinct name (to "
                    "share one submodule, create it once and call that instance twice)."
                )
        table = st.setup_names if persistent else st.call_names
        table.setdefault(name, set()).add(col)

    def _autoname(self, cls: type) -> str:
        st = self._state
        prefix = cls.__name__
        i = st.cursor.get(prefix, 0)
        while True:
            name = f"{prefix}_{i}"
            i += 1
            if name not in st.call_names and name not in st.setup_names:
                break
        st.cursor[prefix] = i
        return name

    def _register_child(self, child: Module, name: str) -> None:
        self._reserve(name, None, persistent=self._state.in_setup)
        object.__setattr__(child, "name", name)
        child._bind(self.scope.push(name))

    def _bind(self, scope: Scope) -> None:
        object.__setattr__(self, "scope", scope)
        for child in self._state.adopted:
            self._reserve(child.name, None, persistent=True)
            child._bind(scope.push(child.name))

    def __setattr__(self, name: str, value: Any) -> None:
        state = self.__dict__.get("_state")
        if state is None:  # the dataclass __init__ is still assigning fields
            object.__setattr__(self, name, value)
            return
        if not state.in_setup:
            raise FrozenModuleError(
                f"Cannot set attribute {name!r} of {self._owner()}: module attributes are "
                "fixed after construction. Pass it to the constructor, use "
                f"module.clone({name}=...), or assign it inside setup()."
            )

        def register(m: Module, suffix: str) -> Module:
            if m.scope is None and (m.parent is self or m.parent is None):
                self._register_child(m, m.name or name + suffix)
            return m

        if self.scope is not None:
            value = _map_modules(value, register)
        object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: attributes defined in setup() appear here
        # before setup has run.
        if name.startswith("__") or name in ("_state", "scope"):
            raise AttributeError(name)
        state = self.__dict__.get("_state")
        if state is not None and self.__dict__.get("scope") is not None:
            if not state.setup_called and not state.in_setup:
                self._try_setup()
                if name in self.__dict__:
                    return self.__dict__[name]
        elif type(self).setup is not Module.setup:
            raise UnboundModuleError(
                f"{type(self).__name__} has no attribute {name!r} yet: attributes assigned "
                "in setup() exist only on a bound module. Use model.init / model.apply, or "
                "model.bind(variables) for interactive use."
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _try_setup(self) -> None:
        st = self._state
        if st.setup_called or st.in_setup:
            return
        st.in_setup = True
        _context.module_stack.append(self)
        try:
            self.setup()
        finally:
            _context.module_stack.pop()
            st.in_setup = False
            st.setup_called = True

    def setup(self) -> None:
        """Define submodules and variables as attributes; runs lazily on a bound module.

        Override it instead of ``__init__`` (which the dataclass owns). Attributes that are
        modules are named after the attribute.

        Example:
            >>> import derivax, derivax.numpy as dnp
            >>> import nn_modules as nn
            >>> class Twice(nn.Module):
            ...     def setup(self):
            ...         self.dense = nn.Dense(2)
            ...     def __call__(self, x):
            ...         return self.dense(self.dense(x))
            >>> v = Twice().init(derivax.random.key(0), dnp.ones((1, 2)))
            >>> list(v["params"])
            ['dense']
        """

    def _call_wrapped(self, fun: Callable, args: tuple, kwargs: dict) -> Any:
        is_compact = getattr(fun, "compact", False)
        if self.scope is None:
            if is_compact:
                raise UnboundModuleError(
                    f"Can't call the @compact method {fun.__name__} of an unbound "
                    f"{type(self).__name__}: it has no variables. Use "
                    "variables = model.init(key, x) and model.apply(variables, x), or "
                    "model.bind(variables)(x) for interactive use."
                )
            return fun(self, *args, **kwargs)
        self.scope._check_valid()
        check_root(self.scope, self._owner())
        self._try_setup()
        st = self._state
        finish = [ic(self, fun.__name__, args, kwargs) for ic in _context.interceptors]
        _context.module_stack.append(self)
        if is_compact:
            if st.compact_depth == 0:
                st.cursor = {}
                st.call_names = {}
            st.compact_depth += 1
        try:
            out = fun(self, *args, **kwargs)
        finally:
            if is_compact:
                st.compact_depth -= 1
            _context.module_stack.pop()
        for done in finish:
            done(out)
        return out

    # -- variables ----------------------------------------------------------------------

    def _require_scope(self, what: str) -> Scope:
        if self.scope is None:
            raise UnboundModuleError(
                f"{type(self).__name__}.{what} needs a bound module: call it inside init / "
                "apply (from a @compact method or setup), or on model.bind(variables)."
            )
        return self.scope

    def _variable_name_slot(self, name: str, col: str) -> None:
        st = self._state
        if st.in_setup:
            self._reserve(name, col, persistent=True)
        elif st.compact_depth > 0:
            self._reserve(name, col, persistent=False)
        # elsewhere (a plain method of a bound module): reading existing variables is fine

    def param(self, name: str, init_fn: Callable, *init_args: Any, **init_kwargs: Any) -> Any:
        """Declare a parameter in the ``'params'`` collection and return its value.

        When initialising, the value is ``init_fn(self.make_rng('params'), *init_args,
        **init_kwargs)``. When applying, the stored value is returned after its shape is
        checked against what ``init_fn`` would make.

        Args:
            name: the parameter's name within this module.
            init_fn: an initializer ``(key, *init_args) -> array``, e.g.
                ``nn.initializers.lecun_normal()``.
            *init_args: usually the shape, and optionally the dtype.
            **init_kwargs: keyword arguments for ``init_fn``.

        Returns:
            The parameter.

        Raises:
            ParamNotFoundError: the parameter is missing from the given variables.
            ParamShapeError: the given parameter's shape differs from the initializer's.
            NameInUseError: the name is already used in this module.
            UnboundModuleError: the module is not bound.

        Example:
            >>> import derivax, derivax.numpy as dnp
            >>> import nn_modules as nn
            >>> class Scale(nn.Module):
            ...     @nn.compact
            ...     def __call__(self, x):
            ...         return x * self.param("scale", nn.initializers.ones, x.shape[-1:])
            >>> Scale().init(derivax.random.key(0), dnp.ones(3))
            {'params': {'scale': Array([1., 1., 1.], dtype=float32)}}
        """
        scope = self._require_scope("param")
        self._variable_name_slot(name, "params")
        return scope.param(name, init_fn, *init_args, **init_kwargs)

    def variable(
        self, col: str, name: str, init_fn: Callable | None = None, *init_args: Any, **init_kwargs
    ) -> Variable:
        """Declare a variable of collection ``col``; returns a handle with ``.value``.

        Args:
            col: the collection, e.g. ``'batch_stats'``.
            name: the variable's name within this module.
            init_fn: builds the initial value as ``init_fn(*init_args, **init_kwargs)`` (no
                key; call ``self.make_rng`` yourself when it should be random).
            *init_args: arguments for ``init_fn``.
            **init_kwargs: keyword arguments for ``init_fn``.

        Returns:
            A `Variable`; assigning ``.value`` needs the collection to be mutable.

        Raises:
            CollectionNotFoundError: the collection is missing and immutable.
            VariableNotFoundError: the variable is missing and cannot be created.

        Example:
            >>> import derivax, derivax.numpy as dnp
            >>> import nn_modules as nn
            >>> class Counter(nn.Module):
            ...     @nn.compact
            ...     def __call__(self):
            ...         count = self.variable("counter", "count", lambda: dnp.zeros((), dnp.int32))
            ...         if self.is_mutable_collection("counter"):
            ...             count.value += 1
            ...         return count.value
            >>> variables = Counter().init(derivax.random.key(0))
            >>> Counter().apply(variables, mutable=["counter"])
            (Array(2, dtype=int32), {'counter': {'count': Array(2, dtype=int32)}})
        """
        scope = self._require_scope("variable")
        self._variable_name_slot(name, col)
        return scope.variable(col, name, init_fn, *init_args, **init_kwargs)

    def make_rng(self, name: str = "params"):
        """A fresh PRNG key from stream ``name`` (unique per module path and call).

        Args:
            name: the stream, e.g. ``'dropout'``. A stream not given to ``apply`` falls back
                to ``'params'`` when that one was given.

        Returns:
            A new key.

        Raises:
            MissingRngError: neither the stream nor ``'params'`` was given.

        Example:
            >>> import derivax, derivax.numpy as dnp
            >>> import nn_modules as nn
            >>> class Noise(nn.Module):
            ...     @nn.compact
            ...     def __call__(self, x):
            ...         return x + derivax.random.normal(self.make_rng("noise"), x.shape)
            >>> y = Noise().apply({}, dnp.zeros(2), rngs={"noise": derivax.random.key(0)})
            >>> y.shape
            (2,)
        """
        return self._require_scope("make_rng").make_rng(name, requester=self._owner())

    def has_rng(self, name: str) -> bool:
        """Whether `make_rng` can serve stream ``name`` in this call.

        Args:
            name: the stream.

        Returns:
            True when ``name`` (or the ``'params'`` fallback) was given.

        Example:
            >>> import derivax
            >>> import nn_modules as nn
            >>> class Probe(nn.Module):
            ...     def __call__(self):
            ...         return self.has_rng("dropout")
            >>> Probe().apply({}), Probe().apply({}, rngs={"dropout": derivax.random.key(0)})
            (False, True)
        """
        return self._require_scope("has_rng").has_rng(name)

    def is_mutable_collection(self, col: str) -> bool:
        """Whether collection ``col`` may be written in the current call.

        Args:
            col: the collection name.

        Returns:
            True when ``col`` passes the call's ``mutable`` filter (always, in ``init``).

        Example:
            >>> import nn_modules as nn
            >>> class Probe(nn.Module):
            ...     def __call__(self):
            ...         return self.is_mutable_collection("batch_stats")
            >>> Probe().apply({}), Probe().apply({}, mutable=["batch_stats"])[0]
            (False, True)
        """
        return self._require_scope("is_mutable_collection").is_mutable_collection(col)

    def is_initializing(self) -> bool:
        """True while running under ``init`` / ``init_with_output``.

        Example:
            >>> import derivax
            >>> import nn_modules as nn
            >>> class Probe(nn.Module):
            ...     def __call__(self):
            ...         return self.is_initializing()
            >>> Probe().init_with_output(derivax.random.key(0))[0], Probe().apply({})
            (True, False)
        """
        return self._require_scope("is_initializing").is_initializing()

    def has_variable(self, col: str, name: str) -> bool:
        """Whether this module has variable ``name`` in collection ``col``.

        Args:
            col: the collection.
            name: the variable name.

        Returns:
            True if the variable exists.

        Example:
            >>> import derivax.numpy as dnp
            >>> import nn_modules as nn
            >>> class Probe(nn.Module):
            ...     def __call__(self):
            ...         return self.has_variable("params", "w")
            >>> Probe().apply({"params": {"w": dnp.ones(1)}})
            True
        """
        return self._require_scope("has_variable").has_variable(col, name)

    def get_variable(self, col: str, name: str, default: Any = None) -> Any:
        """The value of variable ``name`` of collection ``col`` (``default`` if missing).

        Args:
            col: the collection.
            name: the variable name.
            default: returned when the variable does not exist.

        Returns:
            The value.

        Example:
            >>> import nn_modules as nn
            >>> class Probe(nn.Module):
            ...     def __call__(self):
            ...         return self.get_variable("stats", "n", default=-1)
            >>> Probe().apply({"stats": {"n": 3}})
            3
        """
        return self._require_scope("get_variable").get_variable(col, name, default)

    def put_variable(self, col: str, name: str, value: Any) -> None:
        """Write variable ``name`` of collection ``col`` (which must be mutable).

        Args:
            col: the collection.
            name: the variable name.
            value: the new value.

        Raises:
            ImmutableCollectionError: ``col`` is not mutable in this call.

        Example:
            >>> import nn_modules as nn
            >>> class Probe(nn.Module):
            ...     def __call__(self):
            ...         self.put_variable("stats", "n", 7)
            >>> Probe().apply({}, mutable=True)
            (None, {'stats': {'n': 7}})
        """
        self._require_scope("put_variable").put_variable(col, name, value)

    def sow(
        self,
        col: str,
        name: str,
        value: Any,
        reduce_fn: Callable[[Any, Any], Any] = _append,
        init_fn: Callable[[], Any] = tuple,
    ) -> bool:
        """Store an intermediate value in collection ``col`` when that collection is mutable.

        The stored value starts as ``init_fn()`` and each call folds ``value`` in with
        ``reduce_fn(stored, value)``: by default a tuple that grows by one entry per call,
        so a module called twice keeps both values. Nothing is stored (and False returned)
        when ``col`` is not mutable in this call, so sowing costs nothing in ordinary
        ``apply`` calls; pass ``mutable=[col]`` to collect the values.

        Args:
            col: the collection, usually ``'intermediates'``.
            name: the variable name within this module.
            value: the value to store.
            reduce_fn: ``(stored, value) -> new stored value``.
            init_fn: ``() -> the initial stored value``.

        Returns:
            True when the value was stored.

        Raises:
            NameInUseError: ``name`` is already used by a submodule or another variable of
                ``col`` in this module.

        Example:
            >>> import derivax.numpy as dnp
            >>> import nn_modules as nn
            >>> class Probe(nn.Module):
            ...     def __call__(self, x):
            ...         self.sow("intermediates", "doubled", 2 * x)
            ...         return x + 1
            >>> Probe().apply({}, dnp.ones(2), mutable=["intermediates"])
            (Array([2., 2.], dtype=float32), {'intermediates': {'doubled': (Array([2., 2.], dtype=float32),)}})
        """
        scope = self._require_scope("sow")
        if not scope.is_mutable_collection(col):
            return False
        if scope.has_variable(col, name):
            stored = scope.get_variable(col, name)
        else:
            self._variable_name_slot(name, col)
            stored = init_fn()
        scope.put_variable(col, name, reduce_fn(stored, value))
        return True

    @property
    def variables(self) -> dict:
        """This bound module's variables, ``{collection: {...}}``, at its own path."""
        return self._require_scope("variables").variables()

    @property
    def path(self) -> tuple[str, ...]:
        """The names from the root module to this one (``()`` for the root)."""
        return self._require_scope("path").path

    # -- cloning and identity -----------------------------------------------------------

    def clone(self, *, parent: Any = None, **updates: Any) -> Module:
        """A copy with some attributes changed (unbound unless ``parent`` is given).

        Args:
            parent: the new parent (default None: a free-standing, unbound copy).
            **updates: attribute values to change, e.g. ``features=8``.

        Returns:
            The new module.

        Example:
            >>> import nn_modules as nn
            >>> nn.Dense(3).clone(features=5).features
            5
        """

        copies: dict[int, Module] = {}

        def detach(m: Module, suffix: str) -> Module:
            # Children this module adopted are re-adopted by the copy, not shared with it
            # (one copy per child, so a child held in two fields stays shared).
            if m.parent is not self:
                return m
            if id(m) not in copies:
                copies[id(m)] = m.clone(parent=None)
            return copies[id(m)]

        values = {
            f.name: _map_modules(getattr(self, f.name), detach)
            for f in dataclasses.fields(self)
            if f.init and f.name != "parent"
        }
        values.update(updates)
        return type(self)(**values, parent=parent)

    def _definition_key(self) -> tuple:
        return (
            type(self),
            tuple(
                (f.name, _hashable(getattr(self, f.name)))
                for f in dataclasses.fields(self)
                if f.compare
            ),
        )

    def __eq__(self, other: Any) -> bool:
        if type(self) is not type(other):
            return NotImplemented
        return self._definition_key() == other._definition_key()

    def __hash__(self) -> int:
        return hash(self._definition_key())

    # -- entry points -------------------------------------------------------------------

    def _method_fn(self, method: Any) -> Callable:
        if method is None:
            method = "__call__"
        if isinstance(method, str):
            attr = getattr(type(self), method, None)
            if attr is None or not callable(attr):
                raise AttributeError(
                    f"{type(self).__name__} has no method {method!r} to apply; pass the name of "
                    "one of its methods, or a function fn(module, *args)."
                )
            return attr
        if inspect.ismethod(method) and isinstance(method.__self__, Module):
            return method.__func__
        if callable(method):
            return method
        raise TypeError(
            f"method must be None, a method name or a function fn(module, *args), got {method!r}."
        )

    def _scope_fn(self, method: Any, capture: Callable | None = None) -> Callable:
        fun = self._method_fn(method)

        def scope_fn(scope, *args, **kwargs):
            module = self.clone(parent=scope)
            if capture is None:
                return fun(module, *args, **kwargs)

            def intercept(mdl, method_name, call_args, call_kwargs):
                def done(out):
                    # Only modules of this call: those inside a lifted transformation run
                    # in its own scopes, whose collections it lifts explicitly (as in Flax).
                    if mdl.scope._root is scope._root and capture(mdl, method_name):
                        mdl.sow("intermediates", method_name, out)

                return done

            _context.interceptors.append(intercept)
            try:
                return fun(module, *args, **kwargs)
            finally:
                _context.interceptors.remove(intercept)

        return scope_fn

    def init_with_output(
        self,
        rngs: Any,
        *args: Any,
        method: Any = None,
        mutable: CollectionFilter = _INIT_MUTABLE,
        capture_intermediates: bool | Callable = False,
        **kwargs: Any,
    ) -> tuple[Any, dict]:
        """Initialise the variables and also return the output of the call.

        Args:
            rngs: a PRNG key (the ``'params'`` stream) or a dict of stream names to keys.
            *args: the inputs of the method.
            method: the method to run (default ``__call__``): a name, or a function
                ``fn(module, *args)``.
            mutable: the collections to create and return (default all but
                ``'intermediates'``: ``DenyList('intermediates')``).
            capture_intermediates: as in `apply`.
            **kwargs: keyword inputs of the method.

        Returns:
            ``(output, variables)``.

        Example:
            >>> import derivax, derivax.numpy as dnp
            >>> import nn_modules as nn
            >>> y, variables = nn.Dense(2).init_with_output(derivax.random.key(0), dnp.ones((1, 3)))
            >>> y.shape, variables["params"]["kernel"].shape
            ((1, 2), (3, 2))
        """
        rngs = _scope.normalize_rngs("init", rngs)
        mutable = _scope._normalize_filter("init", mutable)
        capture = _capture_filter("init", capture_intermediates)
        if capture is not None:
            mutable = _with_intermediates(mutable)
        return _scope.run(
            self._scope_fn(method, capture),
            {},
            args,
            kwargs,
            rngs=rngs,
            mutable=mutable,
            initializing=True,
        )

    def init(
        self,
        rngs: Any,
        *args: Any,
        method: Any = None,
        mutable: CollectionFilter = _INIT_MUTABLE,
        capture_intermediates: bool | Callable = False,
        **kwargs: Any,
    ) -> dict:
        """Initialise the variables: ``{'params': ..., 'batch_stats': ...}``.

        Runs the method once with every collection mutable and returns what it created.

        Args:
            rngs: a PRNG key (the ``'params'`` stream) or a dict of stream names to keys.
            *args: example inputs (their shapes determine the parameter shapes).
            method: the method to run (default ``__call__``).
            mutable: the collections to create and return (default all but
                ``'intermediates'``: ``DenyList('intermediates')``).
            capture_intermediates: as in `apply`.
            **kwargs: keyword inputs of the method.

        Returns:
            A dict of collections.

        Example:
            >>> import derivax, derivax.numpy as dnp
            >>> import nn_modules as nn
            >>> v = nn.Dense(2).init(derivax.random.key(0), dnp.ones((1, 3)))
            >>> derivax.tree.map(lambda a: a.shape, v)
            {'params': {'bias': (2,), 'kernel': (3, 2)}}
        """
        return self.init_with_output(
            rngs,
            *args,
            method=method,
            mutable=mutable,
            capture_intermediates=capture_intermediates,
            **kwargs,
        )[1]

    def apply(
        self,
        variables: Mapping,
        *args: Any,
        rngs: Any = None,
        method: Any = None,
        mutable: CollectionFilter = False,
        capture_intermediates: bool | Callable = False,
        **kwargs: Any,
    ) -> Any:
        """Run a method with the given variables.

        Args:
            variables: the dict of collections (as returned by ``init``).
            *args: the inputs of the method.
            rngs: a key or a dict of stream names to keys (e.g. ``{'dropout': key}``).
            method: the method to run (default ``__call__``): a name, or a function
                ``fn(module, *args)``.
            mutable: collections that may change: False (default), True, a name, or a
                list of names such as ``['batch_stats']``.
            capture_intermediates: store the output of every module's ``__call__`` in the
                ``'intermediates'`` collection (under the name ``'__call__'``, as a tuple
                with one entry per call), which is then made mutable and returned. A
                function ``filter(module, method_name) -> bool`` chooses the calls instead.
            **kwargs: keyword inputs of the method.

        Returns:
            The output; with ``mutable`` set (or ``capture_intermediates``),
            ``(output, updated_collections)``.

        Raises:
            ImmutableCollectionError: a module writes a collection not in ``mutable``.
            MissingRngError: a module draws from a stream not in ``rngs``.
            ParamNotFoundError / ParamShapeError: the variables do not fit the model.

        Example:
            >>> import derivax, derivax.numpy as dnp
            >>> import nn_modules as nn
            >>> model = nn.Dense(1, kernel_init=nn.initializers.ones)
            >>> variables = model.init(derivax.random.key(0), dnp.ones((1, 2)))
            >>> model.apply(variables, dnp.array([[1.0, 2.0]]))
            Array([[3.]], dtype=float32)
        """
        variables = _scope._check_variables("apply", variables)
        rngs = _scope.normalize_rngs("apply", rngs)
        mutable = _scope._normalize_filter("apply", mutable)
        capture = _capture_filter("apply", capture_intermediates)
        if capture is not None:
            mutable = _with_intermediates(mutable)
        out, mutated = _scope.run(
            self._scope_fn(method, capture),
            variables,
            args,
            kwargs,
            rngs=rngs,
            mutable=mutable,
            initializing=False,
        )
        return (out, mutated) if mutable is not False else out

    def bind(self, variables: Mapping, *, rngs: Any = None, mutable: CollectionFilter = False):
        """A copy bound to ``variables`` for interactive use (its methods can be called).

        Args:
            variables: the dict of collections.
            rngs: keys for the RNG streams the methods draw from.
            mutable: the collections that may change.

        Returns:
            The bound module; ``bound.variables`` shows its (possibly updated) variables.

        Example:
            >>> import derivax, derivax.numpy as dnp
            >>> import nn_modules as nn
            >>> model = nn.Dense(2)
            >>> bound = model.bind(model.init(derivax.random.key(0), dnp.ones((1, 3))))
            >>> bound(dnp.ones((1, 3))).shape
            (1, 2)
        """
        return self.clone(parent=_scope.bind(variables, rngs=rngs, mutable=mutable))

    def unbind(self) -> tuple[Module, dict]:
        """The unbound module and the variables of a bound one.

        Returns:
            ``(module, variables)``.

        Example:
            >>> import derivax, derivax.numpy as dnp
            >>> import nn_modules as nn
            >>> variables = nn.Dense(2).init(derivax.random.key(0), dnp.ones((1, 3)))
            >>> module, same = nn.Dense(2).bind(variables).unbind()
            >>> module.scope is None, same is not None
            (True, True)
        """
        return self.clone(parent=None), self.variables

    def tabulate(self, rngs: Any, *args: Any, **kwargs: Any) -> str:
        """The summary table of `nn_modules.tabulate` for these inputs.

        Args:
            rngs: a key or dict of keys for ``init``.
            *args: example inputs.
            **kwargs: keyword inputs (and ``method=``).

        Returns:
            The table as a string.

        Example:
            >>> import derivax, derivax.numpy as dnp
            >>> import nn_modules as nn
            >>> print(nn.Dense(2).tabulate(derivax.random.key(0), dnp.ones((1, 3))).splitlines()[-1])
            Total: 8 parameters (32 B)
        """
        from ._summary import tabulate

        return tabulate(self, rngs, *args, **kwargs)
