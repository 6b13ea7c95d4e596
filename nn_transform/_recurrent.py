"""Recurrent cores (`VanillaRNN`, `LSTM`, `GRU`) and the unrollers `dynamic_unroll` (a
state-aware `scan`) and `static_unroll` (a Python loop).

A core is called one step at a time, ``output, next_state = core(inputs, prev_state)``,
with ``inputs`` of shape ``(batch, features)`` (or unbatched ``(features,)``), and makes
its zero state with ``core.initial_state(batch_size)`` (None for unbatched).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import derivax.nn as dnn
import derivax.numpy as dnp
import derivax.tree as dtree

from ._base import get_parameter
from ._basic import Linear, param_dtype
from ._initializers import VarianceScaling
from ._lift import scan
from ._module import Module

__all__ = ["GRU", "LSTM", "LSTMState", "RNNCore", "VanillaRNN", "dynamic_unroll", "static_unroll"]


def _zeros(batch_size, size):
    shape = (size,) if batch_size is None else (int(batch_size), size)
    return dnp.zeros(shape, dnp.float32)


class RNNCore(Module):
    """Base class of recurrent cores: ``__call__(inputs, prev_state) -> (output,
    next_state)`` and ``initial_state(batch_size)``.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> class Accumulate(nt.RNNCore):
        ...     def __call__(self, x, s):
        ...         return x + s, x + s
        ...     def initial_state(self, batch_size):
        ...         return dnp.zeros((batch_size, 1))
        >>> t = nt.transform(lambda xs: nt.static_unroll(Accumulate(), xs, dnp.zeros((1, 1))))
        >>> t.apply({}, None, dnp.ones((3, 1, 1)))[0][:, 0, 0]
        Array([1., 2., 3.], dtype=float32)
    """

    def __call__(self, inputs, prev_state):
        raise NotImplementedError

    def initial_state(self, batch_size):
        raise NotImplementedError


class VanillaRNN(RNNCore):
    """``h' = relu(input_to_hidden(x) + hidden_to_hidden(h))``; the output is ``h'``.

    Two `Linear` children, ``<name>/linear`` and ``<name>/linear_1``.

    Args:
        hidden_size: the state size.
        double_bias: whether the hidden-to-hidden map has its own bias.
        name: the module name.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> def f(x):
        ...     core = nt.VanillaRNN(4)
        ...     return core(x, core.initial_state(2))
        >>> t = nt.transform(f)
        >>> out, state = t.apply(t.init(0, dnp.ones((2, 3))), None, dnp.ones((2, 3)))
        >>> out.shape, state.shape
        ((2, 4), (2, 4))
    """

    def __init__(self, hidden_size, double_bias=True, name=None):
        super().__init__(name=name)
        self.hidden_size = int(hidden_size)
        self.double_bias = double_bias

    def __call__(self, inputs, prev_state):
        out = Linear(self.hidden_size)(inputs) + Linear(
            self.hidden_size, with_bias=self.double_bias
        )(prev_state)
        out = dnn.relu(out)
        return out, out

    def initial_state(self, batch_size):
        """Zeros of shape ``(batch_size, hidden_size)`` (``(hidden_size,)`` for None).

        Example:
            >>> import nn_transform as nt
            >>> nt.transform(lambda: nt.VanillaRNN(2).initial_state(3)).apply({}, None).shape
            (3, 2)
        """
        return _zeros(batch_size, self.hidden_size)


class LSTMState(NamedTuple):
    """The state of an `LSTM`: ``hidden`` (the output) and ``cell``.

    Example:
        >>> LSTMState(hidden=1, cell=2).cell
        2
    """

    hidden: Any
    cell: Any


class LSTM(RNNCore):
    """A long short-term memory cell.

    One `Linear` child ``<name>/linear`` maps ``[x, h]`` to the four gates ``i, g, f, o``
    (in that order); ``c' = sigmoid(f + 1) * c + sigmoid(i) * tanh(g)`` (forget bias 1)
    and ``h' = sigmoid(o) * tanh(c')``. The output is ``h'``; the state an `LSTMState`.

    Args:
        hidden_size: the state size.
        name: the module name.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> def f(x):
        ...     lstm = nt.LSTM(4)
        ...     return lstm(x, lstm.initial_state(2))
        >>> t = nt.transform(f)
        >>> params = t.init(0, dnp.ones((2, 3)))
        >>> params["lstm/linear"]["w"].shape
        (7, 16)
        >>> out, state = t.apply(params, None, dnp.ones((2, 3)))
        >>> out.shape, state.cell.shape
        ((2, 4), (2, 4))
    """

    def __init__(self, hidden_size, name=None):
        super().__init__(name=name)
        self.hidden_size = int(hidden_size)

    def __call__(self, inputs, prev_state):
        inputs = dnp.asarray(inputs)
        if inputs.ndim not in (1, 2):
            raise ValueError(
                f"{self.module_name}: LSTM inputs must be (batch, features) or (features,), got "
                f"shape {inputs.shape}; unroll sequences with nt.dynamic_unroll."
            )
        x_and_h = dnp.concatenate([inputs, prev_state.hidden], axis=-1)
        gated = Linear(4 * self.hidden_size)(x_and_h)
        hs = self.hidden_size
        i, g, f, o = (gated[..., k * hs : (k + 1) * hs] for k in range(4))
        c = dnn.sigmoid(f + 1) * prev_state.cell + dnn.sigmoid(i) * dnp.tanh(g)
        h = dnn.sigmoid(o) * dnp.tanh(c)
        return h, LSTMState(h, c)

    def initial_state(self, batch_size):
        """An `LSTMState` of zeros, ``(batch_size, hidden_size)`` each.

        Example:
            >>> import nn_transform as nt
            >>> nt.transform(lambda: nt.LSTM(2).initial_state(None)).apply({}, None).hidden.shape
            (2,)
        """
        return LSTMState(_zeros(batch_size, self.hidden_size), _zeros(batch_size, self.hidden_size))


class GRU(RNNCore):
    """A gated recurrent unit.

    Parameters ``w_i`` ``(input, 3 * hidden)``, ``w_h`` ``(hidden, 3 * hidden)`` and
    ``b`` ``(3 * hidden,)``, columns ordered update ``z``, reset ``r``, candidate ``a``:
    ``[z, r] = sigmoid(x w_i + h w_h + b)`` over the first two blocks,
    ``a = tanh(x w_i_a + (r * h) w_h_a + b_a)`` and ``h' = (1 - z) * h + z * a``.

    Args:
        hidden_size: the state size.
        w_i_init: initializer of ``w_i`` (default variance scaling, fan in).
        w_h_init: initializer of ``w_h`` (default variance scaling, fan in).
        b_init: initializer of ``b`` (default zeros).
        name: the module name.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> def f(x):
        ...     gru = nt.GRU(4)
        ...     return gru(x, gru.initial_state(2))
        >>> t = nt.transform(f)
        >>> params = t.init(0, dnp.ones((2, 3)))
        >>> {k: v.shape for k, v in params["gru"].items()}
        {'w_i': (3, 12), 'w_h': (4, 12), 'b': (12,)}
    """

    def __init__(self, hidden_size, w_i_init=None, w_h_init=None, b_init=None, name=None):
        super().__init__(name=name)
        self.hidden_size = int(hidden_size)
        self.w_i_init = w_i_init or VarianceScaling()
        self.w_h_init = w_h_init or VarianceScaling()
        self.b_init = b_init or dnp.zeros

    def __call__(self, inputs, state):
        inputs = dnp.asarray(inputs)
        if inputs.ndim not in (1, 2):
            raise ValueError(
                f"{self.module_name}: GRU inputs must be (batch, features) or (features,), got "
                f"shape {inputs.shape}; unroll sequences with nt.dynamic_unroll."
            )
        hs = self.hidden_size
        dtype = param_dtype(inputs)
        w_i = get_parameter("w_i", (inputs.shape[-1], 3 * hs), dtype, init=self.w_i_init)
        w_h = get_parameter("w_h", (hs, 3 * hs), dtype, init=self.w_h_init)
        b = get_parameter("b", (3 * hs,), dtype, init=self.b_init)
        gates_x = dnn.dense(inputs, w_i)
        zr = gates_x[..., : 2 * hs] + dnn.dense(state, w_h[:, : 2 * hs], b[: 2 * hs])
        zr = dnn.sigmoid(zr)
        z, r = zr[..., :hs], zr[..., hs:]
        a = dnp.tanh(gates_x[..., 2 * hs :] + dnn.dense(r * state, w_h[:, 2 * hs :], b[2 * hs :]))
        next_state = (1 - z) * state + z * a
        return next_state, next_state

    def initial_state(self, batch_size):
        """Zeros of shape ``(batch_size, hidden_size)``.

        Example:
            >>> import nn_transform as nt
            >>> nt.transform(lambda: nt.GRU(2).initial_state(3)).apply({}, None).shape
            (3, 2)
        """
        return _zeros(batch_size, self.hidden_size)


def _swap_batch_time(tree):
    return dtree.map(lambda x: dnp.swapaxes(x, 0, 1), tree)


def dynamic_unroll(
    core,
    input_sequence,
    initial_state,
    time_major=True,
    reverse=False,
    return_all_states=False,
    unroll=1,
):
    """Run ``core`` over a sequence with a state-aware `scan` (one compiled loop).

    Args:
        core: a recurrent core (or any ``f(x, state) -> (out, state)`` using modules).
        input_sequence: a pytree of arrays ``(T, batch, ...)`` (``(batch, T, ...)`` when
            not ``time_major``).
        initial_state: the state before the first step.
        time_major: whether time is the leading axis.
        reverse: run from the last step to the first.
        return_all_states: also return every intermediate state.
        unroll: steps per loop iteration.

    Returns:
        ``(outputs, final_state)``; ``outputs`` are stacked like the inputs. With
        ``return_all_states``, ``outputs`` is ``(outputs, states)``.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> def f(xs):
        ...     lstm = nt.LSTM(4)
        ...     return nt.dynamic_unroll(lstm, xs, lstm.initial_state(2))
        >>> t = nt.transform(f)
        >>> xs = dnp.ones((5, 2, 3))
        >>> outs, state = t.apply(t.init(0, xs), None, xs)
        >>> outs.shape, state.hidden.shape
        ((5, 2, 4), (2, 4))
    """
    if not time_major:
        input_sequence = _swap_batch_time(input_sequence)

    def step(state, x):
        out, state = core(x, state)
        return state, ((out, state) if return_all_states else out)

    final_state, outputs = scan(step, initial_state, input_sequence, reverse=reverse, unroll=unroll)
    if not time_major:
        outputs = _swap_batch_time(outputs)
    return outputs, final_state


def static_unroll(core, input_sequence, initial_state, time_major=True):
    """Run ``core`` over a sequence with a Python loop (one step per traced operation).

    Args:
        core: a recurrent core.
        input_sequence: a pytree of arrays ``(T, batch, ...)``.
        initial_state: the state before the first step.
        time_major: whether time is the leading axis.

    Returns:
        ``(outputs, final_state)`` with the outputs stacked along time.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> def f(xs):
        ...     gru = nt.GRU(4)
        ...     return nt.static_unroll(gru, xs, gru.initial_state(2))
        >>> t = nt.transform(f)
        >>> xs = dnp.ones((3, 2, 5))
        >>> t.apply(t.init(0, xs), None, xs)[0].shape
        (3, 2, 4)
    """
    if not time_major:
        input_sequence = _swap_batch_time(input_sequence)
    leaves = dtree.leaves(input_sequence)
    steps = leaves[0].shape[0] if leaves else 0
    state, outputs = initial_state, []
    for t in range(steps):
        out, state = core(dtree.map(lambda x, t=t: x[t], input_sequence), state)
        outputs.append(out)
    stacked = dtree.map(lambda *xs: dnp.stack(xs), *outputs) if outputs else []
    if not time_major:
        stacked = _swap_batch_time(stacked)
    return stacked, state
