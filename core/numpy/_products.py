"""Products: ``matmul``, ``dot``, ``tensordot``, ``outer``, ``vdot`` and ``einsum``."""

from __future__ import annotations

import numpy as np

from .._core import get_aval
from ..lax import _elementwise as E
from ..lax import _structural as S
from ._util import broadcast_shapes, broadcast_to_shape, promote


def matmul(x1, x2, /):
    """Matrix product with NumPy's rules (1-D operands, broadcast batch dimensions).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.matmul(dnp.ones((2, 3)), dnp.ones((3, 4))).shape
        (2, 4)
    """
    a, b = promote("matmul", x1, x2)
    sa, sb = get_aval(a).shape, get_aval(b).shape
    if not sa or not sb:
        raise ValueError(
            f"matmul: operands must be at least 1-D, got shapes {sa} and {sb}; use * for scalars."
        )
    a_vec, b_vec = len(sa) == 1, len(sb) == 1
    if a_vec:
        a = S.reshape(a, (1, sa[0]))
    if b_vec:
        b = S.reshape(b, (sb[0], 1))
    sa, sb = get_aval(a).shape, get_aval(b).shape
    if sa[-1] != sb[-2]:
        raise ValueError(
            f"matmul: shapes {get_aval(x1).shape if hasattr(x1, 'shape') else sa} and "
            f"{get_aval(x2).shape if hasattr(x2, 'shape') else sb} are not aligned: the last "
            f"axis of the first ({sa[-1]}) must equal the second-to-last of the second "
            f"({sb[-2]})."
        )
    batch = broadcast_shapes(sa[:-2], sb[:-2], fname="matmul (batch dimensions)")
    nb = len(batch)
    if sa[:-2] != batch:
        a = broadcast_to_shape(a, batch + sa[-2:])
    if sb[:-2] != batch:
        b = broadcast_to_shape(b, batch + sb[-2:])
    bd = tuple(range(nb))
    out = S.dot_general(a, b, (((nb + 1,), (nb,)), (bd, bd)))
    shape = list(get_aval(out).shape)
    if b_vec:
        shape.pop(-1)
    if a_vec:
        shape.pop(-1 if b_vec else -2)
    return S.reshape(out, tuple(shape))


def dot(a, b, *, precision=None, preferred_element_type=None):
    """NumPy's ``dot``: scalars multiply, 1-D·1-D is an inner product, otherwise the last axis
    of ``a`` contracts with the second-to-last (or only) axis of ``b``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.dot(dnp.array([1.0, 2.0]), dnp.array([3.0, 4.0]))
        Array(11., dtype=float32)
    """
    a, b = promote("dot", a, b)
    na, nb = get_aval(a).ndim, get_aval(b).ndim
    if na == 0 or nb == 0:
        from ._elementwise import multiply

        return multiply(a, b)
    cb = 0 if nb == 1 else nb - 2
    sa, sb = get_aval(a).shape, get_aval(b).shape
    if sa[-1] != sb[cb]:
        raise ValueError(
            f"dot: shapes {sa} and {sb} are not aligned: dimension {na - 1} of the first "
            f"({sa[-1]}) must equal dimension {cb} of the second ({sb[cb]})."
        )
    return S.dot_general(a, b, (((na - 1,), (cb,)), ((), ())))


def vdot(a, b, /):
    """Inner product of the flattened arrays.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.vdot(dnp.ones((2, 2)), dnp.ones((2, 2)))
        Array(4., dtype=float32)
    """
    a, b = promote("vdot", a, b)
    if get_aval(a).size != get_aval(b).size:
        raise ValueError(
            f"vdot: the arrays have {get_aval(a).size} and {get_aval(b).size} elements."
        )
    a = S.reshape(a, (get_aval(a).size,))
    b = S.reshape(b, (get_aval(b).size,))
    return S.dot_general(a, b, (((0,), (0,)), ((), ())))


def inner(a, b, /):
    """Contract the last axes of ``a`` and ``b``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.inner(dnp.ones((2, 3)), dnp.ones(3))
        Array([3., 3.], dtype=float32)
    """
    a, b = promote("inner", a, b)
    na, nb = get_aval(a).ndim, get_aval(b).ndim
    if na == 0 or nb == 0:
        from ._elementwise import multiply

        return multiply(a, b)
    return S.dot_general(a, b, (((na - 1,), (nb - 1,)), ((), ())))


def outer(a, b, /):
    """Outer product of the flattened arrays.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.outer(dnp.array([1.0, 2.0]), dnp.array([1.0, 10.0]))
        Array([[ 1., 10.],
               [ 2., 20.]], dtype=float32)
    """
    a, b = promote("outer", a, b)
    a = S.reshape(a, (get_aval(a).size, 1))
    b = S.reshape(b, (1, get_aval(b).size))
    return S.dot_general(a, b, (((1,), (0,)), ((), ())))


def tensordot(a, b, axes=2):
    """Contract ``axes`` (an int: the last/first n axes; or a pair of sequences).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.tensordot(dnp.ones((2, 3, 4)), dnp.ones((3, 4, 5)), axes=2).shape
        (2, 5)
    """
    a, b = promote("tensordot", a, b)
    na, nb = get_aval(a).ndim, get_aval(b).ndim
    if isinstance(axes, (int, np.integer)):
        axes = int(axes)
        ca, cb = tuple(range(na - axes, na)), tuple(range(axes))
    else:
        ca, cb = axes
        ca = (ca,) if isinstance(ca, int) else tuple(ca)
        cb = (cb,) if isinstance(cb, int) else tuple(cb)
        ca = tuple(c % na for c in ca)
        cb = tuple(c % nb for c in cb)
    for i, j in zip(ca, cb, strict=True):
        if get_aval(a).shape[i] != get_aval(b).shape[j]:
            raise ValueError(
                f"tensordot: axis {i} of shape {get_aval(a).shape} and axis {j} of shape "
                f"{get_aval(b).shape} differ in size."
            )
    return S.dot_general(a, b, ((ca, cb), ((), ())))


