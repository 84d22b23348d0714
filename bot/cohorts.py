"""Cohorts for trainers, the pure part: join codes, names, the dashboard's numbers and the CSV.

No Telegram and no database here. The input is the score snapshots stored on finished
assessments (``Result.as_snapshot()``: dimensions, indices, overall), never the answers, so a
dashboard of 10,000 participants is one query plus a pass over plain dicts.

Privacy rules, enforced here and nowhere else (`counting`):
- individual rows only for participants whose consent is "share";
- participants who chose "averages only" go into an aggregate in blocks of MIN_GROUP, in the
  order they first finished (5 of them count when there are 5 to 9, 10 from 10 to 14, ...): the
  trainer can read the sharers' rows, so one, two or four of them averaged in with the sharers
  could be worked out by subtraction; and since a block only ever grows by MIN_GROUP at a time,
  comparing two refreshes gives an average of five of them, never one;
- an aggregate (averages, weakest areas, the chart, the CSV's aggregate block, the participants'
  overlay) only when at least MIN_GROUP participants are counted in it; the start-of-course vs
  latest change likewise over participants with two results.
What remains visible: a counted participant's own change between two of their results moves
the average by that change over N, when nothing else changed in between.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.feedback import CohortGap

MIN_GROUP = 5
WEAKEST = 3
CODE_BYTES = 16  # 128 random bits -> 22 characters of [A-Za-z0-9_-]
CODE_PREFIX = "c_"
CODE_RE = re.compile(r"^[A-Za-z0-9_-]{16,62}$")
NAME_MAX = 60
_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}


# --- codes and names -------------------------------------------------------------------------
def new_code() -> str:
    """An unguessable, deep-link safe code (the /start payload is ``c_<code>``, <= 64 chars)."""
    return secrets.token_urlsafe(CODE_BYTES)


def code_from_payload(payload: str | None) -> str | None:
    """The code of a ``c_<code>`` deep-link payload; None if it is not a well-formed one."""
    if not payload or not payload.startswith(CODE_PREFIX) or len(payload) > 64:
        return None
    code = payload[len(CODE_PREFIX):]
    return code if CODE_RE.match(code) else None


def clean_name(text: str | None) -> str | None:
    """A cohort name: 1-60 characters after trimming, no control characters; None if invalid."""
    name = (text or "").strip()
    if not 1 <= len(name) <= NAME_MAX:
        return None
    for ch in name:
        if unicodedata.category(ch) in ("Cc", "Zl", "Zp") or ch in _BIDI:
            return None
    return name


# --- the numbers -----------------------------------------------------------------------------
@dataclass(slots=True)
class Finished:
    """One finished assessment of a current member, finished after they joined. Lists of these
    are in finishing order per member (the query sorts them): first seen is the first result."""

    member: int  # the membership id: a pseudonym, stable within the cohort
    consent: str  # share | aggregate
    assessment_id: int
    values: tuple[float | None, ...]  # from the stored snapshot, in the order of `columns()`
    finished_at: datetime | None = None  # these three only where the CSV needs them
    language: str | None = None
    mode: str = ""


def columns(dimensions: Sequence[str], indices: Sequence[str]) -> tuple[str, ...]:
    """The order of Finished.values: every dimension, every index, then the overall score."""
    return (*dimensions, *indices, "overall")


def values_of(snapshot: dict, dimensions: Sequence[str],
              indices: Sequence[str]) -> tuple[float | None, ...]:
    """A stored snapshot ({dimensions, indices, overall}) as Finished.values."""
    dims, idx = snapshot.get("dimensions") or {}, snapshot.get("indices") or {}
    return (*(dims.get(d) for d in dimensions), *(idx.get(k) for k in indices),
            snapshot.get("overall"))


@dataclass(frozen=True)
class Averages:
    participants: int
    dimensions: dict[str, float | None]
    indices: dict[str, float | None]
    overall: float | None


@dataclass(frozen=True)
class Counting:
    """Who goes into one aggregate, and what it would take to show it."""

    sharing: int  # participants who share their scores: always counted
    private: int  # participants who chose averages only
    private_counted: int  # of those, counted: a multiple of MIN_GROUP

    @property
    def counted(self) -> int:
        return self.sharing + self.private_counted

    @property
    def finished(self) -> int:
        return self.sharing + self.private

    @property
    def visible(self) -> bool:
        return self.counted >= MIN_GROUP

    @property
    def waiting(self) -> int:
        """Averages-only participants not counted yet."""
        return self.private - self.private_counted

    @property
    def private_needed(self) -> int:
        """More averages-only participants before the waiting ones count (0: none wait)."""
        return MIN_GROUP - self.waiting if self.waiting else 0

    @property
    def sharing_needed(self) -> int:
        """More sharing participants before the aggregate shows (0: it shows)."""
        return max(0, MIN_GROUP - self.counted)


@dataclass(frozen=True)
class Dashboard:
    joined: int
    started: int
    finished: int  # participants with at least one finished assessment
    shared: int  # of those, how many agreed to share their rows
    average: Averages | None  # each counted participant's latest result; None while hidden
    weakest: tuple[str, ...] = ()
    retakers: int = 0  # participants with two results or more (counted or not)
    change: Averages | None = None  # latest minus first; None while hidden
    first: Averages | None = field(default=None, repr=False)
    latest_count: Counting = Counting(0, 0, 0)  # who is in `average`
    change_count: Counting = Counting(0, 0, 0)  # who is in `change` and `first`
    gap: CohortGap | None = None  # owners vs their customers (the 360° check), while visible

    @property
    def visible(self) -> bool:
        return self.average is not None

    @property
    def held_back(self) -> int:
        """Averages-only participants not counted in the average yet."""
        return self.latest_count.waiting


def by_member(rows: Iterable[Finished]) -> dict[int, tuple[Finished, Finished]]:
    """Each member's first and latest finished assessment (the same one if they have one)."""
    out: dict[int, tuple[Finished, Finished]] = {}
    for row in rows:
        seen = out.get(row.member)
        out[row.member] = (row, row) if seen is None else (seen[0], row)
    return out


