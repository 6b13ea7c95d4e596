"""nn_modules: the functional core, the module sugar, every layer, lifted transforms, errors.

Expected values are computed here with NumPy from the layers' definitions (a dense layer is
``x @ W + b``, batch norm normalizes with the batch mean and biased variance, ...), never
read back from the code under test.
"""

from __future__ import annotations

import dataclasses
import inspect
import re

import numpy as np
import pytest

import derivax as dx
import derivax.numpy as dnp
import derivax.optim
import nn_modules as nn
from harness import assert_close, check_batching, check_grads, check_jit
from nn_modules import core

RNG = np.random.default_rng(0)


def rand(*shape, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def key(seed=0):
    return dx.random.key(seed)


def shapes(tree):
    return dx.tree.map(lambda a: tuple(a.shape), tree)


def npy(tree):
    return dx.tree.map(np.asarray, tree)


# --------------------------------------------------------------------------- NumPy references


def np_dense(p, x):
    y = x @ p["kernel"]
    return y + p["bias"] if "bias" in p else y


def np_conv_same(p, x):
    """Stride-1 'SAME' cross-correlation, channels last, by summing the kernel taps."""
    w = p["kernel"]
    kh, kw, _, _ = w.shape
    n, h, wd, _ = x.shape
    top, left = (kh - 1) // 2, (kw - 1) // 2
    padded = np.zeros((n, h + kh - 1, wd + kw - 1, x.shape[-1]), x.dtype)
    padded[:, top : top + h, left : left + wd] = x
    y = np.zeros((n, h, wd, w.shape[-1]), np.float64)
    for i in range(kh):
        for j in range(kw):
            y += padded[:, i : i + h, j : j + wd] @ w[i, j]
    return y + p["bias"] if "bias" in p else y


def np_standardize(x, axes, eps):
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


def np_attention(p, q_in, kv_in, num_heads, mask=None):
    def proj(name, x):
        return np.einsum("...d,dhk->...hk", x, p[name]["kernel"]) + p[name]["bias"]

    q, k, v = proj("query", q_in), proj("key", kv_in), proj("value", kv_in)
    logits = np.einsum("...qhd,...khd->...hqk", q, k) / np.sqrt(q.shape[-1])
    if mask is not None:
        logits = np.where(mask, logits, -1e30)
    w = np.exp(logits - logits.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    out = np.einsum("...hqk,...khd->...qhd", w, v)
    return np.einsum("...hd,hdo->...o", out, p["out"]["kernel"]) + p["out"]["bias"]


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_lstm(p, carry, x):
    c, h = carry

    def gate(i, hh):
        return x @ p[i]["kernel"] + h @ p[hh]["kernel"] + p[hh]["bias"]

    i = sigmoid(gate("ii", "hi"))
    f = sigmoid(gate("if", "hf"))
    g = np.tanh(gate("ig", "hg"))
    o = sigmoid(gate("io", "ho"))
    c = f * c + i * g
    h = o * np.tanh(c)
    return (c, h), h


def np_gru(p, h, x):
    r = sigmoid(x @ p["ir"]["kernel"] + p["ir"]["bias"] + h @ p["hr"]["kernel"])
    z = sigmoid(x @ p["iz"]["kernel"] + p["iz"]["bias"] + h @ p["hz"]["kernel"])
    n = np.tanh(
        x @ p["in"]["kernel"] + p["in"]["bias"] + r * (h @ p["hn"]["kernel"] + p["hn"]["bias"])
    )
    h = (1 - z) * n + z * h
    return h, h


# --------------------------------------------------------------------------- the descriptor table


@dataclasses.dataclass
class Case:
    """One row: a layer configuration and how to run it through the harness."""

    name: str
    make: object  # () -> Module
    inputs: tuple  # NumPy arrays (the first one carries the batch axis)
    out_shape: tuple | None  # expected output shape of the first output leaf
    reference: object = None  # (variables as NumPy, *inputs) -> expected output
    kwargs: dict = dataclasses.field(default_factory=dict)
    mutable: tuple = ()
    rngs: tuple = ()  # stream names the call needs
    vmap: bool = True  # per-example vmap makes sense
    grad: bool = True
    tol: float = 1e-5


def bn_train_ref(v, x):
    p = v["params"]
    return np_standardize(x, (0,), 1e-5) * p["scale"] + p["bias"]


def bn_eval_ref(v, x):
    p, s = v["params"], v["batch_stats"]
    return (x - s["mean"]) / np.sqrt(s["var"] + 1e-5) * p["scale"] + p["bias"]


def group_norm_ref(v, x):
    n, c = x.shape[0], x.shape[-1]
    g = x.reshape(n, -1, 2, c // 2)
    y = np_standardize(g, (1, 3), 1e-6).reshape(x.shape)
    return y * v["params"]["scale"] + v["params"]["bias"]


def rnn_ref(v, xs):
    p = v["params"]["cell"]
    h = np.zeros((xs.shape[0], 5), np.float32)
    ys = []
    for t in range(xs.shape[1]):
        h, y = np_gru(p, h, xs[:, t])
        ys.append(y)
    return np.stack(ys, axis=1)


CASES = [
    Case(
        "Dense", lambda: nn.Dense(4), (rand(3, 5),), (3, 4), lambda v, x: np_dense(v["params"], x)
    ),
    Case(
        "Dense/no-bias",
        lambda: nn.Dense(4, use_bias=False),
        (rand(3, 2, 5),),
        (3, 2, 4),
        lambda v, x: x @ v["params"]["kernel"],
    ),
    Case(
        "DenseGeneral/heads",
        lambda: nn.DenseGeneral(features=(2, 3)),
        (rand(3, 5),),
        (3, 2, 3),
        lambda v, x: np.einsum("bi,ihk->bhk", x, v["params"]["kernel"]) + v["params"]["bias"],
    ),
    Case(
        "DenseGeneral/merge",
        lambda: nn.DenseGeneral(features=4, axis=(-2, -1)),
        (rand(3, 2, 3),),
        (3, 4),
        lambda v, x: np.einsum("bhk,hko->bo", x, v["params"]["kernel"]) + v["params"]["bias"],
    ),
    Case(
        "DenseGeneral/batch_dims",
        lambda: nn.DenseGeneral(features=4, batch_dims=(0,)),
        (rand(3, 2, 5),),
        (3, 2, 4),
        lambda v, x: (
            np.einsum("bti,bio->bto", x, v["params"]["kernel"]) + v["params"]["bias"][:, None]
        ),
        vmap=False,  # the batch axis has its own kernels
    ),
    Case(
        "Conv/same",
        lambda: nn.Conv(4, (3, 3)),
        (rand(2, 6, 6, 3),),
        (2, 6, 6, 4),
        lambda v, x: np_conv_same(v["params"], x),
    ),
    Case(
        "Conv/strided-valid-groups",
        lambda: nn.Conv(4, (3, 3), strides=2, padding="VALID", feature_group_count=2),
        (rand(2, 7, 7, 2),),
        (2, 3, 3, 4),
    ),
    Case(
        "Conv/circular",
        lambda: nn.Conv(3, (3, 3), padding="CIRCULAR"),
        (rand(2, 5, 5, 2),),
        (2, 5, 5, 3),
    ),
    Case("Conv/causal-1d", lambda: nn.Conv(3, 3, padding="CAUSAL"), (rand(2, 6, 2),), (2, 6, 3)),
    Case(
        "ConvTranspose",
        lambda: nn.ConvTranspose(3, (2, 2), strides=2),
        (rand(2, 3, 3, 4),),
        (2, 6, 6, 3),
    ),
    Case(
        "Embed",
        lambda: nn.Embed(10, 4),
        (RNG.integers(0, 10, (3, 5)).astype(np.int32),),
        (3, 5, 4),
        lambda v, ids: v["params"]["embedding"][ids],
        grad=False,  # integer inputs; the table's gradient is checked in the tied-weights test
    ),
    Case(
        "BatchNorm/train",
        lambda: nn.BatchNorm(use_running_average=False),
        (rand(8, 3),),
        (8, 3),
        bn_train_ref,
        mutable=("batch_stats",),
        tol=1e-4,
    ),
    Case(
        "BatchNorm/eval",
        lambda: nn.BatchNorm(use_running_average=True),
        (rand(4, 3, 3),),
        (4, 3, 3),
        bn_eval_ref,
    ),
    Case(
        "LayerNorm",
        lambda: nn.LayerNorm(),
        (rand(3, 6),),
        (3, 6),
        lambda v, x: np_standardize(x, (-1,), 1e-6) * v["params"]["scale"] + v["params"]["bias"],
        tol=1e-4,
    ),
    Case(
        "RMSNorm",
        lambda: nn.RMSNorm(),
        (rand(3, 6),),
        (3, 6),
        lambda v, x: x / np.sqrt((x**2).mean(-1, keepdims=True) + 1e-6) * v["params"]["scale"],
        tol=1e-4,
    ),
    Case(
        "GroupNorm",
        lambda: nn.GroupNorm(num_groups=2),
        (rand(3, 2, 4),),
        (3, 2, 4),
        group_norm_ref,
        tol=1e-4,
    ),
    Case(
        "Dropout/eval",
        lambda: nn.Dropout(0.5, deterministic=True),
        (rand(3, 4),),
        (3, 4),
        lambda v, x: x,
    ),
    Case(
        "Dropout/train",
        lambda: nn.Dropout(0.5, deterministic=False),
        (rand(3, 4),),
        (3, 4),
        rngs=("dropout",),
    ),
    Case(
        "MultiHeadDotProductAttention",
        lambda: nn.MultiHeadDotProductAttention(num_heads=2, qkv_features=8),
        (rand(2, 3, 6), rand(2, 4, 6)),
        (2, 3, 6),
        lambda v, q, kv: np_attention(v["params"], q, kv, 2),
        tol=1e-4,
    ),
    Case(
        "SelfAttention/causal",
        lambda: nn.SelfAttention(num_heads=2),
        (rand(2, 4, 4),),
        (2, 4, 4),
        lambda v, x: np_attention(v["params"], x, x, 2, np.tril(np.ones((4, 4), bool))),
        kwargs={"mask": np.tril(np.ones((4, 4), np.float32))},
        tol=1e-4,
    ),
    Case(
        "LSTMCell",
        lambda: nn.LSTMCell(5),
        ((rand(3, 5), rand(3, 5)), rand(3, 4)),
        (3, 5),
        lambda v, carry, x: np_lstm(v["params"], carry, x),
        vmap=False,  # the carry is a tuple; the RNN rows cover batching
        tol=1e-4,
    ),
    Case(
        "GRUCell",
        lambda: nn.GRUCell(5),
        (rand(3, 5), rand(3, 4)),
        (3, 5),
        lambda v, h, x: np_gru(v["params"], h, x),
        tol=1e-4,
    ),
    Case("RNN", lambda: nn.RNN(nn.GRUCell(5)), (rand(2, 6, 3),), (2, 6, 5), rnn_ref, tol=1e-4),
    Case(
        "RNN/LSTM-reverse-carry",
        lambda: nn.RNN(nn.LSTMCell(4), reverse=True, keep_order=True, return_carry=True),
        (rand(2, 5, 3),),
        (2, 4),
    ),
    Case(
        "RNN/seq_lengths-reverse",
        lambda: nn.RNN(nn.GRUCell(4), reverse=True, keep_order=True),
        (rand(3, 5, 2),),
        (3, 5, 4),
        kwargs={"seq_lengths": np.array([5, 2, 3], np.int32)},
        vmap=False,  # seq_lengths is a keyword input with the batch shape
        tol=1e-4,
    ),
    Case(
        "Bidirectional",
        lambda: nn.Bidirectional(nn.RNN(nn.GRUCell(3)), nn.RNN(nn.LSTMCell(2))),
        (rand(2, 4, 3),),
        (2, 4, 5),
        tol=1e-4,
    ),
    Case(
        "ConvTranspose/circular",
        lambda: nn.ConvTranspose(2, (3, 3), strides=2, padding="CIRCULAR"),
        (rand(2, 3, 3, 2),),
        (2, 6, 6, 2),
        tol=1e-4,
    ),
    Case(
        "MultiHeadDotProductAttention/broadcast-dropout",
        lambda: nn.MultiHeadDotProductAttention(num_heads=2, dropout_rate=0.3),
        (rand(2, 3, 4),),
        (2, 3, 4),
        kwargs={"deterministic": False},
        rngs=("dropout",),
        tol=1e-4,
    ),
    Case(
        "Sequential",
        lambda: nn.Sequential([nn.Dense(4), nn.relu, nn.Dense(2)]),
        (rand(3, 5),),
        (3, 2),
        lambda v, x: np_dense(
            v["params"]["layers_2"], np.maximum(np_dense(v["params"]["layers_0"], x), 0)
        ),
    ),
]

CASE_IDS = [c.name for c in CASES]


def public_layers():
    return {
        name
        for name in nn.__all__
        if isinstance(getattr(nn, name), type)
        and issubclass(getattr(nn, name), nn.Module)
        and getattr(nn, name) is not nn.Module
    }


def test_every_public_layer_is_in_the_table():
    covered = {type(c.make()).__name__ for c in CASES}
    missing = public_layers() - covered
    assert not missing, f"add descriptor rows for {sorted(missing)}"


def _setup(case: Case):
    model = case.make()
    rngs = {"params": key(0), **{s: key(7) for s in case.rngs}}
    variables = model.init(rngs, *case.inputs, **case.kwargs)
    call_rngs = {s: key(3) for s in case.rngs} or None

    def run(variables, *inputs):
        out = model.apply(
            variables, *inputs, rngs=call_rngs, mutable=list(case.mutable) or False, **case.kwargs
        )
        return out[0] if case.mutable else out

    return model, variables, run


def first_leaf(tree):
    return dx.tree.leaves(tree)[0]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_layer_init_apply_matches_numpy(case):
    model, variables, run = _setup(case)
    out = run(variables, *case.inputs)
    # Cells return (carry, y): the checked output is y.
    y = out[1] if isinstance(model, (nn.LSTMCell, nn.GRUCell)) else out
    y = y[0] if isinstance(model, nn.RNN) and model.return_carry else y
    assert tuple(first_leaf(y).shape) == case.out_shape
    if case.reference is not None:
        expected = case.reference(npy(variables), *case.inputs)
        if isinstance(model, (nn.LSTMCell, nn.GRUCell)):
            expected = expected[1]
        assert_close(y, expected, atol=case.tol, rtol=case.tol, check_dtypes=False)
    # The parameters have the layer's parameter dtype.
    for leaf in dx.tree.leaves(variables.get("params", {})):
        assert leaf.dtype == np.float32


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_layer_under_jit(case):
    _, variables, run = _setup(case)
    check_jit(lambda *inputs: run(variables, *inputs), case.inputs, atol=case.tol, rtol=case.tol)


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.grad], ids=[c.name for c in CASES if c.grad]
)
def test_layer_gradients(case):
    _, variables, run = _setup(case)
    params = variables.get("params", {})
    rest = {c: t for c, t in variables.items() if c != "params"}

    def f(params, *inputs):
        return run({"params": params, **rest}, *inputs)

    check_grads(f, (params, *case.inputs), order=1, modes=("fwd", "rev"))


VMAP_CASES = [c for c in CASES if c.vmap and c.grad]


@pytest.mark.parametrize("case", VMAP_CASES, ids=[c.name for c in VMAP_CASES])
def test_layer_under_vmap(case):
    _, variables, run = _setup(case)
    # A batch of 2 independent calls, stacked along a new leading axis.
    stacked = tuple(np.stack([x, x[::-1] * 0.5]) for x in case.inputs)
    check_batching(
        lambda *inputs: run(variables, *inputs),
        stacked,
        atol=case.tol,
        rtol=case.tol,
        empty=False,
        move_axes=False,
    )


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_layer_state_dict_round_trip(case):
    model, variables, run = _setup(case)
    restored = nn.from_bytes(variables, nn.to_bytes(variables))
    assert dx.tree.structure(restored) == dx.tree.structure(variables)
    for a, b in zip(dx.tree.leaves(restored), dx.tree.leaves(variables), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    again = nn.from_state_dict(variables, nn.to_state_dict(variables))
    assert dx.tree.structure(again) == dx.tree.structure(variables)
    assert all(a is b for a, b in zip(dx.tree.leaves(again), dx.tree.leaves(variables)))
    assert_close(run(restored, *case.inputs), run(variables, *case.inputs))


# --------------------------------------------------------------------------- the functional core


def test_core_init_apply_and_nested_scopes():
    def dense(scope, x, features):
        w = scope.param("kernel", dx.nn.initializers.ones, (x.shape[-1], features))
        return x @ w

    def mlp(scope, x):
        return dense(scope.push("out"), dense(scope.push("hidden"), x, 3), 2)

    x = rand(2, 4)
    y, variables = core.init(mlp)(key(0), x)
    assert shapes(variables) == {
        "params": {"hidden": {"kernel": (4, 3)}, "out": {"kernel": (3, 2)}}
    }
    np.testing.assert_allclose(np.asarray(y), x @ np.ones((4, 3)) @ np.ones((3, 2)), rtol=1e-6)
    params = {"hidden": {"kernel": rand(4, 3)}, "out": {"kernel": rand(3, 2)}}
    out = core.apply(mlp)({"params": params}, x)
    np.testing.assert_allclose(
        np.asarray(out), x @ params["hidden"]["kernel"] @ params["out"]["kernel"], rtol=1e-5
    )


def test_core_tied_weights_share_one_parameter_and_sum_gradients():
    def tied(scope, x):
        w = scope.param("w", dx.nn.initializers.ones, (x.shape[-1], x.shape[-1]))
        w_again = scope.param.__self__.get_variable("params", "w")  # the same array
        return (x @ w) @ w_again

    x = rand(2, 3)
    _, variables = core.init(tied)(key(0), x)
    assert shapes(variables) == {"params": {"w": (3, 3)}}
    w = rand(3, 3)
    g = dx.grad(lambda p: core.apply(tied)({"params": p}, x).sum())({"w": w})
    # d/dW sum(x W W) = x^T 1 W^T + (x W)^T 1
    ones = np.ones((2, 3), np.float32)
    expected = x.T @ ones @ w.T + (x @ w).T @ ones
    np.testing.assert_allclose(np.asarray(g["w"]), expected, rtol=1e-4, atol=1e-5)


def test_module_tied_weights_by_calling_one_submodule_twice():
    class Twice(nn.Module):
        @nn.compact
        def __call__(self, x):
            dense = nn.Dense(3, use_bias=False)
            return dense(nn.relu(dense(x)))

    x = rand(2, 3)
    variables = Twice().init(key(0), x)
    assert shapes(variables) == {"params": {"Dense_0": {"kernel": (3, 3)}}}
    w = np.asarray(variables["params"]["Dense_0"]["kernel"])
    np.testing.assert_allclose(
        np.asarray(Twice().apply(variables, x)), np.maximum(x @ w, 0) @ w, rtol=1e-5, atol=1e-6
    )


def test_embed_attend_ties_input_and_output_embeddings():
    class LM(nn.Module):
        @nn.compact
        def __call__(self, ids):
            embed = nn.Embed(7, 4)
            return embed.attend(embed(ids))

    ids = np.array([[1, 5]], np.int32)
    variables = LM().init(key(0), ids)
    table = np.asarray(variables["params"]["Embed_0"]["embedding"])
    np.testing.assert_allclose(
        np.asarray(LM().apply(variables, ids)), table[ids] @ table.T, rtol=1e-5
    )
    grads = dx.grad(lambda p: LM().apply({"params": p}, ids).sum())(variables["params"])
    # d/dE sum(E[ids] E^T): rows at ids get sum_j E_j, and every row j gets sum of E[ids].
    expected = np.zeros_like(table)
    for i in ids.ravel():
        expected[i] += table.sum(0)
    expected += table[ids.ravel()].sum(0)
    np.testing.assert_allclose(np.asarray(grads["Embed_0"]["embedding"]), expected, rtol=1e-5)


def test_batch_norm_train_updates_running_stats_and_eval_uses_them():
    x = rand(16, 3) * 2 + 1
    bn = nn.BatchNorm(momentum=0.8)
    variables = bn.init(key(0), x, use_running_average=False)
    # init does not move the running averages.
    np.testing.assert_array_equal(np.asarray(variables["batch_stats"]["mean"]), np.zeros(3))
    np.testing.assert_array_equal(np.asarray(variables["batch_stats"]["var"]), np.ones(3))

    y, updates = bn.apply(variables, x, use_running_average=False, mutable=["batch_stats"])
    assert list(updates) == ["batch_stats"]
    mean, var = x.mean(0), x.var(0)
    np.testing.assert_allclose(
        np.asarray(y), (x - mean) / np.sqrt(var + 1e-5), rtol=1e-4, atol=1e-5
    )
    np.testing.assert_allclose(np.asarray(updates["batch_stats"]["mean"]), 0.2 * mean, rtol=1e-5)
    np.testing.assert_allclose(
        np.asarray(updates["batch_stats"]["var"]), 0.8 + 0.2 * var, rtol=1e-5
    )

    variables = {**variables, **updates}
    y_eval = bn.apply(variables, x, use_running_average=True)
    expected = (x - 0.2 * mean) / np.sqrt(0.8 + 0.2 * var + 1e-5)
    np.testing.assert_allclose(np.asarray(y_eval), expected, rtol=1e-4, atol=1e-5)
    # Evaluation writes nothing, even when asked for the collection.
    _, same = bn.apply(variables, x, use_running_average=True, mutable=["batch_stats"])
    np.testing.assert_array_equal(
        np.asarray(same["batch_stats"]["mean"]), np.asarray(updates["batch_stats"]["mean"])
    )


def test_batch_norm_training_step_under_jit_and_grad():
    class Net(nn.Module):
        @nn.compact
        def __call__(self, x, train):
            return nn.BatchNorm(use_running_average=not train)(nn.Dense(3)(x))

    x = rand(8, 4)
    variables = Net().init(key(0), x, train=False)

    @dx.jit
    def step(params, stats, x):
        def loss(p):
            y, upd = Net().apply(
                {"params": p, "batch_stats": stats}, x, train=True, mutable=["batch_stats"]
            )
            return (y**2).sum(), upd["batch_stats"]

        return dx.value_and_grad(loss, has_aux=True)(params)

    (loss, stats), grads = step(variables["params"], variables["batch_stats"], x)
    assert shapes(grads) == shapes(variables["params"])
    # After normalization each column has mean 0 and variance ~1, so the loss is ~8 * 3.
    assert abs(float(loss) - 24.0) < 0.1
    h = x @ np.asarray(variables["params"]["Dense_0"]["kernel"])
    np.testing.assert_allclose(
        np.asarray(stats["BatchNorm_0"]["mean"]), 0.01 * h.mean(0), rtol=1e-3, atol=1e-6
    )


def test_scanned_rnn_in_the_core_matches_a_python_loop_and_its_gradient():
    def step(scope, h, x):
        w = scope.param("w", dx.nn.initializers.constant(0.5), (3, 3))
        u = scope.param("u", dx.nn.initializers.constant(0.1), (2, 3))
        h = dnp.tanh(h @ w + x @ u)
        return h, h

    rnn = core.scan(step, variable_broadcast="params", split_rngs={"params": False})
    xs = rand(5, 2)
    (h, hs), variables = core.init(rnn)(key(0), np.zeros(3, np.float32), xs)
    assert shapes(variables) == {"params": {"u": (2, 3), "w": (3, 3)}}

    params = {"w": rand(3, 3), "u": rand(2, 3)}

    def np_loop(p):
        h, out = np.zeros(3), []
        for x in xs:
            h = np.tanh(h @ p["w"] + x @ p["u"])
            out.append(h)
        return np.stack(out)

    h, hs = core.apply(rnn)({"params": params}, np.zeros(3, np.float32), xs)
    np.testing.assert_allclose(np.asarray(hs), np_loop(params), rtol=1e-5, atol=1e-6)
    check_grads(
        lambda p: core.apply(rnn)({"params": p}, dnp.zeros(3, p["w"].dtype), xs)[1],
        (params,),
        order=1,
        modes=("rev",),
    )


def test_rnn_module_matches_the_cell_called_in_a_loop():
    xs = rand(2, 6, 3)
    rnn = nn.RNN(nn.GRUCell(4), return_carry=True)
    variables = rnn.init(key(0), xs)
    carry, ys = rnn.apply(variables, xs)
    cell_vars = {"params": variables["params"]["cell"]}
    h = np.zeros((2, 4), np.float32)
    for t in range(6):
        h, y = nn.GRUCell(4).apply(cell_vars, h, xs[:, t])
        np.testing.assert_allclose(np.asarray(ys[:, t]), np.asarray(y), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(carry), np.asarray(h), rtol=1e-5, atol=1e-6)
    # Reversed: the first output sees the whole sequence backwards.
    back = rnn.apply(variables, xs, reverse=True, keep_order=True)[1]
    h = np.zeros((2, 4), np.float32)
    for t in reversed(range(6)):
        h, _ = nn.GRUCell(4).apply(cell_vars, h, xs[:, t])
    np.testing.assert_allclose(np.asarray(back[:, 0]), np.asarray(h), rtol=1e-5, atol=1e-6)


def test_rnn_seq_lengths_freeze_the_carry():
    xs = rand(2, 5, 3)
    rnn = nn.RNN(nn.GRUCell(4), return_carry=True)
    variables = rnn.init(key(0), xs)
    carry, _ = rnn.apply(variables, xs, seq_lengths=np.array([2, 5], np.int32))
    short, _ = rnn.apply(variables, xs[:, :2])
    full, _ = rnn.apply(variables, xs)
    np.testing.assert_allclose(np.asarray(carry[0]), np.asarray(short[0]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(carry[1]), np.asarray(full[1]), rtol=1e-5, atol=1e-6)


def test_dropout_with_rngs_is_reproducible_and_unbiased():
    drop = nn.Dropout(0.25)
    x = np.ones((200, 50), np.float32)
    a = drop.apply({}, x, deterministic=False, rngs={"dropout": key(1)})
    b = drop.apply({}, x, deterministic=False, rngs={"dropout": key(1)})
    c = drop.apply({}, x, deterministic=False, rngs={"dropout": key(2)})
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(c))
    np.testing.assert_allclose(np.unique(np.asarray(a)), [0.0, 1 / 0.75], rtol=1e-6)
    assert abs(float(np.asarray(a).mean()) - 1.0) < 0.03
    # An explicit rng argument overrides the stream.
    d = drop.apply({}, x, deterministic=False, rng=key(1))
    assert d.shape == x.shape


def test_dropout_without_rngs():
    drop = nn.Dropout(0.5)
    x = rand(3, 4)
    # Evaluation needs no key.
    np.testing.assert_array_equal(np.asarray(drop.apply({}, x, deterministic=True)), x)
    # Training without a 'dropout' key (and no 'params' to fall back on) is an error.
    with pytest.raises(nn.MissingRngError, match=r"'dropout' stream.*rngs=\{'dropout': key\}"):
        drop.apply({}, x, deterministic=False)
    # During init, a single key serves every stream.
    y, _ = drop.init_with_output(key(0), x, deterministic=False)
    assert y.shape == x.shape
    # broadcast_dims share the mask along an axis.
    z = nn.Dropout(0.5, broadcast_dims=(0,)).apply(
        {}, np.ones((6, 8), np.float32), deterministic=False, rngs={"dropout": key(4)}
    )
    z = np.asarray(z)
    assert (z == z[0]).all()


def test_make_rng_differs_per_call_and_path_and_is_reproducible():
    class Two(nn.Module):
        @nn.compact
        def __call__(self):
            return self.make_rng("noise"), self.make_rng("noise"), Child()()

    class Child(nn.Module):
        @nn.compact
        def __call__(self):
            return self.make_rng("noise")

    rngs = {"noise": key(5)}
    keys = [dx.random.key_data(k) for k in Two().apply({}, rngs=rngs)]
    again = [dx.random.key_data(k) for k in Two().apply({}, rngs=rngs)]
    as_tuples = {tuple(np.asarray(k).tolist()) for k in keys}
    assert len(as_tuples) == 3
    for k1, k2 in zip(keys, again, strict=True):
        np.testing.assert_array_equal(np.asarray(k1), np.asarray(k2))


def test_setup_and_compact_give_the_same_model():
    class WithSetup(nn.Module):
        def setup(self):
            self.hidden = nn.Dense(4, name="Dense_0")
            self.out = nn.Dense(2, name="Dense_1")

        def __call__(self, x):
            return self.out(nn.relu(self.hidden(x)))

    class Compact(nn.Module):
        @nn.compact
        def __call__(self, x):
            h = nn.relu(nn.Dense(4)(x))  # created first: Dense_0
            return nn.Dense(2)(h)

    x = rand(3, 5)
    variables = Compact().init(key(0), x)
    assert shapes(WithSetup().init(key(0), x)) == shapes(variables)
    assert_close(WithSetup().apply(variables, x), Compact().apply(variables, x))


def test_naming_rules():
    class Net(nn.Module):
        def setup(self):
            self.blocks = [nn.Dense(2), nn.Dense(2)]
            self.heads = {"a": nn.Dense(1)}

        def __call__(self, x):
            return self.heads["a"](self.blocks[1](self.blocks[0](x)))

    class Outer(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = Net()(x)
            x = nn.Dense(3, name="named")(x)
            return nn.Sequential([nn.Dense(2), nn.relu])(x)

    variables = Outer().init(key(0), rand(1, 3))
    assert sorted(variables["params"]) == ["Dense_0", "Net_0", "named"]
    assert sorted(variables["params"]["Net_0"]) == ["blocks_0", "blocks_1", "heads_a"]
    # Modules given to a constructor outside any module are adopted under the field's name.
    v = nn.Sequential([nn.Dense(2), nn.relu, nn.Dense(1)]).init(key(0), rand(1, 3))
    assert sorted(v["params"]) == ["layers_0", "layers_2"]


def test_apply_mutable_forms_and_method():
    class Counter(nn.Module):
        @nn.compact
        def __call__(self, x):
            count = self.variable("counter", "n", lambda: dnp.zeros((), dnp.int32))
            if self.is_mutable_collection("counter"):
                count.value += 1
            return nn.Dense(2)(x)

        def double(self, x):
            return 2 * self(x)

    x = rand(1, 3)
    variables = Counter().init(key(0), x)
    assert int(variables["counter"]["n"]) == 1
    out = Counter().apply(variables, x)
    assert out.shape == (1, 2)
    out, new = Counter().apply(variables, x, mutable=True)
    assert sorted(new) == ["counter", "params"] and int(new["counter"]["n"]) == 2
    _, new = Counter().apply(variables, x, mutable="counter")
    assert list(new) == ["counter"]
    assert_close(Counter().apply(variables, x, method="double"), 2 * Counter().apply(variables, x))
    assert_close(
        Counter().apply(variables, x, method=Counter.double), 2 * Counter().apply(variables, x)
    )
    assert_close(
        Counter().apply(variables, x, method=lambda m, x: m.double(x) + 1),
        2 * Counter().apply(variables, x) + 1,
    )
    # The caller's dicts are never modified.
    assert int(variables["counter"]["n"]) == 1


def test_rngs_accept_typed_and_raw_keys_and_stream_dicts():
    x = rand(1, 3)
    typed = nn.Dense(2).init(key(0), x)
    raw = nn.Dense(2).init(dx.random.PRNGKey(0), x)
    streams = nn.Dense(2).init({"params": key(0)}, x)
    assert shapes(typed) == shapes(raw) == shapes(streams)
    assert_close(typed, streams)
    with pytest.raises(nn.InvalidRngError, match=r"rngs\['dropout'\] must be one PRNG key"):
        nn.Dense(2).apply(typed, x, rngs={"dropout": dx.random.split(key(0), 2)})


def test_bind_and_unbind():
    model = nn.Dense(2)
    variables = model.init(key(0), rand(1, 3))
    bound = model.bind(variables)
    assert bound(rand(4, 3)).shape == (4, 2)
    assert bound.variables["params"]["kernel"].shape == (3, 2)
    unbound, same = bound.unbind()
    assert unbound.scope is None and unbound == model
    assert same["params"]["kernel"] is variables["params"]["kernel"]


def test_module_equality_hash_and_clone():
    assert nn.Dense(3) == nn.Dense(3) and hash(nn.Dense(3)) == hash(nn.Dense(3))
    assert nn.Dense(3) != nn.Dense(4)
    assert nn.Dense(3).clone(features=4) == nn.Dense(4)
    seq = nn.Sequential([nn.Dense(2)])
    assert hash(seq) == hash(nn.Sequential([nn.Dense(2)]))


def test_tabulate_lists_every_call_and_the_totals():
    model = nn.Sequential([nn.Dense(4), nn.relu, nn.Dense(2)])
    table = nn.tabulate(model, key(0), rand(1, 3))
    assert re.search(r"\| /layers_0 +\| Dense +\| float32\[1,3\] +\| float32\[1,4\]", table)
    assert "kernel: float32[3,4]" in table and "16 (64 B)" in table
    assert table.splitlines()[-1] == "Total: 26 parameters (104 B)"
    assert nn.tabulate(model, key(0))(rand(1, 3)) == table
    assert model.tabulate(key(0), rand(1, 3)) == table
    shallow = nn.tabulate(model, key(0), rand(1, 3), depth=0)
    assert "/layers_0" not in shallow


# --------------------------------------------------------------------------- lifted transforms


def test_lifted_jit_matches_eager_and_compiles_once():
    class Net(nn.Module):
        @nn.compact
        def __call__(self, x, train):
            x = nn.Dense(3)(x)
            return nn.BatchNorm(use_running_average=not train)(x)

    Jitted = nn.jit(Net, static_argnames=("train",))
    x = rand(4, 5)
    variables = Jitted().init(key(0), x, train=False)
    assert shapes(variables) == shapes(Net().init(key(0), x, train=False))
    ref, ref_upd = Net().apply(variables, x, train=True, mutable=["batch_stats"])
    out, upd = Jitted().apply(variables, x, train=True, mutable=["batch_stats"])
    assert_close(out, ref, atol=1e-5, rtol=1e-5)
    assert_close(upd, ref_upd, atol=1e-6, rtol=1e-5)
    assert_close(Jitted().apply(variables, x, train=False), Net().apply(variables, x, train=False))


def test_lifted_jit_traces_once_per_signature():
    traces = []

    class Probe(nn.Module):
        @nn.compact
        def __call__(self, x):
            traces.append(type(x).__name__)
            return nn.Dense(2)(x)

    Jitted = nn.jit(Probe)
    x = rand(3, 4)
    variables = Jitted().init(key(0), x)
    Jitted().apply(variables, x)
    Jitted().apply(variables, rand(3, 4))
    assert len(traces) == 2  # one trace for init, one for apply; the second apply is cached
    Jitted().apply(variables, rand(5, 4))  # a new shape traces again
    assert len(traces) == 3


def test_jit_of_grad_through_an_rnn_equals_eager():
    xs = rand(2, 5, 3)
    model = nn.RNN(nn.LSTMCell(4))
    params = model.init(key(0), xs)["params"]
    loss = lambda p, xs: (model.apply({"params": p}, xs) ** 2).sum()
    assert_close(dx.jit(dx.grad(loss))(params, xs), dx.grad(loss)(params, xs), atol=1e-5, rtol=1e-4)


def test_batch_norm_axis_name_averages_over_the_vmapped_axis():
    if not hasattr(dx.lax, "pmean"):
        pytest.skip("needs derivax.lax.pmean, which this build of derivax does not have yet")
    PerExample = nn.vmap(
        nn.BatchNorm, variable_axes={}, split_rngs={"params": False}, axis_name="batch"
    )
    x = rand(6, 3)
    bn = PerExample(use_running_average=False, axis_name="batch", momentum=0.5)
    variables = bn.init(key(0), x)
    y, upd = bn.apply(variables, x, mutable=["batch_stats"])
    np.testing.assert_allclose(np.asarray(y), np_standardize(x, (0,), 1e-5), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(upd["batch_stats"]["mean"]), 0.5 * x.mean(0), rtol=1e-5)


def test_lifted_vmap_ensemble_and_shared_parameters():
    Ensemble = nn.vmap(
        nn.Dense,
        variable_axes={"params": 0},
        split_rngs={"params": True},
        in_axes=None,
        axis_size=3,
    )
    x = rand(2, 4)
    variables = Ensemble(5).init(key(0), x)
    assert shapes(variables) == {"params": {"bias": (3, 5), "kernel": (3, 4, 5)}}
    k = np.asarray(variables["params"]["kernel"])
    assert not np.allclose(k[0], k[1])  # split rngs: independent members
    out = Ensemble(5).apply(variables, x)
    expected = np.stack([x @ k[i] + np.asarray(variables["params"]["bias"])[i] for i in range(3)])
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-5, atol=1e-6)

    # Shared parameters, mapped inputs: the same as applying to the whole batch.
    PerExample = nn.vmap(nn.Dense, variable_axes={}, split_rngs={"params": False})
    v = PerExample(5).init(key(0), rand(6, 4))
    assert shapes(v) == {"params": {"bias": (5,), "kernel": (4, 5)}}
    xs = rand(6, 4)
    assert_close(PerExample(5).apply(v, xs), nn.Dense(5).apply(v, xs), atol=1e-6, rtol=1e-6)


def test_lifted_scan_over_layers_stacks_parameters():
    class Block(nn.Module):
        @nn.compact
        def __call__(self, x, _):
            return nn.relu(nn.Dense(4)(x)), None

    Stack = nn.scan(Block, variable_axes={"params": 0}, split_rngs={"params": True}, length=3)
    x = rand(2, 4)
    (y, _), variables = Stack().init_with_output(key(0), x, None)
    assert shapes(variables) == {"params": {"Dense_0": {"bias": (3, 4), "kernel": (3, 4, 4)}}}
    p = npy(variables["params"]["Dense_0"])
    h = x
    for i in range(3):
        h = np.maximum(h @ p["kernel"][i] + p["bias"][i], 0)
    y, _ = Stack().apply(variables, x, None)
    np.testing.assert_allclose(np.asarray(y), h, rtol=1e-5, atol=1e-6)


def test_lifted_scan_carries_a_collection():
    class Step(nn.Module):
        @nn.compact
        def __call__(self, c, x):
            n = self.variable("counter", "n", lambda: dnp.zeros((), dnp.int32))
            n.value += 1
            return c + x, c

    Loop = nn.scan(Step, variable_carry="counter")
    xs = np.arange(4, dtype=np.float32)
    (c, ys), variables = Loop().init_with_output(key(0), 0.0, xs)
    out, new = Loop().apply(variables, 0.0, xs, mutable=["counter"])
    assert float(out[0]) == 6.0
    assert int(new["counter"]["n"]) == int(variables["counter"]["n"]) + 4


def test_lifted_remat_gradients_equal_plain_gradients():
    x = rand(3, 4)
    variables = nn.Dense(2).init(key(0), x)
    plain = dx.grad(lambda p: (nn.Dense(2).apply({"params": p}, x) ** 2).sum())(variables["params"])
    Remat = nn.remat(nn.Dense)
    lifted = dx.grad(lambda p: (Remat(2).apply({"params": p}, x) ** 2).sum())(variables["params"])
    assert_close(lifted, plain, atol=1e-5, rtol=1e-5)


def test_lifted_transforms_pass_keyword_settings_through():
    class Net(nn.Module):
        @nn.compact
        def __call__(self, x, train=False):
            x = nn.Dense(3)(x)
            return nn.BatchNorm(use_running_average=not train)(x)

    x = rand(4, 2)
    variables = Net().init(key(0), x)
    expected, upd = Net().apply(variables, x, train=True, mutable=["batch_stats"])
    got, got_upd = nn.remat(Net)().apply(variables, x, train=True, mutable=["batch_stats"])
    assert_close(got, expected, atol=1e-6, rtol=1e-6)
    assert_close(got_upd, upd, atol=1e-6, rtol=1e-6)
    # Under vmap the keyword is a setting shared by every element.
    PerExample = nn.vmap(Net, variable_axes={"batch_stats": 0}, split_rngs={"params": False})
    xs = rand(5, 4, 2)
    v = PerExample().init(key(0), xs)
    out, _ = PerExample().apply(v, xs, train=True, mutable=["batch_stats"])
    assert out.shape == (5, 4, 3)


def test_lifted_function_form_over_a_bound_module():
    def double(module, x):
        return 2 * module(x)

    class Net(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.jit(double)(nn.Dense(2), x)

    x = rand(1, 3)
    variables = Net().init(key(0), x)
    assert shapes(variables) == {"params": {"Dense_0": {"bias": (2,), "kernel": (3, 2)}}}
    assert_close(
        Net().apply(variables, x),
        2 * nn.Dense(2).apply({"params": variables["params"]["Dense_0"]}, x),
    )


# --------------------------------------------------------------------------- TrainState and serialization


class BNState(nn.TrainState):
    batch_stats: object


def test_train_state_step_is_a_pytree_and_trains_under_jit():
    class Net(nn.Module):
        @nn.compact
        def __call__(self, x, train):
            x = nn.BatchNorm(use_running_average=not train)(nn.Dense(8)(x))
            return nn.Dense(1)(nn.relu(x))

    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5], np.float32))[:, None]
    model = Net()
    variables = model.init(key(0), x, train=False)
    state = BNState.create(
        apply_fn=model.apply,
        params=variables["params"],
        tx=derivax.optim.adam(0.05),
        batch_stats=variables["batch_stats"],
    )
    assert state.step == 0

    @dx.jit
    def step(state, x, y):
        def loss(p):
            pred, upd = state.apply_fn(
                {"params": p, "batch_stats": state.batch_stats},
                x,
                train=True,
                mutable=["batch_stats"],
            )
            return ((pred - y) ** 2).mean(), upd["batch_stats"]

        (l, stats), g = dx.value_and_grad(loss, has_aux=True)(state.params)
        return state.apply_gradients(grads=g, batch_stats=stats), l

    losses = []
    for _ in range(40):
        state, l = step(state, x, y)
        losses.append(float(l))
    assert int(state.step) == 40
    assert losses[-1] < 0.1 * losses[0]
    # Running statistics moved toward the batch statistics.
    assert float(np.abs(np.asarray(state.batch_stats["BatchNorm_0"]["mean"])).sum()) > 0
    leaves = dx.tree.leaves(state)
    assert all(hasattr(leaf, "shape") for leaf in leaves)

    restored = nn.from_bytes(state, nn.to_bytes(state))
    assert isinstance(restored, BNState) and restored.tx is state.tx
    for a, b in zip(dx.tree.leaves(restored), dx.tree.leaves(state), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    state_dict = nn.to_state_dict(state)
    assert sorted(state_dict) == ["batch_stats", "opt_state", "params", "step"]


def test_state_dict_conversions():
    import collections

    Point = collections.namedtuple("Point", "x y")
    target = {"a": [1.0, (2.0, None)], "p": Point(np.zeros(2), 3)}
    sd = nn.to_state_dict(target)
    assert sd == {"a": {"0": 1.0, "1": {"0": 2.0, "1": None}}, "p": {"x": sd["p"]["x"], "y": 3}}
    back = nn.from_state_dict(target, sd)
    assert isinstance(back["p"], Point) and isinstance(back["a"][1], tuple)
    with pytest.raises(nn.StateDictError, match=r"keys at /a/1 do not match: missing .*'1'"):
        nn.from_state_dict(target, {"a": {"0": 1.0, "1": {"0": 2.0}}, "p": sd["p"]})
    with pytest.raises(nn.StateDictError, match=r"array at /p/x has shape \(3,\) .* \(2,\)"):
        nn.from_state_dict(target, {"a": sd["a"], "p": {"x": np.zeros(3), "y": 3}})
    with pytest.raises(TypeError, match="encoded_bytes must be bytes"):
        nn.from_bytes(target, "not bytes")


def test_struct_dataclass_fields():
    class Config(nn.struct.PyTreeNode):
        w: object
        name: str = nn.struct.field(pytree_node=False, default="cfg")

    c = Config(dnp.ones(2))
    leaves, treedef = dx.tree.flatten(c)
    assert len(leaves) == 1
    assert c.replace(name="x").name == "x"
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.w = 1


# --------------------------------------------------------------------------- the error catalogue


class _BNNet(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.BatchNorm(use_running_average=not train)(nn.Dense(2)(x))


def _bn_variables():
    return _BNNet().init(key(0), rand(4, 3))


def _shape_mismatch():
    variables = nn.Dense(4).init(key(0), rand(1, 3))
    nn.Dense(4).apply(variables, rand(1, 5))


def _params_not_wrapped():
    params = _bn_variables()["params"]  # {'BatchNorm_0': ..., 'Dense_0': ...}
    _BNNet().apply(params, rand(4, 3))


def _flat_params_not_wrapped():
    params = nn.Dense(4).init(key(0), rand(1, 3))["params"]  # {'bias': ..., 'kernel': ...}
    nn.Dense(4).apply(params, rand(1, 3))


def _missing_variable():
    v = _bn_variables()
    _BNNet().apply({"params": v["params"], "batch_stats": {}}, rand(4, 3))


def _missing_collection():
    _BNNet().apply({"params": _bn_variables()["params"]}, rand(4, 3))


def _immutable_batch_stats():
    _BNNet().apply(_bn_variables(), rand(4, 3), train=True)


def _missing_dropout_rng():
    nn.Dropout(0.5).apply({}, rand(2, 2), deterministic=False)


def _bad_rngs():
    nn.Dense(2).init(0, rand(1, 3))


def _bad_variables():
    nn.Dense(2).apply({"params": np.ones(3)}, rand(1, 3))


def _unbound_call():
    nn.Dense(3)(rand(1, 2))


def _unbound_setup_attribute():
    class WithSetup(nn.Module):
        def setup(self):
            self.dense = nn.Dense(2)

    return WithSetup().dense


def _escaped_module():
    leaked = []

    class Leak(nn.Module):
        @nn.compact
        def __call__(self, x):
            dense = nn.Dense(2)
            leaked.append(dense)
            return dense(x)

    v = Leak().init(key(0), rand(1, 3))
    Leak().apply(v, rand(1, 3))
    leaked[-1](rand(1, 3))


def _name_collision():
    class Twice(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(2, name="a")(nn.Dense(2, name="a")(x))

    Twice().init(key(0), rand(1, 2))


def _param_and_submodule_collision():
    class Clash(nn.Module):
        @nn.compact
        def __call__(self, x):
            self.param("w", dx.nn.initializers.zeros, (1,))
            return nn.Dense(2, name="w")(x)

    Clash().init(key(0), rand(1, 2))


def _submodule_outside_setup_or_compact():
    class Lazy(nn.Module):
        def __call__(self, x):
            return nn.Dense(2)(x)

    Lazy().init(key(0), rand(1, 2))


def _frozen():
    nn.Dense(3).features = 4


def _two_compact_methods():
    class Bad(nn.Module):
        @nn.compact
        def __call__(self, x):
            return x

        @nn.compact
        def other(self, x):
            return x

    return Bad


def _lift_conflict():
    nn.scan(nn.Dense, variable_axes={"params": 0}, variable_broadcast="params")


def _lift_outer_module():
    class Outer(nn.Module):
        @nn.compact
        def __call__(self, x):
            dense = nn.Dense(2)
            return nn.jit(lambda module, x: dense(x))(nn.Dense(2), x)

    Outer().init(key(0), rand(1, 2))


def _scan_writes_broadcast():
    class Step(nn.Module):
        @nn.compact
        def __call__(self, c, x):
            n = self.variable("counter", "n", lambda: 0.0)
            n.value = n.value + x
            return c, x

    loop = nn.scan(Step)
    v = loop().init(key(0), 0.0, np.ones(3, np.float32))
    loop().apply(v, 0.0, np.ones(3, np.float32), mutable=["counter"])


def _vmap_writes_shared_collection():
    per_example = nn.vmap(nn.BatchNorm, variable_axes={}, split_rngs={"params": False})
    x = rand(3, 4, 2)
    v = per_example(use_running_average=False).init(key(0), x)
    per_example(use_running_average=False).apply(v, x, mutable=["batch_stats"])


ERRORS = [
    (nn.ParamShapeError, _shape_mismatch, r"'kernel' of /.*shape \(3, 4\).*makes shape \(5, 4\)"),
    (nn.ParamNotFoundError, _params_not_wrapped, r"no 'params' collection.*\{'params': params\}"),
    (
        nn.InvalidVariablesError,
        _flat_params_not_wrapped,
        r"variables\['(bias|kernel)'\] is Array.*\{'params': params\}",
    ),
    (nn.VariableNotFoundError, _missing_variable, r"variable 'mean' in collection 'batch_stats'"),
    (nn.CollectionNotFoundError, _missing_collection, r"no 'batch_stats' collection.*mutable"),
    (
        nn.ImmutableCollectionError,
        _immutable_batch_stats,
        r"'batch_stats' is immutable.*mutable=\['batch_stats'\]",
    ),
    (
        nn.MissingRngError,
        _missing_dropout_rng,
        r"Dropout at /.*'dropout' stream.*rngs=\{'dropout': key\}",
    ),
    (nn.InvalidRngError, _bad_rngs, r"rngs must be a PRNG key.*derivax.random.key\(0\)"),
    (nn.InvalidVariablesError, _bad_variables, r"variables\['params'\] is ndarray of shape \(3,\)"),
    (nn.UnboundModuleError, _unbound_call, r"unbound Dense.*model.init"),
    (nn.UnboundModuleError, _unbound_setup_attribute, r"attribute 'dense' yet.*setup\(\)"),
    (nn.UnboundModuleError, _escaped_module, r"call that has returned"),
    (nn.NameInUseError, _name_collision, r"submodule 'a' .*already used by a submodule"),
    (
        nn.NameInUseError,
        _param_and_submodule_collision,
        r"submodule 'w'.*already used by a variable of collection 'params'",
    ),
    (
        nn.AssignSubModuleError,
        _submodule_outside_setup_or_compact,
        r"neither setup\(\) nor @compact",
    ),
    (nn.FrozenModuleError, _frozen, r"attribute 'features'.*clone\(features=\.\.\.\)"),
    (
        nn.MultipleCompactMethodsError,
        _two_compact_methods,
        r"several @compact methods \['__call__', 'other'\]",
    ),
    (nn.LiftError, _lift_conflict, r"'params' is in variable_axes and also in variable_broadcast"),
    (nn.LiftError, _lift_outer_module, r"bound outside the lifted transformation"),
    (nn.LiftError, _scan_writes_broadcast, r"\['counter'\] are broadcast.*variable_carry"),
    (
        nn.LiftError,
        _vmap_writes_shared_collection,
        r"differ per mapped element.*variable_axes=\{'batch_stats': 0\}",
    ),
]


@pytest.mark.parametrize(
    "error, trigger, message", ERRORS, ids=[f"{e.__name__}-{t.__name__}" for e, t, _ in ERRORS]
)
def test_error_catalogue(error, trigger, message):
    with pytest.raises(error, match=message) as info:
        trigger()
    assert isinstance(info.value, nn.ModuleError)


def test_every_error_class_is_documented_and_exercised():
    classes = {
        getattr(nn, name)
        for name in nn.__all__
        if isinstance(getattr(nn, name), type) and issubclass(getattr(nn, name), nn.ModuleError)
    }
    exercised = {e for e, _, _ in ERRORS} | {nn.StateDictError}
    missing = {c.__name__ for c in classes - exercised - {nn.ModuleError}}
    assert not missing, f"add error-catalogue rows for {sorted(missing)}"
    for cls in classes:
        doc = inspect.getdoc(cls)
        assert doc and (cls is nn.ModuleError or ("Cause" in doc and "Fix" in doc)), cls.__name__


def test_errors_name_the_module_path():
    class Outer(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(3, name="inner")(x)

    variables = Outer().init(key(0), rand(1, 2))
    with pytest.raises(nn.ParamShapeError, match=r"of /inner has shape \(2, 3\)"):
        Outer().apply(variables, rand(1, 4))


# --------------------------------------------------------------------------- the example


def _tiny_mnist(n_train=192, n_test=64):
    """Learnable synthetic digits: class k lights up row block k of the image."""
    rng = np.random.default_rng(0)

    def make(n):
        y = rng.integers(0, 10, n).astype(np.int32)
        x = rng.random((n, 28, 28, 1), dtype=np.float32) * 0.1
        for i, k in enumerate(y):
            x[i, 2 * k + 4 : 2 * k + 6, 4:24] = 1.0
        return x, y

    return (*make(n_train), *make(n_test))


def test_example_trains_checkpoints_and_resumes(tmp_path, monkeypatch, capsys):
    import mnist_nn_modules as example

    data = _tiny_mnist()
    monkeypatch.setattr(example, "load_mnist", lambda *a, **k: data)
    ckpt = str(tmp_path / "ckpt")
    example.main(["--epochs", "1", "--batch-size", "64", "--checkpoint-dir", ckpt])
    first = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(r"epoch  1/1  loss \d+\.\d{4}  test acc \d\.\d{4}  time .*s", first[-2])
    assert re.fullmatch(r"test accuracy: \d\.\d{4}", first[-1])
    assert any(line.startswith("| /BatchNorm_0") for line in first)  # the parameter table

    example.main(["--epochs", "2", "--batch-size", "64", "--checkpoint-dir", ckpt, "--resume"])
    second = capsys.readouterr().out.strip().splitlines()
    assert any(line.startswith("resumed from") and "(epoch 1)" in line for line in second)
    assert not any(line.startswith("epoch  1/") for line in second)
    assert re.fullmatch(r"epoch  2/2  .*", second[-2])
    assert re.fullmatch(r"test accuracy: \d\.\d{4}", second[-1])


def test_example_rejects_resume_without_a_checkpoint_dir(capsys):
    import mnist_nn_modules as example

    with pytest.raises(SystemExit) as info:
        example.parse_args(["--resume"])
    assert info.value.code == 2
    assert "--resume needs --checkpoint-dir" in capsys.readouterr().err


# --------------------------------------------------------------------------- sow and intermediates


class Sower(nn.Module):
    @nn.compact
    def __call__(self, x):
        h = nn.Dense(3, name="hidden")(x)
        self.sow("intermediates", "h", h)
        self.sow("stats", "total", h.sum(), reduce_fn=lambda a, b: a + b, init_fn=lambda: 0.0)
        return nn.Dense(2, name="out")(h)


def test_sow_stores_only_into_mutable_collections():
    x = rand(2, 4)
    model = Sower()
    variables = model.init(key(0), x)
    # init returns every collection except the sown intermediates (as Flax's DenyList).
    assert sorted(variables) == ["params", "stats"]
    params = {"params": variables["params"]}
    plain = model.apply(params, x)
    out, state = model.apply(params, x, mutable=["intermediates"])
    assert_close(out, plain)
    (h,) = state["intermediates"]["h"]
    assert_close(h, np_dense(npy(params["params"])["hidden"], x), rtol=1e-5)
    assert list(state) == ["intermediates"]  # 'stats' was not mutable: nothing stored
    _, stats = model.apply(params, x, mutable=["stats"])
    np.testing.assert_allclose(float(stats["stats"]["total"]), float(np.asarray(h).sum()), 1e-5)
    everything = model.init(key(0), x, mutable=True)
    assert sorted(everything) == ["intermediates", "params", "stats"]


def test_sow_returns_whether_it_stored_and_accumulates_over_calls():
    class Twice(nn.Module):
        @nn.compact
        def __call__(self, x):
            stored = [self.sow("intermediates", "x", x), self.sow("intermediates", "x", 2 * x)]
            return x, stored

    (_, stored), state = Twice().apply({}, np.ones(2, np.float32), mutable=["intermediates"])
    assert stored == [True, True]
    first, second = state["intermediates"]["x"]
    assert_close(second, 2 * np.asarray(first))
    _, stored = Twice().apply({}, np.ones(2, np.float32))
    assert stored == [False, False]


def test_sow_name_collision_with_a_submodule_raises():
    class Clash(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.Dense(2, name="a")(x)
            self.sow("intermediates", "a", x)
            return x

    with pytest.raises(nn.NameInUseError, match="'a'"):
        Clash().init(key(0), np.ones((1, 2), np.float32), mutable=True)


def test_capture_intermediates_records_every_call_or_the_filtered_ones():
    x = rand(2, 4)
    model = Sower()
    params = {"params": model.init(key(0), x)["params"]}
    out, state = model.apply(params, x, capture_intermediates=True)
    inter = state["intermediates"]
    assert sorted(inter) == ["__call__", "h", "hidden", "out"]
    assert_close(inter["__call__"][0], out)
    assert_close(inter["out"]["__call__"][0], out)
    assert shapes(inter["hidden"]) == {"__call__": ((2, 3),)}

    def dense_only(module, method_name):
        return isinstance(module, nn.Dense)

    _, state = model.apply(params, x, capture_intermediates=dense_only, mutable=["stats"])
    assert sorted(state) == ["intermediates", "stats"]
    assert sorted(state["intermediates"]) == ["h", "hidden", "out"]
    _, variables = model.init_with_output(key(0), x, capture_intermediates=True)
    assert "__call__" in variables["intermediates"]
    with pytest.raises(TypeError, match="capture_intermediates must be True, False or a function"):
        model.apply(params, x, capture_intermediates="all")


def test_capture_intermediates_under_jit_and_inside_an_rnn():
    x = rand(2, 5, 3)
    rnn = nn.RNN(nn.GRUCell(4))
    variables = rnn.init(key(0), x)

    @dx.jit
    def run(variables, x):
        return rnn.apply(variables, x, capture_intermediates=True)

    out, state = run(variables, x)
    # The cell runs inside the lifted scan: only the RNN's own call is recorded (as Flax).
    assert shapes(state) == {"intermediates": {"__call__": ((2, 5, 4),)}}
    assert_close(state["intermediates"]["__call__"][0], out)


def test_deny_list_filter():
    keep = nn.DenyList(("intermediates", "cache"))
    assert core.in_filter(keep, "params") and not core.in_filter(keep, "cache")
    with pytest.raises(TypeError, match="collection names"):
        nn.DenyList((1,))
    variables = Sower().init(key(0), rand(1, 4), mutable=nn.DenyList("stats"))
    assert sorted(variables) == ["intermediates", "params"]


# --------------------------------------------------------------------------- recurrent extras


def np_gru_run(p, xs, reverse_within=None):
    """The GRU over ``xs (batch, time, in)`` in NumPy; with ``reverse_within`` (lengths), each
    sequence's valid steps are processed last to first, then its padding last to first."""
    b, t = xs.shape[:2]
    h = np.zeros((b, p["hr"]["kernel"].shape[0]), np.float32)
    order = [list(range(t))] * b
    if reverse_within is not None:
        order = [list(reversed(range(n))) + list(reversed(range(n, t))) for n in reverse_within]
    ys = np.zeros((b, t, h.shape[1]), np.float32)
    carries = []
    for step in range(t):
        x_t = np.stack([xs[i, order[i][step]] for i in range(b)])
        h, y = np_gru(p, h, x_t)
        carries.append(h)
        for i in range(b):
            ys[i, order[i][step]] = y[i]
    return ys, carries


def test_flip_sequences_keeps_padding_at_the_end():
    x = np.array([[1, 0, 0], [2, 3, 0], [4, 5, 6]], np.int32)
    got = nn.flip_sequences(x, np.array([1, 2, 3]), num_batch_dims=1, time_major=False)
    np.testing.assert_array_equal(np.asarray(got), [[1, 0, 0], [3, 2, 0], [6, 5, 4]])
    tm = nn.flip_sequences(x.T[..., None], np.array([1, 2, 3]), 1, time_major=True)
    np.testing.assert_array_equal(np.asarray(tm)[..., 0].T, np.asarray(got))
    twice = nn.flip_sequences(got, np.array([1, 2, 3]), 1, False)
    np.testing.assert_array_equal(np.asarray(twice), x)
    with pytest.raises(ValueError, match=r"seq_lengths of shape \(2,\).*\(3,\)"):
        nn.flip_sequences(x, np.array([1, 2]), 1, False)


@pytest.mark.parametrize("keep_order", [False, True])
def test_rnn_reverse_with_seq_lengths_reverses_each_sequence_within_its_length(keep_order):
    xs = rand(3, 5, 2)
    lengths = np.array([5, 2, 3], np.int32)
    rnn = nn.RNN(nn.GRUCell(4), reverse=True, keep_order=keep_order, return_carry=True)
    variables = rnn.init(key(0), xs)
    carry, ys = rnn.apply(variables, xs, seq_lengths=lengths)
    p = npy(variables["params"]["cell"])
    want, carries = np_gru_run(p, xs, reverse_within=lengths)
    if not keep_order:  # processing order: the flipped positions
        want = np.asarray(nn.flip_sequences(want, lengths, 1, False))
    np.testing.assert_allclose(np.asarray(ys), want, rtol=1e-4, atol=1e-5)
    # The carry is the one after each sequence's last valid step.
    last = np.stack([carries[n - 1][i] for i, n in enumerate(lengths)])
    np.testing.assert_allclose(np.asarray(carry), last, rtol=1e-4, atol=1e-5)


def test_rnn_seq_lengths_check_their_dtype():
    rnn = nn.RNN(nn.GRUCell(2))
    xs = rand(2, 3, 2)
    variables = rnn.init(key(0), xs)
    with pytest.raises(TypeError, match="seq_lengths must be integers"):
        rnn.apply(variables, xs, seq_lengths=np.array([1.0, 2.0]))


def test_bidirectional_merges_a_forward_and_a_backward_rnn():
    xs = rand(2, 4, 3)
    lengths = np.array([4, 2], np.int32)
    layer = nn.Bidirectional(nn.RNN(nn.GRUCell(3)), nn.RNN(nn.GRUCell(2)), return_carry=True)
    variables = layer.init(key(0), xs)
    (fwd_carry, bwd_carry), out = layer.apply(variables, xs, seq_lengths=lengths)
    p = npy(variables["params"])
    fwd, fwd_carries = np_gru_run(p["forward_rnn"]["cell"], xs)
    bwd, bwd_carries = np_gru_run(p["backward_rnn"]["cell"], xs, reverse_within=lengths)
    np.testing.assert_allclose(np.asarray(out), np.concatenate([fwd, bwd], -1), 1e-4, 1e-5)
    want_fwd = np.stack([fwd_carries[n - 1][i] for i, n in enumerate(lengths)])
    want_bwd = np.stack([bwd_carries[n - 1][i] for i, n in enumerate(lengths)])
    np.testing.assert_allclose(np.asarray(fwd_carry), want_fwd, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(bwd_carry), want_bwd, rtol=1e-4, atol=1e-5)
    # One RNN instance for both directions shares its parameters.
    shared = nn.RNN(nn.GRUCell(3))
    tied = nn.Bidirectional(shared, shared, merge_fn=lambda a, b: a + b)
    assert list(tied.init(key(0), xs)["params"]) == ["forward_rnn"]


def test_lstm_and_gru_cells_keep_their_parameter_trees():
    x = rand(2, 3)
    lstm = nn.LSTMCell(4).init(key(0), nn.LSTMCell(4).initialize_carry(None, x.shape), x)
    gru = nn.GRUCell(4).init(key(0), nn.GRUCell(4).initialize_carry(None, x.shape), x)
    lstm_shapes = {"kernel": (3, 4)}
    recurrent = {"kernel": (4, 4), "bias": (4,)}
    assert shapes(lstm["params"]) == {
        **{f"i{g}": lstm_shapes for g in "ifgo"},
        **{f"h{g}": recurrent for g in "ifgo"},
    }
    assert shapes(gru["params"]) == {
        "ir": {"kernel": (3, 4), "bias": (4,)},
        "iz": {"kernel": (3, 4), "bias": (4,)},
        "in": {"kernel": (3, 4), "bias": (4,)},
        "hr": {"kernel": (4, 4)},
        "hz": {"kernel": (4, 4)},
        "hn": {"kernel": (4, 4), "bias": (4,)},
    }


# --------------------------------------------------------------------------- conv transpose


@pytest.mark.parametrize("kernel, strides", [((3, 3), 2), ((3, 5), (2, 1)), ((5, 3), 1)])
def test_circular_conv_transpose_is_the_adjoint_of_circular_conv(kernel, strides):
    """With ``transpose_kernel=True`` and the same odd-sized kernel, ConvTranspose('CIRCULAR')
    is the transpose of the linear map Conv('CIRCULAR') for strides 1 and 2: <ConvT(y), x> ==
    <y, Conv(x)>.
    (Even sizes align the two paddings differently, in Flax too; the oracle tests cover
    them.)"""
    s = (strides,) * 2 if isinstance(strides, int) else strides
    x = rand(1, 3 * s[0], 3 * s[1], 2)
    conv = nn.Conv(5, kernel, strides=strides, padding="CIRCULAR", use_bias=False)
    variables = conv.init(key(0), x)
    y = rand(1, 3, 3, 5)
    up = nn.ConvTranspose(
        2, kernel, strides=strides, padding="CIRCULAR", use_bias=False, transpose_kernel=True
    )
    ty = up.apply(variables, y)
    assert ty.shape == x.shape
    lhs = float(np.sum(np.asarray(ty, np.float64) * x))
    rhs = float(np.sum(y * np.asarray(conv.apply(variables, x), np.float64)))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-4)


def test_circular_conv_transpose_adds_the_bias_once_per_output():
    x = rand(1, 4, 3)
    up = nn.ConvTranspose(2, (3,), strides=2, padding="CIRCULAR", bias_init=nn.initializers.ones)
    variables = up.init(key(0), x)
    without = {"params": {**variables["params"], "bias": np.zeros(2, np.float32)}}
    np.testing.assert_allclose(
        np.asarray(up.apply(variables, x)), np.asarray(up.apply(without, x)) + 1.0, rtol=1e-6
    )
    with pytest.raises(ValueError, match="'REFLECT' is not supported"):
        nn.ConvTranspose(2, (3,), padding="REFLECT").init(key(0), x)


# --------------------------------------------------------------------------- attention dropout


def _attention_weights(broadcast_dropout):
    """The dropped-out attention weights, read through values that are one-hot positions
    (a value head size different from the key's)."""
    b, t, n, s = 3, 4, 2, 5
    q = np.zeros((b, t, n, 2), np.float32)  # equal logits: every weight is 1/s
    k = np.zeros((b, s, n, 2), np.float32)
    v = np.broadcast_to(np.eye(s, dtype=np.float32)[None, :, None, :], (b, s, n, s))
    out = dx.nn.dot_product_attention(
        q, k, v, dropout_rate=0.5, dropout_key=key(1), broadcast_dropout=broadcast_dropout
    )
    return np.asarray(out), s  # out[b, t, n, s'] = weight of key position s'


def test_broadcast_dropout_shares_one_mask_across_batch_and_heads():
    shared, s = _attention_weights(True)
    kept = shared != 0
    np.testing.assert_allclose(shared[kept], 1 / (s * 0.5), rtol=1e-6)
    assert kept.any() and not kept.all()
    assert (kept == kept[:1, :, :1]).all()  # the same mask for every batch entry and head
    independent, _ = _attention_weights(False)
    kept = independent != 0
    assert not (kept == kept[:1, :, :1]).all()


def test_attention_module_dropout_modes_differ_only_in_the_mask_sharing():
    x = rand(2, 3, 4)
    variables = nn.MultiHeadDotProductAttention(num_heads=2).init(key(0), x)
    outs = {}
    for shared in (True, False):
        attn = nn.MultiHeadDotProductAttention(
            num_heads=2, dropout_rate=0.5, broadcast_dropout=shared
        )
        outs[shared] = attn.apply(variables, x, deterministic=False, rngs={"dropout": key(2)})
        evaluated = attn.apply(variables, x, deterministic=True)
        assert_close(evaluated, nn.MultiHeadDotProductAttention(num_heads=2).apply(variables, x))
    assert not np.allclose(np.asarray(outs[True]), np.asarray(outs[False]))
