"""``derivax.numpy`` as an Array API standard 2024.12 namespace.

Three parts: the standard's list of names (written out here from the specification), the
array object's required attributes and the inspection API, and property tests drawn by
``hypothesis.extra.array_api`` (shapes, dtypes, broadcasting, the standard's promotion
table, reductions, creation functions), with values compared against NumPy.
"""

from __future__ import annotations

import math
import operator

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis", reason="the property tests need hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import array_api  # noqa: E402

import derivax as dx  # noqa: E402
import derivax.numpy as dnp  # noqa: E402

SETTINGS = settings(max_examples=25, deadline=None)

# --------------------------------------------------------------------------- the names

NAMESPACE = """
e inf nan newaxis pi
__array_api_version__ __array_namespace_info__
arange asarray empty empty_like eye from_dlpack full full_like linspace meshgrid ones
ones_like tril triu zeros zeros_like
astype can_cast finfo iinfo isdtype result_type
bool int8 int16 int32 int64 uint8 uint16 uint32 uint64 float32 float64 complex64 complex128
abs acos acosh add asin asinh atan atan2 atanh bitwise_and bitwise_left_shift bitwise_invert
bitwise_or bitwise_right_shift bitwise_xor ceil clip conj copysign cos cosh divide equal exp
expm1 floor floor_divide greater greater_equal hypot imag isfinite isinf isnan less
less_equal log log1p log2 log10 logaddexp logical_and logical_not logical_or logical_xor
maximum minimum multiply negative nextafter not_equal positive pow real reciprocal remainder
round sign signbit sin sinh square sqrt subtract tan tanh trunc
take take_along_axis
matmul matrix_transpose tensordot vecdot
broadcast_arrays broadcast_to concat expand_dims flip moveaxis permute_dims repeat reshape
roll squeeze stack tile unstack
argmax argmin count_nonzero nonzero searchsorted where
unique_all unique_counts unique_inverse unique_values
argsort sort
cumulative_prod cumulative_sum max mean min prod std sum var
all any diff
""".split()

LINALG = """
cholesky cross det diagonal eigh eigvalsh inv matmul matrix_norm matrix_power matrix_rank
matrix_transpose outer pinv qr slogdet solve svd svdvals tensordot trace vecdot vector_norm
""".split()

FFT = """
fft ifft fftn ifftn rfft irfft rfftn irfftn hfft ihfft fftfreq rfftfreq fftshift ifftshift
""".split()

# Names this part of the work added; the rest of the list comes from the NumPy-style API
# and from parallel work on sorting, manipulation, linalg and fft.
ADDED_HERE = """
__array_api_version__ __array_namespace_info__ from_dlpack bitwise_left_shift
bitwise_right_shift copysign hypot imag logaddexp nextafter
""".split()

ARRAY_METHODS = """
__abs__ __add__ __and__ __array_namespace__ __bool__ __complex__ __dlpack__
__dlpack_device__ __eq__ __float__ __floordiv__ __ge__ __getitem__ __gt__ __index__
__int__ __invert__ __le__ __lshift__ __lt__ __matmul__ __mod__ __mul__ __ne__ __neg__
__or__ __pos__ __pow__ __rshift__ __setitem__ __sub__ __truediv__ __xor__ to_device
dtype device mT ndim shape size T
""".split()


def test_names_added_here_exist():
    missing = [n for n in ADDED_HERE if not hasattr(dnp, n)]
    assert not missing, f"derivax.numpy lacks {missing}"


def test_every_standard_name_exists():
    missing = [n for n in NAMESPACE if not hasattr(dnp, n)]
    linalg = getattr(dnp, "linalg", None)
    fft = getattr(dnp, "fft", None)
    missing += [f"linalg.{n}" for n in LINALG if not hasattr(linalg, n)]
    missing += [f"fft.{n}" for n in FFT if not hasattr(fft, n)]
    assert not missing, (
        "names of the Array API standard 2024.12 missing from derivax.numpy (the sorting, "
        f"manipulation, linalg and fft parts land separately): {missing}"
    )


def test_every_array_attribute_exists():
    x = dnp.ones((2, 2))
    missing = [n for n in ARRAY_METHODS if not hasattr(x, n)]
    assert not missing, f"derivax.Array lacks {missing}"


def test_version():
    assert dnp.__array_api_version__ == "2024.12"


# --------------------------------------------------------------------------- array object


def test_array_namespace():
    x = dnp.ones(3)
    assert x.__array_namespace__() is dnp
    assert x.__array_namespace__(api_version="2024.12") is dnp
    with pytest.raises(ValueError, match="api_version='2099.01'"):
        x.__array_namespace__(api_version="2099.01")


