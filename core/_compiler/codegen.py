"""LLVM IR generation for a fusion plan (llvmlite.ir).

Each step becomes an internal kernel function whose buffer arguments are ``noalias``
(the planner guarantees it: a buffer written by a kernel is never also passed under
another name); float arithmetic carries ``contract`` (so FMAs form) and reduction
accumulators ``reassoc`` (so the vectorizer may reorder the sum). The program exports
one ``i32 entry(i8** slots)`` per native segment (``entry`` when there is no reference
evaluator step in the middle; ``seg0``, ``seg1``, ... otherwise) that computes every
buffer address once and calls the kernels and BLAS in order. Control-flow steps become
loops and branches of the entry itself (``control.py``), and kernels marked for threads
take a ``lo, hi`` range of their outer loop and run in parts (``parallel.py``).

Slots: ``[input arrays][output arrays][workspace][constants]``. Input and output slots
hold the addresses of NumPy array *objects*; the entry reads each data pointer (and, for
inputs, the contiguity/alignment flags: it returns 1 without touching anything when an
input is not C-contiguous and aligned, and the caller retries with copies). This keeps
the Python side of a call to storing ``id(array)`` per argument. The workspace and
constant slots hold raw data pointers.

Shapes are static, so every loop bound is a constant; a loop over a contiguous
iteration space is one flat loop, otherwise one loop per dimension with the last one
innermost. Expressions are evaluated at an index: view operations (broadcast, transpose,
slice, pad, gather, ...) transform the index, elementwise ones pass it through, and a
leaf loads its buffer at the (raveled) index.
"""

from __future__ import annotations

import contextlib

import numpy as np
from llvmlite import ir

from .._config import config
from .._ir import Literal, Var
from . import engine, mathlib, parallel
from .passes import literal_value

I1 = ir.IntType(1)
I8 = ir.IntType(8)
I32 = ir.IntType(32)
I64 = ir.IntType(64)
F32 = ir.FloatType()
F64 = ir.DoubleType()
VOID = ir.VoidType()
I8P = I8.as_pointer()

FLOAT_FLAGS = ("contract",)
ACC_FLAGS = ("reassoc", "contract")

_VALUE_TYPES = {
    "bool": I1,
    "int8": I8,
    "int16": ir.IntType(16),
    "int32": I32,
    "int64": I64,
    "uint8": I8,
    "uint16": ir.IntType(16),
    "uint32": I32,
    "uint64": I64,
    "float32": F32,
    "float64": F64,
}


_BY_DTYPE = {np.dtype(k): v for k, v in _VALUE_TYPES.items()}


def supported_dtype(dtype) -> bool:
    return dtype in _BY_DTYPE


def vty(dtype):
    return _BY_DTYPE[np.dtype(dtype)]


def sty(dtype):
    """Storage type (bool is a byte in memory)."""
    dtype = np.dtype(dtype)
    return I8 if dtype == np.bool_ else _VALUE_TYPES[dtype.name]


def _is_float(dtype):
    return np.dtype(dtype).kind == "f"


def _is_signed(dtype):
    return np.dtype(dtype).kind == "i"


def _is_bool(dtype):
    return np.dtype(dtype) == np.bool_


# --------------------------------------------------------------------------- what is lowered

_EW_NUM = {"add", "sub", "mul", "neg", "abs", "sign", "integer_pow"}
_EW_INTDIV = {"div", "rem"}
_EW_ANY = {"max", "min", "eq", "ne", "lt", "le", "gt", "ge", "select_n"}
_EW_INT = {"and", "or", "xor", "not"}
_EW_FLOAT = {"floor", "ceil", "round", "is_finite", "sqrt", "rsqrt", "fma", "nextafter"}
_EW_SHIFT = {"shift_left", "shift_right_logical", "shift_right_arithmetic", "clz"}
_VIEWS = {
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
    "convert_element_type",
    "im2col",
}


def expr_supported(eqn) -> bool:
    """Whether an equation can be evaluated inside a fused loop."""
    name = eqn.prim.name
    if eqn.prim.multiple_results or len(eqn.outputs) != 1:
        return False
    out = eqn.outputs[0].aval
    if not supported_dtype(out.dtype) or not all(supported_dtype(x.aval.dtype) for x in eqn.inputs):
        return False
    dt = eqn.inputs[0].aval.dtype if eqn.inputs else out.dtype
    if name in _EW_NUM:
        if name == "integer_pow" and eqn.params.get("y", 0) < 0 and not _is_float(dt):
            return False
        return not _is_bool(dt)
    if name in _EW_INTDIV:
        return not _is_bool(dt)
    if name in _EW_ANY:
        return True
    if name in _EW_INT:
        return not _is_float(dt)
    if name in _EW_FLOAT:
        return _is_float(dt)
    if name in _EW_SHIFT:
        return not _is_float(dt) and not _is_bool(dt)
    if name == "bitcast_convert_type":
        src, dst = np.dtype(dt), np.dtype(out.dtype)
        return src.itemsize == dst.itemsize and np.bool_ not in (src, dst)
    if name in mathlib.UNARY or name in mathlib.BINARY:
        return mathlib.supports(name, dt)
    if name in _VIEWS:
        if name in ("gather", "dynamic_slice") and config.debug_index_checks:
            return False
        if name == "gather":
            k = len(eqn.inputs) - 1
            if any(d == 0 for d in eqn.inputs[0].aval.shape[:k]):
                return False
        return True
    return False


def reduce_supported(eqn) -> bool:
    x = eqn.inputs[0]
    return (
        type(x) is Var
        and supported_dtype(x.aval.dtype)
        and supported_dtype(eqn.outputs[0].aval.dtype)
    )


_BLAS_INT_MAX = 2**31 - 1  # scipy-openblas32 takes 32-bit sizes


def gemm_supported(eqn) -> bool:
    lhs, rhs = eqn.inputs
    out = eqn.outputs[0].aval
    if type(lhs) is not Var or type(rhs) is not Var:
        return False
    if max(lhs.aval.size, rhs.aval.size, out.size) > _BLAS_INT_MAX:
        return False
    dt = lhs.aval.dtype
    return (
        dt in (np.float32, np.float64)
        and rhs.aval.dtype == dt
        and out.dtype == dt
        and lhs.aval.ndim >= 1
        and rhs.aval.ndim >= 1
    )


def scatter_supported(eqn) -> bool:
    if config.debug_index_checks:
        return False
    x = eqn.inputs[0]
    combine = eqn.params["combine"]
    if type(x) is not Var or not supported_dtype(x.aval.dtype):
        return False
    if _is_bool(x.aval.dtype) and combine != "set":
        return False
    return all(type(v) is Var for v in eqn.inputs)


# --------------------------------------------------------------------------- indices


class Idx:
    """An index into an array of ``shape``: a flat (raveled) value, or one value per dim."""

    __slots__ = ("flat", "multi", "shape", "key")

    def __init__(self, shape, flat=None, multi=None):
        self.shape = tuple(shape)
        self.flat = flat
        self.multi = None if multi is None else list(multi)
        if multi is not None:
            self.key = ("m", tuple(id(v) for v in multi))
        else:
            self.key = ("f", id(flat), self.shape)


def _strides(shape):
    st, acc = [], 1
    for s in reversed(shape):
        st.append(acc)
        acc *= s
    return list(reversed(st))


