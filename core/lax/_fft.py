"""The ``fft`` primitive (complex and real transforms over trailing axes).

``fft(x, fft_type, fft_lengths)`` transforms the last ``len(fft_lengths)`` axes of ``x``:

* ``FFT`` and ``IFFT``: complex to complex; ``IFFT`` includes the ``1 / N`` factor.
* ``RFFT``: real to complex; the last axis of the result keeps ``n // 2 + 1`` frequencies.
* ``IRFFT``: complex to real; its input's last axis holds ``n // 2 + 1`` frequencies and the
  output has ``fft_lengths`` as trailing shape.

Complex cotangents follow JAX's convention: the cotangent ``c`` of a complex value ``z``
stands for the linear functional ``dz -> Re(c * dz)`` (no conjugate). Under it the full
transforms are their own transposes (the DFT matrix is symmetric), and the real transforms
need the Hermitian weighting worked out next to their transpose rules.
"""

from __future__ import annotations

import enum

import numpy as np

from .._ad_util import Zero, instantiate
from .._core import Primitive, ShapedArray
from . import _elementwise as E
from . import _structural as S
from ._complex import _COMPLEX_OF, _complex_dtype, _is_complex, _real_dtype, complex, real
from ._util import aval_of, is_float, val, wrap

__all__ = ["FftType", "fft"]


# --------------------------------------------------------------------------- fft


class FftType(enum.IntEnum):
    """The kind of transform ``lax.fft`` computes.

    ``FFT`` and ``IFFT`` are complex to complex (``IFFT`` divides by the number of points),
    ``RFFT`` is real to complex (half the spectrum) and ``IRFFT`` its inverse.

    Example:
        >>> from derivax import lax
        >>> lax.FftType.RFFT
        <FftType.RFFT: 2>
    """

    FFT = 0
    IFFT = 1
    RFFT = 2
    IRFFT = 3


