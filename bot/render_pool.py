"""Worker processes for drawing (the radar chart, the PDF report), so that drawing never holds
the event loop's GIL.

One process per core (`CHART_WORKERS` overrides; at least one): a room finishing together is
drawn in parallel instead of queueing behind one process. Spawned (not forked) so a worker does
not inherit the loop, threads and connections; each loads the fonts once at start-up, and
`warm_up` starts them all when the bot starts, so the first reports do not pay for it.
Where processes can not be started, the work runs in a thread instead.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
_POOL: ProcessPoolExecutor | None = None
_in_flight = 0  # drawings submitted through run() and not finished yet


def workers() -> int:
    """How many worker processes: CHART_WORKERS, else the number of cores."""
    configured = os.environ.get("CHART_WORKERS", "").strip()
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return max(1, os.cpu_count() or 1)


def pool() -> ProcessPoolExecutor:
    global _POOL
    if _POOL is None:
        import multiprocessing

        _POOL = ProcessPoolExecutor(max_workers=workers(),
                                    mp_context=multiprocessing.get_context("spawn"),
                                    initializer=_start_worker, initargs=(os.getpid(),))
    return _POOL


async def run(function: Callable[..., T], *args) -> T:
    """function(*args) in a worker process (it and its arguments must pickle); in a thread
    where processes can not be started or the pool broke (a worker killed)."""
    from concurrent.futures.process import BrokenProcessPool

    global _POOL, _in_flight
    loop = asyncio.get_running_loop()
    _in_flight += 1
    try:
        return await loop.run_in_executor(pool(), function, *args)
    except (BrokenProcessPool, OSError, PermissionError) as exc:
        log.warning("drawing process unavailable (%s): drawing in a thread",
                    type(exc).__name__)
        _POOL = None
        return await asyncio.to_thread(function, *args)
    finally:
        _in_flight -= 1


def busy() -> bool:
    """Whether every worker has a drawing to do already (a new one would queue)."""
    return _in_flight >= workers()


def warm_up() -> None:
    """Start every worker now (each loads the fonts), not at the first report."""
    try:
        executor = pool()
        for _ in range(workers()):
            executor.submit(_ping)
    except OSError as exc:
        log.warning("drawing processes not started: %s", type(exc).__name__)


async def ready() -> None:
    """Start every worker and wait until all have loaded their fonts."""
    loop = asyncio.get_running_loop()
    executor = pool()
    await asyncio.gather(*(loop.run_in_executor(executor, _ping) for _ in range(workers())))


def shutdown() -> None:
    global _POOL
    if _POOL is not None:
        _POOL.shutdown(wait=False, cancel_futures=True)
        _POOL = None


def _ping() -> None:
    # Long enough that each of the workers started together takes one (each then has run its
    # initializer: the fonts are loaded everywhere).
    time.sleep(0.2)


def _start_worker(parent: int) -> None:
    """A worker's start-up: watch the parent, load the fonts."""
    from bot import chart

    _exit_with_parent(parent)
    try:  # drawing yields the CPU to the bot's own process (the taps) on a busy machine
        os.nice(5)
    except OSError:
        pass
    chart._load_fonts()


def _exit_with_parent(parent: int) -> None:
    """In a worker: leave when the bot is gone (a SIGKILLed bot can not tell us)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()
