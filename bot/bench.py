"""`python -m bot bench`: the bot against a bare PTB baseline, in one run on one machine.

Both Applications take the same load through the same fake Bot API, which answers after a
simulated latency: in this process (default) or, with `--http`, a fake Bot API server in a
process of its own (bot/bench_api.py) that both sides reach over real HTTP, each with its own
client (ours: RetryingRequest on aiohttp; bare PTB: its default HTTPXRequest, same pool size), so
the client's CPU is in the figures. Every update goes through PTB's update processor exactly as
in production. Both sides count the same thing: updates (a command or a tap), per second and CPU
(this process's, all threads: time.process_time around each side's measured window). The chart
worker(s) are started and warmed before anything is measured; their CPU is not in the headline.

Scenarios (time is real unless `--time-scale` says otherwise):
- saturation: `--users` users take the full assessment at once, no pause between taps; bare PTB
  (answer the tap, edit the message) takes the same number of updates per user;
- classroom: 300 participants, the quick check, starting within 60 s, a tap every 3-8 s;
- event: 3,000 participants, the quick check, starting within 5 minutes, a tap every 3-8 s,
  seeded. Only the first `--event-window` seconds of the start schedule run (default 75 s: the
  participants whose start falls in it, 750 of 3,000), at the real pace: the arrival rate and
  the load per second are the full event's; the run is shorter;
- burst: `--burst` participants are brought to their last question, then all tap at once.
Time-to-report: from the tap that completes the check to the result card being sent (the
summary: with the chart as its photo when the chart is ready in time, else as text first).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import random
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, CommandHandler
from telegram.request import HTTPXRequest

from bot.config import Settings
from bot.fake_telegram import FakeTelegram, Message, buttons
from bot.telegram.request import CONNECTIONS, POOL_TIMEOUT, RetryingRequest

LIGHT_USERS = 10
SENDS = ("sendMessage", "sendPhoto", "sendDocument")
EVENT = (3000, 300.0)  # participants, start window (s)
CLASSROOM = (300, 60.0)
THINK = (3.0, 8.0)  # seconds between a screen and the next tap
NOW = int(time.time())  # a tapped message's date: recent, so it can be edited (0 means too old)


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


def triple(values: list[float], digits: int = 0) -> str:
    return " / ".join(f"{pct(values, p):,.{digits}f}" for p in (50, 95, 99))


def is_card(markup: dict | None) -> bool:
    """Whether a message's buttons are the result card's (it offers the full report)."""
    return bool(markup) and any(str(b.get("callback_data", "")).startswith("doc:")
                                for row in markup.get("inline_keyboard", ()) for b in row)


# --- what the users see: the screens, read from the requests the bot made ---------------------
class BenchTelegram(FakeTelegram):
    """The in-process fake Bot API, noting when each chat's result card was sent."""

    def __init__(self, latency: float) -> None:
        super().__init__(latency=latency, record=False)
        self.card_at: dict[int, float] = {}
        self.photo_at: dict[int, float] = {}  # when each chat's chart (a photo) was sent

    async def do_request(self, url, method, request_data=None, **kwargs):
        code, payload = await super().do_request(url, method, request_data, **kwargs)
        name = url.rsplit("/", 1)[-1]
        if name == "sendPhoto" and request_data is not None and code == 200:
            self.photo_at.setdefault(int(request_data.parameters["chat_id"]),
                                     time.perf_counter())
        if name in SENDS and request_data is not None:
            if is_card(request_data.parameters.get("reply_markup")):
                self.card_at.setdefault(int(request_data.parameters["chat_id"]),
                                        time.perf_counter())
        return code, payload


