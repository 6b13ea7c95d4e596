"""nn_modules against Flax linen: the same variables give the same outputs and the same
updated ``batch_stats``, and the same module definitions give parameter trees with the same
structure and shapes.

Skipped when Flax is not installed (it is a test oracle only: ``pip install -e '.[oracle]'``).
"""

from __future__ import annotations

import numpy as np
import pytest

import derivax as dx
import nn_modules as nn

pytestmark = pytest.mark.oracle

flax_linen = pytest.importorskip(
    "flax.linen", reason="Flax is a test oracle; install it with pip install -e '.[oracle]'"
)
jax = pytest.importorskip("jax", reason="Flax needs JAX")
jnp = pytest.importorskip("jax.numpy", reason="Flax needs JAX")
fnn = flax_linen

RNG = np.random.default_rng(0)


def rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def to_np(tree):
    """Flax variables (jax arrays, possibly a FrozenDict) as nested dicts of NumPy arrays."""
    if hasattr(tree, "items"):
        return {k: to_np(v) for k, v in tree.items()}
    return np.asarray(tree)


def shapes(tree):
    if hasattr(tree, "items"):
        return {k: shapes(v) for k, v in tree.items()}
    return tuple(np.shape(tree))


def close(ours, theirs, tol=1e-5):
    ours_leaves = dx.tree.leaves(ours)
    theirs_leaves = jax.tree_util.tree_leaves(theirs)
    assert len(ours_leaves) == len(theirs_leaves)
    for a, b in zip(ours_leaves, theirs_leaves, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol)


