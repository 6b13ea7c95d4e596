"""NumPy's ``numpy.fft`` on derivax arrays, built on the ``lax.fft`` primitive.

Every transform moves its axes to the end, pads or crops them to the requested lengths,
binds ``lax.fft`` once and moves the axes back, so it runs eagerly and under ``jit``,
``grad`` and ``vmap``. Normalization follows NumPy (``norm`` is ``"backward"`` (default,
also ``None``), ``"ortho"`` or ``"forward"``), as does the output dtype: float32 and
complex64 inputs give complex64 (float32 for the real-output transforms); integer inputs
are first converted to the default float type.
"""

from __future__ import annotations

import math

import numpy as np

from ... import _dtypes
from ..._array import check_device
from ..._core import get_aval
from ...lax import _elementwise as E
from ...lax import _structural as S
from ...lax._complex import complex as complex_
from ...lax._complex import conj
from ...lax._fft import FftType
from ...lax._fft import fft as _lax_fft
from .._util import asarray_any, check_arraylike

__all__ = [
    "fft",
    "fft2",
    "fftfreq",
    "fftn",
    "fftshift",
    "hfft",
    "ifft",
    "ifft2",
    "ifftn",
    "ifftshift",
    "ihfft",
    "irfft",
    "irfft2",
    "irfftn",
    "rfft",
    "rfft2",
    "rfftfreq",
    "rfftn",
]

_NORMS = (None, "backward", "ortho", "forward")
_INVERSE = {FftType.IFFT, FftType.IRFFT}

# --------------------------------------------------------------------------- helpers


def _check_norm(name, norm):
    if norm not in _NORMS:
        raise ValueError(
            f"{name}: norm must be 'backward' (or None), 'ortho' or 'forward', got {norm!r}."
        )
    return "backward" if norm is None else norm


def _swap_direction(norm):
    return {"backward": "forward", "ortho": "ortho", "forward": "backward"}[norm]


def _as_input(name, a, fft_type):
    """``a`` as an array of the dtype the transform takes (complex, or real for RFFT)."""
    check_arraylike(name, a)
    a = asarray_any(a)
    dt = np.dtype(a.dtype)
    if fft_type == FftType.RFFT:
        if dt.kind == "c":
            raise TypeError(
                f"{name}: the input must be real, got {a.dtype} of shape {a.shape}. Use "
                f"derivax.numpy.fft.{name.replace('r', '', 1)} for complex input, or take "
                "the real part first."
            )
        if dt not in (_dtypes.float32, _dtypes.float64):
            a = E.convert_element_type(a, _float_for(dt))
        return a
    if dt.kind != "c":
        a = _to_complex(a)
    return a


def _to_complex(x):
    # lax.complex(x, 0) rather than a dtype conversion: its transpose takes the real part
    # of the cotangent (convert_element_type's would cast complex to real).
    dt = np.dtype(x.dtype)
    if dt not in (_dtypes.float32, _dtypes.float64):
        x = E.convert_element_type(x, _float_for(dt))
    return complex_(x, S.full(x.shape, 0, x.dtype))


def _float_for(dt):
    dt = np.dtype(dt)
    if dt == np.float64:
        return dt
    if dt.kind in "biu":
        return _dtypes.default_float_dtype()
    return np.dtype(np.float32)  # float16 and bfloat16 are computed in float32, as JAX does


def _static_int(name, argname, v):
    try:
        return v.__index__()
    except (AttributeError, TypeError):
        raise TypeError(
            f"{name}: {argname} must be a Python int (a static length or axis), got "
            f"{type(v).__name__} {v!r}. Traced values cannot set shapes: pass it as a static "
            "argument."
        ) from None


def _canonical_axes(name, axes, ndim):
    out = []
    for ax in axes:
        ax = _static_int(name, "axes", ax)
        if not -ndim <= ax < ndim:
            raise ValueError(
                f"{name}: axis {ax} is out of bounds for an array of rank {ndim}. Pick axes "
                f"in [{-ndim}, {ndim})."
            )
        out.append(ax % ndim)
    if len(set(out)) != len(out):
        raise ValueError(
            f"{name}: axes {tuple(axes)} repeat an axis; give each axis once (apply the "
            "transform twice to transform an axis twice)."
        )
    return tuple(out)


