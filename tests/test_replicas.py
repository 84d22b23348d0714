"""Two replicas on one database: two Applications, each with its own Store (its own connections),
taking one user's taps at the same moment, as two webhook replicas behind a load balancer would.

Every tap the bot acknowledged (answered without a notice, or with "Already saved.") must be in
the database afterwards; a tap that lost a race is told so and is never acknowledged. RACES races
of each kind per database (REPLICA_RACES=200 for a long run); the figures are printed with -s.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time

import pytest
from telegram import Update

from bot.storage import Store

from .conftest import Person, make_app
from .fakes import FakeTelegram, buttons
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
    assert "1/8" in p.screen.text


async def test_concurrent_item_and_evidence_answers_keep_every_acknowledged_answer(replicas):
    races = lost = acknowledged = 0
    for n in range(RACES):
        p = replicas.person()
        await _to_first_item(p)
        item = [d for _, d in buttons(p.screen) if d.startswith("ans:")]
        # Two answers that both lead to the evidence question ("written" and "reviewed").
        pair = [item[3], item[4]]
        notices = await replicas.race(p, pair, _delays(n))
        record = await replicas.stores[0].open_assessment(p.id)
        stored = record.state.answers.get("int_price_clarity")
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
        stored = record.state.answers.get("int_price_clarity")
        for data, notice in zip(evidence[:2], notices, strict=True):
            if notice in ACKNOWLEDGED:
                acknowledged += 1
                lost += stored.evidence is not (data.endswith(":y"))
        races += 2
    print(f"\nreplicas/answers: {races} races, {acknowledged} acknowledged answers, {lost} lost")
    assert lost == 0
