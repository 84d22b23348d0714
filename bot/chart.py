"""The radar chart of the eight dimensions as PNG bytes (matplotlib, Agg backend).

Slow work (~100 ms): adapters call it in a worker thread, never on the event loop.
"""

from __future__ import annotations

import io
import logging
import os
import re
import threading
from functools import lru_cache

from bot.service import ChartData

log = logging.getLogger(__name__)
_CJK = re.compile(r"[\u3400-\u9fff]")
_LOCK = threading.Lock()  # pyplot's state machine is not thread-safe; Figure objects are, mostly
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK TC", "Source Han Sans SC", "WenQuanYi Micro Hei",
             "WenQuanYi Zen Hei", "Droid Sans Fallback", "PingFang SC", "Microsoft YaHei",
             "SimHei", "AR PL UMing CN")
STYLES = {"solid": ("#2b6cb0", "-", 0.25), "dashed": ("#718096", "--", 0.0),
          "dotted": ("#dd6b20", ":", 0.0)}


@lru_cache(maxsize=1)
def _cjk_font() -> str | None:
    from matplotlib import font_manager

    available = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in available:
            return name
    log.warning("no CJK font found: chart labels fall back to English "
                "(install fonts-wqy-microhei or fonts-noto-cjk)")
    return None


def render_radar(chart: ChartData, size_inches: float = 6.0, dpi: int = 110) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from math import pi

    from matplotlib.figure import Figure

    labels = list(chart.labels)
    names = [name for name, _, _ in chart.series]
    font = None
    if any(_CJK.search(t) for t in labels + names):
        font = _cjk_font()
        if font is None:
            labels = list(chart.fallback_labels)
            names = list(chart.fallback_names)
    count = len(labels)
    angles = [2 * pi * n / count for n in range(count)] + [0.0]

    with _LOCK:
        fig = Figure(figsize=(size_inches, size_inches), dpi=dpi)
        ax = fig.add_subplot(111, polar=True)
        ax.set_theta_offset(pi / 2)
        ax.set_theta_direction(-1)
        ax.set_ylim(0, 100)
        ax.set_yticks([25, 50, 75, 100])
        ax.set_yticklabels(["25", "50", "75", "100"], fontsize=7, color="#718096")
        ax.set_xticks(angles[:-1])
        kwargs = {"fontfamily": font} if font else {}
        ax.set_xticklabels(labels, fontsize=10, **kwargs)
        for (_, values, style), name in zip(chart.series, names, strict=True):
            color, line, fill = STYLES.get(style, STYLES["solid"])
            data = list(values) + [values[0]]
            ax.plot(angles, data, line, color=color, linewidth=2, label=name)
            if fill:
                ax.fill(angles, data, color=color, alpha=fill)
        if len(chart.series) > 1:
            legend = ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=3,
                               fontsize=9, frameon=False)
            if font:
                for text in legend.get_texts():
                    text.set_fontfamily(font)
        fig.subplots_adjust(left=0.1, right=0.9, top=0.9, bottom=0.12)  # tight_layout: +40% time
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
    return buffer.getvalue()


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
                                    initializer=_exit_with_parent, initargs=(os.getpid(),))
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
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure  # noqa: F401


def shutdown() -> None:
    global _POOL
    if _POOL is not None:
        _POOL.shutdown(wait=False, cancel_futures=True)
        _POOL = None
