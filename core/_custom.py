"""Primitives that hold a whole function: ``jit_call``, ``custom_jvp_call`` and
``custom_vjp_call`` (with its linear partner ``custom_lin``), and the public
``custom_jvp`` / ``custom_vjp`` decorators.

Each holds a ``ClosedIR`` as a parameter. Their rules apply a nested transformation to that
IR: under ``jvp`` a ``jit_call`` is differentiated by running the jvp trace through its IR,
under ``vmap`` it is batched the same way. A custom rule is applied where differentiation
reaches the call, whichever transformations wrap it.
"""

from __future__ import annotations

import functools
import inspect

from . import tree as tree_util
from ._ad import jvp_flat
from ._ad_util import UndefinedPrimal, Zero, instantiate
from ._batching import vmap_flat
from ._core import (
    EVAL_TRACE,
    DerivaxError,
    Primitive,
    ShapedArray,
    find_top_trace,
    get_aval,
)
from ._ir import IR, ClosedIR, trace_to_ir

# --------------------------------------------------------------------------- helpers


def closed_call(fun, in_avals, *, arg_names=None, fun_name=None, reason="jit"):
    """Trace ``fun`` to a ClosedIR whose constants are extra *leading* inputs.

    Returns ``(closed_ir, consts)``; call it as ``closed_ir(*consts, *args)``.
    """
    ir, consts = trace_to_ir(fun, in_avals, arg_names=arg_names, fun_name=fun_name, reason=reason)
    ir = IR([], ir.constvars + ir.invars, ir.outvars, ir.eqns)
    return ClosedIR(ir, [], fun_name), consts


def _batch_size(vals, dims):
    return next(get_aval(v).shape[d] for v, d in zip(vals, dims, strict=True) if d is not None)


def _unbatched_aval(x, d):
    a = get_aval(x)
    if d is None:
        return a
    return ShapedArray(a.shape[:d] + a.shape[d + 1 :], a.dtype, a.weak_type)


def _batched_call(call, dims, size):
    """A ClosedIR computing ``call`` over a batch (inputs laid out as ``dims``, outputs at 0)."""

    def fun(*args):
        return vmap_flat(call, list(args), dims, lambda n: [0] * n, size)

    return fun


def _call_out_avals(call, **_):
    return list(call.out_avals)


# --------------------------------------------------------------------------- jit_call


def _jit_impl(*args, call, name):
    from ._jit import run_compiled

    return run_compiled(call, args)


def _jit_jvp(primals, tangents, *, call, name):
    return jvp_flat(call, primals, tangents)


def _jit_batch(vals, dims, *, call, name):
    size = _batch_size(vals, dims)
    outs = vmap_flat(call, vals, dims, lambda n: [0] * n, size)
    return outs, [0] * len(outs)


def _jit_batch_with_axis(payload, vals, dims, *, call, name):
    # Keep the vmap's axis name visible to collectives (lax.psum) inside the jitted body.
    size, axis_name = payload
    outs = vmap_flat(call, vals, dims, lambda n: [0] * n, size, axis_name)
    return outs, [0] * len(outs)


jit_call_p = Primitive("jit_call", multiple_results=True)
jit_call_p.impl = _jit_impl
jit_call_p.abstract_eval = lambda *avals, call, name: _call_out_avals(call)
jit_call_p.jvp = _jit_jvp
jit_call_p.batch = _jit_batch
jit_call_p.batch_with_axis = _jit_batch_with_axis
jit_call_p.no_rule_reasons["transpose"] = (
    "jit calls are differentiated by running the jvp trace through their IR, so the linear "
    "program never contains a jit_call."
)
jit_call_p.print_params = lambda p: {"name": p["name"]}


# --------------------------------------------------------------------------- custom_jvp_call


def _cjvp_impl(*args, call, jvp, num_consts):
    return call(*args)


def _cjvp_jvp(primals, tangents, *, call, jvp, num_consts):
    args = primals[num_consts:]
    tans = [instantiate(t) for t in tangents[num_consts:]]
    outs, touts = jvp(list(args), tans)
    return list(outs), list(touts)


