"""Loss functions. Each returns per-example losses: reduce them (``.mean()``) yourself."""

from __future__ import annotations

import math
from typing import Any

import derivax.numpy as dnp

from ._numerics import safe_norm

__all__ = [
    "cosine_distance",
    "cosine_similarity",
    "hinge_loss",
    "huber_loss",
    "kl_divergence",
    "l2_loss",
    "log_cosh",
    "sigmoid_binary_cross_entropy",
    "smooth_labels",
    "softmax_cross_entropy",
    "softmax_cross_entropy_with_integer_labels",
    "squared_error",
]


def _log_softmax(x: Any, axis: int) -> Any:
    # log_softmax is shift-invariant: subtracting the max changes neither value nor
    # gradient, and keeps exp from overflowing.
    shifted = x - dnp.max(x, axis=axis, keepdims=True)
    return shifted - dnp.log(dnp.sum(dnp.exp(shifted), axis=axis, keepdims=True))


def _log_sigmoid(x: Any) -> Any:
    # -softplus(-x), written so neither branch overflows.
    return -(dnp.maximum(-x, 0) + dnp.log1p(dnp.exp(-dnp.abs(x))))


def _check_same_shape(fn: str, a: Any, a_name: str, b: Any, b_name: str):
    if dnp.shape(a) != dnp.shape(b):
        raise ValueError(
            f"{fn}: {a_name} has shape {dnp.shape(a)} but {b_name} has shape {dnp.shape(b)}; "
            "they must be equal (broadcast or reshape one of them explicitly)."
        )


def softmax_cross_entropy(logits: Any, labels: Any, axis: int = -1) -> Any:
    """Cross-entropy between ``labels`` (probabilities) and ``softmax(logits)``.

    Args:
        logits: Unnormalised log-probabilities, shape ``[..., num_classes]``.
        labels: Target probabilities (e.g. one-hot), same shape.
        axis: The class axis.

    Returns:
        ``-sum(labels * log_softmax(logits), axis)``, shape ``[...]``.

    Raises:
        ValueError: If the shapes differ.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> loss = optim.softmax_cross_entropy(dnp.zeros((1, 4)), dnp.array([[0.0, 1.0, 0.0, 0.0]]))
        >>> round(float(loss[0]), 5)  # log(4)
        1.38629
    """
    _check_same_shape("softmax_cross_entropy", logits, "logits", labels, "labels")
    return -dnp.sum(labels * _log_softmax(logits, axis), axis=axis)


def softmax_cross_entropy_with_integer_labels(logits: Any, labels: Any, axis: int = -1) -> Any:
    """Cross-entropy of ``softmax(logits)`` with integer class labels.

    Args:
        logits: Unnormalised log-probabilities, shape ``[..., num_classes]``.
        labels: Integer class indices in ``[0, num_classes)``, shape ``[...]``.
        axis: The class axis of ``logits``.

    Returns:
        ``logsumexp(logits) - logits[label]``, shape ``[...]``.

    Raises:
        ValueError: If ``labels`` does not have the shape of ``logits`` without ``axis``,
            or is not an integer array.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> loss = optim.softmax_cross_entropy_with_integer_labels(dnp.zeros((2, 4)), dnp.array([1, 3]))
        >>> [round(x, 5) for x in loss.tolist()]
        [1.38629, 1.38629]
    """
    shape = dnp.shape(logits)
    axis = axis % len(shape) if shape else axis
    expected = shape[:axis] + shape[axis + 1 :]
    if dnp.shape(labels) != expected:
        raise ValueError(
            f"softmax_cross_entropy_with_integer_labels: logits of shape {shape} need labels "
            f"of shape {expected} (logits without the class axis {axis}), got "
            f"{dnp.shape(labels)}."
        )
    if dnp.result_type(labels).kind not in "iu":
        raise ValueError(
            f"softmax_cross_entropy_with_integer_labels: labels must be integers, got dtype "
            f"{dnp.result_type(labels)}; for probabilities use softmax_cross_entropy."
        )
    classes = dnp.arange(shape[axis]).reshape([-1] + [1] * (len(shape) - axis - 1))
    one_hot = dnp.expand_dims(labels, axis) == classes
    log_probs = _log_softmax(logits, axis)
    return -dnp.sum(dnp.where(one_hot, log_probs, 0), axis=axis)


def sigmoid_binary_cross_entropy(logits: Any, labels: Any) -> Any:
    """Elementwise binary cross-entropy of ``sigmoid(logits)`` against ``labels``.

    Args:
        logits: Unnormalised log-odds.
        labels: Targets in [0, 1], broadcastable to ``logits``.

    Returns:
        ``-labels * log(sigmoid(logits)) - (1 - labels) * log(1 - sigmoid(logits))``,
        computed stably.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> round(float(optim.sigmoid_binary_cross_entropy(dnp.array(0.0), dnp.array(1.0))), 5)
        0.69315
    """
    return -labels * _log_sigmoid(logits) - (1 - labels) * _log_sigmoid(-logits)


def squared_error(predictions: Any, targets: Any = None) -> Any:
    """Elementwise ``(predictions - targets) ** 2``.

    Args:
        predictions: An array.
        targets: Same shape, or None for zeros.

    Returns:
        The squared errors.

    Raises:
        ValueError: If the shapes differ.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.squared_error(dnp.array([1.0, 3.0]), dnp.array([0.0, 1.0])).tolist()
        [1.0, 4.0]
    """
    if targets is not None:
        _check_same_shape("squared_error", predictions, "predictions", targets, "targets")
        predictions = predictions - targets
    return predictions * predictions