def test_namespace_under_jit_and_vmap():
    def f(x):
        xp = x.__array_namespace__()
        assert x.device == xp.__array_namespace_info__().default_device()
        return xp.sin(x.to_device(x.device)) + xp.hypot(x, 1.0)

    x = dnp.asarray([0.5, 1.0, 2.0])
    expected = np.sin(np.asarray(x)) + np.hypot(np.asarray(x), 1.0)
    np.testing.assert_allclose(np.asarray(dx.jit(f)(x)), expected, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(dx.vmap(f)(x)), expected, rtol=1e-6)


def test_device_object():
    x = dnp.zeros(2)
    dev = x.device
    assert repr(dev) == "Device(platform='cpu', id=0)"
    assert dev == "cpu"  # code written for device="cpu" keeps working
    assert x.to_device(dev) is x
    assert x.to_device("cpu") is x
    assert dnp.zeros(2, device=dev).device == dev
    with pytest.raises(ValueError, match="device='gpu'.*CPU only"):
        x.to_device("gpu")
    with pytest.raises(ValueError, match="zeros: device='cuda:0'"):
        dnp.zeros(2, device="cuda:0")
    with pytest.raises(ValueError, match="asarray: device='tpu'"):
        dnp.asarray([1.0], device="tpu")


def test_namespace_info():
    info = dnp.__array_namespace_info__()
    caps = info.capabilities()
    assert set(caps) >= {"boolean indexing", "data-dependent shapes", "max dimensions"}
    assert info.devices() == [info.default_device()]
    assert info.default_dtypes() == {
        "real floating": np.dtype(np.float32),
        "complex floating": np.dtype(np.complex64),
        "integral": np.dtype(np.int32),
        "indexing": np.dtype(np.int32),
    }
    assert set(info.dtypes()) == {
        "bool",
        "int8",
        "int16",
        "int32",
        "uint8",
        "uint16",
        "uint32",
        "float32",
        "complex64",
    }
    assert set(info.dtypes(kind="integral")) == {
        "int8",
        "int16",
        "int32",
        "uint8",
        "uint16",
        "uint32",
    }
    assert set(info.dtypes(kind=("bool", "complex floating"))) == {"bool", "complex64"}
    with dx.config.context(enable_x64=True):
        assert info.default_dtypes()["integral"] == np.int64
        assert set(info.dtypes(kind="real floating")) == {"float32", "float64"}
    with pytest.raises(ValueError, match="kind='floating'"):
        info.dtypes(kind="floating")
    with pytest.raises(ValueError, match="device='gpu'"):
        info.dtypes(device="gpu")


def test_mT_and_T():
    x = dnp.arange(24).reshape(2, 3, 4)
    np.testing.assert_array_equal(np.asarray(x.mT), np.swapaxes(np.asarray(x), -1, -2))
    # .T keeps NumPy's meaning (reverse all axes) for every rank.
    np.testing.assert_array_equal(np.asarray(x.T), np.asarray(x).T)


def test_python_scalar_conversions():
    assert complex(dnp.asarray(1.5 - 2.0j)) == 1.5 - 2.0j
    assert complex(dnp.asarray(2.0)) == 2.0 + 0j
    assert operator.index(dnp.asarray(3)) == 3
    assert [10, 20, 30][dnp.asarray(1)] == 20
    with pytest.raises(TypeError, match="integer"):
        operator.index(dnp.asarray(1.0))
    assert bool(dnp.asarray(0.5)) is True
    assert bool(dnp.asarray(0)) is False
    assert float(dnp.asarray(0.25)) == 0.25
    assert int(dnp.asarray(7)) == 7


def test_dlpack_round_trip():
    x = dnp.asarray([[1.0, 2.0], [3.0, 4.0]])
    assert x.__dlpack_device__() == (1, 0)  # kDLCPU, device 0
    y = np.from_dlpack(x)
    np.testing.assert_array_equal(y, [[1.0, 2.0], [3.0, 4.0]])
    z = dnp.from_dlpack(np.arange(4, dtype=np.int16))
    assert z.dtype == np.int16
    np.testing.assert_array_equal(np.asarray(z), [0, 1, 2, 3])
    w = dnp.from_dlpack(x)
    np.testing.assert_array_equal(np.asarray(w), np.asarray(x))
    with pytest.raises(ValueError, match="copy=False"):
        dnp.from_dlpack(x, copy=False)
    with pytest.raises(TypeError, match="does not support DLPack"):
        dnp.from_dlpack([1, 2])


