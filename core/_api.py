"""The public transformations: ``jit``, ``grad``, ``vjp``, ``jvp``, ``vmap`` and friends.

These functions deal with pytrees, argument numbers and error messages; the
transformation machinery itself lives in ``_ad``, ``_batching`` and ``_jit``.
"""

from __future__ import annotations

import contextlib
import functools

import numpy as np

from . import _dtypes
from . import tree as tree_util
from ._ad import jvp_flat, linearize_flat, tangent_aval, vjp_flat
from ._ad_util import Zero, instantiate
from ._array import Array
from ._batching import vmap_flat
from ._config import config
from ._core import ShapedArray, Tracer, get_aval
from ._custom import closed_call
from ._jit import Jitted, leaf_aval
from .lax import _elementwise as E

# --------------------------------------------------------------------------- helpers


def _asarray(x):
    from . import numpy as dnp

    if isinstance(x, (Tracer, Array)):
        return x
    return dnp.asarray(x)


def _argnums_tuple(argnums, nargs, fname):
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    for a in nums:
        if not isinstance(a, int):
            raise TypeError(f"{fname}: argnums must be an int or a tuple of ints, got {a!r}.")
        if not -nargs <= a < nargs:
            raise ValueError(
                f"{fname}: argnums={argnums} is out of range for a call with {nargs} "
                "positional arguments."
            )
    return single, tuple(a % nargs for a in nums)


def _check_differentiable(leaves, names, fname, allow_int):
    for x, nm in zip(leaves, names, strict=True):
        dt = get_aval(x).dtype
        if not _dtypes.is_inexact(dt):
            if allow_int:
                continue
            raise TypeError(
                f"{fname} requires real- or complex-valued inputs (a floating dtype), but "
                f"argument {nm} has dtype {np.dtype(dt).name}. Convert it with "
                f".astype(derivax.numpy.float32), or, for integer inputs that are not "
                f"differentiated, move them out of argnums."
            )


def _diff_args(fun, args, kwargs, argnums, fname, allow_int):
    """Split ``args`` into the differentiated leaves and a function of those leaves.

    Returns ``(single, d_leaves, d_tree, call)`` where ``call(*leaves)`` runs ``fun`` with
    the differentiated arguments replaced (other arguments and ``kwargs`` stay fixed).
    """
    single, nums = _argnums_tuple(argnums, len(args), fname)
    d_leaves, d_tree = tree_util.flatten(tuple(args[i] for i in nums))
    d_leaves = [_asarray(x) for x in d_leaves]
    names = []
    for i in nums:
        names += _paths(args[i], f"args[{i}]")
    _check_differentiable(d_leaves, names, fname, allow_int)

    def call(*xs):
        full = list(args)
        for i, v in zip(nums, tree_util.unflatten(d_tree, list(xs)), strict=True):
            full[i] = v
        return fun(*full, **kwargs)

    return single, d_leaves, d_tree, call


def _paths(tree, prefix):
    try:
        return [prefix + tree_util.keystr(p) for p, _ in tree_util.flatten_with_path(tree)[0]]
    except Exception:
        return [prefix] * len(tree_util.leaves(tree))


# --------------------------------------------------------------------------- jit


def jit(fun=None, *, static_argnums=(), static_argnames=(), donate_argnums=(), name=None):
    """Compile ``fun``: trace it once per argument signature and reuse the program.

    Args:
        fun: the function; its array arguments may be pytrees.
        static_argnums: positions of arguments that are settings (hashable, e.g. ints or
            strings) rather than arrays; a new value triggers a new trace.
        static_argnames: the same by keyword name.
        donate_argnums: positions of arguments whose buffers the program may reuse for its
            outputs (do not use them after the call). The LLVM back end writes an output
            into a donated buffer of the same size and dtype; the reference back end copies.
        name: a name for the IR printer and messages.

    Returns:
        A callable with ``.lower(*args)``, ``.trace(*args)`` and ``.trace_count``.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> @derivax.jit
        ... def f(x):
        ...     return dnp.sum(x ** 2)
        >>> f(dnp.arange(3.0))
        Array(5., dtype=float32)
    """
    if fun is None:
        return functools.partial(
            jit,
            static_argnums=static_argnums,
            static_argnames=static_argnames,
            donate_argnums=donate_argnums,
            name=name,
        )
    return Jitted(fun, static_argnums, static_argnames, donate_argnums, name)


