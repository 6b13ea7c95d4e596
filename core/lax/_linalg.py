"""Linear-algebra primitives: cholesky, triangular_solve, lu, qr, svd, eigh.

Each primitive works on the last two dimensions of its operands and treats every leading
dimension as a batch dimension, so its batching rule only moves the mapped dimension to the
front. The impls call NumPy's LAPACK wrappers (``numpy.linalg``); the LU factorization and
the fallback triangular solve are written here because NumPy exposes neither.

The jvp rules are the standard matrix-calculus results, written with primitives only, so
reverse mode (linearize + transpose) and higher orders follow. ``triangular_solve`` is
linear in its right-hand side and has a transpose rule; the others are not linear.

Inputs must be float32 or float64 matrices: these functions do not promote (use
``derivax.numpy.linalg`` for NumPy's promotion of integers to float). Half precision and
complex inputs raise an error naming the dtype and the fix.

Singular or non-positive-definite inputs never raise: as in JAX, the results hold ``inf``
or ``nan`` (a failed Cholesky factorization is ``nan`` in its lower triangle).
"""

from __future__ import annotations

import numpy as np

from .._ad_util import Zero, is_undefined
from .._core import Primitive, ShapedArray
from . import _elementwise as E
from . import _structural as S
from ._util import aval_of, val, wrap

__all__ = ["cholesky", "eigh", "lu", "qr", "svd", "triangular_solve"]

_OK_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

# --------------------------------------------------------------------------- checks


def _check_dtype(name, aval, argname):
    dt = aval.dtype
    if dt in _OK_DTYPES:
        return
    if dt.name in ("float16", "bfloat16"):
        fix = (
            "LAPACK has no half-precision kernels: convert first, e.g. "
            f"{argname}.astype(derivax.numpy.float32), and back afterwards if needed"
        )
    elif dt.kind == "c":
        fix = "complex matrices are not supported yet; split real and imaginary parts"
    else:
        fix = (
            f"convert first, e.g. {argname}.astype(derivax.numpy.float32); "
            "derivax.numpy.linalg promotes integers to float for you"
        )
    raise TypeError(
        f"{name}: {argname} has dtype {dt.name} ({aval.str_short()}), but linear algebra "
        f"needs float32 or float64: {fix}."
    )


def _check_matrix(name, aval, argname="x", square=False):
    _check_dtype(name, aval, argname)
    if aval.ndim < 2:
        raise ValueError(
            f"{name}: {argname} must be a matrix or a stack of matrices (rank >= 2), got "
            f"shape {aval.shape}. Reshape a vector into a matrix first, e.g. x[None, :]."
        )
    if square and aval.shape[-1] != aval.shape[-2]:
        raise ValueError(
            f"{name}: {argname} must be square in its last two dimensions, got shape {aval.shape}."
        )


# --------------------------------------------------------------------------- helpers


def _batch_front(prim):
    """Batching rule for primitives whose operands may carry any leading batch dims."""

    def batch(vals, dims, **params):
        size = next(aval_of(v).shape[d] for v, d in zip(vals, dims, strict=True) if d is not None)
        moved = [S.bdim_to_front(v, d, size) for v, d in zip(vals, dims, strict=True)]
        out = prim.bind(*moved, **params)
        if prim.multiple_results:
            return out, [0] * len(out)
        return out, 0

    return batch


def _mT(x):
    """Swap the last two dimensions."""
    nd = aval_of(x).ndim
    return S.transpose(x, (*range(nd - 2), nd - 1, nd - 2))


def _mm(a, b):
    """Batched matrix product of operands with equal leading (batch) dimensions."""
    nd = aval_of(a).ndim
    batch = tuple(range(nd - 2))
    return S.dot_general(a, b, (((nd - 1,), (nd - 2,)), (batch, batch)))


def _const_like(x, value):
    """A NumPy constant broadcast to the shape and dtype of ``x``."""
    a = aval_of(x)
    value = np.asarray(value, a.dtype)
    c = wrap(value)
    return S.broadcast_in_dim(c, a.shape, tuple(range(a.ndim - value.ndim, a.ndim)))


def _tri_mask(shape, k, lower, diag_value=None, dtype=np.float64):
    m, n = shape
    mask = np.tril(np.ones((m, n)), k) if lower else np.triu(np.ones((m, n)), k)
    if diag_value is not None:
        idx = np.arange(min(m, n))
        mask[idx, idx] = diag_value
    return mask.astype(dtype)


