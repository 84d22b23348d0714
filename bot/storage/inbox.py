"""The transactional inbox: updates are durable before Telegram is told they arrived, and each
one's database effects happen exactly once, whichever replica takes it and however it dies.

Life of a row (table ``inbox``, one per update id):

    accept   queued, owner = the accepting replica, lease_until = now + lease
             (the webhook's 200 and the polling offset come after this commit)
    claim    queued -> running, by the owner, when processing starts (Store.admit); a repeat
             delivery, or a row another replica holds, is not claimed and not processed
    hold     every database effect of the update checks, in its own transaction, that the row is
             still running under this owner (else it is rolled back: UpdateSuperseded)
    settle   running -> done, payload cleared, once the update's handlers have finished
    take up  a queued or running row whose owner died (its lease ran out, or the owner itself
             restarted) goes back to queued under the new owner and is processed again

So an accepted update is processed to its end at least once, and a crash part-way means it is
processed again from the start. Its database effects still happen exactly once, because every
effect is idempotent for a repeat of the same update: assessment writes are compare-and-set on
the version and remember the update that made them (a repeat finds its own move applied and
shows what it showed the first time), a new assessment remembers the update that opened it, the
rest are conditional or upserts. Replies it had sent before the crash are sent again.

Units here are plain functions over a SQLAlchemy Core connection, run by `Store`.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from .models import InboxUpdate, utcnow
from .statements import execute, prebuilt

_IN = InboxUpdate.__table__
UNFINISHED = ("queued", "running")
MAX_ATTEMPTS = 5  # taken up this often after crashes: a poison update, given up ("failed")


@dataclass
class UpdateClaim:
    """The update this task is processing (see CURRENT_UPDATE)."""

    update_id: int
    owner: str
    owned: bool = False  # claimed: this replica processes it
    settled: bool = False  # marked done
    # The assessment the update is about, read in the claim's transaction (Store.admit), for
    # its first load; forgotten at the update's first write.
    prefetched: object | None = None


# Set for the processing of one update (bot.telegram.processing.InboxApplication); each update
# is processed in a task of its own, so this is per update.
CURRENT_UPDATE: ContextVar[UpdateClaim | None] = ContextVar("current_update", default=None)


class UpdateSuperseded(Exception):  # noqa: N818 (a state, not a failure of ours)
    """Another replica took this update up (our lease ran out) and settled it first: this
    replica's write was rolled back, and its processing of the update must stop."""


@dataclass(frozen=True)
class TakenUp:
    update_id: int
    payload: str | None
    attempts: int


def dialect_insert(conn, table):
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def accept(conn, updates: list[tuple[int, str]], owner: str,
           lease_until: datetime) -> list[int]:
    """Store updates (id, raw JSON) not seen before; returns the ids that were new."""
    now = utcnow()
    new = []
    for update_id, payload in updates:
        statement = dialect_insert(conn, _IN).values(
            update_id=update_id, payload=payload, status="queued", owner=owner,
            lease_until=lease_until, attempts=0, received_at=now
        ).on_conflict_do_nothing(index_elements=["update_id"])
        if conn.execute(statement).rowcount == 1:
            new.append(update_id)
    return new


def claim(conn, update_id: int, owner: str, lease_until: datetime) -> bool:
    """queued (held by `owner`) -> running; an update never seen (processed without going
    through accept, as tests do) is inserted running. False for a repeat or a row held by
    another replica or already running here."""
    return execute(conn, prebuilt(conn, "claim", _claim), {
        "b_update_id": update_id, "b_owner": owner, "b_lease_until": lease_until,
        "b_now": utcnow()}).rowcount == 1


def _claim(conn):
    owner = bindparam("b_owner")
    statement = dialect_insert(conn, _IN).values(
        update_id=bindparam("b_update_id"), payload=None, status="running", owner=owner,
        lease_until=bindparam("b_lease_until"), attempts=0, received_at=bindparam("b_now"))
    return statement.on_conflict_do_update(
        index_elements=["update_id"],
        set_={"status": "running", "lease_until": statement.excluded.lease_until},
        where=(_IN.c.status == "queued") & (_IN.c.owner == owner))


def settle(conn, update_id: int, owner: str, status: str = "done") -> bool:
    """running (held by `owner`) -> done. False if another replica has taken it up."""
    return conn.execute(
        update(_IN).where(_IN.c.update_id == update_id, _IN.c.owner == owner,
                          _IN.c.status == "running")
        .values(status=status, done_at=utcnow(), payload=None)).rowcount == 1


