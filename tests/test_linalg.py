"""Linear algebra: the ``derivax.lax`` primitives and ``derivax.numpy.linalg``.

Each row of ``ROWS`` is a derivax function, a NumPy reference written for this test, an
argument generator and the output dtype. Pytest expands the table through the shared
harness: value and dtype against NumPy (float32 and float64), eager vs ``jit``, ``vmap`` vs
a Python loop, and numerical gradients in forward and reverse mode (to second order where
the row allows it).

Decompositions whose outputs are only defined up to signs (``qr``, ``svd``, ``eigh``) are
compared and differentiated through sign-invariant functions of their outputs, on inputs
with distinct singular values or eigenvalues. Oracle tests compare values and gradients with
``jax.numpy.linalg`` on identical inputs.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import zlib
from collections.abc import Callable

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

import derivax as dx  # noqa: E402
import derivax.lax as lax  # noqa: E402
import derivax.numpy as dnp  # noqa: E402
import derivax.numpy.linalg as dla  # noqa: E402
from harness import (  # noqa: E402
    F32,
    F64,
    check_against_numpy,
    check_batching,
    check_grads,
    check_jit,
    x64_context,
)

I32 = np.dtype(np.int32)
TOL = {F32: 2e-4, F64: 1e-9}

# --------------------------------------------------------------------------- inputs


def general(n=3, batch=()):
    """Well-conditioned square matrices (a random matrix plus a multiple of the identity)."""

    def make(rng, dt):
        return (rng.standard_normal((*batch, n, n)) + 2 * n**0.5 * np.eye(n)).astype(dt)

    return make


def spd(n=3, batch=()):
    """Symmetric positive-definite matrices with distinct eigenvalues."""

    def make(rng, dt):
        a = rng.standard_normal((*batch, n, n))
        q, _ = np.linalg.qr(a)
        w = np.arange(1, n + 1) * 1.5 + rng.uniform(0, 0.3, n)
        return ((q * w[..., None, :]) @ np.swapaxes(q, -1, -2)).astype(dt)

    return make


def distinct_sv(m=3, n=3, batch=()):
    """Matrices with well-separated singular values (4, 3, 2, ...) and random vectors."""

    def make(rng, dt):
        k = min(m, n)
        u, _ = np.linalg.qr(rng.standard_normal((*batch, m, k)))
        v, _ = np.linalg.qr(rng.standard_normal((*batch, n, k)))
        s = np.arange(k + 1, 1, -1, dtype=np.float64)
        return ((u * s) @ np.swapaxes(v, -1, -2)).astype(dt)

    return make


def normal(*shape):
    def make(rng, dt):
        return rng.standard_normal(shape).astype(dt)

    return make


def args_of(*makers):
    return lambda rng, dt: tuple(m(rng, dt) for m in makers)


# --------------------------------------------------------------------------- references


def np_triangular_solve(a, b, left_side, lower, transpose_a, unit_diagonal):
    t = np.tril(a) if lower else np.triu(a)
    if unit_diagonal:
        t = t - np.diag(np.diag(t)) + np.eye(t.shape[-1])
    op = t.T if transpose_a else t
    return np.linalg.solve(op, b) if left_side else np.linalg.solve(op.T, b.T).T


def np_lu(a):
    """Doolittle LU with partial pivoting (textbook), returning JAX's three outputs."""
    a = np.array(a, np.float64)
    m, n = a.shape
    perm = np.arange(m)
    pivots = np.zeros(min(m, n), np.int32)
    for j in range(min(m, n)):
        p = j + int(np.argmax(np.abs(a[j:, j])))
        pivots[j] = p
        a[[j, p]] = a[[p, j]]
        perm[[j, p]] = perm[[p, j]]
        if a[j, j] != 0:
            a[j + 1 :, j] /= a[j, j]
            a[j + 1 :, j + 1 :] -= np.outer(a[j + 1 :, j], a[j, j + 1 :])
    return a, pivots, perm.astype(np.int32)


def np_qr_normalized(x, mode):
    q, r = np.linalg.qr(np.asarray(x, np.float64), mode=mode)
    d = np.sign(np.diagonal(r, axis1=-2, axis2=-1))
    return q[..., : d.shape[-1]] * d[..., None, :], r * d[..., :, None]


def dx_qr_normalized(q, r):
    # Unique for full-rank input: the sign of R's diagonal moved into Q's columns.
    k = min(r.shape[-2], r.shape[-1])
    d = dnp.sign(dla.diagonal(r))
    return q[..., :k] * d[..., None, :], r * d[..., :, None]


