"""Tests of derivax's dtypes: canonicalization, weak types, promotion, predicates, limits.

The promotion tables below are written by hand from JAX's documented type promotion table
(docs: "Type promotion semantics"), in that document's notation; they are not produced by the
code under test.
"""

from __future__ import annotations

import doctest
import enum
import importlib.machinery
import importlib.util
import inspect
import itertools
import pathlib
import sys

import ml_dtypes
import numpy as np
import pytest


def _import_leaf_modules():
    """Imports derivax._config and derivax._dtypes.

    Until the package is importable (core/__init__.py plus the editable install), the name
    ``derivax`` is bound to the core/ folder without running any ``__init__``: both modules
    import nothing from derivax but each other.
    """
    try:
        from derivax import _config, _dtypes
    except ModuleNotFoundError as err:
        core = pathlib.Path(__file__).resolve().parents[1] / "core"
        if err.name != "derivax" or (core / "__init__.py").exists():
            raise
        package = importlib.util.module_from_spec(
            importlib.machinery.ModuleSpec("derivax", None, is_package=True)
        )
        package.__path__ = [str(core)]
        sys.modules["derivax"] = package
        from derivax import _config, _dtypes
    return _config, _dtypes


_config, dtypes = _import_leaf_modules()
config = _config.config
DtypeError = dtypes.DtypeError

# --------------------------------------------------------------------- notation and tables
# Notation of the JAX document: b1 = bool, uN / iN / fN / cN = N *bytes*, bf = bfloat16,
# i* / f* / c* = weak int / float / complex (Python scalars or weakly typed arrays).
STRONG = {
    "b1": np.dtype(np.bool_),
    "u1": np.dtype(np.uint8),
    "u2": np.dtype(np.uint16),
    "u4": np.dtype(np.uint32),
    "u8": np.dtype(np.uint64),
    "i1": np.dtype(np.int8),
    "i2": np.dtype(np.int16),
    "i4": np.dtype(np.int32),
    "i8": np.dtype(np.int64),
    "bf": np.dtype(ml_dtypes.bfloat16),
    "f2": np.dtype(np.float16),
    "f4": np.dtype(np.float32),
    "f8": np.dtype(np.float64),
    "c8": np.dtype(np.complex64),
    "c16": np.dtype(np.complex128),
}
WEAK_PY_TYPE = {"i*": int, "f*": float, "c*": complex}
WEAK_PY_VALUE = {"i*": 3, "f*": 2.5, "c*": 1 + 2j}
# What a weak result resolves to.
WEAK_RESULT_X32 = {"i*": np.int32, "f*": np.float32, "c*": np.complex64}
WEAK_RESULT_X64 = {"i*": np.int64, "f*": np.float64, "c*": np.complex128}

# x64 off. Rows and columns in the order of the header. The cells marked (a) in the comment
# are int64 on the lattice (u4 with a signed int), canonicalized to int32 with x64 off.
TABLE_X32 = """
      b1  u1  u2  u4  i1  i2  i4  bf  f2  f4  c8  i*  f*  c*
b1    b1  u1  u2  u4  i1  i2  i4  bf  f2  f4  c8  i*  f*  c*
u1    u1  u1  u2  u4  i2  i2  i4  bf  f2  f4  c8  u1  f*  c*
u2    u2  u2  u2  u4  i4  i4  i4  bf  f2  f4  c8  u2  f*  c*
u4    u4  u4  u4  u4  i4  i4  i4  bf  f2  f4  c8  u4  f*  c*
i1    i1  i2  i4  i4  i1  i2  i4  bf  f2  f4  c8  i1  f*  c*
i2    i2  i2  i4  i4  i2  i2  i4  bf  f2  f4  c8  i2  f*  c*
i4    i4  i4  i4  i4  i4  i4  i4  bf  f2  f4  c8  i4  f*  c*
bf    bf  bf  bf  bf  bf  bf  bf  bf  f4  f4  c8  bf  bf  c8
f2    f2  f2  f2  f2  f2  f2  f2  f4  f2  f4  c8  f2  f2  c8
f4    f4  f4  f4  f4  f4  f4  f4  f4  f4  f4  c8  f4  f4  c8
c8    c8  c8  c8  c8  c8  c8  c8  c8  c8  c8  c8  c8  c8  c8
i*    i*  u1  u2  u4  i1  i2  i4  bf  f2  f4  c8  i*  f*  c*
f*    f*  f*  f*  f*  f*  f*  f*  bf  f2  f4  c8  f*  f*  c*
c*    c*  c*  c*  c*  c*  c*  c*  c8  c8  c8  c8  c*  c*  c*
"""
# (a): u4/i1, u4/i2, u4/i4 and their mirror cells.

