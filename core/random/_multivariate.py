"""Multivariate samplers: multivariate_normal, orthogonal and ball.

``multivariate_normal`` needs a factor of the covariance and ``orthogonal`` a QR
decomposition. Both are written here as short compositions of derivax operations (a
column-by-column Cholesky factorisation and Gram-Schmidt with reorthogonalisation), so they
run under ``jit``, ``vmap`` and ``grad`` like everything else; for the factors they need, the
results equal those of LAPACK up to rounding.
"""

from __future__ import annotations

import numpy as np

from .. import _dtypes
from .. import numpy as dnp
from .._core import concrete_or_error, get_aval
from ..lax import _structural as S
from . import _continuous as C
from . import _discrete as D
from . import _gamma as G
from . import _keys as K

# --------------------------------------------------------------------------- factorisations


def _cholesky(a):
    """The lower Cholesky factor of a batch of symmetric positive definite matrices."""
    n = get_aval(a).shape[-1]
    lead = get_aval(a).shape[:-2]
    factor = None  # (..., n, j): the columns found so far
    for j in range(n):
        diag = a[..., j, j]
        below = a[..., j + 1 :, j]
        if factor is not None:
            row = factor[..., j, :]  # (..., j)
            diag = diag - dnp.sum(row * row, axis=-1)
            if j + 1 < n:
                below = below - dnp.matmul(factor[..., j + 1 :, :], row[..., None])[..., 0]
        root = dnp.sqrt(diag)
        col = dnp.concatenate(
            [dnp.zeros((*lead, j), get_aval(a).dtype), root[..., None], below / root[..., None]],
            axis=-1,
        )
        col = col[..., None]
        factor = col if factor is None else dnp.concatenate([factor, col], axis=-1)
    return factor


def _orthonormal_columns(z):
    """The Q of a QR decomposition of ``z`` (..., m, k), m >= k, with R's diagonal > 0."""
    k = get_aval(z).shape[-1]
    q = None
    for j in range(k):
        v = z[..., :, j]
        if q is not None:
            for _ in range(2):  # Gram-Schmidt twice keeps Q orthogonal to working precision
                coef = dnp.matmul(dnp.swapaxes(q, -1, -2), v[..., None])
                v = v - dnp.matmul(q, coef)[..., 0]
        v = v / dnp.sqrt(dnp.sum(v * v, axis=-1, keepdims=True))
        q = v[..., None] if q is None else dnp.concatenate([q, v[..., None]], axis=-1)
    return q


# --------------------------------------------------------------------------- samplers


def multivariate_normal(key, mean, cov, shape=None, dtype=None, method="cholesky"):
    """Multivariate normal random vectors with the given mean and covariance.

    Computed as ``mean + factor @ z`` for standard normal ``z`` and a factor with
    ``factor @ factor.T == cov``. The samples are differentiable with respect to ``mean``
    and ``cov``.

    Args:
        key: a single PRNG key.
        mean: the mean, shape ``(..., n)``.
        cov: the covariance, shape ``(..., n, n)``, symmetric positive definite (for
            ``"cholesky"``; positive semi-definite for ``"svd"``/``"eigh"``).
        shape: the batch shape of the result; default the broadcast of ``mean.shape[:-1]``
            and ``cov.shape[:-2]``, which must broadcast to it.
        dtype: a float dtype; default ``mean``'s (promoted) dtype.
        method: ``"cholesky"`` (default), or ``"svd"``/``"eigh"`` for singular covariances
            (these need ``derivax.numpy.linalg``).

    Returns:
        An array of shape ``(*shape, n)``.

    Raises:
        ValueError: mismatched shapes, a bad ``method`` or a non-float ``dtype``.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import random
        >>> cov = dnp.array([[1.0, 0.8], [0.8, 1.0]])
        >>> x = random.multivariate_normal(random.key(0), dnp.zeros(2), cov, (5000,))
        >>> x.shape, round(float(dnp.mean(x[:, 0] * x[:, 1])), 1)
        ((5000, 2), 0.8)
    """
    data, _ = K.check_key("multivariate_normal", key)
    if method not in ("cholesky", "svd", "eigh"):
        raise ValueError(
            f"multivariate_normal: method must be 'cholesky', 'svd' or 'eigh', got {method!r}."
        )
    mean, cov = C.param(mean), C.param(cov)
    dt = _dtypes.result_type(mean, cov)
    if not _dtypes.is_inexact(dt):
        dt = _dtypes.default_float_dtype()
    dtype = dt if dtype is None else C.float_dtype("multivariate_normal", dtype)
    mean, cov = C.param(mean, dt), C.param(cov, dt)
    ms, cs = get_aval(mean).shape, get_aval(cov).shape
    if len(ms) < 1:
        raise ValueError(f"multivariate_normal needs mean.ndim >= 1, got mean.shape {ms}.")
    if len(cs) < 2:
        raise ValueError(f"multivariate_normal needs cov.ndim >= 2, got cov.shape {cs}.")
    n = ms[-1]
    if cs[-2:] != (n, n):
        raise ValueError(
            f"multivariate_normal needs cov.shape == (..., {n}, {n}) to match mean.shape "
            f"{ms}, got cov.shape {cs}."
        )
    if shape is None:
        shape = tuple(np.broadcast_shapes(ms[:-1], cs[:-2]))
    else:
        shape = K.canonical_shape("multivariate_normal", shape)
        C.check_shape(
            "multivariate_normal", shape, mean_batch_shape=ms[:-1], cov_batch_shape=cs[:-2]
        )
    if method == "cholesky":
        factor = _cholesky(cov)
    else:
        linalg = getattr(dnp, "linalg", None)
        if linalg is None:
            raise NotImplementedError(
                f"multivariate_normal(method={method!r}) needs derivax.numpy.linalg, which is "
                "not available in this build; use method='cholesky' (covariance must be "
                "positive definite)."
            )
        if method == "svd":
            u, s, _ = linalg.svd(cov)
            factor = u * dnp.sqrt(s[..., None, :])
        else:
            w, v = linalg.eigh(cov)
            factor = v * dnp.sqrt(w[..., None, :])
    z = C.normal_data(data, (*shape, n), dtype)
    return mean + dnp.einsum("...ij,...j->...i", factor.astype(dtype), z)


