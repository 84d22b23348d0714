"""Failure kinds of the field, tested as kinds: every button handler the Application registers.

- Answering a tap fails (answerCallbackQuery: "query is too old", a timeout, a network error):
  the handler still does its work (issue 10, item 3).
- The tapped message can't be edited (editMessageText: "message can't be edited", "message to
  edit not found", or the message is too old to be accessible): the work is done and confirmed
  in a new message, never followed by "something went wrong" (item 4).

The handlers are read from the Application itself, so a button handler added later is covered
(or fails here until it has a scenario in SCENARIOS). Each scenario sets a user up, names the
button to tap, and checks what the tap must have done, as a user (or their data) would see it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from telegram import Update
from telegram.error import NetworkError, TimedOut
from telegram.ext import CallbackContext, CallbackQueryHandler

from bot.config import Settings
from bot.content import load_content
from bot.storage import Store
from bot.storage.cohorts import CohortStore
from bot.telegram.app import build_application
from bot.telegram.reminders import send_due_reminders
from tests.helpers_domain import FULL_ITEMS, at

from .conftest import Person, make_app
from .fakes import FakeTelegram, buttons
from .test_conversation import answer_context
from .test_faults import SORRY, TOO_OLD, Errors

CANT_EDIT = "Bad Request: message can't be edited"
NOT_FOUND = "Bad Request: message to edit not found"


# --- the world a scenario runs in ---------------------------------------------------------------
@dataclass
class World:
    app: object
    telegram: FakeTelegram
    store: Store
    ids: iter

    def person(self, language: str = "en") -> Person:
        return Person(self.app, self.telegram, next(self.ids), language)


@dataclass
class Tap:
    """Who taps what (callback data, on the newest message with buttons) and how to tell that
    the handler did its work."""
    person: Person
    data: str
    done: Callable[[], Awaitable[None]]


def data_of(p: Person, prefix: str) -> str:
    """The callback data of the newest button whose data starts with `prefix`."""
    for m in reversed(p.telegram.chat(p.id)):
        if m.reply_markup:
            for _, data in buttons(m):
                if data.startswith(prefix):
                    return data
    raise AssertionError(f"no button {prefix!r}")


def shown(p: Person, text: str) -> bool:
    """Some message in the user's chat shows `text` now (edited in place or sent new)."""
    return any(text in m.text for m in p.telegram.chat(p.id))


async def finished(p: Person) -> int:
    """A quick check to the report; the assessment id."""
    await p.send("/start")
    await p.tap("Quick check")
    await answer_context(p)
    for _ in range(8):
        await p.tap(1)
    return (await p_store(p).finished_assessments(p.id))[0].state.id


def p_store(p: Person) -> Store:
    return p.app.bot_data["coach"].store


async def on_first_item(p: Person) -> int:
    await p.send("/start")
    await p.tap("Full assessment")
    await answer_context(p)
    return (await p_store(p).open_assessment(p.id)).state.id


async def cursor(p: Person) -> int:
    return (await p_store(p).open_assessment(p.id)).state.cursor


# --- one scenario per kind of button ----------------------------------------------------------
# name -> (an example of its callback data, to find its handler; the scenario)
Scenario = Callable[[World], Awaitable[Tap]]
SCENARIOS: dict[str, tuple[str, Scenario]] = {}


def scenario(example: str):
    def register(fn: Scenario) -> Scenario:
        SCENARIOS[fn.__name__] = (example, fn)
        return fn
    return register


@scenario("ans:1:0:x")
async def answer_an_item(w: World) -> Tap:
    p = w.person()
    await on_first_item(p)

    async def done():
        assert len((await w.store.open_assessment(p.id)).state.answers) == 1
        assert shown(p, at(2))
    return Tap(p, buttons(p.screen)[1][1], done)


@scenario("ev:1:0:n")
async def answer_the_evidence_check(w: World) -> Tap:
    p = w.person()
    await on_first_item(p)
    for _ in range(FULL_ITEMS):  # the best option until an item asks for evidence
        if any(d.startswith("ev:") for _, d in buttons(p.screen)):
            break
        await p.tap(4)
    at = await cursor(p)

    async def done():
        record = await w.store.open_assessment(p.id)
        assert record.state.cursor == at + 1
        assert any(a.evidence is False for a in record.state.answers.values())
    return Tap(p, data_of(p, "ev:").rsplit(":", 1)[0] + ":n", done)


