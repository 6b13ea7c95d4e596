"""nn_pytree: modules as pytrees, filtered transformations, tree surgery, state and layers.

Expected values are computed here with NumPy from the definitions (a dense layer is
``W @ x + b``, and so on), never read back from the code under test.
"""

from __future__ import annotations

import abc
import dataclasses
import math
import os

import numpy as np
import pytest

import derivax
import derivax.numpy as dnp
import derivax.random as dr
import nn_pytree as nnp
from derivax import tree
from harness import assert_close, check_batching, check_grads

RNG = np.random.default_rng(0)


def arr(*shape, scale=1.0):
    return dnp.asarray((RNG.standard_normal(shape) * scale).astype(np.float32))


class Affine(nnp.Module):
    """A small module with array, callable and static fields."""

    weight: derivax.Array
    bias: derivax.Array
    activation: object = dnp.tanh
    size: int = nnp.field(static=True, default=2)

    def __call__(self, x):
        return self.activation(self.weight @ x + self.bias)

    def doubled(self, x):
        return 2.0 * self(x)


def affine(n_out=2, n_in=3):
    return Affine(arr(n_out, n_in), arr(n_out), size=n_out)


def np_affine(m, x):
    return np.tanh(np.asarray(m.weight) @ np.asarray(x) + np.asarray(m.bias))


# --------------------------------------------------------------------------- Module


def test_module_is_a_pytree_with_static_fields_in_the_structure():
    m = affine()
    leaves, treedef = tree.flatten(m)
    assert len(leaves) == 3 and leaves[2] is dnp.tanh
    assert "size=2" in repr(treedef)
    rebuilt = tree.unflatten(treedef, [x * 2 if nnp.is_array(x) else x for x in leaves])
    assert type(rebuilt) is Affine and rebuilt.size == 2
    np.testing.assert_allclose(rebuilt.weight, 2 * np.asarray(m.weight))
    paths = [tree.keystr(p) for p, _ in tree.flatten_with_path(m)[0]]
    assert paths == [".weight", ".bias", ".activation"]


def test_module_call_and_bound_method():
    m = affine()
    x = arr(3)
    np.testing.assert_allclose(m(x), np_affine(m, x), rtol=1e-6)
    bound = m.doubled
    assert isinstance(bound, nnp.BoundMethod) and bound.__self__ is m
    assert bound.__name__ == "doubled" and bound.__qualname__.endswith("Affine.doubled")
    # the module's arrays are the bound method's leaves: jit traces them
    assert len(tree.leaves(bound)) == 3
    np.testing.assert_allclose(derivax.jit(m.doubled)(x), 2 * np_affine(m, x), rtol=1e-6)
    np.testing.assert_allclose(nnp.filter_jit(m.doubled)(x), 2 * np_affine(m, x), rtol=1e-6)
    assert Affine.doubled(m, x).shape == (2,)  # unbound access gives the plain function


def test_frozen_after_init_with_a_message_naming_tree_at():
    m = affine()
    with pytest.raises(nnp.FrozenModuleError, match=r"tree_at\(lambda m: m.weight"):
        m.weight = dnp.zeros((2, 3))
    with pytest.raises(dataclasses.FrozenInstanceError):
        del m.bias
    assert isinstance(m.weight, derivax.Array)


class WithInit(nnp.Module):
    values: derivax.Array
    scale: float = nnp.field(converter=float)
    n: int = nnp.field(static=True)

    def __init__(self, n, scale=1):
        self.n = n
        self.scale = scale
        self.values = dnp.ones(n)

    def __check_init__(self):
        if self.n < 1:
            raise ValueError("n must be positive")


class Child(WithInit):
    def __check_init__(self):
        if self.n > 10:
            raise ValueError("n too large")


def test_custom_init_converter_and_check_init():
    m = WithInit(3, scale=2)
    assert m.scale == 2.0 and type(m.scale) is float
    assert m.values.shape == (3,)
    with pytest.raises(ValueError, match="positive"):
        WithInit(0)
    # a subclass inherits the custom __init__, and both __check_init__ run
    assert Child(4).n == 4
    with pytest.raises(ValueError, match="positive"):
        Child(0)
    with pytest.raises(ValueError, match="too large"):
        Child(11)
    # rebuilding through the tree functions does not call __init__ or the checks
    zero = tree.map(lambda x: x * 0, WithInit(2))
    assert float(zero.scale) == 0.0


def test_converter_with_generated_init():
    class Conv(nnp.Module):
        x: tuple = nnp.field(converter=tuple)

    assert Conv([1, 2]).x == (1, 2)


def test_init_errors_name_the_field_and_the_fix():
    class Missing(nnp.Module):
        a: int
        b: int

        def __init__(self):
            self.a = 1

    with pytest.raises(TypeError, match=r"did not assign the field 'b'.*self.b = "):
        Missing()

    class Undeclared(nnp.Module):
        a: int

        def __init__(self):
            self.a = 1
            self.extra = 2

    with pytest.raises(AttributeError, match=r"self.extra.*not a field.*extra: derivax.Array"):
        Undeclared()


def test_modules_hold_lists_dicts_callables_and_submodules():
    class Holder(nnp.Module):
        layers: list
        table: dict
        fn: object

    h = Holder([affine(), affine()], {"a": arr(2), "b": None}, dnp.sin)
    assert len(tree.leaves(h)) == 3 * 2 + 1 + 1
    doubled = tree.map(lambda x: x * 2 if nnp.is_array(x) else x, h)
    np.testing.assert_allclose(doubled.table["a"], 2 * np.asarray(h.table["a"]))
    assert doubled.fn is dnp.sin


def test_abstract_methods_are_enforced():
    class Base(nnp.Module):
        @abc.abstractmethod
        def f(self):
            pass

    with pytest.raises(TypeError, match="abstract"):
        Base()


def test_repr_is_readable_and_wraps():
    m = affine()
    assert repr(m) == "Affine(weight=f32[2,3], bias=f32[2], activation=<function tanh>, size=2)"
    text = nnp.tree_pformat([m, m], width=40)
    assert text.splitlines()[0] == "[" and "  Affine(" in text
    assert all(len(line) <= 40 for line in text.splitlines())


def test_equality_and_hash():
    m = affine()
    assert m == m
    assert not (m == tree.map(lambda x: x + 1 if nnp.is_array(x) else x, m))
    static_only = Affine(1, 2)
    assert hash(static_only) == hash(Affine(1, 2))


# --------------------------------------------------------------------------- filters


