"""Recurrent cells on one time step: `GRUCell` and `LSTMCell`. Scan them with ``lax.scan``."""

from __future__ import annotations

import math
from typing import Any

import derivax

from .._module import Module, field
from ._misc import as_input, check_key, check_rank, check_size, float_dtype, split, uniform

__all__ = ["GRUCell", "LSTMCell"]


def _chunks(x: Any, n: int) -> list:
    size = x.shape[0] // n
    return [x[i * size : (i + 1) * size] for i in range(n)]


def _check_step(layer: str, x: Any, hidden: Any, input_size: int, hidden_size: int) -> tuple:
    x = as_input(layer, x)
    hidden = as_input(layer, hidden)
    check_rank(layer, x, 1, f"of shape ({input_size},) (one time step)")
    check_size(layer, x, 0, input_size, "input features", "input_size")
    if tuple(hidden.shape) != (hidden_size,):
        raise ValueError(
            f"{layer}: the hidden state must have shape ({hidden_size},), got "
            f"{tuple(hidden.shape)}. Start from derivax.numpy.zeros({hidden_size})."
        )
    return x, hidden


class GRUCell(Module):
    """One step of a gated recurrent unit.

    With ``W_ih x + b = (r_i, z_i, n_i)`` and ``W_hh h = (r_h, z_h, n_h)``::

        r = sigmoid(r_i + r_h)
        z = sigmoid(z_i + z_h)
        n = tanh(n_i + r * (n_h + b_n))
        h' = n + z * (h - n)

    Weights and biases start from ``U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))``.

    Args:
        input_size: Features per time step.
        hidden_size: Size of the hidden state.
        use_bias: Learn ``bias`` and ``bias_n``.
        dtype: The parameters' dtype.
        key: A PRNG key (keyword only).

    Example:
        >>> import derivax, derivax.numpy as dnp, derivax.random as dr
        >>> import nn_pytree as nnp
        >>> cell = nnp.nn.GRUCell(3, 4, key=dr.PRNGKey(0))
        >>> def step(h, x):
        ...     h = cell(x, h)
        ...     return h, h
        >>> h, hs = derivax.lax.scan(step, dnp.zeros(4), dnp.ones((5, 3)))
        >>> hs.shape
        (5, 4)
    """

    weight_ih: derivax.Array
    weight_hh: derivax.Array
    bias: derivax.Array | None
    bias_n: derivax.Array | None
    input_size: int = field(static=True)
    hidden_size: int = field(static=True)
    use_bias: bool = field(static=True)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        use_bias: bool = True,
        dtype: Any = None,
        *,
        key: Any,
    ):
        check_key("GRUCell", key)
        dtype = float_dtype(dtype)
        limit = 1 / math.sqrt(hidden_size)
        ihkey, hhkey, bkey, bkey2 = split(key, 4)
        self.weight_ih = uniform(ihkey, (3 * hidden_size, input_size), limit, dtype)
        self.weight_hh = uniform(hhkey, (3 * hidden_size, hidden_size), limit, dtype)
        self.bias = uniform(bkey, (3 * hidden_size,), limit, dtype) if use_bias else None
        self.bias_n = uniform(bkey2, (hidden_size,), limit, dtype) if use_bias else None
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.use_bias = use_bias

    def __call__(self, input: Any, hidden: Any, *, key: Any = None) -> Any:  # noqa: A002
        """Advances the hidden state by one step.

        Args:
            input: Shape ``(input_size,)``.
            hidden: Shape ``(hidden_size,)``.
            key: Ignored.

        Returns:
            The new hidden state, shape ``(hidden_size,)``.

        Raises:
            ValueError: For a batched input or wrong sizes.
        """
        x, h = _check_step("GRUCell", input, hidden, self.input_size, self.hidden_size)
        r_i, z_i, n_i = _chunks(derivax.nn.dense(x, self.weight_ih.T, self.bias), 3)
        r_h, z_h, n_h = _chunks(derivax.nn.dense(h, self.weight_hh.T), 3)
        if self.bias_n is not None:
            n_h = n_h + self.bias_n
        r = derivax.nn.sigmoid(r_i + r_h)
        z = derivax.nn.sigmoid(z_i + z_h)
        n = derivax.nn.tanh(n_i + r * n_h)
        return n + z * (h - n)


class LSTMCell(Module):
    """One step of a long short-term memory cell.

    With ``W_ih x + W_hh h + b = (i, f, g, o)``::

        c' = sigmoid(f) * c + sigmoid(i) * tanh(g)
        h' = sigmoid(o) * tanh(c')

    Weights and bias start from ``U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))``.

    Args:
        input_size: Features per time step.
        hidden_size: Size of ``h`` and ``c``.
        use_bias: Learn ``bias``.
        dtype: The parameters' dtype.
        key: A PRNG key (keyword only).

    Example:
        >>> import derivax.numpy as dnp, derivax.random as dr
        >>> import nn_pytree as nnp
        >>> cell = nnp.nn.LSTMCell(3, 4, key=dr.PRNGKey(0))
        >>> h, c = cell(dnp.ones(3), (dnp.zeros(4), dnp.zeros(4)))
        >>> h.shape, c.shape
        ((4,), (4,))
    """

    weight_ih: derivax.Array
    weight_hh: derivax.Array
    bias: derivax.Array | None
    input_size: int = field(static=True)
    hidden_size: int = field(static=True)
    use_bias: bool = field(static=True)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        use_bias: bool = True,
        dtype: Any = None,
        *,
        key: Any,
    ):
        check_key("LSTMCell", key)
        dtype = float_dtype(dtype)
        limit = 1 / math.sqrt(hidden_size)
        ihkey, hhkey, bkey = split(key, 3)
        self.weight_ih = uniform(ihkey, (4 * hidden_size, input_size), limit, dtype)
        self.weight_hh = uniform(hhkey, (4 * hidden_size, hidden_size), limit, dtype)
        self.bias = uniform(bkey, (4 * hidden_size,), limit, dtype) if use_bias else None
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.use_bias = use_bias

    def __call__(self, input: Any, hidden: tuple[Any, Any], *, key: Any = None) -> tuple[Any, Any]:  # noqa: A002
        """Advances ``(h, c)`` by one step.

        Args:
            input: Shape ``(input_size,)``.
            hidden: ``(h, c)``, each of shape ``(hidden_size,)``.
            key: Ignored.

        Returns:
            The new ``(h, c)``.

        Raises:
            ValueError: For a batched input or wrong sizes.
            TypeError: If ``hidden`` is not a pair.
        """
        if not (isinstance(hidden, (tuple, list)) and len(hidden) == 2):
            raise TypeError(
                f"LSTMCell: hidden must be the pair (h, c), got {type(hidden).__name__}. Start "
                f"from (derivax.numpy.zeros({self.hidden_size}), derivax.numpy.zeros("
                f"{self.hidden_size}))."
            )
        h, c = hidden
        x, h = _check_step("LSTMCell", input, h, self.input_size, self.hidden_size)
        _, c = _check_step("LSTMCell", input, c, self.input_size, self.hidden_size)
        gates = derivax.nn.dense(x, self.weight_ih.T, self.bias) + derivax.nn.dense(
            h, self.weight_hh.T
        )
        i, f, g, o = _chunks(gates, 4)
        c = derivax.nn.sigmoid(f) * c + derivax.nn.sigmoid(i) * derivax.nn.tanh(g)
        h = derivax.nn.sigmoid(o) * derivax.nn.tanh(c)
        return h, c
