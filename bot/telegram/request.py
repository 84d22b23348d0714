"""Outbound HTTP to the Bot API: PTB's BaseRequest on aiohttp, with retries where a retry is safe.

`AiohttpRequest` implements PTB's `BaseRequest` with aiohttp instead of PTB's default
`HTTPXRequest`. Measured against the bench's fake Bot API (`python -m bot bench --http`):
httpcore scans every pooled connection and every waiting request on each request it starts or
finishes, so its CPU per call grows with the requests in flight (5.6-8.4 ms per call at 50 in
flight); aiohttp's connector keeps free connections in a queue and costs a fraction of that
(figures in the README's Performance section). python-telegram-bot's contrib package has an
aiohttp request class, but it is not published on PyPI; this one follows PTB's own
`HTTPXRequest` (timeouts, errors: `TimedOut`, `NetworkError` raised `from` the aiohttp error).

`RetryingRequest` adds exponential backoff (0.5 s, then 1 s: at most three tries in all). What
is retried depends on whether a repeat could do something twice:

- Methods that are safe to repeat (reading, editing to the same content, answering, deleting,
  settings: `SAFE_METHODS`) are retried after a 5xx answer and after any network error or
  timeout (`NetworkError`, `TimedOut`). A repeated edit that already arrived is answered
  "message is not modified", which the handlers treat as success.
- Every other method, above all the sending ones (sendMessage, sendPhoto, sendDocument ...), is
  retried only when the request surely never reached Telegram: the connection could not be
  opened (aiohttp.ClientConnectorError) or none was free or opened in time
  (aiohttp.ConnectionTimeoutError: the pool wait and the connect). Never after a read timeout, a
  dropped connection or a 5xx: the message may have been delivered already, and a retry would
  send it twice. Those errors reach the handler, whose error handler tells the user "something
  went wrong"; every answer is in the database, so the next tap or /start shows the right
  question.

RetryAfter (429) is not handled here: PTB's AIORateLimiter waits and retries it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({
    "getUpdates", "getMe", "editMessageText", "editMessageReplyMarkup", "answerCallbackQuery",
    "sendChatAction", "setMyCommands", "deleteMyCommands", "setWebhook", "deleteWebhook",
    "deleteMessage", "getWebhookInfo", "getFile",
})
# aiohttp errors raised before a single byte of the request left this machine: the connection
# could not be opened, or no pooled connection was free and none opened in time.
NOT_SENT = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
BACKOFF = (0.5, 1.0)  # the waits before the second and the third try
# Connections to the Bot API: 32 carry ~300 calls/s at Telegram's ~100 ms; the rest wait for a
# free one (POOL_TIMEOUT), not PTB's default 1 s. (With httpx the pool size itself cost CPU: at
# 50 calls in flight 256 connections took 8.4 ms per call, 32 took 5.6 ms.)
CONNECTIONS = 32
POOL_TIMEOUT = 20.0  # seconds a call may wait for a free connection
TIMEOUT = 5.0  # seconds to connect, and between reads of an answer (PTB's defaults)
MEDIA_TIMEOUT = 20.0  # seconds to send a request that uploads a file (PTB's media_write_timeout)


def api_method(url: str) -> str:
    """`https://api.telegram.org/bot<token>/sendMessage` -> `sendMessage`."""
    return url.rsplit("/", 1)[-1].split("?", 1)[0]


def surely_not_sent(exc: BaseException) -> bool:
    """True when the request can not have reached Telegram (AiohttpRequest.do_request raises
    TimedOut / NetworkError `from` the aiohttp error)."""
    return isinstance(exc.__cause__, NOT_SENT)


_DEFAULT = type(BaseRequest.DEFAULT_NONE)  # PTB's "not given" marker (DefaultValue)


def _seconds(value, default: float | None) -> float | None:
    return default if isinstance(value, _DEFAULT) else value


class AiohttpRequest(BaseRequest):
    """PTB's BaseRequest on an aiohttp ClientSession (made in `initialize`, on the running loop).

    Timeouts, in seconds (None: no limit), as PTB's HTTPXRequest names them: `connect_timeout`
    to open a connection, `pool_timeout` to wait for a free one, `read_timeout` between two
    reads of the answer (getUpdates passes its long-poll time plus this). aiohttp has no timeout
    for writing the request, so `write_timeout` (`media_write_timeout` for uploads) bounds the
    whole call together with the others. `connector`: a factory for the aiohttp connector (tests
    put a faulty network there); by default a TCPConnector of `connection_pool_size`."""

    __slots__ = ("_pool", "_timeouts", "_media_write", "_connector", "_session")

    def __init__(self, connection_pool_size: int = CONNECTIONS, *,
                 read_timeout: float | None = TIMEOUT, write_timeout: float | None = TIMEOUT,
                 connect_timeout: float | None = TIMEOUT,
                 pool_timeout: float | None = POOL_TIMEOUT,
                 media_write_timeout: float | None = MEDIA_TIMEOUT,
                 connector: Callable[[], aiohttp.BaseConnector] | None = None) -> None:
        self._pool = connection_pool_size
        self._timeouts = (read_timeout, write_timeout, connect_timeout, pool_timeout)
        self._media_write = media_write_timeout
        self._connector = connector
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._timeouts[0]

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = self._connector() if self._connector else aiohttp.TCPConnector(
                limit=self._pool, ttl_dns_cache=300)
            # trust_env: HTTPS_PROXY and friends are honoured, as they were with httpx (a bot
            # hosted where api.telegram.org is only reachable through a proxy).
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=None),
                headers={"User-Agent": self.USER_AGENT}, trust_env=True)

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout=BaseRequest.DEFAULT_NONE,
                         write_timeout=BaseRequest.DEFAULT_NONE,
                         connect_timeout=BaseRequest.DEFAULT_NONE,
                         pool_timeout=BaseRequest.DEFAULT_NONE) -> tuple[int, bytes]:
        """One HTTP call: (status code, body). Raises TimedOut (a timeout; "not sent" when no
        connection was free or opened in time), NetworkError (any other aiohttp error) and
        RuntimeError before `initialize` or after `shutdown`."""
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data else None
        read, write, connect, pool = (
            _seconds(value, default) for value, default in zip(
                (read_timeout, write_timeout, connect_timeout, pool_timeout), self._timeouts,
                strict=True))
        if files and isinstance(write_timeout, _DEFAULT):
            write = self._media_write
        parts = (read, write, connect, pool)
        timeout = aiohttp.ClientTimeout(
            total=None if None in parts else sum(parts),
            connect=None if connect is None or pool is None else connect + pool,
            sock_connect=connect, sock_read=read)
        data: aiohttp.FormData | dict | None = None
        if files:
            data = aiohttp.FormData(request_data.json_parameters)
            for name, (filename, content, mimetype) in files.items():
                data.add_field(name, content, filename=filename, content_type=mimetype)
        elif request_data is not None:
            data = request_data.json_parameters  # sent as a form, like HTTPXRequest does
        try:
            async with self._session.request(method, url, data=data, timeout=timeout) as res:
                return res.status, await res.read()
        except TimeoutError as err:  # aiohttp's timeouts are TimeoutErrors (ServerTimeoutError)
            if isinstance(err, aiohttp.ConnectionTimeoutError):
                raise TimedOut("Pool or connect timeout: the request was not sent to "
                               "Telegram") from err
            raise TimedOut from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{type(err).__name__}: {err}") from err


class RetryingRequest(AiohttpRequest):
    """AiohttpRequest that retries with backoff where safe (see the module docstring)."""

    __slots__ = ("_backoff",)

    def __init__(self, *args, backoff: Sequence[float] = BACKOFF, **kwargs):
        super().__init__(*args, **kwargs)
        self._backoff = tuple(backoff)

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout=BaseRequest.DEFAULT_NONE,
                         write_timeout=BaseRequest.DEFAULT_NONE,
                         connect_timeout=BaseRequest.DEFAULT_NONE,
                         pool_timeout=BaseRequest.DEFAULT_NONE) -> tuple[int, bytes]:
        name = api_method(url)
        # A file download (GET) only reads: as safe to repeat as the listed methods.
        safe = name in SAFE_METHODS or method == "GET"
        for attempt, wait in enumerate((*self._backoff, None)):
            try:
                code, payload = await super().do_request(
                    url, method, request_data, read_timeout=read_timeout,
                    write_timeout=write_timeout, connect_timeout=connect_timeout,
                    pool_timeout=pool_timeout)
            except (NetworkError, TimedOut) as exc:  # TimedOut is a NetworkError; both named
                if wait is None or not (safe or surely_not_sent(exc)):
                    raise
                log.warning("%s failed (%s), try %d: retrying in %.1f s", name,
                            type(exc.__cause__ or exc).__name__, attempt + 1, wait)
            else:
                if code < 500 or wait is None or not safe:
                    return code, payload
                log.warning("%s answered %d, try %d: retrying in %.1f s", name, code,
                            attempt + 1, wait)
            await asyncio.sleep(wait)
        raise AssertionError("unreachable")  # the last try returns or raises
