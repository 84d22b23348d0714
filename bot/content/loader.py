"""Load ``content/`` into a :class:`Content`, collecting every mistake with its file, id and field.

Layout (see content/README.md):
  bank/model.yaml              dimensions, indices, levels, weights, context questions
  bank/<dimension>.yaml        items, options (id + score), recommendations (effort + source)
  bank/lessons.yaml            sources of the lessons and workshop suggestions
  sources.yaml                 the article files, and the passages of them that content may cite
  lint.yaml                    wording rules the check applies to every rendering (see lint.py)
  locales/<locale>/*.yaml      all wording: ui.yaml (message templates), model.yaml, items/, lessons
  templates/*.j2               message and document templates shared by the locales
  archive/<version>/           earlier content versions, frozen, to show assessments taken with them

Every text of an item (question, options, check, recommendations) is a Jinja2 template over the
business context (bot/domain/context.py): content is written for the business in front of it.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from babel import Locale
from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError, meta
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.domain.bank import (
    RESERVED_OPTION_IDS,
    UNSURE_LEVEL,
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
from bot.domain.feedback import Pulse, PulseQuestion

LOCALES = ("zh-Hans", "zh-Hant", "en")
PRIMARY_LOCALE = "zh-Hans"
DEFAULT_CONTENT_DIR = Path(__file__).resolve().parents[2] / "content"
DEFAULT_ARTICLES_DIR = DEFAULT_CONTENT_DIR / "articles"  # the project carries what it cites
# CLDR plural categories. A ui message may be a mapping of these to its forms (`other` always):
#   priorities_title: {one: "Your top priority", other: "Your top {{ count }} priorities"}
# and the renderer picks the form of `count` under the locale's plural rules.
PLURAL_CATEGORIES = ("zero", "one", "two", "few", "many", "other")


def is_plural(node: Any) -> bool:
    """A message with plural forms: a mapping whose keys are CLDR categories, `other` among them."""
    return isinstance(node, dict) and "other" in node and set(node) <= set(PLURAL_CATEGORIES)


@lru_cache(maxsize=8)
def babel_locale(locale: str) -> Locale:
    """Babel's CLDR data for a content locale ("zh-Hans" -> zh_Hans)."""
    return Locale.parse(locale, sep="-")


@dataclass(frozen=True)
class Problem:
    file: str
    where: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.field}: {self.message}"


class ContentError(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        first = problems[0] if problems else "no details"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"invalid content: {first}{more}")


# --- schemas of the files --------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceModel(_Strict):
    """An inline source (archived content only); current content cites passage keys."""

    article: str = Field(pattern=r"^\d{3}$")
    section: str = Field(min_length=2, max_length=60)


SourceRef = str | SourceModel  # a key of sources.yaml `passages`, or an inline source


class HantPassageModel(_Strict):
    article: str = Field(pattern=r"^\d{3}$")
    section: str = Field(min_length=2, max_length=60)
    quote: str = Field(min_length=8)


class PassageModel(_Strict):
    article: str = Field(pattern=r"^\d{3}$")
    section: str = Field(min_length=2, max_length=60)
    quote: str = Field(min_length=8)  # occurs exactly once in the article: what backs the advice
    hant: HantPassageModel | None = None  # the same passage in the traditional-Chinese copy


class OptionModel(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]{1,10}$")
    score: int = Field(ge=0, le=4)


class RecommendationModel(_Strict):
    from_: int | Literal["unsure"] = Field(alias="from")
    effort: str = Field(pattern=r"^(small|medium|large)$")
    source: SourceRef
    covers: list[str] = []
    adapted: bool = False  # the action goes beyond the cited passage: "in the spirit of"


