"""Control flow in generated code: ``scan``, ``while`` and ``cond`` as LLVM loops and branches.

Planning (``plan_control``): each sub-program (a scan or while body, a while predicate, a
cond branch) is optimized by ``passes`` and planned by ``fusion`` on its own, into a
*sub-plan* whose steps are all native. A sub-program with a step the compiler cannot
lower (a reference-evaluator fallback) leaves the whole equation to the Python loop of
``runtime`` instead. The constants of sub-programs are hoisted into the enclosing
program's constants, so every sub-plan reads them through the same constant slots.

Memory: the control step owns a *scratch* region of the enclosing plan's workspace,
live only while the step runs. It holds the loop carries, the body outputs that have no
better home, staging copies, materialized literal operands, and the workspace that the
sub-plans' own intermediates are laid out in (one region shared by the sub-plans, which
never run at the same time). Concretely, for a loop:

* the carry lives in scratch buffers ``A``: initialized from the operands, read by the
  body, and overwritten from the body's results after each iteration (a carry result
  that is another carry's input is staged first, so a permutation of the carry never
  reads a value already overwritten); the final carry is copied to the outputs;
* ``xs`` slices are the operand pointer plus ``i * slice_bytes``; a body result that is
  a ``ys`` slice is written by its kernels straight into ``ys`` at ``i * slice_bytes``;
* a cond branch writes its results straight into the step's output buffers.

Codegen (``emit``): the loop or branch is LLVM control flow inside the entry function;
each sub-plan step is a kernel call (or a nested control step) with pointers computed
from the mapping above. Nothing is ever aliased with a live value: scratch buffers,
operands and outputs of a step are distinct regions (the planner's liveness intervals of
a step's inputs, outputs and scratch all contain the step).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir

from .._ir import Literal, Var
from . import fusion

CONTROL_PRIMS = frozenset({"scan", "while", "cond"})

I1 = ir.IntType(1)
I8 = ir.IntType(8)
I32 = ir.IntType(32)
I64 = ir.IntType(64)


def _round(n):
    return -(-int(n) // fusion.ALIGN) * fusion.ALIGN


class ControlStep(fusion.Step):
    """A ``scan``/``while``/``cond`` equation run by generated code over its sub-plans."""

    native = True

    def __init__(self, eqn, subs):
        self.eqn = eqn
        self.subs = subs  # {"body": Plan} | {"cond": Plan, "body": Plan} | {"branch0": ...}
        self._reads = [(v, False) for v in eqn.inputs if type(v) is Var]
        self.scratch = None  # the workspace Buffer of the enclosing plan (set by fusion)
        self.layout: dict = {}
        self.scratch_size = 0

    def writes(self):
        return list(self.eqn.outputs)


# --------------------------------------------------------------------------- planning


def _dtypes_ok(atoms):
    from .codegen import supported_dtype

    return all(supported_dtype(x.aval.dtype) for x in atoms)


def plan_control(eqn, sink):
    """The ControlStep of a control-flow equation, or None when a sub-program has a step
    without a native lowering (the equation then runs on the Python loop)."""
    if not _dtypes_ok([*eqn.inputs, *eqn.outputs]):
        return None
    p = eqn.params
    name = eqn.prim.name
    if name == "scan":
        progs = {"body": p["body_ir"]}
    elif name == "while":
        progs = {"cond": p["cond_ir"], "body": p["body_ir"]}
    else:
        progs = {f"branch{i}": br for i, br in enumerate(p["branches"])}
    subs = {}
    for key, closed in progs.items():
        sub = _plan_sub(closed, sink)
        if sub is None:
            return None
        subs[key] = sub
    step = ControlStep(eqn, subs)
    _LAYOUTS[name](step)
    return step


def _plan_sub(closed, sink):
    from . import passes

    prog = passes.optimize(closed)
    if not _dtypes_ok([*prog.ir.invars, *prog.ir.constvars, *prog.ir.outvars]):
        return None
    plan = fusion.plan_program(prog, sink=sink)
    if not all(s.native for s in plan.steps):
        return None
    # the sub-program's constants become constants of the whole program
    for v, c in zip(prog.ir.constvars, prog.consts, strict=True):
        plan.buf_of[v].index = sink(c, v.aval)
    plan.outputs = [
        ("const", plan.buffer(v).index, r[2]) if r[0] == "const" else r
        for v, r in zip(prog.ir.outvars, plan.outputs, strict=True)
    ]
    return plan


class _Region:
    """Bump allocation of a control step's scratch region."""

    def __init__(self):
        self.size = 0

    def take(self, nbytes):
        off = self.size
        self.size += _round(max(int(nbytes), 1))
        return off


