"""IR-to-IR passes run before fusion: inlining, simplification, folding, CSE and DCE.

The input is the ``ClosedIR`` a ``jit`` trace produced; the output is a fresh ``IR`` (new
``Var`` objects throughout, so the traced program is never mutated) whose ``constvars``
hold the program's constants (the ``ClosedIR``'s own constants, plus constants that the
inlined sub-programs captured). Scalar results computed from constants become literals.

The passes run in one forward sweep (inline, substitute aliases, simplify, fold, CSE) and
one backward sweep (DCE). Every rewrite preserves values exactly, with one documented
exception: ``x + 0.0`` and ``x - 0.0`` are rewritten to ``x``, which can turn a ``+0.0``
result into ``-0.0`` when ``x`` is ``-0.0`` (the same rule XLA applies).
"""

from __future__ import annotations

import numpy as np

from .._array import Array, _wrap
from .._core import REGISTRY, ShapedArray
from .._ir import IR, ClosedIR, Eqn, Literal, Var

# Primitives whose held ``call`` program is inlined (their value is the value of ``call``).
_INLINED = ("jit_call", "custom_jvp_call", "custom_vjp_call")
_IDENTITY = ("stop_gradient",)
# Never evaluated at compile time: iota and broadcasts are free inside fused loops, and
# folding them would only create large constants.
_NO_FOLD = ("iota", "broadcast_in_dim", "custom_lin", "scatter", "gather")


def _prim(name):
    return REGISTRY.get(name)


# --------------------------------------------------------------------------- helpers


def literal(value, aval: ShapedArray) -> Literal:
    """A scalar literal holding a NumPy scalar of ``aval``'s dtype."""
    return Literal(np.asarray(value, aval.dtype)[()], aval)


def literal_value(atom):
    """The NumPy scalar of a Literal (None for variables)."""
    if type(atom) is Literal:
        v = atom.val
        if type(v) is Array:
            v = v._value
        return np.asarray(v, atom.aval.dtype)[()]
    return None


def _atom_key(atom):
    if type(atom) is Literal:
        v = literal_value(atom)
        return ("lit", atom.aval.dtype.str, v.tobytes(), atom.aval.weak_type)
    return id(atom)


def _param_key(v):
    if isinstance(v, (list, tuple)):
        return tuple(_param_key(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _param_key(x)) for k, x in v.items()))
    if isinstance(v, np.ndarray):
        return ("nd", v.dtype.str, v.shape, v.tobytes())
    try:
        hash(v)
    except TypeError:
        return ("id", id(v))
    return (type(v).__name__, v)


class Program:
    """The optimized program: an IR plus the values of its ``constvars``."""

    def __init__(self, ir: IR, consts, out_weak):
        self.ir = ir
        self.consts = list(consts)
        self.out_weak = list(out_weak)

    def __str__(self):
        from .._ir import pp_ir

        return pp_ir(self.ir)


# --------------------------------------------------------------------------- the forward sweep


class _Builder:
    """Rebuilds a program equation by equation, applying the forward rewrites."""

    def __init__(self):
        self.eqns: list[Eqn] = []
        self.constvars: list[Var] = []
        self.const_vals: list = []
        self.defs: dict[Var, Eqn] = {}
        self.cse: dict = {}
        self.const_of: dict[Var, np.ndarray] = {}  # constvar -> value (for folding)

    # -- constants
    def add_const(self, value, aval):
        v = Var(aval)
        self.constvars.append(v)
        val = value._value if type(value) is Array else np.asarray(value, aval.dtype)
        self.const_vals.append(val)
        self.const_of[v] = val
        return v

    def value_of(self, atom):
        """Concrete NumPy value of an atom if it is a literal or a constant, else None."""
        if type(atom) is Literal:
            return np.asarray(literal_value(atom))
        return self.const_of.get(atom)

    def scalar_of(self, atom):
        """The scalar an atom is filled with, when known at compile time (else None).

        Sees through ``broadcast_in_dim`` and ``reshape`` of literals."""
        for _ in range(8):
            if type(atom) is Literal:
                return literal_value(atom)
            eqn = self.defs.get(atom)
            if eqn is None or eqn.prim.name not in ("broadcast_in_dim", "reshape"):
                return None
            atom = eqn.inputs[0]
            if atom.aval.size != 1:
                return None
        return None

    # -- emitting
    def emit(self, prim, inputs, params, out_avals):
        """Add an equation (after simplification, folding and CSE); returns its outputs."""
        if not prim.multiple_results:
            simplified = _simplify(self, prim, inputs, params, out_avals[0])
            if simplified is not None:
                return [simplified]
        folded = self.fold(prim, inputs, params, out_avals)
        if folded is not None:
            return folded
        key = None
        try:
            key = (prim.name, tuple(_atom_key(a) for a in inputs), _param_key(params))
            hash(key)
        except TypeError:
            key = None
        if key is not None:
            hit = self.cse.get(key)
            if hit is not None:
                return hit
        outs = [Var(a) for a in out_avals]
        eqn = Eqn(prim, list(inputs), dict(params), outs)
        self.eqns.append(eqn)
        for o in outs:
            self.defs[o] = eqn
        if key is not None:
            self.cse[key] = outs
        return outs

    def fold(self, prim, inputs, params, out_avals):
        if prim.multiple_results or prim.name in _NO_FOLD or not inputs:
            return None
        if len(out_avals) != 1 or out_avals[0].shape != ():
            return None
        vals = [self.value_of(a) for a in inputs]
        if any(v is None for v in vals):
            return None
        args = [_wrap(np.asarray(v, a.aval.dtype), a.aval.weak_type) for v, a in zip(vals, inputs)]
        try:
            with np.errstate(all="ignore"):
                out = prim.impl(*args, **params)
        except Exception:  # folding is an optimisation; the kernel reports real errors
            return None
        v = out._value if type(out) is Array else np.asarray(out)
        aval = out_avals[0]
        if v.shape != () or v.dtype != aval.dtype:
            return None
        return [literal(v, aval)]