# x64 on: the full documented table.
TABLE_X64 = """
      b1  u1  u2  u4  u8  i1  i2  i4  i8  bf  f2  f4  f8  c8  c16 i*  f*  c*
b1    b1  u1  u2  u4  u8  i1  i2  i4  i8  bf  f2  f4  f8  c8  c16 i*  f*  c*
u1    u1  u1  u2  u4  u8  i2  i2  i4  i8  bf  f2  f4  f8  c8  c16 u1  f*  c*
u2    u2  u2  u2  u4  u8  i4  i4  i4  i8  bf  f2  f4  f8  c8  c16 u2  f*  c*
u4    u4  u4  u4  u4  u8  i8  i8  i8  i8  bf  f2  f4  f8  c8  c16 u4  f*  c*
u8    u8  u8  u8  u8  u8  f*  f*  f*  f*  bf  f2  f4  f8  c8  c16 u8  f*  c*
i1    i1  i2  i4  i8  f*  i1  i2  i4  i8  bf  f2  f4  f8  c8  c16 i1  f*  c*
i2    i2  i2  i4  i8  f*  i2  i2  i4  i8  bf  f2  f4  f8  c8  c16 i2  f*  c*
i4    i4  i4  i4  i8  f*  i4  i4  i4  i8  bf  f2  f4  f8  c8  c16 i4  f*  c*
i8    i8  i8  i8  i8  f*  i8  i8  i8  i8  bf  f2  f4  f8  c8  c16 i8  f*  c*
bf    bf  bf  bf  bf  bf  bf  bf  bf  bf  bf  f4  f4  f8  c8  c16 bf  bf  c8
f2    f2  f2  f2  f2  f2  f2  f2  f2  f2  f4  f2  f4  f8  c8  c16 f2  f2  c8
f4    f4  f4  f4  f4  f4  f4  f4  f4  f4  f4  f4  f4  f8  c8  c16 f4  f4  c8
f8    f8  f8  f8  f8  f8  f8  f8  f8  f8  f8  f8  f8  f8  c16 c16 f8  f8  c16
c8    c8  c8  c8  c8  c8  c8  c8  c8  c8  c8  c8  c8  c16 c8  c16 c8  c8  c8
c16   c16 c16 c16 c16 c16 c16 c16 c16 c16 c16 c16 c16 c16 c16 c16 c16 c16 c16
i*    i*  u1  u2  u4  u8  i1  i2  i4  i8  bf  f2  f4  f8  c8  c16 i*  f*  c*
f*    f*  f*  f*  f*  f*  f*  f*  f*  f*  bf  f2  f4  f8  c8  c16 f*  f*  c*
c*    c*  c*  c*  c*  c*  c*  c*  c*  c*  c8  c8  c8  c16 c8  c16 c*  c*  c*
"""


def parse_table(text):
    """Returns {(row, column): cell} from a table written as above."""
    header, *rows = [line.split() for line in text.strip().splitlines()]
    table = {}
    for row in rows:
        assert len(row) == len(header) + 1, row
        for column, cell in zip(header, row[1:], strict=True):
            table[row[0], column] = cell
    return table


def expected(cell, weak_results):
    """(dtype, weak) a table cell stands for."""
    if cell in weak_results:
        return np.dtype(weak_results[cell]), True
    return STRONG[cell], False


def as_dtype_like(name):
    """A dtype-like for promote_types: weak nodes are the Python types int/float/complex."""
    return WEAK_PY_TYPE[name] if name in WEAK_PY_TYPE else STRONG[name]


class FakeArray:
    """Stands in for derivax Arrays and tracers: a dtype and a weak_type flag."""

    def __init__(self, dtype, weak_type=False):
        self.dtype = np.dtype(dtype)
        self.weak_type = weak_type


def as_value(name):
    """A value for result_type: NumPy arrays for strong nodes, Python scalars for weak."""
    if name in WEAK_PY_VALUE:
        return WEAK_PY_VALUE[name]
    return np.zeros((2,), STRONG[name])


