"""Phone mocks of what an owner sees: a question and the result card, in en and zh-Hans.

    uv run python docs/phone_mock.py [OUT_DIR]      # needs `chromium` (apt-get install chromium)

The real bot (the Application, on the in-process fake Bot API and a throwaway SQLite file) takes
a café owner through the full assessment; the screens it sent are drawn as an approximation of
Telegram for iOS on a 390 x 844 pt phone, with the metrics of bot/content/layout.py (17 px text,
46 px button rows, 670 px of visible chat), and screenshotted with headless Chromium. Latin text
is drawn in DejaVu Sans and Chinese in the project's Coach Sans, the fonts the layout model
measures with. Writes phone-question-<locale>.png and phone-result-<locale>.png.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import html
import itertools
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from telegram import Update  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.content import layout, load_content  # noqa: E402
from bot.fake_telegram import FakeTelegram, buttons  # noqa: E402
from bot.fonts import font_path, symbol_font_path  # noqa: E402
from bot.storage import Store  # noqa: E402
from bot.telegram.app import build_application  # noqa: E402

LOCALES = {"en": "en", "zh-Hans": "zh-hans"}
QUESTION_AT = 6  # the sixth question of the café's full assessment
_ids = itertools.count(1)


class Owner:
    def __init__(self, app, telegram: FakeTelegram, user_id: int, code: str):
        self.app, self.telegram, self.id, self.code = app, telegram, user_id, code

    def _user(self) -> dict:
        return {"id": self.id, "is_bot": False, "first_name": "Ann" if self.code == "en"
                else "小林", "language_code": self.code}

    async def send(self, text: str) -> None:
        message = {"message_id": next(_ids) + 10_000, "date": int(time.time()),
                   "chat": {"id": self.id, "type": "private"}, "from": self._user(),
                   "text": text}
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text)}]
        await self.app.process_update(Update.de_json(
            {"update_id": next(_ids), "message": message}, self.app.bot))

    async def press(self, data: str) -> None:
        screen = self.telegram.last_with_buttons(self.id)
        query = {"id": f"q{next(_ids)}", "from": self._user(), "chat_instance": "c",
                 "data": data, "message": {"message_id": screen.message_id,
                                           "date": int(time.time()),
                                           "chat": {"id": self.id, "type": "private"},
                                           "text": screen.text}}
        await self.app.process_update(Update.de_json(
            {"update_id": next(_ids), "callback_query": query}, self.app.bot))

    def data(self, *prefixes: str, index: int = 0) -> str:
        found = [d for _, d in buttons(self.telegram.last_with_buttons(self.id))
                 if d.startswith(prefixes)]
        return found[index]


async def walk(locale: str, code: str, directory: Path) -> dict:
    """A café owner's full assessment; the question screen and the report as sent."""
    telegram = FakeTelegram()
    store = await Store.open(f"sqlite+aiosqlite:///{directory / f'{locale}.db'}")
    app = build_application(Settings(bot_token="123:TEST", _env_file=None), load_content(),
                            store, request=telegram)
    await app.initialize()
    owner = Owner(app, telegram, 5000 + len(locale), code)
    await owner.send("/start")
    await owner.press("new:full")
    for option in ("cafe", "t2_5", "in_person"):
        await owner.press(owner.data("ctx:").rsplit(":", 1)[0] + f":{option}")
    await owner.press(owner.data("ok:"))
    await owner.press(owner.data("ctx:").rsplit(":", 1)[0] + ":integrity")
    await owner.press(owner.data("ok:"))
    question = None
    pattern = (1, 2, 0, 3, 1, 2, 4, 1)
    for n in itertools.count():
        screen = telegram.last_with_buttons(owner.id)
        kinds = {d.split(":")[0] for _, d in buttons(screen)}
        if "ans" not in kinds and "ev" not in kinds:
            break
        if n == QUESTION_AT and "ans" in kinds:
            question = dataclasses.replace(screen)  # the message is edited on: keep this one
        if "ev" in kinds:
            await owner.press(owner.data("ev:", index=n % 2))
            continue
        answers = [d for d in (d for _, d in buttons(screen)) if d.startswith("ans:")]
        pick = answers[pattern[n % len(pattern)]] if n != 9 else \
            next(d for d in answers if d.endswith(":unsure"))
        await owner.press(pick)
    photo = telegram.called("sendPhoto")[-1]
    chart = photo.files["photo"][1]
    report = telegram.last_with_buttons(owner.id)
    before = [m for m in telegram.chat(owner.id) if m.message_id < report.message_id][-1]
    await app.shutdown()
    await store.close()
    return {"question": question, "report": report, "chart": chart, "before": before}


