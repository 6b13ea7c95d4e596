"""The functional core: scopes holding variable collections, mutability and RNG streams.

Everything stateful in nn_modules goes through a `Scope`. A scope is a view of one path
(``("Encoder", "Dense_0")``) into the variables of one `init`/`apply` call:

* **Variables** live in *collections*: ``{'params': {...}, 'batch_stats': {...}}``, each a
  nested dict keyed by the path. `Scope.variable` and `Scope.param` read them and, when the
  collection is mutable, create or update them.
* **Mutability** is decided per collection by the ``mutable`` filter of the call (``True``,
  ``False``, a name or a list of names). ``init`` makes everything mutable.
* **RNG streams** are named keys (``'params'``, ``'dropout'``). `Scope.make_rng` derives a
  fresh key from the stream, the scope's path and a per-path counter, so results do not
  depend on the order in which unrelated modules ran.

`init` and `apply` turn a function ``fn(scope, *args)`` into pure functions of
``(rngs, *args)`` and ``(variables, *args)``; `Module` is sugar over exactly these.

Example:
    >>> import derivax, derivax.numpy as dnp
    >>> from nn_modules import core
    >>> def affine(scope, x):
    ...     w = scope.param("w", lambda key, shape: dnp.full(shape, 2.0), (x.shape[-1],))
    ...     return x * w
    >>> out, variables = core.init(affine)(derivax.random.key(0), dnp.ones(3))
    >>> variables
    {'params': {'w': Array([2., 2., 2.], dtype=float32)}}
    >>> core.apply(affine)({"params": {"w": dnp.arange(3.0)}}, dnp.ones(3))
    Array([0., 1., 2.], dtype=float32)
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

import derivax as dx
import derivax.tree

from ._errors import (
    CollectionNotFoundError,
    ImmutableCollectionError,
    InvalidRngError,
    InvalidVariablesError,
    MissingRngError,
    NameInUseError,
    ParamNotFoundError,
    ParamShapeError,
    UnboundModuleError,
    VariableNotFoundError,
)

__all__ = [
    "CollectionFilter",
    "DenyList",
    "Scope",
    "Variable",
    "apply",
    "bind",
    "in_filter",
    "init",
]

#: ``True`` (all collections), ``False`` (none), one name, an iterable of names, or a
#: `DenyList` (all but some).
CollectionFilter = bool | str | Iterable[str]


@dataclasses.dataclass(frozen=True)
class DenyList:
    """A collection filter selecting every collection except the ones named.

    ``init`` uses ``DenyList('intermediates')`` by default, so values stored with
    ``Module.sow`` during initialisation are not returned with the variables.

    Args:
        deny: a collection name or a tuple of names to exclude.

    Example:
        >>> import nn_modules as nn
        >>> keep = nn.DenyList("intermediates")
        >>> nn.core.in_filter(keep, "params"), nn.core.in_filter(keep, "intermediates")
        (True, False)
    """

    deny: str | tuple[str, ...]

    def __post_init__(self):
        names = (self.deny,) if isinstance(self.deny, str) else tuple(self.deny)
        if not all(isinstance(n, str) for n in names):
            raise TypeError(f"DenyList: deny must be collection names, got {self.deny!r}.")
        object.__setattr__(self, "deny", names)


def in_filter(filt: CollectionFilter, collection: str) -> bool:
    """Whether ``collection`` passes a collection filter.

    Args:
        filt: ``True`` (every collection), ``False``/``None`` (none), a collection name,
            or an iterable of names.
        collection: the collection name to test.

    Returns:
        True when ``collection`` is selected.

    Example:
        >>> in_filter(["batch_stats"], "batch_stats"), in_filter(False, "params")
        (True, False)
    """
    if filt is True:
        return True
    if filt is False or filt is None:
        return False
    if isinstance(filt, str):
        return collection == filt
    if isinstance(filt, DenyList):
        return collection not in filt.deny
    return collection in filt


def _normalize_filter(fname: str, filt: Any) -> CollectionFilter:
    if filt is True or filt is False or filt is None:
        return bool(filt)
    if isinstance(filt, DenyList):
        return filt if filt.deny else True
    if isinstance(filt, str):
        return (filt,)
    try:
        names = tuple(filt)
    except TypeError:
        names = None
    if names is None or not all(isinstance(n, str) for n in names):
        raise TypeError(
            f"{fname}: mutable={filt!r} must be True, False, a collection name or a list of "
            "names, e.g. mutable=['batch_stats']."
        )
    return names


# --------------------------------------------------------------------------- RNG keys


def _is_key(x: Any) -> bool:
    if isinstance(x, dx.random.KeyArray):
        return x.shape == ()
    shape, dtype = getattr(x, "shape", None), getattr(x, "dtype", None)
    return shape == (2,) and dtype is not None and np.dtype(dtype) == np.uint32


def _describe(x: Any) -> str:
    shape, dtype = getattr(x, "shape", None), getattr(x, "dtype", None)
    if shape is not None:
        return f"{type(x).__name__} of shape {tuple(shape)} and dtype {dtype}"
    return f"{type(x).__name__} {x!r}"


def normalize_rngs(fname: str, rngs: Any, *, default_stream: str | None = "params") -> dict:
    """``rngs`` as a dict of stream name to key (a bare key is the ``'params'`` stream)."""
    if rngs is None:
        return {}
    if isinstance(rngs, Mapping):
        out = {}
        for name, key in rngs.items():
            if not isinstance(name, str):
                raise InvalidRngError(
                    f"{fname}: RNG stream names must be strings, got {name!r} in rngs."
                )
            if not _is_key(key):
                raise InvalidRngError(
                    f"{fname}: rngs[{name!r}] must be one PRNG key (derivax.random.key(seed)), "
                    f"got {_describe(key)}."
                )
            out[name] = key
        return out
    if default_stream is not None and _is_key(rngs):
        return {default_stream: rngs}
    raise InvalidRngError(
        f"{fname}: rngs must be a PRNG key or a dict of stream names to keys, got "
        f"{_describe(rngs)}. Example: derivax.random.key(0), or "
        "{'params': derivax.random.key(0), 'dropout': derivax.random.key(1)}."
    )


def _path_text(path: tuple[str, ...]) -> str:
    return "/" + "/".join(path)


def _stream_word(path: tuple[str, ...], name: str, count: int) -> int:
    # A stable 32-bit word per (path, stream, call number); Python's hash() is salted per run.
    return zlib.crc32(f"{_path_text(path)}\x00{name}\x00{count}".encode())


# --------------------------------------------------------------------------- storage


def _copy_dicts(tree: Any) -> Any:
    """Copy the dict structure (not the leaves) so writes never reach the caller's dicts."""
    if isinstance(tree, Mapping):
        return {k: _copy_dicts(v) for k, v in tree.items()}
    return tree


