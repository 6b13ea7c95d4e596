"""The heart of derivax: abstract values, primitives, traces and tracers.

Every operation in derivax ends in ``primitive.bind(*args, **params)``. ``bind`` finds the
trace that owns the highest-level tracer among the arguments (or the dynamic trace that is
staging out a whole function for ``jit``) and lets it apply the primitive's rule: the
NumPy implementation when nothing is traced, a tangent rule under ``jvp``, a batching rule
under ``vmap``, or a recording rule while building the IR.

Traces form a stack with levels. A tracer of level ``n`` can be "lifted" into any trace of
a higher level, which is how nested transformations (``grad(grad(f))``, ``vmap(grad(f))``,
``jit(vmap(f))``) compose without knowing about each other.
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Callable
from contextlib import contextmanager

import numpy as np

from . import _dtypes
from ._config import config

# --------------------------------------------------------------------------- errors


class DerivaxError(Exception):
    """Base class of derivax's own errors."""


class ConcretizationTypeError(DerivaxError, TypeError):
    """A traced value was used where Python needs a concrete one.

    Under ``jit`` (and ``vmap``) arguments are abstract: only their shape and dtype are
    known while the function is traced. Python control flow (``if x > 0``), ``int(x)``,
    ``float(x)`` and shapes computed from data need the value itself.

    Fixes: mark the argument static (``jit(f, static_argnums=...)`` or
    ``static_argnames=...``) when it is a setting rather than data; express value-dependent
    choices with ``derivax.numpy.where`` or ``derivax.lax.cond``; or compute the value
    outside the traced function.
    """


class UnexpectedTracerError(DerivaxError):
    """A tracer escaped the transformation that created it.

    This happens when a value computed inside ``jit``/``grad``/``vmap`` is stored in a
    global, a list or an object attribute and used after the transformation returned.
    Fix: return the value from the function instead of storing it as a side effect.
    """


class NotDifferentiableError(DerivaxError, TypeError):
    """An operation with no derivative rule was differentiated."""


# --------------------------------------------------------------------------- abstract values


class ShapedArray:
    """The abstract value of an array: shape, dtype and weak-type flag.

    Args:
        shape: tuple of non-negative ints.
        dtype: a NumPy dtype.
        weak_type: True for values that came from Python scalars; they adopt the dtype of
            the other operand in binary operations (``f32_array * 2.0`` stays float32).

    Example:
        >>> import numpy as np
        >>> ShapedArray((2, 3), np.dtype('float32'))
        ShapedArray(f32[2,3])
    """

    __slots__ = ("shape", "dtype", "weak_type", "_hash")
    array_abstraction_level = 1

    def __init__(self, shape, dtype, weak_type=False):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.weak_type = bool(weak_type)
        self._hash = None

    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: int(np.prod(self.shape, dtype=np.int64)))

    def __eq__(self, other):
        return (
            type(other) is ShapedArray
            and self.shape == other.shape
            and self.dtype == other.dtype
            and self.weak_type == other.weak_type
        )

    def __hash__(self):
        h = self._hash
        if h is None:
            h = self._hash = hash((self.shape, self.dtype, self.weak_type))
        return h

    def strip_weak_type(self):
        return self if not self.weak_type else ShapedArray(self.shape, self.dtype)

    def update(self, shape=None, dtype=None, weak_type=None):
        return ShapedArray(
            self.shape if shape is None else shape,
            self.dtype if dtype is None else dtype,
            self.weak_type if weak_type is None else weak_type,
        )

    def str_short(self):
        return f"{_dtypes.dtype_to_str(self.dtype)}[{','.join(map(str, self.shape))}]"

    def __repr__(self):
        weak = ", weak_type=True" if self.weak_type else ""
        return f"ShapedArray({self.str_short()}{weak})"


def get_aval(x) -> ShapedArray:
    """The abstract value of an array, tracer, NumPy array or Python scalar."""
    if isinstance(x, Tracer):
        return x.aval
    aval = getattr(x, "aval", None)
    if aval is not None:
        return aval
    if type(x) in (bool, int, float, complex):
        dtype, weak = _dtypes.python_scalar_dtype(x)
        return ShapedArray((), dtype, weak)
    if isinstance(x, (np.ndarray, np.generic)):
        return ShapedArray(x.shape, _dtypes.canonicalize_dtype(x.dtype, explicit=False))
    raise TypeError(
        f"Value of type {type(x).__name__} is not a valid derivax array type. Arrays, NumPy "
        "arrays and Python scalars (bool, int, float, complex) are; convert other values "
        "with derivax.numpy.asarray, or mark the argument static."
    )


