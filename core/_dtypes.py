"""Dtypes of derivax: the supported set, canonicalization, weak types and type promotion.

Supported dtypes: bool, int8/16/32/64, uint8/16/32/64, float16, bfloat16 (from ``ml_dtypes``),
float32, float64, complex64 and complex128. Each is available twice here: as the NumPy scalar
type under its NumPy name (``float32 = np.float32``, ``bfloat16 = ml_dtypes.bfloat16``; what
``derivax.numpy`` re-exports) and as a ``np.dtype`` constant in capitals (``FLOAT32``,
``BFLOAT16``) for internal identity checks. Every function here returns these constants, so
``canonicalize_dtype("float32") is FLOAT32``.

**64-bit types and canonicalization.** With ``config.enable_x64`` off (the default), 64-bit
types do not exist for derivax and two rules apply:

* an *explicit request* (a ``dtype=`` argument, ``astype``) for float64, int64, uint64 or
  complex128 raises ``DtypeError`` telling the user how to enable x64 or which 32-bit type to
  ask for instead (``canonicalize_dtype(dtype)``, ``explicit=True``);
* an *input conversion* (a NumPy array or scalar, a Python int, a promotion result) that merely
  happens to be 64-bit is mapped silently to its 32-bit counterpart
  (``canonicalize_dtype(dtype, explicit=False)``): NumPy makes float64/int64 by default and
  refusing every ``np.arange`` would help nobody.

**Weak types.** A Python ``int``, ``float`` or ``complex`` has no dtype of its own: it is
*weakly typed* and takes the dtype of what it meets (``float16_array * 2.0`` stays float16).
Arrays and tracers made from Python scalars keep a ``weak_type`` flag. A weakly typed result
gets the default dtype of its kind (``default_int_dtype``, ``default_float_dtype``,
``default_complex_dtype``). Python ``bool`` is strongly typed.

**Promotion** follows JAX's documented type lattice: the result of combining types is their
least upper bound (join) on this directed graph, where ``i*``, ``f*``, ``c*`` are the weak
int, float and complex nodes::

    bool -> i*          i* -> u8, i8          u8 -> u16, i16      u16 -> u32, i32
    u32 -> u64, i64     u64 -> f*             i8 -> i16           i16 -> i32
    i32 -> i64          i64 -> f*             f* -> c*, f16, bf16 bf16 -> f32
    f16 -> f32          f32 -> f64, c64       f64 -> c128         c* -> c64
    c64 -> c128

The join is computed from upper-bound sets (the nodes reachable from both inputs; the join
is the one whose own upper-bound set is that whole intersection) once, at import. Joins
are then canonicalized: with x64 off a 64-bit join becomes 32-bit, e.g.
``uint32 + int32 -> int64 -> int32``, exactly as in JAX. Unlike NumPy, integers combined with
floats take the float type (``int32 + float16 -> float16``) and bfloat16 with float16 gives
float32.
"""

from __future__ import annotations

import difflib
from typing import Any

import ml_dtypes
import numpy as np

from ._config import config

__all__ = [
    "BFLOAT16",
    "BOOL",
    "COMPLEX64",
    "COMPLEX128",
    "FLOAT16",
    "FLOAT32",
    "FLOAT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "SUPPORTED_DTYPES",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "DtypeError",
    "bfloat16",
    "bool_",
    "canonicalize_dtype",
    "complex64",
    "complex128",
    "default_complex_dtype",
    "default_float_dtype",
    "default_int_dtype",
    "dtype_from_str",
    "dtype_to_str",
    "finfo",
    "float16",
    "float32",
    "float64",
    "iinfo",
    "int8",
    "int16",
    "int32",
    "int64",
    "is_bool",
    "is_complex",
    "is_float",
    "is_inexact",
    "is_int",
    "is_unsigned",
    "is_weakly_typed",
    "issubdtype",
    "promote_types",
    "python_scalar_dtype",
    "result_type",
    "to_numpy_dtype",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
]


class DtypeError(TypeError):
    """A dtype that derivax cannot use here.

    Raised for dtypes outside the supported set (object, str, datetime, ...), for text that
    is not a dtype, and for explicit 64-bit requests while ``enable_x64`` is off. The message
    names the argument, the dtype and the fix (for 64-bit types: enable x64 with
    ``derivax.config.update("enable_x64", True)`` or ask for the 32-bit type).
    """


