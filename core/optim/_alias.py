"""Named optimizers: each is a `chain` of the transformations it is made of.

Every ``learning_rate`` may be a number or a schedule (a function of the step count).
"""

from __future__ import annotations

import math
from typing import Any

import derivax.numpy as dnp

from ._base import GradientTransformation, chain, identity
from ._clipping import clip_by_block_rms
from ._factorized import scale_by_factored_rms
from ._scaling import (
    add_decayed_weights,
    add_noise,
    ema,
    scale,
    scale_by_learning_rate,
    scale_by_param_block_rms,
    scale_by_schedule,
    scale_by_sign,
    scale_by_trust_ratio,
    trace,
)
from ._transforms import (
    scale_by_adadelta,
    scale_by_adam,
    scale_by_adamax,
    scale_by_amsgrad,
    scale_by_belief,
    scale_by_lion,
    scale_by_novograd,
    scale_by_radam,
    scale_by_rms,
    scale_by_rss,
    scale_by_sm3,
    scale_by_stddev,
    scale_by_yogi,
)
from ._wrappers import masked

__all__ = [
    "adabelief",
    "adadelta",
    "adafactor",
    "adagrad",
    "adam",
    "adamax",
    "adamw",
    "amsgrad",
    "fromage",
    "lamb",
    "lars",
    "lion",
    "nadam",
    "noisy_sgd",
    "novograd",
    "radam",
    "rmsprop",
    "sgd",
    "sign_sgd",
    "sm3",
    "yogi",
]

# One shared example setup keeps the docstrings short: minimise sum(w**2) from w = 1.
_EXAMPLE = """
    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> from derivax import optim
        >>> params = dnp.ones(3)
        >>> opt = optim.{call}
        >>> state = opt.init(params)
        >>> for _ in range(3):
        ...     grads = derivax.grad(lambda w: dnp.sum(w**2))(params)
        ...     updates, state = opt.update(grads, state, params)
        ...     params = optim.apply_updates(params, updates)
        >>> bool(dnp.all(dnp.abs(params) < 1))
        True
"""


def _doc(call: str):
    def decorate(fn):
        fn.__doc__ = fn.__doc__.rstrip() + "\n" + _EXAMPLE.format(call=call)
        return fn

    return decorate


@_doc("sgd(0.1, momentum=0.9)")
def sgd(
    learning_rate: Any,
    momentum: Any = None,
    nesterov: bool = False,
    accumulator_dtype: Any = None,
) -> GradientTransformation:
    """Stochastic gradient descent, with optional (Nesterov) momentum.

    Args:
        learning_rate: A number or a schedule.
        momentum: Momentum coefficient, or None for none.
        nesterov: Use Nesterov momentum.
        accumulator_dtype: Optional dtype of the momentum buffer.

    Returns:
        The optimizer.
    """
    momentum_tx = (
        trace(momentum, nesterov, accumulator_dtype) if momentum is not None else identity()
    )
    return chain(momentum_tx, scale_by_learning_rate(learning_rate))


@_doc("adam(0.1)")
def adam(
    learning_rate: Any,
    b1: Any = 0.9,
    b2: Any = 0.999,
    eps: Any = 1e-8,
    eps_root: Any = 0.0,
    mu_dtype: Any = None,
    *,
    nesterov: bool = False,
) -> GradientTransformation:
    """Adam (Kingma & Ba, 2014): `scale_by_adam` then the learning rate.

    Args:
        learning_rate: A number or a schedule.
        b1: Decay of the first moment.
        b2: Decay of the second moment.
        eps: Added to the denominator.
        eps_root: Added inside the square root.
        mu_dtype: Optional dtype of the first moment.
        nesterov: Use Nesterov momentum (NAdam).

    Returns:
        The optimizer.
    """
    return chain(
        scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov),
        scale_by_learning_rate(learning_rate),
    )


