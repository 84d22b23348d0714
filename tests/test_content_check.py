"""``python -m bot content check``: passes on the committed content, names every mistake in a broken
copy (file, item id, field), and the committed zh-Hant files are what the generator produces."""

from __future__ import annotations

import contextlib
import io
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from bot.__main__ import main
from bot.content import LOCALES
from bot.content.hant import generate
from tests.helpers_domain import ARTICLES_DIR, CONTENT_DIR, run_check


# --- editing a copy of content/ -------------------------------------------------------------
def edit_yaml(path: Path, change: Callable[[object], None]) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def edit_text(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def bank_item(data: dict, item_id: str) -> dict:
    return next(i for i in data["items"] if i["id"] == item_id)


def drop_bank_option(root: Path) -> None:
    def change(data):
        item = bank_item(data, "int_privacy")
        item["options"] = [o for o in item["options"] if o["score"] != 3]
    edit_yaml(root / "bank" / "integrity.yaml", change)


def drop_option_text(root: Path) -> None:
    edit_yaml(root / "locales" / "en" / "items" / "integrity.yaml",
              lambda d: d["int_privacy"]["options"].pop("always"))


def duplicate_id_same_file(root: Path) -> None:
    edit_yaml(root / "bank" / "ability.yaml",
              lambda d: d["items"][2].update(id=d["items"][0]["id"]))


def duplicate_id_across_files(root: Path) -> None:
    edit_yaml(root / "bank" / "ability.yaml", lambda d: d["items"][1].update(id="int_privacy"))


def drop_locale_item(root: Path) -> None:
    edit_yaml(root / "locales" / "en" / "items" / "emotion.yaml", lambda d: d.pop("emo_moments"))


def break_ui_string(root: Path) -> None:
    edit_text(root / "locales" / "en" / "ui.yaml",
              'duplicate: "Already saved."', 'duplicate: "Already {{ saved"')


def break_template_file(root: Path) -> None:
    edit_text(root / "templates" / "question_body.html.j2", "{% endfor %}", "")


def section_not_in_article(root: Path) -> None:
    edit_yaml(root / "sources.yaml",
              lambda d: d["passages"]["info_processing"].update(section="这一节根本不存在"))


def quote_not_unique(root: Path) -> None:
    """A quote that occurs in many places backs nothing in particular."""
    edit_yaml(root / "sources.yaml",
              lambda d: d["passages"]["transparency"].update(quote="建立与维护顾客信任"))


def unknown_passage(root: Path) -> None:
    def change(data):
        bank_item(data, "int_full_price")["recommendations"][1]["source"] = "no_such_passage"
    edit_yaml(root / "bank" / "integrity.yaml", change)


def staff_for_a_solo_owner(root: Path) -> None:
    """An option that presumes staff, whoever answers."""
    edit_yaml(root / "locales" / "en" / "items" / "integrity.yaml",
              lambda d: d["int_full_price"]["options"]["sometimes"].update(
                  text="Sometimes, depending on which staff member serves"))


def till_for_an_online_shop(root: Path) -> None:
    edit_yaml(root / "locales" / "zh-Hans" / "items" / "ability.yaml",
              lambda d: d["abi_quality"]["recommendations"]["unsure"].update(
                  first_step="本周在收银台旁边数一数上个月返工了几次。"))


def plan_day_in_a_metric(root: Path) -> None:
    # The plan may put this action in days 61-90: "by day 30" would contradict its phase.
    edit_yaml(root / "locales" / "en" / "items" / "innovation.yaml",
              lambda d: d["inn_pilot_test"]["recommendations"][1].update(
                  metric="By day 30 your next change is tried small."))


def mainland_term_in_zh_hant(root: Path) -> None:
    edit_text(root / "locales" / "zh-Hant" / "ui.yaml", "language_name: 繁體中文",
              "language_name: 繁體中文\nsaved_note: 已保存到微信")
    edit_text(root / "locales" / "zh-Hans" / "ui.yaml", "language_name: 简体中文",
              "language_name: 简体中文\nsaved_note: 已保存")
    edit_text(root / "locales" / "en" / "ui.yaml", "language_name: English",
              "language_name: English\nsaved_note: Saved")


def mainland_quotes_in_zh_hant(root: Path) -> None:
    edit_text(root / "locales" / "zh-Hant" / "ui.yaml", "duplicate: 已儲存。",
              "duplicate: “已儲存”。")


def drop_bank_recommendation(root: Path) -> None:
    def change(data):
        item = bank_item(data, "int_early_notice")
        item["recommendations"] = [r for r in item["recommendations"] if r["from"] != 2]
    edit_yaml(root / "bank" / "integrity.yaml", change)


def drop_recommendation_text(root: Path) -> None:
    edit_yaml(root / "locales" / "en" / "items" / "innovation.yaml",
              lambda d: d["inn_pilot_test"]["recommendations"].pop(1))


# name -> (edits, [(file, item id, field), ...] every one of which must be reported)
CASES: dict[str, tuple[tuple[Callable[[Path], None], ...], list[tuple[str, str, str]]]] = {
    "missing option in the bank": (
        (drop_bank_option,), [("bank/integrity.yaml", "int_privacy", "options")]),
    "missing option text in a locale": (
        (drop_option_text,),
        [("locales/en/items/integrity.yaml", "int_privacy", "options.always")]),
    "duplicate item id across files": (
        (duplicate_id_across_files,), [("bank/ability.yaml", "int_privacy", "id")]),
    "locale missing an item": (
        (drop_locale_item,), [("locales/en/items/emotion.yaml", "emo_moments", "-")]),
    "broken Jinja in ui.yaml": (
        (break_ui_string,), [("locales/en/ui.yaml", "duplicate", "template")]),
    "broken Jinja in a template file": (
        (break_template_file,), [("templates/question_body.html.j2", "line *", "template")]),
    "passage section not in its article": (
        (section_not_in_article,), [("sources.yaml", "info_processing", "section")]),
    "passage quote found more than once": (
        (quote_not_unique,), [("sources.yaml", "transparency", "quote")]),
    "a recommendation cites no known passage": (
        (unknown_passage,),
        [("bank/integrity.yaml", "int_full_price", "recommendations.0.source")]),
    "staff wording for a solo owner": (
        (staff_for_a_solo_owner,),
        [("locales/en/items/integrity.yaml", "int_full_price", "options.sometimes.text")]),
    "a till for a business without premises": (
        (till_for_an_online_shop,),
        [("locales/zh-Hans/items/ability.yaml", "abi_quality",
          "recommendations.unsure.first_step")]),
    "a plan day in an action's metric": (
        (plan_day_in_a_metric,),
        [("locales/en/items/innovation.yaml", "inn_pilot_test", "recommendations.1.metric")]),
    "a Mainland term in zh-Hant": (
        (mainland_term_in_zh_hant,), [("locales/zh-Hant/ui.yaml", "saved_note", "zh-Hant")]),
    "simplified quotation marks in zh-Hant": (
        (mainland_quotes_in_zh_hant,), [("locales/zh-Hant/ui.yaml", "duplicate", "zh-Hant")]),
    "missing recommendation level in the bank": (
        (drop_bank_recommendation,), [("bank/integrity.yaml", "int_early_notice",
                                       "recommendations")]),
    "missing recommendation text in a locale": (
        (drop_recommendation_text,),
        [("locales/en/items/innovation.yaml", "inn_pilot_test", "recommendations.1")]),
    "two mistakes: a section and a missing item": (
        (section_not_in_article, drop_locale_item),
        [("sources.yaml", "info_processing", "section"),
         ("locales/en/items/emotion.yaml", "emo_moments", "-")]),
    "two mistakes: a template file and a duplicate id": (
        (break_template_file, duplicate_id_same_file),
        [("templates/question_body.html.j2", "line *", "template"),
         ("bank/ability.yaml", "abi_quality", "id")]),
    "two mistakes: a ui message and a missing option": (
        (break_ui_string, drop_bank_option),
        [("locales/en/ui.yaml", "duplicate", "template"),
         ("bank/integrity.yaml", "int_privacy", "options")]),
}


def broken_copy(root: Path, edits) -> Path:
    shutil.copytree(CONTENT_DIR, root)
    for edit in edits:
        edit(root)
    return root


@pytest.fixture(scope="module")
def checks(tmp_path_factory) -> dict[str, tuple[int, str, str]]:
    """Every broken copy checked by the command's own entry point (in this process: fast)."""
    results = {}
    for name, (edits, _) in CASES.items():
        root = broken_copy(tmp_path_factory.mktemp("content") / "content", edits)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["content", "check", "--content", str(root),
                         "--articles", str(ARTICLES_DIR)])
        results[name] = (code, out.getvalue(), err.getvalue())
    return results


