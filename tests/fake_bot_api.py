"""A local fake Telegram Bot API over real HTTP, and the bot as a real process (`python -m bot`).

The server answers what the bot calls (getMe, getUpdates, sendMessage, editMessageText,
answerCallbackQuery, sendPhoto, sendDocument, setMyCommands, deleteWebhook, sendChatAction ...),
keeps each chat's messages (text, buttons, uploaded file) so a test can read the current screen and
tap its buttons, records every call in order, and queues updates for getUpdates with Telegram's
offset semantics: an update is handed out until a later getUpdates confirms it with a higher offset,
so an update fetched by a process that was then killed is delivered again to the next one.
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "123:ABC"
BOT_USER = {"id": 999000, "is_bot": True, "first_name": "Coach", "username": "trust_cx_bot"}
LONG_POLL = 0.5  # seconds an empty getUpdates waits: short, so tests stay fast
TRUE_METHODS = {"answerCallbackQuery", "sendChatAction", "setMyCommands", "deleteMyCommands",
                "setWebhook", "deleteWebhook", "editMessageReplyMarkup", "setMyDescription"}


@dataclass
class Call:
    seq: int
    method: str
    params: dict[str, Any]
    files: dict[str, tuple[str | None, bytes]] = field(default_factory=dict)


@dataclass
class Message:
    message_id: int
    chat_id: int
    text: str
    reply_markup: dict | None = None
    kind: str = "text"  # text | photo | document
    file: bytes | None = None


def callbacks(message: Message | None) -> list[tuple[str, str]]:
    """(label, callback_data) of every button of a message."""
    if message is None or not message.reply_markup:
        return []
    return [(b["text"], b.get("callback_data", "")) for row in
            message.reply_markup.get("inline_keyboard", []) for b in row]


class FakeBotApi:
    """Start with `with FakeBotApi() as api:`; `api.base_url` goes to TELEGRAM_API_BASE_URL."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._seq = itertools.count(1)
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(100)
        self._query_ids = itertools.count(1)
        self.calls: list[Call] = []
        self.updates: list[dict] = []  # not yet confirmed by a getUpdates offset
        self.confirmed = 0  # every update id below this was confirmed
        self.messages: dict[int, dict[int, Message]] = {}
        self.unknown: list[str] = []
        self.holds: list[Hold] = []
        self.latency = 0.0  # seconds every call but getUpdates takes
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- life cycle ---------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    def __enter__(self) -> FakeBotApi:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        for held in self.holds:
            held.release(deliver=False)
        self._server.shutdown()
        self._server.server_close()

    # --- HTTP -------------------------------------------------------------------------------
    def _handler(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if len(body) < length:  # the bot was killed while sending: nothing arrived
                    return
                match = re.fullmatch(r"/bot([^/]+)/(\w+)", self.path.split("?", 1)[0])
                if match is None or match.group(1) != TOKEN:
                    self._reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                    return
                params, files = parse_body(self.headers.get("Content-Type", ""), body)
                status, payload = api.handle(match.group(2), params, files)
                self._reply(status, payload)

            do_GET = do_POST  # noqa: N815

            def _reply(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the bot was killed mid-request
                    pass

        return Handler

    def hold(self, method: str, match=lambda params: True) -> Hold:
        """Hold the next matching call before it takes effect, until `Hold.release`."""
        held = Hold(method, match)
        with self._cond:
            self.holds.append(held)
        return held

    def handle(self, method: str, params: dict, files: dict) -> tuple[int, dict]:
        if method == "getUpdates":
            return 200, {"ok": True, "result": self._get_updates(params)}
        if self.latency:  # a round trip to Telegram
            time.sleep(self.latency)
        with self._cond:
            held = next((h for h in self.holds if h.method == method and h.match(params)), None)
            if held is not None:
                self.holds.remove(held)
        if held is not None:
            held.arrived.set()
            held.released.wait(60)
            if not held.deliver:  # as if the request never reached Telegram
                return 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}
        with self._cond:
            self.calls.append(Call(next(self._seq), method, params, files))
            try:
                result = self._answer(method, params, files)
            except _ApiError as exc:
                return exc.code, {"ok": False, "error_code": exc.code,
                                  "description": exc.description}
            finally:
                self._cond.notify_all()
        return 200, {"ok": True, "result": result}

    def _get_updates(self, params: dict) -> list[dict]:
        offset = int(params.get("offset") or 0)
        timeout = min(float(params.get("timeout") or 0), LONG_POLL)
        deadline = time.monotonic() + timeout
        with self._cond:
            self.calls.append(Call(next(self._seq), "getUpdates", params))
            if offset > self.confirmed:  # Telegram forgets every update below the offset
                self.confirmed = offset
                self.updates = [u for u in self.updates if u["update_id"] >= offset]
            self._cond.notify_all()
            while True:
                ready = [u for u in self.updates if u["update_id"] >= offset]
                left = deadline - time.monotonic()
                if ready or left <= 0:
                    return ready[: int(params.get("limit") or 100)]
                self._cond.wait(left)

    # --- a tiny Bot API ----------------------------------------------------------------------
    def _message_json(self, m: Message) -> dict:
        out: dict[str, Any] = {"message_id": m.message_id, "date": int(time.time()),
                               "chat": {"id": m.chat_id, "type": "private"}, "from": BOT_USER}
        if m.kind == "text":
            out["text"] = m.text
        else:
            out["caption"] = m.text
        if m.kind == "document":
            out["document"] = {"file_id": f"doc{m.message_id}",
                               "file_unique_id": f"d{m.message_id}"}
        if m.kind == "photo":
            out["photo"] = [{"file_id": f"ph{m.message_id}", "file_unique_id": f"p{m.message_id}",
                             "width": 660, "height": 660}]
        if m.reply_markup:
            out["reply_markup"] = m.reply_markup
        return out

    def _new(self, chat_id, text: str, markup, kind: str = "text",
             file: bytes | None = None) -> Message:
        m = Message(next(self._message_ids), int(chat_id), text, _markup(markup), kind, file)
        self.messages.setdefault(int(chat_id), {})[m.message_id] = m
        return m

    def _answer(self, method: str, p: dict, files: dict) -> Any:
        if method == "getMe":
            return BOT_USER
        if method == "sendMessage":
            return self._message_json(self._new(p["chat_id"], p["text"], p.get("reply_markup")))
        if method == "editMessageText":
            m = self.messages.get(int(p["chat_id"]), {}).get(int(p["message_id"]))
            if m is None:
                raise _ApiError(400, "Bad Request: message to edit not found")
            if m.kind != "text":  # a photo or a document: Telegram edits captions, not text
                raise _ApiError(400, "Bad Request: there is no text in the message to edit")
            markup = _markup(p.get("reply_markup"))
            if m.text == p["text"] and m.reply_markup == markup:
                raise _ApiError(400, "Bad Request: message is not modified: specified new "
                                     "message content and reply markup are exactly the same")
            m.text, m.reply_markup = p["text"], markup
            return self._message_json(m)
        if method in ("sendPhoto", "sendDocument"):
            kind = "photo" if method == "sendPhoto" else "document"
            upload = files.get(kind)
            return self._message_json(self._new(p["chat_id"], p.get("caption", ""),
                                                p.get("reply_markup"), kind,
                                                upload[1] if upload else None))
        if method in TRUE_METHODS:
            return True
        self.unknown.append(method)
        raise _ApiError(404, "Not Found")

    # --- the user's side --------------------------------------------------------------------
    def _push(self, update: dict) -> int:
        with self._cond:
            update["update_id"] = next(self._update_ids)
            self.updates.append(update)
            self._cond.notify_all()
            return update["update_id"]

    @staticmethod
    def _from(user_id: int, first_name: str = "Ann") -> dict:
        return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "en"}

    def text_update(self, user_id: int, text: str, first_name: str = "Ann") -> dict:
        """An update (without its id) of the user typing a message (a /command gets its
        entity)."""
        message = {"message_id": next(self._message_ids), "date": int(time.time()),
                   "chat": {"id": user_id, "type": "private"},
                   "from": self._from(user_id, first_name), "text": text}
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0,
                                    "length": len(text.split()[0])}]
        return {"message": message}

    def send_text(self, user_id: int, text: str, first_name: str = "Ann") -> int:
        """The user types a message (a /command gets its entity); returns the update id."""
        return self._push(self.text_update(user_id, text, first_name))

    def tap(self, user_id: int, message_id: int, data: str, first_name: str = "Ann") -> str:
        """The user taps a button of a message; returns the callback query id."""
        with self._cond:
            m = self.messages.get(user_id, {}).get(message_id)
            message = self._message_json(m) if m else {
                "message_id": message_id, "date": int(time.time()),
                "chat": {"id": user_id, "type": "private"}, "from": BOT_USER, "text": "old"}
            query_id = f"q{next(self._query_ids)}"
        self._push({"callback_query": {"id": query_id, "from": self._from(user_id, first_name),
                                       "chat_instance": "ci", "data": data,
                                       "message": message}})
        return query_id

    # --- reading, for assertions -----------------------------------------------------------
    def wait(self, predicate, timeout: float = 15.0, what: str = "the bot"):
        """Wait until predicate() (called under the lock) returns something truthy."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
                self._cond.wait(min(left, 0.2))

    def snapshot(self) -> list[Call]:
        with self._cond:
            return list(self.calls)

    def called(self, method: str, after: int = 0) -> list[Call]:
        with self._cond:
            return [c for c in self.calls if c.method == method and c.seq > after]

    @property
    def last_seq(self) -> int:
        with self._cond:
            return self.calls[-1].seq if self.calls else 0

    def chat(self, chat_id: int) -> list[Message]:
        with self._cond:
            return list(self.messages.get(chat_id, {}).values())

    def message(self, chat_id: int, message_id: int) -> Message:
        with self._cond:
            return self.messages[chat_id][message_id]

    def chat_texts(self, chat_id: int) -> list[str]:
        return [m.text for m in self.chat(chat_id)]

    def last_with_buttons(self, chat_id: int, prefix: str = "") -> Message | None:
        """The newest message of the chat with a button whose callback data starts so."""
        for m in reversed(self.chat(chat_id)):
            if any(data.startswith(prefix) for _, data in callbacks(m)):
                return m
        return None

    def answer_of(self, query_id: str) -> Call | None:
        for c in self.called("answerCallbackQuery"):
            if c.params.get("callback_query_id") == query_id:
                return c
        return None

    def quiet(self, seconds: float = 0.4, timeout: float = 15.0) -> None:
        """Wait until the bot made no call but getUpdates for `seconds`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._cond:
                busy = [c for c in self.calls if c.method != "getUpdates"]
                last = busy[-1].seq if busy else 0
            time.sleep(seconds)
            with self._cond:
                busy = [c for c in self.calls if c.method != "getUpdates"]
                if (busy[-1].seq if busy else 0) == last:
                    return
        raise TimeoutError("the bot never went quiet")


