"""Trainer handlers: /trainer, the cohort buttons, joining by deep link, leaving from /privacy.

Buttons (at most 64 bytes, validated by the patterns below):
  tr:<menu|new|list|cancel>              the trainer menu
  tr:<kind>:<cohort id>                  one cohort: every tap checks that the tapper owns it
                                         (or is in ADMIN_IDS); anyone else changes and sees
                                         nothing, and gets the same answer as for garbage.
                                         dash opens the dashboard card, ref refreshes it (both
                                         edit the tapped message); chart and ws send the chart
                                         and the workshop ideas (new messages, once a tap); csv,
                                         qr, ren, close, closeok; full | quick set the mode from
                                         the dashboard, newfull | newquick from the message that
                                         announced the new cohort
  tr:leave:<cohort id>                   a participant leaves (only their own membership)
  cj:<code>:<s|a|n>                      join consent: share / aggregates only / don't join; it
                                         carries the secret code, not the id, so a forged tap
                                         can not join a cohort whose link one never had
A cohort name is typed as a message: the "waiting for a name" marker is in the database
(CohortStore.set_prompt), and `handlers.typed` hands the text to `consume_text` first.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date
from markupsafe import Markup
from telegram import Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import Forbidden, TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, filters

from bot.cohorts import (
    MIN_GROUP,
    Counting,
    Dashboard,
    clean_name,
    code_from_payload,
    csv_document,
)
from bot.config import Settings
from bot.content.loader import babel_locale
from bot.content.render import Button, Renderer, Screen, fmt_score, to_plain
from bot.draw import qr_png
from bot.service import ChartData
from bot.storage.cohorts import CohortInfo, CohortStore

from . import handlers as h
from .callbacks import matcher
from .replies import answer, edit, send

log = logging.getLogger(__name__)
HTML = ParseMode.HTML
MENU_TAP = re.compile(r"^tr:(menu|new|list|cancel)$")
COHORT_TAP = re.compile(r"^tr:(dash|ref|chart|ws|csv|qr|ren|close|closeok|leave|full|quick"
                        r"|newfull|newquick):(\d{1,12})$")
JOIN_TAP = re.compile(r"^cj:([A-Za-z0-9_-]{16,58}):([san])$")
MESSAGE_LIMIT = 4000  # Telegram's is 4096 characters


def add_trainer_handlers(app: Application) -> None:
    app.add_handler(CommandHandler("trainer", trainer_command, filters=filters.ChatType.PRIVATE))
    app.add_handler(CallbackQueryHandler(menu_tap, pattern=MENU_TAP))
    app.add_handler(CallbackQueryHandler(cohort_tap, pattern=matcher(COHORT_TAP)))
    app.add_handler(CallbackQueryHandler(join_tap, pattern=JOIN_TAP))


# --- helpers -----------------------------------------------------------------------------------
def _store(context) -> CohortStore:
    return CohortStore(h.coach_of(context).store.engine)


def _settings(context) -> Settings:
    return context.application.bot_data["settings"]


def _may_create(context, user_id: int) -> bool:
    """Anyone, unless TRAINER_IDS is set; admins always."""
    settings = _settings(context)
    return not settings.trainer_ids or user_id in settings.trainer_ids \
        or user_id in settings.admin_ids


async def _authorised(context, user_id: int, cohort_id: int | None) -> CohortInfo | None:
    """The cohort if this user is its trainer or an admin; None otherwise (no hint given)."""
    cohort = await _store(context).get(cohort_id) if cohort_id is not None else None
    if cohort is None:
        return None
    if cohort.owner_id == user_id or user_id in _settings(context).admin_ids:
        return cohort
    return None


def _label(r: Renderer, key: str, **ctx) -> str:
    """A trainer button label: a template (names go in), sent as plain text."""
    return html.unescape(str(r.message(f"trainer.buttons.{key}", **ctx)))


def link_for(context, cohort: CohortInfo) -> str:
    return f"https://t.me/{context.bot.username}?start=c_{cohort.code}"


def consent_names(r: Renderer) -> dict[str, str]:
    """The one name of each consent option, for every message that mentions them."""
    return {"share_name": html.unescape(str(r.message("trainer.consent.share"))),
            "aggregate_name": html.unescape(str(r.message("trainer.consent.aggregate")))}


def mode_name(r: Renderer, mode: str) -> str:
    """"Full assessment" / "Quick check" in the reader's language."""
    return r.label(f"mode_{mode}")


