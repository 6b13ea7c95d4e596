"""Adaptive rescalings: the per-parameter statistics behind Adam, RMSProp and their kin.

Each ``scale_by_*`` keeps running statistics of the gradients in its state and divides
(or otherwise rescales) the gradients by them. None applies a learning rate: the aliases
in ``_alias`` chain them with `scale_by_learning_rate`.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import derivax.numpy as dnp
from derivax import tree as _tree

from ._base import GradientTransformation, require_params
from ._tree_utils import (
    safe_increment,
    tree_bias_correction,
    tree_full_like,
    tree_update_infinity_moment,
    tree_update_moment,
    tree_update_moment_per_elem_norm,
    tree_zeros_like,
)

__all__ = [
    "ScaleByAdaDeltaState",
    "ScaleByAdamState",
    "ScaleByAmsgradState",
    "ScaleByBeliefState",
    "ScaleByLionState",
    "ScaleByNovogradState",
    "ScaleByRStdDevState",
    "ScaleByRmsState",
    "ScaleByRssState",
    "ScaleBySM3State",
    "scale_by_adadelta",
    "scale_by_adam",
    "scale_by_adamax",
    "scale_by_amsgrad",
    "scale_by_belief",
    "scale_by_lion",
    "scale_by_novograd",
    "scale_by_radam",
    "scale_by_rms",
    "scale_by_rss",
    "scale_by_sm3",
    "scale_by_stddev",
    "scale_by_yogi",
]


def _zero_count():
    return dnp.zeros((), dnp.int32)


def _like_state(new: Any, old: Any) -> Any:
    """Casts ``new`` leaf by leaf to the dtypes of ``old`` (states keep their dtypes)."""
    return _tree.map(lambda n, o: n.astype(o.dtype), new, old)


def _nesterov_mu_hat(mu: Any, updates: Any, b1: Any, count: Any) -> Any:
    # Nesterov look-ahead: the next step's bias-corrected momentum plus this gradient.
    return _tree.map(
        lambda m, g: b1 * m + (1 - b1) * g,
        tree_bias_correction(mu, b1, safe_increment(count)),
        tree_bias_correction(updates, b1, count),
    )


def _adam_direction(mu_hat: Any, nu_hat: Any, eps: Any, eps_root: Any) -> Any:
    return _tree.map(lambda m, v: m / (dnp.sqrt(v + eps_root) + eps), mu_hat, nu_hat)


class ScaleByAdamState(NamedTuple):
    """State of `scale_by_adam` (also Adamax, RAdam, Yogi): count and the two moments.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.scale_by_adam().init(dnp.zeros(2))._fields
        ('count', 'mu', 'nu')
    """

    count: Any
    mu: Any
    nu: Any


def scale_by_adam(
    b1: Any = 0.9,
    b2: Any = 0.999,
    eps: Any = 1e-8,
    eps_root: Any = 0.0,
    mu_dtype: Any = None,
    *,
    nesterov: bool = False,
) -> GradientTransformation:
    """Adam's rescaling: ``m_hat / (sqrt(v_hat + eps_root) + eps)`` (Kingma & Ba, 2014).

    ``m`` and ``v`` are EMAs of the gradient and its square with rates ``b1`` and
    ``b2``; the hats are their bias-corrected values.

    Args:
        b1: Decay of the first moment.
        b2: Decay of the second moment.
        eps: Added to the denominator outside the square root.
        eps_root: Added inside the square root (keeps gradients through the update
            finite, e.g. for meta-learning).
        mu_dtype: Optional dtype of the first moment (e.g. ``dnp.bfloat16``).
        nesterov: Use Nesterov momentum (NAdam, Dozat 2016).

    Returns:
        A `GradientTransformation` with a `ScaleByAdamState`.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> tx = optim.scale_by_adam()
        >>> u, _ = tx.update(dnp.array([2.0, -3.0]), tx.init(dnp.zeros(2)))
        >>> [round(x, 4) for x in u.tolist()]
        [1.0, -1.0]
    """

    def init(params):
        return ScaleByAdamState(
            count=_zero_count(),
            mu=tree_zeros_like(params, dtype=mu_dtype),
            nu=tree_zeros_like(params),
        )

    def update(updates, state, params=None):
        del params
        mu = tree_update_moment(updates, state.mu, b1, 1)
        nu = tree_update_moment_per_elem_norm(updates, state.nu, b2, 2)
        count = safe_increment(state.count)
        if nesterov:
            mu_hat = _nesterov_mu_hat(mu, updates, b1, count)
        else:
            mu_hat = tree_bias_correction(mu, b1, count)
        nu_hat = tree_bias_correction(nu, b2, count)
        out = _adam_direction(mu_hat, nu_hat, eps, eps_root)
        return out, ScaleByAdamState(count, _like_state(mu, state.mu), _like_state(nu, state.nu))

    return GradientTransformation(init, update)


def scale_by_adamax(b1: Any = 0.9, b2: Any = 0.999, eps: Any = 1e-8) -> GradientTransformation:
    """Adamax's rescaling: ``m_hat / u`` with ``u = max(b2 * u, |g| + eps)``.

    Args:
        b1: Decay of the first moment.
        b2: Decay of the infinity norm.
        eps: Added to ``|g|``.

    Returns:
        A `GradientTransformation` with a `ScaleByAdamState` (``nu`` holds ``u``).

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> tx = optim.scale_by_adamax()
        >>> u, _ = tx.update(dnp.array([2.0]), tx.init(dnp.zeros(1)))
        >>> round(u.tolist()[0], 4)
        1.0
    """

    def init(params):
        return ScaleByAdamState(_zero_count(), tree_zeros_like(params), tree_zeros_like(params))

    def update(updates, state, params=None):
        del params
        count = safe_increment(state.count)
        mu = tree_update_moment(updates, state.mu, b1, 1)
        nu = tree_update_infinity_moment(updates, state.nu, b2, eps)
        mu_hat = tree_bias_correction(mu, b1, count)
        out = _tree.map(lambda m, v: m / v, mu_hat, nu)
        return out, ScaleByAdamState(count, _like_state(mu, state.mu), _like_state(nu, state.nu))

    return GradientTransformation(init, update)


class ScaleByAmsgradState(NamedTuple):
    """State of `scale_by_amsgrad`: count, moments and the running maximum of ``v_hat``.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.scale_by_amsgrad().init(dnp.zeros(2))._fields
        ('count', 'mu', 'nu', 'nu_max')
    """

    count: Any
    mu: Any
    nu: Any
    nu_max: Any


def scale_by_amsgrad(
    b1: Any = 0.9, b2: Any = 0.999, eps: Any = 1e-8, eps_root: Any = 0.0, mu_dtype: Any = None
) -> GradientTransformation:
    """AMSGrad: Adam with the running maximum of ``v_hat`` (Reddi et al., 2018).

    Args:
        b1: Decay of the first moment.
        b2: Decay of the second moment.
        eps: Added to the denominator.
        eps_root: Added inside the square root.
        mu_dtype: Optional dtype of the first moment.

    Returns:
        A `GradientTransformation` with a `ScaleByAmsgradState`.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> tx = optim.scale_by_amsgrad()
        >>> u, _ = tx.update(dnp.array([2.0]), tx.init(dnp.zeros(1)))
        >>> round(u.tolist()[0], 4)
        1.0
    """

    def init(params):
        return ScaleByAmsgradState(
            _zero_count(),
            tree_zeros_like(params, dtype=mu_dtype),
            tree_zeros_like(params),
            tree_zeros_like(params),
        )

    def update(updates, state, params=None):
        del params
        mu = tree_update_moment(updates, state.mu, b1, 1)
        nu = tree_update_moment_per_elem_norm(updates, state.nu, b2, 2)
        count = safe_increment(state.count)
        mu_hat = tree_bias_correction(mu, b1, count)
        nu_max = _tree.map(dnp.maximum, state.nu_max, tree_bias_correction(nu, b2, count))
        out = _adam_direction(mu_hat, nu_max, eps, eps_root)
        return out, ScaleByAmsgradState(
            count,
            _like_state(mu, state.mu),
            _like_state(nu, state.nu),
            _like_state(nu_max, state.nu_max),
        )

    return GradientTransformation(init, update)


def scale_by_radam(
    b1: Any = 0.9,
    b2: Any = 0.999,
    eps: Any = 1e-8,
    eps_root: Any = 0.0,
    threshold: Any = 5.0,
    *,
    nesterov: bool = False,
) -> GradientTransformation:
    """Rectified Adam (Liu et al., 2020): Adam once the variance estimate is reliable.

    With ``rho_inf = 2 / (1 - b2) - 1`` and ``rho_t = rho_inf - 2 t b2^t / (1 - b2^t)``,
    the update is ``r_t * m_hat / (sqrt(v_hat + eps_root) + eps)`` when
    ``rho_t >= threshold`` and plain ``m_hat`` before that, where ``r_t`` is the
    variance rectification term.

    Args:
        b1: Decay of the first moment.
        b2: Decay of the second moment.
        eps: Added to the denominator.
        eps_root: Added inside the square root.
        threshold: The ``rho_t`` above which the adaptive step is used.
        nesterov: Use Nesterov momentum.

    Returns:
        A `GradientTransformation` with a `ScaleByAdamState`.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> tx = optim.scale_by_radam()
        >>> u, _ = tx.update(dnp.array([2.0]), tx.init(dnp.zeros(1)))
        >>> round(u.tolist()[0], 4)  # the first steps are plain momentum
        2.0
    """
    rho_inf = 2.0 / (1.0 - b2) - 1.0

    def init(params):
        return ScaleByAdamState(_zero_count(), tree_zeros_like(params), tree_zeros_like(params))

    def update(updates, state, params=None):
        del params
        mu = tree_update_moment(updates, state.mu, b1, 1)
        nu = tree_update_moment_per_elem_norm(updates, state.nu, b2, 2)
        count = safe_increment(state.count)
        # rho_t subtracts two numbers close to rho_inf: 1 - b2^t through expm1 keeps it
        # accurate in float32 (the naive form is off by ~0.5% at t = 6 for b2 = 0.999).
        log_b2 = math.log(b2) if isinstance(b2, int | float) else dnp.log(b2)
        t_log_b2 = count.astype(dnp.float32) * log_b2
        rho = rho_inf - 2 * count.astype(dnp.float32) * dnp.exp(t_log_b2) / -dnp.expm1(t_log_b2)
        if nesterov:
            mu_hat = _nesterov_mu_hat(mu, updates, b1, count)
        else:
            mu_hat = tree_bias_correction(mu, b1, count)
        nu_hat = tree_bias_correction(nu, b2, count)
        use_adaptive = rho >= threshold
        # Outside the adaptive regime the square root's argument can be negative: guard it
        # so the unused branch of the `where` does not produce NaN gradients.
        safe_rho = dnp.where(use_adaptive, rho, rho_inf)
        r = dnp.sqrt(
            (safe_rho - 4.0)
            * (safe_rho - 2.0)
            * rho_inf
            / ((rho_inf - 4.0) * (rho_inf - 2.0) * safe_rho)
        )
        adaptive = _adam_direction(mu_hat, nu_hat, eps, eps_root)
        out = _tree.map(
            lambda a, m: dnp.where(use_adaptive, r.astype(m.dtype) * a, m), adaptive, mu_hat
        )
        return out, ScaleByAdamState(count, _like_state(mu, state.mu), _like_state(nu, state.nu))

    return GradientTransformation(init, update)


def scale_by_yogi(
    b1: Any = 0.9,
    b2: Any = 0.999,
    eps: Any = 1e-3,
    eps_root: Any = 0.0,
    initial_accumulator_value: Any = 1e-6,
) -> GradientTransformation:
    """Yogi (Zaheer et al., 2018): Adam with an additive second-moment update.

    ``v = v - (1 - b2) * sign(v - g^2) * g^2``, so ``v`` grows or shrinks by a bounded
    amount each step.

    Args:
        b1: Decay of the first moment.
        b2: Rate of the second-moment update.
        eps: Added to the denominator.
        eps_root: Added inside the square root.
        initial_accumulator_value: Initial value of both moments.

    Returns:
        A `GradientTransformation` with a `ScaleByAdamState`.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> tx = optim.scale_by_yogi()
        >>> u, state = tx.update(dnp.array([2.0]), tx.init(dnp.zeros(1)))
        >>> state.count.tolist()
        1
    """

    def init(params):
        return ScaleByAdamState(
            _zero_count(),
            tree_full_like(params, initial_accumulator_value),
            tree_full_like(params, initial_accumulator_value),
        )

    def update(updates, state, params=None):
        del params
        mu = tree_update_moment(updates, state.mu, b1, 1)
        nu = _tree.map(lambda g, v: v - (1 - b2) * dnp.sign(v - g * g) * (g * g), updates, state.nu)
        count = safe_increment(state.count)
        mu_hat = tree_bias_correction(mu, b1, count)
        nu_hat = tree_bias_correction(nu, b2, count)
        out = _adam_direction(mu_hat, nu_hat, eps, eps_root)
        return out, ScaleByAdamState(count, _like_state(mu, state.mu), _like_state(nu, state.nu))

    return GradientTransformation(init, update)


class ScaleByBeliefState(NamedTuple):
    """State of `scale_by_belief`: count, gradient EMA and the EMA of its prediction error.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.scale_by_belief().init(dnp.zeros(2))._fields
        ('count', 'mu', 'nu')
    """

    count: Any
    mu: Any
    nu: Any


def scale_by_belief(
    b1: Any = 0.9,
    b2: Any = 0.999,
    eps: Any = 1e-16,
    eps_root: Any = 1e-16,
    *,
    nesterov: bool = False,
) -> GradientTransformation:
    """AdaBelief (Zhuang et al., 2020): divides by the spread of gradients around their EMA.

    ``s = b2 s + (1 - b2)(g - m)^2 + eps_root``, then ``m_hat / (sqrt(s_hat) + eps)``.

    Args:
        b1: Decay of the gradient EMA.
        b2: Decay of the belief (prediction error) EMA.
        eps: Added to the denominator.
        eps_root: Added to ``s`` at every step.
        nesterov: Use Nesterov momentum.

    Returns:
        A `GradientTransformation` with a `ScaleByBeliefState`.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> tx = optim.scale_by_belief()
        >>> u, state = tx.update(dnp.array([2.0]), tx.init(dnp.zeros(1)))
        >>> u.shape
        (1,)
    """

    def init(params):
        return ScaleByBeliefState(_zero_count(), tree_zeros_like(params), tree_zeros_like(params))

    def update(updates, state, params=None):
        del params
        mu = tree_update_moment(updates, state.mu, b1, 1)
        error = _tree.map(lambda g, m: g - m, updates, mu)
        nu = tree_update_moment_per_elem_norm(error, state.nu, b2, 2)
        nu = _tree.map(lambda v: v + eps_root, nu)
        count = safe_increment(state.count)
        if nesterov:
            mu_hat = _nesterov_mu_hat(mu, updates, b1, count)
        else:
            mu_hat = tree_bias_correction(mu, b1, count)
        nu_hat = tree_bias_correction(nu, b2, count)
        out = _adam_direction(mu_hat, nu_hat, eps, 0.0)
        return out, ScaleByBeliefState(count, _like_state(mu, state.mu), _like_state(nu, state.nu))

    return GradientTransformation(init, update)


class ScaleByLionState(NamedTuple):
    """State of `scale_by_lion`: count and the momentum.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.scale_by_lion().init(dnp.zeros(2))._fields
        ('count', 'mu')
    """

    count: Any
    mu: Any


def scale_by_lion(b1: Any = 0.9, b2: Any = 0.99, mu_dtype: Any = None) -> GradientTransformation:
    """Lion (Chen et al., 2023): the sign of an interpolation of momentum and gradient.

    The update is ``sign((1 - b1) g + b1 m)``; then ``m = (1 - b2) g + b2 m``.

    Args:
        b1: Interpolation weight of the momentum in the update.
        b2: Decay of the momentum.
        mu_dtype: Optional dtype of the momentum.

    Returns:
        A `GradientTransformation` with a `ScaleByLionState`.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> tx = optim.scale_by_lion()
        >>> tx.update(dnp.array([0.2, -3.0]), tx.init(dnp.zeros(2)))[0].tolist()
        [1.0, -1.0]
    """

    def init(params):
        return ScaleByLionState(_zero_count(), tree_zeros_like(params, dtype=mu_dtype))

    def update(updates, state, params=None):
        del params
        out = _tree.map(
            lambda g, m: dnp.sign((1.0 - b1) * g + b1 * m).astype(g.dtype), updates, state.mu
        )
        mu = tree_update_moment(updates, state.mu, b2, 1)
        return out, ScaleByLionState(safe_increment(state.count), _like_state(mu, state.mu))

    return GradientTransformation(init, update)


class ScaleByRmsState(NamedTuple):
    """State of `scale_by_rms`: count (used for bias correction) and the squared EMA.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.scale_by_rms().init(dnp.zeros(2))._fields
        ('count', 'nu')
    """

    count: Any
    nu: Any


def scale_by_rms(
    decay: Any = 0.9,
    eps: Any = 1e-8,
    initial_scale: Any = 0.0,
    eps_in_sqrt: bool = True,
    bias_correction: bool = False,
) -> GradientTransformation:
    """RMSProp's rescaling (Tieleman & Hinton, 2012): ``g / sqrt(v + eps)``.

    Args:
        decay: Decay of the squared-gradient EMA ``v``.
        eps: Added inside the square root (``eps_in_sqrt``) or to the denominator.
        initial_scale: Initial value of ``v``.
        eps_in_sqrt: Where ``eps`` goes: ``g / sqrt(v + eps)`` or ``g / (sqrt(v) + eps)``.
        bias_correction: Divide ``v`` by ``1 - decay**t``.

    Returns:
        A `GradientTransformation` with a `ScaleByRmsState`.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> tx = optim.scale_by_rms(decay=0.75, eps=0.0)
        >>> tx.update(dnp.array([2.0]), tx.init(dnp.zeros(1)))[0].tolist()
        [2.0]
    """

    def init(params):
        return ScaleByRmsState(_zero_count(), tree_full_like(params, initial_scale))

    def update(updates, state, params=None):
        del params
        nu = tree_update_moment_per_elem_norm(updates, state.nu, decay, 2)
        count = safe_increment(state.count)
        nu_hat = tree_bias_correction(nu, decay, count) if bias_correction else nu
        if eps_in_sqrt:
            out = _tree.map(lambda g, v: g / dnp.sqrt(v + eps), updates, nu_hat)
        else:
            out = _tree.map(lambda g, v: g / (dnp.sqrt(v) + eps), updates, nu_hat)
        return out, ScaleByRmsState(count, _like_state(nu, state.nu))

    return GradientTransformation(init, update)


class ScaleByRStdDevState(NamedTuple):
    """State of `scale_by_stddev`: count, gradient EMA and squared-gradient EMA.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.scale_by_stddev().init(dnp.zeros(2))._fields
        ('count', 'mu', 'nu')
    """

    count: Any
    mu: Any
    nu: Any


def scale_by_stddev(
    decay: Any = 0.9,
    eps: Any = 1e-8,
    initial_scale: Any = 0.0,
    eps_in_sqrt: bool = True,
    bias_correction: bool = False,
) -> GradientTransformation:
    """Centered RMSProp's rescaling (Graves, 2013): ``g / sqrt(v - m^2 + eps)``.

    Args:
        decay: Decay of both EMAs.
        eps: Added inside the square root (``eps_in_sqrt``) or to the denominator.
        initial_scale: Initial value of ``v``.
        eps_in_sqrt: Where ``eps`` goes.
        bias_correction: Bias-correct both EMAs.

    Returns:
        A `GradientTransformation` with a `ScaleByRStdDevState`.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> tx = optim.scale_by_stddev(initial_scale=1.0)
        >>> tx.update(dnp.array([0.0]), tx.init(dnp.zeros(1)))[0].tolist()
        [0.0]
    """

    def init(params):
        return ScaleByRStdDevState(
            _zero_count(), tree_zeros_like(params), tree_full_like(params, initial_scale)
        )

    def update(updates, state, params=None):
        del params
        mu = tree_update_moment(updates, state.mu, decay, 1)
        nu = tree_update_moment_per_elem_norm(updates, state.nu, decay, 2)
        count = safe_increment(state.count)
        if bias_correction:
            mu_hat = tree_bias_correction(mu, decay, count)
            nu_hat = tree_bias_correction(nu, decay, count)
        else:
            mu_hat, nu_hat = mu, nu
        if eps_in_sqrt:
            scaling = _tree.map(lambda m, v: 1 / dnp.sqrt(v - m * m + eps), mu_hat, nu_hat)
        else:
            scaling = _tree.map(lambda m, v: 1 / (dnp.sqrt(v - m * m) + eps), mu_hat, nu_hat)
        out = _tree.map(lambda s, g: s * g, scaling, updates)
        return out, ScaleByRStdDevState(count, _like_state(mu, state.mu), _like_state(nu, state.nu))

    return GradientTransformation(init, update)


class ScaleByRssState(NamedTuple):
    """State of `scale_by_rss`: the running sum of squared gradients.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.scale_by_rss().init(dnp.zeros(2))._fields
        ('sum_of_squares',)
    """

    sum_of_squares: Any


def scale_by_rss(initial_accumulator_value: Any = 0.1, eps: Any = 1e-7) -> GradientTransformation:
    """Adagrad's rescaling (Duchi et al., 2011): ``g / sqrt(sum of g^2 + eps)``.

    Args:
        initial_accumulator_value: Initial value of the sum of squares.
        eps: Added inside the square root.

    Returns:
        A `GradientTransformation` with a `ScaleByRssState`.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> tx = optim.scale_by_rss(initial_accumulator_value=0.0, eps=0.0)
        >>> tx.update(dnp.array([-2.0]), tx.init(dnp.zeros(1)))[0].tolist()
        [-1.0]
    """

    def init(params):
        return ScaleByRssState(tree_full_like(params, initial_accumulator_value))

    def update(updates, state, params=None):
        del params
        sos = _tree.map(lambda g, t: g * g + t, updates, state.sum_of_squares)
        # Where the sum is zero the gradient is zero too: give 0, not 0/0.
        inv = _tree.map(
            lambda t: dnp.where(t > 0, 1 / dnp.sqrt(dnp.where(t > 0, t, 1) + eps), 0), sos
        )
        out = _tree.map(lambda i, g: (i * g).astype(g.dtype), inv, updates)
        return out, ScaleByRssState(_like_state(sos, state.sum_of_squares))

    return GradientTransformation(init, update)


class ScaleByAdaDeltaState(NamedTuple):
    """State of `scale_by_adadelta`: EMAs of squared gradients and squared updates.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.scale_by_adadelta().init(dnp.zeros(2))._fields
        ('e_g', 'e_x')
    """

    e_g: Any
    e_x: Any


def scale_by_adadelta(rho: Any = 0.9, eps: Any = 1e-6) -> GradientTransformation:
    """Adadelta (Zeiler, 2012): ``g * sqrt(E[dx^2] + eps) / sqrt(E[g^2] + eps)``.

    Args:
        rho: Decay of both EMAs.
        eps: Added inside both square roots.

    Returns:
        A `GradientTransformation` with a `ScaleByAdaDeltaState`.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> tx = optim.scale_by_adadelta()
        >>> u, state = tx.update(dnp.array([1.0]), tx.init(dnp.zeros(1)))
        >>> u.shape
        (1,)
    """

    def init(params):
        return ScaleByAdaDeltaState(tree_zeros_like(params), tree_zeros_like(params))

    def update(updates, state, params=None):
        del params
        e_g = tree_update_moment(updates, state.e_g, rho, 2)
        out = _tree.map(
            lambda g, eg, ex: dnp.sqrt(ex + eps) / dnp.sqrt(eg + eps) * g, updates, e_g, state.e_x
        )
        e_x = tree_update_moment(out, state.e_x, rho, 2)
        return out, ScaleByAdaDeltaState(_like_state(e_g, state.e_g), _like_state(e_x, state.e_x))

    return GradientTransformation(init, update)


class ScaleByNovogradState(NamedTuple):
    """State of `scale_by_novograd`: count, momentum and per-leaf squared-norm EMAs.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.scale_by_novograd().init(dnp.zeros(2)).nu.shape
        ()
    """

    count: Any
    mu: Any
    nu: Any


def scale_by_novograd(
    b1: Any = 0.9,
    b2: Any = 0.25,
    eps: Any = 1e-8,
    eps_root: Any = 0.0,
    weight_decay: Any = 0.0,
    mu_dtype: Any = None,
) -> GradientTransformation:
    """NovoGrad (Ginsburg et al., 2019): Adam-like with one second moment per layer.

    Per leaf: ``v = b2 v + (1 - b2) ||g||^2`` (``v = ||g||^2`` on the first step),
    ``d = g / (sqrt(v + eps_root) + eps) + weight_decay * params``, then
    ``m = b1 m + d`` (``m = d`` on the first step). The update is ``m``.

    Args:
        b1: Momentum decay.
        b2: Decay of the squared norms.
        eps: Added to the denominator.
        eps_root: Added inside the square root.
        weight_decay: Coefficient of the weight decay added to the normalised gradient.
        mu_dtype: Optional dtype of the momentum.

    Returns:
        A `GradientTransformation` with a `ScaleByNovogradState`; ``update`` needs
        ``params``.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> tx = optim.scale_by_novograd(eps=0.0)
        >>> tx.update(dnp.array([3.0, 4.0]), tx.init(dnp.zeros(2)), dnp.zeros(2))[0].tolist()
        [0.6000000238418579, 0.800000011920929]
    """

    def init(params):
        return ScaleByNovogradState(
            _zero_count(),
            tree_zeros_like(params, dtype=mu_dtype),
            _tree.map(lambda p: dnp.zeros((), dnp.result_type(p)), params),
        )

    def update(updates, state, params=None):
        require_params("scale_by_novograd", params)
        count = safe_increment(state.count)
        first = count == 1
        sq_norm = _tree.map(lambda g, v: dnp.sum(g * g).astype(v.dtype), updates, state.nu)
        nu = _tree.map(
            lambda s, v: dnp.where(first, s, (1 - b2) * s + b2 * v).astype(v.dtype),
            sq_norm,
            state.nu,
        )
        direction = _tree.map(
            lambda g, p, v: g / (dnp.sqrt(v + eps_root) + eps) + weight_decay * p,
            updates,
            params,
            nu,
        )
        mu = _tree.map(lambda d, m: dnp.where(first, d, b1 * m + d), direction, state.mu)
        mu = _like_state(mu, state.mu)
        return mu, ScaleByNovogradState(count, mu, nu)

    return GradientTransformation(init, update)


class ScaleBySM3State(NamedTuple):
    """State of `scale_by_sm3`: one accumulator vector per axis of each leaf, and momentum.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> [v.shape for v in optim.scale_by_sm3().init(dnp.zeros((2, 3))).mu]
        [(2,), (3,)]
    """

    mu: Any
    nu: Any


def scale_by_sm3(b1: Any = 0.9, b2: Any = 1.0, eps: Any = 1e-8) -> GradientTransformation:
    """SM3 (Anil et al., 2019): Adagrad with memory linear in the sum of the dimensions.

    For each leaf of rank ``r`` the state keeps ``r`` vectors, one per axis. The
    accumulator of an element is the minimum of its axes' vectors (``b2 = 1``: plus
    ``g^2``); the vectors then take the maximum of the accumulator over the other axes.
    The update is the momentum (``b1``) of ``g / sqrt(accumulator + eps)``.

    Args:
        b1: Momentum decay.
        b2: Decay of the accumulators (1.0: a plain sum, as in Adagrad).
        eps: Added inside the square root.

    Returns:
        A `GradientTransformation` with a `ScaleBySM3State`.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> tx = optim.scale_by_sm3()
        >>> [a.shape for a in tx.init(dnp.zeros((2, 3))).mu]
        [(2,), (3,)]
    """

    def _expanded(v, shape, axis):
        return dnp.reshape(v, [1] * axis + [shape[axis]] + [1] * (len(shape) - axis - 1))

    def init(params):
        # One accumulator per axis; a scalar gets a single scalar accumulator (Adagrad).
        def vectors(p):
            shape = dnp.shape(p)
            return [dnp.zeros(n, dnp.result_type(p)) for n in (shape or [()])]

        return ScaleBySM3State(mu=_tree.map(vectors, params), nu=tree_zeros_like(params))

    if isinstance(b2, int | float):
        c0 = 1.0 if b2 == 1.0 else 1.0 - b2
    else:
        c0 = dnp.where(b2 == 1.0, 1.0, 1.0 - b2)

    def one(g, vecs, m):
        shape = dnp.shape(g)
        if len(shape) < 2:
            accum = c0 * g * g + b2 * vecs[0]
        else:
            smallest = _expanded(vecs[0], shape, 0)
            for i, v in enumerate(vecs[1:], start=1):
                smallest = dnp.minimum(smallest, _expanded(v, shape, i))
            accum = c0 * g * g + b2 * smallest
        # Zero accumulators come with zero gradients: give 0, not 0/0 (or a NaN gradient).
        positive = accum > 0
        inv = dnp.where(positive, 1 / dnp.sqrt(dnp.where(positive, accum, 1) + eps), 0)
        nu = ((1 - b1) * (g * inv) + b1 * m).astype(m.dtype)
        if len(shape) < 2:
            new_vecs = [accum.astype(vecs[0].dtype)]
        else:
            axes = range(len(shape))
            new_vecs = [
                dnp.max(accum, axis=tuple(j for j in axes if j != i)).astype(v.dtype)
                for i, v in enumerate(vecs)
            ]
        return nu, new_vecs

    def update(updates, state, params=None):
        del params
        results = _tree.map(one, updates, state.mu, state.nu)
        nu = _tree.map(lambda _, r: r[0], updates, results)
        mu = _tree.map(lambda _, r: r[1], updates, results)
        return nu, ScaleBySM3State(mu=mu, nu=nu)

    return GradientTransformation(init, update)