def _carry_staging(recipes, n_carry, carry_base, region):
    """Scratch for carry results that are another carry's input (else a permutation of
    the carry would read an already overwritten value)."""
    out = {}
    for k, r in enumerate(recipes[:n_carry]):
        if r[0] == "in" and carry_base <= r[1] < carry_base + n_carry and r[1] != carry_base + k:
            out[k] = region.take(r[2].size * r[2].dtype.itemsize)
    return out


def _lits(eqn, region):
    return {
        i: region.take(x.aval.dtype.itemsize)
        for i, x in enumerate(eqn.inputs)
        if type(x) is Literal
    }


def _double_buffered(recipes, n_carry, taken):
    """Carries that swap two buffers instead of being copied: their result is a body
    output buffer that no other result (and no ``ys`` slice, ``taken``) uses."""
    count = {}
    for r in recipes:
        if r[0] == "out":
            count[r[1]] = count.get(r[1], 0) + 1
    return {
        k: r[1]
        for k, r in enumerate(recipes[:n_carry])
        if r[0] == "out" and count[r[1]] == 1 and r[1] not in taken
    }


def _carry_layout(lay, region, carry_avals, body, carry_base, taken):
    """Scratch for the loop carry: ``D`` (k -> body out buffer) swap between ``X`` and
    ``Y``; the others live in ``A`` and are copied from ``B``/``S`` after each iteration."""
    nk = len(carry_avals)
    nbytes = [a.size * a.dtype.itemsize for a in carry_avals]
    D = _double_buffered(body.outputs, nk, taken)
    lay["D"] = D
    lay["X"] = {k: region.take(nbytes[k]) for k in D}
    lay["Y"] = {k: region.take(nbytes[k]) for k in D}
    lay["A"] = {k: region.take(nbytes[k]) for k in range(nk) if k not in D}
    skip = set(D.values()) | set(taken)
    lay["B"] = {j: region.take(b.nbytes) for j, b in enumerate(body.out_buffers) if j not in skip}
    lay["S"] = _carry_staging(body.outputs, nk, carry_base, region)


def _layout_scan(step):
    e, p = step.eqn, step.eqn.params
    nc, nk = p["num_consts"], p["num_carry"]
    body = step.subs["body"]
    region = _Region()
    lay = step.layout
    lay["lits"] = _lits(e, region)
    direct = {}
    for y, r in enumerate(body.outputs[nk:]):
        if r[0] == "out" and r[1] not in direct:
            direct[r[1]] = y
    lay["direct"] = direct
    _carry_layout(lay, region, [v.aval for v in e.outputs[:nk]], body, nc, direct)
    lay["ws"] = region.take(body.ws_size)
    step.scratch_size = region.size


def _layout_while(step):
    e, p = step.eqn, step.eqn.params
    bn = p["body_nconsts"]
    cond, body = step.subs["cond"], step.subs["body"]
    region = _Region()
    lay = step.layout
    lay["lits"] = _lits(e, region)
    lay["P"] = {j: region.take(b.nbytes) for j, b in enumerate(cond.out_buffers)}
    _carry_layout(lay, region, [v.aval for v in e.outputs], body, bn, {})
    lay["ws"] = region.take(max(cond.ws_size, body.ws_size))
    step.scratch_size = region.size


def _layout_cond(step):
    region = _Region()
    lay = step.layout
    lay["lits"] = _lits(step.eqn, region)
    lay["ws"] = region.take(max(s.ws_size for s in step.subs.values()))
    step.scratch_size = region.size


_LAYOUTS = {"scan": _layout_scan, "while": _layout_while, "cond": _layout_cond}


def describe(step, indent="        "):
    """Lines describing a control step's sub-plans (for ``fusion.describe``)."""
    lines = []
    for key, sub in step.subs.items():
        lines.append(f"{indent}{key}:")
        lines.extend(indent + "  " + ln for ln in fusion.describe(sub).splitlines())
    return lines


