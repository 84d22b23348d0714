"""Trainers and cohorts, driven through the real Application on a real SQLite file."""

from __future__ import annotations

import csv
import io
import re

import pytest

from bot.cohorts import CODE_RE, MIN_GROUP
from bot.storage.cohorts import CohortStore

from .conftest import Person, make_app
from .fakes import buttons
from .test_conversation import answer_context

TRAINER = 900
LINK = re.compile(r"https://t\.me/trust_cx_bot\?start=(c_[A-Za-z0-9_-]+)")


def uploads(telegram, chat_id: int, method: str) -> list[bytes]:
    """The files sent to this chat with sendPhoto / sendDocument."""
    out = []
    for call in telegram.called(method):
        if int(call.params["chat_id"]) == chat_id:
            out += [payload for _name, payload, _mime in call.files.values()]
    return out


async def new_cohort(t: Person, name: str = "Café owners, spring") -> str:
    """/trainer, New cohort, type the name: three steps to the link and QR code."""
    await t.send("/trainer")
    await t.tap("New cohort")
    await t.send(name)
    return LINK.search(t.texts[-2]).group(1)  # the link message, then the QR photo


async def finish_quick(p: Person, option: int | tuple[int, ...] = 1) -> None:
    """The quick check to the report: from the start screen, or straight after joining (the
    cohort's mode is quick unless a test says otherwise)."""
    if any("Quick check" in label for label, _ in buttons(p.screen)):
        await p.tap("Quick check")
    if any("the same" in label for label, _ in buttons(p.screen)):
        await p.tap("the same")  # a retake: the same business as last time
    else:
        await answer_context(p)
    for n in range(8):
        await p.tap(option if isinstance(option, int) else option[n])


async def join(p: Person, payload: str, consent: str = "share") -> None:
    await p.send(f"/start {payload}")
    await p.tap({"share": "Share my scores", "aggregate": "Averages only",
                 "no": "Don't join"}[consent])


async def participants(person, payload: str, count: int, first_id: int = 1000,
                       consent: str = "share", option: int | tuple[int, ...] = 1
                       ) -> list[Person]:
    people = []
    for n in range(count):
        p = person(first_id + n)
        await join(p, payload, consent)
        await finish_quick(p, option)
        people.append(p)
    return people


async def dashboard(t: Person) -> str:
    await t.send("/trainer")
    await t.tap("My cohorts")
    await t.tap(0)
    return t.screen.text


async def the_cohort(store, owner: int = TRAINER):
    return (await CohortStore(store.engine).owned(owner))[0]


# --- creating a cohort -------------------------------------------------------------------------
async def test_three_steps_to_a_link_and_a_qr_code(person, telegram, store):
    t = person(TRAINER, first_name="Mei")
    payload = await new_cohort(t)
    assert len(payload) <= 64 and payload.startswith("c_")
    code = payload[2:]
    assert CODE_RE.match(code) and len(code) >= 22  # 22 base64url characters: 128 random bits
    photo, = uploads(telegram, TRAINER, "sendPhoto")
    assert photo.startswith(b"\x89PNG")
    cohort = await the_cohort(store)
    assert (cohort.name, cohort.trainer_name, cohort.code) == ("Café owners, spring", "Mei", code)
    second = await new_cohort(t, "Autumn")
    assert second != payload


async def test_a_bad_name_is_asked_again_and_plain_text_is_left_alone(person, store):
    t = person(TRAINER)
    await t.send("/trainer")
    await t.tap("New cohort")
    await t.send("x" * 61)
    assert "1 to 60 characters" in t.texts[-1]
    await t.tap("Cancel")
    await t.send("hello")  # no longer a name: the normal hint
    assert "/start" in t.texts[-1]
    assert await CohortStore(store.engine).owned(TRAINER) == []


async def test_trainer_ids_restricts_who_creates(content, store, telegram):
    app = await make_app(content, store, telegram, trainer_ids=[TRAINER])
    try:
        outsider = Person(app, telegram, 901)
        await outsider.send("/trainer")
        assert "limited to the trainers" in outsider.texts[-1]
        await outsider.send("/start")
        await outsider.press("tr:new")  # forged
        assert "limited" in telegram.callback_answers()[-1]["text"]
        await outsider.send("My sneaky cohort")
        assert await CohortStore(store.engine).owned(901) == []
        trainer = Person(app, telegram, TRAINER)
        assert (await new_cohort(trainer)).startswith("c_")
    finally:
        await app.shutdown()


