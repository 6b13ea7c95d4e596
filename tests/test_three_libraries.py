"""The same MLP in the three NN libraries: given the same weights, identical outputs and
gradients, bit for bit (the libraries share derivax.nn's layer math and differ only in
idiom).

Layouts: nn_transform and nn_modules store dense kernels as ``(in, out)``; nn_pytree, like
Equinox, as ``(out, in)`` and takes one example at a time (it is vmapped here).
"""

import numpy as np
import pytest

import derivax as dx
import derivax.numpy as dnp
import derivax.random as dr

nm = pytest.importorskip("nn_modules", reason="nn_modules is not written yet")
nnp = pytest.importorskip("nn_pytree", reason="nn_pytree is not written yet")
nt = pytest.importorskip("nn_transform", reason="nn_transform is not written yet")

SIZES = (5, 8, 8, 3)  # in, hidden, hidden, out


def weights(seed=0):
    """One ``(w (in, out), b (out,))`` pair per layer."""
    rng = np.random.default_rng(seed)
    return [
        (rng.standard_normal((i, o)).astype(np.float32), rng.standard_normal(o).astype(np.float32))
        for i, o in zip(SIZES[:-1], SIZES[1:], strict=True)
    ]


# --- the MLP in each library, and the conversion between its parameters and `weights()` ---


def transform_model():
    model = nt.without_apply_rng(nt.transform(lambda x: nt.nets.MLP(SIZES[1:])(x)))

    def to_params(ws):
        return {f"mlp/~/linear_{i}": {"w": w, "b": b} for i, (w, b) in enumerate(ws)}

    def from_params(params):
        return [
            (params[f"mlp/~/linear_{i}"]["w"], params[f"mlp/~/linear_{i}"]["b"]) for i in range(3)
        ]

    return (
        model.apply,
        to_params,
        from_params,
        model.init(dr.PRNGKey(0), np.zeros((1, 5), np.float32)),
        dx.grad,
    )


def modules_model():
    class MLP(nm.Module):
        @nm.compact
        def __call__(self, x):
            for size in SIZES[1:-1]:
                x = nm.relu(nm.Dense(size)(x))
            return nm.Dense(SIZES[-1])(x)

    model = MLP()

    def to_params(ws):
        return {"params": {f"Dense_{i}": {"kernel": w, "bias": b} for i, (w, b) in enumerate(ws)}}

    def from_params(variables):
        p = variables["params"]
        return [(p[f"Dense_{i}"]["kernel"], p[f"Dense_{i}"]["bias"]) for i in range(3)]

    return (
        model.apply,
        to_params,
        from_params,
        model.init(dr.PRNGKey(0), np.zeros((1, 5), np.float32)),
        dx.grad,
    )


def pytree_model():
    template = nnp.nn.MLP(SIZES[0], SIZES[-1], SIZES[1], len(SIZES) - 2, key=dr.PRNGKey(0))

    def to_params(ws):
        return nnp.tree_at(
            lambda m: [leaf for layer in m.layers for leaf in (layer.weight, layer.bias)],
            template,
            [dnp.asarray(a) for w, b in ws for a in (w.T, b)],
        )

    def from_params(model):
        return [(layer.weight.T, layer.bias) for layer in model.layers]

    def apply(model, x):
        return dx.vmap(model)(x)

    # The model holds its activation functions too: differentiate its arrays only.
    return apply, to_params, from_params, template, nnp.filter_grad


LIBRARIES = {
    "nn_transform": transform_model,
    "nn_modules": modules_model,
    "nn_pytree": pytree_model,
}


def _as_numpy(ws):
    return [(np.asarray(w), np.asarray(b)) for w, b in ws]


@pytest.mark.parametrize("library", sorted(LIBRARIES))
def test_parameter_layout_round_trips(library):
    _, to_params, from_params, initial, _ = LIBRARIES[library]()
    shapes = [(w.shape, b.shape) for w, b in _as_numpy(from_params(initial))]
    assert shapes == [((5, 8), (8,)), ((8, 8), (8,)), ((8, 3), (3,))]
    ws = weights(1)
    for (w, b), (w2, b2) in zip(ws, _as_numpy(from_params(to_params(ws))), strict=True):
        np.testing.assert_array_equal(w, w2)
        np.testing.assert_array_equal(b, b2)


def test_same_weights_same_outputs_and_gradients():
    x = np.random.default_rng(2).standard_normal((6, 5)).astype(np.float32)
    ws = weights()
    outputs, grads = {}, {}
    for name, make in LIBRARIES.items():
        apply, to_params, from_params, _, grad = make()
        params = to_params(ws)

        def loss(params, apply=apply):
            return dnp.sum(apply(params, x) ** 2)

        outputs[name] = np.asarray(apply(params, x))
        grads[name] = _as_numpy(from_params(grad(loss)(params)))

    # A NumPy forward pass as the common reference.
    h = x
    for i, (w, b) in enumerate(ws):
        h = h @ w + b
        h = np.maximum(h, 0) if i < len(ws) - 1 else h
    for name in LIBRARIES:
        np.testing.assert_allclose(outputs[name], h, rtol=1e-5, atol=1e-5, err_msg=name)
        np.testing.assert_array_equal(outputs[name], outputs["nn_transform"], err_msg=name)
        for (gw, gb), (rw, rb) in zip(grads[name], grads["nn_transform"], strict=True):
            np.testing.assert_array_equal(gw, rw, err_msg=f"{name} kernel grad")
            np.testing.assert_array_equal(gb, rb, err_msg=f"{name} bias grad")
