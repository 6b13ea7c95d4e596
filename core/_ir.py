"""The IR: typed SSA equations, their builder trace, printer, type checker and evaluator.

An ``IR`` is a list of equations ``outs = primitive[params](ins)`` over variables that carry
abstract values. ``trace_to_ir`` builds one by running a Python function on tracers of a
*dynamic* trace, so every operation it performs — even on constants — is recorded.
``eval_ir`` is the reference evaluator: it re-binds every equation, so the same function
also runs an IR under any transformation. It is the executable specification that every
compiled kernel is tested against.
"""

from __future__ import annotations

import numpy as np

from . import _core
from ._array import Array
from ._core import (
    MainTrace,
    Primitive,
    ShapedArray,
    Trace,
    Tracer,
    get_aval,
    new_main,
    user_frame,
)

# --------------------------------------------------------------------------- data structures


class Var:
    """A variable of the IR with its abstract value."""

    __slots__ = ("aval", "__weakref__")

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self):
        return f"Var({self.aval.str_short()})"


class Literal:
    """A scalar constant written inline in an equation."""

    __slots__ = ("val", "aval")

    def __init__(self, val, aval: ShapedArray):
        self.val = val
        self.aval = aval

    def __repr__(self):
        return f"Literal({_literal_str(self)})"


class Eqn:
    """One equation: ``outputs = prim[params](*inputs)``; ``source`` is the user's line."""

    __slots__ = ("prim", "inputs", "params", "outputs", "source")

    def __init__(self, prim, inputs, params, outputs, source=None):
        self.prim: Primitive = prim
        self.inputs: list = inputs
        self.params: dict = params
        self.outputs: list[Var] = outputs
        self.source = source


class IR:
    """A typed SSA program: ``constvars`` and ``invars`` in, ``outvars`` out."""

    __slots__ = ("constvars", "invars", "outvars", "eqns")

    def __init__(self, constvars, invars, outvars, eqns):
        self.constvars: list[Var] = constvars
        self.invars: list[Var] = invars
        self.outvars: list = outvars
        self.eqns: list[Eqn] = eqns

    @property
    def in_avals(self):
        return [v.aval for v in self.invars]

    @property
    def out_avals(self):
        return [v.aval for v in self.outvars]

    def __str__(self):
        return pp_ir(self)

    __repr__ = __str__


class ClosedIR:
    """An IR together with the values of its constants; callable on flat arguments.

    ``make_jaxpr`` returns one; printing it shows the program.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> print(derivax.make_jaxpr(lambda x: dnp.sin(x) * 2.0)(1.0))
        { lambda ; a:f32[]. let
            b:f32[] = sin a
            c:f32[] = mul b 2.0:f32[]
          in (c,) }
    """

    # ``compiled``: the compiled program of this IR, set by the LLVM back end on first use. It
    # lives exactly as long as the IR (the jitted function's trace cache holds both), so the
    # machine code and workspace of a discarded function are freed with it.
    __slots__ = ("ir", "consts", "name", "compiled")

    def __init__(self, ir: IR, consts, name=None):
        self.ir = ir
        self.consts = list(consts)
        self.name = name
        self.compiled = None

    @property
    def in_avals(self):
        return self.ir.in_avals

    @property
    def out_avals(self):
        return self.ir.out_avals

    @property
    def eqns(self):
        return self.ir.eqns

    def __call__(self, *args):
        return eval_ir(self.ir, self.consts, *args)

    def __str__(self):
        return pp_ir(self.ir)

    def __repr__(self):
        return str(self)

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))


# --------------------------------------------------------------------------- the builder trace


class IRTracer(Tracer):
    __slots__ = ("_aval",)

    def __init__(self, trace, aval):
        self._trace = trace
        self._aval = aval

    @property
    def aval(self):
        return self._aval


class IRBuilder:
    """Collects equations while a function is traced; shared by the tracers of one level."""

    def __init__(self, arg_names=None, fun_name=None, reason="jit"):
        self.eqns: list[Eqn] = []
        self.tracer_to_var: dict[int, Var | Literal] = {}
        self.const_tracers: dict[int, IRTracer] = {}
        self.constvar_to_val: dict[Var, object] = {}
        self.tracers: list[IRTracer] = []  # keeps ids stable while tracing
        self.invars: list[Var] = []
        self.arg_names = arg_names
        self.fun_name = fun_name
        self.reason = reason
        self.frame = user_frame()

    def new_arg(self, trace, aval):
        t = IRTracer(trace, aval)
        v = Var(aval)
        self.tracers.append(t)
        self.tracer_to_var[id(t)] = v
        self.invars.append(v)
        return t

    def new_tracer(self, trace, aval):
        t = IRTracer(trace, aval)
        self.tracers.append(t)
        return t

    def var_of(self, tracer):
        v = self.tracer_to_var.get(id(tracer))
        if v is None:
            raise _core.UnexpectedTracerError(_core._escaped_tracer_message(tracer))
        return v

    def const(self, trace, val):
        t = self.const_tracers.get(id(val))
        if t is not None:
            return t
        aval = get_aval(val)
        t = self.new_tracer(trace, aval)
        if _is_literal(val, aval):
            if type(val) in (bool, int, float, complex):
                val = Array(np.asarray(val, aval.dtype), aval.weak_type)
            self.tracer_to_var[id(t)] = Literal(val, aval)
        else:
            v = Var(aval)
            self.tracer_to_var[id(t)] = v
            self.constvar_to_val[v] = val
        self.const_tracers[id(val)] = t
        # Keep the value alive so its id is not reused while tracing.
        self.tracers.append(val)
        return t

    def build(self, in_tracers, out_tracers):
        invars = [self.var_of(t) for t in in_tracers]
        outvars = [self.var_of(t) for t in out_tracers]
        ir = IR([], invars, outvars, self.eqns)
        ir = _prune(ir)
        used = _used_vars(ir)
        constvars = [v for v in self.constvar_to_val if v in used]
        ir.constvars = constvars
        consts = [self.constvar_to_val[v] for v in constvars]
        return ir, consts


