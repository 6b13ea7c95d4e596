"""nn_pytree against Equinox: the same parameters give the same outputs.

Each test builds an nn_pytree layer, copies its arrays into the Equinox layer of the same
configuration, and compares the outputs on the same unbatched input. Because
``derivax.random`` is bit-identical to ``jax.random``, layers built from the same seed also
start from the same parameters, which the table test checks first.
"""

from __future__ import annotations

import numpy as np
import pytest

import derivax
import derivax.numpy as dnp
import derivax.random as dr
import nn_pytree as nnp

pytestmark = pytest.mark.oracle

eqx = pytest.importorskip(
    "equinox", reason="the Equinox oracle is not installed (pip install equinox)"
)
jax = pytest.importorskip("jax", reason="the JAX oracle is not installed")
jnp = jax.numpy

RNG = np.random.default_rng(42)
TOL = {"rtol": 2e-5, "atol": 2e-6}


def data(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def arrays_of(tree, is_array, leaves):
    return [np.asarray(x) for x in leaves(tree) if is_array(x)]


def ours_arrays(module):
    return arrays_of(module, nnp.is_array, derivax.tree.leaves)


def copy_into_equinox(ours, theirs):
    """``theirs`` with its array leaves replaced, in order, by the arrays of ``ours``."""
    values = ours_arrays(ours)
    leaves, treedef = jax.tree_util.tree_flatten(theirs)
    targets = [x for x in leaves if eqx.is_array(x)]
    assert [t.shape for t in targets] == [v.shape for v in values], "parameter layouts differ"
    replacements = iter(jnp.asarray(v) for v in values)
    leaves = [next(replacements) if eqx.is_array(x) else x for x in leaves]
    return jax.tree_util.tree_unflatten(treedef, leaves)


def check(ours, theirs, *inputs, **kwargs):
    theirs = copy_into_equinox(ours, theirs)
    got = ours(*[dnp.asarray(x) for x in inputs], **kwargs)
    want = theirs(*[jnp.asarray(x) for x in inputs], **kwargs)
    for g, w in zip(derivax.tree.leaves(got), jax.tree_util.tree_leaves(want), strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), **TOL)


def key(seed=0):
    return dr.PRNGKey(seed)


def jkey(seed=0):
    return jax.random.PRNGKey(seed)