def _cjvp_batch(vals, dims, *, call, jvp, num_consts):
    size = _batch_size(vals, dims)
    bcall, bconsts = closed_call(
        _batched_call(call, list(dims), size),
        [get_aval(v) for v in vals],
        fun_name="custom_jvp_batched",
    )
    pdims = list(dims[num_consts:])

    def bjvp(ps, ts):
        n = len(ps)

        def flat(*xs):
            outs, touts = jvp(list(xs[:n]), list(xs[n:]))
            return [*outs, *[instantiate(t) for t in touts]]

        res = vmap_flat(flat, [*ps, *ts], pdims + pdims, lambda k: [0] * k, size)
        m = len(res) // 2
        return res[:m], res[m:]

    outs = custom_jvp_call_p.bind(
        *bconsts, *vals, call=bcall, jvp=bjvp, num_consts=len(bconsts) + num_consts
    )
    return outs, [0] * len(outs)


custom_jvp_call_p = Primitive("custom_jvp_call", multiple_results=True)
custom_jvp_call_p.impl = _cjvp_impl
custom_jvp_call_p.abstract_eval = lambda *avals, call, jvp, num_consts: _call_out_avals(call)
custom_jvp_call_p.jvp = _cjvp_jvp
custom_jvp_call_p.batch = _cjvp_batch
custom_jvp_call_p.no_rule_reasons["transpose"] = "only its jvp rule's tangent output is linear."


# --------------------------------------------------------------------------- custom_vjp_call


class CustomVJPError(DerivaxError, TypeError):
    """A ``custom_vjp`` function was misused: forward-mode differentiation (``jvp``,
    ``jacfwd``) of it, or a ``bwd`` rule whose output does not match the primal inputs.
    Forward mode needs a ``custom_jvp`` rule; ``bwd`` must return one cotangent (or None)
    per primal input, each with that input's shape and dtype."""


def _cvjp_impl(*args, call, fwd, bwd, num_consts):
    return call(*args)


def _cvjp_jvp(primals, tangents, *, call, fwd, bwd, num_consts):
    args = list(primals[num_consts:])
    outs, res = fwd(args)
    tans = [instantiate(t) for t in tangents[num_consts:]]
    out_avals = [get_aval(o).strip_weak_type() for o in outs]
    touts = custom_lin_p.bind(*res, *tans, num_res=len(res), bwd=bwd, out_avals=out_avals)
    return list(outs), list(touts)


def _cvjp_batch(vals, dims, *, call, fwd, bwd, num_consts):
    size = _batch_size(vals, dims)
    bcall, bconsts = closed_call(
        _batched_call(call, list(dims), size),
        [get_aval(v) for v in vals],
        fun_name="custom_vjp_batched",
    )
    adims = list(dims[num_consts:])
    n_out = len(bcall.out_avals)

    def bfwd(ps):
        def flat(*xs):
            outs, res = fwd(list(xs))
            return [*outs, *res]

        r = vmap_flat(flat, list(ps), adims, lambda k: [0] * k, size)
        return r[:n_out], r[n_out:]

    def bbwd(res, cts):
        from .lax import _structural as S

        def flat(*xs):
            return [instantiate(c) for c in bwd(list(xs[: len(res)]), list(xs[len(res) :]))]

        outs = vmap_flat(flat, [*res, *cts], [0] * (len(res) + len(cts)), lambda k: [0] * k, size)
        # Unbatched inputs receive the cotangent summed over the batch.
        return [
            S.reduce_sum(o, (0,)) if d is None else S.moveaxis(o, 0, d)
            for o, d in zip(outs, adims, strict=True)
        ]

    outs = custom_vjp_call_p.bind(
        *bconsts, *vals, call=bcall, fwd=bfwd, bwd=bbwd, num_consts=len(bconsts) + num_consts
    )
    return outs, [0] * len(outs)


custom_vjp_call_p = Primitive("custom_vjp_call", multiple_results=True)
custom_vjp_call_p.impl = _cvjp_impl
custom_vjp_call_p.abstract_eval = lambda *avals, call, fwd, bwd, num_consts: _call_out_avals(call)
custom_vjp_call_p.jvp = _cvjp_jvp
custom_vjp_call_p.batch = _cvjp_batch
custom_vjp_call_p.no_rule_reasons["transpose"] = "reverse mode goes through custom_lin."


