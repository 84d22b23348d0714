"""A network that loses Bot API calls on purpose, for the production request class (aiohttp).

A real HTTP server on 127.0.0.1 answers for a fake Bot API; the client side connects through a
connector of this network. A test plans, per API method, what happens to its next calls:

- "refused": the connection can not be opened (aiohttp.ClientConnectorError): never sent;
- "no connection": no connection free or opened in time (aiohttp.ConnectionTimeoutError): never
  sent;
- "stall": the server does not answer within the client's read timeout (TimedOut); with
  `delivered` it has done the call first (the answer is lost on the way back);
- "drop": the server closes the connection without an answer (NetworkError); with `delivered`
  after doing the call;
- a status code: the server answers it (with a Bot API error body; 200 with `{"ok": true}`).

Every attempt is counted per method in `attempts`.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web

NOT_SENT = ("refused", "no connection")
STALL = 5.0  # seconds a stalled answer waits: longer than any read timeout the tests give
Answer = Callable[[str, str, "Decoded"], Awaitable[tuple[int, bytes]]]


class Decoded:
    """What a fake Bot API reads of PTB's RequestData, decoded back from the HTTP request."""

    def __init__(self, form) -> None:
        self.parameters: dict[str, str] = {}
        self.multipart_data: dict[str, tuple] = {}
        for name, value in form.items():
            if isinstance(value, web.FileField):
                self.multipart_data[name] = (value.filename, value.file.read(),
                                             value.content_type)
            else:
                self.parameters[name] = value
        self.contains_files = bool(self.multipart_data)


def scripted(code: int) -> tuple[int, bytes]:
    """A Bot API answer with this status: success for 200, else an error body."""
    if code == 200:
        return 200, b'{"ok": true, "result": true}'
    return code, b'{"ok": false, "error_code": %d, "description": "scripted"}' % code


class FaultyNetwork:
    """The server, the plans and the connector factory (`connector`, for AiohttpRequest)."""

    def __init__(self, answer: Answer | None = None) -> None:
        self.answer = answer  # None: every call is answered 200 {"ok": true}
        self.plans: dict[str, list[tuple[str | int, bool]]] = {}
        self.attempts: Counter[str] = Counter()
        self.calls: list[str] = []  # every attempt's method, in order
        self.hosts: list[str] = []  # the Host each call that reached the server was for
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    def plan(self, method: str, kind: str | int, times: int = 1,
             delivered: bool = False) -> None:
        self.plans.setdefault(method, []).extend([(kind, delivered)] * times)

    def script(self, method: str, steps: list[str | int]) -> None:
        """The next calls of `method`, one step each."""
        for step in steps:
            self.plan(method, step)

    async def start(self) -> FaultyNetwork:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                     shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}/bot"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def connector(self) -> aiohttp.BaseConnector:
        return _Connector(self, limit=32)

    def _next(self, method: str) -> tuple[str | int | None, bool]:
        steps = self.plans.get(method)
        return steps.pop(0) if steps else (None, False)

    def _peek(self, method: str) -> str | int | None:
        steps = self.plans.get(method)
        return steps[0][0] if steps else None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        self.hosts.append(request.host)
        kind, delivered = self._next(method)
        decoded = Decoded(await request.post())
        code, body = scripted(kind) if isinstance(kind, int) else (None, b"")
        if code is None and (kind is None or delivered):
            if self.answer is None:
                code, body = scripted(200)
            else:
                code, body = await self.answer(str(request.url), request.method, decoded)
        if kind == "stall":
            await asyncio.sleep(STALL)
        if kind == "drop":
            request.transport.abort()  # the connection goes away before any answer
            raise asyncio.CancelledError
        return web.Response(status=code or 200, body=body, content_type="application/json")


class _Connector(aiohttp.TCPConnector):
    """Counts every attempt; fails the ones planned to fail before anything is sent."""

    def __init__(self, network: FaultyNetwork, **kwargs) -> None:
        super().__init__(**kwargs)
        self.network = network

    async def connect(self, req, traces, timeout):  # noqa: ASYNC109 (aiohttp's signature)
        method = req.url.path.rsplit("/", 1)[-1]
        self.network.attempts[method] += 1
        self.network.calls.append(method)
        if self.network._peek(method) in NOT_SENT:
            kind, _ = self.network._next(method)
            if kind == "refused":
                raise aiohttp.ClientConnectorError(
                    req.connection_key, ConnectionRefusedError(111, "Connection refused"))
            raise aiohttp.ConnectionTimeoutError(f"Connection timeout to host {req.url}")
        return await super().connect(req, traces, timeout)