def mode_buttons(r: Renderer, cohort: CohortInfo, prefix: str = "") -> tuple[Button, ...]:
    """Full | Quick, the cohort's choice ticked; `prefix` "new" for the announcement."""
    return tuple(Button(_label(r, "mode", mode=mode_name(r, m), chosen=cohort.mode == m),
                        ("tr", f"{prefix}{m}", cohort.id)) for m in ("full", "quick"))


def counted_lines(r: Renderer, count: Counting) -> tuple[str, str]:
    """(how many are counted, or how many more are needed; the averages-only participants
    waiting to be counted, or "") in exact numbers."""
    names = consent_names(r)
    if count.visible:
        line = r.message("trainer.counted_visible", counted=count.counted,
                         finished=count.finished)
    else:
        line = r.message("trainer.counted_hidden", count=count.sharing_needed,
                         counted=count.counted, finished=count.finished, min_group=MIN_GROUP,
                         **names)
    waiting = ""
    if count.waiting:
        key = "trainer.waiting_next" if count.private_counted else "trainer.waiting_first"
        waiting = r.message(key, count=count.waiting, needed=count.private_needed,
                            min_group=MIN_GROUP, **names)
    return str(line), str(waiting)


def _pack(parts: list[str]) -> list[str]:
    """Join message parts with blank lines into as few messages as Telegram accepts."""
    messages: list[str] = []
    for part in parts:
        if messages and len(messages[-1]) + 2 + len(part) <= MESSAGE_LIMIT:
            messages[-1] += "\n\n" + part
        else:
            messages.append(part)
    return messages


async def _show(update: Update, context, screen: Screen) -> None:
    """In the tapped message if this is a tap, else as a new message."""
    if update.callback_query is not None:
        await edit(update.callback_query, screen)
    else:
        await send(context, update.effective_chat.id, screen)


# --- screens -----------------------------------------------------------------------------------
async def menu_screen(context, user_id: int, r: Renderer) -> Screen:
    rows = []
    if _may_create(context, user_id):
        rows.append((Button(_label(r, "new"), ("tr", "new")),))
    elif not await _store(context).owned(user_id, limit=1):
        return Screen(r.message("trainer.not_allowed"))
    rows.append((Button(_label(r, "list"), ("tr", "list")),))
    return Screen(r.message("trainer.menu", count=MIN_GROUP), tuple(rows))


async def list_screen(context, user_id: int, r: Renderer) -> Screen:
    cohorts = await _store(context).owned(user_id)
    rows = [(Button(_label(r, "cohort", name=c.name, closed=not c.open), ("tr", "dash", c.id)),)
            for c in cohorts]
    if _may_create(context, user_id):
        rows.append((Button(_label(r, "new"), ("tr", "new")),))
    text = r.message("trainer.list") if cohorts else r.message("trainer.list_none")
    return Screen(text, tuple(rows))


