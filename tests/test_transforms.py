"""Transformations and their compositions, against derivatives worked out by hand.

The function used throughout is ``f(x) = sin(x) * x**2``, whose derivatives are

    f'(x)   = x**2 cos x + 2 x sin x
    f''(x)  = -x**2 sin x + 4 x cos x + 2 sin x
    f'''(x) = -x**2 cos x - 6 x sin x + 6 cos x

(written here from calculus, evaluated with NumPy). Custom rules are given *different*
derivatives from the functions they decorate, so a test passes only if the rule is used.
"""

from __future__ import annotations

import os
import sys
from collections import namedtuple

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

import derivax as dx  # noqa: E402
import derivax.numpy as dnp  # noqa: E402
from harness import assert_close, check_grads  # noqa: E402

X0 = 0.7
XS = np.array([0.3, -1.1, 2.0], np.float32)
XM = np.array([[0.3, -1.1, 2.0], [0.5, 1.5, -0.4]], np.float32)
TOL = dict(rtol=2e-5, atol=2e-5)


def f(x):
    return dnp.sin(x) * x**2


def f_np(x):
    return np.sin(x) * x**2


def df_np(x):
    return x**2 * np.cos(x) + 2 * x * np.sin(x)


def d2f_np(x):
    return -(x**2) * np.sin(x) + 4 * x * np.cos(x) + 2 * np.sin(x)


def d3f_np(x):
    return -(x**2) * np.cos(x) - 6 * x * np.sin(x) + 6 * np.cos(x)


def f_sum(x):
    return dnp.sum(f(x))


def close(actual, expected, **kw):
    np.testing.assert_allclose(np.asarray(actual), expected, **{**TOL, **kw})


# --------------------------------------------------------------------------- compositions

COMPOSITIONS = {
    "grad(jit(f))": (lambda: dx.grad(dx.jit(f))(X0), df_np(X0)),
    "jit(grad(f))": (lambda: dx.jit(dx.grad(f))(X0), df_np(X0)),
    "vmap(grad(f))": (lambda: dx.vmap(dx.grad(f))(XS), df_np(XS)),
    "grad(vmap(f))": (lambda: dx.grad(lambda x: dnp.sum(dx.vmap(f)(x)))(XS), df_np(XS)),
    "jacfwd(jacrev(f))": (lambda: dx.jacfwd(dx.jacrev(f_sum))(XS), np.diag(d2f_np(XS))),
    "jacrev(jacfwd(f))": (lambda: dx.jacrev(dx.jacfwd(f_sum))(XS), np.diag(d2f_np(XS))),
    "jacrev(jacrev(f))": (lambda: dx.jacrev(dx.jacrev(f_sum))(XS), np.diag(d2f_np(XS))),
    "grad(grad(grad(f)))": (lambda: dx.grad(dx.grad(dx.grad(f)))(X0), d3f_np(X0)),
    "vmap(vmap(f))": (lambda: dx.vmap(dx.vmap(f))(XM), f_np(XM)),
    "jit(vmap(grad(f)))": (lambda: dx.jit(dx.vmap(dx.grad(f)))(XS), df_np(XS)),
    "vmap(jit(grad(f)))": (lambda: dx.vmap(dx.jit(dx.grad(f)))(XS), df_np(XS)),
    "grad(jit(grad(jit(f))))": (lambda: dx.grad(dx.jit(dx.grad(dx.jit(f))))(X0), d2f_np(X0)),
    "vmap(grad(grad(f)))": (lambda: dx.vmap(dx.grad(dx.grad(f)))(XS), d2f_np(XS)),
    "vmap(vmap(grad(f)))": (lambda: dx.vmap(dx.vmap(dx.grad(f)))(XM), df_np(XM)),
    "grad(vmap(vmap(f)))": (
        lambda: dx.grad(lambda x: dnp.sum(dx.vmap(dx.vmap(f))(x)))(XM),
        df_np(XM),
    ),
    "hessian(f)": (lambda: dx.hessian(f_sum)(XS), np.diag(d2f_np(XS))),
    "jit(hessian(f))": (lambda: dx.jit(dx.hessian(f_sum))(XS), np.diag(d2f_np(XS))),
    "vmap(hessian(f))": (lambda: dx.vmap(dx.hessian(f))(XS), d2f_np(XS)),
    "jvp(grad(f))": (lambda: dx.jvp(dx.grad(f), (X0,), (1.0,))[1], d2f_np(X0)),
    "grad(checkpoint(f))": (lambda: dx.grad(dx.checkpoint(f))(X0), df_np(X0)),
}