def _is_literal(val, aval):
    if aval.shape != ():
        return False
    if isinstance(val, (bool, int, float, complex, np.generic)):
        return True
    return type(val) in (Array, np.ndarray)


class IRTrace(Trace):
    __slots__ = ()

    @property
    def builder(self) -> IRBuilder:
        return self.main.payload

    def pure(self, val):
        return self.builder.const(self, val)

    lift = pure

    def process_primitive(self, prim, tracers, params):
        b = self.builder
        avals_in = [t.aval for t in tracers]
        out = prim.rule("abstract_eval")(*avals_in, **params)
        avals_out = out if prim.multiple_results else [out]
        outs = [b.new_tracer(self, a) for a in avals_out]
        outvars = [Var(a) for a in avals_out]
        for t, v in zip(outs, outvars, strict=True):
            b.tracer_to_var[id(t)] = v
        inputs = [b.var_of(t) for t in tracers]
        b.eqns.append(Eqn(prim, inputs, params, outvars, user_frame()))
        return outs


def trace_to_ir(fun, in_avals, *, arg_names=None, fun_name=None, reason="jit"):
    """Trace ``fun`` (flat arrays in, flat list out) into ``(IR, consts)``."""
    builder = IRBuilder(arg_names, fun_name, reason)
    with new_main(IRTrace, builder, dynamic=True) as main:
        trace = IRTrace(main)
        in_tracers = [builder.new_arg(trace, a) for a in in_avals]
        outs = fun(*in_tracers)
        out_tracers = [trace.full_raise(o) for o in outs]
        ir, consts = builder.build(in_tracers, out_tracers)
    return ir, consts


# --------------------------------------------------------------------------- provenance


def _tracer_provenance(tracer):
    if not isinstance(tracer, IRTracer):
        return None
    main: MainTrace = tracer._trace.main
    b: IRBuilder = main.payload
    var = b.tracer_to_var.get(id(tracer))
    if var is None or b.arg_names is None:
        return None
    deps = {var}
    for eqn in reversed(b.eqns):
        if any(o in deps for o in eqn.outputs):
            deps.update(v for v in eqn.inputs if isinstance(v, Var))
    names = [n for v, n in zip(b.invars, b.arg_names, strict=False) if v in deps]
    where = _core.format_frame(b.frame)
    fun = b.fun_name or "the function"
    if not names:
        return (
            f"The value was computed inside {fun} while it was traced by {b.reason} "
            f"(called at {where})."
        )
    return (
        f"It depends on the traced argument(s) {', '.join(names)} of {fun}, which "
        f"{b.reason} (called at {where}) traces abstractly."
    )


_core._provenance_hooks.append(_tracer_provenance)


# --------------------------------------------------------------------------- pruning


def _used_vars(ir):
    used = set()
    for eqn in ir.eqns:
        used.update(v for v in eqn.inputs if isinstance(v, Var))
    used.update(v for v in ir.outvars if isinstance(v, Var))
    return used


def _prune(ir: IR) -> IR:
    """Drop equations whose outputs are never used (dead code from tracing)."""
    live = {v for v in ir.outvars if isinstance(v, Var)}
    kept = []
    for eqn in reversed(ir.eqns):
        if any(o in live for o in eqn.outputs) or getattr(eqn.prim, "effectful", False):
            kept.append(eqn)
            live.update(v for v in eqn.inputs if isinstance(v, Var))
    kept.reverse()
    return IR(ir.constvars, ir.invars, ir.outvars, kept)


# --------------------------------------------------------------------------- evaluator


def eval_ir(ir: IR, consts, *args):
    """Evaluate ``ir`` by binding each equation (works under every transformation)."""
    env = {}
    for v, x in zip(ir.constvars, consts, strict=True):
        env[v] = x
    if len(args) != len(ir.invars):
        raise TypeError(f"IR takes {len(ir.invars)} arguments, got {len(args)}.")
    for v, x in zip(ir.invars, args, strict=True):
        env[v] = x
    for eqn in ir.eqns:
        ins = [x.val if type(x) is Literal else env[x] for x in eqn.inputs]
        out = eqn.prim.bind(*ins, **eqn.params)
        if eqn.prim.multiple_results:
            for v, o in zip(eqn.outputs, out, strict=True):
                env[v] = o
        else:
            env[eqn.outputs[0]] = out
    return [x.val if type(x) is Literal else env[x] for x in ir.outvars]


