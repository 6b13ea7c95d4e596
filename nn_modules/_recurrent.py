"""Recurrent layers: `LSTMCell`, `GRUCell` (one step), `RNN` (a lifted scan over time) and
`Bidirectional`.

A cell maps ``(carry, x_t) -> (carry, y_t)`` and builds its gates from `Dense`
submodules with Flax's names (``ii``, ``if``, ``ig``, ``io`` on the input and ``hi``,
``hf``, ``hg``, ``ho`` on the hidden state for the LSTM; ``ir``, ``iz``, ``in``, ``hr``,
``hz``, ``hn`` for the GRU). `RNN` runs a cell over a sequence with `nn_modules.scan`,
sharing the cell's parameters across time steps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import derivax as dx
import derivax.nn
import derivax.numpy as dnp
import derivax.tree

from ._linear import Dense, default_kernel_init
from ._module import Module, compact, nowrap
from ._transforms import scan

__all__ = ["Bidirectional", "GRUCell", "LSTMCell", "RNN", "flip_sequences"]


def _split_key(rng: Any, n: int) -> list:
    if rng is None:
        return [None] * n
    return list(dx.random.split(rng, n))


class _GatedCell(Module):
    """What `LSTMCell` and `GRUCell` share: their attributes, the gate projections and the
    carry initialisation."""

    features: int
    gate_fn: Callable = dx.nn.sigmoid
    activation_fn: Callable = dx.nn.tanh
    kernel_init: Callable = default_kernel_init
    recurrent_kernel_init: Callable = dx.nn.initializers.orthogonal()
    bias_init: Callable = dx.nn.initializers.zeros
    dtype: Any = None
    param_dtype: Any = dnp.float32
    carry_init: Callable = dx.nn.initializers.zeros

    def _projections(self, gate: str, inputs, h, *, input_bias: bool, hidden_bias: bool):
        """``(W_i<gate> x [+ b], W_h<gate> h [+ b])``, from `Dense` submodules named
        ``i<gate>`` and ``h<gate>`` (Flax's names)."""

        def dense(prefix, x, kernel_init, use_bias):
            return Dense(
                features=self.features,
                use_bias=use_bias,
                kernel_init=kernel_init,
                bias_init=self.bias_init,
                dtype=self.dtype,
                param_dtype=self.param_dtype,
                name=prefix + gate,
            )(x)

        return (
            dense("i", inputs, self.kernel_init, input_bias),
            dense("h", h, self.recurrent_kernel_init, hidden_bias),
        )

    def _zero_carry(self, rng: Any, input_shape: tuple[int, ...], parts: int) -> list:
        """``parts`` carry arrays of shape ``(*batch, features)`` from ``carry_init``."""
        shape = (*tuple(input_shape)[:-1], self.features)
        return [self.carry_init(k, shape, self.param_dtype) for k in _split_key(rng, parts)]

    @property
    def num_feature_axes(self) -> int:
        """The number of trailing feature axes of the input (1)."""
        return 1


class LSTMCell(_GatedCell):
    """One step of a long short-term memory cell; the carry is ``(c, h)``.

    ``i = gate(W_ii x + W_hi h + b_hi)``, likewise ``f`` and ``o``;
    ``g = activation(W_ig x + W_hg h + b_hg)``; ``c' = f * c + i * g``;
    ``h' = o * activation(c')``.

    Attributes:
        features: the size of ``c`` and ``h``.
        gate_fn: the gate nonlinearity (sigmoid).
        activation_fn: the cell nonlinearity (tanh).
        kernel_init: initializer of the input kernels (LeCun normal).
        recurrent_kernel_init: initializer of the hidden kernels (orthogonal).
        bias_init: initializer of the biases (zeros).
        dtype: the computation dtype.
        param_dtype: the dtype of the parameters.
        carry_init: initializer of the carry in `initialize_carry` (zeros).

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> import nn_modules as nn
        >>> cell = nn.LSTMCell(features=4)
        >>> x = dnp.ones((2, 3))
        >>> carry = cell.initialize_carry(derivax.random.key(1), x.shape)
        >>> (carry, y), v = cell.init_with_output(derivax.random.key(0), carry, x)
        >>> y.shape, sorted(v["params"])
        ((2, 4), ['hf', 'hg', 'hi', 'ho', 'if', 'ig', 'ii', 'io'])
    """

    @compact
    def __call__(self, carry, inputs):
        """One step: ``((c, h), x) -> ((c', h'), h')``."""
        c, h = carry

        def preactivation(gate):
            x_part, h_part = self._projections(gate, inputs, h, input_bias=False, hidden_bias=True)
            return x_part + h_part

        i = self.gate_fn(preactivation("i"))
        f = self.gate_fn(preactivation("f"))
        g = self.activation_fn(preactivation("g"))
        o = self.gate_fn(preactivation("o"))
        new_c = f * c + i * g
        new_h = o * self.activation_fn(new_c)
        return (new_c, new_h), new_h

    @nowrap
    def initialize_carry(self, rng: Any, input_shape: tuple[int, ...]) -> tuple:
        """The initial carry ``(c, h)`` for inputs of shape ``(*batch, in_features)``.

        Args:
            rng: a key for ``carry_init`` (None is fine for the default zeros).
            input_shape: the shape of one step's input.

        Returns:
            ``(c, h)``, each ``(*batch, features)``.

        Example:
            >>> import nn_modules as nn
            >>> c, h = nn.LSTMCell(4).initialize_carry(None, (2, 3))
            >>> c.shape, h.shape
            ((2, 4), (2, 4))
        """
        c, h = self._zero_carry(rng, input_shape, 2)
        return c, h


class GRUCell(_GatedCell):
    """One step of a gated recurrent unit; the carry is ``h``.

    ``r = gate(W_ir x + b_ir + W_hr h)``, ``z = gate(W_iz x + b_iz + W_hz h)``,
    ``n = activation(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) * n + z * h``.

    Attributes:
        features: the size of ``h``.
        gate_fn: the gate nonlinearity (sigmoid).
        activation_fn: the candidate nonlinearity (tanh).
        kernel_init: initializer of the input kernels (LeCun normal).
        recurrent_kernel_init: initializer of the hidden kernels (orthogonal).
        bias_init: initializer of the biases (zeros).
        dtype: the computation dtype.
        param_dtype: the dtype of the parameters.
        carry_init: initializer of the carry in `initialize_carry` (zeros).

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> import nn_modules as nn
        >>> cell = nn.GRUCell(features=4)
        >>> h = cell.initialize_carry(None, (2, 3))
        >>> (h, y), v = cell.init_with_output(derivax.random.key(0), h, dnp.ones((2, 3)))
        >>> y.shape, sorted(v["params"])
        ((2, 4), ['hn', 'hr', 'hz', 'in', 'ir', 'iz'])
    """

    @compact
    def __call__(self, carry, inputs):
        """One step: ``(h, x) -> (h', h')``."""
        h = carry
        x_r, h_r = self._projections("r", inputs, h, input_bias=True, hidden_bias=False)
        x_z, h_z = self._projections("z", inputs, h, input_bias=True, hidden_bias=False)
        x_n, h_n = self._projections("n", inputs, h, input_bias=True, hidden_bias=True)
        r = self.gate_fn(x_r + h_r)
        z = self.gate_fn(x_z + h_z)
        n = self.activation_fn(x_n + r * h_n)
        new_h = (1.0 - z) * n + z * h
        return new_h, new_h

    @nowrap
    def initialize_carry(self, rng: Any, input_shape: tuple[int, ...]):
        """The initial hidden state for inputs of shape ``(*batch, in_features)``.

        Args:
            rng: a key for ``carry_init`` (None is fine for the default zeros).
            input_shape: the shape of one step's input.

        Returns:
            ``h`` of shape ``(*batch, features)``.

        Example:
            >>> import nn_modules as nn
            >>> nn.GRUCell(4).initialize_carry(None, (2, 3)).shape
            (2, 4)
        """
        (h,) = self._zero_carry(rng, input_shape, 1)
        return h


def flip_sequences(inputs, seq_lengths, num_batch_dims: int, time_major: bool):
    """Reverse each sequence along the time axis, keeping padding at the end.

    Without ``seq_lengths`` the whole time axis is reversed. With them, the first
    ``seq_lengths[b]`` steps of sequence ``b`` are reversed and so are the padding steps
    after them, so the padding stays at the end (position ``t`` takes step
    ``(length - 1 - t) mod T``). Applying it twice gives the input back.

    Args:
        inputs: ``(*batch, time, *features)``, or ``(time, *batch, *features)`` when
            ``time_major``.
        seq_lengths: integer lengths of shape ``batch`` (or None).
        num_batch_dims: the number of batch axes.
        time_major: whether time is the first axis.

    Returns:
        The flipped sequences, with the shape of ``inputs``.

    Raises:
        ValueError: ``seq_lengths`` does not have the batch shape of ``inputs``.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_modules as nn
        >>> x = dnp.array([[1, 0, 0], [2, 3, 0], [4, 5, 6]])
        >>> nn.flip_sequences(x, dnp.array([1, 2, 3]), num_batch_dims=1, time_major=False)
        Array([[1, 0, 0],
               [3, 2, 0],
               [6, 5, 4]], dtype=int32)
    """
    inputs = dnp.asarray(inputs)
    time_axis = 0 if time_major else num_batch_dims
    if seq_lengths is None:
        return dnp.flip(inputs, axis=time_axis)
    lengths = dnp.asarray(seq_lengths)
    batch_shape = inputs.shape[1 : 1 + num_batch_dims] if time_major else inputs.shape[:time_axis]
    if tuple(lengths.shape) != tuple(batch_shape):
        raise ValueError(
            f"seq_lengths of shape {lengths.shape} must have the batch shape {batch_shape} of "
            f"the inputs {inputs.shape} (one length per sequence)."
        )
    steps = inputs.shape[time_axis]
    backwards = dnp.arange(steps - 1, -1, -1, dtype=lengths.dtype)
    lengths = dnp.expand_dims(lengths, time_axis)  # broadcasts against the time axis
    if time_major:
        backwards = dnp.reshape(backwards, (steps,) + (1,) * num_batch_dims)
    idx = (backwards + lengths) % steps  # (*batch, time) in the inputs' axis order
    idx = dnp.reshape(idx, idx.shape + (1,) * (inputs.ndim - idx.ndim))
    return dnp.take_along_axis(inputs, idx, axis=time_axis)


def _last_valid(carries, seq_lengths):
    """The carry after step ``seq_lengths[b] - 1`` of each sequence, from carries stacked
    along a leading time axis ``(time, *batch, ...)``."""
    lengths = dnp.asarray(seq_lengths)

    def pick(stacked):
        idx = (lengths - 1) % stacked.shape[0]
        idx = dnp.reshape(idx, (1, *idx.shape) + (1,) * (stacked.ndim - 1 - idx.ndim))
        return dnp.take_along_axis(stacked, idx, axis=0)[0]

    return derivax.tree.map(pick, carries)


def _step(cell, carry, x):
    return cell(carry, x)


def _step_keeping_carries(cell, carry, x):
    carry, y = cell(carry, x)
    return carry, (carry, y)


class RNN(Module):
    """Run a recurrent ``cell`` over the time axis of a sequence.

    The cell's parameters are shared by all time steps (a lifted `scan` with
    ``variable_broadcast='params'``). Inputs are ``(batch..., time, features)``
    (``time_major=False``) or ``(time, batch..., features)``.

    Variable-length sequences: with ``seq_lengths`` (one length per sequence, padding at
    the end), ``reverse`` flips each sequence within its length (`flip_sequences`) so the
    padding stays at the end, and the carry returned with ``return_carry`` is the one
    after each sequence's last valid step. Outputs at padding positions are not zeroed.

    Attributes:
        cell: an `LSTMCell`, `GRUCell` or any module with ``(carry, x) -> (carry, y)``
            and ``initialize_carry(rng, input_shape)``.
        time_major: whether time is the first axis.
        return_carry: return ``(final_carry, outputs)`` instead of ``outputs``.
        reverse: process the sequence from its last step to its first; the outputs come
            in processing order unless ``keep_order``.
        keep_order: with ``reverse``, return the outputs in the input's order.
        unroll: steps per loop iteration.
        variable_axes: as in `nn_modules.scan`.
        variable_broadcast: as in `nn_modules.scan` (default ``'params'``).
        variable_carry: as in `nn_modules.scan`.
        split_rngs: as in `nn_modules.scan` (default ``{'params': False}``).

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> import nn_modules as nn
        >>> rnn = nn.RNN(nn.GRUCell(features=5))
        >>> ys, v = rnn.init_with_output(derivax.random.key(0), dnp.ones((2, 7, 3)))
        >>> ys.shape, v["params"]["cell"]["ir"]["kernel"].shape
        ((2, 7, 5), (3, 5))
    """

    cell: Module
    time_major: bool = False
    return_carry: bool = False
    reverse: bool = False
    keep_order: bool = False
    unroll: int = 1
    variable_axes: Any = None
    variable_broadcast: Any = "params"
    variable_carry: Any = False
    split_rngs: Any = None

    def __call__(
        self,
        inputs,
        *,
        initial_carry: Any = None,
        init_key: Any = None,
        seq_lengths: Any = None,
        return_carry: bool | None = None,
        time_major: bool | None = None,
        reverse: bool | None = None,
        keep_order: bool | None = None,
    ):
        """Run the cell over ``inputs``; call-time arguments override the attributes.

        Args:
            inputs: the sequence.
            initial_carry: the first carry (default ``cell.initialize_carry``).
            init_key: key for ``initialize_carry`` (default a fixed key; the default
                carries are zeros).
            seq_lengths: integer lengths of the batch shape; steps at or after a
                sequence's length are padding.
            return_carry: return ``(carry, outputs)``.
            time_major: whether time is the first axis.
            reverse: run backwards.
            keep_order: with ``reverse``, keep the input order in the outputs.

        Returns:
            The outputs (and the final carry with ``return_carry``).
        """
        return_carry = self.return_carry if return_carry is None else return_carry
        time_major = self.time_major if time_major is None else time_major
        reverse = self.reverse if reverse is None else reverse
        keep_order = self.keep_order if keep_order is None else keep_order
        inputs = dnp.asarray(inputs)
        n_features = getattr(self.cell, "num_feature_axes", 1)
        time_axis = 0 if time_major else inputs.ndim - (n_features + 1)
        if time_axis < 0 or inputs.ndim < n_features + 1:
            raise ValueError(
                f"RNN: inputs of shape {inputs.shape} need a time axis before the {n_features} "
                "feature axis/axes."
            )
        num_batch_dims = inputs.ndim - n_features - 1
        if seq_lengths is not None:
            seq_lengths = dnp.asarray(seq_lengths)
            if not dnp.issubdtype(seq_lengths.dtype, dnp.integer):
                raise TypeError(
                    f"RNN: seq_lengths must be integers, got dtype {seq_lengths.dtype}; pass "
                    "the number of valid steps of each sequence."
                )
        if reverse:
            inputs = flip_sequences(inputs, seq_lengths, num_batch_dims, time_major)
        if initial_carry is None:
            step_shape = inputs.shape[:time_axis] + inputs.shape[time_axis + 1 :]
            key = init_key if init_key is not None else dx.random.key(0)
            initial_carry = self.cell.initialize_carry(key, step_shape)
            if dnp.issubdtype(inputs.dtype, dnp.inexact):
                # Wider inputs (float64) would otherwise widen the carry inside the loop.
                initial_carry = derivax.tree.map(
                    lambda c: c.astype(dnp.result_type(c.dtype, inputs.dtype)), initial_carry
                )
        # The carry after each sequence's last valid step is picked from all the carries,
        # which costs memory, so they are kept only when that carry is returned.
        keep_carries = seq_lengths is not None and return_carry
        scanned = scan(
            _step_keeping_carries if keep_carries else _step,
            in_axes=time_axis,
            out_axes=0,
            variable_axes=self.variable_axes or {},
            variable_broadcast=self.variable_broadcast,
            variable_carry=self.variable_carry,
            split_rngs=self.split_rngs if self.split_rngs is not None else {"params": False},
            unroll=self.unroll,
        )
        carry, ys = scanned(self.cell, initial_carry, inputs)
        if keep_carries:
            carries, ys = ys
            carry = _last_valid(carries, seq_lengths)
        ys = derivax.tree.map(lambda y: dnp.moveaxis(y, 0, time_axis), ys)
        if reverse and keep_order:
            ys = derivax.tree.map(
                lambda y: flip_sequences(y, seq_lengths, num_batch_dims, time_major), ys
            )
        return (carry, ys) if return_carry else ys


def _concatenate(forward, backward):
    return dnp.concatenate([forward, backward], axis=-1)


class Bidirectional(Module):
    """Run one RNN forwards and another backwards over a sequence and merge the outputs.

    The backward RNN runs with ``reverse=True, keep_order=True`` (so with ``seq_lengths``
    each sequence is reversed within its length), and its outputs are merged with the
    forward ones step by step by ``merge_fn`` (default: concatenated features). Pass the
    same RNN instance twice to share parameters between the directions.

    Attributes:
        forward_rnn: an `RNN` (or a module with its call signature).
        backward_rnn: likewise.
        merge_fn: ``(forward_outputs, backward_outputs) -> outputs``.
        time_major: whether time is the first axis.
        return_carry: return ``((forward_carry, backward_carry), outputs)``.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> import nn_modules as nn
        >>> layer = nn.Bidirectional(nn.RNN(nn.GRUCell(4)), nn.RNN(nn.LSTMCell(3)))
        >>> y, v = layer.init_with_output(derivax.random.key(0), dnp.ones((2, 5, 6)))
        >>> y.shape, sorted(v["params"])
        ((2, 5, 7), ['backward_rnn', 'forward_rnn'])
    """

    forward_rnn: Module
    backward_rnn: Module
    merge_fn: Callable = _concatenate
    time_major: bool = False
    return_carry: bool = False

    def __call__(
        self,
        inputs,
        *,
        initial_carry: Any = None,
        init_key: Any = None,
        seq_lengths: Any = None,
        return_carry: bool | None = None,
        time_major: bool | None = None,
        reverse: bool | None = None,
        keep_order: bool | None = None,
    ):
        """Run both directions and merge.

        Args:
            inputs: the sequence.
            initial_carry: ``(forward_carry, backward_carry)``, or None for each RNN's
                default.
            init_key: a key split between the two RNNs' ``initialize_carry``.
            seq_lengths: integer lengths of the batch shape (see `RNN`).
            return_carry: return ``((forward_carry, backward_carry), outputs)``.
            time_major: whether time is the first axis.
            reverse: ignored (each direction is fixed); accepted so that a
                `Bidirectional` can stand where an `RNN` is expected.
            keep_order: ignored, likewise.

        Returns:
            The merged outputs (and both final carries with ``return_carry``).
        """
        del reverse, keep_order
        time_major = self.time_major if time_major is None else time_major
        return_carry = self.return_carry if return_carry is None else return_carry
        key_forward = key_backward = None
        if init_key is not None:
            key_forward, key_backward = dx.random.split(init_key)
        carry_forward = carry_backward = None
        if initial_carry is not None:
            carry_forward, carry_backward = initial_carry
        carry_forward, out_forward = self.forward_rnn(
            inputs,
            initial_carry=carry_forward,
            init_key=key_forward,
            seq_lengths=seq_lengths,
            return_carry=True,
            time_major=time_major,
            reverse=False,
        )
        carry_backward, out_backward = self.backward_rnn(
            inputs,
            initial_carry=carry_backward,
            init_key=key_backward,
            seq_lengths=seq_lengths,
            return_carry=True,
            time_major=time_major,
            reverse=True,
            keep_order=True,
        )
        outputs = derivax.tree.map(self.merge_fn, out_forward, out_backward)
        carry = (carry_forward, carry_backward)
        return (carry, outputs) if return_carry else outputs