@dataclass
class Hold:
    method: str
    match: Any
    arrived: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    deliver: bool = True

    def wait(self, timeout: float = 15.0) -> None:
        if not self.arrived.wait(timeout):
            raise TimeoutError(f"{self.method} never came")

    def release(self, deliver: bool = True) -> None:
        """Let the call go on (deliver) or fail it as if it never reached Telegram."""
        self.deliver = deliver
        self.released.set()


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # a bot opening many connections at once is not turned away
    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a killed bot's connection
            super().handle_error(request, client_address)


class _ApiError(Exception):
    def __init__(self, code: int, description: str):
        super().__init__(description)
        self.code, self.description = code, description


def _markup(markup) -> dict | None:
    if markup is None or markup == "":
        return None
    if isinstance(markup, str):
        markup = json.loads(markup)
    return markup if markup.get("inline_keyboard") else None


def parse_body(content_type: str, body: bytes) -> tuple[dict, dict]:
    """Form-encoded or multipart (with files) parameters, as PTB sends them. Values that PTB
    JSON-encodes (reply_markup, lists) stay strings, like a real Bot API receives them."""
    if content_type.startswith("multipart/form-data"):
        head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
        parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        params, files = {}, {}
        for part in parsed.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            if part.get_filename() is not None:
                files[name] = (part.get_filename(), payload)
            else:
                params[name] = payload.decode()
        return params, files
    if content_type.startswith("application/json"):
        return (json.loads(body) if body else {}), {}
    return dict(parse_qsl(body.decode(), keep_blank_values=True)), {}


