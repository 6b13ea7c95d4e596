"""The workloads W1-W12, each written for derivax, JAX, PyTorch and NumPy.

Inputs come from NumPy ``default_rng([0, tag])`` (params tag 1, batch tag 2), so every
framework computes on identical data; float32 throughout, labels int32.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap

import numpy as np

from ._timing import Result, first_call, measure

FRAMEWORKS = ("derivax", "jax", "torch", "numpy")


class Skip(Exception):
    """A workload cannot run on a framework (the message says why)."""


def _rng(tag):
    return np.random.default_rng([0, tag])


def _leaves(tree):
    """The arrays of a (nested) list/tuple/dict result as float64 NumPy arrays."""
    if isinstance(tree, dict):
        return [a for k in sorted(tree) for a in _leaves(tree[k])]
    if isinstance(tree, (list, tuple)):
        return [a for t in tree for a in _leaves(t)]
    if hasattr(tree, "detach"):  # a torch tensor
        tree = tree.detach()
    return [np.asarray(tree, dtype=np.float64)]


def _norms(tree):
    """Check values that do not cancel: the 2-norm of every array in ``tree``."""
    return [float(np.linalg.norm(a.ravel())) for a in _leaves(tree)]


def mlp_data(sizes, batch):
    r = _rng(1)
    params = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        w = (r.normal(size=(a, b)) * np.sqrt(2.0 / a)).astype(np.float32)
        params.append((w, np.zeros(b, np.float32)))
    rb = _rng(2)
    x = rb.normal(size=(batch, sizes[0])).astype(np.float32)
    y = rb.integers(0, sizes[-1], batch).astype(np.int32)
    return params, x, y


# --------------------------------------------------------------------------- MLP training step


def _dx_mlp_step(params, x, y):
    import derivax as dx
    import derivax.numpy as dnp
    from derivax import optim

    opt = optim.adam(1e-3, b1=0.9, b2=0.999, eps=1e-8)

    def loss_fn(params, x, y):
        h = x
        for w, b in params[:-1]:
            h = dx.nn.relu(h @ w + b)
        w, b = params[-1]
        logits = h @ w + b
        picked = dnp.take_along_axis(logits, y[:, None], axis=1)[:, 0]
        return dnp.mean(dx.nn.logsumexp(logits, axis=-1) - picked)

    @dx.jit
    def step(params, state, x, y):
        loss, g = dx.value_and_grad(loss_fn)(params, x, y)
        updates, state = opt.update(g, state, params)
        return optim.apply_updates(params, updates), state, loss

    p = dx.tree.map(dnp.asarray, params)
    st = opt.init(p)
    xs, ys = dnp.asarray(x), dnp.asarray(y)
    box = [p, st]

    def call():
        box[0], box[1], loss = step(box[0], box[1], xs, ys)
        return loss

    return call, lambda r: r


def _jax_adam(jnp):
    def init(params):
        z = [(jnp.zeros_like(w), jnp.zeros_like(b)) for w, b in params]
        return (
            z,
            [(jnp.zeros_like(w), jnp.zeros_like(b)) for w, b in params],
            jnp.zeros((), jnp.int32),
        )

    def update(g, state, params):
        m, v, t = state
        t = t + 1
        m = [(0.9 * a + 0.1 * ga, 0.9 * b + 0.1 * gb) for (a, b), (ga, gb) in zip(m, g)]
        v = [
            (0.999 * a + 0.001 * ga * ga, 0.999 * b + 0.001 * gb * gb)
            for (a, b), (ga, gb) in zip(v, g)
        ]
        c1 = 1 - 0.9 ** t.astype(jnp.float32)
        c2 = 1 - 0.999 ** t.astype(jnp.float32)
        new = [
            (
                w - 1e-3 * (mw / c1) / (jnp.sqrt(vw / c2) + 1e-8),
                b - 1e-3 * (mb / c1) / (jnp.sqrt(vb / c2) + 1e-8),
            )
            for (w, b), (mw, mb), (vw, vb) in zip(params, m, v)
        ]
        return new, (m, v, t)

    return init, update


def _jax_mlp_step(params, x, y):
    import jax
    import jax.numpy as jnp

    init, update = _jax_adam(jnp)

    def loss_fn(params, x, y):
        h = x
        for w, b in params[:-1]:
            h = jax.nn.relu(h @ w + b)
        w, b = params[-1]
        logits = h @ w + b
        picked = jnp.take_along_axis(logits, y[:, None], axis=1)[:, 0]
        return jnp.mean(jax.nn.logsumexp(logits, axis=-1) - picked)

    @jax.jit
    def step(params, state, x, y):
        loss, g = jax.value_and_grad(loss_fn)(params, x, y)
        params, state = update(g, state, params)
        return params, state, loss

    p = [(jnp.asarray(w), jnp.asarray(b)) for w, b in params]
    box = [p, init(p)]
    xs, ys = jnp.asarray(x), jnp.asarray(y)

    def call():
        box[0], box[1], loss = step(box[0], box[1], xs, ys)
        return loss

    return call, lambda r: r.block_until_ready()


def _torch_mlp_step(params, x, y):
    import torch

    p = []
    for w, b in params:
        p += [torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)]
    # fused=True: the eager Adam the peer table measured (one kernel for all parameters)
    opt = torch.optim.Adam(p, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, fused=True)
    xs, ys = torch.tensor(x), torch.tensor(y, dtype=torch.long)

    def call():
        opt.zero_grad()
        h = xs
        for i in range(0, len(p) - 2, 2):
            h = torch.relu(h @ p[i] + p[i + 1])
        logits = h @ p[-2] + p[-1]
        loss = torch.nn.functional.cross_entropy(logits, ys)
        loss.backward()
        opt.step()
        return loss.detach()

    return call, lambda r: r


def _np_mlp_step(params, x, y):
    p = [(w.copy(), b.copy()) for w, b in params]
    m = [(np.zeros_like(w), np.zeros_like(b)) for w, b in p]
    v = [(np.zeros_like(w), np.zeros_like(b)) for w, b in p]
    state = {"t": 0}
    n = x.shape[0]
    onehot = np.zeros((n, params[-1][0].shape[1]), np.float32)
    onehot[np.arange(n), y] = 1

    def call():
        hs, zs = [x], []
        h = x
        for w, b in p[:-1]:
            z = h @ w + b
            zs.append(z)
            h = np.maximum(z, 0)
            hs.append(h)
        logits = h @ p[-1][0] + p[-1][1]
        mx = logits.max(1, keepdims=True)
        e = np.exp(logits - mx)
        s = e.sum(1, keepdims=True)
        loss = np.mean(np.log(s[:, 0]) + mx[:, 0] - logits[np.arange(n), y])
        d = (e / s - onehot) / n
        grads = []
        for i in range(len(p) - 1, -1, -1):
            grads.append((hs[i].T @ d, d.sum(0)))
            if i:
                d = (d @ p[i][0].T) * (zs[i - 1] > 0)
        grads.reverse()
        state["t"] += 1
        t = state["t"]
        c1, c2 = 1 - 0.9**t, 1 - 0.999**t
        for k, ((w, b), (gw, gb)) in enumerate(zip(p, grads)):
            for arr, g, mm, vv in ((w, gw, m[k][0], v[k][0]), (b, gb, m[k][1], v[k][1])):
                mm *= 0.9
                mm += 0.1 * g
                vv *= 0.999
                vv += 0.001 * g * g
                arr -= 1e-3 * (mm / c1) / (np.sqrt(vv / c2) + 1e-8)
        return loss

    return call, None


MLP_STEP = {
    "derivax": _dx_mlp_step,
    "jax": _jax_mlp_step,
    "torch": _torch_mlp_step,
    "numpy": _np_mlp_step,
}


def run_mlp(fw, sizes, batch, quick):
    params, x, y = mlp_data(sizes, batch)
    call, sync = MLP_STEP[fw](params, x, y)
    first = first_call(call, sync)
    for _ in range(2):  # two more steps before timing (np.asarray synchronises)
        np.asarray(call())
    # fresh state for the loss check: steps 1..3 from the initial parameters
    call2, sync2 = MLP_STEP[fw](params, x, y)
    check = [float(np.asarray(call2())) for _ in range(3)]
    r = measure(call, sync=sync, min_time=0.2 if quick else 0.6)
    r.first = first
    r.check = check
    return r


# --------------------------------------------------------------------------- W3 CNN


def cnn_data():
    r = _rng(1)

    def conv_w(cin, cout):
        return (r.normal(size=(3, 3, cin, cout)) * np.sqrt(2.0 / (9 * cin))).astype(np.float32)

    def dense(a, b):
        return (r.normal(size=(a, b)) * np.sqrt(2.0 / a)).astype(np.float32)

    params = [
        (conv_w(3, 32), np.zeros(32, np.float32)),
        (conv_w(32, 64), np.zeros(64, np.float32)),
        (dense(4096, 256), np.zeros(256, np.float32)),
        (dense(256, 10), np.zeros(10, np.float32)),
    ]
    rb = _rng(2)
    x = rb.normal(size=(64, 32, 32, 3)).astype(np.float32)
    y = rb.integers(0, 10, 64).astype(np.int32)
    return params, x, y


def _dx_cnn(params, x, y):
    import derivax as dx
    import derivax.lax as lax
    import derivax.numpy as dnp

    def loss_fn(p, x, y):
        h = x
        for w, b in p[:2]:
            h = lax.conv_general_dilated(
                h, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
            )
            h = dx.nn.relu(h + b)
            h = lax.reduce_window_max(h, (1, 2, 2, 1), (1, 2, 2, 1))
        h = h.reshape(h.shape[0], -1)
        h = dx.nn.relu(h @ p[2][0] + p[2][1])
        logits = h @ p[3][0] + p[3][1]
        return -dnp.mean(dnp.take_along_axis(dx.nn.log_softmax(logits), y[:, None], axis=1))

    @dx.jit
    def step(p, v, x, y):
        loss, g = dx.value_and_grad(loss_fn)(p, x, y)
        v = dx.tree.map(lambda a, b: 0.9 * a + b, v, g)
        p = dx.tree.map(lambda a, b: a - 0.01 * b, p, v)
        return p, v, loss

    p = dx.tree.map(dnp.asarray, params)
    box = [p, dx.tree.map(dnp.zeros_like, p)]
    xs, ys = dnp.asarray(x), dnp.asarray(y)

    def call():
        box[0], box[1], loss = step(box[0], box[1], xs, ys)
        return loss

    return call, None


def _jax_cnn(params, x, y):
    import jax
    import jax.numpy as jnp
    from jax import lax

    def loss_fn(p, x, y):
        h = x
        for w, b in p[:2]:
            h = lax.conv_general_dilated(
                h, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
            )
            h = jax.nn.relu(h + b)
            h = lax.reduce_window(h, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
        h = h.reshape(h.shape[0], -1)
        h = jax.nn.relu(h @ p[2][0] + p[2][1])
        logits = h @ p[3][0] + p[3][1]
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))

    @jax.jit
    def step(p, v, x, y):
        loss, g = jax.value_and_grad(loss_fn)(p, x, y)
        v = jax.tree.map(lambda a, b: 0.9 * a + b, v, g)
        p = jax.tree.map(lambda a, b: a - 0.01 * b, p, v)
        return p, v, loss

    p = jax.tree.map(jnp.asarray, params)
    box = [p, jax.tree.map(jnp.zeros_like, p)]
    xs, ys = jnp.asarray(x), jnp.asarray(y)

    def call():
        box[0], box[1], loss = step(box[0], box[1], xs, ys)
        return loss

    return call, lambda r: r.block_until_ready()


def _im2col(x):
    b, h, w, c = x.shape
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    s = xp.strides
    cols = np.lib.stride_tricks.as_strided(
        xp, (b, h, w, 3, 3, c), (s[0], s[1], s[2], s[1], s[2], s[3])
    )
    return cols.reshape(b * h * w, 9 * c)


def _col2im(dcols, shape):
    b, h, w, c = shape
    d = dcols.reshape(b, h, w, 3, 3, c)
    out = np.zeros((b, h + 2, w + 2, c), np.float32)
    for i in range(3):
        for j in range(3):
            out[:, i : i + h, j : j + w] += d[:, :, :, i, j]
    return out[:, 1:-1, 1:-1]


def _np_cnn(params, x, y):
    p = [(w.copy(), b.copy()) for w, b in params]
    v = [(np.zeros_like(w), np.zeros_like(b)) for w, b in p]
    n = x.shape[0]

    def call():
        cache = []
        h = x
        for w, b in p[:2]:
            bsz, hh, ww, c = h.shape
            cols = _im2col(h)
            z = (cols @ w.reshape(-1, w.shape[-1])).reshape(bsz, hh, ww, -1) + b
            a = np.maximum(z, 0)
            r = a.reshape(bsz, hh // 2, 2, ww // 2, 2, -1)
            pooled = r.max(axis=(2, 4))
            mask = r == pooled[:, :, None, :, None, :]
            cache.append((h.shape, cols, z, mask))
            h = pooled
        flat = h.reshape(n, -1)
        z3 = flat @ p[2][0] + p[2][1]
        a3 = np.maximum(z3, 0)
        logits = a3 @ p[3][0] + p[3][1]
        mx = logits.max(1, keepdims=True)
        e = np.exp(logits - mx)
        s = e.sum(1, keepdims=True)
        loss = np.mean(np.log(s[:, 0]) + mx[:, 0] - logits[np.arange(n), y])
        d = e / s
        d[np.arange(n), y] -= 1
        d /= n
        g = [None] * 4
        g[3] = (a3.T @ d, d.sum(0))
        d3 = (d @ p[3][0].T) * (z3 > 0)
        g[2] = (flat.T @ d3, d3.sum(0))
        dh = (d3 @ p[2][0].T).reshape(h.shape)
        for k in (1, 0):
            shape, cols, z, mask = cache[k]
            w = p[k][0]
            dz = (mask * dh[:, :, None, :, None, :]).reshape(z.shape) * (z > 0)
            dz2 = dz.reshape(-1, dz.shape[-1])
            g[k] = ((cols.T @ dz2).reshape(w.shape), dz2.sum(0))
            if k:
                dh = _col2im(dz2 @ w.reshape(-1, w.shape[-1]).T, shape)
        for k in range(4):
            for arr, gg, vv in ((p[k][0], g[k][0], v[k][0]), (p[k][1], g[k][1], v[k][1])):
                vv *= 0.9
                vv += gg
                arr -= 0.01 * vv
        return loss

    return call, None


def _torch_cnn(params, x, y):
    import torch

    cl = torch.channels_last
    p = []
    for k, (w, b) in enumerate(params):
        w = torch.tensor(w)
        if k < 2:  # HWIO -> OIHW, stored channels-last (what oneDNN prefers)
            w = w.permute(3, 2, 0, 1).contiguous(memory_format=cl)
        p += [w.requires_grad_(), torch.tensor(b, requires_grad=True)]
    xs = torch.tensor(x).permute(0, 3, 1, 2).contiguous(memory_format=cl)
    ys = torch.tensor(y, dtype=torch.long)
    opt = torch.optim.SGD(p, lr=0.01, momentum=0.9)

    def call():
        opt.zero_grad()
        h = xs
        for i in (0, 2):
            h = torch.nn.functional.conv2d(h, p[i], p[i + 1], padding=1).relu()
            h = torch.nn.functional.max_pool2d(h, 2)
        h = h.permute(0, 2, 3, 1).reshape(h.shape[0], -1)
        h = (h @ p[4] + p[5]).relu()
        loss = torch.nn.functional.cross_entropy(h @ p[6] + p[7], ys)
        loss.backward()
        opt.step()
        return loss.detach()

    return call, None


CNN = {"derivax": _dx_cnn, "jax": _jax_cnn, "torch": _torch_cnn, "numpy": _np_cnn}


def run_cnn(fw, quick):
    params, x, y = cnn_data()
    call, sync = CNN[fw](params, x, y)
    first = first_call(call, sync)
    call2, sync2 = CNN[fw](params, x, y)
    check = [float(np.asarray(call2())) for _ in range(3)]
    r = measure(call, sync=sync, trials=3, min_time=0.3 if quick else 1.0, min_samples=3)
    r.first, r.check = first, check
    return r


# --------------------------------------------------------------------------- W4-W7


def _xyz(n):
    r = _rng(2)
    return [r.normal(size=n).astype(np.float32) for _ in range(3)]


def run_fused(fw, quick):
    n = 2**24
    x, y, z = _xyz(n)
    c = np.float32(np.sqrt(2 / np.pi))
    if fw == "derivax":
        import derivax as dx
        import derivax.numpy as dnp

        f = dx.jit(lambda x, y, z: 0.5 * x * (1 + dnp.tanh(c * (x + 0.044715 * x * x * x))) * y + z)
        args = [dnp.asarray(a) for a in (x, y, z)]
        call, sync = (lambda: f(*args)), None
    elif fw == "jax":
        import jax
        import jax.numpy as jnp

        f = jax.jit(
            lambda x, y, z: 0.5 * x * (1 + jnp.tanh(c * (x + 0.044715 * x * x * x))) * y + z
        )
        args = [jnp.asarray(a) for a in (x, y, z)]
        call, sync = (lambda: f(*args)), (lambda r: r.block_until_ready())
    elif fw == "torch":
        import torch

        args = [torch.tensor(a) for a in (x, y, z)]
        call, sync = (
            (
                lambda: (
                    0.5
                    * args[0]
                    * (1 + torch.tanh(c * (args[0] + 0.044715 * args[0] ** 3)))
                    * args[1]
                    + args[2]
                )
            ),
            None,
        )
    else:
        call, sync = (lambda: 0.5 * x * (1 + np.tanh(c * (x + 0.044715 * x * x * x))) * y + z), None
    first = first_call(call, sync)
    out = np.asarray(call())
    r = measure(call, sync=sync, min_time=0.3 if quick else 1.0, min_samples=5)
    r.first = first
    r.extra["GB/s"] = 4 * n * 4 / r.median / 1e9
    r.check = _norms(out)
    return r


def run_logsumexp(fw, quick):
    X = _rng(2).normal(size=(4096, 1024)).astype(np.float32)
    if fw == "derivax":
        import derivax as dx
        import derivax.numpy as dnp

        f = dx.jit(lambda a: dx.nn.logsumexp(a, axis=-1))
        a = dnp.asarray(X)
        call, sync = (lambda: f(a)), None
    elif fw == "jax":
        import jax
        import jax.numpy as jnp

        f = jax.jit(lambda a: jax.nn.logsumexp(a, axis=-1))
        a = jnp.asarray(X)
        call, sync = (lambda: f(a)), (lambda r: r.block_until_ready())
    elif fw == "torch":
        import torch

        a = torch.tensor(X)
        call, sync = (lambda: torch.logsumexp(a, -1)), None
    else:

        def call():
            m = X.max(1, keepdims=True)
            return np.log(np.exp(X - m).sum(1)) + m[:, 0]

        sync = None
    first = first_call(call, sync)
    out = np.asarray(call())
    r = measure(call, sync=sync, min_time=0.3 if quick else 1.0)
    r.first = first
    r.extra["GB/s"] = (X.nbytes + 4096 * 4) / r.median / 1e9
    r.check = [float(out.astype(np.float64).sum())]
    return r


def run_matmul(fw, n, quick):
    r0 = _rng(2)
    A = r0.normal(size=(n, n)).astype(np.float32)
    B = r0.normal(size=(n, n)).astype(np.float32)
    if fw == "derivax":
        import derivax as dx
        import derivax.numpy as dnp

        f = dx.jit(lambda a, b: a @ b)
        a, b = dnp.asarray(A), dnp.asarray(B)
        call, sync = (lambda: f(a, b)), None
    elif fw == "jax":
        import jax
        import jax.numpy as jnp

        f = jax.jit(lambda a, b: a @ b)
        a, b = jnp.asarray(A), jnp.asarray(B)
        call, sync = (lambda: f(a, b)), (lambda r: r.block_until_ready())
    elif fw == "torch":
        import torch

        a, b = torch.tensor(A), torch.tensor(B)
        call, sync = (lambda: a @ b), None
    else:
        call, sync = (lambda: A @ B), None
    first = first_call(call, sync)
    check = _norms(np.asarray(call())[:8])
    r = measure(call, sync=sync, min_time=0.3 if quick else 1.0, min_samples=3)
    r.first, r.check = first, check
    r.extra["GFLOP/s"] = 2 * n**3 / r.median / 1e9
    return r


def run_dispatch(fw, quick):
    x0 = np.ones(8, np.float32)
    if fw == "derivax":
        import derivax as dx
        import derivax.numpy as dnp

        f = dx.jit(lambda x: x + 1)
        x = dnp.asarray(x0)
        call, sync = (lambda: f(x)), None
    elif fw == "jax":
        import jax
        import jax.numpy as jnp

        f = jax.jit(lambda x: x + 1)
        x = jnp.asarray(x0)
        call, sync = (lambda: f(x)), (lambda r: r.block_until_ready())
    elif fw == "torch":
        import torch

        x = torch.tensor(x0)
        call, sync = (lambda: x + 1), None
    else:
        call, sync = (lambda: x0 + 1), None
    first = first_call(call, sync)
    check = [float(np.asarray(call()).astype(np.float64).sum())]
    # synchronous calls: each sample is 1000 calls, each synchronised
    if sync is None:
        r = measure(call, inner=1000, min_time=0.3 if quick else 1.0, min_samples=5)
    else:

        def many():
            for _ in range(1000):
                sync(call())

        r = measure(many, min_time=0.3 if quick else 1.0, min_samples=5)
        r = Result(r.median / 1000, r.low / 1000, r.high / 1000, r.samples)
    r.first, r.check = first, check
    r.extra["us/call"] = r.median * 1e6
    return r


# --------------------------------------------------------------------------- W8 import


_IMPORTS = {
    "derivax": "import derivax, derivax.numpy",
    "jax": "import jax, jax.numpy",
    "torch": "import torch",
    "numpy": "import numpy",
}


def run_import(fw, quick):
    import statistics
    import time

    times = []
    for _ in range(3 if quick else 5):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", _IMPORTS[fw]], check=True)
        times.append(time.perf_counter() - t0)
    m = statistics.median(times)
    return Result(m, min(times), max(times), len(times))


# --------------------------------------------------------------------------- W9 eager grad


def run_eager_grad(fw, quick):
    x0 = _rng(2).normal(size=2**20).astype(np.float32)
    if fw == "derivax":
        import derivax as dx
        import derivax.numpy as dnp

        g = dx.grad(lambda x: dnp.sum(dnp.sin(x) ** 2))
        x = dnp.asarray(x0)
        call, sync = (lambda: g(x)), None
    elif fw == "jax":
        import jax
        import jax.numpy as jnp

        g = jax.grad(lambda x: jnp.sum(jnp.sin(x) ** 2))
        x = jnp.asarray(x0)
        call, sync = (lambda: g(x)), (lambda r: r.block_until_ready())
    elif fw == "torch":
        import torch

        x = torch.tensor(x0, requires_grad=True)

        def call():
            return torch.autograd.grad((torch.sin(x) ** 2).sum(), x)[0]

        sync = None
    else:
        call, sync = (lambda: 2 * np.sin(x0) * np.cos(x0)), None
    first = first_call(call, sync)
    out = np.asarray(call())
    r = measure(call, sync=sync, min_time=0.3 if quick else 1.0)
    r.first = first
    r.check = _norms(out)
    return r


# --------------------------------------------------------------------------- W10 per-example


def _per_example_setup():
    return mlp_data([784, 128, 10], 128)


def run_per_example(fw, quick):
    params, x, y = _per_example_setup()
    if fw == "derivax":
        import derivax as dx
        import derivax.numpy as dnp

        def loss(p, x, y):
            h = dx.nn.relu(x @ p[0][0] + p[0][1])
            logits = h @ p[1][0] + p[1][1]
            return dx.nn.logsumexp(logits) - logits[y]

        f = dx.jit(dx.vmap(dx.grad(loss), in_axes=(None, 0, 0)))
        p = dx.tree.map(dnp.asarray, params)
        xs, ys = dnp.asarray(x), dnp.asarray(y)
        call, sync = (lambda: f(p, xs, ys)), None
    elif fw == "jax":
        import jax
        import jax.numpy as jnp

        def loss(p, x, y):
            h = jax.nn.relu(x @ p[0][0] + p[0][1])
            logits = h @ p[1][0] + p[1][1]
            return jax.nn.logsumexp(logits) - logits[y]

        f = jax.jit(jax.vmap(jax.grad(loss), in_axes=(None, 0, 0)))
        p = jax.tree.map(jnp.asarray, params)
        xs, ys = jnp.asarray(x), jnp.asarray(y)
        call, sync = (lambda: f(p, xs, ys)), (lambda r: jax.block_until_ready(r))
    elif fw == "torch":
        import torch
        from torch.func import grad, vmap

        p = [[torch.tensor(a) for a in pair] for pair in params]

        def loss(p, x, y):
            h = torch.relu(x @ p[0][0] + p[0][1])
            logits = h @ p[1][0] + p[1][1]
            # logits[y] with a batched y is data-dependent indexing, which vmap refuses
            return torch.logsumexp(logits, 0) - logits.gather(0, y[None])[0]

        f = vmap(grad(loss), in_dims=(None, 0, 0))
        xs, ys = torch.tensor(x), torch.tensor(y, dtype=torch.long)
        call, sync = (lambda: f(p, xs, ys)), None
    else:
        (w1, b1), (w2, b2) = params

        def call():
            z = x @ w1 + b1
            h = np.maximum(z, 0)
            logits = h @ w2 + b2
            e = np.exp(logits - logits.max(1, keepdims=True))
            d = e / e.sum(1, keepdims=True)
            d[np.arange(len(y)), y] -= 1
            dz = (d @ w2.T) * (z > 0)
            return [(x[:, :, None] * dz[:, None, :], dz), (h[:, :, None] * d[:, None, :], d)]

        sync = None
    first = first_call(call, sync)
    check = _norms(call())
    r = measure(call, sync=sync, min_time=0.3 if quick else 1.0)
    r.first, r.check = first, check
    return r


# --------------------------------------------------------------------------- W11 RNN


def rnn_data():
    r = _rng(1)
    wx = (r.normal(size=(64, 256)) / 8).astype(np.float32)
    wh = (r.normal(size=(256, 256)) / 16).astype(np.float32)
    b = np.zeros(256, np.float32)
    xs = _rng(2).normal(size=(100, 32, 64)).astype(np.float32)
    return (wx, wh, b), xs


def run_rnn(fw, quick):
    (wx, wh, b), xs = rnn_data()
    if fw == "derivax":
        import derivax as dx
        import derivax.lax as lax
        import derivax.numpy as dnp

        def loss(params, xs):
            wx, wh, b = params
            h, _ = lax.scan(
                lambda h, x: (dnp.tanh(x @ wx + h @ wh + b), None), dnp.zeros((32, 256)), xs
            )
            return dnp.sum(h)

        f = dx.jit(dx.grad(loss))
        p = tuple(dnp.asarray(a) for a in (wx, wh, b))
        xd = dnp.asarray(xs)
        call, sync = (lambda: f(p, xd)), None
    elif fw == "jax":
        import jax
        import jax.numpy as jnp

        def loss(params, xs):
            wx, wh, b = params
            h, _ = jax.lax.scan(
                lambda h, x: (jnp.tanh(x @ wx + h @ wh + b), None), jnp.zeros((32, 256)), xs
            )
            return jnp.sum(h)

        f = jax.jit(jax.grad(loss))
        p = tuple(jnp.asarray(a) for a in (wx, wh, b))
        xd = jnp.asarray(xs)
        call, sync = (lambda: f(p, xd)), (lambda r: jax.block_until_ready(r))
    elif fw == "torch":
        import torch

        p = [torch.tensor(a, requires_grad=True) for a in (wx, wh, b)]
        xt = torch.tensor(xs)

        def call():
            h = torch.zeros(32, 256)
            for t in range(100):
                h = torch.tanh(xt[t] @ p[0] + h @ p[1] + p[2])
            return torch.autograd.grad(h.sum(), p)

        sync = None
    else:

        def call():
            hs = [np.zeros((32, 256), np.float32)]
            for t in range(100):
                hs.append(np.tanh(xs[t] @ wx + hs[-1] @ wh + b))
            dh = np.ones((32, 256), np.float32)
            gwx, gwh, gb = np.zeros_like(wx), np.zeros_like(wh), np.zeros_like(b)
            for t in range(99, -1, -1):
                dp = dh * (1 - hs[t + 1] ** 2)
                gwx += xs[t].T @ dp
                gwh += hs[t].T @ dp
                gb += dp.sum(0)
                dh = dp @ wh.T
            return gwx, gwh, gb

        sync = None
    first = first_call(call, sync)
    check = _norms(call())
    r = measure(call, sync=sync, min_time=0.3 if quick else 1.0, min_samples=5)
    r.first, r.check = first, check
    return r


# --------------------------------------------------------------------------- W12 compile time

_W12_SCRIPT = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {root!r})
    import derivax
    derivax.config.update("jit_backend", "llvm")
    from benchmarks._workloads import mlp_data, _dx_mlp_step
    params, x, y = mlp_data([784, 512, 512, 10], 128)
    call, _ = _dx_mlp_step(params, x, y)
    t0 = time.perf_counter(); call(); first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(20):
        call()
    steady = (time.perf_counter() - t0) / 20
    print("W12", first, steady)
    """
)