class _Mirror:
    """A request class talking to bot/bench_api.py over HTTP that keeps, for the simulated users,
    each chat's messages with buttons as requested (the markup as the request holds it)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.screens: dict[int, dict[int, dict | None]] = {}
        self.card_at: dict[int, float] = {}
        self.photo_at: dict[int, float] = {}  # when each chat's chart (a photo) was sent
        self.latency = 0.0  # set by the server; kept for the interface

    async def do_request(self, url, method, request_data=None, **kwargs):
        code, payload = await super().do_request(url, method, request_data, **kwargs)
        name = url.rsplit("/", 1)[-1]
        if request_data is None or code != 200:
            return code, payload
        p = request_data.parameters
        if name in SENDS:
            chat = int(p["chat_id"])
            markup = p.get("reply_markup")
            message_id = json.loads(payload)["result"]["message_id"]
            self.screens.setdefault(chat, {})[message_id] = markup
            if is_card(markup):
                self.card_at.setdefault(chat, time.perf_counter())
            if name == "sendPhoto":
                self.photo_at.setdefault(chat, time.perf_counter())
        elif name in ("editMessageText", "editMessageCaption", "editMessageReplyMarkup"):
            self.screens.setdefault(int(p["chat_id"]), {})[int(p["message_id"])] = \
                p.get("reply_markup")
        return code, payload

    def last_with_buttons(self, chat_id: int) -> Message:
        for message_id, markup in sorted(self.screens.get(chat_id, {}).items(), reverse=True):
            if markup and markup.get("inline_keyboard"):
                return Message(message_id, chat_id, "", markup)
        raise AssertionError("no message with buttons in this chat")


class HttpMirror(_Mirror, RetryingRequest):
    """Ours: the production client (RetryingRequest on aiohttp, request.CONNECTIONS)."""


class HttpxMirror(_Mirror, HTTPXRequest):
    """Bare PTB: its default client, HTTPXRequest, with the same pool size and wait."""

    def __init__(self) -> None:
        super().__init__(connection_pool_size=CONNECTIONS, pool_timeout=POOL_TIMEOUT)


class Api:
    """Where both sides send their Bot API calls: in process, or a server over HTTP."""

    def __init__(self, latency: float, http: bool) -> None:
        self.latency, self.http = latency, http
        self.process: subprocess.Popen | None = None
        self.base_url = "https://api.telegram.org/bot"

    def start(self) -> None:
        if not self.http:
            return
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.bench_api", str(port), str(self.latency * 1000)],
            cwd=Path(__file__).resolve().parents[1])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        self.base_url = f"http://127.0.0.1:{port}/bot"

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)

    def request(self, bare: bool = False):
        """The request class of one side: ours (RetryingRequest) or bare PTB's (HTTPXRequest)
        with --http, else the in-process fake."""
        if not self.http:
            return BenchTelegram(self.latency)
        return HttpxMirror() if bare else HttpMirror()


# --- simulated users --------------------------------------------------------------------------
@dataclass
class Run:
    update_ms: list[float] = field(default_factory=list)
    tap_ms: list[float] = field(default_factory=list)
    question_ms: list[float] = field(default_factory=list)  # taps answered by the next screen
    report_ms: list[float] = field(default_factory=list)
    chart_ms: list[float] = field(default_factory=list)  # from the tap to the chart's photo
    charts_lost: int = 0  # finished, but no chart arrived
    seconds: float = 0.0
    users: int = 0
    cpu: float = 0.0  # seconds of this process's CPU in the measured window

    @property
    def per_second(self) -> float:
        return len(self.update_ms) / self.seconds if self.seconds else 0.0

    @property
    def cpu_us(self) -> float:
        return self.cpu / len(self.update_ms) * 1e6 if self.update_ms else 0.0


class Driver:
    """Simulated users talking to one Application through its update processor."""

    def __init__(self, app, screens):
        self.app, self.screens = app, screens
        self.ids = iter(range(1, 10**9))
        self.run = Run()

    async def _process(self, payload: dict) -> float:
        update = Update.de_json(payload, self.app.bot)
        started = time.perf_counter()
        await self.app.update_processor.process_update(update, self.app.process_update(update))
        ms = (time.perf_counter() - started) * 1000
        self.run.update_ms.append(ms)
        return ms

    def _user(self, uid: int) -> dict:
        return {"id": uid, "is_bot": False, "first_name": "U", "language_code": "en"}

    async def send(self, uid: int, text: str) -> float:
        return await self._process({"update_id": next(self.ids), "message": {
            "message_id": next(self.ids), "date": NOW, "chat": {"id": uid, "type": "private"},
            "from": self._user(uid), "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}]}})

    async def tap(self, uid: int, data: str, message_id: int) -> float:
        return await self._process({"update_id": next(self.ids), "callback_query": {
            "id": str(next(self.ids)), "from": self._user(uid), "chat_instance": "b",
            "data": data, "message": {"message_id": message_id, "date": NOW,
                                      "chat": {"id": uid, "type": "private"}, "text": "q"}}})

    def screen(self, uid: int) -> tuple[Message, list[tuple[str, str]]]:
        message = self.screens.last_with_buttons(uid)
        return message, buttons(message)


def choose(options: list[tuple[str, str]], mode: str, rng: random.Random) -> str | None:
    """The next tap of a user on this screen; None when the report has arrived."""
    data = [d for _, d in options]
    if any(d.startswith("doc:") for d in data):
        return None
    if f"new:{mode}" in data:
        return f"new:{mode}"
    if any(d.startswith("ans:") for d in data):
        return rng.choice([d for d in data if d.startswith("ans:") and not d.endswith(":na")])
    if any(d.startswith("ev:") for d in data):
        return rng.choice([d for d in data if d.startswith("ev:")])
    if any(d.startswith("rv:") for d in data):
        return next(d for d in data if d.startswith("rv:"))
    if any(d.startswith("ok:") for d in data):  # several choices: one, then Done
        chosen = any(t.startswith("✅") for t, _ in options)
        return next(d for d in data if d.startswith("ok:" if chosen else "ctx:"))
    return rng.choice([d for d in data if d.startswith("ctx:")])


async def take(driver: Driver, uid: int, rng: random.Random, mode: str = "full",
               think: tuple[float, float] | None = None, scale: float = 1.0) -> None:
    """/start, the assessment, to the report; like a person, one tap after another, waiting
    `think` seconds (uniform, times `scale`) before each tap. Taps and time-to-report noted."""
    await driver.send(uid, "/start")
    for _ in range(200):  # a bound, never reached
        message, options = driver.screen(uid)
        choice = choose(options, mode, rng)
        if choice is None:
            return
        if think:
            await asyncio.sleep(rng.uniform(*think) * scale)
        started = time.perf_counter()
        ms = await driver.tap(uid, choice, message.message_id)
        driver.run.tap_ms.append(ms)
        card = driver.screens.card_at.get(uid)
        if card is not None and card >= started:
            driver.run.report_ms.append((card - started) * 1000)
        else:  # not the finishing tap (that one also sends the result card: a third call)
            driver.run.question_ms.append(ms)
    raise RuntimeError(f"user {uid} never reached the report")


def measured(run: Run):
    """Context for a measured window: wall time and this process's CPU."""
    class Window:
        def __enter__(self):
            self.wall, self.cpu = time.perf_counter(), time.process_time()

        def __exit__(self, *exc):
            run.seconds = time.perf_counter() - self.wall
            run.cpu = time.process_time() - self.cpu
    return Window()


