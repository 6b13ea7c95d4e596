"""``scan`` and ``map``: the ``scan`` primitive, a loop over the leading axis of arrays.

``scan_p`` takes ``[*consts, *init_carry, *xs]``; its ``body_ir`` maps
``[*consts, *carry, *x_slices]`` to ``[*new_carry, *y_slices]`` and the outputs are the
final carry and the stacked ``ys``.

Rules:

* impl: a Python loop evaluating the body on each slice.
* jvp: the jvp of the body is split by partial evaluation into a primal body, which also
  emits the residuals the tangents need (stacked per iteration, like ``ys``), and a tangent
  body linear in the tangents. The rule binds a primal scan and a separate tangent scan.
  Residuals computed from the constants alone are hoisted out of the loop, and residuals
  that are slices of ``xs`` are read from ``xs`` itself instead of being copied.
* transpose (of the tangent scan): a scan in the opposite direction whose carry holds
  the cotangent of the carry and the accumulated cotangents of the linear constants.
* batching: batched constants, carries and ``xs`` (the carry becomes batched when the
  body makes it depend on batched values).
"""

from __future__ import annotations

import numpy as np

from .. import tree as tree_util
from .._ad_util import Zero, add_tangents, instantiate, is_undefined
from .._config import config
from .._core import Primitive, ShapedArray, get_aval
from .._ir import IR, ClosedIR, Var, _prune
from . import _structural as S
from ._cf_util import (
    arg_names_of,
    as_operand,
    backward_ir,
    batch_ir,
    check_carry,
    closed_ir,
    describe,
    eval_closed,
    jvp_ir,
    partial_eval_jvp,
    permute_invars,
    promote_weak_inputs,
    to_array,
    trace_user,
    zeros,
)
from ._util import is_inexact, val, weak, wrap

__all__ = ["map", "scan"]

# --------------------------------------------------------------------------- the primitive


def _split3(xs, n1, n2):
    return list(xs[:n1]), list(xs[n1 : n1 + n2]), list(xs[n1 + n2 :])


def _scan_impl(*args, body_ir, num_consts, num_carry, length, reverse, unroll):
    consts, carry, xs = _split3(args, num_consts, num_carry)
    xs_np = [val(x) for x in xs]
    xs_weak = [weak(x) for x in xs]
    out_avals = body_ir.ir.out_avals
    carry_avals = [get_aval(c) for c in carry]
    y_avals = out_avals[num_carry:]
    ys = [[] for _ in y_avals]
    steps = range(length - 1, -1, -1) if reverse else range(length)
    for i in steps:
        x_i = [wrap(np.asarray(x[i]), w) for x, w in zip(xs_np, xs_weak, strict=True)]
        outs = eval_closed(body_ir, *consts, *carry, *x_i)
        carry = [to_array(o, a) for o, a in zip(outs[:num_carry], carry_avals, strict=True)]
        for acc, y, a in zip(ys, outs[num_carry:], y_avals, strict=True):
            acc.append(to_array(y, a)._value)
    if reverse:
        for acc in ys:
            acc.reverse()
    stacked = [
        wrap(np.stack(acc) if acc else np.zeros((0, *a.shape), a.dtype), a.weak_type)
        for acc, a in zip(ys, y_avals, strict=True)
    ]
    return [*carry, *stacked]


def _scan_abstract_eval(*avals, body_ir, num_consts, num_carry, length, reverse, unroll):
    consts, carry, xs = _split3(avals, num_consts, num_carry)
    expected = [*consts, *carry, *(ShapedArray(a.shape[1:], a.dtype) for a in xs)]
    got = body_ir.ir.in_avals
    bad_x = [a for a in xs if not a.shape or a.shape[0] != length]
    if (
        bad_x
        or len(got) != len(expected)
        or any((g.shape, g.dtype) != (e.shape, e.dtype) for g, e in zip(got, expected, strict=True))
    ):
        raise TypeError(
            f"scan: operands ({', '.join(a.str_short() for a in avals)}) with length={length} "
            f"do not match the body's inputs ({', '.join(a.str_short() for a in got)})."
        )
    ys = [
        ShapedArray((length, *a.shape), a.dtype, a.weak_type)
        for a in body_ir.ir.out_avals[num_carry:]
    ]
    return [*carry, *ys]


