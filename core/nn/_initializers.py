"""Parameter initializers with JAX's signatures and sampling.

Every public function here is a factory: it takes the initializer's settings and returns
``init(key, shape, dtype=None)``, a pure function of a PRNG key. ``dtype=None`` means the
dtype the factory was given, or else the default float dtype. The samples come from
``derivax.random`` with the same formulas as ``jax.nn.initializers``, so the same key gives
the same initial values.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _dtypes
from .. import numpy as dnp
from .._core import Tracer

__all__ = [
    "constant",
    "delta_orthogonal",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "kaiming_normal",
    "kaiming_uniform",
    "lecun_normal",
    "lecun_uniform",
    "normal",
    "ones",
    "orthogonal",
    "truncated_normal",
    "uniform",
    "variance_scaling",
    "xavier_normal",
    "xavier_uniform",
    "zeros",
]

# Standard deviation of a standard normal truncated to (-2, 2).
_TRUNCATED_STDDEV = 0.87962566103423978


def _random():
    from .. import random

    return random


def _shape(name, shape):
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    try:
        out = tuple(int(s) for s in shape)
    except TypeError:
        raise TypeError(f"{name}: shape must be a sequence of ints, got {shape!r}.") from None
    if any(s < 0 for s in out):
        raise ValueError(f"{name}: shape entries must be >= 0, got {out}.")
    return out


def _dtype(name, dtype, default):
    dt = dtype if dtype is not None else default
    dt = _dtypes.default_float_dtype() if dt is None else _dtypes.canonicalize_dtype(dt)
    if not _dtypes.is_inexact(dt):
        raise ValueError(
            f"{name}: initializers produce floating-point parameters; got dtype {dt.name}. "
            "Pass a float dtype such as derivax.numpy.float32."
        )
    return dt


def zeros(key, shape, dtype=None):
    """An initializer that returns zeros (``key`` is ignored).

    Args:
        key: a PRNG key (unused).
        shape: the parameter shape.
        dtype: the dtype (default float).

    Returns:
        An array of zeros.

    Example:
        >>> import derivax
        >>> derivax.nn.initializers.zeros(derivax.random.PRNGKey(0), (2,))
        Array([0., 0.], dtype=float32)
    """
    del key
    return dnp.zeros(_shape("zeros", shape), _dtype("zeros", dtype, None))


def ones(key, shape, dtype=None):
    """An initializer that returns ones (``key`` is ignored).

    Args:
        key: a PRNG key (unused).
        shape: the parameter shape.
        dtype: the dtype (default float).

    Returns:
        An array of ones.

    Example:
        >>> import derivax
        >>> derivax.nn.initializers.ones(derivax.random.PRNGKey(0), (2,))
        Array([1., 1.], dtype=float32)
    """
    del key
    return dnp.ones(_shape("ones", shape), _dtype("ones", dtype, None))


def constant(value, dtype=None):
    """An initializer that fills the parameter with ``value``.

    Args:
        value: a scalar (or an array broadcastable to the requested shape).
        dtype: the default dtype of the initializer.

    Returns:
        ``init(key, shape, dtype=None)``.

    Example:
        >>> import derivax
        >>> derivax.nn.initializers.constant(-7.0)(derivax.random.PRNGKey(0), (2,))
        Array([-7., -7.], dtype=float32)
    """

    def init(key, shape, dtype=dtype):
        del key
        dt = _dtype("constant", dtype, None)
        return dnp.broadcast_to(dnp.asarray(value, dt), _shape("constant", shape))

    return init


def uniform(scale=1e-2, dtype=None):
    """An initializer that samples uniformly from ``[0, scale)``.

    Args:
        scale: the upper bound.
        dtype: the default dtype of the initializer.

    Returns:
        ``init(key, shape, dtype=None)``.

    Example:
        >>> import derivax
        >>> w = derivax.nn.initializers.uniform(1.0)(derivax.random.PRNGKey(0), (1000,))
        >>> bool((w >= 0).all() and (w < 1).all())
        True
    """

    def init(key, shape, dtype=dtype):
        dt = _dtype("uniform", dtype, None)
        sample = _random().uniform(key, _shape("uniform", shape), dt)
        return sample * dnp.asarray(scale, dt)

    return init


def normal(stddev=1e-2, dtype=None):
    """An initializer that samples from a normal distribution with mean 0 and ``stddev``.

    Args:
        stddev: the standard deviation.
        dtype: the default dtype of the initializer.

    Returns:
        ``init(key, shape, dtype=None)``.

    Example:
        >>> import derivax
        >>> w = derivax.nn.initializers.normal(2.0)(derivax.random.PRNGKey(0), (10000,))
        >>> round(float(w.std()), 1)
        2.0
    """

    def init(key, shape, dtype=dtype):
        dt = _dtype("normal", dtype, None)
        return _random().normal(key, _shape("normal", shape), dt) * dnp.asarray(stddev, dt)

    return init


def truncated_normal(stddev=1e-2, dtype=None, lower=-2.0, upper=2.0):
    """An initializer that samples a normal truncated to ``[lower, upper]`` (in units of
    the standard normal), times ``stddev``.

    Args:
        stddev: the scale (the standard deviation before truncation).
        dtype: the default dtype of the initializer.
        lower: the lower truncation bound of the standard normal.
        upper: the upper truncation bound of the standard normal.

    Returns:
        ``init(key, shape, dtype=None)``.

    Example:
        >>> import derivax
        >>> w = derivax.nn.initializers.truncated_normal(1.0)(derivax.random.PRNGKey(0), (1000,))
        >>> bool((abs(w) <= 2).all())
        True
    """

    def init(key, shape, dtype=dtype):
        dt = _dtype("truncated_normal", dtype, None)
        shape = _shape("truncated_normal", shape)
        sample = _random().truncated_normal(key, lower, upper, shape, dt)
        return sample * dnp.asarray(stddev, dt)

    return init


def _axes_size(shape, axes, what):
    axes = (axes,) if isinstance(axes, (int, np.integer)) else tuple(axes)
    size = 1
    for a in axes:
        if not -len(shape) <= a < len(shape):
            raise ValueError(
                f"variance_scaling: {what} {a} is out of range for a parameter of shape {shape}."
            )
        size *= shape[a]
    return size


def _compute_fans(shape, in_axis, out_axis, batch_axis):
    """Fan-in and fan-out of a weight tensor: the in/out sizes times the receptive field
    (the product of every dimension that is neither in, out nor batch)."""
    if len(shape) < 2 and in_axis == -2 and out_axis == -1:
        raise ValueError(
            f"variance_scaling: cannot tell the input and output sizes of a parameter of shape "
            f"{shape} with the default in_axis=-2, out_axis=-1; it must be at least 2-D, or "
            "pass in_axis and out_axis explicitly."
        )
    in_size = _axes_size(shape, in_axis, "in_axis")
    out_size = _axes_size(shape, out_axis, "out_axis")
    batch_size = _axes_size(shape, batch_axis, "batch_axis")
    receptive = math.prod(shape) / in_size / out_size / batch_size
    return in_size * receptive, out_size * receptive


_MODES = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
_DISTRIBUTIONS = ("truncated_normal", "normal", "uniform")


def variance_scaling(scale, mode, distribution, in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
    """An initializer whose variance is ``scale / n``, with ``n`` a fan of the shape.

    The fans count the input (``in_axis``) and output (``out_axis``) sizes times the
    receptive field, i.e. every other dimension except ``batch_axis``: for a dense kernel
    ``(in, out)`` they are ``in`` and ``out``; for a convolution kernel ``(*window, in,
    out)`` they are multiplied by the window size.

    Args:
        scale: the variance scale.
        mode: ``"fan_in"``, ``"fan_out"``, ``"fan_avg"`` (their mean) or ``"fan_geo_avg"``
            (their geometric mean).
        distribution: ``"truncated_normal"`` (truncated to two standard deviations and
            rescaled to keep the variance), ``"normal"`` or ``"uniform"`` (on
            ``[-sqrt(3 v), sqrt(3 v))``).
        in_axis: the input axis or axes.
        out_axis: the output axis or axes.
        batch_axis: axes excluded from the fans.
        dtype: the default dtype of the initializer.

    Returns:
        ``init(key, shape, dtype=None)``.

    Raises:
        ValueError: for an unknown ``mode`` or ``distribution``, or a shape whose fans
            cannot be computed.

    Example:
        >>> import derivax
        >>> init = derivax.nn.initializers.variance_scaling(2.0, "fan_in", "normal")
        >>> w = init(derivax.random.PRNGKey(0), (400, 300))
        >>> round(float(w.var() * 400), 1)
        2.0
    """
    if mode not in _MODES:
        raise ValueError(f"variance_scaling: mode must be one of {_MODES}, got {mode!r}.")
    if distribution not in _DISTRIBUTIONS:
        raise ValueError(
            f"variance_scaling: distribution must be one of {_DISTRIBUTIONS}, got {distribution!r}."
        )

    def init(key, shape, dtype=dtype):
        shape = _shape("variance_scaling", shape)
        dt = _dtype("variance_scaling", dtype, None)
        fan_in, fan_out = _compute_fans(shape, in_axis, out_axis, batch_axis)
        denominator = {
            "fan_in": fan_in,
            "fan_out": fan_out,
            "fan_avg": (fan_in + fan_out) / 2,
            "fan_geo_avg": math.sqrt(fan_in * fan_out),
        }[mode]
        variance = dnp.asarray(scale / denominator, dt)
        rnd = _random()
        if distribution == "truncated_normal":
            stddev = dnp.sqrt(variance) / dnp.asarray(_TRUNCATED_STDDEV, dt)
            return rnd.truncated_normal(key, -2, 2, shape, dt) * stddev
        if distribution == "normal":
            return rnd.normal(key, shape, dt) * dnp.sqrt(variance)
        return rnd.uniform(key, shape, dt, -1) * dnp.sqrt(3 * variance)

    return init


def _named_scaling(scale, mode, distribution, name, doc_stat):
    def factory(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
        return variance_scaling(scale, mode, distribution, in_axis, out_axis, batch_axis, dtype)

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = f"""``variance_scaling({scale}, "{mode}", "{distribution}")``: {doc_stat}

    Args:
        in_axis: the input axis or axes (default -2).
        out_axis: the output axis or axes (default -1).
        batch_axis: axes excluded from the fans.
        dtype: the default dtype of the initializer.

    Returns:
        ``init(key, shape, dtype=None)``.

    Example:
        >>> import derivax
        >>> w = derivax.nn.initializers.{name}()(derivax.random.PRNGKey(0), (3, 4))
        >>> w.shape
        (3, 4)
    """
    return factory


glorot_uniform = _named_scaling(
    1.0, "fan_avg", "uniform", "glorot_uniform", "Glorot (Xavier) uniform, variance 2 / (in + out)."
)
glorot_normal = _named_scaling(
    1.0,
    "fan_avg",
    "truncated_normal",
    "glorot_normal",
    "Glorot (Xavier) truncated normal, variance 2 / (in + out).",
)
lecun_uniform = _named_scaling(
    1.0, "fan_in", "uniform", "lecun_uniform", "LeCun uniform, variance 1 / in."
)
lecun_normal = _named_scaling(
    1.0, "fan_in", "truncated_normal", "lecun_normal", "LeCun truncated normal, variance 1 / in."
)
he_uniform = _named_scaling(
    2.0, "fan_in", "uniform", "he_uniform", "He (Kaiming) uniform, variance 2 / in."
)
he_normal = _named_scaling(
    2.0,
    "fan_in",
    "truncated_normal",
    "he_normal",
    "He (Kaiming) truncated normal, variance 2 / in.",
)
xavier_uniform = glorot_uniform
xavier_normal = glorot_normal
kaiming_uniform = he_uniform
kaiming_normal = he_normal


def _qr(a):
    """QR of a 2-D array: derivax.numpy.linalg when it has ``qr``, else NumPy (eagerly)."""
    linalg = getattr(dnp, "linalg", None)
    if linalg is not None and hasattr(linalg, "qr"):
        return linalg.qr(a)
    if isinstance(a, Tracer):
        from .._core import ConcretizationTypeError

        raise ConcretizationTypeError(
            "orthogonal: the QR decomposition needs concrete values here; call the "
            "initializer outside jit/vmap (initialization normally runs once, eagerly)."
        )
    q, r = np.linalg.qr(np.asarray(a))
    return dnp.asarray(q.astype(a.dtype)), dnp.asarray(r.astype(a.dtype))


def orthogonal(scale=1.0, column_axis=-1, dtype=None):
    """An initializer that samples a (semi-)orthogonal matrix, uniformly over such matrices.

    The parameter is viewed as a matrix whose columns are along ``column_axis`` and whose
    rows are all the other axes (flattened). A Gaussian matrix of that size (or its
    transpose, when it is wide) is QR-decomposed and ``Q``'s columns are sign-corrected
    with ``diag(R)``.

    Args:
        scale: multiplies the matrix.
        column_axis: the axis of the columns.
        dtype: the default dtype of the initializer.

    Returns:
        ``init(key, shape, dtype=None)``.

    Raises:
        ValueError: for a shape of fewer than two dimensions.

    Example:
        >>> import numpy as np
        >>> import derivax
        >>> w = derivax.nn.initializers.orthogonal()(derivax.random.PRNGKey(0), (3, 3))
        >>> bool(np.allclose(np.asarray(w.T @ w), np.eye(3), atol=1e-5))
        True
    """

    def init(key, shape, dtype=dtype):
        shape = _shape("orthogonal", shape)
        dt = _dtype("orthogonal", dtype, None)
        if len(shape) < 2:
            raise ValueError(
                f"orthogonal: the initializer needs a shape of at least 2 dimensions, got {shape}."
            )
        col = column_axis % len(shape)
        n_cols = shape[col]
        n_rows = math.prod(shape) // n_cols if n_cols else 0
        wide = n_rows < n_cols
        matrix_shape = (n_cols, n_rows) if wide else (n_rows, n_cols)
        a = _random().normal(key, matrix_shape, dt)
        q, r = _qr(a)
        q = q * dnp.sign(_diag(r))
        if wide:
            q = q.T
        rest = tuple(s for i, s in enumerate(shape) if i != col)
        q = dnp.reshape(q, (*rest, n_cols))
        q = dnp.moveaxis(q, -1, col)
        return dnp.asarray(scale, dt) * q

    return init


def _diag(r):
    n = min(r.shape)
    idx = dnp.arange(n)
    return r[idx, idx]


def delta_orthogonal(scale=1.0, column_axis=-1, dtype=None):
    """Delta-orthogonal initializer for convolution kernels (Xiao et al., 2018).

    The kernel ``(*window, in, out)`` is zero except at the window's centre, which holds an
    orthogonal ``(in, out)`` matrix; a convolution with it preserves norms at
    initialization.

    Args:
        scale: multiplies the matrix.
        column_axis: the axis of the columns of the centre matrix.
        dtype: the default dtype of the initializer.

    Returns:
        ``init(key, shape, dtype=None)``.

    Raises:
        ValueError: unless the shape has 3, 4 or 5 dimensions and ``in <= out``.

    Example:
        >>> import derivax
        >>> w = derivax.nn.initializers.delta_orthogonal()(derivax.random.PRNGKey(0), (3, 3, 2, 2))
        >>> float(abs(w[0, 0]).sum())
        0.0
    """

    def init(key, shape, dtype=dtype):
        shape = _shape("delta_orthogonal", shape)
        dt = _dtype("delta_orthogonal", dtype, None)
        if len(shape) not in (3, 4, 5):
            raise ValueError(
                "delta_orthogonal: the initializer needs a convolution kernel of 3, 4 or 5 "
                f"dimensions (*window, in, out), got shape {shape}."
            )
        if shape[-1] < shape[-2]:
            raise ValueError(
                f"delta_orthogonal: the input size {shape[-2]} must not exceed the output size "
                f"{shape[-1]} (shape {shape}); a norm-preserving kernel needs in <= out."
            )
        centre_matrix = orthogonal(scale, column_axis, dt)(key, shape[-2:])
        centre = tuple((k - 1) // 2 for k in shape[:-2])
        return dnp.zeros(shape, dt).at[centre].set(centre_matrix)

    return init