def _axes_and_lengths(name, a, s, axes, fft_type):
    """The canonical axes and the output lengths ``s`` along them (NumPy's rules)."""
    ndim = a.ndim
    if s is not None:
        s = (s,) if isinstance(s, (int, np.integer)) else tuple(s)
        s = tuple(_static_int(name, "s", n) for n in s)
    if axes is None:
        axes = tuple(range(ndim)) if s is None else tuple(range(ndim - len(s), ndim))
        if s is not None and len(s) > ndim:
            raise ValueError(
                f"{name}: s={s} has {len(s)} entries but the input of shape {a.shape} has "
                f"only {ndim} axes."
            )
    else:
        axes = (axes,) if isinstance(axes, (int, np.integer)) else tuple(axes)
    axes = _canonical_axes(name, axes, ndim)
    if not axes:
        raise ValueError(f"{name}: no axes to transform (input shape {a.shape}, axes {axes}).")
    if s is None:
        s = tuple(a.shape[ax] for ax in axes)
        if fft_type == FftType.IRFFT:
            s = (*s[:-1], 2 * (s[-1] - 1))
    else:
        if len(s) != len(axes):
            raise ValueError(
                f"{name}: s={s} and axes={axes} must have the same length (one output "
                "length per transformed axis)."
            )
        defaults = [a.shape[ax] for ax in axes]
        if fft_type == FftType.IRFFT:
            defaults[-1] = 2 * (defaults[-1] - 1)
        s = tuple(d if n == -1 else n for n, d in zip(s, defaults, strict=True))
    for n in s:
        if n < 1:
            raise ValueError(
                f"{name}: invalid number of FFT data points {n} (lengths {s} along axes "
                f"{axes} of an input of shape {a.shape}); every length must be >= 1."
            )
    return axes, s


def _resize(x, axis, n):
    """Crop or zero-pad axis ``axis`` of ``x`` to length ``n``."""
    a = get_aval(x)
    size = a.shape[axis]
    if size == n:
        return x
    if size > n:
        return S.slice_in_dim(x, 0, n, axis=axis)
    cfg = [(0, 0, 0)] * a.ndim
    cfg[axis] = (0, n - size, 0)
    return S.pad(x, S.full((), 0, a.dtype), tuple(cfg))


def _scale(x, norm, n, fft_type):
    inverse = fft_type in _INVERSE
    if norm == "backward":
        return x
    if norm == "ortho":
        factor = math.sqrt(n) if inverse else 1 / math.sqrt(n)
    else:  # "forward"
        factor = n if inverse else 1 / n
    dt = get_aval(x).dtype
    return E.mul(x, S.full(get_aval(x).shape, factor, dt))


def _fftn(name, a, s, axes, norm, fft_type):
    norm = _check_norm(name, norm)
    a = _as_input(name, a, fft_type)
    axes, s = _axes_and_lengths(name, a, s, axes, fft_type)
    ndim = a.ndim
    rest = [ax for ax in range(ndim) if ax not in axes]
    perm = (*rest, *axes)
    x = S.transpose(a, perm) if perm != tuple(range(ndim)) else a
    k = len(axes)
    in_lengths = list(s)
    if fft_type == FftType.IRFFT:
        in_lengths[-1] = s[-1] // 2 + 1
    for i, n in enumerate(in_lengths):
        x = _resize(x, ndim - k + i, n)
    out = _lax_fft(x, fft_type, s)
    if perm != tuple(range(ndim)):
        out = S.transpose(out, tuple(int(i) for i in np.argsort(perm)))
    return _scale(out, norm, math.prod(s), fft_type)


def _one_axis(name, n, axis):
    return (None if n is None else (_static_int(name, "n", n),)), (axis,)


# --------------------------------------------------------------------------- transforms


