"""Logging: one line per event; LOG_FORMAT=json for log shippers. Never message texts or tokens.

Two rules hold at every LOG_LEVEL, DEBUG included:
- Secrets (the bot token, the webhook secret, the database password) are replaced by
  "[redacted]" in every record that reaches the handler, whichever logger wrote it: message,
  arguments and traceback (`RedactSecrets`, a filter on the one root handler).
- Only the bot's own loggers go below INFO. Libraries write whole updates (PTB: "Processing
  update ..."), request URLs holding the token (httpx, aiohttp) and SQL with its parameters
  (SQLAlchemy, the inbox's raw updates) at DEBUG; those are kept at WARNING even then.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

from bot.config import Settings

EXTRA_FIELDS = ("update_id", "ms")
REDACTED = "[redacted]"
QUIET = {"aiohttp": logging.WARNING,  # the Bot API client (bot/telegram/request.py)
         "httpx": logging.WARNING, "httpcore": logging.WARNING,  # URLs with the token
         "sqlalchemy": logging.WARNING,  # statements with their parameters
         "apscheduler": logging.WARNING, "aiosqlite": logging.WARNING}


class RedactSecrets(logging.Filter):
    """Replace every secret in a record (message with its arguments, traceback, stack)."""

    def __init__(self, secrets) -> None:
        super().__init__()
        variants = set()
        for secret in secrets:
            if secret:
                variants |= {secret, quote(secret, safe="")}
        self.secrets = sorted(variants, key=len, reverse=True)  # the longest first

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what there is
            message = str(record.msg)
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def secrets_of(settings: Settings) -> list[str]:
    secrets = [settings.bot_token or ""]
    if settings.webhook_secret and len(settings.webhook_secret) >= 6:  # short ones: too common
        secrets.append(settings.webhook_secret)
    password = urlsplit(settings.database_url).password
    if password and len(password) >= 4:
        secrets.append(password)
    return secrets


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in EXTRA_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["error"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            entry["traceback"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler()
    if settings.log_format.lower() == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets_of(settings)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    level = logging.getLevelName(settings.log_level)
    root.setLevel(max(level, logging.INFO))  # libraries: INFO at most (see above)
    logging.getLogger("bot").setLevel(level)
    for name, quiet in QUIET.items():
        logging.getLogger(name).setLevel(max(level, quiet))
