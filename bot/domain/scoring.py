"""Scores, levels, confidence, priorities and the 30/60/90-day plan (DESIGN.md, "assessment model").

Deterministic: the same answers and the same bank always give the same result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .bank import NOT_APPLICABLE, UNSURE, Bank, Item, Recommendation
from .context import business_context
from .flow import Answer


@dataclass(frozen=True)
class Priority:
    item_id: str
    dimension: str
    score: int  # the item's (capped) score, 0-3
    answer_option: str  # what the owner answered (for "why")
    recommendation: Recommendation
    value: float
    capped: bool = False  # the evidence check lowered the answer's score to `score`

    @property
    def unsure(self) -> bool:
        return self.answer_option == UNSURE


@dataclass(frozen=True)
class PlanAction:
    phase: str
    priority: Priority


@dataclass(frozen=True)
class Result:
    dimensions: dict[str, float | None]  # 0-100, None when every item was not applicable
    indices: dict[str, float | None]
    overall: float | None
    level: str | None
    dimension_levels: dict[str, str | None]
    blind_spots: tuple[str, ...]  # item ids answered "not sure"
    capped: tuple[str, ...]  # item ids capped by the evidence check
    confidence: str
    priorities: tuple[Priority, ...]
    plan: tuple[PlanAction, ...]
    # The dimensions tied for the highest and for the lowest score, in bank order; both empty
    # when there is no spread (every scored dimension the same, see `even`).
    strongest: tuple[str, ...] = ()
    weakest: tuple[str, ...] = ()
    item_scores: dict[str, int | None] = field(default_factory=dict)
    context: dict[str, tuple[str, ...]] = field(default_factory=dict)  # the answers it fits

    @property
    def even(self) -> bool:
        """Every scored dimension has the same score: no strongest, no weakest."""
        return not self.strongest and any(v is not None for v in self.dimensions.values())

    def as_snapshot(self) -> dict:
        """The part kept with the assessment, for history and cohort views."""
        return {
            "dimensions": self.dimensions,
            "indices": self.indices,
            "overall": self.overall,
            "level": self.level,
        }


def item_score(item: Item, answer: Answer | None, cap: int) -> int | None:
    """0-4; None for "not applicable" or no answer. "Not sure" scores 0."""
    if answer is None or answer.option_id == NOT_APPLICABLE:
        return None
    if answer.option_id == UNSURE:
        return 0
    option = item.option(answer.option_id)
    if option is None:  # an option id removed from the bank since: treat as unknown
        return 0
    if answer.evidence is False:
        return min(option.score, cap)
    return option.score


def _mean(values, ndigits: int | None = 1) -> float | None:
    values = [v for v in values if v is not None]
    if not values:
        return None
    mean = sum(values) / len(values)
    return mean if ndigits is None else round(mean, ndigits)


def level_of(bank: Bank, score: float | None) -> str | None:
    if score is None:
        return None
    current = bank.levels[0].id
    for level in bank.levels:
        if score >= level.minimum:
            current = level.id
    return current


def _level_index(bank: Bank, level_id: str) -> int:
    return [lvl.id for lvl in bank.levels].index(level_id)


def confidence_of(mode: str, applicable: int, unsure: int) -> str:
    """high / medium / low: how far the owner can lean on the figures.

    A quick check (one item per dimension) is at most "medium"; many "not sure" answers lower it.
    """
    if applicable == 0:
        return "low"
    share = unsure / applicable
    label = "high" if share <= 0.125 else "medium" if share <= 0.34 else "low"
    if mode == "quick" and label == "high":
        label = "medium"
    return label


def score(
    bank: Bank, mode: str, answers: dict[str, Answer], context: dict[str, tuple[str, ...]]
) -> Result:
    """Score one assessment. `context` holds the context answers ({question id: option ids});
    only the items that apply to that business count (an item that does not apply leaves the
    denominator like "not applicable")."""
    weights = bank.weights
    items = bank.items_for(mode, business_context(context))
    scores = {i.id: item_score(i, answers.get(i.id), weights.evidence_cap) for i in items}
    dimensions = {
        # 25 x the exact mean, rounded once (rounding the mean first is up to 1.25 points off)
        d: (None if (m := _mean((scores[i.id] for i in items if i.dimension == d), None)) is None
            else round(25 * m, 1))
        for d in bank.dimensions
    }
    indices = {k: _mean(dimensions[d] for d in dims) for k, dims in bank.indices.items()}
    overall = _mean(dimensions.values())
    dimension_levels = {d: level_of(bank, s) for d, s in dimensions.items()}

    level = level_of(bank, overall)
    strongest, weakest = extremes(dimensions, bank.dimensions)
    scored = [d for d in bank.dimensions if dimensions[d] is not None]
    if level is not None and scored:
        # Weakest link: the overall level is at most one above the weakest dimension's.
        lowest = min(scored, key=lambda d: dimensions[d])
        ceiling = _level_index(bank, dimension_levels[lowest]) + 1
        level = bank.levels[min(_level_index(bank, level), ceiling)].id

    blind_spots = tuple(i.id for i in items if (a := answers.get(i.id)) and a.option_id == UNSURE)
    capped = tuple(
        i.id for i in items
        if (a := answers.get(i.id)) and a.evidence is False
        and (o := i.option(a.option_id)) and o.score > weights.evidence_cap
    )
    applicable = sum(1 for s in scores.values() if s is not None)
    ranked = rank_priorities(bank, items, scores, answers, context, dimensions)
    top = top_priorities(ranked, weights.top)
    plan = top + [p for p in ranked if p not in top][: max(0, weights.plan_size - len(top))]
    return Result(
        dimensions=dimensions,
        indices=indices,
        overall=overall,
        level=level,
        dimension_levels=dimension_levels,
        blind_spots=blind_spots,
        capped=capped,
        confidence=confidence_of(mode, applicable, len(blind_spots)),
        priorities=tuple(top),
        plan=plan_of(bank, plan),
        strongest=strongest,
        weakest=weakest,
        item_scores=scores,
        context=dict(context),
    )


def extremes(scores: dict[str, float | None],
             order: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(strongest, weakest): the dimensions tied for the highest and for the lowest score, in
    `order`; ((), ()) when fewer than two different scores exist (all tie, or nothing scored).
    Unscored dimensions (None, or missing) take no part."""
    scored = {d: scores[d] for d in order if scores.get(d) is not None}
    if len(set(scored.values())) < 2:
        return (), ()
    top, bottom = max(scored.values()), min(scored.values())
    return (tuple(d for d, v in scored.items() if v == top),
            tuple(d for d, v in scored.items() if v == bottom))