def fft(a, n=None, axis=-1, norm=None):
    """The one-dimensional discrete Fourier transform.

    Args:
        a: the input array (real inputs are converted to complex).
        n: the number of points: the axis is cropped or zero-padded to it (default: its
            length).
        axis: the axis to transform.
        norm: ``"backward"`` (default, same as None: no scaling), ``"ortho"`` (scale by
            ``1 / sqrt(n)``) or ``"forward"`` (scale by ``1 / n``).

    Returns:
        A complex array (complex64 for 32-bit and integer inputs).

    Raises:
        ValueError: ``n < 1``, ``axis`` out of range, or an unknown ``norm``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.fft.fft(dnp.array([1.0, 0.0, 0.0, 0.0]))
        Array([1.+0.j, 1.+0.j, 1.+0.j, 1.+0.j], dtype=complex64)
    """
    s, axes = _one_axis("fft", n, axis)
    return _fftn("fft", a, s, axes, norm, FftType.FFT)


def ifft(a, n=None, axis=-1, norm=None):
    """The one-dimensional inverse discrete Fourier transform.

    Args:
        a: the input array (real inputs are converted to complex).
        n: the number of points (the axis is cropped or zero-padded to it).
        axis: the axis to transform.
        norm: ``"backward"`` (default: scale by ``1 / n``), ``"ortho"`` or ``"forward"``
            (no scaling).

    Returns:
        A complex array.

    Raises:
        ValueError: ``n < 1``, ``axis`` out of range, or an unknown ``norm``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.fft.ifft(dnp.array([4.0, 0.0, 0.0, 0.0]))
        Array([1.+0.j, 1.+0.j, 1.+0.j, 1.+0.j], dtype=complex64)
    """
    s, axes = _one_axis("ifft", n, axis)
    return _fftn("ifft", a, s, axes, norm, FftType.IFFT)


def fft2(a, s=None, axes=(-2, -1), norm=None):
    """The two-dimensional discrete Fourier transform (over the last two axes by default).

    Args:
        a: the input array.
        s: the output lengths along ``axes`` (crop or zero-pad; -1 keeps an axis' length).
        axes: the two axes to transform.
        norm: ``"backward"`` (default), ``"ortho"`` or ``"forward"``.

    Returns:
        A complex array.

    Raises:
        ValueError: bad lengths or axes, or an unknown ``norm``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.fft.fft2(dnp.ones((2, 2)))
        Array([[4.+0.j, 0.+0.j],
               [0.+0.j, 0.+0.j]], dtype=complex64)
    """
    return _fftn("fft2", a, s, axes, norm, FftType.FFT)


def ifft2(a, s=None, axes=(-2, -1), norm=None):
    """The two-dimensional inverse discrete Fourier transform.

    Args:
        a: the input array.
        s: the output lengths along ``axes``.
        axes: the two axes to transform.
        norm: ``"backward"`` (default), ``"ortho"`` or ``"forward"``.

    Returns:
        A complex array.

    Raises:
        ValueError: bad lengths or axes, or an unknown ``norm``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.fft.ifft2(dnp.array([[4.0, 0.0], [0.0, 0.0]]))
        Array([[1.+0.j, 1.+0.j],
               [1.+0.j, 1.+0.j]], dtype=complex64)
    """
    return _fftn("ifft2", a, s, axes, norm, FftType.IFFT)


def fftn(a, s=None, axes=None, norm=None):
    """The N-dimensional discrete Fourier transform.

    Args:
        a: the input array.
        s: the output lengths along ``axes`` (default: the input's); with ``axes`` None,
            ``s`` applies to the last ``len(s)`` axes.
        axes: the axes to transform (default: all, or the last ``len(s)``).
        norm: ``"backward"`` (default), ``"ortho"`` or ``"forward"``.

    Returns:
        A complex array.

    Raises:
        ValueError: bad lengths or axes, or an unknown ``norm``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.fft.fftn(dnp.ones((1, 2)))
        Array([[2.+0.j, 0.+0.j]], dtype=complex64)
    """
    return _fftn("fftn", a, s, axes, norm, FftType.FFT)


