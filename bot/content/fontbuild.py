"""Build content/fonts/ from Debian's Noto Sans CJK and DejaVu Sans:
``python -m bot fonts build [--source DIR] [--symbols DIR]``.

Build time only: it needs the .ttc files of the package fonts-noto-cjk and DejaVuSans.ttf of
fonts-dejavu-core (not the bot, not the tests). Each CJK face gets the characters that content/
uses and that the sample render produces (see content_texts), a base of Latin, punctuation and
symbols, and the common hanzi users type (the SC faces GB 2312 level 1, the TC faces the
traditional forms of those). The subset is
renamed "Coach Sans SC/TC", converted to TrueType outlines (fpdf2 and ReportLab embed TrueType;
text embedded from the CFF original is not extractable with pypdf) and written byte for byte
the same for the same input (the timestamps are the source font's). The symbol face ("Coach
Symbols", from DejaVu Sans) gets what the CJK design lacks: symbols, arrows and shapes, the Latin,
Greek and Cyrillic letters a cohort name may have, and every character of the content that
neither CJK face draws.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.fonts import (
    FAMILIES,
    REGIONS,
    SYMBOL_FAMILY,
    WEIGHTS,
    covers,
    font_path,
    region_for,
    symbol_font_path,
)

DEFAULT_SOURCE = Path("/usr/share/fonts/opentype/noto")
DEFAULT_SYMBOL_SOURCE = Path("/usr/share/fonts/truetype/dejavu")
SOURCE_FILES = {"Regular": "NotoSansCJK-Regular.ttc", "Bold": "NotoSansCJK-Bold.ttc"}
SYMBOL_FILES = {"Regular": "DejaVuSans.ttf", "Bold": "DejaVuSans-Bold.ttf"}
SOURCE_FAMILIES = {"SC": "Noto Sans CJK SC", "TC": "Noto Sans CJK TC"}
INSTALL_HINT = ("install Debian's fonts-noto-cjk (`apt-get install fonts-noto-cjk`, build time "
                "only) or pass --source DIR with NotoSansCJK-Regular.ttc and NotoSansCJK-Bold.ttc")
SYMBOL_HINT = ("install Debian's fonts-dejavu-core (`apt-get install fonts-dejavu-core`, build "
               "time only) or pass --symbols DIR with DejaVuSans.ttf and DejaVuSans-Bold.ttf")

# What every face carries besides content and hanzi (code point ranges, inclusive).
BASE_RANGES = (
    (0x0020, 0x007E),  # ASCII
    (0x00A0, 0x017F),  # Latin-1 and Latin Extended-A (names like Łódź, Dvořák)
    (0x2000, 0x206F),  # general punctuation: – — ‘ ’ “ ” • … ‰ ※
    (0x20A0, 0x20BF),  # currency: €
    (0x2100, 0x214F),  # letterlike: ℃ № ™
    (0x2190, 0x21FF),  # arrows
    (0x2200, 0x22FF),  # mathematical operators: − ≤ ≥ ≈ ≠
    (0x2580, 0x25FF),  # block elements and geometric shapes: █ ░ ▱ ▲ ▼ ■ □ ● ○
    (0x2600, 0x26FF),  # miscellaneous symbols: ★ ☆
    (0x2713, 0x2713),  # ✓
    (0x3000, 0x303F),  # CJK symbols and punctuation: 、。「」『』【】〜
    (0xFF01, 0xFF65),  # fullwidth forms: ，：；！？（）
    (0xFFE0, 0xFFE6),  # fullwidth currency: ￥
)
# What the symbol face carries besides the characters of the content the CJK faces lack.
SYMBOL_RANGES = (
    (0x0020, 0x007E),  # ASCII: spaces and digits between symbols keep the face's own metrics
    (0x00A0, 0x00FF),  # Latin-1: the PDF draws English text's · from here
    (0x0370, 0x03FF),  # Greek
    (0x0400, 0x04FF),  # Cyrillic
    (0x1E00, 0x1EFF),  # Latin Extended Additional (Vietnamese)
    (0x2000, 0x206F),  # general punctuation: the PDF draws English text's – — ‘ ’ “ ” … here
    (0x2190, 0x21FF),  # arrows
    (0x2500, 0x25FF),  # box drawing, block elements, geometric shapes: ▰ ▱ ▸
    (0x2600, 0x26FF),  # miscellaneous symbols: ☐ ☑ ☕
    (0x2700, 0x27BF),  # dingbats: ✓ ✔ ✗
)
GB2312_LEVEL1_ROWS = range(0xB0, 0xD8)  # 3,755 hanzi by frequency; level 2 (3,008) is rare


class FontSourceMissing(Exception):
    """The Noto Sans CJK collections are not where the build looks; the message says why."""


@dataclass(frozen=True)
class Built:
    path: Path
    size: int  # bytes
    glyphs: int
    characters: int  # code points in the cmap
    hanzi: int  # of which CJK ideographs


def gb2312_level1() -> list[str]:
    """The 3,755 level-1 hanzi of GB 2312 (the most frequent simplified characters)."""
    out = []
    for hi in GB2312_LEVEL1_ROWS:
        for lo in range(0xA1, 0xFF):
            try:
                out.append(bytes((hi, lo)).decode("gb2312"))
            except UnicodeDecodeError:  # the row's unassigned cells
                pass
    return out


def traditional_forms(chars: list[str]) -> set[str]:
    """Every traditional form of each simplified character, Taiwan variants included
    (发 -> 發 髮; 干 -> 幹 乾 干), from OpenCC's character table."""
    import opencc

    table = Path(opencc.__file__).parent / "dictionary" / "STCharacters.txt"
    candidates: dict[str, list[str]] = {}
    if table.is_file():
        for line in table.read_text(encoding="utf-8").splitlines():
            key, _, values = line.partition("\t")
            candidates[key] = values.split()
    s2twp, t2tw = opencc.OpenCC("s2twp"), opencc.OpenCC("t2tw")
    out: set[str] = set()
    for c in chars:
        for form in candidates.get(c, []) + [s2twp.convert(c)]:
            out.update(form)
            out.update(t2tw.convert(form))
    return out


