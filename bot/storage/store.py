"""The one storage interface the adapters call. Every write commits before the method returns."""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import (
    Engine,
    bindparam,
    create_engine,
    delete,
    event,
    exists,
    func,
    insert,
    literal,
    null,
    text,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import prepare_sqlite_dir
from bot.domain.flow import Answer as DomainAnswer
from bot.domain.flow import AssessmentState, Move

from . import cohorts as cohort_data  # the trainer feature's rows of a user
from . import inbox
from .feedback import FeedbackStore  # the 360° check's rows of a user
from .feedback_models import FeedbackLink, PulseResponse
from .inbox import (
    CURRENT_UPDATE,
    TakenUp,
    UpdateClaim,
    UpdateSuperseded,
    commit_effect,
)
from .models import (
    Answer,
    Assessment,
    ContextAnswer,
    PlanAction,
    Reminder,
    User,
    utcnow,
)
from .statements import execute, prebuilt

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UserRecord:
    id: int
    language: str | None
    active: bool
    timezone: str | None = None  # IANA name; loaded by get_user (admit leaves it None)


@dataclass(frozen=True)
class PlanItem:
    id: int
    assessment_id: int
    recommendation_id: str
    phase: str
    done: bool


@dataclass(frozen=True)
class DueReminder:
    id: int
    user_id: int
    assessment_id: int | None
    language: str | None
    timezone: str | None


@dataclass
class AssessmentRecord:
    state: AssessmentState
    user_id: int
    status: str
    content_version: str
    message_id: int | None
    created_at: datetime
    finished_at: datetime | None
    scores: dict | None
    last_update_id: int | None = None  # the update of the last write (opening or move)


_A = Assessment.__table__
_ANS = Answer.__table__
_CTX = ContextAnswer.__table__
_U = User.__table__
_PA = PlanAction.__table__
_R = Reminder.__table__
INBOX_LEASE = timedelta(seconds=60)  # a replica that has not renewed its lease this long is dead
MIGRATION_LOCK = 7_270_421_900  # pg_advisory_xact_lock key: "migrating the coach's schema"
_PENDING = text("status = 'pending'")  # the partial unique index's predicate, word for word
_dialect_insert = inbox.dialect_insert


def _upsert(conn, table, keys: tuple[str, ...], **values):
    """INSERT ... ON CONFLICT (keys) DO UPDATE: SQLite and PostgreSQL spell it the same."""
    statement = _dialect_insert(conn, table).values(**values)
    return statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={k: statement.excluded[k] for k in values if k not in keys})


def _upsert_statement(conn, table, keys: tuple[str, ...], values: tuple[str, ...]):
    """_upsert with every value a bindparam b_<column>: built once (statements.prebuilt)."""
    statement = _dialect_insert(conn, table).values(
        **{k: bindparam(f"b_{k}", type_=table.c[k].type) for k in (*keys, *values)})
    return statement.on_conflict_do_update(
        index_elements=list(keys), set_={k: statement.excluded[k] for k in values})


def _insert_ignore(conn, table, keys: tuple[str, ...], **values):
    return _dialect_insert(conn, table).values(**values).on_conflict_do_nothing(
        index_elements=list(keys))


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # The driver's own transaction handling off: we say BEGIN ourselves (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # Wait for a lock instead of failing at once: another replica's migration, a long backup
    # start, a burst of writers on a loaded machine.
    cursor.execute("PRAGMA busy_timeout=30000")
    # Readers never block the writer. Two processes opening a new file at the same moment may
    # both try to switch it to WAL; SQLite can answer "database is locked" without waiting for
    # that, so try again for a few seconds.
    for attempt in range(50):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 49:
                raise
            time.sleep(0.1)
    cursor.execute("PRAGMA foreign_keys=ON")  # ON DELETE CASCADE for /delete
    cursor.execute(f"PRAGMA synchronous={SQLITE_SYNCHRONOUS}")
    cursor.close()


def _sqlite_begin(conn) -> None:
    """BEGIN IMMEDIATE for writes: the write lock is taken before the first read, so a unit that
    reads and then writes never finds that another connection (a second process, a migration
    at the same moment) wrote in between (SQLITE_BUSY_SNAPSHOT); it waits its turn instead.
    Reads (execution option sqlite_read) begin deferred and never wait for a writer."""
    read = conn.get_execution_options().get("sqlite_read", False)
    conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")


# Power loss: WAL with synchronous=FULL syncs the log at every commit, so a commit the bot
# acknowledged survives a power cut (NORMAL: it survives a crash of the process, but the last
# commits before a power cut may be lost). Measured in the README's Reliability section.
SQLITE_SYNCHRONOUS = "NORMAL" if os.environ.get("SQLITE_SYNCHRONOUS", "").upper() == "NORMAL" \
    else "FULL"


def make_engine(url: str) -> AsyncEngine:
    prepare_sqlite_dir(url)
    if url.startswith("sqlite"):
        # SQLite's rare paths (migrations, cohorts, export) use this async engine; the hot
        # path runs on Store's own thread (see Store._run).
        engine = create_async_engine(url, connect_args={"timeout": 30}, pool_size=1,
                                     max_overflow=0, pool_timeout=60)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
    else:
        engine = create_async_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)
    return engine


def _sqlite_thread_engine(url: str) -> Engine:
    sync_url = url.replace("sqlite+aiosqlite", "sqlite+pysqlite", 1)
    engine = create_engine(sync_url, connect_args={"timeout": 30, "check_same_thread": False},
                           pool_size=1, max_overflow=0)
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


