"""Errors that teach: each one names the user's line, the values involved and the fix."""

from __future__ import annotations

import inspect
import os
import re

import numpy as np
import pytest

import derivax as dx
import derivax.lax as lax
import derivax.numpy as dnp

THIS_FILE = os.path.basename(__file__)


def _line_of(fn, text):
    """The line number in this file of the first line of ``fn`` that contains ``text``."""
    lines, start = inspect.getsourcelines(fn)
    for offset, line in enumerate(lines):
        if text in line:
            return start + offset
    raise AssertionError(f"{text!r} not in {fn.__name__}")


# --------------------------------------------------------------------------- concretization


def relu_like(x, threshold):
    if x > threshold:
        return x
    return threshold


def test_if_on_a_traced_value_names_line_argument_and_fixes():
    with pytest.raises(dx.ConcretizationTypeError) as info:
        dx.jit(relu_like)(1.0, 0.5)
    msg = str(info.value)
    line = _line_of(relu_like, "if x > threshold")
    assert f"{THIS_FILE}:{line}" in msg, msg
    assert "relu_like" in msg
    assert re.search(r"argument\(s\) x, threshold", msg), msg
    assert "bool()" in msg
    assert "static_argnums" in msg and "static_argnames" in msg
    assert "where" in msg and "lax.cond" in msg


def test_the_suggested_fixes_work():
    assert float(dx.jit(relu_like, static_argnums=(0, 1))(1.0, 0.5)) == 1.0
    where = dx.jit(lambda x, t: dnp.where(x > t, x, t))
    assert float(where(1.0, 0.5)) == 1.0 and float(where(0.2, 0.5)) == 0.5


def make_zeros(n):
    return dnp.zeros(int(n))


def test_int_of_a_traced_value():
    with pytest.raises(dx.ConcretizationTypeError) as info:
        dx.jit(make_zeros)(3)
    msg = str(info.value)
    assert "int()" in msg
    assert f"{THIS_FILE}:{_line_of(make_zeros, 'int(n)')}" in msg, msg
    assert "argument(s) n" in msg and "static_argnums" in msg


def test_float_and_numpy_conversion_of_traced_values():
    with pytest.raises(dx.ConcretizationTypeError, match=r"float\(\)"):
        dx.jit(lambda x: float(x))(1.0)
    with pytest.raises(dx.ConcretizationTypeError, match="NumPy conversion"):
        dx.jit(lambda x: np.asarray(x))(dnp.ones(2))
    with pytest.raises(dx.ConcretizationTypeError, match="arange"):
        dx.jit(lambda n: dnp.arange(n))(3)


def shape_from_data(x):
    return dnp.zeros(x.sum())


def test_shape_computed_from_data():
    with pytest.raises(dx.ConcretizationTypeError) as info:
        dx.jit(shape_from_data)(dnp.ones(3))
    msg = str(info.value)
    assert "the shape argument of zeros" in msg
    assert f"{THIS_FILE}:{_line_of(shape_from_data, 'dnp.zeros')}" in msg, msg
    assert "x.shape" in msg and "static_argnums" in msg
    with pytest.raises(dx.ConcretizationTypeError, match="shape argument of ones"):
        dx.jit(lambda n: dnp.ones((n, 2)))(3)
    with pytest.raises(dx.ConcretizationTypeError):
        dx.jit(lambda x, n: dnp.reshape(x, n))(dnp.ones(3), 3)
    assert dx.jit(lambda x: dnp.zeros(x.shape[0] * 2))(dnp.ones(3)).shape == (6,)


def test_non_integer_shapes_are_errors():
    with pytest.raises(TypeError, match="shape must be an int or a tuple of ints, got 2.5"):
        dnp.zeros(2.5)
    with pytest.raises(TypeError, match=r"got \(2.0, 1\)"):
        dnp.ones((2.0, 1))
    assert dnp.zeros(dnp.asarray(3)).shape == (3,)  # a 0-d integer array is a size
    assert dnp.zeros(np.int64(2)).shape == (2,)


def test_python_control_flow_under_vmap():
    with pytest.raises(dx.ConcretizationTypeError, match="where"):
        dx.vmap(lambda x: x if x > 0 else -x)(dnp.ones(3))


def test_concrete_values_under_grad_are_fine():
    # Under grad alone the primal value is known, so Python control flow works (as in JAX).
    assert float(dx.grad(lambda x: x**2 if x > 0 else -x)(3.0)) == 6.0


# --------------------------------------------------------------------------- immutability


def test_in_place_assignment_points_to_at():
    x = dnp.ones(3)
    with pytest.raises(TypeError, match=r"immutable.*x\.at\[idx\]\.set\(y\)"):
        x[0] = 1.0

    def assign(x):
        x[0] = 1.0
        return x

    with pytest.raises(TypeError, match=r"immutable.*\.at\[idx\]\.set"):
        dx.jit(assign)(x)
    with pytest.raises(TypeError, match=r"\.at\[idx\]\.set"):
        dx.grad(lambda x: assign(x).sum())(x)