def test_setitem_raises_and_augmented_assignment_rebinds():
    x = dnp.zeros(3)
    with pytest.raises(TypeError, match=r"immutable.*\.at\[idx\]\.set"):
        x[0] = 1.0
    y = x
    y += 1.0  # the standard allows immutable libraries to rebind (x = x + 1)
    np.testing.assert_array_equal(np.asarray(x), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(np.asarray(y), [1.0, 1.0, 1.0])


def test_shift_operators():
    x = dnp.asarray([1, 2, -8], dnp.int32)
    np.testing.assert_array_equal(np.asarray(x << 2), [4, 8, -32])
    np.testing.assert_array_equal(np.asarray(x >> 1), [0, 1, -4])
    np.testing.assert_array_equal(np.asarray(1 << dnp.asarray([0, 3], dnp.uint8)), [1, 8])
    u = dnp.asarray([0x80000000], dnp.uint32)
    np.testing.assert_array_equal(np.asarray(u >> 31), [1])  # logical for unsigned
    with pytest.raises(TypeError, match="integer operands"):
        dnp.asarray([1.0]) << 1


def test_astype_copy_device_and_complex():
    x = dnp.asarray([1.5, -2.5])
    assert dnp.astype(x, dnp.float32, copy=False) is x
    y = dnp.astype(x, dnp.float32)
    assert y is not x
    np.testing.assert_array_equal(np.asarray(y), np.asarray(x))
    assert x.astype(dnp.int32, device=x.device).dtype == np.int32
    with pytest.raises(TypeError, match="imaginary part"):
        dnp.astype(dnp.asarray([1 + 1j]), dnp.float32)
    with pytest.raises(ValueError, match="astype: device='gpu'"):
        dnp.astype(x, dnp.int32, device="gpu")


def test_asarray_copy():
    x = dnp.asarray([1.0, 2.0])
    assert dnp.asarray(x, copy=False) is x
    c = dnp.asarray(x, copy=True)
    assert c is not x
    np.testing.assert_array_equal(np.asarray(c), [1.0, 2.0])
    with pytest.raises(ValueError, match="copy=False.*needs a new buffer"):
        dnp.asarray(np.ones(2), copy=False)
    with pytest.raises(ValueError, match="copy=False"):
        dnp.asarray(x, dtype=dnp.int32, copy=False)


def test_complex_parts():
    z = np.asarray([1.0 + 2.0j, -3.0 - 0.5j], np.complex64)
    for f, ref in [(dnp.real, np.real), (dnp.imag, np.imag), (dnp.conj, np.conj)]:
        out = f(dnp.asarray(z))
        assert out.dtype == ref(z).dtype
        np.testing.assert_array_equal(np.asarray(out), ref(z))
    a = dnp.abs(dnp.asarray(z))
    assert a.dtype == np.float32
    np.testing.assert_allclose(np.asarray(a), np.abs(z), rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(dnp.imag(dnp.asarray([1.0, 2.0]))), [0.0, 0.0])


def test_complex_parts_derivatives():
    from harness import check_batching, check_grads, check_jit

    z = np.asarray([1.0 + 2.0j, -3.0 - 0.5j], np.complex64)

    def f(z):
        return dnp.real(z) * dnp.imag(z) + dnp.real(dnp.conj(z) * z)

    check_jit(f, (z,))
    check_batching(f, (z,))
    # Forward mode only: the harness's reverse-mode identity uses the sesquilinear inner
    # product, while transposes of complex ops (mul's too) follow JAX's bilinear pairing.
    check_grads(f, (z,), order=2, modes=("fwd",))
    # Reverse mode, by JAX's convention: the cotangent of Re(z) is 1, of Im(z) is -1j.
    g = dx.grad(lambda z: dnp.sum(dnp.real(z) + 3.0 * dnp.imag(z)))(dnp.asarray(z))
    np.testing.assert_allclose(np.asarray(g), np.full(2, 1.0 - 3.0j, np.complex64))
    g = dx.grad(lambda z: dnp.sum(dnp.real(dnp.conj(z) * z)))(dnp.asarray(z))
    np.testing.assert_allclose(np.asarray(g), 2 * np.conj(z), rtol=1e-6)


@pytest.mark.oracle
def test_complex_parts_match_jax():
    jax = pytest.importorskip("jax", reason="the oracle comparison needs jax")
    jnp = pytest.importorskip("jax.numpy")
    z = np.asarray([1.0 + 2.0j, -3.0 - 0.5j, 0.25 + 0.0j], np.complex64)

    def body(xp):
        return lambda z: xp.sum(xp.real(z) * xp.imag(z) + xp.abs(xp.conj(z) * z) + xp.imag(z))

    ours = dx.grad(body(dnp))(dnp.asarray(z))
    theirs = jax.grad(body(jnp))(jnp.asarray(z))
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-5)