@_doc("nadam(0.1)")
def nadam(
    learning_rate: Any,
    b1: Any = 0.9,
    b2: Any = 0.999,
    eps: Any = 1e-8,
    eps_root: Any = 0.0,
    mu_dtype: Any = None,
) -> GradientTransformation:
    """NAdam (Dozat, 2016): Adam with Nesterov momentum.

    Args:
        learning_rate: A number or a schedule.
        b1: Decay of the first moment.
        b2: Decay of the second moment.
        eps: Added to the denominator.
        eps_root: Added inside the square root.
        mu_dtype: Optional dtype of the first moment.

    Returns:
        The optimizer.
    """
    return adam(learning_rate, b1, b2, eps, eps_root, mu_dtype, nesterov=True)


@_doc("adamw(0.1, weight_decay=1e-4)")
def adamw(
    learning_rate: Any,
    b1: Any = 0.9,
    b2: Any = 0.999,
    eps: Any = 1e-8,
    eps_root: Any = 0.0,
    mu_dtype: Any = None,
    weight_decay: Any = 1e-4,
    mask: Any = None,
    *,
    nesterov: bool = False,
) -> GradientTransformation:
    """AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay.

    The decay ``weight_decay * params`` is added after Adam's rescaling and before the
    learning rate, so the effective decay per step is ``learning_rate * weight_decay``.

    Args:
        learning_rate: A number or a schedule.
        b1: Decay of the first moment.
        b2: Decay of the second moment.
        eps: Added to the denominator.
        eps_root: Added inside the square root.
        mu_dtype: Optional dtype of the first moment.
        weight_decay: The decay coefficient (number or schedule).
        mask: Optional boolean pytree (or function of the params) selecting the
            parameters to decay.
        nesterov: Use Nesterov momentum.

    Returns:
        The optimizer.
    """
    return chain(
        scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )


@_doc("adamax(0.1)")
def adamax(
    learning_rate: Any, b1: Any = 0.9, b2: Any = 0.999, eps: Any = 1e-8
) -> GradientTransformation:
    """Adamax (Kingma & Ba, 2014): Adam with the infinity norm.

    Args:
        learning_rate: A number or a schedule.
        b1: Decay of the first moment.
        b2: Decay of the infinity norm.
        eps: Added to ``|g|``.

    Returns:
        The optimizer.
    """
    return chain(scale_by_adamax(b1, b2, eps), scale_by_learning_rate(learning_rate))


@_doc("amsgrad(0.1)")
def amsgrad(
    learning_rate: Any,
    b1: Any = 0.9,
    b2: Any = 0.999,
    eps: Any = 1e-8,
    eps_root: Any = 0.0,
    mu_dtype: Any = None,
) -> GradientTransformation:
    """AMSGrad (Reddi et al., 2018): Adam with a non-decreasing second moment.

    Args:
        learning_rate: A number or a schedule.
        b1: Decay of the first moment.
        b2: Decay of the second moment.
        eps: Added to the denominator.
        eps_root: Added inside the square root.
        mu_dtype: Optional dtype of the first moment.

    Returns:
        The optimizer.
    """
    return chain(
        scale_by_amsgrad(b1, b2, eps, eps_root, mu_dtype), scale_by_learning_rate(learning_rate)
    )


@_doc("radam(0.1)")
def radam(
    learning_rate: Any,
    b1: Any = 0.9,
    b2: Any = 0.999,
    eps: Any = 1e-8,
    eps_root: Any = 0.0,
    threshold: Any = 5.0,
    *,
    nesterov: bool = False,
) -> GradientTransformation:
    """Rectified Adam (Liu et al., 2020).

    Args:
        learning_rate: A number or a schedule.
        b1: Decay of the first moment.
        b2: Decay of the second moment.
        eps: Added to the denominator.
        eps_root: Added inside the square root.
        threshold: See `scale_by_radam`.
        nesterov: Use Nesterov momentum.

    Returns:
        The optimizer.
    """
    return chain(
        scale_by_radam(b1, b2, eps, eps_root, threshold, nesterov=nesterov),
        scale_by_learning_rate(learning_rate),
    )