# --------------------------------------------------------------------------- codegen


class _Gen:
    """Helpers over the segment function being emitted."""

    def __init__(self, mb, b, fn):
        self.mb, self.b, self.fn = mb, b, fn

    def at(self, base, off):
        return base if off == 0 else self.b.gep(base, [ir.Constant(I64, off)], inbounds=True)

    def offset(self, base, index, nbytes):
        """``base + index * nbytes`` (index an i64 value)."""
        if nbytes == 0:
            return base
        off = self.b.mul(index, ir.Constant(I64, nbytes), flags=("nuw", "nsw"))
        return self.b.gep(base, [off], inbounds=True)

    def copy(self, dst, src, nbytes):
        if nbytes:
            self.mb.memcpy(self.b, dst, src, nbytes)

    def store_scalar(self, dst, value, dtype):
        from .codegen import Emitter, sty

        dtype = np.dtype(dtype)
        c = Emitter.const(None, np.asarray(value, dtype)[()], dtype)
        if dtype == np.bool_:
            c = ir.Constant(I8, int(bool(value)))
        p = self.b.bitcast(dst, sty(dtype).as_pointer())
        self.b.store(c, p, align=dtype.itemsize)

    def load_scalar(self, src, dtype):
        from .codegen import sty

        dtype = np.dtype(dtype)
        p = self.b.bitcast(src, sty(dtype).as_pointer())
        return self.b.load(p, align=dtype.itemsize)

    def run(self, sub, ins, outs, ws):
        """Emit the steps of ``sub`` with its inputs at ``ins``, outputs at ``outs``
        (index -> pointer) and intermediates in the workspace at ``ws``."""
        mb = self.mb
        cache = {}

        def ptr(buf):
            kind = buf.kind
            if kind == "in":
                return ins[buf.index]
            if kind == "out":
                return outs[buf.index]
            if kind == "const":
                return mb.const_ptr(self.b, buf.index)
            key = buf.key()
            p = cache.get(key)
            if p is None:
                p = cache[key] = self.at(ws, buf.offset)
            return p

        # every pointer is computed before the steps (a nested loop or branch must not
        # define a value that a later step reuses)
        for st in sub.steps:
            for v in _step_vars(st):
                ptr(sub.buffer(v))
        mb.emit_steps(self.b, self.fn, sub, sub.steps, ptr)

    def source(self, recipe, ins, outs):
        """Pointer to a sub-plan result (None for a literal)."""
        kind, idx, _ = recipe
        if kind == "out":
            return outs[idx]
        if kind == "in":
            return ins[idx]
        if kind == "const":
            return self.mb.const_ptr(self.b, idx)
        return None

    def put(self, dst, recipe, ins, outs):
        """Write a sub-plan result to ``dst``."""
        aval = recipe[2]
        src = self.source(recipe, ins, outs)
        if src is None:
            self.store_scalar(dst, recipe[1], aval.dtype)
        elif src is not dst:
            self.copy(dst, src, aval.size * aval.dtype.itemsize)

    def update_carry(self, recipes, A, S, ins, outs):
        """Copied carry buffers ``A`` <- the body's carry results (staged where needed)."""
        for k, off in S.items():
            self.put(off, recipes[k], ins, outs)
        for k in A:
            r = recipes[k]
            if k in S:
                aval = r[2]
                self.copy(A[k], S[k], aval.size * aval.dtype.itemsize)
            elif not (r[0] == "in" and ins[r[1]] is A[k]):
                self.put(A[k], r, ins, outs)

    @staticmethod
    def nbytes(aval):
        return aval.size * aval.dtype.itemsize


def _step_vars(step):
    from .codegen import _step_buffers

    vs = [v for v, _ in step.reads()]
    vs += [v for v in _step_buffers(step) if type(v) is Var]
    return vs


def outer_pointers(g, plan, step, ptr):
    """Pointers of a control step's operands (literals materialized in scratch), results
    and scratch region, computed before any block of the step."""
    base = ptr(step.scratch)
    ins = []
    for i, x in enumerate(step.eqn.inputs):
        if type(x) is Literal:
            from .passes import literal_value

            dst = g.at(base, step.layout["lits"][i])
            g.store_scalar(dst, literal_value(x), x.aval.dtype)
            ins.append(dst)
        else:
            ins.append(ptr(plan.buffer(x)))
    outs = [ptr(plan.buffer(v)) for v in step.eqn.outputs]
    return base, ins, outs


