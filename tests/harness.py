"""The shared test harness: every op test runs through these checks.

* ``check_against_numpy``: value and dtype against a NumPy reference (the expected dtype is
  written by the test, never read from the code under test).
* ``check_jit``: eager vs ``jit`` (values, dtypes, weak types) and no retrace on the second
  call with arguments of the same shapes and dtypes.
* ``check_batching``: ``vmap`` vs a Python loop over the mapped axis; also with the mapped
  axis moved to the end, with ``out_axes=-1``, and with a batch of size 0.
* ``check_grads``: forward mode (JVP) against central differences along a random
  direction; reverse mode (VJP) by the inner-product identity
  ``<ct, J t> == <J^T ct, t>`` with ``J t`` from central differences, so a wrong transpose
  rule is caught even when its jvp rule is right. Checks recurse to ``order``: the jvp and
  the vjp functions are themselves checked, which covers forward-over-reverse and every
  other second-order composition.

Input generators (``rand_default``, ``rand_positive``, ...) are factories in the style of
JAX's test utilities: ``rand_positive(rng)(shape, dtype)`` with ``rng`` a seed or a
``np.random.Generator``.
"""

from __future__ import annotations

import contextlib

import ml_dtypes
import numpy as np

import derivax as dx
import derivax.numpy as dnp

# --------------------------------------------------------------------------- dtypes and tolerances

BF16 = np.dtype(ml_dtypes.bfloat16)
F16, F32, F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
C64, C128 = np.dtype(np.complex64), np.dtype(np.complex128)

# Value comparisons (eager vs jit, vmap vs loop, vs NumPy): used as both rtol and atol.
VALUE_TOL = {BF16: 1e-2, F16: 1e-3, F32: 1e-6, F64: 1e-13, C64: 1e-6, C128: 1e-13}
# Gradient checks: a numerical derivative is only as good as its step size allows.
GRAD_TOL = {BF16: 1e-1, F16: 5e-2, F32: 2e-3, F64: 1e-6, C64: 2e-3, C128: 1e-6}
# Central-difference step per input dtype.
GRAD_EPS = {BF16: 1e-1, F16: 5e-2, F32: 1e-3, F64: 1e-5, C64: 1e-3, C128: 1e-5}

_UPCAST = {BF16: F64, F16: F64, F32: F64, C64: C128}


def is_float(dtype) -> bool:
    """True for floating and complex dtypes (bfloat16 included)."""
    dtype = np.dtype(dtype)
    return dtype.kind in "fc" or dtype == BF16


def _least_precise(dtypes, table):
    """The tolerance of the least precise inexact dtype among ``dtypes``."""
    tols = [table[np.dtype(d)] for d in dtypes if is_float(d) and np.dtype(d) in table]
    return max(tols) if tols else 0.0


def x64_context(*dtypes):
    """``enable_x64`` when any of ``dtypes`` is 64-bit, else a no-op context."""
    wide = any(np.dtype(d).itemsize == 8 and np.dtype(d).kind in "iuf" for d in dtypes) or any(
        np.dtype(d) == C128 for d in dtypes
    )
    return dx.config.context(enable_x64=True) if wide else contextlib.nullcontext()


# --------------------------------------------------------------------------- input generators


def _rng(rng):
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _cast(values, dtype):
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return np.asarray(values > 0)
    if dtype.kind in "iu":
        return np.asarray(np.round(values)).astype(dtype)
    return np.asarray(values).astype(dtype)


def _complexify(make, shape, dtype):
    if np.dtype(dtype).kind == "c":
        return (make(shape) + 1j * make(shape)).astype(dtype)
    return _cast(make(shape), dtype)


def rand_default(rng=0, scale=3.0):
    """Normal values times ``scale`` (rounded for integer dtypes, ``> 0`` for bool)."""
    rng = _rng(rng)
    return lambda shape, dtype: _complexify(lambda s: rng.standard_normal(s) * scale, shape, dtype)


def rand_small(rng=0):
    """Normal values of scale 0.1."""
    return rand_default(rng, scale=0.1)


def rand_positive(rng=0, low=0.5, high=3.0):
    """Uniform values in ``[low, high)``: positive and away from zero."""
    rng = _rng(rng)
    return lambda shape, dtype: _cast(rng.uniform(low, high, shape), dtype)


