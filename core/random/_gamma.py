"""Gamma variates (Marsaglia and Tsang's method) and the distributions built on them.

Marsaglia-Tsang rejection sampling draws until a proposal is accepted, a data-dependent
number of rounds, so the sampler is a primitive, ``random_gamma``, whose implementation runs
the loop in NumPy (as JAX's ``random_gamma_p`` is one too). Every value ``a[i]`` uses its own
key, ``split(key, a.size)[i]``, and within it the same sequence of splits as JAX, so the
accept/reject decisions are JAX's.

For ``a < 1`` the sampler draws ``Gamma(a + 1)`` and multiplies by ``U ** (1 / a)``; in log
space (``loggamma``) it adds ``log(U) / a`` instead, which stays accurate when the sample
underflows.

Samples are differentiable in ``a`` by implicit reparameterization: a second primitive,
``random_gamma_grad``, gives ``dx/da`` from the incomplete gamma function.
"""

from __future__ import annotations

import math

import numpy as np

from .._ad_util import Zero
from .._core import Primitive, ShapedArray, get_aval
from ..lax import _elementwise as E
from ..lax import _structural as S
from ..lax._util import val, wrap
from . import _continuous as C
from . import _keys as K
from . import _np_kernels as NK


def _gamma_lanes(keys, alpha, log_space):
    """One Marsaglia-Tsang sample per lane: ``keys`` (n, 2) uint32, ``alpha`` (n,)."""
    dt = alpha.dtype.type
    one, third = dt(1), dt(1.0 / 3.0)
    boost = alpha >= one
    alpha_orig = alpha
    alpha = np.where(boost, alpha, alpha + one)
    d = alpha - third
    c = third / np.sqrt(d)
    pair = NK.split(keys, 2)
    key, subkey = pair[:, 0], pair[:, 1]
    n = alpha.shape[0]
    X = np.zeros(n, alpha.dtype)
    V = np.ones(n, alpha.dtype)
    U = np.full(n, 2, alpha.dtype)
    active = np.ones(n, bool)
    while active.any():
        idx = np.nonzero(active)[0]
        three = NK.split(key[idx], 3)
        key[idx] = three[:, 0]
        x_key, u_key = three[:, 1], three[:, 2]
        x = np.zeros(idx.size, alpha.dtype)
        v = np.full(idx.size, -1, alpha.dtype)
        c_i = c[idx]
        inner = v <= 0
        while inner.any():
            j = np.nonzero(inner)[0]
            two = NK.split(x_key[j], 2)
            x_key[j] = two[:, 0]
            x[j] = NK.normal(two[:, 1], (), alpha.dtype)
            v[j] = NK.fma(x[j], c_i[j], one)
            inner = v <= 0
        X[idx] = x * x
        V[idx] = v * v * v
        U[idx] = NK.uniform(u_key, (), alpha.dtype)
        Xi, Vi, Ui, di = X[idx], V[idx], U[idx], d[idx]
        with np.errstate(all="ignore"):
            cond1 = Ui >= NK.fma(dt(-0.0331), Xi * Xi, one)
            rhs = Xi * dt(0.5) + di * ((one - Vi) + NK.log(Vi))
            cond2 = NK.log(Ui) >= rhs
        active[idx] = cond1 & cond2
    with np.errstate(all="ignore"):
        if log_space:
            log_u = NK.log1p(-NK.uniform(subkey, (), alpha.dtype))  # -exponential
            log_boost = np.where(boost | (log_u == 0), dt(0), log_u * (one / alpha_orig))
            return (NK.log(d) + NK.log(V)) + log_boost
        u = one - NK.uniform(subkey, (), alpha.dtype)
        factor = np.where(boost, one, np.power(u, one / alpha_orig))
        return (d * V) * factor