# ---------------------------------------------------------------- scalar types and dtypes

bool_ = np.bool_
int8 = np.int8
int16 = np.int16
int32 = np.int32
int64 = np.int64
uint8 = np.uint8
uint16 = np.uint16
uint32 = np.uint32
uint64 = np.uint64
float16 = np.float16
bfloat16 = ml_dtypes.bfloat16
float32 = np.float32
float64 = np.float64
complex64 = np.complex64
complex128 = np.complex128

BOOL = np.dtype(bool_)
INT8 = np.dtype(int8)
INT16 = np.dtype(int16)
INT32 = np.dtype(int32)
INT64 = np.dtype(int64)
UINT8 = np.dtype(uint8)
UINT16 = np.dtype(uint16)
UINT32 = np.dtype(uint32)
UINT64 = np.dtype(uint64)
FLOAT16 = np.dtype(float16)
BFLOAT16 = np.dtype(bfloat16)
FLOAT32 = np.dtype(float32)
FLOAT64 = np.dtype(float64)
COMPLEX64 = np.dtype(complex64)
COMPLEX128 = np.dtype(complex128)

# Short names double as lattice labels and as the IR's dtype spelling.
_DTYPE_OF_LABEL: dict[str, np.dtype] = {
    "bool": BOOL,
    "i8": INT8,
    "i16": INT16,
    "i32": INT32,
    "i64": INT64,
    "u8": UINT8,
    "u16": UINT16,
    "u32": UINT32,
    "u64": UINT64,
    "f16": FLOAT16,
    "bf16": BFLOAT16,
    "f32": FLOAT32,
    "f64": FLOAT64,
    "c64": COMPLEX64,
    "c128": COMPLEX128,
}
_LABEL_OF_DTYPE: dict[np.dtype, str] = {dt: label for label, dt in _DTYPE_OF_LABEL.items()}

SUPPORTED_DTYPES: tuple[np.dtype, ...] = tuple(_DTYPE_OF_LABEL.values())

# Classes of the supported dtype objects. ``type(x) in _DTYPE_CLASSES`` is the cheap test on
# hot paths: ``isinstance(x, np.dtype)`` goes through NumPy's dtype metaclass and is slow.
_DTYPE_CLASSES = frozenset(type(dt) for dt in SUPPORTED_DTYPES)

_NARROW = {"i64": "i32", "u64": "u32", "f64": "f32", "c128": "c64"}
_BOOL_LABELS = frozenset({"bool"})
_UNSIGNED_LABELS = frozenset({"u8", "u16", "u32", "u64"})
_INT_LABELS = frozenset({"i8", "i16", "i32", "i64"}) | _UNSIGNED_LABELS
_FLOAT_LABELS = frozenset({"f16", "bf16", "f32", "f64"})
_COMPLEX_LABELS = frozenset({"c64", "c128"})
_INEXACT_LABELS = _FLOAT_LABELS | _COMPLEX_LABELS

# The weak lattice node (i*, f*, c*) each strong dtype becomes when its value is weak.
_WEAK_OF: dict[str, str] = {"bool": "bool"}
_WEAK_OF.update(dict.fromkeys(_INT_LABELS, "i*"))
_WEAK_OF.update(dict.fromkeys(_FLOAT_LABELS, "f*"))
_WEAK_OF.update(dict.fromkeys(_COMPLEX_LABELS, "c*"))

# Python scalar values and Python scalar types, as lattice nodes (bool is strong).
_PY_LABEL: dict[type, str] = {bool: "bool", int: "i*", float: "f*", complex: "c*"}
_PY_TYPE_NAMES: dict[str, type] = {"bool": bool, "int": int, "float": float, "complex": complex}

# ------------------------------------------------------------------------------ defaults

_FLOAT_DEFAULTS = {"float32": FLOAT32, "float64": FLOAT64}
_COMPLEX_DEFAULTS = {"float32": COMPLEX64, "float64": COMPLEX128}