def rand_not_small(rng=0, low=0.5, high=3.0):
    """Values with ``low <= |x| < high`` and random signs (divisors, kinks at 0)."""
    rng = _rng(rng)

    def gen(shape, dtype):
        mag = rng.uniform(low, high, shape)
        return _cast(np.where(rng.random(shape) < 0.5, -mag, mag), dtype)

    return gen


rand_nonzero = rand_not_small


def rand_unit(rng=0, bound=0.9):
    """Uniform values in ``(-bound, bound)`` (domains of asin, atanh, tan's safe range)."""
    rng = _rng(rng)
    return lambda shape, dtype: _cast(rng.uniform(-bound, bound, shape), dtype)


def rand_fractional(rng=0, scale=4):
    """Values at least 0.1 away from every integer and half-integer (floor, ceil, round)."""
    rng = _rng(rng)

    def gen(shape, dtype):
        whole = rng.integers(-scale, scale, shape)
        frac = rng.choice([0.15, 0.3, 0.65, 0.85], shape) + rng.uniform(-0.04, 0.04, shape)
        return _cast(whole + frac, dtype)

    return gen


def rand_distinct(rng=0, spacing=0.37):
    """All values distinct and ``spacing`` apart (no ties for max, argmax, min, sort)."""
    rng = _rng(rng)

    def gen(shape, dtype):
        n = int(np.prod(shape, dtype=np.int64))
        vals = (rng.permutation(n) - n / 2) * spacing
        if np.dtype(dtype).kind in "iub":
            vals = rng.permutation(n) - n // 2
        return _cast(vals.reshape(shape), dtype)

    return gen


def rand_int(rng=0, low=-5, high=5):
    """Integers in ``[low, high)`` (a small range, so equal values occur)."""
    rng = _rng(rng)
    return lambda shape, dtype: rng.integers(low, high, shape).astype(dtype)


def rand_bool(rng=0):
    """Random booleans."""
    rng = _rng(rng)
    return lambda shape, dtype=np.bool_: rng.random(shape) < 0.5


def rand_some_nan(rng=0):
    """Normal values with about a quarter replaced by NaN, +inf or -inf."""
    rng = _rng(rng)

    def gen(shape, dtype):
        vals = rng.standard_normal(shape) * 3
        specials = rng.choice(np.array([np.nan, np.inf, -np.inf]), shape)
        return _cast(np.where(rng.random(shape) < 0.25, specials, vals), dtype)

    return gen


def rand_greater_than_one(rng=0):
    """Uniform values in ``[1.2, 4)`` (the domain of acosh away from its kink)."""
    return rand_positive(rng, 1.2, 4.0)


# --------------------------------------------------------------------------- tree helpers


def _leaves(tree):
    return dx.tree.leaves(tree)


def _is_array_leaf(x):
    return isinstance(x, (dx.Array, np.ndarray, np.generic, bool, int, float, complex))


def to_numpy(tree):
    """Every leaf as a NumPy array."""
    return dx.tree.map(lambda x: np.asarray(x), tree)


def to_derivax(tree, upcast=False):
    """NumPy leaves as derivax Arrays (with ``upcast``: floats become 64-bit)."""

    def conv(x):
        if not _is_array_leaf(x) or isinstance(x, (bool, int, float, complex)) and not upcast:
            return x
        v = np.asarray(x)
        if upcast and v.dtype in _UPCAST:
            v = v.astype(_UPCAST[v.dtype])
        return dnp.asarray(v)

    return dx.tree.map(conv, tree)


def _dtype(x):
    return np.asarray(x).dtype if not hasattr(x, "dtype") else np.dtype(x.dtype)


# --------------------------------------------------------------------------- comparisons


