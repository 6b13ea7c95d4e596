"""Native kernels for the windowed reductions (``reduce_window_max``, ``reduce_window_min``,
``reduce_window_sum``) and the max-pool derivatives (``select_and_scatter_add``,
``select_and_gather_add``).

Each equation is a step of its own in the fusion plan: its operands and result live in
buffers (``fusion.plan_program`` materializes them) and the kernel walks them directly.

Window geometry. Output position ``o`` and window offset ``k`` (per dimension) meet the
padded, base-dilated operand at ``q = o * stride + k * window_dilation``; that position
holds operand element ``(q - low) / base_dilation`` when ``q - low`` is in range and a
multiple of the base dilation, else the reduction's identity (``-inf``/``+inf``/``0`` for
floats, the type's extremes for integers, as the reference pads). Bounds tests are only
emitted for dimensions that have padding or base dilation.

* ``WindowReduceStep``: every output element is an accumulator started at the identity
  (``-0.0`` for a float sum: the exact additive identity) and combined with the window's
  elements, holes included, in row-major window order: the order the reference evaluator
  uses, so results are bitwise equal (a sum rounds at the same places; ``max``/``min``
  keep NumPy's choice: the running value when it is NaN or strictly better, else the new
  element, which fixes the sign of tied zeros). The loops run: every output dimension but
  the last, then the window, then the last output dimension (innermost, so that the
  usual channels-last pooling walks contiguous memory and vectorizes); the accumulators
  are the output buffer itself. Windows of more than 256 elements are left to the
  reference evaluator (it reduces those with a NumPy reduction whose order differs).
* ``SelectStep``: for every window, the first maximum (minimum) in row-major window order
  is tracked as the reference does (a candidate is taken when strictly better than the
  running value; a NaN candidate is never taken but makes the running value NaN, so that
  nothing after it is taken). Holes take part with the identity value and a selected hole
  contributes nothing. ``select_and_gather_add`` reads the tangent there (``+0.0`` for a
  hole). ``select_and_scatter_add`` adds the window's source value there: the reference
  accumulates in float64, in row-major output order, then rounds to the result dtype, so
  when windows may overlap (a stride smaller than the dilated window) and the dtype is not
  float64, the kernel accumulates into a float64 scratch buffer in that order and
  converts at the end; otherwise every position receives at most one value, stored as
  ``0.0 + value`` computed in float64 (turning ``-0.0`` into ``0.0`` as the reference
  does).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir

from .._core import ShapedArray
from .._ir import Var
from . import fusion
from .codegen import F64, I1, _is_float, _is_signed, supported_dtype, vty

REDUCE_PRIMS = frozenset({"reduce_window_max", "reduce_window_min", "reduce_window_sum"})
SELECT_PRIMS = frozenset({"select_and_scatter_add", "select_and_gather_add"})
PRIMS = REDUCE_PRIMS | SELECT_PRIMS

_LOOP_LIMIT = 256  # the reference reduces larger windows with a NumPy reduction


# --------------------------------------------------------------------------- planning


def _geometry(eqn):
    p = eqn.params
    return (
        tuple(p["window_dimensions"]),
        tuple(p["window_strides"]),
        tuple(tuple(lh) for lh in p["padding"]),
        tuple(p["base_dilation"]),
        tuple(p["window_dilation"]),
    )


def _kind(eqn):
    name = eqn.prim.name
    if name in REDUCE_PRIMS:
        return name.rsplit("_", 1)[1]
    return eqn.params["select"]


def supported(eqn) -> bool:
    """Whether ``eqn`` (a primitive of ``PRIMS``) has a native kernel here."""
    name = eqn.prim.name
    if not all(type(v) is Var for v in eqn.inputs):
        return False
    if not all(supported_dtype(v.aval.dtype) for v in [*eqn.inputs, *eqn.outputs]):
        return False
    window = eqn.params["window_dimensions"]
    if name in REDUCE_PRIMS:
        return int(np.prod(window, dtype=np.int64)) <= _LOOP_LIMIT
    if _kind(eqn) not in ("max", "min"):
        return False
    if name == "select_and_scatter_add" and np.dtype(eqn.inputs[0].aval.dtype) == np.bool_:
        return False
    return True


class WindowReduceStep(fusion.EqnStep):
    """A ``reduce_window_*`` (see the module docstring)."""

    def describe(self, nm, buf):
        return _describe(self, nm, buf)


class SelectStep(fusion.Step):
    """A ``select_and_scatter_add`` or ``select_and_gather_add`` (see the module
    docstring). ``scratch_var`` (float64, one entry per operand element) holds the
    scatter's accumulators when windows may overlap and the dtype is not float64; it is
    "written" by the step so that the planner gives it a workspace region."""

    def __init__(self, eqn):
        self.eqn = eqn
        self._reads = [(v, False) for v in dict.fromkeys(eqn.inputs)]
        self.stores = [eqn.outputs[0]]
        self.scratch_var = None
        if eqn.prim.name == "select_and_scatter_add":
            window, strides, _, _, wdil = _geometry(eqn)
            overlap = any(s < (k - 1) * d + 1 for k, s, d in zip(window, strides, wdil))
            x = eqn.inputs[1]
            dtype = np.dtype(eqn.outputs[0].aval.dtype)
            if overlap and dtype != np.float64 and x.aval.size > 0:
                self.scratch_var = Var(ShapedArray((x.aval.size,), np.float64))
                self.stores.append(self.scratch_var)

    def writes(self):
        return list(self.stores)

    def describe(self, nm, buf):
        return _describe(self, nm, buf)


def _describe(step, nm, buf):
    e = step.eqn
    window, strides, pads, base, wdil = _geometry(e)
    what = e.prim.name
    if what in SELECT_PRIMS:
        what += f" select={_kind(e)}"
    what += f" window={window} strides={strides} padding={pads}"
    if any(d != 1 for d in base):
        what += f" base_dilation={base}"
    if any(d != 1 for d in wdil):
        what += f" window_dilation={wdil}"
    ins = ",".join(nm(x) for x in e.inputs)
    o = e.outputs[0]
    scratch = getattr(step, "scratch_var", None)
    extra = f" scratch {buf(scratch)}" if scratch is not None else ""
    return f"{what} ({ins}){extra} -> {nm(o)}->{buf(o)}"


def make_step(eqn):
    """The plan step of a supported equation of ``PRIMS``."""
    return WindowReduceStep(eqn) if eqn.prim.name in REDUCE_PRIMS else SelectStep(eqn)


# --------------------------------------------------------------------------- IR helpers


def _identity(e, kind, dtype):
    """The reference's padding value (and the accumulators' start for a reduction)."""
    dtype = np.dtype(dtype)
    if kind == "sum":
        return e.const(-0.0 if _is_float(dtype) else 0, dtype)
    if _is_float(dtype):
        return e.const(-np.inf if kind == "max" else np.inf, dtype)
    if dtype == np.bool_:
        return e.const(kind == "min", dtype)
    info = np.iinfo(dtype)
    return e.const(info.min if kind == "max" else info.max, dtype)


def _hole(e, kind, dtype):
    """The value of a padding or dilation hole (``+0.0`` for a float sum)."""
    if kind == "sum":
        return e.const(0, dtype)
    return _identity(e, kind, dtype)


def _strict(e, kind, dtype):
    """``(a, b) -> a strictly better than b`` (false when either is NaN)."""
    b = e.b
    op = "<" if kind == "min" else ">"
    if _is_float(dtype):
        return lambda x, y: b.fcmp_ordered(op, x, y)
    cmp = b.icmp_signed if _is_signed(dtype) else b.icmp_unsigned
    return lambda x, y: cmp(op, x, y)


def _combine(e, kind, dtype):
    """``(acc, x) -> op(acc, x)`` as NumPy's ``add``/``maximum``/``minimum`` do."""
    b = e.b
    isf = _is_float(dtype)
    if kind == "sum":
        return (lambda a, x: b.fadd(a, x)) if isf else (lambda a, x: b.add(a, x))
    better = _strict(e, kind, dtype)
    if isf:
        # keep the running value when it is NaN or strictly better, else take x
        return lambda a, x: b.select(b.or_(better(a, x), b.fcmp_unordered("uno", a, a)), a, x)
    return lambda a, x: b.select(better(a, x), a, x)