def test_new_function_errors():
    with pytest.raises(TypeError, match="bitwise_left_shift needs integer"):
        dnp.bitwise_left_shift(dnp.asarray([True]), dnp.asarray([True]))
    with pytest.raises(TypeError, match="hypot needs real"):
        dnp.hypot(dnp.asarray([1j]), 1.0)
    with pytest.raises(TypeError, match="signbit needs a real"):
        dnp.signbit(dnp.asarray([1j]))
    with pytest.raises(ValueError, match="ddof=1 and correction=0"):
        dnp.var(dnp.ones(3), ddof=1, correction=0)
    with pytest.raises(TypeError, match="pass x.dtype"):
        dnp.isdtype(dnp.ones(2), "numeric")


def test_dtype_functions():
    assert dnp.isdtype(dnp.int8, ("real floating", "signed integer"))
    assert not dnp.isdtype(dnp.uint8, "signed integer")
    assert dnp.isdtype(dnp.float32, dnp.float32)
    assert dnp.can_cast(dnp.int16, dnp.float32)
    assert not dnp.can_cast(dnp.int32, dnp.float32)
    assert not dnp.can_cast(dnp.float32, dnp.int32)
    assert dnp.can_cast(dnp.ones(2, dnp.uint8), dnp.int16)
    assert dnp.result_type(dnp.ones(2, dnp.int8), 1) == np.int8
    assert dnp.result_type(dnp.ones(2, dnp.float32), 1.0, 2) == np.float32
    assert dnp.result_type(dnp.uint8, dnp.int8) == np.int16
    fi = dnp.finfo(dnp.float32)
    assert (fi.bits, fi.eps, fi.max, fi.min) == (32, 2.0**-23, np.finfo(np.float32).max, -fi.max)
    assert fi.smallest_normal == 2.0**-126 and fi.dtype == np.float32
    ii = dnp.iinfo(dnp.int16)
    assert (ii.bits, ii.min, ii.max, ii.dtype) == (16, -(2**15), 2**15 - 1, np.int16)


def test_clip_keywords_and_arrays():
    x = dnp.asarray([-2.0, 0.5, 3.0])
    out = dnp.clip(x, min=dnp.asarray([-1.0, 1.0, -1.0]), max=1.0)
    np.testing.assert_array_equal(np.asarray(out), [-1.0, 1.0, 1.0])
    np.testing.assert_array_equal(np.asarray(dnp.clip(x)), np.asarray(x))


# --------------------------------------------------------------------------- property tests

xps = array_api.make_strategies_namespace(dnp, api_version="2024.12")

# The standard's dtypes by name; 64-bit ones are drawn with x64 enabled around the test.
BOOL = ("bool",)
SIGNED = ("int8", "int16", "int32", "int64")
UNSIGNED = ("uint8", "uint16", "uint32", "uint64")
REAL = ("float32", "float64")
COMPLEX = ("complex64", "complex128")
WIDTH = {n: int("".join(c for c in n if c.isdigit()) or 8) for n in SIGNED + UNSIGNED + REAL}
WIDTH.update({"complex64": 64, "complex128": 128})