def test_is_array_family():
    assert nnp.is_array(dnp.ones(2)) and nnp.is_array(np.ones(2)) and nnp.is_array(np.float32(1))
    assert not nnp.is_array(1.0) and not nnp.is_array("a") and not nnp.is_array(None)
    assert nnp.is_inexact_array(dnp.ones(2)) and not nnp.is_inexact_array(dnp.arange(3))
    assert nnp.is_array_like(1) and nnp.is_array_like(True) and nnp.is_array_like(dnp.ones(1))
    assert not nnp.is_array_like("a") and not nnp.is_array_like(dnp.tanh)
    seen = []
    derivax.grad(lambda x: seen.append(nnp.is_array(x)) or x.sum())(dnp.ones(2))
    derivax.vmap(lambda x: seen.append(nnp.is_inexact_array(x)) or x)(dnp.ones(2))
    assert seen == [True, True]


def test_filter_partition_combine():
    m = affine()
    params, static = nnp.partition(m, nnp.is_array)
    assert params.activation is None and static.weight is None and static.activation is dnp.tanh
    assert nnp.combine(params, static) == m
    kept = nnp.filter(m, nnp.is_array, inverse=True, replace="x")
    assert kept.weight == "x" and kept.activation is dnp.tanh
    spec = Affine(True, False, False)  # a prefix: one bool per field
    only_w = nnp.filter(m, spec)
    assert only_w.weight is m.weight and only_w.bias is None
    assert nnp.combine([1, None, None], [None, None, 3]) == [1, None, 3]


def test_filter_errors():
    with pytest.raises(ValueError, match="prefix"):
        nnp.filter([1, 2], [True])
    with pytest.raises(TypeError, match="bool or a callable"):
        nnp.filter([1, 2], [True, "yes"])
    with pytest.raises(TypeError, match="must return a Python bool"):
        nnp.filter([1, 2], lambda x: x)
    with pytest.raises(ValueError, match="same structure"):
        nnp.combine([1, None], [None, 2, 3])
    with pytest.raises(TypeError, match="at least one"):
        nnp.combine()


# --------------------------------------------------------------------------- filter_jit


def test_filter_jit_traces_arrays_and_keeps_the_rest_static():
    calls = []

    @nnp.filter_jit
    def f(model, x, n, mode="a"):
        calls.append(1)
        return model(x) * n, mode

    m, x = affine(), arr(3)
    out, mode = f(m, x, 3, mode="b")
    np.testing.assert_allclose(out, 3 * np_affine(m, x), rtol=1e-6)
    assert mode == "b"
    f(m, arr(3), 3, mode="b")  # new array values: no retrace
    m2 = tree.map(lambda a: a + 1 if nnp.is_array(a) else a, m)
    f(m2, x, 3, mode="b")
    assert len(calls) == 1 and f.trace_count == 1
    f(m, x, 4, mode="b")  # a static value changed: retrace
    f(m, x, 4, mode="c")
    assert len(calls) == 3
    assert f(m, x, 4.0, mode="c")[0].dtype == dnp.float32 and len(calls) == 4  # 4.0 is not 4

    g = nnp.filter_jit(lambda n: [n])
    assert [type(g(v)[0]) for v in (1, 1.0, True)] == [int, float, bool]


def test_filter_jit_returns_non_array_leaves_and_modules():
    @nnp.filter_jit
    def grow(model):
        return tree.map(lambda a: a * 2 if nnp.is_array(a) else a, model)

    m = affine()
    out = grow(m)
    assert type(out) is Affine and out.activation is dnp.tanh and out.size == 2
    np.testing.assert_allclose(out.weight, 2 * np.asarray(m.weight))


def test_filter_jit_unhashable_static_leaf_is_named():
    f = nnp.filter_jit(lambda x, opts: x)
    with pytest.raises(TypeError, match=r"\[1\]\[1\].*set.*not hashable"):
        f(dnp.ones(2), {1, 2})


def test_filter_jit_options_and_composition():
    with pytest.raises(ValueError, match="donate"):
        nnp.filter_jit(lambda x: x, donate="some")
    with pytest.raises(TypeError, match="callable"):
        nnp.filter_jit(3)
    f = nnp.filter_jit(donate="all")(lambda m, x: dnp.sum(m(x)))
    m, x = affine(), arr(3)
    g = nnp.filter_grad(f)(m, x)
    expected = (1 - np_affine(m, x) ** 2)[:, None] * np.asarray(x)[None, :]
    np.testing.assert_allclose(g.weight, expected, rtol=1e-5)

    class Model(nnp.Module):
        w: derivax.Array

        @nnp.filter_jit
        def apply(self, x):
            return self.w * x

    np.testing.assert_allclose(Model(dnp.full(2, 3.0)).apply(2.0), [6.0, 6.0])


# --------------------------------------------------------------------------- gradients


def test_filter_value_and_grad_and_has_aux():
    m, x = affine(), arr(3)

    def loss(model, x):
        return dnp.sum(model(x) ** 2)

    value, grads = nnp.filter_value_and_grad(loss)(m, x)
    y = np_affine(m, x)
    np.testing.assert_allclose(value, np.sum(y**2), rtol=1e-5)
    dz = 2 * y * (1 - y**2)
    np.testing.assert_allclose(grads.weight, np.outer(dz, x), rtol=1e-5)
    np.testing.assert_allclose(grads.bias, dz, rtol=1e-5)
    assert grads.activation is None and grads.size == 2

    (value2, aux), _ = nnp.filter_value_and_grad(lambda m, x: (loss(m, x), "aux"), has_aux=True)(
        m, x
    )
    assert aux == "aux" and float(value2) == pytest.approx(float(value))
    g, aux = nnp.filter_grad(has_aux=True)(lambda m, x: (loss(m, x), 1))(m, x)
    np.testing.assert_allclose(g.bias, dz, rtol=1e-5)

    tree_in = {"w": dnp.ones(2), "i": dnp.arange(2), "n": 3}
    g = nnp.filter_grad(lambda t: dnp.sum(t["w"] * t["n"]))(tree_in)
    assert g["i"] is None and g["n"] is None
    np.testing.assert_allclose(g["w"], [3.0, 3.0])
    with pytest.raises(TypeError, match="first positional"):
        nnp.filter_grad(lambda m: 1.0)()


# --------------------------------------------------------------------------- filter_vmap


def test_filter_vmap_axes_specs():
    m, xs = affine(), arr(5, 3)
    ys = nnp.filter_vmap(lambda m, x: m(x), in_axes=(None, 0))(m, xs)
    np.testing.assert_allclose(ys, np.stack([np_affine(m, x) for x in np.asarray(xs)]), rtol=1e-6)
    ys_named = nnp.filter_vmap(lambda model, x: model(x), in_axes={"model": None})(m, xs)
    np.testing.assert_allclose(ys_named, ys, rtol=1e-6)
    ys_t = nnp.filter_vmap(lambda m, x: m(x), in_axes=(None, 1), out_axes=1)(m, xs.T)
    np.testing.assert_allclose(ys_t, np.asarray(ys).T, rtol=1e-6)
    # per-leaf spec inside an argument, and non-array outputs passed through
    f = nnp.filter_vmap(lambda d: (d["a"] + d["b"], "tag"), in_axes=({"a": 0, "b": None},))
    out, tag = f({"a": arr(4, 2), "b": dnp.ones(2)})
    assert out.shape == (4, 2) and tag == "tag"


