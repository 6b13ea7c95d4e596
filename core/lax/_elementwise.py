"""Elementwise primitives, defined through family combinators.

A unary op is one line: its name, its NumPy function, the dtypes it accepts and its
derivative as a function of the input ``x``, the tangent ``t`` and the output ``ans``.
Binary ops list one derivative per operand. The combinators attach the impl, the shape
rule, the jvp rule and the batching rule, so every op has them all in one place.

Elementwise primitives take operands of one shape and one dtype; ``derivax.numpy`` does
broadcasting and type promotion before it binds them.
"""

from __future__ import annotations

import builtins
import math

import numpy as np

from .._ad_util import UndefinedPrimal, Zero, add_tangents, instantiate, is_undefined
from .._core import Primitive, ShapedArray
from ._util import aval_of, is_inexact, is_integral, val, weak, wrap

# --------------------------------------------------------------------------- combinators

_FLOAT = "float"  # floating or complex
_NUM = "number"  # any numeric (not bool)
_ANY = "any"  # numeric or bool
_INT = "int"  # integer or bool


def _check_kind(name, dtype, kind):
    ok = {
        _FLOAT: is_inexact(dtype),
        _NUM: dtype != np.bool_,
        _ANY: True,
        _INT: is_integral(dtype),
    }[kind]
    if not ok:
        want = {
            _FLOAT: "a floating-point or complex",
            _NUM: "a numeric (not bool)",
            _INT: "an integer or bool",
        }[kind]
        raise TypeError(
            f"{name} requires {want} dtype, got {np.dtype(dtype).name}. Convert the operand "
            f"first, e.g. x.astype(derivax.numpy.float32)."
        )


def _elementwise_abstract_eval(name, kind, out_dtype=None):
    def abstract_eval(*avals, **params):
        a0 = avals[0]
        for a in avals[1:]:
            if a.shape != a0.shape or a.dtype != a0.dtype:
                raise TypeError(
                    f"{name} requires operands of the same shape and dtype, got "
                    f"{', '.join(x.str_short() for x in avals)}. derivax.numpy functions "
                    "broadcast and promote for you; with derivax.lax, broadcast with "
                    "lax.broadcast_in_dim and convert with lax.convert_element_type first."
                )
        _check_kind(name, a0.dtype, kind)
        weak_out = all(a.weak_type for a in avals) and out_dtype is None
        return ShapedArray(a0.shape, out_dtype or a0.dtype, weak_out)

    return abstract_eval


def _elementwise_impl(np_fn, out_dtype=None):
    def impl(*args, **params):
        vals = [val(a) for a in args]
        with np.errstate(all="ignore"):
            out = np_fn(*vals, **params)
        dt = out_dtype or vals[0].dtype
        if type(out) is not np.ndarray:
            out = np.asarray(out, dtype=dt)
        elif out.dtype != dt:
            out = out.astype(dt)
        return wrap(out, out_dtype is None and all(weak(a) for a in args))

    return impl


def _elementwise_batch(prim):
    def batch(vals, dims, **params):
        d0 = next(d for d in dims if d is not None)
        if all(d == d0 for d in dims):
            return prim.bind(*vals, **params), d0
        size = next(v.shape[d] for v, d in zip(vals, dims, strict=True) if d is not None)
        moved = [S.bdim_to_front(v, d, size) for v, d in zip(vals, dims, strict=True)]
        return prim.bind(*moved, **params), 0

    return batch


def _jvp_from_rules(prim, rules):
    def jvp(primals, tangents, **params):
        ans = prim.bind(*primals, **params)
        if not is_inexact(aval_of(ans).dtype):
            return ans, Zero.like(ans)
        out = Zero.like(ans)
        for rule, t in zip(rules, tangents, strict=True):
            if type(t) is Zero:
                continue
            if rule is None:
                raise NotImplementedError(f"{prim.name} has no derivative for this operand")
            out = add_tangents(out, rule(t, *primals, ans=ans, **params))
        return ans, out

    return jvp


def _zero_jvp(prim):
    def jvp(primals, tangents, **params):
        ans = prim.bind(*primals, **params)
        if prim.multiple_results:
            return ans, [Zero.like(a) for a in ans]
        return ans, Zero.like(ans)

    return jvp


