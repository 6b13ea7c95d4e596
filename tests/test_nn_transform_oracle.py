"""nn_transform against Haiku: the same function gives the same parameter names and shapes,
and the same parameters and state give the same outputs and new state.

Haiku is a test oracle only (marker ``oracle``); the tests skip when it is not installed.
"""

import numpy as np
import pytest

hk = pytest.importorskip(
    "haiku", reason="dm-haiku is the oracle of these tests (pip install dm-haiku)"
)
jax = pytest.importorskip("jax", reason="dm-haiku runs on JAX")
jnp = jax.numpy

import derivax as dx  # noqa: E402
import derivax.random as dr  # noqa: E402
import nn_transform as nt  # noqa: E402

pytestmark = pytest.mark.oracle

RNG = np.random.default_rng(0)


def rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def to_numpy(tree):
    return jax.tree_util.tree_map(np.asarray, tree)


def shapes(tree):
    return {m: {n: tuple(v.shape) for n, v in d.items()} for m, d in tree.items()}


def randomize(params):
    """Replace every Haiku-initialised parameter with random values (biases too)."""
    return {m: {n: rand(*np.shape(v)) for n, v in d.items()} for m, d in params.items()}


def plain(tree):
    """NamedTuples (each library has its own LSTMState) as plain tuples; arrays as NumPy."""
    if isinstance(tree, tuple):
        return tuple(plain(t) for t in tree)
    if isinstance(tree, dict):
        return {k: plain(v) for k, v in tree.items()}
    return np.asarray(tree)


def assert_trees_close(actual, expected, tol=1e-5):
    a_leaves, a_tree = jax.tree_util.tree_flatten(plain(actual))
    e_leaves, e_tree = jax.tree_util.tree_flatten(plain(expected))
    assert a_tree == e_tree, f"structures differ: {a_tree} vs {e_tree}"
    for a, e in zip(a_leaves, e_leaves, strict=True):
        np.testing.assert_allclose(a, e, rtol=tol, atol=tol)


HK_INIT = hk.initializers.VarianceScaling(2.0)
NT_INIT = nt.initializers.VarianceScaling(2.0)
W2, W3 = (1, 2, 2, 1), (1, 3, 3, 1)  # pooling windows with one entry per axis of NHWC

