"""The IR: printed programs (golden text written by hand), the type checker on hand-corrupted
programs, the reference evaluator against eager execution, and closure constants."""

from __future__ import annotations

import os
import sys
import textwrap

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

import derivax as dx  # noqa: E402
import derivax.lax as lax  # noqa: E402
import derivax.numpy as dnp  # noqa: E402
from derivax._core import ShapedArray  # noqa: E402
from derivax._ir import IRTypeError, Var, check_ir, eval_ir  # noqa: E402
from harness import assert_close, rand_default  # noqa: E402

F32 = np.float32
DN_MATMUL = (((1,), (0,)), ((), ()))
W = np.arange(6.0, dtype=F32).reshape(3, 2)


def golden(text):
    return textwrap.dedent(text).strip("\n")


# --------------------------------------------------------------------------- printing

GOLDEN = {
    "scalar_arithmetic": (
        lambda x, y: x * y + 1.0,
        (F32(1.0), F32(2.0)),
        """
        { lambda ; a:f32[] b:f32[]. let
            c:f32[] = mul a b
            d:f32[] = add c 1.0:f32[]
          in (d,) }
        """,
    ),
    "params_in_brackets": (
        lambda x: dnp.sum(x**2, axis=1),
        (np.ones((2, 3), F32),),
        """
        { lambda ; a:f32[2,3]. let
            b:f32[2,3] = integer_pow[y=2] a
            c:f32[2] = reduce_sum[axes=(1,)] b
          in (c,) }
        """,
    ),
    "closure_constant_is_a_constvar": (
        lambda x: lax.dot_general(x, dnp.asarray(W), DN_MATMUL),
        (np.ones((2, 3), F32),),
        """
        { lambda a:f32[3,2]; b:f32[2,3]. let
            c:f32[2,2] = dot_general[dimension_numbers=(((1,), (0,)), ((), ()))] b a
          in (c,) }
        """,
    ),
    "two_outputs_and_an_int_argument": (
        lambda x, n: (lax.convert_element_type(x, np.int32) + n, lax.reduce_max(x, (0,))),
        (np.ones(2, F32), np.int32(3)),
        """
        { lambda ; a:f32[2] b:i32[]. let
            c:i32[2] = convert_element_type[new_dtype=int32 weak_type=False] a
            d:i32[2] = broadcast_in_dim[shape=(2,) broadcast_dimensions=()] b
            e:i32[2] = add c d
            f:f32[] = reduce_max[axes=(0,)] a
          in (e, f,) }
        """,
    ),
    "select_with_a_bool_predicate": (
        lambda x: lax.select_n(lax.gt(x, lax.full((2,), 0.0, F32)), x, lax.neg(x)),
        (np.ones(2, F32),),
        """
        { lambda ; a:f32[2]. let
            b:f32[2] = broadcast_in_dim[shape=(2,) broadcast_dimensions=()] 0.0:f32[]
            c:bool[2] = gt a b
            d:f32[2] = neg a
            e:f32[2] = select_n c a d
          in (e,) }
        """,
    ),
    "nested_jit_prints_its_program": (
        lambda x: dx.jit(lambda a: lax.mul(lax.sin(a), a), name="inner")(x) + 1.0,
        (F32(1.0),),
        """
        { lambda ; a:f32[]. let
            b:f32[] = jit_call[call=
                { lambda ; c:f32[]. let
                    d:f32[] = sin c
                    e:f32[] = mul d c
                  in (e,) }
             name=inner] a
            f:f32[] = add b 1.0:f32[]
          in (f,) }
        """,
    ),
    "vmap_broadcasts_the_unbatched_operand": (
        dx.vmap(lambda x, y: lax.mul(x, y), in_axes=(0, None)),
        (np.ones((4, 2), F32), np.ones(2, F32)),
        """
        { lambda ; a:f32[4,2] b:f32[2]. let
            c:f32[4,2] = broadcast_in_dim[shape=(4, 2) broadcast_dimensions=(1,)] b
            d:f32[4,2] = mul a c
          in (d,) }
        """,
    ),
    # d/dx sin(x) * x by linearize + transpose, with the output cotangent 1.0: the primal
    # part (sin, cos) runs forward; transposing mul(sin x, t) gives `mul b 1.0`, transposing
    # mul(t', x) gives `mul 1.0 a`, then the tangent of sin scales it by cos x; the two
    # contributions to x's cotangent are added.
    "grad_is_linearize_then_transpose": (
        dx.grad(lambda x: lax.mul(lax.sin(x), x)),
        (F32(1.0),),
        """
        { lambda ; a:f32[]. let
            b:f32[] = sin a
            c:f32[] = cos a
            d:f32[] = mul b 1.0:f32[]
            e:f32[] = mul 1.0:f32[] a
            f:f32[] = mul e c
            g:f32[] = add d f
          in (g,) }
        """,
    ),
}


