"""``while_loop`` and ``fori_loop``: the ``while`` primitive.

``while_p`` takes ``[*cond_consts, *body_consts, *init]``; ``cond_ir`` maps
``[*cond_consts, *carry]`` to one bool scalar and ``body_ir`` maps
``[*body_consts, *carry]`` to the new carry.

Rules: the impl is a Python loop. The jvp runs one loop over primal and tangent carries
(forward mode works). Reverse mode cannot work: the number of iterations is only known at
run time, so the per-iteration values the backward pass needs cannot be stored. There is
deliberately no transpose rule; ``no_rule_reasons["transpose"]`` says why and points to
``scan`` and to ``fori_loop`` with static bounds, which lowers to ``scan``. Under ``vmap`` a batched predicate keeps
the loop running until every example stops, and examples that stopped keep their carry.
"""

from __future__ import annotations

import numpy as np

from .. import _dtypes
from .. import tree as tree_util
from .._ad_util import Zero, instantiate
from .._array import Array
from .._config import config
from .._core import Primitive, Tracer, get_aval
from .._ir import IR, ClosedIR, Eqn, Var
from . import _elementwise as E
from . import _structural as S
from ._cf_util import (
    PE_RULES,
    arg_names_of,
    as_operand,
    batch_ir,
    check_carry,
    closed_ir,
    eval_closed,
    eval_concrete,
    fresh_eqn_outputs,
    jvp_ir,
    permute_invars,
    promote_weak_inputs,
    restrict,
    to_array,
    top_level,
    trace_user,
    unknown_outputs,
)
from ._scan import _scan
from ._util import is_inexact, val

__all__ = ["fori_loop", "while_loop"]

# --------------------------------------------------------------------------- the primitive


def _split3(xs, n1, n2):
    return list(xs[:n1]), list(xs[n1 : n1 + n2]), list(xs[n1 + n2 :])


def _while_impl(*args, cond_ir, body_ir, cond_nconsts, body_nconsts):
    cc, bc, carry = _split3(args, cond_nconsts, body_nconsts)
    avals = [get_aval(c) for c in carry]
    while bool(val(eval_concrete(cond_ir, *cc, *carry)[0])):
        carry = [
            to_array(o, a) for o, a in zip(eval_closed(body_ir, *bc, *carry), avals, strict=True)
        ]
    return carry


def _while_abstract_eval(*avals, cond_ir, body_ir, cond_nconsts, body_nconsts):
    cc, bc, carry = _split3(avals, cond_nconsts, body_nconsts)
    for name, ir, ins in (("cond", cond_ir, cc + carry), ("body", body_ir, bc + carry)):
        got = ir.ir.in_avals
        if len(got) != len(ins) or any(
            (g.shape, g.dtype) != (e.shape, e.dtype) for g, e in zip(got, ins, strict=True)
        ):
            raise TypeError(
                f"while: operands ({', '.join(a.str_short() for a in ins)}) do not match the "
                f"{name} program's inputs ({', '.join(a.str_short() for a in got)})."
            )
    return list(carry)


