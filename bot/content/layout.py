"""How a screen of the bot lays out on a phone, and how long it takes to read: a model, measured
with real glyph advance widths. Pure: no Telegram, no database (the content check uses it too).

The phone is Telegram for iOS on a 390 x 844 pt iPhone (13/14/15), light theme, default text
size: the approximation the UX review of 2026-11-30 used ("How I tested"), checked against
Telegram-iOS's own layout code where it has one (ChatMessageActionButtonsNode.swift: buttons
42 pt high, 2 pt apart, title `Font.medium(16.0)`, 4 pt title inset). Where the two differ the
budget takes the tighter figure, so that what fits here fits on the phone:

- SCREEN_WIDTH 390 px; VISIBLE_HEIGHT 670 px: 844 less the status bar and chat header (~100)
  and the input bar with the home indicator (~75).
- SIDE_MARGIN 16 px from screen to bubble, BUBBLE_PADDING_X 12 px from bubble to text: a text
  column of 390 - 2 x (16 + 12) = 334 px. BUBBLE_PADDING_Y 8 px above and below the text.
- TEXT_SIZE 17 px (iOS "body", Telegram's default), LINE_HEIGHT 1.3 (22.1 px a line).
- TIME_WIDTH 44 px: the time stamp sits in the last line; a line too full for it gets one more.
- Inline keyboard: ROW_HEIGHT 46 px and ROW_GAP 6 px between rows and between buttons
  (Telegram-iOS: 42 and 2), KEYBOARD_GAP 6 px under the bubble. The keyboard is as wide as the
  bubble (358 px) but is budgeted as KEYBOARD_WIDTH 334 px (a narrower bubble on Android or at
  a larger text size still shows every title), BUTTON_INSET 8 px each side of a title
  (Telegram-iOS: 4): a title has 318 px alone in its row (the review measured against 314),
  148 px two to a row, 91 px three to a row. BUTTON_SIZE 16 px.
- MESSAGE_GAP 10 px between messages; PHOTO_SIZE 358 px: a square photo as wide as the bubble.

Glyphs: Telegram draws with SF Pro (iOS) or Roboto (Android), which this project does not
ship. Latin letters, digits and symbols are measured with DejaVu Sans (the project's Coach
Symbols face is a subset of it, content/fonts), about 4% wider than SF Pro Text at the same
size: the budget errs on the safe side. Chinese characters, CJK punctuation and fullwidth forms
are measured with the project's own Coach Sans SC (zh-Hans, en) or TC (zh-Hant), 1 em a
character like PingFang. Bold text (semibold on iOS) and button titles (medium) are both taken
as the mean of the Regular and Bold advances; <code> is DejaVu Sans Mono (0.602 em a glyph).
An emoji is 1.25 em (Apple Color Emoji's advance); variation selectors and joiners are 0 wide.

Line breaking: English wraps at spaces (a word longer than the line breaks anywhere); Chinese
wraps between any two characters, except before closing punctuation (，。、：；！？）」』”…) and
after opening punctuation (（「『“), as Telegram does; a run of Latin letters or digits inside
Chinese text wraps like an English word.

Reading time (`reading_seconds`): 230 words a minute for English (adult silent reading of
non-fiction, Brysbaert 2019: 238 wpm; a little slower on a phone) and 400 characters a minute
for Chinese (Brysbaert 2019: about 255 words, i.e. some 400 characters a minute), plus
SECONDS_PER_TAP (2 s) for each tap a screen needs. An assessment's time left adds every
screen still to come; a business question with several answers counts TYPICAL_CHOICES taps
and Done; an evidence check that may come counts with the share of the owner's answers so far
that asked for one, starting from CHECK_RATE (answers of 3-4 out of 0-4 ask for one; owners
rate themselves high) with the weight of CHECK_RATE_WEIGHT answers.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path

SCREEN_WIDTH = 390
VISIBLE_HEIGHT = 670
SIDE_MARGIN = 16
BUBBLE_PADDING_X = 12
BUBBLE_PADDING_Y = 8
TIME_WIDTH = 44
TEXT_SIZE = 17
LINE_HEIGHT = 1.3
BUTTON_SIZE = 16
ROW_HEIGHT = 46
ROW_GAP = 6
KEYBOARD_GAP = 6
BUTTON_INSET = 8
MESSAGE_GAP = 10
PHOTO_SIZE = SCREEN_WIDTH - 2 * SIDE_MARGIN
BUBBLE_WIDTH = SCREEN_WIDTH - 2 * SIDE_MARGIN  # 358: also the inline keyboard's width
TEXT_WIDTH = BUBBLE_WIDTH - 2 * BUBBLE_PADDING_X  # 334
KEYBOARD_WIDTH = TEXT_WIDTH
EMOJI_EM = 1.25
QUOTE_INSET = 20  # a quote's bar and indent
QUOTE_PADDING_Y = 8  # above and below a quote, together
QUOTE_COLLAPSED_LINES = 3  # an expandable quote, closed
CAPTION_LIMIT = 1024  # Telegram's photo caption, characters after the markup is parsed
MESSAGE_LIMIT = 4096

WORDS_PER_MINUTE = 230  # English
HANZI_PER_MINUTE = 400  # Chinese
SECONDS_PER_TAP = 2.0


# --- characters ------------------------------------------------------------------------------
def is_cjk(ch: str) -> bool:
    """A character set in the CJK font: ideographs, kana, CJK punctuation, fullwidth forms."""
    cp = ord(ch)
    return (0x2E80 <= cp <= 0x9FFF or 0xF900 <= cp <= 0xFAFF or 0xFF00 <= cp <= 0xFF65
            or 0xFFE0 <= cp <= 0xFFE6 or 0x20000 <= cp <= 0x3134F)


def is_hanzi(ch: str) -> bool:
    cp = ord(ch)
    return 0x3400 <= cp <= 0x9FFF or 0xF900 <= cp <= 0xFAFF or 0x20000 <= cp <= 0x3134F


# Characters iOS draws as colour emoji even without a variation selector (those this project
# writes: ⏰ ⏸ ✅ ⭐ ...); anything followed by U+FE0F is drawn as emoji too.
_EMOJI_BMP = set(range(0x231A, 0x231C)) | set(range(0x23E9, 0x23F4)) | set(range(0x23F8, 0x23FB)) \
    | {0x2614, 0x2615, 0x261D, 0x2648, 0x267F, 0x2693, 0x26A1, 0x26AA, 0x26AB, 0x26BD, 0x26BE,
       0x26C4, 0x26C5, 0x26D4, 0x26EA, 0x26F2, 0x26F3, 0x26F5, 0x26FA, 0x26FD, 0x2705, 0x270A,
       0x270B, 0x2728, 0x274C, 0x274E, 0x2753, 0x2754, 0x2755, 0x2757, 0x2795, 0x2796, 0x2797,
       0x27B0, 0x27BF, 0x2B1B, 0x2B1C, 0x2B50, 0x2B55, 0x2696, 0x270F}
_ZERO_WIDTH = {0xFE0F, 0xFE0E, 0x200D, 0x200B}


def _emoji_at(text: str, i: int) -> bool:
    cp = ord(text[i])
    if cp >= 0x1F000 or cp in _EMOJI_BMP:
        return True
    return i + 1 < len(text) and ord(text[i + 1]) == 0xFE0F


_OPENING = set("（「『“‘《〈【〔([{")
_CLOSING = set("，。、：；！？）」』”’》〉】〕…·,.;:!?)]}%")


# --- fonts -----------------------------------------------------------------------------------
@lru_cache(maxsize=32)
def _font(path: str, size: int):
    from PIL import ImageFont

    return ImageFont.truetype(path, size)


def _faces(locale: str, style: str) -> tuple[Path, Path]:
    """(CJK face, Latin face) files for a locale and a style (regular or bold): the locale's
    Coach Sans, and Coach Symbols (DejaVu Sans: its Latin letters, digits and symbols)."""
    from bot.fonts import font_path, region_for, symbol_font_path

    weight = "Bold" if style == "bold" else "Regular"
    return font_path(region_for(locale), weight), symbol_font_path(weight)


MONO_EM = 0.602  # DejaVu Sans Mono's advance, the same for every glyph: <code>


@lru_cache(maxsize=200_000)
def _advance(ch: str, size: int, style: str, locale: str) -> float:
    """The advance width of one character, px. `style`: regular, semibold, bold or code."""
    from bot.fonts import covers

    if style == "semibold":
        return (_advance(ch, size, "regular", locale) + _advance(ch, size, "bold", locale)) / 2
    if style == "code":
        return size * (1.0 if is_cjk(ch) else MONO_EM)
    cjk, latin = _faces(locale, style)
    cp = ord(ch)
    if is_cjk(ch) and cp in covers(cjk):
        path = cjk
    elif cp in covers(latin):
        path = latin
    elif cp in covers(cjk):
        path = cjk
    else:  # no shipped face draws it: a square, like the font's own missing-glyph box
        return float(size)
    return _font(str(path), size).getlength(ch)


@lru_cache(maxsize=65_536)  # the same labels and lines are measured for every business
def text_width(text: str, size: int = TEXT_SIZE, style: str = "regular",
               locale: str = "en") -> float:
    """The width of one line of `text`, px (no wrapping)."""
    return sum(w for _, w in _widths(text, size, style, locale))


def _widths(text: str, size: int, style: str, locale: str) -> list[tuple[str, float]]:
    """Each character of `text` with its advance width, px."""
    out = []
    for i, ch in enumerate(text):
        if ord(ch) in _ZERO_WIDTH:
            out.append((ch, 0.0))
        elif _emoji_at(text, i):
            out.append((ch, EMOJI_EM * size))
        elif ch == "\u00a0":
            out.append((" ", _advance(" ", size, style, locale)))
        else:
            out.append((ch, _advance(ch, size, style, locale)))
    return out


# --- Telegram HTML ---------------------------------------------------------------------------
_BLOCK = "\x00"  # where a quote begins or ends: a line break unless one is there already


class _Runs(HTMLParser):
    """Telegram HTML to (text, style, block) runs: <b>/<strong> semibold, <code>/<pre>
    monospace; block "quote" inside a <blockquote>, "expandable" inside <blockquote
    expandable> (Telegram shows it collapsed, QUOTE_COLLAPSED_LINES high, with "show more")."""

    BOLD = {"b", "strong"}
    CODE = {"code", "pre"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.bold = 0
        self.code = 0
        self.block = ""
        self.runs: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag, attrs):
        self.bold += tag in self.BOLD
        self.code += tag in self.CODE
        if tag == "blockquote":
            self.block = "expandable" if any(k == "expandable" for k, _ in attrs) else "quote"
            self.runs.append((_BLOCK, "regular", ""))  # a quote is a block of its own

    def handle_endtag(self, tag):
        self.bold -= tag in self.BOLD and self.bold > 0
        self.code -= tag in self.CODE and self.code > 0
        if tag == "blockquote":
            self.block = ""
            self.runs.append((_BLOCK, "regular", ""))

    def handle_data(self, data):
        style = "code" if self.code else ("semibold" if self.bold else "regular")
        self.runs.append((data, style, self.block))


def _parse(html_text: str) -> list[tuple[str, str, str]]:
    parser = _Runs()
    parser.feed(html_text)
    parser.close()
    return parser.runs


def runs_of(html_text: str) -> list[tuple[str, str]]:
    """The text's (text, style) runs, as Telegram shows them."""
    return [(text, style) for text, style, _ in _parse(html_text) if text != _BLOCK]