# --------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_binary_op_shape_mismatch_names_both_shapes(jit):
    f = (lambda a, b: a * b) if not jit else dx.jit(lambda a, b: a * b)
    with pytest.raises(ValueError, match=r"multiply: shapes \(2, 3\), \(4,\) cannot be broadcast"):
        f(dnp.ones((2, 3)), dnp.ones(4))


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_matmul_and_dot_mismatch_name_both_shapes(jit):
    wrap = dx.jit if jit else (lambda f: f)
    a, b = dnp.ones((2, 3)), dnp.ones((4, 5))
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\)"):
        wrap(lambda a, b: a @ b)(a, b)
    with pytest.raises(ValueError, match=r"dot: shapes \(2, 3\) and \(4, 5\)"):
        wrap(dnp.dot)(a, b)


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_dot_general_mismatch_names_both_shapes(jit):
    wrap = dx.jit if jit else (lambda f: f)
    dn = (((1,), (0,)), ((), ()))
    with pytest.raises(TypeError, match=r"dot_general: contracting.*f32\[2,3\].*f32\[4,5\]"):
        wrap(lambda a, b: lax.dot_general(a, b, dn))(dnp.ones((2, 3)), dnp.ones((4, 5)))
    batch = (((1,), (1,)), ((0,), (0,)))
    with pytest.raises(TypeError, match=r"dot_general: .*f32\[2,6\].*f32\[3,4\]"):
        wrap(lambda a, b: lax.dot_general(a, b, batch))(dnp.ones((2, 6)), dnp.ones((3, 4)))


def test_lax_elementwise_needs_equal_shapes_and_dtypes_when_traced():
    with pytest.raises(TypeError, match=r"add requires operands of the same shape and dtype, got "
                       r"f32\[2\], f32\[3\]"):  # fmt: skip
        dx.jit(lax.add)(dnp.ones(2), dnp.ones(3))
    with pytest.raises(TypeError, match=r"f32\[2\], i32\[2\]"):
        dx.jit(lax.add)(dnp.ones(2), dnp.ones(2, dtype=dnp.int32))


def test_reshape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(6,\).*\(4, 2\)"):
        dnp.reshape(dnp.ones(6), (4, 2))


# --------------------------------------------------------------------------- grad misuse


def test_grad_of_non_scalar_output():
    with pytest.raises(TypeError, match=r"scalar output.*shape \(3,\).*\.sum\(\).*jacrev"):
        dx.grad(lambda x: x * 2.0)(dnp.ones(3))


def test_grad_with_respect_to_an_integer_input():
    with pytest.raises(TypeError, match=r"args\[0\] has dtype int32.*astype"):
        dx.grad(lambda x: dnp.sum(x * 2.0))(dnp.ones(3, dtype=dnp.int32))
    with pytest.raises(TypeError, match=r"args\[1\]\['w'\] has dtype int32"):
        dx.grad(lambda a, p: a * dnp.sum(p["w"]), argnums=1)(1.0, {"w": np.ones(2, np.int32)})


def test_grad_of_integer_output():
    with pytest.raises(TypeError, match="real floating-point output, got int32"):
        dx.grad(lambda x: dnp.argmax(x))(dnp.ones(3))


def test_grad_argnums_out_of_range():
    with pytest.raises(ValueError, match="argnums=3 is out of range"):
        dx.grad(lambda x: x, argnums=3)(1.0)


def test_has_aux_needs_a_pair():
    with pytest.raises(TypeError, match="pair"):
        dx.grad(lambda x: x * 2.0, has_aux=True)(1.0)


def test_missing_derivative_names_the_operation():
    with pytest.raises(dx.NotDifferentiableError, match="'nextafter' has no jvp rule.*Reason"):
        dx.grad(lambda x: dnp.sum(dx.lax.nextafter(x, x + 1.0)))(dnp.ones(3))


# --------------------------------------------------------------------------- escaped tracers


def _leak(transform):
    """Run ``transform`` on a function that stores its traced input; return that tracer."""
    saved = []

    def leak(x):
        saved.append(x * 2.0)
        return dnp.sum(x)

    {"jit": dx.jit, "vmap": dx.vmap, "grad": dx.grad}[transform](leak)(dnp.ones(2))
    return saved[0]


@pytest.mark.parametrize("transform", ["jit", "vmap", "grad"])
def test_escaped_tracer_used_in_a_new_transformation(transform):
    leaked = _leak(transform)
    with pytest.raises(dx.UnexpectedTracerError, match="already finished.*return the value"):
        dx.jit(lambda y: leaked * y)(dnp.ones(2))
    with pytest.raises(dx.UnexpectedTracerError, match="return the value"):
        dx.grad(lambda y: dnp.sum(leaked * y))(dnp.ones(2))


@pytest.mark.parametrize("transform", ["jit", "vmap", "grad"])
def test_escaped_tracer_used_in_a_new_vmap(transform):
    leaked = _leak(transform)
    with pytest.raises(dx.UnexpectedTracerError, match="already finished"):
        dx.vmap(lambda y: leaked * y)(dnp.ones(2))


@pytest.mark.parametrize("transform", ["jit", "vmap", "grad"])
def test_escaped_tracer_used_eagerly(transform):
    leaked = _leak(transform)
    with pytest.raises(dx.UnexpectedTracerError):
        leaked + 1.0


# --------------------------------------------------------------------------- dtypes


def test_float64_without_x64_explains_the_fix():
    with pytest.raises(dx.DtypeError) as info:
        dnp.zeros(3, dtype=dnp.float64)
    msg = str(info.value)
    assert "float64" in msg and "enable_x64" in msg


def test_non_array_arguments_are_explained():
    with pytest.raises(TypeError, match="jit: an argument leaf of type str"):
        dx.jit(lambda s: s)("text")
    with pytest.raises(TypeError, match=r"argument 0 must be an array.*asarray"):
        dnp.add([1.0], 2.0)