def _invariant_vars(ir: IR, n_consts):
    """Variables of ``ir`` that depend only on its first ``n_consts`` inputs."""
    inv = set(ir.constvars) | set(ir.invars[:n_consts])
    for eqn in ir.eqns:
        if all(not isinstance(x, Var) or x in inv for x in eqn.inputs):
            inv.update(eqn.outputs)
    return inv


def _scan_jvp(primals, tangents, *, body_ir, num_consts, num_carry, length, reverse, unroll):
    nc, nk = num_consts, num_carry
    nx = len(primals) - nc - nk
    n_out = len(body_ir.ir.outvars)
    nz = [
        type(t) is not Zero and is_inexact(get_aval(p).dtype)
        for p, t in zip(primals, tangents, strict=True)
    ]
    const_nz, carry_nz, xs_nz = _split3(nz, nc, nk)
    # Which carries have nonzero tangents: a fixed point over the body.
    while True:
        jvp_body, out_nz = jvp_ir(
            body_ir, const_nz + carry_nz + xs_nz, carry_nz + [False] * (n_out - nk)
        )
        new = [a or b for a, b in zip(carry_nz, out_nz[:nk], strict=True)]
        if new == carry_nz:
            break
        carry_nz = new
    ys_nz = out_nz[nk:]
    forwardable = [True] * nc + [False] * nk + [True] * nx
    sp = partial_eval_jvp(jvp_body, body_ir, forwardable)

    # Residuals that depend on the constants only are computed once, outside the loop.
    known = sp.known.ir
    inv = _invariant_vars(known, nc)
    res_vars = known.outvars[n_out:]
    hoisted = [isinstance(r, Var) and r in inv for r in res_vars]
    consts, init, xs = _split3(primals, nc, nk)
    hoist_ir = _prune(
        IR(
            known.constvars,
            known.invars[:nc],
            [r for r, h in zip(res_vars, hoisted, strict=True) if h],
            known.eqns,
        )
    )
    hoisted_vals = eval_closed(ClosedIR(hoist_ir, sp.known.consts), *consts)
    stacked_outs = [r for r, h in zip(res_vars, hoisted, strict=True) if not h]
    primal_body = ClosedIR(
        _prune(IR(known.constvars, known.invars, known.outvars[:n_out] + stacked_outs, known.eqns)),
        sp.known.consts,
        body_ir.name,
    )
    outs = scan_p.bind(
        *primals,
        body_ir=primal_body,
        num_consts=nc,
        num_carry=nk,
        length=length,
        reverse=reverse,
        unroll=unroll,
    )
    primal_out, stacked = outs[:n_out], outs[n_out:]
    if not any(carry_nz) and not any(ys_nz):
        return primal_out, [Zero.like(p) for p in primal_out]

    # The tangent scan is the unknown body with its inputs reordered: consts are the
    # loop-invariant residuals (hoisted values, forwarded consts) and the const tangents,
    # the carry is the carry tangents, xs are the per-step residuals (stacked by the
    # primal scan, or forwarded slices of xs) and the xs tangents.
    by_k = {}
    it_h, it_s = iter(hoisted_vals), iter(stacked)
    for k, h in enumerate(hoisted):
        by_k[k] = (next(it_h), True) if h else (next(it_s), False)
    res = [(primals[k], k < nc) if kind == "in" else by_k[k] for kind, k in sp.res_src]
    t_c, t_k, t_x = _split3(tangents, nc, nk)
    tan_c = [instantiate(t) for t, z in zip(t_c, const_nz, strict=True) if z]
    tan_k = [instantiate(t) for t, z in zip(t_k, carry_nz, strict=True) if z]
    tan_x = [instantiate(t) for t, z in zip(t_x, xs_nz, strict=True) if z]
    n_r, n_tc, n_tk = len(res), len(tan_c), len(tan_k)
    const_res = [i for i, (_, c) in enumerate(res) if c]
    step_res = [i for i, (_, c) in enumerate(res) if not c]
    order = (
        const_res
        + list(range(n_r, n_r + n_tc + n_tk))
        + step_res
        + list(range(n_r + n_tc + n_tk, n_r + n_tc + n_tk + len(tan_x)))
    )
    t_outs = scan_p.bind(
        *(res[i][0] for i in const_res),
        *tan_c,
        *tan_k,
        *(res[i][0] for i in step_res),
        *tan_x,
        body_ir=permute_invars(sp.unknown, order),
        num_consts=len(const_res) + n_tc,
        num_carry=n_tk,
        length=length,
        reverse=reverse,
        unroll=unroll,
    )
    it = iter(t_outs)
    tangent_out = [
        next(it) if z else Zero.like(p) for p, z in zip(primal_out, carry_nz + ys_nz, strict=True)
    ]
    return primal_out, tangent_out


