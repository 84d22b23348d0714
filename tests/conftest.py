"""Shared fixtures: the real content, a real SQLite file, the real Application on a fake Bot API."""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

import pytest
from telegram import Update

from bot.config import Settings
from bot.content import load_content
from bot.storage import Store
from bot.telegram.app import build_application

from .fake_bot_api import BotProcess, FakeBotApi
from .fakes import FakeTelegram, buttons

ROOT = Path(__file__).resolve().parents[1]
_update_ids = itertools.count(1)


@pytest.fixture(scope="session")
def content():
    return load_content()


PG_URL = os.environ.get("TEST_POSTGRES_URL")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
_databases = itertools.count(1)


@pytest.fixture(scope="session")
def pg_template():
    """A migrated template database; each test gets a fresh copy of it (fast: a file copy)."""
    import asyncio

    async def make() -> str:
        admin = await _pg_admin()
        # One template per test run: several runs can share one server without clobbering it.
        name = f"tcx_template_{os.getpid()}"
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {name}")
        await admin.close()
        store = await Store.open(_pg_url(name))
        await store.close()
        return name

    # Session fixtures may be first needed inside a running test loop: use a thread of its own.
    from concurrent.futures import ThreadPoolExecutor

    async def drop(name: str) -> None:
        admin = await _pg_admin()
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()

    with ThreadPoolExecutor(1) as pool:
        name = pool.submit(asyncio.run, make()).result()
    yield name
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, drop(name)).result()


def _pg_url(database: str) -> str:
    return PG_URL.rsplit("/", 1)[0] + "/" + database


async def _pg_admin():
    import asyncpg

    return await asyncpg.connect(PG_URL.replace("postgresql+asyncpg", "postgresql"))


@pytest.fixture(params=[
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.skipif(
        not PG_URL and not IN_CI,
        reason="no PostgreSQL configured: run `eval \"$(bash .ci/postgres.sh start)\"` first")),
])
async def db_url(request, tmp_path) -> str:
    """A fresh database for one test: a SQLite file, or a copy of the PostgreSQL template."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
        return
    if not PG_URL:
        pytest.fail("CI must run the PostgreSQL tests: TEST_POSTGRES_URL is not set")
    template = request.getfixturevalue("pg_template")
    name = f"tcx_{os.getpid()}_{next(_databases)}"
    admin = await _pg_admin()
    await admin.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    yield _pg_url(name)
    await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    await admin.close()


@pytest.fixture
async def store(db_url):
    s = await Store.open(db_url)
    yield s
    await s.close()


@pytest.fixture
def telegram() -> FakeTelegram:
    return FakeTelegram()


async def make_app(content, store, telegram, **settings):
    app = build_application(Settings(bot_token="123:TEST", _env_file=None, **settings),
                            content, store, request=telegram)
    await app.initialize()
    return app


@pytest.fixture
async def app(content, store, telegram):
    application = await make_app(content, store, telegram)
    yield application
    await application.shutdown()


class Person:
    """A Telegram user who types and taps; every update goes through app.process_update."""

    def __init__(self, app, telegram: FakeTelegram, user_id: int, language_code: str = "en",
                 first_name: str = "Ann"):
        self.app, self.telegram = app, telegram
        self.id, self.language_code, self.first_name = user_id, language_code, first_name

    def _from(self) -> dict:
        return {"id": self.id, "is_bot": False, "first_name": self.first_name,
                "language_code": self.language_code}

    async def send(self, text: str, update_id: int | None = None) -> None:
        message = {"message_id": next(_update_ids) + 10_000, "date": int(time.time()),
                   "chat": {"id": self.id, "type": "private"}, "from": self._from(),
                   "text": text}
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0,
                                    "length": len(text.split()[0])}]
        await self.process({"update_id": update_id or next(_update_ids), "message": message})

    async def press(self, data: str, message_id: int | None = None,
                    update_id: int | None = None) -> None:
        """Tap a button with this callback data (real or forged) on a message."""
        if message_id is None:
            message_id = self.telegram.last_with_buttons(self.id).message_id
        msg = self.telegram.messages.get(self.id, {}).get(message_id)
        message = {"message_id": message_id, "date": int(time.time()),
                   "chat": {"id": self.id, "type": "private"},
                   "from": {"id": 999000, "is_bot": True, "first_name": "Coach"},
                   "text": msg.text if msg else "old"}
        query = {"id": f"q{next(_update_ids)}", "from": self._from(), "chat_instance": "ci",
                 "data": data, "message": message}
        await self.process({"update_id": update_id or next(_update_ids),
                            "callback_query": query})

    async def tap(self, label: str | int) -> str:
        """Tap the n-th button of the newest message with buttons, or the newest button whose
        label contains `label` (like a user scrolling up to it)."""
        if isinstance(label, int):
            screen = self.screen
            data = buttons(screen)[label][1]
        else:
            found = [(m, d) for m in reversed(self.telegram.chat(self.id)) if m.reply_markup
                     for text, d in buttons(m) if label in text]
            assert found, f"no button {label!r} in {[t for t, _ in buttons(self.screen)]}"
            screen, data = found[0]
        await self.press(data, screen.message_id)
        return data

    async def process(self, payload: dict) -> None:
        await self.app.process_update(Update.de_json(payload, self.app.bot))

    @property
    def screen(self):
        return self.telegram.last_with_buttons(self.id)

    @property
    def texts(self) -> list[str]:
        return [m.text for m in self.telegram.chat(self.id)]


@pytest.fixture
def person(app, telegram):
    def make(user_id: int = 1001, language_code: str = "en", first_name: str = "Ann") -> Person:
        return Person(app, telegram, user_id, language_code, first_name)
    return make


@pytest.fixture
def api():
    """A fake Bot API served over HTTP (tests/fake_bot_api.py), for the bot as a real process."""
    with FakeBotApi() as server:
        yield server


@pytest.fixture
def bot(api, tmp_path):
    """`python -m bot` as a process talking to `api`; killed (with its group) afterwards."""
    process = BotProcess(api, tmp_path / "bot.db", tmp_path)
    try:
        yield process
    finally:
        process.kill()
