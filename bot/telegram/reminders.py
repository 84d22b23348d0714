"""The periodic job that sends due check-ins. Reminders live in the database: the JobQueue only
wakes this up, so a restart loses nothing and two processes never send the same one twice."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime

from telegram.constants import ParseMode
from telegram.error import Forbidden, TelegramError
from telegram.ext import ContextTypes

from .callbacks import keyboard

log = logging.getLogger(__name__)
REMINDER_INTERVAL = 60  # seconds between looks at the reminders table
PACE = 0.05  # seconds between two check-ins: well under Telegram's 30 messages a second


async def send_due_reminders(context: ContextTypes.DEFAULT_TYPE,
                             now: datetime | None = None) -> int:
    """Claim and send the due check-ins; returns how many were delivered."""
    app = context.application
    coaching = app.bot_data["coaching"]
    settings = app.bot_data["settings"]
    token = f"{uuid.uuid4().hex}"
    checkins = await coaching.claim_due(now or datetime.now(UTC), token, settings.timezone)
    delivered = 0
    for checkin in checkins:
        reminder = checkin.reminder
        try:
            await context.bot.send_message(reminder.user_id, checkin.screen.text,
                                           parse_mode=ParseMode.HTML,
                                           reply_markup=keyboard(checkin.screen.buttons))
        except Forbidden:
            log.info("reminder %s: user blocked the bot; marked inactive", reminder.id)
            await coaching.blocked(reminder)
            continue
        except TelegramError as exc:
            log.warning("reminder %s not sent: %s", reminder.id, type(exc).__name__)
            await coaching.store.finish_reminder(reminder.id, "failed")
            continue
        await coaching.sent(reminder.id)
        delivered += 1
        await asyncio.sleep(PACE)
    if checkins:
        log.info("reminders: %d claimed, %d delivered", len(checkins), delivered)
    return delivered
