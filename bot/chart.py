"""The radar chart of the eight dimensions, drawn with Pillow: PNG bytes (render_radar: the PDF,
the console) or JPEG bytes (render_photo: Telegram photos).

`render_radar(ChartData)`: a title and a subtitle (optional), the scale rings 25/50/75/100 with
their numbers on white so that no line crosses them, each axis's label with the first series'
value under it, up to three series (solid and filled, dashed, dotted) and a legend. Two sizes:
"phone" (1080 x 1080 px, for a photo in the chat) and "projector" (1920 x 1080 px, big words,
for a slide). Shapes are drawn at twice the size and halved (antialiasing), words at the final
size in the shipped fonts (bot.draw: the locale's design, symbols from the symbol face).

About 30 ms of CPU for a phone chart as PNG, 15 ms as JPEG, 67 ms for a projector PNG (half to
two thirds of it the PNG encoding; matplotlib took 71 ms for a 660 px chart): adapters call
render_off_loop, which renders in the chart process, never on the event loop.
"""

from __future__ import annotations

import io
import logging
import math
from dataclasses import dataclass

from PIL import Image, ImageDraw

from bot import draw
from bot.service import ChartData

log = logging.getLogger(__name__)

SCALE = 2  # shapes are drawn at SCALE x the size, then reduced: smooth edges
INK = (26, 32, 44)
MUTED = (74, 85, 104)
RING_TEXT = (113, 128, 150)
GRID = (210, 218, 228)
GRID_OUTER = (160, 174, 192)
WHITE = (255, 255, 255)
STYLES = {  # colour, how the line is drawn
    "solid": ((43, 108, 176), "solid"),
    "dashed": ((74, 85, 104), "dashed"),
    "dotted": ((221, 107, 32), "dotted"),
}
FILL_ALPHA = 0.2  # the solid series' area: its colour at 20% on white
RINGS = (25, 50, 75, 100)
MAX_SERIES = 3


@dataclass(frozen=True)
class Layout:
    """Pixel sizes of one chart size."""

    width: int
    height: int
    margin: int
    title: int  # font sizes in px
    subtitle: int
    label: int
    value: int
    ring: int
    legend: int
    line: int  # series line width
    legend_right: bool  # legend in a column on the right (wide images) or a row below


SIZES = {
    "phone": Layout(1080, 1080, 44, 48, 30, 32, 36, 22, 28, 5, False),
    "projector": Layout(1920, 1080, 64, 60, 38, 40, 46, 26, 36, 6, True),
}


def render_radar(chart: ChartData, size_inches: float | None = None,
                 dpi: int | None = None) -> bytes:
    """The chart as PNG bytes, `chart.size` wide (see SIZES; an unknown size is "phone"); with
    `size_inches` and `dpi` (a print size, e.g. the PDF's), a square of that many pixels laid
    out like the phone size.

    Raises ValueError for a chart without labels or with a series of another length, and
    FileNotFoundError when content/fonts is incomplete."""
    pixels = round(size_inches * dpi) if size_inches and dpi else None
    image = radar_image(chart, pixels)
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)  # 6 (the default): +50% time, -20% bytes
    return out.getvalue()


def _scaled(lay: Layout, pixels: int) -> Layout:
    """The square layout at another width: every size in proportion."""
    f = pixels / lay.width
    return Layout(pixels, pixels, *(max(1, round(v * f)) for v in (
        lay.margin, lay.title, lay.subtitle, lay.label, lay.value, lay.ring, lay.legend,
        lay.line)), False)


