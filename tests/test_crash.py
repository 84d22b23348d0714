"""Crash safety: `python -m bot` as a real process on a real SQLite file, talking HTTP to a local
fake Bot API, killed with SIGKILL at random moments while a user takes the full assessment.

Every answer the bot acknowledged before a kill (it edited the question to the next step) must be
stored afterwards, and the finished assessment's scores must be those computed from the stored
answers. CRASH_KILLS kills (default 3); the long run: `CRASH_KILLS=100 uv run pytest -m crash`.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.domain.flow import Answer, steps_for
from bot.domain.scoring import score
from tests.helpers_domain import at

from .fake_bot_api import BotProcess, FakeBotApi, Message, Step, callbacks, step_of

pytestmark = pytest.mark.crash

KILLS = int(os.environ.get("CRASH_KILLS", "3"))
SEED = int(os.environ.get("CRASH_SEED", "7"))
KILLS_PER_ROUND = 10  # one user per round of the full assessment
FIRST_USER = 1001
IGNORED = ("getUpdates", "sendChatAction")  # calls that do not change what the user sees
SUMMARY = re.compile(r"Your score: ([^/<]+)/100")  # the report's result card (a caption)


@dataclass
class Tap:
    query_id: str
    message_id: int
    data: str
    kind: str
    position: int
    option: str | None


@dataclass
class Stats:
    rounds: int = 0
    pushes: int = 0
    kills: int = 0
    kills_before_ack: int = 0
    acknowledged: int = 0
    lost: int = 0
    report_by_command: int = 0
    notices: dict[str, int] = field(default_factory=dict)


def acknowledged(api: FakeBotApi, user_id: int, tap: Tap, last_position: int) -> int | None:
    """The call number at which the bot acknowledged the tap, or None: the tap was answered
    without a notice and the very next thing the bot did was to edit the tapped message to the
    next step (or, after the last item, to a message without question buttons: the report)."""
    calls = [c for c in api.snapshot() if c.method not in IGNORED
             and int(c.params.get("chat_id", user_id)) == user_id]
    index = next((n for n, c in enumerate(calls) if c.method == "answerCallbackQuery"
                  and c.params.get("callback_query_id") == tap.query_id), None)
    if index is None or calls[index].params.get("text") or index + 1 >= len(calls):
        return None
    edit = calls[index + 1]
    if edit.method != "editMessageText" or int(edit.params.get("chat_id", 0)) != user_id \
            or int(edit.params.get("message_id", 0)) != tap.message_id:
        return None
    shown = step_of(edit.params.get("reply_markup"))
    if shown is None:
        return edit.seq if tap.position == last_position else None
    moved = shown.position > tap.position or (
        tap.kind == "ans" and shown.position == tap.position and "ev" in shown.kinds)
    return edit.seq if moved else None


class User:
    """Reads the newest screen and taps what a seeded RNG picks, like a person would."""

    def __init__(self, api: FakeBotApi, user_id: int, rng: random.Random, stats: Stats):
        self.api, self.id, self.rng, self.stats = api, user_id, rng, stats
        self.assessment_id: int | None = None
        self.taps: list[Tap] = []

    # --- what the user sees -------------------------------------------------------------------
    def question(self) -> Message | None:
        for m in reversed(self.api.chat(self.id)):
            step = step_of(m)
            if step is not None and step.assessment_id == self.assessment_id:
                return m
        return None

    def report(self) -> Message | None:
        """The report's priorities message (with the Full report button) of this assessment."""
        return self.api.last_with_buttons(self.id, f"doc:{self.assessment_id}")

    def overall_shown(self) -> str:
        """The overall score in the newest summary the user received."""
        scores = [m.group(1) for m in map(SUMMARY.search, self.api.chat_texts(self.id)) if m]
        assert scores, "no summary arrived"
        return scores[-1]

    # --- what the user does -------------------------------------------------------------------
    def push(self, message: Message, data: str) -> Tap:
        query_id = self.api.tap(self.id, message.message_id, data)
        parts = data.split(":")
        kind = parts[0]
        position = int(parts[2]) if len(parts) > 2 else -1
        option = parts[3] if len(parts) > 3 else None
        tap = Tap(query_id, message.message_id, data, kind, position, option)
        self.taps.append(tap)
        self.stats.pushes += 1
        return tap

    def settle(self, tap: Tap, timeout: float = 20.0) -> None:
        """Wait until the tap was answered and what it changed is on screen."""
        answer = self.api.wait(lambda: self.api.answer_of(tap.query_id), timeout,
                               f"an answer to {tap.data}")
        notice = answer.params.get("text")
        if notice:
            self.stats.notices[notice] = self.stats.notices.get(notice, 0) + 1
        try:
            update = self.api.wait(lambda: next(
                (c for c in self.api.calls if c.seq > answer.seq and c.method not in IGNORED
                 and int(c.params.get("chat_id", self.id)) == self.id), None),
                2.0, "a screen update")
        except TimeoutError:
            if not notice:
                raise
            # A notice and nothing else: the screen may be out of date. Ask for it again.
            self.refresh()
            return
        report_ready = update.method == "editMessageText" and step_of(
            update.params.get("reply_markup")) is None
        summary = update.method in ("sendMessage", "sendPhoto") and SUMMARY.search(
            str(update.params.get("text") or update.params.get("caption") or ""))
        if report_ready or summary:
            self.api.wait(self.report, timeout, "the report")

    def begin(self, mode: str = "full") -> None:
        """/start, then Full assessment: the welcome turns into the first question."""
        self.api.send_text(self.id, "/start")
        welcome = self.api.wait(lambda: self.api.last_with_buttons(self.id, f"new:{mode}"),
                                what="the welcome")
        query_id = self.api.tap(self.id, welcome.message_id, f"new:{mode}")
        self.api.wait(lambda: self.api.answer_of(query_id), what=f"an answer to new:{mode}")
        first = self.api.wait(lambda: next(
            (step_of(m) for m in self.api.chat(self.id) if step_of(m)), None),
            what="the first question")
        self.assessment_id = first.assessment_id

    def refresh(self, resume: bool = True) -> None:
        """/start, then Continue (or, with resume=False, back to the old question message)."""
        before = {m.message_id for m in self.api.chat(self.id)}
        self.api.send_text(self.id, "/start")

        def welcome_or_report():
            if self.report() is not None:
                return "report"
            return next((m for m in self.api.chat(self.id) if m.message_id not in before
                         and any(d.startswith("new:") for _, d in callbacks(m))), None)

        shown = self.api.wait(welcome_or_report, 20.0, "the answer to /start")
        if shown == "report":
            return
        go = [d for _, d in callbacks(shown) if d.startswith("go:")]
        if not go:
            # No open assessment, and no report: it was finished and stored, but the process
            # died before the report went out. /report sends it.
            self.stats.report_by_command += 1
            self.api.send_text(self.id, "/report")
            self.api.wait(self.report, 20.0, "the report after /report")
            return
        if resume:
            tap = self.push(shown, go[0])
            self.settle(tap)

    def answer(self, pick=None) -> Tap:
        """Tap an answer on the question on screen (`pick`: the n-th answer button, else the
        RNG's choice) and wait for its effect."""
        message = self.question()
        step = step_of(message)
        data = step.buttons[pick][1] if pick is not None else self.choose(step)
        tap = self.push(message, data)
        self.settle(tap)
        return tap

    def answer_context(self) -> None:
        while "ctx" in step_of(self.question()).kinds:
            self.answer()

    def choose(self, step: Step) -> str:
        datas = [d for _, d in step.buttons]
        if "ev" in step.kinds:
            return self.rng.choice([d for d in datas if d.startswith("ev:")])
        if "ok" in step.kinds:  # several choices, then Done
            options = [(label, d) for label, d in step.buttons if d.startswith("ctx:")]
            chosen = [d for label, d in options if label.startswith("✅")]
            free = [d for label, d in options if not label.startswith("✅")]
            if free and (not chosen or (len(chosen) < 2 and self.rng.random() < 0.4)):
                return self.rng.choice(free)
            return next(d for d in datas if d.startswith("ok:"))
        if "ctx" in step.kinds:
            return self.rng.choice(datas)
        unsure = [d for d in datas if d.endswith(":unsure")]
        na = [d for d in datas if d.endswith(":na")]
        scored = [d for d in datas if d not in unsure and d not in na]
        roll = self.rng.random()
        if roll < 0.12 and unsure:
            return unsure[0]
        if roll < 0.2 and na:
            return na[0]
        return self.rng.choice(scored)


