"""Configuration from environment variables (and an optional .env file)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/bot.db"


def _ids(value) -> list[int]:
    if value in (None, ""):
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, str):
        return [int(part) for part in value.replace(";", ",").split(",") if part.strip()]
    return [int(v) for v in value]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: str | None = Field(default=None, repr=False)
    database_url: str = DEFAULT_DATABASE_URL
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_api_file_url: str = "https://api.telegram.org/file/bot"
    log_level: str = "INFO"
    log_format: str = "text"
    admin_ids: Annotated[list[int], NoDecode] = []
    trainer_ids: Annotated[list[int], NoDecode] = []
    content_dir: Path | None = None
    articles_dir: Path | None = None
    timezone: str = "UTC"  # the operator's time zone: reminders avoid its nights
    webhook_url: str | None = None  # set: webhook mode (e.g. https://bot.example.com/telegram)
    webhook_secret: str | None = Field(default=None, repr=False)
    webhook_listen: str = "0.0.0.0"
    port: int = 8080
    max_concurrent_updates: int = 256
    # This replica's name in the inbox: unique per replica and the same across its restarts (a
    # restarted replica takes up at once what it had accepted). Default: host name and port.
    replica_id: str | None = Field(default=None, max_length=64)
    inbox_lease_seconds: float = Field(default=60.0, gt=0)  # a silent replica's work moves on
    drain_seconds: float = Field(default=8.0, ge=0)  # SIGTERM: finish queued updates this long
    rate_limit_per_second: float = 0  # overall cap on sends; 0: none (RetryAfter still honoured)

    @property
    def webhook_path(self) -> str:
        from urllib.parse import urlparse

        return urlparse(self.webhook_url or "").path or "/telegram"

    @field_validator("admin_ids", "trainer_ids", mode="before")
    @classmethod
    def _parse_ids(cls, value):
        return _ids(value)

    @field_validator("webhook_secret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        # Telegram allows 1-256 characters A-Z, a-z, 0-9, _ and - in secret_token.
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value):
            raise ValueError("1-256 characters from A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return value


def prepare_sqlite_dir(database_url: str) -> None:
    """Create the folder of a SQLite database file so a fresh checkout just runs."""
    prefix = "sqlite+aiosqlite:///"
    if database_url.startswith(prefix):
        path = database_url[len(prefix):]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
