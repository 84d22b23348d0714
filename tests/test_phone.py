"""Questions that fit a phone (issue 13, item 1): every screen of the assessment within one
390 x 670 px phone view with every button title whole, measured with the real font metric
(bot/content/layout.py); progress over every screen with the time left; typed numbers as
answers."""

from __future__ import annotations

import json

import pytest

from bot.content import layout
from bot.content.lint import _load, personas
from bot.content.render import Renderer, to_plain
from bot.content.screens import phone_problems, promised_minutes, screens, typical_minutes
from bot.domain.flow import AssessmentState, Flow

from .conftest import Person
from .fakes import Call, buttons
from .helpers_domain import FULL_ITEMS, at, real_content
from .test_conversation import answer_context

CONTENT = real_content()
BUSINESSES = personas(CONTENT, _load(CONTENT))
ASSESSMENT_KINDS = ("ans:", "ev:", "ctx:", "ok:", "rv:")


# --- the model ------------------------------------------------------------------------------
def test_the_model_measures_real_glyphs():
    """Chinese characters are 1 em in the project's font, Latin text is measured glyph by
    glyph (an "i" is narrower than an "m"), titles wider than their button are found."""
    assert layout.text_width("你好世界", 17, locale="zh-Hans") == 4 * 17
    assert layout.text_width("iiii") < layout.text_width("mmmm")
    assert layout.text_width("✓ A", 16) < layout.text_width("📄 A", 16)  # emoji: 1.25 em
    assert layout.label_fits("1. Every time", 2)
    assert not layout.label_fits("1. Every time, and price questions get noted", 1)
    # English wraps at spaces, never inside a word; Chinese between characters, never before
    # a closing comma.
    sentence = "Before customers order, do they know the full price, extras included?"
    lines = layout.wrap(sentence)
    assert len(lines) == 2 and max(lines) <= layout.TEXT_WIDTH
    assert layout.text_width(sentence) > layout.TEXT_WIDTH
    text = "客" * 19 + "，" + "人" * 10
    widths = layout.wrap(text, locale="zh-Hans")
    assert widths[0] == 18 * 17  # the 19th character goes down with its comma
    assert layout.telegram_length("<b>38</b>/100 &amp; 5") == len("38/100 & 5")


def test_reading_time_model():
    """230 English words or 400 Chinese characters a minute, 2 s a tap."""
    assert layout.reading_seconds("word " * 230, taps=0) == pytest.approx(60)
    assert layout.reading_seconds("字" * 400, taps=0) == pytest.approx(60)
    assert layout.reading_seconds("", taps=3) == 6
    assert layout.minutes(61) == 2 and layout.minutes(5) == 1


# --- every screen, every business, every locale ---------------------------------------------
def test_every_question_screen_of_every_business_fits_the_phone():
    """What `content check` measures: every item rendered for every business of the persona
    matrix (with each answer marked as after Back, and its evidence checks), the business
    questions with every option ticked and the retake's review, in every locale, with the
    widest progress line: none taller than the phone's view, no button title cut."""
    shown = list(screens(CONTENT, BUSINESSES))
    assert {s.locale for s in shown} == {"en", "zh-Hans", "zh-Hant"}
    items = {s.where for s in shown if s.where in {i.id for i in CONTENT.bank.items}}
    assert items == {i.id for i in CONTENT.bank.items}
    assert len(shown) > 5000  # a few hundred businesses' worth of distinct renderings
    tallest = max(s.measure.height for s in shown)
    assert tallest <= layout.VISIBLE_HEIGHT, tallest
    assert not [(s.locale, s.where, s.measure.cut) for s in shown if s.measure.cut]
    assert phone_problems(CONTENT, BUSINESSES) == []


def test_every_answer_button_title_shows_whole():
    """Each option's short title, numbered, fits at least a full-width button for every
    business; in Chinese every one fits half a row (two to a row)."""
    for locale in CONTENT.texts:
        r = Renderer(CONTENT, locale)
        for answers in BUSINESSES[::7]:
            business = r.business(answers)
            for item in CONTENT.bank.items:
                for n, option in enumerate(item.options, start=1):
                    title = f"{n}. {r.option_text(item.id, option.id, business, label=True)}"
                    assert layout.label_fits(title, 1, locale), (locale, title)
                    if locale != "en":
                        assert layout.label_fits(title, 2, locale), (locale, title)


def test_the_welcome_promises_what_the_model_computes():
    """The welcome's "(~10 min)" and "(~4 min)" are the reading-speed model's median over the
    persona matrix, within a minute, in every locale."""
    for locale in CONTENT.texts:
        for mode in ("full", "quick"):
            model = typical_minutes(CONTENT, locale, mode, BUSINESSES)
            assert abs(promised_minutes(CONTENT, locale, mode) - model) <= 1, (locale, mode)


# --- a whole assessment through the bot, measured -------------------------------------------
def _measured(call: Call, locale: str) -> layout.Measure | None:
    markup = call.params.get("reply_markup")
    if not markup:
        return None
    rows = (markup if isinstance(markup, dict) else json.loads(markup))["inline_keyboard"]
    if not any(str(b.get("callback_data", "")).startswith(ASSESSMENT_KINDS)
               for row in rows for b in row):
        return None
    return layout.measure(call.params["text"], [[b["text"] for b in row] for row in rows],
                          locale)


