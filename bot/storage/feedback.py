"""Queries of the 360° check. Handlers and the service call these; nothing else builds its SQL.

Authorisation (is this the link's owner?) is the caller's job, as in storage/cohorts.py.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain.feedback import REANSWER_WINDOW, Release, new_code, respondent_key

from .feedback_models import AppSecret, FeedbackLink, PulseResponse
from .inbox import add_with_code, commit_effect
from .models import Assessment, utcnow

SECRET_NAME = "respondent_key"


@dataclass(frozen=True)
class LinkInfo:
    id: int
    owner_id: int
    kind: str
    code: str
    business_name: str
    status: str
    created_at: datetime
    release: Release | None
    released_at: datetime | None
    deleted: frozenset[str]  # who deleted their answer since the last release

    @property
    def open(self) -> bool:
        return self.status == "open"


def _info(row: FeedbackLink) -> LinkInfo:
    return LinkInfo(row.id, row.owner_id, row.kind, row.code, row.business_name, row.status,
                    row.created_at, Release.from_json(row.released), _aware(row.released_at),
                    frozenset(row.deleted or ()))


@dataclass(frozen=True)
class PulseDraft:
    """A customer's pulse in progress: the answers given so far and whether it is finished."""

    response_id: int
    answers: dict[str, str]
    nps: int | None
    finished: bool  # this period's response was finished (a re-answer replaces it)


@dataclass(frozen=True)
class GivenPulse:
    """A finished pulse, as its respondent may see it (/privacy, /export)."""

    link_id: int
    business_name: str
    answers: dict[str, str]
    nps: int | None
    finished_at: datetime | None


