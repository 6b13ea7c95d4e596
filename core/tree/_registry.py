"""The registry of pytree node types, and the functions that add to it.

A *node* type knows how to split an instance into children plus hashable aux data (its
*flatten* function) and how to rebuild it (its *unflatten* function). Every other type is a
leaf. The registry is a dict keyed by the exact type: subclasses are not nodes unless
registered themselves (as in JAX), except namedtuples, which are recognized by their
``_fields``.
"""

from __future__ import annotations

import collections
import dataclasses
import operator
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from ._keys import DictKey, FlattenedIndexKey, GetAttrKey, SequenceKey

__all__ = [
    "register_dataclass",
    "register_pytree_node",
    "register_pytree_node_class",
    "register_static",
]

_T = TypeVar("_T", bound=type)
NoneType = type(None)


class _Handler:
    """How one registered node type flattens, unflattens and prints."""

    __slots__ = ("flatten", "flatten_with_keys", "nodetype", "origin", "repr", "unflatten")

    def __init__(self, nodetype, flatten, unflatten, flatten_with_keys, repr_fn, origin):
        self.nodetype = nodetype
        self.flatten = flatten  # x -> (children, aux)
        self.unflatten = unflatten  # (aux, children tuple) -> x
        self.flatten_with_keys = flatten_with_keys  # x -> ([(key, child)], aux), or None
        self.repr = repr_fn  # (aux, child reprs) -> str, or None for the generic form
        self.origin = origin  # which public function registered the type


_registry: dict[type, _Handler] = {}

leaf_types: set[type] = set()
"""Types already found to be leaves: a cache that lets flattening skip the registry lookup
and the namedtuple test. Registering a type removes it; the cache is cleared when large so
that classes created on the fly are not kept alive forever."""


def _install(handler: _Handler) -> None:
    _registry[handler.nodetype] = handler
    leaf_types.discard(handler.nodetype)


def _type_name(t: type) -> str:
    return t.__name__


# --- built-in nodes --------------------------------------------------------------------------


def _sorted_keys(d: dict) -> tuple:
    try:
        return tuple(sorted(d))
    except TypeError:
        kinds = sorted({type(k).__name__ for k in d})
        raise TypeError(
            f"derivax.tree cannot sort the keys of a {type(d).__name__} whose keys have the "
            f"types {', '.join(kinds)}: pytree dicts are flattened in sorted-key order so that "
            f"equal dicts give equal structures. Use keys of one sortable type (for example "
            f"all str), or a collections.OrderedDict, which is flattened in insertion order."
        ) from None


def _dict_flatten(d):
    keys = _sorted_keys(d)
    return [d[k] for k in keys], keys


def _dict_flatten_keys(d):
    keys = _sorted_keys(d)
    return [(DictKey(k), d[k]) for k in keys], keys


def _ordered_flatten(d):
    keys = tuple(d)
    return list(d.values()), keys


def _ordered_flatten_keys(d):
    return [(DictKey(k), v) for k, v in d.items()], tuple(d)


def _defaultdict_flatten(d):
    keys = _sorted_keys(d)
    return [d[k] for k in keys], (d.default_factory, keys)


def _defaultdict_flatten_keys(d):
    keys = _sorted_keys(d)
    return [(DictKey(k), d[k]) for k in keys], (d.default_factory, keys)


def _seq_flatten_keys(s):
    return [(SequenceKey(i), c) for i, c in enumerate(s)], None


def _mapping_repr(keys, children):
    return "{" + ", ".join(f"{k!r}: {c}" for k, c in zip(keys, children, strict=True)) + "}"


def _tuple_repr(_aux, children):
    return "(" + children[0] + ",)" if len(children) == 1 else "(" + ", ".join(children) + ")"


def _add_builtin(t, flatten, unflatten, flatten_with_keys, repr_fn):
    _install(_Handler(t, flatten, unflatten, flatten_with_keys, repr_fn, "derivax.tree"))