def _gamma_impl(keys, a, *, log_space):
    kv, av = val(keys), val(a)
    out_dtype = av.dtype
    work = av.astype(np.float32) if av.dtype not in (np.float32, np.float64) else av
    lead = kv.shape[:-1]
    per_key = int(np.prod(av.shape[len(lead) :], dtype=np.int64))
    lane_keys = NK.split(kv.reshape(-1, 2), per_key).reshape(-1, 2)
    flat = work.reshape(-1)
    out = np.full_like(flat, np.nan)  # for a <= 0 and NaN
    ok = flat > 0
    if ok.any():
        out[ok] = _gamma_lanes(lane_keys[ok], flat[ok], log_space)
    return wrap(out.reshape(av.shape).astype(out_dtype))


def _gamma_abstract_eval(keys, a, *, log_space):
    lead = keys.shape[:-1]
    if keys.dtype != np.uint32 or not keys.shape or keys.shape[-1] != 2:
        raise TypeError(f"random_gamma needs uint32 key data (..., 2), got {keys.str_short()}.")
    if a.shape[: len(lead)] != lead:
        raise TypeError(
            f"random_gamma: the shape {a.shape} of `a` must start with the key batch shape {lead}."
        )
    return ShapedArray(a.shape, a.dtype)


def _gamma_batch(vals, dims, *, log_space):
    keys, a = vals
    size = next(get_aval(v).shape[d] for v, d in zip(vals, dims, strict=True) if d is not None)
    keys = S.bdim_to_front(keys, dims[0], size)
    a = S.bdim_to_front(a, dims[1], size)
    return random_gamma_p.bind(keys, a, log_space=log_space), 0


# --------------------------------------------------------------------------- derivative in a
# A gamma sample is x = F^-1(u; a) for the CDF F(x; a) = P(a, x), the regularized lower
# incomplete gamma function, and a uniform u that does not depend on a. Differentiating
# F(x(a); a) = u gives the implicit reparameterization gradient (Figurnov et al., 2018):
#     dx/da = -(dP/da)(a, x) / p(x; a),   p(x; a) = x**(a-1) e**-x / Gamma(a).
# dP/da is a central difference of P computed in float64 (series below a + 1, Legendre's
# continued fraction for 1 - P above), accurate to about 1e-9 relative: far below float32
# rounding.

_lgamma64 = np.frompyfunc(math.lgamma, 1, 1)


def _log_prefactor(a, x):
    """log(x**a e**-x / Gamma(a))."""
    return a * np.log(x) - x - _lgamma64(a).astype(np.float64)


def _regularized_gamma(a, x):
    """``(P, Q)`` of the regularized incomplete gamma functions, float64, x > 0, a > 0."""
    use_series = x < a + 1
    # Series: P = x**a e**-x / Gamma(a) * sum_n x**n / (a (a+1) ... (a+n)).
    term = 1.0 / a
    total = term.copy()
    for n in range(1, 400):
        term = term * x / (a + n)
        total = total + term
        if (np.abs(term) <= np.abs(total) * 1e-17)[use_series].all():
            break
    p_series = total * np.exp(_log_prefactor(a, x))
    # Continued fraction (modified Lentz): Q = x**a e**-x / Gamma(a) * 1 / (x + 1 - a - ...).
    tiny = 1e-300
    b = x + 1.0 - a
    c = np.full_like(x, 1.0 / tiny)
    d = 1.0 / np.where(np.abs(b) < tiny, tiny, b)
    h = d.copy()
    for i in range(1, 400):
        an = -i * (i - a)
        b = b + 2.0
        d = an * d + b
        d = 1.0 / np.where(np.abs(d) < tiny, tiny, d)
        c = b + an / c
        c = np.where(np.abs(c) < tiny, tiny, c)
        delta = d * c
        h = h * delta
        if (np.abs(delta - 1.0) <= 1e-16)[~use_series].all():
            break
    q_frac = np.exp(_log_prefactor(a, x)) * h
    p = np.where(use_series, p_series, 1.0 - q_frac)
    q = np.where(use_series, 1.0 - p_series, q_frac)
    return p, q