# --- the two sides ----------------------------------------------------------------------------
async def open_ours(content, db_url: str, api: Api):
    from bot.storage import Store
    from bot.telegram.app import build_application

    store = await Store.open(db_url)
    request = api.request()
    settings = Settings(bot_token="1:BENCH", database_url=db_url, _env_file=None,
                        telegram_api_base_url=api.base_url)
    app = build_application(settings, content, store, request=request)
    await app.initialize()
    return Driver(app, request), store


async def close_ours(driver: Driver, store) -> None:
    await driver.app.shutdown()
    await store.close()


async def open_baseline(api: Api) -> Driver:
    """A bare PTB Application: the handler answers the callback and edits the message."""
    request = api.request(bare=True)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton(str(n), callback_data=f"b:{n}")]
                                     for n in range(5)])

    async def start(update, context):
        await update.message.reply_text("question", reply_markup=keyboard)

    async def tap(update, context):
        await update.callback_query.answer()
        await update.callback_query.edit_message_text("question", reply_markup=keyboard)

    app = (ApplicationBuilder().token("1:BASE").base_url(api.base_url).request(request)
           .get_updates_request(request).concurrent_updates(256).build())
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(tap))
    await app.initialize()
    return Driver(app, request)


async def saturate_ours(content, users: int, db_url: str, api: Api) -> tuple[Run, Driver, object]:
    driver, store = await open_ours(content, db_url, api)
    rngs = [random.Random(uid) for uid in range(users)]
    with measured(driver.run):
        await asyncio.gather(*(take(driver, 10_000 + n, rngs[n]) for n in range(users)))
    return driver.run, driver, store


async def saturate_baseline(users: int, updates_each: int, api: Api) -> Run:
    driver = await open_baseline(api)

    async def user(uid: int) -> None:
        await driver.send(uid, "/start")
        for _ in range(updates_each - 1):
            message, _ = driver.screen(uid)
            await driver.tap(uid, "b:1", message.message_id)

    with measured(driver.run):
        await asyncio.gather(*(user(20_000 + n) for n in range(users)))
    await driver.app.shutdown()
    return driver.run


