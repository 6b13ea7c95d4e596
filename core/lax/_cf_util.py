"""Shared machinery of the control-flow primitives (``cond``, ``while``, ``scan``).

Each control-flow primitive holds its sub-programs as ``ClosedIR`` params. This module
traces user functions into such sub-IRs (with readable type errors), and transforms
sub-IRs for the rules of the primitives:

* ``jvp_ir``: the forward-mode derivative of a sub-IR, as a sub-IR.
* ``batch_ir``: the batched version of a sub-IR (for ``vmap``).
* ``partial_eval_jvp``: split a jvp sub-IR into a *known* part on primals (which also
  returns the residuals the tangent part needs) and an *unknown* part, linear in the
  tangents. The rules bind the two parts as separate primitive calls, so reverse mode
  runs the primal part forward and only the linear part lands in the linear program.
* ``backward_ir``: transpose a linear sub-IR with respect to some of its inputs.
"""

from __future__ import annotations

import numpy as np

from .. import _dtypes
from .. import tree as tree_util
from .._ad import backward_pass, jvp_flat
from .._ad_util import Zero, instantiate
from .._array import Array
from .._batching import BatchTrace, BatchTracer, move_to
from .._core import ShapedArray, Tracer, find_top_trace, get_aval, new_main
from .._custom import closed_call
from .._ir import IR, ClosedIR, Eqn, Var, _prune, eval_ir, trace_to_ir
from . import _elementwise as E
from ._util import is_inexact, val, wrap

# --------------------------------------------------------------------------- operands


def as_operand(x):
    """A leaf of a user pytree as an Array or tracer (Python and NumPy values converted)."""
    if isinstance(x, (Tracer, Array)):
        return x
    from ..numpy._util import asarray_any

    return asarray_any(x)


def to_array(x, aval):
    """A concrete result of evaluating a sub-IR as an Array typed like ``aval``."""
    if type(x) is Array:
        return x if x.weak_type == aval.weak_type else wrap(x._value, aval.weak_type)
    return wrap(np.asarray(val(x), aval.dtype), aval.weak_type)


def eval_closed(closed: ClosedIR, *args):
    return eval_ir(closed.ir, closed.consts, *args)


def eval_concrete(closed: ClosedIR, *args):
    """Evaluate ``closed`` eagerly (inside an impl); outputs are Arrays of the IR's types."""
    outs = eval_ir(closed.ir, closed.consts, *args)
    return [to_array(o, a) for o, a in zip(outs, closed.ir.out_avals, strict=True)]


def top_level(xs) -> int:
    return find_top_trace(xs).main.level


def zeros(aval):
    return instantiate(Zero(aval))


# --------------------------------------------------------------------------- tracing


def closed_ir(fun, in_avals, name=None) -> ClosedIR:
    """Trace ``fun`` (flat in, flat out) into a ClosedIR with concrete constants."""
    ir, consts = trace_to_ir(fun, list(in_avals), fun_name=name, reason="control flow")
    if any(isinstance(c, Tracer) for c in consts):  # pragma: no cover - internal invariant
        raise AssertionError("a transformed sub-IR captured a tracer as a constant")
    return ClosedIR(ir, consts, name)


def trace_user(flat_fun, in_avals, *, arg_names, name, api):
    """Trace a user function (already flattened) into ``(ClosedIR, consts)``.

    Values the function closes over (arrays and tracers of enclosing transformations)
    become ``consts``: explicit leading inputs of the ClosedIR, passed as operands.
    """
    closed, consts = closed_call(
        flat_fun, list(in_avals), arg_names=arg_names, fun_name=name, reason=api
    )
    consts = [c if isinstance(c, (Tracer, Array)) else as_operand(c) for c in consts]
    return closed, consts


def leaf_paths(treedef, prefix="") -> list[str]:
    """``prefix + keystr(path)`` for every leaf of ``treedef``."""
    dummy = tree_util.unflatten(treedef, list(range(treedef.num_leaves)))
    pairs, _ = tree_util.flatten_with_path(dummy)
    return [prefix + tree_util.keystr(p) for p, _ in pairs]


def arg_names_of(prefix_trees):
    """Human names of the flat leaves of several ``(prefix, treedef)`` pairs."""
    names = []
    for prefix, treedef in prefix_trees:
        names.extend(leaf_paths(treedef, prefix))
    return names


def promote_weak_inputs(vals, out_avals):
    """Promote weakly typed loop inputs to what the body returns (JAX's rule).

    A Python scalar ``init`` is weakly typed; when the body returns a strongly typed or
    wider value for it, the input is converted once so that the carry type is stable (a
    Python ``0.0`` init with a float32 body output must not be an error). Returns the new
    values and whether anything changed.
    """
    new, changed = [], False
    for x, o in zip(vals, out_avals, strict=True):
        a = get_aval(x)
        if a.weak_type and a.shape == o.shape and (a.dtype != o.dtype or not o.weak_type):
            dt, weak = _dtypes.result_type(a, o, return_weak_type_flag=True)
            if (dt, weak) != (a.dtype, a.weak_type):
                x = E.convert_element_type(x, dt, weak_type=weak)
                changed = True
        new.append(x)
    return new, changed