def ifftn(a, s=None, axes=None, norm=None):
    """The N-dimensional inverse discrete Fourier transform.

    Args:
        a: the input array.
        s: the output lengths along ``axes``.
        axes: the axes to transform (default: all, or the last ``len(s)``).
        norm: ``"backward"`` (default), ``"ortho"`` or ``"forward"``.

    Returns:
        A complex array.

    Raises:
        ValueError: bad lengths or axes, or an unknown ``norm``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.fft.ifftn(dnp.array([[2.0, 0.0]]))
        Array([[1.+0.j, 1.+0.j]], dtype=complex64)
    """
    return _fftn("ifftn", a, s, axes, norm, FftType.IFFT)


def rfft(a, n=None, axis=-1, norm=None):
    """The one-dimensional discrete Fourier transform of a real input (half spectrum).

    Args:
        a: a real input array.
        n: the number of input points (crop or zero-pad); the output has ``n // 2 + 1``.
        axis: the axis to transform.
        norm: ``"backward"`` (default), ``"ortho"`` or ``"forward"``.

    Returns:
        A complex array (complex64 for float32 input).

    Raises:
        TypeError: the input is complex.
        ValueError: ``n < 1``, ``axis`` out of range, or an unknown ``norm``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.fft.rfft(dnp.array([1.0, 2.0, 3.0, 4.0]))
        Array([10.+0.j, -2.+2.j, -2.+0.j], dtype=complex64)
    """
    s, axes = _one_axis("rfft", n, axis)
    return _fftn("rfft", a, s, axes, norm, FftType.RFFT)


def irfft(a, n=None, axis=-1, norm=None):
    """The inverse of ``rfft``: a real signal from half of a Hermitian spectrum.

    Args:
        a: the half spectrum.
        n: the length of the output (default ``2 * (a.shape[axis] - 1)``); the input axis
            is cropped or zero-padded to ``n // 2 + 1``.
        axis: the axis to transform.
        norm: ``"backward"`` (default), ``"ortho"`` or ``"forward"``.

    Returns:
        A real array (float32 for complex64 input).

    Raises:
        ValueError: ``n < 1``, ``axis`` out of range, or an unknown ``norm``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.fft.irfft(dnp.array([4.0, 0.0, 0.0]))
        Array([1., 1., 1., 1.], dtype=float32)
    """
    s, axes = _one_axis("irfft", n, axis)
    return _fftn("irfft", a, s, axes, norm, FftType.IRFFT)


def rfft2(a, s=None, axes=(-2, -1), norm=None):
    """The two-dimensional discrete Fourier transform of a real input.

    Args:
        a: a real input array.
        s: the input lengths along ``axes`` (crop or zero-pad).
        axes: the two axes; the last one is halved.
        norm: ``"backward"`` (default), ``"ortho"`` or ``"forward"``.

    Returns:
        A complex array.

    Raises:
        TypeError: the input is complex.
        ValueError: bad lengths or axes, or an unknown ``norm``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.fft.rfft2(dnp.ones((2, 2)))
        Array([[4.+0.j, 0.+0.j],
               [0.+0.j, 0.+0.j]], dtype=complex64)
    """
    return _fftn("rfft2", a, s, axes, norm, FftType.RFFT)


def irfft2(a, s=None, axes=(-2, -1), norm=None):
    """The inverse of ``rfft2``.

    Args:
        a: the half spectrum.
        s: the output lengths along ``axes``.
        axes: the two axes; the last one holds the half spectrum.
        norm: ``"backward"`` (default), ``"ortho"`` or ``"forward"``.

    Returns:
        A real array.

    Raises:
        ValueError: bad lengths or axes, or an unknown ``norm``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.fft.irfft2(dnp.array([[4.0, 0.0], [0.0, 0.0]]))
        Array([[1., 1.],
               [1., 1.]], dtype=float32)
    """
    return _fftn("irfft2", a, s, axes, norm, FftType.IRFFT)


