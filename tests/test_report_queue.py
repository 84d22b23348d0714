"""No report queue (issue 15): the result card never waits long for its chart. When every
drawing process is busy (a room finishing together), the card goes out as text at once, with
its buttons, and the chart follows once drawn."""

from __future__ import annotations

import asyncio
import time

from bot import render_pool

from .fakes import buttons
from .test_coaching import finish_quick
from .test_conversation import answer_context


async def test_the_card_reaches_the_user_while_the_chart_workers_are_busy(person, telegram):
    await render_pool.ready()  # the workers started and warm, as at the bot's start-up
    p = person(15001)
    await p.send("/start")
    await p.tap("Quick check")
    await answer_context(p)
    for _ in range(7):
        await p.tap(1)
    # Every worker drawing something slow (the charts of a room that finished together).
    busy = [asyncio.ensure_future(render_pool.run(time.sleep, 3.0))
            for _ in range(render_pool.workers())]
    await asyncio.sleep(0)
    started = time.perf_counter()
    await p.tap(1)  # the last answer
    finished = time.perf_counter() - started

    card = p.screen
    assert any(d.startswith("doc:") for _, d in buttons(card))  # the card, with its offers
    assert card.kind == "text" and card.text  # the summary, as text
    assert telegram.called("sendPhoto") == []  # the chart is still being drawn
    assert finished < 2.0  # not held behind the busy workers

    for _ in range(200):  # the chart follows, once a worker is free
        if telegram.called("sendPhoto"):
            break
        await asyncio.sleep(0.05)
    await asyncio.gather(*busy)
    photo = telegram.called("sendPhoto")
    assert len(photo) == 1 and photo[0].params["chat_id"] == p.id
    assert "reply_markup" not in photo[0].params  # the offers stay on the card


async def test_the_card_comes_as_the_chart_s_caption_when_the_chart_is_ready(person,
                                                                              telegram):
    await render_pool.ready()
    p = person(15002)
    await finish_quick(p)
    photo = telegram.called("sendPhoto")
    assert len(photo) == 1 and any(d.startswith("doc:") for _, d in buttons(p.screen))
    assert p.screen.kind == "photo"