# --------------------------------------------------------------------------- primitives


class Primitive:
    """A primitive operation: the unit every transformation knows how to handle.

    Each primitive carries its rules as attributes, set next to its definition:
    ``impl`` (NumPy evaluation), ``abstract_eval`` (shape/dtype rule), ``jvp``,
    ``transpose`` (for linear primitives), ``batch`` (for ``vmap``). A rule that is
    deliberately missing records its reason in ``no_rule_reasons[kind]``.
    """

    multiple_results = False

    def __init__(self, name: str, *, multiple_results: bool = False):
        self.name = name
        self.multiple_results = multiple_results
        self.impl: Callable | None = None
        self.abstract_eval: Callable | None = None
        self.jvp: Callable | None = None
        self.transpose: Callable | None = None
        self.batch: Callable | None = None
        # A batching rule that also receives the vmap's (axis_size, axis_name): collectives
        # and control flow whose bodies may hold them. It runs even when nothing is batched.
        self.batch_with_axis: Callable | None = None
        self.linear = False
        self.no_rule_reasons: dict[str, str] = {}
        self.print_params: Callable | None = None
        REGISTRY[name] = self

    def __repr__(self):
        return self.name

    def bind(self, *args, **params):
        if _state.dynamic is None:
            for a in args:
                if isinstance(a, Tracer):
                    break
            else:
                out = self.impl(*args, **params)
                if config.debug_nans:
                    _check_nans(self, out)
                return out
        return _bind_traced(self, args, params)

    def rule(self, kind: str) -> Callable:
        rule = getattr(self, kind)
        if rule is None:
            reason = self.no_rule_reasons.get(kind)
            what = {
                "jvp": "differentiation (jvp/grad)",
                "transpose": "reverse-mode differentiation (transpose)",
                "batch": "vmap (batching)",
                "impl": "evaluation",
                "abstract_eval": "shape inference",
            }[kind]
            msg = f"The primitive '{self.name}' has no {kind} rule, so it does not support {what}."
            if reason:
                msg += f" Reason: {reason}"
            err = NotDifferentiableError if kind in ("jvp", "transpose") else NotImplementedError
            raise err(msg)
        return rule


REGISTRY: dict[str, Primitive] = {}


class NaNError(DerivaxError, FloatingPointError):
    """With ``config.debug_nans`` on, an operation produced a NaN. The message names the
    first primitive whose output contained one and your line; inspect its inputs there (log
    of a negative, 0/0, inf - inf, sqrt of a negative are the usual causes)."""


def _check_nans(prim, out):
    outs = out if prim.multiple_results else [out]
    for o in outs:
        v = getattr(o, "_value", None)
        if v is not None and v.dtype.kind in "fc" and np.isnan(v).any():
            raise NaNError(
                f"debug_nans: the primitive '{prim.name}' produced NaN at "
                f"{format_frame(user_frame())}. Turn the check off with "
                "derivax.config.update('debug_nans', False)."
            )


def _bind_traced(prim, args, params):
    trace = find_top_trace(args)
    tracers = [trace.full_raise(a) for a in args]
    out = trace.process_primitive(prim, tracers, params)
    return out if prim.multiple_results else out[0]


# --------------------------------------------------------------------------- trace stack


class MainTrace:
    """One level of the trace stack: a trace type plus its shared data."""

    __slots__ = ("level", "trace_type", "payload", "active")

    def __init__(self, level, trace_type, payload):
        self.level = level
        self.trace_type = trace_type
        self.payload = payload
        self.active = True

    def __repr__(self):
        return f"MainTrace({self.level}, {self.trace_type.__name__})"


class _TraceState:
    __slots__ = ("stack", "dynamic")

    def __init__(self):
        self.stack: list[MainTrace] = []
        self.dynamic: MainTrace | None = None


_state = _TraceState()