@scenario("ctx:1:0:cafe")
async def choose_the_sector(w: World) -> Tap:
    p = w.person()
    await p.send("/start")
    await p.tap("Full assessment")

    async def done():
        assert (await w.store.open_assessment(p.id)).state.context.get("sector") == ("cafe",)
    return Tap(p, data_of(p, "ctx:"), done)


@scenario("ok:1:2")
async def confirm_a_multiple_choice(w: World) -> Tap:
    p = w.person()
    await p.send("/start")
    await p.tap("Full assessment")
    await p.tap("Café")
    await p.tap("2-5")
    await p.tap("In person")

    async def done():
        assert await cursor(p) == 4  # on to "what matters most"
    return Tap(p, data_of(p, "ok:"), done)


@scenario("rv:1:0:y")
async def same_business_as_last_time(w: World) -> Tap:
    p = w.person()
    await p.send("/start")
    await p.tap("Quick check")
    for label in ("Café", "2-5", "In person", "Done", "Done"):
        await p.tap(label)
    for _ in range(8):
        await p.tap(1)
    await p.send("/retake")
    first_item = p.app.bot_data["coach"].flow("full").first_item

    async def done():
        record = await w.store.open_assessment(p.id)
        assert record.state.cursor == first_item and record.state.prefilled
        assert record.state.context["sector"] == ("cafe",)
        assert shown(p, f"2/{FULL_ITEMS + 1}")  # the review was the first screen
    return Tap(p, data_of(p, "rv:").rsplit(":", 1)[0] + ":y", done)


@scenario("back:1:5")
async def go_back(w: World) -> Tap:
    p = w.person()
    await on_first_item(p)
    await p.tap(1)
    where = await cursor(p)

    async def done():
        assert await cursor(p) == where - 1
        assert shown(p, at(1))
    return Tap(p, data_of(p, "back:"), done)


@scenario("pause:1:4")
async def pause(w: World) -> Tap:
    p = w.person()
    await on_first_item(p)

    async def done():
        assert shown(p, f"Paused with 0/{FULL_ITEMS} answered")
    return Tap(p, data_of(p, "pause:"), done)


@scenario("new:full")
async def begin(w: World) -> Tap:
    p = w.person()
    await p.send("/start")

    async def done():
        assert await w.store.open_assessment(p.id) is not None
        assert shown(p, "What kind of business")
    return Tap(p, "new:full", done)


@scenario("go:1")
async def resume(w: World) -> Tap:
    p = w.person()
    await on_first_item(p)
    await p.tap("Pause")

    async def done():
        assert p.screen.text.count(at(1)) and "Paused" not in p.screen.text
    return Tap(p, data_of(p, "go:"), done)


@scenario("lang")
async def language_menu(w: World) -> Tap:
    p = w.person()
    await p.send("/start")

    async def done():
        assert shown(p, "Choose your language")
    return Tap(p, "lang", done)


@scenario("lang:zh-Hans")
async def change_language(w: World) -> Tap:
    p = w.person()
    await p.send("/language")

    async def done():
        assert (await w.store.get_user(p.id)).language == "zh-Hans"
        assert shown(p, "你好")
    return Tap(p, "lang:zh-Hans", done)


@scenario("doc:1")
async def full_report_document(w: World) -> Tap:
    p = w.person()
    aid = await finished(p)
    before = len(w.telegram.called("sendDocument"))

    async def done():
        assert len(w.telegram.called("sendDocument")) == before + 1
    return Tap(p, f"doc:{aid}", done)


@scenario("plan:1")
async def the_plan(w: World) -> Tap:
    p = w.person()
    aid = await finished(p)

    async def done():
        assert shown(p, "0 of 6 done")
    return Tap(p, f"plan:{aid}", done)


@scenario("del:yes")
async def delete_everything(w: World) -> Tap:
    p = w.person()
    await finished(p)
    await p.send("/delete")

    async def done():
        assert await w.store.count_rows(p.id) == 0
        assert shown(p, "Everything about you has been deleted")
    return Tap(p, "del:yes", done)


@scenario("del:no")
async def keep_everything(w: World) -> Tap:
    p = w.person()
    await finished(p)
    await p.send("/delete")
    rows = await w.store.count_rows(p.id)

    async def done():
        assert await w.store.count_rows(p.id) == rows
        assert shown(p, "Nothing was deleted")
    return Tap(p, "del:no", done)