@contextlib.contextmanager
def disable_jit(disable: bool = True):
    """Run jitted functions as plain Python inside this block (for debugging with print).

    Example:
        >>> import derivax
        >>> with derivax.disable_jit():
        ...     derivax.jit(lambda x: x + 1)(1.0)
        2.0
    """
    with config.context(disable_jit=disable):
        yield


# --------------------------------------------------------------------------- make_jaxpr


def make_jaxpr(fun, static_argnums=(), *, return_shape=False):
    """Return a function that traces ``fun`` and gives its IR (a printable ``ClosedIR``).

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> print(derivax.make_jaxpr(lambda x, y: dnp.dot(x, y) + 1.0)(dnp.ones(3), dnp.ones(3)))
        { lambda ; a:f32[3] b:f32[3]. let
            c:f32[] = dot_general[dimension_numbers=(((0,), (0,)), ((), ()))] a b
            d:f32[] = add c 1.0:f32[]
          in (d,) }
    """
    static = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)

    @functools.wraps(fun)
    def traced(*args, **kwargs):
        j = Jitted(fun, static_argnums=static)
        (call, consts, out_tree), _ = j._lookup(args, kwargs)
        from ._ir import IR, ClosedIR

        n = len(consts)
        ir = call.ir
        closed = ClosedIR(IR(ir.invars[:n], ir.invars[n:], ir.outvars, ir.eqns), consts, j.name)
        if return_shape:
            shapes = tree_util.unflatten(
                out_tree, [ShapeDtypeStruct(a.shape, a.dtype) for a in call.out_avals]
            )
            return closed, shapes
        return closed

    return traced


# --------------------------------------------------------------------------- shapes


class ShapeDtypeStruct:
    """A shape and dtype standing in for an array (for ``eval_shape`` and lazy init).

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.ShapeDtypeStruct((2, 3), dnp.float32)
        ShapeDtypeStruct(shape=(2, 3), dtype=float32)
    """

    __slots__ = ("shape", "dtype", "weak_type")

    def __init__(self, shape, dtype, weak_type=False):
        self.shape = tuple(int(s) for s in shape)
        self.dtype = _dtypes.canonicalize_dtype(dtype)
        self.weak_type = weak_type

    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: int(np.prod(self.shape, dtype=np.int64)))

    @property
    def aval(self):
        return ShapedArray(self.shape, self.dtype, self.weak_type)

    def __eq__(self, other):
        return isinstance(other, ShapeDtypeStruct) and (self.shape, self.dtype) == (
            other.shape,
            other.dtype,
        )

    def __hash__(self):
        return hash((self.shape, self.dtype))

    def __repr__(self):
        return f"ShapeDtypeStruct(shape={self.shape}, dtype={self.dtype.name})"


def eval_shape(fun, *args, **kwargs):
    """Shapes and dtypes of ``fun(*args)`` without computing it.

    Args may be arrays or ``ShapeDtypeStruct`` objects (any pytree).

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.eval_shape(lambda x: x @ x.T, derivax.ShapeDtypeStruct((4, 3), dnp.float32))
        ShapeDtypeStruct(shape=(4, 4), dtype=float32)
    """
    leaves, in_tree = tree_util.flatten((args, kwargs))
    out_tree_box = []

    def flat_fun(*flat):
        a, kw = tree_util.unflatten(in_tree, list(flat))
        out = fun(*a, **kw)
        outs, t = tree_util.flatten(out)
        out_tree_box.append(t)
        return outs

    call, _ = closed_call(flat_fun, [leaf_aval(x) for x in leaves], reason="eval_shape")
    return tree_util.unflatten(
        out_tree_box[0], [ShapeDtypeStruct(a.shape, a.dtype, a.weak_type) for a in call.out_avals]
    )


# --------------------------------------------------------------------------- forward mode