# --------------------------------------------------------------------------- emitter


class Emitter:
    """Emits one kernel function's body."""

    def __init__(self, cg, fn, plan, ptrs):
        self.cg = cg
        self.fn = fn
        self.plan = plan
        self.ptrs = ptrs  # buffer key -> i8* argument
        self.b = ir.IRBuilder(fn.append_basic_block("entry"))
        self.memo = {}
        self.roots = set()
        self._typed = {}
        self._consts = {}
        # (lo, hi) i64 arguments when the kernel may run as parts on several threads: the
        # one loop opened with ``split=True`` then covers [lo, hi) of its range
        self.split = None
        self.split_extent = None

    # -- constants and types
    def c64(self, v):
        # one object per value, so that indices built from constants compare equal (memo)
        c = self._consts.get(v)
        if c is None:
            c = self._consts[v] = ir.Constant(I64, int(v))
        return c

    def const(self, value, dtype):
        dtype = np.dtype(dtype)
        t = vty(dtype)
        if _is_bool(dtype):
            return ir.Constant(I1, int(bool(value)))
        if _is_float(dtype):
            return ir.Constant(t, float(value))
        v = int(value)
        bits = t.width
        v &= (1 << bits) - 1
        if v >= 1 << (bits - 1):
            v -= 1 << bits
        return ir.Constant(t, v)

    @contextlib.contextmanager
    def at_entry(self):
        """Emit into the function's entry block (before its terminator), then come back."""
        b = self.b
        saved = b.block
        entry = self.fn.entry_basic_block
        if entry.is_terminated:
            b.position_before(entry.terminator)
        else:
            b.position_at_end(entry)
        try:
            yield
        finally:
            b.position_at_end(saved)

    def slot(self, ty, init=None):
        """A stack variable allocated in the entry block (LLVM promotes it to a register),
        optionally initialised here."""
        with self.at_entry():
            a = self.b.alloca(ty)
        if init is not None:
            self.b.store(init, a)
        return a

    @contextlib.contextmanager
    def goto_entry_alloca(self, ty):
        with self.at_entry():
            a = self.b.alloca(ty)
        yield a

    # -- loops
    @contextlib.contextmanager
    def loop(self, n, split=False):
        """``for i in range(n)`` (n >= 1 a Python int); yields the i64 index. With ``split``
        in a kernel that runs in parts, the loop covers the part's range instead."""
        b = self.b
        if split and self.split is not None and n >= 2 and self.split_extent is None:
            self.split_extent = n
            with self.range_loop(*self.split) as i:
                yield i
            return
        if n == 1:
            yield self.c64(0)
            return
        pre = b.block
        header = self.fn.append_basic_block("loop")
        exit_ = self.fn.append_basic_block("after")
        b.branch(header)
        b.position_at_end(header)
        i = b.phi(I64)
        i.add_incoming(self.c64(0), pre)
        yield i
        nxt = b.add(i, self.c64(1), flags=("nuw", "nsw"))
        i.add_incoming(nxt, b.block)
        b.cbranch(b.icmp_unsigned("<", nxt, self.c64(n)), header, exit_)
        b.position_at_end(exit_)

    @contextlib.contextmanager
    def range_loop(self, lo, hi):
        """``for i in range(lo, hi)`` over i64 values (possibly empty)."""
        b = self.b
        pre = b.block
        header = self.fn.append_basic_block("part")
        exit_ = self.fn.append_basic_block("part.end")
        b.cbranch(b.icmp_signed("<", lo, hi), header, exit_)
        b.position_at_end(header)
        i = b.phi(I64)
        i.add_incoming(lo, pre)
        yield i
        nxt = b.add(i, self.c64(1), flags=("nsw",))
        i.add_incoming(nxt, b.block)
        b.cbranch(b.icmp_signed("<", nxt, hi), header, exit_)
        b.position_at_end(exit_)

    @contextlib.contextmanager
    def loops(self, shape, split=False):
        """Nested loops (the first one split when ``split``: see ``loop``)."""
        with contextlib.ExitStack() as stack:
            yield [stack.enter_context(self.loop(n, split and k == 0)) for k, n in enumerate(shape)]

    # -- buffers
    def ptr(self, var):
        buf = self.plan.buffer(var)
        key = (buf.key(), str(sty(var.aval.dtype)))
        p = self._typed.get(key)
        if p is None:
            with self.at_entry():
                raw = self.ptrs[buf.key()]
                p = self.b.bitcast(raw, sty(var.aval.dtype).as_pointer())
            self._typed[key] = p
        return p

    def load_at(self, var, offset):
        dt = var.aval.dtype
        v = self.b.load(self.b.gep(self.ptr(var), [offset], inbounds=True), align=dt.itemsize)
        if _is_bool(dt):
            v = self.b.icmp_unsigned("!=", v, ir.Constant(I8, 0))
        return v

    def store_at(self, var, offset, value):
        dt = var.aval.dtype
        if _is_bool(dt):
            value = self.b.zext(value, I8)
        self.b.store(value, self.b.gep(self.ptr(var), [offset], inbounds=True), align=dt.itemsize)

    def ravel(self, idx: Idx):
        if idx.flat is not None:
            return idx.flat
        b = self.b
        off = None
        for v, st in zip(idx.multi, _strides(idx.shape)):
            term = v if st == 1 else b.mul(v, self.c64(st), flags=("nuw", "nsw"))
            off = term if off is None else b.add(off, term, flags=("nuw", "nsw"))
        return off if off is not None else self.c64(0)

    def unravel(self, idx: Idx):
        if idx.multi is not None:
            return idx.multi
        b = self.b
        out = []
        for d, (s, st) in enumerate(zip(idx.shape, _strides(idx.shape))):
            if s == 1:
                out.append(self.c64(0))
                continue
            q = idx.flat if st == 1 else b.udiv(idx.flat, self.c64(st))
            out.append(q if d == 0 else b.urem(q, self.c64(s)))
        idx.multi = out
        return out

    # -- expressions
    def value(self, atom, idx: Idx):
        if type(atom) is Literal:
            return self.const(literal_value(atom), atom.aval.dtype)
        key = (atom, idx.key)
        hit = self.memo.get(key)
        if hit is not None:
            return hit
        plan = self.plan
        if atom not in self.roots and (atom in plan.mat or atom not in plan.defs):
            v = self.load_at(atom, self.ravel(idx))
        else:
            v = self.emit_eqn(plan.defs[atom], atom, idx)
        self.memo[key] = v
        return v

    def scalar_idx(self):
        return Idx((), multi=[])

    def emit_eqn(self, eqn, out, idx):
        name = eqn.prim.name
        rule = _VIEW_RULES.get(name)
        if rule is not None:
            return rule(self, eqn, idx)
        if name == "select_n":
            pred = eqn.inputs[0]
            pidx = idx if pred.aval.shape == out.aval.shape else self.scalar_idx()
            args = [self.value(pred, pidx)] + [self.value(x, idx) for x in eqn.inputs[1:]]
        else:
            args = [self.value(x, idx) for x in eqn.inputs]
        return _EW_RULES[name](self, eqn, args)

    # -- conversion
    def convert(self, v, src, dst):
        b = self.b
        src, dst = np.dtype(src), np.dtype(dst)
        if src == dst:
            return v
        ts, td = vty(src), vty(dst)
        if _is_bool(dst):
            if _is_float(src):
                return b.fcmp_unordered("!=", v, ir.Constant(ts, 0.0))
            return b.icmp_unsigned("!=", v, ir.Constant(ts, 0))
        if _is_bool(src):
            return b.uitofp(v, td) if _is_float(dst) else b.zext(v, td)
        if _is_float(src) and _is_float(dst):
            return b.fpext(v, td) if isinstance(td, ir.DoubleType) else b.fptrunc(v, td)
        if _is_float(src):
            which = "fptosi" if _is_signed(dst) else "fptoui"
            fname = (
                f"llvm.{which}.sat.i{td.width}.{'f64' if isinstance(ts, ir.DoubleType) else 'f32'}"
            )
            return b.call(self.cg.intrinsic(fname, td, [ts]), [v])
        if _is_float(dst):
            return b.sitofp(v, td) if _is_signed(src) else b.uitofp(v, td)
        if td.width < ts.width:
            return b.trunc(v, td)
        if td.width > ts.width:
            return b.sext(v, td) if _is_signed(src) else b.zext(v, td)
        return v

    def index_value(self, v, dtype):
        """An integer index value (any int dtype) as i64."""
        dtype = np.dtype(dtype)
        t = vty(dtype)
        if t.width == 64:
            return v
        return self.b.sext(v, I64) if _is_signed(dtype) else self.b.zext(v, I64)

    def clamp_i64(self, v, lo, hi):
        b = self.b
        v = b.select(b.icmp_signed("<", v, self.c64(lo)), self.c64(lo), v)
        return b.select(b.icmp_signed(">", v, self.c64(hi)), self.c64(hi), v)

    def fintr(self, name, v, *more):
        t = v.type
        suffix = "f64" if isinstance(t, ir.DoubleType) else "f32"
        fn = self.cg.intrinsic(f"llvm.{name}.{suffix}", t, [t] * (1 + len(more)))
        return self.b.call(fn, [v, *more])


