"""Webhook mode: a small ASGI app (Starlette on uvicorn) in front of the Application.

POST <path>   an update from Telegram: the secret header is checked in constant time (403 and
              nothing processed when wrong), the update is queued and 200 returned at once, so
              Telegram's request never waits for our slow work.
GET /healthz  200 when the database answers, 503 when it does not.
"""

from __future__ import annotations

import hmac
import json
import logging

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from telegram import Update
from telegram.ext import Application

from bot.config import Settings

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def create_asgi(app: Application, settings: Settings) -> Starlette:
    secret = (settings.webhook_secret or "").encode()

    async def telegram(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not secret or not hmac.compare_digest(given, secret):
            return PlainTextResponse("forbidden", status_code=403)
        try:
            update = Update.de_json(json.loads(await request.body()), app.bot)
        except (ValueError, TypeError, KeyError):
            return PlainTextResponse("not an update", status_code=400)
        if update is None:
            return PlainTextResponse("not an update", status_code=400)
        await app.update_queue.put(update)
        return Response(status_code=200)

    async def healthz(_request: Request) -> Response:
        coach = app.bot_data.get("coach")
        if coach is not None and await coach.store.ping():
            return PlainTextResponse("ok")
        return PlainTextResponse("database unreachable", status_code=503)

    return Starlette(routes=[Route(settings.webhook_path, telegram, methods=["POST"]),
                             Route("/healthz", healthz, methods=["GET"])])


async def serve(app: Application, settings: Settings) -> None:
    """Run until SIGTERM/SIGINT; then finish the updates in flight and return."""
    import uvicorn

    config = uvicorn.Config(create_asgi(app, settings), host=settings.webhook_listen,
                            port=settings.port, log_level="warning", lifespan="off",
                            access_log=False)
    server = uvicorn.Server(config)
    async with app:  # initialize ... shutdown
        await app.start()
        log.info("webhook server on %s:%s%s", settings.webhook_listen, settings.port,
                 settings.webhook_path)
        await server.serve()
        await app.stop()  # drains the update queue and waits for running handlers