def _tril(x, k=0):
    a = aval_of(x)
    return E.mul(x, _const_like(x, _tri_mask(a.shape[-2:], k, True, dtype=a.dtype)))


def _triu(x, k=0):
    a = aval_of(x)
    return E.mul(x, _const_like(x, _tri_mask(a.shape[-2:], k, False, dtype=a.dtype)))


def _eye_like(x):
    """The identity matrix broadcast to the shape and dtype of the square ``x``."""
    a = aval_of(x)
    return _const_like(x, np.eye(a.shape[-2], a.shape[-1], dtype=a.dtype))


def _diag_part(x):
    """``x[..., i, i]`` for a square ``x`` (a strided slice of the flattened matrix)."""
    a = aval_of(x)
    n = a.shape[-1]
    batch = a.shape[:-2]
    flat = S.reshape(x, (*batch, n * n))
    nb = len(batch)
    return S.slice(flat, (0,) * (nb + 1), (*batch, n * n), (1,) * nb + (n + 1,))


def _reflect_triangle(t, lower):
    """The symmetric matrix that the triangle ``t`` stands for (what LAPACK reads)."""
    half = _tril(t) if lower else _triu(t)
    strict = _tril(t, -1) if lower else _triu(t, 1)
    return E.add(half, _mT(strict))


# --------------------------------------------------------------------------- cholesky


def _cholesky_impl(x):
    v = val(x)
    with np.errstate(all="ignore"):
        try:
            out = np.linalg.cholesky(v)
        except np.linalg.LinAlgError:
            # One matrix of the batch is not positive definite: factor each matrix alone and
            # mark the failures with nan in the lower triangle, as JAX does.
            flat = v.reshape(-1, *v.shape[-2:])
            out = np.empty_like(flat)
            bad = np.tril(np.full(v.shape[-2:], np.nan, v.dtype))
            for i, m in enumerate(flat):
                try:
                    out[i] = np.linalg.cholesky(m)
                except np.linalg.LinAlgError:
                    out[i] = bad
            out = out.reshape(v.shape)
    return wrap(out.astype(v.dtype, copy=False))


def _cholesky_abstract_eval(x):
    _check_matrix("cholesky", x, square=True)
    return ShapedArray(x.shape, x.dtype)


def _cholesky_jvp(primals, tangents):
    # L' = L Phi(L^-1 A' L^-T), Phi taking the lower triangle with the diagonal halved.
    (x,), (t,) = primals, tangents
    chol = cholesky_p.bind(x)
    if type(t) is Zero:
        return chol, Zero.like(chol)
    t = _reflect_triangle(t, lower=True)  # the impl reads the lower triangle only
    tmp = triangular_solve(chol, t, left_side=True, lower=True)
    inner = triangular_solve(chol, tmp, left_side=False, lower=True, transpose_a=True)
    a = aval_of(x)
    phi = _const_like(inner, _tri_mask(a.shape[-2:], 0, True, 0.5, a.dtype))
    return chol, _mm(chol, E.mul(inner, phi))


cholesky_p = Primitive("cholesky")
cholesky_p.impl = _cholesky_impl
cholesky_p.abstract_eval = _cholesky_abstract_eval
cholesky_p.jvp = _cholesky_jvp
cholesky_p.batch = _batch_front(cholesky_p)


def cholesky(x, *, symmetrize_input=True):
    """Cholesky factor ``L`` (lower triangular, ``x = L @ L.T``) of positive-definite matrices.

    Args:
        x: float32/float64 array of shape ``(..., n, n)``; leading dimensions are batch
            dimensions.
        symmetrize_input: use ``(x + x.T) / 2``, so the result and its derivative do not
            depend on which triangle holds the data. With False only the lower triangle is
            read.

    Returns:
        The lower-triangular factor, shape ``(..., n, n)``. A matrix that is not positive
        definite gives ``nan`` in the lower triangle (no error, as in JAX).

    Raises:
        TypeError: ``x`` is not float32/float64.
        ValueError: ``x`` is not a (stack of) square matrices.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> lax.cholesky(dnp.array([[4.0, 2.0], [2.0, 5.0]]))
        Array([[2., 0.],
               [1., 2.]], dtype=float32)
    """
    _check_matrix("cholesky", aval_of(x), square=True)
    if symmetrize_input:
        x = _symmetrize(x)
    return cholesky_p.bind(x)


