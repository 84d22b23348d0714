"""Console mode: the very same conversation in a terminal, no token needed.

Every prompt takes the number of a choice; a multiple-choice question takes several numbers
("1 3") and moves on. The report is printed and the chart and full report are saved as files.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from bot.content import ContentError, load_content
from bot.content.render import Screen, to_plain
from bot.service import Coach, Report, locale_for
from bot.storage import Store

CONSOLE_USER_ID = 0  # Telegram ids are positive: 0 is never a real user
MAX_INVALID = 20  # stop rather than loop forever on input that never fits


def _choices(screen: Screen) -> list:
    return [b for row in screen.buttons for b in row]


def _show(screen: Screen, out) -> list:
    print(to_plain(screen.text), file=out)
    buttons = _choices(screen)
    for n, button in enumerate(buttons, start=1):
        if not button.label.startswith(f"{n}. "):  # options already numbered in the text
            print(f"  {n}) {button.label}", file=out)
    return buttons


async def run(args, out=sys.stdout, read=input) -> int:
    from bot.config import Settings

    settings = Settings()
    try:
        content = load_content(settings.content_dir, settings.articles_dir)
    except ContentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    locale = args.lang or locale_for(os.environ.get("LANG", "en").split(".")[0])
    store = await Store.open(args.db or settings.database_url)
    try:
        return await _conversation(Coach(content, store), locale, args, out, read)
    finally:
        await store.close()


async def _conversation(coach: Coach, locale: str, args, out, read) -> int:
    r = coach.renderer(locale)
    await coach.store.ensure_user(CONSOLE_USER_ID, locale)
    record = await coach.open_assessment(CONSOLE_USER_ID)
    print(to_plain(r.message("welcome", name=None)), file=out)
    if record is None or record.state.mode != ("quick" if args.quick else "full"):
        record = await coach.start(CONSOLE_USER_ID, "quick" if args.quick else "full")
    report = await coach.finish_if_complete(record, locale)
    invalid = 0
    screen = coach.step_screen(record, locale)
    while report is None:
        print("", file=out)
        buttons = _show(screen, out)
        try:
            line = read("> ").strip()
        except EOFError:
            print("\n" + to_plain(coach.paused_screen(record, locale).text), file=out)
            return 0
        picks = _parse(line, len(buttons))
        if not picks:
            invalid += 1
            if invalid >= MAX_INVALID:
                print(to_plain(r.message("invalid")), file=sys.stderr)
                return 1
            print(to_plain(r.message("invalid")), file=out)
            continue
        invalid = 0
        actions = [buttons[p - 1].action for p in picks]
        multi = len(actions) > 1 or actions[0][0] == "ctx" and _is_multi(coach, record)
        if multi:  # a multiple-choice question: toggle each pick, then confirm
            position = actions[0][1]
            actions = [a for a in actions if a[0] == "ctx"] + [("ok", position)]
        for action in actions:
            if action[0] == "pause":
                print(to_plain(coach.paused_screen(record, locale).text), file=out)
                return 0
            result = await coach.tap(CONSOLE_USER_ID, locale,
                                     (action[0], record.state.id, *action[1:]))
            if result.notice:
                print(to_plain(result.notice), file=out)
            if result.record is not None:
                record = result.record
            if result.screen is not None:
                screen = result.screen
            report = result.report or report
    _print_report(coach, report, locale, args, out)
    return 0


def _is_multi(coach: Coach, record) -> bool:
    flow = coach.flow_of(record)
    if not 0 <= record.state.cursor < len(flow.steps):
        return False
    step = flow.steps[record.state.cursor]
    return step.context is not None and step.context.multi


def _parse(line: str, count: int) -> list[int]:
    parts = line.replace(",", " ").split()
    try:
        picks = [int(p) for p in parts]
    except ValueError:
        return []
    if not picks or any(not 1 <= p <= count for p in picks):
        return []
    return list(dict.fromkeys(picks))


def _print_report(coach: Coach, report: Report, locale: str, args, out) -> None:
    from bot.chart import render_radar
    from bot.report_pdf import render as render_pdf

    print("\n" + to_plain(report.card_text), file=out)
    for page in report.pages:
        print("\n" + to_plain(page), file=out)
    print("\n" + to_plain(coach.renderer(locale).plan(report.result.plan,
                                                      context=report.result.context)), file=out)
    data_dir = Path("data")
    data_dir.mkdir(exist_ok=True)
    chart_path = Path(args.chart) if getattr(args, "chart", None) else \
        data_dir / f"report-{report.assessment_id}.png"
    chart_path.write_bytes(render_radar(report.chart))
    doc_path = data_dir / report.document_name
    doc_path.write_bytes(render_pdf(report.document, report.chart))
    print(f"\nchart: {chart_path.resolve()}\nreport: {doc_path.resolve()}", file=out)


def main(args) -> int:
    return asyncio.run(run(args))