def assert_close(actual, expected, *, atol=None, rtol=None, check_dtypes=True, err_msg=""):
    """Compare two pytrees leaf by leaf: structure, shapes, dtypes and values.

    Tolerances default to ``VALUE_TOL`` of each leaf's dtype; integer and bool leaves must
    match exactly. NaNs must appear at the same positions.
    """
    a_leaves, a_tree = dx.tree.flatten(actual)
    e_leaves, e_tree = dx.tree.flatten(expected)
    assert len(a_leaves) == len(e_leaves), (
        f"{err_msg}: {len(a_leaves)} output leaves, expected {len(e_leaves)} ({a_tree} vs {e_tree})"
    )
    for i, (a, e) in enumerate(zip(a_leaves, e_leaves, strict=True)):
        where = f"{err_msg} (leaf {i})" if len(a_leaves) > 1 else err_msg
        av, ev = np.asarray(a), np.asarray(e)
        assert av.shape == ev.shape, f"{where}: shape {av.shape}, expected {ev.shape}"
        if check_dtypes:
            assert av.dtype == ev.dtype, f"{where}: dtype {av.dtype}, expected {ev.dtype}"
        if is_float(av.dtype) or is_float(ev.dtype):
            tol = _least_precise([av.dtype, ev.dtype], VALUE_TOL)
            a_tol = tol if atol is None else atol
            r_tol = tol if rtol is None else rtol
            wide = C128 if np.iscomplexobj(av) or np.iscomplexobj(ev) else F64
            np.testing.assert_allclose(
                av.astype(wide), ev.astype(wide), atol=a_tol, rtol=r_tol, err_msg=where
            )
        else:
            np.testing.assert_array_equal(av, ev, err_msg=where)


# The LLVM back end rounds differently from NumPy in a few places, by design: its math library
# is its own (float32 log follows XLA's sequence, not NumPy's) and float multiply-adds may be
# contracted into FMAs. Results that the reference back end reproduces bit for bit are
# therefore compared to within this many units in the last place when jit compiles.
COMPILED_MAX_ULP = 4


def assert_jit_equal(compiled, eager, *, err_msg=""):
    """jit vs eager for results that must be reproducible (random samplers, integer work):
    bitwise on the reference back end; on the LLVM back end floating leaves may differ by
    ``COMPILED_MAX_ULP`` units in the last place, everything else stays exact."""
    a_leaves, a_tree = dx.tree.flatten(compiled)
    e_leaves, e_tree = dx.tree.flatten(eager)
    assert a_tree == e_tree, f"{err_msg}: structure {a_tree}, expected {e_tree}"
    for a, e in zip(a_leaves, e_leaves, strict=True):
        av, ev = np.asarray(a), np.asarray(e)
        assert av.shape == ev.shape and av.dtype == ev.dtype, (
            f"{err_msg}: {av.dtype}{av.shape}, expected {ev.dtype}{ev.shape}"
        )
        if dx.config.jit_backend == "llvm" and is_float(av.dtype) and av.dtype.kind == "f":
            np.testing.assert_array_max_ulp(av, ev, maxulp=COMPILED_MAX_ULP)
        else:
            np.testing.assert_array_equal(av, ev, err_msg=err_msg)


# --------------------------------------------------------------------------- check_against_numpy


def check_against_numpy(f, np_f, args, *, dtype, rtol=None, atol=None):
    """``f(*args)`` equals ``np_f(*args)`` in value, and its dtype is ``dtype``.

    Args:
        f: the derivax function; called on the arguments as derivax Arrays.
        np_f: the NumPy reference; called on NumPy arrays. Its result is cast to ``dtype``
            before comparing, so a reference computed in float64 is fine.
        args: a sequence of NumPy arrays (or pytrees of them).
        dtype: the expected dtype of every output leaf, or a pytree of dtypes matching the
            output (written by the test).
        rtol, atol: override the per-dtype tolerances.
    """
    args = tuple(args)
    out = f(*to_derivax(args))
    expected = np_f(*to_numpy(args))
    out_leaves, out_tree = dx.tree.flatten(out)
    exp_leaves = _leaves(expected)
    dtype_leaves = (
        _leaves(dtype) if isinstance(dtype, (tuple, list, dict)) else [dtype] * len(out_leaves)
    )
    assert len(out_leaves) == len(exp_leaves) == len(dtype_leaves), (
        f"check_against_numpy: output has {len(out_leaves)} leaves, reference "
        f"{len(exp_leaves)}, expected dtypes {len(dtype_leaves)}"
    )
    for i, (o, e, dt) in enumerate(zip(out_leaves, exp_leaves, dtype_leaves, strict=True)):
        dt = np.dtype(dt)
        assert isinstance(o, dx.Array), f"output leaf {i} is a {type(o).__name__}, not an Array"
        assert o.dtype == dt, (
            f"check_against_numpy: output leaf {i} has dtype {o.dtype}, expected {dt}"
        )
        with np.errstate(all="ignore"):
            e = np.asarray(e).astype(dt)
        assert_close(o, e, atol=atol, rtol=rtol, err_msg=f"check_against_numpy: output leaf {i}")
    del out_tree


# --------------------------------------------------------------------------- check_jit