def _symmetrize(x):
    a = aval_of(x)
    _check_matrix("symmetrize_input", a, square=True)
    return E.mul(E.add(x, _mT(x)), S.full(a.shape, 0.5, a.dtype))


# --------------------------------------------------------------------------- triangular_solve


def _substitute(t, rhs, lower):
    """Solve ``t @ x = rhs`` by substitution (used when LAPACK reports a zero pivot)."""
    m = t.shape[-1]
    x = np.zeros(np.broadcast_shapes(t.shape[:-2], rhs.shape[:-2]) + rhs.shape[-2:], rhs.dtype)
    order = range(m) if lower else range(m - 1, -1, -1)
    for i in order:
        known = slice(0, i) if lower else slice(i + 1, m)
        s = rhs[..., i, :] - (t[..., i : i + 1, known] @ x[..., known, :])[..., 0, :]
        x[..., i, :] = s / t[..., i, i][..., None]
    return x


def _triangular_solve_impl(a, b, *, left_side, lower, transpose_a, conjugate_a, unit_diagonal):
    av, bv = val(a), val(b)
    t = np.tril(av) if lower else np.triu(av)
    if unit_diagonal:
        idx = np.arange(t.shape[-1])
        t[..., idx, idx] = 1
    low = lower
    if transpose_a:
        t, low = np.swapaxes(t, -1, -2), not low
    if conjugate_a:
        t = np.conj(t)
    rhs = bv
    if not left_side:  # x @ t = b  <=>  t.T @ x.T = b.T
        t, low, rhs = np.swapaxes(t, -1, -2), not low, np.swapaxes(bv, -1, -2)
    with np.errstate(all="ignore"):
        try:
            x = np.linalg.solve(t, rhs)
        except np.linalg.LinAlgError:
            x = _substitute(t, rhs, low)
    if not left_side:
        x = np.swapaxes(x, -1, -2)
    return wrap(np.ascontiguousarray(x).astype(bv.dtype, copy=False))


def _triangular_solve_abstract_eval(a, b, **params):
    _check_matrix("triangular_solve", a, "a", square=True)
    _check_matrix("triangular_solve", b, "b")
    if a.dtype != b.dtype:
        raise TypeError(
            f"triangular_solve: a and b must have the same dtype, got {a.str_short()} and "
            f"{b.str_short()}. Convert one with .astype(...)."
        )
    m = a.shape[-1]
    k = b.shape[-2] if params["left_side"] else b.shape[-1]
    if a.shape[:-2] != b.shape[:-2] or k != m:
        side = "b.shape[-2]" if params["left_side"] else "b.shape[-1]"
        raise ValueError(
            f"triangular_solve: a has shape {a.shape} and b has shape {b.shape}; they need the "
            f"same leading (batch) dimensions and {side} == {m} (left_side="
            f"{params['left_side']}). Broadcast the batch dimensions explicitly."
        )
    return ShapedArray(b.shape, b.dtype)


def _triangular_solve_jvp(primals, tangents, **params):
    a, b = primals
    ta, tb = tangents
    x = triangular_solve_p.bind(a, b, **params)
    out = Zero.like(x)
    if type(tb) is not Zero:
        out = triangular_solve_p.bind(a, tb, **params)
    if type(ta) is not Zero:
        # op(a) x = b  =>  op(a) dx = -op(da) x   (only the triangle that is read counts).
        lower, unit = params["lower"], params["unit_diagonal"]
        k = (-1 if lower else 1) if unit else 0
        da = _tril(ta, k) if lower else _triu(ta, k)
        if params["transpose_a"]:
            da = _mT(da)
        rhs = _mm(da, x) if params["left_side"] else _mm(x, da)
        dx = E.neg(triangular_solve_p.bind(a, rhs, **params))
        out = dx if type(out) is Zero else E.add(out, dx)
    return x, out


def _triangular_solve_transpose(ct, a, b, **params):
    if is_undefined(a):
        raise ValueError("triangular_solve is linear in b only, not in the matrix a.")
    if type(ct) is Zero:
        return [None, Zero(b.aval)]
    # x = op(a)^-1 b  =>  ct_b = op(a)^-T ct   (mirrored for right-side solves).
    p = dict(params, transpose_a=not params["transpose_a"])
    return [None, triangular_solve_p.bind(a, ct, **p)]


