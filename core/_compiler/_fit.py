"""Fit the polynomial coefficients used by ``mathlib`` (run: ``python -m derivax._compiler._fit``).

Each approximation is a polynomial ``p(t) = sum c_k t**k`` fitted to a target function on
an interval by least squares on Chebyshev nodes, re-weighted a few times (Lawson's
algorithm) so that the error approaches the minimax error. The weights make the error
relative where the kernel needs relative accuracy. Targets are evaluated in float64,
which is ample for float32 kernels. The printed coefficients are pasted into
``mathlib.py``; this script documents where they come from and how accurate they are.
"""

from __future__ import annotations

import math

import numpy as np


def _series_expm1_minus(r):
    """(exp(r) - 1 - r) / r**2, accurate near 0."""
    r = np.asarray(r, np.float64)
    out = np.empty_like(r)
    small = np.abs(r) < 1e-2
    rs = r[small]
    acc = np.zeros_like(rs)
    for k in range(12, -1, -1):
        acc = acc * rs + 1.0 / math.factorial(k + 2)
    out[small] = acc
    rl = r[~small]
    out[~small] = (np.expm1(rl) - rl) / (rl * rl)
    return out


def _series_log_minus(f):
    """(log1p(f) - f + f**2/2) / f**3, accurate near 0."""
    f = np.asarray(f, np.float64)
    out = np.empty_like(f)
    small = np.abs(f) < 1e-2
    fs = f[small]
    acc = np.zeros_like(fs)
    for k in range(14, -1, -1):  # sum_{k>=0} (-1)^k f^k / (k + 3)
        acc = acc * fs + (-1) ** k / (k + 3)
    out[small] = acc
    fl = f[~small]
    out[~small] = (np.log1p(fl) - fl + 0.5 * fl * fl) / (fl**3)
    return out


def _tanh_minus(z):
    """(tanh(x) - x) / x**3 as a function of z = x**2."""
    z = np.asarray(z, np.float64)
    x = np.sqrt(z)
    out = np.empty_like(z)
    small = x < 1e-2
    # tanh x = x - x^3/3 + 2x^5/15 - 17x^7/315 + 62x^9/2835
    zs = z[small]
    out[small] = -1 / 3 + zs * (2 / 15 + zs * (-17 / 315 + zs * 62 / 2835))
    xl = x[~small]
    out[~small] = (np.tanh(xl) - xl) / xl**3
    return out


def _erf_over_x(z):
    x = np.sqrt(np.asarray(z, np.float64))
    out = np.empty_like(x)
    for i, xi in enumerate(x):
        out[i] = math.erf(xi) / xi if xi > 0 else 2 / math.sqrt(math.pi)
    return out


def _erfc_scaled(t):
    """erfc(x) * exp(x**2) as a function of t = 1/x."""
    x = 1.0 / np.asarray(t, np.float64)
    return np.array([math.erfc(xi) * math.exp(xi * xi) for xi in x])


def fit(fun, lo, hi, degree, *, relative=True, powers=None, iters=30, n=2000):
    """Near-minimax polynomial fit; returns (coefficients low->high, max error)."""
    k = np.arange(n)
    t = (lo + hi) / 2 + (hi - lo) / 2 * np.cos(np.pi * (k + 0.5) / n)
    y = fun(t)
    powers = list(range(degree + 1)) if powers is None else list(powers)
    A = np.stack([t**p for p in powers], axis=1)
    scale = np.abs(y) if relative else np.ones_like(y)
    w = np.ones_like(y)
    best = None
    for _ in range(iters):
        sw = np.sqrt(w) / scale
        c, *_ = np.linalg.lstsq(A * sw[:, None], y * sw, rcond=None)
        err = np.abs(A @ c - y) / scale
        m = err.max()
        if best is None or m < best[1]:
            best = (c, m)
        w = w * err
        w = w / w.sum()
    return best


FITS = {
    # e^r = 1 + r + r^2 P(r), |r| <= ln2/2 (shared by exp and expm1)
    "exp_f32": (_series_expm1_minus, -0.3466, 0.3466, 5, True),
    # log(1+f) = f - f^2/2 + f^3 P(f), f in [sqrt(1/2)-1, sqrt(2)-1]
    "log_f32": (_series_log_minus, -0.29290, 0.41422, 8, True),
    # tanh x = x + x^3 P(x^2), |x| <= 0.625
    "tanh_f32": (_tanh_minus, 0.0, 0.390625, 5, True),
    # erf x = x P(x^2), |x| <= 1 (float32 erf evaluates in float64)
    "erf_f64k": (_erf_over_x, 0.0, 1.0, 9, True),
    # erfc x = exp(-x^2) Q(1/x), 1 <= x <= 4 (idem)
    "erfc_f64k": (_erfc_scaled, 0.25, 1.0, 11, True),
}


def main():
    for name, (fun, lo, hi, deg, rel) in FITS.items():
        c, err = fit(fun, lo, hi, deg, relative=rel)
        print(f"{name}: max {'relative' if rel else 'absolute'} error {err:.3g}")
        print("    (" + ", ".join(repr(float(x)) for x in c) + ")")


if __name__ == "__main__":
    main()