def np_eigh_invariant(x):
    w, v = np.linalg.eigh(np.asarray(x, np.float64))
    return w, np.abs(v)


def np_svd_invariant(x):
    u, s, vh = np.linalg.svd(np.asarray(x, np.float64), full_matrices=False)
    return np.abs(u), s, np.abs(vh)


def _batched(ref):
    """Apply a 2-D reference to every matrix of a batch."""

    def apply(*args):
        a0 = np.asarray(args[0])
        if a0.ndim <= 2:
            return ref(*args)
        outs = [ref(*(np.asarray(x)[i] for x in args)) for i in range(a0.shape[0])]
        if isinstance(outs[0], tuple):
            return tuple(np.stack(o) for o in zip(*outs, strict=True))
        return np.stack(outs)

    return apply


# --------------------------------------------------------------------------- the table


@dataclasses.dataclass(frozen=True)
class Row:
    """One row. ``args(rng, dtype)`` returns a tuple of NumPy arrays."""

    id: str
    fun: Callable
    ref: Callable
    args: Callable
    out: object = None  # None: the input dtype for every output leaf; or dtype -> dtypes
    grad: Callable | None = None  # the function whose derivatives are checked (None: fun)
    order: int = 2  # 0: no derivative check
    batch: bool = True
    grad_tol: float | None = None

    def out_dtype(self, dt):
        return dt if self.out is None else self.out(dt)


ROWS: list[Row] = []


def row(*args, **kw):
    ROWS.append(Row(*args, **kw))


# -- lax primitives
row("lax.cholesky", lax.cholesky, np.linalg.cholesky, args_of(spd()))
row("lax.cholesky_batch", lax.cholesky, np.linalg.cholesky, args_of(spd(3, (2,))), order=1)
row(
    "lax.cholesky_lower_only",
    lambda x: lax.cholesky(x, symmetrize_input=False),
    lambda x: np.linalg.cholesky(np.tril(x) + np.tril(x, -1).T),
    lambda rng, dt: (spd()(rng, dt) + np.triu(rng.standard_normal((3, 3)), 1).astype(dt),),
)
for _ls in (True, False):
    for _lo in (True, False):
        for _ta in (True, False):
            for _ud in (False, True):
                _kw = dict(left_side=_ls, lower=_lo, transpose_a=_ta, unit_diagonal=_ud)
                row(
                    "lax.triangular_solve-" + "".join(str(int(v)) for v in _kw.values()),
                    lambda a, b, kw=_kw: lax.triangular_solve(a, b, **kw),
                    lambda a, b, kw=_kw: np_triangular_solve(a, b, **kw),
                    args_of(general(3), normal(3, 2) if _ls else normal(2, 3)),
                    order=2 if (_ls, _lo, _ta, _ud) == (True, True, False, False) else 1,
                )
