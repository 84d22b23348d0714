"""`python -m bot bench`: the bot against a bare PTB baseline, in one run on one machine.

Both Applications run on the same fake Bot API (answers after a simulated latency, no network).
Many simulated users take the full assessment at once; each update goes through PTB's update
processor exactly as in production. Prints one table; the ratio compares the two in this run.
"""

from __future__ import annotations

import asyncio
import random
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, CommandHandler

from bot.config import Settings
from bot.fake_telegram import FakeTelegram, buttons

LIGHT_USERS = 10


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


@dataclass
class Run:
    update_ms: list[float] = field(default_factory=list)
    answers: int = 0
    seconds: float = 0.0


class Driver:
    """Simulated users talking to one Application through its update processor."""

    def __init__(self, app, telegram: FakeTelegram):
        self.app, self.telegram = app, telegram
        self.ids = iter(range(1, 10**9))
        self.run = Run()

    async def _process(self, payload: dict) -> None:
        update = Update.de_json(payload, self.app.bot)
        started = time.perf_counter()
        await self.app.update_processor.process_update(update, self.app.process_update(update))
        self.run.update_ms.append((time.perf_counter() - started) * 1000)

    def _user(self, uid: int) -> dict:
        return {"id": uid, "is_bot": False, "first_name": "U", "language_code": "en"}

    async def send(self, uid: int, text: str) -> None:
        await self._process({"update_id": next(self.ids), "message": {
            "message_id": next(self.ids), "date": 0, "chat": {"id": uid, "type": "private"},
            "from": self._user(uid), "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}]}})

    async def tap(self, uid: int, data: str, message_id: int) -> None:
        await self._process({"update_id": next(self.ids), "callback_query": {
            "id": str(next(self.ids)), "from": self._user(uid), "chat_instance": "b",
            "data": data, "message": {"message_id": message_id, "date": 0,
                                      "chat": {"id": uid, "type": "private"}, "text": "q"}}})


async def take_assessment(driver: Driver, uid: int, rng: random.Random) -> None:
    """/start, the full assessment, to the report; like a person, one tap after another."""
    await driver.send(uid, "/start")
    for _ in range(200):  # a bound, never reached
        message = driver.telegram.last_with_buttons(uid)
        options = buttons(message)
        data = [d for _, d in options]
        if any(d.startswith("doc:") for d in data):
            return  # the report arrived (its priorities and offers are the last message)
        if any(d == "new:full" for d in data):
            choice = "new:full"
        elif any(d.startswith("ans:") for d in data):
            answers = [d for d in data if d.startswith("ans:") and not d.endswith(":na")]
            choice = rng.choice(answers)
            driver.run.answers += 1
        elif any(d.startswith("ev:") for d in data):
            choice = rng.choice([d for d in data if d.startswith("ev:")])
        elif any(d.startswith("ok:") for d in data):  # several choices: one, then Done
            chosen = any(t.startswith("✅") for t, _ in options)
            choice = next(d for d in data if d.startswith("ok:" if chosen else "ctx:"))
        else:
            choice = rng.choice([d for d in data if d.startswith("ctx:")])
        await driver.tap(uid, choice, message.message_id)
    raise RuntimeError(f"user {uid} never reached the report")


async def bench_ours(content, users: int, latency: float, db_url: str) -> tuple[Run, object]:
    from bot.storage import Store
    from bot.telegram.app import build_application

    store = await Store.open(db_url)
    telegram = FakeTelegram(latency=latency, record=False)
    settings = Settings(bot_token="1:BENCH", database_url=db_url, _env_file=None)
    app = build_application(settings, content, store, request=telegram)
    await app.initialize()
    driver = Driver(app, telegram)
    rngs = [random.Random(uid) for uid in range(users)]
    started = time.perf_counter()
    await asyncio.gather(*(take_assessment(driver, 10_000 + n, rngs[n]) for n in range(users)))
    driver.run.seconds = time.perf_counter() - started
    return driver.run, (app, store)


async def bench_baseline(users: int, taps: int, latency: float) -> Run:
    """A bare PTB Application: the handler answers the callback and edits the message."""
    telegram = FakeTelegram(latency=latency, record=False)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton(str(n), callback_data=f"b:{n}")]
                                     for n in range(5)])

    async def start(update, context):
        await update.message.reply_text("question", reply_markup=keyboard)

    async def tap(update, context):
        await update.callback_query.answer()
        await update.callback_query.edit_message_text("question", reply_markup=keyboard)

    app = (ApplicationBuilder().token("1:BASE").request(telegram).get_updates_request(telegram)
           .concurrent_updates(256).build())
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(tap))
    await app.initialize()
    driver = Driver(app, telegram)

    async def user(uid: int) -> None:
        await driver.send(uid, "/start")
        for _ in range(taps):
            message = telegram.last_with_buttons(uid)
            await driver.tap(uid, "b:1", message.message_id)
            driver.run.answers += 1

    started = time.perf_counter()
    await asyncio.gather(*(user(20_000 + n) for n in range(users)))
    driver.run.seconds = time.perf_counter() - started
    await app.shutdown()
    return driver.run


async def loop_lag_during(work) -> tuple[float, object]:
    """The event loop's worst lateness (ms) while `work` runs."""
    worst = 0.0
    done = False

    async def ticker():
        nonlocal worst
        while not done:
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            worst = max(worst, (time.perf_counter() - before - 0.005) * 1000)

    tick = asyncio.create_task(ticker())
    result = await work
    done = True
    await tick
    return worst, result