triangular_solve_p = Primitive("triangular_solve")
triangular_solve_p.impl = _triangular_solve_impl
triangular_solve_p.abstract_eval = _triangular_solve_abstract_eval
triangular_solve_p.jvp = _triangular_solve_jvp
triangular_solve_p.transpose = _triangular_solve_transpose
triangular_solve_p.batch = _batch_front(triangular_solve_p)
triangular_solve_p.linear = True


def triangular_solve(
    a,
    b,
    *,
    left_side=False,
    lower=False,
    transpose_a=False,
    conjugate_a=False,
    unit_diagonal=False,
):
    """Solve a triangular system: ``op(a) @ x = b`` (``left_side``) or ``x @ op(a) = b``.

    ``op(a)`` is ``a``, or its transpose with ``transpose_a``. Only the triangle named by
    ``lower`` is read; with ``unit_diagonal`` the diagonal is taken to be ones.

    Args:
        a: float32/float64 array ``(..., m, m)``.
        b: array of ``a``'s dtype, ``(..., m, n)`` if ``left_side`` else ``(..., n, m)``,
            with the same leading (batch) dimensions as ``a``.
        left_side: solve ``op(a) @ x = b`` instead of ``x @ op(a) = b``.
        lower: read the lower triangle of ``a`` (else the upper one).
        transpose_a: use ``a.T``.
        conjugate_a: use the complex conjugate (no effect on real inputs).
        unit_diagonal: assume ones on the diagonal of ``a``.

    Returns:
        ``x``, with ``b``'s shape. A zero on the diagonal gives ``inf``/``nan`` (no error).

    Raises:
        TypeError: a dtype other than float32/float64, or ``a`` and ``b`` differ in dtype.
        ValueError: shapes that do not fit together.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> a = dnp.array([[2.0, 0.0], [1.0, 4.0]])
        >>> lax.triangular_solve(a, dnp.array([[2.0], [9.0]]), left_side=True, lower=True)
        Array([[1.],
               [2.]], dtype=float32)
    """
    params = dict(
        left_side=bool(left_side),
        lower=bool(lower),
        transpose_a=bool(transpose_a),
        conjugate_a=bool(conjugate_a),
        unit_diagonal=bool(unit_diagonal),
    )
    _triangular_solve_abstract_eval(aval_of(a), aval_of(b), **params)  # errors, also eagerly
    return triangular_solve_p.bind(a, b, **params)


# --------------------------------------------------------------------------- lu


def _lu_numpy(v):
    """Partial-pivoting LU of ``(..., m, n)`` matrices: LAPACK getrf's algorithm.

    A zero pivot column is left unscaled (as getrf does), so singular matrices give a
    finite factorization with zeros on the diagonal of U.
    """
    m, n = v.shape[-2:]
    k = min(m, n)
    a = v.reshape(-1, m, n).copy()
    nb = a.shape[0]
    rows = np.arange(nb)
    perm = np.tile(np.arange(m, dtype=np.int32), (nb, 1))
    pivots = np.zeros((nb, k), np.int32)
    with np.errstate(all="ignore"):
        for j in range(k):
            p = j + np.argmax(np.abs(a[:, j:, j]), axis=1)
            pivots[:, j] = p
            row_j, row_p = a[rows, j, :].copy(), a[rows, p, :].copy()
            a[rows, j, :], a[rows, p, :] = row_p, row_j
            perm_j, perm_p = perm[rows, j].copy(), perm[rows, p].copy()
            perm[rows, j], perm[rows, p] = perm_p, perm_j
            piv = a[:, j, j]
            zero = piv == 0
            col = a[:, j + 1 :, j] / np.where(zero, 1, piv)[:, None]
            a[:, j + 1 :, j] = col
            a[:, j + 1 :, j + 1 :] -= col[:, :, None] * a[:, j, None, j + 1 :]
    batch = v.shape[:-2]
    return a.reshape(v.shape), pivots.reshape(*batch, k), perm.reshape(*batch, m)


def _lu_impl(x):
    v = val(x)
    lu_, pivots, perm = _lu_numpy(v)
    return [wrap(lu_.astype(v.dtype, copy=False)), wrap(pivots), wrap(perm)]


