"""``derivax.nn``: activations, initializers and the functional layer math.

* Activations are rows of a table run through the shared harness (value and dtype vs a
  NumPy/SciPy reference written here, eager vs ``jit``, ``vmap`` vs a loop, numerical
  gradients to second order at points away from kinks), plus stability checks for large
  inputs and the intended derivatives at kinks.
* Initializers: shapes, dtypes, statistics, fans, errors.
* Layers (dense, conv, pooling, normalization, dropout, embedding, attention): rows through
  the harness against NumPy references, plus their conventions (running averages,
  ``count_include_pad``, dropout scaling, masks).
* Oracle tests (marker ``oracle``): JAX's ``jax.nn`` activations, initializers (the same
  key gives the same values) and ``dot_product_attention``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import zlib
from collections.abc import Callable

import numpy as np
import pytest
import scipy.special

sys.path.insert(0, os.path.dirname(__file__))

import derivax as dx  # noqa: E402
import derivax.numpy as dnp  # noqa: E402
from derivax import nn  # noqa: E402
from derivax.nn import initializers as init  # noqa: E402
from harness import (  # noqa: E402
    F16,
    F32,
    check_against_numpy,
    check_batching,
    check_grads,
    check_jit,
    rand_bool,
    rand_default,
    rand_distinct,
    rand_positive,
)
from test_conv import conv_reference, reduce_window_reference  # noqa: E402

I32 = np.dtype(np.int32)

# --------------------------------------------------------------------------- generators


def rand_away_from(kinks, low=-8.0, high=8.0, gap=0.2):
    """Uniform values at least ``gap`` away from every kink (so central differences and
    second derivatives are well defined)."""

    def make(rng):
        def gen(shape, dtype):
            vals = rng.uniform(low, high, shape)
            for _ in range(100):
                bad = np.zeros(shape, bool)
                for k in kinks:
                    bad |= np.abs(vals - k) < gap
                if not bad.any():
                    break
                vals = np.where(bad, rng.uniform(low, high, shape), vals)
            return vals.astype(dtype)

        return gen

    return make


def _gen(factory, *shapes):
    return lambda rng, dt: tuple(factory(rng)(s, dt) for s in shapes)


# --------------------------------------------------------------------------- references


def _np_softplus(x):
    return np.logaddexp(x, 0.0)


def _np_softmax(x, axis=-1, where=None):
    if where is not None:
        x = np.where(where, x, -np.inf)
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    e = np.exp(x - m)
    s = np.sum(e, axis=axis, keepdims=True)
    out = e / np.where(s > 0, s, 1.0)
    return out if where is None else np.where(where, out, 0.0)


SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946

# name -> (derivax function, NumPy reference, kinks)
ELEMENTWISE = {
    "relu": (nn.relu, lambda x: np.maximum(x, 0), [0]),
    "relu6": (nn.relu6, lambda x: np.clip(x, 0, 6), [0, 6]),
    "sigmoid": (nn.sigmoid, scipy.special.expit, []),
    "log_sigmoid": (nn.log_sigmoid, scipy.special.log_expit, []),
    "softplus": (nn.softplus, _np_softplus, []),
    "silu": (nn.silu, lambda x: x * scipy.special.expit(x), []),
    "swish": (nn.swish, lambda x: x * scipy.special.expit(x), []),
    "soft_sign": (nn.soft_sign, lambda x: x / (np.abs(x) + 1), [0]),
    "elu": (nn.elu, lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))), [0]),
    "elu_alpha": (
        lambda x: nn.elu(x, alpha=0.5),
        lambda x: np.where(x > 0, x, 0.5 * np.expm1(np.minimum(x, 0))),
        [0],
    ),
    "selu": (
        nn.selu,
        lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0))),
        [0],
    ),
    "celu": (
        lambda x: nn.celu(x, alpha=2.0),
        lambda x: np.maximum(x, 0) + 2.0 * np.expm1(np.minimum(x, 0) / 2.0),
        [0],
    ),
    "leaky_relu": (nn.leaky_relu, lambda x: np.where(x >= 0, x, 0.01 * x), [0]),
    "leaky_relu_slope": (
        lambda x: nn.leaky_relu(x, negative_slope=0.3),
        lambda x: np.where(x >= 0, x, 0.3 * x),
        [0],
    ),
    "hard_tanh": (nn.hard_tanh, lambda x: np.clip(x, -1, 1), [-1, 1]),
    "hard_sigmoid": (nn.hard_sigmoid, lambda x: np.clip(x + 3, 0, 6) / 6, [-3, 3]),
    "hard_swish": (nn.hard_swish, lambda x: x * np.clip(x + 3, 0, 6) / 6, [-3, 3]),
    "hard_silu": (nn.hard_silu, lambda x: x * np.clip(x + 3, 0, 6) / 6, [-3, 3]),
    "mish": (nn.mish, lambda x: x * np.tanh(_np_softplus(x)), []),
    "gelu_tanh": (
        nn.gelu,
        lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
        [],
    ),
    "gelu_exact": (
        lambda x: nn.gelu(x, approximate=False),
        lambda x: 0.5 * x * (1 + scipy.special.erf(x / math.sqrt(2))),
        [],
    ),
    "tanh": (nn.tanh, np.tanh, []),
}


@dataclasses.dataclass(frozen=True)
class Row:
    """One case: ``args(rng, dtype)`` gives NumPy arrays; ``ref`` is the NumPy reference."""

    id: str
    fun: Callable
    args: Callable
    ref: Callable
    dtypes: tuple = (F32,)
    out: object = None  # output dtype; None means the input dtype
    order: int = 2
    batch: bool = True
    tol: float | None = None


ROWS: list[Row] = []

for _name, (_fn, _ref, _kinks) in ELEMENTWISE.items():
    ROWS.append(
        Row(_name, _fn, _gen(rand_away_from(_kinks), (3, 4)), _ref, dtypes=(F32, F16), tol=None)
    )

ROWS += [
    Row(
        "glu",
        nn.glu,
        _gen(rand_default, (3, 4)),
        lambda x: x[:, :2] * scipy.special.expit(x[:, 2:]),
    ),  # fmt: skip
    Row(
        "glu_axis0",
        lambda x: nn.glu(x, axis=0),
        _gen(rand_default, (4, 3)),
        lambda x: x[:2] * scipy.special.expit(x[2:]),
    ),  # fmt: skip
    Row("softmax", nn.softmax, _gen(rand_default, (3, 5)), _np_softmax, dtypes=(F32, F16)),
    Row(
        "softmax_axis0",
        lambda x: nn.softmax(x, axis=0),
        _gen(rand_default, (3, 5)),
        lambda x: _np_softmax(x, axis=0),
    ),  # fmt: skip
    Row(
        "softmax_two_axes",
        lambda x: nn.softmax(x, axis=(0, 2)),
        _gen(rand_default, (2, 3, 4)),
        lambda x: _np_softmax(x, axis=(0, 2)),
    ),  # fmt: skip
    Row(
        "softmax_where",
        lambda x, w: nn.softmax(x, where=w),
        lambda rng, dt: (rand_default(rng)((3, 5), dt), rand_bool(rng)((3, 5))),
        lambda x, w: _np_softmax(x, where=w),
    ),
    Row(
        "log_softmax",
        nn.log_softmax,
        _gen(rand_default, (3, 5)),
        lambda x: np.log(_np_softmax(x)),
        dtypes=(F32, F16),
    ),
    Row(
        "log_softmax_where",
        # -inf at masked positions; keep the rest (finite) for the numerical derivatives.
        lambda x, w: dnp.where(w, nn.log_softmax(x, where=w), 0.0),
        lambda rng, dt: (rand_default(rng)((3, 5), dt), np.arange(15).reshape(3, 5) % 3 != 1),
        lambda x, w: np.where(w, np.log(np.where(w, _np_softmax(x, where=w), 1.0)), 0.0),
    ),
    Row(
        "logsumexp", nn.logsumexp, _gen(rand_default, (3, 4)), lambda x: scipy.special.logsumexp(x)
    ),  # fmt: skip
    Row(
        "logsumexp_axis_keepdims",
        lambda x: nn.logsumexp(x, axis=1, keepdims=True),
        _gen(rand_default, (3, 4)),
        lambda x: scipy.special.logsumexp(x, axis=1, keepdims=True),
    ),  # fmt: skip
    Row(
        "logsumexp_b",
        lambda x, b: nn.logsumexp(x, axis=0, b=b),
        lambda rng, dt: (rand_default(rng)((3, 4), dt), rand_positive(rng)((3, 4), dt)),
        lambda x, b: scipy.special.logsumexp(x, axis=0, b=b),
    ),
    Row(
        "standardize",
        nn.standardize,
        _gen(rand_default, (3, 6)),
        lambda x: (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5),
    ),  # fmt: skip
    Row(
        "one_hot",
        lambda i: nn.one_hot(i, 4),
        lambda rng, dt: (rng.integers(-1, 5, (2, 3)).astype(dt),),
        lambda i: (i[..., None] == np.arange(4)).astype(np.float32),
        dtypes=(I32,),
        out=F32,
        order=0,
    ),
    Row(
        "one_hot_axis0",
        lambda i: nn.one_hot(i, 3, axis=0, dtype=np.int32),
        lambda rng, dt: (rng.integers(0, 3, (4,)).astype(dt),),
        lambda i: (np.arange(3)[:, None] == i[None]).astype(np.int32),
        dtypes=(I32,),
        out=I32,
        order=0,
    ),
]


# --------------------------------------------------------------------------- layer rows


def _np_layer_norm(x, axes, eps):
    m = x.mean(axis=axes, keepdims=True)
    v = ((x - m) ** 2).mean(axis=axes, keepdims=True)
    return (x - m) / np.sqrt(v + eps)


def _np_attention(q, k, v, bias=None, mask=None, causal=False):
    b, t, n, h = q.shape
    s, kh = k.shape[1], k.shape[2]
    rep = n // kh
    kk = np.repeat(k, rep, axis=2)
    vv = np.repeat(v, rep, axis=2)
    logits = np.einsum("btnh,bsnh->bnts", q, kk) / math.sqrt(h)
    if bias is not None:
        logits = logits + bias
    keep = np.ones((b, n, t, s), bool)
    if mask is not None:
        keep &= mask
    if causal:
        keep &= np.tril(np.ones((t, s), bool))
    logits = np.where(keep, logits, -1e30)
    return np.einsum("bnts,bsnh->btnh", _np_softmax(logits), vv)


def _max_pool_ref(x):
    return reduce_window_reference(
        x, "max", (1, 2, 2, 1), (1, 2, 1, 1), ((0, 0), (0, 1), (1, 0), (0, 0)), (1,) * 4, (1,) * 4
    )


def _avg_pool_counted_ref(x):
    total = reduce_window_reference(
        x, "sum", (1, 2, 2, 1), (1, 1, 2, 1), ((0, 0), (1, 1), (0, 1), (0, 0)), (1,) * 4, (1,) * 4
    )
    count = reduce_window_reference(
        np.ones_like(x), "sum", (1, 2, 2, 1), (1, 1, 2, 1), ((0, 0), (1, 1), (0, 1), (0, 0)),
        (1,) * 4, (1,) * 4,
    )  # fmt: skip
    return total / count


ROWS += [
    Row(
        "dense",
        nn.dense,
        _gen(rand_default, (2, 3, 4), (4, 5), (5,)),
        lambda x, w, b: x @ w + b,
    ),
    Row("dense_no_bias", nn.dense, _gen(rand_default, (3, 4), (4, 2)), lambda x, w: x @ w),
    Row(
        "conv2d_same_bias",
        lambda x, w, b: nn.conv(x, w, b, strides=(1, 2)),
        _gen(rand_default, (2, 5, 6, 3), (3, 3, 3, 4), (4,)),
        lambda x, w, b: (
            conv_reference(x, w, (1, 2), ((1, 1), (0, 1)), (1, 1), (1, 1), ("NHWC", "HWIO", "NHWC"))
            + b
        ),
    ),
    Row(
        "conv1d_unbatched_grouped",
        lambda x, w: nn.conv(x, w, padding=1, dilation=2, feature_group_count=2),
        _gen(rand_default, (7, 4), (2, 2, 6)),
        lambda x, w: conv_reference(
            x[None], w, (1,), ((1, 1),), (1,), (2,), ("NWC", "WIO", "NWC"), fgc=2
        )[0],
    ),
    Row(
        "conv2d_nchw",
        lambda x, w: nn.conv(x, w, padding="VALID", dimension_numbers=("NCHW", "OIHW", "NCHW")),
        _gen(rand_default, (2, 3, 5, 4), (2, 3, 2, 2)),
        lambda x, w: conv_reference(
            x, w, (1, 1), ((0, 0), (0, 0)), (1, 1), (1, 1), ("NCHW", "OIHW", "NCHW")
        ),
    ),
    Row(
        "conv_transpose2d",
        lambda x, w, b: nn.conv_transpose(x, w, b, strides=2, padding="VALID"),
        _gen(rand_default, (1, 2, 3, 2), (2, 2, 2, 3), (3,)),
        # stride == window: every input pixel paints its own (flipped) 2x2 patch.
        lambda x, w, b: (
            np.einsum("nhwi,abio->nhawbo", x, np.flip(w, (0, 1))).reshape(1, 4, 6, 3) + b
        ),
    ),
    Row(
        "max_pool",
        lambda x: nn.max_pool(x, (2, 2), strides=(2, 1), padding=((0, 1), (1, 0))),
        lambda rng, dt: (rand_distinct(rng)((2, 4, 3, 2), dt),),
        _max_pool_ref,
    ),
    Row(
        "avg_pool_count_include_pad",
        lambda x: nn.avg_pool(x, (2, 2), strides=(1, 2), padding=((1, 1), (0, 1))),
        _gen(rand_default, (2, 3, 4, 2)),
        lambda x: (
            reduce_window_reference(
                x,
                "sum",
                (1, 2, 2, 1),
                (1, 1, 2, 1),
                ((0, 0), (1, 1), (0, 1), (0, 0)),
                (1,) * 4,
                (1,) * 4,
            )
            / 4
        ),  # fmt: skip
    ),
    Row(
        "avg_pool_count_exclude_pad",
        lambda x: nn.avg_pool(
            x, (2, 2), strides=(1, 2), padding=((1, 1), (0, 1)), count_include_pad=False
        ),
        _gen(rand_default, (2, 3, 4, 2)),
        _avg_pool_counted_ref,
    ),
    Row(
        "avg_pool_channels_first_unbatched",
        lambda x: nn.avg_pool(x, 2, strides=2, channel_axis=0),
        _gen(rand_default, (3, 4)),
        lambda x: x.reshape(3, 2, 2).mean(-1),
    ),
    Row(
        "batch_norm_train",
        lambda x, s, o: nn.batch_norm(x, s, o, training=True)[0],
        _gen(rand_default, (4, 3, 2), (2,), (2,)),
        lambda x, s, o: _np_layer_norm(x, (0, 1), 1e-5) * s + o,
    ),
    Row(
        "batch_norm_eval",
        lambda x, m, v: nn.batch_norm(x, None, None, m, v, training=False, axis=1)[0],
        lambda rng, dt: (
            rand_default(rng)((2, 3, 2), dt),
            rand_default(rng)((3,), dt),
            rand_positive(rng)((3,), dt),
        ),
        lambda x, m, v: (x - m[:, None]) / np.sqrt(v[:, None] + 1e-5),
    ),
    Row(
        "layer_norm",
        lambda x, s, o: nn.layer_norm(x, s, o),
        _gen(rand_default, (3, 5), (5,), (5,)),
        lambda x, s, o: _np_layer_norm(x, (-1,), 1e-5) * s + o,
    ),
    Row(
        "layer_norm_two_axes",
        lambda x: nn.layer_norm(x, axis=(1, 2), epsilon=1e-3),
        _gen(rand_default, (2, 3, 4)),
        lambda x: _np_layer_norm(x, (1, 2), 1e-3),
    ),
    Row(
        "group_norm",
        lambda x, s, o: nn.group_norm(x, 2, s, o),
        _gen(rand_default, (2, 3, 4), (4,), (4,)),
        lambda x, s, o: (
            _np_layer_norm(x.reshape(2, 3, 2, 2), (1, 3), 1e-5).reshape(2, 3, 4) * s + o
        ),
    ),
    Row(
        "group_norm_channels_first_unbatched",
        lambda x: nn.group_norm(x, 3, channel_axis=0, batch_dims=0),
        _gen(rand_default, (6, 2)),
        lambda x: _np_layer_norm(x.reshape(3, 2, 2), (1, 2), 1e-5).reshape(6, 2),
    ),
    Row(
        "rms_norm",
        lambda x, s: nn.rms_norm(x, s),
        _gen(rand_default, (3, 4), (4,)),
        lambda x, s: x / np.sqrt((x**2).mean(-1, keepdims=True) + 1e-6) * s,
    ),
    Row(
        "embedding_lookup",
        nn.embedding_lookup,
        lambda rng, dt: (rand_default(rng)((5, 3), dt), rng.integers(0, 5, (2, 4)).astype(I32)),
        lambda t, i: t[i],
    ),
    Row(
        "dot_product_attention",
        lambda q, k, v, b: nn.dot_product_attention(q, k, v, bias=b),
        _gen(rand_default, (2, 3, 2, 4), (2, 5, 2, 4), (2, 5, 2, 4), (1, 2, 3, 5)),
        lambda q, k, v, b: _np_attention(q, k, v, bias=b),
    ),
    Row(
        "dot_product_attention_causal_grouped",
        lambda q, k, v: nn.dot_product_attention(q, k, v, is_causal=True),
        _gen(rand_default, (1, 4, 4, 3), (1, 4, 2, 3), (1, 4, 2, 3)),
        lambda q, k, v: _np_attention(q, k, v, causal=True),
    ),
    Row(
        "dot_product_attention_mask",
        lambda q, k, v, m: nn.dot_product_attention(q, k, v, mask=m),
        lambda rng, dt: (
            *_gen(rand_default, (2, 3, 1, 2), (2, 4, 1, 2), (2, 4, 1, 2))(rng, dt),
            np.arange(12).reshape(1, 1, 3, 4) % 3 != 2,
        ),
        lambda q, k, v, m: _np_attention(q, k, v, mask=m),
    ),
]


# --------------------------------------------------------------------------- expansion


def _rng(r, dt, salt=""):
    return np.random.default_rng(zlib.crc32(f"{r.id}/{dt.name}/{salt}".encode()))


def _cases(select=lambda r, dt: True):
    return [
        pytest.param(r, dt, id=f"{r.id}-{dt.name}")
        for r in ROWS
        for dt in r.dtypes
        if select(r, dt)
    ]


def _is_float_arg(a):
    return np.asarray(a).dtype.kind == "f"


@pytest.mark.parametrize("r,dt", _cases())
def test_against_numpy(r, dt):
    tol = r.tol if r.tol is not None else (1e-2 if dt == F16 else 2e-5)
    args = r.args(_rng(r, dt), dt)
    check_against_numpy(r.fun, r.ref, args, dtype=r.out or dt, rtol=tol, atol=tol)


@pytest.mark.parametrize("r,dt", _cases(lambda r, dt: dt != F16))
def test_jit(r, dt):
    check_jit(r.fun, r.args(_rng(r, dt), dt), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("r", [pytest.param(r, id=r.id) for r in ROWS if r.batch])
def test_vmap(r):
    dt = r.dtypes[0]
    rng = _rng(r, dt, "vmap")
    examples = [r.args(rng, dt) for _ in range(2)]
    args = [np.stack([ex[k] for ex in examples]) for k in range(len(examples[0]))]
    check_batching(r.fun, args, in_axes=0, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("r", [pytest.param(r, id=r.id) for r in ROWS if r.order])
def test_grads(r):
    dt = r.dtypes[0]
    check_grads(r.fun, r.args(_rng(r, dt, "grad"), dt), order=r.order)


# Public names checked by dedicated tests below rather than by a row.
TESTED_ELSEWHERE = {"BatchNormStats", "dropout", "initializers", "min_pool"}


def test_every_public_function_has_a_row_or_a_test():
    missing = [
        name
        for name in nn.__all__
        if name not in TESTED_ELSEWHERE and not any(r.id.startswith(name) for r in ROWS)
    ]
    assert not missing, f"derivax.nn functions without a table row: {missing}"


# --------------------------------------------------------------------------- stability


BIG = np.array([1000.0, 0.0, -1000.0], np.float32)


@pytest.mark.parametrize(
    "name",
    ["softmax", "log_softmax", "log_sigmoid", "softplus", "sigmoid", "silu", "mish", "elu",
     "selu", "celu", "gelu", "logsumexp", "soft_sign", "standardize", "hard_swish"],
)  # fmt: skip
def test_large_inputs_give_finite_values_and_gradients(name):
    f = getattr(nn, name)
    out = np.asarray(f(BIG))
    grad = np.asarray(dx.grad(lambda x: dnp.sum(f(x) * dnp.array([1.0, 2.0, 3.0])))(BIG))
    assert np.all(np.isfinite(out)), (name, out)
    assert np.all(np.isfinite(grad)), (name, grad)


def test_stable_values_at_extremes():
    np.testing.assert_array_equal(np.asarray(nn.softmax(np.array([1000.0, 0.0]))), [1.0, 0.0])
    np.testing.assert_array_equal(
        np.asarray(nn.log_softmax(np.array([1000.0, 0.0]))), [0.0, -1000.0]
    )
    assert float(nn.log_sigmoid(-1000.0)) == -1000.0
    assert float(nn.softplus(1000.0)) == 1000.0
    assert float(nn.logsumexp(np.array([1000.0, 1000.0]))) == pytest.approx(1000.6931, abs=1e-3)
    assert float(nn.logsumexp(np.array([-np.inf, -np.inf]))) == -np.inf
    np.testing.assert_allclose(float(dx.grad(nn.softplus)(1000.0)), 1.0)
    np.testing.assert_allclose(float(dx.grad(nn.log_sigmoid)(-1000.0)), 1.0)
    np.testing.assert_allclose(float(dx.grad(nn.log_sigmoid)(1000.0)), 0.0)


def test_softmax_with_a_fully_masked_row_is_zero_with_zero_gradient():
    x = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    where = np.array([[True, False], [False, False]])
    np.testing.assert_array_equal(np.asarray(nn.softmax(x, where=where)), [[1.0, 0.0], [0, 0]])
    g = dx.grad(lambda x: dnp.sum(nn.softmax(x, where=where) * dnp.arange(4.0).reshape(2, 2)))(x)
    np.testing.assert_array_equal(np.asarray(g), np.zeros((2, 2)))


def test_derivatives_at_kinks():
    # relu and relu6 have derivative 0 at their kinks, as in JAX.
    assert float(dx.grad(nn.relu)(0.0)) == 0.0
    assert float(dx.grad(nn.relu6)(0.0)) == 0.0
    assert float(dx.grad(nn.relu6)(6.0)) == 0.0
    assert float(dx.grad(nn.relu6)(3.0)) == 1.0
    assert float(dx.grad(nn.softplus)(0.0)) == 0.5
    assert float(dx.grad(nn.leaky_relu)(0.0)) == 1.0
    # Second derivatives exist (and vanish) for the piecewise-linear ones.
    assert float(dx.grad(dx.grad(nn.relu))(2.0)) == 0.0


def test_activation_errors():
    with pytest.raises(ValueError, match="must be even"):
        nn.glu(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        nn.softmax(np.ones((2, 3), np.float32), axis=2)


# --------------------------------------------------------------------------- initializers


def _key(seed=0):
    return dx.random.PRNGKey(seed)


@pytest.mark.parametrize(
    "name,factory,var",
    [
        ("glorot_uniform", init.glorot_uniform, lambda fi, fo: 2 / (fi + fo)),
        ("glorot_normal", init.glorot_normal, lambda fi, fo: 2 / (fi + fo)),
        ("xavier_uniform", init.xavier_uniform, lambda fi, fo: 2 / (fi + fo)),
        ("xavier_normal", init.xavier_normal, lambda fi, fo: 2 / (fi + fo)),
        ("lecun_uniform", init.lecun_uniform, lambda fi, fo: 1 / fi),
        ("lecun_normal", init.lecun_normal, lambda fi, fo: 1 / fi),
        ("he_uniform", init.he_uniform, lambda fi, fo: 2 / fi),
        ("he_normal", init.he_normal, lambda fi, fo: 2 / fi),
        ("kaiming_uniform", init.kaiming_uniform, lambda fi, fo: 2 / fi),
        ("kaiming_normal", init.kaiming_normal, lambda fi, fo: 2 / fi),
    ],
)
def test_variance_scaling_presets_have_their_variance(name, factory, var):
    shape = (3, 3, 40, 60)  # conv kernel: fans are 9 * 40 and 9 * 60
    w = factory()(_key(1), shape)
    assert w.shape == shape and w.dtype == np.float32
    w = np.asarray(w, np.float64)
    expected = var(9 * 40, 9 * 60)
    assert abs(w.mean()) < 4 * math.sqrt(expected / w.size)
    np.testing.assert_allclose(w.var(), expected, rtol=0.05)
    if "uniform" in name:
        assert np.abs(w).max() <= math.sqrt(3 * expected) + 1e-6
    else:
        assert np.abs(w).max() <= 2 * math.sqrt(expected) / 0.87962566103423978 + 1e-6


@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg", "fan_geo_avg"])
@pytest.mark.parametrize("distribution", ["truncated_normal", "normal", "uniform"])
def test_variance_scaling_modes_and_axes(mode, distribution):
    shape = (30, 4, 50)  # in_axis=0, out_axis=2, batch_axis=1: fans 30 and 50
    f = init.variance_scaling(2.0, mode, distribution, in_axis=0, out_axis=2, batch_axis=1)
    w = np.asarray(f(_key(2), shape), np.float64)
    n = {"fan_in": 30, "fan_out": 50, "fan_avg": 40, "fan_geo_avg": math.sqrt(30 * 50)}[mode]
    np.testing.assert_allclose(w.var(), 2.0 / n, rtol=0.1)


def test_simple_initializers():
    k = _key(3)
    np.testing.assert_array_equal(np.asarray(init.zeros(k, (2, 3))), np.zeros((2, 3)))
    np.testing.assert_array_equal(np.asarray(init.ones(k, (2,), np.float16)), [1, 1])
    assert init.ones(k, (2,), np.float16).dtype == np.float16
    np.testing.assert_array_equal(np.asarray(init.constant(0.25)(k, (3,))), [0.25] * 3)
    u = np.asarray(init.uniform(0.5)(k, (2000,)))
    assert u.min() >= 0 and u.max() < 0.5 and abs(u.mean() - 0.25) < 0.02
    nrm = np.asarray(init.normal(3.0)(k, (4000,)))
    np.testing.assert_allclose(nrm.std(), 3.0, rtol=0.05)
    t = np.asarray(init.truncated_normal(2.0, lower=-1.0, upper=0.5)(k, (2000,)))
    assert t.min() >= -2.0 and t.max() <= 1.0
    # The same key gives the same values; another key gives others.
    np.testing.assert_array_equal(
        np.asarray(init.normal()(k, (5,))), np.asarray(init.normal()(k, (5,)))
    )
    assert not np.array_equal(
        np.asarray(init.normal()(k, (5,))), np.asarray(init.normal()(_key(4), (5,)))
    )


@pytest.mark.parametrize("shape,column_axis", [((6, 4), -1), ((4, 6), -1), ((3, 2, 5), 0)])
def test_orthogonal(shape, column_axis):
    w = np.asarray(init.orthogonal(2.0, column_axis=column_axis)(_key(5), shape), np.float64)
    assert w.shape == shape
    m = np.moveaxis(w, column_axis, -1).reshape(-1, shape[column_axis]) / 2.0
    small = min(m.shape)
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-5)


def test_delta_orthogonal():
    w = np.asarray(init.delta_orthogonal()(_key(6), (3, 3, 4, 5)), np.float64)
    centre = w[1, 1]
    np.testing.assert_allclose(centre @ centre.T, np.eye(4), atol=1e-5)
    w[1, 1] = 0
    assert not w.any()


def test_initializers_work_under_jit():
    f = dx.jit(lambda k: init.he_normal()(k, (3, 4)))
    np.testing.assert_array_equal(
        np.asarray(f(_key(7))), np.asarray(init.he_normal()(_key(7), (3, 4)))
    )


def test_initializer_errors():
    with pytest.raises(ValueError, match="at least 2-D"):
        init.lecun_normal()(_key(), (5,))
    with pytest.raises(ValueError, match="mode must be one of"):
        init.variance_scaling(1.0, "fan_max", "normal")
    with pytest.raises(ValueError, match="distribution must be one of"):
        init.variance_scaling(1.0, "fan_in", "cauchy")
    with pytest.raises(ValueError, match="floating-point"):
        init.normal()(_key(), (2,), np.int32)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.orthogonal()(_key(), (3,))
    with pytest.raises(ValueError, match="3, 4 or 5 dimensions"):
        init.delta_orthogonal()(_key(), (3, 4))
    with pytest.raises(ValueError, match="must not exceed the output size"):
        init.delta_orthogonal()(_key(), (3, 5, 4))


# --------------------------------------------------------------------------- layer conventions


def test_batch_norm_training_statistics_and_running_averages():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(6, 4, 3)).astype(np.float32)
    rm, rv = np.full(3, 0.5, np.float32), np.full(3, 2.0, np.float32)
    y, stats = nn.batch_norm(x, None, None, rm, rv, training=True, momentum=0.9, epsilon=1e-3)
    mean = x.astype(np.float64).mean((0, 1))
    var = x.astype(np.float64).var((0, 1))  # biased, as Flax, Haiku and Equinox
    np.testing.assert_allclose(np.asarray(stats.mean), mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(stats.var), var, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(stats.running_mean), 0.9 * rm + 0.1 * mean, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(stats.running_var), 0.9 * rv + 0.1 * var, rtol=1e-5)
    np.testing.assert_allclose(
        np.asarray(y), (x - mean) / np.sqrt(var + 1e-3), rtol=1e-4, atol=1e-5
    )
    # Inference uses and returns the running statistics unchanged.
    y2, stats2 = nn.batch_norm(x, None, None, rm, rv, training=False, epsilon=1e-3)
    np.testing.assert_allclose(np.asarray(y2), (x - 0.5) / np.sqrt(2.001), rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(stats2.running_mean), rm)
    # Without running statistics in training, the running fields are None.
    _, stats3 = nn.batch_norm(x, training=True)
    assert stats3.running_mean is None and stats3.running_var is None


@pytest.mark.xfail(
    not hasattr(dx.lax, "pmean"),
    reason="batch_norm(axis_name=...) needs derivax.lax.pmean, which has not landed yet",
    raises=NotImplementedError,
    strict=True,
)
def test_batch_norm_with_axis_name_equals_the_batched_computation():
    rng = np.random.default_rng(17)
    x = rng.normal(size=(6, 3)).astype(np.float32)
    rm, rv = np.zeros(3, np.float32), np.ones(3, np.float32)

    def per_example(x):
        y, stats = nn.batch_norm(x, None, None, rm, rv, training=True, axis=0, axis_name="b")
        return y, stats.running_mean

    y, running = dx.vmap(per_example, axis_name="b")(x)
    y_ref, stats = nn.batch_norm(x, None, None, rm, rv, training=True)
    np.testing.assert_allclose(np.asarray(y), np.asarray(y_ref), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(running[0]), np.asarray(stats.running_mean), rtol=1e-6)


def test_batch_norm_errors():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match="pass running_mean and running_var"):
        nn.batch_norm(x, training=False)
    with pytest.raises(ValueError, match="scale must have shape \\(3,\\)"):
        nn.batch_norm(x, np.ones(2), training=True)
    with pytest.raises(ValueError, match="running_mean must have the feature shape"):
        nn.batch_norm(x, None, None, np.ones(2), np.ones(3), training=True)


def test_batch_norm_gradients_in_training():
    rng = np.random.default_rng(9)
    args = (rng.normal(size=(5, 3)), rng.normal(size=(3,)), rng.normal(size=(3,)))
    check_grads(lambda x, s, o: nn.batch_norm(x, s, o, training=True)[0], args, order=1)


def test_dropout():
    x = np.ones((200, 50), np.float32)
    k = _key(10)
    y = np.asarray(nn.dropout(k, 0.3, x))
    kept = y != 0
    np.testing.assert_allclose(y[kept], 1 / 0.7, rtol=1e-6)
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_array_equal(np.asarray(nn.dropout(k, 0.3, x)), y)  # same key, same mask
    np.testing.assert_array_equal(np.asarray(nn.dropout(k, 0.0, x)), x)
    np.testing.assert_array_equal(np.asarray(nn.dropout(k, 1.0, x)), np.zeros_like(x))
    np.testing.assert_array_equal(np.asarray(nn.dropout(None, 0.5, x, deterministic=True)), x)
    # A broadcast mask is shared along the given axes.
    yb = np.asarray(nn.dropout(k, 0.5, x, broadcast_dims=(0,)))
    assert (yb == yb[:1]).all()
    # Under jit, grad and vmap.
    g = dx.grad(lambda x: dnp.sum(nn.dropout(k, 0.3, x)))(x)
    np.testing.assert_allclose(np.asarray(g), y)
    yj = dx.jit(lambda k, x: nn.dropout(k, 0.3, x))(k, x)
    np.testing.assert_array_equal(np.asarray(yj), y)
    keys = dx.random.split(k, 3)
    yv = np.asarray(dx.vmap(lambda k: nn.dropout(k, 0.5, x[0]))(keys))
    assert yv.shape == (3, 50) and not (yv[0] == yv[1]).all()


def test_dropout_errors():
    with pytest.raises(ValueError, match="rate must be in \\[0, 1\\]"):
        nn.dropout(_key(), 1.5, np.ones(3))
    with pytest.raises(ValueError, match="rate must be in \\[0, 1\\]"):
        nn.dropout(_key(), -0.1, np.ones(3))
    with pytest.raises(ValueError, match="a PRNG key is needed"):
        nn.dropout(None, 0.5, np.ones(3))


def test_dense_and_conv_errors():
    with pytest.raises(ValueError, match="must match the kernel's input size"):
        nn.dense(np.ones((2, 3)), np.ones((4, 5)))
    with pytest.raises(ValueError, match="bias must have shape \\(5,\\)"):
        nn.dense(np.ones((2, 4)), np.ones((4, 5)), np.ones(4))
    with pytest.raises(ValueError, match="kernel must be 2-D"):
        nn.dense(np.ones((2, 4)), np.ones((4,)))
    with pytest.raises(ValueError, match="fewer than the 3 dimensions"):
        nn.conv(np.ones((4, 4)), np.ones((2, 2, 1, 1)))
    with pytest.raises(ValueError, match="feature dimension"):
        nn.conv(np.ones((1, 4, 4, 2)), np.ones((2, 2, 3, 1)))
    with pytest.raises(ValueError, match="padding needs 2 entries"):
        nn.conv(np.ones((1, 4, 4, 1)), np.ones((2, 2, 1, 1)), padding=(1, 1, 1))


def test_conv_layer_leading_batch_dims_and_jit():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(2, 3, 6, 6, 1)).astype(np.float32)
    w = rng.normal(size=(3, 3, 1, 4)).astype(np.float32)
    y = nn.conv(x, w, strides=2)
    assert y.shape == (2, 3, 3, 3, 4)
    np.testing.assert_allclose(np.asarray(y[1, 2]), np.asarray(nn.conv(x[1, 2], w, strides=2)))
    check_jit(lambda x, w: nn.conv(x, w, strides=2), (x, w), atol=1e-5, rtol=1e-5)


def test_pooling_layouts_and_errors():
    x = np.arange(2 * 4 * 4 * 3, dtype=np.float32).reshape(2, 4, 4, 3)
    nchw = np.transpose(x, (0, 3, 1, 2))
    a = np.asarray(nn.max_pool(x, (2, 2), strides=(2, 2)))
    b = np.asarray(nn.max_pool(nchw, (2, 2), strides=(2, 2), channel_axis=1))
    np.testing.assert_array_equal(np.transpose(b, (0, 2, 3, 1)), a)
    np.testing.assert_array_equal(np.asarray(nn.max_pool(x[0], (2, 2), (2, 2))), a[0])
    m = np.asarray(nn.min_pool(x, (2, 2), strides=(2, 2)))
    np.testing.assert_array_equal(m, x[:, ::2, ::2])
    assert nn.max_pool(x, (3, 3), padding="SAME").shape == x.shape
    with pytest.raises(ValueError, match="needs 2 spatial axes"):
        nn.max_pool(np.ones((4, 3)), (2, 2))
    with pytest.raises(ValueError, match="strides needs 2 positive entries"):
        nn.avg_pool(x, (2, 2), strides=(0, 1))


def test_normalization_errors():
    with pytest.raises(ValueError, match="must divide the 4 channels"):
        nn.group_norm(np.ones((2, 3, 4)), 3)
    with pytest.raises(ValueError, match="scale must have shape \\(4,\\)"):
        nn.layer_norm(np.ones((2, 4)), np.ones(3))
    with pytest.raises(ValueError, match="out of range"):
        nn.rms_norm(np.ones((2, 4)), axis=2)


def test_embedding_lookup_errors():
    with pytest.raises(TypeError, match="ids must be integers"):
        nn.embedding_lookup(np.ones((3, 2)), np.array([0.0, 1.0]))
    with pytest.raises(IndexError):
        nn.embedding_lookup(np.ones((3, 2)), np.array([0, 3]))


def test_attention_unbatched_and_errors():
    rng = np.random.default_rng(12)
    q, k, v = (rng.normal(size=s).astype(np.float32) for s in [(3, 2, 4), (5, 2, 4), (5, 2, 4)])
    out = np.asarray(nn.dot_product_attention(q, k, v))
    np.testing.assert_allclose(
        out, _np_attention(q[None], k[None], v[None])[0], rtol=1e-5, atol=1e-6
    )
    with pytest.raises(ValueError, match="must divide the number of query heads"):
        nn.dot_product_attention(
            np.ones((1, 2, 3, 4)), np.ones((1, 2, 2, 4)), np.ones((1, 2, 2, 4))
        )
    with pytest.raises(ValueError, match="same shape"):
        nn.dot_product_attention(
            np.ones((1, 2, 2, 4)), np.ones((1, 2, 2, 4)), np.ones((1, 3, 2, 4))
        )


# --------------------------------------------------------------------------- oracle: JAX


JAX_ACTIVATIONS = [
    "relu", "relu6", "sigmoid", "log_sigmoid", "softplus", "silu", "swish", "soft_sign", "elu",
    "selu", "celu", "leaky_relu", "hard_tanh", "hard_sigmoid", "hard_swish", "hard_silu", "mish",
    "gelu", "glu", "softmax", "log_softmax", "logsumexp", "standardize", "tanh",
]  # fmt: skip


@pytest.mark.oracle
@pytest.mark.parametrize("name", JAX_ACTIVATIONS)
def test_activations_match_jax(name):
    jax = pytest.importorskip("jax", reason="JAX is the oracle for activations")
    x = (np.random.default_rng(13).normal(size=(4, 6)) * 4).astype(np.float32)
    x[0, :3] = [0.0, 6.0, -3.0]  # kinks: the derivatives there must agree too
    fj, fd = getattr(jax.nn, name), getattr(nn, name)
    np.testing.assert_allclose(np.asarray(fd(x)), np.asarray(jax.jit(fj)(x)), rtol=1e-6, atol=1e-6)
    gj = jax.jit(jax.grad(lambda x: jax.numpy.sum(jax.numpy.sin(fj(x)))))(x)
    gd = dx.grad(lambda x: dnp.sum(dnp.sin(fd(x))))(x)
    np.testing.assert_allclose(np.asarray(gd), np.asarray(gj), rtol=1e-5, atol=1e-5)


@pytest.mark.oracle
def test_softmax_where_and_exact_gelu_match_jax():
    jax = pytest.importorskip("jax", reason="JAX is the oracle for activations")
    rng = np.random.default_rng(14)
    x = rng.normal(size=(4, 6)).astype(np.float32)
    w = rng.random((4, 6)) < 0.6
    np.testing.assert_allclose(
        np.asarray(nn.softmax(x, where=w)), np.asarray(jax.nn.softmax(x, where=w)), atol=1e-6
    )
    lj = np.asarray(jax.nn.log_softmax(x, where=w))
    ld = np.asarray(nn.log_softmax(x, where=w))
    np.testing.assert_array_equal(np.isinf(ld), np.isinf(lj))
    np.testing.assert_allclose(ld[w], lj[w], atol=1e-6)
    np.testing.assert_allclose(
        np.asarray(nn.gelu(x, approximate=False)),
        np.asarray(jax.nn.gelu(x, approximate=False)),
        atol=1e-6,
    )
    np.testing.assert_array_equal(
        np.asarray(nn.one_hot(np.array([0, 3, 1]), 3)),
        np.asarray(jax.nn.one_hot(np.array([0, 3, 1]), 3)),
    )


def _initializer_cases(I, SHAPE=(3, 3, 4, 5)):  # noqa: N803 - the module, as in `jax.nn.initializers as I`
    # One shape throughout, and only three sampler calls (normal; uniform on [-1, 1);
    # truncated normal on [-2, 2]), each of which JAX compiles once: that keeps the
    # oracle fast. uniform(), truncated_normal() and their bounds are checked
    # statistically above; the samplers themselves in derivax.random's oracle tests.
    cases = [
        ("zeros", I.zeros, SHAPE),
        ("ones", I.ones, SHAPE),
        ("constant", I.constant(-0.3), SHAPE),
        ("normal", I.normal(0.3), SHAPE),
        ("axes", I.variance_scaling(1.0, "fan_avg", "uniform", (0, 1), -1, 2), SHAPE),
    ]
    # Every mode with one distribution, every distribution with another mode.
    for mode, dist in [("fan_in", "normal"), ("fan_out", "normal"), ("fan_avg", "normal"),
                       ("fan_geo_avg", "normal"), ("fan_in", "truncated_normal"),
                       ("fan_avg", "uniform")]:  # fmt: skip
        cases.append((f"{mode}-{dist}", I.variance_scaling(1.7, mode, dist), SHAPE))
    for name in ["glorot_uniform", "glorot_normal", "lecun_normal", "he_uniform", "he_normal"]:
        cases.append((name, getattr(I, name)(), SHAPE))
    return cases


@pytest.mark.oracle
@pytest.mark.parametrize("index", range(len(_initializer_cases(init))))
def test_initializers_match_jax_bit_for_bit(index):
    jax = pytest.importorskip("jax", reason="JAX is the oracle for initializers")
    name, f_d, shape = _initializer_cases(init)[index]
    _, f_j, _ = _initializer_cases(jax.nn.initializers)[index]
    # Eager JAX: under jit XLA may fuse the sampler's float math and round differently.
    out_j = np.asarray(f_j(jax.random.PRNGKey(3), shape))
    out_d = np.asarray(f_d(dx.random.PRNGKey(3), shape))
    assert out_d.dtype == out_j.dtype, name
    np.testing.assert_array_equal(out_d, out_j, err_msg=name)


@pytest.mark.oracle
@pytest.mark.parametrize(
    "factory,shape",
    [("orthogonal", (6, 4)), ("orthogonal", (4, 6)), ("delta_orthogonal", (3, 3, 4, 5))],
)
def test_orthogonal_initializers_match_jax(factory, shape):
    jax = pytest.importorskip("jax", reason="JAX is the oracle for initializers")
    out_j = np.asarray(getattr(jax.nn.initializers, factory)()(jax.random.PRNGKey(3), shape))
    out_d = np.asarray(getattr(init, factory)()(dx.random.PRNGKey(3), shape))
    # Both use a LAPACK QR of the same Gaussian matrix: equal up to rounding.
    np.testing.assert_allclose(out_d, out_j, atol=1e-6)


@pytest.mark.oracle
def test_dropout_mask_matches_jax_bernoulli():
    jax = pytest.importorskip("jax", reason="JAX is the oracle for dropout masks")
    x = np.ones((8, 16), np.float32)
    keep_j = np.asarray(jax.random.bernoulli(jax.random.PRNGKey(5), 0.7, x.shape))
    y = np.asarray(nn.dropout(dx.random.PRNGKey(5), 0.3, x))
    np.testing.assert_array_equal(y != 0, keep_j)


@pytest.mark.oracle
@pytest.mark.parametrize(
    "dims,causal,use_mask,use_bias",
    [((2, 3, 5, 4, 2, 8), False, True, True), ((2, 4, 4, 2, 2, 3), True, False, False),
     ((1, 3, 3, 6, 1, 4), True, True, False)],
)  # fmt: skip
def test_dot_product_attention_matches_jax(dims, causal, use_mask, use_bias):
    jax = pytest.importorskip("jax", reason="JAX is the oracle for attention")
    b, t, s, n, k, h = dims
    rng = np.random.default_rng(15)
    q = rng.normal(size=(b, t, n, h)).astype(np.float32)
    key = rng.normal(size=(b, s, k, h)).astype(np.float32)
    v = rng.normal(size=(b, s, k, h)).astype(np.float32)
    mask = (rng.random((b, 1, t, s)) < 0.7) if use_mask else None
    if use_mask:
        mask[0, 0, 0, :] = False  # a fully masked row
    bias = rng.normal(size=(1, n, t, s)).astype(np.float32) if use_bias else None
    kw = dict(bias=bias, mask=mask, is_causal=causal)
    out_j = jax.jit(lambda q, key, v: jax.nn.dot_product_attention(q, key, v, **kw))(q, key, v)
    out_d = nn.dot_product_attention(q, key, v, **kw)
    np.testing.assert_allclose(np.asarray(out_d), np.asarray(out_j), rtol=1e-5, atol=1e-5)

    def loss_j(q, key, v):
        return jax.numpy.sum(jax.numpy.sin(jax.nn.dot_product_attention(q, key, v, **kw)))

    def loss_d(q, key, v):
        return dnp.sum(dnp.sin(nn.dot_product_attention(q, key, v, **kw)))

    gj = jax.jit(jax.grad(loss_j, argnums=(0, 1, 2)))(q, key, v)
    gd = dx.grad(loss_d, argnums=(0, 1, 2))(q, key, v)
    for a, e in zip(gd, gj, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(e), rtol=1e-5, atol=1e-5)


@pytest.mark.oracle
def test_pooling_matches_jax_reduce_window():
    jax = pytest.importorskip("jax", reason="JAX is the oracle for pooling")
    x = np.random.default_rng(16).normal(size=(2, 7, 6, 3)).astype(np.float32)
    pj = jax.lax.reduce_window(x, -np.inf, jax.lax.max, (1, 3, 2, 1), (1, 2, 2, 1), "SAME")
    np.testing.assert_array_equal(
        np.asarray(nn.max_pool(x, (3, 2), (2, 2), "SAME")), np.asarray(pj)
    )
    sj = jax.lax.reduce_window(x, 0.0, jax.lax.add, (1, 3, 2, 1), (1, 2, 2, 1), "SAME")
    np.testing.assert_allclose(
        np.asarray(nn.avg_pool(x, (3, 2), (2, 2), "SAME")), np.asarray(sj) / 6, rtol=1e-6
    )