X32_PAIRS = sorted(parse_table(TABLE_X32).items())
X64_PAIRS = sorted(parse_table(TABLE_X64).items())


def test_tables_are_symmetric():
    # Guards against transcription slips in the hand-written tables.
    for text in (TABLE_X32, TABLE_X64):
        table = parse_table(text)
        for (a, b), cell in table.items():
            assert table[b, a] == cell, (a, b)


# --------------------------------------------------------------------------- promotion


@pytest.mark.parametrize(("pair", "cell"), X32_PAIRS, ids=lambda p: "-".join(p))
def test_promotion_table_x64_off(pair, cell):
    a, b = pair
    with config.context(enable_x64=False):
        want_dtype, want_weak = expected(cell, WEAK_RESULT_X32)
        assert dtypes.promote_types(as_dtype_like(a), as_dtype_like(b)) == want_dtype
        got = dtypes.result_type(as_value(a), as_value(b), return_weak_type_flag=True)
        assert got == (want_dtype, want_weak)


@pytest.mark.parametrize(("pair", "cell"), X64_PAIRS, ids=lambda p: "-".join(p))
def test_promotion_table_x64_on(pair, cell):
    a, b = pair
    with config.context(enable_x64=True, default_float_dtype="float64"):
        want_dtype, want_weak = expected(cell, WEAK_RESULT_X64)
        assert dtypes.promote_types(as_dtype_like(a), as_dtype_like(b)) == want_dtype
        got = dtypes.result_type(as_value(a), as_value(b), return_weak_type_flag=True)
        assert got == (want_dtype, want_weak)


@pytest.mark.parametrize(("pair", "cell"), X32_PAIRS, ids=lambda p: "-".join(p))
def test_weakly_typed_arrays_promote_like_python_scalars(pair, cell):
    # A weak array of any dtype of the right kind is the node i*, f* or c*.
    weak_arrays = {
        "i*": FakeArray(np.int16, weak_type=True),
        "f*": FakeArray(np.float16, weak_type=True),
        "c*": FakeArray(np.complex64, weak_type=True),
    }
    a, b = pair
    a_value = weak_arrays[a] if a in weak_arrays else FakeArray(STRONG[a])
    b_value = weak_arrays[b] if b in weak_arrays else FakeArray(STRONG[b])
    got = dtypes.result_type(a_value, b_value, return_weak_type_flag=True)
    assert got == expected(cell, WEAK_RESULT_X32)


def test_join_is_associative_commutative_idempotent():
    nodes = list(parse_table(TABLE_X64).keys())
    names = sorted({a for a, _ in nodes})
    with config.context(enable_x64=True, default_float_dtype="float64"):
        for a, b, c in itertools.product(names, repeat=3):
            left = dtypes.result_type(as_value(a), as_value(b), as_value(c))
            right = dtypes.result_type(as_value(c), as_value(b), as_value(a))
            assert left == right, (a, b, c)
        for a in names:
            assert dtypes.result_type(as_value(a), as_value(a)) == expected(a, WEAK_RESULT_X64)[0]


def test_result_type_examples():
    f16 = np.zeros(3, np.float16)
    assert dtypes.result_type(f16, 2.0) == np.float16
    assert dtypes.result_type(np.int8(1), 2.5, return_weak_type_flag=True) == (
        np.dtype(np.float32),
        True,
    )
    # int8 and uint8 meet at int16, which a weak float then lifts to the weak float node.
    got = dtypes.result_type(np.int8(1), np.uint8(1), 1.0, return_weak_type_flag=True)
    assert got == (np.dtype(np.float32), True)
    assert dtypes.result_type(ml_dtypes.bfloat16, np.float16, 1) == np.float32
    # Two weak float16 arrays: still weak, with the default float dtype.
    weak_f16 = FakeArray(np.float16, weak_type=True)
    assert dtypes.result_type(weak_f16, weak_f16, return_weak_type_flag=True) == (
        np.dtype(np.float32),
        True,
    )
    # A strong array of the same dtype wins over a weak one.
    assert dtypes.result_type(
        FakeArray(np.float32, weak_type=True), FakeArray(np.float32), return_weak_type_flag=True
    ) == (np.dtype(np.float32), False)
    # bool is strongly typed, as a value, a type and an array.
    assert dtypes.result_type(True, return_weak_type_flag=True) == (np.dtype(bool), False)
    weak_bool = FakeArray(np.bool_, weak_type=True)
    assert dtypes.result_type(weak_bool, return_weak_type_flag=True) == (np.dtype(bool), False)


