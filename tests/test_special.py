"""``derivax.scipy.special`` and the special-function primitives of ``derivax.lax``
(``lgamma``, ``digamma``, ``erfc``, ``polygamma``, ``zeta``), through the shared harness.

Each row of ``CASES`` is a function, its ``scipy.special`` reference, an input generator
and the derivative order checked (0: values, ``jit`` and ``vmap`` only, with the reason).
Rows run in float32 and float64; special values (infinities, NaN, poles, ``x == 0`` of
``xlogy``) are compared with SciPy in their own tests; the oracle tests compare values and
gradients with ``jax.scipy.special``.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import scipy.special as sp

sys.path.insert(0, os.path.dirname(__file__))

import derivax as dx  # noqa: E402
import derivax.lax as lax  # noqa: E402
import derivax.numpy as dnp  # noqa: E402
import derivax.scipy.special as dsp  # noqa: E402
from harness import (  # noqa: E402
    F32,
    F64,
    assert_close,
    check_against_numpy,
    check_batching,
    check_grads,
    check_jit,
    rand_default,
    rand_fractional,
    rand_positive,
    rand_unit,
    x64_context,
)


def _prob(rng):
    return rand_positive(rng, 0.02, 0.98)


def _wide(rng):
    return rand_default(rng, scale=6.0)


def _gen(*factories):
    return lambda seed, dt: tuple(f(seed + i)((2, 3), dt) for i, f in enumerate(factories))


def _ints(low, high):
    return lambda rng: (
        lambda shape, dt: np.random.default_rng(rng).integers(low, high, shape).astype(dt)
    )


# (id, derivax function, SciPy reference, args(seed, dtype), grad order, rtol f32, rtol f64)
CASES = [
    ("erf", dsp.erf, sp.erf, _gen(rand_default), 2, 2e-6, 1e-7),
    ("erfc", dsp.erfc, sp.erfc, _gen(rand_default), 2, 1e-6, 1e-13),
    ("erfc_tail", dsp.erfc, sp.erfc, _gen(lambda r: rand_positive(r, 3.0, 9.0)), 1, 1e-6, 1e-13),
    ("erfinv", dsp.erfinv, sp.erfinv, _gen(rand_unit), 2, 2e-6, 1e-13),
    ("ndtr", dsp.ndtr, sp.ndtr, _gen(_wide), 2, 2e-6, 1e-13),
    ("ndtri", dsp.ndtri, sp.ndtri, _gen(_prob), 2, 2e-6, 1e-13),
    ("log_ndtr", dsp.log_ndtr, sp.log_ndtr, _gen(lambda r: rand_default(r, 12.0)), 2, 2e-6, 1e-12),
    ("gammaln", dsp.gammaln, sp.gammaln, _gen(rand_positive), 2, 2e-6, 1e-13),
    ("gammaln_negative", dsp.gammaln, sp.gammaln, _gen(rand_fractional), 2, 2e-6, 1e-12),
    ("digamma", dsp.digamma, sp.digamma, _gen(rand_positive), 2, 2e-6, 1e-12),
    ("digamma_negative", dsp.digamma, sp.digamma, _gen(rand_fractional), 1, 2e-6, 1e-11),
    ("gamma", dsp.gamma, sp.gamma, _gen(rand_fractional), 2, 4e-6, 1e-12),
    ("polygamma", dsp.polygamma, sp.polygamma, _gen(_ints(0, 4), rand_positive), 1, 4e-6, 1e-12),
    ("betaln", dsp.betaln, sp.betaln, _gen(rand_positive, rand_positive), 2, 4e-6, 1e-12),
    (
        "zeta",
        dsp.zeta,
        sp.zeta,
        _gen(lambda r: rand_positive(r, 1.5, 6.0), rand_positive),
        1,
        2e-6,
        1e-13,
    ),  # fmt: skip
    ("zeta_riemann", dsp.zeta, sp.zeta, _gen(lambda r: rand_positive(r, 1.5, 6.0)), 0, 2e-6, 1e-13),
    ("xlogy", dsp.xlogy, sp.xlogy, _gen(rand_default, rand_positive), 2, 2e-6, 1e-13),
    ("xlog1py", dsp.xlog1py, sp.xlog1py, _gen(rand_default, rand_positive), 2, 2e-6, 1e-13),
    ("entr", dsp.entr, sp.entr, _gen(rand_positive), 2, 2e-6, 1e-13),
    ("rel_entr", dsp.rel_entr, sp.rel_entr, _gen(rand_positive, rand_positive), 2, 2e-6, 1e-13),
    ("kl_div", dsp.kl_div, sp.kl_div, _gen(rand_positive, rand_positive), 2, 2e-6, 1e-13),
    ("expit", dsp.expit, sp.expit, _gen(rand_default), 2, 2e-6, 1e-13),
    ("logit", dsp.logit, sp.logit, _gen(_prob), 2, 2e-6, 1e-13),
    ("softmax", dsp.softmax, sp.softmax, _gen(rand_default), 2, 2e-6, 1e-13),
    ("log_softmax", dsp.log_softmax, sp.log_softmax, _gen(rand_default), 2, 2e-6, 1e-13),
    ("logsumexp", dsp.logsumexp, sp.logsumexp, _gen(rand_default), 2, 2e-6, 1e-13),
    (
        "logsumexp_axis_b",
        lambda a, b: dsp.logsumexp(a, axis=-1, b=b),
        lambda a, b: sp.logsumexp(a, axis=-1, b=b),
        _gen(rand_default, rand_positive),
        2,
        2e-6,
        1e-13,
    ),  # fmt: skip
]
# Orders above are those whose numerical check is meaningful: polygamma/zeta are not
# differentiable in their first argument (integers / exponents) so only their second is
# checked, at first order (third derivatives of the zeta sum lose digits to differences).
PARAMS = [
    pytest.param(f, ref, args, order, tols, dt, id=f"{name}-{np.dtype(dt).name}")
    for name, f, ref, args, order, *tols in CASES
    for dt in (F32, F64)
]


@pytest.mark.parametrize("fun, ref, args, order, tols, dtype", PARAMS)
def test_values_jit_vmap(fun, ref, args, order, tols, dtype):
    xs = args(0, dtype)
    rtol = tols[0] if dtype == F32 else tols[1]
    atol = rtol * 10 if dtype == F32 else 1e-13
    with x64_context(dtype):
        check_against_numpy(fun, ref, xs, dtype=dtype, rtol=rtol, atol=atol)
        check_jit(fun, xs, rtol=rtol, atol=atol)
        check_batching(fun, xs, in_axes=0, rtol=rtol, atol=atol)


@pytest.mark.parametrize(
    "fun, ref, args, order, tols, dtype", [p for p in PARAMS if "float64" in p.id]
)
def test_grads(fun, ref, args, order, tols, dtype):
    if order == 0:
        pytest.skip("zeta's first argument (the exponent) is not differentiable")
    xs = args(0, F32)
    if fun in (dsp.polygamma, dsp.zeta):
        # Differentiate in the second argument only: the first is an order / exponent.
        first = xs[0]
        check_grads(lambda x: fun(dnp.asarray(first, x.dtype), x), xs[1:], order=order)
    else:
        check_grads(fun, xs, order=order)


def test_integer_and_scalar_inputs_promote():
    assert dsp.gammaln(dnp.array([1, 2, 5])).dtype == dnp.float32
    out = dsp.erfc(0.5)
    assert out.dtype == dnp.float32 and out.weak_type
    assert_close(dsp.xlogy(2, dnp.array([1.0, 3.0])), np.float32(2) * np.log([1.0, 3.0], dtype=F32))


# --------------------------------------------------------------------------- special values

SPECIAL = np.array([0.0, -0.0, -1.0, -2.0, -2.5, 1.0, 2.0, np.inf, -np.inf, np.nan, 1e-30, 40.0])


@pytest.mark.parametrize(
    "fun, ref",
    [
        (dsp.gammaln, sp.gammaln),
        (dsp.digamma, sp.digamma),
        (dsp.gamma, sp.gamma),
        (dsp.erfc, sp.erfc),
        (dsp.ndtr, sp.ndtr),
        (dsp.log_ndtr, sp.log_ndtr),
        (dsp.entr, sp.entr),
        (lambda x: dsp.polygamma(1, x), lambda x: sp.polygamma(1, x)),
        (lambda x: dsp.polygamma(2, x), lambda x: sp.polygamma(2, x)),
        (lambda x: dsp.zeta(3.0, x), lambda x: sp.zeta(3.0, x)),
    ],
    ids=[
        "gammaln",
        "digamma",
        "gamma",
        "erfc",
        "ndtr",
        "log_ndtr",
        "entr",
        "polygamma1",
        "polygamma2",
        "zeta",
    ],  # fmt: skip
)
def test_special_values(fun, ref):
    with dx.config.context(enable_x64=True):
        with np.errstate(all="ignore"):
            want = ref(SPECIAL)
        got = np.asarray(fun(dnp.asarray(SPECIAL)))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)


def test_two_argument_special_values():
    x = np.array([0.0, 0.0, 0.0, 1.0, -1.0, 1.0, 0.0, np.nan])
    y = np.array([0.0, 1.0, -1.0, 0.0, 1.0, -1.0, np.nan, 1.0])
    with dx.config.context(enable_x64=True), np.errstate(all="ignore"):
        for fun, ref in [(dsp.xlogy, sp.xlogy), (dsp.xlog1py, sp.xlog1py),
                         (dsp.rel_entr, sp.rel_entr), (dsp.kl_div, sp.kl_div)]:  # fmt: skip
            yy = y - 1.0 if fun is dsp.xlog1py else y
            np.testing.assert_allclose(np.asarray(fun(x, yy)), ref(x, yy), rtol=1e-12, atol=0)
        p = np.array([0.0, 1.0, 0.5, -0.1, 1.1, np.nan, 1e-300, 1 - 1e-16])
        np.testing.assert_allclose(np.asarray(dsp.ndtri(p)), sp.ndtri(p), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(dsp.erfinv(np.array([1.0, -1.0, 2.0]))),
                                   sp.erfinv(np.array([1.0, -1.0, 2.0])))  # fmt: skip


def test_xlogy_gradient_at_zero_is_finite():
    # d/dy x log y = x / y: 0 where x == 0, even at y == 0 (a custom jvp, as in JAX).
    gx, gy = dx.grad(lambda x, y: dnp.sum(dsp.xlogy(x, y)), argnums=(0, 1))(
        dnp.array([0.0, 2.0]), dnp.array([0.0, 4.0])
    )
    assert_close(gy, np.array([0.0, 0.5], F32))
    assert_close(gx[1], np.float32(np.log(4.0)))
    gy1 = dx.grad(lambda y: dnp.sum(dsp.xlog1py(0.0, y)))(dnp.array([-1.0, 3.0]))
    assert_close(gy1, np.zeros(2, F32))
    # entr, rel_entr and kl_div: no NaN from the branches a where discards
    g = dx.grad(lambda x: dnp.sum(dsp.entr(x) + dsp.kl_div(x, 1.0)))(dnp.array([0.5, -1.0]))
    assert np.isfinite(np.asarray(g)).all()
    g = dx.grad(lambda x: dnp.sum(dsp.log_ndtr(x)))(dnp.array([-40.0, 0.0, 40.0]))
    assert_close(g, np.array([40.02497, 0.7978846, 0.0], F32), rtol=1e-5, atol=1e-6)


def test_logsumexp_b_and_return_sign_match_scipy():
    a = rand_default(0)((3, 4), F32)
    b = rand_default(1)((3, 4), F32)  # mixed signs
    for axis in (None, 0, 1):
        for keepdims in (False, True):
            got = dsp.logsumexp(a, axis=axis, b=b, keepdims=keepdims, return_sign=True)
            want = sp.logsumexp(a, axis=axis, b=b, keepdims=keepdims, return_sign=True)
            assert_close(got[0], np.asarray(want[0], F32), rtol=1e-5, atol=1e-5)
            assert_close(got[1], np.asarray(want[1], F32))
    # A negative sum without return_sign is NaN in SciPy and here.
    with np.errstate(all="ignore"):
        want = sp.logsumexp(np.array([0.0, 0.0]), b=np.array([1.0, -2.0]))
    assert np.isnan(want) and np.isnan(
        np.asarray(dsp.logsumexp(dnp.zeros(2), b=dnp.array([1.0, -2.0])))
    )
    # b = 0 everywhere: -inf
    assert np.asarray(dsp.logsumexp(dnp.zeros(2), b=dnp.zeros(2))) == -np.inf


# --------------------------------------------------------------------------- lax primitives


def test_lax_primitives_and_their_derivative_chain():
    x = rand_positive(0)((2, 3), F32)
    check_against_numpy(lax.lgamma, sp.gammaln, (x,), dtype=F32, rtol=2e-6, atol=2e-6)
    check_against_numpy(lax.digamma, sp.digamma, (x,), dtype=F32, rtol=2e-6, atol=2e-6)
    check_against_numpy(lax.erfc, sp.erfc, (x,), dtype=F32, rtol=2e-6, atol=2e-6)
    # lgamma'' = polygamma(1), digamma'' = polygamma(2): third order through the chain
    check_grads(lax.lgamma, (x,), order=3)
    check_grads(lax.digamma, (x,), order=2)
    check_grads(lax.erfc, (x,), order=3)
    with dx.config.context(enable_x64=True):
        x64 = x.astype(F64)
        assert_close(dx.vmap(dx.grad(dx.grad(lax.lgamma)))(x64.ravel()).reshape(x.shape),
                     sp.polygamma(1, x64), rtol=1e-12, atol=1e-12)  # fmt: skip
    text = str(dx.make_jaxpr(dx.grad(lax.lgamma))(1.5))
    assert "digamma" in text


def test_errors():
    with pytest.raises(TypeError, match="lgamma is defined for real floating-point operands"):
        lax.lgamma(dnp.ones(2, dnp.complex64))
    with pytest.raises(TypeError, match="requires a floating-point"):
        lax.digamma(dnp.ones(2, dnp.int32))
    with pytest.raises(NotImplementedError, match="not differentiable with respect to its order"):
        dx.grad(lambda n: dsp.polygamma(n, 2.0))(1.0)
    with pytest.raises(NotImplementedError, match="zeta is not differentiable"):
        dx.grad(lambda s: dsp.zeta(s, 2.0))(3.0)
    with pytest.raises(TypeError, match="defined for real arguments"):
        dsp.gammaln(dnp.ones(2, dnp.complex64))


# --------------------------------------------------------------------------- oracle: JAX

ORACLE = ["erfc", "erfinv", "ndtr", "ndtri", "log_ndtr", "gammaln", "digamma", "gamma",
          "betaln", "xlogy", "xlog1py", "entr", "rel_entr", "kl_div", "log_softmax"]  # fmt: skip


@pytest.mark.oracle
@pytest.mark.parametrize("name", ORACLE)
def test_oracle_jax_values_and_grads(name):
    jax = pytest.importorskip("jax", reason="JAX not installed: oracle tests skipped")
    jax.config.update("jax_platforms", "cpu")
    jsp = jax.scipy.special
    row = next(c for c in CASES if c[0] == name)
    xs = row[3](0, F32)
    assert_close(getattr(dsp, name)(*xs), np.asarray(getattr(jsp, name)(*xs)), rtol=2e-5,
                 atol=2e-5)  # fmt: skip
    for i in range(len(xs)):
        got = dx.grad(lambda *a: dnp.sum(getattr(dsp, name)(*a)), argnums=i)(*xs)
        want = jax.grad(lambda *a: jax.numpy.sum(getattr(jsp, name)(*a)), argnums=i)(*xs)
        assert_close(got, np.asarray(want), rtol=1e-4, atol=1e-4, err_msg=f"{name} grad {i}")


@pytest.mark.oracle
def test_oracle_jax_xlogy_at_zero_and_polygamma():
    jax = pytest.importorskip("jax", reason="JAX not installed: oracle tests skipped")
    jax.config.update("jax_platforms", "cpu")
    jsp = jax.scipy.special
    # At (0, 0) JAX's gradient in y is NaN (0 * log 0 in its jvp); ours is 0 (see
    # test_xlogy_gradient_at_zero_is_finite), so the comparison uses x == 0 with y > 0.
    x, y = np.array([0.0, 0.0, 1.0], F32), np.array([0.5, 2.0, 3.0], F32)
    for argnum in (0, 1):
        got = dx.grad(lambda a, b: dnp.sum(dsp.xlogy(a, b)), argnums=argnum)(x, y)
        want = jax.grad(lambda a, b: jax.numpy.sum(jsp.xlogy(a, b)), argnums=argnum)(x, y)
        assert_close(got, np.asarray(want), err_msg=f"xlogy grad {argnum}")
    v = rand_positive(0)((5,), F32)
    for n in (0, 1, 3):
        assert_close(dsp.polygamma(n, v), np.asarray(jsp.polygamma(n, v)), rtol=2e-5, atol=2e-5)
        got = dx.grad(lambda t, n=n: dnp.sum(dsp.polygamma(n, t)))(v)
        want = jax.grad(lambda t, n=n: jax.numpy.sum(jsp.polygamma(n, t)))(v)
        assert_close(got, np.asarray(want), rtol=1e-4, atol=1e-4)
    assert_close(dsp.zeta(3.0, v), np.asarray(jsp.zeta(3.0, v)), rtol=2e-5, atol=2e-5)
