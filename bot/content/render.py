"""Turn domain objects into Telegram-HTML texts and abstract buttons, in one locale.

Both adapters use this: Telegram sends the HTML as it is, the console strips the markup. Buttons
carry an abstract action tuple; each adapter encodes it its own way (callback data, a number).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton, get_timezone_gmt, get_timezone_location
from jinja2 import TemplateError, meta
from markupsafe import Markup

from bot.domain.bank import NOT_APPLICABLE, UNSURE, Source
from bot.domain.context import business_context
from bot.domain.feedback import Gap, Release, gaps
from bot.domain.flow import (
    MAYBE_CHECK,
    SCREEN,
    Answer,
    AssessmentState,
    ContextView,
    DoneView,
    EvidenceView,
    Flow,
    ItemView,
    Progress,
    ReviewView,
)
from bot.domain.scoring import PlanAction, Priority, Result, score

from . import layout
from .document import (
    AnswerRow,
    DimensionSection,
    IndexLine,
    Phase,
    PlanStep,
    ReportDocument,
    ViewsTable,
)
from .loader import PLAIN_UI_PREFIXES, Content, Problem, babel_locale, is_plural
from .pdf import load_layout

Action = tuple


# Texts kept per content (item_text): a bound, far above a few hundred businesses'
# questions, so a flood of odd businesses cannot grow memory without end.
MEMO_LIMIT = 100_000
# Screens kept per content (_memo), ~3 KB each: the newest 4,000 (~12 MB), the questions of
# about 50 businesses in each locale; the oldest make room.
SCREEN_MEMO_LIMIT = 4_000
# Where a kept screen's progress line goes: the line changes with every owner's pace (time
# left), the rest of a question's screen does not. Safe HTML that no text of ours contains.
PROGRESS_SLOT = Markup("\x00progress\x00")


@dataclass(frozen=True)
class Button:
    label: str
    action: Action
    url: str | None = None  # a link button (opens `url`; no action reaches the bot)


@dataclass(frozen=True)
class Screen:
    text: str
    buttons: tuple[tuple[Button, ...], ...] = field(default_factory=tuple)


def _lookup(tree: dict, dotted: str) -> Any:
    node: Any = tree
    for part in dotted.split("."):
        node = node[part]
    return node


def fmt_score(value: float | None, na: str) -> str:
    return na if value is None else f"{value:.0f}"


class Renderer:
    BAR_CELLS = 10

    def __init__(self, content: Content, locale: str, version: str | None = None):
        """Texts of one locale; item texts of one content version (None: the current one)."""
        self.content = content
        self.texts = content.locale(locale)
        self.locale = self.texts.locale
        self.version = version if version in content.archived else content.bank.version
        self.bank = content.bank_for(self.version)
        self.items = self.texts.items_of(self.version)
        self._cache: dict[str, Any] = content.__dict__.setdefault("_compiled", {})

    # --- strings -----------------------------------------------------------------------------
    def message(self, key: str, **ctx: Any) -> Markup:
        """A ui.yaml message rendered as Telegram HTML (variables escaped), safe to embed.

        A message with plural forms (a mapping of CLDR categories: one, few, other, ...) takes
        the form of `count` under this locale's plural rules (Babel's CLDR data); KeyError when
        `count` is missing."""
        node = _lookup(self.texts.ui, key)
        variant = ""
        if is_plural(node):
            category = self.plural(ctx["count"])
            variant = category if category in node else "other"
            node = node[variant]
        cache_key = f"{self.locale}:{key}:{variant}"
        template = self._cache.get(cache_key)
        if template is None:
            template = self.content.env.from_string(str(node))
            self._cache[cache_key] = template
        return Markup(template.render(**ctx).strip())

    def plural(self, count: float) -> str:
        """The CLDR plural category of `count` in this locale: "one", "other", ..."""
        return babel_locale(self.locale).plural_form(abs(count))

    # --- dates, times and zones, in the locale's own formats (CLDR via Babel) ---------------
    def local_date(self, moment: datetime, where: ZoneInfo) -> str:
        """Weekday, day and month where the user is: "Tue, December 1", "12月1日周二"."""
        return format_skeleton("MMMMEEEEd", moment, tzinfo=where,
                               locale=babel_locale(self.locale))

    def local_time(self, moment: datetime, where: ZoneInfo) -> str:
        """Hours and minutes on a 24-hour clock where the user is: "10:00"."""
        return format_skeleton("Hm", moment, tzinfo=where, locale=babel_locale(self.locale))

    def zone_name(self, name: str) -> str:
        """A time zone as users know it: its city ("Shanghai", "上海"), or its offset
        ("GMT+08:00") for a fixed-offset zone."""
        if name == "UTC" or name.startswith("Etc/"):
            return get_timezone_gmt(datetime.now(UTC).astimezone(ZoneInfo(name)),
                                    locale=babel_locale(self.locale))
        return get_timezone_location(name, locale=babel_locale(self.locale), return_city=True)

    def names(self, dimensions) -> str:
        """Dimension names joined as a list in this language ("A, B", "A、B")."""
        return self.label("names_separator").join(self.dimension(d) for d in dimensions)

    def button(self, key: str) -> str:
        return str(self.texts.ui["buttons"][key])

    def label(self, key: str) -> str:
        return str(self.texts.ui["labels"][key])

    def model(self, dotted: str) -> str:
        return str(_lookup(self.texts.model, dotted))

    def dimension(self, d: str) -> str:
        return self.model(f"dimensions.{d}.name")

    def level(self, level_id: str | None) -> str:
        return self.label("not_applicable") if level_id is None else self.model(
            f"levels.{level_id}.name")

    # --- item texts: Jinja2 templates over the business --------------------------------------
    def business(self, context: dict[str, tuple[str, ...]] | None,
                 staff: bool = False) -> dict[str, Any]:
        """The variables of item texts: the business context plus the trade's words (`v`);
        `staff` for a staff member answering about the business."""
        values = business_context(context, staff)
        words = self.texts.model.get("sectors", {})
        values["v"] = words.get(values["sector"]) or words.get("other") or {}
        return values

    def item_text(self, item_id: str, path: str, business: dict[str, Any]) -> Markup:
        """One text of an item (`question`, `check`, `label`, `options.<id>.text`,
        `recommendations.<level>.title` ...) rendered for this business; safe HTML.

        The texts of a question screen are kept per business (keyed by the variables they
        read): a tap renders the same question for the same business again."""
        if path.startswith("recommendations."):
            return self._item_text(item_id, path, business)
        memo = self.content.__dict__.setdefault("_item_texts", {})
        key = (self.locale, self.version, item_id, path,
               tuple(repr(business.get(n)) for n in self._reads(item_id)))
        text = memo.get(key)
        if text is None:
            text = self._item_text(item_id, path, business)
            if len(memo) < MEMO_LIMIT:
                memo[key] = text
        return text

    def _item_text(self, item_id: str, path: str, business: dict[str, Any]) -> Markup:
        key = f"{self.locale}:{self.version}:{item_id}:{path}"
        template = self._cache.get(key)
        if template is None:
            node: Any = self.items[item_id]
            for part in path.split("."):
                node = node[part] if isinstance(node, dict) else getattr(node, part)
            template = self.content.env.from_string(str(node))
            self._cache[key] = template
        return Markup(" ".join(template.render(**business).split()))

    def option_text(self, item_id: str, option_id: str, business: dict[str, Any] | None = None,
                    label: bool = False) -> str:
        """What an answer said (its full text, or its short `label`)."""
        if option_id == UNSURE:
            return self.button("unsure")
        if option_id == NOT_APPLICABLE:
            return self.button("na")
        if option_id not in self.items[item_id].options:
            return option_id  # an option removed since: its id is all we have
        return self.item_text(item_id, f"options.{option_id}.{'label' if label else 'text'}",
                              business or self.business(None))

    def item_label(self, item_id: str, business: dict[str, Any] | None = None) -> str:
        return self.item_text(item_id, "label", business or self.business(None))

    def context_option(self, question_id: str, option_id: str) -> str:
        return self.model(f"context.{question_id}.options.{option_id}")

    def source(self, src: Source, adapted: bool = False) -> str:
        """A citation in the reader's language. zh-Hant cites the traditional copy where there
        is one (003 for 001); en gives the section in English with the original beside it."""
        article, section, original = src.article, src.section, ""
        passage = self.content.passages.get(src.key) if src.key else None
        if passage is not None and self.locale == "zh-Hant" and passage.hant is not None:
            article, section = passage.hant.article, passage.hant.section
        elif passage is not None and self.locale != "zh-Hans":
            translated = self.texts.sources.get(src.key)
            if translated and translated != section:
                section, original = translated, (section if self.locale == "en" else "")
        title = self.model(f"articles.{article}") if article in self.texts.model.get(
            "articles", {}) else ""
        return self.message("source", article=article, title=title, section=section,
                            original=original, adapted=adapted)

    def bar(self, value: float | None, full_key: str = "bar") -> str:
        full, empty = self.texts.ui[full_key]["full"], self.texts.ui[full_key]["empty"]
        cells = 0 if value is None else round(self.BAR_CELLS * value / 100)
        return full * cells + empty * (self.BAR_CELLS - cells)

    def progress(self, number: int, total: int) -> str:
        """The progress bar of screen `number` of `total`: at least one cell from the first
        screen on (an empty bar reads as "nothing yet"), all ten on the last."""
        cells = min(self.BAR_CELLS, max(1, round(self.BAR_CELLS * number / total))) \
            if total else 0
        full, empty = self.texts.ui["progress"]["full"], self.texts.ui["progress"]["empty"]
        return full * cells + empty * (self.BAR_CELLS - cells)

    # --- the assessment ----------------------------------------------------------------------
    def step(self, flow: Flow, state: AssessmentState) -> Screen:
        view = flow.view(state)
        if isinstance(view, DoneView):
            return Screen(self.message("report_ready"))
        progress = flow.progress(state)
        line = self.progress_line(flow, state, progress)
        back = flow.previous_position(state, state.cursor) is not None
        if isinstance(view, ReviewView):
            return self._review(view, line)
        if isinstance(view, ContextView):
            return self._context(view, line, back, detour=progress.number is None)
        business = self.business(state.context, state.staff)
        if isinstance(view, ItemView):
            return self._item(view, business, line, back)
        assert isinstance(view, EvidenceView)
        return self._evidence(view, business, line, back)

    # The progress line: "▰▰▰▱▱▱▱▱▱▱ 9/33 · about 6 min left".
    def progress_line(self, flow: Flow, state: AssessmentState, progress: Progress) -> Markup:
        left = layout.minutes(self.seconds_left(flow, state, progress))
        return self._memo(("progress", self.locale, progress.number, progress.total, left),
                          lambda: self._progress_line(progress.number, progress.total, left))

    def _progress_line(self, number: int | None, total: int, left: int) -> Markup:
        if number is None:  # a retake's optional business questions: time only
            return self.message("time_left", count=left)
        return self.message("progress_line", bar=self.progress(number, total),
                            number=number, total=total,
                            left=self.message("time_left", count=left))

    @staticmethod
    def _with_line(screen: Screen, line: str) -> Screen:
        """A kept screen with this owner's progress line in its slot (PROGRESS_SLOT: the
        templates print `progress` as it is, so the line is set in afterwards, not kept)."""
        return Screen(screen.text.replace(PROGRESS_SLOT, str(line)), screen.buttons)

    def _memo(self, key: tuple, make: Callable[[], Any]) -> Any:
        """A screen part kept per content (`key` names everything it depends on): many people
        see the same question, for the same business, at the same point of the same flow."""
        memo = self.content.__dict__.setdefault("_screens", {})
        value = memo.get(key)
        if value is None:
            value = make()
            if len(memo) >= SCREEN_MEMO_LIMIT:  # the oldest goes: a bound on memory
                memo.pop(next(iter(memo)))
            memo[key] = value
        return value

    def seconds_left(self, flow: Flow, state: AssessmentState, progress: Progress) -> float:
        """The time the screens from the one on show to the end take to read and tap
        (layout.reading_seconds); an evidence check that may come counts with the owner's own
        rate so far, starting from layout.CHECK_RATE."""
        rate = (progress.checks_seen + layout.CHECK_RATE * layout.CHECK_RATE_WEIGHT) / (
            progress.evidence_answered + layout.CHECK_RATE_WEIGHT)
        # The sums of what is left depend on the screens and the business only: cached, so a
        # tap costs one lookup instead of measuring every screen to come (~20 per tap).
        cache = self.content.__dict__.setdefault("_seconds", {})
        key = ("left", self.locale, self.version, flow.mode, state.staff,
               tuple((step.position if step.item is None else step.item.id, kind)
                     for step, kind in progress.remaining),
               tuple(sorted((q, tuple(v)) for q, v in state.context.items())))
        sums = cache.get(key)
        if sums is None:
            business = None
            sure = maybe = 0.0
            for step, kind in progress.remaining:
                if step.item is not None and business is None:
                    business = self.business(state.context)
                seconds = self._screen_seconds(flow, step, kind, state.context, business)
                if kind == MAYBE_CHECK:
                    maybe += seconds
                else:
                    sure += seconds
            sums = (sure, maybe)
            if len(cache) < 50_000:
                cache[key] = sums
        return sums[0] + sums[1] * rate

    def _screen_seconds(self, flow: Flow, step, kind: str, context, business) -> float:
        """Reading and tapping time of one screen (cached per business: item texts depend on
        it, and a tap must not render every question to come)."""
        cache = self.content.__dict__.setdefault("_seconds", {})
        if step.item is not None:  # keyed by the business words the item's texts read
            reads = self._reads(step.item.id)
            what = tuple(repr(business.get(n)) for n in reads)
        else:
            what = ()
        key = (self.locale, self.version, step.position if step.item is None else step.item.id,
               kind != SCREEN, what)
        seconds = cache.get(key)
        if seconds is not None:
            return seconds
        if step.review:
            text, taps = self._review_body(context), 1
        elif step.context is not None:
            q = step.context
            text = " ".join([self.model(f"context.{q.id}.question"),
                             *(self.context_option(q.id, o) for o in q.options)])
            taps = 1 + min(layout.TYPICAL_CHOICES, q.max_choices) if q.multi else 1
        elif kind == SCREEN:
            text, taps = self._item_body(step.item, business), 1
        else:
            top = max(step.item.options, key=lambda o: o.score)
            text = self.message("evidence_question",
                                answer=self.option_text(step.item.id, top.id, business),
                                check=self.item_text(step.item.id, "check", business))
            taps = 1
        seconds = layout.reading_seconds(to_plain(str(text)), taps)
        if len(cache) < 50_000:  # a few hundred distinct businesses in practice
            cache[key] = seconds
        return seconds

    def _reads(self, item_id: str) -> tuple[str, ...]:
        """The business variables an item's label, question, options and check read."""
        key = ("reads", self.locale, self.version, item_id)
        names = self._cache.get(key)
        if names is None:
            text = self.items[item_id]
            sources = [text.label, text.question, text.check or ""]
            sources += [f"{o.text} {o.label}" for o in text.options.values()]
            found: set[str] = set()
            for source in sources:
                found |= meta.find_undeclared_variables(self.content.env.parse(str(source)))
            names = tuple(sorted(found))
            self._cache[key] = names
        return names

    def estimate(self, mode: str, context: dict[str, tuple[str, ...]]) -> float:
        """Seconds a whole assessment takes this business, from its first question on (the
        welcome's promise): every screen read once and tapped, checks at layout.CHECK_RATE."""
        flow = Flow(self.bank, mode)
        state = AssessmentState(0, mode, flow.first_context, False, dict(context), {})
        return self.seconds_left(flow, state, flow.progress(state))

    def context_summary(self, context: dict[str, tuple[str, ...]]) -> list[dict]:
        """Each context question's short name and the answers, in words."""
        return [{"question": self.model(f"context.{q.id}.short"),
                 "answer": self.label("list_separator").join(
                     self.context_option(q.id, o) for o in context.get(q.id, ()))
                 or self.label("not_applicable")}
                for q in self.bank.context]

    def _review_body(self, context) -> Markup:
        lines = Markup("\n").join(self.message("review_line", **row)
                                   for row in self.context_summary(context))
        return self.message("review", answers=lines)

    def _review(self, view: ReviewView, line: str) -> Screen:
        """A retake: "the same business as last time?" with the earlier answers."""
        pos = view.step.position
        text = Markup("{}\n\n{}").format(line, self._review_body(view.context))
        return Screen(text, (
            (Button(self.button("review_same"), ("rv", pos, "y")),),
            (Button(self.button("review_change"), ("rv", pos, "n")),),
        ))

    def _nav(self, position: int, back: bool) -> tuple[Button, ...]:
        row = []
        if back:
            row.append(Button(self.button("back"), ("back", position)))
        row.append(Button(self.button("pause"), ("pause", position)))
        return tuple(row)

    def _context(self, view: ContextView, line: str, back: bool, detour: bool) -> Screen:
        key = ("context", self.locale, self.version, view.step.context.id, view.step.position,
               view.selected, view.number, view.total, back, detour)
        return self._with_line(self._memo(key, lambda: self._context_screen(
            view, PROGRESS_SLOT, back, detour)), line)

    def _context_screen(self, view: ContextView, line: str, back: bool, detour: bool) -> Screen:
        q = view.step.context
        pos = view.step.position
        header = self.message("context_header", number=view.number, total=view.total,
                              detour=detour)
        hint = self.message("multi_hint", chosen=len(view.selected), max=q.max_choices) \
            if q.multi else ""
        body = self.content.env.get_template("context.html.j2").render(
            header=header, progress=line, question=self.model(f"context.{q.id}.question"),
            hint=hint)
        buttons = []
        for option_id in q.options:
            label = self.context_option(q.id, option_id)
            if option_id in view.selected:  # ticked, or (single choice) the earlier answer
                label = f"✅ {label}"
            buttons.append(Button(label, ("ctx", pos, option_id)))
        rows = self._pack(buttons, 2)
        tail = list(self._nav(pos, back))
        if q.multi:
            tail.insert(len(tail) - 1, Button(self.button("done"), ("ok", pos)))
        rows += self._tail(tail)
        return Screen(body.strip(), tuple(rows))

    def _tail(self, buttons: list[Button]) -> list[tuple[Button, ...]]:
        """The last buttons (Not sure, Back, Done, Pause ...) in one row where every title fits
        it, else the navigation (Back, Pause) in a row of its own under the others."""
        if all(layout.label_fits(b.label, len(buttons), self.locale) for b in buttons):
            return [tuple(buttons)]
        nav = [b for b in buttons if b.action[0] in ("back", "pause")]
        other = [b for b in buttons if b.action[0] not in ("back", "pause")]
        return [tuple(other), tuple(nav)] if other else [tuple(nav)]

    def _item_header(self, view, line: str) -> dict:
        item = view.step.item
        index_id = next(k for k, dims in self.bank.indices.items()
                        if item.dimension in dims)
        return {
            "dimension": self.dimension(item.dimension),
            "index_name": self.model(f"indices.{index_id}"),
            "progress": line,
        }

    def _item_body(self, item, business: dict[str, Any], chosen: str | None = None) -> Markup:
        """The question and its numbered options (what is read; the header is not)."""
        options = [{"text": self.option_text(item.id, o.id, business),
                    "chosen": chosen == o.id} for o in item.options]
        return Markup(self.content.env.get_template("question_body.html.j2").render(
            question=self.item_text(item.id, "question", business), options=options).strip())

    def _item(self, view: ItemView, business: dict[str, Any], line: str, back: bool) -> Screen:
        """A question: the numbered options in the text, a short button per option ("1. Often
        not"), two to a row where both titles fit half a row, and Not sure (Not applicable),
        Back and Pause together in one row where they fit (layout.py: the phone budget)."""
        key = ("item", self.locale, self.version, view.step.item.id, view.step.position,
               view.chosen, back,
               tuple(repr(business.get(n)) for n in self._reads(view.step.item.id)))
        return self._with_line(self._memo(key, lambda: self._item_screen(
            view, business, PROGRESS_SLOT, back)), line)

    def _item_screen(self, view: ItemView, business: dict[str, Any], line: str,
                     back: bool) -> Screen:
        item = view.step.item
        pos = view.step.position
        body = self.content.env.get_template("question.html.j2").render(
            body=self._item_body(item, business, view.chosen),
            **self._item_header(view, line))
        answers = []
        for n, o in enumerate(item.options, start=1):
            label = html.unescape(self.option_text(item.id, o.id, business, label=True))
            # The earlier answer (after Back) is marked in place of its number: no wider.
            answers.append(Button(f"✓ {label}" if view.chosen == o.id else f"{n}. {label}",
                                  ("ans", pos, o.id)))
        if not all(layout.label_fits(b.label, 1, self.locale) for b in answers):
            # Sentences as labels (an earlier content version): the numbers alone, in a row.
            answers = [Button(f"✓ {n}" if view.chosen == o.id else str(n), ("ans", pos, o.id))
                       for n, o in enumerate(item.options, start=1)]
            rows = [tuple(answers)]
        else:
            rows = self._pack(answers, 2)
        extra = [Button(self._marked(self.button("unsure"), view.chosen == UNSURE),
                        ("ans", pos, UNSURE))]
        if item.not_applicable:
            extra.append(Button(self._marked(self.button("na"), view.chosen == NOT_APPLICABLE),
                                ("ans", pos, NOT_APPLICABLE)))
        rows += self._tail(extra + list(self._nav(pos, back)))
        return Screen(body.strip(), tuple(rows))

    def _pack(self, buttons: list[Button], per_row: int) -> list[tuple[Button, ...]]:
        """Buttons in order, `per_row` to a row where every title in the row shows whole on
        the phone, else one to a row (so a long title is never cut)."""
        rows, i = [], 0
        while i < len(buttons):
            group = buttons[i:i + per_row]
            if len(group) == per_row and all(layout.label_fits(b.label, per_row, self.locale)
                                             for b in group):
                rows.append(tuple(group))
                i += per_row
            else:
                rows.append((buttons[i],))
                i += 1
        return rows

    @staticmethod
    def _marked(label: str, chosen: bool) -> str:
        return f"✓ {label}" if chosen else label

    def _evidence(self, view: EvidenceView, business: dict[str, Any], line: str,
                  back: bool) -> Screen:
        item = view.step.item
        pos = view.step.position
        body_text = self.message("evidence_question",
                                 answer=self.option_text(item.id, view.chosen, business),
                                 check=self.item_text(item.id, "check", business))
        body = self.content.env.get_template("evidence.html.j2").render(
            body=body_text, **self._item_header(view, line))
        rows = (
            (Button(self.button("evidence_yes"), ("ev", pos, "y")),
             Button(self.button("evidence_no"), ("ev", pos, "n"))),
            self._nav(pos, back),
        )
        return Screen(body.strip(), rows)

    # --- the report --------------------------------------------------------------------------
    def _dimension_rows(self, result: Result, previous: dict | None = None) -> list[dict]:
        na = self.label("not_applicable")
        rows = []
        for d in self.bank.dimensions:
            value = result.dimensions[d]
            delta = ""
            if previous is not None:
                delta = self.delta(value, previous.get("dimensions", {}).get(d))
            rows.append({"name": self.dimension(d), "score": fmt_score(value, na).rjust(3),
                         "bar": self.bar(value), "percent": 0 if value is None else value,
                         "delta": delta})
        return rows

    @staticmethod
    def delta(now: float | None, before: float | None) -> str:
        if now is None or before is None:
            return ""
        change = round(now - before)
        if change > 0:
            return f"▲ +{change}"
        if change < 0:
            return f"▼ −{-change}"
        return "= 0"

    def _indices(self, result: Result) -> list[dict]:
        na = self.label("not_applicable")
        return [{"name": self.model(f"indices.{k}"), "score": fmt_score(v, na)}
                for k, v in result.indices.items()]

    def _item_list(self, item_ids, business: dict[str, Any] | None = None) -> str:
        business = business or self.business(None)
        return self.label("list_separator").join(self.item_label(i, business) for i in item_ids)

    CARD_ITEMS = 4  # blind spots or capped items the card names; more are counted

    def _short_list(self, item_ids, business: dict[str, Any]) -> str:
        """Items by their short labels; beyond CARD_ITEMS, the rest counted ("and 5 more")."""
        names = [self.item_label(i, business) for i in item_ids]
        if len(names) > self.CARD_ITEMS:
            rest = len(names) - (self.CARD_ITEMS - 1)
            names = names[:self.CARD_ITEMS - 1] + [self.message("and_more", count=rest)]
        return self.label("list_separator").join(names)

    def card(self, result: Result, previous: dict | None = None,
             dimensions: bool = False, legend: str = "", gap: Gap | None = None) -> str:
        """The result card, the report's first message (the radar chart's caption): the overall
        score out of 100 with its level and what the level means, each index explained in a
        line, strongest and weakest, blind spots ("not sure" counts as 0) and items counted
        lower, by their short labels. `dimensions` adds the eight bars (for a card sent without
        its chart), `legend` a line on the chart's other lines, `gap` the line on the largest
        owner-vs-customers gap (the 360° check). At most layout.CAPTION_LIMIT
        characters in the worst case (tests)."""
        na = self.label("not_applicable")
        business = self.business(result.context)
        delta = self.delta(result.overall, previous.get("overall")) if previous else ""
        indices = [self.message("card.index", name=self.model(f"indices.{k}"),
                                score=fmt_score(v, na), meaning=self.message(f"card.{k}"))
                   for k, v in result.indices.items()]
        changed = previous is not None and \
            previous.get("content_version", self.version) != self.version
        return self.content.env.get_template("card.html.j2").render(
            score=self.message("card.score", overall=fmt_score(result.overall, na),
                               level=self.level(result.level), delta=delta),
            meaning=self.model(f"levels.{result.level}.description") if result.level else "",
            indices=indices,
            dimensions=self._dimension_rows(result, previous) if dimensions else (),
            extremes=self.extremes(result),
            questions_changed=self.message("questions_changed") if changed else "",
            blind_spots=self.message("blind_spots", items=self._short_list(
                result.blind_spots, business)) if result.blind_spots else "",
            capped=self.message("capped_note", items=self._short_list(
                result.capped, business)) if result.capped else "",
            confidence=self.message("confidence", label=self.model(
                f"confidence.{result.confidence}")) if result.confidence != "high" else "",
            legend=legend,
            gap=self.gap_line(gap) if gap is not None else "",
        ).strip()

    def extremes(self, result: Result) -> list[str]:
        """The summary's strongest and weakest lines; ties are named together, and when every
        dimension scores the same one line says so."""
        if result.even:
            scored = [v for v in result.dimensions.values() if v is not None]
            return [self.message("summary_even", count=len(scored),
                                 score=fmt_score(scored[0], ""))]
        if not result.strongest:
            return []
        return [self.message("summary_strongest", tied=len(result.strongest) > 1,
                             names=self.names(result.strongest)),
                self.message("summary_weakest", tied=len(result.weakest) > 1,
                             names=self.names(result.weakest))]

    def why(self, p: Priority, business: dict[str, Any]) -> Markup:
        """Why this priority: what the owner answered, and what was capped or not known."""
        answer = self.option_text(p.item_id, p.answer_option, business)
        if p.unsure:
            return self.message("why_unsure", item=self.item_label(p.item_id, business))
        if p.capped:
            capped_to = next((o.id for o in self.bank.item(p.item_id).options
                              if o.score == p.score), None)
            return self.message("why_capped", answer=answer, counted=self.option_text(
                p.item_id, capped_to, business, label=True) if capped_to else "")
        return self.message("why", answer=answer)

    def priority_card(self, p: Priority, business: dict[str, Any] | None = None) -> dict:
        business = business or self.business(None)
        level = p.recommendation.level

        def text(field: str) -> Markup:
            return self.item_text(p.item_id, f"recommendations.{level}.{field}", business)

        return {
            "title": text("title"), "what": text("what"), "first_step": text("first_step"),
            "metric": text("metric"), "dimension": self.dimension(p.dimension),
            "effort": self.model(f"effort.{p.recommendation.effort}"),
            "why": self.why(p, business),
            "source": self.source(p.recommendation.source, p.recommendation.adapted),
        }

    def priority_page(self, result: Result, number: int, first: int = 1,
                      count: int | None = None) -> str:
        """Priority `number` (1-based) of the report's top ones, alone: what the report shows
        one at a time ("Next priority ▸"). It is headed "number + first - 1 of count" (a gap
        priority before it shifts the numbers)."""
        p = result.priorities[number - 1]
        return self.content.env.get_template("priority.html.j2").render(
            heading=self.message("priority_heading", number=number + first - 1,
                                 count=count or len(result.priorities)),
            p=self.priority_card(p, self.business(result.context)),
            first_step_label=self.label("first_step"),
            metric_label=self.label("metric"),
        ).strip()

    # --- the 360° check: the owner's view beside the team's and the customers' -----------------
    def gap_card(self, gap: Gap, answers: int, context: dict[str, tuple[str, ...]] | None
                 ) -> dict:
        """The gap priority's card (the same fields as `priority_card`): the dimension's "close
        the gap" advice (gaps.yaml, article 000) for this business, and its why, "You rated
        Integrity 75; your customers 40 (5 answers)". `answers`: the customer responses the
        published average holds."""
        business = self.business(context)
        extras = {"dimension": self.dimension(gap.dimension),
                  "owner_score": fmt_score(gap.owner, ""),
                  "customer_score": fmt_score(gap.customers, "")}
        text = self.texts.gaps[gap.dimension]
        effort, source = self.content.gaps[gap.dimension]

        def render(field_name: str) -> Markup:
            template = self.content.env.from_string(str(getattr(text, field_name)))
            return Markup(" ".join(template.render(**business, **extras).split()))

        return {
            "title": render("title"), "what": render("what"),
            "first_step": render("first_step"), "metric": render("metric"),
            "dimension": self.dimension(gap.dimension),
            "effort": self.model(f"effort.{effort}"),
            "why": self.message("feedback.report.gap_why", dimension=extras["dimension"],
                                owner=extras["owner_score"],
                                customers=extras["customer_score"], answers=answers,
                                who=self._customers_word(business)),
            "source": self.source(source),
        }

    def _customers_word(self, business: dict[str, Any]) -> str:
        """The trade's word for its customers ("clients", "guests"; zh: 客人, 学员 ...)."""
        words = business.get("v") or {}
        return str(words.get("customers") if self.locale == "en" else
                   words.get("customer") or words.get("customers") or "")

    def gap_page(self, gap: Gap, answers: int, context: dict[str, tuple[str, ...]] | None,
                 count: int) -> str:
        """The gap priority alone, first of `count` priorities."""
        return self.content.env.get_template("priority.html.j2").render(
            heading=self.message("priority_heading", number=1, count=count),
            p=self.gap_card(gap, answers, context),
            first_step_label=self.label("first_step"),
            metric_label=self.label("metric"),
        ).strip()

    def gap_line(self, gap: Gap) -> str:
        """The result card's line on the largest gap."""
        return self.message("feedback.report.gap_line", dimension=self.dimension(gap.dimension),
                            owner=fmt_score(gap.owner, ""), customers=fmt_score(gap.customers, ""))

    def views_legend(self, team: Release | None, customers: Release | None) -> str:
        """What the chart's lines are, with how many answers each average holds."""
        return self.message("feedback.report.legend",
                            team=team.responses if team else 0,
                            customers=customers.responses if customers else 0)

    def views_rows(self, owner: dict[str, float | None], team: Release | None,
                   customers: Release | None) -> list[dict]:
        """Per dimension: name, the owner's score, the team's and the customers' averages
        ("–" when not shown) and the gap to the customers in points ("+35": the owner rates
        higher; "" without a customers' average)."""
        dims = self.bank.dimensions
        to_customers = gaps(owner, customers.dimensions, dims) if customers else {}
        rows = []
        for d in dims:
            gap = to_customers.get(d)
            rows.append({
                "name": self.dimension(d),
                "owner": fmt_score(owner.get(d), "–"),
                "team": fmt_score(team.dimensions.get(d), "–") if team else "–",
                "customers": fmt_score(customers.dimensions.get(d), "–") if customers else "–",
                "gap": "" if gap is None else (f"{round(gap):+d}".replace("-", "−")
                                               if round(gap) else "0"),
            })
        return rows

    def views_table(self, owner: dict[str, float | None], team: Release | None,
                    customers: Release | None, gap: Gap | None,
                    context: dict[str, tuple[str, ...]] | None, cite) -> ViewsTable:
        """The full report's section on the three views: a table per dimension and, when the
        gap is real, its advice (the gap priority). `cite(source) -> number` numbers sources."""
        rows = tuple((r["name"], r["owner"], r["team"], r["customers"], r["gap"] or "–")
                     for r in self.views_rows(owner, team, customers))
        step = None
        if gap is not None and customers is not None:
            card = self.gap_card(gap, customers.responses, context)
            source = cite(self.content.gaps[gap.dimension][1])
            step = PlanStep(
                number=1, title=to_plain(card["title"]),
                meta=self.plain("report_pdf.meta", dimension=card["dimension"],
                                effort=card["effort"]),
                top=True, why=self.plain("report_pdf.why", text=to_plain(card["why"])),
                what=to_plain(card["what"]), first_step=to_plain(card["first_step"]),
                metric=to_plain(card["metric"]), source=source,
                source_ref=self.plain("report_pdf.source_ref", number=source))
        return ViewsTable(
            title=self.plain("feedback.report.views_title"),
            intro=self.plain("feedback.report.views_intro",
                             team=team.responses if team else 0,
                             customers=customers.responses if customers else 0),
            columns=tuple(self.plain(f"feedback.report.columns.{c}")
                          for c in ("dimension", "you", "team", "customers", "gap")),
            rows=rows, gap=step)

    def priorities(self, result: Result) -> str:
        if not result.priorities:
            return self.message("priorities_none")
        return self.content.env.get_template("priorities.html.j2").render(
            title=self.message("priorities_title", count=len(result.priorities)),
            priorities=[self.priority_card(p, self.business(result.context))
                        for p in result.priorities],
            first_step_label=self.label("first_step"),
            metric_label=self.label("metric"),
        ).strip()

    def phases(self, plan: tuple[PlanAction, ...], done: set[str] | frozenset = frozenset(),
               context: dict[str, tuple[str, ...]] | None = None,
               before: set[str] | frozenset = frozenset()):
        """The plan's phases with their actions (priority cards); `done` and `before` are the
        recommendation ids ticked in this plan and in the one before it."""
        business = self.business(context)
        out = []
        for phase in self.bank.plan_phases:
            actions = []
            for a in plan:
                if a.phase != phase.id:
                    continue
                card = self.priority_card(a.priority, business)
                card["mark"] = "☑" if a.priority.recommendation.id in done else "☐"
                card["before"] = a.priority.recommendation.id in before
                actions.append(card)
            if actions:
                out.append({"title": self.model(f"phases.{phase.id}.title"),
                            "intro": self.model(f"phases.{phase.id}.intro"),
                            "actions": actions})
        return out

    def plan(self, plan: tuple[PlanAction, ...], done=frozenset(), header: str = "",
             context: dict[str, tuple[str, ...]] | None = None,
             before: set[str] | frozenset = frozenset()) -> str:
        return self.content.env.get_template("plan.html.j2").render(
            title=self.label("plan_title"), header=header,
            phases=self.phases(plan, done, context, before),
            before_label=self.label("ticked_before"), brackets=self.texts.ui["labels"]["brackets"],
            first_step_label=self.label("first_step"), metric_label=self.label("metric"),
        ).strip()

    def plain(self, key: str, **ctx: Any) -> str:
        """A ui message as plain text (a PDF has no markup)."""
        return to_plain(self.message(key, **ctx))

    def report_document(self, result: Result, mode: str, answers: dict[str, Answer],
                        context: dict[str, tuple[str, ...]], when: datetime | None = None,
                        previous: bool = False, cohort: bool = False,
                        views: tuple[Release | None, Release | None, Gap | None] | None = None,
                        ) -> ReportDocument:
        """The full report's words (bot/content/document.py), laid out by bot/content/pdf.py:
        the business, the score with its level and indices, one section per dimension with
        the answers given, the plan, and the sources it cites, numbered. `views` (team's and
        customers' published averages, the largest gap) adds the 360° section."""
        na = self.label("not_applicable")
        business = self.business(context)
        sources: dict[str, int] = {}

        def cite(src: Source, adapted: bool = False) -> int:
            return sources.setdefault(to_plain(self.source(src, adapted)), len(sources) + 1)

        top = {p.recommendation.id for p in result.priorities}
        phases = []
        number = 0
        for phase in self.bank.plan_phases:
            actions = []
            for a in (a for a in result.plan if a.phase == phase.id):
                number += 1
                p, rec = a.priority, a.priority.recommendation
                card = self.priority_card(p, business)
                source = cite(rec.source, rec.adapted)
                actions.append(PlanStep(
                    number=number, title=to_plain(card["title"]),
                    meta=self.plain("report_pdf.meta", dimension=card["dimension"],
                                    effort=card["effort"]),
                    top=rec.id in top,
                    why=self.plain("report_pdf.why", text=to_plain(card["why"])),
                    what=to_plain(card["what"]), first_step=to_plain(card["first_step"]),
                    metric=to_plain(card["metric"]), source=source,
                    source_ref=self.plain("report_pdf.source_ref", number=source)))
            if actions:
                phases.append(Phase(self.model(f"phases.{phase.id}.title"),
                                    self.model(f"phases.{phase.id}.intro"), tuple(actions)))

        asked = self.bank.items_for(mode, business)
        sections = []
        for d in self.bank.dimensions:
            value, level_id = result.dimensions.get(d), result.dimension_levels.get(d)
            rows = []
            for item in (i for i in asked if i.dimension == d):
                a = answers.get(item.id)
                rows.append(AnswerRow(
                    question=self.item_label(item.id, business),
                    answer=html.unescape(self.option_text(item.id, a.option_id, business,
                                                          label=True)) if a else "-",
                    points=result.item_scores.get(item.id),
                    unsure=a is not None and a.option_id == UNSURE,
                    capped=item.id in result.capped))
                cite(item.source)
            notes = []
            unsure = [r.question for r in rows if r.unsure]
            if unsure:
                notes.append(self.plain("report_pdf.not_sure_note",
                                        items=self.label("list_separator").join(unsure)))
            capped = [r.question for r in rows if r.capped]
            if capped:
                notes.append(self.plain("report_pdf.capped_note",
                                        items=self.label("list_separator").join(capped)))
            if not rows:
                notes.append(self.plain("report_pdf.none_asked"))
            sections.append(DimensionSection(
                name=self.dimension(d), score=fmt_score(value, na),
                percent=value or 0.0, level_id=level_id,
                heading_score=na if value is None else self.plain(
                    "report_pdf.dimension_score", score=fmt_score(value, na),
                    level=self.level(level_id)),
                blurb=self.model(f"dimensions.{d}.blurb"), rows=tuple(rows),
                notes=tuple(notes)))

        table = None
        if views is not None:
            team, customers, gap = views
            table = self.views_table(result.dimensions, team, customers, gap, context, cite)

        labels = {key: self.plain(f"report_pdf.{key}")
                  for key in ("question", "answer", "points", "top_priority")}
        labels.update(first_step=self.label("first_step"), metric=self.label("metric"))
        return ReportDocument(
            locale=self.locale, labels=labels,
            title=self.plain("report_pdf.title"),
            prepared=self.plain("report_pdf.prepared",
                                date=(when or datetime.now(UTC)).strftime("%Y-%m-%d"),
                                mode=self.label(f"mode_{mode}")),
            business_title=self.plain("report_pdf.business"),
            business=tuple((to_plain(row["question"]).rstrip(":：").strip(),
                            to_plain(row["answer"]))
                           for row in self.context_summary(context)),
            overall_label=self.plain("report_pdf.overall"),
            overall=fmt_score(result.overall, na),
            out_of="" if result.overall is None else self.plain("report_pdf.out_of"),
            level_id=result.level,
            level=self.plain("report_pdf.level", level=self.level(result.level)),
            level_meaning=self.model(f"levels.{result.level}.description")
            if result.level else "",
            indices=tuple(IndexLine(
                self.model(f"indices.{k}"), fmt_score(v, na),
                self.plain(f"report_pdf.index_explained.{k}",
                           names=self.names(self.bank.indices[k])))
                for k, v in result.indices.items()),
            confidence=self.plain("confidence",
                                  label=self.model(f"confidence.{result.confidence}")),
            chart_caption=self.plain("report_pdf.chart_caption", previous=previous,
                                     cohort=cohort) if views is None else
            self.plain("feedback.report.chart_caption", team=bool(views[0]),
                       customers=bool(views[1])),
            dimensions_title=self.plain("report_pdf.dimensions_title"),
            dimensions_intro=self.plain("report_pdf.dimensions_intro"),
            sections=tuple(sections),
            plan_title=self.label("plan_title"),
            plan_intro=self.plain("report_pdf.plan_intro", count=number),
            phases=tuple(phases),
            sources_title=self.label("sources"),
            sources_intro=self.plain("report_pdf.sources_intro"),
            sources=tuple(sources),
            page_label=self.plain("report_pdf.page", page="{page}", pages="{pages}"),
            layout=load_layout(self.content.directory),
            views=table,
        )