_add_builtin(tuple, lambda t: (t, None), lambda _, c: tuple(c), _seq_flatten_keys, _tuple_repr)
_add_builtin(
    list,
    lambda s: (s, None),
    lambda _, c: list(c),
    _seq_flatten_keys,
    lambda _, c: "[" + ", ".join(c) + "]",
)
_add_builtin(
    dict,
    _dict_flatten,
    lambda keys, c: dict(zip(keys, c, strict=True)),
    _dict_flatten_keys,
    _mapping_repr,
)
_add_builtin(
    NoneType,
    lambda _: ((), None),
    lambda _aux, _c: None,
    lambda _: ((), None),
    lambda _aux, _c: "None",
)
_add_builtin(
    collections.OrderedDict,
    _ordered_flatten,
    lambda keys, c: collections.OrderedDict(zip(keys, c, strict=True)),
    _ordered_flatten_keys,
    lambda keys, c: f"OrderedDict({_mapping_repr(keys, c)})",
)
_add_builtin(
    collections.defaultdict,
    _defaultdict_flatten,
    lambda aux, c: collections.defaultdict(aux[0], zip(aux[1], c, strict=True)),
    _defaultdict_flatten_keys,
    lambda aux, c: f"defaultdict({aux[0]!r}, {_mapping_repr(aux[1], c)})",
)

DICT_TYPES = (dict, collections.OrderedDict, collections.defaultdict)


def dict_keys_of(nodetype: type, aux: Any) -> tuple:
    """The keys stored in the aux data of a dict-like node."""
    return aux[1] if nodetype is collections.defaultdict else aux


def is_namedtuple(t: type) -> bool:
    return issubclass(t, tuple) and hasattr(t, "_fields")


# --- one level of a tree ---------------------------------------------------------------------


def one_level(x: Any) -> tuple[type, Any, tuple] | None:
    """Splits ``x`` one level: ``(type, aux, children)`` for a node, ``None`` for a leaf."""
    t = type(x)
    h = _registry.get(t)
    if h is None:
        if issubclass(t, tuple) and hasattr(t, "_fields"):
            return t, None, tuple(x)
        return None
    children, aux = _call_flatten(h, x)
    return t, aux, tuple(children)


def one_level_with_keys(x: Any) -> tuple[type, Any, tuple, tuple] | None:
    """Like `one_level` but also returns the key entry of every child."""
    t = type(x)
    h = _registry.get(t)
    if h is None:
        if issubclass(t, tuple) and hasattr(t, "_fields"):
            return t, None, tuple(x), tuple(GetAttrKey(f) for f in t._fields)
        return None
    if h.flatten_with_keys is None:
        children, aux = _call_flatten(h, x)
        children = tuple(children)
        return t, aux, children, tuple(FlattenedIndexKey(i) for i in range(len(children)))
    try:
        pairs, aux = h.flatten_with_keys(x)
        pairs = tuple(pairs)
        keys = tuple(k for k, _ in pairs)
        children = tuple(c for _, c in pairs)
    except (TypeError, ValueError) as e:
        raise TypeError(
            f"the flatten_with_keys_fn registered for {_type_name(t)} must return "
            f"(iterable of (key, child) pairs, aux_data); calling it failed with: {e}"
        ) from e
    return t, aux, children, keys


def _call_flatten(h: _Handler, x: Any) -> tuple[Iterable, Any]:
    try:
        children, aux = h.flatten(x)
    except (TypeError, ValueError) as e:
        raise TypeError(
            f"the flatten_fn registered for {_type_name(h.nodetype)} (by {h.origin}) must "
            f"return (children, aux_data); calling it failed with: {e}"
        ) from e
    return children, aux


def rebuild(t: type, aux: Any, children: tuple) -> Any:
    """Inverse of `one_level`."""
    h = _registry.get(t)
    if h is None:  # a namedtuple: the only node type that needs no registration
        return t(*children)
    return h.unflatten(aux, children)