def elementwise(name, np_fn, kind, jvps, *, out_dtype=None, nargs=1):
    """Define an elementwise primitive with all its rules.

    Args:
        name: the primitive's name.
        np_fn: the NumPy function computing it.
        kind: which dtypes it accepts ("float", "number", "any", "int").
        jvps: one derivative rule per operand ``rule(t, *primals, ans=...)``, or ``None``
            for a primitive whose derivative is zero everywhere it exists.
        out_dtype: fixed output dtype (bool for comparisons), else the operand dtype.
        nargs: number of operands.
    """
    prim = Primitive(name)
    prim.impl = _elementwise_impl(np_fn, out_dtype and np.dtype(out_dtype))
    prim.abstract_eval = _elementwise_abstract_eval(name, kind, out_dtype and np.dtype(out_dtype))
    prim.batch = _elementwise_batch(prim)
    prim.jvp = _zero_jvp(prim) if jvps is None else _jvp_from_rules(prim, jvps)
    prim.nargs = nargs
    return prim


def _unary(name, np_fn, kind, jvp, **kw):
    prim = elementwise(name, np_fn, kind, None if jvp is None else [jvp], **kw)
    return prim, lambda x: prim.bind(x)


def _binary(name, np_fn, kind, jvps, **kw):
    prim = elementwise(name, np_fn, kind, jvps, nargs=2, **kw)
    return prim, lambda x, y: prim.bind(x, y)


def _const(x, value):
    """A scalar constant broadcast to the shape and dtype of ``x``."""
    a = aval_of(x)
    return S.full(a.shape, value, a.dtype)


# --------------------------------------------------------------------------- NumPy kernels
# A few kernels NumPy lacks; computed in float64 and rounded once.


def _np_erf(x):
    # float64 erf to a few ULP over the whole line (``_special._erf64``: a polynomial in
    # x^2 below 0.84375, 1 - erfc above). Imported here: ``_special`` builds on this module.
    from ._special import _erf64

    return _erf64(x).astype(x.dtype)


def _np_logistic(x):
    # Stable for large |x|: exp never overflows to inf / inf.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)


def _np_rsqrt(x):
    return (1 / np.sqrt(x)).astype(x.dtype)


def _np_round(x, rounding_method=0):
    if rounding_method == 1:  # half to even
        return np.round(x)
    r = np.trunc(x)  # x - trunc(x) is exact, so the 0.5 test is exact
    return np.where(np.abs(x - r) >= 0.5, r + np.sign(x), r).astype(x.dtype)


def _np_div(x, y):
    if is_integral(x.dtype):
        # Integer division rounds toward zero (C semantics), as in XLA; x / 0 gives 0 here
        # rather than a crash (documented in derivax.lax.div).
        safe = np.where(y == 0, 1, y)
        q = np.abs(x) // np.abs(safe)
        q = np.where((x < 0) != (safe < 0), -q, q) if x.dtype.kind == "i" else q
        return np.where(y == 0, 0, q).astype(x.dtype)
    return np.true_divide(x, y)


def _np_rem(x, y):
    if is_integral(x.dtype):
        safe = np.where(y == 0, 1, y)
        return np.where(y == 0, 0, np.fmod(x, safe)).astype(x.dtype)
    return np.fmod(x, y)


def _np_pow(x, y):
    return np.power(x, y)


def _np_integer_pow(x, y):
    # Repeated squaring keeps float32 exact to NumPy's multiply (np.power on float32 is slow).
    if y == 0:
        return np.ones_like(x)
    acc = None
    base = x
    n = builtins.abs(y)
    while n:
        if n & 1:
            acc = base if acc is None else acc * base
        n >>= 1
        if n:
            base = base * base
    return (1 / acc).astype(x.dtype) if y < 0 else acc


# --------------------------------------------------------------------------- unary ops

neg_p, neg = _unary("neg", np.negative, _NUM, lambda t, x, ans: neg(t))
sign_p, sign = _unary("sign", np.sign, _NUM, None)
floor_p, floor = _unary("floor", np.floor, _FLOAT, None)
ceil_p, ceil = _unary("ceil", np.ceil, _FLOAT, None)
round_p = elementwise("round", _np_round, _FLOAT, None)


def round(x, rounding_method=0):  # noqa: A001 - mirrors lax.round
    """Round to integral values: 0 = half away from zero, 1 = half to even."""
    return round_p.bind(x, rounding_method=int(rounding_method))


