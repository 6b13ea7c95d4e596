"""A small SVG bar chart of the ratios derivax time / peer time (no plotting library).

``write_svg(path, ratios)`` draws one bar per ``(workload, name, peer, ratio)`` entry,
grouped by workload, on a logarithmic axis. Each bar starts at the line ``ratio = 1`` and
ends at its ratio, so bars going down mark workloads where derivax is faster than that
peer and bars going up mark where it is slower. Every bar is a ``<rect class="bar">``
carrying ``data-workload``, ``data-peer`` and ``data-ratio`` attributes and a ``<title>``
tooltip; the file is plain SVG 1.1, readable by browsers and by Sphinx as an image.
"""

from __future__ import annotations

import math
from xml.sax.saxutils import escape, quoteattr

PEER_COLORS = {"jax": "#4e79a7", "torch": "#e15759", "numpy": "#59a14f"}
_OTHER_COLORS = ("#f28e2b", "#76b7b2", "#b07aa1", "#9c755f")

_BAR = 15  # bar width
_GAP = 22  # space between workload groups
_LEFT, _RIGHT, _TOP, _BOTTOM = 78, 24, 64, 118
_HEIGHT = 330  # plot area height
_MIN_WIDTH = 640


def _axis_range(values):
    lo = min(min(values), 1.0) / 1.15
    hi = max(max(values), 1.0) * 1.15
    return 10 ** math.floor(math.log10(lo)), 10 ** math.ceil(math.log10(hi))


def _ticks(lo, hi):
    decades = round(math.log10(hi / lo))
    steps = (1, 2, 5) if decades <= 3 else (1,)
    out = []
    for e in range(round(math.log10(lo)), round(math.log10(hi)) + 1):
        for m in steps:
            v = m * 10.0**e
            if lo * 0.999 <= v <= hi * 1.001:
                out.append(v)
    return out


def _fmt_tick(v):
    return f"{v:g}" if 1e-3 <= v < 1e4 else f"1e{round(math.log10(v))}"


def _fmt_ratio(r):
    return f"{r:.2f}" if r < 10 else f"{r:.1f}" if r < 100 else f"{r:.0f}"


def svg(ratios, title="derivax time / peer time (below 1: derivax is faster)"):
    """Returns the SVG text for ``ratios``: a list of ``(workload, name, peer, ratio)``.

    Args:
        ratios: entries in plotting order; ratios must be positive and finite.
        title: the heading drawn above the chart.

    Returns:
        The SVG document as a string.

    Raises:
        ValueError: if ``ratios`` is empty or holds a ratio that is not positive and finite.
    """
    if not ratios:
        raise ValueError("svg: no ratios to plot (every workload was skipped or failed).")
    for w, _, peer, r in ratios:
        if not (isinstance(r, (int, float)) and math.isfinite(r) and r > 0):
            raise ValueError(f"svg: ratio {r!r} for {w}/{peer} is not a positive finite number.")
    peers = list(dict.fromkeys(p for _, _, p, _ in ratios))
    colors = {
        p: PEER_COLORS.get(p, _OTHER_COLORS[i % len(_OTHER_COLORS)]) for i, p in enumerate(peers)
    }
    groups = {}
    for w, name, peer, r in ratios:
        groups.setdefault((w, name), []).append((peer, r))

    lo, hi = _axis_range([r for *_, r in ratios])
    span = math.log10(hi) - math.log10(lo)

    def y(v):
        return _TOP + _HEIGHT * (math.log10(hi) - math.log10(v)) / span

    widths = [len(bars) * _BAR for bars in groups.values()]
    plot_w = max(sum(widths) + _GAP * (len(groups) + 1), _MIN_WIDTH - _LEFT - _RIGHT)
    width, height = _LEFT + plot_w + _RIGHT, _TOP + _HEIGHT + _BOTTOM
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" '
        'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{width / 2:.1f}" y="20" text-anchor="middle" font-size="14" '
        f'font-weight="bold">{escape(title)}</text>',
    ]
    # grid and y axis (log scale)
    x0, x1 = _LEFT, _LEFT + plot_w
    for t in _ticks(lo, hi):
        ty = y(t)
        major = abs(math.log10(t) - round(math.log10(t))) < 1e-9
        out.append(
            f'<line x1="{x0}" y1="{ty:.1f}" x2="{x1}" y2="{ty:.1f}" '
            f'stroke="{"#d0d0d0" if major else "#ececec"}" stroke-width="1"/>'
        )
        out.append(f'<text x="{x0 - 6}" y="{ty + 4:.1f}" text-anchor="end">{_fmt_tick(t)}</text>')
    out.append(f'<line x1="{x0}" y1="{_TOP}" x2="{x0}" y2="{_TOP + _HEIGHT}" stroke="#444"/>')
    cy = _TOP + _HEIGHT / 2
    out.append(
        f'<text x="18" y="{cy:.1f}" text-anchor="middle" transform="rotate(-90 18 {cy:.1f})">'
        "derivax time / peer time (log scale)</text>"
    )
    # bars
    one = y(1.0)
    gx = x0 + (plot_w - sum(widths) - _GAP * (len(groups) - 1)) / 2
    for ((w, name), bars), gw in zip(groups.items(), widths):
        for i, (peer, r) in enumerate(bars):
            bx = gx + i * _BAR
            top, bottom = min(one, y(r)), max(one, y(r))
            label = f"{w} {name}: derivax/{peer} = {_fmt_ratio(r)}"
            out.append(
                f'<rect class="bar" data-workload={quoteattr(w)} data-peer={quoteattr(peer)} '
                f'data-ratio="{r:.6g}" x="{bx + 1}" y="{top:.1f}" width="{_BAR - 2}" '
                f'height="{max(bottom - top, 1.0):.1f}" fill="{colors[peer]}">'
                f"<title>{escape(label)}</title></rect>"
            )
            # value label just beyond the end of the bar, written vertically
            tx = bx + _BAR / 2 + 4
            if r >= 1:
                ty, anchor = y(r) - 3, "start"
            else:
                ty, anchor = y(r) + 3, "end"
            out.append(
                f'<text x="{tx:.1f}" y="{ty:.1f}" font-size="9" text-anchor="{anchor}" '
                f'transform="rotate(-90 {tx:.1f} {ty:.1f})">{_fmt_ratio(r)}</text>'
            )
        cx = gx + gw / 2
        base = _TOP + _HEIGHT
        out.append(
            f'<text x="{cx:.1f}" y="{base + 16}" text-anchor="middle" '
            f'font-weight="bold">{escape(w)}</text>'
        )
        ny = base + 28
        out.append(
            f'<text x="{cx:.1f}" y="{ny}" text-anchor="end" font-size="10" '
            f'transform="rotate(-40 {cx:.1f} {ny})">{escape(name)}</text>'
        )
        gx += gw + _GAP
    out.append(
        f'<line x1="{x0}" y1="{one:.1f}" x2="{x1}" y2="{one:.1f}" stroke="#000" '
        'stroke-width="1.5" stroke-dasharray="6 3"/>'
    )
    # legend
    lx = _LEFT
    for p in peers:
        out.append(
            f'<rect x="{lx}" y="34" width="12" height="12" fill="{colors[p]}"/>'
            f'<text x="{lx + 16}" y="44">derivax / {escape(p)}</text>'
        )
        lx += 16 + 7 * len(f"derivax / {p}") + 24
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write_svg(path, ratios, **kwargs):
    """Writes ``svg(ratios, **kwargs)`` to ``path`` (UTF-8)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(svg(ratios, **kwargs))