def _strides_of(shape):
    out, acc = [], 1
    for s in reversed(shape):
        out.append(acc)
        acc *= s
    return out[::-1]


def _position(e, eqn, o, k):
    """``(flat operand offset, in-bounds i1 or None)`` of window offset ``k`` of output
    position ``o`` (lists of i64 values, one per dimension). The offset of a hole is
    clamped to 0 (a valid address)."""
    b = e.b
    x = eqn.inputs[-1]
    shape = x.aval.shape
    window, strides, pads, base, wdil = _geometry(eqn)
    off, ok = None, None
    for d, (n, st, (lo, hi), bd, wd, cs) in enumerate(
        zip(shape, strides, pads, base, wdil, _strides_of(shape), strict=True)
    ):
        q = b.add(b.mul(o[d], e.c64(st)), b.mul(k[d], e.c64(wd)))
        idx = b.sub(q, e.c64(lo)) if lo else q
        if lo or hi or bd != 1:
            good = b.and_(
                b.icmp_signed(">=", idx, e.c64(0)),
                b.icmp_signed("<", idx, e.c64((n - 1) * bd + 1)),
            )
            if bd != 1:
                good = b.and_(good, b.icmp_unsigned("==", b.urem(idx, e.c64(bd)), e.c64(0)))
                idx = b.udiv(idx, e.c64(bd))
            ok = good if ok is None else b.and_(ok, good)
        term = b.mul(idx, e.c64(cs)) if cs != 1 else idx
        off = term if off is None else b.add(off, term)
    if off is None:
        off = e.c64(0)
    if ok is not None:
        off = b.select(ok, off, e.c64(0))
    return off, ok


