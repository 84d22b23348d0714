"""Hypothesis-driven random sequences of updates from several users against the real Application,
two replicas of it on one database (SQLite, and PostgreSQL), each update delivered to either:
commands, typed text, taps on current, old, other users' (forged), synthesised and garbage
buttons, repeated update ids, blocking and unblocking, deliberate Bot API faults, two taps of one
user reaching the two replicas at the same moment, and one update delivered to both at once.

After every update: no exception reached the error handler unless it came from a deliberate
fault, nothing was logged at ERROR by anything else, no other user's rows changed, an assessment
holds at most as many answers as its mode has items (each one of those items), every score is
within 0-100, a repeated update id sent nothing and changed nothing, and an update delivered
to both replicas at once was answered once.

One Application and one database per test function, reused by every Hypothesis example (each
example has users of its own). Fast profile (CI, the default): a few hundred updates. Long profile:
`FUZZ_UPDATES=100000 uv run pytest -n 0 -m fuzz -s tests/test_fuzz.py` (prints the counts by kind).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import random
import time
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import Update
from telegram.error import TelegramError

from bot.storage import Store

from .conftest import IN_CI, PG_URL, Person, _pg_admin, _pg_url, make_app
from .fakes import FakeTelegram, buttons

LONG = int(os.environ.get("FUZZ_UPDATES", "0"))
USERS = 3  # per example; every example has users of its own
MAX_ACTIONS = 60
FAST_EXAMPLES = 6

COMMANDS = ("/start", "/help", "/report", "/plan", "/history", "/learn", "/retake", "/language",
            "/privacy", "/export", "/delete", "/trainer", "/start c_" + "A" * 22,
            "/start c_", "/start x", "/nonsense", "/start@trust_cx_bot")
FORGED = ("ans:{a}:{p}:{o}", "ev:{a}:{p}:y", "ctx:{a}:{p}:{o}", "ok:{a}:{p}", "back:{a}:{p}",
          "pause:{a}:{p}", "go:{a}", "doc:{a}", "plan:{a}", "pa:{a}:1", "rem:{a}:7",
          "ci:{a}:done", "tr:dash:{a}", "tr:csv:{a}", "tr:close:{a}", "tr:closeok:{a}",
          "tr:leave:{a}", "tr:ren:{a}", "tr:qr:{a}", "new:quick", "lang:zh-Hant", "del:no",
          "learn:{o}", "cj:" + "B" * 22 + ":s", "ans:{a}:{p}:" + "9" * 11, "ans:-1:0:a")
ONWARD = ("ans", "ev", "ctx", "ok", "new", "go")
OPTIONS = ("a", "b", "c", "d", "e", "none", "unsure", "na", "cafe", "x" * 10, "integrity")
# Deliberate faults: the next call of a method fails like Telegram would.
FAULTS = (
    ("editMessageText", 502, "Bad Gateway (injected)"),
    ("editMessageText", 400, "Bad Request: message is not modified (injected)"),
    ("editMessageText", 400, "Bad Request: message to edit not found (injected)"),
    ("answerCallbackQuery", 400, "Bad Request: query is too old and response timeout expired "
                                 "or query id is invalid (injected)"),
    ("sendMessage", 403, "Forbidden: bot was blocked by the user (injected)"),
    ("sendMessage", 500, "Internal Server Error (injected)"),
    ("sendPhoto", 400, "Bad Request: wrong file identifier (injected)"),
    ("sendDocument", 502, "Bad Gateway (injected)"),
)
# Taps on the current screen dominate, so that assessments get finished now and then.
KINDS = ("tap",) * 8 + ("burst",) * 3 + ("old", "old", "forged", "synth", "garbage", "command",
                                         "command", "command", "text", "repeat", "block", "fault",
                                         "race", "race", "both")

action = st.tuples(st.sampled_from(KINDS), st.integers(0, USERS - 1), st.integers(0, 10**6),
                   st.text(min_size=1, max_size=80))
_users = itertools.count(50_000_000, USERS)
_update_ids = itertools.count(1)


class ErrorLog(logging.Handler):
    """ERROR records from anything but the bot's own error handler (which logs every failure
    it handles: those are judged by Fuzz.check instead)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name != "bot.telegram.handlers":
            self.records.append(record)