def rfftn(a, s=None, axes=None, norm=None):
    """The N-dimensional discrete Fourier transform of a real input.

    Args:
        a: a real input array.
        s: the input lengths along ``axes``.
        axes: the axes (default: all, or the last ``len(s)``); the last one is halved.
        norm: ``"backward"`` (default), ``"ortho"`` or ``"forward"``.

    Returns:
        A complex array.

    Raises:
        TypeError: the input is complex.
        ValueError: bad lengths or axes, or an unknown ``norm``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.fft.rfftn(dnp.ones((1, 4)))
        Array([[4.+0.j, 0.+0.j, 0.+0.j]], dtype=complex64)
    """
    return _fftn("rfftn", a, s, axes, norm, FftType.RFFT)


def irfftn(a, s=None, axes=None, norm=None):
    """The inverse of ``rfftn``.

    Args:
        a: the half spectrum.
        s: the output lengths along ``axes`` (default: the input's, with the last one
            ``2 * (a.shape[axes[-1]] - 1)``).
        axes: the axes (default: all, or the last ``len(s)``).
        norm: ``"backward"`` (default), ``"ortho"`` or ``"forward"``.

    Returns:
        A real array.

    Raises:
        ValueError: bad lengths or axes, or an unknown ``norm``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.fft.irfftn(dnp.array([[4.0, 0.0, 0.0]]))
        Array([[1., 1., 1., 1.]], dtype=float32)
    """
    return _fftn("irfftn", a, s, axes, norm, FftType.IRFFT)


def hfft(a, n=None, axis=-1, norm=None):
    """The transform of a signal with a Hermitian-symmetric spectrum: a real spectrum.

    ``hfft(a, n)`` equals ``irfft(conj(a), n) * n`` with the default ``norm``.

    Args:
        a: the first half of the Hermitian-symmetric signal.
        n: the length of the output (default ``2 * (a.shape[axis] - 1)``).
        axis: the axis to transform.
        norm: ``"backward"`` (default), ``"ortho"`` or ``"forward"``.

    Returns:
        A real array.

    Raises:
        ValueError: ``n < 1``, ``axis`` out of range, or an unknown ``norm``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.fft.hfft(dnp.array([1.0, 0.0, 0.0]))
        Array([1., 1., 1., 1.], dtype=float32)
    """
    norm = _swap_direction(_check_norm("hfft", norm))
    a = _as_input("hfft", a, FftType.IRFFT)
    s, axes = _one_axis("hfft", n, axis)
    return _fftn("hfft", conj(a), s, axes, norm, FftType.IRFFT)


def ihfft(a, n=None, axis=-1, norm=None):
    """The inverse of ``hfft``: half of a Hermitian-symmetric signal from a real spectrum.

    Args:
        a: a real input array.
        n: the number of input points (crop or zero-pad); the output has ``n // 2 + 1``.
        axis: the axis to transform.
        norm: ``"backward"`` (default), ``"ortho"`` or ``"forward"``.

    Returns:
        A complex array.

    Raises:
        TypeError: the input is complex.
        ValueError: ``n < 1``, ``axis`` out of range, or an unknown ``norm``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.fft.ihfft(dnp.array([4.0, 0.0, 0.0, 0.0]))
        Array([1.-0.j, 1.-0.j, 1.-0.j], dtype=complex64)
    """
    norm = _swap_direction(_check_norm("ihfft", norm))
    s, axes = _one_axis("ihfft", n, axis)
    return conj(_fftn("ihfft", a, s, axes, norm, FftType.RFFT))


# --------------------------------------------------------------------------- helpers


def _freq_dtype(name, dtype):
    if dtype is None:
        return _dtypes.default_float_dtype()
    dtype = _dtypes.canonicalize_dtype(dtype)
    if dtype.kind not in "fc":
        raise ValueError(f"{name}: dtype must be a floating-point dtype, got {dtype}.")
    return dtype


