"""``derivax.numpy`` array manipulation (pad, split, tile, repeat, roll, diag, ...) against NumPy.

Each row of ``CASES`` is a derivax function, its NumPy reference, arguments and the dtype the
result must have (written here: float32/int32 defaults, indices are int32). Every row runs
through ``check_against_numpy`` and ``check_jit``; rows marked ``grad`` through
``check_grads`` (forward and reverse, second order), rows marked ``vmap`` through
``check_batching``.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

import derivax as dx  # noqa: E402
import derivax.numpy as dnp  # noqa: E402
from harness import (  # noqa: E402
    assert_close,
    check_against_numpy,
    check_batching,
    check_grads,
    check_jit,
    rand_default,
    rand_int,
)

F32, I32, BOOL = np.float32, np.int32, np.bool_

A = rand_default(0)((2, 3), F32)
V5 = rand_default(1)((5,), F32)
V4 = rand_default(2)((4,), F32)
M33 = rand_default(3)((3, 3), F32)
M34 = rand_default(4)((3, 4), F32)
T234 = rand_default(5)((2, 3, 4), F32)
IA = rand_int(6, -9, 10)((2, 3), I32)
IV = np.array([3, 1, 4, 1, 5], I32)

CASES = []


def case(id, fun, ref, args, dtype, grad=False, vmap=False):  # noqa: A002
    CASES.append(pytest.param(fun, ref, args, dtype, grad, vmap, id=id))


# -- pad
for _mode in ["constant", "edge", "reflect", "symmetric", "wrap", "maximum", "minimum", "mean"]:
    for _width in [2, (1, 3), ((0, 2), (3, 1))]:
        _kw = dict(mode=_mode)
        case(f"pad-{_mode}-{_width}", lambda x, w=_width, k=_kw: dnp.pad(x, w, **k),
             lambda x, w=_width, k=_kw: np.pad(x, w, **k), (A,), F32,
             grad=_mode not in ("maximum", "minimum"), vmap=_width == 2)  # fmt: skip
    case(f"pad-{_mode}-int", lambda x, m=_mode: dnp.pad(x, (2, 1), mode=m),
         lambda x, m=_mode: np.pad(x, (2, 1), mode=m), (IA,), I32)  # fmt: skip
for _mode in ["reflect", "symmetric", "wrap"]:
    # Widths larger than the axis: NumPy pads in several passes; the result is periodic.
    case(f"pad-{_mode}-wide", lambda x, m=_mode: dnp.pad(x, (7, 9), mode=m),
         lambda x, m=_mode: np.pad(x, (7, 9), mode=m), (V4,), F32, grad=True)  # fmt: skip
for _mode in ["reflect", "symmetric"]:
    for _width in [(2, 1), (7, 9)]:
        case(f"pad-{_mode}-odd-{_width}",
             lambda x, m=_mode, w=_width: dnp.pad(x, w, mode=m, reflect_type="odd"),
             lambda x, m=_mode, w=_width: np.pad(x, w, mode=m, reflect_type="odd"), (V4,), F32,
             grad=True)  # fmt: skip
case("pad-reflect-singleton", lambda x: dnp.pad(x, 2, mode="reflect"),
     lambda x: np.pad(x, 2, mode="reflect"), (A[:1],), F32)  # fmt: skip
case("pad-constant-values", lambda x: dnp.pad(x, ((1, 2), (2, 1)), constant_values=((1, 2), (3, 4))),
     lambda x: np.pad(x, ((1, 2), (2, 1)), constant_values=((1, 2), (3, 4))), (A,), F32,
     grad=True)  # fmt: skip
case("pad-constant-float-into-int", lambda x: dnp.pad(x, 1, constant_values=7.9),
     lambda x: np.pad(x, 1, constant_values=7.9), (IA,), I32)  # fmt: skip
case("pad-linear_ramp", lambda x: dnp.pad(x, ((1, 2), (3, 1)), mode="linear_ramp",
                                          end_values=((5, -1), (2, 0))),
     lambda x: np.pad(x, ((1, 2), (3, 1)), mode="linear_ramp", end_values=((5, -1), (2, 0))),
     (A,), F32, grad=True)  # fmt: skip
case("pad-mean-stat_length", lambda x: dnp.pad(x, 2, mode="mean", stat_length=2),
     lambda x: np.pad(x, 2, mode="mean", stat_length=2), (T234,), F32, grad=True)  # fmt: skip
case("pad-maximum-stat_length", lambda x: dnp.pad(x, (1, 2), mode="maximum", stat_length=(1, 2)),
     lambda x: np.pad(x, (1, 2), mode="maximum", stat_length=(1, 2)), (V5,), F32)  # fmt: skip
case("pad-3d", lambda x: dnp.pad(x, ((1, 0), (0, 2), (1, 1)), mode="reflect"),
     lambda x: np.pad(x, ((1, 0), (0, 2), (1, 1)), mode="reflect"), (T234,), F32,
     grad=True)  # fmt: skip
case("pad-empty-axis-constant", lambda x: dnp.pad(x, 1), lambda x: np.pad(x, 1),
     (np.zeros((0, 2), F32),), F32)  # fmt: skip

# -- split
case("split-sections", lambda x: dnp.split(x, 2, axis=1), lambda x: np.split(x, 2, axis=1),
     (M34,), F32, grad=True, vmap=True)  # fmt: skip
case("split-indices", lambda x: dnp.split(x, [1, 3, 9]), lambda x: np.split(x, [1, 3, 9]), (V5,),
     F32, grad=True)  # fmt: skip
case("split-negative-indices", lambda x: dnp.split(x, [-2]), lambda x: np.split(x, [-2]), (V5,),
     F32)  # fmt: skip
case("array_split", lambda x: dnp.array_split(x, 3), lambda x: np.array_split(x, 3), (V5,), F32,
     grad=True)  # fmt: skip
case("array_split-axis1", lambda x: dnp.array_split(x, 3, axis=1),
     lambda x: np.array_split(x, 3, axis=1), (M34,), F32)  # fmt: skip
case("hsplit", lambda x: dnp.hsplit(x, 2), lambda x: np.hsplit(x, 2), (M34,), F32)
case("hsplit-1d", lambda x: dnp.hsplit(x, [2]), lambda x: np.hsplit(x, [2]), (V5,), F32)
case("vsplit", lambda x: dnp.vsplit(x, [1]), lambda x: np.vsplit(x, [1]), (M34,), F32)
case("dsplit", lambda x: dnp.dsplit(x, 2), lambda x: np.dsplit(x, 2), (T234,), F32)
case("unstack", lambda x: dnp.unstack(x, axis=1), lambda x: tuple(np.moveaxis(x, 1, 0)), (T234,),
     F32, grad=True, vmap=True)  # fmt: skip

# -- tile, repeat, roll, rot90, flips
case("tile-int", lambda x: dnp.tile(x, 2), lambda x: np.tile(x, 2), (A,), F32, grad=True,
     vmap=True)  # fmt: skip
case("tile-more-reps", lambda x: dnp.tile(x, (2, 1, 3)), lambda x: np.tile(x, (2, 1, 3)), (A,),
     F32, grad=True)  # fmt: skip
case("tile-fewer-reps", lambda x: dnp.tile(x, (2,)), lambda x: np.tile(x, (2,)), (T234,), F32)
case("tile-zero", lambda x: dnp.tile(x, (0, 2)), lambda x: np.tile(x, (0, 2)), (A,), F32)
case("repeat-flat", lambda x: dnp.repeat(x, 2), lambda x: np.repeat(x, 2), (A,), F32, grad=True,
     vmap=True)  # fmt: skip
case("repeat-axis", lambda x: dnp.repeat(x, 3, axis=1), lambda x: np.repeat(x, 3, axis=1), (A,),
     F32, grad=True)  # fmt: skip
case("repeat-array", lambda x: dnp.repeat(x, np.array([1, 0, 2]), axis=1),
     lambda x: np.repeat(x, np.array([1, 0, 2]), axis=1), (A,), F32, grad=True,
     vmap=True)  # fmt: skip
case("repeat-array-arg", lambda x, r: dnp.repeat(x, r, axis=0),
     lambda x, r: np.repeat(x, r, axis=0), (V5, np.array([2, 0, 1, 3, 1], I32)), F32)  # fmt: skip
case("repeat-total_length-traced", lambda x, r: dnp.repeat(x, r, total_repeat_length=7),
     lambda x, r: np.repeat(x, r), (V5, np.array([2, 0, 1, 3, 1], I32)), F32)  # fmt: skip
case("repeat-total_length-pads", lambda x, r: dnp.repeat(x, r, total_repeat_length=9),
     lambda x, r: np.concatenate([np.repeat(x, r), np.repeat(x[-1:], 2)]),
     (V5, np.array([2, 0, 1, 3, 1], I32)), F32)  # fmt: skip
case("repeat-total_length-cuts", lambda x: dnp.repeat(x, 3, total_repeat_length=4),
     lambda x: np.repeat(x, 3)[:4], (V5,), F32)  # fmt: skip
case("roll", lambda x: dnp.roll(x, 2), lambda x: np.roll(x, 2), (A,), F32, grad=True, vmap=True)
case("roll-axis", lambda x: dnp.roll(x, -1, axis=1), lambda x: np.roll(x, -1, axis=1), (A,), F32,
     grad=True)  # fmt: skip
case("roll-tuples", lambda x: dnp.roll(x, (1, -5), axis=(0, 2)),
     lambda x: np.roll(x, (1, -5), axis=(0, 2)), (T234,), F32)  # fmt: skip
case("roll-traced-shift", lambda x, s: dnp.roll(x, s, axis=0), lambda x, s: np.roll(x, s, axis=0),
     (V5, np.array(-7, I32)), F32)  # fmt: skip
for _k in [-1, 0, 1, 2, 3, 5]:
    case(f"rot90-k={_k}", lambda x, k=_k: dnp.rot90(x, k), lambda x, k=_k: np.rot90(x, k),
         (M34,), F32, grad=_k == 1, vmap=_k == 1)  # fmt: skip
case("rot90-axes", lambda x: dnp.rot90(x, 1, axes=(2, 0)), lambda x: np.rot90(x, 1, axes=(2, 0)),
     (T234,), F32)  # fmt: skip
case("fliplr", dnp.fliplr, np.fliplr, (A,), F32, grad=True)
case("flipud", dnp.flipud, np.flipud, (A,), F32)

# -- stacking and grids
case("atleast_3d-0d", dnp.atleast_3d, np.atleast_3d, (np.float32(2.0),), F32)
case("atleast_3d-1d", dnp.atleast_3d, np.atleast_3d, (V5,), F32)
case("atleast_3d-2d", dnp.atleast_3d, np.atleast_3d, (A,), F32)
case("atleast_3d-many", lambda a, b: dnp.atleast_3d(a, b), lambda a, b: np.atleast_3d(a, b),
     (V5, T234), F32)  # fmt: skip
case("dstack", lambda a, b: dnp.dstack([a, b]), lambda a, b: np.dstack([a, b]), (A, A * 2), F32,
     grad=True, vmap=True)  # fmt: skip
case("column_stack", lambda a, b: dnp.column_stack([a, b]), lambda a, b: np.column_stack([a, b]),
     (V5, V5[::-1]), F32, grad=True)  # fmt: skip
case("column_stack-2d", lambda a, b: dnp.column_stack([a, b]),
     lambda a, b: np.column_stack([a, b]), (M34, V5[:3]), F32)  # fmt: skip
case("block", lambda a, b: dnp.block([[a, b[:, :2]], [b]]),
     lambda a, b: np.block([[a, b[:, :2]], [b]]), (M33[:2, :3], A[:, :1] * np.ones((1, 5), F32)),
     F32, grad=True)  # fmt: skip
case("block-1d", lambda a, b: dnp.block([a, b]), lambda a, b: np.block([a, b]), (V5, V4), F32)
case("meshgrid-xy", lambda a, b: dnp.meshgrid(a, b), lambda a, b: np.meshgrid(a, b), (V5, V4),
     F32, grad=True)  # fmt: skip
case("meshgrid-ij-3", lambda a, b, c: dnp.meshgrid(a, b, c, indexing="ij"),
     lambda a, b, c: np.meshgrid(a, b, c, indexing="ij"), (V5, V4, V4[:2]), F32)  # fmt: skip
case("meshgrid-sparse", lambda a, b: dnp.meshgrid(a, b, sparse=True),
     lambda a, b: np.meshgrid(a, b, sparse=True), (V5, V4), F32)  # fmt: skip
case("logspace", lambda: dnp.logspace(0, 3, 7), lambda: np.logspace(0, 3, 7), (), F32)
case("logspace-base", lambda: dnp.logspace(1.0, 4.0, 4, base=2.0, endpoint=False),
     lambda: np.logspace(1.0, 4.0, 4, base=2.0, endpoint=False), (), F32)  # fmt: skip
case("logspace-traced", lambda s: dnp.logspace(s, 2.0, 5), lambda s: np.logspace(s, 2.0, 5),
     (np.float32(0.5),), F32, grad=True)  # fmt: skip
case("geomspace-traced", lambda s: dnp.geomspace(s, 8.0, 4), lambda s: np.geomspace(s, 8.0, 4),
     (np.float32(0.5),), F32, grad=True)  # fmt: skip
case("geomspace", lambda: dnp.geomspace(1, 1000, 4), lambda: np.geomspace(1, 1000, 4), (), F32)
case("geomspace-negative", lambda: dnp.geomspace(-1000.0, -1.0, 4),
     lambda: np.geomspace(-1000.0, -1.0, 4), (), F32)  # fmt: skip

# -- triangles and diagonals
case("tri", lambda: dnp.tri(3, 4, 1), lambda: np.tri(3, 4, 1), (), F32)
case("tri-int", lambda: dnp.tri(3, dtype=dnp.int32), lambda: np.tri(3), (), I32)
for _k in [-1, 0, 2]:
    case(f"tril-k={_k}", lambda x, k=_k: dnp.tril(x, k), lambda x, k=_k: np.tril(x, k), (M34,), F32,
         grad=True, vmap=_k == 0)  # fmt: skip
    case(f"triu-k={_k}", lambda x, k=_k: dnp.triu(x, k), lambda x, k=_k: np.triu(x, k), (M34,), F32,
         grad=True)  # fmt: skip
case("tril-batched", dnp.tril, np.tril, (T234,), F32)
case("tril_indices", lambda: dnp.tril_indices(3, -1, 4), lambda: np.tril_indices(3, -1, 4), (),
     I32)  # fmt: skip
case("triu_indices", lambda: dnp.triu_indices(4, 1), lambda: np.triu_indices(4, 1), (), I32)
case("tril_indices_from", lambda x: dnp.tril_indices_from(x, 1),
     lambda x: np.tril_indices_from(x, 1), (M34,), I32)  # fmt: skip
case("triu_indices_from", dnp.triu_indices_from, np.triu_indices_from, (M34,), I32)
case("diag_indices", lambda: dnp.diag_indices(3, 3), lambda: np.diag_indices(3, 3), (), I32)
case("diag_indices_from", dnp.diag_indices_from, np.diag_indices_from, (M33,), I32)
for _k in [-2, 0, 1, 5]:
    case(f"diag-2d-k={_k}", lambda x, k=_k: dnp.diag(x, k), lambda x, k=_k: np.diag(x, k), (M34,),
         F32, grad=True)  # fmt: skip
    case(f"diag-1d-k={_k}", lambda x, k=_k: dnp.diag(x, k), lambda x, k=_k: np.diag(x, k), (V4,),
         F32, grad=True, vmap=_k == 1)  # fmt: skip
case("diagflat", lambda x: dnp.diagflat(x, -1), lambda x: np.diagflat(x, -1), (A,), F32,
     grad=True)  # fmt: skip
for _off, _a1, _a2 in [(0, 0, 1), (1, 0, 2), (-1, 2, 1), (-2, 1, 0)]:
    case(f"diagonal-{_off}-{_a1}-{_a2}",
         lambda x, o=_off, i=_a1, j=_a2: dnp.diagonal(x, o, i, j),
         lambda x, o=_off, i=_a1, j=_a2: np.diagonal(x, o, i, j), (T234,), F32,
         grad=True, vmap=_off == 1)  # fmt: skip
case("trace", dnp.trace, np.trace, (M34,), F32, grad=True, vmap=True)
case("trace-offset-axes", lambda x: dnp.trace(x, 1, 2, 0), lambda x: np.trace(x, 1, 2, 0), (T234,),
     F32)  # fmt: skip
case("trace-int", dnp.trace, np.trace, (IA,), I32)
case("kron", dnp.kron, np.kron, (A, M33), F32, grad=True, vmap=True)
case("kron-mixed-rank", dnp.kron, np.kron, (V4, A), F32)
case("kron-int", dnp.kron, np.kron, (IA, IA[:1]), I32)

# -- functional updates, insert, delete
_PIDX = np.array([[2, 0, 1, 1], [0, 0, 2, 1], [1, 2, 0, 0]], I32)[:, :1]


def _np_put_along_axis(x, i, v, axis):
    x = x.copy()
    np.put_along_axis(x, i, v, axis)
    return x


case("put_along_axis", lambda x, i, v: dnp.put_along_axis(x, i, v, 1, inplace=False),
     lambda x, i, v: _np_put_along_axis(x, i, v, 1), (M34, _PIDX, V4[:3, None]), F32,
     grad=True)  # fmt: skip
case("put_along_axis-axis0", lambda x, i: dnp.put_along_axis(x, i, 9.0, 0, inplace=False),
     lambda x, i: _np_put_along_axis(x, i, 9.0, 0), (M34, np.array([[2, 0, 1, 1]], I32)),
     F32)  # fmt: skip


def _np_put(a, ind, v):
    a = a.copy()
    np.put(a, ind, v)
    return a


def _np_place(a, m, v):
    a = a.copy()
    np.place(a, m, v)
    return a


case("put", lambda a, v: dnp.put(a, np.array([0, 4, 5]), v, inplace=False),
     lambda a, v: _np_put(a, np.array([0, 4, 5]), v), (A, V4[:2]), F32, grad=True)  # fmt: skip
case("put-wrap", lambda a: dnp.put(a, np.array([7, -8]), 1.0, mode="wrap", inplace=False),
     lambda a: np.where(np.isin(np.arange(6), [1, 4]).reshape(2, 3), 1.0, a), (A,), F32)  # fmt: skip
case("place", lambda a, v: dnp.place(a, A > 0, v, inplace=False),
     lambda a, v: _np_place(a, A > 0, v), (A, V4[:2]), F32, grad=True)  # fmt: skip
case("append", dnp.append, np.append, (A, V4), F32, grad=True)
case("append-axis", lambda a, b: dnp.append(a, b, axis=0), lambda a, b: np.append(a, b, axis=0),
     (A, M34[:, :3]), F32)  # fmt: skip
for _obj in [1, -1, [0, 2], slice(None, None, 2), np.array([True, False, True])]:
    case(f"delete-{_obj!r}", lambda x, o=_obj: dnp.delete(x, o, axis=1),
         lambda x, o=_obj: np.delete(x, o, axis=1), (M33,), F32, grad=True)  # fmt: skip
case("delete-flat", lambda x: dnp.delete(x, [0, 5]), lambda x: np.delete(x, [0, 5]), (A,), F32)
for _obj, _vals in [(1, 9.0), (3, V4[:2]), ([0, 3], V4[:2]), ([1], V4[:2]), ([2, 0, 2], 5.0),
                    (slice(0, 3, 2), 1.0), (-1, 0.5)]:  # fmt: skip
    case(f"insert-flat-{_obj!r}", lambda x, o=_obj, v=_vals: dnp.insert(x, o, v),
         lambda x, o=_obj, v=_vals: np.insert(x, o, v), (V5,), F32, grad=True)  # fmt: skip
case("insert-axis-scalar-obj", lambda x, v: dnp.insert(x, 1, v, axis=1),
     lambda x, v: np.insert(x, 1, v, axis=1), (M34, V4[:3]), F32, grad=True)  # fmt: skip
case("insert-axis-list-obj", lambda x, v: dnp.insert(x, [1], v, axis=1),
     lambda x, v: np.insert(x, [1], v, axis=1), (M34, V4[:3, None]), F32)  # fmt: skip
case("insert-axis0-many", lambda x: dnp.insert(x, [0, 2], 7.0, axis=0),
     lambda x: np.insert(x, [0, 2], 7.0, axis=0), (M34,), F32)  # fmt: skip
case("insert-int-casts", lambda x: dnp.insert(x, 1, 2.7), lambda x: np.insert(x, 1, 2.7), (IV,),
     I32)  # fmt: skip
case("resize-grow", lambda x: dnp.resize(x, (3, 4)), lambda x: np.resize(x, (3, 4)), (V5,), F32,
     grad=True)  # fmt: skip
case("resize-shrink", lambda x: dnp.resize(x, 4), lambda x: np.resize(x, 4), (A,), F32)
case("indices", lambda: dnp.indices((2, 3)), lambda: np.indices((2, 3)), (), I32)
case("indices-sparse", lambda: dnp.indices((2, 3), sparse=True),
     lambda: np.indices((2, 3), sparse=True), (), I32)  # fmt: skip
case("ix_", lambda a, b: dnp.ix_(a, b), lambda a, b: np.ix_(a, b), (IV, IV[:2]), I32)
case("ix_-indexing", lambda x: x[dnp.ix_(dnp.array([0, 2]), dnp.array([3, 1]))],
     lambda x: x[np.ix_([0, 2], [3, 1])], (M34,), F32, grad=True)  # fmt: skip
case("argwhere", dnp.argwhere, np.argwhere, (IA,), I32)
case("argwhere-size", lambda x: dnp.argwhere(x, size=12, fill_value=-1),
     lambda x: np.concatenate([np.argwhere(x), np.full((12 - np.count_nonzero(x), 2), -1)]),
     (IA,), I32)  # fmt: skip
case("argwhere-size-cuts", lambda x: dnp.argwhere(x > 0, size=2),
     lambda x: np.argwhere(x > 0)[:2], (T234,), I32)  # fmt: skip
case("flatnonzero", dnp.flatnonzero, np.flatnonzero, (IA,), I32)
case("flatnonzero-size", lambda x: dnp.flatnonzero(x, size=4),
     lambda x: np.concatenate([np.flatnonzero(x), [0, 0]]), (np.array([0, 2, 0, 3], I32),),
     I32, vmap=True)  # fmt: skip

# -- select, piecewise, copy
case("select", lambda x: dnp.select([x < -1, x > 1], [x, x * 10], default=-1.0),
     lambda x: np.select([x < -1, x > 1], [x, x * 10], default=-1.0), (A,), F32, grad=True,
     vmap=True)  # fmt: skip
case("select-first-wins", lambda x: dnp.select([x > 0, x > -100], [x, -x]),
     lambda x: np.select([x > 0, x > -100], [x, -x]), (A,), F32, grad=True)  # fmt: skip
case("select-broadcast-promote", lambda x, i: dnp.select([i > 0], [x], default=0),
     lambda x, i: np.select([i > 0], [x], default=0), (V4[:3], IA), F32)  # fmt: skip
case("piecewise", lambda x: dnp.piecewise(x, [x < 0, x >= 0], [lambda v: v * v, lambda v: -v]),
     lambda x: np.piecewise(x, [x < 0, x >= 0], [lambda v: v * v, lambda v: -v]), (A,), F32,
     grad=True, vmap=True)  # fmt: skip
case("piecewise-otherwise", lambda x: dnp.piecewise(x, [x < -1, x > 1], [0.0, lambda v: v, 1.5]),
     lambda x: np.piecewise(x, [x < -1, x > 1], [0.0, lambda v: v, 1.5]), (A,), F32)  # fmt: skip
case("copy", dnp.copy, np.copy, (A,), F32, grad=True)


@pytest.mark.parametrize("fun,ref,args,dtype,grad,vmap", CASES)
def test_against_numpy(fun, ref, args, dtype, grad, vmap):
    check_against_numpy(fun, ref, args, dtype=dtype)


# Rows whose output shape depends on argument values: eager only (their jit form raises,
# see test_shape_from_values_needs_a_static_size).
EAGER_ONLY = {"repeat-array-arg", "argwhere", "flatnonzero"}


@pytest.mark.parametrize(
    "fun,ref,args,dtype,grad,vmap", [c for c in CASES if c.id not in EAGER_ONLY]
)
def test_jit(fun, ref, args, dtype, grad, vmap):
    check_jit(fun, args)


@pytest.mark.parametrize("fun,ref,args,dtype,grad,vmap", [c for c in CASES if c.values[4]])
def test_grads(fun, ref, args, dtype, grad, vmap):
    check_grads(fun, args, order=2)


@pytest.mark.parametrize("fun,ref,args,dtype,grad,vmap", [c for c in CASES if c.values[5]])
def test_vmap(fun, ref, args, dtype, grad, vmap):
    batched = [np.stack([a, a[::-1], -a]) for a in args]
    check_batching(fun, batched)


# --------------------------------------------------------------------------- static sizes


def test_shape_from_values_needs_a_static_size():
    x = dnp.asarray(np.array([0, 2, 0, 3], I32))
    with pytest.raises(dx.ConcretizationTypeError, match="total_repeat_length="):
        dx.jit(lambda v, r: dnp.repeat(v, r))(x, x)
    with pytest.raises(dx.ConcretizationTypeError, match=r"size=<int>"):
        dx.jit(dnp.argwhere)(x)
    with pytest.raises(dx.ConcretizationTypeError, match=r"size=<int>"):
        dx.jit(dnp.flatnonzero)(x)
    with pytest.raises(dx.ConcretizationTypeError, match=r"size=<int>"):
        dx.vmap(dnp.flatnonzero)(x[None])
    # With the size given, jit gives NumPy's values (padded with fill_value).
    got = dx.jit(lambda v: dnp.flatnonzero(v, size=3, fill_value=-1))(x)
    assert_close(got, np.array([1, 3, -1], I32))
    got = dx.jit(lambda v: dnp.argwhere(v.reshape(2, 2), size=3))(x)
    assert_close(got, np.array([[0, 1], [1, 1], [0, 0]], I32))
    got = dx.jit(lambda v, r: dnp.repeat(v, r, total_repeat_length=5))(x, x)
    assert_close(got, np.repeat(np.asarray(x), np.asarray(x)))


@pytest.mark.parametrize(
    "call,argname",
    [
        (lambda w: dnp.pad(dnp.ones(3), w), "pad_width"),
        (lambda k: dnp.split(dnp.ones(4), k), "indices_or_sections"),
        (lambda k: dnp.tile(dnp.ones(2), k), "reps"),
        (lambda k: dnp.delete(dnp.ones(4), k), "obj"),
        (lambda k: dnp.insert(dnp.ones(4), k, 1.0), "obj"),
        (lambda k: dnp.rot90(dnp.ones((2, 2)), k), "k"),
        (lambda k: dnp.tril(dnp.ones((2, 2)), k), "k"),
        (lambda k: dnp.resize(dnp.ones(2), k), "new_shape"),
    ],
)
def test_traced_static_argument_is_named(call, argname):
    with pytest.raises(TypeError, match=f"`{argname}` argument of"):
        dx.jit(call)(dnp.asarray(np.int32(1)))


def test_traced_shift_and_constant_value_work_under_jit_and_grad():
    x = dnp.asarray(V5)
    f = dx.jit(lambda v, s: dnp.roll(v, s))
    for s in [-6, -1, 0, 2, 5, 12]:
        assert_close(f(x, dnp.asarray(np.int32(s))), np.roll(V5, s))
    pad_c = dx.jit(lambda v, c: dnp.pad(v, (1, 2), constant_values=c))
    assert_close(pad_c(x, dnp.asarray(np.float32(7.0))), np.pad(V5, (1, 2), constant_values=7.0))
    # The padding value gets the cotangent of every padded slot.
    g = dx.grad(lambda c: dnp.pad(x, (1, 2), constant_values=c).sum())(dnp.asarray(np.float32(0)))
    assert_close(g, np.float32(3.0))


# --------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda: dnp.pad(dnp.ones(3), 1, mode="mirror"), ValueError, "unknown mode 'mirror'"),
        (lambda: dnp.pad(dnp.ones(3), 1, mode="edge", constant_values=1), ValueError,
         "does not take"),
        (lambda: dnp.pad(dnp.ones(3), -1), ValueError, "non-negative"),
        (lambda: dnp.pad(dnp.ones((2, 2)), ((1, 1), (1, 1), (1, 1))), ValueError,
         r"cannot be broadcast to \(2, 2\)"),
        (lambda: dnp.pad(dnp.ones(3), 1.5), TypeError, "integers"),
        (lambda: dnp.pad(dnp.ones((0, 2)), 1, mode="edge"), ValueError, "empty axis 0"),
        (lambda: dnp.pad(dnp.ones(3), 1, mode="reflect", reflect_type="x"), ValueError,
         "reflect_type"),
        (lambda: dnp.split(dnp.ones(5), 2), ValueError, "does not split into 2 equal"),
        (lambda: dnp.split(dnp.ones(()), 1), ValueError, "0-d"),
        (lambda: dnp.vsplit(dnp.ones(4), 2), ValueError, "at least 2 dimensions"),
        (lambda: dnp.repeat(dnp.ones(3), np.array([1, 2])), ValueError, "does not match axis 0"),
        (lambda: dnp.repeat(dnp.ones(3), -1), ValueError, "non-negative"),
        (lambda: dnp.roll(dnp.ones((2, 2)), (1, 2, 3), axis=(0, 1)), ValueError, "same length"),
        (lambda: dnp.rot90(dnp.ones((2, 2)), axes=(0, 0)), ValueError, "must differ"),
        (lambda: dnp.rot90(dnp.ones(2)), ValueError, "at least 2 dimensions"),
        (lambda: dnp.tril(dnp.ones(3)), ValueError, r"shape \(3,\)"),
        (lambda: dnp.diag(dnp.ones((2, 2, 2))), ValueError, "1-D or 2-D"),
        (lambda: dnp.diagonal(dnp.ones((2, 2)), 0, 1, 1), ValueError, "must differ"),
        (lambda: dnp.put_along_axis(dnp.ones(3), dnp.array([0]), 1.0, 0), ValueError,
         "inplace=False"),
        (lambda: dnp.put_along_axis(dnp.ones((2, 3)), dnp.array([0]), 1.0, 1, inplace=False),
         ValueError, "as many dimensions"),
        (lambda: dnp.put(dnp.ones(3), dnp.array([0]), 1.0), ValueError, "inplace=False"),
        (lambda: dnp.delete(dnp.ones(3), 5), IndexError, "out of bounds"),
        (lambda: dnp.delete(dnp.ones(3), np.array([True, False])), ValueError, r"shape \(3,\)"),
        (lambda: dnp.insert(dnp.ones(3), 7, 1.0), IndexError, "out of bounds"),
        (lambda: dnp.select([dnp.ones(2) > 0], []), ValueError, "same length"),
        (lambda: dnp.select([dnp.ones(2)], [dnp.ones(2)]), TypeError, "boolean"),
        (lambda: dnp.select([], []), ValueError, "must not be empty"),
        (lambda: dnp.meshgrid(dnp.ones(2), indexing="ji"), ValueError, "'xy' or 'ij'"),
        (lambda: dnp.block([dnp.ones(2), [dnp.ones(2)]]), ValueError, "different depths"),
        (lambda: dnp.block((dnp.ones(2),)), TypeError, "tuple"),
        (lambda: dnp.geomspace(0.0, 1.0, 3), ValueError, "nonzero"),
        (lambda: dnp.piecewise(dnp.ones(2), [dnp.ones(2) > 0], []), ValueError, "funclist"),
        (lambda: dnp.ix_(dnp.ones((2, 2))), ValueError, "1-D"),
    ],
)  # fmt: skip
def test_bad_inputs_raise_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_pad_matches_numpy_for_many_widths():
    # Reflections over several periods, on both sides, for short axes (the tricky cases).
    for n in [1, 2, 3, 5]:
        x = np.arange(1.0, n + 1.0, dtype=F32) ** 2
        for before, after in [(0, 1), (1, 0), (n, n), (2 * n + 1, 3 * n), (7, 2)]:
            for mode in ["reflect", "symmetric", "wrap", "edge"]:
                kinds = ["even", "odd"] if mode in ("reflect", "symmetric") else ["even"]
                for kind in kinds:
                    kw = {"reflect_type": kind} if mode in ("reflect", "symmetric") else {}
                    got = dnp.pad(dnp.asarray(x), (before, after), mode=mode, **kw)
                    assert_close(got, np.pad(x, (before, after), mode=mode, **kw),
                                 err_msg=f"n={n} {mode} {kind} {before, after}")  # fmt: skip
