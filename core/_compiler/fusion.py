"""Fusion: turn the optimized IR into a schedule of steps over planned buffers.

Every IR variable is either *materialized* (it gets a buffer) or *inlined* (it is
recomputed inside the loop of the kernel that uses it). The steps are:

* ``LoopStep``: one loop nest over an output shape computing one or more materialized
  values from an expression tree of elementwise and indexing equations (broadcasts,
  converts, selects, iota, comparisons, transposes, slices, pads, concatenations, gathers,
  dynamic slices). Several roots with the same iteration space share one loop
  (multi-output fusion); a root read only by later roots of the same loop never touches
  memory.
* ``ReduceStep``: a reduction whose operand expression (its elementwise producers) is
  evaluated inside the reduction loop.
* ``GemmStep``: a ``dot_general`` as BLAS ``sgemm``/``dgemm`` calls (batched by a loop),
  with scalar factors of the operands and of the result folded into ``alpha``. Operand
  layouts BLAS cannot express get a transposing copy first. Bias/activation epilogues are
  the loop step that follows, written in place into the GEMM's buffer when possible.
* ``ScatterStep``: a sequential scatter loop, in place when the operand dies there.
* ``ControlStep`` (``control.py``): a ``scan``, ``while`` or ``cond`` whose sub-programs
  are planned like programs of their own and run as loops and branches in generated code.
* ``PyStep``: an equation without a native lowering, run by the reference evaluator
  between native segments (also a control-flow equation whose sub-programs need one).

Loop, reduction and row kernels with enough work are marked to run split across threads
(``parallel.py``).

A variable is materialized when it is a program output, is produced or consumed by a
non-loop step, or is used by more than one kernel (unless it is cheap to recompute, like a
broadcast or an iota). Buffers of intermediates live in one workspace, assigned by
liveness so that dead buffers are reused.
"""

from __future__ import annotations

import numpy as np

from .._ir import Eqn, Literal, Var
from . import codegen
from .passes import Program, literal_value

ALIGN = 64

# Equations evaluated inside loops that read their operand at another index.
VIEW_PRIMS = frozenset(
    {
        "broadcast_in_dim",
        "reshape",
        "transpose",
        "slice",
        "rev",
        "pad",
        "concatenate",
        "iota",
        "dynamic_slice",
        "dynamic_update_slice",
        "gather",
        "im2col",
    }
)
# Cheap to recompute in every kernel that needs them, rather than materialize.
CHEAP_PRIMS = frozenset(
    {"broadcast_in_dim", "reshape", "transpose", "slice", "rev", "iota", "convert_element_type"}
)
REDUCE_PRIMS = frozenset(
    {
        "reduce_sum",
        "reduce_max",
        "reduce_min",
        "reduce_prod",
        "reduce_and",
        "reduce_or",
        "argmax",
        "argmin",
    }
)


class Buffer:
    """A planned memory region: a program input/output array, a constant, or a slice of
    the workspace (``offset``)."""

    __slots__ = ("kind", "index", "nbytes", "dtype", "shape", "offset", "vars", "first", "last")

    def __init__(self, kind, index, shape, dtype):
        self.kind = kind  # "in" | "out" | "const" | "temp"
        self.index = index
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.nbytes = int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize
        self.offset = None
        self.vars = []
        self.first = None  # step index of the definition (temps)
        self.last = None  # step index of the last read (temps)

    def key(self):
        if self.kind == "temp":
            return ("temp", self.offset, self.nbytes)
        return (self.kind, self.index)

    def __repr__(self):
        where = f"@{self.offset}" if self.kind == "temp" else f"#{self.index}"
        return f"{self.kind}{where}:{self.dtype.name}{list(self.shape)}"


class Step:
    native = True

    def reads(self):  # (var, identity_access) pairs read from buffers
        return self._reads

    def writes(self):
        return self._writes


class LoopStep(Step):
    def __init__(self, shape, roots, flat):
        self.shape = tuple(shape)
        self.roots = list(roots)
        self.flat = flat
        self.stores = list(roots)
        self._reads = []

    def writes(self):
        return list(self.stores)


class ReduceStep(Step):
    def __init__(self, eqn):
        self.eqn = eqn
        self._reads = []

    def writes(self):
        return [self.eqn.outputs[0]]


class RowStep(Step):
    """Row-wise chain: one loop over the kept (row) index; inside it, phases run in order:
    reductions over the row (``"reduce"``), elementwise values per row (``"row"``) and per
    element of the row (``"full"``). Later phases read earlier ones only at the same row, so
    a row is re-read from cache instead of memory (softmax, logsumexp, normalization)."""

    def __init__(self, first: ReduceStep):
        e = first.eqn
        self.in_shape = tuple(e.inputs[0].aval.shape)
        self.axes = tuple(sorted(e.params["axes"]))
        self.kept = [d for d in range(len(self.in_shape)) if d not in self.axes]
        self.phases = [("reduce", e.outputs[0])]
        self._reads = list(first._reads)
        self.stores = [e.outputs[0]]

    def vars(self):
        return [v for _, v in self.phases]

    def writes(self):
        return list(self.stores)


class GemmStep(Step):
    def __init__(self, eqn, lhs, rhs, out, alpha, layout):
        self.eqn = eqn
        self.lhs, self.rhs, self.out = lhs, rhs, out
        self.alpha = alpha
        self.layout = layout  # dict(batch, m, n, k, trans_a, trans_b, lda, ldb, dtype)
        self._reads = [(lhs, False), (rhs, False)]

    def writes(self):
        return [self.out]


class ScatterStep(Step):
    def __init__(self, eqn):
        self.eqn = eqn
        self._reads = [(v, False) for v in eqn.inputs if type(v) is Var]

    def writes(self):
        return [self.eqn.outputs[0]]


