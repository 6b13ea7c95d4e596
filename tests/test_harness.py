"""Tests of the shared harness: each check must fail on a deliberately wrong rule.

A gradient checker that never fails is worse than none. Every check in ``harness.py`` is run
here on a correct function (it must pass) and on a function with one planted mistake (it
must raise ``AssertionError``): a wrong jvp rule, a jvp rule that is right at first order
but wrong at second, a wrong transpose (``custom_vjp`` bwd and a primitive's transpose
rule), a wrong batching rule, eager/jit disagreement, a retrace on the second call and a
wrong dtype.
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
from derivax import _core  # noqa: E402
from harness import (  # noqa: E402
    assert_close,
    check_against_numpy,
    check_batching,
    check_grads,
    check_jit,
    rand_bool,
    rand_default,
    rand_distinct,
    rand_fractional,
    rand_int,
    rand_not_small,
    rand_positive,
    rand_some_nan,
    rand_unit,
)

X = np.array([0.3, -1.2, 2.0], np.float32)


@pytest.fixture
def scratch_primitive():
    """Make throwaway primitives and remove them from the registry afterwards."""
    made = []

    def make(name):
        p = _core.Primitive(name)
        made.append(name)
        return p

    yield make
    for name in made:
        _core.REGISTRY.pop(name, None)


# --------------------------------------------------------------------------- check_grads


def _sin_with_jvp(rule):
    @dx.custom_jvp
    def f(x):
        return dnp.sin(x)

    @f.defjvp
    def _(primals, tangents):
        (x,), (t,) = primals, tangents
        return dnp.sin(x), rule(x, t)

    return f


def test_check_grads_passes_on_a_correct_rule():
    f = _sin_with_jvp(lambda x, t: t * dnp.cos(x))
    check_grads(f, (X,), order=2)


@pytest.mark.parametrize("modes", [("fwd",), ("rev",)])
def test_check_grads_catches_a_wrong_jvp(modes):
    f = _sin_with_jvp(lambda x, t: 2.0 * t * dnp.cos(x))
    with pytest.raises(AssertionError, match="fwd|rev"):
        check_grads(f, (X,), order=1, modes=modes)


def test_check_grads_catches_a_second_order_mistake():
    # First derivative right (3 x^2), but the rule hides x from differentiation, so the
    # second derivative comes out 0 instead of 6 x.
    @dx.custom_jvp
    def cube(x):
        return x**3

    @cube.defjvp
    def _(primals, tangents):
        (x,), (t,) = primals, tangents
        return cube(x), t * 3.0 * dx.stop_gradient(x) ** 2

    check_grads(cube, (X,), order=1)
    for modes in [("fwd",), ("rev",)]:
        with pytest.raises(AssertionError, match="/"):
            check_grads(cube, (X,), order=2, modes=modes)


def _sin_with_vjp(bwd_scale):
    @dx.custom_vjp
    def f(x):
        return dnp.sin(x)

    def fwd(x):
        return dnp.sin(x), dnp.cos(x)

    def bwd(cos_x, ct):
        return (bwd_scale * ct * cos_x,)

    f.defvjp(fwd, bwd)
    return f


def test_check_grads_catches_a_wrong_custom_vjp_bwd():
    check_grads(_sin_with_vjp(1.0), (X,), order=1, modes=("rev",))
    with pytest.raises(AssertionError, match="inner-product"):
        check_grads(_sin_with_vjp(-1.0), (X,), order=1, modes=("rev",))


def _scale_primitive(make, name, transpose_factor):
    """``3 * x`` as a linear primitive whose transpose multiplies by ``transpose_factor``."""
    p = make(name)
    p.impl = lambda x: dnp.asarray(np.asarray(x) * np.asarray(3, np.asarray(x).dtype))
    p.abstract_eval = lambda a: a
    p.jvp = lambda primals, tangents: (p.bind(primals[0]), p.bind(tangents[0]))
    p.transpose = lambda ct, x: [lax.mul(ct, lax.full(x.aval.shape, transpose_factor, ct.dtype))]
    p.linear = True
    p.batch = lambda vals, dims: (p.bind(vals[0]), dims[0])
    return p


def test_check_grads_catches_a_wrong_transpose_rule(scratch_primitive):
    good = _scale_primitive(scratch_primitive, "harness_scale_good", 3.0)
    bad = _scale_primitive(scratch_primitive, "harness_scale_bad", 2.0)
    check_grads(good.bind, (X,), order=2)
    check_grads(bad.bind, (X,), order=1, modes=("fwd",))  # the jvp rule is right
    with pytest.raises(AssertionError, match="rev"):
        check_grads(bad.bind, (X,), order=1, modes=("rev",))


def test_check_grads_in_float32_without_x64():
    f = _sin_with_jvp(lambda x, t: t * dnp.cos(x))
    check_grads(f, (X,), order=2, x64=False)
    wrong = _sin_with_jvp(lambda x, t: 1.1 * t * dnp.cos(x))
    with pytest.raises(AssertionError):
        check_grads(wrong, (X,), order=1, x64=False)


def test_check_grads_handles_pytrees_and_integer_inputs():
    def f(params, n):
        return {"y": params["w"] * dnp.tanh(params["b"]) * n, "n": n * 2}

    params = {"w": X, "b": X[::-1].copy()}
    check_grads(f, (params, np.array([1, 2, 3], np.int32)), order=2)


# --------------------------------------------------------------------------- check_batching


def _double_primitive(make, name, batch_rule):
    p = make(name)
    p.impl = lambda x: dnp.asarray(np.cumsum(np.asarray(x), axis=-1))
    p.abstract_eval = lambda a: a
    p.batch = batch_rule
    return p


def test_check_batching_catches_a_wrong_batching_rule(scratch_primitive):
    # cumsum along the last axis; the right rule keeps the batch axis away from it.
    def good_rule(vals, dims):
        x = lax.transpose(vals[0], (dims[0], *[i for i in range(vals[0].ndim) if i != dims[0]]))
        return good.bind(x), 0

    def bad_rule(vals, dims):  # ignores where the batch axis is
        return bad.bind(vals[0]), dims[0]

    good = _double_primitive(scratch_primitive, "harness_cumsum_good", good_rule)
    bad = _double_primitive(scratch_primitive, "harness_cumsum_bad", bad_rule)
    xs = rand_default(1)((3, 4), np.float32)
    check_batching(good.bind, (xs,))
    check_batching(good.bind, (xs,), in_axes=1)
    check_batching(bad.bind, (xs,), move_axes=False)  # right when the batch axis is first
    with pytest.raises(AssertionError, match="out_axes=-1|in_axes"):
        check_batching(bad.bind, (xs,))


def test_check_batching_catches_a_wrong_empty_batch(scratch_primitive):
    p = scratch_primitive("harness_bad_empty")
    p.impl = lambda x: dnp.asarray(np.asarray(x) * 2)
    p.abstract_eval = lambda a: a
    # Wrong on empty batches only: the result's dtype changes when the batch is empty.
    p.batch = lambda vals, dims: (
        (p.bind(vals[0]), dims[0])
        if vals[0].shape[dims[0]]
        else (lax.convert_element_type(p.bind(vals[0]), np.int32), dims[0])
    )
    with pytest.raises(AssertionError, match="empty batch"):
        check_batching(p.bind, (rand_default(2)((2, 3), np.float32),), move_axes=False)


def test_check_batching_with_unmapped_arguments():
    xs = rand_default(3)((4, 3), np.float32)
    w = rand_default(4)((3, 2), np.float32)
    check_batching(lambda x, w: x @ w, (xs, w), in_axes=(0, None))
    check_batching(lambda x, w: x @ w, (xs.T.copy(), w), in_axes=(1, None))


# --------------------------------------------------------------------------- check_jit


def test_check_jit_passes_on_a_pure_function():
    check_jit(lambda x: dnp.sum(dnp.exp(x)) * 2.0, (X,))


def test_check_jit_catches_eager_jit_disagreement():
    def f(x):
        return x + (1.0 if isinstance(x, dx.Array) else 2.0)

    with pytest.raises(AssertionError, match="jit vs eager"):
        check_jit(f, (X,))


def test_check_jit_catches_a_retrace_on_the_second_call():
    # Tracing flips a trace-relevant option, so the cache key differs on every call.
    def f(x):
        dx.config.update("debug_index_checks", not dx.config.debug_index_checks)
        return x + 1.0

    with dx.config.context(debug_index_checks=False):
        with pytest.raises(AssertionError, match="traced again"):
            check_jit(f, (X,))


def test_check_jit_catches_a_weak_type_difference():
    def f(x):
        weak = not isinstance(x, dx.Array)
        return lax.convert_element_type(x, np.float32, weak_type=weak)

    with pytest.raises(AssertionError, match="weak types"):
        check_jit(f, (X,))


# --------------------------------------------------------------------------- check_against_numpy


def test_check_against_numpy_checks_values_and_dtypes():
    check_against_numpy(dnp.sin, np.sin, (X,), dtype=np.float32)
    with pytest.raises(AssertionError, match="dtype"):
        check_against_numpy(dnp.sin, np.sin, (X,), dtype=np.float16)
    with pytest.raises(AssertionError):
        check_against_numpy(dnp.sin, np.cos, (X,), dtype=np.float32)
    check_against_numpy(
        lambda x: (x, x > 0), lambda x: (x, x > 0), (X,), dtype=(np.float32, np.bool_)
    )


def test_assert_close_requires_nan_positions_to_match():
    assert_close(np.array([np.nan, 1.0]), np.array([np.nan, 1.0]))
    with pytest.raises(AssertionError):
        assert_close(np.array([np.nan, 1.0]), np.array([0.0, 1.0]))
    with pytest.raises(AssertionError):
        assert_close(np.array([1, 2]), np.array([1, 3]))


# --------------------------------------------------------------------------- generators


def test_generators_respect_their_contracts():
    shape = (50,)
    assert (rand_positive(0)(shape, np.float32) >= 0.5).all()
    assert (np.abs(rand_not_small(0)(shape, np.float32)) >= 0.5).all()
    assert (np.abs(rand_unit(0)(shape, np.float32)) < 0.9).all()
    frac = rand_fractional(0)(shape, np.float32)
    assert (np.abs(frac - np.round(frac)) > 0.09).all()
    assert (np.abs(frac - np.floor(frac) - 0.5) > 0.09).all()
    d = rand_distinct(0)((5, 10), np.float32)
    assert len(np.unique(d)) == d.size
    ints = rand_int(0, 0, 3)(shape, np.int32)
    assert ints.dtype == np.int32 and set(np.unique(ints)) <= {0, 1, 2}
    assert rand_bool(0)(shape).dtype == np.bool_
    nan = rand_some_nan(0)((200,), np.float32)
    assert np.isnan(nan).any() and np.isinf(nan).any() and np.isfinite(nan).any()
    # Seeded: the same seed gives the same values.
    np.testing.assert_array_equal(
        rand_default(7)((4,), np.float32), rand_default(7)((4,), np.float32)
    )
    assert rand_default(0)((3,), np.complex64).dtype == np.complex64
