"""Complex-part primitives: ``real``, ``imag``, ``complex`` and ``conj``.

Complex cotangents follow JAX's convention: the cotangent ``c`` of a complex value ``z``
stands for the linear functional ``dz -> Re(c * dz)`` (no conjugate); the transpose rules
below are written for it.
"""

from __future__ import annotations

import numpy as np

from .._ad_util import Zero, is_undefined
from .._core import Primitive, ShapedArray
from . import _elementwise as E
from . import _structural as S
from ._util import aval_of, val, weak, wrap

__all__ = ["complex", "conj", "imag", "real"]

_REAL_OF = {
    np.dtype(np.complex64): np.dtype(np.float32),
    np.dtype(np.complex128): np.dtype(np.float64),
}
_COMPLEX_OF = {v: k for k, v in _REAL_OF.items()}


def _real_dtype(dtype):
    return _REAL_OF[np.dtype(dtype)]


def _complex_dtype(dtype):
    return _COMPLEX_OF[np.dtype(dtype)]


def _is_complex(dtype):
    return np.dtype(dtype).kind == "c"


# --------------------------------------------------------------------------- complex parts


def _check_complex(name, aval):
    if not _is_complex(aval.dtype):
        raise TypeError(
            f"{name} requires a complex64 or complex128 operand, got {aval.str_short()}. "
            "For a real array the real part is the array itself (and the imaginary part "
            "zeros)."
        )


def _real_abstract_eval(x):
    _check_complex("real", x)
    return ShapedArray(x.shape, _real_dtype(x.dtype), x.weak_type)


def _imag_abstract_eval(x):
    _check_complex("imag", x)
    return ShapedArray(x.shape, _real_dtype(x.dtype), x.weak_type)


def _conj_abstract_eval(x):
    _check_complex("conj", x)
    return x


def _complex_abstract_eval(x, y):
    if x.shape != y.shape or x.dtype != y.dtype or x.dtype not in _COMPLEX_OF:
        raise TypeError(
            "complex requires real and imaginary parts of one shape and one dtype, float32 "
            f"or float64, got {x.str_short()} and {y.str_short()}. derivax.numpy broadcasts "
            "and promotes for you; with derivax.lax convert and broadcast first."
        )
    return ShapedArray(x.shape, _complex_dtype(x.dtype), x.weak_type and y.weak_type)


def _real_transpose(ct, x):
    # <ct, Re(dz)> = Re(ct * dz): the cotangent of z is ct itself, as a complex number.
    if type(ct) is Zero:
        return [Zero(x.aval)]
    return [complex(ct, S.full(aval_of(ct).shape, 0, aval_of(ct).dtype))]


def _imag_transpose(ct, x):
    # <ct, Im(dz)> = Re(-i * ct * dz).
    if type(ct) is Zero:
        return [Zero(x.aval)]
    return [complex(S.full(aval_of(ct).shape, 0, aval_of(ct).dtype), E.neg(ct))]


def _complex_transpose(ct, x, y):
    # Re(ct * (dx + i dy)) = Re(ct) dx - Im(ct) dy.
    out = [None, None]
    if is_undefined(x):
        out[0] = Zero(x.aval) if type(ct) is Zero else real(ct)
    if is_undefined(y):
        out[1] = Zero(y.aval) if type(ct) is Zero else E.neg(imag(ct))
    return out


def _conj_transpose(ct, x):
    return [Zero(x.aval) if type(ct) is Zero else conj(ct)]


def _part_prim(name, np_fn, abstract_eval, transpose, nargs=1):
    prim = Primitive(name)

    def impl(*args):
        abstract_eval(*[aval_of(a) for a in args])  # the same dtype errors as under jit
        out = np_fn(*[val(a) for a in args])
        return wrap(np.asarray(out), all(weak(a) for a in args))

    prim.impl = impl
    prim.abstract_eval = abstract_eval
    prim.jvp = S._linear_jvp(prim)
    prim.transpose = transpose
    prim.batch = E._elementwise_batch(prim)
    prim.linear = True
    prim.nargs = nargs
    return prim


real_p = _part_prim("real", np.real, _real_abstract_eval, _real_transpose)
imag_p = _part_prim("imag", np.imag, _imag_abstract_eval, _imag_transpose)
conj_p = _part_prim("conj", np.conj, _conj_abstract_eval, _conj_transpose)


def _np_complex(x, y):
    # Assign the parts: x + 1j * y would turn an infinite y into a NaN real part.
    out = np.empty(np.broadcast_shapes(x.shape, y.shape), _complex_dtype(x.dtype))
    out.real, out.imag = x, y
    return out


complex_p = _part_prim("complex", _np_complex, _complex_abstract_eval, _complex_transpose, 2)


def real(x):
    """The real part of a complex array.

    Args:
        x: a complex64 or complex128 array.

    Returns:
        A float32 or float64 array of ``x``'s shape.

    Raises:
        TypeError: ``x`` is not complex.

    Example:
        >>> import numpy as np, derivax.numpy as dnp
        >>> from derivax import lax
        >>> lax.real(dnp.asarray(np.array([1 + 2j], np.complex64)))
        Array([1.], dtype=float32)
    """
    return real_p.bind(x)


def imag(x):
    """The imaginary part of a complex array.

    Args:
        x: a complex64 or complex128 array.

    Returns:
        A float32 or float64 array of ``x``'s shape.

    Raises:
        TypeError: ``x`` is not complex.

    Example:
        >>> import numpy as np, derivax.numpy as dnp
        >>> from derivax import lax
        >>> lax.imag(dnp.asarray(np.array([1 + 2j], np.complex64)))
        Array([2.], dtype=float32)
    """
    return imag_p.bind(x)


def conj(x):
    """The complex conjugate of a complex array.

    Args:
        x: a complex64 or complex128 array.

    Returns:
        An array of ``x``'s shape and dtype.

    Raises:
        TypeError: ``x`` is not complex.

    Example:
        >>> import numpy as np, derivax.numpy as dnp
        >>> from derivax import lax
        >>> lax.conj(dnp.asarray(np.array([1 + 2j], np.complex64)))
        Array([1.-2.j], dtype=complex64)
    """
    return conj_p.bind(x)


def complex(x, y):  # noqa: A001 - mirrors lax.complex
    """The complex array ``x + 1j * y``.

    Args:
        x: the real part, float32 or float64.
        y: the imaginary part, of ``x``'s shape and dtype.

    Returns:
        A complex64 (from float32) or complex128 (from float64) array.

    Raises:
        TypeError: the parts differ in shape or dtype, or are not float32/float64.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> lax.complex(dnp.array([1.0]), dnp.array([2.0]))
        Array([1.+2.j], dtype=complex64)
    """
    return complex_p.bind(x, y)
