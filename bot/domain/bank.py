"""The assessment bank: dimensions, items, options and recommendations, without any wording.

Wording lives in ``content/locales``; the bank holds only ids, scores and weights, so that answers
stored by id stay valid when the text is edited.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Effort = Literal["small", "medium", "large"]
UNSURE = "unsure"
NOT_APPLICABLE = "na"
RESERVED_OPTION_IDS = frozenset({UNSURE, NOT_APPLICABLE})


@dataclass(frozen=True)
class Source:
    article: str
    section: str


@dataclass(frozen=True)
class Option:
    id: str
    score: int


@dataclass(frozen=True)
class Recommendation:
    item_id: str
    from_score: int
    effort: Effort
    source: Source
    covers: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.item_id}.{self.from_score}"


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

    def option(self, option_id: str) -> Option | None:
        return next((o for o in self.options if o.id == option_id), None)

    def recommendation_from(self, score: int) -> Recommendation | None:
        return next((r for r in self.recommendations if r.from_score == score), None)


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
    plan_phase_capacity: int = 3


@dataclass(frozen=True)
class PlanPhase:
    id: str
    effort: Effort


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

    def items_for(self, mode: str) -> tuple[Item, ...]:
        """The items asked in a mode, in bank order: all of them, or one per dimension."""
        if mode == "quick":
            return tuple(i for i in self.items if i.quick)
        return self.items

    def dimension_of_index(self, index_id: str) -> tuple[str, ...]:
        return self.indices[index_id]