class EqnStep(Step):
    """A kernel that computes one equation: reads its array inputs, writes its outputs
    (the base of the cumulative and windowed-reduction steps)."""

    def __init__(self, eqn):
        self.eqn = eqn
        self._reads = [(v, False) for v in eqn.inputs if type(v) is Var]
        self.stores = list(eqn.outputs)

    def writes(self):
        return list(self.stores)


class PyStep(Step):
    native = False

    def __init__(self, eqn):
        self.eqn = eqn
        self._reads = [(v, False) for v in eqn.inputs if type(v) is Var]

    def writes(self):
        return list(self.eqn.outputs)


class Plan:
    """The schedule and buffers of one program (see the module docstring)."""

    def __init__(self):
        self.program: Program = None
        self.eqns: list[Eqn] = []
        self.defs: dict = {}
        self.mat: set = set()
        self.alias: dict = {}  # var -> var whose buffer it shares (reshape of a buffer)
        self.steps: list[Step] = []
        self.buffers: list[Buffer] = []
        self.buf_of: dict = {}
        self.out_buffers: list[Buffer] = []
        self.outputs: list = []  # recipes, one per program output
        self.ws_size = 0
        self.n_in = 0
        self.n_const = 0
        self.fallbacks: list[str] = []

    # -- helpers used by codegen
    def base(self, v):
        while v in self.alias:
            v = self.alias[v]
        return v

    def buffer(self, v):
        return self.buf_of[self.base(v)]

    def is_buffer(self, v):
        return type(v) is Var and (v in self.mat or v in self.buf_of or self.base(v) in self.buf_of)

    @property
    def kernel_count(self):
        return sum(1 for s in self.steps if s.native)

    def all_steps(self):
        """Every step, including those of control-flow sub-plans (depth first)."""
        for s in self.steps:
            yield s
            for sub in getattr(s, "subs", {}).values():
                yield from sub.all_steps()

    def segments(self):
        """Split steps into runs: lists of native steps, and single PySteps."""
        segs, cur = [], []
        for s in self.steps:
            if s.native:
                cur.append(s)
            else:
                if cur:
                    segs.append(cur)
                    cur = []
                segs.append(s)
        if cur:
            segs.append(cur)
        return segs


# --------------------------------------------------------------------------- classification


def classify(eqn) -> str:
    name = eqn.prim.name
    if name in REDUCE_PRIMS:
        return "reduce" if codegen.reduce_supported(eqn) else "py"
    if name == "dot_general":
        return "gemm" if codegen.gemm_supported(eqn) else "py"
    if name == "scatter":
        return "scatter" if codegen.scatter_supported(eqn) else "py"
    from . import sortscan

    if name in sortscan.PRIMS:
        return "sortscan" if sortscan.supported(eqn) else "py"
    from . import windows

    if name in windows.PRIMS:
        return "windows" if windows.supported(eqn) else "py"
    if codegen.expr_supported(eqn):
        return "ew"
    return "py"


def _scalar_of(defs, atom):
    """A compile-time scalar that ``atom`` is filled with (through broadcasts/reshapes)."""
    for _ in range(8):
        if type(atom) is Literal:
            return literal_value(atom)
        eqn = defs.get(atom)
        if eqn is None or eqn.prim.name not in ("broadcast_in_dim", "reshape"):
            return None
        atom = eqn.inputs[0]
    return None


def _uses(eqns, outvars):
    uses: dict = {}
    for e in eqns:
        for v in dict.fromkeys(x for x in e.inputs if type(x) is Var):
            uses.setdefault(v, []).append(e)
    return uses


# --------------------------------------------------------------------------- convolutions


class SynthPrim:
    """An operation the planner introduces (never bound, never registered)."""

    multiple_results = False

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


IM2COL = SynthPrim("im2col")


def _rewrite_convs(eqns):
    """``conv_general_dilated(x, w)`` in the canonical layout (x: (N, *spatial, C), w:
    (*window, I, O)) is ``dot_general(im2col(x), w)``: the patch matrix
    (N, *out_spatial, *window, C) is a fused gather loop (padding, dilations and strides are
    index arithmetic; transposes feeding x fuse into it) and the product is one GEMM."""
    from .._core import ShapedArray
    from ..lax._structural import dot_general_p

    out = []
    for e in eqns:
        if e.prim.name != "conv_general_dilated" or not _conv_lowerable(e):
            out.append(e)
            continue
        x, w = e.inputs
        p = e.params
        n = x.aval.ndim - 2
        window = w.aval.shape[:n]
        y = e.outputs[0]
        out_sp = y.aval.shape[1:-1]
        pshape = (x.aval.shape[0], *out_sp, *window, x.aval.shape[-1])
        pv = Var(ShapedArray(pshape, x.aval.dtype))
        params = {
            "window": tuple(window),
            "window_strides": tuple(p["window_strides"]),
            "padding": tuple(tuple(pp) for pp in p["padding"]),
            "lhs_dilation": tuple(p["lhs_dilation"]),
            "rhs_dilation": tuple(p["rhs_dilation"]),
        }
        out.append(Eqn(IM2COL, [x], params, [pv], e.source))
        lc = tuple(range(1 + n, 2 + 2 * n))
        rc = tuple(range(n + 1))
        dn = ((lc, rc), ((), ()))
        out.append(
            Eqn(
                dot_general_p,
                [pv, w],
                {"dimension_numbers": dn, "preferred_element_type": None},
                [y],
                e.source,
            )
        )
    return out


