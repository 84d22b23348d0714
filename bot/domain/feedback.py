"""The 360° check: the owner's view of the business beside the team's and the customers'.

Article 000's information gap, measured: what a business believes about itself (the owner's
assessment) against what its staff see (the same assessment, answered about the business) and
what its customers experience (a one-minute pulse, one question per dimension, plus an optional
0-10 likelihood to recommend).

Pure rules, no Telegram and no database:
- scores on one scale: a pulse answer 0-4 is worth 25 points, like an item; a dimension is 25 x
  the mean of its answers ("doesn't apply" leaves the mean);
- anonymity: the owner sees aggregates only, from MIN_STAFF staff and MIN_CUSTOMERS customers,
  and a published aggregate only changes after at least that many responses changed (were added,
  replaced or deleted) since the last one, so no single response can be worked out by
  subtracting one published average from the next (`Release`);
- the gap: owner minus customers per dimension; the largest gap where the owner rates higher by
  at least GAP_MIN points becomes a priority candidate ("You rated Integrity 75; your customers
  40"), citing article 000.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .bank import Option

MIN_STAFF = 3  # staff answers before the owner sees the team's average
MIN_CUSTOMERS = 5  # customer answers before the owner sees theirs
GAP_MIN = 15.0  # points: a smaller difference between owner and customers is noise
REANSWER_WINDOW = timedelta(days=30)  # answering again within it replaces the earlier answer
NA = "na"  # "doesn't apply"
NPS_RANGE = range(0, 11)
CODE_BYTES = 16  # 128 random bits, like cohort codes
CODE_RE = re.compile(r"^[A-Za-z0-9_-]{16,60}$")
LINK_PREFIXES = {"team": "t_", "customer": "p_"}  # /start t_<code>, /start p_<code>
KINDS = tuple(LINK_PREFIXES)


# --- links ------------------------------------------------------------------------------------
def new_code() -> str:
    """An unguessable, deep-link safe code (the /start payload is `t_<code>` or `p_<code>`)."""
    return secrets.token_urlsafe(CODE_BYTES)


def parse_payload(payload: str | None) -> tuple[str, str] | None:
    """A /start payload -> (kind, code) for a team or customer link; None for anything else."""
    if not payload or len(payload) > 64:
        return None
    for kind, prefix in LINK_PREFIXES.items():
        if payload.startswith(prefix):
            code = payload[len(prefix):]
            return (kind, code) if CODE_RE.match(code) else None
    return None


def respondent_key(secret: bytes, link_id: int, user_id: int) -> str:
    """A keyed hash of a customer's Telegram id for one link: enough to find their own answer
    again (to replace or delete it), useless to link them across businesses or to recover the
    id without the secret. 64 hex characters."""
    return hmac.new(secret, f"{link_id}:{user_id}".encode(), hashlib.sha256).hexdigest()


# --- the pulse --------------------------------------------------------------------------------
@dataclass(frozen=True)
class PulseQuestion:
    id: str
    dimension: str
    options: tuple[Option, ...]  # worst to best, scores 0-4

    def option(self, option_id: str) -> Option | None:
        return next((o for o in self.options if o.id == option_id), None)


@dataclass(frozen=True)
class Pulse:
    questions: tuple[PulseQuestion, ...]  # one per dimension, in the model's order

    def question(self, question_id: str) -> PulseQuestion | None:
        return next((q for q in self.questions if q.id == question_id), None)


def valid_pulse_answer(pulse: Pulse, question_id: str, option_id: str) -> bool:
    q = pulse.question(question_id)
    return q is not None and (option_id == NA or q.option(option_id) is not None)


def pulse_dimensions(pulse: Pulse, answers: Mapping[str, str]) -> dict[str, float | None]:
    """One customer's answers {question id: option id or "na"} -> 0-100 per dimension (None when
    not answered or "doesn't apply")."""
    out: dict[str, float | None] = {}
    for q in pulse.questions:
        option = q.option(answers.get(q.id, ""))
        out[q.dimension] = None if option is None else 25.0 * option.score
    return out


def mean_dimensions(rows: Sequence[Mapping[str, float | None]],
                    dimensions: Sequence[str]) -> dict[str, float | None]:
    """The mean of each dimension over rows (None values and missing keys leave the mean)."""
    out: dict[str, float | None] = {}
    for d in dimensions:
        values = [r[d] for r in rows if r.get(d) is not None]
        out[d] = round(sum(values) / len(values), 1) if values else None
    return out


def nps(scores: Iterable[int]) -> int | None:
    """Net Promoter Score: % promoters (9-10) minus % detractors (0-6), -100..100; None for no
    answers."""
    values = [s for s in scores if s in NPS_RANGE]
    if not values:
        return None
    promoters = sum(1 for s in values if s >= 9)
    detractors = sum(1 for s in values if s <= 6)
    return round(100 * (promoters - detractors) / len(values))


# --- anonymity: what the owner may see ---------------------------------------------------------
@dataclass(frozen=True)
class Release:
    """A published aggregate of one link: what the owner sees until the next one."""

    responses: int  # how many responses it averages
    dimensions: dict[str, float | None]
    nps: int | None = None
    nps_answers: int = 0
    at: datetime | None = None

    def as_json(self) -> dict:
        return {"responses": self.responses, "dimensions": self.dimensions, "nps": self.nps,
                "nps_answers": self.nps_answers,
                "at": self.at.isoformat() if self.at else None}

    @classmethod
    def from_json(cls, data: Mapping | None) -> Release | None:
        if not data:
            return None
        at = data.get("at")
        return cls(int(data["responses"]), dict(data["dimensions"]), data.get("nps"),
                   int(data.get("nps_answers") or 0),
                   datetime.fromisoformat(at) if at else None)


def minimum(kind: str) -> int:
    return MIN_STAFF if kind == "team" else MIN_CUSTOMERS


def due_release(kind: str, responses: int, changes: int, published: Release | None) -> bool:
    """Publish a new aggregate now? Only with at least the minimum of responses, and (after the
    first) only when at least that many responses changed since the last one: then two
    consecutive aggregates differ by the answers of a group, never of one person."""
    step = minimum(kind)
    if responses < step:
        return False
    return published is None or changes >= step


@dataclass(frozen=True)
class LinkView:
    """What the owner is told about one link."""

    kind: str
    responses: int  # current responses (after replacements and deletions)
    release: Release | None  # the published aggregate, if any
    needed: int  # more responses needed before anything (more) is shown; 0 when none are

    @property
    def visible(self) -> bool:
        return self.release is not None


def link_view(kind: str, responses: int, changes: int, release: Release | None) -> LinkView:
    step = minimum(kind)
    if release is None:
        needed = max(0, step - responses)
    else:
        needed = max(0, step - changes)
    return LinkView(kind, responses, release, needed)


# --- the gap ----------------------------------------------------------------------------------
def gaps(owner: Mapping[str, float | None], other: Mapping[str, float | None],
         dimensions: Sequence[str]) -> dict[str, float | None]:
    """Owner minus the other view per dimension, in points (None where either is missing)."""
    return {d: (None if owner.get(d) is None or other.get(d) is None
                else round(owner[d] - other[d], 1)) for d in dimensions}


@dataclass(frozen=True)
class Gap:
    dimension: str
    owner: float
    customers: float

    @property
    def points(self) -> float:
        return round(self.owner - self.customers, 1)


def largest_gap(owner: Mapping[str, float | None], customers: Release | None,
                dimensions: Sequence[str], minimum_points: float = GAP_MIN) -> Gap | None:
    """The dimension where the owner rates the business highest above its customers, if the gap
    is real: published customer answers (MIN_CUSTOMERS or more) and at least `minimum_points`.
    Ties go to the first dimension in `dimensions`."""
    if customers is None or customers.responses < MIN_CUSTOMERS:
        return None
    best: Gap | None = None
    for d in dimensions:
        o, c = owner.get(d), customers.dimensions.get(d)
        if o is None or c is None or o - c < minimum_points:
            continue
        if best is None or o - c > best.points:
            best = Gap(d, o, c)
    return best


@dataclass(frozen=True)
class CohortGap:
    participants: int
    gaps: dict[str, float | None] = field(default_factory=dict)


def cohort_gap(pairs: Sequence[tuple[Mapping[str, float | None], Mapping[str, float | None]]],
               dimensions: Sequence[str], minimum_participants: int) -> CohortGap | None:
    """The mean owner-minus-customers gap per dimension (points) over participants who have
    both an owner result and a published customer pulse; None below `minimum_participants`.

    `pairs` in a stable order (e.g. by membership): participants count in whole blocks of
    `minimum_participants`, the first ones first, so two consecutive figures differ by a
    block, never by one participant's gap (the cohorts' own rule, bot/cohorts.py)."""
    counted = len(pairs) // minimum_participants * minimum_participants
    if counted == 0:
        return None
    per = [gaps(o, c, dimensions) for o, c in pairs[:counted]]
    return CohortGap(counted, mean_dimensions(per, dimensions))