def type_mismatches(paths, got, expected):
    """``(path, got, expected)`` for every leaf whose shape or dtype differs."""
    return [
        (p, g, e)
        for p, g, e in zip(paths, got, expected, strict=True)
        if g.shape != e.shape or g.dtype != e.dtype
    ]


def check_carry(api, in_tree, out_tree, in_avals, out_avals, *, what="body_fun", rename=None):
    """Raise a TypeError naming every carry leaf whose output type differs from its input.

    ``rename`` optionally maps the leaf names (``carry['h']``) to what the user knows them
    as (``fori_loop`` calls its carry ``init_val``).
    """
    if out_tree != in_tree:
        raise TypeError(
            f"{api}: {what} must return a carry with the tree structure of the input carry, "
            f"but the input carry is {in_tree} and {what} returns {out_tree}."
        )
    paths = leaf_paths(in_tree, "carry")
    if rename is not None:
        paths = [rename(p) for p in paths]
    bad = type_mismatches(paths, out_avals, in_avals)
    if bad:
        lines = [
            f"{what} output {p} is {g.str_short()} but the input {p} is {e.str_short()}"
            for p, g, e in bad
        ]
        raise TypeError(
            f"{api}: "
            + "; ".join(lines)
            + ". The carry must keep its shape and dtype in every iteration. Fix: make the "
            "body return values of the input carry's types (cast with .astype(...)), or "
            "create the initial carry with the dtype and shape the body produces."
        )


def describe(x) -> str:
    """A short description of a value for error messages."""
    if isinstance(x, (Tracer, Array)):
        return f"an array {get_aval(x).str_short()}"
    if isinstance(x, (tuple, list)):
        return f"a {type(x).__name__} of length {len(x)}"
    return f"a value of type {type(x).__name__}"


def permute_invars(closed: ClosedIR, order) -> ClosedIR:
    """The same program with its inputs reordered: new input ``i`` is old input ``order[i]``."""
    ir = closed.ir
    return ClosedIR(
        IR(ir.constvars, [ir.invars[i] for i in order], ir.outvars, ir.eqns),
        closed.consts,
        closed.name,
    )


def restrict(closed: ClosedIR, in_keep, out_keep) -> ClosedIR | None:
    """Drop inputs and outputs; None if a dropped input is still needed."""
    ir = closed.ir
    invars = [v for v, k in zip(ir.invars, in_keep, strict=True) if k]
    outvars = [v for v, k in zip(ir.outvars, out_keep, strict=True) if k]
    pruned = _prune(IR(ir.constvars, invars, outvars, ir.eqns))
    defined = set(ir.constvars) | set(invars)
    for eqn in pruned.eqns:
        if any(isinstance(x, Var) and x not in defined for x in eqn.inputs):
            return None
        defined.update(eqn.outputs)
    if any(isinstance(x, Var) and x not in defined for x in outvars):
        return None
    return ClosedIR(pruned, closed.consts, closed.name)


# --------------------------------------------------------------------------- jvp of a sub-IR


def jvp_ir(closed: ClosedIR, nonzeros, instantiate_out):
    """The jvp of ``closed`` as a sub-IR.

    Args:
        closed: the program.
        nonzeros: per input, whether its tangent may be nonzero (integer inputs never are).
        instantiate_out: per output (or one bool for all), whether its tangent must be an
            explicit output even when it is identically zero (float outputs only).

    Returns:
        ``(jvp_closed, out_nonzero)``. ``jvp_closed`` takes ``[*primals, *tangents]`` (one
        tangent per nonzero input) and returns ``[*outputs, *tangent_outputs]`` (one per
        output with ``out_nonzero`` set).
    """
    in_avals = closed.ir.in_avals
    out_avals = closed.ir.out_avals
    nonzeros = [bool(nz) and is_inexact(a.dtype) for nz, a in zip(nonzeros, in_avals, strict=True)]
    if isinstance(instantiate_out, bool):
        instantiate_out = [instantiate_out] * len(out_avals)
    t_avals = [a.strip_weak_type() for a, nz in zip(in_avals, nonzeros, strict=True) if nz]
    n = len(in_avals)
    box = []

    def fun(*args):
        it = iter(args[n:])
        tangents = [
            next(it) if nz else Zero(a.strip_weak_type())
            for a, nz in zip(in_avals, nonzeros, strict=True)
        ]
        outs, touts = jvp_flat(lambda *xs: eval_closed(closed, *xs), list(args[:n]), tangents)
        kept, flags = [], []
        for a, t, inst in zip(out_avals, touts, instantiate_out, strict=True):
            if not is_inexact(a.dtype) or (type(t) is Zero and not inst):
                flags.append(False)
                continue
            flags.append(True)
            kept.append(zeros(a.strip_weak_type()) if type(t) is Zero else t)
        box[:] = [flags]
        return [*outs, *kept]

    return closed_ir(fun, [*in_avals, *t_avals], closed.name), box[0]


