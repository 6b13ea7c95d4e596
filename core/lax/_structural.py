"""Structural primitives: shapes and layouts, reductions, dot_general, slicing and padding.

Each primitive's impl, shape rule, jvp, transpose and batching rule sit together. The
batching helpers (``bdim_to_front``, ``moveaxis``) live here because every batching rule
uses them.
"""

from __future__ import annotations

import builtins

import numpy as np

from .._ad_util import Zero, instantiate, is_undefined
from .._core import Primitive, ShapedArray
from . import _elementwise as E
from ._util import aval_of, canonical_axes, is_inexact, val, weak, wrap

# --------------------------------------------------------------------------- helpers


def _linear_jvp(prim):
    """jvp of a primitive that is linear in all its operands: apply it to the tangents."""

    def jvp(primals, tangents, **params):
        ans = prim.bind(*primals, **params)
        if all(type(t) is Zero for t in tangents) or not is_inexact(aval_of(ans).dtype):
            return ans, Zero.like(ans)
        return ans, prim.bind(*[instantiate(t) for t in tangents], **params)

    return jvp


def full(shape, fill_value, dtype):
    """An array of ``shape`` filled with ``fill_value`` (a scalar or 0-d array/tracer)."""
    dtype = np.dtype(dtype)
    shape = tuple(int(d) for d in shape)
    if isinstance(fill_value, (int, float, complex, np.generic, np.ndarray)):
        fill = np.asarray(fill_value, dtype)
        if not shape:
            return wrap(fill) if not isinstance(fill_value, np.ndarray) else wrap(fill)
        return broadcast_in_dim(wrap(fill), shape, ())
    fill = E.convert_element_type(fill_value, dtype)
    return broadcast_in_dim(fill, shape, ()) if shape else fill


def moveaxis(x, src, dst):
    nd = aval_of(x).ndim
    if src == dst:
        return x
    perm = [i for i in range(nd) if i != src]
    perm.insert(dst, src)
    return transpose(x, tuple(perm))


def bdim_to_front(x, d, size):
    """Move the batch dimension ``d`` of ``x`` to the front (broadcast if unbatched)."""
    if d is None:
        shape = aval_of(x).shape
        return broadcast_in_dim(x, (size, *shape), tuple(range(1, len(shape) + 1)))
    return moveaxis(x, d, 0)


def _batch_shifted(prim, axes_param):
    """Batching rule for unary ops whose params name axes of the operand."""

    def batch(vals, dims, **params):
        (x,), (d,) = vals, dims
        x = moveaxis(x, d, 0)
        params = dict(params)
        params[axes_param] = tuple(a + 1 for a in params[axes_param])
        return prim.bind(x, **params), 0

    return batch


def _prim(name, impl, abstract_eval, jvp=None, transpose=None, batch=None, linear=False):
    p = Primitive(name)
    p.impl, p.abstract_eval, p.jvp, p.transpose, p.batch = (
        impl,
        abstract_eval,
        jvp,
        transpose,
        batch,
    )
    p.linear = linear
    if linear and jvp is None:
        p.jvp = _linear_jvp(p)
    return p


# --------------------------------------------------------------------------- broadcast_in_dim


def _bid_shape_check(shape, operand_shape, bdims):
    if len(bdims) != len(operand_shape):
        raise ValueError(
            f"broadcast_in_dim: broadcast_dimensions {bdims} must have one entry per operand "
            f"dimension (operand shape {operand_shape})."
        )
    for od, d in zip(operand_shape, bdims, strict=True):
        if not 0 <= d < len(shape) or od not in (1, shape[d]):
            raise ValueError(
                f"broadcast_in_dim: cannot broadcast operand of shape {operand_shape} to shape "
                f"{shape} with broadcast_dimensions={bdims}."
            )
    if list(bdims) != sorted(set(bdims)):
        raise ValueError(f"broadcast_in_dim: broadcast_dimensions {bdims} must be increasing.")


def _bid_impl(x, *, shape, broadcast_dimensions):
    v = val(x)
    expanded = [1] * len(shape)
    for od, d in zip(v.shape, broadcast_dimensions, strict=True):
        expanded[d] = od
    out = np.broadcast_to(v.reshape(expanded), shape)
    return wrap(out, weak(x))


def _bid_abstract_eval(x, *, shape, broadcast_dimensions):
    _bid_shape_check(shape, x.shape, broadcast_dimensions)
    return ShapedArray(shape, x.dtype, x.weak_type)


def _bid_transpose(ct, x, *, shape, broadcast_dimensions):
    if type(ct) is Zero:
        return [Zero(x.aval)]
    in_shape = x.aval.shape
    bdims = broadcast_dimensions
    sum_axes = [d for d in range(len(shape)) if d not in bdims]
    sum_axes += [d for od, d in zip(in_shape, bdims, strict=True) if od == 1 and shape[d] != 1]
    out = reduce_sum(ct, tuple(sorted(sum_axes))) if sum_axes else ct
    return [reshape(out, in_shape)]