def dashboard_screen(r: Renderer, cohort: CohortInfo, board: Dashboard,
                     notice: str = "") -> Screen:
    """The dashboard card: counts, who is counted and why, the averages, the weakest areas,
    the change since the start of the course; edited in place on every refresh. `notice` goes
    above it (a rename just done)."""
    bank = r.content.bank
    na = r.label("not_applicable")
    values: dict = {"rows": "", "weakest": "", "change": "", "overall": na, "trust": na,
                    "cx": na}
    names = {"trust_name": r.model("indices.trust"), "cx_name": r.model("indices.cx")}
    if board.average is not None:
        a = board.average
        values.update(
            rows=Markup("\n").join(
                r.message("trainer.dashboard_row", bar=r.bar(a.dimensions[d]),
                          score=fmt_score(a.dimensions[d], na).rjust(3), name=r.dimension(d))
                for d in bank.dimensions),
            weakest=r.message("trainer.weakest", names=r.names(board.weakest))
            if board.weakest else r.message("trainer.level"),
            overall=fmt_score(a.overall, na), trust=fmt_score(a.indices.get("trust"), na),
            cx=fmt_score(a.indices.get("cx"), na))
    if board.change is not None:
        c = board.change

        def delta(value):
            return r.delta(value, 0.0) if value is not None else na

        lines = [r.message("trainer.change_row", name=r.dimension(d), delta=delta(c.dimensions[d]))
                 for d in bank.dimensions]
        lines.append(r.message("trainer.change_total", overall=delta(c.overall),
                               trust=delta(c.indices.get("trust")), cx=delta(c.indices.get("cx")),
                               **names))
        values["change"] = Markup("\n").join(lines)
    counted_line, waiting = counted_lines(r, board.latest_count)
    latest = board.latest_count
    text = r.message("trainer.dashboard", name=cohort.name, closed=not cohort.open,
                     mode_line=r.message("trainer.dashboard_mode",
                                         mode=mode_name(r, cohort.mode)),
                     joined=board.joined, started=board.started, finished=board.finished,
                     shared=latest.sharing, private=latest.private, visible=board.visible,
                     counted_line=Markup(counted_line), waiting=Markup(waiting),
                     change_title=r.message("trainer.change_title", count=board.retakers),
                     change_pending=r.message("trainer.change_pending", count=MIN_GROUP,
                                              retakers=board.change_count.counted),
                     **consent_names(r), **names, **values)
    if board.gap is not None:  # owners vs their customers (the 360° check)
        lines = [r.message("trainer.gap_title", participants=board.gap.participants)]
        lines += [r.message("trainer.gap_row", name=r.dimension(d),
                            gap=na if v is None else f"{round(v):+d}".replace("-", "−"))
                  for d, v in board.gap.gaps.items()]
        lines.append(r.message("trainer.gap_note"))
        text = text + Markup("\n\n") + Markup("\n").join(lines)
    if notice:
        text = Markup(notice) + Markup("\n\n") + text
    cid = cohort.id
    shown = ()
    if board.visible:
        shown = ((Button(_label(r, "chart"), ("tr", "chart", cid)),)
                 + ((Button(_label(r, "workshops"), ("tr", "ws", cid)),) if board.weakest
                    else ()),)
    rows = ((Button(_label(r, "refresh"), ("tr", "ref", cid)),),
            *shown,
            mode_buttons(r, cohort),
            (Button(_label(r, "csv"), ("tr", "csv", cid)),
             Button(_label(r, "qr"), ("tr", "qr", cid))),
            (Button(_label(r, "rename"), ("tr", "ren", cid)),)
            + ((Button(_label(r, "close"), ("tr", "close", cid)),) if cohort.open else ()),
            (Button(_label(r, "back"), ("tr", "list")),))
    return Screen(text, tuple(rows))


def workshop_messages(r: Renderer, weakest: tuple[str, ...]) -> list[str]:
    parts = [str(r.message("trainer.workshops_title"))]
    for d in weakest:
        w = r.texts.workshops.get(d)
        if w is None:
            continue
        sources = Markup("\n").join(r.source(s) for s in r.content.workshop_sources.get(d, ()))
        parts.append(str(r.message("trainer.workshop", dimension=r.dimension(d), title=w.title,
                                goal=w.goal, steps=w.steps, takeaway=w.takeaway,
                                sources=sources)))
    return _pack(parts) if len(parts) > 1 else []


def cohort_chart(r: Renderer, cohort: CohortInfo, board: Dashboard, date: str) -> ChartData:
    """The cohort's radar for a projector: titled with its name, who was averaged and when,
    the values on the axes; dashed, the start of the course once that is visible."""
    dims = r.content.bank.dimensions

    def values(a):
        return tuple(float(a.dimensions.get(d) or 0.0) for d in dims)

    series = [(str(r.message("trainer.chart_latest")), values(board.average), "solid")]
    if board.first is not None and board.change is not None:
        series.append((str(r.message("trainer.chart_start")), values(board.first), "dashed"))
    count = board.latest_count
    return ChartData(labels=tuple(r.model(f"dimensions.{d}.short") for d in dims),
                     series=tuple(series), locale=r.locale, title=cohort.name,
                     subtitle=html.unescape(str(r.message(
                         "trainer.chart_subtitle", counted=count.counted,
                         finished=count.finished, date=date))),
                     show_values=True, size="projector")


