"""``derivax.numpy`` comparisons, nan-aware reductions, averages, polynomials and convolutions
against NumPy.

Rows of ``CASES`` run through ``check_against_numpy`` and ``check_jit``; rows marked ``grad``
through ``check_grads`` (forward and reverse, second order), rows marked ``vmap`` through
``check_batching``. Expected dtypes are written here (float32 defaults, int32 counts).
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

import derivax as dx  # noqa: E402
import derivax.numpy as dnp  # noqa: E402
from harness import (  # noqa: E402
    assert_close,
    check_against_numpy,
    check_batching,
    check_grads,
    check_jit,
    rand_default,
    rand_int,
    rand_positive,
)

F32, I32, BOOL = np.float32, np.int32, np.bool_

A = rand_default(0)((2, 3), F32)
B = rand_default(1)((2, 3), F32)
P = rand_positive(2)((2, 3), F32)
V5 = rand_default(3)((5,), F32)
V3 = rand_default(4)((3,), F32)
M35 = rand_default(5)((3, 5), F32)
T234 = rand_default(6)((2, 3, 4), F32)
IA = rand_int(7, -9, 10)((2, 3), I32)
NANS = np.array([[1.0, np.nan, -2.0], [np.nan, np.nan, np.nan], [0.5, 3.0, np.nan]], F32)
NANS_FEW = np.array([[1.0, np.nan, -2.0, 4.0], [0.25, 2.0, 3.0, np.nan]], F32)
SPECIAL = np.array([np.nan, np.inf, -np.inf, 1.0, 0.0, -1.0], F32)

CASES = []


def case(id, fun, ref, args, dtype, grad=False, vmap=False):  # noqa: A002
    CASES.append(pytest.param(fun, ref, args, dtype, grad, vmap, id=id))


# -- comparisons
case("isclose", dnp.isclose, np.isclose, (A, A + 1e-6 * B), BOOL, vmap=True)
case("isclose-specials", dnp.isclose, np.isclose, (SPECIAL, SPECIAL[::-1]), BOOL)
case("isclose-self-specials", dnp.isclose, np.isclose, (SPECIAL, SPECIAL), BOOL)
case("isclose-equal_nan", lambda a, b: dnp.isclose(a, b, equal_nan=True),
     lambda a, b: np.isclose(a, b, equal_nan=True), (SPECIAL, SPECIAL), BOOL)  # fmt: skip
case("isclose-tolerances", lambda a, b: dnp.isclose(a, b, rtol=0.1, atol=0.5),
     lambda a, b: np.isclose(a, b, rtol=0.1, atol=0.5), (A, B), BOOL)  # fmt: skip
case("isclose-int", lambda a, b: dnp.isclose(a, b, atol=1),
     lambda a, b: np.isclose(a, b, atol=1), (IA, IA + 1), BOOL)  # fmt: skip
case("isclose-broadcast", dnp.isclose, np.isclose, (A, A[0]), BOOL)
case("allclose-true", dnp.allclose, np.allclose, (A, A + 1e-7), BOOL)
case("allclose-false", dnp.allclose, np.allclose, (A, B), BOOL)
case("array_equal", dnp.array_equal, np.array_equal, (IA, IA), BOOL)
case("array_equal-differs", dnp.array_equal, np.array_equal, (IA, IA * 2), BOOL)
case("array_equal-shapes", dnp.array_equal, np.array_equal, (A, A[:1]), BOOL)
case("array_equal-nan", dnp.array_equal, np.array_equal, (NANS, NANS), BOOL)
case("array_equal-equal_nan", lambda a, b: dnp.array_equal(a, b, equal_nan=True),
     lambda a, b: np.array_equal(a, b, equal_nan=True), (NANS, NANS), BOOL)  # fmt: skip
case("array_equiv", dnp.array_equiv, np.array_equiv, (A[:1], np.concatenate([A[:1]] * 3)), BOOL)
case("array_equiv-no-broadcast", dnp.array_equiv, np.array_equiv, (A, V5), BOOL)

# -- nan-aware reductions
for _axis in [None, 0, 1]:
    for _name, _fn, _ref in [
        ("nansum", dnp.nansum, np.nansum),
        ("nanprod", dnp.nanprod, np.nanprod),
        ("nanmean", dnp.nanmean, np.nanmean),
        ("nanmax", dnp.nanmax, np.nanmax),
        ("nanmin", dnp.nanmin, np.nanmin),
        ("nanvar", dnp.nanvar, np.nanvar),
        ("nanstd", dnp.nanstd, np.nanstd),
    ]:
        case(f"{_name}-axis={_axis}", lambda x, f=_fn, a=_axis: f(x, axis=a),
             lambda x, f=_ref, a=_axis: f(x, axis=a), (NANS_FEW,), F32,
             # axis 0 has one-value columns: the std's derivative at zero variance is infinite.
             grad=_name not in ("nanmax", "nanmin") and (_name, _axis) != ("nanstd", 0),
             vmap=_axis == 1)  # fmt: skip
    case(f"nanargmax-axis={_axis}", lambda x, a=_axis: dnp.nanargmax(x, axis=a),
         lambda x, a=_axis: np.nanargmax(x, axis=a), (NANS_FEW,), I32)  # fmt: skip
    case(f"nanargmin-axis={_axis}", lambda x, a=_axis: dnp.nanargmin(x, axis=a),
         lambda x, a=_axis: np.nanargmin(x, axis=a), (NANS_FEW,), I32)  # fmt: skip
case("nanmax-grad", lambda x: dnp.nanmax(x, axis=1), lambda x: np.nanmax(x, axis=1),
     (np.array([[1.0, np.nan, -2.0, 4.0], [0.25, 2.0, 3.0, np.nan]], F32),), F32,
     grad=True)  # fmt: skip
case("nansum-keepdims", lambda x: dnp.nansum(x, 0, keepdims=True),
     lambda x: np.nansum(x, 0, keepdims=True), (NANS,), F32)  # fmt: skip
case("nansum-int", lambda x: dnp.nansum(x, 1), lambda x: np.nansum(x, 1), (IA,), I32)
case("nanmean-int", dnp.nanmean, np.nanmean, (IA,), F32)
case("nanvar-ddof", lambda x: dnp.nanvar(x, 1, ddof=1), lambda x: np.nanvar(x, 1, ddof=1),
     (NANS_FEW,), F32, grad=True)  # fmt: skip
case("nanstd-keepdims", lambda x: dnp.nanstd(x, 0, keepdims=True),
     lambda x: np.nanstd(x, 0, keepdims=True), (NANS_FEW,), F32)  # fmt: skip
case("nanvar-no-nans", lambda x: dnp.nanvar(x, 1), lambda x: np.var(x, 1), (A,), F32, grad=True)

# -- averages and spreads
case("average", dnp.average, np.average, (A,), F32, grad=True)
case("average-axis", lambda x: dnp.average(x, axis=1), lambda x: np.average(x, axis=1), (A,), F32,
     grad=True, vmap=True)  # fmt: skip
case("average-weights", lambda x, w: dnp.average(x, 1, w), lambda x, w: np.average(x, 1, w),
     (A, P), F32, grad=True, vmap=True)  # fmt: skip
case("average-weights-1d", lambda x, w: dnp.average(x, 0, w), lambda x, w: np.average(x, 0, w),
     (A, P[0, :2]), F32, grad=True)  # fmt: skip
case("average-returned", lambda x, w: dnp.average(x, 1, w, returned=True),
     lambda x, w: np.average(x, 1, w, returned=True), (A, P), F32, grad=True)  # fmt: skip
case("average-returned-unweighted", lambda x: dnp.average(x, (0, 1), returned=True),
     lambda x: np.average(x, (0, 1), returned=True), (T234,), F32)  # fmt: skip
case("average-keepdims", lambda x: dnp.average(x, 1, keepdims=True),
     lambda x: np.average(x, 1, keepdims=True), (A,), F32)  # fmt: skip
case("average-int", dnp.average, np.average, (IA,), F32)
case("ptp", dnp.ptp, np.ptp, (A,), F32, grad=True)
case("ptp-axis", lambda x: dnp.ptp(x, 1), lambda x: np.ptp(x, 1), (IA,), I32, vmap=True)
case("cov", dnp.cov, np.cov, (M35,), F32, grad=True, vmap=True)
case("cov-1d", dnp.cov, np.cov, (V5,), F32, grad=True)
case("cov-y", dnp.cov, np.cov, (M35, V5), F32, grad=True)
case("cov-rowvar", lambda x: dnp.cov(x, rowvar=False), lambda x: np.cov(x, rowvar=False),
     (M35.T,), F32, grad=True)  # fmt: skip
case("cov-bias", lambda x: dnp.cov(x, bias=True), lambda x: np.cov(x, bias=True), (M35,), F32)
case("cov-ddof", lambda x: dnp.cov(x, ddof=2), lambda x: np.cov(x, ddof=2), (M35,), F32)
case("cov-fweights", lambda x, f: dnp.cov(x, fweights=f), lambda x, f: np.cov(x, fweights=f),
     (M35, np.array([1, 2, 1, 3, 1], I32)), F32)  # fmt: skip
case("cov-aweights", lambda x, w: dnp.cov(x, aweights=w), lambda x, w: np.cov(x, aweights=w),
     (M35, P.ravel()[:5]), F32, grad=True)  # fmt: skip
case("cov-both-weights", lambda x, f, w: dnp.cov(x, fweights=f, aweights=w),
     lambda x, f, w: np.cov(x, fweights=f, aweights=w),
     (M35, np.array([1, 2, 1, 3, 1], I32), P.ravel()[:5]), F32)  # fmt: skip
case("cov-int", dnp.cov, np.cov, (IA,), F32)
case("corrcoef", dnp.corrcoef, np.corrcoef, (M35,), F32, grad=True, vmap=True)
case("corrcoef-y", dnp.corrcoef, np.corrcoef, (V5, V5 * 2 + M35[0]), F32)

# -- bincount
case("bincount", dnp.bincount, np.bincount, (np.array([0, 1, 1, 3, 7, 1], I32),), I32)
case("bincount-minlength", lambda x: dnp.bincount(x, minlength=10),
     lambda x: np.bincount(x, minlength=10), (np.array([0, 1, 1, 3], I32),), I32)  # fmt: skip
case("bincount-weights", dnp.bincount, np.bincount,
     (np.array([0, 1, 1, 3], I32), np.array([0.5, 1.0, 2.0, -1.0], F32)), F32)  # fmt: skip
case("bincount-length", lambda x, w: dnp.bincount(x, w, length=3),
     lambda x, w: np.bincount(x, w)[:3], (np.array([0, 1, 1, 3], I32), V5[:4]), F32,
     grad=True, vmap=True)  # fmt: skip
case("bincount-empty", dnp.bincount, np.bincount, (np.zeros(0, I32),), I32)

# -- polynomials
case("polyval", dnp.polyval, np.polyval, (V3, A), F32, grad=True, vmap=True)
case("polyval-int", dnp.polyval, np.polyval, (np.array([2, -1, 3], I32), IA), I32)
case("polyadd", dnp.polyadd, np.polyadd, (V3, V5), F32, grad=True)
case("polysub", dnp.polysub, np.polysub, (V5, V3), F32, grad=True)
case("polymul", dnp.polymul, np.polymul, (V3, V5), F32, grad=True)
case("polymul-int", dnp.polymul, np.polymul, (np.array([1, 2], I32), np.array([3, 0, -1], I32)),
     I32)  # fmt: skip
case("polyder", dnp.polyder, np.polyder, (V5,), F32, grad=True)
case("polyder-m=2", lambda p: dnp.polyder(p, 2), lambda p: np.polyder(p, 2), (V5,), F32)
case("polyder-int", dnp.polyder, np.polyder, (np.array([1, 2, 3, 4], I32),), I32)
case("polyder-too-high", lambda p: dnp.polyder(p, 7), lambda p: np.polyder(p, 7), (V3,), F32)
case("polyint", dnp.polyint, np.polyint, (V5,), F32, grad=True)
case("polyint-m=2-k", lambda p: dnp.polyint(p, 2, [1.0, -2.0]),
     lambda p: np.polyint(p, 2, [1.0, -2.0]), (V3,), F32)  # fmt: skip

# -- convolutions
for _mode in ["full", "same", "valid"]:
    for _n, _m in [(5, 3), (3, 5), (4, 4), (4, 1), (2, 5)]:
        _a, _v = rand_default(_n)((_n,), F32), rand_default(10 + _m)((_m,), F32)
        for _name, _fn, _ref in [("convolve", dnp.convolve, np.convolve),
                                 ("correlate", dnp.correlate, np.correlate)]:  # fmt: skip
            case(f"{_name}-{_mode}-{_n}x{_m}", lambda a, v, f=_fn, md=_mode: f(a, v, md),
                 lambda a, v, f=_ref, md=_mode: f(a, v, md), (_a, _v), F32,
                 grad=(_n, _m) == (5, 3), vmap=(_n, _m) == (5, 3))  # fmt: skip
case("convolve-int", dnp.convolve, np.convolve,
     (np.array([1, 2, 3], I32), np.array([0, 1, -1], I32)), I32)  # fmt: skip
case("correlate-default-valid", dnp.correlate, np.correlate, (V5, V3), F32)

# -- elementwise helpers
case("nan_to_num", dnp.nan_to_num, np.nan_to_num, (SPECIAL,), F32)
case("nan_to_num-values", lambda x: dnp.nan_to_num(x, nan=-1.0, posinf=9.0, neginf=-9.0),
     lambda x: np.nan_to_num(x, nan=-1.0, posinf=9.0, neginf=-9.0), (SPECIAL,), F32)  # fmt: skip
case("nan_to_num-grad", dnp.nan_to_num, np.nan_to_num, (A,), F32, grad=True)
case("nan_to_num-int", dnp.nan_to_num, np.nan_to_num, (IA,), I32)
case("sinc", dnp.sinc, np.sinc, (A,), F32, grad=True, vmap=True)
case("sinc-at-zero", dnp.sinc, np.sinc, (np.array([0.0, 1e-4, -1e-3, 1.0, 2.5], F32),), F32,
     grad=True)  # fmt: skip
case("sinc-int", dnp.sinc, np.sinc, (IA,), F32)
case("heaviside", dnp.heaviside, np.heaviside,
     (np.array([-1.5, 0.0, 2.0, np.nan, 0.0], F32), np.array([0.5, 0.25, 0.5, 0.5, 1.0], F32)),
     F32)  # fmt: skip
case("heaviside-broadcast", lambda x: dnp.heaviside(x, 0.5), lambda x: np.heaviside(x, 0.5),
     (np.round(A),), F32, vmap=True)  # fmt: skip
case("cross", dnp.cross, np.cross, (A, B), F32, grad=True, vmap=True)
case("cross-broadcast", dnp.cross, np.cross, (A, V3), F32, grad=True)
case("cross-axis", lambda a, b: dnp.cross(a, b, axis=0), lambda a, b: np.cross(a, b, axis=0),
     (A.T, B.T), F32)  # fmt: skip
case("cross-axes", lambda a, b: dnp.cross(a, b, axisa=0, axisb=-1, axisc=0),
     lambda a, b: np.cross(a, b, axisa=0, axisb=-1, axisc=0), (A.T, B), F32)  # fmt: skip
case("cross-int", dnp.cross, np.cross, (IA, IA[::-1]), I32)
case("vecdot", dnp.vecdot, lambda a, b: np.sum(a * b, -1), (A, B), F32, grad=True, vmap=True)
case("vecdot-broadcast-axis", lambda a, b: dnp.vecdot(a, b, axis=0),
     lambda a, b: np.sum(a * b[:, None], 0), (A, A[:, 0]), F32, grad=True)  # fmt: skip

# -- calculus
case("trapezoid", dnp.trapezoid, np.trapezoid, (A,), F32, grad=True, vmap=True)
case("trapezoid-dx-axis", lambda y: dnp.trapezoid(y, dx=0.5, axis=0),
     lambda y: np.trapezoid(y, dx=0.5, axis=0), (A,), F32)  # fmt: skip
case("trapezoid-x", lambda y, x: dnp.trapezoid(y, x), lambda y, x: np.trapezoid(y, x),
     (A, np.array([0.0, 0.5, 2.0], F32)), F32, grad=True)  # fmt: skip
case("trapezoid-x-nd", lambda y, x: dnp.trapezoid(y, x, axis=1),
     lambda y, x: np.trapezoid(y, x, axis=1), (A, np.cumsum(P, axis=1)), F32)  # fmt: skip
case("gradient-1d", dnp.gradient, np.gradient, (V5,), F32, grad=True, vmap=True)
case("gradient-2d", dnp.gradient, np.gradient, (M35,), F32, grad=True)
case("gradient-spacing", lambda f: dnp.gradient(f, 0.5, 2.0), lambda f: np.gradient(f, 0.5, 2.0),
     (M35,), F32)  # fmt: skip
case("gradient-axis-edge2", lambda f: dnp.gradient(f, axis=1, edge_order=2),
     lambda f: np.gradient(f, axis=1, edge_order=2), (M35,), F32, grad=True)  # fmt: skip
case("gradient-coords", lambda f, x: dnp.gradient(f, x), lambda f, x: np.gradient(f, x),
     (V5, np.array([0.0, 0.5, 1.5, 1.75, 3.0], F32)), F32, grad=True)  # fmt: skip


@pytest.mark.parametrize("fun,ref,args,dtype,grad,vmap", CASES)
def test_against_numpy(fun, ref, args, dtype, grad, vmap):
    with np.errstate(all="ignore"):  # NumPy's own all-NaN and 0/0 warnings
        check_against_numpy(fun, ref, args, dtype=dtype, rtol=2e-6, atol=2e-6)


# bincount without length= reads its values: eager only (see test_bincount_needs_length).
EAGER_ONLY = {"bincount", "bincount-minlength", "bincount-weights", "bincount-empty"}


@pytest.mark.parametrize(
    "fun,ref,args,dtype,grad,vmap", [c for c in CASES if c.id not in EAGER_ONLY]
)
def test_jit(fun, ref, args, dtype, grad, vmap):
    check_jit(fun, args)


@pytest.mark.parametrize("fun,ref,args,dtype,grad,vmap", [c for c in CASES if c.values[4]])
def test_grads(fun, ref, args, dtype, grad, vmap):
    check_grads(fun, args, order=2)


@pytest.mark.parametrize("fun,ref,args,dtype,grad,vmap", [c for c in CASES if c.values[5]])
def test_vmap(fun, ref, args, dtype, grad, vmap):
    batched = [np.stack([a, a[::-1], a * 0.5 if a.dtype == F32 else a]) for a in args]
    check_batching(fun, batched)


# --------------------------------------------------------------------------- special values


def test_all_nan_slices():
    x = dnp.asarray(NANS)
    # NumPy warns and gives NaN for these; derivax gives NaN without a warning.
    for fn in (dnp.nanmax, dnp.nanmin, dnp.nanmean, dnp.nanvar, dnp.nanstd):
        got = np.asarray(fn(x, axis=1))
        assert np.isnan(got[1]) and not np.isnan(got[0]) and not np.isnan(got[2]), fn.__name__
    assert_close(dnp.nansum(x, axis=1), np.array([-1.0, 0.0, 3.5], F32))
    # NumPy raises for an all-NaN slice; derivax (like JAX) marks it with -1.
    assert_close(dnp.nanargmax(x, axis=1), np.array([0, -1, 1], I32))
    assert_close(dnp.nanargmin(x, axis=1), np.array([2, -1, 0], I32))


def test_nan_reductions_have_zero_gradient_at_nans():
    # (The NaN must reach the nan-function itself: nansum(v * v) has a NaN gradient, as the
    # derivative of v * v at a NaN is NaN.)
    g = dx.grad(lambda v: 3.0 * dnp.nansum(v))(dnp.asarray(NANS_FEW))
    expected = np.where(np.isnan(NANS_FEW), 0.0, 3.0).astype(F32)
    assert_close(g, expected)
    g = dx.grad(lambda v: dnp.nanmean(v))(dnp.asarray(NANS_FEW))
    assert_close(g, np.where(np.isnan(NANS_FEW), 0.0, 1 / 6).astype(F32))


def test_sinc_second_derivative_at_zero():
    # sinc(x) = 1 - (pi x)^2 / 6 + ...: the second derivative at 0 is -pi^2 / 3.
    d2 = dx.grad(dx.grad(dnp.sinc))(dnp.asarray(np.float32(0.0)))
    assert_close(d2, np.float32(-(np.pi**2) / 3), rtol=1e-5)


def test_bincount_needs_length_under_jit():
    x = dnp.asarray(np.array([0, 2, 2, 5], I32))
    with pytest.raises(dx.ConcretizationTypeError, match=r"length=<int>"):
        dx.jit(dnp.bincount)(x)
    got = dx.jit(lambda v: dnp.bincount(v, length=4))(x)
    assert_close(got, np.array([1, 0, 2, 0], I32))  # 5 is past length: dropped
    got = dx.vmap(lambda v: dnp.bincount(v, length=3))(dnp.stack([x, x[::-1] * 0]))
    assert_close(got, np.array([[1, 0, 2], [4, 0, 0]], I32))


def test_convolve_gradient_matches_numpy_correlation():
    a, v = dnp.asarray(V5), dnp.asarray(V3)
    ct = rand_default(20)((7,), F32)
    ga, gv = dx.grad(lambda a, v: dnp.sum(dnp.convolve(a, v) * ct), argnums=(0, 1))(a, v)
    # d/da sum(ct * (a * v)) = correlate(ct, v, 'valid'); likewise for v.
    assert_close(ga, np.correlate(ct, V3, "valid"), rtol=1e-5, atol=1e-5)
    assert_close(gv, np.correlate(ct, V5, "valid"), rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda: dnp.bincount(dnp.array([0, -1])), ValueError, "non-negative"),
        (lambda: dnp.bincount(dnp.ones((2, 2), dnp.int32)), ValueError, "1-D"),
        (lambda: dnp.bincount(dnp.ones(2)), TypeError, "integers"),
        (lambda: dnp.bincount(dnp.array([0, 1]), dnp.ones(3)), ValueError, "x's shape"),
        (lambda: dnp.convolve(dnp.ones(3), dnp.ones(2), "middle"), ValueError,
         "'full', 'same' or 'valid'"),
        (lambda: dnp.convolve(dnp.ones((2, 2)), dnp.ones(2)), ValueError, "1-D"),
        (lambda: dnp.correlate(dnp.ones(0), dnp.ones(2)), ValueError, "cannot be empty"),
        (lambda: dnp.average(dnp.ones((2, 3)), weights=dnp.ones(3)), ValueError, "int axis"),
        (lambda: dnp.average(dnp.ones((2, 3)), 1, dnp.ones(2)), ValueError, "length of axis 1"),
        (lambda: dnp.cov(dnp.ones((2, 2, 2))), ValueError, "at most 2 dimensions"),
        (lambda: dnp.cov(dnp.ones((2, 3)), dnp.ones((2, 4))), ValueError, "observations"),
        (lambda: dnp.cov(dnp.ones((2, 3)), fweights=dnp.array([1, -1, 1])), ValueError,
         "non-negative"),
        (lambda: dnp.cov(dnp.ones((2, 3)), fweights=dnp.array([1.5, 1.0, 1.0])), TypeError,
         "integers"),
        (lambda: dnp.cov(dnp.ones((2, 3)), aweights=dnp.ones(2)), ValueError, "one weight per"),
        (lambda: dnp.cross(dnp.ones(4), dnp.ones(3)), ValueError, "2 or 3 components"),
        (lambda: dnp.vecdot(dnp.ones(3), dnp.ones(4)), ValueError, "different lengths"),
        (lambda: dnp.isclose(dnp.ones(3), dnp.ones(4)), ValueError, "cannot be broadcast"),
        (lambda: dnp.polyval(dnp.ones((2, 2)), 1.0), ValueError, "1-D"),
        (lambda: dnp.polyder(dnp.ones(3), -1), ValueError, "non-negative"),
        (lambda: dnp.polyint(dnp.ones(3), 2, [1.0, 2.0, 3.0]), ValueError, "m=2"),
        (lambda: dnp.gradient(dnp.ones(1)), ValueError, "at least edge_order"),
        (lambda: dnp.gradient(dnp.ones(4), edge_order=3), ValueError, "1 or 2"),
        (lambda: dnp.trapezoid(dnp.ones(3), dnp.ones(4)), ValueError, "length 3"),
        (lambda: dnp.nansum(dnp.ones(3), out=dnp.ones(())), ValueError, "immutable"),
    ],
)  # fmt: skip
def test_bad_inputs_raise_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
