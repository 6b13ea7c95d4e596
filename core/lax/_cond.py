"""``cond`` and ``switch``: the ``cond`` primitive, which runs one of several sub-IRs.

``cond_p`` takes an int32 ``index`` and operands; ``branches`` is a tuple of ClosedIRs with
identical input and output types (values the branch functions close over are operands
too: every branch takes all branches' constants and ignores the others').

Rules: the impl evaluates only the chosen branch. The jvp binds a primal ``cond`` (each
branch also returns the residuals its tangent part needs, zeros for the other branches')
and a separate tangent ``cond`` that is linear in the tangents; its transpose is a
``cond`` of the transposed branches. Under ``vmap`` a batched index evaluates every branch
and selects per example.
"""

from __future__ import annotations

import numpy as np

from .. import _dtypes
from .. import tree as tree_util
from .._ad_util import Zero, instantiate, is_undefined
from .._config import config
from .._core import Primitive, ShapedArray, Tracer, get_aval
from .._ir import IR, ClosedIR, Var
from . import _elementwise as E
from . import _structural as S
from ._cf_util import (
    arg_names_of,
    as_operand,
    backward_ir,
    batch_ir,
    closed_ir,
    eval_closed,
    jvp_ir,
    leaf_paths,
    partial_eval_jvp,
    to_array,
    trace_user,
    zeros,
)
from ._util import is_inexact, val

__all__ = ["cond", "switch"]

_NO_OPERAND = object()

# --------------------------------------------------------------------------- the primitive


def _joined_out_avals(branches):
    outs = []
    for avals in zip(*(b.ir.out_avals for b in branches), strict=True):
        a0 = avals[0]
        outs.append(ShapedArray(a0.shape, a0.dtype, all(a.weak_type for a in avals)))
    return outs


def _cond_impl(index, *ops, branches):
    i = int(np.clip(val(index), 0, len(branches) - 1))
    outs = eval_closed(branches[i], *ops)
    return [to_array(o, a) for o, a in zip(outs, _joined_out_avals(branches), strict=True)]


def _cond_abstract_eval(index, *ops, branches):
    if index.shape != () or not np.issubdtype(index.dtype, np.integer):
        raise TypeError(f"cond: the branch index must be an int32 scalar, got {index.str_short()}.")
    for b in branches:
        ins = b.ir.in_avals
        if len(ins) != len(ops) or any(
            (x.shape, x.dtype) != (y.shape, y.dtype) for x, y in zip(ins, ops, strict=True)
        ):
            raise TypeError(
                "cond: operand types "
                f"({', '.join(a.str_short() for a in ops)}) do not match the branch inputs "
                f"({', '.join(a.str_short() for a in ins)})."
            )
    return _joined_out_avals(branches)


def _cond_jvp(primals, tangents, *, branches):
    index, *ops = primals
    ts = tangents[1:]
    nz = [
        type(t) is not Zero and is_inexact(get_aval(p).dtype) for p, t in zip(ops, ts, strict=True)
    ]
    n_out = len(branches[0].ir.outvars)
    out_nz = [False] * n_out
    for b in branches:
        _, b_nz = jvp_ir(b, nz, False)
        out_nz = [x or y for x, y in zip(out_nz, b_nz, strict=True)]
    splits = [partial_eval_jvp(jvp_ir(b, nz, out_nz)[0], b) for b in branches]
    # One residual list for all branches: each branch returns its own residuals and zeros
    # in the others' slots. Residuals that are operands are forwarded, not returned.
    offsets, total = [], 0
    for sp in splits:
        offsets.append(total)
        total += len(sp.res_out_avals)
    res_avals = [a for sp in splits for a in sp.res_out_avals]
    fwd = sorted({k for sp in splits for kind, k in sp.res_src if kind == "in"})
    fwd_pos = {k: i for i, k in enumerate(fwd)}
    op_avals = [get_aval(o) for o in ops]

    def known_branch(i):
        sp = splits[i]

        def fun(*xs):
            outs = eval_closed(sp.known, *xs)
            res = [zeros(a) for a in res_avals]
            res[offsets[i] : offsets[i] + len(sp.res_out_avals)] = outs[n_out:]
            return [*outs[:n_out], *res]

        return closed_ir(fun, op_avals, branches[i].name)

    t_avals = [get_aval(t).strip_weak_type() for t, z in zip(ops, nz, strict=True) if z]

    def tangent_branch(i):
        sp = splits[i]

        def fun(*xs):
            res, fwd_vals, tans = xs[:total], xs[total : total + len(fwd)], xs[total + len(fwd) :]
            mine = [
                res[offsets[i] + k] if kind == "out" else fwd_vals[fwd_pos[k]]
                for kind, k in sp.res_src
            ]
            return eval_closed(sp.unknown, *mine, *tans)

        return closed_ir(fun, [*res_avals, *(op_avals[k] for k in fwd), *t_avals], branches[i].name)

    outs = cond_p.bind(index, *ops, branches=tuple(known_branch(i) for i in range(len(splits))))
    primal_out, res = outs[:n_out], outs[n_out:]
    tans = [instantiate(t) for t, z in zip(ts, nz, strict=True) if z]
    t_outs = iter(
        cond_p.bind(
            index,
            *res,
            *(ops[k] for k in fwd),
            *tans,
            branches=tuple(tangent_branch(i) for i in range(len(splits))),
        )
        if any(out_nz)
        else []
    )
    tangent_out = [
        next(t_outs) if z else Zero.like(p) for p, z in zip(primal_out, out_nz, strict=True)
    ]
    return primal_out, tangent_out


