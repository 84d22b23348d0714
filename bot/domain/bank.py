"""The assessment bank: dimensions, items, options and recommendations, without any wording.

Wording lives in ``content/locales``; the bank holds only ids, scores and weights, so that answers
stored by id stay valid when the text is edited.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

Effort = Literal["small", "medium", "large"]
UNSURE = "unsure"
NOT_APPLICABLE = "na"
RESERVED_OPTION_IDS = frozenset({UNSURE, NOT_APPLICABLE})


@dataclass(frozen=True)
class Source:
    """A passage of a source article: the heading shown to readers and, for the content check,
    a longer quote that backs the advice (both occur word for word in the article)."""

    article: str
    section: str
    quote: str = ""
    key: str = ""  # the passage's key in content/sources.yaml ("" for an inline source)


@dataclass(frozen=True)
class Option:
    id: str
    score: int


UNSURE_LEVEL = "unsure"


@dataclass(frozen=True)
class Recommendation:
    """One step of advice for an item: from a score (0-3) one level up, or, for an owner who
    answered "not sure", a way to find out (``unsure``)."""

    item_id: str
    from_score: int  # 0-3; for the "not sure" recommendation 0 (it starts from nothing known)
    effort: Effort
    source: Source
    covers: tuple[str, ...] = ()
    unsure: bool = False
    adapted: bool = False  # the action goes beyond the cited passage ("in the spirit of")

    @property
    def level(self) -> str:
        """The key of its texts: "unsure" or "0".."3"."""
        return UNSURE_LEVEL if self.unsure else str(self.from_score)

    @property
    def id(self) -> str:
        return f"{self.item_id}.{self.level}"


@dataclass(frozen=True)
class Item:
    id: str
    dimension: str
    quick: bool
    basic: bool
    evidence: bool
    not_applicable: bool
    source: Source
    options: tuple[Option, ...]
    recommendations: tuple[Recommendation, ...]
    covers: tuple[str, ...] = ()
    # When the item is asked: a predicate over the business context (bot/domain/context.py);
    # None asks it of everyone. Built from the content's `applies` expression.
    applies: Callable[[Mapping[str, object]], bool] | None = field(default=None, compare=False)

    def option(self, option_id: str) -> Option | None:
        return next((o for o in self.options if o.id == option_id), None)

    def recommendation_from(self, score: int) -> Recommendation | None:
        return next((r for r in self.recommendations
                     if r.from_score == score and not r.unsure), None)

    def recommendation_unsure(self) -> Recommendation | None:
        """The "find out" step for a "not sure" answer; the level-0 one where there is none."""
        return next((r for r in self.recommendations if r.unsure), None) \
            or self.recommendation_from(0)

    def applies_to(self, context: Mapping[str, object]) -> bool:
        return self.applies is None or bool(self.applies(context))


@dataclass(frozen=True)
class ContextQuestion:
    id: str
    multi: bool
    options: tuple[str, ...]
    max_choices: int = 1
    min_choices: int = 1


@dataclass(frozen=True)
class Level:
    id: str
    minimum: float


@dataclass(frozen=True)
class PriorityWeights:
    importance_chosen: float = 1.5
    importance_other: float = 1.0
    ease: dict[str, float] = field(
        default_factory=lambda: {"small": 1.0, "medium": 0.8, "large": 0.6}
    )
    foundation_basic_low: float = 1.3
    foundation_other: float = 1.0
    evidence_cap: int = 2
    top: int = 3
    plan_size: int = 6


@dataclass(frozen=True)
class PlanPhase:
    id: str


@dataclass(frozen=True)
class Bank:
    version: str
    dimensions: tuple[str, ...]
    indices: dict[str, tuple[str, ...]]
    levels: tuple[Level, ...]
    context: tuple[ContextQuestion, ...]
    items: tuple[Item, ...]
    weights: PriorityWeights
    plan_phases: tuple[PlanPhase, ...]
    priority_context: str = "priorities"

    def item(self, item_id: str) -> Item | None:
        return self._items_by_id.get(item_id)

    @property
    def _items_by_id(self) -> dict[str, Item]:
        cached = self.__dict__.get("_items_cache")
        if cached is None:
            cached = {i.id: i for i in self.items}
            object.__setattr__(self, "_items_cache", cached)
        return cached

    def candidates(self, mode: str) -> tuple[Item, ...]:
        """The items a mode may ask, in the order of their steps. Full: every item. Quick: per
        dimension its quick item, then the others as stand-ins for a business the quick item
        does not apply to (see `items_for`)."""
        cached = self.__dict__.setdefault("_candidates", {})
        if mode not in cached:
            if mode == "quick":
                cached[mode] = tuple(
                    i for d in self.dimensions
                    for i in sorted((i for i in self.items if i.dimension == d),
                                    key=lambda i: not i.quick))
            else:
                cached[mode] = self.items
        return cached[mode]

    def items_for(self, mode: str, context: Mapping[str, object] | None = None,
                  ) -> tuple[Item, ...]:
        """The items asked of this business in a mode, in step order.

        `context` is the business context (`bot.domain.context.business_context`); None asks
        as if every item applied. Quick: the first applicable candidate of each dimension.
        """
        out = []
        seen: set[str] = set()
        for item in self.candidates(mode):
            if context is not None and not item.applies_to(context):
                continue
            if mode == "quick":
                if item.dimension in seen:
                    continue
                seen.add(item.dimension)
            out.append(item)
        return tuple(out)

    def dimension_of_index(self, index_id: str) -> tuple[str, ...]:
        return self.indices[index_id]