def test_filter_vmap_ensemble_of_models():
    models = [affine() for _ in range(3)]
    stacked = tree.map(lambda *xs: dnp.stack(xs) if nnp.is_array(xs[0]) else xs[0], *models)
    x = arr(3)
    ys = nnp.filter_vmap(lambda m, x: m(x), in_axes=(nnp.if_array(0), None))(stacked, x)
    np.testing.assert_allclose(ys, np.stack([np_affine(m, x) for m in models]), rtol=1e-6)


def test_filter_vmap_errors():
    with pytest.raises(ValueError, match=r"args\[1\] is a int.*not an array"):
        nnp.filter_vmap(lambda x, n: x * n, in_axes=(0, 0))(dnp.ones(3), 2)
    with pytest.raises(ValueError, match="one spec per argument"):
        nnp.filter_vmap(lambda x, y: x, in_axes=(0,))(dnp.ones(3), dnp.ones(3))
    with pytest.raises(ValueError, match="axis_size"):
        nnp.filter_vmap(lambda x: x, in_axes=None)(dnp.ones(3))
    with pytest.raises(ValueError, match="not positional parameters"):
        nnp.filter_vmap(lambda x: x, in_axes={"y": 0})(dnp.ones(3))


def test_filter_eval_shape():
    shapes = nnp.filter_eval_shape(affine, 4, 5)
    assert type(shapes) is Affine and shapes.activation is dnp.tanh
    assert shapes.weight == derivax.ShapeDtypeStruct((4, 5), dnp.float32)
    x = derivax.ShapeDtypeStruct((5,), dnp.float32)
    assert nnp.filter_eval_shape(lambda m, x: m(x), affine(4, 5), x).shape == (4,)


# --------------------------------------------------------------------------- tree surgery


def test_tree_at_replace_and_replace_fn():
    m = affine()
    new = nnp.tree_at(lambda m: m.bias, m, dnp.zeros(2))
    np.testing.assert_array_equal(new.bias, [0.0, 0.0])
    assert m.bias is not new.bias and new.weight is m.weight
    both = nnp.tree_at(lambda m: (m.weight, m.activation), m, replace=(1, dnp.sin))
    assert both.weight == 1 and both.activation is dnp.sin
    scaled = nnp.tree_at(lambda m: m.weight, m, replace_fn=lambda w: w * 0)
    np.testing.assert_array_equal(scaled.weight, np.zeros((2, 3)))
    nested = {"layers": [m, m], "extra": None}
    out = nnp.tree_at(lambda t: t["layers"][1], nested, replace="swapped")
    assert out["layers"][0] is m and out["layers"][1] == "swapped"
    filled = nnp.tree_at(lambda t: t["extra"], nested, replace=dnp.ones(1))  # a None node
    assert filled["extra"].shape == (1,)
    whole = nnp.tree_at(lambda t: t, [1, 2], replace_fn=lambda t: t + [3])
    assert whole == [1, 2, 3]


def test_tree_at_errors():
    m = affine()
    with pytest.raises(ValueError, match="exactly one"):
        nnp.tree_at(lambda m: m.bias, m)
    with pytest.raises(ValueError, match="exactly one"):
        nnp.tree_at(lambda m: m.bias, m, 1, replace_fn=lambda x: x)
    with pytest.raises(ValueError, match="select existing nodes"):
        nnp.tree_at(lambda m: m.weight.T, m, 1)
    with pytest.raises(ValueError, match="not a node of the tree"):
        nnp.tree_at(lambda m: "weight", m, 1)
    with pytest.raises(ValueError, match="sequence of 2 values"):
        nnp.tree_at(lambda m: (m.weight, m.bias), m, replace=1)
    with pytest.raises(ValueError, match="more than once"):
        nnp.tree_at(lambda m: [m.bias, m.bias], m, replace=[1, 2])


def test_tree_equal():
    a = [1, dnp.ones(2)]
    assert nnp.tree_equal(a, [1, dnp.ones(2)]) is True
    assert nnp.tree_equal(a, [1, dnp.zeros(2)]) is False
    assert nnp.tree_equal(a, [1, dnp.ones(3)]) is False
    assert nnp.tree_equal(a, [1, dnp.ones(2, dtype=dnp.int32)]) is False
    assert nnp.tree_equal(a, (1, dnp.ones(2))) is False
    assert nnp.tree_equal(a, [1.0, dnp.ones(2)]) is True
    assert nnp.tree_equal(a, [1.0, dnp.ones(2)], typematch=True) is False
    assert nnp.tree_equal(dnp.ones(2), dnp.ones(2) * 1.01, rtol=0.1) is True
    assert nnp.tree_equal(a, a, a) is True
    traced = derivax.jit(lambda x, y: nnp.tree_equal(x, y))(dnp.ones(2), dnp.ones(2))
    assert bool(traced) is True


def test_apply_updates_skips_none():
    m = affine()
    grads = nnp.filter_grad(lambda m, x: dnp.sum(m(x)))(m, arr(3))
    updated = nnp.apply_updates(m, tree.map(lambda g: -0.1 * g, grads))
    np.testing.assert_allclose(
        updated.weight, np.asarray(m.weight) - 0.1 * np.asarray(grads.weight), rtol=1e-6
    )
    assert updated.activation is dnp.tanh
    with pytest.raises(ValueError, match="structure of `model`"):
        nnp.apply_updates([1.0, 2.0], [1.0])


# --------------------------------------------------------------------------- state


class Counter(nnp.Module):
    index: nnp.nn.StateIndex

    def __init__(self):
        self.index = nnp.nn.StateIndex((dnp.zeros(()), dnp.zeros(2, dtype=dnp.int32)))

    def __call__(self, x, state):
        count, seen = state.get(self.index)
        return x + count, state.set(self.index, (count + 1, seen + 1))


def test_state_threading_through_jit():
    model, state = nnp.nn.make_with_state(Counter)()
    assert "moved to State" in repr(model)
    step = nnp.filter_jit(lambda m, x, s: m(x, s))
    for _ in range(3):
        y, state = step(model, 1.0, state)
    assert float(y) == 3.0 and step.trace_count == 1
    count, seen = state.get(model.index)
    assert float(count) == 3.0 and seen.tolist() == [3, 3]
    with pytest.raises(ValueError, match="already moved"):
        nnp.nn.State(model)


