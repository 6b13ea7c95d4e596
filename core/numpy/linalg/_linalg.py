"""``derivax.numpy.linalg``: NumPy's and the Array API's linear-algebra functions.

Everything is composed from the primitives of ``derivax.lax`` (``lu``, ``triangular_solve``,
``cholesky``, ``qr``, ``svd``, ``eigh``) and ``derivax.numpy``, so every function runs under
``jit``, ``vmap``, ``grad`` and ``jvp`` and batches over leading dimensions (``...``).

Integer and bool inputs are promoted to the default float dtype, as in JAX; float16 and
bfloat16 inputs raise an error (LAPACK has no half-precision kernels).

Singular matrices follow JAX's behaviour rather than raising ``LinAlgError``: ``det`` is 0,
``slogdet`` gives ``sign = 0`` and ``logabsdet = -inf``, ``inv`` and ``solve`` give ``inf``
or ``nan`` entries, ``cholesky`` of a matrix that is not positive definite gives ``nan``.
Derivatives of ``det``, ``inv`` and ``solve`` at a singular matrix are ``nan``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ... import _dtypes
from ..._core import get_aval
from ..._custom import custom_jvp
from ...lax import _elementwise as E
from ...lax import _linalg as L
from ...lax import _structural as S
from .. import _reductions as R
from .._products import matmul as matmul
from .._products import tensordot as tensordot
from .._shape import matrix_transpose as matrix_transpose
from .._util import asarray_any, broadcast_shapes, broadcast_to_shape, check_arraylike

__all__ = [
    "EighResult",
    "QRResult",
    "SVDResult",
    "SlogdetResult",
    "cholesky",
    "cross",
    "det",
    "diagonal",
    "eigh",
    "eigvalsh",
    "inv",
    "lstsq",
    "matmul",
    "matrix_norm",
    "matrix_power",
    "matrix_rank",
    "matrix_transpose",
    "multi_dot",
    "norm",
    "outer",
    "pinv",
    "qr",
    "slogdet",
    "solve",
    "svd",
    "svdvals",
    "tensordot",
    "tensorinv",
    "tensorsolve",
    "trace",
    "vecdot",
    "vector_norm",
]


def _dnp():
    from ... import numpy as dnp  # the parent package; imported lazily (it imports us)

    return dnp


# --------------------------------------------------------------------------- result types


class EighResult(NamedTuple):
    """The result of :func:`eigh`: ascending ``eigenvalues`` and column ``eigenvectors``.

    Example:
        >>> import derivax.numpy as dnp
        >>> import derivax.numpy.linalg as dla
        >>> dla.eigh(dnp.eye(2)).eigenvalues
        Array([1., 1.], dtype=float32)
    """

    eigenvalues: object
    eigenvectors: object


class QRResult(NamedTuple):
    """The result of :func:`qr`: orthonormal ``Q`` and upper-triangular ``R``.

    Example:
        >>> import derivax.numpy as dnp
        >>> import derivax.numpy.linalg as dla
        >>> dla.qr(dnp.eye(2)).R.shape
        (2, 2)
    """

    Q: object
    R: object


class SlogdetResult(NamedTuple):
    """The result of :func:`slogdet`: ``det = sign * exp(logabsdet)``.

    Example:
        >>> import derivax.numpy as dnp
        >>> import derivax.numpy.linalg as dla
        >>> dla.slogdet(dnp.eye(2) * 2.0).sign
        Array(1., dtype=float32)
    """

    sign: object
    logabsdet: object


class SVDResult(NamedTuple):
    """The result of :func:`svd`: ``x = U @ (S[..., None] * Vh)``.

    Example:
        >>> import derivax.numpy as dnp
        >>> import derivax.numpy.linalg as dla
        >>> dla.svd(dnp.eye(2)).S
        Array([1., 1.], dtype=float32)
    """

    U: object
    S: object
    Vh: object


# --------------------------------------------------------------------------- argument checks


def _inexact(fname, x, argname="x"):
    check_arraylike(fname, x)
    x = asarray_any(x)
    if not _dtypes.is_inexact(x.dtype):
        x = E.convert_element_type(x, _dtypes.default_float_dtype())
    return x


def _matrix(fname, x, argname="x", square=False):
    x = _inexact(fname, x, argname)
    shape = get_aval(x).shape
    if len(shape) < 2:
        raise ValueError(
            f"{fname}: {argname} must be a matrix or a stack of matrices (shape (..., M, N)), "
            f"got shape {shape}. Reshape a vector first, e.g. x[None, :]."
        )
    if square and shape[-1] != shape[-2]:
        raise ValueError(
            f"{fname}: {argname} must be square in its last two dimensions (..., M, M), got "
            f"shape {shape}."
        )
    return x


def _same_dtype(fname, *xs):
    dtype = _dtypes.result_type(*xs)
    return [x if x.dtype == dtype else E.convert_element_type(x, dtype) for x in xs]


def _diag(x):
    """``x[..., i, i]`` of a square ``x``."""
    return L._diag_part(x)


def _swap(x):
    return L._mT(x)


# --------------------------------------------------------------------------- factorizations


def cholesky(x, /, *, upper=False, symmetrize_input=True):
    """Cholesky factor of symmetric positive-definite matrices.

    Args:
        x: array of shape ``(..., M, M)``.
        upper: return the upper factor ``U`` with ``x = U.T @ U`` (else the lower ``L`` with
            ``x = L @ L.T``).
        symmetrize_input: factor ``(x + x.T) / 2`` (JAX's default), which keeps gradients
            symmetric; with False only one triangle is read.

    Returns:
        The triangular factor, shape ``(..., M, M)``; ``nan`` where ``x`` is not positive
        definite.

    Raises:
        ValueError: ``x`` is not a (stack of) square matrices.
        TypeError: ``x`` is float16/bfloat16 or complex.

    Example:
        >>> import derivax.numpy as dnp
        >>> import derivax.numpy.linalg as dla
        >>> dla.cholesky(dnp.array([[4.0, 2.0], [2.0, 5.0]]))
        Array([[2., 0.],
               [1., 2.]], dtype=float32)
    """
    x = _matrix("cholesky", x, square=True)
    factor = L.cholesky(x, symmetrize_input=symmetrize_input)
    return _swap(factor) if upper else factor


def qr(x, /, mode="reduced"):
    """QR decomposition ``x = Q @ R``.

    Args:
        x: array of shape ``(..., M, N)``.
        mode: ``"reduced"`` (``Q``: ``(..., M, K)``, ``R``: ``(..., K, N)``, ``K = min(M,
            N)``), ``"complete"`` (``Q``: ``(..., M, M)``, ``R``: ``(..., M, N)``) or ``"r"``
            (``R`` alone, reduced).

    Returns:
        A :class:`QRResult` ``(Q, R)``, or ``R`` for ``mode="r"``.

    Raises:
        ValueError: an unknown ``mode`` or ``x`` of rank < 2.

    Example:
        >>> import derivax.numpy as dnp
        >>> import derivax.numpy.linalg as dla
        >>> dla.qr(dnp.array([[3.0, 1.0], [4.0, 2.0]]), mode="r")
        Array([[-5. , -2.2],
               [ 0. ,  0.4]], dtype=float32)
    """
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(
            f"qr: mode must be 'reduced', 'complete' or 'r', got {mode!r} ('raw' is not supported)."
        )
    x = _matrix("qr", x)
    q, r = L.qr(x, full_matrices=mode == "complete")
    return r if mode == "r" else QRResult(q, r)


def svd(x, /, full_matrices=True, compute_uv=True, hermitian=False):
    """Singular value decomposition ``x = U @ (S[..., None] * Vh)``, ``S`` descending.

    Args:
        x: array of shape ``(..., M, N)``.
        full_matrices: square ``U`` ``(..., M, M)`` and ``Vh`` ``(..., N, N)``; with False
            ``(..., M, K)`` and ``(..., K, N)``, ``K = min(M, N)``.
        compute_uv: return the :class:`SVDResult`; with False only ``S``.
        hermitian: accepted for NumPy compatibility; the general algorithm is used (the
            singular vectors' signs may differ from NumPy's ``hermitian=True`` ones).

    Returns:
        ``SVDResult(U, S, Vh)`` or ``S`` (``(..., K)``). Gradients of ``U`` and ``Vh`` need
        distinct singular values and, for non-square ``x``, ``full_matrices=False``.

    Raises:
        ValueError: ``x`` of rank < 2.

    Example:
        >>> import derivax.numpy as dnp
        >>> import derivax.numpy.linalg as dla
        >>> dla.svd(dnp.array([[3.0, 0.0], [0.0, -4.0]]), compute_uv=False)
        Array([4., 3.], dtype=float32)
    """
    del hermitian
    x = _matrix("svd", x)
    if not compute_uv:
        return L.svd(x, compute_uv=False)
    return SVDResult(*L.svd(x, full_matrices=full_matrices))


def svdvals(x, /):
    """Singular values of matrices, in descending order.

    Args:
        x: array of shape ``(..., M, N)``.

    Returns:
        Array of shape ``(..., min(M, N))``.

    Example:
        >>> import derivax.numpy as dnp
        >>> import derivax.numpy.linalg as dla
        >>> dla.svdvals(dnp.array([[0.0, 2.0], [1.0, 0.0]]))
        Array([2., 1.], dtype=float32)
    """
    return L.svd(_matrix("svdvals", x), compute_uv=False)


def _uplo(fname, UPLO):  # noqa: N803 - NumPy's argument name
    if UPLO not in (None, "L", "U"):
        raise ValueError(f"{fname}: UPLO must be 'L' or 'U', got {UPLO!r}.")
    return UPLO != "U"


def eigh(a, /, UPLO=None, symmetrize_input=True):  # noqa: N803 - NumPy's argument name
    """Eigenvalues (ascending) and eigenvectors of symmetric matrices.

    Args:
        a: array of shape ``(..., M, M)``.
        UPLO: ``"L"`` (default) or ``"U"``: the triangle read when not symmetrizing.
        symmetrize_input: use ``(a + a.T) / 2`` (JAX's default).

    Returns:
        ``EighResult(eigenvalues, eigenvectors)``; ``eigenvectors[..., :, i]`` belongs to
        ``eigenvalues[..., i]``. Eigenvector gradients need distinct eigenvalues.

    Raises:
        ValueError: ``a`` is not a (stack of) square matrices, or a bad ``UPLO``.

    Example:
        >>> import derivax.numpy as dnp
        >>> import derivax.numpy.linalg as dla
        >>> dla.eigh(dnp.array([[2.0, 1.0], [1.0, 2.0]])).eigenvalues
        Array([1., 3.], dtype=float32)
    """
    lower = _uplo("eigh", UPLO)
    a = _matrix("eigh", a, "a", square=True)
    v, w = L.eigh(a, lower=lower, symmetrize_input=symmetrize_input)
    return EighResult(w, v)


def eigvalsh(a, /, UPLO="L", *, symmetrize_input=True):  # noqa: N803 - NumPy's argument name
    """Eigenvalues of symmetric matrices, in ascending order.

    Args:
        a: array of shape ``(..., M, M)``.
        UPLO: ``"L"`` or ``"U"``: the triangle read when not symmetrizing.
        symmetrize_input: use ``(a + a.T) / 2``.

    Returns:
        Array of shape ``(..., M)``.

    Example:
        >>> import derivax.numpy as dnp
        >>> import derivax.numpy.linalg as dla
        >>> dla.eigvalsh(dnp.array([[2.0, 0.0], [0.0, -1.0]]))
        Array([-1.,  2.], dtype=float32)
    """
    return eigh(a, UPLO=UPLO, symmetrize_input=symmetrize_input).eigenvalues


# --------------------------------------------------------------------------- determinants


def _lu_parts(fname, a):
    """``a``'s LU factors and the sign of its row permutation (+1 or -1)."""
    dnp = _dnp()
    a = _matrix(fname, a, "a", square=True)
    lu_, pivots, _ = L.lu(a)
    k = get_aval(pivots).shape[-1]
    swaps = dnp.sum(pivots != dnp.arange(k, dtype=np.int32), axis=-1)
    parity = dnp.astype(dnp.where(swaps % 2 == 1, -1, 1), lu_.dtype)
    return a, lu_, parity


def det(a, /):
    """Determinant of square matrices, computed from the LU factorization.

    Args:
        a: array of shape ``(..., M, M)``.

    Returns:
        Array of shape ``(...)``; 0 for a singular matrix. Its derivative is
        ``det(a) * inv(a).T`` (``nan`` at singular matrices).

    Raises:
        ValueError: ``a`` is not a (stack of) square matrices.

    Example:
        >>> import derivax.numpy as dnp
        >>> import derivax.numpy.linalg as dla
        >>> dla.det(dnp.array([[2.0, 1.0], [1.0, 3.0]]))
        Array(5., dtype=float32)
    """
    _, lu_, parity = _lu_parts("det", a)
    return E.mul(parity, R.prod(_diag(lu_), axis=-1))


def slogdet(a, /):
    """Sign and natural log of the absolute determinant (stable for large or small dets).

    Args:
        a: array of shape ``(..., M, M)``.

    Returns:
        ``SlogdetResult(sign, logabsdet)``; a singular matrix gives ``sign = 0`` and
        ``logabsdet = -inf``.

    Raises:
        ValueError: ``a`` is not a (stack of) square matrices.

    Example:
        >>> import derivax.numpy as dnp
        >>> import derivax.numpy.linalg as dla
        >>> sign, logabsdet = dla.slogdet(dnp.array([[2.0, 0.0], [0.0, -3.0]]))
        >>> sign, dnp.exp(logabsdet)
        (Array(-1., dtype=float32), Array(6., dtype=float32))
    """
    _, lu_, parity = _lu_parts("slogdet", a)
    d = _diag(lu_)
    sign = E.mul(parity, R.prod(E.sign(d), axis=-1))
    dnp = _dnp()
    return SlogdetResult(sign, R.sum(dnp.log(dnp.abs(d)), axis=-1))


# --------------------------------------------------------------------------- solves


def _lu_solve(lu_, perm, b):
    """Solve ``a @ x = b`` from ``a``'s LU factors (``b``: ``(..., M, K)``, same batch)."""
    m = get_aval(lu_).shape[-1]
    pb = L._mm(L._permutation_matrix(perm, m, lu_.dtype), b)
    y = L.triangular_solve(lu_, pb, left_side=True, lower=True, unit_diagonal=True)
    return L.triangular_solve(lu_, y, left_side=True, lower=False)


def solve(a, b, /):
    """Solve ``a @ x = b`` for ``x``.

    Args:
        a: array of shape ``(..., M, M)``.
        b: a vector ``(M,)``, or a stack of matrices ``(..., M, K)`` whose leading
            dimensions broadcast with ``a``'s (the Array API rule, as in NumPy 2 and JAX).

    Returns:
        ``x`` with the broadcast shape. A singular ``a`` gives ``inf``/``nan`` entries.

    Raises:
        ValueError: shapes that do not fit; for a batch of vectors write
            ``solve(a, b[..., None])[..., 0]``.

    Example:
        >>> import derivax.numpy as dnp
        >>> import derivax.numpy.linalg as dla
        >>> dla.solve(dnp.array([[2.0, 0.0], [1.0, 1.0]]), dnp.array([2.0, 3.0]))
        Array([1., 2.], dtype=float32)
    """
    a = _matrix("solve", a, "a", square=True)
    b = _inexact("solve", b, "b")
    a, b = _same_dtype("solve", a, b)
    sa, sb = get_aval(a).shape, get_aval(b).shape
    vector = len(sb) == 1
    if vector:
        b = S.reshape(b, (sb[0], 1))
    sb2 = get_aval(b).shape
    if len(sb2) < 2 or sb2[-2] != sa[-1]:
        raise ValueError(
            f"solve: a has shape {sa} and b has shape {sb}; b must be a vector (M,) or a stack "
            f"of matrices (..., M, K) with M = {sa[-1]}. For a batch of vectors write "
            "solve(a, b[..., None])[..., 0]."
        )
    batch = broadcast_shapes(sa[:-2], sb2[:-2], fname="solve (batch dimensions)")
    a = broadcast_to_shape(a, batch + sa[-2:])
    b = broadcast_to_shape(b, batch + sb2[-2:])
    lu_, _, perm = L.lu(a)
    x = _lu_solve(lu_, perm, b)
    if vector:
        x = S.reshape(x, get_aval(x).shape[:-1])
    return x


def inv(a, /):
    """Inverse of square matrices (LU with partial pivoting, then two triangular solves).

    Args:
        a: array of shape ``(..., M, M)``.

    Returns:
        Array of shape ``(..., M, M)``; ``inf``/``nan`` entries for a singular matrix.

    Raises:
        ValueError: ``a`` is not a (stack of) square matrices.

    Example:
        >>> import derivax.numpy as dnp
        >>> import derivax.numpy.linalg as dla
        >>> dla.inv(dnp.array([[2.0, 0.0], [0.0, 4.0]]))
        Array([[0.5 , 0.  ],
               [0.  , 0.25]], dtype=float32)
    """
    a = _matrix("inv", a, "a", square=True)
    lu_, _, perm = L.lu(a)
    return _lu_solve(lu_, perm, L._eye_like(a))


def _default_rtol(shape, dtype):
    return max(shape[-2:]) * float(np.finfo(dtype).eps)


@custom_jvp
def _pinv(a, rtol):
    dnp = _dnp()
    u, s, vh = L.svd(a, full_matrices=False)
    if get_aval(s).shape[-1] == 0:
        return _swap(dnp.zeros_like(a))
    keep = s > rtol[..., None] * dnp.max(s, axis=-1, keepdims=True)
    s_inv = dnp.where(keep, 1 / dnp.where(keep, s, 1), 0)
    return matmul(_swap(vh) * s_inv[..., None, :], _swap(u))


@_pinv.defjvp
def _pinv_jvp(primals, tangents):
    # For constant rank (Golub & Pereyra):
    # P' = -P A' P + P P^T A'^T (I - A P) + (I - P A) A'^T P^T P.
    a, rtol = primals
    ta, _ = tangents
    p = _pinv(a, rtol)
    pt, tat = _swap(p), _swap(ta)
    ap = matmul(a, p)
    pa = matmul(p, a)
    i_ap = E.sub(L._eye_like(ap), ap)
    i_pa = E.sub(L._eye_like(pa), pa)
    term1 = E.neg(matmul(matmul(p, ta), p))
    term2 = matmul(matmul(p, pt), matmul(tat, i_ap))
    term3 = matmul(matmul(i_pa, tat), matmul(pt, p))
    return p, E.add(E.add(term1, term2), term3)


def pinv(a, /, rtol=None, hermitian=False, *, rcond=None):
    """Moore-Penrose pseudo-inverse, through the SVD.

    Singular values at most ``rtol * max(s)`` are treated as zero. The derivative is the
    constant-rank formula (Golub & Pereyra), so it stays finite for rank-deficient and
    repeated-singular-value inputs.

    Args:
        a: array of shape ``(..., M, N)``.
        rtol: relative cutoff (a scalar or an array broadcasting with ``a``'s batch shape);
            default ``max(M, N) * eps``.
        hermitian: accepted for NumPy compatibility (the general SVD is used).
        rcond: NumPy's older name for ``rtol``.

    Returns:
        Array of shape ``(..., N, M)``.

    Raises:
        ValueError: ``a`` of rank < 2, or both ``rtol`` and ``rcond`` given.

    Example:
        >>> import derivax.numpy as dnp
        >>> import derivax.numpy.linalg as dla
        >>> dla.pinv(dnp.array([[2.0, 0.0], [0.0, 0.0]]))
        Array([[0.5, 0. ],
               [0. , 0. ]], dtype=float32)
    """
    del hermitian
    if rtol is not None and rcond is not None:
        raise ValueError("pinv: pass rtol or its older name rcond, not both.")
    rtol = rcond if rtol is None else rtol
    a = _matrix("pinv", a, "a")
    shape = get_aval(a).shape
    if rtol is None:
        rtol = _default_rtol(shape, a.dtype)
    rtol = asarray_any(rtol)
    if rtol.dtype != a.dtype:
        rtol = E.convert_element_type(rtol, a.dtype)
    rtol = broadcast_to_shape(rtol, shape[:-2])
    return _pinv(a, rtol)


def lstsq(a, b, rcond=None):
    """Least-squares solution of ``a @ x = b`` (minimum norm when underdetermined).

    Args:
        a: matrix ``(M, N)``.
        b: ``(M,)`` or ``(M, K)``.
        rcond: relative cutoff for small singular values of ``a`` (default
            ``max(M, N) * eps``).

    Returns:
        ``(x, residuals, rank, s)``: ``x`` ``(N,)`` or ``(N, K)``; ``residuals`` the squared
        residual norms, shape ``(K,)`` (``(1,)`` for a vector ``b``) computed always, as in
        JAX (NumPy returns an empty array when ``rank < N`` or ``M <= N``, a data-dependent
        shape that ``jit`` cannot express); ``rank`` in the default int dtype; ``s`` the
        singular values.

    Raises:
        ValueError: ``a`` not 2-D, or ``b`` not 1-D/2-D with ``M`` rows.

    Example:
        >>> import derivax.numpy as dnp
        >>> import derivax.numpy.linalg as dla
        >>> a = dnp.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
        >>> dla.lstsq(a, dnp.array([1.0, 2.0, 3.0]))[0]
        Array([1., 2.], dtype=float32)
    """
    a = _matrix("lstsq", a, "a")
    b = _inexact("lstsq", b, "b")
    a, b = _same_dtype("lstsq", a, b)
    sa, sb = get_aval(a).shape, get_aval(b).shape
    if len(sa) != 2 or len(sb) not in (1, 2) or sb[0] != sa[0]:
        raise ValueError(
            f"lstsq: a must be 2-D (M, N) and b (M,) or (M, K) with the same M; got shapes "
            f"{sa} and {sb}."
        )
    vector = len(sb) == 1
    if vector:
        b = S.reshape(b, (sb[0], 1))
    dnp = _dnp()
    p = pinv(a, rtol=rcond)
    x = matmul(p, b)
    s = L.svd(a, compute_uv=False)
    cutoff = _default_rtol(sa, a.dtype) if rcond is None else rcond
    top = R.max(s) if sa[0] and sa[1] else 0
    int_dtype = _dtypes.default_int_dtype()
    rank = dnp.sum(dnp.astype(s > cutoff * top, int_dtype), dtype=int_dtype)
    resid = R.sum(E.integer_pow(E.sub(b, matmul(a, x)), 2), axis=0)
    if vector:
        x = S.reshape(x, (sa[1],))
    return x, resid, rank, s


# --------------------------------------------------------------------------- products


def outer(x1, x2, /):
    """Outer product of two vectors.

    Args:
        x1: vector ``(M,)``.
        x2: vector ``(N,)``.

    Returns:
        ``(M, N)`` array ``x1[:, None] * x2[None, :]``.

    Raises:
        ValueError: an operand that is not 1-D (``derivax.numpy.outer`` flattens instead).

    Example:
        >>> import derivax.numpy as dnp
        >>> import derivax.numpy.linalg as dla
        >>> dla.outer(dnp.array([1.0, 2.0]), dnp.array([3.0, 4.0]))
        Array([[3., 4.],
               [6., 8.]], dtype=float32)
    """
    check_arraylike("outer", x1, x2)
    x1, x2 = asarray_any(x1), asarray_any(x2)
    if get_aval(x1).ndim != 1 or get_aval(x2).ndim != 1:
        raise ValueError(
            f"outer: x1 and x2 must be vectors, got shapes {get_aval(x1).shape} and "
            f"{get_aval(x2).shape}; derivax.numpy.outer flattens its inputs."
        )
    return _dnp().outer(x1, x2)


def vecdot(x1, x2, /, *, axis=-1):
    """Dot product of vectors along ``axis`` (broadcasting the other dimensions).

    Args:
        x1, x2: arrays whose shapes broadcast; they have the same size along ``axis``.
        axis: the contracted axis of the broadcast shape.

    Returns:
        ``sum(conj(x1) * x2, axis)``.

    Raises:
        ValueError: different sizes along ``axis``.

    Example:
        >>> import derivax.numpy as dnp
        >>> import derivax.numpy.linalg as dla
        >>> dla.vecdot(dnp.array([[1.0, 2.0], [3.0, 4.0]]), dnp.array([1.0, 1.0]))
        Array([3., 7.], dtype=float32)
    """
    dnp = _dnp()
    check_arraylike("vecdot", x1, x2)
    x1, x2 = asarray_any(x1), asarray_any(x2)
    n1 = get_aval(x1).shape[axis] if get_aval(x1).ndim else None
    n2 = get_aval(x2).shape[axis] if get_aval(x2).ndim else None
    if n1 is None or n2 is None or n1 != n2:
        raise ValueError(
            f"vecdot: x1 {get_aval(x1).shape} and x2 {get_aval(x2).shape} need the same size "
            f"along axis {axis}."
        )
    return dnp.sum(dnp.conj(x1) * x2, axis=axis)


def cross(x1, x2, /, *, axis=-1):
    """Cross product of 3-vectors along ``axis`` (broadcasting the other dimensions).

    Args:
        x1, x2: arrays with size 3 along ``axis``.
        axis: the axis holding the vectors.

    Returns:
        The broadcast array of cross products.

    Raises:
        ValueError: a size other than 3 along ``axis``.

    Example:
        >>> import derivax.numpy as dnp
        >>> import derivax.numpy.linalg as dla
        >>> dla.cross(dnp.array([1.0, 0.0, 0.0]), dnp.array([0.0, 1.0, 0.0]))
        Array([0., 0., 1.], dtype=float32)
    """
    dnp = _dnp()
    check_arraylike("cross", x1, x2)
    x1, x2 = asarray_any(x1), asarray_any(x2)
    for name, x in (("x1", x1), ("x2", x2)):
        shape = get_aval(x).shape
        if not shape or not -len(shape) <= axis < len(shape) or shape[axis] != 3:
            raise ValueError(
                f"cross: {name} must have size 3 along axis {axis}, got shape {shape}."
            )
    a = dnp.moveaxis(x1, axis, -1)
    b = dnp.moveaxis(x2, axis, -1)
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    out = dnp.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)
    return dnp.moveaxis(out, -1, axis)


def multi_dot(arrays, *, precision=None):
    """Product of a chain of matrices, multiplied in the cheapest order.

    Args:
        arrays: a sequence of at least two arrays; the first may be a vector (a row), the
            last a vector (a column), the others are 2-D.
        precision: accepted for JAX compatibility; ignored.

    Returns:
        The product, with the vector ends dropped as in ``matmul``.

    Raises:
        ValueError: fewer than two arrays, or a middle array that is not 2-D.

    Example:
        >>> import derivax.numpy as dnp
        >>> import derivax.numpy.linalg as dla
        >>> dla.multi_dot([dnp.ones((2, 3)), dnp.ones((3, 4)), dnp.ones(4)])
        Array([12., 12.], dtype=float32)
    """
    del precision
    arrays = [asarray_any(x) for x in arrays]
    if len(arrays) < 2:
        raise ValueError(f"multi_dot: needs at least two arrays, got {len(arrays)}.")
    for i, x in enumerate(arrays):
        nd = get_aval(x).ndim
        end = i in (0, len(arrays) - 1)
        if nd != 2 and not (end and nd == 1):
            raise ValueError(
                f"multi_dot: array {i} has shape {get_aval(x).shape}; the inner arrays must "
                "be 2-D and the first and last 1-D or 2-D."
            )
    first_vec = get_aval(arrays[0]).ndim == 1
    last_vec = get_aval(arrays[-1]).ndim == 1
    mats = list(arrays)
    if first_vec:
        mats[0] = S.reshape(mats[0], (1, get_aval(mats[0]).shape[0]))
    if last_vec:
        mats[-1] = S.reshape(mats[-1], (get_aval(mats[-1]).shape[0], 1))
    dims = [get_aval(mats[0]).shape[0]] + [get_aval(m).shape[1] for m in mats]
    n = len(mats)
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = math.inf
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k

    def chain(i, j):
        if i == j:
            return mats[i]
        return matmul(chain(i, split[i][j]), chain(split[i][j] + 1, j))

    out = chain(0, n - 1)
    shape = get_aval(out).shape
    if first_vec and last_vec:
        return S.reshape(out, ())
    if first_vec:
        return S.reshape(out, shape[1:])
    if last_vec:
        return S.reshape(out, shape[:1])
    return out


def matrix_power(a, n, /):
    """Raise square matrices to an integer power (repeated squaring; ``n < 0`` inverts).

    Args:
        a: array of shape ``(..., M, M)``.
        n: a Python int.

    Returns:
        Array of shape ``(..., M, M)``; the identity for ``n == 0``.

    Raises:
        TypeError: ``n`` is not an int.
        ValueError: ``a`` is not a (stack of) square matrices.

    Example:
        >>> import derivax.numpy as dnp
        >>> import derivax.numpy.linalg as dla
        >>> dla.matrix_power(dnp.array([[1.0, 1.0], [0.0, 1.0]]), 3)
        Array([[1., 3.],
               [0., 1.]], dtype=float32)
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        raise TypeError(f"matrix_power: n must be an int, got {type(n).__name__}.")
    check_arraylike("matrix_power", a)
    a = asarray_any(a)
    shape = get_aval(a).shape
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ValueError(
            f"matrix_power: a must be square in its last two dimensions, got shape {shape}."
        )
    n = int(n)
    if n == 0:
        eye = np.eye(shape[-1], dtype=a.dtype)
        return broadcast_to_shape(asarray_any(eye), shape)
    if n < 0:
        a, n = inv(a), -n
    result = None
    base = a
    while n:
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return result


# --------------------------------------------------------------------------- diagonals


def diagonal(x, /, *, offset=0):
    """The diagonal of the last two dimensions (``offset > 0`` above the main one).

    Args:
        x: array of shape ``(..., M, N)``.
        offset: which diagonal.

    Returns:
        Array of shape ``(..., K)`` with ``K`` the diagonal's length.

    Raises:
        ValueError: ``x`` of rank < 2.

    Example:
        >>> import derivax.numpy as dnp
        >>> import derivax.numpy.linalg as dla
        >>> dla.diagonal(dnp.array([[1, 2, 3], [4, 5, 6]]), offset=1)
        Array([2, 6], dtype=int32)
    """
    check_arraylike("diagonal", x)
    x = asarray_any(x)
    shape = get_aval(x).shape
    if len(shape) < 2:
        raise ValueError(f"diagonal: x must have rank >= 2, got shape {shape}.")
    offset = int(offset)
    m, n = shape[-2:]
    r0, c0 = min(m, max(0, -offset)), min(n, max(0, offset))
    k = max(0, min(m - r0, n - c0))
    batch = shape[:-2]
    nb = len(batch)
    square = S.slice(x, (0,) * nb + (r0, c0), (*batch, r0 + k, c0 + k))
    if k == 0:
        return S.reshape(square, (*batch, 0))
    return L._diag_part(square)


def trace(x, /, *, offset=0, dtype=None):
    """Sum of the diagonal of the last two dimensions.

    Args:
        x: array of shape ``(..., M, N)``.
        offset: which diagonal (as in :func:`diagonal`).
        dtype: accumulation and result dtype (default as ``derivax.numpy.sum``).

    Returns:
        Array of shape ``(...)``.

    Example:
        >>> import derivax.numpy as dnp
        >>> import derivax.numpy.linalg as dla
        >>> dla.trace(dnp.array([[1.0, 2.0], [3.0, 4.0]]))
        Array(5., dtype=float32)
    """
    return _dnp().sum(diagonal(x, offset=offset), axis=-1, dtype=dtype)


# --------------------------------------------------------------------------- norms


def _vector_norm(x, ord, axes, keepdims):  # noqa: A002 - NumPy's argument name
    dnp = _dnp()
    ax = dnp.abs(x)
    if ord is None or ord == 2:
        return dnp.sqrt(dnp.sum(dnp.real(x * dnp.conj(x)), axis=axes, keepdims=keepdims))
    if ord == np.inf:
        return dnp.max(ax, axis=axes, keepdims=keepdims)
    if ord == -np.inf:
        return dnp.min(ax, axis=axes, keepdims=keepdims)
    if ord == 0:
        return dnp.sum(dnp.astype(ax != 0, ax.dtype), axis=axes, keepdims=keepdims)
    if ord == 1:
        return dnp.sum(ax, axis=axes, keepdims=keepdims)
    if isinstance(ord, str):
        raise ValueError(
            f"vector norm: ord={ord!r} is a matrix norm; give two axes for 'fro'/'nuc', or a "
            "number (None, inf, -inf, 0, 1, 2, p) for vectors."
        )
    p = float(ord)
    return dnp.sum(ax**p, axis=axes, keepdims=keepdims) ** (1.0 / p)


def _matrix_norm(x, ord, axes, keepdims):  # noqa: A002 - NumPy's argument name
    dnp = _dnp()
    nd = get_aval(x).ndim
    row, col = (a % nd for a in axes)
    if row == col:
        raise ValueError(f"matrix norm: the two axes {axes} must differ.")
    if ord in (None, "fro", "f"):
        out = dnp.sqrt(dnp.sum(dnp.real(x * dnp.conj(x)), axis=(row, col)))
    else:
        y = dnp.moveaxis(x, (row, col), (-2, -1))
        if ord == "nuc":
            out = dnp.sum(svdvals(y), axis=-1)
        elif ord in (2, -2):
            s = svdvals(y)
            out = dnp.max(s, axis=-1) if ord == 2 else dnp.min(s, axis=-1)
        elif ord in (1, -1):
            sums = dnp.sum(dnp.abs(y), axis=-2)
            out = dnp.max(sums, axis=-1) if ord == 1 else dnp.min(sums, axis=-1)
        elif ord in (np.inf, -np.inf):
            sums = dnp.sum(dnp.abs(y), axis=-1)
            out = dnp.max(sums, axis=-1) if ord == np.inf else dnp.min(sums, axis=-1)
        else:
            raise ValueError(
                f"matrix norm: invalid ord={ord!r}; use None, 'fro', 'nuc', inf, -inf, 1, -1, "
                "2 or -2."
            )
    if keepdims:
        out = dnp.expand_dims(out, tuple(sorted((row, col))))
    return out


def _axes(fname, axis, nd):
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    for a in axes:
        if not isinstance(a, (int, np.integer)) or not -nd <= a < max(nd, 1):
            raise ValueError(f"{fname}: axis {axis} is out of range for an array of rank {nd}.")
    axes = tuple(int(a) % max(nd, 1) for a in axes)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{fname}: repeated axis in {axis}.")
    return axes


def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002 - NumPy's argument name
    """Vector or matrix norm, with NumPy's rules for ``ord`` and ``axis``.

    Args:
        x: array.
        ord: for vectors ``None``/2, ``inf``, ``-inf``, 0 (count of nonzeros), 1, or any
            number ``p``; for matrices ``None``/``'fro'``, ``'nuc'``, ``inf``, ``-inf``, 1,
            -1, 2, -2.
        axis: ``None`` (with ``ord=None``: the 2-norm of the flattened array; otherwise
            ``x`` must be 1-D or 2-D), an int (vector norm) or a pair of ints (matrix norm).
        keepdims: keep the reduced axes with size 1.

    Returns:
        The norms, in ``x``'s float dtype (integers are promoted).

    Raises:
        ValueError: an invalid ``ord`` for the kind of norm, or bad axes.

    Example:
        >>> import derivax.numpy as dnp
        >>> import derivax.numpy.linalg as dla
        >>> dla.norm(dnp.array([3.0, 4.0]))
        Array(5., dtype=float32)
        >>> dla.norm(dnp.array([[1.0, -2.0], [3.0, 4.0]]), ord=1)
        Array(6., dtype=float32)
    """
    x = _inexact("norm", x)
    nd = get_aval(x).ndim
    if axis is None:
        if ord is None:
            dnp = _dnp()
            out = _vector_norm(dnp.ravel(x), None, 0, False)
            return S.reshape(out, (1,) * nd) if keepdims else out
        if nd not in (1, 2):
            raise ValueError(
                f"norm: with ord={ord!r} and axis=None, x must be 1-D or 2-D, got shape "
                f"{get_aval(x).shape}; pass axis."
            )
        axis = tuple(range(nd))
    axes = _axes("norm", axis, nd)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes, keepdims)
    if len(axes) == 2:
        return _matrix_norm(x, ord, axes, keepdims)
    raise ValueError(f"norm: axis must be an int or a pair of ints, got {axis}.")


def vector_norm(x, /, *, axis=None, keepdims=False, ord=2):  # noqa: A002 - Array API name
    """Vector norm over ``axis`` (all axes by default, as one flattened vector).

    Args:
        x: array.
        axis: ``None``, an int or a tuple of ints.
        keepdims: keep the reduced axes with size 1.
        ord: 2 (default), 1, ``inf``, ``-inf``, 0 or any number ``p``.

    Returns:
        The norms.

    Example:
        >>> import derivax.numpy as dnp
        >>> import derivax.numpy.linalg as dla
        >>> dla.vector_norm(dnp.array([[3.0, 0.0], [0.0, 4.0]]))
        Array(5., dtype=float32)
    """
    x = _inexact("vector_norm", x)
    nd = get_aval(x).ndim
    axes = tuple(range(nd)) if axis is None else _axes("vector_norm", axis, nd)
    return _vector_norm(x, ord, axes, keepdims)


def matrix_norm(x, /, *, keepdims=False, ord="fro"):  # noqa: A002 - Array API name
    """Matrix norm of the last two dimensions.

    Args:
        x: array of shape ``(..., M, N)``.
        keepdims: keep the two reduced axes with size 1.
        ord: ``'fro'`` (default), ``'nuc'``, ``inf``, ``-inf``, 1, -1, 2, -2.

    Returns:
        Array of shape ``(...)``.

    Raises:
        ValueError: ``x`` of rank < 2 or an invalid ``ord``.

    Example:
        >>> import derivax.numpy as dnp
        >>> import derivax.numpy.linalg as dla
        >>> dla.matrix_norm(dnp.array([[3.0, 0.0], [0.0, 4.0]]), ord=2)
        Array(4., dtype=float32)
    """
    x = _matrix("matrix_norm", x)
    return _matrix_norm(x, ord, (-2, -1), keepdims)


def matrix_rank(M, /, rtol=None, *, hermitian=False, tol=None):  # noqa: N803 - NumPy's name
    """Rank of matrices: the number of singular values above a cutoff.

    Args:
        M: array of shape ``(..., M, N)`` (a vector has rank 1 unless it is all zeros).
        rtol: relative cutoff, times the largest singular value (default
            ``max(M, N) * eps``).
        hermitian: accepted for NumPy compatibility.
        tol: absolute cutoff (NumPy's older argument); overrides ``rtol``.

    Returns:
        Integer array of shape ``(...)`` (the default int dtype).

    Example:
        >>> import derivax.numpy as dnp
        >>> import derivax.numpy.linalg as dla
        >>> dla.matrix_rank(dnp.array([[1.0, 2.0], [2.0, 4.0]]))
        Array(1, dtype=int32)
    """
    del hermitian
    dnp = _dnp()
    x = _inexact("matrix_rank", M, "M")
    int_dtype = _dtypes.default_int_dtype()
    shape = get_aval(x).shape
    if len(shape) < 2:
        return dnp.astype(dnp.any(x != 0), int_dtype)
    s = svdvals(x)
    if tol is None:
        rtol = _default_rtol(shape, x.dtype) if rtol is None else rtol
        cutoff = dnp.max(s, axis=-1, keepdims=True) * dnp.asarray(rtol, x.dtype)
    else:
        cutoff = dnp.asarray(tol, x.dtype)
    if get_aval(cutoff).ndim and get_aval(cutoff).shape[-1:] != (1,):
        cutoff = dnp.expand_dims(cutoff, -1)
    return dnp.sum(dnp.astype(s > cutoff, int_dtype), axis=-1, dtype=int_dtype)


# --------------------------------------------------------------------------- tensor solves


def tensorinv(a, ind=2):
    """Inverse of a tensor seen as a matrix: the first ``ind`` axes against the rest.

    Args:
        a: array whose leading ``ind`` dimensions have the same total size as the rest.
        ind: number of leading dimensions forming the rows.

    Returns:
        Array of shape ``a.shape[ind:] + a.shape[:ind]``.

    Raises:
        ValueError: the two groups of dimensions have different sizes.

    Example:
        >>> import derivax.numpy as dnp
        >>> import derivax.numpy.linalg as dla
        >>> dla.tensorinv(dnp.eye(4).reshape(4, 2, 2), ind=1).shape
        (2, 2, 4)
    """
    a = _inexact("tensorinv", a, "a")
    shape = get_aval(a).shape
    if not 0 < ind <= len(shape):
        raise ValueError(f"tensorinv: ind={ind} must be in 1..{len(shape)} for shape {shape}.")
    rows = math.prod(shape[:ind])
    cols = math.prod(shape[ind:])
    if rows != cols:
        raise ValueError(
            f"tensorinv: the first {ind} dimensions of {shape} hold {rows} elements and the "
            f"others {cols}; they must be equal."
        )
    out = inv(S.reshape(a, (rows, cols)))
    return S.reshape(out, shape[ind:] + shape[:ind])


def tensorsolve(a, b, axes=None):
    """Solve ``tensordot(a, x, axes=x.ndim) = b`` for ``x``.

    Args:
        a: array whose trailing dimensions (after ``b.ndim`` leading ones) form ``x``.
        b: array of shape ``a.shape[:b.ndim]``.
        axes: axes of ``a`` to move to the end first.

    Returns:
        ``x`` of shape ``a.shape[b.ndim:]``.

    Raises:
        ValueError: shapes that do not fit.

    Example:
        >>> import derivax.numpy as dnp
        >>> import derivax.numpy.linalg as dla
        >>> dla.tensorsolve(dnp.eye(4).reshape(2, 2, 4), dnp.ones((2, 2))).shape
        (4,)
    """
    dnp = _dnp()
    a = _inexact("tensorsolve", a, "a")
    b = _inexact("tensorsolve", b, "b")
    a, b = _same_dtype("tensorsolve", a, b)
    if axes is not None:
        axes = (axes,) if isinstance(axes, int) else tuple(axes)
        a = dnp.moveaxis(a, axes, tuple(range(-len(axes), 0)))
    sa, sb = get_aval(a).shape, get_aval(b).shape
    if sa[: len(sb)] != sb:
        raise ValueError(f"tensorsolve: b's shape {sb} must lead a's shape {sa}.")
    x_shape = sa[len(sb) :]
    rows, cols = math.prod(sb), math.prod(x_shape)
    if rows != cols:
        raise ValueError(
            f"tensorsolve: a of shape {sa} is not square as a matrix ({rows} x {cols})."
        )
    x = solve(S.reshape(a, (rows, cols)), S.reshape(b, (rows,)))
    return S.reshape(x, x_shape)
