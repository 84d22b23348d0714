"""Generate the zh-Hant locale from zh-Hans with OpenCC (s2twp) plus content/zh-Hant-overrides.yaml.

What it writes (all committed, so editors and reviewers see exactly what users read; a test
regenerates them and fails when someone edited zh-Hans without running this):
- locales/zh-Hant/** from locales/zh-Hans/**, converted, with Taiwan usage from the overrides
  (`phrases`, replaced after conversion; `patterns`, regular expressions after them; `keys`,
  whole values of one file) and 「」 quotes;
- locales/zh-Hant/sources.yaml: every passage of sources.yaml named in traditional characters:
  the traditional copy's own heading where there is one (003 for 001), else converted;
- archive/<version>/locales/zh-Hant/** from the archived zh-Hans, the same way.

content check's zh-Hant lint (content/lint.yaml) catches what conversion still gets wrong.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from opencc import OpenCC

HEADER = "# GENERATED from zh-Hans by `python -m bot content build-hant`: edit zh-Hans or\n" \
         "# content/zh-Hant-overrides.yaml, never this file.\n"
SOURCE, TARGET = "zh-Hans", "zh-Hant"
# Taiwan and Hong Kong set quotations in corner brackets.
QUOTES = {"“": "「", "”": "」", "‘": "『", "’": "』"}


class _Converter:
    def __init__(self, content_dir: Path):
        overrides = yaml.safe_load(
            (content_dir / "zh-Hant-overrides.yaml").read_text("utf-8")) or {}
        # Longest first, so that a phrase wins over a word inside it.
        self.phrases = sorted((overrides.get("phrases") or {}).items(),
                              key=lambda kv: -len(kv[0]))
        self.patterns = [(re.compile(k), v) for k, v in (overrides.get("patterns") or {}).items()]
        self.keys = overrides.get("keys") or {}
        self.cc = OpenCC("s2twp")

    def text(self, value: str) -> str:
        out = self.cc.convert(value)
        for wrong, right in self.phrases:
            out = out.replace(wrong, right)
        for pattern, right in self.patterns:
            out = pattern.sub(right, out)
        for simplified, traditional in QUOTES.items():
            out = out.replace(simplified, traditional)
        return out

    def tree(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.tree(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.tree(v) for v in value]
        return value


def _set(tree: dict, dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for p in parents:
        tree = tree[p]
    tree[last] = value


def _dump(data: Any) -> str:
    return HEADER + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000)


def _locale_tree(convert: _Converter, src_root: Path, dst_root: Path,
                 keys: dict) -> dict[Path, str]:
    out: dict[Path, str] = {}
    for src in sorted(src_root.rglob("*.yaml")):
        rel = src.relative_to(src_root)
        data = convert.tree(yaml.safe_load(src.read_text("utf-8")))
        for dotted, value in (keys.get(str(rel)) or {}).items():
            _set(data, dotted, value)
        out[dst_root / rel] = _dump(data)
    return out


def generate(content_dir: Path) -> dict[Path, str]:
    """File path -> text of every zh-Hant file, without writing anything."""
    convert = _Converter(content_dir)
    out = _locale_tree(convert, content_dir / "locales" / SOURCE,
                       content_dir / "locales" / TARGET, convert.keys)
    passages = (yaml.safe_load((content_dir / "sources.yaml").read_text("utf-8"))
                or {}).get("passages") or {}
    names = {key: (p["hant"]["section"] if p.get("hant") else convert.text(p["section"]))
             for key, p in passages.items()}
    out[content_dir / "locales" / TARGET / "sources.yaml"] = _dump(names)
    for folder in sorted((content_dir / "archive").glob("*/")):
        source = folder / "locales" / SOURCE
        if source.is_dir():
            out.update(_locale_tree(convert, source, folder / "locales" / TARGET, {}))
    return out


def build(content_dir: Path) -> list[Path]:
    files = generate(content_dir)
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return sorted(files)
