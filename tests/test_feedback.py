"""The 360° check through the real Application: an owner, their team and their customers.

The owner sees averages only: the team's from 3 staff answers, the customers' from 5, updated only
after as many more changed; never one person's answers; respondents can see and delete theirs.
"""

from __future__ import annotations

import html
import re

from bot.domain.feedback import MIN_CUSTOMERS, MIN_STAFF
from bot.storage.feedback import FeedbackStore

from .conftest import Person
from .fakes import buttons
from .test_conversation import answer_context

OWNER = 6100
LINK = re.compile(r"start=([tp]_[A-Za-z0-9_-]+)")


async def finish_quick(p: Person, option: int = 1) -> None:
    await p.send("/start")
    await p.tap("Quick check")
    if any("the same" in label for label, _ in buttons(p.screen)):
        await p.tap("the same")
    else:
        await answer_context(p)
    for _ in range(8):
        await p.tap(option)


async def customer_link(owner: Person, name: str = "Mei's Café") -> str:
    await owner.send("/customers")
    await owner.tap("Create the link")
    assert "What name should customers see" in owner.texts[-1]
    await owner.send(name)
    return LINK.search("\n".join(owner.texts[-3:])).group(1)


async def team_link(owner: Person) -> str:
    await owner.send("/team")
    await owner.tap("Create the link")
    return LINK.search(owner.screen.text).group(1)


async def pulse(p: Person, payload: str, option: int = 0, nps: str = "9") -> None:
    """A customer scans the card: /start p_..., Start, 8 answers, then 0-10."""
    await p.send(f"/start {payload}")
    await p.tap("Start")
    for _ in range(8):
        await p.tap(option)  # the buttons list the best answer first
    await p.tap(nps)


async def staff_answers(p: Person, payload: str, option: int = 1) -> None:
    await p.send(f"/start {payload}")
    await p.tap("Start")
    for _ in range(60):
        last = p.telegram.chat(p.id)[-1]
        datas = [d for _, d in buttons(last)] if last.reply_markup else []
        if not any(d.startswith(("ans:", "ev:")) for d in datas):
            break
        if any(d.startswith("ev:") for d in datas):
            await p.tap("Not every one")
        else:
            await p.tap(option)


async def test_customers_are_counted_from_five_and_never_one_by_one(person, telegram, store):
    owner = person(OWNER)
    await finish_quick(owner)
    payload = await customer_link(owner)
    assert telegram.called("sendPhoto"), "the counter card (QR) was sent"
    assert "Mei's Café" in html.unescape(telegram.called("sendPhoto")[-1].params["caption"])
    fb = FeedbackStore(store.engine)
    link = await fb.latest(OWNER, "customer")
    for n in range(MIN_CUSTOMERS - 1):
        await pulse(person(6200 + n), payload)
    await owner.send("/customers")
    assert f"{MIN_CUSTOMERS - 1} answered so far: 1 more needed" in owner.texts[-1]
    assert (await fb.get(link.id)).release is None
    await pulse(person(6300), payload)
    await owner.send("/customers")
    assert "average from 5 answers" in owner.texts[-1]
    release = (await fb.get(link.id)).release
    assert release.responses == 5 and release.nps == 100
    assert all(v == 100.0 for v in release.dimensions.values())  # the best answer each time
    # One more answer, and one customer answering again: no new average until 5 changed.
    await pulse(person(6301), payload, option=4, nps="0")
    await pulse(person(6300), payload, option=4, nps="0")  # replaces their earlier answers
    assert (await fb.get(link.id)).release.responses == 5
    assert len(await fb.pulses(link.id)) == 6  # the re-answer replaced, it did not add