@scenario("pa:1:1")
async def tick_off_an_action(w: World) -> Tap:
    p = w.person()
    aid = await finished(p)
    await p.send("/plan")

    async def done():
        assert sum(i.done for i in await w.store.plan_items(aid)) == 1
        assert shown(p, "1 of 6 done")
    return Tap(p, data_of(p, "pa:"), done)


@scenario("rem:1:7")
async def schedule_a_check_in(w: World) -> Tap:
    p = w.person()
    aid = await finished(p)
    await w.store.set_timezone(p.id, "Asia/Shanghai")

    async def done():
        assert len(await w.store.pending_reminders(p.id)) == 1
        assert shown(p, "I'll check in on")
    return Tap(p, f"rem:{aid}:7", done)


async def checked_in(w: World, p: Person) -> int:
    """A quick check, a check-in asked for and sent; the assessment id."""
    aid = await finished(p)
    await w.store.set_timezone(p.id, "UTC")
    await p.press(f"rem:{aid}:7")
    later = datetime.now(UTC).replace(hour=12) + timedelta(days=8)
    assert await send_due_reminders(CallbackContext(p.app), now=later) == 1
    return aid


@scenario("ci:1:done")
async def answer_a_check_in(w: World) -> Tap:
    p = w.person()
    aid = await checked_in(w, p)

    async def done():
        assert sum(i.done for i in await w.store.plan_items(aid)) == 0  # not before it's said
        assert shown(p, "Which one did you do?")
    return Tap(p, data_of(p, "ci:").rsplit(":", 1)[0] + ":done", done)


@scenario("cid:1:1")
async def say_which_action_was_done(w: World) -> Tap:
    p = w.person()
    aid = await checked_in(w, p)
    await p.press(data_of(p, "ci:").rsplit(":", 1)[0] + ":done")
    third = (await w.store.plan_items(aid))[2]

    async def done():
        assert [i.done for i in await w.store.plan_items(aid)] == [False, False, True] + \
            [False] * 3
        assert shown(p, "Well done! 1 of 6 actions done.")
    return Tap(p, next(d for d in (data for _, data in buttons(p.screen))
                       if d.endswith(f":{third.id}")), done)


@scenario("pri:1:2")
async def next_priority(w: World) -> Tap:
    p = w.person()
    aid = await finished(p)

    async def done():
        assert shown(p, "Priority 2 of 3")
    return Tap(p, f"pri:{aid}:2", done)


@scenario("chk:1")
async def offer_check_ins(w: World) -> Tap:
    p = w.person()
    aid = await finished(p)

    async def done():
        assert shown(p, "Shall I check in")
    return Tap(p, f"chk:{aid}", done)


@scenario("learn:integrity")
async def a_lesson(w: World) -> Tap:
    p = w.person()
    await p.send("/learn")

    async def done():
        assert shown(p, "Try this week")
    return Tap(p, "learn:integrity", done)


@scenario("rep")
async def the_latest_report(w: World) -> Tap:
    p = w.person()
    await finished(p)
    before = sum("Trust Index" in t for t in p.texts)

    async def done():
        assert sum("Trust Index" in t for t in p.texts) == before + 1
    return Tap(p, "rep", done)


@scenario("tz:Asia/Shanghai")
async def choose_a_time_zone(w: World) -> Tap:
    p = w.person()
    await p.send("/timezone")

    async def done():
        assert (await w.store.get_user(p.id)).timezone == "Asia/Taipei"
        assert shown(p, "Time zone: Taipei")
    return Tap(p, "tz:Asia/Taipei", done)


@scenario("tzo")
async def tell_the_time(w: World) -> Tap:
    p = w.person()
    await p.send("/timezone")

    async def done():
        assert shown(p, "What time is it for you now?")
    return Tap(p, "tzo", done)


@scenario("tr:new")
async def new_cohort(w: World) -> Tap:
    p = w.person()
    await p.send("/trainer")

    async def done():
        assert await CohortStore(w.store.engine).prompt(p.id) == ("new", None)
        assert shown(p, "Send me the cohort's name")
    return Tap(p, "tr:new", done)


