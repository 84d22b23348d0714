"""Shared helpers for the domain and content tests: the real content, small hand-built banks."""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

from bot.content import Content, load_content
from bot.domain.bank import (
    Bank,
    ContextQuestion,
    Item,
    Level,
    Option,
    PlanPhase,
    PriorityWeights,
    Recommendation,
    Source,
)
from bot.domain.context import business_context
from bot.domain.flow import Answer

REPO = Path(__file__).resolve().parents[1]
CONTENT_DIR = REPO / "content"
ARTICLES_DIR = CONTENT_DIR / "articles"
SRC = Source("001", "诚信（Integrity）")


@functools.lru_cache(maxsize=1)
def real_content() -> Content:
    """The committed content, loaded and checked once per test session."""
    return load_content(CONTENT_DIR, ARTICLES_DIR)


# The business the conversation tests describe (tests/test_conversation.py answer_context):
# a café with 2-5 people, in person.
CAFE = {"sector": ("cafe",), "team": ("t2_5",), "channels": ("in_person",)}
# How many questions the full assessment asks that café.
FULL_ITEMS = len(real_content().bank.items_for("full", business_context(CAFE)))
QUICK_ITEMS = len(real_content().bank.items_for("quick", business_context(CAFE)))
# The progress line counts every screen: the business questions first.
CONTEXT_SCREENS = len(real_content().bank.context)


def at(number: int, items: int = FULL_ITEMS) -> str:
    """The progress position the question `number` (1-based) shows when no evidence check came
    before it: "5/31" for the first of 27 after the four business questions."""
    return f"{CONTEXT_SCREENS + number}/{CONTEXT_SCREENS + items}"


def option_with(item: Item, wanted: int) -> Option:
    return next(o for o in item.options if o.score == wanted)


def answers_at(bank: Bank, mode: str, wanted: int, evidence: bool | None = None):
    """Every item of a mode answered with its option of score ``wanted``."""
    return {i.id: Answer(option_with(i, wanted).id, evidence) for i in bank.items_for(mode)}


def make_item(
    item_id: str,
    dimension: str,
    efforts: tuple[str, str, str, str] = ("small", "small", "small", "small"),
    *,
    quick: bool = False,
    basic: bool = False,
    evidence: bool = False,
    not_applicable: bool = False,
) -> Item:
    """An item with options o0..o4 (scores 0-4) and one recommendation from each score 0-3."""
    return Item(
        id=item_id,
        dimension=dimension,
        quick=quick,
        basic=basic,
        evidence=evidence,
        not_applicable=not_applicable,
        source=SRC,
        options=tuple(Option(f"o{s}", s) for s in range(5)),
        recommendations=tuple(
            Recommendation(item_id, s, effort, SRC) for s, effort in enumerate(efforts)
        ),
    )


def make_bank(items: list[Item], dimensions: tuple[str, ...] | None = None,
              context: tuple[ContextQuestion, ...] = (), **weights) -> Bank:
    dims = dimensions or tuple(dict.fromkeys(i.dimension for i in items))
    half = max(1, len(dims) // 2)
    return Bank(
        version="test",
        dimensions=dims,
        indices={"trust": dims[:half], "cx": dims[half:] or dims[:half]},
        levels=(Level("reactive", 0), Level("emerging", 25), Level("defined", 50),
                Level("managed", 75), Level("customer_led", 90)),
        context=context,
        items=tuple(items),
        weights=PriorityWeights(**weights),
        plan_phases=(PlanPhase("d30"), PlanPhase("d60"), PlanPhase("d90")),
    )


def run_check(content_dir: Path | None = None, articles_dir: Path = ARTICLES_DIR):
    """``python -m bot content check`` as the operator runs it; returns (exit code, output)."""
    args = [sys.executable, "-m", "bot", "content", "check", "--articles", str(articles_dir)]
    if content_dir is not None:
        args += ["--content", str(content_dir)]
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout, done.stderr
