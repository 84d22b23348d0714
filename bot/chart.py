"""The radar chart of the eight dimensions as PNG bytes (matplotlib, Agg backend).

Slow work (~100 ms): adapters call it in a worker thread, never on the event loop.
"""

from __future__ import annotations

import io
import logging
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
            legend = ax.legend(loc="upper right", bbox_to_anchor=(1.25, 1.12), fontsize=8)
            if font:
                for text in legend.get_texts():
                    text.set_fontfamily(font)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
    return buffer.getvalue()
