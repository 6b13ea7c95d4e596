"""Array creation in ``derivax.numpy``."""

from __future__ import annotations

import operator

import numpy as np

from .. import _dtypes
from .._array import Array, _wrap, check_device
from .._core import ConcretizationTypeError, Tracer, _state, concrete_or_error, get_aval
from ..lax import _structural as S
from ._util import asarray_any


def _shape_arg(shape, fname):
    if isinstance(shape, (int, np.integer, Tracer)) or getattr(shape, "ndim", None) == 0:
        shape = (shape,)
    try:
        # A traced size (a shape computed from data) raises ConcretizationTypeError here.
        shape = tuple(
            operator.index(concrete_or_error(s, f"the shape argument of {fname}"))
            if isinstance(s, Tracer)
            else operator.index(s)  # 2.5 is an error, not a size of 2
            for s in shape
        )
    except ConcretizationTypeError:
        raise
    except TypeError:
        raise TypeError(
            f"{fname}: shape must be an int or a tuple of ints, got {shape!r}. Shapes must be "
            "known while tracing: use x.shape, or mark the argument static."
        ) from None
    if any(s < 0 for s in shape):
        raise ValueError(f"{fname}: negative dimensions are not allowed, got {shape}.")
    return shape


def _dtype_or_default(dtype, default=None):
    if dtype is None:
        return default or _dtypes.default_float_dtype()
    return _dtypes.canonicalize_dtype(dtype)


def asarray(a, dtype=None, order=None, *, copy=None, device=None):
    """Convert to a derivax array (no copy of a derivax array of the right dtype).

    Args:
        a: an array, NumPy array, scalar or nested list.
        dtype: the requested dtype; float64 and other 64-bit types need
            ``derivax.config.update("enable_x64", True)``. Without it, 64-bit NumPy *inputs*
            are converted to their 32-bit counterparts (as in JAX).
        order: accepted for NumPy compatibility (derivax arrays are C-ordered).
        copy: None (copy only when needed), True (always a new buffer) or False (never
            copy: only a derivax array of the requested dtype qualifies).
        device: None, ``"cpu"`` or the CPU device.

    Returns:
        A derivax array (or the tracer itself, inside ``jit``/``grad``/``vmap``).

    Raises:
        ValueError: ``copy=False`` but a copy is needed, or ``device`` is not the CPU.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.asarray([1, 2, 3])
        Array([1, 2, 3], dtype=int32)
    """
    check_device(device, "asarray")
    if copy is False and not _is_same_array(a, dtype):
        raise ValueError(
            f"asarray: copy=False, but converting a {type(a).__name__}"
            f"{'' if dtype is None else f' to dtype {dtype}'} needs a new buffer (derivax "
            "arrays own their immutable buffers). Pass copy=None to allow the copy."
        )
    # A Python scalar converted on its own keeps its weak type, as in JAX.
    out = _nested_with_dtype(a, dtype)
    if out is None:
        out = asarray_any(a, dtype)
    if copy and out is a and type(a) is Array:
        out = _wrap(a._value.copy(), a.weak_type)
    return out


def _nested_with_dtype(a, dtype):
    """A nested list of Python numbers converted straight to an explicit ``dtype``, or None.

    Going through NumPy's own inference first would turn integers beyond int64 (large
    uint64 values) into float64 and lose their low bits; converting to the requested dtype
    directly is exact, and out-of-range values raise OverflowError.
    """
    if dtype is None or not isinstance(a, (list, tuple)):
        return None
    stack = [a]
    while stack:
        e = stack.pop()
        if isinstance(e, (list, tuple)):
            stack.extend(e)
        elif type(e) not in (bool, int, float, complex):
            return None
    dtype = _dtypes.canonicalize_dtype(dtype)
    try:
        return _wrap(np.array(a, dtype=dtype))
    except OverflowError:
        raise OverflowError(
            f"asarray: a value of the nested sequence does not fit in dtype {dtype}; pass a "
            "wider dtype."
        ) from None
    except ValueError as e:
        raise ValueError(f"asarray: the nested sequence is ragged or invalid: {e}") from None