@pytest.mark.parametrize("name", list(GOLDEN))
def test_make_jaxpr_golden_text(name):
    fun, args, expected = GOLDEN[name]
    assert str(dx.make_jaxpr(fun)(*args)) == golden(expected)


def test_ir_prints_like_its_docstring_example():
    closed = dx.make_jaxpr(lambda x: dnp.sin(x) * 2.0)(1.0)
    assert repr(closed) == str(closed)
    assert str(closed).splitlines()[0] == "{ lambda ; a:f32[]. let"


# --------------------------------------------------------------------------- type checker


def _closed(fun, *args):
    closed = dx.make_jaxpr(fun)(*args)
    check_ir(closed.ir)  # well formed before we corrupt it
    return closed


def _three_eqns():
    return _closed(lambda x: dnp.exp(dnp.sin(x)) * 2.0, F32(0.5))


def test_type_checker_accepts_traced_programs():
    for fun, args, _ in GOLDEN.values():
        check_ir(dx.make_jaxpr(fun)(*args).ir)


def test_type_checker_catches_a_wrong_output_type():
    ir = _three_eqns().ir
    ir.eqns[0].outputs[0].aval = ShapedArray((3,), F32)
    with pytest.raises(IRTypeError, match=r"equation 0 \(sin\): output typed f32\[3\] but the "
                       r"shape rule gives f32\[\]"):  # fmt: skip
        check_ir(ir)


def test_type_checker_catches_use_before_definition():
    ir = _three_eqns().ir
    ir.eqns[0], ir.eqns[1] = ir.eqns[1], ir.eqns[0]
    with pytest.raises(IRTypeError, match=r"equation 0 \(exp\) uses a variable before"):
        check_ir(ir)


def test_type_checker_catches_a_double_definition():
    ir = _three_eqns().ir
    ir.eqns[1].outputs[0] = ir.eqns[0].outputs[0]
    with pytest.raises(IRTypeError, match="defined twice"):
        check_ir(ir)


def test_type_checker_catches_an_undefined_output():
    ir = _three_eqns().ir
    ir.outvars[0] = Var(ShapedArray((), F32))
    with pytest.raises(IRTypeError, match="never defined"):
        check_ir(ir)


def test_type_checker_catches_a_wrong_dtype_input():
    ir = _three_eqns().ir
    ir.invars[0].aval = ShapedArray((), np.int32)
    with pytest.raises(TypeError, match="sin requires a floating-point"):
        check_ir(ir)


def test_type_checker_recurses_into_sub_programs():
    closed = _closed(lambda x: dx.jit(lambda a: dnp.sin(a) * 2.0)(x), F32(0.5))
    sub = closed.eqns[0].params["call"]
    sub.ir.eqns[0].outputs[0].aval = ShapedArray((2,), F32)
    with pytest.raises(IRTypeError, match=r"output typed f32\[2\]"):
        check_ir(closed.ir)


def test_printed_type_error_shows_the_program():
    ir = _three_eqns().ir
    ir.eqns[2].outputs[0].aval = ShapedArray((), np.int32)
    with pytest.raises(IRTypeError) as info:
        check_ir(ir)
    assert "{ lambda ; a:f32[]. let" in str(info.value)


# --------------------------------------------------------------------------- reference evaluator

EVAL_CASES = {
    "mlp_layer": (
        lambda x, w, b: dx.nn.relu(x @ w + b),
        ((4, 3), (3, 2), (2,)),
    ),
    "softmax_cross_entropy": (
        lambda logits: -dnp.mean(dx.nn.log_softmax(logits)[:, 0]),
        ((4, 5),),
    ),
    "indexing_and_updates": (
        lambda x: x.at[1:, 0].add(x[0, ::-1][:2]) * x[:, 1:2],
        ((3, 3),),
    ),
    "reductions_and_where": (
        lambda x: dnp.where(x > 0, dnp.sqrt(dnp.abs(x)), dnp.max(x, axis=0)),
        ((3, 4),),
    ),
    "nested_jit_and_grad": (
        lambda x: dx.jit(dx.grad(lambda y: dnp.sum(dnp.tanh(y) ** 2)))(x) + x,
        ((3,),),
    ),
    "vmap_inside": (
        lambda x: dx.vmap(lambda r: dnp.dot(r, r))(x),
        ((4, 3),),
    ),
}