def test_state_errors_and_substates():
    model, state = nnp.nn.make_with_state(Counter)()
    with pytest.raises(ValueError, match=r"float32\[3\].*float32\[\]"):
        state.set(model.index, (dnp.zeros(3), dnp.zeros(2, dtype=dnp.int32)))
    with pytest.raises(ValueError, match="structure"):
        state.set(model.index, dnp.zeros(()))
    with pytest.raises(TypeError, match="StateIndex"):
        state.get("index")
    other, _ = nnp.nn.make_with_state(Counter)()
    with pytest.raises(KeyError, match="not in the state"):
        state.get(other.index)
    pair = [Counter(), Counter()]
    full = nnp.nn.State(pair)
    sub = full.substate(pair[1])
    assert len(tree.leaves(sub)) == 2 and len(tree.leaves(full)) == 4
    sub = sub.set(pair[1].index, (dnp.ones(()), dnp.ones(2, dtype=dnp.int32)))
    merged = full.update(sub)
    assert float(merged.get(pair[1].index)[0]) == 1.0 and float(merged.get(pair[0].index)[0]) == 0


def test_state_serialise_round_trip_into_a_fresh_model(tmp_path):
    model, state = nnp.nn.make_with_state(Counter)()
    _, state = model(0.0, state)
    path = tmp_path / "state.safetensors"
    nnp.tree_serialise_leaves(path, state)
    fresh_model, fresh_state = nnp.nn.make_with_state(Counter)()
    loaded = nnp.tree_deserialise_leaves(path, fresh_state)
    assert float(loaded.get(fresh_model.index)[0]) == 1.0


def test_serialise_leaves_round_trip_and_mismatch(tmp_path):
    m = affine()
    path = os.fspath(tmp_path / "model.safetensors")
    nnp.tree_serialise_leaves(path, m)
    like = affine()
    loaded = nnp.tree_deserialise_leaves(path, like)
    assert nnp.tree_equal(loaded, m)
    abstract = nnp.filter_eval_shape(affine)
    assert nnp.tree_equal(nnp.tree_deserialise_leaves(path, abstract), m)
    with pytest.raises(derivax.serialization.CheckpointMismatchError, match=r"\.weight"):
        nnp.tree_deserialise_leaves(path, affine(3, 3))


def test_math_helpers_are_consistent():
    # a guard against the helpers above computing nonsense
    assert math.isclose(float(np.tanh(0.5)), 0.46211715726, rel_tol=1e-9)


# --------------------------------------------------------------------------- layers: the table
#
# One row per public layer: how to build it, an unbatched input, a NumPy reference for its
# output, and how to call it. Every row goes through construction, the forward pass against
# the reference, vmap against a loop, filter_jit (same values, no retrace for new values),
# gradients (derivax's reverse mode against central differences, and filter_grad against
# derivax.grad on the partitioned model) and a serialise/deserialise round trip.

NOT_LAYERS = {"State", "StateIndex", "make_with_state", "inference_mode"}


