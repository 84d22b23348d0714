"""The full report as a PDF: it opens, shows the score and the chart, keeps Chinese text
extractable in the reader's font design, ends with the sources, breaks lines and pages the way a
reader expects, and the "📄 Full report" button sends it through the real Application."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from functools import cache

import pytest
from pypdf import PdfReader

from bot.content import LOCALES
from bot.content.document import ReportDocument
from bot.content.pdf import NO_LINE_END, NO_LINE_START, _Layout, _Style, break_units, wrap
from bot.content.render import Renderer, sample_answers
from bot.domain.scoring import score
from bot.report_pdf import render
from bot.service import ChartData
from tests.helpers_domain import real_content

from .fakes import buttons
from .test_conversation import answer_context

CONTENT = real_content()
BANK = CONTENT.bank
# A café with staff, in person and on marketplaces: most items apply, one is "not sure".
CONTEXT = {"sector": ("cafe",), "team": ("t2_5",), "channels": ("in_person", "marketplace"),
           "priorities": ("integrity", "customer_perspective")}
FONT_OF = {"en": "CoachSansSC", "zh-Hans": "CoachSansSC", "zh-Hant": "CoachSansTC"}
FOOTER_TOP_PT = 20 / 25.4 * 72  # the bottom margin (mm) in points: the page number lives below


@cache
def rendered(locale: str) -> tuple[ReportDocument, bytes]:
    r = Renderer(CONTENT, locale)
    answers = sample_answers(BANK, "full", business=r.business(CONTEXT))
    result = score(BANK, "full", answers, CONTEXT)
    doc = r.report_document(result, "full", answers, CONTEXT, datetime(2026, 11, 30, tzinfo=UTC))
    chart = ChartData(labels=tuple(r.model(f"dimensions.{d}.short") for d in BANK.dimensions),
                      series=(("you", tuple(float(result.dimensions[d] or 0)
                                            for d in BANK.dimensions), "solid"),),
                      locale=locale)
    return doc, render(doc, chart)


def text_of(page) -> str:
    return page.extract_text().replace("\n", "")


def fonts_of(reader: PdfReader) -> set[str]:
    names = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            names.add(str(font.get_object()["/BaseFont"]).split("+")[-1])
    return names


@pytest.mark.parametrize("locale", LOCALES)
def test_the_pdf_opens_with_the_score_the_chart_and_the_sources_at_the_end(locale):
    doc, pdf = rendered(locale)
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    assert 4 <= len(reader.pages) <= 8
    for page in reader.pages:  # A4 portrait: 595 x 842 pt
        assert round(float(page.mediabox.width)) == 595
        assert round(float(page.mediabox.height)) == 842
    cover = text_of(reader.pages[0])
    assert f"{doc.overall}{doc.out_of}" in cover.replace(" ", "")
    for words in (doc.level, doc.level_meaning, *(i.name for i in doc.indices),
                  *(answer for _, answer in doc.business)):
        assert words in cover
    images = [x.get_object() for x in reader.pages[0]["/Resources"]["/XObject"].values()]
    chart = next(x for x in images if x["/Subtype"] == "/Image")
    assert chart["/Width"] >= 1000, "the radar chart is sharp enough to print"
    last = text_of(reader.pages[-1])
    assert doc.sources[-1] in last, "the sources are at the end"
    assert doc.sources_title not in "".join(text_of(p) for p in reader.pages[:2])
    assert f"1 / {len(reader.pages)}" in cover.replace("\u00a0", " ")


@pytest.mark.parametrize("locale", ["zh-Hans", "zh-Hant"])
def test_chinese_text_is_extractable_in_the_readers_font_design(locale):
    doc, pdf = rendered(locale)
    reader = PdfReader(io.BytesIO(pdf))
    text = "".join(text_of(p) for p in reader.pages)
    for section in doc.sections:
        assert section.name in text and section.blurb in text
        for row in section.rows:
            assert row.question in text
    for phase in doc.phases:
        for action in phase.actions:  # long paragraphs, broken over several lines
            assert action.title in text and action.first_step in text
    embedded = fonts_of(reader)
    own = FONT_OF[locale]
    other = "CoachSansTC" if own == "CoachSansSC" else "CoachSansSC"
    assert any(name.startswith(own) for name in embedded), embedded
    assert not any(name.startswith(other) for name in embedded), embedded
    if locale == "zh-Hant":
        assert "誠信" in text and "诚信" not in text


def test_english_text_is_extractable_and_its_quotes_are_not_full_width():
    doc, pdf = rendered("en")
    reader = PdfReader(io.BytesIO(pdf))
    text = "".join(text_of(p) for p in reader.pages)
    assert doc.dimensions_intro.replace(" ", "") in text.replace(" ", "")
    # “ ” come from the symbol face (DejaVu Sans): the CJK face sets them full-width, which
    # looks like a gap after every quote in English.
    assert any(name.startswith("CoachSymbols") for name in fonts_of(reader))


def headings(doc: ReportDocument) -> set[str]:
    """Headings and the lines that introduce what follows them."""
    found = {doc.dimensions_title, doc.plan_title, doc.sources_title}
    found |= {s.name for s in doc.sections} | {p.title for p in doc.phases}
    found |= {p.intro for p in doc.phases} | {doc.dimensions_intro, doc.plan_intro,
                                               doc.sources_intro}
    found |= set(doc.labels.values())  # the answers' column heads
    return found


@pytest.mark.parametrize("locale", LOCALES)
def test_no_page_ends_with_a_heading_and_no_text_leaves_the_margins(locale):
    doc, pdf = rendered(locale)
    reader = PdfReader(io.BytesIO(pdf))
    titles = headings(doc)
    for number, page in enumerate(reader.pages, start=1):
        shown: list[tuple[float, float, str]] = []

        def visit(text, cm, tm, font, size, shown=shown):
            if text.strip():
                shown.append((tm[4] * cm[0] + cm[4], tm[5] * cm[3] + cm[5], text.strip()))
        page.extract_text(visitor_text=visit)
        body = [(x, y, t) for x, y, t in shown if y > FOOTER_TOP_PT]
        assert body, f"page {number} is empty"
        for x, _, t in body:
            assert 17 / 25.4 * 72 - 1 <= x <= 595 - 17 / 25.4 * 72, (number, t)
        lowest = min(body, key=lambda s: s[1])[2]
        if number < len(reader.pages):  # (an intro's last line is a part of it)
            assert not any(lowest == t or (len(lowest) >= 8 and lowest in t) for t in titles), \
                f"page {number} ends with the heading or intro {lowest!r}"


@pytest.mark.parametrize("locale", LOCALES)
def test_lines_break_where_a_reader_expects(locale):
    """Every text of the report, wrapped narrow with the real font metrics: no line is too
    wide, none starts with closing or ends with opening punctuation, no word is split."""
    doc, _ = rendered(locale)
    layout = _Layout(doc, doc.layout)
    measure = layout.measure(_Style(10))
    texts = [s.blurb for s in doc.sections] + list(doc.sources) + [
        t for p in doc.phases for a in p.actions for t in (a.what, a.first_step, a.metric)]
    width = 55.0
    for text in texts:
        lines = wrap(text, width, measure)
        assert "".join(lines).replace(" ", "") == text.replace(" ", "")
        for line in lines:
            assert measure(line) <= width + 0.01, line
        for before, after in zip(lines, lines[1:], strict=False):
            assert after[0] not in NO_LINE_START, (before, after)
            assert before[-1] not in NO_LINE_END, (before, after)
        words = [w for line in lines for w in line.split() if not _has_cjk(w)]
        assert words == [w for w in text.split() if not _has_cjk(w)]  # Latin words whole


def _has_cjk(word: str) -> bool:
    return any(ord(ch) >= 0x2E80 for ch in word)


def test_break_units_keep_punctuation_with_its_character_and_latin_words_whole():
    assert break_units("最近 10 位客人，是否「每一位」都知道？") == [
        "最", "近", " ", "10", " ", "位", "客", "人，", "是", "否", "「每", "一", "位」", "都",
        "知", "道？"]
    assert break_units("Say “not sure”, then 30/60/90-day.") == [
        "Say", " ", "“not", " ", "sure”,", " ", "then", " ", "30/60/90-day."]
    long = "https://example.org/" + "a" * 80
    assert all(len(line) < len(long) for line in wrap(long, 30, lambda s: len(s) * 1.0))


# --- through the bot -----------------------------------------------------------------------
async def _timed(work) -> tuple[float, float]:
    """How long `work` took, and the event loop's longest stall meanwhile (seconds)."""
    import asyncio
    import time

    worst, done = 0.0, False

    async def tick() -> None:
        nonlocal worst
        while not done:
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            worst = max(worst, time.perf_counter() - before - 0.005)

    ticker = asyncio.create_task(tick())
    started = time.perf_counter()
    await work
    took = time.perf_counter() - started
    done = True
    await ticker
    return took, worst


