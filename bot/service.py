"""The application service both adapters (Telegram, console) call: it ties the store, the pure
flow and scoring, and the renderer together. It knows nothing of Telegram.

Every method derives what to show from the database, so any process can serve any tap.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property

from bot.content import PRIMARY_LOCALE, Content
from bot.content.document import ReportDocument
from bot.content.render import Button, Renderer, Screen, to_plain
from bot.domain.bank import UNSURE
from bot.domain.feedback import Gap, Release, largest_gap
from bot.domain.flow import (
    AssessmentState,
    Flow,
    ItemView,
    Move,
    Outcome,
    Verdict,
    apply_move,
    same_intent,
)
from bot.domain.scoring import PlanAction, Priority, Result, score
from bot.storage import AssessmentRecord, Store, UserRecord
from bot.storage.cohorts import CohortStore

log = logging.getLogger(__name__)

ZH_HANT_CODES = ("zh-hant", "zh-tw", "zh-hk", "zh-mo")
TAP_ATTEMPTS = 3  # a tap that keeps losing races (three writers at once) is told so
_TYPED_NUMBER = re.compile(r"\s*(\d{1,2})\s*[.)。]?\s*")  # after NFKC ("２" is "2")


def locale_for(language_code: str | None) -> str:
    """Telegram's language_code to a content locale: zh-hant/tw/hk -> zh-Hant, zh* -> zh-Hans."""
    code = (language_code or "").lower().replace("_", "-")
    if code.startswith(ZH_HANT_CODES):
        return "zh-Hant"
    if code.startswith("zh"):
        return "zh-Hans"
    return "en"


@dataclass(frozen=True)
class ChartData:
    """What bot.chart.render_radar draws: a radar of `labels` with up to three series."""

    labels: tuple[str, ...]  # one per axis, in the chart's locale
    # name, values 0-100 (one per label), style: "solid" (filled), "dashed" or "dotted"
    series: tuple[tuple[str, tuple[float, ...], str], ...]
    locale: str  # a content locale: picks the fonts' design (bot.fonts.faces)
    title: str | None = None  # a line above the chart, bold
    subtitle: str | None = None  # a smaller grey line under it (who, how many, when)
    show_values: bool = True  # the first series' value next to each axis label
    size: str = "phone"  # "phone": 1080 x 1080 px; "projector": 1920 x 1080 px, big words


@dataclass(frozen=True)
class Report:
    """What the report sends: the result card (the chart's caption; `card_text` with the
    eight dimension bars is sent instead when there is no chart) with the offers as its
    buttons (Coach.card_buttons); the top priorities (`pages`) one at a time behind the first
    of them (Coach.priority_screen)."""

    assessment_id: int
    mode: str
    result: Result
    card: str
    card_text: str
    pages: tuple[str, ...]
    chart: ChartData
    document_name: str  # "trust-cx-report-2026-11-30.pdf", in the reader's language
    render_document: Callable[[], ReportDocument] = field(repr=False, compare=False)

    @cached_property
    def document(self) -> ReportDocument:
        """The full report's words (bot/report_pdf.py renders the PDF), rendered when first asked
        for: most reports are read in the chat, and the document was half of a report's CPU
        (about 5 of 10 ms; 500 owners finishing at once paid 2.5 s for PDFs nobody had asked
        for yet)."""
        return self.render_document()


@dataclass(frozen=True)
class TapResult:
    verdict: Verdict
    notice: str | None  # a short answer to the tap (stale, invalid ...)
    screen: Screen | None  # what the question message should now show
    record: AssessmentRecord | None
    report: Report | None = None