# --- drawing ---------------------------------------------------------------------------------
CSS = """
@font-face { font-family: CoachSC; src: url("%(sc)s"); unicode-range: %(cjk)s; }
@font-face { font-family: CoachSC; font-weight: bold; src: url("%(scb)s");
             unicode-range: %(cjk)s; }
@font-face { font-family: DejaVu; src: url("%(dv)s"); }
@font-face { font-family: DejaVu; font-weight: bold; src: url("%(dvb)s"); }
* { box-sizing: border-box; margin: 0; padding: 0; }
body { width: 390px; height: 844px; overflow: hidden; background: #fff;
       font-family: CoachSC, DejaVu, "Noto Color Emoji", sans-serif; }
.status { height: 47px; display: flex; justify-content: space-between; align-items: center;
          padding: 0 28px; font: bold 15px DejaVu; }
.header { height: 53px; border-bottom: 1px solid #d8d8dc; display: flex; align-items: center;
          justify-content: center; flex-direction: column; background: #f7f7f8; }
.header b { font: bold 16px CoachSC, DejaVu; } .header small { color: #8e8e93; font-size: 10px; }
.chat { position: relative; height: 670px; overflow: hidden;
        background: linear-gradient(160deg, #cfe3c8, #a9cf9e); }
.stack { position: absolute; bottom: 8px; left: 16px; right: 16px; }
.bubble { background: #fff; border-radius: 16px; padding: 8px 12px; font-size: 17px;
          line-height: 1.3; color: #000; width: 358px; overflow-wrap: anywhere; }
.bubble.user { background: #dcf8c6; width: auto; margin-left: auto; max-width: 280px; }
.bubble.photo { padding: 0; overflow: hidden; }
.bubble.photo img { width: 358px; height: 358px; display: block; background: #fff; }
.bubble.photo .caption { padding: 8px 12px; }
.gap { height: 10px; }
.keyboard { margin-top: 6px; }
.row { display: flex; gap: 6px; margin-bottom: 6px; }
.button { flex: 1 1 0; height: 46px; border-radius: 10px; background: rgba(40, 70, 40, .45);
          color: #fff; font: 600 16px CoachSC, DejaVu, "Noto Color Emoji"; display: flex;
          align-items: center; justify-content: center; padding: 0 8px; white-space: nowrap;
          overflow: hidden; text-overflow: ellipsis; min-width: 0; }
.button span { overflow: hidden; text-overflow: ellipsis; }
blockquote { border-left: 3px solid #3d8c3d; padding-left: 10px; margin: 4px 0;
             background: #eef6ee; border-radius: 4px; }
blockquote.expandable { max-height: calc(3 * 1.3em); overflow: hidden; position: relative; }
code { font-family: "DejaVu Sans Mono", monospace; font-size: 15px; }
.input { height: 74px; border-top: 1px solid #d8d8dc; background: #f7f7f8; display: flex;
         align-items: flex-start; padding: 8px 12px; }
.input div { flex: 1; height: 34px; border-radius: 17px; border: 1px solid #d0d0d5;
             background: #fff; color: #aaa; font-size: 16px; padding: 6px 14px; }
"""


