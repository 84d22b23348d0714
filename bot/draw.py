"""Drawing words and shapes with Pillow in the project's fonts (the radar chart, the QR card).

Pillow draws a string with one font file and has no fallback: `runs` splits a text into pieces
that one face each can draw (the locale's design first, then the other CJK design, then the
symbols; bot.fonts.faces), and `text` draws them one after another on a shared baseline.
A character no shipped face has (an emoji in a cohort name) is left out rather than drawn as a
box. Sizes are in pixels of the image drawn on.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PIL import ImageDraw, ImageFont

from bot import fonts

Color = str | tuple[int, int, int]
NO_LINE_START = "）」』】〕〉》，。、；：！？)]}…"  # CJK line breaking: these close a line
NO_LINE_END = "（「『【〔〈《([{"  # and these open one


@lru_cache(maxsize=128)
def font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    """One face at one pixel size (FreeType; cached: opening a 1 MB face takes ~1 ms).
    Raises OSError when the file is missing."""
    return ImageFont.truetype(str(path), size, layout_engine=ImageFont.Layout.BASIC)


@lru_cache(maxsize=1024)
def runs(text: str, locale: str, bold: bool = False) -> tuple[tuple[Path, str], ...]:
    """`text` as (font file, piece) pairs, each piece drawable by its face: every character
    goes to the first face of bot.fonts.faces(locale) that has it. Whitespace stays with the
    piece before it; a character no face has is dropped.

    Raises FileNotFoundError when content/fonts is incomplete."""
    order = fonts.faces(locale, "Bold" if bold else "Regular")
    out: list[tuple[Path, str]] = []
    for ch in text:
        if ch.isspace() and out:
            face = out[-1][0]
        else:
            face = next((f for f in order if ord(ch) in fonts.covers(f)), None)
            if face is None:
                continue
        if out and out[-1][0] == face:
            out[-1] = (face, out[-1][1] + ch)
        else:
            out.append((face, ch))
    return tuple(out)


def length(text: str, size: int, locale: str, bold: bool = False) -> float:
    """The advance width of `text` in pixels."""
    return sum(font(face, size).getlength(piece) for face, piece in runs(text, locale, bold))


def metrics(size: int, locale: str, bold: bool = False) -> tuple[int, int]:
    """(ascent, descent) in pixels of the locale's own face: the line box of a text."""
    return font(fonts.faces(locale, "Bold" if bold else "Regular")[0], size).getmetrics()


def text(draw: ImageDraw.ImageDraw, xy: tuple[float, float], words: str, size: int,
         locale: str, fill: Color, bold: bool = False, anchor: str = "lm") -> float:
    """Draw `words` at `xy`; returns the width drawn.

    anchor: two letters like Pillow's: horizontal l (left) / m (middle) / r (right), then
    vertical t (top of the line box) / m (middle of the capitals and hanzi) / s (baseline) /
    b (bottom of the line box)."""
    width = length(words, size, locale, bold)
    x, y = xy
    x -= {"l": 0.0, "m": width / 2, "r": width}[anchor[0]]
    ascent, descent = metrics(size, locale, bold)
    baseline = {"t": y + ascent, "s": y, "b": y - descent,
                "m": y + size * 0.36}[anchor[1]]  # the middle of a hanzi or a capital
    for face, piece in runs(words, locale, bold):
        f = font(face, size)
        draw.text((x, baseline), piece, font=f, fill=fill, anchor="ls")
        x += f.getlength(piece)
    return width


def fit(words: str, size: int, max_width: float, locale: str, bold: bool = False,
        min_size: int = 10) -> int:
    """The largest size up to `size` (down to `min_size`) at which `words` fits `max_width`."""
    while size > min_size and length(words, size, locale, bold) > max_width:
        size -= max(1, size // 20)
    return size


def wrap(words: str, size: int, max_width: float, locale: str, bold: bool = False,
         max_lines: int = 2) -> list[str]:
    """`words` in lines no wider than `max_width`: broken at spaces where there are any, else
    between any two characters (Chinese); the last line ends in "…" when it all does not fit."""
    lines: list[str] = []
    rest = words.strip()
    while rest and len(lines) < max_lines:
        if length(rest, size, locale, bold) <= max_width:
            lines.append(rest)
            return lines
        cut = len(rest)
        while cut > 1 and length(rest[:cut], size, locale, bold) > max_width:
            cut -= 1
        space = rest.rfind(" ", 0, cut + 1)
        if space > 0 and len(lines) < max_lines - 1:
            cut = space
        else:  # between two characters, but never before a closing mark or after an opening
            while cut > 1 and (rest[cut] in NO_LINE_START or rest[cut - 1] in NO_LINE_END):
                cut -= 1
        if len(lines) == max_lines - 1:  # the last line: cut short with an ellipsis
            while cut > 1 and length(rest[:cut] + "…", size, locale, bold) > max_width:
                cut -= 1
            lines.append(rest[:cut].rstrip() + "…")
            return lines
        lines.append(rest[:cut].rstrip())
        rest = rest[cut:].strip()
    return lines