def _fft_abstract_eval(x, *, fft_type, fft_lengths):
    k = len(fft_lengths)
    name = f"fft (fft_type={fft_type.name})"
    if k == 0 or any(n < 1 for n in fft_lengths):
        raise ValueError(
            f"{name}: fft_lengths must be a non-empty tuple of positive ints, got {fft_lengths}."
        )
    if x.ndim < k:
        raise ValueError(
            f"{name}: fft_lengths {fft_lengths} transform the last {k} axes, but the operand "
            f"{x.str_short()} has only {x.ndim}."
        )
    lead, tail = x.shape[: x.ndim - k], x.shape[x.ndim - k :]
    if fft_type == FftType.RFFT:
        if not is_float(x.dtype) or x.dtype not in _COMPLEX_OF:
            raise TypeError(
                f"{name}: the operand must be float32 or float64, got {x.str_short()}. "
                "Take the real part first, or use FftType.FFT for complex input."
            )
        want, out_dtype = tuple(fft_lengths), _complex_dtype(x.dtype)
        out_shape = (*lead, *fft_lengths[:-1], fft_lengths[-1] // 2 + 1)
    else:
        if not _is_complex(x.dtype):
            raise TypeError(
                f"{name}: the operand must be complex64 or complex128, got {x.str_short()}. "
                "Convert it with lax.convert_element_type (derivax.numpy.fft does this for "
                "you)."
            )
        if fft_type == FftType.IRFFT:
            want = (*fft_lengths[:-1], fft_lengths[-1] // 2 + 1)
            out_shape, out_dtype = (*lead, *fft_lengths), _real_dtype(x.dtype)
        else:
            want, out_shape, out_dtype = tuple(fft_lengths), x.shape, x.dtype
    if tail != want:
        raise ValueError(
            f"{name}: the operand's trailing shape {tail} must be {want} for fft_lengths "
            f"{fft_lengths} (operand {x.str_short()}). derivax.numpy.fft pads or crops to "
            "the requested lengths for you."
        )
    return ShapedArray(out_shape, out_dtype, False)


_NP_FFT = {
    FftType.FFT: lambda v, s, axes: np.fft.fftn(v, s=s, axes=axes),
    FftType.IFFT: lambda v, s, axes: np.fft.ifftn(v, s=s, axes=axes),
    FftType.RFFT: lambda v, s, axes: np.fft.rfftn(v, s=s, axes=axes),
    FftType.IRFFT: lambda v, s, axes: np.fft.irfftn(v, s=s, axes=axes),
}


def _fft_impl(x, *, fft_type, fft_lengths):
    v = val(x)
    out_aval = _fft_abstract_eval(aval_of(x), fft_type=fft_type, fft_lengths=fft_lengths)
    if v.size == 0 or out_aval.size == 0:
        return wrap(np.zeros(out_aval.shape, out_aval.dtype))
    axes = tuple(range(v.ndim - len(fft_lengths), v.ndim))
    out = _NP_FFT[fft_type](v, fft_lengths, axes)
    return wrap(np.asarray(out, out_aval.dtype))


def _fft_jvp(primals, tangents, *, fft_type, fft_lengths):
    (x,), (t,) = primals, tangents
    ans = fft_p.bind(x, fft_type=fft_type, fft_lengths=fft_lengths)
    if type(t) is Zero:
        return ans, Zero.like(ans)
    return ans, fft_p.bind(instantiate(t), fft_type=fft_type, fft_lengths=fft_lengths)


def _last_axis_config(ndim, lo, hi):
    return tuple((0, 0, 0) for _ in range(ndim - 1)) + ((lo, hi, 0),)


def _rfft_transpose(ct, fft_lengths):
    # rfftn(x) = (F x)[..., :m] with F the full (symmetric) DFT over fft_lengths, so
    # <ct, rfftn(dx)> = Re(sum(ct * F dx)[:m]) = sum(Re(F pad(ct)) * dx): pad the half
    # spectrum with zeros back to n points, transform, keep the real part.
    a = aval_of(ct)
    n, m = fft_lengths[-1], a.shape[-1]
    full = S.pad(ct, S.full((), 0, a.dtype), _last_axis_config(a.ndim, 0, n - m))
    return real(fft(full, FftType.FFT, fft_lengths))


def _irfft_transpose(ct, fft_lengths):
    # irfftn(z) extends z to a Hermitian spectrum and applies the inverse DFT, so frequency
    # k of the last axis stands for itself and (when 0 < k < n/2) its mirror image n - k:
    # it is counted twice. <ct, irfftn(dz)> = Re(sum(w * ifftn(ct)[..., :m] * dz)) with the
    # weight w = 1 for k = 0 (and k = n/2 when n is even) and 2 otherwise.
    a = aval_of(ct)
    n = fft_lengths[-1]
    m = n // 2 + 1
    cdt = _complex_dtype(a.dtype)
    # complex(ct, 0), not a dtype conversion: its own transpose must take the real part.
    spec = fft(complex(ct, S.full(a.shape, 0, a.dtype)), FftType.IFFT, fft_lengths)
    spec = S.slice_in_dim(spec, 0, m, axis=a.ndim - 1)
    weights = np.full((m,), 2.0)
    weights[0] = 1.0
    if n % 2 == 0:
        weights[-1] = 1.0
    shape = aval_of(spec).shape
    w = S.broadcast_in_dim(wrap(weights.astype(cdt)), shape, (len(shape) - 1,))
    return E.mul(spec, w)


def _fft_transpose(ct, x, *, fft_type, fft_lengths):
    if type(ct) is Zero:
        return [Zero(x.aval)]
    if fft_type == FftType.RFFT:
        return [_rfft_transpose(ct, fft_lengths)]
    if fft_type == FftType.IRFFT:
        return [_irfft_transpose(ct, fft_lengths)]
    # The DFT matrix (and so its inverse) is symmetric: each is its own transpose.
    return [fft(ct, fft_type, fft_lengths)]


def _fft_batch(vals, dims, *, fft_type, fft_lengths):
    (x,), (d,) = vals, dims
    # The transform acts on trailing axes; a leading batch axis stays out of its way.
    return fft_p.bind(S.moveaxis(x, d, 0), fft_type=fft_type, fft_lengths=fft_lengths), 0


fft_p = Primitive("fft")
fft_p.impl = _fft_impl
fft_p.abstract_eval = _fft_abstract_eval
fft_p.jvp = _fft_jvp
fft_p.transpose = _fft_transpose
fft_p.batch = _fft_batch
fft_p.linear = True
fft_p.print_params = lambda p: {"fft_type": p["fft_type"].name, "fft_lengths": p["fft_lengths"]}


def _canonical_fft_type(fft_type):
    if isinstance(fft_type, FftType):
        return fft_type
    if isinstance(fft_type, str) and fft_type.upper() in FftType.__members__:
        return FftType[fft_type.upper()]
    if isinstance(fft_type, int) and not isinstance(fft_type, bool) and 0 <= fft_type <= 3:
        return FftType(fft_type)
    raise ValueError(
        f"fft: fft_type must be a lax.FftType or one of 'fft', 'ifft', 'rfft', 'irfft', got "
        f"{fft_type!r}."
    )


def fft(x, fft_type, fft_lengths):
    """A discrete Fourier transform over the last ``len(fft_lengths)`` axes of ``x``.

    Unnormalized forward transforms and inverse transforms scaled by ``1 / prod(fft_lengths)``
    (NumPy's ``norm="backward"``). ``derivax.numpy.fft`` builds every NumPy transform on it.

    Args:
        x: the operand: complex for ``FFT``, ``IFFT`` and ``IRFFT``, float32/float64 for
            ``RFFT``. Its trailing shape must be ``fft_lengths`` (``IRFFT``: the last entry
            is ``n // 2 + 1``).
        fft_type: a ``FftType`` or its name (``"fft"``, ``"ifft"``, ``"rfft"``, ``"irfft"``).
        fft_lengths: the transform lengths, one per trailing axis.

    Returns:
        The transform: complex, except for ``IRFFT`` which returns the real dtype; ``RFFT``
        keeps ``n // 2 + 1`` entries on the last axis.

    Raises:
        TypeError: the operand's dtype does not fit ``fft_type``.
        ValueError: the trailing shape does not match ``fft_lengths``.

    Example:
        >>> import derivax.numpy as dnp
        >>> from derivax import lax
        >>> lax.fft(dnp.array([1.0, 2.0, 3.0, 4.0]), "rfft", (4,))
        Array([10.+0.j, -2.+2.j, -2.+0.j], dtype=complex64)
    """
    fft_type = _canonical_fft_type(fft_type)
    if isinstance(fft_lengths, (int, np.integer)):
        fft_lengths = (fft_lengths,)
    lengths = tuple(_operator_index(n, "fft_lengths") for n in fft_lengths)
    return fft_p.bind(x, fft_type=fft_type, fft_lengths=lengths)


def _operator_index(n, argname):
    """``n`` as a Python int, or a TypeError naming ``argname``."""
    try:
        return n.__index__()
    except (AttributeError, TypeError):
        raise TypeError(
            f"{argname} must hold Python ints (static lengths), got {type(n).__name__} {n!r}. "
            "Lengths cannot be traced values: pass them as static arguments."
        ) from None