def _is_scalar_value(b, atom, value):
    s = b.scalar_of(atom)
    if s is None:
        return False
    try:
        return bool(s == value) and not (isinstance(s, np.floating) and np.isnan(s))
    except Exception:
        return False


def _simplify(b: _Builder, prim, ins, params, out_aval):
    """Algebraic rewrites; returns the atom that replaces the output, or None."""
    name = prim.name
    same = lambda a: a.aval.shape == out_aval.shape and a.aval.dtype == out_aval.dtype  # noqa: E731
    if name in ("add", "sub", "mul", "div") and len(ins) == 2:
        x, y = ins
        if name == "add":
            if _is_scalar_value(b, y, 0) and same(x):
                return x
            if _is_scalar_value(b, x, 0) and same(y):
                return y
        elif name == "sub":
            if _is_scalar_value(b, y, 0) and same(x):
                return x
        elif name == "mul":
            if _is_scalar_value(b, y, 1) and same(x):
                return x
            if _is_scalar_value(b, x, 1) and same(y):
                return y
        elif name == "div":
            if _is_scalar_value(b, y, 1) and same(x):
                return x
    elif name == "neg":
        d = b.defs.get(ins[0])
        if d is not None and d.prim.name == "neg":
            return d.inputs[0]
    elif name == "transpose":
        perm = tuple(params["permutation"])
        if perm == tuple(range(len(perm))):
            return ins[0]
        d = b.defs.get(ins[0])
        if d is not None and d.prim.name == "transpose":
            inner = d.inputs[0]
            p0 = tuple(d.params["permutation"])
            composed = tuple(p0[p] for p in perm)
            if composed == tuple(range(len(composed))):
                return inner
            return b.emit(prim, [inner], {"permutation": composed}, [out_aval])[0]
    elif name == "reshape":
        x = ins[0]
        if tuple(params["new_sizes"]) == x.aval.shape:
            return x
        d = b.defs.get(x)
        if d is not None and d.prim.name == "reshape":
            return b.emit(prim, [d.inputs[0]], params, [out_aval])[0]
        if type(x) is Literal:
            return None
    elif name == "broadcast_in_dim":
        x = ins[0]
        shape = tuple(params["shape"])
        bd = tuple(params["broadcast_dimensions"])
        if shape == x.aval.shape and bd == tuple(range(len(shape))):
            return x
        if shape == () and type(x) is Literal:
            return literal(literal_value(x), out_aval)
        d = b.defs.get(x)
        if d is not None and d.prim.name == "broadcast_in_dim":
            inner = d.inputs[0]
            bd0 = tuple(d.params["broadcast_dimensions"])
            composed = tuple(bd[i] for i in bd0)
            return b.emit(
                prim, [inner], {"shape": shape, "broadcast_dimensions": composed}, [out_aval]
            )[0]
    elif name == "convert_element_type":
        x = ins[0]
        if x.aval.dtype == out_aval.dtype:
            return x
    elif name == "select_n":
        pred, *cases = ins
        if all(c is cases[0] for c in cases[1:]) and same(cases[0]):
            return cases[0]
        p = b.scalar_of(pred)
        if p is not None and pred.aval.shape == () and 0 <= int(p) < len(cases):
            c = cases[int(p)]
            if same(c):
                return c
    elif name == "integer_pow":
        if params.get("y") == 1:
            return ins[0]
    return None


