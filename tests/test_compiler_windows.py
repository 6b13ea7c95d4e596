"""Native windowed-reduction kernels of the LLVM back end (``reduce_window_max/min/sum``,
``select_and_scatter_add``, ``select_and_gather_add``), against the reference evaluator.

Every test runs a function through ``jit`` with ``jit_backend="reference"`` (the NumPy
evaluator, the executable specification) and with ``jit_backend="llvm"`` and checks that
the compiled program ran the kernels (the compile report's ``fallbacks`` is empty).

Tolerances: all results are compared *bitwise* (NaN payloads aside). The kernels combine
every window's elements in the reference's order (row-major window order, padding and
dilation holes included as the reduction's identity), so sums round at the same places;
``max``/``min`` keep NumPy's choice between equal values (the sign of tied zeros) and
propagate NaNs; the scatter accumulates in float64 in row-major window order and rounds
once, as the reference's ``bincount`` does. Functions under ``grad`` are built from
exact operations (products with constants, sums of at most two terms, divisions) so that
they too can be compared bitwise.
"""

from __future__ import annotations

import numpy as np
import pytest

import derivax as dx
import derivax.lax as lax
import derivax.nn as dnn
import derivax.numpy as dnp
from compiled import _cache_dir, _llvm_backend, _x64, compare_exact  # noqa: F401 (fixtures)
from derivax._compiler import fusion, windows
from derivax.lax._reduce_window import (
    _window_params,
    select_and_gather_add_p,
    select_and_scatter_add_p,
)

RNG = np.random.default_rng(7)


