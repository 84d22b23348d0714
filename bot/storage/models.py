"""Tables. Only what the product needs: no names, no usernames, no message texts."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Integer, UniqueConstraint
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
    message_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
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
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"),
                                          nullable=False, index=True))
    assessment_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("assessments.id", ondelete="CASCADE"), nullable=True))
    due_at: datetime = Field(index=True)
    # pending | claimed | sent | failed | cancelled
    status: str = Field(default="pending", max_length=10, index=True)
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_at: datetime | None = None
    sent_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class ProcessedUpdate(SQLModel, table=True):
    """Update ids already taken by some replica; pruned after a day."""

    __tablename__ = "processed_updates"
    update_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    processed_at: datetime = Field(default_factory=utcnow, index=True)