def _check_variables(fname: str, variables: Any) -> dict:
    if not isinstance(variables, Mapping):
        raise InvalidVariablesError(
            f"{fname}: variables must be a dict of collections such as "
            f"{{'params': {{...}}, 'batch_stats': {{...}}}}, got {type(variables).__name__}. "
            "Pass what init() returned."
        )
    for col, tree in variables.items():
        if not isinstance(col, str):
            raise InvalidVariablesError(
                f"{fname}: collection names must be strings, got {col!r} in variables."
            )
        if not isinstance(tree, Mapping):
            raise InvalidVariablesError(
                f"{fname}: variables[{col!r}] is {_describe(tree)}, but variables map "
                "collection names ('params', 'batch_stats', ...) to dicts. Did you pass the "
                "params dict itself? Use {'params': params}, or pass what init() returned."
            )
    return dict(variables)


class _Root:
    """The state shared by every scope of one init/apply/bind call."""

    __slots__ = (
        "variables",
        "mutable",
        "rngs",
        "counters",
        "initializing",
        "valid",
        "scopes",
        "written",
    )

    def __init__(self, variables, mutable, rngs, initializing):
        self.variables = {
            col: _copy_dicts(tree) if in_filter(mutable, col) else tree
            for col, tree in variables.items()
        }
        self.mutable = mutable
        self.rngs = rngs
        self.counters: dict[tuple, int] = {}
        self.initializing = initializing
        self.valid = True
        self.scopes: dict[tuple[str, ...], Scope] = {}
        self.written: set[str] = set()

    def scope(self, path: tuple[str, ...]) -> Scope:
        s = self.scopes.get(path)
        if s is None:
            s = self.scopes[path] = Scope(self, path)
        return s

    def mutated(self) -> dict:
        return {c: t for c, t in self.variables.items() if in_filter(self.mutable, c)}


