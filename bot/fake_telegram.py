"""A request class that answers like the Telegram Bot API without any network I/O.

Used by the tests and by `python -m bot bench`. It keeps each chat's messages (text and buttons) so
a test can read the current screen and tap its buttons like a user, records every call, can wait
a simulated latency, and can be told to fail a method.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from telegram.request import BaseRequest, RequestData

BOT_USER = {"id": 999000, "is_bot": True, "first_name": "Coach", "username": "trust_cx_bot"}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    files: dict[str, Any] = field(default_factory=dict)


@dataclass
class Message:
    message_id: int
    chat_id: int
    text: str
    reply_markup: dict | None = None
    kind: str = "text"  # text | photo | document


class FakeTelegram(BaseRequest):
    def __init__(self, latency: float = 0.0, record: bool = True) -> None:
        self.latency = latency  # seconds every call waits, like a round trip to Telegram
        self.record = record
        self.calls: list[Call] = []
        self.messages: dict[int, dict[int, Message]] = {}
        self.failures: dict[str, list[tuple[int, str] | BaseException]] = {}
        self.retry_after: dict[str, list[int]] = {}
        self.delays: dict[str, list[float]] = {}  # seconds to wait before answering a call
        self._next_id = 100

    # --- BaseRequest ---------------------------------------------------------------------------
    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    @property
    def read_timeout(self) -> float:
        return 5.0

    async def do_request(self, url, method, request_data: RequestData | None = None,
                         read_timeout=None, write_timeout=None, connect_timeout=None,
                         pool_timeout=None) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data else {}
        files = dict(request_data.multipart_data) if request_data and \
            request_data.contains_files else {}
        if self.record:
            self.calls.append(Call(name, params, files))
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.delays.get(name):
            await asyncio.sleep(self.delays[name].pop(0))
        if self.retry_after.get(name):
            seconds = self.retry_after[name].pop(0)
            return 429, self._error(429, "Too Many Requests: retry after",
                                    {"retry_after": seconds})
        if self.failures.get(name):
            failure = self.failures[name].pop(0)
            if isinstance(failure, BaseException):
                raise failure  # PTB passes a TelegramError on, wraps others in NetworkError
            code, description = failure
            return code, self._error(code, description)
        if name == "editMessageText" and not self._known(params):
            return 400, self._error(400, "Bad Request: message to edit not found")
        if name == "editMessageText" and self._kind(params) != "text":  # a photo, a document
            return 400, self._error(400, "Bad Request: there is no text in the message to edit")
        result = self._answer(name, params)
        return 200, json.dumps({"ok": True, "result": result}).encode()

    @staticmethod
    def _error(code: int, description: str, parameters: dict | None = None) -> bytes:
        body = {"ok": False, "error_code": code, "description": description}
        if parameters:
            body["parameters"] = parameters
        return json.dumps(body).encode()

    # --- a tiny Bot API ----------------------------------------------------------------------
    def fail(self, method: str, code: int = 400, description: str = "Bad Request: failed",
             times: int = 1, error: BaseException | None = None) -> None:
        """The next `times` calls of `method` fail: Telegram answers `code` and `description`,
        or, with `error` (e.g. telegram.error.TimedOut()), the request raises it."""
        failure = error if error is not None else (code, description)
        self.failures.setdefault(method, []).extend([failure] * times)

    def _known(self, p: dict) -> bool:
        return int(p.get("message_id", 0)) in self.messages.get(int(p.get("chat_id", 0)), {})

    def _kind(self, p: dict) -> str:
        return self.messages[int(p["chat_id"])][int(p["message_id"])].kind

    def _message_json(self, m: Message) -> dict:
        out = {"message_id": m.message_id, "date": int(time.time()),
               "chat": {"id": m.chat_id, "type": "private" if m.chat_id > 0 else "supergroup"},
               "from": BOT_USER}
        if m.kind == "text":
            out["text"] = m.text
        if m.reply_markup:
            out["reply_markup"] = m.reply_markup
        return out

    def _new(self, chat_id: int, text: str, markup, kind: str = "text") -> Message:
        self._next_id += 1
        m = Message(self._next_id, int(chat_id), text, _markup(markup), kind)
        self.messages.setdefault(int(chat_id), {})[m.message_id] = m
        return m

    def _answer(self, name: str, p: dict) -> Any:
        if name == "getMe":
            return BOT_USER
        if name == "sendMessage":
            return self._message_json(self._new(p["chat_id"], p["text"], p.get("reply_markup")))
        if name == "editMessageText":
            chat = self.messages.setdefault(int(p["chat_id"]), {})
            m = chat.get(int(p["message_id"]))
            if m is None:
                raise AssertionError(f"edit of unknown message {p['message_id']}")
            m.text, m.reply_markup = p["text"], _markup(p.get("reply_markup"))
            return self._message_json(m)
        if name in ("sendPhoto", "sendDocument"):
            kind = "photo" if name == "sendPhoto" else "document"
            return self._message_json(self._new(p["chat_id"], p.get("caption", ""),
                                                p.get("reply_markup"), kind))
        if name in ("answerCallbackQuery", "sendChatAction", "setMyCommands",
                    "deleteMyCommands", "setWebhook", "deleteWebhook", "editMessageReplyMarkup"):
            return True
        if name == "getUpdates":
            return []
        raise AssertionError(f"the fake Bot API does not know {name}")

    # --- for assertions ----------------------------------------------------------------------
    def called(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def chat(self, chat_id: int) -> list[Message]:
        return list(self.messages.get(chat_id, {}).values())

    def last_with_buttons(self, chat_id: int) -> Message:
        for m in reversed(self.chat(chat_id)):
            if m.reply_markup:
                return m
        raise AssertionError("no message with buttons in this chat")

    def callback_answers(self) -> list[dict]:
        return [c.params for c in self.called("answerCallbackQuery")]


def _markup(markup) -> dict | None:
    if markup is None:
        return None
    if isinstance(markup, str):
        markup = json.loads(markup)
    return markup if markup.get("inline_keyboard") else None


def buttons(message: Message) -> list[tuple[str, str]]:
    """(label, callback data) of each button; a link button gives its URL instead."""
    return [(b["text"], b.get("callback_data") or b.get("url", ""))
            for row in message.reply_markup["inline_keyboard"] for b in row]
