"""`tree_pformat`: a readable, width-aware rendering of pytrees and modules.

Arrays print as their dtype and shape (``f32[3,2]``), modules as their class with every
field, functions by name. A node is printed on one line when that fits in ``width``,
otherwise its children go one per line, indented.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from typing import Any

import numpy as np

import derivax
import derivax.random

from ._compat import Tracer
from ._filters import is_array

__all__ = ["tree_pformat"]

_SHORT_DTYPES = {
    "float16": "f16",
    "bfloat16": "bf16",
    "float32": "f32",
    "float64": "f64",
    "complex64": "c64",
    "complex128": "c128",
    "int8": "i8",
    "int16": "i16",
    "int32": "i32",
    "int64": "i64",
    "uint8": "u8",
    "uint16": "u16",
    "uint32": "u32",
    "uint64": "u64",
    "bool": "bool",
}


def _array_text(x: Any) -> str:
    try:
        dtype = np.dtype(x.dtype).name
    except TypeError:  # e.g. PRNG key arrays: key<fry>
        dtype = str(x.dtype)
    text = f"{_SHORT_DTYPES.get(dtype, dtype)}[{','.join(str(d) for d in x.shape)}]"
    if isinstance(x, (np.ndarray, np.generic)):
        return text + "(numpy)"
    return text


def _function_text(fn: Any) -> str:
    if isinstance(fn, functools.partial):
        return f"partial({_function_text(fn.func)}, ...)"
    name = getattr(fn, "__name__", None) or type(fn).__name__
    return f"<function {name}>"


class _Group:
    """A node: ``open`` + items separated by commas + ``close``."""

    __slots__ = ("close", "items", "open")

    def __init__(self, open_: str, items: list, close: str):
        self.open, self.items, self.close = open_, items, close


def _doc(x: Any, short_arrays: bool, depth: int) -> Any:
    """Builds the layout document of ``x``: a string or a `_Group`."""
    if depth > 100:
        return "..."
    from ._module import BoundMethod, Module

    if is_array(x) and short_arrays:
        return _array_text(x)
    if isinstance(x, (Tracer, derivax.ShapeDtypeStruct, derivax.random.KeyArray)):
        return _array_text(x)
    if isinstance(x, BoundMethod):
        return _Group(
            "BoundMethod(",
            [
                "__func__=" + _function_text(x.__func__),
                _labelled("__self__=", _doc(x.__self__, short_arrays, depth + 1)),
            ],
            ")",
        )
    if isinstance(x, Module):
        items = [
            _labelled(f.name + "=", _doc(getattr(x, f.name, None), short_arrays, depth + 1))
            for f in dataclasses.fields(x)
            if f.repr
        ]
        return _Group(type(x).__name__ + "(", items, ")")
    if type(x) is list:
        return _Group("[", [_doc(v, short_arrays, depth + 1) for v in x], "]")
    if type(x) is tuple:
        items = [_doc(v, short_arrays, depth + 1) for v in x]
        return _Group("(", items, ",)" if len(items) == 1 else ")")
    if type(x) is dict:
        items = [_labelled(f"{k!r}: ", _doc(v, short_arrays, depth + 1)) for k, v in x.items()]
        return _Group("{", items, "}")
    if isinstance(x, tuple) and hasattr(type(x), "_fields"):
        items = [
            _labelled(f"{name}=", _doc(v, short_arrays, depth + 1))
            for name, v in zip(type(x)._fields, x, strict=True)
        ]
        return _Group(type(x).__name__ + "(", items, ")")
    if inspect.isfunction(x) or inspect.isbuiltin(x) or isinstance(x, functools.partial):
        return _function_text(x)
    return repr(x)


def _labelled(label: str, doc: Any) -> Any:
    if isinstance(doc, str):
        return label + doc
    return _Group(label + doc.open, doc.items, doc.close)


def _flat(doc: Any) -> str:
    if isinstance(doc, str):
        return doc
    return doc.open + ", ".join(_flat(d) for d in doc.items) + doc.close


def _render(doc: Any, column: int, width: int, indent: int, out: list[str]) -> None:
    flat = _flat(doc)
    if isinstance(doc, str) or column + len(flat) <= width or not doc.items:
        out.append(flat)
        return
    pad = " " * (column + indent)
    # Broken once: all the items on one indented line, if they fit there.
    inner = ", ".join(_flat(d) for d in doc.items)
    if column + indent + len(inner) <= width:
        out.append(doc.open + "\n" + pad + inner + "\n" + " " * column + doc.close)
        return
    out.append(doc.open + "\n")
    for i, item in enumerate(doc.items):
        out.append(pad)
        _render(item, column + indent, width, indent, out)
        out.append(",\n" if i < len(doc.items) - 1 else "\n")
    out.append(" " * column + doc.close)


def tree_pformat(
    pytree: Any, *, width: int = 80, indent: int = 2, short_arrays: bool = True
) -> str:
    """Formats a pytree (a model, a list of arrays ...) as readable text.

    Args:
        pytree: What to format.
        width: The line width to fit in; a node that does not fit is split over lines.
        indent: Spaces per nesting level.
        short_arrays: Show arrays as ``f32[3,2]`` (dtype and shape) instead of their values.

    Returns:
        The text.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_pytree as nnp
        >>> print(nnp.tree_pformat({"w": dnp.ones((3, 2)), "act": max}))
        {'w': f32[3,2], 'act': <function max>}
        >>> print(nnp.tree_pformat([dnp.ones(2), dnp.zeros(3)], width=10))
        [
          f32[2],
          f32[3]
        ]
    """
    out: list[str] = []
    _render(_doc(pytree, short_arrays, 0), 0, width, indent, out)
    return "".join(out)