row(
    "lax.triangular_solve_batch",
    lambda a, b: lax.triangular_solve(a, b, left_side=True, lower=False),
    _batched(lambda a, b: np_triangular_solve(a, b, True, False, False, False)),
    args_of(general(3, (2,)), normal(2, 3, 4)),
    order=1,
)
_LU_OUT = lambda dt: (dt, I32, I32)  # noqa: E731
row("lax.lu", lax.lu, np_lu, args_of(normal(4, 4)), out=_LU_OUT, grad=lambda x: lax.lu(x)[0])
row("lax.lu_tall", lax.lu, np_lu, args_of(normal(5, 3)), out=_LU_OUT, grad=lambda x: lax.lu(x)[0])
row("lax.lu_wide", lax.lu, np_lu, args_of(normal(3, 5)), out=_LU_OUT, grad=lambda x: lax.lu(x)[0])
row("lax.lu_batch", lax.lu, _batched(np_lu), args_of(normal(2, 3, 3)), out=_LU_OUT, order=0)
row(
    "lax.qr",
    lambda x: dx_qr_normalized(*lax.qr(x)),
    lambda x: np_qr_normalized(x, "complete"),
    args_of(general(3)),
)
row(
    "lax.qr_tall_reduced",
    lambda x: dx_qr_normalized(*lax.qr(x, full_matrices=False)),
    lambda x: np_qr_normalized(x, "reduced"),
    args_of(distinct_sv(5, 3)),
)
row(
    "lax.qr_wide",
    lambda x: dx_qr_normalized(*lax.qr(x)),
    lambda x: np_qr_normalized(x, "complete"),
    args_of(distinct_sv(3, 5)),
)
row(
    "lax.qr_tall_complete",
    lambda x: (lambda q, r: (dnp.abs(q[:, :2]), dnp.abs(r)))(*lax.qr(x)),
    lambda x: tuple(np.abs(o[:, :2]) for o in np.linalg.qr(x, mode="complete")),
    args_of(distinct_sv(4, 2)),
    order=0,
)
row(
    "lax.svd",
    lambda x: (lambda u, s, vh: (dnp.abs(u), s, dnp.abs(vh)))(*lax.svd(x)),
    np_svd_invariant,
    args_of(distinct_sv(3, 3)),
)
row(
    "lax.svd_reconstruct",
    lambda x: (lambda u, s, vh: (u * s) @ vh)(*lax.svd(x)),
    lambda x: np.asarray(x, np.float64),
    args_of(distinct_sv(3, 3)),
)
row(
    "lax.svd_tall",
    lambda x: (lambda u, s, vh: (dnp.abs(u), s, dnp.abs(vh)))(*lax.svd(x, full_matrices=False)),
    np_svd_invariant,
    args_of(distinct_sv(5, 3)),
)
row(
    "lax.svd_wide",
    lambda x: (lambda u, s, vh: (dnp.abs(u), s, dnp.abs(vh)))(*lax.svd(x, full_matrices=False)),
    np_svd_invariant,
    args_of(distinct_sv(2, 4)),
)
row(
    "lax.svd_values",
    lambda x: lax.svd(x, compute_uv=False),
    lambda x: np.linalg.svd(x, compute_uv=False),
    args_of(distinct_sv(4, 3, (2,))),
)
row(
    "lax.svd_full_shapes",
    lambda x: tuple(dnp.abs(o) for o in lax.svd(x, full_matrices=True)),
    lambda x: tuple(np.abs(o) for o in np.linalg.svd(x, full_matrices=True)),
    args_of(distinct_sv(4, 2)),
    order=0,
)
row(
    "lax.eigh",
    lambda x: (lambda v, w: (w, dnp.abs(v)))(*lax.eigh(x)),
    np_eigh_invariant,
    args_of(spd(4)),
)
row(
    "lax.eigh_upper_only",
    lambda x: (lambda v, w: (w, dnp.abs(v)))(*lax.eigh(x, lower=False, symmetrize_input=False)),
    lambda x: np_eigh_invariant(np.triu(x) + np.triu(x, 1).T),
    lambda rng, dt: (spd(3)(rng, dt) + np.tril(rng.standard_normal((3, 3)), -1).astype(dt),),
)
row(
    "lax.eigh_batch",
    lambda x: lax.eigh(x)[1],
    lambda x: np.linalg.eigvalsh(x),
    args_of(spd(3, (2,))),
    order=1,
)