def _scan_transpose(cts, *args, body_ir, num_consts, num_carry, length, reverse, unroll):
    nc, nk = num_consts, num_carry
    consts, carry, xs = _split3(args, nc, nk)
    c_lin = [is_undefined(c) for c in consts]
    x_lin = [is_undefined(x) for x in xs]
    # The carries of a tangent scan are all tangents; one that is a known value here is
    # an instantiated zero tangent, so it is transposed as linear and its cotangent dropped.
    k_lin = [is_undefined(c) for c in carry]
    k_consts = [c for c, lin in zip(consts, c_lin, strict=True) if not lin]
    k_xs = [x for x, lin in zip(xs, x_lin, strict=True) if not lin]
    avals_in = body_ir.ir.in_avals
    lin_c_avals = [a.strip_weak_type() for a, lin in zip(avals_in[:nc], c_lin, strict=True) if lin]
    carry_avals = [a.strip_weak_type() for a in avals_in[nc : nc + nk]]
    ct_carry = [instantiate(c) for c in cts[:nk]]
    # Symbolic-zero cotangents of ys stay symbolic inside the body (no stacked zeros).
    ys_zero = [type(c) is Zero for c in cts[nk:]]
    ct_ys = [c for c in cts[nk:] if type(c) is not Zero]
    y_avals = [a.strip_weak_type() for a in body_ir.ir.out_avals[nk:]]
    linear = c_lin + [True] * nk + x_lin
    n_kc, n_acc, n_kx = len(k_consts), len(lin_c_avals), len(k_xs)

    def body_t(*a):
        kc = a[:n_kc]
        acc = a[n_kc : n_kc + n_acc]
        ctc = a[n_kc + n_acc : n_kc + n_acc + nk]
        kx = a[n_kc + n_acc + nk : n_kc + n_acc + nk + n_kx]
        it_y = iter(a[n_kc + n_acc + nk + n_kx :])
        cty = [Zero(y) if z else next(it_y) for y, z in zip(y_avals, ys_zero, strict=True)]
        known = []
        ikc, ikx = iter(kc), iter(kx)
        for i, lin in enumerate(linear):
            if not lin:
                known.append(next(ikc) if i < nc else next(ikx))
        ct_in = backward_ir(body_ir, linear, known, [*ctc, *cty])
        ct_c, ct_k, ct_x = _split3(ct_in, n_acc, nk)
        acc = [add_tangents(s, c) for s, c in zip(acc, ct_c, strict=True)]
        return [*acc, *ct_k, *ct_x]

    t_body = closed_ir(
        body_t,
        [
            *(get_aval(c) for c in k_consts),
            *lin_c_avals,
            *carry_avals,
            *(ShapedArray(get_aval(x).shape[1:], get_aval(x).dtype) for x in k_xs),
            *(ShapedArray(get_aval(c).shape[1:], get_aval(c).dtype) for c in ct_ys),
        ],
        body_ir.name,
    )
    outs = scan_p.bind(
        *k_consts,
        *(zeros(a) for a in lin_c_avals),
        *ct_carry,
        *k_xs,
        *ct_ys,
        body_ir=t_body,
        num_consts=n_kc,
        num_carry=n_acc + nk,
        length=length,
        reverse=not reverse,
        unroll=unroll,
    )
    ct_consts, ct_init, ct_xs = _split3(outs, n_acc, nk)
    ic, ix = iter(ct_consts), iter(ct_xs)
    return (
        [next(ic) if lin else None for lin in c_lin]
        + [c if lin else None for c, lin in zip(ct_init, k_lin, strict=True)]
        + [next(ix) if lin else None for lin in x_lin]
    )