def _bid_batch(vals, dims, *, shape, broadcast_dimensions):
    (x,), (d,) = vals, dims
    size = aval_of(x).shape[d]
    x = moveaxis(x, d, 0)
    return (
        broadcast_in_dim(x, (size, *shape), (0, *(b + 1 for b in broadcast_dimensions))),
        0,
    )


broadcast_in_dim_p = _prim(
    "broadcast_in_dim",
    _bid_impl,
    _bid_abstract_eval,
    transpose=_bid_transpose,
    batch=_bid_batch,
    linear=True,
)


def broadcast_in_dim(x, shape, broadcast_dimensions):
    """Broadcast ``x`` to ``shape``; operand dim ``i`` maps to ``broadcast_dimensions[i]``."""
    shape = tuple(int(s) for s in shape)
    bdims = tuple(int(b) for b in broadcast_dimensions)
    a = aval_of(x)
    if a.shape == shape and bdims == tuple(range(len(shape))):
        return x
    return broadcast_in_dim_p.bind(x, shape=shape, broadcast_dimensions=bdims)


def broadcast(x, sizes):
    """Add leading dimensions of the given ``sizes``."""
    nd = aval_of(x).ndim
    sizes = tuple(sizes)
    return broadcast_in_dim(x, sizes + aval_of(x).shape, tuple(range(len(sizes), len(sizes) + nd)))


# --------------------------------------------------------------------------- reshape


def _reshape_abstract_eval(x, *, new_sizes):
    if int(np.prod(new_sizes, dtype=np.int64)) != x.size:
        raise TypeError(
            f"reshape: cannot reshape an array of shape {x.shape} ({x.size} elements) into "
            f"shape {new_sizes} ({int(np.prod(new_sizes, dtype=np.int64))} elements)."
        )
    return ShapedArray(new_sizes, x.dtype, x.weak_type)


def _reshape_batch(vals, dims, *, new_sizes):
    (x,), (d,) = vals, dims
    x = moveaxis(x, d, 0)
    return reshape(x, (aval_of(x).shape[0], *new_sizes)), 0


reshape_p = _prim(
    "reshape",
    lambda x, *, new_sizes: wrap(val(x).reshape(new_sizes), weak(x)),
    _reshape_abstract_eval,
    transpose=lambda ct, x, *, new_sizes: [
        Zero(x.aval) if type(ct) is Zero else reshape(ct, x.aval.shape)
    ],
    batch=_reshape_batch,
    linear=True,
)


def reshape(x, new_sizes):
    """Reshape ``x`` (row-major) to ``new_sizes`` (a tuple of ints; no -1)."""
    new_sizes = tuple(int(s) for s in new_sizes)
    if aval_of(x).shape == new_sizes:
        return x
    return reshape_p.bind(x, new_sizes=new_sizes)


def squeeze(x, dimensions):
    """Remove the given size-1 ``dimensions``."""
    a = aval_of(x)
    dims = canonical_axes(dimensions, a.ndim, "squeeze dimensions")
    for d in dims:
        if a.shape[d] != 1:
            raise ValueError(
                f"squeeze: dimension {d} of an array of shape {a.shape} has size "
                f"{a.shape[d]}, not 1."
            )
    return reshape(x, tuple(s for i, s in enumerate(a.shape) if i not in dims))


def expand_dims(x, dimensions):
    """Insert size-1 dimensions at the given positions of the result."""
    a = aval_of(x)
    nd = a.ndim + len(dimensions)
    dims = sorted(canonical_axes(dimensions, nd, "expand_dims dimensions"))
    shape = list(a.shape)
    for d in dims:
        shape.insert(d, 1)
    return reshape(x, tuple(shape))


# --------------------------------------------------------------------------- transpose


def _transpose_abstract_eval(x, *, permutation):
    if sorted(permutation) != list(range(x.ndim)):
        raise ValueError(
            f"transpose: permutation {permutation} is not a permutation of the "
            f"{x.ndim} dimensions of an array of shape {x.shape}."
        )
    return ShapedArray(tuple(x.shape[p] for p in permutation), x.dtype, x.weak_type)


def _transpose_transpose(ct, x, *, permutation):
    if type(ct) is Zero:
        return [Zero(x.aval)]
    return [transpose(ct, tuple(np.argsort(permutation)))]


def _transpose_batch(vals, dims, *, permutation):
    (x,), (d,) = vals, dims
    x = moveaxis(x, d, 0)
    return transpose(x, (0, *(p + 1 for p in permutation))), 0


transpose_p = _prim(
    "transpose",
    lambda x, *, permutation: wrap(np.transpose(val(x), permutation), weak(x)),
    _transpose_abstract_eval,
    transpose=_transpose_transpose,
    batch=_transpose_batch,
    linear=True,
)


def transpose(x, permutation):
    """Permute the dimensions of ``x``."""
    permutation = tuple(int(p) for p in permutation)
    if permutation == tuple(range(len(permutation))):
        return x
    return transpose_p.bind(x, permutation=permutation)