async def test_the_full_report_button_sends_a_pdf_in_the_readers_language(person, telegram):
    p = person()
    await p.send("/start")
    await p.tap("Quick check")
    await answer_context(p)
    for _ in range(8):
        await p.tap(1)  # the second option: score 1 of 4, overall 25
    took, stalled = await _timed(p.tap("Full report"))
    # The layout runs in the chart process: the loop answers others meanwhile.
    assert stalled < took / 2, f"the loop stalled {stalled:.3f} s of {took:.3f} s"
    action = telegram.called("sendChatAction")[-1]
    sent = telegram.called("sendDocument")[-1]
    assert action.params["action"] == "upload_document"
    assert telegram.calls.index(action) < telegram.calls.index(sent)
    name, body = sent.files["document"][:2]
    assert name.startswith("trust-cx-report-") and name.endswith(".pdf")
    assert "PDF" in sent.params["caption"]
    reader = PdfReader(io.BytesIO(body))
    assert "25/100" in text_of(reader.pages[0]).replace(" ", "")
    assert "Quick check" in text_of(reader.pages[0])

    await p.press("lang:zh-Hans")  # the same report's button, tapped after switching language
    report = next(m for m in reversed(telegram.chat(p.id))
                  if m.reply_markup and any(d.startswith("doc:") for _, d in buttons(m)))
    await p.press(next(d for _, d in buttons(report) if d.startswith("doc:")),
                  report.message_id)
    zh = telegram.called("sendDocument")[-1]
    name, body = zh.files["document"][:2]
    assert name.startswith("客户信任与体验报告-") and name.endswith(".pdf")
    first = text_of(PdfReader(io.BytesIO(body)).pages[0])
    assert "客户信任与客户体验报告" in first and "快速自查" in first


def test_a_broken_layout_file_is_named_with_its_missing_key(tmp_path):
    from bot.content.pdf import LAYOUT_FILE, load_layout

    source = (CONTENT.directory / LAYOUT_FILE).read_text(encoding="utf-8")
    (tmp_path / "templates").mkdir()
    (tmp_path / LAYOUT_FILE).write_text(source.replace("  dpi: 190", ""), encoding="utf-8")
    with pytest.raises(ValueError, match=r"report-pdf\.yaml: chart\.dpi is missing"):
        load_layout(tmp_path)
