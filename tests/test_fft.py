"""``derivax.numpy.fft`` and the ``lax.fft`` primitive, through the shared harness.

Each row of ``CASES`` is a transform with its ``numpy.fft`` reference, input kind and
expected output dtype (written here from NumPy's rules for 32-bit inputs: complex64 out,
float32 for the real-output transforms). Rows run over 32- and 64-bit dtypes for values
and ``jit``; ``vmap`` and derivatives run on selected rows. Derivatives of complex-valued
transforms are checked through real-valued compositions (real inputs assembled with
``lax.complex``, real outputs taken with ``lax.real``/``lax.imag``), and the transpose rules
of ``lax.fft`` directly with the inner-product identity under JAX's pairing
``<a, b> = Re(sum(a * b))``.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

import derivax as dx  # noqa: E402
import derivax.lax as lax  # noqa: E402
import derivax.numpy as dnp  # noqa: E402
import derivax.numpy.fft as dfft  # noqa: E402
from harness import (  # noqa: E402
    C64,
    C128,
    F32,
    F64,
    assert_close,
    check_against_numpy,
    check_batching,
    check_grads,
    check_jit,
    rand_default,
    x64_context,
)

REAL = (F32, F64)
CPLX = (C64, C128)
TO_COMPLEX = {F32: C64, F64: C128, C64: C64, C128: C128}
TO_REAL = {C64: F32, C128: F64, F32: F32, F64: F64}
# FFT sums many terms: tolerances scale with the length of the transforms below (<= 16).
TOL = {F32: 2e-5, F64: 1e-12, C64: 2e-5, C128: 1e-12}


def _rand(shape, dtype, seed=0):
    return rand_default(seed, scale=1.0)(shape, dtype)


# --------------------------------------------------------------------------- the table

CASES = []


def case(id, fun, ref, shape, kinds, out, grad=False, vmap=True):  # noqa: A002
    """``kinds``: the input dtypes; ``out(dtype)``: the expected output dtype."""
    for dt in kinds:
        CASES.append(pytest.param(fun, ref, shape, np.dtype(dt), out, grad, vmap, id=f"{id}-{dt}"))


ANY = REAL + CPLX
for _norm in (None, "ortho", "forward"):
    _n = _norm or "backward"
    case(f"fft_{_n}", lambda x, nm=_norm: dfft.fft(x, norm=nm),
         lambda x, nm=_norm: np.fft.fft(x, norm=nm), (3, 8), ANY, TO_COMPLEX.get)  # fmt: skip
    case(f"ifft_{_n}", lambda x, nm=_norm: dfft.ifft(x, norm=nm),
         lambda x, nm=_norm: np.fft.ifft(x, norm=nm), (3, 8), ANY, TO_COMPLEX.get)  # fmt: skip
    case(f"rfft_{_n}", lambda x, nm=_norm: dfft.rfft(x, norm=nm),
         lambda x, nm=_norm: np.fft.rfft(x, norm=nm), (3, 8), REAL, TO_COMPLEX.get)  # fmt: skip
    case(f"irfft_{_n}", lambda x, nm=_norm: dfft.irfft(x, norm=nm),
         lambda x, nm=_norm: np.fft.irfft(x, norm=nm), (3, 5), ANY, TO_REAL.get)  # fmt: skip
    case(f"hfft_{_n}", lambda x, nm=_norm: dfft.hfft(x, norm=nm),
         lambda x, nm=_norm: np.fft.hfft(x, norm=nm), (3, 5), ANY, TO_REAL.get)  # fmt: skip
    case(f"ihfft_{_n}", lambda x, nm=_norm: dfft.ihfft(x, norm=nm),
         lambda x, nm=_norm: np.fft.ihfft(x, norm=nm), (3, 8), REAL, TO_COMPLEX.get)  # fmt: skip

# lengths (crop and zero-pad), axes, odd sizes
case("fft_n_pad", lambda x: dfft.fft(x, n=11), lambda x: np.fft.fft(x, n=11), (2, 7), ANY,
     TO_COMPLEX.get)  # fmt: skip
case("fft_n_crop_axis0", lambda x: dfft.fft(x, n=3, axis=0),
     lambda x: np.fft.fft(x, n=3, axis=0), (5, 2), ANY, TO_COMPLEX.get)  # fmt: skip
case("rfft_odd_n", lambda x: dfft.rfft(x, n=7), lambda x: np.fft.rfft(x, n=7), (2, 6), REAL,
     TO_COMPLEX.get)  # fmt: skip
case("irfft_odd_n", lambda x: dfft.irfft(x, n=7), lambda x: np.fft.irfft(x, n=7), (2, 4), ANY,
     TO_REAL.get)  # fmt: skip
case("irfft_axis0", lambda x: dfft.irfft(x, n=6, axis=0),
     lambda x: np.fft.irfft(x, n=6, axis=0), (4, 3), CPLX, TO_REAL.get)  # fmt: skip
case("hfft_n", lambda x: dfft.hfft(x, n=5), lambda x: np.fft.hfft(x, n=5), (3,), CPLX,
     TO_REAL.get, vmap=False)  # fmt: skip
case("fft2", dfft.fft2, np.fft.fft2, (2, 4, 6), ANY, TO_COMPLEX.get)
case("ifft2_s", lambda x: dfft.ifft2(x, s=(3, 5)), lambda x: np.fft.ifft2(x, s=(3, 5)),
     (2, 4, 6), ANY, TO_COMPLEX.get)  # fmt: skip
case("fftn_all", dfft.fftn, np.fft.fftn, (3, 4, 5), CPLX, TO_COMPLEX.get, vmap=False)
case("fftn_axes", lambda x: dfft.fftn(x, axes=(0, 2)), lambda x: np.fft.fftn(x, axes=(0, 2)),
     (3, 4, 5), ANY, TO_COMPLEX.get, vmap=False)  # fmt: skip
case("ifftn_axes_order", lambda x: dfft.ifftn(x, s=(4, 6), axes=(2, 0)),
     lambda x: np.fft.ifftn(x, s=(4, 6), axes=(2, 0)), (3, 4, 5), ANY, TO_COMPLEX.get,
     vmap=False)  # fmt: skip
case("rfft2", dfft.rfft2, np.fft.rfft2, (2, 4, 6), REAL, TO_COMPLEX.get)
case("irfft2", dfft.irfft2, np.fft.irfft2, (2, 4, 4), ANY, TO_REAL.get)
case("rfftn_axes", lambda x: dfft.rfftn(x, axes=(2, 0)), lambda x: np.fft.rfftn(x, axes=(2, 0)),
     (5, 3, 4), REAL, TO_COMPLEX.get, vmap=False)  # fmt: skip
case("irfftn_s", lambda x: dfft.irfftn(x, s=(3, 5)), lambda x: np.fft.irfftn(x, s=(3, 5), axes=(1, 2)),
     (2, 4, 3), ANY, TO_REAL.get)  # fmt: skip
case("irfftn_all", dfft.irfftn, np.fft.irfftn, (3, 4, 5), CPLX, TO_REAL.get, vmap=False)
case("fftshift", dfft.fftshift, np.fft.fftshift, (4, 5), ANY, lambda d: d)
case("ifftshift", dfft.ifftshift, np.fft.ifftshift, (4, 5), ANY, lambda d: d)
case("fftshift_axis", lambda x: dfft.fftshift(x, axes=1),
     lambda x: np.fft.fftshift(x, axes=1), (3, 7), REAL, lambda d: d, vmap=False)  # fmt: skip
case("ifftshift_axes", lambda x: dfft.ifftshift(x, axes=(0,)),
     lambda x: np.fft.ifftshift(x, axes=(0,)), (5, 2), REAL, lambda d: d)  # fmt: skip


@pytest.mark.parametrize("fun, ref, shape, dtype, out, grad, vmap", CASES)
def test_values_and_jit(fun, ref, shape, dtype, out, grad, vmap):
    x = _rand(shape, dtype)
    tol = TOL[dtype]
    with x64_context(dtype):
        check_against_numpy(fun, ref, (x,), dtype=out(dtype), rtol=tol, atol=tol)
        check_jit(fun, (x,), rtol=tol, atol=tol)


@pytest.mark.parametrize("fun, ref, shape, dtype, out, grad, vmap", CASES)
def test_vmap(fun, ref, shape, dtype, out, grad, vmap):
    if not vmap or dtype not in (F32, C64):
        pytest.skip("vmap is checked once per transform, on the 32-bit rows with a batch axis")
    x = _rand(shape, dtype)
    check_batching(fun, (x,), in_axes=0, rtol=TOL[dtype], atol=TOL[dtype])


def test_integer_input_is_converted_to_the_default_float():
    x = np.arange(6, dtype=np.int32)
    check_against_numpy(dfft.fft, np.fft.fft, (x,), dtype=C64, rtol=1e-5, atol=1e-5)
    check_against_numpy(dfft.rfft, np.fft.rfft, (x,), dtype=C64, rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------- frequencies


@pytest.mark.parametrize("n", [1, 2, 5, 8])
@pytest.mark.parametrize("d", [1.0, 0.25])
def test_fftfreq_and_rfftfreq(n, d):
    assert_close(dfft.fftfreq(n, d), np.fft.fftfreq(n, d).astype(F32))
    assert_close(dfft.rfftfreq(n, d), np.fft.rfftfreq(n, d).astype(F32))


def test_fftfreq_dtype_traced_spacing_and_device():
    with dx.config.context(enable_x64=True):
        assert_close(dfft.fftfreq(5, 0.1, dtype=dnp.float64), np.fft.fftfreq(5, 0.1))
    # d may be traced, and differentiated: d/dd (k / (d n)) = -k / (d^2 n)
    g = dx.grad(lambda d: dnp.sum(dfft.fftfreq(4, d) ** 2))(0.5)
    k = np.fft.fftfreq(4, 1.0) * 4
    assert_close(g, np.float32(np.sum(-2 * (k / (0.5 * 4)) ** 2 / 0.5)), rtol=1e-6, atol=1e-6)
    assert_close(dx.jit(lambda d: dfft.rfftfreq(6, d))(2.0), np.fft.rfftfreq(6, 2.0).astype(F32))
    assert dfft.fftfreq(3, device="cpu").shape == (3,)
    with pytest.raises(ValueError, match="fftfreq: n must be >= 1"):
        dfft.fftfreq(0)
    with pytest.raises(ValueError, match="floating-point dtype"):
        dfft.fftfreq(4, dtype=dnp.int32)


# --------------------------------------------------------------------------- derivatives

# Real-valued compositions: real inputs, complex transforms in the middle, real outputs.


def _c(xr, xi):
    return lax.complex(xr, xi)


def _ri(z):
    return dnp.stack([lax.real(z), lax.imag(z)])


GRAD_CASES = [
    ("fft", lambda xr, xi: _ri(dfft.fft(_c(xr, xi))), [(6,), (6,)]),
    ("ifft_ortho", lambda xr, xi: _ri(dfft.ifft(_c(xr, xi), norm="ortho")), [(5,), (5,)]),
    ("fft_n_pad", lambda xr, xi: _ri(dfft.fft(_c(xr, xi), n=7)), [(4,), (4,)]),
    ("fft2", lambda xr, xi: _ri(dfft.fft2(_c(xr, xi))), [(3, 4), (3, 4)]),
    ("rfft_even", lambda x: _ri(dfft.rfft(x)), [(8,)]),
    ("rfft_odd", lambda x: _ri(dfft.rfft(x)), [(7,)]),
    ("rfft2", lambda x: _ri(dfft.rfft2(x)), [(3, 6)]),
    ("rfftn_axes0", lambda x: _ri(dfft.rfftn(x, axes=(1, 0))), [(3, 5)]),
    ("irfft_even", lambda xr, xi: dfft.irfft(_c(xr, xi), n=8), [(5,), (5,)]),
    ("irfft_odd", lambda xr, xi: dfft.irfft(_c(xr, xi), n=7), [(4,), (4,)]),
    ("irfft2", lambda xr, xi: dfft.irfft2(_c(xr, xi), s=(3, 6)), [(3, 4), (3, 4)]),
    ("hfft", lambda xr, xi: dfft.hfft(_c(xr, xi), norm="forward"), [(4,), (4,)]),
    ("ihfft", lambda x: _ri(dfft.ihfft(x)), [(6,)]),
    (
        "power_spectrum",
        lambda x: dnp.sum(lax.real(dfft.rfft(x) * lax.conj(dfft.rfft(x)))),
        [(6,)],
    ),  # fmt: skip
    ("fftshift", lambda x: dfft.fftshift(x) * dnp.arange(5.0), [(5,)]),
]


@pytest.mark.parametrize("fun, shapes", [pytest.param(f, s, id=n) for n, f, s in GRAD_CASES])
def test_grads(fun, shapes):
    args = [_rand(s, F32, seed=i) for i, s in enumerate(shapes)]
    check_grads(fun, args, order=2)


def test_grad_of_parseval_energy():
    # sum |fft(x)|^2 = n sum x^2, so the gradient is 2 n x (the brief's example composition).
    x = _rand((6,), F32)

    def energy(x):
        y = dfft.fft(x)
        return dnp.sum(lax.real(y) ** 2 + lax.imag(y) ** 2)

    assert_close(dx.grad(energy)(x), (12 * x).astype(F32), rtol=1e-5, atol=1e-5)
    assert_close(dx.jit(dx.grad(energy))(x), (12 * x).astype(F32), rtol=1e-5, atol=1e-5)


def _pair(a, b):
    """JAX's cotangent pairing Re(sum(a * b)) (no conjugate)."""
    return float(np.sum(np.asarray(a, C128) * np.asarray(b, C128)).real)


