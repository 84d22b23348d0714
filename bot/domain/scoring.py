"""Scores, levels, confidence, priorities and the 30/60/90-day plan (DESIGN.md, "assessment model").

Deterministic: the same answers and the same bank always give the same result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .bank import NOT_APPLICABLE, UNSURE, Bank, Item, Recommendation
from .flow import Answer


@dataclass(frozen=True)
class Priority:
    item_id: str
    dimension: str
    score: int  # the item's (capped) score, 0-3
    answer_option: str  # what the owner answered (for "why")
    recommendation: Recommendation
    value: float


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
    weights = bank.weights
    items = bank.items_for(mode)
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
    priorities = rank_priorities(bank, items, scores, answers, context)
    return Result(
        dimensions=dimensions,
        indices=indices,
        overall=overall,
        level=level,
        dimension_levels=dimension_levels,
        blind_spots=blind_spots,
        capped=capped,
        confidence=confidence_of(mode, applicable, len(blind_spots)),
        priorities=tuple(priorities[: weights.top]),
        plan=plan_of(bank, priorities[: weights.plan_size]),
        strongest=strongest,
        weakest=weakest,
        item_scores=scores,
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


def rank_priorities(bank, items, scores, answers, context) -> list[Priority]:
    """priority = gap x importance x ease x foundation, one candidate per item, best first."""
    w = bank.weights
    chosen = set(context.get(bank.priority_context, ()))
    ranked = []
    for order, item in enumerate(items):
        s = scores[item.id]
        if s is None or s >= 4:
            continue
        rec = item.recommendation_from(s)
        if rec is None:
            continue
        gap = (4 - s) / 4
        importance = w.importance_chosen if item.dimension in chosen else w.importance_other
        ease = w.ease[rec.effort]
        foundation = w.foundation_basic_low if item.basic and s <= 1 else w.foundation_other
        value = round(gap * importance * ease * foundation, 6)
        option = answers[item.id].option_id
        ranked.append((-value, order, Priority(item.id, item.dimension, s, option, rec, value)))
    ranked.sort(key=lambda t: (t[0], t[1]))
    return [p for _, _, p in ranked]


def plan_of(bank: Bank, priorities: list[Priority]) -> tuple[PlanAction, ...]:
    """Put each action in the phase of its size; a full phase passes the rest to the next one."""
    phases = bank.plan_phases
    capacity = bank.weights.plan_phase_capacity
    filled: dict[str, list[Priority]] = {p.id: [] for p in phases}
    for priority in priorities:
        start = next(
            (n for n, ph in enumerate(phases) if ph.effort == priority.recommendation.effort), 0
        )
        for n in range(start, len(phases)):
            if len(filled[phases[n].id]) < capacity or n == len(phases) - 1:
                filled[phases[n].id].append(priority)
                break
    return tuple(PlanAction(ph.id, p) for ph in phases for p in filled[ph.id])
