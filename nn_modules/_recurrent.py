"""Recurrent layers: `LSTMCell`, `GRUCell` (one step) and `RNN` (a lifted scan over time).

A cell maps ``(carry, x_t) -> (carry, y_t)`` and builds its gates from `Dense`
submodules with Flax's names (``ii``, ``if``, ``ig``, ``io`` on the input and ``hi``,
``hf``, ``hg``, ``ho`` on the hidden state for the LSTM; ``ir``, ``iz``, ``in``, ``hr``,
``hz``, ``hn`` for the GRU). `RNN` runs a cell over a sequence with `nn_modules.scan`,
sharing the cell's parameters across time steps.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import derivax as dx
import derivax.nn
import derivax.numpy as dnp
import derivax.tree

from ._lift import broadcast
from ._linear import Dense, default_kernel_init
from ._module import Module, compact, nowrap
from ._transforms import scan

__all__ = ["GRUCell", "LSTMCell", "RNN"]


def _split_key(rng: Any, n: int) -> list:
    if rng is None:
        return [None] * n
    return list(dx.random.split(rng, n))


class LSTMCell(Module):
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

    features: int
    gate_fn: Callable = dx.nn.sigmoid
    activation_fn: Callable = dx.nn.tanh
    kernel_init: Callable = default_kernel_init
    recurrent_kernel_init: Callable = dx.nn.initializers.orthogonal()
    bias_init: Callable = dx.nn.initializers.zeros
    dtype: Any = None
    param_dtype: Any = dnp.float32
    carry_init: Callable = dx.nn.initializers.zeros

    @compact
    def __call__(self, carry, inputs):
        """One step: ``((c, h), x) -> ((c', h'), h')``."""
        c, h = carry
        hidden = self.features
        dense_h = functools.partial(
            Dense,
            features=hidden,
            use_bias=True,
            kernel_init=self.recurrent_kernel_init,
            bias_init=self.bias_init,
            dtype=self.dtype,
            param_dtype=self.param_dtype,
        )
        dense_i = functools.partial(
            Dense,
            features=hidden,
            use_bias=False,
            kernel_init=self.kernel_init,
            dtype=self.dtype,
            param_dtype=self.param_dtype,
        )
        i = self.gate_fn(dense_i(name="ii")(inputs) + dense_h(name="hi")(h))
        f = self.gate_fn(dense_i(name="if")(inputs) + dense_h(name="hf")(h))
        g = self.activation_fn(dense_i(name="ig")(inputs) + dense_h(name="hg")(h))
        o = self.gate_fn(dense_i(name="io")(inputs) + dense_h(name="ho")(h))
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
        shape = (*tuple(input_shape)[:-1], self.features)
        k1, k2 = _split_key(rng, 2)
        c = self.carry_init(k1, shape, self.param_dtype)
        h = self.carry_init(k2, shape, self.param_dtype)
        return c, h

    @property
    def num_feature_axes(self) -> int:
        """The number of trailing feature axes of the input (1)."""
        return 1


class GRUCell(Module):
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

    features: int
    gate_fn: Callable = dx.nn.sigmoid
    activation_fn: Callable = dx.nn.tanh
    kernel_init: Callable = default_kernel_init
    recurrent_kernel_init: Callable = dx.nn.initializers.orthogonal()
    bias_init: Callable = dx.nn.initializers.zeros
    dtype: Any = None
    param_dtype: Any = dnp.float32
    carry_init: Callable = dx.nn.initializers.zeros

    @compact
    def __call__(self, carry, inputs):
        """One step: ``(h, x) -> (h', h')``."""
        h = carry
        hidden = self.features
        dense_h = functools.partial(
            Dense,
            features=hidden,
            use_bias=False,
            kernel_init=self.recurrent_kernel_init,
            bias_init=self.bias_init,
            dtype=self.dtype,
            param_dtype=self.param_dtype,
        )
        dense_i = functools.partial(
            Dense,
            features=hidden,
            use_bias=True,
            kernel_init=self.kernel_init,
            bias_init=self.bias_init,
            dtype=self.dtype,
            param_dtype=self.param_dtype,
        )
        r = self.gate_fn(dense_i(name="ir")(inputs) + dense_h(name="hr")(h))
        z = self.gate_fn(dense_i(name="iz")(inputs) + dense_h(name="hz")(h))
        n = self.activation_fn(
            dense_i(name="in")(inputs) + r * dense_h(name="hn", use_bias=True)(h)
        )
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
        shape = (*tuple(input_shape)[:-1], self.features)
        return self.carry_init(rng, shape, self.param_dtype)

    @property
    def num_feature_axes(self) -> int:
        """The number of trailing feature axes of the input (1)."""
        return 1


def _step(cell, carry, x):
    return cell(carry, x)


def _masked_step(cell, carry, x, t, seq_lengths):
    new_carry, y = cell(carry, x)
    keep = t < seq_lengths  # (batch,): still inside the sequence

    def select(new, old):
        k = dnp.reshape(keep, keep.shape + (1,) * (new.ndim - keep.ndim))
        return dnp.where(k, new, old)

    return derivax.tree.map(select, new_carry, carry), y


class RNN(Module):
    """Run a recurrent ``cell`` over the time axis of a sequence.

    The cell's parameters are shared by all time steps (a lifted `scan` with
    ``variable_broadcast='params'``). Inputs are ``(batch..., time, features)``
    (``time_major=False``) or ``(time, batch..., features)``.

    Attributes:
        cell: an `LSTMCell`, `GRUCell` or any module with ``(carry, x) -> (carry, y)``
            and ``initialize_carry(rng, input_shape)``.
        time_major: whether time is the first axis.
        return_carry: return ``(final_carry, outputs)`` instead of ``outputs``.
        reverse: run from the last step to the first.
        keep_order: with ``reverse``, return the outputs in the input's order (else in
            processing order).
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
            seq_lengths: ``(batch,)`` lengths; the carry stops changing after each
                sequence's end (forward direction only).
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
        if time_axis < 0:
            raise ValueError(
                f"RNN: inputs of shape {inputs.shape} need a time axis before the {n_features} "
                "feature axis/axes."
            )
        if initial_carry is None:
            step_shape = inputs.shape[:time_axis] + inputs.shape[time_axis + 1 :]
            key = init_key if init_key is not None else dx.random.key(0)
            initial_carry = self.cell.initialize_carry(key, step_shape)
            if dnp.issubdtype(inputs.dtype, dnp.inexact):
                # Wider inputs (float64) would otherwise widen the carry inside the loop.
                initial_carry = derivax.tree.map(
                    lambda c: c.astype(dnp.result_type(c.dtype, inputs.dtype)), initial_carry
                )
        split = self.split_rngs if self.split_rngs is not None else {"params": False}
        scan_kwargs = dict(
            variable_axes=self.variable_axes or {},
            variable_broadcast=self.variable_broadcast,
            variable_carry=self.variable_carry,
            split_rngs=split,
            unroll=self.unroll,
            reverse=reverse,
        )
        if seq_lengths is None:
            scanned = scan(_step, in_axes=time_axis, out_axes=time_axis, **scan_kwargs)
            carry, ys = scanned(self.cell, initial_carry, inputs)
        else:
            if reverse:
                raise NotImplementedError(
                    "RNN: seq_lengths with reverse=True is not supported; reverse each padded "
                    "sequence yourself and run forward."
                )
            steps = dnp.arange(inputs.shape[time_axis], dtype=dnp.int32)
            lengths = dnp.asarray(seq_lengths)
            scanned = scan(
                _masked_step,
                in_axes=(time_axis, 0, broadcast),
                out_axes=time_axis,
                **scan_kwargs,
            )
            carry, ys = scanned(self.cell, initial_carry, inputs, steps, lengths)
        if reverse and not keep_order:
            ys = dnp.flip(ys, axis=time_axis)
        return (carry, ys) if return_carry else ys
