"""Collectives over a named vmap axis (lax.psum, pmean, pmax, pmin, axis_index)."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

import derivax as dx  # noqa: E402
import derivax.numpy as dnp  # noqa: E402
from derivax import lax  # noqa: E402
from harness import check_grads  # noqa: E402

X = np.arange(1.0, 7.0, dtype=np.float32).reshape(3, 2)


@pytest.mark.parametrize(
    "op, ref",
    [
        (lax.psum, lambda x: np.broadcast_to(x.sum(0), x.shape)),
        (lax.pmean, lambda x: np.broadcast_to(x.mean(0), x.shape)),
        (lax.pmax, lambda x: np.broadcast_to(x.max(0), x.shape)),
        (lax.pmin, lambda x: np.broadcast_to(x.min(0), x.shape)),
    ],
)
def test_collective_values_eager_and_jit(op, ref):
    f = dx.vmap(lambda v: op(v, "i"), axis_name="i")
    np.testing.assert_allclose(f(dnp.asarray(X)), ref(X))
    np.testing.assert_allclose(dx.jit(f)(dnp.asarray(X)), ref(X))
    g = dx.vmap(dx.jit(lambda v: op(v, "i")), axis_name="i")
    np.testing.assert_allclose(g(dnp.asarray(X)), ref(X))


def test_nested_axes_and_axis_index():
    f = dx.vmap(dx.vmap(lambda v: lax.psum(v, ("a", "b")), axis_name="b"), axis_name="a")
    np.testing.assert_allclose(f(dnp.asarray(X)), np.full(X.shape, X.sum()))
    idx = dx.vmap(lambda v: v * lax.axis_index("i"), axis_name="i")(dnp.ones(4))
    np.testing.assert_allclose(idx, [0.0, 1.0, 2.0, 3.0])


def test_gradient_through_pmean_matches_centering_by_hand():
    def loss(x):
        centred = dx.vmap(lambda v: v - lax.pmean(v, "i"), axis_name="i")(x)
        return dnp.sum(centred**2)

    x = X[:, 0]
    np.testing.assert_allclose(dx.grad(loss)(dnp.asarray(x)), 2 * (x - x.mean()), rtol=1e-6)
    check_grads(loss, (x,), order=2)


def test_unbound_axis_name_is_a_clear_error():
    with pytest.raises(NameError, match="unbound axis name 'i'.*axis_name='i'"):
        lax.psum(dnp.ones(2), "i")
    with pytest.raises(NameError, match="unbound axis name 'j'"):
        dx.vmap(lambda v: lax.psum(v, "j"), axis_name="i")(dnp.ones(2))