def _while_jvp(primals, tangents, *, cond_ir, body_ir, cond_nconsts, body_nconsts):
    ncc, nbc = cond_nconsts, body_nconsts
    cc, bc, init = _split3(primals, ncc, nbc)
    _, t_bc, t_init = _split3(tangents, ncc, nbc)
    nk = len(init)
    bc_nz = [
        type(t) is not Zero and is_inexact(get_aval(p).dtype) for p, t in zip(bc, t_bc, strict=True)
    ]
    carry_nz = [
        type(t) is not Zero and is_inexact(get_aval(p).dtype)
        for p, t in zip(init, t_init, strict=True)
    ]
    while True:
        jbody, out_nz = jvp_ir(body_ir, bc_nz + carry_nz, carry_nz)
        new = [a or b for a, b in zip(carry_nz, out_nz, strict=True)]
        if new == carry_nz:
            break
        carry_nz = new
    if not any(carry_nz):
        outs = while_p.bind(
            *primals, cond_ir=cond_ir, body_ir=body_ir, cond_nconsts=ncc, body_nconsts=nbc
        )
        return outs, [Zero.like(o) for o in outs]
    n_bt, n_kt = sum(bc_nz), sum(carry_nz)
    # jvp inputs are [bc, carry, bc tangents, carry tangents]; the while needs
    # [bc, bc tangents, carry, carry tangents].
    order = (
        list(range(nbc))
        + list(range(nbc + nk, nbc + nk + n_bt))
        + list(range(nbc, nbc + nk))
        + list(range(nbc + nk + n_bt, nbc + nk + n_bt + n_kt))
    )
    jbody = permute_invars(jbody, order)
    cir = cond_ir.ir
    extra = [
        Var(a.strip_weak_type()) for a, z in zip(cir.in_avals[ncc:], carry_nz, strict=True) if z
    ]
    jcond = ClosedIR(
        IR(cir.constvars, cir.invars + extra, cir.outvars, cir.eqns), cond_ir.consts, cond_ir.name
    )
    bt = [instantiate(t) for t, z in zip(t_bc, bc_nz, strict=True) if z]
    kt = [instantiate(t) for t, z in zip(t_init, carry_nz, strict=True) if z]
    outs = while_p.bind(
        *cc,
        *bc,
        *bt,
        *init,
        *kt,
        cond_ir=jcond,
        body_ir=jbody,
        cond_nconsts=ncc,
        body_nconsts=nbc + n_bt,
    )
    primal_out, t_out = outs[:nk], iter(outs[nk:])
    if top_level(kt + bt) > top_level(primals):
        # The tangents belong to a transformation above the primals' (reverse mode builds
        # a linear program from them): compute the primal result on its own level.
        primal_out = while_p.bind(
            *primals,
            cond_ir=cond_ir,
            body_ir=body_ir,
            cond_nconsts=ncc,
            body_nconsts=nbc,
        )
    tangent_out = [
        next(t_out) if z else Zero.like(p) for p, z in zip(primal_out, carry_nz, strict=True)
    ]
    return primal_out, tangent_out


_WHILE_REVERSE_MESSAGE = (
    "while_loop (and fori_loop with traced, non-Python-int bounds, which is a while_loop) "
    "cannot be differentiated in reverse mode (grad, vjp, jacrev): the number of iterations is only known when the loop runs, so the values of every "
    "iteration cannot be saved for the backward pass. Fixes: use derivax.lax.fori_loop with "
    "static Python int bounds or derivax.lax.scan (both are reverse-differentiable); for a "
    "loop that stops on a condition, scan over a maximum number of steps and keep the carry "
    "unchanged once the condition is met (with derivax.lax.cond or numpy.where). Forward "
    "mode (jvp, jacfwd) works through while_loop."
)


def _pred_select(pred, new, old):
    shape = get_aval(new).shape
    which = S.broadcast_in_dim(pred, shape, (0,)) if len(shape) > 1 else pred
    return E.select_n(which, old, new)


