"""Automatic batching (``vmap``): the batch trace and its tracer.

A batch tracer holds a value with one extra dimension, ``bdim`` (or ``None`` when the value
is the same for every example). Each primitive's batching rule maps batched operands to a
batched result, usually by binding the same primitive once on the whole batch.
"""

from __future__ import annotations

from ._core import ShapedArray, Trace, Tracer, get_aval, new_main


class BatchTracer(Tracer):
    __slots__ = ("val", "bdim")

    def __init__(self, trace, val, bdim):
        self._trace = trace
        self.val = val
        self.bdim = bdim

    @property
    def aval(self):
        a = get_aval(self.val)
        if self.bdim is None:
            return a
        shape = a.shape[: self.bdim] + a.shape[self.bdim + 1 :]
        return ShapedArray(shape, a.dtype, a.weak_type)


class BatchTrace(Trace):
    """payload: ``(axis_size, axis_name)``."""

    __slots__ = ()

    def pure(self, val):
        return BatchTracer(self, val, None)

    lift = pure

    def process_primitive(self, prim, tracers, params):
        vals = [t.val for t in tracers]
        dims = [t.bdim for t in tracers]
        axis_rule = prim.batch_with_axis
        if axis_rule is not None:
            out, out_dims = axis_rule(self.main.payload, vals, dims, **params)
        elif all(d is None for d in dims):
            out = prim.bind(*vals, **params)
            outs = out if prim.multiple_results else [out]
            return [BatchTracer(self, o, None) for o in outs]
        else:
            out, out_dims = prim.rule("batch")(vals, dims, **params)
        if prim.multiple_results:
            return [BatchTracer(self, o, d) for o, d in zip(out, out_dims, strict=True)]
        return [BatchTracer(self, out, out_dims)]


def move_to(x, bdim, dst, size):
    """Move (or create, by broadcasting) the batch dimension of ``x`` to position ``dst``."""
    from .lax import _structural as S

    if bdim is None:
        a = get_aval(x)
        shape = list(a.shape)
        shape.insert(dst, size)
        dims = tuple(i for i in range(len(shape)) if i != dst)
        return S.broadcast_in_dim(x, tuple(shape), dims)
    return S.moveaxis(x, bdim, dst)


def vmap_flat(fun, args, in_dims, out_dims, axis_size, axis_name=None):
    """Batch ``fun`` (flat in, flat out) over ``in_dims``; outputs moved to ``out_dims``.

    ``out_dims`` may be a callable taking the number of outputs and returning the list,
    for callers that learn the output count only after tracing.
    """
    with new_main(BatchTrace, (axis_size, axis_name)) as main:
        trace = BatchTrace(main)
        tracers = [
            x if d is None else BatchTracer(trace, x, d) for x, d in zip(args, in_dims, strict=True)
        ]
        outs = fun(*tracers)
        outs = [trace.full_raise(o) for o in outs]
        if callable(out_dims):
            out_dims = out_dims(len(outs))
        results = []
        for o, od in zip(outs, out_dims, strict=True):
            if od is None:
                if o.bdim is not None:
                    raise ValueError(
                        "vmap: out_axes is None for an output that varies along the mapped "
                        f"axis (its batched shape is {get_aval(o.val).shape}). Use an integer "
                        "out_axes for it, or make sure the output does not depend on the "
                        "mapped inputs."
                    )
                results.append(o.val)
            else:
                nd = get_aval(o.val).ndim + (1 if o.bdim is None else 0)
                if not -nd <= od < nd:
                    raise ValueError(
                        f"vmap: out_axes={od} is out of range for an output of rank {nd}."
                    )
                results.append(move_to(o.val, o.bdim, od % nd, axis_size))
        return results
