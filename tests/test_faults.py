"""Injected faults: the bot survives each, loses nothing, and the user gets an answer or a retry.

The real Application on a real database. The Bot API is the fake (bot/fake_telegram.py), reached
either directly or, for network faults, through the production RetryingRequest over real HTTP
(tests/faulty_network.py): PTB encodes each call, aiohttp sends it to a local server that answers
for the fake, or the network fails it as the test planned (refused, no connection, a stalled or
dropped answer), and the request class maps the failure exactly as it would in production.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, TimedOut
from telegram.request import RequestData

from bot.config import Settings
from bot.storage import Store
from bot.telegram.app import build_application
from bot.telegram.request import BACKOFF, RetryingRequest
from tests.helpers_domain import FULL_ITEMS, at

from .conftest import Person, make_app
from .fakes import buttons
from .faulty_network import FaultyNetwork
from .test_conversation import start_full

TOO_OLD = "Bad Request: query is too old and response timeout expired or query id is invalid"
NOT_MODIFIED = ("Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message")
SORRY = "Sorry, something went wrong"


class Errors:
    """Every exception that reached the Application's error handlers (after bot.telegram's own)."""

    def __init__(self, app) -> None:
        self.seen: list[BaseException] = []
        app.add_error_handler(self._record)

    async def _record(self, update, context) -> None:
        self.seen.append(context.error)

    @property
    def kinds(self) -> list[type]:
        return [type(e) for e in self.seen]


READ_TIMEOUT = 0.3  # seconds: a "stall" fails this fast


def retrying(network: FaultyNetwork, backoff=(0.01, 0.02)) -> RetryingRequest:
    return RetryingRequest(backoff=backoff, read_timeout=READ_TIMEOUT,
                           connector=network.connector)


@pytest.fixture
async def wired(content, store, telegram):
    """The Application on the production request class, the fake Bot API behind real HTTP."""
    # looked up on each call: a test may replace telegram.do_request
    network = await FaultyNetwork(lambda *call: telegram.do_request(*call)).start()
    app = build_application(Settings(bot_token="123:TEST", _env_file=None,
                                     telegram_api_base_url=network.base_url),
                            content, store, request=retrying(network))
    await app.initialize()
    yield app, network
    await app.shutdown()
    await network.stop()


async def answers_of(store: Store, user_id: int) -> dict:
    record = await store.open_assessment(user_id)
    return dict(record.state.answers) if record else {}


def sorry_shown(p: Person) -> bool:
    """The short error text, as the answer to a tap or as a message."""
    return any(SORRY in (a.get("text") or "") for a in p.telegram.callback_answers()) or \
        any(SORRY in t for t in p.texts)


# --- the request class alone ------------------------------------------------------------------
@pytest.fixture
async def network():
    network = await FaultyNetwork().start()
    yield network
    await network.stop()


@pytest.mark.parametrize("method, steps, outcome, tries", [
    # Safe to repeat: 5xx and any network error or timeout are retried, at most three tries.
    ("editMessageText", [502, 503, 200], None, 3),
    ("editMessageText", ["stall"] * 3, TimedOut, 3),
    ("answerCallbackQuery", ["drop", 200], None, 2),
    ("getUpdates", ["drop", 500, 200], None, 3),
    ("editMessageText", [400], BadRequest, 1),  # Telegram said no: never repeated
    # Sending: only what surely never left this machine is retried.
    ("sendMessage", ["refused", "no connection", 200], None, 3),
    ("sendMessage", ["stall", 200], TimedOut, 1),  # may have been delivered
    ("sendMessage", [502, 200], NetworkError, 1),
    ("sendPhoto", ["stall", 200], TimedOut, 1),
    ("sendDocument", ["drop", 200], NetworkError, 1),
    ("sendDocument", ["no connection", 200], None, 2),
    ("sendMessage", ["refused"] * 3, NetworkError, 3),
])
async def test_retry_policy(network, method, steps, outcome, tries):
    network.script(method, steps)
    request = RetryingRequest(backoff=(0.01, 0.01), read_timeout=READ_TIMEOUT,
                              connector=network.connector)
    await request.initialize()
    url = f"{network.base_url}1:x/{method}"
    try:
        if outcome is None:
            assert await request.post(url, RequestData()) is True
        else:
            with pytest.raises(outcome):
                await request.post(url, RequestData())
    finally:
        await request.shutdown()
    assert network.calls == [method] * tries


async def test_backoff_doubles_and_is_the_default(network):
    assert BACKOFF == (0.5, 1.0)
    network.script("sendMessage", ["refused", "refused", 200])
    request = RetryingRequest(backoff=(0.2, 0.4), connector=network.connector)
    await request.initialize()
    started = time.monotonic()
    assert await request.post(f"{network.base_url}1:x/sendMessage", RequestData())
    assert time.monotonic() - started >= 0.6 and network.attempts["sendMessage"] == 3
    await request.shutdown()


async def test_the_bot_api_is_reached_through_the_proxy_in_the_environment(network, monkeypatch):
    """Where api.telegram.org is reachable only through a proxy, the operator sets HTTPS_PROXY
    (HTTP_PROXY for an http:// Bot API server): the calls go through it."""
    for name in ("NO_PROXY", "no_proxy", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", network.base_url.removesuffix("/bot"))
    request = RetryingRequest(backoff=())
    await request.initialize()
    try:  # a host that does not resolve: only the proxy can answer for it
        assert await request.post("http://api.telegram.invalid/bot1:x/getMe", RequestData())
    finally:
        await request.shutdown()
    assert network.hosts == ["api.telegram.invalid"]


def test_production_application_uses_the_retrying_request(content):
    app = build_application(Settings(bot_token="123:TEST", _env_file=None), content)
    get_updates, other = app.bot._request  # PTB keeps no public handle on the first
    assert isinstance(get_updates, RetryingRequest) and isinstance(other, RetryingRequest)
    assert get_updates is not other and other is app.bot.request


# --- Bot API faults on the call that matters ----------------------------------------------------
async def test_retry_after_on_the_edit_after_an_answer(app, person, telegram, store):
    errors = Errors(app)
    p = person(9001)
    await start_full(p)
    telegram.retry_after["editMessageText"] = [1]
    await p.tap(1)
    assert at(2) in p.screen.text  # the rate limiter waited and edited
    assert len(await answers_of(store, p.id)) == 1 and errors.seen == []


async def test_forbidden_on_the_edit_keeps_the_answer_and_the_user_can_come_back(
        app, person, telegram, store):
    errors = Errors(app)
    p = person(9002)
    await start_full(p)
    telegram.fail("editMessageText", 403, "Forbidden: bot was blocked by the user")
    await p.tap(1)
    assert errors.kinds == [Forbidden]
    assert len(await answers_of(store, p.id)) == 1
    assert (await store.get_user(p.id)).active is False
    assert not sorry_shown(p)  # nothing more is sent to someone who blocked the bot
    await p.send("/start")  # unblocked and back
    assert (await store.get_user(p.id)).active is True
    assert f"1/{FULL_ITEMS} answered" in p.texts[-1]
    await p.tap("Continue")
    assert at(2) in p.screen.text


async def test_message_is_not_modified_is_a_success(app, person, telegram, store):
    errors = Errors(app)
    p = person(9003)
    await start_full(p)
    screen = p.screen
    first = buttons(screen)[1][1]
    await p.press(first, screen.message_id)
    assert at(2) in p.screen.text
    # A double tap: the screen is shown again, Telegram answers that nothing changed.
    telegram.fail("editMessageText", 400, NOT_MODIFIED)
    await p.press(first, screen.message_id)
    assert telegram.failures["editMessageText"] == []  # the edit was tried and refused
    assert telegram.callback_answers()[-1].get("text") == "Already saved."
    assert errors.seen == [] and at(2) in p.screen.text
    assert len(await answers_of(store, p.id)) == 1


async def test_query_too_old_on_an_answer_still_stores_and_moves_on(app, person, telegram, store):
    errors = Errors(app)
    p = person(9004)
    await start_full(p)
    telegram.fail("answerCallbackQuery", 400, TOO_OLD)
    await p.tap(1)
    assert len(await answers_of(store, p.id)) == 1
    assert at(2) in p.screen.text
    assert errors.seen == []


async def test_query_too_old_on_the_first_tap_still_starts(app, person, telegram, store):
    errors = Errors(app)
    p = person(9005)
    await p.send("/start")
    telegram.fail("answerCallbackQuery", 400, TOO_OLD)
    await p.tap("Full assessment")
    assert await store.open_assessment(p.id) is not None
    assert "What kind of business" in p.screen.text  # the first question is on screen
    assert errors.seen == []


async def test_5xx_on_the_edit_without_retries_then_the_same_tap_shows_the_way(
        app, person, telegram, store):
    errors = Errors(app)
    p = person(9006)
    await start_full(p)
    screen = p.screen
    data = buttons(screen)[1][1]
    telegram.fail("editMessageText", 502, "Bad Gateway")
    await p.press(data, screen.message_id)
    assert errors.kinds == [NetworkError] and sorry_shown(p)
    assert len(await answers_of(store, p.id)) == 1
    assert at(1) in p.screen.text  # the old question is still on screen
    await p.press(data, screen.message_id)  # the user taps the same answer again
    assert at(2) in p.screen.text
    assert len(await answers_of(store, p.id)) == 1 and len(errors.seen) == 1


# --- network faults through the production request class ----------------------------------------
async def test_5xx_on_the_edit_is_retried(wired, telegram, store):
    app, network = wired
    errors = Errors(app)
    p = Person(app, telegram, 9101)
    await start_full(p)
    telegram.fail("editMessageText", 502, "Bad Gateway")
    before = network.attempts["editMessageText"]
    await p.tap(1)
    assert network.attempts["editMessageText"] - before == 2
    assert at(2) in p.screen.text and errors.seen == []
    assert len(await answers_of(store, p.id)) == 1


async def test_5xx_on_send_message_is_not_retried_and_the_user_can_retry(
        wired, telegram, store):
    app, network = wired
    errors = Errors(app)
    p = Person(app, telegram, 9102)
    telegram.fail("sendMessage", 502, "Bad Gateway")
    await p.send("/start")
    assert errors.kinds == [NetworkError]
    assert network.attempts["sendMessage"] == 2  # the welcome once, then the apology
    assert [t for t in p.texts if SORRY in t] and not [t for t in p.texts if "Hello" in t]
    await p.send("/start")
    assert "Hello, Ann!" in p.texts[-1]


async def test_a_timeout_on_the_edit_is_retried(wired, telegram, store):
    app, network = wired
    errors = Errors(app)
    p = Person(app, telegram, 9103)
    await start_full(p)
    network.plan("editMessageText", "stall")
    await p.tap(1)
    assert at(2) in p.screen.text and errors.seen == []
    assert len(await answers_of(store, p.id)) == 1


async def test_the_edit_timing_out_for_good_keeps_the_answer_and_the_next_tap_moves_on(
        wired, telegram, store):
    app, network = wired
    errors = Errors(app)
    p = Person(app, telegram, 9104)
    await start_full(p)
    screen = p.screen
    data = buttons(screen)[1][1]
    network.plan("editMessageText", "stall", times=3)
    await p.press(data, screen.message_id)
    assert errors.kinds == [TimedOut]
    assert network.attempts["editMessageText"] >= 3  # tried three times
    assert len(await answers_of(store, p.id)) == 1
    assert at(1) in p.screen.text and sorry_shown(p)
    await p.press(data, screen.message_id)  # the same answer again, on the old screen
    assert at(2) in p.screen.text
    assert len(await answers_of(store, p.id)) == 1
    await p.send("/start")
    assert f"1/{FULL_ITEMS} answered" in p.texts[-1]


async def test_the_apology_arrives_as_a_message_when_the_tap_was_already_answered(
        wired, telegram, store):
    app, network = wired
    errors = Errors(app)
    p = Person(app, telegram, 9105)
    await start_full(p)
    network.plan("editMessageText", "stall", times=3)
    # The tap is answered first, then the edit fails: the error handler's second answer to
    # the same query is refused by Telegram.
    real_do_request = telegram.do_request
    answered: set[str] = set()

    async def once_per_query(url, method, request_data=None, **timeouts):
        if url.endswith("/answerCallbackQuery"):
            query = request_data.parameters["callback_query_id"]
            if query in answered:
                telegram.fail("answerCallbackQuery", 400, TOO_OLD)
            answered.add(query)
        return await real_do_request(url, method, request_data, **timeouts)

    telegram.do_request = once_per_query
    await p.tap(1)
    assert errors.kinds == [TimedOut]
    assert any(SORRY in t for t in p.texts)  # as a message
    assert len(await answers_of(store, p.id)) == 1


async def test_a_read_timeout_on_send_message_is_not_repeated(wired, telegram, store):
    app, network = wired
    errors = Errors(app)
    p = Person(app, telegram, 9106)
    network.plan("sendMessage", "stall", delivered=True)  # sent, answer lost
    await p.send("/help")
    assert errors.kinds == [TimedOut]
    assert sum("What I can do" in t for t in p.texts) == 1  # never twice
    assert any(SORRY in t for t in p.texts)


async def test_a_refused_connection_on_send_message_is_retried(wired, telegram, store):
    app, network = wired
    errors = Errors(app)
    p = Person(app, telegram, 9107)
    network.plan("sendMessage", "refused", times=2)
    await p.send("/help")
    assert errors.seen == [] and network.attempts["sendMessage"] == 3
    assert sum("What I can do" in t for t in p.texts) == 1


async def test_network_errors_on_answering_a_tap_do_not_stop_it(wired, telegram, store):
    app, network = wired
    errors = Errors(app)
    p = Person(app, telegram, 9108)
    await start_full(p)
    network.plan("answerCallbackQuery", "drop", times=3)
    await p.tap(1)
    assert errors.seen == [] and at(2) in p.screen.text
    assert len(await answers_of(store, p.id)) == 1


async def test_the_report_arrives_when_editing_the_last_question_fails(wired, telegram, store):
    app, network = wired
    errors = Errors(app)
    p = Person(app, telegram, 9109)
    await p.send("/start")
    await p.tap("Quick check")
    from .test_conversation import answer_context

    await answer_context(p)
    for _ in range(7):
        await p.tap(1)
    network.plan("editMessageText", "stall", times=3)
    await p.tap(1)  # the last answer
    assert any("Trust Index" in t for t in p.texts), "the report went out"
    assert len((await store.finished_assessments(p.id))[0].state.answers) == 8
    assert errors.seen == []


# --- the database ---------------------------------------------------------------------------------
async def test_a_tap_waits_for_a_database_locked_by_another_writer(tmp_path, content, telegram):
    path = tmp_path / "locked.db"
    store = await Store.open(f"sqlite+aiosqlite:///{path}")
    app = await make_app(content, store, telegram)
    errors = Errors(app)
    p = Person(app, telegram, 9201)
    await start_full(p)
    locked = threading.Event()

    def hold_the_lock(seconds: float) -> None:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        locked.set()
        time.sleep(seconds)
        other.execute("COMMIT")
        other.close()

    holder = asyncio.create_task(asyncio.to_thread(hold_the_lock, 2.0))
    await asyncio.to_thread(locked.wait)
    started = time.monotonic()
    await p.tap(1)
    waited = time.monotonic() - started
    await holder
    assert waited >= 1.5, "the tap waited for the other writer"
    assert errors.seen == [] and not sorry_shown(p)
    assert at(2) in p.screen.text
    assert len(await answers_of(store, p.id)) == 1
    await app.shutdown()
    await store.close()


async def test_more_calls_in_flight_than_connections_wait_for_one_and_all_arrive(api):
    """A room finishing together puts more Bot API calls in flight than the pool has
    connections (request.CONNECTIONS): the extra calls wait for a free connection and every one
    arrives."""
    from telegram import Bot

    from bot.telegram.request import CONNECTIONS, RetryingRequest

    from .fake_bot_api import TOKEN

    api.latency = 0.3  # every call holds its connection for 0.3 s
    bot = Bot(TOKEN, base_url=api.base_url, request=RetryingRequest(backoff=()))
    async with bot:
        started = time.monotonic()
        sent = await asyncio.gather(*(bot.send_message(1000 + n, "hello")
                                      for n in range(5 * CONNECTIONS)))
        took = time.monotonic() - started
    assert len({m.message_id for m in sent}) == 5 * CONNECTIONS
    assert took >= 5 * 0.3 * 0.9  # five waves over CONNECTIONS connections: they did wait