# -- derivax.numpy.linalg
row("cholesky", dla.cholesky, np.linalg.cholesky, args_of(spd()))
row(
    "cholesky_upper",
    lambda x: dla.cholesky(x, upper=True),
    lambda x: np.linalg.cholesky(x).T,
    args_of(spd()),
)
row("det", dla.det, np.linalg.det, args_of(general(3)))
row("det_batch", dla.det, np.linalg.det, args_of(general(4, (2,))), order=1)
row("det_negative", dla.det, np.linalg.det, args_of(normal(3, 3)))
row("slogdet", lambda x: tuple(dla.slogdet(x)), np.linalg.slogdet, args_of(normal(4, 4)))
row("slogdet_batch", lambda x: tuple(dla.slogdet(x)), np.linalg.slogdet, args_of(normal(2, 3, 3)))
row("inv", dla.inv, np.linalg.inv, args_of(general(3)))
row("inv_batch", dla.inv, np.linalg.inv, args_of(general(3, (2,))), order=1)
row("solve_vector", dla.solve, np.linalg.solve, args_of(general(3), normal(3)))
row("solve_matrix", dla.solve, np.linalg.solve, args_of(general(3), normal(3, 2)))
row(
    "solve_broadcast",
    dla.solve,
    np.linalg.solve,
    args_of(general(3, (2,)), normal(3, 2)),
    order=1,
)
row("pinv_square", dla.pinv, np.linalg.pinv, args_of(distinct_sv(3, 3)))
row("pinv_tall", dla.pinv, np.linalg.pinv, args_of(distinct_sv(4, 2)))
row("pinv_wide", dla.pinv, np.linalg.pinv, args_of(distinct_sv(2, 4)))
row(
    "pinv_repeated_singular_values",
    dla.pinv,
    np.linalg.pinv,
    lambda rng, dt: (np.linalg.qr(rng.standard_normal((3, 3)))[0].astype(dt) * 2,),
)
row(
    "qr_reduced",
    lambda x: dx_qr_normalized(*dla.qr(x)),
    lambda x: np_qr_normalized(x, "reduced"),
    args_of(distinct_sv(4, 3)),
)
row(
    "qr_r",
    lambda x: dla.qr(x, mode="r") * dnp.sign(dla.diagonal(dla.qr(x, mode="r")))[:, None],
    lambda x: np_qr_normalized(x, "reduced")[1],
    args_of(distinct_sv(4, 3)),
)
row(
    "svd",
    lambda x: (lambda r: (dnp.abs(r.U), r.S, dnp.abs(r.Vh)))(dla.svd(x, full_matrices=False)),
    np_svd_invariant,
    args_of(distinct_sv(3, 4)),
)
row("svdvals", dla.svdvals, lambda x: np.linalg.svd(x, compute_uv=False), args_of(normal(3, 5)))
row(
    "eigh",
    lambda x: (lambda r: (r.eigenvalues, dnp.abs(r.eigenvectors)))(dla.eigh(x)),
    np_eigh_invariant,
    args_of(spd(3)),
)
row("eigvalsh", dla.eigvalsh, np.linalg.eigvalsh, args_of(spd(3, (2,))))
for _ord in (None, 1, -1, 2, -2, np.inf, -np.inf, 0, 3, 0.5):
    row(
        f"norm_vector_ord={_ord}",
        lambda x, o=_ord: dla.norm(x, ord=o),
        lambda x, o=_ord: np.linalg.norm(x, ord=o),
        args_of(normal(5)),
        order=0 if _ord == 0 else 2,
    )
for _ord in (None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf):
    row(
        f"norm_matrix_ord={_ord}",
        lambda x, o=_ord: dla.norm(x, ord=o),
        lambda x, o=_ord: np.linalg.norm(x, ord=o),
        args_of(distinct_sv(3, 4)),
        order=2 if _ord in ("fro", None, "nuc", 2, -2) else 1,
    )
row(
    "norm_axis_keepdims",
    lambda x: dla.norm(x, ord=2, axis=1, keepdims=True),
    lambda x: np.linalg.norm(x, ord=2, axis=1, keepdims=True),
    args_of(normal(2, 3, 4)),
)
row(
    "norm_matrix_axes",
    lambda x: dla.norm(x, ord="fro", axis=(0, 2), keepdims=True),
    lambda x: np.linalg.norm(x, ord="fro", axis=(0, 2), keepdims=True),
    args_of(normal(2, 3, 4)),
)
row("norm_default_3d", dla.norm, np.linalg.norm, args_of(normal(2, 3, 4)))
row(
    "vector_norm",
    lambda x: dla.vector_norm(x, axis=(0, 1), ord=1),
    lambda x: np.sum(np.abs(x), axis=(0, 1)),
    args_of(normal(2, 3, 4)),
)
row(
    "matrix_norm",
    lambda x: dla.matrix_norm(x, ord="nuc", keepdims=True),
    lambda x: np.linalg.norm(x, ord="nuc", axis=(-2, -1), keepdims=True),
    args_of(distinct_sv(3, 4, (2,))),
)
row(
    "matrix_rank",
    dla.matrix_rank,
    lambda x: np.linalg.matrix_rank(x),
    lambda rng, dt: (normal(2, 3, 3)(rng, dt) @ np.diag([1.0, 1.0, 0.0]).astype(dt),),
    out=lambda dt: I32 if dt == F32 else np.dtype(np.int64),
    order=0,
)
for _n in (3, 1, 0, -2):
    row(
        f"matrix_power_{_n}",
        lambda x, n=_n: dla.matrix_power(x, n),
        lambda x, n=_n: np.linalg.matrix_power(x, n),
        args_of(general(3)),
    )
row("trace", dla.trace, lambda x: np.trace(x, axis1=-2, axis2=-1), args_of(normal(2, 3, 4)))
for _k in (-1, 0, 2, 5):
    row(
        f"diagonal_offset={_k}",
        lambda x, k=_k: dla.diagonal(x, offset=k),
        lambda x, k=_k: np.diagonal(x, offset=k, axis1=-2, axis2=-1),
        args_of(normal(2, 3, 4)),
    )
