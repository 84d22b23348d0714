"""The hot statements on SQLite run on the sqlite3 driver itself (bot/storage/statements.py):
what they write and read must be what SQLAlchemy's own execution writes and reads, their errors
SQLAlchemy's, and a failing unit in a group commit must leave the others."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from bot.storage.models import User, utcnow
from bot.storage.statements import execute, prebuilt
from tests.helpers_domain import QUICK_ITEMS

from .test_conversation import answer_context


async def test_an_assessment_reads_back_as_sqlalchemy_reads_it(person, store):
    p = person(9101)
    await p.send("/start")
    await p.tap("Quick check")
    await answer_context(p)
    await p.tap(4)  # the best option of an evidence item: its check follows
    await p.tap("Not every one")
    for _ in range(QUICK_ITEMS - 1):
        await p.tap(0)
    # finished_assessments reads the assessment row through SQLAlchemy's execution;
    # load_assessment through the prebuilt statement (the driver itself on SQLite).
    (through_sqlalchemy,) = await store.finished_assessments(p.id)
    through_driver = await store.load_assessment(through_sqlalchemy.state.id)
    assert through_driver == through_sqlalchemy
    # Times come back aware, in UTC (the column type's result processing ran).
    assert through_driver.created_at.utcoffset() == timedelta(0)
    assert through_driver.finished_at.utcoffset() == timedelta(0)
    assert through_driver.scores["overall"] == through_sqlalchemy.scores["overall"]
    # The answers as the ORM reads them (export): the check's "no" is a stored False.
    exported = (await store.export_user(p.id))["assessments"][0]
    assert {a["item"]: (a["option"], a["evidence"]) for a in exported["answers"]} == {
        item: (answer.option_id, answer.evidence)
        for item, answer in through_driver.state.answers.items()}
    assert any(answer.evidence is False for answer in through_driver.state.answers.values())
    assert {k: tuple(v) for k, v in exported["context"].items()} == through_driver.state.context


async def test_a_unit_that_fails_leaves_the_others_of_its_group_commit(store, db_url):
    """Units waiting together commit together, each in a savepoint: the duplicate insert fails
    with SQLAlchemy's IntegrityError (the callers catch that one), the others are stored."""
    await store.ensure_user(1, "en")
    statement = lambda _: insert(User.__table__).values(  # noqa: E731 (built once)
        id=1, language="en", active=True, created_at=utcnow())

    def duplicate(conn):
        return execute(conn, prebuilt(conn, "test_duplicate_user", statement), {})

    results = await asyncio.gather(
        *(store.ensure_user(uid, "zh-Hans") for uid in range(2, 12)),
        store._run(duplicate, effect=False),
        *(store.ensure_user(uid, "en") for uid in range(12, 22)),
        return_exceptions=True)
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(failed) == 1 and isinstance(failed[0], IntegrityError)
    for uid in range(2, 22):
        user = await store.get_user(uid)
        assert user is not None and user.language == ("zh-Hans" if uid < 12 else "en")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_write_is_in_the_file_when_its_caller_goes_on(store, db_url, tmp_path):
    """The driver path writes in the unit's transaction: committed (in the file, seen by
    another connection) before the caller goes on."""
    import sqlite3

    await store.ensure_user(77, "zh-Hant")
    with sqlite3.connect(tmp_path / "bot.db") as other:
        assert other.execute("SELECT language FROM users WHERE id = 77").fetchall() == [
            ("zh-Hant",)]