class Variable:
    """A handle on one variable: ``.value`` reads it, assigning ``.value`` writes it.

    Writing checks that the collection is mutable in the current call and raises
    `ImmutableCollectionError` otherwise.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> from nn_modules import core
        >>> def count(scope):
        ...     n = scope.variable("counter", "n", lambda: dnp.zeros((), dnp.int32))
        ...     n.value = n.value + 1
        ...     return n.value
        >>> out, variables = core.init(count)(derivax.random.key(0))
        >>> variables["counter"]["n"]
        Array(1, dtype=int32)
    """

    __slots__ = ("scope", "collection", "name")

    def __init__(self, scope: Scope, collection: str, name: str):
        self.scope, self.collection, self.name = scope, collection, name

    @property
    def value(self) -> Any:
        """The current value of the variable."""
        return self.scope.get_variable(self.collection, self.name)

    @value.setter
    def value(self, value: Any) -> None:
        self.scope.put_variable(self.collection, self.name, value)

    def is_mutable(self) -> bool:
        """Whether the variable's collection is mutable in the current call.

        Returns:
            True when ``.value`` may be assigned.

        Example:
            >>> import derivax, derivax.numpy as dnp
            >>> from nn_modules import core
            >>> def f(scope):
            ...     return scope.variable("stats", "n", lambda: dnp.zeros(())).is_mutable()
            >>> core.init(f)(derivax.random.key(0))[0]
            True
        """
        return self.scope.is_mutable_collection(self.collection)

    def __repr__(self):
        return f"Variable({self.collection!r}, {self.scope.path_text}/{self.name})"


