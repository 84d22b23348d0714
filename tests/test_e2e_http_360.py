"""The 360° check end to end over HTTP: `python -m bot` as a process, long polling a local fake
Bot API; an owner, 3 staff and 5 customers, each tapping as a person would; the owner's report
then has three shapes (you, team, customers) and the gap first."""

from __future__ import annotations

import html
import re

from .fake_bot_api import Call, FakeBotApi, Message, callbacks
from .test_feedback_report import shape_pixels

OWNER, STAFF, CUSTOMERS = 5001, (5101, 5102, 5103), (5201, 5202, 5203, 5204, 5205)
SHOWN = ("editMessageText", "sendMessage", "sendPhoto", "sendDocument")
LINK = re.compile(r"start=([tp]_[A-Za-z0-9_-]+)")


def _shown_after(api: FakeBotApi, user: int, seq: int, what: str) -> Call:
    return api.wait(lambda: next((c for c in api.snapshot() if c.seq > seq and c.method in SHOWN
                                  and c.params.get("chat_id") in (user, str(user))), None),
                    what=what)


def press(api: FakeBotApi, user: int, message: Message, data: str) -> Call:
    """Tap a button; wait for the tap's answer and for what it shows in this chat."""
    query_id = api.tap(user, message.message_id, data)
    answer = api.wait(lambda: api.answer_of(query_id), what=f"an answer to {data!r}")
    return _shown_after(api, user, answer.seq, f"what {data!r} shows")


def tap(api: FakeBotApi, user: int, label: str) -> Call:
    """Tap the newest button whose label contains `label`."""
    found = [(m, data) for m in reversed(api.chat(user))
             for text, data in callbacks(m) if label in text]
    assert found, f"{user}: no button {label!r}"
    return press(api, user, *found[0])


def say(api: FakeBotApi, user: int, text: str) -> Call:
    mark = api.last_seq
    api.send_text(user, text)
    return _shown_after(api, user, mark, f"the answer to {text!r}")


def answer_items(api: FakeBotApi, user: int, option: str, evidence: str) -> None:
    """Answer every item question with the option numbered `option` ("4. ") and every
    evidence check with `evidence`, until no question is left on screen."""
    for _ in range(80):
        question = api.last_with_buttons(user, "ans:")
        check = api.last_with_buttons(user, "ev:")
        if check is not None and (question is None or check.message_id >= question.message_id):
            press(api, user, check, next(d for t, d in callbacks(check) if evidence in t))
        elif question is not None:
            press(api, user, question, next(d for t, d in callbacks(question)
                                            if t.startswith(option)))
        else:
            return
    raise AssertionError("the assessment never ended")


def test_an_owner_a_team_and_customers_over_http(api, bot):
    bot.start()
    # The owner: the quick check, rating the business high (the fourth of five options).
    say(api, OWNER, "/start")
    tap(api, OWNER, "Quick check")
    for label in ("Café", "2-5", "In person", "Done", "Easy to buy", "Done"):
        tap(api, OWNER, label)
    answer_items(api, OWNER, "4. ", "Yes, every one")
    first = api.wait(lambda: api.called("sendPhoto"), what="the report")[-1]
    assert "dotted" not in html.unescape(first.params["caption"])

    say(api, OWNER, "/customers")
    assert "What name" in tap(api, OWNER, "Create the link").params["text"]
    say(api, OWNER, "Mei's Café")
    api.wait(lambda: api.called("sendPhoto", after=first.seq), what="the counter card")
    card = LINK.search("\n".join(api.chat_texts(OWNER)[-3:])).group(1)
    say(api, OWNER, "/team")
    team = LINK.search(tap(api, OWNER, "Create the link").params["text"]).group(1)

    for user in STAFF:  # the same questions about the business, a middling view
        assert "Mei's Café" in html.unescape(say(api, user, f"/start {team}").params["text"])
        tap(api, user, "Start")
        answer_items(api, user, "3. ", "Not every one")
        assert "team's average" in api.chat_texts(user)[-1]
    for n, user in enumerate(CUSTOMERS):  # what customers experienced: less than the owner
        say(api, user, f"/start {card}")
        tap(api, user, "Start")
        for _ in range(8):
            question = api.last_with_buttons(user, "pu:")
            press(api, user, question, [d for _, d in callbacks(question)
                                        if d.startswith("pu:")][2 + n % 2])
        tap(api, user, "7")

    mark = api.last_seq
    api.send_text(OWNER, "/report")
    photo = api.wait(lambda: api.called("sendPhoto", after=mark), what="the report")[-1]
    caption = html.unescape(photo.params["caption"])
    assert "dashed: your team's average (3 answers)" in caption
    assert "dotted: your customers' average (5 answers)" in caption
    assert "Biggest gap:" in caption
    pixels = shape_pixels(photo.files["photo"][1])
    assert pixels["dashed"] > 400 and pixels["dotted"] > 400, pixels
    first_priority = tap(api, OWNER, "🎯").params["text"]
    assert re.search(r"You rated [\w ]+ \d+; your customers \d+ \(5 answers\)",
                     html.unescape(first_priority)), first_priority
    # Nobody's id reaches the owner.
    everything = "\n".join(api.chat_texts(OWNER)) + caption
    assert not any(str(u) in everything for u in STAFF + CUSTOMERS)