class Fuzz:
    def __init__(self, apps, telegram: FakeTelegram, store: Store, content) -> None:
        self.apps, self.telegram, self.store, self.content = apps, telegram, store, content
        self.app = apps[0]
        self.counts: Counter[str] = Counter()
        self.errors: list[BaseException] = []
        self.exports: dict[int, dict] = {}  # the last seen rows of every user so far
        self.last_update_id = 0
        self.reserved = 0  # the second update id of a race
        self.most_answers = 0  # the most answers any assessment reached
        self.items = {mode: {i.id for i in content.bank.items_for(mode)}
                      for mode in ("full", "quick")}
        for app in apps:
            app.add_error_handler(self._record)

    async def _record(self, update, context) -> None:
        self.errors.append(context.error)

    # --- one example ----------------------------------------------------------------------------
    async def run(self, actions: list[tuple]) -> None:
        base = next(_users)
        people = [Person(self.app, self.telegram, base + n, ("en", "zh-hans", "zh-hant")[n % 3])
                  for n in range(USERS)]
        # The same users as seen by the second replica: each update goes to one or the other.
        self.twins = {p.id: Person(self.apps[1], self.telegram, p.id, p.language_code)
                      for p in people}
        for person in people:
            self.exports[person.id] = await self.store.export_user(person.id)
        for kind, who, number, text in actions:
            if kind == "burst":  # one user taps on through several screens
                rng = random.Random(number)
                for _ in range(3 + number % 12):
                    await self.step(people, people[who], "tap", rng.randrange(10**6), text)
            else:
                await self.step(people, people[who], kind, number, text)
        self.telegram.failures.clear()  # a fault nobody triggered does not leak into the next
        self.telegram.calls.clear()  # keeps a long run's memory flat
        for person in people:
            self.telegram.messages.pop(person.id, None)
        # Earlier examples' users: forged taps with small ids aim at them too.
        earlier = [u for u in self.exports if u < base]
        for user_id in random.Random(base).sample(earlier, min(5, len(earlier))):
            assert await self.store.export_user(user_id) == self.exports[user_id], \
                f"user {user_id} of an earlier example changed"

    async def step(self, people: list[Person], p: Person, kind: str, number: int,
                   text: str) -> None:
        rng = random.Random(number)
        update_id = next(_update_ids)
        calls_before = len(self.telegram.calls)
        errors_before = len(self.errors)
        if kind == "fault":
            method, code, description = FAULTS[number % len(FAULTS)]
            self.telegram.fail(method, code, description)
            self.counts[kind] += 1
            return
        if kind == "repeat" and self.last_update_id:
            update_id = self.last_update_id  # Telegram (or a second replica) delivers it again
        if not self.telegram.chat(p.id) and kind not in ("command", "text", "block"):
            kind, number = "command", 0  # nothing to tap yet: /start
        self.counts[kind] += 1
        if kind in ("race", "both"):
            await self.concurrently(people, p, kind, number, text, rng, update_id)
            await self.check(people, p, kind, update_id, calls_before, errors_before)
            self.last_update_id = max(self.last_update_id, update_id, self.reserved)
            return
        p = self.twins[p.id] if number % 2 else p  # either replica
        if kind == "command":
            await p.send(COMMANDS[number % len(COMMANDS)], update_id=update_id)
        elif kind == "text":
            await p.send(text, update_id=update_id)
        elif kind == "block":
            status = "kicked" if number % 2 else "member"
            await p.process({"update_id": update_id, "my_chat_member": {
                "chat": {"id": p.id, "type": "private"}, "from": p._from(), "date": 0,
                "old_chat_member": {"status": "member", "user": _bot()},
                "new_chat_member": {"status": status, "until_date": 0, "user": _bot()}}})
        else:
            data, message_id = self._tap(people, p, kind, number, text, rng)
            await p.press(data, message_id, update_id=update_id)
        await self.check(people, p, kind, update_id, calls_before, errors_before)
        self.last_update_id = max(self.last_update_id, update_id)

    async def concurrently(self, people, p: Person, kind: str, number: int, text: str,
                           rng: random.Random, update_id: int) -> None:
        """race: two taps of the user's current screen, one to each replica at the same moment.
        both: one tap delivered to both replicas at once (Telegram retrying, a proxy sending it
        twice); it must be answered once."""
        first, message_id = self._tap(people, p, "tap", number, text, rng)
        second, _ = self._tap(people, p, "tap", number + 1 + rng.randrange(5), text, rng)
        if kind == "both":
            payloads = [_tap_payload(p, first, message_id, update_id, f"b{update_id}")] * 2
        else:
            second_id = next(_update_ids)  # an update id of its own
            payloads = [_tap_payload(p, first, message_id, update_id, f"r{update_id}"),
                        _tap_payload(p, second, message_id, second_id, f"s{update_id}")]
            self.reserved = second_id
        faults = any(self.telegram.failures.values())
        await asyncio.gather(*(app.process_update(Update.de_json(payload, app.bot))
                               for app, payload in zip(self.apps, payloads, strict=True)))
        if kind == "both" and not faults:
            answers = [c for c in self.telegram.called("answerCallbackQuery")
                       if c.params.get("callback_query_id") == f"b{update_id}"]
            assert len(answers) <= 1, f"update {update_id} answered by both replicas"

    def _tap(self, people, p: Person, kind: str, number: int, text: str, rng: random.Random):
        own = [m for m in self.telegram.chat(p.id) if m.reply_markup]
        any_own = self.telegram.chat(p.id)
        on = (own[-1] if own else any_own[-1]).message_id
        if kind in ("tap", "repeat") and own:
            choices = [d for _, d in buttons(own[-1])]
            onward = [d for d in choices if d.split(":", 1)[0] in ONWARD]
            if onward and number % 10 < 8:  # mostly forward, so that reports get reached
                choices = onward
            return choices[number % len(choices)], own[-1].message_id
        if kind == "old" and own:
            message = own[number % len(own)]
            choices = buttons(message)
            return choices[rng.randrange(len(choices))][1], message.message_id
        if kind == "forged":
            others = [m for o in people if o is not p for m in self.telegram.chat(o.id)
                      if m.reply_markup]
            if others:
                choices = buttons(others[number % len(others)])
                return choices[rng.randrange(len(choices))][1], on
        if kind == "garbage":
            return text, on
        template = FORGED[number % len(FORGED)]
        return template.format(a=rng.choice((rng.randrange(1, 60), rng.randrange(10**12))),
                               p=rng.randrange(40), o=rng.choice(OPTIONS)), on

    # --- the invariants ---------------------------------------------------------------------------
    async def check(self, people, p: Person, kind: str, update_id: int, calls_before: int,
                    errors_before: int) -> None:
        for error in self.errors[errors_before:]:
            deliberate = isinstance(error, TelegramError) and "injected" in str(error)
            assert deliberate, f"update {update_id} ({kind}) ended in the error handler: " \
                               f"{type(error).__name__}: {error}"
        for other in people:
            if other.id != p.id:
                assert await self.store.export_user(other.id) == self.exports[other.id], \
                    f"update {update_id} ({kind}) of {p.id} changed the rows of {other.id}"
        mine = await self.store.export_user(p.id)
        if update_id <= self.last_update_id:  # a repeated update id: nothing at all happens
            assert len(self.telegram.calls) == calls_before, "a repeated update was answered"
            assert mine == self.exports[p.id], "a repeated update changed rows"
        for assessment in mine["assessments"]:
            items = self.items[assessment["mode"]]
            answered = [a["item"] for a in assessment["answers"]]
            assert len(answered) <= len(items) and set(answered) <= items
            assert len(set(answered)) == len(answered)
            self.most_answers = max(self.most_answers, len(answered))
            if assessment["status"] == "finished":
                assert len(answered) == len(items), "finished with answers missing"
            for value in _scores(assessment["scores"]):
                assert 0 <= value <= 100, f"score {value} out of range"
            if assessment["status"] == "finished" and \
                    not _was_finished(self.exports[p.id], assessment["id"]):
                self.counts["finished"] += 1
        self.exports[p.id] = mine