def _lu_abstract_eval(x):
    _check_matrix("lu", x)
    m, n = x.shape[-2:]
    batch = x.shape[:-2]
    return [
        ShapedArray(x.shape, x.dtype),
        ShapedArray((*batch, min(m, n)), np.int32),
        ShapedArray((*batch, m), np.int32),
    ]


def _permutation_matrix(perm, m, dtype):
    """``P`` with ``P[..., i, j] = (perm[..., i] == j)``, so ``P @ a == a[..., perm, :]``."""
    shape = (*aval_of(perm).shape, m)
    nd = len(shape)
    rows = S.broadcast_in_dim(perm, shape, tuple(range(nd - 1)))
    cols = S.broadcast_in_dim(S.iota(np.int32, (m,)), shape, (nd - 1,))
    return E.convert_element_type(E.eq(rows, cols), dtype)


def _lu_jvp(primals, tangents):
    # With P A = L U (L: m x m unit lower, U: n x n upper, padded with the identity when
    # A is not square) and X = L^-1 P A' U^-1:  L' = L tril(X, -1),  U' = triu(X) U.
    (x,), (t,) = primals, tangents
    lu_, pivots, perm = lu_p.bind(x)
    outs = [lu_, pivots, perm]
    zeros = [Zero.like(pivots), Zero.like(perm)]
    if type(t) is Zero:
        return outs, [Zero.like(lu_), *zeros]
    a = aval_of(x)
    m, n = a.shape[-2:]
    k = min(m, n)
    batch = a.shape[:-2]
    nb = len(batch)
    zero = S.full((), 0, a.dtype)
    keep = [(0, 0, 0)] * nb
    l_part = S.slice(lu_, (0,) * (nb + 2), (*batch, m, k))
    lower = S.pad(_tril(l_part, -1), zero, [*keep, (0, 0, 0), (0, m - k, 0)])
    lower = E.add(lower, _eye_like(lower))
    u_part = S.slice(lu_, (0,) * (nb + 2), (*batch, k, n))
    upper = S.pad(_triu(u_part), zero, [*keep, (0, n - k, 0), (0, 0, 0)])
    u_fill = np.zeros((n, n), a.dtype)
    u_fill[k:, k:] = np.eye(n - k, dtype=a.dtype)
    upper = E.add(upper, _const_like(upper, u_fill))
    pt = _mm(_permutation_matrix(perm, m, a.dtype), t)
    la = triangular_solve(lower, pt, left_side=True, lower=True, unit_diagonal=True)
    xm = triangular_solve(upper, la, left_side=False, lower=False)
    dlu = E.add(_mm(lower, _tril(xm, -1)), _mm(_triu(xm), upper))
    return outs, [dlu, *zeros]


lu_p = Primitive("lu", multiple_results=True)
lu_p.impl = _lu_impl
lu_p.abstract_eval = _lu_abstract_eval
lu_p.jvp = _lu_jvp
lu_p.batch = _batch_front(lu_p)


def lu(x):
    """LU factorization with partial pivoting: ``x[..., permutation, :] = L @ U``.

    Args:
        x: float32/float64 array of shape ``(..., m, n)``.

    Returns:
        ``(lu, pivots, permutation)``: ``lu`` packs ``L`` (below the diagonal, unit
        diagonal implied) and ``U`` (upper triangle, ``(..., m, n)``); ``pivots``
        (``(..., min(m, n))`` int32) says row ``i`` was swapped with row ``pivots[i]``;
        ``permutation`` (``(..., m)`` int32) is the resulting row order. A singular matrix
        gives zeros on ``U``'s diagonal (no error).

    Raises:
        TypeError: ``x`` is not float32/float64.
        ValueError: ``x`` has rank < 2.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> lu, pivots, perm = lax.lu(dnp.array([[1.0, 2.0], [3.0, 4.0]]))
        >>> lu
        Array([[3.        , 4.        ],
               [0.33333334, 0.6666666 ]], dtype=float32)
        >>> perm
        Array([1, 0], dtype=int32)
    """
    _check_matrix("lu", aval_of(x))
    return tuple(lu_p.bind(x))


# --------------------------------------------------------------------------- qr


def _qr_impl(x, *, full_matrices):
    v = val(x)
    with np.errstate(all="ignore"):
        q, r = np.linalg.qr(v, mode="complete" if full_matrices else "reduced")
    return [wrap(q.astype(v.dtype, copy=False)), wrap(r.astype(v.dtype, copy=False))]


