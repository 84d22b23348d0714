"""The 360° check's rules (bot/domain/feedback.py): anonymity by steps, the gap, the scale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.bank import Option
from bot.domain.feedback import (
    GAP_MIN,
    MIN_CUSTOMERS,
    MIN_STAFF,
    NA,
    Pulse,
    PulseQuestion,
    Release,
    due_release,
    largest_gap,
    link_view,
    mean_dimensions,
    nps,
    parse_payload,
    pulse_dimensions,
    respondent_key,
)

DIMS = ("a", "b", "c")
FAST = settings(max_examples=150, deadline=None)


# --- nobody is identifiable by subtraction -----------------------------------------------------
@st.composite
def histories(draw):
    """A link's life: customers answer, answer again (replacing), or delete their answer."""
    events = []
    people = draw(st.integers(1, 14))
    for _ in range(draw(st.integers(1, 60))):
        who = draw(st.integers(0, people - 1))
        events.append((draw(st.sampled_from(["answer", "answer", "answer", "delete"])), who,
                       draw(st.integers(0, 4))))
    return draw(st.sampled_from(["team", "customer"])), events


@FAST
@given(histories())
def test_two_published_averages_never_differ_by_one_persons_answer(case):
    """Replay the service's rule (bot/feedback.py `refresh`) on any history of answers,
    re-answers and deletions: every published average covers at least the minimum of
    responses, and between two published averages at least that many different people
    answered, re-answered or deleted, so subtracting one from the other never isolates one
    person's answer (however often one person changes theirs)."""
    kind, events = case
    step = MIN_STAFF if kind == "team" else MIN_CUSTOMERS
    responses: dict[int, tuple[int, datetime]] = {}
    deleted: set[int] = set()
    release: Release | None = None
    acted_since: set[int] = set()  # the test's own count: anyone with any event since
    clock = datetime(2026, 12, 1, tzinfo=UTC)
    releases = 0
    for what, who, value in events:
        clock += timedelta(seconds=1)
        acted_since.add(who)
        if what == "answer":
            responses[who] = (value, clock)
        elif who in responses:
            del responses[who]
            deleted.add(who)
        since = release.at if release else None
        changed = {w for w, (_, at) in responses.items() if since is None or at > since}
        if due_release(kind, len(responses), len(changed | deleted), release):
            rows = [{"a": 25.0 * v} for v, _ in responses.values()]
            release = Release(len(rows), mean_dimensions(rows, DIMS), at=clock)
            assert release.responses >= step
            assert len(acted_since) >= step  # never one person's change on its own
            acted_since, deleted = set(), set()
            releases += 1
    view = link_view(kind, len(responses), 0, release)
    assert view.visible == (releases > 0)


def test_first_average_at_the_minimum_and_a_new_one_after_as_many_changes():
    assert not due_release("customer", MIN_CUSTOMERS - 1, MIN_CUSTOMERS - 1, None)
    assert due_release("customer", MIN_CUSTOMERS, MIN_CUSTOMERS, None)
    first = Release(5, {"a": 50.0})
    assert not due_release("customer", 9, MIN_CUSTOMERS - 1, first)
    assert due_release("customer", 9, MIN_CUSTOMERS, first)
    assert not due_release("team", MIN_STAFF - 1, 2, None)
    assert due_release("team", MIN_STAFF, 3, None)
    view = link_view("customer", 7, 2, first)
    assert view.visible and view.needed == MIN_CUSTOMERS - 2
    assert link_view("team", 2, 2, None).needed == 1


# --- the gap ------------------------------------------------------------------------------------
scores = st.one_of(st.none(), st.sampled_from([0.0, 12.5, 25.0, 37.5, 50.0, 62.5, 75.0, 100.0]))


@FAST
@given(st.dictionaries(st.sampled_from(DIMS), scores, min_size=3),
       st.dictionaries(st.sampled_from(DIMS), scores, min_size=3),
       st.integers(0, 12))
def test_the_gap_priority_appears_only_when_the_gap_is_real(owner, customers, responses):
    release = Release(responses, customers) if responses else None
    gap = largest_gap(owner, release, DIMS)
    real = [d for d in DIMS if owner.get(d) is not None and customers.get(d) is not None
            and owner[d] - customers[d] >= GAP_MIN]
    if responses < MIN_CUSTOMERS or not real:
        assert gap is None
        return
    assert gap is not None and gap.dimension in real
    assert gap.points == max(owner[d] - customers[d] for d in real)
    assert gap.owner == owner[gap.dimension] and gap.customers == customers[gap.dimension]


def test_a_customer_rating_higher_than_the_owner_is_no_priority():
    release = Release(8, {"a": 90.0, "b": 80.0, "c": 70.0})
    assert largest_gap({"a": 50.0, "b": 50.0, "c": 60.0}, release, DIMS) is None
    assert largest_gap({"a": 75.0, "b": 50.0, "c": 60.0}, release, DIMS) is None  # 15 below
    gap = largest_gap({"a": 90.0, "b": 100.0, "c": 60.0}, release, DIMS)
    assert gap.dimension == "b" and gap.points == 20.0


# --- the scale, NPS and codes -------------------------------------------------------------------
PULSE = Pulse(tuple(PulseQuestion(f"pu_{d}", d, tuple(Option(f"o{s}", s) for s in range(5)))
                    for d in DIMS))


def test_a_pulse_answer_is_worth_what_an_item_answer_is():
    assert pulse_dimensions(PULSE, {"pu_a": "o4", "pu_b": "o1", "pu_c": NA}) == {
        "a": 100.0, "b": 25.0, "c": None}
    assert mean_dimensions([{"a": 100.0, "c": None}, {"a": 50.0, "c": None}], DIMS) == {
        "a": 75.0, "b": None, "c": None}


def test_nps_is_promoters_minus_detractors():
    assert nps([10, 9, 8, 7, 0]) == 20
    assert nps([]) is None
    assert nps([6] * 4) == -100


def test_codes_and_keys():
    assert parse_payload("t_" + "A" * 22) == ("team", "A" * 22)
    assert parse_payload("p_" + "b" * 22) == ("customer", "b" * 22)
    for bad in ("c_" + "A" * 22, "p_short", "p_" + "!" * 22, "", None, "p_" + "A" * 80):
        assert parse_payload(bad) is None
    key = respondent_key(b"secret", 1, 42)
    assert key == respondent_key(b"secret", 1, 42) and len(key) == 64
    assert key != respondent_key(b"secret", 2, 42)  # not linkable across businesses
    assert key != respondent_key(b"other", 1, 42)
    assert str(1234567890123) not in respondent_key(b"secret", 1, 1234567890123)
