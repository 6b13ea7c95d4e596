"""The tracer base class, which derivax does not export yet.

``is_array`` must recognise traced arrays (the values inside ``jit``, ``grad`` and
``vmap``): they are instances of derivax's tracer base class, not of `derivax.Array`.
Until derivax exports that class, it is found from a traced value made with the public
API: every tracer class derives from the base directly below ``object``.
"""

from __future__ import annotations

import derivax
import derivax.numpy as dnp

__all__ = ["Tracer"]


def _tracer_base() -> type:
    core = getattr(derivax, "core", None)
    exported = getattr(core, "Tracer", None)
    if isinstance(exported, type):
        return exported
    seen: list[type] = []

    def record(x):
        seen.append(type(x))
        return x

    derivax.eval_shape(record, derivax.ShapeDtypeStruct((), dnp.float32))
    return seen[0].__mro__[-2]


Tracer = _tracer_base()