async def test_an_admin_may_open_any_cohort(content, store, telegram):
    app = await make_app(content, store, telegram, admin_ids=[902])
    try:
        await new_cohort(Person(app, telegram, TRAINER))
        cohort = await the_cohort(store)
        admin = Person(app, telegram, 902)
        await admin.send("/start")
        await admin.press(f"tr:dash:{cohort.id}")
        assert "Café owners, spring" in admin.screen.text and "Joined 0" in admin.screen.text
    finally:
        await app.shutdown()


# --- joining -----------------------------------------------------------------------------------
async def test_joining_with_each_consent(person, telegram, store):
    t = person(TRAINER, first_name="Mei")
    payload = await new_cohort(t)
    cohort = await the_cohort(store)
    cohorts = CohortStore(store.engine)
    sharer, averager, decliner = person(1001), person(1002), person(1003)
    await sharer.send(f"/start {payload}")
    assert "Mei" in sharer.texts[-1] and "Café owners, spring" in sharer.texts[-1]
    await sharer.tap("Share my scores")
    assert "will see your scores" in sharer.texts[-2] and "Quick check" in sharer.texts[-2]
    record = await store.open_assessment(sharer.id)  # straight into the cohort's assessment
    assert record.state.mode == "quick" and record.message_id == sharer.screen.message_id
    await join(averager, payload, "aggregate")
    assert "only group averages" in averager.texts[-2]
    await join(decliner, payload, "no")
    assert "did not join" in decliner.texts[-2]
    assert await cohorts.membership(cohort.id, sharer.id) == "share"
    assert await cohorts.membership(cohort.id, averager.id) == "aggregate"
    assert await cohorts.membership(cohort.id, decliner.id) is None
    for p in (sharer, averager, decliner):
        await finish_quick(p)
    text = await dashboard(t)
    assert "Joined 2 · started 2 · finished 2\nShare my scores: 1 · Averages only: 1" in text
    assert "Group results appear once 5 participants are counted: 1 of 2 finished" in text
    await t.tap("CSV")
    data = uploads(telegram, TRAINER, "sendDocument")[-1].decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(data)))
    shared = [r for r in rows[1:] if r and r[0].isdigit()]
    assert len(shared) == 1  # the sharer's row only; the averager counts but has no row
    export = await store.export_user(averager.id)
    assert export["cohort_memberships"][0]["consent"] == "aggregate"


async def test_unknown_code_gets_a_clear_message_and_the_normal_start(person):
    p = person(1001)
    await p.send("/start c_AAAAAAAAAAAAAAAAAAAAAA")
    assert "not valid, or the group is closed" in p.texts[-2]
    assert "Hello, Ann!" in p.texts[-1]


async def test_a_closed_cohort_refuses_joins(person, store):
    t = person(TRAINER)
    payload = await new_cohort(t)
    early = person(1001)
    await early.send(f"/start {payload}")  # sees the consent question before the close
    await dashboard(t)
    await t.tap("Close cohort")
    await t.tap("Yes, close it")
    cohort = await the_cohort(store)
    assert not cohort.open
    late = person(1002)
    await late.send(f"/start {payload}")
    assert "closed" in late.texts[-2] and "Hello" in late.texts[-1]
    await early.tap("Share my scores")
    assert "closed" in early.texts[-2]
    cohorts = CohortStore(store.engine)
    assert await cohorts.membership(cohort.id, late.id) is None
    assert await cohorts.membership(cohort.id, early.id) is None


async def test_a_participant_leaves_from_privacy(person, store):
    t = person(TRAINER)
    payload = await new_cohort(t)
    p = person(1001)
    await join(p, payload)
    await p.send("/privacy")
    assert "Café owners, spring" in p.texts[-1] and "cohort memberships" in p.texts[-1]
    await p.tap("Leave")
    assert "You left" in p.texts[-1]
    cohort = await the_cohort(store)
    assert await CohortStore(store.engine).membership(cohort.id, p.id) is None
    await p.send("/privacy")
    assert "cohort memberships" not in p.texts[-1]
    assert "Joined 0" in await dashboard(t)


