"""One assessment as a sequence of steps, and the pure rules for moving through it.

The state of an assessment is its stored answers plus a ``cursor`` (the step on screen); both live
in the database. Every function here takes that state and a tap, and returns what to write, or why
the tap changes nothing. Nothing is kept in memory between taps.

Steps have fixed positions per mode: [review] + context questions + every candidate item. Which
of them are *active* depends on the state: the review step ("same business as last time?") only
when the context was pre-filled from the owner's previous assessment, an item only when it applies
to the business the context describes (and, in a quick check, when it is the first applicable
item of its dimension). The cursor only ever rests on an active step, so a button's position
always names the same question, whatever the owner answered about the business.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from .bank import NOT_APPLICABLE, UNSURE, Bank, ContextQuestion, Item
from .context import business_context


@dataclass(frozen=True)
class Step:
    position: int
    context: ContextQuestion | None = None
    item: Item | None = None
    review: bool = False  # "the same business as last time?" (a retake's pre-filled context)


def steps_for(bank: Bank, mode: str) -> tuple[Step, ...]:
    """The review step, the context questions, then every item the mode may ask."""
    steps = [Step(0, review=True)]
    steps += [Step(len(steps) + n, context=q) for n, q in enumerate(bank.context)]
    offset = len(steps)
    steps += [Step(offset + n, item=i) for n, i in enumerate(bank.candidates(mode))]
    return tuple(steps)


@dataclass(frozen=True)
class Answer:
    option_id: str
    evidence: bool | None = None


@dataclass
class AssessmentState:
    """What the database knows about one assessment."""

    id: int
    mode: str
    cursor: int = 0
    finished: bool = False
    context: dict[str, tuple[str, ...]] = field(default_factory=dict)
    answers: dict[str, Answer] = field(default_factory=dict)
    prefilled: bool = False  # context copied from the owner's previous assessment
    staff: bool = False  # a staff member's assessment of the business (the team view)
    version: int = 0  # bumped by every applied move (see Move.expected_version)


class Verdict(Enum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"  # the same tap again: nothing to do, nothing to say
    STALE = "stale"  # an old button, a finished assessment, another position
    INVALID = "invalid"  # an option this step does not have


@dataclass(frozen=True)
class Move:
    """What to write for an applied tap. The write must check that the assessment is still at
    ``expected_version`` (and ``expected_cursor``): the state the move was decided on. A move
    decided on a state someone else has changed since is never written."""

    assessment_id: int
    expected_cursor: int
    new_cursor: int
    context: tuple[str, tuple[str, ...]] | None = None
    answer: tuple[str, Answer] | None = None
    expected_version: int = 0
    # A tick on a several-choice question: (option, chosen afterwards). What the tap meant,
    # independent of the other options: see `same_intent`.
    tick: tuple[str, bool] | None = None


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    move: Move | None = None


# The view of the current step, for renderers.
@dataclass(frozen=True)
class ReviewView:
    step: Step
    context: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class ContextView:
    step: Step
    selected: tuple[str, ...]
    number: int
    total: int


@dataclass(frozen=True)
class ItemView:
    step: Step
    chosen: str | None
    number: int
    total: int


@dataclass(frozen=True)
class EvidenceView:
    step: Step
    chosen: str
    number: int
    total: int


@dataclass(frozen=True)
class DoneView:
    pass


# What is still to come, screen by screen, for the progress line and the time left.
SCREEN = "screen"  # a question: the review, a business question or an item
CHECK = "check"  # an evidence check that will be shown (its answer asks for one)
MAYBE_CHECK = "check?"  # an evidence check that comes if the answer is 3-4


@dataclass(frozen=True)
class Progress:
    """Where an owner is, counted in screens: every question, business question and evidence
    check (checks as they come: one is counted once its answer asks for it).

    `number` is the screen on show (1-based), `total` the screens shown so far, this one and
    those sure to come; on a retake's optional detour through the business questions `number`
    is None (the detour is not counted: "the same business" skips it). `remaining` lists what is
    left from the screen on show on, in order: (step, SCREEN | CHECK | MAYBE_CHECK).
    `checks_seen` of `evidence_answered` answers to items with a check asked for one so far.
    """

    number: int | None
    total: int
    remaining: tuple[tuple[Step, str], ...]
    checks_seen: int = 0
    evidence_answered: int = 0


View = ReviewView | ContextView | ItemView | EvidenceView | DoneView


class Flow:
    """The rules of one mode of the bank."""

    def __init__(self, bank: Bank, mode: str):
        self.bank = bank
        self.mode = mode
        self.steps = steps_for(bank, mode)
        self.context_count = len(bank.context)
        self.first_context = 1
        self.first_item = 1 + self.context_count
        self._active_cache: dict[tuple, frozenset[str] | tuple[bool, ...]] = {}

    # --- which steps are asked ------------------------------------------------------------------
    def active_items(self, state: AssessmentState) -> tuple[Item, ...]:
        """The items this business is asked, in order (from its context answers)."""
        return self.bank.items_for(self.mode, business_context(state.context, state.staff))

    def _active_ids(self, state: AssessmentState) -> frozenset[str]:
        key = (tuple(sorted(state.context.items())), state.staff)
        ids = self._active_cache.get(key)
        if ids is None:
            ids = frozenset(i.id for i in self.active_items(state))
            if len(self._active_cache) < 4096:  # a handful of distinct businesses in practice
                self._active_cache[key] = ids
        return ids

    def _mask(self, state: AssessmentState) -> tuple[bool, ...]:
        """is_active for every position at once (kept per business, staff and retake): a tap
        asks it for every step (progress, the next and previous positions)."""
        key = ("mask", tuple(sorted(state.context.items())), state.staff, state.prefilled)
        mask = self._active_cache.get(key)
        if mask is None:
            ids = self._active_ids(state)
            mask = tuple(state.prefilled if step.review else
                         True if step.context is not None else step.item.id in ids
                         for step in self.steps)
            if len(self._active_cache) < 4096:
                self._active_cache[key] = mask
        return mask

    def is_active(self, state: AssessmentState, position: int) -> bool:
        return self._mask(state)[position]

    def next_position(self, state: AssessmentState, after: int) -> int:
        """The first active position after `after` (len(steps) when there is none: done)."""
        mask = self._mask(state)
        for p in range(after + 1, len(self.steps)):
            if mask[p]:
                return p
        return len(self.steps)

    def previous_position(self, state: AssessmentState, before: int) -> int | None:
        mask = self._mask(state)
        for p in range(before - 1, -1, -1):
            if mask[p]:
                return p
        return None

    def start_position(self, prefilled: bool) -> int:
        """Where a new assessment starts: the review step, or the first context question."""
        return 0 if prefilled else self.first_context

    def resume_position(self, state: AssessmentState) -> int:
        """The first active step still to answer (a context question without an answer, an
        item without an answer or waiting for its evidence check); len(steps) when none is.
        Puts an assessment whose saved position no longer fits the steps back on its path."""
        for p in range(len(self.steps)):
            if not self.is_active(state, p) or self.steps[p].review:
                continue
            step = self.steps[p]
            if step.context is not None:
                if step.context.id not in state.context:
                    return p
                continue
            answer = state.answers.get(step.item.id)
            if answer is None or self.needs_evidence(step.item, answer):
                return p
        return len(self.steps)

    def is_complete(self, state: AssessmentState) -> bool:
        return state.cursor >= len(self.steps)

    def answered_items(self, state: AssessmentState) -> tuple[int, int]:
        """(answered, asked): how far an owner is, for "12/27 answered"."""
        items = self.active_items(state)
        return sum(1 for i in items if i.id in state.answers), len(items)

    def progress(self, state: AssessmentState) -> Progress:
        """The screens of this assessment: how far the owner is and what is left (Progress)."""
        cursor = state.cursor
        done_screens = 0
        sure_ahead = 0
        remaining: list[tuple[Step, str]] = []
        checks = answered = 0
        on_detour = state.prefilled and 0 <= cursor < len(self.steps) \
            and self.steps[cursor].context is not None
        mask = self._mask(state)
        for step in self.steps:
            if not mask[step.position]:
                continue
            if step.context is not None and state.prefilled and not (
                    on_detour and step.position >= cursor):
                continue  # a retake's business questions: skipped, unless being walked now
            counted = not (step.context is not None and state.prefilled)
            if step.item is None:
                screens = [SCREEN]
            else:
                answer = state.answers.get(step.item.id)
                check = self._check_kind(step.item, answer)
                if step.item.evidence and answer is not None and step.position != cursor:
                    answered += 1
                    checks += check == CHECK
                if step.position == cursor and not self.needs_evidence(step.item, answer):
                    check = MAYBE_CHECK if step.item.evidence else None  # answered afresh
                screens = [SCREEN] + ([check] if check else [])
            if step.position < cursor:
                done_screens += sum(1 for k in screens if k != MAYBE_CHECK)
                continue
            if step.position == cursor and step.item is not None and \
                    self.needs_evidence(step.item, state.answers.get(step.item.id)):
                done_screens += 1  # the item's own screen: the check is on show
                screens = [CHECK]
            remaining += [(step, k) for k in screens]
            if counted:
                sure_ahead += sum(1 for k in screens if k != MAYBE_CHECK)
        if self.is_complete(state):
            return Progress(done_screens, done_screens, (), checks, answered)
        number = None if on_detour else done_screens + 1
        total = done_screens + sure_ahead
        return Progress(number, max(total, number or 0), tuple(remaining), checks, answered)

    def _check_kind(self, item: Item, answer: Answer | None) -> str | None:
        """Whether an item's evidence check comes: CHECK, MAYBE_CHECK (not answered yet) or None."""
        if not item.evidence:
            return None
        if answer is None:
            return MAYBE_CHECK
        if answer.evidence is not None or self.needs_evidence(item, answer):
            return CHECK
        return None

    def needs_evidence(self, item: Item, answer: Answer | None) -> bool:
        if answer is None or not item.evidence or answer.evidence is not None:
            return False
        option = item.option(answer.option_id)
        return option is not None and option.score >= 3

    def view(self, state: AssessmentState) -> View:
        if self.is_complete(state):
            return DoneView()
        step = self.steps[state.cursor]
        if step.review:
            return ReviewView(step, dict(state.context))
        if step.context is not None:
            return ContextView(step, state.context.get(step.context.id, ()),
                               step.position - self.first_context + 1, self.context_count)
        assert step.item is not None
        items = self.active_items(state)
        number = next((n for n, i in enumerate(items, start=1) if i.id == step.item.id), 1)
        answer = state.answers.get(step.item.id)
        if self.needs_evidence(step.item, answer):
            return EvidenceView(step, answer.option_id, number, len(items))
        return ItemView(step, answer.option_id if answer else None, number, len(items))

    # --- taps -------------------------------------------------------------------------------
    def _current(self, state: AssessmentState, position: int) -> Step | None:
        if state.finished or position != state.cursor or self.is_complete(state):
            return None
        return self.steps[position]

    def _move(self, state: AssessmentState, new_cursor: int, **writes) -> Outcome:
        return Outcome(
            Verdict.APPLIED,
            Move(state.id, expected_cursor=state.cursor, new_cursor=new_cursor,
                 expected_version=state.version, **writes),
        )

    def _repeat_or_stale(self, state: AssessmentState, position: int, item_option: str | None):
        """A tap for an earlier step: a double tap if it repeats the stored answer."""
        if not state.finished and 0 <= position < len(self.steps) and item_option is not None:
            item = self.steps[position].item
            stored = state.answers.get(item.id) if item else None
            if stored is not None and stored.option_id == item_option:
                return Outcome(Verdict.DUPLICATE)
        return Outcome(Verdict.STALE)

    def review(self, state: AssessmentState, position: int, same: bool) -> Outcome:
        """The review step: the same business as last time (on to the questions) or change it
        (through the context questions, their earlier answers marked)."""
        step = self._current(state, position)
        if step is None or not step.review or not state.prefilled:
            return Outcome(Verdict.STALE)
        if not same:
            return self._move(state, self.first_context)
        return self._move(state, self.next_position(state, self.first_item - 1))

    def answer_item(self, state: AssessmentState, position: int, option_id: str) -> Outcome:
        step = self._current(state, position)
        if step is None:
            return self._repeat_or_stale(state, position, option_id)
        item = step.item
        if item is None:
            return Outcome(Verdict.STALE)
        valid = item.option(option_id) is not None or option_id == UNSURE
        valid = valid or (option_id == NOT_APPLICABLE and item.not_applicable)
        if not valid:
            return Outcome(Verdict.INVALID)
        if self.needs_evidence(item, state.answers.get(item.id)):
            # The evidence question is on screen: this tap comes from the item's old buttons.
            return self._repeat_or_stale(state, position, option_id)
        answer = Answer(option_id)
        new_cursor = position if self.needs_evidence(item, answer) \
            else self.next_position(state, position)
        return self._move(state, new_cursor, answer=(item.id, answer))

    def _earlier(self, state: AssessmentState, position: int) -> Step | None:
        """The step of an earlier position of an open assessment (a double tap's target)."""
        if state.finished or not 0 <= position < min(state.cursor, len(self.steps)):
            return None
        return self.steps[position]

    def answer_evidence(self, state: AssessmentState, position: int, shown: bool) -> Outcome:
        step = self._current(state, position)
        if step is None:
            earlier = self._earlier(state, position)
            stored = state.answers.get(earlier.item.id) if earlier and earlier.item else None
            if stored is not None and stored.evidence is shown:
                return Outcome(Verdict.DUPLICATE)
            return Outcome(Verdict.STALE)
        if step.item is None:
            return Outcome(Verdict.STALE)
        answer = state.answers.get(step.item.id)
        if not self.needs_evidence(step.item, answer):
            return Outcome(Verdict.STALE)
        updated = Answer(answer.option_id, evidence=shown)
        return self._move(state, self.next_position(state, position),
                          answer=(step.item.id, updated))

    def choose_context(self, state: AssessmentState, position: int, option_id: str) -> Outcome:
        step = self._current(state, position)
        if step is None:
            earlier = self._earlier(state, position)
            if earlier and earlier.context and not earlier.context.multi and \
                    state.context.get(earlier.context.id) == (option_id,):
                return Outcome(Verdict.DUPLICATE)
            return Outcome(Verdict.STALE)
        if step.context is None:
            return Outcome(Verdict.STALE)
        question = step.context
        if option_id not in question.options:
            return Outcome(Verdict.INVALID)
        if not question.multi:
            chosen = (question.id, (option_id,))
            after = _with_context(state, chosen)
            return self._move(state, self.next_position(after, position), context=chosen)
        selected = list(state.context.get(question.id, ()))
        if option_id in selected:
            selected.remove(option_id)
        elif len(selected) >= question.max_choices:
            return Outcome(Verdict.INVALID)
        else:
            selected.append(option_id)
        ordered = tuple(o for o in question.options if o in selected)
        return self._move(state, position, context=(question.id, ordered),
                          tick=(option_id, option_id in selected))

    def confirm_context(self, state: AssessmentState, position: int) -> Outcome:
        step = self._current(state, position)
        if step is None or step.context is None or not step.context.multi:
            return Outcome(Verdict.STALE)
        selected = state.context.get(step.context.id, ())
        if len(selected) < step.context.min_choices:
            return Outcome(Verdict.INVALID)
        # Store the selection again so that "confirmed with nothing chosen" is recorded too.
        chosen = (step.context.id, tuple(selected))
        after = _with_context(state, chosen)
        return self._move(state, self.next_position(after, position), context=chosen)

    def back(self, state: AssessmentState, position: int) -> Outcome:
        step = self._current(state, position)
        earlier = self.previous_position(state, position) if step is not None else None
        if step is None or earlier is None:
            return Outcome(Verdict.STALE)
        return self._move(state, earlier)


def _with_context(state: AssessmentState, chosen: tuple[str, tuple[str, ...]]) -> AssessmentState:
    return AssessmentState(state.id, state.mode, state.cursor, state.finished,
                           {**state.context, chosen[0]: chosen[1]}, state.answers,
                           state.prefilled, state.staff, state.version)


def same_intent(first: Move, again: Move) -> bool:
    """Whether `again`, decided for the same tap on a newer state (after another replica wrote
    first), means what `first` meant. Only a tick can change meaning: a toggle decided on a
    state where another tap already set that option would undo it. Every other tap is only
    applied at all while its step is still current, where it means the same."""
    return first.tick == again.tick


def apply_move(state: AssessmentState, move: Move) -> AssessmentState:
    """The state after a move was written (what the database now holds)."""
    context = dict(state.context)
    answers = dict(state.answers)
    if move.context is not None:
        context[move.context[0]] = move.context[1]
    if move.answer is not None:
        answers[move.answer[0]] = move.answer[1]
    return AssessmentState(
        state.id, state.mode, move.new_cursor, state.finished, context, answers, state.prefilled,
        state.staff,
        state.version + 1,
    )
