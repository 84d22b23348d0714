"""Reports from the field (issue 10, items 3-9), each replayed through the real Application.

The kinds of items 3 and 4 over every button handler are in test_field_kinds.py; here are the
issue's examples and the other kinds: time zones, groups and channels, edited messages, messages
that are not text, ties and plural rules.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from telegram.ext import CallbackContext

from bot.domain.schedule import (
    CHECKIN_TIME,
    checkin_at,
    clock_choices,
    fixed_offset_zone,
    offered_zones,
    quiet_hours_end,
    zones_for,
)
from bot.domain.scoring import extremes
from bot.storage.cohorts import CohortStore
from bot.telegram.reminders import send_due_reminders
from tests.helpers_domain import at

from .conftest import Person
from .fakes import BOT_USER, buttons
from .test_conversation import answer_context, start_full
from .test_faults import SORRY, TOO_OLD, Errors

_ids = itertools.count(900_000)
GROUP = {"id": -1002003004005, "type": "supergroup", "title": "Café owners"}
SHANGHAI = ZoneInfo("Asia/Shanghai")
# A member whose rights were limited (ChatMemberRestricted's fields; unused ones are ignored).
RESTRICTED = {"is_member": True, "until_date": 0, **{f"can_{right}": False for right in (
    "send_messages", "send_audios", "send_documents", "send_photos", "send_videos",
    "send_video_notes", "send_voice_notes", "send_polls", "send_other_messages",
    "add_web_page_previews", "change_info", "invite_users", "pin_messages", "manage_topics",
    "edit_tag", "react_to_messages")}}


# --- raw updates, as Telegram sends them -------------------------------------------------------
def user_json(user_id: int, language: str = "en") -> dict:
    return {"id": user_id, "is_bot": False, "first_name": "Ann", "language_code": language}


def message_json(chat: dict, user_id: int, language: str = "en", **fields) -> dict:
    text = fields.get("text")
    if text and text.startswith("/") and "entities" not in fields:
        fields["entities"] = [{"type": "bot_command", "offset": 0,
                               "length": len(text.split()[0])}]
    return {"message_id": next(_ids), "date": int(time.time()), "chat": chat,
            "from": user_json(user_id, language), **fields}


def private(p: Person) -> dict:
    return {"id": p.id, "type": "private", "first_name": "Ann"}


async def send(p: Person, **fields) -> dict:
    """A private message of any kind (text=..., sticker=..., contact=...); the message sent."""
    message = message_json(private(p), p.id, p.language_code, **fields)
    await p.process({"update_id": next(_ids), "message": message})
    return message


async def edit(p: Person, message: dict, text: str) -> None:
    """The user edits an earlier message of theirs to `text`."""
    edited = {**message, "text": text, "edit_date": int(time.time())}
    edited.pop("entities", None)
    if text.startswith("/"):
        edited["entities"] = [{"type": "bot_command", "offset": 0,
                               "length": len(text.split()[0])}]
    await p.process({"update_id": next(_ids), "edited_message": edited})


async def in_group(p: Person, **fields) -> None:
    await p.process({"update_id": next(_ids),
                     "message": message_json(GROUP, p.id, p.language_code, **fields)})


async def tap_in_group(p: Person, data: str) -> None:
    message = {"message_id": 77, "date": int(time.time()), "chat": GROUP, "from": BOT_USER,
               "text": "an old message of the bot"}
    await p.process({"update_id": next(_ids), "callback_query": {
        "id": f"g{next(_ids)}", "from": user_json(p.id), "chat_instance": "g", "data": data,
        "message": message}})


async def quick_check(p: Person, option: int = 1) -> int:
    await p.send("/start")
    await p.tap("Quick check")
    await answer_context(p)
    for _ in range(8):
        await p.tap(option)
    return (await store_of(p).finished_assessments(p.id))[0].state.id


def store_of(p: Person):
    return p.app.bot_data["coach"].store


def sent_to(telegram, chat_id: int, method: str = "sendMessage") -> list:
    return [c for c in telegram.called(method) if int(c.params["chat_id"]) == chat_id]


# --- item 3: a failed answer never stops the work ----------------------------------------------
async def test_cohort_consent_is_recorded_when_the_answer_is_too_old(app, person, telegram,
                                                                      store):
    errors = Errors(app)
    trainer = person(8001)
    await trainer.send("/trainer")
    await trainer.tap("New cohort")
    await trainer.send("Spring course")
    cohort = (await CohortStore(store.engine).owned(trainer.id))[0]
    p = person(8002)
    await p.send(f"/start c_{cohort.code}")
    telegram.fail("answerCallbackQuery", 400, TOO_OLD)
    await p.press(f"cj:{cohort.code}:s")
    assert await CohortStore(store.engine).membership(cohort.id, p.id) == "share"
    assert "You joined" in " ".join(p.texts) and not any(SORRY in t for t in p.texts)
    assert errors.seen == []


# --- item 4: done is confirmed even when the message can't be edited ---------------------------
async def test_delete_is_confirmed_when_the_message_cant_be_edited(app, person, telegram, store):
    errors = Errors(app)
    p = person(8101)
    await quick_check(p)
    await p.send("/delete")
    telegram.fail("editMessageText", 400, "Bad Request: message can't be edited")
    await p.tap("Yes, delete")
    assert await store.count_rows(p.id) == 0
    assert "Everything about you has been deleted" in p.texts[-1]
    assert not any(SORRY in t for t in p.texts) and errors.seen == []


async def test_a_tap_on_a_message_too_old_to_reach_gets_a_new_message(app, person, telegram,
                                                                       store):
    """Telegram sends a message older than 48 hours as inaccessible (date 0): no edit is even
    tried, the answer is stored and the next question comes as a new message."""
    errors = Errors(app)
    p = person(8102)
    await start_full(p)
    data = buttons(p.screen)[1][1]
    edits = len(telegram.called("editMessageText"))
    await p.process({"update_id": next(_ids), "callback_query": {
        "id": "old", "from": user_json(p.id), "chat_instance": "ci", "data": data,
        "message": {"message_id": p.screen.message_id, "date": 0, "chat": private(p)}}})
    assert len((await store.open_assessment(p.id)).state.answers) == 1
    assert at(2) in p.screen.text and len(telegram.called("editMessageText")) == edits
    assert (await store.open_assessment(p.id)).message_id == p.screen.message_id
    assert errors.seen == []


# --- item 5: check-ins at the user's local time ------------------------------------------------
def test_zone_lists_per_language():
    assert zones_for("zh-Hans")[:4] == ("Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei",
                                        "Asia/Singapore")
    assert zones_for("zh-Hant")[:3] == ("Asia/Taipei", "Asia/Hong_Kong", "Asia/Macau")
    assert "Europe/London" in zones_for("en") and zones_for("fr") == zones_for("en")
    for name in offered_zones():
        ZoneInfo(name)  # every offered name exists in the tz database


def test_fixed_offsets_and_clock_readings():
    assert fixed_offset_zone(8) == "Etc/GMT-8" and fixed_offset_zone(-5) == "Etc/GMT+5"
    assert fixed_offset_zone(0) == "UTC"
    assert datetime(2026, 1, 1, tzinfo=UTC).astimezone(ZoneInfo("Etc/GMT-8")).hour == 8
    now = datetime(2026, 1, 1, 12, 7, tzinfo=UTC)
    readings = [(local.hour, local.minute) for _, local in clock_choices(now)]
    assert len(readings) == len(set(readings)) >= 24  # each reading once, every hour
    assert readings == sorted(readings)
    assert ("Asia/Kolkata", 17, 37) in [(z, t.hour, t.minute) for z, t in clock_choices(now)]


def test_check_in_time_is_ten_local_on_the_day_and_quiet_hours_are_local():
    evening = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai, Monday
    due = checkin_at(evening, 7, SHANGHAI)
    assert due.astimezone(SHANGHAI) == datetime(2026, 3, 9, 10, 0, tzinfo=SHANGHAI)
    # Across a daylight-saving change (New York, 8 March 2026): still 10:00 local.
    ny = ZoneInfo("America/New_York")
    assert checkin_at(datetime(2026, 3, 5, 15, tzinfo=UTC), 7, ny).astimezone(ny).hour == 10
    # 22:30 in Shanghai is quiet there (not in UTC): wait for 09:00 Shanghai.
    assert quiet_hours_end(evening, "Asia/Shanghai", "UTC") == datetime(2026, 3, 3, 1, 0,
                                                                       tzinfo=UTC)
    assert quiet_hours_end(evening, None, "UTC") is None
    assert quiet_hours_end(evening, "No/Such_Zone", "UTC") is None  # falls back, never fails


async def test_zh_hans_check_in_asks_the_zone_once_and_comes_at_ten_in_shanghai(
        app, person, telegram, store):
    p = person(8201, "zh-hans")
    await p.send("/start")
    await p.tap("快速自查")
    await p.tap("咖啡馆")
    await p.tap("2-5")
    await p.tap("面对面")
    await p.tap("完成")
    await p.tap("完成")
    for _ in range(8):
        await p.tap(1)
    asked = datetime.now(UTC)
    await p.tap("回访提醒")  # the report offers check-ins; one tap asks when
    await p.tap("7 天后")
    labels = [label for label, _ in buttons(p.screen)]
    assert labels[:4] == ["上海", "香港", "台北", "新加坡"] and "其他" in labels[-1]
    await p.tap("上海")
    assert (await store.get_user(p.id)).timezone == "Asia/Shanghai"
    (due,) = await store.pending_reminders(p.id)
    local = due.astimezone(SHANGHAI)
    assert local.time() == CHECKIN_TIME
    assert local.date() - asked.astimezone(SHANGHAI).date() in (timedelta(days=7),
                                                               timedelta(days=6))
    text = p.texts[-1]
    assert "上海时间" in text and re.search(r"\d+月\d+日周. 10:00", text), text
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text)  # no ISO date
    # The next check-in does not ask again.
    aid = (await store.finished_assessments(p.id))[0].state.id
    await p.press(f"rem:{aid}:30")
    assert "我会在上海时间" in p.texts[-1]


async def test_other_zone_by_the_time_on_the_users_clock(app, person, telegram, store):
    p = person(8202)
    aid = await quick_check(p)
    await p.tap("Check-ins")
    await p.tap("In 7 days")
    await p.tap("Another")
    assert "What time is it for you now?" in p.screen.text
    clock = {data.split(":")[1]: label for label, data in buttons(p.screen)}
    now_plus_8 = datetime.now(UTC).astimezone(ZoneInfo("Etc/GMT-8"))
    assert clock["Etc/GMT-8"] in (now_plus_8.strftime("%H:%M"),
                                  (now_plus_8 - timedelta(minutes=1)).strftime("%H:%M"))
    await p.press(f"tz:Etc/GMT-8:{aid}:7")
    assert (await store.get_user(p.id)).timezone == "Etc/GMT-8"
    (due,) = await store.pending_reminders(p.id)
    assert due.astimezone(UTC).hour == 2  # 10:00 at UTC+8
    assert "at 10:00 (GMT+08:00 time)" in p.texts[-1]


async def test_timezone_command_changes_the_zone_and_moves_the_check_in(app, person, store):
    p = person(8203)
    aid = await quick_check(p)
    await store.set_timezone(p.id, "Asia/Shanghai")
    await p.press(f"rem:{aid}:7")
    (before,) = await store.pending_reminders(p.id)
    await p.send("/timezone")
    assert "Your time zone now: Shanghai" in p.screen.text
    await p.tap("London")
    assert (await store.get_user(p.id)).timezone == "Europe/London"
    (after,) = await store.pending_reminders(p.id)
    london = ZoneInfo("Europe/London")
    assert after.astimezone(london).time() == CHECKIN_TIME
    assert after.astimezone(london).date() == before.astimezone(SHANGHAI).date()
    assert "Time zone: London" in p.texts[-1] and "Your next check-in" in p.texts[-1]


async def test_settings_shows_language_and_zone_and_changes_the_zone(app, person, store):
    p = person(8206, "zh-hant")
    await p.send("/settings")
    assert "繁體中文" in p.screen.text and "還沒有選擇" in p.screen.text
    labels = [label for label, _ in buttons(p.screen)]
    assert labels[:3] == ["台北", "香港", "澳門"] and "語言" in labels[-1]
    await p.tap("台北")
    assert (await store.get_user(p.id)).timezone == "Asia/Taipei"
    assert "時區：台北" in p.texts[-1]
    await p.send("/settings")
    assert "時區：台北" in p.screen.text


async def test_a_zone_that_was_not_offered_changes_nothing(app, person, telegram, store):
    p = person(8204)
    await p.send("/start")
    for forged in ("tz:Mars/Olympus", "tz:Europe/Kyiv", "tz:posixrules", "tz:Asia/Shanghai:1:7"):
        await p.press(forged)
    assert (await store.get_user(p.id)).timezone is None
    assert telegram.callback_answers()[-1]["text"] == "That choice is not available here."


async def test_check_ins_keep_quiet_hours_in_the_users_zone(app, person, telegram, store):
    p = person(8205)
    aid = await quick_check(p)
    await store.set_timezone(p.id, "Asia/Shanghai")
    await p.press(f"rem:{aid}:7")
    (due,) = await store.pending_reminders(p.id)
    night = due.replace(hour=14, minute=30) + timedelta(days=1)  # 22:30 in Shanghai; UTC day
    assert await send_due_reminders(CallbackContext(app), now=night) == 0
    (morning,) = await store.pending_reminders(p.id)
    assert morning.astimezone(SHANGHAI).hour == 9 and morning > night
    assert await send_due_reminders(CallbackContext(app), now=morning) == 1
    await p.tap("Still working")
    assert re.search(r"again on \w{3}, \w+ \d{1,2} at 10:00", p.texts[-1]), p.texts[-1]


# --- item 6: groups and channels ----------------------------------------------------------------
async def test_group_members_leave_no_trace_and_get_one_answer(app, person, telegram, store):
    p = person(8301)
    await in_group(p, text="hello everyone")
    await p.process({"update_id": next(_ids), "message_reaction": {
        "chat": GROUP, "message_id": 5, "user": user_json(p.id), "date": int(time.time()),
        "old_reaction": [], "new_reaction": [{"type": "emoji", "emoji": "👍"}]}})
    await in_group(p, text="/retake")
    await in_group(p, text="/start@other_bot")
    assert telegram.called("sendMessage") == []
    await in_group(p, text="/start@trust_cx_bot")
    (hello,) = sent_to(telegram, GROUP["id"])
    markup = hello.params["reply_markup"]
    markup = json.loads(markup) if isinstance(markup, str) else markup
    assert markup["inline_keyboard"][0][0]["url"] == "https://t.me/trust_cx_bot"
    assert "private chat" in hello.params["text"]
    await in_group(p, text="/help")
    assert len(sent_to(telegram, GROUP["id"])) == 2  # one answer per command
    assert await store.get_user(p.id) is None and await store.count_rows(p.id) == 0


async def test_being_added_to_a_group_is_answered_once(app, person, telegram, store):
    p = person(8302, "zh-hans")

    def member_change(old: str, new: str) -> dict:
        return {"update_id": next(_ids), "my_chat_member": {
            "chat": GROUP, "from": user_json(p.id, "zh-hans"), "date": int(time.time()),
            "old_chat_member": {"user": BOT_USER, "status": old, **RESTRICTED},
            "new_chat_member": {"user": BOT_USER, "status": new, **RESTRICTED}}}

    await p.process(member_change("left", "member"))
    (hello,) = sent_to(telegram, GROUP["id"])
    assert "私聊" in hello.params["text"]
    await p.process(member_change("member", "restricted"))  # restricted: not added
    await p.process(member_change("restricted", "left"))
    assert len(sent_to(telegram, GROUP["id"])) == 1
    assert await store.count_rows(p.id) == 0


async def test_a_tap_in_a_group_never_sends_anything_into_it(app, person, telegram, store):
    p = person(8303)
    aid = await quick_check(p)
    trainer = person(8304)
    await trainer.send("/trainer")
    await trainer.tap("New cohort")
    await trainer.send("Spring course")
    cohort = (await CohortStore(store.engine).owned(trainer.id))[0]
    before = {m: len(telegram.called(m)) for m in ("sendMessage", "sendDocument", "sendPhoto")}
    for data in (f"doc:{aid}", f"plan:{aid}", "rep", f"rem:{aid}:7", "del:yes"):
        await tap_in_group(p, data)
    for data in (f"tr:csv:{cohort.id}", f"tr:dash:{cohort.id}", f"tr:qr:{cohort.id}"):
        await tap_in_group(trainer, data)
    after = {m: len(telegram.called(m)) for m in before}
    assert after == before
    assert all("private chat" in a["text"] for a in telegram.callback_answers()[-8:])
    assert await store.count_rows(p.id) > 0  # del:yes in the group deleted nothing


@pytest.mark.parametrize("kind, payload", [
    ("poll_answer", lambda u: {"poll_id": "p1", "user": u, "option_ids": [0],
                               "option_persistent_ids": ["a"]}),
    ("chat_join_request", lambda u: {"chat": GROUP, "from": u, "user_chat_id": u["id"],
                                     "date": int(time.time())}),
    ("message_reaction", lambda u: {"chat": {"id": u["id"], "type": "private"},
                                    "message_id": 3, "user": u, "date": int(time.time()),
                                    "old_reaction": [],
                                    "new_reaction": [{"type": "emoji", "emoji": "❤"}]}),
    ("inline_query", lambda u: {"id": "iq", "from": u, "query": "trust", "offset": ""}),
    ("chosen_inline_result", lambda u: {"result_id": "r", "from": u, "query": "trust"}),
    ("channel_post", lambda u: {"message_id": 9, "date": int(time.time()), "text": "/start",
                                "chat": {"id": -1009, "type": "channel", "title": "News"},
                                "entities": [{"type": "bot_command", "offset": 0,
                                              "length": 6}]}),
    ("edited_channel_post", lambda u: {"message_id": 9, "date": int(time.time()),
                                       "edit_date": int(time.time()), "text": "x",
                                       "chat": {"id": -1009, "type": "channel", "title": "N"}}),
    ("chat_member", lambda u: {"chat": GROUP, "from": u, "date": int(time.time()),
                               "old_chat_member": {"user": u, "status": "left"},
                               "new_chat_member": {"user": u, "status": "member"}}),
    ("edited_message", lambda u: {"message_id": 9, "date": int(time.time()),
                                  "edit_date": int(time.time()), "chat": GROUP, "from": u,
                                  "text": "/start"}),
    ("callback_query", lambda u: {"id": "inline", "from": u, "chat_instance": "x",
                                  "inline_message_id": "abc", "data": "rep"}),
])
async def test_updates_the_bot_does_not_serve_create_no_rows(app, person, telegram, store, kind,
                                                              payload):
    p = person(8310)
    errors = Errors(app)
    await p.process({"update_id": next(_ids), kind: payload(user_json(p.id))})
    assert await store.get_user(p.id) is None and await store.count_rows(p.id) == 0
    assert telegram.called("sendMessage") == [] and errors.seen == []


async def test_blocking_the_bot_after_delete_does_not_bring_the_user_back(app, person, store):
    p = person(8311)
    await p.send("/start")
    await p.send("/delete")
    await p.tap("Yes, delete")
    await p.process({"update_id": next(_ids), "my_chat_member": {
        "chat": private(p), "from": user_json(p.id), "date": int(time.time()),
        "old_chat_member": {"user": BOT_USER, "status": "member"},
        "new_chat_member": {"user": BOT_USER, "status": "kicked", "until_date": 0}}})
    assert await store.count_rows(p.id) == 0


# --- item 7: edits are not new messages ---------------------------------------------------------
async def test_editing_help_into_retake_mid_assessment_runs_nothing(app, person, telegram,
                                                                     store):
    p = person(8401)
    await start_full(p)
    help_message = await send(p, text="/help")
    await p.tap(1)
    record = await store.open_assessment(p.id)
    calls = len(telegram.calls)
    await edit(p, help_message, "/retake")
    await edit(p, help_message, "some text")
    after = await store.open_assessment(p.id)
    assert after.state.id == record.state.id and len(after.state.answers) == 1
    assert telegram.calls[calls:] == []


async def test_fixing_a_typo_in_the_cohort_name_renames_it(app, person, telegram, store):
    t = person(8402)
    await t.send("/trainer")
    await t.tap("New cohort")
    typo = await send(t, text="Cafe ownres, spring")
    await edit(t, typo, "Cafe owners, spring")
    (cohort,) = await CohortStore(store.engine).owned(t.id)
    assert cohort.name == "Cafe owners, spring"
    assert "Renamed to <b>Cafe owners, spring</b>" in t.texts[-1]
    # Renaming from the dashboard, then fixing that name too.
    await t.press(f"tr:ren:{cohort.id}")
    second = await send(t, text="Spring cafe ownrs")
    await edit(t, second, "Spring cafe owners")
    (cohort,) = await CohortStore(store.engine).owned(t.id)
    assert cohort.name == "Spring cafe owners"


async def test_an_edit_while_the_name_is_awaited_is_that_name(app, person, telegram, store):
    t = person(8403)
    earlier = await send(t, text="hello")
    await t.send("/trainer")
    await t.tap("New cohort")
    await edit(t, earlier, "Not a name: sent before the question")
    assert await CohortStore(store.engine).owned(t.id) == []
    too_long = await send(t, text="x" * 61)
    assert "1 to 60 characters" in t.texts[-1]
    await edit(t, too_long, "Autumn course")
    (cohort,) = await CohortStore(store.engine).owned(t.id)
    assert cohort.name == "Autumn course"


# --- item 8: never silent -------------------------------------------------------------------------
FILE = {"file_id": "f1", "file_unique_id": "u1"}
NOT_TEXT = {
    "sticker": {**FILE, "type": "regular", "width": 512, "height": 512, "is_animated": False,
                "is_video": False},
    "photo": [{**FILE, "width": 90, "height": 90}],
    "voice": {**FILE, "duration": 3},
    "video": {**FILE, "width": 640, "height": 480, "duration": 5},
    "video_note": {**FILE, "length": 240, "duration": 5},
    "audio": {**FILE, "duration": 60},
    "document": {**FILE, "file_name": "menu.pdf"},
    "location": {"latitude": 31.23, "longitude": 121.47},
    "venue": {"location": {"latitude": 31.23, "longitude": 121.47}, "title": "Shop",
              "address": "Nanjing Rd"},
    "contact": {"phone_number": "+8613812345678", "first_name": "Li", "user_id": 8501},
    "dice": {"emoji": "🎲", "value": 3},
}


@pytest.mark.parametrize("kind", list(NOT_TEXT))
async def test_anything_sent_mid_assessment_gets_the_hint_with_continue(app, person, telegram,
                                                                        kind):
    p = person(8501)
    await start_full(p)
    await send(p, **{kind: NOT_TEXT[kind]})
    assert p.texts[-1] == ("Please tap a button under the question, or type the number of "
                           "your answer (1-5). Your answers so far are saved.")
    assert buttons(telegram.chat(p.id)[-1])[0][0] == "▶ Continue"


@pytest.mark.parametrize("fields", [{"sticker": NOT_TEXT["sticker"]},
                                    {"contact": NOT_TEXT["contact"]},
                                    {"text": "/nonsense"}])
async def test_anything_sent_outside_an_assessment_gets_the_idle_hint(app, person, fields):
    p = person(8502)
    await send(p, **fields)
    assert p.texts[-1].startswith("Send /start to begin an assessment")


async def test_a_contacts_phone_number_is_never_stored_or_logged(app, person, store, caplog,
                                                                 tmp_path):
    caplog.set_level(logging.DEBUG)
    p = person(8503)
    await start_full(p)
    await send(p, contact=NOT_TEXT["contact"])
    assert "13812345678" not in json.dumps(await store.export_user(p.id))
    assert "13812345678" not in caplog.text
    database = b"".join(f.read_bytes() for f in tmp_path.glob("bot.db*"))
    assert b"13812345678" not in database


async def test_a_sticker_instead_of_a_cohort_name_is_asked_again(app, person, store):
    t = person(8504)
    await t.send("/trainer")
    await t.tap("New cohort")
    await send(t, sticker=NOT_TEXT["sticker"])
    assert "1 to 60 characters" in t.texts[-1]
    await t.send("Spring")
    assert (await CohortStore(store.engine).owned(t.id))[0].name == "Spring"


# --- item 9: ties and plural rules -------------------------------------------------------------
def test_extremes_name_ties_and_say_when_all_are_equal():
    order = ("a", "b", "c", "d")
    assert extremes({"a": 50, "b": 50, "c": 50, "d": 50}, order) == ((), ())
    assert extremes({"a": 75, "b": 75, "c": 25, "d": None}, order) == (("a", "b"), ("c",))
    assert extremes({"a": 25, "b": 100, "c": 25, "d": 100}, order) == (("b", "d"), ("a", "c"))
    assert extremes({}, order) == ((), ())


async def test_all_dimensions_tied_says_so(app, person, telegram):
    p = person(8601)
    await quick_check(p, option=1)  # every dimension 25
    summary = next(t for t in p.texts if "Trust Index" in t)
    assert "All 8 dimensions score the same (25)" in summary
    assert "Strongest" not in summary and "Weakest" not in summary


async def test_one_priority_and_a_tie_for_strongest(app, person, telegram, store):
    """Seven dimensions at the top and one gap: "Strongest, tied", "Your top priority" and a
    plan of one action ("1 of 1"), never "top 1 priorities"."""
    p = person(8602)
    await p.send("/start")
    await p.tap("Quick check")
    await answer_context(p)
    for n in range(8):
        await p.tap(4 if n else 1)  # the first item scores 1, the rest 4
        if any(d.startswith("ev:") for _, d in buttons(p.screen)):
            await p.tap("Yes, every one")
    card = next(t for t in p.texts if "Trust Index" in t)
    assert "Strongest, tied: " in card and "Weakest: Integrity" in card
    await p.tap("🎯 Your top priority ▸")  # the card's button: one, not "top 1 priorities"
    assert "Your top priority" in p.texts[-1] and "1 priorities" not in p.texts[-1]
    await p.send("/plan")
    assert "0 of 1 done" in p.screen.text
    await store.set_timezone(p.id, "UTC")
    aid = (await store.finished_assessments(p.id))[0].state.id
    await p.press(f"rem:{aid}:7")
    later = datetime.now(UTC).replace(hour=12) + timedelta(days=8)
    assert await send_due_reminders(CallbackContext(app), now=later) == 1
    assert "0 of 1 action done" in p.texts[-1]


@pytest.mark.parametrize("key, extra", [
    ("priorities_title", {}),
    ("coach.checkin", {"action": "A", "first_step": "B", "done": 0}),
    ("coach.checkin_done", {"done": 1, "next": ""}),
    ("trainer.change_title", {}),
    ("trainer.counted_hidden", {"counted": 3, "finished": 5, "min_group": 5,
                                "share_name": "S"}),
    ("trainer.waiting_first", {"needed": 4, "min_group": 5, "aggregate_name": "A"}),
    ("trainer.waiting_next", {"needed": 4, "min_group": 5, "aggregate_name": "A"}),
    ("trainer.change_pending", {"retakers": 0}),
    ("trainer.menu", {}),
    ("trainer.created", {"name": "N", "link": "L", "trainer": "T", "share_name": "S",
                         "aggregate_name": "A", "mode_line": "M"}),
    ("summary_even", {"score": "50"}),
])
def test_count_messages_follow_each_locales_plural_rules(content, key, extra):
    from bot.content.render import Renderer

    en = Renderer(content, "en")
    one, many = str(en.message(key, count=1, **extra)), str(en.message(key, count=3, **extra))
    assert not re.search(r"\b1 (priorities|participants|actions|dimensions|people)\b", one), one
    assert one != many
    zh = Renderer(content, "zh-Hans")
    assert "1" in str(zh.message(key, count=1, **extra))  # Chinese: one form for every count


def test_content_check_wants_every_plural_form(tmp_path):
    import shutil

    from bot.content import ContentError, load_content
    from bot.content.loader import DEFAULT_CONTENT_DIR

    copy = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, copy, ignore=shutil.ignore_patterns("articles"))
    ui = copy / "locales" / "en" / "ui.yaml"
    text = ui.read_text()
    text = text.replace('  one: "<b>Your top priority</b>"\n', "")
    text = text.replace('summary_even:\n', 'summary_even_old:\n')
    text += 'summary_even: "All {{ count }} dimensions score the same ({{ score }})."\n'
    ui.write_text(text)
    with pytest.raises(ContentError) as caught:
        load_content(copy, DEFAULT_CONTENT_DIR / "articles")
    problems = "\n".join(str(p) for p in caught.value.problems)
    assert "priorities_title: one: plural form missing" in problems
    assert "summary_even: -: counts with {{ count }}" in problems
