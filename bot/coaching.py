"""Coaching after the report: the plan to tick off, check-in reminders, history and lessons.

Like the coach, it derives everything from the database; the Telegram layer only sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.content.render import Button, Renderer, Screen
from bot.service import Coach
from bot.storage import DueReminder, PlanItem

REMINDER_DAYS = (7, 30)
WORKING_AGAIN_DAYS = 7
QUIET_FROM, QUIET_UNTIL = 21, 9  # no check-ins from 21:00 to 09:00 local time


def quiet_hours_end(now: datetime, tz_name: str | None, default_tz: str) -> datetime | None:
    """When `now` is at night in the user's time zone, the next 09:00 there (in UTC); else None."""
    try:
        zone = ZoneInfo(tz_name or default_tz)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = now.astimezone(zone)
    if QUIET_UNTIL <= local.hour < QUIET_FROM:
        return None
    day = local.date() if local.hour < QUIET_UNTIL else local.date() + timedelta(days=1)
    return datetime.combine(day, time(QUIET_UNTIL), zone).astimezone(UTC)


@dataclass(frozen=True)
class CheckIn:
    reminder: DueReminder
    screen: Screen


class Coaching:
    def __init__(self, coach: Coach):
        self.coach = coach
        self.store = coach.store

    def _r(self, locale: str) -> Renderer:
        return self.coach.renderer(locale)

    @staticmethod
    def _label(r: Renderer, key: str) -> str:
        return str(r.texts.ui["coach"]["buttons"][key])

    # --- the plan ------------------------------------------------------------------------------
    async def _latest(self, user_id: int):
        records = await self.store.finished_assessments(user_id, limit=1)
        return records[0] if records else None

    def _titles(self, r: Renderer, item: PlanItem) -> tuple[str, str]:
        item_id, level = item.recommendation_id.rsplit(".", 1)
        text = r.texts.items[item_id].recommendations[int(level)]
        return text.title, text.first_step

    async def plan_screen(self, user_id: int, locale: str,
                          assessment_id: int | None = None) -> Screen | None:
        """The plan of the latest (or the given) finished assessment; None if not this user's."""
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
        result = self.coach.compute(record)
        done_ids = {i.recommendation_id for i in items if i.done}
        text = r.plan(result.plan, done_ids,
                      header=r.message("coach.plan_header", done=len(done_ids), total=len(items)))
        rows = []
        for n, item in enumerate(items, start=1):
            title, _ = self._titles(r, item)
            mark = "☑" if item.done else "☐"
            rows.append((Button(f"{mark} {n}. {title}", ("pa", item.id, 0 if item.done else 1)),))
        return Screen(text, tuple(rows))

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
        notice = self._r(locale).message(key, done=count, total=len(items))
        return notice, await self.plan_screen(user_id, locale, owner[1])

    # --- reminders -----------------------------------------------------------------------------
    def _lesson_row(self, r: Renderer, weakest: str | None) -> tuple[tuple[Button, ...], ...]:
        if not weakest:
            return ()
        return ((Button(f"{self._label(r, 'lesson')} {r.dimension(weakest)}",
                        ("learn", weakest)),),)

    def offer(self, locale: str, assessment_id: int, weakest: str | None) -> Screen:
        """After the report: a check-in in 7 / 30 days or none, and the weakest one's lesson."""
        r = self._r(locale)
        rows = (tuple(Button(self._label(r, f"remind_{d}"), ("rem", assessment_id, d))
                      for d in REMINDER_DAYS),
                (Button(self._label(r, "remind_none"), ("rem", assessment_id, 0)),))
        return Screen(r.message("coach.reminder_offer"), rows + self._lesson_row(r, weakest))

    async def schedule(self, user_id: int, assessment_id: int, days: int, locale: str,
                       now: datetime | None = None) -> Screen | None:
        """Schedule (days > 0) or decline (0). None when the assessment is not this user's."""
        r = self._r(locale)
        record = await self.coach.owned(user_id, assessment_id)
        if record is None or record.status != "finished" or days not in (0, *REMINDER_DAYS):
            return None
        dims = {d: v for d, v in (record.scores or {}).get("dimensions", {}).items()
                if v is not None}
        lesson = self._lesson_row(r, min(dims, key=dims.get) if dims else None)
        if days == 0:
            await self.store.cancel_reminders(user_id)
            return Screen(r.message("coach.reminder_declined"), lesson)
        due = (now or datetime.now(UTC)) + timedelta(days=days)
        await self.store.schedule_reminder(user_id, assessment_id, due)
        return Screen(r.message("coach.reminder_set", date=due.date().isoformat()), lesson)

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
        title, first_step = self._titles(r, first_open)
        done = sum(1 for i in items if i.done)
        return Screen(r.message("coach.checkin", action=title, first_step=first_step, done=done,
                             total=len(items)), tuple(buttons))

    async def sent(self, reminder_id: int) -> None:
        await self.store.finish_reminder(reminder_id, "sent")

    async def blocked(self, reminder: DueReminder) -> None:
        """The user blocked the bot: nothing more until they write again."""
        await self.store.finish_reminder(reminder.id, "failed")
        await self.store.set_active(reminder.user_id, False)
        await self.store.cancel_reminders(reminder.user_id)

    async def checkin_reply(self, user_id: int, reminder_id: int, choice: str, locale: str,
                            now: datetime | None = None) -> str | None:
        if await self.store.reminder_owner(reminder_id) != user_id:
            return None
        r = self._r(locale)
        if choice == "stop":
            await self.store.cancel_reminders(user_id)
            return r.message("coach.checkin_stopped")
        record = await self._latest(user_id)
        if record is None:
            return None
        # A check-in is answered once (a double tap, maybe on two replicas, counts once): the
        # answer and what it does are one transaction.
        if choice == "work":
            due = (now or datetime.now(UTC)) + timedelta(days=WORKING_AGAIN_DAYS)
            if not await self.store.answer_checkin(reminder_id, user_id,
                                                   again=(record.state.id, due)):
                return None
            return r.message("coach.checkin_working", date=due.date().isoformat())
        items = await self.store.plan_items(record.state.id)
        first_open = next((i for i in items if not i.done), None)
        if not await self.store.answer_checkin(reminder_id, user_id,
                                               done=first_open.id if first_open else None):
            return None
        items = await self.store.plan_items(record.state.id)
        next_open = next((i for i in items if not i.done), None)
        return r.message("coach.checkin_done", done=sum(1 for i in items if i.done),
                      total=len(items),
                      next=self._titles(r, next_open)[0] if next_open else "")

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
            })
        labels = r.texts.ui["coach"]["labels"]
        return self.coach.content.env.get_template("history.html.j2").render(
            title=labels["history_title"], overall_label=labels["overall"],
            change_label=labels["change"], assessments=rows).strip()

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