def test_result_type_canonicalizes_numpy_inputs():
    with config.context(enable_x64=False):
        assert dtypes.result_type(np.arange(3)) == np.int32
        assert dtypes.result_type(np.zeros(3)) == np.float32
        assert dtypes.result_type(np.zeros(3), np.float16) == np.float32
        assert dtypes.result_type("float64") == np.float32
        assert dtypes.result_type(np.float64(1.0), return_weak_type_flag=True) == (
            np.dtype(np.float32),
            False,
        )
    with config.context(enable_x64=True):
        assert dtypes.result_type(np.arange(3)) == np.int64
        # x64 on but default float32: Python floats stay float32, ints become int64.
        assert dtypes.result_type(1.0) == np.float32
        assert dtypes.result_type(1) == np.int64
        assert dtypes.result_type(1j) == np.complex64


def test_result_type_python_scalar_subclasses_and_types():
    class Color(enum.IntEnum):
        RED = 1

    assert dtypes.result_type(Color.RED, return_weak_type_flag=True) == (np.dtype(np.int32), True)
    assert dtypes.result_type(np.uint8, int) == np.uint8
    assert dtypes.result_type(np.float16, float) == np.float16
    # The *names* of the Python types mean the strong defaults, as in canonicalize_dtype.
    assert dtypes.result_type(np.float16, "float") == np.float32
    assert dtypes.promote_types(np.uint8, "int") == np.int32


def test_result_type_errors():
    with pytest.raises(DtypeError, match="at least one argument"):
        dtypes.result_type()
    with pytest.raises(DtypeError, match=r"args\[1\].*list.*asarray"):
        dtypes.result_type(np.float32, [1.0, 2.0])
    with pytest.raises(DtypeError, match=r"args\[0\].*object"):
        dtypes.result_type(np.array(["a"], dtype=object))
    with pytest.raises(DtypeError, match=r"`a`.*<U3"):
        dtypes.promote_types("<U3", "float32")


def test_weak_types():
    assert dtypes.python_scalar_dtype(3) == (np.dtype(np.int32), True)
    assert dtypes.python_scalar_dtype(3.0) == (np.dtype(np.float32), True)
    assert dtypes.python_scalar_dtype(3j) == (np.dtype(np.complex64), True)
    assert dtypes.python_scalar_dtype(False) == (np.dtype(np.bool_), False)
    with config.context(enable_x64=True, default_float_dtype="float64"):
        assert dtypes.python_scalar_dtype(3) == (np.dtype(np.int64), True)
        assert dtypes.python_scalar_dtype(3.0) == (np.dtype(np.float64), True)
        assert dtypes.python_scalar_dtype(3j) == (np.dtype(np.complex128), True)
    with pytest.raises(DtypeError, match="NumPy scalars"):
        dtypes.python_scalar_dtype(np.float64(1.0))
    with pytest.raises(DtypeError, match="str"):
        dtypes.python_scalar_dtype("1.0")

    assert dtypes.is_weakly_typed(1)
    assert dtypes.is_weakly_typed(1.0)
    assert dtypes.is_weakly_typed(1j)
    assert not dtypes.is_weakly_typed(True)
    assert not dtypes.is_weakly_typed(np.float64(1.0))
    assert not dtypes.is_weakly_typed(np.zeros(2))
    assert dtypes.is_weakly_typed(FakeArray(np.float32, weak_type=True))
    assert not dtypes.is_weakly_typed(FakeArray(np.float32))


# ----------------------------------------------------------------------- canonicalization

SUPPORTED_32 = ["bool", "int8", "int16", "int32", "uint8", "uint16", "uint32"]
SUPPORTED_32 += ["float16", "bfloat16", "float32", "complex64"]
X64_TO_X32 = {"float64": "float32", "int64": "int32", "uint64": "uint32"}
X64_TO_X32["complex128"] = "complex64"


@pytest.mark.parametrize("name", SUPPORTED_32)
def test_canonicalize_keeps_32_bit_dtypes(name):
    want = np.dtype(name)
    for spelling in (name, np.dtype(name), np.dtype(name).type):
        got = dtypes.canonicalize_dtype(spelling)
        assert got == want
        assert got is dtypes.canonicalize_dtype(want)