def default_float_dtype() -> np.dtype:
    """Returns the dtype of Python floats and of float results made without a dtype.

    It is ``config.default_float_dtype``: float32 unless set to float64 (which needs x64).

    Returns:
        ``FLOAT32`` or ``FLOAT64``.

    Example:
        >>> default_float_dtype()
        dtype('float32')
        >>> with config.context(enable_x64=True, default_float_dtype="float64"):
        ...     default_float_dtype()
        dtype('float64')
    """
    return _FLOAT_DEFAULTS[config.default_float_dtype]


def default_int_dtype() -> np.dtype:
    """Returns the dtype of Python ints and of integer results made without a dtype.

    Returns:
        ``INT64`` when ``config.enable_x64`` is on, else ``INT32``.

    Example:
        >>> default_int_dtype()
        dtype('int32')
        >>> with config.context(enable_x64=True):
        ...     default_int_dtype()
        dtype('int64')
    """
    return INT64 if config.enable_x64 else INT32


def default_complex_dtype() -> np.dtype:
    """Returns the dtype of Python complex numbers: the complex type of the default float.

    Returns:
        ``COMPLEX64`` when the default float dtype is float32, else ``COMPLEX128``.

    Example:
        >>> default_complex_dtype()
        dtype('complex64')
    """
    return _COMPLEX_DEFAULTS[config.default_float_dtype]


_PY_DEFAULT = {
    bool: lambda: BOOL,
    int: default_int_dtype,
    float: default_float_dtype,
    complex: default_complex_dtype,
}

# -------------------------------------------------------------------------- conversions


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"<{type(value).__name__} object>"


def _np_dtype(value: Any, argname: str) -> np.dtype:
    """``np.dtype(value)`` with a derivax error message when NumPy cannot parse it."""
    if value is None:
        raise DtypeError(
            f"Argument `{argname}` is None, which is not a dtype. Pass a dtype such as "
            "'float32', or omit the argument to get the default."
        )
    try:
        return np.dtype(value)
    except (TypeError, ValueError) as err:
        hint = ""
        if hasattr(value, "dtype") and not isinstance(value, type):
            hint = f" It looks like an array: pass its `.dtype` ({value.dtype}) instead."
        elif isinstance(value, str):
            names = [dt.name for dt in SUPPORTED_DTYPES] + list(_DTYPE_OF_LABEL)
            close = difflib.get_close_matches(value, names, n=1)
            if close:
                hint = f" Did you mean {close[0]!r}?"
        raise DtypeError(
            f"Argument `{argname}`={_describe(value)} is not a dtype ({err}).{hint}"
        ) from None


def _label_of_np_dtype(dt: np.dtype, argname: str) -> str:
    label = _LABEL_OF_DTYPE.get(dt)
    if label is not None:
        return label
    if dt.byteorder not in "=|":  # non-native byte order, e.g. '>f4' read from a file
        label = _LABEL_OF_DTYPE.get(dt.newbyteorder("="))
        if label is not None:
            return label
    supported = ", ".join(d.name for d in SUPPORTED_DTYPES)
    hint = ""
    if dt.kind in "OUSMmV":
        hint = (
            " derivax arrays hold booleans and numbers only; convert strings, objects or "
            "dates to numbers first."
        )
    raise DtypeError(
        f"Argument `{argname}` has dtype {dt}, which derivax does not support. "
        f"Supported dtypes: {supported}.{hint}"
    )


def _strong_label(dtype: Any, argname: str) -> str:
    """Lattice label of a dtype-like; Python types and their names mean the defaults."""
    if type(dtype) in _DTYPE_CLASSES:
        label = _LABEL_OF_DTYPE.get(dtype)
        if label is not None:
            return label
    elif isinstance(dtype, str):
        dtype = _PY_TYPE_NAMES.get(dtype, dtype)
    if isinstance(dtype, type) and dtype in _PY_DEFAULT:
        return _LABEL_OF_DTYPE[_PY_DEFAULT[dtype]()]
    return _label_of_np_dtype(_np_dtype(dtype, argname), argname)


def _x64_error(label: str, argname: str) -> DtypeError:
    requested = _DTYPE_OF_LABEL[label].name
    narrow = _DTYPE_OF_LABEL[_NARROW[label]].name
    return DtypeError(
        f"Argument `{argname}` requests {requested}, a 64-bit dtype, but 64-bit dtypes are "
        f"disabled (derivax.config.enable_x64 is False). Either enable them with "
        f'derivax.config.update("enable_x64", True) (or inside `with derivax.enable_x64():`), '
        f"or ask for {narrow} instead."
    )