def plain(html_text: str) -> str:
    """What Telegram shows of a Telegram-HTML text (tags applied and removed)."""
    return "".join(text for text, _ in runs_of(html_text))


def telegram_length(html_text: str) -> int:
    """Telegram's length of a text or caption: after the markup is parsed, in UTF-16 units."""
    return len(plain(html_text).encode("utf-16-le")) // 2


# --- wrapping --------------------------------------------------------------------------------
def _breakable(prev: str, ch: str) -> bool:
    """May a line break go between `prev` and `ch`?"""
    if ch in _CLOSING or prev in _OPENING:
        return False
    if prev == " " or prev == "\u200b":
        return True
    if ch == " ":
        return False  # a space stays with what is before it (it hangs at the line's end)
    return is_cjk(prev) or is_cjk(ch) or _is_pictograph(prev) or _is_pictograph(ch) \
        or prev in "-/–—"


def _is_pictograph(ch: str) -> bool:
    return ord(ch) >= 0x1F000


def wrap(html_text: str, width: float = TEXT_WIDTH, size: int = TEXT_SIZE,
         locale: str = "en") -> list[float]:
    """The lines `html_text` takes in a column `width` px wide: each line's width, px. A blank
    line (two newlines) counts as a line of its own; a quote is narrower by QUOTE_INSET, and an
    expandable one takes QUOTE_COLLAPSED_LINES at most (it opens on a tap)."""
    lines: list[float] = []
    quote: list[float] = []
    block = ""
    for kind, paragraph in _paragraphs(html_text) + [("", ())]:
        if kind != block:  # a quote begins or ends
            if block == "expandable":
                quote = quote[:QUOTE_COLLAPSED_LINES]
            lines += quote
            quote = []
            block = kind
        if not kind:
            if paragraph or block == "":
                lines += _wrap_paragraph(paragraph, width, size, locale) if paragraph else [0.0]
            continue
        quote += _wrap_paragraph(paragraph, width - QUOTE_INSET, size, locale) \
            if paragraph else [0.0]
    lines = lines[:-1]  # the sentinel's
    # Telegram trims the text: no leading or trailing blank lines.
    while len(lines) > 1 and lines[-1] == 0:
        lines.pop()
    return lines


