"""Every primitive in ``derivax._core.REGISTRY`` as a row of one table, through the harness.

Each row names a primitive, binds it through ``derivax.lax`` (or the decorator that creates
it), says how to build arguments, gives a NumPy reference written for this test, the dtypes
to run, the expected output dtype, and how far to check derivatives. Pytest expands the
table through the four checks of ``harness.py``: value and dtype against NumPy, eager vs
``jit``, ``vmap`` vs a loop (every argument mapped, then each one alone, plus an empty
batch), and numerical gradients in forward and reverse mode.

The registry tests fail when a primitive has no row (or no documented reason for having
none), or lacks a rule without a recorded reason.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import zlib
from collections.abc import Callable

import numpy as np
import pytest
import scipy.special

sys.path.insert(0, os.path.dirname(__file__))

import derivax as dx  # noqa: E402
import derivax.lax as lax  # noqa: E402
import derivax.numpy as dnp  # noqa: E402
from derivax._core import REGISTRY  # noqa: E402
from harness import (  # noqa: E402
    BF16,
    F16,
    F32,
    F64,
    check_against_numpy,
    check_batching,
    check_grads,
    check_jit,
    is_float,
    rand_bool,
    rand_default,
    rand_distinct,
    rand_fractional,
    rand_greater_than_one,
    rand_int,
    rand_not_small,
    rand_positive,
    rand_some_nan,
    rand_unit,
    x64_context,
)

I8, I32, U8, BOOL = np.dtype(np.int8), np.dtype(np.int32), np.dtype(np.uint8), np.dtype(np.bool_)

# Primitives registered by work in progress elsewhere (control flow, convolutions and
# windowed reductions, random bits). Each gets its row when it lands; remove its name here
# then. The registry test skips exactly these names.
PENDING = {
    # control flow
    # convolutions and windows
    # random bits and the kernels of derivax.random
    "random_bits",
    "random_seed",
    "random_wrap",
    "random_unwrap",
    "population_count",
    # collectives over a vmap axis
}

# Primitives without a row of their own, and why.
NO_ROW = {
    "sort": "its table lives in tests/test_sorting.py (values, jit, vmap, grads, JAX oracle).",
    "cumsum": "its table lives in tests/test_sorting.py (values, jit, vmap, grads, JAX oracle).",
    "cumprod": "its table lives in tests/test_sorting.py (values, jit, vmap, grads, JAX oracle).",
    "cummax": "its table lives in tests/test_sorting.py (values, jit, vmap, grads, JAX oracle).",
    "cummin": "its table lives in tests/test_sorting.py (values, jit, vmap, grads, JAX oracle).",
    "cumlogsumexp": "its table lives in tests/test_sorting.py (values, jit, vmap, grads, JAX oracle).",
    "top_k": "its table lives in tests/test_sorting.py (values, jit, vmap, grads, JAX oracle).",
    "all_gather": "a collective: needs a named vmap axis; tests/test_all_gather.py checks it.",
    "psum_scatter": "a collective: needs a named vmap axis; tests/test_all_gather.py checks it.",
    "cholesky": "its table lives in tests/test_linalg.py (values, jit, vmap, grads to order 2, JAX oracle).",
    "triangular_solve": "its table lives in tests/test_linalg.py (values, jit, vmap, grads to order 2, JAX oracle).",
    "lu": "its table lives in tests/test_linalg.py (values, jit, vmap, grads to order 2, JAX oracle).",
    "qr": "its table lives in tests/test_linalg.py (values, jit, vmap, grads to order 2, JAX oracle).",
    "svd": "its table lives in tests/test_linalg.py (values, jit, vmap, grads to order 2, JAX oracle).",
    "eigh": "its table lives in tests/test_linalg.py (values, jit, vmap, grads to order 2, JAX oracle).",
    "fft": "its table lives in tests/test_fft.py (values, jit, vmap, transposes, JAX oracle).",
    "real": "its table lives in tests/test_fft.py (values, jit, vmap, transposes, JAX oracle).",
    "imag": "its table lives in tests/test_fft.py (values, jit, vmap, transposes, JAX oracle).",
    "complex": "its table lives in tests/test_fft.py (values, jit, vmap, transposes, JAX oracle).",
    "conj": "its table lives in tests/test_fft.py (values, jit, vmap, transposes, JAX oracle).",
    "lgamma": "its table lives in tests/test_special.py (values vs SciPy, jit, vmap, grads, JAX oracle).",
    "digamma": "its table lives in tests/test_special.py (values vs SciPy, jit, vmap, grads, JAX oracle).",
    "erfc": "its table lives in tests/test_special.py (values vs SciPy, jit, vmap, grads, JAX oracle).",
    "polygamma": "its table lives in tests/test_special.py (values vs SciPy, jit, vmap, grads, JAX oracle).",
    "zeta": "its table lives in tests/test_special.py (values vs SciPy, jit, vmap, grads, JAX oracle).",
    "psum": "a collective: needs a named vmap axis; tests/test_parallel.py checks it.",
    "pmax": "a collective: needs a named vmap axis; tests/test_parallel.py checks it.",
    "pmin": "a collective: needs a named vmap axis; tests/test_parallel.py checks it.",
    "random_gamma": (
        "a sampler with a data-dependent number of rounds: tests/test_random.py checks its "
        "values statistically and against JAX, and jit/vmap against eager evaluation."
    ),
    "random_poisson": (
        "a sampler with a data-dependent number of rounds: tests/test_random.py checks its "
        "values statistically and against JAX, and jit/vmap against eager evaluation."
    ),
    "cond": "its table lives in tests/test_control_flow.py (harness checks, grads, vmap).",
    "while": "its table lives in tests/test_control_flow.py (forward mode only by design).",
    "scan": "its table lives in tests/test_control_flow.py (harness checks, grads, vmap).",
    "conv_general_dilated": "its table lives in tests/test_conv.py (all four harness checks).",
    "reduce_window_sum": "its table lives in tests/test_conv.py (all four harness checks).",
    "reduce_window_max": "its table lives in tests/test_conv.py (all four harness checks).",
    "reduce_window_min": "its table lives in tests/test_conv.py (all four harness checks).",
    "select_and_scatter_add": "the max-pool gradient; checked through tests/test_conv.py.",
    "select_and_gather_add": "the max-pool jvp; checked through tests/test_conv.py.",
    "custom_lin": (
        "the linear partner of custom_vjp_call: it exists only inside the linear program "
        "that reverse mode builds, so it has no standalone form; the custom_vjp_call row "
        "runs it through check_grads in reverse mode (its transpose applies bwd)."
    ),
}


# --------------------------------------------------------------------------- the table


@dataclasses.dataclass(frozen=True)
class Row:
    """One table row. ``args(rng, dtype)`` returns a tuple of NumPy arrays."""

    id: str
    prim: str
    fun: Callable
    args: Callable
    ref: Callable
    dtypes: tuple = (F32,)
    out: object = None  # None: the input dtype; a dtype; or a callable dtype -> dtype
    order: int | None = None  # derivative order checked; default 2, or 0 with no_grad
    modes: tuple = ("fwd", "rev")
    no_grad: str = ""  # why derivatives are not checked numerically
    no_batch: str = ""  # why vmap is not checked
    tol: float | None = None
    grad_tol: float | None = None
    grad_eps: float | None = None  # for rows that round to a lower precision inside

    def out_dtype(self, dtype):
        if self.out is None:
            return dtype
        if callable(self.out) and not isinstance(self.out, type):
            return np.dtype(self.out(dtype))
        return np.dtype(self.out)

    def __post_init__(self):
        if self.order is None:
            object.__setattr__(self, "order", 0 if self.no_grad else 2)
        assert (self.order > 0) != bool(self.no_grad), f"{self.id}: order 0 needs no_grad"


def gen(factory, *shapes, **kw):
    """Arguments of ``shapes`` from one generator factory (all of the row's dtype)."""
    return lambda rng, dt: tuple(factory(rng, **kw)(s, dt) for s in shapes)


def _distinct_pair(shape):
    def make(rng, dt):
        both = rand_distinct(rng)((2, *shape), dt)
        return both[0], both[1]

    return make


def _ints_nonzero(rng, shape, dt):
    mag = rng.integers(1, 5, shape)
    return np.where(rng.random(shape) < 0.5, -mag, mag).astype(dt)


def _int_or(factory):
    """``factory`` for floats; small integers (or bools) for integer dtypes."""

    def make(rng, **kw):
        f = factory(rng, **kw)
        i = rand_int(rng, -4, 5)
        b = rand_bool(rng)
        return lambda s, dt: (
            b(s) if dt == BOOL else i(s, dt) if np.dtype(dt).kind in "iu" else f(s, dt)
        )

    return make


S = (2, 3)  # the default shape
ROWS: list[Row] = []


def row(*args, **kwargs):
    ROWS.append(Row(*args, **kwargs))


# -- unary floating-point functions (name, lax function, NumPy reference, generator)
for _name, _fn, _ref, _gen in [
    ("exp", lax.exp, np.exp, rand_default),
    ("exp2", lax.exp2, np.exp2, rand_default),
    ("expm1", lax.expm1, np.expm1, rand_default),
    ("log", lax.log, np.log, rand_positive),
    ("log1p", lax.log1p, np.log1p, rand_positive),
    ("sin", lax.sin, np.sin, rand_default),
    ("cos", lax.cos, np.cos, rand_default),
    ("tan", lax.tan, np.tan, rand_unit),
    ("tanh", lax.tanh, np.tanh, rand_default),
    ("logistic", lax.logistic, lambda x: 1 / (1 + np.exp(-x.astype(F64))), rand_default),
    ("sqrt", lax.sqrt, np.sqrt, rand_positive),
    ("rsqrt", lax.rsqrt, lambda x: 1 / np.sqrt(x.astype(F64)), rand_positive),
    ("cbrt", lax.cbrt, np.cbrt, rand_not_small),
    ("erf", lax.erf, scipy.special.erf, rand_default),
    ("asin", lax.asin, np.arcsin, rand_unit),
    ("acos", lax.acos, np.arccos, rand_unit),
    ("atan", lax.atan, np.arctan, rand_default),
    ("sinh", lax.sinh, np.sinh, rand_default),
    ("cosh", lax.cosh, np.cosh, rand_default),
    ("asinh", lax.asinh, np.arcsinh, rand_default),
    ("acosh", lax.acosh, np.arccosh, rand_greater_than_one),
    ("atanh", lax.atanh, np.arctanh, rand_unit),
]:
    _scale = {"scale": 1.0} if _gen is rand_default else {}
    row(_name, _name, _fn, gen(_gen, S, **_scale), _ref, dtypes=(F32, F16))

row("exp_bf16_f64", "exp", lax.exp, gen(rand_default, S, scale=1.0), np.exp, dtypes=(BF16, F64))
row("tanh_f64", "tanh", lax.tanh, gen(rand_default, S), np.tanh, dtypes=(F64,))

# -- unary functions with a zero or sign-like derivative
row("neg", "neg", lax.neg, gen(_int_or(rand_default), S), np.negative, dtypes=(F32, I32, I8))
row("abs", "abs", lax.abs, gen(_int_or(rand_not_small), S), np.abs, dtypes=(F32, I32))
row("sign", "sign", lax.sign, gen(_int_or(rand_not_small), S), np.sign, dtypes=(F32, I32))
row("floor", "floor", lax.floor, gen(rand_fractional, S), np.floor, dtypes=(F32, F16))
row("ceil", "ceil", lax.ceil, gen(rand_fractional, S), np.ceil)
row(
    "round_away_from_zero",
    "round",
    lax.round,
    lambda rng, dt: (np.array([[-2.5, -1.5, -0.5], [0.5, 1.5, 2.7]], dt),),
    lambda x: np.sign(x) * np.floor(np.abs(x) + 0.5),
    no_grad="the values sit on the jumps of round; round_fractional checks its derivative",
)
row(
    "round_half_to_even",
    "round",
    lambda x: lax.round(x, rounding_method=1),
    lambda rng, dt: (np.array([[-2.5, -1.5, -0.5], [0.5, 1.5, 2.7]], dt),),
    lambda x: np.array([[-2.0, -2.0, -0.0], [0.0, 2.0, 3.0]]),
    no_grad="the values sit on the jumps of round; round_fractional checks its derivative",
)
row("round_fractional", "round", lax.round, gen(rand_fractional, S), np.round)
row(
    "is_finite",
    "is_finite",
    lax.is_finite,
    gen(rand_some_nan, (3, 4)),
    np.isfinite,
    dtypes=(F32, F16),
    out=BOOL,
    no_grad="bool output",
)
row(
    "not",
    "not",
    lax.bitwise_not,
    gen(_int_or(rand_default), S),
    np.invert,
    dtypes=(I32, BOOL, U8),
    no_grad="integer and bool operands",
)

# -- integer_pow (static exponent)
for _y, _gen in [(2, rand_default), (3, rand_default), (-3, rand_not_small), (0, rand_default)]:
    row(
        f"integer_pow_{_y}",
        "integer_pow",
        lambda x, y=_y: lax.integer_pow(x, y),
        gen(_int_or(_gen) if _y >= 0 else _gen, S),
        lambda x, y=_y: x.astype(F64) ** y,
        dtypes=(F32, I32) if _y >= 0 else (F32,),
    )

# -- binary arithmetic
row("add", "add", lax.add, gen(_int_or(rand_default), S, S), np.add,
    dtypes=(F32, F16, BF16, I32, U8, F64))  # fmt: skip
row("sub", "sub", lax.sub, gen(_int_or(rand_default), S, S), np.subtract, dtypes=(F32, I32))
row("mul", "mul", lax.mul, gen(_int_or(rand_default), S, S), np.multiply,
    dtypes=(F32, F16, I32, F64))  # fmt: skip
row(
    "div",
    "div",
    lax.div,
    lambda rng, dt: (rand_default(rng)(S, dt), rand_not_small(rng)(S, dt)),
    np.divide,
)
row(
    "div_int",
    "div",
    lax.div,
    lambda rng, dt: (rand_int(rng, -9, 10)(S, dt), _ints_nonzero(rng, S, dt)),
    lambda x, y: np.trunc(x / y),  # C semantics: rounds toward zero
    dtypes=(I32, I8),
    no_grad="integer operands",
)
row(
    "rem",
    "rem",
    lax.rem,
    lambda rng, dt: (rand_default(rng)(S, dt), rand_not_small(rng)(S, dt)),
    np.fmod,
)
row(
    "rem_int",
    "rem",
    lax.rem,
    lambda rng, dt: (rand_int(rng, -9, 10)(S, dt), _ints_nonzero(rng, S, dt)),
    np.fmod,
    dtypes=(I32,),
    no_grad="integer operands",
)
row(
    "pow",
    "pow",
    lax.pow,
    lambda rng, dt: (rand_positive(rng)(S, dt), rand_default(rng, 1.0)(S, dt)),
    np.power,
)
row(
    "atan2",
    "atan2",
    lax.atan2,
    lambda rng, dt: (rand_default(rng)(S, dt), rand_not_small(rng)(S, dt)),
    np.arctan2,
)
row("max", "max", lax.max, _distinct_pair(S), np.maximum, dtypes=(F32, I32))
row("min", "min", lax.min, _distinct_pair(S), np.minimum, dtypes=(F32, I32))
for _name, _fn, _ref in [
    ("and", lax.bitwise_and, np.bitwise_and),
    ("or", lax.bitwise_or, np.bitwise_or),
    ("xor", lax.bitwise_xor, np.bitwise_xor),
]:
    row(_name, _name, _fn, gen(_int_or(rand_default), S, S), _ref, dtypes=(I32, BOOL, U8),
        no_grad="integer and bool operands")  # fmt: skip
for _name, _fn, _ref in [
    ("eq", lax.eq, np.equal),
    ("ne", lax.ne, np.not_equal),
    ("lt", lax.lt, np.less),
    ("le", lax.le, np.less_equal),
    ("gt", lax.gt, np.greater),
    ("ge", lax.ge, np.greater_equal),
]:
    # Small integers (also as floats) so that equal pairs occur.
    row(
        _name,
        _name,
        _fn,
        lambda rng, dt: tuple(rand_int(rng, -2, 3)(S, np.int32).astype(dt) for _ in range(2)),
        _ref,
        dtypes=(F32, I32),
        out=BOOL,
        no_grad="bool output",
    )

# -- select_n
row(
    "select_n_bool",
    "select_n",
    lax.select_n,
    lambda rng, dt: (rand_bool(rng)(S), rand_default(rng)(S, dt), rand_default(rng)(S, dt)),
    lambda p, a, b: np.where(p, b, a),
    dtypes=(F32, I32),
    out=lambda dt: dt,
)
row(
    "select_n_int_three_cases",
    "select_n",
    lax.select_n,
    lambda rng, dt: (rand_int(rng, 0, 3)(S, np.int32), *gen(rand_default, S, S, S)(rng, dt)),
    lambda p, *cases: np.choose(p, cases),
)
row(
    "select_n_scalar_predicate",
    "select_n",
    lax.select_n,
    lambda rng, dt: (np.asarray(rng.random() < 0.5), *gen(rand_default, S, S)(rng, dt)),
    lambda p, a, b: np.where(p, b, a),
)

# -- convert_element_type
row(
    "convert_f32_to_i32",
    "convert_element_type",
    lambda x: lax.convert_element_type(x, np.int32),
    gen(rand_default, S),
    np.trunc,
    out=I32,
    order=1,
)
row(
    "convert_saturates_and_maps_nan_to_zero",
    "convert_element_type",
    lambda x: lax.convert_element_type(x, np.int32),
    lambda rng, dt: (np.array([np.nan, np.inf, -np.inf, 3e9, -3e9, -2.7], dt),),
    lambda x: np.array([0, 2**31 - 1, -(2**31), 2**31 - 1, -(2**31), -2]),
    out=I32,
    no_grad="non-finite inputs",
)
row(
    "convert_f16_to_f32",
    "convert_element_type",
    lambda x: lax.convert_element_type(x, np.float32),
    gen(rand_default, S),
    lambda x: x,
    dtypes=(F16,),
    out=F32,
    grad_tol=2e-3,  # the second-order functions round through float32
    grad_eps=1e-3,
)
row(
    "convert_f32_to_f16",
    "convert_element_type",
    lambda x: lax.convert_element_type(x, np.float16),
    gen(rand_default, S),
    lambda x: x,
    out=F16,
    grad_tol=5e-2,  # the second-order functions round through float16
    grad_eps=5e-2,
)
row(
    "convert_i32_to_f32",
    "convert_element_type",
    lambda x: lax.convert_element_type(x, np.float32),
    gen(rand_int, S),
    lambda x: x,
    dtypes=(I32,),
    out=F32,
    no_grad="integer input",
)
row(
    "convert_f32_to_bool",
    "convert_element_type",
    lambda x: lax.convert_element_type(x, np.bool_),
    lambda rng, dt: (rand_int(rng, -1, 2)(S, dt),),
    lambda x: x != 0,
    out=BOOL,
    no_grad="bool output",
)

# -- stop_gradient
row(
    "stop_gradient",
    "stop_gradient",
    lax.stop_gradient,
    gen(rand_default, S),
    lambda x: x,
    no_grad="its derivative is zero by definition (test_stop_gradient_has_zero_derivative)",
)

# -- shapes and layouts
row(
    "broadcast_in_dim_row",
    "broadcast_in_dim",
    lambda x: lax.broadcast_in_dim(x, (2, 3), (1,)),
    gen(rand_default, (3,)),
    lambda x: np.broadcast_to(x, (2, 3)),
    dtypes=(F32, I32),
)
row(
    "broadcast_in_dim_size_one",
    "broadcast_in_dim",
    lambda x: lax.broadcast_in_dim(x, (3, 2, 4), (0, 2)),
    gen(rand_default, (3, 1)),
    lambda x: np.broadcast_to(x[:, None, :], (3, 2, 4)),
)
row(
    "broadcast_in_dim_scalar",
    "broadcast_in_dim",
    lambda x: lax.broadcast_in_dim(x, (2, 2), ()),
    gen(rand_default, ()),
    lambda x: np.full((2, 2), x),
)
row(
    "reshape",
    "reshape",
    lambda x: lax.reshape(x, (3, 4)),
    gen(rand_default, (2, 3, 2)),
    lambda x: x.reshape(3, 4),
    dtypes=(F32, BOOL),
)
row(
    "transpose",
    "transpose",
    lambda x: lax.transpose(x, (2, 0, 1)),
    gen(_int_or(rand_default), (2, 3, 4)),
    lambda x: np.transpose(x, (2, 0, 1)),
    dtypes=(F32, I32),
)
row(
    "rev",
    "rev",
    lambda x: lax.rev(x, (1,)),
    gen(rand_default, (3, 4)),
    lambda x: x[:, ::-1],
)
row(
    "rev_two_axes",
    "rev",
    lambda x: lax.rev(x, (0, 1)),
    gen(rand_default, (3, 4)),
    lambda x: x[::-1, ::-1],
)

# -- reductions
row("reduce_sum", "reduce_sum", lambda x: lax.reduce_sum(x, (1,)), gen(_int_or(rand_default), (3, 4)),
    lambda x: np.sum(x, axis=1), dtypes=(F32, I32, F16), tol=None)  # fmt: skip
row(
    "reduce_sum_all",
    "reduce_sum",
    lambda x: lax.reduce_sum(x, (0, 1)),
    gen(rand_default, (3, 4)),
    np.sum,
)
row(
    "reduce_prod",
    "reduce_prod",
    lambda x: lax.reduce_prod(x, (0,)),
    gen(_int_or(rand_not_small), (3, 4)),
    lambda x: np.prod(x, axis=0),
    dtypes=(F32, I32),
)
row(
    "reduce_prod_with_a_zero",
    "reduce_prod",
    lambda x: lax.reduce_prod(x, (1,)),
    lambda rng, dt: (rand_not_small(rng)((3, 4), dt) * np.array([1, 0, 1, 1], dt),),
    lambda x: np.prod(x, axis=1),
)
row(
    "reduce_max",
    "reduce_max",
    lambda x: lax.reduce_max(x, (1,)),
    gen(rand_distinct, (3, 4)),
    lambda x: np.max(x, axis=1),
    dtypes=(F32, I32),
)
row(
    "reduce_min",
    "reduce_min",
    lambda x: lax.reduce_min(x, (0, 1)),
    gen(rand_distinct, (3, 4)),
    np.min,
    dtypes=(F32, I32),
)
row(
    "reduce_max_empty_axis",
    "reduce_max",
    lambda x: lax.reduce_max(x, (1,)),
    gen(rand_default, (3, 0)),
    lambda x: np.full((3,), -np.inf),
    no_grad="the reduced axis is empty",
)
row(
    "reduce_and",
    "reduce_and",
    lambda x: lax.reduce_and(x, (0,)),
    gen(rand_bool, (3, 4)),
    lambda x: np.all(x, axis=0),
    dtypes=(BOOL,),
    no_grad="bool operands",
)
row(
    "reduce_or",
    "reduce_or",
    lambda x: lax.reduce_or(x, (1,)),
    gen(rand_bool, (3, 4)),
    lambda x: np.any(x, axis=1),
    dtypes=(BOOL,),
    no_grad="bool operands",
)
row(
    "argmax",
    "argmax",
    lambda x: lax.argmax(x, 1),
    gen(rand_distinct, (3, 4)),
    lambda x: np.argmax(x, axis=1),
    dtypes=(F32, I32),
    out=I32,
    order=1,
)
row(
    "argmax_nan_is_largest",
    "argmax",
    lambda x: lax.argmax(x, 0),
    gen(rand_some_nan, (6, 3)),
    lambda x: np.argmax(x, axis=0),
    out=I32,
    no_grad="non-finite inputs",
)
row(
    "argmin",
    "argmin",
    lambda x: lax.argmin(x, 0),
    gen(rand_distinct, (3, 4)),
    lambda x: np.argmin(x, axis=0),
    dtypes=(F32, I32),
    out=I32,
    order=1,
)

# -- dot_general
_MATMUL = (((1,), (0,)), ((), ()))
row(
    "dot_general_matmul",
    "dot_general",
    lambda a, b: lax.dot_general(a, b, _MATMUL),
    gen(_int_or(rand_default), (2, 3), (3, 4)),
    lambda a, b: a.astype(F64) @ b.astype(F64),
    dtypes=(F32, I32, F16),
    tol=None,
)
row(
    "dot_general_batched",
    "dot_general",
    lambda a, b: lax.dot_general(a, b, (((2,), (1,)), ((0,), (0,)))),
    gen(rand_default, (2, 3, 4), (2, 4, 5)),
    lambda a, b: np.einsum("bij,bjk->bik", a, b),
)
row(
    "dot_general_odd_dims",
    "dot_general",
    lambda a, b: lax.dot_general(a, b, (((0,), (1,)), ((2,), (0,)))),
    gen(rand_default, (3, 2, 4), (4, 3, 5)),
    lambda a, b: np.einsum("jib,bjk->bik", a, b),
)
row(
    "dot_general_vector",
    "dot_general",
    lambda a, b: lax.dot_general(a, b, (((0,), (0,)), ((), ()))),
    gen(rand_default, (3,), (3,)),
    np.dot,
)
row(
    "dot_general_preferred_element_type",
    "dot_general",
    lambda a, b: lax.dot_general(a, b, _MATMUL, preferred_element_type=np.int32),
    lambda rng, dt: tuple(rand_int(rng, 60, 100)(s, dt) for s in [(2, 3), (3, 2)]),
    lambda a, b: a.astype(np.int64) @ b.astype(np.int64),  # accumulates without overflow
    dtypes=(I8,),
    out=I32,
    no_grad="integer operands",
)

# -- slicing, padding, concatenation, iota
row(
    "slice",
    "slice",
    lambda x: lax.slice(x, (1, 0), (4, 6), (2, 3)),
    gen(rand_default, (5, 6)),
    lambda x: x[1:4:2, 0:6:3],
    dtypes=(F32, I32),
)
row(
    "slice_empty",
    "slice",
    lambda x: lax.slice(x, (2, 1), (2, 3)),
    gen(rand_default, (5, 6)),
    lambda x: x[2:2, 1:3],
)


def _np_pad(x, pad_value, config):
    """lax.pad semantics written with NumPy: interior padding, then low/high (negative
    values crop)."""
    out = np.asarray(x)
    for axis, (lo, hi, interior) in enumerate(config):
        n = out.shape[axis]
        size = n + max(n - 1, 0) * interior
        shape = list(out.shape)
        shape[axis] = size
        grown = np.full(shape, pad_value, out.dtype)
        index = [slice(None)] * out.ndim
        index[axis] = slice(0, size, interior + 1)
        grown[tuple(index)] = out
        pads = [(0, 0)] * out.ndim
        pads[axis] = (max(lo, 0), max(hi, 0))
        grown = np.pad(grown, pads, constant_values=pad_value)
        index = [slice(None)] * out.ndim
        index[axis] = slice(max(-lo, 0), grown.shape[axis] - max(-hi, 0))
        out = grown[tuple(index)]
    return out


_PAD_CONFIG = ((1, 2, 1), (0, -1, 0))
row(
    "pad",
    "pad",
    lambda x, v: lax.pad(x, v, _PAD_CONFIG),
    gen(rand_default, (2, 3), ()),
    lambda x, v: _np_pad(x, v, _PAD_CONFIG),
    dtypes=(F32, I32),
)
_PAD_CROP = ((-1, 1, 0), (2, -2, 2))
row(
    "pad_crop_interior",
    "pad",
    lambda x, v: lax.pad(x, v, _PAD_CROP),
    gen(rand_default, (3, 3), ()),
    lambda x, v: _np_pad(x, v, _PAD_CROP),
)
row(
    "concatenate",
    "concatenate",
    lambda a, b, c: lax.concatenate([a, b, c], 0),
    gen(_int_or(rand_default), (2, 3), (1, 3), (3, 3)),
    lambda a, b, c: np.concatenate([a, b, c], 0),
    dtypes=(F32, I32),
)
row(
    "concatenate_axis1",
    "concatenate",
    lambda a, b: lax.concatenate([a, b], 1),
    gen(rand_default, (2, 3), (2, 1)),
    lambda a, b: np.concatenate([a, b], 1),
)
row(
    "iota",
    "iota",
    lambda: lax.iota(np.int32, (3, 4), 1),
    lambda rng, dt: (),
    lambda: np.broadcast_to(np.arange(4), (3, 4)),
    dtypes=(I32,),
    no_grad="no operands",
    no_batch="no operands, so nothing to map (its no_rule_reasons['batch'] says so)",
)


# -- dynamic slicing
def _clamp(start, dim, size):
    return min(max(int(start), 0), dim - size)


def _ds_args(starts):
    def make(rng, dt):
        i, j = (np.asarray(s, np.int32) for s in starts(rng))
        return rand_default(rng)((5, 4), dt), i, j

    return make


def _ds_ref(x, i, j):
    i, j = _clamp(i, 5, 2), _clamp(j, 4, 3)
    return x[i : i + 2, j : j + 3]


row(
    "dynamic_slice",
    "dynamic_slice",
    lambda x, i, j: lax.dynamic_slice(x, (i, j), (2, 3)),
    _ds_args(lambda rng: (rng.integers(0, 4), rng.integers(0, 2))),
    _ds_ref,
    dtypes=(F32, I32),
)
row(
    "dynamic_slice_clamped",
    "dynamic_slice",
    lambda x, i, j: lax.dynamic_slice(x, (i, j), (2, 3)),
    _ds_args(lambda rng: (rng.integers(-3, 8), rng.integers(-3, 8))),
    _ds_ref,
)


def _dus_ref(x, u, i, j):
    out = x.copy()
    i, j = _clamp(i, 5, 2), _clamp(j, 4, 3)
    out[i : i + 2, j : j + 3] = u
    return out


def _dus_args(lo, hi):
    def make(rng, dt):
        x, u = rand_default(rng)((5, 4), dt), rand_default(rng)((2, 3), dt)
        return x, u, *(np.asarray(rng.integers(lo, hi), np.int32) for _ in range(2))

    return make


row(
    "dynamic_update_slice",
    "dynamic_update_slice",
    lambda x, u, i, j: lax.dynamic_update_slice(x, u, (i, j)),
    _dus_args(0, 2),
    _dus_ref,
    dtypes=(F32, I32),
)
row(
    "dynamic_update_slice_clamped",
    "dynamic_update_slice",
    lambda x, u, i, j: lax.dynamic_update_slice(x, u, (i, j)),
    _dus_args(-3, 8),
    _dus_ref,
)


# -- gather and scatter (index the leading axes)
def _gather_args(lo, hi):
    def make(rng, dt):
        x = rand_default(rng)((4, 5, 3), dt)
        return (
            x,
            rng.integers(lo, hi, (2, 3)).astype(np.int32),
            rng.integers(lo, hi + 1, (2, 3)).astype(np.int32),
        )

    return make


row(
    "gather",
    "gather",
    lambda x, i, j: lax.gather(x, [i, j]),
    _gather_args(0, 4),
    lambda x, i, j: x[i, j],
    dtypes=(F32, I32),
)
row(
    "gather_clip",
    "gather",
    lambda x, i, j: lax.gather(x, [i, j], mode="clip"),
    _gather_args(-3, 8),
    lambda x, i, j: x[np.clip(i, 0, 3), np.clip(j, 0, 4)],
)
row(
    "gather_fill",
    "gather",
    lambda x, i, j: lax.gather(x, [i, j], mode="fill", fill_value=-7.0),
    _gather_args(-3, 8),
    lambda x, i, j: np.where(
        ((i >= 0) & (i < 4) & (j >= 0) & (j < 5))[..., None],
        x[np.clip(i, 0, 3), np.clip(j, 0, 4)],
        -7.0,
    ),
)


def _scatter_args(unique, distinct=False, oob=False):
    def make(rng, dt):
        if unique:
            idx = rng.permutation(5)[:4]
        else:
            idx = rng.integers(0, 5, 4)
        if oob:
            idx = np.array([0, -1, 5, 2])
        if distinct:
            both = rand_distinct(rng)((9, 3), dt)
            x, u = both[:5], both[5:]
        else:
            x, u = rand_default(rng)((5, 3), dt), rand_default(rng)((4, 3), dt)
        return x, idx.astype(np.int32), u

    return make


def _np_scatter(ufunc, drop_oob=False):
    def ref(x, i, u):
        out = x.copy()
        if drop_oob:
            keep = (i >= 0) & (i < x.shape[0])
            i, u = i[keep], u[keep]
        if ufunc is None:
            out[i] = u
        else:
            ufunc.at(out, i, u)
        return out

    return ref


for _combine, _ufunc, _args, _extra in [
    ("add", np.add, _scatter_args(unique=False), {"dtypes": (F32, I32)}),
    ("set", None, _scatter_args(unique=True), {}),
    ("min", np.minimum, _scatter_args(unique=True, distinct=True), {}),
    ("max", np.maximum, _scatter_args(unique=False, distinct=True), {}),
    (
        "mul",
        np.multiply,
        _scatter_args(unique=False),
        {"no_grad": "the derivative of scatter-multiply is not implemented (test_errors)"},
    ),
]:
    row(
        f"scatter_{_combine}",
        "scatter",
        lambda x, i, u, c=_combine: lax.scatter(x, [i], u, combine=c),
        _args,
        _np_scatter(_ufunc),
        **_extra,
    )
row(
    "scatter_add_drops_out_of_bounds",
    "scatter",
    lambda x, i, u: lax.scatter(x, [i], u, combine="add", mode="drop"),
    _scatter_args(unique=True, oob=True),
    _np_scatter(np.add, drop_oob=True),
)


# -- primitives that hold a program
def _jit_body(x, y):
    return dnp.sin(x) * y + x


row(
    "jit_call",
    "jit_call",
    lambda x, y: dx.jit(_jit_body)(x, y),  # a fresh jit per call: no cross-test cache
    gen(rand_default, S, S),
    lambda x, y: np.sin(x) * y + x,
)


@dx.custom_jvp
def _softplus(x):
    return dnp.log1p(dnp.exp(x))


@_softplus.defjvp
def _softplus_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return _softplus(x), t * lax.logistic(x)


row(
    "custom_jvp_call",
    "custom_jvp_call",
    _softplus,
    gen(rand_default, S),
    lambda x: np.logaddexp(0, x.astype(F64)),
)


@dx.custom_vjp
def _scaled_tanh(x, y):
    return dnp.tanh(x) * y


def _scaled_tanh_fwd(x, y):
    t = dnp.tanh(x)
    return t * y, (t, y)


def _scaled_tanh_bwd(res, ct):
    t, y = res
    return ct * y * (1 - t * t), ct * t


_scaled_tanh.defvjp(_scaled_tanh_fwd, _scaled_tanh_bwd)
row(
    "custom_vjp_call",
    "custom_vjp_call",
    _scaled_tanh,
    gen(rand_default, S, S),
    lambda x, y: np.tanh(x) * y,
    modes=("rev",),  # custom_vjp has no forward mode (test_transforms checks the error)
)


# --- random bits and derivax.random kernels
from derivax.lax import _bits as _bits_mod  # noqa: E402 - the private fma primitive
from derivax.random import _discrete as _rdiscrete  # noqa: E402 - stable_argsort
from derivax.random import _gamma as _rgamma  # noqa: E402

U32 = np.dtype(np.uint32)


def _u32(rng, shape):
    return rng.integers(0, 2**32, shape, dtype=np.uint64).astype(np.uint32)


def _threefry_ref(k1, k2, x1, x2):
    """Threefry-2x32 (20 rounds), written out with Python ints."""
    mask = 0xFFFFFFFF
    out = np.empty((2, *x1.shape), np.uint32)
    for idx in np.ndindex(x1.shape):
        ks = [int(k1[idx]), int(k2[idx])]
        ks.append(ks[0] ^ ks[1] ^ 0x1BD11BDA)
        a, b = (int(x1[idx]) + ks[0]) & mask, (int(x2[idx]) + ks[1]) & mask
        for i in range(5):
            for r in ((13, 15, 26, 6), (17, 29, 16, 24))[i % 2]:
                a = (a + b) & mask
                b = (((b << r) | (b >> (32 - r))) & mask) ^ a
            a = (a + ks[(i + 1) % 3]) & mask
            b = (b + ks[(i + 2) % 3] + i + 1) & mask
        out[(0, *idx)], out[(1, *idx)] = a, b
    return out[0], out[1]


def _key_data(rng, dt):
    return _u32(rng, (2,))


_BITS = "integer bit manipulation: nothing to differentiate"
row(
    "threefry2x32",
    "threefry2x32",
    lax.threefry2x32,
    lambda rng, dt: tuple(_u32(rng, S) for _ in range(4)),
    _threefry_ref,
    dtypes=(U32,),
    no_grad=_BITS,
)
row(
    "shift_left",
    "shift_left",
    lax.shift_left,
    lambda rng, dt: (_u32(rng, S), rng.integers(0, 40, S).astype(dt)),
    lambda x, y: np.where(y < 32, x.astype(np.uint64) << np.minimum(y, 31).astype(np.uint64), 0),
    dtypes=(U32,),
    no_grad=_BITS,
)
row(
    "shift_right_logical",
    "shift_right_logical",
    lax.shift_right_logical,
    lambda rng, dt: (_u32(rng, S), rng.integers(0, 40, S).astype(dt)),
    lambda x, y: np.where(y < 32, x >> np.minimum(y, 31), 0),
    dtypes=(U32,),
    no_grad=_BITS,
)
row(
    "shift_right_arithmetic",
    "shift_right_arithmetic",
    lax.shift_right_arithmetic,
    lambda rng, dt: (rng.integers(-1000, 1000, S).astype(dt), rng.integers(0, 40, S).astype(dt)),
    lambda x, y: x.astype(np.int64) >> np.minimum(y, 31),
    dtypes=(I32,),
    no_grad=_BITS,
)
row(
    "clz",
    "clz",
    lax.clz,
    lambda rng, dt: (_u32(rng, S) >> rng.integers(0, 32, S).astype(np.uint32),),
    lambda x: np.array([32 - int(v).bit_length() for v in x.ravel()]).reshape(x.shape),
    dtypes=(U32,),
    no_grad=_BITS,
)
row(
    "bitcast_convert_type",
    "bitcast_convert_type",
    lambda x: lax.bitcast_convert_type(x, np.uint32),
    gen(rand_default, S),
    lambda x: x.view(np.uint32),
    out=np.uint32,
    no_grad="the result is the bits of the input (zero derivative by definition)",
)
row(
    "bitcast_convert_type_narrow",
    "bitcast_convert_type",
    lambda x: lax.bitcast_convert_type(x, np.uint8),
    lambda rng, dt: (_u32(rng, S),),
    lambda x: x.view(np.uint8).reshape(*x.shape, 4),
    dtypes=(U32,),
    out=np.uint8,
    no_grad=_BITS,
)
row(
    "erf_inv",
    "erf_inv",
    lax.erf_inv,
    gen(rand_unit, S),
    lambda x: scipy.special.erfinv(x.astype(F64)),
    dtypes=(F32, F16, F64),
)
row(
    "nextafter",
    "nextafter",
    lax.nextafter,
    gen(rand_default, S, S),
    np.nextafter,
    dtypes=(F32, F64),
    no_grad="no derivative rule: it steps to the neighbouring floating-point number",
)
row(
    "fma",
    "fma",
    _bits_mod.fma,
    gen(rand_default, S, S, S),
    lambda x, y, z: x.astype(F64) * y + z,
    dtypes=(F32, F64),
)
row(
    "stable_argsort",
    "stable_argsort",
    lambda x: _rdiscrete.stable_argsort(x, -1),
    lambda rng, dt: (rng.integers(0, 3, S).astype(dt),),
    lambda x: np.argsort(x, axis=-1, kind="stable"),
    dtypes=(U32, F32),
    out=np.int32,
    no_grad="integer indices",
)


def _gamma_grad_ref(a, x):
    """d x / d a at a fixed CDF value, from scipy's inverse incomplete gamma function."""
    a, x = a.astype(F64), x.astype(F64)
    u, h = scipy.special.gammainc(a, x), 1e-6 * a
    return (scipy.special.gammaincinv(a + h, u) - scipy.special.gammaincinv(a - h, u)) / (2 * h)


row(
    "random_gamma_grad",
    "random_gamma_grad",
    _rgamma.random_gamma_grad_p.bind,
    gen(rand_positive, S, S),
    _gamma_grad_ref,
    no_grad="no second derivative of gamma samples (documented in its no_rule_reasons)",
)


# --------------------------------------------------------------------------- expansion


def _cases(select):
    return [
        pytest.param(r, dt, id=f"{r.id}-{dt.name}") for r in ROWS if select(r) for dt in r.dtypes
    ]


def _rng(r, dt, salt=""):
    return np.random.default_rng(zlib.crc32(f"{r.id}/{dt.name}/{salt}".encode()))


@pytest.mark.parametrize("r,dt", _cases(lambda r: True))
def test_against_numpy(r, dt):
    with x64_context(dt, r.out_dtype(dt)):
        args = r.args(_rng(r, dt), dt)
        check_against_numpy(r.fun, r.ref, args, dtype=r.out_dtype(dt), rtol=r.tol, atol=r.tol)


@pytest.mark.parametrize("r,dt", _cases(lambda r: True))
def test_jit(r, dt):
    with x64_context(dt, r.out_dtype(dt)):
        check_jit(r.fun, r.args(_rng(r, dt), dt))


def _batch_cases():
    cases = []
    for r in ROWS:
        if r.no_batch:
            continue
        nargs = len(r.args(_rng(r, r.dtypes[0]), r.dtypes[0]))
        variants = [("all", (0,) * nargs)]
        if nargs > 1:
            variants += [
                (f"only{k}", tuple(0 if i == k else None for i in range(nargs)))
                for k in range(nargs)
            ]
        for dt in r.dtypes:
            for label, axes in variants:
                cases.append(pytest.param(r, dt, axes, id=f"{r.id}-{dt.name}-{label}"))
    return cases


@pytest.mark.parametrize("r,dt,in_axes", _batch_cases())
def test_vmap(r, dt, in_axes):
    batch = 3
    with x64_context(dt, r.out_dtype(dt)):
        rng = _rng(r, dt, "vmap")
        examples = [r.args(rng, dt) for _ in range(batch)]
        args = [
            np.stack([ex[k] for ex in examples]) if ax == 0 else examples[0][k]
            for k, ax in enumerate(in_axes)
        ]
        check_batching(r.fun, args, in_axes=in_axes)


@pytest.mark.parametrize("r", [pytest.param(r, id=r.id) for r in ROWS if r.order])
def test_grads(r):
    dt = next(d for d in r.dtypes if is_float(d))
    args = r.args(_rng(r, dt, "grad"), dt)
    check_grads(
        r.fun, args, order=r.order, modes=r.modes, atol=r.grad_tol, rtol=r.grad_tol, eps=r.grad_eps
    )


def test_stop_gradient_has_zero_derivative():
    x = np.array([1.0, -2.0, 3.0], np.float32)
    _, t = dx.jvp(lax.stop_gradient, (x,), (np.ones(3, np.float32),))
    np.testing.assert_array_equal(np.asarray(t), np.zeros(3, np.float32))
    g = dx.grad(lambda x: dnp.sum(lax.stop_gradient(x) * x))(x)
    np.testing.assert_array_equal(np.asarray(g), x)  # d/dx (c * x) with c = x held fixed


# --------------------------------------------------------------------------- registry


def _registered():
    return sorted(n for n in REGISTRY if n not in PENDING)


def test_every_primitive_has_a_row():
    covered = {r.prim for r in ROWS}
    missing = [n for n in _registered() if n not in covered and n not in NO_ROW]
    assert not missing, (
        f"primitives without a row in tests/test_primitives.py: {missing}. Add a row (or, "
        "for work in progress, a PENDING entry)."
    )


def test_rows_name_registered_primitives():
    stale = sorted({r.prim for r in ROWS} - set(REGISTRY)) + sorted(set(NO_ROW) - set(REGISTRY))
    assert not stale, f"rows for primitives that are not registered: {stale}"
    done = sorted(PENDING & {r.prim for r in ROWS})
    assert not done, f"{done} have rows now: remove them from PENDING"
    assert len({r.id for r in ROWS}) == len(ROWS), "row ids must be unique"


def _ir_primitives(closed):
    names = set()
    for eqn in closed.eqns:
        names.add(eqn.prim.name)
        for p in eqn.params.values():
            if isinstance(p, dx.ClosedIR):
                names |= _ir_primitives(p)
    return names


@pytest.mark.parametrize("r", [pytest.param(r, id=r.id) for r in ROWS])
def test_row_binds_its_primitive(r):
    dt = r.dtypes[0]
    with x64_context(dt, r.out_dtype(dt)):
        args = [dnp.asarray(a) for a in r.args(_rng(r, dt), dt)]
        closed = dx.make_jaxpr(r.fun)(*args)
    assert r.prim in _ir_primitives(closed), f"{r.id} does not bind {r.prim}:\n{closed}"


@pytest.mark.parametrize("name", _registered())
def test_primitive_has_its_rules(name):
    p = REGISTRY[name]
    assert p.impl is not None, f"{name} has no impl"
    assert p.abstract_eval is not None, f"{name} has no abstract_eval"
    for kind in ("jvp", "batch"):
        assert getattr(p, kind) is not None or p.no_rule_reasons.get(kind), (
            f"{name} has no {kind} rule and no no_rule_reasons[{kind!r}]"
        )
    if p.linear:
        assert p.transpose is not None, f"{name} is marked linear but has no transpose rule"
    if p.transpose is not None:
        assert p.linear, f"{name} has a transpose rule but is not marked linear"


def test_missing_rules_raise_errors_naming_the_primitive():
    p = REGISTRY["iota"]
    with pytest.raises(NotImplementedError, match="iota.*batch.*Reason: iota takes no operands"):
        p.rule("batch")
    with pytest.raises(dx.NotDifferentiableError, match="'custom_lin' has no jvp rule"):
        REGISTRY["custom_lin"].rule("jvp")