PRIM_CASES = [
    ("FFT", (3, 4), C128, (4,)),
    ("IFFT", (2, 3, 5), C128, (3, 5)),
    ("RFFT", (2, 6), F64, (6,)),
    ("RFFT", (3, 5), F64, (3, 5)),
    ("IRFFT", (2, 4), C128, (6,)),
    ("IRFFT", (2, 4), C128, (7,)),
    ("IRFFT", (3, 3), C128, (3, 4)),
]


@pytest.mark.parametrize("fft_type, shape, dtype, lengths", PRIM_CASES)
def test_lax_fft_transpose_inner_product_identity(fft_type, shape, dtype, lengths):
    rng = np.random.default_rng(0)

    def rand(shape, dt):
        v = rng.standard_normal(shape)
        return (v + 1j * rng.standard_normal(shape) if np.dtype(dt).kind == "c" else v).astype(dt)

    with dx.config.context(enable_x64=True):
        f = lambda x: lax.fft(x, fft_type, lengths)  # noqa: E731
        x, t = rand(shape, dtype), rand(shape, dtype)
        y, jt = dx.jvp(f, (dnp.asarray(x),), (dnp.asarray(t),))
        ct = rand(y.shape, y.dtype)
        _, pullback = dx.vjp(f, dnp.asarray(x))
        (ct_x,) = pullback(dnp.asarray(ct))
        assert ct_x.dtype == dtype and ct_x.shape == shape
        lhs, rhs = _pair(ct, jt), _pair(ct_x, t)
        assert abs(lhs - rhs) <= 1e-10 * max(1.0, abs(lhs)), (lhs, rhs)
        # the jvp of a linear map is the map itself
        assert_close(jt, f(dnp.asarray(t)))