# Each case: (name, haiku function, nn_transform function, inputs). The two functions are
# written the same way in both libraries.
CASES = [
    ("Linear", lambda x: hk.Linear(3)(x), lambda x: nt.Linear(3)(x), (rand(4, 5),)),
    (
        "Linear-no-bias",
        lambda x: hk.Linear(3, with_bias=False)(x),
        lambda x: nt.Linear(3, with_bias=False)(x),
        (rand(2, 3, 5),),
    ),
    (
        "Conv2D",
        lambda x: hk.Conv2D(4, 3, stride=2)(x),
        lambda x: nt.Conv2D(4, 3, stride=2)(x),
        (rand(2, 7, 7, 3),),
    ),
    (
        "Conv2D-valid-dilated",
        lambda x: hk.Conv2D(2, (3, 2), rate=2, padding="VALID")(x),
        lambda x: nt.Conv2D(2, (3, 2), rate=2, padding="VALID")(x),
        (rand(1, 8, 8, 2),),
    ),
    (
        "Conv2D-unbatched",
        lambda x: hk.Conv2D(2, 3)(x),
        lambda x: nt.Conv2D(2, 3)(x),
        (rand(5, 5, 2),),
    ),
    (
        "Conv1D",
        lambda x: hk.Conv1D(3, 3, stride=2)(x),
        lambda x: nt.Conv1D(3, 3, stride=2)(x),
        (rand(2, 9, 2),),
    ),
    (
        "Conv2DTranspose",
        lambda x: hk.Conv2DTranspose(3, 3, stride=2)(x),
        lambda x: nt.Conv2DTranspose(3, 3, stride=2)(x),
        (rand(2, 4, 4, 2),),
    ),
    (
        "LayerNorm",
        lambda x: hk.LayerNorm(-1, True, True)(x),
        lambda x: nt.LayerNorm(-1, True, True)(x),
        (rand(3, 6),),
    ),
    (
        "LayerNorm-axes",
        lambda x: hk.LayerNorm((1, 2), True, False, eps=1e-3)(x),
        lambda x: nt.LayerNorm((1, 2), True, False, eps=1e-3)(x),
        (rand(2, 3, 4),),
    ),
    ("GroupNorm", lambda x: hk.GroupNorm(2)(x), lambda x: nt.GroupNorm(2)(x), (rand(2, 3, 3, 4),)),
    ("RMSNorm", lambda x: hk.RMSNorm(-1)(x), lambda x: nt.RMSNorm(-1)(x), (rand(3, 6),)),
    (
        "Embed",
        lambda ids: hk.Embed(7, 4)(ids),
        lambda ids: nt.Embed(7, 4)(ids),
        (np.array([[0, 3], [6, 6]], np.int32),),
    ),
    (
        "MultiHeadAttention",
        lambda q, kv, m: hk.MultiHeadAttention(2, 3, w_init=HK_INIT)(q, kv, kv, mask=m),
        lambda q, kv, m: nt.MultiHeadAttention(2, 3, w_init=NT_INIT)(q, kv, kv, mask=m),
        (rand(2, 4, 5), rand(2, 6, 5), RNG.random((2, 1, 4, 6)) > 0.3),
    ),
    (
        "MultiHeadAttention-sizes",
        lambda x: hk.MultiHeadAttention(2, 3, w_init=HK_INIT, value_size=5, model_size=4)(x, x, x),
        lambda x: nt.MultiHeadAttention(2, 3, w_init=NT_INIT, value_size=5, model_size=4)(x, x, x),
        (rand(3, 5),),
    ),
    (
        "LSTM",
        lambda x, h, c: hk.LSTM(4)(x, hk.LSTMState(h, c)),
        lambda x, h, c: nt.LSTM(4)(x, nt.LSTMState(h, c)),
        (rand(2, 3), rand(2, 4), rand(2, 4)),
    ),
    ("GRU", lambda x, h: hk.GRU(4)(x, h), lambda x, h: nt.GRU(4)(x, h), (rand(2, 3), rand(2, 4))),
    (
        "VanillaRNN",
        lambda x, h: hk.VanillaRNN(4)(x, h),
        lambda x, h: nt.VanillaRNN(4)(x, h),
        (rand(2, 3), rand(2, 4)),
    ),
    (
        "dynamic_unroll",
        lambda xs: hk.dynamic_unroll(hk.LSTM(3), xs, hk.LSTM(3).initial_state(2)),
        lambda xs: nt.dynamic_unroll(nt.LSTM(3), xs, nt.LSTM(3).initial_state(2)),
        (rand(5, 2, 4),),
    ),
    (
        "MLP",
        lambda x: hk.nets.MLP([5, 4, 2])(x),
        lambda x: nt.nets.MLP([5, 4, 2])(x),
        (rand(3, 6),),
    ),
    (
        "MLP-activate-final",
        lambda x: hk.nets.MLP([4, 3], activation=jax.nn.tanh, activate_final=True)(x),
        lambda x: nt.nets.MLP([4, 3], activation=dx.nn.tanh, activate_final=True)(x),
        (rand(2, 5),),
    ),
    (
        "pools",
        lambda x: (hk.max_pool(x, W2, W2, "SAME"), hk.avg_pool(x, W3, W2, "SAME")),
        lambda x: (nt.max_pool(x, 2, 2, "SAME"), nt.avg_pool(x, W3, W2, "SAME")),
        (rand(2, 5, 5, 3),),
    ),
    ("Flatten", lambda x: hk.Flatten()(x), lambda x: nt.Flatten()(x), (rand(2, 3, 4),)),
]


@pytest.mark.parametrize("name, hk_fn, nt_fn, inputs", CASES, ids=[c[0] for c in CASES])
def test_same_params_same_outputs_as_haiku(name, hk_fn, nt_fn, inputs):
    hk_model = hk.transform(hk_fn)
    hk_params = hk_model.init(jax.random.PRNGKey(0), *inputs)
    nt_params = nt.transform(nt_fn).init(dr.PRNGKey(0), *inputs)
    assert shapes(nt_params) == shapes(hk_params), "parameter names and shapes"
    params = randomize(hk_params)
    expected = hk_model.apply(params, None, *inputs)
    actual = nt.transform(nt_fn).apply(params, None, *inputs)
    assert_trees_close(actual, expected)


