"""Charts as SVG drawn on the server: no chart library, no script, nothing fetched. Colours and
fonts come from the console's stylesheet through class names; every label is escaped."""

from __future__ import annotations

import math
from dataclasses import dataclass

from markupsafe import Markup, escape


@dataclass(frozen=True)
class Series:
    name: str
    points: list[tuple[float, float]]
    css: str = "series-a"


@dataclass(frozen=True)
class Marker:
    """A vertical line at `x` with a label (a session boundary, a handoff)."""

    x: float
    label: str


@dataclass(frozen=True)
class Interval:
    """A point estimate with its confidence interval, for one labelled row."""

    label: str
    value: float | None
    low: float | None = None
    high: float | None = None
    note: str = ""


@dataclass
class _Frame:
    """Plot area inside the SVG, and the data ranges it maps."""

    width: int
    height: int
    left: int = 72
    right: int = 16
    top: int = 28
    bottom: int = 40
    x_range: tuple[float, float] = (0.0, 1.0)
    y_range: tuple[float, float] = (0.0, 1.0)

    def x(self, value: float) -> float:
        lo, hi = self.x_range
        span = hi - lo or 1.0
        return self.left + (value - lo) / span * (self.width - self.left - self.right)

    def y(self, value: float) -> float:
        lo, hi = self.y_range
        span = hi - lo or 1.0
        return (
            self.height - self.bottom - (value - lo) / span * (self.height - self.top - self.bottom)
        )


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (1, 2 or 5 times a power of ten apart)."""
    if not math.isfinite(low) or not math.isfinite(high):
        return []
    if high <= low:
        high = low + 1.0
    raw = (high - low) / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step + 1e-9) * step
    last = math.ceil(high / step - 1e-9) * step
    return [round(first + i * step, 10) for i in range(int(round((last - first) / step)) + 1)]


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1000 or magnitude < 0.001:
        return f"{value:.1e}"
    if magnitude >= 10:
        return f"{value:.0f}"
    return f"{value:.3g}"


def line_chart(
    series: list[Series],
    *,
    title: str,
    x_label: str,
    y_label: str,
    markers: list[Marker] | None = None,
    width: int = 880,
    height: int = 280,
) -> Markup:
    """Lines over a shared x axis, with labelled vertical markers; an empty chart says so."""
    points = [p for s in series for p in s.points if math.isfinite(p[1])]
    label = escape(title)
    if not points:
        return Markup(
            f'<svg class="chart" viewBox="0 0 {width} 60" role="img" aria-label="{label}">'
            f'<text x="{width / 2}" y="34" class="chart-empty">no data yet</text></svg>'
        )
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x_ticks = nice_ticks(min(xs), max(xs), 6)
    y_ticks = nice_ticks(min(ys), max(ys), 4)
    frame = _Frame(
        width, height, x_range=(x_ticks[0], x_ticks[-1]), y_range=(y_ticks[0], y_ticks[-1])
    )
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{label}">',
        f"<title>{label}</title>",
    ]
    for tick in y_ticks:
        y = frame.y(tick)
        parts.append(
            f'<line class="grid" x1="{frame.left}" x2="{width - frame.right}" '
            f'y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text class="tick" x="{frame.left - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end">{_fmt(tick)}</text>'
        )
    for tick in x_ticks:
        x = frame.x(tick)
        parts.append(
            f'<text class="tick" x="{x:.1f}" y="{height - frame.bottom + 16}" '
            f'text-anchor="middle">{_fmt(tick)}</text>'
        )
    parts.append(
        f'<line class="axis" x1="{frame.left}" x2="{width - frame.right}" '
        f'y1="{frame.y(y_ticks[0]):.1f}" y2="{frame.y(y_ticks[0]):.1f}"/>'
    )
    for marker in markers or []:
        x = frame.x(marker.x)
        parts.append(
            f'<line class="marker" x1="{x:.1f}" x2="{x:.1f}" y1="{frame.top}" '
            f'y2="{height - frame.bottom}"/>'
        )
        parts.append(
            f'<text class="marker-label" x="{x + 5:.1f}" y="{frame.top + 2}">'
            f"{escape(marker.label)}</text>"
        )
    for line in series:
        finite = [(x, y) for x, y in line.points if math.isfinite(y)]
        if not finite:
            continue
        path = " ".join(f"{frame.x(x):.1f},{frame.y(y):.1f}" for x, y in finite)
        css = escape(line.css)
        parts.append(
            f'<polyline class="line {css}" points="{path}"><title>{escape(line.name)}'
            "</title></polyline>"
        )
        if len(finite) <= 40:
            parts.extend(
                f'<circle class="dot {css}" cx="{frame.x(x):.1f}" cy="{frame.y(y):.1f}" r="2.5">'
                f"<title>{escape(line.name)} at {_fmt(x)}: {_fmt(y)}</title></circle>"
                for x, y in finite
            )
    parts.append(
        f'<text class="axis-label" x="{(frame.left + width - frame.right) / 2:.0f}" '
        f'y="{height - 6}" text-anchor="middle">{escape(x_label)}</text>'
    )
    parts.append(
        f'<text class="axis-label" transform="translate(14 {height / 2:.0f}) '
        f'rotate(-90)" text-anchor="middle">{escape(y_label)}</text>'
    )
    # The legend, top right: one swatch per series.
    legend_x = width - frame.right
    for line in reversed(series):
        text = escape(line.name)
        legend_x -= 14 + 7 * len(line.name)
        parts.append(
            f'<line class="line {escape(line.css)}" x1="{legend_x:.0f}" '
            f'x2="{legend_x + 10:.0f}" y1="10" y2="10"/>'
            f'<text class="legend" x="{legend_x + 14:.0f}" y="14">{text}</text>'
        )
        legend_x -= 12
    parts.append("</svg>")
    return Markup("".join(parts))


def share_domain(rows: list[Interval]) -> tuple[float, float]:
    """0 to the smallest of 10%, 20%, 25%, 50%, 100% that holds every interval: small rates
    stay readable instead of hugging the axis."""
    top = max((v for r in rows for v in (r.value, r.high) if v is not None), default=1.0)
    return (0.0, next(c for c in (0.1, 0.2, 0.25, 0.5, 1.0) if top <= c))


def interval_chart(
    rows: list[Interval],
    *,
    title: str,
    domain: tuple[float, float] = (0.0, 1.0),
    percent: bool = True,
    width: int = 880,
    row_height: int = 30,
) -> Markup:
    """One row per estimate: a bar to the point value and a whisker over its 95% CI."""
    label = escape(title)
    # Room for the longest label (about 7.5 px a character at 13 px), within reason.
    label_width = min(300, max(120, int(7.5 * max((len(r.label) for r in rows), default=8)) + 20))
    value_width = 170
    height = 24 + row_height * max(1, len(rows))
    frame = _Frame(
        width, height, left=label_width, right=value_width, top=8, bottom=16, x_range=domain
    )
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{label}">',
        f"<title>{label}</title>",
    ]
    for tick in nice_ticks(domain[0], domain[1], 4):
        x = frame.x(tick)
        text = f"{tick * 100:.0f}%" if percent else _fmt(tick)
        parts.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="4" y2="{height - 18}"/>')
        parts.append(
            f'<text class="tick" x="{x:.1f}" y="{height - 4}" text-anchor="middle">{text}</text>'
        )
    zero = frame.x(max(domain[0], min(0.0, domain[1])))
    for index, row in enumerate(rows):
        mid = 8 + row_height * index + row_height / 2
        parts.append(
            f'<text class="row-label" x="{label_width - 10}" y="{mid + 4:.1f}" '
            f'text-anchor="end">{escape(row.label)}</text>'
        )
        if row.value is None or not math.isfinite(row.value):
            parts.append(
                f'<text class="row-value" x="{label_width + 4}" y="{mid + 4:.1f}">'
                "not measured</text>"
            )
            continue
        x = frame.x(min(max(row.value, domain[0]), domain[1]))
        left, right = sorted((zero, x))
        parts.append(
            f'<rect class="bar" x="{left:.1f}" y="{mid - 7:.1f}" '
            f'width="{max(1.5, right - left):.1f}" height="14" rx="2"/>'
        )
        text = f"{row.value * 100:.1f}%" if percent else _fmt(row.value)
        if row.low is not None and row.high is not None:
            lo = frame.x(min(max(row.low, domain[0]), domain[1]))
            hi = frame.x(min(max(row.high, domain[0]), domain[1]))
            parts.append(
                f'<line class="whisker" x1="{lo:.1f}" x2="{hi:.1f}" y1="{mid:.1f}" y2="{mid:.1f}"/>'
            )
            for end in (lo, hi):
                parts.append(
                    f'<line class="whisker" x1="{end:.1f}" x2="{end:.1f}" '
                    f'y1="{mid - 5:.1f}" y2="{mid + 5:.1f}"/>'
                )
            bounds = (
                f"{row.low * 100:.0f}–{row.high * 100:.0f}%"
                if percent
                else f"{_fmt(row.low)} – {_fmt(row.high)}"
            )
            text += f" [{bounds}]"
        if row.note:
            text += f" {row.note}"
        parts.append(
            f'<text class="row-value" x="{width - value_width + 8}" y="{mid + 4:.1f}">'
            f"{escape(text)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
