"""`filter_vmap` and `filter_eval_shape`: batching and shape inference over any pytree.

`filter_vmap` resolves ``in_axes`` leaf by leaf: a spec leaf is an int, ``None`` or a
callable ``leaf -> int | None`` (such as ``if_array(0)``, the default), applied to every
leaf of the argument subtree it covers. Arrays with an axis are mapped, arrays without
one are broadcast, and non-array leaves pass through untouched; outputs likewise.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import derivax
from derivax import tree

from ._filters import is_array

__all__ = ["filter_eval_shape", "filter_vmap", "if_array"]


class if_array:  # noqa: N801 - a function-like filter, named as Equinox names it
    """An ``in_axes``/``out_axes`` filter: ``axis`` for array leaves, ``None`` for others.

    Args:
        axis: The axis to map over for arrays.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_pytree as nnp
        >>> spec = nnp.if_array(0)
        >>> spec(dnp.ones(3)), spec("relu")
        (0, None)
    """

    def __init__(self, axis: int):
        if not isinstance(axis, int) or isinstance(axis, bool):
            raise TypeError(f"if_array: `axis` must be an int, got {axis!r}.")
        self.axis = axis

    def __call__(self, x: Any) -> int | None:
        return self.axis if is_array(x) else None

    def __repr__(self) -> str:
        return f"if_array({self.axis})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, if_array) and other.axis == self.axis

    def __hash__(self) -> int:
        return hash((if_array, self.axis))


def _resolve(spec: Any, leaf: Any, where: str, fn_name: str) -> int | None:
    axis = spec(leaf) if callable(spec) else spec
    if axis is not None and (not isinstance(axis, int) or isinstance(axis, bool)):
        raise TypeError(
            f"{fn_name}: the axis spec for {where} gave {axis!r}; axis specs must be ints, "
            f"None, or callables returning an int or None (such as nnp.if_array(0))."
        )
    if axis is not None and not is_array(leaf):
        raise ValueError(
            f"{fn_name}: {where} is a {type(leaf).__name__}, not an array, but its axis spec "
            f"is {axis}. Only arrays can be mapped: use None (or nnp.if_array({axis}), which "
            f"skips non-arrays) for this leaf."
        )
    return axis


def _leaf_axes(spec_tree: Any, value: Any, prefix: str, fn_name: str) -> list:
    """One axis per leaf of ``value`` from the prefix tree ``spec_tree``."""
    spec_leaves, spec_def = tree.flatten(spec_tree, is_leaf=lambda x: x is None)
    try:
        subtrees = spec_def.flatten_up_to(value)
    except tree.TreeStructureError as e:
        raise ValueError(
            f"{fn_name}: the axis spec {spec_tree!r} for {prefix} must be a prefix of its value "
            f"(ints, None or filters at the leaves):\n{e}"
        ) from None
    axes: list = []
    for spec, sub in zip(spec_leaves, subtrees, strict=True):
        for path, leaf in tree.flatten_with_path(sub)[0]:
            axes.append(_resolve(spec, leaf, prefix + tree.keystr(path), fn_name))
    return axes


def _in_axes_per_arg(fun: Callable, in_axes: Any, args: tuple) -> list:
    if isinstance(in_axes, dict):
        try:
            names = list(inspect.signature(fun).parameters)
        except (TypeError, ValueError):
            names = []
        unknown = [k for k in in_axes if k not in names[: len(args)]]
        if unknown:
            raise ValueError(
                f"filter_vmap: in_axes names {unknown}, which are not positional parameters "
                f"of {getattr(fun, '__name__', 'the function')} given in this call (its "
                f"parameters: {names}). A dict in_axes maps parameter names to axis specs."
            )
        default = if_array(0)
        return [in_axes.get(name, default) for name in names[: len(args)]]
    if isinstance(in_axes, tuple):
        if len(in_axes) != len(args):
            raise ValueError(
                f"filter_vmap: in_axes is a tuple of {len(in_axes)} specs but the function was "
                f"called with {len(args)} positional arguments; give one spec per argument, "
                f"or a single spec for all of them."
            )
        return list(in_axes)
    return [in_axes] * len(args)


def filter_vmap(
    fun: Callable[..., Any] | None = None,
    *,
    in_axes: Any = if_array(0),  # noqa: B008 - immutable
    out_axes: Any = if_array(0),  # noqa: B008
    axis_name: Any = None,
    axis_size: int | None = None,
) -> Any:
    """Vectorises ``fun`` over a mapped axis, leaf by leaf, for arguments of any kind.

    Args:
        fun: The function. Omit it to use ``filter_vmap(in_axes=...)`` as a decorator.
        in_axes: The axis spec of the positional arguments: one spec for all of them, a
            tuple with one spec per argument, or a dict from parameter name to spec. A spec
            is a pytree prefix of its argument whose leaves are an int, ``None`` or a
            callable ``leaf -> int | None`` such as ``if_array(0)`` (the default: map
            arrays over axis 0, pass other leaves through). Keyword arguments use
            ``if_array(0)``. ``fun``'s own arrays (a module's weights) are not mapped.
        out_axes: The same for the output: where the mapped axis goes (``None`` requires
            the output not to depend on the mapped inputs).
        axis_name: A name for collectives over the mapped axis.
        axis_size: The size of the mapped axis; needed only when no input is mapped.

    Returns:
        The batched function.

    Raises:
        ValueError: If a spec is not a prefix of its argument, maps a non-array leaf, or
            the mapped sizes disagree (the message names the leaves).

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_pytree as nnp
        >>> f = nnp.filter_vmap(lambda p, x: p["scale"] * x + p["shift"], in_axes=(None, 0))
        >>> f({"scale": dnp.array(2.0), "shift": 1.0}, dnp.arange(3.0))
        Array([1., 3., 5.], dtype=float32)
    """
    if fun is None:
        return functools.partial(
            filter_vmap,
            in_axes=in_axes,
            out_axes=out_axes,
            axis_name=axis_name,
            axis_size=axis_size,
        )
    if not callable(fun):
        raise TypeError(f"filter_vmap: expected a callable, got {type(fun).__name__}.")

    @functools.wraps(fun)
    def batched(*args: Any, **kwargs: Any) -> Any:
        name = "filter_vmap"
        specs = _in_axes_per_arg(fun, in_axes, args)
        arg_leaves, arg_def = tree.flatten((args, kwargs))
        axes: list = []
        for i, (spec, arg) in enumerate(zip(specs, args, strict=True)):
            axes += _leaf_axes(spec, arg, f"args[{i}]", name)
        axes += _leaf_axes(if_array(0), kwargs, "kwargs", name)
        positions = [i for i, x in enumerate(arg_leaves) if is_array(x)]
        dyn = [arg_leaves[i] for i in positions]
        dyn_axes = [axes[i] for i in positions]
        out_static: list = []
        out_axes_holder: list = []

        def flat(*xs: Any) -> list:
            leaves = list(arg_leaves)
            for i, x in zip(positions, xs, strict=True):
                leaves[i] = x
            a, kw = arg_def.unflatten(leaves)
            out = fun(*a, **kw)
            out_leaves, out_def = tree.flatten(out)
            leaf_axes = _leaf_axes(out_axes, out, "the output", name)
            arrays = [x for x in out_leaves if is_array(x)]
            out_axes_holder[:] = [
                ax for x, ax in zip(out_leaves, leaf_axes, strict=True) if is_array(x)
            ]
            out_static.append((out_def, [None if is_array(x) else x for x in out_leaves]))
            return arrays

        if not any(ax is not None for ax in dyn_axes) and axis_size is None:
            raise ValueError(
                f"filter_vmap({getattr(fun, '__name__', 'fun')}): no input leaf is mapped (every "
                f"axis spec gave None, or no argument holds an array), so the batch size is "
                f"unknown. Map at least one array or pass axis_size=."
            )
        vmapped = derivax.vmap(
            flat,
            in_axes=tuple(dyn_axes),
            out_axes=out_axes_holder,
            axis_name=axis_name,
            axis_size=axis_size,
        )
        out_arrays = vmapped(*dyn)
        out_def, static = out_static[-1]
        it = iter(out_arrays)
        return out_def.unflatten([next(it) if s is None else s for s in static])

    return batched


def filter_eval_shape(fun: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The output of ``fun(*args, **kwargs)`` with arrays replaced by shape structs.

    Nothing is computed: arrays (and `derivax.ShapeDtypeStruct` placeholders) in the
    inputs are traced abstractly, other leaves are passed as they are, and the output's
    arrays come back as `derivax.ShapeDtypeStruct` while its other leaves are kept. Use it
    to get the structure of a model without allocating it, e.g. as the ``like`` of
    `tree_deserialise_leaves`.

    Args:
        fun: The function (a model class works too).
        *args: Its positional arguments.
        **kwargs: Its keyword arguments.

    Returns:
        The output pytree with `derivax.ShapeDtypeStruct` leaves for arrays.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> import nn_pytree as nnp
        >>> x = derivax.ShapeDtypeStruct((2, 3), dnp.float32)
        >>> nnp.filter_eval_shape(lambda x, n: (x * n, "tag"), x, 2)
        (ShapeDtypeStruct(shape=(2, 3), dtype=float32), 'tag')
    """
    leaves, treedef = tree.flatten((fun, args, kwargs))

    def is_dynamic(x: Any) -> bool:
        return is_array(x) or isinstance(x, derivax.ShapeDtypeStruct)

    positions = [i for i, x in enumerate(leaves) if is_dynamic(x)]
    out_static: list = []

    def flat(dyn: list) -> list:
        full = list(leaves)
        for i, x in zip(positions, dyn, strict=True):
            full[i] = x
        f, a, kw = treedef.unflatten(full)
        out_leaves, out_def = tree.flatten(f(*a, **kw))
        out_static.append((out_def, [None if is_array(x) else x for x in out_leaves]))
        return [x for x in out_leaves if is_array(x)]

    shapes = derivax.eval_shape(flat, [leaves[i] for i in positions])
    out_def, static = out_static[-1]
    it = iter(shapes)
    return out_def.unflatten([next(it) if s is None else s for s in static])
