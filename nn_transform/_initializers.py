"""Initializers in the transform idiom: ``init(shape, dtype) -> array``.

Inside a transformed function an initializer draws its key with `next_rng_key`, so it
takes only the shape and dtype (what `get_parameter` passes). The sampling itself is
``derivax.nn.initializers`` and ``derivax.random``; `from_derivax` adapts any initializer
of the form ``init(key, shape, dtype)``.
"""

from __future__ import annotations

import derivax.nn.initializers as dinit
import derivax.numpy as dnp
import derivax.random as dr

from ._base import next_rng_key

__all__ = [
    "Constant",
    "Initializer",
    "Orthogonal",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "VarianceScaling",
    "from_derivax",
]


def _dtype(dtype):
    return dnp.float32 if dtype is None else dtype


class Initializer:
    """Base class: ``initializer(shape, dtype) -> array``.

    Example:
        >>> import derivax.numpy as dnp
        >>> class Twos(Initializer):
        ...     def __call__(self, shape, dtype=dnp.float32):
        ...         return dnp.full(shape, 2.0, dtype)
        >>> Twos()((2,))
        Array([2., 2.], dtype=float32)
    """

    def __call__(self, shape, dtype=dnp.float32):
        raise NotImplementedError

    def __repr__(self):
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


class Constant(Initializer):
    """Every element equal to ``constant`` (a scalar or an array broadcast to the shape).

    Args:
        constant: the value.

    Example:
        >>> Constant(0.5)((2,))
        Array([0.5, 0.5], dtype=float32)
    """

    def __init__(self, constant):
        self.constant = constant

    def __call__(self, shape, dtype=dnp.float32):
        return dnp.broadcast_to(dnp.asarray(self.constant, _dtype(dtype)), tuple(shape))


class RandomNormal(Initializer):
    """Samples from ``N(mean, stddev^2)``.

    Args:
        stddev: the standard deviation.
        mean: the mean.

    Example:
        >>> import derivax.random as dr
        >>> import nn_transform as nt
        >>> w = nt.transform(lambda: RandomNormal(2.0)((1000,))).apply({}, dr.PRNGKey(0))
        >>> round(float(w.std()))
        2
    """

    def __init__(self, stddev=1.0, mean=0.0):
        self.stddev = stddev
        self.mean = mean

    def __call__(self, shape, dtype=dnp.float32):
        dtype = _dtype(dtype)
        sample = dinit.normal(self.stddev, dtype)(next_rng_key(), tuple(shape), dtype)
        return sample + dnp.asarray(self.mean, dtype)


class RandomUniform(Initializer):
    """Samples uniformly from ``[minval, maxval)``.

    Args:
        minval: the lower bound.
        maxval: the upper bound.

    Example:
        >>> import derivax.random as dr
        >>> import nn_transform as nt
        >>> w = nt.transform(lambda: RandomUniform(-1.0, 1.0)((100,))).apply({}, dr.PRNGKey(0))
        >>> bool((w >= -1).all() and (w < 1).all())
        True
    """

    def __init__(self, minval=0.0, maxval=1.0):
        self.minval = minval
        self.maxval = maxval

    def __call__(self, shape, dtype=dnp.float32):
        dtype = _dtype(dtype)
        return dr.uniform(next_rng_key(), tuple(shape), dtype, self.minval, self.maxval)


class TruncatedNormal(Initializer):
    """Samples ``mean + stddev * z`` with ``z`` a standard normal truncated to
    ``[lower, upper]`` (so the standard deviation is a little below ``stddev``).

    This is `Linear`'s default with ``stddev = 1 / sqrt(fan_in)``.

    Args:
        stddev: the scale.
        mean: the mean.
        lower: the lower truncation bound, in standard deviations.
        upper: the upper truncation bound.

    Example:
        >>> import derivax.random as dr
        >>> import nn_transform as nt
        >>> w = nt.transform(lambda: TruncatedNormal(0.1)((1000,))).apply({}, dr.PRNGKey(0))
        >>> bool((abs(w) <= 0.2).all())
        True
    """

    def __init__(self, stddev=1.0, mean=0.0, lower=-2.0, upper=2.0):
        self.stddev = stddev
        self.mean = mean
        self.lower = lower
        self.upper = upper

    def __call__(self, shape, dtype=dnp.float32):
        dtype = _dtype(dtype)
        init = dinit.truncated_normal(self.stddev, dtype, self.lower, self.upper)
        return init(next_rng_key(), tuple(shape), dtype) + dnp.asarray(self.mean, dtype)


class VarianceScaling(Initializer):
    """Variance ``scale / fan`` with the fan of the shape (``(in, out)`` for dense kernels,
    times the window size for convolution kernels ``(*window, in, out)``).

    Args:
        scale: the variance scale (2.0 for ReLU networks, He et al.).
        mode: ``"fan_in"``, ``"fan_out"`` or ``"fan_avg"``.
        distribution: ``"truncated_normal"`` (rescaled to keep the variance),
            ``"normal"`` or ``"uniform"``.

    Example:
        >>> import derivax.random as dr
        >>> import nn_transform as nt
        >>> w = nt.transform(lambda: VarianceScaling(1.0)((400, 300))).apply({}, dr.PRNGKey(0))
        >>> round(float(w.var() * 400), 1)
        1.0
    """

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal"):
        self.scale = scale
        self.mode = mode
        self.distribution = distribution
        dinit.variance_scaling(scale, mode, distribution)  # validates mode and distribution

    def __call__(self, shape, dtype=dnp.float32):
        shape, dtype = tuple(shape), _dtype(dtype)
        axes = {} if len(shape) >= 2 else {"in_axis": (), "out_axis": ()}
        init = dinit.variance_scaling(self.scale, self.mode, self.distribution, **axes)
        return init(next_rng_key(), shape, dtype)


class Orthogonal(Initializer):
    """A (scaled) orthogonal matrix, reshaped; the columns along ``axis`` are orthonormal.

    Args:
        scale: the multiplier.
        axis: the axis of the columns.

    Example:
        >>> import numpy as np
        >>> import derivax.random as dr
        >>> import nn_transform as nt
        >>> w = np.asarray(nt.transform(lambda: Orthogonal()((3, 3))).apply({}, dr.PRNGKey(0)))
        >>> bool(np.allclose(w.T @ w, np.eye(3), atol=1e-5))
        True
    """

    def __init__(self, scale=1.0, axis=-1):
        self.scale = scale
        self.axis = axis

    def __call__(self, shape, dtype=dnp.float32):
        dtype = _dtype(dtype)
        init = dinit.orthogonal(self.scale, self.axis, dtype)
        return init(next_rng_key(), tuple(shape), dtype)


def from_derivax(init) -> Initializer:
    """Adapt a ``derivax.nn.initializers`` function ``init(key, shape, dtype)`` to the
    ``(shape, dtype)`` form, drawing the key with `next_rng_key`.

    Args:
        init: the initializer, e.g. ``derivax.nn.initializers.he_normal()``.

    Returns:
        An `Initializer`.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> w_init = nt.initializers.from_derivax(derivax.nn.initializers.he_normal())
        >>> t = nt.transform(lambda x: nt.Linear(4, w_init=w_init)(x))
        >>> t.init(0, dnp.ones((1, 3)))["linear"]["w"].shape
        (3, 4)
    """
    return _FromDerivax(init)


class _FromDerivax(Initializer):
    def __init__(self, init):
        self.init = init

    def __call__(self, shape, dtype=dnp.float32):
        return self.init(next_rng_key(), tuple(shape), _dtype(dtype))
