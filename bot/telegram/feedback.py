"""Handlers of the 360° check: the owner's /team and /customers, the team and customer deep links,
the customer pulse's taps. Thin: bot/feedback.py decides, the content says it.

Buttons (at most 64 bytes, validated by the patterns below):
  fb:<team|customer>:<open|new|card|name|renew|close> the owner's link screens; every tap acts on
                                                      the tapper's own link only
  ts:<link id>    a staff member starts the assessment of the business
  ps:<link id>    a customer starts (or, within 30 days, redoes) the pulse
  fd:<link id>    "no thanks" to either
  pu:<link id>:<question number>:<option id|na>    one pulse answer
  pn:<link id>:<0-10|s>                            the 0-10 question (s: skip)
The business name is typed: the "waiting for a name" marker is the trainer feature's prompt row
(kind "bizname"), so any replica takes the answer.
"""

from __future__ import annotations

import asyncio
import logging
import re

from telegram import Update
from telegram.constants import ChatAction, ParseMode
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, filters

from bot.cohorts import clean_name
from bot.content.render import Screen
from bot.draw import qr_png
from bot.feedback import Feedback, link_url
from bot.storage.cohorts import CohortStore

from . import handlers as h
from .replies import answer, edit, send

log = logging.getLogger(__name__)
HTML = ParseMode.HTML
_ID = r"(\d{1,9})"
OWNER_TAP = re.compile(r"^fb:(team|customer):(open|new|card|name|renew|close)$")
START_TAP = re.compile(rf"^(ts|ps|fd):{_ID}$")
PULSE_TAP = re.compile(rf"^pu:{_ID}:(\d{{1,2}}):([a-z0-9_]{{1,10}})$")
NPS_TAP = re.compile(rf"^pn:{_ID}:(10|[0-9]|s)$")
NAME_PROMPT = "bizname"


def add_feedback_handlers(app: Application) -> None:
    private = filters.ChatType.PRIVATE
    app.add_handler(CommandHandler("team", team_command, filters=private))
    app.add_handler(CommandHandler("customers", customers_command, filters=private))
    app.add_handler(CallbackQueryHandler(owner_tap, pattern=OWNER_TAP))
    app.add_handler(CallbackQueryHandler(start_tap, pattern=START_TAP))
    app.add_handler(CallbackQueryHandler(pulse_tap, pattern=PULSE_TAP))
    app.add_handler(CallbackQueryHandler(nps_tap, pattern=NPS_TAP))


def feedback_of(context) -> Feedback:
    return context.application.bot_data["feedback"]


# --- the owner -------------------------------------------------------------------------------
async def _owner_screen(update: Update, context, kind: str, in_place: bool = False) -> None:
    user_id, locale = await h._user_locale(update, context)
    screen = await feedback_of(context).owner_screen(user_id, kind, locale,
                                                     context.bot.username)
    if in_place and update.callback_query is not None:
        await edit(update.callback_query, screen)
    else:
        await send(context, update.effective_chat.id, screen)


async def team_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/team: the link for staff to give their view of the business."""
    await _owner_screen(update, context, "team")


async def customers_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/customers: the customer pulse link and its counter card."""
    await _owner_screen(update, context, "customer")