def _freqs(name, ints, n, d, dtype, device):
    check_device(device, name)
    dtype = _freq_dtype(name, dtype)
    k = asarray_any(np.asarray(ints), dtype)
    if isinstance(d, (int, float)) and not isinstance(d, bool):
        return E.mul(k, S.full(k.shape, 1.0 / (d * n), dtype))
    d = E.convert_element_type(asarray_any(d), dtype)
    if get_aval(d).ndim:
        raise ValueError(f"{name}: d must be a scalar sample spacing, got shape {d.shape}.")
    return E.div(k, S.broadcast_in_dim(E.mul(d, S.full((), n, dtype)), k.shape, ()))


def fftfreq(n, d=1.0, *, dtype=None, device=None):
    """The sample frequencies of ``fft``: ``[0, 1, ..., -1] / (d * n)``.

    Args:
        n: the window length (a Python int).
        d: the sample spacing (a scalar; may be traced).
        dtype: the floating-point dtype of the result (default float32, or float64 with
            x64).
        device: None or the CPU device.

    Returns:
        An array of ``n`` frequencies.

    Raises:
        ValueError: ``n < 1`` or a non-floating ``dtype``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.fft.fftfreq(4)
        Array([ 0.  ,  0.25, -0.5 , -0.25], dtype=float32)
    """
    n = _static_int("fftfreq", "n", n)
    if n < 1:
        raise ValueError(f"fftfreq: n must be >= 1, got {n}.")
    ints = np.concatenate([np.arange(0, (n - 1) // 2 + 1), np.arange(-(n // 2), 0)])
    return _freqs("fftfreq", ints, n, d, dtype, device)


def rfftfreq(n, d=1.0, *, dtype=None, device=None):
    """The sample frequencies of ``rfft``: ``[0, 1, ..., n // 2] / (d * n)``.

    Args:
        n: the window length (a Python int).
        d: the sample spacing (a scalar; may be traced).
        dtype: the floating-point dtype of the result.
        device: None or the CPU device.

    Returns:
        An array of ``n // 2 + 1`` frequencies.

    Raises:
        ValueError: ``n < 1`` or a non-floating ``dtype``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.fft.rfftfreq(4)
        Array([0.  , 0.25, 0.5 ], dtype=float32)
    """
    n = _static_int("rfftfreq", "n", n)
    if n < 1:
        raise ValueError(f"rfftfreq: n must be >= 1, got {n}.")
    return _freqs("rfftfreq", np.arange(0, n // 2 + 1), n, d, dtype, device)


def _roll_halves(name, x, axes, inverse):
    check_arraylike(name, x)
    x = asarray_any(x)
    if axes is None:
        axes = tuple(range(x.ndim))
    elif isinstance(axes, (int, np.integer)):
        axes = (axes,)
    axes = _canonical_axes(name, axes, x.ndim) if axes else ()
    for ax in axes:
        size = x.shape[ax]
        shift = -(size // 2) if inverse else size // 2
        split = (-shift) % size if size else 0
        if split == 0:
            continue
        head = S.slice_in_dim(x, 0, split, axis=ax)
        tail = S.slice_in_dim(x, split, size, axis=ax)
        x = S.concatenate([tail, head], ax)
    return x


def fftshift(x, axes=None):
    """Move the zero frequency to the center (roll each axis by half its length).

    Args:
        x: an array of frequencies or spectra.
        axes: the axes to shift (default: all).

    Returns:
        The shifted array.

    Raises:
        ValueError: an axis is out of range.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.fft.fftshift(dnp.fft.fftfreq(4))
        Array([-0.5 , -0.25,  0.  ,  0.25], dtype=float32)
    """
    return _roll_halves("fftshift", x, axes, inverse=False)


def ifftshift(x, axes=None):
    """The inverse of ``fftshift`` (they differ for odd lengths).

    Args:
        x: an array.
        axes: the axes to shift (default: all).

    Returns:
        The shifted array.

    Raises:
        ValueError: an axis is out of range.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.fft.ifftshift(dnp.array([-0.5, -0.25, 0.0, 0.25]))
        Array([ 0.  ,  0.25, -0.5 , -0.25], dtype=float32)
    """
    return _roll_halves("ifftshift", x, axes, inverse=True)