def _lin_impl(*args, **params):
    raise CustomVJPError(
        "Forward-mode differentiation (jvp, jacfwd, hessian's inner jacfwd) of a custom_vjp "
        "function is not possible: its rule only gives reverse mode. Use reverse mode "
        "(grad, vjp, jacrev) or define the function with custom_jvp instead."
    )


def _lin_transpose(cts, *invals, num_res, bwd, out_avals):
    res = list(invals[:num_res])
    args = invals[num_res:]
    cts = [instantiate(c) for c in cts]
    cts_in = list(bwd(res, cts))
    if len(cts_in) != len(args):
        raise CustomVJPError(
            f"custom_vjp bwd returned {len(cts_in)} cotangents for {len(args)} primal inputs."
        )
    out = [None] * num_res
    for a, c in zip(args, cts_in, strict=True):
        aval = a.aval if type(a) is UndefinedPrimal else get_aval(a)
        if c is None:
            out.append(Zero(aval))
            continue
        ca = get_aval(c)
        if ca.shape != aval.shape:
            raise CustomVJPError(
                f"custom_vjp bwd returned a cotangent of shape {ca.shape} for an input of "
                f"shape {aval.shape}."
            )
        out.append(c)
    return out


custom_lin_p = Primitive("custom_lin", multiple_results=True)
custom_lin_p.impl = _lin_impl
custom_lin_p.abstract_eval = lambda *avals, num_res, bwd, out_avals: list(out_avals)
custom_lin_p.transpose = _lin_transpose
custom_lin_p.linear = True
custom_lin_p.no_rule_reasons["jvp"] = "custom_vjp functions support reverse mode only."


def _lin_batch(vals, dims, *, num_res, bwd, out_avals):
    # Reached only when a custom_vjp function's linear part is evaluated forward under vmap,
    # i.e. forward-mode differentiation (jacfwd) of a custom_vjp function.
    _lin_impl()


custom_lin_p.batch = _lin_batch


# --------------------------------------------------------------------------- public decorators


def _resolve_args(fun, args, kwargs):
    if not kwargs:
        return args
    try:
        sig = inspect.signature(fun)
        bound = sig.bind(*args, **kwargs)
    except (TypeError, ValueError) as e:
        raise TypeError(f"custom rule function {fun.__name__}: {e}") from None
    bound.apply_defaults()
    return bound.args + tuple(bound.kwargs.values())


def _split_nondiff(args, nondiff_argnums):
    nondiff = tuple(args[i] for i in nondiff_argnums)
    diff = tuple(a for i, a in enumerate(args) if i not in nondiff_argnums)
    return nondiff, diff


def _check_tangent_tree(name, out_tree, tout_tree, outs, touts):
    if out_tree != tout_tree:
        diff = tree_util.diff(
            tree_util.unflatten(out_tree, outs), tree_util.unflatten(tout_tree, touts)
        )
        raise TypeError(
            f"{name}: the tangent output must have the structure of the primal output.\n"
            f"{diff or ''}"
        )