def run_compile(fw, quick):
    if fw != "derivax":
        # JAX's figure: first call minus steady state of its W1 step, in this process
        if fw != "jax":
            raise Skip("compile time is measured for jit frameworks")
        params, x, y = mlp_data([784, 512, 512, 10], 128)
        call, sync = _jax_mlp_step(params, x, y)
        first = first_call(call, sync)
        r = measure(call, sync=sync, min_time=0.2, trials=1)
        res = Result(first - r.median, first - r.median, first - r.median, 1)
        res.extra["first_call_s"] = first
        return res
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = _W12_SCRIPT.format(root=root)
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, DERIVAX_CACHE_DIR=cache)
        outs = []
        for _ in range(2):  # cold cache, then warm disk cache in a fresh process
            out = subprocess.run(
                [sys.executable, "-c", script], env=env, capture_output=True, text=True
            )
            if out.returncode:
                raise RuntimeError(out.stderr[-2000:])
            line = [ln for ln in out.stdout.splitlines() if ln.startswith("W12")][-1]
            outs.append(tuple(float(v) for v in line.split()[1:]))
    (cold_first, cold_steady), (warm_first, warm_steady) = outs
    cold = cold_first - cold_steady
    res = Result(cold, cold, cold, 1)
    res.extra["first_call_s"] = cold_first
    res.extra["warm_cache_compile_s"] = warm_first - warm_steady
    return res


# --------------------------------------------------------------------------- registry

WORKLOADS = {
    "W1": ("mlp_train_step", lambda fw, q: run_mlp(fw, [784, 512, 512, 10], 128, q)),
    "W2": ("tiny_mlp_step", lambda fw, q: run_mlp(fw, [784, 64, 10], 32, q)),
    "W3": ("cnn_train_step", run_cnn),
    "W4": ("fused_elementwise", run_fused),
    "W5": ("logsumexp_rows", run_logsumexp),
    "W6a": ("matmul_1024", lambda fw, q: run_matmul(fw, 1024, q)),
    "W6b": ("matmul_2048", lambda fw, q: run_matmul(fw, 2048, q)),
    "W7": ("dispatch", run_dispatch),
    "W8": ("import_time", run_import),
    "W9": ("eager_grad", run_eager_grad),
    "W10": ("per_example_grads", run_per_example),
    "W11": ("rnn_scan_grad", run_rnn),
    "W12": ("compile_time", run_compile),
}