@contextmanager
def new_main(trace_type, payload=None, *, dynamic=False):
    """Push a new trace level; with ``dynamic=True`` it also captures untraced operations."""
    level = len(_state.stack) + 1
    main = MainTrace(level, trace_type, payload)
    _state.stack.append(main)
    prev_dynamic = _state.dynamic
    if dynamic:
        _state.dynamic = main
    try:
        yield main
    finally:
        main.active = False
        _state.dynamic = prev_dynamic
        _state.stack.pop()


@contextmanager
def no_dynamic():
    """Evaluate eagerly even while an IR is being built (used for constant work)."""
    prev = _state.dynamic
    _state.dynamic = None
    try:
        yield
    finally:
        _state.dynamic = prev


def get_opaque_trace_state():
    """An opaque, comparable snapshot of the active transformations.

    Libraries compare two snapshots to detect that code runs under a transformation that
    was entered after a point of interest (e.g. a plain ``jit`` inside a module transform).

    Example:
        >>> import derivax
        >>> derivax.core.get_opaque_trace_state() == derivax.core.get_opaque_trace_state()
        True
    """
    return (tuple(_state.stack), _state.dynamic)


def find_top_trace(args) -> Trace:
    top = _state.dynamic
    top_level = top.level if top is not None else 0
    for a in args:
        if isinstance(a, Tracer):
            main = a._trace.main
            if not main.active:
                raise UnexpectedTracerError(_escaped_tracer_message(a))
            if main.level > top_level:
                top, top_level = main, main.level
    if top is None:
        return EVAL_TRACE
    return top.trace_type(top)


class Trace:
    """Base class of traces: how to raise values into this trace and apply primitives."""

    __slots__ = ("main",)

    def __init__(self, main):
        self.main = main

    def pure(self, val):
        raise NotImplementedError

    def lift(self, tracer):
        return self.pure(tracer)

    def full_raise(self, val):
        if not isinstance(val, Tracer):
            return self.pure(val)
        main = val._trace.main
        if main is self.main:
            return val
        if not main.active:
            raise UnexpectedTracerError(_escaped_tracer_message(val))
        if main.level < self.main.level:
            return self.lift(val)
        raise UnexpectedTracerError(
            f"A tracer of a transformation at level {main.level} was mixed into the "
            f"transformation at level {self.main.level} that runs inside it. "
            + UnexpectedTracerError.__doc__.split("\n\n")[1]
        )

    def process_primitive(self, prim, tracers, params):
        raise NotImplementedError

    def process_custom_jvp_call(self, prim, fun, jvp, tracers, params):
        # Default: the custom rule is only relevant to differentiation.
        del prim, jvp, params
        return fun(*tracers)

    def process_custom_vjp_call(self, prim, fun, fwd, bwd, tracers, params):
        del prim, fwd, bwd, params
        return fun(*tracers)


def _escaped_tracer_message(tracer):
    return (
        f"Encountered a tracer ({tracer.aval.str_short()}) from a transformation that has "
        f"already finished ({tracer._trace.main.trace_type.__name__}). "
        + " ".join(UnexpectedTracerError.__doc__.split("\n\n")[1].split())
    )


class EvalTrace(Trace):
    """Level 0: apply primitives to concrete values."""

    __slots__ = ()

    def pure(self, val):
        return val

    lift = pure

    def process_primitive(self, prim, tracers, params):
        out = prim.impl(*tracers, **params)
        return out if prim.multiple_results else [out]

    def full_raise(self, val):
        return val


EVAL_TRACE = EvalTrace(MainTrace(0, EvalTrace, None))