# --------------------------------------------------------------------------- rev


def _rev_abstract_eval(x, *, dimensions):
    canonical_axes(dimensions, x.ndim, "rev dimensions")
    return x


rev_p = _prim(
    "rev",
    lambda x, *, dimensions: wrap(np.flip(val(x), dimensions), weak(x)),
    _rev_abstract_eval,
    transpose=lambda ct, x, *, dimensions: [
        Zero(x.aval) if type(ct) is Zero else rev(ct, dimensions)
    ],
    linear=True,
)
rev_p.batch = _batch_shifted(rev_p, "dimensions")


def rev(x, dimensions):
    """Reverse ``x`` along the given dimensions."""
    dims = canonical_axes(dimensions, aval_of(x).ndim, "rev dimensions")
    return rev_p.bind(x, dimensions=dims) if dims else x


# --------------------------------------------------------------------------- reductions


def _reduce_abstract_eval(kind):
    def abstract_eval(x, *, axes):
        canonical_axes(axes, x.ndim)
        if kind == "num" and x.dtype == np.bool_:
            raise TypeError("reduce_sum/reduce_prod need a numeric dtype; convert bools first.")
        if kind == "bool" and x.dtype != np.bool_:
            raise TypeError(f"reduce_and/reduce_or need bool operands, got {x.str_short()}.")
        shape = tuple(s for i, s in enumerate(x.shape) if i not in axes)
        return ShapedArray(shape, x.dtype, x.weak_type)

    return abstract_eval


def _identity(name, dtype):
    dtype = np.dtype(dtype)
    if name == "max":
        return (
            -np.inf if is_inexact(dtype) else (False if dtype == np.bool_ else np.iinfo(dtype).min)
        )
    if name == "min":
        return np.inf if is_inexact(dtype) else (True if dtype == np.bool_ else np.iinfo(dtype).max)
    raise ValueError(name)


def _reduce_impl(np_fn, ident=None):
    def impl(x, *, axes):
        v = val(x)
        if ident is not None and any(v.shape[a] == 0 for a in axes):
            shape = tuple(s for i, s in enumerate(v.shape) if i not in axes)
            return wrap(np.full(shape, _identity(ident, v.dtype), v.dtype), weak(x))
        with np.errstate(all="ignore"):
            out = np_fn(v, axis=axes)
        if type(out) is not np.ndarray or out.dtype != v.dtype:
            out = np.asarray(out, v.dtype)
        return wrap(out, weak(x))

    return impl


def _sum_transpose(ct, x, *, axes):
    if type(ct) is Zero:
        return [Zero(x.aval)]
    shape = x.aval.shape
    kept = tuple(i for i in range(len(shape)) if i not in axes)
    return [broadcast_in_dim(ct, shape, kept)]


def _keepdims_broadcast(y, x_aval, axes):
    kept = tuple(i for i in range(x_aval.ndim) if i not in axes)
    return broadcast_in_dim(y, x_aval.shape, kept)


def _chooser_jvp(prim):
    # The tangent of max is the mean of the tangents at the locations of the maximum.
    def jvp(primals, tangents, *, axes):
        (x,), (t,) = primals, tangents
        ans = prim.bind(x, axes=axes)
        if type(t) is Zero or not is_inexact(aval_of(x).dtype):
            return ans, Zero.like(ans)
        xa = aval_of(x)
        loc = E.convert_element_type(E.eq(x, _keepdims_broadcast(ans, xa, axes)), xa.dtype)
        counts = reduce_sum(loc, axes)
        return ans, E.div(reduce_sum(E.mul(t, loc), axes), counts)

    return jvp


def _prod_jvp(primals, tangents, *, axes):
    # Exact with zeros: d prod = sum_i t_i * prod_{j != i} x_j. The product of the others is
    # computed by replacing each element by 1 in turn (O(n^2) in the reduced size).
    (x,), (t,) = primals, tangents
    ans = reduce_prod(x, axes)
    if type(t) is Zero or not is_inexact(aval_of(x).dtype):
        return ans, Zero.like(ans)
    xa = aval_of(x)
    kept = [i for i in range(xa.ndim) if i not in axes]
    n = int(np.prod([xa.shape[a] for a in axes], dtype=np.int64))
    kept_shape = tuple(xa.shape[i] for i in kept)
    perm = (*kept, *axes)
    xf = reshape(transpose(x, perm), (*kept_shape, n))
    tf = reshape(transpose(t, perm), (*kept_shape, n))
    k = len(kept_shape)
    rep = broadcast_in_dim(xf, (*kept_shape, n, n), (*range(k), k + 1))
    eye = E.eq(iota(np.int32, (n, n), 0), iota(np.int32, (n, n), 1))
    eye = broadcast_in_dim(eye, (*kept_shape, n, n), (k, k + 1))
    others = reduce_prod(E.select(eye, full((*kept_shape, n, n), 1, xa.dtype), rep), (k + 1,))
    return ans, reduce_sum(E.mul(tf, others), (k,))