# One row per comparison: (id, our module, Flax's module, inputs, call kwargs, mutable).
CASES = [
    ("Dense", nn.Dense(5), fnn.Dense(5), (rand(3, 4),), {}, False),
    (
        "Dense/no-bias",
        nn.Dense(5, use_bias=False),
        fnn.Dense(5, use_bias=False),
        (rand(2, 3, 4),),
        {},
        False,
    ),
    (
        "DenseGeneral",
        nn.DenseGeneral((2, 3), axis=(-2, -1)),
        fnn.DenseGeneral((2, 3), axis=(-2, -1)),
        (rand(4, 3, 5),),
        {},
        False,
    ),
    ("Conv/same", nn.Conv(6, (3, 3)), fnn.Conv(6, (3, 3)), (rand(2, 7, 7, 3),), {}, False),
    (
        "Conv/strided",
        nn.Conv(4, (3, 3), strides=2, padding="VALID", kernel_dilation=1),
        fnn.Conv(4, (3, 3), strides=2, padding="VALID"),
        (rand(2, 9, 9, 2),),
        {},
        False,
    ),
    (
        "Conv/dilated-grouped",
        nn.Conv(4, (3, 3), kernel_dilation=2, feature_group_count=2),
        fnn.Conv(4, (3, 3), kernel_dilation=2, feature_group_count=2),
        (rand(1, 8, 8, 4),),
        {},
        False,
    ),
    (
        "Conv/circular",
        nn.Conv(3, (3, 3), padding="CIRCULAR"),
        fnn.Conv(3, (3, 3), padding="CIRCULAR"),
        (rand(1, 5, 6, 2),),
        {},
        False,
    ),
    (
        "Conv/causal",
        nn.Conv(3, (3,), padding="CAUSAL"),
        fnn.Conv(3, (3,), padding="CAUSAL"),
        (rand(2, 6, 2),),
        {},
        False,
    ),
    (
        "ConvTranspose",
        nn.ConvTranspose(3, (3, 3), strides=2),
        fnn.ConvTranspose(3, (3, 3), strides=(2, 2)),
        (rand(2, 4, 4, 2),),
        {},
        False,
    ),
    (
        "Embed",
        nn.Embed(11, 4),
        fnn.Embed(11, 4),
        (RNG.integers(0, 11, (2, 5)).astype(np.int32),),
        {},
        False,
    ),
    (
        "BatchNorm/train",
        nn.BatchNorm(use_running_average=False, momentum=0.9),
        fnn.BatchNorm(use_running_average=False, momentum=0.9),
        (rand(6, 4, 3) * 3 + 1,),
        {},
        ["batch_stats"],
    ),
    (
        "BatchNorm/eval",
        nn.BatchNorm(use_running_average=True),
        fnn.BatchNorm(use_running_average=True),
        (rand(6, 3),),
        {},
        False,
    ),
    (
        "BatchNorm/two-axes",
        nn.BatchNorm(use_running_average=False, axis=(-2, -1)),
        fnn.BatchNorm(use_running_average=False, axis=(-2, -1)),
        (rand(5, 2, 3),),
        {},
        ["batch_stats"],
    ),
    ("LayerNorm", nn.LayerNorm(), fnn.LayerNorm(), (rand(3, 7),), {}, False),
    (
        "LayerNorm/axes",
        nn.LayerNorm(reduction_axes=(-2, -1), feature_axes=-1),
        fnn.LayerNorm(reduction_axes=(-2, -1), feature_axes=-1),
        (rand(3, 4, 5),),
        {},
        False,
    ),
    ("RMSNorm", nn.RMSNorm(), fnn.RMSNorm(), (rand(3, 7),), {}, False),
    (
        "GroupNorm",
        nn.GroupNorm(num_groups=3),
        fnn.GroupNorm(num_groups=3),
        (rand(2, 4, 4, 6),),
        {},
        False,
    ),
    (
        "GroupNorm/group_size",
        nn.GroupNorm(num_groups=None, group_size=2),
        fnn.GroupNorm(num_groups=None, group_size=2),
        (rand(2, 5, 6),),
        {},
        False,
    ),
    (
        "MultiHeadDotProductAttention",
        nn.MultiHeadDotProductAttention(num_heads=2, qkv_features=8, out_features=5),
        fnn.MultiHeadDotProductAttention(num_heads=2, qkv_features=8, out_features=5),
        (rand(2, 3, 6), rand(2, 4, 6)),
        {},
        False,
    ),
    (
        "SelfAttention/masked",
        nn.SelfAttention(num_heads=4),
        # Flax's SelfAttention is deprecated in favour of MHA called with one input.
        fnn.MultiHeadDotProductAttention(num_heads=4),
        (rand(2, 5, 8),),
        {"mask": np.tril(np.ones((1, 1, 5, 5), bool))},
        False,
    ),
    (
        "LSTMCell",
        nn.LSTMCell(5),
        fnn.LSTMCell(5),
        ((rand(3, 5), rand(3, 5)), rand(3, 4)),
        {},
        False,
    ),
    ("GRUCell", nn.GRUCell(5), fnn.GRUCell(5), (rand(3, 5), rand(3, 4)), {}, False),
    ("RNN/LSTM", nn.RNN(nn.LSTMCell(4)), fnn.RNN(fnn.LSTMCell(4)), (rand(2, 6, 3),), {}, False),
    (
        "RNN/GRU-reverse",
        nn.RNN(nn.GRUCell(4), reverse=True, keep_order=True),
        fnn.RNN(fnn.GRUCell(4), reverse=True, keep_order=True),
        (rand(2, 6, 3),),
        {},
        False,
    ),
    (
        "RNN/GRU-seq_lengths-reverse-carry",
        nn.RNN(nn.GRUCell(4), reverse=True, return_carry=True),
        fnn.RNN(fnn.GRUCell(4), reverse=True, return_carry=True),
        (rand(3, 6, 3),),
        {"seq_lengths": np.array([6, 2, 4], np.int32)},
        False,
    ),
    (
        "RNN/LSTM-time-major-seq_lengths-keep-order",
        nn.RNN(nn.LSTMCell(4), time_major=True, reverse=True, keep_order=True, return_carry=True),
        fnn.RNN(fnn.LSTMCell(4), time_major=True, reverse=True, keep_order=True, return_carry=True),
        (rand(5, 3, 2),),
        {"seq_lengths": np.array([1, 5, 3], np.int32)},
        False,
    ),
    (
        "Bidirectional",
        nn.Bidirectional(nn.RNN(nn.GRUCell(4)), nn.RNN(nn.LSTMCell(3)), return_carry=True),
        fnn.Bidirectional(fnn.RNN(fnn.GRUCell(4)), fnn.RNN(fnn.LSTMCell(3)), return_carry=True),
        (rand(3, 5, 2),),
        {"seq_lengths": np.array([5, 3, 1], np.int32)},
        False,
    ),
    (
        "ConvTranspose/circular-even-kernel",
        nn.ConvTranspose(3, (4, 4), strides=2, padding="CIRCULAR"),
        fnn.ConvTranspose(3, (4, 4), strides=2, padding="CIRCULAR"),
        (rand(2, 5, 5, 2),),
        {},
        False,
    ),
    (
        "ConvTranspose/circular-transpose-kernel",
        nn.ConvTranspose(3, (5, 2), strides=(3, 1), padding="CIRCULAR", transpose_kernel=True),
        fnn.ConvTranspose(3, (5, 2), strides=(3, 1), padding="CIRCULAR", transpose_kernel=True),
        (rand(2, 4, 3, 2),),
        {},
        False,
    ),
    (
        "ConvTranspose/circular-1d",
        nn.ConvTranspose(2, (3,), strides=2, padding="CIRCULAR"),
        fnn.ConvTranspose(2, (3,), strides=2, padding="CIRCULAR"),
        (rand(2, 7, 3),),
        {},
        False,
    ),
    (
        "Sequential",
        nn.Sequential([nn.Dense(4), nn.relu, nn.Dense(2)]),
        fnn.Sequential([fnn.Dense(4), fnn.relu, fnn.Dense(2)]),
        (rand(3, 5),),
        {},
        False,
    ),
]


