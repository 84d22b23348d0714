"""The gap in the owner's report, through the real Application: an owner, 3 staff and 5
customers; the radar with three shapes, the gap per dimension, the gap priority first (article
000), /history, the PDF, the check-in's nudge and the cohort's average gap.

Runs on SQLite and PostgreSQL (the `store` fixture)."""

from __future__ import annotations

import html
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image
from pypdf import PdfReader
from telegram.ext import CallbackContext

from bot.chart import STYLES
from bot.domain.feedback import MIN_CUSTOMERS, MIN_STAFF
from bot.telegram.reminders import send_due_reminders

from .conftest import Person
from .fakes import buttons
from .test_coaching import in_7_days_utc
from .test_conversation import answer_context
from .test_feedback import customer_link, finish_quick, pulse, staff_answers, team_link

OWNER = 7100


def shape_pixels(png: bytes) -> dict[str, int]:
    """How many pixels of the chart carry each series' colour (the dashed team line, the
    dotted customers' line). Near the colour, not exactly it: the photo is a JPEG."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    counts = dict.fromkeys(("dashed", "dotted"), 0)
    wanted = {STYLES[k][0]: k for k in counts}
    for n, colour in image.getcolors(maxcolors=1 << 24) or []:
        kind = next((k for c, k in wanted.items()
                     if sum(abs(a - b) for a, b in zip(colour, c, strict=True)) <= 36), None)
        if kind:
            counts[kind] += n
    return counts


def last_photo(telegram) -> tuple[str, bytes]:
    return last_photo_of(telegram, -1)


def last_photo_of(telegram, index: int) -> tuple[str, bytes]:
    call = telegram.called("sendPhoto")[index]
    body = call.files["photo"][1]
    return html.unescape(call.params["caption"]), body


async def finish_quick_with_evidence(p: Person, option: int) -> None:
    """The quick check with the `option`-th answer (0: the lowest, 4: the best) everywhere, and
    "Yes, every one" whenever the answer's evidence is asked."""
    await p.send("/start")
    await p.tap("Quick check")
    await answer_context(p)
    for _ in range(20):
        data = [d for _, d in buttons(p.screen)] if p.screen.reply_markup else []
        if any(d.startswith("ev:") for d in data):
            await p.tap("Yes, every one")
        elif any(d.startswith("ans:") for d in data):
            await p.tap(option)
        else:
            break


async def owner_team_customers(person, owner_option: int = 4, customer_option: int = 3,
                               staff: int = MIN_STAFF, customers: int = MIN_CUSTOMERS,
                               owner_id: int = OWNER) -> Person:
    """An owner who rated the business (`owner_option` 4: the best answers), `staff` staff
    members and `customers` customers (`customer_option` 3: the second worst, 25 points) who
    answered through the owner's links."""
    owner = person(owner_id)
    await finish_quick_with_evidence(owner, owner_option)
    team = await team_link(owner)
    card = await customer_link(owner)
    for n in range(staff):
        await staff_answers(person(owner_id + 100 + n), team, option=2)
    for n in range(customers):
        await pulse(person(owner_id + 200 + n), card, option=customer_option, nps="3")
    return owner


async def test_owner_team_and_customers_end_to_end_three_shapes_and_the_gap_first(
        person, telegram, store):
    owner = await owner_team_customers(person)
    _, alone = last_photo_of(telegram, 0)
    assert shape_pixels(alone)["dotted"] < 50, "the first report has one shape only"

    await owner.send("/report")
    caption, chart = last_photo(telegram)
    # The legend names the three shapes and how many answers each average holds ...
    assert "Solid: you" in caption
    assert f"dashed: your team's average ({MIN_STAFF} answers)" in caption
    assert f"dotted: your customers' average ({MIN_CUSTOMERS} answers)" in caption
    # ... and the chart draws them: the team's dashed and the customers' dotted lines.
    pixels = shape_pixels(chart)
    assert pixels["dashed"] > 400 and pixels["dotted"] > 400, pixels
    # The owner answered the best option everywhere, customers the second worst: a real gap.
    assert re.search(r"Biggest gap: [\w ]+\. You 100, your customers 25\.", caption), caption

    # The first priority is the gap, with its own why, citing article 000.
    await owner.tap("priorit")
    first = html.unescape(owner.screen.text)
    assert re.search(r"You rated [\w ]+ 100; your customers 25 \(5 answers\)\.", first), first
    assert "(article 000)" in first, first  # the information gap's article

    # /history: the latest scores beside the team's and customers', gaps in points.
    await owner.send("/history")
    history = html.unescape(owner.texts[-1])
    assert "Now: you, your team, your customers" in history
    assert history.count("gap +75") >= 4, history
    assert f"Team from {MIN_STAFF} answers, customers from {MIN_CUSTOMERS}" in history

    # The PDF: a section with the three views and the gap priority.
    await owner.tap("Full report")
    body = telegram.called("sendDocument")[-1].files["document"][1]
    text = " ".join(" ".join(page.extract_text().split())
                    for page in PdfReader(io.BytesIO(body)).pages)
    assert "You, your team and your customers" in text
    assert "+75" in text
    assert "your customers 25 (5 answers)" in text

    # Nobody's own answers are shown: no staff or customer id anywhere the owner looks.
    everything = "\n".join(owner.texts) + caption + text
    for n in list(range(100, 100 + MIN_STAFF)) + list(range(200, 200 + MIN_CUSTOMERS)):
        assert str(OWNER + n) not in everything