@pytest.mark.parametrize("name", list(COMPOSITIONS))
def test_composition(name):
    run, expected = COMPOSITIONS[name]
    close(run(), expected)


# --- custom_jvp: sin with the rule "derivative = 3 cos" (deliberately not sin's).


@dx.custom_jvp
def g(x):
    return dnp.sin(x)


@g.defjvp
def _g_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return g(x), 3.0 * dnp.cos(x) * t


# --- custom_vjp: sin with bwd "ct * 3 cos" (the residual cos x is differentiable, so the
# second derivative is -3 sin).


@dx.custom_vjp
def h(x):
    return dnp.sin(x)


def _h_fwd(x):
    return dnp.sin(x), dnp.cos(x)


def _h_bwd(cos_x, ct):
    return (3.0 * cos_x * ct,)


h.defvjp(_h_fwd, _h_bwd)


def _custom_cases(c, forward_ok):
    cases = {
        "grad": (lambda: dx.grad(c)(X0), 3 * np.cos(X0)),
        "jit(grad)": (lambda: dx.jit(dx.grad(c))(X0), 3 * np.cos(X0)),
        "grad(jit)": (lambda: dx.grad(dx.jit(c))(X0), 3 * np.cos(X0)),
        "vmap(grad)": (lambda: dx.vmap(dx.grad(c))(XS), 3 * np.cos(XS)),
        "grad(vmap)": (lambda: dx.grad(lambda x: dnp.sum(dx.vmap(c)(x)))(XS), 3 * np.cos(XS)),
        "grad(grad)": (lambda: dx.grad(dx.grad(c))(X0), -3 * np.sin(X0)),
        "grad(grad(grad))": (lambda: dx.grad(dx.grad(dx.grad(c)))(X0), -3 * np.cos(X0)),
        "jacrev(jacrev)": (
            lambda: dx.jacrev(dx.jacrev(lambda x: dnp.sum(c(x))))(XS),
            np.diag(-3 * np.sin(XS)),
        ),
        "vmap(vmap)": (lambda: dx.vmap(dx.vmap(c))(XM), np.sin(XM)),
        "vmap(jit)": (lambda: dx.vmap(dx.jit(c))(XS), np.sin(XS)),
        "vjp": (lambda: dx.vjp(c, XS)[1](np.ones(3, np.float32))[0], 3 * np.cos(XS)),
    }
    if forward_ok:
        cases.update(
            {
                "jvp": (lambda: dx.jvp(c, (XS,), (np.ones(3, np.float32),))[1], 3 * np.cos(XS)),
                "jacfwd(jacrev)": (
                    lambda: dx.jacfwd(dx.jacrev(lambda x: dnp.sum(c(x))))(XS),
                    np.diag(-3 * np.sin(XS)),
                ),
                "hessian": (
                    lambda: dx.hessian(lambda x: dnp.sum(c(x)))(XS),
                    np.diag(-3 * np.sin(XS)),
                ),
                "jacfwd": (lambda: dx.jacfwd(c)(XS), np.diag(3 * np.cos(XS))),
                "linearize": (
                    lambda: dx.linearize(c, XS)[1](np.ones(3, np.float32)),
                    3 * np.cos(XS),
                ),
            }
        )
    return cases


CUSTOM = {f"custom_jvp/{k}": v for k, v in _custom_cases(g, True).items()}
CUSTOM.update({f"custom_vjp/{k}": v for k, v in _custom_cases(h, False).items()})


@pytest.mark.parametrize("name", list(CUSTOM))
def test_custom_rule_under_transformations(name):
    run, expected = CUSTOM[name]
    close(run(), expected)


def test_custom_rules_keep_primal_values():
    close(g(XS), np.sin(XS))
    close(h(XS), np.sin(XS))
    close(dx.jit(g)(XS), np.sin(XS))
    close(dx.jit(h)(XS), np.sin(XS))


def test_custom_vjp_rejects_forward_mode():
    with pytest.raises(dx.CustomVJPError, match="custom_vjp.*reverse mode"):
        dx.jvp(h, (XS,), (np.ones(3, np.float32),))


