"""Transformations of transformations: masking, partitioning, accumulation, hyperparameters.

Conditionals on array values use ``dnp.where`` (both sides are computed, one is kept), so
every wrapper works under `derivax.jit`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Hashable, Mapping
from typing import Any, NamedTuple

import numpy as np

import derivax.numpy as dnp
from derivax import tree as _tree

from ._base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    with_extra_args_support,
)
from ._tree_utils import safe_increment, tree_zeros_like

__all__ = [
    "ApplyEvery",
    "ApplyIfFiniteState",
    "InjectHyperparamsState",
    "MaskedNode",
    "MaskedState",
    "MultiSteps",
    "MultiStepsState",
    "MultiTransformState",
    "apply_every",
    "apply_if_finite",
    "inject_hyperparams",
    "masked",
    "multi_transform",
    "skip_large_updates",
    "skip_not_finite",
]


def _where_tree(cond: Any, on_true: Any, on_false: Any) -> Any:
    """``dnp.where(cond, a, b)`` leaf by leaf, keeping the dtypes of ``on_false``."""
    return _tree.map(
        lambda a, b: dnp.where(cond, a, b).astype(dnp.result_type(b)), on_true, on_false
    )


class MaskedNode(NamedTuple):
    """Stands in for a masked-out subtree: an empty pytree node, so inner transforms skip it.

    Example:
        >>> import derivax
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> derivax.tree.leaves(optim.MaskedNode())
        []
    """


class MaskedState(NamedTuple):
    """State of `masked`: the inner transformation's state (over the masked-in leaves).

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.masked(optim.trace(0.9), {'w': True}).init({'w': dnp.zeros(2)})._fields
        ('inner_state',)
    """

    inner_state: Any


def _mask_tree(mask: Any, tree: Any) -> Any:
    return mask(tree) if callable(mask) else mask


def masked(inner: GradientTransformation, mask: Any) -> GradientTransformationExtraArgs:
    """Applies ``inner`` only where ``mask`` is True; other updates pass through unchanged.

    Args:
        inner: The transformation to apply to the masked-in leaves.
        mask: A pytree of Python booleans with the structure of the params (or a prefix of
            it: ``True`` masks in a whole subtree), or a function of the params returning
            one.

    Returns:
        A `GradientTransformationExtraArgs` with a `MaskedState`.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> params = {"w": dnp.ones(2), "b": dnp.ones(2)}
        >>> tx = optim.masked(optim.scale(0.0), {"w": True, "b": False})
        >>> u, _ = tx.update(params, tx.init(params))
        >>> u["w"].tolist(), u["b"].tolist()
        ([0.0, 0.0], [1.0, 1.0])
    """
    inner = with_extra_args_support(inner)

    def apply_mask(tree, mask_tree):
        return _tree.map(lambda m, x: x if m else MaskedNode(), mask_tree, tree)

    def init(params):
        return MaskedState(inner.init(apply_mask(params, _mask_tree(mask, params))))

    def update(updates, state, params=None, **extra_args):
        mask_tree = _mask_tree(mask, updates)
        new, inner_state = inner.update(
            apply_mask(updates, mask_tree),
            state.inner_state,
            None if params is None else apply_mask(params, mask_tree),
            **extra_args,
        )
        out = _tree.map(lambda m, n, u: n if m else u, mask_tree, new, updates)
        return out, MaskedState(inner_state)

    return GradientTransformationExtraArgs(init, update)


class MultiTransformState(NamedTuple):
    """State of `multi_transform`: the inner states by label.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> sorted(optim.multi_transform({'a': optim.sgd(0.1)}, {'w': 'a'}).init({'w': dnp.zeros(2)}).inner_states)
        ['a']
    """

    inner_states: Any


def multi_transform(
    transforms: Mapping[Hashable, GradientTransformation], param_labels: Any
) -> GradientTransformationExtraArgs:
    """Applies a different transformation to each group of parameters.

    Args:
        transforms: The transformation of each label.
        param_labels: A pytree with the structure of the params whose leaves are labels
            (keys of ``transforms``), or a function of the params returning one.

    Returns:
        A `GradientTransformationExtraArgs` with a `MultiTransformState`.

    Raises:
        ValueError: If a label has no transformation.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> params = {"w": dnp.ones(2), "frozen": dnp.ones(2)}
        >>> tx = optim.multi_transform(
        ...     {"train": optim.sgd(0.5), "freeze": optim.set_to_zero()},
        ...     {"w": "train", "frozen": "freeze"},
        ... )
        >>> u, _ = tx.update(params, tx.init(params))
        >>> u["w"].tolist(), u["frozen"].tolist()
        ([-0.5, -0.5], [0.0, 0.0])
    """
    labels_fn = param_labels if callable(param_labels) else (lambda _: param_labels)

    def group_masks(tree):
        labels = labels_fn(tree)
        unknown = set(_tree.leaves(labels)) - set(transforms)
        if unknown:
            raise ValueError(
                f"multi_transform: the labels {sorted(map(repr, unknown))} have no "
                f"transformation; transforms has {sorted(map(repr, transforms))}. Add them "
                "to `transforms` or fix `param_labels`."
            )
        return {
            label: masked(tx, _tree.map(lambda lab, label=label: lab == label, labels))
            for label, tx in transforms.items()
        }

    def init(params):
        return MultiTransformState({k: tx.init(params) for k, tx in group_masks(params).items()})

    def update(updates, state, params=None, **extra_args):
        new_states = {}
        for label, tx in group_masks(updates).items():
            updates, new_states[label] = tx.update(
                updates, state.inner_states[label], params, **extra_args
            )
        return updates, MultiTransformState(new_states)

    return GradientTransformationExtraArgs(init, update)


class InjectHyperparamsState(NamedTuple):
    """State of `inject_hyperparams`.

    Attributes:
        count: The number of updates so far (the step given to schedules).
        hyperparams: Dict of the numeric hyperparameters as arrays. Assigning a new value
            (``state.hyperparams["learning_rate"] = 0.01``) changes the next update.
            Scheduled ones hold the value used for the latest update.
        inner_state: The state of the wrapped transformation.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> sorted(optim.inject_hyperparams(optim.sgd)(learning_rate=0.1).init(dnp.zeros(2)).hyperparams)
        ['learning_rate']
    """

    count: Any
    hyperparams: dict
    inner_state: Any


def _float_dtype(params: Any, requested: Any) -> Any:
    if requested is not None:
        return requested
    dtypes = [np.dtype(dnp.result_type(x)) for x in _tree.leaves(params)]
    floats = [d for d in dtypes if d.kind == "f"]
    return max(floats, key=lambda d: d.itemsize) if floats else np.dtype(np.float32)


def _as_hyperparam(value: Any, dtype: Any) -> Any:
    if isinstance(value, float) or (hasattr(value, "dtype") and np.dtype(value.dtype).kind == "f"):
        return dnp.asarray(value, dtype=dtype)
    return dnp.asarray(value)


def inject_hyperparams(
    inner_factory: Callable[..., GradientTransformation],
    static_args: str | tuple[str, ...] = (),
    hyperparam_dtype: Any = None,
) -> Callable[..., GradientTransformationExtraArgs]:
    """Makes an optimizer's numeric hyperparameters live in its state.

    ``inject_hyperparams(optim.adam)(learning_rate=1e-3)`` behaves like
    ``optim.adam(1e-3)``, but its state has a ``hyperparams`` dict: read the learning rate
    (for logging) or assign a new one between steps. Hyperparameters given as schedules
    are evaluated at the step count on every update and the value used is stored.

    Args:
        inner_factory: A function returning a `GradientTransformation`, e.g. `adam`.
        static_args: Names of numeric arguments to keep as Python values (used in Python
            control flow, such as a momentum that may be None).
        hyperparam_dtype: dtype of float hyperparameters (default: the widest float dtype
            of the params).

    Returns:
        A function with ``inner_factory``'s signature returning a
        `GradientTransformationExtraArgs` with an `InjectHyperparamsState`.

    Raises:
        ValueError: If ``static_args`` names an argument ``inner_factory`` does not have.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> tx = optim.inject_hyperparams(optim.sgd)(learning_rate=0.5)
        >>> state = tx.init(dnp.ones(1))
        >>> float(state.hyperparams["learning_rate"])
        0.5
        >>> state.hyperparams["learning_rate"] = 0.25
        >>> tx.update(dnp.ones(1), state)[0].tolist()
        [-0.25]
    """
    static = {static_args} if isinstance(static_args, str) else set(static_args)
    signature = inspect.signature(inner_factory)
    if not static <= set(signature.parameters):
        raise ValueError(
            f"inject_hyperparams: static_args {sorted(static - set(signature.parameters))} are "
            f"not parameters of {getattr(inner_factory, '__name__', inner_factory)}, whose "
            f"parameters are {list(signature.parameters)}."
        )

    def wrapped(*args, **kwargs) -> GradientTransformationExtraArgs:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        schedules, numeric, other = {}, {}, {}
        for name, value in bound.arguments.items():
            if name in static or isinstance(value, bool):
                other[name] = value
            elif callable(value):
                schedules[name] = value
            elif isinstance(value, int | float | np.ndarray | np.generic) or (
                hasattr(value, "dtype") and hasattr(value, "shape")
            ):
                numeric[name] = value
            else:
                other[name] = value

        def init(params):
            dtype = _float_dtype(params, hyperparam_dtype)
            count = dnp.zeros((), dnp.int32)
            hparams = {k: _as_hyperparam(v, dtype) for k, v in numeric.items()}
            hparams.update({k: _as_hyperparam(f(count), dtype) for k, f in schedules.items()})
            inner = inner_factory(**other, **hparams)
            return InjectHyperparamsState(count, hparams, inner.init(params))

        def update(updates, state, params=None, **extra_args):
            dtype = _float_dtype(updates, hyperparam_dtype)
            hparams = {k: _as_hyperparam(v, dtype) for k, v in state.hyperparams.items()}
            hparams.update({k: _as_hyperparam(f(state.count), dtype) for k, f in schedules.items()})
            inner = with_extra_args_support(inner_factory(**other, **hparams))
            updates, inner_state = inner.update(updates, state.inner_state, params, **extra_args)
            return updates, InjectHyperparamsState(
                safe_increment(state.count), hparams, inner_state
            )

        return GradientTransformationExtraArgs(init, update)

    wrapped.__name__ = f"inject_hyperparams({getattr(inner_factory, '__name__', 'factory')})"
    wrapped.__doc__ = inner_factory.__doc__
    return wrapped


def skip_not_finite(updates: Any, gradient_step: Any, params: Any) -> tuple[Any, dict]:
    """A ``should_skip_update_fn`` for `MultiSteps`: skip updates holding NaN or inf.

    Args:
        updates: The gradients of this mini-step.
        gradient_step: Ignored.
        params: Ignored.

    Returns:
        ``(should_skip, info)``: a boolean scalar array and a dict with ``should_skip``
        and ``num_not_finite`` (kept in `MultiStepsState.skip_state`).

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> skip, info = optim.skip_not_finite([dnp.array([1.0, dnp.inf])], 0, None)
        >>> bool(skip), int(info["num_not_finite"])
        (True, 1)
    """
    del gradient_step, params
    counts = [
        dnp.sum(dnp.logical_not(dnp.isfinite(g)).astype(dnp.int32)) for g in _tree.leaves(updates)
    ]
    num = sum(counts[1:], counts[0]) if counts else dnp.zeros((), dnp.int32)
    should_skip = num > 0
    return should_skip, {"should_skip": should_skip, "num_not_finite": num}


def skip_large_updates(
    updates: Any, gradient_step: Any, params: Any, max_squared_norm: Any
) -> tuple[Any, dict]:
    """A ``should_skip_update_fn`` for `MultiSteps`: skip updates whose squared norm is large.

    Use with ``functools.partial(skip_large_updates, max_squared_norm=...)``.

    Args:
        updates: The gradients of this mini-step.
        gradient_step: Ignored.
        params: Ignored.
        max_squared_norm: Skip when the squared global norm is not below this.

    Returns:
        ``(should_skip, info)`` with ``should_skip`` and ``norm_squared``.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> skip, info = optim.skip_large_updates([dnp.array([3.0, 4.0])], 0, None, 10.0)
        >>> bool(skip), float(info["norm_squared"])
        (True, 25.0)
    """
    del gradient_step, params
    sq = [dnp.sum(g * g) for g in _tree.leaves(updates)]
    norm_sq = sum(sq[1:], sq[0]) if sq else dnp.zeros(())
    should_skip = dnp.logical_not(norm_sq < max_squared_norm)
    return should_skip, {"should_skip": should_skip, "norm_squared": norm_sq}


class MultiStepsState(NamedTuple):
    """State of `MultiSteps`.

    Attributes:
        mini_step: Mini-steps accumulated since the last real update (0..k-1).
        gradient_step: Real updates applied so far.
        inner_opt_state: The inner optimizer's state.
        acc_grads: The accumulated gradients (their running mean by default).
        skip_state: The info returned by ``should_skip_update_fn`` on the last mini-step.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> int(optim.MultiSteps(optim.sgd(0.1), 4).init(dnp.zeros(2)).mini_step)
        0
    """

    mini_step: Any
    gradient_step: Any
    inner_opt_state: Any
    acc_grads: Any
    skip_state: Any


class MultiSteps:
    """Gradient accumulation: applies the inner optimizer once every ``k`` mini-steps.

    On the first ``k - 1`` mini-steps the gradients are accumulated and the returned
    updates are zeros; on the ``k``-th the inner optimizer sees the mean (or sum) of the
    ``k`` gradients and its update is returned. Equivalent to training with a ``k`` times
    larger batch.

    Args:
        opt: The inner optimizer.
        every_k_schedule: ``k``, or a function of the number of real updates so far
            returning ``k``.
        use_grad_mean: Accumulate the mean of the gradients (True) or their sum.
        should_skip_update_fn: Optional ``fn(updates, gradient_step, params) ->
            (should_skip, info)``, e.g. `skip_not_finite`: a skipped mini-step leaves the
            state unchanged (apart from ``skip_state``) and returns zeros.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> tx = optim.MultiSteps(optim.sgd(1.0), every_k_schedule=2)
        >>> state = tx.init(dnp.zeros(1))
        >>> u, state = tx.update(dnp.array([1.0]), state)
        >>> u.tolist()
        [0.0]
        >>> u, state = tx.update(dnp.array([3.0]), state)
        >>> u.tolist()
        [-2.0]
    """

    def __init__(
        self,
        opt: GradientTransformation,
        every_k_schedule: int | Callable[[Any], Any],
        use_grad_mean: bool = True,
        should_skip_update_fn: Callable | None = None,
    ):
        if isinstance(every_k_schedule, int) and every_k_schedule < 1:
            raise ValueError(f"MultiSteps: every_k_schedule must be >= 1, got {every_k_schedule}.")
        self._opt = with_extra_args_support(opt)
        k = every_k_schedule
        self._every_k = k if callable(k) else (lambda step: k)
        self._use_grad_mean = use_grad_mean
        self._should_skip = should_skip_update_fn

    @property
    def inner_opt(self) -> GradientTransformationExtraArgs:
        """The wrapped optimizer."""
        return self._opt

    def _skip(self, updates, step, params):
        if self._should_skip is None:
            return dnp.asarray(False), ()
        return self._should_skip(updates, step, params)

    def init(self, params: Any) -> MultiStepsState:
        """Builds the initial state (see `MultiStepsState`)."""
        step = dnp.zeros((), dnp.int32)
        _, skip_state = self._skip(tree_zeros_like(params), step, params)
        return MultiStepsState(
            mini_step=dnp.zeros((), dnp.int32),
            gradient_step=step,
            inner_opt_state=self._opt.init(params),
            acc_grads=tree_zeros_like(params),
            skip_state=skip_state,
        )

    def update(
        self, updates: Any, state: MultiStepsState, params: Any = None, **extra_args: Any
    ) -> tuple[Any, MultiStepsState]:
        """Accumulates ``updates``; every ``k``-th call applies the inner optimizer."""
        k = self._every_k(state.gradient_step)
        should_skip, skip_state = self._skip(updates, state.gradient_step, params)
        n = state.mini_step
        if self._use_grad_mean:
            acc = _tree.map(
                lambda g, a: a + (g - a) / (n + 1).astype(a.dtype), updates, state.acc_grads
            )
        else:
            acc = _tree.map(lambda g, a: a + g, updates, state.acc_grads)
        final, new_inner = self._opt.update(acc, state.inner_opt_state, params, **extra_args)
        emit = n == k - 1
        stepped = MultiStepsState(
            mini_step=safe_increment(n) % k,
            gradient_step=dnp.where(emit, safe_increment(state.gradient_step), state.gradient_step),
            inner_opt_state=_where_tree(emit, new_inner, state.inner_opt_state),
            acc_grads=_tree.map(lambda a: dnp.where(emit, dnp.zeros_like(a), a), acc),
            skip_state=skip_state,
        )
        zeros = tree_zeros_like(updates)
        out = _where_tree(emit, final, zeros)
        kept = state._replace(skip_state=skip_state)
        new_state = MultiStepsState(
            *[_where_tree(should_skip, a, b) for a, b in zip(kept[:4], stepped[:4], strict=True)],
            skip_state,
        )
        return _where_tree(should_skip, zeros, out), new_state

    def has_updated(self, state: MultiStepsState) -> Any:
        """Whether the last call to `update` applied the inner optimizer."""
        return dnp.logical_and(state.mini_step == 0, state.gradient_step > 0)

    def gradient_transformation(self) -> GradientTransformationExtraArgs:
        """This accumulator as a `GradientTransformationExtraArgs` (for `chain` etc.)."""
        return GradientTransformationExtraArgs(self.init, self.update)


class ApplyEvery(NamedTuple):
    """State of `apply_every`: position in the cycle and the summed updates.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> optim.apply_every(2).init(dnp.zeros(2))._fields
        ('count', 'grad_acc')
    """

    count: Any
    grad_acc: Any


def apply_every(k: int = 1) -> GradientTransformation:
    """Sums updates over ``k`` steps and emits the sum every ``k``-th step (zeros otherwise).

    Args:
        k: The period.

    Returns:
        A `GradientTransformation` with an `ApplyEvery` state.

    Raises:
        ValueError: If ``k < 1``.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> tx = optim.apply_every(2)
        >>> state = tx.init(dnp.zeros(1))
        >>> outs = []
        >>> for g in [1.0, 2.0, 4.0]:
        ...     u, state = tx.update(dnp.array([g]), state)
        ...     outs.append(u.tolist()[0])
        >>> outs
        [0.0, 3.0, 0.0]
    """
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"apply_every: k must be an int >= 1, got {k!r}.")

    def init(params):
        return ApplyEvery(dnp.zeros((), dnp.int32), tree_zeros_like(params))

    def update(updates, state, params=None):
        del params
        c = state.count % k
        keep = (c != 0).astype(dnp.int32)
        acc = _tree.map(lambda g, a: (keep * a + g).astype(a.dtype), updates, state.grad_acc)
        emit = (c == k - 1).astype(dnp.int32)
        out = _tree.map(lambda a: (emit * a).astype(a.dtype), acc)
        return out, ApplyEvery(safe_increment(state.count) % k, acc)

    return GradientTransformation(init, update)


class ApplyIfFiniteState(NamedTuple):
    """State of `apply_if_finite`.

    Attributes:
        notfinite_count: Consecutive non-finite updates so far.
        last_finite: Whether the last update was finite.
        total_notfinite: Non-finite updates in total.
        inner_state: The inner transformation's state.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> int(optim.apply_if_finite(optim.sgd(0.1), 3).init(dnp.zeros(2)).total_notfinite)
        0
    """

    notfinite_count: Any
    last_finite: Any
    total_notfinite: Any
    inner_state: Any


def apply_if_finite(
    inner: GradientTransformation, max_consecutive_errors: int
) -> GradientTransformationExtraArgs:
    """Skips updates holding NaN or inf (returning zeros, keeping the inner state).

    After more than ``max_consecutive_errors`` non-finite updates in a row the update is
    applied anyway, so a diverged run shows up instead of silently stalling.

    Args:
        inner: The transformation to protect.
        max_consecutive_errors: Non-finite updates to skip in a row.

    Returns:
        A `GradientTransformationExtraArgs` with an `ApplyIfFiniteState`.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import optim
        >>> tx = optim.apply_if_finite(optim.sgd(1.0), max_consecutive_errors=2)
        >>> u, state = tx.update(dnp.array([dnp.nan]), tx.init(dnp.zeros(1)))
        >>> u.tolist(), int(state.total_notfinite)
        ([0.0], 1)
    """
    inner = with_extra_args_support(inner)

    def init(params):
        zero = dnp.zeros((), dnp.int32)
        return ApplyIfFiniteState(zero, dnp.asarray(True), zero, inner.init(params))

    def update(updates, state, params=None, **extra_args):
        finite = [dnp.all(dnp.isfinite(g)) for g in _tree.leaves(updates)]
        all_finite = dnp.all(dnp.stack(finite)) if finite else dnp.asarray(True)
        bad = dnp.where(all_finite, 0, safe_increment(state.notfinite_count))
        apply = dnp.logical_or(all_finite, bad > max_consecutive_errors)
        new, inner_state = inner.update(updates, state.inner_state, params, **extra_args)
        out = _where_tree(apply, new, tree_zeros_like(updates))
        return out, ApplyIfFiniteState(
            notfinite_count=bad.astype(dnp.int32),
            last_finite=all_finite,
            total_notfinite=dnp.where(
                all_finite, state.total_notfinite, safe_increment(state.total_notfinite)
            ),
            inner_state=_where_tree(apply, inner_state, state.inner_state),
        )

    return GradientTransformationExtraArgs(init, update)