# --------------------------------------------------------------------------- elementwise rules


def _dt(eqn, i=0):
    return eqn.inputs[i].aval.dtype


def _arith(fop, iop):
    def rule(e, eqn, args):
        b = e.b
        if _is_float(_dt(eqn)):
            return getattr(b, fop)(*args, flags=FLOAT_FLAGS)
        return getattr(b, iop)(*args)

    return rule


def _neg(e, eqn, args):
    (x,) = args
    if _is_float(_dt(eqn)):
        return e.b.fneg(x, flags=FLOAT_FLAGS)
    return e.b.sub(ir.Constant(x.type, 0), x)


def _abs(e, eqn, args):
    (x,) = args
    if _is_float(_dt(eqn)):
        return e.fintr("fabs", x)
    if not _is_signed(_dt(eqn)):
        return x
    b = e.b
    return b.select(
        b.icmp_signed("<", x, ir.Constant(x.type, 0)), b.sub(ir.Constant(x.type, 0), x), x
    )


def _sign(e, eqn, args):
    (x,) = args
    b = e.b
    dt = _dt(eqn)
    t = x.type
    if _is_float(dt):
        one, mone = ir.Constant(t, 1.0), ir.Constant(t, -1.0)
        r = b.select(b.fcmp_ordered("<", x, ir.Constant(t, 0.0)), mone, x)
        return b.select(b.fcmp_ordered(">", x, ir.Constant(t, 0.0)), one, r)
    zero = ir.Constant(t, 0)
    if _is_signed(dt):
        r = b.select(b.icmp_signed("<", x, zero), ir.Constant(t, -1), zero)
        return b.select(b.icmp_signed(">", x, zero), ir.Constant(t, 1), r)
    return b.select(b.icmp_unsigned(">", x, zero), ir.Constant(t, 1), zero)


def _div(e, eqn, args):
    x, y = args
    b = e.b
    dt = _dt(eqn)
    if _is_float(dt):
        return b.fdiv(x, y, flags=FLOAT_FLAGS)
    t = x.type
    zero, one = ir.Constant(t, 0), ir.Constant(t, 1)
    is_zero = b.icmp_unsigned("==", y, zero)
    safe = b.select(is_zero, one, y)
    if _is_signed(dt):
        # x / -1 is -x (wrapping), which sdiv would make undefined for INT_MIN.
        q = b.sdiv(x, b.select(b.icmp_signed("==", safe, ir.Constant(t, -1)), one, safe))
        q = b.select(b.icmp_signed("==", y, ir.Constant(t, -1)), b.sub(zero, x), q)
    else:
        q = b.udiv(x, safe)
    return b.select(is_zero, zero, q)


def _rem(e, eqn, args):
    x, y = args
    b = e.b
    dt = _dt(eqn)
    if _is_float(dt):
        # frem is exact (it may call fmod on some targets; rem is rare in hot loops).
        return b.frem(x, y)
    t = x.type
    zero, one = ir.Constant(t, 0), ir.Constant(t, 1)
    bad = b.icmp_unsigned("==", y, zero)
    if _is_signed(dt):
        bad = b.or_(bad, b.icmp_signed("==", y, ir.Constant(t, -1)))
        r = b.srem(x, b.select(bad, one, y))
    else:
        r = b.urem(x, b.select(bad, one, y))
    return b.select(bad, zero, r)


def _minmax(is_max):
    def rule(e, eqn, args):
        x, y = args
        b = e.b
        dt = _dt(eqn)
        if _is_float(dt):
            return e.fintr("maximum" if is_max else "minimum", x, y)
        if _is_bool(dt):
            return b.or_(x, y) if is_max else b.and_(x, y)
        cmp = b.icmp_signed if _is_signed(dt) else b.icmp_unsigned
        return b.select(cmp(">" if is_max else "<", x, y), x, y)

    return rule


def _compare(op):
    fops = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}

    def rule(e, eqn, args):
        x, y = args
        b = e.b
        dt = _dt(eqn)
        o = fops[op]
        if _is_float(dt):
            if op == "ne":
                return b.fcmp_unordered("!=", x, y)
            return b.fcmp_ordered(o, x, y)
        if _is_signed(dt):
            return b.icmp_signed(o, x, y)
        return b.icmp_unsigned(o, x, y)

    return rule


def _bitwise(op):
    def rule(e, eqn, args):
        return getattr(e.b, op)(*args)

    return rule


def _not(e, eqn, args):
    (x,) = args
    return e.b.xor(x, ir.Constant(x.type, -1 if x.type.width > 1 else 1))


def _round(e, eqn, args):
    (x,) = args
    b = e.b
    if eqn.params.get("rounding_method", 0) == 1:
        return e.fintr("rint", x)
    t = x.type
    r = e.fintr("trunc", x)
    frac = e.fintr("fabs", b.fsub(x, r))
    away = b.fadd(r, _sign(e, eqn, [x]))
    return b.select(b.fcmp_ordered(">=", frac, ir.Constant(t, 0.5)), away, r)


def _is_finite(e, eqn, args):
    (x,) = args
    return e.b.fcmp_ordered("<", e.fintr("fabs", x), ir.Constant(x.type, float("inf")))