def _paragraphs(html_text: str) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    """The text's lines (split at newlines and where a quote begins or ends), each as its
    block ("", "quote", "expandable") and (text, style) runs."""
    out: list[tuple[str, list[tuple[str, str]]]] = [("", [])]
    fresh = False  # a block just began or ended: a line break here ends no line
    for text, style, block in _parse(html_text):
        if text == _BLOCK:
            if out[-1][1]:
                out.append(("", []))
            fresh = True
            continue
        if fresh and text.startswith("\n") and not out[-1][1]:
            text = text[1:]
        fresh = False
        for n, part in enumerate(text.split("\n")):
            if n:
                out.append((block, []))
            elif not out[-1][1]:
                out[-1] = (block, out[-1][1])
            if part:
                out[-1][1].append((part, style))
    return [(block, tuple(runs)) for block, runs in out]


@lru_cache(maxsize=50_000)
def _wrap_paragraph(runs: tuple[tuple[str, str], ...], width: float, size: int,
                    locale: str) -> tuple[float, ...]:
    chars: list[tuple[str, float]] = []
    for text, style in runs:
        chars += _widths(text, size, style, locale)
    if not chars:
        return (0.0,)
    lines: list[float] = []
    start = 0
    n = len(chars)
    while start < n:
        used = 0.0
        last_break = None  # index where the next line may start
        i = start
        while i < n:
            ch, w = chars[i]
            if i > start and _breakable(chars[i - 1][0], ch):
                last_break = i
            if used + w > width and ch != " " and i > start:
                break
            used += w
            i += 1
        if i >= n:
            lines.append(_visible(chars[start:n]))
            break
        cut = last_break if last_break is not None and last_break > start else i
        lines.append(_visible(chars[start:cut]))
        start = cut
        while start < n and chars[start][0] == " ":
            start += 1  # the spaces at a break hang in the margin
    return tuple(lines)