def _swapped_dot(dot, perm):
    """``transpose(dot_general(a, b))`` that swaps the free groups is ``dot_general(b, a)``:
    returns the params of the swapped dot, or None when ``perm`` is another permutation."""
    (lc, rc), (lb, rb) = dot.params["dimension_numbers"]
    lhs, rhs = dot.inputs
    nb = len(lb)
    nl = lhs.aval.ndim - len(lc) - nb
    nr = rhs.aval.ndim - len(rc) - nb
    want = tuple(range(nb)) + tuple(range(nb + nl, nb + nl + nr)) + tuple(range(nb, nb + nl))
    if tuple(perm) != want or want == tuple(range(len(want))):
        return None
    params = dict(dot.params)
    params["dimension_numbers"] = ((tuple(rc), tuple(lc)), (tuple(rb), tuple(lb)))
    return params


def fold_transposed_dots(ir: IR) -> IR:
    """Rewrite ``transpose(dot_general(a, b))`` into ``dot_general(b, a)`` when the dot has
    no other use (reverse mode produces this for every weight gradient)."""
    uses: dict = {}
    for e in ir.eqns:
        for v in e.inputs:
            if type(v) is Var:
                uses[v] = uses.get(v, 0) + 1
    for v in ir.outvars:
        if type(v) is Var:
            uses[v] = uses.get(v, 0) + 1
    defs = {o: e for e in ir.eqns for o in e.outputs}
    dropped = set()
    eqns = []
    for e in ir.eqns:
        if e.prim.name == "transpose" and type(e.inputs[0]) is Var:
            d = defs.get(e.inputs[0])
            if d is not None and d.prim.name == "dot_general" and uses[e.inputs[0]] == 1:
                params = _swapped_dot(d, e.params["permutation"])
                if params is not None:
                    dropped.add(d)
                    e = Eqn(d.prim, [d.inputs[1], d.inputs[0]], params, e.outputs, e.source)
        eqns.append(e)
    # The swapped dot takes the transpose's place, after its operands (which were defined
    # before the original dot) — so the order stays topological.
    eqns = [e for e in eqns if e not in dropped]
    return IR(ir.constvars, ir.invars, ir.outvars, eqns)


def _inline_into(b: _Builder, ir: IR, consts, args):
    """Copy ``ir``'s equations into ``b`` with ``args`` bound to its inputs; returns outputs."""
    env = {}
    for v, c in zip(ir.constvars, consts, strict=True):
        env[v] = b.add_const(c, v.aval)
    for v, a in zip(ir.invars, args, strict=True):
        env[v] = a

    def read(x):
        return x if type(x) is Literal else env[x]

    for eqn in ir.eqns:
        ins = [read(x) for x in eqn.inputs]
        name = eqn.prim.name
        if name in _INLINED:
            call: ClosedIR = eqn.params["call"]
            outs = _inline_into(b, call.ir, call.consts, ins)
            # Literal outputs of a sub-program keep their value; variables are shared.
        elif name in _IDENTITY:
            outs = ins[:1]
        else:
            outs = b.emit(eqn.prim, ins, eqn.params, [o.aval for o in eqn.outputs])
        for v, o in zip(eqn.outputs, outs, strict=True):
            env[v] = o
    return [read(x) for x in ir.outvars]


def dce(ir: IR) -> IR:
    live = {v for v in ir.outvars if type(v) is Var}
    kept = []
    for eqn in reversed(ir.eqns):
        if any(o in live for o in eqn.outputs):
            kept.append(eqn)
            live.update(v for v in eqn.inputs if type(v) is Var)
    kept.reverse()
    return IR(ir.constvars, ir.invars, ir.outvars, kept)


def optimize(call: ClosedIR) -> Program:
    """Run the passes on a jitted program; returns the optimized ``Program``."""
    b = _Builder()
    ir = call.ir
    invars = [Var(v.aval) for v in ir.invars]
    outs = _inline_into(b, ir, call.consts, invars)
    new = IR(b.constvars, invars, outs, b.eqns)
    new = fold_transposed_dots(dce(new))
    used = {v for e in new.eqns for v in e.inputs if type(v) is Var}
    used.update(v for v in new.outvars if type(v) is Var)
    keep = [i for i, v in enumerate(b.constvars) if v in used]
    new.constvars = [b.constvars[i] for i in keep]
    consts = [b.const_vals[i] for i in keep]
    out_weak = [v.aval.weak_type for v in ir.outvars]
    return Program(new, consts, out_weak)
