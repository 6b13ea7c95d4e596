"""``scan``, ``while`` and ``cond`` lowered into generated code, against the reference evaluator.

Every test runs a function through ``jit`` with ``jit_backend="reference"`` (the NumPy
evaluator, the executable specification) and with ``jit_backend="llvm"``, compares values,
dtypes, weak types and shapes, and checks that the control flow really ran as native code
(no reference-evaluator step in the compiled program) unless the test is about the fallback.

Tolerances (relative and absolute): float32 ``1e-5``, float64 ``1e-12``; integers and bools
exactly (the same as ``test_compiler.py``: compiled transcendentals, FMA contraction and
reassociated reductions).
"""

from __future__ import annotations

import numpy as np
import pytest

import derivax as dx
import derivax.lax as lax
import derivax.numpy as dnp
from derivax._compiler import runtime

TOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}
RNG = np.random.default_rng(0)


@pytest.fixture(scope="module", autouse=True)
def _llvm_backend(tmp_path_factory):
    cache = tmp_path_factory.mktemp("derivax-cache")
    runtime.STRICT = True  # a lowering bug fails the test instead of falling back
    try:
        with dx.config.context(jit_backend="llvm", cache_dir=str(cache)):
            yield
    finally:
        runtime.STRICT = False


def _run(f, args, backend):
    with dx.config.context(jit_backend=backend):
        return dx.jit(f)(*args)


def compare(f, *args, tol=None, native=True):
    """Run ``f`` jitted on both back ends, assert the results agree, and (``native``) that
    the compiled program has no reference-evaluator step."""
    ref = _run(f, args, "reference")
    got = _run(f, args, "llvm")
    ref_leaves, ref_tree = dx.tree.flatten(ref)
    got_leaves, got_tree = dx.tree.flatten(got)
    assert ref_tree == got_tree
    for r, g in zip(ref_leaves, got_leaves, strict=True):
        assert g.shape == r.shape and g.dtype == r.dtype, (g.shape, g.dtype, r.shape, r.dtype)
        assert g.weak_type == r.weak_type
        rv, gv = np.asarray(r), np.asarray(g)
        if rv.dtype.kind in "fc":
            t = TOL[rv.dtype] if tol is None else tol
            np.testing.assert_allclose(gv, rv, rtol=t, atol=t, equal_nan=True)
        else:
            np.testing.assert_array_equal(gv, rv)
    if native:
        report = dx.jit(f).lower(*args).compile().report
        assert report.fallbacks == [], report.fallbacks
    return got


def fusion_text(f, *args):
    return dx.jit(f).lower(*args).as_text("fusion")


def rand(shape, dtype=np.float32, low=-2.0, high=2.0):
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return dnp.asarray(RNG.random(shape) > 0.5)
    if dtype.kind in "iu":
        lo = 0 if dtype.kind == "u" else int(low)
        return dnp.asarray(RNG.integers(lo, int(high) + 1, shape).astype(dtype))
    return dnp.asarray(RNG.uniform(low, high, shape).astype(dtype))


# --------------------------------------------------------------------------- scan


def _cumsum_body(c, x):
    c = c + x
    return c, c * 2.0


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("length", [0, 1, 2, 7])
def test_scan_lengths_and_direction(length, reverse):
    xs = rand((length, 3))

    def f(xs):
        return lax.scan(_cumsum_body, dnp.zeros(3), xs, reverse=reverse)

    compare(f, xs)
    assert "scan length=" in fusion_text(f, xs)


def test_scan_without_xs():
    def f(c):
        return lax.scan(lambda c, _: (c * 0.5 + 1.0, c), c, None, length=5)

    compare(f, rand((2, 2)))


@pytest.mark.parametrize(
    "dtype", [np.float32, np.float64, np.int32, np.int8, np.uint8, np.int64, np.bool_]
)
def test_scan_xs_and_ys_dtypes(dtype):
    xs = rand((6, 4), dtype)
    ws = rand((6,), np.float32)

    def f(xs, ws):
        def body(c, xw):
            x, w = xw
            if np.dtype(dtype) == np.bool_:
                acc, y = c + x.astype(np.float32) * w, x ^ (c[0] > 0)
            else:
                acc, y = c + x.astype(np.float32) * w, x
            return acc, (y, acc.sum())

        return lax.scan(body, dnp.zeros(4), (xs, ws))

    with dx.config.context(enable_x64=np.dtype(dtype).itemsize == 8):
        xs = dnp.asarray(np.asarray(xs).astype(dtype))
        compare(f, xs, ws)