# --- who sees what ------------------------------------------------------------------------------
async def test_aggregates_hidden_below_five_and_shown_at_five(person, telegram, store):
    t = person(TRAINER)
    payload = await new_cohort(t)
    people = await participants(person, payload, MIN_GROUP - 1)
    text = await dashboard(t)
    assert "finished 4" in text and "4 of 4 finished so far, 1 more sharing participant" in text
    assert "Group average" not in text and "Weakest" not in text
    assert not any("Chart" in label for label, _ in buttons(t.screen))
    photos = len(uploads(telegram, TRAINER, "sendPhoto"))  # only the QR code so far
    await t.tap("CSV")
    data = uploads(telegram, TRAINER, "sendDocument")[-1].decode("utf-8-sig")
    assert "average_latest" not in data
    assert "No averages yet: fewer than 5 counted,4,average_hidden" in data
    last_caption = telegram.called("sendPhoto")[-1].params["caption"]
    assert "group average" not in last_caption  # the 4th participant: no overlay yet

    # the 5th answers integrity one level higher and emotion one lower: a weakest area
    people += await participants(person, payload, 1, first_id=1004,
                                 option=(2, 1, 1, 1, 1, 1, 1, 0))
    caption = telegram.called("sendPhoto")[-1].params["caption"]
    assert int(telegram.called("sendPhoto")[-1].params["chat_id"]) == people[-1].id
    assert "dotted: the group average" in caption  # the 5th participant's own report

    text = await dashboard(t)
    assert "finished 5" in text and "Group average" in text
    assert "Overall <b>25</b>" in text and "Weakest:" in text
    assert len(uploads(telegram, TRAINER, "sendPhoto")) == photos  # the chart: on request
    await t.tap("Workshop ideas")
    workshops = "\n".join(t.texts[-3:])
    assert "Workshop ideas" in workshops and "(article 00" in workshops
    for locale, words in (("zh-Hans", "小组平均"), ("zh-Hant", "小組平均"),
                          ("en", "Group average")):
        await store.set_language(TRAINER, locale)
        await t.tap(0)  # refresh
        assert words in t.screen.text


async def test_a_sixth_users_forged_taps_change_and_reveal_nothing(person, telegram, store):
    t = person(TRAINER)
    payload = await new_cohort(t)
    await participants(person, payload, MIN_GROUP)
    cohort = await the_cohort(store)
    attacker = person(1666)
    await attacker.send("/start")
    before = len(telegram.calls)
    for kind in ("dash", "csv", "qr", "ren", "close", "closeok"):
        await attacker.press(f"tr:{kind}:{cohort.id}")
    await attacker.send("Renamed by someone else")
    after = telegram.calls[before:]
    assert not [c for c in after if c.method in ("sendDocument", "sendPhoto")]
    shown = " ".join(str(c.params.get("text", "")) for c in after)
    assert "Group average" not in shown and "Joined" not in shown and "Café" not in shown
    answers = [c.params.get("text") for c in after if c.method == "answerCallbackQuery"]
    assert answers == ["That choice is not available here."] * 6
    unchanged = await the_cohort(store)
    assert (unchanged.name, unchanged.status) == ("Café owners, spring", "open")
    assert "Group average" in await dashboard(t)  # the owner still sees it


async def test_csv_columns_bom_and_chinese(person, telegram, store, content):
    t = person(TRAINER, language_code="zh-hans")
    await t.send("/trainer")
    await t.tap("新建小组")
    await t.send("春季班")
    payload = LINK.search(t.texts[-2]).group(1)
    await participants(person, payload, MIN_GROUP)
    await t.send("/trainer")
    await t.tap("我的小组")
    await t.tap(0)
    await t.tap("CSV")
    raw = uploads(telegram, TRAINER, "sendDocument")[-1]
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    bank = content.bank
    zh = content.texts["zh-Hans"].model
    assert rows[0][:3] == ["学员", "测评", "日期（UTC）"]
    assert rows[0][5:] == [*(zh["context"][q.id]["short"].rstrip("：") for q in bank.context),
                           *(zh["dimensions"][d]["name"] for d in bank.dimensions),
                           zh["indices"]["trust"], zh["indices"]["cx"], "总分"]
    assert rows[1] == ["participant", "assessment", "date", "language", "mode",
                       *(q.id for q in bank.context), *bank.dimensions, "trust", "cx", "overall"]
    data = [r for r in rows[2:] if r and r[0].isdigit()]
    assert len(data) == MIN_GROUP
    sector = rows[1].index("sector")
    cafe = content.texts["zh-Hans"].model["context"]["sector"]["options"]["cafe"]
    assert "咖啡" in cafe and {r[sector] for r in data} == {cafe}  # they tapped "Café"
    assert {r[rows[1].index("integrity")] for r in data} == {"25.0"}
    assert {r[4] for r in data} == {"quick"} and {r[3] for r in data} == {"en"}
    block = rows.index(["小组数据", "人数", "编号"])
    assert rows[block + 1] == ["aggregate", "participants", "key"]
    average = next(r for r in rows if r[2:3] == ["average_latest"])
    assert average[:2] == ["最近一次结果的平均", str(MIN_GROUP)]
    assert average[rows[1].index("overall")] == "25.0"
    caption = telegram.called("sendDocument")[-1].params["caption"]
    assert "按已完成 5 人中的 5 人计算" in caption and "第二行是各列的编号" in caption