def _visible(chars: list[tuple[str, float]]) -> float:
    while chars and chars[-1][0] == " ":
        chars = chars[:-1]
    return sum(w for _, w in chars)


# --- messages, keyboards, screens ------------------------------------------------------------
def line_height(size: int = TEXT_SIZE) -> float:
    return size * LINE_HEIGHT


def text_height(html_text: str, locale: str = "en", width: float = TEXT_WIDTH) -> float:
    """The height of the text block alone (its lines), px."""
    return len(wrap(html_text, width, TEXT_SIZE, locale)) * line_height()


def bubble_height(html_text: str, locale: str = "en",
                  lines: list[float] | None = None) -> float:
    """A text message's bubble: padding, its lines, and a line for the time stamp when the last
    line leaves no room for it."""
    if lines is None:
        lines = wrap(html_text, TEXT_WIDTH, TEXT_SIZE, locale)
    height = 2 * BUBBLE_PADDING_Y + len(lines) * line_height() \
        + QUOTE_PADDING_Y * html_text.count("<blockquote")
    if lines and lines[-1] + TIME_WIDTH > TEXT_WIDTH:
        height += line_height() * 0.8
    return height


def button_width(per_row: int) -> float:
    """The width a title has on a button that shares its row with `per_row - 1` others, px."""
    return (KEYBOARD_WIDTH - (per_row - 1) * ROW_GAP) / per_row - 2 * BUTTON_INSET