@pytest.mark.parametrize("code,locale", [("en", "en"), ("zh-hans", "zh-Hans"),
                                         ("zh-tw", "zh-Hant")])
async def test_a_whole_assessment_fits_the_phone_screen_by_screen(person, telegram, code,
                                                                  locale):
    """An owner takes the full assessment: answers of 4 bring evidence checks, one answer is
    changed after Back. Every screen the bot showed (sent or edited) fits the phone, and the
    progress line counted every one of them."""
    p = person(12000 + len(locale), code)
    await p.send("/start")
    await p.tap(0)  # the full assessment
    # The business: the first sector, 2-5 people, the first channel, no priority.
    await p.tap(0)
    await p.tap(1)
    await p.tap(0)
    for _ in range(2):  # Done
        await p.press(next(d for _, d in buttons(p.screen) if d.startswith("ok:")))
    numbers = []
    for n in range(60):
        screen = p.screen
        data = [d for _, d in buttons(screen)]
        if not any(d.startswith(("ans:", "ev:")) for d in data):
            break
        numbers.append(to_plain(screen.text).split("\n")[1].split(" ")[1])
        if any(d.startswith("ev:") for d in data):
            await p.tap(n % 2)  # yes, no, yes ...
        elif n == 3:
            await p.tap("Back" if locale == "en" else "◀")
            await p.tap(1)
        else:
            await p.tap(4 if n % 3 == 0 else 1)
    measures = [m for c in telegram.calls if c.method in ("sendMessage", "editMessageText")
                if (m := _measured(c, locale)) is not None]
    assert len(measures) > FULL_ITEMS + 4
    for m in measures:
        assert m.fits, m
    # Every screen counted, checks as they came: the last question is N/N.
    last, total = numbers[-1].split("/")
    assert last == total and int(total) > 4 + FULL_ITEMS
    assert telegram.called("sendPhoto"), "and the report came"


# --- typed numbers ------------------------------------------------------------------------------
async def start_full(p: Person) -> None:
    await p.send("/start")
    await p.tap("Full assessment")
    await answer_context(p)


async def test_a_typed_number_answers_the_question_on_show(person, telegram, store, content):
    p = person(12101)
    await start_full(p)
    question = p.screen
    await p.send("2")
    record = await store.open_assessment(p.id)
    first = Flow(content.bank, "full").active_items(record.state)[0]
    assert record.state.answers[first.id].option_id == first.options[1].id
    old = telegram.messages[p.id][question.message_id]
    assert old.reply_markup is None and "✓ " in old.text  # the question keeps its answer
    assert "2. " in old.text and at(2) in p.screen.text  # the next question, a new message
    assert p.screen.message_id > question.message_id
    assert record.message_id == p.screen.message_id
    await p.send("３")  # a Chinese keyboard's full-width digit
    record = await store.open_assessment(p.id)
    second = Flow(content.bank, "full").active_items(record.state)[1]
    assert record.state.answers[second.id].option_id == second.options[2].id


@pytest.mark.parametrize("text", ["7", "0", "1 3", "two", "12"])
async def test_other_typed_text_keeps_the_hint_and_changes_nothing(person, store, text):
    p = person(12102)
    await start_full(p)
    before = await store.export_user(p.id)
    await p.send(text)
    assert "type the number of your answer (1-5)" in p.texts[-1]
    assert await store.export_user(p.id) == before


async def test_typed_numbers_are_not_answers_where_buttons_are_not_numbered(person, store):
    """A business question (several may be chosen, buttons named) and an evidence check."""
    p = person(12103)
    await p.send("/start")
    await p.tap("Full assessment")
    await p.send("1")
    assert "Please tap a button under the question." in p.texts[-1]
    assert (await store.open_assessment(p.id)).state.context == {}
    await p.tap("Continue")
    await answer_context(p)
    await p.send("5")  # the best answer: its evidence check comes
    assert "did every one" in p.screen.text
    before = await store.export_user(p.id)
    await p.send("1")
    assert await store.export_user(p.id) == before
    assert "Please tap a button under the question." in p.texts[-1]


def test_an_earlier_content_version_gets_number_buttons():
    """An assessment still open on content 2026.11-1 (whose option labels are whole sentences)
    shows its questions with the numbers 1-5 as buttons, in one row, rather than cut titles."""
    version = next(iter(CONTENT.archived))
    r = Renderer(CONTENT, "en", version)
    flow = Flow(CONTENT.bank_for(version), "full")
    state = AssessmentState(1, "full", flow.first_item, False,
                            {"sector": ("cafe",), "team": ("t2_5",), "channels": ("in_person",)},
                            {})
    screen = r.step(flow, state)
    first_row = [b.label for b in screen.buttons[0]]
    assert first_row == ["1", "2", "3", "4", "5"]
    m = layout.measure(screen.text, [[b.label for b in row] for row in screen.buttons])
    assert not m.cut
