"""callback_data <-> abstract actions. At most 64 bytes; every field is validated on the way in.

Assessment buttons carry the assessment id and the step position (and the option), so a tap
can be checked against the database before anything is written:
  ans:<aid>:<pos>:<option>   ev:<aid>:<pos>:<y|n>   rv:<aid>:<pos>:<y|n>   ctx:<aid>:<pos>:<option>
  ok:<aid>:<pos>
  back:<aid>:<pos>   pause:<aid>:<pos>   go:<aid>
Other buttons: new:<full|quick>[:n]   lang   lang:<locale>   doc:<aid>   plan:<aid|0>   del:<yes|no>
  rep   pa:<plan action>:<0|1>   rem:<aid>:<0|7|30>   ci:<reminder>:<done|work|stop>
  cid:<reminder>:<plan action> (the action a check-in's "Done" was about)
  pri:<aid>:<number>[:n] (the report's priority `number`; n: in a new message)
  chk:<aid> (the report's check-in offer)
  learn:<dimension>   tz:<IANA zone>[:<aid>:<7|30>]   tzo[:<aid>:<7|30>]
  (tz carries the zone chosen and, when a check-in waits for it, that check-in; tzo asks for the
  time on the user's clock)
Every number must fit the INTEGER column it names (assessments, plan actions, reminders, cohorts:
at most 2^31 - 1): callback data with a larger one is not ours, like any other garbage (a short
notice, nothing done), never a database error.
"""

from __future__ import annotations

import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, TelegramObject

from bot.content.render import Button

MAX_BYTES = 64
MAX_ID = (1 << 31) - 1  # PostgreSQL INTEGER; SQLite would take more, PostgreSQL raises DataError
_ID = r"(\d{1,12})"
# Item option ids have at most 10 characters, context option ids up to 20 ("marketplace",
# "customer_perspective"): a tighter limit made those buttons dead ("not available here").
_OPT = r"([a-z0-9_]{1,32})"
PATTERNS = {
    "ans": re.compile(rf"^ans:{_ID}:{_ID}:{_OPT}$"),
    "ev": re.compile(rf"^ev:{_ID}:{_ID}:([yn])$"),
    "rv": re.compile(rf"^rv:{_ID}:{_ID}:([yn])$"),  # a retake: the same business (y) or not
    "ctx": re.compile(rf"^ctx:{_ID}:{_ID}:{_OPT}$"),
    "ok": re.compile(rf"^ok:{_ID}:{_ID}$"),
    "back": re.compile(rf"^back:{_ID}:{_ID}$"),
    "pause": re.compile(rf"^pause:{_ID}:{_ID}$"),
    "go": re.compile(rf"^go:{_ID}$"),
    "new": re.compile(r"^new:(full|quick)(?::(n))?$"),  # n: in a new message
    "lang": re.compile(r"^lang(?::(en|zh-Hans|zh-Hant))?$"),
    "doc": re.compile(rf"^doc:{_ID}$"),
    "plan": re.compile(rf"^plan:{_ID}$"),
    "del": re.compile(r"^del:(yes|no)$"),
    "pa": re.compile(rf"^pa:{_ID}:([01])$"),
    "rem": re.compile(rf"^rem:{_ID}:(0|7|30)$"),
    "ci": re.compile(rf"^ci:{_ID}:(done|work|stop)$"),
    "cid": re.compile(rf"^cid:{_ID}:{_ID}$"),
    "pri": re.compile(rf"^pri:{_ID}:(\d{{1,2}})(?::(n))?$"),
    "chk": re.compile(rf"^chk:{_ID}$"),
    "learn": re.compile(r"^learn:([a-z_]{1,30})$"),
    "rep": re.compile(r"^rep$"),
    "tz": re.compile(rf"^tz:([A-Za-z][A-Za-z0-9_+/-]{{0,39}})(?::{_ID}:(7|30))?$"),
    "tzo": re.compile(rf"^tzo(?::{_ID}:(7|30))?$"),
}
ASSESSMENT_TAPS = ("ans", "ev", "rv", "ctx", "ok", "back", "pause")