async def test_start_of_course_vs_latest(person, store):
    t = person(TRAINER)
    payload = await new_cohort(t)
    people = await participants(person, payload, MIN_GROUP, option=1)  # all 25
    for p in people[:-1]:
        await p.send("/start")
        await finish_quick(p, option=2)  # all 50
    text = await dashboard(t)
    assert "(4 so far)" in text and "Start of course" not in text
    await people[-1].send("/start")
    await finish_quick(people[-1], option=2)
    text = await dashboard(t)
    assert "Start of course → latest</b> (5 participants" in text
    assert "Integrity: ▲ +25" in text and "Overall ▲ +25" in text
    assert "Overall <b>50</b>" in text  # the average of the latest results


async def test_deleting_a_trainer_removes_their_cohorts(person, store):
    t = person(TRAINER)
    payload = await new_cohort(t)
    p = person(1001)
    await join(p, payload)
    await t.send("/delete")
    await t.tap("Yes, delete everything")
    assert await store.count_rows(TRAINER) == 0
    assert await CohortStore(store.engine).memberships(p.id) == []


# --- the dashboard card, made for the room ----------------------------------------------------
def sent(telegram, chat_id: int) -> dict[str, int]:
    """How many messages, photos and documents went to this chat so far."""
    return {m: len([c for c in telegram.called(m) if int(c.params["chat_id"]) == chat_id])
            for m in ("sendMessage", "sendPhoto", "sendDocument")}


async def test_refresh_edits_the_one_card_and_sends_no_new_photo(person, telegram, store):
    t = person(TRAINER)
    payload = await new_cohort(t)
    await participants(person, payload, MIN_GROUP, option=(2, 1, 1, 1, 1, 1, 1, 0))
    await dashboard(t)
    card = t.screen.message_id
    before = sent(telegram, TRAINER)
    edits = len(telegram.called("editMessageText"))
    for _ in range(3):
        await t.tap("Refresh")
    assert sent(telegram, TRAINER) == before  # no chart, no workshop wall, no new card
    assert len(telegram.called("editMessageText")) - edits <= 3
    assert t.screen.message_id == card
    assert telegram.callback_answers()[-1]["text"] == "Updated: 5 finished."
    await participants(person, payload, 1, first_id=1100)  # a sixth finishes meanwhile
    await t.tap("Refresh")
    assert t.screen.message_id == card and "finished 6" in t.screen.text
    assert "averaged over <b>6 of 6</b> finished" in t.screen.text
    assert sent(telegram, TRAINER) == before


async def test_the_chart_and_the_workshop_ideas_are_sent_once_a_tap(person, telegram, store):
    from PIL import Image

    t = person(TRAINER)
    payload = await new_cohort(t, "Café owners, spring")
    await participants(person, payload, MIN_GROUP, option=(2, 1, 1, 1, 1, 1, 1, 0))
    await dashboard(t)
    before = sent(telegram, TRAINER)
    await t.tap("Chart")
    after_chart = sent(telegram, TRAINER)
    assert after_chart == {**before, "sendPhoto": before["sendPhoto"] + 1}
    photo = telegram.called("sendPhoto")[-1]
    assert "Café owners, spring" in photo.params["caption"]
    assert "the group average over 5 of 5 finished" in photo.params["caption"]
    png = uploads(telegram, TRAINER, "sendPhoto")[-1]
    assert Image.open(io.BytesIO(png)).size == (1920, 1080)  # for the projector
    await t.tap("Workshop ideas")
    after_ideas = sent(telegram, TRAINER)
    ideas = after_ideas["sendMessage"] - after_chart["sendMessage"]
    assert ideas >= 1 and after_ideas["sendPhoto"] == after_chart["sendPhoto"]
    assert "Workshop ideas for the room's weakest areas" in t.texts[-ideas]
    await t.tap("Refresh")
    assert sent(telegram, TRAINER) == after_ideas  # neither comes back on a refresh