def _scan_batch_with_axis(
    payload, vals, dims, *, body_ir, num_consts, num_carry, length, reverse, unroll
):
    size, axis_name = payload
    nc, nk = num_consts, num_carry
    n_out = len(body_ir.ir.outvars)
    c_b, k_b, x_b = _split3([d is not None for d in dims], nc, nk)
    while True:
        body, out_b = batch_ir(
            body_ir, c_b + k_b + x_b, k_b + [False] * (n_out - nk), size, axis_name
        )
        new = [a or b for a, b in zip(k_b, out_b[:nk], strict=True)]
        if new == k_b:
            break
        k_b = new
    consts, carry, xs = _split3(list(vals), nc, nk)
    c_d, k_d, x_d = _split3(list(dims), nc, nk)
    consts = [c if d is None else S.moveaxis(c, d, 0) for c, d in zip(consts, c_d, strict=True)]
    carry = [
        S.bdim_to_front(c, d, size) if b else c for c, d, b in zip(carry, k_d, k_b, strict=True)
    ]
    xs = [x if d is None else S.moveaxis(x, d, 1) for x, d in zip(xs, x_d, strict=True)]
    outs = scan_p.bind(
        *consts,
        *carry,
        *xs,
        body_ir=body,
        num_consts=nc,
        num_carry=nk,
        length=length,
        reverse=reverse,
        unroll=unroll,
    )
    return outs, [0 if b else None for b in k_b] + [1 if b else None for b in out_b[nk:]]


def _scan_batch(vals, dims, **params):
    size = next(get_aval(v).shape[d] for v, d in zip(vals, dims, strict=True) if d is not None)
    return _scan_batch_with_axis((size, None), vals, dims, **params)


scan_p = Primitive("scan", multiple_results=True)
scan_p.impl = _scan_impl
scan_p.abstract_eval = _scan_abstract_eval
scan_p.jvp = _scan_jvp
scan_p.transpose = _scan_transpose
# Transposable in the tangent instances its jvp rule binds (linear in their tangent operands).
scan_p.linear = True
scan_p.batch = _scan_batch
scan_p.batch_with_axis = _scan_batch_with_axis


# --------------------------------------------------------------------------- public API


def _check_unroll(unroll, length):
    if isinstance(unroll, bool):
        return max(length, 1) if unroll else 1
    if isinstance(unroll, (int, np.integer)) and unroll >= 0:
        return int(unroll)
    raise TypeError(f"scan: unroll must be a non-negative int or a bool, got {unroll!r}.")


def _scan_length(xs_flat, xs_tree, length):
    paths = arg_names_of([("xs", xs_tree)])
    sizes = []
    for p, x in zip(paths, xs_flat, strict=True):
        shape = get_aval(x).shape
        if not shape:
            raise ValueError(
                f"scan: {p} is a scalar ({get_aval(x).str_short()}); every leaf of xs needs a "
                "leading axis to scan over. Pass a constant through the closure instead."
            )
        sizes.append(shape[0])
    if length is not None:
        try:
            length = int(length)
        except TypeError:
            raise TypeError(f"scan: length must be a Python int, got {length!r}.") from None
        if length < 0:
            raise ValueError(f"scan: length must be non-negative, got {length}.")
    if not sizes:
        if length is None:
            raise ValueError(
                "scan: xs has no arrays, so the number of iterations is unknown; pass it "
                "with length=."
            )
        return length
    if len(set(sizes)) != 1 or (length is not None and sizes[0] != length):
        listing = ", ".join(f"{p} has {n}" for p, n in zip(paths, sizes, strict=True))
        given = f" and length={length}" if length is not None else ""
        raise ValueError(
            f"scan: all leaves of xs must have the same leading axis size{given}, but {listing}."
        )
    return sizes[0]