def _qr_abstract_eval(x, *, full_matrices):
    _check_matrix("qr", x)
    m, n = x.shape[-2:]
    k = m if full_matrices else min(m, n)
    batch = x.shape[:-2]
    return [ShapedArray((*batch, m, k), x.dtype), ShapedArray((*batch, k, n), x.dtype)]


def _qr_square_tangents(q, r, dx):
    """Tangents of ``Q``, ``R`` for ``x = Q R`` with ``R`` square and invertible."""
    dx_rinv = triangular_solve(r, dx, left_side=False, lower=False)
    qt_dx_rinv = _mm(_mT(q), dx_rinv)
    low = _tril(qt_dx_rinv, -1)
    omega = E.sub(low, _mT(low))  # Q^T Q' is antisymmetric
    dq = E.add(_mm(q, E.sub(omega, qt_dx_rinv)), dx_rinv)
    dr = _mm(E.sub(qt_dx_rinv, omega), r)
    return dq, dr


def _qr_jvp(primals, tangents, *, full_matrices):
    (x,), (t,) = primals, tangents
    q, r = qr_p.bind(x, full_matrices=full_matrices)
    if type(t) is Zero:
        return [q, r], [Zero.like(q), Zero.like(r)]
    a = aval_of(x)
    m, n = a.shape[-2:]
    batch = a.shape[:-2]
    nb = len(batch)
    if m >= n:
        if full_matrices and m > n:
            raise NotImplementedError(
                f"qr: the derivative of a complete QR decomposition of a tall matrix (shape "
                f"{a.shape}) is not unique. Use full_matrices=False (numpy.linalg mode "
                "'reduced'), or differentiate through mode 'r'."
            )
        dq, dr = _qr_square_tangents(q, r, t)
        return [q, r], [dq, dr]
    # Wide: x = [X | Y] with X square, Q R_X = X and R_Y = Q^T Y.
    zero = (0,) * (nb + 2)
    r_x = S.slice(r, zero, (*batch, m, m))
    t_x = S.slice(t, zero, (*batch, m, m))
    y = S.slice(x, (0,) * (nb + 1) + (m,), (*batch, m, n))
    t_y = S.slice(t, (0,) * (nb + 1) + (m,), (*batch, m, n))
    dq, dr_x = _qr_square_tangents(q, r_x, t_x)
    dr_y = E.add(_mm(_mT(dq), y), _mm(_mT(q), t_y))
    return [q, r], [dq, S.concatenate([dr_x, dr_y], nb + 1)]


qr_p = Primitive("qr", multiple_results=True)
qr_p.impl = _qr_impl
qr_p.abstract_eval = _qr_abstract_eval
qr_p.jvp = _qr_jvp
qr_p.batch = _batch_front(qr_p)


def qr(x, *, full_matrices=True):
    """QR decomposition ``x = q @ r`` (Householder, LAPACK's sign convention).

    Args:
        x: float32/float64 array of shape ``(..., m, n)``.
        full_matrices: return the complete ``q`` of shape ``(..., m, m)`` and ``r`` of
            shape ``(..., m, n)``; with False the reduced ``(..., m, k)`` and ``(..., k, n)``
            with ``k = min(m, n)``.

    Returns:
        ``(q, r)``: ``q`` with orthonormal columns, ``r`` upper triangular. Derivatives are
        defined for full-rank inputs, except for complete factorizations of tall matrices
        (not unique).

    Raises:
        TypeError: ``x`` is not float32/float64.
        ValueError: ``x`` has rank < 2.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> q, r = lax.qr(dnp.array([[3.0, 1.0], [4.0, 2.0]]))
        >>> r
        Array([[-5. , -2.2],
               [ 0. ,  0.4]], dtype=float32)
    """
    _check_matrix("qr", aval_of(x))
    return tuple(qr_p.bind(x, full_matrices=bool(full_matrices)))


# --------------------------------------------------------------------------- svd


def _svd_impl(x, *, full_matrices, compute_uv):
    v = val(x)
    with np.errstate(all="ignore"):
        try:
            res = np.linalg.svd(v, full_matrices=full_matrices, compute_uv=compute_uv)
        except np.linalg.LinAlgError:  # did not converge (nan/inf input): nan, as in JAX
            avals = _svd_abstract_eval(
                ShapedArray(v.shape, v.dtype), full_matrices=full_matrices, compute_uv=compute_uv
            )
            return [wrap(np.full(a.shape, np.nan, v.dtype)) for a in avals]
    if not compute_uv:
        return [wrap(res.astype(v.dtype, copy=False))]
    u, s, vh = res
    return [wrap(a.astype(v.dtype, copy=False)) for a in (s, u, vh)]