def content_texts(content_dir: Path) -> Iterator[tuple[str, tuple[str, ...], str]]:
    """(label, regions, text) for every text file in content/ (but articles/ and fonts/) and
    every sample render of every locale. A file under locales/<locale>/ and a render in a locale
    are drawn with that locale's face; every other file (bank, templates) with both.

    Raises ContentError when the content does not load."""
    from bot.content import load_content
    from bot.content.render import Sample, render_samples

    for path in sorted(content_dir.rglob("*")):
        rel = path.relative_to(content_dir)
        if not path.is_file() or rel.parts[0] in ("articles", "fonts"):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # an image
            continue
        if rel.name == "lint.yaml":
            continue  # words the check forbids: never shown to anyone
        if rel.parts[0] == "locales" and len(rel.parts) > 2:
            regions: tuple[str, ...] = (region_for(rel.parts[1]),)
        elif rel.parts[0] == "archive" and len(rel.parts) > 4 and rel.parts[2] == "locales":
            regions = (region_for(rel.parts[3]),)  # archive/<version>/locales/<locale>/...
        elif rel.name == "zh-Hant-overrides.yaml":
            regions = (region_for("zh-Hant"),)
        else:
            regions = REGIONS
        yield f"content/{rel.as_posix()}", regions, text
    for sample in render_samples(load_content(content_dir, render_check=False)):
        if isinstance(sample, Sample):
            yield (f"sample render {sample.locale}: {sample.where}",
                   (region_for(sample.locale),), sample.text)