async def a_cohort(w: World, p: Person):
    await p.send("/trainer")
    await p.tap("New cohort")
    await p.send("Spring course")
    return (await CohortStore(w.store.engine).owned(p.id))[0]


@scenario("tr:closeok:1")
async def close_a_cohort(w: World) -> Tap:
    p = w.person()
    cohort = await a_cohort(w, p)

    async def done():
        assert not (await CohortStore(w.store.engine).get(cohort.id)).open
        assert shown(p, "is closed")
    return Tap(p, f"tr:closeok:{cohort.id}", done)


@scenario("cj:" + "A" * 22 + ":s")
async def join_a_cohort(w: World) -> Tap:
    trainer = w.person()
    cohort = await a_cohort(w, trainer)
    p = w.person()
    await p.send(f"/start c_{cohort.code}")

    async def done():
        assert await CohortStore(w.store.engine).membership(cohort.id, p.id) == "share"
        assert shown(p, "You joined")
    return Tap(p, f"cj:{cohort.code}:s", done)


async def a_link(w: World, kind: str) -> tuple[Person, object]:
    """An owner with a report and a team or customer link (the 360° check)."""
    from bot.storage.feedback import FeedbackStore

    owner = w.person()
    await finished(owner)
    await owner.send("/team" if kind == "team" else "/customers")
    await owner.tap("Create the link")
    if kind == "customer":
        await owner.send("Mei's Café")
    return owner, await FeedbackStore(w.store.engine).latest(owner.id, kind)


@scenario("fb:customer:open")
async def open_the_customers_view_from_the_card(w: World) -> Tap:
    p = w.person()
    await finished(p)

    async def done():
        assert shown(p, "Your customers' view")
    return Tap(p, "fb:customer:open", done)


@scenario("ts:1")
async def a_staff_member_starts(w: World) -> Tap:
    _, link = await a_link(w, "team")
    p = w.person()
    await p.send(f"/start t_{link.code}")

    async def done():
        record = await w.store.open_assessment(p.id)
        assert record is not None and record.state.staff
    return Tap(p, f"ts:{link.id}", done)


@scenario("pu:1:1:often")
async def a_customer_answers_the_pulse(w: World) -> Tap:
    _, link = await a_link(w, "customer")
    p = w.person()
    await p.send(f"/start p_{link.code}")
    await p.tap("Start")

    async def done():
        assert shown(p, "2/8")
    return Tap(p, data_of(p, "pu:"), done)


@scenario("pn:1:9")
async def a_customer_would_recommend(w: World) -> Tap:
    from bot.storage.feedback import FeedbackStore

    _, link = await a_link(w, "customer")
    p = w.person()
    await p.send(f"/start p_{link.code}")
    await p.tap("Start")
    for _ in range(8):
        await p.tap(0)

    async def done():
        (given,) = await FeedbackStore(w.store.engine).given(p.id)
        assert given.nps == 9 and shown(p, "Thank you! That helps")
    return Tap(p, f"pn:{link.id}:9", done)


@scenario("zz:not-ours")
async def a_button_that_is_not_ours(w: World) -> Tap:
    p = w.person()
    await p.send("/start")
    rows = await w.store.count_rows(p.id)

    async def done():
        assert await w.store.count_rows(p.id) == rows
    return Tap(p, "zz:not-ours", done)


# --- the handlers, read from the Application --------------------------------------------------
def _key(handler: CallbackQueryHandler) -> str:
    pattern = getattr(handler.pattern, "pattern", handler.pattern)
    return f"{handler.callback.__name__}[{pattern or '*'}]"


def _first_handler(app, data: str) -> CallbackQueryHandler | None:
    update = Update.de_json({"update_id": 1, "callback_query": {
        "id": "q", "from": {"id": 1, "is_bot": False, "first_name": "A"}, "chat_instance": "c",
        "data": data, "message": {"message_id": 1, "date": int(time.time()),
                                  "chat": {"id": 1, "type": "private"}, "text": "x"}}}, app.bot)
    for group in sorted(app.handlers):
        for handler in app.handlers[group]:
            if isinstance(handler, CallbackQueryHandler) and handler.check_update(update):
                return handler
    return None


