"""`Module`: a frozen dataclass that is a pytree, so a model is a value.

Subclassing `Module` turns the class into a dataclass and registers it with
`derivax.tree.register_dataclass`: its fields are the children of a pytree node, except
fields declared ``field(static=True)``, which are kept in the tree structure (they are
part of the jit cache key and are never traced or differentiated).

Life of an instance: ``__init__`` (the generated one, or a custom one that assigns every
field with ``self.name = value``), then each field's converter, then every
``__check_init__`` along the class hierarchy; after that the instance is frozen and
assigning to a field raises `FrozenModuleError`. Tree utilities (``tree.map``,
`tree_at`, ``jit``) rebuild modules without calling ``__init__`` at all, because they
routinely put placeholders (None, tracers, shape structs) in array fields.

Methods are bound lazily to a `BoundMethod`, itself a module with the instance as its
child, so ``derivax.jit(model.method)`` and ``filter_jit(model.method)`` see the model's
arrays as inputs.
"""

from __future__ import annotations

import abc
import dataclasses
import functools
import inspect
from collections.abc import Callable
from typing import Any

from derivax import tree

__all__ = ["BoundMethod", "FrozenModuleError", "Module", "field"]


class FrozenModuleError(dataclasses.FrozenInstanceError):
    """A field of a `Module` was assigned (or deleted) after ``__init__`` finished.

    Modules are immutable values, like arrays: that is what lets ``jit``, ``grad`` and
    ``vmap`` treat them as pytrees. Fix: build a modified copy with
    ``nnp.tree_at(lambda m: m.field, model, new_value)``, or assign the field inside
    ``__init__``.
    """


def field(*, converter: Callable[[Any], Any] | None = None, static: bool = False, **kwargs: Any):
    """Declares a `Module` field with options; a `dataclasses.field` with two more.

    Args:
        converter: Called on the field's value after ``__init__`` (the generated one or a
            custom one) and before ``__check_init__``; its result is stored.
        static: Keep the field in the tree structure instead of making it a child: it is
            not traced by ``jit``, not differentiated, and must be hashable (ints, strings,
            tuples, functions). Use it for hyperparameters such as sizes.
        **kwargs: Passed to `dataclasses.field` (``default``, ``default_factory``,
            ``repr``, ``metadata`` ...).

    Returns:
        A dataclass field specification.

    Raises:
        TypeError: If ``converter`` is given but not callable.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_pytree as nnp
        >>> class Scale(nnp.Module):
        ...     factor: float = nnp.field(converter=float)
        ...     name: str = nnp.field(static=True, default="scale")
        >>> Scale(2).factor
        2.0
    """
    if converter is not None and not callable(converter):
        raise TypeError(
            f"field: `converter` must be callable (value -> stored value), got {converter!r}."
        )
    metadata = dict(kwargs.pop("metadata", None) or {})
    if converter is not None:
        metadata["converter"] = converter
    if static:
        metadata["static"] = True
    return dataclasses.field(metadata=metadata, **kwargs)


# ids of the instances whose __init__ is running: only they may assign their fields.
_initialising: set[int] = set()


class _MethodDescriptor:
    """Wraps a function defined in a Module's body; attribute access returns a BoundMethod."""

    def __init__(self, fn: Callable[..., Any]):
        self.fn = fn
        functools.update_wrapper(self, fn)

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self.fn
        bound = object.__new__(BoundMethod)
        d = bound.__dict__
        d["__func__"] = self.fn
        d["__self__"] = instance
        return bound

    def __call__(self, *args: Any, **kwargs: Any) -> Any:  # e.g. Parent.method(self, ...)
        return self.fn(*args, **kwargs)


def _wrappable(name: str, value: Any) -> bool:
    return inspect.isfunction(value) and not (name.startswith("__") and name.endswith("__"))


class _ModuleMeta(abc.ABCMeta):
    """Makes every subclass a registered dataclass and runs the initialisation protocol."""

    def __new__(mcs, name: str, bases: tuple, namespace: dict, **kwargs: Any):
        for key, value in list(namespace.items()):
            if _wrappable(key, value):
                namespace[key] = _MethodDescriptor(value)
        cls = super().__new__(mcs, name, bases, namespace, **kwargs)
        # A class without its own __init__ inherits a custom one from a parent; otherwise
        # the dataclass machinery writes one from the fields.
        custom_init = "__init__" in namespace or getattr(cls, "_nnp_custom_init", False)
        cls._nnp_custom_init = custom_init  # type: ignore[attr-defined]
        cls = dataclasses.dataclass(eq=False, repr=False, init=not custom_init)(cls)
        fields = dataclasses.fields(cls)
        cls._nnp_fields = tuple(f.name for f in fields)  # type: ignore[attr-defined]
        cls._nnp_converters = tuple(  # type: ignore[attr-defined]
            (f.name, f.metadata["converter"]) for f in fields if "converter" in f.metadata
        )
        cls._nnp_check_inits = tuple(  # type: ignore[attr-defined]
            klass.__dict__["__check_init__"]
            for klass in reversed(cls.__mro__)
            if "__check_init__" in klass.__dict__
        )
        tree.register_dataclass(cls)
        return cls

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        self = cls.__new__(cls)
        key = id(self)
        _initialising.add(key)
        try:
            cls.__init__(self, *args, **kwargs)
            _finish_init(cls, self)
        finally:
            _initialising.discard(key)
        for check in cls._nnp_check_inits:
            check(self)
        return self