async def paced(content, db_url: str, api: Api, participants: int, window: float, seed: int,
                scale: float, first: int = 0) -> Run:
    """Participants take the quick check, starting at seeded random moments within `window`
    seconds of the full schedule, a tap every THINK seconds (times `scale`)."""
    driver, store = await open_ours(content, db_url, api)
    rng = random.Random(seed)
    starts = sorted(rng.uniform(0, window) for _ in range(participants))
    if first:
        starts = [s for s in starts if s < first]
    driver.run.users = len(starts)

    async def participant(n: int, at: float) -> None:
        await asyncio.sleep(at * scale)
        await take(driver, 50_000 + n, random.Random(seed * 100_000 + n), "quick", THINK, scale)

    with measured(driver.run):
        await asyncio.gather(*(participant(n, at) for n, at in enumerate(starts)))
    await close_ours(driver, store)
    return driver.run


async def burst(content, db_url: str, api: Api, participants: int) -> Run:
    """`participants` brought to their last question (not measured), then all tap at once."""
    from bot.domain.flow import Answer

    driver, store = await open_ours(content, db_url, api)
    coach = driver.app.bot_data["coach"]
    ready: list[tuple[int, str, int]] = []

    async def to_last(uid: int) -> None:
        rng = random.Random(uid)
        await driver.send(uid, "/start")
        for _ in range(200):
            message, options = driver.screen(uid)
            choice = choose(options, "quick", rng)
            record = await coach.store.open_assessment(uid)
            if record is not None and choice.split(":")[0] in ("ans", "ev", "ok"):
                flow, state = coach.flow_of(record), record.state
                if flow.next_position(state, state.cursor) >= len(flow.steps):
                    if choice.startswith("ans:"):  # an answer that asks for no evidence check
                        item = flow.steps[state.cursor].item
                        choice = next(d for _, d in options if d.startswith("ans:") and not
                                      flow.needs_evidence(item, Answer(d.rsplit(":", 1)[1])))
                    ready.append((uid, choice, message.message_id))
                    return
            await driver.tap(uid, choice, message.message_id)
        raise RuntimeError(f"user {uid} never reached the last question")

    await asyncio.gather(*(to_last(90_000 + n) for n in range(participants)))
    driver.run = Run()

    tapped: dict[int, float] = {}

    async def last(uid: int, choice: str, message_id: int) -> None:
        started = tapped[uid] = time.perf_counter()
        await driver.tap(uid, choice, message_id)
        card = driver.screens.card_at.get(uid)
        if card is not None:
            driver.run.report_ms.append((card - started) * 1000)

    with measured(driver.run):
        await asyncio.gather(*(last(*r) for r in ready))
    await late_charts()  # a card that went out as text: its chart follows; wait for them all
    for uid, started in tapped.items():
        chart = driver.screens.photo_at.get(uid)
        if chart is None:
            driver.run.charts_lost += 1
        else:
            driver.run.chart_ms.append((chart - started) * 1000)
    await close_ours(driver, store)
    return driver.run


async def late_charts() -> None:
    """Until every chart that follows its card (bot.telegram.handlers) has been sent or failed."""
    from bot.telegram import handlers

    while handlers._LATE:
        await asyncio.gather(*list(handlers._LATE), return_exceptions=True)
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
    return f"{name:<52} {value:>24}   {target:<9} {mark}"


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


async def warm_charts() -> None:
    """Start the chart workers and load their fonts before anything is measured."""
    from bot import render_pool

    await render_pool.ready()