CASES = {
    "Linear": (lambda k: nnp.nn.Linear(5, 3, key=k), lambda k: eqx.nn.Linear(5, 3, key=k), [(5,)]),
    "Linear-scalar": (
        lambda k: nnp.nn.Linear("scalar", "scalar", key=k),
        lambda k: eqx.nn.Linear("scalar", "scalar", key=k),
        [()],
    ),
    "MLP": (
        lambda k: nnp.nn.MLP(4, 2, 8, 2, key=k),
        lambda k: eqx.nn.MLP(4, 2, 8, 2, key=k),
        [(4,)],
    ),
    "Conv2d": (
        lambda k: nnp.nn.Conv2d(3, 4, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2), key=k),
        lambda k: eqx.nn.Conv2d(3, 4, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2), key=k),
        [(3, 9, 8)],
    ),
    "Conv2d-groups": (
        lambda k: nnp.nn.Conv2d(4, 6, 3, groups=2, padding="SAME", key=k),
        lambda k: eqx.nn.Conv2d(4, 6, 3, groups=2, padding="SAME", key=k),
        [(4, 6, 6)],
    ),
    "Conv1d": (
        lambda k: nnp.nn.Conv1d(2, 3, 3, stride=2, key=k),
        lambda k: eqx.nn.Conv1d(2, 3, 3, stride=2, key=k),
        [(2, 11)],
    ),
    "ConvTranspose2d": (
        lambda k: nnp.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1, key=k),
        lambda k: eqx.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1, key=k),
        [(3, 5, 4)],
    ),
    "ConvTranspose2d-groups-dilation": (
        lambda k: nnp.nn.ConvTranspose2d(4, 2, 2, stride=3, dilation=2, groups=2, key=k),
        lambda k: eqx.nn.ConvTranspose2d(4, 2, 2, stride=3, dilation=2, groups=2, key=k),
        [(4, 3, 4)],
    ),
    "Conv2d-reflect": (
        lambda k: nnp.nn.Conv2d(2, 3, 3, padding=((2, 1), (0, 2)), padding_mode="REFLECT", key=k),
        lambda k: eqx.nn.Conv2d(2, 3, 3, padding=((2, 1), (0, 2)), padding_mode="REFLECT", key=k),
        [(2, 6, 7)],
    ),
    "Conv1d-replicate-same": (
        lambda k: nnp.nn.Conv1d(2, 3, 4, stride=2, padding="SAME", padding_mode="REPLICATE", key=k),
        lambda k: eqx.nn.Conv1d(2, 3, 4, stride=2, padding="SAME", padding_mode="REPLICATE", key=k),
        [(2, 9)],
    ),
    "Conv3d-circular": (
        lambda k: nnp.nn.Conv3d(1, 2, 3, padding=1, padding_mode="circular", key=k),
        lambda k: eqx.nn.Conv3d(1, 2, 3, padding=1, padding_mode="circular", key=k),
        [(1, 4, 5, 3)],
    ),
    "ConvTranspose1d-same": (
        lambda k: nnp.nn.ConvTranspose1d(2, 3, 4, stride=2, padding="SAME", key=k),
        lambda k: eqx.nn.ConvTranspose1d(2, 3, 4, stride=2, padding="SAME", key=k),
        [(2, 5)],
    ),
    "ConvTranspose2d-same-lower-output-padding": (
        lambda k: nnp.nn.ConvTranspose2d(
            2, 2, 2, stride=2, padding="SAME_LOWER", output_padding=1, key=k
        ),
        lambda k: eqx.nn.ConvTranspose2d(
            2, 2, 2, stride=2, padding="SAME_LOWER", output_padding=1, key=k
        ),
        [(2, 4, 3)],
    ),
    "ConvTranspose2d-valid": (
        lambda k: nnp.nn.ConvTranspose2d(2, 2, 3, stride=3, padding="VALID", key=k),
        lambda k: eqx.nn.ConvTranspose2d(2, 2, 3, stride=3, padding="VALID", key=k),
        [(2, 3, 2)],
    ),
    "ConvTranspose2d-circular": (
        lambda k: nnp.nn.ConvTranspose2d(
            3, 2, (3, 4), stride=(2, 3), padding="SAME", padding_mode="CIRCULAR", key=k
        ),
        lambda k: eqx.nn.ConvTranspose2d(
            3, 2, (3, 4), stride=(2, 3), padding="SAME", padding_mode="CIRCULAR", key=k
        ),
        [(3, 4, 3)],
    ),
    "ConvTranspose3d": (
        lambda k: nnp.nn.ConvTranspose3d(2, 1, 2, stride=2, dilation=(1, 2, 1), key=k),
        lambda k: eqx.nn.ConvTranspose3d(2, 1, 2, stride=2, dilation=(1, 2, 1), key=k),
        [(2, 2, 3, 2)],
    ),
    "MaxPool2d": (
        lambda k: nnp.nn.MaxPool2d(3, stride=2, padding=1),
        lambda k: eqx.nn.MaxPool2d(3, stride=2, padding=1),
        [(2, 7, 6)],
    ),
    "MaxPool2d-ceil": (
        lambda k: nnp.nn.MaxPool2d(2, stride=2, use_ceil=True),
        lambda k: eqx.nn.MaxPool2d(2, stride=2, use_ceil=True),
        [(2, 7, 5)],
    ),
    "AvgPool2d": (
        lambda k: nnp.nn.AvgPool2d((2, 3), stride=(2, 1), padding=(1, 0)),
        lambda k: eqx.nn.AvgPool2d((2, 3), stride=(2, 1), padding=(1, 0)),
        [(3, 6, 7)],
    ),
    "AdaptiveAvgPool2d": (
        lambda k: nnp.nn.AdaptiveAvgPool2d((2, 3)),
        lambda k: eqx.nn.AdaptiveAvgPool2d((2, 3)),
        [(2, 8, 9)],
    ),
    "LayerNorm": (lambda k: nnp.nn.LayerNorm((3, 4)), lambda k: eqx.nn.LayerNorm((3, 4)), [(3, 4)]),
    "GroupNorm": (lambda k: nnp.nn.GroupNorm(2, 4), lambda k: eqx.nn.GroupNorm(2, 4), [(4, 5)]),
    "RMSNorm": (lambda k: nnp.nn.RMSNorm(6), lambda k: eqx.nn.RMSNorm(6), [(6,)]),
    "MultiheadAttention": (
        lambda k: nnp.nn.MultiheadAttention(2, 6, 5, 4, 3, use_query_bias=True, key=k),
        lambda k: eqx.nn.MultiheadAttention(2, 6, 5, 4, 3, use_query_bias=True, key=k),
        [(4, 6), (7, 5), (7, 4)],
    ),
    "MultiheadAttention-head-sizes": (
        lambda k: nnp.nn.MultiheadAttention(3, 6, qk_size=4, vo_size=2, key=k),
        lambda k: eqx.nn.MultiheadAttention(3, 6, qk_size=4, vo_size=2, key=k),
        [(4, 6), (5, 6), (5, 6)],
    ),
    "GRUCell": (
        lambda k: nnp.nn.GRUCell(3, 5, key=k),
        lambda k: eqx.nn.GRUCell(3, 5, key=k),
        [(3,), (5,)],
    ),
    "PReLU": (lambda k: nnp.nn.PReLU(0.3), lambda k: eqx.nn.PReLU(0.3), [(6,)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_parameters_same_outputs(name):
    make_ours, make_theirs, shapes = CASES[name]
    inputs = [data(*s) for s in shapes]
    ours, theirs = make_ours(key(1)), make_theirs(jkey(1))
    # derivax.random is bit-identical to jax.random, so the same seed gives Equinox's
    # initial parameters; the outputs are then compared with the parameters copied over.
    initial = arrays_of(theirs, eqx.is_array, jax.tree_util.tree_leaves)
    assert [a.shape for a in ours_arrays(ours)] == [b.shape for b in initial]
    for a, b in zip(ours_arrays(ours), initial, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    check(ours, theirs, *inputs)


def test_layer_norm_without_affine_and_rms_norm_without_bias():
    check(
        nnp.nn.LayerNorm(5, use_weight=False, use_bias=False),
        eqx.nn.LayerNorm(5, use_weight=False, use_bias=False),
        data(5),
    )
    check(nnp.nn.RMSNorm(5, use_bias=False), eqx.nn.RMSNorm(5, use_bias=False), data(5))


def test_multihead_attention_with_a_mask():
    ours = nnp.nn.MultiheadAttention(2, 4, key=key(3))
    theirs = copy_into_equinox(ours, eqx.nn.MultiheadAttention(2, 4, key=jkey(3)))
    q, kv = data(3, 4), data(5, 4)
    mask = RNG.random((3, 5)) < 0.6
    mask[:, 0] = True
    got = ours(dnp.asarray(q), dnp.asarray(kv), dnp.asarray(kv), mask=dnp.asarray(mask))
    want = theirs(jnp.asarray(q), jnp.asarray(kv), jnp.asarray(kv), mask=jnp.asarray(mask))
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), **TOL)


def test_lstm_cell():
    ours = nnp.nn.LSTMCell(3, 4, key=key(4))
    theirs = copy_into_equinox(ours, eqx.nn.LSTMCell(3, 4, key=jkey(4)))
    x, h, c = data(3), data(4), data(4)
    got = ours(dnp.asarray(x), (dnp.asarray(h), dnp.asarray(c)))
    want = theirs(jnp.asarray(x), (jnp.asarray(h), jnp.asarray(c)))
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), **TOL)


