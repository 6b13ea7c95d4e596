"""Accuracy of the compiled transcendentals (``derivax._compiler.mathlib``) in ULPs.

Each function is compiled through ``jit`` with the LLVM back end and evaluated on about
two million inputs per dtype: random bit patterns (so every binade of the whole domain,
denormals, infinities and NaNs appear), dense samples of the interesting ranges, and a
table of special values. The reference is float64 NumPy for float32 results and
``np.longdouble`` for float64 results (``math``/SciPy for erf). The error of one result is
``|got - ref| / ulp(ref)`` in the result's precision; special values must match exactly
(NaN for NaN, the sign of zero included).

Documented maximum errors (ULP) are in ``BOUNDS``; ``mathlib``'s docstring lists them too.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import derivax as dx
import derivax.lax as lax
from derivax._compiler import mathlib

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)

# max ULP error, by (function, dtype)
BOUNDS = {
    ("exp", F32): 1, ("exp2", F32): 1, ("expm1", F32): 2, ("log", F32): 2, ("log1p", F32): 3,
    ("tanh", F32): 2, ("logistic", F32): 3, ("erf", F32): 1, ("sin", F32): 1, ("cos", F32): 1,
    ("exp", F64): 2, ("exp2", F64): 2, ("expm1", F64): 3, ("log", F64): 2, ("log1p", F64): 3,
    ("tanh", F64): 3, ("logistic", F64): 3,
}  # fmt: skip

SPECIALS = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45,
            1e-40, -1e-40, 1.1754944e-38, 88.72, 88.73, -87.5, -103.9, -104.5, 20.0, -20.0,
            9.0, 9.2, 3.9, 4.1, 1e10, -1e10, 3.4e38, -3.4e38, 710.0, -745.0, 1e-310]  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def _llvm(tmp_path_factory):
    with dx.config.context(jit_backend="llvm", cache_dir=str(tmp_path_factory.mktemp("cache"))):
        yield


def _logistic_ref(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _erf_ref(x):
    try:
        from scipy.special import erf
    except ImportError:  # pragma: no cover - scipy is a test dependency
        return np.frompyfunc(math.erf, 1, 1)(x).astype(np.float64)
    return erf(x)


REFS = {
    "exp": np.exp,
    "exp2": np.exp2,
    "expm1": np.expm1,
    "log": np.log,
    "log1p": np.log1p,
    "tanh": np.tanh,
    "logistic": _logistic_ref,
    "erf": _erf_ref,
    "sin": np.sin,
    "cos": np.cos,
}


def _inputs(dtype, rng):
    n = 1_500_000
    if dtype == F32:
        bits = rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
    else:
        bits = rng.integers(0, 2**63, n, dtype=np.uint64) * np.uint64(2) + rng.integers(
            0, 2, n, dtype=np.uint64
        )
    pieces = [
        bits.view(dtype),
        rng.uniform(-1, 1, 200_000),
        rng.uniform(-20, 20, 200_000),
        rng.uniform(-120, 120, 100_000),
        np.exp(rng.uniform(-90, 90, 100_000)) * rng.choice([-1, 1], 100_000),
        np.array(SPECIALS),
    ]
    with np.errstate(over="ignore"):
        return np.concatenate([np.asarray(p).astype(dtype) for p in pieces])


def _ulp(ref, dtype):
    a = np.abs(ref.astype(np.float64))
    if dtype == F32:
        tiny, mant = 2.0**-126, 23
    else:
        tiny, mant = 2.0**-1022, 52
    e = np.floor(np.log2(np.maximum(a, tiny)))
    return np.exp2(e - mant)


def ulp_errors(got, ref, dtype):
    """ULP distance of ``got`` (dtype) from ``ref`` (float64 or longdouble)."""
    big = np.finfo(dtype).max
    with np.errstate(all="ignore"):
        ref = np.where(
            np.abs(ref) > big * (1 + np.finfo(dtype).eps / 2), np.copysign(np.inf, ref), ref
        )
        got_w = got.astype(ref.dtype)
        same = (got_w == ref) | (np.isnan(got_w) & np.isnan(ref))
        err = np.abs(got_w - ref).astype(np.float64) / _ulp(ref, dtype)
    err = np.where(same, 0.0, err)
    err = np.where(
        np.isnan(err) | (np.isinf(ref) & ~same) | (np.isnan(ref) != np.isnan(got_w)), np.inf, err
    )
    return err


def _compiled(name):
    fn = getattr(lax, name)
    return dx.jit(lambda x: fn(x))


def _cases():
    for (name, dtype), bound in BOUNDS.items():
        yield pytest.param(name, dtype, bound, id=f"{name}-{dtype.name}")


@pytest.mark.parametrize("name,dtype,bound", list(_cases()))
def test_ulp_error(name, dtype, bound):
    assert mathlib.supports(name, dtype)
    rng = np.random.default_rng(hash(name) % 2**32)
    with dx.config.context(enable_x64=dtype == F64):
        x = _inputs(dtype, rng)
        got = np.asarray(_compiled(name)(x))
        wide = np.longdouble if dtype == F64 else np.float64
        with np.errstate(all="ignore"):
            ref = REFS[name](x.astype(wide))
    err = ulp_errors(got, ref, dtype)
    worst = int(np.argmax(err))
    assert err[worst] <= bound, (
        f"{name}({x[worst]!r}) = {got[worst]!r}, reference {ref[worst]!r}: "
        f"{err[worst]:.3g} ULP > {bound}"
    )


@pytest.mark.parametrize("name", sorted(REFS))
def test_special_values_float32(name):
    x = np.array(SPECIALS, np.float32)
    got = np.asarray(_compiled(name)(x))
    with np.errstate(all="ignore"):
        ref = REFS[name](x.astype(np.float64)).astype(np.float32)
    for xi, g, r in zip(x, got, ref):
        if np.isnan(r):
            assert np.isnan(g), (name, xi, g)
        elif np.isinf(r) or r == 0:
            assert g == r and np.signbit(g) == np.signbit(r), (name, xi, g, r)
    # odd functions keep the sign of zero; denormal inputs stay accurate
    if name in ("expm1", "log1p", "tanh", "erf", "sin"):
        z = np.asarray(_compiled(name)(np.array([-0.0, 1e-45, -1e-40], np.float32)))
        assert np.signbit(z[0]) and z[1] > 0 and z[2] < 0


def test_pow_float32():
    rng = np.random.default_rng(11)
    n = 600_000
    x = np.concatenate(
        [
            rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32).view(np.float32),
            rng.uniform(0, 4, n).astype(np.float32),
            rng.uniform(-3, 3, n).astype(np.float32),
        ]
    )
    y = np.concatenate(
        [
            rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32).view(np.float32),
            rng.uniform(-40, 40, n).astype(np.float32),
            rng.integers(-30, 30, n).astype(np.float32),
        ]
    )
    f = dx.jit(lambda a, b: lax.pow(a, b))
    got = np.asarray(f(x, y))
    with np.errstate(all="ignore"):
        ref = np.power(x.astype(np.float64), y.astype(np.float64))
    err = ulp_errors(got, ref, F32)
    assert err.max() <= 1, (x[np.argmax(err)], y[np.argmax(err)])
    # IEEE special cases, as NumPy's float32 pow
    sp = np.array(
        [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 3.0, -3.0, np.inf, -np.inf, np.nan, 1e-45],
        np.float32,
    )
    a, b = np.meshgrid(sp, sp)
    a, b = a.ravel(), b.ravel()
    got = np.asarray(f(a, b))
    with np.errstate(all="ignore"):
        want = np.power(a, b)
    same = (got == want) & (np.signbit(got) == np.signbit(want)) | (np.isnan(got) & np.isnan(want))
    assert same.all(), list(zip(a[~same], b[~same], got[~same], want[~same]))


def test_no_libm_calls_and_vectorized():
    """The kernels are straight-line code the vectorizer widens; no libm calls remain."""
    x = np.linspace(-3, 3, 1024, dtype=np.float32)
    for name in ("exp", "log", "tanh", "erf", "sin", "logistic", "expm1", "log1p"):
        text = _compiled(name).lower(x).as_text("llvm")
        assert " x float>" in text, name  # a vector loop
        calls = [ln for ln in text.splitlines() if "call " in ln and "@llvm." not in ln]
        assert not calls, (name, calls[:3])


@pytest.mark.parametrize("name", ["log", "log1p"])
def test_float32_log_is_bit_identical_to_the_reference_kernel(name):
    """float32 log and log1p evaluate the same operations as ``lax._bits``' kernels.

    The kernel reads a subnormal input to log as the smallest normal number, the compiled
    log computes it accurately (``test_ulp_error``): subnormals are left out here.
    """
    from derivax.lax import _bits

    kernel = {"log": _bits.xla_log_f32, "log1p": _bits.xla_log1p_f32}[name]
    rng = np.random.default_rng(7)
    x = _inputs(F32, rng)
    x = x[~((np.abs(x) > 0) & (np.abs(x) < np.finfo(np.float32).tiny))]
    if name == "log1p":  # the interesting range: (-1, 1) and the rational form's edges
        x = np.concatenate([x, rng.uniform(-1, 1, 300_000).astype(np.float32)])
        x = np.concatenate([x, np.float32([0.41421354, -0.41421354, 0.41421357, -0.41421357])])
    got = np.asarray(_compiled(name)(x))
    with np.errstate(all="ignore"):
        want = kernel(x)
    same = (got.view(np.uint32) == want.view(np.uint32)) | (np.isnan(got) & np.isnan(want))
    assert same.all(), list(zip(x[~same][:5], got[~same][:5], want[~same][:5]))