def test_canonicalize_python_types():
    assert dtypes.canonicalize_dtype(bool) == np.bool_
    assert dtypes.canonicalize_dtype(int) == np.int32
    assert dtypes.canonicalize_dtype(float) == np.float32
    assert dtypes.canonicalize_dtype(complex) == np.complex64
    assert dtypes.canonicalize_dtype("float") == np.float32
    assert dtypes.canonicalize_dtype("int") == np.int32
    with config.context(enable_x64=True):
        assert dtypes.canonicalize_dtype(int) == np.int64
        assert dtypes.canonicalize_dtype(float) == np.float32
    with config.context(enable_x64=True, default_float_dtype="float64"):
        assert dtypes.canonicalize_dtype(float) == np.float64
        assert dtypes.canonicalize_dtype(complex) == np.complex128


@pytest.mark.parametrize(("wide", "narrow"), sorted(X64_TO_X32.items()))
def test_canonicalize_explicit_64_bit_request_is_an_error(wide, narrow):
    with config.context(enable_x64=False), pytest.raises(DtypeError) as info:
        dtypes.canonicalize_dtype(wide, argname="out_dtype")
    message = str(info.value)
    assert "`out_dtype`" in message
    assert wide in message
    assert 'derivax.config.update("enable_x64", True)' in message
    assert f"ask for {narrow}" in message
    assert isinstance(info.value, TypeError)


@pytest.mark.parametrize(("wide", "narrow"), sorted(X64_TO_X32.items()))
def test_canonicalize_input_conversion_narrows_silently(wide, narrow):
    with config.context(enable_x64=False):
        assert dtypes.canonicalize_dtype(wide, explicit=False) == np.dtype(narrow)
        assert dtypes.canonicalize_dtype(np.dtype(wide).type, explicit=False) == np.dtype(narrow)
    with config.context(enable_x64=True):
        assert dtypes.canonicalize_dtype(wide) == np.dtype(wide)
        assert dtypes.canonicalize_dtype(wide, explicit=False) == np.dtype(wide)


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        (object, "object"),
        ("U5", "<U5"),
        ("S3", "|S3"),
        ("datetime64[s]", "datetime64[s]"),
        ("timedelta64", "timedelta64"),
        (ml_dtypes.float8_e4m3fn, "float8_e4m3fn"),
        (ml_dtypes.int4, "int4"),
        ([("a", "f4")], "("),
    ],
)
def test_canonicalize_unsupported_dtypes(bad, fragment):
    with pytest.raises(DtypeError) as info:
        dtypes.canonicalize_dtype(bad, argname="dtype")
    message = str(info.value)
    assert "`dtype`" in message
    assert fragment in message
    assert "not support" in message
    assert "float32" in message  # the supported list


def test_canonicalize_bad_spellings():
    with pytest.raises(DtypeError, match=r"`dtype`='floot32' is not a dtype.*'float32'"):
        dtypes.canonicalize_dtype("floot32")
    with pytest.raises(DtypeError, match="`dtype` is None"):
        dtypes.canonicalize_dtype(None)
    with pytest.raises(DtypeError, match=r"pass its `\.dtype` \(float32\)"):
        dtypes.canonicalize_dtype(np.zeros(3, np.float32))


def test_canonicalize_non_native_byte_order():
    swapped = np.dtype(np.float32).newbyteorder("S")
    assert dtypes.canonicalize_dtype(swapped) is dtypes.FLOAT32


def test_to_numpy_dtype_skips_x64_rules():
    with config.context(enable_x64=False):
        assert dtypes.to_numpy_dtype("float64") == np.float64
        assert dtypes.to_numpy_dtype(int) == np.int32
    with pytest.raises(DtypeError, match="object"):
        dtypes.to_numpy_dtype(object)


def test_defaults_follow_config():
    with config.context(enable_x64=False):
        assert dtypes.default_int_dtype() == np.int32
        assert dtypes.default_float_dtype() == np.float32
        assert dtypes.default_complex_dtype() == np.complex64
    with config.context(enable_x64=True):
        assert dtypes.default_int_dtype() == np.int64
        assert dtypes.default_float_dtype() == np.float32
        assert dtypes.default_complex_dtype() == np.complex64
    with config.context(enable_x64=True, default_float_dtype="float64"):
        assert dtypes.default_float_dtype() == np.float64
        assert dtypes.default_complex_dtype() == np.complex128