def node_repr(t: type, aux: Any, child_reprs: list[str]) -> str:
    """The treedef repr of one node, given the reprs of its children."""
    h = _registry.get(t)
    if h is None:  # namedtuple
        fields = ", ".join(f"{f}={c}" for f, c in zip(t._fields, child_reprs, strict=True))
        return f"{_type_name(t)}({fields})"
    if h.repr is not None:
        return h.repr(aux, child_reprs)
    return f"CustomNode({_type_name(t)}[{aux!r}], [{', '.join(child_reprs)}])"


# --- registration ----------------------------------------------------------------------------


def _check_new_type(fn_name: str, arg: str, nodetype: Any) -> None:
    if not isinstance(nodetype, type):
        raise TypeError(
            f"{fn_name}: `{arg}` must be a class, got {nodetype!r} of type "
            f"{type(nodetype).__name__}. Pass the class itself, e.g. {fn_name}(MyClass, ...)."
        )
    if nodetype in _registry:
        by = _registry[nodetype].origin
        raise ValueError(
            f"{fn_name}: {nodetype.__module__}.{nodetype.__qualname__} is already registered as "
            f"a pytree node (by {by}). A type can be registered only once; to flatten it "
            f"differently, register a subclass or wrap it in a new class."
        )


def _check_callable(fn_name: str, arg: str, fn: Any, what: str) -> None:
    if not callable(fn):
        raise TypeError(
            f"{fn_name}: `{arg}` must be callable ({what}), got {fn!r} of type {type(fn).__name__}."
        )


def register_pytree_node(
    nodetype: type,
    flatten_fn: Callable[[Any], tuple[Iterable[Any], Any]],
    unflatten_fn: Callable[[Any, tuple], Any],
    flatten_with_keys_fn: Callable[[Any], tuple[Iterable[tuple[Any, Any]], Any]] | None = None,
) -> None:
    """Makes ``nodetype`` a pytree node: tree functions look inside its instances.

    Args:
        nodetype: The class to register. Subclasses are not covered: register them too.
        flatten_fn: ``x -> (children, aux_data)``. ``children`` is an iterable of subtrees;
            ``aux_data`` is hashable, comparable static data kept in the treedef (it is part
            of the jit cache key).
        unflatten_fn: ``(aux_data, children) -> x``, the inverse of ``flatten_fn``;
            ``children`` is a tuple.
        flatten_with_keys_fn: Optional ``x -> (((key, child), ...), aux_data)`` giving each
            child a key entry (e.g. `GetAttrKey`) for key paths, in the order of
            ``flatten_fn``. Without it children are keyed by `FlattenedIndexKey`.

    Raises:
        TypeError: If ``nodetype`` is not a class or a function is not callable.
        ValueError: If ``nodetype`` is already registered.

    Example:
        >>> from derivax import tree
        >>> class Pair:
        ...     def __init__(self, a, b):
        ...         self.a, self.b = a, b
        >>> tree.register_pytree_node(
        ...     Pair, lambda p: ((p.a, p.b), None), lambda _, c: Pair(*c))
        >>> tree.leaves([Pair(1, 2), 3])
        [1, 2, 3]
    """
    name = "register_pytree_node"
    _check_new_type(name, "nodetype", nodetype)
    _check_callable(name, "flatten_fn", flatten_fn, "x -> (children, aux_data)")
    _check_callable(name, "unflatten_fn", unflatten_fn, "(aux_data, children) -> x")
    if flatten_with_keys_fn is not None:
        _check_callable(
            name, "flatten_with_keys_fn", flatten_with_keys_fn, "x -> ((key, child)..., aux)"
        )
    _install(_Handler(nodetype, flatten_fn, unflatten_fn, flatten_with_keys_fn, None, name))