def _while_batch_with_axis(payload, vals, dims, *, cond_ir, body_ir, cond_nconsts, body_nconsts):
    size, axis_name = payload
    ncc, nbc = cond_nconsts, body_nconsts
    cc_b, bc_b, k_b = _split3([d is not None for d in dims], ncc, nbc)
    nk = len(k_b)
    while True:
        _, out_b = batch_ir(body_ir, bc_b + k_b, k_b, size, axis_name)
        new = [a or b for a, b in zip(k_b, out_b, strict=True)]
        if new == k_b:
            break
        k_b = new
    _, (pred_b,) = batch_ir(cond_ir, cc_b + k_b, False, size, axis_name)
    if pred_b:
        k_b = [True] * nk
    bbody, _ = batch_ir(body_ir, bc_b + k_b, k_b, size, axis_name)
    bcond, _ = batch_ir(cond_ir, cc_b + k_b, False, size, axis_name)
    cc, bc, carry = _split3(list(vals), ncc, nbc)
    cc_d, bc_d, k_d = _split3(list(dims), ncc, nbc)
    cc = [x if d is None else S.moveaxis(x, d, 0) for x, d in zip(cc, cc_d, strict=True)]
    bc = [x if d is None else S.moveaxis(x, d, 0) for x, d in zip(bc, bc_d, strict=True)]
    carry = [
        S.bdim_to_front(x, d, size) if b else x for x, d, b in zip(carry, k_d, k_b, strict=True)
    ]
    if not pred_b:
        outs = while_p.bind(
            *cc, *bc, *carry, cond_ir=bcond, body_ir=bbody, cond_nconsts=ncc, body_nconsts=nbc
        )
        return outs, [0 if b else None for b in k_b]
    # Run while any example is still going; the ones that stopped keep their carry.
    k_avals = [get_aval(x) for x in carry]
    c_avals = [get_aval(x) for x in cc]
    b_avals = [get_aval(x) for x in bc]

    def any_cond(*xs):
        (pred,) = eval_closed(bcond, *xs)
        return [S.reduce_or(pred, (0,))]

    def masked_body(*xs):
        c, b, k = _split3(xs, ncc, nbc)
        (pred,) = eval_closed(bcond, *c, *k)
        new = eval_closed(bbody, *b, *k)
        return [_pred_select(pred, n, o) for n, o in zip(new, k, strict=True)]

    outs = while_p.bind(
        *cc,
        *cc,
        *bc,
        *carry,
        cond_ir=closed_ir(any_cond, c_avals + k_avals, cond_ir.name),
        body_ir=closed_ir(masked_body, c_avals + b_avals + k_avals, body_ir.name),
        cond_nconsts=ncc,
        body_nconsts=ncc + nbc,
    )
    return outs, [0] * nk


def _while_batch(vals, dims, **params):
    size = next(get_aval(v).shape[d] for v, d in zip(vals, dims, strict=True) if d is not None)
    return _while_batch_with_axis((size, None), vals, dims, **params)


def _while_partial_eval(eqn: Eqn, unknown_in):
    """Split a ``while`` whose carries are partly unknown (primal and tangent carries).

    The carries that never depend on unknown values form a loop of their own (the known
    equation); the unknown equation is the original loop, which recomputes them.
    """
    p = eqn.params
    ncc, nbc = p["cond_nconsts"], p["body_nconsts"]
    cc_u, bc_u, k_u = _split3(unknown_in, ncc, nbc)
    if any(cc_u):
        return None
    while True:
        out_u = unknown_outputs(p["body_ir"].ir, bc_u + k_u)
        new = [a or b for a, b in zip(k_u, out_u, strict=True)]
        if new == k_u:
            break
        k_u = new
    if all(k_u) or any(unknown_outputs(p["cond_ir"].ir, cc_u + k_u)):
        return None
    keep = [not u for u in k_u]
    body = restrict(p["body_ir"], [not u for u in bc_u] + keep, keep)
    cond = restrict(p["cond_ir"], [True] * ncc + keep, [True])
    if body is None or cond is None:
        return None
    ins_c, ins_b, ins_k = _split3(eqn.inputs, ncc, nbc)
    known_eqn = Eqn(
        while_p,
        ins_c
        + [x for x, u in zip(ins_b, bc_u, strict=True) if not u]
        + [x for x, u in zip(ins_k, k_u, strict=True) if not u],
        dict(p, cond_ir=cond, body_ir=body, body_nconsts=nbc - sum(bc_u)),
        [o for o, u in zip(eqn.outputs, k_u, strict=True) if not u],
        eqn.source,
    )
    return known_eqn, fresh_eqn_outputs(eqn, k_u), k_u


while_p = Primitive("while", multiple_results=True)
while_p.impl = _while_impl
while_p.abstract_eval = _while_abstract_eval
while_p.jvp = _while_jvp
while_p.batch = _while_batch
while_p.batch_with_axis = _while_batch_with_axis
while_p.no_rule_reasons["transpose"] = _WHILE_REVERSE_MESSAGE
PE_RULES[while_p] = _while_partial_eval


# --------------------------------------------------------------------------- public API


