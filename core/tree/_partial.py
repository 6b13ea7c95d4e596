"""`Partial`: a `functools.partial` that is a pytree node."""

from __future__ import annotations

import functools
from typing import Any

from ._keys import GetAttrKey
from ._registry import _add_builtin

__all__ = ["Partial"]


class Partial(functools.partial):
    """A `functools.partial` whose bound arguments are pytree children.

    The wrapped function is static (it is the node's aux data, compared by identity), and
    the bound positional and keyword arguments are children, so a ``Partial`` can be passed
    through ``jit``, ``grad`` and ``vmap`` and its arguments are traced. Two ``Partial``
    objects have the same structure only if they wrap the same function object: a fresh
    lambda on every call means a fresh jit cache entry.

    Wrapping another ``functools.partial`` merges it: ``Partial(partial(f, a), b)`` is
    ``Partial(f, a, b)``, so every bound argument is a child.

    Args:
        func: The function to call.
        *args: Positional arguments to bind (children).
        **keywords: Keyword arguments to bind (children).

    Example:
        >>> from derivax import tree
        >>> def affine(x, w, b=0.0):
        ...     return w * x + b
        >>> f = tree.Partial(affine, w=2.0, b=1.0)
        >>> f(3.0)
        7.0
        >>> tree.leaves(f)
        [1.0, 2.0]
        >>> tree.map(lambda v: v * 10, f)(3.0)
        70.0
    """

    def __new__(cls, func: Any, /, *args: Any, **keywords: Any) -> Partial:
        if isinstance(func, functools.partial):
            args = func.args + args
            keywords = {**func.keywords, **keywords}
            func = func.func
        return super().__new__(cls, func, *args, **keywords)


def _flatten(p: Partial):
    return (p.args, p.keywords), p.func


def _flatten_with_keys(p: Partial):
    return [(GetAttrKey("args"), p.args), (GetAttrKey("keywords"), p.keywords)], p.func


def _unflatten(func: Any, children: tuple) -> Partial:
    args, keywords = children
    return Partial(func, *args, **keywords)


def _repr(func: Any, children: list[str]) -> str:
    name = getattr(func, "__qualname__", None) or repr(func)
    return f"Partial({name}, args={children[0]}, keywords={children[1]})"


_add_builtin(Partial, _flatten, _unflatten, _flatten_with_keys, _repr)
