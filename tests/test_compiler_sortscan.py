"""Native ``sort``, ``top_k`` and cumulative kernels of the LLVM back end, against the
reference evaluator.

Every test runs a function through ``jit`` with ``jit_backend="reference"`` (the NumPy
evaluator, the executable specification) and with ``jit_backend="llvm"`` and checks that
the compiled program ran the kernel (no reference-evaluator step: the compile report's
``fallbacks`` is empty).

Tolerances: ``sort``, ``top_k``, ``cumsum``, ``cumprod``, ``cummax`` and ``cummin`` must be
*bitwise* equal to the reference (same accumulation order as NumPy's ``accumulate``; the
sign of zeros and the position of NaNs included). ``cumlogsumexp`` evaluates NumPy's
``logaddexp`` formula with the compiled ``exp``/``log1p`` (at most 1 and 3 ULP, see
``test_mathlib.py``); each step adds at most a few ULP to the running value and the
running value's error carries over with a factor below one, so results are compared
within ``CUMLOGSUMEXP_ULP`` units in the last place of the result (plus an absolute
``CUMLOGSUMEXP_ULP`` ULPs of 1.0 near zero, where the result is a difference).
Compositions with ``grad``/``vmap`` (whose derivatives are built from other primitives)
use ``test_compiler.compare``'s tolerances.
"""

from __future__ import annotations

import numpy as np
import pytest

import derivax as dx
import derivax.lax as lax
import derivax.numpy as dnp
from compiled import _cache_dir, _llvm_backend, _x64, compare_exact  # noqa: F401 (fixtures)
from compiled import assert_native as _assert_native
from compiled import run as _run
from derivax._compiler import fusion, runtime
from derivax._ir import Var
from test_compiler import compare, rand

CUMLOGSUMEXP_ULP = 8
RNG = np.random.default_rng(1)


def compare_ulp(f, *args, ulp=CUMLOGSUMEXP_ULP):
    ref = np.asarray(_run(f, args, "reference"))
    got = np.asarray(_run(f, args, "llvm"))
    assert got.shape == ref.shape and got.dtype == ref.dtype
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    inf = np.isinf(ref)
    np.testing.assert_array_equal(got[inf], ref[inf])
    fin = np.isfinite(ref)
    spacing = np.spacing(np.maximum(np.abs(ref[fin]), 1.0).astype(ref.dtype))
    err = np.abs(got[fin].astype(np.float64) - ref[fin])
    assert np.all(err <= ulp * spacing), (err / spacing).max()
    _assert_native(f, *args)


