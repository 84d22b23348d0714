"""The wording rules of content/lint.yaml, applied by `content check` to every rendering.

- **Fit rules** (`rules`): every text of every current item (question, options, check, label,
  every recommendation) is rendered for every kind of business in the persona matrix (each sector
  x team sizes x channel sets of lint.yaml), and no rendering for a business a rule covers (its
  `when`, an expression over the business context) may contain one of its words: a solo owner is
  never told about staff, a business without premises never about its till.
- **zh-Hant rules** (`zh-Hant`): no zh-Hant text (current and archived) contains a known
  mis-conversion or Mainland term (`forbidden`, regular expressions), and quotations use 「」.

Rendering every template once per *distinct* combination of the variables it reads keeps the
matrix cheap: most texts read one or two variables.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

from jinja2 import TemplateError, meta

from bot.domain.context import CHANNELS

from .loader import Content, Problem, _flatten, safe_load


def _load(content: Content) -> dict[str, Any]:
    return safe_load((content.directory / "lint.yaml").read_text(encoding="utf-8")) or {}


def personas(content: Content, config: dict[str, Any]) -> list[dict[str, tuple[str, ...]]]:
    """The context answers of every business the check renders for."""
    sectors = next(q.options for q in content.bank.context if q.id == "sector")
    matrix = config.get("personas") or {}
    sizes = matrix.get("sizes") or ["solo", "t2_5"]
    channel_sets = matrix.get("channel_sets") or [[c] for c in CHANNELS]
    return [{"sector": (sector,), "team": (size,), "channels": tuple(channels)}
            for sector, size, channels in itertools.product(sectors, sizes, channel_sets)]


def _words(words: list[str], locale: str) -> re.Pattern:
    """English words match whole words (any case); Chinese ones anywhere."""
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"\b(?:{alternatives})\b" if locale == "en" else alternatives,
                      re.IGNORECASE)


def _describe(answers: dict[str, tuple[str, ...]]) -> str:
    return ", ".join(f"{k} {'+'.join(v)}" for k, v in answers.items())


SAMPLE_EXTRAS = {"business_name": "Mei's", "owner_score": 75, "customer_score": 40}


def fit_problems(content: Content, config: dict[str, Any]) -> list[Problem]:
    from .render import Renderer

    problems: list[Problem] = []
    env = content.env
    rules = []
    for name, rule in (config.get("rules") or {}).items():
        when = env.compile_expression(rule["when"])
        rules.append((name, when, {loc: _words(ws, loc) for loc, ws in rule["words"].items()}))
    businesses = personas(content, config)
    for locale in content.texts:
        r = Renderer(content, locale)
        contexts = []
        for answers in businesses:
            business = r.business(answers)
            flags = tuple(bool(when(**business)) for _, when, _ in rules)
            contexts.append((answers, business, flags))

        def check(path: str, where: str, fields: dict[str, str], asked, render,
                  locale: str = locale) -> None:
            """Render each field for every business it can differ for; apply the rules."""
            for field_path, source in fields.items():
                try:
                    names = meta.find_undeclared_variables(env.parse(str(source)))
                except TemplateError:
                    continue  # reported by the loader
                seen: set[tuple] = set()
                for answers, business, flags in asked:
                    # One rendering per distinct input it reads and rule it falls under.
                    key = (tuple(repr(business.get(n)) for n in sorted(names)), flags)
                    if key in seen:
                        continue
                    seen.add(key)
                    try:
                        out = str(render(field_path, source, business))
                    except TemplateError as exc:
                        problems.append(Problem(path, where, field_path,
                                                f"render ({_describe(answers)}): {exc}"))
                        break
                    found = next(((name, hit.group(0)) for (name, _, words), on
                                  in zip(rules, flags, strict=True)
                                  if on and locale in words
                                  and (hit := words[locale].search(out))), None)
                    if found:
                        problems.append(Problem(path, where, field_path,
                                                f"{found[0]}: {found[1]!r} for "
                                                f"{_describe(answers)}: {out[:80]}"))
                        break

        for item in content.bank.items:
            text = r.items[item.id]
            fields = {"label": text.label, "question": text.question}
            if text.check:
                fields["check"] = text.check
            for oid, option in text.options.items():
                fields[f"options.{oid}.text"] = option.text
                fields[f"options.{oid}.label"] = option.label
            for level, rec in text.recommendations.items():
                for f in ("title", "what", "first_step", "metric"):
                    fields[f"recommendations.{level}.{f}"] = getattr(rec, f)
            check(f"locales/{locale}/items/{item.dimension}.yaml", item.id, fields,
                  [c for c in contexts if item.applies_to(c[1])],
                  lambda path, _src, business, item=item, r=r: r.item_text(item.id, path,
                                                                         business))

        def plain(_path, source, business):
            return env.from_string(str(source)).render(**business, **SAMPLE_EXTRAS)

        for qid, text in r.texts.pulse.items():
            fields = {"question": text.question}
            for oid, option in text.options.items():
                fields[f"options.{oid}.text"] = option.text
                fields[f"options.{oid}.label"] = option.label
            check(f"locales/{locale}/pulse.yaml", qid, fields, contexts, plain)
        for dimension, text in r.texts.gaps.items():
            fields = {f: getattr(text, f) for f in ("title", "what", "first_step", "metric")}
            check(f"locales/{locale}/gaps.yaml", dimension, fields,
                  [(a, {**b, "dimension": r.dimension(dimension)}, f) for a, b, f in contexts],
                  plain)
    return problems


def hant_problems(content: Content, config: dict[str, Any]) -> list[Problem]:
    rules = config.get("zh-Hant") or {}
    forbidden = [re.compile(p) for p in rules.get("forbidden") or []]
    quotes = rules.get("quotes") or []
    problems: list[Problem] = []
    files = sorted((content.directory / "locales" / "zh-Hant").rglob("*.yaml"))
    files += sorted(content.directory.glob("archive/*/locales/zh-Hant/**/*.yaml"))
    for file in files:
        data = safe_load(file.read_text(encoding="utf-8")) or {}
        rel = str(file.relative_to(content.directory))
        for key, value in _flatten(data).items():
            if not isinstance(value, str):
                continue
            for pattern in forbidden:
                found = pattern.search(value)
                if found:
                    problems.append(Problem(rel, key, "zh-Hant",
                                            f"{found.group(0)!r} is not Taiwan usage "
                                            f"(lint.yaml): {value[:60]}"))
            for mark in quotes:
                if mark in value:
                    problems.append(Problem(rel, key, "zh-Hant", f"quotes: {mark} (use 「」)"))
                    break
    return problems


def lint_problems(content: Content) -> list[Problem]:
    """The wording rules, then every screen on the phone and the welcome's time promises
    (screens.py), all for the persona matrix."""
    from .screens import phone_problems, promise_problems

    config = _load(content)
    businesses = personas(content, config)
    return (fit_problems(content, config) + hant_problems(content, config)
            + phone_problems(content, businesses) + promise_problems(content, businesses))


__all__ = ["lint_problems", "personas", "Path"]