def _ravel(e, idx, shape):
    b = e.b
    off = e.c64(0)
    for v, cs in zip(idx, _strides_of(shape), strict=True):
        off = b.add(off, b.mul(v, e.c64(cs)) if cs != 1 else v)
    return off


def _read(e, eqn, var, o, k, hole):
    """Value of ``var`` (shaped like the operand) at window offset ``k`` of output ``o``,
    ``hole`` in padding/dilation holes; returns ``(value, offset, in_bounds)``."""
    if var.aval.size == 0:  # only holes (padding of an empty operand): nothing to load
        return hole, e.c64(0), ir.Constant(I1, 0)
    off, ok = _position(e, eqn, o, k)
    v = e.load_at(var, off)
    if ok is not None:
        v = e.b.select(ok, v, hole)
    return v, off, ok


def _fill(e, var, n, value):
    with e.loop(n) as i:
        e.store_at(var, i, value)


# --------------------------------------------------------------------------- reduce_window_*


def reduce_kernel(e, step):
    eqn = step.eqn
    x, out = eqn.inputs[0], eqn.outputs[0]
    oshape = out.aval.shape
    if out.aval.size == 0:
        return
    b = e.b
    kind = _kind(eqn)
    dtype = np.dtype(x.aval.dtype)
    op = _combine(e, kind, dtype)
    ident, hole = _identity(e, kind, dtype), _hole(e, kind, dtype)
    window = _geometry(eqn)[0]
    if not oshape:  # a scalar operand: one window of one element
        e.store_at(out, e.c64(0), op(ident, e.load_at(x, e.c64(0))))
        return
    last = oshape[-1]
    with e.loops(oshape[:-1]) as outer:
        base = _ravel(e, [*outer, e.c64(0)], oshape)
        with e.loop(last) as j:
            e.store_at(out, b.add(base, j), ident)
        with e.loops(window) as k:
            with e.loop(last) as j:
                dst = b.add(base, j)
                v, _, _ = _read(e, eqn, x, [*outer, j], k, hole)
                e.store_at(out, dst, op(e.load_at(out, dst), v))