def standard_promotion(a: str, b: str) -> str | None:
    """The Array API standard's promotion table (written from the specification); None
    where the standard leaves the result unspecified (mixed kinds, uint64 with signed)."""
    if a == b:
        return a
    if a in BOOL or b in BOOL:
        return None
    if a in SIGNED and b in SIGNED or a in UNSIGNED and b in UNSIGNED:
        return a if WIDTH[a] >= WIDTH[b] else b
    if a in SIGNED + UNSIGNED and b in SIGNED + UNSIGNED:
        s, u = (a, b) if a in SIGNED else (b, a)
        if WIDTH[s] > WIDTH[u]:
            return s
        return {8: "int16", 16: "int32", 32: "int64"}.get(WIDTH[u])
    inexact = REAL + COMPLEX
    if a in inexact and b in inexact:
        # The precision of the wider, complex if either is.
        bits = max(WIDTH[a] // (2 if a in COMPLEX else 1), WIDTH[b] // (2 if b in COMPLEX else 1))
        if a in COMPLEX or b in COMPLEX:
            return f"complex{2 * bits}"
        return f"float{bits}"
    return None


def test_promotion_table_reference():
    # Spot checks of the helper against the specification's printed table.
    assert standard_promotion("uint8", "int8") == "int16"
    assert standard_promotion("uint32", "int64") == "int64"
    assert standard_promotion("uint64", "int8") is None
    assert standard_promotion("float32", "complex128") == "complex128"
    assert standard_promotion("float64", "complex64") == "complex128"
    assert standard_promotion("int8", "float32") is None


PAIRS = [
    (a, b)
    for a in BOOL + SIGNED + UNSIGNED + REAL + COMPLEX
    for b in BOOL + SIGNED + UNSIGNED + REAL + COMPLEX
    if standard_promotion(a, b) is not None
]

NUMERIC_BINARY = {
    "add": np.add,
    "subtract": np.subtract,
    "multiply": np.multiply,
    "maximum": np.maximum,
    "minimum": np.minimum,
}
COMPARISONS = {
    "equal": np.equal,
    "not_equal": np.not_equal,
    "less": np.less,
    "less_equal": np.less_equal,
    "greater": np.greater,
    "greater_equal": np.greater_equal,
}
BITWISE = {
    "bitwise_and": np.bitwise_and,
    "bitwise_or": np.bitwise_or,
    "bitwise_xor": np.bitwise_xor,
}
OPERATORS = {
    "add": operator.add,
    "subtract": operator.sub,
    "multiply": operator.mul,
    "equal": operator.eq,
    "less": operator.lt,
    "bitwise_and": operator.and_,
    "bitwise_or": operator.or_,
    "bitwise_xor": operator.xor,
}


def _x64():
    return dx.config.context(enable_x64=True)


def _elements(dtype_name):
    # Moderate magnitudes keep products finite: values, not overflow, are under test here.
    kind = np.dtype(dtype_name).kind
    if kind == "f":
        return {"allow_nan": False, "allow_infinity": False, "min_value": -1e6, "max_value": 1e6}
    if kind == "c":
        width = np.dtype(dtype_name).itemsize * 8
        return st.complex_numbers(
            allow_nan=False, allow_infinity=False, max_magnitude=1e6, width=width
        )
    return None


def _arrays(dtype_name, shape):
    return xps.arrays(getattr(dnp, dtype_name), shape, elements=_elements(dtype_name))


@st.composite
def binary_operands(draw, ops, kinds):
    a, b = draw(st.sampled_from([(a, b) for a, b in PAIRS if a in kinds and b in kinds]))
    shapes = draw(xps.mutually_broadcastable_shapes(2, max_dims=3, max_side=4))
    name = draw(st.sampled_from(sorted(ops)))
    return name, a, b, shapes


def _check_binary(fn, ref, a, b, shapes, draw_data, expected_dtype):
    with _x64():
        x1 = draw_data.draw(_arrays(a, shapes.input_shapes[0]), label="x1")
        x2 = draw_data.draw(_arrays(b, shapes.input_shapes[1]), label="x2")
        out = fn(x1, x2)
        assert out.shape == shapes.result_shape, (out.shape, shapes)
        assert out.dtype == np.dtype(expected_dtype), (a, b, out.dtype, expected_dtype)
        n1 = np.asarray(x1).astype(expected_dtype if expected_dtype != "bool" else a)
        n2 = np.asarray(x2).astype(expected_dtype if expected_dtype != "bool" else b)
        with np.errstate(all="ignore"):
            want = ref(n1, n2)
        np.testing.assert_array_equal(np.asarray(out), want)


@SETTINGS
@given(binary_operands(NUMERIC_BINARY, SIGNED + UNSIGNED + REAL), st.data())
def test_arithmetic_promotion_and_values(case, data):
    name, a, b, shapes = case
    with _x64():
        ref = NUMERIC_BINARY[name]
        # Integer results wrap around as in NumPy; compute the reference in the result type.
        _check_binary(getattr(dnp, name), ref, a, b, shapes, data, standard_promotion(a, b))


@SETTINGS
@given(binary_operands({"add", "multiply", "subtract"}, REAL + COMPLEX), st.data())
def test_complex_promotion_and_values(case, data):
    name, a, b, shapes = case
    with _x64():
        want_dtype = standard_promotion(a, b)
        x1 = data.draw(_arrays(a, shapes.input_shapes[0]), label="x1")
        x2 = data.draw(_arrays(b, shapes.input_shapes[1]), label="x2")
        out = getattr(dnp, name)(x1, x2)
        assert out.dtype == np.dtype(want_dtype)
        want = NUMERIC_BINARY[name](
            np.asarray(x1).astype(want_dtype), np.asarray(x2).astype(want_dtype)
        )
        np.testing.assert_allclose(np.asarray(out), want, rtol=1e-6, atol=1e-6)


@SETTINGS
@given(binary_operands(COMPARISONS, BOOL + SIGNED + UNSIGNED + REAL), st.data())
def test_comparison_promotion_and_values(case, data):
    name, a, b, shapes = case
    with _x64():
        common = standard_promotion(a, b)
        x1 = data.draw(_arrays(a, shapes.input_shapes[0]), label="x1")
        x2 = data.draw(_arrays(b, shapes.input_shapes[1]), label="x2")
        out = getattr(dnp, name)(x1, x2)
        assert out.shape == shapes.result_shape and out.dtype == np.bool_
        want = COMPARISONS[name](np.asarray(x1).astype(common), np.asarray(x2).astype(common))
        np.testing.assert_array_equal(np.asarray(out), want)


@SETTINGS
@given(binary_operands(BITWISE, BOOL + SIGNED + UNSIGNED), st.data())
def test_bitwise_promotion_and_values(case, data):
    name, a, b, shapes = case
    with _x64():
        _check_binary(
            getattr(dnp, name), BITWISE[name], a, b, shapes, data, standard_promotion(a, b)
        )


@SETTINGS
@given(binary_operands(OPERATORS, BOOL + SIGNED + UNSIGNED + REAL), st.data())
def test_operators_match_functions(case, data):
    name, a, b, shapes = case
    with _x64():
        want_dtype = standard_promotion(a, b)
        if name in ("add", "subtract", "multiply") and want_dtype == "bool":
            return  # arithmetic on bools is not defined by the standard
        if name.startswith("bitwise") and want_dtype in REAL:
            return
        x1 = data.draw(_arrays(a, shapes.input_shapes[0]), label="x1")
        x2 = data.draw(_arrays(b, shapes.input_shapes[1]), label="x2")
        by_op = OPERATORS[name](x1, x2)
        by_fn = getattr(dnp, name)(x1, x2)
        assert by_op.dtype == by_fn.dtype and by_op.shape == by_fn.shape
        np.testing.assert_array_equal(np.asarray(by_op), np.asarray(by_fn))


@SETTINGS
@given(
    st.sampled_from(SIGNED + UNSIGNED),
    st.sampled_from(["bitwise_left_shift", "bitwise_right_shift"]),
    st.data(),
)
def test_shifts(dtype, name, data):
    with _x64():
        shapes = data.draw(xps.mutually_broadcastable_shapes(2, max_dims=2, max_side=4))
        x1 = data.draw(_arrays(dtype, shapes.input_shapes[0]), label="x1")
        bits = np.iinfo(dtype).bits
        x2 = data.draw(
            xps.arrays(
                getattr(dnp, dtype),
                shapes.input_shapes[1],
                elements=st.integers(0, bits - 1),
            ),
            label="x2",
        )
        out = getattr(dnp, name)(x1, x2)
        ref = np.left_shift if name == "bitwise_left_shift" else np.right_shift
        assert out.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(np.asarray(out), ref(np.asarray(x1), np.asarray(x2)))


# Python scalars (2024.12): ``op(array, scalar)`` has the array's dtype when the scalar's
# kind fits it.
@SETTINGS
@given(
    st.sampled_from(["int8", "uint8", "int16", "int32", "float32"]),
    st.sampled_from(["add", "multiply", "maximum", "equal", "less"]),
    st.data(),
)
def test_python_scalar_operands(dtype, name, data):
    x = data.draw(_arrays(dtype, (3,)), label="x")
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    if info is not None:
        s = data.draw(st.integers(max(info.min, -100), min(info.max, 100)), label="scalar")
    else:
        s = data.draw(st.floats(-100, 100), label="scalar")
    out = getattr(dnp, name)(x, s)
    want_dtype = np.bool_ if name in ("equal", "less") else np.dtype(dtype)
    assert out.dtype == want_dtype
    ref = getattr(np, name)(np.asarray(x), np.asarray(s, dtype))
    np.testing.assert_array_equal(np.asarray(out), ref)


FLOAT_BINARY = {
    "copysign": (np.copysign, 0),
    "hypot": (np.hypot, 2e-7),
    "logaddexp": (np.logaddexp, 2e-7),
    "nextafter": (np.nextafter, 0),
    "atan2": (np.arctan2, 2e-7),
}


@SETTINGS
@given(st.sampled_from(sorted(FLOAT_BINARY)), st.sampled_from(REAL), st.data())
def test_float_binary_functions(name, dtype, data):
    ref, rtol = FLOAT_BINARY[name]
    with _x64():
        shapes = data.draw(xps.mutually_broadcastable_shapes(2, max_dims=2, max_side=4))
        # Special values included: these functions define them (inf, nan, signed zeros).
        elems = None
        x1 = data.draw(xps.arrays(getattr(dnp, dtype), shapes.input_shapes[0], elements=elems))
        x2 = data.draw(xps.arrays(getattr(dnp, dtype), shapes.input_shapes[1], elements=elems))
        out = getattr(dnp, name)(x1, x2)
        assert out.dtype == np.dtype(dtype) and out.shape == shapes.result_shape
        with np.errstate(all="ignore"):
            want = ref(np.asarray(x1), np.asarray(x2))
        np.testing.assert_allclose(np.asarray(out), want, rtol=rtol, atol=0, equal_nan=True)
        if name == "copysign":
            np.testing.assert_array_equal(np.signbit(np.asarray(out)), np.signbit(want))


UNARY = {
    "signbit": np.signbit,
    "reciprocal": np.reciprocal,
    "square": np.square,
    "abs": np.abs,
    "negative": np.negative,
    "trunc": np.trunc,
    "floor": np.floor,
    "ceil": np.ceil,
    "round": np.round,
    "sign": np.sign,
    "isnan": np.isnan,
    "isinf": np.isinf,
    "isfinite": np.isfinite,
}


@SETTINGS
@given(st.sampled_from(sorted(UNARY)), st.sampled_from(REAL), st.data())
def test_float_unary_functions(name, dtype, data):
    with _x64():
        x = data.draw(
            xps.arrays(getattr(dnp, dtype), xps.array_shapes(min_dims=0, max_dims=3, max_side=4))
        )
        out = getattr(dnp, name)(x)
        with np.errstate(all="ignore"):
            want = UNARY[name](np.asarray(x))
        assert out.dtype == want.dtype and out.shape == want.shape
        np.testing.assert_allclose(np.asarray(out), want, rtol=1e-7, equal_nan=True)


# --------------------------------------------------------------------------- reductions


@st.composite
def shape_and_axis(draw):
    shape = draw(xps.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4))
    axis = draw(st.none() | xps.valid_tuple_axes(len(shape)))
    return shape, axis, draw(st.booleans())