async def _mixed(person, payload: str, sharing: int, private: int) -> None:
    await participants(person, payload, sharing, first_id=1000,
                       option=(2, 1, 1, 1, 1, 1, 1, 0))
    await participants(person, payload, private, first_id=1100, consent="aggregate")


PRIVACY_ON_THE_CARD = [
    # sharing, averages only: what the dashboard says, in numbers
    (2, 2, ["finished 4\nShare my scores: 2 · Averages only: 2",
            "Group results appear once 5 participants are counted: 2 of 4 finished so far, "
            "3 more sharing participants needed.",
            "2 chose “Averages only”: counted once there are 5 of them (3 more)"]),
    (3, 2, ["finished 5\nShare my scores: 3 · Averages only: 2",
            "3 of 5 finished so far, 2 more sharing participants needed.",
            "2 chose “Averages only”: counted once there are 5 of them (3 more)"]),
    (5, 1, ["finished 6\nShare my scores: 5 · Averages only: 1",
            "<b>Group average</b>: averaged over <b>5 of 6</b> finished",
            "1 chose “Averages only”: counted once there are 5 of them (4 more)"]),
]


@pytest.mark.parametrize("sharing, private, expected", PRIVACY_ON_THE_CARD)
async def test_the_privacy_rule_in_numbers_at_four_five_and_six(person, telegram, store,
                                                               sharing, private, expected):
    t = person(TRAINER)
    payload = await new_cohort(t)
    await _mixed(person, payload, sharing, private)
    text = await dashboard(t)
    for words in expected:
        assert words in text
    visible = sharing >= MIN_GROUP
    assert ("Overall <b>" in text) is visible
    await t.tap("CSV")
    caption = telegram.called("sendDocument")[-1].params["caption"]
    if visible:
        assert f"averaged over 5 of {sharing + private} finished, {private} who chose " \
               "“Averages only” not counted yet" in caption
    else:
        assert f"no averages yet ({sharing} of {sharing + private} finished counted, 5 " \
               "needed)" in caption


async def test_the_cohorts_mode_is_what_participants_get(person, telegram, store):
    t = person(TRAINER)
    payload = await new_cohort(t)
    assert "Participants take the <b>Quick check</b>" in t.texts[-2]
    await t.tap("Full assessment")  # on the message that announced the cohort
    assert telegram.callback_answers()[-1]["text"] == "Participants now take the Full assessment."
    assert "Participants take the <b>Full assessment</b>" in t.texts[-2]
    assert (await the_cohort(store)).mode == "full"
    first = person(1001)
    await join(first, payload)
    assert (await store.open_assessment(first.id)).state.mode == "full"
    assert "Your trainer chose the <b>Full assessment</b>" in first.texts[-2]

    await dashboard(t)
    assert "Participants take the Full assessment." in t.screen.text
    await t.tap("Quick check")  # on the dashboard: the card is edited in place
    assert "Participants take the Quick check." in t.screen.text
    second = person(1002)
    await join(second, payload, "aggregate")
    assert (await store.open_assessment(second.id)).state.mode == "quick"
    await finish_quick(second)
    await second.send("/start")  # the other one stays open to them
    assert any("Full assessment" in label for label, _ in buttons(second.screen))


async def test_joining_mid_assessment_keeps_it_and_offers_to_go_on(person, store):
    t = person(TRAINER)
    payload = await new_cohort(t)
    p = person(1001)
    await p.send("/start")
    await p.tap("Full assessment")
    started = (await store.open_assessment(p.id)).state.id
    await join(p, payload)
    assert (await store.open_assessment(p.id)).state.id == started
    assert "Continue" in " ".join(label for label, _ in buttons(p.screen))


async def test_the_qr_card_carries_the_name_and_the_link(person, telegram):
    from PIL import Image

    from .test_cohorts import qr_parts

    t = person(TRAINER, language_code="zh-hans")
    await t.send("/trainer")
    await t.tap("新建小组")
    await t.send("咖啡店主春季班")
    link = "https://" + LINK.search(t.texts[-2]).group(0).removeprefix("https://")
    png = uploads(telegram, TRAINER, "sendPhoto")[-1]
    width, height = Image.open(io.BytesIO(png)).size
    assert width == 1200 and height > width  # words above and below the code
    above, code, below = qr_parts(png, link)
    assert code, "the code's modules are where qrcode put them, quiet zone included"
    assert above and below  # the name (and "scan to join") above, the link below