def _mean(column: Iterable[float | None]) -> float | None:
    present = [v for v in column if v is not None]
    return round(sum(present) / len(present), 1) if present else None


def _averages(means: Sequence[float | None], dimensions: Sequence[str], indices: Sequence[str],
              participants: int) -> Averages:
    nd, ni = len(dimensions), len(indices)
    return Averages(participants, dict(zip(dimensions, means[:nd], strict=True)),
                    dict(zip(indices, means[nd:nd + ni], strict=True)), means[nd + ni])


def average_of(vectors: Sequence[tuple], dimensions: Sequence[str],
               indices: Sequence[str]) -> Averages:
    """The mean of each dimension, index and the overall score over some Finished.values
    (a column at a time: 10,000 participants take milliseconds)."""
    width = len(dimensions) + len(indices) + 1
    cols = list(zip(*vectors, strict=True)) if vectors else [()] * width
    return _averages([_mean(c) for c in cols], dimensions, indices, len(vectors))


def change(pairs: Sequence[tuple[tuple, tuple]], dimensions: Sequence[str],
           indices: Sequence[str]) -> Averages:
    """Mean of (latest - first) per column, over the participants who have both values."""
    width = len(dimensions) + len(indices) + 1
    firsts = list(zip(*(f for f, _ in pairs), strict=True)) if pairs else [()] * width
    latests = list(zip(*(la for _, la in pairs), strict=True)) if pairs else [()] * width
    means = [_mean(b - a for a, b in zip(fc, lc, strict=True) if a is not None and b is not None)
             for fc, lc in zip(firsts, latests, strict=True)]
    return _averages(means, dimensions, indices, len(pairs))


def weakest(averages: dict[str, float | None], dimensions: Sequence[str],
            count: int = WEAKEST) -> tuple[str, ...]:
    """The lowest averages (ties in the bank's order); dimensions without a value are skipped.
    Empty when every dimension has the same average: then none is weaker than another."""
    scored = [(v, n, d) for n, d in enumerate(dimensions)
              if (v := averages.get(d)) is not None]
    if len({v for v, _, _ in scored}) <= 1:
        return ()
    return tuple(d for _, _, d in sorted(scored)[:count])