def _static_dim(fname, x, what):
    v = int(concrete_or_error(x, f"{what} of derivax.random.{fname}"))
    if v < 0:
        raise ValueError(f"{fname}: {what} must be non-negative, got {v}.")
    return v


def orthogonal(key, n, shape=(), dtype=None, m=None):
    """Random orthogonal matrices, uniform over the orthogonal group (Haar measure).

    With ``m != n`` the result is semi-orthogonal: orthonormal rows if ``n <= m``,
    orthonormal columns if ``m <= n``. Computed as the Q of the QR decomposition of a
    normal matrix, with the signs fixed so that R has a positive diagonal (Mezzadri 2007).

    Args:
        key: a single PRNG key.
        n: the number of rows (a concrete int).
        shape: the batch shape. Default ``()``.
        dtype: a float dtype; default float32.
        m: the number of columns; default ``n``.

    Returns:
        An array of shape ``(*shape, n, m)``.

    Raises:
        ValueError: a negative size or a non-float ``dtype``.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import random
        >>> q = random.orthogonal(random.key(0), 3)
        >>> bool(abs(q @ q.T - dnp.eye(3)).max() < 1e-5)
        True
    """
    data, _ = K.check_key("orthogonal", key)
    shape = K.canonical_shape("orthogonal", shape)
    dtype = C.float_dtype("orthogonal", dtype)
    n = _static_dim("orthogonal", n, "the number of rows `n`")
    m = n if m is None else _static_dim("orthogonal", m, "the number of columns `m`")
    z = C.normal_data(data, (*shape, max(n, m), min(n, m)), dtype)
    if min(n, m) == 0:
        return dnp.zeros((*shape, n, m), dtype)
    q = _orthonormal_columns(z)
    return dnp.swapaxes(q, -1, -2) if n < m else q


def _generalized_normal(data, p, shape, dtype):
    keys = K.split_data(data, (2,))
    k1 = S.reshape(S.slice_in_dim(keys, 0, 1), (2,))
    k2 = S.reshape(S.slice_in_dim(keys, 1, 2), (2,))
    a = dnp.full(shape, 1 / p, dtype)
    g = G.gamma_data(k1, a)
    r = D.rademacher(k2, shape, dtype)
    return r * g ** (1 / p)


def ball(key, d, p=2, shape=(), dtype=None):
    """Random points uniform in the unit ball of the ``p``-norm in ``d`` dimensions.

    Uses the method of Barthe, Guedon, Mendelson and Naor (2005): generalized normal
    coordinates divided by ``(sum |g|**p + E) ** (1/p)`` with an exponential ``E``.

    Args:
        key: a single PRNG key.
        d: the dimension (a concrete int).
        p: the norm's exponent (> 0). Default 2.
        shape: the batch shape. Default ``()``.
        dtype: a float dtype; default float32.

    Returns:
        An array of shape ``(*shape, d)`` whose rows have ``p``-norm below 1.

    Raises:
        ValueError: a negative ``d`` or a non-float ``dtype``.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import random
        >>> x = random.ball(random.key(0), 3, shape=(100,))
        >>> x.shape, bool((dnp.sqrt((x * x).sum(-1)) < 1).all())
        ((100, 3), True)
    """
    data, _ = K.check_key("ball", key)
    shape = K.canonical_shape("ball", shape)
    dtype = C.float_dtype("ball", dtype)
    d = _static_dim("ball", d, "the dimension `d`")
    p = float(p)
    if not p > 0:
        raise ValueError(f"ball: p must be positive, got {p}.")
    keys = K.split_data(data, (2,))
    k1 = S.reshape(S.slice_in_dim(keys, 0, 1), (2,))
    k2 = S.reshape(S.slice_in_dim(keys, 1, 2), (2,))
    g = _generalized_normal(k1, p, (*shape, d), dtype)
    e = C.exponential_data(k2, shape, dtype)
    radius = (dnp.sum(dnp.abs(g) ** p, axis=-1) + e) ** (1 / p)
    return g / radius[..., None]