def _np_gamma_grad(a, x):
    """dx/da for gamma samples ``x`` of shape ``a`` (arrays of one shape)."""
    dt = a.dtype
    a64 = a.astype(np.float64)
    x64 = np.maximum(x.astype(np.float64), np.finfo(np.float64).tiny)
    with np.errstate(all="ignore"):
        h = 1e-5 * np.maximum(a64, 1e-3)
        p_hi, q_hi = _regularized_gamma(a64 + h, x64)
        p_lo, q_lo = _regularized_gamma(a64 - h, x64)
        # Differentiate whichever of P and Q is small, to avoid cancellation.
        use_p = p_hi + p_lo < q_hi + q_lo
        dp_da = np.where(use_p, p_hi - p_lo, q_lo - q_hi) / (2 * h)
        density = np.exp(_log_prefactor(a64, x64) - np.log(x64))
        out = -dp_da / density
        out = np.where(np.isfinite(out), out, 0.0)
    return out.astype(dt)


def _gamma_grad_impl(a, x):
    return wrap(_np_gamma_grad(val(a), val(x)))


random_gamma_grad_p = Primitive("random_gamma_grad")
random_gamma_grad_p.impl = _gamma_grad_impl
random_gamma_grad_p.abstract_eval = lambda a, x: ShapedArray(a.shape, a.dtype)
random_gamma_grad_p.batch = E._elementwise_batch(random_gamma_grad_p)
random_gamma_grad_p.no_rule_reasons["jvp"] = (
    "second derivatives of gamma samples with respect to their shape parameter are not implemented."
)


def _gamma_jvp(primals, tangents, *, log_space):
    keys, a = primals
    ans = random_gamma_p.bind(keys, a, log_space=log_space)
    t = tangents[1]
    if type(t) is Zero:
        return ans, Zero.like(ans)
    sample = E.exp(ans) if log_space else ans
    grad = random_gamma_grad_p.bind(a, sample)
    if log_space:  # d log(x) = dx / x
        grad = E.div(grad, sample)
    return ans, E.mul(t, grad)


random_gamma_p = Primitive("random_gamma")
random_gamma_p.impl = _gamma_impl
random_gamma_p.abstract_eval = _gamma_abstract_eval
random_gamma_p.batch = _gamma_batch
random_gamma_p.jvp = _gamma_jvp


def _gamma(fname, key, a, shape, dtype, log_space):
    data, _ = K.check_key(fname, key)
    dtype = C.float_dtype(fname, dtype)
    a = C.param(a, dtype)
    if shape is None:
        shape = get_aval(a).shape
    else:
        shape = K.canonical_shape(fname, shape)
        C.check_shape(fname, shape, a=a)
    return gamma_data(data, C.to_shape(a, shape), log_space)


def gamma_data(data, a, log_space=False):
    return random_gamma_p.bind(data, a, log_space=bool(log_space))


def gamma(key, a, shape=None, dtype=None):
    """Gamma random values with shape ``a`` and unit scale: density ``x**(a-1) e**-x / G(a)``.

    Divide by a rate (or multiply by a scale) for other Gamma distributions. Samples are
    differentiable with respect to ``a`` (implicit reparameterization), and so are `beta`
    and `dirichlet`.

    Args:
        key: a single PRNG key.
        a: the shape parameter (> 0), a float or array; NaN or ``a <= 0`` gives NaN.
        shape: the result's shape; default ``a``'s shape.
        dtype: a float dtype; default float32 (float16 and bfloat16 are sampled in
            float32 and rounded).

    Returns:
        An array of ``shape`` and ``dtype``.

    Raises:
        ValueError: ``a`` does not broadcast to ``shape``, or a non-float ``dtype``.

    Example:
        >>> from derivax import random
        >>> x = random.gamma(random.key(0), 3.0, (10000,))
        >>> round(float(x.mean()), 1)
        3.0
    """
    return _gamma("gamma", key, a, shape, dtype, log_space=False)


def loggamma(key, a, shape=None, dtype=None):
    """The logarithm of `gamma` samples, computed in log space.

    ``exp(loggamma(key, a))`` equals ``gamma(key, a)`` up to rounding, but stays accurate
    for small ``a``, where gamma samples underflow to 0.

    Args:
        key: a single PRNG key.
        a: the shape parameter (> 0).
        shape: the result's shape; default ``a``'s shape.
        dtype: a float dtype; default float32.

    Returns:
        An array of ``shape`` and ``dtype``.

    Example:
        >>> from derivax import random
        >>> x = random.loggamma(random.key(0), 0.01, (5,))
        >>> bool((x < 0).all())
        True
    """
    return _gamma("loggamma", key, a, shape, dtype, log_space=True)


