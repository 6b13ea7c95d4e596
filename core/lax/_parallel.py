"""Collectives over a named ``vmap`` axis: ``psum``, ``pmean``, ``pmax``, ``pmin``,
``all_gather``, ``psum_scatter``, ``axis_index``.

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
from ._util import aval_of, val, wrap

__all__ = [
    "all_gather",
    "axis_index",
    "axis_size",
    "pmax",
    "pmean",
    "pmin",
    "psum",
    "psum_scatter",
]


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


def _find_axis_size(name):
    from .._core import _state

    for main in reversed(_state.stack):
        payload = main.payload
        if isinstance(payload, tuple) and len(payload) == 2 and payload[1] == name:
            return payload[0]
    return None


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


# --------------------------------------------------------------------------- all_gather


def _single_name(axis_name, fname):
    if isinstance(axis_name, (tuple, list)):
        if len(axis_name) != 1:
            raise NotImplementedError(
                f"lax.{fname} over several axis names {tuple(axis_name)} is not supported; "
                "gather over one name at a time."
            )
        (axis_name,) = axis_name
    return axis_name


def _unbound_named(fname):
    def impl(*args, axis_name, **params):
        raise NameError(
            f"unbound axis name {axis_name!r} in lax.{fname}: collectives work inside "
            f"derivax.vmap(f, axis_name={axis_name!r}); no enclosing vmap has that name."
        )

    return impl


def _merge_dims(x, axis):
    """Merge dimensions ``axis`` and ``axis + 1`` of ``x`` into one."""
    shape = aval_of(x).shape
    return S.reshape(x, (*shape[:axis], shape[axis] * shape[axis + 1], *shape[axis + 2 :]))


def _all_gather_abstract_eval(x, *, axis_name, axis, tiled, axis_size):
    if tiled:
        if not 0 <= axis < x.ndim:
            raise ValueError(
                f"all_gather: axis={axis} is out of range for a tiled gather of {x.str_short()}."
            )
        shape = list(x.shape)
        shape[axis] *= axis_size
    else:
        if not 0 <= axis <= x.ndim:
            raise ValueError(f"all_gather: axis={axis} is out of range for {x.str_short()}.")
        shape = [*x.shape[:axis], axis_size, *x.shape[axis:]]
    return x.update(shape=tuple(shape), weak_type=False)


def _all_gather_batch_with_axis(payload, vals, dims, *, axis_name, axis, tiled, axis_size):
    size, name = payload
    (x,), (d,) = vals, dims
    if name != axis_name:
        if d is None:
            return all_gather_p.bind(x, axis_name=axis_name, axis=axis, tiled=tiled,
                                     axis_size=axis_size), None  # fmt: skip
        # Another vmap: the gathered axis is per example, so shift it past the batch axis.
        x = S.moveaxis(x, d, 0)
        params = dict(axis_name=axis_name, axis=axis + 1, tiled=tiled, axis_size=axis_size)
        return all_gather_p.bind(x, **params), 0
    if d is None:
        shape = aval_of(x).shape
        x = S.broadcast_in_dim(x, (size, *shape), tuple(range(1, len(shape) + 1)))
        d = 0
    out = S.moveaxis(x, d, axis)
    if tiled:
        out = _merge_dims(out, axis)
    return out, None


def _all_gather_jvp(primals, tangents, **params):
    (x,), (t,) = primals, tangents
    out = all_gather_p.bind(x, **params)
    if type(t) is Zero:
        return out, Zero.like(out)
    return out, all_gather_p.bind(t, **params)


def _all_gather_transpose(ct, x, *, axis_name, axis, tiled, axis_size):
    aval = x.aval if is_undefined(x) else aval_of(x)
    if type(ct) is Zero:
        return [Zero(aval)]
    params = dict(axis_name=axis_name, scatter_dimension=axis, tiled=tiled, axis_size=axis_size)
    return [psum_scatter_p.bind(ct, **params)]


all_gather_p = Primitive("all_gather")


def _all_gather_impl(x, *, axis_name, axis, tiled, axis_size):
    # Reached for values that do not vary along the axis (constants): every example sees
    # the same stack of copies, so it is computed here once the name is known to be bound.
    if _find_axis_size(axis_name) is None:
        _unbound_named("all_gather")(x, axis_name=axis_name)
    v = val(x)
    out = np.concatenate([v] * axis_size, axis) if tiled else np.stack([v] * axis_size, axis)
    return wrap(out)


all_gather_p.impl = _all_gather_impl
all_gather_p.abstract_eval = _all_gather_abstract_eval
all_gather_p.jvp = _all_gather_jvp
all_gather_p.transpose = _all_gather_transpose
all_gather_p.batch = _unbound_named("all_gather")  # only reached through batch_with_axis
all_gather_p.batch_with_axis = _all_gather_batch_with_axis
all_gather_p.linear = True


def _psum_scatter_abstract_eval(x, *, axis_name, scatter_dimension, tiled, axis_size):
    sd = scatter_dimension
    if not 0 <= sd < x.ndim:
        raise ValueError(
            f"psum_scatter: scatter_dimension={sd} is out of range for {x.str_short()}."
        )
    n = x.shape[sd]
    if tiled:
        if n % axis_size:
            raise ValueError(
                f"psum_scatter: with tiled=True, dimension {sd} of {x.str_short()} must be a "
                f"multiple of the size {axis_size} of axis {axis_name!r}."
            )
        shape = (*x.shape[:sd], n // axis_size, *x.shape[sd + 1 :])
    else:
        if n != axis_size:
            raise ValueError(
                f"psum_scatter: dimension {sd} of {x.str_short()} must equal the size "
                f"{axis_size} of axis {axis_name!r} (or pass tiled=True to split it in blocks)."
            )
        shape = (*x.shape[:sd], *x.shape[sd + 1 :])
    return x.update(shape=shape, weak_type=False)


def _psum_scatter_batch_with_axis(
    payload, vals, dims, *, axis_name, scatter_dimension, tiled, axis_size
):
    size, name = payload
    (x,), (d,) = vals, dims
    sd = scatter_dimension
    if name != axis_name:
        params = dict(axis_name=axis_name, scatter_dimension=sd, tiled=tiled, axis_size=axis_size)
        if d is None:
            return psum_scatter_p.bind(x, **params), None
        params["scatter_dimension"] = sd + 1
        return psum_scatter_p.bind(S.moveaxis(x, d, 0), **params), 0
    total = _scale(x, size) if d is None else S.reduce_sum(x, (d,))
    if tiled:
        shape = aval_of(total).shape
        total = S.reshape(total, (*shape[:sd], size, shape[sd] // size, *shape[sd + 1 :]))
    return total, sd


def _psum_scatter_jvp(primals, tangents, **params):
    (x,), (t,) = primals, tangents
    out = psum_scatter_p.bind(x, **params)
    if type(t) is Zero:
        return out, Zero.like(out)
    return out, psum_scatter_p.bind(t, **params)


def _psum_scatter_transpose(ct, x, *, axis_name, scatter_dimension, tiled, axis_size):
    aval = x.aval if is_undefined(x) else aval_of(x)
    if type(ct) is Zero:
        return [Zero(aval)]
    params = dict(axis_name=axis_name, axis=scatter_dimension, tiled=tiled, axis_size=axis_size)
    return [all_gather_p.bind(ct, **params)]


psum_scatter_p = Primitive("psum_scatter")
psum_scatter_p.impl = _unbound_named("psum_scatter")
psum_scatter_p.abstract_eval = _psum_scatter_abstract_eval
psum_scatter_p.jvp = _psum_scatter_jvp
psum_scatter_p.transpose = _psum_scatter_transpose
psum_scatter_p.batch = _unbound_named("psum_scatter")
psum_scatter_p.batch_with_axis = _psum_scatter_batch_with_axis
psum_scatter_p.linear = True


def _as_array(x):
    from ._cf_util import as_operand

    return as_operand(x)


def all_gather(x, axis_name, *, axis_index_groups=None, axis=0, tiled=False):
    """Every example's ``x`` along the named ``vmap`` axis, stacked (the same for all).

    Args:
        x: an array, or a pytree of arrays.
        axis_name: the name given to ``derivax.vmap(..., axis_name=...)``.
        axis_index_groups: not supported (must be None).
        axis: where the new axis of size ``axis_size(axis_name)`` goes; with
            ``tiled=True``, the existing axis the examples are concatenated along.
        tiled: concatenate instead of stacking.

    Returns:
        ``x`` with a new axis (or a longer ``axis`` when tiled) holding every example.

    Raises:
        NameError: no enclosing ``vmap`` has ``axis_name``.
        ValueError: ``axis`` is out of range.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> from derivax import lax
        >>> derivax.vmap(lambda v: lax.all_gather(v, "i"), axis_name="i")(dnp.arange(3.0))
        Array([[0., 1., 2.],
               [0., 1., 2.],
               [0., 1., 2.]], dtype=float32)
    """
    if axis_index_groups is not None:
        raise NotImplementedError("all_gather: axis_index_groups is not supported.")
    name = _single_name(axis_name, "all_gather")
    n = axis_size(name)

    def one(v):
        v = _as_array(v)
        nd = aval_of(v).ndim
        hi = nd if tiled else nd + 1
        if not -hi <= axis < hi:
            raise ValueError(
                f"all_gather: axis={axis} is out of range for an operand of shape "
                f"{aval_of(v).shape} (tiled={tiled})."
            )
        return all_gather_p.bind(
            v, axis_name=name, axis=int(axis) % hi, tiled=bool(tiled), axis_size=n
        )

    return tree_util.map(one, x)


def psum_scatter(x, axis_name, *, scatter_dimension=0, axis_index_groups=None, tiled=False):
    """Sum ``x`` over the named ``vmap`` axis and hand each example its own slice.

    Example ``i`` gets ``psum(x)[i]`` along ``scatter_dimension`` (which must have the
    axis' size), or its ``i``-th block of ``x.shape[scatter_dimension] // axis_size`` rows
    with ``tiled=True``. It is the transpose of ``all_gather``.

    Args:
        x: an array, or a pytree of arrays.
        axis_name: the name given to ``derivax.vmap(..., axis_name=...)``.
        scatter_dimension: the dimension that is split across the examples.
        axis_index_groups: not supported (must be None).
        tiled: keep ``scatter_dimension`` (as blocks) instead of removing it.

    Returns:
        Each example's part of the sum.

    Raises:
        NameError: no enclosing ``vmap`` has ``axis_name``.
        ValueError: ``scatter_dimension`` does not fit the axis size.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> from derivax import lax
        >>> f = derivax.vmap(lambda v: lax.psum_scatter(v, "i"), axis_name="i")
        >>> f(dnp.array([[1.0, 2.0], [10.0, 20.0]]))
        Array([11., 22.], dtype=float32)
    """
    if axis_index_groups is not None:
        raise NotImplementedError("psum_scatter: axis_index_groups is not supported.")
    name = _single_name(axis_name, "psum_scatter")
    n = axis_size(name)

    def one(v):
        v = _as_array(v)
        nd = aval_of(v).ndim
        if not -nd <= scatter_dimension < nd:
            raise ValueError(
                f"psum_scatter: scatter_dimension={scatter_dimension} is out of range for an "
                f"operand of shape {aval_of(v).shape}."
            )
        params = dict(axis_name=name, scatter_dimension=int(scatter_dimension) % nd,
                      tiled=bool(tiled), axis_size=n)  # fmt: skip
        _psum_scatter_abstract_eval(aval_of(v), **params)
        return psum_scatter_p.bind(v, **params)

    return tree_util.map(one, x)
