"""``derivax.core``: the tracer base class and trace-state introspection, for libraries
built on derivax (neural-network libraries detect traced values and nested
transformations with these)."""

from ._core import ShapedArray as ShapedArray
from ._core import Tracer as Tracer
from ._core import get_opaque_trace_state as get_opaque_trace_state

__all__ = ["ShapedArray", "Tracer", "get_opaque_trace_state"]