reduce_sum_p = _prim(
    "reduce_sum",
    _reduce_impl(np.sum),
    _reduce_abstract_eval("num"),
    transpose=_sum_transpose,
    linear=True,
)
reduce_max_p = _prim("reduce_max", _reduce_impl(np.max, "max"), _reduce_abstract_eval("any"))
reduce_min_p = _prim("reduce_min", _reduce_impl(np.min, "min"), _reduce_abstract_eval("any"))
reduce_prod_p = _prim(
    "reduce_prod", _reduce_impl(np.prod), _reduce_abstract_eval("num"), jvp=_prod_jvp
)
reduce_and_p = _prim("reduce_and", _reduce_impl(np.all), _reduce_abstract_eval("bool"))
reduce_or_p = _prim("reduce_or", _reduce_impl(np.any), _reduce_abstract_eval("bool"))
reduce_max_p.jvp = _chooser_jvp(reduce_max_p)
reduce_min_p.jvp = _chooser_jvp(reduce_min_p)
reduce_and_p.jvp = E._zero_jvp(reduce_and_p)
reduce_or_p.jvp = E._zero_jvp(reduce_or_p)
for _p in (reduce_sum_p, reduce_max_p, reduce_min_p, reduce_prod_p, reduce_and_p, reduce_or_p):
    _p.batch = _batch_shifted(_p, "axes")


def _reducer(prim):
    def reduce(x, axes):
        axes = tuple(sorted(canonical_axes(axes, aval_of(x).ndim)))
        if not axes:
            return x
        return prim.bind(x, axes=axes)

    reduce.__name__ = prim.name
    reduce.__doc__ = f"``{prim.name}`` over the given ``axes``."
    return reduce


reduce_sum = _reducer(reduce_sum_p)
reduce_max = _reducer(reduce_max_p)
reduce_min = _reducer(reduce_min_p)
reduce_prod = _reducer(reduce_prod_p)
reduce_and = _reducer(reduce_and_p)
reduce_or = _reducer(reduce_or_p)


# --------------------------------------------------------------------------- argmax / argmin


def _arg_abstract_eval(x, *, axes, index_dtype):
    if len(axes) != 1:
        raise ValueError(f"argmax/argmin take exactly one axis, got {axes}.")
    if x.shape[axes[0]] == 0:
        raise ValueError(
            f"argmax/argmin over axis {axes[0]} of size 0 (shape {x.shape}) is undefined."
        )
    shape = tuple(s for i, s in enumerate(x.shape) if i != axes[0])
    return ShapedArray(shape, index_dtype)


def _arg_impl(np_fn):
    def impl(x, *, axes, index_dtype):
        return wrap(np.asarray(np_fn(val(x), axis=axes[0]), index_dtype))

    return impl


argmax_p = _prim("argmax", _arg_impl(np.argmax), _arg_abstract_eval)
argmin_p = _prim("argmin", _arg_impl(np.argmin), _arg_abstract_eval)
for _p in (argmax_p, argmin_p):
    _p.jvp = E._zero_jvp(_p)
    _p.batch = _batch_shifted(_p, "axes")


def argmax(x, axis, index_dtype=np.int32):
    """Index of the maximum along ``axis`` (the first one on ties; NaN counts as largest)."""
    (axis,) = canonical_axes((axis,), aval_of(x).ndim)
    return argmax_p.bind(x, axes=(axis,), index_dtype=np.dtype(index_dtype))


def argmin(x, axis, index_dtype=np.int32):
    """Index of the minimum along ``axis`` (the first one on ties)."""
    (axis,) = canonical_axes((axis,), aval_of(x).ndim)
    return argmin_p.bind(x, axes=(axis,), index_dtype=np.dtype(index_dtype))


# --------------------------------------------------------------------------- dot_general


def _free_dims(ndim, contract, batch):
    return [d for d in range(ndim) if d not in contract and d not in batch]


def _dot_abstract_eval(lhs, rhs, *, dimension_numbers, preferred_element_type=None):
    (lc, rc), (lb, rb) = dimension_numbers
    problem = None
    if len(lc) != len(rc) or len(lb) != len(rb):
        problem = "the lhs and rhs dimension lists must have equal lengths"
    elif any(not 0 <= d < lhs.ndim for d in (*lc, *lb)) or any(
        not 0 <= d < rhs.ndim for d in (*rc, *rb)
    ):
        problem = "a dimension is out of range"
    elif any(lhs.shape[a] != rhs.shape[b] for a, b in zip(lc, rc, strict=True)):
        problem = "contracting dimensions have different sizes"
    elif any(lhs.shape[a] != rhs.shape[b] for a, b in zip(lb, rb, strict=True)):
        problem = "batch dimensions have different sizes"
    if problem:
        raise TypeError(
            f"dot_general: {problem}: lhs {lhs.str_short()}, rhs {rhs.str_short()}, "
            f"contracting dims {tuple(lc)} x {tuple(rc)}, batch dims {tuple(lb)} x {tuple(rb)}. "
            "For a matrix product the last axis of lhs must match the second-to-last of rhs."
        )
    if lhs.dtype != rhs.dtype:
        raise TypeError(
            f"dot_general operands must have the same dtype, got {lhs.str_short()} and "
            f"{rhs.str_short()}; derivax.numpy.matmul/dot promote for you."
        )
    shape = (
        tuple(lhs.shape[d] for d in lb)
        + tuple(lhs.shape[d] for d in _free_dims(lhs.ndim, lc, lb))
        + tuple(rhs.shape[d] for d in _free_dims(rhs.ndim, rc, rb))
    )
    dtype = preferred_element_type or lhs.dtype
    return ShapedArray(shape, dtype, lhs.weak_type and rhs.weak_type)