def lowest(scores: dict[str, float | None], order: tuple[str, ...]) -> str | None:
    """The dimension to work on first: the lowest score, the first in `order` among equals
    (also when all are equal); None when nothing was scored."""
    scored = [d for d in order if scores.get(d) is not None]
    return min(scored, key=lambda d: scores[d]) if scored else None


def _tie_order(bank: Bank) -> dict[str, int]:
    """Dimensions interleaved across the indices (Trust, CX, Trust, CX ...): when priorities and
    dimension scores tie, the report alternates between the two halves of the model instead of
    always starting with the first dimensions of the bank."""
    columns = list(bank.indices.values())
    order = [d for row in zip(*columns, strict=False) for d in row]
    order += [d for d in bank.dimensions if d not in order]
    return {d: n for n, d in enumerate(order)}


def rank_priorities(bank, items, scores, answers, context, dimensions=None) -> list[Priority]:
    """Every candidate improvement, best first: one per item that is not at the top.

    value = gap x importance x ease x foundation (DESIGN.md). A "not sure" answer gets the item's
    "find out" recommendation (gap as for a 0); an answer capped by the evidence check gets the
    step from the capped score. Ties go to the weaker dimension, then to basic practices, then
    alternate between Trust and CX dimensions, then follow the bank's order.
    """
    w = bank.weights
    chosen = set(context.get(bank.priority_context, ()))
    dimensions = dimensions or {}
    tie = _tie_order(bank)
    ranked = []
    for order, item in enumerate(items):
        s = scores[item.id]
        if s is None or s >= 4:
            continue
        answer = answers[item.id]
        unsure = answer.option_id == UNSURE
        rec = item.recommendation_unsure() if unsure else item.recommendation_from(s)
        if rec is None:
            continue
        option = item.option(answer.option_id)
        capped = answer.evidence is False and option is not None and option.score > s
        gap = (4 - s) / 4
        importance = w.importance_chosen if item.dimension in chosen else w.importance_other
        ease = w.ease[rec.effort]
        foundation = w.foundation_basic_low if item.basic and s <= 1 else w.foundation_other
        value = round(gap * importance * ease * foundation, 6)
        weaker = dimensions.get(item.dimension)
        key = (-value, 101.0 if weaker is None else weaker, not item.basic,
               tie.get(item.dimension, 99), order)
        ranked.append((key, Priority(item.id, item.dimension, s, answer.option_id, rec, value,
                                     capped)))
    ranked.sort(key=lambda t: t[0])
    return [p for _, p in ranked]


def top_priorities(ranked: list[Priority], count: int) -> list[Priority]:
    """The best `count`, at most one per dimension (so three Integrity actions never crowd out
    everything else); if fewer dimensions have gaps, the next best of any dimension."""
    picked: list[Priority] = []
    seen: set[str] = set()
    for p in ranked:
        if len(picked) == count:
            break
        if p.dimension not in seen:
            picked.append(p)
            seen.add(p.dimension)
    for p in ranked:
        if len(picked) == count:
            break
        if p not in picked:
            picked.append(p)
    return picked


EFFORT_ORDER = {"small": 0, "medium": 1, "large": 2}


def plan_of(bank: Bank, actions: list[Priority]) -> tuple[PlanAction, ...]:
    """The 30/60/90-day plan: the actions in sequence, quick wins first and the biggest last
    (by size, then by priority), spread over the phases as evenly as possible, earlier phases
    first: 6 actions give 2/2/2, 4 give 2/1/1. Days 1-30 always hold something to do."""
    phases = bank.plan_phases
    ordered = sorted(enumerate(actions),
                     key=lambda t: (EFFORT_ORDER[t[1].recommendation.effort], t[0]))
    base, extra = divmod(len(ordered), len(phases))
    out: list[PlanAction] = []
    cursor = 0
    for n, phase in enumerate(phases):
        size = base + (1 if n < extra else 0)
        out += [PlanAction(phase.id, p) for _, p in ordered[cursor:cursor + size]]
        cursor += size
    return tuple(out)
