"""Two replicas on one database: two Applications, each with its own Store (its own connections),
taking one user's taps at the same moment, as two webhook replicas behind a load balancer would.

Every tap the bot acknowledged (answered without a notice, or with "Already saved.") must be in
the database afterwards; a tap that lost a race is told so and is never acknowledged. RACES races
of each kind per database (REPLICA_RACES=200 for a long run); the figures are printed with -n 0 -s.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time

import pytest
from telegram import Update

from bot.storage import Store
from bot.storage.cohorts import CohortStore

from .conftest import Person, make_app
from .fakes import FakeTelegram, buttons
from .helpers_domain import at
from .test_conversation import answer_context

RACES = int(os.environ.get("REPLICA_RACES", "12"))
ACKNOWLEDGED = (None, "", "Already saved.")
_ids = itertools.count(900_000)
_users = itertools.count(7_000_000_000)  # above 2^32, like real Telegram ids


class Replicas:
    """Two Applications on one database and one fake Bot API."""

    def __init__(self, apps, stores, telegram: FakeTelegram):
        self.apps, self.stores, self.telegram = apps, stores, telegram

    def person(self, n: int = 0) -> Person:
        return Person(self.apps[n], self.telegram, next(_users))

    def tap_update(self, p: Person, data: str, message_id: int) -> tuple[Update, str]:
        update_id = next(_ids)
        query_id = f"race{update_id}"
        message = {"message_id": message_id, "date": 0, "text": "q",
                   "chat": {"id": p.id, "type": "private"}}
        payload = {"update_id": update_id, "callback_query": {
            "id": query_id, "from": p._from(), "chat_instance": "ci", "data": data,
            "message": message}}
        return Update.de_json(payload, self.apps[0].bot), query_id

    async def race(self, p: Person, datas: list[str], delays: list[float]) -> list[str | None]:
        """Each tap to another replica at (nearly) the same moment; the notice each got."""
        message_id = p.screen.message_id
        taps = [self.tap_update(p, d, message_id) for d in datas]

        async def deliver(n: int, update: Update) -> None:
            await asyncio.sleep(delays[n])
            await self.apps[n % 2].process_update(update)

        await asyncio.gather(*(deliver(n, u) for n, (u, _) in enumerate(taps)))
        answers = {c.params.get("callback_query_id"): c.params.get("text")
                   for c in self.telegram.called("answerCallbackQuery")}
        return [answers.get(query_id, "(not answered)") for _, query_id in taps]


@pytest.fixture
async def replicas(content, db_url):
    telegram = FakeTelegram()
    stores = [await Store.open(db_url), await Store.open(db_url)]
    apps = [await make_app(content, s, telegram) for s in stores]
    yield Replicas(apps, stores, telegram)
    for app, store in zip(apps, stores, strict=True):
        await app.shutdown()
        await store.close()


def _delays(n: int) -> list[float]:
    """0 ms apart most of the time, sometimes one or the other a little later."""
    return [[0.0, 0.0], [0.0, 0.002], [0.002, 0.0], [0.0, 0.02]][n % 4]


async def test_concurrent_ticks_on_two_replicas_keep_every_acknowledged_tick(replicas):
    races = lost = acknowledged = 0
    for n in range(RACES):
        p = replicas.person()
        await p.send("/start")
        await p.tap("Full assessment")
        await p.tap("Café")
        await p.tap("2-5")
        assert "reach you" in p.screen.text
        ticks = [d for label, d in buttons(p.screen) if d.startswith("ctx:")]
        pair = [ticks[0], ticks[1 + n % 3]]
        notices = await replicas.race(p, pair, _delays(n))
        record = await replicas.stores[0].open_assessment(p.id)
        stored = record.state.context.get("channels", ())
        for data, notice in zip(pair, notices, strict=True):
            if notice in ACKNOWLEDGED:
                acknowledged += 1
                lost += data.rsplit(":", 1)[1] not in stored
            else:
                assert "out of date" in notice.lower() or "already" in notice.lower(), notice
        races += 1
        # The screen the user ends up with shows the truth: each stored tick has its mark.
        await p.press(ticks[0].replace("ctx:", "pause:").rsplit(":", 1)[0])
    print(f"\nreplicas/ticks: {races} races, {acknowledged} acknowledged ticks, {lost} lost")
    assert lost == 0


async def _to_first_item(p: Person) -> None:
    await p.send("/start")
    await p.tap("Quick check")
    await answer_context(p)
    assert at(1, 8) in p.screen.text


async def _to_an_evidence_item(replicas: Replicas, p: Person):
    """Answer low (no evidence question) until an item with an evidence check is on screen;
    its id and the callback data of its two options that lead to the evidence question."""
    await _to_first_item(p)
    coach = replicas.apps[0].bot_data["coach"]
    for _ in range(30):
        record = await replicas.stores[0].open_assessment(p.id)
        flow = coach.flow_of(record)
        item = flow.steps[record.state.cursor].item
        if item is not None and item.evidence:
            high = {o.id for o in item.options if o.score >= 3}
            datas = [d for _, d in buttons(p.screen)
                     if d.startswith("ans:") and d.rsplit(":", 1)[1] in high]
            if len(datas) >= 2:
                return item.id, datas[:2]
        await p.tap(1)
    raise AssertionError("no item with an evidence check in the quick check")


async def test_concurrent_item_and_evidence_answers_keep_every_acknowledged_answer(replicas):
    races = lost = acknowledged = 0
    for n in range(RACES):
        p = replicas.person()
        item_id, pair = await _to_an_evidence_item(replicas, p)
        # Two answers that both lead to the evidence question.
        notices = await replicas.race(p, pair, _delays(n))
        record = await replicas.stores[0].open_assessment(p.id)
        stored = record.state.answers.get(item_id)
        for data, notice in zip(pair, notices, strict=True):
            if notice in ACKNOWLEDGED:
                acknowledged += 1
                lost += stored is None or stored.option_id != data.rsplit(":", 1)[1]
        # Now the evidence question: "yes" and "no" at the same moment.
        evidence = [d for _, d in buttons(replicas.telegram.last_with_buttons(p.id))
                    if d.startswith("ev:")]
        if not evidence:  # the screen was left on the item: show it again
            await p.send("/start")
            await p.tap("Continue")
            evidence = [d for _, d in buttons(p.screen) if d.startswith("ev:")]
        notices = await replicas.race(p, evidence[:2], _delays(n + 1))
        record = await replicas.stores[0].open_assessment(p.id)
        stored = record.state.answers.get(item_id)
        for data, notice in zip(evidence[:2], notices, strict=True):
            if notice in ACKNOWLEDGED:
                acknowledged += 1
                lost += stored is None or stored.evidence is not (data.endswith(":y"))
        races += 2
    print(f"\nreplicas/answers: {races} races, {acknowledged} acknowledged answers, {lost} lost")
    assert lost == 0


async def _finish_quick(p: Person) -> None:
    await _to_first_item(p)
    for _ in range(8):
        await p.tap(1)
    assert p.telegram.last_with_buttons(p.id) is not None


async def test_concurrent_check_in_choices_leave_one_pending(replicas):
    users = max(4, RACES // 2)
    doubled = 0
    for n in range(users):
        p = replicas.person()
        await _finish_quick(p)
        await replicas.stores[0].set_timezone(p.id, "Asia/Taipei")  # else it is asked first
        card = replicas.telegram.last_with_buttons(p.id)
        await p.press(next(d for _, d in buttons(card) if d.startswith("chk:")),
                      card.message_id)  # the result card's "Check-ins" button
        offer = replicas.telegram.last_with_buttons(p.id)
        choices = [d for _, d in buttons(offer) if d.startswith("rem:") and not d.endswith(":0")]
        assert len(choices) == 2, choices
        await replicas.race(p, choices, _delays(n))
        pending = await replicas.stores[1].pending_reminders(p.id)
        doubled += len(pending) > 1
        assert len(pending) == 1
    print(f"\nreplicas/check-ins: {users} races, {doubled} users with two pending")


async def test_concurrent_new_cohort_taps_ask_for_one_name(replicas):
    """A trainer's double tap on "New cohort", one tap on each replica: both are answered, the
    bot asks for the name (no "something went wrong"), and the typed name makes one cohort."""
    for n in range(max(4, RACES // 2)):
        t = replicas.person()
        await t.send("/trainer")
        notices = await replicas.race(t, ["tr:new", "tr:new"], _delays(n))
        assert "(not answered)" not in notices, notices
        texts = [c.params.get("text", "") for c in replicas.telegram.calls
                 if c.params.get("chat_id") == t.id]
        assert not any("went wrong" in text for text in texts), texts
        await t.send(f"Cohort {n}")
        owned = await CohortStore(replicas.stores[0].engine).owned(t.id)
        assert [c.name for c in owned] == [f"Cohort {n}"]


async def test_the_same_name_request_twice_at_once_is_one_request(replicas):
    """What a double "New cohort" tap on two replicas stores: the bot's request to type a name,
    written by both at the same moment (it failed with a duplicate key on PostgreSQL)."""
    t = replicas.person()
    await t.send("/trainer")
    stores = [CohortStore(s.engine) for s in replicas.stores]
    for _ in range(RACES):
        await asyncio.gather(stores[0].set_prompt(t.id, "new"), stores[1].set_prompt(t.id, "new"))
        assert (await stores[1].prompt(t.id)) == ("new", None)


FORGED_IDS = ("2147483648", "9223372036854775807", "999999999999")
FORGED = ("ans:{id}:0:a", "ans:1:{id}:a", "ev:{id}:4:y", "ctx:{id}:0:cafe", "ok:{id}:2",
          "back:{id}:1", "pause:{id}:1", "go:{id}", "doc:{id}", "plan:{id}", "pa:{id}:1",
          "rem:{id}:7", "ci:{id}:done", "tr:dash:{id}", "tr:csv:{id}", "tr:qr:{id}",
          "tr:ren:{id}", "tr:close:{id}", "tr:closeok:{id}", "tr:leave:{id}")


async def test_ids_out_of_range_are_not_ours(content, db_url, person, telegram, store, app):
    """Callback data with ids beyond the INTEGER columns (2^31 and up): the short "not available
    here" notice, nothing done, no database error; the largest possible id still works."""
    errors = []

    async def record(update, context):
        errors.append(context.error)

    app.add_error_handler(record)
    p = person(7_123_456_789)  # a Telegram user id above 2^32
    await p.send("/start")
    await p.tap("Quick check")
    before = await store.export_user(p.id)
    taps = 0
    for template in FORGED:
        for big in FORGED_IDS:
            await p.press(template.format(id=big))
            taps += 1
            answer = telegram.callback_answers()[-1]
            assert answer.get("text") == "That choice is not available here.", (template, answer)
    for template in FORGED:  # 2^31 - 1 fits: an ordinary stale or foreign tap
        await p.press(template.format(id="2147483647"))
    assert errors == []
    assert await store.export_user(p.id) == before
    print(f"\nids: {taps} out-of-range taps, {len(errors)} errors")