def test_lax_fft_vmap_and_jaxpr():
    x = _rand((3, 2, 4), C64)
    check_batching(lambda v: lax.fft(v, lax.FftType.FFT, (4,)), (x,), in_axes=1)
    text = str(dx.make_jaxpr(lambda v: lax.fft(v, "irfft", (6,)))(_rand((4,), C64)))
    assert "fft[fft_type=IRFFT fft_lengths=(6,)]" in text and "f32[6]" in text


def test_complex_parts():
    z = _rand((2, 3), C64)
    assert_close(lax.real(dnp.asarray(z)), z.real)
    assert_close(lax.imag(dnp.asarray(z)), z.imag)
    assert_close(lax.conj(dnp.asarray(z)), np.conj(z))
    assert_close(lax.complex(dnp.asarray(z.real), dnp.asarray(z.imag)), z)
    inf = lax.complex(dnp.array([1.0]), dnp.array([np.inf]))
    assert np.asarray(inf).real[0] == 1.0 and np.asarray(inf).imag[0] == np.inf
    check_batching(lambda a, b: lax.real(lax.conj(lax.complex(a, b))), (z.real, z.imag))
    check_grads(lambda a, b: lax.imag(lax.conj(lax.complex(a, b)) * lax.complex(b, a)),
                (z.real, z.imag))  # fmt: skip