def jvp(fun, primals, tangents, has_aux=False):
    """Forward-mode derivative: ``(fun(*primals), J @ tangents)``.

    Args:
        fun: the function.
        primals: a tuple or list of arguments (pytrees).
        tangents: a tuple or list with the same structure, shapes and dtypes.
        has_aux: ``fun`` returns ``(out, aux)``; aux is returned undifferentiated.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.jvp(dnp.sin, (0.0,), (2.0,))
        (Array(0., dtype=float32, weak_type=True), Array(2., dtype=float32, weak_type=True))
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError(
            "jvp: primals and tangents must be tuples or lists of arguments, got "
            f"{type(primals).__name__} and {type(tangents).__name__}; write "
            "jvp(f, (x,), (t,)) for one argument."
        )
    p_leaves, p_tree = tree_util.flatten(tuple(primals))
    t_leaves, t_tree = tree_util.flatten(tuple(tangents))
    if p_tree != t_tree:
        raise TypeError(
            "jvp: primals and tangents must have the same tree structure.\n"
            f"{tree_util.diff(tuple(primals), tuple(tangents)) or ''}"
        )
    p_leaves = [_asarray(p) for p in p_leaves]
    t_leaves = [_asarray(t) for t in t_leaves]
    for i, (p, t) in enumerate(zip(p_leaves, t_leaves, strict=True)):
        pa, ta = get_aval(p), get_aval(t)
        if pa.shape != ta.shape:
            raise ValueError(
                f"jvp: primal and tangent leaf {i} have shapes {pa.shape} and {ta.shape}; "
                "each tangent must have its primal's shape."
            )
        if _dtypes.is_inexact(pa.dtype) and pa.dtype != ta.dtype:
            raise TypeError(
                f"jvp: primal and tangent leaf {i} have dtypes {pa.dtype} and {ta.dtype}; "
                "each tangent must have its primal's dtype."
            )
    aux_box = []

    def flat_fun(*xs):
        out = fun(*tree_util.unflatten(p_tree, list(xs)))
        if has_aux:
            out, aux = _split_aux(out, "jvp")
            aux_box.append(aux)
        leaves, ot = tree_util.flatten(out)
        aux_box.insert(0, ot)
        return leaves

    tangents_in = [
        t if _dtypes.is_inexact(get_aval(p).dtype) else Zero.like(p)
        for p, t in zip(p_leaves, t_leaves, strict=True)
    ]
    outs, touts = jvp_flat(flat_fun, p_leaves, tangents_in)
    out_tree = aux_box[0]
    touts = [instantiate(t) for t in touts]
    res = (tree_util.unflatten(out_tree, outs), tree_util.unflatten(out_tree, touts))
    if has_aux:
        return (*res, _strip_tracers(aux_box[1]))
    return res


def _split_aux(out, fname):
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise TypeError(
            f"{fname} with has_aux=True needs the function to return a pair (output, aux), "
            f"got {type(out).__name__}."
        )
    return out[0], out[1]


def _strip_tracers(aux):
    def fix(x):
        if isinstance(x, Tracer):
            from ._ad import JVPTracer

            while isinstance(x, JVPTracer):
                x = x.primal
        return x

    return tree_util.map(fix, aux)


def linearize(fun, *primals):
    """Evaluate ``fun`` and return its linearization: ``(out, f_jvp)`` where
    ``f_jvp(*tangents)`` applies the Jacobian at ``primals`` (no re-tracing).

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> y, f_jvp = derivax.linearize(dnp.sin, 0.0)
        >>> f_jvp(3.0)
        Array(3., dtype=float32)
    """
    p_leaves, p_tree = tree_util.flatten(primals)
    p_leaves = [_asarray(p) for p in p_leaves]
    box = []

    def flat_fun(*xs):
        out = fun(*tree_util.unflatten(p_tree, list(xs)))
        leaves, ot = tree_util.flatten(out)
        box.append(ot)
        return leaves

    outs, lin = linearize_flat(flat_fun, p_leaves)
    out_tree = box[0]

    def f_jvp(*tangents):
        t_leaves, t_tree = tree_util.flatten(tangents)
        if t_tree != p_tree:
            raise TypeError(
                "linearize: the tangents must have the structure of the primals.\n"
                f"{tree_util.diff(primals, tangents) or ''}"
            )
        t_leaves = [
            E.convert_element_type(_asarray(t), a.dtype)
            for t, a in zip(t_leaves, lin.in_avals, strict=True)
        ]
        return tree_util.unflatten(out_tree, lin(*t_leaves))

    return tree_util.unflatten(out_tree, outs), f_jvp


# --------------------------------------------------------------------------- reverse mode


def vjp(fun, *primals, has_aux=False):
    """Reverse-mode derivative: ``(fun(*primals), f_vjp)`` where ``f_vjp(ct)`` returns one
    cotangent per primal (a tuple).

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> y, f_vjp = derivax.vjp(lambda x: x * 3.0, dnp.ones(2))
        >>> f_vjp(dnp.ones(2))
        (Array([3., 3.], dtype=float32),)
    """
    p_leaves, p_tree = tree_util.flatten(primals)
    p_leaves = [_asarray(p) for p in p_leaves]
    box = []

    def flat_fun(*xs):
        out = fun(*tree_util.unflatten(p_tree, list(xs)))
        if has_aux:
            out, aux = _split_aux(out, "vjp")
            box.append(aux)
        leaves, ot = tree_util.flatten(out)
        box.insert(0, ot)
        return leaves

    outs, pullback, lin = vjp_flat(flat_fun, p_leaves)
    out_tree = box[0]

    def f_vjp(ct):
        c_leaves, c_tree = tree_util.flatten(ct)
        if c_tree != out_tree:
            raise TypeError(
                "vjp: the cotangent must have the structure of the output: "
                f"expected {out_tree}, got {c_tree}."
            )
        fixed = []
        for c, a in zip(c_leaves, lin.out_avals, strict=True):
            c = _asarray(c)
            ca = get_aval(c)
            if ca.shape != a.shape:
                raise ValueError(
                    f"vjp: a cotangent has shape {ca.shape} but the output has shape {a.shape}."
                )
            fixed.append(E.convert_element_type(c, a.dtype) if ca.dtype != a.dtype else c)
        cts = pullback(fixed)
        return tree_util.unflatten(p_tree, cts)

    out = tree_util.unflatten(out_tree, outs)
    if has_aux:
        return out, f_vjp, box[1]
    return out, f_vjp


def value_and_grad(fun, argnums=0, has_aux=False, holomorphic=False, allow_int=False):
    """Return a function computing ``fun`` and its gradient with respect to ``argnums``.

    Args:
        fun: a function returning a real scalar (or ``(scalar, aux)`` with ``has_aux``).
        argnums: an int or a tuple of ints: which positional arguments to differentiate.
        has_aux: ``fun`` returns ``(loss, aux)``; the result is ``((loss, aux), grads)``.
        holomorphic: accepted for JAX compatibility (complex outputs are not supported yet).
        allow_int: allow integer inputs (their gradient is zero).

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> loss, g = derivax.value_and_grad(lambda w: dnp.sum(w ** 2))(dnp.array([1.0, 2.0]))
        >>> loss, g
        (Array(5., dtype=float32), Array([2., 4.], dtype=float32))
    """
    fname = f"grad of {getattr(fun, '__name__', 'the function')}"

    @functools.wraps(fun)
    def vg(*args, **kwargs):
        single, d_leaves, d_tree, call = _diff_args(fun, args, kwargs, argnums, fname, allow_int)
        box = []

        def flat_fun(*xs):
            out = call(*xs)
            if has_aux:
                out, aux = _split_aux(out, "grad")
                box.append(aux)
            out = _asarray(out) if not isinstance(out, (Tracer, Array)) else out
            if not isinstance(out, (Tracer, Array)) or get_aval(out).shape != ():
                what = (
                    f"an output of shape {get_aval(out).shape}"
                    if isinstance(out, (Tracer, Array))
                    else f"a {type(out).__name__}"
                )
                raise TypeError(
                    f"{fname}: grad needs a function with a scalar output, got {what}. "
                    "Reduce it (e.g. .sum() or .mean()), or use derivax.vjp / jacrev for "
                    "non-scalar outputs."
                )
            if not _dtypes.is_float(get_aval(out).dtype):
                raise TypeError(
                    f"{fname}: grad needs a real floating-point output, got "
                    f"{np.dtype(get_aval(out).dtype).name}."
                )
            return [out]

        outs, pullback, _ = vjp_flat(flat_fun, d_leaves)
        (y,) = outs
        one = E.convert_element_type(np.ones((), get_aval(y).dtype), get_aval(y).dtype)
        cts = pullback([_asarray(one)])
        cts = [
            E.convert_element_type(c, get_aval(x).dtype)
            if _dtypes.is_inexact(get_aval(x).dtype)
            else c
            for c, x in zip(cts, d_leaves, strict=True)
        ]
        grads = tree_util.unflatten(d_tree, cts)
        g = grads[0] if single else grads
        if has_aux:
            return (y, _strip_tracers(box[0])), g
        return y, g

    return vg


def grad(fun, argnums=0, has_aux=False, holomorphic=False, allow_int=False):
    """Return a function computing the gradient of scalar-valued ``fun``.

    Args:
        fun: a function returning a real scalar (or ``(scalar, aux)`` with ``has_aux``).
        argnums: an int or a tuple of ints: which positional arguments to differentiate.
        has_aux: ``fun`` returns ``(loss, aux)``; the result is ``(grads, aux)``.
        holomorphic: accepted for JAX compatibility.
        allow_int: allow integer inputs.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.grad(dnp.sin)(0.0)
        Array(1., dtype=float32)
        >>> derivax.grad(derivax.grad(derivax.grad(lambda x: x ** 4)))(1.0)
        Array(24., dtype=float32)
    """
    vg = value_and_grad(fun, argnums, has_aux, holomorphic, allow_int)

    @functools.wraps(fun)
    def g(*args, **kwargs):
        if has_aux:
            (_, aux), gr = vg(*args, **kwargs)
            return gr, aux
        return vg(*args, **kwargs)[1]

    return g


# --------------------------------------------------------------------------- Jacobians


def _std_basis(leaves):
    """Rows of an identity over the flattened leaves: shape (n, *leaf.shape) per leaf."""
    from . import numpy as dnp

    sizes = [int(np.prod(get_aval(x).shape, dtype=np.int64)) for x in leaves]
    total = sum(sizes)
    out = []
    start = 0
    for x, s in zip(leaves, sizes, strict=True):
        a = get_aval(x)
        eye = np.zeros((total, s), dtype=a.dtype)
        eye[np.arange(start, start + s), np.arange(s)] = 1
        out.append(dnp.asarray(eye.reshape((total, *a.shape))))
        start += s
    return out, total


def jacfwd(fun, argnums=0, has_aux=False, holomorphic=False):
    """Jacobian by forward mode (one jvp per input element, batched with vmap).

    The result has shape ``out.shape + in.shape`` (nested as output tree of input trees).

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.jacfwd(lambda x: x ** 2)(dnp.array([1.0, 2.0]))
        Array([[2., 0.],
               [0., 4.]], dtype=float32)
    """
    return _jacobian(fun, argnums, has_aux, "fwd")


def jacrev(fun, argnums=0, has_aux=False, holomorphic=False, allow_int=False):
    """Jacobian by reverse mode (one vjp per output element, batched with vmap).

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.jacrev(lambda x: dnp.sum(x) * x)(dnp.array([1.0, 2.0]))
        Array([[4., 1.],
               [2., 5.]], dtype=float32)
    """
    return _jacobian(fun, argnums, has_aux, "rev")


def _jacobian(fun, argnums, has_aux, mode):
    fname = "jacfwd" if mode == "fwd" else "jacrev"

    @functools.wraps(fun)
    def jac(*args, **kwargs):
        single, d_leaves, d_tree, call = _diff_args(fun, args, kwargs, argnums, fname, False)
        box = []

        def flat_fun(*xs):
            out = call(*xs)
            if has_aux:
                out, aux = _split_aux(out, fname)
                box.append(aux)
            leaves, ot = tree_util.flatten(out)
            box.insert(0, ot)
            return [_asarray(x) for x in leaves]

        if mode == "fwd":
            basis, n = _std_basis(d_leaves)

            def push(*ts):
                _, touts = jvp_flat(flat_fun, d_leaves, list(ts))
                return [instantiate(t) for t in touts]

            cols = vmap_flat(push, basis, [0] * len(basis), lambda k: [-1] * k, n)
            outs = flat_fun(*d_leaves) if not box else None
            out_leaves = [_asarray(o) for o in (outs or [])]
            out_tree = box[0]
            if outs is None:
                out_leaves = None
            # cols[j]: out_j.shape + (n,) -> split the last axis per input leaf.
            result = []
            for c in cols:
                ca = get_aval(c)
                per_in = []
                start = 0
                for x in d_leaves:
                    xa = get_aval(x)
                    s = int(np.prod(xa.shape, dtype=np.int64))
                    piece = c[..., start : start + s]
                    per_in.append(piece.reshape(ca.shape[:-1] + xa.shape))
                    start += s
                result.append(per_in)
            del out_leaves
        else:
            outs, pullback, lin = vjp_flat(flat_fun, d_leaves)
            out_tree = box[0]
            basis, n = _std_basis(outs)

            def pull(*cs):
                return pullback(list(cs))

            rows = vmap_flat(pull, basis, [0] * len(basis), lambda k: [0] * k, n)
            # rows[i]: (n_out_total, *in_i.shape) -> split the first axis per output leaf.
            result = []
            start = 0
            for o in outs:
                oa = get_aval(o)
                s = int(np.prod(oa.shape, dtype=np.int64))
                per_in = []
                for r in rows:
                    ra = get_aval(r)
                    piece = r[start : start + s]
                    per_in.append(piece.reshape(oa.shape + ra.shape[1:]))
                result.append(per_in)
                start += s
        # Nest: output tree of (argnums tree of input leaves).
        nested = [tree_util.unflatten(d_tree, per_in) for per_in in result]
        nested = [r[0] if single else r for r in nested]
        jac_tree = tree_util.unflatten(out_tree, nested)
        if has_aux:
            return jac_tree, _strip_tracers(box[-1] if mode == "fwd" else box[1])
        return jac_tree

    return jac


def hessian(fun, argnums=0, has_aux=False, holomorphic=False):
    """The Hessian of scalar ``fun``: ``jacfwd(jacrev(fun))``.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.hessian(lambda x: dnp.sum(x ** 3))(dnp.array([1.0, 2.0]))
        Array([[ 6.,  0.],
               [ 0., 12.]], dtype=float32)
    """
    return jacfwd(jacrev(fun, argnums, has_aux=has_aux), argnums, has_aux=has_aux)


# --------------------------------------------------------------------------- vmap


def _flatten_axes(name, tree, axes, is_in):
    """Broadcast a prefix tree of axes (ints/None) to the leaves of ``tree``."""
    if axes is None or isinstance(axes, int):
        return [axes] * len(tree_util.leaves(tree))
    try:
        axes_leaves, axes_tree = tree_util.flatten(axes, is_leaf=lambda x: x is None)
        subtrees = axes_tree.flatten_up_to(tree)
    except Exception as e:
        raise ValueError(
            f"vmap {name} specification must be a tree prefix of the corresponding value, "
            f"got {name}={axes!r}. ({e})"
        ) from None
    out = []
    for ax, sub in zip(axes_leaves, subtrees, strict=True):
        if ax is not None and not isinstance(ax, int):
            raise TypeError(f"vmap {name} entries must be ints or None, got {ax!r}.")
        out.extend([ax] * len(tree_util.leaves(sub)))
    return out


def vmap(fun, in_axes=0, out_axes=0, axis_name=None, axis_size=None, spmd_axis_name=None):
    """Vectorize ``fun`` over a mapped axis of its inputs.

    Args:
        fun: the function to batch.
        in_axes: an int, None, or a tuple with one entry per positional argument (each
            a prefix tree of ints/None): which axis of each input is mapped (None: not).
            Keyword arguments are always mapped over axis 0.
        out_axes: the same for the outputs.
        axis_name: a name for collective operations (``lax.psum``) over this axis.
        axis_size: the mapped size, required when no input is mapped.
        spmd_axis_name: accepted for JAX compatibility; ignored on one device.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.vmap(lambda x, y: dnp.dot(x, y), in_axes=(0, None))(dnp.ones((3, 2)), dnp.ones(2))
        Array([2., 2., 2.], dtype=float32)
    """
    if not callable(fun):
        raise TypeError(f"vmap expects a callable, got {type(fun).__name__}.")
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)

    @functools.wraps(fun)
    def batched(*args, **kwargs):
        if isinstance(in_axes, tuple) and len(in_axes) != len(args):
            raise ValueError(
                f"vmap in_axes has {len(in_axes)} entries but the function was called with "
                f"{len(args)} positional arguments; give one entry per argument."
            )
        leaves, in_tree = tree_util.flatten((args, kwargs))
        axes = _flatten_axes("in_axes", args, in_axes, True) + [0] * len(tree_util.leaves(kwargs))
        leaves = [_asarray(x) for x in leaves]
        names = _paths(args, "args") + _paths(kwargs, "kwargs")
        sizes = {}
        dims = []
        for x, ax, nm in zip(leaves, axes, names, strict=True):
            if ax is None:
                dims.append(None)
                continue
            nd = get_aval(x).ndim
            if not -nd <= ax < nd:
                raise ValueError(
                    f"vmap got in_axes={ax} for {nm} of shape {get_aval(x).shape} (rank {nd}); "
                    "the axis must be in range. Use None for arguments that are not mapped."
                )
            ax %= nd
            dims.append(ax)
            sizes.setdefault(get_aval(x).shape[ax], []).append(f"{nm} (axis {ax})")
        if len(sizes) > 1:
            detail = "; ".join(f"size {s}: {', '.join(v)}" for s, v in sizes.items())
            raise ValueError(
                f"vmap got inconsistent sizes for the mapped axis: {detail}. All mapped "
                "inputs must have the same size along their mapped axis."
            )
        if sizes:
            size = next(iter(sizes))
            if axis_size is not None and axis_size != size:
                raise ValueError(f"vmap: axis_size={axis_size} but the inputs have size {size}.")
        elif axis_size is not None:
            size = axis_size
        else:
            raise ValueError(
                "vmap needs at least one mapped input (an in_axes entry that is not None) or "
                "an explicit axis_size."
            )
        box = []

        def flat_fun(*xs):
            a, kw = tree_util.unflatten(in_tree, list(xs))
            out = fun(*a, **kw)
            ls, ot = tree_util.flatten(out)
            box.append((out, ot))
            return ls

        def out_dims(n):
            out, _ = box[0]
            return _flatten_axes("out_axes", out, out_axes, False)

        outs = vmap_flat(flat_fun, leaves, dims, out_dims, size, axis_name)
        return tree_util.unflatten(box[0][1], outs)

    return batched


# --------------------------------------------------------------------------- misc


def stop_gradient(x):
    """Treat ``x`` (any pytree) as a constant for differentiation.

    Example:
        >>> import derivax
        >>> derivax.grad(lambda x: x * derivax.stop_gradient(x))(3.0)
        Array(3., dtype=float32)
    """

    def stop(leaf):
        leaf = _asarray(leaf)
        if not _dtypes.is_inexact(get_aval(leaf).dtype):
            return leaf
        return E.stop_gradient_p.bind(leaf)

    return tree_util.map(stop, x)


def checkpoint(fun=None, *, prevent_cse=True, policy=None, static_argnums=()):
    """Mark ``fun`` for rematerialisation in reverse mode (``jax.checkpoint``).

    Values and derivatives are exactly those of ``fun``. The memory policy (recomputing
    the function's internals during the backward pass instead of storing them) is not
    applied yet: both back ends keep the residuals, so memory use is that of ``fun``.

    Example:
        >>> import derivax, derivax.numpy as dnp
        >>> derivax.grad(derivax.checkpoint(lambda x: dnp.sin(x) ** 2))(0.5)
        Array(0.841471, dtype=float32)
    """
    if fun is None:
        return functools.partial(
            checkpoint, prevent_cse=prevent_cse, policy=policy, static_argnums=static_argnums
        )

    @functools.wraps(fun)
    def wrapped(*args, **kwargs):
        return fun(*args, **kwargs)

    return wrapped


remat = checkpoint

del tangent_aval
