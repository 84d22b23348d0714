"""Advice that fits the business: owners of different kinds take the full assessment through the
real Application, in every locale, and the report they get fits what they said about themselves.

A solo owner is never told about staff; a business without premises never about its till or
counter (the words are the content's own rules, content/lint.yaml); the top three come from three
dimensions; days 1-30 of the plan always hold something; every recommendation the bank has, not
only the ones these answers reached, reads right for the business.
"""

from __future__ import annotations

import functools
import json
import random
import re

import pytest
import yaml

from bot.content.render import Renderer, to_plain
from bot.domain.bank import UNSURE
from bot.domain.context import business_context
from bot.domain.scoring import Priority

from .fakes import buttons
from .helpers_domain import CONTENT_DIR, real_content

CONTENT = real_content()
RULES = yaml.safe_load((CONTENT_DIR / "lint.yaml").read_text(encoding="utf-8"))["rules"]

# Five owners the product is for; the first three are the issue's, the others the team's own.
PERSONAS = {
    "solo consultant": {"sector": "services", "team": "solo", "channels": ["phone", "social"]},
    "online-only shop, 2-5": {"sector": "online", "team": "t2_5",
                              "channels": ["online_shop", "social"]},
    "café, 2-5 staff": {"sector": "cafe", "team": "t2_5", "channels": ["in_person", "social"]},
    "plumber on the phone": {"sector": "trades", "team": "solo", "channels": ["phone"]},
    "salon, 6-20": {"sector": "beauty", "team": "t6_20",
                    "channels": ["in_person", "phone", "social"]},
}
LOCALE_CODES = {"en": "en", "zh-Hans": "zh-hans", "zh-Hant": "zh-tw"}


def _words(rule: str, locale: str) -> re.Pattern:
    words = RULES[rule]["words"][locale]
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"\b(?:{alternatives})\b" if locale == "en" else alternatives, re.I)


@functools.cache
def citations(locale: str) -> list[str]:
    """Every source line the bot can show in a locale: the articles' own headings, quoted as
    they are ("Train the staff" stays the article's words, also for a solo owner)."""
    r = Renderer(CONTENT, locale)
    sources = {(rec.source, rec.adapted) for i in CONTENT.bank.items for rec in i.recommendations}
    sources |= {(i.source, False) for i in CONTENT.bank.items}
    return sorted({to_plain(r.source(src, adapted)) for src, adapted in sources}, key=len,
                  reverse=True)


def misfits(text: str, business: dict, locale: str) -> list[str]:
    """The words in `text` that do not fit this business (citations aside)."""
    for line in citations(locale):
        text = text.replace(line, "")
    found = []
    if business["solo"]:
        found += _words("solo_owner_has_no_staff", locale).findall(text)
    if not business["shopfront"]:
        found += _words("no_premises_no_counter", locale).findall(text)
    return found


async def _press_data(p, predicate) -> None:
    screen = p.screen
    data = next(d for _, d in buttons(screen) if predicate(d))
    await p.press(data, screen.message_id)


async def take_full_assessment(p, persona: dict, rng: random.Random) -> None:
    """Start, describe the business, then answer every question (a mix of every answer kind)."""
    await p.send("/start")
    await _press_data(p, lambda d: d == "new:full")
    await _press_data(p, lambda d: d.startswith("ctx:") and d.endswith(f":{persona['sector']}"))
    await _press_data(p, lambda d: d.startswith("ctx:") and d.endswith(f":{persona['team']}"))
    for channel in persona["channels"]:
        await _press_data(p, lambda d, c=channel: d.startswith("ctx:") and d.endswith(f":{c}"))
    await _press_data(p, lambda d: d.startswith("ok:"))
    await _press_data(p, lambda d: d.startswith("ok:"))  # nothing picked as mattering most
    for _ in range(80):
        datas = [d for _, d in buttons(p.screen)]
        if not any(d.startswith(("ans:", "ev:")) for d in datas):
            break
        if any(d.startswith("ev:") for d in datas):
            wanted = ":y" if rng.random() < 0.5 else ":n"
            await _press_data(p, lambda d, w=wanted: d.startswith("ev:") and d.endswith(w))
            continue
        answers = [d for d in datas if d.startswith("ans:") and not d.endswith(":na")]
        await p.press(rng.choice(answers), p.screen.message_id)


@pytest.mark.parametrize("locale", list(LOCALE_CODES))
@pytest.mark.parametrize("name", list(PERSONAS))
async def test_the_report_fits_the_business(person, telegram, store, name, locale):
    persona = PERSONAS[name]
    answers = {"sector": (persona["sector"],), "team": (persona["team"],),
               "channels": tuple(persona["channels"])}
    business = business_context(answers)
    p = person(7000 + list(PERSONAS).index(name), LOCALE_CODES[locale])
    await take_full_assessment(p, persona, random.Random(name + locale))

    record = (await store.finished_assessments(p.id))[0]
    assert record.state.context["team"] == (persona["team"],)
    asked = CONTENT.bank.items_for("full", business)
    assert set(record.state.answers) == {i.id for i in asked}

    coach = p.app.bot_data["coach"]
    result = coach.compute(record)
    assert len({pr.dimension for pr in result.priorities}) == len(result.priorities) == 3
    first_month = [a for a in result.plan if a.phase == CONTENT.bank.plan_phases[0].id]
    assert first_month, "days 1-30 always hold something to do"
    assert all(any(a.phase == ph.id for a in result.plan) for ph in CONTENT.bank.plan_phases)

    await p.send("/plan")
    # Everything the owner was shown: every question, option, button, the report and the plan.
    shown = []
    for method in ("sendMessage", "editMessageText", "sendPhoto", "sendDocument"):
        for call in telegram.called(method):
            if str(call.params.get("chat_id")) != str(p.id):
                continue
            shown.append(to_plain(str(call.params.get("text") or call.params.get("caption")
                                      or "")))
            markup = call.params.get("reply_markup") or {}
            if isinstance(markup, str):
                markup = json.loads(markup)
            shown += [b["text"] for row in markup.get("inline_keyboard", []) for b in row]
    assert len(shown) > 2 * len(asked)
    everything = "\n".join(shown)
    assert not misfits(everything, business, locale), misfits(everything, business, locale)

    # Every recommendation of every item asked, not only the ones these answers reached.
    r = Renderer(CONTENT, locale)
    words = r.business(answers)
    for item in asked:
        for rec in item.recommendations:
            answered = UNSURE if rec.unsure else item.options[rec.from_score].id
            card = r.priority_card(Priority(item.id, item.dimension, rec.from_score, answered,
                                            rec, 1.0), words)
            text = to_plain(" ".join(str(v) for k, v in card.items() if k != "source"))
            assert not misfits(text, business, locale), (rec.id, misfits(text, business, locale))
