"""Tables. Only what the product needs: no names, no usernames, no message texts."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Aware UTC; SQLModel's UTCDateTime stores it as UTC and gives it back aware."""
    return datetime.now(UTC)


class User(SQLModel, table=True):
    __tablename__ = "users"
    id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    language: str | None = Field(default=None, max_length=8)
    active: bool = True  # False once the user blocked the bot; True again when they write
    timezone: str | None = Field(default=None, max_length=64)  # IANA name, when known
    created_at: datetime = Field(default_factory=utcnow)


class Assessment(SQLModel, table=True):
    __tablename__ = "assessments"
    # One open assessment per user, held by the database (two replicas starting one at once).
    __table_args__ = (Index("uq_assessments_open_user", "user_id", unique=True,
                            sqlite_where=text("status = 'open'"),
                            postgresql_where=text("status = 'open'")),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"),
                                          nullable=False, index=True))
    mode: str = Field(max_length=8)  # full | quick
    status: str = Field(default="open", max_length=10, index=True)  # open|finished|abandoned
    content_version: str = Field(max_length=32)
    cursor: int = 0  # -1: not placed yet (after a content upgrade); see Coach._placed
    prefilled: bool = False  # context copied from the user's previous assessment (a retake)
    # A staff member's assessment of a business, through its owner's team link (the 360° check).
    link_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("feedback_links.id", ondelete="CASCADE"), nullable=True, index=True))
    # Bumped by every applied move: each write is conditional on the version its writer read,
    # so of two replicas writing from the same state only one succeeds.
    version: int = Field(default=0, sa_column=Column(Integer, nullable=False,
                                                     server_default=text("0")))
    message_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    # The Telegram update that made the last write (opened it, or the last move): an update
    # processed again after a crash recognises its own write instead of writing twice.
    last_update_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    scores: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class Answer(SQLModel, table=True):
    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("assessment_id", "item_id"),)
    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(sa_column=Column(Integer, ForeignKey("assessments.id",
                                                                    ondelete="CASCADE"),
                                                nullable=False, index=True))
    item_id: str = Field(max_length=32)
    option_id: str = Field(max_length=16)
    evidence: bool | None = None
    answered_at: datetime = Field(default_factory=utcnow)


class ContextAnswer(SQLModel, table=True):
    __tablename__ = "context_answers"
    __table_args__ = (UniqueConstraint("assessment_id", "question_id"),)
    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(sa_column=Column(Integer, ForeignKey("assessments.id",
                                                                    ondelete="CASCADE"),
                                                nullable=False, index=True))
    question_id: str = Field(max_length=32)
    options: str = Field(default="", max_length=200)  # comma-separated option ids
    answered_at: datetime = Field(default_factory=utcnow)


class PlanAction(SQLModel, table=True):
    __tablename__ = "plan_actions"
    __table_args__ = (UniqueConstraint("assessment_id", "recommendation_id"),)
    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(sa_column=Column(Integer, ForeignKey("assessments.id",
                                                                    ondelete="CASCADE"),
                                                nullable=False, index=True))
    recommendation_id: str = Field(max_length=40)
    phase: str = Field(max_length=8)
    position: int = 0
    done_at: datetime | None = None


class Reminder(SQLModel, table=True):
    """A check-in the owner asked for. Kept here, not only in a JobQueue, so that it survives
    restarts; a sender claims it (status pending -> claimed) before sending, so two processes
    never send it twice."""

    __tablename__ = "reminders"
    # At most one pending check-in per user, held by the database (not by process order).
    __table_args__ = (Index("uq_reminders_pending_user", "user_id", unique=True,
                            sqlite_where=text("status = 'pending'"),
                            postgresql_where=text("status = 'pending'")),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"),
                                          nullable=False, index=True))
    assessment_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("assessments.id", ondelete="CASCADE"), nullable=True))
    due_at: datetime = Field(index=True)
    # pending | claimed | sent | answered | failed | cancelled
    status: str = Field(default="pending", max_length=10, index=True)
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_at: datetime | None = None
    sent_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class InboxUpdate(SQLModel, table=True):
    """Every update accepted from Telegram, written before it is acknowledged (the webhook's
    200, the next getUpdates offset): the transactional inbox. Processing claims a row (queued ->
    running) and marks it done in the same transaction as the update's first database effect,
    so a crash before that means the update is taken up again, a crash after it means never
    again. The raw update (names, texts) is kept only until then: `payload` is cleared when done.
    Rows are kept a day as the record of update ids already seen, then pruned."""

    __tablename__ = "inbox"
    __table_args__ = (Index("ix_inbox_status_lease", "status", "lease_until"),
                      Index("ix_inbox_owner", "owner"))
    update_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    payload: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    status: str = Field(default="queued", max_length=8)  # queued|running|done|dropped|failed
    owner: str = Field(max_length=64)  # the replica holding it
    lease_until: datetime  # another replica may take it up after this
    attempts: int = 0  # times taken up again after its owner died
    received_at: datetime = Field(default_factory=utcnow)
    done_at: datetime | None = Field(default=None, index=True)