# --------------------------------------------------------------------------- errors


def test_errors():
    x = dnp.ones((4,))
    z = dnp.ones((4,), dnp.complex64)
    with pytest.raises(ValueError, match="norm must be 'backward'"):
        dfft.fft(x, norm="unitary")
    with pytest.raises(TypeError, match="rfft: the input must be real, got complex64"):
        dfft.rfft(z)
    with pytest.raises(ValueError, match="invalid number of FFT data points 0"):
        dfft.fft(x, n=0)
    with pytest.raises(ValueError, match="axis 1 is out of bounds for an array of rank 1"):
        dfft.fft(x, axis=1)
    with pytest.raises(ValueError, match="repeat an axis"):
        dfft.fftn(dnp.ones((2, 2)), axes=(0, 0))
    with pytest.raises(ValueError, match="same length"):
        dfft.fftn(dnp.ones((2, 2)), s=(2,), axes=(0, 1))
    with pytest.raises(TypeError, match="n must be a Python int"):
        dfft.fft(x, n=2.5)
    with pytest.raises(ValueError, match=r"trailing shape \(4,\) must be \(5,\)"):
        lax.fft(z, "fft", (5,))
    with pytest.raises(TypeError, match="must be complex64 or complex128, got f32"):
        lax.fft(x, "fft", (4,))
    with pytest.raises(TypeError, match="must be float32 or float64, got c64"):
        lax.fft(z, "rfft", (4,))
    with pytest.raises(ValueError, match="fft_type must be a lax.FftType"):
        lax.fft(z, "dct", (4,))
    with pytest.raises(TypeError, match="real requires a complex64 or complex128"):
        lax.real(x)
    with pytest.raises(TypeError, match="one shape and one dtype"):
        lax.complex(x, dnp.ones((3,)))