def beta(key, a, b, shape=None, dtype=None):
    """Beta random values: density proportional to ``x**(a-1) (1-x)**(b-1)`` on [0, 1].

    Computed as ``Ga / (Ga + Gb)`` from two gamma samples, in log space.

    Args:
        key: a single PRNG key.
        a: the first shape parameter (> 0).
        b: the second shape parameter (> 0).
        shape: the result's shape; default the broadcast shape of ``a`` and ``b``.
        dtype: a float dtype; default float32.

    Returns:
        An array of ``shape`` and ``dtype``.

    Raises:
        ValueError: parameters that do not broadcast to ``shape``.

    Example:
        >>> from derivax import random
        >>> x = random.beta(random.key(0), 2.0, 6.0, (10000,))
        >>> round(float(x.mean()), 2)
        0.25
    """
    data, _ = K.check_key("beta", key)
    dtype = C.float_dtype("beta", dtype)
    a, b = C.param(a, dtype), C.param(b, dtype)
    if shape is None:
        shape = C.broadcast_shape(a, b)
    else:
        shape = K.canonical_shape("beta", shape)
        C.check_shape("beta", shape, a=a, b=b)
    keys = K.split_data(data, (2,))
    key_a = S.reshape(S.slice_in_dim(keys, 0, 1), (2,))
    key_b = S.reshape(S.slice_in_dim(keys, 1, 2), (2,))
    log_a = gamma_data(key_a, C.to_shape(a, shape), log_space=True)
    log_b = gamma_data(key_b, C.to_shape(b, shape), log_space=True)
    top = E.max(log_a, log_b)
    ga = E.exp(E.sub(log_a, top))
    gb = E.exp(E.sub(log_b, top))
    return E.div(ga, E.add(ga, gb))


def dirichlet(key, alpha, shape=None, dtype=None):
    """Dirichlet random vectors: non-negative, summing to 1 along the last axis.

    Computed as normalised gamma samples (a softmax of `loggamma` samples).

    Args:
        key: a single PRNG key.
        alpha: the concentrations, an array of shape ``(..., k)``.
        shape: the batch shape of the result (without the last axis); it must broadcast
            with ``alpha.shape[:-1]``. Default ``alpha.shape[:-1]``.
        dtype: a float dtype; default float32.

    Returns:
        An array of shape ``(*shape, k)``.

    Raises:
        ValueError: ``alpha`` has rank 0, or its batch shape does not broadcast to
            ``shape``.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import random
        >>> x = random.dirichlet(random.key(0), dnp.array([1.0, 2.0, 3.0]), (4,))
        >>> x.shape, bool(abs(x.sum(-1) - 1).max() < 1e-6)
        ((4, 3), True)
    """
    data, _ = K.check_key("dirichlet", key)
    dtype = C.float_dtype("dirichlet", dtype)
    alpha = C.param(alpha, dtype)
    ashape = get_aval(alpha).shape
    if not ashape:
        raise ValueError("dirichlet: `alpha` must have rank >= 1 (the last axis holds k).")
    if shape is None:
        shape = ashape[:-1]
    else:
        shape = K.canonical_shape("dirichlet", shape)
        C.check_shape("dirichlet", shape, alpha_batch_shape=ashape[:-1])
    full = (*shape, ashape[-1])
    logs = gamma_data(data, C.to_shape(alpha, full), log_space=True)
    top = S.reduce_max(logs, (len(full) - 1,))
    e = E.exp(E.sub(logs, S.broadcast_in_dim(top, full, tuple(range(len(shape))))))
    total = S.broadcast_in_dim(S.reduce_sum(e, (len(full) - 1,)), full, tuple(range(len(shape))))
    return E.div(e, total)
