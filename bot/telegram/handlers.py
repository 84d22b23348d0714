"""Thin handlers: parse the update, call the coach, render, reply. No SQL, no wording here."""

from __future__ import annotations

import json
import logging

from telegram import Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import Forbidden, TelegramError
from telegram.ext import ContextTypes

from bot.coaching import Coaching
from bot.content.render import Button, Screen
from bot.domain.flow import Verdict
from bot.service import Coach, Report
from bot.storage import AssessmentRecord

from .callbacks import decode, keyboard
from .chats import is_private
from .replies import answer, edit, edit_message, send

log = logging.getLogger(__name__)
HTML = ParseMode.HTML

def coach_of(context: ContextTypes.DEFAULT_TYPE) -> Coach:
    return context.application.bot_data["coach"]


def coaching_of(context: ContextTypes.DEFAULT_TYPE) -> Coaching:
    return context.application.bot_data["coaching"]

async def _user_locale(update: Update, context) -> tuple[int, str]:
    """The user's id and locale, as loaded for this update by processing.admit."""
    user = getattr(context, "user_record", None)
    if user is None:  # an update that did not pass through admit (never in the bot itself)
        tg_user = update.effective_user
        user = await coach_of(context).user(tg_user.id, tg_user.language_code)
    return user.id, user.language or "en"

async def _show_step(update: Update, context, record: AssessmentRecord, locale: str,
                     screen: Screen | None = None) -> None:
    """Show the current step (or `screen`): in the tapped message if any, else a new one; the
    assessment remembers which message shows it."""
    coach = coach_of(context)
    screen = screen or coach.step_screen(record, locale)
    query = update.callback_query
    if query is not None:
        message = await edit(query, screen, record.state.id)
    else:
        message = await send(context, update.effective_chat.id, screen, record.state.id)
    if message is not None and record.message_id != message.message_id:
        await coach.store.set_message(record.state.id, message.message_id)

# --- commands ----------------------------------------------------------------------------------
async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if context.args and context.args[0].startswith("c_"):  # a trainer's cohort link
        from .trainer import join_prompt

        if await join_prompt(update, context, context.args[0]):
            return
    if context.args and context.args[0].startswith(("t_", "p_")):  # a team or customer link
        from .feedback import open_link

        if await open_link(update, context, context.args[0]):
            return
    coach = coach_of(context)
    user_id, locale = await _user_locale(update, context)
    record = await coach.open_assessment(user_id)
    if record is not None:
        report = await coach.finish_if_complete(record, locale)
        if report is not None:  # the last answer was saved but the report never went out
            await send_report(update.effective_chat.id, context, report, locale)
            return
    status = await coaching_of(context).status(user_id, locale)  # None: a first visit
    screen = coach.welcome(locale, update.effective_user.first_name, record, status)
    await send(context, update.effective_chat.id, screen)

async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    _, locale = await _user_locale(update, context)
    await update.effective_message.reply_html(coach_of(context).renderer(locale).message("help"))

