"""The rules of moving through an assessment: answers, evidence, double taps, stale buttons."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.bank import NOT_APPLICABLE, UNSURE, ContextQuestion
from bot.domain.flow import (
    Answer,
    AssessmentState,
    ContextView,
    DoneView,
    EvidenceView,
    Flow,
    ItemView,
    ReviewView,
    Verdict,
    apply_move,
)
from tests.helpers_domain import make_bank, make_item, option_with, real_content

BANK = real_content().bank
FULL = Flow(BANK, "full")
# A café with staff, in person and online: every item of the real bank applies to it.
CONTEXT = {"sector": ("cafe",), "team": ("t2_5",), "channels": ("in_person", "social"),
           "priorities": ()}
FIRST = FULL.first_item  # position of the first item
ITEM = FULL.steps[FIRST].item
NEXT = FIRST + 1
NA_ITEM = next(i for i in BANK.items if i.not_applicable)
NA_POS = next(s.position for s in FULL.steps if s.item is NA_ITEM)


def at(position: int, **kw) -> AssessmentState:
    kw.setdefault("context", dict(CONTEXT))
    return AssessmentState(1, "full", position, **kw)


def tap(flow: Flow, state: AssessmentState, kind: str, position: int, *args):
    """Apply one tap the way the bot does: the rule decides, the move is written."""
    outcome = getattr(flow, kind)(state, position, *args)
    if outcome.verdict is Verdict.APPLIED:
        assert outcome.move.expected_cursor == state.cursor
        return outcome, apply_move(state, outcome.move)
    assert outcome.move is None
    return outcome, state


def opt(item, wanted: int) -> str:
    return option_with(item, wanted).id


# --- answering ------------------------------------------------------------------------------
def test_steps_are_review_then_context_then_items():
    assert FULL.steps[0].review
    assert [s.context.id for s in FULL.steps[1:FIRST]] == [q.id for q in BANK.context]
    assert [s.item.id for s in FULL.steps[FIRST:]] == [i.id for i in BANK.items]
    assert all(FULL.is_active(at(0), p) for p in range(1, len(FULL.steps)))
    quick = Flow(BANK, "quick")
    assert len(quick.active_items(at(0))) == len(BANK.dimensions)


def test_an_answer_is_stored_and_moves_on():
    outcome, state = tap(FULL, at(FIRST), "answer_item", FIRST, opt(ITEM, 2))
    assert outcome.verdict is Verdict.APPLIED
    assert state.cursor == NEXT
    assert state.answers[ITEM.id] == Answer(opt(ITEM, 2))
    view = FULL.view(state)
    assert isinstance(view, ItemView)
    assert view.number == 2 and view.total == len(FULL.active_items(state))


def test_not_sure_is_stored_and_moves_on():
    _, state = tap(FULL, at(FIRST), "answer_item", FIRST, UNSURE)
    assert state.answers[ITEM.id] == Answer(UNSURE)
    assert state.cursor == NEXT


def test_a_high_answer_on_an_evidence_item_asks_for_evidence():
    assert ITEM.evidence
    for wanted in (3, 4):
        _, state = tap(FULL, at(FIRST), "answer_item", FIRST, opt(ITEM, wanted))
        assert state.cursor == FIRST
        view = FULL.view(state)
        assert isinstance(view, EvidenceView)
        assert view.chosen == opt(ITEM, wanted)
        for shown in (True, False):
            outcome, after = tap(FULL, state, "answer_evidence", FIRST, shown)
            assert outcome.verdict is Verdict.APPLIED
            assert after.cursor == NEXT
            assert after.answers[ITEM.id] == Answer(opt(ITEM, wanted), evidence=shown)


def test_no_evidence_question_for_low_answers_or_items_without_evidence():
    for answer in (opt(ITEM, 0), opt(ITEM, 1), opt(ITEM, 2), UNSURE):
        _, state = tap(FULL, at(FIRST), "answer_item", FIRST, answer)
        assert state.cursor == NEXT
        assert FULL.answer_evidence(at(FIRST, answers=state.answers), FIRST, True).verdict \
            is Verdict.STALE
    plain = Flow(make_bank([make_item("plain_item", "x", evidence=False)]), "full")
    _, state = tap(plain, AssessmentState(1, "full", 1), "answer_item", 1, "o4")
    assert state.cursor == 2
    assert isinstance(plain.view(state), DoneView)


def test_not_applicable_only_where_the_item_allows_it():
    outcome, state = tap(FULL, at(NA_POS), "answer_item", NA_POS, NOT_APPLICABLE)
    assert outcome.verdict is Verdict.APPLIED
    assert state.answers[NA_ITEM.id] == Answer(NOT_APPLICABLE)
    assert state.cursor == FULL.next_position(state, NA_POS)
    assert FULL.answer_item(at(FIRST), FIRST, NOT_APPLICABLE).verdict is Verdict.INVALID
    assert not ITEM.not_applicable


def test_an_unknown_option_is_invalid():
    for bad in ("nonsense", "", "o9", NA_ITEM.options[0].id + "x"):
        assert FULL.answer_item(at(FIRST), FIRST, bad).verdict is Verdict.INVALID


# --- double taps and stale buttons ----------------------------------------------------------
def test_a_double_tap_counts_once():
    _, state = tap(FULL, at(FIRST), "answer_item", FIRST, opt(ITEM, 1))
    outcome, again = tap(FULL, state, "answer_item", FIRST, opt(ITEM, 1))
    assert outcome.verdict is Verdict.DUPLICATE
    assert again == state


def test_a_double_tap_while_the_evidence_question_shows_counts_once():
    _, state = tap(FULL, at(FIRST), "answer_item", FIRST, opt(ITEM, 4))
    assert FULL.answer_item(state, FIRST, opt(ITEM, 4)).verdict is Verdict.DUPLICATE
    # Another option from the old buttons does not silently replace the answer.
    assert FULL.answer_item(state, FIRST, opt(ITEM, 0)).verdict is Verdict.STALE


def test_another_option_on_an_old_question_is_stale():
    _, state = tap(FULL, at(FIRST), "answer_item", FIRST, opt(ITEM, 1))
    outcome, after = tap(FULL, state, "answer_item", FIRST, opt(ITEM, 3))
    assert outcome.verdict is Verdict.STALE
    assert after.answers[ITEM.id] == Answer(opt(ITEM, 1))


def test_a_tap_for_another_position_is_stale():
    state = at(FIRST + 2)
    for position in (FIRST, NEXT, FIRST + 3, len(FULL.steps) + 5, -1):
        assert FULL.answer_item(state, position, opt(ITEM, 0)).verdict is Verdict.STALE
        assert FULL.answer_evidence(state, position, True).verdict is Verdict.STALE
        assert FULL.back(state, position).verdict is Verdict.STALE
    assert FULL.choose_context(at(2), 1, "retail").verdict is Verdict.STALE


def test_item_taps_on_a_context_step_and_context_taps_on_an_item_are_stale():
    assert FULL.answer_item(at(1), 1, opt(ITEM, 0)).verdict is Verdict.STALE
    assert FULL.choose_context(at(FIRST), FIRST, "cafe").verdict is Verdict.STALE
    assert FULL.confirm_context(at(FIRST), FIRST).verdict is Verdict.STALE


# --- back -----------------------------------------------------------------------------------
def test_back_shows_the_previous_answer_and_a_new_answer_replaces_it():
    _, state = tap(FULL, at(FIRST), "answer_item", FIRST, opt(ITEM, 4))
    _, state = tap(FULL, state, "answer_evidence", FIRST, True)
    outcome, state = tap(FULL, state, "back", NEXT)
    assert outcome.verdict is Verdict.APPLIED
    assert state.cursor == FIRST
    view = FULL.view(state)
    assert isinstance(view, ItemView) and view.chosen == opt(ITEM, 4)
    _, state = tap(FULL, state, "answer_item", FIRST, opt(ITEM, 1))
    assert state.answers[ITEM.id] == Answer(opt(ITEM, 1))
    assert state.cursor == NEXT


def test_back_from_an_item_reaches_the_context_and_stops_at_the_start():
    _, state = tap(FULL, at(FIRST), "back", FIRST)
    assert isinstance(FULL.view(state), ContextView)
    assert FULL.back(at(1), 1).verdict is Verdict.STALE  # nothing before the first question


# --- context questions ----------------------------------------------------------------------
def _question(qid: str):
    position = next(s.position for s in FULL.steps if s.context and s.context.id == qid)
    return position, FULL.steps[position].context


def test_single_choice_context_is_stored_and_moves_on():
    position, q = _question("sector")
    outcome, state = tap(FULL, at(position, context={}), "choose_context", position, q.options[2])
    assert outcome.verdict is Verdict.APPLIED
    assert state.context["sector"] == (q.options[2],)
    assert state.cursor == position + 1
    invalid = FULL.choose_context(at(position, context={}), position, "spaceship")
    assert invalid.verdict is Verdict.INVALID


def test_multi_choice_toggles_and_respects_the_maximum():
    position, q = _question("priorities")
    assert q.multi and q.max_choices == 3
    state = at(position, context={})
    for option in q.options[:3]:
        _, state = tap(FULL, state, "choose_context", position, option)
        assert state.cursor == position  # stays on the question until Done
    assert state.context["priorities"] == q.options[:3]
    view = FULL.view(state)
    assert isinstance(view, ContextView) and view.selected == q.options[:3]
    outcome, state = tap(FULL, state, "choose_context", position, q.options[4])
    assert outcome.verdict is Verdict.INVALID
    assert state.context["priorities"] == q.options[:3]
    _, state = tap(FULL, state, "choose_context", position, q.options[1])  # untick
    assert state.context["priorities"] == (q.options[0], q.options[2])
    _, state = tap(FULL, state, "choose_context", position, q.options[4])
    assert state.context["priorities"] == (q.options[0], q.options[2], q.options[4])


def test_multi_choice_is_kept_in_the_question_order():
    position, q = _question("channels")
    state = at(position, context={})
    for option in reversed(q.options[:3]):
        _, state = tap(FULL, state, "choose_context", position, option)
    assert state.context["channels"] == q.options[:3]


def test_done_respects_the_minimum():
    position, q = _question("channels")
    assert q.min_choices == 1
    assert FULL.confirm_context(at(position, context={}), position).verdict is Verdict.INVALID
    _, state = tap(FULL, at(position, context={}), "choose_context", position, q.options[0])
    outcome, state = tap(FULL, state, "confirm_context", position)
    assert outcome.verdict is Verdict.APPLIED
    assert state.cursor == position + 1
    # "What matters most" may be left empty; confirming with nothing is recorded.
    position, q = _question("priorities")
    assert q.min_choices == 0
    outcome, state = tap(FULL, at(position, context={}), "confirm_context", position)
    assert outcome.verdict is Verdict.APPLIED
    assert state.context["priorities"] == ()
    assert state.cursor == position + 1


def test_done_is_not_offered_on_a_single_choice_question():
    position, _ = _question("sector")
    assert FULL.confirm_context(at(position), position).verdict is Verdict.STALE


# --- finished -------------------------------------------------------------------------------
def test_a_finished_assessment_accepts_nothing():
    end = len(FULL.steps)
    done = at(end, finished=True)
    assert isinstance(FULL.view(done), DoneView)
    last = FULL.steps[-1]
    for state, position in ((done, end), (done, end - 1), (at(end - 1, finished=True), end - 1),
                            (at(end), end), (at(end), end - 1)):
        for outcome in (
            FULL.answer_item(state, position, last.item.options[0].id),
            FULL.answer_item(state, position, UNSURE),
            FULL.answer_evidence(state, position, True),
            FULL.choose_context(state, 1, BANK.context[0].options[0]),
            FULL.confirm_context(state, 3),
            FULL.back(state, position),
        ):
            assert outcome.verdict is not Verdict.APPLIED
            assert outcome.move is None


def test_a_finished_assessment_ignores_a_repeat_of_its_last_answer_as_stale():
    last = FULL.steps[-1]
    answers = {last.item.id: Answer(last.item.options[0].id)}
    done = at(len(FULL.steps), finished=True, answers=answers)
    outcome = FULL.answer_item(done, last.position, last.item.options[0].id)
    assert outcome.verdict is Verdict.STALE


# --- any sequence of taps -------------------------------------------------------------------
def _random_tap(data, flow: Flow, state: AssessmentState):
    position = data.draw(st.sampled_from([state.cursor, state.cursor, state.cursor - 1,
                                          state.cursor + 1]))
    step = flow.steps[min(max(position, 0), len(flow.steps) - 1)]
    kind = data.draw(st.sampled_from(["answer", "answer", "evidence", "ctx", "ok", "back"]))
    if kind == "answer":
        options = [UNSURE, NOT_APPLICABLE, "bogus"]
        if step.item:
            options += [o.id for o in step.item.options] * 3
        return "answer_item", (position, data.draw(st.sampled_from(options)))
    if kind == "evidence":
        return "answer_evidence", (position, data.draw(st.booleans()))
    if kind == "ctx":
        options = list(step.context.options) if step.context else ["bogus"]
        return "choose_context", (position, data.draw(st.sampled_from(options)))
    if kind == "ok":
        return "confirm_context", (position,)
    return "back", (position,)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["full", "quick"]), st.data())
def test_any_sequence_of_taps_keeps_the_assessment_valid(mode, data):
    flow = Flow(BANK, mode)
    state = AssessmentState(1, mode, 1)
    for _ in range(data.draw(st.integers(10, 80))):
        kind, args = _random_tap(data, flow, state)
        outcome, state = tap(flow, state, kind, *args)
        assert 0 <= state.cursor <= len(flow.steps)
        assert state.cursor == len(flow.steps) or flow.is_active(state, state.cursor) \
            or not flow.is_active(AssessmentState(1, mode, 0, context=state.context), state.cursor)
        if outcome.verdict is Verdict.APPLIED:
            assert args[0] == outcome.move.expected_cursor
    asked = {s.item.id: s.item for s in flow.steps if s.item}
    for item_id, answer in state.answers.items():
        item = asked[item_id]
        assert (item.option(answer.option_id) is not None or answer.option_id == UNSURE
                or (answer.option_id == NOT_APPLICABLE and item.not_applicable))
        if answer.evidence is not None:
            assert item.evidence and item.option(answer.option_id).score >= 3
    for q in BANK.context:
        chosen = state.context.get(q.id, ())
        assert set(chosen) <= set(q.options) and len(chosen) <= q.max_choices


def test_double_taps_on_evidence_and_single_choice_context_count_once():
    from bot.content import load_content
    from bot.domain.flow import AssessmentState, Flow, Verdict, apply_move

    bank = load_content().bank
    flow = Flow(bank, "quick")
    state = AssessmentState(1, "quick", 1)
    outcome = flow.choose_context(state, 1, bank.context[0].options[0])
    state = apply_move(state, outcome.move)
    again = flow.choose_context(state, 1, bank.context[0].options[0])
    other = flow.choose_context(state, 1, bank.context[0].options[1])
    assert (again.verdict, other.verdict) == (Verdict.DUPLICATE, Verdict.STALE)

    item_position = flow.first_item
    state.cursor = item_position
    item = flow.steps[item_position].item
    assert item.evidence
    best = next(o for o in item.options if o.score == 4)
    state = apply_move(state, flow.answer_item(state, item_position, best.id).move)
    state = apply_move(state, flow.answer_evidence(state, item_position, True).move)
    assert flow.answer_evidence(state, item_position, True).verdict is Verdict.DUPLICATE
    assert flow.answer_evidence(state, item_position, False).verdict is Verdict.STALE


# --- a retake: "the same business as last time?" ---------------------------------------------
def test_a_prefilled_retake_starts_with_the_review_and_can_skip_the_context():
    state = at(FULL.start_position(True), prefilled=True)
    assert isinstance(FULL.view(state), ReviewView)
    outcome, same = tap(FULL, state, "review", 0, True)
    assert outcome.verdict is Verdict.APPLIED and same.cursor == FIRST
    assert same.context == CONTEXT  # nothing re-asked, nothing lost
    _, change = tap(FULL, state, "review", 0, False)
    assert change.cursor == 1 and isinstance(FULL.view(change), ContextView)
    assert FULL.view(change).selected == CONTEXT["sector"]  # the earlier answer is marked
    _, back = tap(FULL, change, "back", 1)
    assert back.cursor == 0  # back from the first question to the review
    assert FULL.review(at(1), 1, True).verdict is Verdict.STALE  # a review tap elsewhere


def test_a_first_assessment_has_no_review_step():
    state = at(FULL.start_position(False))
    assert state.cursor == 1 and not FULL.is_active(state, 0)
    assert FULL.review(at(0), 0, True).verdict is Verdict.STALE


# --- what applies to this business ------------------------------------------------------------
TEAM_ONLY = ContextQuestion("team", False, ("solo", "t2_5"))


def _team_bank():
    always = make_item("always_a", "x", quick=True)
    staff = make_item("staff_only", "x")
    staff = type(staff)(**{**staff.__dict__, "applies": lambda c: c["team"]})
    other = make_item("always_b", "y", quick=True)
    return make_bank([always, staff, other], context=(TEAM_ONLY,))


def test_an_item_that_does_not_apply_is_skipped_and_its_position_stays_its_own():
    bank = _team_bank()
    flow = Flow(bank, "full")
    solo = AssessmentState(1, "full", 1, context={})
    _, solo = tap(flow, solo, "choose_context", 1, "solo")
    assert [i.id for i in flow.active_items(solo)] == ["always_a", "always_b"]
    _, solo = tap(flow, solo, "answer_item", 2, "o1")
    staff_position = 3
    assert solo.cursor == 4  # the staff-only question is jumped over
    assert flow.answer_item(solo, staff_position, "o1").verdict is Verdict.STALE
    assert flow.view(solo).number == 2 and flow.view(solo).total == 2
    _, back = tap(flow, solo, "back", 4)
    assert back.cursor == 2  # and jumped over on the way back too
    team = AssessmentState(1, "full", 1, context={})
    _, team = tap(flow, team, "choose_context", 1, "t2_5")
    _, team = tap(flow, team, "answer_item", 2, "o1")
    assert team.cursor == staff_position and flow.view(team).total == 3


def test_the_quick_check_asks_a_stand_in_when_the_quick_item_does_not_apply():
    always = make_item("always_a", "x")
    staff = make_item("staff_quick", "x", quick=True)
    staff = type(staff)(**{**staff.__dict__, "applies": lambda c: c["team"]})
    bank = make_bank([always, staff, make_item("other", "y", quick=True)], context=(TEAM_ONLY,))
    flow = Flow(bank, "quick")
    solo = AssessmentState(1, "quick", 1, context={"team": ("solo",)})
    team = AssessmentState(1, "quick", 1, context={"team": ("t2_5",)})
    assert [i.id for i in flow.active_items(team)] == ["staff_quick", "other"]
    assert [i.id for i in flow.active_items(solo)] == ["always_a", "other"]


def test_an_assessment_whose_place_was_lost_resumes_at_its_first_open_step():
    answers = {ITEM.id: Answer(opt(ITEM, 1))}
    lost = at(-1, answers=answers)
    assert FULL.resume_position(lost) == NEXT
    no_context = AssessmentState(1, "full", -1, context={"sector": ("cafe",)})
    assert FULL.resume_position(no_context) == 2  # the team question
    waiting = at(-1, answers={ITEM.id: Answer(opt(ITEM, 4))})  # evidence not answered yet
    assert FULL.resume_position(waiting) == FIRST
