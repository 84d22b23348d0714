"""A stateless fake Telegram Bot API over real HTTP, for `python -m bot bench --http`.

Run as a process of its own (`python -m bot.bench_api PORT LATENCY_MS`) so its CPU is not counted
in the measured bot's. Every call is answered after the latency, as Telegram would: sends and
edits with the Message (chat, text, buttons echoed back, so the client decodes what it would in
production), answers and actions with `true`. It keeps no messages: the bench reads the screens
from the requests its client made (bot/bench.py, HttpMirror). Keep-alive HTTP/1.1 (uvicorn).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import sys
import time
from urllib.parse import parse_qsl

BOT_USER = {"id": 999000, "is_bot": True, "first_name": "Coach", "username": "trust_cx_bot"}
TRUE = b'{"ok":true,"result":true}'
_MULTIPART_FIELD = re.compile(rb'name="(chat_id|caption|reply_markup)"\r\n\r\n(.*?)\r\n--', re.S)


def _params(content_type: str, body: bytes) -> dict[str, str]:
    if content_type.startswith("multipart/form-data"):
        return {k.decode(): v.decode("utf-8", "replace") for k, v in _MULTIPART_FIELD.findall(body)}
    if content_type.startswith("application/json"):
        return {k: v if isinstance(v, str) else json.dumps(v)
                for k, v in json.loads(body or b"{}").items()}
    return dict(parse_qsl(body.decode()))


def make_app(latency: float):
    ids = itertools.count(1000)

    def message(p: dict, message_id: int, photo: bool) -> dict:
        chat_id = int(p.get("chat_id", 0) or 0)
        out = {"message_id": message_id, "date": int(time.time()),
               "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
               "from": BOT_USER}
        if photo:
            out["photo"] = [{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}]
            if p.get("caption"):
                out["caption"] = p["caption"]
        else:
            out["text"] = p.get("text", "")
        if p.get("reply_markup"):
            out["reply_markup"] = json.loads(p["reply_markup"])
        return out

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = b""
        while True:
            event = await receive()
            body += event.get("body", b"")
            if not event.get("more_body"):
                break
        name = scope["path"].rsplit("/", 1)[-1]
        headers = dict(scope["headers"])
        if latency:
            await asyncio.sleep(latency)
        if name in ("sendMessage", "sendPhoto", "sendDocument", "editMessageText",
                    "editMessageCaption", "editMessageReplyMarkup"):
            p = _params(headers.get(b"content-type", b"").decode(), body)
            message_id = int(p["message_id"]) if "message_id" in p else next(ids)
            result = message(p, message_id, name in ("sendPhoto", "sendDocument",
                                                     "editMessageCaption"))
            payload = json.dumps({"ok": True, "result": result}).encode()
        elif name == "getMe":
            payload = json.dumps({"ok": True, "result": BOT_USER}).encode()
        elif name == "getUpdates":
            payload = b'{"ok":true,"result":[]}'
        else:
            payload = TRUE
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})

    return app


def main() -> None:
    import uvicorn

    port, latency_ms = int(sys.argv[1]), float(sys.argv[2])
    # Keep-alive 75 s (nginx's default), not uvicorn's 5 s: a client's idle pooled connection
    # (aiohttp keeps them 15 s) closed by the server as it is reused fails the call ("server
    # disconnected"), which a sending method may not retry; Telegram keeps connections longer.
    uvicorn.run(make_app(latency_ms / 1000), host="127.0.0.1", port=port, log_level="warning",
                access_log=False, backlog=4096, timeout_keep_alive=75)


if __name__ == "__main__":
    main()
