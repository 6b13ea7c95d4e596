"""`filter_jit`: ``jit`` where array leaves are traced and every other leaf is static.

A call flattens ``(fun, args, kwargs)`` once, splits the leaves into arrays (dynamic) and
the rest (static, hashable), and looks up the pair ``(treedef, static leaves)`` in a
dict. Each entry is one `derivax.jit` function specialised to that structure and those
static values, called with the list of arrays only; ``derivax.jit`` then caches the traced
program per shape and dtype as usual. Non-array outputs travel back through the output
tree structure, so a function may return a whole model.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import derivax
from derivax import tree

from ._filters import _ARRAY_TYPES, _EXACT_ARRAY_TYPES

__all__ = ["filter_jit"]

_DONATE_CHOICES = ("all", "all-except-first", "warn", "warn-except-first", "none")


class _Dynamic:
    """Marks, in the tuple of static leaves, a position that holds an array."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<array>"


_DYNAMIC = _Dynamic()


class _Packed:
    """An output pytree node: the arrays as children, everything else in the aux data."""

    __slots__ = ("arrays", "static")

    def __init__(self, static: Any, arrays: list):
        self.static = static
        self.arrays = arrays


class _StaticOut:
    """Aux data of `_Packed`: compared by identity, so it never has to be hashable."""

    __slots__ = ("static", "treedef")

    def __init__(self, treedef: Any, static: tuple):
        self.treedef = treedef
        self.static = static


tree.register_pytree_node(
    _Packed, lambda p: (p.arrays, p.static), lambda static, arrays: _Packed(static, list(arrays))
)


def _split_leaves(leaves: list) -> tuple[tuple, list]:
    exact, kinds = _EXACT_ARRAY_TYPES, _ARRAY_TYPES
    mask = [type(x) in exact or isinstance(x, kinds) for x in leaves]
    static = tuple([_DYNAMIC if m else x for m, x in zip(mask, leaves)])
    return static, [x for m, x in zip(mask, leaves) if m]


def _merge(static: tuple, arrays: Any) -> list:
    it = iter(arrays)
    return [next(it) if s is _DYNAMIC else s for s in static]


def _pack(out: Any) -> Any:
    """The output as ``jit`` can return it: unchanged if all its leaves are arrays."""
    leaves, treedef = tree.flatten(out)
    static, arrays = _split_leaves(leaves)
    if len(arrays) == len(leaves):
        return out
    return _Packed(_StaticOut(treedef, static), arrays)


def _unpack(packed: _Packed) -> Any:
    info = packed.static
    return info.treedef.unflatten(_merge(info.static, packed.arrays))


def _unhashable_message(name: str, treedef: Any, static: tuple) -> str:
    labels = [f"leaf {i}" for i in range(len(static))]
    try:
        fake = treedef.unflatten(list(range(len(static))))
        paths = {leaf: tree.keystr(path) for path, leaf in tree.flatten_with_path(fake)[0]}
        labels = [paths.get(i, f"leaf {i}") for i in range(len(static))]
    except Exception:  # naming is best effort
        pass
    for label, value in zip(labels, static, strict=True):
        try:
            hash(value)
        except TypeError:
            where = {0: "the function", 1: "args", 2: "kwargs"}
            root = where.get(int(label[1]) if label[:1] == "[" and label[1:2].isdigit() else -1)
            return (
                f"filter_jit({name}): a non-array leaf at {label} ({root or 'inputs'}) has "
                f"type {type(value).__name__}, which is not hashable. filter_jit keeps "
                f"non-array leaves static and uses them as cache keys. Convert it to an "
                f"array (derivax.numpy.asarray) to trace it, or to a hashable value (a tuple "
                f"instead of a set, a frozen dataclass)."
            )
    return f"filter_jit({name}): the static part of the inputs is not hashable."


class _FilterJit:
    """The function returned by `filter_jit`."""

    def __init__(self, fun: Callable[..., Any], donate: str):
        self._fun = fun
        self._donate = donate
        self._name = getattr(fun, "__name__", type(fun).__name__)
        self._cache: dict[tuple, Any] = {}
        functools.update_wrapper(self, fun, updated=())

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return functools.partial(self, instance)

    def __repr__(self) -> str:
        return f"<filter_jit function {self._name}>"

    def _specialise(self, treedef: Any, static: tuple) -> Any:
        def run(arrays: list) -> Any:
            fun, args, kwargs = treedef.unflatten(_merge(static, arrays))
            return _pack(fun(*args, **kwargs))

        run.__name__ = self._name
        return derivax.jit(run, name=self._name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        leaves, treedef = tree.flatten((self._fun, args, kwargs))
        static, arrays = _split_leaves(leaves)
        # The types keep 1, 1.0 and True (equal, with equal hashes) apart.
        key = (treedef, static, tuple(map(type, static)))
        try:
            jitted = self._cache.get(key)
        except TypeError:
            raise TypeError(_unhashable_message(self._name, treedef, static)) from None
        if jitted is None:
            jitted = self._cache[key] = self._specialise(treedef, static)
        out = jitted(arrays)
        return _unpack(out) if type(out) is _Packed else out

    @property
    def trace_count(self) -> int:
        """How many times the function was traced, over all static configurations."""
        return sum(j.trace_count for j in self._cache.values())

    def clear_cache(self) -> None:
        """Forgets every traced program."""
        self._cache.clear()


def filter_jit(fun: Callable[..., Any] | None = None, *, donate: str = "none") -> Any:
    """Compiles ``fun``, tracing its array leaves and keeping every other leaf static.

    Unlike ``derivax.jit`` there are no ``static_argnums``: each leaf of the arguments
    (and of ``fun`` itself, when it is a module or a bound method) is traced if it is an
    array (`is_array`) and treated as a compile-time constant otherwise, so one argument,
    such as a model, can hold both weights and activation functions. Non-array leaves
    must be hashable; a new value retraces. Outputs may contain non-array leaves too.

    Args:
        fun: The function. Omit it to use ``filter_jit(donate=...)`` as a decorator.
        donate: Buffer donation, as in Equinox: ``"none"``, ``"all"``,
            ``"all-except-first"``, ``"warn"`` or ``"warn-except-first"``. Accepted and
            validated; the current back end copies instead of donating.

    Returns:
        The compiled function, with ``trace_count`` and ``clear_cache()``.

    Raises:
        TypeError: If ``fun`` is not callable, or (when called) a non-array leaf is not
            hashable; the message names the leaf.
        ValueError: If ``donate`` is not one of the choices.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_pytree as nnp
        >>> @nnp.filter_jit
        ... def apply(params, x):
        ...     return params["act"](params["w"] * x)
        >>> apply({"w": dnp.arange(3.0), "act": dnp.abs}, -2.0)
        Array([0., 2., 4.], dtype=float32)
        >>> apply.trace_count
        1
    """
    if donate not in _DONATE_CHOICES:
        raise ValueError(
            f"filter_jit: donate={donate!r} is not one of {', '.join(map(repr, _DONATE_CHOICES))}."
        )
    if fun is None:
        return functools.partial(filter_jit, donate=donate)
    if not callable(fun):
        raise TypeError(f"filter_jit: expected a callable, got {type(fun).__name__}.")
    return _FilterJit(fun, donate)
