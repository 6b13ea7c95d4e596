"""Schedules: functions of the step count that give a hyperparameter's value.

A schedule is called with the step count (a Python int or an int32 array; the optimizers
pass the number of updates made so far, 0 for the first) and returns a scalar. Every
schedule here is written with array operations, so it works under `derivax.jit`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import derivax.numpy as dnp

__all__ = [
    "constant_schedule",
    "cosine_decay_schedule",
    "cosine_onecycle_schedule",
    "exponential_decay",
    "join_schedules",
    "linear_schedule",
    "piecewise_constant_schedule",
    "piecewise_interpolate_schedule",
    "polynomial_schedule",
    "sgdr_schedule",
    "warmup_cosine_decay_schedule",
    "warmup_exponential_decay_schedule",
]

Schedule = Callable[[Any], Any]


def _f32(count: Any) -> Any:
    return dnp.asarray(count).astype(dnp.float32)


def _check_steps(fn: str, name: str, value: Any, minimum: int):
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{fn}: {name} must be an int >= {minimum}, got {value!r}.")


def constant_schedule(value: Any) -> Schedule:
    """A schedule that always returns ``value``.

    Args:
        value: The constant.

    Returns:
        The schedule.

    Example:
        >>> from derivax import optim
        >>> optim.constant_schedule(0.1)(1000)
        0.1
    """
    return lambda count: value


def polynomial_schedule(
    init_value: Any, end_value: Any, power: Any, transition_steps: int, transition_begin: int = 0
) -> Schedule:
    """Polynomial decay from ``init_value`` to ``end_value`` over ``transition_steps``.

    ``value(t) = (init - end) * (1 - s / transition_steps) ** power + end`` with
    ``s = clip(t - transition_begin, 0, transition_steps)``.

    Args:
        init_value: Value before and at ``transition_begin``.
        end_value: Value from ``transition_begin + transition_steps`` on.
        power: The exponent (1: linear).
        transition_steps: Length of the transition; 0 gives the constant ``init_value``.
        transition_begin: Steps to hold ``init_value`` first (>= 0).

    Returns:
        The schedule.

    Raises:
        ValueError: If ``transition_steps`` or ``transition_begin`` is negative.

    Example:
        >>> from derivax import optim
        >>> float(optim.polynomial_schedule(1.0, 0.0, 2, transition_steps=4)(2))
        0.25
    """
    _check_steps("polynomial_schedule", "transition_steps", transition_steps, 0)
    _check_steps("polynomial_schedule", "transition_begin", transition_begin, 0)
    if transition_steps == 0:  # no transition: e.g. a warmup of 0 steps
        return constant_schedule(init_value)

    def schedule(count):
        s = dnp.clip(_f32(count) - transition_begin, 0, transition_steps)
        frac = 1 - s / transition_steps
        return (init_value - end_value) * frac**power + end_value

    return schedule


def linear_schedule(
    init_value: Any, end_value: Any, transition_steps: int, transition_begin: int = 0
) -> Schedule:
    """Linear interpolation from ``init_value`` to ``end_value`` (`polynomial_schedule`, power 1).

    Args:
        init_value: Value before and at ``transition_begin``.
        end_value: Value from ``transition_begin + transition_steps`` on.
        transition_steps: Length of the ramp; 0 gives the constant ``init_value``.
        transition_begin: Steps to hold ``init_value`` first.

    Returns:
        The schedule.

    Raises:
        ValueError: If ``transition_steps`` or ``transition_begin`` is negative.

    Example:
        >>> from derivax import optim
        >>> float(optim.linear_schedule(0.0, 1.0, transition_steps=4)(1))
        0.25
    """
    return polynomial_schedule(init_value, end_value, 1, transition_steps, transition_begin)


def exponential_decay(
    init_value: Any,
    transition_steps: int,
    decay_rate: float,
    transition_begin: int = 0,
    staircase: bool = False,
    end_value: Any = None,
) -> Schedule:
    """``init_value * decay_rate ** ((t - transition_begin) / transition_steps)``.

    Args:
        init_value: Value up to ``transition_begin``.
        transition_steps: Steps per factor of ``decay_rate``; 0 gives the constant
            ``init_value``.
        decay_rate: The factor (< 1 decays, > 1 grows; must be > 0).
        transition_begin: Steps to hold ``init_value`` first.
        staircase: Decay in whole steps of ``transition_steps`` (the exponent is floored).
        end_value: Optional bound: a floor when decaying, a ceiling when growing.

    Returns:
        The schedule.

    Raises:
        ValueError: If ``transition_steps`` or ``transition_begin`` is negative, or
            ``decay_rate <= 0``.

    Example:
        >>> from derivax import optim
        >>> s = optim.exponential_decay(1.0, transition_steps=2, decay_rate=0.5, staircase=True)
        >>> [float(s(t)) for t in range(5)]
        [1.0, 1.0, 0.5, 0.5, 0.25]
    """
    _check_steps("exponential_decay", "transition_steps", transition_steps, 0)
    _check_steps("exponential_decay", "transition_begin", transition_begin, 0)
    if not decay_rate > 0:
        raise ValueError(f"exponential_decay: decay_rate must be > 0, got {decay_rate!r}.")
    if transition_steps == 0:
        return constant_schedule(init_value)

    def schedule(count):
        steps = _f32(count) - transition_begin
        p = steps / transition_steps
        if staircase:
            p = dnp.floor(p)
        value = dnp.where(steps <= 0, init_value, init_value * dnp.power(decay_rate, p))
        if end_value is not None:
            bound = dnp.maximum if decay_rate < 1.0 else dnp.minimum
            value = bound(value, end_value)
        return value

    return schedule


def cosine_decay_schedule(
    init_value: Any, decay_steps: int, alpha: Any = 0.0, exponent: Any = 1.0
) -> Schedule:
    """Cosine decay from ``init_value`` to ``alpha * init_value`` over ``decay_steps``.

    ``value(t) = init * ((1 - alpha) * (0.5 (1 + cos(pi t' / decay_steps))) ** exponent +
    alpha)`` with ``t' = min(t, decay_steps)`` (Loshchilov & Hutter, 2016).

    Args:
        init_value: The initial value.
        decay_steps: Length of the decay (> 0).
        alpha: Final value as a fraction of ``init_value``.
        exponent: Power applied to the cosine factor.

    Returns:
        The schedule.

    Raises:
        ValueError: If ``decay_steps <= 0``.

    Example:
        >>> from derivax import optim
        >>> s = optim.cosine_decay_schedule(1.0, decay_steps=4)
        >>> [round(float(s(t)), 6) for t in (0, 2, 4, 9)]
        [1.0, 0.5, 0.0, 0.0]
    """
    _check_steps("cosine_decay_schedule", "decay_steps", decay_steps, 1)

    def schedule(count):
        t = dnp.minimum(_f32(count), decay_steps)
        cosine = 0.5 * (1 + dnp.cos(math.pi * t / decay_steps))
        return init_value * ((1 - alpha) * cosine**exponent + alpha)

    return schedule


def join_schedules(schedules: Sequence[Schedule], boundaries: Sequence[int]) -> Schedule:
    """Runs ``schedules[i+1]`` from step ``boundaries[i]`` on, restarting its count at 0.

    Args:
        schedules: The schedules, in order.
        boundaries: The ``len(schedules) - 1`` steps at which to switch, increasing.

    Returns:
        The joined schedule.

    Raises:
        ValueError: If the lengths do not fit.

    Example:
        >>> from derivax import optim
        >>> s = optim.join_schedules(
        ...     [optim.constant_schedule(1.0), optim.linear_schedule(0.0, 1.0, 2)], [3])
        >>> [float(s(t)) for t in range(6)]
        [1.0, 1.0, 1.0, 0.0, 0.5, 1.0]
    """
    schedules, boundaries = list(schedules), list(boundaries)
    if len(boundaries) != len(schedules) - 1:
        raise ValueError(
            f"join_schedules: {len(schedules)} schedules need {len(schedules) - 1} "
            f"boundaries, got {len(boundaries)}."
        )

    def schedule(count):
        out = schedules[0](count)
        for boundary, s in zip(boundaries, schedules[1:], strict=True):
            out = dnp.where(dnp.asarray(count) < boundary, out, s(count - boundary))
        return out

    return schedule


def warmup_cosine_decay_schedule(
    init_value: Any,
    peak_value: Any,
    warmup_steps: int,
    decay_steps: int,
    end_value: Any = 0.0,
    exponent: Any = 1.0,
) -> Schedule:
    """Linear warmup from ``init_value`` to ``peak_value``, then cosine decay to ``end_value``.

    Args:
        init_value: Value at step 0.
        peak_value: Value at the end of the warmup.
        warmup_steps: Length of the warmup.
        decay_steps: Total length, warmup included (> ``warmup_steps``).
        end_value: Value from ``decay_steps`` on.
        exponent: Power of the cosine factor.

    Returns:
        The schedule.

    Raises:
        ValueError: If ``decay_steps <= warmup_steps`` or ``warmup_steps < 0``.

    Example:
        >>> from derivax import optim
        >>> s = optim.warmup_cosine_decay_schedule(0.0, 1.0, warmup_steps=2, decay_steps=6)
        >>> [round(float(s(t)), 6) for t in (0, 1, 2, 4, 6)]
        [0.0, 0.5, 1.0, 0.5, 0.0]
    """
    alpha = 0.0 if peak_value == 0.0 else end_value / peak_value
    return join_schedules(
        [
            linear_schedule(init_value, peak_value, warmup_steps),
            cosine_decay_schedule(peak_value, decay_steps - warmup_steps, alpha, exponent),
        ],
        [warmup_steps],
    )


def warmup_exponential_decay_schedule(
    init_value: Any,
    peak_value: Any,
    warmup_steps: int,
    transition_steps: int,
    decay_rate: float,
    transition_begin: int = 0,
    staircase: bool = False,
    end_value: Any = None,
) -> Schedule:
    """Linear warmup to ``peak_value``, then `exponential_decay` from it.

    Args:
        init_value: Value at step 0.
        peak_value: Value at the end of the warmup.
        warmup_steps: Length of the warmup.
        transition_steps: See `exponential_decay`.
        decay_rate: See `exponential_decay`.
        transition_begin: Counted from the end of the warmup.
        staircase: See `exponential_decay`.
        end_value: See `exponential_decay`.

    Returns:
        The schedule.

    Example:
        >>> from derivax import optim
        >>> s = optim.warmup_exponential_decay_schedule(0.0, 1.0, 2, 1, 0.5)
        >>> [float(s(t)) for t in range(5)]
        [0.0, 0.5, 1.0, 0.5, 0.25]
    """
    return join_schedules(
        [
            linear_schedule(init_value, peak_value, warmup_steps),
            exponential_decay(
                peak_value, transition_steps, decay_rate, transition_begin, staircase, end_value
            ),
        ],
        [warmup_steps],
    )


def _check_scales(fn: str, boundaries_and_scales: Mapping[int, float] | None):
    items = sorted((boundaries_and_scales or {}).items())
    for b, s in items:
        if not isinstance(b, int) or isinstance(b, bool) or b < 0:
            raise ValueError(f"{fn}: boundaries must be ints >= 0, got {b!r}.")
        if not s >= 0:
            raise ValueError(f"{fn}: scales must be >= 0, got {s!r} at boundary {b}.")
    return items


def piecewise_constant_schedule(
    init_value: Any, boundaries_and_scales: Mapping[int, float] | None = None
) -> Schedule:
    """A step function: from each boundary on, the value is multiplied by its scale.

    Args:
        init_value: Value before the first boundary.
        boundaries_and_scales: ``{step: scale}``; scales are >= 0 and compound.

    Returns:
        The schedule.

    Raises:
        ValueError: If a scale is negative or a boundary is not an int >= 0.

    Example:
        >>> from derivax import optim
        >>> s = optim.piecewise_constant_schedule(1.0, {2: 0.5, 4: 0.5})
        >>> [float(s(t)) for t in range(6)]
        [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    """
    items = _check_scales("piecewise_constant_schedule", boundaries_and_scales)

    def schedule(count):
        value = dnp.asarray(init_value, dtype=dnp.float32)
        count = dnp.asarray(count)
        for boundary, s in items:
            value = dnp.where(count < boundary, value, value * s)
        return value

    return schedule


def piecewise_interpolate_schedule(
    interpolate_type: str, init_value: Any, boundaries_and_scales: Mapping[int, float] | None = None
) -> Schedule:
    """Interpolates between values that compound the scales at each boundary.

    The value goes from ``init_value`` at step 0 to ``init_value * s1`` at boundary
    ``b1``, to ``init_value * s1 * s2`` at ``b2``, and so on, linearly or along a half
    cosine; it stays at the last value after the last boundary.

    Args:
        interpolate_type: ``"linear"`` or ``"cosine"``.
        init_value: Value at step 0.
        boundaries_and_scales: ``{step: scale}``, scales >= 0.

    Returns:
        The schedule.

    Raises:
        ValueError: If ``interpolate_type`` is unknown or a scale is negative.

    Example:
        >>> from derivax import optim
        >>> s = optim.piecewise_interpolate_schedule("linear", 1.0, {2: 0.0, 4: 1.0})
        >>> [float(s(t)) for t in range(6)]
        [1.0, 0.5, 0.0, 0.0, 0.0, 0.0]
    """
    if interpolate_type not in ("linear", "cosine"):
        raise ValueError(
            f"piecewise_interpolate_schedule: interpolate_type must be 'linear' or 'cosine', "
            f"got {interpolate_type!r}."
        )
    items = _check_scales("piecewise_interpolate_schedule", boundaries_and_scales)
    bounds = [0] + [b for b, _ in items]
    values = [init_value]
    for _, s in items:
        values.append(values[-1] * s)

    def interpolate(start, end, pct):
        if interpolate_type == "linear":
            return start + (end - start) * pct
        return end + (start - end) / 2.0 * (dnp.cos(math.pi * pct) + 1)

    def schedule(count):
        t = _f32(count)
        out = dnp.asarray(values[-1], dtype=dnp.float32)
        # From the last interval back to the first, so earlier intervals take precedence.
        for i in reversed(range(len(bounds) - 1)):
            size = max(bounds[i + 1] - bounds[i], 1)
            pct = (t - bounds[i]) / size
            inside = dnp.logical_and(t >= bounds[i], t < bounds[i + 1])
            out = dnp.where(inside, interpolate(values[i], values[i + 1], pct), out)
        return out

    return schedule


def cosine_onecycle_schedule(
    transition_steps: int,
    peak_value: Any,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> Schedule:
    """The one-cycle policy (Smith & Topin, 2017) with cosine ramps.

    Rises from ``peak_value / div_factor`` to ``peak_value`` over the first ``pct_start``
    of ``transition_steps``, then falls to ``peak_value / (div_factor *
    final_div_factor)`` at ``transition_steps``.

    Args:
        transition_steps: Total length (> 0).
        peak_value: The maximum.
        pct_start: Fraction of the steps spent rising.
        div_factor: ``peak_value / initial value``.
        final_div_factor: ``initial value / final value``.

    Returns:
        The schedule.

    Raises:
        ValueError: If ``transition_steps <= 0``.

    Example:
        >>> from derivax import optim
        >>> s = optim.cosine_onecycle_schedule(10, 1.0, pct_start=0.5, div_factor=4.0)
        >>> float(s(0)), float(s(5))
        (0.25, 1.0)
    """
    _check_steps("cosine_onecycle_schedule", "transition_steps", transition_steps, 1)
    return piecewise_interpolate_schedule(
        "cosine",
        peak_value / div_factor,
        {
            int(pct_start * transition_steps): div_factor,
            int(transition_steps): 1.0 / (div_factor * final_div_factor),
        },
    )


def sgdr_schedule(cosine_kwargs: Iterable[Mapping[str, Any]]) -> Schedule:
    """SGD with warm restarts (Loshchilov & Hutter, 2016): warmup-cosine cycles back to back.

    Args:
        cosine_kwargs: One dict of `warmup_cosine_decay_schedule` arguments per cycle;
            each cycle lasts its ``decay_steps``.

    Returns:
        The schedule.

    Raises:
        ValueError: If ``cosine_kwargs`` is empty.

    Example:
        >>> from derivax import optim
        >>> cycle = dict(init_value=0.0, peak_value=1.0, warmup_steps=1, decay_steps=3)
        >>> s = optim.sgdr_schedule([cycle, cycle])
        >>> [round(float(s(t)), 6) for t in range(6)]
        [0.0, 1.0, 0.5, 0.0, 1.0, 0.5]
    """
    cosine_kwargs = list(cosine_kwargs)
    if not cosine_kwargs:
        raise ValueError("sgdr_schedule: cosine_kwargs must hold at least one cycle.")
    schedules, boundaries, step = [], [], 0
    for kwargs in cosine_kwargs:
        schedules.append(warmup_cosine_decay_schedule(**kwargs))
        step += kwargs["decay_steps"]
        boundaries.append(step)
    return join_schedules(schedules, boundaries[:-1])