def test_custom_vjp_rejects_jacfwd_with_the_same_error():
    with pytest.raises(dx.CustomVJPError, match="custom_vjp.*reverse mode"):
        dx.jacfwd(h)(XS)


def test_custom_jvp_with_nondiff_argnums_and_pytrees():
    def scale_fn(n, p):
        return {"y": p["a"] * n}

    scale = dx.custom_jvp(scale_fn, nondiff_argnums=(0,))

    @scale.defjvp
    def _(n, primals, tangents):
        (p,), (tp,) = primals, tangents
        return scale(n, p), {"y": tp["a"] * (n + 1)}  # deliberately n + 1

    grads = dx.grad(lambda p: dnp.sum(scale(2.0, p)["y"]))({"a": XS})
    close(grads["a"], np.full(3, 3.0))


def test_custom_rules_pass_the_harness():
    @dx.custom_jvp
    def softplus(x):
        return dnp.log1p(dnp.exp(x))

    @softplus.defjvp
    def _(primals, tangents):
        (x,), (t,) = primals, tangents
        return softplus(x), t * dx.nn.sigmoid(x)

    check_grads(softplus, (XS,), order=2)
    check_grads(_sin_vjp_correct(), (XS,), order=2, modes=("rev",))


def _sin_vjp_correct():
    @dx.custom_vjp
    def s(x):
        return dnp.sin(x)

    s.defvjp(lambda x: (dnp.sin(x), dnp.cos(x)), lambda c, ct: (c * ct,))
    return s


# --------------------------------------------------------------------------- jvp / vjp / linearize


def test_jvp_of_a_pytree_function():
    def fn(p):
        return {"s": dnp.sum(p["w"] * p["b"]), "t": p["w"] ** 2}

    p = {"w": XS, "b": XS[::-1].copy()}
    tw, tb = np.array([1.0, 0.0, 2.0], np.float32), np.array([0.5, 0.5, 0.5], np.float32)
    out, tout = dx.jvp(fn, (p,), ({"w": tw, "b": tb},))
    close(out["s"], np.sum(XS * XS[::-1]))
    close(tout["s"], np.sum(tw * XS[::-1] + XS * tb))
    close(tout["t"], 2 * XS * tw)


def test_jvp_has_aux_and_errors():
    out, t, aux = dx.jvp(lambda x: (dnp.sin(x), {"c": dnp.cos(x)}), (XS,), (XS,), has_aux=True)
    close(t, np.cos(XS) * XS)
    close(aux["c"], np.cos(XS))
    with pytest.raises(TypeError, match="tuples or lists"):
        dx.jvp(dnp.sin, XS, XS)
    with pytest.raises(ValueError, match=r"shapes \(3,\) and \(2,\)"):
        dx.jvp(dnp.sin, (XS,), (np.ones(2, np.float32),))


def test_vjp_of_two_arguments_and_has_aux():
    a, b = XS, np.array([2.0, 3.0, 4.0], np.float32)
    out, f_vjp = dx.vjp(lambda x, y: x * y, a, b)
    ct = np.array([1.0, -1.0, 0.5], np.float32)
    ga, gb = f_vjp(ct)
    close(ga, ct * b)
    close(gb, ct * a)
    _, f_vjp, aux = dx.vjp(lambda x: (x * 2.0, "label"), a, has_aux=True)
    assert aux == "label"
    close(f_vjp(ct)[0], 2 * ct)


def test_linearize_matches_the_jacobian():
    y, f_jvp = dx.linearize(f, XS)
    close(y, f_np(XS))
    t = np.array([1.0, 2.0, -1.0], np.float32)
    close(f_jvp(t), df_np(XS) * t)
    close(f_jvp(2 * t), 2 * df_np(XS) * t)  # linear, evaluated again without re-tracing


# --------------------------------------------------------------------------- grad and friends


def test_value_and_grad_argnums():
    def loss(w, b, x):
        return dnp.sum((w * x + b) ** 2)

    w, b, x = np.float32(0.5), np.float32(-1.0), XS
    r = w * x + b
    v, gw = dx.value_and_grad(loss)(w, b, x)
    close(v, np.sum(r**2))
    close(gw, np.sum(2 * r * x))
    v, (gw, gb) = dx.value_and_grad(loss, argnums=(0, 1))(w, b, x)
    close(gb, np.sum(2 * r))
    (gx,) = dx.grad(loss, argnums=(2,))(w, b, x)
    close(gx, 2 * r * w)
    close(dx.grad(loss, argnums=-1)(w, b, x), 2 * r * w)