def _rsqrt(e, eqn, args):
    (x,) = args
    return e.b.fdiv(ir.Constant(x.type, 1.0), e.fintr("sqrt", x))


def _integer_pow(e, eqn, args):
    (x,) = args
    y = eqn.params["y"]
    b = e.b
    isf = _is_float(_dt(eqn))
    mul = (lambda a, c: b.fmul(a, c)) if isf else (lambda a, c: b.mul(a, c))
    if y == 0:
        return ir.Constant(x.type, 1.0 if isf else 1)
    # the same multiplication order as the reference (repeated squaring)
    acc, base, n = None, x, abs(y)
    while n:
        if n & 1:
            acc = base if acc is None else mul(acc, base)
        n >>= 1
        if n:
            base = mul(base, base)
    if y < 0:
        return b.fdiv(ir.Constant(x.type, 1.0), acc)
    return acc


def _shift_ok(e, eqn, y):
    b = e.b
    nbits = y.type.width
    if _is_signed(_dt(eqn, 1)):
        ok = b.and_(
            b.icmp_signed(">=", y, ir.Constant(y.type, 0)),
            b.icmp_signed("<", y, ir.Constant(y.type, nbits)),
        )
    else:
        ok = b.icmp_unsigned("<", y, ir.Constant(y.type, nbits))
    return ok, b.select(ok, y, ir.Constant(y.type, 0))


def _shift_left(e, eqn, args):
    x, y = args
    ok, s = _shift_ok(e, eqn, y)
    return e.b.select(ok, e.b.shl(x, s), ir.Constant(x.type, 0))


def _shift_right_logical(e, eqn, args):
    x, y = args
    ok, s = _shift_ok(e, eqn, y)
    return e.b.select(ok, e.b.lshr(x, s), ir.Constant(x.type, 0))


def _shift_right_arithmetic(e, eqn, args):
    x, y = args
    ok, s = _shift_ok(e, eqn, y)
    s = e.b.select(ok, s, ir.Constant(y.type, y.type.width - 1))
    return e.b.ashr(x, s)


def _clz(e, eqn, args):
    (x,) = args
    t = x.type
    fn = e.cg.intrinsic(f"llvm.ctlz.i{t.width}", t, [t, I1])
    return e.b.call(fn, [x, ir.Constant(I1, 0)])


def _fma(e, eqn, args):
    return e.fintr("fma", *args)


def _nextafter(e, eqn, args):
    x, y = args
    b = e.b
    t = x.type
    it = ir.IntType(64 if isinstance(t, ir.DoubleType) else 32)
    bits = b.bitcast(x, it)
    up = b.fcmp_ordered("<", x, y)
    pos = b.fcmp_ordered(">", x, ir.Constant(t, 0.0))
    step = b.select(b.icmp_unsigned("==", up, pos), ir.Constant(it, 1), ir.Constant(it, -1))
    r = b.bitcast(b.add(bits, step), t)
    tiny = b.bitcast(ir.Constant(it, 1), t)
    from_zero = b.select(b.fcmp_ordered("<", y, ir.Constant(t, 0.0)), b.fneg(tiny), tiny)
    r = b.select(b.fcmp_ordered("==", x, ir.Constant(t, 0.0)), from_zero, r)
    r = b.select(b.fcmp_ordered("==", x, y), y, r)
    return b.select(b.fcmp_unordered("uno", x, y), b.fadd(x, y), r)


def _bitcast(e, eqn, args):
    return e.b.bitcast(args[0], vty(eqn.outputs[0].aval.dtype))


def _select(e, eqn, args):
    pred, *cases = args
    b = e.b
    if len(cases) == 2 and pred.type == I1:
        return b.select(pred, cases[1], cases[0])
    r = cases[0]
    for k in range(1, len(cases)):
        r = b.select(b.icmp_unsigned("==", pred, ir.Constant(pred.type, k)), cases[k], r)
    return r


def _convert_rule(e, eqn, args):
    return e.convert(args[0], _dt(eqn), eqn.outputs[0].aval.dtype)


def _math(name):
    def rule(e, eqn, args):
        fn = mathlib.UNARY.get(name) or mathlib.BINARY[name]
        return fn(e.b, *args)

    return rule


_EW_RULES = {
    "add": _arith("fadd", "add"),
    "sub": _arith("fsub", "sub"),
    "mul": _arith("fmul", "mul"),
    "div": _div,
    "rem": _rem,
    "neg": _neg,
    "abs": _abs,
    "sign": _sign,
    "max": _minmax(True),
    "min": _minmax(False),
    "and": _bitwise("and_"),
    "or": _bitwise("or_"),
    "xor": _bitwise("xor"),
    "not": _not,
    "floor": lambda e, eqn, a: e.fintr("floor", a[0]),
    "ceil": lambda e, eqn, a: e.fintr("ceil", a[0]),
    "round": _round,
    "is_finite": _is_finite,
    "sqrt": lambda e, eqn, a: e.fintr("sqrt", a[0]),
    "rsqrt": _rsqrt,
    "integer_pow": _integer_pow,
    "select_n": _select,
    "convert_element_type": _convert_rule,
    "shift_left": _shift_left,
    "shift_right_logical": _shift_right_logical,
    "shift_right_arithmetic": _shift_right_arithmetic,
    "clz": _clz,
    "fma": _fma,
    "nextafter": _nextafter,
    "bitcast_convert_type": _bitcast,
}
for _op in ("eq", "ne", "lt", "le", "gt", "ge"):
    _EW_RULES[_op] = _compare(_op)
for _name in list(mathlib.UNARY) + list(mathlib.BINARY):
    _EW_RULES[_name] = _math(_name)


# --------------------------------------------------------------------------- view rules


def _v_broadcast(e, eqn, idx):
    x = eqn.inputs[0]
    if type(x) is Literal or x.aval.ndim == 0:
        return e.value(x, e.scalar_idx())
    m = e.unravel(idx)
    child = [
        e.c64(0) if od == 1 else m[d]
        for od, d in zip(x.aval.shape, eqn.params["broadcast_dimensions"])
    ]
    return e.value(x, Idx(x.aval.shape, multi=child))


def _v_reshape(e, eqn, idx):
    x = eqn.inputs[0]
    if type(x) is Literal:
        return e.value(x, e.scalar_idx())
    xs = x.aval.shape
    # size-1 dims only: map the index directly, without raveling
    if idx.multi is not None and [s for s in xs if s != 1] == [s for s in idx.shape if s != 1]:
        vals = iter([v for v, s in zip(idx.multi, idx.shape) if s != 1])
        child = [e.c64(0) if s == 1 else next(vals) for s in xs]
        return e.value(x, Idx(xs, multi=child))
    return e.value(x, Idx(xs, flat=e.ravel(idx)))


def _v_transpose(e, eqn, idx):
    x = eqn.inputs[0]
    perm = eqn.params["permutation"]
    m = e.unravel(idx)
    child = [None] * len(perm)
    for j, p in enumerate(perm):
        child[p] = m[j]
    return e.value(x, Idx(x.aval.shape, multi=child))


def _v_slice(e, eqn, idx):
    x = eqn.inputs[0]
    b = e.b
    m = e.unravel(idx)
    child = []
    for v, lo, st in zip(m, eqn.params["start_indices"], eqn.params["strides"]):
        if st != 1:
            v = b.mul(v, e.c64(st), flags=("nuw", "nsw"))
        if lo:
            v = b.add(v, e.c64(lo), flags=("nuw", "nsw"))
        child.append(v)
    return e.value(x, Idx(x.aval.shape, multi=child))


