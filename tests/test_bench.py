"""`python -m bot bench` prints every line the README's Performance table is made of, with
figures that make sense (a tiny run: small numbers, pauses compressed; no timing asserted)."""

from __future__ import annotations

import re

from bot import bench


def figures(line: str) -> list[float]:
    """The numbers of a line's measured column (name, measured, target, mark: 3+ spaces apart)."""
    value = re.split(r"\s{3,}", line.strip())[1]
    return [float(x.replace(",", "")) for x in re.findall(r"\d[\d,]*\.?\d*", value)]


def line(out: str, start: str) -> str:
    found = [x for x in out.splitlines() if x.strip().startswith(start)]
    assert found, f"no line {start!r} in:\n{out}"
    return found[0]


async def test_bench_prints_every_figure_ours_beside_bare_ptb(capsys, content):
    code = await bench.main_async(users=2, latency=0.002, participants=20, classroom=2,
                                  event=10, event_window=300, burst_size=3, time_scale=0.003,
                                  light_users=1, content=content)
    out = capsys.readouterr().out
    assert code == 0
    ours, base = figures(line(out, "CPU us per update"))
    assert ours > 0 and base > 0
    ratio = figures(line(out, "ratio of CPU per update"))[0]
    assert abs(ratio - ours / base) < 0.05 * ratio + 0.01
    per_second = figures(line(out, "updates/s, 2 users at once"))
    assert len(per_second) == 2 and all(x > 0 for x in per_second)
    for start in ("update p50 / p95 / p99 ms, 2 users (ours)",
                  "update p50 / p95 / p99 ms, 2 users (bare PTB)"):
        p50, p95, p99 = figures(line(out, start))[-3:]
        assert 0 < p50 <= p95 <= p99
    for start in ("classroom (2,", "every tap but the last", "event (10 of 10",
                  "burst: 3 finish at once"):
        p50, p95, p99 = figures(line(out, start))[-3:]
        assert 0 < p50 <= p95 <= p99, line(out, start)
    # Every participant got a report: one time-to-report each.
    for report in [x for x in out.splitlines() if "time-to-report" in x]:
        p50, p95, p99 = figures(report)[-3:]
        assert 0 < p50 <= p95 <= p99, report
    assert "event (10 of 10" in out
    assert "time compressed" in out
    assert figures(line(out, "idle RSS MB"))[-1] > 0