is_finite_p, is_finite = _unary("is_finite", np.isfinite, _FLOAT, None, out_dtype=np.bool_)
exp_p, exp = _unary("exp", np.exp, _FLOAT, lambda t, x, ans: mul(t, ans))
exp2_p, exp2 = _unary(
    "exp2", np.exp2, _FLOAT, lambda t, x, ans: mul(t, mul(ans, _const(ans, math.log(2))))
)
log_p, log = _unary("log", np.log, _FLOAT, lambda t, x, ans: div(t, x))
log1p_p, log1p = _unary("log1p", np.log1p, _FLOAT, lambda t, x, ans: div(t, add(x, _const(x, 1))))
expm1_p, expm1 = _unary(
    "expm1", np.expm1, _FLOAT, lambda t, x, ans: mul(t, add(ans, _const(ans, 1)))
)
tanh_p, tanh = _unary(
    "tanh", np.tanh, _FLOAT, lambda t, x, ans: mul(t, sub(_const(ans, 1), mul(ans, ans)))
)
logistic_p, logistic = _unary(
    "logistic",
    _np_logistic,
    _FLOAT,
    lambda t, x, ans: mul(t, mul(ans, sub(_const(ans, 1), ans))),
)
sin_p, sin = _unary("sin", np.sin, _FLOAT, lambda t, x, ans: mul(t, cos(x)))
cos_p, cos = _unary("cos", np.cos, _FLOAT, lambda t, x, ans: neg(mul(t, sin(x))))
tan_p, tan = _unary(
    "tan", np.tan, _FLOAT, lambda t, x, ans: mul(t, add(_const(ans, 1), mul(ans, ans)))
)
asin_p, asin = _unary(
    "asin", np.arcsin, _FLOAT, lambda t, x, ans: mul(t, rsqrt(sub(_const(x, 1), mul(x, x))))
)
acos_p, acos = _unary(
    "acos", np.arccos, _FLOAT, lambda t, x, ans: neg(mul(t, rsqrt(sub(_const(x, 1), mul(x, x)))))
)
atan_p, atan = _unary(
    "atan", np.arctan, _FLOAT, lambda t, x, ans: div(t, add(_const(x, 1), mul(x, x)))
)
sinh_p, sinh = _unary("sinh", np.sinh, _FLOAT, lambda t, x, ans: mul(t, cosh(x)))
cosh_p, cosh = _unary("cosh", np.cosh, _FLOAT, lambda t, x, ans: mul(t, sinh(x)))
asinh_p, asinh = _unary(
    "asinh", np.arcsinh, _FLOAT, lambda t, x, ans: mul(t, rsqrt(add(mul(x, x), _const(x, 1))))
)
acosh_p, acosh = _unary(
    "acosh",
    np.arccosh,
    _FLOAT,
    lambda t, x, ans: mul(t, rsqrt(mul(sub(x, _const(x, 1)), add(x, _const(x, 1))))),
)
atanh_p, atanh = _unary(
    "atanh", np.arctanh, _FLOAT, lambda t, x, ans: div(t, sub(_const(x, 1), mul(x, x)))
)
sqrt_p, sqrt = _unary("sqrt", np.sqrt, _FLOAT, lambda t, x, ans: div(t, mul(_const(ans, 2), ans)))
rsqrt_p, rsqrt = _unary(
    "rsqrt", _np_rsqrt, _FLOAT, lambda t, x, ans: mul(t, mul(_const(ans, -0.5), div(ans, x)))
)
cbrt_p, cbrt = _unary(
    "cbrt", np.cbrt, _FLOAT, lambda t, x, ans: div(t, mul(_const(ans, 3), mul(ans, ans)))
)
abs_p, abs = _unary("abs", np.abs, _NUM, lambda t, x, ans: mul(t, sign(x)))  # noqa: A001
erf_p, erf = _unary(
    "erf",
    _np_erf,
    _FLOAT,
    lambda t, x, ans: mul(t, mul(_const(x, 2 / math.sqrt(math.pi)), exp(neg(mul(x, x))))),
)
not_p, bitwise_not = _unary("not", np.invert, _INT, None)

integer_pow_p = elementwise(
    "integer_pow",
    _np_integer_pow,
    _NUM,
    [lambda t, x, ans, y: Zero.like(t) if y == 0 else mul(t, _integer_pow_deriv(x, y))],
)


def _integer_pow_deriv(x, y):
    if y == 1:
        return _const(x, 1)
    lower = x if y == 2 else integer_pow(x, y - 1)
    return mul(_const(x, y), lower)