def np_conv(x, w, b, stride, pads, dilation, groups):
    """Cross-correlation of one channels-first example, straight from the definition."""
    n = x.ndim - 1
    x = np.pad(x, [(0, 0), *pads])
    k = w.shape[2:]
    out_sizes = [(x.shape[1 + i] - dilation[i] * (k[i] - 1) - 1) // stride[i] + 1 for i in range(n)]
    o_per_g, c_per_g = w.shape[0] // groups, w.shape[1]
    out = np.zeros((w.shape[0], *out_sizes))
    for pos in np.ndindex(*out_sizes):
        window = tuple(
            slice(p * s, p * s + d * (kk - 1) + 1, d)
            for p, s, d, kk in zip(pos, stride, dilation, k, strict=True)
        )
        for o in range(w.shape[0]):
            g = o // o_per_g
            patch = x[(slice(g * c_per_g, (g + 1) * c_per_g), *window)]
            out[(o, *pos)] = np.sum(patch * w[o])
    return out if b is None else out + b


def np_conv_transpose(x, w, b, stride, pads, dilation, groups, output_padding):
    """Transposed convolution by scattering each input element through the kernel.

    The weight is stored as the kernel of the equivalent direct convolution (Equinox's
    convention), so the scatter uses it flipped spatially.
    """
    n = x.ndim - 1
    k = w.shape[2:]
    o_per_g, c_per_g = w.shape[0] // groups, w.shape[1]
    sizes = [
        (x.shape[1 + i] - 1) * stride[i]
        - pads[i][0]
        - pads[i][1]
        + dilation[i] * (k[i] - 1)
        + output_padding[i]
        + 1
        for i in range(n)
    ]
    full = [sz + pads[i][0] + pads[i][1] + 2 * dilation[i] * k[i] for i, sz in enumerate(sizes)]
    out = np.zeros((w.shape[0], *full))
    flipped = np.flip(w, axis=tuple(range(2, n + 2)))
    for c in range(x.shape[0]):
        g = c // c_per_g
        for pos in np.ndindex(*x.shape[1:]):
            for tap in np.ndindex(*k):
                at = tuple(
                    p * s + t * d for p, s, t, d in zip(pos, stride, tap, dilation, strict=True)
                )
                for o in range(g * o_per_g, (g + 1) * o_per_g):
                    out[(o, *at)] += x[(c, *pos)] * flipped[(o, c - g * c_per_g, *tap)]
    region = tuple(slice(pads[i][0], pads[i][0] + sizes[i]) for i in range(n))
    out = out[(slice(None), *region)]
    return out if b is None else out + b


def np_pool(x, k, stride, pads, reduce, pad_value):
    x = np.pad(x, [(0, 0), *pads], constant_values=pad_value)
    sizes = [(x.shape[1 + i] - k[i]) // stride[i] + 1 for i in range(2)]
    out = np.zeros((x.shape[0], *sizes))
    for i, j in np.ndindex(*sizes):
        out[:, i, j] = reduce(
            x[:, i * stride[0] : i * stride[0] + k[0], j * stride[1] : j * stride[1] + k[1]],
            axis=(1, 2),
        )
    return out


def np_adaptive_avg(x, target):
    h, w = x.shape[1:]
    out = np.zeros((x.shape[0], *target))
    for i, j in np.ndindex(*target):
        r0, r1 = (i * h) // target[0], math.ceil((i + 1) * h / target[0])
        c0, c1 = (j * w) // target[1], math.ceil((j + 1) * w / target[1])
        out[:, i, j] = x[:, r0:r1, c0:c1].mean(axis=(1, 2))
    return out


def np_sigmoid(z):
    return 1 / (1 + np.exp(-z))


def np_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def np_linear(layer, x):
    return np.asarray(layer.weight) @ x + (0 if layer.bias is None else np.asarray(layer.bias))


def np_mha(m, q, k, v):
    h = m.num_heads
    qs = np.stack([np_linear(m.query_proj, r) for r in q]).reshape(len(q), h, m.qk_size)
    ks = np.stack([np_linear(m.key_proj, r) for r in k]).reshape(len(k), h, m.qk_size)
    vs = np.stack([np_linear(m.value_proj, r) for r in v]).reshape(len(v), h, m.vo_size)
    heads = []
    for i in range(h):
        weights = np_softmax(qs[:, i] @ ks[:, i].T / np.sqrt(m.qk_size))
        heads.append(weights @ vs[:, i])
    out = np.concatenate(heads, axis=-1)
    return np.stack([np_linear(m.output_proj, r) for r in out])


def np_gru(m, x, h):
    w_ih, w_hh = np.asarray(m.weight_ih), np.asarray(m.weight_hh)
    gi = w_ih @ x + np.asarray(m.bias)
    gh = w_hh @ h
    n_h = m.hidden_size
    r = np_sigmoid(gi[:n_h] + gh[:n_h])
    z = np_sigmoid(gi[n_h : 2 * n_h] + gh[n_h : 2 * n_h])
    n = np.tanh(gi[2 * n_h :] + r * (gh[2 * n_h :] + np.asarray(m.bias_n)))
    return (1 - z) * n + z * h


def np_lstm(m, x, h, c):
    gates = np.asarray(m.weight_ih) @ x + np.asarray(m.weight_hh) @ h + np.asarray(m.bias)
    i, f, g, o = np.split(gates, 4)
    c = np_sigmoid(f) * c + np_sigmoid(i) * np.tanh(g)
    return np_sigmoid(o) * np.tanh(c), c


def np_normalise(x, axes, eps):
    mean = x.mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(x.var(axis=axes, keepdims=True) + eps)


@dataclasses.dataclass
class Row:
    make: object  # key -> layer
    shapes: tuple  # shapes of the unbatched float inputs
    reference: object  # (layer, *numpy inputs) -> numpy output (or a tuple)
    call: object = None  # (layer, *inputs) -> output; default layer(*inputs)
    int_input: int | None = None  # the input is one integer index below this bound

    def __call__(self, layer, *inputs):
        return (self.call or (lambda m, *xs: m(*xs)))(layer, *inputs)


def _bn_make(key):
    bn, state = nnp.nn.make_with_state(nnp.nn.BatchNorm)(3, axis_name="batch")
    state = state.set(bn.state_index, (dnp.asarray([0.5, -1.0, 2.0]), dnp.asarray([1.5, 0.5, 2.0])))
    bn = nnp.tree_at(lambda m: (m.weight, m.bias), bn, (arr(3), arr(3)))
    return nnp.nn.inference_mode(bn), state


def _bn_reference(pair, x):
    bn, state = pair
    mean, var = (np.asarray(v)[:, None] for v in state.get(bn.state_index))
    return (x - mean) / np.sqrt(var + 1e-5) * np.asarray(bn.weight)[:, None] + np.asarray(bn.bias)[
        :, None
    ]


DROP_KEY = dr.PRNGKey(3)

LAYERS = {
    "Linear": Row(lambda k: nnp.nn.Linear(4, 3, key=k), ((4,),), np_linear),
    "Identity": Row(lambda k: nnp.nn.Identity(5, foo=1), ((3, 2),), lambda m, x: x),
    "MLP": Row(
        lambda k: nnp.nn.MLP(4, 2, 5, 2, activation=dnp.tanh, key=k),
        ((4,),),
        lambda m, x: np_linear(
            m.layers[2], np.tanh(np_linear(m.layers[1], np.tanh(np_linear(m.layers[0], x))))
        ),
    ),
    "Conv": Row(
        lambda k: nnp.nn.Conv(2, 2, 4, (2, 3), stride=(1, 2), padding=((1, 0), (0, 2)), key=k),
        ((2, 5, 6),),
        lambda m, x: np_conv(
            x, np.asarray(m.weight), np.asarray(m.bias), (1, 2), ((1, 0), (0, 2)), (1, 1), 1
        ),
    ),
    "Conv1d": Row(
        lambda k: nnp.nn.Conv1d(4, 2, 3, dilation=2, groups=2, key=k),
        ((4, 9),),
        lambda m, x: np_conv(x, np.asarray(m.weight), np.asarray(m.bias), (1,), ((0, 0),), (2,), 2),
    ),
    "Conv2d": Row(
        lambda k: nnp.nn.Conv2d(3, 2, 3, stride=2, padding=1, key=k),
        ((3, 7, 6),),
        lambda m, x: np_conv(
            x, np.asarray(m.weight), np.asarray(m.bias), (2, 2), ((1, 1), (1, 1)), (1, 1), 1
        ),
    ),
    "Conv3d": Row(
        lambda k: nnp.nn.Conv3d(2, 2, 2, key=k),
        ((2, 3, 4, 3),),
        lambda m, x: np_conv(
            x, np.asarray(m.weight), np.asarray(m.bias), (1,) * 3, ((0, 0),) * 3, (1,) * 3, 1
        ),
    ),
    "ConvTranspose": Row(
        lambda k: nnp.nn.ConvTranspose(
            1, 2, 4, 3, stride=2, padding=1, output_padding=1, groups=2, key=k
        ),
        ((2, 5),),
        lambda m, x: np_conv_transpose(
            x, np.asarray(m.weight), np.asarray(m.bias), (2,), ((1, 1),), (1,), 2, (1,)
        ),
    ),
    "ConvTranspose2d": Row(
        lambda k: nnp.nn.ConvTranspose2d(3, 2, (2, 3), stride=(2, 1), dilation=(1, 2), key=k),
        ((3, 3, 4),),
        lambda m, x: np_conv_transpose(
            x, np.asarray(m.weight), np.asarray(m.bias), (2, 1), ((0, 0), (0, 0)), (1, 2), 1, (0, 0)
        ),
    ),
    "ConvTranspose1d": Row(
        lambda k: nnp.nn.ConvTranspose1d(2, 3, 3, stride=2, padding=1, output_padding=1, key=k),
        ((2, 4),),
        lambda m, x: np_conv_transpose(
            x, np.asarray(m.weight), np.asarray(m.bias), (2,), ((1, 1),), (1,), 1, (1,)
        ),
    ),
    "ConvTranspose3d": Row(
        lambda k: nnp.nn.ConvTranspose3d(2, 2, 2, stride=(2, 1, 1), key=k),
        ((2, 2, 3, 2),),
        lambda m, x: np_conv_transpose(
            x,
            np.asarray(m.weight),
            np.asarray(m.bias),
            (2, 1, 1),
            ((0, 0),) * 3,
            (1,) * 3,
            1,
            (0,) * 3,
        ),
    ),
    "MaxPool2d": Row(
        lambda k: nnp.nn.MaxPool2d(3, stride=2, padding=1),
        ((2, 6, 5),),
        lambda m, x: np_pool(x, (3, 3), (2, 2), ((1, 1), (1, 1)), np.max, -np.inf),
    ),
    "AvgPool2d": Row(
        lambda k: nnp.nn.AvgPool2d((2, 3), stride=(2, 1)),
        ((2, 6, 5),),
        lambda m, x: np_pool(x, (2, 3), (2, 1), ((0, 0), (0, 0)), np.mean, 0.0),
    ),
    "AdaptiveAvgPool2d": Row(
        lambda k: nnp.nn.AdaptiveAvgPool2d((2, 3)),
        ((2, 5, 7),),
        lambda m, x: np_adaptive_avg(x, (2, 3)),
    ),
    "Dropout": Row(lambda k: nnp.nn.Dropout(0.5, inference=True), ((3, 4),), lambda m, x: x),
    "BatchNorm": Row(
        _bn_make, ((3, 4),), _bn_reference, call=lambda pair, x: pair[0](x, pair[1])[0]
    ),
    "LayerNorm": Row(
        lambda k: nnp.tree_at(
            lambda m: (m.weight, m.bias), nnp.nn.LayerNorm((2, 3)), (arr(2, 3), arr(2, 3))
        ),
        ((2, 3),),
        lambda m, x: np_normalise(x, (0, 1), 1e-5) * np.asarray(m.weight) + np.asarray(m.bias),
    ),
    "GroupNorm": Row(
        lambda k: nnp.tree_at(
            lambda m: (m.weight, m.bias), nnp.nn.GroupNorm(2, 4), (arr(4), arr(4))
        ),
        ((4, 3),),
        lambda m, x: (
            np_normalise(x.reshape(2, 2, 3), (1, 2), 1e-5).reshape(4, 3)
            * np.asarray(m.weight)[:, None]
            + np.asarray(m.bias)[:, None]
        ),
    ),
    "RMSNorm": Row(
        lambda k: nnp.tree_at(lambda m: (m.weight, m.bias), nnp.nn.RMSNorm(5), (arr(5), arr(5))),
        ((5,),),
        lambda m, x: x / np.sqrt(np.mean(x**2) + 1e-5) * np.asarray(m.weight) + np.asarray(m.bias),
    ),
    "Embedding": Row(
        lambda k: nnp.nn.Embedding(6, 3, key=k),
        (),
        lambda m, i: np.asarray(m.weight)[i],
        int_input=6,
    ),
    "MultiheadAttention": Row(
        lambda k: nnp.nn.MultiheadAttention(
            2, 4, 3, 5, 6, qk_size=3, vo_size=2, use_key_bias=True, key=k
        ),
        ((3, 4), (5, 3), (5, 5)),
        np_mha,
    ),
    "GRUCell": Row(lambda k: nnp.nn.GRUCell(3, 4, key=k), ((3,), (4,)), np_gru),
    "LSTMCell": Row(
        lambda k: nnp.nn.LSTMCell(3, 2, key=k),
        ((3,), (2,), (2,)),
        np_lstm,
        call=lambda m, x, h, c: m(x, (h, c)),
    ),
    "Sequential": Row(
        lambda k: nnp.nn.Sequential(
            [
                nnp.nn.Linear(3, 4, key=k),
                nnp.nn.Lambda(dnp.tanh),
                nnp.nn.Linear(4, 2, key=dr.fold_in(k, 1)),
            ]
        ),
        ((3,),),
        lambda m, x: np_linear(m.layers[2], np.tanh(np_linear(m.layers[0], x))),
    ),
    "Lambda": Row(lambda k: nnp.nn.Lambda(dnp.sin), ((4,),), lambda m, x: np.sin(x)),
    "PReLU": Row(
        lambda k: nnp.nn.PReLU(0.2),
        ((6,),),
        lambda m, x: np.where(x >= 0, x, 0.2 * x),
    ),
}


def test_every_public_layer_is_in_the_table():
    public = set(nnp.nn.__all__) - NOT_LAYERS
    assert public == set(LAYERS), (
        f"missing from LAYERS: {sorted(public - set(LAYERS))}; "
        f"not public: {sorted(set(LAYERS) - public)}"
    )


def _inputs(row, seed=0, batch=None):
    rng = np.random.default_rng(seed)
    lead = () if batch is None else (batch,)
    if row.int_input is not None:
        return (rng.integers(0, row.int_input, lead).astype(np.int32),)
    return tuple(rng.standard_normal(lead + s).astype(np.float32) for s in row.shapes)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_forward_matches_reference(name):
    row = LAYERS[name]
    layer = row.make(dr.PRNGKey(0))
    xs = _inputs(row)
    out = row(layer, *[dnp.asarray(x) for x in xs])
    expected = row.reference(layer, *xs)
    for o, e in zip(tree.leaves(out), tree.leaves(expected), strict=True):
        assert o.shape == np.shape(e)
        np.testing.assert_allclose(np.asarray(o), e, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_vmap_matches_a_loop(name):
    row = LAYERS[name]
    layer = row.make(dr.PRNGKey(1))
    check_batching(lambda *xs: row(layer, *xs), _inputs(row, seed=1, batch=3), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_filter_jit_without_retrace(name):
    row = LAYERS[name]
    layer = row.make(dr.PRNGKey(2))
    run = nnp.filter_jit(row.__call__)
    for seed in (2, 3):
        xs = [dnp.asarray(x) for x in _inputs(row, seed=seed)]
        layer = tree.map(lambda a: a * 1.5 if nnp.is_inexact_array(a) else a, layer)
        for o, e in zip(tree.leaves(run(layer, *xs)), tree.leaves(row(layer, *xs)), strict=True):
            np.testing.assert_allclose(np.asarray(o), np.asarray(e), rtol=1e-5, atol=1e-6)
    assert run.trace_count == 1


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_gradients(name):
    row = LAYERS[name]
    layer = row.make(dr.PRNGKey(4))
    xs = [dnp.asarray(x) for x in _inputs(row, seed=4)]
    params, static = nnp.partition(layer, nnp.is_inexact_array)
    if row.int_input is None:

        def f(params, *xs):
            return row(nnp.combine(params, static), *xs)

        check_grads(f, (params, *xs), order=1, modes=("rev",))
    else:
        check_grads(lambda p: row(nnp.combine(p, static), *xs), (params,), order=1, modes=("rev",))

    cotangent = tree.map(
        lambda o: dnp.asarray(RNG.standard_normal(o.shape).astype(np.float32)), row(layer, *xs)
    )

    def loss(model):
        out = row(model, *xs)
        return sum(
            dnp.sum(o * c) for o, c in zip(tree.leaves(out), tree.leaves(cotangent), strict=True)
        )

    grads = nnp.filter_grad(loss)(layer)
    expected = derivax.grad(lambda p: loss(nnp.combine(p, static)))(params)
    assert tree.structure(grads) == tree.structure(params)
    for g, e in zip(tree.leaves(grads), tree.leaves(expected), strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(e), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_serialise_round_trip(name, tmp_path):
    row = LAYERS[name]
    layer = row.make(dr.PRNGKey(5))
    path = tmp_path / "layer.safetensors"
    nnp.tree_serialise_leaves(path, layer)
    fresh = row.make(dr.PRNGKey(6))
    loaded = nnp.tree_deserialise_leaves(path, fresh)
    # The leaves come back; the structure is the fresh layer's (a BatchNorm's state keys
    # are the fresh layer's own).
    assert nnp.tree_equal(tree.leaves(loaded), tree.leaves(layer))
    xs = [dnp.asarray(x) for x in _inputs(row)]
    for a, b in zip(tree.leaves(row(loaded, *xs)), tree.leaves(row(layer, *xs)), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


# --------------------------------------------------------------------------- layers: behaviour


def test_errors_batched_input_names_vmap():
    k = dr.PRNGKey(0)
    cases = [
        (nnp.nn.Linear(3, 2, key=k), (dnp.ones((8, 3)),)),
        (nnp.nn.Conv2d(1, 2, 3, key=k), (dnp.ones((8, 1, 5, 5)),)),
        (nnp.nn.MaxPool2d(2), (dnp.ones((8, 1, 4, 4)),)),
        (nnp.nn.LayerNorm(3), (dnp.ones((8, 3)),)),
        (nnp.nn.GRUCell(3, 2, key=k), (dnp.ones((8, 3)), dnp.zeros(2))),
        (nnp.nn.MultiheadAttention(1, 2, key=k), (dnp.ones((8, 4, 2)),) * 3),
    ]
    for layer, inputs in cases:
        with pytest.raises(ValueError, match=r"batch of 8.*derivax.vmap\(layer\)\(x\)"):
            layer(*inputs)
    with pytest.raises(ValueError, match=r"one index.*derivax.vmap\(embedding\)"):
        nnp.nn.Embedding(4, 2, key=k)(dnp.arange(3))
    # the fix works
    assert derivax.vmap(nnp.nn.Linear(3, 2, key=k))(dnp.ones((8, 3))).shape == (8, 2)


def test_errors_wrong_feature_size_names_the_argument():
    k = dr.PRNGKey(0)
    with pytest.raises(
        ValueError, match=r"built for 3 input features but the input has 4.*in_features=4"
    ):
        nnp.nn.Linear(3, 2, key=k)(dnp.ones(4))
    with pytest.raises(ValueError, match=r"built for 2 input channels.*has 3.*in_channels=3"):
        nnp.nn.Conv2d(2, 4, 3, key=k)(dnp.ones((3, 5, 5)))
    with pytest.raises(ValueError, match=r"shape \(4,\) but got \(5,\).*shape=\(5,\)"):
        nnp.nn.LayerNorm(4)(dnp.ones(5))
    with pytest.raises(ValueError, match=r"hidden state must have shape \(2,\)"):
        nnp.nn.GRUCell(3, 2, key=k)(dnp.ones(3), dnp.zeros(3))
    with pytest.raises(ValueError, match="key_size"):
        nnp.nn.MultiheadAttention(1, 2, key=k)(dnp.ones((4, 2)), dnp.ones((4, 3)), dnp.ones((4, 2)))


def test_errors_mutating_a_layer_and_missing_keys():
    layer = nnp.nn.Linear(2, 2, key=dr.PRNGKey(0))
    with pytest.raises(nnp.FrozenModuleError, match=r"nnp.tree_at\(lambda m: m.weight, model"):
        layer.weight = dnp.zeros((2, 2))
    with pytest.raises(
        ValueError, match=r"Dropout\(p=0.5\) is in training mode.*key=.*inference_mode"
    ):
        nnp.nn.Dropout()(dnp.ones(3))
    mha = nnp.nn.MultiheadAttention(1, 2, dropout_p=0.1, key=dr.PRNGKey(0))
    with pytest.raises(ValueError, match="needs a PRNG key"):
        mha(dnp.ones((3, 2)), dnp.ones((3, 2)), dnp.ones((3, 2)))
    with pytest.raises(TypeError, match="PRNGKey"):
        nnp.nn.Linear(2, 2, key=None)
    with pytest.raises(TypeError, match="key"):
        nnp.nn.Linear(2, 2)  # keyword-only and required


@pytest.mark.parametrize(
    "mode,np_mode", [("REFLECT", "reflect"), ("REPLICATE", "edge"), ("CIRCULAR", "wrap")]
)
def test_conv_padding_modes_pad_the_input_like_numpy(mode, np_mode):
    conv = nnp.nn.Conv2d(2, 3, 3, padding=((2, 1), (1, 0)), padding_mode=mode, key=dr.PRNGKey(0))
    x = np.random.default_rng(0).normal(size=(2, 5, 4)).astype(np.float32)
    padded = np.pad(x, ((0, 0), (2, 1), (1, 0)), mode=np_mode)
    expected = np_conv(
        padded, np.asarray(conv.weight), np.asarray(conv.bias), (1, 1), ((0, 0), (0, 0)), (1, 1), 1
    )
    assert_close(conv(x), expected.astype(np.float32), rtol=1e-5, atol=1e-5)
    check_grads(lambda x: conv(x), (x,), order=1)


def test_conv_fixed_dimension_classes_show_the_arguments_and_check_padding():
    import inspect

    assert "num_spatial_dims" not in inspect.signature(nnp.nn.Conv2d).parameters
    assert list(inspect.signature(nnp.nn.ConvTranspose3d).parameters)[:3] == [
        "in_channels",
        "out_channels",
        "kernel_size",
    ]
    with pytest.raises(ValueError, match="padding_mode must be one of.*got 'mirror'"):
        nnp.nn.Conv1d(1, 1, 3, padding_mode="mirror", key=dr.PRNGKey(0))
    with pytest.raises(NotImplementedError, match="'REFLECT' has no transpose.*'CIRCULAR'"):
        nnp.nn.ConvTranspose1d(1, 1, 3, padding_mode="REFLECT", key=dr.PRNGKey(0))
    with pytest.raises(NotImplementedError, match="CIRCULAR' needs padding='SAME'.*padding=1"):
        nnp.nn.ConvTranspose1d(1, 1, 3, padding=1, padding_mode="CIRCULAR", key=dr.PRNGKey(0))
    with pytest.raises(ValueError, match="padding string must be one of SAME, SAME_LOWER, VALID"):
        nnp.nn.ConvTranspose2d(1, 1, 3, padding="FULL", key=dr.PRNGKey(0))


def test_dropout_training_and_inference():
    x = dnp.ones(4000)
    y = nnp.nn.Dropout(0.25)(x, key=dr.PRNGKey(1))
    values = np.asarray(y)
    assert set(np.unique(values).tolist()) == {0.0, float(np.float32(1) / np.float32(0.75))}
    assert abs(np.mean(values == 0) - 0.25) < 0.03
    np.testing.assert_array_equal(nnp.nn.Dropout(0.25)(x, key=dr.PRNGKey(1)), y)  # same key
    assert not np.array_equal(nnp.nn.Dropout(0.25)(x, key=dr.PRNGKey(2)), values)
    np.testing.assert_array_equal(nnp.nn.Dropout(0.25)(x, inference=True), x)
    np.testing.assert_array_equal(nnp.nn.Dropout(0.0)(x), x)  # p=0 needs no key


def test_inference_mode_reaches_nested_layers():
    k = dr.PRNGKey(0)
    model = nnp.nn.Sequential(
        [
            nnp.nn.Linear(2, 2, key=k),
            nnp.nn.Dropout(0.5),
            nnp.nn.MultiheadAttention(1, 2, dropout_p=0.2, key=k),
        ]
    )
    flags = [
        m.inference
        for m in tree.leaves(model, is_leaf=lambda x: isinstance(x, nnp.nn.Dropout))
        if isinstance(m, nnp.nn.Dropout)
    ]
    assert flags == [False, False]
    evaluated = nnp.nn.inference_mode(model)
    assert evaluated.layers[1].inference and evaluated.layers[2].dropout.inference
    assert not model.layers[1].inference  # the original is unchanged
    assert not nnp.nn.inference_mode(evaluated, False).layers[1].inference
    with pytest.raises(TypeError, match="True or False"):
        nnp.nn.inference_mode(model, "yes")


def test_sequential_threads_state_and_splits_keys():
    k = dr.PRNGKey(0)
    seq, state = nnp.nn.make_with_state(nnp.nn.Sequential)(
        [
            nnp.nn.Linear(3, 3, key=k),
            nnp.nn.BatchNorm(3, "batch", inference=True),
            nnp.nn.Dropout(0.5),
        ]
    )
    y, new_state = seq(dnp.ones(3), state, key=dr.PRNGKey(1))
    assert y.shape == (3,) and isinstance(new_state, nnp.nn.State)
    assert seq[0] is seq.layers[0] and len(seq[1:]) == 2 and len(list(seq)) == 3
    with pytest.raises(TypeError, match="not callable"):
        nnp.nn.Sequential([nnp.nn.Linear(2, 2, key=k), 3])


def test_gru_cell_scanned_over_a_sequence():
    cell = nnp.nn.GRUCell(3, 4, key=dr.PRNGKey(0))
    xs = arr(6, 3)

    def step(h, x):
        h = cell(x, h)
        return h, h

    h_last, hs = derivax.lax.scan(step, dnp.zeros(4), xs)
    h = np.zeros(4)
    for x in np.asarray(xs):
        h = np_gru(cell, x, h)
    np.testing.assert_allclose(h_last, h, rtol=1e-5, atol=1e-6)
    assert hs.shape == (6, 4)


def test_batch_norm_state_and_inference_without_pmean():
    bn, state = nnp.nn.make_with_state(nnp.nn.BatchNorm)(2, axis_name="batch", inference=True)
    mean, var = state.get(bn.state_index)
    np.testing.assert_array_equal(mean, [0, 0])
    np.testing.assert_array_equal(var, [1, 1])
    with pytest.raises(TypeError, match="y, state = bn"):
        bn(dnp.ones(2), None)
    with pytest.raises(ValueError, match="built for 2 channels.*input_size=3"):
        bn(dnp.ones(3), state)


@pytest.mark.skipif(
    not hasattr(derivax.lax, "pmean"),
    reason="BatchNorm training needs derivax.lax.pmean (a collective over the vmap axis)",
)
def test_batch_norm_training_updates_running_statistics():
    bn, state = nnp.nn.make_with_state(nnp.nn.BatchNorm)(2, axis_name="batch", momentum=0.5)
    run = derivax.vmap(bn, in_axes=(0, None), out_axes=(0, None), axis_name="batch")
    x1, x2 = np.asarray(arr(6, 2, 3)), np.asarray(arr(6, 2, 3)) + 1
    y, state = run(dnp.asarray(x1), state)
    np.testing.assert_allclose(y, np_normalise(x1, (0, 2), 1e-5), rtol=1e-4, atol=1e-5)
    mean1, var1 = x1.mean(axis=(0, 2)), x1.var(axis=(0, 2))
    np.testing.assert_allclose(state.get(bn.state_index)[0], mean1, rtol=1e-5)  # first call
    _, state = run(dnp.asarray(x2), state)
    np.testing.assert_allclose(
        state.get(bn.state_index)[1], 0.5 * var1 + 0.5 * x2.var(axis=(0, 2)), rtol=1e-5
    )


# --------------------------------------------------------------------------- the MNIST example


def _tiny_mnist(*args, **kwargs):
    rng = np.random.default_rng(0)
    labels = np.arange(48, dtype=np.int32) % 10
    images = rng.random((48, 28, 28, 1), dtype=np.float32) * 0.1
    images[np.arange(48), labels * 2, :, 0] = 1.0  # a learnable pattern: one bright row
    return images[:32], labels[:32], images[32:], labels[32:]


def test_mnist_example_checkpoint_resume_matches_an_unbroken_run(tmp_path, monkeypatch, capsys):
    import mnist_nn_pytree as example

    monkeypatch.setattr(example, "load_mnist", _tiny_mnist)
    args = ["--batch-size", "16", "--lr", "0.01", "--seed", "3", "--epochs", "2"]
    unbroken = example.main([*args, "--checkpoint-dir", str(tmp_path / "a")])

    # The same run, interrupted right after its first checkpoint, then resumed.
    save = nnp.tree_serialise_leaves

    class Interrupted(Exception):
        pass

    def save_then_stop(path, tree):
        save(path, tree)
        raise Interrupted

    monkeypatch.setattr(nnp, "tree_serialise_leaves", save_then_stop)
    with pytest.raises(Interrupted):
        example.main([*args, "--checkpoint-dir", str(tmp_path / "b")])
    monkeypatch.setattr(nnp, "tree_serialise_leaves", save)
    resumed = example.main([*args, "--checkpoint-dir", str(tmp_path / "b"), "--resume"])

    out = capsys.readouterr().out.splitlines()
    assert any(line.startswith("resumed from") and "after epoch 1" in line for line in out)
    assert out[-1] == f"test accuracy: {resumed:.4f}"
    assert resumed == unbroken
    model = example.CNN(dr.PRNGKey(0))
    opt_state = example.make_optimizer(0.01, 4).init(nnp.filter(model, nnp.is_inexact_array))
    like = {"model": model, "opt_state": opt_state, "epoch": 0}
    a = nnp.tree_deserialise_leaves(tmp_path / "a" / example.CHECKPOINT_NAME, like)
    b = nnp.tree_deserialise_leaves(tmp_path / "b" / example.CHECKPOINT_NAME, like)
    assert a["epoch"] == b["epoch"] == 2
    assert nnp.tree_equal(a["model"], b["model"]) and nnp.tree_equal(a["opt_state"], b["opt_state"])


def test_mnist_example_flags():
    import mnist_nn_pytree as example

    args = example.parse_args([])
    assert (args.epochs, args.batch_size, args.checkpoint_dir, args.resume) == (4, 32, None, False)
    with pytest.raises(SystemExit):
        example.parse_args(["--resume"])  # needs --checkpoint-dir
    with pytest.raises(SystemExit):
        example.parse_args(["--batch-size", "0"])
