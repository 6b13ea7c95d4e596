"""``jit``: trace once per input signature, cache the IR, run it on the back end.

The cache key is the tree structure of the dynamic arguments, each leaf's (shape, dtype,
weak type), the static arguments and the tracing-relevant config. ``run_compiled`` hands
the program to the back end: the LLVM compiler (``derivax._compiler``, the default) or the
reference evaluator (each equation runs its NumPy implementation).

Steady-state calls take a fast path: when every argument is a positional ``Array`` and
there are no keywords or static arguments, the signature is read straight from the
arrays (no pytree flatten) and looked up in a second, per-function table of ``_FastEntry``
objects that hold everything a call needs (the program, its constants, the compiled
executable, the output structure). A miss falls back to the general path, which traces,
warns about retraces and fills both tables.
"""

from __future__ import annotations

import functools
import inspect
import operator
import os
import time
import warnings
import weakref

import numpy as np

from . import _dtypes
from . import tree as tree_util
from ._array import Array, _wrap
from ._config import config
from ._core import EVAL_TRACE, ShapedArray, Tracer, _state, find_top_trace, format_frame, user_frame
from ._custom import closed_call, jit_call_p
from ._ir import ClosedIR, eval_ir

_DEBUG = os.environ.get("DERIVAX_DEBUG", "") not in ("", "0")
# The config's attribute dict: the fast path reads options from it without attribute lookups.
_CFG = config.__dict__
_LEAF_MARK = object()


class RetraceWarning(UserWarning):
    """A jitted function was traced again because an argument's shape or dtype changed.

    Each new shape costs a trace (and, with the compiler, a compile). Fix: keep shapes
    fixed — pad or drop the last incomplete batch — or mark the changing argument static
    if it is a setting.
    """


_llvm_run = None


def run_compiled(call: ClosedIR, args, donate=()):
    """Run a jitted program on concrete arrays with the configured back end.

    ``jit_backend="llvm"`` compiles the program (``derivax._compiler``); "reference"
    evaluates it equation by equation. The debugging options that check every primitive's
    result (``debug_nans``, ``debug_index_checks``) always use the reference evaluator.
    ``donate`` lists argument indices whose buffers the compiled program may reuse.
    """
    if _uses_llvm():
        global _llvm_run
        if _llvm_run is None:
            from ._compiler import run as _llvm_run
        return _llvm_run(call, args, donate)
    outs = eval_ir(call.ir, call.consts, *args)
    return [o if type(o) is Array else _as_array(o) for o in outs]


def _uses_llvm():
    return config.jit_backend == "llvm" and not (config.debug_nans or config.debug_index_checks)


class _FastEntry:
    """What a steady-state call of one (signature, config, back end) needs, resolved once.

    ``dtypes`` are compared by identity (NumPy's builtin dtypes are singletons; a dtype
    that is equal but not identical only costs a trip through the general path). ``fn``
    runs the program on the arguments and returns the result; under the LLVM back end it
    becomes the compiled program's own call on first use.
    """

    __slots__ = ("dtypes", "call", "consts", "out_tree", "single", "donate", "fn")

    def __init__(self, dtypes, call, consts, out_tree, donate, native):
        self.dtypes = dtypes
        self.call = call
        self.consts = tuple(consts)
        self.out_tree = out_tree
        self.single = (
            out_tree.num_leaves == 1 and tree_util.unflatten(out_tree, [_LEAF_MARK]) is _LEAF_MARK
        )
        self.donate = donate
        # The back end and the debug options are part of the fast table's key.
        self.fn = self._bind_native if native else self._run_reference

    def _run_reference(self, args):
        outs = run_compiled(self.call, [*self.consts, *args], self.donate)
        return outs[0] if self.single else tree_util.unflatten(self.out_tree, outs)

    def _bind_native(self, args):
        from ._compiler import executable_for

        exe = executable_for(self.call)
        consts, donate, out_tree, single = self.consts, self.donate, self.out_tree, self.single
        call1 = getattr(exe, "call1", None)
        if single and call1 is not None and not consts and not donate:
            self.fn = call1
        else:

            def native(args):
                flat = (*consts, *args) if consts else args
                outs = exe(flat, donate) if donate else exe.call(flat)
                return outs[0] if single else tree_util.unflatten(out_tree, outs)

            self.fn = native
        return self.fn(args)


