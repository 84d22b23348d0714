"""Webhook mode: a small ASGI app (Starlette on uvicorn) in front of the Application.

POST <path>   an update from Telegram: the secret header is checked in constant time (403 and
              nothing processed when wrong); the body must be JSON (Content-Type application/json,
              at most MAX_BODY bytes, read within BODY_TIMEOUT) holding an update object, else
              400 / 413 / 408 without a traceback (Telegram retries 5xx answers, and would retry
              garbage for ever). The update is written to the inbox and only then answered 200:
              an accepted update survives a kill (bot/storage/inbox.py). The database away: 503,
              and Telegram delivers it again later.
GET /healthz  200 when the database answers, 503 when it does not.

A connection whose request head does not arrive within HEAD_TIMEOUT is closed (uvicorn has no
such timeout of its own); idle keep-alive connections close after 5 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from telegram import Update
from telegram.ext import Application
from uvicorn.protocols.http.h11_impl import H11Protocol

from bot.config import Settings

from .runner import update_json

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1 << 20  # bytes; Telegram's updates are a few kilobytes (files are not included)
BODY_TIMEOUT = 10.0  # seconds to receive the whole body once the head has arrived
HEAD_TIMEOUT = 10.0  # seconds for a request's head, from connecting or the previous response
MAX_UPDATE_ID = (1 << 63) - 1


class _TooLarge(Exception):
    pass


def _refuse(status: int, text: str) -> Response:
    # The rest of a refused body is not read: the connection can not be used again.
    return PlainTextResponse(text, status_code=status, headers={"Connection": "close"})


async def _read_body(request: Request, limit: int) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def parse_update(body: bytes, bot) -> Update | None:
    """The update in a webhook body, or None for anything that is not one (invalid JSON, JSON
    that is not an object with an integer update_id, fields PTB can not read)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    if not isinstance(data, dict):
        return None
    update_id = data.get("update_id")
    if type(update_id) is not int or not 0 <= update_id <= MAX_UPDATE_ID:
        return None
    try:
        return Update.de_json(data, bot)
    except Exception:  # untrusted input: whatever PTB fails on, it is not an update
        return None


def create_asgi(app: Application, settings: Settings) -> Starlette:
    secret = (settings.webhook_secret or "").encode()

    async def telegram(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not secret or not hmac.compare_digest(given, secret):
            return _refuse(403, "forbidden")
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            return _refuse(400, "expected application/json")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY:
            return _refuse(413, "too large")
        try:
            body = await asyncio.wait_for(_read_body(request, MAX_BODY), BODY_TIMEOUT)
        except _TooLarge:
            return _refuse(413, "too large")
        except TimeoutError:
            return _refuse(408, "too slow")
        except ClientDisconnect:
            return _refuse(400, "incomplete")
        update = parse_update(body, app.bot)
        if update is None:
            return PlainTextResponse("not an update", status_code=400)
        store = app.bot_data["coach"].store
        try:
            new = await store.accept_updates([(update.update_id, update_json(update))],
                                             app.bot_data["replica"])
        except Exception as exc:  # not accepted: Telegram sends it again later
            log.warning("update %s not accepted: %s", update.update_id, type(exc).__name__,
                        extra={"update_id": update.update_id})
            return PlainTextResponse("unavailable", status_code=503)
        if new:
            await app.update_queue.put(update)
        return Response(status_code=200)

    async def healthz(_request: Request) -> Response:
        coach = app.bot_data.get("coach")
        if coach is not None and await coach.store.ping():
            return PlainTextResponse("ok")
        return PlainTextResponse("database unreachable", status_code=503)

    return Starlette(routes=[Route(settings.webhook_path, telegram, methods=["POST"]),
                             Route("/healthz", healthz, methods=["GET"])])


class SlowClientGuard(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, closing a connection whose request head has not arrived
    within HEAD_TIMEOUT (a client sending its headers a byte a minute would hold it for ever)."""

    _head_deadline: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        if self._head_deadline is None and not self.transport.is_closing():
            self._head_deadline = self.loop.call_later(HEAD_TIMEOUT, self._head_too_slow)

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if (self.cycle is None or self.cycle.response_complete) \
                and not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not None and not self.cycle.response_complete:
            self._disarm()  # the head is in: BODY_TIMEOUT takes over

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


async def serve(app: Application, settings: Settings, stop: asyncio.Event) -> None:
    """Serve until `stop` is set, then finish the requests in flight and return. Signals are
    the runner's (bot/telegram/runner.py): uvicorn's own handling is switched off."""
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):  # uvicorn would re-raise SIGTERM after its shutdown
            yield

    config = uvicorn.Config(create_asgi(app, settings), host=settings.webhook_listen,
                            port=settings.port, log_level="warning", log_config=None,
                            lifespan="off",
                            access_log=False, http=SlowClientGuard, timeout_keep_alive=5,
                            timeout_graceful_shutdown=5, limit_concurrency=1000,
                            h11_max_incomplete_event_size=64 * 1024)
    server = Server(config)
    serving = asyncio.create_task(server.serve())
    stopping = asyncio.create_task(stop.wait())
    log.info("webhook server on %s:%s%s", settings.webhook_listen, settings.port,
             settings.webhook_path)
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    stopping.cancel()
    await serving