def _weak_types(tree):
    return [getattr(x, "weak_type", None) for x in _leaves(tree)]


def _fresh_copies(tree):
    """The same values in new objects (a cache keyed on identity would miss)."""
    return dx.tree.map(lambda x: dnp.asarray(np.array(x)) if isinstance(x, dx.Array) else x, tree)


def check_jit(f, args, *, static_argnums=(), atol=None, rtol=None):
    """``jit(f)`` gives eager ``f``'s values, dtypes and weak types; the second call (and a
    call with new arrays of the same shapes and dtypes) does not trace again.

    The IR type checker is on while tracing.
    """
    args = to_derivax(tuple(args))
    with dx.config.context(check_ir=True):
        expected = f(*args)
        jf = dx.jit(f, static_argnums=static_argnums)
        out = jf(*args)
        assert_close(out, expected, atol=atol, rtol=rtol, err_msg="check_jit: jit vs eager")
        assert _weak_types(out) == _weak_types(expected), (
            f"check_jit: weak types under jit {_weak_types(out)}, eager {_weak_types(expected)}"
        )
        assert jf.trace_count == 1, f"check_jit: traced {jf.trace_count} times on the first call"
        again = jf(*args)
        again_fresh = jf(*_fresh_copies(args))
        assert jf.trace_count == 1, (
            f"check_jit: the second call with the same shapes and dtypes traced again "
            f"(trace_count={jf.trace_count})"
        )
        assert_close(again, expected, atol=atol, rtol=rtol, err_msg="check_jit: second call")
        assert_close(again_fresh, expected, atol=atol, rtol=rtol, err_msg="check_jit: new args")


# --------------------------------------------------------------------------- check_batching


def _axes_per_arg(in_axes, nargs):
    if in_axes is None or isinstance(in_axes, int):
        return [in_axes] * nargs
    in_axes = list(in_axes)
    assert len(in_axes) == nargs, "check_batching: one in_axes entry per argument"
    return in_axes


def _take(x, i, axis):
    return np.take(np.asarray(x), i, axis=axis)


def check_batching(f, args, in_axes=0, *, atol=None, rtol=None, empty=True, move_axes=True):
    """``vmap(f, in_axes)`` equals a Python loop over the mapped axis.

    Args:
        f: the function of unbatched arguments.
        args: NumPy arrays; those with an int ``in_axes`` entry carry the batch axis there.
        in_axes: an int, None, or one int/None per argument (arrays only, no pytrees).
        empty: also run a batch of size 0 and check the output shapes and dtypes.
        move_axes: also run with each mapped axis moved to the end (given as a negative
            axis) and with ``out_axes=-1``.
    """
    args = tuple(np.asarray(a) for a in args)
    axes = _axes_per_arg(in_axes, len(args))
    sizes = {a.shape[d] for a, d in zip(args, axes, strict=True) if d is not None}
    assert len(sizes) == 1, f"check_batching: mapped axes have sizes {sizes}"
    (size,) = sizes
    assert size > 0, "check_batching: give a non-empty batch; the empty one is derived"
    examples = []
    for i in range(size):
        ex = [a if d is None else _take(a, i, d) for a, d in zip(args, axes, strict=True)]
        examples.append(to_numpy(f(*to_derivax(ex))))
    first_leaves, out_tree = dx.tree.flatten(examples[0])
    stacked = [np.stack([_leaves(e)[k] for e in examples]) for k in range(len(first_leaves))]
    expected = dx.tree.unflatten(out_tree, stacked)

    out = dx.vmap(f, in_axes=tuple(axes))(*to_derivax(args))
    assert_close(out, expected, atol=atol, rtol=rtol, err_msg=f"check_batching in_axes={axes}")

    if move_axes:
        moved = [a if d is None else np.moveaxis(a, d, -1) for a, d in zip(args, axes, strict=True)]
        neg_axes = tuple(None if d is None else -1 for d in axes)
        out = dx.vmap(f, in_axes=neg_axes, out_axes=-1)(*to_derivax(moved))
        exp_moved = dx.tree.map(lambda e: np.moveaxis(e, 0, -1), expected)
        assert_close(
            out,
            exp_moved,
            atol=atol,
            rtol=rtol,
            err_msg=f"check_batching in_axes={neg_axes}, out_axes=-1",
        )

    if empty:
        empty_args = [
            a if d is None else np.take(a, np.arange(0), axis=d)
            for a, d in zip(args, axes, strict=True)
        ]
        out = dx.vmap(f, in_axes=tuple(axes))(*to_derivax(empty_args))
        out_leaves, tree0 = dx.tree.flatten(out)
        assert tree0 == out_tree, "check_batching: empty batch changed the output structure"
        for o, e in zip(out_leaves, first_leaves, strict=True):
            assert o.shape == (0, *np.shape(e)), (
                f"check_batching: empty batch gave shape {o.shape}, expected (0, *{np.shape(e)})"
            )
            assert o.dtype == np.asarray(e).dtype, (
                f"check_batching: empty batch gave dtype {o.dtype}, expected {np.asarray(e).dtype}"
            )