# --- /trainer and the menu ---------------------------------------------------------------------
async def trainer_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    user_id, locale = await h._user_locale(update, context)
    await _store(context).take_prompt(user_id)  # a fresh menu forgets a half-typed name
    r = h.coach_of(context).renderer(locale)
    await send(context, update.effective_chat.id, await menu_screen(context, user_id, r))


async def menu_tap(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    user_id, locale = await h._user_locale(update, context)
    r = h.coach_of(context).renderer(locale)
    kind = MENU_TAP.match(query.data).group(1)
    store = _store(context)
    if kind == "new":
        if not _may_create(context, user_id):
            await answer(query, r.message("trainer.not_allowed"), show_alert=True)
            return
        await store.set_prompt(user_id, "new")
        await answer(query)
        await _show(update, context, Screen(r.message("trainer.ask_name"), (
            (Button(_label(r, "cancel"), ("tr", "cancel")),),)))
        return
    await answer(query)
    if kind == "cancel":
        await store.take_prompt(user_id)
        screen = await menu_screen(context, user_id, r)
        await _show(update, context, Screen(r.message("trainer.cancelled"), screen.buttons))
    elif kind == "list":
        await _show(update, context, await list_screen(context, user_id, r))
    else:
        await _show(update, context, await menu_screen(context, user_id, r))


async def consume_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """A typed cohort name, if the bot asked this user for one; False leaves the message to
    others. While a name is awaited, anything else that is not a command (a sticker, a photo)
    is asked again for. The name is never logged."""
    tg_user = update.effective_user
    message = update.effective_message
    if tg_user is None or message is None or (message.text or "").startswith("/"):
        return False
    store = _store(context)
    pending = await store.prompt(tg_user.id)
    if pending is None:
        return False
    user_id, locale = await h._user_locale(update, context)
    r = h.coach_of(context).renderer(locale)
    chat_id = update.effective_chat.id
    name = clean_name(message.text) if message.text is not None else None
    if name is None:  # ask again; the marker stays
        await store.refuse_name(user_id, message.message_id)
        await send(context, chat_id, Screen(r.message("trainer.name_invalid"), (
            (Button(_label(r, "cancel"), ("tr", "cancel")),),)))
        return True
    if not await store.take_prompt(user_id):
        return True  # the same message handled elsewhere a moment ago
    kind, cohort_id = pending
    if kind == "new":
        if not _may_create(context, user_id):
            await send(context, chat_id, Screen(r.message("trainer.not_allowed")))
            return True
        cohort = await store.create(user_id, name, tg_user.first_name or "", message.message_id)
        log.info("cohort %s created", cohort.id)
        await send_link(update, context, cohort, r, created=True)
        return True
    cohort = await _authorised(context, user_id, cohort_id)
    if cohort is None:
        await send(context, chat_id, Screen(r.message("invalid")))
        return True
    await store.rename(cohort.id, name, message.message_id)
    await send_renamed(context, chat_id, cohort.id, r)
    return True


async def consume_edit(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An edited message (never a command, never a hint). Editing the message that named a
    cohort renames it (a typo fixed: no second cohort); editing a message sent while the bot
    waits for a name counts as typing that name. Any other edit changes nothing."""
    message = update.edited_message
    text = message.text
    if text is None or text.startswith("/"):
        return
    store = _store(context)
    user_id, locale = await h._user_locale(update, context)
    cohort = await store.named_by(user_id, message.message_id)
    if cohort is not None:
        name = clean_name(text)
        if name is None or name == cohort.name:
            return  # an edit that is no name keeps the one the cohort has
        await store.rename(cohort.id, name)
        await send_renamed(context, update.effective_chat.id, cohort.id,
                           h.coach_of(context).renderer(locale))
        return
    waiting = await store.prompt_since(user_id)
    if waiting is None:
        return
    asked, refused = waiting
    # The message refused as a name, or one sent after the question (Telegram's dates have
    # whole seconds: a message of the question's second may be older than it).
    if message.message_id == refused or message.date > asked.replace(microsecond=0):
        await consume_text(update, context)


async def send_renamed(context, chat_id: int, cohort_id: int, r: Renderer) -> None:
    """After a rename: the dashboard card under its new name, as a new message."""
    cohort = await _store(context).get(cohort_id)
    board = await _board(context, cohort)
    await send(context, chat_id, dashboard_screen(
        r, cohort, board, str(r.message("trainer.renamed", name=cohort.name))))


def created_screen(context, r: Renderer, cohort: CohortInfo) -> Screen:
    """The announcement of a new cohort: its link, what participants choose, and the
    assessment they take, with the buttons to change that."""
    link = link_for(context, cohort)
    mode = mode_name(r, cohort.mode)
    return Screen(
        r.message("trainer.created", name=cohort.name, link=link, trainer=cohort.trainer_name,
                  count=MIN_GROUP, mode_line=r.message("trainer.mode_line", mode=mode),
                  **consent_names(r)),
        (mode_buttons(r, cohort, "new"),
         (Button(_label(r, "dashboard"), ("tr", "dash", cohort.id)),),
         (Button(_label(r, "back"), ("tr", "list")),)))


async def send_link(update: Update, context, cohort: CohortInfo, r: Renderer,
                    created: bool = False) -> None:
    """The cohort's link as text (when just created), then the QR card as a photo: the code
    with the cohort's name above and the link below (rendered in a worker thread)."""
    chat_id = update.effective_chat.id
    link = link_for(context, cohort)
    if created:
        await send(context, chat_id, created_screen(context, r, cohort))
    await context.bot.send_chat_action(chat_id, ChatAction.UPLOAD_PHOTO)
    png = await asyncio.to_thread(
        qr_png, link, name=cohort.name, caption=html.unescape(str(r.message("trainer.qr_scan"))),
        link=link.removeprefix("https://"), locale=r.locale)
    await context.bot.send_photo(chat_id, png, caption=r.message("trainer.qr_caption",
                                                              name=cohort.name, link=link),
                                 parse_mode=HTML)


# --- one cohort --------------------------------------------------------------------------------
async def cohort_tap(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    user_id, locale = await h._user_locale(update, context)
    r = h.coach_of(context).renderer(locale)
    kind, raw_id = COHORT_TAP.match(query.data).groups()
    cohort_id = int(raw_id)
    if kind == "leave":
        await leave(update, context, cohort_id, r)
        return
    cohort = await _authorised(context, user_id, cohort_id)
    if cohort is None:  # not theirs, or no such cohort: the same answer, nothing done
        await answer(query, r.message("invalid"))
        return
    store = _store(context)
    if kind in ("full", "quick", "newfull", "newquick"):
        mode = kind.removeprefix("new")
        await store.set_mode(cohort.id, mode)
        cohort = await store.get(cohort.id)
        await answer(query, r.message("trainer.mode_set", mode=mode_name(r, mode)))
        if kind.startswith("new"):
            await _show(update, context, created_screen(context, r, cohort))
        else:
            await _show(update, context, dashboard_screen(r, cohort,
                                                          await _board(context, cohort)))
        return
    if kind in ("dash", "ref"):
        board = await _board(context, cohort)
        await answer(query, r.message("trainer.refreshed", finished=board.finished)
                     if kind == "ref" else None)
        await _show(update, context, dashboard_screen(r, cohort, board))
        return
    if kind in ("chart", "ws"):
        await send_extra(update, context, cohort, r, kind)
        return
    await answer(query)
    if kind == "csv":
        await send_csv(update, context, cohort, r)
    elif kind == "qr":
        await send_link(update, context, cohort, r)
    elif kind == "ren":
        await store.set_prompt(user_id, "rename", cohort.id)
        await _show(update, context, Screen(r.message("trainer.ask_rename", name=cohort.name), (
            (Button(_label(r, "cancel"), ("tr", "cancel")),),)))
    elif kind == "close":
        await _show(update, context, Screen(r.message("trainer.close_confirm", name=cohort.name), (
            (Button(_label(r, "close_confirm"), ("tr", "closeok", cohort.id)),
             Button(_label(r, "cancel"), ("tr", "dash", cohort.id))),)))
    elif kind == "closeok":
        await store.close(cohort.id)
        await _show(update, context, Screen(r.message("trainer.closed", name=cohort.name), (
            (Button(_label(r, "refresh"), ("tr", "dash", cohort.id)),),
            (Button(_label(r, "back"), ("tr", "list")),))))


async def _board(context, cohort: CohortInfo) -> Dashboard:
    bank = h.coach_of(context).content.bank
    return await _store(context).dashboard(cohort.id, bank.dimensions, tuple(bank.indices))


async def send_extra(update: Update, context, cohort: CohortInfo, r: Renderer,
                     kind: str) -> None:
    """The chart (kind "chart") or the workshop ideas ("ws"): sent once per tap, as new
    messages under the dashboard card. While the group's figures are hidden (someone left
    since the card was drawn), the tap is answered with the numbers instead."""
    from bot.chart import render_off_loop

    query = update.callback_query
    board = await _board(context, cohort)
    if not board.visible:
        await answer(query, to_plain(counted_lines(r, board.latest_count)[0]), show_alert=True)
        return
    if kind == "ws" and not board.weakest:
        await answer(query, r.message("trainer.level"), show_alert=True)
        return
    await answer(query)
    chat_id = update.effective_chat.id
    if kind == "ws":
        for text in workshop_messages(r, board.weakest):
            await context.bot.send_message(chat_id, text, parse_mode=HTML)
        return
    try:
        await context.bot.send_chat_action(chat_id, ChatAction.UPLOAD_PHOTO)
        png = await render_off_loop(cohort_chart(r, cohort, board,
                                                 await _today(context, update, r)))
        await context.bot.send_photo(chat_id, png, parse_mode=HTML, caption=r.message(
            "trainer.chart_caption", name=cohort.name, counted=board.latest_count.counted,
            finished=board.finished, change=board.change is not None))
    except Forbidden:
        raise
    except (TelegramError, OSError, ValueError, RuntimeError) as exc:
        log.warning("cohort chart not delivered: %s", type(exc).__name__)


async def _today(context, update: Update, r: Renderer) -> str:
    """Today's date where the trainer is (their time zone, else the operator's), as CLDR
    writes it in the trainer's language: "Dec 1, 2026", "2026年12月1日"."""
    zone = await h.coaching_of(context).zone_of(update.effective_user.id) \
        or _settings(context).timezone
    try:
        where = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        where = ZoneInfo("UTC")
    return format_date(datetime.now(where).date(), format="medium",
                       locale=babel_locale(r.locale))


async def send_csv(update: Update, context, cohort: CohortInfo, r: Renderer) -> None:
    """The CSV: headers in the trainer's language over a row of the stable ids."""
    bank = h.coach_of(context).content.bank
    store = _store(context)
    indices = tuple(bank.indices)
    board = await store.dashboard(cohort.id, bank.dimensions, indices)
    rows = await store.finished(cohort.id, bank.dimensions, indices, detail=True, share_only=True)
    contexts = await store.contexts(cohort.id)

    def words(question_id: str, option_id: str) -> str:
        try:
            return r.context_option(question_id, option_id)
        except KeyError:  # an option removed from the content since: keep its id
            return option_id

    def names(key: str) -> str:
        if key in bank.dimensions:
            return r.dimension(key)
        if key in bank.indices:
            return r.model(f"indices.{key}")
        if any(q.id == key for q in bank.context):
            return r.model(f"context.{key}.short").rstrip(":：")
        try:
            return html.unescape(str(r.message(f"trainer.csv.{key}")))
        except KeyError:
            return key

    data = csv_document(rows, board, bank.dimensions, indices,
                        [q.id for q in bank.context], contexts, words, names)
    chat_id = update.effective_chat.id
    count = board.latest_count
    await context.bot.send_chat_action(chat_id, ChatAction.UPLOAD_DOCUMENT)
    await context.bot.send_document(
        chat_id, data, filename=f"{r.message('trainer.csv_filename')}-{cohort.id}.csv",
        caption=r.message("trainer.csv_caption", name=cohort.name, min_group=MIN_GROUP,
                          visible=board.visible, counted=count.counted,
                          finished=count.finished, waiting=count.waiting, **consent_names(r)),
        parse_mode=HTML)


# --- participants --------------------------------------------------------------------------------
async def join_prompt(update: Update, context: ContextTypes.DEFAULT_TYPE, payload: str) -> bool:
    """/start c_<code>: the consent question (True), or a clear "no such group" (False: the
    caller goes on with the normal start)."""
    user_id, locale = await h._user_locale(update, context)
    r = h.coach_of(context).renderer(locale)
    code = code_from_payload(payload)
    cohort = await _store(context).by_code(code) if code else None
    if cohort is None or not cohort.open:
        await update.effective_message.reply_html(r.message("trainer.join_unknown"))
        return False
    names = consent_names(r)
    screen = Screen(r.message("trainer.join_ask", name=cohort.name, trainer=cohort.trainer_name,
                              min_group=MIN_GROUP, mode=mode_name(r, cohort.mode), **names), (
        (Button(_label(r, "join_share", **names), ("cj", cohort.code, "s")),),
        (Button(_label(r, "join_aggregate", **names), ("cj", cohort.code, "a")),),
        (Button(_label(r, "join_no"), ("cj", cohort.code, "n")),),
    ))
    await send(context, update.effective_chat.id, screen)
    return True


async def join_tap(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The consent answer; then straight into the assessment the trainer chose for the cohort
    (a participant in the middle of one gets the start screen instead, to go on or restart)."""
    query = update.callback_query
    coach = h.coach_of(context)
    user_id, locale = await h._user_locale(update, context)
    r = coach.renderer(locale)
    code, choice = JOIN_TAP.match(query.data).groups()
    store = _store(context)
    cohort = await store.by_code(code)
    await answer(query)
    record = await coach.open_assessment(user_id)
    joined = False
    if cohort is None or not cohort.open:
        text = r.message("trainer.join_unknown")
    elif choice == "n":
        await store.leave(cohort.id, user_id)  # "don't join" also undoes an earlier join
        text = r.message("trainer.join_declined")
    else:
        consent = "share" if choice == "s" else "aggregate"
        joined = await store.join(cohort.id, user_id, consent)
        text = r.message(f"trainer.joined_{consent}", name=cohort.name,
                         mode=mode_name(r, cohort.mode), starting=record is None,
                         **consent_names(r)) if joined else r.message("trainer.join_unknown")
    await edit(query, Screen(text))
    chat_id = update.effective_chat.id
    if joined and record is None:
        record = await coach.start(user_id, cohort.mode)
        message = await send(context, chat_id, coach.step_screen(record, locale),
                             record.state.id)
        await coach.store.set_message(record.state.id, message.message_id)
        return
    await send(context, chat_id, coach.welcome(locale, update.effective_user.first_name, record))


async def privacy_screen(context, user_id: int, locale: str) -> Screen:
    """/privacy: what is stored, and the user's cohorts with a "leave" button each."""
    r = h.coach_of(context).renderer(locale)
    memberships = await _store(context).memberships(user_id)
    text = r.message("privacy", cohorts=bool(memberships), **consent_names(r))
    given = await _given_lines(context, user_id, r)
    if given:
        text = text + Markup("\n\n") + given
    if not memberships:
        return Screen(text)
    lines = [r.message("trainer.privacy_cohorts")] + [
        r.message("trainer.privacy_cohort", name=m.cohort.name, trainer=m.cohort.trainer_name,
                  share=m.consent == "share", **consent_names(r)) for m in memberships]
    buttons = tuple((Button(_label(r, "leave", name=m.cohort.name), ("tr", "leave", m.cohort.id)),)
                    for m in memberships)
    return Screen(text + Markup("\n\n") + Markup("\n").join(lines), buttons)


async def _given_lines(context, user_id: int, r: Renderer) -> Markup:
    """/privacy's lines on what this person gave other businesses (the 360° check): customer
    pulses and team answers, by business name; "" when none."""
    from bot.storage.feedback import FeedbackStore

    fb = FeedbackStore(h.coach_of(context).store.engine)
    pulses, staff = await fb.given(user_id), await fb.staff_given(user_id)
    if not pulses and not staff:
        return Markup("")
    unnamed = r.message("feedback.this_business")
    lines = [r.message("feedback.privacy_title")]
    lines += [r.message("feedback.privacy_pulse", name=p.business_name or unnamed)
              for p in pulses]
    lines += [r.message("feedback.privacy_staff", name=name or unnamed, finished=done)
              for name, done in staff]
    return Markup("\n").join(lines)


async def leave(update: Update, context, cohort_id: int, r: Renderer) -> None:
    query = update.callback_query
    user_id = update.effective_user.id
    store = _store(context)
    cohort = await store.get(cohort_id)
    if cohort is None or not await store.leave(cohort_id, user_id):
        await answer(query, r.message("invalid"))
        return
    await answer(query)
    await send(context, update.effective_chat.id,
                  Screen(r.message("trainer.left", name=cohort.name)))
