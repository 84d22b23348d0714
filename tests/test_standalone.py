"""A clone of the project on its own: no `../shared` beside it, and everything still works."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _clone(target: Path) -> Path:
    """The files git tracks (what a `git clone` gets, with this checkout's edits), nothing else."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def test_a_clone_alone_checks_its_content_and_runs_a_conversation(tmp_path):
    clone = _clone(tmp_path / "lonely" / "trust-cx")
    assert not (clone.parent / "shared").exists()
    env = {**os.environ, "PYTHONPATH": str(clone)}
    for name in ("BOT_TOKEN", "ARTICLES_DIR", "CONTENT_DIR"):
        env.pop(name, None)
    check = subprocess.run([sys.executable, "-m", "bot", "content", "check"], cwd=clone, env=env,
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "warning" not in check.stderr.lower() and check.stderr.strip() == ""
    assert check.stdout.count(": ok") == 3  # one line per locale

    talk = subprocess.run([sys.executable, "-m", "bot", "console", "--lang", "en", "--quick"],
                          cwd=clone, env=env, input="2\n" * 200, capture_output=True, text=True,
                          timeout=180)
    assert talk.returncode == 0, talk.stderr
    assert "Trust Index" in talk.stdout
    assert (clone / "data" / "bot.db").is_file()  # the README's default database, in the clone