class Tracer:
    """Base class of tracers: stand-ins for arrays inside a transformation.

    A tracer behaves like an array (operators, methods, ``shape``, ``dtype``) and records or
    transforms every operation applied to it.
    """

    __slots__ = ("_trace",)
    __array_priority__ = 1000

    @property
    def aval(self) -> ShapedArray:
        raise NotImplementedError

    shape = property(lambda self: self.aval.shape)
    dtype = property(lambda self: self.aval.dtype)
    ndim = property(lambda self: self.aval.ndim)
    size = property(lambda self: self.aval.size)
    weak_type = property(lambda self: self.aval.weak_type)

    def __len__(self):
        if not self.aval.shape:
            raise TypeError("len() of a 0-d array (a scalar) is undefined.")
        return self.aval.shape[0]

    def to_concrete_value(self):
        """The concrete value behind this tracer, or None when it is abstract."""
        return None

    def _concrete(self, what):
        val = self.to_concrete_value()
        if val is None:
            raise ConcretizationTypeError(concretization_message(self, what))
        return val

    def __bool__(self):
        return bool(self._concrete("bool() (an `if`, `while`, `and`/`or` or `assert`)"))

    def __int__(self):
        return int(self._concrete("int()"))

    def __float__(self):
        return float(self._concrete("float()"))

    def __complex__(self):
        return complex(self._concrete("complex()"))

    def __index__(self):
        return int(self._concrete("an index (__index__, e.g. range(x) or a shape)"))

    def __array__(self, dtype=None, copy=None):
        val = self.to_concrete_value()
        if val is None:
            raise ConcretizationTypeError(
                concretization_message(self, "a NumPy conversion (np.asarray / __array__)")
            )
        return np.asarray(val, dtype=dtype)

    def item(self):
        return self._concrete("item()").item()

    def tolist(self):
        return np.asarray(self._concrete("tolist()")).tolist()

    def __hash__(self):
        raise TypeError(
            f"Traced arrays ({self.aval.str_short()}) are not hashable. If this value is a "
            "setting (a static argument), mark it with static_argnums/static_argnames."
        )

    def __iter__(self):
        if not self.aval.shape:
            raise TypeError("iteration over a 0-d array (a scalar)")
        return (self[i] for i in range(self.aval.shape[0]))

    def __repr__(self):
        return f"{type(self).__name__}<{self.aval.str_short()}>"

    def __str__(self):
        return (
            f"Traced<{self.aval.str_short()}> (its value is not known while tracing; use "
            "derivax.debug.print or return it to see it)"
        )

    def __setitem__(self, idx, val):
        raise TypeError(_immutable_message(type(self).__name__))

    # Subclasses keep Python from creating per-instance dicts.


def _immutable_message(kind):
    return (
        f"{kind} objects are immutable: `x[idx] = y` is not supported. Write "
        "`x = x.at[idx].set(y)` instead (also .add, .multiply, .min, .max); it returns a new "
        "array and compiles to an in-place update under jit."
    )


# --------------------------------------------------------------------------- user frames

_PKG_DIR = os.path.dirname(os.path.abspath(__file__))


def user_frame(skip_internal=True):
    """The innermost stack frame outside the derivax package, as (filename, lineno, name)."""
    f = sys._getframe(1)
    while f is not None:
        fname = f.f_code.co_filename
        if not (skip_internal and (fname.startswith(_PKG_DIR) or fname.startswith("<frozen"))):
            return fname, f.f_lineno, f.f_code.co_name
        f = f.f_back
    return None


def format_frame(frame):
    if frame is None:
        return "<unknown>"
    fname, lineno, name = frame
    return f"{os.path.basename(fname)}:{lineno} ({name})"


# Hook set by the IR builder: explains which inputs an abstract tracer depends on.
_provenance_hooks: list[Callable[[Tracer], str | None]] = []


def concretization_message(tracer, what) -> str:
    frame = user_frame()
    lines = [
        f"A traced array {tracer.aval.str_short()} was used in {what} at "
        f"{format_frame(frame)}, but its value is not known while the function is traced.",
    ]
    for hook in _provenance_hooks:
        info = hook(tracer)
        if info:
            lines.append(info)
            break
    lines.append(
        "Fixes: if the value is a setting rather than data, mark that argument static "
        "(jit(f, static_argnums=...) or static_argnames=...); to choose between values, use "
        "derivax.numpy.where(cond, a, b); to choose between computations, use "
        "derivax.lax.cond; for a shape, compute it from x.shape, which is always concrete."
    )
    return "\n".join(lines)


# --------------------------------------------------------------------------- helpers


def concrete_or_error(x, what: str):
    """Return a concrete NumPy value for ``x`` or raise ConcretizationTypeError."""
    if isinstance(x, Tracer):
        return np.asarray(x._concrete(what))
    return np.asarray(x)


_counter = itertools.count()


def unique_id() -> int:
    return next(_counter)


def is_traced(x) -> bool:
    return isinstance(x, Tracer)


def safe_zip(*args):
    return list(zip(*args, strict=True))


def safe_map(f, *args):
    return [f(*xs) for xs in zip(*args, strict=True)]
