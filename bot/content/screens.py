"""Every screen of the assessment on a phone, for `content check`: each must fit one phone view
and show every button title whole (layout.py has the phone), and the welcome's time promises
must be what the reading-speed model computes.

Item texts are templates over the business, so every item is rendered for every business of the
persona matrix (lint.yaml `personas`), once per distinct combination of the variables its
question, options and labels read, with each answer marked as chosen (Back shows the earlier
answer with a ✓, which widens its button) and with its evidence check for each answer that asks
for one. The progress line is the widest the assessment can show ("▰▰▰▰▰▰▰▰▰▰ 58/58 · about
15 min left"). Business questions are measured with every option ticked, the retake's review
with the longest answers.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateError, meta
from markupsafe import Markup

from bot.domain.bank import NOT_APPLICABLE, UNSURE
from bot.domain.flow import (
    AssessmentState,
    ContextView,
    EvidenceView,
    Flow,
    ItemView,
    ReviewView,
    Step,
)

from . import layout
from .loader import Content, Problem
from .render import Renderer, Screen

PROMISE_TOLERANCE_MINUTES = 1  # the welcome's "~8 min" may differ from the model by this much
_MINUTES = re.compile(r"(\d+)")


@dataclass(frozen=True)
class Shown:
    """One screen as the check measured it."""

    locale: str
    where: str  # item id, context question id, "review"
    business: str  # the business it was rendered for ("" when it does not depend on one)
    screen: Screen
    measure: layout.Measure


def _widest_line(r: Renderer) -> Markup:
    bar = r.progress(58, 58)
    return r.message("progress_line", bar=bar, number=58, total=58,
                     left=r.message("time_left", count=15))


def _variables(r: Renderer, item_id: str, paths: list[str]) -> list[str]:
    names: set[str] = set()
    for path in paths:
        node: Any = r.items[item_id]
        for part in path.split("."):
            node = node[part] if isinstance(node, dict) else getattr(node, part)
        try:
            names |= meta.find_undeclared_variables(r.content.env.parse(str(node)))
        except TemplateError:
            continue  # reported by the loader
    return sorted(names)


def _describe(answers: dict[str, tuple[str, ...]]) -> str:
    return ", ".join(f"{k} {'+'.join(v)}" for k, v in answers.items())


def _measured(r: Renderer, where: str, business: str, screen: Screen) -> Shown:
    rows = [[b.label for b in row] for row in screen.buttons]
    return Shown(r.locale, where, business, screen, layout.measure(screen.text, rows, r.locale))


def screens(content: Content, businesses: list[dict[str, tuple[str, ...]]]) -> Iterator[Shown]:
    """Every distinct screen of the current content in every locale, measured."""
    bank = content.bank
    for locale in content.texts:
        r = Renderer(content, locale)
        line = _widest_line(r)
        flow = Flow(bank, "full")
        for item in bank.items:
            step = next(s for s in flow.steps if s.item is not None and s.item.id == item.id)
            text = r.items[item.id]
            paths = ["question", "check"] if text.check else ["question"]
            paths += [f"options.{o}.{f}" for o in text.options for f in ("text", "label")]
            names = _variables(r, item.id, paths)
            seen: set[tuple] = set()
            for answers in businesses:
                business = r.business(answers)
                if not item.applies_to(business):
                    continue
                key = tuple(repr(business.get(n)) for n in names)
                if key in seen:
                    continue
                seen.add(key)
                yield from _item_screens(r, step, item, business, line, _describe(answers))
        for question in bank.context:
            step = next(s for s in flow.steps if s.context is not None
                        and s.context.id == question.id)
            chosen = question.options[:question.max_choices] if question.multi else \
                question.options[:1]
            view = ContextView(step, tuple(chosen), step.position, len(bank.context))
            yield _measured(r, question.id, "", r._context(view, line, True, False))
        widest = {q.id: q.options[:q.max_choices] for q in bank.context}
        review = ReviewView(flow.steps[0], widest)
        yield _measured(r, "review", "", r._review(review, line))


def _item_screens(r: Renderer, step: Step, item, business, line, described: str):
    chosen = [None, UNSURE] + [o.id for o in item.options]
    if item.not_applicable:
        chosen.append(NOT_APPLICABLE)
    for option_id in chosen:
        view = ItemView(step, option_id, 1, 1)
        yield _measured(r, item.id, described, r._item(view, business, line, True))
    if item.evidence:
        for option in item.options:
            if option.score >= 3:
                view = EvidenceView(step, option.id, 1, 1)
                yield _measured(r, item.id, described, r._evidence(view, business, line, True))


def phone_problems(content: Content, businesses: list[dict[str, tuple[str, ...]]]) -> list[Problem]:
    """Screens taller than the phone's view or with a button title Telegram would cut."""
    with content.env.compile_once():  # the same wording for every business
        return _phone_problems(content, businesses)


def _phone_problems(content: Content, businesses: list[dict[str, tuple[str, ...]]]
                    ) -> list[Problem]:
    problems = []
    reported: set[tuple] = set()
    for shown in screens(content, businesses):
        m = shown.measure
        if m.fits or (shown.locale, shown.where) in reported:
            continue
        reported.add((shown.locale, shown.where))  # one problem per item and locale
        path = f"locales/{shown.locale}"
        what = []
        if m.height > layout.VISIBLE_HEIGHT:
            what.append(f"{m.height:.0f} px tall, the phone shows {layout.VISIBLE_HEIGHT} "
                        f"({m.text_lines} lines of text, {m.rows} rows of buttons)")
        if m.cut:
            what.append("button titles cut: " + "; ".join(repr(c) for c in m.cut))
        for_whom = f" for {shown.business}" if shown.business else ""
        problems.append(Problem(path, shown.where, "phone", ", ".join(what) + for_whom))
    return problems


# --- the time promise --------------------------------------------------------------------------
def typical_minutes(content: Content, locale: str, mode: str,
                    businesses: list[dict[str, tuple[str, ...]]]) -> float:
    """The median time, minutes, the model gives a whole assessment over the businesses."""
    r = Renderer(content, locale)
    flow = Flow(content.bank, mode)
    values = []
    for answers in businesses:
        state = AssessmentState(0, mode, flow.first_context, False, dict(answers), {})
        values.append(r.seconds_left(flow, state, flow.progress(state)) / 60)
    return statistics.median(values)


def promised_minutes(content: Content, locale: str, mode: str) -> int | None:
    """The minutes the welcome's button for `mode` promises ("Full assessment (~8 min)")."""
    found = _MINUTES.search(str(content.texts[locale].ui["buttons"][mode]))
    return int(found.group(1)) if found else None


def promise_problems(content: Content,
                     businesses: list[dict[str, tuple[str, ...]]]) -> list[Problem]:
    problems = []
    for locale in content.texts:
        for mode in ("full", "quick"):
            model = typical_minutes(content, locale, mode, businesses)
            promised = promised_minutes(content, locale, mode)
            if promised is None or abs(promised - model) > PROMISE_TOLERANCE_MINUTES:
                problems.append(Problem(
                    f"locales/{locale}/ui.yaml", f"buttons.{mode}", "time promise",
                    f"promises {promised} min, the reading-speed model gives {model:.1f} "
                    f"(median over {len(businesses)} businesses: layout.reading_seconds)"))
    return problems


