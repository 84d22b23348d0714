"""Production behaviour: webhook security, health, ordering, repeats, rate limits, blocking,
backups and start-up errors."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
from telegram import Update

from bot.config import Settings
from bot.storage import Store
from bot.storage.backup import backup_sqlite
from bot.telegram.webhook import create_asgi

from .conftest import ROOT, Person, make_app
from .fakes import buttons
from .test_conversation import start_full

SECRET = "s3cret_token-123"


def hook_settings(**extra) -> Settings:
    return Settings(bot_token="123:TEST", webhook_url="https://bot.example.com/tg/hook",
                    webhook_secret=SECRET, _env_file=None, **extra)


def an_update(update_id: int = 1, user_id: int = 77) -> dict:
    return {"update_id": update_id, "message": {
        "message_id": 1, "date": int(time.time()), "chat": {"id": user_id, "type": "private"},
        "from": {"id": user_id, "is_bot": False, "first_name": "W"}, "text": "/help",
        "entities": [{"type": "bot_command", "offset": 0, "length": 5}]}}


async def test_webhook_rejects_missing_and_wrong_secrets_and_queues_the_right_one(app):
    asgi = create_asgi(app, hook_settings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi),
                                 base_url="http://bot") as client:
        missing = await client.post("/tg/hook", json=an_update(1))
        wrong = await client.post("/tg/hook", json=an_update(2),
                                  headers={"X-Telegram-Bot-Api-Secret-Token": SECRET + "x"})
        assert (missing.status_code, wrong.status_code) == (403, 403)
        assert app.update_queue.qsize() == 0  # nothing was processed
        right = await client.post("/tg/hook", json=an_update(3),
                                  headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
        assert right.status_code == 200
        queued = app.update_queue.get_nowait()
        assert isinstance(queued, Update) and queued.update_id == 3
        garbage = await client.post("/tg/hook", content=b"{not json",
                                    headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
        assert garbage.status_code == 400


async def test_healthz_follows_the_database(app, content, telegram):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(
            app=create_asgi(app, hook_settings())), base_url="http://bot") as client:
        assert (await client.get("/healthz")).status_code == 200
    down = await Store.open("postgresql+asyncpg://nobody@127.0.0.1:9/none", migrate=False)
    broken = await make_app(content, down, telegram)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(
            app=create_asgi(broken, hook_settings())), base_url="http://bot") as client:
        response = await client.get("/healthz")
        assert response.status_code == 503 and "database" in response.text
    await broken.shutdown()
    await down.close()


async def test_one_user_in_order_while_another_runs_concurrently(app, telegram, store, person):
    a, b = person(1201), person(1202)
    await start_full(a)
    await start_full(b)
    screen_a, screen_b = a.screen, b.screen
    first_a = buttons(screen_a)[1][1]  # the first question, its second option
    # A second tap that is only valid once the first one is in: the next question's.
    flow = app.bot_data["coach"].flow("full")
    _, aid, position, _ = first_a.split(":")
    nxt = flow.steps[int(position) + 1].item
    second_a = f"ans:{aid}:{int(position) + 1}:{nxt.options[1].id}"
    telegram.delays["answerCallbackQuery"] = [0.3]  # the first tap's answer is slow

    def tap(person_, data, message_id, update_id):
        query = {"id": f"q{update_id}", "from": person_._from(), "chat_instance": "c",
                 "data": data, "message": {"message_id": message_id, "date": 0,
                                           "chat": {"id": person_.id, "type": "private"},
                                           "text": "q"}}
        return Update.de_json({"update_id": update_id, "callback_query": query}, app.bot)

    updates = [tap(a, first_a, screen_a.message_id, 50_001),
               tap(a, second_a, screen_a.message_id, 50_002),
               tap(b, buttons(screen_b)[1][1], screen_b.message_id, 50_003)]
    processor = app.update_processor
    order: list[int] = []

    async def run(update):
        await processor.process_update(update, app.process_update(update))
        order.append(update.update_id)

    await asyncio.gather(*(asyncio.create_task(run(u)) for u in updates))
    assert order.index(50_003) < order.index(50_001)  # B did not wait for A's slow tap
    assert order.index(50_001) < order.index(50_002)  # A's taps in arrival order
    record = await store.open_assessment(a.id)
    assert len(record.state.answers) == 2 and record.state.cursor == int(position) + 2


async def test_a_repeated_update_id_is_processed_once_also_by_a_second_app(
        content, db_url, telegram):
    store_one, store_two = await Store.open(db_url), await Store.open(db_url)
    one = await make_app(content, store_one, telegram)
    two = await make_app(content, store_two, telegram)
    p = Person(one, telegram, 1301)
    await start_full(p)
    data = buttons(p.screen)[1][1]
    await p.press(data, update_id=60_001)
    await Person(two, telegram, 1301).press(data, update_id=60_001)  # redelivered elsewhere
    await p.press(data, update_id=60_001)
    answered = [c for c in telegram.called("answerCallbackQuery")]
    record = await store_one.open_assessment(p.id)
    assert len(record.state.answers) == 1
    assert sum(1 for c in answered if c.params.get("text") == "Already saved.") == 0
    for app_, store_ in ((one, store_one), (two, store_two)):
        await app_.shutdown()
        await store_.close()


async def test_retry_after_then_success(person, telegram):
    p = person(1401)
    telegram.retry_after["sendMessage"] = [1]
    started = time.monotonic()
    await p.send("/help")
    assert len(telegram.called("sendMessage")) == 2  # refused once, then sent
    assert time.monotonic() - started >= 1
    assert "What I can do" in p.texts[-1]


async def test_forbidden_marks_the_user_inactive(person, telegram, store, app):
    p = person(1501)
    await p.send("/start")
    telegram.fail("sendMessage", 403, "Forbidden: bot was blocked by the user")
    await p.send("/help")
    assert (await store.get_user(p.id)).active is False
    await p.send("/help")  # they are back: writing makes them active
    assert (await store.get_user(p.id)).active is True
    kicked = {"update_id": 70_001, "my_chat_member": {
        "chat": {"id": p.id, "type": "private"}, "from": p._from(), "date": 0,
        "old_chat_member": {"status": "member", "user": {"id": 999000, "is_bot": True,
                                                         "first_name": "Coach"}},
        "new_chat_member": {"status": "kicked", "until_date": 0,
                            "user": {"id": 999000, "is_bot": True, "first_name": "Coach"}}}}
    await p.process(kicked)
    assert (await store.get_user(p.id)).active is False


async def test_backup_while_writing_holds_every_committed_answer(tmp_path, content, telegram):
    # SQLite's online backup; a PostgreSQL operator uses pg_dump instead.
    url = f"sqlite+aiosqlite:///{tmp_path / 'live.db'}"
    store = await Store.open(url)
    app = await make_app(content, store, telegram)
    p = Person(app, telegram, 1601)
    await start_full(p)
    committed = 0
    five_in = asyncio.Event()

    async def keep_answering():
        nonlocal committed
        while committed < 24:
            await p.tap(1)
            committed += 1
            if committed == 5:
                five_in.set()

    writer = asyncio.create_task(keep_answering())
    await five_in.wait()
    before = committed  # every one of these was committed before the copy started
    target = tmp_path / "copy.db"
    pages, size = await asyncio.to_thread(backup_sqlite, url, target)
    await writer
    copy = sqlite3.connect(target)
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    (count,) = copy.execute("SELECT count(*) FROM answers").fetchone()
    assert count >= before and pages > 0 and size > 0
    copy.close()
    await app.shutdown()
    await store.close()


def run_bot(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("BOT_TOKEN", "WEBHOOK_URL",
                                                                    "WEBHOOK_SECRET")}
    environment.update(PYTHONPATH=str(ROOT), **env)
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True,
                          env=environment, timeout=60, cwd=ROOT)


def test_missing_token_is_one_line_and_exit_2():
    done = run_bot()
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "BOT_TOKEN" in done.stderr
    assert "Traceback" not in done.stderr


def test_webhook_mode_needs_a_secret_and_bad_settings_are_one_line(tmp_path):
    no_secret = run_bot(BOT_TOKEN="1:x", WEBHOOK_URL="https://b.example/hook",
                        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    assert no_secret.returncode == 2 and "WEBHOOK_SECRET" in no_secret.stderr
    bad = run_bot(BOT_TOKEN="1:x", LOG_LEVEL="loud")
    assert bad.returncode == 2 and "LOG_LEVEL" in bad.stderr and "Traceback" not in bad.stderr


def test_backup_command_refuses_postgres_and_missing_files(tmp_path):
    pg = run_bot("backup", str(tmp_path / "b.db"), "--db", "postgresql+asyncpg://x@h/d")
    assert pg.returncode == 2 and "pg_dump" in pg.stderr
    missing = run_bot("backup", str(tmp_path / "b.db"), "--db",
                      f"sqlite+aiosqlite:///{tmp_path / 'none.db'}")
    assert missing.returncode == 2 and "no database" in missing.stderr
    assert not Path(tmp_path / "b.db").exists()
