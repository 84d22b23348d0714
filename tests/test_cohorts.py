"""The pure cohort logic: codes, names, averages, the >= 5 rule, deltas and the CSV."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime, timedelta

import pytest

from bot.cohorts import (
    CODE_RE,
    MIN_GROUP,
    Counting,
    Finished,
    clean_name,
    code_from_payload,
    csv_document,
    dashboard,
    new_code,
    qr_png,
    room_average,
    values_of,
    weakest,
)

DIMS = ("integrity", "ability", "affinity", "consistency", "customer_perspective",
        "systems_thinking", "innovation", "emotion")
INDICES = ("trust", "cx")
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def snapshot(value: float, **overrides: float | None) -> dict:
    dims = {d: value for d in DIMS} | overrides
    trust = [dims[d] for d in DIMS[:4] if dims[d] is not None]
    cx = [dims[d] for d in DIMS[4:] if dims[d] is not None]
    return {"dimensions": dims, "indices": {"trust": sum(trust) / len(trust),
                                            "cx": sum(cx) / len(cx)},
            "overall": sum(trust + cx) / len(trust + cx), "level": "emerging"}


def row(member: int, value: float, day: int = 0, consent: str = "share", aid: int | None = None,
        **overrides) -> Finished:
    return Finished(member, consent, aid or member * 100 + day,
                    values_of(snapshot(value, **overrides), DIMS, INDICES),
                    T0 + timedelta(days=day), "en", "quick")


def in_order(rows: list[Finished]) -> list[Finished]:
    """As the query returns them: by member, in finishing order."""
    return sorted(rows, key=lambda r: (r.member, r.finished_at, r.assessment_id))


def test_codes_are_unguessable_and_deep_link_safe():
    codes = {new_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert CODE_RE.match(code) and len(code) == 22  # 16 random bytes = 128 bits
        assert len("c_" + code) <= 64
        assert code_from_payload("c_" + code) == code
    assert code_from_payload("c_short") is None
    assert code_from_payload("c_" + "A" * 63) is None
    assert code_from_payload("c_AAAAAAAAAAAAAAAAAAAA<b>") is None
    assert code_from_payload("AAAAAAAAAAAAAAAAAAAAAAAA") is None


def test_names():
    assert clean_name("  Café owners 春季班 ☕ ") == "Café owners 春季班 ☕"
    assert clean_name("x" * 60) == "x" * 60
    for bad in ("", "   ", "x" * 61, "two\nlines", "tab\there", "bell\x07", "rtl\u202eoverride"):
        assert clean_name(bad) is None


def test_below_five_nothing_is_aggregated():
    rows = [row(m, 50) for m in range(1, MIN_GROUP)]
    board = dashboard(rows, DIMS, INDICES, joined=7, started=6)
    assert (board.joined, board.started, board.finished, board.shared) == (7, 6, 4, 4)
    assert board.average is None and board.weakest == () and board.change is None
    assert not board.visible
    assert room_average(rows, DIMS, INDICES) is None


def test_at_five_the_average_of_each_latest_result():
    rows = [row(m, 40) for m in range(1, 5)]
    rows.append(row(5, 20, day=0))
    rows.append(row(5, 90, day=3))  # member 5's latest result counts, once
    board = dashboard(rows, DIMS, INDICES, joined=5, started=5)
    assert board.finished == 5 and board.shared == 5 and board.visible
    assert board.average.participants == 5
    assert board.average.dimensions["integrity"] == round((40 * 4 + 90) / 5, 1)
    assert board.average.indices["trust"] == 50.0 and board.average.overall == 50.0
    assert room_average(rows, DIMS, INDICES).dimensions == board.average.dimensions


def test_weakest_three_skip_missing_and_break_ties_in_bank_order():
    averages = {"integrity": 30.0, "ability": 20.0, "affinity": 20.0, "consistency": None,
                "customer_perspective": 80.0, "systems_thinking": 10.0, "innovation": 90.0,
                "emotion": 95.0}
    assert weakest(averages, DIMS) == ("systems_thinking", "ability", "affinity")


def test_not_applicable_dimensions_are_left_out_of_the_mean():
    rows = [row(m, 60, customer_perspective=None if m < 3 else 30.0) for m in range(1, 6)]
    board = dashboard(rows, DIMS, INDICES, 5, 5)
    assert board.average.dimensions["customer_perspective"] == 30.0
    assert board.weakest[0] == "customer_perspective"


def test_start_of_course_vs_latest_needs_five_retakers():
    rows = [row(m, 25, day=0) for m in range(1, 7)]
    rows += [row(m, 50, day=7, integrity=75.0) for m in range(1, 5)]  # four retook it
    board = dashboard(rows, DIMS, INDICES, 6, 6)
    assert board.retakers == 4 and board.change is None
    rows.append(row(5, 45, day=9))
    rows.append(row(5, 50, day=8, integrity=75.0))
    board = dashboard(in_order(rows), DIMS, INDICES, 6, 6)
    assert board.retakers == 5 and board.change.participants == 5
    assert board.change.dimensions["ability"] == round((25 * 4 + 20) / 5, 1)
    assert board.change.dimensions["integrity"] == round((50 * 4 + 20) / 5, 1)
    assert board.first.dimensions["ability"] == 25.0
    assert board.average.participants == 6  # the average still covers everyone


def localise(question: str, option: str) -> str:
    return {"cafe": "咖啡馆", "retail": "零售"}.get(option, option)


def test_csv_rows_only_for_sharers_with_bom_and_chinese():
    rows = [row(m, 50, consent="share" if m <= 3 else "aggregate") for m in range(1, 9)]
    rows = in_order([*rows, row(1, 70, day=5)])
    contexts = {r.assessment_id: {"sector": ("cafe",), "channels": ("in_person", "online")}
                for r in rows}
    board = dashboard(rows, DIMS, INDICES, 8, 8)
    data = csv_document(rows, board, DIMS, INDICES, ("sector", "team_size", "channels"),
                        contexts, localise)
    assert data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert table[0] == ["participant", "assessment", "date", "language", "mode", "sector",
                        "team_size", "channels", *DIMS, "trust", "cx", "overall"]
    body = [r for r in table[1:] if r and r[0].isdigit()]
    assert [r[0] for r in body] == ["1", "1", "2", "3"]  # members 4-8: aggregates only
    assert body[0][2] == "2026-03-01" and body[0][5] == "咖啡馆"
    assert body[0][7] == "in_person; online"
    assert body[1][8] == "70.0"
    assert table[1] == table[0]  # without the trainer's words: the ids twice
    average = next(r for r in table if r[2:3] == ["average_latest"])
    assert average[1] == "8" and average[8] == str(round((50 * 7 + 70) / 8, 1))
    assert any(r[2:3] == ["change_hidden"] for r in table)


def test_csv_hides_aggregates_below_five():
    rows = [row(m, 50) for m in range(1, 4)]
    board = dashboard(rows, DIMS, INDICES, 3, 3)
    text = csv_document(rows, board, DIMS, INDICES, (), {}, localise).decode("utf-8-sig")
    assert "average_latest" not in text and "average_hidden,3,average_hidden" in text
    assert len([r for r in csv.reader(io.StringIO(text)) if r and r[0].isdigit()]) == 3


def test_ten_thousand_participants_quickly():
    rows = [row(m, float(m % 100), day=d, consent="share" if m % 3 else "aggregate")
            for m in range(1, 10_001) for d in ((0, 10) if m % 2 else (0,))]
    start = time.perf_counter()
    board = dashboard(rows, DIMS, INDICES, 10_000, 10_000)
    data = csv_document(rows, board, DIMS, INDICES, ("sector",), {}, localise)
    elapsed = time.perf_counter() - start
    assert board.finished == 10_000 and board.retakers == 5_000 and data
    assert elapsed < 1.0, f"{elapsed:.2f}s"


def qr_parts(png: bytes, data: str) -> tuple[list[tuple[int, int]], bool, list[tuple[int, int]]]:
    """A QR card read back: the bands of ink above the code, whether the code is there module
    for module as qrcode encodes `data` (with its white quiet zone of 4 modules), the bands
    below. A pure-Python stand-in for a decoder: the same modules decode the same."""
    import qrcode
    from PIL import Image
    from qrcode.constants import ERROR_CORRECT_M

    image = Image.open(io.BytesIO(png)).convert("L")
    width, height = image.size
    ink = image.point(lambda v: 255 if v < 128 else 0)  # dark pixels
    bands, start = [], None
    for y in range(height + 1):
        inked = y < height and ink.crop((0, y, width, y + 1)).getbbox() is not None
        if inked and start is None:
            start = y
        elif not inked and start is not None:
            bands.append((start, y))
            start = None
    code = max(bands, key=lambda b: b[1] - b[0])
    x0, _, x1, _ = ink.crop((0, code[0], width, code[1])).getbbox()
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0)
    qr.add_data(data)
    qr.make(fit=True)
    matrix = qr.get_matrix()
    module = (x1 - x0) / len(matrix)
    pixels = image.load()
    same = all((pixels[int(x0 + (c + 0.5) * module), int(code[0] + (r + 0.5) * module)] < 128)
               == dark for r, row in enumerate(matrix) for c, dark in enumerate(row))
    quiet = 4 * module
    above = [b for b in bands if b[1] <= code[0]]
    below = [b for b in bands if b[0] >= code[1]]
    clear = (x0 >= quiet and width - x1 >= quiet
             and all(code[0] - b[1] >= quiet for b in above)
             and all(b[0] - code[1] >= quiet for b in below))
    return above, same and clear and abs(module - round(module)) < 0.01, below


def test_qr_code_is_a_png():
    link = "https://t.me/trust_cx_bot?start=c_" + "A" * 22
    png = qr_png(link)
    assert png.startswith(b"\x89PNG")
    assert qr_parts(png, link) == ([], True, [])


def test_the_qr_card_has_the_name_above_and_the_link_below_and_still_decodes():
    from PIL import Image

    link = "https://t.me/trust_cx_bot?start=c_" + "A" * 22
    bare = Image.open(io.BytesIO(qr_png(link)))
    card = qr_png(link, name="咖啡店主春季班（第一期）", caption="用手机相机扫码加入",
                  link=link.removeprefix("https://"), locale="zh-Hans")
    image = Image.open(io.BytesIO(card))
    assert image.width == bare.width == 1200 and image.height > bare.height
    above, code, below = qr_parts(card, link)
    assert code and len(above) == 2 and len(below) == 1  # name, caption; the link
    other = qr_png(link, name="Autumn", caption="用手机相机扫码加入",
                   link=link.removeprefix("https://"), locale="zh-Hans")
    assert qr_parts(other, link)[1]
    title = (0, above[0][0], 1200, above[0][1])  # another name, other ink where the name is
    assert Image.open(io.BytesIO(other)).crop(title).tobytes() != image.crop(title).tobytes()
    long = qr_png(link, name="Café owners of the old town, spring course, second group",
                  locale="en")
    assert qr_parts(long, link)[1] and len(qr_parts(long, link)[0]) == 2  # wrapped on 2 lines


def test_one_aggregate_only_participant_is_not_given_away_by_the_shared_rows():
    """4 sharers + 1 "aggregates only": averages over all five minus the four rows the trainer
    can read would be that person's scores. They are held back until there are five of them."""
    dims, idx = ("a", "b"), ("t",)

    def row(member: int, consent: str, value: float) -> Finished:
        return Finished(member, consent, member, (value, value, value, value))

    rows = [row(n, "share", 50.0) for n in range(1, 5)] + [row(5, "aggregate", 0.0)]
    board = dashboard(rows, dims, idx, joined=5, started=5)
    assert board.average is None and board.held_back == 1 and board.finished == 5
    six = rows + [row(6, "share", 50.0)]
    board = dashboard(six, dims, idx, joined=6, started=6)
    assert board.average.dimensions["a"] == 50.0  # the private one is not in it
    many = six + [row(n, "aggregate", 0.0) for n in range(7, 11)]
    board = dashboard(many, dims, idx, joined=10, started=10)
    assert board.held_back == 0 and board.average.participants == 10