def canonicalize_dtype(dtype: Any, *, explicit: bool = True, argname: str = "dtype") -> np.dtype:
    """Returns the derivax dtype for a dtype-like, applying the x64 rules.

    Accepts anything ``np.dtype`` accepts (``'float32'``, ``np.int8``, ``np.dtype('u1')``,
    ``'bfloat16'``) plus the Python types ``bool``, ``int``, ``float``, ``complex`` and their
    names, which mean ``BOOL`` and the default int / float / complex dtype.

    With ``config.enable_x64`` off, a 64-bit dtype is an error when ``explicit`` is True (the
    user asked for it) and becomes its 32-bit counterpart when ``explicit`` is False (an input
    that merely happens to be 64-bit, such as a NumPy array): this is the input-conversion
    rule described in the module docstring. Non-native byte orders map to native.

    Args:
        dtype: the dtype-like to canonicalize.
        explicit: whether the user asked for this dtype (True) or it came with an input.
        argname: the argument name used in error messages.

    Returns:
        One of ``SUPPORTED_DTYPES``.

    Raises:
        DtypeError: ``dtype`` is not a dtype, is not supported (object, str, datetime, ...),
            or is an explicit 64-bit request while x64 is off.

    Example:
        >>> canonicalize_dtype("float32")
        dtype('float32')
        >>> canonicalize_dtype(float)
        dtype('float32')
        >>> canonicalize_dtype(np.float64, explicit=False)
        dtype('float32')
        >>> canonicalize_dtype(np.float64)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
            ...
        derivax._dtypes.DtypeError: Argument `dtype` requests float64, a 64-bit dtype, ...
        >>> with config.context(enable_x64=True):
        ...     canonicalize_dtype(np.float64)
        dtype('float64')
    """
    label = _LABEL_OF_DTYPE.get(dtype) if type(dtype) in _DTYPE_CLASSES else None
    if label is None:
        label = _strong_label(dtype, argname)
    if label in _NARROW and not config.enable_x64:
        if explicit:
            raise _x64_error(label, argname)
        label = _NARROW[label]
    return _DTYPE_OF_LABEL[label]


def to_numpy_dtype(dtype: Any, *, argname: str = "dtype") -> np.dtype:
    """Returns the supported ``np.dtype`` for a dtype-like, without the x64 rules.

    Use it where a dtype is described rather than created (``finfo``, printing, reading a
    file header). Python types mean the defaults, as in ``canonicalize_dtype``.

    Args:
        dtype: the dtype-like.
        argname: the argument name used in error messages.

    Returns:
        One of ``SUPPORTED_DTYPES`` (64-bit types pass through even with x64 off).

    Raises:
        DtypeError: ``dtype`` is not a dtype or not a supported one.

    Example:
        >>> to_numpy_dtype("float64")
        dtype('float64')
        >>> to_numpy_dtype(int)
        dtype('int32')
    """
    return _DTYPE_OF_LABEL[_strong_label(dtype, argname)]


# ----------------------------------------------------------------------------- weak types


def python_scalar_dtype(x: Any) -> tuple[np.dtype, bool]:
    """Returns the dtype of a Python scalar and whether it is weakly typed.

    Args:
        x: a Python ``bool``, ``int``, ``float`` or ``complex`` (or a subclass, e.g. an
            ``IntEnum`` member; NumPy scalars are not Python scalars).

    Returns:
        ``(dtype, weak_type)``: ``(BOOL, False)`` for bools; the default int / float /
        complex dtype and True for the others.

    Raises:
        DtypeError: ``x`` is not a Python scalar.

    Example:
        >>> python_scalar_dtype(2.0)
        (dtype('float32'), True)
        >>> python_scalar_dtype(True)
        (dtype('bool'), False)
    """
    label = _python_scalar_label(x)
    if label is None:
        raise DtypeError(
            f"Argument `x`={_describe(x)} (type {type(x).__name__}) is not a Python bool, "
            "int, float or complex. NumPy scalars and arrays carry their own dtype: use "
            "x.dtype, or result_type(x)."
        )
    return _resolve(label)


