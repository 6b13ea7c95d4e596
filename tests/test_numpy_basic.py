"""The starter ``derivax.numpy`` against NumPy, through the shared harness.

Each row of ``CASES`` is a derivax function, its NumPy reference, arguments and the dtype
the result must have (written here from JAX's rules: 32-bit defaults, weak Python scalars,
``int / int -> float32``, integer sums stay ``int32``, indices are ``int32``). Every row runs
through ``check_against_numpy`` and ``check_jit``; rows marked ``grad`` also through
``check_grads``, rows marked ``vmap`` through ``check_batching``.
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
    rand_positive,
)

F32, I32, BOOL = np.float32, np.int32, np.bool_

A = rand_default(0)((2, 3), F32)
B = rand_default(1)((2, 3), F32)
P = rand_positive(2)((2, 3), F32)
V3 = rand_default(3)((3,), F32)
M34 = rand_default(4)((3, 4), F32)
T234 = rand_default(5)((2, 3, 4), F32)
IA = rand_int(6, -9, 10)((2, 3), I32)
IB = np.array([[2, -3, 4], [-5, 3, 7]], I32)
DISTINCT = np.array([[0.5, -1.5, 2.5], [3.5, 1.0, -2.0]], F32)

CASES = []


def case(id, fun, ref, args, dtype, grad=False, vmap=False):  # noqa: A002
    CASES.append(pytest.param(fun, ref, args, dtype, grad, vmap, id=id))


# -- creation (no arguments: only values, dtypes and jit)
case("zeros", lambda: dnp.zeros((2, 3)), lambda: np.zeros((2, 3)), (), F32)
case("zeros_int", lambda: dnp.zeros(3, dtype=dnp.int32), lambda: np.zeros(3), (), I32)
case("ones", lambda: dnp.ones(4), lambda: np.ones(4), (), F32)
case("full", lambda: dnp.full((2, 2), 7), lambda: np.full((2, 2), 7), (), I32)
case("full_float", lambda: dnp.full((2,), 1.5), lambda: np.full((2,), 1.5), (), F32)
case("arange_int", lambda: dnp.arange(1, 10, 3), lambda: np.arange(1, 10, 3), (), I32)
case("arange_float", lambda: dnp.arange(0.0, 1.0, 0.25), lambda: np.arange(0, 1, 0.25), (), F32)
case("linspace", lambda: dnp.linspace(0, 1, 5), lambda: np.linspace(0, 1, 5), (), F32)
case("eye", lambda: dnp.eye(3, 4, k=1), lambda: np.eye(3, 4, k=1), (), F32)
case("asarray_list_int", lambda: dnp.asarray([1, 2]), lambda: np.array([1, 2]), (), I32)
case("asarray_list_float", lambda: dnp.asarray([1, 2.5]), lambda: np.array([1, 2.5]), (), F32)
case("asarray_list_bool", lambda: dnp.asarray([True]), lambda: np.array([True]), (), BOOL)
case("zeros_like", dnp.zeros_like, np.zeros_like, (IA,), I32)
case("ones_like_dtype", lambda x: dnp.ones_like(x, dtype=F32), np.ones_like, (IA,), F32)
case("full_like", lambda x: dnp.full_like(x, 2.0), lambda x: np.full_like(x, 2), (A,), F32)

# -- elementwise, unary
for _name, _fn, _ref, _arg in [
    ("sin", dnp.sin, np.sin, A),
    ("exp", dnp.exp, np.exp, A),
    ("log", dnp.log, np.log, P),
    ("sqrt", dnp.sqrt, np.sqrt, P),
    ("tanh", dnp.tanh, np.tanh, A),
    ("log2", dnp.log2, np.log2, P),
    ("log10", dnp.log10, np.log10, P),
    ("expm1", dnp.expm1, np.expm1, A),
    ("log1p", dnp.log1p, np.log1p, P),
    ("square", dnp.square, np.square, A),
    ("reciprocal", dnp.reciprocal, np.reciprocal, P),
    ("negative", dnp.negative, np.negative, A),
    ("abs", dnp.abs, np.abs, A),
]:
    case(_name, _fn, _ref, (_arg,), F32, grad=True, vmap=True)
case("sin_of_int", dnp.sin, lambda x: np.sin(x.astype(F32)), (IA,), F32)
case("abs_int", dnp.abs, np.abs, (IA,), I32)
case("square_int", dnp.square, np.square, (IA,), I32)
case("sign", dnp.sign, np.sign, (np.array([0.0, -0.0, 2.0, -3.0, np.nan], F32),), F32)
case("floor", dnp.floor, np.floor, (A * 1.3,), F32)
case("ceil", dnp.ceil, np.ceil, (A * 1.3,), F32)
case("trunc", dnp.trunc, np.trunc, (A * 1.3,), F32)
case("round_decimals", lambda x: dnp.round(x, 1), lambda x: np.round(x, 1), (A * 1.234,), F32)
case("isnan", dnp.isnan, np.isnan, (np.array([np.nan, 1.0, np.inf], F32),), BOOL)
case("isinf", dnp.isinf, np.isinf, (np.array([np.nan, 1.0, -np.inf], F32),), BOOL)
case("isfinite", dnp.isfinite, np.isfinite, (np.array([np.nan, 1.0, -np.inf], F32),), BOOL)
case("isfinite_int", dnp.isfinite, np.isfinite, (IA,), BOOL)
case("logical_not", dnp.logical_not, np.logical_not, (A,), BOOL)

# -- elementwise, binary (broadcasting included)
for _name, _fn, _ref in [
    ("add", dnp.add, np.add),
    ("subtract", dnp.subtract, np.subtract),
    ("multiply", dnp.multiply, np.multiply),
    ("maximum", dnp.maximum, np.maximum),
    ("minimum", dnp.minimum, np.minimum),
    ("arctan2", dnp.arctan2, np.arctan2),
]:
    case(_name, _fn, _ref, (A, B), F32, grad=True, vmap=True)
    case(f"{_name}_broadcast", _fn, _ref, (A, V3), F32, grad=True)
case("add_broadcast_both", dnp.add, np.add, (A[:, :1], V3[None]), F32, grad=True)
case("divide", dnp.divide, np.divide, (A, P), F32, grad=True, vmap=True)
case("power", dnp.power, np.power, (P, B), F32, grad=True, vmap=True)
case("divide_int_gives_float", dnp.divide, np.divide, (IA, IB), F32)
case("true_divide_int", dnp.true_divide, np.true_divide, (IA, IB), F32)
case("floor_divide_int", dnp.floor_divide, np.floor_divide, (IA, IB), I32)
case("floor_divide_float", dnp.floor_divide, np.floor_divide, (A, P - 2), F32)
case("remainder_int", dnp.remainder, np.remainder, (IA, IB), I32)
case("mod_float", dnp.mod, np.mod, (A, P - 2), F32)
case("fmod_int", dnp.fmod, np.fmod, (IA, IB), I32)
case("power_int", dnp.power, np.power, (IA, np.abs(IB)), I32)
case("add_int", dnp.add, np.add, (IA, IB), I32)
case("maximum_nan", dnp.maximum, np.maximum,
     (np.array([np.nan, 1.0], F32), np.array([0.0, np.nan], F32)), F32)  # fmt: skip
for _name, _fn, _ref in [
    ("equal", dnp.equal, np.equal),
    ("not_equal", dnp.not_equal, np.not_equal),
    ("less", dnp.less, np.less),
    ("less_equal", dnp.less_equal, np.less_equal),
    ("greater", dnp.greater, np.greater),
    ("greater_equal", dnp.greater_equal, np.greater_equal),
]:
    case(_name, _fn, _ref, (IA, IB.clip(-9, 2)), BOOL, vmap=True)
case("logical_and", dnp.logical_and, np.logical_and, (A > 0, B > 0), BOOL)
case("logical_or", dnp.logical_or, np.logical_or, (A > 0, IB), BOOL)
case("logical_xor", dnp.logical_xor, np.logical_xor, (A > 0, B > 0), BOOL)
case("bitwise_and", dnp.bitwise_and, np.bitwise_and, (IA, IB), I32)
case("bitwise_or", dnp.bitwise_or, np.bitwise_or, (IA, IB), I32)
case("where", dnp.where, np.where, (A > 0, A, B), F32, grad=True, vmap=True)
case("where_scalar", lambda c, x: dnp.where(c, x, 0.0), lambda c, x: np.where(c, x, 0), (A > 0, A),
     F32, grad=True)  # fmt: skip
case("clip", lambda x: dnp.clip(x, -1.0, 2.0), lambda x: np.clip(x, -1, 2), (A,), F32, grad=True)
case("clip_int", lambda x: dnp.clip(x, -2, 3), lambda x: np.clip(x, -2, 3), (IA,), I32)

# -- reductions
for _axis in [None, 0, 1, -1, (0, 1)]:
    for _keep in [False, True]:
        _kw = dict(axis=_axis, keepdims=_keep)
        _sfx = f"axis={_axis}-keepdims={_keep}"
        case(f"sum-{_sfx}", lambda x, k=_kw: dnp.sum(x, **k), lambda x, k=_kw: np.sum(x, **k),
             (A,), F32, grad=True, vmap=True)  # fmt: skip
        case(f"mean-{_sfx}", lambda x, k=_kw: dnp.mean(x, **k), lambda x, k=_kw: np.mean(x, **k),
             (A,), F32, grad=True)  # fmt: skip
        case(f"max-{_sfx}", lambda x, k=_kw: dnp.max(x, **k), lambda x, k=_kw: np.max(x, **k),
             (DISTINCT,), F32, grad=True, vmap=True)  # fmt: skip
case("min_axis0", lambda x: dnp.min(x, axis=0), lambda x: np.min(x, axis=0), (DISTINCT,), F32,
     grad=True)  # fmt: skip
case("prod", lambda x: dnp.prod(x, axis=1), lambda x: np.prod(x, axis=1), (A,), F32, grad=True)
case("var", lambda x: dnp.var(x, axis=1, ddof=1), lambda x: np.var(x, axis=1, ddof=1), (A,), F32,
     grad=True)  # fmt: skip
case("std", lambda x: dnp.std(x), np.std, (A,), F32, grad=True)
case("sum_int_stays_int32", lambda x: dnp.sum(x, axis=1), lambda x: np.sum(x, axis=1), (IA,), I32)
case("sum_bool_counts", dnp.sum, np.sum, (A > 0,), I32)
case("mean_int_gives_float", lambda x: dnp.mean(x, 0), lambda x: np.mean(x, 0), (IA,), F32)
case("all", lambda x: dnp.all(x > 0, axis=1), lambda x: np.all(x > 0, axis=1), (A,), BOOL)
case("any", lambda x: dnp.any(x > 0), lambda x: np.any(x > 0), (A,), BOOL)
case("argmax", lambda x: dnp.argmax(x, axis=-1), lambda x: np.argmax(x, -1), (DISTINCT,), I32,
     vmap=True)  # fmt: skip
case("argmax_flat", dnp.argmax, np.argmax, (DISTINCT,), I32)
case("argmin_keepdims", lambda x: dnp.argmin(x, axis=0, keepdims=True),
     lambda x: np.argmin(x, axis=0, keepdims=True), (DISTINCT,), I32)  # fmt: skip
case("count_nonzero", dnp.count_nonzero, np.count_nonzero, (IA,), I32)

# -- products
case("matmul", dnp.matmul, np.matmul, (A, M34), F32, grad=True, vmap=True)
case("matmul_vec_mat", dnp.matmul, np.matmul, (V3, M34), F32, grad=True)
case("matmul_mat_vec", dnp.matmul, np.matmul, (A, V3), F32, grad=True)
case("matmul_vec_vec", dnp.matmul, np.matmul, (V3, V3 * 2), F32, grad=True)
case("matmul_batched_broadcast", dnp.matmul, np.matmul, (T234, M34.T), F32, grad=True)
case("matmul_int", dnp.matmul, np.matmul, (IA, IB.T), I32)
case("matmul_operator", lambda a, b: a @ b, lambda a, b: a @ b, (A, M34), F32, grad=True)
case("dot_1d", dnp.dot, np.dot, (V3, V3), F32, grad=True)
case("dot_2d", dnp.dot, np.dot, (A, M34), F32, grad=True)
case("dot_nd", dnp.dot, np.dot, (T234, M34.T), F32, grad=True)
case("outer", dnp.outer, np.outer, (V3, A[0]), F32, grad=True)
case("inner", dnp.inner, np.inner, (A, B), F32, grad=True)
case("vdot", dnp.vdot, np.vdot, (A, B), F32, grad=True)
for _spec, _ops in [
    ("ij,jk->ik", (A, M34)),
    ("bij,bjk->bik", (T234, np.stack([M34.T, M34.T[::-1]]))),
    ("i,i->", (V3, V3)),
    ("i,j->ij", (V3, A[1])),
    ("ij->ji", (A,)),
    ("ij->", (A,)),
    ("ii->i", (M34[:, :3],)),
    ("ii->", (M34[:, :3],)),
    ("ij,jk", (A, M34)),
    ("...ij,jk->...ik", (T234.transpose(0, 2, 1), M34)),
]:
    case(f"einsum[{_spec}]", lambda *o, s=_spec: dnp.einsum(s, *o),
         lambda *o, s=_spec: np.einsum(s, *o), _ops, F32, grad=True)  # fmt: skip
case("tensordot_1", lambda a, b: dnp.tensordot(a, b, axes=1),
     lambda a, b: np.tensordot(a, b, axes=1), (A, M34), F32, grad=True)  # fmt: skip
case("tensordot_2", lambda a, b: dnp.tensordot(a, b, axes=2),
     lambda a, b: np.tensordot(a, b, axes=2), (T234, M34), F32, grad=True)  # fmt: skip
case("tensordot_lists", lambda a, b: dnp.tensordot(a, b, axes=([0], [1])),
     lambda a, b: np.tensordot(a, b, axes=([0], [1])), (A, M34.T[:, :2]), F32,
     grad=True)  # fmt: skip

# -- shapes
case("reshape_minus_one", lambda x: dnp.reshape(x, (-1, 2)), lambda x: np.reshape(x, (-1, 2)),
     (T234,), F32, grad=True, vmap=True)  # fmt: skip
case("transpose_axes", lambda x: dnp.transpose(x, (1, 2, 0)),
     lambda x: np.transpose(x, (1, 2, 0)), (T234,), F32, grad=True, vmap=True)  # fmt: skip
case("transpose_default", dnp.transpose, np.transpose, (T234,), F32)
case("concatenate", lambda a, b: dnp.concatenate([a, b], axis=1),
     lambda a, b: np.concatenate([a, b], axis=1), (A, B), F32, grad=True, vmap=True)  # fmt: skip
case("concatenate_axis_none", lambda a, b: dnp.concatenate([a, b], axis=None),
     lambda a, b: np.concatenate([a, b], axis=None), (A, V3), F32)  # fmt: skip
case("concatenate_promotes", lambda a, b: dnp.concatenate([a, b]),
     lambda a, b: np.concatenate([a, b]), (A, IB), F32)  # fmt: skip
case("stack", lambda a, b: dnp.stack([a, b], axis=1), lambda a, b: np.stack([a, b], axis=1),
     (A, B), F32, grad=True, vmap=True)  # fmt: skip
case("stack_negative_axis", lambda a, b: dnp.stack([a, b], axis=-1),
     lambda a, b: np.stack([a, b], axis=-1), (A, B), F32)  # fmt: skip
case("squeeze", dnp.squeeze, np.squeeze, (A[None, :, None],), F32)
case("expand_dims", lambda x: dnp.expand_dims(x, (0, 2)), lambda x: np.expand_dims(x, (0, 2)),
     (A,), F32)  # fmt: skip
case("moveaxis", lambda x: dnp.moveaxis(x, 0, -1), lambda x: np.moveaxis(x, 0, -1), (T234,), F32)
case("swapaxes", lambda x: dnp.swapaxes(x, 0, 2), lambda x: np.swapaxes(x, 0, 2), (T234,), F32)
case("ravel", dnp.ravel, np.ravel, (A,), F32)
case("flip", lambda x: dnp.flip(x, 1), lambda x: np.flip(x, 1), (A,), F32, grad=True)
case("broadcast_to", lambda x: dnp.broadcast_to(x, (4, 2, 3)),
     lambda x: np.broadcast_to(x, (4, 2, 3)), (A,), F32, grad=True)  # fmt: skip
case("hstack", lambda x: dnp.hstack([x, x]), lambda x: np.hstack([x, x]), (A,), F32)
case("vstack", lambda x: dnp.vstack([x, x]), lambda x: np.vstack([x, x]), (A,), F32)
case("take_along_axis", lambda x, i: dnp.take_along_axis(x, i, axis=1),
     lambda x, i: np.take_along_axis(x, i, axis=1), (A, np.array([[2, 0], [1, 1]], I32)), F32,
     grad=True, vmap=True)  # fmt: skip

# -- nn / scipy helpers used by the MLP example
case("logsumexp", lambda x: dx.scipy.special.logsumexp(x, axis=1),
     lambda x: np.log(np.sum(np.exp(x), axis=1)), (A,), F32, grad=True, vmap=True)  # fmt: skip
case("log_softmax", lambda x: dx.nn.log_softmax(x, axis=1),
     lambda x: x - np.log(np.sum(np.exp(x), axis=1, keepdims=True)), (A,), F32,
     grad=True)  # fmt: skip
case("relu", dx.nn.relu, lambda x: np.maximum(x, 0), (A,), F32, grad=True)
case("one_hot", lambda l: dx.nn.one_hot(l, 4), lambda l: np.eye(4)[l],
     (np.array([0, 3, 1], I32),), F32)  # fmt: skip


@pytest.mark.parametrize("fun,ref,args,dtype,grad,vmap", CASES)
def test_against_numpy(fun, ref, args, dtype, grad, vmap):
    check_against_numpy(fun, ref, args, dtype=dtype)


@pytest.mark.parametrize("fun,ref,args,dtype,grad,vmap", CASES)
def test_jit(fun, ref, args, dtype, grad, vmap):
    check_jit(fun, args)


@pytest.mark.parametrize("fun,ref,args,dtype,grad,vmap", [c for c in CASES if c.values[4]])
def test_grads(fun, ref, args, dtype, grad, vmap):
    check_grads(fun, args, order=2)


@pytest.mark.parametrize("fun,ref,args,dtype,grad,vmap", [c for c in CASES if c.values[5]])
def test_vmap(fun, ref, args, dtype, grad, vmap):
    batched = [np.stack([a, a[::-1] if np.ndim(a) else a, -a if a.dtype != BOOL else ~a])
               for a in args]  # fmt: skip
    check_batching(fun, batched)
    if len(args) > 1:
        check_batching(fun, [batched[0], *args[1:]], in_axes=(0,) + (None,) * (len(args) - 1))


# --------------------------------------------------------------------------- Array methods


def test_array_operators_match_numpy():
    x, y = dnp.asarray(A), dnp.asarray(P)
    i, j = dnp.asarray(IA), dnp.asarray(IB)
    pairs = [
        (x + y, A + P),
        (x - y, A - P),
        (x * y, A * P),
        (x / y, A / P),
        (x // y, A // P),
        (x % y, A % P),
        (y**x, P**A),
        (x @ dnp.asarray(M34), A @ M34),
        (-x, -A),
        (+x, A),
        (abs(x), np.abs(A)),
        (x < y, A < P),
        (x <= y, A <= P),
        (x > y, A > P),
        (x >= y, A >= P),
        (x == x, A == A),
        (x != y, A != P),
        (i & j, IA & IB),
        (i | j, IA | IB),
        (i ^ j, IA ^ IB),
        (~i, ~IA),
        (i // j, IA // IB),
        (i % j, IA % IB),
        (2.0 * x, 2 * A),
        (1.0 - x, 1 - A),
        (2.0 / y, 2 / P),
        (2 ** i.clip(0, 5), 2 ** IA.clip(0, 5)),
    ]
    for k, (ours, expected) in enumerate(pairs):
        assert_close(ours, expected.astype(np.asarray(ours).dtype), err_msg=f"pair {k}")
        assert np.asarray(ours).dtype == np.asarray(expected).dtype or k >= 23, k


def test_array_methods_match_numpy():
    x = dnp.asarray(T234)
    assert_close(x.T, T234.T)
    assert_close(x.reshape(4, 6), T234.reshape(4, 6))
    assert_close(x.reshape((4, -1)), T234.reshape(4, -1))
    assert_close(x.transpose(2, 0, 1), T234.transpose(2, 0, 1))
    assert_close(x.transpose((2, 0, 1)), T234.transpose(2, 0, 1))
    assert_close(x.sum(axis=1, keepdims=True), T234.sum(axis=1, keepdims=True))
    assert_close(x.mean(), np.float32(T234.mean()))
    assert_close(x.max(0), T234.max(0))
    assert_close(x.min(axis=-1), T234.min(axis=-1))
    assert_close(x.prod(axis=2), T234.prod(axis=2))
    assert_close(x.argmax(axis=1), T234.argmax(axis=1).astype(np.int32))
    assert_close(x.argmin(), np.int32(T234.argmin()))
    assert_close(x.astype(dnp.int32), T234.astype(np.int32))
    assert_close(x.ravel(), T234.ravel())
    assert_close(x.flatten(), T234.flatten())
    assert_close(x[:, :1].squeeze(1), T234[:, :1].squeeze(1))
    assert_close(x.swapaxes(0, 2), T234.swapaxes(0, 2))
    assert_close(x.clip(-1, 1), T234.clip(-1, 1))
    assert_close(x.var(axis=0), T234.var(axis=0))
    assert_close(x.std(), np.float32(T234.std()), rtol=1e-5)
    assert_close((x > 0).all(axis=0), (T234 > 0).all(axis=0))
    assert_close((x > 0).any(), np.bool_((T234 > 0).any()))
    assert_close(x[0].dot(dnp.asarray(M34.T)), T234[0].dot(M34.T))
    assert_close(x.mT, np.swapaxes(T234, -1, -2))
    assert x.shape == (2, 3, 4) and x.ndim == 3 and x.size == 24 and x.dtype == np.float32
    assert len(x) == 2 and x.nbytes == 96 and x.itemsize == 4
    rows = list(x)
    assert len(rows) == 2
    assert_close(rows[1], T234[1])
    s = dnp.asarray(np.float32(2.5))
    assert float(s) == 2.5 and int(s) == 2 and bool(s) and s.item() == 2.5
    assert np.asarray(x).flags.writeable is False  # a read-only view, no copy
    assert x.__array_namespace__() is dnp
    assert x.tolist() == T234.tolist()


def test_array_repr():
    assert repr(dnp.asarray([1.0, 2.0])) == "Array([1., 2.], dtype=float32)"
    assert repr(dnp.asarray([1, 2])) == "Array([1, 2], dtype=int32)"
    assert repr(dnp.zeros((0, 2))) == "Array([], shape=(0, 2), dtype=float32)"
    assert repr(dx.jit(lambda: 2.0 * dnp.ones(()))().astype(dnp.int32)) == ("Array(2, dtype=int32)")


def test_arrays_are_immutable_and_unhashable():
    x = dnp.ones(3)
    with pytest.raises(TypeError, match=r"\.at\[idx\]\.set"):
        x[0] = 2.0
    with pytest.raises(TypeError, match="unhashable"):
        hash(x)


# --------------------------------------------------------------------------- dtype rules


def test_weak_type_promotion_examples():
    f32 = dnp.ones(3, dtype=dnp.float32)
    i32 = dnp.ones(3, dtype=dnp.int32)
    f16 = dnp.ones(3, dtype=dnp.float16)
    i8 = dnp.ones(3, dtype=dnp.int8)
    u8 = dnp.ones(3, dtype=dnp.uint8)
    bf16 = dnp.ones(3, dtype=dnp.bfloat16)
    examples = [
        (f32 * 2.0, np.float32, False),  # a Python float does not widen float32
        (f32 * 2, np.float32, False),
        (i32 + 1.5, np.float32, True),  # int32 + Python float: a weak default float
        (i32 * 2, np.int32, False),
        (f16 + 1.0, np.float16, False),
        (i8 + 1, np.int8, False),  # a Python int takes the array's integer type
        (u8 + i8, np.int16, False),
        (f16 + f32, np.float32, False),
        (bf16 + f16, np.float32, False),
        (i32 + f16, np.float16, False),
        (dnp.asarray(True) + dnp.asarray(False), np.bool_, False),
        (dnp.sin(2.0), np.float32, True),  # Python scalars in, weak out
        (dnp.multiply(2, 3), np.int32, True),
        (dnp.add(2, 1.5), np.float32, True),
        (dnp.sqrt(i32), np.float32, False),
        (dnp.asarray(2.0), np.float32, True),
        (dnp.sum(dnp.asarray(1.5) * 2), np.float32, False),  # reductions are strong
        (dnp.max(3), np.int32, False),
        (dnp.power(i32, 1.5), np.float32, True),
        (dnp.power(1.5, i32), np.float32, False),  # a strong integer exponent (as in JAX)
    ]
    for k, (out, dtype, weak) in enumerate(examples):
        assert out.dtype == dtype, (k, out.dtype, dtype)
        assert out.weak_type == weak, (k, out.weak_type, weak)
    # The same rules under jit.
    out = dx.jit(lambda x: x * 2.0)(f16)
    assert out.dtype == np.float16 and not out.weak_type


def test_x64_requests_are_errors_with_the_fix():
    with pytest.raises(dx.DtypeError, match="enable_x64"):
        dnp.zeros(3, dtype=dnp.float64)
    with pytest.raises(dx.DtypeError, match="enable_x64"):
        dnp.asarray([1.0], dtype="float64")
    with pytest.raises(dx.DtypeError, match="enable_x64"):
        dnp.ones(2).astype(dnp.int64)
    with pytest.raises(dx.DtypeError, match="enable_x64"):
        dnp.arange(3, dtype=dnp.int64)


def test_x64_mode():
    with dx.config.context(enable_x64=True):
        z = dnp.zeros(3, dtype=dnp.float64)
        assert z.dtype == np.float64
        assert (z + 1.0).dtype == np.float64
        assert dnp.asarray(np.arange(3)).dtype == np.int64
        assert (dnp.ones(2, dtype=dnp.float32) * 2.0).dtype == np.float32  # still weak
    # With x64 off, 64-bit NumPy inputs are narrowed silently (as in JAX).
    assert dnp.asarray(np.ones(2)).dtype == np.float32
    assert dnp.asarray(np.arange(2)).dtype == np.int32


def test_lists_are_not_converted_implicitly():
    with pytest.raises(TypeError, match="asarray"):
        dnp.sin([1.0, 2.0])


def test_float_to_int_conversion_saturates_and_maps_nan_to_zero():
    x = dnp.array([1e30, -1e30, np.nan, 3.7, -3.7])
    np.testing.assert_array_equal(
        x.astype(dnp.int32), np.array([2**31 - 1, -(2**31), 0, 3, -3], np.int32)
    )
    with dx.enable_x64():
        big = dnp.array([1e300, -1e300], dnp.float64).astype(dnp.int64)
        np.testing.assert_array_equal(big, np.array([2**63 - 1, -(2**63)], np.int64))
