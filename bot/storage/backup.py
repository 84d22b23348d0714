"""A consistent copy of a live SQLite database with SQLite's online backup API."""

from __future__ import annotations

import sqlite3
from pathlib import Path

PREFIX = "sqlite+aiosqlite:///"


class BackupError(Exception):
    pass


def backup_sqlite(database_url: str, target: Path) -> tuple[int, int]:
    """Copy the database to `target` while the bot keeps writing; returns (pages, bytes).

    One step (pages=-1): the copy reads one snapshot inside a single read transaction, which in
    WAL mode never blocks the bot's writers. (Copying in small steps restarts whenever a writer
    changes the source between two steps: under a steady 20-50 commits/s it never finished.)
    The copy is checked before it is reported."""
    if not database_url.startswith(PREFIX):
        raise BackupError("backup copies SQLite databases; for PostgreSQL use pg_dump")
    source_path = Path(database_url[len(PREFIX):])
    if not source_path.is_file():
        raise BackupError(f"no database at {source_path}")
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        raise BackupError(f"{target} exists already: choose a new file")
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=30)
    destination = sqlite3.connect(target)
    try:
        source.backup(destination, pages=-1)
        check = destination.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"the copy failed its integrity check: {check}")
        destination.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        pages = destination.execute("PRAGMA page_count").fetchone()[0]
    finally:
        destination.close()
        source.close()
    return pages, target.stat().st_size