def encode(action: tuple) -> str:
    data = ":".join(str(part) for part in action)
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"callback data over {MAX_BYTES} bytes: {data!r}")
    return data


def decode(data: str | None) -> tuple | None:
    """The action of a callback, or None for anything that is not one of ours."""
    if not data or len(data.encode()) > MAX_BYTES:
        return None
    kind = data.split(":", 1)[0]
    pattern = PATTERNS.get(kind)
    match = pattern.match(data) if pattern else None
    if match is None or not ids_fit(match.groups()):
        return None
    parts = [int(g) if g and g.isdigit() else g for g in match.groups() if g is not None]
    return (kind, *parts)


def ids_fit(groups) -> bool:
    """Every all-digit group of a match is a possible row id."""
    return all(int(g) <= MAX_ID for g in groups if g and g.isdigit())


class matcher:  # noqa: N801 (used like a function: pattern=matcher(...))
    """A CallbackQueryHandler pattern: the regex matches and every number in it fits its column.
    Anything else falls through to the catch-all (`handlers.unknown_tap`). `.pattern` is the
    regex's source, as on a compiled pattern."""

    def __init__(self, regex: re.Pattern) -> None:
        self.regex, self.pattern = regex, regex.pattern

    def __call__(self, data: object) -> bool:
        if not isinstance(data, str) or len(data.encode()) > MAX_BYTES:
            return False
        found = self.regex.match(data)
        return found is not None and ids_fit(found.groups())


def with_assessment(action: tuple, assessment_id: int) -> tuple:
    """Renderers know positions, not ids: put the assessment id into assessment buttons."""
    if action[0] in ASSESSMENT_TAPS:
        return (action[0], assessment_id, *action[1:])
    return action


_BUTTONS = InlineKeyboardMarkup.inline_keyboard  # the slot PTB's own __init__ fills


class Keyboard(InlineKeyboardMarkup):
    """An InlineKeyboardMarkup that keeps its Bot API form, made with its buttons.

    PTB turns a markup into JSON through its generic `to_dict`, which walks every attribute of
    every button (~300 us of a tap's CPU for a question's keyboard), and building the nine
    InlineKeyboardButton objects of a question cost ~5% of a tap although only their JSON is
    ever sent. Ours are text buttons with callback data or a URL, so the form is known:
    `to_dict` returns it, and the PTB buttons (`inline_keyboard`) are made only if
    something reads them."""

    __slots__ = ("_form",)

    def __init__(self, rows: list[list[dict[str, str]]]) -> None:
        TelegramObject.__init__(self)  # InlineKeyboardMarkup's own would build every button
        self._form = rows
        self._freeze()

    @property
    def inline_keyboard(self) -> tuple[tuple[InlineKeyboardButton, ...], ...]:
        try:
            return _BUTTONS.__get__(self, Keyboard)
        except AttributeError:  # first read: made from the form, then kept
            buttons = tuple(tuple(InlineKeyboardButton(**button) for button in row)
                            for row in self._form)
            _BUTTONS.__set__(self, buttons)
            return buttons

    @property
    def _id_attrs(self) -> tuple:  # equality and hashing, as PTB's: by the buttons
        return (self.inline_keyboard,)

    @_id_attrs.setter
    def _id_attrs(self, value) -> None:  # TelegramObject.__init__ sets (); ours is derived
        pass

    def to_dict(self, recursive: bool = True) -> dict:
        # The form itself, not a copy: made for this keyboard alone (keyboard()), and PTB
        # only serialises it.
        return {"inline_keyboard": self._form}


def keyboard(rows, assessment_id: int | None = None) -> InlineKeyboardMarkup | None:
    """The inline keyboard of rows of Buttons (None for none); `assessment_id` goes into each
    action that names an assessment (with_assessment)."""
    if not rows:
        return None
    return Keyboard([
        [{"text": b.label, "url": b.url} if b.url else {
            "text": b.label,
            "callback_data": encode(with_assessment(b.action, assessment_id)
                                    if assessment_id is not None else b.action)}
         for b in row]
        for row in rows
    ])


__all__ = ["Button", "Keyboard", "decode", "encode", "keyboard", "matcher"]