def integer_pow(x, y):
    """``x ** y`` for a static Python int ``y`` (exact repeated multiplication)."""
    return integer_pow_p.bind(x, y=int(y))


def square(x):
    return integer_pow(x, 2)


# --------------------------------------------------------------------------- binary ops


def _pow_jvp_lhs(t, x, y, ans):
    # d/dx x**y = y * x**(y-1), taken as 0 where y == 0 (so 0**0 has a finite derivative).
    ym1 = sub(y, _const(y, 1))
    d = select_n(eq(y, _const(y, 0)), mul(y, pow(x, ym1)), _const(x, 0))
    return mul(t, d)


def _pow_jvp_rhs(t, x, y, ans):
    # d/dy x**y = log(x) * x**y, with log(0) replaced by 0 (the limit of the product).
    safe_x = select_n(eq(x, _const(x, 0)), x, _const(x, 1))
    return mul(t, mul(log(safe_x), ans))


def _minmax_jvp(cmp):
    def rule(t, x, y, ans, *, this_is_lhs):
        a, b = (x, y) if this_is_lhs else (y, x)
        # The winner takes the tangent; a tie splits it evenly, as JAX does.
        pick = select_n(cmp(a, b), _const(a, 0), _const(a, 1))
        pick = select_n(eq(a, b), pick, _const(a, 0.5))
        return mul(t, pick)

    return [
        lambda t, x, y, ans: rule(t, x, y, ans, this_is_lhs=True),
        lambda t, x, y, ans: rule(t, x, y, ans, this_is_lhs=False),
    ]


add_p, add = _binary("add", np.add, _NUM, [lambda t, x, y, ans: t, lambda t, x, y, ans: t])
sub_p, sub = _binary(
    "sub", np.subtract, _NUM, [lambda t, x, y, ans: t, lambda t, x, y, ans: neg(t)]
)
mul_p, mul = _binary(
    "mul", np.multiply, _NUM, [lambda t, x, y, ans: mul(t, y), lambda t, x, y, ans: mul(x, t)]
)
div_p, div = _binary(
    "div",
    _np_div,
    _NUM,
    [lambda t, x, y, ans: div(t, y), lambda t, x, y, ans: neg(mul(t, div(ans, y)))],
)
rem_p, rem = _binary(
    "rem",
    _np_rem,
    _NUM,
    [
        lambda t, x, y, ans: t,
        lambda t, x, y, ans: neg(mul(t, round(sub(div(x, y), div(rem(x, y), y))))),
    ],
)
pow_p, pow = _binary("pow", _np_pow, _FLOAT, [_pow_jvp_lhs, _pow_jvp_rhs])  # noqa: A001
atan2_p, atan2 = _binary(
    "atan2",
    np.arctan2,
    _FLOAT,
    [
        lambda t, x, y, ans: mul(t, div(y, add(mul(x, x), mul(y, y)))),
        lambda t, x, y, ans: neg(mul(t, div(x, add(mul(x, x), mul(y, y))))),
    ],
)
max_p, max = _binary("max", np.maximum, _ANY, None)  # noqa: A001
min_p, min = _binary("min", np.minimum, _ANY, None)  # noqa: A001
and_p, bitwise_and = _binary("and", np.bitwise_and, _INT, None)
or_p, bitwise_or = _binary("or", np.bitwise_or, _INT, None)
xor_p, bitwise_xor = _binary("xor", np.bitwise_xor, _INT, None)

eq_p, eq = _binary("eq", np.equal, _ANY, None, out_dtype=np.bool_)
ne_p, ne = _binary("ne", np.not_equal, _ANY, None, out_dtype=np.bool_)
lt_p, lt = _binary("lt", np.less, _ANY, None, out_dtype=np.bool_)
le_p, le = _binary("le", np.less_equal, _ANY, None, out_dtype=np.bool_)
gt_p, gt = _binary("gt", np.greater, _ANY, None, out_dtype=np.bool_)
ge_p, ge = _binary("ge", np.greater_equal, _ANY, None, out_dtype=np.bool_)

max_p.jvp = _jvp_from_rules(max_p, _minmax_jvp(gt))
min_p.jvp = _jvp_from_rules(min_p, _minmax_jvp(lt))


# --- transposes of the linear elementwise ops (linear in the operands marked undefined)


def _add_transpose(ct, x, y):
    return [ct if is_undefined(x) else None, ct if is_undefined(y) else None]