row("cross", dla.cross, np.cross, args_of(normal(2, 3), normal(3)))
row(
    "cross_axis0",
    lambda a, b: dla.cross(a, b, axis=0),
    lambda a, b: np.cross(a, b, axis=0),
    args_of(normal(3, 2), normal(3, 2)),
)
row("vecdot", dla.vecdot, lambda a, b: np.sum(a * b, axis=-1), args_of(normal(2, 3), normal(3)))
row("outer", dla.outer, np.outer, args_of(normal(3), normal(2)))
row("matmul", dla.matmul, np.matmul, args_of(normal(2, 3), normal(3, 2)))
row(
    "tensordot",
    lambda a, b: dla.tensordot(a, b, axes=1),
    lambda a, b: np.tensordot(a, b, axes=1),
    args_of(normal(2, 3), normal(3, 2)),
)
row(
    "matrix_transpose",
    dla.matrix_transpose,
    lambda x: np.swapaxes(x, -1, -2),
    args_of(normal(2, 3, 4)),
)
row(
    "multi_dot",
    lambda a, b, c, d: dla.multi_dot([a, b, c, d]),
    lambda a, b, c, d: np.linalg.multi_dot([a, b, c, d]),
    args_of(normal(3), normal(3, 5), normal(5, 2), normal(2, 4)),
)
row(
    "lstsq_tall",
    lambda a, b: dla.lstsq(a, b),
    lambda a, b: np.linalg.lstsq(a, b),
    args_of(distinct_sv(5, 3), normal(5, 2)),
    out=lambda dt: (dt, dt, I32 if dt == F32 else np.dtype(np.int64), dt),
    grad=lambda a, b: dla.lstsq(a, b)[0],
    batch=False,
)
row(
    "lstsq_vector",
    lambda a, b: dla.lstsq(a, b)[0],
    lambda a, b: np.linalg.lstsq(a, b)[0],
    args_of(distinct_sv(4, 2), normal(4)),
)
row(
    "tensorinv",
    lambda a: dla.tensorinv(a, ind=1),
    lambda a: np.linalg.tensorinv(a, ind=1),
    lambda rng, dt: (general(4)(rng, dt).reshape(4, 2, 2),),
)
row(
    "tensorsolve",
    dla.tensorsolve,
    np.linalg.tensorsolve,
    lambda rng, dt: (general(4)(rng, dt).reshape(2, 2, 4), normal(2, 2)(rng, dt)),
)


# --------------------------------------------------------------------------- expansion


def _rng(r, dt, salt=""):
    return np.random.default_rng(zlib.crc32(f"{r.id}/{dt.name}/{salt}".encode()))


CASES = [pytest.param(r, dt, id=f"{r.id}-{dt.name}") for r in ROWS for dt in (F32, F64)]


@pytest.mark.parametrize("r,dt", CASES)
def test_against_numpy(r, dt):
    out_dt = r.out_dtype(dt)
    with x64_context(dt):
        args = r.args(_rng(r, dt), dt)
        ref_args = tuple(np.asarray(a, np.float64) for a in args)
        check_against_numpy(
            r.fun, lambda *_: r.ref(*ref_args), args, dtype=out_dt, rtol=TOL[dt], atol=TOL[dt]
        )


@pytest.mark.parametrize("r,dt", CASES)
def test_jit(r, dt):
    with x64_context(dt):
        check_jit(r.fun, r.args(_rng(r, dt), dt), atol=TOL[dt], rtol=TOL[dt])


@pytest.mark.parametrize("r", [pytest.param(r, id=r.id) for r in ROWS if r.batch])
def test_vmap(r):
    rng = _rng(r, F32, "vmap")
    examples = [r.args(rng, F32) for _ in range(3)]
    args = [np.stack([ex[k] for ex in examples]) for k in range(len(examples[0]))]
    check_batching(r.fun, args, atol=TOL[F32], rtol=TOL[F32])
    if len(args) > 1:  # the first operand alone mapped, the others shared
        shared = [args[0]] + [ex for ex in examples[0][1:]]
        check_batching(r.fun, shared, in_axes=(0,) + (None,) * (len(args) - 1), empty=False,
                       atol=TOL[F32], rtol=TOL[F32])  # fmt: skip