def charsets(content_dir: Path) -> dict[str, set[int]]:
    """The code points each region's faces ("SC", "TC") and the symbol face ("symbols") are
    asked for (each font keeps those it has)."""
    base = {cp for lo, hi in BASE_RANGES for cp in range(lo, hi + 1)}
    level1 = gb2312_level1()
    common = {"SC": set(level1), "TC": traditional_forms(level1)}
    out = {r: base | {ord(c) for c in common[r]} for r in REGIONS}
    out["symbols"] = {cp for lo, hi in SYMBOL_RANGES for cp in range(lo, hi + 1)}
    for _, regions, text in content_texts(content_dir):
        for r in regions:
            out[r].update(ord(c) for c in text)
        out["symbols"].update(ord(c) for c in text if not is_hanzi(ord(c)))
    return out


def _source_font(source_dir: Path, region: str, weight: str):
    from fontTools.ttLib import TTCollection, TTFont

    path = source_dir / SOURCE_FILES[weight]
    if not path.is_file():
        raise FontSourceMissing(f"{path} not found: {INSTALL_HINT}")
    collection = TTCollection(str(path), lazy=True)
    for number, face in enumerate(collection.fonts):
        if face["name"].getDebugName(1) == SOURCE_FAMILIES[region]:
            collection.close()
            return TTFont(str(path), fontNumber=number, recalcTimestamp=False)
    raise FontSourceMissing(f"{path} has no {SOURCE_FAMILIES[region]}: {INSTALL_HINT}")


def _rename(font, family: str, weight: str) -> None:
    """Our family name (a full Noto or DejaVu on the machine must not be mistaken for the
    subset), the copyright, licence and designer records kept as they are."""
    name = font["name"]
    postscript = f"{family.replace(' ', '')}-{weight}"
    source = name.getDebugName(4)
    version = name.getDebugName(5) or ""
    records = {
        1: family,
        2: weight,
        3: f"{version.removeprefix('Version ').split(';')[0]};COACH;{postscript}",
        4: family if weight == "Regular" else f"{family} {weight}",
        6: postscript,
        10: f"A subset of {source} ({version.split(';')[0]}) made for the Trust & CX coach "
            f"by `python -m bot fonts build`. {name.getDebugName(10) or ''}".strip(),
    }
    for name_id in (16, 17, 21, 22):  # typographic names would repeat the source's
        name.removeNames(nameID=name_id)
    for name_id, text in records.items():
        name.setName(text, name_id, 3, 1, 0x409)


def _to_truetype(font, max_err: float = 1.0) -> None:
    """CFF (cubic) outlines to glyf (quadratic), within max_err font units (of 1000/em)."""
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import newTable

    order = font.getGlyphOrder()
    glyphs = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = {}
    for name in order:
        pen = TTGlyphPen(glyphs)
        # PostScript contours run counter-clockwise, TrueType ones clockwise
        glyphs[name].draw(Cu2QuPen(pen, max_err, reverse_direction=True))
        glyf[name] = pen.glyph()
    font["loca"] = newTable("loca")
    font["glyf"] = glyf
    maxp = newTable("maxp")
    maxp.tableVersion = 0x00010000
    maxp.maxZones = 1
    for field in ("maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                  "maxStackElements", "maxSizeOfInstructions", "maxComponentElements",
                  "maxComponentDepth"):
        setattr(maxp, field, 0)
    font["maxp"] = maxp  # numGlyphs and the point counts are computed when saved
    font["post"].formatType = 3.0  # no glyph names: the cmap is what every reader uses
    del font["CFF "]
    font["head"].glyphDataFormat = 0
    font.sfntVersion = "\x00\x01\x00\x00"


