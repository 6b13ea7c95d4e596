"""Convolutions: ``conv_general_dilated`` (one primitive), ``conv_transpose`` and helpers.

The primitive ``conv_general_dilated_p`` works in one canonical layout, channels last:

* lhs ``(N, *spatial, C)``, rhs ``(*window, I, O)``, output ``(N', *out_spatial, O)``

with ``C == I * feature_group_count`` and ``N' == N // batch_group_count``. The public
function turns any ``dimension_numbers`` into transposes around it, so the rules below are
written once. Group conventions (as in XLA): feature group ``g`` uses input channels
``[g*I, (g+1)*I)`` and output channels ``[g*O/G, (g+1)*O/G)``; batch group ``b`` uses lhs
examples ``[b*N', (b+1)*N')`` and output channels ``[b*O/B, (b+1)*O/B)``.

The NumPy implementation dilates and pads the input once, takes every window as a strided
view (no copy), gathers the windows into one patch matrix and multiplies it with the
flattened kernel: a single BLAS call per feature group.

Derivatives: the convolution is bilinear, so its jvp binds it twice. Its transposes with
respect to each operand are convolutions again (derived in ``_conv_transpose_lhs`` and
``_conv_transpose_rhs``): strides and dilations trade places, the kernel is flipped and its
channel axes swapped, and groups of one kind become groups of the other.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import _dtypes
from .._ad_util import Zero, is_undefined
from .._core import Primitive, ShapedArray, Tracer
from . import _elementwise as E
from . import _structural as S
from ._reduce_window import reduce_window as reduce_window
from ._reduce_window import reduce_window_max as reduce_window_max
from ._reduce_window import reduce_window_min as reduce_window_min
from ._reduce_window import reduce_window_sum as reduce_window_sum
from ._util import aval_of, is_inexact, val, weak, wrap
from ._windows import (
    PADDING_STRINGS,
    check_int_seq,
    check_padding_pairs,
    dilate_dim,
    dilate_pad,
    window_out_dim,
)
from ._windows import padtype_to_pads as padtype_to_pads

__all__ = [
    "ConvDimensionNumbers",
    "conv",
    "conv_dimension_numbers",
    "conv_general_dilated",
    "conv_transpose",
    "padtype_to_pads",
    "reduce_window",
    "reduce_window_max",
    "reduce_window_min",
    "reduce_window_sum",
]


class ConvDimensionNumbers(NamedTuple):
    """Where the batch, feature and spatial dimensions of each convolution operand are.

    Each field is a tuple of axis indices: ``lhs_spec = (batch, feature, *spatial)``,
    ``rhs_spec = (out_feature, in_feature, *spatial)``, ``out_spec = (batch, feature,
    *spatial)``. Spatial dimensions correspond by position.

    Example:
        >>> from derivax import lax
        >>> lax.conv_dimension_numbers((1, 5, 5, 3), (3, 3, 3, 8), ("NHWC", "HWIO", "NHWC"))
        ConvDimensionNumbers(lhs_spec=(0, 3, 1, 2), rhs_spec=(3, 2, 0, 1), out_spec=(0, 3, 1, 2))
    """

    lhs_spec: tuple[int, ...]
    rhs_spec: tuple[int, ...]
    out_spec: tuple[int, ...]


def _spec_from_string(name, spec, special, spatial_order):
    perm = [spec.index(c) for c in special]
    perm += sorted(
        (i for i, c in enumerate(spec) if c not in special), key=lambda i: spatial_order[spec[i]]
    )
    return tuple(perm)


def conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers) -> ConvDimensionNumbers:
    """Normalise ``dimension_numbers`` to a :class:`ConvDimensionNumbers` of axis indices.

    Args:
        lhs_shape: shape of the input.
        rhs_shape: shape of the kernel.
        dimension_numbers: ``None`` (``NCHW``/``OIHW``/``NCHW``-style, i.e. batch and
            feature first), a triple of strings such as ``("NHWC", "HWIO", "NHWC")`` (``N``
            batch, ``C`` feature, ``O``/``I`` kernel output/input feature; any other letters
            are spatial dimensions, matched between the three strings by letter and ordered
            as in the kernel string), or a ``ConvDimensionNumbers`` of axis indices.

    Returns:
        A ``ConvDimensionNumbers``.

    Raises:
        ValueError: when the strings or indices do not describe the operands.

    Example:
        >>> from derivax import lax
        >>> lax.conv_dimension_numbers((8, 3, 32, 32), (16, 3, 3, 3), None).lhs_spec
        (0, 1, 2, 3)
    """
    lhs_shape, rhs_shape = tuple(lhs_shape), tuple(rhs_shape)
    nd = len(lhs_shape)
    if len(rhs_shape) != nd or nd < 2:
        raise ValueError(
            "conv: lhs and rhs must have the same rank, at least 2 (batch and feature "
            f"dimensions plus spatial ones); got lhs shape {lhs_shape} and rhs shape {rhs_shape}."
        )
    if dimension_numbers is None:
        iota = tuple(range(nd))
        return ConvDimensionNumbers(iota, iota, iota)
    if isinstance(dimension_numbers, ConvDimensionNumbers):
        specs = tuple(tuple(int(i) for i in s) for s in dimension_numbers)
    elif (
        isinstance(dimension_numbers, (tuple, list))
        and len(dimension_numbers) == 3
        and all(isinstance(s, str) for s in dimension_numbers)
    ):
        lhs_s, rhs_s, out_s = dimension_numbers
        for label, s, special in (("lhs", lhs_s, "NC"), ("rhs", rhs_s, "OI"), ("out", out_s, "NC")):
            if len(s) != nd or len(set(s)) != nd or any(c not in s for c in special):
                raise ValueError(
                    f"conv dimension_numbers: the {label} string {s!r} must name each of the "
                    f"{nd} dimensions once and include {special[0]!r} and {special[1]!r} "
                    f"(e.g. ('NHWC', 'HWIO', 'NHWC') for 2-D images); got {dimension_numbers}."
                )
        spatial = [c for c in rhs_s if c not in "OI"]
        if sorted(c for c in lhs_s if c not in "NC") != sorted(spatial) or sorted(
            c for c in out_s if c not in "NC"
        ) != sorted(spatial):
            raise ValueError(
                "conv dimension_numbers: the spatial letters of the lhs, rhs and out strings "
                f"must be the same; got {dimension_numbers}."
            )
        order = {c: i for i, c in enumerate(spatial)}
        specs = (
            _spec_from_string("lhs", lhs_s, "NC", order),
            _spec_from_string("rhs", rhs_s, "OI", order),
            _spec_from_string("out", out_s, "NC", order),
        )
    elif isinstance(dimension_numbers, (tuple, list)) and len(dimension_numbers) == 3:
        specs = tuple(tuple(int(i) for i in s) for s in dimension_numbers)
    else:
        raise TypeError(
            "conv dimension_numbers: expected None, a triple of strings such as "
            "('NHWC', 'HWIO', 'NHWC') or a ConvDimensionNumbers, got "
            f"{dimension_numbers!r}."
        )
    for label, spec in zip(("lhs_spec", "rhs_spec", "out_spec"), specs, strict=True):
        if sorted(spec) != list(range(nd)):
            raise ValueError(
                f"conv dimension_numbers: {label} {spec} is not a permutation of the {nd} "
                "dimensions."
            )
    return ConvDimensionNumbers(*specs)


# --------------------------------------------------------------------------- canonical layout


def _canonical_perms(dn: ConvDimensionNumbers):
    """Permutations to the canonical layouts, and from the canonical output back."""
    lhs_spec, rhs_spec, out_spec = dn
    lhs_perm = (lhs_spec[0], *lhs_spec[2:], lhs_spec[1])
    rhs_perm = (*rhs_spec[2:], rhs_spec[1], rhs_spec[0])
    nd = len(out_spec)
    # Canonical output axis of each user output axis.
    canon_of_user = [0] * nd
    canon_of_user[out_spec[0]] = 0
    canon_of_user[out_spec[1]] = nd - 1
    for j, d in enumerate(out_spec[2:]):
        canon_of_user[d] = 1 + j
    return lhs_perm, rhs_perm, tuple(canon_of_user)


def _conv_shape(lhs_shape, rhs_shape, params):
    """Output shape of the canonical convolution, or an error message."""
    strides = params["window_strides"]
    padding = params["padding"]
    lhs_dil, rhs_dil = params["lhs_dilation"], params["rhs_dilation"]
    fgc, bgc = params["feature_group_count"], params["batch_group_count"]
    n = len(lhs_shape) - 2
    batch, *spatial, feat = lhs_shape
    *window, in_feat, out_feat = rhs_shape
    if fgc < 1 or bgc < 1:
        return None, f"feature_group_count and batch_group_count must be >= 1, got {fgc}, {bgc}"
    if fgc > 1 and bgc > 1:
        return None, (
            f"feature_group_count ({fgc}) and batch_group_count ({bgc}) cannot both exceed 1"
        )
    if feat != in_feat * fgc:
        return None, (
            f"the lhs feature size {feat} must equal the rhs input-feature size {in_feat} times "
            f"feature_group_count={fgc}"
        )
    if out_feat % fgc:
        return None, (
            f"the rhs output-feature size {out_feat} must be a multiple of "
            f"feature_group_count={fgc}"
        )
    if batch % bgc or out_feat % bgc:
        return None, (
            f"the lhs batch size {batch} and the rhs output-feature size {out_feat} must be "
            f"multiples of batch_group_count={bgc}"
        )
    for name, v in (
        ("window_strides", strides),
        ("padding", padding),
        ("lhs_dilation", lhs_dil),
        ("rhs_dilation", rhs_dil),
    ):
        if len(v) != n:
            return None, f"{name} has {len(v)} entries but there are {n} spatial dimensions"
    out_spatial = []
    for s, k, st, (lo, hi), ld, rd in zip(
        spatial, window, strides, padding, lhs_dil, rhs_dil, strict=True
    ):
        padded = lo + dilate_dim(s, ld) + hi
        out_spatial.append(window_out_dim(padded, dilate_dim(k, rd), st))
    return (batch // bgc, *out_spatial, out_feat), None


def _conv_abstract_eval(lhs, rhs, **params):
    if lhs.ndim != rhs.ndim or lhs.ndim < 2:
        raise TypeError(
            f"conv_general_dilated: lhs {lhs.str_short()} and rhs {rhs.str_short()} must have "
            "the same rank (at least 2)."
        )
    if lhs.dtype != rhs.dtype:
        raise TypeError(
            f"conv_general_dilated: lhs {lhs.str_short()} and rhs {rhs.str_short()} must have "
            "the same dtype; convert one with .astype(...)."
        )
    if lhs.dtype == np.bool_:
        raise TypeError(
            f"conv_general_dilated: bool operands are not supported ({lhs.str_short()})."
        )
    shape, problem = _conv_shape(lhs.shape, rhs.shape, params)
    if problem:
        raise ValueError(
            f"conv_general_dilated (canonical layout lhs {lhs.str_short()} = (N, *spatial, C), "
            f"rhs {rhs.str_short()} = (*window, I, O)): {problem}."
        )
    dtype = params["preferred_element_type"] or lhs.dtype
    return ShapedArray(shape, dtype, lhs.weak_type and rhs.weak_type)


_HALF_FLOATS = (np.dtype(_dtypes.float16), np.dtype(_dtypes.bfloat16))


def _compute_dtype(dtype):
    """Half-precision convolutions accumulate in float32."""
    dtype = np.dtype(dtype)
    return np.dtype(np.float32) if dtype in _HALF_FLOATS else dtype


def _conv_impl(lhs, rhs, **params):
    out_shape = _conv_abstract_eval(aval_of(lhs), aval_of(rhs), **params).shape
    x, w = val(lhs), val(rhs)
    out_dtype = np.dtype(params["preferred_element_type"] or x.dtype)
    is_weak = weak(lhs) and weak(rhs)
    if 0 in out_shape or 0 in w.shape[:-2]:
        return wrap(np.zeros(out_shape, out_dtype), is_weak)
    cdt = _compute_dtype(out_dtype if params["preferred_element_type"] else x.dtype)
    x = x.astype(cdt, copy=False)
    w = w.astype(cdt, copy=False)
    n = x.ndim - 2
    # Contiguous in the canonical layout, so that both strategies read the input features
    # (the last axis) sequentially; the transposes around the primitive and in its
    # transpose rules otherwise hand in strided views.
    x = np.ascontiguousarray(
        dilate_pad(x, tuple(range(1, n + 1)), params["lhs_dilation"], params["padding"], 0)
    )
    groups = params["feature_group_count"] * params["batch_group_count"]
    in_feat, out_feat = w.shape[-2], w.shape[-1]
    taps = int(np.prod(w.shape[:n], dtype=np.int64))
    n_out = int(np.prod(out_shape[:-1], dtype=np.int64))
    n_in = int(np.prod(x.shape[:-1], dtype=np.int64))
    # Memory traffic of each strategy, in elements: gathering windows copies taps * C per
    # output position; multiplying first reads the input once and writes taps * O per
    # input position. The second wins when there are fewer output than input features
    # (e.g. the input gradient of a first layer).
    with np.errstate(all="ignore"):
        if groups == 1 and n_in * (in_feat + taps * out_feat) < n_out * taps * in_feat:
            out = _conv_multiply_then_shift(x, w, out_shape, params)
        else:
            out = _conv_gather_windows(x, w, out_shape, params)
    return wrap(np.ascontiguousarray(out, dtype=out_dtype), is_weak)


def _conv_gather_windows(x, w, out_shape, params):
    """im2col: gather every window into one patch matrix, one matmul per group."""
    n = x.ndim - 2
    window = w.shape[:n]
    rhs_dil = params["rhs_dilation"]
    extent = tuple(dilate_dim(k, d) for k, d in zip(window, rhs_dil, strict=True))
    # (N, *positions, C, *extent) as a view, then subsample positions by the strides and
    # window elements by the dilation: (N, *out_spatial, C, *window), still a view.
    views = np.lib.stride_tricks.sliding_window_view(x, extent, axis=tuple(range(1, n + 1)))
    idx = (
        (slice(None),)
        + tuple(slice(None, None, st) for st in params["window_strides"])
        + (slice(None),)
        + tuple(slice(None, None, d) for d in rhs_dil)
    )
    views = views[idx]
    batch = x.shape[0]
    in_feat, out_feat = w.shape[-2], w.shape[-1]
    fgc, bgc = params["feature_group_count"], params["batch_group_count"]
    groups = fgc * bgc  # at most one of them exceeds 1
    out_sp = out_shape[1:-1]
    n_out = int(np.prod(out_sp, dtype=np.int64))
    k_size = int(np.prod(window, dtype=np.int64)) * in_feat
    og = out_feat // groups
    nb = batch // bgc
    # views: (bgc, nb, *out_sp, fgc, in_feat, *window) -> (groups, nb, *out_sp, *window, in_feat)
    views = views.reshape((bgc, nb, *out_sp, fgc, in_feat, *window))
    perm = (0, n + 2, 1, *range(2, n + 2), *range(n + 4, 2 * n + 4), n + 3)
    patches = np.transpose(views, perm).reshape(groups, nb * n_out, k_size)
    kernel = w.reshape((*window, in_feat, groups, og))
    kernel = np.transpose(kernel, (n + 1, *range(n), n, n + 2)).reshape(groups, k_size, og)
    if groups == 1:
        return (patches[0] @ kernel[0]).reshape(nb, *out_sp, og)
    out = np.matmul(patches, kernel)  # (groups, nb * n_out, og)
    out = out.reshape(groups, nb, *out_sp, og)
    return np.transpose(out, (*range(1, n + 2), 0, n + 2)).reshape(out_shape)


def _conv_multiply_then_shift(x, w, out_shape, params):
    """Multiply every input position by all kernel taps at once (one matmul on the input
    as it is), then add each tap's shifted, strided slice into the output."""
    n = x.ndim - 2
    window = w.shape[:n]
    in_feat, out_feat = w.shape[-2], w.shape[-1]
    taps = int(np.prod(window, dtype=np.int64))
    kernel = np.transpose(w.reshape(taps, in_feat, out_feat), (1, 0, 2))
    z = x.reshape(-1, in_feat) @ kernel.reshape(in_feat, taps * out_feat)
    # Taps first, so that each tap's slice below is a run of contiguous output rows.
    z = np.ascontiguousarray(np.transpose(z.reshape(-1, taps, out_feat), (1, 0, 2)))
    z = z.reshape((taps, *x.shape[:-1], out_feat))
    out = np.zeros(out_shape, z.dtype)
    out_sp = out_shape[1:-1]
    for t, offset in enumerate(np.ndindex(*window)):
        sl = tuple(
            slice(k * d, k * d + (m - 1) * st + 1, st)
            for k, d, m, st in zip(
                offset, params["rhs_dilation"], out_sp, params["window_strides"], strict=True
            )
        )
        out += z[(t, slice(None), *sl)]
    return out


