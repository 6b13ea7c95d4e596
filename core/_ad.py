"""Automatic differentiation: forward mode (jvp), linearize and transposition.

Reverse mode is built from two pieces, as in JAX:

* ``linearize``: run the function under the jvp trace while the *tangents* are tracers of
  a (non-dynamic) IR builder one level below. Primal work runs as usual (eagerly or into an
  enclosing ``jit``); every tangent operation lands in the builder, so the result is a
  linear IR whose constants are the residuals.
* ``backward_pass``: transpose that linear IR, equation by equation in reverse, with each
  linear primitive's transpose rule.

So one jvp rule per primitive plus one transpose rule per linear primitive gives forward
mode, reverse mode and every higher order.
"""

from __future__ import annotations

from ._ad_util import UndefinedPrimal, Zero, add_tangents, instantiate
from ._core import (
    NotDifferentiableError,
    Trace,
    Tracer,
    get_aval,
    new_main,
)
from ._ir import IR, IRBuilder, IRTrace, Literal, Var


class JVPTracer(Tracer):
    __slots__ = ("primal", "tangent")

    def __init__(self, trace, primal, tangent):
        self._trace = trace
        self.primal = primal
        self.tangent = tangent

    @property
    def aval(self):
        return get_aval(self.primal)

    def to_concrete_value(self):
        p = self.primal
        if isinstance(p, Tracer):
            return p.to_concrete_value()
        return p


class JVPTrace(Trace):
    __slots__ = ()

    def pure(self, val):
        return JVPTracer(self, val, Zero.like(val))

    lift = pure

    def process_primitive(self, prim, tracers, params):
        primals = [t.primal for t in tracers]
        tangents = [t.tangent for t in tracers]
        if all(type(t) is Zero for t in tangents):
            out = prim.bind(*primals, **params)
            outs = out if prim.multiple_results else [out]
            return [JVPTracer(self, o, Zero.like(o)) for o in outs]
        primal_out, tangent_out = prim.rule("jvp")(primals, tangents, **params)
        if prim.multiple_results:
            return [JVPTracer(self, p, t) for p, t in zip(primal_out, tangent_out, strict=True)]
        return [JVPTracer(self, primal_out, tangent_out)]


def jvp_flat(fun, primals, tangents):
    """Forward mode on flat lists; tangents may hold ``Zero``. Returns (outs, tangent outs)."""
    with new_main(JVPTrace) as main:
        trace = JVPTrace(main)
        tracers = [JVPTracer(trace, p, t) for p, t in zip(primals, tangents, strict=True)]
        outs = fun(*tracers)
        outs = [trace.full_raise(o) for o in outs]
        return [o.primal for o in outs], [o.tangent for o in outs]


def tangent_aval(x):
    return get_aval(x).strip_weak_type()


class LinearFunction:
    """The linear map produced by ``linearize``: a linear IR plus its residual constants.

    ``out_zero`` marks outputs whose tangent is identically zero (they are not in the IR).
    """

    __slots__ = ("ir", "consts", "out_zero", "out_avals", "in_avals")

    def __init__(self, ir, consts, out_zero, out_avals, in_avals):
        self.ir: IR = ir
        self.consts = consts
        self.out_zero = out_zero
        self.out_avals = out_avals
        self.in_avals = in_avals

    def __call__(self, *tangents):
        from ._ir import eval_ir

        outs = iter(eval_ir(self.ir, self.consts, *tangents))
        return [
            instantiate(Zero(a)) if z else next(outs)
            for z, a in zip(self.out_zero, self.out_avals, strict=True)
        ]

    def transpose(self, cts):
        """Cotangents of the inputs for cotangents ``cts`` of the outputs."""
        cts = [c for c, z in zip(cts, self.out_zero, strict=True) if not z]
        return backward_pass(self.ir, self.consts, cts)


def linearize_flat(fun, primals):
    """Run ``fun`` forward and return (primal outputs, LinearFunction of the tangents)."""
    builder = IRBuilder(reason="linearize")
    in_avals = [tangent_aval(p) for p in primals]
    with new_main(IRTrace, builder) as ir_main:
        ir_trace = IRTrace(ir_main)
        tangent_in = [builder.new_arg(ir_trace, a) for a in in_avals]
        primals_out, tangents_out = jvp_flat(fun, primals, tangent_in)
        out_zero = [type(t) is Zero for t in tangents_out]
        out_tracers = [ir_trace.full_raise(t) for t in tangents_out if type(t) is not Zero]
        ir, consts = builder.build(tangent_in, out_tracers)
    out_avals = [tangent_aval(p) for p in primals_out]
    return primals_out, LinearFunction(ir, consts, out_zero, out_avals, in_avals)


def backward_pass(ir: IR, consts, cts_out):
    """Transpose the linear ``ir``: cotangents of outputs -> cotangents of inputs."""
    primal_env = dict(zip(ir.constvars, consts, strict=True))
    linear = set(ir.invars)
    linear_eqns = []
    for eqn in ir.eqns:
        if any(isinstance(v, Var) and v in linear for v in eqn.inputs):
            linear.update(eqn.outputs)
            linear_eqns.append(eqn)
        else:
            # Work on constants only (no tangent involved): evaluate it forward.
            ins = [v.val if type(v) is Literal else primal_env[v] for v in eqn.inputs]
            out = eqn.prim.bind(*ins, **eqn.params)
            outs = out if eqn.prim.multiple_results else [out]
            primal_env.update(zip(eqn.outputs, outs, strict=True))

    ct_env: dict[Var, object] = {}

    def add_ct(v, ct):
        if ct is None or not isinstance(v, Var) or v not in linear:
            return
        prev = ct_env.get(v)
        ct_env[v] = ct if prev is None else add_tangents(prev, ct)

    for v, ct in zip(ir.outvars, cts_out, strict=True):
        add_ct(v, ct)

    for eqn in reversed(linear_eqns):
        cts = [ct_env.pop(v, None) for v in eqn.outputs]
        if all(c is None or type(c) is Zero for c in cts):
            continue
        cts = [Zero(v.aval) if c is None else c for v, c in zip(eqn.outputs, cts, strict=True)]
        invals = [
            UndefinedPrimal(v.aval)
            if isinstance(v, Var) and v in linear
            else (v.val if type(v) is Literal else primal_env[v])
            for v in eqn.inputs
        ]
        rule = eqn.prim.transpose
        if rule is None:
            reason = eqn.prim.no_rule_reasons.get("transpose")
            raise NotDifferentiableError(
                f"Reverse-mode differentiation reached '{eqn.prim.name}', which has no "
                "transpose rule: " + (reason or "it is not linear in its differentiated operand.")
            )
        ct_arg = cts if eqn.prim.multiple_results else cts[0]
        cts_in = rule(ct_arg, *invals, **eqn.params)
        for v, ct in zip(eqn.inputs, cts_in, strict=True):
            add_ct(v, ct)

    return [ct_env.get(v, Zero(v.aval)) for v in ir.invars]


def vjp_flat(fun, primals):
    """Returns (primal outputs, function from output cotangents to input cotangents)."""
    primals_out, lin = linearize_flat(fun, primals)

    def pullback(cts):
        return [instantiate(c) for c in lin.transpose(cts)]

    return primals_out, pullback, lin
