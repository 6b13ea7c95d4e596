"""Simple transformations: scaling by constants and schedules, momentum, weight decay, noise."""

from __future__ import annotations

from typing import Any, NamedTuple

import derivax.numpy as dnp
from derivax import random
from derivax import tree as _tree

from ._base import (
    EmptyState,
    GradientTransformation,
    identity,
    init_empty_state,
    require_params,
)
from ._numerics import safe_norm, safe_root_mean_squares
from ._tree_utils import (
    safe_increment,
    tree_bias_correction,
    tree_update_moment,
    tree_zeros_like,
)
from ._wrappers import masked

__all__ = [
    "AddDecayedWeightsState",
    "AddNoiseState",
    "EmaState",
    "ScaleByScheduleState",
    "TraceState",
    "add_decayed_weights",
    "add_noise",
    "centralize",
    "ema",
    "scale",
    "scale_by_learning_rate",
    "scale_by_param_block_rms",
    "scale_by_schedule",
    "scale_by_sign",
    "scale_by_trust_ratio",
    "trace",
]


def _zero_count():
    return dnp.zeros((), dnp.int32)


class ScaleByScheduleState(NamedTuple):
    """State of `scale_by_schedule`: the number of updates so far.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.scale_by_schedule(lambda count: 0.1).init(None)._fields
        ('count',)
    """

    count: Any


def scale(step_size: Any) -> GradientTransformation:
    """Multiplies every update by a constant.

    Args:
        step_size: A scalar (Python number or 0-d array).

    Returns:
        A stateless `GradientTransformation`.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.scale(-2.0).update(dnp.ones(2), optim.EmptyState())[0].tolist()
        [-2.0, -2.0]
    """

    def update(updates, state, params=None):
        del params
        return _tree.map(lambda g: (step_size * g).astype(g.dtype), updates), state

    return GradientTransformation(init_empty_state, update)


def scale_by_schedule(step_size_fn: Any) -> GradientTransformation:
    """Multiplies updates by ``step_size_fn(count)``, where ``count`` counts the updates.

    Args:
        step_size_fn: A schedule: a function of the step count (an int32 array, 0 on the
            first update) returning a scalar.

    Returns:
        A `GradientTransformation` with a `ScaleByScheduleState`.

    Raises:
        TypeError: If ``step_size_fn`` is not callable.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> tx = optim.scale_by_schedule(lambda count: 1.0 / (count + 1))
        >>> state = tx.init(dnp.ones(1))
        >>> u, state = tx.update(dnp.ones(1), state)
        >>> u, state = tx.update(dnp.ones(1), state)
        >>> u.tolist()
        [0.5]
    """
    if not callable(step_size_fn):
        raise TypeError(
            f"scale_by_schedule: step_size_fn must be a function of the step count, got "
            f"{type(step_size_fn).__name__}. For a constant use optim.scale(value)."
        )

    def init(params):
        del params
        return ScaleByScheduleState(count=_zero_count())

    def update(updates, state, params=None):
        del params
        step = step_size_fn(state.count)
        updates = _tree.map(lambda g: dnp.asarray(step, dtype=g.dtype) * g, updates)
        return updates, ScaleByScheduleState(count=safe_increment(state.count))

    return GradientTransformation(init, update)


def scale_by_learning_rate(learning_rate: Any, *, flip_sign: bool = True) -> GradientTransformation:
    """Scales updates by a learning rate (a constant or a schedule), negated by default.

    The last step of most optimizers: gradients point uphill, so the update is
    ``-learning_rate * direction``.

    Args:
        learning_rate: A scalar, or a schedule (a function of the step count). None
            gives `identity`.
        flip_sign: Multiply by ``-learning_rate`` (True) or ``+learning_rate``.

    Returns:
        A `GradientTransformation` (stateless for a constant, counting steps for a
        schedule).

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> tx = optim.scale_by_learning_rate(0.5)
        >>> tx.update(dnp.ones(2), tx.init(None))[0].tolist()
        [-0.5, -0.5]
    """
    if learning_rate is None:
        return identity()
    sign = -1 if flip_sign else 1
    if callable(learning_rate):
        return scale_by_schedule(lambda count: sign * learning_rate(count))
    return scale(sign * learning_rate)


def scale_by_sign() -> GradientTransformation:
    """Replaces each update by its sign (-1, 0 or 1).

    Returns:
        A stateless `GradientTransformation`.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.scale_by_sign().update(dnp.array([-3.0, 0.0, 2.0]), optim.EmptyState())[0].tolist()
        [-1.0, 0.0, 1.0]
    """

    def update(updates, state, params=None):
        del params
        return _tree.map(dnp.sign, updates), state

    return GradientTransformation(init_empty_state, update)