def build_face(source_dir: Path, region: str, weight: str, codepoints: set[int]) -> bytes:
    """One subset as TrueType bytes. Raises FontSourceMissing."""
    from fontTools import subset

    font = _source_font(source_dir, region, weight)
    options = subset.Options()
    options.name_IDs = ["*"]  # keep copyright (0), trademark (7), designers, licence (13, 14)
    options.name_languages = [0x409]
    options.notdef_outline = True
    options.hinting = False  # CFF hints do not survive the conversion anyway
    options.layout_features = ["kern"]  # no locl/vert: they pull in Japanese and vertical forms
    options.drop_tables += ["VORG", "vhea", "vmtx", "BASE"]  # horizontal text only
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(codepoints))
    subsetter.subset(font)
    _rename(font, FAMILIES[region], weight)
    _to_truetype(font)
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def build_symbol_face(symbol_dir: Path, weight: str, codepoints: set[int]) -> bytes:
    """The symbol face (a subset of DejaVu Sans, TrueType already) as bytes.
    Raises FontSourceMissing."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    path = symbol_dir / SYMBOL_FILES[weight]
    if not path.is_file():
        raise FontSourceMissing(f"{path} not found: {SYMBOL_HINT}")
    font = TTFont(str(path), recalcTimestamp=False)
    options = subset.Options()
    options.name_IDs = ["*"]
    options.name_languages = [0x409]
    options.notdef_outline = True
    options.hinting = False  # drawn at display sizes, antialiased: hints are not worth the bytes
    options.layout_features = ["kern"]
    options.drop_tables += ["FFTM"]  # FontForge's timestamps
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(codepoints))
    subsetter.subset(font)
    _rename(font, SYMBOL_FAMILY, weight)
    font["post"].formatType = 3.0
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def build(source_dir: Path, content_dir: Path,
          symbol_dir: Path = DEFAULT_SYMBOL_SOURCE) -> list[Built]:
    """Write every face to content_dir/fonts/. Raises FontSourceMissing before writing any."""
    from fontTools.ttLib import TTFont

    for weight in WEIGHTS:
        if not (source_dir / SOURCE_FILES[weight]).is_file():
            raise FontSourceMissing(
                f"{source_dir / SOURCE_FILES[weight]} not found: {INSTALL_HINT}")
        if not (symbol_dir / SYMBOL_FILES[weight]).is_file():
            raise FontSourceMissing(
                f"{symbol_dir / SYMBOL_FILES[weight]} not found: {SYMBOL_HINT}")
    wanted = charsets(content_dir)
    out_dir = content_dir / "fonts"
    out_dir.mkdir(exist_ok=True)
    faces = [(font_path(region, weight, out_dir),
              lambda region=region, weight=weight: build_face(source_dir, region, weight,
                                                                wanted[region]))
             for region in REGIONS for weight in WEIGHTS]
    faces += [(symbol_font_path(weight, out_dir),
               lambda weight=weight: build_symbol_face(symbol_dir, weight, wanted["symbols"]))
              for weight in WEIGHTS]
    built = []
    for path, make in faces:
        data = make()
        path.write_bytes(data)
        font = TTFont(io.BytesIO(data), lazy=True)
        cmap = font.getBestCmap()
        built.append(Built(path, len(data), len(font.getGlyphOrder()), len(cmap),
                           sum(1 for cp in cmap if is_hanzi(cp))))
    covers.cache_clear()  # the files just written, not what this process read before
    return built


def is_hanzi(cp: int) -> bool:
    """A CJK unified ideograph (basic block or extension A)."""
    return 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF


def missing_glyphs(content_dir: Path, font_dir: Path | None = None) -> dict[str, str]:
    """{label: the characters no font draws} over every content text (content_texts); empty
    when all is well. A character is drawn when both faces (Regular, Bold) of the text's region
    have it, or both symbol faces do (the fallback for symbols). Emoji are drawn by the reader's
    Telegram app and variation selectors by nobody: neither is asked for.

    Raises FileNotFoundError for a missing font file, ContentError for broken content."""
    import emoji  # a dev dependency: the check runs in tests and at build time

    symbols = frozenset.intersection(*(covers(symbol_font_path(w, font_dir)) for w in WEIGHTS))
    drawn = {r: frozenset.intersection(*(covers(font_path(r, w, font_dir)) for w in WEIGHTS))
             | symbols for r in REGIONS}
    missing: dict[str, str] = {}
    for label, regions, text in content_texts(content_dir):
        lacking = {c for c in set(text) for r in regions
                   if ord(c) not in drawn[r] and c not in "\n\r\t"
                   and not 0xFE00 <= ord(c) <= 0xFE0F and not emoji.is_emoji(c)}
        if lacking:
            missing[label] = "".join(sorted(lacking))
    return missing