@_doc("rmsprop(0.1, centered=True, momentum=0.5)")
def rmsprop(
    learning_rate: Any,
    decay: Any = 0.9,
    eps: Any = 1e-8,
    initial_scale: Any = 0.0,
    eps_in_sqrt: bool = True,
    centered: bool = False,
    momentum: Any = None,
    nesterov: bool = False,
    bias_correction: bool = False,
) -> GradientTransformation:
    """RMSProp (Tieleman & Hinton, 2012), optionally centered and with momentum.

    Args:
        learning_rate: A number or a schedule.
        decay: Decay of the squared-gradient average.
        eps: See `scale_by_rms`.
        initial_scale: Initial value of the squared-gradient average.
        eps_in_sqrt: Put ``eps`` inside the square root.
        centered: Divide by the standard deviation instead (`scale_by_stddev`).
        momentum: Momentum coefficient applied after the learning rate, or None.
        nesterov: Use Nesterov momentum.
        bias_correction: Bias-correct the averages.

    Returns:
        The optimizer.
    """
    rescale = scale_by_stddev if centered else scale_by_rms
    return chain(
        rescale(decay, eps, initial_scale, eps_in_sqrt, bias_correction),
        scale_by_learning_rate(learning_rate),
        trace(momentum, nesterov) if momentum is not None else identity(),
    )


@_doc("adagrad(0.5)")
def adagrad(
    learning_rate: Any, initial_accumulator_value: Any = 0.1, eps: Any = 1e-7
) -> GradientTransformation:
    """Adagrad (Duchi et al., 2011): divides by the root of the summed squared gradients.

    Args:
        learning_rate: A number or a schedule.
        initial_accumulator_value: Initial value of the sum.
        eps: Added inside the square root.

    Returns:
        The optimizer.
    """
    return chain(
        scale_by_rss(initial_accumulator_value, eps), scale_by_learning_rate(learning_rate)
    )


@_doc("adadelta(10.0)")
def adadelta(
    learning_rate: Any = None,
    rho: Any = 0.9,
    eps: Any = 1e-6,
    weight_decay: Any = 0.0,
    weight_decay_mask: Any = None,
) -> GradientTransformation:
    """Adadelta (Zeiler, 2012).

    Args:
        learning_rate: A number or a schedule; None applies no scaling (and then the
            updates are not negated: pass a learning rate to descend).
        rho: Decay of the averages.
        eps: Added inside the square roots.
        weight_decay: Coefficient of the weight decay added to the gradients.
        weight_decay_mask: Optional mask of the parameters to decay.

    Returns:
        The optimizer.
    """
    return chain(
        add_decayed_weights(weight_decay, weight_decay_mask),
        scale_by_adadelta(rho, eps),
        scale_by_learning_rate(learning_rate),
    )


@_doc("adafactor(0.1)")
def adafactor(
    learning_rate: Any = None,
    min_dim_size_to_factor: int = 128,
    decay_rate: Any = 0.8,
    decay_offset: int = 0,
    multiply_by_parameter_scale: bool = True,
    clipping_threshold: Any = 1.0,
    momentum: Any = None,
    dtype_momentum: Any = dnp.float32,
    weight_decay_rate: Any = None,
    eps: Any = 1e-30,
    factored: bool = True,
    weight_decay_mask: Any = None,
) -> GradientTransformation:
    """Adafactor (Shazeer & Stern, 2018): factored second moments, memory-light.

    Args:
        learning_rate: A number, a schedule, or None (no scaling).
        min_dim_size_to_factor: See `scale_by_factored_rms`.
        decay_rate: See `scale_by_factored_rms`.
        decay_offset: Step offset of the decay.
        multiply_by_parameter_scale: Scale steps by each parameter's rms.
        clipping_threshold: Clip each update's rms to this (None: no clipping).
        momentum: Optional EMA coefficient of the updates.
        dtype_momentum: dtype of that EMA.
        weight_decay_rate: Optional decoupled weight decay.
        eps: Added to the squared gradients.
        factored: Factor the second moments of large matrices.
        weight_decay_mask: Optional mask of the parameters to decay.

    Returns:
        The optimizer.
    """
    parts = [scale_by_factored_rms(factored, decay_rate, decay_offset, min_dim_size_to_factor, eps)]
    if clipping_threshold is not None:
        parts.append(clip_by_block_rms(clipping_threshold))
    if learning_rate is not None:
        parts.append(scale_by_learning_rate(learning_rate, flip_sign=False))
    if multiply_by_parameter_scale:
        parts.append(scale_by_param_block_rms())
    if momentum is not None:
        parts.append(ema(momentum, debias=False, accumulator_dtype=dtype_momentum))
    if weight_decay_rate is not None:
        parts.append(add_decayed_weights(weight_decay_rate, weight_decay_mask))
    parts.append(scale(-1))
    return chain(*parts)