# (finished: sharing + averages only) -> what the trainer sees, in numbers
PRIVACY = [
    # share, private: counted, visible, waiting, private needed, sharing needed
    (4, 0, 4, False, 0, 0, 1),
    (2, 2, 2, False, 2, 3, 3),
    (0, 4, 0, False, 4, 1, 5),
    (5, 0, 5, True, 0, 0, 0),
    (3, 2, 3, False, 2, 3, 2),  # the review's case: "5 so far" and nothing shown, explained
    (4, 1, 4, False, 1, 4, 1),  # the one private person is never averaged in with 4 rows
    (0, 5, 5, True, 0, 0, 0),
    (5, 1, 5, True, 1, 4, 0),
    (1, 5, 6, True, 0, 0, 0),
    (0, 6, 5, True, 1, 4, 0),  # the 6th is not added alone: 5 at a time
    (3, 3, 3, False, 3, 2, 2),
]


@pytest.mark.parametrize("sharing, private, counted, visible, waiting, needed, more", PRIVACY)
def test_who_is_counted_at_four_five_and_six_finished(sharing, private, counted, visible,
                                                      waiting, needed, more):
    rows = [row(m, 40.0 + m, day=m) for m in range(1, sharing + 1)]
    rows += [row(m, 10.0 * m, day=m, consent="aggregate")
             for m in range(sharing + 1, sharing + private + 1)]
    board = dashboard(in_order(rows), DIMS, INDICES, joined=9, started=9)
    count = board.latest_count
    assert count == Counting(sharing, private, private - waiting)
    assert (count.counted, count.visible, count.waiting, count.private_needed,
            count.sharing_needed) == (counted, visible, waiting, needed, more)
    assert board.visible is visible and board.finished == sharing + private
    if visible:
        assert board.average.participants == counted
        # every averages-only participant averaged in is one of a block of at least five
        assert count.private_counted in (0, 5, 10)
    else:
        assert board.average is None and board.weakest == ()