# --------------------------------------------------------------------------- einsum


def _parse_einsum(subscripts, shapes):
    subscripts = subscripts.replace(" ", "")
    if "->" in subscripts:
        ins, out = subscripts.split("->")
    else:
        ins, out = subscripts, None
    terms = ins.split(",")
    if len(terms) != len(shapes):
        raise ValueError(
            f"einsum: the subscripts name {len(terms)} operands but {len(shapes)} were given."
        )
    # Expand '...' into fresh letters (broadcast dims are not mixed here: each operand's
    # ellipsis stands for its own leading dims, aligned from the right).
    used = set("".join(terms) + (out or ""))
    free = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in used]
    ell_dims = []
    for t, shape in zip(terms, shapes, strict=True):
        n = len(shape) - (len(t) - 3) if "..." in t else 0
        if n < 0:
            raise ValueError(f"einsum: operand with subscripts {t!r} has shape {shape}.")
        ell_dims.append(n)
    max_ell = max(ell_dims, default=0)
    # Each operand's '...' stands for its own trailing-aligned share of the broadcast dims.
    expanded = [
        t.replace("...", "".join(free[max_ell - n : max_ell])) if "..." in t else t
        for t, n in zip(terms, ell_dims, strict=True)
    ]
    ell = "".join(free[:max_ell])
    if out is None:
        counts = {}
        for t in expanded:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, k in counts.items() if k == 1 and c not in ell))
    else:
        out = out.replace("...", ell)
    for t, shape in zip(expanded, shapes, strict=True):
        if len(t) != len(shape):
            raise ValueError(
                f"einsum: subscripts {t!r} have {len(t)} letters but the operand has shape {shape}."
            )
    return expanded, out


def _reduce_unused(x, term, keep):
    """Sum out letters of ``term`` not in ``keep``; take diagonals of repeated letters."""
    # Repeated letters within one operand: take the diagonal.
    while len(set(term)) != len(term):
        c = next(ch for ch in term if term.count(ch) > 1)
        i = term.index(c)
        j = term.index(c, i + 1)
        x = _diagonal(x, i, j)
        term = term[:i] + term[i + 1 : j] + term[j + 1 :] + c
    drop = tuple(i for i, c in enumerate(term) if c not in keep)
    if drop:
        x = S.reduce_sum(x, drop)
        term = "".join(c for c in term if c in keep)
    return x, term


def _diagonal(x, i, j):
    from ._indexing import _take_diagonal

    return _take_diagonal(x, i, j)


def einsum(subscripts, *operands, optimize="optimal", precision=None, preferred_element_type=None):
    """Einstein summation over any subscripts (contracted pairwise, left to right).

    Example:
        >>> import derivax.numpy as dnp
        >>> a, b = dnp.ones((2, 3)), dnp.ones((3, 4))
        >>> dnp.einsum("ij,jk->ik", a, b).shape
        (2, 4)
        >>> dnp.einsum("ii", dnp.eye(3))
        Array(3., dtype=float32)
    """
    if not isinstance(subscripts, str):
        raise TypeError("einsum: only the string form of subscripts is supported.")
    ops = promote("einsum", *operands)
    terms, out = _parse_einsum(subscripts, [get_aval(o).shape for o in ops])
    sizes = {}
    for t, o in zip(terms, ops, strict=True):
        for c, s in zip(t, get_aval(o).shape, strict=True):
            if c in sizes and sizes[c] != s and 1 not in (s, sizes[c]):
                raise ValueError(
                    f"einsum: index {c!r} has size {sizes[c]} in one operand and {s} in another."
                )
            sizes[c] = s if sizes.get(c, 1) == 1 else sizes[c]

    def needed_later(k):
        rest = "".join(terms[k + 1 :]) + out
        return rest

    x, tx = _reduce_unused(ops[0], terms[0], needed_later(0) + "".join(terms[1:]))
    for k in range(1, len(ops)):
        y, ty = _reduce_unused(ops[k], terms[k], needed_later(k) + tx)
        keep = needed_later(k)
        shared = [c for c in tx if c in ty]
        batch = [c for c in shared if c in keep]
        contract = [c for c in shared if c not in keep]
        # Broadcast size-1 dims that meet a larger one.
        x = _expand_to(x, tx, sizes)
        y = _expand_to(y, ty, sizes)
        dn = (
            (tuple(tx.index(c) for c in contract), tuple(ty.index(c) for c in contract)),
            (tuple(tx.index(c) for c in batch), tuple(ty.index(c) for c in batch)),
        )
        x = S.dot_general(x, y, dn)
        tx = (
            "".join(batch)
            + "".join(c for c in tx if c not in shared)
            + "".join(c for c in ty if c not in shared)
        )
    x, tx = _reduce_unused(x, tx, out)
    if sorted(tx) != sorted(out):
        missing = set(out) - set(tx)
        raise ValueError(f"einsum: output indices {sorted(missing)} do not appear in the inputs.")
    x = S.transpose(x, tuple(tx.index(c) for c in out))
    if preferred_element_type is not None:
        x = E.convert_element_type(x, np.dtype(preferred_element_type))
    return x


def _expand_to(x, term, sizes):
    shape = get_aval(x).shape
    want = tuple(sizes[c] for c in term)
    if shape == want:
        return x
    return S.broadcast_in_dim(x, want, tuple(range(len(term))))