# ------------------------------------------------------------- predicates, limits, names

KINDS = {
    # dtype: (bool, int, unsigned, float, complex)
    "bool": (True, False, False, False, False),
    "int8": (False, True, False, False, False),
    "int16": (False, True, False, False, False),
    "int32": (False, True, False, False, False),
    "int64": (False, True, False, False, False),
    "uint8": (False, True, True, False, False),
    "uint16": (False, True, True, False, False),
    "uint32": (False, True, True, False, False),
    "uint64": (False, True, True, False, False),
    "float16": (False, False, False, True, False),
    "bfloat16": (False, False, False, True, False),
    "float32": (False, False, False, True, False),
    "float64": (False, False, False, True, False),
    "complex64": (False, False, False, False, True),
    "complex128": (False, False, False, False, True),
}


@pytest.mark.parametrize("name", sorted(KINDS))
def test_predicates(name):
    is_bool, is_int, is_unsigned, is_float, is_complex = KINDS[name]
    for spelling in (name, np.dtype(name)):
        assert dtypes.is_bool(spelling) is is_bool
        assert dtypes.is_int(spelling) is is_int
        assert dtypes.is_unsigned(spelling) is is_unsigned
        assert dtypes.is_float(spelling) is is_float
        assert dtypes.is_complex(spelling) is is_complex
        assert dtypes.is_inexact(spelling) is (is_float or is_complex)
        assert dtypes.issubdtype(spelling, np.floating) is is_float
        assert dtypes.issubdtype(spelling, np.integer) is is_int
        assert dtypes.issubdtype(spelling, np.unsignedinteger) is is_unsigned
        assert dtypes.issubdtype(spelling, np.signedinteger) is (is_int and not is_unsigned)
        assert dtypes.issubdtype(spelling, np.complexfloating) is is_complex
        assert dtypes.issubdtype(spelling, np.inexact) is (is_float or is_complex)
        assert dtypes.issubdtype(spelling, np.bool_) is is_bool


def test_issubdtype_bfloat16():
    bf16 = ml_dtypes.bfloat16
    assert not np.issubdtype(bf16, np.floating)  # the gap this function closes
    for spelling in (bf16, np.dtype(bf16), "bfloat16", dtypes.BFLOAT16):
        assert dtypes.issubdtype(spelling, np.floating)
        assert dtypes.issubdtype(spelling, np.inexact)
        assert dtypes.issubdtype(spelling, np.number)
        assert dtypes.issubdtype(spelling, bf16)
        assert not dtypes.issubdtype(spelling, np.integer)
        assert not dtypes.issubdtype(spelling, np.complexfloating)
        assert not dtypes.issubdtype(spelling, np.float32)
        assert not dtypes.issubdtype(spelling, np.float16)
    assert not dtypes.issubdtype(np.float32, bf16)


def test_finfo():
    bf = dtypes.finfo(ml_dtypes.bfloat16)
    assert bf.bits == 16
    assert float(bf.eps) == 2.0**-7
    assert float(bf.max) == pytest.approx(3.3895313892515355e38)
    assert float(bf.tiny) == 2.0**-126
    assert float(dtypes.finfo(np.float16).eps) == 2.0**-10
    assert float(dtypes.finfo("float32").eps) == 2.0**-23
    assert float(dtypes.finfo(np.complex64).eps) == 2.0**-23
    assert dtypes.finfo(float).bits == 32
    with config.context(enable_x64=False):
        assert dtypes.finfo("float64").bits == 64  # describing a type is not creating one
    with pytest.raises(DtypeError, match=r"finfo needs a floating-point.*int32.*iinfo"):
        dtypes.finfo(np.int32)


def test_iinfo():
    assert (dtypes.iinfo(np.int8).min, dtypes.iinfo(np.int8).max) == (-128, 127)
    assert dtypes.iinfo("uint32").max == 2**32 - 1
    assert dtypes.iinfo(np.int16).bits == 16
    assert dtypes.iinfo(int).max == 2**31 - 1
    with config.context(enable_x64=True):
        assert dtypes.iinfo(int).max == 2**63 - 1
    with pytest.raises(DtypeError, match=r"iinfo needs an integer dtype.*float32.*finfo"):
        dtypes.iinfo(np.float32)
    with pytest.raises(DtypeError, match="bool"):
        dtypes.iinfo(np.bool_)