MIGRATION_ROUNDS = int(os.environ.get("MIGRATION_ROUNDS", "5"))


def _start_up(url: str, gate, results) -> None:
    """One replica's start-up in a process of its own: Store.open migrates to the newest
    revision; the outcome goes to `results` (None, or the error's type and text)."""
    async def start() -> None:
        gate.wait()
        store = await Store.open(url)
        assert await store.ping()
        await store.close()

    try:
        asyncio.run(start())
        results.put(None)
    except BaseException as exc:  # noqa: BLE001 (reported, with its type)
        results.put(f"{type(exc).__name__}: {exc}"[:300])


def _open_at_once(url: str, replicas: int = 2) -> list[str | None]:
    """`replicas` processes (forked: no import time) released at the same moment."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    gate, results = ctx.Barrier(replicas), ctx.Queue()
    processes = [ctx.Process(target=_start_up, args=(url, gate, results))
                 for _ in range(replicas)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(10)
    return outcomes


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_simultaneous_migrations_both_start(kind, tmp_path):
    from .conftest import IN_CI, PG_URL, _pg_admin, _pg_url

    if kind == "postgresql" and not PG_URL:
        if IN_CI:
            pytest.fail("CI must run the PostgreSQL tests: TEST_POSTGRES_URL is not set")
        pytest.skip("no PostgreSQL configured")
    failed = 0
    for n in range(MIGRATION_ROUNDS):
        if kind == "sqlite":
            url = f"sqlite+aiosqlite:///{tmp_path / f'fresh{n}.db'}"
        else:
            name = f"tcx_migrate_{os.getpid()}_{n}"

            async def create(name=name) -> None:
                admin = await _pg_admin()
                await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                await admin.execute(f"CREATE DATABASE {name}")  # empty: nothing migrated
                await admin.close()

            asyncio.run(create())
            url = _pg_url(name)
        outcomes = _open_at_once(url)
        failed += sum(o is not None for o in outcomes)
        assert outcomes == [None, None], outcomes
        if kind == "postgresql":
            async def drop(name=name) -> None:
                admin = await _pg_admin()
                await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                await admin.close()

            asyncio.run(drop())
    print(f"\nmigrations/{kind}: {MIGRATION_ROUNDS} double start-ups, {failed} failed")


BURST = int(os.environ.get("BURST_UPDATES", "300"))


async def until(predicate, seconds: float, step: float = 0.005) -> float:
    """Poll until predicate() holds (at most `seconds`); the seconds it took."""
    started = time.monotonic()
    for _ in range(int(seconds / step)):
        if predicate():
            break
        await asyncio.sleep(step)
    return time.monotonic() - started


async def test_one_users_burst_does_not_stall_another_user(content, store):
    """A script sends BURST updates as one user; another user's /start, sent right after, is
    answered at once, not after the burst. Every update of the burst is still handled, in
    order, and the script's user is told once to slow down."""
    telegram = FakeTelegram(latency=0.005)  # every Bot API call takes a little time
    app = await make_app(content, store, telegram, max_concurrent_updates=16)
    await app.start()
    try:
        script, other = Person(app, telegram, next(_users)), Person(app, telegram, next(_users))

        def message(p: Person, text: str) -> Update:
            update_id = next(_ids)
            return Update.de_json({"update_id": update_id, "message": {
                "message_id": update_id, "date": 0, "chat": {"id": p.id, "type": "private"},
                "from": p._from(), "text": text,
                "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}]}},
                app.bot)

        for _ in range(BURST):
            await app.update_queue.put(message(script, "/help"))
        await app.update_queue.put(message(other, "/start"))
        waited = await until(lambda: telegram.chat(other.id), 10)
        await until(lambda: len(telegram.chat(script.id)) >= BURST + 1, 60)
    finally:
        await app.stop()
        await app.shutdown()
    texts = [m.text for m in telegram.chat(script.id)]
    notices = [t for t in texts if "a lot at once" in t]
    print(f"\nburst: {BURST} updates from one user; the other user's /start answered after "
          f"{waited * 1000:.0f} ms; {len(texts) - len(notices)} of the burst answered, "
          f"{len(notices)} notice")
    assert waited < 1.0, f"the other user waited {waited:.2f} s"
    assert len(notices) == 1
    assert len(texts) - len(notices) == BURST, "every update of the burst was handled"