async def main_async(users: int = 500, latency: float = 0.05, db: str | None = None,
                     participants: int = 10_000, http: bool = False,
                     classroom: int = CLASSROOM[0], event: int = EVENT[0],
                     event_window: float = 75.0, burst_size: int = 500,
                     time_scale: float = 1.0, light_users: int = LIGHT_USERS,
                     content=None) -> int:
    from bot import render_pool
    from bot.content import load_content

    content = content or load_content()
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))

    def db_url(name: str) -> str:
        return db or f"sqlite+aiosqlite:///{workdir / (name + '.db')}"

    await warm_charts()
    idle = rss_mb()
    api = Api(latency, http)
    api.start()
    transport = "real HTTP to a fake Bot API process (bot/bench_api.py)" if http \
        else "in process (no HTTP)"
    print(f"bench: {latency * 1000:.0f} ms simulated Bot API latency, {transport}, database "
          f"{db_url('x').split('://')[0]}, {render_pool.workers()} chart worker(s); "
          f"load average before: {load_average()}", flush=True)
    try:
        ours, driver, store = await saturate_ours(content, users, db_url("saturate"), api)
        each = round(len(ours.update_ms) / users)
        print(f"  saturation: ours {ours.seconds:.1f} s; bare PTB ...", flush=True)
        base = await saturate_baseline(users, each, api)
        coach = driver.app.bot_data["coach"]
        report_ms, lag = await bench_reports(coach, [10_000 + n for n in range(users)],
                                             min(50, users))
        await close_ours(driver, store)
        light, light_driver, light_store = await saturate_ours(content, light_users,
                                                               db_url("light"), api)
        await close_ours(light_driver, light_store)
        light_base = await saturate_baseline(light_users, each, api)
        print("  classroom ...", flush=True)
        room = await paced(content, db_url("classroom"), api, classroom, CLASSROOM[1], 1,
                           time_scale)
        window = min(event_window, EVENT[1])
        print(f"  event (first {window:.0f} s of the start window) ...", flush=True)
        hall = await paced(content, db_url("event"), api, event, EVENT[1], 2, time_scale,
                           first=window)
        print(f"  burst of {burst_size} ...", flush=True)
        bunch = await burst(content, db_url("burst"), api, burst_size)
        dash = await bench_dashboard(content, db_url("cohort"), participants)
    finally:
        api.stop()
    render_pool.shutdown()

    cpu_ratio = ours.cpu_us / base.cpu_us
    ratio = statistics.median(ours.update_ms) / statistics.median(base.update_ms)
    light_ratio = statistics.median(light.update_ms) / statistics.median(light_base.update_ms)
    hall_users = hall.users
    lines = [
        row("metric", "ours / bare PTB", "target"),
        row("CPU us per update (this process, all threads)",
            f"{ours.cpu_us:,.0f} / {base.cpu_us:,.0f}"),
        row("  ratio of CPU per update", f"{cpu_ratio:.2f}", "<= 1.5", cpu_ratio <= 1.5),
        row(f"updates/s, {users} users at once (full assessment)",
            f"{ours.per_second:,.0f} / {base.per_second:,.0f}"),
        row(f"update p50 / p95 / p99 ms, {users} users (ours)", triple(ours.update_ms, 1)),
        row(f"update p50 / p95 / p99 ms, {users} users (bare PTB)", triple(base.update_ms, 1)),
        row(f"  ratio of p50, {users} users", f"{ratio:.2f}", "<= 1.5", ratio <= 1.5),
        row(f"  ratio of p50, {light_users} users (no CPU queue)", f"{light_ratio:.2f}",
            "<= 1.5", light_ratio <= 1.5),
        row(f"classroom ({classroom}, quick, 60 s start): tap p50/95/99",
            triple(room.tap_ms)),
        row("  every tap but the last (next screen) p50/95/99", triple(room.question_ms),
            "p95 <= 110", pct(room.question_ms, 95) <= 110),
        row("  time-to-report p50 / p95 / p99 ms", triple(room.report_ms),
            "p95 <= 510", pct(room.report_ms, 95) <= 510),
        row(f"event ({hall_users} of {event:,}, quick, 5 min start): tap p50/95/99",
            triple(hall.tap_ms), "p95 <= 300", pct(hall.tap_ms, 95) <= 300),
        row("  time-to-report p50 / p95 / p99 ms", triple(hall.report_ms),
            "p95 <= 3000", pct(hall.report_ms, 95) <= 3000),
        row("  updates/s; CPU us per update", f"{hall.per_second:,.0f}; {hall.cpu_us:,.0f}"),
        row(f"burst: {burst_size} finish at once, time-to-report p50/95/99",
            triple(bunch.report_ms), "p95 <= 5000", pct(bunch.report_ms, 95) <= 5000),
        row("  the chart's photo arrives p50/95/99 ms; charts lost",
            f"{triple(bunch.chart_ms)}; {bunch.charts_lost}"),
        row("report p95 ms (one at a time: summary + chart)", f"{pct(report_ms, 95):.0f}",
            "<= 250", pct(report_ms, 95) <= 250),
        row("event loop worst lag ms, 50 reports at once", f"{lag:.1f}", "<= 20", lag <= 20),
        row(f"dashboard ms, cohort of {participants:,}", f"{dash:.0f}", "<= 500", dash <= 500),
        row("idle RSS MB (content loaded, charts warm)", f"{idle:.0f}", "<= 120", idle <= 120),
        row("peak RSS MB", f"{peak_rss_mb():.0f}"),
    ]
    if time_scale != 1.0:
        lines.append(f"time compressed: every pause and start window x {time_scale}")
    lines.append(f"event: the first {window:.0f} s of the 300 s start schedule ({hall_users} "
                 f"of {event:,} participants), real pace; the full event: --event-window 300")
    lines.append(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} "
                 f"cores, Python {platform.python_version()}, {platform.system()}; load "
                 f"average after: {load_average()}")
    print("\n".join(lines), flush=True)
    return 0