def _conv_lowerable(e):
    x, w = e.inputs
    p = e.params
    y = e.outputs[0].aval
    if type(x) is not Var or type(w) is not Var:
        return False
    if p["feature_group_count"] != 1 or p["batch_group_count"] != 1:
        return False
    pet = p.get("preferred_element_type")
    if pet is not None and np.dtype(pet) != x.aval.dtype:
        return False
    if x.aval.dtype not in (np.float32, np.float64) or w.aval.dtype != x.aval.dtype:
        return False
    if x.aval.size == 0 or w.aval.size == 0 or y.size == 0:
        return False
    patches = y.size // y.shape[-1] * (w.aval.size // w.aval.shape[-1])
    return patches < 2**31


# --------------------------------------------------------------------------- gemm folding


def _fold_gemm_scales(eqns, outvars):
    """Fold scalar factors around dot_general into alpha; returns (eqns, alpha by eqn)."""
    defs = {o: e for e in eqns for o in e.outputs}
    uses = _uses(eqns, outvars)
    outs = {v for v in outvars if type(v) is Var}
    alpha = {}
    removed = set()
    new_eqns = []
    replaced = {}
    for e in eqns:
        if e.prim.name != "dot_general" or not codegen.gemm_supported(e):
            new_eqns.append(e)
            continue
        a = 1.0
        ins = list(e.inputs)
        for side in (0, 1):
            v = ins[side]
            d = defs.get(v)
            if d is None or v in outs or len(uses.get(v, ())) != 1:
                continue
            if d.prim.name == "neg":
                ins[side] = d.inputs[0]
                a = -a
            elif d.prim.name == "mul":
                for k in (0, 1):
                    s = _scalar_of(defs, d.inputs[k])
                    other = d.inputs[1 - k]
                    if s is not None and type(other) is Var and np.isfinite(s):
                        ins[side] = other
                        a *= float(s)
                        break
        out = e.outputs[0]
        consumers = uses.get(out, [])
        if out not in outs and len(consumers) == 1:
            c = consumers[0]
            factor = None
            if c.prim.name == "neg":
                factor = -1.0
            elif c.prim.name == "mul":
                k = 0 if c.inputs[1] is out else 1
                if c.inputs[1 - k] is out:
                    s = _scalar_of(defs, c.inputs[k])
                    if s is not None and np.isfinite(s):
                        factor = float(s)
            if factor is not None and c.outputs[0].aval.dtype == out.aval.dtype:
                a *= factor
                removed.add(c)
                out = c.outputs[0]
        ne = Eqn(e.prim, ins, e.params, [out], e.source)
        alpha[ne] = a
        replaced[e] = ne
        new_eqns.append(ne)
    new_eqns = [e for e in new_eqns if e not in removed]
    # The consumer mul/neg's output is now defined by the dot, which comes earlier: fine.
    # Drop equations that became dead (the folded mul/neg producers).
    live = {v for v in outvars if type(v) is Var}
    kept = []
    for e in reversed(new_eqns):
        if any(o in live for o in e.outputs):
            kept.append(e)
            live.update(v for v in e.inputs if type(v) is Var)
    kept.reverse()
    return kept, alpha


