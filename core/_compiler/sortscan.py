"""Native kernels for ``sort``, ``top_k`` and the cumulative ops (``cumsum``, ``cumprod``,
``cummax``, ``cummin``, ``cumlogsumexp``).

Both families are steps of their own in the fusion plan: their operands and results live in
buffers (``fusion.plan_program`` materializes them) and the kernel walks them directly.

* ``CumStep``: an array of shape ``(outer, n, inner)`` (the accumulated axis in the middle)
  is accumulated with one sequential accumulator per ``(outer, inner)`` position, in the
  order the reference evaluator uses (``out[j] = op(out[j - 1], x[j])``, NumPy's
  ``ufunc.accumulate``), so that sums and products round exactly as NumPy's do. The loop
  over independent accumulations is innermost: over the contiguous ``inner`` index when
  the axis is not the last one (LLVM vectorizes it), else over blocks of ``_CHAINS`` rows
  (so that as many dependency chains are in flight). Float arithmetic carries no
  fast-math flags here: ``reassoc`` or ``contract`` would change the rounding of a running
  sum. ``cummax``/``cummin`` keep NumPy's choices (the running value is kept when it is
  NaN or strictly better, else the new element is taken: NaNs propagate, ``-0.0``/``0.0``
  ties take the newer one), and ``cumlogsumexp`` is NumPy's ``logaddexp`` formula
  evaluated with the in-IR ``exp``/``log1p`` of ``mathlib``.
* ``SortStep``: for every row (every index but the sorted dimension), the keys are copied
  into the step's scratch buffer (a workspace region planned like any intermediate) as
  integers that order like the values, next to an int32 permutation ``0..n-1``; a stable
  merge sort (insertion sort of runs of ``_RUN`` entries, then bottom-up merge passes that
  alternate between two copies of these arrays) orders them lexicographically over the
  keys, and every operand is gathered through the sorted permutation. ``sort``'s integer
  keys follow NumPy's order (NaNs last and tied, ``-0.0`` tied with ``0.0``); ``top_k``
  sorts in descending order of the reference's total-order key (the sign-magnitude bits
  of a float read as an integer, so ``0.0`` ranks above ``-0.0``) and keeps the first
  ``k`` entries: ties go to the lower index because the sort is stable.
"""

from __future__ import annotations

import contextlib

import numpy as np
from llvmlite import ir

from .._core import ShapedArray
from .._ir import Var
from . import fusion, mathlib
from .codegen import I32, I64, _is_float, _is_signed, supported_dtype, vty

CUM_PRIMS = frozenset({"cumsum", "cumprod", "cummax", "cummin", "cumlogsumexp"})
SORT_PRIMS = frozenset({"sort", "top_k"})
PRIMS = CUM_PRIMS | SORT_PRIMS

_RUN = 16  # rows are insertion-sorted in runs of this length before merging
_CHAINS = 16  # rows accumulated together by the cumulative kernel (when the axis is last)
_INDEX_LIMIT = 2**31 - 1  # the permutation is int32


# --------------------------------------------------------------------------- planning


def supported(eqn) -> bool:
    """Whether ``eqn`` (a primitive of ``PRIMS``) has a native kernel here."""
    name = eqn.prim.name
    atoms = [*eqn.inputs, *eqn.outputs]
    if not all(type(v) is Var for v in eqn.inputs):
        return False
    if not all(supported_dtype(v.aval.dtype) for v in atoms):
        return False
    dtype = np.dtype(eqn.inputs[0].aval.dtype)
    if name in CUM_PRIMS:
        if dtype == np.bool_ or (name == "cumlogsumexp" and dtype.kind != "f"):
            return False
        return eqn.inputs[0].aval.ndim >= 1
    shape = eqn.inputs[0].aval.shape
    if not shape:
        return False
    axis = eqn.params["dimension"] if name == "sort" else len(shape) - 1
    return shape[axis] <= _INDEX_LIMIT


def _split_axis(shape, axis):
    """``(outer, n, inner)``: the sizes before, along and after ``axis``."""
    outer = int(np.prod(shape[:axis], dtype=np.int64))
    inner = int(np.prod(shape[axis + 1 :], dtype=np.int64))
    return outer, int(shape[axis]), inner