def telegram_html(text: str) -> str:
    """Telegram HTML as the browser should show it: line breaks, an expandable quote closed."""
    text = text.replace('<blockquote expandable>', '<blockquote class="expandable">')
    text = re.sub(r"\n?(<blockquote[^>]*>)", r"\1", text)
    text = re.sub(r"(</blockquote>)\n?", r"\1", text)
    return text.replace("\n", "<br>")


def keyboard(markup: dict | None) -> str:
    if not markup:
        return ""
    rows = []
    for row in markup["inline_keyboard"]:
        cells = "".join(f'<div class="button"><span>{html.escape(b["text"])}</span></div>'
                        for b in row)
        rows.append(f'<div class="row">{cells}</div>')
    return f'<div class="keyboard">{"".join(rows)}</div>'


def page(title: str, body: str, note: str) -> str:
    files = {"sc": font_path("SC").as_uri(), "scb": font_path("SC", "Bold").as_uri(),
             "cjk": "U+2E80-9FFF, U+F900-FAFF, U+FF00-FF65, U+FFE0-FFE6",
             "dv": symbol_font_path().as_uri(), "dvb": symbol_font_path("Bold").as_uri()}
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><style>{CSS % files}</style>"
            f"</head><body><div class='status'><span>9:41</span><span>●●● ▮</span></div>"
            f"<div class='header'><b>{html.escape(title)}</b>"
            f"<small>{html.escape(note)}</small></div>"
            f"<div class='chat'><div class='stack'>{body}</div></div>"
            f"<div class='input'><div>Message</div></div></body></html>")


def question_page(shot: dict, locale: str) -> str:
    q = shot["question"]
    m = layout.measure(q.text, [[b["text"] for b in row]
                                for row in q.reply_markup["inline_keyboard"]], locale)
    body = (f'<div class="bubble">{telegram_html(q.text)}</div>'
            f'{keyboard(q.reply_markup)}')
    note = (f"iOS approximation · 390×844 · this screen {m.height:.0f} of "
            f"{layout.VISIBLE_HEIGHT} px")
    return page("Trust & CX coach", body, note)


def result_page(shot: dict, locale: str) -> str:
    report = shot["report"]
    chart = base64.b64encode(shot["chart"]).decode()
    before = shot["before"]
    rows = len(report.reply_markup["inline_keyboard"])
    caption_height = layout.bubble_height(report.text, locale) + layout.keyboard_height(rows)
    body = (f'<div class="bubble">{telegram_html(before.text)}</div><div class="gap"></div>'
            f'<div class="bubble photo"><img src="data:image/png;base64,{chart}">'
            f'<div class="caption">{telegram_html(report.text)}</div></div>'
            f'{keyboard(report.reply_markup)}')
    note = (f"iOS approximation · card {caption_height:.0f} of {layout.VISIBLE_HEIGHT} px · "
            f"caption {layout.telegram_length(report.text)}/1024 chars")
    return page("Trust & CX coach", body, note)


def screenshot(markup: str, out: Path, chromium: str) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".html", delete=False,
                                     encoding="utf-8") as f:
        f.write(markup)
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--hide-scrollbars",
                    "--force-device-scale-factor=2", f"--screenshot={out}",
                    "--window-size=390,844", Path(f.name).as_uri()],
                   check=True, capture_output=True, timeout=120)
    from PIL import Image  # 256 colours: a third of the bytes, no visible loss for a mock

    with Image.open(out) as image:
        image.convert("RGB").quantize(256, dither=Image.Dither.NONE).save(out, optimize=True)


def main(out: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("needs chromium: apt-get install chromium")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        for locale, code in LOCALES.items():
            shot = asyncio.run(walk(locale, code, Path(scratch)))
            screenshot(question_page(shot, locale), out / f"phone-question-{locale}.png",
                       chromium)
            screenshot(result_page(shot, locale), out / f"phone-result-{locale}.png", chromium)
            print(json.dumps({"locale": locale, "question": shot["question"].text[:60]},
                             ensure_ascii=False))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "images")