# --- units of work (plain functions over a Core connection; see Store._run) ----------------
def _record(conn, row) -> AssessmentRecord:
    """The record of an assessment row, its answers and context read in one query."""
    parts = execute(conn, prebuilt(conn, "parts", lambda _: union_all(
        select(literal("a"), _ANS.c.item_id, _ANS.c.option_id, _ANS.c.evidence)
        .where(_ANS.c.assessment_id == bindparam("b_id")),
        select(literal("c"), _CTX.c.question_id, _CTX.c.options, null())
        .where(_CTX.c.assessment_id == bindparam("b_id")))), {"b_id": row.id}).all()
    state = AssessmentState(
        id=row.id,
        mode=row.mode,
        cursor=row.cursor,
        finished=row.status != "open",
        context={key: tuple(o for o in value.split(",") if o)
                 for kind, key, value, _ in parts if kind == "c"},
        answers={key: DomainAnswer(value, None if evidence is None else bool(evidence))
                 for kind, key, value, evidence in parts if kind == "a"},
        prefilled=bool(row.prefilled),
        staff=row.link_id is not None,
        version=row.version,
    )
    return AssessmentRecord(state, row.user_id, row.status, row.content_version,
                            row.message_id, row.created_at, row.finished_at, row.scores,
                            row.last_update_id)


def _load_where(conn, where: tuple, newest: bool) -> AssessmentRecord | None:
    query = select(_A).where(*where)
    if newest:
        query = query.order_by(_A.c.id.desc()).limit(1)
    row = conn.execute(query).first()
    return _record(conn, row) if row else None


def _load_by_id(conn, assessment_id: int) -> AssessmentRecord | None:
    row = execute(conn, prebuilt(conn, "assessment", lambda _: select(_A).where(
        _A.c.id == bindparam("b_id"))), {"b_id": assessment_id}).first()
    return _record(conn, row) if row else None


def _ensure_user(conn, user_id: int, language: str) -> UserRecord:
    row = execute(conn, prebuilt(conn, "user", lambda _: select(_U.c.language, _U.c.active)
                                .where(_U.c.id == bindparam("b_id"))), {"b_id": user_id}).first()
    if row is None:
        conn.execute(_insert_ignore(conn, _U, ("id",), id=user_id, language=language,
                                    active=True, created_at=utcnow()))
        return UserRecord(user_id, language, True)
    if not row.active:
        conn.execute(update(_U).where(_U.c.id == user_id).values(active=True))
    return UserRecord(user_id, row.language, True)


def _admit(conn, update_id: int, owner: str, lease_until: datetime, user_id: int | None,
           language: str, prefetch: int | None = None
           ) -> tuple[bool, UserRecord | None, AssessmentRecord | None]:
    if not inbox.claim(conn, update_id, owner, lease_until):
        return False, None, None
    user = _ensure_user(conn, user_id, language) if user_id is not None else None
    return True, user, (_load_by_id(conn, prefetch) if prefetch is not None else None)


def _previous_context(conn, user_id: int) -> dict[str, str]:
    """The context answers of the user's latest assessment that has all of them asked
    (question id -> stored options), or {} for a first assessment."""
    latest = conn.execute(select(_A.c.id).where(_A.c.user_id == user_id,
                                                _A.c.status == "finished", _A.c.link_id.is_(None))
                          .order_by(_A.c.id.desc()).limit(1)).scalar()
    if latest is None:
        return {}
    return {q: o for q, o in conn.execute(select(_CTX.c.question_id, _CTX.c.options)
                                          .where(_CTX.c.assessment_id == latest))}


def _opened_by(conn, user_id: int, update_id: int | None) -> AssessmentRecord | None:
    """The assessment this update opened, when the update is processed again after a crash."""
    if update_id is None:
        return None
    return _load_where(conn, (_A.c.user_id == user_id, _A.c.status == "open",
                              _A.c.last_update_id == update_id), True)


def _set_aside(conn, user_id: int) -> datetime:
    """Set the user's open assessment aside (kept, not lost) before a new one; returns now."""
    now = utcnow()
    conn.execute(update(_A).where(_A.c.user_id == user_id, _A.c.status == "open")
                 .values(status="abandoned", updated_at=now))
    return now


def _start_staff(conn, user_id: int, mode: str, version: str, link_id: int,
                 context: dict[str, str], cursor: int, update_id: int | None) -> AssessmentRecord:
    again = _opened_by(conn, user_id, update_id)
    if again is not None:
        return again
    now = _set_aside(conn, user_id)
    result = conn.execute(insert(_A).values(user_id=user_id, mode=mode, status="open",
                                            content_version=version, cursor=cursor,
                                            prefilled=False, link_id=link_id,
                                            last_update_id=update_id, created_at=now,
                                            updated_at=now))
    assessment_id = result.inserted_primary_key[0]
    if context:
        conn.execute(insert(_CTX), [
            {"assessment_id": assessment_id, "question_id": q, "options": o, "answered_at": now}
            for q, o in context.items()])
    state = AssessmentState(assessment_id, mode, cursor, staff=True, context={
        q: tuple(x for x in o.split(",") if x) for q, o in context.items()})
    return AssessmentRecord(state, user_id, "open", version, None, now, None, None, update_id)