def scale_by_trust_ratio(
    min_norm: Any = 0.0, trust_coefficient: Any = 1.0, eps: Any = 0.0
) -> GradientTransformation:
    """Scales each parameter's update by ``trust_coefficient * ||param|| / (||update|| + eps)``.

    The layer-wise trust ratio of LARS and LAMB. Norms are per leaf (per parameter
    array); when either norm is zero the update is left unchanged.

    Args:
        min_norm: Lower bound of both norms (see `safe_norm`).
        trust_coefficient: Multiplies the ratio.
        eps: Added to the update norm.

    Returns:
        A stateless `GradientTransformation`; ``update`` needs ``params``.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> tx = optim.scale_by_trust_ratio()
        >>> tx.update(dnp.array([3.0, 4.0]), tx.init(None), dnp.array([0.0, 10.0]))[0].tolist()
        [6.0, 8.0]
    """

    def update(updates, state, params=None):
        require_params("scale_by_trust_ratio", params)

        def one(u, p):
            param_norm = safe_norm(p, min_norm)
            update_norm = safe_norm(u, min_norm)
            ratio = trust_coefficient * param_norm / (update_norm + eps)
            zero = dnp.logical_or(param_norm == 0.0, update_norm == 0.0)
            return u * dnp.where(zero, dnp.ones_like(ratio), ratio).astype(u.dtype)

        return _tree.map(one, updates, params), state

    return GradientTransformation(init_empty_state, update)


def scale_by_param_block_rms(min_scale: Any = 1e-3) -> GradientTransformation:
    """Scales each parameter's update by the root mean square of that parameter.

    Used by Adafactor so step sizes are relative to the parameter scale.

    Args:
        min_scale: Lower bound of the rms (see `safe_root_mean_squares`).

    Returns:
        A stateless `GradientTransformation`; ``update`` needs ``params``.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> tx = optim.scale_by_param_block_rms()
        >>> tx.update(dnp.ones(2), tx.init(None), dnp.array([2.0, -2.0]))[0].tolist()
        [2.0, 2.0]
    """

    def update(updates, state, params=None):
        require_params("scale_by_param_block_rms", params)
        out = _tree.map(
            lambda u, p: u * safe_root_mean_squares(p, min_scale).astype(u.dtype), updates, params
        )
        return out, state

    return GradientTransformation(init_empty_state, update)


def centralize() -> GradientTransformation:
    """Subtracts from each update of rank >= 2 its mean over all axes but the first.

    Gradient centralisation (Yong et al., 2020). Vectors and scalars are unchanged.

    Returns:
        A stateless `GradientTransformation`.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> g = dnp.array([[1.0, 3.0], [0.0, 4.0]])
        >>> optim.centralize().update(g, optim.EmptyState())[0].tolist()
        [[-1.0, 1.0], [-2.0, 2.0]]
    """

    def one(g):
        if dnp.ndim(g) < 2:
            return g
        return g - dnp.mean(g, axis=tuple(range(1, dnp.ndim(g))), keepdims=True)

    def update(updates, state, params=None):
        del params
        return _tree.map(one, updates), state

    return GradientTransformation(init_empty_state, update)


class TraceState(NamedTuple):
    """State of `trace`: the momentum buffer.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.trace(0.9).init(dnp.zeros(2)).trace.shape
        (2,)
    """

    trace: Any


def trace(
    decay: Any, nesterov: bool = False, accumulator_dtype: Any = None
) -> GradientTransformation:
    """Momentum: ``t = g + decay * t``; the update is ``t`` (or ``g + decay * t`` for Nesterov).

    Args:
        decay: The momentum coefficient.
        nesterov: Use Nesterov momentum.
        accumulator_dtype: Optional dtype of the buffer (default: the params' dtypes).

    Returns:
        A `GradientTransformation` with a `TraceState`.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> tx = optim.trace(decay=0.5)
        >>> state = tx.init(dnp.zeros(1))
        >>> u, state = tx.update(dnp.ones(1), state)
        >>> u, state = tx.update(dnp.ones(1), state)
        >>> u.tolist()
        [1.5]
    """

    def init(params):
        return TraceState(trace=tree_zeros_like(params, dtype=accumulator_dtype))

    def update(updates, state, params=None):
        del params
        new_trace = _tree.map(lambda g, t: g + decay * t, updates, state.trace)
        if nesterov:
            updates = _tree.map(lambda g, t: g + decay * t, updates, new_trace)
        else:
            updates = new_trace
        new_trace = _tree.map(lambda n, t: n.astype(t.dtype), new_trace, state.trace)
        return updates, TraceState(trace=new_trace)

    return GradientTransformation(init, update)


