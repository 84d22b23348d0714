"""Generate the zh-Hant locale from zh-Hans with OpenCC (s2twp) plus the overrides file.

The generated files are committed so that editors and reviewers see exactly what users read;
a test regenerates them and fails when someone edited zh-Hans without running this.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from opencc import OpenCC

HEADER = "# GENERATED from zh-Hans by `python -m bot content build-hant`: edit zh-Hans or\n" \
         "# content/zh-Hant-overrides.yaml, never this file.\n"
SOURCE, TARGET = "zh-Hans", "zh-Hant"


def _convert(value: Any, cc: OpenCC, phrases: dict[str, str]) -> Any:
    if isinstance(value, str):
        out = cc.convert(value)
        for wrong, right in phrases.items():
            out = out.replace(wrong, right)
        return out
    if isinstance(value, dict):
        return {k: _convert(v, cc, phrases) for k, v in value.items()}
    if isinstance(value, list):
        return [_convert(v, cc, phrases) for v in value]
    return value


def _set(tree: dict, dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for p in parents:
        tree = tree[p]
    tree[last] = value


def generate(content_dir: Path) -> dict[Path, str]:
    """File path -> text of every zh-Hant file, without writing anything."""
    overrides = yaml.safe_load((content_dir / "zh-Hant-overrides.yaml").read_text("utf-8")) or {}
    phrases = overrides.get("phrases") or {}
    keys = overrides.get("keys") or {}
    cc = OpenCC("s2twp")
    src_root = content_dir / "locales" / SOURCE
    out: dict[Path, str] = {}
    for src in sorted(src_root.rglob("*.yaml")):
        rel = src.relative_to(src_root)
        data = yaml.safe_load(src.read_text("utf-8"))
        data = _convert(data, cc, phrases)
        for dotted, value in (keys.get(str(rel)) or {}).items():
            _set(data, dotted, value)
        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000)
        out[content_dir / "locales" / TARGET / rel] = HEADER + text
    return out


def build(content_dir: Path) -> list[Path]:
    files = generate(content_dir)
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return sorted(files)