def _dot_impl(lhs, rhs, *, dimension_numbers, preferred_element_type=None):
    lv, rv = val(lhs), val(rhs)
    if preferred_element_type is not None and lv.dtype != preferred_element_type:
        # Accumulate in the preferred type (int8 products summed in int32 must not wrap).
        lv, rv = lv.astype(preferred_element_type), rv.astype(preferred_element_type)
    (lc, rc), (lb, rb) = dimension_numbers
    try:
        mismatch = any(lv.shape[i] != rv.shape[j] for i, j in zip((*lc, *lb), (*rc, *rb)))
        mismatch = mismatch or len(lc) != len(rc) or len(lb) != len(rb)
        mismatch = mismatch or min((*lc, *lb, *rc, *rb), default=0) < 0
    except IndexError:
        mismatch = True
    if mismatch:  # the shape rule raises the error that names both shapes
        _dot_abstract_eval(aval_of(lhs), aval_of(rhs), dimension_numbers=dimension_numbers)
    lf = _free_dims(lv.ndim, lc, lb)
    rf = _free_dims(rv.ndim, rc, rb)
    bshape = tuple(lv.shape[d] for d in lb)
    m = int(np.prod([lv.shape[d] for d in lf], dtype=np.int64))
    n = int(np.prod([rv.shape[d] for d in rf], dtype=np.int64))
    k = int(np.prod([lv.shape[d] for d in lc], dtype=np.int64))
    bsize = int(np.prod(bshape, dtype=np.int64))
    a = np.transpose(lv, (*lb, *lf, *lc)).reshape(bsize, m, k)
    b = np.transpose(rv, (*rb, *rc, *rf)).reshape(bsize, k, n)
    with np.errstate(all="ignore"):
        out = np.matmul(a, b)
    out = out.reshape(bshape + tuple(lv.shape[d] for d in lf) + tuple(rv.shape[d] for d in rf))
    dt = preferred_element_type or lv.dtype
    if out.dtype != dt:
        out = out.astype(dt)
    return wrap(out, weak(lhs) and weak(rhs))


def _dot_transpose_operand(ct, other, this_aval, dimension_numbers, this_is_lhs):
    (lc, rc), (lb, rb) = dimension_numbers
    if not this_is_lhs:
        lc, rc, lb, rb = rc, lc, rb, lb
    this_nd = this_aval.ndim
    other_nd = aval_of(other).ndim
    nb = len(lb)
    this_free = _free_dims(this_nd, lc, lb)
    other_free = _free_dims(other_nd, rc, rb)
    n_this_free = len(this_free)
    # ct dims: [batch, lhs free, rhs free]; "this" free dims come first when this is lhs.
    if this_is_lhs:
        ct_other_free = list(range(nb + n_this_free, nb + n_this_free + len(other_free)))
    else:
        ct_other_free = list(range(nb, nb + len(other_free)))
    dims = ((tuple(ct_other_free), tuple(other_free)), (tuple(range(nb)), tuple(rb)))
    res = dot_general(ct, other, dims)
    # res dims: [batch, this free (in order), other's remaining dims = rc in sorted order]
    rc_sorted = sorted(range(len(rc)), key=lambda j: rc[j])
    res_as_this = list(lb) + this_free + [lc[j] for j in rc_sorted]
    perm = tuple(res_as_this.index(d) for d in range(this_nd))
    return transpose(res, perm)


def _dot_transpose(ct, lhs, rhs, *, dimension_numbers, preferred_element_type=None):
    out = [None, None]
    if is_undefined(lhs) and is_undefined(rhs):
        raise ValueError("dot_general is linear in one operand at a time.")
    if is_undefined(lhs):
        out[0] = (
            Zero(lhs.aval)
            if type(ct) is Zero
            else E.convert_element_type(
                _dot_transpose_operand(ct, rhs, lhs.aval, dimension_numbers, True),
                lhs.aval.dtype,
            )
        )
    if is_undefined(rhs):
        out[1] = (
            Zero(rhs.aval)
            if type(ct) is Zero
            else E.convert_element_type(
                _dot_transpose_operand(ct, lhs, rhs.aval, dimension_numbers, False),
                rhs.aval.dtype,
            )
        )
    return out