def _cond_transpose(cts, index, *ops, branches):
    if is_undefined(index):
        raise ValueError("cond is not linear in its branch index.")
    linear = [is_undefined(o) for o in ops]
    known = [o for o, lin in zip(ops, linear, strict=True) if not lin]
    cts = [instantiate(c) for c in cts]
    in_avals = [get_aval(k) for k in known] + [get_aval(c) for c in cts]
    nk = len(known)

    def transposed(b):
        return closed_ir(lambda *xs: backward_ir(b, linear, xs[:nk], xs[nk:]), in_avals, b.name)

    outs = iter(cond_p.bind(index, *known, *cts, branches=tuple(transposed(b) for b in branches)))
    return [None] + [next(outs) if lin else None for lin in linear]


def _cond_batch_with_axis(payload, vals, dims, *, branches):
    size, axis_name = payload
    index, *ops = vals
    idim, *odims = dims
    ops = [x if d is None else S.moveaxis(x, d, 0) for x, d in zip(ops, odims, strict=True)]
    in_b = [d is not None for d in odims]
    if idim is None:
        out_b = [False] * len(branches[0].ir.outvars)
        for b in branches:
            _, flags = batch_ir(b, in_b, False, size, axis_name)
            out_b = [x or y for x, y in zip(out_b, flags, strict=True)]
        new = tuple(batch_ir(b, in_b, out_b, size, axis_name)[0] for b in branches)
        outs = cond_p.bind(index, *ops, branches=new)
        return outs, [0 if b else None for b in out_b]
    # A batched index: every branch runs on the whole batch, then each example selects.
    index = S.moveaxis(index, idim, 0)
    results = [eval_closed(batch_ir(b, in_b, True, size, axis_name)[0], *ops) for b in branches]
    outs = []
    for cases in zip(*results, strict=True):
        shape = get_aval(cases[0]).shape
        which = S.broadcast_in_dim(index, shape, (0,)) if len(shape) > 1 else index
        outs.append(E.select_n(which, *cases) if len(cases) > 1 else cases[0])
    return outs, [0] * len(outs)


def _cond_batch(vals, dims, **params):
    size = next(get_aval(v).shape[d] for v, d in zip(vals, dims, strict=True) if d is not None)
    return _cond_batch_with_axis((size, None), vals, dims, **params)


def _cond_print_params(params):
    shown = {"branches": None}
    for i, b in enumerate(params["branches"]):
        shown[f"branch{i}"] = b
    return shown


cond_p = Primitive("cond", multiple_results=True)
cond_p.impl = _cond_impl
cond_p.abstract_eval = _cond_abstract_eval
cond_p.jvp = _cond_jvp
cond_p.transpose = _cond_transpose
# Transposable in the tangent instances its jvp rule binds (linear in their tangent operands).
cond_p.linear = True
cond_p.batch = _cond_batch
cond_p.batch_with_axis = _cond_batch_with_axis
cond_p.print_params = _cond_print_params


# --------------------------------------------------------------------------- tracing branches


