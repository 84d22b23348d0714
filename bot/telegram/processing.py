"""How updates are processed: many users at once, each user's updates strictly in order, each
update's database effects once (also across replicas and crashes: the inbox, see
bot/storage/inbox.py), one log line per update with its timing."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationHandlerStop, BaseUpdateProcessor, ContextTypes

from bot.service import locale_for
from bot.storage.inbox import CURRENT_UPDATE, UpdateClaim, UpdateSuperseded

from .callbacks import ASSESSMENT_TAPS, decode
from .chats import creates_user

log = logging.getLogger("bot.updates")
# PTB's own semaphore is held around do_process_update, so an update waiting there for its
# user's turn would hold a slot: PTB's is made wide, the real limit is taken once it is its turn.
_UNBOUNDED = 1 << 30


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
    in the order the updates arrived, so a user's second tap never overtakes the first. An update
    takes one of the `max_concurrent_updates` slots only once it is its user's turn: a user who
    sends hundreds of updates at once (a script) holds one slot, not all of them, and everyone
    else goes on at full speed. From `notice_at` updates waiting the user is told once to slow
    down; beyond `max_waiting` further ones are dropped (memory is finite).
    """

    def __init__(self, max_concurrent_updates: int = 256, notice_at: int = 20,
                 max_waiting: int = 1000):
        super().__init__(_UNBOUNDED)
        self.slots = asyncio.BoundedSemaphore(max_concurrent_updates)
        self.notice_at, self.max_waiting = notice_at, max_waiting
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}
        self._noticed: set[int] = set()  # users told to slow down in their current burst
        self._background: set[asyncio.Task] = set()
        # Set by the composition root: (update, notify?) -> mark dropped / tell the user.
        self.on_burst: Callable[[Update, bool, bool], Awaitable[None]] | None = None

    async def do_process_update(self, update: object, coroutine: Awaitable) -> None:
        key = _user_key(update)
        started = time.perf_counter()
        try:
            if key is None:
                async with self.slots:
                    await coroutine
                return
            lock, users = self._locks.get(key, (None, 0))
            if users >= self.notice_at and self.on_burst is not None:
                drop = users >= self.max_waiting
                notify = key not in self._noticed
                self._noticed.add(key)
                if drop or notify:  # in the background: this update's place in line first
                    task = asyncio.create_task(self.on_burst(update, notify, drop))
                    self._background.add(task)
                    task.add_done_callback(self._background.discard)
                if drop:
                    coroutine.close()  # never awaited: not processed
                    return
            lock = lock or asyncio.Lock()
            self._locks[key] = (lock, users + 1)
            try:
                async with lock:
                    async with self.slots:
                        await coroutine
            finally:
                lock, users = self._locks[key]
                if users <= 1:
                    del self._locks[key]  # no one else waits: do not keep a lock per user forever
                    self._noticed.discard(key)
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


class Settler:
    """Marks finished updates done in the inbox in batches: one transaction (one fsync) every
    FLUSH_EVERY seconds for all updates finished meanwhile, instead of one per update. Safe to
    lose: an update whose mark was lost in a crash is processed again, and its effects are
    idempotent (bot/storage/inbox.py); the replies it sent are sent again."""

    FLUSH_EVERY = 0.05

    def __init__(self, app: Application) -> None:
        self.app = app
        self.pending: dict[str, list[int]] = {}
        self._task: asyncio.Task | None = None

    def add(self, claim: UpdateClaim) -> None:
        claim.settled = True
        self.pending.setdefault(claim.owner, []).append(claim.update_id)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._later())

    async def _later(self) -> None:
        await asyncio.sleep(self.FLUSH_EVERY)
        await self.flush()

    async def flush(self) -> None:
        pending, self.pending = self.pending, {}
        store = self.app.bot_data["coach"].store
        for owner, ids in pending.items():
            try:
                await store.settle_updates(ids, owner)
            except Exception as exc:  # taken up again after the lease: processed again
                log.warning("%d updates not marked done: %s", len(ids), type(exc).__name__)


class InboxApplication(Application):
    """The Application, processing each update under its inbox claim (CURRENT_UPDATE): `admit`
    claims it, its database effects are written only while it is still this replica's, and it
    is marked done after its handlers ran (in batches: Settler; bot/storage/inbox.py)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.settler = Settler(self)

    async def shutdown(self) -> None:
        if "coach" in self.bot_data:
            await self.settler.flush()
        await super().shutdown()

    async def process_update(self, update: object) -> None:
        claim = None
        if isinstance(update, Update):
            claim = UpdateClaim(update.update_id, self.bot_data.get("replica", "-"))
        token = CURRENT_UPDATE.set(claim)
        try:
            await super().process_update(update)
        finally:
            CURRENT_UPDATE.reset(token)
            if claim is not None and claim.owned and not claim.settled:
                log.debug("update %s done", claim.update_id, extra={"update_id": claim.update_id})
                self.settler.add(claim)

    async def process_error(self, update, error, job=None, coroutine=None) -> bool:
        if isinstance(error, UpdateSuperseded):  # another replica has it: nothing to tell
            log.info("update %s taken up by another replica: stopped here", error.args[0],
                     extra={"update_id": error.args[0]})
            return True
        return await super().process_error(update, error, job, coroutine)


async def admit(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Group -2, before any handler: claim the update in the inbox (a repeat, which Telegram
    sends after errors and another replica may already have taken, stops here) and load its
    user, in one database round. Handlers find the user on `context.user_record`. Only a
    private chat's message, edit or tap creates a user (chats.creates_user): a group, a channel
    or an update kind the bot does not serve stores nobody (context.user_record is None)."""
    if not isinstance(update, Update):
        return
    coach = context.application.bot_data["coach"]
    user = update.effective_user if creates_user(update) else None
    claim = CURRENT_UPDATE.get()
    owner = claim.owner if claim is not None else context.application.bot_data["replica"]
    first, record = await coach.store.admit(
        update.update_id, owner, user.id if user else None,
        locale_for(user.language_code if user else None), _tapped_assessment(update))
    if not first:
        log.info("update %s is a repeat: skipped", update.update_id,
                 extra={"update_id": update.update_id})
        raise ApplicationHandlerStop
    if claim is not None and claim.update_id == update.update_id:
        claim.owned = True
    context.user_record = record


def _tapped_assessment(update: Update) -> int | None:
    """The assessment an assessment button's tap is about (its first load comes with admit)."""
    query = update.callback_query
    if query is None or not query.data:
        return None
    action = decode(query.data)
    return action[1] if action is not None and action[0] in ASSESSMENT_TAPS else None


def burst_handler(app: Application) -> Callable[[Update, bool, bool], Awaitable[None]]:
    """What PerUserOrder does with a user's update beyond its limits: a dropped one is marked so
    in the inbox (it is not taken up again); the first one of a burst gets a short notice."""

    async def on_burst(update: Update, notify: bool, drop: bool) -> None:
        coach = app.bot_data["coach"]
        try:
            if drop:
                await coach.store.drop_update(update.update_id, app.bot_data["replica"])
            chat = update.effective_chat
            if notify and chat is not None and chat.type == "private":
                user = update.effective_user
                text = coach.renderer(locale_for(user.language_code if user else None)) \
                    .message("slow_down")
                await app.bot.send_message(chat.id, text, parse_mode=ParseMode.HTML)
        except (TelegramError, OSError) as exc:
            log.warning("burst notice not sent: %s", type(exc).__name__)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database: the update stays in the inbox, taken up later
            log.warning("burst handling failed: %s", type(exc).__name__)

    return on_burst