class Coach:
    def __init__(self, content: Content, store: Store):
        self.content = content
        self.store = store
        self._flows: dict[tuple[str, str], Flow] = {}
        # Called with the record when a staff member finishes their assessment of a business
        # (the 360° check publishes the team's average from them).
        self.staff_finished: list = []
        # The 360° check's published views of an owner (bot.feedback.Feedback.views): owner id
        # -> Views (team, customers: LinkView or None). None when the feature is not wired.
        self.feedback_views = None

    def flow(self, mode: str, version: str | None = None) -> Flow:
        """The flow of a mode in a content version (an archived one for assessments taken with
        it; the current one otherwise)."""
        bank = self.content.bank_for(version)
        key = (bank.version, mode)
        if key not in self._flows:
            self._flows[key] = Flow(bank, mode)
        return self._flows[key]

    def flow_of(self, record: AssessmentRecord) -> Flow:
        return self.flow(record.state.mode, record.content_version)

    def renderer(self, locale: str | None, version: str | None = None) -> Renderer:
        return Renderer(self.content, locale or PRIMARY_LOCALE, version)

    # --- users -------------------------------------------------------------------------------
    async def user(self, user_id: int, language_code: str | None) -> UserRecord:
        return await self.store.ensure_user(user_id, locale_for(language_code))

    async def set_language(self, user_id: int, locale: str) -> bool:
        if locale not in self.content.texts:
            return False
        await self.store.set_language(user_id, locale)
        return True

    # --- screens -----------------------------------------------------------------------------
    def welcome(self, locale: str, name: str | None, open_record: AssessmentRecord | None,
                status: str | None = None) -> Screen:
        """The greeting. A returning owner (`status`: their latest result and plan, see
        Coaching.status) is welcomed back with it and buttons for the result and the plan; an
        open assessment adds continue or restart."""
        r = self.renderer(locale)
        if status is not None:
            text = r.message("welcome_back", name=name) + "\n" + status
            mine = ((Button(r.button("your_result"), ("rep",)),
                     Button(r.button("plan_short"), ("plan", 0))),)
        else:
            text = r.message("welcome", name=name)
            mine = ()
        if open_record is not None and not self.flow_of(open_record).is_complete(
                open_record.state):
            done, total = self.flow_of(open_record).answered_items(open_record.state)
            text += "\n\n" + r.message("welcome_resume", done=done, total=total)
            aid = open_record.state.id
            return Screen(text, (
                (Button(r.button("resume"), ("go", aid)),),
                (Button(r.button("restart"), ("new", "full")),
                 Button(r.button("quick"), ("new", "quick"))),
            ) + mine + ((Button(r.button("language"), ("lang",)),),))
        return Screen(text, mine + self.start_buttons(r))

    @staticmethod
    def start_buttons(r: Renderer) -> tuple[tuple[Button, ...], ...]:
        return ((Button(r.button("full"), ("new", "full")),),
                (Button(r.button("quick"), ("new", "quick")),),
                (Button(r.button("language"), ("lang",)),))

    def language_screen(self, locale: str) -> Screen:
        r = self.renderer(locale)
        buttons = tuple((Button(self.renderer(loc).message("language_name"), ("lang", loc)),)
                        for loc in self.content.texts)
        return Screen(r.message("choose_language"), buttons)

    def step_screen(self, record: AssessmentRecord, locale: str) -> Screen:
        return self.renderer(locale, record.content_version).step(self.flow_of(record),
                                                                  record.state)

    def paused_screen(self, record: AssessmentRecord, locale: str) -> Screen:
        r = self.renderer(locale)
        # The same count as the welcome's "continue" line: questions answered of those asked.
        done, total = self.flow_of(record).answered_items(record.state)
        return Screen(r.message("paused", done=done, total=total),
                      ((Button(r.button("resume"), ("go", record.state.id)),),))

    # --- typed answers ------------------------------------------------------------------------
    def typed_option(self, record: AssessmentRecord, text: str | None) -> str | None:
        """The option a typed number picks on the question on show: "2", "2.", "２" (a
        Chinese keyboard's full-width digit) pick option 2. None when no numbered question is
        on show (a business question, an evidence check) or the text is not one of its
        numbers. Multiple choice is never typed: only the business questions have it, and
        their buttons carry names, not numbers."""
        view = self.flow_of(record).view(record.state)
        if not isinstance(view, ItemView):
            return None
        found = _TYPED_NUMBER.fullmatch(unicodedata.normalize("NFKC", text or ""))
        if found is None:
            return None
        options = view.step.item.options
        number = int(found.group(1))
        return options[number - 1].id if 1 <= number <= len(options) else None

    def numbered(self, record: AssessmentRecord) -> int:
        """How many numbered options the question on show has (0: none is on show)."""
        view = self.flow_of(record).view(record.state)
        return len(view.step.item.options) if isinstance(view, ItemView) else 0

    def answered_screen(self, record: AssessmentRecord, locale: str, option_id: str) -> Screen:
        """The question on show with a typed answer, for its message to keep (no buttons)."""
        r = self.renderer(locale, record.content_version)
        view = self.flow_of(record).view(record.state)
        item = view.step.item
        business = r.business(record.state.context)
        number = next(n for n, o in enumerate(item.options, start=1) if o.id == option_id)
        return Screen(r.message("typed_answered", dimension=r.dimension(item.dimension),
                                question=r.item_text(item.id, "question", business),
                                answer=f"{number}. {r.option_text(item.id, option_id, business)}"))

    # --- assessments -------------------------------------------------------------------------
    async def start(self, user_id: int, mode: str) -> AssessmentRecord:
        """A new assessment on the current content; a retake starts from the earlier context
        answers ("still the same business?")."""
        flow = self.flow(mode)
        return await self.store.start_assessment(
            user_id, mode, self.content.bank.version,
            (flow.start_position(True), flow.start_position(False)),
            tuple(q.id for q in self.content.bank.context))

    async def _placed(self, record: AssessmentRecord | None) -> AssessmentRecord | None:
        """An open assessment whose cursor a content upgrade reset (-1) goes to its first
        unanswered step, once (the write is a compare-and-set like every tap)."""
        if record is None or record.status != "open" or record.state.cursor >= 0:
            return record
        flow = self.flow_of(record)
        position = flow.resume_position(record.state)
        await self.store.apply_move(Move(record.state.id, -1, position))
        return await self.store.load_assessment(record.state.id)

    async def open_assessment(self, user_id: int) -> AssessmentRecord | None:
        return await self._placed(await self.store.open_assessment(user_id))

    async def owned(self, user_id: int, assessment_id: int) -> AssessmentRecord | None:
        """The assessment if it belongs to this user; None for anyone else's (no hint given)."""
        record = await self.store.load_assessment(assessment_id)
        if record is None or record.user_id != user_id:
            return None
        return await self._placed(record)

    async def tap(self, user_id: int, locale: str, action: tuple) -> TapResult:
        """One tap on an assessment button: validate it against the database, then write it
        conditionally on the state it was decided on. When another replica (or tap) wrote first,
        the tap is decided again on the new state: applied if it still means what it meant,
        "Already saved." if the new state already holds it, else the user is told it lost the
        race and sees what is saved. A tap is acknowledged only when its write is stored."""
        kind, assessment_id, position, *rest = action
        r = self.renderer(locale)
        record = await self.owned(user_id, assessment_id)
        if record is not None and self.store.written_by_this_update(record):
            # This very update is processed again (its replica died after writing): its move is
            # in; answer as the first time did.
            report = await self.finish_if_complete(record, locale)
            if record.status == "finished":
                if record.state.staff:
                    return self._staff_done(record, locale)
                return TapResult(Verdict.APPLIED, None, Screen(r.message("report_ready")),
                                 record, report or await self.report(record, locale))
            return TapResult(Verdict.APPLIED, None, self.step_screen(record, locale), record)
        first: Move | None = None  # the move decided on the first state read
        for _ in range(TAP_ATTEMPTS):
            if record is None or record.status != "open":
                current = await self.open_assessment(user_id)
                screen = self.step_screen(current, locale) if current else None
                notice = r.message("stale") if current else r.message("stale_no_assessment")
                if first is not None and current is not None:
                    notice = r.message("lost_race")
                return TapResult(Verdict.STALE, notice, screen, current)
            flow = self.flow_of(record)
            if kind == "pause":
                if position != record.state.cursor:
                    return self._stale(record, locale)
                return TapResult(Verdict.APPLIED, None, self.paused_screen(record, locale),
                                 record)
            outcome = self._decide(flow, record.state, kind, position, rest)
            if outcome.verdict is Verdict.APPLIED and first is not None \
                    and not same_intent(first, outcome.move):
                # A tick that another tap set as this one wanted: toggling again would undo it.
                outcome = Outcome(Verdict.DUPLICATE)
            if outcome.verdict is Verdict.DUPLICATE:
                screen = self.step_screen(record, locale) if first is not None else None
                return TapResult(Verdict.DUPLICATE, r.message("duplicate"), screen, record)
            if outcome.verdict is not Verdict.APPLIED:
                if first is not None:
                    return self._lost(record, locale)
                if outcome.verdict is Verdict.STALE:
                    return self._stale(record, locale)
                return TapResult(Verdict.INVALID, self._invalid_notice(flow, record, r), None,
                                 record)
            move = outcome.move
            after = apply_move(record.state, move)
            result = plan = None
            if flow.is_complete(after):  # the last answer: closed in the same transaction
                result = self.compute(replace(record, state=after))
                plan = [] if after.staff else \
                    [(a.priority.recommendation.id, a.phase) for a in result.plan]
            if await self.store.apply_move(move, (result.as_snapshot(), plan) if result else None):
                record.state = after
                if result is None:
                    return TapResult(Verdict.APPLIED, None, self.step_screen(record, locale),
                                     record)
                record.status = "finished"
                record.state.finished = True
                if record.state.staff:  # a staff member's view of the business: no report
                    for hook in self.staff_finished:
                        await hook(record)
                    return self._staff_done(record, locale)
                report = await self.report(record, locale, result)
                return TapResult(Verdict.APPLIED, None, Screen(r.message("report_ready")),
                                 record, report)
            first = first or move
            record = await self.owned(user_id, assessment_id)  # someone wrote first: read again
        return self._lost(record, locale) if record is not None else \
            TapResult(Verdict.STALE, r.message("stale_no_assessment"), None, None)

    def _staff_done(self, record: AssessmentRecord, locale: str) -> TapResult:
        """A staff member finished the team view: thanks, and no report (their scores only
        count in the team's average)."""
        return TapResult(Verdict.APPLIED, None,
                         Screen(self.renderer(locale).message("feedback.staff_done")), record)

    def _lost(self, record: AssessmentRecord, locale: str) -> TapResult:
        """The tap lost a race: not acknowledged; the user sees what is saved."""
        screen = self.step_screen(record, locale) if record.status == "open" else None
        return TapResult(Verdict.STALE, self.renderer(locale).message("lost_race"), screen,
                         record)

    def _decide(self, flow: Flow, state: AssessmentState, kind: str, position: int,
                rest: list) -> Outcome:
        if kind == "ans" and rest:
            return flow.answer_item(state, position, rest[0])
        if kind == "ev" and rest and rest[0] in ("y", "n"):
            return flow.answer_evidence(state, position, rest[0] == "y")
        if kind == "ctx" and rest:
            return flow.choose_context(state, position, rest[0])
        if kind == "ok":
            return flow.confirm_context(state, position)
        if kind == "back":
            return flow.back(state, position)
        if kind == "rv" and rest and rest[0] in ("y", "n"):
            return flow.review(state, position, rest[0] == "y")
        return Outcome(Verdict.INVALID)

    def _invalid_notice(self, flow: Flow, record: AssessmentRecord, r: Renderer) -> str:
        step = flow.steps[record.state.cursor] \
            if 0 <= record.state.cursor < len(flow.steps) else None
        if step is not None and step.context is not None and step.context.multi:
            chosen = len(record.state.context.get(step.context.id, ()))
            if chosen >= step.context.max_choices:
                return r.message("too_many", max=step.context.max_choices)
            if chosen < step.context.min_choices:
                return r.message("choose_at_least", min=step.context.min_choices)
        return r.message("invalid")

    def _stale(self, record: AssessmentRecord, locale: str) -> TapResult:
        return TapResult(Verdict.STALE, self.renderer(locale).message("stale"),
                         self.step_screen(record, locale), record)

    async def resume(self, user_id: int, assessment_id: int | None = None):
        """The given assessment if it is this user's and open, else their open one."""
        if assessment_id is not None:
            record = await self.owned(user_id, assessment_id)
            if record is not None and record.status == "open":
                return record
        return await self.open_assessment(user_id)

    # --- reports -----------------------------------------------------------------------------
    def compute(self, record: AssessmentRecord) -> Result:
        """The result from the stored answers, scored with the bank they were given in."""
        return score(self.content.bank_for(record.content_version), record.state.mode,
                     record.state.answers, record.state.context, record.state.staff)

    def stored_plan(self, record: AssessmentRecord, items) -> tuple[PlanAction, ...]:
        """The plan as it was made when the assessment finished (its stored actions and
        phases), not as today's ranking would make it."""
        bank = self.content.bank_for(record.content_version)
        result = self.compute(record)
        out = []
        for stored in items:
            item_id, level = stored.recommendation_id.rsplit(".", 1)
            item = bank.item(item_id)
            rec = next((r for r in item.recommendations if r.level == level), None) \
                if item else None
            if rec is None:  # an action of a version this bot no longer has: skip it
                continue
            answer = record.state.answers.get(item_id)
            out.append(PlanAction(stored.phase, Priority(
                item_id, item.dimension, result.item_scores.get(item_id) or 0,
                answer.option_id if answer else UNSURE, rec, 0.0, item_id in result.capped)))
        return tuple(out)

    async def finish(self, record: AssessmentRecord, locale: str) -> Report | None:
        """Close the assessment with its scores (and plan) and make its report. A staff member's
        assessment of a business (the 360° check) has no report: its scores go into the team's
        average (the `staff_finished` hooks), and None is returned."""
        result = self.compute(record)
        plan = [] if record.state.staff else \
            [(a.priority.recommendation.id, a.phase) for a in result.plan]
        await self.store.finish(record.state.id, result.as_snapshot(), plan)
        record.status = "finished"
        record.state.finished = True
        if record.state.staff:
            for hook in self.staff_finished:
                await hook(record)
            return None
        return await self.report(record, locale, result)

    async def finish_if_complete(self, record: AssessmentRecord, locale: str) -> Report | None:
        """An assessment whose last answer was written but whose closing was interrupted."""
        if record.status == "open" and self.flow_of(record).is_complete(record.state):
            return await self.finish(record, locale)
        return None

    async def has_report(self, user_id: int) -> bool:
        return bool(await self.store.finished_assessments(user_id, limit=1))

    async def latest_report(self, user_id: int, locale: str) -> Report | None:
        records = await self.store.finished_assessments(user_id, limit=1)
        return await self.report(records[0], locale) if records else None

    async def report(self, record: AssessmentRecord, locale: str,
                     result: Result | None = None) -> Report:
        result = result or self.compute(record)
        r = self.renderer(locale, record.content_version)
        previous = await self.store.previous_scores(record.user_id, record.state.id)
        bank = self.content.bank
        team, customers = await self.published_views(record.user_id)
        series = [(r.message("chart_you"), _values(bank.dimensions, result.dimensions), "solid")]
        room = None
        if team is not None or customers is not None:
            series[0] = (r.message("feedback.report.chart_you"), series[0][1], "solid")
            # The 360° check: you, your team, your customers (three shapes at most, so the
            # previous assessment and the group average step aside).
            if team is not None:
                series.append((r.message("feedback.report.chart_team", answers=team.responses),
                               _values(bank.dimensions, team.dimensions), "dashed"))
            if customers is not None:
                series.append((r.message("feedback.report.chart_customers",
                                         answers=customers.responses),
                               _values(bank.dimensions, customers.dimensions), "dotted"))
            legend = r.views_legend(team, customers)
        else:
            if previous:
                series.append((r.message("chart_previous"),
                               _values(bank.dimensions, previous.get("dimensions", {})),
                               "dashed"))
            room = await CohortStore(self.store.engine).room_average(  # from 5 finished
                record.user_id, bank.dimensions, tuple(bank.indices)) \
                if await self.store.in_cohort(record.user_id) else None
            if room is not None:
                series.append((r.message("chart_cohort"),
                               _values(bank.dimensions, room.dimensions), "dotted"))
            legend = r.message("photo_caption", previous=bool(previous),
                               cohort=room is not None) if previous or room is not None else ""
        pages, gap = self._pages(r, result, customers)
        views = (team, customers, gap) if team is not None or customers is not None else None
        aid = record.state.id
        return Report(
            assessment_id=aid,
            mode=record.state.mode,
            result=result,
            card=r.card(result, previous, legend=legend, gap=gap),
            card_text=r.card(result, previous, dimensions=True, legend=legend if views else "",
                             gap=gap),
            pages=pages,
            chart=ChartData(
                labels=tuple(r.model(f"dimensions.{d}.short") for d in bank.dimensions),
                series=tuple(series),
                locale=r.locale,
            ),
            document_name=f"{r.plain('document_filename')}-"
                          f"{(record.finished_at or datetime.now(UTC)):%Y-%m-%d}.pdf",
            render_document=lambda: r.report_document(
                result, record.state.mode, record.state.answers, record.state.context,
                record.finished_at, previous=bool(previous), cohort=room is not None,
                views=views),
        )

    async def published_views(self, owner_id: int) -> tuple[Release | None, Release | None]:
        """The team's and the customers' published averages of this owner's business (None
        where nothing may be shown yet: fewer than 3 staff or 5 customer answers)."""
        if self.feedback_views is None or not await self.store.owns_feedback_link(owner_id):
            return None, None
        views = await self.feedback_views(owner_id)
        return (views.team.release if views.team else None,
                views.customers.release if views.customers else None)

    def card_buttons(self, report: Report, locale: str,
                     checkin: bool = True) -> tuple[tuple[Button, ...], ...]:
        """The result card's buttons: the top priorities (one at a time, in a message of their
        own), the plan and the full report, the team's (not for a solo owner) and the
        customers' views (/team, /customers), check-ins (left out when `checkin` is False:
        /report does not ask again) and a retake."""
        r = self.renderer(locale)
        aid = report.assessment_id
        rows: list[tuple[Button, ...]] = []
        if report.pages:
            title = to_plain(r.message("priorities_button", count=len(report.pages)))
            rows.append((Button(title, ("pri", aid, 1, "n")),))
        rows.append((Button(r.button("plan_short"), ("plan", aid)),
                     Button(r.button("report_document"), ("doc", aid))))
        views = [Button(r.plain("feedback.buttons.customers_view"), ("fb", "customer", "open"))]
        if r.business(report.result.context)["team"]:  # a solo owner has no team to ask
            views.insert(0, Button(r.plain("feedback.buttons.team_view"), ("fb", "team", "open")))
        rows.append(tuple(views))
        last = [Button(r.button("retake"), ("new", report.mode, "n"))]
        if checkin:
            last.insert(0, Button(r.button("checkin"), ("chk", aid)))
        rows.append(tuple(last))
        return tuple(rows)

    def priority_screen(self, aid: int, pages: tuple[str, ...], locale: str,
                        number: int = 1) -> Screen:
        """Priority `number` of the report, with "Next priority ▸" (the same message shows the
        next one; the last leads back to the first), the plan and the full report."""
        r = self.renderer(locale)
        count = len(pages)
        number = min(max(1, number), count) if count else 0
        text = pages[number - 1] if count else r.message("priorities_none")
        rows: list[tuple[Button, ...]] = []
        if count > 1:
            rows.append((Button(r.button("next_priority"), ("pri", aid, number + 1))
                         if number < count else
                         Button(r.button("first_priority"), ("pri", aid, 1)),))
        rows.append((Button(r.button("plan_short"), ("plan", aid)),
                     Button(r.button("report_document"), ("doc", aid))))
        return Screen(text, tuple(rows))

    async def priority_page(self, user_id: int, assessment_id: int, number: int,
                            locale: str) -> Screen | None:
        """The report's priority `number` (from the card, or "Next priority"); None when the
        assessment is not this user's finished one."""
        record = await self.owned(user_id, assessment_id)
        if record is None or record.status != "finished":
            return None
        result = self.compute(record)
        r = self.renderer(locale, record.content_version)
        _, customers = await self.published_views(user_id)
        pages, _ = self._pages(r, result, customers)
        return self.priority_screen(assessment_id, pages, locale, number)

    def _pages(self, r: Renderer, result: Result,
               customers: Release | None) -> tuple[tuple[str, ...], Gap | None]:
        """The report's priorities, one page each, and the largest owner-vs-customers gap: when
        it is real (bot.domain.feedback.largest_gap) its page comes first (article 000)."""
        gap = largest_gap(result.dimensions, customers, self.content.bank.dimensions)
        count = len(result.priorities) + (gap is not None)
        pages = tuple(r.priority_page(result, n, first=1 + (gap is not None), count=count)
                      for n in range(1, len(result.priorities) + 1))
        if gap is not None and customers is not None:
            pages = (r.gap_page(gap, customers.responses, result.context, count),) + pages
        return pages, gap


def _values(dimensions: tuple[str, ...], scores: dict) -> tuple[float, ...]:
    return tuple(float(scores.get(d) or 0.0) for d in dimensions)
