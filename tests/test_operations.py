"""Operations: a backup under a steady write load, logs without secrets or texts at DEBUG, the
webhook's answers to oversized, slow and malformed requests, SQLite's durability setting."""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
import threading
import time

import httpx
import pytest

from bot.config import Settings
from bot.storage import Store
from bot.telegram import webhook
from bot.telegram.webhook import create_asgi

from .fake_bot_api import TOKEN, BotProcess
from .test_production import SECRET, an_update, hook_settings, run_bot

BACKUP_MB = 40


def _ballast(path, megabytes: int) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE ballast (id INTEGER PRIMARY KEY, data BLOB)")
        db.execute("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n "
                   f"WHERE x < {megabytes * 256}) INSERT INTO ballast (data) "
                   "SELECT randomblob(4000) FROM n")


async def test_backup_finishes_under_a_steady_write_load(tmp_path):
    """`python -m bot backup` of a BACKUP_MB MB database while another process commits about
    40 times a second: it finishes, the copy passes its integrity check and holds every row
    committed before it started."""
    path = tmp_path / "big.db"
    url = f"sqlite+aiosqlite:///{path}"
    await (await Store.open(url)).close()  # the bot's schema, WAL mode
    _ballast(path, BACKUP_MB)
    stop, committed = threading.Event(), []

    def writer() -> None:  # a second connection, like the running bot
        db = sqlite3.connect(path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        n = 0
        while not stop.is_set():
            n += 1
            db.execute("INSERT INTO ballast (data) VALUES (randomblob(200))")
            db.commit()
            committed.append(n)
            time.sleep(0.025)
        db.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        await asyncio.sleep(0.5)
        before = len(committed)
        started = time.monotonic()
        done = await asyncio.to_thread(run_bot, "backup", str(tmp_path / "copy.db"), "--db", url)
        took = time.monotonic() - started
    finally:
        stop.set()
        thread.join()
    rate = len(committed) / (0.5 + took)
    assert done.returncode == 0, done.stderr
    assert "integrity ok" in done.stdout
    copy = sqlite3.connect(tmp_path / "copy.db")
    (rows,) = copy.execute("SELECT count(*) FROM ballast").fetchone()
    copy.close()
    assert rows >= BACKUP_MB * 256 + before
    print(f"\nbackup: {BACKUP_MB} MB under {rate:.0f} commits/s: finished in {took:.1f} s "
          f"(process start included), {len(committed)} commits during the run")


def test_sqlite_syncs_every_commit(tmp_path):
    """WAL with synchronous=FULL: an acknowledged commit survives a power cut."""
    async def check() -> int:
        store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'd.db'}")
        try:
            return await store._read(
                lambda conn: conn.exec_driver_sql("PRAGMA synchronous").scalar())
        finally:
            await store.close()

    assert asyncio.run(check()) == 2  # 2 = FULL


# --- logs ----------------------------------------------------------------------------------------
SECRET_TEXT = "my-secret-supplier-list-7731"


def test_a_debug_log_holds_no_token_no_texts_and_no_user_ids(api, tmp_path):
    """The bot as a process at LOG_LEVEL=DEBUG: a user types a text and taps; the log has no
    token, no typed text, no user id and no first name, in text and in JSON format."""
    name = "Zebedee"
    for user_id, log_format in ((7_987_654_321, "text"), (7_987_654_322, "json")):
        bot = BotProcess(api, tmp_path / f"{log_format}.db", tmp_path, name=log_format,
                         extra_env={"LOG_LEVEL": "DEBUG", "LOG_FORMAT": log_format})
        bot.start()
        try:
            api.send_text(user_id, "/start", first_name=name)
            welcome = api.wait(lambda u=user_id: api.last_with_buttons(u, "new:quick"))
            api.send_text(user_id, SECRET_TEXT, first_name=name)
            api.tap(user_id, welcome.message_id, "new:quick", first_name=name)
            api.wait(lambda u=user_id: api.last_with_buttons(u, "ctx:"), what="the question")
            assert bot.terminate() == 0
        finally:
            bot.kill()
        log = bot.log(whole=True)
        assert "DEBUG" in log and "update" in log, "a DEBUG run that logged its updates"
        for needle in (TOKEN, SECRET_TEXT, str(user_id)[:7], name):
            assert needle not in log, f"{needle!r} in the {log_format} log"
        if log_format == "json":
            assert all(json.loads(line) for line in log.splitlines() if line.startswith("{"))