async def owner_tap(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    user_id, locale = await h._user_locale(update, context)
    fb = feedback_of(context)
    r = h.coach_of(context).renderer(locale)
    kind, action = OWNER_TAP.match(query.data).groups()
    if action == "open":  # from the result card: /team or /customers, as a new message
        await answer(query)
        await _owner_screen(update, context, kind)
        return
    if action in ("new", "renew"):
        if not await h.coach_of(context).has_report(user_id):
            await answer(query, r.message("feedback.needs_report"), show_alert=True)
            return
        await answer(query)
        if action == "new" and kind == "customer" and not await fb.store.business_name(user_id):
            await CohortStore(fb.store.engine).set_prompt(user_id, NAME_PROMPT)
            await edit(query, Screen(r.message("feedback.ask_name")))
            return
        link = await fb.create(user_id, kind)
        log.info("%s link %s created", kind, link.id)
        await _owner_screen(update, context, kind, in_place=True)
        if kind == "customer":
            await _send_card(update, context, link)
        return
    link = await fb.owned(user_id, kind)
    if link is None:
        await answer(query, r.message("stale_no_assessment"))
        return
    await answer(query)
    if action == "card":
        await _send_card(update, context, link)
    elif action == "name":
        await CohortStore(fb.store.engine).set_prompt(user_id, NAME_PROMPT)
        await send(context, update.effective_chat.id, Screen(r.message("feedback.ask_name")))
    elif action == "close":
        await fb.store.close(link.id)
        await _owner_screen(update, context, kind, in_place=True)


async def _send_card(update: Update, context, link) -> None:
    """The link's QR code (a worker thread draws it): for customers a counter card with the
    business name, one line of invitation and the link; for staff the code and the link."""
    _, locale = await h._user_locale(update, context)
    r = h.coach_of(context).renderer(locale)
    url = link_url(context.bot.username, link)
    chat_id = update.effective_chat.id
    await context.bot.send_chat_action(chat_id, ChatAction.UPLOAD_PHOTO)
    png = await asyncio.to_thread(
        qr_png, url, name=link.business_name or None,
        caption=r.plain(f"feedback.{link.kind}_card_invitation"), link=url, locale=locale)
    await context.bot.send_photo(chat_id, png, parse_mode=HTML, caption=r.message(
        f"feedback.{link.kind}_card_caption", name=link.business_name, link=url))


async def consume_name(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """A typed business name, if the bot asked this owner for one; False leaves the message to
    others (the trainer's cohort names, the hints). The name is never logged."""
    user = update.effective_user
    message = update.effective_message
    if user is None or message is None or (message.text or "").startswith("/"):
        return False
    fb = feedback_of(context)
    prompts = CohortStore(fb.store.engine)
    pending = await prompts.prompt(user.id)
    if pending is None or pending[0] != NAME_PROMPT:
        return False
    _, locale = await h._user_locale(update, context)
    r = h.coach_of(context).renderer(locale)
    name = clean_name(message.text) if message.text is not None else None
    if name is None:
        await send(context, update.effective_chat.id, Screen(r.message("feedback.name_invalid")))
        return True
    if not await prompts.take_prompt(user.id):
        return True
    link = await fb.owned(user.id, "customer")
    if link is None:
        link = await fb.create(user.id, "customer", name)
    await fb.store.rename(user.id, name)
    await _owner_screen(update, context, "customer")
    await _send_card(update, context, await fb.store.get(link.id))
    return True


# --- respondents -------------------------------------------------------------------------------
async def open_link(update: Update, context, payload: str) -> bool:
    """/start t_<code> or p_<code>: the intro (True), or False when the payload is not one."""
    user_id, locale = await h._user_locale(update, context)
    opened = await feedback_of(context).open(payload, user_id, locale)
    if opened is None:
        return False
    await send(context, update.effective_chat.id, opened.screen)
    return True


async def start_tap(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    user_id, locale = await h._user_locale(update, context)
    fb = feedback_of(context)
    r = h.coach_of(context).renderer(locale)
    kind, raw = START_TAP.match(query.data).groups()
    link_id = int(raw)
    if kind == "fd":
        await answer(query)
        await edit(query, Screen(r.message("feedback.declined")))
        return
    if kind == "ts":
        record = await fb.start_staff(link_id, user_id)
        if record is None:
            await answer(query, r.message("feedback.link_unknown"), show_alert=True)
            return
        await answer(query)
        await h._show_step(update, context, record, locale)
        return
    screen = await fb.pulse_screen(link_id, user_id, locale, begin=True)
    if screen is None:
        await answer(query, r.message("feedback.link_unknown"), show_alert=True)
        return
    await answer(query)
    await edit(query, screen)


async def pulse_tap(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    user_id, locale = await h._user_locale(update, context)
    r = h.coach_of(context).renderer(locale)
    raw_link, raw_number, option = PULSE_TAP.match(query.data).groups()
    result = await feedback_of(context).pulse_answer(int(raw_link), user_id, int(raw_number),
                                                     option, locale)
    if result is None:
        await answer(query, r.message("feedback.link_unknown"))
        return
    stored, screen = result
    await answer(query, None if stored else r.message("stale"))
    await edit(query, screen)


async def nps_tap(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    user_id, locale = await h._user_locale(update, context)
    r = h.coach_of(context).renderer(locale)
    raw_link, value = NPS_TAP.match(query.data).groups()
    screen = await feedback_of(context).pulse_finish(
        int(raw_link), user_id, None if value == "s" else int(value), locale)
    if screen is None:
        await answer(query, r.message("feedback.link_unknown"))
        return
    await answer(query)
    await edit(query, screen)
