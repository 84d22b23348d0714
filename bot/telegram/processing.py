"""How updates are processed: many users at once, each user's updates strictly in order, each
update once (also across replicas), one log line per update with its timing."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable

from telegram import Update
from telegram.ext import ApplicationHandlerStop, BaseUpdateProcessor, ContextTypes

from bot.service import locale_for

from .chats import creates_user

log = logging.getLogger("bot.updates")


def _user_key(update: object) -> int | None:
    if isinstance(update, Update):
        if update.effective_user is not None:
            return update.effective_user.id
        if update.effective_chat is not None:
            return update.effective_chat.id
    return None


class PerUserOrder(BaseUpdateProcessor):
    """Concurrent across users; one user's updates run one at a time in arrival order.

    asyncio.Lock wakes its waiters first-come first-served, and PTB starts the processing tasks
    in the order the updates arrived, so a user's second tap never overtakes the first.
    """

    def __init__(self, max_concurrent_updates: int = 256):
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable) -> None:
        key = _user_key(update)
        started = time.perf_counter()
        try:
            if key is None:
                await coroutine
                return
            lock, users = self._locks.get(key, (None, 0))
            lock = lock or asyncio.Lock()
            self._locks[key] = (lock, users + 1)
            try:
                async with lock:
                    await coroutine
            finally:
                lock, users = self._locks[key]
                if users <= 1:
                    del self._locks[key]  # no one else waits: do not keep a lock per user forever
                else:
                    self._locks[key] = (lock, users - 1)
        finally:
            update_id = update.update_id if isinstance(update, Update) else None
            ms = (time.perf_counter() - started) * 1000
            log.info("update %s handled in %.1f ms", update_id,
                     ms, extra={"update_id": update_id, "ms": round(ms, 1)})

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


async def admit(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Group -2, before any handler: record the update id (a repeat, which Telegram sends
    after errors and another replica may already have taken, stops here) and load its user,
    in one database round. Handlers find the user on `context.user_record`. Only a private
    chat's message, edit or tap creates a user (chats.creates_user): a group, a channel or an
    update kind the bot does not serve stores nobody (context.user_record is None)."""
    if not isinstance(update, Update):
        return
    coach = context.application.bot_data["coach"]
    user = update.effective_user if creates_user(update) else None
    first, record = await coach.store.admit(
        update.update_id, user.id if user else None, locale_for(user.language_code if user
                                                                else None))
    if not first:
        log.info("update %s is a repeat: skipped", update.update_id,
                 extra={"update_id": update.update_id})
        raise ApplicationHandlerStop
    context.user_record = record