def take_assessment(api: FakeBotApi, bot: BotProcess, user: User, kills: int,
                    last_position: int) -> None:
    """The full assessment with `kills` SIGKILLs after randomly chosen taps."""
    rng, stats = user.rng, user.stats
    user.begin()
    kill_after = set(rng.sample(range(1, 31), kills))  # ~30 taps: 24 items, context, evidence
    pushes = 0
    while user.report() is None:
        message = user.question()
        assert message is not None, "no question on screen and no report"
        tap = user.push(message, user.choose(step_of(message)))
        pushes += 1
        assert pushes < 400, "the user is stuck"
        if pushes not in kill_after:
            user.settle(tap)
            continue
        time.sleep(rng.uniform(0.0, 0.5))  # a tap takes ~0.1-0.2 s: before or after its ack
        before_ack = acknowledged(api, user.id, tap, last_position) is None
        bot.kill()
        stats.kills += 1
        stats.kills_before_ack += before_ack
        bot.start()
        # Back to it: /start and Continue, or straight back to the old question message.
        user.refresh(resume=rng.random() < 0.6)


def read_database(path: Path, user_id: int, mode: str) -> tuple[dict, dict, dict]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT id, status, mode, scores FROM assessments WHERE user_id = ?",
                          (user_id,)).fetchall()
        assert len(rows) == 1, f"one assessment per user, not {rows}"
        aid, status, stored_mode, scores = rows[0]
        assert (status, stored_mode) == ("finished", mode)
        answers = {item: Answer(option, None if evidence is None else bool(evidence))
                   for item, option, evidence in db.execute(
                       "SELECT item_id, option_id, evidence FROM answers WHERE assessment_id = ?",
                       (aid,))}
        context = {question: tuple(o for o in options.split(",") if o)
                   for question, options in db.execute(
                       "SELECT question_id, options FROM context_answers "
                       "WHERE assessment_id = ?", (aid,))}
    return json.loads(scores), answers, context