def _as_array(x):
    if isinstance(x, Tracer):
        return x
    if isinstance(x, (bool, int, float, complex)):
        dtype, weak = _dtypes.python_scalar_dtype(x)
        return _wrap(np.asarray(x, dtype), weak)
    v = np.asarray(x)
    return _wrap(v.astype(_dtypes.canonicalize_dtype(v.dtype, explicit=False)))


def leaf_aval(x) -> ShapedArray:
    t = type(x)
    if t is Array:
        v = x._value
        return ShapedArray(v.shape, v.dtype, x.weak_type)
    if isinstance(x, Tracer):
        return x.aval
    if t in (bool, int, float, complex):
        dtype, weak = _dtypes.python_scalar_dtype(x)
        return ShapedArray((), dtype, weak)
    if isinstance(x, (np.ndarray, np.generic)):
        return ShapedArray(np.shape(x), _dtypes.canonicalize_dtype(x.dtype, explicit=False))
    aval = getattr(x, "aval", None)
    if isinstance(aval, ShapedArray):
        return aval
    raise TypeError(
        f"jit: an argument leaf of type {type(x).__name__} is not an array. Pass arrays, "
        "NumPy arrays or Python scalars as dynamic arguments, and mark other values static "
        "with static_argnums/static_argnames."
    )


def _sig_of(x):
    t = type(x)
    if t is Array:
        v = x._value
        return (v.shape, v.dtype, x.weak_type)
    a = leaf_aval(x)
    return (a.shape, a.dtype, a.weak_type)


def _normalize_argnums(argnums, n_params, what, fun):
    if argnums is None:
        return ()
    if isinstance(argnums, int):
        argnums = (argnums,)
    out = []
    for a in argnums:
        if not isinstance(a, int):
            raise TypeError(f"jit: {what} must be ints, got {a!r}.")
        if n_params is not None and not -n_params <= a < n_params:
            raise ValueError(
                f"jit: {what}={a} is out of range for {getattr(fun, '__name__', 'the function')} "
                f"with {n_params} positional parameters."
            )
        out.append(a)
    return tuple(out)