def test_embedding():
    ours = nnp.nn.Embedding(6, 3, key=key(5))
    theirs = copy_into_equinox(ours, eqx.nn.Embedding(6, 3, key=jkey(5)))
    for i in (0, 4):
        np.testing.assert_allclose(np.asarray(ours(i)), np.asarray(theirs(i)), **TOL)


def test_dropout_in_inference_is_the_identity_in_both():
    x = data(10)
    ours = nnp.nn.inference_mode(nnp.nn.Dropout(0.4))
    theirs = eqx.nn.inference_mode(eqx.nn.Dropout(0.4))
    np.testing.assert_array_equal(
        np.asarray(ours(dnp.asarray(x))), np.asarray(theirs(jnp.asarray(x)))
    )
    np.testing.assert_array_equal(np.asarray(ours(dnp.asarray(x))), x)


def test_dropout_in_training_draws_equinox_mask_for_the_same_key():
    x = data(50)
    got = nnp.nn.Dropout(0.3)(dnp.asarray(x), key=key(6))
    want = eqx.nn.Dropout(0.3)(jnp.asarray(x), key=jkey(6))
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), **TOL)


def _batch_norms(**kwargs):
    ours, ours_state = nnp.nn.make_with_state(nnp.nn.BatchNorm)(3, "batch", **kwargs)
    theirs, theirs_state = eqx.nn.make_with_state(eqx.nn.BatchNorm)(
        3, "batch", mode="ema", **kwargs
    )
    weight, bias = data(3), data(3)
    ours = nnp.tree_at(lambda m: (m.weight, m.bias), ours, (dnp.asarray(weight), dnp.asarray(bias)))
    theirs = eqx.tree_at(
        lambda m: (m.weight, m.bias), theirs, (jnp.asarray(weight), jnp.asarray(bias))
    )
    return ours, ours_state, theirs, theirs_state