# `python -m bot`, exec'd by a child that first asks Linux to SIGKILL it when the test process dies,
# and forks a watchdog that takes the bot's process group (the chart process) down when the bot
# dies: even a test run that is itself killed leaves nothing behind.
EXEC_BOT = """
import ctypes, os, signal, sys
try:
    prctl = ctypes.CDLL(None).prctl
except (AttributeError, OSError):
    prctl = None
if prctl is not None and os.fork() == 0:
    signal.signal(signal.SIGUSR1, lambda *_: os.killpg(0, signal.SIGKILL))
    prctl(1, signal.SIGUSR1)  # PR_SET_PDEATHSIG: when the bot (our parent) dies
    if os.getppid() == 1:
        os.killpg(0, signal.SIGKILL)
    while True:
        signal.pause()
if prctl is not None:
    prctl(1, signal.SIGKILL)
os.execv(sys.executable, [sys.executable, "-m", "bot"])
"""


class BotProcess:
    """`python -m bot` in its own process group, talking to a FakeBotApi, on a given database
    (a SQLite file, or a database URL). `extra_env` adds settings: with WEBHOOK_URL and PORT it
    runs as a webhook replica, and `post` delivers updates to it."""

    def __init__(self, api: FakeBotApi, database: Path | str, log_dir: Path, name: str = "bot",
                 extra_env: dict[str, str] | None = None) -> None:
        self.api, self.database, self.log_dir, self.name = api, database, log_dir, name
        self.extra_env = dict(extra_env or {})
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self._log = None

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("BOT_", "TELEGRAM_", "DATABASE_", "WEBHOOK_", "LOG_"))}
        url = self.database if isinstance(self.database, str) \
            else f"sqlite+aiosqlite:///{self.database}"
        env.update(BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=self.api.base_url,
                   TELEGRAM_API_FILE_URL=self.api.file_url, DATABASE_URL=url, LOG_LEVEL="INFO",
                   PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        env.update(self.extra_env)
        return env

    @property
    def webhook(self) -> str | None:
        """The webhook's local URL in webhook mode, else None."""
        if "WEBHOOK_URL" not in self.extra_env:
            return None
        path = "/" + self.extra_env["WEBHOOK_URL"].split("/", 3)[-1]
        return f"http://127.0.0.1:{self.extra_env['PORT']}{path}"

    def start(self, timeout: float = 30.0) -> None:
        """Start and wait until it takes updates (polling, or its webhook's /healthz answers)."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        mark = self.api.last_seq
        self._log = open(self.log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen([sys.executable, "-c", EXEC_BOT], cwd=ROOT, env=self.env,
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

        try:
            if self.webhook is None:
                self.api.wait(lambda: self.proc.poll() is not None or any(
                    c.method == "getUpdates" and c.seq > mark for c in self.api.calls),
                    timeout, f"{self.name} to start polling")
            else:  # not under the fake API's lock: the bot may call it meanwhile
                deadline = time.monotonic() + timeout
                while self.proc.poll() is None and not _healthy(int(self.extra_env["PORT"])):
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{self.name}'s webhook never answered")
                    time.sleep(0.1)
        finally:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n"
                                     f"{self.log()}")

    def kill(self) -> None:
        """SIGKILL to the whole group (the bot and its chart process), like a power cut."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)
        self._close_log()

    def terminate(self, timeout: float = 20.0) -> int:
        """SIGTERM to the bot only, as a process manager sends it; its exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self.kill()  # anything its group left behind

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}-{self.starts}.log"

    def log(self, whole: bool = False) -> str:
        """The log of the latest start (its end; whole=True: every start's, all of it)."""
        if whole:
            return "".join((self.log_dir / f"{self.name}-{n}.log").read_text(errors="replace")
                           for n in range(1, self.starts + 1))
        path = self.log_path
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def _healthy(port: int) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
            return answer.status == 200
    except OSError:
        return False


# --- reading screens like a user -------------------------------------------------------------
STEP_DATA = re.compile(r"^(ans|ev|ctx|ok|back|pause):(\d+):(\d+)(?::(\w+))?$")


@dataclass(frozen=True)
class Step:
    """What an assessment message shows: its assessment, the step position and the buttons."""

    assessment_id: int
    position: int
    kinds: frozenset[str]
    buttons: tuple[tuple[str, str], ...]  # (label, callback data) of the answer buttons


def step_of(markup_or_message) -> Step | None:
    """The assessment step a message (or a reply_markup) shows; None for any other screen."""
    if isinstance(markup_or_message, Message):
        pairs = callbacks(markup_or_message)
    else:
        markup = _markup(markup_or_message)
        pairs = [(b["text"], b.get("callback_data", "")) for row in
                 (markup or {}).get("inline_keyboard", []) for b in row]
    found = [(label, data, STEP_DATA.match(data)) for label, data in pairs]
    found = [(label, data, m) for label, data, m in found if m]
    answers = tuple((label, data) for label, data, m in found
                    if m.group(1) in ("ans", "ev", "ctx", "ok"))
    if not answers:
        return None
    m = found[0][2]
    return Step(int(m.group(2)), int(m.group(3)),
                frozenset(x.group(1) for _, _, x in found), answers)
