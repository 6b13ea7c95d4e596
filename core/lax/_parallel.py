"""Collectives over a named ``vmap`` axis: ``psum``, ``pmean``, ``pmax``, ``pmin``,
``axis_index``.

``vmap(f, axis_name="batch")`` gives the mapped axis a name; inside ``f``,
``lax.psum(x, "batch")`` is the sum of ``x`` over all examples of the batch (the same value
for every example). Used outside a ``vmap`` with that name, they raise ``NameError``.
"""

from __future__ import annotations

import numpy as np

from .. import tree as tree_util
from .._ad_util import Zero, is_undefined
from .._core import Primitive
from . import _elementwise as E
from . import _structural as S
from ._util import aval_of

__all__ = ["axis_index", "axis_size", "pmax", "pmean", "pmin", "psum"]


def _unbound(name):
    def impl(*args, axes, **params):
        raise NameError(
            f"unbound axis name {axes[0]!r} in lax.{name}: collectives work inside "
            f"derivax.vmap(f, axis_name={axes[0]!r}); no enclosing vmap has that name."
        )

    return impl


def _reducer(name, reduce, on_unbatched):
    prim = Primitive(name)
    prim.impl = _unbound(name)
    prim.abstract_eval = lambda x, *, axes: x

    def batch_with_axis(payload, vals, dims, *, axes):
        size, axis_name = payload
        (x,), (d,) = vals, dims
        if axis_name not in axes:
            return prim.bind(x, axes=axes), d
        if d is None:
            out = on_unbatched(x, size)
        else:
            out = reduce(x, (d,))
        rest = tuple(a for a in axes if a != axis_name)
        if rest:
            out = prim.bind(out, axes=rest)
        return out, None

    prim.batch = _unbound(name)  # only reached through batch_with_axis
    prim.batch_with_axis = batch_with_axis
    return prim


def _scale(x, size):
    return E.mul(x, S.full(aval_of(x).shape, size, aval_of(x).dtype))


psum_p = _reducer("psum", S.reduce_sum, _scale)
pmax_p = _reducer("pmax", S.reduce_max, lambda x, size: x)
pmin_p = _reducer("pmin", S.reduce_min, lambda x, size: x)


def _psum_jvp(primals, tangents, *, axes):
    (x,), (t,) = primals, tangents
    out = psum_p.bind(x, axes=axes)
    return out, Zero.like(out) if type(t) is Zero else psum_p.bind(t, axes=axes)


def _psum_transpose(ct, x, *, axes):
    # Summing over the batch and handing the total to every example is self-adjoint.
    if type(ct) is Zero:
        return [Zero(x.aval if is_undefined(x) else aval_of(x))]
    return [psum_p.bind(ct, axes=axes)]


psum_p.jvp = _psum_jvp
psum_p.transpose = _psum_transpose
psum_p.linear = True
for _p in (pmax_p, pmin_p):
    _p.no_rule_reasons["jvp"] = "the derivative of pmax/pmin is not implemented yet."


def _axes(axis_name):
    return tuple(axis_name) if isinstance(axis_name, (tuple, list)) else (axis_name,)


def psum(x, axis_name):
    """Sum of ``x`` (any pytree) over the named ``vmap`` axis.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> from derivax import lax
        >>> derivax.vmap(lambda v: lax.psum(v, "i"), axis_name="i")(dnp.arange(3.0))
        Array([3., 3., 3.], dtype=float32)
    """
    return tree_util.map(lambda v: psum_p.bind(v, axes=_axes(axis_name)), x)


def pmean(x, axis_name):
    """Mean of ``x`` (any pytree) over the named ``vmap`` axis.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> from derivax import lax
        >>> derivax.vmap(lambda v: v - lax.pmean(v, "i"), axis_name="i")(dnp.arange(3.0))
        Array([-1.,  0.,  1.], dtype=float32)
    """
    total = psum(x, axis_name)
    count = axis_size(axis_name)
    return tree_util.map(
        lambda v: E.div(v, S.full(aval_of(v).shape, count, aval_of(v).dtype)), total
    )


def pmax(x, axis_name):
    """Maximum of ``x`` over the named ``vmap`` axis.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> from derivax import lax
        >>> derivax.vmap(lambda v: lax.pmax(v, "i"), axis_name="i")(dnp.array([1.0, 5.0]))
        Array([5., 5.], dtype=float32)
    """
    return tree_util.map(lambda v: pmax_p.bind(v, axes=_axes(axis_name)), x)


def pmin(x, axis_name):
    """Minimum of ``x`` over the named ``vmap`` axis.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> from derivax import lax
        >>> derivax.vmap(lambda v: lax.pmin(v, "i"), axis_name="i")(dnp.array([1.0, 5.0]))
        Array([1., 1.], dtype=float32)
    """
    return tree_util.map(lambda v: pmin_p.bind(v, axes=_axes(axis_name)), x)


def axis_size(axis_name):
    """The size of the named ``vmap`` axis (a Python int; names may be a tuple).

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> from derivax import lax
        >>> derivax.vmap(lambda v: v * lax.axis_size("i"), axis_name="i")(dnp.ones(2))
        Array([2., 2.], dtype=float32)
    """
    from .._core import _state

    total = 1
    for name in _axes(axis_name):
        for main in reversed(_state.stack):
            payload = main.payload
            if isinstance(payload, tuple) and len(payload) == 2 and payload[1] == name:
                total *= payload[0]
                break
        else:
            raise NameError(
                f"unbound axis name {name!r}: collectives work inside "
                f"derivax.vmap(f, axis_name={name!r})."
            )
    return total


def axis_index(axis_name):
    """The position of the current example along the named ``vmap`` axis.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> from derivax import lax
        >>> derivax.vmap(lambda v: v * lax.axis_index("i"), axis_name="i")(dnp.ones(3))
        Array([0., 1., 2.], dtype=float32)
    """
    from .._batching import BatchTrace, BatchTracer
    from .._core import _state

    for main in reversed(_state.stack):
        if main.trace_type is BatchTrace and main.payload[1] == axis_name:
            size = main.payload[0]
            return BatchTracer(BatchTrace(main), S.iota(np.int32, (size,), 0), 0)
    raise NameError(
        f"unbound axis name {axis_name!r}: axis_index works inside "
        f"derivax.vmap(f, axis_name={axis_name!r})."
    )