def test_empty_batch_and_size_one():
    check_against_numpy(dfft.fft, np.fft.fft, (np.zeros((0, 4), F32),), dtype=C64)
    check_against_numpy(lambda x: dfft.irfft(x, n=1), lambda x: np.fft.irfft(x, n=1),
                        (np.ones((3,), C64),), dtype=F32)  # fmt: skip


# --------------------------------------------------------------------------- oracle: JAX


@pytest.mark.oracle
@pytest.mark.parametrize(
    "name, fun, shapes", [pytest.param(n, f, s, id=n) for n, f, s in GRAD_CASES]
)
def test_oracle_jax_values_and_grads(name, fun, shapes):
    jax = pytest.importorskip("jax", reason="JAX not installed: oracle tests skipped")
    jax.config.update("jax_platforms", "cpu")
    jnp = jax.numpy
    if name in ("power_spectrum",):
        pytest.skip("uses lax.conj; covered by the other rows")

    class Shim:
        """Maps the few derivax calls of the table to JAX."""

    args = [_rand(s, F32, seed=i) for i, s in enumerate(shapes)]
    jfun = _jax_version(name, jnp)
    w = _rand(np.shape(fun(*[dnp.asarray(a) for a in args])), F32, seed=9)

    def scalar(f, m):
        return lambda *a: m.sum(f(*a) * w)

    for i in range(len(args)):
        got = dx.grad(scalar(fun, dnp), argnums=i)(*[dnp.asarray(a) for a in args])
        want = jax.grad(scalar(jfun, jnp), argnums=i)(*args)
        assert_close(got, np.asarray(want), rtol=1e-4, atol=1e-4, err_msg=f"{name} grad {i}")
    assert_close(fun(*[dnp.asarray(a) for a in args]), np.asarray(jfun(*args)), rtol=1e-4,
                 atol=1e-4)  # fmt: skip
    del Shim


