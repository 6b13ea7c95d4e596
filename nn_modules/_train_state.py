"""`TrainState`: parameters, optimizer state and step count in one pytree."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import derivax.optim

from ._struct import PyTreeNode, field

__all__ = ["TrainState"]


class TrainState(PyTreeNode):
    """The state of a training run: ``step``, ``params``, ``opt_state`` and how to use them.

    A frozen dataclass and a pytree, so it passes through ``derivax.jit`` whole
    (``apply_fn`` and ``tx`` are static). Add fields by subclassing, e.g.
    ``batch_stats`` for a model with batch norm.

    Attributes:
        step: the number of `apply_gradients` calls so far.
        apply_fn: usually ``model.apply``.
        params: the parameters being trained.
        tx: a ``derivax.optim`` gradient transformation.
        opt_state: the optimizer's state.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> import nn_modules as nn
        >>> model = nn.Dense(1)
        >>> x = dnp.ones((4, 2))
        >>> params = model.init(derivax.random.key(0), x)["params"]
        >>> state = nn.TrainState.create(apply_fn=model.apply, params=params,
        ...                              tx=derivax.optim.sgd(0.1))
        >>> loss = lambda p: dnp.mean(state.apply_fn({"params": p}, x) ** 2)
        >>> state = state.apply_gradients(grads=derivax.grad(loss)(state.params))
        >>> int(state.step)
        1
    """

    step: Any
    apply_fn: Callable = field(pytree_node=False)
    params: Any = field(pytree_node=True)
    tx: Any = field(pytree_node=False)
    opt_state: Any = field(pytree_node=True)

    def apply_gradients(self, *, grads: Any, **kwargs: Any) -> TrainState:
        """One optimizer update: new ``params`` and ``opt_state``, ``step + 1``.

        Args:
            grads: gradients with the structure of ``params``.
            **kwargs: other fields to replace at the same time (e.g. ``batch_stats``).

        Returns:
            The updated state.

        Example:
            >>> import derivax, derivax.numpy as dnp
            >>> import nn_modules as nn
            >>> state = nn.TrainState.create(apply_fn=None, params={"w": dnp.ones(2)},
            ...                              tx=derivax.optim.sgd(0.5))
            >>> state.apply_gradients(grads={"w": dnp.ones(2)}).params["w"]
            Array([0.5, 0.5], dtype=float32)
        """
        updates, opt_state = self.tx.update(grads, self.opt_state, self.params)
        params = derivax.optim.apply_updates(self.params, updates)
        return self.replace(step=self.step + 1, params=params, opt_state=opt_state, **kwargs)

    @classmethod
    def create(cls, *, apply_fn: Callable, params: Any, tx: Any, **kwargs: Any) -> TrainState:
        """A new state at step 0 with ``tx.init(params)`` as the optimizer state.

        Args:
            apply_fn: usually ``model.apply``.
            params: the initial parameters.
            tx: a ``derivax.optim`` gradient transformation.
            **kwargs: values of fields added by subclasses.

        Returns:
            The state.

        Example:
            >>> import derivax, derivax.numpy as dnp
            >>> import nn_modules as nn
            >>> class BNState(nn.TrainState):
            ...     batch_stats: object
            >>> s = BNState.create(apply_fn=None, params={"w": dnp.ones(1)},
            ...                    tx=derivax.optim.adam(1e-3), batch_stats={})
            >>> s.step, s.batch_stats
            (0, {})
        """
        return cls(
            step=0, apply_fn=apply_fn, params=params, tx=tx, opt_state=tx.init(params), **kwargs
        )
