"""Transcendental functions as straight-line LLVM IR (no libm calls, no ``llvm.exp``).

LLVM's ``llvm.exp``/``llvm.log``/``llvm.tanh`` intrinsics vectorize in the IR but the x86
back end turns each lane into a scalar libm call (10-50x slower than an inline
polynomial). Every function here is branch-free arithmetic, bit manipulation and
``select`` on scalars, so the loop vectorizer widens it to whatever the CPU offers. The
only intrinsics used are those that are single instructions (``rint``, ``fabs``,
``sqrt``, ``floor``).

Accuracy (measured by ``tests/test_mathlib.py`` against float64 NumPy/``math`` over each
function's whole domain, including denormals, infinities, NaN and signed zeros):

============  ===================  =====================================================
function      float32 (max ULP)    float64
============  ===================  =====================================================
exp           <= 1                 <= 1 (Taylor kernel, no fitted constants)
log           <= 2 (XLA's kernel,    <= 1
              bit-identical but
              for subnormal x)
log1p         <= 3 (XLA's kernel,    <= 2
              bit-identical)
expm1         <= 2                 <= 2
tanh          <= 2                 <= 3
logistic      <= 2                 <= 2
erf           <= 1 (float64 core)  <= 4 (the reference kernel's algorithm, see below)
sin, cos      <= 1 (float64 core,  reference evaluator (not lowered)
              Payne-Hanek for
              |x| >= 2**20)
pow           <= 1 (float64 core)  reference evaluator (not lowered)
erfc          <= 1 vs reference    <= 6 (~1e-15 relative, also where erfc is tiny)
lgamma        <= 1 vs reference    1e-14 relative (1e-15 absolute where |lgamma| < 1)
digamma       <= 1 vs reference    1e-14 relative (2e-15 absolute where |digamma| < 1)
============  ===================  =====================================================

erf (float64), erfc, lgamma and digamma evaluate the algorithms and polynomial tables of the
reference kernels in ``derivax.lax._special`` (tests: ``tests/test_mathlib_special.py``).

The float32 polynomial coefficients come from ``_fit.py`` (near-minimax fits).
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir

F32 = ir.FloatType()
F64 = ir.DoubleType()
I1 = ir.IntType(1)
I32 = ir.IntType(32)
I64 = ir.IntType(64)

FLAGS = ("contract",)

# --------------------------------------------------------------------------- coefficients

# e^r = 1 + r + r^2 P(r) on |r| <= ln2/2 (relative error 2.7e-9); shared with expm1.
_EXP_P32 = (
    0.5000000013385606,
    0.16666666532226534,
    0.041666465466654715,
    0.008333360749263243,
    0.0013933604374452603,
    0.00019857784409491432,
)
# log(1+f) = f - f^2/2 + f^3 P(f) on [sqrt(1/2)-1, sqrt(2)-1].
_LOG_P32 = (
    0.3333333117314245,
    -0.24999994007288506,
    0.20000714882505233,
    -0.16668056590615066,
    0.1424931750525207,
    -0.12420159982962889,
    0.11677073360702807,
    -0.1151452097767892,
    0.07037374387759739,
)
# tanh x = x + x^3 P(x^2) on |x| <= 0.625.
_TANH_P32 = (
    -0.333333331722851,
    0.13333303575259559,
    -0.05395926330071099,
    0.021768945165998498,
    -0.008344022704915488,
    0.002292823550183693,
)
# erf x = x P(x^2) on |x| <= 1 (evaluated in float64 for float32 erf).
_ERF_P = (
    1.1283791670954917,
    -0.3761263890277519,
    0.11283791657675482,
    -0.02686616896250714,
    0.005223966747253145,
    -0.0008547921009587484,
    0.00012046047713898389,
    -1.479294002071363e-05,
    1.5295315783508956e-06,
    -1.0444727957525934e-07,
)
# erfc x = exp(-x^2) Q(1/x) on 1 <= x <= 4 (evaluated in float64).
_ERFC_Q = (
    -1.1872828603577124e-05,
    0.5645775861654682,
    -0.005618561998414512,
    -0.23436242031475898,
    -0.26383344693391664,
    1.4083010815124504,
    -2.4521181055979766,
    2.6055112297898964,
    -1.8403473407743451,
    0.8503569426494324,
    -0.23407015782005458,
    0.029198642380291878,
)


def _ln2_parts():
    import decimal

    with decimal.localcontext() as ctx:
        ctx.prec = 60
        ln2 = decimal.Decimal(2).ln()
        # hi parts have few significant bits so that n * hi is exact; lo = ln2 - hi exactly
        # rounded once.
        return (
            float(ln2),
            float(ln2 - decimal.Decimal(0.693359375)),
            float(ln2 - decimal.Decimal(0.6931471803691238)),
        )


_LN2, _LN2_LO32, _LN2_LO64 = _ln2_parts()
_LN2_HI32 = 0.693359375  # 355/512: n * _LN2_HI32 is exact for |n| < 2**15
_LN2_HI64 = 0.6931471803691238  # 32 significant bits
_LOG2E = 1.0 / _LN2


def _pi_fixed(bits):
    """pi * 2**prec as an integer (Machin's formula), and prec."""
    prec = bits + 64
    one = 1 << prec

    def atan_inv(x):
        s, t, n, sign, x2 = 0, one // x, 1, 1, x * x
        while t:
            s += sign * (t // n)
            t //= x2
            n += 2
            sign = -sign
        return s

    return 16 * atan_inv(5) - 4 * atan_inv(239), prec


_PI_FIXED, _PI_PREC = _pi_fixed(400)
# 2/pi with _PI_PREC fraction bits.
_TWO_OVER_PI = (2 << (2 * _PI_PREC)) // _PI_FIXED


def _split(value_fixed, prec, bits):
    """Round-toward-zero the top ``bits`` significant bits of a fixed-point number."""
    v = value_fixed
    top = v.bit_length()
    keep = v >> (top - bits) << (top - bits)
    return keep, v - keep


_half_pi = _PI_FIXED >> 1
_p1, _rest = _split(_half_pi, _PI_PREC, 33)
_p2, _rest = _split(_rest, _PI_PREC, 33)
_PIO2_1 = _p1 / 2**_PI_PREC
_PIO2_2 = _p2 / 2**_PI_PREC
_PIO2_3 = _rest / 2**_PI_PREC
_PIO2 = math.pi / 2

# Payne-Hanek table for float32: for biased exponents E in [147, 254], three 32-bit words
# of 2/pi starting at fraction bit s = E - 151 (bits at index <= 0 read as zero).
_PH_E0 = 147
_PH_ROWS = []
for _E in range(_PH_E0, 255):
    _s = _E - 151
    # bits b_s .. b_{s+95} of 2/pi (b_1 is the first fraction bit)
    _shift = _PI_PREC - (_s + 95)
    _w = (_TWO_OVER_PI >> _shift) if _shift >= 0 else (_TWO_OVER_PI << -_shift)
    _w &= (1 << 96) - 1
    _PH_ROWS.append(((_w >> 64) & 0xFFFFFFFF, (_w >> 32) & 0xFFFFFFFF, _w & 0xFFFFFFFF))


# --------------------------------------------------------------------------- building blocks


class _Ops:
    """Scalar float arithmetic on one IRBuilder with the kernel's fast-math flags."""

    def __init__(self, b: ir.IRBuilder, ty):
        self.b = b
        self.ty = ty
        self.is64 = isinstance(ty, ir.DoubleType)
        self.ity = I64 if self.is64 else I32
        self.mbits = 52 if self.is64 else 23
        self.bias = 1023 if self.is64 else 127

    def c(self, v):
        return ir.Constant(self.ty, float(v))

    def ci(self, v):
        return ir.Constant(self.ity, int(v))

    def add(self, x, y):
        return self.b.fadd(x, y, flags=FLAGS)

    def sub(self, x, y):
        return self.b.fsub(x, y, flags=FLAGS)

    def mul(self, x, y):
        return self.b.fmul(x, y, flags=FLAGS)

    def div(self, x, y):
        return self.b.fdiv(x, y, flags=FLAGS)

    def neg(self, x):
        return self.b.fneg(x, flags=FLAGS)

    def lt(self, x, y):
        return self.b.fcmp_ordered("<", x, y)

    def le(self, x, y):
        return self.b.fcmp_ordered("<=", x, y)

    def gt(self, x, y):
        return self.b.fcmp_ordered(">", x, y)

    def ge(self, x, y):
        return self.b.fcmp_ordered(">=", x, y)

    def eq(self, x, y):
        return self.b.fcmp_ordered("==", x, y)

    def isnan(self, x):
        return self.b.fcmp_unordered("uno", x, x)

    def sel(self, c, x, y):
        return self.b.select(c, x, y)

    def poly(self, t, coeffs):
        """Horner evaluation of sum coeffs[k] t**k (fused multiply-adds under contract)."""
        acc = self.c(coeffs[-1])
        for k in reversed(coeffs[:-1]):
            acc = self.add(self.mul(acc, t), self.c(k))
        return acc

    def intrinsic(self, name, *args):
        mod = self.b.module
        ty = args[0].type
        suffix = "f64" if isinstance(ty, ir.DoubleType) else "f32"
        full = f"llvm.{name}.{suffix}"
        fn = mod.globals.get(full)
        if fn is None:
            fn = ir.Function(mod, ir.FunctionType(ty, [ty] * len(args)), name=full)
        return self.b.call(fn, list(args))

    def rint(self, x):
        return self.intrinsic("rint", x)

    def fabs(self, x):
        return self.intrinsic("fabs", x)

    def clamp(self, x, lo, hi):
        """min(max(x, lo), hi); NaN passes through (and is replaced by the caller)."""
        x = self.sel(self.lt(x, self.c(lo)), self.c(lo), x)
        return self.sel(self.gt(x, self.c(hi)), self.c(hi), x)

    def bits(self, x):
        return self.b.bitcast(x, self.ity)

    def from_bits(self, i):
        return self.b.bitcast(i, self.ty)

    def pow2i(self, n):
        """2**n for an integer n (of the int type) in the normal exponent range."""
        e = self.b.add(n, self.ci(self.bias))
        return self.from_bits(self.b.shl(e, self.ci(self.mbits)))

    def ldexp(self, p, n):
        """p * 2**n for |n| up to about twice the exponent range, rounding once."""
        b = self.b
        n1 = b.ashr(n, self.ci(1))
        n2 = b.sub(n, n1)
        return self.mul(self.mul(p, self.pow2i(n1)), self.pow2i(n2))

    def to_int(self, x):
        return self.b.fptosi(x, self.ity)

    def copysign(self, mag, sgn):
        b = self.b
        signbit = self.ci(1 << (63 if self.is64 else 31))
        s = b.and_(self.bits(sgn), signbit)
        m = b.and_(self.bits(mag), b.not_(signbit))
        return self.from_bits(b.or_(m, s))


def _ops(b, x):
    return _Ops(b, x.type)


def _widen(b, x):
    return b.fpext(x, F64) if isinstance(x.type, ir.FloatType) else x


def _narrow(b, x, ty):
    return b.fptrunc(x, ty) if isinstance(ty, ir.FloatType) else x


# --------------------------------------------------------------------------- exp family


def _exp_reduce(o: _Ops, x):
    """n = round(x / ln2) and r = x - n ln2 (Cody-Waite, two constants)."""
    n = o.rint(o.mul(x, o.c(_LOG2E)))
    hi, lo = (_LN2_HI64, _LN2_LO64) if o.is64 else (_LN2_HI32, _LN2_LO32)
    r = o.sub(o.sub(x, o.mul(n, o.c(hi))), o.mul(n, o.c(lo)))
    return n, r


def _expm1_kernel(o: _Ops, r):
    """e^r - 1 for |r| <= ln2/2, accurate relative to the result."""
    if o.is64:
        # Taylor to r^14 (truncation < 2e-18 relative).
        coeffs = [1.0 / math.factorial(k + 2) for k in range(13)]
    else:
        coeffs = _EXP_P32
    r2 = o.mul(r, r)
    return o.add(r, o.mul(r2, o.poly(r, coeffs)))


def exp(b, x):
    o = _ops(b, x)
    lo, hi = (-746.0, 710.0) if o.is64 else (-104.0, 89.0)
    xc = o.clamp(x, lo, hi)
    xc = o.sel(o.isnan(x), o.c(0.0), xc)
    n, r = _exp_reduce(o, xc)
    p = o.add(o.c(1.0), _expm1_kernel(o, r))
    out = o.ldexp(p, o.to_int(n))
    return o.sel(o.isnan(x), x, out)


def expm1(b, x):
    o = _ops(b, x)
    lo, hi = (-40.0, 710.0) if o.is64 else (-18.0, 89.0)
    xc = o.clamp(x, lo, hi)
    xc = o.sel(o.isnan(x), o.c(0.0), xc)
    n, r = _exp_reduce(o, xc)
    p = _expm1_kernel(o, r)
    # 2^n (p + 1) - 1 = 2 * (t p + (t - 1/2)) with t = 2^(n-1), which stays finite up to
    # the overflow threshold and rounds once (the doubling is exact).
    ni = o.to_int(n)
    t = o.pow2i(o.b.sub(ni, o.ci(1)))
    out = o.mul(o.c(2.0), o.add(o.mul(t, p), o.sub(t, o.c(0.5))))
    out = o.sel(o.b.icmp_signed("==", ni, o.ci(0)), p, out)  # exact for |x| < ln2/2
    out = o.sel(o.eq(x, o.c(0.0)), x, out)  # keeps -0.0
    return o.sel(o.isnan(x), x, out)


def exp2(b, x):
    o = _ops(b, x)
    lo, hi = (-1076.0, 1025.0) if o.is64 else (-151.0, 129.0)
    xc = o.clamp(x, lo, hi)
    xc = o.sel(o.isnan(x), o.c(0.0), xc)
    n = o.rint(xc)
    f = o.sub(xc, n)  # exact, |f| <= 1/2
    if o.is64:
        # 2^f = e^(f ln2): split f ln2 into a double-double to keep full precision.
        r = o.mul(f, o.c(_LN2))
    else:
        r = _narrow(b, o.b.fmul(_widen(b, f), ir.Constant(F64, _LN2)), o.ty)
    p = o.add(o.c(1.0), _expm1_kernel(o, r))
    out = o.ldexp(p, o.to_int(n))
    return o.sel(o.isnan(x), x, out)


# --------------------------------------------------------------------------- log family


def _log_kernel(o: _Ops, f):
    """log(1+f) for f in [sqrt(1/2)-1, sqrt(2)-1]."""
    if o.is64:
        # log(1+f) = f - hf + s (hf + R), s = f/(2+f), hf = f^2/2, R = 2 sum s^2k/(2k+1)
        b = o.b
        s = o.div(f, o.add(o.c(2.0), f))
        z = o.mul(s, s)
        coeffs = [2.0 / (2 * k + 1) for k in range(1, 13)]
        R = o.mul(z, o.poly(z, coeffs))
        hf = o.mul(o.c(0.5), o.mul(f, f))
        del b
        return o.sub(f, o.sub(hf, o.mul(s, o.add(hf, R))))
    f2 = o.mul(f, f)
    return o.add(o.sub(f, o.mul(o.c(0.5), f2)), o.mul(o.mul(f2, f), o.poly(f, _LOG_P32)))


def _log_parts(o: _Ops, x):
    """Split finite positive x into (e, f) with x = 2^e (1 + f), 1+f in [sqrt(1/2), sqrt(2))."""
    b = o.b
    tiny = 2.0**-1022 if o.is64 else 2.0**-126
    scale = 54 if o.is64 else 25
    sub = o.lt(x, o.c(tiny))
    xs = o.sel(sub, o.mul(x, o.c(2.0**scale)), x)
    adj = b.select(sub, o.ci(-scale), o.ci(0))
    bits = o.bits(xs)
    mbits = o.mbits
    e = b.sub(b.lshr(bits, o.ci(mbits)), o.ci(o.bias))
    mant = b.or_(b.and_(bits, o.ci((1 << mbits) - 1)), o.ci(o.bias << mbits))
    m = o.from_bits(mant)  # in [1, 2)
    big = o.gt(m, o.c(math.sqrt(2.0)))
    m = o.sel(big, o.mul(m, o.c(0.5)), m)
    e = b.add(b.add(e, adj), b.select(big, o.ci(1), o.ci(0)))
    return e, o.sub(m, o.c(1.0))


# --------------------------------------------------------------------------- XLA's float32 log
# float32 log and log1p repeat, operation for operation, the reference kernels of
# ``lax._bits`` (``xla_log_f32``, ``xla_log1p_f32``), so compiled and reference results are
# bit-identical (log: for every input but the subnormals, see ``_xla_log32``). No fast-math flags here: every rounding is the reference's. A fused step
# ``_fma32(a, b, c)`` is computed as the reference computes it (a float64 product, which is
# exact, plus c in float64, rounded to float32).


def _xla_consts():
    from ..lax import _bits

    return _bits


class _Exact:
    """float32 arithmetic with no fast-math flags (each operation rounds as IEEE says)."""

    def __init__(self, b):
        self.b = b

    @staticmethod
    def c(v):
        return ir.Constant(F32, float(v))

    def fma32(self, x, y, z):
        b = self.b
        w = [b.fpext(v, F64) if v.type == F32 else v for v in (x, y, z)]
        return b.fptrunc(b.fadd(b.fmul(w[0], w[1]), w[2]), F32)


def _xla_log32(b, x):
    bits_mod = _xla_consts()
    e_ = _Exact(b)
    c = e_.c
    p0, p1, p3, p4, p6, p7, p2, p5, p8 = (c(v) for v in bits_mod._LOG_POLY)
    q1, q2 = c(bits_mod._LOG_Q1), c(bits_mod._LOG_Q2)
    tiny = c(bits_mod._TINY32)
    # XLA's kernel reads a subnormal x as the smallest normal number; here it is scaled by
    # 2**25 (exactly) and the exponent corrected, so subnormals keep full accuracy (as
    # NumPy's log, the reference evaluator's). Normal inputs are unaffected: e - 0 == e.
    sub = b.fcmp_ordered("<", x, tiny)
    x = b.select(sub, b.fmul(x, c(2.0**25)), x)
    xc = b.select(b.fcmp_ordered(">", x, tiny), x, tiny)
    bits = b.bitcast(xc, I32)
    ex = b.sub(b.lshr(bits, ir.Constant(I32, 23)), ir.Constant(I32, 127))
    e = b.fadd(b.sitofp(ex, F32), c(1.0))
    mbits = b.or_(b.and_(bits, ir.Constant(I32, 0x807FFFFF)), ir.Constant(I32, 0x3F000000))
    m = b.bitcast(mbits, F32)
    small = b.fcmp_ordered("<", m, c(bits_mod._SQRT_HALF))
    r = b.fadd(b.fsub(m, c(1.0)), b.select(small, m, c(0.0)))
    e = b.fsub(e, b.select(small, c(1.0), c(0.0)))
    e = b.fsub(e, b.select(sub, c(25.0), c(0.0)))
    r2 = b.fmul(r, r)
    r3 = b.fmul(r2, r)
    fma = e_.fma32
    y = fma(fma(r, p0, p1), r, p2)
    y1 = fma(fma(r, p3, p4), r, p5)
    y2 = fma(fma(r, p6, p7), r, p8)
    y = fma(fma(y, r3, y1), r3, y2)
    y = fma(y, r3, b.fmul(e, q1))
    out = b.fadd(fma(r2, c(-0.5), r), y)
    out = fma(e, q2, out)
    inf = float("inf")
    out = b.select(b.fcmp_ordered("==", x, c(inf)), c(inf), out)
    out = b.select(b.fcmp_ordered("==", x, c(0.0)), c(-inf), out)
    ok = b.fcmp_ordered(">=", x, c(0.0))  # x > 0 or x == 0 (NaN and x < 0 give NaN)
    return b.select(ok, out, c(float("nan")))


def _xla_log1p32(b, x):
    bits_mod = _xla_consts()
    e_ = _Exact(b)
    c = e_.c
    fma = e_.fma32

    def horner(v, coeffs):
        acc = fma(v, c(0.0), c(np.float32(coeffs[0])))
        for k in coeffs[1:]:
            acc = fma(acc, v, c(np.float32(k)))
        return acc

    far = _xla_log32(b, b.fadd(x, c(1.0)))
    ax = b.call(_intrinsic(b, "fabs", F32), [x])
    near = b.fcmp_ordered("<", ax, c(np.float32(0.41421356237309504880)))
    # the rational form is evaluated on 0 outside its range, so no lane sees inf or NaN
    xs = b.select(near, x, c(0.0))
    x2 = b.fmul(xs, xs)
    ratio = b.fdiv(horner(xs, bits_mod._LOG1P_NUM), horner(xs, bits_mod._LOG1P_DEN))
    small = b.fadd(xs, fma(x2, c(-0.5), b.fmul(b.fmul(xs, x2), ratio)))
    return b.select(near, small, far)


def _intrinsic(b, name, ty):
    mod = b.module
    suffix = "f64" if isinstance(ty, ir.DoubleType) else "f32"
    full = f"llvm.{name}.{suffix}"
    fn = mod.globals.get(full)
    if fn is None:
        fn = ir.Function(mod, ir.FunctionType(ty, [ty]), name=full)
    return fn


def log(b, x):
    if x.type == F32:
        return _xla_log32(b, x)
    o = _ops(b, x)
    e, f = _log_parts(o, x)
    ef = b.sitofp(e, o.ty)
    hi, lo = (_LN2_HI64, _LN2_LO64) if o.is64 else (_LN2_HI32, _LN2_LO32)
    out = o.add(o.mul(ef, o.c(hi)), o.add(_log_kernel(o, f), o.mul(ef, o.c(lo))))
    inf = float("inf")
    out = o.sel(o.eq(x, o.c(0.0)), o.c(-inf), out)
    out = o.sel(o.eq(x, o.c(inf)), x, out)
    out = o.sel(o.b.fcmp_unordered("<", x, o.c(0.0)), o.c(float("nan")), out)  # x<0 or NaN
    return o.sel(o.isnan(x), x, out)


def log1p(b, x):
    if x.type == F32:
        return _xla_log1p32(b, x)
    o = _ops(b, x)
    u = o.add(o.c(1.0), x)
    lu = log(b, u)
    # log(u) * x / (u - 1) corrects the rounding of 1 + x (exact when u == 1).
    den = o.sub(u, o.c(1.0))
    corr = o.mul(lu, o.div(x, o.sel(o.eq(den, o.c(0.0)), o.c(1.0), den)))
    out = o.sel(o.eq(den, o.c(0.0)), x, corr)
    inf = float("inf")
    out = o.sel(o.eq(x, o.c(inf)), x, out)
    out = o.sel(o.eq(x, o.c(-1.0)), o.c(-inf), out)
    out = o.sel(o.b.fcmp_unordered("<", x, o.c(-1.0)), o.c(float("nan")), out)
    return o.sel(o.isnan(x), x, out)


# --------------------------------------------------------------------------- tanh, logistic


def tanh(b, x):
    o = _ops(b, x)
    ax = o.fabs(x)
    if o.is64:
        # tanh|x| = u / (u + 2), u = expm1(2|x|); saturates to 1 beyond 19.1.
        axc = o.sel(o.gt(ax, o.c(19.1)), o.c(19.1), ax)
        u = expm1(b, o.mul(o.c(2.0), axc))
        big = o.div(u, o.add(u, o.c(2.0)))
        out = o.copysign(big, x)
    else:
        # Small |x|: odd polynomial. Larger: 1 - 2 / (e^(2|x|) + 1) (at most 2 ULP: the
        # quotient is below 0.45, so its rounding errors shrink when subtracted from 1).
        z = o.mul(x, x)
        small = o.add(x, o.mul(o.mul(x, z), o.poly(z, _TANH_P32)))
        axc = o.sel(o.gt(ax, o.c(9.1)), o.c(9.1), ax)
        e = exp(b, o.mul(o.c(2.0), axc))
        big = o.sub(o.c(1.0), o.div(o.c(2.0), o.add(e, o.c(1.0))))
        big = o.copysign(big, x)
        out = o.sel(o.lt(ax, o.c(0.625)), small, big)
    out = o.sel(o.eq(x, o.c(0.0)), x, out)  # keeps -0.0
    return o.sel(o.isnan(x), x, out)


def logistic(b, x):
    o = _ops(b, x)
    e = exp(b, o.neg(o.fabs(x)))
    num = o.sel(o.ge(x, o.c(0.0)), o.c(1.0), e)
    out = o.div(num, o.add(o.c(1.0), e))
    return o.sel(o.isnan(x), x, out)


# --------------------------------------------------------------------------- erf


def erf(b, x):
    if isinstance(x.type, ir.DoubleType):
        return _erf64(b, x)
    o = _ops(b, x)
    d = _widen(b, x)
    od = _Ops(b, F64)
    ad = od.fabs(d)
    z = od.mul(d, d)
    small = od.mul(d, od.poly(z, _ERF_P))
    adc = od.clamp(ad, 1.0, 4.0)
    t = od.div(od.c(1.0), adc)
    ec = od.mul(exp(b, od.neg(od.mul(adc, adc))), od.poly(t, _ERFC_Q))
    big = od.sub(od.c(1.0), ec)
    big = od.sel(od.ge(ad, od.c(4.0)), od.c(1.0), big)
    big = od.copysign(big, d)
    out = od.sel(od.lt(ad, od.c(1.0)), small, big)
    out = _narrow(b, out, o.ty)
    return o.sel(o.isnan(x), x, out)


# --------------------------------------------------------------------------- sin, cos


def _payne_hanek(b, x):
    """For float32 |x| >= 2**20: (quadrant n as i32, reduced r as double)."""
    mod = b.module
    name = "derivax.two_over_pi_f32"
    table = mod.globals.get(name)
    if table is None:
        row_t = ir.ArrayType(I32, 3)
        arr_t = ir.ArrayType(row_t, len(_PH_ROWS))
        init = ir.Constant(arr_t, [ir.Constant(row_t, list(r)) for r in _PH_ROWS])
        table = ir.GlobalVariable(mod, arr_t, name=name)
        table.global_constant = True
        table.linkage = "internal"
        table.initializer = init
    bits = b.bitcast(x, I32)
    e = b.and_(b.lshr(bits, ir.Constant(I32, 23)), ir.Constant(I32, 0xFF))
    row = b.sub(e, ir.Constant(I32, _PH_E0))
    row = b.select(b.icmp_signed("<", row, ir.Constant(I32, 0)), ir.Constant(I32, 0), row)
    last = len(_PH_ROWS) - 1
    row = b.select(b.icmp_signed(">", row, ir.Constant(I32, last)), ir.Constant(I32, last), row)
    row64 = b.zext(row, I64)
    zero = ir.Constant(I32, 0)

    def word(k):
        p = b.gep(table, [zero, row64, ir.Constant(I32, k)], inbounds=True)
        return b.zext(b.load(p, align=4), I64)

    w2, w1, w0 = word(0), word(1), word(2)
    m = b.zext(b.or_(b.and_(bits, ir.Constant(I32, 0x7FFFFF)), ir.Constant(I32, 0x800000)), I64)
    hi = b.mul(m, w2)
    mid = b.mul(m, w1)
    lo = b.mul(m, w0)
    q = b.add(b.add(b.shl(hi, ir.Constant(I64, 32)), mid), b.lshr(lo, ir.Constant(I64, 32)))
    n = b.lshr(b.add(q, ir.Constant(I64, 1 << 61)), ir.Constant(I64, 62))
    frac = b.sub(q, b.shl(n, ir.Constant(I64, 62)))
    r = b.fmul(b.sitofp(frac, F64), ir.Constant(F64, _PIO2 * 2.0**-62), flags=FLAGS)
    return b.trunc(n, I32), r


def _sincos_reduce(b, x):
    """|x| reduced to r in [-pi/4, pi/4] (double) and the quadrant n (i32)."""
    o = _ops(b, x)
    od = _Ops(b, F64)
    ax = o.fabs(x)
    d = _widen(b, ax)
    medium = od.clamp(d, 0.0, 2.0**20)
    j = od.rint(od.mul(medium, od.c(2.0 / math.pi)))
    r = od.sub(
        od.sub(od.sub(medium, od.mul(j, od.c(_PIO2_1))), od.mul(j, od.c(_PIO2_2))),
        od.mul(j, od.c(_PIO2_3)),
    )
    n = b.fptosi(j, I32)
    if isinstance(x.type, ir.FloatType):
        n_ph, r_ph = _payne_hanek(b, ax)
        large = o.ge(ax, o.c(2.0**20))
        r = b.select(large, r_ph, r)
        n = b.select(large, n_ph, n)
    return n, r


def _sin_k(od, r):
    z = od.mul(r, r)
    coeffs = [(-1) ** (k + 1) / math.factorial(2 * k + 3) for k in range(6)]
    return od.add(r, od.mul(od.mul(r, z), od.poly(z, coeffs)))


def _cos_k(od, r):
    z = od.mul(r, r)
    coeffs = [(-1) ** k / math.factorial(2 * k + 4) for k in range(6)]
    return od.add(od.sub(od.c(1.0), od.mul(od.c(0.5), z)), od.mul(od.mul(z, z), od.poly(z, coeffs)))


def _sincos(b, x, want_sin):
    o = _ops(b, x)
    od = _Ops(b, F64)
    n, r = _sincos_reduce(b, x)
    s, c = _sin_k(od, r), _cos_k(od, r)
    q = b.and_(n, ir.Constant(I32, 3))
    odd = b.icmp_unsigned("!=", b.and_(q, ir.Constant(I32, 1)), ir.Constant(I32, 0))
    if want_sin:
        v = b.select(odd, c, s)
        negate = b.icmp_unsigned("!=", b.and_(q, ir.Constant(I32, 2)), ir.Constant(I32, 0))
    else:
        v = b.select(odd, s, c)
        q1 = b.add(q, ir.Constant(I32, 1))
        negate = b.icmp_unsigned("!=", b.and_(q1, ir.Constant(I32, 2)), ir.Constant(I32, 0))
    v = b.select(negate, od.neg(v), v)
    out = _narrow(b, v, o.ty)
    if want_sin:  # odd: restore the sign of x, and keep -0.0
        out = o.sel(o.lt(x, o.c(0.0)), o.neg(out), out)
        out = o.sel(o.eq(x, o.c(0.0)), x, out)
    # inf and NaN give NaN (x - x).
    finite = o.lt(o.fabs(x), o.c(float("inf")))
    return o.sel(finite, out, o.sub(x, x))


def sin(b, x):
    return _sincos(b, x, True)


def cos(b, x):
    return _sincos(b, x, False)


# --------------------------------------------------------------------------- pow


def _log2_f64(b, d):
    """log2 of a finite positive double as a double (relative error ~1e-15)."""
    od = _Ops(b, F64)
    e, f = _log_parts(od, d)
    ln = _log_kernel(od, f)
    return od.add(b.sitofp(e, F64), od.mul(ln, od.c(1.0 / _LN2)))


def _exp2_f64(b, t):
    """2**t for a double t (any value; overflow to inf, underflow to 0)."""
    od = _Ops(b, F64)
    tc = od.clamp(t, -1100.0, 1100.0)
    tc = od.sel(od.isnan(t), od.c(0.0), tc)
    n = od.rint(tc)
    f = od.sub(tc, n)
    p = od.add(od.c(1.0), _expm1_kernel(od, od.mul(f, od.c(_LN2))))
    return od.sel(od.isnan(t), t, od.ldexp(p, od.to_int(n)))


def pow(b, x, y):  # noqa: A001 - the primitive's name
    o = _ops(b, x)
    if o.is64:
        raise NotImplementedError("float64 pow is not lowered")
    od = _Ops(b, F64)
    xd, yd = _widen(b, x), _widen(b, y)
    ax = od.fabs(xd)
    l2 = _log2_f64(b, od.sel(od.eq(ax, od.c(0.0)), od.c(1.0), ax))
    inf = float("inf")
    l2 = od.sel(od.eq(ax, od.c(0.0)), od.c(-inf), l2)
    l2 = od.sel(od.eq(ax, od.c(inf)), od.c(inf), l2)
    mag = _exp2_f64(b, od.mul(yd, l2))
    # y integral and odd?
    fy = od.intrinsic("floor", yd)
    is_int = od.eq(fy, yd)
    half = od.mul(yd, od.c(0.5))
    is_odd = b.and_(is_int, b.fcmp_ordered("!=", od.intrinsic("floor", half), half))
    x_neg = b.icmp_signed("<", o.bits(x), o.ci(0))  # sign bit (also -0.0)
    res = od.sel(b.and_(x_neg, is_odd), od.neg(mag), mag)
    nan = od.c(float("nan"))
    # negative finite base with a non-integral finite exponent
    neg_finite = b.and_(od.lt(xd, od.c(0.0)), od.gt(xd, od.c(-inf)))
    bad = b.and_(neg_finite, b.and_(b.not_(is_int), od.lt(od.fabs(yd), od.c(inf))))
    res = od.sel(bad, nan, res)
    # |x| == 1 with y = +-inf gives 1; so does x == 1 with anything and y == 0.
    res = od.sel(b.and_(od.eq(ax, od.c(1.0)), od.eq(od.fabs(yd), od.c(inf))), od.c(1.0), res)
    res = od.sel(od.isnan(xd), xd, res)
    res = od.sel(od.isnan(yd), yd, res)
    res = od.sel(od.eq(xd, od.c(1.0)), od.c(1.0), res)
    res = od.sel(od.eq(yd, od.c(0.0)), od.c(1.0), res)
    return _narrow(b, res, o.ty)


# --------------------------------------------------------------------------- special functions
# erf (float64), erfc, lgamma and digamma evaluate the algorithms of the reference kernels
# (``derivax.lax._special``) with the same polynomial tables, branch-free: every piece is
# computed on every lane and ``select`` keeps the right one. float32 is computed in double
# and rounded once.


def _sp():
    from ..lax import _special

    return _special


def _pick(od, conds, values):
    """values[k] for the last k whose condition holds (values[0] when none does)."""
    r = od.c(values[0])
    for cond, v in zip(conds, values[1:]):
        r = od.sel(cond, od.c(v), r)
    return r


def _erfc_pos64(b, v):
    """erfc(v) for double v >= 0.84375 (inf included)."""
    sp = _sp()
    od = _Ops(b, F64)
    v = od.sel(od.lt(v, od.c(sp._ERFC_ZERO_FROM)), v, od.c(sp._ERFC_ZERO_FROM))
    rows = sp._ERFCX
    conds = [od.ge(v, od.c(r[0])) for r in rows[1:]]
    recip = od.ge(v, od.c(sp._ERFCX_RECIP_FROM))
    u = od.div(od.c(1.0), v)
    w = od.sub(od.sel(recip, u, v), _pick(od, conds, [r[1] for r in rows]))
    n = len(rows[0][2])
    acc = _pick(od, conds, [r[2][n - 1] for r in rows])
    for k in range(n - 2, -1, -1):
        acc = od.add(od.mul(acc, w), _pick(od, conds, [r[2][k] for r in rows]))
    g = od.sel(recip, od.div(acc, v), acc)
    # exp(-v^2) = exp(-s^2) exp(d): s = v cut to 21 bits, so s^2 is exact.
    s = od.from_bits(b.and_(od.bits(v), od.ci(-(1 << 32))))
    d = od.mul(od.sub(s, v), od.add(s, v))
    e = exp(b, od.neg(od.mul(s, s)))
    return od.mul(e, od.add(g, od.mul(g, expm1(b, d))))


def _erf_small64(od, d):
    return od.mul(d, od.poly(od.mul(d, d), _sp()._ERF_SMALL))


def _erf64(b, d):
    sp = _sp()
    od = _Ops(b, F64)
    ad = od.fabs(d)
    big = od.copysign(od.sub(od.c(1.0), _erfc_pos64(b, ad)), d)
    out = od.sel(od.lt(ad, od.c(sp._ERF_SMALL_END)), _erf_small64(od, d), big)
    return od.sel(od.isnan(d), d, out)


def erfc(b, x):
    sp = _sp()
    o = _ops(b, x)
    d = _widen(b, x)
    od = _Ops(b, F64)
    ad = od.fabs(d)
    e = _erfc_pos64(b, ad)
    big = od.sel(od.lt(d, od.c(0.0)), od.sub(od.c(2.0), e), e)
    small = od.sub(od.c(1.0), _erf_small64(od, d))
    out = od.sel(od.lt(ad, od.c(sp._ERF_SMALL_END)), small, big)
    out = _narrow(b, out, o.ty)
    return o.sel(o.isnan(x), x, out)


def _sincospi(od, a):
    """(sin(pi a), cos(pi a)) for 0 <= a <= 1/2."""
    sp = _sp()
    near = od.le(a, od.c(0.25))
    c = od.sub(od.c(0.5), a)  # exact
    s_near = od.mul(a, od.poly(od.mul(a, a), sp._SINPI))
    c_near = od.poly(od.mul(a, a), sp._COSPI)
    s_far = od.poly(od.mul(c, c), sp._COSPI)
    c_far = od.mul(c, od.poly(od.mul(c, c), sp._SINPI))
    return od.sel(near, s_near, s_far), od.sel(near, c_near, c_far)


def _lgamma_pos64(b, y):
    """lgamma(y) for double y > 0 (finite)."""
    sp = _sp()
    od = _Ops(b, F64)
    big = od.ge(y, od.c(sp._STIRLING_FROM))
    shifted = b.and_(od.ge(y, od.c(2.5)), b.not_(big))
    mid = b.and_(od.ge(y, od.c(1.5)), od.lt(y, od.c(2.5)))
    low = b.and_(od.ge(y, od.c(0.5)), od.lt(y, od.c(1.5)))
    tiny = od.lt(y, od.c(0.5))
    # [2.5, 10): z = y - n in [1.5, 2.5), lgamma(y) = lgamma(z) + log(z (z + 1) ... ).
    ys = od.clamp(y, 2.5, float(np.nextafter(10.0, 0.0)))
    n = od.intrinsic("floor", od.sub(ys, od.c(1.5)))
    zs = od.sub(ys, n)
    prod = zs
    for k in range(1, 8):
        prod = od.mul(prod, od.sel(od.lt(od.c(k), n), od.add(zs, od.c(k)), od.c(1.0)))
    z = od.sel(shifted, od.sub(zs, od.c(2.0)), od.sel(mid, od.sub(y, od.c(2.0)), y))
    z = od.sel(low, od.sub(y, od.c(1.0)), z)
    z = od.sel(big, od.c(0.0), z)
    l2 = od.mul(z, od.poly(z, sp._LGAMMA2))
    l1p = log1p(b, od.sel(b.or_(low, tiny), z, od.c(0.0)))
    lg_arg = od.sel(shifted, prod, od.sel(b.or_(tiny, big), y, od.c(1.0)))
    lg = log(b, lg_arg)
    small = od.sub(l2, l1p)
    small = od.sel(shifted, od.add(small, lg), od.sel(tiny, od.sub(small, lg), small))
    # [10, inf): Stirling.
    yb = od.sel(big, y, od.c(sp._STIRLING_FROM))
    w = od.div(od.c(1.0), yb)
    series = od.mul(w, od.poly(od.mul(w, w), sp._STIRLING))
    st = od.add(
        od.sub(od.mul(od.sub(yb, od.c(0.5)), lg), yb), od.add(od.c(sp._HALF_LOG_2PI), series)
    )
    return od.sel(big, st, small)


def lgamma(b, x):
    sp = _sp()
    o = _ops(b, x)
    d = _widen(b, x)
    od = _Ops(b, F64)
    inf = float("inf")
    neg = od.lt(d, od.c(0.0))
    y = od.sel(neg, od.sub(od.c(1.0), d), d)
    ok = b.and_(od.gt(y, od.c(0.0)), od.lt(y, od.c(inf)))
    pos = _lgamma_pos64(b, od.sel(ok, y, od.c(1.0)))
    # Reflection: |Gamma(x) Gamma(1 - x)| = pi / |sin(pi x)|; |x| < 2**-54 gives -log|x|.
    ad = od.fabs(d)
    tiny = od.lt(ad, od.c(2.0**-54))
    a = od.fabs(od.sub(d, od.rint(d)))
    s, _ = _sincospi(od, a)
    refl = od.sub(
        od.sub(od.sel(tiny, od.c(0.0), od.c(sp._LOG_PI)), log(b, od.sel(tiny, ad, s))), pos
    )
    out = od.sel(neg, refl, pos)
    pole = b.and_(od.le(d, od.c(0.0)), od.eq(od.intrinsic("floor", d), d))
    out = od.sel(pole, od.c(inf), out)
    out = od.sel(od.eq(d, od.c(inf)), od.c(inf), out)
    out = od.sel(od.eq(d, od.c(-inf)), od.c(-inf), out)
    out = _narrow(b, out, o.ty)
    return o.sel(o.isnan(x), x, out)


def digamma(b, x):
    sp = _sp()
    o = _ops(b, x)
    d = _widen(b, x)
    od = _Ops(b, F64)
    inf = float("inf")
    reflect = od.lt(d, od.c(0.5))
    y = od.sel(reflect, od.sub(od.c(1.0), d), d)
    y = od.sel(b.and_(od.gt(y, od.c(0.0)), od.lt(y, od.c(inf))), y, od.c(1.0))
    big = od.ge(y, od.c(sp._PSI_FROM))
    acc = od.c(0.0)
    for k in range(10):
        acc = od.add(acc, od.div(od.c(1.0), od.add(y, od.c(k))))
    acc = od.sel(big, od.c(0.0), acc)
    v = od.sel(big, y, od.add(y, od.c(10.0)))
    w = od.div(od.c(1.0), od.mul(v, v))
    series = od.mul(w, od.poly(w, sp._PSI_SERIES))
    out = od.sub(od.sub(od.sub(log(b, v), od.div(od.c(0.5), v)), series), acc)
    # psi(x) = psi(1 - x) - pi cot(pi x), with cot's argument reduced exactly.
    r = od.sub(d, od.rint(d))
    s, c = _sincospi(od, od.fabs(r))
    cot = od.copysign(od.div(od.mul(od.c(math.pi), c), s), r)
    out = od.sel(reflect, od.sub(out, cot), out)
    out = od.sel(od.eq(d, od.c(0.0)), od.div(od.c(-1.0), d), out)
    out = od.sel(od.eq(d, od.c(inf)), od.c(inf), out)
    pole = b.and_(od.lt(d, od.c(0.0)), od.eq(od.intrinsic("floor", d), d))
    out = od.sel(pole, od.c(float("nan")), out)
    out = _narrow(b, out, o.ty)
    return o.sel(o.isnan(x), x, out)


# --------------------------------------------------------------------------- registry

UNARY = {
    "exp": exp,
    "exp2": exp2,
    "expm1": expm1,
    "log": log,
    "log1p": log1p,
    "tanh": tanh,
    "logistic": logistic,
    "erf": erf,
    "sin": sin,
    "cos": cos,
    "erfc": erfc,
    "lgamma": lgamma,
    "digamma": digamma,
}
BINARY = {"pow": pow}

# Which dtypes each function is lowered for ("f" float32, "d" float64).
SUPPORTED = {
    "exp": "fd",
    "exp2": "fd",
    "expm1": "fd",
    "log": "fd",
    "log1p": "fd",
    "tanh": "fd",
    "logistic": "fd",
    "erf": "fd",
    "erfc": "fd",
    "lgamma": "fd",
    "digamma": "fd",
    "sin": "f",
    "cos": "f",
    "pow": "f",
}


def supports(name, dtype) -> bool:
    kinds = SUPPORTED.get(name)
    if kinds is None:
        return False
    code = {"float32": "f", "float64": "d"}.get(str(dtype))
    return code is not None and code in kinds
