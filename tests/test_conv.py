"""Convolutions and windowed reductions: ``lax.conv_general_dilated``, ``lax.conv_transpose``
and ``lax.reduce_window`` (max, min, sum) with their derivatives.

Every case is a row run through the shared harness: value and dtype against a NumPy
reference written here with a different algorithm (direct loops over window offsets, or
scattering each input element for transposed convolutions), eager vs ``jit``, ``vmap`` vs a
loop (each operand mapped alone and both together), and numerical gradients in forward
and reverse mode to second order. The primitives ``select_and_gather_add`` and
``select_and_scatter_add`` (the max-pool derivative) have rows too. Oracle tests compare
with JAX on identical inputs.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import sys
import zlib
from collections.abc import Callable

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

import derivax as dx  # noqa: E402
import derivax.lax as lax  # noqa: E402
import derivax.numpy as dnp  # noqa: E402
from harness import (  # noqa: E402
    F16,
    F32,
    check_against_numpy,
    check_batching,
    check_grads,
    check_jit,
    is_float,
    rand_default,
    rand_distinct,
    x64_context,
)

I32 = np.dtype(np.int32)

# --------------------------------------------------------------------------- NumPy references


def _spec_perm(spec, special):
    """Axis indices (first two special letters, then the spatial letters in order)."""
    return [spec.index(c) for c in special] + [i for i, c in enumerate(spec) if c not in special]


def _dilate(x, axes, factors):
    for ax, f in zip(axes, factors, strict=True):
        if f == 1 or x.shape[ax] == 0:
            continue
        shape = list(x.shape)
        shape[ax] = (x.shape[ax] - 1) * f + 1
        out = np.zeros(shape, x.dtype)
        idx = [slice(None)] * x.ndim
        idx[ax] = slice(None, None, f)
        out[tuple(idx)] = x
        x = out
    return x


def _pad(x, axes, pads):
    for ax, (lo, hi) in zip(axes, pads, strict=True):
        widths = [(0, 0)] * x.ndim
        widths[ax] = (max(lo, 0), max(hi, 0))
        x = np.pad(x, widths)
        idx = [slice(None)] * x.ndim
        idx[ax] = slice(max(-lo, 0), x.shape[ax] - max(-hi, 0))
        x = x[tuple(idx)]
    return x


def conv_reference(lhs, rhs, strides, pads, lhs_dil, rhs_dil, specs, fgc=1, bgc=1):
    """Convolution by summing, for every kernel offset, a strided slice of the input times
    that kernel tap (no windows are materialised). ``specs`` are strings like ``"NHWC"``."""
    lhs_s, rhs_s, out_s = specs
    x = np.transpose(lhs.astype(np.float64), _spec_perm(lhs_s, "NC"))  # (N, C, *S)
    spatial = [c for c in lhs_s if c not in "NC"]
    w = np.transpose(
        rhs.astype(np.float64),
        [rhs_s.index("O"), rhs_s.index("I")] + [rhs_s.index(c) for c in spatial],
    )  # (O, I, *K), spatial in the lhs string's order
    n = x.ndim - 2
    sp = list(range(2, n + 2))
    x = _pad(_dilate(x, sp, lhs_dil), sp, pads)
    window = w.shape[2:]
    extent = [(k - 1) * d + 1 for k, d in zip(window, rhs_dil, strict=True)]
    out_sp = [
        max(0, (s - e) // st + 1) for s, e, st in zip(x.shape[2:], extent, strides, strict=True)
    ]
    n_b, c = x.shape[:2]
    o, i = w.shape[:2]
    nb, og = n_b // bgc, o // max(fgc, bgc)
    out = np.zeros((nb, o, *out_sp))
    for offset in itertools.product(*(range(k) for k in window)):
        sl = tuple(
            slice(k * d, k * d + (m - 1) * st + 1, st)
            for k, d, m, st in zip(offset, rhs_dil, out_sp, strides, strict=True)
        )
        xs = x[(slice(None), slice(None), *sl)]  # (N, C, *out_sp)
        tap = w[(slice(None), slice(None), *offset)]  # (O, I)
        for g in range(max(fgc, bgc)):
            ob = slice(g * og, (g + 1) * og)
            if bgc > 1:
                part = xs[g * nb : (g + 1) * nb]
            else:
                part = xs[:, g * i : (g + 1) * i]
            out[:, ob] += np.einsum("nc...,oc->no...", part, tap[ob])
    # (N', O, *spatial in lhs order) -> the out string's layout
    cur = "NC" + "".join(spatial)
    return np.transpose(out, [cur.index(ch) for ch in out_s])


def conv_transpose_reference(x, w, strides, padding, transpose_kernel):
    """NWC / WIO transposed convolution by scattering every input element times the kernel
    (flipped unless ``transpose_kernel``, which flips it back), then cropping as JAX's
    padding rule does (``SAME``: size ``in * stride``; ``VALID``: ``in * stride +
    max(window - stride, 0)``)."""
    x = x.astype(np.float64)
    w = w.astype(np.float64)
    if transpose_kernel:
        w = np.flip(w, axis=tuple(range(w.ndim - 2))).swapaxes(-1, -2)
    n = x.ndim - 2
    window = w.shape[:n]
    full = [(s - 1) * st + k for s, st, k in zip(x.shape[1:-1], strides, window, strict=True)]
    scat = np.zeros((x.shape[0], *full, w.shape[-1]))
    wf = np.flip(w, axis=tuple(range(n)))
    for pos in itertools.product(*(range(s) for s in x.shape[1:-1])):
        start = [p * st for p, st in zip(pos, strides, strict=True)]
        sl = tuple(slice(a, a + k) for a, k in zip(start, window, strict=True))
        scat[(slice(None), *sl, slice(None))] += np.einsum(
            "ni,...io->n...o", x[(slice(None), *pos, slice(None))], wf
        )
    out = scat
    for d, (s, st, k) in enumerate(zip(x.shape[1:-1], strides, window, strict=True)):
        if padding == "SAME":
            length = s * st
            low = k - 1 if st > k - 1 else -(-(k + st - 2) // 2)
        else:
            length = s * st + max(k - st, 0)
            low = k - 1
        crop = k - 1 - low
        ax = d + 1
        avail = out.shape[ax] - crop
        take = [slice(None)] * out.ndim
        take[ax] = slice(crop, crop + min(length, avail))
        out = out[tuple(take)]
        if out.shape[ax] < length:
            widths = [(0, 0)] * out.ndim
            widths[ax] = (0, length - out.shape[ax])
            out = np.pad(out, widths)
    return out


def reduce_window_reference(x, kind, window, strides, pads, base_dil, win_dil):
    """Windowed reduction by looping over output positions (padding is skipped)."""
    ident = {"max": -np.inf, "min": np.inf, "sum": 0.0}[kind]
    op = {"max": np.maximum, "min": np.minimum, "sum": np.add}[kind]
    xf = x.astype(np.float64)
    axes = list(range(x.ndim))
    xd = _dilate(xf, axes, base_dil)
    valid = _dilate(np.ones(x.shape, bool), axes, base_dil)
    xp, vp = _pad(xd, axes, pads), _pad(valid, axes, pads)
    extent = [(k - 1) * d + 1 for k, d in zip(window, win_dil, strict=True)]
    out_shape = [
        max(0, (s - e) // st + 1) for s, e, st in zip(xp.shape, extent, strides, strict=True)
    ]
    out = np.full(out_shape, ident)
    for pos in itertools.product(*(range(m) for m in out_shape)):
        for off in itertools.product(*(range(k) for k in window)):
            idx = tuple(
                p * st + o * d for p, st, o, d in zip(pos, strides, off, win_dil, strict=True)
            )
            if vp[idx]:
                out[pos] = op(out[pos], xp[idx])
    return out


# --------------------------------------------------------------------------- the table


@dataclasses.dataclass(frozen=True)
class Row:
    """One case. ``args(rng, dtype)`` returns NumPy arrays; ``ref`` is the NumPy reference."""

    id: str
    fun: Callable
    args: Callable
    ref: Callable
    dtypes: tuple = (F32,)
    order: int = 2
    modes: tuple = ("fwd", "rev")
    batch: bool = True
    tol: float | None = None


ROWS: list[Row] = []


def _normal(*shapes, scale=1.0):
    return lambda rng, dt: tuple(rand_default(rng, scale)(s, dt) for s in shapes)


def _conv_row(
    id, lhs_shape, rhs_shape, specs, strides, padding, lhs_dil=None, rhs_dil=None, fgc=1, bgc=1,
    pads=None, **kw,
):  # fmt: skip
    n = len(lhs_shape) - 2

    def fun(x, w):
        return lax.conv_general_dilated(
            x, w, strides, padding, lhs_dil, rhs_dil, specs, feature_group_count=fgc,
            batch_group_count=bgc,
        )  # fmt: skip

    explicit = pads if pads is not None else padding
    if explicit == "VALID":
        explicit = ((0, 0),) * n

    # dimension_numbers=None means batch and feature first: ("NCW", "OIW", "NCW") in 1-D.
    ref_specs = specs or ("NC" + "HWD"[:n], "OI" + "HWD"[:n], "NC" + "HWD"[:n])

    def ref(x, w):
        return conv_reference(
            x, w, strides, explicit, lhs_dil or (1,) * n, rhs_dil or (1,) * n, ref_specs, fgc, bgc
        )

    ROWS.append(Row(id, fun, _normal(lhs_shape, rhs_shape), ref, **kw))


_conv_row("conv1d_nwc_valid", (2, 7, 3), (3, 3, 4), ("NWC", "WIO", "NWC"), (1,), "VALID",
          dtypes=(F32, F16, I32))  # fmt: skip
_conv_row("conv2d_nhwc_same", (2, 5, 4, 3), (3, 2, 3, 2), ("NHWC", "HWIO", "NHWC"), (1, 1),
          "SAME", pads=((1, 1), (0, 1)))  # fmt: skip
_conv_row("conv2d_nchw_strided", (2, 3, 6, 5), (4, 3, 3, 2), ("NCHW", "OIHW", "NCHW"), (2, 2),
          "SAME", pads=((0, 1), (0, 1)))  # fmt: skip
_conv_row("conv2d_rhs_dilation_explicit_pad", (1, 7, 6, 2), (2, 2, 2, 3),
          ("NHWC", "HWIO", "NHWC"), (1, 2), ((2, 1), (0, -1)), rhs_dil=(2, 1))  # fmt: skip
_conv_row("conv2d_lhs_dilation", (2, 4, 3, 2), (3, 2, 2, 2), ("NHWC", "HWIO", "NHWC"), (1, 1),
          ((2, 2), (1, 0)), lhs_dil=(2, 3))  # fmt: skip
_conv_row("conv2d_feature_groups", (2, 5, 4, 4), (3, 3, 2, 6), ("NHWC", "HWIO", "NHWC"), (1, 2),
          ((1, 1), (1, 0)), fgc=2)  # fmt: skip
_conv_row("conv2d_depthwise", (1, 5, 5, 3), (2, 2, 1, 6), ("NHWC", "HWIO", "NHWC"), (1, 1),
          "VALID", fgc=3)  # fmt: skip
_conv_row("conv2d_batch_groups", (4, 5, 4, 3), (2, 2, 3, 4), ("NHWC", "HWIO", "NHWC"), (2, 1),
          "VALID", bgc=2)  # fmt: skip
_conv_row("conv2d_mixed_layouts", (2, 5, 3, 4), (2, 4, 2, 2), ("NHWC", "OIHW", "NCHW"), (1, 1),
          ((0, 1), (1, 1)), rhs_dil=(1, 2))  # fmt: skip
# More input than output features: the implementation multiplies first and then shifts.
_conv_row("conv2d_many_in_few_out", (2, 6, 7, 8), (3, 2, 8, 1), ("NHWC", "HWIO", "NHWC"),
          (1, 1), ((1, 1), (2, 0)), rhs_dil=(1, 2))  # fmt: skip
_conv_row("conv3d_ndhwc", (1, 4, 3, 3, 2), (2, 2, 2, 2, 2), ("NDHWC", "DHWIO", "NDHWC"),
          (1, 2, 1), "VALID", order=1)  # fmt: skip
_conv_row("conv1d_default_layout", (2, 3, 6), (4, 3, 2), None, (2,), ((1, 0),))


def _conv_transpose_row(id, x_shape, w_shape, strides, padding, transpose_kernel=False, **kw):
    def fun(x, w):
        return lax.conv_transpose(x, w, strides, padding, transpose_kernel=transpose_kernel)

    def ref(x, w):
        return conv_transpose_reference(x, w, strides, padding, transpose_kernel)

    ROWS.append(Row(id, fun, _normal(x_shape, w_shape), ref, **kw))


_conv_transpose_row("conv_transpose1d_same", (2, 3, 2), (3, 2, 3), (2,), "SAME")
_conv_transpose_row("conv_transpose1d_valid_small_kernel", (1, 3, 2), (2, 2, 2), (3,), "VALID")
_conv_transpose_row("conv_transpose2d_same_transposed_kernel", (1, 3, 2, 2), (3, 2, 3, 2),
                    (2, 2), "SAME", transpose_kernel=True)  # fmt: skip
_conv_transpose_row("conv_transpose2d_valid", (2, 2, 3, 1), (3, 3, 1, 2), (2, 1), "VALID")


def _window_row(id, kind, shape, window, strides, padding, base_dil=None, win_dil=None, **kw):
    nd = len(shape)
    base = base_dil or (1,) * nd
    wdil = win_dil or (1,) * nd
    computation = {"max": lax.max, "min": lax.min, "sum": lax.add}[kind]
    init = {"max": -np.inf, "min": np.inf, "sum": 0.0}[kind]

    def fun(x):
        return lax.reduce_window(x, init, computation, window, strides, padding, base_dil, win_dil)

    pads = padding

    def ref(x):
        return reduce_window_reference(x, kind, window, strides, pads, base, wdil)

    gen = (lambda rng, dt: (rand_distinct(rng)(shape, dt),)) if kind != "sum" else _normal(shape)
    ROWS.append(Row(id, fun, gen, ref, **kw))


for _kind in ("max", "min", "sum"):
    _window_row(f"reduce_window_{_kind}_pool2x2", _kind, (2, 4, 5, 2), (1, 2, 2, 1),
                (1, 2, 2, 1), ((0, 0), (0, 0), (0, 1), (0, 0)))  # fmt: skip
    _window_row(f"reduce_window_{_kind}_overlapping_padded", _kind, (5, 6), (3, 2), (1, 2),
                ((1, 1), (0, 1)))  # fmt: skip
    _window_row(f"reduce_window_{_kind}_dilated", _kind, (6, 5), (2, 2), (2, 1),
                ((1, 0), (1, 1)), base_dil=(1, 2), win_dil=(2, 1))  # fmt: skip
_window_row("reduce_window_max_int", "max", (3, 5), (2, 2), (1, 2), ((0, 0), (1, 0)),
            dtypes=(I32,), order=0)  # fmt: skip
_window_row("reduce_window_sum_f16", "sum", (3, 5), (2, 3), (1, 1), ((0, 0), (1, 1)),
            dtypes=(F16,), order=0)  # fmt: skip


def _max_pool(x):
    return lax.reduce_window_max(x, (2, 2), (1, 2), ((0, 1), (1, 0)))


def _max_pool_ref(x):
    return reduce_window_reference(x, "max", (2, 2), (1, 2), ((0, 1), (1, 0)), (1, 1), (1, 1))


def _gather_row(x, t):
    # The jvp of a max window binds select_and_gather_add(t, x): t at each window's argmax.
    return dx.jvp(_max_pool, (x,), (t,))[1]


def _gather_ref(x, t):
    out = np.zeros(_max_pool_ref(x).shape)
    xp = _pad(x.astype(np.float64), [0, 1], ((0, 1), (1, 0)))
    tp = _pad(t.astype(np.float64), [0, 1], ((0, 1), (1, 0)))
    xp[_pad(np.ones(x.shape, bool), [0, 1], ((0, 1), (1, 0))) == 0] = -np.inf
    for i, j in itertools.product(*(range(m) for m in out.shape)):
        win = xp[i : i + 2, 2 * j : 2 * j + 2]
        a, b = np.unravel_index(np.argmax(win), win.shape)  # first maximum, row-major
        out[i, j] = tp[i + a, 2 * j + b]
    return out


def _scatter_row(x, ct):
    # The vjp of a max window binds select_and_scatter_add(ct, x).
    return dx.vjp(_max_pool, x)[1](ct)[0]


def _scatter_ref(x, ct):
    # The adjoint of _gather_ref: <gather(t), ct> = <t, scatter(ct)> for every t.
    out = np.zeros(x.shape)
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = 1.0
        out.flat[k] = np.sum(_gather_ref(x, e.reshape(x.shape)) * ct)
    return out


ROWS.append(
    Row(
        "select_and_gather_add",
        _gather_row,
        lambda rng, dt: (rand_distinct(rng)((4, 5), dt), rand_default(rng)((4, 5), dt)),
        _gather_ref,
    )  # fmt: skip
)
ROWS.append(
    Row(
        "select_and_scatter_add",
        _scatter_row,
        lambda rng, dt: (rand_distinct(rng)((4, 5), dt), rand_default(rng)((4, 3), dt)),
        _scatter_ref,
    )  # fmt: skip
)


# --------------------------------------------------------------------------- expansion


def _rng(r, dt, salt=""):
    return np.random.default_rng(zlib.crc32(f"{r.id}/{dt.name}/{salt}".encode()))


def _cases():
    return [pytest.param(r, dt, id=f"{r.id}-{dt.name}") for r in ROWS for dt in r.dtypes]


@pytest.mark.parametrize("r,dt", _cases())
def test_against_numpy(r, dt):
    tol = r.tol if r.tol is not None else (2e-2 if dt == F16 else 1e-5)
    with x64_context(dt):
        args = r.args(_rng(r, dt), dt)
        check_against_numpy(r.fun, r.ref, args, dtype=dt, rtol=tol, atol=tol)


@pytest.mark.parametrize("r,dt", [c for c in _cases() if c.values[1] == F32])
def test_jit(r, dt):
    check_jit(r.fun, r.args(_rng(r, dt), dt), atol=1e-5, rtol=1e-5)


def _batch_cases():
    cases = []
    for r in ROWS:
        if not r.batch:
            continue
        nargs = len(r.args(_rng(r, F32), r.dtypes[0]))
        variants = [("all", (0,) * nargs)]
        if nargs > 1:
            variants += [
                (f"only{k}", tuple(0 if i == k else None for i in range(nargs)))
                for k in range(nargs)
            ]
        dt = r.dtypes[0]
        cases += [pytest.param(r, dt, axes, id=f"{r.id}-{label}") for label, axes in variants]
    return cases


@pytest.mark.parametrize("r,dt,in_axes", _batch_cases())
def test_vmap(r, dt, in_axes):
    rng = _rng(r, dt, "vmap")
    examples = [r.args(rng, dt) for _ in range(2)]
    args = [
        np.stack([ex[k] for ex in examples]) if ax == 0 else examples[0][k]
        for k, ax in enumerate(in_axes)
    ]
    check_batching(r.fun, args, in_axes=in_axes, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("r", [pytest.param(r, id=r.id) for r in ROWS if r.order])
def test_grads(r):
    dt = next(d for d in r.dtypes if is_float(d))
    check_grads(r.fun, r.args(_rng(r, dt, "grad"), dt), order=r.order, modes=r.modes)


# --------------------------------------------------------------------------- specific behaviour


def test_max_pool_gradient_goes_to_the_first_maximum_of_each_window():
    x = np.ones((4, 4), np.float32)
    g = dx.grad(lambda x: dnp.sum(lax.reduce_window_max(x, (3, 3), (1, 1), "VALID")))(x)
    expected = np.zeros((4, 4), np.float32)
    expected[:2, :2] = 1.0  # each of the 4 windows picks its top-left element
    np.testing.assert_array_equal(np.asarray(g), expected)


def test_max_pool_gradient_is_zero_for_windows_made_of_padding():
    x = np.array([3.0, 1.0], np.float32)
    out = lax.reduce_window_max(x, (1,), (1,), ((1, 1),))
    np.testing.assert_array_equal(np.asarray(out), [-np.inf, 3.0, 1.0, -np.inf])
    g = dx.grad(lambda x: dnp.sum(lax.reduce_window_max(x, (2,), (1,), ((1, 1),))))(x)
    np.testing.assert_array_equal(np.asarray(g), [2.0, 1.0])


def test_reduce_window_with_a_non_identity_init_value():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], np.float32)
    # Padding takes no part; the init value enters every window once.
    out = lax.reduce_window(x, 1.0, lax.add, (3,), (2,), ((0, 1),))
    np.testing.assert_allclose(np.asarray(out), [7.0, 13.0, 12.0])
    out = lax.reduce_window(x, 4.5, lax.max, (2,), (2,), "VALID")
    np.testing.assert_allclose(np.asarray(out), [4.5, 4.5, 6.0])


def test_reduce_window_accepts_numpy_style_computations():
    x = np.arange(6.0, dtype=np.float32)
    a = lax.reduce_window(x, -np.inf, dnp.maximum, (2,), (2,), "VALID")
    np.testing.assert_array_equal(np.asarray(a), [1.0, 3.0, 5.0])


def test_conv_matches_its_transposes_as_linear_maps():
    # <conv(x, w), g> = <x, conv_lhs_T(g, w)> = <w, conv_rhs_T(x, g)>, checked directly on
    # the cotangents reverse mode produces, for a strided, dilated, grouped convolution.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 7, 6, 4)).astype(np.float32)
    w = rng.normal(size=(3, 2, 2, 6)).astype(np.float32)

    def f(x, w):
        return lax.conv_general_dilated(
            x, w, (2, 1), ((1, 2), (0, 1)), (1, 2), (2, 1), ("NHWC", "HWIO", "NHWC"), 2
        )

    y, pullback = dx.vjp(f, x, w)
    g = rng.normal(size=y.shape).astype(np.float32)
    gx, gw = pullback(dnp.asarray(g))
    lhs = float(np.sum(np.asarray(y, np.float64) * g))
    np.testing.assert_allclose(float(np.sum(np.asarray(gx, np.float64) * x)), lhs, rtol=1e-4)
    np.testing.assert_allclose(float(np.sum(np.asarray(gw, np.float64) * w)), lhs, rtol=1e-4)


def test_conv_transpose_with_transposed_kernel_is_the_gradient_of_conv():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1, 6, 6, 2)).astype(np.float32)
    w = rng.normal(size=(3, 3, 2, 5)).astype(np.float32)
    dn = ("NHWC", "HWIO", "NHWC")
    y, pullback = dx.vjp(
        lambda x: lax.conv_general_dilated(x, w, (2, 2), "SAME", None, None, dn), x
    )
    g = rng.normal(size=y.shape).astype(np.float32)
    (gx,) = pullback(dnp.asarray(g))
    # The kernel maps 2 -> 5 features; transposed, it maps 5 -> 2.
    t = lax.conv_transpose(g, w, (2, 2), "SAME", dimension_numbers=dn, transpose_kernel=True)
    np.testing.assert_allclose(np.asarray(t), np.asarray(gx), rtol=1e-5, atol=1e-5)


def test_conv_on_cnn_sizes_agrees_with_the_reference():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(8, 12, 12, 3)).astype(np.float32)
    w = rng.normal(size=(3, 3, 3, 16)).astype(np.float32)
    dn = ("NHWC", "HWIO", "NHWC")
    out = lax.conv_general_dilated(x, w, (1, 1), "VALID", dimension_numbers=dn)
    ref = conv_reference(x, w, (1, 1), ((0, 0), (0, 0)), (1, 1), (1, 1), dn)
    np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("seed", range(6))
def test_conv_strategies_agree_with_the_reference(seed):
    # The implementation gathers windows (im2col) or multiplies first and shifts, whichever
    # moves less memory; force each one on random strided, dilated, padded problems.
    from derivax.lax import _conv

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3))
    spatial = tuple(int(s) for s in rng.integers(3, 7, n))
    window = tuple(int(k) for k in rng.integers(1, 4, n))
    c, o = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    strides = tuple(int(s) for s in rng.integers(1, 3, n))
    rhs_dil = tuple(int(d) for d in rng.integers(1, 3, n))
    pads = tuple((int(lo), int(hi)) for lo, hi in rng.integers(0, 3, (n, 2)))
    x = rng.normal(size=(2, *spatial, c)).astype(np.float32)
    w = rng.normal(size=(*window, c, o)).astype(np.float32)
    params = dict(window_strides=strides, padding=pads, lhs_dilation=(1,) * n,
                  rhs_dilation=rhs_dil, feature_group_count=1, batch_group_count=1,
                  preferred_element_type=None)  # fmt: skip
    letters = "HW"[:n]
    specs = (f"N{letters}C", f"{letters}IO", f"N{letters}C")
    ref = conv_reference(x, w, strides, pads, (1,) * n, rhs_dil, specs)
    xp = _pad(x, list(range(1, n + 1)), pads)
    for strategy in (_conv._conv_gather_windows, _conv._conv_multiply_then_shift):
        out = strategy(xp, w, ref.shape, params)
        np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5, err_msg=strategy.__name__)


def test_conv_accepts_conv_dimension_numbers_and_numpy_inputs():
    x = np.ones((1, 4, 4, 1), np.float32)
    w = np.ones((2, 2, 1, 1), np.float32)
    dn = lax.conv_dimension_numbers(x.shape, w.shape, ("NHWC", "HWIO", "NHWC"))
    assert dn == lax.ConvDimensionNumbers((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))
    out = lax.conv_general_dilated(x, w, (2, 2), "VALID", dimension_numbers=dn)
    np.testing.assert_array_equal(np.asarray(out), np.full((1, 2, 2, 1), 4.0, np.float32))
    out = lax.conv(np.ones((1, 1, 3), np.float32), np.ones((1, 1, 2), np.float32), (1,), "VALID")
    np.testing.assert_array_equal(np.asarray(out), [[[2.0, 2.0]]])


def test_conv_preferred_element_type_and_int_inputs():
    x = np.arange(6, dtype=np.int32).reshape(1, 6, 1)
    w = np.array([1, -1], np.int32).reshape(2, 1, 1)
    out = lax.conv_general_dilated(x, w, (1,), "VALID", dimension_numbers=("NWC", "WIO", "NWC"))
    assert out.dtype == np.int32
    np.testing.assert_array_equal(np.asarray(out)[0, :, 0], [-1] * 5)
    xf = x.astype(np.float16)
    out = lax.conv_general_dilated(
        xf, w.astype(np.float16), (1,), "VALID", dimension_numbers=("NWC", "WIO", "NWC"),
        preferred_element_type=np.float32,
    )  # fmt: skip
    assert out.dtype == np.float32
    g = dx.grad(
        lambda x: dnp.sum(
            lax.conv_general_dilated(
                x,
                w.astype(np.float16),
                (1,),
                "VALID",
                dimension_numbers=("NWC", "WIO", "NWC"),
                preferred_element_type=np.float32,
            )  # fmt: skip
        )
    )(xf)
    assert g.dtype == np.float16
    np.testing.assert_array_equal(np.asarray(g)[0, :, 0], [1, 0, 0, 0, 0, -1])


def test_conv_with_empty_batch_and_empty_output():
    w = np.ones((3, 2, 4), np.float32)
    out = lax.conv_general_dilated(np.ones((0, 5, 2), np.float32), w, (1,), "VALID",
                                   dimension_numbers=("NWC", "WIO", "NWC"))  # fmt: skip
    assert out.shape == (0, 3, 4)
    out = lax.conv_general_dilated(np.ones((2, 2, 2), np.float32), w, (1,), "VALID",
                                   dimension_numbers=("NWC", "WIO", "NWC"))  # fmt: skip
    assert out.shape == (2, 0, 4)
    g = dx.grad(
        lambda x: dnp.sum(
            lax.conv_general_dilated(x, w, (1,), "VALID", dimension_numbers=("NWC", "WIO", "NWC"))
        )
    )(np.ones((2, 2, 2), np.float32))
    np.testing.assert_array_equal(np.asarray(g), np.zeros((2, 2, 2), np.float32))


def test_conv_under_jit_of_grad_of_vmap():
    rng = np.random.default_rng(3)
    xs = rng.normal(size=(3, 5, 5, 2)).astype(np.float32)
    w = rng.normal(size=(2, 2, 2, 3)).astype(np.float32)
    dn = ("NHWC", "HWIO", "NHWC")

    def loss(w, x):
        y = lax.conv_general_dilated(x[None], w, (1, 1), "SAME", dimension_numbers=dn)
        return dnp.sum(dnp.tanh(y) ** 2)

    per_example = dx.jit(dx.vmap(dx.grad(loss), in_axes=(None, 0)))(w, xs)
    loop = np.stack([np.asarray(dx.grad(loss)(w, x)) for x in xs])
    np.testing.assert_allclose(np.asarray(per_example), loop, rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(dimension_numbers=("NHWC", "HWIO")), "expected None, a triple"),
        (dict(dimension_numbers=("NHWC", "HWIO", "NHW")), "must name each of the 4"),
        (dict(dimension_numbers=("NHWC", "HDIO", "NHWC")), "spatial letters"),
        (dict(window_strides=(1,)), "expected 2 entries"),
        (dict(window_strides=(0, 1)), "must be >= 1"),
        (dict(padding="FULL"), "unknown string 'FULL'"),
        (dict(padding=((1, 1),)), "expected 2 \\(low, high\\) pairs"),
        (dict(padding="SAME", lhs_dilation=(2, 1)), "conv_transpose"),
        (dict(feature_group_count=2), "feature_group_count=2"),
    ],
)
def test_conv_errors_name_the_problem(kwargs, match):
    x = np.ones((1, 5, 5, 3), np.float32)
    w = np.ones((3, 3, 3, 4), np.float32)
    args = dict(window_strides=(1, 1), padding="SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=match):
        lax.conv_general_dilated(x, w, **args)


def test_conv_dtype_and_rank_errors():
    with pytest.raises(TypeError, match="same dtype"):
        lax.conv_general_dilated(
            np.ones((1, 3, 1), np.float32), np.ones((2, 1, 1), np.float16), (1,), "VALID",
            dimension_numbers=("NWC", "WIO", "NWC"),
        )  # fmt: skip
    with pytest.raises(ValueError, match="same rank"):
        lax.conv_general_dilated(np.ones((1, 3, 1)), np.ones((2, 1)), (1,), "VALID")
    with pytest.raises(ValueError, match="batch_group_count=3"):
        lax.conv_general_dilated(
            np.ones((4, 3, 1), np.float32), np.ones((2, 1, 3), np.float32), (1,), "VALID",
            dimension_numbers=("NWC", "WIO", "NWC"), batch_group_count=3,
        )  # fmt: skip


def test_reduce_window_errors():
    x = np.ones((3, 4), np.float32)
    with pytest.raises(NotImplementedError, match="lax.max, lax.min or lax.add"):
        lax.reduce_window(x, 1.0, lax.mul, (2, 2), (1, 1), "VALID")
    with pytest.raises(ValueError, match="window_dimensions: expected 2 entries"):
        lax.reduce_window_max(x, (2,), (1, 1))
    with pytest.raises(TypeError, match="init_value must be a scalar"):
        lax.reduce_window(x, np.zeros(2), lax.add, (2, 2), (1, 1), "VALID")
    with pytest.raises(ValueError, match="conv_transpose padding"):
        lax.conv_transpose(np.ones((1, 3, 1)), np.ones((2, 1, 1)), (2,), "SAME_LOWER")


def test_padtype_to_pads():
    assert lax.padtype_to_pads((5, 6), (3, 2), (2, 2), "SAME") == [(1, 1), (0, 0)]
    assert lax.padtype_to_pads((4,), (3,), (1,), "SAME_LOWER") == [(1, 1)]
    assert lax.padtype_to_pads((4,), (4,), (1,), "SAME") == [(1, 2)]
    assert lax.padtype_to_pads((4,), (4,), (1,), "SAME_LOWER") == [(2, 1)]
    assert lax.padtype_to_pads((4,), (4,), (1,), "VALID") == [(0, 0)]


# --------------------------------------------------------------------------- oracle: JAX


ORACLE_CONVS = [
    ((2, 7, 6, 4), (3, 2, 4, 6), ("NHWC", "HWIO", "NHWC"), (1, 1), "SAME", None, None, 1, 1),
    ((2, 4, 7, 6), (6, 4, 3, 2), ("NCHW", "OIHW", "NCHW"), (2, 1), "VALID", None, (1, 2), 1, 1),
    ((2, 7, 6, 4), (3, 2, 2, 6), ("NHWC", "HWIO", "NHWC"), (2, 2), ((1, 2), (0, -1)), None,
     (2, 1), 2, 1),
    ((4, 7, 6, 3), (3, 2, 3, 6), ("NHWC", "HWIO", "NHWC"), (1, 2), ((1, 0), (2, 1)), (2, 1),
     None, 1, 2),
    ((3, 9, 2), (3, 2, 4), ("NWC", "WIO", "NWC"), (2,), "SAME_LOWER", None, (2,), 1, 1),
    ((2, 5, 4, 3, 2), (2, 2, 1, 2, 3), ("NDHWC", "DHWIO", "NDHWC"), (1, 2, 1), "SAME", None,
     None, 1, 1),
    ((2, 6, 5, 4), (4, 1, 3, 2), ("NHWC", "OIHW", "NCHW"), (1, 1), ((2, 2), (1, 1)), (1, 3),
     (2, 1), 4, 1),
]  # fmt: skip


@pytest.mark.oracle
@pytest.mark.parametrize("case", ORACLE_CONVS, ids=lambda c: f"{c[2]}-{c[4]}-g{c[7]}b{c[8]}")
def test_conv_matches_jax(case):
    jax = pytest.importorskip("jax", reason="JAX is the oracle for convolutions")
    jlax = jax.lax
    lshape, rshape, dn, st, pad, ld, rd, g, b = case
    rng = np.random.default_rng(4)
    x = rng.normal(size=lshape).astype(np.float32)
    w = rng.normal(size=rshape).astype(np.float32)
    kw = dict(window_strides=st, padding=pad, lhs_dilation=ld, rhs_dilation=rd,
              dimension_numbers=dn, feature_group_count=g, batch_group_count=b)  # fmt: skip
    out_j = np.asarray(jlax.conv_general_dilated(x, w, **kw))
    out_d = np.asarray(lax.conv_general_dilated(x, w, **kw))
    np.testing.assert_allclose(out_d, out_j, rtol=1e-5, atol=1e-5)
    ct = rng.normal(size=out_j.shape).astype(np.float32)
    gj = jax.vjp(lambda x, w: jlax.conv_general_dilated(x, w, **kw), x, w)[1](ct)
    gd = dx.vjp(lambda x, w: lax.conv_general_dilated(x, w, **kw), x, w)[1](ct)
    for a, e in zip(gd, gj, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(e), rtol=1e-5, atol=1e-5)


@pytest.mark.oracle
@pytest.mark.parametrize(
    "x_shape,w_shape,strides,padding,transpose_kernel,dn",
    [
        ((2, 5, 6, 3), (3, 3, 3, 4), (2, 2), "SAME", False, None),
        ((2, 5, 6, 3), (3, 2, 3, 4), (2, 3), "VALID", False, None),
        ((2, 3, 5, 6), (3, 4, 3, 3), (2, 2), ((1, 2), (0, 1)), True, ("NCHW", "OIHW", "NCHW")),
        ((2, 7, 3), (4, 3, 2), (3,), "VALID", False, None),
    ],
)
def test_conv_transpose_matches_jax(x_shape, w_shape, strides, padding, transpose_kernel, dn):
    jax = pytest.importorskip("jax", reason="JAX is the oracle for transposed convolutions")
    rng = np.random.default_rng(5)
    x = rng.normal(size=x_shape).astype(np.float32)
    w = rng.normal(size=w_shape).astype(np.float32)
    kw = dict(dimension_numbers=dn, transpose_kernel=transpose_kernel)
    out_j = jax.lax.conv_transpose(x, w, strides, padding, **kw)
    out_d = lax.conv_transpose(x, w, strides, padding, **kw)
    np.testing.assert_allclose(np.asarray(out_d), np.asarray(out_j), rtol=1e-5, atol=1e-5)


ORACLE_WINDOWS = [
    ((2, 6, 7, 3), (1, 2, 2, 1), (1, 2, 2, 1), "VALID", None),
    ((2, 6, 7, 3), (1, 3, 3, 1), (1, 1, 1, 1), "SAME", None),
    ((5, 8), (2, 3), (1, 2), ((1, 1), (2, 0)), (2, 1)),
]


@pytest.mark.oracle
@pytest.mark.parametrize("kind", ["max", "min", "sum"])
@pytest.mark.parametrize("case", ORACLE_WINDOWS, ids=lambda c: f"{c[0]}-{c[3]}")
def test_reduce_window_matches_jax(case, kind):
    jax = pytest.importorskip("jax", reason="JAX is the oracle for windowed reductions")
    jlax = jax.lax
    shape, window, strides, padding, base = case
    rng = np.random.default_rng(6)
    x = rng.normal(size=shape).astype(np.float32)
    x[..., 0] = x[..., 1]  # ties: the gradient goes to the first maximum in both
    init = {"max": -np.inf, "min": np.inf, "sum": 0.0}[kind]
    jop = {"max": jlax.max, "min": jlax.min, "sum": jlax.add}[kind]
    dop = {"max": lax.max, "min": lax.min, "sum": lax.add}[kind]

    def fj(x):
        return jlax.reduce_window(x, init, jop, window, strides, padding, base)

    def fd(x):
        return lax.reduce_window(x, init, dop, window, strides, padding, base)

    out_j = np.asarray(fj(x))
    np.testing.assert_allclose(np.asarray(fd(x)), out_j, rtol=1e-6, atol=1e-6)
    ct = rng.normal(size=out_j.shape).astype(np.float32)
    gj = np.asarray(jax.vjp(fj, x)[1](ct)[0])
    gd = np.asarray(dx.vjp(fd, x)[1](ct)[0])
    np.testing.assert_allclose(gd, gj, rtol=1e-6, atol=1e-6)
    t = rng.normal(size=shape).astype(np.float32)
    tj = np.asarray(jax.jvp(fj, (x,), (t,))[1])
    td = np.asarray(dx.jvp(fd, (x,), (t,))[1])
    np.testing.assert_allclose(td, tj, rtol=1e-6, atol=1e-6)


@pytest.mark.oracle
def test_reduce_window_init_value_and_base_dilation_match_jax():
    jax = pytest.importorskip("jax", reason="JAX is the oracle for windowed reductions")
    x = np.random.default_rng(7).normal(size=(6,)).astype(np.float32)
    for init, jop, dop in [(0.5, jax.lax.max, lax.max), (1.0, jax.lax.add, lax.add)]:
        out_j = jax.lax.reduce_window(x, init, jop, (3,), (2,), "SAME", (2,))
        out_d = lax.reduce_window(x, init, dop, (3,), (2,), "SAME", (2,))
        np.testing.assert_allclose(np.asarray(out_d), np.asarray(out_j), rtol=1e-6)