def test_value_and_grad_has_aux_and_pytrees():
    def loss(params):
        pred = params["w"] * XS
        return dnp.sum(pred**2), {"pred": pred}

    params = {"w": np.float32(2.0)}
    (v, aux), g_ = dx.value_and_grad(loss, has_aux=True)(params)
    close(v, np.sum((2 * XS) ** 2))
    close(aux["pred"], 2 * XS)
    close(g_["w"], np.sum(2 * 2 * XS * XS))
    g2, aux2 = dx.grad(loss, has_aux=True)(params)
    close(g2["w"], np.sum(4 * XS * XS))
    close(aux2["pred"], 2 * XS)


def test_grad_of_namedtuple_and_list_arguments():
    Point = namedtuple("Point", "x y")
    g_ = dx.grad(lambda p, l: p.x * p.y + l[0] * l[1])(Point(2.0, 3.0), [4.0, 5.0])
    assert isinstance(g_, Point)
    close(g_.x, 3.0)
    close(g_.y, 2.0)


def test_hessian_of_two_variable_function():
    # f(x, y) = x^2 y + y^3: H = [[2y, 2x], [2x, 6y]]
    def fn(v):
        return v[0] ** 2 * v[1] + v[1] ** 3

    v = np.array([1.5, -0.5], np.float32)
    close(dx.hessian(fn)(v), np.array([[2 * v[1], 2 * v[0]], [2 * v[0], 6 * v[1]]]))


def test_jacobians_of_vector_functions():
    def fn(x):
        return dnp.stack([x[0] * x[1], dnp.sin(x[2]), x[0] ** 2])

    x = np.array([1.0, 2.0, 0.5], np.float32)
    expected = np.array([[x[1], x[0], 0], [0, 0, np.cos(x[2])], [2 * x[0], 0, 0]])
    close(dx.jacfwd(fn)(x), expected)
    close(dx.jacrev(fn)(x), expected)


def test_stop_gradient():
    close(dx.grad(lambda x: x * dx.stop_gradient(x))(3.0), 3.0)
    tree = dx.stop_gradient({"a": XS, "n": np.array([1, 2], np.int32)})
    assert tree["n"].dtype == np.int32
    g_ = dx.grad(lambda x: dnp.sum(dx.stop_gradient({"a": x})["a"] * x))(XS)
    close(g_, XS)
    close(dx.grad(lambda x: dx.stop_gradient(x) ** 2 + x)(2.0), 1.0)


def test_checkpoint_keeps_values_and_derivatives():
    @dx.checkpoint
    def block(x, w):
        return dnp.tanh(x * w)

    x, w = XS, np.float32(0.8)
    close(block(x, w), np.tanh(x * w))
    gx = dx.grad(lambda x: dnp.sum(block(x, w)))(x)
    close(gx, (1 - np.tanh(x * w) ** 2) * w)
    assert dx.remat is dx.checkpoint
    decorated = dx.checkpoint(prevent_cse=False)(lambda x: x**3)
    close(dx.grad(dx.grad(decorated))(2.0), 12.0)


# --------------------------------------------------------------------------- vmap


def test_vmap_in_axes_out_axes():
    a = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    b = np.arange(3.0, dtype=np.float32)
    close(dx.vmap(lambda x, y: x * y, in_axes=(0, None))(a, b), a * b)
    close(dx.vmap(lambda x, y: x * y, in_axes=(1, 0))(a, b), (a * b).T)
    close(dx.vmap(lambda x: x * 2.0, in_axes=1, out_axes=1)(a), a * 2)
    close(dx.vmap(lambda x: x * 2.0, in_axes=-1, out_axes=-1)(a), a * 2)
    out = dx.vmap(lambda x: (x, dnp.sum(x)), out_axes=(1, 0))(a)
    close(out[0], a.T)
    close(out[1], a.sum(1))


