"""Coaching after the report: plan marking, reminders, history, the second report's overlay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from telegram.ext import CallbackContext

from bot.coaching import quiet_hours_end
from bot.storage import Store
from bot.telegram.reminders import send_due_reminders
from tests.helpers_domain import FULL_ITEMS

from .conftest import Person, make_app
from .fakes import buttons
from .test_conversation import answer_context


async def finish_quick(p: Person, option: int = 1) -> None:
    await p.send("/start")
    await p.tap("Quick check")
    if any("the same" in label for label, _ in buttons(p.screen)):
        await p.tap("the same")  # a retake: the same business as last time
    else:
        await answer_context(p)
    for _ in range(8):
        await p.tap(option)


async def test_plan_marking_is_idempotent_and_validated(person, telegram, store):
    p = person(9001)
    await finish_quick(p)
    await p.send("/plan")
    assert "0 of 6 done" in p.screen.text
    first = buttons(p.screen)[0][1]
    assert first.startswith("pa:") and first.endswith(":1")
    await p.press(first)
    await p.press(first)  # double tap
    assert "1 of 6 done" in p.screen.text
    record = (await store.finished_assessments(p.id))[0]
    assert sum(i.done for i in await store.plan_items(record.state.id)) == 1

    other = person(9002)
    await other.send("/start")
    await other.press(first)  # another user's action id
    await other.press(first[:-1] + "0")
    assert sum(i.done for i in await store.plan_items(record.state.id)) == 1
    assert telegram.callback_answers()[-1]["text"] == "That choice is not available here."

    await p.press(first[:-1] + "0")  # back to not done
    assert sum(i.done for i in await store.plan_items(record.state.id)) == 0


async def test_report_offers_a_check_in_and_the_weakest_lesson(person, store):
    p = person(9101, "zh-hans")
    await p.send("/start")
    await p.tap("快速自查")
    await p.tap("咖啡馆")
    await p.tap("2-5")
    await p.tap("面对面")
    await p.tap("完成")
    await p.tap("完成")
    for _ in range(8):
        await p.tap(1)
    await p.tap("回访提醒")
    await p.tap("7 天后")
    await p.tap("上海")  # asked once: check-ins come at local time
    assert "我会在上海时间" in p.texts[-1]
    assert len(await store.pending_reminders(p.id)) == 1
    await p.tap("小课")
    assert "本周试一试" in p.texts[-1]


async def in_7_days_utc(p: Person) -> None:
    """Ask for a check-in in 7 days; the time zone: another, the clock that shows UTC's time."""
    await p.tap("Check-ins")
    await p.tap("In 7 days")
    await p.tap("Another")
    utc = next(data for _, data in buttons(p.screen) if data.startswith("tz:UTC:"))
    await p.press(utc)


async def test_a_due_reminder_is_sent_once_across_two_apps_and_a_restart(
        content, db_url, telegram, person):
    store_a = await Store.open(db_url)
    app_a = await make_app(content, store_a, telegram, timezone="UTC")
    p = Person(app_a, telegram, 9201)
    await finish_quick(p)
    await in_7_days_utc(p)
    await app_a.shutdown()
    await store_a.close()  # a restart between scheduling and sending

    store_b = await Store.open(db_url)
    store_c = await Store.open(db_url)
    app_b = await make_app(content, store_b, telegram, timezone="UTC")
    app_c = await make_app(content, store_c, telegram, timezone="UTC")
    noon_in_8_days = datetime.now(UTC).replace(hour=12) + timedelta(days=8)
    import asyncio

    sent = await asyncio.gather(
        send_due_reminders(CallbackContext(app_b), now=noon_in_8_days),
        send_due_reminders(CallbackContext(app_c), now=noon_in_8_days),
        send_due_reminders(CallbackContext(app_b), now=noon_in_8_days))
    assert sum(sent) == 1
    checkins = [c for c in telegram.called("sendMessage") if "Check-in time" in c.params["text"]]
    assert len(checkins) == 1 and checkins[0].params["chat_id"] == 9201
    # Answering it: done asks which action, and ticks off the one tapped.
    p_b = Person(app_b, telegram, 9201)
    await p_b.tap("Done")
    await p_b.tap("☐ 1.")
    record = (await store_b.finished_assessments(9201))[0]
    assert sum(i.done for i in await store_b.plan_items(record.state.id)) == 1
    for app, s in ((app_b, store_b), (app_c, store_c)):
        await app.shutdown()
        await s.close()


async def test_forbidden_marks_the_user_inactive_and_stops_reminders(app, person, telegram,
                                                                     store):
    p = person(9301)
    await finish_quick(p)
    await in_7_days_utc(p)
    telegram.fail("sendMessage", 403, "Forbidden: bot was blocked by the user")
    later = datetime.now(UTC).replace(hour=12) + timedelta(days=8)
    assert await send_due_reminders(CallbackContext(app), now=later) == 0
    assert (await store.get_user(p.id)).active is False
    assert await store.pending_reminders(p.id) == []
    await p.send("/start")  # writing again makes them active again
    assert (await store.get_user(p.id)).active is True