def test_scan_multiple_carries_of_mixed_dtypes():
    xs = rand((5, 3))

    def f(xs):
        def body(carry, x):
            s, n, m, flag = carry
            s = s + x
            n = n + 1
            m = dnp.maximum(m, x.max())
            flag = flag | (x.sum() > 1.0)
            return (s, n, m, flag), s * n.astype(np.float32)

        init = (dnp.zeros(3), dnp.asarray(0, np.int32), dnp.asarray(-np.inf), False)
        return lax.scan(body, init, xs)

    compare(f, xs)


def test_scan_carry_permutation_and_passthrough():
    xs = rand((4, 2))

    def f(a, b, xs):
        def body(c, x):
            a, b, k = c
            # swap two carries, keep one unchanged, emit a carry, an input slice and a literal
            return (b, a + x, k), (a, x, 1.0, b)

        return lax.scan(body, (a, b, dnp.asarray(3.0)), xs)

    compare(f, rand((2,)), rand((2,)), xs)


def test_scan_same_value_twice_and_literal_init():
    xs = rand((3,))

    def f(xs):
        def body(c, x):
            c = c * 0.5 + x
            return c, (c, c)

        return lax.scan(body, 1.0, xs)

    compare(f, xs)


def test_scan_consts_and_matmul_body():
    # a small RNN: the body's GEMM and its tanh epilogue run inside the generated loop
    xs = rand((6, 3, 4))
    wx, wh, b = rand((4, 5)), rand((5, 5)) * 0.3, rand((5,))

    def f(xs, wx, wh, b):
        def body(h, x):
            h = dnp.tanh(x @ wx + h @ wh + b)
            return h, h.sum(axis=1)

        return lax.scan(body, dnp.zeros((3, 5)), xs)

    compare(f, xs, wx, wh, b)


@pytest.mark.parametrize("reverse", [False, True])
def test_grad_of_scan(reverse):
    xs = rand((5, 3, 4))
    wx, wh = rand((4, 4)) * 0.5, rand((4, 4)) * 0.3

    def loss(wx, wh, xs):
        def body(h, x):
            h = dnp.tanh(x @ wx + h @ wh)
            return h, (h**2).sum()

        h, ys = lax.scan(body, dnp.zeros((3, 4)), xs, reverse=reverse)
        return h.sum() + ys.sum()

    f = dx.grad(loss, argnums=(0, 1, 2))
    compare(f, wx, wh, xs, tol=1e-4)
    # both the forward scan and its transpose are compiled loops
    assert fusion_text(f, wx, wh, xs).count("scan length=5") >= 2


def test_fori_loop_and_map():
    def f(x):
        y = lax.fori_loop(0, 4, lambda i, c: c * 0.5 + i, x)
        z = lax.map(lambda v: dnp.sin(v) * 2.0, x.reshape(2, -1))
        return y, z

    compare(f, rand((6,)))


# --------------------------------------------------------------------------- while


@pytest.mark.parametrize("start", [0, 3, 10, 25])
def test_while_data_dependent_trip_count(start):
    def f(n, x):
        def cond(c):
            i, _, _ = c
            return i < n

        def body(c):
            i, acc, v = c
            return i + 1, acc + v * i.astype(np.float32), v * 0.9

        return lax.while_loop(cond, body, (dnp.asarray(start, np.int32), dnp.zeros(3), x))

    compare(f, dnp.asarray(10, np.int32), rand((3,)))  # start=10, 25: zero iterations


def test_while_on_values():
    # iterate until convergence: the trip count depends on the data, not on a counter
    def f(x):
        def cond(c):
            v, k = c
            return (dnp.abs(v - 2.0).max() > 1e-3) & (k < 100)

        def body(c):
            v, k = c
            return 0.5 * (v + 4.0 / v), k + 1

        return lax.while_loop(cond, body, (x, 0))

    compare(f, rand((4,), low=0.5, high=9.0))


