"""The LLVM back end of ``jit`` against the reference evaluator.

Every test runs a function through ``jit`` twice: with ``jit_backend="reference"`` (the
NumPy evaluator, the executable specification) and with ``jit_backend="llvm"``, and
compares values, dtypes, weak types and shapes.

Documented tolerances (relative and absolute, per float dtype): float32 ``1e-5``, float64
``1e-12``; integers and bools exactly. They cover the compiled transcendentals (at most 3
ULP, see ``test_mathlib.py``), FMA contraction, and reductions and GEMMs that accumulate
in a different order than NumPy.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import derivax as dx
import derivax.lax as lax
import derivax.numpy as dnp
from derivax import nn
from derivax._compiler import runtime
from derivax._core import REGISTRY

TOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}


@pytest.fixture(scope="module", autouse=True)
def _llvm_backend(tmp_path_factory):
    cache = tmp_path_factory.mktemp("derivax-cache")
    # a lowering bug must fail the test, not quietly run on the reference evaluator
    runtime.STRICT = True
    try:
        with dx.config.context(jit_backend="llvm", cache_dir=str(cache)):
            yield
    finally:
        runtime.STRICT = False


def _run(f, args, backend, static_argnums=()):
    with dx.config.context(jit_backend=backend):
        return dx.jit(f, static_argnums=static_argnums)(*args)


def compare(f, *args, tol=None, static_argnums=()):
    """Run ``f`` jitted on both back ends and assert the results agree."""
    ref = _run(f, args, "reference", static_argnums)
    got = _run(f, args, "llvm", static_argnums)
    ref_leaves, ref_tree = dx.tree.flatten(ref)
    got_leaves, got_tree = dx.tree.flatten(got)
    assert ref_tree == got_tree
    for r, g in zip(ref_leaves, got_leaves, strict=True):
        assert type(g) is dx.Array
        assert g.shape == r.shape and g.dtype == r.dtype, (g.shape, g.dtype, r.shape, r.dtype)
        assert g.weak_type == r.weak_type
        rv, gv = np.asarray(r), np.asarray(g)
        if rv.dtype.kind in "fc":
            t = TOL[rv.dtype] if tol is None else tol
            np.testing.assert_allclose(gv, rv, rtol=t, atol=t, equal_nan=True)
        else:
            np.testing.assert_array_equal(gv, rv)
    return got


def _lowered_report(f, *args):
    return dx.jit(f).lower(*args).compile().report


RNG = np.random.default_rng(0)


def rand(shape, dtype=np.float32, low=-3.0, high=3.0, rng=RNG):
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return dnp.asarray(rng.random(shape) > 0.5)
    if dtype.kind in "iu":
        lo = 0 if dtype.kind == "u" else int(low)
        return dnp.asarray(rng.integers(lo, max(int(high), lo + 1) + 1, shape).astype(dtype))
    v = rng.uniform(low, high, shape).astype(dtype)
    return dnp.asarray(v)


# --------------------------------------------------------------------------- elementwise table

UNARY_FLOAT = [
    "exp", "exp2", "expm1", "log", "log1p", "tanh", "logistic", "erf", "sin", "cos", "tan",
    "sqrt", "rsqrt", "cbrt", "floor", "ceil", "is_finite", "asin", "acos", "atan", "sinh",
    "cosh", "asinh", "acosh", "atanh", "erf_inv",
]  # fmt: skip
UNARY_NUM = ["neg", "abs", "sign"]
BINARY_NUM = ["add", "sub", "mul", "div", "rem", "max", "min"]
BINARY_FLOAT = ["pow", "atan2", "nextafter"]
COMPARE = ["eq", "ne", "lt", "le", "gt", "ge"]
BITWISE = ["and", "or", "xor"]

SHAPES = [(), (0,), (7,), (3, 5), (2, 3, 4)]


def _unary_fn(name):
    fn = {"and": lax.bitwise_and, "or": lax.bitwise_or, "xor": lax.bitwise_xor}.get(name)
    return fn or getattr(lax, name)


def _special_floats(shape, dtype):
    vals = np.array(
        [0.0, -0.0, 1.0, -1.0, 0.5, 2.5, -2.5, 1e-40, np.inf, -np.inf, np.nan, 100.0, -100.0],
        dtype,
    )
    n = int(np.prod(shape, dtype=np.int64))
    base = RNG.uniform(-4, 4, n).astype(dtype)
    base[: min(n, len(vals))] = vals[: min(n, len(vals))]
    return dnp.asarray(base.reshape(shape))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", UNARY_FLOAT)
def test_unary_float(name, shape):
    x = _special_floats(shape, np.float32)
    compare(lambda x: getattr(lax, name)(x), x, tol=2e-5 if name in ("erf_inv",) else None)


@pytest.mark.parametrize("name", UNARY_FLOAT + ["round"])
def test_unary_float64(name):
    with dx.config.context(enable_x64=True):
        x = _special_floats((40,), np.float64)
        fn = getattr(lax, name)
        compare(lambda x: fn(x), x)


def test_round_methods():
    x = dnp.asarray(np.array([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, -2.6, 0.0], np.float32))
    compare(lambda x: (lax.round(x, 0), lax.round(x, 1)), x)


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.uint8])
@pytest.mark.parametrize("name", UNARY_NUM)
def test_unary_num(name, dtype):
    x = rand((3, 7), dtype)
    compare(lambda x: getattr(lax, name)(x), x)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.uint32])
@pytest.mark.parametrize("name", BINARY_NUM)
def test_binary_num(name, dtype, shape):
    x = rand(shape, dtype, -10, 10)
    y = rand(shape, dtype, -3, 3)  # includes zeros: integer x/0 and x%0 give 0
    compare(lambda x, y: getattr(lax, name)(x, y), x, y)


def test_integer_division_edge_cases():
    imin = np.iinfo(np.int32).min
    x = dnp.asarray(np.array([imin, imin, 7, -7, 7, -7, 0, 5], np.int32))
    y = dnp.asarray(np.array([-1, 1, 2, 2, -2, -2, 0, 0], np.int32))
    compare(lambda x, y: (lax.div(x, y), lax.rem(x, y)), x, y)


@pytest.mark.parametrize("name", BINARY_FLOAT)
def test_binary_float(name):
    x = _special_floats((13, 13), np.float32)
    y = dnp.asarray(np.asarray(x).T.copy())
    compare(lambda x, y: getattr(lax, name)(x, y), x, y)


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.bool_])
@pytest.mark.parametrize("name", COMPARE + ["max", "min"])
def test_compare(name, dtype):
    if dtype == np.float32:
        x = _special_floats((13,), dtype)
        y = dnp.asarray(np.asarray(x)[::-1].copy())
    else:
        x, y = rand((4, 5), dtype), rand((4, 5), dtype)
    compare(lambda x, y: getattr(lax, name)(x, y), x, y)


@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.bool_])
@pytest.mark.parametrize("name", BITWISE + ["not"])
def test_bitwise(name, dtype):
    x, y = rand((3, 6), dtype, -100, 100), rand((3, 6), dtype, -100, 100)
    if name == "not":
        compare(lambda x: lax.bitwise_not(x), x)
    else:
        compare(lambda x, y: _unary_fn(name)(x, y), x, y)


@pytest.mark.parametrize("name", ["shift_left", "shift_right_arithmetic", "shift_right_logical"])
def test_shifts(name):
    x = dnp.asarray(np.array([1, -8, 255, -1, 7, 1 << 30], np.int32))
    y = dnp.asarray(np.array([0, 1, 4, 31, 32, 40], np.int32))
    compare(lambda x, y: getattr(lax, name)(x, y), x, y)


def test_clz_fma_bitcast():
    x = dnp.asarray(np.array([0, 1, 255, -1, 1 << 20], np.int32))
    compare(lambda x: lax.clz(x), x)
    f = rand((9,))
    compare(lambda a: lax.bitcast_convert_type(a, np.int32), f)
    a, b, c = rand((9,)), rand((9,)), rand((9,))
    compare(lambda a, b, c: REGISTRY["fma"].bind(a, b, c), a, b, c)


@pytest.mark.parametrize("y", [-3, -1, 0, 1, 2, 3, 7])
@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_integer_pow(y, dtype):
    if y < 0 and dtype == np.int32:
        pytest.skip("negative integer powers of integers are not defined")
    x = rand((11,), dtype, -3, 3)
    compare(lambda x: lax.integer_pow(x, y), x)


@pytest.mark.parametrize(
    "src,dst",
    [
        (np.float32, np.int32),
        (np.float32, np.uint8),
        (np.float32, np.bool_),
        (np.int32, np.float32),
        (np.uint8, np.float32),
        (np.bool_, np.float32),
        (np.bool_, np.int32),
        (np.int32, np.int8),
        (np.int8, np.int32),
        (np.uint8, np.int32),
        (np.int32, np.bool_),
    ],
)
def test_convert(src, dst):
    if np.dtype(src).kind == "f":
        x = dnp.asarray(
            np.array([0.0, -0.0, 1.7, -1.7, 300.5, -300.5, 3e9, -3e9, np.nan, np.inf], src)
        )
    else:
        x = rand((10,), src, -200, 200)
    compare(lambda x: lax.convert_element_type(x, dst), x)


def test_convert_float64():
    with dx.config.context(enable_x64=True):
        x = dnp.asarray(np.array([1.5, -2.25, 1e10, -1e300, np.nan], np.float64))
        compare(lambda x: (lax.convert_element_type(x, np.float32), x.astype(np.int64)), x)
        y = dnp.asarray(np.array([1.5, -2.5], np.float32))
        compare(lambda y: lax.convert_element_type(y, np.float64) * 3, y)


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.bool_])
def test_select(dtype):
    p = rand((4, 6), np.bool_)
    a, b = rand((4, 6), dtype), rand((4, 6), dtype)
    compare(lambda p, a, b: lax.select(p, a, b), p, a, b)
    compare(lambda a, b: lax.select(True, a, b), a, b)
    i = rand((4, 6), np.int32, 0, 2)
    c = rand((4, 6), dtype)
    compare(lambda i, a, b, c: lax.select_n(i, a, b, c), i, a, b, c)


# --------------------------------------------------------------------------- structural ops


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.bool_])
def test_structural(dtype):
    x = rand((3, 4, 5), dtype)
    compare(lambda x: lax.transpose(x, (2, 0, 1)), x)
    compare(lambda x: lax.reshape(x, (4, 15)), x)
    compare(lambda x: lax.reshape(x * 1, (4, 15)), x) if dtype != np.bool_ else None
    compare(lambda x: lax.broadcast_in_dim(x[:, 0, :], (3, 2, 5), (0, 2)), x)
    compare(lambda x: lax.slice(x, (0, 1, 1), (3, 4, 5), (2, 2, 3)), x)
    compare(lambda x: lax.rev(x, (0, 2)), x)
    compare(lambda x: lax.concatenate([x, x[:, :2], x[:, :0]], 1), x)
    compare(lambda x: lax.transpose(lax.rev(x, (1,)), (1, 0, 2))[1:3], x)


def test_pad():
    x = rand((3, 4))
    pv = dnp.asarray(np.float32(-7.0))
    compare(lambda x, p: lax.pad(x, p, [(1, 2, 0), (0, 1, 2)]), x, pv)
    compare(lambda x, p: lax.pad(x, p, [(-1, 2, 1), (2, -1, 0)]), x, pv)
    compare(lambda x, p: lax.pad(x, p, [(0, 0, 0), (0, 0, 0)]) * 2, x, pv)
    e = rand((0, 3))
    compare(lambda x, p: lax.pad(x, p, [(1, 1, 0), (1, 0, 1)]), e, pv)


@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_iota(dtype):
    compare(lambda: lax.iota(dtype, 7))
    compare(
        lambda: (
            lax.broadcasted_iota(dtype, (3, 4), 1)
            if hasattr(lax, "broadcasted_iota")
            else lax.iota(dtype, 3)
        )
    )
    compare(
        lambda x: x + REGISTRY["iota"].bind(dtype=np.dtype(dtype), shape=(3, 4), dimension=1),
        rand((3, 4), dtype),
    )


def test_dynamic_slices():
    x = rand((6, 7))
    u = rand((2, 3))
    for s0, s1 in [(0, 0), (2, 3), (5, 6), (-3, 100)]:
        i, j = dnp.asarray(np.int32(s0)), dnp.asarray(np.int32(s1))
        compare(lambda x, i, j: lax.dynamic_slice(x, (i, j), (2, 3)), x, i, j)
        compare(lambda x, u, i, j: lax.dynamic_update_slice(x, u, (i, j)), x, u, i, j)


@pytest.mark.parametrize("mode", ["clip", "fill", "promise_in_bounds"])
def test_gather(mode):
    x = rand((5, 4, 3))
    i = dnp.asarray(np.array([[0, 4], [7, -1], [2, 2]], np.int32))
    j = dnp.asarray(np.array([[1, 3], [0, 5], [-2, 2]], np.int32))
    compare(lambda x, i, j: lax.gather(x, (i, j), mode=mode), x, i, j)
    compare(lambda x, i: lax.gather(x * 2 + 1, (i,), mode=mode), x, i)


@pytest.mark.parametrize("combine", ["set", "add", "mul", "min", "max"])
@pytest.mark.parametrize("mode", ["drop", "clip"])
def test_scatter(combine, mode):
    x = rand((5, 3))
    i = dnp.asarray(np.array([0, 4, 4, 7, -1, 2], np.int32))
    u = rand((6, 3))
    compare(lambda x, i, u: lax.scatter(x, (i,), u, combine=combine, mode=mode), x, i, u)
    # in place over a temporary operand
    compare(lambda x, i, u: lax.scatter(x * 2.0, (i,), u, combine=combine, mode=mode) + 1, x, i, u)


def test_scatter_int_and_bool():
    x = rand((6,), np.int32)
    i = dnp.asarray(np.array([1, 1, 3], np.int32))
    u = rand((3,), np.int32)
    compare(lambda x, i, u: lax.scatter(x, (i,), u, combine="add"), x, i, u)
    b = rand((6,), np.bool_)
    ub = rand((3,), np.bool_)
    compare(lambda b, i, u: lax.scatter(b, (i,), u, combine="set"), b, i, ub)


# --------------------------------------------------------------------------- reductions

REDUCERS = ["reduce_sum", "reduce_max", "reduce_min", "reduce_prod"]


@pytest.mark.parametrize("axes", [(0,), (1,), (2,), (0, 1), (1, 2), (0, 2), (0, 1, 2)])
@pytest.mark.parametrize("name", REDUCERS)
def test_reductions_axes(name, axes):
    x = rand((3, 5, 6), low=0.5, high=1.5)
    compare(lambda x: getattr(lax, name)(x, axes), x)
    compare(lambda x: getattr(lax, name)(dnp.exp(x) * 2 - x, axes), x)


@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.float32])
@pytest.mark.parametrize("name", REDUCERS)
def test_reductions_dtypes(name, dtype):
    x = rand((4, 9), dtype, -3, 3)
    compare(lambda x: (getattr(lax, name)(x, (1,)), getattr(lax, name)(x, (0,))), x)


def test_reductions_special():
    x = dnp.asarray(np.array([[1.0, np.nan, 3.0], [-np.inf, 2.0, np.inf]], np.float32))
    compare(lambda x: [f(x, (1,)) for f in (lax.reduce_max, lax.reduce_min, lax.reduce_sum)], x)
    e = rand((0, 4))
    compare(
        lambda x: [
            f(x, (0,)) for f in (lax.reduce_max, lax.reduce_min, lax.reduce_sum, lax.reduce_prod)
        ],
        e,
    )
    b = rand((3, 5), np.bool_)
    compare(lambda b: (lax.reduce_and(b, (1,)), lax.reduce_or(b, (0,)), lax.reduce_max(b, (1,))), b)
    s = dnp.asarray(np.float32(3.0))
    compare(lambda s: dnp.sum(s) + dnp.max(s[None]), s)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax(name):
    x = dnp.asarray(np.array([[1, 5, 5, 2], [np.nan, 1, np.nan, 0], [3, 3, 3, 3]], np.float32))
    compare(lambda x: (getattr(lax, name)(x, 1), getattr(lax, name)(x, 0)), x)
    i = rand((4, 7), np.int32)
    compare(lambda x: getattr(lax, name)(x, 1, np.int32), i)
    compare(lambda x: getattr(lax, name)(dnp.sin(x), 0), rand((5, 3)))


def test_reduction_chains():
    x = rand((37, 129))
    compare(lambda x: nn.logsumexp(x, axis=-1), x)
    compare(lambda x: nn.softmax(x, axis=0), x)
    compare(lambda x: nn.log_softmax(x * 3.0, axis=-1), x)
    compare(lambda x: (x - x.mean(0)) / dnp.sqrt(x.var(0) + 1e-5), x)


# --------------------------------------------------------------------------- dot_general


@pytest.mark.parametrize(
    "lshape,rshape,dims",
    [
        ((5, 7), (7, 3), (((1,), (0,)), ((), ()))),
        ((7, 5), (7, 3), (((0,), (0,)), ((), ()))),
        ((5, 7), (3, 7), (((1,), (1,)), ((), ()))),
        ((7, 5), (3, 7), (((0,), (1,)), ((), ()))),
        ((4, 5, 7), (4, 7, 3), (((2,), (1,)), ((0,), (0,)))),
        ((5, 4, 7), (7, 3, 4), (((2,), (0,)), ((1,), (2,)))),
        ((2, 3, 4), (4, 3, 5), (((1, 2), (1, 0)), ((), ()))),
        ((7,), (7,), (((0,), (0,)), ((), ()))),
        ((5, 7), (7,), (((1,), (0,)), ((), ()))),
        ((5, 0), (0, 3), (((1,), (0,)), ((), ()))),
        ((0, 4), (4, 3), (((1,), (0,)), ((), ()))),
        ((2, 3), (4, 5), (((), ()), ((), ()))),
    ],
)
def test_dot_general(lshape, rshape, dims):
    a, b = rand(lshape), rand(rshape)
    compare(lambda a, b: lax.dot_general(a, b, dims), a, b)


def test_dot_scales_and_epilogue():
    a, b, c = rand((6, 5)), rand((5, 4)), rand((4,))
    compare(lambda a, b: (a * 2.0) @ (-b) * 0.5, a, b)
    compare(lambda a, b, c: nn.relu(a @ b + c), a, b, c)
    compare(lambda a, b: (a @ b).T, a, b)
    compare(lambda a, b: dnp.tanh(a @ b) * (a @ b), a, b)


def test_dot_int_and_float64():
    a, b = rand((3, 4), np.int32), rand((4, 2), np.int32)
    compare(lambda a, b: a @ b, a, b)
    with dx.config.context(enable_x64=True):
        a64 = dnp.asarray(np.random.default_rng(3).normal(size=(4, 6)))
        b64 = dnp.asarray(np.random.default_rng(4).normal(size=(6, 3)))
        compare(lambda a, b: a @ b * 3.0, a64, b64)


# --------------------------------------------------------------------------- shapes, dtypes


@pytest.mark.parametrize("shape", SHAPES)
def test_broadcasting_chain(shape):
    x = rand(shape)
    y = rand(shape[-1:] if shape else ())
    compare(lambda x, y: dnp.tanh(x * y + 1.0) - dnp.exp(-dnp.abs(y)) * 0.5, x, y)


def test_broadcast_scalar_arrays():
    s = dnp.asarray(np.float32(2.0))
    x = rand((5, 3))
    compare(lambda s, x: x * s + s, s, x)
    compare(lambda s: dnp.broadcast_to(s, (4, 2)) + 1, s)


def test_mixed_dtypes_chain():
    x, i, b = rand((4, 5)), rand((4, 5), np.int32), rand((4, 5), np.bool_)
    compare(
        lambda x, i, b: dnp.where(b, x * i, x.astype(np.int32).astype(np.float32)) + (i > 0),
        x,
        i,
        b,
    )


def test_float64_chain():
    with dx.config.context(enable_x64=True):
        x = dnp.asarray(np.random.default_rng(5).normal(size=(6, 7)))
        compare(lambda x: dnp.exp(x) / dnp.sum(dnp.exp(x), axis=1, keepdims=True), x)
        compare(lambda x: nn.logsumexp(dnp.tanh(x), axis=0) + dnp.log1p(x * x), x)


def test_weak_types_and_literals():
    x = rand((3,))
    compare(lambda: 2.0)
    compare(lambda x: (x, 3, 2.5), x)
    compare(lambda x: (x.reshape(3, 1), x + 1), x)
    compare(lambda: dnp.ones((2, 2)) * 3)


def test_identity_and_aliases():
    x = rand((6,))
    compare(lambda x: x, x)
    compare(lambda x: (x.reshape(2, 3), x), x)
    compare(lambda x: (lax.stop_gradient(x) * 2, (x * 2).reshape(3, 2)), x)


def test_non_contiguous_inputs():
    base = rand((4, 6))
    xt = base.T  # an eager transpose is a non-contiguous view
    assert not np.asarray(xt).flags.c_contiguous
    got = dx.jit(lambda x: x * 2 + 1)(xt)
    np.testing.assert_allclose(np.asarray(got), np.asarray(base).T * 2 + 1, rtol=1e-6)


def test_numpy_and_python_inputs():
    f = dx.jit(lambda x, y: x * y)
    np.testing.assert_allclose(np.asarray(f(np.arange(3, dtype=np.float32), 2.0)), [0, 2, 4])


# --------------------------------------------------------------------------- random fused chains

_U_OPS = [dnp.tanh, dnp.sin, dnp.cos, nn.sigmoid, dnp.abs, lambda v: -v, lambda v: v * 0.5,
          lambda v: dnp.exp(-v * v), lambda v: dnp.log1p(v * v), lambda v: dnp.sqrt(dnp.abs(v)),
          lambda v: dnp.floor(v), nn.relu]  # fmt: skip
_B_OPS = [dnp.add, dnp.subtract, dnp.multiply, dnp.maximum, dnp.minimum,
          lambda a, b: dnp.where(a > b, a, b * 2.0), lambda a, b: a / (1.0 + b * b)]  # fmt: skip


def _random_program(seed):
    rng = np.random.default_rng(seed)
    n_in = int(rng.integers(1, 4))
    rows, cols = int(rng.integers(1, 9)), int(rng.integers(1, 33))
    shapes = [(rows, cols), (cols,), (rows, 1), ()]
    in_shapes = [shapes[int(rng.integers(0, len(shapes)))] for _ in range(n_in)]
    in_shapes[0] = (rows, cols)
    n_ops = int(rng.integers(3, 14))
    plan = []
    for _ in range(n_ops):
        kind = rng.choice(["u", "b", "b", "r", "c"], p=[0.35, 0.3, 0.15, 0.1, 0.1])
        plan.append((kind, int(rng.integers(0, 10**6))))
    n_outs = int(rng.integers(1, 4))

    def f(*xs):
        pool = list(xs)
        r = np.random.default_rng(seed + 1)
        for kind, k in plan:
            a = pool[int(r.integers(0, len(pool)))]
            if kind == "u":
                pool.append(_U_OPS[k % len(_U_OPS)](a))
            elif kind == "b":
                b = pool[int(r.integers(0, len(pool)))]
                pool.append(_B_OPS[k % len(_B_OPS)](a, b))
            elif kind == "r" and a.ndim:
                ax = k % a.ndim
                red = [dnp.sum, dnp.max, dnp.min, dnp.mean][k % 4]
                pool.append(red(a, axis=ax, keepdims=bool(k % 2)))
            elif kind == "c":
                pool.append(
                    (a > 0.1).astype(np.float32) * a + a.astype(np.int32).astype(np.float32)
                )
        return pool[-n_outs:]

    args = [rand(s, rng=rng) for s in in_shapes]
    return f, args


@pytest.mark.parametrize("seed", range(40))
def test_random_fused_chains(seed):
    f, args = _random_program(seed)
    compare(f, *args, tol=1e-4)


@pytest.mark.parametrize("seed", range(6))
def test_random_chains_grad(seed):
    f, args = _random_program(100 + seed)

    def loss(*xs):
        return sum(dnp.sum(o * o) for o in f(*xs))

    compare(dx.grad(loss, argnums=tuple(range(len(args)))), *args, tol=1e-3)


# --------------------------------------------------------------------------- whole programs


def _mlp_params(rng, sizes):
    params = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        w = dnp.asarray((rng.normal(size=(a, b)) * np.sqrt(2 / a)).astype(np.float32))
        params.append((w, dnp.zeros(b)))
    return params


def _mlp_loss(params, x, y):
    h = x
    for w, b in params[:-1]:
        h = nn.relu(h @ w + b)
    w, b = params[-1]
    logits = h @ w + b
    picked = dnp.take_along_axis(logits, y[:, None], axis=1)[:, 0]
    return dnp.mean(nn.logsumexp(logits, axis=-1) - picked)


def test_mlp_train_step():
    rng = np.random.default_rng(7)
    params = _mlp_params(rng, [20, 16, 16, 10])
    x = dnp.asarray(rng.normal(size=(8, 20)).astype(np.float32))
    y = dnp.asarray(rng.integers(0, 10, 8).astype(np.int32))

    def step(params, x, y):
        loss, g = dx.value_and_grad(_mlp_loss)(params, x, y)
        new = dx.tree.map(lambda p, gp: p - 0.1 * gp, params, g)
        return new, loss

    compare(step, params, x, y)


def test_vmap_grad_and_nested_jit():
    rng = np.random.default_rng(8)
    params = _mlp_params(rng, [6, 5, 3])
    x = dnp.asarray(rng.normal(size=(4, 6)).astype(np.float32))
    y = dnp.asarray(rng.integers(0, 3, 4).astype(np.int32))
    per_ex = dx.vmap(dx.grad(lambda p, x, y: _mlp_loss(p, x[None], y[None])), in_axes=(None, 0, 0))
    compare(per_ex, params, x, y)
    inner = dx.jit(lambda a: dnp.sin(a) * 2)
    compare(lambda a: inner(a) + inner(a * 3), x)


def test_custom_jvp_and_vjp_are_inlined():
    @dx.custom_jvp
    def softplus(x):
        return dnp.log1p(dnp.exp(x))

    @softplus.defjvp
    def _jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return softplus(x), t * nn.sigmoid(x)

    @dx.custom_vjp
    def clip_grad(x):
        return x * 1.0

    clip_grad.defvjp(lambda x: (x, None), lambda _, g: (dnp.clip(g, -0.1, 0.1),))
    x = rand((5,))
    compare(lambda x: softplus(x) * 2, x)
    compare(dx.grad(lambda x: dnp.sum(softplus(clip_grad(x)) ** 2)), x)
    text = dx.jit(lambda x: softplus(x)).lower(x).as_text("ir")
    assert "custom_jvp_call" not in text and "log1p" in text


# --------------------------------------------------------------------------- fallback


def test_fallback_runs_inside_the_schedule():
    x, y = rand((4, 5)), rand((4, 5))

    def f(x, y):
        a = dnp.exp(x) * 2.0  # native
        b = lax.atan2(a, y)  # reference evaluator (no lowering)
        return dnp.tanh(b + x), b  # native again

    compare(f, x, y)
    report = _lowered_report(f, x, y)
    assert report.fallbacks == ["atan2"]
    assert report.kernel_count >= 2
    fusion = dx.jit(f).lower(x, y).as_text("fusion")
    assert "reference evaluator: atan2" in fusion


def test_control_flow_falls_back():
    x = rand((5,))

    def f(x):
        y = lax.cond(dnp.sum(x) > 0, lambda v: v * 2, lambda v: v - 1, x)
        z = lax.fori_loop(0, 3, lambda i, c: c * 0.5 + i, y)
        c, ys = lax.scan(lambda c, v: (c + v, c * v), 0.0, x)
        return z, c, ys

    compare(f, x)


def test_random_and_windows_fall_back():
    key = dx.random.key(0)
    compare(lambda k: dx.random.normal(k, (3, 4)) * 2, key)
    x = rand((1, 6, 6, 2))
    compare(lambda x: lax.reduce_window_max(x, (1, 2, 2, 1), (1, 2, 2, 1)) + 1, x)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "complex64"])
def test_dtypes_without_kernels_fall_back(dtype):
    import ml_dtypes

    dt = np.dtype(ml_dtypes.bfloat16) if dtype == "bfloat16" else np.dtype(dtype)
    x = dnp.asarray(np.linspace(-2, 2, 12).reshape(3, 4).astype(dt))
    y = rand((3, 4))

    def f(x, y):
        z = dnp.exp(x) * 2 + x  # no kernel for this dtype: reference steps
        return z, dnp.sum(y * 3.0, axis=0), (x @ x.T).sum()

    ref = _run(f, (x, y), "reference")
    got = _run(f, (x, y), "llvm")
    for r, g in zip(ref, got):
        assert r.dtype == g.dtype and r.shape == g.shape
        np.testing.assert_allclose(
            np.asarray(g).astype(np.complex128),
            np.asarray(r).astype(np.complex128),
            rtol=1e-5,
            atol=1e-6,
        )


def test_compile_errors_fall_back_unless_strict(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("simulated lowering bug")

    monkeypatch.setattr(runtime, "compile_call", broken)
    f = dx.jit(lambda x: x * 3.0 + 1.0)
    x = rand((4,))
    with pytest.raises(RuntimeError, match="simulated"):
        f(x)
    monkeypatch.setattr(runtime, "STRICT", False)
    g = dx.jit(lambda x: x * 3.0 + 2.0)
    np.testing.assert_allclose(np.asarray(g(x)), np.asarray(x) * 3 + 2, rtol=1e-6)


def test_named_axis_collectives():
    # vmap turns collectives into reductions before the compiler sees them
    x = rand((3, 4))
    f = dx.vmap(lambda v: lax.psum(v, "i") + lax.pmax(v, "i") - lax.pmin(v, "i"), axis_name="i")
    compare(f, x)


def test_debug_options_use_the_reference_evaluator():
    x = rand((3,))
    with dx.config.context(debug_nans=True):
        with pytest.raises(FloatingPointError):
            dx.jit(lambda x: dnp.log(x - 10.0))(x)


def _spd(n):
    a = rand((n, n))
    return a @ a.T + n * np.eye(n, dtype=np.float32)


# Primitives without a native lowering yet: the compiled program runs them through the
# reference evaluator inside its schedule. Each row checks that path against eager values.
FALLBACK = {
    "cholesky": (lambda a: lax.cholesky(a), (_spd(4),)),
    "triangular_solve": (
        lambda a, b: lax.triangular_solve(lax.cholesky(a), b, left_side=True, lower=True),
        (_spd(3), rand((3, 2))),
    ),
    "lu": (lambda a: lax.lu(a)[0], (_spd(4),)),
    "qr": (lambda a: dnp.abs(lax.qr(a)[1]), (rand((4, 3)),)),
    "svd": (lambda a: dnp.linalg.svdvals(a), (rand((4, 3)),)),
    "eigh": (lambda a: dnp.linalg.eigvalsh(a), (_spd(4),)),
    "fft": (lambda x: dnp.abs(dnp.fft.fft(x)), (rand((8,)),)),
    "real": (lambda x: lax.real(dnp.fft.rfft(x)), (rand((8,)),)),
    "imag": (lambda x: lax.imag(dnp.fft.rfft(x)), (rand((8,)),)),
    "complex": (lambda x, y: dnp.abs(lax.complex(x, y)), (rand((5,)), rand((5,)))),
    "conj": (lambda x: lax.imag(lax.conj(dnp.fft.rfft(x))), (rand((8,)),)),
    "polygamma": (lambda x: lax.polygamma(dnp.ones_like(x), dnp.abs(x) + 0.5), (rand((6,)),)),
    "zeta": (lambda x: lax.zeta(dnp.full_like(x, 3.0), dnp.abs(x) + 0.5), (rand((6,)),)),
    "all_gather": (dx.vmap(lambda v: lax.all_gather(v, "i"), axis_name="i"), (rand((3, 2)),)),
    "psum_scatter": (
        dx.vmap(lambda v: lax.psum_scatter(v, "i", tiled=True), axis_name="i"),
        (rand((2, 4)),),
    ),
}


@pytest.mark.parametrize("name", sorted(FALLBACK))
def test_primitives_without_a_lowering_run_through_the_reference_evaluator(name, monkeypatch):
    monkeypatch.setattr(runtime, "STRICT", False)
    f, args = FALLBACK[name]
    compare(f, *args)


def test_every_primitive_is_covered():
    covered = set(UNARY_FLOAT + UNARY_NUM + BINARY_NUM + BINARY_FLOAT + COMPARE + BITWISE)
    covered |= {"not", "round", "integer_pow", "convert_element_type", "select_n", "transpose",
                "reshape", "broadcast_in_dim", "slice", "rev", "concatenate", "pad", "iota",
                "dynamic_slice", "dynamic_update_slice", "gather", "scatter", "argmax",
                "argmin", "dot_general", "stop_gradient", "reduce_and", "reduce_or",
                "shift_left", "shift_right_arithmetic", "shift_right_logical", "clz", "fma",
                "bitcast_convert_type", "jit_call", "custom_jvp_call", "custom_vjp_call",
                "custom_lin", "cond", "while", "scan", "threefry2x32", "reduce_window_max",
                "reduce_window_min", "reduce_window_sum", "random_gamma", "random_poisson",
                "stable_argsort", "select_and_gather_add", "select_and_scatter_add",
                "conv_general_dilated", "random_gamma_grad", "psum", "pmax", "pmin"}  # fmt: skip
    # native kernels, tested in test_compiler_sortscan.py
    covered |= {"sort", "top_k", "cumsum", "cumprod", "cummax", "cummin", "cumlogsumexp"}
    covered |= {"lgamma", "digamma", "erfc"}  # lowered by mathlib: test_mathlib_special.py
    covered |= set(REDUCERS) | set(FALLBACK)
    missing = sorted(set(REGISTRY) - covered)
    assert not missing, f"primitives without a compiler test: {missing}"


# --------------------------------------------------------------------------- runtime


def test_threads_share_an_executable():
    f = dx.jit(lambda x: dnp.tanh(x) @ x.T + 1.0)
    xs = [rand((40, 40)) for _ in range(6)]
    want = [np.tanh(np.asarray(x)) @ np.asarray(x).T + 1.0 for x in xs]
    f(xs[0])
    results = [None] * len(xs)

    def work(i):
        for _ in range(20):
            results[i] = f(xs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r, w in zip(results, want):
        np.testing.assert_allclose(np.asarray(r), w, rtol=1e-4, atol=1e-4)


def test_backend_switch():
    f = dx.jit(lambda x: x * 2)
    x = rand((3,))
    with dx.config.context(jit_backend="reference"):
        a = f(x)
    b = f(x)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_lowered_inspection():
    x = rand((8, 16))
    lowered = dx.jit(lambda x: nn.logsumexp(dnp.exp(x) * 2.0 + 1.0, axis=-1)).lower(x)
    assert "exp" in lowered.as_text("traced")
    assert "reduce_max" in lowered.as_text("ir")
    fusion = lowered.as_text("fusion")
    assert "rows [8, 16]" in fusion and "reduce: " in fusion and "loop" in fusion
    llvm_text = lowered.as_text("llvm")
    assert "define" in llvm_text and "@entry" in llvm_text
    # transcendentals are inline polynomials: no libm calls, no llvm.exp-style intrinsics
    assert not re.search(r"call .*@(llvm\.(exp|log|tanh|sin|cos|pow)\.|expf|logf|tanhf)", llvm_text)
    assert lowered.as_text("asm")
    with pytest.raises(ValueError, match="dialect"):
        lowered.as_text("mlir")
    compiled = lowered.compile()
    r = compiled.report
    assert r.kernel_count >= 2 and r.passes >= 0 and r.fusion >= 0 and r.trace is not None
    np.testing.assert_allclose(
        np.asarray(compiled(x)),
        np.asarray(nn.logsumexp(dnp.exp(x) * 2.0 + 1.0, axis=-1)),
        rtol=1e-5,
    )
    with pytest.raises(TypeError, match="lowered for"):
        compiled(rand((3, 16)))


def test_fusion_merges_and_folds():
    a, b = rand((6, 5)), rand((5, 4))
    # scalar factors fold into alpha: one gemm, no scaling loops
    fusion = dx.jit(lambda a, b: (a * 2.0) @ b * 3.0).lower(a, b).as_text("fusion")
    assert "alpha=6" in fusion and "loop" not in fusion
    # transpose of a dot becomes a dot with swapped operands
    fusion = dx.jit(lambda a, b: (a @ b).T).lower(a, b).as_text("fusion")
    assert fusion.count("] gemm") == 1 and "loop" not in fusion
    # an elementwise chain is one loop; two outputs of the same shape share it
    x = rand((100,))
    fusion = dx.jit(lambda x: (dnp.exp(x) + 1, dnp.exp(x) * 2)).lower(x).as_text("fusion")
    assert fusion.count("loop") == 1
    ir_text = dx.jit(lambda x: lax.neg(lax.neg(x)) * 1.0 + 0.0).lower(x).as_text("ir")
    assert "neg" not in ir_text and "mul" not in ir_text


# --------------------------------------------------------------------------- cache


_CACHE_SCRIPT = textwrap.dedent(
    """
    import numpy as np, derivax as dx, derivax.numpy as dnp
    dx.config.update("jit_backend", "llvm")
    f = dx.jit(lambda x: dnp.tanh(x) @ x.T + dnp.exp(x).sum())
    x = dnp.asarray(np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4))
    c = f.lower(x).compile()
    y = c(x)
    want = np.tanh(np.asarray(x)) @ np.asarray(x).T + np.exp(np.asarray(x)).sum()
    assert np.allclose(np.asarray(y), want, rtol=1e-5), (y, want)
    print("CACHE", c.report.cache)
    """
)


def _run_cache_script(cache_dir):
    env = dict(os.environ, DERIVAX_CACHE_DIR=str(cache_dir))
    env.pop("DERIVAX_DEBUG", None)
    out = subprocess.run(
        [sys.executable, "-c", _CACHE_SCRIPT], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("CACHE")][-1]
    return line.split()[1]


def test_disk_cache_across_processes(tmp_path):
    assert _run_cache_script(tmp_path) == "None"  # compiled
    files = list((tmp_path / "llvm").glob("*.o"))
    assert len(files) == 1
    assert _run_cache_script(tmp_path) == "disk"  # loaded, not compiled


_START_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np, derivax as dx, derivax.numpy as dnp
    print("LLVM_AT_IMPORT", "llvmlite" in sys.modules)
    dx.config.update("jit_backend", "llvm")
    f = dx.jit(lambda x: dnp.tanh(x) * 2.0 + 1.0)
    x = dnp.asarray(np.linspace(-1, 1, 8, dtype=np.float32))
    y = f(x)
    assert np.allclose(np.asarray(y), np.tanh(np.asarray(x)) * 2 + 1, rtol=1e-5)
    from derivax._compiler import runtime
    (call, _, _), _ = f._lookup((x,), {})
    r = runtime.executable_for(call).report
    print("REPORT", r.cache, r.codegen == 0.0 and r.llvm == 0.0, r.load > 0.0)
    print("BLAS_LOADED", "blas" in sys.modules["derivax._compiler.engine"]._STATE)
    """
)


