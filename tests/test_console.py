"""Console mode: the README's "try it now" command, with no terminal and no token."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers_domain import FULL_ITEMS, QUICK_ITEMS, at

ROOT = Path(__file__).resolve().parents[1]


def run_console(tmp_path: Path, *args: str, answers: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("BOT_TOKEN", None)
    return subprocess.run(
        [sys.executable, "-m", "bot", "console", *args,
         "--db", f"sqlite+aiosqlite:///{tmp_path / 'console.db'}"],
        input=answers, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)


def test_yes_2_reaches_the_report_and_saves_the_chart(tmp_path):
    done = run_console(tmp_path, "--lang", "en", answers="2\n" * 400)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert at(FULL_ITEMS) in out and "Your score: 25/100" in out  # the last question, the card
    assert "Priority 3 of 3" in out and "30/60/90-day plan" in out
    chart = Path(out.split("chart: ")[1].splitlines()[0])
    assert chart.read_bytes().startswith(b"\x89PNG")
    report = Path(out.split("report: ")[1].splitlines()[0])
    assert report.suffix == ".pdf" and report.read_bytes().startswith(b"%PDF-")
    assert "<b>" not in out  # markup is stripped for the terminal


def test_quick_check_in_chinese_and_resume_after_eof(tmp_path):
    first = run_console(tmp_path, "--lang", "zh-Hans", "--quick", answers="1\n2\n1 3\n2\n1\n")
    assert first.returncode == 0
    assert "已暂停" in first.stdout  # input ended: paused, answers kept
    second = run_console(tmp_path, "--lang", "zh-Hans", "--quick", answers="1\n" * 40)
    assert second.returncode == 0, second.stderr
    assert at(2, QUICK_ITEMS) in second.stdout  # continued where it stopped
    assert at(1, QUICK_ITEMS) not in second.stdout
    assert "客户信任指数" in second.stdout
    report = Path(second.stdout.split("report: ")[1].splitlines()[0])
    assert report.name.startswith("客户信任与体验报告-") and report.suffix == ".pdf"


def test_garbage_input_gets_a_hint_then_gives_up(tmp_path):
    done = run_console(tmp_path, "--lang", "en", answers="banana\n" * 30)
    assert done.returncode == 1
    assert "not available" in done.stdout