def _svd_abstract_eval(x, *, full_matrices, compute_uv):
    _check_matrix("svd", x)
    m, n = x.shape[-2:]
    k = min(m, n)
    batch = x.shape[:-2]
    s = ShapedArray((*batch, k), x.dtype)
    if not compute_uv:
        return [s]
    u = ShapedArray((*batch, m, m if full_matrices else k), x.dtype)
    vh = ShapedArray((*batch, n if full_matrices else k, n), x.dtype)
    return [s, u, vh]


def _svd_jvp(primals, tangents, *, full_matrices, compute_uv):
    (x,), (t,) = primals, tangents
    a = aval_of(x)
    m, n = a.shape[-2:]
    if compute_uv and full_matrices and m != n:
        raise NotImplementedError(
            f"svd: the derivative of the full_matrices=True decomposition of a non-square "
            f"matrix (shape {a.shape}) is not unique. Use full_matrices=False, or "
            "compute_uv=False for the singular values alone."
        )
    s, u, vh = svd_p.bind(x, full_matrices=False, compute_uv=True)
    outs = [s, u, vh] if compute_uv else [s]
    if type(t) is Zero:
        return outs, [Zero.like(o) for o in outs]
    v = _mT(vh)
    ds_mat = _mm(_mm(_mT(u), t), v)  # U^T A' V, k x k
    ds = _diag_part(ds_mat)
    if not compute_uv:
        return outs, [ds]
    # Distinct singular values: F[i, j] = 1 / (s_j^2 - s_i^2) off the diagonal, 0 on it.
    shape = aval_of(ds_mat).shape
    nd = len(shape)
    s_row = S.broadcast_in_dim(s, shape, (*range(nd - 2), nd - 1))  # s_j
    s_col = S.broadcast_in_dim(s, shape, tuple(range(nd - 1)))  # s_i
    eye = _eye_like(ds_mat)
    diffs = E.mul(E.add(s_row, s_col), E.sub(s_row, s_col))
    f = E.sub(E.div(S.full(shape, 1, a.dtype), E.add(diffs, eye)), eye)
    dss = E.mul(ds_mat, s_row)  # dS diag(s)
    sds = E.mul(s_col, ds_mat)  # diag(s) dS
    du = _mm(u, E.mul(f, E.add(dss, _mT(dss))))
    dv = _mm(v, E.mul(f, E.add(sds, _mT(sds))))
    if m > n:  # the part of A' outside the span of U
        dav = _mm(t, v)
        du = E.add(du, E.div(E.sub(dav, _mm(u, _mm(_mT(u), dav))), _row_like(s, dav)))
    if n > m:
        dau = _mm(_mT(t), u)
        dv = E.add(dv, E.div(E.sub(dau, _mm(v, _mm(vh, dau))), _row_like(s, dau)))
    return outs, [ds, du, _mT(dv)]


def _row_like(s, x):
    """``s`` (..., k) broadcast along the rows of ``x`` (..., r, k)."""
    shape = aval_of(x).shape
    nd = len(shape)
    return S.broadcast_in_dim(s, shape, (*range(nd - 2), nd - 1))


svd_p = Primitive("svd", multiple_results=True)
svd_p.impl = _svd_impl
svd_p.abstract_eval = _svd_abstract_eval
svd_p.jvp = _svd_jvp
svd_p.batch = _batch_front(svd_p)


