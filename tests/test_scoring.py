"""Scores, levels, blind spots, evidence caps, priorities and the 30/60/90-day plan."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.bank import NOT_APPLICABLE, UNSURE, ContextQuestion
from bot.domain.context import business_context
from bot.domain.flow import Answer
from bot.domain.scoring import EFFORT_ORDER, level_of, rank_priorities, score
from tests.helpers_domain import answers_at, make_bank, make_item, option_with, real_content

BANK = real_content().bank
LEVEL_ORDER = [lvl.id for lvl in BANK.levels]
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def assessments(draw, mode: str | None = None):
    """Any answers a user could leave: an option, not sure, n/a where allowed, or nothing yet."""
    mode = mode or draw(st.sampled_from(["full", "quick"]))
    options = {q.id: q.options for q in BANK.context}
    business = {"sector": (draw(st.sampled_from(options["sector"])),),
                "team": (draw(st.sampled_from(options["team"])),),
                "channels": tuple(draw(st.lists(st.sampled_from(options["channels"]), min_size=1,
                                                max_size=3, unique=True)))}
    answers: dict[str, Answer] = {}
    for item in BANK.items_for(mode, business_context(business)):
        choices = [o.id for o in item.options] + [UNSURE, None]
        if item.not_applicable:
            choices.append(NOT_APPLICABLE)
        choice = draw(st.sampled_from(choices))
        if choice is not None:
            answers[item.id] = Answer(choice, draw(st.sampled_from([True, False, None])))
    chosen = draw(st.lists(st.sampled_from(BANK.dimensions), unique=True, max_size=3))
    return mode, answers, {**business, BANK.priority_context: tuple(chosen)}


def all_scores(result) -> list[float | None]:
    return [*result.dimensions.values(), *result.indices.values(), result.overall]


# --- ranges and monotonicity ------------------------------------------------------------------
@FAST
@given(assessments())
def test_every_score_is_between_0_and_100(case):
    mode, answers, context = case
    result = score(BANK, mode, answers, context)
    for value in all_scores(result):
        assert value is None or 0 <= value <= 100
    for d, value in result.dimensions.items():
        asked = [i for i in BANK.items_for(mode, business_context(context)) if i.dimension == d]
        answered = [i for i in asked if result.item_scores[i.id] is not None]
        assert (value is None) == (not answered)
    assert all(s is None or 0 <= s <= 4 for s in result.item_scores.values())


@FAST
@given(assessments(), st.data())
def test_raising_one_answer_never_lowers_any_score(case, data):
    mode, answers, context = case
    raisable = [
        (item, answers[item.id]) for item in BANK.items_for(mode, business_context(context))
        if item.id in answers and answers[item.id].option_id != NOT_APPLICABLE
        and (item.option(answers[item.id].option_id) is None
             or item.option(answers[item.id].option_id).score < 4)
    ]
    if not raisable:
        return
    item, old = data.draw(st.sampled_from(raisable))
    old_score = 0 if old.option_id == UNSURE else item.option(old.option_id).score
    higher = data.draw(st.sampled_from([o for o in item.options if o.score > old_score]))
    evidence = data.draw(st.sampled_from([old.evidence, True]))
    before = score(BANK, mode, answers, context)
    after = score(BANK, mode, {**answers, item.id: Answer(higher.id, evidence)}, context)
    for was, now in zip(all_scores(before), all_scores(after), strict=True):
        assert was is None or now >= was
    assert after.item_scores[item.id] >= before.item_scores[item.id]


def test_dimension_score_is_25_times_the_exact_mean():
    answers = answers_at(BANK, "full", 4, evidence=True)
    items = [i for i in BANK.items if i.dimension == "integrity"]
    for extra in items[3:]:  # three answers count; the rest are not applicable
        answers[extra.id] = Answer(NOT_APPLICABLE) if extra.not_applicable else answers[extra.id]
    counted = [i for i in items if answers[i.id].option_id != NOT_APPLICABLE]
    first, second, third, *rest = counted
    for other in rest:  # 4s beyond the first three: keep them out of the mean by design
        answers[other.id] = Answer(option_with(other, 3).id, True)
    answers[third.id] = Answer(option_with(third, 3).id, True)
    expected = 25 * (4 + 4 + 3 * (1 + len(rest))) / (3 + len(rest))
    assert score(BANK, "full", answers, {}).dimensions["integrity"] == pytest.approx(
        round(expected, 1))
    answers[first.id] = Answer(option_with(first, 1).id)
    answers[second.id] = Answer(option_with(second, 0).id)
    expected = 25 * (1 + 0 + 3 * (1 + len(rest))) / (3 + len(rest))
    assert score(BANK, "full", answers, {}).dimensions["integrity"] == pytest.approx(
        round(expected, 1))


# --- not applicable, not sure, evidence -------------------------------------------------------
NA_ITEM = next(i for i in BANK.items if i.not_applicable)


def test_not_applicable_leaves_the_denominator():
    answers = answers_at(BANK, "full", 4, evidence=True)
    answers[NA_ITEM.id] = Answer(NOT_APPLICABLE)
    result = score(BANK, "full", answers, {})
    assert result.dimensions[NA_ITEM.dimension] == 100
    assert result.item_scores[NA_ITEM.id] is None
    assert result.overall == 100
    # Answering the same item at 0 instead does pull the dimension down.
    answers[NA_ITEM.id] = Answer(option_with(NA_ITEM, 0).id)
    assert score(BANK, "full", answers, {}).dimensions[NA_ITEM.dimension] == pytest.approx(66.7)


@FAST
@given(assessments(mode="full"), st.sampled_from([o.id for o in NA_ITEM.options] + [UNSURE]))
def test_not_applicable_changes_no_other_dimension(case, other):
    _, answers, context = case
    with_na = score(BANK, "full", {**answers, NA_ITEM.id: Answer(NOT_APPLICABLE)}, context)
    answered = score(BANK, "full", {**answers, NA_ITEM.id: Answer(other)}, context)
    for d in BANK.dimensions:
        if d != NA_ITEM.dimension:
            assert with_na.dimensions[d] == answered.dimensions[d]
    assert NA_ITEM.id not in {p.item_id for p in with_na.priorities}
    assert NA_ITEM.id not in {a.priority.item_id for a in with_na.plan}


def test_not_sure_scores_zero_and_is_a_blind_spot():
    item = BANK.items[0]
    base = answers_at(BANK, "full", 4, evidence=True)
    unsure = score(BANK, "full", {**base, item.id: Answer(UNSURE)}, {})
    zero = score(BANK, "full", {**base, item.id: Answer(option_with(item, 0).id)}, {})
    assert unsure.item_scores[item.id] == 0
    assert unsure.blind_spots == (item.id,)
    assert zero.blind_spots == ()
    assert unsure.dimensions == zero.dimensions
    assert unsure.priorities[0].item_id == item.id
    assert unsure.priorities[0].answer_option == UNSURE


@pytest.mark.parametrize(
    ("answered", "evidence", "expected", "is_capped"),
    [(4, False, 2, True), (3, False, 2, True), (4, True, 4, False), (3, None, 3, False),
     (2, False, 2, False), (1, False, 1, False)],
)
def test_evidence_no_caps_three_and_four_at_two(answered, evidence, expected, is_capped):
    item = next(i for i in BANK.items if i.evidence)
    answers = answers_at(BANK, "full", 4, evidence=True)
    answers[item.id] = Answer(option_with(item, answered).id, evidence)
    result = score(BANK, "full", answers, {})
    assert result.item_scores[item.id] == expected
    assert (item.id in result.capped) is is_capped
    assert result.capped == ((item.id,) if is_capped else ())


# --- levels -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "level"),
    [(0, "reactive"), (24.9, "reactive"), (25, "emerging"), (49.9, "emerging"),
     (50, "defined"), (74.9, "defined"), (75, "managed"), (89.9, "managed"),
     (90, "customer_led"), (100, "customer_led")],
)
def test_level_boundaries(value, level):
    assert level_of(BANK, value) == level


def _one_dimension_at(dimension: str, wanted: int):
    answers = answers_at(BANK, "full", 4, evidence=True)
    for item in BANK.items:
        if item.dimension == dimension:
            answers[item.id] = Answer(option_with(item, wanted).id, True)
    return score(BANK, "full", answers, {})


def test_weakest_link_holds_the_overall_level_down():
    # Seven dimensions at 100 and consistency at 0: overall 87.5 would be "managed", but the
    # weakest dimension is "reactive", so the overall level is at most "emerging".
    result = _one_dimension_at("consistency", 0)
    assert result.overall == 87.5
    assert level_of(BANK, result.overall) == "managed"
    assert result.dimension_levels["consistency"] == "reactive"
    assert result.weakest == ("consistency",)
    assert result.level == "emerging"
    # Seven at 100 and one at 50: 93.75 would be "customer_led"; "defined" + 1 is "managed".
    result = _one_dimension_at("emotion", 2)
    assert level_of(BANK, result.overall) == "customer_led"
    assert result.level == "managed"


def test_weakest_link_does_not_bind_when_dimensions_are_even():
    result = score(BANK, "full", answers_at(BANK, "full", 3, evidence=True), {})
    assert result.overall == 75
    assert result.level == "managed"


@FAST
@given(assessments())
def test_overall_level_is_at_most_one_above_the_weakest(case):
    result = score(BANK, *case)
    if result.overall is None:
        return
    weakest = min(LEVEL_ORDER.index(v) for v in result.dimension_levels.values() if v)
    assert LEVEL_ORDER.index(result.level) <= weakest + 1
    assert LEVEL_ORDER.index(result.level) <= LEVEL_ORDER.index(level_of(BANK, result.overall))


# --- priorities -------------------------------------------------------------------------------
PRIORITIES = ContextQuestion("priorities", True, ("x", "y"), 2, 0)


def _ids(result) -> list[str]:
    return [p.item_id for p in result.priorities]


def test_a_chosen_dimension_raises_importance_and_changes_the_order():
    bank = make_bank([make_item("a_item", "x"), make_item("b_item", "y")], context=(PRIORITIES,))
    answers = {"a_item": Answer("o2"), "b_item": Answer("o2")}
    plain = score(bank, "full", answers, {})
    assert _ids(plain) == ["a_item", "b_item"]  # equal value: bank order
    assert [p.value for p in plain.priorities] == [0.5, 0.5]
    chosen = score(bank, "full", answers, {"priorities": ("y",)})
    assert _ids(chosen) == ["b_item", "a_item"]
    assert chosen.priorities[0].value == pytest.approx(0.5 * 1.5)


def test_larger_gap_ranks_first():
    bank = make_bank([make_item("a_item", "x"), make_item("b_item", "y")])
    result = score(bank, "full", {"a_item": Answer("o3"), "b_item": Answer("o0")}, {})
    assert _ids(result) == ["b_item", "a_item"]
    assert [p.value for p in result.priorities] == [1.0, 0.25]


def test_smaller_action_ranks_first_at_equal_gap_and_the_top_spreads_over_dimensions():
    bank = make_bank([make_item("a_item", "x", ("large",) * 4),
                      make_item("b_item", "y", ("medium",) * 4),
                      make_item("c_item", "y", ("small",) * 4)])
    answers = {i: Answer("o1") for i in ("a_item", "b_item", "c_item")}
    result = score(bank, "full", answers, {})
    # c (0.75) first; b (0.6) is a second "y": the weaker-valued "x" comes before it
    assert _ids(result) == ["c_item", "a_item", "b_item"]
    assert [p.value for p in result.priorities] == pytest.approx([0.75, 0.45, 0.6])


def test_ties_go_to_the_weaker_dimension_not_to_the_bank_order():
    bank = make_bank([make_item("a_item", "x"), make_item("a_two", "x"),
                      make_item("b_item", "y"), make_item("b_two", "y")])
    # x scores 1 and 3 (mean 2), y scores 1 and 2 (mean 1.5): both 1s tie on value
    answers = {"a_item": Answer("o1"), "a_two": Answer("o3"),
               "b_item": Answer("o1"), "b_two": Answer("o2")}
    result = score(bank, "full", answers, {})
    assert result.dimensions["y"] < result.dimensions["x"]
    assert _ids(result)[0] == "b_item"


def test_weak_basics_rank_first():
    bank = make_bank([make_item("a_item", "x"), make_item("b_item", "y", basic=True)])
    low = score(bank, "full", {"a_item": Answer("o1"), "b_item": Answer("o1")}, {})
    assert _ids(low) == ["b_item", "a_item"]
    assert low.priorities[0].value == pytest.approx(0.75 * 1.3)
    # A basic practice already at 2 gets no foundation bonus (at a tie it still goes first).
    fair = score(bank, "full", {"a_item": Answer("o2"), "b_item": Answer("o2")}, {})
    assert [p.value for p in fair.priorities] == [0.5, 0.5]


@pytest.mark.parametrize("dimension", BANK.dimensions)
def test_choosing_a_dimension_puts_it_first_on_the_real_bank(dimension):
    answers = answers_at(BANK, "full", 2)
    plain = score(BANK, "full", answers, {})
    chosen = score(BANK, "full", answers, {BANK.priority_context: (dimension,)})
    assert chosen.priorities[0].dimension == dimension
    assert chosen.priorities[0].value > max(p.value for p in plain.priorities)


def test_top_three_one_level_up_from_three_dimensions():
    result = score(BANK, "full", answers_at(BANK, "full", 0), {})
    assert len(result.priorities) == 3
    assert len({p.dimension for p in result.priorities}) == 3
    for p in result.priorities:
        assert p.score == 0
        assert p.recommendation.from_score == 0
        assert p.recommendation.item_id == p.item_id


def test_nothing_to_prioritise_at_the_top():
    answers = answers_at(BANK, "full", 4, evidence=True)
    answers[NA_ITEM.id] = Answer(NOT_APPLICABLE)
    result = score(BANK, "full", answers, {})
    assert len(result.priorities) == 0
    assert len(result.plan) == 0


@FAST
@given(assessments())
def test_priorities_follow_the_formula(case):
    mode, answers, context = case
    result = score(BANK, mode, answers, context)
    w = BANK.weights
    chosen = set(context[BANK.priority_context])
    ids = _ids(result)
    assert len(ids) == len(set(ids)) <= w.top
    for p in result.priorities:
        item = BANK.item(p.item_id)
        s = result.item_scores[p.item_id]
        assert s is not None and s < 4
        assert p.score == s and p.recommendation.from_score == s
        assert p.recommendation.unsure == (answers[p.item_id].option_id == UNSURE)
        expected = ((4 - s) / 4
                    * (w.importance_chosen if item.dimension in chosen else w.importance_other)
                    * w.ease[p.recommendation.effort]
                    * (w.foundation_basic_low if item.basic and s <= 1 else w.foundation_other))
        assert p.value == pytest.approx(expected)
    # As many as there are gaps, up to the top three; the first is the most valuable.
    gaps = [i for i, s in result.item_scores.items() if s is not None and s < 4]
    assert len(ids) == min(w.top, len(gaps))
    if ids:
        assert result.priorities[0].value == max(
            p.value for p in rank_priorities(BANK, BANK.items_for(mode, business_context(
                context)), result.item_scores, answers, context, result.dimensions))


@FAST
@given(assessments())
def test_the_top_three_spread_over_dimensions_and_ties_go_to_the_weaker_one(case):
    mode, answers, context = case
    result = score(BANK, mode, answers, context)
    gaps = {BANK.item(i).dimension for i, s in result.item_scores.items()
            if s is not None and s < 4}
    dims = [p.dimension for p in result.priorities]
    assert len(set(dims)) == min(len(gaps), len(dims))  # one per dimension while they last
    ranked = rank_priorities(BANK, BANK.items_for(mode, business_context(context)),
                             result.item_scores, answers, context, result.dimensions)
    for earlier, later in zip(ranked, ranked[1:], strict=False):
        assert earlier.value >= later.value
        if earlier.value == later.value:
            assert result.dimensions[earlier.dimension] <= result.dimensions[later.dimension]


@FAST
@given(assessments())
def test_same_answers_same_result(case):
    mode, answers, context = case
    first = score(BANK, mode, answers, context)
    reordered = dict(reversed(list(answers.items())))
    assert score(BANK, mode, reordered, context) == first
    assert score(BANK, mode, answers, context) == first


# --- the 30/60/90-day plan --------------------------------------------------------------------
def _plan_bank(efforts: list[str]):
    items = [make_item(f"i{n}_item", f"d{n}", (e,) * 4) for n, e in enumerate(efforts)]
    return make_bank(items), {i.id: Answer("o0") for i in items}


def _phases(result) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for action in result.plan:
        out.setdefault(action.phase, []).append(action.priority.item_id)
    return out


def test_the_plan_runs_smallest_first_over_all_three_phases():
    bank, answers = _plan_bank(["large", "medium", "small"])
    result = score(bank, "full", answers, {})
    assert _phases(result) == {"d30": ["i2_item"], "d60": ["i1_item"], "d90": ["i0_item"]}


def test_six_actions_of_one_size_still_fill_every_phase():
    for effort in ("small", "medium", "large"):
        bank, answers = _plan_bank([effort] * 6)
        phases = _phases(score(bank, "full", answers, {}))
        assert [len(phases.get(p, [])) for p in ("d30", "d60", "d90")] == [2, 2, 2]


def test_four_actions_go_two_one_one_and_the_first_month_is_never_empty():
    bank, answers = _plan_bank(["large"] * 4)
    phases = _phases(score(bank, "full", answers, {}))
    assert [len(phases.get(p, [])) for p in ("d30", "d60", "d90")] == [2, 1, 1]


@FAST
@given(assessments())
def test_plan_phases_follow_the_sequence(case):
    result = score(BANK, *case)
    phases = [p.id for p in BANK.plan_phases]
    planned = [a.priority.item_id for a in result.plan]
    assert len(planned) == len(set(planned)) <= BANK.weights.plan_size
    assert set(_ids(result)) <= set(planned)
    counts = [sum(1 for a in result.plan if a.phase == ph) for ph in phases]
    if planned:
        assert counts[0] >= 1  # something to do in days 1-30, always
        assert counts == sorted(counts, reverse=True) and counts[0] - counts[-1] <= 1
    if len(planned) >= len(phases):
        assert all(counts)  # days 61-90 used
    sizes = [EFFORT_ORDER[a.priority.recommendation.effort] for a in result.plan]
    assert sizes == sorted(sizes)  # quick wins first, the biggest changes last