def _bind(lhs, rhs, **params):
    return conv_general_dilated_p.bind(lhs, rhs, **params)


def _conv_jvp(primals, tangents, **params):
    lhs, rhs = primals
    t_lhs, t_rhs = tangents
    out = _bind(lhs, rhs, **params)
    if not is_inexact(aval_of(out).dtype):
        return out, Zero.like(out)
    t_out = Zero.like(out)
    if type(t_lhs) is not Zero:
        t_out = _bind(t_lhs, rhs, **params)
    if type(t_rhs) is not Zero:
        t2 = _bind(lhs, t_rhs, **params)
        t_out = t2 if type(t_out) is Zero else E.add(t_out, t2)
    return out, t_out


def _cast(x, dtype):
    return x if aval_of(x).dtype == dtype else E.convert_element_type(x, dtype)


def _split_axis(x, axis, parts):
    """Reshape ``axis`` of size ``parts * m`` into ``(parts, m)`` (parts major)."""
    shape = list(aval_of(x).shape)
    shape[axis : axis + 1] = [parts, shape[axis] // parts]
    return S.reshape(x, tuple(shape))


def _merge_axes(x, axis):
    """Merge ``axis`` and ``axis + 1`` into one (the first one major)."""
    shape = list(aval_of(x).shape)
    shape[axis : axis + 2] = [shape[axis] * shape[axis + 1]]
    return S.reshape(x, tuple(shape))


def _conv_transpose_lhs(g, rhs, lhs_aval, params):
    """Cotangent of the input: a convolution of the output cotangent ``g`` with the flipped
    kernel, input/output channels swapped, the forward strides as input dilation and the
    forward input dilation as strides. The padding makes every input position see exactly
    the output positions whose windows covered it."""
    n = lhs_aval.ndim - 2
    fgc, bgc = params["feature_group_count"], params["batch_group_count"]
    window = aval_of(rhs).shape[:n]
    in_spatial = lhs_aval.shape[1:-1]
    out_spatial = aval_of(g).shape[1:-1]
    kernel = _cast(rhs, aval_of(g).dtype)  # (*window, I, O)
    groups = max(fgc, bgc)
    if groups > 1:
        # (*K, I, G, O/G) -> (*K, O/G, G, I) -> (*K, O/G, G*I): group g maps its O/G output
        # channels back to its I input channels.
        kernel = _split_axis(kernel, n + 1, groups)
        kernel = S.transpose(kernel, (*range(n), n + 2, n + 1, n))
        kernel = _merge_axes(kernel, n + 1)
    else:
        kernel = S.transpose(kernel, (*range(n), n + 1, n))
    kernel = S.rev(kernel, tuple(range(n)))
    pads = []
    for s, k, y, st, (lo, _), ld, rd in zip(
        in_spatial,
        window,
        out_spatial,
        params["window_strides"],
        params["padding"],
        params["lhs_dilation"],
        params["rhs_dilation"],
        strict=True,
    ):
        extent = dilate_dim(k, rd)
        low = extent - 1 - lo
        high = (s - 1) * ld + extent - low - dilate_dim(y, st)
        pads.append((low, high))
    out = _bind(
        g,
        kernel,
        window_strides=tuple(params["lhs_dilation"]),
        padding=tuple(pads),
        lhs_dilation=tuple(params["window_strides"]),
        rhs_dilation=tuple(params["rhs_dilation"]),
        feature_group_count=groups,
        batch_group_count=1,
        preferred_element_type=None,
    )
    if bgc > 1:
        # (N/B, *S, B*C) -> (N/B, *S, B, C) -> (B, N/B, *S, C) -> (N, *S, C)
        out = _split_axis(out, n + 1, bgc)
        out = S.moveaxis(out, n + 1, 0)
        out = _merge_axes(out, 0)
    return _cast(out, lhs_aval.dtype)


def _conv_transpose_rhs(g, lhs, rhs_aval, params):
    """Cotangent of the kernel: a convolution of the input (batch and feature axes swapped)
    with the output cotangent used as the kernel; the forward strides become the kernel
    dilation and the forward kernel dilation the strides. Feature groups become batch
    groups and vice versa."""
    n = rhs_aval.ndim - 2
    fgc, bgc = params["feature_group_count"], params["batch_group_count"]
    nd = n + 2
    window = rhs_aval.shape[:n]
    in_spatial = aval_of(lhs).shape[1:-1]
    out_spatial = aval_of(g).shape[1:-1]
    lhs = _cast(lhs, aval_of(g).dtype)
    lhs_t = S.transpose(lhs, (nd - 1, *range(1, n + 1), 0))  # (C, *S, N)
    g_t = S.transpose(g, (*range(1, n + 1), 0, nd - 1))  # (*Y, N', O)
    pads = []
    for s, k, y, st, (lo, _), ld, rd in zip(
        in_spatial,
        window,
        out_spatial,
        params["window_strides"],
        params["padding"],
        params["lhs_dilation"],
        params["rhs_dilation"],
        strict=True,
    ):
        high = (k - 1) * rd + dilate_dim(y, st) - lo - dilate_dim(s, ld)
        pads.append((lo, high))
    out = _bind(
        lhs_t,
        g_t,
        window_strides=tuple(params["rhs_dilation"]),
        padding=tuple(pads),
        lhs_dilation=tuple(params["lhs_dilation"]),
        rhs_dilation=tuple(params["window_strides"]),
        feature_group_count=bgc,
        batch_group_count=fgc,
        preferred_element_type=None,
    )  # (I, *K, O)
    out = S.transpose(out, (*range(1, n + 1), 0, nd - 1))
    return _cast(out, rhs_aval.dtype)


def _conv_transpose(ct, lhs, rhs, **params):
    if is_undefined(lhs) and is_undefined(rhs):
        raise ValueError("conv_general_dilated is linear in one operand at a time.")
    res = [None, None]
    if is_undefined(lhs):
        if type(ct) is Zero or 0 in aval_of(ct).shape:
            res[0] = Zero(lhs.aval)
        else:
            res[0] = _conv_transpose_lhs(ct, rhs, lhs.aval, params)
    if is_undefined(rhs):
        if type(ct) is Zero or 0 in aval_of(ct).shape:
            res[1] = Zero(rhs.aval)
        else:
            res[1] = _conv_transpose_rhs(ct, lhs, rhs.aval, params)
    return res


def _conv_batch(vals, dims, **params):
    lhs, rhs = vals
    ld, rd = dims
    fgc, bgc = params["feature_group_count"], params["batch_group_count"]
    size = aval_of(lhs).shape[ld] if ld is not None else aval_of(rhs).shape[rd]
    nd = aval_of(lhs).ndim - (ld is not None)
    n = nd - 2
    p = dict(params)
    if size == 0:
        # An empty batch would make a zero group count: build the empty result directly.
        la, ra = aval_of(lhs), aval_of(rhs)
        l_shape = la.shape if ld is None else la.shape[:ld] + la.shape[ld + 1 :]
        r_shape = ra.shape if rd is None else ra.shape[:rd] + ra.shape[rd + 1 :]
        shape, problem = _conv_shape(l_shape, r_shape, params)
        if problem:
            raise ValueError(f"conv_general_dilated: {problem}.")
        dtype = params["preferred_element_type"] or la.dtype
        return S.full((0, *shape), 0, dtype), 0
    if ld is not None and rd is not None:
        lhs = S.moveaxis(lhs, ld, 0)  # (b, N, *S, C)
        rhs = S.moveaxis(rhs, rd, nd - 1)  # (*K, I, b, O)
        if bgc > 1:
            lhs = _merge_axes(lhs, 0)  # examples of lane j form batch groups j*B .. j*B+B-1
            p["batch_group_count"] = size * bgc
        else:
            lhs = _merge_axes(S.moveaxis(lhs, 0, nd - 1), nd - 1)  # (N, *S, b*C)
            p["feature_group_count"] = size * fgc
        out = _bind(lhs, _merge_axes(rhs, nd - 1), **p)
        return _split_axis(out, nd - 1, size), nd - 1
    if ld is not None:
        lhs = S.moveaxis(lhs, ld, 0)  # (b, N, *S, C)
        if bgc > 1:
            lhs = _split_axis(lhs, 1, bgc)  # (b, B, N/B, ...)
            lhs = S.transpose(lhs, (1, 0, *range(2, nd + 2)))
            lhs = _merge_axes(_merge_axes(lhs, 1), 0)
        else:
            lhs = _merge_axes(lhs, 0)
        out = _bind(lhs, rhs, **p)
        return _split_axis(out, 0, size), 0
    # Only the kernel is batched: fold the lanes into the output features, inside each group.
    groups = max(fgc, bgc)
    rhs = S.moveaxis(rhs, rd, nd - 1)  # (*K, I, b, O)
    rhs = _split_axis(rhs, nd, groups)  # (*K, I, b, G, O/G)
    rhs = S.transpose(rhs, (*range(n + 1), n + 2, n + 1, n + 3))  # (*K, I, G, b, O/G)
    rhs = _merge_axes(_merge_axes(rhs, n + 2), n + 1)
    out = _bind(lhs, rhs, **p)  # (N', *Y, G*b*O/G)
    out = _split_axis(_split_axis(out, nd - 1, groups), nd, size)  # (N', *Y, G, b, O/G)
    out = S.transpose(out, (*range(nd - 1), nd, nd - 1, nd + 1))  # (N', *Y, b, G, O/G)
    return _merge_axes(out, nd), nd - 1


conv_general_dilated_p = Primitive("conv_general_dilated")
conv_general_dilated_p.impl = _conv_impl
conv_general_dilated_p.abstract_eval = _conv_abstract_eval
conv_general_dilated_p.jvp = _conv_jvp
conv_general_dilated_p.transpose = _conv_transpose
conv_general_dilated_p.batch = _conv_batch
conv_general_dilated_p.linear = True


# --------------------------------------------------------------------------- public API


def _operand(x, name):
    from .._array import Array

    if isinstance(x, (Tracer, Array)):
        return x
    from ..numpy._util import asarray_any

    try:
        return asarray_any(x)
    except TypeError as e:
        raise TypeError(f"{name}: expected an array, got {type(x).__name__} ({e}).") from None


def conv_general_dilated(
    lhs,
    rhs,
    window_strides,
    padding,
    lhs_dilation=None,
    rhs_dilation=None,
    dimension_numbers=None,
    feature_group_count=1,
    batch_group_count=1,
    precision=None,
    preferred_element_type=None,
):
    """General n-dimensional convolution (a cross-correlation, as in deep learning).

    ``out[n, o, y] = sum_{i, k} lhs_padded[n, i, y * stride + k * rhs_dilation] * rhs[o, i, k]``
    for every spatial position ``y``, where ``lhs_padded`` is ``lhs`` with ``lhs_dilation - 1``
    zeros between its elements and then ``padding`` added (negative padding crops).

    Args:
        lhs: the input, rank ``n + 2`` (batch, feature and ``n`` spatial dimensions).
        rhs: the kernel, rank ``n + 2`` (output feature, input feature, ``n`` spatial).
        window_strides: ``n`` strides.
        padding: ``"SAME"``, ``"SAME_LOWER"``, ``"VALID"`` or ``n`` ``(low, high)`` pairs.
            String padding is computed from the dilated kernel; it cannot be combined with
            ``lhs_dilation`` (use :func:`conv_transpose` or explicit pairs).
        lhs_dilation: ``n`` input dilation factors (a transposed convolution), default 1.
        rhs_dilation: ``n`` kernel dilation factors (atrous convolution), default 1.
        dimension_numbers: the layout, see :func:`conv_dimension_numbers`; ``None`` means
            ``("NCHW", "OIHW", "NCHW")``-style.
        feature_group_count: split the input features into this many groups, each
            convolved with its slice of the kernel's output features (``feature_group_count
            == C`` is a depthwise convolution).
        batch_group_count: split the batch into this many groups, each with its slice of
            the kernel's output features (the kernel gradient of a grouped convolution).
        precision: accepted for compatibility; computation is in the operand precision
            (float16 and bfloat16 accumulate in float32).
        preferred_element_type: the output dtype (and accumulation dtype).

    Returns:
        The convolution, laid out as ``dimension_numbers``' output spec.

    Raises:
        ValueError: when shapes, groups or settings do not fit together; the message names
            them.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> x = dnp.arange(5.0).reshape(1, 5, 1)           # NWC
        >>> w = dnp.array([1.0, 0.0, -1.0]).reshape(3, 1, 1)  # WIO
        >>> lax.conv_general_dilated(x, w, (1,), "VALID", dimension_numbers=("NWC", "WIO", "NWC"))[0, :, 0]
        Array([-2., -2., -2.], dtype=float32)
    """
    del precision
    lhs = _operand(lhs, "conv_general_dilated lhs")
    rhs = _operand(rhs, "conv_general_dilated rhs")
    la, ra = aval_of(lhs), aval_of(rhs)
    dn = conv_dimension_numbers(la.shape, ra.shape, dimension_numbers)
    n = la.ndim - 2
    strides = check_int_seq("conv_general_dilated window_strides", window_strides, n)
    lhs_dil = check_int_seq("conv_general_dilated lhs_dilation", lhs_dilation, n)
    rhs_dil = check_int_seq("conv_general_dilated rhs_dilation", rhs_dilation, n)
    lhs_perm, rhs_perm, out_perm = _canonical_perms(dn)
    lhs_sp = tuple(la.shape[d] for d in dn.lhs_spec[2:])
    rhs_sp = tuple(ra.shape[d] for d in dn.rhs_spec[2:])
    if isinstance(padding, str):
        if padding.upper() not in PADDING_STRINGS:
            raise ValueError(
                f"conv_general_dilated padding: unknown string {padding!r}; use 'SAME', "
                "'SAME_LOWER', 'VALID' or a sequence of (low, high) pairs."
            )
        if any(d > 1 for d in lhs_dil):
            raise ValueError(
                "conv_general_dilated: string padding cannot be combined with lhs_dilation "
                f"{lhs_dil}; give explicit (low, high) pairs, or use lax.conv_transpose."
            )
        extent = [dilate_dim(k, d) for k, d in zip(rhs_sp, rhs_dil, strict=True)]
        pads = tuple(padtype_to_pads(lhs_sp, extent, strides, padding))
    else:
        pads = check_padding_pairs(padding, n, "conv_general_dilated padding")
    if la.dtype != ra.dtype:
        raise TypeError(
            f"conv_general_dilated: lhs {la.str_short()} and rhs {ra.str_short()} must have the "
            "same dtype; convert one with .astype(...)."
        )
    fgc, bgc = int(feature_group_count), int(batch_group_count)
    lhs_feat, rhs_in = la.shape[dn.lhs_spec[1]], ra.shape[dn.rhs_spec[1]]
    if fgc < 1 or lhs_feat != rhs_in * fgc:
        raise ValueError(
            f"conv_general_dilated: the lhs feature dimension (size {lhs_feat}, lhs shape "
            f"{la.shape}) must equal the rhs input-feature dimension (size {rhs_in}, rhs shape "
            f"{ra.shape}) times feature_group_count={fgc}. Check dimension_numbers "
            f"({dimension_numbers!r}) and the kernel layout."
        )
    params = dict(
        window_strides=strides,
        padding=pads,
        lhs_dilation=lhs_dil,
        rhs_dilation=rhs_dil,
        feature_group_count=fgc,
        batch_group_count=bgc,
        preferred_element_type=None
        if preferred_element_type is None
        else np.dtype(preferred_element_type),
    )
    out = _bind(S.transpose(lhs, lhs_perm), S.transpose(rhs, rhs_perm), **params)
    return S.transpose(out, out_perm)


def conv(lhs, rhs, window_strides, padding, precision=None, preferred_element_type=None):
    """Convolution in the ``NCHW``/``OIHW`` layout without dilation or groups.

    Args:
        lhs: input ``(N, C, *spatial)``.
        rhs: kernel ``(O, C, *window)``.
        window_strides: one stride per spatial dimension.
        padding: ``"SAME"``, ``"SAME_LOWER"``, ``"VALID"`` or ``(low, high)`` pairs.
        precision: accepted for compatibility.
        preferred_element_type: the output dtype.

    Returns:
        ``(N, O, *out_spatial)``.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> lax.conv(dnp.ones((1, 1, 4, 4)), dnp.ones((1, 1, 2, 2)), (2, 2), "VALID")
        Array([[[[4., 4.],
                 [4., 4.]]]], dtype=float32)
    """
    return conv_general_dilated(
        lhs,
        rhs,
        window_strides,
        padding,
        precision=precision,
        preferred_element_type=preferred_element_type,
    )


def _conv_transpose_padding(k, s, padding):
    """Padding of the dilated input for a transposed convolution with a string mode."""
    if padding == "SAME":
        total = k + s - 2
        low = k - 1 if s > k - 1 else -(-total // 2)
    else:  # VALID
        total = k + s - 2 + max(k - s, 0)
        low = k - 1
    return low, total - low


def conv_transpose(
    lhs,
    rhs,
    strides,
    padding,
    rhs_dilation=None,
    dimension_numbers=None,
    transpose_kernel=False,
    precision=None,
    preferred_element_type=None,
):
    """Transposed convolution ("deconvolution"): upsample by ``strides`` and convolve.

    It is ``conv_general_dilated`` with ``lhs_dilation=strides`` and unit window strides.
    With ``padding="SAME"`` each spatial size is multiplied by its stride; with ``"VALID"``
    it becomes ``in * stride + max(window - stride, 0)``. With ``transpose_kernel=True``
    the kernel is flipped spatially and its input/output feature axes are swapped, which
    makes this the exact gradient of ``conv_general_dilated`` with the same kernel.

    Args:
        lhs: the input, rank ``n + 2``.
        rhs: the kernel, rank ``n + 2``.
        strides: ``n`` upsampling factors.
        padding: ``"SAME"``, ``"VALID"`` or ``n`` explicit ``(low, high)`` pairs applied to
            the dilated input.
        rhs_dilation: ``n`` kernel dilation factors, default 1.
        dimension_numbers: as for :func:`conv_general_dilated`; the default is channels
            last (``("NHWC", "HWIO", "NHWC")`` and its 1-D/3-D analogues).
        transpose_kernel: flip the kernel and swap its feature axes.
        precision: accepted for compatibility.
        preferred_element_type: the output dtype.

    Returns:
        The upsampled convolution.

    Raises:
        ValueError: for an unknown padding string.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> x = dnp.ones((1, 2, 1))          # NWC
        >>> w = dnp.ones((2, 1, 1))          # WIO
        >>> lax.conv_transpose(x, w, (2,), "SAME")[0, :, 0]
        Array([1., 1., 1., 1.], dtype=float32)
    """
    lhs = _operand(lhs, "conv_transpose lhs")
    rhs = _operand(rhs, "conv_transpose rhs")
    la, ra = aval_of(lhs), aval_of(rhs)
    nd = la.ndim
    if ra.ndim != nd or nd < 2:
        raise ValueError(
            f"conv_transpose: lhs shape {la.shape} and rhs shape {ra.shape} must have the same "
            "rank, at least 2."
        )
    if dimension_numbers is None:
        letters = "HWDEFGJKLMPQRSTUVXYZ"[: nd - 2]
        dimension_numbers = (f"N{letters}C", f"{letters}IO", f"N{letters}C")
    dn = conv_dimension_numbers(la.shape, ra.shape, dimension_numbers)
    n = nd - 2
    strides = check_int_seq("conv_transpose strides", strides, n)
    rhs_dil = check_int_seq("conv_transpose rhs_dilation", rhs_dilation, n)
    window = [ra.shape[d] for d in dn.rhs_spec[2:]]
    if isinstance(padding, str):
        mode = padding.upper()
        if mode not in ("SAME", "VALID"):
            raise ValueError(
                f"conv_transpose padding: expected 'SAME', 'VALID' or (low, high) pairs, got "
                f"{padding!r}."
            )
        pads = tuple(
            _conv_transpose_padding(dilate_dim(k, d), s, mode)
            for k, d, s in zip(window, rhs_dil, strides, strict=True)
        )
    else:
        pads = check_padding_pairs(padding, n, "conv_transpose padding")
    if transpose_kernel:
        rhs = S.rev(rhs, tuple(dn.rhs_spec[2:]))
        perm = list(range(nd))
        o, i = dn.rhs_spec[0], dn.rhs_spec[1]
        perm[o], perm[i] = perm[i], perm[o]
        rhs = S.transpose(rhs, tuple(perm))
    return conv_general_dilated(
        lhs,
        rhs,
        (1,) * n,
        pads,
        lhs_dilation=strides,
        rhs_dilation=rhs_dil,
        dimension_numbers=dn,
        precision=precision,
        preferred_element_type=preferred_element_type,
    )