def _dot_jvp(primals, tangents, *, dimension_numbers, preferred_element_type=None):
    lhs, rhs = primals
    tl, tr = tangents
    params = dict(
        dimension_numbers=dimension_numbers, preferred_element_type=preferred_element_type
    )
    ans = dot_general_p.bind(lhs, rhs, **params)
    if not is_inexact(aval_of(ans).dtype):
        return ans, Zero.like(ans)
    out = Zero.like(ans)
    if type(tl) is not Zero:
        out = dot_general_p.bind(tl, rhs, **params)
    if type(tr) is not Zero:
        t2 = dot_general_p.bind(lhs, tr, **params)
        out = t2 if type(out) is Zero else E.add(out, t2)
    return ans, out


def _shift(dims, by=1):
    return tuple(d + by for d in dims)


def _dot_batch(vals, dims, *, dimension_numbers, preferred_element_type=None):
    lhs, rhs = vals
    ld, rd = dims
    (lc, rc), (lb, rb) = dimension_numbers
    params = dict(preferred_element_type=preferred_element_type)
    if ld is not None and rd is not None:
        lhs, rhs = moveaxis(lhs, ld, 0), moveaxis(rhs, rd, 0)
        dn = ((_shift(lc), _shift(rc)), ((0, *_shift(lb)), (0, *_shift(rb))))
        return dot_general_p.bind(lhs, rhs, dimension_numbers=dn, **params), 0
    if ld is not None:
        lhs = moveaxis(lhs, ld, 0)
        dn = ((_shift(lc), rc), (_shift(lb), rb))
        return dot_general_p.bind(lhs, rhs, dimension_numbers=dn, **params), len(lb)
    rhs = moveaxis(rhs, rd, 0)
    dn = ((lc, _shift(rc)), (lb, _shift(rb)))
    n_lhs_free = len(_free_dims(aval_of(lhs).ndim, lc, lb))
    return dot_general_p.bind(lhs, rhs, dimension_numbers=dn, **params), len(lb) + n_lhs_free


dot_general_p = _prim(
    "dot_general",
    _dot_impl,
    _dot_abstract_eval,
    jvp=_dot_jvp,
    transpose=_dot_transpose,
    batch=_dot_batch,
    linear=True,
)


def dot_general(lhs, rhs, dimension_numbers, preferred_element_type=None):
    """Generalised tensor contraction.

    Args:
        lhs, rhs: operands of one dtype.
        dimension_numbers: ``((lhs_contracting, rhs_contracting), (lhs_batch, rhs_batch))``.
        preferred_element_type: optional output dtype.

    The result's dimensions are the batch dimensions, then the free dimensions of ``lhs``,
    then those of ``rhs`` (each in order).
    """
    (lc, rc), (lb, rb) = dimension_numbers
    dn = ((tuple(map(int, lc)), tuple(map(int, rc))), (tuple(map(int, lb)), tuple(map(int, rb))))
    pet = None if preferred_element_type is None else np.dtype(preferred_element_type)
    return dot_general_p.bind(lhs, rhs, dimension_numbers=dn, preferred_element_type=pet)


# --------------------------------------------------------------------------- slice