async def bench_reports(coach, user_ids: list[int], at_once: int) -> tuple[list[float], float]:
    from bot.chart import render_off_loop

    async def one(uid: int) -> float:
        started = time.perf_counter()
        records = await coach.store.finished_assessments(uid, limit=1)
        report = await coach.report(records[0], "en")
        await render_off_loop(report.chart)
        return (time.perf_counter() - started) * 1000

    await one(user_ids[0])  # the chart process starts and loads the fonts once
    sequential = [await one(uid) for uid in user_ids[:50]]
    lag, _ = await loop_lag_during(asyncio.gather(*(one(uid) for uid in user_ids[:at_once])))
    return sequential, lag


async def bench_dashboard(content, db_url: str, participants: int) -> float:
    """A cohort of generated participants; the trainer's dashboard from query to text."""
    from bot.content.render import Renderer
    from bot.storage import Store
    from bot.storage.bulk import generate_cohort
    from bot.storage.cohorts import CohortStore
    from bot.storage.store import make_engine
    from bot.telegram.trainer import dashboard_screen

    await (await Store.open(db_url)).close()  # migrated
    engine = make_engine(db_url)
    cohort_id = await generate_cohort(engine, content.bank, participants)
    cohorts = CohortStore(engine)
    bank = content.bank
    renderer = Renderer(content, "en")
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        board = await cohorts.dashboard(cohort_id, bank.dimensions, tuple(bank.indices))
        cohort = await cohorts.get(cohort_id)
        dashboard_screen(renderer, cohort, board)
        timings.append((time.perf_counter() - started) * 1000)
    await engine.dispose()
    return min(timings)


def row(name: str, value: str, target: str = "", ok: bool | None = None) -> str:
    mark = "" if ok is None else ("ok" if ok else "MISSED")
    return f"{name:<44} {value:>14}   {target:<10} {mark}"


async def main_async(users: int, latency: float, db: str | None, participants: int) -> int:
    from bot.chart import shutdown as chart_shutdown
    from bot.content import load_content

    content = load_content()
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    db_url = db or f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    idle = rss_mb()
    print(f"bench: {users} users, full assessment each, {latency * 1000:.0f} ms simulated "
          f"Bot API latency, database {db_url.split('://')[0]}", flush=True)
    ours, (app, store) = await bench_ours(content, users, latency, db_url)
    taps = round(len(ours.update_ms) / users) - 1
    print(f"  ours done in {ours.seconds:.1f} s; baseline ...", flush=True)
    base = await bench_baseline(users, taps, latency)
    coach = app.bot_data["coach"]
    report_ms, lag = await bench_reports(coach, [10_000 + n for n in range(users)], 50)
    await app.shutdown()
    await store.close()
    dash = await bench_dashboard(content, db_url if db else
                                 f"sqlite+aiosqlite:///{workdir / 'cohort.db'}", participants)
    chart_shutdown()

    # The same comparison at a light load, where neither side queues for the CPU.
    light_ours, (light_app, light_store) = await bench_ours(
        content, LIGHT_USERS, latency, f"sqlite+aiosqlite:///{workdir / 'light.db'}")
    await light_app.shutdown()
    await light_store.close()
    light_base = await bench_baseline(LIGHT_USERS, taps, latency)
    light_ratio = statistics.median(light_ours.update_ms) / statistics.median(light_base.update_ms)

    ratio = statistics.median(ours.update_ms) / statistics.median(base.update_ms)
    answers_per_s = ours.answers / ours.seconds
    lines = [
        row("metric", "measured", "target"),
        row("answers/s (ours)", f"{answers_per_s:.0f}", ">= 1000", answers_per_s >= 1000),
        row("answers/s (baseline: bare PTB, same load)", f"{base.answers / base.seconds:.0f}"),
        row("updates/s (ours / baseline)",
            f"{len(ours.update_ms) / ours.seconds:.0f} / {len(base.update_ms) / base.seconds:.0f}"),
    ]
    for p in (50, 95, 99):
        lines.append(row(f"update p{p} ms (ours / baseline)",
                         f"{pct(ours.update_ms, p):.1f} / {pct(base.update_ms, p):.1f}"))
    lines += [
        row("ratio p50 ours / baseline", f"{ratio:.2f}", "<= 1.5", ratio <= 1.5),
        row("ratio p95 ours / baseline",
            f"{pct(ours.update_ms, 95) / pct(base.update_ms, 95):.2f}"),
        row(f"ratio p50 at {LIGHT_USERS} users (no CPU queue)", f"{light_ratio:.2f}", "<= 1.5",
            light_ratio <= 1.5),
        row("report p95 ms (summary + chart)", f"{pct(report_ms, 95):.0f}", "<= 250",
            pct(report_ms, 95) <= 250),
        row("event loop worst lag ms, 50 reports at once", f"{lag:.1f}", "<= 20", lag <= 20),
        row(f"dashboard ms, cohort of {participants:,}", f"{dash:.0f}", "<= 500", dash <= 500),
        row("idle RSS MB (content loaded)", f"{idle:.0f}", "<= 120", idle <= 120),
        row("peak RSS MB", f"{peak_rss_mb():.0f}"),
    ]
    import os
    import platform

    lines.append(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} "
                 f"cores, Python {platform.python_version()}, {platform.system()}")
    print("\n".join(lines))
    return 0


def main(args) -> int:
    return asyncio.run(main_async(args.users, args.latency / 1000, args.db, args.participants))


if __name__ == "__main__":
    sys.exit(main(None))