def _python_scalar_label(x: Any) -> str | None:
    label = _PY_LABEL.get(type(x))
    if label is None and isinstance(x, (bool, int, float, complex)):
        if isinstance(x, np.generic):  # np.float64 subclasses float but has a dtype
            return None
        for typ in (bool, int, float, complex):
            if isinstance(x, typ):
                return _PY_LABEL[typ]
    return label


def is_weakly_typed(x: Any) -> bool:
    """Tells whether a value is weakly typed.

    Python ints, floats and complex numbers are; bools are not; Arrays and tracers are when
    their ``weak_type`` attribute is True.

    Args:
        x: any value.

    Returns:
        True for weakly typed values.

    Example:
        >>> is_weakly_typed(1.0), is_weakly_typed(True), is_weakly_typed(np.float32(1))
        (True, False, False)
    """
    label = _python_scalar_label(x)
    if label is not None:
        return label != "bool"
    return bool(getattr(x, "weak_type", False))


# -------------------------------------------------------------------------- the lattice

_LATTICE_EDGES: dict[str, tuple[str, ...]] = {
    "bool": ("i*",),
    "i*": ("u8", "i8"),
    "u8": ("u16", "i16"),
    "u16": ("u32", "i32"),
    "u32": ("u64", "i64"),
    "u64": ("f*",),
    "i8": ("i16",),
    "i16": ("i32",),
    "i32": ("i64",),
    "i64": ("f*",),
    "f*": ("c*", "f16", "bf16"),
    "bf16": ("f32",),
    "f16": ("f32",),
    "f32": ("f64", "c64"),
    "f64": ("c128",),
    "c*": ("c64",),
    "c64": ("c128",),
    "c128": (),
}


