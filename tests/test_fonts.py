"""The fonts the project ships: they draw every character the content uses, and a Chinese chart
gets Chinese labels on a machine with no CJK font of its own."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
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


# Run in a fresh interpreter whose matplotlib font cache starts empty (MPLCONFIGDIR) and which
# drops every font the machine has: only matplotlib's own (DejaVu, STIX) and ours remain.
CHART_SCRIPT = r"""
import io, json, sys, warnings
from pathlib import Path

warnings.simplefilter("error")  # "Glyph ... missing from font(s) ..." becomes an exception
import matplotlib
matplotlib.use("Agg")
from matplotlib import font_manager, ft2font
from matplotlib.figure import Figure

own = Path(matplotlib.get_data_path()).resolve()
font_manager.fontManager.ttflist = [
    f for f in font_manager.fontManager.ttflist if Path(f.fname).resolve().is_relative_to(own)]

from bot import fonts
from bot.chart import radar_figure
from bot.content import load_content
from bot.content.render import Renderer
from bot.service import ChartData

content = load_content(render_check=False)
out = {}
for locale in sys.argv[1:]:
    r = Renderer(content, locale)
    chart = ChartData(
        labels=tuple(r.model(f"dimensions.{d}.short") for d in content.bank.dimensions),
        series=((str(r.message("chart_you")), (70, 55, 80, 40, 65, 60, 90, 45), "solid"),
                (str(r.message("chart_previous")), (60, 50, 70, 35, 50, 45, 75, 40), "dashed")),
        locale=locale)
    fig = radar_figure(chart)
    png = io.BytesIO()
    fig.savefig(png, format="png")  # Agg draws every glyph here
    ax = fig.axes[0]
    texts = list(ax.get_xticklabels()) + list(ax.get_legend().get_texts())
    drawn = {}
    for t in texts:
        path = font_manager.findfont(t.get_fontproperties(), fallback_to_default=False)
        face = ft2font.FT2Font(path)
        drawn[t.get_text()] = [Path(path).name,
                               "".join(c for c in t.get_text() if not face.get_char_index(ord(c)))]
    out[locale] = {"labels": [t.get_text() for t in ax.get_xticklabels()],
                   "legend": [t.get_text() for t in ax.get_legend().get_texts()],
                   "drawn": drawn, "png": png.getvalue()[:8].hex()}

fonts.register_matplotlib()
out["cjk_families"] = sorted({  # matplotlib's Last Resort draws a placeholder box: not CJK
    f.name for f in font_manager.fontManager.ttflist
    if ft2font.FT2Font(f.fname).get_char_index(ord("信")) and "Last Resort" not in f.name})
try:  # the check itself: a character no font has does fail the drawing
    fig = Figure()
    fig.text(0.5, 0.5, "\u9f98", fontfamily=fonts.families("zh-Hans"))
    fig.savefig(io.BytesIO(), format="png")
    out["control"] = "drawn without a warning"
except UserWarning as exc:
    out["control"] = str(exc)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def charts_without_system_fonts(tmp_path_factory):
    cache = tmp_path_factory.mktemp("mplconfig")  # empty: matplotlib builds its font list anew
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLCONFIGDIR": str(cache)}
    done = subprocess.run([sys.executable, "-c", CHART_SCRIPT, "zh-Hans", "zh-Hant", "en"],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=180)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def content():
    return load_content(render_check=False)


@pytest.mark.parametrize("locale, face", [("zh-Hans", "CoachSansSC-Regular.ttf"),
                                          ("zh-Hant", "CoachSansTC-Regular.ttf"),
                                          ("en", "CoachSansSC-Regular.ttf")])
def test_a_chart_has_its_locales_labels_with_no_system_font(charts_without_system_fonts,
                                                            content, locale, face):
    run = charts_without_system_fonts
    assert run["cjk_families"] == ["Coach Sans SC", "Coach Sans TC"], "no other CJK font"
    assert "missing from font" in run["control"]  # a missing glyph would have failed the run
    r = Renderer(content, locale)
    chart = run[locale]
    assert chart["png"] == "89504e470d0a1a0a"
    assert chart["labels"] == [r.model(f"dimensions.{d}.short")
                               for d in content.bank.dimensions]
    assert chart["legend"] == [r.message("chart_you"), r.message("chart_previous")]
    if locale != "en":  # the Chinese names themselves, not an English fallback
        assert all(any("\u4e00" <= c <= "\u9fff" for c in t) for t in chart["labels"])
    for text, (file, lacking) in chart["drawn"].items():
        assert (file, lacking) == (face, ""), text



def test_fonts_build_says_what_to_install_when_the_source_fonts_are_missing(tmp_path, capsys):
    from bot.__main__ import main

    before = {p.name: p.read_bytes() for p in (CONTENT_DIR / "fonts").iterdir()}
    assert main(["fonts", "build", "--source", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "NotoSansCJK-Regular.ttc not found" in err
    assert "apt-get install fonts-noto-cjk" in err and "--source DIR" in err
    assert {p.name: p.read_bytes() for p in (CONTENT_DIR / "fonts").iterdir()} == before