def _slice_abstract_eval(x, *, start_indices, limit_indices, strides):
    if not (len(start_indices) == len(limit_indices) == len(strides) == x.ndim):
        raise ValueError(
            f"slice: start {start_indices}, limit {limit_indices} and strides {strides} need "
            f"one entry per dimension of {x.str_short()}."
        )
    shape = []
    for s, lo, hi, st in zip(x.shape, start_indices, limit_indices, strides, strict=True):
        if not (0 <= lo <= hi <= s) or st < 1:
            raise ValueError(
                f"slice: invalid bounds start={start_indices}, limit={limit_indices}, "
                f"strides={strides} for an operand of shape {x.shape}."
            )
        shape.append(max(0, -(-(hi - lo) // st)))
    return ShapedArray(tuple(shape), x.dtype, x.weak_type)


def _slice_impl(x, *, start_indices, limit_indices, strides):
    idx = tuple(
        builtins.slice(lo, hi, st)
        for lo, hi, st in zip(start_indices, limit_indices, strides, strict=True)
    )
    return wrap(val(x)[idx], weak(x))


def _slice_transpose(ct, x, *, start_indices, limit_indices, strides):
    if type(ct) is Zero:
        return [Zero(x.aval)]
    out_shape = aval_of(ct).shape
    config = []
    for dim, lo, n, st in zip(x.aval.shape, start_indices, out_shape, strides, strict=True):
        covered = (n - 1) * st + 1 if n > 0 else 0
        config.append((lo, dim - lo - covered, st - 1 if n > 0 else 0))
    zero = full((), 0, aval_of(ct).dtype)
    return [pad(ct, zero, tuple(config))]


def _slice_batch(vals, dims, *, start_indices, limit_indices, strides):
    (x,), (d,) = vals, dims
    size = aval_of(x).shape[d]
    s, li, st = list(start_indices), list(limit_indices), list(strides)
    s.insert(d, 0)
    li.insert(d, size)
    st.insert(d, 1)
    return (
        slice_p.bind(x, start_indices=tuple(s), limit_indices=tuple(li), strides=tuple(st)),
        d,
    )


slice_p = _prim(
    "slice",
    _slice_impl,
    _slice_abstract_eval,
    transpose=_slice_transpose,
    batch=_slice_batch,
    linear=True,
)


def slice(x, start_indices, limit_indices, strides=None):  # noqa: A001 - mirrors lax.slice
    """Static slice ``x[start:limit:stride]`` in every dimension."""
    nd = aval_of(x).ndim
    strides = (1,) * nd if strides is None else tuple(int(s) for s in strides)
    return slice_p.bind(
        x,
        start_indices=tuple(int(s) for s in start_indices),
        limit_indices=tuple(int(s) for s in limit_indices),
        strides=strides,
    )


def slice_in_dim(x, start, limit, stride=1, axis=0):
    a = aval_of(x)
    starts = [0] * a.ndim
    limits = list(a.shape)
    strides = [1] * a.ndim
    starts[axis], limits[axis], strides[axis] = start, limit, stride
    return slice(x, starts, limits, strides)


# --------------------------------------------------------------------------- pad


def _pad_abstract_eval(x, padval, *, padding_config):
    if padval.shape != () or padval.dtype != x.dtype:
        raise TypeError(
            f"pad: padding_value must be a scalar of the operand's dtype {x.dtype}, got "
            f"{padval.str_short()}."
        )
    if len(padding_config) != x.ndim:
        raise ValueError(
            f"pad: padding_config needs one (low, high, interior) triple per dimension of "
            f"{x.str_short()}, got {len(padding_config)}."
        )
    shape = []
    for s, (lo, hi, interior) in zip(x.shape, padding_config, strict=True):
        if interior < 0:
            raise ValueError(f"pad: interior padding must be >= 0, got {interior}.")
        n = lo + hi + s + max(0, s - 1) * interior
        if n < 0:
            raise ValueError(f"pad: padding {padding_config} gives a negative size for {x.shape}.")
        shape.append(n)
    return ShapedArray(tuple(shape), x.dtype, x.weak_type)


def _pad_impl(x, padval, *, padding_config):
    v = val(x)
    pv = val(padval)
    # Pad with the non-negative parts, then crop the negative ones.
    grown = [
        lo_pos + hi_pos + s + max(0, s - 1) * interior
        for s, (lo_pos, hi_pos, interior) in zip(
            v.shape,
            [(max(lo, 0), max(hi, 0), i) for lo, hi, i in padding_config],
            strict=True,
        )
    ]
    out = np.full(grown, pv, dtype=v.dtype)
    idx = tuple(
        builtins.slice(max(lo, 0), max(lo, 0) + (s - 1) * (i + 1) + 1 if s else max(lo, 0), i + 1)
        for s, (lo, hi, i) in zip(v.shape, padding_config, strict=True)
    )
    out[idx] = v
    crop = tuple(
        builtins.slice(-lo if lo < 0 else 0, n + hi if hi < 0 else n)
        for n, (lo, hi, _) in zip(grown, padding_config, strict=True)
    )
    return wrap(out[crop], weak(x))


def _pad_transpose(ct, x, padval, *, padding_config):
    res = [None, None]
    if type(ct) is Zero:
        if is_undefined(x):
            res[0] = Zero(x.aval)
        if is_undefined(padval):
            res[1] = Zero(padval.aval)
        return res
    ct_aval = aval_of(ct)
    # Undo the negative (cropping) parts by padding the cotangent back with zeros.
    unneg = tuple((max(-lo, 0), max(-hi, 0), 0) for lo, hi, _ in padding_config)
    zero = full((), 0, ct_aval.dtype)
    ct_full = pad(ct, zero, unneg) if any(a or b for a, b, _ in unneg) else ct
    full_shape = aval_of(ct_full).shape
    x_aval = x.aval if is_undefined(x) else aval_of(x)
    starts = [max(lo, 0) for lo, _, _ in padding_config]
    limits = [
        st + (s - 1) * (i + 1) + 1 if s else st
        for st, s, (_, _, i) in zip(starts, x_aval.shape, padding_config, strict=True)
    ]
    strides = [i + 1 for _, _, i in padding_config]
    limits = [builtins.min(li, n) for li, n in zip(limits, full_shape, strict=True)]
    ct_x = slice(ct_full, starts, limits, strides)
    if is_undefined(x):
        res[0] = ct_x
    if is_undefined(padval):
        total = reduce_sum(ct, tuple(range(ct_aval.ndim)))
        inner = reduce_sum(ct_x, tuple(range(x_aval.ndim)))
        res[1] = E.sub(total, inner)
    return res


def _pad_batch(vals, dims, *, padding_config):
    x, padval = vals
    xd, pd = dims
    if pd is None:
        cfg = list(padding_config)
        cfg.insert(xd, (0, 0, 0))
        return pad_p.bind(x, padval, padding_config=tuple(cfg)), xd
    size = aval_of(padval).shape[pd]
    x = bdim_to_front(x, xd, size)
    cfg = ((0, 0, 0), *padding_config)
    zero = full((), 0, aval_of(x).dtype)
    body = pad_p.bind(x, zero, padding_config=cfg)
    unb = aval_of(x).shape[1:]
    mask = pad_p.bind(
        full(unb, True, np.bool_), full((), False, np.bool_), padding_config=padding_config
    )
    out_shape = aval_of(body).shape
    mask = broadcast_in_dim(mask, out_shape, tuple(range(1, len(out_shape))))
    pv = broadcast_in_dim(moveaxis(padval, pd, 0), out_shape, (0,))
    return E.select(mask, body, pv), 0


pad_p = _prim(
    "pad",
    _pad_impl,
    _pad_abstract_eval,
    transpose=_pad_transpose,
    batch=_pad_batch,
    linear=True,
)


def pad(x, padding_value, padding_config):
    """Pad ``x``: ``padding_config`` holds ``(low, high, interior)`` per dimension; negative
    low/high crop."""
    cfg = tuple((int(lo), int(hi), int(i)) for lo, hi, i in padding_config)
    return pad_p.bind(x, padding_value, padding_config=cfg)


# --------------------------------------------------------------------------- concatenate


def _concat_abstract_eval(*xs, dimension):
    x0 = xs[0]
    if not 0 <= dimension < x0.ndim:
        raise ValueError(f"concatenate: dimension {dimension} out of range for {x0.str_short()}.")
    for x in xs[1:]:
        if (
            x.dtype != x0.dtype
            or x.ndim != x0.ndim
            or any(
                a != b
                for i, (a, b) in enumerate(zip(x.shape, x0.shape, strict=True))
                if i != dimension
            )
        ):
            raise TypeError(
                "concatenate: operands must have the same dtype and the same shape except "
                f"along dimension {dimension}; got {', '.join(x.str_short() for x in xs)}."
            )
    shape = list(x0.shape)
    shape[dimension] = sum(x.shape[dimension] for x in xs)
    return ShapedArray(tuple(shape), x0.dtype, all(x.weak_type for x in xs))


def _concat_transpose(ct, *xs, dimension):
    out = []
    start = 0
    for x in xs:
        a = x.aval if is_undefined(x) else aval_of(x)
        n = a.shape[dimension]
        if is_undefined(x):
            out.append(
                Zero(x.aval)
                if type(ct) is Zero
                else slice_in_dim(ct, start, start + n, 1, dimension)
            )
        else:
            out.append(None)
        start += n
    return out


def _concat_batch(vals, dims, *, dimension):
    size = next(aval_of(v).shape[d] for v, d in zip(vals, dims, strict=True) if d is not None)
    vals = [bdim_to_front(v, d, size) for v, d in zip(vals, dims, strict=True)]
    return concatenate_p.bind(*vals, dimension=dimension + 1), 0


concatenate_p = _prim(
    "concatenate",
    lambda *xs, dimension: wrap(
        np.concatenate([val(x) for x in xs], axis=dimension), all(weak(x) for x in xs)
    ),
    _concat_abstract_eval,
    transpose=_concat_transpose,
    batch=_concat_batch,
    linear=True,
)


def concatenate(operands, dimension):
    """Join arrays of one dtype along ``dimension``."""
    operands = list(operands)
    if not operands:
        raise ValueError("concatenate needs at least one operand.")
    if len(operands) == 1:
        return operands[0]
    return concatenate_p.bind(*operands, dimension=int(dimension))


# --------------------------------------------------------------------------- iota


def _iota_abstract_eval(*, dtype, shape, dimension):
    if not 0 <= dimension < len(shape):
        raise ValueError(f"iota: dimension {dimension} out of range for shape {shape}.")
    return ShapedArray(shape, dtype)


def _iota_impl(*, dtype, shape, dimension):
    r = np.arange(shape[dimension], dtype=dtype)
    expanded = [1] * len(shape)
    expanded[dimension] = shape[dimension]
    return wrap(np.broadcast_to(r.reshape(expanded), shape))


iota_p = _prim("iota", _iota_impl, _iota_abstract_eval)
iota_p.jvp = E._zero_jvp(iota_p)
iota_p.no_rule_reasons["batch"] = "iota takes no operands, so it is never batched."


def iota(dtype, shape, dimension=0):
    """Integers counting along ``dimension`` of an array of ``shape``."""
    shape = (int(shape),) if np.ndim(shape) == 0 else tuple(int(s) for s in shape)
    return iota_p.bind(dtype=np.dtype(dtype), shape=shape, dimension=int(dimension))
