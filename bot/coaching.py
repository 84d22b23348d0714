"""Coaching after the report: the plan to tick off, check-in reminders, history and lessons.

Like the coach, it derives everything from the database; the Telegram layer only sends.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.content.render import Button, Renderer, Screen, to_plain
from bot.domain.schedule import (
    checkin_at,
    clock_choices,
    moved_to_zone,
    offered_zones,
    quiet_hours_end,
    zone,
    zones_for,
)
from bot.domain.scoring import lowest
from bot.service import Coach
from bot.storage import AssessmentRecord, DueReminder, PlanItem

REMINDER_DAYS = (7, 30)
WORKING_AGAIN_DAYS = 7
CLOCK_ROW = 4  # time buttons per row on "what time is it for you now?"


@dataclass(frozen=True)
class CheckIn:
    reminder: DueReminder
    screen: Screen


class Coaching:
    def __init__(self, coach: Coach, default_tz: str = "UTC"):
        self.coach = coach
        self.store = coach.store
        self.default_tz = default_tz  # the operator's TIMEZONE, while a user's is unknown

    def _r(self, locale: str) -> Renderer:
        return self.coach.renderer(locale)

    @staticmethod
    def _label(r: Renderer, key: str) -> str:
        return str(r.texts.ui["coach"]["buttons"][key])

    # --- the plan ------------------------------------------------------------------------------
    async def _latest(self, user_id: int):
        records = await self.store.finished_assessments(user_id, limit=1)
        return records[0] if records else None

    def _titles(self, record, locale: str, item: PlanItem) -> tuple[str, str]:
        """An action's title and first step, worded for the assessment's business."""
        r = self.coach.renderer(locale, record.content_version)
        business = r.business(record.state.context)
        item_id, level = item.recommendation_id.rsplit(".", 1)
        return (html.unescape(r.item_text(item_id, f"recommendations.{level}.title", business)),
                r.item_text(item_id, f"recommendations.{level}.first_step", business))

    async def plan_screen(self, user_id: int, locale: str,
                          assessment_id: int | None = None) -> Screen | None:
        """The plan of the latest (or the given) finished assessment; None if not this user's.

        After a retake the actions ticked in the plan before stay in view: each one the new
        plan has again is marked "ticked last time", the others are listed under the plan.
        Ticks are not carried over: an action comes back only when the owner's new answer puts
        the practice at the same level again, so it is not in place yet; a carried tick would
        hide the gap the owner just reported."""
        r = self._r(locale)
        if assessment_id is None:
            record = await self._latest(user_id)
        else:
            record = await self.coach.owned(user_id, assessment_id)
            if record is None or record.status != "finished":
                return None
        items = await self.store.plan_items(record.state.id) if record else []
        if not items:
            return Screen(r.message("coach.plan_none"))
        done_ids = {i.recommendation_id for i in items if i.done}
        earlier, earlier_record = await self._earlier_ticks(record)
        current_ids = {i.recommendation_id for i in items}
        text = self.coach.renderer(locale, record.content_version).plan(
            self.coach.stored_plan(record, items), done_ids,
            header=r.message("coach.plan_header", done=len(done_ids), count=len(items)),
            context=record.state.context,
            before={i.recommendation_id for i in earlier} & current_ids)
        others = [self._titles(earlier_record, locale, i)[0] for i in earlier
                  if i.recommendation_id not in current_ids]
        if others:
            text += "\n\n" + r.message("coach.plan_earlier", count=len(others),
                                        items=r.label("list_separator").join(others))
        rows = []
        for n, item in enumerate(items, start=1):
            title, _ = self._titles(record, locale, item)
            mark = "☑" if item.done else "☐"
            rows.append((Button(f"{mark} {n}. {title}", ("pa", item.id, 0 if item.done else 1)),))
        return Screen(text, tuple(rows))

    async def _earlier_ticks(self, record) -> tuple[list[PlanItem], object]:
        """The actions ticked in the plan of the owner's finished assessment before `record`,
        and that assessment."""
        for older in await self.store.finished_assessments(record.user_id, limit=10):
            if older.state.id < record.state.id:
                items = await self.store.plan_items(older.state.id)
                return [i for i in items if i.done], older
        return [], None

    async def mark(self, user_id: int, plan_item_id: int, done: bool,
                   locale: str) -> tuple[str, Screen] | None:
        """Tick an action off (or back). None when the action is not this user's."""
        owner = await self.store.plan_item_owner(plan_item_id)
        if owner is None or owner[0] != user_id:
            return None
        await self.store.mark_plan_item(plan_item_id, done)
        items = await self.store.plan_items(owner[1])
        count = sum(1 for i in items if i.done)
        key = "coach.plan_marked_done" if done else "coach.plan_marked_open"
        notice = self._r(locale).message(key, done=count, count=len(items))
        return notice, await self.plan_screen(user_id, locale, owner[1])

    # --- reminders -----------------------------------------------------------------------------
    def _lesson_row(self, r: Renderer, scores: dict) -> tuple[tuple[Button, ...], ...]:
        """The lesson of the lowest-scoring dimension (the first in bank order among equals)."""
        focus = lowest(scores, self.coach.content.bank.dimensions)
        if focus is None:
            return ()
        title = to_plain(r.message("coach.lesson_button", name=r.dimension(focus)))
        return ((Button(title, ("learn", focus)),),)

    def offer(self, locale: str, assessment_id: int, scores: dict) -> Screen:
        """After the report: a check-in in 7 / 30 days or none, and the lesson of the lowest
        dimension (`scores`: dimension -> 0-100 or None)."""
        r = self._r(locale)
        rows = (tuple(Button(self._label(r, f"remind_{d}"), ("rem", assessment_id, d))
                      for d in REMINDER_DAYS),
                (Button(self._label(r, "remind_none"), ("rem", assessment_id, 0)),))
        return Screen(r.message("coach.reminder_offer"), rows + self._lesson_row(r, scores))

    async def _checkin_target(self, user_id: int, assessment_id: int, days: int):
        """The finished assessment a check-in is asked for, if it is this user's."""
        record = await self.coach.owned(user_id, assessment_id)
        if record is None or record.status != "finished" or days not in (0, *REMINDER_DAYS):
            return None
        return record

    async def schedule(self, user_id: int, assessment_id: int, days: int, locale: str,
                       now: datetime | None = None) -> Screen | None:
        """Schedule (days > 0) or decline (0); a user whose time zone is not known yet is asked
        for it first (the answer carries the request on, see `set_zone`). None when the
        assessment is not this user's."""
        r = self._r(locale)
        record = await self._checkin_target(user_id, assessment_id, days)
        if record is None:
            return None
        lesson = self._lesson_row(r, (record.scores or {}).get("dimensions", {}))
        if days == 0:
            await self.store.cancel_reminders(user_id)
            return Screen(r.message("coach.reminder_declined"), lesson)
        user = await self.store.get_user(user_id)
        if user is None or user.timezone is None:
            return self.zone_screen(locale, None, (assessment_id, days))
        where = zone(user.timezone, self.default_tz)
        due = checkin_at(now or datetime.now(UTC), days, where)
        await self.store.schedule_reminder(user_id, assessment_id, due)
        return Screen(r.message("coach.reminder_set", date=r.local_date(due, where),
                                time=r.local_time(due, where),
                                zone=r.zone_name(user.timezone)), lesson)

    # --- time zones ----------------------------------------------------------------------------
    def zone_screen(self, locale: str, current: str | None = None,
                    pending: tuple[int, int] | None = None) -> Screen:
        """"Which time zone are you in?": the short list for the user's language and "another",
        which asks for the time on the user's clock. `pending` (assessment id, days) is the
        check-in that is scheduled once the zone is chosen."""
        r = self._r(locale)
        tail = pending or ()
        buttons = [Button(r.zone_name(z), ("tz", z, *tail)) for z in zones_for(locale)]
        rows = [tuple(buttons[i:i + 2]) for i in range(0, len(buttons), 2)]
        rows.append((Button(self._label(r, "zone_other"), ("tzo", *tail)),))
        return Screen(r.message("coach.zone_ask", current=r.zone_name(current) if current else ""),
                      tuple(rows))

    def settings_screen(self, locale: str, current: str | None) -> Screen:
        """/settings: the language and the time zone, each changed with a tap (the zones right
        here, the language behind its button)."""
        r = self._r(locale)
        zones = self.zone_screen(locale)
        text = r.message("coach.settings", language=r.message("language_name"),
                         zone=r.zone_name(current) if current else "")
        return Screen(text, zones.buttons + ((Button(r.button("language"), ("lang",)),),))

    def clock_screen(self, locale: str, pending: tuple[int, int] | None = None,
                     now: datetime | None = None) -> Screen:
        """"What time is it for you now?": one button per clock reading, each meaning a zone."""
        r = self._r(locale)
        tail = pending or ()
        buttons = [Button(r.local_time(local, local.tzinfo), ("tz", name, *tail))
                   for name, local in clock_choices(now or datetime.now(UTC))]
        rows = [tuple(buttons[i:i + CLOCK_ROW]) for i in range(0, len(buttons), CLOCK_ROW)]
        return Screen(r.message("coach.zone_clock"), tuple(rows))

    async def zone_of(self, user_id: int) -> str | None:
        user = await self.store.get_user(user_id)
        return user.timezone if user else None

    async def set_zone(self, user_id: int, name: str, locale: str,
                       pending: tuple[int, int] | None = None,
                       now: datetime | None = None) -> Screen | None:
        """Store the user's zone (only one the bot offered). With `pending`, schedule that
        check-in and confirm it; else confirm the zone and move a pending check-in to the same
        day at the same local hour in the new zone. None for a zone or check-in not offered to
        this user: nothing changes."""
        if name not in offered_zones():
            return None
        if pending is not None and await self._checkin_target(user_id, *pending) is None:
            return None
        now = now or datetime.now(UTC)
        before = await self.zone_of(user_id)
        await self.store.set_timezone(user_id, name)
        if pending is not None:
            return await self.schedule(user_id, *pending, locale, now)
        r = self._r(locale)
        where = zone(name)
        upcoming = None
        for due in await self.store.pending_reminders(user_id):
            upcoming = moved_to_zone(due, zone(before, self.default_tz), where, now) or due
            if upcoming != due:
                await self.store.move_pending_reminder(user_id, upcoming)
        return Screen(r.message(
            "coach.zone_set", zone=r.zone_name(name), time=r.local_time(now, where),
            next_date=r.local_date(upcoming, where) if upcoming else "",
            next_time=r.local_time(upcoming, where) if upcoming else ""))

    async def claim_due(self, now: datetime, token: str, default_tz: str,
                        limit: int = 50) -> list[CheckIn]:
        """Due check-ins, claimed for this sender; night-time ones are moved to the morning."""
        out = []
        for reminder in await self.store.claim_due_reminders(now, token, limit):
            morning = quiet_hours_end(now, reminder.timezone, default_tz)
            if morning is not None:
                await self.store.finish_reminder(reminder.id, "pending", due_at=morning)
                continue
            out.append(CheckIn(reminder, await self.checkin_screen(reminder)))
        return out

    async def checkin_screen(self, reminder: DueReminder) -> Screen:
        locale = reminder.language or "en"
        r = self._r(locale)
        record = await self._latest(reminder.user_id)
        items = await self.store.plan_items(record.state.id) if record else []
        rid = reminder.id
        retake_mode = record.state.mode if record else "full"
        buttons = [(Button(self._label(r, "checkin_done"), ("ci", rid, "done")),
                    Button(self._label(r, "checkin_working"), ("ci", rid, "work"))),
                   (Button(self._label(r, "checkin_retake"), ("new", retake_mode, "n")),),
                   (Button(self._label(r, "checkin_stop"), ("ci", rid, "stop")),)]
        first_open = next((i for i in items if not i.done), None)
        if first_open is None:
            return Screen(r.message("coach.checkin_all_done"), tuple(buttons[1:]))
        title, first_step = self._titles(record, locale, first_open)
        done = sum(1 for i in items if i.done)
        text = r.message("coach.checkin", action=title, first_step=first_step, done=done,
                         count=len(items))
        more = await self._customers_nudge(r, reminder.user_id)
        return Screen(f"{text}\n\n{more}" if more else text, tuple(buttons))

    async def _customers_nudge(self, r: Renderer, user_id: int) -> str:
        """A check-in's reminder to collect (more) customer answers: how many the customers'
        view still needs, or an invitation when there is no customer link yet; "" once the
        view is shown and nothing more is needed."""
        if self.coach.feedback_views is None:
            return ""
        views = await self.coach.feedback_views(user_id)
        link = views.customers
        if link is None:
            return r.message("feedback.report.checkin_start")
        if not link.visible and link.needed:
            return r.message("feedback.report.checkin_more", count=link.needed)
        return ""

    async def sent(self, reminder_id: int) -> None:
        await self.store.finish_reminder(reminder_id, "sent")

    async def blocked(self, reminder: DueReminder) -> None:
        """The user blocked the bot: nothing more until they write again."""
        await self.store.finish_reminder(reminder.id, "failed")
        await self.store.set_active(reminder.user_id, False)
        await self.store.cancel_reminders(reminder.user_id)

    async def checkin_reply(self, user_id: int, reminder_id: int, choice: str, locale: str,
                            now: datetime | None = None) -> Screen | None:
        """The owner's answer to a check-in. "Done" asks which action (a button for each open
        one, see `checkin_done`); None when the check-in is not this user's."""
        if await self.store.reminder_owner(reminder_id) != user_id:
            return None
        r = self._r(locale)
        if choice == "stop":
            await self.store.cancel_reminders(user_id)
            return Screen(r.message("coach.checkin_stopped"))
        record = await self._latest(user_id)
        if record is None:
            return None
        # A check-in is answered once (a double tap, maybe on two replicas, counts once): the
        # answer and what it does are one transaction.
        if choice == "work":
            where = zone(await self.zone_of(user_id), self.default_tz)
            due = checkin_at(now or datetime.now(UTC), WORKING_AGAIN_DAYS, where)
            if not await self.store.answer_checkin(reminder_id, user_id,
                                                   again=(record.state.id, due)):
                return None
            return Screen(r.message("coach.checkin_working", date=r.local_date(due, where),
                                    time=r.local_time(due, where)))
        items = await self.store.plan_items(record.state.id)
        open_items = [(n, i) for n, i in enumerate(items, start=1) if not i.done]
        if not open_items:
            return Screen(r.message("coach.checkin_all_done"))
        rows = [(Button(f"☐ {n}. {self._titles(record, locale, i)[0]}",
                        ("cid", reminder_id, i.id)),) for n, i in open_items]
        rows.append((Button(self._label(r, "checkin_working"), ("ci", reminder_id, "work")),))
        return Screen(r.message("coach.checkin_which"), tuple(rows))

    async def checkin_done(self, user_id: int, reminder_id: int, plan_item_id: int,
                           locale: str) -> Screen | None:
        """The action a check-in's "Done" was about: ticked off (with the check-in answered, in
        one transaction: a double tap counts once), and the next one named. None when the
        check-in or the action is not this user's, or the check-in was answered already."""
        if await self.store.reminder_owner(reminder_id) != user_id:
            return None
        owner = await self.store.plan_item_owner(plan_item_id)
        if owner is None or owner[0] != user_id:
            return None
        record = await self.coach.owned(user_id, owner[1])
        if record is None:
            return None
        if not await self.store.answer_checkin(reminder_id, user_id, done=plan_item_id):
            return None
        items = await self.store.plan_items(record.state.id)
        next_open = next((i for i in items if not i.done), None)
        r = self._r(locale)
        return Screen(r.message("coach.checkin_done", done=sum(1 for i in items if i.done),
                                count=len(items),
                                next=self._titles(record, locale, next_open)[0]
                                if next_open else ""))

    # --- welcome back --------------------------------------------------------------------------
    async def status(self, user_id: int, locale: str) -> str | None:
        """A returning owner's status for the welcome: the latest result and the plan ("2 of 6
        actions done, next: ..."). None for someone with no finished assessment."""
        record = await self._latest(user_id)
        if record is None:
            return None
        r = self._r(locale)
        scores = record.scores or {}
        where = zone(await self.zone_of(user_id), self.default_tz)
        overall = scores.get("overall")
        items = await self.store.plan_items(record.state.id)
        done = sum(1 for i in items if i.done)
        next_open = next((i for i in items if not i.done), None)
        return r.message(
            "coach.status", overall="-" if overall is None else f"{overall:.0f}",
            level=r.level(scores.get("level")) if scores.get("level") else "",
            date=r.local_date(record.finished_at.replace(tzinfo=UTC)
                              if record.finished_at.tzinfo is None else record.finished_at,
                              where),
            count=len(items), done=done,
            next=self._titles(record, locale, next_open)[0] if next_open else "")

    # --- history and lessons -------------------------------------------------------------------
    async def history(self, user_id: int, locale: str) -> str:
        r = self._r(locale)
        records = await self.store.finished_assessments(user_id, limit=10)
        if not records:
            return r.message("coach.history_none")
        rows = []
        for n, record in enumerate(records):
            scores = record.scores or {}
            older = records[n + 1].scores if n + 1 < len(records) else None
            changes = []
            if older:
                for d in self.coach.content.bank.dimensions:
                    now_d = scores.get("dimensions", {}).get(d)
                    changes.append({"name": r.dimension(d),
                                    "score": "-" if now_d is None else f"{now_d:.0f}",
                                    "delta": r.delta(now_d, older.get("dimensions", {}).get(d))})
            rows.append({
                "date": (record.finished_at or record.created_at).date().isoformat(),
                "mode": r.label(f"mode_{record.state.mode}"),
                "overall": "-" if scores.get("overall") is None else f"{scores['overall']:.0f}",
                "overall_delta": r.delta(scores.get("overall"), older.get("overall"))
                if older else "",
                "level": r.level(scores.get("level")),
                "changes": changes,
                # compared across content versions: the questions behind the scores changed
                "questions_changed": bool(older) and records[n + 1].content_version
                != record.content_version,
            })
        labels = r.texts.ui["coach"]["labels"]
        text = self.coach.content.env.get_template("history.html.j2").render(
            title=labels["history_title"], overall_label=labels["overall"],
            brackets=r.texts.ui["labels"]["brackets"],
            change_label=labels["change"], questions_changed=r.message("questions_changed"),
            assessments=rows).strip()
        return text + await self._views(r, user_id, records[0])

    async def _views(self, r: Renderer, user_id: int, latest: AssessmentRecord) -> str:
        """/history's 360° block: the latest scores beside the team's and customers' published
        averages, with the gap per dimension in points; "" when neither may be shown yet."""
        team, customers = await self.coach.published_views(user_id)
        if team is None and customers is None:
            return ""
        owner = (latest.scores or {}).get("dimensions", {})
        lines = [r.message("feedback.report.history_title")]
        lines += [r.message("feedback.report.history_row", **row)
                  for row in r.views_rows(owner, team, customers)]
        lines.append(r.message("feedback.report.history_note",
                               team=team.responses if team else 0,
                               customers=customers.responses if customers else 0))
        return "\n\n" + "\n".join(lines)

    def learn_menu(self, locale: str) -> Screen:
        r = self._r(locale)
        dims = self.coach.content.bank.dimensions
        buttons = [Button(r.dimension(d), ("learn", d)) for d in dims]
        return Screen(r.message("coach.learn_menu"),
                      tuple(tuple(buttons[i:i + 2]) for i in range(0, len(buttons), 2)))

    def lesson(self, dimension: str, locale: str) -> str | None:
        r = self._r(locale)
        lesson = r.texts.lessons.get(dimension)
        if lesson is None:
            return None
        sources = [r.source(s) for s in self.coach.content.lesson_sources.get(dimension, ())]
        return self.coach.content.env.get_template("lesson.html.j2").render(
            title=lesson.title, paragraphs=lesson.paragraphs,
            try_label=r.texts.ui["coach"]["labels"]["try_this_week"],
            try_this_week=lesson.try_this_week, sources=sources).strip()