@pytest.mark.parametrize("r", [pytest.param(r, id=r.id) for r in ROWS if r.order])
def test_grads(r):
    args = r.args(_rng(r, F64, "grad"), F64)
    check_grads(r.grad or r.fun, args, order=r.order, atol=r.grad_tol, rtol=r.grad_tol)


# --------------------------------------------------------------------------- behaviour


def test_integer_inputs_are_promoted_like_jax():
    a = np.array([[2, 1], [1, 3]], np.int32)
    assert dla.det(a).dtype == F32
    assert dla.inv(a).dtype == F32
    np.testing.assert_allclose(np.asarray(dla.det(a)), 5.0, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(dla.solve(a, np.array([3, 4]))), [1.0, 1.0], rtol=1e-6)


def test_singular_matrices_give_inf_or_nan_without_raising():
    s = np.array([[1.0, 2.0], [2.0, 4.0]], np.float32)
    assert float(dla.det(s)) == 0.0
    sign, logabsdet = dla.slogdet(s)
    assert float(sign) == 0.0 and float(logabsdet) == -np.inf
    assert not np.all(np.isfinite(np.asarray(dla.inv(s))))
    assert not np.all(np.isfinite(np.asarray(dla.solve(s, np.ones(2, np.float32)))))
    lu, pivots, perm = lax.lu(np.zeros((2, 2), np.float32))
    np.testing.assert_array_equal(np.asarray(lu), np.zeros((2, 2)))
    np.testing.assert_array_equal(np.asarray(perm), [0, 1])
    # Not positive definite: nan in the lower triangle, in a batch with a good matrix.
    batch = np.stack([np.eye(2), [[1.0, 2.0], [2.0, 1.0]]]).astype(np.float32)
    chol = np.asarray(lax.cholesky(batch))
    np.testing.assert_array_equal(chol[0], np.eye(2))
    assert np.isnan(chol[1][np.tril_indices(2)]).all() and chol[1][0, 1] == 0
    # A triangular solve with a zero on the diagonal.
    x = lax.triangular_solve(np.array([[0.0, 0.0], [1.0, 1.0]], np.float32),
                             np.ones((2, 1), np.float32), left_side=True, lower=True)  # fmt: skip
    assert not np.all(np.isfinite(np.asarray(x)))
    # Non-finite input to svd/eigh: nan outputs.
    bad = np.array([[np.nan, 0.0], [0.0, 1.0]], np.float32)
    assert np.isnan(np.asarray(dla.svdvals(bad))).all()
    assert np.isnan(np.asarray(dla.eigvalsh(bad))).any()


def test_det_of_a_batch_under_jit_and_vmap():
    a = general(3, (4,))(np.random.default_rng(0), F32)
    expected = np.linalg.det(a.astype(np.float64))
    np.testing.assert_allclose(np.asarray(dx.jit(dx.vmap(dla.det))(a)), expected, rtol=1e-4)
    grads = dx.vmap(dx.grad(dla.det))(a)
    inv_t = np.swapaxes(np.linalg.inv(a.astype(np.float64)), -1, -2)
    np.testing.assert_allclose(np.asarray(grads), expected[:, None, None] * inv_t, rtol=1e-3)


def test_triangular_solve_with_unbatched_matrix_under_vmap():
    rng = np.random.default_rng(1)
    a, b = general(3)(rng, F32), normal(5, 3, 2)(rng, F32)
    f = lambda a, b: lax.triangular_solve(a, b, left_side=True, lower=True)  # noqa: E731
    check_batching(f, [a, b], in_axes=(None, 0), atol=1e-4, rtol=1e-4)


def test_named_results():
    x = spd(3)(np.random.default_rng(2), F32)
    assert isinstance(dla.eigh(x), dla.EighResult)
    assert isinstance(dla.qr(x), dla.QRResult)
    assert isinstance(dla.svd(x), dla.SVDResult)
    assert isinstance(dla.slogdet(x), dla.SlogdetResult)
    out = dx.jit(lambda x: dla.svd(x))(x)
    assert isinstance(out, dla.SVDResult) and out.S.shape == (3,)


def test_lstsq_residuals_always_have_shape_k():
    rng = np.random.default_rng(3)
    a, b = normal(2, 4)(rng, F32), normal(2, 3)(rng, F32)
    x, resid, rank, s = dla.lstsq(a, b)
    assert x.shape == (4, 3) and resid.shape == (3,) and int(rank) == 2 and s.shape == (2,)
    np.testing.assert_allclose(np.asarray(resid), 0.0, atol=1e-4)


