"""``lax.all_gather`` and ``lax.psum_scatter`` over a named vmap axis.

Checked against a Python loop over the examples (written here), through jit, through
gradients (where the transpose of one is the other), and against JAX's
``jax.vmap(..., axis_name=)`` with ``jax.lax.all_gather`` / ``psum_scatter`` as an oracle.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

import derivax as dx  # noqa: E402
import derivax.numpy as dnp  # noqa: E402
from derivax import lax  # noqa: E402
from harness import check_grads  # noqa: E402

X = np.arange(1.0, 13.0, dtype=np.float32).reshape(3, 2, 2)  # 3 examples of shape (2, 2)


def loop_all_gather(xs, axis, tiled):
    """What every example sees: all examples stacked (or concatenated) along ``axis``."""
    examples = list(xs)
    one = np.concatenate(examples, axis) if tiled else np.stack(examples, axis)
    return np.stack([one] * len(examples))


def loop_psum_scatter(xs, dim, tiled):
    total = np.sum(xs, 0)
    n = xs.shape[0]
    if tiled:
        return np.stack(np.split(total, n, axis=dim))
    return np.stack([np.take(total, i, axis=dim) for i in range(n)])


@pytest.mark.parametrize("axis, tiled", [(0, False), (1, False), (2, False), (0, True), (1, True)])
def test_all_gather_matches_a_loop_eager_and_jit(axis, tiled):
    f = dx.vmap(lambda v: lax.all_gather(v, "i", axis=axis, tiled=tiled), axis_name="i")
    expected = loop_all_gather(X, axis, tiled)
    np.testing.assert_array_equal(f(dnp.asarray(X)), expected)
    np.testing.assert_array_equal(dx.jit(f)(dnp.asarray(X)), expected)
    g = dx.vmap(dx.jit(lambda v: lax.all_gather(v, "i", axis=axis, tiled=tiled)), axis_name="i")
    np.testing.assert_array_equal(g(dnp.asarray(X)), expected)


@pytest.mark.parametrize(
    "dim, tiled, shape", [(0, False, (3, 3, 2)), (1, False, (3, 2, 3)), (0, True, (3, 6, 2))]
)
def test_psum_scatter_matches_a_loop(dim, tiled, shape):
    xs = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    f = dx.vmap(
        lambda v: lax.psum_scatter(v, "i", scatter_dimension=dim, tiled=tiled), axis_name="i"
    )
    np.testing.assert_allclose(f(dnp.asarray(xs)), loop_psum_scatter(xs, dim, tiled))
    np.testing.assert_allclose(dx.jit(f)(dnp.asarray(xs)), loop_psum_scatter(xs, dim, tiled))


def test_unbatched_operand_and_nested_axes():
    # A value that does not vary along the axis is gathered once per example.
    f = dx.vmap(lambda v: lax.all_gather(dnp.float32(2.0), "i") + 0 * v, axis_name="i")
    np.testing.assert_array_equal(f(dnp.zeros(3)), np.full((3, 3), 2.0))
    # Gathering over the outer of two named axes, from inside the inner one.
    g = dx.vmap(dx.vmap(lambda v: lax.all_gather(v, "a"), axis_name="b"), axis_name="a")
    xs = np.arange(6.0, dtype=np.float32).reshape(3, 2)
    expected = np.stack([np.stack([xs[:, j] for j in range(2)])] * 3)
    np.testing.assert_array_equal(g(dnp.asarray(xs)), expected)


def test_gradients_outside_and_inside_vmap():
    w = np.arange(1.0, 4.0, dtype=np.float32)[:, None, None]

    def loss(xs):
        per = dx.vmap(lambda v: dnp.sum(lax.all_gather(v, "i") ** 2 * w), axis_name="i")(xs)
        return dnp.sum(per)

    # Each example's loss sees every example: d/dx_j sum_i sum_k w_k x_k^2 = 3 * 2 w_j x_j.
    np.testing.assert_allclose(dx.grad(loss)(dnp.asarray(X)), 3 * 2 * w * X, rtol=1e-6)
    check_grads(loss, (X,), order=2)
    # Per-example gradients: the transpose of all_gather is psum_scatter.
    per_example = dx.vmap(
        dx.grad(lambda v: dnp.sum(lax.all_gather(v, "i") ** 2 * w)), axis_name="i"
    )(dnp.asarray(X))
    np.testing.assert_allclose(per_example, 3 * 2 * w * X, rtol=1e-6)

    def scatter_loss(xs):
        out = dx.vmap(lambda v: lax.psum_scatter(v, "i") ** 2, axis_name="i")(xs)
        return dnp.sum(out)

    check_grads(scatter_loss, (np.arange(9.0, dtype=np.float32).reshape(3, 3),), order=2)


def test_errors():
    with pytest.raises(NameError, match="unbound axis name 'i'"):
        lax.all_gather(dnp.ones(2), "i")
    with pytest.raises(ValueError, match="axis=3 is out of range"):
        dx.vmap(lambda v: lax.all_gather(v, "i", axis=3), axis_name="i")(dnp.ones((2, 2)))
    with pytest.raises(ValueError, match="must equal the size 2"):
        dx.vmap(lambda v: lax.psum_scatter(v, "i"), axis_name="i")(dnp.ones((2, 3)))


@pytest.mark.oracle
@pytest.mark.parametrize("axis, tiled", [(0, False), (1, True), (2, False)])
def test_matches_jax(axis, tiled):
    jax = pytest.importorskip("jax", reason="JAX not installed: oracle tests skipped")
    jnp = pytest.importorskip("jax.numpy")

    def make(m, np_mod, gather):
        def per_example(v):
            g = gather(v, "i", axis=axis, tiled=tiled)
            w = np.arange(g.size, dtype=np.float32).reshape(g.shape) % 5
            return np_mod.sum(np_mod.sin(g) * np_mod.asarray(w))

        return m(per_example, axis_name="i")

    ours = make(dx.vmap, dnp, lax.all_gather)
    theirs = make(jax.vmap, jnp, jax.lax.all_gather)
    np.testing.assert_allclose(ours(dnp.asarray(X)), theirs(jnp.asarray(X)), rtol=1e-5)
    g_ours = dx.grad(lambda xs: dnp.sum(ours(xs)))(dnp.asarray(X))
    g_theirs = jax.grad(lambda xs: jnp.sum(theirs(xs)))(jnp.asarray(X))
    np.testing.assert_allclose(g_ours, g_theirs, rtol=1e-5)
    per_ours = dx.vmap(
        dx.grad(lambda v: dnp.sum(lax.all_gather(v, "i", axis=axis, tiled=tiled) ** 2)),
        axis_name="i",
    )(dnp.asarray(X))
    per_theirs = jax.vmap(
        jax.grad(lambda v: jnp.sum(jax.lax.all_gather(v, "i", axis=axis, tiled=tiled) ** 2)),
        axis_name="i",
    )(jnp.asarray(X))
    np.testing.assert_allclose(per_ours, per_theirs, rtol=1e-5)
    ps = np.arange(18.0, dtype=np.float32).reshape(3, 3, 2)
    np.testing.assert_allclose(
        dx.vmap(lambda v: lax.psum_scatter(v, "i"), axis_name="i")(dnp.asarray(ps)),
        jax.vmap(lambda v: jax.lax.psum_scatter(v, "i"), axis_name="i")(jnp.asarray(ps)),
    )
