"""The steady-state call path of ``jit`` (the fast path of ``Jitted.__call__``).

A call whose arguments are all positional ``Array`` values looks its signature up in a
per-function table without flattening the arguments. These tests check that this path is
taken when it should be, that it is skipped when it must be (tracers, keywords, static
arguments, ``disable_jit``), and that every behaviour of the general path survives it:
retraces and their warning, donation, config changes, both back ends, threads.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

import derivax as dx
import derivax.numpy as dnp
from derivax._array import _wrap
from derivax._compiler import runtime
from derivax._jit import RetraceWarning

BACKENDS = ["reference", "llvm"]


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path):
    runtime.STRICT = True
    try:
        with dx.config.context(jit_backend=request.param, cache_dir=str(tmp_path)):
            yield request.param
    finally:
        runtime.STRICT = False


def _arr(values, dtype=np.float32):
    return dnp.asarray(np.asarray(values, dtype))


def _count_general(monkeypatch, f):
    """Count the calls of ``f`` that miss the fast path."""
    calls = []
    general = f._call_general

    def counting(args, kwargs):
        calls.append(len(args))
        return general(args, kwargs)

    monkeypatch.setattr(f, "_call_general", counting)
    return calls


def test_second_call_takes_the_fast_path(backend, monkeypatch):
    f = dx.jit(lambda x, y: x * y + 1.0)
    misses = _count_general(monkeypatch, f)
    x, y = _arr([1.0, 2.0, 3.0]), _arr([4.0, 5.0, 6.0])
    first = f(x, y)
    assert misses == [2]
    for _ in range(3):
        out = f(x, y)
        np.testing.assert_array_equal(np.asarray(out), [5.0, 11.0, 19.0])
    fresh = f(_arr([1.0, 1.0, 1.0]), _arr([2.0, 2.0, 2.0]))  # new arrays, same signature
    np.testing.assert_array_equal(np.asarray(fresh), [3.0, 3.0, 3.0])
    assert misses == [2]
    assert f.trace_count == 1
    assert type(out) is dx.Array and out.dtype == first.dtype and out.weak_type is False


def test_single_argument_and_single_output(backend, monkeypatch):
    f = dx.jit(lambda x: x + 1)
    misses = _count_general(monkeypatch, f)
    x = _arr(np.arange(8))
    for _ in range(3):
        out = f(x)
    np.testing.assert_array_equal(np.asarray(out), np.arange(8) + 1)
    assert out.dtype == np.float32 and len(misses) == 1


def test_weak_types_are_kept_and_keyed(backend):
    f = dx.jit(lambda x: x * 2)
    weak = _wrap(np.asarray(3.0, np.float32), True)
    strong = _arr(3.0)
    eager_weak, eager_strong = weak * 2, strong * 2
    for _ in range(2):
        assert f(weak).weak_type == eager_weak.weak_type
        assert f(strong).weak_type == eager_strong.weak_type
    assert eager_weak.weak_type != eager_strong.weak_type
    assert f.trace_count == 2


def test_pytree_outputs_and_several_outputs(backend):
    f = dx.jit(lambda x, y: {"sum": x + y, "pair": (x * y, dnp.sum(x))})
    x, y = _arr([1.0, 2.0]), _arr([3.0, 4.0])
    for _ in range(3):
        out = f(x, y)
    assert sorted(out) == ["pair", "sum"]
    np.testing.assert_array_equal(np.asarray(out["sum"]), [4.0, 6.0])
    np.testing.assert_array_equal(np.asarray(out["pair"][0]), [3.0, 8.0])
    assert float(out["pair"][1]) == 3.0


def test_closed_over_arrays_are_constants(backend):
    w = _arr([10.0, 20.0, 30.0])
    f = dx.jit(lambda x: x * w + dnp.sum(w))
    x = _arr([1.0, 2.0, 3.0])
    for _ in range(3):
        out = f(x)
    np.testing.assert_allclose(np.asarray(out), [70.0, 100.0, 150.0])


def test_no_arguments(backend):
    f = dx.jit(lambda: dnp.arange(3.0))
    for _ in range(3):
        out = f()
    np.testing.assert_array_equal(np.asarray(out), [0.0, 1.0, 2.0])
    assert f.trace_count == 1


def test_shape_and_dtype_changes_retrace_and_warn(backend):
    f = dx.jit(lambda x: x * 2)
    with dx.config.context(retrace_warning_threshold=2):
        f(_arr([1.0]))
        f(_arr([1.0]))
        f(_arr([1.0, 2.0]))
        assert f.trace_count == 2
        with pytest.warns(RetraceWarning, match=r"argument x changed from f32\[2\] to f32\[3\]"):
            out = f(_arr([1.0, 2.0, 3.0]))
        np.testing.assert_array_equal(np.asarray(out), [2.0, 4.0, 6.0])
        with pytest.warns(RetraceWarning, match=r"i32\[3\]"):
            out = f(_arr([1, 2, 3], np.int32))
    assert out.dtype == np.int32 and f.trace_count == 4
    # every signature seen stays cached: going back does not trace again
    f(_arr([1.0]))
    f(_arr([1, 2, 3], np.int32))
    assert f.trace_count == 4


def test_equal_but_not_identical_dtype(backend):
    f = dx.jit(lambda x: x + 1)
    f(_arr([1.0, 2.0]))
    same = np.dtype(np.float32, metadata={"note": "an equal dtype object"})
    assert same == np.float32 and same is not np.dtype(np.float32)
    out = f(_wrap(np.asarray([1.0, 2.0], same)))
    np.testing.assert_array_equal(np.asarray(out), [2.0, 3.0])
    assert f.trace_count == 1


def test_config_changes_are_part_of_the_key(backend):
    f = dx.jit(lambda x: x / 3)
    x = _arr([1.0, 2.0])
    f(x)
    f(x)
    with dx.config.context(debug_nans=True):
        out = f(x)
    assert f.trace_count == 2
    np.testing.assert_allclose(np.asarray(out), np.float32([1.0, 2.0]) / np.float32(3))


def test_switching_back_end_between_calls(monkeypatch):
    f = dx.jit(lambda x: dnp.exp(x) * 2)
    x = _arr([0.0, 1.0])
    results = {}
    runtime.STRICT = True
    try:
        for backend in ["reference", "llvm", "reference", "llvm"]:
            with dx.config.context(jit_backend=backend):
                results.setdefault(backend, []).extend([f(x), f(x)])
    finally:
        runtime.STRICT = False
    assert f.trace_count == 1
    expected = np.exp(np.float32([0.0, 1.0])) * 2
    for outs in results.values():
        for out in outs:
            np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-6)


def test_disable_jit_after_the_fast_path_is_warm(backend):
    seen = []

    def fun(x):
        seen.append(type(x))
        return x + 1

    f = dx.jit(fun)
    x = _arr([1.0])
    f(x)
    f(x)
    assert len(seen) == 1  # traced once, then cached
    with dx.config.context(disable_jit=True):
        f(x)
    assert len(seen) == 2 and seen[-1] is dx.Array  # ran eagerly on the Array


def test_non_array_arguments_take_the_general_path(backend):
    f = dx.jit(lambda x, y: x * y)
    a = np.arange(3, dtype=np.float32)
    for _ in range(2):
        out = f(a, 2.0)
        np.testing.assert_array_equal(np.asarray(out), a * 2)
        out = f(_arr(a), 2.0)
    assert out.dtype == np.float32
    assert f.trace_count == 1  # a NumPy array and an Array of one shape and dtype share a trace


def test_static_and_keyword_arguments(backend):
    f = dx.jit(lambda x, n, *, scale: x * n * scale, static_argnums=1)
    x = _arr([1.0, 2.0])
    for _ in range(2):
        np.testing.assert_array_equal(np.asarray(f(x, 3, scale=_arr(2.0))), [6.0, 12.0])
    np.testing.assert_array_equal(np.asarray(f(x, 4, scale=_arr(1.0))), [4.0, 8.0])
    assert f.trace_count == 2
    with pytest.raises(TypeError, match="not hashable"):
        f(x, [3], scale=_arr(1.0))


def test_transformations_of_a_warm_function(backend):
    f = dx.jit(lambda x: dnp.sin(x) * x)
    x = _arr([0.5, 1.5])
    f(x)
    f(x)  # warm: a fast entry exists for this signature
    g = dx.grad(lambda v: dnp.sum(f(v)))(x)
    xs = np.float32([0.5, 1.5])
    np.testing.assert_allclose(np.asarray(g), np.cos(xs) * xs + np.sin(xs), rtol=1e-5)
    v = dx.vmap(f)(_arr([[0.5, 1.5], [1.0, 2.0]]))
    np.testing.assert_allclose(np.asarray(v)[1], np.sin([1.0, 2.0]) * [1.0, 2.0], rtol=1e-5)
    # concrete arguments under a staging trace are staged out, not run
    text = str(dx.make_jaxpr(lambda: f(x))())
    assert "sin" in text


def test_steady_state_donation(backend):
    f = dx.jit(lambda x, y: x * 2.0 + y, donate_argnums=0)
    y = _arr(np.ones(6))
    x = _arr(np.arange(6))
    for step in range(4):
        addr = np.asarray(x).__array_interface__["data"][0]
        out = f(x, y)
        expected = np.arange(6) * 2.0 ** (step + 1) + (2.0 ** (step + 1) - 1)
        np.testing.assert_allclose(np.asarray(out), expected)
        if backend == "llvm":  # the reference evaluator never reuses buffers
            assert np.asarray(out).__array_interface__["data"][0] == addr
            with pytest.raises(RuntimeError, match="donated"):
                x + 1
            with pytest.raises(RuntimeError, match="donated"):
                f(x, y)
        x = out
    np.testing.assert_array_equal(np.asarray(y), 1.0)
    assert f.trace_count == 1


def test_clear_cache_empties_the_fast_table(backend):
    f = dx.jit(lambda x: x - 1)
    x = _arr([1.0])
    f(x)
    f.clear_cache()
    assert f.trace_count == 0
    f(x)
    f(x)
    assert f.trace_count == 1


def test_concurrent_calls_from_threads(backend):
    f = dx.jit(lambda x: dnp.tanh(x) * 3 + x)
    inputs = [_arr(np.linspace(-2, 2, 4096) + i) for i in range(4)]
    expected = [np.tanh(np.asarray(a)) * 3 + np.asarray(a) for a in inputs]
    f(inputs[0])
    errors = []

    def work(k):
        try:
            for _ in range(200):
                out = f(inputs[k])
                np.testing.assert_allclose(np.asarray(out), expected[k], rtol=1e-5, atol=1e-6)
        except Exception as err:  # reported in the main thread
            errors.append(err)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


def test_busy_executable_uses_private_slots():
    with dx.config.context(jit_backend="llvm"):
        f = dx.jit(lambda x, y: (x + y, x * y))
        g = dx.jit(lambda x: x * 10)
        x, y = _arr([1.0, 2.0]), _arr([3.0, 4.0])
        f(x, y)
        g(x)
        for jf, args in [(f, (x, y)), (g, (x,))]:
            (call, _, _), _ = jf._lookup(args, {})
            exe = runtime.executable_for(call)
            held = exe._free.pop()  # as if another thread were running it
            try:
                out = jf(*args)
                if exe.call1 is not None:
                    direct = exe.call1(list(args))
                    np.testing.assert_array_equal(np.asarray(direct), np.asarray(out))
            finally:
                exe._free.append(held)
            assert len(exe._free) == 1
        np.testing.assert_array_equal(np.asarray(f(x, y)[1]), [3.0, 8.0])
        np.testing.assert_array_equal(np.asarray(g(x)), [10.0, 20.0])
