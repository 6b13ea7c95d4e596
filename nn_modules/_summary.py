"""`tabulate`: a table of the module calls, their shapes and their variables."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

import derivax.tree

from ._module import Module, _context

__all__ = ["tabulate"]


def _describe(tree: Any) -> str:
    """``float32[2,3]`` for arrays; containers keep their brackets."""

    def leaf(x):
        shape, dtype = getattr(x, "shape", None), getattr(x, "dtype", None)
        if shape is None or dtype is None:
            return repr(x)
        return f"{np.dtype(dtype).name}[{','.join(map(str, shape))}]"

    if isinstance(tree, (list, tuple)) and not hasattr(type(tree), "_fields"):
        inner = ", ".join(_describe(t) for t in tree)
        return f"({inner})" if isinstance(tree, tuple) else f"[{inner}]"
    if isinstance(tree, Mapping):
        return "{" + ", ".join(f"{k}: {_describe(v)}" for k, v in tree.items()) + "}"
    if tree is None:
        return "None"
    return leaf(tree)


def _own_variables(variables: Mapping, path: tuple[str, ...], children: set[str]) -> dict:
    """``{collection: {name: leaf}}`` of the variables owned by the module at ``path``."""
    out = {}
    for col, tree in variables.items():
        node = tree
        for name in path:
            node = node.get(name) if isinstance(node, Mapping) else None
            if node is None:
                break
        if not isinstance(node, Mapping):
            continue
        own = {k: v for k, v in node.items() if k not in children}
        if own:
            out[col] = own
    return out


def _size(tree: Any) -> tuple[int, int]:
    leaves = derivax.tree.leaves(tree)
    count = sum(int(np.prod(np.shape(x))) for x in leaves)
    nbytes = sum(
        int(np.prod(np.shape(x))) * np.dtype(x.dtype).itemsize
        for x in leaves
        if hasattr(x, "dtype")
    )
    return count, nbytes


def _bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"


def _render(header: list[str], rows: list[list[str]]) -> str:
    cells = [header, *rows]
    split = [[c.split("\n") for c in row] for row in cells]
    widths = [max(len(line) for row in split for line in row[i]) for i in range(len(header))]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [rule]
    for r, row in enumerate(split):
        height = max(len(c) for c in row)
        for k in range(height):
            parts = [
                (c[k] if k < len(c) else "").ljust(w) for c, w in zip(row, widths, strict=True)
            ]
            out.append("| " + " | ".join(parts) + " |")
        if r == 0 or r == len(split) - 1:
            out.append(rule)
    return "\n".join(out)


def tabulate(module: Module, rngs: Any, *args: Any, depth: int | None = None, **kwargs: Any) -> Any:
    """A table of every module call during ``init``: path, class, input and output shapes,
    and the variables each module owns (shape, dtype and count per collection).

    Called with example inputs it returns the table; called with only the module and
    ``rngs`` (Flax's form) it returns a function that takes the inputs and returns the
    table.

    Args:
        module: the (unbound) model.
        rngs: a key or dict of keys for ``init``.
        *args: example inputs.
        depth: show only calls at most this deep (None: all).
        **kwargs: keyword inputs, and ``method=`` / ``mutable=`` for ``init``.

    Returns:
        The table as a string (print it), or a function returning it.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> import nn_modules as nn
        >>> model = nn.Sequential([nn.Dense(4), nn.relu, nn.Dense(2)])
        >>> print(nn.tabulate(model, derivax.random.key(0), dnp.ones((1, 3))))
        +-----------+------------+--------------+--------------+----------------------+
        | path      | module     | inputs       | outputs      | params               |
        +-----------+------------+--------------+--------------+----------------------+
        |           | Sequential | float32[1,3] | float32[1,2] |                      |
        | /layers_0 | Dense      | float32[1,3] | float32[1,4] | bias: float32[4]     |
        |           |            |              |              | kernel: float32[3,4] |
        |           |            |              |              | 16 (64 B)            |
        | /layers_2 | Dense      | float32[1,4] | float32[1,2] | bias: float32[2]     |
        |           |            |              |              | kernel: float32[4,2] |
        |           |            |              |              | 10 (40 B)            |
        +-----------+------------+--------------+--------------+----------------------+
        Total: 26 parameters (104 B)
    """
    if not args and not any(k not in ("method", "mutable") for k in kwargs):
        return lambda *a, **k: tabulate(module, rngs, *a, depth=depth, **kwargs, **k)
    calls: list[dict] = []

    def intercept(mod, method, call_args, call_kwargs):
        entry = {
            "path": mod.scope.path,
            "module": type(mod).__name__,
            "method": method,
            "inputs": _describe(call_args[0] if len(call_args) == 1 else call_args),
            "outputs": "",
        }
        calls.append(entry)

        def done(out):
            entry["outputs"] = _describe(out)

        return done

    _context.interceptors.append(intercept)
    try:
        variables = module.init(rngs, *args, **kwargs)
    finally:
        _context.interceptors.remove(intercept)

    collections = sorted(variables, key=lambda c: (c != "params", c))
    children: dict[tuple, set] = {}
    for call in calls:
        if call["path"]:
            children.setdefault(call["path"][:-1], set()).add(call["path"][-1])
    header = ["path", "module", "inputs", "outputs", *collections]
    rows, shown = [], set()
    for call in calls:
        path = call["path"]
        if depth is not None and len(path) > depth:
            continue
        method = "" if call["method"] == "__call__" else f".{call['method']}"
        row = ["/" + "/".join(path) if path else "", call["module"] + method]
        row += [call["inputs"], call["outputs"]]
        owned = {} if path in shown else _own_variables(variables, path, children.get(path, set()))
        shown.add(path)
        for col in collections:
            own = owned.get(col)
            if not own:
                row.append("")
                continue
            lines = [f"{k}: {_describe(v)}" for k, v in sorted(own.items())]
            count, nbytes = _size(own)
            lines.append(f"{count} ({_bytes(nbytes)})")
            row.append("\n".join(lines))
        rows.append(row)
    table = _render(header, rows)
    totals = []
    for col in collections:
        count, nbytes = _size(variables[col])
        label = "parameters" if col == "params" else f"{col} variables"
        totals.append(f"{count} {label} ({_bytes(nbytes)})")
    return table + "\nTotal: " + ", ".join(totals or ["no variables"])