# --------------------------------------------------------------------------- batching


def batch_ir(closed: ClosedIR, in_batched, force_out, size, axis_name=None):
    """The batched version of ``closed``: batched inputs and outputs carry the batch at 0.

    Returns ``(batched_closed, out_batched)``; outputs with ``force_out`` set are always
    batched (broadcast if they do not depend on batched inputs).
    """
    if isinstance(force_out, bool):
        force_out = [force_out] * len(closed.ir.outvars)
    box = []

    def fun(*args):
        with new_main(BatchTrace, (size, axis_name)) as main:
            trace = BatchTrace(main)
            ins = [
                BatchTracer(trace, x, 0) if b else x for x, b in zip(args, in_batched, strict=True)
            ]
            outs = [trace.full_raise(o) for o in eval_closed(closed, *ins)]
            res, flags = [], []
            for o, force in zip(outs, force_out, strict=True):
                if o.bdim is None and not force:
                    res.append(o.val)
                    flags.append(False)
                else:
                    res.append(move_to(o.val, o.bdim, 0, size))
                    flags.append(True)
        box[:] = [flags]
        return res

    in_avals = [
        ShapedArray((size, *a.shape), a.dtype, a.weak_type) if b else a
        for a, b in zip(closed.ir.in_avals, in_batched, strict=True)
    ]
    return closed_ir(fun, in_avals, closed.name), box[0]


# --------------------------------------------------------------------------- partial evaluation

# Primitives whose equations can be split when only some inputs are unknown (a `while`
# carrying primals and tangents together): prim -> rule(eqn, unknown_in) returning
# ``(known_eqn, unknown_eqn, out_unknown)`` or None for "everything unknown".
PE_RULES: dict = {}


def _propagate(ir: IR, unknown_in):
    unknown = {v for v, u in zip(ir.invars, unknown_in, strict=True) if u}
    known_eqns, unknown_eqns = [], []
    for eqn in ir.eqns:
        ins_u = [isinstance(x, Var) and x in unknown for x in eqn.inputs]
        if not any(ins_u):
            known_eqns.append(eqn)
            continue
        rule = PE_RULES.get(eqn.prim)
        split = rule(eqn, ins_u) if rule is not None else None
        if split is None:
            unknown_eqns.append(eqn)
            unknown.update(eqn.outputs)
        else:
            k_eqn, u_eqn, out_u = split
            known_eqns.append(k_eqn)
            unknown_eqns.append(u_eqn)
            unknown.update(o for o, u in zip(eqn.outputs, out_u, strict=True) if u)
    return known_eqns, unknown_eqns, unknown


def unknown_outputs(ir: IR, unknown_in) -> list[bool]:
    """Which outputs of ``ir`` depend on the inputs marked unknown."""
    _, _, unknown = _propagate(ir, unknown_in)
    return [isinstance(v, Var) and v in unknown for v in ir.outvars]


def _partial_eval_ir(closed: ClosedIR, unknown_in, out_unknown):
    """Split ``closed`` by a forward propagation of "unknown" over its equations.

    ``out_unknown`` says which outputs the unknown part must produce; the others must be
    computable from the known inputs alone. Returns ``(known, unknown, residuals)`` or
    None when a requested known output depends on an unknown input. ``known`` takes the
    known inputs and returns the known outputs followed by the residuals (known values the
    unknown part uses); ``unknown`` takes the residuals followed by the unknown inputs.
    """
    ir = closed.ir
    known_eqns, unknown_eqns, unknown = _propagate(ir, unknown_in)
    is_u = [isinstance(v, Var) and v in unknown for v in ir.outvars]
    if any(u and not want for u, want in zip(is_u, out_unknown, strict=True)):
        return None
    constvars = set(ir.constvars)
    residuals: dict[Var, None] = {}

    def need(x):
        if isinstance(x, Var) and x not in unknown and x not in constvars:
            residuals[x] = None

    for eqn in unknown_eqns:
        for x in eqn.inputs:
            need(x)
    for x, want in zip(ir.outvars, out_unknown, strict=True):
        if want:
            need(x)
    res = list(residuals)
    k_in = [v for v, u in zip(ir.invars, unknown_in, strict=True) if not u]
    k_out = [v for v, want in zip(ir.outvars, out_unknown, strict=True) if not want]
    known = _prune(IR(ir.constvars, k_in, k_out + res, known_eqns))
    u_in = [v for v, u in zip(ir.invars, unknown_in, strict=True) if u]
    u_out = [v for v, want in zip(ir.outvars, out_unknown, strict=True) if want]
    unk = _prune(IR(ir.constvars, res + u_in, u_out, unknown_eqns))
    return ClosedIR(known, closed.consts, closed.name), ClosedIR(unk, closed.consts), res