# --------------------------------------------------------------------------- check_grads


def _random_like(rng, tree, zero_ints=True):
    """A random tree with ``tree``'s structure: normal floats, zero integers/bools."""

    def make(x):
        v = np.asarray(x)
        if is_float(v.dtype):
            r = rng.standard_normal(v.shape)
            if v.dtype.kind == "c":
                r = r + 1j * rng.standard_normal(v.shape)
            return dnp.asarray(r.astype(v.dtype))
        return dnp.asarray(np.zeros(v.shape, v.dtype))

    return dx.tree.map(make, tree)


def _shift(args, tangents, step):
    """``args + step * tangents`` on the inexact leaves, in each leaf's dtype."""

    def move(x, t):
        v = np.asarray(x)
        if not is_float(v.dtype):
            return x
        wide = C128 if v.dtype.kind == "c" else F64
        return dnp.asarray((v.astype(wide) + step * np.asarray(t).astype(wide)).astype(v.dtype))

    return dx.tree.map(move, args, tangents)


def numerical_jvp(f, args, tangents, eps):
    """Central differences of ``f`` at ``args`` along ``tangents`` (float64 NumPy leaves)."""
    hi = f(*_shift(args, tangents, eps))
    lo = f(*_shift(args, tangents, -eps))

    def diff(h, l):
        h, l = np.asarray(h), np.asarray(l)
        wide = C128 if h.dtype.kind == "c" else F64
        return (h.astype(wide) - l.astype(wide)) / (2 * eps)

    return dx.tree.map(diff, hi, lo)


def _inner(xs, ys):
    """Sum of elementwise products over the inexact leaves, and the sum of magnitudes."""
    total, scale = 0.0, 0.0
    for x, y in zip(_leaves(xs), _leaves(ys), strict=True):
        xv, yv = np.asarray(x), np.asarray(y)
        if not (is_float(xv.dtype) and is_float(yv.dtype)):
            continue
        prod = xv.astype(C128 if xv.dtype.kind == "c" else F64) * np.conj(
            yv.astype(C128 if yv.dtype.kind == "c" else F64)
        )
        total += np.sum(prod).real
        scale += np.sum(np.abs(prod))
    return total, scale


def _grad_tols(args, out, atol, rtol, eps):
    dtypes = [_dtype(x) for x in _leaves(args) + _leaves(out)]
    tol = _least_precise(dtypes, GRAD_TOL)
    # The step must be large enough for the least precise input *or output*: a float16
    # output rounds away any difference smaller than its spacing.
    step = _least_precise(dtypes, GRAD_EPS)
    return (
        (tol if atol is None else atol),
        (tol if rtol is None else rtol),
        (step if eps is None else eps),
    )


def _check_jvp(f, args, rng, atol, rtol, eps, what):
    tangents = _random_like(rng, args)
    y, t = dx.jvp(f, args, tangents)
    atol, rtol, eps = _grad_tols(args, y, atol, rtol, eps)
    assert_close(y, f(*args), err_msg=f"{what}: primal output of jvp differs from f")
    t_num = numerical_jvp(f, args, tangents, eps)
    for i, (ti, yi, ni) in enumerate(zip(_leaves(t), _leaves(y), _leaves(t_num), strict=True)):
        ti = np.asarray(ti)
        assert ti.shape == np.shape(yi), f"{what}: tangent {i} has shape {ti.shape}"
        if not is_float(_dtype(yi)):
            assert not np.any(ti), f"{what}: integer output {i} has a nonzero tangent"
            continue
        assert ti.dtype == _dtype(yi), (
            f"{what}: tangent {i} has dtype {ti.dtype}, its output {_dtype(yi)}"
        )
        np.testing.assert_allclose(
            ti.astype(np.result_type(ti.dtype, F64)),
            ni,
            atol=atol,
            rtol=rtol,
            err_msg=f"{what}: JVP (forward mode) disagrees with central differences (output {i})",
        )