def test_while_carry_swap():
    def f(a, b):
        def body(c):
            a, b, i = c
            return b, a * 2.0, i + 1

        return lax.while_loop(lambda c: c[2] < 3, body, (a, b, 0))

    compare(f, rand((2,)), rand((2,)))


def test_vmap_of_while_batched_predicate():
    def collatz_steps(n):
        def body(c):
            n, k = c
            n = dnp.where(n % 2 == 0, n // 2, 3 * n + 1)
            return n, k + 1

        return lax.while_loop(lambda c: c[0] > 1, body, (n, 0))[1]

    n = dnp.asarray(np.array([1, 2, 3, 6, 7, 27], np.int32))
    compare(dx.vmap(collatz_steps), n)

    def newton(x, target):
        def body(c):
            v, k = c
            return 0.5 * (v + target / v), k + 1

        return lax.while_loop(lambda c: (dnp.abs(c[0] ** 2 - target) > 1e-4) & (c[1] < 50), body,
                              (x, 0))  # fmt: skip

    compare(dx.vmap(newton), rand((5,), low=1.0, high=3.0), rand((5,), low=1.0, high=20.0))


# --------------------------------------------------------------------------- cond


@pytest.mark.parametrize("index", [-3, 0, 1, 2, 7])
def test_switch_branches_and_clamped_index(index):
    def f(i, x, y):
        branches = [
            lambda x, y: (x + y, y),
            lambda x, y: (x * y, x),  # an input as a result
            lambda x, y: (dnp.exp(x) - y, 2.0 * dnp.ones_like(y)),
        ]
        return lax.switch(i, branches, x, y)

    compare(f, dnp.asarray(index, np.int32), rand((3, 2)), rand((3, 2)))


@pytest.mark.parametrize("pred", [True, False])
def test_cond_with_matmul_and_literals(pred):
    def f(p, a, b):
        return lax.cond(p, lambda a, b: (a @ b, 1.0), lambda a, b: (a @ b.T * 0.0, 2.0), a, b)

    compare(f, dnp.asarray(pred), rand((3, 3)), rand((3, 3)))


def test_cond_same_result_twice():
    def f(p, x):
        return lax.cond(p, lambda x: (x + 1.0, x + 1.0), lambda x: (x, -x), x)

    for p in (True, False):
        compare(f, dnp.asarray(p), rand((4,)))


# --------------------------------------------------------------------------- nesting


def test_nested_loops_and_cond_inside_scan():
    xs = rand((4, 3))

    def f(xs):
        def body(c, x):
            inner = lax.fori_loop(0, 3, lambda i, v: v * 0.5 + x, c)
            branch = lax.cond(x.sum() > 0, lambda v: v + 1.0, lambda v: v - 1.0, inner)
            _, ys = lax.scan(lambda a, b: (a + b, a * b), 0.0, x)
            return branch, ys

        return lax.scan(body, dnp.zeros(3), xs)

    compare(f, xs)
    text = fusion_text(f, xs)
    # fori_loop with static bounds is a scan
    assert text.count("scan length=") == 3 and "cond (2 branches" in text


def test_nested_while_in_while():
    def f(x):
        def outer(c):
            i, v = c
            j, v = lax.while_loop(lambda d: d[0] < i, lambda d: (d[0] + 1, d[1] * 1.1), (0, v))
            return i + 1, v

        return lax.while_loop(lambda c: c[0] < 4, outer, (0, x))

    compare(f, rand((3,)))


# --------------------------------------------------------------------------- fallback


def test_body_without_lowering_keeps_the_python_loop():
    def f(key, x):
        def body(c, k):
            return c + dx.random.normal(k, (3,)), c.sum()

        return lax.scan(body, x, dx.random.split(key, 4))

    key = dx.random.key(1)
    compare(f, key, rand((3,)), native=False)
    assert "reference evaluator: scan" in fusion_text(f, key, rand((3,)))


def test_donation_and_outputs_of_loops_in_programs():
    # the loop writes into the program's output buffers and a later kernel reads them
    def f(x):
        c, ys = lax.scan(lambda c, x: (c + x, c), dnp.zeros(2), x)
        return ys * 2.0 + c, c

    compare(f, rand((5, 2)))
