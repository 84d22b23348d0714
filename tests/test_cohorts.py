"""The pure cohort logic: codes, names, averages, the >= 5 rule, deltas and the CSV."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime, timedelta

from bot.cohorts import (
    CODE_RE,
    MIN_GROUP,
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
    average = next(r for r in table if r and r[0] == "average_latest")
    assert average[1] == "8" and average[8] == str(round((50 * 7 + 70) / 8, 1))
    assert any(r and r[0] == "change_hidden_below_5_retakers" for r in table)


def test_csv_hides_aggregates_below_five():
    rows = [row(m, 50) for m in range(1, 4)]
    board = dashboard(rows, DIMS, INDICES, 3, 3)
    text = csv_document(rows, board, DIMS, INDICES, (), {}, localise).decode("utf-8-sig")
    assert "average_latest" not in text and "average_hidden_below_5_finished,3" in text
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


def test_qr_code_is_a_png():
    png = qr_png("https://t.me/trust_cx_bot?start=c_" + "A" * 22)
    assert png.startswith(b"\x89PNG")


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