def emit(mb, b, fn, plan, step, ptr):
    """Emit a ControlStep into ``fn`` at ``b``'s position (``ptr``: Buffer -> i8*)."""
    g = _Gen(mb, b, fn)
    base, ins, outs = outer_pointers(g, plan, step, ptr)
    _EMIT[step.eqn.prim.name](g, step, base, ins, outs)


class _Carry:
    """The loop-carried state: per carry, the pointer the body reads (a header phi for
    double-buffered carries, the ``A`` buffer otherwise) and the one it writes."""

    def __init__(self, g, base, lay, n, avals):
        self.g, self.lay, self.n = g, lay, n
        self.nbytes = [g.nbytes(a) for a in avals]
        self.A = {k: g.at(base, off) for k, off in lay["A"].items()}
        self.X = {k: g.at(base, off) for k, off in lay["X"].items()}
        self.Y = {k: g.at(base, off) for k, off in lay["Y"].items()}
        self.B = {j: g.at(base, off) for j, off in lay["B"].items()}
        self.S = {k: g.at(base, off) for k, off in lay["S"].items()}

    def init(self, srcs):
        for k in range(self.n):
            self.g.copy(self.A[k] if k in self.A else self.X[k], srcs[k], self.nbytes[k])

    def enter(self, pre):
        """At the loop header: phis of the double-buffered carries."""
        b = self.g.b
        self.cur, self.nxt = {}, {}
        for k in self.X:
            self.cur[k] = c = b.phi(self.X[k].type)
            self.nxt[k] = x = b.phi(self.X[k].type)
            c.add_incoming(self.X[k], pre)
            x.add_incoming(self.Y[k], pre)

    def reads(self):
        return [self.cur[k] if k in self.cur else self.A[k] for k in range(self.n)]

    def body_outs(self):
        outs = dict(self.B)
        for k, j in self.lay["D"].items():
            outs[j] = self.nxt[k]
        return outs

    def update(self, recipes, ins, outs):
        self.g.update_carry(recipes, self.A, self.S, ins, outs)

    def latch(self):
        """Swap the double buffers on the back edge."""
        blk = self.g.b.block
        for k in self.cur:
            self.cur[k].add_incoming(self.nxt[k], blk)
            self.nxt[k].add_incoming(self.cur[k], blk)


