"""The fonts the project ships and how charts use them.

`content/fonts/` holds subsets of Noto Sans CJK (SIL OFL 1.1), renamed so that they never clash
with a full Noto installed on the machine: "Coach Sans SC" (the mainland design: simplified
characters) and "Coach Sans TC" (the Taiwan design: traditional characters, centred ，。),
each Regular and Bold, TrueType outlines. `python -m bot fonts build` regenerates them.

Symbols the CJK design lacks (▰ ▸ ☐ ☑) come from DejaVu Sans, which matplotlib itself ships;
emoji are drawn by the reader's Telegram app and are in no font here.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from importlib import resources
from pathlib import Path

FONT_DIR = Path(__file__).resolve().parents[1] / "content" / "fonts"
REGIONS = ("SC", "TC")
WEIGHTS = ("Regular", "Bold")
FAMILIES = {"SC": "Coach Sans SC", "TC": "Coach Sans TC"}
SYMBOL_FAMILY = "DejaVu Sans"  # in matplotlib's own data: present wherever matplotlib is
_REGION_OF_LOCALE = {"zh-Hans": "SC", "zh-Hant": "TC"}  # en: the Latin part of the SC face
_LOCK = threading.Lock()


def region_for(locale: str) -> str:
    """A content locale to the design that suits its readers: "TC" for zh-Hant, else "SC"."""
    return _REGION_OF_LOCALE.get(locale, "SC")


def font_path(region: str, weight: str = "Regular", directory: Path | None = None) -> Path:
    """The shipped file of one face, e.g. content/fonts/CoachSansTC-Bold.ttf.

    Raises KeyError for a region or weight that is not shipped."""
    if region not in FAMILIES or weight not in WEIGHTS:
        raise KeyError(f"no shipped font {region} {weight}")
    return (directory or FONT_DIR) / f"CoachSans{region}-{weight}.ttf"


def symbol_font_path(weight: str = "Regular") -> Path:
    """matplotlib's DejaVu Sans (or Bold): the fallback for symbols the CJK design lacks."""
    name = "DejaVuSans.ttf" if weight == "Regular" else "DejaVuSans-Bold.ttf"
    return Path(str(resources.files("matplotlib") / "mpl-data" / "fonts" / "ttf" / name))


def families(locale: str) -> list[str]:
    """matplotlib's font family list for a chart in `locale`, first choice first: the locale's
    design, then the other one (a name typed in the other script), then the symbols."""
    own = region_for(locale)
    other = next(r for r in REGIONS if r != own)
    return [FAMILIES[own], FAMILIES[other], SYMBOL_FAMILY]


def register_matplotlib() -> None:
    """Add the shipped faces to matplotlib's font list (once per process; thread-safe).

    Raises FileNotFoundError when content/fonts is incomplete."""
    with _LOCK:
        _register()


@lru_cache(maxsize=1)
def _register() -> None:
    from matplotlib import font_manager

    for region in REGIONS:
        for weight in WEIGHTS:
            path = font_path(region, weight)
            if not path.is_file():
                raise FileNotFoundError(f"{path} is missing: run `python -m bot fonts build`")
            font_manager.fontManager.addfont(str(path))