def _special(shape, dtype):
    """Random values with NaN, +-inf and signed zeros (floats), or a small range with many
    repeats (integers, bools)."""
    dtype = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64))
    if dtype == np.bool_:
        return dnp.asarray(RNG.random(shape) > 0.5)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        v = RNG.integers(max(info.min, -5), min(info.max, 6), n).astype(dtype)
        if n >= 4:  # the extremes of the type
            v[:2] = [info.min, info.max]
        return dnp.asarray(v.reshape(shape))
    v = RNG.uniform(-2, 2, n).astype(dtype)
    specials = np.array([np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, 1.0], dtype)
    if n >= 16:
        pos = RNG.choice(n, size=len(specials), replace=False)
        v[pos] = specials
        v[RNG.choice(n, size=n // 8, replace=False)] = RNG.choice([0.0, -0.0, 0.5], n // 8)
    return dnp.asarray(v.reshape(shape))


# --------------------------------------------------------------------------- cumulative ops

CUM = ["cumsum", "cumprod", "cummax", "cummin"]
NUM_DTYPES = [np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint32]
# (shape, axis): scalar-like, empty, odd, 3-D along every axis, long rows
CUM_SHAPES = [
    ((1,), 0),
    ((0,), 0),
    ((3, 0), 0),
    ((3, 0), 1),
    ((0, 4), 1),
    ((7,), 0),
    ((70,), 0),
    ((3, 5, 4), 0),
    ((3, 5, 4), 1),
    ((3, 5, 4), 2),
    ((2, 3000), 1),
    ((2500, 3), 0),
]


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("shape,axis", CUM_SHAPES)
@pytest.mark.parametrize("name", CUM)
def test_cumulative_float32_is_bitwise_equal(name, shape, axis, reverse):
    x = _special(shape, np.float32)
    if name == "cumprod":  # keep products finite and away from 0 over long rows
        x = dnp.where(dnp.isfinite(x), 1.0 + x / 2000.0, x)
    fn = getattr(lax, name)
    compare_exact(lambda x: fn(x, axis=axis, reverse=reverse), x)


@pytest.mark.parametrize("dtype", NUM_DTYPES)
@pytest.mark.parametrize("name", CUM)
def test_cumulative_dtypes(name, dtype):
    fn = getattr(lax, name)
    with _x64(dtype):
        for shape, axis in [((45,), 0), ((4, 9, 3), 1), ((4, 9, 3), 2)]:
            x = _special(shape, dtype)
            for reverse in (False, True):
                compare_exact(lambda x, a=axis, r=reverse: fn(x, axis=a, reverse=r), x)


def test_cumulative_integer_overflow_wraps_like_the_reference():
    x = dnp.asarray(np.full((40,), 100, np.int8))
    compare_exact(lambda x: (lax.cumsum(x), lax.cumprod(x)), x)
    u = dnp.asarray(np.full((3, 40), 250, np.uint8))
    compare_exact(lambda u: (lax.cumsum(u, axis=1), lax.cumprod(u, axis=1, reverse=True)), u)


def test_cummax_cummin_nan_and_signed_zero_choices():
    vals = [-0.0, 0.0, -0.0, np.nan, 1.0, -np.nan, 2.0, np.inf, -np.inf, 0.0]
    for dtype in (np.float32, np.float64):
        with _x64(dtype):
            x = dnp.asarray(np.array(vals, dtype))
            z = dnp.asarray(np.array([[-0.0, 0.0], [0.0, -0.0], [-0.0, -0.0], [0.0, 0.0]], dtype))
            for rev in (False, True):
                compare_exact(lambda x, r=rev: (lax.cummax(x, reverse=r), lax.cummin(x)), x)
                compare_exact(lambda z, r=rev: (lax.cummax(z, axis=0), lax.cummin(z, 1, r)), z)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,axis", CUM_SHAPES)
def test_cumlogsumexp_within_a_few_ulp(shape, axis, dtype):
    with _x64(dtype):
        x = _special(shape, dtype)
        x = dnp.where(dnp.isnan(x), 0.5, x) if x.size and x.size < 16 else x
        for reverse in (False, True):
            compare_ulp(lambda x, r=reverse: lax.cumlogsumexp(x, axis=axis, reverse=r), x)


def test_cumlogsumexp_extremes():
    x = dnp.asarray(np.array([-np.inf, -np.inf, 3.0, 3.0, 80.0, -80.0, np.inf, 1.0], np.float32))
    compare_ulp(lambda x: lax.cumlogsumexp(x), x)
    y = dnp.asarray(np.array([-np.inf, -np.inf, np.inf, np.inf, np.nan, 1.0], np.float32))
    compare_ulp(lambda y: lax.cumlogsumexp(y), y)
    big = dnp.asarray(RNG.normal(0, 30, (3, 700)).astype(np.float32))
    compare_ulp(lambda v: lax.cumlogsumexp(v, axis=1), big)


# --------------------------------------------------------------------------- sort

SORT_DTYPES = [np.float32, np.float64, np.int8, np.int32, np.int64, np.uint8, np.uint16, np.bool_]
SORT_SHAPES = [
    ((1,), 0),
    ((0,), 0),
    ((3, 0), 1),
    ((3, 0), 0),
    ((2,), 0),
    ((17,), 0),
    ((5, 4), 0),
    ((5, 4), 1),
    ((3, 5, 7), 0),
    ((3, 5, 7), 1),
    ((3, 5, 7), 2),
    ((4000,), 0),
    ((3, 1500), 1),
]


@pytest.mark.parametrize("shape,dim", SORT_SHAPES)
@pytest.mark.parametrize("dtype", SORT_DTYPES)
def test_sort_matches_reference(dtype, shape, dim):
    with _x64(dtype):
        x = _special(shape, dtype)
        iota = dnp.asarray(np.arange(x.size, dtype=np.int32).reshape(shape))
        # the permutation (the iota operand) shows stability, the values show the order
        compare_exact(lambda x, i: lax.sort((x, i), dimension=dim, num_keys=1), x, iota)
        compare_exact(lambda x: lax.sort(x, dimension=dim), x)


@pytest.mark.parametrize("n", list(range(1, 71)))
def test_sort_every_short_length(n):
    x = dnp.asarray(RNG.integers(0, 4, (3, n)).astype(np.float32))  # many ties
    iota = dnp.asarray(np.tile(np.arange(n, dtype=np.int32), (3, 1)))
    compare_exact(lambda x, i: lax.sort((x, i), num_keys=1), x, iota)


def test_sort_sorted_reversed_and_constant_rows():
    n = 1000
    rows = np.stack([np.arange(n), np.arange(n)[::-1], np.zeros(n), np.arange(n) % 7])
    x = dnp.asarray(rows.astype(np.float32))
    iota = dnp.asarray(np.tile(np.arange(n, dtype=np.int32), (4, 1)))
    compare_exact(lambda x, i: lax.sort((x, i), num_keys=1), x, iota)


def test_sort_nan_inf_and_signed_zero_order():
    v = np.array([np.nan, 1.0, -0.0, -np.inf, 0.0, -np.nan, np.inf, -0.0, 0.0, -1.0, np.nan])
    for dtype in (np.float32, np.float64):
        with _x64(dtype):
            x = dnp.asarray(v.astype(dtype))
            i = dnp.asarray(np.arange(len(v), dtype=np.int32))
            compare_exact(lambda x, i: lax.sort((x, i)), x, i)


@pytest.mark.parametrize("num_keys", [1, 2, 3])
def test_multi_operand_sort_is_lexicographic_and_stable(num_keys):
    shape = (4, 300)
    k0 = dnp.asarray(RNG.integers(0, 3, shape).astype(np.int32))
    k1 = _special(shape, np.float32)
    k1 = dnp.where(dnp.abs(k1) < 1.0, 0.0, k1)  # ties in the second key too
    k2 = dnp.asarray(RNG.integers(0, 2, shape).astype(np.uint8))
    payload = dnp.asarray(np.tile(np.arange(300, dtype=np.int32), (4, 1)))
    for dim in (0, 1):
        compare_exact(
            lambda a, b, c, d, dim=dim: lax.sort((a, b, c, d), dimension=dim, num_keys=num_keys),
            k0, k1, k2, payload,
        )  # fmt: skip


def test_sort_with_bool_and_duplicate_operands():
    x = dnp.asarray(RNG.random((6, 33)) > 0.5)
    f = rand((6, 33))
    compare_exact(lambda x, f: lax.sort((x, f, x), dimension=1, num_keys=2), x, f)
    compare_exact(lambda f: lax.sort((f, f), num_keys=2), f)


def test_sort_of_a_fused_expression_and_use_of_its_result():
    x = rand((5, 40))
    compare_exact(lambda x: lax.sort(x * 2.0 + 1.0, dimension=1) * 3.0, x)
    f = lambda x: dnp.exp(lax.sort(dnp.tanh(x), dimension=0)) - 1.0  # noqa: E731
    compare(f, x)  # the compiled exp and tanh are within a few ULP
    _assert_native(f, x)


# --------------------------------------------------------------------------- top_k


@pytest.mark.parametrize("dtype", SORT_DTYPES)
@pytest.mark.parametrize("shape", [(1,), (9,), (4, 37), (2, 3, 70), (2, 3000)])
def test_top_k_matches_reference(shape, dtype):
    n = shape[-1]
    with _x64(dtype):
        x = _special(shape, dtype)
        for k in sorted({0, 1, min(3, n), n // 2, n}):
            compare_exact(lambda x, k=k: lax.top_k(x, k), x)


def test_top_k_ties_nans_and_zeros():
    v = np.array([1.0, np.nan, -0.0, 0.0, 1.0, -np.nan, np.inf, 0.0, -0.0, -np.inf, 1.0])
    for dtype in (np.float32, np.float64):
        with _x64(dtype):
            x = dnp.asarray(v.astype(dtype))
            for k in range(len(v) + 1):
                compare_exact(lambda x, k=k: lax.top_k(x, k), x)


def test_top_k_on_another_axis_and_of_empty_rows():
    x = rand((7, 4, 5))
    compare_exact(lambda x: lax.top_k(x, 2, axis=1), x)
    compare_exact(lambda x: lax.top_k(x, 0), dnp.zeros((3, 0), dnp.float32))
    compare_exact(lambda x: lax.top_k(x, 2), dnp.zeros((0, 4), dnp.float32))


# --------------------------------------------------------------------------- compositions


def test_grad_through_sort_and_top_k():
    w = rand((30,))
    x = rand((4, 30))

    def f(x):
        s = lax.sort(x, dimension=1)
        v, _ = lax.top_k(x * x, 5)
        return dnp.sum(s * w) + dnp.sum(v)

    compare(dx.grad(f), x)
    compare(lambda x: dx.jvp(lambda x: lax.sort(x, dimension=0), (x,), (dnp.ones_like(x),)), x)


def test_grad_through_cumulative_ops():
    x = rand((3, 20), low=0.5, high=1.5)

    def f(x):
        return (
            dnp.sum(lax.cumsum(x, axis=1) ** 2)
            + dnp.sum(lax.cumprod(x, axis=1, reverse=True))
            + dnp.sum(lax.cummax(x, axis=0) * x)
        )

    compare(dx.grad(f), x)


def test_grad_of_cumlogsumexp_compiles_in_bounded_kernels():
    # Its derivative is a prefix scan built from slices and pads; inlined whole into one
    # loop, the expression doubles per level (minutes of LLVM time at length 20). The
    # planner stores values once a tree passes fusion.MAX_INLINE_NODES, so every kernel
    # stays small and the program compiles in about a second.
    x = rand((3, 40))
    g = dx.grad(lambda x: dnp.sum(lax.cumlogsumexp(x, axis=1) * x))
    compare(g, x)
    compare(lambda y: dx.jvp(lambda y: lax.cumlogsumexp(y, axis=1), (y,), (y,)), x)
    plan = runtime.executable_for(dx.jit(g).lower(x).call).plan
    sizes: dict = {}

    def expanded(v, root):  # nodes emitted for v, a value read twice counting twice
        if type(v) is not Var or v not in plan.defs or (v is not root and v in plan.mat):
            return 1
        if v not in sizes:
            sizes[v] = 1 + sum(expanded(u, root) for u in plan.defs[v].inputs)
        return sizes[v]

    roots = [r for step in plan.steps for r in getattr(step, "roots", ())]
    assert roots and max(expanded(r, r) for r in roots) <= fusion.MAX_INLINE_NODES


def test_vmap_of_sort_top_k_and_cumsum():
    x = rand((5, 6, 7))

    def f(r):
        return lax.sort(r, dimension=0), lax.top_k(r, 3), lax.cumsum(r, axis=1, reverse=True)

    compare_exact(dx.vmap(f), x)
    compare_exact(dx.vmap(f, in_axes=2), x)


def test_sort_and_cumsum_inside_a_scan_body():
    xs = rand((4, 12))

    def f(xs):
        def body(c, x):
            s = lax.sort(x + c)
            return c + s[-1], lax.cumsum(s)

        return lax.scan(body, dnp.float32(0.0), xs)

    compare_exact(f, xs)


def test_fusion_plan_names_the_kernels():
    x = rand((5, 8))
    text = _assert_native(lambda x: (lax.sort(x), lax.top_k(x, 2), lax.cummax(x, 0, True)), x)
    assert "sort dimension=1 num_keys=1 merge sort" in text
    assert "top_k k=2" in text
    assert "cummax axis=0 reverse" in text