def _upper_bounds(edges: dict[str, tuple[str, ...]]) -> dict[str, frozenset[str]]:
    """For each node, the set of nodes reachable from it (itself included)."""
    result: dict[str, frozenset[str]] = {}
    for start in edges:
        seen = {start}
        stack = [start]
        while stack:
            for nxt in edges[stack.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        result[start] = frozenset(seen)
    return result


def _join_table(edges: dict[str, tuple[str, ...]]) -> dict[str, dict[str, str]]:
    """Least upper bound of every pair of nodes, as ``table[a][b]``.

    The join of a and b is the common upper bound that every other common upper bound lies
    above, i.e. the one whose own upper-bound set is the whole intersection.
    """
    upper = _upper_bounds(edges)
    table: dict[str, dict[str, str]] = {a: {} for a in edges}
    for a in edges:
        for b in edges:
            common = upper[a] & upper[b]
            joins = [n for n in common if upper[n] == common]
            if len(joins) != 1:  # the graph must be a lattice; guard against edits
                raise AssertionError(f"type lattice has no unique join for {a}, {b}: {joins}")
            table[a][b] = joins[0]
    return table


_JOIN = _join_table(_LATTICE_EDGES)
_STRONG_X64 = dict(_DTYPE_OF_LABEL)
_STRONG_X32 = {label: _DTYPE_OF_LABEL[_NARROW.get(label, label)] for label in _DTYPE_OF_LABEL}
_WEAK_DEFAULT = {"i*": default_int_dtype, "f*": default_float_dtype, "c*": default_complex_dtype}


def _resolve(label: str) -> tuple[np.dtype, bool]:
    """Turns a lattice node into (canonical dtype, weak_type) under the current config."""
    dtype = (_STRONG_X64 if config.enable_x64 else _STRONG_X32).get(label)
    if dtype is not None:
        return dtype, False
    return _WEAK_DEFAULT[label](), True


def _dtype_like_label(x: Any, argname: str) -> str:
    """Lattice node of a dtype-like; the Python types int/float/complex are weak nodes."""
    if type(x) in _DTYPE_CLASSES:
        label = _LABEL_OF_DTYPE.get(x)
        if label is not None:
            return label
    elif isinstance(x, type):
        label = _PY_LABEL.get(x)
        if label is not None:
            return label
    elif isinstance(x, str) and x in _PY_TYPE_NAMES:
        # The names 'int', 'float', ... mean the (strong) default dtypes, as everywhere else.
        return _LABEL_OF_DTYPE[_PY_DEFAULT[_PY_TYPE_NAMES[x]]()]
    return _label_of_np_dtype(_np_dtype(x, argname), argname)


def _arg_label(x: Any, index: int) -> str:
    """Lattice node of one ``result_type`` argument (value or dtype-like)."""
    # Fast paths first: Python scalars, dtype objects, arrays with a supported dtype.
    label = _PY_LABEL.get(type(x))
    if label is not None:
        return label
    if type(x) in _DTYPE_CLASSES:
        label = _LABEL_OF_DTYPE.get(x)
        if label is not None:
            return label
    dt = getattr(x, "dtype", None)
    if type(dt) in _DTYPE_CLASSES:
        label = _LABEL_OF_DTYPE.get(dt)
        if label is not None:
            return _WEAK_OF[label] if getattr(x, "weak_type", False) else label
    # Slow paths: other dtype-likes, non-native byte orders, scalar subclasses, errors.
    if isinstance(x, (np.dtype, type, str)):
        return _dtype_like_label(x, f"args[{index}]")
    if isinstance(dt, np.dtype):
        label = _label_of_np_dtype(dt, f"args[{index}]")
        return _WEAK_OF[label] if getattr(x, "weak_type", False) else label
    label = _python_scalar_label(x)
    if label is not None:
        return label
    raise DtypeError(
        f"result_type: argument args[{index}]={_describe(x)} (type {type(x).__name__}) has "
        "no dtype. Pass arrays, Python scalars or dtypes; convert lists with "
        "derivax.numpy.asarray first."
    )


def promote_types(a: Any, b: Any) -> np.dtype:
    """Returns the dtype two dtypes promote to, by JAX's type lattice.

    ``a`` and ``b`` are dtype-likes. As in JAX, the Python types ``int``, ``float`` and
    ``complex`` stand for weakly typed values and do not widen a typed counterpart. The
    result is canonicalized: with x64 off it is never a 64-bit type, and a weak result takes
    the default dtype of its kind. (JAX's own ``promote_types`` skips that last step.)

    Args:
        a: first dtype-like.
        b: second dtype-like.

    Returns:
        The promoted dtype, one of ``SUPPORTED_DTYPES``.

    Raises:
        DtypeError: an argument is not a supported dtype.

    Example:
        >>> promote_types("int32", "float16")
        dtype('float16')
        >>> promote_types("bfloat16", "float16")
        dtype('float32')
        >>> promote_types("uint8", int)
        dtype('uint8')
        >>> promote_types("uint32", "int32")  # int64, canonicalized with x64 off
        dtype('int32')
    """
    label = _JOIN[_dtype_like_label(a, "a")][_dtype_like_label(b, "b")]
    return _resolve(label)[0]


def result_type(*args: Any, return_weak_type_flag: bool = False) -> Any:
    """Returns the dtype of an operation on ``args``, by JAX's type lattice.

    Each argument is a Python scalar (``int``/``float``/``complex`` are weak, ``bool`` is
    strong), a value with a ``dtype`` attribute (NumPy arrays and scalars are strong; derivax
    Arrays and tracers are weak when their ``weak_type`` attribute is True), or a dtype-like
    (the Python types ``int``/``float``/``complex`` count as weak). The join of all of them
    is canonicalized: with x64 off no 64-bit dtype comes out (a float64 NumPy input is
    treated like float32), and a weak result has the default dtype of its kind.

    With one argument this is the dtype (and weak flag) an input converts to, e.g. for
    ``asarray``.

    Args:
        *args: one or more values or dtype-likes.
        return_weak_type_flag: also return whether the result is weakly typed.

    Returns:
        The result dtype, or ``(dtype, weak_type)`` if ``return_weak_type_flag``.

    Raises:
        DtypeError: no arguments, or an argument without a supported dtype.

    Example:
        >>> result_type(np.zeros(3, np.float16), 2.0)
        dtype('float16')
        >>> result_type(np.int8(1), 2.5, return_weak_type_flag=True)
        (dtype('float32'), True)
        >>> result_type(np.arange(3))  # int64 from NumPy, canonicalized with x64 off
        dtype('int32')
    """
    if not args:
        raise DtypeError("result_type needs at least one argument (a value or a dtype).")
    label = "bool"  # the bottom of the lattice: joining with it changes nothing
    for index, x in enumerate(args):
        # Inlined fast path of _arg_label for arrays and tracers: this runs on every op.
        dt = getattr(x, "dtype", None)
        x_label = _LABEL_OF_DTYPE.get(dt) if type(dt) in _DTYPE_CLASSES else None
        if x_label is None:
            x_label = _arg_label(x, index)
        elif getattr(x, "weak_type", False):
            x_label = _WEAK_OF[x_label]
        label = _JOIN[label][x_label]
    dtype = (_STRONG_X64 if config.enable_x64 else _STRONG_X32).get(label)
    if dtype is not None:
        return (dtype, False) if return_weak_type_flag else dtype
    dtype = _WEAK_DEFAULT[label]()
    return (dtype, True) if return_weak_type_flag else dtype


# ---------------------------------------------------------------------- dtype predicates

_BF16_SUPERTYPES = (np.floating, np.inexact, np.number, np.generic)


def _is_bfloat16(x: Any) -> bool:
    if x is bfloat16 or (isinstance(x, str) and x == "bfloat16"):
        return True
    return isinstance(x, np.dtype) and x == BFLOAT16


def issubdtype(dtype: Any, category: Any) -> bool:
    """Tells whether ``dtype`` is ``category`` or below it in NumPy's type hierarchy.

    Like ``np.issubdtype``, except that bfloat16 counts as a floating (and inexact) type,
    which NumPy does not know because bfloat16 comes from ``ml_dtypes``.

    Args:
        dtype: a dtype-like.
        category: a dtype-like or an abstract NumPy type such as ``np.floating``,
            ``np.integer``, ``np.inexact``, ``np.complexfloating``, ``np.signedinteger``,
            ``np.unsignedinteger`` or ``np.bool_``.

    Returns:
        True when ``dtype`` belongs to ``category``.

    Example:
        >>> issubdtype(BFLOAT16, np.floating), np.issubdtype(BFLOAT16, np.floating)
        (True, False)
        >>> issubdtype("uint8", np.signedinteger)
        False
    """
    if _is_bfloat16(dtype) and any(category is c for c in _BF16_SUPERTYPES):
        return True
    return bool(np.issubdtype(dtype, category))


def _predicate(labels: frozenset[str], category: type) -> Any:
    def check(dtype: Any) -> bool:
        if type(dtype) in _DTYPE_CLASSES:
            label = _LABEL_OF_DTYPE.get(dtype)
            if label is not None:
                return label in labels
        return issubdtype(dtype, category)

    return check


_is_float = _predicate(_FLOAT_LABELS, np.floating)
_is_int = _predicate(_INT_LABELS, np.integer)
_is_unsigned = _predicate(_UNSIGNED_LABELS, np.unsignedinteger)
_is_complex = _predicate(_COMPLEX_LABELS, np.complexfloating)
_is_inexact = _predicate(_INEXACT_LABELS, np.inexact)
_is_bool = _predicate(_BOOL_LABELS, np.bool_)


def is_float(dtype: Any) -> bool:
    """Tells whether a dtype is a real floating-point type (bfloat16 included).

    Args:
        dtype: a dtype-like.

    Returns:
        True for float16, bfloat16, float32, float64.

    Example:
        >>> is_float(BFLOAT16), is_float("int32"), is_float("complex64")
        (True, False, False)
    """
    return _is_float(dtype)


def is_int(dtype: Any) -> bool:
    """Tells whether a dtype is an integer type, signed or unsigned (bool is not).

    Args:
        dtype: a dtype-like.

    Returns:
        True for int8..int64 and uint8..uint64.

    Example:
        >>> is_int("uint8"), is_int("bool"), is_int("float32")
        (True, False, False)
    """
    return _is_int(dtype)


def is_unsigned(dtype: Any) -> bool:
    """Tells whether a dtype is an unsigned integer type.

    Args:
        dtype: a dtype-like.

    Returns:
        True for uint8..uint64.

    Example:
        >>> is_unsigned("uint16"), is_unsigned("int16")
        (True, False)
    """
    return _is_unsigned(dtype)


def is_complex(dtype: Any) -> bool:
    """Tells whether a dtype is a complex type.

    Args:
        dtype: a dtype-like.

    Returns:
        True for complex64 and complex128.

    Example:
        >>> is_complex("complex64"), is_complex("float32")
        (True, False)
    """
    return _is_complex(dtype)


def is_inexact(dtype: Any) -> bool:
    """Tells whether a dtype is floating-point or complex (the types ``grad`` accepts).

    Args:
        dtype: a dtype-like.

    Returns:
        True for the float and complex types, bfloat16 included.

    Example:
        >>> is_inexact(BFLOAT16), is_inexact("complex64"), is_inexact("int32")
        (True, True, False)
    """
    return _is_inexact(dtype)


def is_bool(dtype: Any) -> bool:
    """Tells whether a dtype is the boolean type.

    Args:
        dtype: a dtype-like.

    Returns:
        True for bool only.

    Example:
        >>> is_bool(BOOL), is_bool("uint8")
        (True, False)
    """
    return _is_bool(dtype)


# -------------------------------------------------------------------------- type limits


def iinfo(dtype: Any) -> np.iinfo:
    """Returns the limits of an integer dtype (``np.iinfo``).

    Args:
        dtype: an integer dtype-like; the Python type ``int`` means the default int dtype.

    Returns:
        The ``np.iinfo`` of that dtype (``.min``, ``.max``, ``.bits``).

    Raises:
        DtypeError: ``dtype`` is not a supported integer dtype.

    Example:
        >>> iinfo("int8").min, iinfo("uint16").max
        (-128, 65535)
    """
    dt = to_numpy_dtype(dtype)
    if not is_int(dt):
        raise DtypeError(
            f"iinfo needs an integer dtype, got {dt}. Use finfo(...) for floating-point and "
            "complex dtypes; bool has no integer limits."
        )
    return np.iinfo(dt)


def finfo(dtype: Any) -> Any:
    """Returns the machine limits of a floating-point or complex dtype, bfloat16 included.

    Uses ``ml_dtypes.finfo``, which extends ``np.finfo`` to bfloat16. For complex dtypes the
    limits are those of the real component.

    Args:
        dtype: a float or complex dtype-like; the Python type ``float`` means the default
            float dtype.

    Returns:
        A finfo object (``.eps``, ``.max``, ``.tiny``, ``.bits``, ...).

    Raises:
        DtypeError: ``dtype`` is not a supported float or complex dtype.

    Example:
        >>> float(finfo(BFLOAT16).eps)
        0.0078125
        >>> finfo("float32").bits
        32
    """
    dt = to_numpy_dtype(dtype)
    if not is_inexact(dt):
        raise DtypeError(
            f"finfo needs a floating-point or complex dtype, got {dt}. Use iinfo(...) for "
            "integer dtypes."
        )
    return ml_dtypes.finfo(dt)


# ----------------------------------------------------------------------- names in the IR


def dtype_to_str(dtype: Any) -> str:
    """Returns the short name the IR printer uses for a dtype.

    Names are ``bool``, ``i8``..``i64``, ``u8``..``u64``, ``f16``, ``bf16``, ``f32``,
    ``f64``, ``c64``, ``c128`` (the number is the bit width).

    Args:
        dtype: a supported dtype-like.

    Returns:
        The short name.

    Raises:
        DtypeError: ``dtype`` is not a supported dtype.

    Example:
        >>> dtype_to_str(FLOAT32), dtype_to_str("uint8"), dtype_to_str(bfloat16)
        ('f32', 'u8', 'bf16')
    """
    return _strong_label(dtype, "dtype")


def dtype_from_str(name: str) -> np.dtype:
    """Returns the dtype for a short IR name; the inverse of ``dtype_to_str``.

    Args:
        name: a short name such as ``'f32'`` or ``'bf16'``.

    Returns:
        One of ``SUPPORTED_DTYPES``.

    Raises:
        DtypeError: ``name`` is not a short dtype name.

    Example:
        >>> dtype_from_str("c64")
        dtype('complex64')
    """
    dt = _DTYPE_OF_LABEL.get(name) if isinstance(name, str) else None
    if dt is None:
        raise DtypeError(
            f"Argument `name`={name!r} is not a short dtype name. Known names: "
            f"{', '.join(_DTYPE_OF_LABEL)}."
        )
    return dt