def while_loop(cond_fun, body_fun, init_val):
    """Repeat ``body_fun`` while ``cond_fun`` is True.

    Semantically::

        def while_loop(cond_fun, body_fun, init_val):
            val = init_val
            while cond_fun(val):
                val = body_fun(val)
            return val

    The loop is one primitive: under ``jit`` the condition is checked when the program
    runs. Forward-mode differentiation (``jvp``, ``jacfwd``) works; reverse mode (``grad``)
    does not, because the trip count is unknown until run time: use ``fori_loop`` with
    static bounds or ``scan`` for that. Under ``vmap`` with a batched condition the loop runs
    until every example's condition is False; each example keeps the carry it had when its
    own condition became False.

    Args:
        cond_fun: ``cond_fun(val) -> bool scalar``.
        body_fun: ``body_fun(val) -> new val`` with the structure, shapes and dtypes of
            ``val`` (a weakly typed Python-scalar ``init_val`` adopts the dtype the body
            returns).
        init_val: the initial value (a pytree).

    Returns:
        The final value.

    Raises:
        TypeError: ``cond_fun`` does not return a boolean scalar, or ``body_fun`` changes the
            carry's structure, shapes or dtypes (the message names the leaves).

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> from derivax import lax
        >>> lax.while_loop(lambda x: x < 100, lambda x: x * 2, 1)
        Array(128, dtype=int32, weak_type=True)
        >>> def newton_sqrt(a):
        ...     step = lambda c: (c[0] + 1, 0.5 * (c[1] + a / c[1]))
        ...     return lax.while_loop(lambda c: c[0] < 20, step, (0, a))[1]
        >>> derivax.jvp(newton_sqrt, (dnp.float32(4.0),), (dnp.float32(1.0),))
        (Array(2., dtype=float32), Array(0.25, dtype=float32))
    """
    for name, f in (("cond_fun", cond_fun), ("body_fun", body_fun)):
        if not callable(f):
            raise TypeError(f"while_loop: {name} must be callable, got {type(f).__name__}.")
    init_flat, tree = tree_util.flatten(init_val)
    init_flat = [as_operand(x) for x in init_flat]
    if config.disable_jit:
        val_ = tree_util.unflatten(tree, init_flat)
        while cond_fun(val_):
            val_ = body_fun(val_)
        return val_
    arg_names = arg_names_of([("carry", tree)])
    box = []
    for _ in range(3):

        def body_flat(*xs):
            out = body_fun(tree_util.unflatten(tree, list(xs)))
            leaves, t = tree_util.flatten(out)
            box[:] = [t]
            return leaves

        body, b_consts = trace_user(
            body_flat,
            [get_aval(x) for x in init_flat],
            arg_names=arg_names,
            name=getattr(body_fun, "__name__", "body_fun"),
            api="while_loop",
        )
        if box[0] != tree:
            break
        init_flat, changed = promote_weak_inputs(init_flat, body.ir.out_avals)
        if not changed:
            break
    check_carry(
        "while_loop",
        tree,
        box[0],
        [get_aval(x) for x in init_flat],
        body.ir.out_avals,
        what="body_fun",
    )
    cbox = []

    def cond_flat(*xs):
        out = cond_fun(tree_util.unflatten(tree, list(xs)))
        leaves, t = tree_util.flatten(out)
        cbox[:] = [leaves]
        return leaves

    cond, c_consts = trace_user(
        cond_flat,
        [get_aval(x) for x in init_flat],
        arg_names=arg_names,
        name=getattr(cond_fun, "__name__", "cond_fun"),
        api="while_loop",
    )
    c_avals = cond.ir.out_avals
    if len(c_avals) != 1 or c_avals[0].shape != () or c_avals[0].dtype != np.bool_:
        got = ", ".join(a.str_short() for a in c_avals) or "nothing"
        raise TypeError(
            f"while_loop: cond_fun must return a boolean scalar, got {got}. Compare "
            "explicitly (e.g. x < n), and reduce arrays with .any() or .all()."
        )
    outs = while_p.bind(
        *c_consts,
        *b_consts,
        *init_flat,
        cond_ir=cond,
        body_ir=body,
        cond_nconsts=len(c_consts),
        body_nconsts=len(b_consts),
    )
    return tree_util.unflatten(tree, outs)