# --------------------------------------------------------------------------- select_and_*


def _select_window(e, eqn, o):
    """Emit the selection of window ``o``; returns ``(offset, in_bounds)`` (i64, i1) of
    the chosen element."""
    b = e.b
    x = eqn.inputs[1]
    kind = _kind(eqn)
    dtype = np.dtype(x.aval.dtype)
    window = _geometry(eqn)[0]
    better = _strict(e, kind, dtype)
    hole = _identity(e, kind, dtype)
    isf = _is_float(dtype)
    best = e.slot(vty(dtype))
    where = e.slot(e.c64(0).type)
    valid = e.slot(I1)
    with e.loops(window) as k:
        v, off, ok = _read(e, eqn, x, o, k, hole)
        ok = ir.Constant(I1, 1) if ok is None else ok
        first = None
        for kd, n in zip(k, window, strict=True):
            if n > 1:
                z = b.icmp_unsigned("==", kd, e.c64(0))
                first = z if first is None else b.and_(first, z)
        cur = b.load(best)
        take = better(v, cur)
        if first is not None:
            take = b.or_(first, take)
        else:  # a one-element window: always the first
            take = ir.Constant(I1, 1)
        new = b.select(take, v, cur)
        if isf:  # a NaN candidate is not taken but poisons the running value
            new = b.select(b.fcmp_unordered("uno", v, v), v, new)
        b.store(new, best)
        b.store(b.select(take, off, b.load(where)), where)
        b.store(b.select(take, ok, b.load(valid)), valid)
    return b.load(where), b.load(valid)


def select_kernel(e, step):
    eqn = step.eqn
    b = e.b
    out = eqn.outputs[0]
    src, x = eqn.inputs
    window_shape = src.aval.shape if eqn.prim.name == "select_and_scatter_add" else out.aval.shape
    n_windows = int(np.prod(window_shape, dtype=np.int64))
    if eqn.prim.name == "select_and_gather_add":
        if n_windows == 0:
            return
        zero = e.const(0, out.aval.dtype)
        with e.loops(window_shape) as o:
            off, ok = _select_window(e, eqn, o)
            v = e.load_at(src, off) if src.aval.size else zero
            e.store_at(out, _ravel(e, o, window_shape), b.select(ok, v, zero))
        return
    # select_and_scatter_add
    dtype = np.dtype(out.aval.dtype)
    size = out.aval.size
    if size == 0:
        return
    acc = step.scratch_var if step.scratch_var is not None else out
    overlap = step.scratch_var is not None or (
        dtype == np.float64
        and any(
            s < (k - 1) * d + 1
            for k, s, d in zip(
                eqn.params["window_dimensions"],
                eqn.params["window_strides"],
                eqn.params["window_dilation"],
            )  # fmt: skip
        )
    )
    if n_windows == 0:
        _fill(e, out, size, e.const(0, dtype))
        return
    _fill(e, acc, size, e.const(0, acc.aval.dtype))
    with e.loops(window_shape) as o:
        off, ok = _select_window(e, eqn, o)
        s = e.convert(e.load_at(src, _ravel(e, o, window_shape)), dtype, np.float64)
        with b.if_then(ok):
            if overlap:  # float64 accumulation in row-major window order
                a = e.load_at(acc, off)
                total = b.fadd(a if a.type == F64 else e.convert(a, dtype, np.float64), s)
                e.store_at(acc, off, e.convert(total, np.float64, acc.aval.dtype))
            else:  # at most one value per position: 0.0 + s, rounded once
                total = b.fadd(ir.Constant(F64, 0.0), s)
                e.store_at(acc, off, e.convert(total, np.float64, dtype))
    if step.scratch_var is not None:
        with e.loop(size) as i:
            e.store_at(out, i, e.convert(e.load_at(acc, i), np.float64, dtype))


__all__ = [
    "PRIMS",
    "REDUCE_PRIMS",
    "SELECT_PRIMS",
    "SelectStep",
    "WindowReduceStep",
    "make_step",
    "reduce_kernel",
    "select_kernel",
    "supported",
]