def _emit_scan(g, step, base, ins, outs):
    b, fn = g.b, g.fn
    e, p = step.eqn, step.eqn.params
    nc, nk, length, reverse = p["num_consts"], p["num_carry"], p["length"], p["reverse"]
    body = step.subs["body"]
    lay = step.layout
    if length == 0:
        for k in range(nk):
            g.copy(outs[k], ins[nc + k], g.nbytes(e.outputs[k].aval))
        return
    carry = _Carry(g, base, lay, nk, [v.aval for v in e.outputs[:nk]])
    carry.init(ins[nc : nc + nk])
    ws = g.at(base, lay["ws"])
    xs_in = ins[nc + nk :]
    x_bytes = [g.nbytes(x.aval) // length for x in e.inputs[nc + nk :]]
    y_bytes = [g.nbytes(v.aval) // length for v in e.outputs[nk:]]
    pre = b.block
    head = fn.append_basic_block("scan")
    done = fn.append_basic_block("scan.end")
    b.branch(head)
    b.position_at_end(head)
    i = b.phi(I64)
    i.add_incoming(ir.Constant(I64, 0), pre)
    carry.enter(pre)
    t = b.sub(ir.Constant(I64, length - 1), i) if reverse else i
    x_ptrs = [g.offset(x, t, nb) for x, nb in zip(xs_in, x_bytes, strict=True)]
    y_ptrs = [g.offset(y, t, nb) for y, nb in zip(outs[nk:], y_bytes, strict=True)]
    body_in = [*ins[:nc], *carry.reads(), *x_ptrs]
    body_out = carry.body_outs()
    for j, y in lay["direct"].items():
        body_out[j] = y_ptrs[y]
    g.run(body, body_in, body_out, ws)
    recipes = body.outputs
    for y, r in enumerate(recipes[nk:]):
        if not (r[0] == "out" and lay["direct"].get(r[1]) == y):
            g.put(y_ptrs[y], r, body_in, body_out)
    carry.update(recipes, body_in, body_out)
    final = [carry.nxt[k] if k in carry.nxt else carry.A[k] for k in range(nk)]
    carry.latch()
    nxt = b.add(i, ir.Constant(I64, 1), flags=("nuw", "nsw"))
    i.add_incoming(nxt, b.block)
    b.cbranch(b.icmp_unsigned("<", nxt, ir.Constant(I64, length)), head, done)
    b.position_at_end(done)
    for k in range(nk):
        g.copy(outs[k], final[k], carry.nbytes[k])


def _emit_while(g, step, base, ins, outs):
    b, fn = g.b, g.fn
    e, p = step.eqn, step.eqn.params
    cn, bn = p["cond_nconsts"], p["body_nconsts"]
    cond, body = step.subs["cond"], step.subs["body"]
    lay = step.layout
    n = len(e.outputs)
    carry = _Carry(g, base, lay, n, [v.aval for v in e.outputs])
    carry.init(ins[cn + bn :])
    P = {j: g.at(base, off) for j, off in lay["P"].items()}
    ws = g.at(base, lay["ws"])
    pre = b.block
    head = fn.append_basic_block("while.cond")
    loop = fn.append_basic_block("while.body")
    done = fn.append_basic_block("while.end")
    b.branch(head)
    b.position_at_end(head)
    carry.enter(pre)
    cond_in = [*ins[:cn], *carry.reads()]
    g.run(cond, cond_in, P, ws)
    r = cond.outputs[0]
    src = g.source(r, cond_in, P)
    if src is None:
        pred = ir.Constant(I1, int(bool(r[1])))
    else:
        pred = b.icmp_unsigned("!=", g.load_scalar(src, np.bool_), ir.Constant(I8, 0))
    b.cbranch(pred, loop, done)
    b.position_at_end(loop)
    body_in = [*ins[cn : cn + bn], *carry.reads()]
    body_out = carry.body_outs()
    g.run(body, body_in, body_out, ws)
    carry.update(body.outputs, body_in, body_out)
    carry.latch()
    b.branch(head)
    b.position_at_end(done)
    final = carry.reads()  # the header's values: the state the predicate rejected
    for k in range(n):
        g.copy(outs[k], final[k], carry.nbytes[k])


def _emit_cond(g, step, base, ins, outs):
    from .codegen import _is_signed, vty

    b, fn = g.b, g.fn
    e = step.eqn
    branches = [step.subs[f"branch{i}"] for i in range(len(step.subs))]
    ws = g.at(base, step.layout["ws"])
    index, ops = ins[0], ins[1:]
    idt = e.inputs[0].aval.dtype
    raw = g.load_scalar(index, idt)
    if vty(idt).width < 64:
        raw = b.sext(raw, I64) if _is_signed(idt) else b.zext(raw, I64)
    last = ir.Constant(I64, len(branches) - 1)
    zero = ir.Constant(I64, 0)
    if _is_signed(idt):
        raw = b.select(b.icmp_signed("<", raw, zero), zero, raw)
        idx = b.select(b.icmp_signed(">", raw, last), last, raw)
    else:
        idx = b.select(b.icmp_unsigned(">", raw, last), last, raw)
    merge = fn.append_basic_block("cond.end")
    blocks = [fn.append_basic_block(f"cond.branch{i}") for i in range(len(branches))]
    sw = b.switch(idx, blocks[-1])
    for i in range(len(branches) - 1):
        sw.add_case(ir.Constant(I64, i), blocks[i])
    for blk, sub in zip(blocks, branches, strict=True):
        b.position_at_end(blk)
        first = {}
        for r_i, r in enumerate(sub.outputs):
            if r[0] == "out":
                first.setdefault(r[1], r_i)
        sub_out = {j: outs[r_i] for j, r_i in first.items()}
        g.run(sub, ops, sub_out, ws)
        for r_i, r in enumerate(sub.outputs):
            if not (r[0] == "out" and first[r[1]] == r_i):
                g.put(outs[r_i], r, ops, sub_out)
        b.branch(merge)
    b.position_at_end(merge)


_EMIT = {"scan": _emit_scan, "while": _emit_while, "cond": _emit_cond}