def register_pytree_node_class(cls: _T) -> _T:
    """Class decorator: registers ``cls`` using its ``tree_flatten``/``tree_unflatten``.

    ``cls`` must define a method ``tree_flatten(self) -> (children, aux_data)`` and a
    classmethod ``tree_unflatten(cls, aux_data, children)``. If it also defines
    ``tree_flatten_with_keys(self) -> (((key, child), ...), aux_data)`` that gives the key
    paths.

    Args:
        cls: The class to register.

    Returns:
        ``cls`` itself, so this works as a decorator.

    Raises:
        TypeError: If ``cls`` is not a class or lacks one of the two methods.
        ValueError: If ``cls`` is already registered.

    Example:
        >>> from derivax import tree
        >>> @tree.register_pytree_node_class
        ... class Scaled:
        ...     def __init__(self, value, scale):
        ...         self.value, self.scale = value, scale
        ...     def tree_flatten(self):
        ...         return (self.value,), self.scale
        ...     @classmethod
        ...     def tree_unflatten(cls, scale, children):
        ...         return cls(children[0], scale)
        >>> tree.map(lambda v: v * 10, Scaled(2, scale="km")).value
        20
    """
    name = "register_pytree_node_class"
    _check_new_type(name, "cls", cls)
    missing = [m for m in ("tree_flatten", "tree_unflatten") if not hasattr(cls, m)]
    if missing:
        raise TypeError(
            f"{name}: {cls.__qualname__} lacks {' and '.join(missing)}. Define "
            f"`def tree_flatten(self): return children, aux_data` and "
            f"`@classmethod def tree_unflatten(cls, aux_data, children)`."
        )
    with_keys = getattr(cls, "tree_flatten_with_keys", None)
    _install(
        _Handler(
            cls,
            operator.methodcaller("tree_flatten"),
            cls.tree_unflatten,
            None if with_keys is None else operator.methodcaller("tree_flatten_with_keys"),
            None,
            name,
        )
    )
    return cls


def register_static(cls: _T) -> _T:
    """Registers ``cls`` as a node with no children: instances live in the treedef.

    The instance itself is the node's aux data, so it must be hashable and comparable; it
    becomes part of the jit cache key (like a static argument) instead of being traced.

    Args:
        cls: The class to register.

    Returns:
        ``cls`` itself, so this works as a decorator.

    Raises:
        TypeError: If ``cls`` is not a class.
        ValueError: If ``cls`` is already registered.

    Example:
        >>> from derivax import tree
        >>> @tree.register_static
        ... class Mode(str):
        ...     pass
        >>> tree.leaves({"x": 1.0, "mode": Mode("train")})
        [1.0]
    """
    _check_new_type("register_static", "cls", cls)
    _install(
        _Handler(
            cls,
            lambda x: ((), x),
            lambda aux, _children: aux,
            lambda x: ((), x),
            lambda aux, _children: f"{_type_name(cls)}[{aux!r}]",
            "register_static",
        )
    )
    return cls


def _dataclass_fields(cls, data_fields, meta_fields):
    """Resolves and checks the data and meta field names for `register_dataclass`."""
    name = "register_dataclass"
    for arg, value in (("data_fields", data_fields), ("meta_fields", meta_fields)):
        if isinstance(value, str):
            raise TypeError(
                f"{name}: `{arg}` must be a sequence of field names, got the string "
                f"{value!r}. Write {arg}=[{value!r}]."
            )
    is_dc = dataclasses.is_dataclass(cls)
    if data_fields is None and meta_fields is None and not is_dc:
        raise TypeError(
            f"{name}: {cls.__qualname__} is not a dataclass, so its fields cannot be "
            f"inferred. Pass data_fields=[...] and meta_fields=[...], or apply "
            f"@dataclasses.dataclass first (put @register_dataclass above @dataclass)."
        )
    all_fields = [f.name for f in dataclasses.fields(cls)] if is_dc else None
    if data_fields is None and meta_fields is None:
        fields = dataclasses.fields(cls)
        meta = [f.name for f in fields if f.metadata.get("static", False)]
        data = [f.name for f in fields if not f.metadata.get("static", False)]
    elif is_dc:
        given = list(data_fields if data_fields is not None else meta_fields)
        rest = [f for f in all_fields if f not in given]
        data = given if data_fields is not None else rest
        meta = list(meta_fields) if meta_fields is not None else rest
    else:
        data = list(data_fields or ())
        meta = list(meta_fields or ())
    both = sorted(set(data) & set(meta))
    if both:
        raise ValueError(
            f"{name}: fields {both} of {cls.__qualname__} are listed in both data_fields and "
            f"meta_fields; list each field once (data: traced leaves, meta: static)."
        )
    if is_dc:
        unknown = [f for f in data + meta if f not in all_fields]
        if unknown:
            raise ValueError(
                f"{name}: {unknown} are not fields of {cls.__qualname__} (its fields are "
                f"{all_fields}). Fix the names in data_fields/meta_fields."
            )
        missing = [f for f in all_fields if f not in data and f not in meta]
        if missing:
            raise ValueError(
                f"{name}: fields {missing} of {cls.__qualname__} are in neither data_fields "
                f"nor meta_fields, so unflatten could not restore them. List every field."
            )
    return tuple(data), tuple(meta)


