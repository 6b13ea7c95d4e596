"""Compile programs and run them: the executable object behind every jitted call.

``compile_call`` runs passes, fusion, codegen, LLVM and loading (or a cache hit) and
returns an ``Executable``. Calling it fills a prebuilt slot array with the ids of the
argument and fresh output arrays (see ``codegen``), calls the native entry (ctypes
releases the GIL) and wraps the outputs as derivax Arrays. Intermediates live in a
per-executable workspace; a second thread entering the same executable while it runs
gets a private workspace.

Reference-evaluator steps (equations without a lowering) run in Python between native
segments, reading and writing the same planned buffers.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
import time

import numpy as np

from .._array import Array, _wrap
from .._config import config
from .._ir import Literal
from . import cache, codegen, engine, fusion, passes

_DEBUG = os.environ.get("DERIVAX_DEBUG", "") not in ("", "0")
_logger = None


def _get_logger():
    # ``logging`` is imported on first use: it is not otherwise needed to start up.
    global _logger
    if _logger is None:
        import logging

        _logger = logging.getLogger("derivax.compiler")
    return _logger


_logged_fallbacks: set = set()

Entry = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p)


def log(msg):
    _get_logger().debug(msg)
    if _DEBUG:
        print(f"[derivax] {msg}", file=sys.stderr)


def _derivax_version():
    from .. import __version__

    return __version__


class CompileReport:
    """Timings (seconds) and facts about one compilation.

    Attributes:
        trace: time spent tracing the Python function (when known).
        passes: IR passes (inline, simplify, fold, CSE, DCE).
        fusion: fusion planning and buffer assignment.
        codegen: building the LLVM IR (0 on a cache hit).
        llvm: LLVM optimization and object emission (0 on a cache hit).
        load: linking the object code into the JIT.
        kernel_count: native kernels (loops, reductions, BLAS calls, scatters).
        fallbacks: primitives run by the reference evaluator.
        cache: "memory", "disk" or None (compiled).
        key: the cache key.
    """

    __slots__ = (
        "trace",
        "passes",
        "fusion",
        "codegen",
        "llvm",
        "load",
        "kernel_count",
        "fallbacks",
        "cache",
        "key",
        "workspace_bytes",
    )

    def __init__(self):
        self.trace = None
        self.passes = self.fusion = self.codegen = self.llvm = self.load = 0.0
        self.kernel_count = 0
        self.fallbacks = []
        self.cache = None
        self.key = None
        self.workspace_bytes = 0

    @property
    def total(self):
        return (
            (self.trace or 0.0) + self.passes + self.fusion + self.codegen + self.llvm + self.load
        )

    def as_dict(self):
        d = {k: getattr(self, k) for k in self.__slots__}
        d["total"] = self.total
        return d

    def __repr__(self):
        ms = lambda t: "-" if t is None else f"{t * 1e3:.2f} ms"  # noqa: E731
        return (
            f"CompileReport(trace={ms(self.trace)}, passes={ms(self.passes)}, "
            f"fusion={ms(self.fusion)}, codegen={ms(self.codegen)}, llvm={ms(self.llvm)}, "
            f"load={ms(self.load)}, kernels={self.kernel_count}, cache={self.cache!r}, "
            f"fallbacks={self.fallbacks})"
        )


class _Library:
    """Loaded object code: keeps the JIT library alive, holds the entry addresses."""

    __slots__ = ("tracker", "addrs", "obj")

    def __init__(self, tracker, addrs, obj):
        self.tracker = tracker
        self.addrs = addrs
        self.obj = obj


def plan_text(plan):
    return fusion.describe(plan)


def _cache_key(program, plan):
    return cache.make_key(
        str(program),
        plan_text(plan),
        repr(plan.ws_size),
        engine.host_id(),
        repr(engine.numpy_abi()),
        _derivax_version(),
        np.__version__.split(".")[0],
        # the BLAS thread counts compiled into matrix products (engine.gemm_threads)
        repr((config.blas_threads, engine.gemm_threads(engine.BLAS_PARALLEL_MIN_FLOPS))),
    )


def _blas_symbols(plan):
    used = set()
    for s in plan.all_steps():
        if isinstance(s, fusion.GemmStep):
            used.add("derivax_sgemm" if s.layout["dtype"] == np.float32 else "derivax_dgemm")
            used.add("derivax_blas_threads")
    return sorted(used)


def _export_names(plan):
    segs = plan.segments()
    natives = [s for s in segs if isinstance(s, list)]
    if len(segs) == 1 and natives:
        return ["entry"]
    return [f"seg{i}" for i in range(len(natives))]


def build_llvm(plan):
    """The (unoptimized) llvmlite module of a plan."""
    module, _, _ = codegen.build_module(plan, engine.numpy_abi())
    return module


def compile_call(call, trace_time=None) -> Executable:
    """Compile a jitted program (``ClosedIR``) into an Executable."""
    report = CompileReport()
    report.trace = trace_time
    t0 = time.perf_counter()
    program = passes.optimize(call)
    t1 = time.perf_counter()
    plan = fusion.plan_program(program)
    t2 = time.perf_counter()
    report.passes, report.fusion = t1 - t0, t2 - t1
    report.kernel_count = plan.kernel_count
    report.fallbacks = sorted(set(plan.fallbacks))
    report.workspace_bytes = plan.ws_size
    for name in report.fallbacks:
        if name not in _logged_fallbacks:
            _logged_fallbacks.add(name)
            log(f"'{name}' has no native lowering here; it runs on the reference evaluator")
    exports = _export_names(plan)
    lib = None
    if plan.kernel_count:
        key = _cache_key(program, plan)
        report.key = key
        lib = cache.memory_get(key)
        if lib is not None:
            report.cache = "memory"
        else:
            lib = _load_or_compile(key, plan, exports, report)
            cache.memory_put(key, lib)
    name = getattr(call, "name", None) or "program"
    if report.cache:
        log(f"{name}: cache hit ({report.cache}), {plan.kernel_count} kernels")
    elif lib is not None:
        log(
            f"{name}: compiled {plan.kernel_count} kernels in "
            f"{(report.codegen + report.llvm + report.load) * 1e3:.1f} ms"
        )
    return Executable(plan, program, lib, exports, report)


def _load_or_compile(key, plan, exports, report):
    imports = engine.blas_imports(_blas_symbols(plan))
    obj = cache.disk_get(key, log=log)
    if obj is not None:
        t = time.perf_counter()
        try:
            tracker = engine.load(obj, exports, imports)
        except RuntimeError as err:
            log(f"cached object for {key[:12]} failed to load ({err}); rebuilding")
            cache.discard(key)
        else:
            report.load = time.perf_counter() - t
            report.cache = "disk"
            return _Library(tracker, {n: tracker[n] for n in exports}, obj)
    t = time.perf_counter()
    module = build_llvm(plan)
    text = str(module)
    t1 = time.perf_counter()
    mod = engine.parse_and_optimize(text)
    obj = engine.emit_object(mod)
    t2 = time.perf_counter()
    tracker = engine.load(obj, exports, imports)
    t3 = time.perf_counter()
    report.codegen, report.llvm, report.load = t1 - t, t2 - t1, t3 - t2
    cache.disk_put(key, obj, log=log)
    return _Library(tracker, {n: tracker[n] for n in exports}, obj)


# --------------------------------------------------------------------------- execution


def _aligned_workspace(nbytes):
    raw = np.empty(nbytes + fusion.ALIGN, np.uint8)
    off = (-raw.ctypes.data) % fusion.ALIGN
    return raw[off : off + nbytes] if nbytes else raw[:0]


def _as_value(x, aval):
    """The NumPy value of an argument (Arrays pass through without a copy)."""
    if type(x) is Array:
        return x._value
    return np.asarray(x._value if hasattr(x, "_value") else x, aval.dtype)


class Executable:
    """A compiled program: call it with the flat list of arguments (consts first)."""

    def __init__(self, plan, program, lib, exports, report):
        self.plan = plan
        self.program = program
        self.report = report
        self.lib = lib
        ir = program.ir
        self.in_avals = [v.aval for v in ir.invars]
        self.n_in = len(ir.invars)
        self.out_specs = [(b.shape, b.dtype) for b in plan.out_buffers]
        n_out = len(self.out_specs)
        self.n_slots = self.n_in + n_out + 1 + len(program.consts)
        self.const_arrays = [np.ascontiguousarray(c) for c in program.consts]
        self.fns = [Entry(lib.addrs[n]) for n in exports] if lib is not None else []
        self.segments = plan.segments()
        self.weak = program.out_weak
        self.slots, self.ws = self._new_slots()
        self.slots_addr = ctypes.addressof(self.slots)
        # The shared slots and workspace belong to whoever popped them from this pool (a
        # list: pop and append are atomic under the GIL, and cheaper than a lock); a
        # concurrent caller finds it empty and runs with private ones.
        self._free = [(self.slots, self.slots_addr)]
        self.recipes = plan.outputs
        self.used_inputs = sorted(
            {
                b.index
                for s in plan.steps
                for v, _ in s.reads()
                if (b := plan.buffer(v)).kind == "in"
            }
        )
        simple = (
            len(self.segments) == 1
            and isinstance(self.segments[0], list)
            and [r[0] for r in self.recipes] == ["out"] * len(self.recipes)
            and [r[1] for r in self.recipes] == list(range(n_out))
            and all(r[2].shape == s for r, (s, _) in zip(self.recipes, self.out_specs))
        )
        self._fast = simple
        self._entry = self.fns[0] if simple else None
        self.call = self._make_fast() if simple else self._call_general
        # call1(args) -> the only output, for single-output programs (jit's fast path)
        self.call1 = self._make_fast1() if simple and n_out == 1 else None
        self.donation = _donation_pairs(plan) if simple else {}

    def _make_fast(self):
        """The per-call path when the program is one native segment (the common case)."""
        entry, free = self._entry, self._free
        used = tuple(self.used_inputs)
        specs = tuple(self.out_specs)
        weak = tuple(self.weak)
        first_out = self.n_in
        general = self._call_general
        empty, wrap, ndarray = np.empty, _wrap, np.ndarray

        def call(args):
            try:
                slots, addr = free.pop()
            except IndexError:  # another thread is running this program
                return general(args)
            try:
                # the native entry reads each argument's NumPy array object: only hand it
                # real ndarrays (anything else is converted on the general path)
                for i in used:
                    v = getattr(args[i], "_value", None)
                    if type(v) is not ndarray:
                        break
                    slots[i] = id(v)
                else:
                    outs = [empty(s, d) for s, d in specs]
                    k = first_out
                    for o in outs:
                        slots[k] = id(o)
                        k += 1
                    if entry(addr) == 0:
                        return [wrap(o, w) for o, w in zip(outs, weak)]
            finally:
                free.append((slots, addr))
            return general(args)

        return call

    def _make_fast1(self):
        """``call`` for a single-output program, returning the output itself."""
        entry, free = self._entry, self._free
        used = tuple(self.used_inputs)
        ((shape, dtype),) = self.out_specs
        (weak,) = self.weak
        out_slot = self.n_in
        general = self._call_general
        empty, ndarray, new = np.empty, np.ndarray, object.__new__

        def call1(args):
            try:
                slots, addr = free.pop()
            except IndexError:
                return general(args)[0]
            try:
                for i in used:
                    v = getattr(args[i], "_value", None)
                    if type(v) is not ndarray:
                        break
                    slots[i] = id(v)
                else:
                    o = empty(shape, dtype)
                    slots[out_slot] = id(o)
                    if entry(addr) == 0:
                        a = new(Array)
                        a._value = o
                        a.weak_type = weak
                        return a
            finally:
                free.append((slots, addr))
            return general(args)[0]

        return call1

    def _new_slots(self):
        slots = (ctypes.c_void_p * max(self.n_slots, 1))()
        ws = _aligned_workspace(self.plan.ws_size)
        base = self.n_in + len(self.out_specs)
        slots[base] = ws.ctypes.data if ws.size else 0
        for i, c in enumerate(self.const_arrays):
            slots[base + 1 + i] = c.ctypes.data
        return slots, ws

    # -- calling
    def __call__(self, args, donate=()):
        if donate and self.donation:
            return self._call_donating(args, donate)
        return self.call(args)

    def _call_donating(self, args, donate):
        """Write outputs into donated input buffers where that is safe, then delete the
        donated Arrays (JAX semantics: a donated array must not be used again)."""
        vals = [a._value if type(a) is Array else None for a in args]
        taken = {}
        for i in sorted(donate):
            j = self.donation.get(i)
            a = args[i] if i < len(args) else None
            if j is None or j in taken.values() or type(a) is not Array:
                continue
            v = vals[i]
            if not _exclusively_owned(a, v, args, i):
                continue
            taken[i] = j
        if not taken:
            return self.call(args)
        if any(type(vals[i]) is not np.ndarray for i in self.used_inputs):
            return self.call(args)
        outs = [None] * len(self.out_specs)
        for i, j in taken.items():
            outs[j] = vals[i]
        for j, (s, d) in enumerate(self.out_specs):
            if outs[j] is None:
                outs[j] = np.empty(s, d)
        try:
            slots, addr = taken_slots = self._free.pop()
        except IndexError:
            slots, ws = self._new_slots()
            addr, taken_slots = ctypes.addressof(slots), None
        try:
            for i in self.used_inputs:
                slots[i] = id(vals[i])
            for j, o in enumerate(outs):
                slots[self.n_in + j] = id(o)
            status = self._entry(addr)
        finally:
            if taken_slots is not None:
                self._free.append(taken_slots)
        if status != 0:
            return self.call(args)  # non-contiguous inputs are never donated
        for i in taken:
            _delete(args[i])
        return [_wrap(o, w) for o, w in zip(outs, self.weak)]

    def _call_general(self, args):
        vals = [
            np.ascontiguousarray(a._value if type(a) is Array else _as_value(a, av))
            for a, av in zip(args, self.in_avals)
        ]
        try:
            taken = self._free.pop()
        except IndexError:
            taken = None
        try:
            if taken is not None:
                slots, ws = self.slots, self.ws
            else:
                slots, ws = self._new_slots()
            for i in range(self.n_in):
                slots[i] = id(vals[i])
            outs = [np.empty(s, d) for s, d in self.out_specs]
            for j, o in enumerate(outs):
                slots[self.n_in + j] = id(o)
            addr = ctypes.addressof(slots)
            fns = iter(self.fns)
            for seg in self.segments:
                if isinstance(seg, list):
                    status = next(fns)(addr)
                    if status != 0:  # pragma: no cover - inputs were made contiguous
                        raise RuntimeError("derivax: native entry rejected its inputs")
                else:
                    self._run_py(seg.eqn, vals, outs, ws)
        finally:
            if taken is not None:
                self._free.append(taken)
        return self._results(vals, outs)

    def _view(self, var, vals, outs, ws):
        b = self.plan.buffer(var)
        shape = var.aval.shape
        if b.kind == "in":
            arr = vals[b.index]
        elif b.kind == "out":
            arr = outs[b.index]
        elif b.kind == "const":
            arr = self.const_arrays[b.index]
        else:
            arr = ws[b.offset : b.offset + b.nbytes].view(b.dtype)
        return arr.reshape(shape) if arr.shape != shape else arr

    def _run_py(self, eqn, vals, outs, ws):
        ins = []
        for x in eqn.inputs:
            if type(x) is Literal:
                ins.append(_wrap(np.asarray(passes.literal_value(x)), x.aval.weak_type))
            else:
                ins.append(_wrap(self._view(x, vals, outs, ws), x.aval.weak_type))
        control = _CONTROL_FLOW.get(eqn.prim.name)
        if control is not None:
            dsts = [self._view(v, vals, outs, ws) for v in eqn.outputs]
            control(ins, dsts, **eqn.params)
            return
        res = eqn.prim.bind(*ins, **eqn.params)
        res = res if eqn.prim.multiple_results else [res]
        for v, r in zip(eqn.outputs, res):
            dst = self._view(v, vals, outs, ws)
            np.copyto(dst, np.asarray(r._value if type(r) is Array else r), casting="unsafe")

    def _results(self, vals, outs):
        res = []
        for (kind, idx, aval), w in zip(self.recipes, self.weak):
            if kind == "out":
                arr = outs[idx]
            elif kind == "in":
                arr = vals[idx]
            elif kind == "const":
                arr = self.const_arrays[idx]
            else:
                arr = np.full(aval.shape, idx, aval.dtype)
            if arr.shape != aval.shape:
                arr = arr.reshape(aval.shape)
            res.append(_wrap(arr, w))
        return res


# --------------------------------------------------------------------------- control flow
# The loop or branch runs in Python; each body is itself a compiled program.


def _arr(x):
    return x if type(x) is Array else _wrap(np.asarray(x))


def _scan(ins, dsts, *, body_ir, num_consts, num_carry, length, reverse, unroll):
    body = executable_for(body_ir)
    consts = ins[:num_consts]
    carry = ins[num_consts : num_consts + num_carry]
    xs = [x._value for x in ins[num_consts + num_carry :]]
    ys_dst = dsts[num_carry:]
    for i in range(length - 1, -1, -1) if reverse else range(length):
        outs = body.call([*consts, *carry, *(_wrap(x[i]) for x in xs)])
        carry = outs[:num_carry]
        for d, y in zip(ys_dst, outs[num_carry:]):
            d[i] = y._value
    for d, c in zip(dsts[:num_carry], carry):
        np.copyto(d, c._value)


def _while(ins, dsts, *, cond_ir, body_ir, cond_nconsts, body_nconsts):
    cond = executable_for(cond_ir)
    body = executable_for(body_ir)
    cc = ins[:cond_nconsts]
    bc = ins[cond_nconsts : cond_nconsts + body_nconsts]
    carry = ins[cond_nconsts + body_nconsts :]
    while bool(cond.call([*cc, *carry])[0]._value):
        carry = body.call([*bc, *carry])
    for d, c in zip(dsts, carry):
        np.copyto(d, c._value)


def _cond(ins, dsts, *, branches):
    index, *ops = ins
    i = int(np.clip(index._value, 0, len(branches) - 1))
    outs = executable_for(branches[i]).call(list(ops))
    for d, o in zip(dsts, outs):
        np.copyto(d, o._value)


_CONTROL_FLOW = {"scan": _scan, "while": _while, "cond": _cond}


# --------------------------------------------------------------------------- donation


def _donation_pairs(plan):
    """input index -> output index whose buffer may live in that input's memory.

    Safe when every read of the input happens before the output's first write, or in the
    same loop reading it only at the index being written."""
    steps = plan.steps
    first_write, last_read, reads_at = {}, {}, {}
    for i, s in enumerate(steps):
        for v in s.writes():
            b = plan.buffer(v)
            first_write.setdefault(b.key(), i)
        for v, ident in s.reads():
            b = plan.buffer(v)
            last_read[b.key()] = i
            reads_at.setdefault((b.key(), i), []).append(ident)
    pairs = {}
    used_out = set()
    aliased_inputs = {r[1] for r in plan.outputs if r[0] == "in"}
    for b in plan.buffers:
        if b.kind != "in" or b.index in aliased_inputs:
            continue
        for ob in plan.out_buffers:
            if ob.index in used_out or ob.nbytes != b.nbytes or ob.dtype != b.dtype:
                continue
            w = first_write.get(ob.key())
            r = last_read.get(b.key(), -1)
            if w is None:
                continue
            ok = r < w or (
                r == w
                and isinstance(steps[w], fusion.LoopStep)
                and all(reads_at.get((b.key(), w), [False]))
            )
            if ok:
                pairs[b.index] = ob.index
                used_out.add(ob.index)
                break
    return pairs


def _exclusively_owned(arr, v, args, i):
    """The Array owns its buffer alone: no NumPy view, no other reference, not passed twice."""
    if v.base is not None or not v.flags.c_contiguous or not v.flags.writeable:
        return False
    if not v.flags.aligned or not v.flags.owndata:
        return False
    for k, other in enumerate(args):
        if k != i and (other is arr or (type(other) is Array and other._value is v)):
            return False
    return _refcount(v) <= _OWNED_REFS


def _refcount(v):
    return sys.getrefcount(v)


def _calibrate_refs():
    """References to an exclusively owned buffer seen from ``_exclusively_owned``: the
    Array's slot, the caller's list and local, the parameters on the way (measured, not
    assumed, so that interpreter versions agree)."""

    class _Box:
        __slots__ = ("_value",)

    box = _Box()
    box._value = np.empty(1)
    vals = [box._value]
    v = vals[0]

    def probe(arr, v):
        return _refcount(v)

    return probe(box, v)


_OWNED_REFS = _calibrate_refs()


class _Deleted:
    """Stands in for the buffer of a donated Array; any use raises a clear error."""

    __slots__ = ()

    def _fail(self, *args, **kwargs):
        raise RuntimeError(
            "This Array was donated to a jitted function (donate_argnums) and its buffer now "
            "holds that call's output; it cannot be used any more. Keep using the function's "
            "result instead, or do not donate the argument."
        )

    def __getattr__(self, name):
        if name.startswith("__"):  # introspection (hasattr(x, "__wrapped__"), ...) stays quiet
            raise AttributeError(name)
        self._fail()

    __array__ = __len__ = __iter__ = __getitem__ = __bool__ = __float__ = __int__ = _fail

    def __repr__(self):
        return "<deleted: donated to a jitted call>"


_DELETED = _Deleted()


def _delete(arr):
    arr._value = _DELETED


# --------------------------------------------------------------------------- entry points

_compile_lock = threading.RLock()

# A program the compiler cannot handle (a bug in a lowering) runs on the reference evaluator
# instead of failing the user's call; tests set STRICT so that such bugs fail loudly.
STRICT = False


class ReferenceExecutable:
    """Stand-in for a program the compiler failed on: evaluates the IR with NumPy."""

    def __init__(self, call, error):
        self.closed = call
        self.error = error
        self.report = CompileReport()
        self.report.fallbacks = ["<whole program>"]

    def call(self, args):
        from .._ir import eval_ir
        from .._jit import _as_array

        outs = eval_ir(self.closed.ir, self.closed.consts, *args)
        return [o if type(o) is Array else _as_array(o) for o in outs]

    def __call__(self, args, donate=()):
        return self.call(args)


def executable_for(call, trace_time=None) -> Executable:
    """The Executable of a ClosedIR, compiled on first use and kept on the ClosedIR itself
    (``call.compiled``): it is freed when the program is, never by a global table."""
    exe = call.compiled
    if exe is not None:
        return exe
    with _compile_lock:
        exe = call.compiled
        if exe is not None:
            return exe
        try:
            exe = compile_call(call, trace_time)
        except Exception as err:
            if STRICT:
                raise
            _get_logger().warning(
                "derivax: compiling %s failed (%s: %s); running it on the reference evaluator. "
                "Please report this with the output of jit(f).lower(*args).as_text('ir').",
                getattr(call, "name", None) or "a program",
                type(err).__name__,
                err,
            )
            exe = ReferenceExecutable(call, err)
        call.compiled = exe
        return exe


def run(call, args, donate=()):
    """Run a jitted program on concrete arguments with the LLVM back end.

    ``donate``: indices of arguments whose buffers may hold outputs (``donate_argnums``).
    """
    exe = call.compiled
    if exe is None:
        exe = executable_for(call)
    if donate:
        return exe(args, donate)
    return exe.call(args)
