"""Cohorts for trainers, the pure part: join codes, names, the dashboard's numbers and the CSV.

No Telegram and no database here. The input is the score snapshots stored on finished
assessments (``Result.as_snapshot()``: dimensions, indices, overall), never the answers, so a
dashboard of 10,000 participants is one query plus a pass over plain dicts.

Privacy rules, enforced here and nowhere else:
- aggregates (averages, weakest areas, the CSV's aggregate block, the participants' overlay) only
  when at least MIN_GROUP participants have finished;
- the start-of-course vs latest change only when at least MIN_GROUP participants have two results;
- individual rows only for participants whose consent is "share".
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


def qr_png(data: str, pixels: int = 1200) -> bytes:
    """A QR code of `data` as a PNG about `pixels` wide: sharp enough for a slide or a print.
    Slow-ish (tens of ms): adapters call it in a worker thread."""
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=10, border=4)
    qr.add_data(data)
    qr.make(fit=True)
    qr.box_size = max(10, pixels // (qr.modules_count + 2 * qr.border))
    buffer = io.BytesIO()
    qr.make_image(fill_color="black", back_color="white").save(buffer, format="PNG")
    return buffer.getvalue()


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
class Dashboard:
    joined: int
    started: int
    finished: int  # participants with at least one finished assessment
    shared: int  # of those, how many agreed to share their rows
    average: Averages | None  # each participant's latest result; None below MIN_GROUP
    weakest: tuple[str, ...] = ()
    retakers: int = 0  # participants with two results or more
    change: Averages | None = None  # latest minus first; None below MIN_GROUP retakers
    first: Averages | None = field(default=None, repr=False)
    held_back: int = 0  # "aggregates only" participants not counted yet (fewer than MIN_GROUP)

    @property
    def visible(self) -> bool:
        return self.average is not None


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


def average(vectors: Sequence[tuple], dimensions: Sequence[str],
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
    """The lowest averages (ties in the bank's order); dimensions without a value are skipped."""
    scored = [(v, n, d) for n, d in enumerate(dimensions)
              if (v := averages.get(d)) is not None]
    return tuple(d for _, _, d in sorted(scored)[:count])


def counted(members: dict[int, tuple[Finished, Finished]]) -> dict[int, tuple[Finished, Finished]]:
    """The members whose results go into averages. Those who chose "aggregates only" count
    once there are at least MIN_GROUP of them: with fewer, the averages minus the shared rows
    the trainer can read would reveal their scores (one of them: exactly)."""
    private = [m for m, (_, latest) in members.items() if latest.consent != "share"]
    if 0 < len(private) < MIN_GROUP:
        return {m: v for m, v in members.items() if m not in set(private)}
    return members


def dashboard(rows: Iterable[Finished], dimensions: Sequence[str], indices: Sequence[str],
              joined: int, started: int) -> Dashboard:
    everyone = by_member(rows)
    finished = len(everyone)
    shared = sum(1 for _, latest in everyone.values() if latest.consent == "share")
    members = counted(everyone)
    if len(members) < MIN_GROUP:
        return Dashboard(joined, started, finished, shared, None,
                         held_back=finished - len(members))
    latest = average([la.values for _, la in members.values()], dimensions, indices)
    pairs = [(f.values, la.values) for f, la in members.values()
             if f.assessment_id != la.assessment_id]
    delta = first = None
    if len(pairs) >= MIN_GROUP:
        delta = change(pairs, dimensions, indices)
        first = average([f for f, _ in pairs], dimensions, indices)
    return Dashboard(joined, started, finished, shared, latest,
                     weakest(latest.dimensions, dimensions), len(pairs), delta, first,
                     held_back=finished - len(members))


def room_average(rows: Iterable[Finished], dimensions: Sequence[str],
                 indices: Sequence[str]) -> Averages | None:
    """The cohort's average of latest results for a participant's chart, from MIN_GROUP up."""
    members = counted(by_member(rows))
    if len(members) < MIN_GROUP:
        return None
    return average([la.values for _, la in members.values()], dimensions, indices)


# --- the CSV ---------------------------------------------------------------------------------
def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def csv_document(rows: Iterable[Finished], board: Dashboard, dimensions: Sequence[str],
                 indices: Sequence[str], context_ids: Sequence[str],
                 contexts: dict[int, dict[str, tuple[str, ...]]],
                 localise: Callable[[str, str], str]) -> bytes:
    """UTF-8 with a BOM (Excel then reads Chinese correctly): one row per finished assessment of
    every participant who agreed to share, then an aggregate block (shown from MIN_GROUP up).

    Headers are stable English ids; context answers are in the trainer's language (`localise`
    turns a question id and option id into words), several answers joined with "; ".
    """
    header = ["participant", "assessment", "date", "language", "mode", *context_ids,
              *columns(dimensions, indices)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for r in (r for r in rows if r.consent == "share"):  # by member, in finishing order
        ctx = contexts.get(r.assessment_id, {})
        writer.writerow([
            r.member, r.assessment_id, r.finished_at.strftime("%Y-%m-%d") if r.finished_at
            else "", r.language or "",
            r.mode, *("; ".join(localise(q, o) for o in ctx.get(q, ())) for q in context_ids),
            *(_num(v) for v in r.values),
        ])
    gap = [""] * (3 + len(context_ids))  # date, language, mode, context columns

    def block(label: str, a: Averages) -> list:
        return [label, a.participants, *gap, *(_num(a.dimensions.get(d)) for d in dimensions),
                *(_num(a.indices.get(k)) for k in indices), _num(a.overall)]

    writer.writerow([])
    writer.writerow(["aggregate", "participants"])
    writer.writerow(["joined", board.joined])
    writer.writerow(["started", board.started])
    writer.writerow(["finished", board.finished])
    if board.average is None:
        writer.writerow([f"average_hidden_below_{MIN_GROUP}_finished", board.finished])
    else:
        writer.writerow(block("average_latest", board.average))
        if board.change is not None and board.first is not None:
            writer.writerow(block("average_start_of_course", board.first))
            writer.writerow(block("change_start_to_latest", board.change))
        else:
            writer.writerow([f"change_hidden_below_{MIN_GROUP}_retakers", board.retakers])
    return out.getvalue().encode("utf-8-sig")