def _start_assessment(conn, user_id: int, mode: str, version: str,
                      positions: tuple[int, int], questions: tuple[str, ...],
                      update_id: int | None) -> AssessmentRecord:
    again = _opened_by(conn, user_id, update_id)
    if again is not None:
        return again
    # The unique index on open assessments makes a second replica doing the same at the same
    # moment fail (IntegrityError) rather than leave two open ones: Store retries it.
    now = _set_aside(conn, user_id)
    previous = _previous_context(conn, user_id)
    prefilled = bool(previous) and all(q in previous for q in questions)
    cursor = positions[0] if prefilled else positions[1]
    result = conn.execute(insert(_A).values(user_id=user_id, mode=mode, status="open",
                                            content_version=version, cursor=cursor,
                                            prefilled=prefilled, last_update_id=update_id,
                                            created_at=now, updated_at=now))
    assessment_id = result.inserted_primary_key[0]
    context: dict[str, tuple[str, ...]] = {}
    if prefilled:
        conn.execute(insert(_CTX), [
            {"assessment_id": assessment_id, "question_id": q, "options": previous[q],
             "answered_at": now} for q in questions])
        context = {q: tuple(o for o in previous[q].split(",") if o) for q in questions}
    state = AssessmentState(assessment_id, mode, cursor, context=context, prefilled=prefilled)
    return AssessmentRecord(state, user_id, "open", version, None, now, None, None, update_id)


def _apply_move(conn, move: Move, finish: tuple[dict, list] | None,
                update_id: int | None) -> bool:
    now = utcnow()
    result = execute(conn, prebuilt(conn, "move", lambda _: (
        update(_A).where(_A.c.id == bindparam("b_id"), _A.c.version == bindparam("b_version"),
                         _A.c.cursor == bindparam("b_cursor"), _A.c.status == "open")
        .values(cursor=bindparam("b_new_cursor"), version=_A.c.version + 1,
                last_update_id=bindparam("b_update_id"), updated_at=bindparam("b_now")))),
        {"b_id": move.assessment_id, "b_version": move.expected_version,
         "b_cursor": move.expected_cursor, "b_new_cursor": move.new_cursor,
         "b_update_id": update_id, "b_now": now})
    if result.rowcount != 1:
        raise Rollback(False)
    if move.answer is not None:
        item_id, answer = move.answer
        execute(conn, prebuilt(conn, "answer", lambda c: _upsert_statement(
            c, _ANS, ("assessment_id", "item_id"), ("option_id", "evidence", "answered_at"))),
            {"b_assessment_id": move.assessment_id, "b_item_id": item_id,
             "b_option_id": answer.option_id, "b_evidence": answer.evidence,
             "b_answered_at": now})
    if move.context is not None:
        question_id, options = move.context
        execute(conn, prebuilt(conn, "context", lambda c: _upsert_statement(
            c, _CTX, ("assessment_id", "question_id"), ("options", "answered_at"))),
            {"b_assessment_id": move.assessment_id, "b_question_id": question_id,
             "b_options": ",".join(options), "b_answered_at": now})
    if finish is not None:  # the last answer and the closing in one transaction
        return _finish(conn, move.assessment_id, *finish)
    return True


def _finish(conn, assessment_id: int, scores: dict, plan: list[tuple[str, str]]) -> bool:
    now = utcnow()
    result = conn.execute(update(_A).where(_A.c.id == assessment_id, _A.c.status == "open")
                          .values(status="finished", scores=scores, finished_at=now,
                                  updated_at=now))
    if result.rowcount != 1:
        raise Rollback(False)  # with the last answer written before it in this unit
    if plan:
        conn.execute(insert(_PA), [
            {"assessment_id": assessment_id, "recommendation_id": rec, "phase": phase,
             "position": n} for n, (rec, phase) in enumerate(plan)])
    return True


def _schedule(conn, user_id: int, assessment_id: int | None, due_at: datetime) -> int:
    statement = _dialect_insert(conn, _R).values(
        user_id=user_id, assessment_id=assessment_id, due_at=due_at, status="pending",
        created_at=utcnow())
    statement = statement.on_conflict_do_update(
        index_elements=["user_id"], index_where=_PENDING,
        set_={"assessment_id": statement.excluded.assessment_id,
              "due_at": statement.excluded.due_at,
              "created_at": statement.excluded.created_at})
    return conn.execute(statement.returning(_R.c.id)).scalar_one()


GROUP_COMMIT = 64  # SQLite: at most this many units in one transaction


class Rollback(Exception):  # noqa: N818 (an outcome, not a failure)
    """Raised by a unit: undo what it wrote and return `value` to its caller."""

    def __init__(self, value) -> None:
        super().__init__(value)
        self.value = value


def _run_units(sync: Engine, units: list[tuple]) -> list[tuple[bool, object]]:
    """Run units (unit, args, read) in one SQLite transaction, each in a savepoint, and commit
    once. (True, value) or (False, exception) per unit; when the commit fails, nothing of
    them is stored and each gets the exception."""
    try:
        with sync.connect() as conn:
            if all(read for _, _, read in units):
                conn.execution_options(sqlite_read=True)
            results: list[tuple[bool, object]] = []
            conn.begin()  # BEGIN [IMMEDIATE] (_sqlite_begin); the savepoints go to sqlite3 itself
            driver = conn.connection.dbapi_connection
            for unit, args, _ in units:
                driver.execute("SAVEPOINT unit")
                try:
                    results.append((True, unit(conn, *args)))
                except Rollback as undo:
                    driver.execute("ROLLBACK TO unit")
                    results.append((True, undo.value))
                except Exception as exc:
                    driver.execute("ROLLBACK TO unit")
                    results.append((False, exc))
                driver.execute("RELEASE unit")
            conn.commit()
        return results
    except Exception as exc:
        return [(False, exc)] * len(units)


def _settle(future: asyncio.Future, result: tuple[bool, object]) -> None:
    if future.cancelled():
        return
    ok, value = result
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


def _settle_all(settled: list[tuple[asyncio.Future, tuple[bool, object]]]) -> None:
    for future, result in settled:
        _settle(future, result)


def _current_update_id() -> int | None:
    claim = CURRENT_UPDATE.get()
    return claim.update_id if claim is not None and claim.owned else None