def test_averages_only_participants_join_five_at_a_time_so_refreshes_reveal_no_one():
    """Between any two refreshes the trainer sees the average move; with one private person
    more at a time, N x average - the known rows would be that person's score. Blocks of five,
    in the order they first finished, keep every difference an average of five."""
    sharers = [row(m, 50.0, day=0) for m in range(1, 6)]
    seen = []
    for k in range(0, 12):
        private = [row(m, 7.0 * m, day=m, consent="aggregate") for m in range(100, 100 + k)]
        board = dashboard(in_order(sharers + private), DIMS, INDICES, 20, 20)
        seen.append((board.latest_count.private_counted, board.average.participants))
    assert [c for c, _ in seen] == [0] * 5 + [5] * 5 + [10] * 2
    assert [n for _, n in seen] == [5] * 5 + [10] * 5 + [15] * 2


def test_all_dimensions_level_have_no_weakest():
    rows = [row(m, 65.0) for m in range(1, 6)]
    board = dashboard(rows, DIMS, INDICES, 5, 5)
    assert board.visible and board.weakest == ()


def test_csv_headers_in_the_trainers_words_over_the_ids():
    rows = [row(m, 50.0) for m in range(1, 6)]
    board = dashboard(rows, DIMS, INDICES, 5, 5)
    words = {"participant": "学员", "integrity": "诚信", "average_latest": "最近一次结果的平均",
             "aggregate": "小组数据"}
    data = csv_document(rows, board, DIMS, INDICES, ("sector",), {}, localise,
                        lambda key: words.get(key, key.upper()))
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert table[0][:2] == ["学员", "ASSESSMENT"] and table[0][6] == "诚信"
    assert table[1][:2] == ["participant", "assessment"] and table[1][6] == "integrity"
    block = table.index(["小组数据", "PARTICIPANTS", "KEY"])
    assert table[block + 1] == ["aggregate", "participants", "key"]
    average = next(r for r in table if r[2:3] == ["average_latest"])
    assert average[:2] == ["最近一次结果的平均", "5"] and average[6] == "50.0"