def _is_same_array(a, dtype):
    if not isinstance(a, (Array, Tracer)):
        return False
    return dtype is None or get_aval(a).dtype == _dtypes.canonicalize_dtype(dtype)


def array(object, dtype=None, copy=True, order="K", ndmin=0):  # noqa: A002
    """Create an array (always a fresh one for NumPy inputs).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.array([[1.0, 2.0]], ndmin=3).shape
        (1, 1, 2)
    """
    out = asarray_any(object, dtype)
    nd = get_aval(out).ndim
    if ndmin > nd:
        out = S.reshape(out, (1,) * (ndmin - nd) + get_aval(out).shape)
    return out


def zeros(shape, dtype=None, *, device=None):
    """An array of zeros (float32 by default).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.zeros((2, 2), dnp.int32)
        Array([[0, 0],
               [0, 0]], dtype=int32)
    """
    check_device(device, "zeros")
    return _filled(_shape_arg(shape, "zeros"), 0, _dtype_or_default(dtype))


def ones(shape, dtype=None, *, device=None):
    """An array of ones (float32 by default).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.ones(3)
        Array([1., 1., 1.], dtype=float32)
    """
    check_device(device, "ones")
    return _filled(_shape_arg(shape, "ones"), 1, _dtype_or_default(dtype))


def empty(shape, dtype=None, *, device=None):
    """An array of zeros (derivax arrays are never uninitialised).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.empty(2)
        Array([0., 0.], dtype=float32)
    """
    check_device(device, "empty")
    return zeros(shape, dtype)


def full(shape, fill_value, dtype=None, *, device=None):
    """An array filled with ``fill_value`` (its dtype unless ``dtype`` is given).

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.full((2,), 7)
        Array([7, 7], dtype=int32)
    """
    check_device(device, "full")
    shape = _shape_arg(shape, "full")
    if dtype is None:
        fv = asarray_any(fill_value)
        dtype = get_aval(fv).dtype
    else:
        dtype = _dtypes.canonicalize_dtype(dtype)
    if isinstance(fill_value, (Tracer, Array)) and get_aval(fill_value).shape != ():
        from ._shape import broadcast_to

        return broadcast_to(asarray_any(fill_value, dtype), shape)
    if isinstance(fill_value, Tracer):
        return S.full(shape, fill_value, dtype)
    v = np.asarray(fill_value._value if type(fill_value) is Array else fill_value)
    return _filled(shape, v, dtype)


def _filled(shape, value, dtype):
    """``shape`` filled with the scalar ``value``: a NumPy array when eager; inside a jit
    trace a broadcast of the scalar, so the program holds a literal instead of capturing a
    full-size constant (which would be stored, passed and read on every call)."""
    if _state.dynamic is not None and shape:
        return S.full(shape, np.asarray(value, dtype)[()], dtype)
    return _wrap(np.full(shape, value, dtype))


def _like(fname, a, dtype, shape):
    a_aval = get_aval(asarray_any(a)) if not hasattr(a, "aval") else a.aval
    dtype = a_aval.dtype if dtype is None else _dtypes.canonicalize_dtype(dtype)
    shape = a_aval.shape if shape is None else _shape_arg(shape, fname)
    return dtype, shape


def zeros_like(a, dtype=None, shape=None, *, device=None):
    """Zeros with the shape and dtype of ``a``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.zeros_like(dnp.ones(2, dnp.int32))
        Array([0, 0], dtype=int32)
    """
    check_device(device, "zeros_like")
    dtype, shape = _like("zeros_like", a, dtype, shape)
    return _filled(shape, 0, dtype)