class Store:
    """Every method is one unit of work that commits before it returns.

    The units are plain functions over a SQLAlchemy Core connection, run where each database
    is fastest: on PostgreSQL through the async engine (asyncpg; `run_sync` bridges them with
    greenlets, no threads); on SQLite all in one thread of the Store's with the sqlite3 driver,
    one hop per unit. aiosqlite costs about 150 us and three thread hops per statement (measured:
    sqlite3 itself 1.4 us), and a tap takes eight statements: the hot path would spend most of
    its time handing work between threads.

    Three kinds of unit: reads (`_read`), bookkeeping writes that may happen again harmlessly
    (`_run(..., effect=False)`: the user row, the message id), and effects (`_run`), which are
    written only while the update being processed is still this replica's (bot.storage.inbox).
    """

    def __init__(self, engine: AsyncEngine, url: str | None = None):
        self.engine = engine
        self.lease = INBOX_LEASE  # how long an accepted update is held before others may take it
        self._sync: Engine | None = None
        self._thread: ThreadPoolExecutor | None = None
        # The intake lane: accepting updates into the inbox has connections (or a thread) of its
        # own, so the webhook's 200 never queues behind hundreds of updates being processed.
        self._intake: tuple[Engine | AsyncEngine, ThreadPoolExecutor | None] | None = None
        # SQLite's group commit (see _drain): units waiting for the thread, oldest first.
        self._queue: collections.deque = collections.deque()
        self._queue_lock = threading.Lock()
        self._draining = False
        if url is not None and url.startswith("sqlite"):
            self._sync = _sqlite_thread_engine(url)
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite")
            self._intake = (_sqlite_thread_engine(url),
                            ThreadPoolExecutor(1, thread_name_prefix="sqlite-intake"))
        elif url is not None:
            self._intake = (create_async_engine(url, pool_pre_ping=True, pool_size=2,
                                                max_overflow=2), None)

    @classmethod
    async def open(cls, url: str, migrate: bool = True) -> Store:
        store = cls(make_engine(url), url)
        if migrate:
            await store.migrate()
        return store

    async def _run(self, unit, *args, effect: bool = True, read: bool = False,
                   intake: bool = False):
        """Run `unit(connection, *args)` in one transaction and commit it. An effect made while
        an update is processed first checks that the update is still this replica's; if another
        replica took it up meanwhile, nothing is written and UpdateSuperseded is raised."""
        claim = CURRENT_UPDATE.get()
        if claim is not None and not read:
            claim.prefetched = None  # a write: what admit read may be out of date now
        tie = effect and not read and claim is not None and claim.owned and not claim.settled
        if tie:
            plain = unit

            def unit(conn, *unit_args):  # noqa: F811 (the check, then the unit)
                if not inbox.hold(conn, claim.update_id, claim.owner):
                    raise UpdateSuperseded(claim.update_id)  # the unit is rolled back
                return plain(conn, *unit_args)

        sync, thread, engine = self._sync, self._thread, self.engine
        if intake and self._intake is not None:
            if self._sync is not None:
                sync, thread = self._intake
            else:
                engine = self._intake[0]
        if sync is not None:
            if sync is self._sync:  # the main lane: committed in groups (_drain)
                loop = asyncio.get_running_loop()
                future = loop.create_future()
                self._queue.append((unit, args, read, future, loop))
                with self._queue_lock:
                    start, self._draining = not self._draining, True
                if start:
                    thread.submit(self._drain)
                return await future
            ok, value = await asyncio.get_running_loop().run_in_executor(
                thread, lambda: _run_units(sync, [(unit, args, read)])[0])
            if ok:
                return value
            raise value
        async with engine.connect() as conn:
            try:
                result = await conn.run_sync(unit, *args)
            except Rollback as undo:
                await conn.rollback()
                return undo.value
            await conn.commit()
        return result

    def _drain(self) -> None:
        """In the SQLite thread: run what is queued, up to GROUP_COMMIT units in one
        transaction (each in a savepoint of its own: a unit that fails or undoes itself leaves
        the others), commit once (one fsync for all), then wake every waiter. No unit's caller
        goes on before its commit: an answer is still stored before its reply."""
        while True:
            batch = []
            while self._queue and len(batch) < GROUP_COMMIT:
                batch.append(self._queue.popleft())
            if not batch:
                with self._queue_lock:
                    if not self._queue:
                        self._draining = False
                        return
                continue
            results = _run_units(self._sync, [(u, a, r) for u, a, r, _, _ in batch])
            # One wake-up per event loop for the whole batch: each call_soon_threadsafe writes
            # to the loop's self-pipe (a system call), ~10% of this thread's time when made
            # once per unit.
            waiting: dict[asyncio.AbstractEventLoop, list] = {}
            for (_, _, _, future, loop), result in zip(batch, results, strict=True):
                waiting.setdefault(loop, []).append((future, result))
            for loop, settled in waiting.items():
                try:
                    loop.call_soon_threadsafe(_settle_all, settled)
                except RuntimeError:  # the loop is closed: nobody waits any more
                    pass

    async def _read(self, unit, *args):
        return await self._run(unit, *args, read=True)

    async def migrate(self) -> None:
        """Upgrade the schema to the newest revision. Two replicas starting on an empty
        database at once take turns: PostgreSQL with a transaction-scoped advisory lock, SQLite
        with BEGIN IMMEDIATE (the migration's transaction holds the write lock); the second
        finds the schema up to date."""
        from .migrate import upgrade

        async with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            await conn.run_sync(upgrade)

    async def close(self) -> None:
        await self.engine.dispose()
        if self._intake is not None:
            lane, thread = self._intake
            if thread is None:
                await lane.dispose()
            else:
                await asyncio.get_running_loop().run_in_executor(thread, lane.dispose)
                thread.shutdown(wait=True)
            self._intake = None
        if self._sync is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._sync.dispose)
            self._thread.shutdown(wait=True)
            self._sync, self._thread = None, None

    def session(self) -> AsyncSession:
        return AsyncSession(self.engine, expire_on_commit=False)

    async def ping(self) -> bool:
        try:
            return await self._read(lambda conn: conn.exec_driver_sql("SELECT 1").scalar() == 1)
        except Exception:  # any failure means "not reachable" for a health check
            return False

    # --- the inbox (bot/storage/inbox.py) ----------------------------------------------------
    async def accept_updates(self, updates: list[tuple[int, str]], owner: str) -> list[int]:
        """Make updates (id, raw JSON) durable before Telegram is told they arrived; the ids not
        seen before, which this replica now holds and must process."""
        if not updates:
            return []
        return await self._run(inbox.accept, updates, owner, utcnow() + self.lease,
                               effect=False, intake=True)

    async def settle_update(self, claim: UpdateClaim) -> bool:
        """Mark a claimed update done (one that made no database effect of its own)."""
        done = await self._run(inbox.settle, claim.update_id, claim.owner, effect=False)
        claim.settled = True
        return done

    async def settle_updates(self, update_ids: list[int], owner: str) -> int:
        """Mark many finished updates done at once (see bot.telegram.processing.Settler)."""
        if not update_ids:
            return 0
        # SQLite: in the main lane's group commit. On a connection of its own it would take
        # the one write lock between the main lane's transactions, and SQLite's busy waits
        # (sleeps of 1 to 100 ms) then held the taps back (a burst of 200 finishing taps).
        return await self._run(inbox.settle_many, update_ids, owner, effect=False,
                               intake=self._sync is None)

    async def drop_update(self, update_id: int, owner: str) -> None:
        await self._run(inbox.drop, update_id, owner, effect=False)

    async def take_up_updates(self, owner: str, own: bool = False,
                              limit: int = 500) -> list[TakenUp]:
        """Unfinished updates of a dead replica (own=True: this replica's previous run), now
        held by `owner`, oldest first; poison updates (taken up too often) are given up."""
        taken = await self._run(inbox.take_up, owner, utcnow() + self.lease, own, limit,
                                effect=False)
        out = []
        for row in taken:
            if row.attempts > inbox.MAX_ATTEMPTS or row.payload is None:
                log.error("update %s given up after %d attempts", row.update_id, row.attempts,
                          extra={"update_id": row.update_id})
                await self._run(inbox.give_up, row.update_id, owner, effect=False)
            else:
                out.append(row)
        return out

    async def renew_leases(self, owner: str) -> int:
        return await self._run(inbox.renew, owner, utcnow() + self.lease, effect=False)

    async def release_leases(self, owner: str) -> int:
        return await self._run(inbox.release, owner, effect=False)

    async def inbox_counts(self) -> dict[str, int]:
        return await self._read(inbox.counts)

    async def prune_updates(self, older_than: timedelta = timedelta(days=1)) -> int:
        """Forget finished update ids after a day (Telegram gives up redelivering long before)."""
        return await self._run(inbox.prune, utcnow() - older_than, effect=False)

    # --- users -------------------------------------------------------------------------------
    async def get_user(self, user_id: int) -> UserRecord | None:
        def unit(conn):
            row = conn.execute(select(_U.c.language, _U.c.active, _U.c.timezone)
                               .where(_U.c.id == user_id)).first()
            return UserRecord(user_id, row.language, bool(row.active),
                              row.timezone) if row else None
        return await self._read(unit)

    async def ensure_user(self, user_id: int, language: str) -> UserRecord:
        """The user, created on first contact; a user who writes again is active again."""
        return await self._run(_ensure_user, user_id, language, effect=False)

    async def admit(self, update_id: int, owner: str, user_id: int | None,
                    language: str, prefetch: int | None = None
                    ) -> tuple[bool, UserRecord | None]:
        """One round for every update: claim it in the inbox for `owner` (False for a repeat,
        also one another replica holds or took) and fetch or create its user. `prefetch`: the
        id of the assessment a tap is about, read in the same round; the update's first
        load_assessment of it takes that record instead of another round (a tap then costs two
        rounds: this one and its write)."""
        first, user, record = await self._run(_admit, update_id, owner, utcnow() + self.lease,
                                              user_id, language, prefetch, effect=False)
        claim = CURRENT_UPDATE.get()
        if record is not None and claim is not None and claim.update_id == update_id:
            claim.prefetched = record
        return first, user

    async def set_language(self, user_id: int, language: str) -> None:
        await self._run(lambda conn: conn.execute(
            update(_U).where(_U.c.id == user_id).values(language=language)))

    async def set_timezone(self, user_id: int, timezone: str) -> None:
        """The user's IANA time zone name (validated by the caller)."""
        await self._run(lambda conn: conn.execute(
            update(_U).where(_U.c.id == user_id).values(timezone=timezone)))

    async def set_active(self, user_id: int, active: bool) -> None:
        await self._run(lambda conn: conn.execute(
            update(_U).where(_U.c.id == user_id).values(active=active)))

    # --- assessments -------------------------------------------------------------------------
    async def start_staff_assessment(self, user_id: int, mode: str, version: str,
                                     link_id: int, context: dict[str, str],
                                     cursor: int) -> AssessmentRecord:
        """A staff member's assessment of the business behind a team link: the owner's context
        answers (question id -> stored options) are copied in, the cursor starts at `cursor`
        (the first item). Any other open assessment of the user is set aside, as always."""
        return await self._run(_start_staff, user_id, mode, version, link_id, context, cursor,
                               _current_update_id())

    async def start_assessment(self, user_id: int, mode: str, version: str,
                               positions: tuple[int, int] = (0, 1),
                               questions: tuple[str, ...] = ()) -> AssessmentRecord:
        """A new open assessment; any other open one of the user is set aside (kept, not lost).

        When the user finished an assessment before and it answered every context question in
        `questions`, those answers are copied in (a retake asks "still the same business?"
        instead of the questions) and the cursor starts at `positions[0]`, else at
        `positions[1]`."""
        for attempt in range(3):
            try:
                return await self._run(_start_assessment, user_id, mode, version, positions,
                                       questions, _current_update_id())
            except IntegrityError:  # another replica opened one at the same moment: again
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def open_assessment(self, user_id: int) -> AssessmentRecord | None:
        return await self._read(_load_where, (_A.c.user_id == user_id, _A.c.status == "open"),
                                True)

    async def load_assessment(self, assessment_id: int) -> AssessmentRecord | None:
        claim = CURRENT_UPDATE.get()
        if claim is not None and claim.prefetched is not None:
            record, claim.prefetched = claim.prefetched, None
            if record.state.id == assessment_id:  # read in this update's admit, nothing since
                return record
        return await self._read(_load_by_id, assessment_id)

    async def apply_move(self, move: Move, finish: tuple[dict, list] | None = None) -> bool:
        """Write a tap's answer and move the cursor, only if the assessment is still at the
        version the move was decided on (compare-and-set): of two replicas writing from the same
        state, one succeeds and the other gets False. `finish` (scores, plan) closes the
        assessment in the same transaction (the last answer)."""
        return await self._run(_apply_move, move, finish, _current_update_id())

    @staticmethod
    def written_by_this_update(record: AssessmentRecord) -> bool:
        """Whether the update being processed made the record's last write: it is being
        processed again (after a crash) and its move is in already."""
        update_id = _current_update_id()
        return update_id is not None and record.last_update_id == update_id

    async def set_message(self, assessment_id: int, message_id: int | None) -> None:
        await self._run(lambda conn: execute(conn, prebuilt(conn, "message", lambda _: (
            update(_A).where(_A.c.id == bindparam("b_id"))
            .values(message_id=bindparam("b_message_id")))),
            {"b_id": assessment_id, "b_message_id": message_id}), effect=False)

    async def finish(self, assessment_id: int, scores: dict,
                     plan: list[tuple[str, str]]) -> bool:
        """Close an open assessment with its scores and plan; False if it was not open."""
        return await self._run(_finish, assessment_id, scores, plan)

    async def finished_assessments(self, user_id: int, limit: int = 20) -> list[AssessmentRecord]:
        """The user's finished assessments, newest first."""
        def unit(conn):
            rows = conn.execute(select(_A).where(_A.c.user_id == user_id,
                                                 _A.c.status == "finished",
                                                 _A.c.link_id.is_(None))
                                .order_by(_A.c.finished_at.desc(), _A.c.id.desc())
                                .limit(limit)).all()
            return [_record(conn, r) for r in rows]
        return await self._read(unit)

    async def previous_scores(self, user_id: int, before_id: int) -> dict | None:
        """The score snapshot of the user's finished assessment before `before_id`, with the
        content version it was taken with (`content_version`), or None."""
        def unit(conn):
            row = conn.execute(
                select(_A.c.scores, _A.c.content_version)
                .where(_A.c.user_id == user_id, _A.c.status == "finished", _A.c.id < before_id,
                       _A.c.link_id.is_(None))
                .order_by(_A.c.id.desc()).limit(1)).first()
            if row is None or row.scores is None:
                return None
            return {**row.scores, "content_version": row.content_version}
        return await self._read(unit)

    async def in_cohort(self, user_id: int) -> bool:
        """Whether the user is in a cohort now (a report then draws the room's average: most
        users are in none, and the cohorts' own queries are not on the fast lane)."""
        from .cohort_models import CohortMember

        members = CohortMember.__table__
        return await self._read(lambda conn: execute(conn, prebuilt(conn, "in_cohort", lambda _: (
            select(exists().where(members.c.user_id == bindparam("b_user_id"),
                                  members.c.left_at.is_(None))))),
            {"b_user_id": user_id}).scalar())

    async def owns_feedback_link(self, user_id: int) -> bool:
        """Whether the user ever made a team or customer link (a report then reads the 360°
        views: most owners have none, and the feedback queries are not on the fast lane)."""
        from .feedback_models import FeedbackLink

        links = FeedbackLink.__table__
        statement = lambda _: select(exists().where(  # noqa: E731 (built once, see prebuilt)
            links.c.owner_id == bindparam("b_user_id")))
        return await self._read(lambda conn: execute(
            conn, prebuilt(conn, "owns_feedback_link", statement),
            {"b_user_id": user_id}).scalar())

    # --- the plan ----------------------------------------------------------------------------
    async def plan_items(self, assessment_id: int) -> list[PlanItem]:
        def unit(conn):
            rows = conn.execute(select(_PA).where(_PA.c.assessment_id == assessment_id)
                                .order_by(_PA.c.position)).all()
            return [PlanItem(r.id, r.assessment_id, r.recommendation_id, r.phase,
                             r.done_at is not None) for r in rows]
        return await self._read(unit)

    async def plan_item_owner(self, plan_item_id: int) -> tuple[int, int] | None:
        """(user id, assessment id) of a plan action, to check a tap against."""
        def unit(conn):
            row = conn.execute(select(_A.c.user_id, _A.c.id)
                               .join(_PA, _PA.c.assessment_id == _A.c.id)
                               .where(_PA.c.id == plan_item_id)).first()
            return (row[0], row[1]) if row else None
        return await self._read(unit)

    async def mark_plan_item(self, plan_item_id: int, done: bool) -> bool:
        """Idempotent: marking done twice keeps the first time; True if anything changed."""
        condition = _PA.c.done_at.is_(None) if done else _PA.c.done_at.is_not(None)
        return await self._run(lambda conn: conn.execute(
            update(_PA).where(_PA.c.id == plan_item_id, condition)
            .values(done_at=utcnow() if done else None)).rowcount == 1)

    # --- reminders -----------------------------------------------------------------------------
    async def schedule_reminder(self, user_id: int, assessment_id: int | None,
                                due_at: datetime) -> int:
        """One pending check-in per user: a new one replaces the pending one, in one statement
        (an upsert on the partial unique index of pending reminders), so two replicas
        scheduling at the same moment leave one pending, the later write's."""
        return await self._run(_schedule, user_id, assessment_id, due_at)

    async def cancel_reminders(self, user_id: int) -> int:
        return await self._run(lambda conn: conn.execute(
            update(_R).where(_R.c.user_id == user_id, _R.c.status == "pending")
            .values(status="cancelled")).rowcount)

    async def pending_reminders(self, user_id: int) -> list[datetime]:
        return await self._read(lambda conn: list(conn.execute(
            select(_R.c.due_at).where(_R.c.user_id == user_id, _R.c.status == "pending")
            .order_by(_R.c.due_at)).scalars()))

    async def move_pending_reminder(self, user_id: int, due_at: datetime) -> int:
        """Move the user's pending check-in to `due_at` (UTC); how many rows moved (0 or 1)."""
        async with self.session() as s:
            result = await s.exec(update(Reminder)
                                  .where(Reminder.user_id == user_id,
                                         Reminder.status == "pending")
                                  .values(due_at=due_at))
            await s.commit()
            return result.rowcount

    async def claim_due_reminders(self, now: datetime, token: str,
                                  limit: int = 50) -> list[DueReminder]:
        """Claim due reminders of active users for this sender (pending -> claimed) and return
        them. The conditional UPDATE is the lock: a reminder another process claimed first is
        not pending any more, so it is never sent twice. A claim is never taken back: a sender
        that dies between claiming and sending loses that check-in rather than risking a
        duplicate."""
        def unit(conn):
            ids = list(conn.execute(
                select(_R.c.id).join(_U, _U.c.id == _R.c.user_id)
                .where(_R.c.status == "pending", _R.c.due_at <= now, _U.c.active.is_(True))
                .order_by(_R.c.due_at).limit(limit)).scalars())
            if not ids:
                return []
            conn.execute(update(_R).where(_R.c.id.in_(ids), _R.c.status == "pending")
                         .values(status="claimed", claimed_by=token, claimed_at=now))
            rows = conn.execute(
                select(_R.c.id, _R.c.user_id, _R.c.assessment_id, _U.c.language,
                       _U.c.timezone).join(_U, _U.c.id == _R.c.user_id)
                .where(_R.c.claimed_by == token, _R.c.status == "claimed")).all()
            return [DueReminder(*row) for row in rows]
        return await self._run(unit, effect=False)

    async def finish_reminder(self, reminder_id: int, status: str,
                              due_at: datetime | None = None) -> None:
        """sent / failed, or back to pending at a later time (a quiet-hours postponement; if the
        user has scheduled a newer check-in meanwhile, that one stays and this one is
        cancelled: one pending per user)."""
        values: dict = {"status": status}
        if status == "sent":
            values["sent_at"] = utcnow()
        if due_at is not None:
            values.update(due_at=due_at, claimed_by=None, claimed_at=None)

        def unit(conn):
            where = [_R.c.id == reminder_id]
            if status == "pending":
                other = _R.alias("other")
                where.append(~exists().where(other.c.user_id == _R.c.user_id,
                                             other.c.status == "pending"))
            if conn.execute(update(_R).where(*where).values(**values)).rowcount == 0 \
                    and status == "pending":
                conn.execute(update(_R).where(_R.c.id == reminder_id)
                             .values(status="cancelled"))

        try:
            await self._run(unit, effect=False)
        except IntegrityError:  # a new check-in became pending at this very moment
            await self._run(lambda conn: conn.execute(
                update(_R).where(_R.c.id == reminder_id).values(status="cancelled")),
                effect=False)

    async def reminder_owner(self, reminder_id: int) -> int | None:
        return await self._read(lambda conn: conn.execute(
            select(_R.c.user_id).where(_R.c.id == reminder_id)).scalar())

    async def answer_checkin(self, reminder_id: int, user_id: int, done: int | None = None,
                             again: tuple[int, datetime] | None = None) -> bool:
        """The owner answered this check-in (claimed/sent -> answered) and, in the same
        transaction, ticked off plan action `done` or asked again (assessment id, due).
        False if it was answered already (a double tap, or the same tap on another replica):
        it counts once."""
        def unit(conn):
            answered = conn.execute(
                update(_R).where(_R.c.id == reminder_id, _R.c.user_id == user_id,
                                 _R.c.status.in_(("claimed", "sent")))
                .values(status="answered")).rowcount == 1
            if not answered:
                return False
            if done is not None:
                conn.execute(update(_PA).where(_PA.c.id == done, _PA.c.done_at.is_(None))
                             .values(done_at=utcnow()))
            if again is not None:
                _schedule(conn, user_id, *again)
            return True
        return await self._run(unit)

    # --- the user's own data -----------------------------------------------------------------
    async def export_user(self, user_id: int) -> dict:
        async with self.session() as s:
            user = await s.get(User, user_id)
            if user is None:
                return {"user": None, "assessments": []}
            rows = (await s.exec(select(Assessment).where(Assessment.user_id == user_id)
                                 .order_by(Assessment.id))).all()
            out = []
            for row in rows:
                answers = (await s.exec(select(Answer).where(Answer.assessment_id == row.id)
                                        .order_by(Answer.id))).all()
                context = (await s.exec(select(ContextAnswer)
                                        .where(ContextAnswer.assessment_id == row.id))).all()
                plan = (await s.exec(select(PlanAction).where(PlanAction.assessment_id == row.id)
                                     .order_by(PlanAction.position))).all()
                out.append({
                    "id": row.id, "mode": row.mode, "status": row.status,
                    "content_version": row.content_version,
                    "created_at": row.created_at.isoformat(),
                    "finished_at": row.finished_at.isoformat() if row.finished_at else None,
                    "context": {c.question_id: [o for o in c.options.split(",") if o]
                                for c in context},
                    "answers": [{"item": a.item_id, "option": a.option_id,
                                 "evidence": a.evidence, "answered_at": a.answered_at.isoformat()}
                                for a in answers],
                    "scores": row.scores,
                    "plan": [{"recommendation": p.recommendation_id, "phase": p.phase,
                              "done_at": p.done_at.isoformat() if p.done_at else None}
                             for p in plan],
                })
            reminders = (await s.exec(select(Reminder).where(Reminder.user_id == user_id)
                                      .order_by(Reminder.id))).all()
            cohorts = await cohort_data.export_rows(s, user_id)  # trainer feature
            links = (await s.exec(select(FeedbackLink).where(FeedbackLink.owner_id == user_id)
                                  .order_by(FeedbackLink.id))).all()
        given = await FeedbackStore(self.engine).given(user_id)
        return {"user": {"telegram_id": user.id, "language": user.language,
                             "timezone": user.timezone, "active": user.active,
                             "created_at": user.created_at.isoformat()},
                    "assessments": out,
                    "reminders": [{"due_at": r.due_at.isoformat(), "status": r.status}
                                  for r in reminders],
                    **cohorts,
                    "feedback_links": [{"kind": link.kind, "business_name": link.business_name,
                                        "status": link.status,
                                        "created_at": link.created_at.isoformat(),
                                        "published": link.released} for link in links],
                    "pulses_given": [{"business_name": g.business_name, "answers": g.answers,
                                      "likely_to_recommend": g.nps,
                                      "finished_at": g.finished_at.isoformat()
                                      if g.finished_at else None} for g in given]}

    async def delete_user(self, user_id: int) -> None:
        """Every row of this user: the cascade removes assessments, answers, plans."""
        async with self.session() as s:
            ids = select(Assessment.id).where(Assessment.user_id == user_id)
            for table in (Answer, ContextAnswer, PlanAction):  # explicit, not only by cascade
                await s.exec(delete(table).where(table.assessment_id.in_(ids)))
            await s.exec(delete(Reminder).where(Reminder.user_id == user_id))
            await s.exec(delete(Assessment).where(Assessment.user_id == user_id))
            await cohort_data.delete_rows(s, user_id)  # trainer feature: memberships, cohorts
            # A staff member's answers leave their team's next average: the link notes it.
            given = (await s.exec(select(Assessment.link_id).where(
                Assessment.user_id == user_id, Assessment.link_id.is_not(None),
                Assessment.status == "finished").distinct())).all()
            for link_id in given:
                await FeedbackStore(self.engine).note_deleted(s, link_id, str(user_id))
            # 360° check: the owner's links, and with them every answer given through them
            # (customers' pulses, staff assessments: by cascade)
            links = select(FeedbackLink.id).where(FeedbackLink.owner_id == user_id)
            staff = select(Assessment.id).where(Assessment.link_id.in_(links))
            for table in (Answer, ContextAnswer, PlanAction):
                await s.exec(delete(table).where(table.assessment_id.in_(staff)))
            await s.exec(delete(Assessment).where(Assessment.link_id.in_(links)))
            await s.exec(delete(PulseResponse).where(PulseResponse.link_id.in_(links)))
            await s.exec(delete(FeedbackLink).where(FeedbackLink.owner_id == user_id))
            await s.exec(delete(User).where(User.id == user_id))
            await commit_effect(s)
        # ... and every pulse this person gave as a customer (found through the keyed hash)
        await FeedbackStore(self.engine).delete_given(user_id)

    async def count_rows(self, user_id: int) -> int:
        """How many rows anywhere belong to this user (for tests and /delete's promise)."""
        async with self.session() as s:
            ids = select(Assessment.id).where(Assessment.user_id == user_id)
            total = 0
            for table in (Answer, ContextAnswer, PlanAction):
                total += (await s.exec(select(func.count()).select_from(table)
                                       .where(table.assessment_id.in_(ids)))).one()
            total += (await s.exec(select(func.count()).select_from(Assessment)
                                   .where(Assessment.user_id == user_id))).one()
            total += (await s.exec(select(func.count()).select_from(Reminder)
                                   .where(Reminder.user_id == user_id))).one()
            total += (await s.exec(select(func.count()).select_from(User)
                                   .where(User.id == user_id))).one()
            total += await cohort_data.count_rows(s, user_id)  # trainer feature
            total += (await s.exec(select(func.count()).select_from(FeedbackLink)
                                   .where(FeedbackLink.owner_id == user_id))).one()
        return total + await FeedbackStore(self.engine).count_given(user_id)


MIGRATIONS = Path(__file__).with_name("migrations")
