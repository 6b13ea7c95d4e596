"""Accuracy of erf, erfc, lgamma and digamma: the NumPy reference kernels and the compiled ones.

The reference kernels (``derivax.lax._special``, ``_elementwise._np_erf``) are vectorized
float64 algorithms; they are checked against the standard library (``math.erf``,
``math.erfc``, ``math.lgamma``) and SciPy's digamma on dense grids and special values. The
compiled kernels (``derivax._compiler.mathlib``) evaluate the same algorithms in LLVM IR and
are checked against the reference (and ``math``) in ULPs.

Documented tolerances (float64):

* erf: <= 4 ULP against ``math.erf`` (reference and compiled); erfc: <= 6 ULP against
  ``math.erfc`` (which has about 1 ULP error of its own), i.e. ~1e-15 relative, also where
  erfc is tiny.
* lgamma: 1e-14 relative where ``|lgamma(x)| >= 1``, 1e-15 absolute elsewhere (next to its
  zeros at 1 and 2 and the zeros on the negative axis the value is small and only the
  absolute error is meaningful; ``math.lgamma`` itself is off by ~1e-15 there).
* digamma: the same rule (relative 1e-14 above 1 in magnitude, 2e-15 absolute below: next
  to its zero at 1.4616... and near the negative axis' zeros).

float32 results are computed in float64 and rounded once: compiled float32 results are
within 1 ULP of the reference's (erf keeps its own float32 kernel, within 1 ULP of the
correctly rounded value).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import derivax as dx
import derivax.lax as lax
from derivax._compiler import mathlib
from derivax.lax import _special

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
EULER_GAMMA = 0.57721566490153286061


@pytest.fixture(scope="module")
def llvm_cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("cache"))


def _ulp(ref, dtype):
    """The ULP of each reference value in ``dtype`` (subnormal spacing below tiny)."""
    fi = np.finfo(dtype)
    a = np.abs(np.asarray(ref, np.float64))
    e = np.floor(np.log2(np.maximum(a, float(fi.tiny))))
    return np.exp2(e - (fi.nmant))


def ulp_errors(got, ref, dtype):
    with np.errstate(all="ignore"):  # signalling NaNs (random bit patterns) pass through
        got = np.asarray(got, np.float64)
        ref = np.asarray(ref, np.float64)
        same = (got == ref) | (np.isnan(got) & np.isnan(ref))
        err = np.abs(got - ref) / _ulp(ref, dtype)
    err = np.where(same, 0.0, err)
    return np.where(np.isnan(err), np.inf, err)


def rel_or_abs_errors(got, ref, abs_below=1.0):
    """|got - ref| / max(|ref|, abs_below); exact matches (infinities, NaN) give 0."""
    with np.errstate(all="ignore"):
        got = np.asarray(got, np.float64)
        ref = np.asarray(ref, np.float64)
        same = (got == ref) | (np.isnan(got) & np.isnan(ref))
        err = np.abs(got - ref) / np.maximum(np.abs(ref), abs_below)
    err = np.where(same, 0.0, err)
    return np.where(np.isnan(err), np.inf, err)


def _assert_max(err, x, got, ref, bound, what):
    i = int(np.argmax(err))
    assert err[i] <= bound, (
        f"{what}({x[i]!r}) = {got[i]!r}, want {ref[i]!r}: {err[i]:.3g} > {bound}"
    )


def _math(fn, x):
    def one(v):
        try:
            return fn(v)
        except ValueError:  # lgamma's poles
            return math.inf
        except OverflowError:
            return math.inf

    return np.array([one(float(v)) for v in x], np.float64)


# --------------------------------------------------------------------------- grids

ERF_BOUNDARIES = [0.84375, 1.25, 2.0, 3.0, 4.5, 7.0, 28.0, 6.0, 5.9, 26.5, 27.2, 27.3]


def _erf_grid(rng):
    edges = np.array(ERF_BOUNDARIES)
    near = np.concatenate([np.nextafter(edges, 0), edges, np.nextafter(edges, 30)])
    pieces = [
        np.linspace(-7, 7, 200_001),
        rng.uniform(-30, 30, 100_000),
        np.exp(rng.uniform(-745, 3, 50_000)),
        near,
        -near,
        [0.0, -0.0, 5e-324, -5e-324, 1e-310, -1e-310, 2.0**-1022, 6.0, -6.0, 1e300, -1e300],
    ]
    x = np.concatenate([np.asarray(p, np.float64) for p in pieces])
    return np.concatenate([x, -x])


def _gamma_grid(rng):
    ints = np.arange(-20.0, 21.0)
    near_ints = np.concatenate([ints + d for d in (1e-12, -1e-12, 1e-6, -1e-6, 0.25, 0.5)])
    pieces = [
        np.linspace(-25, 25, 200_003),
        rng.uniform(0, 12, 100_000),
        np.exp(rng.uniform(-700, 700, 20_000)),
        -np.exp(rng.uniform(-700, 30, 20_000)),
        near_ints,
        [0.5, 1.5, 2.5, 9.999999999999998, 10.0, 1e-300, -1e-300, 5e-324, -5e-324],
    ]
    return np.concatenate([np.asarray(p, np.float64) for p in pieces])


# --------------------------------------------------------------------------- reference: erf


def test_reference_erf_float64_against_math():
    x = _erf_grid(np.random.default_rng(1))
    got = _special._erf64(x)
    ref = _math(math.erf, x)
    _assert_max(ulp_errors(got, ref, F64), x, got, ref, 4, "erf")


def test_reference_erfc_float64_against_math():
    x = _erf_grid(np.random.default_rng(2))
    got = _special._erfc64(x)
    ref = _math(math.erfc, x)
    _assert_max(ulp_errors(got, ref, F64), x, got, ref, 6, "erfc")
    # erfc is relatively accurate where it is tiny (no 1 - erf cancellation)
    tail = (x > 10) & (ref > 1e-300)  # normal results (subnormals have fewer digits)
    assert (rel_or_abs_errors(got[tail], ref[tail], 0.0) < 2e-15).all()


def test_reference_erf_special_values():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 40.0, -40.0])
    erf = _special._erf64(x)
    erfc = _special._erfc64(x)
    np.testing.assert_array_equal(erf[:4], [0.0, -0.0, 1.0, -1.0])
    assert not np.signbit(erf[0]) and np.signbit(erf[1])
    assert np.isnan(erf[4]) and np.isnan(erfc[4])
    assert erf[5] > 0 and erf[6] < 0  # denormals keep their sign and do not flush
    np.testing.assert_array_equal(erf[7:], [1.0, -1.0])
    np.testing.assert_array_equal(erfc[[0, 1, 2, 3, 7, 8]], [1.0, 1.0, 0.0, 2.0, 0.0, 2.0])


def test_eager_erf_float32_is_correctly_rounded():
    """float32 erf (the primitive's eager path) is within 1 ULP of math.erf."""
    rng = np.random.default_rng(3)
    x = np.concatenate([np.linspace(-6, 6, 100_001), rng.uniform(-4, 4, 50_000)]).astype(F32)
    got = np.asarray(lax.erf(x))
    ref = _math(math.erf, x)
    _assert_max(ulp_errors(got, ref, F32), x, got, ref, 1, "erf32")


def test_eager_erf_float64():
    x = _erf_grid(np.random.default_rng(4))[::7]
    with dx.config.context(enable_x64=True):
        got = np.asarray(lax.erf(x))
        assert got.dtype == F64
    ref = _math(math.erf, x)
    _assert_max(ulp_errors(got, ref, F64), x, got, ref, 4, "erf")


# --------------------------------------------------------------------------- reference: lgamma


def test_reference_lgamma_against_math():
    x = _gamma_grid(np.random.default_rng(5))
    got = _special._lgamma64(x)
    ref = _math(math.lgamma, x)
    # math.lgamma is itself ~1e-15 off in absolute terms next to lgamma's zeros
    _assert_max(rel_or_abs_errors(got, ref), x, got, ref, 1e-14, "lgamma")


def test_reference_lgamma_relative_near_one_and_two():
    """Next to the zeros at 1 and 2 the result stays relatively accurate.

    lgamma(1 + z) = -gamma z + zeta(2)/2 z^2 - zeta(3)/3 z^3 + O(z^4) and lgamma(2 + z) =
    (1 - gamma) z + (zeta(2) - 1)/2 z^2 - (zeta(3) - 1)/3 z^3 + O(z^4); for |z| <= 1e-6 the
    quartic term is below 1e-18 relative.
    """
    z = np.concatenate([np.geomspace(1e-300, 1e-6, 300), -np.geomspace(1e-300, 1e-6, 300)])
    zeta2, zeta3 = math.pi**2 / 6, 1.2020569031595942854
    for base, cs in (
        (1.0, (-EULER_GAMMA, zeta2 / 2, -zeta3 / 3)),
        (2.0, (1 - EULER_GAMMA, (zeta2 - 1) / 2, -(zeta3 - 1) / 3)),
    ):
        x = base + z
        dz = x - base  # the z that the float x really carries (exact)
        dz = dz[dz != 0]
        want = dz * (cs[0] + dz * (cs[1] + dz * cs[2]))
        got = _special._lgamma64(dz + base)
        np.testing.assert_allclose(got, want, rtol=4e-16, atol=0)


def test_reference_lgamma_special_values():
    x = np.array([1.0, 2.0, 0.5, 3.0, np.inf, -np.inf, np.nan, 0.0, -0.0, -1.0, -7.0, -1e300])
    got = _special._lgamma64(x)
    np.testing.assert_array_equal(got[[0, 1]], [0.0, 0.0])
    np.testing.assert_allclose(got[2], 0.5 * math.log(math.pi), rtol=1e-16)
    np.testing.assert_allclose(got[3], math.log(2.0), rtol=1e-16)
    assert got[4] == np.inf and got[5] == -np.inf and np.isnan(got[6])
    assert (got[7:] == np.inf).all()  # the poles (every huge float is an integer)
    assert _special._lgamma64(np.array([1e308]))[0] == np.inf  # overflows, no error


def test_lgamma_primitive_float32():
    x = np.concatenate([np.linspace(-10.3, 30, 50_001), [1.0, 2.0, 0.0, -3.0]]).astype(F32)
    got = np.asarray(lax.lgamma(x))
    ref = _math(math.lgamma, x.astype(np.float64)).astype(F32)
    _assert_max(rel_or_abs_errors(got, ref, 1.0), x, got, ref, 4e-7, "lgamma32")


# --------------------------------------------------------------------------- reference: digamma


def test_reference_digamma_against_scipy():
    special = pytest.importorskip("scipy.special", reason="SciPy gives the digamma reference")
    x = _gamma_grid(np.random.default_rng(6))
    # next to the poles SciPy's value loses digits (ours reduces pi x exactly)
    x = x[(np.abs(x) < 1e15) & ((x > 0) | (np.abs(x - np.round(x)) > 0.05))]
    got = _special._digamma64(x)
    ref = special.digamma(x)
    _assert_max(rel_or_abs_errors(got, ref), x, got, ref, 2e-14, "digamma")


def test_reference_digamma_identities():
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.uniform(0.5, 40, 20_000), rng.uniform(-20, -0.5, 20_000)])
    x = x[np.abs(x - np.round(x)) > 1e-3]
    lhs = _special._digamma64(x + 1)
    rhs = _special._digamma64(x) + 1 / x
    err = rel_or_abs_errors(lhs, rhs)
    assert err.max() < 1e-13
    np.testing.assert_allclose(_special._digamma64(np.array([1.0]))[0], -EULER_GAMMA, rtol=2e-15)
    half = -EULER_GAMMA - 2 * math.log(2)  # psi(1/2)
    np.testing.assert_allclose(_special._digamma64(np.array([0.5]))[0], half, rtol=1e-15)