def _static_int(x):
    """The value of a concrete integer scalar bound, or None if it is traced."""
    if isinstance(x, Tracer):
        return None
    if isinstance(x, bool):
        raise TypeError("fori_loop: the loop bounds must be integers, got a bool.")
    if isinstance(x, (int, np.integer)):
        return int(x)
    v = np.asarray(x._value if type(x) is Array else x)
    if v.shape == () and np.issubdtype(v.dtype, np.integer):
        return int(v)
    return None


def _fori_name(path):
    # The scan carry of a static fori_loop is (i, init_val): name leaves as the user does.
    if path.startswith("carry[1]"):
        return "init_val" + path[len("carry[1]") :]
    return "the loop index" if path == "carry[0]" else path


def fori_loop(lower, upper, body_fun, init_val, *, unroll=None):
    """Apply ``body_fun(i, val)`` for ``i`` from ``lower`` to ``upper - 1``.

    Semantically::

        def fori_loop(lower, upper, body_fun, init_val):
            val = init_val
            for i in range(lower, upper):
                val = body_fun(i, val)
            return val

    With static bounds (Python ints or concrete integer arrays) the loop is a ``scan``, so
    it is reverse-mode differentiable. With traced bounds it is a ``while_loop``, which
    supports forward mode only.

    Args:
        lower: the first index (an integer scalar).
        upper: one past the last index; ``upper <= lower`` runs no iteration.
        body_fun: ``body_fun(i, val) -> new val`` with ``val``'s structure, shapes, dtypes.
        init_val: the initial value (a pytree).
        unroll: passed to ``scan`` (a hint that never changes results); only valid with
            static bounds.

    Returns:
        The final value.

    Raises:
        TypeError: the bounds are not integer scalars, or ``body_fun`` changes the carry.
        ValueError: ``unroll`` is given with traced bounds.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> from derivax import lax
        >>> def power(x, n=5):
        ...     return lax.fori_loop(0, n, lambda i, acc: acc * x, 1.0)
        >>> power(dnp.float32(2.0))
        Array(32., dtype=float32)
        >>> derivax.grad(power)(2.0)  # 5 * 2**4
        Array(80., dtype=float32)
    """
    if not callable(body_fun):
        raise TypeError(f"fori_loop: body_fun must be callable, got {type(body_fun).__name__}.")
    lower_, upper_ = as_operand(lower), as_operand(upper)
    for name, x in (("lower", lower_), ("upper", upper_)):
        a = get_aval(x)
        if a.shape != () or not np.issubdtype(a.dtype, np.integer) or a.dtype == np.bool_:
            raise TypeError(f"fori_loop: {name} must be an integer scalar, got {a.str_short()}.")
    dtype, weak = _dtypes.result_type(lower_, upper_, return_weak_type_flag=True)
    lo, hi = _static_int(lower), _static_int(upper)
    one = Array(np.asarray(1, dtype), weak)
    if lo is not None and hi is not None:

        def step(carry, _):
            i, v = carry
            return (E.add(i, one), body_fun(i, v)), None

        i0 = Array(np.asarray(lo, dtype), weak)
        scan_unroll = 1 if unroll is None else unroll
        (_, out), _ = _scan(
            step,
            (i0, init_val),
            None,
            max(hi - lo, 0),
            False,
            scan_unroll,
            api="fori_loop",
            what="body_fun",
            rename=_fori_name,
        )
        return out
    if unroll is not None:
        raise ValueError(
            "fori_loop: unroll= needs static loop bounds (Python ints), but lower or upper is "
            "traced. Drop unroll, or make the bounds static (e.g. jit static_argnums)."
        )
    lower_ = E.convert_element_type(lower_, dtype, weak_type=weak)
    upper_ = E.convert_element_type(upper_, dtype, weak_type=weak)

    def body(carry):
        i, v = carry
        return E.add(i, one), body_fun(i, v)

    _, out = while_loop(lambda c: E.lt(c[0], upper_), body, (lower_, init_val))
    return out
