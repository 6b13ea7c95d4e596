"""What nn_transform needs from derivax beyond the numerical API: the trace state.

The check that a plain derivax transformation does not wrap stateful code (see
`TransformMixingError`) compares an opaque token of the active transformations, taken
when a transformed function starts, with the token when a parameter is created, a state
value set or a key drawn. derivax exports that token as
``derivax.core.get_opaque_trace_state()`` (JAX has the same function, used by Haiku and
Flax for the same check). When a derivax build lacks it, the token is None and the check
is skipped.
"""

from __future__ import annotations

import derivax

__all__ = ["trace_state", "trace_state_available"]


def _hook():
    core = getattr(derivax, "core", None)
    return getattr(core, "get_opaque_trace_state", None)


def trace_state_available() -> bool:
    """Whether this derivax build exports the trace-state token (the mixing check runs).

    Example:
        >>> isinstance(trace_state_available(), bool)
        True
    """
    return _hook() is not None


def trace_state():
    """An opaque token of the active derivax transformations, or None when unavailable.

    Two tokens compare equal exactly when the same transformations are active.

    Example:
        >>> trace_state() == trace_state()
        True
    """
    hook = _hook()
    return None if hook is None else hook()