def problem_lines(output: str) -> list[tuple[str, str, str, str]]:
    return [tuple(line.split(": ", 3)) for line in output.splitlines() if line.count(": ") >= 3]


def reported(lines, file: str, where: str, field: str) -> bool:
    return any(
        f == file and (w == where or (where.endswith("*") and w.startswith(where[:-1])))
        and fld == field and message.strip()
        for f, w, fld, message in lines
    )


SUMMARY = re.compile(r"^(zh-Hans|zh-Hant|en): 8 dimensions, (?P<items>\d+) items \(8 quick\), "
                     r"(?P<recs>\d+) recommendations, 8 lessons, 8 workshops: ok \(content .+\)$")


def test_the_committed_content_passes():
    code, out, err = run_check()
    assert code == 0, out + err
    lines = out.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == list(LOCALES)
    for line in lines:
        m = SUMMARY.match(line)
        assert m, line
        assert int(m["items"]) >= 24 and int(m["recs"]) == 5 * int(m["items"])


@pytest.mark.parametrize("case", list(CASES))
def test_a_broken_copy_fails_and_names_every_mistake(checks, case):
    code, out, err = checks[case]
    assert code == 1, out + err
    lines = problem_lines(out)
    for file, where, field in CASES[case][1]:
        assert reported(lines, file, where, field), f"{file}: {where}: {field} not in\n{out}"
    assert f"content check: {len(lines)} problem(s)" in err