def last_asked(bank, mode: str) -> int:
    """The position of the last question a mode asks (later candidates of a quick check are
    stand-ins that are not asked)."""
    last = bank.items_for(mode)[-1]
    return next(s.position for s in steps_for(bank, mode) if s.item is last)


def check_round(api: FakeBotApi, user: User, database: Path, content, stats: Stats,
                mode: str = "full") -> None:
    """Every acknowledged answer is stored; the stored scores are those of the stored answers;
    the summary the user received shows them."""
    steps = steps_for(content.bank, mode)
    last_position = last_asked(content.bank, mode)
    stored_scores, answers, context = read_database(database, user.id, mode)
    assert len(answers) == len(content.bank.items_for(mode)), "every item is stored"

    # The latest acknowledged answer of each item (Back is never tapped).
    acked: list[tuple[int, Tap]] = []
    for tap in user.taps:
        if tap.kind in ("ans", "ev"):
            seq = acknowledged(api, user.id, tap, last_position)
            if seq is not None:
                acked.append((seq, tap))
    options: dict[int, str] = {}
    evidence: dict[int, bool] = {}
    for _, tap in sorted(acked, key=lambda pair: pair[0]):
        if tap.kind == "ans":
            options[tap.position] = tap.option
            evidence.pop(tap.position, None)
        else:
            evidence[tap.position] = tap.option == "y"
    stats.acknowledged += len(acked)
    lost = [(position, option) for position, option in options.items()
            if answers.get(steps[position].item.id, Answer("-")).option_id != option]
    lost += [(position, shown) for position, shown in evidence.items()
             if answers.get(steps[position].item.id, Answer("-")).evidence is not shown]
    stats.lost += len(lost)
    assert not lost, f"acknowledged but not stored: {lost}"

    result = score(content.bank, mode, answers, context)
    assert stored_scores == json.loads(json.dumps(result.as_snapshot())), \
        "the stored scores are those of the stored answers"
    assert user.overall_shown() == f"{result.overall:.0f}", "the summary shows the stored score"


def test_sigkill_mid_assessment_loses_no_acknowledged_answer(api, bot, content, tmp_path):
    stats = Stats()
    rng = random.Random(SEED)
    last_position = last_asked(content.bank, "full")
    started = time.monotonic()
    bot.start()
    remaining = KILLS
    users = []
    while remaining > 0 or not users:
        kills = min(remaining, KILLS_PER_ROUND)
        user = User(api, FIRST_USER + len(users), rng, stats)
        take_assessment(api, bot, user, kills, last_position)
        users.append(user)
        remaining -= kills
        stats.rounds += 1
    assert bot.terminate() == 0, f"SIGTERM at the end: exit 0\n{bot.log()}"
    for user in users:
        check_round(api, user, tmp_path / "bot.db", content, stats)
    assert stats.kills == KILLS and stats.lost == 0
    assert not api.unknown, f"the bot called methods the fake does not know: {api.unknown}"
    print(f"\ncrash: {stats.kills} kills ({stats.kills_before_ack} before the tap's ack), "
          f"{stats.rounds} full assessments, {stats.pushes} taps, {stats.acknowledged} "
          f"acknowledged answers, {stats.lost} lost, {stats.report_by_command} reports "
          f"fetched with /report, notices {stats.notices}, {bot.starts} starts, "
          f"{time.monotonic() - started:.1f} s")


