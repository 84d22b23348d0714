"""Queries of the trainer feature. Handlers call these; nothing else builds cohort SQL.

Authorisation (is this the cohort's trainer or an admin?) is the caller's job: these methods do
what they are told for a cohort id. The dashboard reads every snapshot it needs in one query.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.cohorts import (
    MIN_GROUP,
    Averages,
    Dashboard,
    Finished,
    by_member,
    counted,
    dashboard,
    new_code,
    room_average,
)
from bot.domain.feedback import CohortGap, cohort_gap

from .cohort_models import MODES, Cohort, CohortMember, TrainerPrompt
from .inbox import add_with_code, commit_effect, dialect_insert
from .models import Assessment, ContextAnswer, User, utcnow

log = logging.getLogger(__name__)
PROMPT_TTL = timedelta(minutes=30)  # a "type the name" request older than this is forgotten


@dataclass(frozen=True)
class CohortInfo:
    id: int
    code: str
    owner_id: int
    name: str
    trainer_name: str
    status: str
    created_at: datetime
    mode: str = "quick"  # full | quick: the assessment participants take after joining

    @property
    def open(self) -> bool:
        return self.status == "open"


@dataclass(frozen=True)
class Membership:
    cohort: CohortInfo
    consent: str
    joined_at: datetime


def _info(c: Cohort) -> CohortInfo:
    return CohortInfo(c.id, c.code, c.owner_id, c.name, c.trainer_name, c.status, c.created_at,
                      c.mode)


class CohortStore:
    def __init__(self, engine: AsyncEngine):
        self.engine = engine

    def session(self) -> AsyncSession:
        return AsyncSession(self.engine, expire_on_commit=False)

    # --- cohorts -------------------------------------------------------------------------------
    async def create(self, owner_id: int, name: str, trainer_name: str,
                     name_message_id: int | None = None, mode: str = "quick") -> CohortInfo:
        """A new open cohort; `name_message_id` is the trainer's message that named it, `mode`
        the assessment participants take (full | quick)."""
        return _info(await add_with_code(self.session, lambda: Cohort(
            code=new_code(), owner_id=owner_id, name=name, mode=mode,
            trainer_name=trainer_name[:64], name_message_id=name_message_id)))

    async def get(self, cohort_id: int) -> CohortInfo | None:
        async with self.session() as s:
            row = await s.get(Cohort, cohort_id)
            return _info(row) if row else None

    async def by_code(self, code: str) -> CohortInfo | None:
        async with self.session() as s:
            row = (await s.exec(select(Cohort).where(Cohort.code == code))).scalars().first()
            return _info(row) if row else None

    async def owned(self, owner_id: int, limit: int = 30) -> list[CohortInfo]:
        """The trainer's cohorts, newest first."""
        async with self.session() as s:
            rows = (await s.exec(select(Cohort).where(Cohort.owner_id == owner_id)
                                 .order_by(Cohort.id.desc()).limit(limit))).scalars().all()
            return [_info(r) for r in rows]

    async def rename(self, cohort_id: int, name: str, name_message_id: int | None = None) -> bool:
        """A new name; with `name_message_id`, the message that gave it (else the one before
        stays the message whose edit renames the cohort)."""
        values: dict = {"name": name}
        if name_message_id is not None:
            values["name_message_id"] = name_message_id
        async with self.session() as s:
            result = await s.exec(update(Cohort).where(Cohort.id == cohort_id).values(**values))
            await commit_effect(s)
            return result.rowcount == 1

    async def set_mode(self, cohort_id: int, mode: str) -> bool:
        """The assessment the cohort's participants take from now on (full | quick).
        Raises ValueError for another mode."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        async with self.session() as s:
            result = await s.exec(update(Cohort).where(Cohort.id == cohort_id)
                                  .values(mode=mode))
            await s.commit()
            return result.rowcount == 1

    async def named_by(self, owner_id: int, message_id: int) -> CohortInfo | None:
        """The cohort of this trainer whose current name came from this message, if any."""
        async with self.session() as s:
            row = (await s.exec(select(Cohort).where(
                Cohort.owner_id == owner_id,
                Cohort.name_message_id == message_id))).scalars().first()
            return _info(row) if row else None

    async def close(self, cohort_id: int) -> bool:
        """Closed: no new members. Members and their data stay."""
        async with self.session() as s:
            result = await s.exec(update(Cohort)
                                  .where(Cohort.id == cohort_id, Cohort.status == "open")
                                  .values(status="closed", closed_at=utcnow()))
            await commit_effect(s)
            return result.rowcount == 1

    # --- members -------------------------------------------------------------------------------
    async def join(self, cohort_id: int, user_id: int, consent: str) -> bool:
        """Join an open cohort (or change one's consent); False if the cohort is not open.
        Someone who had left joins again from now: their earlier results stay out."""
        async with self.session() as s:
            cohort = await s.get(Cohort, cohort_id)
            if cohort is None or cohort.status != "open":
                return False
            row = (await s.exec(select(CohortMember).where(
                CohortMember.cohort_id == cohort_id,
                CohortMember.user_id == user_id))).scalars().first()
            if row is None:
                s.add(CohortMember(cohort_id=cohort_id, user_id=user_id, consent=consent))
            else:
                if row.left_at is not None:
                    row.joined_at, row.left_at = utcnow(), None
                row.consent = consent
            try:
                await commit_effect(s)
            except IntegrityError:  # the same join from a double tap on another replica
                await s.rollback()
            return True

    async def leave(self, cohort_id: int, user_id: int) -> bool:
        async with self.session() as s:
            result = await s.exec(update(CohortMember)
                                  .where(CohortMember.cohort_id == cohort_id,
                                         CohortMember.user_id == user_id,
                                         CohortMember.left_at.is_(None))
                                  .values(left_at=utcnow()))
            await commit_effect(s)
            return result.rowcount == 1

    async def membership(self, cohort_id: int, user_id: int) -> str | None:
        """The user's consent in this cohort, None if they are not (or no longer) in it."""
        async with self.session() as s:
            return (await s.exec(select(CohortMember.consent).where(
                CohortMember.cohort_id == cohort_id, CohortMember.user_id == user_id,
                CohortMember.left_at.is_(None)))).scalars().first()

    async def memberships(self, user_id: int) -> list[Membership]:
        """The cohorts the user is in now, most recently joined first."""
        async with self.session() as s:
            rows = (await s.exec(select(Cohort, CohortMember.consent, CohortMember.joined_at)
                                 .join(CohortMember, CohortMember.cohort_id == Cohort.id)
                                 .where(CohortMember.user_id == user_id,
                                        CohortMember.left_at.is_(None))
                                 .order_by(CohortMember.joined_at.desc()))).all()
            return [Membership(_info(c), consent, joined) for c, consent, joined in rows]

    # --- "type a name" -------------------------------------------------------------------------
    async def set_prompt(self, user_id: int, kind: str, cohort_id: int | None = None) -> None:
        """Remember that the bot asked `user_id` to type a name (replacing an earlier request).
        One upsert, so that the same request arriving twice at once (a double tap on two
        replicas) leaves one row instead of a duplicate-key error."""
        async with self.session() as s:
            conn = await s.connection()
            statement = dialect_insert(conn, TrainerPrompt).values(
                user_id=user_id, kind=kind, cohort_id=cohort_id, refused_message_id=None,
                created_at=utcnow())
            await s.exec(statement.on_conflict_do_update(
                index_elements=["user_id"],
                set_={column: statement.excluded[column]
                      for column in ("kind", "cohort_id", "refused_message_id", "created_at")}))
            await commit_effect(s)

    async def prompt(self, user_id: int) -> tuple[str, int | None] | None:
        """What the bot asked this user to type, if it is recent."""
        async with self.session() as s:
            row = await s.get(TrainerPrompt, user_id)
            if row is None or row.created_at < utcnow() - PROMPT_TTL:
                return None
            return row.kind, row.cohort_id

    async def prompt_since(self, user_id: int) -> tuple[datetime, int | None] | None:
        """(when the bot asked this user to type a name, the id of their last message refused as
        one); None when it is not waiting for a name."""
        async with self.session() as s:
            row = await s.get(TrainerPrompt, user_id)
            if row is None or row.created_at < utcnow() - PROMPT_TTL:
                return None
            return row.created_at, row.refused_message_id

    async def refuse_name(self, user_id: int, message_id: int) -> None:
        """Remember the user's message that was no valid name (the question stays open)."""
        async with self.session() as s:
            await s.exec(update(TrainerPrompt).where(TrainerPrompt.user_id == user_id)
                         .values(refused_message_id=message_id))
            await s.commit()

    async def take_prompt(self, user_id: int) -> bool:
        """Remove the marker; True for the one caller that removed it (a double send is once)."""
        async with self.session() as s:
            result = await s.exec(delete(TrainerPrompt).where(TrainerPrompt.user_id == user_id))
            await commit_effect(s)
            return result.rowcount == 1

    # --- results -------------------------------------------------------------------------------
    async def finished(self, cohort_id: int, dimensions: Sequence[str], indices: Sequence[str],
                       detail: bool = False, share_only: bool = False) -> list[Finished]:
        """Every finished assessment of the current members since they joined, in one query,
        by member and in finishing order, with when each finished. The numbers come out of the
        stored snapshot in SQL (no JSON parsing in Python), in the order of
        bot.cohorts.columns(); `detail` adds the language and mode for the CSV."""
        m, a = CohortMember, Assessment
        numbers = [a.scores[("dimensions", d)].as_float() for d in dimensions]
        numbers += [a.scores[("indices", k)].as_float() for k in indices]
        numbers.append(a.scores["overall"].as_float())
        extra = [a.finished_at, *((User.language, a.mode) if detail else ())]
        query = (select(m.id, m.consent, a.id, *extra, *numbers)
                 .join(a, a.user_id == m.user_id)
                 .where(m.cohort_id == cohort_id, m.left_at.is_(None),
                        a.status == "finished", a.scores.is_not(None),
                        a.finished_at >= m.joined_at, a.link_id.is_(None))
                 .order_by(m.id, a.finished_at, a.id))
        if detail:
            query = query.join(User, User.id == m.user_id)
        if share_only:
            query = query.where(m.consent == "share")
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        skip = 3 + len(extra)
        return [Finished(row[0], row[1], row[2], tuple(row[skip:]), *row[3:skip]) for row in rows]

    async def counts(self, cohort_id: int) -> tuple[int, int]:
        """(joined, started): current members, and those who began an assessment since."""
        m, a = CohortMember, Assessment
        async with self.engine.connect() as conn:
            joined = (await conn.execute(
                select(func.count()).select_from(m)
                .where(m.cohort_id == cohort_id, m.left_at.is_(None)))).scalar_one()
            started = (await conn.execute(
                select(func.count(func.distinct(m.user_id)))
                .select_from(m).join(a, a.user_id == m.user_id)
                .where(m.cohort_id == cohort_id, m.left_at.is_(None),
                       a.updated_at >= m.joined_at, a.link_id.is_(None)))).scalar_one()
        return joined, started

    async def dashboard(self, cohort_id: int, dimensions: Sequence[str],
                        indices: Sequence[str]) -> Dashboard:
        rows = await self.finished(cohort_id, dimensions, indices)
        joined, started = await self.counts(cohort_id)
        board = dashboard(rows, dimensions, indices, joined, started)
        if board.visible:
            board = replace(board, gap=await self._gap(cohort_id, rows, dimensions))
        return board

    async def _gap(self, cohort_id: int, rows: list[Finished],
                   dimensions: Sequence[str]) -> CohortGap | None:
        """The counted participants' average owner-minus-customers gap (the 360° check), over
        those whose customers' average is published; from MIN_GROUP of them, in blocks."""
        from .feedback import FeedbackStore  # the 360° check's rows

        members = counted(by_member(rows))
        async with self.engine.connect() as conn:
            users = dict((await conn.execute(
                select(CohortMember.id, CohortMember.user_id)
                .where(CohortMember.cohort_id == cohort_id,
                       CohortMember.id.in_(list(members))))).all())
        releases = await FeedbackStore(self.engine).customer_releases(list(users.values()))
        pairs = []
        for member in sorted(members):
            release = releases.get(users.get(member))
            if release is not None:
                latest = members[member][1]
                pairs.append((dict(zip(dimensions, latest.values, strict=False)),
                              release.dimensions))
        return cohort_gap(pairs, dimensions, MIN_GROUP)

    async def contexts(self, cohort_id: int) -> dict[int, dict[str, tuple[str, ...]]]:
        """Context answers of the assessments of members who agreed to share (for the CSV)."""
        m, a, c = CohortMember, Assessment, ContextAnswer
        query = (select(c.assessment_id, c.question_id, c.options)
                 .join(a, a.id == c.assessment_id)
                 .join(m, m.user_id == a.user_id)
                 .where(m.cohort_id == cohort_id, m.left_at.is_(None), m.consent == "share",
                        a.status == "finished", a.finished_at >= m.joined_at,
                        a.link_id.is_(None)))
        out: dict[int, dict[str, tuple[str, ...]]] = {}
        async with self.engine.connect() as conn:
            for aid, question, options in (await conn.execute(query)).all():
                out.setdefault(aid, {})[question] = tuple(o for o in options.split(",") if o)
        return out

    async def room_average(self, user_id: int, dimensions: Sequence[str],
                           indices: Sequence[str]) -> Averages | None:
        """For a participant's chart: the average of the most recently joined of their cohorts
        that has enough finished participants; None if there is none."""
        for membership in await self.memberships(user_id):
            averages = room_average(
                await self.finished(membership.cohort.id, dimensions, indices), dimensions,
                indices)
            if averages is not None:
                return averages
        return None


# --- the user's own data (Store.export_user, Store.delete_user, Store.count_rows) ---------------
async def export_rows(s: AsyncSession, user_id: int) -> dict:
    members = (await s.exec(select(CohortMember, Cohort)
                            .join(Cohort, Cohort.id == CohortMember.cohort_id)
                            .where(CohortMember.user_id == user_id)
                            .order_by(CohortMember.id))).all()
    owned = (await s.exec(select(Cohort).where(Cohort.owner_id == user_id)
                          .order_by(Cohort.id))).scalars().all()
    return {
        "cohort_memberships": [
            {"cohort": c.name, "trainer": c.trainer_name, "consent": m.consent,
             "joined_at": m.joined_at.isoformat(),
             "left_at": m.left_at.isoformat() if m.left_at else None}
            for m, c in members],
        "cohorts_as_trainer": [
            {"name": c.name, "code": c.code, "trainer_name": c.trainer_name,
             "status": c.status, "created_at": c.created_at.isoformat(),
             "closed_at": c.closed_at.isoformat() if c.closed_at else None}
            for c in owned],
    }


async def delete_rows(s: AsyncSession, user_id: int) -> None:
    """The user's memberships, name prompt, and the cohorts they own with those cohorts'
    memberships (a deleted trainer's cohorts are gone). The caller commits."""
    owned = select(Cohort.id).where(Cohort.owner_id == user_id)
    await s.exec(delete(TrainerPrompt).where(TrainerPrompt.user_id == user_id))
    await s.exec(delete(TrainerPrompt).where(TrainerPrompt.cohort_id.in_(owned)))
    await s.exec(delete(CohortMember).where(CohortMember.cohort_id.in_(owned)))
    await s.exec(delete(CohortMember).where(CohortMember.user_id == user_id))
    await s.exec(delete(Cohort).where(Cohort.owner_id == user_id))


async def count_rows(s: AsyncSession, user_id: int) -> int:
    total = 0
    for table, column in ((CohortMember, CohortMember.user_id), (Cohort, Cohort.owner_id),
                          (TrainerPrompt, TrainerPrompt.user_id)):
        total += (await s.exec(select(func.count()).select_from(table)
                               .where(column == user_id))).scalar_one()
    return total