def _sub_transpose(ct, x, y):
    neg_ct = Zero(ct.aval) if type(ct) is Zero else neg(ct)
    return [ct if is_undefined(x) else None, neg_ct if is_undefined(y) else None]


def _mul_transpose(ct, x, y):
    if is_undefined(x) and is_undefined(y):
        raise ValueError("mul is linear in one operand only; both were marked linear.")
    if type(ct) is Zero:
        return [
            Zero(x.aval) if is_undefined(x) else None,
            Zero(y.aval) if is_undefined(y) else None,
        ]
    if is_undefined(x):
        return [mul(ct, y), None]
    return [None, mul(x, ct)]


def _div_transpose(ct, x, y):
    if is_undefined(y):
        raise ValueError("div is linear in its numerator only.")
    if type(ct) is Zero:
        return [Zero(x.aval), None]
    return [div(ct, y), None]


def _neg_transpose(ct, x):
    return [Zero(x.aval) if type(ct) is Zero else neg(ct)]


for _p, _t in [
    (add_p, _add_transpose),
    (sub_p, _sub_transpose),
    (mul_p, _mul_transpose),
    (div_p, _div_transpose),
    (neg_p, _neg_transpose),
]:
    _p.transpose = _t
    _p.linear = True


# --------------------------------------------------------------------------- select


def _select_abstract_eval(pred, *cases):
    if pred.dtype != np.bool_ and not np.issubdtype(pred.dtype, np.integer):
        raise TypeError(f"select_n predicate must be bool or int32, got {pred.str_short()}.")
    c0 = cases[0]
    for c in cases[1:]:
        if c.shape != c0.shape or c.dtype != c0.dtype:
            raise TypeError(
                "select_n cases must have the same shape and dtype, got "
                f"{', '.join(c.str_short() for c in cases)}."
            )
    if pred.shape not in ((), c0.shape):
        raise TypeError(
            f"select_n predicate shape {pred.shape} must be () or the cases' shape {c0.shape}."
        )
    return ShapedArray(c0.shape, c0.dtype, all(c.weak_type for c in cases))


def _select_impl(pred, *cases):
    p = val(pred)
    vals = [val(c) for c in cases]
    if len(vals) == 2 and p.dtype == np.bool_:
        out = np.where(p, vals[1], vals[0])
    else:
        out = np.choose(p.astype(np.int64), vals)
    if out.dtype != vals[0].dtype:
        out = out.astype(vals[0].dtype)
    return wrap(out, all(weak(c) for c in cases))


def _select_jvp(primals, tangents):
    pred, *cases = primals
    ans = select_n_p.bind(pred, *cases)
    ts = tangents[1:]
    if all(type(t) is Zero for t in ts) or not is_inexact(aval_of(ans).dtype):
        return ans, Zero.like(ans)
    ts = [instantiate(t) for t in ts]
    return ans, select_n_p.bind(pred, *ts)


def _select_transpose(ct, pred, *cases):
    if is_undefined(pred):
        raise ValueError("select_n is not linear in its predicate.")
    out = [None]
    for i, c in enumerate(cases):
        if not is_undefined(c):
            out.append(None)
        elif type(ct) is Zero:
            out.append(Zero(c.aval))
        else:
            zeros = S.full(aval_of(ct).shape, 0, aval_of(ct).dtype)
            branches = [zeros] * len(cases)
            branches[i] = ct
            out.append(select_n_p.bind(pred, *branches))
    return out


def _select_batch(vals, dims):
    pred, *cases = vals
    pdim, *cdims = dims
    size = next(v.shape[d] for v, d in zip(vals, dims, strict=True) if d is not None)
    if pdim is None and aval_of(pred).ndim == 0:
        if all(d == cdims[0] for d in cdims):
            return select_n_p.bind(pred, *cases), cdims[0]
        cases = [S.bdim_to_front(c, d, size) for c, d in zip(cases, cdims, strict=True)]
        return select_n_p.bind(pred, *cases), 0
    cases = [S.bdim_to_front(c, d, size) for c, d in zip(cases, cdims, strict=True)]
    full = aval_of(cases[0]).shape
    if pdim is None:  # an unbatched full-shape predicate
        pred = S.broadcast_in_dim(pred, full, tuple(range(1, len(full))))
    else:
        pred = S.bdim_to_front(pred, pdim, size)
        if aval_of(pred).ndim == 1 and len(full) > 1:  # it was a scalar predicate
            pred = S.broadcast_in_dim(pred, full, (0,))
    return select_n_p.bind(pred, *cases), 0