class Scope:
    """A view of the variables and RNG streams at one path of one init/apply call.

    Scopes are created by `init`, `apply` and `bind` (and by `Module` for its
    submodules); users of `Module` rarely touch them directly.

    Attributes:
        path: the names from the root to this scope, e.g. ``("Encoder", "Dense_0")``.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> from nn_modules import core
        >>> def two_layers(scope, x):
        ...     for name in ("a", "b"):
        ...         w = scope.push(name).param("w", lambda k, s: dnp.ones(s), (x.shape[-1],))
        ...         x = x * w
        ...     return x
        >>> _, variables = core.init(two_layers)(derivax.random.key(0), dnp.ones(2))
        >>> derivax.tree.map(lambda a: a.shape, variables)
        {'params': {'a': {'w': (2,)}, 'b': {'w': (2,)}}}
    """

    def __init__(self, root: _Root, path: tuple[str, ...] = ()):
        self._root = root
        self.path = path

    # -- structure ---------------------------------------------------------------------

    @property
    def path_text(self) -> str:
        """The path as ``/a/b`` (``/`` for the root)."""
        return _path_text(self.path)

    def push(self, name: str) -> Scope:
        """The child scope ``name`` (the same object on every call with that name).

        Args:
            name: the child's name, a non-empty string without ``/``.

        Returns:
            The child scope.

        Raises:
            ValueError: for an invalid name.

        Example:
            >>> import derivax
            >>> from nn_modules import core
            >>> core.init(lambda scope: scope.push("Dense_0").path_text)(derivax.random.key(0))[0]
            '/Dense_0'
        """
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(
                f"Scope.push: a scope name must be a non-empty string without '/', got {name!r}."
            )
        return self._root.scope((*self.path, name))

    def _check_valid(self) -> None:
        if not self._root.valid:
            raise UnboundModuleError(
                f"The scope {self.path_text} belongs to an init/apply call that has returned; "
                "its variables are gone. Call model.apply(variables, ...) again, or use "
                "model.bind(variables) for interactive use."
            )

    def invalidate(self) -> None:
        """Mark every scope of this call as finished; later use raises `UnboundModuleError`.

        Example:
            >>> from nn_modules import core
            >>> scope = core.bind({})
            >>> scope.invalidate()
            >>> scope.make_rng("params")
            Traceback (most recent call last):
            ...
            nn_modules._errors.UnboundModuleError: The scope / belongs to an init/apply call ...
        """
        self._root.valid = False

    # -- flags ---------------------------------------------------------------------------

    def is_mutable_collection(self, col: str) -> bool:
        """Whether collection ``col`` may be written in this call.

        Args:
            col: a collection name such as ``'batch_stats'``.

        Returns:
            True when ``col`` passes the call's ``mutable`` filter.

        Example:
            >>> from nn_modules import core
            >>> scope = core.bind({"params": {}}, mutable=["batch_stats"])
            >>> scope.is_mutable_collection("batch_stats"), scope.is_mutable_collection("params")
            (True, False)
        """
        return in_filter(self._root.mutable, col)

    def is_initializing(self) -> bool:
        """True inside `init` (and `Module.init`), False inside `apply`.

        Example:
            >>> import derivax
            >>> from nn_modules import core
            >>> core.init(lambda scope: scope.is_initializing())(derivax.random.key(0))[0]
            True
        """
        return self._root.initializing

    @property
    def mutable(self) -> CollectionFilter:
        """The collection filter of this call (True, False or a tuple of names)."""
        return self._root.mutable

    @property
    def rng_names(self) -> tuple[str, ...]:
        """The RNG streams given to this call."""
        return tuple(self._root.rngs)

    # -- randomness ---------------------------------------------------------------------

    def has_rng(self, name: str) -> bool:
        """Whether `make_rng` can serve stream ``name`` (directly or from ``'params'``).

        Args:
            name: the stream name.

        Returns:
            True when a key for ``name`` (or the ``'params'`` fallback) was given.

        Example:
            >>> from nn_modules import core
            >>> core.bind({}).has_rng("dropout")
            False
        """
        return name in self._root.rngs or "params" in self._root.rngs

    def make_rng(self, name: str = "params", *, requester: str | None = None):
        """A fresh PRNG key from stream ``name``, unique to this path and call.

        A stream that was not given falls back to the ``'params'`` stream (so ``init`` with
        a single key also serves ``'dropout'``); with neither, `MissingRngError`.

        Args:
            name: the stream name.
            requester: who asks (for the error message), e.g. ``"Dropout_0"``.

        Returns:
            A new key; two calls never return the same key.

        Raises:
            MissingRngError: when neither ``name`` nor ``'params'`` was given.

        Example:
            >>> import derivax
            >>> from nn_modules import core
            >>> def two(scope):
            ...     return scope.make_rng("noise"), scope.make_rng("noise")
            >>> (a, b), _ = core.init(two)(derivax.random.key(0))
            >>> bool((derivax.random.key_data(a) != derivax.random.key_data(b)).any())
            True
        """
        self._check_valid()
        rngs = self._root.rngs
        stream = name if name in rngs else "params" if "params" in rngs else None
        if stream is None:
            who = requester or self.path_text
            given = sorted(rngs) or "none"
            raise MissingRngError(
                f"{who} needs a random key from the {name!r} stream, but apply() got rngs for "
                f"{given}. Pass rngs={{{name!r}: key}} (a fresh key per step), or run the "
                "module in its deterministic / evaluation mode."
            )
        counter_key = (self.path, name)
        count = self._root.counters.get(counter_key, 0)
        self._root.counters[counter_key] = count + 1
        return dx.random.fold_in(rngs[stream], _stream_word(self.path, name, count))

    # -- variables ---------------------------------------------------------------------

    def _subtree(self, col: str, create: bool = False) -> dict | None:
        tree = self._root.variables.get(col)
        if tree is None:
            if not create:
                return None
            tree = self._root.variables[col] = {}
        for name in self.path:
            child = tree.get(name)
            if child is None:
                if not create:
                    return None
                child = tree[name] = {}
            elif not isinstance(child, Mapping):
                raise InvalidVariablesError(
                    f"Collection {col!r} holds a leaf at {self.path_text} where the module "
                    f"tree needs a dict of variables (found {_describe(child)})."
                )
            tree = child
        return tree

    def has_variable(self, col: str, name: str) -> bool:
        """Whether variable ``name`` of collection ``col`` exists at this path.

        Args:
            col: the collection name.
            name: the variable name.

        Returns:
            True if the variable exists.

        Example:
            >>> from nn_modules import core
            >>> core.bind({"params": {"w": 1.0}}).has_variable("params", "w")
            True
        """
        tree = self._subtree(col)
        return tree is not None and name in tree

    def get_variable(self, col: str, name: str, default: Any = None) -> Any:
        """The value of a variable, or ``default`` when it does not exist.

        Args:
            col: the collection name.
            name: the variable name.
            default: returned when the variable is missing.

        Returns:
            The stored value.

        Example:
            >>> from nn_modules import core
            >>> core.bind({"params": {"w": 1.0}}).get_variable("params", "w")
            1.0
        """
        self._check_valid()
        tree = self._subtree(col)
        if tree is None or name not in tree:
            return default
        return tree[name]

    def put_variable(self, col: str, name: str, value: Any) -> None:
        """Create or update a variable of a mutable collection.

        Args:
            col: the collection name.
            name: the variable name.
            value: the new value (an array or pytree of arrays).

        Raises:
            ImmutableCollectionError: when ``col`` is not mutable in this call.

        Example:
            >>> from nn_modules import core
            >>> scope = core.bind({}, mutable=True)
            >>> scope.push("bn").put_variable("batch_stats", "mean", 0.5)
            >>> scope.variables()
            {'batch_stats': {'bn': {'mean': 0.5}}}
        """
        self._check_valid()
        if not self.is_mutable_collection(col):
            hint = (
                f"pass mutable=[{col!r}] to apply() and use the updated collection it returns"
                if col != "params"
                else "parameters change only through the optimizer; pass mutable=True only "
                "to re-initialise them"
            )
            raise ImmutableCollectionError(
                f"Cannot update variable {name!r} of {self.path_text} because collection "
                f"{col!r} is immutable in this call: {hint}."
            )
        self._subtree(col, create=True)[name] = value
        self._root.written.add(col)

    def variable(
        self, col: str, name: str, init_fn: Callable | None = None, *init_args: Any, **init_kwargs
    ) -> Variable:
        """Declare a variable and return its handle, creating it when missing and allowed.

        Args:
            col: the collection, e.g. ``'batch_stats'``.
            name: the variable name.
            init_fn: called as ``init_fn(*init_args, **init_kwargs)`` to create the value
                when the variable does not exist and ``col`` is mutable.
            *init_args: positional arguments for ``init_fn``.
            **init_kwargs: keyword arguments for ``init_fn``.

        Returns:
            A `Variable`.

        Raises:
            CollectionNotFoundError: when ``col`` was not given and is not mutable.
            VariableNotFoundError: when the variable is missing and cannot be created.

        Example:
            >>> import derivax, derivax.numpy as dnp
            >>> from nn_modules import core
            >>> def f(scope):
            ...     return scope.variable("stats", "mean", dnp.zeros, (2,)).value
            >>> core.init(f)(derivax.random.key(0))
            (Array([0., 0.], dtype=float32), {'stats': {'mean': Array([0., 0.], dtype=float32)}})
        """
        self._check_valid()
        if not self.has_variable(col, name):
            if not self.is_mutable_collection(col) or init_fn is None:
                raise self._missing(col, name, "variable")
            self.put_variable(col, name, init_fn(*init_args, **init_kwargs))
        return Variable(self, col, name)

    def param(self, name: str, init_fn: Callable, *init_args: Any, **init_kwargs) -> Any:
        """Declare a parameter (collection ``'params'``) and return its value.

        When ``'params'`` is mutable and the parameter does not exist, it is created as
        ``init_fn(self.make_rng('params'), *init_args, **init_kwargs)``. When it exists, its
        shape is checked against the shape ``init_fn`` would produce, so variables made for
        other input sizes fail loudly instead of broadcasting.

        Args:
            name: the parameter name.
            init_fn: an initializer ``init_fn(key, *init_args, **init_kwargs)``.
            *init_args: usually the shape (and dtype).
            **init_kwargs: keyword arguments for ``init_fn``.

        Returns:
            The parameter value.

        Raises:
            ParamNotFoundError: when it is missing and ``'params'`` is immutable.
            ParamShapeError: when the stored value's shape differs from the initializer's.

        Example:
            >>> import derivax, derivax.numpy as dnp
            >>> from nn_modules import core
            >>> f = lambda scope: scope.param("w", derivax.nn.initializers.zeros, (2, 3))
            >>> core.apply(f)({"params": {"w": dnp.ones((3, 3))}})
            Traceback (most recent call last):
            ...
            nn_modules._errors.ParamShapeError: Parameter 'w' of / ...
        """
        self._check_valid()
        if self.has_variable("params", name):
            value = self.get_variable("params", name)
            self._check_param_shape(name, value, init_fn, init_args, init_kwargs)
            return value
        if not self.is_mutable_collection("params"):
            raise self._missing("params", name, "parameter")
        value = init_fn(self.make_rng("params"), *init_args, **init_kwargs)
        self.put_variable("params", name, value)
        return value

    def _check_param_shape(self, name, value, init_fn, init_args, init_kwargs):
        try:
            expected = dx.eval_shape(lambda: init_fn(dx.random.key(0), *init_args, **init_kwargs))
        except Exception:  # an initializer that cannot be traced abstractly is not checked
            return
        want = [tuple(leaf.shape) for leaf in derivax.tree.leaves(expected)]
        got = [tuple(np.shape(leaf)) for leaf in derivax.tree.leaves(value)]
        if want != got:
            w = want[0] if len(want) == 1 else want
            g = got[0] if len(got) == 1 else got
            raise ParamShapeError(
                f"Parameter {name!r} of {self.path_text} has shape {g} in the variables given "
                f"to apply(), but its initializer makes shape {w} for this call. The "
                "variables were made for other inputs or hyperparameters: initialise again "
                "(model.init(key, x)) or restore the input shape / model definition they "
                "were made for."
            )

    def _missing(self, col: str, name: str, kind: str) -> Exception:
        have = sorted(self._root.variables)
        if col not in self._root.variables:
            hint = ""
            if col == "params" and have:
                hint = (
                    f" The variables hold the collections {have}: did you pass the params "
                    "dict itself instead of {'params': params}?"
                )
            elif col == "params":
                hint = " No variables were given: pass what init() returned."
            msg = (
                f"Could not find {kind} {name!r} of {self.path_text}: the variables have no "
                f"{col!r} collection (collections given: {have or 'none'}).{hint}"
            )
            if col == "params":
                return ParamNotFoundError(msg)
            return CollectionNotFoundError(
                msg + f" Pass the {col!r} collection that init() returned, or make it "
                f"mutable (mutable=[{col!r}]) to create it."
            )
        tree = self._subtree(col)
        present = sorted(tree) if tree is not None else []
        msg = (
            f"Could not find {kind} {name!r} in collection {col!r} at {self.path_text} "
            f"(names there: {present or 'none'}). The variables come from a different model "
            "or the module names changed; initialise again with this model."
        )
        return ParamNotFoundError(msg) if col == "params" else VariableNotFoundError(msg)

    # -- lifting support ----------------------------------------------------------------

    def variables(self) -> dict:
        """Every collection's subtree at this path, ``{col: {...}}`` (collections that have one).

        Returns:
            A dict of collections; the inner dicts are the live storage (do not mutate).

        Example:
            >>> from nn_modules import core
            >>> core.bind({"params": {"a": {"w": 1.0}}}).push("a").variables()
            {'params': {'w': 1.0}}
        """
        self._check_valid()
        out = {}
        for col in self._root.variables:
            tree = self._subtree(col)
            if tree is not None:
                out[col] = tree
        return out

    def put_collection(self, col: str, tree: Mapping) -> None:
        """Replace the whole subtree of ``col`` at this path (used by lifted transforms).

        Args:
            col: a mutable collection.
            tree: the new nested dict.

        Raises:
            ImmutableCollectionError: when ``col`` is not mutable.

        Example:
            >>> from nn_modules import core
            >>> scope = core.bind({}, mutable=True)
            >>> scope.push("a").put_collection("params", {"w": 1.0})
            >>> scope.variables()
            {'params': {'a': {'w': 1.0}}}
        """
        self._check_valid()
        if not self.is_mutable_collection(col):
            raise ImmutableCollectionError(
                f"Cannot write collection {col!r} at {self.path_text}: it is immutable in this "
                f"call; pass mutable=[{col!r}]."
            )
        self._root.written.add(col)
        if not self.path:
            self._root.variables[col] = _copy_dicts(tree)
            return
        parent = self._root.scope(self.path[:-1])._subtree(col, create=True)
        parent[self.path[-1]] = _copy_dicts(tree)

    def __repr__(self):
        return f"Scope({self.path_text})"