def _check_vjp(f, args, rng, atol, rtol, eps, what):
    y, f_vjp = dx.vjp(f, *args)
    atol, rtol, eps = _grad_tols(args, y, atol, rtol, eps)
    assert_close(y, f(*args), err_msg=f"{what}: primal output of vjp differs from f")
    ct = _random_like(rng, y)
    ct_in = f_vjp(ct)
    assert isinstance(ct_in, tuple) and len(ct_in) == len(args), (
        f"{what}: vjp returned {type(ct_in).__name__} of length {len(ct_in)} for {len(args)} args"
    )
    for i, (c, a) in enumerate(zip(_leaves(ct_in), _leaves(args), strict=True)):
        if is_float(_dtype(a)):
            assert np.shape(c) == np.shape(a) and _dtype(c) == _dtype(a), (
                f"{what}: cotangent {i} is {_dtype(c)}{list(np.shape(c))}, its input "
                f"{_dtype(a)}{list(np.shape(a))}"
            )
    tangents = _random_like(rng, args)
    t_out = numerical_jvp(f, args, tangents, eps)
    ip, ip_scale = _inner(tangents, ct_in)
    ip_expected, exp_scale = _inner(t_out, ct)
    bound = atol * max(1.0, ip_scale, exp_scale) + rtol * abs(ip_expected)
    assert abs(ip - ip_expected) <= bound, (
        f"{what}: VJP (reverse mode) fails the inner-product identity: "
        f"<J^T ct, t> = {ip!r} but <ct, J t> = {ip_expected!r} (|diff| "
        f"{abs(ip - ip_expected):.3g} > {bound:.3g})"
    )


def _check_grads(f, args, order, modes, rng, atol, rtol, eps, what):
    if "fwd" in modes:
        _check_jvp(f, args, rng, atol, rtol, eps, f"{what}fwd")
        if order > 1:
            tangents = _random_like(rng, args)

            def f_jvp(primals, tangents):
                return dx.jvp(f, tuple(primals), tuple(tangents))

            _check_grads(f_jvp, (args, tangents), order - 1, modes, rng, atol, rtol, eps,
                         f"{what}fwd/")  # fmt: skip
    if "rev" in modes:
        _check_vjp(f, args, rng, atol, rtol, eps, f"{what}rev")
        if order > 1:

            def f_vjp(*primals):
                # The cotangent is the output itself, so f_vjp is not linear in primals.
                y, pullback = dx.vjp(f, *primals)
                return pullback(y)

            _check_grads(f_vjp, args, order - 1, modes, rng, atol, rtol, eps, f"{what}rev/")


def check_grads(f, args, order=2, modes=("fwd", "rev"), atol=None, rtol=None, eps=None, *,
                x64=True, seed=0):  # fmt: skip
    """Check ``f``'s derivatives numerically, forward and reverse, up to ``order``.

    Args:
        f: the function; its arguments and outputs may be pytrees of arrays.
        args: the point (a sequence of arguments, NumPy arrays or derivax Arrays).
        order: the highest derivative order checked (the jvp and vjp functions of ``f``
            are themselves checked, recursively).
        modes: ``"fwd"`` (JVP vs central differences) and/or ``"rev"`` (VJP by the
            inner-product identity against central differences).
        atol, rtol: tolerances; default from ``GRAD_TOL`` for the least precise dtype.
        eps: the central-difference step; default from ``GRAD_EPS``.
        x64: run the check in 64-bit precision (16/32-bit float arguments are upcast
            under ``enable_x64``), which makes central differences accurate.
        seed: seeds the random directions and cotangents.

    Raises:
        AssertionError: naming the mode and order (``fwd``, ``rev``, ``fwd/rev``, ...) of
            the failed check.
    """
    modes = tuple(modes)
    assert modes and set(modes) <= {"fwd", "rev"}, f"check_grads: bad modes {modes}"
    rng = np.random.default_rng(seed)
    ctx = dx.config.context(enable_x64=True) if x64 else contextlib.nullcontext()
    with ctx:
        args = to_derivax(tuple(args), upcast=x64)
        _check_grads(f, args, order, modes, rng, atol, rtol, eps, "check_grads ")
