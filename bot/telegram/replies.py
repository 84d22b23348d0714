"""The three ways every handler replies: answer a tap, edit the tapped message, send a message.

Each failure kind is handled here once, so that no handler has to:
- Answering a tap (answerCallbackQuery) is a courtesy: it stops the button's spinner and may show
  a notice. It fails when the query is too old (Telegram's time for it is up, or it was answered
  already), on a network error or a timeout; the handler's work never depends on it.
- Editing the tapped message fails when Telegram can not edit it ("message can't be edited",
  "message to edit not found", a message too old to be accessible, a photo instead of text): the
  screen then arrives as a new message, so a done action is always confirmed. "Message is not
  modified" means the screen is already there: a success.
"""

from __future__ import annotations

import logging

from telegram import CallbackQuery, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError

from bot.content.render import Screen

from .callbacks import keyboard

log = logging.getLogger(__name__)
HTML = ParseMode.HTML


async def answer(query: CallbackQuery | None, text: str | None = None,
                 show_alert: bool = False) -> bool:
    """Answer a tap with an optional notice (up to 200 characters). True when Telegram took
    it; False when it failed (the reason is logged by class, never raised)."""
    if query is None:
        return False
    try:
        await query.answer(text, show_alert=show_alert or None)
        return True
    except TelegramError as exc:  # too old, invalid id, network error, timeout, ...
        # (A user who blocked the bot is found out by the next send or edit.)
        log.info("callback query not answered: %s", _reason(exc))
        return False


async def send(context, chat_id: int, screen: Screen, assessment_id: int | None = None) -> Message:
    """A new message showing `screen`."""
    return await context.bot.send_message(
        chat_id, screen.text, parse_mode=HTML,
        reply_markup=keyboard(screen.buttons, assessment_id))


async def edit(query: CallbackQuery, screen: Screen,
               assessment_id: int | None = None) -> Message | None:
    """Show `screen` in the tapped message; when that message can not be edited, in a new one.

    Returns the message that shows the screen now (the tapped one, or the new one; None only
    when Telegram answered an edit with True, which it does for inline messages). Network
    errors and timeouts are raised: the edit may have happened, and sending a second copy is
    worse than the short "try again" the error handler gives.
    """
    markup = keyboard(screen.buttons, assessment_id)
    tapped = query.message
    # A message older than 48 hours comes with date 0 (inaccessible): it can not be edited.
    if isinstance(tapped, Message) and tapped.is_accessible:
        try:
            # What Telegram returns is the tapped message with the new text and buttons, which
            # we sent: not decoded into a Message (PTB's de_json of it was ~8% of a tap's CPU).
            # Bot._post is what Bot.edit_message_text calls, minus that decoding.
            await query.get_bot()._post("editMessageText", {
                "chat_id": tapped.chat.id, "message_id": tapped.message_id,
                "text": screen.text, "parse_mode": HTML, "reply_markup": markup})
            return tapped
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return tapped
            # Can't be edited, not found, no text in it, ...: Telegram refused this message
            # for good, so repeating is pointless; the screen goes out as a new message.
            log.info("message not edited (%s): sent as a new one", _reason(exc))
    if tapped is None:  # an inline message: there is no chat to send to
        raise BadRequest("message to edit is not in a chat")
    return await query.get_bot().send_message(tapped.chat.id, screen.text, parse_mode=HTML,
                                               reply_markup=markup)


async def edit_message(context, chat_id: int, message_id: int, screen: Screen) -> bool:
    """Show `screen` in an earlier message of the bot's (no tap to answer): True when it
    shows it now. A message Telegram will not edit (too old, deleted) stays as it is: nothing
    depends on it, so the refusal is only logged."""
    try:
        await context.bot.edit_message_text(screen.text, chat_id=chat_id,
                                            message_id=message_id, parse_mode=HTML,
                                            reply_markup=keyboard(screen.buttons))
        return True
    except BadRequest as exc:
        if "not modified" in str(exc).lower():
            return True
        log.info("earlier message not edited (%s)", _reason(exc))
        return False


def _reason(exc: TelegramError) -> str:
    """The class of a failure, and for Telegram's refusals its short description (no texts of
    users are in it: Telegram describes the request, not the message)."""
    if isinstance(exc, BadRequest):
        return f"BadRequest: {str(exc)[:80]}"
    return type(exc).__name__