def _special(shape, dtype):
    """Random values with NaN, +-inf, signed zeros and repeats (floats), or a small range
    with the type's extremes (integers), or random bools."""
    dtype = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64))
    if dtype == np.bool_:
        return dnp.asarray(RNG.random(shape) > 0.5)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        v = RNG.integers(max(info.min, -5), min(info.max, 6), n).astype(dtype)
        if n >= 4:
            v[:2] = [info.min, info.max]
        return dnp.asarray(v.reshape(shape))
    v = RNG.uniform(-2, 2, n).astype(dtype)
    if n >= 16:
        specials = np.array([np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, 1.0], dtype)
        v[RNG.choice(n, size=len(specials), replace=False)] = specials
        v[RNG.choice(n, size=n // 6, replace=False)] = RNG.choice([0.0, -0.0, 0.5], n // 6)
    return dnp.asarray(v.reshape(shape))


def _finite(shape, dtype=np.float32, repeats=True):
    """Finite values (for sources and gradients), some repeated to make ties."""
    v = RNG.uniform(-2, 2, shape).astype(dtype)
    if repeats:
        v = np.round(v * 2) / 2  # many equal values: ties in every window
    return dnp.asarray(v)


REDUCERS = {
    "max": lax.reduce_window_max,
    "min": lax.reduce_window_min,
    "sum": lax.reduce_window_sum,
}

# 2-D pooling configurations: (window, strides, padding) over the two spatial axes
POOLS = [
    ((1, 1), (1, 1), "VALID"),
    ((2, 2), (2, 2), "VALID"),
    ((3, 3), (1, 1), "SAME"),
    ((3, 2), (2, 3), "SAME"),
    ((2, 3), (3, 1), "VALID"),
    ((3, 3), (2, 2), ((1, 2), (0, 1))),
    ((2, 2), (1, 1), ((2, 0), (1, 1))),
    ((3, 1), (3, 2), "SAME_LOWER"),
]


def _full(layout, window, strides, padding):
    """Window parameters over all four axes for NHWC or NCHW operands."""
    spatial = (1, 2) if layout == "NHWC" else (2, 3)
    w, s = [1] * 4, [1] * 4
    p = [(0, 0)] * 4 if not isinstance(padding, str) else padding
    for k, a in enumerate(spatial):
        w[a], s[a] = window[k], strides[k]
        if not isinstance(padding, str):
            p[a] = padding[k]
    return tuple(w), tuple(s), p if isinstance(p, str) else tuple(p)


def _shape(layout, n=2, c=3, h=7, w=6):
    return (n, h, w, c) if layout == "NHWC" else (n, c, h, w)


# --------------------------------------------------------------------------- reduce_window_*


@pytest.mark.parametrize("pool", POOLS, ids=[f"{w}-{s}-{p}" for w, s, p in POOLS])
@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
@pytest.mark.parametrize("kind", ["max", "min", "sum"])
def test_reduce_window_float32_is_bitwise_equal(kind, layout, pool):
    x = _special(_shape(layout), np.float32)
    w, s, p = _full(layout, *pool)
    compare_exact(lambda x: REDUCERS[kind](x, w, s, p), x)


_DTYPES = [np.float64, np.int32, np.int64, np.int8, np.uint8, np.uint32]


@pytest.mark.parametrize(
    "kind,dtype",
    # bool operands cannot be summed (the primitive rejects them)
    [(k, d) for k in ("max", "min", "sum") for d in _DTYPES]
    + [("max", np.bool_), ("min", np.bool_)],
)
def test_reduce_window_dtypes(kind, dtype):
    with _x64(dtype):
        for layout in ("NHWC", "NCHW"):
            x = _special(_shape(layout, h=5, w=8), dtype)
            for pool in POOLS[1:6]:
                w, s, p = _full(layout, *pool)
                compare_exact(lambda x, w=w, s=s, p=p: REDUCERS[kind](x, w, s, p), x)


def test_reduce_window_integer_sum_wraps_like_the_reference():
    x = dnp.asarray(np.full((4, 9), 100, np.int8))
    compare_exact(lambda x: lax.reduce_window_sum(x, (3, 3), (1, 2), "SAME"), x)


@pytest.mark.parametrize("kind", ["max", "min", "sum"])
def test_reduce_window_dilations_and_negative_padding(kind):
    x = _special((3, 8, 7), np.float32)
    configs = [
        ((1, 2, 2), (1, 1, 2), ((0, 0), (1, 1), (0, 2)), (1, 2, 1), (1, 1, 1)),
        ((1, 2, 3), (1, 2, 1), ((0, 0), (0, 0), (1, 1)), (1, 1, 1), (1, 2, 2)),
        ((2, 3, 2), (1, 3, 2), ((1, 0), (2, 3), (-1, 2)), (2, 3, 1), (1, 1, 3)),
        ((1, 3, 3), (1, 1, 1), ((0, -1), (-2, 1), (0, 0)), (1, 1, 2), (1, 2, 1)),
    ]
    for w, s, p, bd, wd in configs:
        compare_exact(lambda x, w=w, s=s, p=p, bd=bd, wd=wd: REDUCERS[kind](x, w, s, p, bd, wd), x)


def test_reduce_window_ties_zeros_and_infinities():
    shape = (2, 5, 4, 3)
    z = np.where(RNG.random(shape) > 0.5, 0.0, -0.0).astype(np.float32)
    cases = [
        np.full(shape, 1.5, np.float32),  # every window a tie
        np.full(shape, -0.0, np.float32),  # sums of -0.0, with and without padding
        z,  # tied zeros of both signs: NumPy's choice fixes the sign
        np.full(shape, -np.inf, np.float32),  # as low as the max padding
        np.full(shape, np.inf, np.float32),
        np.full(shape, np.nan, np.float32),
    ]
    for v in cases:
        x = dnp.asarray(v)
        for pool in POOLS:
            w, s, p = _full("NHWC", *pool)
            compare_exact(lambda x, w=w, s=s, p=p: [f(x, w, s, p) for f in REDUCERS.values()], x)


def test_reduce_window_windows_entirely_in_padding_and_odd_shapes():
    for shape in [(1,), (5,), (3, 1), (1, 7), (9, 5)]:
        x = _special(shape, np.float32)
        nd = len(shape)
        p = ((3, 4),) * nd  # some windows see only padding
        w, s = (2,) * nd, (3,) * nd
        compare_exact(lambda x, w=w, s=s, p=p: [f(x, w, s, p) for f in REDUCERS.values()], x)


def test_reduce_window_of_a_scalar_and_of_empty_operands():
    compare_exact(lambda x: [f(x, (), (), ()) for f in REDUCERS.values()], dnp.asarray(2.5))
    e = dnp.zeros((0, 4), dnp.float32)
    compare_exact(lambda x: [f(x, (1, 2), (1, 1), "VALID") for f in REDUCERS.values()], e)
    # an empty operand with padding: windows of padding only
    e2 = dnp.zeros((3, 0), dnp.float32)
    compare_exact(lambda x: [f(x, (2, 2), (1, 1), ((0, 0), (2, 1))) for f in REDUCERS.values()], e2)
    compare_exact(lambda x: [f(x, (2,), (1,), ((2, 2),)) for f in REDUCERS.values()], dnp.zeros(0))
    params = _window_params("test", e2, (2, 2), (1, 1), ((0, 0), (2, 1)), None, None)
    out_shape, (scatter, gather) = _select_pair(e2, params, "max")
    assert out_shape == (2, 2)
    compare_exact(gather, e2, e2)
    compare_exact(scatter, _finite(out_shape), e2)
    x = _special((2, 3), np.float32)  # the window is larger than the operand: empty result
    compare_exact(lambda x: [f(x, (1, 4), (1, 1), "VALID") for f in REDUCERS.values()], x)


def test_reduce_window_of_a_fused_expression_and_use_of_its_result():
    x = _finite((2, 6, 6, 4), repeats=False)

    def f(x):
        y = lax.reduce_window_max(x * 2.0 + 1.0, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
        return y * 3.0, lax.reduce_window_sum(dnp.abs(x), (1, 3, 3, 1), (1, 1, 1, 1), "SAME")

    compare_exact(f, x)


def test_huge_windows_stay_on_the_reference_evaluator():
    # the reference reduces windows of more than 256 elements with a NumPy reduction in a
    # different order: those must not be lowered
    x = dx.ShapeDtypeStruct((20, 20), np.float32)
    for w, expected in [((16, 16), True), ((17, 16), False)]:
        ir = dx.make_jaxpr(lambda x, w=w: lax.reduce_window_sum(x, w, (1, 1), "VALID"))(x)
        (eqn,) = ir.eqns
        assert windows.supported(eqn) is expected
        assert fusion.classify(eqn) == ("windows" if expected else "py")


# --------------------------------------------------------------------------- select_and_*


def _select_pair(x, params, select):
    out_shape = lax.reduce_window_max(x, **params).shape
    return out_shape, (
        lambda s, x: select_and_scatter_add_p.bind(s, x, select=select, **params),
        lambda t, x: select_and_gather_add_p.bind(t, x, select=select, **params),
    )


@pytest.mark.parametrize("pool", POOLS, ids=[f"{w}-{s}-{p}" for w, s, p in POOLS])
@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
@pytest.mark.parametrize("select", ["max", "min"])
def test_select_and_scatter_gather_are_bitwise_equal(select, layout, pool):
    x = _special(_shape(layout), np.float32)
    w, s, p = _full(layout, *pool)
    params = _window_params("test", x, w, s, p, None, None)
    out_shape, (scatter, gather) = _select_pair(x, params, select)
    src = _finite(out_shape, repeats=False)
    compare_exact(scatter, src, x)
    compare_exact(gather, _finite(x.shape, repeats=False), x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_select_ties_nans_and_padding_choices(dtype):
    shape = (2, 5, 4, 3)
    cases = [
        np.full(shape, 2, dtype),  # ties: the first element of each window
    ]
    if np.dtype(dtype).kind == "f":
        z = np.where(RNG.random(shape) > 0.5, 0.0, -0.0).astype(dtype)
        nan = RNG.uniform(-1, 1, shape).astype(dtype)
        nan[RNG.random(shape) > 0.7] = np.nan
        cases += [z, nan, np.full(shape, -np.inf, dtype), np.full(shape, np.nan, dtype)]
    else:
        info = np.iinfo(dtype)
        cases.append(np.full(shape, info.min, dtype))  # as low as the max padding
        cases.append(RNG.integers(-2, 3, shape).astype(dtype))
    with _x64(dtype):
        for v in cases:
            x = dnp.asarray(v)
            for pool in POOLS:
                w, s, p = _full("NHWC", *pool)
                params = _window_params("test", x, w, s, p, None, None)
                for select in ("max", "min"):
                    out_shape, (scatter, gather) = _select_pair(x, params, select)
                    src = dnp.asarray(RNG.uniform(-2, 2, out_shape).astype(dtype))
                    compare_exact(scatter, src, x)
                    compare_exact(gather, dnp.asarray(RNG.uniform(-2, 2, shape).astype(dtype)), x)


def test_select_and_scatter_overlapping_windows_accumulate_like_the_reference():
    # heavily overlapping windows: every position may collect many float32 values, which
    # the reference adds in float64 before rounding; -0.0 sources become +0.0
    x = dnp.asarray(RNG.integers(0, 3, (6, 6)).astype(np.float32))  # many ties
    big = np.float32(2.0**24)
    for src_vals in (
        RNG.uniform(-1, 1, (6, 6)).astype(np.float32) * np.float32(1e-3) + big * (RNG.random((6, 6)) > 0.5),
        np.full((6, 6), -0.0, np.float32),
    ):  # fmt: skip
        src = dnp.asarray(src_vals)
        compare_exact(
            lambda s, x: select_and_scatter_add_p.bind(
                s, x, select="max", **_window_params("t", x, (3, 3), (1, 1), "SAME", None, None)
            ),
            src,
            x,
        )
    with dx.config.context(enable_x64=True):
        x64 = dnp.asarray(RNG.integers(0, 3, (7, 5)).astype(np.float64))
        s64 = dnp.asarray(RNG.uniform(-1, 1, (6, 4)))
        compare_exact(
            lambda s, x: select_and_scatter_add_p.bind(
                s, x, select="max", **_window_params("t", x, (2, 2), (1, 1), "VALID", None, None)
            ),
            s64,
            x64,
        )


def test_select_with_dilations_and_negative_padding():
    x = _special((3, 8, 7), np.float32)
    configs = [
        ((1, 2, 2), (1, 1, 2), ((0, 0), (1, 1), (0, 2)), (1, 2, 1), (1, 1, 1)),
        ((2, 3, 2), (1, 3, 2), ((1, 0), (2, 3), (-1, 2)), (2, 3, 1), (1, 1, 3)),
        ((1, 3, 3), (1, 1, 1), ((0, -1), (-2, 1), (0, 0)), (1, 1, 2), (1, 2, 1)),
    ]
    for w, s, p, bd, wd in configs:
        params = _window_params("test", x, w, s, p, bd, wd)
        for select in ("max", "min"):
            out_shape, (scatter, gather) = _select_pair(x, params, select)
            compare_exact(scatter, _finite(out_shape), x)
            compare_exact(gather, _finite(x.shape), x)


def test_select_of_empty_windows_gives_zeros():
    x = _special((2, 3), np.float32)
    params = _window_params("test", x, (1, 4), (1, 1), "VALID", None, None)
    out_shape, (scatter, gather) = _select_pair(x, params, "max")
    assert out_shape == (2, 0)
    compare_exact(scatter, dnp.zeros(out_shape, dnp.float32), x)
    compare_exact(gather, _finite(x.shape), x)


# --------------------------------------------------------------------------- pooling under AD


@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
@pytest.mark.parametrize(
    "window,strides,padding", [((2, 2), (2, 2), "VALID"), ((3, 3), (2, 2), "SAME")]
)
def test_grad_of_max_and_avg_pool(layout, window, strides, padding):
    channel_axis = -1 if layout == "NHWC" else 1
    x = _finite(_shape(layout, h=8, w=9))  # repeated values: ties go to the first maximum
    out_shape = dnn.max_pool(x, window, strides, padding, channel_axis=channel_axis).shape
    wt = _finite(out_shape, repeats=False)

    def loss(x, wt):
        m = dnn.max_pool(x, window, strides, padding, channel_axis=channel_axis)
        a = dnn.avg_pool(x, window, strides, padding, channel_axis=channel_axis)
        return dnp.sum(m * wt) + dnp.sum(a * wt)

    def grads(x, wt):
        gm = dx.grad(lambda x: dnp.sum(dnn.max_pool(x, window, strides, padding,
                                                    channel_axis=channel_axis) * wt))(x)  # fmt: skip
        gn = dx.grad(lambda x: dnp.sum(dnn.min_pool(x, window, strides, padding,
                                                    channel_axis=channel_axis) * wt))(x)  # fmt: skip
        return gm, gn, dx.grad(loss)(x, wt)

    text = compare_exact(grads, x, wt)
    assert "select_and_scatter_add" in text


def test_jvp_and_vmap_of_max_pool():
    x = _finite((3, 2, 6, 5, 2))
    t = _finite(x.shape, repeats=False)

    def pool(x):
        return dnn.max_pool(x, (2, 2), (2, 1), "SAME")

    def f(x, t):
        y, ty = dx.jvp(lambda x: dx.vmap(pool)(x), (x,), (t,))
        return y, ty

    text = compare_exact(f, x, t)
    assert "select_and_gather_add" in text


def test_grad_of_reduce_window_sum_with_dilations():
    x = _finite((2, 9, 8), repeats=False)

    def f(x):
        y = lax.reduce_window_sum(x, (1, 3, 2), (1, 2, 1), ((0, 0), (1, 2), (0, 1)), (1, 1, 2),
                                  (1, 2, 1))  # fmt: skip
        return dnp.sum(y * 0.5)

    compare_exact(dx.grad(f), x)


def test_fusion_plan_names_the_kernels():
    x = _finite((2, 6, 6, 3))

    def f(x):
        def loss(x):
            y = lax.reduce_window_max(x, (1, 3, 3, 1), (1, 1, 1, 1), "SAME")
            return dnp.sum(y * 2.0)

        return dx.value_and_grad(loss)(x)

    text = compare_exact(f, x)
    assert "reduce_window_max window=(1, 3, 3, 1)" in text
    # overlapping float32 windows accumulate in a float64 scratch region
    assert "select_and_scatter_add select=max" in text and "scratch" in text
