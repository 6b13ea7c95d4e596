"""`Linear` and `Identity`."""

from __future__ import annotations

import math
from typing import Any, Literal

import derivax
import derivax.numpy as dnp

from .._module import Module, field
from ._misc import as_input, check_key, check_rank, check_size, float_dtype, split, uniform

__all__ = ["Identity", "Linear"]


class Linear(Module):
    """A dense layer ``y = weight @ x + bias`` on one input vector.

    The weight has shape ``(out_features, in_features)`` and, like the bias, starts from
    ``U(-1/sqrt(in_features), 1/sqrt(in_features))``.

    Args:
        in_features: The input size, or ``"scalar"`` for a scalar (shape ``()``) input.
        out_features: The output size, or ``"scalar"`` for a scalar output.
        use_bias: Whether to add a bias.
        dtype: The parameters' dtype (float32 by default).
        key: A PRNG key for the initial values (keyword only).

    Example:
        >>> import derivax.numpy as dnp, derivax.random as dr
        >>> import nn_pytree as nnp
        >>> layer = nnp.nn.Linear(3, 2, key=dr.PRNGKey(0))
        >>> layer
        Linear(
          weight=f32[2,3], bias=f32[2], in_features=3, out_features=2, use_bias=True
        )
        >>> layer(dnp.ones(3)).shape
        (2,)
    """

    weight: derivax.Array
    bias: derivax.Array | None
    in_features: int | Literal["scalar"] = field(static=True)
    out_features: int | Literal["scalar"] = field(static=True)
    use_bias: bool = field(static=True)

    def __init__(
        self,
        in_features: int | Literal["scalar"],
        out_features: int | Literal["scalar"],
        use_bias: bool = True,
        dtype: Any = None,
        *,
        key: Any,
    ):
        check_key("Linear", key)
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if value != "scalar" and (not isinstance(value, int) or value < 0):
                raise ValueError(
                    f"Linear: {name} must be a non-negative int or 'scalar', got {value!r}."
                )
        n_in = 1 if in_features == "scalar" else in_features
        n_out = 1 if out_features == "scalar" else out_features
        dtype = float_dtype(dtype)
        limit = 1 / math.sqrt(n_in) if n_in else 0.0
        wkey, bkey = split(key, 2)
        self.weight = uniform(wkey, (n_out, n_in), limit, dtype)
        self.bias = uniform(bkey, (n_out,), limit, dtype) if use_bias else None
        self.in_features = in_features
        self.out_features = out_features
        self.use_bias = use_bias

    def __call__(self, x: Any, *, key: Any = None) -> Any:
        """Applies the layer to one input.

        Args:
            x: Shape ``(in_features,)``, or ``()`` when ``in_features="scalar"``.
            key: Ignored; accepted so all layers can be called alike.

        Returns:
            Shape ``(out_features,)``, or ``()`` when ``out_features="scalar"``.

        Raises:
            ValueError: For a batched input or a wrong feature size.
        """
        x = as_input("Linear", x)
        if self.in_features == "scalar":
            check_rank("Linear", x, 0, "(a scalar, since in_features='scalar')")
            x = dnp.reshape(x, (1,))
        else:
            check_rank("Linear", x, 1, f"of shape ({self.in_features},)")
            check_size("Linear", x, 0, self.in_features, "input features", "in_features")
        y = derivax.nn.dense(x, self.weight.T, self.bias)
        if self.out_features == "scalar":
            y = dnp.reshape(y, ())
        return y


class Identity(Module):
    """Returns its input unchanged; a placeholder layer.

    Args:
        *args: Ignored (so it can replace any layer's constructor call).
        **kwargs: Ignored.

    Example:
        >>> import derivax.numpy as dnp
        >>> import nn_pytree as nnp
        >>> nnp.nn.Identity()(dnp.arange(3.0))
        Array([0., 1., 2.], dtype=float32)
    """

    def __init__(self, *args: Any, **kwargs: Any):
        pass

    def __call__(self, x: Any, *, key: Any = None) -> Any:
        """Returns ``x``.

        Args:
            x: Anything.
            key: Ignored.

        Returns:
            ``x``.
        """
        return x
