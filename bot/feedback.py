"""The 360° check's service: the owner's team and customer links, the customer pulse, staff
assessments of the business, and what the owner may see of them. It knows nothing of Telegram;
the rules it applies are in bot/domain/feedback.py, the SQL in bot/storage/feedback.py.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.content.render import Button, Renderer, Screen
from bot.domain.feedback import (
    NA,
    NPS_RANGE,
    LinkView,
    Release,
    due_release,
    link_view,
    mean_dimensions,
    nps,
    parse_payload,
    pulse_dimensions,
)
from bot.service import Coach
from bot.storage import AssessmentRecord
from bot.storage.feedback import FeedbackStore, LinkInfo
from bot.storage.models import utcnow

log = logging.getLogger(__name__)
RATE_WINDOW = timedelta(minutes=10)
RATE_LIMIT = 30  # new pulses per link per window: far above a real counter, far below a script
NAME_MAX = 60


@dataclass(frozen=True)
class Views:
    """What the owner may see of both links (None: no link of that kind yet)."""

    team: LinkView | None
    customers: LinkView | None


@dataclass(frozen=True)
class Opened:
    """The answer to /start t_<code> or p_<code>."""

    screen: Screen
    link: LinkInfo | None  # None: unknown or closed code, or the owner's own link


class Feedback:
    def __init__(self, coach: Coach):
        self.coach = coach
        self.content = coach.content
        self.store = FeedbackStore(coach.store.engine)
        coach.staff_finished.append(self.staff_finished)
        coach.feedback_views = self.views  # the report, /history and check-ins show them

    def _r(self, locale: str) -> Renderer:
        return self.coach.renderer(locale)

    # --- publishing (the anonymity rule, bot/domain/feedback.py) --------------------------------
    async def _current(self, link: LinkInfo) -> tuple[list[dict], list[int], int]:
        """(dimension rows, NPS answers, how many people changed or deleted their answer since
        the last release: each person once, however often they changed it)."""
        dims = self.content.bank.dimensions
        since = link.released_at
        if link.kind == "team":
            results = await self.store.staff_results(link.id)
            rows = [{d: (scores.get("dimensions") or {}).get(d) for d in dims}
                    for _, scores, _ in results]
            changed = {str(u) for u, _, at in results if since is None or at > since}
            return rows, [], len(changed | link.deleted)
        pulse = self.content.pulse
        answers = await self.store.pulses(link.id)
        rows = [pulse_dimensions(pulse, a) for a, _, _, _ in answers]
        changed = {k for _, _, at, k in answers if since is None or at > since}
        return rows, [n for _, n, _, _ in answers if n is not None], len(changed | link.deleted)

    async def refresh(self, link: LinkInfo, now: datetime | None = None) -> LinkView:
        """Publish a new aggregate when the rule allows it; the owner's view of the link."""
        rows, scores, changed = await self._current(link)
        release = link.release
        if due_release(link.kind, len(rows), changed, release):
            release = Release(len(rows), mean_dimensions(rows, self.content.bank.dimensions),
                              nps(scores), len(scores), now or utcnow())
            await self.store.publish(link.id, release)
            changed = 0
        return link_view(link.kind, len(rows), changed, release)

    async def views(self, owner_id: int) -> Views:
        out = {}
        for kind in ("team", "customer"):
            link = await self.store.latest(owner_id, kind)
            out[kind] = await self.refresh(link) if link else None
        return Views(out["team"], out["customer"])

    async def staff_finished(self, record: AssessmentRecord) -> None:
        link = await self.store.link_of(record.state.id)
        if link is not None:
            await self.refresh(link)

    # --- the owner's screens -------------------------------------------------------------------
    async def owner_screen(self, owner_id: int, kind: str, locale: str,
                           bot_username: str) -> Screen:
        """/team or /customers: the link, what the owner may see so far and what to do."""
        r = self._r(locale)
        link = await self.store.latest(owner_id, kind)
        if link is None or not link.open:
            if not await self.coach.has_report(owner_id):
                return Screen(r.message("feedback.needs_report"))
            return Screen(r.message(f"feedback.{kind}_intro"), (
                (Button(r.plain("feedback.buttons.create"), ("fb", kind, "new")),),))
        view = await self.refresh(link)
        url = link_url(bot_username, link)
        text = r.message(f"feedback.{kind}_status", link=url, name=link.business_name,
                         answered=view.responses, needed=view.needed, visible=view.visible,
                         shown=view.release.responses if view.release else 0)
        card = "feedback.buttons.card" if kind == "customer" else "feedback.buttons.qr"
        rows = [(Button(r.plain(card), ("fb", kind, "card")),),
                (Button(r.plain("feedback.buttons.rename"), ("fb", kind, "name")),
                 Button(r.plain("feedback.buttons.renew"), ("fb", kind, "renew"))),
                (Button(r.plain("feedback.buttons.close"), ("fb", kind, "close")),)]
        return Screen(text, tuple(rows))

    async def create(self, owner_id: int, kind: str, name: str | None = None) -> LinkInfo:
        name = name if name is not None else await self.store.business_name(owner_id)
        return await self.store.create(owner_id, kind, name)

    async def owned(self, owner_id: int, kind: str) -> LinkInfo | None:
        link = await self.store.latest(owner_id, kind)
        return link if link is not None and link.open else None

    # --- respondents -----------------------------------------------------------------------------
    async def open(self, payload: str, user_id: int, locale: str) -> Opened | None:
        """/start t_<code> or p_<code>: the intro (whose business, what is stored, who sees
        what) and a start button; a clear refusal for an unknown or closed code or for the
        owner's own link; None when the payload is not a team or customer link at all."""
        parsed = parse_payload(payload)
        if parsed is None:
            return None
        kind, code = parsed
        r = self._r(locale)
        link = await self.store.by_code(code)
        if link is None or link.kind != kind or not link.open:
            return Opened(Screen(r.message("feedback.link_unknown")), None)
        if link.owner_id == user_id:
            return Opened(Screen(r.message(f"feedback.own_{kind}_link")), None)
        name = link.business_name or r.message("feedback.this_business")
        if kind == "team":
            return Opened(Screen(r.message("feedback.team_welcome", name=name), (
                (Button(r.plain("feedback.buttons.team_start"), ("ts", link.id)),),
                (Button(r.plain("feedback.buttons.decline"), ("fd", link.id)),))), link)
        return Opened(Screen(r.message("feedback.pulse_welcome", name=name), (
            (Button(r.plain("feedback.buttons.pulse_start"), ("ps", link.id)),),
            (Button(r.plain("feedback.buttons.decline"), ("fd", link.id)),))), link)

    async def _link_for(self, link_id: int, user_id: int, kind: str) -> LinkInfo | None:
        link = await self.store.get(link_id)
        if link is None or link.kind != kind or not link.open or link.owner_id == user_id:
            return None
        return link

    async def start_staff(self, link_id: int, user_id: int) -> AssessmentRecord | None:
        """A staff member starts the assessment of the business: the owner's context, staff
        wording, straight to the first question. None for a link not open to them."""
        link = await self._link_for(link_id, user_id, "team")
        if link is None:
            return None
        owners = await self.coach.store.finished_assessments(link.owner_id, limit=1)
        context = owners[0].state.context if owners else {}
        flow = self.coach.flow("full")
        return await self.coach.store.start_staff_assessment(
            user_id, "full", self.content.bank.version, link.id,
            {q: ",".join(o) for q, o in context.items()}, flow.first_item)

    async def pulse_screen(self, link_id: int, user_id: int, locale: str,
                           begin: bool = False) -> Screen | None:
        """The customer's next pulse question (or the 0-10 question, or thanks). None for a link
        not open to them. `begin` starts (or restarts, within 30 days: replaces) their pulse."""
        link = await self._link_for(link_id, user_id, "customer")
        if link is None:
            return None
        r = self._r(locale)
        respondent = await self.store.respondent(link.id, user_id)
        if begin:
            since = utcnow() - RATE_WINDOW
            existing = await self.store.pulse_draft(link.id, respondent)
            if existing is None and await self.store.recent_pulses(link.id, since) >= RATE_LIMIT:
                log.warning("pulse rate limit on link %s", link.id)
                return Screen(r.message("feedback.busy"))
        draft = await self.store.pulse_draft(link.id, respondent, begin=begin)
        if draft is None:
            return Screen(r.message("feedback.pulse_thanks"))
        return await self._pulse_step(r, link, draft.answers)

    async def business_of(self, r: Renderer, link: LinkInfo) -> dict:
        """The template variables of a link's business: its owner's context answers (sector,
        channels ...) and the name on the card."""
        owners = await self.coach.store.finished_assessments(link.owner_id, limit=1)
        business = r.business(owners[0].state.context if owners else None)
        business["business_name"] = link.business_name or r.plain("feedback.this_business")
        return business

    async def _pulse_step(self, r: Renderer, link: LinkInfo, answers: dict[str, str]) -> Screen:
        pulse = self.content.pulse
        business = await self.business_of(r, link)
        total = len(pulse.questions)
        n = len(answers)
        if n < total:
            q = pulse.questions[n]
            text = r.texts.pulse[q.id]
            env = self.content.env
            question = env.from_string(text.question).render(**business)
            rows = [(Button(html.unescape(env.from_string(text.options[o.id].label)
                                          .render(**business)), ("pu", link.id, n, o.id)),)
                    for o in reversed(q.options)]  # the best first: read from the top
            rows.append((Button(r.plain("pulse.labels.doesnt_apply"), ("pu", link.id, n, NA)),))
            return Screen(r.message("feedback.pulse_question", number=n + 1, total=total,
                                    question=question), tuple(rows))
        numbers = [Button(str(v), ("pn", link.id, v)) for v in NPS_RANGE]
        return Screen(r.message("feedback.nps_screen", question=r.message(
            "pulse.nps_question", business_name=business["business_name"]),
            low=r.message("pulse.nps_low"), high=r.message("pulse.nps_high")),
                      (tuple(numbers[:6]), tuple(numbers[6:]),
                       (Button(r.plain("pulse.labels.skip"), ("pn", link.id, "s")),)))

    async def pulse_answer(self, link_id: int, user_id: int, number: int, option_id: str,
                           locale: str) -> tuple[bool, Screen] | None:
        """One tap on a pulse question: (stored?, the next screen). A tap for another question
        than the one on screen changes nothing (stored False) and shows the right one."""
        link = await self._link_for(link_id, user_id, "customer")
        if link is None:
            return None
        pulse = self.content.pulse
        respondent = await self.store.respondent(link.id, user_id)
        draft = await self.store.pulse_draft(link.id, respondent)
        r = self._r(locale)
        if draft is None:
            return False, Screen(r.message("feedback.pulse_thanks"))
        ok = number == len(draft.answers) and number < len(pulse.questions)
        if ok:
            q = pulse.questions[number]
            ok = option_id == NA or q.option(option_id) is not None
            ok = ok and await self.store.pulse_answer(draft.response_id, q.id, option_id, number)
        draft = await self.store.pulse_draft(link.id, respondent)
        return ok, await self._pulse_step(r, link, draft.answers if draft else {})

    async def pulse_finish(self, link_id: int, user_id: int, value: int | None,
                           locale: str) -> Screen | None:
        """The 0-10 answer (or skip): the response is stored (replacing this person's earlier
        one within 30 days) and the owner's view refreshed."""
        link = await self._link_for(link_id, user_id, "customer")
        if link is None:
            return None
        r = self._r(locale)
        respondent = await self.store.respondent(link.id, user_id)
        draft = await self.store.pulse_draft(link.id, respondent)
        if draft is None:
            return Screen(r.message("feedback.pulse_thanks"))
        if len(draft.answers) < len(self.content.pulse.questions):
            return await self._pulse_step(r, link, draft.answers)
        if await self.store.pulse_finish(draft.response_id, value):
            await self.refresh(await self.store.get(link.id))
        return Screen(r.message("feedback.pulse_thanks"))


def link_url(bot_username: str, link: LinkInfo) -> str:
    prefix = "t_" if link.kind == "team" else "p_"
    return f"https://t.me/{bot_username}?start={prefix}{link.code}"