class ItemModel(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{2,19}$")
    quick: bool = False
    basic: bool = False
    evidence: bool = False
    not_applicable: bool = False
    applies: str | None = None  # a Jinja2 expression over the business context
    source: SourceRef
    covers: list[str] = []
    options: list[OptionModel]
    recommendations: list[RecommendationModel]


class DimensionFile(_Strict):
    dimension: str
    items: list[ItemModel] = Field(min_length=1)


class PulseQuestionModel(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{2,19}$")
    dimension: str
    source: SourceRef
    options: list[OptionModel] = Field(min_length=5, max_length=5)


class PulseFile(_Strict):
    questions: list[PulseQuestionModel] = Field(min_length=1)


class GapModel(_Strict):
    effort: str = Field(pattern=r"^(small|medium|large)$")
    source: SourceRef


class GapsFile(_Strict):
    gaps: dict[str, GapModel]


class LevelModel(_Strict):
    id: str
    min: float


class ContextModel(_Strict):
    id: str
    multi: bool = False
    min: int = 1
    max: int = 1
    options: list[str] = Field(min_length=2)


class PhaseModel(_Strict):
    id: str


class ModelFile(_Strict):
    version: str
    dimensions: list[str] = Field(min_length=1)
    indices: dict[str, list[str]]
    levels: list[LevelModel] = Field(min_length=2)
    priority: dict[str, Any]
    plan_phases: list[PhaseModel] = Field(min_length=1)
    context: list[ContextModel]


class ArchivedModelFile(_Strict):
    """An archived version's model: what its items and context questions were."""

    version: str
    dimensions: list[str] = Field(min_length=1)
    context: list[ContextModel]


class ArticleModel(_Strict):
    file: str


class SourcesFile(_Strict):
    articles: dict[str, ArticleModel]
    passages: dict[str, PassageModel] = {}


class LessonSources(_Strict):
    sources: list[SourceRef] = Field(min_length=1)


class LessonsBank(_Strict):
    lessons: dict[str, LessonSources]
    workshops: dict[str, LessonSources]


class RecText(_Strict):
    title: str = Field(min_length=1)
    what: str = Field(min_length=1)
    first_step: str = Field(min_length=1)
    metric: str = Field(min_length=1)


class OptionText(_Strict):
    text: str = Field(min_length=1)  # the full anchor, in the question message
    label: str = Field(min_length=1)  # 1-4 words: the answer button


class ItemText(_Strict):
    label: str = Field(min_length=1)  # the item's short name (blind spots, capped notes)
    question: str = Field(min_length=1)
    options: dict[str, OptionText]
    check: str | None = None  # the evidence check's question
    recommendations: dict[str, RecText]  # "unsure", "0".."3"

    @field_validator("recommendations", mode="before")
    @classmethod
    def _keys_as_text(cls, value):
        return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value


class PulseText(_Strict):
    question: str = Field(min_length=1)
    options: dict[str, OptionText]


class LessonText(_Strict):
    title: str = Field(min_length=1)
    paragraphs: list[str] = Field(min_length=3, max_length=6)
    try_this_week: str = Field(min_length=1)


class WorkshopText(_Strict):
    title: str = Field(min_length=1)
    goal: str = Field(min_length=1)
    steps: list[str] = Field(min_length=2)
    takeaway: str = Field(min_length=1)


# --- the loaded content ----------------------------------------------------------------------
@dataclass
class LocaleTexts:
    locale: str
    ui: dict[str, Any]  # nested; leaves are Jinja templates (buttons: plain text)
    model: dict[str, Any]  # names of dimensions, levels, context options, sector words ...
    items: dict[str, ItemText]  # the current version's items
    lessons: dict[str, LessonText]
    workshops: dict[str, WorkshopText]
    sources: dict[str, str] = field(default_factory=dict)  # passage key -> section in this locale
    archived_items: dict[str, dict[str, ItemText]] = field(default_factory=dict)  # by version
    pulse: dict[str, PulseText] = field(default_factory=dict)  # customer pulse question texts
    gaps: dict[str, RecText] = field(default_factory=dict)  # "close the gap" advice per dimension

    def items_of(self, version: str | None) -> dict[str, ItemText]:
        """The item texts of a content version (the current one for None or an unknown one)."""
        return self.archived_items.get(version or "", self.items)


@dataclass
class Content:
    directory: Path
    bank: Bank
    texts: dict[str, LocaleTexts]
    articles: dict[str, str]  # article id -> file name
    lesson_sources: dict[str, tuple[Source, ...]]
    workshop_sources: dict[str, tuple[Source, ...]]
    env: Environment = field(repr=False, default=None)  # type: ignore[assignment]
    passages: dict[str, PassageModel] = field(default_factory=dict)
    archived: dict[str, Bank] = field(default_factory=dict)  # version -> frozen bank
    pulse: Pulse | None = None  # the customer pulse (the 360° check)
    # "close the gap" advice per dimension: (effort, source)
    gaps: dict[str, tuple[str, Source]] = field(default_factory=dict)

    def locale(self, locale: str) -> LocaleTexts:
        return self.texts.get(locale) or self.texts[PRIMARY_LOCALE]

    def bank_for(self, version: str | None) -> Bank:
        """The bank an assessment was taken with: its archived version, else the current one."""
        return self.archived.get(version or "", self.bank)


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


class _Collector:
    def __init__(self, root: Path):
        self.root = root
        self.problems: list[Problem] = []

    def add(self, path: Path | str, where: str, field_: str, message: str) -> None:
        name = path if isinstance(path, str) else _rel(path, self.root)
        self.problems.append(Problem(name, where, field_, message))

    def read_yaml(self, path: Path) -> Any:
        if not path.is_file():
            self.add(path, "-", "-", "file is missing")
            return None
        try:
            return safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f"line {mark.line + 1}" if mark else "-"
            self.add(path, line, "-", f"not valid YAML: {getattr(exc, 'problem', exc)}")
            return None

    def parse(self, path: Path, schema: type[BaseModel], data: Any, where_key: str | None = None):
        """Validate with pydantic; each error becomes a Problem naming the item id and field."""
        try:
            return schema.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors():
                loc = list(err["loc"])
                where = "-"
                if where_key and len(loc) >= 2 and loc[0] == where_key and isinstance(loc[1], int):
                    try:
                        where = str(data[where_key][loc[1]].get("id", f"#{loc[1]}"))
                    except (AttributeError, IndexError, KeyError, TypeError):
                        where = f"#{loc[1]}"
                    loc = loc[2:]
                self.add(path, where, ".".join(str(p) for p in loc) or "-", err["msg"])
            return None


def _parse_map(col: _Collector, path: Path, value_schema, data) -> dict:
    """Validate a mapping id -> text block, naming the id of every mistake."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        col.add(path, "-", "-", "expected a mapping of ids")
        return {}
    out = {}
    for key, value in data.items():
        try:
            out[str(key)] = value_schema.model_validate(value)
        except ValidationError as exc:
            for err in exc.errors():
                col.add(path, str(key), ".".join(str(p) for p in err["loc"]) or "-", err["msg"])
    return out


def _source(m: SourceModel) -> Source:
    return Source(m.article, m.section)


def _resolve(col: _Collector, path: Path, where: str, field_: str, ref: SourceRef,
             passages: dict[str, PassageModel], inline_ok: bool) -> Source:
    """A passage key (or, in archived content, an inline source) -> the domain's Source."""
    if isinstance(ref, SourceModel):
        if not inline_ok:
            col.add(path, where, field_, "cite a passage key of sources.yaml (passages)")
        return _source(ref)
    passage = passages.get(ref)
    if passage is None:
        col.add(path, where, field_, f"unknown passage {ref!r} (sources.yaml passages)")
        return Source("000", ref, "", ref)
    return Source(passage.article, passage.section, passage.quote, ref)


def _applies(col: _Collector, path: Path, where: str, env: Environment, expression: str | None):
    """Compile an item's `applies` expression into a predicate over the business context."""
    if not expression:
        return None
    try:
        compiled = env.compile_expression(expression)
    except TemplateError as exc:
        col.add(path, where, "applies", getattr(exc, "message", None) or str(exc))
        return None
    try:  # every variable it names must exist: try it on the neutral context
        compiled(**business_context({}))
    except TemplateError as exc:
        col.add(path, where, "applies", getattr(exc, "message", None) or str(exc))
        return None
    return lambda context, test=compiled: bool(test(**context))


def _build_items(col: _Collector, root: Path, bank_dir: Path, dimensions: list[str],
                 passages: dict[str, PassageModel], env: Environment, archived: bool,
                 ) -> tuple[list[Item], dict[str, Path]]:
    items: list[Item] = []
    item_files: dict[str, Path] = {}
    for dimension in dimensions:
        path = bank_dir / f"{dimension}.yaml"
        parsed = col.parse(path, DimensionFile, col.read_yaml(path), where_key="items")
        if parsed is None:
            continue
        if parsed.dimension != dimension:
            col.add(path, "-", "dimension", f"says {parsed.dimension!r}, expected {dimension!r}")
        if sum(1 for i in parsed.items if i.quick) != 1:
            col.add(path, "-", "quick", "exactly one item per dimension must have quick: true")
        if len(parsed.items) < 3:
            col.add(path, "-", "items", "at least 3 items per dimension")
        for it in parsed.items:
            if it.id in item_files:
                col.add(path, it.id, "id", f"duplicate item id (also in "
                                           f"{_rel(item_files[it.id], root)})")
                continue
            item_files[it.id] = path
            _check_item(col, path, it, archived)
            if it.quick and it.applies:
                col.add(path, it.id, "applies", "the quick item must apply to every business")
            items.append(Item(
                id=it.id, dimension=dimension, quick=it.quick, basic=it.basic,
                evidence=it.evidence, not_applicable=it.not_applicable,
                source=_resolve(col, path, it.id, "source", it.source, passages, archived),
                covers=tuple(it.covers),
                options=tuple(Option(o.id, o.score) for o in it.options),
                recommendations=tuple(
                    Recommendation(it.id, 0 if r.from_ == UNSURE_LEVEL else r.from_, r.effort,
                                   _resolve(col, path, it.id, f"recommendations.{r.from_}.source",
                                            r.source, passages, archived),
                                   tuple(r.covers), unsure=r.from_ == UNSURE_LEVEL,
                                   adapted=r.adapted)
                    for r in sorted(it.recommendations,
                                    key=lambda r: -1 if r.from_ == UNSURE_LEVEL else r.from_)
                ),
                applies=_applies(col, path, it.id, env, it.applies),
            ))
    return items, item_files


def _context_questions(model) -> tuple[ContextQuestion, ...]:
    return tuple(ContextQuestion(c.id, c.multi, tuple(c.options), c.max, c.min if c.multi else 1)
                 for c in model.context)


def _build_bank(col: _Collector, root: Path, passages: dict[str, PassageModel],
                env: Environment) -> tuple[Bank | None, dict[str, Path]]:
    model_path = root / "bank" / "model.yaml"
    model = col.parse(model_path, ModelFile, col.read_yaml(model_path))
    if model is None:
        return None, {}
    items, item_files = _build_items(col, root, root / "bank", model.dimensions, passages, env,
                                     archived=False)
    for name, dims in model.indices.items():
        for d in dims:
            if d not in model.dimensions:
                col.add(model_path, name, "indices", f"unknown dimension {d!r}")
    mins = [lvl.min for lvl in model.levels]
    if mins != sorted(mins) or mins[0] != 0:
        col.add(model_path, "-", "levels", "levels must start at 0 and rise")
    try:
        weights = PriorityWeights(**model.priority)
    except TypeError as exc:
        col.add(model_path, "-", "priority", str(exc))
        weights = PriorityWeights()
    bank = Bank(
        version=model.version,
        dimensions=tuple(model.dimensions),
        indices={k: tuple(v) for k, v in model.indices.items()},
        levels=tuple(Level(lvl.id, lvl.min) for lvl in model.levels),
        context=_context_questions(model),
        items=tuple(items),
        weights=weights,
        plan_phases=tuple(PlanPhase(p.id) for p in model.plan_phases),
    )
    return bank, item_files


def _build_archive(col: _Collector, root: Path, passages: dict[str, PassageModel],
                   env: Environment, current: Bank | None) -> dict[str, tuple[Bank, Path]]:
    """Every archived version: a bank with its own items and context questions and the current
    levels, indices and weights (scores stay comparable across versions)."""
    out: dict[str, tuple[Bank, Path]] = {}
    if current is None:
        return out
    for folder in sorted((root / "archive").glob("*/")):
        model_path = folder / "bank" / "model.yaml"
        model = col.parse(model_path, ArchivedModelFile, col.read_yaml(model_path))
        if model is None:
            continue
        if model.version != folder.name:
            col.add(model_path, "-", "version", f"must be the folder's name {folder.name!r}")
        if model.version == current.version:
            col.add(model_path, "-", "version", "archived under the current version's name")
        items, _ = _build_items(col, root, folder / "bank", model.dimensions, passages, env,
                                archived=True)
        out[model.version] = (replace(current, version=model.version,
                                      context=_context_questions(model), items=tuple(items)),
                              folder)
    return out


def _check_item(col: _Collector, path: Path, it: ItemModel, archived: bool = False) -> None:
    scores = sorted(o.score for o in it.options)
    if scores != [0, 1, 2, 3, 4]:
        col.add(path, it.id, "options", f"needs one option for each score 0-4, has {scores}")
    ids = [o.id for o in it.options]
    if len(set(ids)) != len(ids):
        col.add(path, it.id, "options", "duplicate option id")
    if [o.score for o in it.options] != sorted(o.score for o in it.options):
        col.add(path, it.id, "options", "options must run from worst (0) to best (4)")
    for o in it.options:
        if o.id in RESERVED_OPTION_IDS:
            col.add(path, it.id, f"options.{o.id}", "reserved option id")
    froms = sorted(str(r.from_) for r in it.recommendations)
    wanted = ["0", "1", "2", "3"] + ([] if archived else ["unsure"])
    if froms != wanted:
        col.add(path, it.id, "recommendations",
                f"needs one for each of {', '.join(wanted)}, has {', '.join(froms) or 'none'}")


PINYIN_NOTE = re.compile(r"\([a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]+\)")


def _article_text(text: str) -> str:
    """An article as the check reads it: without the pinyin notes one copy carries after some
    characters (003: 企業(yè)), which are the web page's, not the author's."""
    return PINYIN_NOTE.sub("", text)


def _check_sources(col, root, bank_files, sources, articles_dir, lesson_bank, lessons_path):
    """Every passage occurs in its article (the quote exactly once, so it names one place);
    every citation names a passage or, in archived content, a section of a known article."""
    known = {k: v.file for k, v in sources.articles.items()} if sources else {}
    texts: dict[str, str] = {}
    for art, name in known.items():
        if articles_dir is not None and articles_dir.is_dir():
            file = articles_dir / name
            if file.is_file():
                texts[art] = _article_text(file.read_text(encoding="utf-8"))
            else:
                col.add(root / "sources.yaml", art, "file", f"{name} not found in {articles_dir}")
    sources_path = root / "sources.yaml"
    for key, passage in (sources.passages if sources else {}).items():
        for where, part in (("", passage), ("hant.", passage.hant)):
            if part is None:
                continue
            if part.article not in known:
                col.add(sources_path, key, f"{where}article", f"unknown article {part.article!r}")
                continue
            if part.article not in texts:
                continue
            text = texts[part.article]
            if part.section not in text:
                col.add(sources_path, key, f"{where}section",
                        f"{part.section!r} is not in article {known[part.article]}")
            count = text.count(part.quote)
            if count != 1:
                col.add(sources_path, key, f"{where}quote",
                        f"occurs {count} times in article {known[part.article]} "
                        "(must be exactly once: quote a longer passage)")

    def check(path, where, field_, src: Source):
        if src.key:
            return  # a passage: checked above
        if src.article not in known:
            col.add(path, where, field_, f"unknown article {src.article!r}")
        elif src.article in texts and src.section not in texts[src.article]:
            col.add(path, where, f"{field_}.section",
                    f"{src.section!r} is not in article {known[src.article]}")

    for bank, files in bank_files:
        for item in bank.items:
            path = files.get(item.id, root / "bank")
            check(path, item.id, "source", item.source)
            for rec in item.recommendations:
                check(path, item.id, f"recommendations.{rec.level}.source", rec.source)
    if lesson_bank is not None:
        passages = sources.passages if sources else {}
        for kind, table in (("lessons", lesson_bank.lessons), ("workshops", lesson_bank.workshops)):
            for dim, entry in table.items():
                for n, ref in enumerate(entry.sources):
                    check(lessons_path, dim, f"{kind}.sources.{n}",
                          _resolve(col, lessons_path, dim, f"{kind}.sources.{n}", ref, passages,
                                   inline_ok=False))


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted key -> leaf; a message with plural forms is one leaf (a dict)."""
    if isinstance(tree, dict) and not (prefix and is_plural(tree)):
        out: dict[str, Any] = {}
        for k, v in tree.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: tree}


def _load_items(col: _Collector, base: Path, bank: Bank, archived: bool) -> dict[str, ItemText]:
    """The item texts of one locale for one bank version (`base`: the locale's folder)."""
    items: dict[str, ItemText] = {}
    for dimension in bank.dimensions:
        path = base / "items" / f"{dimension}.yaml"
        parsed = _parse_map(col, path, ItemText, col.read_yaml(path))
        for item in (i for i in bank.items if i.dimension == dimension):
            text = parsed.get(item.id)
            if text is None:
                col.add(path, item.id, "-", "item is missing in this locale")
                continue
            _check_item_text(col, path, item, text, archived)
            items[item.id] = text
        for extra in set(parsed) - {i.id for i in bank.items if i.dimension == dimension}:
            col.add(path, extra, "-", "no such item in the bank")
    return items


def _load_locale(col, root, locale, bank, lesson_bank, archive) -> LocaleTexts:
    base = root / "locales" / locale
    ui = col.read_yaml(base / "ui.yaml") or {}
    for extra in sorted(base.glob("ui-*.yaml")):  # e.g. ui-trainer.yaml: more messages
        for key, value in (col.read_yaml(extra) or {}).items():
            if key in ui:
                col.add(extra, str(key), "-", "key already defined in ui.yaml")
            ui[key] = value
    model = col.read_yaml(base / "model.yaml") or {}
    items = _load_items(col, base, bank, archived=False) if bank is not None else {}
    archived_items = {version: _load_items(col, folder / "locales" / locale, old, archived=True)
                      for version, (old, folder) in archive.items()}
    sources: dict[str, str] = {}
    if (base / "sources.yaml").is_file() or locale != PRIMARY_LOCALE:
        data = col.read_yaml(base / "sources.yaml") or {}
        if isinstance(data, dict):
            sources = {str(k): str(v) for k, v in data.items()}
        else:
            col.add(base / "sources.yaml", "-", "-", "expected passage key: section")
    lessons = _parse_map(col, base / "lessons.yaml", LessonText,
                         col.read_yaml(base / "lessons.yaml"))
    workshops = _parse_map(col, base / "workshops.yaml", WorkshopText,
                           col.read_yaml(base / "workshops.yaml"))
    if bank is not None:
        for kind, table, path in (("lesson", lessons, base / "lessons.yaml"),
                                  ("workshop", workshops, base / "workshops.yaml")):
            for d in bank.dimensions:
                if d not in table:
                    col.add(path, d, "-", f"{kind} is missing in this locale")
    pulse = _parse_map(col, base / "pulse.yaml", PulseText, col.read_yaml(base / "pulse.yaml"))
    gaps = _parse_map(col, base / "gaps.yaml", RecText, col.read_yaml(base / "gaps.yaml"))
    return LocaleTexts(locale, ui, model, items, lessons, workshops, sources, archived_items,
                       pulse, gaps)


def _build_pulse(col: _Collector, root: Path, bank: Bank | None,
                 passages: dict[str, PassageModel]) -> tuple[Pulse | None, dict]:
    """The customer pulse (one question per dimension, in the model's order) and the gap
    advice's effort and source per dimension."""
    path = root / "bank" / "pulse.yaml"
    parsed = col.parse(path, PulseFile, col.read_yaml(path), where_key="questions")
    gaps_path = root / "bank" / "gaps.yaml"
    gap_file = col.parse(gaps_path, GapsFile, col.read_yaml(gaps_path))
    if parsed is None or bank is None:
        return None, {}
    questions = []
    for q in parsed.questions:
        if q.dimension not in bank.dimensions:
            col.add(path, q.id, "dimension", f"unknown dimension {q.dimension!r}")
        if [o.score for o in q.options] != [0, 1, 2, 3, 4]:
            col.add(path, q.id, "options", "five options scoring 0-4, worst to best")
        if len({o.id for o in q.options}) != 5 or any(o.id == "na" for o in q.options):
            col.add(path, q.id, "options", "option ids unique, none of them 'na'")
        _resolve(col, path, q.id, "source", q.source, passages, inline_ok=False)
        questions.append(PulseQuestion(q.id, q.dimension,
                                       tuple(Option(o.id, o.score) for o in q.options)))
    order = {d: n for n, d in enumerate(bank.dimensions)}
    if sorted(q.dimension for q in questions) != sorted(bank.dimensions):
        col.add(path, "-", "questions", "exactly one question per dimension")
    questions.sort(key=lambda q: order.get(q.dimension, 99))
    gaps: dict[str, tuple[str, Source]] = {}
    if gap_file is not None:
        for d in bank.dimensions:
            g = gap_file.gaps.get(d)
            if g is None:
                col.add(gaps_path, d, "-", "the dimension has no gap advice")
                continue
            gaps[d] = (g.effort, _resolve(col, gaps_path, d, "source", g.source, passages,
                                          inline_ok=False))
    return Pulse(tuple(questions)), gaps


def _check_pulse_texts(col, root, pulse: Pulse | None, texts: dict[str, LocaleTexts],
                       bank: Bank | None) -> None:
    if pulse is None or bank is None:
        return
    for loc, lt in texts.items():
        path = root / "locales" / loc / "pulse.yaml"
        for q in pulse.questions:
            text = lt.pulse.get(q.id)
            if text is None:
                col.add(path, q.id, "-", "question is missing in this locale")
                continue
            for o in q.options:
                if o.id not in text.options:
                    col.add(path, q.id, f"options.{o.id}", "option text is missing")
        for extra in set(lt.pulse) - {q.id for q in pulse.questions}:
            col.add(path, extra, "-", "no such question in content/bank/pulse.yaml")
        gaps_path = root / "locales" / loc / "gaps.yaml"
        for d in bank.dimensions:
            if d not in lt.gaps:
                col.add(gaps_path, d, "-", "gap advice is missing in this locale")


def _check_item_text(col, path, item: Item, text: ItemText, archived: bool = False) -> None:
    for o in item.options:
        if o.id not in text.options:
            col.add(path, item.id, f"options.{o.id}", "option text is missing")
    for extra in set(text.options) - {o.id for o in item.options}:
        col.add(path, item.id, f"options.{extra}", "no such option in the bank")
    for r in item.recommendations:
        if r.level not in text.recommendations:
            col.add(path, item.id, f"recommendations.{r.level}", "recommendation missing")
    for extra in set(text.recommendations) - {r.level for r in item.recommendations}:
        col.add(path, item.id, f"recommendations.{extra}", "no such recommendation in the bank")
    if item.evidence and not text.check:
        col.add(path, item.id, "check", "the evidence check question is missing "
                                        "(the bank says evidence: true)")
    if not item.evidence and text.check and not archived:
        col.add(path, item.id, "check", "a check question, but the bank says evidence: false")


def _check_locale_sources(col, root, sources: SourcesFile | None,
                          texts: dict[str, LocaleTexts]) -> None:
    """en and zh-Hant name every passage in their language; zh-Hant's 001 passages are the
    traditional copy's own words (article 003)."""
    if sources is None:
        return
    for loc, lt in texts.items():
        if loc == PRIMARY_LOCALE:
            continue
        path = root / "locales" / loc / "sources.yaml"
        for key, passage in sources.passages.items():
            shown = lt.sources.get(key)
            if not shown:
                col.add(path, key, "-", "the passage has no section name in this locale")
            elif loc == "zh-Hant" and passage.hant is not None and shown != passage.hant.section:
                col.add(path, key, "-", f"must be the traditional copy's {passage.hant.section!r}")
        for extra in set(lt.sources) - set(sources.passages):
            col.add(path, extra, "-", "no such passage in sources.yaml")


def _check_parity(col, root, texts: dict[str, LocaleTexts]) -> None:
    """Every locale has exactly the keys of the primary locale's ui.yaml and model.yaml."""
    primary = texts.get(PRIMARY_LOCALE)
    if primary is None:
        return
    for name in ("ui", "model"):
        want = set(_flatten(getattr(primary, name)))
        for loc, lt in texts.items():
            if loc == PRIMARY_LOCALE:
                continue
            have = set(_flatten(getattr(lt, name)))
            path = root / "locales" / loc / ("ui*.yaml" if name == "ui" else f"{name}.yaml")
            for key in sorted(want - have):
                col.add(path, key, "-", f"missing (present in {PRIMARY_LOCALE})")
            for key in sorted(have - want):
                col.add(path, key, "-", f"not in {PRIMARY_LOCALE}")


def _check_model_names(col, root, bank: Bank, lt: LocaleTexts) -> None:
    """The locale names every dimension, index, level, context option, effort and phase."""
    path = root / "locales" / lt.locale / "model.yaml"
    m = lt.model
    required = [f"dimensions.{d}.{f}" for d in bank.dimensions for f in ("name", "short", "blurb")]
    required += [f"indices.{k}" for k in bank.indices]
    required += [f"levels.{lvl.id}.name" for lvl in bank.levels]
    required += [f"levels.{lvl.id}.description" for lvl in bank.levels]
    for q in bank.context:
        required += [f"context.{q.id}.question", f"context.{q.id}.short"]
        # the priorities' options are dimensions, named as what customers get from them
        required += [f"context.{q.id}.options.{o}" for o in q.options]
    sectors = next((q.options for q in bank.context if q.id == "sector"), ())
    required += [f"sectors.{s}.{w}" for s in sectors for w in SECTOR_WORDS]
    required += [f"effort.{e}" for e in ("small", "medium", "large")]
    required += [f"confidence.{c}" for c in ("high", "medium", "low")]
    required += [f"phases.{p.id}.{f}" for p in bank.plan_phases for f in ("title", "intro")]
    flat = _flatten(m)
    for key in required:
        if not flat.get(key):
            col.add(path, key.split(".")[1] if "." in key else key, key, "missing")


SECTOR_WORDS = ("customer", "customers", "thing")  # `v.customer` ... in item texts
PLAIN_UI_PREFIXES = ("buttons.", "commands.", "labels.", "progress.", "bar.")  # not templates


def _check_templates(col: _Collector, root: Path, env: Environment,
                     texts: dict[str, LocaleTexts]) -> None:
    """Every templates/*.j2 file and ui*.yaml message parses; an error names file, key and line.

    Runs even when other parts of the content are broken, so that every mistake is listed at once.
    """
    for name in env.list_templates(extensions=["j2"]):
        try:
            env.get_template(name)
        except TemplateError as exc:
            line = getattr(exc, "lineno", None)
            col.add(root / "templates" / name, f"line {line}" if line else "-", "template",
                    getattr(exc, "message", None) or str(exc))
    for loc in texts:
        base = root / "locales" / loc
        for path in (base / "ui.yaml", *sorted(base.glob("ui-*.yaml"))):
            try:
                tree = safe_load(path.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError):
                continue  # already reported when the locale was read
            for key, source in _flatten(tree if isinstance(tree, dict) else {}).items():
                if key.startswith(PLAIN_UI_PREFIXES):
                    continue
                forms = source if is_plural(source) else {"": source}
                for form, text in forms.items():
                    where = f"{key}.{form}" if form else key
                    try:
                        env.parse(str(text))
                    except TemplateError as exc:
                        col.add(path, where, "template",
                                getattr(exc, "message", None) or str(exc))
                _check_plural(col, path, loc, key, source, env)


def _check_plural(col: _Collector, path: Path, locale: str, key: str, source: Any,
                  env: Environment) -> None:
    """A message with plural forms has exactly the categories of its locale's plural rules
    (CLDR: English one/other, Chinese other only); a message counting with `count` in a
    locale whose rules have several categories must give its forms."""
    wanted = set(babel_locale(locale).plural_form.tags) | {"other"}
    if is_plural(source):
        for category in sorted(wanted - set(source)):
            col.add(path, key, category, f"plural form missing ({locale}: {sorted(wanted)})")
        for category in sorted(set(source) - wanted):
            col.add(path, key, category, f"{locale} has no plural category {category!r}")
        return
    if len(wanted) > 1 and isinstance(source, str):
        try:
            names = meta.find_undeclared_variables(env.parse(source))
        except TemplateError:
            return  # reported above
        if "count" in names:
            col.add(path, key, "-", f"counts with {{{{ count }}}}: give its plural forms "
                                    f"{sorted(wanted)}")


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str) -> Any:
    """yaml.safe_load with libyaml's parser when PyYAML has it (its wheels do): the same data
    and the same errors (yaml.YAMLError with a problem_mark), ~8x faster over content/."""
    return yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 (a safe loader)


_CODE: dict[tuple, Any] = {}  # (source, compile settings) -> code: ContentEnvironment.compile_once


class ContentEnvironment(Environment):
    """Jinja's Environment that, inside `compile_once()`, compiles each `from_string` source once.

    A lint renders the same wording for hundreds of businesses and every screen: compiling it
    again each time was most of `content check`'s time (9,800 compilations of ~4,900 distinct
    strings). Inside `compile_once` the Templates are kept, and the compiled Python code is also
    shared between environments of the same settings (the tests load many copies of content);
    after it the Templates are forgotten: kept, they took ~28 MB of a running bot's memory, where
    each Renderer keeps the few it uses anyway. Only plain strings without extra globals."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._compiled: dict[str, Any] = {}
        self._caching = 0

    @contextmanager
    def compile_once(self):
        self._caching += 1
        try:
            yield self
        finally:
            self._caching -= 1
            if not self._caching:
                self._compiled.clear()

    def from_string(self, source, globals=None, template_class=None):  # noqa: A002 (Jinja's name)
        if not self._caching or globals is not None or template_class is not None \
                or not isinstance(source, str):
            return super().from_string(source, globals, template_class)
        template = self._compiled.get(source)
        if template is None:
            # What compiling depends on: the syntax options and which filters and tests exist.
            key = (source, self.autoescape, self.trim_blocks, self.lstrip_blocks,
                   self.keep_trailing_newline, frozenset(self.filters), frozenset(self.tests))
            code = _CODE.get(key)
            if code is None:
                code = _CODE[key] = self.compile(source)
            template = self._compiled[source] = self.template_class.from_code(
                self, code, self.make_globals(None), None)
        return template


def make_environment(root: Path) -> Environment:
    env = ContentEnvironment(
        loader=FileSystemLoader(str(root / "templates")),
        autoescape=True,  # every template renders Telegram HTML: user text must come out as text
        auto_reload=False,  # content is loaded once at start-up: no stat() per render
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    return env


def load_content(
    directory: Path | str | None = None,
    articles_dir: Path | str | None = None,
    render_check: bool = True,
    lint: bool = False,
) -> Content:
    """Load and validate everything; raise :class:`ContentError` listing every mistake.

    `render_check` renders every template and message once with sample data (start-up);
    `lint` also renders every item for every kind of business and applies content/lint.yaml
    (`content check` and the tests: a few seconds).
    """
    root = Path(directory) if directory else DEFAULT_CONTENT_DIR
    arts = Path(articles_dir) if articles_dir else DEFAULT_ARTICLES_DIR
    col = _Collector(root)
    if not root.is_dir():
        raise ContentError([Problem(str(root), "-", "-", "content folder not found")])
    env = make_environment(root)
    sources = col.parse(root / "sources.yaml", SourcesFile, col.read_yaml(root / "sources.yaml"))
    passages = sources.passages if sources else {}
    bank, item_files = _build_bank(col, root, passages, env)
    archive = _build_archive(col, root, passages, env, bank)
    lessons_path = root / "bank" / "lessons.yaml"
    lesson_bank = col.parse(lessons_path, LessonsBank, col.read_yaml(lessons_path))
    bank_files = ([(bank, item_files)] if bank is not None else []) + [
        (old, {}) for old, _ in archive.values()]
    _check_sources(col, root, bank_files, sources, arts, lesson_bank, lessons_path)
    pulse, gaps = _build_pulse(col, root, bank, passages)
    texts = {loc: _load_locale(col, root, loc, bank, lesson_bank, archive) for loc in LOCALES}
    _check_pulse_texts(col, root, pulse, texts, bank)
    _check_parity(col, root, texts)
    _check_locale_sources(col, root, sources, texts)
    if bank is not None:
        for lt in texts.values():
            _check_model_names(col, root, bank, lt)
    _check_templates(col, root, env, texts)
    content = None
    if bank is not None and sources is not None and lesson_bank is not None:
        def refs(entry):
            return tuple(_resolve(col, lessons_path, "-", "sources", s, passages, False)
                         for s in entry.sources)

        content = Content(
            directory=root,
            bank=bank,
            texts=texts,
            articles={k: v.file for k, v in sources.articles.items()},
            lesson_sources={d: refs(e) for d, e in lesson_bank.lessons.items()},
            workshop_sources={d: refs(e) for d, e in lesson_bank.workshops.items()},
            env=env,
            passages=dict(passages),
            archived={version: old for version, (old, _) in archive.items()},
            pulse=pulse,
            gaps=gaps,
        )
    if content is not None and render_check and not col.problems:
        from .render import render_problems  # a sample render of every template and string

        col.problems.extend(render_problems(content))
    if content is not None and lint and not col.problems:
        from .lint import lint_problems  # every item for every kind of business

        with env.compile_once():
            col.problems.extend(lint_problems(content))
    if col.problems or content is None:
        raise ContentError(col.problems or [Problem(str(root), "-", "-", "content is incomplete")])
    return content


__all__ = ["Content", "ContentError", "LocaleTexts", "Problem", "load_content", "TemplateError"]