def counting(members: dict[int, tuple[Finished, Finished]]
             ) -> tuple[dict[int, tuple[Finished, Finished]], Counting]:
    """The members whose results go into an aggregate, and the numbers behind that choice.

    Sharing members always count. Averages-only members count in blocks of MIN_GROUP, the
    earliest first finished first: with fewer of them, the aggregate minus the shared rows
    the trainer can read would give their scores away (one of them: exactly), and a block that
    grows one at a time would give away each newcomer's scores between two refreshes."""
    private = sorted((m for m, (_, latest) in members.items() if latest.consent != "share"),
                     key=lambda m: (members[m][0].finished_at is not None,
                                    members[m][0].finished_at, members[m][0].assessment_id, m))
    counted_private = set(private[:len(private) // MIN_GROUP * MIN_GROUP])
    chosen = {m: v for m, v in members.items()
              if v[1].consent == "share" or m in counted_private}
    return chosen, Counting(len(members) - len(private), len(private), len(counted_private))


def counted(members: dict[int, tuple[Finished, Finished]]) -> dict[int, tuple[Finished, Finished]]:
    """The members whose results go into averages (see `counting`)."""
    return counting(members)[0]


def dashboard(rows: Iterable[Finished], dimensions: Sequence[str], indices: Sequence[str],
              joined: int, started: int) -> Dashboard:
    everyone = by_member(rows)
    finished = len(everyone)
    shared = sum(1 for _, latest in everyone.values() if latest.consent == "share")
    members, latest_count = counting(everyone)
    retaking = {m: v for m, v in everyone.items() if v[0].assessment_id != v[1].assessment_id}
    pairs, change_count = counting(retaking)
    average = delta = first = None
    weak: tuple[str, ...] = ()
    if latest_count.visible:
        average = average_of([la.values for _, la in members.values()], dimensions, indices)
        weak = weakest(average.dimensions, dimensions)
        if change_count.visible:
            couples = [(f.values, la.values) for f, la in pairs.values()]
            delta = change(couples, dimensions, indices)
            first = average_of([f for f, _ in couples], dimensions, indices)
    return Dashboard(joined, started, finished, shared, average, weak, len(retaking), delta,
                     first, latest_count, change_count)


def room_average(rows: Iterable[Finished], dimensions: Sequence[str],
                 indices: Sequence[str]) -> Averages | None:
    """The cohort's average of latest results for a participant's chart, while visible."""
    members, count = counting(by_member(rows))
    if not count.visible:
        return None
    return average_of([la.values for _, la in members.values()], dimensions, indices)


# --- the CSV ---------------------------------------------------------------------------------
def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


AGGREGATE_KEYS = ("joined", "started", "finished", "counted", "waiting", "average_latest",
                  "average_start_of_course", "change_start_to_latest", "average_hidden",
                  "change_hidden")


def csv_document(rows: Iterable[Finished], board: Dashboard, dimensions: Sequence[str],
                 indices: Sequence[str], context_ids: Sequence[str],
                 contexts: dict[int, dict[str, tuple[str, ...]]],
                 localise: Callable[[str, str], str],
                 names: Callable[[str], str] | None = None) -> bytes:
    """UTF-8 with a BOM (Excel then reads Chinese correctly), CRLF: one row per finished
    assessment of every participant who agreed to share, then the group figures (averages only
    while visible: see `counting`).

    Two header rows: the columns in the trainer's words (`names` turns a column id, or a key
    of AGGREGATE_KEYS, into words; without it, the ids), then the stable ids. Context answers
    are in the trainer's language (`localise` turns a question id and option id into words),
    several joined with "; ". The group block has its own two header rows: what, how many
    participants, the key (an id of AGGREGATE_KEYS); its score columns are those above.
    """
    name = names or (lambda key: key)
    ids = ["participant", "assessment", "date", "language", "mode", *context_ids,
           *columns(dimensions, indices)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([name(i) for i in ids])
    writer.writerow(ids)
    for r in (r for r in rows if r.consent == "share"):  # by member, in finishing order
        ctx = contexts.get(r.assessment_id, {})
        writer.writerow([
            r.member, r.assessment_id, r.finished_at.strftime("%Y-%m-%d") if r.finished_at
            else "", r.language or "",
            r.mode, *("; ".join(localise(q, o) for o in ctx.get(q, ())) for q in context_ids),
            *(_num(v) for v in r.values),
        ])
    gap = [""] * (2 + len(context_ids))  # language, mode, context columns

    def row(key: str, count: int, a: Averages | None = None) -> list:
        scores = [] if a is None else [
            *(_num(a.dimensions.get(d)) for d in dimensions),
            *(_num(a.indices.get(k)) for k in indices), _num(a.overall)]
        return [name(key), count, key, *(gap if scores else []), *scores]

    latest, changed = board.latest_count, board.change_count
    writer.writerow([])
    writer.writerow([name("aggregate"), name("participants"), name("key")])
    writer.writerow(["aggregate", "participants", "key"])
    writer.writerow(row("joined", board.joined))
    writer.writerow(row("started", board.started))
    writer.writerow(row("finished", board.finished))
    writer.writerow(row("counted", latest.counted))
    writer.writerow(row("waiting", latest.waiting))
    if board.average is None:
        writer.writerow(row("average_hidden", latest.counted))
        return out.getvalue().encode("utf-8-sig")
    writer.writerow(row("average_latest", latest.counted, board.average))
    if board.change is not None and board.first is not None:
        writer.writerow(row("average_start_of_course", changed.counted, board.first))
        writer.writerow(row("change_start_to_latest", changed.counted, board.change))
    else:
        writer.writerow(row("change_hidden", changed.counted))
    return out.getvalue().encode("utf-8-sig")
