"""Kernels split across threads give the same results as unsplit kernels.

A split kernel runs its outer loop (over independent output elements) in parts on several
threads; every output element is computed by the code of the serial kernel. Elementwise
results are compared **bitwise**. Reductions are split over their outputs, never over the
reduced axis, but their accumulators are ``reassoc``: LLVM may vectorize the loop of a part
(whose bounds are run-time values) with a different grouping of partial sums than the
serial loop (static bounds), so reductions are compared within ``1e-6`` relative (float32
rounding of a few regrouped additions). The threshold is lowered
(``DERIVAX_PARALLEL_MIN_WORK=1``) so that small arrays are split too, and the fusion plan
is checked to say that the kernel was split.
"""

from __future__ import annotations

import numpy as np
import pytest

import derivax as dx
import derivax.lax as lax
import derivax.numpy as dnp
from derivax import nn
from derivax._compiler import parallel, runtime

RNG = np.random.default_rng(0)


@pytest.fixture(scope="module", autouse=True)
def _llvm_backend(tmp_path_factory):
    cache = tmp_path_factory.mktemp("derivax-cache")
    runtime.STRICT = True
    try:
        with dx.config.context(jit_backend="llvm", cache_dir=str(cache)):
            yield
    finally:
        runtime.STRICT = False


def _compiled(f, args, monkeypatch, threads):
    monkeypatch.setenv("DERIVAX_THREADS", str(threads))
    monkeypatch.setenv("DERIVAX_PARALLEL_MIN_WORK", "1")
    jf = dx.jit(f)
    return jf(*args), jf.lower(*args).as_text("fusion")


def compare_split(f, *args, monkeypatch, threads=2, exact=True):
    """``f`` compiled with kernels split into ``threads`` parts equals the unsplit program
    (bitwise when ``exact``) and the reference evaluator within float tolerance; returns
    the split plan."""
    serial, text1 = _compiled(f, args, monkeypatch, 1)
    split, text2 = _compiled(f, args, monkeypatch, threads)
    assert "threads" not in text1
    assert f"x{threads} threads" in text2
    for a, b in zip(dx.tree.leaves(serial), dx.tree.leaves(split), strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        if exact or a.dtype.kind != "f":
            np.testing.assert_array_equal(np.asarray(b), np.asarray(a))
        else:
            np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-6, atol=1e-6)
    with dx.config.context(jit_backend="reference"):
        ref = dx.jit(f)(*args)
    for r, b in zip(dx.tree.leaves(ref), dx.tree.leaves(split), strict=True):
        np.testing.assert_allclose(np.asarray(b), np.asarray(r), rtol=1e-5, atol=1e-5)
    return text2


def rand(*shape, dtype=np.float32):
    if np.dtype(dtype).kind in "iu":
        return dnp.asarray(RNG.integers(-50, 50, shape).astype(dtype))
    return dnp.asarray(RNG.uniform(-2, 2, shape).astype(dtype))


@pytest.mark.parametrize("shape", [(2,), (1001,), (37, 129), (5, 7, 11)])
def test_elementwise_flat(shape, monkeypatch):
    compare_split(lambda x, y: dnp.tanh(x) * y + dnp.exp(-x * x), rand(*shape), rand(*shape),
                  monkeypatch=monkeypatch)  # fmt: skip


def test_elementwise_nested_loops_with_broadcast_and_transpose(monkeypatch):
    f = lambda x, b: dnp.sin(x.T) + b[:, None] * 2.0  # noqa: E731
    compare_split(f, rand(33, 17), rand(17), monkeypatch=monkeypatch)


@pytest.mark.parametrize("threads", [2, 3, 5])
def test_uneven_parts(threads, monkeypatch):
    compare_split(lambda x: x * 3.0 - 1.0, rand(7, 3), monkeypatch=monkeypatch, threads=threads)


@pytest.mark.parametrize("dtype", [np.int32, np.int8, np.float64])
def test_other_dtypes(dtype, monkeypatch):
    with dx.config.context(enable_x64=np.dtype(dtype).itemsize == 8):
        x = rand(64, 9, dtype=dtype)
        compare_split(lambda x: x * x - x // 3, x, monkeypatch=monkeypatch)


def test_reductions_over_trailing_axes(monkeypatch):
    x = rand(300, 257)

    def f(x):
        return (
            dnp.sum(x * x, axis=1),
            dnp.max(dnp.exp(x), axis=-1),
            dnp.argmax(x, axis=1),
            dnp.sum(x.reshape(30, 10, 257), axis=(1, 2)),
        )

    text = compare_split(f, x, monkeypatch=monkeypatch, exact=False)
    assert "reduce reduce_sum x2 threads" in text


def test_row_chains(monkeypatch):
    x = rand(129, 65)
    text = compare_split(lambda x: (nn.softmax(x, axis=-1), nn.logsumexp(x, axis=-1)), x,
                         monkeypatch=monkeypatch, exact=False)  # fmt: skip
    assert "rows" in text


def test_split_kernels_inside_a_loop(monkeypatch):
    xs = rand(4, 50, 20)

    def f(xs):
        return lax.scan(lambda c, x: (dnp.tanh(c + x) * 0.5, (c * x).sum(axis=1)), xs[0], xs)

    compare_split(f, xs, monkeypatch=monkeypatch, exact=False)


def test_threshold_keeps_small_kernels_serial(monkeypatch):
    monkeypatch.delenv("DERIVAX_PARALLEL_MIN_WORK", raising=False)
    monkeypatch.setenv("DERIVAX_THREADS", "2")
    x = rand(16, 16)
    assert "threads" not in dx.jit(lambda x: x + 1.0).lower(x).as_text("fusion")
    work = parallel.MIN_WORK  # one add and one load per element: split from MIN_WORK / 2
    big = dnp.zeros((work // 2,))
    assert "x2 threads" in dx.jit(lambda x: x + 1.0).lower(big).as_text("fusion")


def test_bad_thread_count_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("DERIVAX_THREADS", "many")
    with pytest.raises(ValueError, match="DERIVAX_THREADS"):
        dx.jit(lambda x: x * 2.0 + 0.5)(rand(3))


# --------------------------------------------------------------------------- BLAS threads


def _blas_thread_calls(f, *args):
    import re

    text = dx.jit(f).lower(*args).as_text("llvm")
    return [int(n) for n in re.findall(r"call void @derivax_blas_threads\(i32 (\d+)\)", text)]


def test_small_products_run_on_one_blas_thread_and_large_ones_on_all():
    from derivax._compiler import engine

    small = dnp.ones((128, 784)), dnp.ones((784, 512))  # ~1e8 flops: one thread
    big = dnp.ones((1024, 1024)), dnp.ones((1024, 1024))  # 2^31 flops: every core
    assert _blas_thread_calls(lambda a, b: a @ b, *small) == [1]
    assert _blas_thread_calls(lambda a, b: a @ b, *big) == [parallel.cpu_count()]
    assert 2 * 1024**3 >= engine.BLAS_PARALLEL_MIN_FLOPS > 2 * 128 * 784 * 512
    with dx.config.context(blas_threads=3):  # an explicit count applies to every product
        assert _blas_thread_calls(lambda a, b: a @ b, *small) == [3]
        a, b = small
        np.testing.assert_allclose(dx.jit(lambda a, b: a @ b)(a, b), np.full((128, 512), 784.0))
