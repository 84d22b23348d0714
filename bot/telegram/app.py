"""The composition root: settings -> content -> store -> coach -> the PTB Application."""

from __future__ import annotations

import asyncio
import logging
import sys
import uuid
from datetime import timedelta

from pydantic import ValidationError
from telegram import BotCommand, Update
from telegram.error import TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest

from bot import chart
from bot.coaching import Coaching
from bot.config import Settings
from bot.content import Content, ContentError, load_content
from bot.feedback import Feedback
from bot.service import Coach
from bot.storage import Store

from . import handlers as h
from .callbacks import ASSESSMENT_TAPS, PATTERNS, matcher
from .feedback import add_feedback_handlers
from .gate import gate
from .logs import configure_logging
from .processing import InboxApplication, PerUserOrder, admit, burst_handler
from .reminders import REMINDER_INTERVAL, send_due_reminders
from .request import RetryingRequest
from .trainer import add_trainer_handlers

log = logging.getLogger(__name__)

# setMyCommands takes a two-letter language code: zh gets simplified Chinese, the rest English.
COMMAND_LOCALES = {None: "en", "zh": "zh-Hans"}
COMMANDS = ("start", "report", "plan", "history", "learn", "retake", "team", "customers",
            "trainer", "language", "timezone", "settings", "privacy", "export", "delete", "help")


def build_application(
    settings: Settings,
    content: Content,
    store: Store | None = None,
    request: BaseRequest | None = None,
    updates_request: BaseRequest | None = None,
) -> Application:
    builder = (ApplicationBuilder()
               .token(settings.bot_token or "")
               .base_url(settings.telegram_api_base_url)
               .base_file_url(settings.telegram_api_file_url)
               .application_class(InboxApplication)
               .concurrent_updates(PerUserOrder(settings.max_concurrent_updates))
               # Retries after Telegram's RetryAfter and paces group chats. Replies to a user's
               # own taps are not capped at the bulk rate (30/s): Telegram tells us with
               # RetryAfter when we go too fast. Bulk sends (check-ins) pace themselves.
               .rate_limiter(AIORateLimiter(overall_max_rate=settings.rate_limit_per_second,
                                            max_retries=3))
               .post_init(_post_init)
               .post_shutdown(_post_shutdown))
    if request is not None:
        builder = builder.request(request).get_updates_request(updates_request or request)
    else:  # [faults] retries with backoff where safe (bot/telegram/request.py)
        builder = (builder.request(RetryingRequest())
                   .get_updates_request(updates_request or RetryingRequest(connection_pool_size=1)))
    app = builder.build()
    app.bot_data["settings"] = settings
    app.bot_data["content"] = content
    # The inbox's owner name (bot/storage/inbox.py); the runner gives a stable one.
    app.bot_data["replica"] = settings.replica_id or f"app-{uuid.uuid4().hex[:12]}"
    if store is not None:  # tests bring a store opened on their own event loop
        _attach(app, content, store)
    add_handlers(app)
    return app


def _attach(app: Application, content: Content, store: Store) -> None:
    store.lease = timedelta(seconds=app.bot_data["settings"].inbox_lease_seconds)
    if isinstance(app.update_processor, PerUserOrder):
        app.update_processor.on_burst = burst_handler(app)
    coach = Coach(content, store)
    app.bot_data["coach"] = coach
    app.bot_data["coaching"] = Coaching(coach, app.bot_data["settings"].timezone)
    app.bot_data["feedback"] = Feedback(coach)


