"""Command line: ``python -m bot [run|console|content check|content build-hant|...]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _content_check(args) -> int:
    from bot.content import LOCALES, ContentError, load_content
    from bot.content.loader import DEFAULT_ARTICLES_DIR

    articles = Path(args.articles) if args.articles else DEFAULT_ARTICLES_DIR
    if not articles.is_dir():
        if args.articles:
            print(f"error: articles folder {articles} not found", file=sys.stderr)
            return 1
        print(f"warning: {articles} not found: sources were checked against sources.yaml "
              "only, not against the article texts (pass --articles DIR)", file=sys.stderr)
    try:
        content = load_content(args.content, args.articles, lint=True)
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


def _fonts_build(args) -> int:
    from bot.content import ContentError
    from bot.content.fontbuild import (
        DEFAULT_SOURCE,
        DEFAULT_SYMBOL_SOURCE,
        FontSourceMissing,
        build,
        missing_glyphs,
    )
    from bot.content.loader import DEFAULT_CONTENT_DIR

    content = Path(args.content) if args.content else DEFAULT_CONTENT_DIR
    try:
        built = build(Path(args.source) if args.source else DEFAULT_SOURCE, content,
                      Path(args.symbols) if args.symbols else DEFAULT_SYMBOL_SOURCE)
    except FontSourceMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ContentError as exc:
        print(f"error: the content does not load ({len(exc.problems)} problem(s)): "
              "run `python -m bot content check`", file=sys.stderr)
        return 1
    for face in built:
        print(f"wrote {face.path}: {face.size:,} bytes, {face.glyphs:,} glyphs, "
              f"{face.characters:,} characters ({face.hanzi:,} hanzi)")
    print(f"total {sum(face.size for face in built):,} bytes")
    missing = missing_glyphs(content)
    for label, chars in missing.items():  # Noto Sans CJK itself lacks them
        print(f"error: {label}: no font draws {chars}: change the wording", file=sys.stderr)
    return 1 if missing else 0


def _console(args) -> int:
    from bot.console import main as console_main

    return console_main(args)


def _run(args) -> int:
    from bot.telegram.app import main as run_main

    return run_main(args)


def _settings():
    from pydantic import ValidationError

    from bot.config import Settings

    try:
        return Settings()
    except ValidationError as exc:
        err = exc.errors()[0]
        print(f"error: {str(err['loc'][0]).upper()}: {err['msg']}", file=sys.stderr)
        return None


def _webhook(args) -> int:
    """Register (or remove) the webhook once, by hand: replicas never do it at boot."""
    import asyncio

    from telegram import Bot
    from telegram.error import TelegramError

    from bot.telegram.chats import ALLOWED_UPDATES

    settings = _settings()
    if settings is None:
        return 2
    if not settings.bot_token:
        print("error: BOT_TOKEN is not set", file=sys.stderr)
        return 2
    if args.command == "set-webhook" and not (settings.webhook_url and settings.webhook_secret):
        print("error: set-webhook needs WEBHOOK_URL and WEBHOOK_SECRET", file=sys.stderr)
        return 2

    async def call() -> None:
        async with Bot(settings.bot_token, base_url=settings.telegram_api_base_url) as bot:
            if args.command == "set-webhook":
                await bot.set_webhook(settings.webhook_url, secret_token=settings.webhook_secret,
                                      allowed_updates=list(ALLOWED_UPDATES),
                                      drop_pending_updates=args.drop_pending)
            else:
                await bot.delete_webhook(drop_pending_updates=args.drop_pending)

    try:
        asyncio.run(call())
    except TelegramError as exc:
        print(f"error: Telegram said: {exc}", file=sys.stderr)
        return 1
    done = f"webhook set to {settings.webhook_url}" if args.command == "set-webhook" \
        else "webhook deleted: use long polling"
    print(done)
    return 0


def _backup(args) -> int:
    from bot.storage.backup import BackupError, backup_sqlite

    settings = _settings()
    if settings is None:
        return 2
    try:
        pages, size = backup_sqlite(args.db or settings.database_url, Path(args.path))
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"backup written to {args.path}: {size} bytes, {pages} pages, integrity ok")
    return 0


def _bench(args) -> int:
    from bot.bench import main as bench_main

    return bench_main(args)


def _healthcheck(args) -> int:
    """For Docker's HEALTHCHECK: the webhook's /healthz in webhook mode, else the database."""
    import asyncio
    import urllib.request

    settings = _settings()
    if settings is None:
        return 1
    if settings.webhook_url:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{settings.port}/healthz",
                                        timeout=4) as response:
                return 0 if response.status == 200 else 1
        except OSError:
            return 1
    from bot.storage import Store

    async def ping() -> bool:
        store = await Store.open(settings.database_url, migrate=False)
        try:
            return await store.ping()
        finally:
            await store.close()

    return 0 if asyncio.run(ping()) else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run the Telegram bot (long polling); the default")
    run.set_defaults(func=_run)

    content = sub.add_parser("content", help="check or build the content bank")
    csub = content.add_subparsers(dest="content_command", required=True)
    check = csub.add_parser("check", help="validate the whole content bank")
    check.add_argument("--content", help="content folder (default: ./content)")
    check.add_argument("--articles", help="articles folder (default: ./content/articles)")
    check.set_defaults(func=_content_check)
    hant = csub.add_parser("build-hant", help="generate zh-Hant from zh-Hans with OpenCC")
    hant.add_argument("--content", help="content folder (default: ./content)")
    hant.set_defaults(func=_build_hant)

    fonts = sub.add_parser("fonts", help="the fonts in content/fonts")
    fsub = fonts.add_subparsers(dest="fonts_command", required=True)
    fbuild = fsub.add_parser("build", help="subset Noto Sans CJK and DejaVu Sans into "
                             "content/fonts (build time)")
    fbuild.add_argument("--source", help="folder with NotoSansCJK-Regular.ttc and "
                        "NotoSansCJK-Bold.ttc (default: /usr/share/fonts/opentype/noto)")
    fbuild.add_argument("--symbols", help="folder with DejaVuSans.ttf and DejaVuSans-Bold.ttf "
                        "(default: /usr/share/fonts/truetype/dejavu)")
    fbuild.add_argument("--content", help="content folder (default: ./content)")
    fbuild.set_defaults(func=_fonts_build)

    for name, text in (("set-webhook", "register WEBHOOK_URL with Telegram (once, by hand)"),
                       ("delete-webhook", "remove the webhook (back to long polling)")):
        hook = sub.add_parser(name, help=text)
        hook.add_argument("--drop-pending", action="store_true",
                          help="drop the updates Telegram is holding")
        hook.set_defaults(func=_webhook)
    bench = sub.add_parser("bench", help="measure the bot against a bare PTB baseline")
    bench.add_argument("--users", type=int, default=500, help="simulated users (default 500)")
    bench.add_argument("--latency", type=float, default=50.0,
                       help="simulated Bot API latency in ms (default 50)")
    bench.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    bench.add_argument("--participants", type=int, default=10_000,
                       help="generated cohort size for the dashboard (default 10000)")
    bench.add_argument("--http", action="store_true",
                       help="both sides talk real HTTP to a fake Bot API process")
    bench.add_argument("--classroom", type=int, default=300,
                       help="classroom participants (default 300)")
    bench.add_argument("--event", type=int, default=3000,
                       help="event participants (default 3000)")
    bench.add_argument("--event-window", type=float, default=75.0,
                       help="seconds of the event's 300 s start schedule to run (default 75)")
    bench.add_argument("--burst", type=int, default=500,
                       help="participants finishing at the same instant (default 500)")
    bench.add_argument("--time-scale", type=float, default=1.0,
                       help="multiply every pause and start window (default 1: real time)")
    bench.add_argument("--replicas", type=int, default=0,
                       help="only compare N replica processes with one on --db (PostgreSQL)")
    bench.set_defaults(func=_bench)
    health = sub.add_parser("healthcheck", help="exit 0 when the bot's database answers")
    health.set_defaults(func=_healthcheck)
    backup = sub.add_parser("backup", help="a consistent copy of the SQLite database, live")
    backup.add_argument("path", help="where to write the copy")
    backup.add_argument("--db", help="database URL (default: DATABASE_URL)")
    backup.set_defaults(func=_backup)

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