def _v_rev(e, eqn, idx):
    x = eqn.inputs[0]
    dims = set(eqn.params["dimensions"])
    m = e.unravel(idx)
    child = [
        e.b.sub(e.c64(n - 1), v) if d in dims else v
        for d, (v, n) in enumerate(zip(m, x.aval.shape))
    ]
    return e.value(x, Idx(x.aval.shape, multi=child))


def _v_iota(e, eqn, idx):
    p = eqn.params
    d = p["dimension"]
    if idx.multi is None and len(idx.shape) == 1:
        v = idx.flat
    else:
        v = e.unravel(idx)[d]
    return e.convert(v, np.int64, p["dtype"])


def _v_pad(e, eqn, idx):
    x, padval = eqn.inputs
    b = e.b
    pv = e.value(padval, e.scalar_idx())
    if x.aval.size == 0:
        return pv
    m = e.unravel(idx)
    child, ok = [], None
    for v, n, (lo, _hi, interior) in zip(m, x.aval.shape, eqn.params["padding_config"]):
        j = b.sub(v, e.c64(lo))
        good = b.icmp_signed(">=", j, e.c64(0))
        if interior:
            step = e.c64(interior + 1)
            good = b.and_(good, b.icmp_signed("==", b.srem(j, step), e.c64(0)))
            j = b.sdiv(j, step)
        good = b.and_(good, b.icmp_signed("<", j, e.c64(n)))
        child.append(e.clamp_i64(j, 0, n - 1))
        ok = good if ok is None else b.and_(ok, good)
    xv = e.value(x, Idx(x.aval.shape, multi=child))
    return xv if ok is None else b.select(ok, xv, pv)


def _v_concat(e, eqn, idx):
    d = eqn.params["dimension"]
    b = e.b
    m = e.unravel(idx)
    result = None
    off = 0
    for x in eqn.inputs:
        n = x.aval.shape[d]
        if n == 0:
            continue
        rel = b.sub(m[d], e.c64(off)) if off else m[d]
        child = list(m)
        child[d] = e.clamp_i64(rel, 0, n - 1)
        v = e.value(x, Idx(x.aval.shape, multi=child))
        if result is None:
            result = v
        else:
            result = b.select(b.icmp_signed(">=", m[d], e.c64(off)), v, result)
        off += n
    return result


def _starts(e, atoms, shape, sizes):
    out = []
    for s, d, z in zip(atoms, shape, sizes):
        v = e.index_value(e.value(s, e.scalar_idx()), s.aval.dtype)
        out.append(e.clamp_i64(v, 0, max(d - z, 0)))
    return out


def _v_dynamic_slice(e, eqn, idx):
    x, *starts = eqn.inputs
    sizes = eqn.params["slice_sizes"]
    st = _starts(e, starts, x.aval.shape, sizes)
    m = e.unravel(idx)
    child = [e.b.add(v, s) for v, s in zip(m, st)]
    return e.value(x, Idx(x.aval.shape, multi=child))


def _v_dynamic_update_slice(e, eqn, idx):
    x, upd, *starts = eqn.inputs
    b = e.b
    us = upd.aval.shape
    xv = e.value(x, idx)
    if upd.aval.size == 0:
        return xv
    st = _starts(e, starts, x.aval.shape, us)
    m = e.unravel(idx)
    inwin, child = None, []
    for v, s, n in zip(m, st, us):
        rel = b.sub(v, s)
        good = b.and_(b.icmp_signed(">=", rel, e.c64(0)), b.icmp_signed("<", rel, e.c64(n)))
        inwin = good if inwin is None else b.and_(inwin, good)
        child.append(e.clamp_i64(rel, 0, n - 1))
    uv = e.value(upd, Idx(us, multi=child))
    return xv if inwin is None else b.select(inwin, uv, xv)


def _v_gather(e, eqn, idx):
    x, *indices = eqn.inputs
    mode = eqn.params["mode"]
    b = e.b
    k = len(indices)
    ishape = indices[0].aval.shape
    m = e.unravel(idx)
    p, t = m[: len(ishape)], m[len(ishape) :]
    pidx = Idx(ishape, multi=p)
    child, ok = [], None
    for j, ind in enumerate(indices):
        d = x.aval.shape[j]
        v = e.index_value(e.value(ind, pidx), ind.aval.dtype)
        if mode == "fill":
            good = b.and_(b.icmp_signed(">=", v, e.c64(0)), b.icmp_signed("<", v, e.c64(d)))
            ok = good if ok is None else b.and_(ok, good)
        child.append(e.clamp_i64(v, 0, d - 1))
    xv = e.value(x, Idx(x.aval.shape, multi=child + t))
    if ok is None:
        return xv
    fv = eqn.params["fill_value"]
    dt = x.aval.dtype
    if fv is None:
        fv = np.nan if _is_float(dt) else (True if _is_bool(dt) else np.iinfo(dt).min)
    del k
    return b.select(ok, xv, e.const(fv, dt))


def _v_im2col(e, eqn, idx):
    """Patch (n, *out_pos, *tap, c) of a convolution input: the input element under tap
    ``k`` of output position ``o`` after dilating and padding the input (0 outside)."""
    (x,) = eqn.inputs
    p = eqn.params
    b = e.b
    xs = x.aval.shape
    ns = len(xs) - 2
    m = e.unravel(idx)
    child, ok = [m[0]], None
    for i in range(ns):
        o, k = m[1 + i], m[1 + ns + i]
        st, rd, ld = p["window_strides"][i], p["rhs_dilation"][i], p["lhs_dilation"][i]
        lo = p["padding"][i][0]
        pos = b.add(b.mul(o, e.c64(st)) if st != 1 else o, b.mul(k, e.c64(rd)) if rd != 1 else k)
        j = b.sub(pos, e.c64(lo)) if lo else pos
        good = b.icmp_signed(">=", j, e.c64(0))
        if ld != 1:
            good = b.and_(good, b.icmp_signed("==", b.srem(j, e.c64(ld)), e.c64(0)))
            j = b.sdiv(j, e.c64(ld))
        good = b.and_(good, b.icmp_signed("<", j, e.c64(xs[1 + i])))
        ok = good if ok is None else b.and_(ok, good)
        child.append(e.clamp_i64(j, 0, xs[1 + i] - 1))
    child.append(m[-1])
    v = e.value(x, Idx(xs, multi=child))
    if ok is None:
        return v
    return b.select(ok, v, ir.Constant(v.type, 0.0))


_VIEW_RULES = {
    "im2col": _v_im2col,
    "broadcast_in_dim": _v_broadcast,
    "reshape": _v_reshape,
    "transpose": _v_transpose,
    "slice": _v_slice,
    "rev": _v_rev,
    "iota": _v_iota,
    "pad": _v_pad,
    "concatenate": _v_concat,
    "dynamic_slice": _v_dynamic_slice,
    "dynamic_update_slice": _v_dynamic_update_slice,
    "gather": _v_gather,
}


# --------------------------------------------------------------------------- kernels