class FeedbackStore:
    def __init__(self, engine: AsyncEngine):
        self.engine = engine
        self._secret: bytes | None = None

    def session(self) -> AsyncSession:
        return AsyncSession(self.engine, expire_on_commit=False)

    # --- the key of respondent hashes ------------------------------------------------------------
    async def secret(self) -> bytes:
        """RESPONDENT_KEY when set (keep it with the backups), else a key made once and kept in
        the database (then a copy of the database holds both the hashes and their key)."""
        if self._secret is None:
            configured = os.environ.get("RESPONDENT_KEY")
            if configured:
                self._secret = configured.encode()
            else:
                async with self.session() as s:
                    row = await s.get(AppSecret, SECRET_NAME)
                    if row is None:
                        s.add(AppSecret(name=SECRET_NAME, value=secrets.token_hex(32)))
                        try:
                            await s.commit()
                        except IntegrityError:  # another replica made it first
                            await s.rollback()
                        row = await s.get(AppSecret, SECRET_NAME)
                    self._secret = row.value.encode()
        return self._secret

    async def respondent(self, link_id: int, user_id: int) -> str:
        return respondent_key(await self.secret(), link_id, user_id)

    # --- links -----------------------------------------------------------------------------------
    async def create(self, owner_id: int, kind: str, business_name: str) -> LinkInfo:
        """A new open link of this kind; the owner's other open link of the kind is closed (one
        link per kind at a time: "renew" is create)."""
        async def close_others(s: AsyncSession) -> None:
            await s.exec(update(FeedbackLink)
                         .where(FeedbackLink.owner_id == owner_id, FeedbackLink.kind == kind,
                                FeedbackLink.status == "open")
                         .values(status="closed", closed_at=utcnow()))

        return _info(await add_with_code(self.session, lambda: FeedbackLink(
            owner_id=owner_id, kind=kind, code=new_code(), business_name=business_name),
            close_others))

    async def get(self, link_id: int) -> LinkInfo | None:
        async with self.session() as s:
            row = await s.get(FeedbackLink, link_id)
            return _info(row) if row else None

    async def by_code(self, code: str) -> LinkInfo | None:
        async with self.session() as s:
            row = (await s.exec(select(FeedbackLink).where(FeedbackLink.code == code))).first()
            return _info(row) if row else None

    async def latest(self, owner_id: int, kind: str) -> LinkInfo | None:
        """The owner's newest link of this kind (open or closed)."""
        async with self.session() as s:
            row = (await s.exec(select(FeedbackLink)
                                .where(FeedbackLink.owner_id == owner_id,
                                       FeedbackLink.kind == kind)
                                .order_by(FeedbackLink.id.desc()).limit(1))).first()
            return _info(row) if row else None

    async def customer_releases(self, owner_ids: list[int]) -> dict[int, Release]:
        """Owner id -> the published customers' average of their newest customer link that
        has one (owners without one are left out)."""
        if not owner_ids:
            return {}
        async with self.session() as s:
            rows = (await s.exec(select(FeedbackLink.owner_id, FeedbackLink.released)
                                 .where(FeedbackLink.owner_id.in_(owner_ids),
                                        FeedbackLink.kind == "customer",
                                        FeedbackLink.released.is_not(None))
                                 .order_by(FeedbackLink.id))).all()
        out = {}
        for owner_id, released in rows:
            release = Release.from_json(released)
            if release is not None:
                out[owner_id] = release
        return out

    async def link_of(self, assessment_id: int) -> LinkInfo | None:
        """The team link a staff member's assessment was given through."""
        async with self.session() as s:
            row = (await s.exec(select(FeedbackLink).join(
                Assessment, Assessment.link_id == FeedbackLink.id)
                .where(Assessment.id == assessment_id))).first()
            return _info(row) if row else None

    async def business_name(self, owner_id: int) -> str:
        """The name the owner gave their business last (on any link), or ""."""
        async with self.session() as s:
            name = (await s.exec(select(FeedbackLink.business_name)
                                 .where(FeedbackLink.owner_id == owner_id,
                                        FeedbackLink.business_name != "")
                                 .order_by(FeedbackLink.id.desc()).limit(1))).first()
            return name or ""

    async def rename(self, owner_id: int, name: str) -> None:
        """The business name on every open link of the owner."""
        async with self.session() as s:
            await s.exec(update(FeedbackLink)
                         .where(FeedbackLink.owner_id == owner_id, FeedbackLink.status == "open")
                         .values(business_name=name))
            await commit_effect(s)

    async def close(self, link_id: int) -> bool:
        async with self.session() as s:
            result = await s.exec(update(FeedbackLink)
                                  .where(FeedbackLink.id == link_id,
                                         FeedbackLink.status == "open")
                                  .values(status="closed", closed_at=utcnow()))
            await commit_effect(s)
            return result.rowcount == 1

    # --- customer pulses -------------------------------------------------------------------------
    async def pulse_draft(self, link_id: int, respondent: str, now: datetime | None = None,
                          begin: bool = False) -> PulseDraft | None:
        """The respondent's pulse of this period: within 30 days of their last one it is that
        one (answering again replaces it), else a new one. With `begin` a missing one is made
        and a finished one is opened for a re-answer (its draft starts empty); without it,
        None when there is nothing in progress."""
        now = now or utcnow()
        async with self.session() as s:
            row = (await s.exec(select(PulseResponse)
                                .where(PulseResponse.link_id == link_id,
                                       PulseResponse.respondent == respondent)
                                .order_by(PulseResponse.period.desc()).limit(1))).first()
            stale = row is not None and now - _aware(row.created_at) > REANSWER_WINDOW
            if not begin:
                if row is None or stale or row.draft is None:
                    return None
                return PulseDraft(row.id, dict(row.draft), row.draft_nps,
                                  row.answers is not None)
            if row is None or stale:
                row = PulseResponse(link_id=link_id, respondent=respondent,
                                    period=0 if row is None else row.period + 1, draft={},
                                    created_at=now, updated_at=now)
                s.add(row)
            elif row.draft is None:
                row.draft, row.draft_nps = {}, None
                s.add(row)
            try:
                await commit_effect(s)
            except IntegrityError:  # the same tap twice at once: the other made it
                await s.rollback()
                return await self.pulse_draft(link_id, respondent, now, begin=False)
            return PulseDraft(row.id, dict(row.draft or {}), row.draft_nps,
                              row.answers is not None)

    async def pulse_answer(self, response_id: int, question_id: str, option_id: str,
                           expected: int) -> bool:
        """Add one answer to the draft if it still holds `expected` answers (a double tap or a
        second replica can not add twice or skip a question)."""
        async with self.session() as s:
            row = await s.get(PulseResponse, response_id, with_for_update=True)
            if row is None or row.draft is None or len(row.draft) != expected \
                    or question_id in row.draft:
                return False
            row.draft = {**row.draft, question_id: option_id}
            s.add(row)
            await commit_effect(s)
            return True

    async def pulse_finish(self, response_id: int, nps: int | None,
                           now: datetime | None = None) -> bool:
        """The draft becomes the response (replacing an earlier one of this period)."""
        now = now or utcnow()
        async with self.session() as s:
            row = await s.get(PulseResponse, response_id, with_for_update=True)
            if row is None or row.draft is None:
                return False
            row.answers, row.nps = dict(row.draft), nps
            row.draft, row.draft_nps = None, None
            row.updated_at = row.finished_at = now
            s.add(row)
            await commit_effect(s)
            return True

    async def pulses(self, link_id: int) -> list[tuple[dict, int | None, datetime, str]]:
        """Every finished response of a link: (answers, nps, updated_at, respondent key)."""
        async with self.session() as s:
            rows = (await s.exec(select(PulseResponse.answers, PulseResponse.nps,
                                        PulseResponse.updated_at, PulseResponse.respondent)
                                 .where(PulseResponse.link_id == link_id,
                                        PulseResponse.answers.is_not(None)))).all()
            return [(a, n, _aware(u), k) for a, n, u, k in rows]

    async def recent_pulses(self, link_id: int, since: datetime) -> int:
        """Pulses begun on this link since a time (the rate limit's count)."""
        async with self.session() as s:
            return (await s.exec(select(func.count()).select_from(PulseResponse)
                                 .where(PulseResponse.link_id == link_id,
                                        PulseResponse.created_at >= since))).one()

    # --- staff assessments -----------------------------------------------------------------------
    async def staff_results(self, link_id: int) -> list[tuple[int, dict, datetime]]:
        """Each staff member's latest finished assessment on this team link:
        (user id, score snapshot, finished_at)."""
        async with self.session() as s:
            rows = (await s.exec(select(Assessment.user_id, Assessment.scores,
                                        Assessment.finished_at)
                                 .where(Assessment.link_id == link_id,
                                        Assessment.status == "finished")
                                 .order_by(Assessment.finished_at))).all()
        latest: dict[int, tuple[dict, datetime]] = {}
        for user_id, scores, finished in rows:
            latest[user_id] = (scores or {}, _aware(finished))
        return [(u, sc, f) for u, (sc, f) in latest.items()]

    # --- publishing --------------------------------------------------------------------------
    async def publish(self, link_id: int, release: Release) -> None:
        async with self.session() as s:
            await s.exec(update(FeedbackLink).where(FeedbackLink.id == link_id)
                         .values(released=release.as_json(), released_at=release.at,
                                 deleted=None))
            await commit_effect(s)

    async def note_deleted(self, s: AsyncSession, link_id: int, who: str) -> None:
        """Record in the caller's transaction that `who` deleted their answer on a link."""
        row = await s.get(FeedbackLink, link_id, with_for_update=True)
        if row is not None and who not in (row.deleted or []):
            row.deleted = [*(row.deleted or []), who]
            s.add(row)

    # --- a respondent's own answers ----------------------------------------------------------
    async def given(self, user_id: int) -> list[GivenPulse]:
        """Every pulse this person gave (found through the keyed hash, link by link)."""
        secret = await self.secret()
        async with self.session() as s:
            links = (await s.exec(select(FeedbackLink.id, FeedbackLink.business_name)
                                  .where(FeedbackLink.kind == "customer"))).all()
            keys = {respondent_key(secret, lid, user_id): (lid, name) for lid, name in links}
            if not keys:
                return []
            rows = (await s.exec(select(PulseResponse)
                                 .where(PulseResponse.respondent.in_(list(keys))))).all()
        out = []
        for row in rows:
            lid, name = keys[row.respondent]
            out.append(GivenPulse(lid, name, dict(row.answers or row.draft or {}), row.nps,
                                  row.finished_at))
        return out

    async def staff_given(self, user_id: int) -> list[tuple[str, bool]]:
        """The businesses this person assessed as staff, through a team link: (business name,
        finished), oldest first."""
        async with self.session() as s:
            rows = (await s.exec(select(FeedbackLink.business_name, Assessment.status)
                                 .join(Assessment, Assessment.link_id == FeedbackLink.id)
                                 .where(Assessment.user_id == user_id)
                                 .order_by(Assessment.id))).all()
        return [(name, status == "finished") for name, status in rows]

    async def delete_given(self, user_id: int) -> int:
        """Delete every pulse this person gave; each link counts the deletion, so the next
        published aggregate leaves it out. Returns how many were deleted."""
        secret = await self.secret()
        async with self.session() as s:
            links = (await s.exec(select(FeedbackLink.id)
                                  .where(FeedbackLink.kind == "customer"))).all()
            ids = list(links)
            keys = {respondent_key(secret, lid, user_id): lid for lid in ids}
            if not keys:
                return 0
            rows = (await s.exec(select(PulseResponse.id, PulseResponse.respondent,
                                        PulseResponse.answers)
                                 .where(PulseResponse.respondent.in_(list(keys))))).all()
            for _rid, key, answers in rows:
                if answers is not None:
                    await self.note_deleted(s, keys[key], key)
            if rows:
                await s.exec(delete(PulseResponse)
                             .where(PulseResponse.id.in_([r[0] for r in rows])))
            await commit_effect(s)
            return len(rows)

    async def count_given(self, user_id: int) -> int:
        return len(await self.given(user_id))


def _aware(value: datetime | None) -> datetime | None:
    from datetime import UTC

    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