def _trace_branches(api, funs, names, operands):
    """Trace every branch on the operands' types; returns (ClosedIRs, consts, out tree)."""
    ops, in_tree = tree_util.flatten(tuple(operands))
    ops = [as_operand(x) for x in ops]
    in_avals = [get_aval(x) for x in ops]
    arg_names = arg_names_of([("operands", in_tree)])
    casts = [None] * len(funs)

    def trace(i):
        box = []

        def flat(*xs):
            out = funs[i](*tree_util.unflatten(in_tree, list(xs)))
            leaves, tdef = tree_util.flatten(out)
            box[:] = [tdef]
            if casts[i] is not None:
                leaves = [
                    E.convert_element_type(as_operand(x), dt, weak_type=w) if dt is not None else x
                    for x, (dt, w) in zip(leaves, casts[i], strict=True)
                ]
            return leaves

        closed, consts = trace_user(flat, in_avals, arg_names=arg_names, name=names[i], api=api)
        return closed, consts, box[0]

    traced = [trace(i) for i in range(len(funs))]
    tree0 = traced[0][2]
    for i, (_, _, t) in enumerate(traced[1:], 1):
        if t != tree0:
            raise TypeError(
                f"{api}: every branch must return the same tree structure, but {names[0]} "
                f"returns {tree0} and {names[i]} returns {t}."
            )
    paths = leaf_paths(tree0)
    out_avals = [c.ir.out_avals for c, _, _ in traced]
    retrace = False
    for j, avals in enumerate(zip(*out_avals, strict=True)):
        if all((a.shape, a.dtype) == (avals[0].shape, avals[0].dtype) for a in avals):
            continue
        problem = None
        if any(a.shape != avals[0].shape for a in avals):
            problem = "shapes"
        else:
            dt, weak = _dtypes.result_type(*avals, return_weak_type_flag=True)
            if any(a.dtype != dt and not a.weak_type for a in avals):
                problem = "dtypes"
        if problem is not None:
            listing = ", ".join(
                f"{names[i]} output{paths[j]} is {avals[i].str_short()}" for i in range(len(funs))
            )
            raise TypeError(
                f"{api}: every branch must return the same tree structure, shapes and "
                f"dtypes, but the {problem} differ: {listing}. Fix: make the branches "
                "return matching values (cast with .astype(...), broadcast, or reshape)."
            )
        # Weakly typed outputs (Python scalars) adopt the other branches' dtype.
        for i, a in enumerate(avals):
            if a.dtype != dt:
                if casts[i] is None:
                    casts[i] = [(None, False)] * len(out_avals[i])
                casts[i][j] = (dt, weak)
                retrace = True
    if retrace:
        traced = [trace(i) if casts[i] is not None else traced[i] for i in range(len(funs))]
    # Every branch takes all branches' constants (each once) and ignores the others'.
    consts, slot = [], {}
    for _, ks, _ in traced:
        for k in ks:
            if id(k) not in slot:
                slot[id(k)] = len(consts)
                consts.append(k)
    widened = []
    for c, ks, _ in traced:
        ir, n = c.ir, len(ks)
        invars = [Var(get_aval(k)) for k in consts]
        for v, k in zip(ir.invars[:n], ks, strict=True):
            invars[slot[id(k)]] = v
        widened.append(
            ClosedIR(
                IR(ir.constvars, invars + ir.invars[n:], ir.outvars, ir.eqns), c.consts, c.name
            )
        )
    return tuple(widened), consts, ops, tree0


def _bind_cond(api, index, funs, names, operands):
    branches, consts, ops, out_tree = _trace_branches(api, funs, names, operands)
    outs = cond_p.bind(index, *consts, *ops, branches=branches)
    return tree_util.unflatten(out_tree, outs)


def _operands(api, operands, operand):
    if operand is _NO_OPERAND:
        return operands
    if operands:
        raise TypeError(f"{api}: pass the operands either positionally or with operand=, not both.")
    return (operand,)


def _scalar_index(api, x, what):
    x = as_operand(x)
    a = get_aval(x)
    if a.shape != ():
        raise TypeError(
            f"{api}: {what} must be a scalar, got an array of shape {a.shape} "
            f"({a.str_short()}). For an elementwise choice use derivax.numpy.where; to "
            "reduce an array to one decision use .any() or .all()."
        )
    return x, a


# --------------------------------------------------------------------------- public API