def test_second_process_loads_instead_of_compiling(tmp_path):
    env = dict(os.environ, DERIVAX_CACHE_DIR=str(tmp_path))
    env.pop("DERIVAX_DEBUG", None)
    env.pop("DERIVAX_JIT_BACKEND", None)
    lines = []
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, "-c", _START_SCRIPT], env=env, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        lines.append(dict(ln.split(" ", 1) for ln in out.stdout.splitlines()))
    first, second = lines
    # importing derivax does not load LLVM; it is loaded by the first llvm-backed call
    assert first["LLVM_AT_IMPORT"] == "False"
    assert first["REPORT"] == "None False True"  # compiled
    assert second["REPORT"] == "disk True True"  # loaded the object code, no codegen or LLVM
    assert second["BLAS_LOADED"] == "False"  # a program without BLAS calls never loads it


def test_corrupt_cache_files_are_rebuilt(tmp_path):
    assert _run_cache_script(tmp_path) == "None"
    (path,) = list((tmp_path / "llvm").glob("*.o"))
    good = path.read_bytes()
    for corrupt in (good[: len(good) // 2], good[:10], b"", good[:-1] + bytes([good[-1] ^ 0xFF])):
        path.write_bytes(corrupt)
        assert _run_cache_script(tmp_path) == "None"  # detected, recompiled
        assert path.read_bytes() == good  # and rewritten
    assert _run_cache_script(tmp_path) == "disk"


def test_cache_can_be_turned_off(tmp_path):
    with dx.config.context(cache_dir=None):
        r = _lowered_report(lambda x: dnp.cos(x) * 3.0 - 0.25, rand((7,)))
    assert r.cache in (None, "memory")


# --------------------------------------------------------------------------- donation


def test_donation_reuses_the_buffer_and_deletes_the_array():
    f = dx.jit(lambda x, y: (x * 2.0 + y, dnp.sum(y)), donate_argnums=0)
    x = dnp.asarray(np.arange(6, dtype=np.float32))
    y = dnp.asarray(np.ones(6, np.float32))
    addr = np.asarray(x).__array_interface__["data"][0]
    out, s = f(x, y)
    np.testing.assert_allclose(np.asarray(out), np.arange(6) * 2 + 1)
    assert np.asarray(out).__array_interface__["data"][0] == addr  # written in place
    with pytest.raises(RuntimeError, match="donated"):
        x + 1
    np.testing.assert_allclose(np.asarray(y), 1.0)  # the other input is untouched


def test_donation_never_corrupts_a_live_input():
    f = dx.jit(lambda x, y: x * 2.0 + y, donate_argnums=0)
    x = dnp.asarray(np.arange(6, dtype=np.float32))
    # passed twice: the second use is live, so no donation
    np.testing.assert_allclose(np.asarray(f(x, x)), np.arange(6) * 3)
    np.testing.assert_allclose(np.asarray(x), np.arange(6))
    # a NumPy view of the buffer exists: no donation
    view = np.asarray(x)
    np.testing.assert_allclose(np.asarray(f(x, x * 0)), np.arange(6) * 2)
    np.testing.assert_allclose(view, np.arange(6))
    del view
    # read at another index after the output is written: not reused
    g = dx.jit(lambda x: x[::-1] + x, donate_argnums=0)
    z = dnp.asarray(np.arange(5, dtype=np.float32))
    np.testing.assert_allclose(np.asarray(g(z)), np.arange(5)[::-1] + np.arange(5))
    np.testing.assert_allclose(np.asarray(z), np.arange(5))
    # an input read by a BLAS call that writes the output is not reused
    h = dx.jit(lambda a, b: a @ b, donate_argnums=0)
    a = dnp.asarray(np.eye(3, dtype=np.float32) * 2)
    b = dnp.asarray(np.ones((3, 3), np.float32))
    np.testing.assert_allclose(np.asarray(h(a, b)), np.full((3, 3), 2.0))
    np.testing.assert_allclose(np.asarray(a), np.eye(3) * 2)


def test_donated_train_step():
    rng = np.random.default_rng(9)
    params = _mlp_params(rng, [5, 4, 3])
    x = dnp.asarray(rng.normal(size=(6, 5)).astype(np.float32))
    y = dnp.asarray(rng.integers(0, 3, 6).astype(np.int32))

    def step(params, x, y):
        g = dx.grad(_mlp_loss)(params, x, y)
        return dx.tree.map(lambda p, gp: p - 0.1 * gp, params, g)

    want = params
    for _ in range(3):
        want = _run(step, (want, x, y), "reference")
    f = dx.jit(step, donate_argnums=0)
    p = dx.tree.map(lambda a: dnp.asarray(np.array(a)), params)
    for _ in range(3):
        p = f(p, x, y)
    for a, b in zip(dx.tree.leaves(p), dx.tree.leaves(want)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- convolutions


@pytest.mark.parametrize(
    "strides,padding,lhs_dil,rhs_dil",
    [
        ((1, 1), "SAME", None, None),
        ((2, 1), "VALID", None, None),
        ((1, 1), ((2, 1), (0, -1)), (2, 1), (1, 2)),
        ((3, 2), ((1, 1), (1, 1)), None, (2, 2)),
    ],
)
def test_conv_lowered_as_gemm(strides, padding, lhs_dil, rhs_dil):
    x, w = rand((2, 9, 8, 3)), rand((3, 2, 3, 5))

    def f(x, w):
        y = lax.conv_general_dilated(
            x, w, strides, padding, lhs_dilation=lhs_dil, rhs_dilation=rhs_dil,
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
        )  # fmt: skip
        return nn.relu(y + 0.5)

    compare(f, x, w, tol=1e-4)
    compare(dx.grad(lambda x, w: dnp.sum(f(x, w) ** 2), argnums=(0, 1)), x, w, tol=1e-3)
    fusion = dx.jit(f).lower(x, w).as_text("fusion")
    assert "im2col" in fusion and "] gemm" in fusion and "reference evaluator" not in fusion


def test_conv_other_layouts_and_1d_3d():
    x, w = rand((2, 3, 7, 6)), rand((4, 3, 3, 2))
    compare(
        lambda x, w: lax.conv_general_dilated(
            x, w, (1, 1), "SAME", dimension_numbers=("NCHW", "OIHW", "NCHW")
        ),
        x, w, tol=1e-4,
    )  # fmt: skip
    x1, w1 = rand((3, 10, 2)), rand((3, 2, 4))
    compare(lambda x, w: lax.conv_general_dilated(x, w, (2,), "SAME", dimension_numbers=("NWC", "WIO", "NWC")), x1, w1, tol=1e-4)  # fmt: skip
    x3, w3 = rand((1, 4, 5, 3, 2)), rand((2, 2, 2, 2, 3))
    compare(
        lambda x, w: lax.conv_general_dilated(
            x, w, (1, 1, 1), "VALID", dimension_numbers=("NDHWC", "DHWIO", "NDHWC")
        ),
        x3, w3, tol=1e-4,
    )  # fmt: skip
    # grouped convolutions stay on the reference evaluator
    xg, wg = rand((2, 6, 6, 4)), rand((3, 3, 2, 4))
    compare(
        lambda x, w: lax.conv_general_dilated(
            x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=2
        ),
        xg, wg, tol=1e-4,
    )  # fmt: skip


def test_in_place_root_does_not_clobber_a_later_read():
    # ``s`` may take the buffer of ``mean`` (which dies in the same loop), but ``running``
    # reads ``mean`` at the same index afterwards: all roots are computed before stores.
    x, r = rand((8, 3)), rand((3,))

    def f(x, r):
        mean = dnp.sum(x, axis=0) / 8.0
        sq = dnp.sum((x - mean) ** 2, axis=0)
        s = sq / 8.0
        running = 0.99 * r + 0.01 * mean
        return running, x * s, dnp.sum(s), sq  # sq is an output: s reuses mean's buffer

    fusion = dx.jit(f).lower(x, r).as_text("fusion")
    mean_buf = fusion.split("[1] loop(flat) [3]: d->")[1].split(":")[0]
    assert f"->{mean_buf}" in fusion.split("[3] loop")[1].split("\n")[0]
    compare(f, x, r)