def _running(state, index):
    return [np.asarray(x) for x in state.get(index)]


@pytest.mark.skipif(
    not hasattr(derivax.lax, "pmean"),
    reason="BatchNorm training needs derivax.lax.pmean (a collective over the vmap axis)",
)
def test_batch_norm_training_outputs_and_running_statistics():
    ours, ours_state, theirs, theirs_state = _batch_norms(momentum=0.9)
    ours_f = derivax.vmap(ours, in_axes=(0, None), out_axes=(0, None), axis_name="batch")
    theirs_f = jax.vmap(theirs, in_axes=(0, None), out_axes=(0, None), axis_name="batch")
    for step in range(3):
        x = data(8, 3, 2) + step
        y, ours_state = ours_f(dnp.asarray(x), ours_state)
        y_ref, theirs_state = theirs_f(jnp.asarray(x), theirs_state)
        np.testing.assert_allclose(np.asarray(y), np.asarray(y_ref), **TOL)
        for g, w in zip(
            _running(ours_state, ours.state_index),
            [np.asarray(v) for v in theirs_state.get(theirs.ema_state_index)],
            strict=True,
        ):
            np.testing.assert_allclose(g, w, **TOL)


def test_batch_norm_inference_uses_the_running_statistics():
    ours, ours_state, theirs, theirs_state = _batch_norms()
    mean, var = data(3), np.abs(data(3)) + 0.5
    ours_state = ours_state.set(ours.state_index, (dnp.asarray(mean), dnp.asarray(var)))
    theirs_state = theirs_state.set(theirs.ema_state_index, (jnp.asarray(mean), jnp.asarray(var)))
    theirs_state = theirs_state.set(theirs.ema_first_time_index, jnp.array(False))
    ours, theirs = nnp.nn.inference_mode(ours), eqx.nn.inference_mode(theirs)
    x = data(6, 3, 4)
    y, new_state = derivax.vmap(ours, in_axes=(0, None), out_axes=(0, None), axis_name="batch")(
        dnp.asarray(x), ours_state
    )
    y_ref, _ = jax.vmap(theirs, in_axes=(0, None), out_axes=(0, None), axis_name="batch")(
        jnp.asarray(x), theirs_state
    )
    np.testing.assert_allclose(np.asarray(y), np.asarray(y_ref), **TOL)
    np.testing.assert_array_equal(_running(new_state, ours.state_index)[0], mean)


def test_tree_utilities_agree_with_equinox():
    tree = {"a": [1, None, 3.0], "b": np.ones(2, np.float32)}
    ours = nnp.tree_at(lambda t: t["a"][1], tree, replace=7)
    theirs = eqx.tree_at(lambda t: t["a"][1], tree, replace=7)
    assert ours["a"] == theirs["a"]
    for a, b in [(1, 1.0), ([1, np.ones(2)], [1, np.ones(2)]), ([1], (1,))]:
        assert nnp.tree_equal(a, b) == bool(eqx.tree_equal(a, b))
    x = [1, 2.0, np.ones(1), "s", True]
    assert [nnp.is_array(v) for v in x] == [eqx.is_array(v) for v in x]
    assert [nnp.is_array_like(v) for v in x] == [eqx.is_array_like(v) for v in x]