class Jitted:
    """A jit-compiled function (see ``derivax.jit``)."""

    def __init__(self, fun, static_argnums=(), static_argnames=(), donate_argnums=(), name=None):
        if not callable(fun):
            raise TypeError(f"jit expects a callable, got {type(fun).__name__}.")
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.name = name or getattr(fun, "__name__", "fun")
        try:
            self._sig = inspect.signature(fun)
            params = list(self._sig.parameters.values())
            self._param_names = [
                p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            ]
            has_varargs = any(p.kind == p.VAR_POSITIONAL for p in params)
        except (TypeError, ValueError):
            self._sig, self._param_names, has_varargs = None, None, True
        n = None if has_varargs else len(self._param_names or [])
        self.static_argnums = _normalize_argnums(static_argnums, n, "static_argnums", fun)
        self.donate_argnums = _normalize_argnums(donate_argnums, n, "donate_argnums", fun)
        if isinstance(static_argnames, str):
            static_argnames = (static_argnames,)
        self.static_argnames = tuple(static_argnames)
        if self._sig is not None:
            names = set(self._sig.parameters)
            var_kw = any(p.kind == p.VAR_KEYWORD for p in self._sig.parameters.values())
            for nm in self.static_argnames:
                if nm not in names and not var_kw:
                    raise ValueError(
                        f"jit: static_argnames contains {nm!r}, which is not a parameter of "
                        f"{self.name}{self._sig}."
                    )
            # A static name also makes its position static, and vice versa (as in JAX).
            extra = [
                self._param_names.index(nm)
                for nm in self.static_argnames
                if nm in self._param_names
            ]
            self.static_argnums = tuple(sorted(set(self.static_argnums) | set(extra)))
            extra_names = [
                self._param_names[i]
                for i in self.static_argnums
                if -len(self._param_names) <= i < len(self._param_names)
            ]
            self.static_argnames = tuple(dict.fromkeys(self.static_argnames + tuple(extra_names)))
        self._cache: dict = {}
        # (trace context, shape, weak, shape, weak, ...) -> [_FastEntry] (see __call__)
        self._fast: dict = {}
        self._fast_ok = not self.static_argnums
        self._trace_times: dict = {}
        self._traces = 0
        self._last_sig = None

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return functools.partial(self, obj)

    def __repr__(self):
        return f"<jitted function {self.name}>"

    # -- argument handling
    def _split(self, args, kwargs):
        nargs = len(args)
        static_pos = set(a % nargs for a in self.static_argnums if -nargs <= a < nargs)
        dyn_args = tuple(a for i, a in enumerate(args) if i not in static_pos)
        static_args = tuple((i, args[i]) for i in sorted(static_pos))
        static_kw = tuple(sorted((k, v) for k, v in kwargs.items() if k in self.static_argnames))
        dyn_kwargs = {k: v for k, v in kwargs.items() if k not in self.static_argnames}
        for where, v in static_args + static_kw:
            try:
                hash(v)
            except TypeError:
                label = f"argument {where}" if isinstance(where, int) else f"argument {where!r}"
                raise TypeError(
                    f"jit: static {label} of {self.name} has type {type(v).__name__}, which "
                    "is not hashable, so it cannot be a cache key. Pass a hashable value "
                    "(e.g. a tuple instead of a list), or make it a dynamic argument."
                ) from None
        return dyn_args, dyn_kwargs, static_args, static_kw

    def _arg_names(self, dyn_args, dyn_kwargs, static_args):
        """Human names for the flat leaves, e.g. ``params['w']`` or ``x``."""
        static_pos = {i for i, _ in static_args}
        names = []
        pos_names = []
        j = 0
        for i in range(len(dyn_args) + len(static_pos)):
            if i in static_pos:
                continue
            if self._param_names and i < len(self._param_names):
                pos_names.append(self._param_names[i])
            else:
                pos_names.append(f"args[{i}]")
            j += 1
        for name, a in zip(pos_names, dyn_args, strict=True):
            for path, _ in tree_util.flatten_with_path(a)[0]:
                names.append(name + tree_util.keystr(path))
        for k in sorted(dyn_kwargs):
            for path, _ in tree_util.flatten_with_path(dyn_kwargs[k])[0]:
                names.append(k + tree_util.keystr(path))
        return names

    def _trace(self, dyn_args, dyn_kwargs, static_args, static_kw, leaves, in_tree):
        out_tree_box = []

        def flat_fun(*flat):
            a, kw = tree_util.unflatten(in_tree, list(flat))
            full = list(a)
            for i, v in static_args:
                full.insert(i, v)
            out = self.fun(*full, **kw, **dict(static_kw))
            outs, out_tree = tree_util.flatten(out)
            out_tree_box.append(out_tree)
            return outs

        try:
            names = self._arg_names(dyn_args, dyn_kwargs, static_args)
            if len(names) != len(leaves):
                names = None
        except Exception:  # naming is best effort; never block tracing on it
            names = None
        t0 = time.perf_counter()
        call, consts = closed_call(
            flat_fun,
            [leaf_aval(x) for x in leaves],
            arg_names=names,
            fun_name=self.name,
            reason="jit",
        )
        self._trace_times[id(call)] = time.perf_counter() - t0
        if config.check_ir:
            from ._ir import check_ir

            check_ir(call.ir)
        self._traces += 1
        if _DEBUG:
            # the same stream and logger as the compiler's messages (compile, cache hit)
            from ._compiler.runtime import log

            log(f"traced {self.name} ({len(call.eqns)} equations)")
        return call, consts, out_tree_box[0]

    def _warn_retrace(self, sig, names):
        old = self._last_sig
        self._last_sig = sig
        threshold = getattr(config, "retrace_warning_threshold", 3)
        if old is None or self._traces < threshold or threshold <= 0:
            return
        changes = []
        old_tree, old_avals = old
        new_tree, new_avals = sig
        if old_tree == new_tree and len(old_avals) == len(new_avals):
            for i, (a, b) in enumerate(zip(old_avals, new_avals, strict=True)):
                if a != b:
                    nm = names[i] if names and i < len(names) else f"leaf {i}"
                    changes.append(f"argument {nm} changed from {_fmt_sig(a)} to {_fmt_sig(b)}")
        else:
            changes.append("the structure of the arguments changed")
        frame = user_frame()
        warnings.warn(
            f"{self.name} was traced {self._traces + 1} times; "
            + "; ".join(changes[:4])
            + f" (call at {format_frame(frame)}). Each new shape or dtype costs a new trace. "
            "Pad or drop the last incomplete batch, or mark a changing setting static.",
            RetraceWarning,
            stacklevel=3,
        )

    def _lookup(self, args, kwargs):
        if not kwargs and not self.static_argnums:
            # Fast path (the common case): no static arguments, no keywords.
            leaves, in_tree = tree_util.flatten((args, {}))
            sig = tuple(
                (x._value.shape, x._value.dtype, x.weak_type) if type(x) is Array else _sig_of(x)
                for x in leaves
            )
            key = (in_tree, sig, (), (), config.trace_context())
            entry = self._cache.get(key)
            if entry is not None:
                self._add_fast(args, leaves, sig, entry, key[4], config.jit_backend)
                return entry, leaves
            dyn_args, dyn_kwargs, static_args, static_kw = args, {}, (), ()
        else:
            dyn_args, dyn_kwargs, static_args, static_kw = self._split(args, kwargs)
            leaves, in_tree = tree_util.flatten((dyn_args, dyn_kwargs))
            sig = tuple(_sig_of(x) for x in leaves)
            key = (in_tree, sig, static_args, static_kw, config.trace_context())
            entry = self._cache.get(key)
        if entry is None:
            backend = config.jit_backend  # as at the call: tracing may change the config
            names = None
            if self._traces:
                try:
                    names = self._arg_names(dyn_args, dyn_kwargs, static_args)
                except Exception:
                    names = None
                self._warn_retrace((in_tree, sig), names)
            else:
                self._last_sig = (in_tree, sig)
            call, consts, out_tree = self._trace(
                dyn_args, dyn_kwargs, static_args, static_kw, leaves, in_tree
            )
            entry = (call, consts, out_tree)
            if not any(isinstance(c, Tracer) for c in consts):
                self._cache[key] = entry
                if not kwargs and not self.static_argnums:
                    self._add_fast(args, leaves, sig, entry, key[4], backend)
        return entry, leaves

    def _add_fast(self, args, leaves, sig, entry, context, backend):
        """Make this cached signature reachable from the fast path when it qualifies:
        every argument a single positional Array (so leaves == args)."""
        if len(leaves) != len(args) or any(type(a) is not Array for a in args):
            return
        call, consts, out_tree = entry
        if any(isinstance(c, Tracer) for c in consts):
            return
        pairs = [x for shape, _, weak in sig for x in (shape, weak)]
        fkey = (context, backend, *pairs)
        dtypes = tuple(d for _, d, _ in sig)
        bucket = self._fast.setdefault(fkey, [])
        if any(all(map(operator.is_, e.dtypes, dtypes)) for e in bucket):
            return
        donate = tuple(len(consts) + i for i in self._donated_positions(len(args)))
        # ``context`` is (enable_x64, default_float_dtype, debug_index_checks, debug_nans);
        # the debug options run on the reference evaluator (see ``run_compiled``).
        native = backend == "llvm" and not (context[2] or context[3])
        bucket.append(_FastEntry(dtypes, call, consts, out_tree, donate, native))

    def _donated_positions(self, nargs):
        return sorted({a % nargs for a in self.donate_argnums if -nargs <= a < nargs})

    def __call__(self, *args, **kwargs):
        cfg = _CFG
        if not kwargs and self._fast_ok and _state.dynamic is None and not cfg["disable_jit"]:
            # Fast path: all positional Arrays. The key mirrors the general cache's
            # (structure, shapes, weak types, trace context) plus the back end; dtypes are
            # checked per entry. One argument is the commonest case: no loop, no list.
            if len(args) == 1:
                a = args[0]
                if type(a) is Array:
                    v = a._value
                    key = (cfg["_trace_context"], cfg["jit_backend"], v.shape, a.weak_type)
                    bucket = self._fast.get(key)
                    if bucket is not None:
                        d = v.dtype
                        for ent in bucket:
                            if ent.dtypes[0] is d:
                                return ent.fn(args)
            else:
                key = [cfg["_trace_context"], cfg["jit_backend"]]
                for a in args:
                    if type(a) is not Array:
                        break
                    key.append(a._value.shape)
                    key.append(a.weak_type)
                else:
                    bucket = self._fast.get(tuple(key))
                    if bucket is not None:
                        for ent in bucket:
                            for a, d in zip(args, ent.dtypes):
                                if a._value.dtype is not d:
                                    break
                            else:
                                return ent.fn(args)
        return self._call_general(args, kwargs)

    def _call_general(self, args, kwargs):
        if config.disable_jit:
            return self.fun(*args, **kwargs)
        (call, consts, out_tree), leaves = self._lookup(args, kwargs)
        if _state.dynamic is None and find_top_trace(leaves) is EVAL_TRACE:
            flat = [x if type(x) is Array else _as_array(x) for x in leaves]
            donate = self._donated_leaves(args, len(consts)) if self.donate_argnums else ()
            outs = run_compiled(call, [*consts, *flat], donate)
        else:
            outs = jit_call_p.bind(*consts, *leaves, call=call, name=self.name)
        return tree_util.unflatten(out_tree, outs)

    def _donated_leaves(self, args, offset):
        """Flat argument indices (after ``offset`` constants) of the donated arguments."""
        n = len(args)
        donated = {a % n for a in self.donate_argnums if -n <= a < n}
        static = {a % n for a in self.static_argnums if -n <= a < n}
        out, pos = [], offset
        for i, a in enumerate(args):
            if i in static:
                continue
            k = len(tree_util.leaves(a))
            if i in donated:
                out.extend(range(pos, pos + k))
            pos += k
        return tuple(out)

    # -- inspection
    def trace(self, *args, **kwargs):
        """Trace for these arguments and return the ``ClosedIR`` (no execution)."""
        (call, consts, _), _ = self._lookup(args, kwargs)
        return ClosedIR(call.ir, [], self.name), consts

    def lower(self, *args, **kwargs):
        """Trace for these arguments; returns a ``Lowered`` object to inspect or compile."""
        (call, consts, out_tree), _ = self._lookup(args, kwargs)
        return Lowered(self, call, consts, out_tree, self._trace_times.get(id(call)))

    def clear_cache(self):
        self._cache.clear()
        self._fast.clear()
        self._trace_times.clear()
        self._traces = 0
        self._last_sig = None

    @property
    def trace_count(self):
        """How many times the function has been traced (cache misses)."""
        return self._traces


def _fmt_sig(s):
    shape, dtype, weak = s
    return f"{_dtypes.dtype_to_str(dtype)}{list(shape)}".replace(" ", "")


class Lowered:
    """The traced program of a jitted function for one argument signature.

    ``as_text(dialect)`` shows it: ``"traced"`` (as traced), ``"ir"`` (after the
    compiler's passes), ``"fusion"`` (the kernel schedule), ``"llvm"`` (optimized LLVM
    IR) or ``"asm"``. ``compile()`` returns a callable with a ``report`` of compile times,
    kernel count and cache use.
    """

    def __init__(self, jitted, call, consts, out_tree, trace_time=None):
        self._jitted = jitted
        self.call = call
        self.consts = consts
        self.out_tree = out_tree
        self.trace_time = trace_time

    def as_text(self, dialect="ir"):
        from ._compiler.lowering import as_text

        return as_text(self, dialect)

    def compile(self):
        """Compile with the LLVM back end; returns a callable ``Compiled``."""
        from ._compiler.lowering import compile_lowered

        return compile_lowered(self)

    def __str__(self):
        return self.as_text()


_live = weakref.WeakSet()