@pytest.mark.parametrize(
    "name, hk_fn, nt_fn",
    [
        ("Linear", lambda x: hk.Linear(3)(x), lambda x: nt.Linear(3)(x)),
        ("MLP", lambda x: hk.nets.MLP([8, 3])(x), lambda x: nt.nets.MLP([8, 3])(x)),
        (
            "Conv2D",
            lambda x: hk.Conv2D(3, 2)(x[:, :, None, None]),
            lambda x: nt.Conv2D(3, 2)(x[:, :, None, None]),
        ),
        (
            "MultiHeadAttention",
            lambda x: hk.MultiHeadAttention(2, 2, w_init=HK_INIT)(x, x, x),
            lambda x: nt.MultiHeadAttention(2, 2, w_init=NT_INIT)(x, x, x),
        ),
        (
            "GRU",
            lambda x: hk.GRU(3)(x, jnp.zeros((4, 3))),
            lambda x: nt.GRU(3)(x, np.zeros((4, 3), np.float32)),
        ),
        (
            "LSTM",
            lambda x: hk.LSTM(3)(x, hk.LSTM(3).initial_state(4)),
            lambda x: nt.LSTM(3)(x, nt.LSTM(3).initial_state(4)),
        ),
    ],
)
def test_same_seed_same_initial_params_as_haiku(name, hk_fn, nt_fn):
    # Keys are drawn in the same order from the same split sequence, and derivax.random
    # reproduces JAX's bits, so initialisation itself agrees.
    x = rand(4, 5)
    expected = hk.transform(hk_fn).init(jax.random.PRNGKey(42), x)
    actual = nt.transform(nt_fn).init(dr.PRNGKey(42), x)
    assert_trees_close(actual, expected, tol=1e-6)


def test_embed_default_init_matches_haiku():
    ids = np.array([1, 2], np.int32)
    expected = hk.transform(lambda i: hk.Embed(9, 4)(i)).init(jax.random.PRNGKey(3), ids)
    actual = nt.transform(lambda i: nt.Embed(9, 4)(i)).init(dr.PRNGKey(3), ids)
    assert_trees_close(actual, expected, tol=1e-6)


def _batch_norm(lib):
    def f(x, is_training):
        return lib.BatchNorm(True, True, 0.9)(x, is_training=is_training)

    return f


@pytest.mark.parametrize("shape", [(6, 3), (2, 4, 4, 3)])
def test_batch_norm_train_and_eval_match_haiku(shape):
    hk_model = hk.transform_with_state(_batch_norm(hk))
    nt_model = nt.transform_with_state(_batch_norm(nt))
    x0, x1, x2 = rand(*shape), rand(*shape) * 2 + 1, rand(*shape)
    hk_params, hk_state = hk_model.init(None, x0, True)
    nt_params, nt_state = nt_model.init(None, x0, True)
    assert shapes(nt_params) == shapes(hk_params)
    assert_trees_close(nt_state, hk_state)
    params = randomize(hk_params)
    for x in (x0, x1):  # two training steps: output and updated moving averages
        hk_out, hk_state = hk_model.apply(params, hk_state, None, x, True)
        nt_out, nt_state = nt_model.apply(params, nt_state, None, x, True)
        assert_trees_close(nt_out, hk_out, tol=1e-4)
        assert_trees_close(nt_state, hk_state, tol=1e-5)
    hk_out, _ = hk_model.apply(params, hk_state, None, x2, False)
    nt_out, _ = nt_model.apply(params, to_numpy(hk_state), None, x2, False)
    assert_trees_close(nt_out, hk_out, tol=1e-4)


def test_batch_norm_test_local_stats_matches_haiku():
    def f(lib):
        return lambda x: lib.BatchNorm(False, True, 0.5)(
            x, is_training=False, test_local_stats=True
        )

    x = rand(5, 2)
    hk_model = hk.transform_with_state(_batch_norm(hk))
    _, hk_state = hk_model.init(None, x, True)
    hk_eval = hk.transform_with_state(f(hk))
    params = {"batch_norm": {"offset": rand(1, 2)}}
    expected, _ = hk_eval.apply(params, hk_state, None, x)
    actual, _ = nt.transform_with_state(f(nt)).apply(params, to_numpy(hk_state), None, x)
    assert_trees_close(actual, expected, tol=1e-4)