def _registered() -> tuple[list[str], dict[str, list[str]]]:
    app = build_application(Settings(bot_token="123:TEST", _env_file=None), load_content(),
                            request=FakeTelegram())
    handlers = [h for group in sorted(app.handlers) for h in app.handlers[group]
                if isinstance(h, CallbackQueryHandler)]
    by_handler: dict[str, list[str]] = {_key(h): [] for h in handlers}
    for name, (example, _) in SCENARIOS.items():
        handler = _first_handler(app, example)
        assert handler is not None, f"{name}: no handler takes {example!r}"
        by_handler[_key(handler)].append(name)
    return list(by_handler), by_handler


HANDLERS, SCENARIOS_OF = _registered()
IDS = [f"{key.split('[')[0]}-{n}" for n, key in enumerate(HANDLERS)]  # readable test ids


@pytest.fixture
async def world(content, tmp_path, telegram):
    """The real Application on a SQLite file (the kinds are about Telegram, not the database)."""
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    app = await make_app(content, store, telegram, timezone="UTC")
    yield World(app, telegram, store, iter(range(50_000, 60_000)))
    await app.shutdown()
    await store.close()


async def _run(world: World, handler: str, method: str, fault) -> None:
    names = SCENARIOS_OF[handler]
    assert names, f"{handler} has no scenario: add one to SCENARIOS in {__name__}"
    errors = Errors(world.app)
    for name in names:
        example, setup = SCENARIOS[name]
        tap = await setup(world)
        assert _key(_first_handler(world.app, tap.data)) == handler, name
        before = len(world.telegram.calls)
        fault(world.telegram)
        await tap.person.press(tap.data)
        world.telegram.failures.clear()
        await tap.done()
        assert errors.seen == [], (name, errors.seen)
        calls = world.telegram.calls[before:]
        assert not any(SORRY in str(c.params.get("text", "")) for c in calls), name
        if method == "answerCallbackQuery":
            assert any(c.method == method for c in calls), f"{name}: the tap was not answered"
        else:
            _screens_not_lost(calls, name)


def _screens_not_lost(calls, name: str) -> None:
    """Every screen an edit failed to show went out as a new message, with its buttons."""
    for n, call in enumerate(calls):
        if call.method != "editMessageText":
            continue
        later = [c for c in calls[n + 1:] if c.method == "sendMessage"]
        assert any(c.params["text"] == call.params["text"]
                   and c.params.get("reply_markup") == call.params.get("reply_markup")
                   for c in later), f"{name}: the screen of a failed edit was lost"


ANSWER_FAILURES = {
    "too old": lambda t: t.fail("answerCallbackQuery", 400, TOO_OLD, times=50),
    "timed out": lambda t: t.fail("answerCallbackQuery", error=TimedOut(), times=50),
    "network": lambda t: t.fail("answerCallbackQuery", error=NetworkError("reset"), times=50),
}
EDIT_FAILURES = {
    "can't be edited": lambda t: t.fail("editMessageText", 400, CANT_EDIT, times=50),
    "not found": lambda t: t.fail("editMessageText", 400, NOT_FOUND, times=50),
}


@pytest.mark.parametrize("failure", list(ANSWER_FAILURES))
@pytest.mark.parametrize("handler", HANDLERS, ids=IDS)
async def test_every_tap_survives_a_failed_answer(world, handler, failure):
    await _run(world, handler, "answerCallbackQuery", ANSWER_FAILURES[failure])


@pytest.mark.parametrize("failure", list(EDIT_FAILURES))
@pytest.mark.parametrize("handler", HANDLERS, ids=IDS)
async def test_every_done_tap_is_confirmed_when_its_message_cant_be_edited(
        world, handler, failure):
    await _run(world, handler, "editMessageText", EDIT_FAILURES[failure])


def test_every_registered_button_handler_has_a_scenario():
    assert [h for h, names in SCENARIOS_OF.items() if not names] == []
    assert len(HANDLERS) >= 20  # the app's button handlers were found


def test_no_handler_answers_or_edits_a_tap_but_through_the_one_helper():
    """The kind is fixed in one place: bot/telegram/replies.py. A handler calling PTB's
    query.answer() or edit_message_text() itself would bring the kind back."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "bot" / "telegram"
    direct = re.compile(r"\.(answer|edit_message_text)\(")
    offenders = [f"{path.name}:{n}" for path in root.glob("*.py") if path.name != "replies.py"
                 for n, line in enumerate(path.read_text().splitlines(), 1)
                 if direct.search(line)]
    assert offenders == []
