"""The Telegram conversation, driven through the real Application on a real SQLite file."""

from __future__ import annotations

import json

from bot.domain.context import business_context
from bot.storage import Store
from tests.helpers_domain import CAFE, FULL_ITEMS, QUICK_ITEMS, at

from .conftest import make_app
from .fakes import buttons


async def answer_context(p) -> None:
    await p.tap("Café")
    await p.tap("2-5")
    await p.tap("In person")
    await p.tap("Done")
    await p.tap("Clear prices")
    await p.tap("Done")


async def test_full_assessment_reaches_the_report(person, telegram, store):
    p = person()
    await p.send("/start")
    assert "Hello, Ann!" in p.texts[-1]
    await p.tap("Full assessment")
    await answer_context(p)
    assert at(1) in p.screen.text
    for _ in range(FULL_ITEMS):
        await p.tap(1)  # the second option: score 1, never asks for evidence
    (photo,) = telegram.called("sendPhoto")  # the radar chart, the result card its caption
    assert "Your score: 25/100 · Emerging" in photo.params["caption"]
    assert "Trust Index" in photo.params["caption"] and "CX Index" in photo.params["caption"]
    await p.tap("Full report")
    document = telegram.called("sendDocument")[-1]
    name, body = document.files["document"][:2]
    assert name.endswith(".pdf") and body.startswith(b"%PDF-"), "the full report is a PDF"
    finished = await store.finished_assessments(p.id)
    assert len(finished) == 1 and finished[0].scores["overall"] == 25.0


async def rows_of(store: Store, user_id: int) -> dict:
    return await store.export_user(user_id)


async def start_full(p) -> None:
    await p.send("/start")
    await p.tap("Full assessment")
    await answer_context(p)


async def test_resume_on_a_new_application_after_half(content, db_url, telegram, person):
    first_store = await Store.open(db_url)
    first = await make_app(content, first_store, telegram)
    from .conftest import Person

    p = Person(first, telegram, 2002)
    await start_full(p)
    for _ in range(12):
        await p.tap(1)
    assert at(13) in p.screen.text
    await first.shutdown()
    await first_store.close()

    # A restart: a new Application and a new engine on the same database file.
    second_store = await Store.open(db_url)
    second = await make_app(content, second_store, telegram)
    p2 = Person(second, telegram, 2002)
    await p2.send("/start")
    assert f"12/{FULL_ITEMS} answered" in p2.texts[-1]
    await p2.tap("Continue")
    assert at(13) in p2.screen.text
    for _ in range(FULL_ITEMS - 12):
        await p2.tap(1)
    finished = await second_store.finished_assessments(2002)
    assert len(finished) == 1
    assert len(finished[0].state.answers) == FULL_ITEMS
    await second.shutdown()
    await second_store.close()


async def test_double_tap_counts_once(person, telegram, store):
    p = person()
    await start_full(p)
    screen = p.screen
    first_option = buttons(screen)[2][1]
    await p.press(first_option, screen.message_id)
    await p.press(first_option, screen.message_id)  # the same button again, same message
    record = await store.open_assessment(p.id)
    assert record.state.cursor == 6  # the review step's place, four context steps, one item
    assert len(record.state.answers) == 1
    assert telegram.callback_answers()[-1].get("text") == "Already saved."


async def test_stale_button_changes_nothing_and_reshows_the_question(person, telegram, store):
    p = person()
    await start_full(p)
    old = p.screen
    old_data = buttons(old)[3][1]
    await p.tap(0)
    await p.tap(0)
    before = await rows_of(store, p.id)
    await p.press(old_data, old.message_id)  # a different option on position 1, long gone
    assert await rows_of(store, p.id) == before
    assert "out of date" in telegram.callback_answers()[-1]["text"]
    assert at(3) in p.screen.text


async def test_forged_callback_for_another_users_assessment_changes_nothing(
        person, telegram, store):
    victim = person(3001)
    await start_full(victim)
    await victim.tap(0)
    victim_record = await store.open_assessment(victim.id)
    before = await rows_of(store, victim.id)

    attacker = person(3002)
    await attacker.send("/start")
    aid = victim_record.state.id
    for forged in (f"ans:{aid}:6:never", f"back:{aid}:6", f"ev:{aid}:5:y", f"ok:{aid}:3",
                   f"rv:{aid}:0:y",
                   f"doc:{aid}", f"plan:{aid}", f"go:{aid}", "ans:1:2", "garbage", "ans:x:y:z",
                   "ans:" + "9" * 60):
        await attacker.press(forged)
    assert await rows_of(store, victim.id) == before
    assert not telegram.called("sendDocument")
    assert await store.open_assessment(attacker.id) is None


async def test_back_then_a_different_answer(person, store):
    p = person()
    await start_full(p)
    await p.tap(0)  # item 1: score 0
    assert at(2) in p.screen.text
    await p.tap("Back")
    assert at(1) in p.screen.text
    assert buttons(p.screen)[0][0].startswith("✓ ")  # the stored answer is marked
    await p.tap(2)  # item 1 again: score 2
    record = await store.open_assessment(p.id)
    first_item = next(iter(record.state.answers))
    assert record.state.answers[first_item].option_id != "none"
    assert len(record.state.answers) == 1 and at(2) in p.screen.text