def _default_accumulator(dtype):
    """The standard's rule for sum/prod without dtype=: integers narrower than the default
    integer use the default integer (unsigned: the unsigned type of that width)."""
    dt = np.dtype(dtype)
    if dt == np.bool_ or (dt.kind == "i" and dt.itemsize < 8):
        return np.dtype(np.int64)
    if dt.kind == "u" and dt.itemsize < 8:
        return np.dtype(np.uint64)
    return dt


@SETTINGS
@given(
    st.sampled_from(["sum", "prod", "max", "min"]),
    st.sampled_from(BOOL + SIGNED + UNSIGNED + REAL),
    shape_and_axis(),
    st.data(),
)
def test_reductions(name, dtype, case, data):
    shape, axis, keepdims = case
    if dtype == "bool" and name in ("max", "min"):
        return  # the standard defines max/min for real numeric dtypes only
    with _x64():
        x = data.draw(_arrays(dtype, shape), label="x")
        out = getattr(dnp, name)(x, axis=axis, keepdims=keepdims)
        ref = {"sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min}[name]
        acc = _default_accumulator(dtype) if name in ("sum", "prod") else np.dtype(dtype)
        with np.errstate(all="ignore"):  # float32 products may overflow to inf in both
            want = ref(np.asarray(x).astype(acc), axis=axis, keepdims=keepdims)
        assert out.dtype == acc and out.shape == np.shape(want)
        rtol = 1e-5 if np.dtype(dtype) == np.float32 else 1e-12
        np.testing.assert_allclose(np.asarray(out), want, rtol=rtol)


@SETTINGS
@given(
    st.sampled_from(["mean", "var", "std"]),
    st.sampled_from(REAL),
    shape_and_axis(),
    st.sampled_from([0, 1, 0.5]),
    st.data(),
)
def test_statistics(name, dtype, case, correction, data):
    shape, axis, keepdims = case
    kwargs = {} if name == "mean" else {"correction": correction}
    with _x64():
        x = data.draw(_arrays(dtype, shape), label="x")
        out = getattr(dnp, name)(x, axis=axis, keepdims=keepdims, **kwargs)
        v = np.asarray(x).astype(np.float64)
        with np.errstate(all="ignore"):
            if name == "mean":
                want = np.mean(v, axis=axis, keepdims=keepdims)
            else:
                n = v.size if axis is None else math.prod(v.shape[a] for a in axis)
                m = np.mean(v, axis=axis, keepdims=True)
                var = np.sum((v - m) ** 2, axis=axis, keepdims=keepdims) / (n - correction)
                if n - correction <= 0:
                    var = np.full_like(var, np.nan)
                want = var if name == "var" else np.sqrt(var)
        assert out.dtype == np.dtype(dtype) and out.shape == np.shape(want)
        rtol = 1e-3 if dtype == "float32" else 1e-9
        np.testing.assert_allclose(
            np.asarray(out), want, rtol=rtol, atol=rtol * 1e6 * 1e-3, equal_nan=True
        )


@SETTINGS
@given(st.sampled_from(BOOL + SIGNED + REAL), shape_and_axis(), st.data())
def test_all_any_count_nonzero(dtype, case, data):
    shape, axis, keepdims = case
    with _x64():
        x = data.draw(_arrays(dtype, shape), label="x")
        v = np.asarray(x)
        for f, ref in [(dnp.all, np.all), (dnp.any, np.any)]:
            out = f(x, axis=axis, keepdims=keepdims)
            want = ref(v, axis=axis, keepdims=keepdims)
            assert out.dtype == np.bool_ and out.shape == np.shape(want)
            np.testing.assert_array_equal(np.asarray(out), want)
        out = dnp.count_nonzero(x, axis=axis, keepdims=keepdims)
        want = np.count_nonzero(v, axis=axis, keepdims=keepdims)
        assert out.dtype == np.int64
        np.testing.assert_array_equal(np.asarray(out), want)


# --------------------------------------------------------------------------- creation


DTYPES_32 = BOOL + SIGNED[:3] + UNSIGNED[:3] + ("float32",)


@SETTINGS
@given(
    xps.array_shapes(min_dims=0, max_dims=3, max_side=4),
    st.sampled_from(DTYPES_32),
    st.sampled_from(["zeros", "ones", "empty"]),
)
def test_constant_creation(shape, dtype, name):
    out = getattr(dnp, name)(shape, dtype=getattr(dnp, dtype), device=dnp.ones(()).device)
    assert out.shape == shape and out.dtype == np.dtype(dtype)
    if name != "empty":
        want = getattr(np, name)(shape, dtype)
        np.testing.assert_array_equal(np.asarray(out), want)
    like = getattr(dnp, f"{name}_like")(out)
    assert like.shape == shape and like.dtype == out.dtype


@SETTINGS
@given(xps.array_shapes(min_dims=0, max_dims=3, max_side=4), st.data())
def test_full_and_full_like(shape, data):
    value = data.draw(st.one_of(st.booleans(), st.integers(-100, 100), st.floats(-10, 10)))
    out = dnp.full(shape, value)
    want_dtype = {bool: np.bool_, int: np.int32, float: np.float32}[type(value)]
    assert out.shape == shape and out.dtype == want_dtype
    np.testing.assert_array_equal(np.asarray(out), np.full(shape, value, want_dtype))
    like = dnp.full_like(out, value, dtype=dnp.float32)
    assert like.dtype == np.float32 and like.shape == shape


@SETTINGS
@given(
    st.integers(-20, 20),
    st.integers(-20, 20),
    st.integers(-5, 5).filter(lambda s: s != 0),
)
def test_arange(start, stop, step):
    out = dnp.arange(start, stop, step)
    want = np.arange(start, stop, step)
    assert out.dtype == np.int32 and out.shape == want.shape
    np.testing.assert_array_equal(np.asarray(out), want)
    f = dnp.arange(float(start), float(stop), step / 2)
    np.testing.assert_allclose(np.asarray(f), np.arange(start, stop, step / 2), rtol=1e-6)


@SETTINGS
@given(st.floats(-10, 10), st.floats(-10, 10), st.integers(0, 12), st.booleans())
def test_linspace(start, stop, num, endpoint):
    out = dnp.linspace(start, stop, num, endpoint=endpoint, dtype=dnp.float32, device="cpu")
    want = np.linspace(start, stop, num, endpoint=endpoint)
    assert out.shape == (num,) and out.dtype == np.float32
    np.testing.assert_allclose(np.asarray(out), want, rtol=1e-5, atol=1e-5)


@SETTINGS
@given(st.integers(0, 5), st.none() | st.integers(0, 5), st.integers(-6, 6))
def test_eye(n_rows, n_cols, k):
    out = dnp.eye(n_rows, n_cols, k=k, dtype=dnp.int32)
    want = np.eye(n_rows, n_cols, k=k, dtype=np.int32)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(np.asarray(out), want)


@SETTINGS
@given(
    xps.arrays(
        xps.floating_dtypes(sizes=32)
        | xps.integer_dtypes(sizes=(8, 16, 32))
        | xps.boolean_dtypes(),
        xps.array_shapes(min_dims=0, max_dims=3, max_side=4),
    )
)
def test_asarray_round_trip(x):
    v = np.asarray(x)
    for source in (v, v.tolist(), x):
        out = dnp.asarray(source, dtype=x.dtype)
        assert out.dtype == x.dtype and out.shape == x.shape
        np.testing.assert_array_equal(np.asarray(out), v)
    out = dnp.from_dlpack(v)
    np.testing.assert_array_equal(np.asarray(out), v)
