"""Tables of the 360° check: the owner's team and customer links, and customers' pulse answers.

Stored about an owner: their links (code, the business name they chose for the counter card,
open or closed) and the aggregates published from them. About a staff member: their assessment of
the business, like any assessment, under their own id (they can see and delete it). About a
customer: only their pulse answers, under a keyed hash of their Telegram id per link (enough to
replace or delete their own answer), never the id itself.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from .models import utcnow


def _json() -> Column:
    """A JSON column whose Python None is SQL NULL (not the JSON value null)."""
    return Column(JSON(none_as_null=True), nullable=True)


class FeedbackLink(SQLModel, table=True):
    __tablename__ = "feedback_links"
    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"),
                                           nullable=False, index=True))
    kind: str = Field(max_length=8)  # team | customer
    code: str = Field(max_length=64, unique=True, index=True)  # the deep link's secret
    business_name: str = Field(default="", max_length=60)  # on the counter card and intros
    status: str = Field(default="open", max_length=8)  # open | closed
    created_at: datetime = Field(default_factory=utcnow)
    closed_at: datetime | None = None
    # The published aggregate (domain.feedback.Release as JSON) and when; who deleted their
    # answer since (respondent keys or staff ids: a change counts once per person).
    released: dict | None = Field(default=None, sa_column=_json())
    released_at: datetime | None = None
    deleted: list | None = Field(default=None, sa_column=_json())


class PulseResponse(SQLModel, table=True):
    """One customer's pulse for one link. `answers` is the finished response (what counts);
    `draft` the one being given (a re-answer replaces `answers` only when it is finished)."""

    __tablename__ = "pulse_responses"
    __table_args__ = (UniqueConstraint("link_id", "respondent", "period"),)
    id: int | None = Field(default=None, primary_key=True)
    link_id: int = Field(sa_column=Column(Integer, ForeignKey("feedback_links.id",
                                                              ondelete="CASCADE"),
                                          nullable=False, index=True))
    respondent: str = Field(max_length=64, index=True)  # keyed hash of the Telegram id
    period: int = 0  # a new response after the 30-day window gets the next period
    answers: dict | None = Field(default=None, sa_column=_json())
    nps: int | None = None
    draft: dict | None = Field(default=None, sa_column=_json())
    draft_nps: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)  # when `answers` last changed
    finished_at: datetime | None = None


class AppSecret(SQLModel, table=True):
    """Secrets the bot makes for itself (the key of respondent hashes when RESPONDENT_KEY is
    not set)."""

    __tablename__ = "app_secrets"
    name: str = Field(max_length=32, primary_key=True)
    value: str = Field(max_length=128)