def test_resnet18_parameter_and_state_names_match_haiku():
    x = np.zeros((1, 32, 32, 3), np.float32)

    def make(lib):
        return lambda x: lib.nets.ResNet18(10)(x, is_training=True)

    hk_params, hk_state = jax.eval_shape(
        lambda x: hk.transform_with_state(make(hk)).init(jax.random.PRNGKey(0), x), x
    )
    nt_params, nt_state = dx.eval_shape(
        lambda x: nt.transform_with_state(make(nt)).init(dr.PRNGKey(0), x), x
    )
    assert shapes(nt_params) == shapes(hk_params)
    assert shapes(nt_state) == shapes(hk_state)


# --------------------------------------------------------------------------- gaps closed later


@pytest.mark.parametrize(
    "n, in_shape, out_shape, kernel, stride, padding",
    [
        (1, (4,), (12,), 3, 3, "VALID"),
        (2, (5, 5), (10, 9), 3, 2, "SAME"),
        (2, (4, 4), (9, 10), (3, 4), 2, "VALID"),
        (3, (2, 3, 2), (4, 6, 3), 2, 2, "SAME"),
    ],
)
def test_conv_transpose_output_shape_matches_haiku(n, in_shape, out_shape, kernel, stride, padding):
    x = rand(2, *in_shape, 3)
    hk_cls = {1: hk.Conv1DTranspose, 2: hk.Conv2DTranspose, 3: hk.Conv3DTranspose}[n]
    nt_cls = {1: nt.Conv1DTranspose, 2: nt.Conv2DTranspose, 3: nt.Conv3DTranspose}[n]
    kwargs = dict(stride=stride, output_shape=out_shape, padding=padding)
    hk_model = hk.transform(lambda x: hk_cls(4, kernel, **kwargs)(x))
    params = randomize(hk_model.init(jax.random.PRNGKey(0), x))
    nt_model = nt.transform(lambda x: nt_cls(4, kernel, **kwargs)(x))
    assert shapes(nt_model.init(dr.PRNGKey(0), x)) == shapes(params)
    expected = hk_model.apply(params, None, x)
    assert expected.shape == (2, *out_shape, 4)
    assert_trees_close(nt_model.apply(params, None, x), expected)


def test_multi_head_attention_value_size_matches_haiku():
    q, kv = rand(2, 3, 4), rand(2, 5, 6)
    mask = RNG.random((2, 1, 3, 5)) > 0.3

    def make(lib, w_init):
        return lambda q, kv, m: lib.MultiHeadAttention(
            2, 3, value_size=5, model_size=7, w_init=w_init
        )(q, kv, kv, m)

    hk_model = hk.transform(make(hk, HK_INIT))
    params = randomize(hk_model.init(jax.random.PRNGKey(0), q, kv, mask))
    nt_model = nt.transform(make(nt, NT_INIT))
    assert shapes(nt_model.init(dr.PRNGKey(0), q, kv, mask)) == shapes(params)
    expected = hk_model.apply(params, None, q, kv, mask)
    assert_trees_close(nt_model.apply(params, None, q, kv, mask), expected)


def _vmapped_noise(lib, random):
    """A function whose per-example code creates a shared parameter and draws a key."""

    def f(xs):
        def per_example(x):
            w = lib.get_parameter("w", (3,), init=lib.initializers.Constant(2.0))
            return x * w + random.uniform(lib.next_rng_key(), (3,))

        out = lib.vmap(per_example, split_rng=True)(xs)
        lib.set_state("out", out)
        return out + random.uniform(lib.next_rng_key(), (3,))

    return lib.transform_with_state(f)


def test_vmap_split_rng_draws_the_same_keys_as_haiku_in_init_and_apply():
    xs = rand(4, 3)
    hk_params, hk_state = _vmapped_noise(hk, jax.random).init(jax.random.PRNGKey(0), xs)
    nt_params, nt_state = _vmapped_noise(nt, dr).init(dr.PRNGKey(0), xs)
    assert_trees_close(nt_params, hk_params)  # shared, not batched
    assert_trees_close(nt_state, hk_state)  # the outputs computed during init
    expected, _ = _vmapped_noise(hk, jax.random).apply(
        hk_params, hk_state, jax.random.PRNGKey(1), xs
    )
    actual, _ = _vmapped_noise(nt, dr).apply(nt_params, nt_state, dr.PRNGKey(1), xs)
    assert_trees_close(actual, expected, tol=1e-6)