async def privacy(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    from .trainer import privacy_screen  # with the user's cohorts and a "leave" button each

    user_id, locale = await _user_locale(update, context)
    await send(context, update.effective_chat.id, await privacy_screen(context, user_id, locale))

async def language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    _, locale = await _user_locale(update, context)
    await send(context, update.effective_chat.id, coach_of(context).language_screen(locale))

async def report_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/report, or the welcome's "your latest report" button: the latest report again."""
    if update.callback_query is not None:
        await answer(update.callback_query)
    user_id, locale = await _user_locale(update, context)
    report = await coach_of(context).latest_report(user_id, locale)
    if report is None:
        await update.effective_message.reply_html(
            coach_of(context).renderer(locale).message("report_none"))
        return
    await send_report(update.effective_chat.id, context, report, locale, checkin=False)

async def export(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    coach = coach_of(context)
    user_id, locale = await _user_locale(update, context)
    r = coach.renderer(locale)
    data = await coach.store.export_user(user_id)
    payload = json.dumps(data, ensure_ascii=False, indent=2).encode()
    await context.bot.send_document(update.effective_chat.id, payload,
                                    filename=f"{r.message('export_filename')}.json",
                                    caption=r.message("export_caption"), parse_mode=HTML)

async def delete(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    _, locale = await _user_locale(update, context)
    r = coach_of(context).renderer(locale)

    screen = Screen(r.message("delete_confirm"),
                    ((Button(r.button("delete_confirm"), ("del", "yes")),
                      Button(r.button("cancel"), ("del", "no"))),))
    await send(context, update.effective_chat.id, screen)

async def typed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Text typed instead of tapping. A question's number ("2") while a question is on show
    answers it, like tapping that option; anything else gets a short hint and changes
    nothing."""
    from .feedback import consume_name
    from .trainer import consume_text

    if await consume_name(update, context):  # the business name for the counter card
        return
    if await consume_text(update, context):  # a cohort name the bot asked a trainer for
        return
    coach = coach_of(context)
    user_id, locale = await _user_locale(update, context)
    r = coach.renderer(locale)
    record = await coach.open_assessment(user_id)
    if record is None:
        await update.effective_message.reply_html(r.message("typed_idle"))
        return
    option = coach.typed_option(record, update.effective_message.text)
    if option is not None:
        await _typed_answer(update, context, record, option, locale)
        return
    screen = Screen(r.message("typed_hint", numbers=coach.numbered(record)),
                    ((Button(r.button("resume"), ("go", record.state.id)),),))
    await send(context, update.effective_chat.id, screen)


async def _typed_answer(update: Update, context, record: AssessmentRecord, option: str,
                        locale: str) -> None:
    """A typed number: the answer is stored as a tap on it would be; the question's message
    keeps the question and the answer (no buttons), and the next step comes as a new message
    under what the owner typed."""
    coach = coach_of(context)
    chat_id = update.effective_chat.id
    before = coach.answered_screen(record, locale, option)
    old_message = record.message_id
    result = await coach.tap(record.user_id, locale,
                             ("ans", record.state.id, record.state.cursor, option))
    if result.verdict is not Verdict.APPLIED:  # another device moved first: show where we are
        if result.record is not None:
            await _show_step(update, context, result.record, locale, result.screen)
        return
    if old_message is not None:
        await edit_message(context, chat_id, old_message, before)
    if result.report is not None:
        await send_report(chat_id, context, result.report, locale)
        return
    await _show_step(update, context, result.record, locale, result.screen)

# --- taps --------------------------------------------------------------------------------------
async def tap(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An assessment button: validated against the database, answered at once."""
    query = update.callback_query
    coach = coach_of(context)
    user_id, locale = await _user_locale(update, context)
    action = decode(query.data)
    if action is None:
        await answer(query, coach.renderer(locale).message("invalid"))
        return
    result = await coach.tap(user_id, locale, action)
    await answer(query, result.notice)
    if result.report is not None:
        try:  # [faults] "report ready" on the question: the report itself matters more
            await edit(query, result.screen)
        except Forbidden:
            raise
        except TelegramError as exc:
            log.warning("last question not updated: %s", type(exc).__name__)
        await send_report(update.effective_chat.id, context, result.report, locale)
        return
    if result.record is not None and (result.screen is not None
                                      or result.verdict is Verdict.DUPLICATE):
        # [faults] A repeated tap shows the current step again: after an edit that failed, the
        # old question is still on screen (Telegram says "not modified" when it had moved on).
        await _show_step(update, context, result.record, locale, result.screen)

async def begin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """new:<mode>: a new assessment (a retake keeps the earlier ones)."""
    query = update.callback_query
    coach = coach_of(context)
    user_id, locale = await _user_locale(update, context)
    await answer(query)
    action = decode(query.data)
    record = await coach.start(user_id, action[1])
    if len(action) > 2:  # from a report or a check-in: keep that message, ask in a new one
        message = await send(context, update.effective_chat.id,
                              coach.step_screen(record, locale), record.state.id)
        await coach.store.set_message(record.state.id, message.message_id)
        return
    await _show_step(update, context, record, locale)

async def resume(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    coach = coach_of(context)
    user_id, locale = await _user_locale(update, context)
    record = await coach.resume(user_id, decode(query.data)[1])
    if record is None:
        await answer(query, coach.renderer(locale).message("stale_no_assessment"))
        return
    await answer(query)
    report = await coach.finish_if_complete(record, locale)
    if report is not None:
        await send_report(update.effective_chat.id, context, report, locale)
        return
    await _show_step(update, context, record, locale)

async def choose_language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    coach = coach_of(context)
    user_id, locale = await _user_locale(update, context)
    action = decode(query.data)
    if len(action) == 1:  # the menu
        await answer(query)
        await edit(query, coach.language_screen(locale))
        return
    new_locale = action[1]
    await coach.set_language(user_id, new_locale)
    r = coach.renderer(new_locale)
    await answer(query, r.message("language_set"))
    record = await coach.open_assessment(user_id)
    if record is not None:  # carry on in the new language, same place
        await _show_step(update, context, record, new_locale)
    else:
        status = await coaching_of(context).status(user_id, new_locale)
        await edit(query, coach.welcome(new_locale, update.effective_user.first_name, None,
                                        status))

async def document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    coach = coach_of(context)
    user_id, locale = await _user_locale(update, context)
    record = await coach.owned(user_id, decode(query.data)[1])
    if record is None or record.status != "finished":
        await answer(query, coach.renderer(locale).message("stale_no_assessment"))
        return
    await answer(query)
    report = await coach.report(record, locale)
    await context.bot.send_chat_action(update.effective_chat.id, ChatAction.UPLOAD_DOCUMENT)
    from bot.report_pdf import render_off_loop  # the PDF, laid out in the chart process

    pdf = await render_off_loop(report.document, report.chart)
    await context.bot.send_document(update.effective_chat.id, pdf,
                                    filename=report.document_name,
                                    caption=coach.renderer(locale).message("document_caption"),
                                    parse_mode=HTML)

async def plan(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """plan:<aid> from the report (plan:0 from the welcome: the latest): the plan with
    actions to tick off."""
    query = update.callback_query
    user_id, locale = await _user_locale(update, context)
    screen = await coaching_of(context).plan_screen(user_id, locale,
                                                    decode(query.data)[1] or None)
    if screen is None:
        await answer(query, coach_of(context).renderer(locale).message("stale_no_assessment"))
        return
    await answer(query)
    await send(context, update.effective_chat.id, screen)


async def plan_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    user_id, locale = await _user_locale(update, context)
    await send(context, update.effective_chat.id,
                await coaching_of(context).plan_screen(user_id, locale))


async def mark_action(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """pa:<plan action id>:<1 done | 0 not done>: idempotent, only on one's own plan."""
    query = update.callback_query
    user_id, locale = await _user_locale(update, context)
    _, item_id, done = decode(query.data)
    marked = await coaching_of(context).mark(user_id, item_id, bool(done), locale)
    if marked is None:
        await answer(query, coach_of(context).renderer(locale).message("invalid"))
        return
    notice, screen = marked
    await answer(query, notice)
    await edit(query, screen)


async def remind(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """rem:<aid>:<days>: schedule a check-in (0: no thanks)."""
    query = update.callback_query
    user_id, locale = await _user_locale(update, context)
    _, assessment_id, days = decode(query.data)
    screen = await coaching_of(context).schedule(user_id, assessment_id, days, locale)
    if screen is None:
        await answer(query, coach_of(context).renderer(locale).message("invalid"))
        return
    await answer(query)
    await edit(query, screen)


async def timezone_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/timezone: the user's zone now and the choices (check-ins arrive at their local time)."""
    user_id, locale = await _user_locale(update, context)
    coaching = coaching_of(context)
    await send(context, update.effective_chat.id,
               coaching.zone_screen(locale, await coaching.zone_of(user_id)))


async def settings_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/settings: language and time zone."""
    user_id, locale = await _user_locale(update, context)
    coaching = coaching_of(context)
    await send(context, update.effective_chat.id,
               coaching.settings_screen(locale, await coaching.zone_of(user_id)))


async def choose_zone(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """tz:<zone>[:<aid>:<days>]: the user's zone; with a check-in waiting for it, scheduled."""
    query = update.callback_query
    user_id, locale = await _user_locale(update, context)
    _, name, *pending = decode(query.data)
    screen = await coaching_of(context).set_zone(user_id, name, locale,
                                                 tuple(pending) if pending else None)
    if screen is None:
        await answer(query, coach_of(context).renderer(locale).message("invalid"))
        return
    await answer(query)
    await edit(query, screen)


async def zone_by_clock(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """tzo[:<aid>:<days>]: "what time is it for you now?"."""
    query = update.callback_query
    _, locale = await _user_locale(update, context)
    _, *pending = decode(query.data)
    await answer(query)
    await edit(query, coaching_of(context).clock_screen(locale, tuple(pending) or None))


async def checkin_reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """ci:<reminder id>:<done|work|stop>: the owner's answer to a check-in."""
    query = update.callback_query
    user_id, locale = await _user_locale(update, context)
    _, reminder_id, choice = decode(query.data)
    screen = await coaching_of(context).checkin_reply(user_id, reminder_id, choice, locale)
    if screen is None:
        await answer(query, coach_of(context).renderer(locale).message("stale_no_assessment"))
        return
    await answer(query)
    await edit(query, screen)


async def checkin_action(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """cid:<reminder id>:<plan action id>: the action a check-in's "Done" was about."""
    query = update.callback_query
    user_id, locale = await _user_locale(update, context)
    _, reminder_id, plan_item_id = decode(query.data)
    screen = await coaching_of(context).checkin_done(user_id, reminder_id, plan_item_id, locale)
    if screen is None:
        await answer(query, coach_of(context).renderer(locale).message("invalid"))
        return
    await answer(query)
    await edit(query, screen)


async def history(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    user_id, locale = await _user_locale(update, context)
    await update.effective_message.reply_html(await coaching_of(context).history(user_id, locale))


async def learn(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    _, locale = await _user_locale(update, context)
    await send(context, update.effective_chat.id, coaching_of(context).learn_menu(locale))


async def lesson(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """learn:<dimension>: one short lesson."""
    query = update.callback_query
    _, locale = await _user_locale(update, context)
    text = coaching_of(context).lesson(decode(query.data)[1], locale)
    if text is None:
        await answer(query, coach_of(context).renderer(locale).message("invalid"))
        return
    await answer(query)
    await context.bot.send_message(update.effective_chat.id, text, parse_mode=HTML)


async def retake(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/retake: a new full assessment; earlier ones stay in /history."""
    coach = coach_of(context)
    user_id, locale = await _user_locale(update, context)
    record = await coach.start(user_id, "full")
    await update.effective_message.reply_html(coach.renderer(locale).message("coach.retake_hint"))
    await _show_step(update, context, record, locale)


async def confirm_delete(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    coach = coach_of(context)
    user_id, locale = await _user_locale(update, context)
    r = coach.renderer(locale)
    await answer(query)
    if decode(query.data)[1] == "yes":
        await coach.store.delete_user(user_id)
        await edit(query, Screen(r.message("deleted")))
    else:
        await edit(query, Screen(r.message("delete_cancelled")))

async def unknown_tap(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Callback data that is not ours (forged, garbage, from an old version)."""
    _, locale = await _user_locale(update, context)
    await answer(update.callback_query, coach_of(context).renderer(locale).message("invalid"))

# --- the report --------------------------------------------------------------------------------
# The result card waits for its chart (~30-50 ms in a drawing process) only while a drawing
# process is free, and then at most this long (a worker starting on a loaded machine). When a
# room finishes together the charts queue: the card then goes out at once, as text (with the
# eight dimension bars), and the chart follows as soon as it is drawn.
CHART_WAIT = 10.0
_LATE: set = set()  # late charts' tasks, held until done
async def send_report(chat_id: int, context, report: Report, locale: str,
                      checkin: bool = True) -> None:
    """The result card, alone: the radar chart with the card as its caption and the offers as
    its buttons (the priorities one at a time, the plan, the full report, check-ins, a retake).
    Sent last and alone, the score is what the owner sees on landing (the review's argument:
    the owner lands at the bottom of what arrived). A card longer than a caption may be comes
    as a message of its own under the chart; when the chart fails, the card with the eight
    dimension bars comes instead. When every drawing process is busy (many reports at once), or
    the chart is not drawn within CHART_WAIT seconds, that card goes out at once and the chart
    follows, in the background.
    `checkin`: False for /report, which does not ask again."""
    import asyncio

    from bot import render_pool
    from bot.chart import render_off_loop
    from bot.content.layout import CAPTION_LIMIT, telegram_length

    markup = keyboard(coach_of(context).card_buttons(report, locale, checkin))
    as_caption = telegram_length(report.card) <= CAPTION_LIMIT
    queued = render_pool.busy()
    chart = asyncio.ensure_future(render_off_loop(report.chart))  # drawn while we send
    try:
        try:
            if queued:
                raise TimeoutError
            # "sending a photo ..." while the chart is drawn: the two overlap
            action = asyncio.ensure_future(
                context.bot.send_chat_action(chat_id, ChatAction.UPLOAD_PHOTO))
            try:
                png = await asyncio.wait_for(asyncio.shield(chart), CHART_WAIT)
            finally:
                await action
        except TimeoutError:
            await context.bot.send_message(chat_id, report.card_text, parse_mode=HTML,
                                           reply_markup=markup)
            late = _late_chart(context.bot, chat_id, chart)
            if context.application.running:  # a graceful stop waits for it
                context.application.create_task(late)
            else:
                task = asyncio.create_task(late)
                _LATE.add(task)
                task.add_done_callback(_LATE.discard)
            return
        if as_caption:
            await context.bot.send_photo(chat_id, png, caption=report.card, parse_mode=HTML,
                                         reply_markup=markup)
            return
        await context.bot.send_photo(chat_id, png)
    except Forbidden:
        chart.cancel()
        raise
    except (TelegramError, OSError, ValueError, RuntimeError) as exc:
        log.warning("report chart not delivered: %s (%s)", type(exc).__name__,
                    type(exc.__cause__).__name__ if exc.__cause__ else "-")
        await context.bot.send_message(chat_id, report.card_text, parse_mode=HTML,
                                       reply_markup=markup)
        return
    await context.bot.send_message(chat_id, report.card, parse_mode=HTML, reply_markup=markup)


async def _late_chart(bot, chat_id: int, chart) -> None:
    """The chart of a card that went out without it, once drawn (lost if the bot stops first:
    the card with its bars has arrived)."""
    try:
        await bot.send_photo(chat_id, await chart)
    except (TelegramError, OSError, ValueError, RuntimeError) as exc:
        log.warning("late report chart not delivered: %s (%s)", type(exc).__name__,
                    type(exc.__cause__).__name__ if exc.__cause__ else "-")


async def priority_page(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """pri:<aid>:<n>[:n]: the report's priority n; from the card (n) in a new message, from
    "Next priority" in the same one."""
    query = update.callback_query
    user_id, locale = await _user_locale(update, context)
    _, assessment_id, number, *new = decode(query.data)
    screen = await coach_of(context).priority_page(user_id, assessment_id, number, locale)
    if screen is None:
        await answer(query, coach_of(context).renderer(locale).message("stale_no_assessment"))
        return
    await answer(query)
    if new:
        await send(context, update.effective_chat.id, screen)
    else:
        await edit(query, screen)


async def checkin_offer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """chk:<aid>: "Shall I check in?" with 7 / 30 days, no thanks and the weakest lesson."""
    query = update.callback_query
    user_id, locale = await _user_locale(update, context)
    record = await coach_of(context).owned(user_id, decode(query.data)[1])
    if record is None or record.status != "finished":
        await answer(query, coach_of(context).renderer(locale).message("stale_no_assessment"))
        return
    await answer(query)
    scores = (record.scores or {}).get("dimensions", {})
    await send(context, update.effective_chat.id,
               coaching_of(context).offer(locale, record.state.id, scores))


async def membership_changed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The user blocked (kicked) or unblocked the bot: no messages to someone who left."""
    change = update.my_chat_member
    if change is None or change.chat.type != "private":
        return
    active = change.new_chat_member.status not in ("kicked", "left")
    await coach_of(context).store.set_active(change.from_user.id, active)


# --- errors ------------------------------------------------------------------------------------
async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the update id and the error class (never texts or tokens); tell the user briefly."""
    error = context.error
    update_id = update.update_id if isinstance(update, Update) else None
    log.error("update %s failed: %s", update_id, type(error).__name__,
              exc_info=(type(error), error, error.__traceback__) if error else None)
    if not isinstance(update, Update) or not is_private(update):
        return  # a group or an update without a chat: nobody to tell, nothing to mark
    if isinstance(error, Forbidden) and update.effective_user:
        await coach_of(context).store.set_active(update.effective_user.id, False)
        return
    try:
        coach = coach_of(context)
        user = await coach.store.get_user(update.effective_user.id) \
            if update.effective_user else None
        locale = user.language if user and user.language else "en"
        text = coach.renderer(locale).message("error")
        # [faults] A tap answered before the failure can not be answered again: then a message.
        if await answer(update.callback_query, text):
            return
        await context.bot.send_message(update.effective_chat.id, text, parse_mode=HTML)
    except Exception as exc:  # the error report itself failed: log, never raise from here
        log.warning("could not tell the user about the error: %s", type(exc).__name__)
