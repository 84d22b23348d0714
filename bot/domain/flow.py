"""One assessment as a sequence of steps, and the pure rules for moving through it.

The state of an assessment is its stored answers plus a ``cursor`` (the step on screen); both live
in the database. Every function here takes that state and a tap, and returns what to write, or why
the tap changes nothing. Nothing is kept in memory between taps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from .bank import NOT_APPLICABLE, UNSURE, Bank, ContextQuestion, Item


@dataclass(frozen=True)
class Step:
    position: int
    context: ContextQuestion | None = None
    item: Item | None = None


def steps_for(bank: Bank, mode: str) -> tuple[Step, ...]:
    """Context questions first, then the items of the mode."""
    steps = [Step(p, context=q) for p, q in enumerate(bank.context)]
    offset = len(steps)
    steps += [Step(offset + n, item=i) for n, i in enumerate(bank.items_for(mode))]
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


View = ContextView | ItemView | EvidenceView | DoneView


class Flow:
    """The rules of one mode of the bank."""

    def __init__(self, bank: Bank, mode: str):
        self.bank = bank
        self.mode = mode
        self.steps = steps_for(bank, mode)
        self.context_count = len(bank.context)
        self.item_count = len(self.steps) - self.context_count

    def is_complete(self, state: AssessmentState) -> bool:
        return state.cursor >= len(self.steps)

    def needs_evidence(self, item: Item, answer: Answer | None) -> bool:
        if answer is None or not item.evidence or answer.evidence is not None:
            return False
        option = item.option(answer.option_id)
        return option is not None and option.score >= 3

    def view(self, state: AssessmentState) -> View:
        if self.is_complete(state):
            return DoneView()
        step = self.steps[state.cursor]
        if step.context is not None:
            return ContextView(
                step,
                state.context.get(step.context.id, ()),
                step.position + 1,
                self.context_count,
            )
        assert step.item is not None
        answer = state.answers.get(step.item.id)
        number = step.position - self.context_count + 1
        if self.needs_evidence(step.item, answer):
            return EvidenceView(step, answer.option_id, number, self.item_count)
        return ItemView(step, answer.option_id if answer else None, number, self.item_count)

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
        new_cursor = position if self.needs_evidence(item, answer) else position + 1
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
        return self._move(state, position + 1, answer=(step.item.id, updated))

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
            return self._move(state, position + 1, context=(question.id, (option_id,)))
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
        return self._move(state, position + 1, context=(step.context.id, tuple(selected)))

    def back(self, state: AssessmentState, position: int) -> Outcome:
        step = self._current(state, position)
        if step is None or position == 0:
            return Outcome(Verdict.STALE)
        return self._move(state, position - 1)


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
        state.id, state.mode, move.new_cursor, state.finished, context, answers,
        state.version + 1,
    )