def add_handlers(app: Application) -> None:
    private = filters.ChatType.PRIVATE
    app.add_handler(TypeHandler(Update, admit), group=-2)  # the update id, once; its user
    app.add_handler(TypeHandler(Update, gate), group=-1)  # private chats only (chats.py)
    app.add_handler(ChatMemberHandler(h.membership_changed, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_handler(CommandHandler("start", h.start, filters=private))
    app.add_handler(CommandHandler("help", h.help_command, filters=private))
    app.add_handler(CommandHandler("privacy", h.privacy, filters=private))
    app.add_handler(CommandHandler("language", h.language, filters=private))
    app.add_handler(CommandHandler("report", h.report_command, filters=private))
    app.add_handler(CommandHandler("export", h.export, filters=private))
    app.add_handler(CommandHandler("delete", h.delete, filters=private))
    app.add_handler(CommandHandler("plan", h.plan_command, filters=private))
    app.add_handler(CommandHandler("history", h.history, filters=private))
    app.add_handler(CommandHandler("learn", h.learn, filters=private))
    app.add_handler(CommandHandler("retake", h.retake, filters=private))
    app.add_handler(CommandHandler("timezone", h.timezone_command, filters=private))
    app.add_handler(CommandHandler("settings", h.settings_command, filters=private))
    for kind in ASSESSMENT_TAPS:
        app.add_handler(CallbackQueryHandler(h.tap, pattern=matcher(PATTERNS[kind])))
    for kind, callback in (("new", h.begin), ("go", h.resume), ("lang", h.choose_language),
                           ("doc", h.document), ("plan", h.plan), ("del", h.confirm_delete),
                           ("pa", h.mark_action), ("rem", h.remind), ("ci", h.checkin_reply),
                           ("cid", h.checkin_action), ("pri", h.priority_page),
                           ("chk", h.checkin_offer), ("learn", h.lesson),
                           ("rep", h.report_command), ("tz", h.choose_zone),
                           ("tzo", h.zone_by_clock)):
        app.add_handler(CallbackQueryHandler(callback, pattern=matcher(PATTERNS[kind])))
    add_feedback_handlers(app)  # /team, /customers, their links and the pulse: before the
    add_trainer_handlers(app)  # /trainer, cohort and join buttons: before the catch-all
    app.add_handler(CallbackQueryHandler(h.unknown_tap))
    # Never silent: typed text, a sticker, photo, voice note, location, contact, an unknown
    # command ... all get the same short hint (service messages, e.g. a pin, get nothing).
    app.add_handler(MessageHandler(private & filters.UpdateType.MESSAGE
                                   & ~filters.StatusUpdate.ALL, h.typed))
    app.add_error_handler(h.on_error)


async def _post_init(app: Application) -> None:
    """Open the database on the Application's own event loop, then set the command menu."""
    if "coach" not in app.bot_data:
        store = await Store.open(app.bot_data["settings"].database_url)
        _attach(app, app.bot_data["content"], store)
        app.bot_data["owns_store"] = True
    if app.job_queue is not None:
        app.job_queue.run_repeating(send_due_reminders, interval=REMINDER_INTERVAL, first=5,
                                    name="reminders")
        app.job_queue.run_repeating(_prune, interval=3600, first=60, name="prune")
    await set_commands(app)
    if app.bot_data.get("owns_store"):  # a real run, not a test: start the chart process now
        chart.warm_up()


async def _post_shutdown(app: Application) -> None:
    chart.shutdown()
    if app.bot_data.get("owns_store"):
        await app.bot_data["coach"].store.close()


async def set_commands(app: Application) -> None:
    """A localised command menu; a failure here is logged and never stops the bot."""
    coach: Coach = app.bot_data["coach"]
    for code, locale in COMMAND_LOCALES.items():
        r = coach.renderer(locale)
        commands = [BotCommand(c, r.texts.ui["commands"][c]) for c in COMMANDS]
        try:
            await app.bot.set_my_commands(commands, language_code=code)
        except TelegramError as exc:
            log.warning("setMyCommands(%s) failed: %s", code or "default", type(exc).__name__)


async def _prune(context) -> None:
    removed = await context.application.bot_data["coach"].store.prune_updates()
    if removed:
        log.info("pruned %d processed update ids", removed)


def main(args=None) -> int:
    try:
        settings = Settings()
    except ValidationError as exc:
        err = exc.errors()[0]
        print(f"error: {str(err['loc'][0]).upper()}: {err['msg']}", file=sys.stderr)
        return 2
    configure_logging(settings)
    if not settings.bot_token:
        print("error: BOT_TOKEN is not set. Get one from @BotFather, then "
              "BOT_TOKEN=... uv run python -m bot  (or try `uv run python -m bot console`)",
              file=sys.stderr)
        return 2
    try:
        content = load_content(settings.content_dir, settings.articles_dir)
    except ContentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if settings.webhook_url and not settings.webhook_secret:
        print("error: WEBHOOK_SECRET is required in webhook mode (WEBHOOK_URL is set)",
              file=sys.stderr)
        return 2
    from .runner import run

    app = build_application(settings, content)
    log.info("starting %s (content %s)", "the webhook" if settings.webhook_url
             else "long polling", content.bank.version)
    return asyncio.run(run(settings, app))