def settle_many(conn, update_ids: list[int], owner: str) -> int:
    """settle() for many updates in one transaction (one commit, one fsync)."""
    return execute(conn, prebuilt(conn, "settle_many", lambda _: (
        update(_IN).where(_IN.c.update_id.in_(bindparam("b_ids", expanding=True)),
                          _IN.c.owner == bindparam("b_owner"), _IN.c.status == "running")
        .values(status="done", done_at=bindparam("b_now"), payload=None))),
        {"b_ids": list(update_ids), "b_owner": owner, "b_now": utcnow()}).rowcount


def hold(conn, update_id: int, owner: str) -> bool:
    """Is this update still running under `owner`? In the transaction of an effect; on
    PostgreSQL the row stays locked until it commits, so a replica taking the update up waits
    for it and then sees it."""
    return execute(conn, prebuilt(conn, "hold", lambda _: (
        update(_IN).where(_IN.c.update_id == bindparam("b_update_id"),
                          _IN.c.owner == bindparam("b_owner"), _IN.c.status == "running")
        .values(status="running"))),
        {"b_update_id": update_id, "b_owner": owner}).rowcount == 1


def drop(conn, update_id: int, owner: str) -> None:
    """An update not processed on purpose (a burst over the per-user limit)."""
    conn.execute(update(_IN).where(_IN.c.update_id == update_id, _IN.c.owner == owner,
                                   _IN.c.status.in_(UNFINISHED))
                 .values(status="dropped", done_at=utcnow(), payload=None))


def take_up(conn, owner: str, lease_until: datetime, own: bool, limit: int) -> list[TakenUp]:
    """Unfinished rows whose owner died, now queued for `owner`, oldest first. own=True: the
    rows this replica's previous run left (at start-up: that run is over); else rows of any
    replica whose lease ran out. A conditional UPDATE: of two replicas taking up at once, each
    row goes to one."""
    now = utcnow()
    condition = _IN.c.status.in_(UNFINISHED) & (
        (_IN.c.owner == owner) if own else (_IN.c.lease_until < now))
    ids = list(conn.execute(select(_IN.c.update_id).where(condition)
                            .order_by(_IN.c.update_id).limit(limit)).scalars())
    if not ids:
        return []
    rows = conn.execute(
        update(_IN).where(_IN.c.update_id.in_(ids), condition)
        .values(status="queued", owner=owner, lease_until=lease_until,
                attempts=_IN.c.attempts + 1)
        .returning(_IN.c.update_id, _IN.c.payload, _IN.c.attempts)).all()
    return sorted((TakenUp(*row) for row in rows), key=lambda t: t.update_id)


def give_up(conn, update_id: int, owner: str) -> None:
    conn.execute(update(_IN).where(_IN.c.update_id == update_id, _IN.c.owner == owner)
                 .values(status="failed", done_at=utcnow(), payload=None))


def renew(conn, owner: str, lease_until: datetime) -> int:
    """Extend the lease of everything this replica holds (it is alive)."""
    return conn.execute(update(_IN).where(_IN.c.owner == owner, _IN.c.status.in_(UNFINISHED))
                        .values(lease_until=lease_until)).rowcount


def release(conn, owner: str) -> int:
    """Let other replicas take up at once what this one holds (it is stopping)."""
    return conn.execute(update(_IN).where(_IN.c.owner == owner, _IN.c.status.in_(UNFINISHED))
                        .values(lease_until=utcnow())).rowcount


def prune(conn, before: datetime) -> int:
    return conn.execute(delete(_IN).where(_IN.c.status.not_in(UNFINISHED),
                                          _IN.c.done_at < before)).rowcount


def counts(conn) -> dict[str, int]:
    from sqlalchemy import func

    return dict(conn.execute(select(_IN.c.status, func.count()).group_by(_IN.c.status)).all())


async def commit_effect(session: AsyncSession) -> None:
    """Commit an ORM session's writes: the session counterpart of `Store._run` for effects (an
    update another replica has taken up meanwhile writes nothing)."""
    claim = CURRENT_UPDATE.get()
    if claim is None or not claim.owned or claim.settled:
        await session.commit()
        return
    held = await session.run_sync(
        lambda sync: hold(sync.connection(), claim.update_id, claim.owner))
    if not held:
        await session.rollback()
        raise UpdateSuperseded(claim.update_id)
    await session.commit()


async def add_with_code(session_factory, build, before=None):
    """Insert the row `build()` makes (a fresh random code each call) and commit it as an
    effect; a unique-code collision (never at 128 bits; still, never crash) tries again with a
    new code, 3 times. `before(session)` runs first in the same transaction. Returns the row;
    RuntimeError after 3 collisions."""
    for _ in range(3):
        async with session_factory() as s:
            if before is not None:
                await before(s)
            row = build()
            s.add(row)
            try:
                await commit_effect(s)
            except IntegrityError:
                await s.rollback()
                continue
            return row
    raise RuntimeError("could not allocate a unique code")

