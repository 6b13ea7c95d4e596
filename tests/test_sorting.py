"""Sorting, cumulative ops and order statistics (``lax`` primitives and ``derivax.numpy``).

Each row of ``ROWS`` is a derivax function, a NumPy reference written for this test, an
argument generator and the expected output dtype. Pytest expands the table through the
harness: value and dtype against NumPy, eager vs ``jit``, ``vmap`` vs a loop (unless the
row says why not), and numerical gradients forward and reverse (for rows with ``order``).
Further tests cover NaN and tie handling, stable order, errors, and the JAX oracle.

This file is the table of the primitives ``sort``, ``top_k``, ``cumsum``, ``cumprod``,
``cummax``, ``cummin`` and ``cumlogsumexp``.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import zlib
from collections.abc import Callable

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

import derivax as dx  # noqa: E402
import derivax.numpy as dnp  # noqa: E402
from derivax import lax  # noqa: E402
from harness import (  # noqa: E402
    assert_close,
    check_against_numpy,
    check_batching,
    check_grads,
    check_jit,
    rand_default,
    rand_distinct,
    rand_int,
    rand_positive,
)

F32, F64, I32, BOOL = np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int32), np.bool_
C64 = np.dtype(np.complex64)


@dataclasses.dataclass(frozen=True)
class Row:
    """``args(rng)`` returns a tuple of NumPy arrays; ``order=0`` means no gradient check."""

    id: str
    fun: Callable
    ref: Callable
    args: Callable
    out: object  # the expected dtype, or a tuple of them for several outputs
    order: int = 0
    batch: bool = True
    grad_args: Callable | None = None  # arguments for the gradient check (default: args)


ROWS: list[Row] = []


def row(*args, **kwargs):
    ROWS.append(Row(*args, **kwargs))


def distinct(*shapes, dtype=F32):
    return lambda rng: tuple(rand_distinct(rng)(s, dtype) for s in shapes)


def normal(*shapes, dtype=F32):
    return lambda rng: tuple(rand_default(rng)(s, dtype) for s in shapes)


def ints(*shapes, low=-3, high=4):
    return lambda rng: tuple(rand_int(rng, low, high)(s, I32) for s in shapes)


def fixed(*arrays):
    return lambda rng: tuple(np.asarray(a) for a in arrays)


# -- NumPy references written for this file


def np_sort_multi(*ops, axis=-1, num_keys=1):
    moved = [np.moveaxis(o, axis, -1) for o in ops]
    keys = moved[:num_keys][::-1]
    perm = np.lexsort(keys, axis=-1)
    return tuple(np.moveaxis(np.take_along_axis(o, perm, -1), -1, axis) for o in moved)


def np_top_k(x, k):
    # Largest first, equal values lowest index first.
    idx = np.argsort(-x.astype(np.float64), axis=-1, kind="stable")[..., :k]
    return np.take_along_axis(x, idx, -1), idx.astype(np.int32)


def np_cum(ufunc, reverse=False, axis=0):
    def f(x):
        v = np.flip(x, axis) if reverse else x
        out = ufunc.accumulate(v.astype(np.float64) if v.dtype.kind == "f" else v, axis=axis)
        return np.flip(out, axis) if reverse else out

    return f


def np_clamp(lo, x, hi):
    return np.minimum(np.maximum(x, lo), hi)


# ============================================================================ lax rows

row("sort_f32", lax.sort, np.sort, distinct((3, 4)), F32, order=2)
row("sort_axis0", lambda x: lax.sort(x, dimension=0), lambda x: np.sort(x, 0),
    distinct((3, 4)), F32, order=2)  # fmt: skip
row("sort_int", lax.sort, np.sort, ints((2, 5)), I32)
row("sort_bool", lax.sort, np.sort, lambda rng: (rng.random((2, 5)) < 0.5,), np.dtype(BOOL))
row("sort_two_operands", lambda k, v: lax.sort((k, v)), lambda k, v: np_sort_multi(k, v),
    lambda rng: (rand_int(rng, 0, 3)((2, 6), I32), rand_default(rng)((2, 6), F32)),
    (I32, F32), order=2)  # fmt: skip
row("sort_float_keys_with_ties", lambda k, v: lax.sort((k, v)), lambda k, v: np_sort_multi(k, v),
    lambda rng: (rand_int(rng, 0, 3)((2, 6), F32), rand_default(rng)((2, 6), F32)),
    (F32, F32))  # fmt: skip
row("sort_two_keys", lambda a, b, c: lax.sort((a, b, c), num_keys=2),
    lambda a, b, c: np_sort_multi(a, b, c, num_keys=2),
    lambda rng: (*ints((8,), low=0, high=2)(rng), *ints((8,), low=0, high=3)(rng),
                 rand_default(rng)((8,), F32)),
    (I32, I32, F32))  # fmt: skip
row("sort_key_val", lambda k, v: lax.sort_key_val(k, v, dimension=0),
    lambda k, v: np_sort_multi(k, v, axis=0), lambda rng: (*ints((5, 2))(rng),
                                                           rand_default(rng)((5, 2), F32)),
    (I32, F32), order=2)  # fmt: skip
row("top_k", lambda x: lax.top_k(x, 3), lambda x: np_top_k(x, 3), distinct((2, 5)),
    (F32, I32), order=2)  # fmt: skip
row("top_k_ties_int", lambda x: lax.top_k(x, 4), lambda x: np_top_k(x, 4), ints((3, 6)),
    (I32, I32))  # fmt: skip
row("top_k_axis0", lambda x: lax.top_k(x, 2, axis=0),
    lambda x: tuple(np.moveaxis(o, -1, 0) for o in np_top_k(np.moveaxis(x, 0, -1), 2)),
    distinct((4, 3)), (F32, I32), order=1)  # fmt: skip
for _rev in (False, True):
    _s = "_rev" if _rev else ""
    row(f"cumsum{_s}", lambda x, r=_rev: lax.cumsum(x, axis=1, reverse=r),
        np_cum(np.add, _rev, 1), normal((2, 5)), F32, order=2)  # fmt: skip
    row(f"cumprod{_s}", lambda x, r=_rev: lax.cumprod(x, axis=0, reverse=r),
        np_cum(np.multiply, _rev, 0), normal((5, 2)), F32, order=2)  # fmt: skip
    row(f"cummax{_s}", lambda x, r=_rev: lax.cummax(x, axis=1, reverse=r),
        np_cum(np.maximum, _rev, 1), distinct((2, 5)), F32, order=2)  # fmt: skip
    row(f"cummin{_s}", lambda x, r=_rev: lax.cummin(x, axis=0, reverse=r),
        np_cum(np.minimum, _rev, 0), distinct((5, 2)), F32, order=2)  # fmt: skip
    row(f"cumlogsumexp{_s}", lambda x, r=_rev: lax.cumlogsumexp(x, axis=0, reverse=r),
        np_cum(np.logaddexp, _rev, 0), normal((6,)), F32, order=2)  # fmt: skip
row("cumsum_int", lambda x: lax.cumsum(x, axis=0), np_cum(np.add), ints((4, 3)), I32)
row("cumprod_int", lambda x: lax.cumprod(x, axis=1), np_cum(np.multiply, axis=1), ints((2, 4)),
    I32)  # fmt: skip
row("cummax_int", lambda x: lax.cummax(x), np_cum(np.maximum), ints((6,)), I32)
row("cumprod_with_zeros", lambda x: lax.cumprod(x),
    np_cum(np.multiply), fixed(np.array([1.5, 0.0, 2.0, 0.0, -1.0], F32)), F32, order=2)  # fmt: skip
row("clamp", lambda lo, x, hi: lax.clamp(lo, x, hi), np_clamp,
    lambda rng: (np.full((2, 3), -1.0, F32), rand_default(rng)((2, 3), F32),
                 np.full((2, 3), 1.0, F32)),
    F32, order=2)  # fmt: skip
row("clamp_scalar_bounds", lambda x: lax.clamp(0.0, x, 1.0), lambda x: np.clip(x, 0, 1),
    normal((4,)), F32, order=2)  # fmt: skip

# ============================================================================ numpy rows

row("np_sort_axis_none", lambda x: dnp.sort(x, axis=None), lambda x: np.sort(x, axis=None),
    distinct((2, 3)), F32, order=2)  # fmt: skip
row("np_sort_descending", lambda x: dnp.sort(x, axis=0, descending=True),
    lambda x: np.flip(np.sort(x, 0), 0), ints((5, 2)), I32)  # fmt: skip
row("np_argsort", lambda x: dnp.argsort(x), lambda x: np.argsort(x, kind="stable"),
    ints((2, 6)), I32)  # fmt: skip
row("np_argsort_descending", lambda x: dnp.argsort(x, descending=True),
    lambda x: np.argsort(-x.astype(np.int64), kind="stable"), ints((2, 6)), I32)  # fmt: skip
row("np_argsort_axis_none", lambda x: dnp.argsort(x, axis=None),
    lambda x: np.argsort(x, axis=None, kind="stable"), ints((2, 3)), I32)  # fmt: skip
row("np_lexsort", lambda a, b: dnp.lexsort((a, b)), lambda a, b: np.lexsort((a, b)),
    ints((7,), (7,), low=0, high=3), I32)  # fmt: skip
row("np_sort_complex", dnp.sort_complex, np.sort_complex, ints((5,)), C64)
row("np_searchsorted_left", lambda a, v: dnp.searchsorted(a, v),
    lambda a, v: np.searchsorted(a, v),
    lambda rng: (np.sort(rand_int(rng, -3, 4)((7,), F32)), rand_int(rng, -4, 5)((3, 2), F32)),
    I32)  # fmt: skip
row("np_searchsorted_right", lambda a, v: dnp.searchsorted(a, v, side="right"),
    lambda a, v: np.searchsorted(a, v, side="right"),
    lambda rng: (np.sort(rand_int(rng, -3, 4)((6,), I32)), rand_int(rng, -4, 5)((5,), I32)),
    I32)  # fmt: skip
row("np_searchsorted_compare_all", lambda a, v: dnp.searchsorted(a, v, method="compare_all"),
    lambda a, v: np.searchsorted(a, v),
    lambda rng: (np.sort(rand_int(rng, -3, 4)((6,), I32)), rand_int(rng, -4, 5)((5,), I32)),
    I32)  # fmt: skip
row("np_searchsorted_sorter", lambda a, v, s: dnp.searchsorted(a, v, sorter=s),
    lambda a, v, s: np.searchsorted(a, v, sorter=s),
    lambda rng: (lambda a: (a, rand_int(rng, -4, 5)((4,), F32), np.argsort(a).astype(I32)))(
        rand_distinct(rng)((6,), F32)),
    I32, batch=False)  # fmt: skip
row("np_searchsorted_nan", lambda a, v: dnp.searchsorted(a, v, side="right"),
    lambda a, v: np.searchsorted(a, v, side="right"),
    fixed(np.array([1.0, 2.0, np.nan, np.nan], F32), np.array([0.5, 2.0, np.nan, np.inf], F32)),
    I32, batch=False)  # fmt: skip
row("np_digitize", lambda x, b: dnp.digitize(x, b), lambda x, b: np.digitize(x, b),
    lambda rng: (rand_default(rng)((6,), F32), np.array([-2.0, 0.0, 1.0, 3.0], F32)), I32)  # fmt: skip
row("np_digitize_right_decreasing", lambda x, b: dnp.digitize(x, b, right=True),
    lambda x, b: np.digitize(x, b, right=True),
    fixed(np.array([0.5, 1.0, 2.5, 4.0, -1.0], F32), np.array([3.0, 2.0, 1.0], F32)), I32,
    batch=False)  # fmt: skip
row("np_cumsum_flat", dnp.cumsum, lambda x: np.cumsum(x), normal((2, 3)), F32, order=2)
row("np_cumsum_bool", lambda x: dnp.cumsum(x, axis=1), lambda x: np.cumsum(x, 1),
    lambda rng: (rng.random((2, 4)) < 0.5,), I32)  # fmt: skip
row("np_cumsum_int8_keeps_dtype", lambda x: dnp.cumsum(x, axis=0),
    lambda x: np.cumsum(x, 0, dtype=np.int8), lambda rng: (rand_int(rng)((4,), np.int8),),
    np.dtype(np.int8))  # fmt: skip
row("np_cumprod", lambda x: dnp.cumprod(x, axis=0), lambda x: np.cumprod(x, 0),
    normal((4, 2)), F32, order=2)  # fmt: skip
row("np_nancumsum", lambda x: dnp.nancumsum(x, axis=1), lambda x: np.nancumsum(x, 1),
    fixed(np.array([[1.0, np.nan, 2.0], [np.nan, np.nan, 3.0]], F32)), F32)  # fmt: skip
row("np_nancumprod", dnp.nancumprod, np.nancumprod,
    fixed(np.array([[2.0, np.nan], [3.0, 0.5]], F32)), F32, batch=False)  # fmt: skip
row("np_cumulative_sum", lambda x: dnp.cumulative_sum(x, axis=1, include_initial=True),
    lambda x: np.concatenate([np.zeros((2, 1)), np.cumsum(x, 1)], 1), normal((2, 3)), F32,
    order=1)  # fmt: skip
row("np_cumulative_prod", lambda x: dnp.cumulative_prod(x),
    lambda x: np.cumprod(x), normal((4,)), F32, order=1)  # fmt: skip
row("np_diff", lambda x: dnp.diff(x), lambda x: np.diff(x), normal((3, 4)), F32, order=1)
row("np_diff_n2_axis0", lambda x: dnp.diff(x, n=2, axis=0), lambda x: np.diff(x, n=2, axis=0),
    ints((5, 2)), I32)  # fmt: skip
row("np_diff_prepend_append", lambda x: dnp.diff(x, prepend=0.0, append=x[-1:]),
    lambda x: np.diff(x, prepend=0.0, append=x[-1:]), normal((5,)), F32, order=1,
    batch=False)  # fmt: skip
row("np_diff_bool", lambda x: dnp.diff(x), lambda x: np.diff(x),
    lambda rng: (rng.random((6,)) < 0.5,), np.dtype(BOOL))  # fmt: skip
row("np_ediff1d", lambda x: dnp.ediff1d(x, to_begin=-9, to_end=9),
    lambda x: np.ediff1d(x, to_begin=-9, to_end=9), ints((2, 3)), I32)  # fmt: skip
for _m in ("linear", "lower", "higher", "nearest", "midpoint"):
    row(f"np_quantile_{_m}", lambda x, m=_m: dnp.quantile(x, np.array([0.0, 0.3, 0.5, 1.0],
                                                                           F32), axis=1, method=m),
        lambda x, m=_m: np.quantile(x, [0.0, 0.3, 0.5, 1.0], axis=1, method=m),
        distinct((2, 7)), F32, order=2 if _m == "linear" else 0)  # fmt: skip
row("np_quantile_axis_tuple_keepdims", lambda x: dnp.quantile(x, 0.4, axis=(0, 2), keepdims=True),
    lambda x: np.quantile(x, 0.4, axis=(0, 2), keepdims=True), distinct((2, 3, 4)), F32,
    order=1)  # fmt: skip
row("np_quantile_traced_q", lambda x, q: dnp.quantile(x, q), lambda x, q: np.quantile(x, q),
    lambda rng: (rand_distinct(rng)((6,), F32), np.array([0.23, 0.65], F32)), F32, order=1)  # fmt: skip
row("np_median", lambda x: dnp.median(x, axis=0), lambda x: np.median(x, 0),
    distinct((4, 3)), F32, order=2)  # fmt: skip
row("np_median_int", dnp.median, lambda x: np.median(x), ints((5,)), F32)
row("np_percentile", lambda x: dnp.percentile(x, 30.0, axis=-1),
    lambda x: np.percentile(x, 30.0, axis=-1), distinct((3, 5)), F32, order=1)  # fmt: skip
row("np_median_nan", lambda x: dnp.median(x, axis=1), lambda x: np.median(x, 1),
    fixed(np.array([[1.0, np.nan, 3.0], [4.0, 5.0, 6.0]], F32)), F32, batch=False)  # fmt: skip
row("np_nanmedian", lambda x: dnp.nanmedian(x, axis=1), lambda x: np.nanmedian(x, 1),
    fixed(np.array([[1.0, np.nan, 3.0, 4.0], [4.0, 5.0, 6.0, np.nan]], F32)), F32)  # fmt: skip
row("np_nanquantile", lambda x: dnp.nanquantile(x, np.array([0.25, 0.9], F32), axis=0),
    lambda x: np.nanquantile(x, [0.25, 0.9], axis=0),
    fixed(np.array([[1.0, np.nan], [np.nan, 2.0], [3.0, 7.0], [4.0, -1.0]], F32)), F32,
    batch=False)  # fmt: skip
row("np_nanpercentile", lambda x: dnp.nanpercentile(x, 50, method="lower"),
    lambda x: np.nanpercentile(x, 50, method="lower"),
    fixed(np.array([3.0, np.nan, 1.0, 2.0], F32)), F32, batch=False)  # fmt: skip
row("np_interp", lambda x, xp, fp: dnp.interp(x, xp, fp), np.interp,
    lambda rng: (rng.uniform(-1, 5, (7,)).astype(F32), np.array([0.0, 1.0, 2.5, 4.0], F32),
                 rand_default(rng)((4,), F32)),
    F32, order=2)  # fmt: skip
row("np_interp_left_right", lambda x, xp, fp: dnp.interp(x, xp, fp, left=-7.0, right=7.0),
    lambda x, xp, fp: np.interp(x, xp, fp, left=-7.0, right=7.0),
    lambda rng: (rng.uniform(-2, 6, (6,)).astype(F32), np.array([0.0, 1.0, 4.0], F32),
                 rand_default(rng)((3,), F32)),
    F32, order=1)  # fmt: skip
row("np_interp_period", lambda x, xp, fp: dnp.interp(x, xp, fp, period=360.0),
    lambda x, xp, fp: np.interp(x, xp, fp, period=360.0),
    fixed(np.array([-175.0, -160.0, 5.0, 185.0, 340.0, 725.0], F32),
          np.array([190.0, -190.0, 350.0, -350.0], F32), np.array([5.0, 10.0, 3.0, 4.0], F32)),
    F32, order=1, batch=False)  # fmt: skip
row("np_histogram", lambda x: dnp.histogram(x, bins=4),
    lambda x: tuple(np.histogram(x, bins=4)), normal((3, 5)), (I32, F32))  # fmt: skip
row("np_histogram_edges_weights_density",
    lambda x, e, w: dnp.histogram(x, bins=e, weights=w, density=True),
    lambda x, e, w: tuple(np.histogram(x, bins=e, weights=w, density=True)),
    lambda rng: (rand_default(rng)((9,), F32), np.array([-3.0, -1.0, 0.0, 2.5, 4.0], F32),
                 rand_positive(rng)((9,), F32)),
    (F32, F32))  # fmt: skip
row("np_histogram_range", lambda x: dnp.histogram(x, bins=3, range=(-1.0, 1.0)),
    lambda x: tuple(np.histogram(x, bins=3, range=(-1.0, 1.0))), normal((8,)), (I32, F32))  # fmt: skip
row("np_histogram_bin_edges", lambda x: dnp.histogram_bin_edges(x, bins=5),
    lambda x: np.histogram_bin_edges(x, bins=5), normal((6,)), F32)  # fmt: skip
row("np_isin", lambda a, b: dnp.isin(a, b), np.isin, ints((2, 4), (5,)), np.dtype(BOOL))
row("np_isin_invert_sort", lambda a, b: dnp.isin(a, b, invert=True, method="sort"),
    lambda a, b: np.isin(a, b, invert=True), ints((2, 4), (5,)), np.dtype(BOOL))  # fmt: skip
row("np_unique_size_jit", lambda x: dnp.unique(x, return_index=True, return_inverse=True,
                                                return_counts=True, size=8, fill_value=-1),
    lambda x: _np_unique_padded(x, 8, -1), ints((2, 5)), (I32, I32, I32, I32))  # fmt: skip
row("np_unique_values_size_default_fill", lambda x: dnp.unique_values(x, size=6),
    lambda x: _np_unique_padded(x, 6, None)[0], ints((5,)), I32)  # fmt: skip
row("np_union1d_size", lambda a, b: dnp.union1d(a, b, size=9, fill_value=99),
    lambda a, b: _pad(np.union1d(a, b), 9, 99), ints((4,), (3,)), I32)  # fmt: skip
row("np_intersect1d_size", lambda a, b: dnp.intersect1d(a, b, size=6, fill_value=99),
    lambda a, b: _pad(np.intersect1d(a, b), 6, 99), ints((6,), (5,)), I32)  # fmt: skip
row("np_setdiff1d_size", lambda a, b: dnp.setdiff1d(a, b, size=6),
    lambda a, b: _pad(np.setdiff1d(a, b), 6, 0), ints((6,), (2,)), I32)  # fmt: skip


def _pad(x, size, fill):
    x = x[:size]
    return np.concatenate([x, np.full(size - len(x), fill, x.dtype)])


def _np_unique_padded(x, size, fill):
    u, i, inv, c = np.unique(x, return_index=True, return_inverse=True, return_counts=True)
    fill_u = u[0] if fill is None else fill
    return _pad(u, size, fill_u), _pad(i, size, i[0]), inv.reshape(x.shape), _pad(c, size, 0)


def _rng(r):
    return np.random.default_rng(zlib.crc32(r.id.encode()))


def _args(r):
    return r.args(_rng(r))


@pytest.mark.parametrize("r", [pytest.param(r, id=r.id) for r in ROWS])
def test_values_against_numpy(r):
    check_against_numpy(r.fun, r.ref, _args(r), dtype=r.out)


@pytest.mark.parametrize("r", [pytest.param(r, id=r.id) for r in ROWS])
def test_jit(r):
    check_jit(r.fun, _args(r))


@pytest.mark.parametrize("r", [pytest.param(r, id=r.id) for r in ROWS if r.batch])
def test_vmap(r):
    args = _args(r)
    rng = _rng(r)
    # Three examples of every argument, then each argument mapped alone.
    batched = []
    for a in args:
        a = np.asarray(a)
        more = r.args(rng)[len(batched)]
        batched.append(np.stack([a, np.asarray(more), a]))
    check_batching(r.fun, batched, 0)
    if len(args) > 1:
        for i in range(len(args)):
            one = [np.asarray(a) for a in args]
            one[i] = batched[i]
            axes = [0 if j == i else None for j in range(len(args))]
            check_batching(r.fun, one, axes, move_axes=False, empty=False)


@pytest.mark.parametrize("r", [pytest.param(r, id=r.id) for r in ROWS if r.order])
def test_grads(r):
    check_grads(r.fun, _args(r), order=r.order)


def _bound_primitives(r):
    closed = dx.make_jaxpr(r.fun)(*[dnp.asarray(a) for a in _args(r)])
    return {eqn.prim.name for eqn in closed.eqns}


def test_every_sorting_primitive_has_rows():
    wanted = {"sort", "top_k", "cumsum", "cumprod", "cummax", "cummin", "cumlogsumexp"}
    bound = set().union(*(_bound_primitives(r) for r in ROWS if not r.id.startswith("np_")))
    assert wanted <= bound, f"primitives without a row here: {sorted(wanted - bound)}"


# ============================================================================ special values


def test_sort_nan_and_signed_zero_order():
    x = np.array([1.0, np.nan, 3.0, -0.0, 0.0, -np.nan, -np.inf, 0.0], F32)
    keys, idx = lax.sort_key_val(dnp.asarray(x), dnp.arange(8))
    # NaNs (of either sign) last; -0.0 and 0.0 are equal, so they keep their order.
    np.testing.assert_array_equal(np.asarray(idx), [6, 3, 4, 7, 0, 2, 1, 5])
    assert np.isnan(np.asarray(keys)[-2:]).all()
    assert np.signbit(np.asarray(keys)[1]) and not np.signbit(np.asarray(keys)[2])
    np.testing.assert_array_equal(np.asarray(dnp.argsort(x)), np.argsort(x, kind="stable"))


def test_sort_is_stable_for_many_ties():
    rng = np.random.default_rng(0)
    keys = rng.integers(0, 3, 200).astype(np.int32)
    _, order = lax.sort_key_val(dnp.asarray(keys), dnp.arange(200))
    np.testing.assert_array_equal(np.asarray(order), np.argsort(keys, kind="stable"))
    jitted = dx.jit(lambda k: dnp.argsort(k, descending=True))(dnp.asarray(keys))
    np.testing.assert_array_equal(np.asarray(jitted), np.argsort(-keys, kind="stable"))


def test_top_k_nan_zero_and_ties():
    x = dnp.array([1.0, np.nan, 3.0, -0.0, 0.0, 3.0])
    vals, idx = lax.top_k(x, 6)
    np.testing.assert_array_equal(np.asarray(idx), [1, 2, 5, 0, 4, 3])
    assert np.isnan(np.asarray(vals)[0])


def test_cumprod_gradient_is_exact_with_zeros():
    x = np.array([2.0, 0.0, 3.0, 0.0, 5.0], F32)
    g = dx.grad(lambda v: dnp.sum(lax.cumprod(v)))(dnp.asarray(x))
    # d/dx_i sum_k prod_{j<=k} x_j, computed by hand: only prefixes with one zero count.
    expected = [1.0, 2.0 + 2 * 3, 0.0, 0.0, 0.0]
    np.testing.assert_allclose(np.asarray(g), expected)


def test_cummax_ties_share_the_tangent():
    x = dnp.array([1.0, 2.0, 2.0])
    _, t = dx.jvp(lax.cummax, (x,), (dnp.array([1.0, 10.0, 100.0]),))
    np.testing.assert_allclose(np.asarray(t), [1.0, 10.0, 55.0])


def test_cumlogsumexp_handles_minus_inf_and_large_values():
    x = dnp.array([-np.inf, -np.inf, 1000.0, 0.0])
    out = lax.cumlogsumexp(x)
    np.testing.assert_allclose(np.asarray(out), [-np.inf, -np.inf, 1000.0, 1000.0])
    g = dx.grad(lambda v: lax.cumlogsumexp(v)[-1])(dnp.array([0.0, -np.inf, 0.0]))
    np.testing.assert_allclose(np.asarray(g), [0.5, 0.0, 0.5])


def test_quantile_of_nan_slice_is_nan_and_nanquantile_of_all_nan_is_nan():
    x = np.array([[np.nan, np.nan], [1.0, 2.0]], F32)
    np.testing.assert_array_equal(np.isnan(np.asarray(dnp.quantile(x, 0.5, axis=1))), [1, 0])
    out = dnp.nanquantile(x, 0.5, axis=1)
    assert np.isnan(np.asarray(out)[0]) and np.asarray(out)[1] == 1.5


def test_median_gradient_splits_between_middle_values():
    g = dx.grad(dnp.median)(dnp.array([4.0, 1.0, 3.0, 2.0]))
    np.testing.assert_allclose(np.asarray(g), [0.0, 0.0, 0.5, 0.5])


def test_interp_gradient_wrt_fp_and_x():
    xp, fp = dnp.array([0.0, 1.0, 3.0]), dnp.array([0.0, 2.0, 3.0])
    gx = dx.grad(lambda x: dnp.interp(x, xp, fp))(dnp.array(2.0))
    np.testing.assert_allclose(gx, 0.5)
    gfp = dx.grad(lambda f: dnp.interp(dnp.array(2.0), xp, f))(fp)
    np.testing.assert_allclose(np.asarray(gfp), [0.0, 0.5, 0.5])


def test_partition_and_argpartition_properties():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 7)).astype(F32)
    for kth in (0, 3, -1):
        p = np.asarray(dnp.partition(x, kth, axis=1))
        ref = np.partition(x, kth, axis=1)
        np.testing.assert_array_equal(p[:, kth], ref[:, kth])
        assert (p[:, :kth] <= p[:, kth : kth + 1]).all() if kth > 0 else True
        assert (p[:, kth:] >= p[:, kth : kth + 1]).all() if kth >= 0 else True
        i = np.asarray(dnp.argpartition(x, kth, axis=1))
        np.testing.assert_array_equal(np.take_along_axis(x, i, 1)[:, kth], ref[:, kth])


# ============================================================================ unique and sets


@pytest.mark.parametrize(
    "x",
    [
        np.array([3, 1, 3, 2, 1, 1], np.int32),
        np.array([[2.0, np.nan], [np.nan, -1.0]], F32),
        np.array([], F32),
    ],
    ids=["ints", "nans", "empty"],
)
def test_unique_eager_matches_numpy(x):
    got = dnp.unique(x, return_index=True, return_inverse=True, return_counts=True)
    ref = np.unique(x, return_index=True, return_inverse=True, return_counts=True)
    for g, e in zip(got, ref, strict=True):
        assert_close(g, np.asarray(e).astype(np.asarray(g).dtype), check_dtypes=False)
    assert got[0].dtype == x.dtype and all(g.dtype == np.int32 for g in got[1:])


def test_unique_axis_eager():
    x = np.array([[1, 2], [3, 4], [1, 2]], np.int32)
    vals, inv = dnp.unique(x, axis=0, return_inverse=True)
    ref_vals, ref_inv = np.unique(x, axis=0, return_inverse=True)
    np.testing.assert_array_equal(np.asarray(vals), ref_vals)
    np.testing.assert_array_equal(np.asarray(inv), ref_inv.reshape(-1))


def test_unique_array_api_variants():
    x = np.array([2.0, 1.0, 2.0, 5.0], F32)
    res = dnp.unique_all(x)
    np.testing.assert_array_equal(np.asarray(res.values), [1.0, 2.0, 5.0])
    np.testing.assert_array_equal(np.asarray(res.indices), [1, 0, 3])
    np.testing.assert_array_equal(np.asarray(res.inverse_indices), [1, 0, 1, 2])
    np.testing.assert_array_equal(np.asarray(res.counts), [1, 2, 1])
    np.testing.assert_array_equal(np.asarray(dnp.unique_counts(x).counts), [1, 2, 1])
    np.testing.assert_array_equal(np.asarray(dnp.unique_inverse(x).inverse_indices), [1, 0, 1, 2])
    np.testing.assert_array_equal(np.asarray(dnp.unique_values(x)), [1.0, 2.0, 5.0])


def test_unique_under_jit_without_size_names_size():
    with pytest.raises(dx.ConcretizationTypeError, match="size="):
        dx.jit(dnp.unique)(dnp.array([1, 2, 2]))
    for f in (dnp.unique_values, lambda x: dnp.intersect1d(x, x), lambda x: dnp.setdiff1d(x, x)):
        with pytest.raises(dx.ConcretizationTypeError, match="size="):
            dx.jit(f)(dnp.array([1, 2, 2]))


def test_unique_is_differentiable_eagerly_and_under_jit():
    x = dnp.array([3.0, 1.0, 3.0])
    g = dx.grad(lambda v: dnp.sum(dnp.unique(v) * dnp.array([1.0, 10.0])))(x)
    # Each unique value comes from its first occurrence.
    np.testing.assert_allclose(np.asarray(g), [10.0, 1.0, 0.0])
    gj = dx.jit(dx.grad(lambda v: dnp.sum(dnp.unique(v, size=2) * dnp.array([1.0, 10.0]))))(x)
    np.testing.assert_allclose(np.asarray(gj), [10.0, 1.0, 0.0])


def test_set_operations_eager():
    a, b = np.array([5, 1, 3, 1, 7], np.int32), np.array([3, 7, 8], np.int32)
    np.testing.assert_array_equal(np.asarray(dnp.union1d(a, b)), np.union1d(a, b))
    np.testing.assert_array_equal(np.asarray(dnp.intersect1d(a, b)), np.intersect1d(a, b))
    np.testing.assert_array_equal(np.asarray(dnp.setdiff1d(a, b)), np.setdiff1d(a, b))
    vals, i1, i2 = dnp.intersect1d(a, b, return_indices=True)
    _, r1, r2 = np.intersect1d(a, b, return_indices=True)
    np.testing.assert_array_equal(np.asarray(i1), r1)
    np.testing.assert_array_equal(np.asarray(i2), r2)


# ============================================================================ errors


def test_errors_name_the_argument():
    x = dnp.ones((2, 3))
    with pytest.raises(ValueError, match="num_keys=3"):
        lax.sort((x, x), num_keys=3)
    with pytest.raises(TypeError, match="same shape"):
        lax.sort((x, dnp.ones(3)))
    with pytest.raises(ValueError, match="k=4"):
        lax.top_k(x, 4)
    with pytest.raises(TypeError, match="cumsum requires a numeric"):
        lax.cumsum(dnp.array([True, False]))
    with pytest.raises(TypeError, match="cumlogsumexp requires a floating"):
        lax.cumlogsumexp(dnp.array([1, 2]))
    with pytest.raises(ValueError, match="axis=2"):
        lax.cummax(x, axis=2)
    with pytest.raises(TypeError, match="clamp: min"):
        lax.clamp(dnp.zeros(2), x, 1.0)
    with pytest.raises(ValueError, match="method='bogus'"):
        dnp.quantile(x, 0.5, method="bogus")
    with pytest.raises(ValueError, match=r"range \[0, 1\]"):
        dnp.quantile(x, 1.5)
    with pytest.raises(ValueError, match="side must be"):
        dnp.searchsorted(dnp.arange(3), 1, side="middle")
    with pytest.raises(ValueError, match="axis is required"):
        dnp.cumulative_sum(x)
    with pytest.raises(ValueError, match="n must be"):
        dnp.diff(x, n=-1)
    with pytest.raises(ValueError, match="xp and fp"):
        dnp.interp(1.0, dnp.arange(3.0), dnp.arange(2.0))


# ============================================================================ JAX oracle

ORACLE_CASES = [
    ("sort", lambda m, x: m.sort(x, dimension=0)),
    ("sort_key_val", lambda m, x: m.sort_key_val(x, x * x)),
    ("top_k", lambda m, x: m.top_k(x, 2)[0]),
    ("cumsum", lambda m, x: m.cumsum(x, axis=1, reverse=True)),
    ("cumprod", lambda m, x: m.cumprod(x, axis=0)),
    ("cummax", lambda m, x: m.cummax(x, axis=1)),
    ("cummin", lambda m, x: m.cummin(x, axis=0, reverse=True)),
    ("cumlogsumexp", lambda m, x: m.cumlogsumexp(x, axis=1)),
]


@pytest.mark.oracle
@pytest.mark.parametrize("name, f", ORACLE_CASES, ids=[c[0] for c in ORACLE_CASES])
def test_values_and_gradients_match_jax(name, f):
    jax = pytest.importorskip("jax", reason="JAX not installed: oracle tests skipped")
    jnp = pytest.importorskip("jax.numpy")
    # Ties included (rounded values), so the tie rules are compared too.
    x = np.round(np.random.default_rng(3).standard_normal((4, 5)), 1).astype(F32)
    x[1, 2] = x[1, 1]
    x[2, 0] = 0.0

    def loss(m, np_mod):
        w = np_mod.asarray(np.arange(1.0, 21.0, dtype=F32).reshape(4, 5) % 7)

        def g(v):
            out = f(m, v)
            out = out if not isinstance(out, tuple) else out[0] + out[1]
            return np_mod.sum(out * w[: out.shape[0], : out.shape[1]])

        return g

    ours = f(lax, dnp.asarray(x))
    theirs = f(jax.lax, jnp.asarray(x))
    assert_close(ours, [np.asarray(t) for t in theirs] if isinstance(theirs, tuple) else theirs,
                 check_dtypes=False, atol=1e-5, rtol=1e-5)  # fmt: skip
    g_ours = dx.grad(loss(lax, dnp))(dnp.asarray(x))
    g_theirs = jax.grad(loss(jax.lax, jnp))(jnp.asarray(x))
    np.testing.assert_allclose(np.asarray(g_ours), np.asarray(g_theirs), atol=1e-4, rtol=1e-4)


@pytest.mark.oracle
def test_numpy_functions_match_jax():
    jnp = pytest.importorskip("jax.numpy", reason="JAX not installed: oracle tests skipped")
    x = np.array([3, 1, 1, 2, 5, 2], np.int32)
    for ours, theirs in [
        (dnp.unique(x, size=8, return_index=True), jnp.unique(x, size=8, return_index=True)),
        (dnp.union1d(x, x[:2] + 4, size=8), jnp.union1d(x, x[:2] + 4, size=8)),
        (dnp.intersect1d(x, x[:3], size=4), jnp.intersect1d(x, x[:3], size=4)),
        (dnp.setdiff1d(x, x[:3], size=4), jnp.setdiff1d(x, x[:3], size=4)),
        (dnp.cumsum(x > 1), jnp.cumsum(x > 1)),
        (dnp.argsort(x, descending=True), jnp.argsort(x, descending=True)),
    ]:
        ours = ours if isinstance(ours, tuple) else (ours,)
        theirs = theirs if isinstance(theirs, tuple) else (theirs,)
        for o, t in zip(ours, theirs, strict=True):
            np.testing.assert_array_equal(np.asarray(o), np.asarray(t))
            assert o.dtype == t.dtype