_FLAX_VARIABLES: dict = {}


def _flax_init(case):
    """Flax's variables for a case, computed once (JAX compiles are the slow part here)."""
    name, _, theirs, inputs, kwargs, _ = case
    if name not in _FLAX_VARIABLES:
        jax_inputs = jax.tree_util.tree_map(jnp.asarray, inputs)
        _FLAX_VARIABLES[name] = to_np(theirs.init(jax.random.key(0), *jax_inputs, **kwargs))
    return _FLAX_VARIABLES[name]


def _nonzero_stats(variables):
    """Give batch norm non-trivial running statistics so evaluation mode is really tested."""
    if "batch_stats" not in variables:
        return variables
    stats = jax.tree_util.tree_map(
        lambda a: np.abs(rand(*a.shape)) + 0.5, to_np(variables["batch_stats"])
    )
    return {**to_np(variables), "batch_stats": stats}


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_same_variables_same_outputs_as_flax(case):
    _, ours, theirs, inputs, kwargs, mutable = case
    variables = _nonzero_stats(_flax_init(case))
    jax_inputs = jax.tree_util.tree_map(jnp.asarray, inputs)
    expected = theirs.apply(variables, *jax_inputs, mutable=mutable, **kwargs)
    got = ours.apply(variables, *inputs, mutable=mutable, **kwargs)
    if mutable:
        close(got[0], expected[0], tol=1e-4)
        # The same updated batch statistics.
        close(got[1]["batch_stats"], expected[1]["batch_stats"], tol=1e-5)
        assert shapes(got[1]) == shapes(to_np(expected[1]))
    else:
        close(got, expected, tol=1e-4)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_same_parameter_tree_as_flax(case):
    _, ours, _, inputs, kwargs, _ = case
    expected = shapes(_flax_init(case))
    got = shapes(ours.init(dx.random.key(0), *inputs, **kwargs))
    assert got == expected


def test_dropout_mask_matches_flax_for_the_same_key():
    x = np.ones((4, 16), np.float32)
    theirs = fnn.Dropout(0.3).apply({}, jnp.asarray(x), deterministic=False, rng=jax.random.key(3))
    ours = nn.Dropout(0.3).apply({}, x, deterministic=False, rng=dx.random.key(3))
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-6)


# --------------------------------------------------------------------------- whole models


class OurCNN(nn.Module):
    @nn.compact
    def __call__(self, x, train):
        x = nn.Conv(4, (3, 3))(x)
        x = nn.BatchNorm(use_running_average=not train)(x)
        x = nn.max_pool(nn.relu(x), (2, 2), strides=(2, 2))
        x = x.reshape((x.shape[0], -1))
        x = nn.Dropout(0.5, deterministic=not train)(x)
        return nn.Dense(3)(x)


class FlaxCNN(fnn.Module):
    @fnn.compact
    def __call__(self, x, train):
        x = fnn.Conv(4, (3, 3))(x)
        x = fnn.BatchNorm(use_running_average=not train)(x)
        x = fnn.max_pool(fnn.relu(x), (2, 2), strides=(2, 2))
        x = x.reshape((x.shape[0], -1))
        x = fnn.Dropout(0.5, deterministic=not train)(x)
        return fnn.Dense(3)(x)


class OurEncoder(nn.Module):
    def setup(self):
        self.embed = nn.Embed(9, 6)
        self.blocks = [nn.SelfAttention(num_heads=2), nn.LayerNorm()]
        self.head = nn.Sequential([nn.Dense(5), nn.gelu])
        self.rnn = nn.RNN(nn.GRUCell(3))

    def __call__(self, ids):
        x = self.embed(ids)
        for block in self.blocks:
            x = block(x)
        return self.rnn(self.head(x))


class FlaxEncoder(fnn.Module):
    def setup(self):
        self.embed = fnn.Embed(9, 6)
        self.blocks = [fnn.MultiHeadDotProductAttention(num_heads=2), fnn.LayerNorm()]
        self.head = fnn.Sequential([fnn.Dense(5), fnn.gelu])
        self.rnn = fnn.RNN(fnn.GRUCell(3))

    def __call__(self, ids):
        x = self.embed(ids)
        for block in self.blocks:
            x = block(x)
        return self.rnn(self.head(x))