def _finish_init(cls: type, self: Any) -> None:
    d = self.__dict__
    missing = []
    for f in dataclasses.fields(cls):
        if f.name in d:
            continue
        if f.default is not dataclasses.MISSING:
            d[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            d[f.name] = f.default_factory()
        else:
            missing.append(f.name)
    if missing:
        names = ", ".join(repr(m) for m in missing)
        raise TypeError(
            f"{cls.__qualname__}.__init__ did not assign the field{'s' * (len(missing) > 1)} "
            f"{names}. A custom __init__ must set every field (self.{missing[0]} = ...), or "
            f"give the field a default in the class body."
        )
    for name, converter in cls._nnp_converters:
        d[name] = converter(d[name])


class Module(metaclass=_ModuleMeta):
    """Base class of models: a frozen dataclass registered as a pytree.

    Declare fields as class annotations. Array fields (and sub-modules, lists, dicts of
    them) are children of the pytree node; ``field(static=True)`` fields are kept in the
    structure. Instances are immutable after ``__init__``: use `tree_at` to change one.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> import nn_pytree as nnp
        >>> class Affine(nnp.Module):
        ...     weight: derivax.Array
        ...     bias: derivax.Array
        ...     def __call__(self, x):
        ...         return self.weight * x + self.bias
        >>> f = Affine(dnp.full(2, 2.0), dnp.ones(2))
        >>> f(dnp.array([1.0, 2.0]))
        Array([3., 5.], dtype=float32)
        >>> derivax.tree.leaves(f)
        [Array([2., 2.], dtype=float32), Array([1., 1.], dtype=float32)]
        >>> f
        Affine(weight=f32[2], bias=f32[2])
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if id(self) not in _initialising:
            raise FrozenModuleError(
                f"cannot assign to field {name!r} of {type(self).__name__}: modules are "
                f"immutable after __init__. Build a modified copy instead: "
                f"nnp.tree_at(lambda m: m.{name}, model, new_value)."
            )
        if name not in type(self)._nnp_fields:
            fields = ", ".join(type(self)._nnp_fields) or "none"
            raise AttributeError(
                f"{type(self).__name__}.__init__ assigned self.{name}, which is not a field "
                f"(the fields are: {fields}). Declare it in the class body, e.g. "
                f"`{name}: derivax.Array`, or `{name}: int = nnp.field(static=True)` for a "
                f"hyperparameter."
            )
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        raise FrozenModuleError(
            f"cannot delete field {name!r} of {type(self).__name__}: modules are immutable. "
            f"Use nnp.tree_at(lambda m: m.{name}, model, None) to get a copy without it."
        )

    def __repr__(self) -> str:
        from ._pretty import tree_pformat

        return tree_pformat(self)

    def __eq__(self, other: object) -> Any:
        from ._tree import tree_equal

        return tree_equal(self, other)

    def __hash__(self) -> int:
        return hash((type(self), tuple(tree.leaves(self))))


class BoundMethod(Module):
    """A method bound to a module, as a pytree whose child is the module.

    ``model.method`` returns one, so transformations given a method see the module's
    arrays as inputs (``filter_jit(model.method)`` traces them instead of baking them in).

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> import nn_pytree as nnp
        >>> class Poly(nnp.Module):
        ...     coef: derivax.Array
        ...     def value(self, x):
        ...         return self.coef[0] + self.coef[1] * x
        >>> p = Poly(dnp.array([1.0, 2.0]))
        >>> derivax.jit(p.value)(3.0)
        Array(7., dtype=float32)
        >>> len(derivax.tree.leaves(p.value))
        1
    """

    __func__: Callable[..., Any] = field(static=True)
    __self__: Module

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.__func__(self.__self__, *args, **kwargs)

    @property
    def __name__(self) -> str:  # type: ignore[override]
        return self.__func__.__name__

    def __getattr__(self, name: str) -> Any:
        # ``__qualname__`` cannot be a property in a class body (it names the class).
        if name == "__qualname__":
            return self.__dict__["__func__"].__qualname__
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def __signature__(self) -> inspect.Signature:
        sig = inspect.signature(self.__func__)
        return sig.replace(parameters=list(sig.parameters.values())[1:])