async def test_a_forged_or_closed_code_stores_nothing_and_the_owner_cannot_rate_themself(
        person, store):
    owner = person(OWNER)
    await finish_quick(owner)
    payload = await customer_link(owner)
    stranger = person(6400)
    await stranger.send("/start p_" + "A" * 22)
    assert "not valid" in stranger.texts[-1]
    await owner.send(f"/start {payload}")
    assert "your own customer link" in owner.texts[-1]
    fb = FeedbackStore(store.engine)
    link = await fb.latest(OWNER, "customer")
    await owner.send("/customers")
    await owner.tap("Close link")
    await stranger.send(f"/start {payload}")
    assert "not valid" in stranger.texts[-1]
    assert await fb.pulses(link.id) == []


async def test_the_team_average_needs_three_staff(person, telegram, store):
    owner = person(OWNER, first_name="Mei")
    await finish_quick(owner)
    payload = await team_link(owner)
    fb = FeedbackStore(store.engine)
    link = await fb.latest(OWNER, "team")
    for n in range(MIN_STAFF - 1):
        await staff_answers(person(6500 + n), payload)
    assert (await fb.get(link.id)).release is None
    await owner.send("/team")
    assert "2 answered so far: 1 more needed" in owner.texts[-1]
    await staff_answers(person(6510), payload)
    release = (await fb.get(link.id)).release
    assert release is not None and release.responses == MIN_STAFF
    # The staff's assessments are theirs, not the owner's: no report, not in their /history.
    staff = person(6510)
    await staff.send("/report")
    assert "no finished assessment" in staff.texts[-1]


async def test_a_respondent_deletes_what_they_gave(person, store):
    owner = person(OWNER)
    await finish_quick(owner)
    payload = await customer_link(owner)
    customer = person(6600)
    await pulse(customer, payload)
    fb = FeedbackStore(store.engine)
    assert len(await fb.given(customer.id)) == 1
    await customer.send("/privacy")
    assert "Mei's Café: your customer answers" in html.unescape(customer.texts[-1])
    await customer.send("/delete")
    await customer.tap("Yes, delete everything")
    assert await fb.given(customer.id) == []
    link = await fb.latest(OWNER, "customer")
    assert await fb.pulses(link.id) == [] and len((await fb.get(link.id)).deleted) == 1


async def test_an_owner_deleting_removes_links_and_every_response(person, store):
    owner = person(OWNER)
    await finish_quick(owner)
    payload = await customer_link(owner)
    tpayload = await team_link(owner)
    await pulse(person(6700), payload)
    await staff_answers(person(6701), tpayload)
    staff = person(6701)
    await staff.send("/privacy")
    assert "Mei's Café: your team answers;" in html.unescape(staff.texts[-1])
    fb = FeedbackStore(store.engine)
    link = await fb.latest(OWNER, "customer")
    await owner.send("/delete")
    await owner.tap("Yes, delete everything")
    assert await fb.latest(OWNER, "customer") is None
    assert await fb.pulses(link.id) == []
    assert await fb.staff_results((await fb.latest(OWNER, "team") or link).id) == []
    assert await store.count_rows(6701) == 1  # the staff member's user row only


async def test_a_script_flooding_a_link_is_held_back_and_real_answers_are_kept(
        person, store, telegram):
    from bot.feedback import RATE_LIMIT

    owner = person(OWNER)
    await finish_quick(owner)
    payload = await customer_link(owner)
    fb = FeedbackStore(store.engine)
    link = await fb.latest(OWNER, "customer")
    regular = person(6900)  # a real customer, half-way through when the flood starts
    await regular.send(f"/start {payload}")
    await regular.tap("Start")
    await regular.tap(0)
    for n in range(RATE_LIMIT + 40):  # a script with many accounts
        bot = person(70_000 + n)
        await bot.send(f"/start {payload}")
        await bot.tap("Start")
    begun = await fb.recent_pulses(link.id, link.created_at)
    assert begun == RATE_LIMIT  # the regular's and the first of the script's
    assert "try again in a few minutes" in person(70_000 + RATE_LIMIT + 39).texts[-1]
    for _ in range(7):  # the regular finishes: nothing of theirs is lost
        await regular.tap(0)
    await regular.tap("8")
    finished = await fb.pulses(link.id)
    assert len(finished) == 1 and finished[0][1] == 8