# --------------------------------------------------------------------------- entry points


def bind(variables: Mapping, rngs: Any = None, mutable: CollectionFilter = False) -> Scope:
    """A root scope over ``variables`` that stays usable (for interactive work and tests).

    Args:
        variables: a dict of collections.
        rngs: a key or a dict of stream names to keys.
        mutable: which collections may be written.

    Returns:
        The root `Scope`.

    Example:
        >>> from nn_modules import core
        >>> core.bind({"params": {"w": 2.0}}).get_variable("params", "w")
        2.0
    """
    variables = _check_variables("bind", variables)
    root = _Root(variables, _normalize_filter("bind", mutable), normalize_rngs("bind", rngs), False)
    return root.scope(())


def run(
    fn: Callable,
    variables: Mapping,
    args: tuple,
    kwargs: dict,
    *,
    rngs: dict,
    mutable: CollectionFilter,
    initializing: bool,
) -> tuple[Any, dict]:
    """Run ``fn(root_scope, *args, **kwargs)`` once; returns ``(out, mutated collections)``."""
    root = _Root(variables, mutable, rngs, initializing)
    try:
        out = fn(root.scope(()), *args, **kwargs)
    finally:
        root.valid = False
    return out, root.mutated()


def init(fn: Callable, mutable: CollectionFilter = True) -> Callable:
    """Turn ``fn(scope, *args, **kwargs)`` into ``init(rngs, *args, **kwargs) -> (out, variables)``.

    Args:
        fn: the function to initialise.
        mutable: the collections created and returned (default: all).

    Returns:
        A function of a key (or dict of stream keys) and ``fn``'s arguments.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> from nn_modules import core
        >>> f = lambda scope, x: x * scope.param("w", derivax.nn.initializers.ones, ())
        >>> core.init(f)(derivax.random.key(0), 3.0)
        (Array(3., dtype=float32), {'params': {'w': Array(1., dtype=float32)}})
    """
    mutable = _normalize_filter("init", mutable)

    def wrapper(rngs, *args, **kwargs):
        rngs = normalize_rngs("init", rngs)
        return run(fn, {}, args, kwargs, rngs=rngs, mutable=mutable, initializing=True)

    return wrapper


