"""The full report as an A4 PDF: the cover (business, score, level, indices, radar chart), one
section per dimension, the 30/60/90-day plan and the sources, with page numbers.

Laid out here with fpdf2 (pure Python: TrueType subsets embedded, so the text stays
extractable and searchable); the words come from a ReportDocument (bot/content/document.py),
the sizes and colours from content/templates/report-pdf.yaml. Pure of Telegram: render_pdf
takes the document and the chart's PNG and returns bytes. CPU-bound (~0.3-0.6 s): adapters run
it off the event loop (bot/report_pdf.py).

Lines are broken here, not by fpdf2: Chinese may break between any two characters, except
before closing punctuation (，。、」…) or after opening punctuation (「《“), and Latin words
and numbers are never split, so mixed lines such as "最近 10 位客人" break cleanly.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot import fonts

from .document import DimensionSection, PlanStep, ReportDocument

PT = 25.4 / 72  # mm per point

# Characters that may not begin a line (closing punctuation, CJK small marks) and that may
# not end one (opening punctuation): the usual kinsoku rules for Chinese, and English quotes.
NO_LINE_START = set("，。、；：！？）」』》〉】〕｝］”’…‥·・,.;:!?)]}%％‰°℃—–～〜")
NO_LINE_END = set("（「『《〈【〔｛［“‘([{$￥¥")


# What the CJK face draws in an English document: all but the punctuation it sets full-width
# (U+00B7 and U+2010-U+2027); Chinese quoted in a source stays in the CJK face.
LATIN_TEXT_RANGES = [(0x0020, 0x00B6), (0x00B8, 0x200F), (0x2028, 0x2FFF), (0x3000, 0x9FFF),
                     (0xFF00, 0xFFEF)]


def _is_cjk(ch: str) -> bool:
    """A character after which a line may break: ideographs, kana and CJK punctuation."""
    code = ord(ch)
    return (0x2E80 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF or 0xFE30 <= code <= 0xFE4F
            or 0xFF00 <= code <= 0xFFEF or 0x20000 <= code <= 0x3FFFF)


def break_units(text: str) -> list[str]:
    """`text` cut where a line may break: each piece is a Latin word or number (with its
    punctuation), a single CJK character (with punctuation that must stay beside it), or a
    space. Joined, the pieces give `text` back."""
    raw: list[str] = []
    word = ""
    for ch in text:
        if ch.isspace() or _is_cjk(ch):
            if word:
                raw.append(word)
                word = ""
            raw.append(" " if ch.isspace() else ch)
        else:
            word += ch
    if word:
        raw.append(word)
    units: list[str] = []
    for unit in raw:
        glue_back = units and unit != " " and units[-1] != " " and (
            unit[0] in NO_LINE_START or units[-1][-1] in NO_LINE_END)
        if glue_back:
            units[-1] += unit
        else:
            units.append(unit)
    return units


def wrap(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """`text` as lines no wider than `width` (in `measure`'s unit), broken only where
    break_units allows; a piece wider than a whole line (a long URL) is cut by characters.
    Newlines in `text` start new lines. Spaces at a break are dropped."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line, used = "", 0.0
        for unit in break_units(paragraph):
            w = measure(unit)
            if unit == " ":
                if line:
                    line, used = line + unit, used + w
                continue
            if line and used + w > width:
                lines.append(line.rstrip())
                line, used = "", 0.0
            if w > width:  # no break opportunity inside: cut it where it overflows
                for ch in unit:
                    cw = measure(ch)
                    if line and used + cw > width:
                        lines.append(line)
                        line, used = "", 0.0
                    line, used = line + ch, used + cw
                continue
            line, used = line + unit, used + w
        lines.append(line.rstrip())
    return lines


# --- the layout file ---------------------------------------------------------------------------
LAYOUT_FILE = Path("templates") / "report-pdf.yaml"
_REQUIRED = {"page": ("format", "margins", "footer_offset"),
             "font_size": ("title", "subtitle", "score", "out_of", "level", "h2", "h3", "body",
                           "small", "footer"),
             "chart": ("width", "size_inches", "dpi"), "columns": ("answer", "points"),
             "colors": ("text", "muted", "accent", "rule", "panel", "track"),
             "levels": ("none",)}


@lru_cache(maxsize=4)
def load_layout(content_dir: Path) -> dict[str, Any]:
    """content/templates/report-pdf.yaml as a dict. Raises ValueError naming the file and
    the missing key, OSError when it can not be read."""
    path = Path(content_dir) / LAYOUT_FILE
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping")
    for section, keys in _REQUIRED.items():
        for key in keys:
            if not isinstance(data.get(section), dict) or key not in data[section]:
                raise ValueError(f"{path}: {section}.{key} is missing")
    if "line_height" not in data:
        raise ValueError(f"{path}: line_height is missing")
    return data


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


# --- rows and blocks: measured first, then placed on pages -------------------------------------
@dataclass
class Row:
    """One horizontal strip of a page: its height (mm) and how to draw it at a given top."""
    height: float
    draw: Callable[[float], None]


@dataclass
class Block:
    rows: list[Row]
    keep: bool = False  # on one page when it fits on one
    keep_with_next: bool = False  # a heading: never the last thing on a page
    space_before: float = 0.0  # dropped at the top of a page
    new_page: bool = False

    @property
    def height(self) -> float:
        return sum(r.height for r in self.rows)

    def start_height(self) -> float:
        """What must fit for the block to start on a page: all of it, or two rows."""
        return self.height if self.keep else sum(r.height for r in self.rows[:2])


@dataclass
class _Style:
    size: float
    bold: bool = False
    colour: str = "text"


class _Layout:
    """Turns a ReportDocument into pages. One per document (fpdf2 documents are not shared)."""

    def __init__(self, doc: ReportDocument, layout: dict[str, Any]):
        from fpdf import FPDF

        self.doc, self.layout = doc, layout
        page = layout["page"]
        m = page["margins"]
        pdf = FPDF(orientation="portrait", unit="mm", format=page["format"])
        pdf.set_margins(m["left"], m["top"], m["right"])
        pdf.set_auto_page_break(False)  # pages break here, between rows
        pdf.c_margin = 0  # cells draw text at their left edge: widths here are the text's
        region = fonts.region_for(doc.locale)
        # The CJK faces draw “ ” ‘ ’ · – — … full-width, as Chinese sets them; English text
        # takes those from DejaVu Sans (the fallback), and everything else from the CJK face.
        latin = LATIN_TEXT_RANGES if doc.locale == "en" else None
        for weight, style in (("Regular", ""), ("Bold", "B")):
            pdf.add_font("coach", style, str(fonts.font_path(region, weight)),
                         unicode_range=latin)
            pdf.add_font("symbols", style, str(fonts.symbol_font_path(weight)))
        pdf.set_fallback_fonts(["symbols"])
        pdf.set_lang(doc.locale)
        pdf.set_title(doc.title)
        pdf.set_creator("Trust & CX coach")
        pdf.set_display_mode("fullwidth", "continuous")
        self.pdf = pdf
        self.left, self.top = m["left"], m["top"]
        self.width = pdf.w - m["left"] - m["right"]
        self.bottom = pdf.h - m["bottom"]
        self.line_height = float(layout["line_height"])
        self._widths: dict[tuple[str, float, str], float] = {}
        self._page_top = True
        pdf.footer = self._footer  # type: ignore[method-assign]

    # --- text ----------------------------------------------------------------------------------
    def size(self, key: str) -> float:
        return float(self.layout["font_size"][key])

    def colour(self, key: str) -> tuple[int, int, int]:
        colours = self.layout["colors"]
        return _rgb(colours[key] if key in colours else self.layout["levels"].get(
            key, self.layout["levels"]["none"]))

    def use(self, style: _Style) -> None:
        self.pdf.set_font("coach", "B" if style.bold else "", style.size)
        self.pdf.set_text_color(*self.colour(style.colour))

    def measure(self, style: _Style) -> Callable[[str], float]:
        def width(text: str) -> float:
            key = ("B" if style.bold else "", style.size, text)
            if key not in self._widths:
                self.use(style)
                self._widths[key] = self.pdf.get_string_width(text)
            return self._widths[key]
        return width

    def lines(self, text: str, style: _Style, width: float) -> list[str]:
        return wrap(text, width, self.measure(style)) if text else []

    def line_h(self, style: _Style, factor: float | None = None) -> float:
        return style.size * PT * (factor or self.line_height)

    def text_rows(self, text: str, style: _Style, x: float = 0.0, width: float | None = None,
                  align: str = "L", factor: float | None = None,
                  decorate: Callable[[float, float], None] | None = None) -> list[Row]:
        """One row per wrapped line, `x` mm right of the left margin."""
        width = self.width - x if width is None else width
        h = self.line_h(style, factor)
        rows = []
        for line in self.lines(text, style, width):
            def draw(top: float, line: str = line) -> None:
                if decorate:
                    decorate(top, h)
                self.use(style)
                self.pdf.set_xy(self.left + x, top)
                self.pdf.cell(width, h, line, align=align)
            rows.append(Row(h, draw))
        return rows

    def gap(self, mm: float) -> Row:
        return Row(mm, lambda top: None)

    # --- pages ---------------------------------------------------------------------------------
    def _footer(self) -> None:
        pdf = self.pdf
        style = _Style(self.size("footer"), colour="muted")
        self.use(style)
        y = pdf.h - float(self.layout["page"]["footer_offset"])
        pdf.set_draw_color(*self.colour("rule"))
        pdf.set_line_width(0.2)
        pdf.line(self.left, y - 1.5, self.left + self.width, y - 1.5)
        pdf.set_xy(self.left, y)
        pdf.cell(self.width * 0.7, 4, self.doc.title)
        label = self.doc.page_label.replace("{page}", str(pdf.page_no())).replace(
            "{pages}", pdf.str_alias_nb_pages)  # the page count, filled in at the end
        pdf.set_xy(self.left, y)
        pdf.cell(self.width, 4, label, align="R")

    def new_page(self) -> None:
        self.pdf.add_page()
        self.pdf.set_y(self.top)
        self._page_top = True

    def place(self, blocks: list[Block]) -> None:
        """Put blocks on pages: a kept block moves whole to the next page when it does not fit
        (if it fits on one at all), a heading goes with the start of what follows, and a
        paragraph leaves neither a single first nor a single last line behind."""
        pdf = self.pdf
        room = self.bottom - self.top
        for n, block in enumerate(blocks):
            if block.new_page and not self._page_top:
                self.new_page()
            need = block.start_height()
            k = n  # a heading, its intro and the start of what follows them: one unit
            while blocks[k].keep_with_next and k + 1 < len(blocks):
                need += blocks[k + 1].space_before + blocks[k + 1].start_height()
                k += 1
            space = 0.0 if self._page_top else block.space_before
            if pdf.get_y() + space + min(need, room) > self.bottom:
                self.new_page()
                space = 0.0
            y = pdf.get_y() + space
            rows = block.rows
            for i, row in enumerate(rows):
                last_two = i == len(rows) - 2 and i >= 2 and not block.keep
                if y + row.height > self.bottom or (
                        last_two and y + row.height + rows[i + 1].height > self.bottom):
                    self.new_page()
                    y = pdf.get_y()
                row.draw(y)
                y += row.height
                self._page_top = False
            pdf.set_y(y)

    # --- the parts -----------------------------------------------------------------------------
    def heading(self, text: str, key: str = "h2", colour: str = "text", space: float = 7.0,
                new_page: bool = False) -> Block:
        style = _Style(self.size(key), bold=True, colour=colour)
        rows = self.text_rows(text, style, factor=1.35)
        if key == "h2":
            def rule(top: float) -> None:
                self.pdf.set_draw_color(*self.colour("accent"))
                self.pdf.set_line_width(0.6)
                self.pdf.line(self.left, top + 0.6, self.left + self.width, top + 0.6)
            rows.append(Row(3.0, rule))
        return Block(rows, keep=True, keep_with_next=True, space_before=space,
                     new_page=new_page)

    def intro(self, text: str) -> Block:
        """The small print under a heading: it stays with what it introduces."""
        return Block(self.text_rows(text, _Style(self.size("small"), colour="muted")),
                     keep=True, keep_with_next=True)

    def cover(self, chart_png: bytes) -> list[Block]:
        doc, pdf = self.doc, self.pdf
        blocks = []

        def band(top: float) -> None:  # the accent band across the top of the first page
            pdf.set_fill_color(*self.colour("accent"))
            pdf.rect(0, 0, pdf.w, 6, style="F")
        title = self.text_rows(doc.title, _Style(self.size("title"), True), factor=1.3)
        first = title[0].draw
        title[0] = Row(title[0].height, lambda top: (band(top), first(top)))
        blocks.append(Block(title + self.text_rows(doc.prepared, _Style(
            self.size("subtitle"), colour="muted")) + [self.gap(4)], keep=True))
        blocks.append(self._business_panel())
        blocks.append(self._score_block())
        blocks.append(self._indices())
        blocks.append(self._chart(chart_png, blocks))
        return blocks

    def _business_panel(self) -> Block:
        doc = self.doc
        label_style = _Style(self.size("small"), colour="muted")
        value_style = _Style(self.size("body"), bold=True)
        pad = 4.0
        measure = self.measure(label_style)
        label_w = min(max((measure(q) for q, _ in doc.business), default=0) + 7, 60)
        rows = [self.gap(pad)]
        rows += self.text_rows(doc.business_title, _Style(self.size("small"), True, "accent"),
                               x=pad, width=self.width - 2 * pad)
        h = self.line_h(value_style)
        for question, answer in doc.business:
            values = self.lines(answer, value_style, self.width - 2 * pad - label_w)
            for i, line in enumerate(values):
                def draw(top: float, line: str = line, label: str = question if i == 0 else ""):
                    if label:
                        self.use(label_style)
                        self.pdf.set_xy(self.left + pad, top)
                        self.pdf.cell(label_w, h, label)
                    self.use(value_style)
                    self.pdf.set_xy(self.left + pad + label_w, top)
                    self.pdf.cell(self.width - 2 * pad - label_w, h, line)
                rows.append(Row(h, draw))
        rows.append(self.gap(pad))
        return self._panel(rows, space=2.0)

    def _panel(self, rows: list[Row], space: float = 0.0, x: float = 0.0,
               width: float | None = None) -> Block:
        """Rows on a tinted background (drawn row by row, so it follows the rows)."""
        width = self.width if width is None else width
        boxed = []
        for row in rows:
            def draw(top: float, row: Row = row) -> None:
                self.pdf.set_fill_color(*self.colour("panel"))
                self.pdf.rect(self.left + x, top, width, row.height + 0.05, style="F")
                row.draw(top)
            boxed.append(Row(row.height, draw))
        return Block(boxed, keep=True, space_before=space)

    def _score_block(self) -> Block:
        doc, pdf = self.doc, self.pdf
        level_colour = doc.level_id or "none"
        big = _Style(self.size("score"), True, level_colour)
        out_of = _Style(self.size("out_of"), True, "muted")
        number_w = self.measure(big)(doc.overall)
        out_w = self.measure(out_of)(doc.out_of)
        left_w = max(number_w + out_w + 2, 52)
        big_h = self.size("score") * PT * 1.05
        text_x = left_w + 6
        text_w = self.width - text_x
        right = []
        right += self.text_rows(doc.level, _Style(self.size("level"), True, level_colour),
                                x=text_x, width=text_w, factor=1.3)
        right += self.text_rows(doc.level_meaning, _Style(self.size("body")), x=text_x,
                                width=text_w)
        right.append(self.gap(1.5))
        right += self.text_rows(doc.confidence, _Style(self.size("small"), colour="muted"),
                                x=text_x, width=text_w)
        label_h = self.line_h(_Style(self.size("small")))
        height = max(big_h + label_h, sum(r.height for r in right)) + 3

        def draw(top: float) -> None:
            self.use(big)
            pdf.set_xy(self.left, top)
            pdf.cell(number_w, big_h, doc.overall)
            self.use(out_of)  # "/100" on the number's baseline
            pdf.set_xy(self.left + number_w + 1, top + big_h - self.size("out_of") * PT * 1.35)
            pdf.cell(out_w, self.size("out_of") * PT, doc.out_of)
            self.use(_Style(self.size("small"), colour="muted"))
            pdf.set_xy(self.left, top + big_h)
            pdf.cell(left_w, label_h, doc.overall_label)
            pdf.set_draw_color(*self.colour("rule"))
            pdf.set_line_width(0.3)
            pdf.line(self.left + left_w + 2, top + 2, self.left + left_w + 2, top + height - 4)
            y = top + max(0.0, (height - 3 - sum(r.height for r in right)) / 2)
            for row in right:
                row.draw(y)
                y += row.height
        return Block([Row(height, draw)], keep=True, space_before=5.0)

    def _indices(self) -> Block:
        doc, pdf = self.doc, self.pdf
        count = max(len(doc.indices), 1)
        gap = 5.0
        col_w = (self.width - gap * (count - 1)) / count
        pad = 3.5
        name_style = _Style(self.size("body"), True)
        score_style = _Style(self.size("level"), True, "accent")
        text_style = _Style(self.size("small"), colour="muted")
        cells = []
        for index in doc.indices:
            score_w = self.measure(score_style)(index.score) + 1
            name = self.lines(index.name, name_style, col_w - 2 * pad - score_w)
            text = self.lines(index.explained, text_style, col_w - 2 * pad)
            cells.append((index, name, text, score_w))
        name_h, text_h = self.line_h(name_style, 1.35), self.line_h(text_style, 1.4)
        height = max(len(n) * name_h + 1 + len(t) * text_h for _, n, t, _ in cells) + 2 * pad

        def draw(top: float) -> None:
            for k, (index, name, text, score_w) in enumerate(cells):
                x = self.left + k * (col_w + gap)
                pdf.set_fill_color(*self.colour("panel"))
                pdf.rect(x, top, col_w, height, style="F")
                pdf.set_fill_color(*self.colour("accent"))
                pdf.rect(x, top, 1.2, height, style="F")
                y = top + pad
                self.use(score_style)
                pdf.set_xy(x + col_w - pad - score_w, y - 0.8)
                pdf.cell(score_w, name_h + 1, index.score, align="R")
                self.use(name_style)
                for line in name:
                    pdf.set_xy(x + pad, y)
                    pdf.cell(col_w - 2 * pad - score_w, name_h, line)
                    y += name_h
                y += 1
                self.use(text_style)
                for line in text:
                    pdf.set_xy(x + pad, y)
                    pdf.cell(col_w - 2 * pad, text_h, line)
                    y += text_h
        return Block([Row(height, draw)], keep=True, space_before=5.0)

    def _chart(self, png: bytes, above: list[Block]) -> Block:
        """The radar chart, centred, as large as the layout asks and the cover's room allows."""
        caption = self.text_rows(self.doc.chart_caption,
                                 _Style(self.size("small"), colour="muted"), align="C")
        used = sum(b.height + b.space_before for b in above)
        room = self.bottom - self.top - used - 4 - sum(r.height for r in caption)
        size = max(min(float(self.layout["chart"]["width"]), room), 80.0)

        def draw(top: float) -> None:
            self.pdf.image(io.BytesIO(png), x=self.left + (self.width - size) / 2, y=top,
                           w=size, h=size)
        return Block([self.gap(2), Row(size, draw), *caption], keep=True, space_before=2.0)

    def dimensions(self) -> list[Block]:
        doc = self.doc
        blocks = [self.heading(doc.dimensions_title, new_page=True, space=0),
                  self.intro(doc.dimensions_intro),
                  self._answers_header()]
        blocks += [self._section(s) for s in doc.sections]
        return blocks

    def _columns(self) -> tuple[float, float, float]:
        points = float(self.layout["columns"]["points"])
        answer = float(self.layout["columns"]["answer"])
        return self.width - answer - points - 4, answer, points

    def _answers_header(self) -> Block:
        q_w, a_w, p_w = self._columns()
        style = _Style(self.size("small"), True, "muted")
        h = self.line_h(style)
        labels = self.doc.labels

        def draw(top: float) -> None:
            self.use(style)
            for x, w, text, align in ((0, q_w, labels["question"], "L"),
                                      (q_w + 2, a_w, labels["answer"], "L"),
                                      (q_w + a_w + 4, p_w, labels["points"], "R")):
                self.pdf.set_xy(self.left + x, top)
                self.pdf.cell(w, h, text, align=align)
        return Block([self.gap(1), Row(h, draw)], keep=True, keep_with_next=True,
                     space_before=2.0)

    def _section(self, s: DimensionSection) -> Block:
        pdf = self.pdf
        colour = s.level_id or "none"
        name_style = _Style(self.size("h3"), True)
        score_style = _Style(self.size("h3"), True, colour)
        score_w = self.measure(score_style)(s.heading_score) + 1
        name_h = self.line_h(name_style, 1.35)
        rows: list[Row] = []
        name_lines = self.lines(s.name, name_style, self.width - score_w - 4)
        for i, line in enumerate(name_lines):
            def draw(top: float, line: str = line, first: bool = i == 0) -> None:
                self.use(name_style)
                pdf.set_xy(self.left, top)
                pdf.cell(self.width - score_w - 4, name_h, line)
                if first:
                    self.use(score_style)
                    pdf.set_xy(self.left + self.width - score_w, top)
                    pdf.cell(score_w, name_h, s.heading_score, align="R")
            rows.append(Row(name_h, draw))

        def bar(top: float) -> None:
            pdf.set_fill_color(*self.colour("track"))
            pdf.rect(self.left, top + 0.6, self.width, 2.0, style="F")
            if s.percent > 0:
                pdf.set_fill_color(*self.colour(colour))
                pdf.rect(self.left, top + 0.6, self.width * min(s.percent, 100) / 100, 2.0,
                         style="F")
        rows.append(Row(4.2, bar))
        rows += self.text_rows(s.blurb, _Style(self.size("small"), colour="muted"))
        rows.append(self.gap(1.2))
        for answer in s.rows:
            rows += self._answer_rows(answer)
        for note in s.notes:
            rows.append(self.gap(1.0))
            rows += self.text_rows(note, _Style(self.size("small"), colour="accent"))
        return Block(rows, keep=True, space_before=5.0)

    def _answer_rows(self, answer) -> list[Row]:
        pdf = self.pdf
        q_w, a_w, p_w = self._columns()
        q_style = _Style(self.size("body"))
        a_style = _Style(self.size("body"), bold=not answer.unsure,
                         colour="muted" if answer.unsure or answer.points is None else "text")
        q_lines = self.lines(answer.question, q_style, q_w)
        a_lines = self.lines(answer.answer, a_style, a_w)
        h = self.line_h(q_style, 1.4)
        count = max(len(q_lines), len(a_lines), 1)
        pad = 1.2

        def draw(top: float) -> None:
            pdf.set_draw_color(*self.colour("rule"))
            pdf.set_line_width(0.2)
            pdf.line(self.left, top, self.left + self.width, top)
            y = top + pad
            self.use(q_style)
            for n, line in enumerate(q_lines):
                pdf.set_xy(self.left, y + n * h)
                pdf.cell(q_w, h, line)
            self.use(a_style)
            for n, line in enumerate(a_lines):
                pdf.set_xy(self.left + q_w + 2, y + n * h)
                pdf.cell(a_w, h, line)
            self._points(self.left + self.width - p_w, y, p_w, h, answer.points)
        return [Row(count * h + 2 * pad, draw)]

    def _points(self, x: float, top: float, width: float, h: float, points: int | None) -> None:
        """Four squares, as many filled as the answer scored; a dash when not applicable."""
        pdf = self.pdf
        if points is None:
            self.use(_Style(self.size("body"), colour="muted"))
            pdf.set_xy(x, top)
            pdf.cell(width, h, "–", align="R")
            return
        side, gap = 2.6, 0.9
        start = x + width - 4 * side - 3 * gap
        y = top + (h - side) / 2
        pdf.set_line_width(0.25)
        pdf.set_draw_color(*self.colour("accent"))
        pdf.set_fill_color(*self.colour("accent"))
        for k in range(4):
            pdf.rect(start + k * (side + gap), y, side, side, style="DF" if k < points else "D")

    def views(self) -> list[Block]:
        """The 360° section: the owner's scores beside the team's and the customers' averages
        (one table row per dimension), then the gap priority when the gap is real."""
        table = self.doc.views
        if table is None:
            return []
        blocks = [self.heading(table.title, new_page=True, space=0), self.intro(table.intro)]
        num_w = float(self.layout["columns"]["points"]) + 6
        name_w = self.width - 4 * num_w
        head = _Style(self.size("small"), True, "muted")
        body = _Style(self.size("body"))
        gap_style = _Style(self.size("body"), True, "accent")

        def row(values: tuple[str, ...], header: bool) -> Row:
            h = self.line_h(head if header else body, 1.5)

            def draw(top: float) -> None:
                for k, value in enumerate(values):
                    self.use(head if header else gap_style if k == 4 else body)
                    x = 0.0 if k == 0 else name_w + (k - 1) * num_w
                    self.pdf.set_xy(self.left + x, top)
                    self.pdf.cell(name_w if k == 0 else num_w, h, value,
                                  align="L" if k == 0 else "R")
                if not header:
                    self.pdf.set_draw_color(*self.colour("rule"))
                    self.pdf.set_line_width(0.15)
                    self.pdf.line(self.left, top + h, self.left + self.width, top + h)
            return Row(h, draw)

        rows = [self.gap(2.0), row(table.columns, True)]
        rows += [row(values, False) for values in table.rows]
        blocks.append(Block(rows, keep=True))
        if table.gap is not None:
            blocks.append(self._action(table.gap))
        return blocks

    def plan(self) -> list[Block]:
        doc = self.doc
        if not doc.phases:
            return []
        blocks = [self.heading(doc.plan_title, space=12.0),
                  self.intro(doc.plan_intro)]
        for phase in doc.phases:
            head = self.heading(phase.title, "h3", "accent", space=6.0)
            head.rows += self.text_rows(phase.intro, _Style(self.size("small"), colour="muted"))
            blocks.append(head)
            blocks += [self._action(a) for a in phase.actions]
        return blocks

    def _action(self, a: PlanStep) -> Block:
        pdf = self.pdf
        labels = self.doc.labels
        indent = 9.0
        body = _Style(self.size("body"))
        small = _Style(self.size("small"), colour="muted")
        label = _Style(self.size("small"), True, "accent")
        title_style = _Style(self.size("body") + 1, True)

        def bullet(top: float, h: float) -> None:  # the action's number in a disc
            r = 3.0
            pdf.set_fill_color(*self.colour("accent"))
            pdf.ellipse(self.left, top + h / 2 - r, 2 * r, 2 * r, style="F")
            self.use(_Style(self.size("small"), True))
            pdf.set_text_color(255, 255, 255)
            pdf.set_xy(self.left, top + h / 2 - r)
            pdf.cell(2 * r, 2 * r, str(a.number), align="C")

        rows = self.text_rows(a.title, title_style, x=indent, factor=1.35)
        first = rows[0].draw
        rows[0] = Row(rows[0].height, lambda top, h=rows[0].height: (bullet(top, h), first(top)))
        meta = self.text_rows(a.meta, small, x=indent)
        if a.top:  # the top priorities' tag, right-aligned on the meta line
            tag = _Style(self.size("small"), True, "accent")
            draw_meta = meta[0].draw

            def tagged(top: float) -> None:
                draw_meta(top)
                self.use(tag)
                pdf.set_xy(self.left, top)
                pdf.cell(self.width, meta[0].height, labels["top_priority"], align="R")
            meta[0] = Row(meta[0].height, tagged)
        rows += meta
        rows.append(self.gap(0.8))
        rows += self.text_rows(a.what, body, x=indent)
        rows.append(self.gap(0.8))
        for key, text in (("first_step", a.first_step), ("metric", a.metric)):
            rows += self.text_rows(labels[key].strip().rstrip(":："), label, x=indent)
            rows += self.text_rows(text, body, x=indent)
        rows.append(self.gap(0.8))
        rows += self.text_rows(a.why, small, x=indent)
        rows += self.text_rows(a.source_ref, small, x=indent)
        return Block(rows, keep=True, space_before=4.0)

    def sources(self) -> list[Block]:
        doc = self.doc
        blocks = [self.heading(doc.sources_title, space=10.0),
                  self.intro(doc.sources_intro)]
        style = _Style(self.size("small"))
        for n, source in enumerate(doc.sources, start=1):
            number = f"[{n}]"

            def mark(top: float, h: float, number: str = number) -> None:
                self.use(_Style(self.size("small"), True, "accent"))
                self.pdf.set_xy(self.left, top)
                self.pdf.cell(8, h, number)
            rows = self.text_rows(source, style, x=9.0)
            if rows:
                first = rows[0].draw
                rows[0] = Row(rows[0].height, lambda top, h=rows[0].height, f=first, m=mark:
                              (m(top, h), f(top)))
            blocks.append(Block(rows, keep=True, space_before=1.5))
        return blocks


def render_pdf(doc: ReportDocument, chart_png: bytes) -> bytes:
    """The report as PDF bytes (A4, fonts embedded as subsets), laid out as doc.layout says.

    Raises FileNotFoundError when content/fonts is incomplete."""
    out = _Layout(doc, doc.layout)
    out.new_page()
    blocks: list[Block] = []
    blocks += out.cover(chart_png)
    blocks += out.views()
    blocks += out.dimensions()
    blocks += out.plan()
    if doc.sources:
        blocks += out.sources()
    out.place(blocks)
    return bytes(out.pdf.output())

