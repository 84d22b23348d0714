"""Which updates the bot serves, decided in one place (pure functions of the update).

The bot is for private chats: there it serves messages, edits of messages, taps and the user's
own block / unblock (my_chat_member). Anything else - a group, a supergroup, a channel, or an
update kind the bot does not use (reactions, poll answers, join requests, inline queries,
channel posts, ...) - stores nothing about anyone. In a group the bot answers only /start and
/help addressed to it, and being added, each once, with a link to the private chat.
"""

from __future__ import annotations

from telegram import Update

# What getUpdates and setWebhook ask Telegram for: nothing else is sent to the bot.
ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "my_chat_member")
# Of those, the ones that may create the user's row (a private chat the user writes or taps
# in). my_chat_member only updates an existing row: blocking the bot after /delete must not
# bring the user back.
CREATES_USER = ("message", "edited_message", "callback_query")
GROUP_CHATS = ("group", "supergroup")
GROUP_COMMANDS = ("start", "help")


def _kind(update: Update) -> str | None:
    for kind in ALLOWED_UPDATES:
        if getattr(update, kind, None) is not None:
            return kind
    return None


def is_private(update: Update) -> bool:
    chat = update.effective_chat
    return chat is not None and chat.type == "private"


def served(update: Update) -> bool:
    """A private-chat update of a kind the bot serves: handlers run for it."""
    return is_private(update) and _kind(update) is not None


def creates_user(update: Update) -> bool:
    """May this update create (or load) the row of its user? Only in a private chat."""
    return is_private(update) and _kind(update) in CREATES_USER


def in_group(update: Update) -> bool:
    chat = update.effective_chat
    return chat is not None and chat.type in GROUP_CHATS


def group_command(update: Update, bot_username: str | None) -> str | None:
    """"start" or "help" for a new group message that is that command addressed to this bot
    (`/start`, `/help@<bot>`); None for anything else, other bots' commands included."""
    message = update.message
    if message is None or not in_group(update) or not message.text:
        return None
    entity = next(iter(message.entities or ()), None)
    if entity is None or entity.type != "bot_command" or entity.offset != 0:
        return None
    command, _, addressee = message.text[1:entity.length].partition("@")
    if addressee and (bot_username or "").lower() != addressee.lower():
        return None
    command = command.lower()
    return command if command in GROUP_COMMANDS else None


def added_to_group(update: Update) -> bool:
    """The bot was just added to a group (it was not in it before)."""
    change = update.my_chat_member
    if change is None or not in_group(update):
        return False
    was_in = change.old_chat_member.status in ("member", "administrator", "creator",
                                               "restricted")
    is_in = change.new_chat_member.status in ("member", "administrator", "restricted")
    return is_in and not was_in
