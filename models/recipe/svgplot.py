"""Result files for docs/warm/: JSON, and two small SVG charts (grouped bars, lines with error bars);
the SVGs are hand-written because matplotlib is not installed and they need only rectangles and paths."""
import json
import os
from xml.sax.saxutils import escape

COLORS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c"]
W, H = 720, 420
LEFT, RIGHT, TOP, BOTTOM = 70, 190, 48, 60


def write_json(path, obj):
    """Write a result JSON (indented, trailing newline) beside its plot, creating the folder."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


def _text(x, y, s, size=12, anchor="middle", extra=""):
    """One SVG text element (escaped)."""
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" {extra}>{escape(str(s))}</text>'


def _frame(title, ylabel, lo, hi, ticks, subtitle=""):
    """SVG header, title, y axis with grid lines; returns (parts, y -> pixel function)."""
    def ypix(v):
        return TOP + (H - TOP - BOTTOM) * (1 - (v - lo) / (hi - lo))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
             'font-family="sans-serif">', f'<rect width="{W}" height="{H}" fill="white"/>',
             _text(W / 2, 20, title, 15, extra='font-weight="bold"'), _text(W / 2, 34, subtitle, 11)]
    for t in ticks:
        y = ypix(t)
        parts.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(_text(LEFT - 6, y + 4, f"{t:g}", 11, "end"))
    parts.append(f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{H - BOTTOM}" stroke="black"/>')
    parts.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{H - BOTTOM}" y2="{H - BOTTOM}" stroke="black"/>')
    parts.append(_text(16, (TOP + H - BOTTOM) / 2, ylabel, 12, extra=f'transform="rotate(-90 16 {(TOP + H - BOTTOM) / 2})"'))
    return parts, ypix


def _legend(parts, names, dashed=()):
    """Legend to the right of the plot area."""
    for k, name in enumerate(names):
        y = TOP + 10 + 20 * k
        dash = ' stroke-dasharray="5,3"' if name in dashed else ""
        parts.append(f'<line x1="{W - RIGHT + 12}" x2="{W - RIGHT + 36}" y1="{y}" y2="{y}" '
                     f'stroke="{COLORS[k % len(COLORS)]}" stroke-width="6"{dash}/>')
        parts.append(_text(W - RIGHT + 42, y + 4, name, 12, "start"))


def _ticks(lo, hi, step):
    """Tick values from lo to hi inclusive."""
    n = int(round((hi - lo) / step))
    return [round(lo + i * step, 10) for i in range(n + 1)]


def bars(path, title, ylabel, groups, series, values, errors, lo, hi, step, subtitle=""):
    """Grouped bar chart: values[s][g] for series s in group g, errors[s][g] = (low, high) or None."""
    parts, ypix = _frame(title, ylabel, lo, hi, _ticks(lo, hi, step), subtitle)
    gw = (W - LEFT - RIGHT) / len(groups)
    bw = gw * 0.8 / len(series)
    for g, name in enumerate(groups):
        x0 = LEFT + g * gw + gw * 0.1
        for s in range(len(series)):
            v = values[s][g]
            x = x0 + s * bw
            parts.append(f'<rect x="{x:.1f}" y="{ypix(v):.1f}" width="{bw - 2:.1f}" height="{ypix(lo) - ypix(v):.1f}" '
                         f'fill="{COLORS[s % len(COLORS)]}"><title>{escape(series[s])}: {v:.4g}</title></rect>')
            err = errors[s][g] if errors else None
            if err:
                cx = x + (bw - 2) / 2
                parts.append(f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{ypix(err[0]):.1f}" y2="{ypix(err[1]):.1f}" '
                             'stroke="black"/>')
        parts.append(_text(LEFT + g * gw + gw / 2, H - BOTTOM + 18, name, 12))
    _legend(parts, series)
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")


def lines(path, title, xlabel, ylabel, xs, series, values, errors, lo, hi, step, log2x=True, dashed=(), subtitle=""):
    """Line chart over xs (log2 axis by default): values[s][i], errors[s][i] = half-width or None."""
    import math

    parts, ypix = _frame(title, ylabel, lo, hi, _ticks(lo, hi, step), subtitle)
    fx = (lambda v: math.log2(v)) if log2x else (lambda v: v)
    a, b = fx(xs[0]), fx(xs[-1])

    def xpix(v):
        return LEFT + 15 + (W - LEFT - RIGHT - 30) * (fx(v) - a) / (b - a)

    for x in xs:
        parts.append(_text(xpix(x), H - BOTTOM + 18, x, 11))
    parts.append(_text((LEFT + W - RIGHT) / 2, H - 18, xlabel, 12))
    for s, name in enumerate(series):
        color = COLORS[s % len(COLORS)]
        dash = ' stroke-dasharray="5,3"' if name in dashed else ""
        pts = " ".join(f"{xpix(x):.1f},{ypix(v):.1f}" for x, v in zip(xs, values[s]))
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="2"{dash}/>')
        for i, x in enumerate(xs):
            v = values[s][i]
            parts.append(f'<circle cx="{xpix(x):.1f}" cy="{ypix(v):.1f}" r="3" fill="{color}">'
                         f'<title>{escape(name)} N={x}: {v:.4g}</title></circle>')
            if errors and errors[s] and errors[s][i]:
                e = errors[s][i]
                parts.append(f'<line x1="{xpix(x):.1f}" x2="{xpix(x):.1f}" y1="{ypix(v - e):.1f}" '
                             f'y2="{ypix(v + e):.1f}" stroke="{color}"/>')
    _legend(parts, series, dashed)
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")