class EmaState(NamedTuple):
    """State of `ema`: the update count and the moving average.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.ema(0.9).init(dnp.zeros(2))._fields
        ('count', 'ema')
    """

    count: Any
    ema: Any


def ema(decay: Any, debias: bool = True, accumulator_dtype: Any = None) -> GradientTransformation:
    """Replaces updates by their exponential moving average ``(1-decay) g + decay * ema``.

    Args:
        decay: The decay rate, in [0, 1).
        debias: Divide by ``1 - decay**count`` to remove the bias of the zero start.
        accumulator_dtype: Optional dtype of the average.

    Returns:
        A `GradientTransformation` with an `EmaState`.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> tx = optim.ema(0.5, debias=False)
        >>> u, state = tx.update(dnp.full(1, 4.0), tx.init(dnp.zeros(1)))
        >>> u.tolist()
        [2.0]
    """

    def init(params):
        return EmaState(count=_zero_count(), ema=tree_zeros_like(params, dtype=accumulator_dtype))

    def update(updates, state, params=None):
        del params
        new_ema = tree_update_moment(updates, state.ema, decay, 1)
        count = safe_increment(state.count)
        out = tree_bias_correction(new_ema, decay, count) if debias else new_ema
        stored = _tree.map(lambda n, t: n.astype(t.dtype), new_ema, state.ema)
        return out, EmaState(count=count, ema=stored)

    return GradientTransformation(init, update)


class AddDecayedWeightsState(NamedTuple):
    """State of `add_decayed_weights` with a scheduled weight decay: the step count.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.add_decayed_weights(lambda count: 1e-4).init(dnp.zeros(2))._fields
        ('count',)
    """

    count: Any


def add_decayed_weights(weight_decay: Any = 0.0, mask: Any = None) -> GradientTransformation:
    """Adds ``weight_decay * params`` to the updates (decoupled weight decay, as in AdamW).

    Args:
        weight_decay: A scalar or a schedule of the step count.
        mask: Optional pytree of booleans (or a function of the params returning one),
            True where decay applies; e.g. to skip biases and normalisation scales.

    Returns:
        A `GradientTransformation`; ``update`` needs ``params``.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> tx = optim.add_decayed_weights(0.1)
        >>> tx.update(dnp.zeros(2), tx.init(None), dnp.full(2, 10.0))[0].tolist()
        [1.0, 1.0]
    """
    scheduled = callable(weight_decay)

    def init(params):
        del params
        return AddDecayedWeightsState(count=_zero_count()) if scheduled else EmptyState()

    def update(updates, state, params=None):
        require_params("add_decayed_weights", params)
        if scheduled:
            rate, new_state = (
                weight_decay(state.count),
                AddDecayedWeightsState(safe_increment(state.count)),
            )
        else:
            rate, new_state = weight_decay, state
        if isinstance(rate, int | float) and rate == 0:
            return updates, new_state
        out = _tree.map(lambda g, p: (g + rate * p).astype(g.dtype), updates, params)
        return out, new_state

    tx = GradientTransformation(init, update)
    if mask is not None:
        return masked(tx, mask)
    return tx


class AddNoiseState(NamedTuple):
    """State of `add_noise`: the step count and the random key.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.AddNoiseState._fields
        ('count', 'rng_key')
    """

    count: Any
    rng_key: Any


def add_noise(eta: Any, gamma: Any, seed: int = 0) -> GradientTransformation:
    """Adds Gaussian noise of variance ``eta / (1 + t) ** gamma`` at step ``t`` (from 0).

    Annealed gradient noise (Neelakantan et al., 2015). The random stream comes from
    `derivax.random` with the key kept in the state.

    Args:
        eta: The initial variance.
        gamma: The decay exponent of the variance.
        seed: Seed of the random key.

    Returns:
        A `GradientTransformation` with an `AddNoiseState`.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> tx = optim.add_noise(eta=0.0, gamma=0.55)
        >>> tx.update(dnp.ones(2), tx.init(dnp.ones(2)))[0].tolist()
        [1.0, 1.0]
    """

    def init(params):
        del params
        return AddNoiseState(count=_zero_count(), rng_key=random.PRNGKey(seed))

    def update(updates, state, params=None):
        del params
        count = safe_increment(state.count)
        std = dnp.sqrt(eta / count.astype(dnp.float32) ** gamma)
        leaves, treedef = _tree.flatten(updates)
        keys = random.split(state.rng_key, len(leaves) + 1)
        noisy = [
            g + (std * random.normal(k, dnp.shape(g), dnp.float32)).astype(g.dtype)
            for g, k in zip(leaves, keys[1:], strict=True)
        ]
        return _tree.unflatten(treedef, noisy), AddNoiseState(count=count, rng_key=keys[0])

    return GradientTransformation(init, update)