async def test_night_time_check_ins_wait_for_the_morning(app, person, telegram, store):
    p = person(9401)
    await finish_quick(p)
    await in_7_days_utc(p)
    night = datetime.now(UTC).replace(hour=23, minute=30) + timedelta(days=8)
    assert await send_due_reminders(CallbackContext(app), now=night) == 0
    (due,) = await store.pending_reminders(p.id)
    assert due.hour == 9 and due > night
    assert quiet_hours_end(datetime(2026, 1, 1, 2, 0, tzinfo=UTC), "Asia/Shanghai", "UTC") is None


async def test_history_shows_the_change_per_dimension(person, telegram):
    p = person(9501)
    await finish_quick(p, option=1)
    await p.send("/retake")
    await p.tap("the same")  # the same business as last time: straight to the questions
    for _ in range(FULL_ITEMS):
        await p.tap(2)
    await p.send("/history")
    text = p.texts[-1]
    assert text.count("Full assessment") == 1 and text.count("Quick check") == 1
    assert "▲ +25" in text  # every dimension moved from 25 to 50
    assert text.index("Full assessment") < text.index("Quick check")  # newest first


async def test_second_report_overlays_the_previous_one(person, telegram):
    p = person(9601)
    await finish_quick(p, option=1)
    await p.tap("Retake")
    await p.tap("Something changed")  # through the questions again, the answers kept
    assert "✅ Café or bakery" in [label for label, _ in buttons(p.screen)]  # last time's answer
    for label in ("Café", "2-5", "Done", "Done"):  # "In person" is still ticked
        await p.tap(label)
    for _ in range(8):
        await p.tap(2)
    photos = telegram.called("sendPhoto")
    assert "previous" not in photos[0].params["caption"]
    assert "dashed: your previous assessment" in photos[1].params["caption"]
    assert "Your score: 50/100 · Defined</b> (▲ +25 since last time)" in \
        photos[1].params["caption"]  # 25 -> 50


async def test_every_lesson_renders_in_every_locale(content, store):
    from bot.coaching import Coaching
    from bot.service import Coach

    coaching = Coaching(Coach(content, store))
    for locale in ("zh-Hans", "zh-Hant", "en"):
        for dimension in content.bank.dimensions:
            text = coaching.lesson(dimension, locale)
            lesson = content.texts[locale].lessons[dimension]
            assert lesson.try_this_week[:10] in text.replace("&#39;", "'")
            assert "article" in text or "文章" in text
    assert coaching.lesson("no_such_dimension", "en") is None


async def _tap_through(p: Person) -> None:
    """Answer whatever the open assessment asks (its third option, "yes" to evidence checks,
    the first choice then Done on business questions) until the report arrives."""
    for _ in range(80):
        data = [d for _, d in buttons(p.screen)] if p.screen.reply_markup else []
        if any(d.startswith("doc:") for d in data):
            return
        pick = next((d for d in data if d.startswith("ev:") and d.endswith(":y")), None) \
            or next(iter([d for d in data if d.startswith("ans:")][2:3]), None) \
            or next((d for d in data if d.startswith("rv:")), None)
        if pick is None:
            ticked = any(label.startswith("✅") for label, _ in buttons(p.screen))
            pick = next(d for d in data if d.startswith("ok:" if ticked else "ctx:"))
        await p.press(pick, p.screen.message_id)
    raise AssertionError("the report never came")


async def test_an_assessment_on_the_earlier_content_keeps_its_scores_and_a_retake_compares(
        person, telegram, store):
    """Content 2026.11-1 to 2026.12-1 (issue 12 item 7): an assessment opened on the earlier
    version is finished with its own questions and keeps its scores; a retake runs on the current
    version and /history compares the dimensions with a note that the questions changed."""
    coach = person(9701).app.bot_data["coach"]
    old = next(iter(coach.content.archived))
    assert old != coach.content.bank.version
    p = person(9701)
    await p.send("/start")  # a user who opened the bot while 2026.11-1 was current
    flow = coach.flow("quick", old)
    await store.start_assessment(p.id, "quick", old,
                                 (flow.start_position(True), flow.start_position(False)))
    await p.send("/start")
    await p.tap("Continue")
    await _tap_through(p)
    (first,) = await store.finished_assessments(p.id)
    assert first.content_version == old
    old_items = {i.id for i in coach.content.bank_for(old).items_for("quick", None)}
    assert set(first.state.answers) <= old_items  # answered with its own questions
    kept = first.scores

    await p.send("/retake")
    await _tap_through(p)
    newest, earlier = await store.finished_assessments(p.id)
    assert newest.content_version == coach.content.bank.version
    assert earlier.scores == kept  # the earlier scores are not recomputed with new questions

    await p.send("/history")
    history = p.texts[-1]
    assert history.index("Full assessment") < history.index("Quick check")  # newest first
    assert f"overall <b>{kept['overall']:.0f}</b>" in history
    assert "The questions changed since your previous assessment" in history
