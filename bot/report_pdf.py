"""The full report's PDF, rendered off the event loop: the radar chart (bot.chart) and the
layout (bot.content.pdf) both run in the chart process, so the bot's event loop never waits
for them (about 0.3 s of CPU per report). Adapter-neutral: Telegram and the console use it.
"""

from __future__ import annotations

import logging
import time

from bot.content.document import ReportDocument
from bot.service import ChartData

log = logging.getLogger(__name__)


def radar_png(chart: ChartData, document: ReportDocument) -> bytes:
    """The cover's radar chart as PNG, at the print size the layout asks for. The one place
    the PDF calls bot.chart."""
    from bot.chart import render_radar

    size = document.layout["chart"]
    return render_radar(chart, size_inches=float(size["size_inches"]), dpi=int(size["dpi"]))


def render(document: ReportDocument, chart: ChartData) -> bytes:
    """The PDF's bytes (synchronous: call it off the event loop).

    Raises FileNotFoundError when content/fonts is incomplete."""
    from bot.content.pdf import render_pdf

    started = time.perf_counter()
    pdf = render_pdf(document, radar_png(chart, document))
    log.info("report PDF rendered: %s, %.0f ms, %.0f KB", document.locale,
             1000 * (time.perf_counter() - started), len(pdf) / 1024)
    return pdf


async def render_off_loop(document: ReportDocument, chart: ChartData) -> bytes:
    """render() in a drawing process (bot.render_pool); in a thread where processes can not
    be started."""
    from bot import render_pool

    return await render_pool.run(render, document, chart)