select_n_p = Primitive("select_n")
select_n_p.impl = _select_impl
select_n_p.abstract_eval = _select_abstract_eval
select_n_p.jvp = _select_jvp
select_n_p.transpose = _select_transpose
select_n_p.batch = _select_batch
select_n_p.linear = True


def select_n(which, *cases):
    """``cases[which]`` elementwise; with a bool ``which``: ``cases[1]`` where True."""
    return select_n_p.bind(which, *cases)


def select(pred, on_true, on_false):
    """``on_true`` where ``pred`` else ``on_false`` (operands of one shape and dtype)."""
    return select_n_p.bind(pred, on_false, on_true)


# --------------------------------------------------------------------------- convert


def _convert_impl(x, *, new_dtype, weak_type):
    v = val(x)
    if v.dtype == new_dtype:
        return wrap(v, weak_type)
    with np.errstate(all="ignore"):
        if is_inexact(v.dtype) and is_integral(new_dtype) and new_dtype != np.bool_:
            # Float -> int conversion truncates; NaN becomes 0 and out-of-range values
            # saturate (XLA's rule), rather than NumPy's undefined values.
            info = np.iinfo(new_dtype)
            v = np.nan_to_num(np.trunc(v.astype(np.float64)), nan=0.0)
            # float(info.max) rounds up to 2**63 for 64-bit types, so saturate explicitly.
            high = v >= float(info.max)
            low = v <= float(info.min)
            v = np.where(high | low, 0.0, v).astype(new_dtype)
            v[high] = info.max
            v[low] = info.min
        out = v.astype(new_dtype)
    return wrap(out, weak_type)


def _convert_abstract_eval(x, *, new_dtype, weak_type):
    return ShapedArray(x.shape, new_dtype, weak_type)


def _convert_jvp(primals, tangents, *, new_dtype, weak_type):
    (x,), (t,) = primals, tangents
    ans = convert_element_type_p.bind(x, new_dtype=new_dtype, weak_type=weak_type)
    if type(t) is Zero or not (is_inexact(aval_of(x).dtype) and is_inexact(new_dtype)):
        return ans, Zero.like(ans)
    return ans, convert_element_type_p.bind(t, new_dtype=new_dtype, weak_type=weak_type)


def _convert_transpose(ct, x, *, new_dtype, weak_type):
    if type(ct) is Zero:
        return [Zero(x.aval)]
    return [convert_element_type_p.bind(ct, new_dtype=x.aval.dtype, weak_type=x.aval.weak_type)]


convert_element_type_p = Primitive("convert_element_type")
convert_element_type_p.impl = _convert_impl
convert_element_type_p.abstract_eval = _convert_abstract_eval
convert_element_type_p.jvp = _convert_jvp
convert_element_type_p.transpose = _convert_transpose
convert_element_type_p.batch = lambda vals, dims, **p: (
    convert_element_type_p.bind(vals[0], **p),
    dims[0],
)
convert_element_type_p.linear = True
convert_element_type_p.print_params = lambda p: {"new_dtype": np.dtype(p["new_dtype"]).name}


def convert_element_type(x, new_dtype, weak_type=False):
    """Convert ``x`` to ``new_dtype`` (float→int truncates and saturates; NaN→0)."""
    new_dtype = np.dtype(new_dtype)
    if aval_of(x).dtype == new_dtype and aval_of(x).weak_type == weak_type:
        return x
    return convert_element_type_p.bind(x, new_dtype=new_dtype, weak_type=bool(weak_type))


# --------------------------------------------------------------------------- stop_gradient


def _identity_impl(x):
    return x


stop_gradient_p = Primitive("stop_gradient")
stop_gradient_p.impl = _identity_impl
stop_gradient_p.abstract_eval = lambda x: x
stop_gradient_p.jvp = _zero_jvp(stop_gradient_p)
stop_gradient_p.batch = lambda vals, dims: (stop_gradient_p.bind(vals[0]), dims[0])


def stop_gradient(x):
    """``x``, with a zero derivative (any pytree of arrays)."""
    from .._api import stop_gradient as tree_stop_gradient

    return tree_stop_gradient(x)


def _undefined_aval(x):
    return x.aval if type(x) is UndefinedPrimal else aval_of(x)


from . import _structural as S  # noqa: E402 - circular: structural ops use these
