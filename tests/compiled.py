"""Checks shared by the compiler's kernel test files: one jitted function on both back ends.

Import the two fixtures into a test module to run its tests on the LLVM back end with a
private disk cache and ``runtime.STRICT`` on (a lowering bug fails the test instead of
quietly running on the reference evaluator)::

    from compiled import _cache_dir, _llvm_backend  # noqa: F401 (fixtures)
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

import derivax as dx
from derivax._compiler import runtime


@pytest.fixture(scope="module")
def _cache_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("derivax-cache"))


@pytest.fixture(autouse=True)
def _llvm_backend(_cache_dir, monkeypatch):
    monkeypatch.setattr(runtime, "STRICT", True)
    with dx.config.context(jit_backend="llvm", cache_dir=_cache_dir):
        yield


def _x64(dtype):
    """A context with 64-bit types on when ``dtype`` needs them."""
    if np.dtype(dtype).itemsize == 8:
        return dx.config.context(enable_x64=True)
    return contextlib.nullcontext()


def run(f, args, backend):
    """``jit(f)(*args)`` on ``backend`` ("llvm" or "reference")."""
    with dx.config.context(jit_backend=backend):
        return dx.jit(f)(*args)


def assert_native(f, *args):
    """The compiled program runs no reference-evaluator step; returns its fusion text."""
    lowered = dx.jit(f).lower(*args)
    assert lowered.compile().report.fallbacks == []
    text = lowered.as_text("fusion")
    assert "reference evaluator" not in text, text
    return text


def _bits(a):
    a = np.asarray(a)
    if a.dtype.kind != "f":
        return a, None
    ints = a.view({4: np.int32, 8: np.int64}[a.dtype.itemsize])
    # every NaN compares as one value (a payload is not part of the result's meaning)
    return np.where(np.isnan(a), 1, ints), np.isnan(a)


def compare_exact(f, *args):
    """Both back ends give bitwise-equal results (NaN payloads aside), with equal shapes,
    dtypes and weak types, and the compiled program is all native; returns its fusion text."""
    ref = run(f, args, "reference")
    got = run(f, args, "llvm")
    ref_leaves, ref_tree = dx.tree.flatten(ref)
    got_leaves, got_tree = dx.tree.flatten(got)
    assert ref_tree == got_tree
    for r, g in zip(ref_leaves, got_leaves, strict=True):
        assert (g.shape, g.dtype, g.weak_type) == (r.shape, r.dtype, r.weak_type)
        (rb, rn), (gb, gn) = _bits(r), _bits(g)
        if rn is not None:
            np.testing.assert_array_equal(gn, rn, err_msg="NaN positions differ")
        np.testing.assert_array_equal(gb, rb, err_msg="values (bits) differ")
    return assert_native(f, *args)