def apply(fn: Callable, mutable: CollectionFilter = False) -> Callable:
    """Turn ``fn(scope, *args, **kwargs)`` into ``apply(variables, *args, rngs=None, **kwargs)``.

    Args:
        fn: the function to run.
        mutable: the collections that may change; when not False the result is
            ``(out, mutated_collections)``.

    Returns:
        A pure function of the variables and ``fn``'s arguments.

    Example:
        >>> import derivax.numpy as dnp
        >>> from nn_modules import core
        >>> def step(scope):
        ...     n = scope.variable("counter", "n", lambda: 0)
        ...     n.value += 1
        ...     return n.value
        >>> core.apply(step, mutable=["counter"])({"counter": {"n": 4}})
        (5, {'counter': {'n': 5}})
    """
    mutable = _normalize_filter("apply", mutable)

    def wrapper(variables, *args, rngs=None, **kwargs):
        variables = _check_variables("apply", variables)
        rngs = normalize_rngs("apply", rngs)
        out, mutated = run(
            fn, variables, args, kwargs, rngs=rngs, mutable=mutable, initializing=False
        )
        return (out, mutated) if mutable is not False else out

    return wrapper


def check_name_free(owner: str, name: str, taken: Mapping[str, str], kind: str) -> None:
    """Raise `NameInUseError` when ``name`` is already registered in ``taken``."""
    if name in taken:
        raise NameInUseError(
            f"Could not create {kind} {name!r} in {owner}: the name is already used by a "
            f"{taken[name]}. Give each submodule and variable a distinct name (to share one "
            "submodule, create it once and call that instance twice)."
        )