def _loop_kernel(e: Emitter, step):
    shape = step.shape
    n = int(np.prod(shape, dtype=np.int64))
    if n == 0:
        return
    e.roots = set(step.roots)
    stores = set(step.stores)
    # Every root of an iteration is computed before any is stored: a root may be written in
    # place over a buffer that a later root of the same iteration still reads.
    if step.flat or len(shape) <= 1:
        with e.loop(n, split=True) as i:
            idx = Idx(shape, flat=i) if shape else e.scalar_idx()
            vals = [(r, e.value(r, idx)) for r in step.roots]
            for r, v in vals:
                if r in stores:
                    e.store_at(r, i, v)
    else:
        with e.loops(shape, split=True) as ivs:
            idx = Idx(shape, multi=ivs)
            vals = [(r, e.value(r, idx)) for r in step.roots]
            off = e.ravel(idx)
            for r, v in vals:
                if r in stores:
                    e.store_at(r, off, v)


def _identity(name, dtype):
    dtype = np.dtype(dtype)
    if name in ("reduce_sum", "reduce_or"):
        return 0
    if name in ("reduce_prod", "reduce_and"):
        return 1
    if name == "reduce_max":
        if _is_float(dtype):
            return -np.inf
        return 0 if _is_bool(dtype) else np.iinfo(dtype).min
    if name == "reduce_min":
        if _is_float(dtype):
            return np.inf
        return 1 if _is_bool(dtype) else np.iinfo(dtype).max
    raise ValueError(name)


def _combine(e: Emitter, name, dtype, acc, v):
    b = e.b
    isf = _is_float(dtype)
    if name == "reduce_sum":
        return b.fadd(acc, v, flags=ACC_FLAGS) if isf else b.add(acc, v)
    if name == "reduce_prod":
        return b.fmul(acc, v, flags=ACC_FLAGS) if isf else b.mul(acc, v)
    if name in ("reduce_and",):
        return b.and_(acc, v)
    if name in ("reduce_or",):
        return b.or_(acc, v)
    is_max = name == "reduce_max"
    if isf:
        return e.fintr("maximum" if is_max else "minimum", acc, v)
    if _is_bool(dtype):
        return b.or_(acc, v) if is_max else b.and_(acc, v)
    op = ("s" if _is_signed(dtype) else "u") + ("max" if is_max else "min")
    t = acc.type
    fn = e.cg.intrinsic(f"llvm.{op}.i{t.width}", t, [t, t])
    return b.call(fn, [acc, v])


def _collapse(shape, reduced):
    """Merge neighbouring dims of the same kind: (collapsed shape, kinds)."""
    cs, ck = [], []
    for s, r in zip(shape, reduced):
        if s == 1:
            continue
        if ck and ck[-1] == r:
            cs[-1] *= s
        else:
            cs.append(s)
            ck.append(r)
    return cs, ck


def _reduce_kernel(e: Emitter, step):
    from .fusion import _needs_multi

    eqn = step.eqn
    name = eqn.prim.name
    x = eqn.inputs[0]
    out = eqn.outputs[0]
    S = x.aval.shape
    axes = set(eqn.params["axes"])
    n_out = out.aval.size
    if n_out == 0:
        return
    e.roots = {out}
    in_size = x.aval.size
    dtype = x.aval.dtype
    if name in ("argmax", "argmin"):
        return _arg_kernel(e, step)
    b = e.b
    if in_size == 0:
        ident = e.const(_identity(name, dtype), dtype)
        with e.loop(n_out, split=True) as i:
            e.store_at(out, i, ident)
        return
    flat = not _needs_multi(e.plan, x) if x in e.plan.defs and x not in e.plan.mat else True
    reduced = [d in axes for d in range(len(S))]
    if flat:
        C, K = _collapse(S, reduced)
    else:
        C, K = list(S), reduced
    if not C:  # everything has size 1
        C, K = [1], [True]

    def operand(cidx):
        if flat:
            lin = Idx(tuple(C), multi=cidx)
            return e.value(x, Idx(S, flat=e.ravel(lin)))
        return e.value(x, Idx(S, multi=cidx))

    kept_pos = [i for i, k in enumerate(K) if not k]
    red_pos = [i for i, k in enumerate(K) if k]
    kept_shape = [C[i] for i in kept_pos]
    ident = e.const(_identity(name, dtype), dtype)
    if K[-1]:
        # reduced axes innermost: accumulate in a register for each output element
        with e.goto_entry_alloca(vty(dtype)) as acc:
            pass
        with e.loops(kept_shape, split=True) as kv:
            b.store(ident, acc)
            with e.loops([C[i] for i in red_pos]) as rv:
                cidx = [None] * len(C)
                for p, v in zip(kept_pos, kv):
                    cidx[p] = v
                for p, v in zip(red_pos, rv):
                    cidx[p] = v
                e.memo = {}
                val = operand(cidx)
                b.store(_combine(e, name, dtype, b.load(acc), val), acc)
            oidx = e.ravel(Idx(tuple(kept_shape), multi=kv)) if kept_shape else e.c64(0)
            e.store_at(out, oidx, b.load(acc))
    else:
        # a kept axis innermost: accumulate into the output row by row (vectorizes over it)
        with e.loop(n_out) as i:
            e.store_at(out, i, ident)
        with e.loops(C) as cv:
            e.memo = {}
            kv = [cv[p] for p in kept_pos]
            oidx = e.ravel(Idx(tuple(kept_shape), multi=kv))
            val = operand(list(cv))
            cur = e.load_at(out, oidx)
            e.store_at(out, oidx, _combine(e, name, dtype, cur, val))


def _row_kernel(e: Emitter, step):
    S = step.in_shape
    if int(np.prod(S, dtype=np.int64)) == 0:
        return
    kept, axes = step.kept, step.axes
    stores = set(step.stores)
    e.roots = set(step.vars())
    b = e.b
    kept_shape = [S[d] for d in kept]
    red_shape = [S[d] for d in axes]
    with e.loops(kept_shape, split=True) as kv:
        e.memo = {}
        kv_nonunit = [v for v, d in zip(kv, kept) if S[d] != 1]

        def row_idx(var):
            it = iter(kv_nonunit)
            return Idx(
                var.aval.shape, multi=[e.c64(0) if sz == 1 else next(it) for sz in var.aval.shape]
            )

        for kind, var in step.phases:
            if kind == "row":
                idx = row_idx(var)
                v = e.value(var, idx)
                if var in stores:
                    e.store_at(var, e.ravel(idx), v)
                continue
            saved = dict(e.memo)
            if kind == "reduce":
                eqn = e.plan.defs[var]
                name, x = eqn.prim.name, eqn.inputs[0]
                dtype = x.aval.dtype
                with e.goto_entry_alloca(vty(dtype)) as acc:
                    pass
                b.store(e.const(_identity(name, dtype), dtype), acc)
            with e.loops(red_shape) as rv:
                e.memo = dict(saved)
                m = [None] * len(S)
                for p, v in zip(kept, kv):
                    m[p] = v
                for p, v in zip(axes, rv):
                    m[p] = v
                full = Idx(S, multi=m)
                if kind == "reduce":
                    val = e.value(x, full)
                    b.store(_combine(e, name, dtype, b.load(acc), val), acc)
                else:
                    v = e.value(var, full)
                    if var in stores:
                        e.store_at(var, e.ravel(full), v)
            e.memo = saved
            if kind == "reduce":
                idx = row_idx(var)
                res = b.load(acc)
                e.memo[(var, idx.key)] = res
                if var in stores:
                    e.store_at(var, e.ravel(idx), res)


