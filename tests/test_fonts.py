"""The fonts the project ships: they draw every character the content uses, and a chart draws
its words with them (never a font of the machine's)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont

from bot import fonts
from bot.content import load_content
from bot.content.fontbuild import missing_glyphs
from bot.content.render import Renderer

ROOT = Path(__file__).resolve().parents[1]
CONTENT_DIR = ROOT / "content"


def test_the_shipped_fonts_draw_every_character_the_content_uses():
    missing = missing_glyphs(CONTENT_DIR)
    assert not missing, (
        "characters the shipped fonts lack (run `uv run python -m bot fonts build`, "
        "which needs fonts-noto-cjk):\n" + "\n".join(f"  {k}: {v}" for k, v in missing.items()))


def test_a_character_the_fonts_lack_is_reported_with_its_file(tmp_path):
    rare = "龘"  # in no common-character list: not in the subset
    assert ord(rare) not in TTFont(str(fonts.font_path("TC")), lazy=True).getBestCmap()
    content = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, content, ignore=shutil.ignore_patterns("articles", "fonts"))
    model = content / "locales" / "zh-Hant" / "model.yaml"
    text = model.read_text(encoding="utf-8")
    assert "name: 誠信" in text
    model.write_text(text.replace("name: 誠信", f"name: 誠信{rare}", 1), encoding="utf-8")

    missing = missing_glyphs(content)

    assert missing["content/locales/zh-Hant/model.yaml"] == rare
    assert any(k.startswith("sample render zh-Hant") and v == rare for k, v in missing.items())
    assert not any("zh-Hans" in k or " en:" in k for k in missing)  # emoji are not asked for


@pytest.fixture(scope="module")
def content():
    return load_content(render_check=False)


@pytest.mark.parametrize("locale, face", [("zh-Hans", "CoachSansSC-Regular.ttf"),
                                          ("zh-Hant", "CoachSansTC-Regular.ttf"),
                                          ("en", "CoachSansSC-Regular.ttf")])
def test_a_chart_draws_its_locales_labels_with_the_shipped_fonts(content, locale, face):
    """Pillow opens font files by path: the shipped ones, never the machine's. Every label
    and legend entry is drawn whole by the locale's own design."""
    from PIL import Image

    from bot import draw
    from bot.chart import render_radar
    from bot.service import ChartData

    r = Renderer(content, locale)
    labels = tuple(r.model(f"dimensions.{d}.short") for d in content.bank.dimensions)
    legend = (str(r.message("chart_you")), str(r.message("chart_previous")))
    for text in (*labels, *legend):
        pieces = draw.runs(text, locale)
        assert "".join(piece for _, piece in pieces) == text, "a character was dropped"
        assert {path.name for path, _ in pieces} == {face}, text
        assert all(path.parent == fonts.FONT_DIR for path, _ in pieces)
    if locale != "en":  # the Chinese names themselves, not an English fallback
        assert all(any("\u4e00" <= c <= "\u9fff" for c in t) for t in labels)
    png = render_radar(ChartData(labels, ((legend[0], (70, 55, 80, 40, 65, 60, 90, 45), "solid"),
                                          (legend[1], (60, 50, 70, 35, 50, 45, 75, 40),
                                           "dashed")), locale))
    assert Image.open(io.BytesIO(png)).size == (1080, 1080)


def test_symbols_come_from_the_symbol_face_and_what_no_face_has_is_left_out():
    from bot import draw

    pieces = draw.runs("☑ 诚信 ▰ 傳 Ж", "zh-Hans")
    faces = [(path.name, piece) for path, piece in pieces]
    assert faces[0] == ("CoachSymbols-Regular.ttf", "☑ ")
    assert ("CoachSansSC-Regular.ttf", "诚信 ") in faces
    assert ("CoachSansTC-Regular.ttf", "傳 ") in faces  # SC has no 傳: the other design
    assert faces[-1] == ("CoachSymbols-Regular.ttf", "Ж")
    assert "".join(p for _, p in draw.runs("A\u9f98🎉B", "en")) == "AB"  # no box, no tofu


def test_fonts_build_says_what_to_install_when_the_source_fonts_are_missing(tmp_path, capsys):
    from bot.__main__ import main

    before = {p.name: p.read_bytes() for p in (CONTENT_DIR / "fonts").iterdir()}
    assert main(["fonts", "build", "--source", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "NotoSansCJK-Regular.ttc not found" in err
    assert "apt-get install fonts-noto-cjk" in err and "--source DIR" in err
    assert {p.name: p.read_bytes() for p in (CONTENT_DIR / "fonts").iterdir()} == before