@pytest.mark.parametrize(("staff", "customers"), [(MIN_STAFF - 1, MIN_CUSTOMERS - 1),
                                                  (MIN_STAFF, MIN_CUSTOMERS - 1),
                                                  (MIN_STAFF - 1, MIN_CUSTOMERS)])
async def test_below_the_thresholds_no_shape_no_gap_and_no_single_answer(
        person, telegram, store, staff, customers):
    owner = await owner_team_customers(person, staff=staff, customers=customers)
    await owner.send("/report")
    caption, chart = last_photo(telegram)
    pixels = shape_pixels(chart)
    assert ("dashed: your team" in caption) == (staff >= MIN_STAFF)
    assert ("dotted: your customers" in caption) == (customers >= MIN_CUSTOMERS)
    assert (pixels["dotted"] > 400) == (customers >= MIN_CUSTOMERS), pixels
    assert ("Biggest gap" in caption) == (customers >= MIN_CUSTOMERS)
    await owner.send("/history")
    history = owner.texts[-1]
    assert ("customers 25" in history) == (customers >= MIN_CUSTOMERS)


async def test_no_gap_priority_when_customers_agree(person, telegram, store):
    """Customers rating the business higher than its owner: no gap line, no gap priority."""
    owner = await owner_team_customers(person, owner_option=2, customer_option=0)
    await owner.send("/report")
    caption, _ = last_photo(telegram)
    assert "dotted: your customers' average" in caption
    assert "Biggest gap" not in caption
    await owner.tap("priorit")
    assert "your customers" not in owner.screen.text


async def test_a_checkin_reminds_the_owner_to_collect_customer_answers(person, telegram, app):
    owner = person(OWNER)
    await finish_quick(owner)
    await in_7_days_utc(owner)
    later = datetime.now(UTC).replace(hour=12) + timedelta(days=8)
    assert await send_due_reminders(CallbackContext(app), now=later) == 1
    assert "Do your customers see it as you do?" in telegram.called("sendMessage")[-1].params[
        "text"], "no customer link yet: an invitation"

    card = await customer_link(owner)
    await pulse(person(OWNER + 300), card)
    await owner.tap("Still working on it")  # asked again later
    much_later = later + timedelta(days=8)
    assert await send_due_reminders(CallbackContext(app), now=much_later) == 1
    text = html.unescape(telegram.called("sendMessage")[-1].params["text"])
    assert f"needs {MIN_CUSTOMERS - 1} more answers" in text and "/customers" in text


@pytest.mark.parametrize(("locale", "name"), [("en", "Mei's Café"), ("zh-Hans", "小林咖啡"),
                                              ("zh-Hant", "阿美的髮廊")])
async def test_the_counter_card_renders_in_each_locale_with_its_glyphs(
        person, telegram, store, content, locale, name):
    """The printed card: the business name and one line of invitation above a QR code that
    still decodes, the link below; every character in the shipped font of that locale."""
    from fontTools.ttLib import TTFont

    from bot import fonts
    from bot.content.render import Renderer

    from .test_cohorts import qr_parts

    owner = person(OWNER + 900)
    await finish_quick(owner)
    await customer_link(owner, name)
    await store.set_language(owner.id, locale)
    await owner.press("fb:customer:card")
    call = telegram.called("sendPhoto")[-1]
    png = call.files["photo"][1]
    url = re.search(r"https://t\.me/\S+", html.unescape(call.params["caption"])).group(0)
    above, code, below = qr_parts(png, url)
    assert code, "the QR code decodes with its quiet zone"
    assert len(above) >= 2 and len(below) == 1  # name and invitation; the link
    invitation = Renderer(content, locale).plain("feedback.customer_card_invitation")
    assert name in html.unescape(call.params["caption"])
    for weight in ("Regular", "Bold"):
        cmap = TTFont(fonts.font_path(fonts.region_for(locale), weight)).getBestCmap()
        missing = {ch for ch in name + invitation if not ch.isspace() and ord(ch) not in cmap
                   and ord(ch) not in TTFont(fonts.symbol_font_path(weight)).getBestCmap()}
        assert not missing, f"{locale} {weight}: no glyph for {sorted(missing)}"


async def test_the_cohort_dashboard_shows_the_owners_gap_from_five_participants(person, store):
    """A trainer's room: the average owner-minus-customers gap appears once 5 counted
    participants have a published customers' average, never with 4."""
    from .test_trainer import dashboard, new_cohort, participants

    trainer = person(7900)
    room = await new_cohort(trainer)
    owners = await participants(person, room, 6, first_id=8000, option=1)  # 25 everywhere
    for k, owner in enumerate(owners[:MIN_CUSTOMERS]):
        card = await customer_link(owner, f"Shop {k}")
        for n in range(MIN_CUSTOMERS):
            await pulse(person(8100 + 10 * k + n), card, option=4)  # the worst: 0
        board = html.unescape(await dashboard(trainer))
        if k < MIN_CUSTOMERS - 1:
            assert "Owners vs their customers" not in board, f"shown with {k + 1}"
    assert "Owners vs their customers</b> (5 participants" in board.replace("<b>", ""), board
    assert board.count("+25 ") == 8, board  # owners 25, their customers 0, every dimension