# --- replicas: processes of their own on one database ----------------------------------------
async def replica_child(users: int, first: int, latency: float, db: str, http: bool) -> None:
    """One replica (`python -m bot.bench replica ...`): opens its Application, says "ready",
    waits for "go" on stdin, runs the saturation for its users, prints its Run as JSON."""
    from bot import render_pool
    from bot.content import load_content

    content = load_content()
    await render_pool.ready()
    api = Api(latency, http)
    api.start()
    try:
        driver, store = await open_ours(content, db, api)
        driver.ids = iter(range(first * 100, first * 100 + 10**9))  # update ids of its own
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        rngs = [random.Random(first + n) for n in range(users)]
        with measured(driver.run):
            await asyncio.gather(*(take(driver, first + n, rngs[n]) for n in range(users)))
        run = driver.run
        await close_ours(driver, store)
    finally:
        api.stop()
        render_pool.shutdown()
    print(json.dumps({"updates": len(run.update_ms), "seconds": run.seconds, "cpu": run.cpu,
                      "p50": pct(run.update_ms, 50), "p95": pct(run.update_ms, 95)}), flush=True)


def run_replicas(count: int, users: int, latency: float, db: str, http: bool,
                 first: int) -> dict:
    """`count` replica processes sharing `users` (each its own users), started together."""
    children = []
    for n in range(count):
        share = users // count + (1 if n < users % count else 0)
        args = [sys.executable, "-m", "bot.bench", "replica", str(share),
                str(first + n * 1_000_000), str(latency), db, "1" if http else "0"]
        children.append(subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         text=True, cwd=Path(__file__).resolve().parents[1]))
    for child in children:
        if child.stdout.readline().strip() != "ready":
            raise RuntimeError("a replica did not start")
    for child in children:
        child.stdin.write("go\n")
        child.stdin.flush()
    results = [json.loads(child.communicate(timeout=3600)[0].strip().splitlines()[-1])
               for child in children]
    updates = sum(r["updates"] for r in results)
    seconds = max(r["seconds"] for r in results)
    return {"per_second": updates / seconds, "cpu_us": sum(r["cpu"] for r in results) /
            updates * 1e6, "p50": max(r["p50"] for r in results),
            "p95": max(r["p95"] for r in results), "updates": updates}


def bench_replicas(count: int, users: int, latency: float, db: str, http: bool) -> int:
    """One replica against `count`, in the same run, on the same database: the same users
    (full assessment, at once) taken by one process, then shared among `count` processes."""
    print(f"replicas: {users} users at once, full assessment, {latency * 1000:.0f} ms latency, "
          f"database {db.split('://')[0]}; load average before: {load_average()}", flush=True)
    one = run_replicas(1, users, latency, db, http, 1_000_000_000)
    many = run_replicas(count, users, latency, db, http, 2_000_000_000)
    for name, r in (("1 replica", one), (f"{count} replicas", many)):
        print(row(f"{name}: updates/s; CPU us/update; p50 / p95 ms",
                  f"{r['per_second']:,.0f}; {r['cpu_us']:,.0f}; {r['p50']:,.0f} / "
                  f"{r['p95']:,.0f}"))
    gain = many["per_second"] / one["per_second"]
    print(row(f"  {count} replicas / 1, updates/s", f"{gain:.2f}"))
    print(f"machine: {os.cpu_count()} cores (the database server runs on them too); load "
          f"average after: {load_average()}")
    return 0


def main(args) -> int:
    if args.replicas:
        if not args.db:
            print("--replicas needs --db (a PostgreSQL URL)", file=sys.stderr)
            return 2
        return bench_replicas(args.replicas, args.users, args.latency / 1000, args.db,
                              args.http)
    return asyncio.run(main_async(
        args.users, args.latency / 1000, args.db, args.participants, args.http,
        args.classroom, args.event, args.event_window, args.burst, args.time_scale))


if __name__ == "__main__":
    if sys.argv[1:2] == ["replica"]:
        users, first, latency, db, http = sys.argv[2:7]
        asyncio.run(replica_child(int(users), int(first), float(latency), db, http == "1"))
    else:
        sys.exit(main(None))