@pytest.mark.parametrize("name", list(EVAL_CASES))
def test_reference_evaluator_matches_eager(name):
    fun, shapes = EVAL_CASES[name]
    args = [dnp.asarray(rand_default(k)(s, F32)) for k, s in enumerate(shapes)]
    closed = dx.make_jaxpr(fun)(*args)
    check_ir(closed.ir)
    (out,) = eval_ir(closed.ir, closed.consts, *args)
    assert_close(out, fun(*args))
    (called,) = closed(*args)  # ClosedIR is callable
    assert_close(called, fun(*args))


def test_reference_evaluator_runs_under_transformations():
    fun = lambda x: dnp.sum(dnp.sin(x) * x)  # noqa: E731
    x = dnp.asarray(np.array([0.5, -1.0, 2.0], F32))
    closed = dx.make_jaxpr(fun)(x)
    g = dx.grad(lambda y: closed(y)[0])(x)
    assert_close(g, np.cos(np.asarray(x)) * np.asarray(x) + np.sin(np.asarray(x)))
    batched = dx.vmap(lambda y: closed(y)[0])(dnp.stack([x, 2 * x]))
    assert_close(batched, np.array([fun(x), fun(2 * x)]))


def test_eval_ir_checks_the_argument_count():
    closed = dx.make_jaxpr(lambda x, y: x + y)(1.0, 2.0)
    with pytest.raises(TypeError, match="IR takes 2 arguments, got 1"):
        eval_ir(closed.ir, closed.consts, 1.0)


# --------------------------------------------------------------------------- closure constants


def test_closed_over_array_becomes_a_constant():
    w = dnp.asarray(W)
    closed = dx.make_jaxpr(lambda x: lax.dot_general(x, w, DN_MATMUL))(np.ones((2, 3), F32))
    assert len(closed.ir.constvars) == 1 and len(closed.consts) == 1
    assert closed.consts[0] is w
    x = dnp.asarray(rand_default(0)((2, 3), F32))
    assert_close(closed(x)[0], np.asarray(x) @ W)


def test_closed_over_scalars_become_literals():
    scale, shift = 3.0, dnp.asarray(np.float32(0.5))
    closed = dx.make_jaxpr(lambda x: lax.add(lax.mul(x, F32(scale)), shift))(F32(1.0))
    assert closed.consts == [] and closed.ir.constvars == []
    assert "3.0:f32[]" in str(closed) and "0.5:f32[]" in str(closed)
    assert_close(closed(dnp.asarray(F32(2.0)))[0], F32(6.5))


def test_unused_constants_are_dropped():
    unused = dnp.ones(5)
    closed = dx.make_jaxpr(lambda x: (unused * 2.0, x + 1.0)[1])(F32(1.0))
    assert closed.consts == [] and len(closed.eqns) == 1


def test_jit_captures_closed_over_values_when_it_traces():
    state = {"w": dnp.asarray(np.float32(2.0))}
    f = dx.jit(lambda x: x * state["w"])
    assert_close(f(dnp.ones(2)), np.full(2, 2.0, F32))
    state["w"] = dnp.asarray(np.float32(5.0))
    # Same signature: the program traced with w = 2 is reused (as in JAX).
    assert_close(f(dnp.ones(2)), np.full(2, 2.0, F32))
    assert f.trace_count == 1
    call, consts = f.trace(dnp.ones(3))
    assert isinstance(call, dx.ClosedIR)
    assert f.trace_count == 2
    assert_close(f(dnp.ones(3)), np.full(3, 5.0, F32))


def test_lowered_text_is_the_ir():
    lowered = dx.jit(lambda x: dnp.exp(x) * 2.0).lower(dnp.ones(2))
    text = lowered.as_text("ir")
    assert "exp a" in text and text == str(lowered)
    with pytest.raises(ValueError, match="unknown dialect"):
        lowered.as_text("hlo")