def _scan_python(f, init, xs, length, reverse):
    from .. import numpy as dnp

    carry, ys = init, []
    steps = range(length - 1, -1, -1) if reverse else range(length)
    for i in steps:
        x = tree_util.map(lambda a, i=i: a[i], xs)
        carry, y = f(carry, x)
        ys.append(y)
    if reverse:
        ys.reverse()
    if not ys:
        raise ValueError("scan with disable_jit needs at least one iteration to stack ys.")
    return carry, tree_util.map(lambda *a: dnp.stack(a), *ys)


def scan(f, init, xs=None, length=None, reverse=False, unroll=1, _split_transpose=False):
    """Loop ``f`` over the leading axis of ``xs`` while carrying a state.

    Semantically::

        def scan(f, init, xs, length=None):
            carry, ys = init, []
            for x in xs:            # or reversed(xs) with reverse=True
                carry, y = f(carry, x)
                ys.append(y)
            return carry, stack(ys)

    ``init``, ``xs`` and the outputs may be pytrees. The loop is one primitive: under
    ``jit`` it is a single equation holding the body, it is differentiable in forward and
    reverse mode (the backward pass is a reverse scan), and it batches under ``vmap``.

    Args:
        f: ``f(carry, x) -> (new_carry, y)``; ``new_carry`` must have the structure,
            shapes and dtypes of ``carry`` (a weakly typed Python-scalar ``init`` adopts
            the dtype ``f`` returns).
        init: the initial carry.
        xs: arrays to scan over along their leading axis (a pytree), or None.
        length: the number of iterations; required when ``xs`` is None, else checked.
        reverse: iterate from the last index to the first (``ys`` keep ``xs``'s order).
        unroll: accepted for compatibility (a non-negative int or a bool); a hint for the
            compiler, it never changes results.
        _split_transpose: accepted and ignored.

    Returns:
        ``(final_carry, ys)`` where each leaf of ``ys`` has a leading axis of ``length``.

    Raises:
        TypeError: ``f`` does not return a pair, or its carry's structure, shapes or
            dtypes differ from ``init`` (the message names the leaves).
        ValueError: the leaves of ``xs`` disagree on their leading size or with
            ``length``, or neither gives the number of iterations.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> from derivax import lax
        >>> def cumsum(xs):
        ...     return lax.scan(lambda c, x: (c + x, c + x), 0.0, xs)
        >>> total, partial = cumsum(dnp.arange(1.0, 5.0))
        >>> total, partial
        (Array(10., dtype=float32), Array([ 1.,  3.,  6., 10.], dtype=float32))
        >>> derivax.grad(lambda xs: cumsum(xs)[1].sum())(dnp.ones(4))
        Array([4., 3., 2., 1.], dtype=float32)
    """
    del _split_transpose
    return _scan(f, init, xs, length, reverse, unroll)


