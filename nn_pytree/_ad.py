"""`filter_value_and_grad` and `filter_grad`: gradients with respect to a model's arrays.

The first positional argument is split with `is_inexact_array`: its floating-point
arrays are differentiated, everything else (integer arrays, activation functions, sizes,
flags) is passed through untouched, and the gradient has ``None`` there.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import derivax

from ._filters import combine, is_inexact_array, partition

__all__ = ["filter_grad", "filter_value_and_grad"]


def _first_arg(fn_name: str, fun: Callable[..., Any], args: tuple) -> None:
    if not args:
        raise TypeError(
            f"{fn_name}({getattr(fun, '__name__', 'fun')}) differentiates the first positional "
            f"argument, but the call had none. Call it as f(model, *other_args)."
        )


def filter_value_and_grad(fun: Callable[..., Any] | None = None, *, has_aux: bool = False) -> Any:
    """Returns a function computing ``fun`` and its gradient with respect to the first argument.

    Only the floating-point array leaves of the first argument are differentiated
    (`is_inexact_array`); the gradient is a pytree with the first argument's structure
    holding ``None`` at every other leaf, ready for `apply_updates` or
    ``derivax.optim``.

    Args:
        fun: A function returning a real scalar (or ``(scalar, aux)`` with ``has_aux``).
            Omit it to use ``filter_value_and_grad(has_aux=True)`` as a decorator.
        has_aux: ``fun`` returns ``(value, aux)``; the result is ``((value, aux), grads)``.

    Returns:
        ``f(x, *args, **kwargs) -> (value, grads)``.

    Raises:
        TypeError: When called without a positional argument, or (from ``derivax.grad``)
            when ``fun`` does not return a real scalar.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_pytree as nnp
        >>> loss = lambda p, x: dnp.sum(p["w"] * x) + p["n"]
        >>> value, grads = nnp.filter_value_and_grad(loss)({"w": dnp.ones(2), "n": 1}, 3.0)
        >>> value, grads
        (Array(7., dtype=float32), {'n': None, 'w': Array([3., 3.], dtype=float32)})
    """
    if fun is None:
        return functools.partial(filter_value_and_grad, has_aux=has_aux)
    if not callable(fun):
        raise TypeError(f"filter_value_and_grad: expected a callable, got {type(fun).__name__}.")

    @functools.wraps(fun)
    def value_and_grad(*args: Any, **kwargs: Any) -> Any:
        _first_arg("filter_value_and_grad", fun, args)
        diff, nondiff = partition(args[0], is_inexact_array)

        def inner(diff_x: Any) -> Any:
            return fun(combine(diff_x, nondiff), *args[1:], **kwargs)

        return derivax.value_and_grad(inner, has_aux=has_aux)(diff)

    return value_and_grad


def filter_grad(fun: Callable[..., Any] | None = None, *, has_aux: bool = False) -> Any:
    """Returns a function computing the gradient of ``fun`` with respect to its first argument.

    As `filter_value_and_grad` without the value: floating-point arrays of the first
    argument are differentiated, other leaves get ``None``.

    Args:
        fun: A function returning a real scalar (or ``(scalar, aux)`` with ``has_aux``).
            Omit it to use ``filter_grad(has_aux=True)`` as a decorator.
        has_aux: ``fun`` returns ``(value, aux)``; the result is ``(grads, aux)``.

    Returns:
        ``f(x, *args, **kwargs) -> grads``.

    Raises:
        TypeError: When called without a positional argument, or when ``fun`` does not
            return a real scalar.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_pytree as nnp
        >>> nnp.filter_grad(lambda p: dnp.sum(p[0] ** 2))([dnp.array([1.0, 2.0]), "tag"])
        [Array([2., 4.], dtype=float32), None]
    """
    if fun is None:
        return functools.partial(filter_grad, has_aux=has_aux)
    value_and_grad = filter_value_and_grad(fun, has_aux=has_aux)

    @functools.wraps(fun)
    def grad(*args: Any, **kwargs: Any) -> Any:
        _first_arg("filter_grad", fun, args)
        if has_aux:
            (_, aux), grads = value_and_grad(*args, **kwargs)
            return grads, aux
        return value_and_grad(*args, **kwargs)[1]

    return grad