@_doc("lamb(0.1)")
def lamb(
    learning_rate: Any,
    b1: Any = 0.9,
    b2: Any = 0.999,
    eps: Any = 1e-6,
    eps_root: Any = 0.0,
    weight_decay: Any = 0.0,
    mask: Any = None,
) -> GradientTransformation:
    """LAMB (You et al., 2020): Adam with weight decay and a per-layer trust ratio.

    Args:
        learning_rate: A number or a schedule.
        b1: Decay of the first moment.
        b2: Decay of the second moment.
        eps: Added to the denominator.
        eps_root: Added inside the square root.
        weight_decay: Decoupled weight decay coefficient.
        mask: Optional mask of the parameters to decay.

    Returns:
        The optimizer.
    """
    return chain(
        scale_by_adam(b1, b2, eps, eps_root),
        add_decayed_weights(weight_decay, mask),
        scale_by_trust_ratio(),
        scale_by_learning_rate(learning_rate),
    )


@_doc("lars(0.5, trust_coefficient=0.5, momentum=0.5)")
def lars(
    learning_rate: Any,
    weight_decay: Any = 0.0,
    weight_decay_mask: Any = True,
    trust_coefficient: Any = 0.001,
    eps: Any = 0.0,
    trust_ratio_mask: Any = True,
    momentum: Any = 0.9,
    nesterov: bool = False,
) -> GradientTransformation:
    """LARS (You et al., 2017): SGD with momentum and a per-layer trust ratio.

    Args:
        learning_rate: A number or a schedule.
        weight_decay: Weight decay coefficient.
        weight_decay_mask: Mask (or function) of the parameters to decay; True: all.
        trust_coefficient: See `scale_by_trust_ratio`.
        eps: See `scale_by_trust_ratio`.
        trust_ratio_mask: Mask of the parameters given a trust ratio; True: all.
        momentum: Momentum coefficient.
        nesterov: Use Nesterov momentum.

    Returns:
        The optimizer.
    """
    return chain(
        add_decayed_weights(weight_decay, mask=weight_decay_mask),
        masked(
            scale_by_trust_ratio(trust_coefficient=trust_coefficient, eps=eps), trust_ratio_mask
        ),
        scale_by_learning_rate(learning_rate),
        trace(momentum, nesterov),
    )


@_doc("lion(0.1)")
def lion(
    learning_rate: Any,
    b1: Any = 0.9,
    b2: Any = 0.99,
    mu_dtype: Any = None,
    weight_decay: Any = 1e-3,
    mask: Any = None,
) -> GradientTransformation:
    """Lion (Chen et al., 2023): sign of interpolated momentum, with weight decay.

    Use a learning rate 3-10x smaller than Adam's: every step has magnitude 1 per element.

    Args:
        learning_rate: A number or a schedule.
        b1: Interpolation weight of the momentum in the update.
        b2: Decay of the momentum.
        mu_dtype: Optional dtype of the momentum.
        weight_decay: Decoupled weight decay coefficient.
        mask: Optional mask of the parameters to decay.

    Returns:
        The optimizer.
    """
    return chain(
        scale_by_lion(b1, b2, mu_dtype),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )


@_doc("novograd(0.1)")
def novograd(
    learning_rate: Any,
    b1: Any = 0.9,
    b2: Any = 0.25,
    eps: Any = 1e-6,
    eps_root: Any = 0.0,
    weight_decay: Any = 0.0,
) -> GradientTransformation:
    """NovoGrad (Ginsburg et al., 2019): layer-wise second moments.

    Args:
        learning_rate: A number or a schedule.
        b1: Momentum decay.
        b2: Decay of the squared norms.
        eps: Added to the denominator.
        eps_root: Added inside the square root.
        weight_decay: Weight decay added to the normalised gradient.

    Returns:
        The optimizer.
    """
    return chain(
        scale_by_novograd(b1, b2, eps, eps_root, weight_decay),
        scale_by_learning_rate(learning_rate),
    )


