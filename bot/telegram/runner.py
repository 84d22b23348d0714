"""Running the bot: updates come in (long polling or the webhook), are made durable in the inbox
(bot/storage/inbox.py) before Telegram is told they arrived, and are processed by the
Application. SIGTERM and SIGINT are handled here, not by PTB or uvicorn (uvicorn re-raises the
signal after its own shutdown, so the process would die before the Application drained).

On SIGTERM: stop taking updates, process what was accepted for up to DRAIN_SECONDS, hand
anything left to the inbox (another replica, or this one after its restart, takes it up), exit 0.
On SIGKILL nothing is lost either: what was accepted is in the inbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import socket

from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application

from bot.config import Settings
from bot.storage import Store

from .chats import ALLOWED_UPDATES

log = logging.getLogger(__name__)
POLL_TIMEOUT = 10  # seconds a getUpdates long poll waits at Telegram
TAKE_UP_EVERY = 5.0  # seconds between looks for updates whose replica died


def replica_name(settings: Settings) -> str:
    """Unique per replica, the same after a restart: host name (a container's id) and port."""
    if settings.replica_id:
        return settings.replica_id
    where = str(settings.port) if settings.webhook_url else "polling"
    return f"{socket.gethostname()[:50]}:{where}"


def update_json(update: Update) -> str:
    return json.dumps(update.to_dict(), ensure_ascii=False, separators=(",", ":"))


async def queue_updates(app: Application, updates: list[Update]) -> int:
    """Accept updates into the inbox and hand the new ones to the Application; how many."""
    store: Store = app.bot_data["coach"].store
    new = set(await store.accept_updates([(u.update_id, update_json(u)) for u in updates],
                                         app.bot_data["replica"]))
    for update in updates:
        if update.update_id in new:
            await app.update_queue.put(update)
    log.debug("accepted %d of %d updates into the inbox", len(new), len(updates))
    return len(new)


async def take_up(app: Application, own: bool = False) -> int:
    """Queue the unfinished updates of a dead replica (own: this replica's previous run)."""
    store: Store = app.bot_data["coach"].store
    rows = await store.take_up_updates(app.bot_data["replica"], own=own)
    for row in rows:
        try:
            update = Update.de_json(json.loads(row.payload), app.bot)
        except (ValueError, TypeError, KeyError) as exc:  # cannot be: it was parsed once
            log.error("update %s in the inbox is unreadable: %s", row.update_id,
                      type(exc).__name__)
            continue
        await app.update_queue.put(update)
    if rows:
        log.info("took up %d unfinished updates%s", len(rows), " of the last run" if own else "",
                 extra={"update_id": rows[0].update_id})
    return len(rows)


async def keep_inbox(app: Application, stop: asyncio.Event) -> None:
    """While running: renew this replica's leases (it is alive) and take up the updates of
    replicas that stopped renewing theirs."""
    store: Store = app.bot_data["coach"].store
    owner = app.bot_data["replica"]
    renew_every = store.lease.total_seconds() / 3
    interval = min(TAKE_UP_EVERY, renew_every)
    last_renewal = 0.0
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        try:
            if loop.time() - last_renewal >= renew_every:
                await store.renew_leases(owner)
                last_renewal = loop.time()
            await take_up(app)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database is away: try again next round
            log.warning("inbox upkeep failed: %s", type(exc).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


class Polling:
    """Long polling through the inbox: a fetched batch is written to the inbox before the next
    getUpdates confirms it (Telegram forgets updates below the offset it is given)."""

    def __init__(self, app: Application):
        self.app = app
        self._accepting: asyncio.Task | None = None

    async def run(self, stop: asyncio.Event) -> None:
        bot = self.app.bot
        with contextlib.suppress(TelegramError):  # polling and a webhook exclude each other
            await bot.delete_webhook()
        offset, delay = None, 1.0
        while not stop.is_set():
            try:
                updates = await bot.get_updates(offset=offset, timeout=POLL_TIMEOUT,
                                                allowed_updates=list(ALLOWED_UPDATES))
            except InvalidToken:
                raise
            except (NetworkError, Conflict, RetryAfter) as exc:  # Conflict: another poller
                log.warning("getUpdates failed: %s; again in %.0f s", type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            delay = 1.0
            if not updates:
                continue
            # Shielded: once fetched, a batch is accepted and queued even if we are stopping.
            self._accepting = asyncio.ensure_future(queue_updates(self.app, updates))
            await asyncio.shield(self._accepting)
            offset = updates[-1].update_id + 1

    async def finish(self) -> None:
        if self._accepting is not None:
            with contextlib.suppress(Exception):
                await self._accepting


async def run(settings: Settings, app: Application) -> int:
    """Run until SIGTERM/SIGINT (a second one: stop at once); the exit code."""
    from .app import _post_init, _post_shutdown

    stop, force = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        (force if stop.is_set() else stop).set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    app.bot_data["replica"] = replica_name(settings)
    app.post_init, app.post_shutdown = None, None  # called here, in order
    await app.initialize()
    await _post_init(app)
    await app.start()
    await take_up(app, own=True)  # what this replica's previous run had accepted
    if settings.webhook_url:
        from .webhook import serve

        intake = asyncio.create_task(serve(app, settings, stop))
        polling = None
    else:
        polling = Polling(app)
        intake = asyncio.create_task(polling.run(stop))
    keeper = asyncio.create_task(keep_inbox(app, stop))
    log.info("running as replica %s", app.bot_data["replica"])
    waiting = asyncio.create_task(stop.wait())
    await asyncio.wait({waiting, intake}, return_when=asyncio.FIRST_COMPLETED)
    stop.set()
    code = 0
    if intake.done() and intake.exception() is not None:
        log.error("updates stopped coming in: %s", type(intake.exception()).__name__,
                  exc_info=intake.exception())
        code = 1
    if polling is not None:
        intake.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await intake
    if polling is not None:
        await polling.finish()
    keeper.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await keeper
    log.info("stopping: %d updates queued", app.update_queue.qsize())
    drain = asyncio.create_task(app.stop())
    forced = asyncio.create_task(force.wait())
    await asyncio.wait({drain, forced}, timeout=settings.drain_seconds,
                       return_when=asyncio.FIRST_COMPLETED)
    store: Store = app.bot_data["coach"].store
    with contextlib.suppress(Exception):
        await app.settler.flush()
        left = await store.release_leases(app.bot_data["replica"])
        if left:
            log.info("%d unfinished updates left to the inbox", left)
    if not drain.done():
        log.warning("stopped before the queue was drained; the inbox keeps the rest")
        return code
    forced.cancel()
    await app.shutdown()
    await _post_shutdown(app)
    return code