def _arg_kernel(e: Emitter, step):
    eqn = step.eqn
    x = eqn.inputs[0]
    out = eqn.outputs[0]
    S = x.aval.shape
    (axis,) = eqn.params["axes"]
    dtype = x.aval.dtype
    idt = np.dtype(eqn.params["index_dtype"])
    b = e.b
    is_max = eqn.prim.name == "argmax"
    kept = [d for d in range(len(S)) if d != axis]
    kept_shape = [S[d] for d in kept]
    with e.goto_entry_alloca(vty(dtype)) as accv:
        pass
    with e.goto_entry_alloca(I64) as acci:
        pass
    start = _identity("reduce_max" if is_max else "reduce_min", dtype)
    with e.loops(kept_shape, split=True) as kv:
        b.store(e.const(start, dtype), accv)
        b.store(e.c64(0), acci)
        with e.loop(S[axis]) as r:
            m = [None] * len(S)
            for d, v in zip(kept, kv):
                m[d] = v
            m[axis] = r
            e.memo = {}
            v = e.value(x, Idx(S, multi=m))
            a = b.load(accv)
            if _is_float(dtype):
                better = b.fcmp_ordered(">" if is_max else "<", v, a)
                nan_new = b.and_(b.fcmp_unordered("uno", v, v), b.fcmp_ordered("ord", a, a))
                take = b.or_(better, nan_new)
            elif _is_signed(dtype):
                take = b.icmp_signed(">" if is_max else "<", v, a)
            else:
                take = b.icmp_unsigned(">" if is_max else "<", v, a)
            b.store(b.select(take, v, a), accv)
            b.store(b.select(take, r, b.load(acci)), acci)
        oidx = e.ravel(Idx(tuple(kept_shape), multi=kv)) if kept_shape else e.c64(0)
        e.store_at(out, oidx, e.convert(b.load(acci), np.int64, idt))


def _gemm_kernel(e: Emitter, step):
    L = step.layout
    batch, m, n, k = L["batch"], L["m"], L["n"], L["k"]
    out = step.out
    if batch * m * n == 0:
        return
    dt = L["dtype"]
    ft = vty(dt)
    b = e.b
    if k == 0:
        with e.loop(batch * m * n) as i:
            e.store_at(out, i, ir.Constant(ft, 0.0))
        return
    sym = "derivax_sgemm" if dt == np.float32 else "derivax_dgemm"
    fp = ft.as_pointer()
    fn = e.cg.external(sym, VOID, [I32, I32, I32, I32, I32, I32, ft, fp, I32, fp, I32, ft, fp, I32])
    a_ptr, b_ptr, c_ptr = e.ptr(step.lhs), e.ptr(step.rhs), e.ptr(out)

    def i32(v):
        return ir.Constant(I32, int(v))

    # The thread count is set before every product (about a microsecond here): small
    # products stay on one core, large ones use all (engine.gemm_threads).
    threads = engine.gemm_threads(2 * batch * m * n * k)
    set_threads = e.cg.external("derivax_blas_threads", VOID, [I32])
    b.call(set_threads, [i32(threads)])
    args_const = [
        i32(101),  # CblasRowMajor
        i32(112 if L["trans_a"] else 111),
        i32(112 if L["trans_b"] else 111),
        i32(m),
        i32(n),
        i32(k),
        ir.Constant(ft, float(step.alpha)),
    ]
    with e.loop(batch) as bi:
        pa = b.gep(a_ptr, [b.mul(bi, e.c64(m * k))], inbounds=True)
        pb = b.gep(b_ptr, [b.mul(bi, e.c64(k * n))], inbounds=True)
        pc = b.gep(c_ptr, [b.mul(bi, e.c64(m * n))], inbounds=True)
        b.call(
            fn,
            args_const + [pa, i32(L["lda"]), pb, i32(L["ldb"]), ir.Constant(ft, 0.0), pc, i32(n)],
        )


def _scatter_kernel(e: Emitter, step):
    eqn = step.eqn
    x, *rest = eqn.inputs
    *indices, upd = rest
    out = eqn.outputs[0]
    plan = e.plan
    combine = eqn.params["combine"]
    mode = eqn.params["mode"]
    b = e.b
    dtype = x.aval.dtype
    in_place = plan.buffer(out) is plan.buffer(x)
    total = x.aval.size
    if not in_place and total:
        with e.loop(total) as i:
            e.store_at(out, i, e.load_at(x, i))
    if total == 0 or upd.aval.size == 0:
        return
    k = len(indices)
    ishape = indices[0].aval.shape
    P = int(np.prod(ishape, dtype=np.int64))
    T = int(np.prod(x.aval.shape[k:], dtype=np.int64))
    xstrides = _strides(x.aval.shape)
    drop = mode in ("drop", "fill")
    with e.loop(P) as p:
        off = None
        ok = None
        for j, ind in enumerate(indices):
            d = x.aval.shape[j]
            v = e.index_value(e.load_at(ind, p), ind.aval.dtype)
            if drop:
                good = b.and_(b.icmp_signed(">=", v, e.c64(0)), b.icmp_signed("<", v, e.c64(d)))
                ok = good if ok is None else b.and_(ok, good)
            v = e.clamp_i64(v, 0, d - 1)
            term = b.mul(v, e.c64(xstrides[j]))
            off = term if off is None else b.add(off, term)
        body_ctx = b.if_then(ok) if ok is not None else contextlib.nullcontext()
        with body_ctx:
            ubase = b.mul(p, e.c64(T))
            with e.loop(T) as t:
                o = b.add(off, t)
                u = e.load_at(upd, b.add(ubase, t))
                if combine == "set":
                    newv = u
                else:
                    cur = e.load_at(out, o)
                    newv = _scatter_combine(e, combine, dtype, cur, u)
                e.store_at(out, o, newv)


def _scatter_combine(e, combine, dtype, cur, u):
    b = e.b
    isf = _is_float(dtype)
    if combine == "add":
        return b.fadd(cur, u) if isf else b.add(cur, u)
    if combine == "mul":
        return b.fmul(cur, u) if isf else b.mul(cur, u)
    is_max = combine == "max"
    if isf:
        return e.fintr("maximum" if is_max else "minimum", cur, u)
    cmp = b.icmp_signed if _is_signed(dtype) else b.icmp_unsigned
    return (
        b.select(cmp(">" if is_max else "<", cur, u), cur, u)
        if is_max
        else b.select(cmp("<", cur, u), cur, u)
    )


# --------------------------------------------------------------------------- module