def _getter(names: Sequence[str]) -> Callable[[Any], tuple]:
    if not names:
        return lambda _: ()
    if len(names) == 1:
        get = operator.attrgetter(names[0])
        return lambda x: (get(x),)
    return operator.attrgetter(*names)


def register_dataclass(
    cls: _T | None = None,
    data_fields: Sequence[str] | None = None,
    meta_fields: Sequence[str] | None = None,
) -> Any:
    """Registers a dataclass-like class whose fields are either children or static data.

    With no field lists, ``cls`` must be a dataclass: fields declared with
    ``dataclasses.field(metadata={"static": True})`` are meta fields, all others data
    fields. If only one list is given for a dataclass, the other is every remaining field.

    Unflattening builds the instance with ``object.__new__`` and sets every field directly,
    without calling ``__init__`` or ``__post_init__`` (frozen dataclasses work). Tree
    utilities routinely put placeholders in data fields (None, shape structs, tracers), and
    validation in ``__init__`` must not reject them.

    Args:
        cls: The class. Omit it to get a decorator: ``@register_dataclass(meta_fields=[...])``.
        data_fields: Names of the attributes that are children (traced under jit).
        meta_fields: Names of the attributes kept in the treedef; their values must be
            hashable and are part of the jit cache key.

    Returns:
        ``cls`` itself (or, without ``cls``, a decorator that registers and returns it).

    Raises:
        TypeError: If ``cls`` is not a class, or is not a dataclass and no fields are given.
        ValueError: If ``cls`` is already registered, a field is listed twice, a listed
            name is not a field, or a dataclass field is in neither list.

    Example:
        >>> import dataclasses
        >>> from derivax import tree
        >>> @tree.register_dataclass
        ... @dataclasses.dataclass(frozen=True)
        ... class Linear:
        ...     w: float
        ...     b: float
        ...     name: str = dataclasses.field(default="fc", metadata={"static": True})
        >>> tree.flatten(Linear(1.0, 2.0))
        ([1.0, 2.0], PyTreeDef(Linear(w=*, b=*, name='fc')))
    """
    if cls is None:
        return lambda c: register_dataclass(c, data_fields, meta_fields)
    _check_new_type("register_dataclass", "cls", cls)
    data, meta = _dataclass_fields(cls, data_fields, meta_fields)
    get_data, get_meta = _getter(data), _getter(meta)

    def flatten(x):
        return get_data(x), get_meta(x)

    def flatten_with_keys(x):
        return list(zip(keys, get_data(x), strict=True)), get_meta(x)

    def unflatten(aux, children):
        obj = object.__new__(cls)
        for name, value in zip(data, children, strict=True):
            object.__setattr__(obj, name, value)
        for name, value in zip(meta, aux, strict=True):
            object.__setattr__(obj, name, value)
        return obj

    def repr_fn(aux, child_reprs):
        parts = [f"{n}={c}" for n, c in zip(data, child_reprs, strict=True)]
        parts += [f"{n}={v!r}" for n, v in zip(meta, aux, strict=True)]
        return f"{_type_name(cls)}({', '.join(parts)})"

    keys = tuple(GetAttrKey(n) for n in data)
    _install(_Handler(cls, flatten, unflatten, flatten_with_keys, repr_fn, "register_dataclass"))
    return cls
