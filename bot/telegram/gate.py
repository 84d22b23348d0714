"""The gate every update passes after `processing.admit` (which recorded its id): private-chat
updates the bot serves go on to the handlers, everything else stops here (see chats.py).

- In a group: /start or /help addressed to the bot, or the bot being added, gets one short
  message with a button to the private chat; a tap on a button gets a short notice; nothing
  else is answered, and nothing is stored about anyone.
- An edited message never runs a command or gets a hint; it may only correct a cohort name
  the user just typed (trainer.consume_edit).
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.content.render import Button, Screen
from bot.service import locale_for

from .chats import added_to_group, group_command, in_group, served
from .replies import answer, send

log = logging.getLogger(__name__)


async def gate(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    if not isinstance(update, Update):
        return
    if served(update):
        if update.edited_message is None:
            return  # on to the handlers
        from .trainer import consume_edit

        await consume_edit(update, context)
    elif in_group(update):
        if group_command(update, context.bot.username) or added_to_group(update):
            await _hello(update, context)
        elif update.callback_query is not None:
            await answer(update.callback_query, _renderer(update, context).message("group_tap"))
    elif update.callback_query is not None:  # a tap with no chat we serve: stop its spinner
        await answer(update.callback_query)
    raise ApplicationHandlerStop


def _renderer(update: Update, context):
    """The renderer in the language Telegram gives for whoever wrote (nothing is stored)."""
    user = update.effective_user
    return context.application.bot_data["coach"].renderer(
        locale_for(user.language_code if user else None))


async def _hello(update: Update, context) -> None:
    """One short message with a link to the private chat (https://t.me/<bot>)."""
    r = _renderer(update, context)
    link = f"https://t.me/{context.bot.username}"
    screen = Screen(r.message("group_hello"),
                    ((Button(r.button("open_private"), (), url=link),),))
    await send(context, update.effective_chat.id, screen)
    log.info("update %s: answered in a group", update.update_id)