# --------------------------------------------------------------------------- type checker


class IRTypeError(_core.DerivaxError):
    """The IR is malformed: a variable is used before it is defined, defined twice, or an
    equation's output types disagree with its primitive's shape rule. This is a bug in a
    rule or a pass, not in user code; please report it with the printed IR."""


def check_ir(ir: IR) -> None:
    """Check that ``ir`` is well formed and well typed; raise ``IRTypeError`` if not."""
    defined = set()

    def define(v, where):
        if v in defined:
            raise IRTypeError(f"{where}: variable defined twice.\n{pp_ir(ir)}")
        defined.add(v)

    for v in ir.constvars:
        define(v, "constvars")
    for v in ir.invars:
        define(v, "invars")
    for i, eqn in enumerate(ir.eqns):
        for x in eqn.inputs:
            if isinstance(x, Var) and x not in defined:
                raise IRTypeError(
                    f"equation {i} ({eqn.prim}) uses a variable before it is defined.\n{pp_ir(ir)}"
                )
        avals_in = [x.aval for x in eqn.inputs]
        out = eqn.prim.rule("abstract_eval")(*avals_in, **eqn.params)
        avals_out = out if eqn.prim.multiple_results else [out]
        for v, a in zip(eqn.outputs, avals_out, strict=True):
            if (v.aval.shape, v.aval.dtype) != (a.shape, a.dtype):
                raise IRTypeError(
                    f"equation {i} ({eqn.prim}): output typed {v.aval.str_short()} but the "
                    f"shape rule gives {a.str_short()}.\n{pp_ir(ir)}"
                )
            define(v, f"equation {i}")
        for p in eqn.params.values():
            for q in p if isinstance(p, (tuple, list)) else (p,):
                sub = getattr(q, "ir", None)
                if isinstance(sub, IR):
                    check_ir(sub)
    for x in ir.outvars:
        if isinstance(x, Var) and x not in defined:
            raise IRTypeError(f"an output is never defined.\n{pp_ir(ir)}")


# --------------------------------------------------------------------------- printer


def _var_names():
    letters = "abcdefghijklmnopqrstuvwxyz"
    n = 0
    while True:
        s, k = "", n
        while True:
            s = letters[k % 26] + s
            k = k // 26 - 1
            if k < 0:
                break
        yield s
        n += 1


def _literal_str(lit):
    v = lit.val
    v = v._value if type(v) is Array else v
    v = np.asarray(v)
    if v.dtype == np.bool_:
        text = str(bool(v))
    elif v.dtype.kind in "iu":
        text = str(int(v))
    else:
        text = repr(float(v)) if v.dtype.kind == "f" or v.dtype.name == "bfloat16" else str(v)
    return f"{text}:{lit.aval.str_short()}"


def _fmt_param(v, names, indent):
    if isinstance(v, ClosedIR):
        return "\n" + _pp(v.ir, names, indent + 8) + "\n" + " " * (indent + 4)
    if isinstance(v, (tuple, list)) and v and all(isinstance(q, ClosedIR) for q in v):
        return "(" + ", ".join(_fmt_param(q, names, indent) for q in v) + ")"
    if isinstance(v, np.dtype):
        return v.name
    if isinstance(v, type) and issubclass(v, np.generic):
        return np.dtype(v).name
    if callable(v) and hasattr(v, "__name__"):
        return v.__name__
    return str(v)


def _pp(ir: IR, names, indent=0):
    pad = " " * indent

    def name(v):
        if type(v) is Literal:
            return _literal_str(v)
        if v not in names:
            names[v] = next(names["__gen__"])
        return names[v]

    def decl(v):
        return f"{name(v)}:{v.aval.str_short()}"

    head = (
        f"{pad}{{ lambda {' '.join(decl(v) for v in ir.constvars)}; "
        f"{' '.join(decl(v) for v in ir.invars)}. let"
    )
    lines = [head]
    for eqn in ir.eqns:
        outs = " ".join(decl(v) for v in eqn.outputs)
        params = eqn.params
        if eqn.prim.print_params is not None:
            params = {**params, **eqn.prim.print_params(params)}
        shown = {k: v for k, v in params.items() if v is not None}
        ptxt = ""
        if shown:
            ptxt = (
                "["
                + " ".join(f"{k}={_fmt_param(v, names, indent)}" for k, v in shown.items())
                + "]"
            )
        ins = " ".join(name(v) for v in eqn.inputs)
        lines.append(f"{pad}    {outs} = {eqn.prim.name}{ptxt} {ins}".rstrip())
    outs = ", ".join(name(v) for v in ir.outvars)
    lines.append(f"{pad}  in ({outs},) }}")
    return "\n".join(lines)


def pp_ir(ir: IR) -> str:
    """Pretty-print an IR in the style of ``jax.make_jaxpr``."""
    names = {"__gen__": _var_names()}
    return _pp(ir, names)