def cond(pred, true_fun, false_fun, *operands, operand=_NO_OPERAND):
    """Apply ``true_fun`` or ``false_fun`` to ``operands`` depending on ``pred``.

    Semantically ``true_fun(*operands) if pred else false_fun(*operands)``, but ``pred``
    may be traced: under ``jit`` the choice is made when the program runs, and only the
    chosen branch is evaluated. Both branches are traced and must return the same tree
    structure, shapes and dtypes. Under ``vmap`` with a batched ``pred`` both branches run
    and the results are selected per example. Differentiable in forward and reverse mode.

    Args:
        pred: a boolean (or numeric: nonzero is True) scalar.
        true_fun: the function applied when ``pred`` is True.
        false_fun: the function applied when ``pred`` is False.
        *operands: the arguments of the branches (pytrees of arrays).
        operand: the single-operand form, ``cond(pred, f, g, operand=x)``.

    Returns:
        The output of the chosen branch.

    Raises:
        TypeError: ``pred`` is not a scalar, or the branches return different structures,
            shapes or dtypes (the message names the output paths and their types).

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> from derivax import lax
        >>> def relu_or_square(x):
        ...     return lax.cond(x > 0, lambda x: x * x, lambda x: 0.0 * x, x)
        >>> relu_or_square(dnp.float32(3.0))
        Array(9., dtype=float32)
        >>> derivax.grad(relu_or_square)(3.0)
        Array(6., dtype=float32)
    """
    operands = _operands("cond", operands, operand)
    for name, f in (("true_fun", true_fun), ("false_fun", false_fun)):
        if not callable(f):
            raise TypeError(f"cond: {name} must be callable, got {type(f).__name__}.")
    pred, a = _scalar_index("cond", pred, "pred")
    if a.dtype != np.bool_:
        if not np.issubdtype(a.dtype, np.number):
            raise TypeError(f"cond: pred must be a boolean or numeric scalar, got {a.str_short()}.")
        pred = E.ne(pred, S.full((), 0, a.dtype))
    if config.disable_jit and not isinstance(pred, Tracer):
        return true_fun(*operands) if bool(val(pred)) else false_fun(*operands)
    index = E.convert_element_type(pred, np.int32)
    return _bind_cond("cond", index, [false_fun, true_fun], ["false_fun", "true_fun"], operands)


def switch(index, branches, *operands, operand=_NO_OPERAND):
    """Apply ``branches[index]`` to ``operands``; ``index`` is clamped to the valid range.

    Semantically ``branches[clamp(index, 0, len(branches) - 1)](*operands)`` with a
    possibly traced ``index``; only the chosen branch runs. All branches must return the
    same tree structure, shapes and dtypes. Under ``vmap`` with a batched index every
    branch runs and the results are selected per example.

    Args:
        index: an integer scalar.
        branches: a non-empty sequence of functions.
        *operands: the arguments of the branches.
        operand: the single-operand form.

    Returns:
        The output of the chosen branch.

    Raises:
        TypeError: ``index`` is not an integer scalar, or the branches' outputs differ.
        ValueError: ``branches`` is empty.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> fs = [lambda x: x + 1.0, lambda x: x * 10.0, lambda x: -x]
        >>> [float(lax.switch(i, fs, dnp.float32(2.0))) for i in (0, 1, 2, 7)]
        [3.0, 20.0, -2.0, -2.0]
    """
    operands = _operands("switch", operands, operand)
    try:
        branches = list(branches)
    except TypeError:
        raise TypeError(
            f"switch: branches must be a sequence of functions, got {type(branches).__name__}."
        ) from None
    if not branches:
        raise ValueError("switch: branches is empty; pass at least one function.")
    for i, f in enumerate(branches):
        if not callable(f):
            raise TypeError(f"switch: branches[{i}] must be callable, got {type(f).__name__}.")
    index, a = _scalar_index("switch", index, "index")
    if not np.issubdtype(a.dtype, np.integer) or a.dtype == np.bool_:
        raise TypeError(
            f"switch: index must be an integer scalar, got {a.str_short()}. Convert it with "
            ".astype(derivax.numpy.int32)."
        )
    if len(branches) == 1:
        return branches[0](*operands)
    if config.disable_jit and not isinstance(index, Tracer):
        i = int(np.clip(val(index), 0, len(branches) - 1))
        return branches[i](*operands)
    index = E.convert_element_type(index, np.int32)
    index = E.max(E.min(index, S.full((), len(branches) - 1, np.int32)), S.full((), 0, np.int32))
    names = [f"branches[{i}]" for i in range(len(branches))]
    return _bind_cond("switch", index, branches, names, operands)
