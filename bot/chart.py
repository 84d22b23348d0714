"""The radar chart of the eight dimensions as PNG bytes (matplotlib, Agg backend).

Slow work (~70 ms): adapters call it in the chart process (render_off_loop), never on the
event loop. The words are drawn with the fonts in content/fonts (bot.fonts), registered with
matplotlib when the chart process starts.
"""

from __future__ import annotations

import io
import logging
import os
import threading

from bot import fonts
from bot.service import ChartData

log = logging.getLogger(__name__)
_LOCK = threading.Lock()  # pyplot's state machine is not thread-safe; Figure objects are, mostly
STYLES = {"solid": ("#2b6cb0", "-", 0.25), "dashed": ("#718096", "--", 0.0),
          "dotted": ("#dd6b20", ":", 0.0)}


def render_radar(chart: ChartData, size_inches: float = 6.0, dpi: int = 110) -> bytes:
    """The chart as PNG bytes. Raises FileNotFoundError when content/fonts is incomplete."""
    with _LOCK:
        fig = radar_figure(chart, size_inches, dpi)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
    return buffer.getvalue()


def radar_figure(chart: ChartData, size_inches: float = 6.0, dpi: int = 110):
    """The chart as a matplotlib Figure, not yet drawn: its words in the shipped fonts of the
    chart's locale (bot.fonts), so Chinese labels render on a machine without CJK fonts.

    Raises FileNotFoundError when content/fonts is incomplete."""
    import matplotlib

    matplotlib.use("Agg")
    from math import pi

    from matplotlib.figure import Figure

    fonts.register_matplotlib()
    family = fonts.families(chart.locale)
    count = len(chart.labels)
    angles = [2 * pi * n / count for n in range(count)] + [0.0]
    fig = Figure(figsize=(size_inches, size_inches), dpi=dpi)
    ax = fig.add_subplot(111, polar=True)
    ax.set_theta_offset(pi / 2)
    ax.set_theta_direction(-1)
    ax.set_ylim(0, 100)
    ax.set_yticks([25, 50, 75, 100])
    ax.set_yticklabels(["25", "50", "75", "100"], fontsize=7, color="#718096",
                       fontfamily=family)
    ax.set_xticks(angles[:-1])
    ax.set_xticklabels(chart.labels, fontsize=10, fontfamily=family)
    for name, values, style in chart.series:
        color, line, fill = STYLES.get(style, STYLES["solid"])
        data = list(values) + [values[0]]
        ax.plot(angles, data, line, color=color, linewidth=2, label=name)
        if fill:
            ax.fill(angles, data, color=color, alpha=fill)
    if len(chart.series) > 1:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=3, frameon=False,
                  prop={"family": family, "size": 9})
    fig.subplots_adjust(left=0.1, right=0.9, top=0.9, bottom=0.12)  # tight_layout: +40% time
    return fig


_POOL = None


def _pool():
    """One worker process for charts: matplotlib then never holds the event loop's GIL.
    Spawned (not forked) so the worker does not inherit the loop, threads and connections."""
    global _POOL
    if _POOL is None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        _POOL = ProcessPoolExecutor(max_workers=1,
                                    mp_context=multiprocessing.get_context("spawn"),
                                    initializer=_start_worker, initargs=(os.getpid(),))
    return _POOL


async def render_off_loop(chart: ChartData) -> bytes:
    """Render in the chart process; in a thread where processes can not be started."""
    import asyncio
    from concurrent.futures.process import BrokenProcessPool

    global _POOL
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(_pool(), render_radar, chart)
    except (BrokenProcessPool, OSError, PermissionError) as exc:
        log.warning("chart process unavailable (%s): rendering in a thread",
                    type(exc).__name__)
        _POOL = None
        return await asyncio.to_thread(render_radar, chart)


def warm_up() -> None:
    """Start the chart process and import matplotlib there, before the first report."""
    try:
        _pool().submit(_import_matplotlib)
    except OSError as exc:
        log.warning("chart process not started: %s", type(exc).__name__)


def _start_worker(parent: int) -> None:
    """The chart process's start-up: watch the parent, load matplotlib and the fonts."""
    _exit_with_parent(parent)
    _import_matplotlib()


def _exit_with_parent(parent: int) -> None:
    """In the chart process: leave when the bot is gone (a SIGKILLed bot can not tell us)."""
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def _import_matplotlib() -> None:
    """In the chart process, at start-up: matplotlib imported and the shipped fonts added."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure  # noqa: F401

    fonts.register_matplotlib()


def shutdown() -> None:
    global _POOL
    if _POOL is not None:
        _POOL.shutdown(wait=False, cancel_futures=True)
        _POOL = None