def label_width(label: str, locale: str = "en") -> float:
    return text_width(label, BUTTON_SIZE, "semibold", locale)


def label_fits(label: str, per_row: int = 1, locale: str = "en") -> bool:
    """Does a button title show whole (Telegram cuts one that does not with "…")?"""
    return label_width(label, locale) <= button_width(per_row)


def keyboard_height(rows: int) -> float:
    if rows <= 0:
        return 0.0
    return KEYBOARD_GAP + rows * ROW_HEIGHT + (rows - 1) * ROW_GAP


@dataclass(frozen=True)
class Measure:
    """A message on the phone: its height and the button titles that would be cut."""

    height: float  # px, bubble and keyboard
    text_lines: int
    rows: int
    cut: tuple[str, ...]  # titles wider than their button

    @property
    def fits(self) -> bool:
        return self.height <= VISIBLE_HEIGHT and not self.cut


def measure(html_text: str, rows: list[list[str]] | tuple = (), locale: str = "en") -> Measure:
    """A text message with an inline keyboard (`rows` of button titles)."""
    cut = tuple(label for row in rows for label in row
                if not label_fits(label, len(row), locale))
    lines = wrap(html_text, TEXT_WIDTH, TEXT_SIZE, locale)
    return Measure(bubble_height(html_text, locale, lines) + keyboard_height(len(rows)),
                   len(lines),
                   len(rows), cut)


def photo_height(caption: str = "", rows: int = 0, locale: str = "en") -> float:
    """A square photo with a caption under it (and an inline keyboard)."""
    height = PHOTO_SIZE
    if caption:
        height += bubble_height(caption, locale)
    return height + keyboard_height(rows)


# --- reading time ----------------------------------------------------------------------------
_WORD = re.compile(r"[A-Za-z0-9\u00c0-\u024f]+(?:['’.,-][A-Za-z0-9\u00c0-\u024f]+)*")


def reading_seconds(text: str, taps: int = 1) -> float:
    """Seconds to read a plain text and make `taps` taps: English words at WORDS_PER_MINUTE,
    Chinese characters at HANZI_PER_MINUTE (a text may mix both), SECONDS_PER_TAP a tap."""
    hanzi = sum(1 for ch in text if is_hanzi(ch))
    words = len(_WORD.findall(text))
    return 60 * words / WORDS_PER_MINUTE + 60 * hanzi / HANZI_PER_MINUTE + SECONDS_PER_TAP * taps


def minutes(seconds: float) -> int:
    """Whole minutes for a promise or a countdown, rounded up (never "0 min")."""
    return max(1, math.ceil(seconds / 60 - 1e-9))


# --- the pace of an assessment ---------------------------------------------------------------
TYPICAL_CHOICES = 2  # options ticked on a multiple-choice business question, before Done
CHECK_RATE = 0.4  # share of answers that ask for an evidence check (3-4 of 0-4) before any
CHECK_RATE_WEIGHT = 2  # is known of the owner: the prior's weight, in answers