def test_tall_complete_qr_has_no_derivative():
    with pytest.raises(NotImplementedError, match="full_matrices=False"):
        dx.grad(lambda x: dnp.sum(lax.qr(x)[1]))(np.ones((3, 2), np.float32))


def test_full_svd_of_non_square_has_no_derivative():
    with pytest.raises(NotImplementedError, match="full_matrices=False"):
        dx.grad(lambda x: dnp.sum(lax.svd(x)[1]))(np.eye(3, 2, dtype=np.float32))


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "f,arg,match",
    [
        (dla.det, np.ones((2, 3), np.float32), r"det: a must be square.*\(2, 3\)"),
        (dla.inv, np.ones(3, np.float32), r"inv: a must be a matrix.*\(3,\)"),
        (dla.cholesky, np.ones((3, 2), np.float32), "cholesky: x must be square"),
        (dla.eigh, np.ones((2, 3), np.float32), "eigh: a must be square"),
        (dla.svd, np.ones(3, np.float32), "svd: x must be a matrix"),
        (lax.cholesky, np.ones((2, 3), np.float32), "must be square"),
        (lax.lu, np.ones(3, np.float32), r"lu: x must be a matrix.*rank >= 2"),
        (lambda x: dla.qr(x, mode="raw"), np.eye(2), "mode must be"),
        (lambda x: dla.norm(x, ord="fro"), np.ones(3, np.float32), "matrix norm"),
        (lambda x: dla.norm(x, ord=3), np.ones((2, 2), np.float32), "invalid ord=3"),
        (lambda x: dla.matrix_power(x, 1.5), np.eye(2), "n must be an int"),
        (lambda x: dla.outer(x, x), np.ones((2, 2)), "must be vectors"),
        (lambda x: dla.cross(x, x), np.ones(2), "size 3"),
    ],
)
def test_bad_shapes_raise_clear_errors(f, arg, match):
    with pytest.raises((ValueError, TypeError), match=match):
        f(arg)


@pytest.mark.parametrize("dtype", [np.float16, "bfloat16"])
def test_half_precision_is_an_error_naming_the_dtype_and_fix(dtype):
    x = dnp.asarray(np.eye(2, dtype=np.float32)).astype(dtype)
    name = np.dtype(x.dtype).name
    with pytest.raises(TypeError, match=rf"{name}.*float32 or float64.*astype"):
        dla.inv(x)
    with pytest.raises(TypeError, match=rf"cholesky: x has dtype {name}"):
        lax.cholesky(x)


def test_lax_does_not_promote_integers():
    with pytest.raises(TypeError, match=r"qr: x has dtype int32.*derivax.numpy.linalg"):
        lax.qr(np.eye(2, dtype=np.int32))
    with dx.config.context(enable_x64=True), pytest.raises(TypeError, match="same dtype"):
        lax.triangular_solve(np.eye(2, dtype=np.float32), np.ones((2, 2)), left_side=True)


def test_triangular_solve_shape_errors():
    a = np.eye(3, dtype=np.float32)
    with pytest.raises(ValueError, match=r"b.shape\[-2\] == 3"):
        lax.triangular_solve(a, np.ones((2, 4), np.float32), left_side=True)
    with pytest.raises(ValueError, match="same leading"):
        lax.triangular_solve(a, np.ones((2, 3, 3), np.float32), left_side=True)


def test_solve_shape_errors_suggest_the_fix():
    with pytest.raises(ValueError, match=r"b\[\.\.\., None\]"):
        dla.solve(np.eye(2)[None].repeat(3, 0), np.ones((3, 2)))


# --------------------------------------------------------------------------- JAX oracle


def _oracle_inputs():
    rng = np.random.default_rng(7)
    return {
        "general": general(3)(rng, F64),
        "spd": spd(3)(rng, F64),
        "sv": distinct_sv(4, 3)(rng, F64),
        "rhs": normal(3, 2)(rng, F64),
    }


