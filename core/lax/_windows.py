"""Window arithmetic shared by convolutions and windowed reductions.

Both ``conv_general_dilated`` and ``reduce_window`` slide a (possibly dilated) window over a
(possibly dilated and padded) operand. The helpers here compute padding from the string
forms, output sizes, and the NumPy work of dilating and padding an operand, so the two
families agree on every convention.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence

import numpy as np

PADDING_STRINGS = ("SAME", "SAME_LOWER", "VALID")


def dilate_dim(size: int, dilation: int) -> int:
    """Size of a dimension of ``size`` elements with ``dilation - 1`` holes between them."""
    return 0 if size == 0 else (size - 1) * dilation + 1


def dilate_shape(shape, dilation):
    return tuple(dilate_dim(s, d) for s, d in zip(shape, dilation, strict=True))


def window_out_dim(padded: int, window: int, stride: int) -> int:
    """Number of window positions (``window`` already dilated) in ``padded`` elements."""
    if padded < window:
        return 0
    return (padded - window) // stride + 1


def padtype_to_pads(in_shape, window_shape, window_strides, padding) -> list[tuple[int, int]]:
    """Explicit ``(low, high)`` padding pairs for a padding string.

    ``"VALID"`` is no padding. ``"SAME"`` pads so that the output has
    ``ceil(in / stride)`` elements, with the extra element (when the total is odd) at the
    high end; ``"SAME_LOWER"`` puts it at the low end.

    Args:
        in_shape: the operand's sizes along the windowed dimensions.
        window_shape: the window's sizes (already dilated) along the same dimensions.
        window_strides: the strides.
        padding: ``"SAME"``, ``"SAME_LOWER"`` or ``"VALID"``.

    Returns:
        A list of ``(low, high)`` pairs, one per dimension.

    Raises:
        ValueError: for another string.

    Example:
        >>> from derivax import lax
        >>> lax.padtype_to_pads((5, 6), (3, 2), (2, 2), "SAME")
        [(1, 1), (0, 0)]
    """
    if not isinstance(padding, str):
        raise TypeError(f"padding: expected a string, got {padding!r}.")
    mode = padding.upper()
    if mode == "VALID":
        return [(0, 0)] * len(in_shape)
    if mode not in ("SAME", "SAME_LOWER"):
        raise ValueError(
            f"padding: unknown padding string {padding!r}; use 'SAME', 'SAME_LOWER', 'VALID' "
            "or a sequence of (low, high) integer pairs."
        )
    pads = []
    for size, window, stride in zip(in_shape, window_shape, window_strides, strict=True):
        out = -(-size // stride)
        total = builtins.max(0, (out - 1) * stride + window - size)
        low = total // 2 if mode == "SAME" else total - total // 2
        pads.append((low, total - low))
    return pads


def check_int_seq(name, value, n, *, minimum=1, default=1):
    """Normalise ``value`` (None, an int or a sequence) to a tuple of ``n`` ints."""
    if value is None:
        return (default,) * n
    if isinstance(value, (int, np.integer)):
        value = (int(value),) * n
    try:
        out = tuple(int(v) for v in value)
    except TypeError:
        raise TypeError(f"{name}: expected an int or a sequence of ints, got {value!r}.") from None
    if len(out) != n:
        raise ValueError(
            f"{name}: expected {n} entries (one per windowed dimension), got {len(out)}: {out}."
        )
    if any(v < minimum for v in out):
        raise ValueError(f"{name}: every entry must be >= {minimum}, got {out}.")
    return out


def check_padding_pairs(value, n, name="padding") -> tuple[tuple[int, int], ...]:
    """Normalise explicit padding (pairs, or one int per dimension) to ``n`` int pairs."""
    if isinstance(value, (int, np.integer)):
        return ((int(value), int(value)),) * n
    if not isinstance(value, Sequence):
        raise TypeError(
            f"{name}: expected 'SAME', 'SAME_LOWER', 'VALID' or a sequence of (low, high) "
            f"pairs, got {value!r}."
        )
    pairs = []
    for p in value:
        if isinstance(p, (int, np.integer)):
            pairs.append((int(p), int(p)))
            continue
        try:
            lo, hi = p
            pairs.append((int(lo), int(hi)))
        except (TypeError, ValueError):
            raise TypeError(
                f"{name}: every entry must be a (low, high) pair of ints, got {p!r} in {value!r}."
            ) from None
    if len(pairs) != n:
        raise ValueError(
            f"{name}: expected {n} (low, high) pairs (one per windowed dimension), got "
            f"{len(pairs)}: {tuple(pairs)}."
        )
    return tuple(pairs)


def dilate_pad(x: np.ndarray, axes, dilation, padding, fill) -> np.ndarray:
    """Dilate ``x`` along ``axes`` then pad (negative padding crops), filling with ``fill``."""
    shape = list(x.shape)
    if all(d == 1 for d in dilation) and all(lo == 0 and hi == 0 for lo, hi in padding):
        return x
    grown = list(shape)
    put = [builtins.slice(None)] * x.ndim
    crop = [builtins.slice(None)] * x.ndim
    for ax, d, (lo, hi) in zip(axes, dilation, padding, strict=True):
        dil = dilate_dim(shape[ax], d)
        plo, phi = builtins.max(lo, 0), builtins.max(hi, 0)
        grown[ax] = plo + dil + phi
        put[ax] = builtins.slice(plo, plo + dil, d)
        crop[ax] = builtins.slice(-lo if lo < 0 else 0, grown[ax] + hi if hi < 0 else grown[ax])
    out = np.full(grown, fill, dtype=x.dtype)
    out[tuple(put)] = x
    return out[tuple(crop)]


def undilate_unpad(g: np.ndarray, axes, dilation, padding, in_shape) -> np.ndarray:
    """The adjoint of :func:`dilate_pad` with zero fill: gather ``g`` back to ``in_shape``."""
    out_sl = [builtins.slice(None)] * g.ndim
    src_sl = [builtins.slice(None)] * g.ndim
    dil_shape = list(g.shape)
    for ax, d, (lo, _hi) in zip(axes, dilation, padding, strict=True):
        dil = dilate_dim(in_shape[ax], d)
        dil_shape[ax] = dil
        start = builtins.max(lo, 0)
        stop = builtins.min(g.shape[ax], dil + lo)
        src_sl[ax] = builtins.slice(start, builtins.max(start, stop))
        dst0 = start - lo
        out_sl[ax] = builtins.slice(dst0, dst0 + builtins.max(0, stop - start))
    dilated = np.zeros(dil_shape, dtype=g.dtype)
    dilated[tuple(out_sl)] = g[tuple(src_sl)]
    take = [builtins.slice(None)] * g.ndim
    for ax, d in zip(axes, dilation, strict=True):
        take[ax] = builtins.slice(None, None, d)
    return np.ascontiguousarray(dilated[tuple(take)])
