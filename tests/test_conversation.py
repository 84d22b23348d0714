"""The Telegram conversation, driven through the real Application on a real SQLite file."""

from __future__ import annotations

import json

from bot.storage import Store

from .conftest import make_app
from .fakes import buttons


async def answer_context(p) -> None:
    await p.tap("Café")
    await p.tap("2-5")
    await p.tap("In person")
    await p.tap("Done")
    await p.tap("Integrity")
    await p.tap("Done")


async def test_full_assessment_reaches_the_report(person, telegram, store):
    p = person()
    await p.send("/start")
    assert "Hello, Ann!" in p.texts[-1]
    await p.tap("Full assessment")
    await answer_context(p)
    assert "1/24" in p.screen.text
    for _ in range(24):
        await p.tap(1)  # the second option: score 1, never asks for evidence
    summary = next(t for t in p.texts if "Trust Index" in t)
    for name in ("Integrity", "Ability", "Affinity", "Consistency", "Customer perspective",
                 "Systems thinking", "Innovation", "Emotion"):
        assert name in summary
    assert telegram.called("sendPhoto"), "the radar chart was sent"
    await p.tap("Full report")
    document = telegram.called("sendDocument")[-1]
    assert document.files, "the HTML report was uploaded as a file"
    finished = await store.finished_assessments(p.id)
    assert len(finished) == 1 and finished[0].scores["overall"] == 25.0
