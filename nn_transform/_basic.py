"""Basic modules: `Linear`, `Sequential`, `Flatten`, and the function `dropout`."""

from __future__ import annotations

import math

import derivax.nn as dnn
import derivax.numpy as dnp

from ._base import get_parameter
from ._initializers import TruncatedNormal
from ._module import Module

__all__ = ["Flatten", "Linear", "Sequential", "dropout", "param_dtype"]


def param_dtype(x):
    """The dtype of parameters created for input ``x``: its dtype when inexact, else float32."""
    dtype = dnp.asarray(x).dtype
    return dtype if dnp.issubdtype(dtype, dnp.inexact) else dnp.float32


class Linear(Module):
    """An affine map ``x @ w + b`` over the last axis.

    Parameters: ``w`` of shape ``(input_size, output_size)`` and ``b`` of shape
    ``(output_size,)``. The input size is read from the input on the first call.

    Args:
        output_size: the number of output features.
        with_bias: whether to add ``b``.
        w_init: initializer of ``w``; default truncated normal with stddev
            ``1 / sqrt(input_size)``.
        b_init: initializer of ``b``; default zeros.
        name: the module name (default ``linear``).

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> f = nt.transform(lambda x: nt.Linear(4)(x))
        >>> params = f.init(0, dnp.ones((2, 3)))
        >>> {k: v.shape for k, v in params["linear"].items()}
        {'w': (3, 4), 'b': (4,)}
        >>> f.apply(params, None, dnp.ones((2, 3))).shape
        (2, 4)
    """

    def __init__(self, output_size, with_bias=True, w_init=None, b_init=None, name=None):
        super().__init__(name=name)
        self.output_size = int(output_size)
        self.with_bias = with_bias
        self.w_init = w_init
        self.b_init = b_init

    def __call__(self, inputs):
        inputs = dnp.asarray(inputs)
        if inputs.ndim == 0:
            raise ValueError(
                f"{self.module_name}: Linear needs inputs with a feature axis (at least 1-D), "
                "got a scalar; reshape it to (1,) or (batch, 1)."
            )
        input_size = inputs.shape[-1]
        dtype = param_dtype(inputs)
        w_init = self.w_init or TruncatedNormal(1.0 / math.sqrt(max(input_size, 1)))
        w = get_parameter("w", (input_size, self.output_size), dtype, init=w_init)
        b = None
        if self.with_bias:
            b = get_parameter("b", (self.output_size,), dtype, init=self.b_init or dnp.zeros)
        return dnn.dense(inputs, w, b)


class Sequential(Module):
    """Call layers one after the other.

    The first layer receives all the call's arguments; each following layer receives the
    previous output.

    Args:
        layers: callables (modules or functions such as ``derivax.nn.relu``).
        name: the module name (default ``sequential``).

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> f = nt.transform(
        ...     lambda x: nt.Sequential([nt.Linear(8), derivax.nn.relu, nt.Linear(2)])(x)
        ... )
        >>> sorted(f.init(0, dnp.ones((1, 3))))
        ['linear', 'linear_1']
    """

    def __init__(self, layers, name=None):
        super().__init__(name=name)
        self.layers = tuple(layers)

    def __call__(self, inputs, *args, **kwargs):
        out = inputs
        for i, layer in enumerate(self.layers):
            out = layer(out, *args, **kwargs) if i == 0 else layer(out)
        return out


class Flatten(Module):
    """Flatten every axis after the first ``preserve_dims`` into one.

    Args:
        preserve_dims: the number of leading axes to keep (default 1, the batch axis).
        name: the module name.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> nt.transform(lambda x: nt.Flatten()(x)).apply({}, None, dnp.ones((2, 3, 4))).shape
        (2, 12)
    """

    def __init__(self, preserve_dims=1, name=None):
        super().__init__(name=name)
        self.preserve_dims = int(preserve_dims)

    def __call__(self, inputs):
        inputs = dnp.asarray(inputs)
        if inputs.ndim <= self.preserve_dims:
            return inputs
        return dnp.reshape(inputs, (*inputs.shape[: self.preserve_dims], -1))


def dropout(rng, rate, x, broadcast_dims=()):
    """Zero each element with probability ``rate`` and scale the rest by ``1 / (1 - rate)``.

    A function, not a module: the key is explicit (usually ``nt.next_rng_key()``).
    Evaluation code simply does not call it.

    Args:
        rng: a PRNG key.
        rate: the drop probability in ``[0, 1]``.
        x: the input.
        broadcast_dims: axes along which the mask is shared.

    Returns:
        ``x`` with dropout applied (``derivax.nn.dropout``).

    Raises:
        ValueError: for a rate outside ``[0, 1]`` or a missing key.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> import nn_transform as nt
        >>> y = nt.dropout(derivax.random.PRNGKey(0), 0.5, dnp.ones(1000))
        >>> sorted(set(y.tolist()))
        [0.0, 2.0]
    """
    if rng is None:
        raise ValueError(
            "nt.dropout: rng is None; pass a key such as nt.next_rng_key() (and a key to "
            "apply), or skip dropout at evaluation time."
        )
    return dnn.dropout(rng, rate, x, broadcast_dims=tuple(broadcast_dims))
