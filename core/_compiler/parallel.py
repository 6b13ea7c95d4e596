"""Large kernels split across the cores.

``fusion.assign_threads`` marks a loop, reduction or row kernel whose work is large enough
(see ``MIN_WORK``) with ``threads = 2`` (or the ``DERIVAX_THREADS`` count); its plan text
then says ``x2 threads``, so the decision is part of the cache key. ``codegen`` builds such a
kernel with two extra ``i64`` arguments ``lo, hi``: its outermost loop (over independent
output elements: a flat elementwise range, the outer dimension of a loop nest, or the outer
kept dimension of a reduction) covers ``[lo, hi)``. Each part therefore computes whole
output elements exactly as the serial kernel does: **results are bitwise identical** to
the unsplit kernel, reductions included (a reduction is split over its outputs, never
over the reduced axis).

``call_in_parts`` runs the parts: ``pthread_create`` for every part but the first, the
first on the calling thread, then ``pthread_join`` (a part whose thread could not be
created runs on the calling thread). The entry function is called through ctypes with the
GIL released, so other Python threads keep running meanwhile. Creating and joining a
thread costs about 20 us here, so only kernels well above that are split.
"""

from __future__ import annotations

import os

from llvmlite import ir

I8 = ir.IntType(8)
I32 = ir.IntType(32)
I64 = ir.IntType(64)
I8P = I8.as_pointer()

# Work units (elements times a per-element cost, see ``fusion.kernel_work``: 1 per load or
# cheap op, 8 per transcendental or division) from which a kernel is split. Measured on the
# 2-core machine (jitted call, best of 7, threads=1 vs 2): ``x + y`` (3 units per element)
# lost at 2^18 elements (94 vs 121 us) and won at 2^20 (427 vs 321 us); ``tanh(tanh(x) * y
# + 1)`` (~20 units) lost at 2^16 (261 vs 309 us) and won at 2^18 (1048 vs 584 us). Both
# cross over between 1 and 3 million units, and thread start-up is ~20-35 us. The default
# sits above that crossover: on a machine whose other core is busy, a split kernel waits for
# it, so only kernels that clearly win on an idle machine are split.
MIN_WORK = 1 << 22


def thread_count():
    """Parts per split kernel: ``DERIVAX_THREADS`` (1 turns splitting off), else the
    number of CPUs this process may run on (at most 8)."""
    env = os.environ.get("DERIVAX_THREADS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ValueError(
                f"DERIVAX_THREADS={env!r}: expected a positive integer (1 disables "
                "splitting kernels across threads)."
            ) from None
    return cpu_count()


def cpu_count():
    """CPUs this process may run on (at most 8)."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    return max(1, min(n, 8))


def min_work():
    env = os.environ.get("DERIVAX_PARALLEL_MIN_WORK", "").strip()
    return int(env) if env else MIN_WORK


def _thunk(mb, kfn, nptr):
    """``i8* kN_part(i8* ctx)``: unpack ``{ptrs..., lo, hi}`` and call the kernel."""
    name = f"{kfn.name}_part"
    fn = mb.module.globals.get(name)
    if fn is not None:
        return fn
    fn = ir.Function(mb.module, ir.FunctionType(I8P, [I8P]), name=name)
    fn.linkage = "internal"
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    st = _struct(nptr)
    ctx = b.bitcast(fn.args[0], st.as_pointer())
    vals = [
        b.load(b.gep(ctx, [ir.Constant(I32, 0), ir.Constant(I32, i)], inbounds=True))
        for i in range(nptr + 2)
    ]
    b.call(kfn, vals)
    b.ret(ir.Constant(I8P, None))
    return fn


def _struct(nptr):
    return ir.LiteralStructType([I8P] * nptr + [I64, I64])


def _entry_alloca(b, fn, ty):
    saved = b.block
    b.position_at_start(fn.entry_basic_block)
    a = b.alloca(ty)
    b.position_at_end(saved)
    return a


def call_in_parts(mb, b, fn, kfn, args, extent, threads):
    """Call kernel ``kfn`` on ``[0, extent)`` split into ``threads`` parts."""
    parts = max(1, min(int(threads), int(extent)))
    bounds = [extent * t // parts for t in range(parts + 1)]
    c = lambda v: ir.Constant(I64, int(v))  # noqa: E731
    if parts == 1:
        b.call(kfn, [*args, c(0), c(extent)])
        return
    thunk = _thunk(mb, kfn, len(args))
    st = _struct(len(args))
    create = mb.intrinsic(
        "pthread_create",
        I32,
        [I64.as_pointer(), I8P, ir.FunctionType(I8P, [I8P]).as_pointer(), I8P],
    )
    join = mb.intrinsic("pthread_join", I32, [I64, I8P.as_pointer()])
    started = []
    for t in range(1, parts):
        ctx = _entry_alloca(b, fn, st)
        tid = _entry_alloca(b, fn, I64)
        for i, v in enumerate([*args, c(bounds[t]), c(bounds[t + 1])]):
            b.store(v, b.gep(ctx, [ir.Constant(I32, 0), ir.Constant(I32, i)], inbounds=True))
        rc = b.call(create, [tid, ir.Constant(I8P, None), thunk, b.bitcast(ctx, I8P)])
        started.append((t, tid, rc))
    b.call(kfn, [*args, c(bounds[0]), c(bounds[1])])
    for t, tid, rc in started:
        with b.if_else(b.icmp_signed("==", rc, ir.Constant(I32, 0))) as (ok, failed):
            with ok:
                b.call(join, [b.load(tid), ir.Constant(I8P.as_pointer(), None)])
            with failed:
                b.call(kfn, [*args, c(bounds[t]), c(bounds[t + 1])])
