"""Every framework of the articles is taught by some question or recommendation that cites it."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.helpers_domain import ARTICLES_DIR, real_content

# framework key -> the article it comes from (and that a covering source must cite)
FRAMEWORKS: dict[str, str] = {
    **{f"trust_factor.{k}": "001" for k in ("integrity", "ability", "affinity", "consistency")},
    **{f"trust_method.{k}": "001"
       for k in ("brand_image", "storytelling", "solutions", "sincerity", "privacy")},
    **{f"trust002_factor.{k}": "002"
       for k in ("product_quality", "brand_reputation", "service_quality", "transparency",
                 "social_responsibility")},
    **{f"trust002_strategy.{k}": "002"
       for k in ("consistent_offering", "brand_communication", "feedback_handling",
                 "loyalty_program", "transparency_display")},
    **{f"journey.{k}": "001"
       for k in ("goal_scope", "collect_data", "draw_map", "analyse_map", "improve")},
    **{f"cx_lever.{k}": "001"
       for k in ("quality", "convenience", "emotion_aesthetics", "innovation")},
    **{f"cx_keyword.{k}": "004"
       for k in ("customer_perspective", "systems_thinking", "innovation", "emotion")},
    **{f"cx_app.{k}": "004"
       for k in ("research", "journey_map", "touchpoint_optimisation", "cross_team",
                 "data_integration", "periodic_review", "team_ideas", "feedback_mechanism",
                 "pilots", "emotional_design", "staff_training", "emotional_connection")},
    **{f"synergy.{k}": "001"
       for k in ("customer_centric_culture", "data_driven", "innovation_driven",
                 "communication_bridge")},
    **{f"info_gap.{k}": "000" for k in ("information_gap", "customer_expectations")},
}

CONTENT = real_content()
BANK = CONTENT.bank


def _article_text(article: str) -> str:
    return (ARTICLES_DIR / CONTENT.articles[article]).read_text(encoding="utf-8")


def _covering() -> dict[str, list[tuple[str, object]]]:
    """framework key -> [(where, source)] for every item and recommendation that covers it."""
    out: dict[str, list[tuple[str, object]]] = {}
    for item in BANK.items:
        for key in item.covers:
            out.setdefault(key, []).append((item.id, item.source))
        for rec in item.recommendations:
            for key in rec.covers:
                out.setdefault(key, []).append((rec.id, rec.source))
    return out


COVERING = _covering()


def test_the_framework_table_is_complete():
    assert len(FRAMEWORKS) == 50
    assert Counter(k.split(".")[0] for k in FRAMEWORKS) == {
        "trust_factor": 4, "trust_method": 5, "trust002_factor": 5, "trust002_strategy": 5,
        "journey": 5, "cx_lever": 4, "cx_keyword": 4, "cx_app": 12, "synergy": 4, "info_gap": 2,
    }


@pytest.mark.parametrize(("framework", "article"), sorted(FRAMEWORKS.items()))
def test_framework_is_covered_from_its_article(framework, article):
    cited = [(where, src) for where, src in COVERING.get(framework, []) if src.article == article]
    assert cited, f"{framework}: nothing covers it with a source in article {article}"
    text = _article_text(article)
    for where, src in cited:
        assert src.section in text, f"{where}: {src.section!r} not in article {article}"


def test_content_covers_no_unknown_framework():
    assert set(COVERING) <= set(FRAMEWORKS), sorted(set(COVERING) - set(FRAMEWORKS))


def test_every_source_in_the_bank_is_a_passage_of_its_article():
    sources = [(i.id, i.source) for i in BANK.items]
    sources += [(r.id, r.source) for i in BANK.items for r in i.recommendations]
    for where, src in sources:
        assert src.section in _article_text(src.article), f"{where}: {src.section!r}"


def test_dimensions_have_three_or_more_items_and_one_quick_item():
    assert len(BANK.items) >= 24
    assert len(BANK.dimensions) == 8
    for d in BANK.dimensions:
        items = [i for i in BANK.items if i.dimension == d]
        assert len(items) >= 3, d
        assert sum(i.quick for i in items) == 1, d
    assert [i.dimension for i in BANK.items_for("quick")] == list(BANK.dimensions)
    quick = [i for i in BANK.items if i.quick]
    assert all(i.applies is None for i in quick)  # the quick check fits every business


def test_every_item_has_five_anchored_options_and_a_recommendation_per_level():
    for item in BANK.items:
        assert [o.score for o in item.options] == [0, 1, 2, 3, 4], item.id
        assert [r.level for r in item.recommendations] == ["unsure", "0", "1", "2", "3"], item.id
