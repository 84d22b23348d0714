"""End to end over HTTP: `python -m bot` as a process, long polling a local fake Bot API, and a user
who takes the quick check and gets the summary, the chart, the full report and their data."""

from __future__ import annotations

import io
import json

from PIL import Image
from pypdf import PdfReader

from tests.helpers_domain import at

from .fake_bot_api import Call, FakeBotApi, callbacks

USER = 4001
SHOWN = ("editMessageText", "sendMessage", "sendPhoto", "sendDocument")


def tap(api: FakeBotApi, label: str) -> Call:
    """Tap the newest button whose label starts with `label`, like a user; what it showed."""
    found = [(m, data) for m in reversed(api.chat(USER))
             for text, data in callbacks(m) if text.startswith(label)]
    assert found, f"no button {label!r} on screen"
    message, data = found[0]
    query_id = api.tap(USER, message.message_id, data)
    answer = api.wait(lambda: api.answer_of(query_id), what=f"an answer to {label!r}")
    assert not answer.params.get("text"), answer.params["text"]
    return api.wait(lambda: next((c for c in api.snapshot()
                                  if c.seq > answer.seq and c.method in SHOWN), None),
                    what=f"what {label!r} shows")


def command(api: FakeBotApi, text: str, method: str = "sendMessage") -> Call:
    mark = api.last_seq
    api.send_text(USER, text)
    return api.wait(lambda: next(iter(api.called(method, after=mark)), None),
                    what=f"the answer to {text}")


def test_quick_check_over_http(api, bot):
    bot.start()
    assert api.called("setMyCommands"), "the command menu was set"
    welcome = command(api, "/start")
    assert "Hello, Ann!" in welcome.params["text"]

    assert "What kind of business" in tap(api, "Quick check").params["text"]
    for label in ("Café", "2-5", "In person", "Marketplaces", "Done", "Easy to buy",
                  "Done"):  # the long option ids ("marketplace") too
        shown = tap(api, label)
    assert at(1, 8) in shown.params["text"]  # after the four business questions: 5/12
    for number in range(1, 9):
        question = api.last_with_buttons(USER, "ans:")
        assert at(number, 8) in question.text
        tap(api, "2. ")  # the second option of each item: score 1, no evidence check
    done = api.message(USER, question.message_id)
    assert "report" in done.text and not callbacks(done), "the question became 'here it is'"

    report = api.wait(lambda: api.last_with_buttons(USER, "doc:"), what="the report")
    photo = api.called("sendPhoto")[-1]  # the chart, the result card its caption: alone
    chart = Image.open(io.BytesIO(photo.files["photo"][1]))
    assert (chart.format, chart.size) == ("JPEG", (1080, 1080)), "a phone-sized JPEG photo"
    assert "Your score: 25/100" in photo.params["caption"]  # every answer scores 1 of 4
    assert "Trust Index" in photo.params["caption"] and report.text == photo.params["caption"]
    assert not [c for c in api.called("sendMessage") if c.seq > photo.seq]
    first = tap(api, "🎯 Your top 3 priorities")  # one at a time, behind the card's button
    assert first.method == "sendMessage" and "Priority 1 of 3" in first.params["text"]

    document = tap(api, "📄 Full report")
    assert document.method == "sendDocument"
    name, body = document.files["document"]
    assert name.endswith(".pdf") and body.startswith(b"%PDF-")
    cover = PdfReader(io.BytesIO(body)).pages[0].extract_text()
    assert "Trust Index" in cover and "25" in cover

    export = command(api, "/export", "sendDocument")
    name, body = export.files["document"]
    data = json.loads(body)
    assert name.endswith(".json") and data["user"]["telegram_id"] == USER
    (assessment,) = data["assessments"]
    assert assessment["status"] == "finished" and len(assessment["answers"]) == 8
    assert assessment["context"] == {"sector": ["cafe"], "team": ["t2_5"],
                                     "channels": ["in_person", "marketplace"],
                                     "priorities": ["customer_perspective"]}
    assert assessment["scores"]["overall"] == 25.0

    assert bot.terminate() == 0, bot.log()
    assert not api.unknown, f"the bot called methods the fake does not know: {api.unknown}"