def test_the_command_exits_1_and_lists_both_of_two_mistakes(tmp_path):
    root = broken_copy(tmp_path / "content", (section_not_in_article, drop_locale_item))
    code, out, err = run_check(root)
    assert code == 1
    lines = problem_lines(out)
    assert reported(lines, "sources.yaml", "info_processing", "section")
    assert reported(lines, "locales/en/items/emotion.yaml", "emo_moments", "-")
    assert "content check: 2 problem(s)" in err


# --- zh-Hant is generated -------------------------------------------------------------------
def test_committed_zh_hant_is_what_the_generator_produces():
    generated = generate(CONTENT_DIR)
    hant = set((CONTENT_DIR / "locales" / "zh-Hant").rglob("*.yaml"))
    hant |= set(CONTENT_DIR.glob("archive/*/locales/zh-Hant/**/*.yaml"))
    assert set(generated) == hant
    stale = [str(p.relative_to(CONTENT_DIR)) for p, text in generated.items()
             if p.read_text(encoding="utf-8") != text]
    assert not stale, f"run `python -m bot content build-hant`; out of date: {stale}"


def test_generated_zh_hant_uses_traditional_characters():
    generated = generate(CONTENT_DIR)
    ui = yaml.safe_load(generated[CONTENT_DIR / "locales" / "zh-Hant" / "ui.yaml"])
    hans = yaml.safe_load((CONTENT_DIR / "locales" / "zh-Hans" / "ui.yaml").read_text("utf-8"))
    assert ui["language_name"] == "繁體中文"
    assert ui["welcome"] != hans["welcome"]
    assert "体" not in ui["welcome"] and "们" not in ui["privacy"]