def _gemm_layout(eqn, lhs_aval, rhs_aval):
    """BLAS layout for a dot_general, or the permutations that would make one."""
    (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
    order = sorted(range(len(lc)), key=lambda i: lc[i])
    lc2 = [lc[i] for i in order]
    rc2 = [rc[i] for i in order]
    lf = [d for d in range(lhs_aval.ndim) if d not in lc and d not in lb]
    rf = [d for d in range(rhs_aval.ndim) if d not in rc and d not in rb]
    shp_l, shp_r = lhs_aval.shape, rhs_aval.shape
    prod = lambda dims, shp: int(np.prod([shp[d] for d in dims], dtype=np.int64))  # noqa: E731
    batch = prod(lb, shp_l)
    m, k, n = prod(lf, shp_l), prod(lc2, shp_l), prod(rf, shp_r)
    lhs_perm = rhs_perm = None
    ident_l, ident_r = list(range(lhs_aval.ndim)), list(range(rhs_aval.ndim))
    if list(lb) + lf + lc2 == ident_l:
        trans_a = False
    elif list(lb) + lc2 + lf == ident_l:
        trans_a = True
    else:
        trans_a = False
        lhs_perm = tuple(list(lb) + lf + lc2)
    if list(rb) + rc2 + rf == ident_r:
        trans_b = False
    elif list(rb) + rf + rc2 == ident_r:
        trans_b = True
    else:
        trans_b = False
        rhs_perm = tuple(list(rb) + rc2 + rf)
    layout = dict(
        batch=batch,
        m=m,
        n=n,
        k=k,
        trans_a=trans_a,
        trans_b=trans_b,
        lda=m if trans_a else k,
        ldb=k if trans_b else n,
        dtype=np.dtype(eqn.outputs[0].aval.dtype),
    )
    return layout, lhs_perm, rhs_perm


# --------------------------------------------------------------------------- the planner


_EXPENSIVE = frozenset({"exp", "exp2", "expm1", "log", "log1p", "tanh", "logistic", "erf", "sin",
                        "cos", "pow", "div", "rem", "sqrt", "rsqrt", "erfc", "lgamma",
                        "digamma"})  # fmt: skip


def _cheap(defs, v, depth=0):
    """Cheaper to recompute in every kernel that uses it than to store and load."""
    e = defs.get(v)
    if e is None:
        return True  # an input or constant: a load
    if v.aval.size <= 1:
        # scalars cost nothing per element, but a transcendental is worth computing once
        return (
            depth <= 6
            and e.prim.name not in _EXPENSIVE
            and all(type(x) is Literal or _cheap(defs, x, depth + 1) for x in e.inputs)
        )
    if depth > 3 or e.prim.name not in CHEAP_PRIMS:
        return False
    return all(type(x) is Literal or _cheap(defs, x, depth + 1) for x in e.inputs)


def _tree_reads(plan, root, is_root_of_step):
    """Buffers read by the expression tree of ``root`` as (var, identity access) pairs."""
    out = []
    seen = set()

    def walk(v, ident):
        if type(v) is Literal:
            return
        key = (v, ident)
        if key in seen:
            return
        seen.add(key)
        if (v is not root) and (v in plan.mat or v not in plan.defs):
            out.append((v, ident))
            return
        e = plan.defs[v]
        name = e.prim.name
        if name in REDUCE_PRIMS and v is root:
            walk(e.inputs[0], False)
            return
        if name in VIEW_PRIMS:
            for x in e.inputs:
                walk(x, False)
        elif name == "select_n":
            pred = e.inputs[0]
            walk(pred, ident and pred.aval.shape == v.aval.shape)
            for x in e.inputs[1:]:
                walk(x, ident)
        else:
            for x in e.inputs:
                walk(x, ident)

    walk(root, True)
    return out


def _needs_multi(plan, root):
    """Whether the tree of ``root`` needs a multi-dimensional index (else a flat loop)."""
    seen = set()

    def walk(v):
        if type(v) is Literal or v in seen:
            return False
        seen.add(v)
        if (v is not root) and (v in plan.mat or v not in plan.defs):
            return False
        e = plan.defs[v]
        name = e.prim.name
        if name == "broadcast_in_dim" and e.inputs[0].aval.size == 1:
            return False  # a scalar broadcast reads one element at any index
        if name == "reshape":
            return any(walk(x) for x in e.inputs)
        if name == "iota":
            return len(e.params["shape"]) > 1
        if name in VIEW_PRIMS:
            return True
        if name == "select_n" and e.inputs[0].aval.shape != v.aval.shape:
            return any(walk(x) for x in e.inputs[1:])
        return any(walk(x) for x in e.inputs)

    return walk(root)


def _const_sink(program):
    """Adds a constant to ``program`` (sub-programs' constants are hoisted to the top)."""

    def sink(value, aval):
        program.ir.constvars.append(Var(aval))
        program.consts.append(value)
        return len(program.ir.constvars) - 1

    return sink


_DUP = object()
# An inlined expression is emitted once per index map it is read at: a value read through two
# different slices is computed twice. Nested, that doubles per level (a prefix scan built from
# slices and pads, as the derivative of cumlogsumexp is, grows exponentially), so a tree whose
# expansion passes this many nodes gets its inputs stored in buffers instead.
MAX_INLINE_NODES = 256


def _assign_roots(eqns, uses, kinds, defs, mat):
    """Adds to ``mat`` the values that need their own buffer, deciding for each elementwise
    value the loop (root) it is computed in: a value used by several roots is recomputed
    in each when cheap (``_DUP``), stored otherwise."""
    root_of = {}
    for e in reversed(eqns):
        for v in e.outputs:
            if v in mat:
                root_of[v] = v
                continue
            roots = set()
            for c in uses.get(v, ()):
                kc = kinds[c]
                if kc == "reduce":
                    roots.add(c.outputs[0])
                elif kc == "ew":
                    roots.add(root_of.get(c.outputs[0], _DUP))
            if not roots:
                mat.add(v)
                root_of[v] = v
            elif len(roots) == 1 and _DUP not in roots:
                root_of[v] = roots.pop()
            elif _cheap(defs, v):
                root_of[v] = _DUP
            else:
                mat.add(v)
                root_of[v] = v


def _oversized_trees(eqns, defs, kinds, mat):
    """Inlined values to store so that no expression tree expands past ``MAX_INLINE_NODES``
    (counted with multiplicity: a value read twice counts twice)."""
    size: dict = {}
    store = set()
    for e in eqns:
        if kinds[e] not in ("ew", "reduce"):
            continue
        inner = [x for x in e.inputs if type(x) is Var and x in defs and x not in mat]
        total = 1 + sum(size.get(x, 1) for x in inner)
        if total > MAX_INLINE_NODES:
            store.update(x for x in inner if size.get(x, 1) > 1)
            total = 1 + len(e.inputs)
        for v in e.outputs:
            size[v] = total
    return store


def plan_program(program: Program, sink=None) -> Plan:
    """Plan ``program``; ``sink`` adds constants of sub-programs to the top-level program
    (None: ``program`` is the top level)."""
    from . import control

    plan = Plan()
    plan.program = program
    ir = program.ir
    if sink is None:
        ir.constvars = list(ir.constvars)
        sink = _const_sink(program)
    eqns, alpha = _fold_gemm_scales(_rewrite_convs(list(ir.eqns)), ir.outvars)
    plan.eqns = eqns
    defs = {o: e for e in eqns for o in e.outputs}
    plan.defs = defs
    uses = _uses(eqns, ir.outvars)
    outvars = [v for v in ir.outvars if type(v) is Var]
    controls = {}
    for e in eqns:
        if e.prim.name in control.CONTROL_PRIMS:
            step = control.plan_control(e, sink)
            if step is not None:
                controls[e] = step
    kinds = {e: "control" if e in controls else classify(e) for e in eqns}

    # ---- which variables get buffers
    mat = set(v for v in outvars if v in defs)
    for e in eqns:
        k = kinds[e]
        if k != "ew":
            mat.update(e.outputs)
        if k in ("gemm", "scatter", "py", "control", "sortscan", "windows"):
            mat.update(v for v in e.inputs if type(v) is Var and v in defs)
        if k == "py":
            plan.fallbacks.append(e.prim.name)
    base_mat = set(mat)
    forced: set = set()
    for _ in range(16):
        mat = base_mat | forced
        _assign_roots(eqns, uses, kinds, defs, mat)
        more = _oversized_trees(eqns, defs, kinds, mat)
        if not more:
            break
        forced |= more
    plan.mat = mat

    # ---- aliases: a reshape (or size-preserving broadcast) of a buffer shares it
    def is_buf(v):
        return type(v) is Var and (v in mat or v not in defs)

    for e in eqns:
        if kinds[e] != "ew" or e.outputs[0] not in mat or not e.inputs:
            continue
        name = e.prim.name
        x = e.inputs[0]
        if not is_buf(x):
            continue
        if name == "reshape" or (
            name == "broadcast_in_dim" and x.aval.size == e.outputs[0].aval.size
        ):
            plan.alias[e.outputs[0]] = x

    # ---- steps
    steps: list[Step] = []
    def_step: dict = {}  # var -> index of the step that writes it

    def add(step):
        steps.append(step)
        for w in step.writes():
            def_step[w] = len(steps) - 1
        return step

    synth = []  # synthesized transpose equations (layout copies for BLAS)

    for e in eqns:
        k = kinds[e]
        out = e.outputs[0] if e.outputs else None
        if k == "ew":
            if out not in mat or out in plan.alias:
                continue
            step = LoopStep(out.aval.shape, [out], not _needs_multi(plan, out))
            step._reads = _tree_reads(plan, out, None)
            merged = _try_merge(steps, step, def_step, plan)
            if merged is not None:
                def_step[out] = merged
            else:
                add(step)
        elif k == "reduce":
            step = ReduceStep(e)
            step._reads = _tree_reads(plan, out, None)
            add(step)
        elif k == "gemm":
            lhs, rhs = e.inputs
            layout, lperm, rperm = _gemm_layout(e, lhs.aval, rhs.aval)
            for side, perm in ((0, lperm), (1, rperm)):
                if perm is None:
                    continue
                src = e.inputs[side]
                from .._core import ShapedArray

                aval = src.aval
                t_aval = ShapedArray(tuple(aval.shape[p] for p in perm), aval.dtype)
                tv = Var(t_aval)
                te = Eqn(_transpose_prim(), [src], {"permutation": tuple(perm)}, [tv])
                synth.append(te)
                defs[tv] = te
                mat.add(tv)
                ls = LoopStep(t_aval.shape, [tv], False)
                ls._reads = [(src, False)]
                add(ls)
                if side == 0:
                    lhs = tv
                else:
                    rhs = tv
            if lperm is not None or rperm is not None:
                layout, _, _ = _gemm_layout_fixed(e, layout, lperm, rperm)
            add(GemmStep(e, lhs, rhs, out, alpha.get(e, 1.0), layout))
        elif k == "scatter":
            operand = e.inputs[0]
            if (
                type(operand) is Var
                and operand in defs
                and operand not in outvars
                and len(uses.get(operand, ())) == 1
                and operand not in plan.alias
            ):
                plan.alias[out] = operand  # in place: the operand dies here
            add(ScatterStep(e))
        elif k == "control":
            add(controls[e])
        elif k == "sortscan":
            from . import sortscan

            add(sortscan.make_step(e))
        elif k == "windows":
            from . import windows

            add(windows.make_step(e))
        else:
            add(PyStep(e))
    plan.steps = _chain_rows(plan, steps)

    _drop_internal_roots(plan, outvars)
    _assign_buffers(plan, ir)
    _assign_threads(plan)
    return plan


# --------------------------------------------------------------------------- threads


def _tree_cost(plan, root):
    """Rough per-element cost of the expression inlined for ``root``."""
    cost = 0
    seen = set()
    stack = [root]
    while stack:
        v = stack.pop()
        if type(v) is Literal or v in seen:
            continue
        seen.add(v)
        if v not in plan.defs or (v is not root and v in plan.mat):
            cost += 1  # a load
            continue
        e = plan.defs[v]
        cost += 8 if e.prim.name in _EXPENSIVE else 1
        stack.extend(e.inputs)
    return cost


def kernel_work(plan, step):
    """Work of a kernel in element-operations (what the thread threshold compares)."""
    if isinstance(step, LoopStep):
        n = int(np.prod(step.shape, dtype=np.int64))
        return n * sum(_tree_cost(plan, r) for r in step.roots)
    if isinstance(step, ReduceStep):
        x = step.eqn.inputs[0]
        return x.aval.size * (1 + (_tree_cost(plan, x) if type(x) is Var else 0))
    if isinstance(step, RowStep):
        n = int(np.prod(step.in_shape, dtype=np.int64))
        return n * sum(_tree_cost(plan, v) for _, v in step.phases)
    return 0


def _assign_threads(plan):
    from . import parallel

    threads = parallel.thread_count()
    if threads < 2:
        return
    limit = parallel.min_work()
    for s in plan.steps:
        if _splittable(s) and kernel_work(plan, s) >= limit:
            s.threads = threads


def _splittable(step):
    """Whether codegen can split the kernel's outer loop (over independent outputs)."""
    if isinstance(step, LoopStep):
        return len(step.shape) >= 1 and (step.shape[0] >= 2 or (step.flat and len(step.shape) > 1))
    if isinstance(step, ReduceStep):
        S = step.eqn.inputs[0].aval.shape
        axes = set(step.eqn.params["axes"])
        kept = [S[d] for d in range(len(S)) if d not in axes and S[d] != 1]
        last = [d for d in range(len(S)) if S[d] != 1]
        return bool(kept) and kept[0] >= 2 and bool(last) and last[-1] in axes
    if isinstance(step, RowStep):
        kept = [step.in_shape[d] for d in step.kept]
        return bool(kept) and kept[0] >= 2
    return False


def _transpose_prim():
    from ..lax._structural import transpose_p

    return transpose_p


def _gemm_layout_fixed(eqn, layout, lperm, rperm):
    """After transposing copies the operands are in [batch, free, contract] (lhs) and
    [batch, contract, free] (rhs) order: no BLAS transposes."""
    layout = dict(layout)
    if lperm is not None:
        layout["trans_a"] = False
        layout["lda"] = layout["k"]
    if rperm is not None:
        layout["trans_b"] = False
        layout["ldb"] = layout["n"]
    return layout, None, None


def _try_merge(steps, step, def_step, plan, window=8):
    """Merge a single-root loop into an earlier loop with the same iteration space."""
    root = step.roots[0]
    for idx in range(len(steps) - 1, max(-1, len(steps) - 1 - window), -1):
        cand = steps[idx]
        if not isinstance(cand, LoopStep):
            continue
        if cand.shape != step.shape or len(cand.roots) >= 12:
            continue
        if cand.flat != step.flat and len(step.shape) > 1 and step.shape[-1] < 16:
            continue  # a short innermost dimension would make the merged loop slow
        if any(isinstance(s, PyStep) for s in steps[idx + 1 :]):
            break
        ok = True
        for v, ident in step._reads:
            d = def_step.get(v if v not in plan.alias else plan.base(v), -1)
            if v in cand.roots:
                if not ident:
                    ok = False
                    break
            elif d >= idx:
                ok = False
                break
        if ok:
            cand.flat = cand.flat and step.flat
            cand.roots.append(root)
            cand.stores.append(root)
            cand._reads = [r for r in cand._reads] + [
                r for r in step._reads if r[0] not in cand.roots
            ]
            return idx
    return None


# --------------------------------------------------------------------------- row chains

_ROW_REDUCERS = frozenset(
    {"reduce_sum", "reduce_max", "reduce_min", "reduce_prod", "reduce_and", "reduce_or"}
)


def _row_start(step):
    if not isinstance(step, ReduceStep) or step.eqn.prim.name not in _ROW_REDUCERS:
        return False
    S = step.eqn.inputs[0].aval.shape
    axes = step.eqn.params["axes"]
    return len(S) >= 1 and (len(S) - 1) in axes and S[-1] > 1 and step.eqn.outputs[0].aval.size > 1


def _nonunit(shape):
    return [s for s in shape if s != 1]


def _index_ok(plan, root, start, chain, row):
    """Whether the tree of ``root`` evaluated at index map ``start`` reads every variable of
    ``chain`` only at the current row (kept-shape variables) or the current element
    (full-shape variables). A map entry is ``("f", d)`` (full-shape dim d) or None (0)."""
    S = row.in_shape
    want_kept = [("f", d) for d in row.kept if S[d] != 1]
    want_full = [("f", d) for d in range(len(S)) if S[d] != 1]
    seen = {}

    def reaches_chain(v, depth=0):
        if type(v) is Literal:
            return False
        if v in chain:
            return True
        if v in plan.mat or v not in plan.defs or depth > 50:
            return False
        return any(reaches_chain(x, depth + 1) for x in plan.defs[v].inputs)

    def walk(v, m):
        if type(v) is Literal:
            return True
        key = (v, tuple(m))
        if key in seen:
            return seen[key]
        seen[key] = True
        if v is not root and (v in chain or v in plan.mat or v not in plan.defs):
            if v not in chain:
                return True
            got = [x for x in m if x is not None]
            ok = got == (want_full if v.aval.shape == S else want_kept)
            seen[key] = ok
            return ok
        e = plan.defs[v]
        name = e.prim.name
        if name in REDUCE_PRIMS:
            ok = v is root
        elif name == "broadcast_in_dim":
            x = e.inputs[0]
            if type(x) is Literal or x.aval.ndim == 0:
                ok = walk(x, [])
            else:
                cm = [
                    None if sz == 1 else m[d]
                    for sz, d in zip(x.aval.shape, e.params["broadcast_dimensions"])
                ]
                ok = walk(x, cm)
        elif name == "reshape":
            x = e.inputs[0]
            if type(x) is not Literal and _nonunit(x.aval.shape) == _nonunit(v.aval.shape):
                it = iter([mm for mm, sz in zip(m, v.aval.shape) if sz != 1])
                ok = walk(x, [None if sz == 1 else next(it) for sz in x.aval.shape])
            else:
                ok = not reaches_chain(x)
        elif name in VIEW_PRIMS:
            ok = not any(reaches_chain(x) for x in e.inputs)
        elif name == "select_n" and e.inputs[0].aval.shape != v.aval.shape:
            ok = walk(e.inputs[0], []) and all(walk(x, m) for x in e.inputs[1:])
        else:
            ok = all(walk(x, m) for x in e.inputs)
        seen[key] = ok
        return ok

    return walk(root, start)


def _absorb(plan, row, step):
    S = row.in_shape
    chain = set(row.vars())
    full_map = [("f", d) for d in range(len(S))]
    kept_nonunit = [S[d] for d in row.kept if S[d] != 1]
    if isinstance(step, ReduceStep):
        e = step.eqn
        if not _row_start(step) or tuple(e.inputs[0].aval.shape) != S:
            return None
        if tuple(sorted(e.params["axes"])) != row.axes:
            return None
        x = e.inputs[0]
        if not _index_ok(plan, x, full_map, chain, row) if x in plan.defs else x in chain:
            return None
        return [("reduce", e.outputs[0])]
    if isinstance(step, LoopStep):
        phases = []
        for r in step.roots:
            shape = r.aval.shape
            if _nonunit(shape) == kept_nonunit and r.aval.size > 1:
                it = iter([("f", d) for d in row.kept if S[d] != 1])
                start = [None if sz == 1 else next(it) for sz in shape]
                kind = "row"
            elif shape == S:
                start, kind = full_map, "full"
            else:
                return None
            if not _index_ok(plan, r, start, chain, row):
                return None
            phases.append((kind, r))
            chain.add(r)
        return phases
    return None


def _chain_rows(plan, steps):
    out = []
    i = 0
    while i < len(steps):
        s = steps[i]
        if not _row_start(s):
            out.append(s)
            i += 1
            continue
        row = RowStep(s)
        j = i + 1
        while j < len(steps):
            phases = _absorb(plan, row, steps[j])
            if phases is None:
                break
            row.phases.extend(phases)
            row.stores.extend(v for _, v in phases)
            row._reads.extend(r for r in steps[j].reads() if r[0] not in set(row.vars()))
            j += 1
        # drop trailing per-element phases that nothing in the chain needs after them: keep all
        if len(row.phases) > 1:
            chain = set(row.vars())
            row._reads = [r for r in row._reads if r[0] not in chain]
            out.append(row)
        else:
            out.append(s)
        i = j
    return out


def _drop_internal_roots(plan, outvars):
    """A loop root read only by later roots of its own loop (at the same index) needs no
    buffer: it stays in registers."""
    readers: dict = {}
    for i, s in enumerate(plan.steps):
        for v, ident in s.reads():
            readers.setdefault(plan.base(v), []).append((i, ident))
    aliased = set(plan.alias.values())
    outs = set(outvars)
    for i, s in enumerate(plan.steps):
        if not isinstance(s, LoopStep):
            continue
        for r in list(s.stores):
            if r in outs or r in aliased:
                continue
            rs = readers.get(r, [])
            if rs and all(j == i and ident for j, ident in rs):
                s.stores.remove(r)
                plan.mat.discard(r)
        # reads of the loop's own roots are register values, not buffer reads
        s._reads = [(v, ident) for v, ident in s._reads if v not in s.roots]


def _assign_buffers(plan: Plan, ir):
    steps = plan.steps
    # inputs and constants
    for i, v in enumerate(ir.invars):
        b = Buffer("in", i, v.aval.shape, v.aval.dtype)
        b.vars.append(v)
        plan.buf_of[v] = b
    for i, v in enumerate(ir.constvars):
        b = Buffer("const", i, v.aval.shape, v.aval.dtype)
        b.vars.append(v)
        plan.buf_of[v] = b
    plan.n_in = len(ir.invars)
    plan.n_const = len(ir.constvars)
    outvars = ir.outvars
    out_bases = []
    for v in outvars:
        if type(v) is Var:
            b = plan.base(v)
            if b not in plan.buf_of and b not in out_bases:
                out_bases.append(b)
    # Every materialized var that is not an alias is the base of a buffer.
    written = []
    for s in steps:
        for w in s.writes():
            w = plan.base(w)
            if w not in plan.buf_of and w not in written:
                written.append(w)
    for j, v in enumerate(out_bases):
        b = Buffer("out", j, v.aval.shape, v.aval.dtype)
        b.vars.append(v)
        plan.buf_of[v] = b
        plan.out_buffers.append(b)
    temps = []
    for v in written:
        if v in plan.buf_of:
            continue
        b = Buffer("temp", None, v.aval.shape, v.aval.dtype)
        b.vars.append(v)
        plan.buf_of[v] = b
        temps.append(b)
    for a in plan.alias:
        plan.buf_of[plan.base(a)].vars.append(a)
    plan.buffers = list(plan.buf_of.values())

    # liveness of temps
    for i, s in enumerate(steps):
        for w in s.writes():
            b = plan.buffer(w)
            if b.kind == "temp" and b.first is None:
                b.first = i
        for v, _ in s.reads():
            b = plan.buffer(v)
            if b.kind == "temp":
                b.last = i if b.last is None else max(b.last, i)
    for b in temps:
        if b.first is None:
            b.first = 0
        if b.last is None:
            b.last = b.first
    # a control step's scratch region lives while the step runs
    for i, s in enumerate(steps):
        if getattr(s, "scratch_size", None) is not None:
            b = Buffer("temp", None, (max(s.scratch_size, 1),), np.uint8)
            b.first = b.last = i
            s.scratch = b
            temps.append(b)
    _allocate(plan, temps)

    # output recipes
    recipes = []
    for v in outvars:
        if type(v) is Literal:
            recipes.append(("lit", np.asarray(literal_value(v)), v.aval))
            continue
        b = plan.buffer(v)
        if b.kind == "out":
            recipes.append(("out", b.index, v.aval))
        elif b.kind == "in":
            recipes.append(("in", b.index, v.aval))
        elif b.kind == "const":
            recipes.append(("const", b.index, v.aval))
        else:  # pragma: no cover - outputs always get out buffers
            raise AssertionError("output in workspace")
    plan.outputs = recipes


def _allocate(plan, temps):
    """Workspace offsets by first fit over lifetimes; a loop may write in place over a
    buffer it reads (same size, same index) when that buffer dies at that loop."""
    placed = []  # (offset, size, first, last)
    inplace_ok = {}
    for i, s in enumerate(plan.steps):
        if isinstance(s, LoopStep):
            other = {plan.base(v) for v, ident in s.reads() if not ident}
            inplace_ok[i] = [
                b
                for b in dict.fromkeys(plan.base(v) for v, ident in s.reads() if ident)
                if b not in other
            ]
    for b in sorted(temps, key=lambda b: (b.first, -b.nbytes)):
        size = -(-b.nbytes // ALIGN) * ALIGN
        if size == 0:
            b.offset = 0
            continue
        # in-place candidate
        step = plan.steps[b.first]
        cands = inplace_ok.get(b.first, [])
        chosen = None
        if isinstance(step, LoopStep):
            for v in cands:  # in read order: the plan text is part of the cache key
                ob = plan.buf_of.get(v)
                if (
                    ob is not None
                    and ob.kind == "temp"
                    and ob.offset is not None
                    and ob.last == b.first
                    and ob.nbytes == b.nbytes
                    and not _overlaps_other(placed, ob, b)
                ):
                    chosen = ob.offset
                    break
        if chosen is None:
            chosen = _first_fit(placed, size, b.first, b.last)
        b.offset = chosen
        placed.append((chosen, size, b.first, b.last, b))
    plan.ws_size = max([o + s for o, s, *_ in placed], default=0)


def _overlaps_other(placed, ob, b):
    size = -(-b.nbytes // ALIGN) * ALIGN
    for off, sz, first, last, other in placed:
        if other is ob:
            continue
        if off < ob.offset + size and ob.offset < off + sz and first <= b.last and b.first <= last:
            return True
    return False


def _first_fit(placed, size, first, last):
    live = sorted((o, s) for o, s, f, l, _ in placed if f <= last and first <= l)
    off = 0
    for o, s in live:
        if off + size <= o:
            break
        off = max(off, o + s)
    return off


# --------------------------------------------------------------------------- text


def _threads(step):
    t = getattr(step, "threads", 1)
    return f" x{t} threads" if t > 1 else ""


def describe(plan: Plan) -> str:
    """The fusion plan as text (``Lowered.as_text("fusion")``)."""
    from .._ir import _var_names

    names: dict = {}
    gen = _var_names()

    def nm(v):
        if type(v) is Literal:
            return repr(literal_value(v).item())
        if v not in names:
            names[v] = next(gen)
        return names[v]

    ir = plan.program.ir
    for v in ir.invars:
        nm(v)
    lines = [
        f"program: {len(plan.steps)} steps ({plan.kernel_count} native), "
        f"workspace {plan.ws_size} bytes"
    ]
    lines.append("  inputs: " + " ".join(f"{nm(v)}:{v.aval.str_short()}" for v in ir.invars))
    if ir.constvars:
        lines.append("  consts: " + " ".join(f"{nm(v)}:{v.aval.str_short()}" for v in ir.constvars))

    def tree(root):
        ops = []
        seen = set()

        def walk(v):
            if type(v) is Literal or v in seen:
                return
            seen.add(v)
            if v is not root and (v in plan.mat or v not in plan.defs):
                return
            e = plan.defs[v]
            for x in e.inputs:
                walk(x)
            ops.append(f"{nm(v)}={e.prim.name}({','.join(nm(x) for x in e.inputs)})")

        e = plan.defs[root]
        if e.prim.name in REDUCE_PRIMS:
            walk(e.inputs[0])
            ops.append(
                f"{nm(root)}={e.prim.name}{list(e.params.get('axes', ()))}({nm(e.inputs[0])})"
            )
        else:
            walk(root)
        return "; ".join(ops)

    def buf(v):
        b = plan.buffer(v)
        return repr(b)

    for i, s in enumerate(plan.steps):
        if isinstance(s, LoopStep):
            kind = "loop(flat)" if s.flat else "loop"
            outs = ", ".join(f"{nm(r)}->{buf(r)}" for r in s.stores)
            lines.append(f"  [{i}] {kind} {list(s.shape)}{_threads(s)}: {outs}")
            for r in s.roots:
                lines.append(f"        {tree(r)}")
        elif isinstance(s, ReduceStep):
            o = s.eqn.outputs[0]
            lines.append(f"  [{i}] reduce {s.eqn.prim.name}{_threads(s)} -> {nm(o)}->{buf(o)}")
            lines.append(f"        {tree(o)}")
        elif isinstance(s, RowStep):
            lines.append(
                f"  [{i}] rows {list(s.in_shape)} over axes {list(s.axes)}{_threads(s)}: "
                + ", ".join(f"{nm(v)}->{buf(v)}" for v in s.stores)
            )
            for kind, v in s.phases:
                lines.append(f"        {kind}: {tree(v)}")
        elif isinstance(s, GemmStep):
            L = s.layout
            lines.append(
                f"  [{i}] gemm {'sgemm' if L['dtype'] == np.float32 else 'dgemm'} "
                f"batch={L['batch']} m={L['m']} n={L['n']} k={L['k']} "
                f"transA={L['trans_a']} transB={L['trans_b']} alpha={s.alpha:g}: "
                f"{nm(s.out)}->{buf(s.out)} = {nm(s.lhs)} . {nm(s.rhs)}"
            )
        elif getattr(s, "subs", None) is not None:
            e = s.eqn
            p = e.params
            what = e.prim.name
            if what == "scan":
                what += f" length={p['length']}" + (" reverse" if p["reverse"] else "")
            elif what == "cond":
                what += f" ({len(s.subs)} branches, index {nm(e.inputs[0])})"
            ins = ",".join(nm(x) for x in (e.inputs[1:] if e.prim.name == "cond" else e.inputs))
            outs = ", ".join(f"{nm(o)}->{buf(o)}" for o in e.outputs)
            lines.append(f"  [{i}] {what} ({ins}) scratch {s.scratch!r}: {outs}")
            from . import control

            lines.extend(control.describe(s))
        elif hasattr(s, "describe"):  # steps defined elsewhere (sortscan)
            lines.append(f"  [{i}] {s.describe(nm, buf)}")
        elif isinstance(s, ScatterStep):
            o = s.eqn.outputs[0]
            inplace = plan.base(o) is not o
            lines.append(
                f"  [{i}] scatter {s.eqn.params['combine']} {'(in place) ' if inplace else ''}"
                f"-> {nm(o)}->{buf(o)}"
            )
        else:
            e = s.eqn
            lines.append(
                f"  [{i}] reference evaluator: {e.prim.name}("
                f"{','.join(nm(x) for x in e.inputs)}) -> "
                f"{', '.join(nm(o) for o in e.outputs)}"
            )
    outs = []
    for v, r in zip(ir.outvars, plan.outputs):
        outs.append(f"{nm(v)}({r[0]})")
    lines.append("  outputs: " + " ".join(outs))
    return "\n".join(lines)
