"""Tables of the trainer feature: cohorts, their members, and the "type a name" marker.

Stored about a trainer: the cohort's name and the trainer's Telegram first name (shown to people
who open the cohort's link). About a participant: which cohort, their consent, when they joined
and left. Nothing else.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from .models import utcnow

CONSENTS = ("share", "aggregate")  # share: the trainer sees my rows; aggregate: only averages
MODES = ("full", "quick")  # the assessment participants take right after joining


class Cohort(SQLModel, table=True):
    __tablename__ = "cohorts"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True, index=True)  # the deep link's secret
    owner_id: int = Field(sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"),
                                           nullable=False, index=True))
    name: str = Field(max_length=60)
    trainer_name: str = Field(default="", max_length=64)  # Telegram first_name at creation
    status: str = Field(default="open", max_length=8)  # open | closed
    mode: str = Field(default="quick", max_length=8,  # full | quick: what participants take
                      sa_column_kwargs={"server_default": "quick"})
    created_at: datetime = Field(default_factory=utcnow)
    closed_at: datetime | None = None
    # The trainer's message that gave the cohort its current name: editing that message (a
    # typo fixed) renames the cohort instead of leaving the typo or making a second cohort.
    name_message_id: int | None = Field(default=None,
                                        sa_column=Column(BigInteger, nullable=True))


class CohortMember(SQLModel, table=True):
    __tablename__ = "cohort_members"
    __table_args__ = (UniqueConstraint("cohort_id", "user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    cohort_id: int = Field(sa_column=Column(Integer, ForeignKey("cohorts.id", ondelete="CASCADE"),
                                            nullable=False, index=True))
    user_id: int = Field(sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"),
                                          nullable=False, index=True))
    consent: str = Field(max_length=10)  # share | aggregate
    joined_at: datetime = Field(default_factory=utcnow)
    left_at: datetime | None = None


class TrainerPrompt(SQLModel, table=True):
    """The bot asked this user to type a cohort name (new: cohort_id None; rename: its id).
    Kept in the database so that any replica handles the typed answer."""

    __tablename__ = "trainer_prompts"
    user_id: int = Field(sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"),
                                          primary_key=True, autoincrement=False))
    kind: str = Field(max_length=8)  # new | rename
    # The user's last message refused as a name: editing it into a valid one is the answer.
    refused_message_id: int | None = Field(default=None,
                                           sa_column=Column(BigInteger, nullable=True))
    cohort_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("cohorts.id", ondelete="CASCADE"), nullable=True))
    created_at: datetime = Field(default_factory=utcnow)