def ones_like(a, dtype=None, shape=None, *, device=None):
    """Ones with the shape and dtype of ``a``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.ones_like(dnp.zeros(2))
        Array([1., 1.], dtype=float32)
    """
    check_device(device, "ones_like")
    dtype, shape = _like("ones_like", a, dtype, shape)
    return _filled(shape, 1, dtype)


def empty_like(a, dtype=None, shape=None, *, device=None):
    """Zeros with the shape and dtype of ``a``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.empty_like(dnp.ones(1))
        Array([0.], dtype=float32)
    """
    check_device(device, "empty_like")
    return zeros_like(a, dtype, shape)


def full_like(a, fill_value, dtype=None, shape=None, *, device=None):
    """``fill_value`` with the shape and dtype of ``a``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.full_like(dnp.zeros(2), 3)
        Array([3., 3.], dtype=float32)
    """
    check_device(device, "full_like")
    dtype, shape = _like("full_like", a, dtype, shape)
    return full(shape, fill_value, dtype)


def _static_number(x, fname, argname):
    if x is None:
        return None
    if isinstance(x, Tracer):
        return concrete_or_error(x, f"the {argname} argument of {fname}").item()
    if type(x) is Array:
        return x.item()
    return x


def arange(start, stop=None, step=None, dtype=None, *, device=None):
    """Evenly spaced values in ``[start, stop)``; the bounds must be concrete.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.arange(3)
        Array([0, 1, 2], dtype=int32)
        >>> dnp.arange(0.0, 1.0, 0.25)
        Array([0.  , 0.25, 0.5 , 0.75], dtype=float32)
    """
    check_device(device, "arange")
    start = _static_number(start, "arange", "start")
    stop = _static_number(stop, "arange", "stop")
    step = _static_number(step, "arange", "step")
    if step == 0:
        raise ValueError("arange: step must not be zero.")
    if stop is None:
        start, stop = 0, start
    v = np.arange(start, stop, 1 if step is None else step)
    if dtype is None:
        is_float = any(isinstance(x, float) for x in (start, stop, step))
        dtype = _dtypes.default_float_dtype() if is_float else _dtypes.default_int_dtype()
    else:
        dtype = _dtypes.canonicalize_dtype(dtype)
    return _wrap(v.astype(dtype))


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, *, device=None):
    """``num`` evenly spaced values from ``start`` to ``stop``.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.linspace(0.0, 1.0, 5)
        Array([0.  , 0.25, 0.5 , 0.75, 1.  ], dtype=float32)
    """
    check_device(device, "linspace")
    if any(isinstance(x, Tracer) for x in (start, stop)):
        from ._elementwise import add, multiply

        steps = arange(num, dtype=_dtypes.default_float_dtype())
        div = (num - 1) if endpoint else num
        delta = (stop - start) / max(div, 1)
        out = add(start, multiply(steps, delta))
        return (out, delta) if retstep else out
    start = np.asarray(_static_number(start, "linspace", "start"))
    stop = np.asarray(_static_number(stop, "linspace", "stop"))
    v, step = np.linspace(start, stop, int(num), endpoint=endpoint, retstep=True, axis=axis)
    dtype = _dtype_or_default(dtype)
    out = _wrap(v.astype(dtype))
    return (out, _wrap(np.asarray(step, dtype))) if retstep else out


def eye(N, M=None, k=0, dtype=None, *, device=None):  # noqa: N803
    """A 2-D array with ones on the ``k``-th diagonal.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.eye(2)
        Array([[1., 0.],
               [0., 1.]], dtype=float32)
    """
    check_device(device, "eye")
    return _wrap(np.eye(int(N), None if M is None else int(M), int(k), _dtype_or_default(dtype)))


def identity(n, dtype=None, *, device=None):
    """The ``n`` x ``n`` identity matrix.

    Example:
        >>> import derivax.numpy as dnp
        >>> dnp.identity(2, dnp.int32)
        Array([[1, 0],
               [0, 1]], dtype=int32)
    """
    return eye(n, dtype=dtype, device=device)