def test_the_redacting_filter_covers_every_logger_and_tracebacks(capsys):
    import logging

    from bot.telegram.logs import configure_logging

    settings = Settings(bot_token="4839574812:AAF-real-looking-secret_part", _env_file=None,
                        log_level="DEBUG",
                        database_url="postgresql+asyncpg://coach:pa55word@db/coach")
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging(settings)
        token = settings.bot_token
        logging.getLogger("telegram.ext.Application").warning("url %s/getMe", f"/bot{token}")
        logging.getLogger("bot.x").debug("quoted %s", token.replace(":", "%3A"))
        try:
            raise RuntimeError(f"https://api.telegram.org/bot{token}/sendMessage pa55word")
        except RuntimeError:
            logging.getLogger("anything").exception("failed")
        logging.getLogger("httpx").info("HTTP Request: POST /bot%s/getUpdates", token)
        logging.getLogger("telegram.Bot").debug("Set Bot API URL: /bot%s", token)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    err = capsys.readouterr().err
    assert "AAF-real-looking-secret_part" not in err and "pa55word" not in err
    assert err.count("[redacted]") >= 3 and "Traceback" in err
    assert "getUpdates" not in err and "Set Bot API URL" not in err  # below their floor


# --- the webhook ---------------------------------------------------------------------------------
async def test_the_webhook_answers_malformed_input_400_without_a_traceback(app, caplog):
    asgi = create_asgi(app, hook_settings())
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    bad = {
        "invalid JSON": b"{not json",
        "not UTF-8": b"\xff\xfe{}",
        "a list": b"[1, 2]",
        "a string": b'"update"',
        "no update_id": b'{"message": {}}',
        "update_id a string": b'{"update_id": "7"}',
        "update_id negative": b'{"update_id": -1}',
        "update_id too big": b'{"update_id": 99999999999999999999999}',
        "a message that is a number": b'{"update_id": 5, "message": 3}',
        "a callback without its fields": b'{"update_id": 6, "callback_query": {"id": 1}}',
        "deep nesting": b"[" * 100_000,
    }
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi),
                                 base_url="http://bot") as client:
        for what, body in bad.items():
            response = await client.post("/tg/hook", content=body, headers=headers)
            assert response.status_code == 400, what
        text = await client.post("/tg/hook", content=json.dumps(an_update(8)),
                                 headers={**headers, "Content-Type": "text/plain"})
        assert text.status_code == 400
        big = await client.post("/tg/hook", content=b" " * (webhook.MAX_BODY + 1),
                                headers=headers)
        assert big.status_code == 413
        fine = await client.post("/tg/hook", content=json.dumps(an_update(9)), headers=headers)
        assert fine.status_code == 200
    assert app.update_queue.qsize() == 1, "only the real update was queued"
    assert "Traceback" not in caplog.text


@pytest.fixture
async def served(app, monkeypatch):
    """The webhook on a real port (uvicorn, as in production), with short client timeouts."""
    monkeypatch.setattr(webhook, "HEAD_TIMEOUT", 0.5)
    monkeypatch.setattr(webhook, "BODY_TIMEOUT", 0.5)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = hook_settings(webhook_listen="127.0.0.1", port=port)
    stop = asyncio.Event()
    task = asyncio.create_task(webhook.serve(app, settings, stop))
    for _ in range(100):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            break
        except OSError:
            await asyncio.sleep(0.05)
    yield port
    stop.set()
    await task


async def _closed_within(reader, seconds: float) -> bytes:
    """What the server sent before closing the connection (within `seconds`)."""
    data = b""
    async with asyncio.timeout(seconds):
        while chunk := await reader.read(1024):
            data += chunk
    return data


async def test_slow_clients_are_cut_off(served):
    port = served
    # The head a byte at a time, never finished: closed after HEAD_TIMEOUT.
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /tg/hook HTTP/1.1\r\nHost: x\r\n")
    await writer.drain()
    started = time.monotonic()
    await _closed_within(reader, 5)
    assert time.monotonic() - started < 3
    writer.close()
    # The head, then half the body, then nothing: 408 after BODY_TIMEOUT.
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    body = json.dumps(an_update(11)).encode()
    writer.write(b"POST /tg/hook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 + f"{webhook.SECRET_HEADER}: {SECRET}\r\n".encode()
                 + f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:10])
    await writer.drain()
    answer = await _closed_within(reader, 5)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:40]
    writer.close()
    # A declared body over the cap: 413 at once, nothing read.
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /tg/hook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 + f"{webhook.SECRET_HEADER}: {SECRET}\r\n".encode()
                 + b"Content-Length: 104857600\r\n\r\n")
    await writer.drain()
    answer = await _closed_within(reader, 5)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:40]
    writer.close()