class CumStep(fusion.EqnStep):
    """A cumulative op along one axis (see the module docstring)."""

    def describe(self, nm, buf):
        e = self.eqn
        o = e.outputs[0]
        rev = " reverse" if e.params["reverse"] else ""
        x = nm(e.inputs[0])
        return f"{e.prim.name} axis={e.params['axis']}{rev} ({x}) -> {nm(o)}->{buf(o)}"


class SortStep(fusion.Step):
    """``sort`` or ``top_k`` by a merge sort of each row (see the module docstring). The
    ``scratch_var`` variable stands for the sort's arrays (the permutation and the keys,
    twice): it is "written" by the step so that the planner gives it a workspace region
    that lives while the step runs."""

    def __init__(self, eqn):
        self.eqn = eqn
        self._reads = [(v, False) for v in dict.fromkeys(eqn.inputs)]
        shape = eqn.inputs[0].aval.shape
        self.axis = eqn.params["dimension"] if eqn.prim.name == "sort" else len(shape) - 1
        self.outer, self.n, self.inner = _split_axis(shape, self.axis)
        self.stores = list(eqn.outputs)
        keys = eqn.inputs[: eqn.params["num_keys"]] if eqn.prim.name == "sort" else eqn.inputs
        # one region holds the int32 permutation and each key as an integer sort key; the
        # scratch is two regions (merge passes alternate between them)
        sizes = [4] + [np.dtype(k.aval.dtype).itemsize for k in keys]
        self.offsets, self.region = [], 0
        for size in sizes:
            self.offsets.append(self.region)
            self.region += -(-self.n * size // fusion.ALIGN) * fusion.ALIGN
        self.scratch_var = None
        if self.n > 1 and self.outer * self.inner > 0:
            self.scratch_var = Var(ShapedArray((2 * self.region,), np.uint8))
            self.stores.append(self.scratch_var)

    def writes(self):
        return list(self.stores)

    def describe(self, nm, buf):
        e = self.eqn
        if e.prim.name == "sort":
            what = f"sort dimension={self.axis} num_keys={e.params['num_keys']}"
        else:
            what = f"top_k k={e.params['k']}"
        ins = ",".join(nm(x) for x in e.inputs)
        outs = ", ".join(f"{nm(o)}->{buf(o)}" for o in e.outputs)
        scratch = f" scratch {buf(self.scratch_var)}" if self.scratch_var is not None else ""
        return f"{what} merge sort ({ins}){scratch}: {outs}"


def make_step(eqn):
    """The plan step of a supported equation of ``PRIMS``."""
    return CumStep(eqn) if eqn.prim.name in CUM_PRIMS else SortStep(eqn)


# --------------------------------------------------------------------------- IR helpers


@contextlib.contextmanager
def _while(e, cond):
    """``while cond(): body`` where ``cond`` emits its test (an i1) in the loop header."""
    b = e.b
    head = e.fn.append_basic_block("w.head")
    body = e.fn.append_basic_block("w.body")
    end = e.fn.append_basic_block("w.end")
    b.branch(head)
    b.position_at_end(head)
    b.cbranch(cond(), body, end)
    b.position_at_end(body)
    yield
    b.branch(head)
    b.position_at_end(end)


def _min64(b, x, y):
    return b.select(b.icmp_signed("<", x, y), x, y)


# --------------------------------------------------------------------------- cumulative ops


def _cum_op(e, name, dtype):
    """``(acc, x) -> op(acc, x)`` exactly as the reference's ``ufunc.accumulate`` does."""
    b = e.b
    isf = _is_float(dtype)
    t = vty(dtype)

    if name == "cumsum":
        return (lambda a, x: b.fadd(a, x)) if isf else (lambda a, x: b.add(a, x))
    if name == "cumprod":
        return (lambda a, x: b.fmul(a, x)) if isf else (lambda a, x: b.mul(a, x))
    if name in ("cummax", "cummin"):
        op = ">" if name == "cummax" else "<"
        if isf:
            # NumPy: keep the running value when it is NaN or strictly better, else take x
            def fop(a, x):
                keep = b.or_(b.fcmp_ordered(op, a, x), b.fcmp_unordered("uno", a, a))
                return b.select(keep, a, x)

            return fop
        cmp = b.icmp_signed if _is_signed(dtype) else b.icmp_unsigned
        return lambda a, x: b.select(cmp(op, a, x), a, x)
    # cumlogsumexp: NumPy's npy_logaddexp(a, x)
    loge2 = float(np.log(2.0).astype(dtype))

    def lse(a, x):
        eq = b.fcmp_ordered("==", a, x)
        d = b.fsub(a, x)
        pos = b.fcmp_ordered(">", d, ir.Constant(t, 0.0))
        nonpos = b.fcmp_ordered("<=", d, ir.Constant(t, 0.0))
        big = b.select(pos, a, x)
        arg = b.select(pos, b.fneg(d), d)
        tail = b.fadd(big, mathlib.log1p(b, mathlib.exp(b, arg)))
        out = b.select(b.or_(pos, nonpos), tail, d)  # d is NaN when neither holds
        return b.select(eq, b.fadd(a, ir.Constant(t, loge2)), out)

    return lse


def cum_kernel(e, step):
    eqn = step.eqn
    x, out = eqn.inputs[0], eqn.outputs[0]
    shape = x.aval.shape
    axis, reverse = eqn.params["axis"], eqn.params["reverse"]
    outer, n, inner = _split_axis(shape, axis)
    if outer * n * inner == 0:
        return
    b = e.b
    op = _cum_op(e, eqn.prim.name, x.aval.dtype)

    def chains(base, count, chain_stride, elem_stride):
        """``count`` independent accumulations starting at ``base``, ``chain_stride``
        apart, each over ``n`` elements ``elem_stride`` apart; the loop over chains is
        innermost (no dependence between its iterations: vectorizable, or at least
        ``count`` chains in flight instead of one)."""

        def at(c, j):  # the j-th element (in accumulation order) of chain c
            pos = b.sub(e.c64(n - 1), j) if reverse else j
            return b.add(base, b.add(b.mul(c, e.c64(chain_stride)), b.mul(pos, e.c64(elem_stride))))

        first = n - 1 if reverse else 0
        with e.loop(count) as c:
            off = b.add(base, b.add(b.mul(c, e.c64(chain_stride)), e.c64(first * elem_stride)))
            e.store_at(out, off, e.load_at(x, off))
        if n > 1:
            with e.loop(n - 1) as j:
                j1 = b.add(j, e.c64(1))
                with e.loop(count) as c:
                    cur = at(c, j1)
                    e.store_at(out, cur, op(e.load_at(out, at(c, j)), e.load_at(x, cur)))

    if inner > 1:
        with e.loop(outer) as o:
            chains(b.mul(o, e.c64(n * inner)), inner, 1, inner)
        return
    # one chain per row: rows go in blocks of _CHAINS so that their chains overlap
    blocks, rest = divmod(outer, _CHAINS)
    if blocks:
        with e.loop(blocks) as q:
            chains(b.mul(q, e.c64(_CHAINS * n)), _CHAINS, n, 1)
    if rest:
        chains(e.c64(blocks * _CHAINS * n), rest, n, 1)


# --------------------------------------------------------------------------- sort, top_k


def _int_type(dtype):
    return ir.IntType(8 * np.dtype(dtype).itemsize)


def _sort_key(e, dtype, descending):
    """``value -> (integer key, signed)``: integers that order as the reference orders the
    values. ``sort``: NumPy's ascending order (NaNs last and equal to each other, ``-0.0``
    equal to ``0.0``). ``top_k`` (``descending``): the reference's total-order key (float
    bits with the magnitude of negative ones flipped; every bit pattern distinct)."""
    b = e.b
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return (lambda v: b.zext(v, _int_type(dtype))), False
    if not _is_float(dtype):
        return (lambda v: v), _is_signed(dtype)
    it = _int_type(dtype)
    flip = ir.Constant(it, (1 << (it.width - 1)) - 1)

    def key(v):
        bits = b.bitcast(v, it)
        k = b.select(b.icmp_signed("<", bits, ir.Constant(it, 0)), b.xor(bits, flip), bits)
        if not descending:
            k = b.select(b.fcmp_unordered("uno", v, v), flip, k)  # NaN: above +inf
            k = b.select(b.fcmp_ordered("==", v, ir.Constant(v.type, 0.0)), ir.Constant(it, 0), k)
        return k

    return key, True


def sort_kernel(e, step):
    eqn = step.eqn
    outer, n, inner = step.outer, step.n, step.inner
    if outer * n * inner == 0:
        return
    b = e.b
    is_sort = eqn.prim.name == "sort"
    ops = list(eqn.inputs)
    keys = ops[: eqn.params["num_keys"]] if is_sort else ops
    k_out = n if is_sort else eqn.params["k"]
    if k_out == 0:
        return
    conv = [_sort_key(e, k.aval.dtype, not is_sort) for k in keys]
    types = [I32] + [_int_type(k.aval.dtype) for k in keys]

    def before(ka, kb):
        """Element with keys ``ka`` strictly before the one with ``kb`` (lexicographic)."""
        res = None
        for m in range(len(keys) - 1, -1, -1):
            signed = conv[m][1]
            cmp = b.icmp_signed if signed else b.icmp_unsigned
            lt = cmp(">" if not is_sort else "<", ka[m], kb[m])
            res = lt if res is None else b.or_(lt, b.and_(b.icmp_unsigned("==", ka[m], kb[m]), res))
        return res

    if n > 1:
        raw = e.ptr(step.scratch_var)

        def arrays(region):  # typed pointers of the permutation and the keys in a region
            return [
                b.bitcast(b.gep(region, [e.c64(off)], inbounds=True), t.as_pointer())
                for off, t in zip(step.offsets, types, strict=True)
            ]

        with e.at_entry():
            region_a = raw
            region_b = b.gep(raw, [e.c64(step.region)], inbounds=True)
            arr_a = arrays(region_a)

    with e.loops([outer, inner]) as (o, i):
        base = b.add(b.mul(o, e.c64(n * inner)), i) if inner != 1 else b.mul(o, e.c64(n))

        def elem(p):  # buffer offset of row element p (an i64)
            return b.add(base, p if inner == 1 else b.mul(p, e.c64(inner)))

        final = None
        if n > 1:
            with e.loop(n) as j:  # the permutation and the keys of the row, contiguous
                _store(b, arr_a[0], j, b.trunc(j, I32))
                off = elem(j)
                for m, k in enumerate(keys):
                    _store(b, arr_a[m + 1], j, conv[m][0](e.load_at(k, off)))
            final = _merge_sort(e, n, region_a, region_b, arrays, before)
        with e.loop(k_out) as j:
            p = b.zext(_load(b, final, j), I64) if final is not None else j
            src = elem(p)
            if is_sort:
                dst = elem(j)
                for x, y in zip(ops, eqn.outputs, strict=True):
                    e.store_at(y, dst, e.load_at(x, src))
            else:  # top_k sorts the last axis (inner == 1): output row o starts at o * k
                dst = b.add(b.mul(o, e.c64(k_out)), j)
                vals, idx = eqn.outputs
                e.store_at(vals, dst, e.load_at(ops[0], src))
                e.store_at(idx, dst, b.trunc(p, I32))


def _load(b, ptr, j):
    return b.load(b.gep(ptr, [j], inbounds=True), align=ptr.type.pointee.width // 8)


def _store(b, ptr, j, v):
    b.store(v, b.gep(ptr, [j], inbounds=True), align=ptr.type.pointee.width // 8)


def _merge_sort(e, n, region_a, region_b, arrays, before):
    """Emit a stable sort of the ``n`` entries of the arrays in ``region_a`` (the int32
    permutation first, then the keys) by ``before`` on the keys; returns the pointer to the
    sorted permutation (in either region)."""
    b = e.b
    run = min(_RUN, n)
    n_runs = -(-n // run)
    arr_a = arrays(region_a)
    t_slot = e.slot(I64)

    def keys_at(arrs, j):
        return [_load(b, p, j) for p in arrs[1:]]

    # insertion sort of each run
    with e.loop(n_runs) as q:
        start = b.mul(q, e.c64(run))
        stop = _min64(b, b.add(start, e.c64(run)), e.c64(n))
        with e.range_loop(b.add(start, e.c64(1)), stop) as j:
            item = [_load(b, p, j) for p in arr_a]
            b.store(j, t_slot)
            # while t > start and item before entry t - 1: move entry t - 1 up
            head = e.fn.append_basic_block("ins.head")
            test = e.fn.append_basic_block("ins.test")
            body = e.fn.append_basic_block("ins.body")
            end = e.fn.append_basic_block("ins.end")
            b.branch(head)
            b.position_at_end(head)
            b.cbranch(b.icmp_signed(">", b.load(t_slot), start), test, end)
            b.position_at_end(test)
            t1 = b.sub(b.load(t_slot), e.c64(1))
            b.cbranch(before(item[1:], keys_at(arr_a, t1)), body, end)
            b.position_at_end(body)
            t = b.load(t_slot)
            t1 = b.sub(t, e.c64(1))
            for p in arr_a:
                _store(b, p, t, _load(b, p, t1))
            b.store(t1, t_slot)
            b.branch(head)
            b.position_at_end(end)
            t = b.load(t_slot)
            for p, v in zip(arr_a, item, strict=True):
                _store(b, p, t, v)
    if n <= run:
        return arr_a[0]
    # bottom-up merge passes, alternating between the two regions (a loop over the pass,
    # so the code does not grow with n)
    src_slot, dst_slot = e.slot(region_a.type, region_a), e.slot(region_a.type, region_b)
    w_slot, lo_slot = e.slot(I64, e.c64(run)), e.slot(I64)
    i_slot, j_slot, k_slot = e.slot(I64), e.slot(I64), e.slot(I64)
    with _while(e, lambda: b.icmp_signed("<", b.load(w_slot), e.c64(n))):
        width = b.load(w_slot)
        src_r, dst_r = b.load(src_slot), b.load(dst_slot)
        src, dst = arrays(src_r), arrays(dst_r)
        b.store(e.c64(0), lo_slot)
        with _while(e, lambda: b.icmp_signed("<", b.load(lo_slot), e.c64(n))):
            lo = b.load(lo_slot)
            mid = _min64(b, b.add(lo, width), e.c64(n))
            hi = _min64(b, b.add(mid, width), e.c64(n))
            b.store(lo, i_slot)
            b.store(mid, j_slot)
            b.store(lo, k_slot)
            with b.if_then(b.icmp_signed("<", mid, hi)):
                # runs already in order (sorted input) are copied without comparisons
                in_order = b.not_(before(keys_at(src, mid), keys_at(src, b.sub(mid, e.c64(1)))))
                with b.if_then(b.not_(in_order)):

                    def both_left(mid=mid, hi=hi):
                        return b.and_(
                            b.icmp_signed("<", b.load(i_slot), mid),
                            b.icmp_signed("<", b.load(j_slot), hi),
                        )

                    with _while(e, both_left):
                        ii, jj, kk = b.load(i_slot), b.load(j_slot), b.load(k_slot)
                        ka, kb = keys_at(src, ii), keys_at(src, jj)
                        take_b = before(kb, ka)  # strict: ties stay on the left
                        pos = b.select(take_b, jj, ii)
                        for sp, dp in zip(src, dst, strict=True):
                            _store(b, dp, kk, _load(b, sp, pos))
                        step_b = b.zext(take_b, I64)
                        b.store(b.add(jj, step_b), j_slot)
                        b.store(b.add(ii, b.sub(e.c64(1), step_b)), i_slot)
                        b.store(b.add(kk, e.c64(1)), k_slot)
            for slot, bound in ((i_slot, mid), (j_slot, hi)):

                def more(slot=slot, bound=bound):
                    return b.icmp_signed("<", b.load(slot), bound)

                with _while(e, more):
                    ii, kk = b.load(slot), b.load(k_slot)
                    for sp, dp in zip(src, dst, strict=True):
                        _store(b, dp, kk, _load(b, sp, ii))
                    b.store(b.add(ii, e.c64(1)), slot)
                    b.store(b.add(kk, e.c64(1)), k_slot)
            b.store(hi, lo_slot)
        b.store(dst_r, src_slot)
        b.store(src_r, dst_slot)
        b.store(b.mul(width, e.c64(2)), w_slot)
    return arrays(b.load(src_slot))[0]


__all__ = [
    "CUM_PRIMS",
    "PRIMS",
    "SORT_PRIMS",
    "CumStep",
    "SortStep",
    "cum_kernel",
    "make_step",
    "sort_kernel",
    "supported",
]