def _jax_version(name, jnp):
    c = lambda a, b: a + 1j * b  # noqa: E731
    ri = lambda z: jnp.stack([jnp.real(z), jnp.imag(z)])  # noqa: E731
    f = jnp.fft
    return {
        "fft": lambda a, b: ri(f.fft(c(a, b))),
        "ifft_ortho": lambda a, b: ri(f.ifft(c(a, b), norm="ortho")),
        "fft_n_pad": lambda a, b: ri(f.fft(c(a, b), n=7)),
        "fft2": lambda a, b: ri(f.fft2(c(a, b))),
        "rfft_even": lambda x: ri(f.rfft(x)),
        "rfft_odd": lambda x: ri(f.rfft(x)),
        "rfft2": lambda x: ri(f.rfft2(x)),
        "rfftn_axes0": lambda x: ri(f.rfftn(x, axes=(1, 0))),
        "irfft_even": lambda a, b: f.irfft(c(a, b), n=8),
        "irfft_odd": lambda a, b: f.irfft(c(a, b), n=7),
        "irfft2": lambda a, b: f.irfft2(c(a, b), s=(3, 6)),
        "hfft": lambda a, b: f.hfft(c(a, b), norm="forward"),
        "ihfft": lambda x: ri(f.ihfft(x)),
        "fftshift": lambda x: f.fftshift(x) * jnp.arange(5.0),
    }[name]


@pytest.mark.oracle
def test_oracle_jax_complex_vjp_convention():
    # Complex cotangents follow JAX's convention (no conjugate): compare raw vjps.
    jax = pytest.importorskip("jax", reason="JAX not installed: oracle tests skipped")
    jax.config.update("jax_platforms", "cpu")
    jnp = jax.numpy
    z = _rand((5,), C64)
    for dfun, jfun, ct in [
        (lambda v: dfft.irfft(v, n=8), lambda v: jnp.fft.irfft(v, n=8), _rand((8,), F32, 3)),
        (dfft.fft, jnp.fft.fft, _rand((5,), C64, 4)),
        (dfft.ifft, jnp.fft.ifft, _rand((5,), C64, 5)),
    ]:
        (got,) = dx.vjp(dfun, dnp.asarray(z))[1](dnp.asarray(ct))
        (want,) = jax.vjp(jfun, z)[1](ct)
        assert_close(got, np.asarray(want), rtol=1e-5, atol=1e-5)
    x = _rand((6,), F32)
    ct = _rand((4,), C64, 6)
    (got,) = dx.vjp(dfft.rfft, dnp.asarray(x))[1](dnp.asarray(ct))
    (want,) = jax.vjp(jnp.fft.rfft, x)[1](ct)
    assert_close(got, np.asarray(want), rtol=1e-5, atol=1e-5)