def svd(x, *, full_matrices=True, compute_uv=True):
    """Singular value decomposition ``x = u @ diag(s) @ vh``, singular values descending.

    Args:
        x: float32/float64 array of shape ``(..., m, n)``.
        full_matrices: ``u`` of shape ``(..., m, m)`` and ``vh`` of ``(..., n, n)``; with
            False ``(..., m, k)`` and ``(..., k, n)``, ``k = min(m, n)``.
        compute_uv: return ``(u, s, vh)``; with False only ``s``.

    Returns:
        ``(u, s, vh)`` or ``s`` (shape ``(..., k)``). Derivatives of ``u`` and ``vh`` need
        distinct nonzero singular values (and ``full_matrices=False`` for non-square
        inputs); those of ``s`` need distinct ones.

    Raises:
        TypeError: ``x`` is not float32/float64.
        ValueError: ``x`` has rank < 2.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> lax.svd(dnp.array([[3.0, 0.0], [0.0, -4.0]]), compute_uv=False)
        Array([4., 3.], dtype=float32)
    """
    _check_matrix("svd", aval_of(x))
    out = svd_p.bind(x, full_matrices=bool(full_matrices), compute_uv=bool(compute_uv))
    if not compute_uv:
        return out[0]
    s, u, vh = out
    return u, s, vh


# --------------------------------------------------------------------------- eigh


def _eigh_impl(x, *, lower):
    v = val(x)
    with np.errstate(all="ignore"):
        try:
            w, vecs = np.linalg.eigh(v, UPLO="L" if lower else "U")
        except np.linalg.LinAlgError:  # did not converge (nan/inf input): nan, as in JAX
            w = np.full(v.shape[:-1], np.nan, v.dtype)
            vecs = np.full(v.shape, np.nan, v.dtype)
    return [wrap(vecs.astype(v.dtype, copy=False)), wrap(w.astype(v.dtype, copy=False))]


def _eigh_abstract_eval(x, *, lower):
    _check_matrix("eigh", x, square=True)
    return [ShapedArray(x.shape, x.dtype), ShapedArray(x.shape[:-1], x.dtype)]


def _eigh_jvp(primals, tangents, *, lower):
    # Distinct eigenvalues: w' = diag(V^T A' V), V' = V (F * V^T A' V) with
    # F[i, j] = 1 / (w_j - w_i) off the diagonal and 0 on it.
    (x,), (t,) = primals, tangents
    vecs, w = eigh_p.bind(x, lower=lower)
    if type(t) is Zero:
        return [vecs, w], [Zero.like(vecs), Zero.like(w)]
    t = _reflect_triangle(t, lower)  # the impl reads one triangle only
    vt_t_v = _mm(_mm(_mT(vecs), t), vecs)
    shape = aval_of(vecs).shape
    nd = len(shape)
    w_row = S.broadcast_in_dim(w, shape, (*range(nd - 2), nd - 1))
    w_col = S.broadcast_in_dim(w, shape, tuple(range(nd - 1)))
    eye = _eye_like(vecs)
    ones = S.full(shape, 1, aval_of(w).dtype)
    f = E.sub(E.div(ones, E.add(E.sub(w_row, w_col), eye)), eye)
    dv = _mm(vecs, E.mul(f, vt_t_v))
    return [vecs, w], [dv, _diag_part(vt_t_v)]


eigh_p = Primitive("eigh", multiple_results=True)
eigh_p.impl = _eigh_impl
eigh_p.abstract_eval = _eigh_abstract_eval
eigh_p.jvp = _eigh_jvp
eigh_p.batch = _batch_front(eigh_p)


def eigh(x, *, lower=True, symmetrize_input=True, sort_eigenvalues=True):
    """Eigendecomposition of symmetric matrices: ``x @ v = v * w``, ``w`` ascending.

    Args:
        x: float32/float64 array of shape ``(..., n, n)``.
        lower: read the lower triangle (else the upper one) when not symmetrizing.
        symmetrize_input: use ``(x + x.T) / 2``, so the result and its derivative do not
            depend on which triangle holds the data.
        sort_eigenvalues: accepted for JAX compatibility; eigenvalues are always ascending.

    Returns:
        ``(v, w)``: eigenvectors as the columns of ``v`` (``(..., n, n)``) and eigenvalues
        ``w`` (``(..., n)``), in ascending order. Derivatives of ``v`` need distinct
        eigenvalues (an eigenvector's sign is arbitrary: differentiate sign-invariant
        functions of it).

    Raises:
        TypeError: ``x`` is not float32/float64.
        ValueError: ``x`` is not a (stack of) square matrices.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> v, w = lax.eigh(dnp.array([[2.0, 1.0], [1.0, 2.0]]))
        >>> w
        Array([1., 3.], dtype=float32)
    """
    del sort_eigenvalues
    _check_matrix("eigh", aval_of(x), square=True)
    if symmetrize_input:
        x = _symmetrize(x)
    return tuple(eigh_p.bind(x, lower=bool(lower)))