def _scan(f, init, xs, length, reverse, unroll, *, api="scan", what="f", rename=None):
    if not callable(f):
        raise TypeError(f"{api}: {what} must be callable, got {type(f).__name__}.")
    init_flat, init_tree = tree_util.flatten(init)
    xs_flat, xs_tree = tree_util.flatten(xs)
    init_flat = [as_operand(x) for x in init_flat]
    xs_flat = [as_operand(x) for x in xs_flat]
    length = _scan_length(xs_flat, xs_tree, length)
    unroll = _check_unroll(unroll, length)
    if config.disable_jit and length > 0:
        return _scan_python(f, tree_util.unflatten(init_tree, init_flat), xs, length, reverse)
    x_avals = [
        ShapedArray(get_aval(x).shape[1:], get_aval(x).dtype, get_aval(x).weak_type)
        for x in xs_flat
    ]
    arg_names = arg_names_of([("carry", init_tree), ("x", xs_tree)])
    if rename is not None:
        arg_names = [rename(n) for n in arg_names]
    nk = len(init_flat)

    box = []
    for _ in range(3):

        def flat(*args):
            carry = tree_util.unflatten(init_tree, list(args[:nk]))
            x = tree_util.unflatten(xs_tree, list(args[nk:]))
            out = f(carry, x)
            if not (isinstance(out, (tuple, list)) and len(out) == 2):
                raise TypeError(
                    f"{api}: {what} must return a pair (new_carry, y), got {describe(out)}. "
                    "Return (carry, None) when there is no per-step output."
                )
            c_leaves, c_tree = tree_util.flatten(out[0])
            y_leaves, y_tree = tree_util.flatten(out[1])
            box[:] = [c_tree, y_tree, len(c_leaves)]
            return [*c_leaves, *y_leaves]

        closed, consts = trace_user(
            flat,
            [get_aval(x) for x in init_flat] + x_avals,
            arg_names=arg_names,
            name=getattr(f, "__name__", "f"),
            api=api,
        )
        c_tree, y_tree, n_c = box
        out_avals = closed.ir.out_avals
        if c_tree != init_tree:
            break
        init_flat, changed = promote_weak_inputs(init_flat, out_avals[:n_c])
        if not changed:
            break
    check_carry(
        api,
        init_tree,
        c_tree,
        [get_aval(x) for x in init_flat],
        out_avals[:n_c],
        what=what,
        rename=rename,
    )
    outs = scan_p.bind(
        *consts,
        *init_flat,
        *xs_flat,
        body_ir=closed,
        num_consts=len(consts),
        num_carry=nk,
        length=length,
        reverse=bool(reverse),
        unroll=unroll,
    )
    return tree_util.unflatten(init_tree, outs[:nk]), tree_util.unflatten(y_tree, outs[nk:])


def map(f, xs, *, batch_size=None):  # noqa: A001 - mirrors lax.map
    """Apply ``f`` to every slice of ``xs`` along its leading axis and stack the results.

    Like ``derivax.vmap(f)(xs)`` in result, but computed one slice (or one batch of
    ``batch_size`` slices) at a time by a ``scan``, which bounds the memory used.

    Args:
        f: a function of one slice (a pytree of arrays without the leading axis).
        xs: the arrays to map over (a pytree; all leaves share the leading size).
        batch_size: if given, ``f`` is applied with ``vmap`` to batches of this many
            slices (the remainder as one smaller batch).

    Returns:
        The stacked outputs of ``f``.

    Raises:
        ValueError: ``batch_size`` is not a positive int, or ``xs`` is inconsistent.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> lax.map(lambda row: row.sum(), dnp.arange(6.0).reshape(3, 2))
        Array([1., 5., 9.], dtype=float32)
    """
    if not callable(f):
        raise TypeError(f"map: f must be callable, got {type(f).__name__}.")
    if batch_size is None:
        return scan(lambda _, x: ((), f(x)), (), xs)[1]
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, (int, np.integer))
        or batch_size < 1
    ):
        raise ValueError(f"map: batch_size must be a positive int, got {batch_size!r}.")
    from .._api import vmap

    leaves, tree = tree_util.flatten(xs)
    leaves = [as_operand(x) for x in leaves]
    n = _scan_length(leaves, tree, None)
    n_main = (n // batch_size) * batch_size
    parts = []
    if n_main:
        main = [
            S.reshape(
                S.slice_in_dim(x, 0, n_main),
                (n_main // batch_size, batch_size, *get_aval(x).shape[1:]),
            )
            for x in leaves
        ]
        ys = scan(lambda _, x: ((), vmap(f)(x)), (), tree_util.unflatten(tree, main))[1]
        parts.append(tree_util.map(lambda y: S.reshape(y, (n_main, *get_aval(y).shape[2:])), ys))
    if n_main < n:
        rest = [S.slice_in_dim(x, n_main, n) for x in leaves]
        parts.append(vmap(f)(tree_util.unflatten(tree, rest)))
    if len(parts) == 1:
        return parts[0]
    return tree_util.map(lambda a, b: S.concatenate([a, b], 0), *parts)