class custom_jvp:  # noqa: N801 - mirrors jax.custom_jvp
    """Give a function a custom forward-mode derivative (and so a custom gradient).

    Decorate the function, then define the rule with ``@f.defjvp``: it takes
    ``(primals, tangents)`` tuples and returns ``(primal_out, tangent_out)``. The rule is
    used by every transformation that differentiates (``jvp``, ``grad``, ``jacrev``, …) and
    composes with ``jit`` and ``vmap``.

    Args:
        fun: the function.
        nondiff_argnums: positions of arguments that are not differentiated (for example
            callables or settings); they are passed first to the rule.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> @derivax.custom_jvp
        ... def log1pexp(x):
        ...     return dnp.log(1.0 + dnp.exp(x))
        >>> @log1pexp.defjvp
        ... def _(primals, tangents):
        ...     (x,), (t,) = primals, tangents
        ...     return log1pexp(x), t * derivax.nn.sigmoid(x)
        >>> derivax.grad(log1pexp)(100.0)  # the naive derivative would be nan
        Array(1., dtype=float32)
    """

    def __init__(self, fun, nondiff_argnums=()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.jvp = None

    def defjvp(self, jvp):
        """Set the rule ``jvp(primals, tangents) -> (primal_out, tangent_out)``."""
        self.jvp = jvp
        return jvp

    def defjvps(self, *jvps):
        """Set one rule per argument: ``jvp_i(g_i, ans, *primals) -> contribution``
        (``None`` for an argument with zero derivative)."""

        def jvp(primals, tangents):
            ans = self.fun(*primals)
            out = None
            for rule, t in zip(jvps, tangents, strict=True):
                if rule is None:
                    continue
                c = rule(t, ans, *primals)
                out = c if out is None else tree_util.map(lambda a, b: a + b, out, c)
            if out is None:
                from . import numpy as dnp

                out = tree_util.map(dnp.zeros_like, ans)
            return ans, out

        self.jvp = jvp
        return jvp

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return functools.partial(self, obj)

    def __call__(self, *args, **kwargs):
        if self.jvp is None:
            raise AttributeError(
                f"No JVP defined for custom_jvp function {self.__name__}; decorate a rule "
                "with @" + self.__name__ + ".defjvp."
            )
        args = _resolve_args(self.fun, args, kwargs)
        nondiff, diff = _split_nondiff(args, self.nondiff_argnums)
        flat, in_tree = tree_util.flatten(diff)
        if find_top_trace(flat) is EVAL_TRACE:
            return self.fun(*args)
        return _bind_custom_jvp(self, nondiff, flat, in_tree)


def _rebuild(nondiff, diff, nondiff_argnums):
    args = list(diff)
    for i, v in sorted(zip(nondiff_argnums, nondiff, strict=True)):
        args.insert(i, v)
    return args


def _bind_custom_jvp(cj, nondiff, flat, in_tree):
    from . import numpy as dnp

    out_tree_box = []

    def flat_fun(*xs):
        diff = tree_util.unflatten(in_tree, list(xs))
        out = cj.fun(*_rebuild(nondiff, diff, cj.nondiff_argnums))
        leaves, tdef = tree_util.flatten(out)
        out_tree_box[:] = [tdef]
        return leaves

    def flat_jvp(ps, ts):
        primals = tree_util.unflatten(in_tree, ps)
        tangents = tree_util.unflatten(in_tree, ts)
        rule_args = (*nondiff, primals, tangents)
        res = cj.jvp(*rule_args)
        if not (isinstance(res, (tuple, list)) and len(res) == 2):
            raise TypeError(
                f"custom_jvp rule of {cj.__name__} must return a pair (primal_out, "
                f"tangent_out), got {type(res).__name__}."
            )
        out, tout = res
        outs, otree = tree_util.flatten(out)
        touts, ttree = tree_util.flatten(tout)
        _check_tangent_tree(f"custom_jvp rule of {cj.__name__}", otree, ttree, outs, touts)
        fixed = []
        for o, t in zip(outs, touts, strict=True):
            oa = get_aval(o)
            t = dnp.asarray(t) if not hasattr(t, "aval") else t
            if get_aval(t).shape != oa.shape:
                raise TypeError(
                    f"custom_jvp rule of {cj.__name__}: tangent shape {get_aval(t).shape} "
                    f"does not match primal output shape {oa.shape}."
                )
            if get_aval(t).dtype != oa.dtype:
                t = t.astype(oa.dtype)
            fixed.append(t)
        return outs, fixed

    call, consts = closed_call(
        flat_fun, [get_aval(x) for x in flat], fun_name=cj.__name__, reason="custom_jvp"
    )
    outs = custom_jvp_call_p.bind(*consts, *flat, call=call, jvp=flat_jvp, num_consts=len(consts))
    return tree_util.unflatten(out_tree_box[0], outs)


class custom_vjp:  # noqa: N801 - mirrors jax.custom_vjp
    """Give a function a custom reverse-mode derivative.

    Define ``fwd(*args) -> (out, residuals)`` and ``bwd(residuals, ct_out) -> tuple of one
    cotangent per argument`` (``None`` for zero) with ``f.defvjp(fwd, bwd)``. Works under
    ``grad``/``vjp``/``jacrev`` composed with ``jit`` and ``vmap``; forward mode raises
    ``CustomVJPError``.

    Args:
        fun: the function.
        nondiff_argnums: positions of non-differentiated arguments; they are passed first
            to ``bwd``.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> @derivax.custom_vjp
        ... def clip_gradient(x):
        ...     return x
        >>> def fwd(x):
        ...     return x, None
        >>> def bwd(_, g):
        ...     return (dnp.clip(g, -1.0, 1.0),)
        >>> clip_gradient.defvjp(fwd, bwd)
        >>> derivax.grad(lambda x: 5.0 * clip_gradient(x))(2.0)
        Array(1., dtype=float32)
    """

    def __init__(self, fun, nondiff_argnums=()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.fwd = self.bwd = None

    def defvjp(self, fwd, bwd):
        """Set the forward (``fwd``) and backward (``bwd``) rules."""
        self.fwd, self.bwd = fwd, bwd

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return functools.partial(self, obj)

    def __call__(self, *args, **kwargs):
        if self.fwd is None:
            raise AttributeError(
                f"No VJP defined for custom_vjp function {self.__name__}; call "
                f"{self.__name__}.defvjp(fwd, bwd)."
            )
        args = _resolve_args(self.fun, args, kwargs)
        nondiff, diff = _split_nondiff(args, self.nondiff_argnums)
        flat, in_tree = tree_util.flatten(diff)
        if find_top_trace(flat) is EVAL_TRACE:
            return self.fun(*args)
        return _bind_custom_vjp(self, nondiff, flat, in_tree)


def _bind_custom_vjp(cv, nondiff, flat, in_tree):
    out_tree_box = []
    res_tree_box = []

    def flat_fun(*xs):
        diff = tree_util.unflatten(in_tree, list(xs))
        out = cv.fun(*_rebuild(nondiff, diff, cv.nondiff_argnums))
        leaves, tdef = tree_util.flatten(out)
        out_tree_box[:] = [tdef]
        return leaves

    def flat_fwd(ps):
        diff = tree_util.unflatten(in_tree, ps)
        res = cv.fwd(*_rebuild(nondiff, diff, cv.nondiff_argnums))
        if not (isinstance(res, (tuple, list)) and len(res) == 2):
            raise CustomVJPError(
                f"custom_vjp fwd of {cv.__name__} must return (output, residuals), got "
                f"{type(res).__name__}."
            )
        out, resid = res
        outs, otree = tree_util.flatten(out)
        if out_tree_box and otree != out_tree_box[0]:
            raise CustomVJPError(
                f"custom_vjp fwd of {cv.__name__} returned an output of structure {otree}; "
                f"the function itself returns {out_tree_box[0]}."
            )
        rs, rtree = tree_util.flatten(resid)
        res_tree_box[:] = [rtree]
        from . import numpy as dnp

        rs = [r if hasattr(r, "aval") else dnp.asarray(r) for r in rs]
        return outs, rs

    def flat_bwd(res, cts):
        resid = tree_util.unflatten(res_tree_box[0], res)
        ct = tree_util.unflatten(out_tree_box[0], cts)
        out = cv.bwd(*nondiff, resid, ct)
        if not isinstance(out, (tuple, list)):
            raise CustomVJPError(
                f"custom_vjp bwd of {cv.__name__} must return a tuple with one cotangent per "
                f"differentiated argument, got {type(out).__name__}."
            )
        leaves = []
        arg_subtrees = tree_util.unflatten(in_tree, list(range(in_tree.num_leaves)))
        n_args = len(arg_subtrees)
        if len(out) != n_args:
            raise CustomVJPError(
                f"custom_vjp bwd of {cv.__name__} returned {len(out)} cotangents for "
                f"{n_args} differentiated arguments."
            )
        for o, sub in zip(out, arg_subtrees, strict=True):
            n = len(tree_util.leaves(sub))
            if o is None:
                leaves.extend([None] * n)
            else:
                ls = tree_util.leaves(o)
                if len(ls) != n:
                    raise CustomVJPError(
                        f"custom_vjp bwd of {cv.__name__}: a cotangent has {len(ls)} leaves "
                        f"where its argument has {n}."
                    )
                leaves.extend(ls)
        return leaves

    call, consts = closed_call(
        flat_fun, [get_aval(x) for x in flat], fun_name=cv.__name__, reason="custom_vjp"
    )
    outs = custom_vjp_call_p.bind(
        *consts, *flat, call=call, fwd=flat_fwd, bwd=flat_bwd, num_consts=len(consts)
    )
    return tree_util.unflatten(out_tree_box[0], outs)
