"""Model summaries: `eval_summary` records every module call of a function (shapes only,
nothing computed) and `tabulate` prints them as a table with parameter counts.

Both run ``init`` under ``derivax.eval_shape`` with an interceptor (`intercept_methods`)
that records each call's module, method, argument and output shapes.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

import derivax
import derivax.random as dr
import derivax.tree as dtree

from ._module import intercept_methods
from ._transform import (
    MultiTransformed,
    MultiTransformedWithState,
    Transformed,
    TransformedWithState,
    transform_with_state,
)

__all__ = ["MethodInvocation", "eval_summary", "tabulate"]

_SHORT = {"float": "f", "int": "i", "uint": "u", "complex": "c", "bfloat": "bf"}


def _short_dtype(dtype) -> str:
    name = np.dtype(dtype).name if not hasattr(dtype, "name") else dtype.name
    for long, short in _SHORT.items():
        if name.startswith(long) and name[len(long) :].isdigit():
            return short + name[len(long) :]
    return name


def _spec(x) -> str:
    """``f32[8,784]`` for arrays; a short repr for everything else; pytrees recursively."""
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return f"{_short_dtype(x.dtype)}[{','.join(str(d) for d in x.shape)}]"
    if isinstance(x, (tuple, list)):
        inner = ", ".join(_spec(v) for v in x)
        return (
            f"({inner}{',' if len(x) == 1 and isinstance(x, tuple) else ''})"
            if isinstance(x, tuple)
            else f"[{inner}]"
        )
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k}: {_spec(v)}" for k, v in x.items()) + "}"
    text = repr(x)
    return text if len(text) <= 20 else text[:17] + "..."


def _args_spec(args, kwargs) -> str:
    parts = [_spec(a) for a in args] + [f"{k}={_spec(v)}" for k, v in kwargs.items()]
    return ", ".join(parts)


class MethodInvocation(NamedTuple):
    """One module call recorded by `eval_summary`.

    Attributes:
        module_name: the module's full name (``mlp/~/linear_0``).
        method_name: the method called.
        depth: how many module calls enclose this one.
        input_spec: the arguments' shapes, e.g. ``f32[8,784]``.
        output_spec: the output's shapes.
        owned_params: ``{name: spec}`` of the parameters the module itself holds.
        owned_size: the number of scalars in them.
        total_size: the same, including the modules under this one.

    Example:
        >>> MethodInvocation("linear", "__call__", 0, "f32[1,3]", "f32[1,2]", {}, 0, 0).depth
        0
    """

    module_name: str
    method_name: str
    depth: int
    input_spec: str
    output_spec: str
    owned_params: dict
    owned_size: int
    total_size: int


def _is_array_tree(x) -> bool:
    leaves = dtree.leaves(x)
    return bool(leaves) and all(
        hasattr(leaf, "shape") and hasattr(leaf, "dtype") and not isinstance(leaf, np.generic)
        for leaf in leaves
    )


def _init_of(f):
    if isinstance(
        f, (Transformed, TransformedWithState, MultiTransformed, MultiTransformedWithState)
    ):
        return f.init
    if not callable(f):
        raise TypeError(
            f"eval_summary: expected a function or the result of nt.transform, got {type(f).__name__}."
        )
    return transform_with_state(f).init


def eval_summary(f):
    """Record every module call that ``f`` makes, computing shapes only.

    Args:
        f: a function using modules (it is transformed with `transform_with_state`), or
            the result of `transform`/`transform_with_state`.

    Returns:
        ``summarize(*args, **kwargs) -> list[MethodInvocation]``; array arguments may be
        arrays or ``derivax.ShapeDtypeStruct``; other arguments are passed as they are.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> rows = nt.experimental.eval_summary(lambda x: nt.nets.MLP([4, 2])(x))(
        ...     derivax.ShapeDtypeStruct((8, 3), dnp.float32)
        ... )
        >>> [(r.module_name, r.output_spec, r.total_size) for r in rows]
        [('mlp', 'f32[8,2]', 26), ('mlp/~/linear_0', 'f32[8,4]', 16), ('mlp/~/linear_1', 'f32[8,2]', 10)]
    """
    summarize = _summarizer(f)
    return lambda *args, **kwargs: summarize(*args, **kwargs)[0]


def _summarizer(f):
    """``summarize(*args, **kwargs) -> (rows, params)``: the work of `eval_summary`."""
    init = _init_of(f)

    def summarize(*args, **kwargs):
        calls: list[list] = []
        depth = [0]

        def record(next_fun, a, kw, context):
            row = [context.module.module_name, context.method_name, depth[0], _args_spec(a, kw), ""]
            calls.append(row)
            depth[0] += 1
            try:
                out = next_fun(*a, **kw)
            finally:
                depth[0] -= 1
            row[4] = _spec(out)
            return out

        dynamic = [i for i, a in enumerate(args) if _is_array_tree(a)]

        def run(*arrays):
            full = list(args)
            for i, a in zip(dynamic, arrays, strict=True):
                full[i] = a
            with intercept_methods(record):
                return init(dr.PRNGKey(0), *full, **kwargs)

        result = derivax.eval_shape(run, *(args[i] for i in dynamic))
        params = result[0] if isinstance(result, tuple) else result

        def size(tree):
            return sum(math.prod(leaf.shape) for leaf in dtree.leaves(tree))

        rows = []
        for module_name, method, d, inputs, output in calls:
            owned = params.get(module_name, {})
            total = sum(
                size(v)
                for k, v in params.items()
                if k == module_name or k.startswith(module_name + "/")
            )
            rows.append(
                MethodInvocation(
                    module_name,
                    method,
                    d,
                    inputs,
                    output,
                    {k: _spec(v) for k, v in owned.items()},
                    size(owned),
                    total,
                )
            )
        return rows, params

    return summarize


def tabulate(f):
    """A text table of the module calls of ``f`` with shapes and parameter counts.

    Columns: the module (indented by nesting), the method, input and output shapes, the
    parameters the module holds, and the parameter count including its submodules. The
    last line gives the total.

    Args:
        f: as for `eval_summary`.

    Returns:
        ``table(*args, **kwargs) -> str``.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> print(nt.experimental.tabulate(lambda x: nt.nets.MLP([4, 2])(x))(dnp.ones((8, 3))))
        | module           | method   | input    | output   | params                 | count |
        |------------------|----------|----------|----------|------------------------|-------|
        | mlp              | __call__ | f32[8,3] | f32[8,2] |                        |    26 |
        |   mlp/~/linear_0 | __call__ | f32[8,3] | f32[8,4] | b: f32[4], w: f32[3,4] |    16 |
        |   mlp/~/linear_1 | __call__ | f32[8,4] | f32[8,2] | b: f32[2], w: f32[4,2] |    10 |
        Total parameters: 26
    """
    summarize = _summarizer(f)

    def table(*args, **kwargs) -> str:
        rows, params = summarize(*args, **kwargs)
        header = ("module", "method", "input", "output", "params", "count")
        body = [
            (
                "  " * r.depth + r.module_name,
                r.method_name,
                r.input_spec,
                r.output_spec,
                ", ".join(f"{k}: {v}" for k, v in r.owned_params.items()),
                str(r.total_size),
            )
            for r in rows
        ]
        widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]

        def line(cells):
            out = []
            for i, cell in enumerate(cells):
                out.append(
                    cell.rjust(widths[i])
                    if i == len(cells) - 1 and cells is not header
                    else cell.ljust(widths[i])
                )
            return "| " + " | ".join(out) + " |"

        rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
        total = sum(math.prod(leaf.shape) for leaf in dtree.leaves(params))
        return "\n".join(
            [line(header), rule, *(line(b) for b in body), f"Total parameters: {total}"]
        )

    return table