def stored_answers(database: Path, user_id: int) -> dict[str, str]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        return dict(db.execute(
            "SELECT item_id, option_id FROM answers JOIN assessments "
            "ON assessments.id = answers.assessment_id WHERE user_id = ?", (user_id,)))


def test_kills_in_the_two_narrow_windows(api, bot, content, tmp_path):
    """Deterministic: killed after an answer was stored but before the bot replied, and after
    the assessment was finished but before the report went out. Either way the update was in the
    inbox: after the restart it is processed again, writes nothing twice and sends what it had
    not sent."""
    database = tmp_path / "bot.db"
    last_position = last_asked(content.bank, "quick")
    stats = Stats()
    bot.start()
    user = User(api, 2001, random.Random(SEED), stats)
    user.begin("quick")
    user.answer_context()
    question = user.question()
    assert at(1, 8) in question.text

    # 1. The answer is stored; the process dies before answering the tap or editing the message.
    held = api.hold("answerCallbackQuery")
    first = user.push(question, step_of(question).buttons[0][1])  # score 0: no evidence check
    held.wait()
    bot.kill()
    held.release(deliver=False)
    assert at(1, 8) in api.message(user.id, question.message_id).text, "nothing was edited"
    bot.start()
    # The update in flight is taken up again from the inbox: it finds its answer stored (not
    # written twice) and shows the next question, without the user tapping again.
    api.wait(lambda: at(2, 8) in api.message(user.id, question.message_id).text, 20,
             "the tap taken up again")
    assert len(stored_answers(database, user.id)) == 1
    # The user taps the same answer again on the same, unchanged question.
    again = user.push(question, first.data)
    user.settle(again)
    assert api.answer_of(again.query_id).params.get("text") == "Already saved."
    assert at(2, 8) in api.message(user.id, question.message_id).text, \
        "the next question is shown, not the old one again"
    assert len(stored_answers(database, user.id)) == 1, "and the answer was not written twice"

    # 2. The last answer finishes the assessment; the process dies before the result card (the
    # chart's caption, the report's first message) is sent.
    while step_of(user.question()).position < last_position:
        user.answer()
    held = api.hold("sendPhoto", lambda params: SUMMARY.search(params.get("caption", "")))
    user.push(user.question(), user.choose(step_of(user.question())))
    held.wait()
    bot.kill()
    held.release(deliver=False)
    assert not any(SUMMARY.search(t) for t in api.chat_texts(user.id)), "no report yet"
    bot.start()
    # The last tap is taken up again: the assessment was closed with it, and the report it had
    # not sent goes out now.
    api.wait(user.report, 20, "the report, sent by the tap taken up again")
    assert bot.terminate() == 0
    check_round(api, user, database, content, stats, mode="quick")


def test_sigterm_finishes_what_is_in_flight_and_exits_0(api, bot, content, tmp_path):
    database = tmp_path / "bot.db"
    bot.start()
    user = User(api, 3001, random.Random(SEED), Stats())
    user.begin("quick")
    user.answer_context()
    done = user.answer(0)  # score 0: no evidence check
    # A tap is being processed (stored, its answer held) and another user's /start was fetched
    # (its reply held) when SIGTERM arrives.
    tap_held = api.hold("answerCallbackQuery")
    tap = user.push(user.question(), step_of(user.question()).buttons[0][1])
    tap_held.wait()
    welcome_held = api.hold("sendMessage", lambda params: params.get("chat_id") == "3002")
    api.send_text(3002, "/start")
    welcome_held.wait()
    bot.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)  # the bot is stopping now, with both updates in flight
    tap_held.release()
    welcome_held.release()
    assert bot.proc.wait(30) == 0, f"a graceful stop exits 0\n{bot.log()}"
    assert acknowledged(api, user.id, tap, -1) is not None, "the tap in flight was finished"
    assert at(3, 8) in api.message(user.id, tap.message_id).text
    assert api.last_with_buttons(3002, "new:"), "the other user got the welcome"
    steps = steps_for(content.bank, "quick")
    assert stored_answers(database, user.id) == {
        steps[done.position].item.id: done.option, steps[tap.position].item.id: tap.option}
