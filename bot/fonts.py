"""The fonts the project ships, and which of them draws which character.

`content/fonts/` holds subsets of Noto Sans CJK (SIL OFL 1.1), renamed so that they never clash
with a full Noto installed on the machine: "Coach Sans SC" (the mainland design: simplified
characters) and "Coach Sans TC" (the Taiwan design: traditional characters, centred ，。),
each Regular and Bold, TrueType outlines; and "Coach Symbols", a subset of DejaVu Sans
(Bitstream Vera licence) for the symbols the CJK design lacks (▰ ▸ ☐ ☑). `python -m bot fonts
build` regenerates them all. Emoji are drawn by the reader's Telegram app and are in no font here.

Pillow (and fpdf2, ReportLab) have no font fallback of their own: `faces(locale)` gives the
order in which to try the faces, and `covers(path)` the characters each one has.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

FONT_DIR = Path(__file__).resolve().parents[1] / "content" / "fonts"
REGIONS = ("SC", "TC")
WEIGHTS = ("Regular", "Bold")
FAMILIES = {"SC": "Coach Sans SC", "TC": "Coach Sans TC"}
SYMBOL_FAMILY = "Coach Symbols"  # from DejaVu Sans
_REGION_OF_LOCALE = {"zh-Hans": "SC", "zh-Hant": "TC"}  # en: the Latin part of the SC face


def region_for(locale: str) -> str:
    """A content locale to the design that suits its readers: "TC" for zh-Hant, else "SC"."""
    return _REGION_OF_LOCALE.get(locale, "SC")


def font_path(region: str, weight: str = "Regular", directory: Path | None = None) -> Path:
    """The shipped file of one face, e.g. content/fonts/CoachSansTC-Bold.ttf.

    Raises KeyError for a region or weight that is not shipped."""
    if region not in FAMILIES or weight not in WEIGHTS:
        raise KeyError(f"no shipped font {region} {weight}")
    return (directory or FONT_DIR) / f"CoachSans{region}-{weight}.ttf"


def symbol_font_path(weight: str = "Regular", directory: Path | None = None) -> Path:
    """The shipped symbol face (Regular or Bold): the fallback for what the CJK design lacks.

    Raises KeyError for a weight that is not shipped."""
    if weight not in WEIGHTS:
        raise KeyError(f"no shipped symbol font {weight}")
    return (directory or FONT_DIR) / f"CoachSymbols-{weight}.ttf"


def faces(locale: str, weight: str = "Regular") -> tuple[Path, ...]:
    """The font files to draw text of `locale` with, first choice first: the locale's design,
    the other one (a name typed in the other script), then the symbols."""
    own = region_for(locale)
    other = next(r for r in REGIONS if r != own)
    return font_path(own, weight), font_path(other, weight), symbol_font_path(weight)


@lru_cache(maxsize=16)
def covers(path: Path) -> frozenset[int]:
    """The code points a font file has a glyph for (read once per process, ~20 ms a face).

    Raises FileNotFoundError (with what to run) when the file is missing."""
    from fontTools.ttLib import TTFont

    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `python -m bot fonts build`")
    font = TTFont(str(path), lazy=True)
    try:
        return frozenset(font.getBestCmap())
    finally:
        font.close()