_TAGS = re.compile(r"<[^>]+>")


def to_plain(text: str) -> str:
    """Telegram HTML to terminal text."""
    return html.unescape(_TAGS.sub("", text))


# --- the content check's sample render -------------------------------------------------------
SAMPLE_VALUE = "<b>&Co"


def sample_answers(bank, mode: str, pattern=(0, 1, 2, 3, 4),
                   business: dict | None = None) -> dict[str, Answer]:
    answers = {}
    items = bank.items_for(mode, business)
    for n, item in enumerate(items):
        wanted = pattern[n % len(pattern)]
        option = next(o for o in item.options if o.score == wanted)
        evidence = (n % 2 == 0) if item.evidence and wanted >= 3 else None
        answers[item.id] = Answer(option.id, evidence)
    answers[items[0].id] = Answer(UNSURE)
    return answers


@dataclass(frozen=True)
class Sample:
    """One text the sample render produced: a message, a screen's text or a button's label."""
    locale: str
    where: str  # the ui key, item id or "report"
    text: str


def render_samples(content: Content) -> Iterator[Sample | Problem]:
    """Render every ui string and every template in every locale with sample data, and every
    screen, report and recommendation of every content version for one sample business.

    Yields each rendered text as a Sample and each failure as a Problem (then goes on)."""
    for locale, texts in content.texts.items():
        ui_file = f"locales/{locale}/ui*.yaml"
        flat = _flatten_ui(texts.ui)
        for key, source in flat.items():
            if key.startswith(PLAIN_UI_PREFIXES):
                yield Sample(locale, key, str(source))
                continue
            forms = source if is_plural(source) else {"": source}
            for form, text in forms.items():
                where = f"{key}.{form}" if form else key
                try:
                    parsed = content.env.parse(str(text))
                    names = meta.find_undeclared_variables(parsed)
                    yield Sample(locale, where, content.env.from_string(str(text)).render(
                        **{n: SAMPLE_VALUE for n in names}))
                except TemplateError as exc:
                    yield Problem(ui_file, where, "template", str(exc))
        for version in (content.bank.version, *content.archived):
            r = Renderer(content, locale, version)
            bank = r.bank
            where = "-"
            try:
                for mode in ("full", "quick"):
                    flow = Flow(bank, mode)
                    context = {q.id: q.options[:1] for q in bank.context}
                    business = r.business(context)
                    answers = sample_answers(bank, mode, business=business)
                    state = AssessmentState(1, mode, 0, False, context, answers, prefilled=True)
                    for step in flow.steps:
                        if not flow.is_active(state, step.position):
                            continue
                        where = step.item.id if step.item else (
                            step.context.id if step.context else "review")
                        state.cursor = step.position
                        yield from _screen_samples(locale, where, r.step(flow, state))
                        if step.item and step.item.evidence:
                            top = next(o for o in step.item.options if o.score == 4)
                            probe = AssessmentState(1, mode, step.position, False, context,
                                                    {**answers, step.item.id: Answer(top.id)})
                            yield from _screen_samples(locale, where, r.step(flow, probe))
                    where = "report"
                    result = score(bank, mode, answers, context)
                    done = {a.priority.recommendation.id for a in result.plan[:1]}  # ☑ and ☐
                    previous = {**result.as_snapshot(), "dimensions": {  # ▲ +7 and ▼ −7
                        d: (v or 0) + (7 if n % 2 else -7)
                        for n, (d, v) in enumerate(result.dimensions.items())}}
                    pages = [r.priority_page(result, n)
                             for n in range(1, len(result.priorities) + 1)]
                    for text in (r.card(result, previous),
                                 r.card(result, result.as_snapshot(), dimensions=True),
                                 *pages, r.priorities(result),
                                 r.plan(result.plan, done, context=context, before=done)):
                        yield Sample(locale, where, text)
                    yield from _document_samples(locale, r.report_document(
                        result, mode, answers, context, previous=True, cohort=True))
                for item in bank.items:  # every recommendation of every item
                    where = item.id
                    for rec in item.recommendations:
                        card = r.priority_card(Priority(
                            item.id, item.dimension, rec.from_score,
                            UNSURE if rec.unsure else item.options[0].id, rec, 1.0),
                            r.business(None))
                        yield Sample(locale, where, "\n".join(str(v) for v in card.values()))
            except (TemplateError, KeyError, AttributeError, TypeError, ValueError,
                    OSError) as exc:
                yield Problem(f"locales/{locale} + templates/ ({version})", where, "render",
                              f"{type(exc).__name__}: {exc}")


def _document_samples(locale: str, doc: ReportDocument) -> Iterator[Sample]:
    """Every text of the PDF report (what its fonts must draw)."""
    def walk(value: Any) -> Iterator[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for v in value.values():
                yield from walk(v)
        elif isinstance(value, tuple):
            for v in value:
                yield from walk(v)
        elif hasattr(value, "__dataclass_fields__"):
            for name in value.__dataclass_fields__:
                if name != "layout":  # sizes and colours, no words
                    yield from walk(getattr(value, name))

    for text in walk(doc):
        yield Sample(locale, "report", text)


def _screen_samples(locale: str, where: str, screen: Screen) -> Iterator[Sample]:
    yield Sample(locale, where, screen.text)
    for row in screen.buttons:
        for button in row:
            yield Sample(locale, where, button.label)


def render_problems(content: Content) -> list[Problem]:
    """Every failure of the sample render (see render_samples); empty when all is well."""
    return [p for p in render_samples(content) if isinstance(p, Problem)]


def _flatten_ui(tree: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in tree.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict) and not is_plural(v):
            out.update(_flatten_ui(v, key))
        else:
            out[key] = v
    return out