class JVPSplit:
    """A jvp sub-IR split into its primal part and its tangent part.

    ``known`` maps the primal inputs to ``[*outputs, *res_out]``; ``unknown`` maps
    ``[*residuals, *tangents]`` to the tangent outputs. ``res_src[i]`` describes the i-th
    residual input of ``unknown``: ``("out", j)`` is ``res_out[j]``, ``("in", k)`` is the
    k-th primal input itself (forwarded, never copied through the primitive).
    """

    __slots__ = ("known", "unknown", "res_src", "res_out_avals")

    def __init__(self, known, unknown, res_src, res_out_avals):
        self.known = known
        self.unknown = unknown
        self.res_src = res_src
        self.res_out_avals = res_out_avals


def partial_eval_jvp(jvp_closed: ClosedIR, primal: ClosedIR, forwardable=None) -> JVPSplit:
    """Split ``jvp_closed = jvp_ir(primal, ...)[0]`` into its primal and tangent parts.

    Residuals that are primal inputs with ``forwardable[k]`` set are forwarded instead of
    being returned by the known part. If the primal outputs cannot be separated from the
    tangents (an equation computes both at once), the known part is ``primal`` itself and
    the unknown part recomputes the primal values from the primal inputs.
    """
    ir = jvp_closed.ir
    n_in, n_out = len(primal.ir.invars), len(primal.ir.outvars)
    n_t_in = len(ir.invars) - n_in
    n_t_out = len(ir.outvars) - n_out
    if forwardable is None:
        forwardable = [True] * n_in
    unknown_in = [False] * n_in + [True] * n_t_in
    split = _partial_eval_ir(jvp_closed, unknown_in, [False] * n_out + [True] * n_t_out)
    if split is None:
        unknown = restrict(jvp_closed, [True] * (n_in + n_t_in), [False] * n_out + [True] * n_t_out)
        if unknown is None:  # pragma: no cover - the tangent outputs need only the inputs
            raise AssertionError("could not separate the tangent part of a jvp program")
        known = primal
        res = list(ir.invars[:n_in])
        # The known part's inputs are other variables: name residuals by position.
        ir_known_in = primal.ir.invars
    else:
        known, unknown, res = split
        ir_known_in = None
    pos_in = {v: k for k, v in enumerate(ir.invars[:n_in])}
    res_src, kept = [], []
    for r in res:
        k = pos_in.get(r)
        if k is not None and forwardable[k]:
            res_src.append(("in", k))
        else:
            res_src.append(("out", len(kept)))
            kept.append(r if ir_known_in is None else ir_known_in[k])
    kir = known.ir
    n_known_out = len(kir.outvars) - (len(res) if split is not None else 0)
    known = ClosedIR(
        _prune(IR(kir.constvars, kir.invars, kir.outvars[:n_known_out] + kept, kir.eqns)),
        known.consts,
        known.name,
    )
    return JVPSplit(known, unknown, res_src, [r.aval for r in kept])


# --------------------------------------------------------------------------- transposition


def backward_ir(closed: ClosedIR, linear, known_vals, cts):
    """Cotangents of the ``linear`` inputs of ``closed`` (zeros instantiated).

    ``known_vals`` are the values of the other inputs, in order; ``cts`` one cotangent per
    output. Equations that do not touch the linear inputs are evaluated forward.
    """
    ir = closed.ir
    known_vars = [v for v, lin in zip(ir.invars, linear, strict=True) if not lin]
    lin_vars = [v for v, lin in zip(ir.invars, linear, strict=True) if lin]
    lin_ir = IR(ir.constvars + known_vars, lin_vars, ir.outvars, ir.eqns)
    cts_in = backward_pass(lin_ir, [*closed.consts, *known_vals], list(cts))
    out = []
    for v, c in zip(lin_vars, cts_in, strict=True):
        a = v.aval.strip_weak_type()
        c = zeros(a) if type(c) is Zero else c
        if get_aval(c).dtype != a.dtype:
            c = E.convert_element_type(c, a.dtype)
        out.append(c)
    return out


def fresh_eqn_outputs(eqn: Eqn, keep):
    """A copy of ``eqn`` whose outputs not in ``keep`` are fresh (unused) variables."""
    outs = [o if k else Var(o.aval) for o, k in zip(eqn.outputs, keep, strict=True)]
    return Eqn(eqn.prim, eqn.inputs, eqn.params, outs, eqn.source)