def _oracle_cases(m):
    """(name, function of a NumPy-like linalg namespace ``la`` and ``np``, input name)."""
    la = m.linalg
    return [
        ("det", lambda x: la.det(x), "general"),
        ("slogdet", lambda x: la.slogdet(x)[1] + la.slogdet(x)[0], "general"),
        ("inv", lambda x: la.inv(x), "general"),
        ("cholesky", lambda x: la.cholesky(x), "spd"),
        ("eigh", lambda x: (la.eigh(x)[0], m.abs(la.eigh(x)[1])), "spd"),
        ("svd", lambda x: (m.abs(la.svd(x, full_matrices=False)[0]), la.svdvals(x)), "sv"),
        ("svd_vh", lambda x: m.abs(la.svd(x, full_matrices=False)[2]), "sv"),
        ("qr", lambda x: m.abs(la.qr(x)[1]), "sv"),
        ("pinv", lambda x: la.pinv(x), "sv"),
        ("norm_fro", lambda x: la.norm(x), "sv"),
        ("norm_nuc", lambda x: la.norm(x, ord="nuc"), "sv"),
        ("norm_2", lambda x: la.norm(x, ord=2), "sv"),
        ("norm_1", lambda x: la.norm(x, ord=1), "sv"),
        ("vector_norm_3", lambda x: la.vector_norm(x, ord=3), "sv"),
    ]


_ORACLE_NAMES = [c[0] for c in _oracle_cases(np)]


@pytest.mark.oracle
@pytest.mark.parametrize("name", _ORACLE_NAMES + ["solve"])
def test_values_and_gradients_match_jax(name):
    jax = pytest.importorskip("jax", reason="JAX not installed: oracle tests skipped")
    jax.config.update("jax_platforms", "cpu")
    jnp = jax.numpy
    inputs = _oracle_inputs()

    def pick(m):
        if name == "solve":
            return lambda a, b: m.linalg.solve(a, b), ("general", "rhs")
        (case,) = [c for c in _oracle_cases(m) if c[0] == name]
        return case[1], (case[2],)

    f_dx, keys = pick(dnp)
    f_jax, _ = pick(jnp)
    args = [inputs[k] for k in keys]

    def scalar(f):
        # A fixed weighting of every output: gradients of all outputs are compared at once.
        def loss(*xs):
            outs = f(*xs)
            outs = outs if isinstance(outs, tuple) else (outs,)
            total = 0.0
            for i, o in enumerate(outs):
                w = np.cos(np.arange(np.size(o)).reshape(np.shape(o)) + i)
                total = total + (o * w).sum()
            return total

        return loss

    jax.config.update("jax_enable_x64", True)
    try:
        want = jax.tree_util.tree_map(np.asarray, f_jax(*args))
        want_grads = [np.asarray(g) for g in jax.grad(scalar(f_jax), argnums=tuple(range(len(args))))(*args)]  # fmt: skip
    finally:
        jax.config.update("jax_enable_x64", False)
    with dx.config.context(enable_x64=True):
        got = f_dx(*args)
        got_grads = dx.grad(scalar(f_dx), argnums=tuple(range(len(args))))(*args)
        got = dx.tree.map(np.asarray, got)
        got_grads = [np.asarray(g) for g in got_grads]
    for g, w in zip(dx.tree.leaves(got), jax.tree_util.tree_leaves(want), strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-9, err_msg=f"{name} value")
    for g, w in zip(got_grads, want_grads, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-7, atol=1e-9, err_msg=f"{name} gradient")


@pytest.mark.parametrize(
    "name,f,make",
    [
        ("det", dla.det, general(3)),
        ("solve", lambda a: dnp.sum(dla.solve(a, dnp.ones(3)) ** 2), general(3)),
        ("cholesky", lambda a: dnp.sum(dla.cholesky(a) ** 2), spd(3)),
        ("eigh", lambda a: dnp.sum(dnp.abs(dla.eigh(a).eigenvectors[:, 0])), spd(3)),
        ("svd", lambda a: dnp.sum(dla.svdvals(a) ** 3), distinct_sv(4, 3)),
        ("pinv", lambda a: dnp.sum(dla.pinv(a) ** 2), distinct_sv(4, 3)),
    ],
)
def test_grad_under_jit_and_vmap_matches_eager(name, f, make):
    a = make(np.random.default_rng(4), F64)
    with dx.config.context(enable_x64=True):
        eager = np.asarray(dx.grad(f)(a))
        np.testing.assert_allclose(np.asarray(dx.jit(dx.grad(f))(a)), eager, rtol=1e-10)
        np.testing.assert_allclose(np.asarray(dx.grad(dx.jit(f))(a)), eager, rtol=1e-10)
        batched = dx.vmap(dx.grad(f))(np.stack([a, a]))
        np.testing.assert_allclose(np.asarray(batched), np.stack([eager, eager]), rtol=1e-10)