IR_NAMES = {
    "bool": "bool",
    "int8": "i8",
    "int16": "i16",
    "int32": "i32",
    "int64": "i64",
    "uint8": "u8",
    "uint16": "u16",
    "uint32": "u32",
    "uint64": "u64",
    "float16": "f16",
    "bfloat16": "bf16",
    "float32": "f32",
    "float64": "f64",
    "complex64": "c64",
    "complex128": "c128",
}


@pytest.mark.parametrize(("name", "short"), sorted(IR_NAMES.items()))
def test_ir_names(name, short):
    assert dtypes.dtype_to_str(np.dtype(name)) == short
    assert dtypes.dtype_to_str(name) == short
    assert dtypes.dtype_from_str(short) == np.dtype(name)


def test_ir_name_errors():
    with pytest.raises(DtypeError, match=r"'f31'.*f32"):
        dtypes.dtype_from_str("f31")
    with pytest.raises(DtypeError, match="object"):
        dtypes.dtype_to_str(object)


def test_exported_names():
    assert dtypes.float32 is np.float32
    assert dtypes.bfloat16 is ml_dtypes.bfloat16
    assert dtypes.bool_ is np.bool_
    assert dtypes.FLOAT32 is np.dtype(np.float32)
    assert dtypes.BFLOAT16 is np.dtype(ml_dtypes.bfloat16)
    assert {d.name for d in dtypes.SUPPORTED_DTYPES} == set(IR_NAMES)
    for name in dtypes.__all__:
        assert hasattr(dtypes, name), name
    assert issubclass(DtypeError, TypeError)
    assert DtypeError.__doc__


# -------------------------------------------------------------------------------- docs


@pytest.mark.parametrize("module", [dtypes, _config], ids=lambda m: m.__name__)
def test_doctests(module):
    results = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert results.attempted > 5
    assert results.failed == 0


@pytest.mark.parametrize("module", [dtypes, _config], ids=lambda m: m.__name__)
def test_public_functions_have_examples(module):
    for name in module.__all__:
        obj = getattr(module, name)
        defined_here = getattr(obj, "__module__", None) == module.__name__
        if defined_here and (inspect.isfunction(obj) or inspect.isclass(obj)):
            doc = inspect.getdoc(obj) or ""
            if inspect.isclass(obj) and issubclass(obj, Exception):
                assert "fix" in doc.lower() or "Fix" in doc, name
                continue
            assert ">>>" in doc, name
            for method_name, method in vars(obj).items() if inspect.isclass(obj) else ():
                if inspect.isfunction(method) and not method_name.startswith("_"):
                    assert ">>>" in (inspect.getdoc(method) or ""), f"{name}.{method_name}"


# ------------------------------------------------------------------------------ oracle


def _jax_value(jnp, name):
    if name in WEAK_PY_VALUE:
        return WEAK_PY_VALUE[name]
    return jnp.zeros((2,), STRONG[name])


@pytest.mark.oracle
@pytest.mark.parametrize("x64", [False, True], ids=["x64_off", "x64_on"])
def test_promotion_matches_jax(x64):
    jax = pytest.importorskip("jax", reason="JAX not installed: oracle tests skipped")
    jnp = jax.numpy
    pairs = X64_PAIRS if x64 else X32_PAIRS
    options = {"enable_x64": x64}
    if x64:
        options["default_float_dtype"] = "float64"  # JAX's default float with x64 on
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", x64)
    try:
        with config.context(**options):
            for (a, b), _ in pairs:
                # jnp.promote_types does not canonicalize; ours does.
                theirs = jax.dtypes.canonicalize_dtype(
                    jnp.promote_types(as_dtype_like(a), as_dtype_like(b))
                )
                assert dtypes.promote_types(as_dtype_like(a), as_dtype_like(b)) == theirs, (a, b)
                theirs = jax.dtypes.result_type(
                    _jax_value(jnp, a), _jax_value(jnp, b), return_weak_type_flag=True
                )
                ours = dtypes.result_type(as_value(a), as_value(b), return_weak_type_flag=True)
                assert ours == (np.dtype(theirs[0]), theirs[1]), (a, b)
    finally:
        jax.config.update("jax_enable_x64", previous)
