"""The result first (issue 13, item 2): the report is one result card, sent alone (the radar chart
with the card as its caption and the offers as its buttons), the top priorities one at a time
behind its first button, /report without asking about check-ins again; and coaching continuity
(item 4): welcome back with the plan's status, a check-in's Done asks which action, earlier ticks
stay in view after a retake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from telegram.ext import CallbackContext

from bot.content import layout
from bot.content.render import Renderer, to_plain
from bot.domain.context import business_context
from bot.telegram.reminders import send_due_reminders

from .conftest import Person
from .fakes import buttons
from .helpers_domain import CAFE, real_content
from .test_coaching import finish_quick

CONTENT = real_content()
QUICK = CONTENT.bank.items_for("quick", business_context(CAFE))
SENT = ("sendMessage", "sendPhoto", "sendDocument")


def titles(message) -> list[str]:
    return [label for label, _ in buttons(message)]


async def quick_with_a_blind_spot_and_a_cap(p: Person, locale: str) -> list:
    """A café's quick check: the first answer "not sure", the second the best answer but not
    for every customer (counted one step lower), the rest the second option. The calls the
    last tap made."""
    r = Renderer(CONTENT, locale)
    await p.send("/start")
    await p.tap(r.button("quick").split(" (")[0].split("（")[0])
    for option in ("cafe", "t2_5", "in_person"):
        await p.press(next(d for _, d in buttons(p.screen) if d.endswith(f":{option}")))
    for _ in range(2):
        await p.press(next(d for _, d in buttons(p.screen) if d.startswith("ok:")))
    await p.tap(r.button("unsure"))
    await p.press(next(d for _, d in buttons(p.screen) if d.startswith("ans:")
                       and d.endswith(f":{max(QUICK[1].options, key=lambda o: o.score).id}")))
    await p.tap(r.button("evidence_no"))
    for _ in range(len(QUICK) - 3):
        await p.tap(1)
    before = len(p.telegram.calls)
    await p.tap(1)
    return p.telegram.calls[before:]


@pytest.mark.parametrize("code,locale", [("en", "en"), ("zh-hans", "zh-Hans")])
async def test_the_result_card_comes_alone_and_explains_the_score(person, telegram, store,
                                                                  code, locale):
    p = person(13001, code)
    calls = await quick_with_a_blind_spot_and_a_cap(p, locale)
    r = Renderer(CONTENT, locale)
    sent = [c for c in calls if c.method in SENT]
    assert [c.method for c in sent] == ["sendPhoto"], "the card comes first, and alone"
    record = (await store.finished_assessments(p.id))[0]
    scores = record.scores
    caption = sent[0].params["caption"]
    plain = to_plain(caption)
    assert plain.startswith(to_plain(r.message(
        "card.score", overall=f"{scores['overall']:.0f}", level=r.level(scores["level"]),
        delta="")))  # "Your score: 31/100 · Emerging"
    assert r.model(f"levels.{scores['level']}.description") in plain  # what the level means
    for index, value in scores["indices"].items():  # each index explained in a line
        line = r.message("card.index", name=r.model(f"indices.{index}"),
                         score=f"{value:.0f}", meaning=r.message(f"card.{index}"))
        assert to_plain(line) in plain
    assert to_plain(r.message("summary_strongest", tied=False, names="")).rstrip() in plain
    business = r.business(record.state.context)
    unsure = to_plain(r.item_label(QUICK[0].id, business))
    capped = to_plain(r.item_label(QUICK[1].id, business))
    assert to_plain(r.message("blind_spots", items=unsure)) in plain  # "not sure" counts as 0
    assert to_plain(r.message("capped_note", items=capped)) in plain
    assert layout.telegram_length(caption) <= layout.CAPTION_LIMIT
    # Landing: the caption and its buttons fit one phone view, so the score is on screen.
    card = telegram.messages[p.id][max(telegram.messages[p.id])]
    assert card.kind == "photo" and card.text == caption
    rows = card.reply_markup["inline_keyboard"]
    assert layout.bubble_height(caption, locale) + layout.keyboard_height(len(rows)) \
        <= layout.VISIBLE_HEIGHT
    assert titles(card) == [to_plain(r.message("priorities_button", count=3)),
                            r.button("plan_short"), r.button("report_document"),
                            r.plain("feedback.buttons.team_view"),
                            r.plain("feedback.buttons.customers_view"),
                            r.button("checkin"), r.button("retake")]
    assert not any(r.message("coach.reminder_offer") in t for t in p.texts)


async def test_the_priorities_come_one_at_a_time_in_one_message(person, telegram):
    p = person(13002)
    await finish_quick(p)
    await p.tap("Your top 3 priorities")
    pager = p.screen
    assert "Priority 1 of 3" in pager.text and titles(pager)[0] == "Next priority ▸"
    sends = len(telegram.called("sendMessage"))
    shown = [pager.text]
    for label in ("Next priority", "Next priority", "First priority"):
        await p.tap(label)
        assert p.screen.message_id == pager.message_id  # edited in place
        shown.append(p.screen.text)
        measure = layout.measure(p.screen.text, [[t] for t in titles(p.screen)])
        assert measure.fits, measure  # a priority and its buttons: one phone view
    assert len(telegram.called("sendMessage")) == sends, "no new message"
    assert ["Priority 1 of 3" in shown[0], "Priority 2 of 3" in shown[1],
            "Priority 3 of 3" in shown[2], "Priority 1 of 3" in shown[3]] == [True] * 4
    assert titles(p.screen)[0] == "Next priority ▸"  # back at the first, on to the second


async def test_report_sends_the_result_again_without_asking_about_check_ins(person,
                                                                              telegram):
    p = person(13003)
    await finish_quick(p)
    photos = len(telegram.called("sendPhoto"))
    await p.send("/report")
    assert len(telegram.called("sendPhoto")) == photos + 1
    card = p.screen
    assert card.kind == "photo" and "Your score: 25/100" in card.text
    assert "⏰ Check-ins" not in titles(card) and "🔁 Retake" in titles(card)
    assert not any("Shall I check in" in t for t in p.texts)


async def test_check_ins_are_offered_behind_their_button(person, store):
    p = person(13004)
    await finish_quick(p)
    await p.tap("Check-ins")
    assert "Shall I check in on how your first actions are going?" in p.texts[-1]
    assert titles(p.screen)[:2] == ["⏰ In 7 days", "⏰ In 30 days"]
    assert await store.pending_reminders(p.id) == []  # nothing until asked


# --- coaching continuity --------------------------------------------------------------------
async def plan_titles(p: Person) -> list[str]:
    await p.send("/plan")
    return [label.split(". ", 1)[1] for label in titles(p.screen)]


async def test_a_returning_owner_is_welcomed_back_with_their_status(person, store):
    p = person(13101)
    await finish_quick(p)
    actions = await plan_titles(p)
    await p.tap("☐ 1.")
    await p.tap("☐ 2.")
    await p.send("/start")
    text = to_plain(p.texts[-1])
    assert text.startswith("Welcome back, Ann!") and "I help small businesses" not in text
    assert "Your latest result: 25/100 · Emerging" in text
    assert f"Your plan: 2 of 6 actions done; next: “{actions[2]}”." in text
    assert titles(p.screen)[:2] == ["📊 Your result", "🗓 Your plan"]
    await p.tap("Your plan")
    assert "2 of 6 done" in p.texts[-1]
    zh = person(13102, "zh-hans")
    await zh.send("/start")
    assert "欢迎回来" not in zh.texts[-1]  # a first visit gets the greeting


async def test_a_check_ins_done_asks_which_action(person, store, app):
    p = person(13201)
    await finish_quick(p)
    await store.set_timezone(p.id, "UTC")
    aid = (await store.finished_assessments(p.id))[0].state.id
    actions = await plan_titles(p)
    await p.press(f"rem:{aid}:7")
    later = datetime.now(UTC).replace(hour=12) + timedelta(days=8)
    assert await send_due_reminders(CallbackContext(app), now=later) == 1
    await p.tap("✅ Done")
    assert "Which one did you do?" in p.screen.text
    assert titles(p.screen) == [f"☐ {n}. {t}" for n, t in enumerate(actions, start=1)] + [
        "💪 Still working on it"]
    question = p.screen
    third = await p.tap("☐ 3.")
    assert [i.done for i in await store.plan_items(aid)] == [False, False, True] + [False] * 3
    assert f"Well done! 1 of 6 actions done. Next: “{actions[0]}”." in p.texts[-1]
    await p.press(third, question.message_id)  # the same tap again: ticked once
    assert sum(i.done for i in await store.plan_items(aid)) == 1


async def test_earlier_ticks_stay_in_view_after_a_retake(person, store):
    """Ticks are not carried over (an action comes back only while its practice is still at the
    same level): the new plan marks the actions ticked last time, and lists the others."""
    p = person(13301)
    await finish_quick(p, option=1)
    first = await plan_titles(p)
    await p.tap("☐ 1.")
    await p.tap("☐ 2.")
    await finish_quick(p, option=1)  # a retake, the same answers: the same actions
    assert await plan_titles(p) == first
    text = to_plain(p.screen.text)
    assert "0 of 6 done" in text  # nothing carried over
    assert text.count("ticked last time") == 2
    for title in first[:2]:
        assert f"☐ {title} (small) · ticked last time" in text
    await p.tap("☐ 1.")
    await finish_quick(p, option=2)  # better answers: other actions
    assert first[0] not in await plan_titles(p)
    assert f"☑ Ticked in your previous plan: {first[0]}" in to_plain(p.screen.text)