def l2_loss(predictions: Any, targets: Any = None) -> Any:
    """Half the squared error: ``0.5 * (predictions - targets) ** 2``.

    Args:
        predictions: An array.
        targets: Same shape, or None for zeros.

    Returns:
        The elementwise losses.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.l2_loss(dnp.array([2.0])).tolist()
        [2.0]
    """
    return 0.5 * squared_error(predictions, targets)


def huber_loss(predictions: Any, targets: Any = None, delta: float = 1.0) -> Any:
    """Huber loss: quadratic for errors up to ``delta``, linear beyond.

    Args:
        predictions: An array.
        targets: Same shape, or None for zeros.
        delta: Where the loss turns linear.

    Returns:
        ``0.5 e^2`` for ``|e| <= delta``, ``delta (|e| - delta / 2)`` beyond.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.huber_loss(dnp.array([0.5, 3.0])).tolist()
        [0.125, 2.5]
    """
    errors = predictions if targets is None else predictions - targets
    if targets is not None:
        _check_same_shape("huber_loss", predictions, "predictions", targets, "targets")
    abs_errors = dnp.abs(errors)
    quadratic = dnp.minimum(abs_errors, delta)
    linear = abs_errors - quadratic
    return 0.5 * quadratic * quadratic + delta * linear


def log_cosh(predictions: Any, targets: Any = None) -> Any:
    """``log(cosh(predictions - targets))``, computed without overflow.

    Args:
        predictions: An array.
        targets: Same shape, or None for zeros.

    Returns:
        The elementwise losses: about ``e^2 / 2`` for small errors, ``|e| - log 2`` for
        large ones.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.log_cosh(dnp.array([0.0])).tolist()
        [0.0]
    """
    errors = predictions if targets is None else predictions - targets
    if targets is not None:
        _check_same_shape("log_cosh", predictions, "predictions", targets, "targets")
    a = dnp.abs(errors)
    return a + dnp.log1p(dnp.exp(-2 * a)) - math.log(2.0)


def cosine_similarity(predictions: Any, targets: Any, epsilon: float = 0.0) -> Any:
    """Cosine of the angle between ``predictions`` and ``targets`` along the last axis.

    Args:
        predictions: Shape ``[..., dim]``.
        targets: Same shape.
        epsilon: Lower bound of each norm, so zero vectors give 0 rather than NaN.

    Returns:
        Shape ``[...]``.

    Raises:
        ValueError: If the shapes differ.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> float(optim.cosine_similarity(dnp.array([1.0, 0.0]), dnp.array([2.0, 0.0])))
        1.0
    """
    _check_same_shape("cosine_similarity", predictions, "predictions", targets, "targets")
    unit_p = predictions / safe_norm(predictions, epsilon, axis=-1, keepdims=True)
    unit_t = targets / safe_norm(targets, epsilon, axis=-1, keepdims=True)
    return dnp.sum(unit_p * unit_t, axis=-1)


def cosine_distance(predictions: Any, targets: Any, epsilon: float = 0.0) -> Any:
    """``1 - cosine_similarity(predictions, targets)``.

    Args:
        predictions: Shape ``[..., dim]``.
        targets: Same shape.
        epsilon: See `cosine_similarity`.

    Returns:
        Shape ``[...]``, in [0, 2].

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> float(optim.cosine_distance(dnp.array([1.0, 0.0]), dnp.array([-1.0, 0.0])))
        2.0
    """
    return 1.0 - cosine_similarity(predictions, targets, epsilon)


def hinge_loss(predictor_outputs: Any, targets: Any) -> Any:
    """``max(0, 1 - predictor_outputs * targets)`` for targets in {-1, 1}.

    Args:
        predictor_outputs: Raw scores.
        targets: -1 or 1, same shape.

    Returns:
        The elementwise losses.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.hinge_loss(dnp.array([2.0, 0.5]), dnp.array([1.0, -1.0])).tolist()
        [0.0, 1.5]
    """
    return dnp.maximum(0, 1 - predictor_outputs * targets)


def kl_divergence(log_predictions: Any, targets: Any, axis: int = -1) -> Any:
    """Kullback-Leibler divergence ``KL(targets || exp(log_predictions))`` along ``axis``.

    Args:
        log_predictions: Log-probabilities of the prediction.
        targets: Probabilities of the target, same shape; zeros contribute zero.
        axis: The distribution axis.

    Returns:
        ``sum(targets * (log(targets) - log_predictions), axis)``.

    Raises:
        ValueError: If the shapes differ.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> p = dnp.array([0.5, 0.5])
        >>> float(optim.kl_divergence(dnp.log(p), p))
        0.0
    """
    _check_same_shape("kl_divergence", log_predictions, "log_predictions", targets, "targets")
    positive = targets > 0
    log_targets = dnp.log(dnp.where(positive, targets, 1))
    return dnp.sum(dnp.where(positive, targets * (log_targets - log_predictions), 0), axis=axis)


def smooth_labels(labels: Any, alpha: float) -> Any:
    """Label smoothing: ``(1 - alpha) * labels + alpha / num_classes``.

    Args:
        labels: One-hot (or probability) labels, shape ``[..., num_classes]``.
        alpha: The smoothing factor in [0, 1].

    Returns:
        The smoothed labels.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.smooth_labels(dnp.array([0.0, 1.0]), 0.5).tolist()
        [0.25, 0.75]
    """
    return (1.0 - alpha) * labels + alpha / dnp.shape(labels)[-1]