def test_vmap_pytrees_and_kwargs():
    d = {"a": np.ones((3, 2), np.float32), "b": np.arange(2.0, dtype=np.float32)}
    out = dx.vmap(lambda d: d["a"] * d["b"], in_axes=({"a": 0, "b": None},))(d)
    close(out, np.tile(np.arange(2.0), (3, 1)))
    out = dx.vmap(lambda x, *, scale: x * scale)(XS, scale=np.float32(2.0) * np.ones(3, np.float32))
    close(out, XS * 2)
    out = dx.vmap(lambda x: {"double": x * 2, "pair": (x, -x)})(XS)
    close(out["pair"][1], -XS)


def test_vmap_axis_size_and_unmapped_outputs():
    out = dx.vmap(lambda x: dnp.sum(x), in_axes=None, axis_size=3)(XS)
    close(out, np.full(3, XS.sum()))
    out = dx.vmap(lambda x, c: (x * 2.0, c), in_axes=(0, None), out_axes=(0, None))(XS, 5.0)
    close(out[1], 5.0)
    assert np.shape(out[1]) == ()


def test_vmap_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"size 3: args\[0\].*size 4: args\[1\]"):
        dx.vmap(lambda x, y: x + y)(np.ones((3, 2)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="in_axes=2.*rank 2"):
        dx.vmap(lambda x: x, in_axes=2)(np.ones((3, 2)))
    with pytest.raises(ValueError, match="axis_size"):
        dx.vmap(lambda x: x, in_axes=None)(np.ones(3))
    with pytest.raises(ValueError, match="2 entries.*1 positional"):
        dx.vmap(lambda x: x, in_axes=(0, 0))(np.ones(3))
    with pytest.raises(ValueError, match="out_axes is None"):
        dx.vmap(lambda x: x, out_axes=None)(np.ones(3))
    with pytest.raises(ValueError, match="axis_size=5.*size 3"):
        dx.vmap(lambda x: x, axis_size=5)(np.ones(3))
    with pytest.raises(TypeError, match="callable"):
        dx.vmap(3)


# --------------------------------------------------------------------------- IR and shapes


def test_make_jaxpr_returns_a_printable_program():
    closed = dx.make_jaxpr(lambda x: dnp.exp(x) + 1.0)(np.float32(0.5))
    assert isinstance(closed, dx.ClosedIR)
    assert [e.prim.name for e in closed.eqns] == ["exp", "add"]
    text = str(closed)
    assert text.startswith("{ lambda ; a:f32[]. let")
    close(closed(dnp.asarray(np.float32(0.5)))[0], np.exp(0.5) + 1)
    vector = dx.make_jaxpr(lambda x: dnp.exp(x) + 1.0)(XS)
    close(vector(dnp.asarray(XS))[0], np.exp(XS) + 1)


def test_make_jaxpr_static_argnums():
    closed = dx.make_jaxpr(lambda x, n: x**n, static_argnums=1)(XS, 3)
    assert [e.prim.name for e in closed.eqns] == ["integer_pow"]
    assert "y=3" in str(closed)


def test_eval_shape_and_shape_dtype_struct():
    spec = dx.ShapeDtypeStruct((4, 3), dnp.float32)
    assert spec.shape == (4, 3) and spec.dtype == np.float32 and spec.ndim == 2 and spec.size == 12
    assert spec == dx.ShapeDtypeStruct((4, 3), np.float32)
    assert spec != dx.ShapeDtypeStruct((4, 3), np.int32)
    assert repr(spec) == "ShapeDtypeStruct(shape=(4, 3), dtype=float32)"
    out = dx.eval_shape(lambda x, w: {"y": x @ w, "n": dnp.argmax(x, 1)}, spec,
                        dx.ShapeDtypeStruct((3, 5), dnp.float32))  # fmt: skip
    assert out["y"] == dx.ShapeDtypeStruct((4, 5), np.float32)
    assert out["n"] == dx.ShapeDtypeStruct((4,), np.int32)
    # Works on arrays too, without computing (a huge shape is fine).
    big = dx.eval_shape(lambda x: dnp.sum(x, 0), dx.ShapeDtypeStruct((10**6, 1000), np.float32))
    assert big.shape == (1000,)


def test_disable_jit_runs_the_python_function():
    seen = []

    @dx.jit
    def fn(x):
        seen.append(type(x))
        return x + 1.0

    x = dnp.asarray(XS)
    with dx.disable_jit():
        close(fn(x), XS + 1)
        close(fn(x), XS + 1)
    assert seen == [dx.Array, dx.Array]
    fn(x)
    assert seen[-1] is not dx.Array  # traced this time
    assert dx.config.disable_jit is False


# --------------------------------------------------------------------------- jit


def test_jit_static_argnums_and_argnames():
    @dx.jit
    def plain(x):
        return x * 2.0

    def power(x, n, *, mode="pow"):
        if mode == "pow":  # Python control flow on static values
            return x**n
        return x * n

    jp = dx.jit(power, static_argnums=1, static_argnames="mode")
    close(jp(XS, 2), XS**2)
    close(jp(XS, 3), XS**3)
    close(jp(XS, 3, mode="mul"), XS * 3)
    assert jp.trace_count == 3
    jp(XS, 3)
    assert jp.trace_count == 3
    by_name = dx.jit(power, static_argnames=("n", "mode"))
    close(by_name(XS, n=2), XS**2)
    close(plain(XS), XS * 2)


def test_jit_static_argument_errors():
    def fn(x, n):
        return x * n

    with pytest.raises(TypeError, match="not hashable"):
        dx.jit(fn, static_argnums=1)(XS, [1, 2])
    with pytest.raises(ValueError, match="static_argnums=5 is out of range"):
        dx.jit(fn, static_argnums=5)
    with pytest.raises(ValueError, match="'m', which is not a parameter"):
        dx.jit(fn, static_argnames="m")
    with pytest.raises(TypeError, match="callable"):
        dx.jit(3)


def test_jit_donate_argnums_is_accepted():
    jf = dx.jit(lambda x, y: x + y, donate_argnums=(0,))
    close(jf(XS, XS), 2 * XS)
    with pytest.raises(ValueError, match="donate_argnums"):
        dx.jit(lambda x: x, donate_argnums=3)


def test_jit_caches_per_signature_and_pytree():
    jf = dx.jit(lambda p: p["a"] * p["b"])
    p = {"a": XS, "b": XS}
    jf(p)
    jf({"a": XS + 1, "b": XS})
    assert jf.trace_count == 1
    jf({"a": XS.astype(np.int32), "b": XS.astype(np.int32)})  # new dtype
    assert jf.trace_count == 2
    jf({"a": XS[:2], "b": XS[:2]})  # new shape
    assert jf.trace_count == 3


def test_jit_python_scalars_are_weak():
    out = dx.jit(lambda x, s: x * s)(XS, 2.0)
    assert out.dtype == np.float32 and not out.weak_type
    out = dx.jit(lambda s: s * 2)(3.0)
    assert out.dtype == np.float32 and out.weak_type


def test_retrace_warning_names_argument_and_shapes():
    jf = dx.jit(lambda x, y: dnp.sum(x) + y)
    with dx.config.context(retrace_warning_threshold=3):
        for n in (1, 2, 3):
            jf(np.ones(n, np.float32), 1.0)  # no warning yet (warnings are errors here)
        with pytest.warns(dx.RetraceWarning, match=r"argument x changed from f32\[3\] to f32\[4\]"):
            jf(np.ones(4, np.float32), 1.0)
    assert jf.trace_count == 4


def test_retrace_warning_can_be_turned_off():
    jf = dx.jit(lambda x: x + 1)
    with dx.config.context(retrace_warning_threshold=0):
        for n in range(1, 7):
            jf(np.ones(n, np.float32))
    assert jf.trace_count == 6


# --------------------------------------------------------------------------- devices


def test_device_put_get_block_until_ready():
    tree = {"a": np.ones(2, np.float64), "b": [np.arange(3), 2.0]}
    on = dx.device_put(tree)
    assert isinstance(on["a"], dx.Array) and on["a"].dtype == np.float32  # x64 off
    assert isinstance(on["b"][0], dx.Array) and on["b"][0].dtype == np.int32
    back = dx.device_get(on)
    assert isinstance(back["a"], np.ndarray)
    assert_close(back["a"], np.ones(2, np.float32))
    assert dx.block_until_ready(on) is on
    x = dnp.ones(3)
    assert x.block_until_ready() is x
    with pytest.raises(ValueError, match="CPU only"):
        dx.device_put(XS, device="gpu")