class ModuleBuilder:
    """Builds the LLVM module of a plan: kernels, segment entries, declarations."""

    def __init__(self, plan, abi):
        self.plan = plan
        self.abi = abi  # (data offset, flags offset) of NumPy array objects
        self.module = ir.Module(name="derivax")
        self.module.triple, self.module.data_layout = engine.triple_and_layout()
        self.blas = set()
        self.exports = []

    def intrinsic(self, name, ret, args):
        fn = self.module.globals.get(name)
        if fn is None:
            fn = ir.Function(self.module, ir.FunctionType(ret, args), name=name)
        return fn

    def external(self, name, ret, args):
        self.blas.add(name)
        return self.intrinsic(name, ret, args)

    def kernel(self, k, step, plan=None):
        plan = self.plan if plan is None else plan
        keys = []
        bufs = {}
        for v, _ in step.reads():
            bb = plan.buffer(v)
            bufs.setdefault(bb.key(), bb)
        for v in _step_buffers(step):
            bb = plan.buffer(v)
            bufs.setdefault(bb.key(), bb)
        keys = list(bufs)
        parts = getattr(step, "threads", 1) > 1
        args = [I8P] * len(keys) + ([I64, I64] if parts else [])
        fn = ir.Function(self.module, ir.FunctionType(VOID, args), name=f"k{k}")
        fn.linkage = "internal"
        for a in fn.args[: len(keys)]:
            a.add_attribute("noalias")
        e = Emitter(self, fn, plan, dict(zip(keys, fn.args)))
        if parts:
            e.split = (fn.args[-2], fn.args[-1])
        kind = type(step).__name__
        from . import sortscan, windows

        {
            "LoopStep": _loop_kernel,
            "ReduceStep": _reduce_kernel,
            "RowStep": _row_kernel,
            "GemmStep": _gemm_kernel,
            "ScatterStep": _scatter_kernel,
            "CumStep": sortscan.cum_kernel,
            "SortStep": sortscan.sort_kernel,
            "WindowReduceStep": windows.reduce_kernel,
            "SelectStep": windows.select_kernel,
        }[kind](e, step)
        e.b.ret_void()
        fn.split_extent = e.split_extent if parts else None
        fn.parts = parts
        return fn, keys

    def build(self):
        plan = self.plan
        segs = plan.segments()
        native_segs = [s for s in segs if isinstance(s, list)]
        single = len(segs) == 1 and native_segs
        names = ["entry"] if single else [f"seg{i}" for i in range(len(native_segs))]
        self._kcount = 0
        for si, seg in enumerate(native_segs):
            self._segment(names[si], seg, check_inputs=si == 0, all_native=native_segs)
            self.exports.append(names[si])
        return self.module

    def _segment(self, name, seg, check_inputs, all_native):
        """``i32 name(i8** slots)``: buffer addresses, then every kernel of the segment."""
        plan = self.plan
        n_in = plan.n_in
        ws_slot = n_in + len(plan.out_buffers)
        data_off, flags_off = self.abi
        fn = ir.Function(self.module, ir.FunctionType(I32, [I8P.as_pointer()]), name=name)
        slots = fn.args[0]
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        ptr_cache = {}

        def slot(i):
            return b.load(b.gep(slots, [ir.Constant(I32, i)], inbounds=True), align=8)

        def array_field(obj, off, ty):
            p = b.gep(obj, [ir.Constant(I64, off)], inbounds=True)
            return b.load(b.bitcast(p, ty.as_pointer()), align=8 if ty is I8P else 4)

        if check_inputs:
            # refuse inputs that are not C-contiguous and aligned (status 1)
            used = sorted(
                {
                    bb.index
                    for st in (s for sg in all_native for s in sg)
                    for v, _ in st.reads()
                    if (bb := plan.buffer(v)).kind == "in"
                }
            )
            ok = None
            need = ir.Constant(I32, 0x1 | 0x100)  # NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED
            for i in used:
                fl = array_field(slot(i), flags_off, I32)
                good = b.icmp_unsigned("==", b.and_(fl, need), need)
                ok = good if ok is None else b.and_(ok, good)
            if ok is not None:
                bad_bb = fn.append_basic_block("bad")
                go_bb = fn.append_basic_block("go")
                b.cbranch(ok, go_bb, bad_bb)
                b.position_at_end(bad_bb)
                b.ret(ir.Constant(I32, 1))
                b.position_at_end(go_bb)

        self._slots, self._ws_slot = slots, ws_slot

        def pointer(buf):
            key = buf.key()
            p = ptr_cache.get(key)
            if p is not None:
                return p
            if buf.kind == "in":
                p = array_field(slot(buf.index), data_off, I8P)
            elif buf.kind == "out":
                p = array_field(slot(n_in + buf.index), data_off, I8P)
            elif buf.kind == "const":
                p = slot(ws_slot + 1 + buf.index)
            else:
                ws = ptr_cache.get("ws")
                if ws is None:
                    ws = ptr_cache["ws"] = slot(ws_slot)
                p = b.gep(ws, [ir.Constant(I64, buf.offset)], inbounds=True)
            ptr_cache[key] = p
            return p

        # every address is computed in the entry block: loops and branches of control steps
        # must not define a value that a later step reuses
        for st in seg:
            for v in [*(v for v, _ in st.reads()), *_step_buffers(st)]:
                pointer(plan.buffer(v))
            if getattr(st, "scratch", None) is not None:
                pointer(st.scratch)
        self.emit_steps(b, fn, plan, seg, pointer)
        b.ret(ir.Constant(I32, 0))

    def emit_steps(self, b, fn, plan, steps, pointer):
        """Call the kernels of ``steps`` (control steps become loops and branches)."""
        from . import control

        for st in steps:
            if isinstance(st, control.ControlStep):
                control.emit(self, b, fn, plan, st, pointer)
                continue
            kfn, keys = self.kernel(self._kcount, st, plan)
            self._kcount += 1
            args = [pointer(_buf_by_key(plan, k)) for k in keys]
            if kfn.split_extent is not None:
                parallel.call_in_parts(self, b, fn, kfn, args, kfn.split_extent, st.threads)
            elif kfn.parts:
                b.call(kfn, [*args, ir.Constant(I64, 0), ir.Constant(I64, 0)])
            else:
                b.call(kfn, args)

    def const_ptr(self, b, index):
        """The data pointer of program constant ``index`` (loaded from its slot)."""
        slot = b.gep(self._slots, [ir.Constant(I32, self._ws_slot + 1 + index)], inbounds=True)
        return b.load(slot, align=8)

    def memcpy(self, b, dst, src, nbytes):
        fn = self.intrinsic("llvm.memcpy.p0i8.p0i8.i64", VOID, [I8P, I8P, I64, I1])
        b.call(fn, [dst, src, ir.Constant(I64, int(nbytes)), ir.Constant(I1, 0)])


def _buf_by_key(plan, key):
    idx = plan.__dict__.get("_bykey")
    if idx is None:
        idx = plan._bykey = {b.key(): b for b in plan.buffers}
    return idx[key]


def _step_buffers(step):
    """Variables whose buffers a step writes (plus gemm operands)."""
    name = type(step).__name__
    if name == "GemmStep":
        return [step.lhs, step.rhs, step.out]
    if name == "ScatterStep":
        return [v for v in step.eqn.inputs if type(v) is Var] + [step.eqn.outputs[0]]
    if name == "ReduceStep":
        return [step.eqn.outputs[0]]
    if name == "ControlStep":
        return list(step.eqn.outputs)
    return list(step.stores)  # LoopStep, RowStep


def build_module(plan, abi):
    mb = ModuleBuilder(plan, abi)
    module = mb.build()
    return module, mb.exports, sorted(mb.blas)
