"""The full report's words, ready to lay out: plain text in the reader's language, no markup.

Renderer.report_document builds it (all wording from content/); bot/content/pdf.py lays it out
as an A4 PDF. Plain frozen dataclasses of strings and numbers, so a ReportDocument can be sent
to the chart process (pickled) and rendered there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class IndexLine:
    name: str  # "Trust Index"
    score: str  # "42", or the locale's "n/a"
    explained: str  # one line: what it measures


@dataclass(frozen=True)
class AnswerRow:
    question: str  # the item's short label
    answer: str  # the option's short label, "Not sure", "Not applicable" or "-"
    points: int | None  # 0-4 as counted (after the evidence check); None: not applicable
    unsure: bool = False
    capped: bool = False


@dataclass(frozen=True)
class DimensionSection:
    name: str
    score: str  # "62", or "n/a"
    percent: float  # 0-100, for the bar (0 when not scored)
    level_id: str | None  # a model.yaml level id: picks the colour; None when not scored
    heading_score: str  # "62/100 · Defined"
    blurb: str
    rows: tuple[AnswerRow, ...]
    notes: tuple[str, ...]  # not-sure and counted-lower notes, one line each


@dataclass(frozen=True)
class PlanStep:
    number: int  # 1-based, in plan order (the gap priority: 1 of its own section)
    title: str
    meta: str  # "Integrity · small effort"
    top: bool  # one of the report's top priorities
    why: str  # "Why: You answered ..."
    what: str
    first_step: str
    metric: str
    source: int  # the number of its entry in ReportDocument.sources (1-based)
    source_ref: str  # "Source [3]"


@dataclass(frozen=True)
class Phase:
    title: str
    intro: str
    actions: tuple[PlanStep, ...]


@dataclass(frozen=True)
class ViewsTable:
    """The 360° section: the owner's scores beside the team's and customers' averages."""

    title: str
    intro: str
    columns: tuple[str, ...]  # dimension, you, team, customers, gap
    rows: tuple[tuple[str, ...], ...]  # per dimension, the columns' values ("–": not shown)
    gap: PlanStep | None  # the gap priority's advice, when the gap is real


@dataclass(frozen=True)
class ReportDocument:
    locale: str  # a content locale: picks the font design (bot.fonts.region_for)
    labels: dict[str, str]  # the plain labels the layout prints (question, answer ...)
    title: str
    prepared: str  # "2026-11-30 · Full assessment"
    business_title: str
    business: tuple[tuple[str, str], ...]  # (context question's short name, the answers)
    overall_label: str
    overall: str  # "38", or "n/a"
    out_of: str  # "/100"
    level_id: str | None
    level: str  # "Level: Emerging"
    level_meaning: str  # one sentence
    indices: tuple[IndexLine, ...]
    confidence: str
    chart_caption: str
    dimensions_title: str
    dimensions_intro: str
    sections: tuple[DimensionSection, ...]
    plan_title: str
    plan_intro: str
    phases: tuple[Phase, ...]
    sources_title: str
    sources_intro: str
    sources: tuple[str, ...]  # citations in the reader's language, numbered from 1
    page_label: str  # a template with {page} and {pages}: "{page} / {pages}"
    layout: dict[str, Any]  # content/templates/report-pdf.yaml: sizes, colours, margins
    views: ViewsTable | None = None  # the team's and customers' views (the 360° check)