def _tap_payload(p: Person, data: str, message_id: int, update_id: int, query_id: str) -> dict:
    msg = p.telegram.messages.get(p.id, {}).get(message_id)
    message = {"message_id": message_id, "date": int(time.time()),
               "chat": {"id": p.id, "type": "private"},
               "from": {"id": 999000, "is_bot": True, "first_name": "Coach"},
               "text": msg.text if msg else "old"}
    return {"update_id": update_id, "callback_query": {
        "id": query_id, "from": p._from(), "chat_instance": "ci", "data": data,
        "message": message}}


def _bot() -> dict:
    return {"id": 999000, "is_bot": True, "first_name": "Coach"}


def _was_finished(export: dict, assessment_id: int) -> bool:
    return any(a["id"] == assessment_id and a["status"] == "finished"
               for a in export["assessments"])


def _scores(scores: dict | None):
    if not scores:
        return
    for key in ("dimensions", "indices"):
        yield from (v for v in (scores.get(key) or {}).values() if v is not None)
    if scores.get("overall") is not None:
        yield scores["overall"]


@pytest.fixture(params=["sqlite", "postgresql"])
def fuzz(request, tmp_path, content):
    """Two replicas (Applications, each with its own Store) on one database, on an event loop of
    their own: Hypothesis runs each example synchronously, on this loop."""
    loop = asyncio.new_event_loop()
    name = None
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'fuzz.db'}"
    else:
        if not PG_URL:
            if IN_CI:
                pytest.fail("CI must run the PostgreSQL tests: TEST_POSTGRES_URL is not set")
            pytest.skip("no PostgreSQL configured")
        template = request.getfixturevalue("pg_template")
        name = f"tcx_fuzz_{os.getpid()}_{next(_databases)}"
        loop.run_until_complete(_sql(f"CREATE DATABASE {name} TEMPLATE {template}"))
        url = _pg_url(name)
    stores = [loop.run_until_complete(Store.open(url)) for _ in range(2)]
    telegram = FakeTelegram()
    apps = [loop.run_until_complete(make_app(content, store, telegram)) for store in stores]
    errors = ErrorLog()
    logging.getLogger().addHandler(errors)
    harness = Fuzz(apps, telegram, stores[0], content)
    harness.loop = loop
    yield harness
    logging.getLogger().removeHandler(errors)
    for app, store in zip(apps, stores, strict=True):
        loop.run_until_complete(app.shutdown())
        loop.run_until_complete(store.close())
    if name is not None:
        loop.run_until_complete(_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    loop.close()
    assert not errors.records, [r.getMessage() for r in errors.records]


_databases = itertools.count(1)


async def _sql(statement: str) -> None:
    admin = await _pg_admin()
    await admin.execute(statement)
    await admin.close()


def _sent(fuzz: Fuzz) -> int:
    return sum(v for k, v in fuzz.counts.items() if k not in ("fault", "finished"))


@pytest.mark.fuzz
def test_random_updates_from_several_users(fuzz):
    """Fast by default (a few hundred updates); FUZZ_UPDATES=<n>: at least n updates."""
    started = time.monotonic()
    target = LONG or 150

    @settings(max_examples=50 if LONG else FAST_EXAMPLES, deadline=None, database=None,
              print_blob=True, suppress_health_check=list(HealthCheck))
    @given(st.lists(action, min_size=MAX_ACTIONS // 2, max_size=MAX_ACTIONS))
    def run(actions):
        fuzz.loop.run_until_complete(fuzz.run(actions))

    while _sent(fuzz) < target:  # Hypothesis decides the sizes: run rounds until enough
        run()
    print(f"\nfuzz: {_sent(fuzz)} updates in {time.monotonic() - started:.0f} s: "
          + ", ".join(f"{k} {v}" for k, v in sorted(fuzz.counts.items()))
          + f"; at most {fuzz.most_answers} answers in one assessment")
    assert fuzz.counts["tap"] and fuzz.counts["repeat"] and fuzz.counts["forged"]
    assert fuzz.counts["race"] and fuzz.counts["both"]
