"""Outbound HTTP to the Bot API with retries where a retry is safe.

`RetryingRequest` is PTB's `HTTPXRequest` with exponential backoff (0.5 s, then 1 s: at most
three tries in all). What is retried depends on whether a repeat could do something twice:

- Methods that are safe to repeat (reading, editing to the same content, answering, deleting,
  settings: `SAFE_METHODS`) are retried after a 5xx answer and after any network error or
  timeout (`NetworkError`, `TimedOut`). A repeated edit that already arrived is answered
  "message is not modified", which the handlers treat as success.
- Every other method, above all the sending ones (sendMessage, sendPhoto, sendDocument ...), is
  retried only when the request surely never reached Telegram: the connection could not be
  opened (httpx.ConnectError, ConnectTimeout) or no pooled connection was free (PoolTimeout).
  Never after a read or write timeout, a dropped connection or a 5xx: the message may have
  been delivered already, and a retry would send it twice. Those errors reach the handler, whose
  error handler tells the user "something went wrong"; every answer is in the database, so the
  next tap or /start shows the right question.

RetryAfter (429) is not handled here: PTB's AIORateLimiter waits and retries it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import httpx
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({
    "getUpdates", "getMe", "editMessageText", "editMessageReplyMarkup", "answerCallbackQuery",
    "sendChatAction", "setMyCommands", "deleteMyCommands", "setWebhook", "deleteWebhook",
    "deleteMessage", "getWebhookInfo", "getFile",
})
# httpx errors raised before a single byte of the request left this machine.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
BACKOFF = (0.5, 1.0)  # the waits before the second and the third try
# Connections to the Bot API. httpcore scans every connection of its pool (and every waiting
# request) on each request it starts or finishes, so the CPU per call grows with the pool: at 50
# calls in flight a pool of 256 cost 8.4 ms of CPU per call and reached 113 calls/s, a pool of 32
# 5.6 ms and 166 calls/s (local fake Bot API, 50 ms latency). 32 connections carry ~300 calls/s
# at Telegram's ~100 ms; the rest wait for a free one (POOL_TIMEOUT), not PTB's default 1 s.
CONNECTIONS = 32
POOL_TIMEOUT = 20.0  # seconds a call may wait for a free connection


def api_method(url: str) -> str:
    """`https://api.telegram.org/bot<token>/sendMessage` -> `sendMessage`."""
    return url.rsplit("/", 1)[-1].split("?", 1)[0]


def surely_not_sent(exc: BaseException) -> bool:
    """True when the request can not have reached Telegram (see HTTPXRequest.do_request: it
    raises TimedOut / NetworkError `from` the httpx error)."""
    return isinstance(exc.__cause__, NOT_SENT)


class RetryingRequest(HTTPXRequest):
    """HTTPXRequest that retries with backoff where safe (see the module docstring)."""

    __slots__ = ("_backoff",)

    def __init__(self, *args, backoff: Sequence[float] = BACKOFF, **kwargs):
        kwargs.setdefault("connection_pool_size", CONNECTIONS)
        kwargs.setdefault("pool_timeout", POOL_TIMEOUT)
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