def test_cnn_with_batch_norm_and_dropout_matches_flax():
    x = rand(4, 8, 8, 1)
    variables = to_np(FlaxCNN().init(jax.random.key(0), jnp.asarray(x), train=False))
    assert shapes(OurCNN().init(dx.random.key(0), x, train=False)) == shapes(variables)
    close(
        OurCNN().apply(variables, x, train=False),
        FlaxCNN().apply(variables, jnp.asarray(x), train=False),
    )
    # Training mode without dropout randomness differences: compare the batch statistics.
    ours = OurCNN().apply(
        variables, x, train=True, mutable=["batch_stats"], rngs={"dropout": dx.random.key(1)}
    )
    theirs = FlaxCNN().apply(
        variables,
        jnp.asarray(x),
        train=True,
        mutable=["batch_stats"],
        rngs={"dropout": jax.random.key(1)},
    )
    close(ours[1], theirs[1], tol=1e-5)


def test_setup_lists_sequential_and_rnn_naming_matches_flax():
    ids = RNG.integers(0, 9, (2, 4)).astype(np.int32)
    theirs = to_np(FlaxEncoder().init(jax.random.key(0), jnp.asarray(ids)))
    ours = OurEncoder().init(dx.random.key(0), ids)
    assert shapes(ours) == shapes(theirs)
    close(OurEncoder().apply(theirs, ids), FlaxEncoder().apply(theirs, jnp.asarray(ids)), tol=1e-4)


def test_lifted_vmap_and_scan_parameter_trees_match_flax():
    class OurStack(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.vmap(nn.Dense, variable_axes={"params": 0}, split_rngs={"params": True})(3)(x)
            return x

    class FlaxStack(fnn.Module):
        @fnn.compact
        def __call__(self, x):
            x = fnn.vmap(fnn.Dense, variable_axes={"params": 0}, split_rngs={"params": True})(3)(x)
            return x

    x = rand(4, 2, 5)
    theirs = to_np(FlaxStack().init(jax.random.key(0), jnp.asarray(x)))
    assert shapes(OurStack().init(dx.random.key(0), x)) == shapes(theirs)
    close(OurStack().apply(theirs, x), FlaxStack().apply(theirs, jnp.asarray(x)))


# --------------------------------------------------------------------------- new features


@pytest.mark.parametrize("broadcast", [True, False])
@pytest.mark.parametrize("shape", [(2, 3, 8), (2, 2, 3, 8)])
def test_attention_dropout_matches_flax_for_the_same_key(broadcast, shape):
    q = rand(*shape)
    kwargs = dict(num_heads=2, dropout_rate=0.4, broadcast_dropout=broadcast)
    theirs = fnn.MultiHeadDotProductAttention(**kwargs)
    variables = to_np(theirs.init(jax.random.key(0), jnp.asarray(q), deterministic=True))
    expected = theirs.apply(
        variables, jnp.asarray(q), deterministic=False, dropout_rng=jax.random.key(5)
    )
    got = nn.MultiHeadDotProductAttention(**kwargs).apply(
        variables, q, deterministic=False, dropout_rng=dx.random.key(5)
    )
    close(got, expected, tol=1e-5)


class OurSower(nn.Module):
    @nn.compact
    def __call__(self, x):
        h = nn.Dense(3)(x)
        self.sow("intermediates", "h", h)
        self.sow("intermediates", "h", 2 * h)
        return nn.RNN(nn.GRUCell(2))(nn.Dense(4)(h)[:, None])


class FlaxSower(fnn.Module):
    @fnn.compact
    def __call__(self, x):
        h = fnn.Dense(3)(x)
        self.sow("intermediates", "h", h)
        self.sow("intermediates", "h", 2 * h)
        return fnn.RNN(fnn.GRUCell(2))(fnn.Dense(4)(h)[:, None])


@pytest.mark.parametrize(
    "capture",
    [True, False, "dense-only"],
    ids=["all-calls", "sown-only", "filter"],
)
def test_sow_and_capture_intermediates_match_flax(capture):
    x = rand(2, 5)
    jx = jnp.asarray(x)
    flax_vars = FlaxSower().init(jax.random.key(0), jx)
    assert "intermediates" not in flax_vars
    variables = to_np(flax_vars)
    assert shapes(OurSower().init(dx.random.key(0), x)) == shapes(variables)
    ours_capture = theirs_capture = capture
    if capture == "dense-only":
        ours_capture = lambda module, method: isinstance(module, nn.Dense)  # noqa: E731
        theirs_capture = lambda module, method: isinstance(module, fnn.Dense)  # noqa: E731
    expected = FlaxSower().apply(
        variables, jx, capture_intermediates=theirs_capture, mutable=["intermediates"]
    )
    got = OurSower().apply(
        variables, x, capture_intermediates=ours_capture, mutable=["intermediates"]
    )
    assert shapes(got[1]) == shapes(to_np(expected[1]))
    close(got, expected, tol=1e-4)