async def test_not_sure_and_not_applicable(person, store, content):
    p = person()
    await start_full(p)
    await p.tap("Not sure")
    items = content.bank.items_for("full")
    na_position = next(n for n, i in enumerate(items) if i.not_applicable)
    for _ in range(1, na_position):
        assert "Not applicable" not in [t for t, _ in buttons(p.screen)]
        await p.tap(1)
    await p.tap("Not applicable")
    record = await store.open_assessment(p.id)
    assert record.state.answers[items[0].id].option_id == "unsure"
    assert record.state.answers[items[na_position].id].option_id == "na"
    for _ in range(na_position + 1, len(items)):
        await p.tap(1)
    card = next(t for t in p.texts if "Trust Index" in t)
    assert "Not sure (counts as 0 until you find out)" in card


async def test_switching_language_mid_assessment(person, store):
    p = person(4001, "zh-hans")
    await p.send("/start")
    assert "你好" in p.texts[-1]
    await p.tap("完整测评")
    await p.tap("咖啡馆")
    await p.send("/language")
    await p.tap("English")
    assert "How many people" in p.screen.text  # the same step, now in English
    await p.tap("2-5")
    await p.send("/language")
    await p.tap("繁體中文")
    assert "透過哪些方式" in p.screen.text
    record = await store.open_assessment(p.id)
    assert record.state.cursor == 3  # the channels question
    assert (await store.get_user(p.id)).language == "zh-Hant"


async def test_delete_leaves_no_row_of_that_user(person, store):
    p = person(5001)
    other = person(5002)
    await start_full(other)
    await start_full(p)
    for _ in range(5):
        await p.tap(1)
    await p.send("/delete")
    await p.tap("Cancel")
    assert await store.count_rows(p.id) > 0
    await p.send("/delete")
    await p.tap("Yes, delete everything")
    assert await store.count_rows(p.id) == 0
    assert await store.count_rows(other.id) > 0


async def test_export_holds_every_answer(person, telegram, store):
    p = person(6001)
    await start_full(p)
    for _ in range(7):
        await p.tap(1)
    await p.send("/export")
    upload = telegram.called("sendDocument")[-1]
    (name, payload, _mime), = [v for v in upload.files.values()]
    data = json.loads(payload)
    assert name.endswith(".json")
    answers = data["assessments"][0]["answers"]
    assert len(answers) == 7
    assert data["assessments"][0]["context"]["sector"] == ["cafe"]
    assert data["user"]["telegram_id"] == p.id


async def test_photo_failure_still_delivers_the_text_report(person, telegram):
    p = person(7001)
    await p.send("/start")
    await p.tap("Quick check")
    await answer_context(p)
    telegram.fail("sendPhoto", 400, "Bad Request: wrong file identifier", times=1)
    for _ in range(8):
        await p.tap(1)
    card = next(t for t in p.texts if "Trust Index" in t)  # the card as a message of its own
    for name in ("Integrity", "Ability", "Affinity", "Consistency", "Customer perspective",
                 "Systems thinking", "Innovation", "Emotion"):
        assert name in card  # with the eight bars the chart would have shown
    assert "Your top 3 priorities" in str(p.screen.reply_markup), "the priorities are offered"
    assert telegram.called("sendPhoto")  # it was tried


async def test_typed_text_mid_assessment_gets_a_hint_and_changes_nothing(person, store):
    p = person(8001)
    await start_full(p)
    before = await rows_of(store, p.id)
    await p.send("my answer is 3")
    assert "or type the number of your answer (1-5)" in p.texts[-1]
    assert await rows_of(store, p.id) == before
    await p.tap("Continue")
    assert at(1) in p.screen.text


async def test_pause_then_start_resumes(person, store):
    p = person(8101)
    await start_full(p)
    await p.tap(1)
    await p.tap("Pause")
    assert f"Paused with 1/{FULL_ITEMS} answered" in p.texts[-1]
    await p.send("/start")
    assert f"1/{FULL_ITEMS} answered" in p.texts[-1]  # the same count as the pause
    await p.tap("Continue")
    assert at(2) in p.screen.text


async def test_evidence_no_caps_the_item(person, store, content):
    p = person(8201)
    await p.send("/start")
    await p.tap("Quick check")
    await answer_context(p)
    await p.tap(4)  # the best option of an evidence item
    assert "did every one" in p.screen.text  # the check: "think of your last 10 ..."
    await p.tap("Not every one")
    assert at(3, QUICK_ITEMS + 1) in p.screen.text  # the item, its check, then this one
    for _ in range(7):
        await p.tap(0)
    finished = (await store.finished_assessments(p.id))[0]
    first = content.bank.items_for("quick", business_context(CAFE))[0]
    assert finished.scores["dimensions"][first.dimension] == 50.0  # capped at 2 -> 25 x 2


async def test_start_after_finishing_offers_the_latest_report(person, telegram):
    p = person(8301)
    await p.send("/start")
    assert "Your result" not in str(p.screen.reply_markup)
    await p.tap("Quick check")
    await answer_context(p)
    for _ in range(8):
        await p.tap(1)
    summaries = sum("Trust Index" in t for t in p.texts)
    await p.send("/start")
    await p.tap("Your result")
    assert sum("Trust Index" in t for t in p.texts) == summaries + 1
