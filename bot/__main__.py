"""Command line: ``python -m bot [run|console|content check|content build-hant|...]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _content_check(args) -> int:
    from bot.content import LOCALES, ContentError, load_content

    try:
        content = load_content(args.content, args.articles)
    except ContentError as exc:
        for problem in exc.problems:
            print(problem)
        print(f"content check: {len(exc.problems)} problem(s)", file=sys.stderr)
        return 1
    bank = content.bank
    for loc in LOCALES:
        texts = content.texts[loc]
        recs = sum(len(texts.items[i.id].recommendations) for i in bank.items)
        print(f"{loc}: {len(bank.dimensions)} dimensions, {len(texts.items)} items "
              f"({len(bank.items_for('quick'))} quick), {recs} recommendations, "
              f"{len(texts.lessons)} lessons, {len(texts.workshops)} workshops: ok "
              f"(content {bank.version})")
    return 0


def _build_hant(args) -> int:
    from bot.content.hant import build
    from bot.content.loader import DEFAULT_CONTENT_DIR

    for path in build(Path(args.content) if args.content else DEFAULT_CONTENT_DIR):
        print(f"wrote {path}")
    return 0


def _console(args) -> int:
    from bot.console import main as console_main

    return console_main(args)


def _run(args) -> int:
    from bot.telegram.app import main as run_main

    return run_main(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run the Telegram bot (long polling); the default")
    run.set_defaults(func=_run)

    content = sub.add_parser("content", help="check or build the content bank")
    csub = content.add_subparsers(dest="content_command", required=True)
    check = csub.add_parser("check", help="validate the whole content bank")
    check.add_argument("--content", help="content folder (default: ./content)")
    check.add_argument("--articles", help="articles folder (default: ../shared/articles)")
    check.set_defaults(func=_content_check)
    hant = csub.add_parser("build-hant", help="generate zh-Hant from zh-Hans with OpenCC")
    hant.add_argument("--content", help="content folder (default: ./content)")
    hant.set_defaults(func=_build_hant)

    console = sub.add_parser("console", help="take the assessment in this terminal (no token)")
    console.add_argument("--lang", choices=["en", "zh-Hans", "zh-Hant"], default=None)
    console.add_argument("--quick", action="store_true", help="the quick check (8 questions)")
    console.add_argument("--db", help="database URL (default: a file under ./data/)")
    console.add_argument("--chart", help="where to save the chart PNG")
    console.set_defaults(func=_console)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", _run)
    try:
        return func(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