def radar_image(chart: ChartData, pixels: int | None = None) -> Image.Image:
    """The chart as a Pillow RGB image (render_radar without the PNG encoding); `pixels`: a
    square that wide instead of `chart.size`."""
    n = len(chart.labels)
    if n < 3:
        raise ValueError("a radar needs at least three axes")
    series = list(chart.series)[:MAX_SERIES]
    for _, values, _ in series:
        if len(values) != n:
            raise ValueError("every series needs one value per label")
    lay = SIZES.get(chart.size, SIZES["phone"])
    if pixels:
        lay = _scaled(SIZES["phone"], pixels)
    loc = chart.locale
    w, h, m = lay.width, lay.height, lay.margin

    sample = int(lay.legend * 2.2)  # the length of a legend's line sample
    row_h = int(lay.legend * 1.6)
    entries = [(name, style, draw.length(name, lay.legend, loc)) for name, _, style in series]
    shown = entries if len(series) > 1 else []  # one series needs no legend
    words: list[tuple[float, float, str, int, bool, tuple, str]] = []  # x, y, text, size, ...
    legend_at: list[tuple[float, float, str, str]] = []  # x, y (middle), name, style
    if lay.legend_right:
        # wide: the radar on the left, title, subtitle and legend in a column on the right
        col = int(w * 0.34)
        left, top, right, bottom = m // 2, m, w - m - col - m, h - m
        x0 = w - m - col
        lines = []
        if chart.title:  # a little smaller rather than broken, else on up to 3 lines
            size = draw.fit(chart.title, lay.title, col, loc, True, lay.title * 4 // 5)
            lines += [(t, size, True, INK) for t in
                      draw.wrap(chart.title, size, col, loc, True, max_lines=3)]
        for part in (chart.subtitle or "").split(" · "):  # "who · when": a line each
            if part:
                size = draw.fit(part, lay.subtitle, col, loc, False, lay.subtitle * 4 // 5)
                lines += [(t, size, False, MUTED) for t in
                          draw.wrap(part, size, col, loc, max_lines=2)]
        height = sum(int(size * 1.3) for _, size, _, _ in lines)
        height += (lay.margin if lines and shown else 0) + row_h * len(shown)
        y = (h - height) / 2
        for text, size, bold, colour in lines:
            words.append((x0, y, text, size, bold, colour, "lt"))
            y += int(size * 1.3)
        y += (lay.margin if lines and shown else 0) + row_h / 2
        for name, style, _ in shown:
            legend_at.append((x0, y, name, style))
            y += row_h
    else:
        # a photo: title and subtitle above (each one line, shrunk to fit), the legend below
        left, top, right, bottom = m, m, w - m, h - m
        for text, size, bold, colour in ((chart.title, lay.title, True, INK),
                                         (chart.subtitle, lay.subtitle, False, MUTED)):
            if text:
                size = draw.fit(text, size, w - 2 * m, loc, bold)
                words.append((w / 2, top, text, size, bold, colour, "mt"))
                top += int(size * 1.35)
        if words:
            top += m // 2
        if shown:
            gap = lay.legend * 1.5
            total = sum(e[2] + sample + lay.legend * 0.5 for e in shown) + gap * (len(shown) - 1)
            if total <= w - 2 * m:
                x, y = (w - total) / 2, h - m - row_h / 2
                for name, style, width in shown:
                    legend_at.append((x, y, name, style))
                    x += width + sample + lay.legend * 0.5 + gap
                bottom = h - m - row_h - lay.legend // 2
            else:  # one entry a line
                y = h - m - row_h * (len(shown) - 0.5)
                for name, style, _ in shown:
                    legend_at.append((m, y, name, style))
                    y += row_h
                bottom = h - m - row_h * len(shown) - lay.legend // 2

    # --- the radar: as large as the labels around it allow --------------------------------------
    primary = series[0] if series else None
    labels = []
    for i, label in enumerate(chart.labels):
        value = f"{primary[1][i]:.0f}" if chart.show_values and primary else ""
        lw = max(draw.length(label, lay.label, loc),
                 draw.length(value, lay.value, loc, True) if value else 0)
        lh = lay.label * 1.3 + (lay.value * 1.2 if value else 0)
        labels.append((label, value, lw, lh))
    angles = [2 * math.pi * i / n for i in range(n)]  # clockwise from the top
    gap = lay.label * 0.5
    cx, cy = (left + right) / 2, (top + bottom) / 2
    radius = min(right - left, bottom - top) / 2
    for a, (_, _, lw, lh) in zip(angles, labels, strict=True):
        s, c = math.sin(a), math.cos(a)
        # the label's box is pushed out along its axis by half its size
        if s > 0.01:
            radius = min(radius, (right - cx - lw / 2 * (1 + s)) / s - gap)
        if s < -0.01:
            radius = min(radius, (cx - left - lw / 2 * (1 - s)) / -s - gap)
        if c > 0.01:
            radius = min(radius, (cy - top - lh / 2 * (1 + c)) / c - gap)
        if c < -0.01:
            radius = min(radius, (bottom - cy - lh / 2 * (1 - c)) / -c - gap)
    radius = max(radius, 60.0)

    def point(a: float, value: float, scale: float = 1.0) -> tuple[float, float]:
        r = radius * max(0.0, min(100.0, value)) / 100
        return ((cx + r * math.sin(a)) * scale, (cy - r * math.cos(a)) * scale)

    # --- shapes, at SCALE x ------------------------------------------------------------------
    S = SCALE
    image = Image.new("RGB", (w * S, h * S), WHITE)
    pen = ImageDraw.Draw(image)
    if primary is not None and STYLES.get(primary[2], STYLES["solid"])[1] == "solid":
        colour = STYLES["solid"][0]
        tint = tuple(round(255 - FILL_ALPHA * (255 - c)) for c in colour)
        pen.polygon([point(a, v, S) for a, v in zip(angles, primary[1], strict=True)],
                    fill=tint)
    for ring in RINGS:
        pts = [point(a, ring, S) for a in angles]
        pen.line(pts + [pts[0]], fill=GRID_OUTER if ring == 100 else GRID,
                 width=(2 if ring == 100 else 1) * S)
    for a in angles:
        pen.line([point(a, 0, S), point(a, 100, S)], fill=GRID, width=S)
    for _name, values, style in reversed(series):  # the first series on top
        colour, kind = STYLES.get(style, STYLES["solid"])
        pts = [point(a, v, S) for a, v in zip(angles, values, strict=True)]
        _path(pen, pts + [pts[0]], kind, colour, lay.line * S)
        if kind == "solid":
            dot = lay.line * 1.3 * S
            for x, y in pts:
                pen.ellipse((x - dot, y - dot, x + dot, y + dot), fill=colour)
    for x, y, _, style in legend_at:
        colour, kind = STYLES.get(style, STYLES["solid"])
        _path(pen, [(x * S, y * S), ((x + sample) * S, y * S)], kind, colour, lay.line * S)
    ring_boxes = []
    half = math.pi / n  # the ring numbers sit between the first two axes, on white
    for ring in RINGS:
        r = radius * ring / 100 * math.cos(half)
        x, y = cx + r * math.sin(half), cy - r * math.cos(half)
        tw = draw.length(str(ring), lay.ring, loc)
        pad = lay.ring * 0.3
        box = (x - tw / 2 - pad, y - lay.ring * 0.62, x + tw / 2 + pad, y + lay.ring * 0.62)
        pen.rounded_rectangle(tuple(v * S for v in box), radius=lay.ring * 0.4 * S, fill=WHITE)
        ring_boxes.append((x, y, str(ring)))
    image = image.reduce(S)

    # --- words, at the final size ----------------------------------------------------------------
    pen = ImageDraw.Draw(image)
    for x, y, text, size, bold, colour, anchor in words:
        draw.text(pen, (x, y), text, size, loc, colour, bold, anchor)
    for x, y, text in ring_boxes:
        draw.text(pen, (x, y), text, lay.ring, loc, RING_TEXT, anchor="mm")
    value_colour = STYLES.get(primary[2], STYLES["solid"])[0] if primary else INK
    for a, (label, value, lw, lh) in zip(angles, labels, strict=True):
        s, c = math.sin(a), math.cos(a)
        bx = cx + (radius + gap) * s + s * lw / 2  # the centre of the label's box
        by = cy - (radius + gap) * c - c * lh / 2
        y = by - lh / 2
        draw.text(pen, (bx, y + lay.label * 0.65), label, lay.label, loc, INK, anchor="mm")
        if value:
            draw.text(pen, (bx, y + lay.label * 1.3 + lay.value * 0.6), value, lay.value, loc,
                      value_colour, True, "mm")
    for x, y, name, _ in legend_at:
        draw.text(pen, (x + sample + lay.legend * 0.5, y), name, lay.legend, loc, INK,
                  anchor="lm")
    return image


def _path(pen: ImageDraw.ImageDraw, points: list[tuple[float, float]], kind: str,
          colour: tuple, width: float) -> None:
    """A polyline: solid, dashed (dashes 3 line widths long) or dotted (round dots)."""
    if kind == "solid":
        pen.line(points, fill=colour, width=round(width), joint="curve")
        return
    dash, space = (width * 3, width * 2) if kind == "dashed" else (0.0, width * 2.2)
    period = dash + space if kind == "dashed" else space
    travelled = 0.0
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        length = math.hypot(x1 - x0, y1 - y0)
        if length == 0:
            continue
        ux, uy = (x1 - x0) / length, (y1 - y0) / length
        t = (-travelled) % period  # where the next dash or dot starts on this segment
        while t < length:
            if kind == "dashed":
                end = min(t + dash, length)
                pen.line([(x0 + ux * t, y0 + uy * t), (x0 + ux * end, y0 + uy * end)],
                         fill=colour, width=round(width))
            else:
                r = width * 0.55
                px, py = x0 + ux * t, y0 + uy * t
                pen.ellipse((px - r, py - r, px + r, py + r), fill=colour)
            t += period
        travelled += length


def render_photo(chart: ChartData) -> bytes:
    """The chart as JPEG bytes for Telegram's sendPhoto (quality 90, no chroma subsampling, so
    thin coloured lines and small words stay sharp). Telegram re-encodes every photo as JPEG,
    so a PNG buys nothing there, and its encoding was two thirds of a chart's cost (1080 px:
    PNG 22 ms, JPEG 4 ms; the whole chart 31 -> 15 ms), which a room finishing at once pays
    500 times. Raises what render_radar raises."""
    out = io.BytesIO()
    radar_image(chart).save(out, format="JPEG", quality=90, subsampling=0)
    return out.getvalue()


# --- off the event loop (the worker processes: bot/render_pool.py) ---------------------------
def _pool():
    from bot import render_pool

    return render_pool.pool()


async def render_off_loop(chart: ChartData) -> bytes:
    """render_photo (JPEG bytes) in a drawing process (bot.render_pool); in a thread where
    processes can not be started.

    A process, not a thread: measured with 50 charts at once, a thread pool let the event
    loop lag up to 112 ms (the drawing and font calls hold the GIL), the process 6.5 ms."""
    from bot import render_pool

    return await render_pool.run(render_photo, chart)


def warm_up() -> None:
    """Start the drawing processes and load the fonts there, before the first report."""
    from bot import render_pool

    render_pool.warm_up()


def _load_fonts() -> None:
    """The fonts' character maps read and the faces opened (~0.1 s), once per process."""
    try:
        for locale in ("zh-Hans", "zh-Hant"):
            for bold in (False, True):
                draw.runs("Aa诚信誠信▰", locale, bold)
    except OSError as exc:  # a chart then fails and says so; the bot goes on
        log.warning("chart fonts not loaded: %s", type(exc).__name__)


def shutdown() -> None:
    from bot import render_pool

    render_pool.shutdown()
