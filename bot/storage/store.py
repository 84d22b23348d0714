"""The one storage interface the adapters call. Every write commits before the method returns."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import (
    Engine,
    create_engine,
    delete,
    event,
    func,
    insert,
    literal,
    null,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import prepare_sqlite_dir
from bot.domain.flow import Answer as DomainAnswer
from bot.domain.flow import AssessmentState, Move

from . import cohorts as cohort_data  # the trainer feature's rows of a user
from .feedback import FeedbackStore  # the 360° check's rows of a user
from .feedback_models import FeedbackLink, PulseResponse
from .models import (
    Answer,
    Assessment,
    ContextAnswer,
    PlanAction,
    ProcessedUpdate,
    Reminder,
    User,
    utcnow,
)

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


_A = Assessment.__table__
_ANS = Answer.__table__
_CTX = ContextAnswer.__table__
_U = User.__table__
_P = ProcessedUpdate.__table__
_PA = PlanAction.__table__


def _dialect_insert(conn, table):
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(table)


def _upsert(conn, table, keys: tuple[str, ...], **values):
    """INSERT ... ON CONFLICT (keys) DO UPDATE: SQLite and PostgreSQL spell it the same."""
    statement = _dialect_insert(conn, table).values(**values)
    return statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={k: statement.excluded[k] for k in values if k not in keys})


def _insert_ignore(conn, table, keys: tuple[str, ...], **values):
    return _dialect_insert(conn, table).values(**values).on_conflict_do_nothing(
        index_elements=list(keys))


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cursor.execute("PRAGMA busy_timeout=5000")  # wait for a lock instead of failing at once
    cursor.execute("PRAGMA foreign_keys=ON")  # ON DELETE CASCADE for /delete
    cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL, much faster commits
    cursor.close()


def make_engine(url: str) -> AsyncEngine:
    prepare_sqlite_dir(url)
    if url.startswith("sqlite"):
        # SQLite's rare paths (migrations, cohorts, export) use this async engine; the hot
        # path runs on Store's own thread (see Store._run).
        engine = create_async_engine(url, connect_args={"timeout": 30}, pool_size=1,
                                     max_overflow=0, pool_timeout=60)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    else:
        engine = create_async_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)
    return engine


def _sqlite_thread_engine(url: str) -> Engine:
    sync_url = url.replace("sqlite+aiosqlite", "sqlite+pysqlite", 1)
    engine = create_engine(sync_url, connect_args={"timeout": 30, "check_same_thread": False},
                           pool_size=1, max_overflow=0)
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


# --- units of work (plain functions over a Core connection; see Store._run) ----------------
def _record(conn, row) -> AssessmentRecord:
    """The record of an assessment row, its answers and context read in one query."""
    parts = conn.execute(union_all(
        select(literal("a"), _ANS.c.item_id, _ANS.c.option_id, _ANS.c.evidence)
        .where(_ANS.c.assessment_id == row.id),
        select(literal("c"), _CTX.c.question_id, _CTX.c.options, null())
        .where(_CTX.c.assessment_id == row.id))).all()
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
    )
    return AssessmentRecord(state, row.user_id, row.status, row.content_version,
                            row.message_id, row.created_at, row.finished_at, row.scores)


def _load_where(conn, where: tuple, newest: bool) -> AssessmentRecord | None:
    query = select(_A).where(*where)
    if newest:
        query = query.order_by(_A.c.id.desc()).limit(1)
    row = conn.execute(query).first()
    return _record(conn, row) if row else None


def _ensure_user(conn, user_id: int, language: str) -> UserRecord:
    row = conn.execute(select(_U.c.language, _U.c.active).where(_U.c.id == user_id)).first()
    if row is None:
        conn.execute(_insert_ignore(conn, _U, ("id",), id=user_id, language=language,
                                    active=True, created_at=utcnow()))
        return UserRecord(user_id, language, True)
    if not row.active:
        conn.execute(update(_U).where(_U.c.id == user_id).values(active=True))
    return UserRecord(user_id, row.language, True)


def _admit(conn, update_id: int, user_id: int | None,
           language: str) -> tuple[bool, UserRecord | None]:
    inserted = conn.execute(_insert_ignore(conn, _P, ("update_id",), update_id=update_id,
                                           processed_at=utcnow())).rowcount
    if inserted != 1:
        return False, None
    return True, (_ensure_user(conn, user_id, language) if user_id is not None else None)


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


def _start_staff(conn, user_id: int, mode: str, version: str, link_id: int,
                 context: dict[str, str], cursor: int) -> AssessmentRecord:
    now = utcnow()
    conn.execute(update(_A).where(_A.c.user_id == user_id, _A.c.status == "open")
                 .values(status="abandoned", updated_at=now))
    result = conn.execute(insert(_A).values(user_id=user_id, mode=mode, status="open",
                                            content_version=version, cursor=cursor,
                                            prefilled=False, link_id=link_id, created_at=now,
                                            updated_at=now))
    assessment_id = result.inserted_primary_key[0]
    if context:
        conn.execute(insert(_CTX), [
            {"assessment_id": assessment_id, "question_id": q, "options": o, "answered_at": now}
            for q, o in context.items()])
    state = AssessmentState(assessment_id, mode, cursor, staff=True, context={
        q: tuple(x for x in o.split(",") if x) for q, o in context.items()})
    return AssessmentRecord(state, user_id, "open", version, None, now, None, None)


def _start_assessment(conn, user_id: int, mode: str, version: str,
                      positions: tuple[int, int], questions: tuple[str, ...]) -> AssessmentRecord:
    now = utcnow()
    conn.execute(update(_A).where(_A.c.user_id == user_id, _A.c.status == "open")
                 .values(status="abandoned", updated_at=now))
    previous = _previous_context(conn, user_id)
    prefilled = bool(previous) and all(q in previous for q in questions)
    cursor = positions[0] if prefilled else positions[1]
    result = conn.execute(insert(_A).values(user_id=user_id, mode=mode, status="open",
                                            content_version=version, cursor=cursor,
                                            prefilled=prefilled, created_at=now, updated_at=now))
    assessment_id = result.inserted_primary_key[0]
    context: dict[str, tuple[str, ...]] = {}
    if prefilled:
        conn.execute(insert(_CTX), [
            {"assessment_id": assessment_id, "question_id": q, "options": previous[q],
             "answered_at": now} for q in questions])
        context = {q: tuple(o for o in previous[q].split(",") if o) for q in questions}
    state = AssessmentState(assessment_id, mode, cursor, context=context, prefilled=prefilled)
    return AssessmentRecord(state, user_id, "open", version, None, now, None, None)


def _apply_move(conn, move: Move) -> bool:
    now = utcnow()
    result = conn.execute(update(_A)
                          .where(_A.c.id == move.assessment_id,
                                 _A.c.cursor == move.expected_cursor, _A.c.status == "open")
                          .values(cursor=move.new_cursor, updated_at=now))
    if result.rowcount != 1:
        conn.rollback()
        return False
    if move.answer is not None:
        item_id, answer = move.answer
        conn.execute(_upsert(conn, _ANS, ("assessment_id", "item_id"),
                             assessment_id=move.assessment_id, item_id=item_id,
                             option_id=answer.option_id, evidence=answer.evidence,
                             answered_at=now))
    if move.context is not None:
        question_id, options = move.context
        conn.execute(_upsert(conn, _CTX, ("assessment_id", "question_id"),
                             assessment_id=move.assessment_id, question_id=question_id,
                             options=",".join(options), answered_at=now))
    return True


def _finish(conn, assessment_id: int, scores: dict, plan: list[tuple[str, str]]) -> bool:
    now = utcnow()
    result = conn.execute(update(_A).where(_A.c.id == assessment_id, _A.c.status == "open")
                          .values(status="finished", scores=scores, finished_at=now,
                                  updated_at=now))
    if result.rowcount != 1:
        conn.rollback()
        return False
    if plan:
        conn.execute(insert(_PA), [
            {"assessment_id": assessment_id, "recommendation_id": rec, "phase": phase,
             "position": n} for n, (rec, phase) in enumerate(plan)])
    return True


class Store:
    """Every method is one unit of work that commits before it returns.

    The units are plain functions over a SQLAlchemy Core connection, run where each database
    is fastest: on PostgreSQL through the async engine (asyncpg; `run_sync` bridges them with
    greenlets, no threads); on SQLite all in one thread of the Store's with the sqlite3 driver,
    one hop per unit. aiosqlite costs about 150 us and three thread hops per statement (measured:
    sqlite3 itself 1.4 us), and a tap takes eight statements: the hot path would spend most of
    its time handing work between threads.
    """

    def __init__(self, engine: AsyncEngine, url: str | None = None):
        self.engine = engine
        self._sync: Engine | None = None
        self._thread: ThreadPoolExecutor | None = None
        if url is not None and url.startswith("sqlite"):
            self._sync = _sqlite_thread_engine(url)
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite")

    @classmethod
    async def open(cls, url: str, migrate: bool = True) -> Store:
        store = cls(make_engine(url), url)
        if migrate:
            await store.migrate()
        return store

    async def _run(self, unit, *args):
        """Run `unit(connection, *args)` in one transaction and commit it."""
        if self._sync is not None:
            def in_thread():
                with self._sync.connect() as conn:
                    result = unit(conn, *args)
                    conn.commit()
                    return result

            return await asyncio.get_running_loop().run_in_executor(self._thread, in_thread)
        async with self.engine.connect() as conn:
            result = await conn.run_sync(unit, *args)
            await conn.commit()
            return result

    async def migrate(self) -> None:
        from .migrate import upgrade

        async with self.engine.begin() as conn:
            await conn.run_sync(upgrade)

    async def close(self) -> None:
        await self.engine.dispose()
        if self._sync is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._sync.dispose)
            self._thread.shutdown(wait=True)
            self._sync, self._thread = None, None

    def session(self) -> AsyncSession:
        return AsyncSession(self.engine, expire_on_commit=False)

    async def ping(self) -> bool:
        try:
            return await self._run(lambda conn: conn.exec_driver_sql("SELECT 1").scalar() == 1)
        except Exception:  # any failure means "not reachable" for a health check
            return False

    # --- updates -------------------------------------------------------------------------------
    async def claim_update(self, update_id: int) -> bool:
        """True for the first process to see this update id, False for any repeat."""
        first, _ = await self.admit(update_id, None, "en")
        return first

    async def prune_updates(self, older_than: timedelta = timedelta(days=1)) -> int:
        cutoff = utcnow() - older_than
        return await self._run(lambda conn: conn.execute(
            delete(_P).where(_P.c.processed_at < cutoff)).rowcount)

    # --- users -------------------------------------------------------------------------------
    async def get_user(self, user_id: int) -> UserRecord | None:
        def unit(conn):
            row = conn.execute(select(_U.c.language, _U.c.active, _U.c.timezone)
                               .where(_U.c.id == user_id)).first()
            return UserRecord(user_id, row.language, bool(row.active),
                              row.timezone) if row else None
        return await self._run(unit)

    async def ensure_user(self, user_id: int, language: str) -> UserRecord:
        """The user, created on first contact; a user who writes again is active again."""
        return await self._run(_ensure_user, user_id, language)

    async def admit(self, update_id: int, user_id: int | None,
                    language: str) -> tuple[bool, UserRecord | None]:
        """One round for every update: record its id (False for a repeat, also one another
        replica took) and fetch or create its user."""
        return await self._run(_admit, update_id, user_id, language)

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
        return await self._run(_start_staff, user_id, mode, version, link_id, context, cursor)

    async def start_assessment(self, user_id: int, mode: str, version: str,
                               positions: tuple[int, int] = (0, 1),
                               questions: tuple[str, ...] = ()) -> AssessmentRecord:
        """A new open assessment; any other open one of the user is set aside (kept, not lost).

        When the user finished an assessment before and it answered every context question in
        `questions`, those answers are copied in (a retake asks "still the same business?"
        instead of the questions) and the cursor starts at `positions[0]`, else at
        `positions[1]`."""
        return await self._run(_start_assessment, user_id, mode, version, positions, questions)

    async def open_assessment(self, user_id: int) -> AssessmentRecord | None:
        return await self._run(_load_where, (_A.c.user_id == user_id, _A.c.status == "open"),
                               True)

    async def load_assessment(self, assessment_id: int) -> AssessmentRecord | None:
        return await self._run(_load_where, (_A.c.id == assessment_id,), False)

    async def apply_move(self, move: Move) -> bool:
        """Write a tap's answer and move the cursor, only if the cursor is still where the tap
        saw it (compare-and-set): a double tap or a second replica can not write twice."""
        return await self._run(_apply_move, move)

    async def set_message(self, assessment_id: int, message_id: int | None) -> None:
        await self._run(lambda conn: conn.execute(
            update(_A).where(_A.c.id == assessment_id).values(message_id=message_id)))

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
        return await self._run(unit)

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
        return await self._run(unit)

    # --- the plan ----------------------------------------------------------------------------
    async def plan_items(self, assessment_id: int) -> list[PlanItem]:
        def unit(conn):
            rows = conn.execute(select(_PA).where(_PA.c.assessment_id == assessment_id)
                                .order_by(_PA.c.position)).all()
            return [PlanItem(r.id, r.assessment_id, r.recommendation_id, r.phase,
                             r.done_at is not None) for r in rows]
        return await self._run(unit)

    async def plan_item_owner(self, plan_item_id: int) -> tuple[int, int] | None:
        """(user id, assessment id) of a plan action, to check a tap against."""
        def unit(conn):
            row = conn.execute(select(_A.c.user_id, _A.c.id)
                               .join(_PA, _PA.c.assessment_id == _A.c.id)
                               .where(_PA.c.id == plan_item_id)).first()
            return (row[0], row[1]) if row else None
        return await self._run(unit)

    async def mark_plan_item(self, plan_item_id: int, done: bool) -> bool:
        """Idempotent: marking done twice keeps the first time; True if anything changed."""
        condition = _PA.c.done_at.is_(None) if done else _PA.c.done_at.is_not(None)
        return await self._run(lambda conn: conn.execute(
            update(_PA).where(_PA.c.id == plan_item_id, condition)
            .values(done_at=utcnow() if done else None)).rowcount == 1)

    # --- reminders -----------------------------------------------------------------------------
    async def schedule_reminder(self, user_id: int, assessment_id: int | None,
                                due_at: datetime) -> int:
        """One pending check-in per user: a new one replaces the pending one."""
        async with self.session() as s:
            await s.exec(update(Reminder)
                         .where(Reminder.user_id == user_id, Reminder.status == "pending")
                         .values(status="cancelled"))
            row = Reminder(user_id=user_id, assessment_id=assessment_id, due_at=due_at)
            s.add(row)
            await s.commit()
            return row.id

    async def cancel_reminders(self, user_id: int) -> int:
        async with self.session() as s:
            result = await s.exec(update(Reminder)
                                  .where(Reminder.user_id == user_id,
                                         Reminder.status == "pending")
                                  .values(status="cancelled"))
            await s.commit()
            return result.rowcount

    async def pending_reminders(self, user_id: int) -> list[datetime]:
        async with self.session() as s:
            rows = (await s.exec(select(Reminder.due_at)
                                 .where(Reminder.user_id == user_id,
                                        Reminder.status == "pending")
                                 .order_by(Reminder.due_at))).all()
            return list(rows)

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
        async with self.session() as s:
            due = (select(Reminder.id)
                   .join(User, User.id == Reminder.user_id)
                   .where(Reminder.status == "pending", Reminder.due_at <= now,
                          User.active.is_(True))
                   .order_by(Reminder.due_at).limit(limit))
            ids = list((await s.exec(due)).all())
            if not ids:
                return []
            await s.exec(update(Reminder)
                         .where(Reminder.id.in_(ids), Reminder.status == "pending")
                         .values(status="claimed", claimed_by=token, claimed_at=now))
            await s.commit()
            rows = (await s.exec(select(Reminder, User.language, User.timezone)
                                 .join(User, User.id == Reminder.user_id)
                                 .where(Reminder.claimed_by == token,
                                        Reminder.status == "claimed"))).all()
            return [DueReminder(r.id, r.user_id, r.assessment_id, lang, tz)
                    for r, lang, tz in rows]

    async def finish_reminder(self, reminder_id: int, status: str,
                              due_at: datetime | None = None) -> None:
        """sent / failed, or back to pending at a later time (a quiet-hours postponement)."""
        async with self.session() as s:
            values: dict = {"status": status}
            if status == "sent":
                values["sent_at"] = utcnow()
            if due_at is not None:
                values.update(due_at=due_at, claimed_by=None, claimed_at=None)
            await s.exec(update(Reminder).where(Reminder.id == reminder_id).values(**values))
            await s.commit()

    async def reminder_owner(self, reminder_id: int) -> int | None:
        async with self.session() as s:
            row = await s.get(Reminder, reminder_id)
            return row.user_id if row else None

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
            await s.commit()
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
