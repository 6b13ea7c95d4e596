"""Control flow in ``derivax.lax``: cond, switch, while_loop, fori_loop, scan, map and
associative_scan.

Values are checked against plain Python/NumPy loops written here; derivatives with the
shared harness (central differences, forward and reverse, to second order); batching
against Python loops over the batch; errors by their messages. Oracle tests compare
gradients with JAX on identical inputs.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

import derivax as dx  # noqa: E402
import derivax.numpy as dnp  # noqa: E402
from derivax import lax  # noqa: E402
from derivax._core import NotDifferentiableError  # noqa: E402
from derivax._ir import check_ir  # noqa: E402
from harness import assert_close, check_batching, check_grads, check_jit  # noqa: E402

F32 = np.float32


def _rand(seed, *shape, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(F32)


def _sub_irs(closed):
    """Every (sub-)IR of a ClosedIR, depth first."""
    yield closed.ir
    for eqn in closed.eqns:
        for p in eqn.params.values():
            for q in p if isinstance(p, tuple) else (p,):
                if isinstance(q, dx.ClosedIR):
                    yield from _sub_irs(q)


def _check_well_typed(fun, *args):
    closed = dx.make_jaxpr(fun)(*args)
    for ir in _sub_irs(closed):
        check_ir(ir)
    return closed


def _prims(closed):
    return [e.prim.name for e in closed.eqns]


# --------------------------------------------------------------------------- cond / switch


def _piecewise(x):
    return lax.cond(dnp.sum(x) > 0, lambda x: dnp.sin(x) * x, lambda x: x**3 - 1.0, x)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_cond_values_and_only_one_branch_runs(sign):
    x = np.abs(_rand(0, 3)) * sign
    expected = np.sin(x) * x if x.sum() > 0 else x**3 - 1.0
    assert_close(_piecewise(dnp.asarray(x)), expected)
    # The impl evaluates only the chosen branch: the other one would produce NaN.
    out = lax.cond(sign > 0, lambda v: v, lambda v: dnp.log(-dnp.abs(v) - 1.0), dnp.asarray(x))
    assert np.all(np.isfinite(np.asarray(out))) == (sign > 0)


def test_cond_pytrees_operands_and_numeric_pred():
    ops = {"a": dnp.arange(3.0), "n": dnp.int32(2)}
    out = lax.cond(2, lambda d: (d["a"] * d["n"], d["n"]), lambda d: (-d["a"], d["n"] + 1), ops)
    assert_close(out, (np.array([0.0, 2.0, 4.0], F32), np.int32(2)))
    out = lax.cond(0.0, lambda: dnp.float32(1.0), lambda: dnp.float32(2.0))
    assert float(out) == 2.0
    assert float(lax.cond(True, lambda x: x + 1.0, lambda x: x, operand=dnp.float32(1.0))) == 2.0


def test_cond_weak_typed_branch_adopts_other_dtype():
    out = lax.cond(True, lambda: dnp.ones((), dnp.int32), lambda: 2)
    assert out.dtype == np.int32 and int(out) == 1
    out = lax.cond(False, lambda x: x, lambda x: 0.5, dnp.float32(3.0))
    assert out.dtype == np.float32 and not out.weak_type and float(out) == 0.5


@pytest.mark.parametrize("index", [-3, 0, 1, 2, 9])
def test_switch_values_clamp_the_index(index):
    branches = [lambda x: x + 1.0, lambda x: x * 10.0, lambda x: -x]
    x = _rand(1, 2)
    expected = [x + 1.0, x * 10.0, -x][min(max(index, 0), 2)]
    assert_close(lax.switch(index, branches, dnp.asarray(x)), expected)
    assert_close(dx.jit(lambda i, x: lax.switch(i, branches, x))(index, dnp.asarray(x)), expected)


def test_cond_and_switch_are_one_equation_under_jit():
    x = dnp.asarray(_rand(2, 3))
    closed = _check_well_typed(_piecewise, x)
    assert _prims(closed).count("cond") == 1
    cond_eqn = next(e for e in closed.eqns if e.prim.name == "cond")
    assert len(cond_eqn.params["branches"]) == 2
    text = str(closed)
    assert "branch0=" in text and "sin" in text and "integer_pow" in text
    closed = _check_well_typed(lambda i, x: lax.switch(i, [dnp.sin, dnp.cos, dnp.tanh], x), 1, x)
    assert _prims(closed).count("cond") == 1


def test_cond_closure_constants_become_operands():
    y = dnp.asarray(_rand(3, 2))

    @dx.jit
    def f(x, z):
        return lax.cond(x > 0, lambda: z * 2.0 + y, lambda: z * 3.0)

    assert_close(f(1.0, y), np.asarray(y) * 3.0)
    assert_close(f(-1.0, y), np.asarray(y) * 3.0)
    closed = dx.make_jaxpr(f)(1.0, y)
    inner = closed.eqns[0].params["call"]
    cond_eqn = next(e for e in inner.eqns if e.prim.name == "cond")
    # index, z (shared by both branches: passed once) and the constant y.
    assert len(cond_eqn.inputs) == 3


@pytest.mark.parametrize("x0", [0.7, -0.4])
def test_cond_grads(x0):
    check_grads(_piecewise, (np.full(3, x0, F32),), order=2)
    check_jit(_piecewise, (np.full(3, x0, F32),))


@pytest.mark.parametrize("index", [0, 1, 2])
def test_switch_grads(index):
    def f(x, y):
        branches = [lambda x, y: x * y, lambda x, y: dnp.exp(x) - y, lambda x, y: dnp.sin(x * y)]
        return lax.switch(index, branches, x, y)

    check_grads(f, (_rand(4, 3), _rand(5, 3)), order=2)


def test_cond_grad_wrt_closure_constant_and_integer_operand():
    def f(x, w):
        return lax.cond(x.sum() > 0, lambda n: dnp.sum(w * x) * n, lambda n: dnp.sum(w), 3)

    x, w = np.abs(_rand(6, 3)), _rand(7, 3)
    gx, gw = dx.grad(f, argnums=(0, 1))(dnp.asarray(x), dnp.asarray(w))
    assert_close(gx, 3.0 * w)
    assert_close(gw, 3.0 * x)


def test_vmap_cond_batched_predicate_becomes_select():
    x = _rand(8, 5, 3)
    check_batching(_piecewise, (x,))
    closed = dx.make_jaxpr(dx.vmap(_piecewise))(dnp.asarray(x))
    assert "cond" not in _prims(closed) and "select_n" in _prims(closed)


def test_grad_of_vmap_cond_batched_predicate():
    x = _rand(8, 5, 3)
    g = dx.grad(lambda x: dnp.sum(dx.vmap(_piecewise)(x)))(dnp.asarray(x))
    per = [np.asarray(dx.grad(lambda r: dnp.sum(_piecewise(r)))(dnp.asarray(r))) for r in x]
    assert_close(g, np.stack(per), atol=1e-6, rtol=1e-6)


def test_vmap_cond_unbatched_predicate_stays_a_cond():
    f = lambda x, p: lax.cond(p, lambda x: x + 1.0, lambda x: x * 2.0, x)  # noqa: E731
    check_batching(f, (_rand(9, 4, 2), np.bool_(False)), in_axes=(0, None))
    closed = dx.make_jaxpr(dx.vmap(f, in_axes=(0, None)))(dnp.asarray(_rand(9, 4, 2)), False)
    assert "cond" in _prims(closed)


def test_vmap_switch_batched_index():
    def f(i, x):
        return lax.switch(i, [lambda x: x * 2.0, dnp.exp, lambda x: -(x**2)], x)

    check_batching(f, (np.array([0, 1, 2, 7, -1], np.int32), _rand(10, 5, 2)))


def test_vmap_grad_cond():
    f = lambda x: lax.cond(x > 0, dnp.sin, lambda x: x**3, x)  # noqa: E731
    x = np.array([-1.0, 0.5, 2.0], F32)
    expected = np.where(x > 0, np.cos(x), 3 * x**2)
    assert_close(dx.vmap(dx.grad(f))(dnp.asarray(x)), expected)
    assert_close(dx.jit(dx.vmap(dx.grad(f)))(dnp.asarray(x)), expected)


def test_grad_grad_cond():
    f = lambda x: lax.cond(x > 0, lambda x: x**3, dnp.sin, x)  # noqa: E731
    assert float(dx.grad(dx.grad(f))(2.0)) == pytest.approx(12.0)
    assert float(dx.grad(dx.grad(f))(-1.0)) == pytest.approx(np.sin(1.0), rel=1e-6)


# --------------------------------------------------------------------------- scan


@pytest.mark.parametrize("reverse", [False, True])
def test_scan_matches_python_loop(reverse):
    xs = _rand(11, 6, 3)
    w = _rand(12, 3, 3)

    def step(c, x):
        h = dnp.tanh(x @ w + c["h"])
        return {"h": h, "n": c["n"] + 1}, (dnp.sum(h), h * 2.0)

    h, sums, doubled = np.zeros(3, F32), [None] * 6, [None] * 6
    for i in range(5, -1, -1) if reverse else range(6):
        h = np.tanh(xs[i] @ w + h)
        sums[i], doubled[i] = h.sum(), h * 2.0
    init = {"h": dnp.zeros(3), "n": dnp.int32(0)}
    carry, (s, h2) = lax.scan(step, init, dnp.asarray(xs), reverse=reverse)
    assert_close(carry, {"h": h, "n": np.int32(6)}, atol=1e-5, rtol=1e-5)
    assert_close(s, np.array(sums, F32), atol=1e-5, rtol=1e-5)
    assert_close(h2, np.stack(doubled), atol=1e-5, rtol=1e-5)


def test_scan_without_xs_and_with_zero_length():
    carry, ys = lax.scan(lambda c, _: (c * 2.0, c), dnp.float32(1.0), None, length=4)
    assert_close(carry, np.float32(16.0))
    assert_close(ys, np.array([1.0, 2.0, 4.0, 8.0], F32))
    carry, ys = lax.scan(lambda c, x: (c + x, {"y": c * x}), dnp.ones(2), dnp.zeros((0, 2)))
    assert_close(carry, np.ones(2, F32))
    assert ys["y"].shape == (0, 2) and ys["y"].dtype == np.float32
    assert (
        float(dx.grad(lambda c: lax.scan(lambda c, x: (c * x, c), c, dnp.zeros(0))[0])(2.0)) == 1.0
    )


def test_scan_accepts_unroll_and_split_transpose():
    xs = dnp.arange(5.0)
    ref = lax.scan(lambda c, x: (c + x, c), 0.0, xs)
    for unroll in (0, 1, 3, True, False):
        assert_close(lax.scan(lambda c, x: (c + x, c), 0.0, xs, unroll=unroll), ref)
    assert_close(lax.scan(lambda c, x: (c + x, c), 0.0, xs, _split_transpose=True), ref)


def test_scan_weak_typed_init_adopts_body_dtype():
    carry, _ = lax.scan(lambda c, x: (c + x, None), 0, dnp.ones(3, dnp.float32))
    assert carry.dtype == np.float32 and not carry.weak_type and float(carry) == 3.0
    out = lax.fori_loop(0, 3, lambda i, c: c + 0.5, 0)
    assert out.dtype == np.float32 and float(out) == 1.5


def test_scan_is_one_equation_under_jit_and_well_typed():
    xs = dnp.asarray(_rand(13, 4, 3))
    f = lambda xs: lax.scan(lambda c, x: (c * x + 1.0, dnp.sum(c)), dnp.ones(3), xs)  # noqa: E731
    closed = _check_well_typed(f, xs)
    # the loop is one equation; dnp.ones(3) is a broadcast of a literal under jit
    assert _prims(closed) == ["broadcast_in_dim", "scan"]
    assert "body_ir=" in str(closed) and "length=4" in str(closed)
    check_jit(f, (_rand(13, 4, 3),))


def _scan_loss(w, xs):
    def body(h, x):
        h = dnp.tanh(x * w + h * w[::-1])
        return h, dnp.sum(h * x)

    h, ys = lax.scan(body, dnp.zeros(3, w.dtype), xs)
    return dnp.sum(h**2) + dnp.sum(ys)


def _reverse_scan_loss(w, xs):
    def body(h, x):
        return dnp.sin(h) * x + w, h * w

    h, ys = lax.scan(body, w, xs, reverse=True)
    return dnp.sum(h) + dnp.sum(ys**2)


@pytest.mark.parametrize("loss", [_scan_loss, _reverse_scan_loss])
def test_scan_grads(loss):
    check_grads(loss, (_rand(14, 3), _rand(15, 4, 3)), order=2)


def test_scan_grads_of_carry_only_and_ys_only():
    xs = _rand(16, 5)
    check_grads(lambda c: lax.scan(lambda c, x: (c * dnp.sin(x + c), None), c, xs)[0], (F32(0.3),))
    check_grads(lambda xs: lax.scan(lambda c, x: (c + x, c * x), 1.0, xs)[1], (xs,))


def test_grad_grad_scan():
    def f(x):
        return lax.scan(lambda c, _: (dnp.sin(c) * x, None), x, None, length=3)[0]

    check_grads(f, (F32(0.7),), order=3, modes=("rev",))
    g2 = float(dx.grad(dx.grad(f))(0.7))
    eps = 1e-3
    with dx.config.context(enable_x64=True):
        g1 = dx.grad(f)
        num = (float(g1(0.7 + eps)) - float(g1(0.7 - eps))) / (2 * eps)
    assert g2 == pytest.approx(num, rel=1e-3)


def test_jit_grad_scan_matches_eager_and_is_two_scans():
    w, xs = dnp.asarray(_rand(17, 3)), dnp.asarray(_rand(18, 4, 3))
    g = dx.grad(_scan_loss)(w, xs)
    assert_close(dx.jit(dx.grad(_scan_loss))(w, xs), g, atol=1e-6, rtol=1e-6)
    closed = _check_well_typed(dx.grad(_scan_loss), w, xs)
    scans = [e for e in closed.eqns if e.prim.name == "scan"]
    assert [e.params["reverse"] for e in scans] == [False, True]


def test_scan_jvp_and_linearize():
    w, xs = _rand(19, 3), _rand(20, 4, 3)
    t = _rand(21, 3)
    _, tan = dx.jvp(lambda w: _scan_loss(w, dnp.asarray(xs)), (dnp.asarray(w),), (dnp.asarray(t),))
    _, f_jvp = dx.linearize(lambda w: _scan_loss(w, dnp.asarray(xs)), dnp.asarray(w))
    assert_close(f_jvp(dnp.asarray(t)), tan, atol=1e-6, rtol=1e-6)
    g = dx.grad(lambda w: _scan_loss(w, dnp.asarray(xs)))(dnp.asarray(w))
    assert float(tan) == pytest.approx(float(np.dot(np.asarray(g), t)), rel=1e-5)


def test_scan_jacfwd_equals_jacrev():
    f = lambda x: lax.scan(lambda c, xi: (c * dnp.sin(xi * c), c), x, dnp.array([0.5, 1.0, 2.0]))[1]  # noqa: E731
    x = dnp.float32(1.5)
    assert_close(dx.jacfwd(f)(x), dx.jacrev(f)(x), atol=1e-6, rtol=1e-6)


def test_scan_hessian():
    f = lambda x: lax.scan(lambda c, xi: (c * xi + dnp.sin(c), None), 1.0, x)[0]  # noqa: E731
    x = dnp.array([0.5, 1.5, 2.0])
    assert_close(dx.hessian(f)(x), dx.jacfwd(dx.jacrev(f))(x), atol=1e-5, rtol=1e-5)


def test_scan_residuals_not_copied_for_xs_and_consts():
    # Residuals that are slices of xs or loop constants are read from the operands:
    # the primal scan of grad returns only the per-step values the backward pass needs.
    w, xs = dnp.asarray(_rand(22, 3, 3)), dnp.asarray(_rand(23, 5, 3))

    def loss(w):
        h, _ = lax.scan(lambda h, x: (dnp.tanh(x @ w + h), None), dnp.zeros(3), xs)
        return dnp.sum(h)

    closed = dx.make_jaxpr(dx.grad(loss))(w)
    fwd, bwd = [e for e in closed.eqns if e.prim.name == "scan"]
    assert len(fwd.outputs) == 3  # final carry, stacked h_t, stacked 1 - tanh^2
    assert any(v.aval.shape == (3, 3) for v in bwd.inputs)  # w is a constant of the transpose


def test_vmap_scan_batched_xs_and_carries():
    def f(c0, xs):
        return lax.scan(lambda c, x: (c * x + 1.0, c), c0, xs)

    check_batching(f, (_rand(24, 3, 2), _rand(25, 3, 4, 2)))
    check_batching(f, (_rand(24, 3, 2), _rand(25, 4, 2)), in_axes=(0, None))
    check_batching(f, (_rand(24, 2), _rand(25, 4, 3, 2)), in_axes=(None, 1))


def test_vmap_scan_batched_closure_constant_makes_carry_batched():
    def f(w):
        return lax.scan(lambda c, x: (c * w + x, c), 0.0, dnp.arange(3.0))

    check_batching(f, (_rand(26, 4),))


def test_grad_of_vmap_of_scan_and_vmap_of_grad():
    xs = _rand(27, 3, 4)
    g = dx.grad(lambda xs: dnp.sum(dx.vmap(lambda x: _scan_loss(dnp.ones(3), x))(xs)))(xs)
    per = np.stack(
        [np.asarray(dx.grad(lambda x: _scan_loss(dnp.ones(3), x))(dnp.asarray(x))) for x in xs]
    )
    assert_close(g, per, atol=1e-5, rtol=1e-5)
    assert_close(
        dx.vmap(dx.grad(lambda x: _scan_loss(dnp.ones(3), x)))(dnp.asarray(xs)),
        per,
        atol=1e-5,
        rtol=1e-5,
    )


def test_scan_with_integer_carry_differentiates():
    def f(x):
        def body(c, _):
            n, v = c
            return (n + 1, v * x * n.astype(dnp.float32)), None

        return lax.scan(body, (1, x), None, length=3)[0][1]

    # v = x * (x*1) * (x*2) * (x*3) = 6 x^4
    assert float(dx.grad(f)(1.5)) == pytest.approx(24 * 1.5**3, rel=1e-6)


def test_nested_control_flow_grads():
    def f(x):
        def body(c, xi):
            c = lax.cond(xi > 0, lambda c: c * xi, dnp.sin, c)
            inner = lax.scan(lambda a, b: (a + b * c, None), 0.0, dnp.arange(3.0))[0]
            return c + 0.1 * inner, inner

        c, ys = lax.scan(body, x, dnp.array([1.5, -1.0, 2.0]))
        return c + dnp.sum(ys)

    check_grads(f, (F32(0.3),), order=2)


# --------------------------------------------------------------------------- RNN (benchmark W11)


def test_rnn_gradient_matches_unrolled_loop():
    rng = np.random.default_rng(28)
    T, B, D, H = 100, 2, 4, 8
    xs = dnp.asarray(rng.standard_normal((T, B, D)).astype(F32))
    params = {
        "Wx": dnp.asarray((rng.standard_normal((D, H)) * 0.3).astype(F32)),
        "Wh": dnp.asarray((rng.standard_normal((H, H)) * 0.3).astype(F32)),
        "b": dnp.asarray((rng.standard_normal(H) * 0.1).astype(F32)),
    }

    def rnn_scan(p):
        def step(h, x):
            return dnp.tanh(x @ p["Wx"] + h @ p["Wh"] + p["b"]), None

        h, _ = lax.scan(step, dnp.zeros((B, H)), xs)
        return dnp.sum(h**2)

    def rnn_unrolled(p):
        h = dnp.zeros((B, H))
        for t in range(T):
            h = dnp.tanh(xs[t] @ p["Wx"] + h @ p["Wh"] + p["b"])
        return dnp.sum(h**2)

    expected = dx.grad(rnn_unrolled)(params)
    assert_close(dx.grad(rnn_scan)(params), expected, atol=1e-5, rtol=1e-5)
    assert_close(dx.jit(dx.grad(rnn_scan))(params), expected, atol=1e-5, rtol=1e-5)


# --------------------------------------------------------------------------- map


@pytest.mark.parametrize("batch_size", [None, 1, 2, 3, 7, 10])
def test_map_matches_python_loop(batch_size):
    xs = _rand(29, 7, 3)
    expected = np.stack([np.cos(x) * x.sum() for x in xs])
    out = lax.map(lambda x: dnp.cos(x) * dnp.sum(x), dnp.asarray(xs), batch_size=batch_size)
    assert_close(out, expected, atol=1e-6, rtol=1e-6)


def test_map_pytrees_and_grad():
    xs = {"a": _rand(30, 4, 2), "b": _rand(31, 4)}
    out = lax.map(lambda d: (d["a"] * d["b"], d["b"] ** 2), dx.tree.map(dnp.asarray, xs))
    assert_close(out, (xs["a"] * xs["b"][:, None], xs["b"] ** 2))
    check_grads(lambda a: lax.map(lambda r: dnp.sin(r) * r, a), (_rand(32, 4, 2),), order=1)


# --------------------------------------------------------------------------- while_loop / fori_loop


def test_while_loop_values():
    assert int(lax.while_loop(lambda x: x < 100, lambda x: x * 2, 1)) == 128
    out = lax.while_loop(
        lambda c: c["i"] < 5, lambda c: {"i": c["i"] + 1, "s": c["s"] + c["i"]}, {"i": 0, "s": 0.0}
    )
    assert int(out["i"]) == 5 and float(out["s"]) == 10.0
    assert float(lax.while_loop(lambda x: x > 10, lambda x: x - 1, 3.0)) == 3.0


def test_while_loop_is_one_equation_under_jit():
    def f(x):
        return lax.while_loop(lambda c: c[1] < 10.0, lambda c: (c[0] + 1, c[1] * x), (0, 1.0))

    closed = _check_well_typed(f, 1.5)
    assert _prims(closed) == ["while"]
    assert "cond_ir=" in str(closed) and "body_ir=" in str(closed)
    check_jit(f, (np.float32(1.5),))


def _newton_sqrt(a):
    step = lambda c: (c[0] + 1, 0.5 * (c[1] + a / c[1]))  # noqa: E731
    return lax.while_loop(lambda c: c[0] < 20, step, (0, a))[1]


def test_while_loop_forward_mode():
    check_grads(_newton_sqrt, (np.array([4.0, 2.0, 9.0], F32),), order=2, modes=("fwd",))
    a = dnp.array([4.0, 2.0, 9.0])
    assert_close(dx.jacfwd(_newton_sqrt)(a), np.diag(0.5 / np.sqrt(np.asarray(a))), atol=1e-6)
    _, f_jvp = dx.linearize(_newton_sqrt, dnp.float32(4.0))
    assert float(f_jvp(dnp.float32(1.0))) == pytest.approx(0.25)


@pytest.mark.parametrize(
    "fun",
    [
        lambda x: lax.while_loop(lambda c: c < 10.0, lambda c: c * x, x),
        lambda x: lax.fori_loop(0, x.astype(dnp.int32), lambda i, c: c * 2.0, x),
        lambda x: lax.scan(
            lambda c, _: (lax.while_loop(lambda v: v < 5.0, lambda v: v * c, c), None),
            x,
            None,
            length=2,
        )[0],
    ],
    ids=["while_loop", "fori_loop_traced_bounds", "while_inside_scan"],
)
def test_reverse_mode_through_while_loop_explains(fun):
    with pytest.raises(
        NotDifferentiableError, match=r"(?s)while_loop.*number of iterations.*fori_loop.*scan"
    ):
        dx.grad(fun)(3.0)


def test_vmap_while_batched_lanes_run_until_all_stop():
    def collatz_steps(n):
        def body(c):
            n, k = c
            return dnp.where(n % 2 == 0, n // 2, 3 * n + 1), k + 1

        return lax.while_loop(lambda c: c[0] != 1, body, (n, 0))

    def reference(n):
        k = 0
        while n != 1:
            n, k = (n // 2 if n % 2 == 0 else 3 * n + 1), k + 1
        return k

    ns = np.array([1, 2, 3, 6, 7, 27], np.int32)
    out_n, out_k = dx.vmap(collatz_steps)(dnp.asarray(ns))
    assert_close(out_k, np.array([reference(int(n)) for n in ns], np.int32))
    assert_close(out_n, np.ones(6, np.int32))
    check_batching(collatz_steps, (ns,))
    closed = dx.make_jaxpr(dx.vmap(collatz_steps))(dnp.asarray(ns))
    assert _prims(closed).count("while") == 1


def test_vmap_while_unbatched_predicate():
    f = lambda x: lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, c[1] * x), (0, x))  # noqa: E731
    check_batching(f, (_rand(33, 4, 2),))


def test_fori_loop_static_bounds_is_a_scan_and_differentiable():
    def power(x):
        return lax.fori_loop(0, 5, lambda i, acc: acc * x, 1.0)

    closed = _check_well_typed(power, 2.0)
    assert _prims(closed) == ["scan"]
    assert float(power(dnp.float32(2.0))) == 32.0
    assert float(dx.grad(power)(2.0)) == 80.0

    def f(x, y):
        return lax.fori_loop(1, 4, lambda i, c: c * x + y * i, 1.0)

    check_grads(f, (F32(1.5), F32(2.0)), order=2)


def test_fori_loop_traced_bounds_is_a_while():
    f = dx.jit(lambda n, x: lax.fori_loop(0, n, lambda i, c: c + i * x, 0.0))
    assert float(f(4, 2.0)) == 12.0
    assert float(f(0, 2.0)) == 0.0
    closed = dx.make_jaxpr(lambda n, x: lax.fori_loop(0, n, lambda i, c: c + i * x, 0.0))(4, 2.0)
    assert _prims(closed).count("while") == 1
    assert_close(
        dx.vmap(lambda n: lax.fori_loop(0, n, lambda i, c: c + i, 0))(dnp.array([0, 3, 5])),
        np.array([0, 3, 10], np.int32),
    )


@pytest.mark.parametrize("lo,hi", [(0, 0), (3, 1), (2, 6), (-2, 2)])
def test_fori_loop_values(lo, hi):
    acc = 1.0
    for i in range(lo, hi):
        acc = acc * 0.5 + i
    out = lax.fori_loop(lo, hi, lambda i, c: c * 0.5 + i, 1.0)
    assert float(out) == pytest.approx(acc)
    assert float(lax.fori_loop(dnp.int32(lo), hi, lambda i, c: c * 0.5 + i, 1.0)) == pytest.approx(
        acc
    )


def test_loop_index_is_a_weak_int32():
    seen = []

    def body(i, c):
        seen.append((i.dtype, i.weak_type))
        return c

    lax.fori_loop(0, 2, body, 0.0)
    assert seen[0] == (np.dtype(np.int32), True)


def test_disable_jit_runs_python():
    with dx.disable_jit():
        carry, ys = lax.scan(lambda c, x: (c + x, c * 2.0), 0.0, dnp.ones(3))
        assert float(carry) == 3.0 and ys.tolist() == [0.0, 2.0, 4.0]
        assert lax.cond(True, lambda: 1, lambda: 2) == 1
        assert int(lax.fori_loop(0, 4, lambda i, c: c + i, 0)) == 6
        assert int(lax.while_loop(lambda x: x < 10, lambda x: x * 3, 1)) == 27


# --------------------------------------------------------------------------- associative_scan


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8, 13])
@pytest.mark.parametrize("reverse", [False, True])
def test_associative_scan_matches_cumulative_ops(n, reverse):
    x = _rand(34, n, 3)
    flip = (lambda a: a[::-1]) if reverse else (lambda a: a)
    out = lax.associative_scan(dnp.add, dnp.asarray(x), reverse=reverse)
    assert_close(out, flip(np.cumsum(flip(x), axis=0)), atol=1e-5, rtol=1e-5)
    out = lax.associative_scan(dnp.maximum, dnp.asarray(x.T), reverse=reverse, axis=1)
    assert_close(out, flip(np.maximum.accumulate(flip(x), axis=0)).T)


def test_associative_scan_pytree_linear_recurrence():
    # h_t = a_t h_{t-1} + b_t as a scan of affine maps (a, b) composed associatively.
    a, b = np.abs(_rand(35, 9)), _rand(36, 9)

    def compose(f, g):
        return (f[0] * g[0], g[0] * f[1] + g[1])

    _, h = lax.associative_scan(compose, (dnp.asarray(a), dnp.asarray(b)))
    ref, acc = [], 0.0
    for ai, bi in zip(a, b, strict=True):
        acc = ai * acc + bi
        ref.append(acc)
    assert_close(h, np.array(ref, F32), atol=1e-5, rtol=1e-5)


def test_associative_scan_grad_vmap_jit():
    f = lambda x: lax.associative_scan(dnp.multiply, x)  # noqa: E731
    check_grads(f, (np.abs(_rand(37, 6)) + 0.5,), order=2)
    check_batching(f, (_rand(38, 3, 5),))
    check_jit(f, (_rand(39, 5),))


# --------------------------------------------------------------------------- errors


def test_scan_carry_type_mismatch_names_paths_shapes_dtypes():
    with pytest.raises(
        TypeError, match=r"f output carry\['h'\] is f32\[3\] but the input carry\['h'\] is f32\[4\]"
    ):
        lax.scan(lambda c, x: ({"h": c["h"][:3]}, None), {"h": dnp.zeros(4)}, dnp.ones(2))
    with pytest.raises(TypeError, match=r"output carry is i32\[\] but the input carry is f32\[\]"):
        lax.scan(lambda c, x: (c.astype(dnp.int32), x), dnp.float32(0.0), dnp.ones(2))
    with pytest.raises(TypeError, match="tree structure of the input carry"):
        lax.scan(lambda c, x: ({"h": c["h"], "g": 1.0}, None), {"h": dnp.zeros(4)}, dnp.ones(2))
    with pytest.raises(TypeError, match=r"must return a pair \(new_carry, y\)"):
        lax.scan(lambda c, x: c, 0.0, dnp.ones(2))


def test_loop_carry_mismatch_messages():
    with pytest.raises(
        TypeError,
        match=r"while_loop: body_fun output carry is f32\[\] but the input carry is i32\[\]",
    ):
        lax.while_loop(lambda c: c < 3, lambda c: c + 1.5, dnp.int32(1))
    with pytest.raises(
        TypeError,
        match=r"fori_loop: body_fun output init_val\[1\] is f32\[2,2\] but the input init_val\[1\] is f32\[2\]",
    ):
        lax.fori_loop(0, 3, lambda i, c: (c[0], dnp.stack([c[1], c[1]])), (1.0, dnp.zeros(2)))
    with pytest.raises(TypeError, match="cond_fun must return a boolean scalar, got f32"):
        lax.while_loop(lambda c: c, lambda c: c, 1.0)


def test_scan_length_errors():
    with pytest.raises(ValueError, match=r"xs\['a'\] has 2, xs\['b'\] has 3"):
        lax.scan(lambda c, x: (c, x), 0.0, {"a": dnp.ones(2), "b": dnp.ones(3)})
    with pytest.raises(ValueError, match="pass it with length="):
        lax.scan(lambda c, x: (c, x), 0.0, None)
    with pytest.raises(ValueError, match="length=3"):
        lax.scan(lambda c, x: (c, x), 0.0, dnp.ones(2), length=3)
    with pytest.raises(ValueError, match="scalar"):
        lax.scan(lambda c, x: (c, x), 0.0, dnp.float32(1.0), length=1)
    with pytest.raises(TypeError, match="unroll"):
        lax.scan(lambda c, x: (c, x), 0.0, dnp.ones(2), unroll=-1)


def test_cond_and_switch_errors():
    with pytest.raises(TypeError, match=r"pred must be a scalar, got an array of shape \(1,\)"):
        lax.cond(dnp.array([True]), lambda: 1.0, lambda: 2.0)
    with pytest.raises(
        TypeError, match=r"shapes differ: false_fun output is f32\[2\], true_fun output is f32\[3\]"
    ):
        lax.cond(True, lambda: dnp.ones(3), lambda: dnp.ones(2))
    with pytest.raises(TypeError, match=r"dtypes differ.*i32\[3\]"):
        lax.cond(True, lambda: dnp.ones(3, dnp.int32), lambda: dnp.ones(3))
    with pytest.raises(TypeError, match=r"\['b'\] is f32\[2\]"):
        lax.cond(True, lambda: {"b": dnp.ones(2)}, lambda: {"b": dnp.ones(())})
    with pytest.raises(TypeError, match="same tree structure"):
        lax.cond(True, lambda: dnp.ones(3), lambda: (dnp.ones(3),))
    with pytest.raises(TypeError, match="index must be an integer scalar, got f32"):
        lax.switch(1.5, [lambda: 1.0, lambda: 2.0])
    with pytest.raises(ValueError, match="branches is empty"):
        lax.switch(0, [])
    with pytest.raises(TypeError, match="true_fun must be callable"):
        lax.cond(True, 1.0, lambda: 2.0)


def test_fori_loop_and_map_argument_errors():
    with pytest.raises(TypeError, match="lower must be an integer scalar"):
        lax.fori_loop(0.5, 3, lambda i, c: c, 0.0)
    with pytest.raises(ValueError, match="unroll= needs static loop bounds"):
        dx.jit(lambda n: lax.fori_loop(0, n, lambda i, c: c, 1.0, unroll=2))(3)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        lax.map(lambda x: x, dnp.ones(3), batch_size=0)
    with pytest.raises(TypeError, match="fn must keep the shapes"):
        lax.associative_scan(lambda a, b: a[:1], dnp.ones(4))


def test_traced_python_if_in_body_explains_where():
    with pytest.raises(dx.ConcretizationTypeError, match="scan"):
        lax.scan(lambda c, x: (c + x if c > 0 else c, None), 0.0, dnp.ones(3))


# --------------------------------------------------------------------------- internals


def test_partial_eval_fallback_recomputes_primal(monkeypatch):
    # Without the while partial-evaluation rule, a scan whose body holds a while cannot
    # separate primal and tangent work; the tangent scan then recomputes the primal.
    from derivax.lax import _cf_util, _loops

    def f(x):
        def body(c, xi):
            y = lax.while_loop(lambda v: v[0] < 3, lambda v: (v[0] + 1, v[1] * xi), (0, c))[1]
            return y * c, y

        return lax.scan(body, x, dnp.array([1.1, 0.9]))

    expected = dx.jvp(f, (2.0,), (1.0,))
    monkeypatch.delitem(_cf_util.PE_RULES, _loops.while_p)
    assert_close(dx.jvp(f, (2.0,), (1.0,)), expected, atol=1e-6, rtol=1e-6)
    # And the tangents are right, not just equal to the split version:
    check_grads(lambda x: f(x)[0], (F32(2.0),), order=1, modes=("fwd",))


# --------------------------------------------------------------------------- oracle: JAX


@pytest.mark.oracle
def test_control_flow_gradients_match_jax():
    jax = pytest.importorskip("jax", reason="JAX is the oracle for control-flow gradients")
    jnp = jax.numpy
    rng = np.random.default_rng(40)
    T, D, H = 12, 3, 4
    xs = rng.standard_normal((T, D)).astype(F32)
    p = {
        "Wx": (rng.standard_normal((D, H)) * 0.5).astype(F32),
        "Wh": (rng.standard_normal((H, H)) * 0.5).astype(F32),
        "b": (rng.standard_normal(H) * 0.1).astype(F32),
    }

    def make(np_, lax_):
        def rnn(p, xs):
            def step(h, x):
                h = np_.tanh(x @ p["Wx"] + h @ p["Wh"] + p["b"])
                return h, np_.sum(h)

            h, ys = lax_.scan(step, np_.zeros(H, np_.float32), xs)
            return np_.sum(h**2) + np_.sum(ys * ys)

        def rev(p, xs):
            def step(h, x):
                return np_.sin(h) + x @ p["Wx"], h * p["b"]

            h, ys = lax_.scan(step, p["b"], xs, reverse=True)
            return np_.sum(h) + np_.sum(ys)

        def branchy(p, xs):
            def step(c, x):
                c = lax_.cond(
                    np_.sum(x) > 0, lambda c: np_.tanh(c @ p["Wh"]), lambda c: c * p["b"], c
                )
                c = lax_.switch(
                    (np_.sum(x > 0)).astype(np_.int32),
                    [lambda c: c + 1.0, lambda c: np_.sin(c), lambda c: c * c, lambda c: -c],
                    c,
                )
                return c, None

            return np_.sum(lax_.scan(step, p["b"], xs)[0])

        def fori(p, xs):
            return np_.sum(
                lax_.fori_loop(0, 5, lambda i, h: np_.tanh(h @ p["Wh"] + xs[i] @ p["Wx"]), p["b"])
            )

        def assoc(p, xs):
            return np_.sum(lax_.associative_scan(lambda a, b: a * np_.tanh(b), xs @ p["Wx"]))

        return [rnn, rev, branchy, fori, assoc]

    for ours, theirs in zip(make(dnp, lax), make(jnp, jax.lax), strict=True):
        g = dx.grad(ours)(dx.tree.map(dnp.asarray, p), dnp.asarray(xs))
        g_ref = jax.grad(theirs)(p, jnp.asarray(xs))
        assert_close(
            dx.tree.map(np.asarray, g),
            dx.tree.map(np.asarray, dict(g_ref)),
            atol=1e-5,
            rtol=1e-4,
            err_msg=ours.__name__,
        )


@pytest.mark.oracle
def test_while_loop_jvp_and_batching_match_jax():
    jax = pytest.importorskip("jax", reason="JAX is the oracle for control-flow derivatives")
    jnp = jax.numpy

    def make(np_, lax_):
        def f(a):
            return lax_.while_loop(
                lambda c: np_.max(np_.abs(c[1] * c[1] - a)) > 1e-3,
                lambda c: (c[0] + 1, 0.5 * (c[1] + a / c[1])),
                (0, a),
            )[1]

        return f

    a = np.array([2.0, 9.0, 0.5], F32)
    t = np.array([1.0, -0.5, 2.0], F32)
    ours = dx.jvp(make(dnp, lax), (dnp.asarray(a),), (dnp.asarray(t),))
    theirs = jax.jvp(make(jnp, jax.lax), (a,), (t,))
    assert_close(
        [np.asarray(o) for o in ours], [np.asarray(o) for o in theirs], atol=1e-6, rtol=1e-5
    )
    batch = np.abs(np.random.default_rng(41).standard_normal((4, 3))).astype(F32) + 0.1
    assert_close(
        np.asarray(dx.vmap(make(dnp, lax))(dnp.asarray(batch))),
        np.asarray(jax.vmap(make(jnp, jax.lax))(batch)),
        atol=1e-6,
        rtol=1e-6,
    )
