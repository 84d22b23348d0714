"""What the owner reads: every screen and card in every locale, escaped, Telegram-safe, short."""

from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser

import pytest

from bot.content import LOCALES, layout
from bot.content.render import Renderer, sample_answers, to_plain
from bot.domain.bank import NOT_APPLICABLE, UNSURE
from bot.domain.flow import Answer, AssessmentState, Flow
from bot.domain.scoring import Priority, plan_of, score
from tests.helpers_domain import answers_at, option_with, real_content

CONTENT = real_content()
BANK = CONTENT.bank
TELEGRAM_TAGS = {"b", "i", "u", "s", "code", "pre", "a", "blockquote"}
TELEGRAM_LIMIT = 4096
EVIL = "<b>&Co"
EVIL_ESCAPED = "&lt;b&gt;&amp;Co"


class _TagChecker(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in TELEGRAM_TAGS:
            self.problems.append(f"<{tag}> is not allowed by Telegram")
        self.open.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.problems.append(f"<{tag}/> is not allowed by Telegram")

    def handle_endtag(self, tag):
        if not self.open or self.open[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.open[-1:] or 'nothing'}")
        else:
            self.open.pop()


def telegram_problems(text: str) -> list[str]:
    """Why Telegram's HTML parse mode would reject (or mangle) this message."""
    checker = _TagChecker()
    checker.feed(text)
    checker.close()
    problems = checker.problems + [f"<{t}> never closed" for t in checker.open]
    for match in re.finditer(r"&(?!(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);)", text):
        problems.append(f"bare & at {match.start()}: {text[match.start():match.start() + 12]!r}")
    stray = re.sub(r"</?[a-z]+(?:\s[^<>]*)?>", "", text)
    if "<" in stray or ">" in stray:
        problems.append(f"unescaped < or > in {stray!r}")
    return problems


def assert_telegram_html(text: str) -> None:
    assert text.strip(), "empty message"
    assert not telegram_problems(text), (telegram_problems(text), text)


def telegram_length(text: str) -> int:
    """Telegram counts the text after parsing the markup, in UTF-16 code units."""
    return len(to_plain(text).encode("utf-16-le")) // 2


def labels(screen) -> list[str]:
    return [b.label for row in screen.buttons for b in row]


def actions(screen) -> list[tuple]:
    return [b.action for row in screen.buttons for b in row]


CONTEXT = {q.id: q.options[: q.max_choices] for q in BANK.context}
CONTEXT["team"] = ("t2_5",)  # a café with staff, in person and online: every item applies


# --- every step screen ------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["full", "quick"])
@pytest.mark.parametrize("locale", LOCALES)
def test_every_step_screen_renders(locale, mode):
    r = Renderer(CONTENT, locale)
    texts = CONTENT.texts[locale]
    flow = Flow(BANK, mode)
    business = r.business(CONTEXT)
    for step in flow.steps:
        state = AssessmentState(1, mode, step.position, False, dict(CONTEXT), {}, True)
        if not flow.is_active(state, step.position):
            continue
        screen = r.step(flow, state)
        assert_telegram_html(screen.text)
        assert telegram_length(screen.text) < TELEGRAM_LIMIT
        plain = to_plain(screen.text)
        nav = actions(screen)
        if step.review:
            assert ("rv", 0, "y") in nav and ("rv", 0, "n") in nav
            for q in BANK.context:
                assert r.model(f"context.{q.id}.short") in plain
            continue
        assert ("pause", step.position) in nav
        assert ("back", step.position) in nav  # to the review (the first question) or before
        if step.context:
            q = step.context
            assert r.model(f"context.{q.id}.question") in plain
            assert f"{step.position}/{flow.context_count}" in plain
            for option in q.options:
                assert ("ctx", step.position, option) in nav
            if q.multi:
                assert ("ok", step.position) in nav
                chosen = [lab for lab in labels(screen) if lab.startswith("✅")]
                assert len(chosen) == len(CONTEXT[q.id])
            continue
        item = step.item

        def said(path: str, item=item) -> str:
            return to_plain(r.item_text(item.id, path, business))

        assert said("question") in plain
        assert r.dimension(item.dimension) in plain
        for n, option in enumerate(item.options, start=1):
            assert f"{n}. {said(f'options.{option.id}.label')}" in labels(screen)
            assert said(f"options.{option.id}.text") in plain
            assert ("ans", step.position, option.id) in nav
        assert ("ans", step.position, UNSURE) in nav
        assert (("ans", step.position, NOT_APPLICABLE) in nav) is item.not_applicable
        # Answered earlier (after Back): the answer is marked.
        chosen = option_with(item, 1)
        again = r.step(flow, dataclasses.replace(state, answers={item.id: Answer(chosen.id)}))
        assert any(lab.startswith("✓") and said(f"options.{chosen.id}.label") in lab
                   for lab in labels(again))
        if item.evidence:
            top = option_with(item, 4)
            evidence = r.step(flow, dataclasses.replace(state, answers={item.id: Answer(top.id)}))
            assert_telegram_html(evidence.text)
            assert said("check") in to_plain(evidence.text)
            assert said(f"options.{top.id}.text") in to_plain(evidence.text)
            assert ("ev", step.position, "y") in actions(evidence)
            assert ("ev", step.position, "n") in actions(evidence)
    done = r.step(flow, AssessmentState(1, mode, len(flow.steps), True))
    assert to_plain(done.text) == to_plain(r.message("report_ready"))
    del texts


@pytest.mark.parametrize("locale", LOCALES)
def test_progress_counts_every_screen(locale):
    """The business questions, the questions and each evidence check as it comes are screens;
    the first shows one cell of the bar, not an empty bar."""
    r = Renderer(CONTENT, locale)
    full, empty = CONTENT.texts[locale].ui["progress"]["full"], \
        CONTENT.texts[locale].ui["progress"]["empty"]
    context_screens = len(BANK.context)
    flow = Flow(BANK, "full")
    items = flow.active_items(AssessmentState(1, "full", 0, context=dict(CONTEXT)))
    total = context_screens + len(items)
    state = AssessmentState(1, "full", flow.first_item + 8, False, dict(CONTEXT), {})
    text = to_plain(r.step(flow, state).text)
    number = context_screens + 9
    cells = round(10 * number / total)
    assert f"{full * cells}{empty * (10 - cells)} {number}/{total}" in text
    first = AssessmentState(1, "full", flow.first_context, False, dict(CONTEXT), {})
    assert f"{full}{empty * 9} 1/{total}" in to_plain(r.step(flow, first).text)
    quick = Flow(BANK, "quick")
    quick_items = quick.active_items(state)
    position = next(s.position for s in quick.steps if s.item is quick_items[2])
    state = AssessmentState(1, "quick", position, False, dict(CONTEXT), {})
    quick_total = context_screens + len(BANK.dimensions)
    assert f"{context_screens + 3}/{quick_total}" in to_plain(r.step(quick, state).text)
    # An answer of 4 brings its evidence check: one more screen, counted as it comes.
    item = quick_items[0]
    assert item.evidence
    top = Answer(option_with(item, 4).id)
    at_item = next(s.position for s in quick.steps if s.item is item)
    check = AssessmentState(1, "quick", at_item, False, dict(CONTEXT), {item.id: top})
    assert f"{context_screens + 2}/{quick_total + 1}" in to_plain(r.step(quick, check).text)
    after = AssessmentState(1, "quick", next(s.position for s in quick.steps
                                             if s.item is quick_items[1]), False,
                            dict(CONTEXT), {item.id: Answer(top.option_id, True)})
    assert f"{context_screens + 3}/{quick_total + 1}" in to_plain(r.step(quick, after).text)


@pytest.mark.parametrize("locale", LOCALES)
def test_time_left_shrinks_to_the_end(locale):
    """The progress line says how long is left (layout.reading_seconds over the screens to
    come): less with every question, at least a minute on the last."""
    r = Renderer(CONTENT, locale)
    flow = Flow(BANK, "full")
    state = AssessmentState(1, "full", flow.first_context, False, dict(CONTEXT), {})
    left = []
    for step in flow.steps:
        if step.item is None or not flow.is_active(state, step.position):
            continue
        state.cursor = step.position
        left.append(r.seconds_left(flow, state, flow.progress(state)))
        state.answers[step.item.id] = Answer(option_with(step.item, 1).id)
    assert left == sorted(left, reverse=True) and len(set(left)) == len(left)
    assert to_plain(r.message("time_left", count=1)) in to_plain(r.step(flow, dataclasses.replace(
        state, answers={})).text)  # the last question: about a minute


@pytest.mark.parametrize("locale", LOCALES)
def test_a_screen_from_memory_is_the_one_rendered_afresh(locale):
    """Question screens are kept per content (Renderer._memo): a plumber on his own after a
    café with staff, at the same question, and an owner further on (an evidence check more,
    so another progress line and time left) must each see exactly what a fresh render shows."""
    r = Renderer(CONTENT, locale)
    flow = Flow(BANK, "full")
    plumber = {"sector": ("trades",), "team": ("solo",), "channels": ("phone",),
               "priorities": ()}
    cafe = dict(CONTEXT)
    position = max(s.position for s in flow.steps
                   if s.item is not None and s.item.evidence and flow.is_active(
                        AssessmentState(1, "full", 0, context=plumber), s.position)
                   and flow.is_active(AssessmentState(1, "full", 0, context=cafe), s.position))
    earlier = {s.item.id: Answer(option_with(s.item, 4).id, True) for s in flow.steps
               if s.item is not None and s.item.evidence and s.position < position}
    owners = [AssessmentState(1, "full", position, False, dict(cafe), {}),
              AssessmentState(2, "full", position, False, dict(plumber), {}),
              AssessmentState(3, "full", position, False, dict(plumber), dict(earlier)),
              AssessmentState(4, "full", flow.first_context + 2, False, dict(cafe), {}),
              AssessmentState(5, "full", flow.first_context + 2, False, dict(plumber), {})]
    kept = [r.step(flow, state) for state in owners]
    assert to_plain(kept[0].text) != to_plain(kept[1].text)  # the trade's own words
    assert to_plain(kept[1].text) != to_plain(kept[2].text)  # another point of the way
    assert labels(kept[3]) != labels(kept[4])  # the channels ticked
    for state, screen in zip(owners, kept, strict=True):
        CONTENT.__dict__.pop("_screens", None)
        assert r.step(flow, state) == screen
        assert "\x00" not in screen.text


def test_kept_screens_stay_within_their_bound(monkeypatch):
    """Past SCREEN_MEMO_LIMIT the oldest screens make room (memory stays bounded whatever
    businesses come), and a screen made again is still the right one."""
    from bot.content import render

    monkeypatch.setattr(render, "SCREEN_MEMO_LIMIT", 10)
    CONTENT.__dict__.pop("_screens", None)
    r = Renderer(CONTENT, "en")
    flow = Flow(BANK, "full")
    states = [AssessmentState(1, "full", step.position, False, dict(CONTEXT), {})
              for step in flow.steps if step.item is not None]
    first = [r.step(flow, state) for state in states]
    assert len(states) > 20 and len(CONTENT.__dict__["_screens"]) <= 10
    assert [r.step(flow, state) for state in states] == first


# --- recommendation cards ---------------------------------------------------------------------
@pytest.mark.parametrize("locale", LOCALES)
def test_every_recommendation_card_renders(locale):
    r = Renderer(CONTENT, locale)
    base = score(BANK, "full", answers_at(BANK, "full", 0), CONTEXT)
    business = r.business(CONTEXT)
    for item in BANK.items:
        for rec in item.recommendations:
            answered = UNSURE if rec.unsure else option_with(item, rec.from_score).id
            p = Priority(item.id, item.dimension, rec.from_score, answered, rec, 1.0)
            card = r.priority_card(p, business)
            for key in ("title", "what", "first_step", "metric", "dimension", "effort", "why",
                        "source"):
                assert str(card[key]).strip(), (item.id, rec.level, key)
            source = to_plain(str(card["source"]))
            passage = CONTENT.passages[rec.source.key]
            shown = {"zh-Hans": passage.section,
                     "zh-Hant": passage.hant.section if passage.hant else
                     CONTENT.texts["zh-Hant"].sources[rec.source.key],
                     "en": CONTENT.texts["en"].sources[rec.source.key]}[locale]
            assert shown in source, (item.id, rec.level, source)
            if locale == "en":  # the English name with the original heading beside it
                assert passage.section in source or shown == passage.section
            if locale == "zh-Hant" and passage.hant:
                assert passage.hant.article in source  # the traditional copy, 003
            else:
                assert rec.source.article in source
            if rec.unsure:
                assert r.item_label(item.id, business) in to_plain(str(card["why"]))
            else:
                assert r.option_text(item.id, answered, business) in to_plain(str(card["why"]))
            message = r.priorities(dataclasses.replace(base, priorities=(p,)))
            assert_telegram_html(message)
            assert card["title"] in to_plain(message)


# --- escaping and allowed tags ----------------------------------------------------------------
@pytest.mark.parametrize("locale", LOCALES)
def test_values_in_messages_are_escaped(locale):
    r = Renderer(CONTENT, locale)
    welcome = r.message("welcome", name=EVIL)
    assert EVIL_ESCAPED in welcome
    assert EVIL not in welcome
    assert_telegram_html(welcome)
    assert EVIL in to_plain(welcome)
    why = r.message("why", answer=EVIL)
    assert EVIL_ESCAPED in why and EVIL not in why


PATTERNS = {
    "sample": lambda mode: sample_answers(BANK, mode),
    "all zero": lambda mode: answers_at(BANK, mode, 0),
    "all not sure": lambda mode: {i.id: Answer(UNSURE) for i in BANK.items_for(mode)},
    "all capped": lambda mode: answers_at(BANK, mode, 4, evidence=False),
    "all top": lambda mode: answers_at(BANK, mode, 4, evidence=True),
}


@pytest.mark.parametrize("pattern", list(PATTERNS))
@pytest.mark.parametrize("locale", LOCALES)
def test_report_messages_use_only_telegram_tags(locale, pattern):
    r = Renderer(CONTENT, locale)
    for mode in ("full", "quick"):
        answers = PATTERNS[pattern](mode)
        result = score(BANK, mode, answers, CONTEXT)
        previous = score(BANK, mode, answers_at(BANK, mode, 2), {}).as_snapshot()
        card = r.card(result, previous=previous)
        card_text = r.card(result, previous=previous, dimensions=True)
        done = {a.priority.recommendation.id for a in result.plan[:1]}
        pages = [r.priority_page(result, n) for n in range(1, len(result.priorities) + 1)]
        for message in (card, card_text, r.card(result), r.priorities(result), *pages,
                        r.plan(result.plan, done)):
            assert_telegram_html(message)
        assert f"{result.overall:.0f}/100" in to_plain(card)
        for d in BANK.dimensions:  # the card sent without its chart has the eight bars
            assert r.dimension(d) in to_plain(card_text)
        if result.blind_spots:  # named by the items' short labels
            assert to_plain(r.item_label(result.blind_spots[0], r.business(CONTEXT))) \
                in to_plain(card)
        if result.plan:
            assert "☑" in r.plan(result.plan, done)


# --- the three locales say the same things ----------------------------------------------------
def _flat(tree, prefix=""):
    """Dotted keys; a message's plural forms are one key (each locale has its own categories)."""
    from bot.content.loader import is_plural

    if isinstance(tree, dict) and not (prefix and is_plural(tree)):
        return {k for key, v in tree.items() for k in _flat(v, f"{prefix}{key}.")}
    return {prefix.rstrip(".")}


def test_the_three_locales_have_identical_ids():
    shapes = {}
    for locale in LOCALES:
        t = CONTENT.texts[locale]
        shapes[locale] = {
            "items": set(t.items),
            "options": {(i, o) for i, text in t.items.items() for o in text.options},
            "recommendations": {(i, n) for i, text in t.items.items()
                                for n in text.recommendations},
            "evidence": {i for i, text in t.items.items() if text.check},
            "sources": set(t.sources) if locale != "zh-Hans" else set(CONTENT.passages),
            "ui": _flat(t.ui),
            "model": _flat(t.model),
            "lessons": set(t.lessons),
            "workshops": set(t.workshops),
        }
    hans = shapes["zh-Hans"]
    assert hans["items"] == {i.id for i in BANK.items}
    assert hans["options"] == {(i.id, o.id) for i in BANK.items for o in i.options}
    assert hans["recommendations"] == {(i.id, r.level) for i in BANK.items
                                       for r in i.recommendations}
    assert hans["evidence"] == {i.id for i in BANK.items if i.evidence}
    for locale in LOCALES:
        for kind, ids in shapes[locale].items():
            assert ids == hans[kind], (locale, kind, ids ^ hans[kind])


# --- Telegram's 4096-character limit, worst cases ---------------------------------------------
WORST_CONTEXT = {**{q.id: q.options for q in BANK.context},
                 BANK.priority_context: BANK.dimensions}


def _longest_priorities(r: Renderer, base, count: int) -> list[Priority]:
    """The ``count`` recommendations whose card is longest in this locale."""
    cards = []
    for item in BANK.items:
        for rec in item.recommendations:
            p = Priority(item.id, item.dimension, rec.from_score,
                         UNSURE if rec.unsure else option_with(item, rec.from_score).id, rec, 1.0)
            alone = r.priorities(dataclasses.replace(base, priorities=(p,)))
            cards.append((telegram_length(alone), p))
    cards.sort(key=lambda c: -c[0])
    return [p for _, p in cards[:count]]


@pytest.mark.parametrize("locale", LOCALES)
def test_messages_fit_telegram_in_the_worst_case(locale):
    r = Renderer(CONTENT, locale)
    worst = []
    for name in ("all zero", "all not sure", "all capped"):
        answers = PATTERNS[name]("full")
        result = score(BANK, "full", answers, WORST_CONTEXT)
        assert len(result.priorities) == BANK.weights.top
        previous = score(BANK, "full", answers_at(BANK, "full", 4, True), {}).as_snapshot()
        done = {a.priority.recommendation.id for a in result.plan}
        worst += [r.card(result, previous=previous, dimensions=True), r.priorities(result),
                  r.plan(result.plan, done)]
    # Mixed: half not sure, half capped: both notes in one card.
    mixed = {i.id: (Answer(UNSURE) if n % 2 else Answer(option_with(i, 4).id, False))
             for n, i in enumerate(BANK.items)}
    worst.append(r.card(score(BANK, "full", mixed, WORST_CONTEXT), previous=previous,
                        dimensions=True))
    # The longest cards there are, together in one message.
    base = score(BANK, "full", answers_at(BANK, "full", 0), WORST_CONTEXT)
    longest = _longest_priorities(r, base, BANK.weights.plan_size)
    worst.append(r.priorities(dataclasses.replace(base, priorities=tuple(longest[:3]))))
    worst.append(r.plan(plan_of(BANK, longest)))
    for message in worst:
        assert_telegram_html(message)
        assert telegram_length(message) <= TELEGRAM_LIMIT, (telegram_length(message), message)


@pytest.mark.parametrize("locale", LOCALES)
def test_the_result_card_fits_a_photo_caption_in_the_worst_case(locale):
    """Telegram takes at most 1,024 characters of caption: the card, with the most blind spots
    and capped items there can be (named by short labels, the rest counted), a change since
    last time, the note that the questions changed and the chart's legend, still fits."""
    r = Renderer(CONTENT, locale)
    previous = {**score(BANK, "full", answers_at(BANK, "full", 4, True), {}).as_snapshot(),
                "content_version": "2026.11-1"}
    legend = r.message("photo_caption", previous=True, cohort=True)
    mixed = {i.id: (Answer(UNSURE) if n % 2 else Answer(option_with(i, 4).id, False))
             for n, i in enumerate(BANK.items)}
    longest = 0
    for answers in (PATTERNS["all not sure"]("full"), PATTERNS["all capped"]("full"), mixed):
        result = score(BANK, "full", answers, WORST_CONTEXT)
        card = r.card(result, previous, legend=legend)
        assert_telegram_html(card)
        longest = max(longest, telegram_length(card))
        listed = result.blind_spots or result.capped
        rest = len(listed) - (r.CARD_ITEMS - 1)
        assert r.message("and_more", count=rest) in card  # "24 more", not 27 names
    assert longest <= layout.CAPTION_LIMIT, longest


# Chinese punctuation around Chinese words: "（小）", not "(小)". Quoted article headings keep
# the article's own punctuation (article 003 writes "一致性(Consistency)").
ASCII_BRACKETS_BY_HANZI = re.compile(r"[\u4e00-\u9fff，。：] ?\([^)]*\)|\([^)]*\) ?[\u4e00-\u9fff]")
QUOTED = re.compile(r"「[^」]*」|“[^”]*”|《[^》]*》")


def test_chinese_texts_use_full_width_brackets():
    from bot.content.render import Sample, render_samples

    found = sorted({(s.locale, s.where, m.group(0)) for s in render_samples(CONTENT)
                    if isinstance(s, Sample) and s.locale.startswith("zh")
                    for m in ASCII_BRACKETS_BY_HANZI.finditer(QUOTED.sub("", to_plain(s.text)))})
    assert not found, found[:10]