@_doc("fromage(0.1)")
def fromage(learning_rate: Any, min_norm: Any = 1e-6) -> GradientTransformation:
    """Fromage (Bernstein et al., 2020): trust-ratio steps that keep weight norms stable.

    With ``k = 1 / sqrt(1 + lr^2)`` the new parameters are ``k * (p - lr * u)`` where
    ``u`` is the trust-ratio-scaled gradient.

    Args:
        learning_rate: A number or a schedule.
        min_norm: See `scale_by_trust_ratio`.

    Returns:
        The optimizer.
    """
    if callable(learning_rate):
        shrink = lambda count: 1 / dnp.sqrt(1 + learning_rate(count) ** 2)
        return chain(
            scale_by_trust_ratio(min_norm),
            scale_by_schedule(lambda count: -learning_rate(count) * shrink(count)),
            add_decayed_weights(lambda count: shrink(count) - 1),
        )
    shrink = 1 / math.sqrt(1 + learning_rate**2)
    return chain(
        scale_by_trust_ratio(min_norm),
        scale_by_learning_rate(learning_rate * shrink),
        add_decayed_weights(shrink - 1),
    )


@_doc("sm3(0.5)")
def sm3(learning_rate: Any, momentum: Any = 0.9) -> GradientTransformation:
    """SM3 (Anil et al., 2019): Adagrad-like with sublinear memory.

    Args:
        learning_rate: A number or a schedule.
        momentum: Momentum decay.

    Returns:
        The optimizer.
    """
    return chain(scale_by_sm3(momentum), scale_by_learning_rate(learning_rate))


@_doc("yogi(0.1)")
def yogi(
    learning_rate: Any, b1: Any = 0.9, b2: Any = 0.999, eps: Any = 1e-3
) -> GradientTransformation:
    """Yogi (Zaheer et al., 2018): Adam with a controlled second-moment increase.

    Args:
        learning_rate: A number or a schedule.
        b1: Decay of the first moment.
        b2: Rate of the second-moment update.
        eps: Added to the denominator.

    Returns:
        The optimizer.
    """
    return chain(scale_by_yogi(b1, b2, eps), scale_by_learning_rate(learning_rate))


@_doc("adabelief(0.1)")
def adabelief(
    learning_rate: Any,
    b1: Any = 0.9,
    b2: Any = 0.999,
    eps: Any = 1e-16,
    eps_root: Any = 1e-16,
    *,
    nesterov: bool = False,
) -> GradientTransformation:
    """AdaBelief (Zhuang et al., 2020).

    Args:
        learning_rate: A number or a schedule.
        b1: Decay of the gradient average.
        b2: Decay of the belief average.
        eps: Added to the denominator.
        eps_root: Added to the belief average.
        nesterov: Use Nesterov momentum.

    Returns:
        The optimizer.
    """
    return chain(
        scale_by_belief(b1, b2, eps, eps_root, nesterov=nesterov),
        scale_by_learning_rate(learning_rate),
    )


@_doc("noisy_sgd(0.1, eta=1e-4)")
def noisy_sgd(
    learning_rate: Any, eta: Any = 0.01, gamma: Any = 0.55, seed: int = 0
) -> GradientTransformation:
    """SGD with annealed Gaussian gradient noise (Neelakantan et al., 2015).

    Args:
        learning_rate: A number or a schedule.
        eta: Initial noise variance.
        gamma: Decay exponent of the variance.
        seed: Seed of the noise.

    Returns:
        The optimizer.
    """
    return chain(add_noise(eta, gamma, seed), scale_by_learning_rate(learning_rate))


@_doc("sign_sgd(0.1)")
def sign_sgd(learning_rate: Any) -> GradientTransformation:
    """signSGD (Bernstein et al., 2018): steps along the sign of the gradient.

    Args:
        learning_rate: A number or a schedule.

    Returns:
        The optimizer.
    """
    return chain(scale_by_sign(), scale_by_learning_rate(learning_rate))