def test_reference_digamma_special_values():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -1.0, -5.0])
    got = _special._digamma64(x)
    assert got[0] == -np.inf and got[1] == np.inf and got[2] == np.inf
    assert np.isnan(got[3:]).all()


# --------------------------------------------------------------------------- compiled


NAMES = ["erf", "erfc", "lgamma", "digamma"]
# float64 compiled vs float64 reference: (max ULP, or None for the rel/abs rule, rel/abs bound)
F64_BOUNDS = {"erf": (4, None), "erfc": (6, None), "lgamma": (None, 1e-14),
              "digamma": (None, 2e-14)}  # fmt: skip


def _compiled_inputs(dtype, rng):
    x = np.concatenate([_erf_grid(rng)[::3], _gamma_grid(rng)[::3]])
    bits = rng.integers(0, 2**32, 100_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.concatenate([x.astype(dtype), bits.astype(dtype)])


def _run_both(name, x, llvm_cache):
    fn = getattr(lax, name)
    with dx.config.context(jit_backend="reference"):
        ref = np.asarray(dx.jit(fn)(x))
    with dx.config.context(jit_backend="llvm", cache_dir=llvm_cache):
        f = dx.jit(fn)
        got = np.asarray(f(x))
        report = f.lower(x).compile().report
    return got, ref, report


@pytest.mark.parametrize("name", NAMES)
def test_compiled_float32_matches_reference(name, llvm_cache):
    x = _compiled_inputs(F32, np.random.default_rng(8))
    got, ref, report = _run_both(name, x, llvm_cache)
    assert report.fallbacks == [], report.fallbacks  # lowered natively
    assert got.dtype == F32
    _assert_max(ulp_errors(got, ref, F32), x, got, ref, 1, name)


@pytest.mark.parametrize("name", NAMES)
def test_compiled_float64_matches_reference(name, llvm_cache):
    with dx.config.context(enable_x64=True):
        x = _compiled_inputs(F64, np.random.default_rng(9))
        got, ref, report = _run_both(name, x, llvm_cache)
    assert report.fallbacks == [], report.fallbacks
    assert got.dtype == F64
    ulps, relabs = F64_BOUNDS[name]
    if ulps is not None:
        _assert_max(ulp_errors(got, ref, F64), x, got, ref, ulps, name)
    else:
        _assert_max(rel_or_abs_errors(got, ref), x, got, ref, relabs, name)


def test_compiled_erf_float64_against_math(llvm_cache):
    x = _erf_grid(np.random.default_rng(10))[::2]
    with dx.config.context(enable_x64=True, jit_backend="llvm", cache_dir=llvm_cache):
        got = np.asarray(dx.jit(lax.erf)(x))
    ref = _math(math.erf, x)
    _assert_max(ulp_errors(got, ref, F64), x, got, ref, 4, "erf")


@pytest.mark.parametrize("dtype", [F32, F64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", NAMES)
def test_compiled_special_values(name, dtype, llvm_cache):
    x = np.array([0.0, -0.0, 1.0, 2.0, -1.0, -2.0, np.inf, -np.inf, np.nan, 1e-40, -1e-40])
    x = x.astype(dtype)
    with dx.config.context(enable_x64=dtype == F64):
        got, ref, _ = _run_both(name, x, llvm_cache)
    same = (got == ref) & (np.signbit(got) == np.signbit(ref)) | (np.isnan(got) & np.isnan(ref))
    # values that are not exact specials must agree to a few ULP
    close = ulp_errors(got, ref, dtype) <= 2
    special = ~np.isfinite(ref) | (ref == 0) | ~np.isfinite(x) | (x == 0)
    assert (same | (close & ~special)).all(), list(zip(x, got, ref))


def test_compiled_kernels_are_vectorized_without_libm_calls(llvm_cache):
    x = np.linspace(-3, 3, 1024, dtype=np.float32)
    with dx.config.context(jit_backend="llvm", cache_dir=llvm_cache):
        for name in NAMES:
            text = dx.jit(getattr(lax, name)).lower(x).as_text("llvm")
            assert " x float>" in text or " x double>" in text, name
            calls = [ln for ln in text.splitlines() if "call " in ln and "@llvm." not in ln]
            assert not calls, (name, calls[:3])


def test_supported_dtypes():
    for name in NAMES:
        assert mathlib.supports(name, F32) and mathlib.supports(name, F64), name
