"""The epic lifecycle and the verdict rules, as data and pure functions.

Allowed manual moves form a table; the tracker owns status, so a synced change may
go anywhere (it is recorded, never refused). ``done -> in_progress`` and
``cancelled -> proposed`` are reopens; reopening a cancelled epic is for owners and
admins.
"""

from __future__ import annotations

from decimal import Decimal

from epics.choices import EpicStatus, Verdict
from outcomes.choices import Direction

S = EpicStatus
ALLOWED_MOVES: dict[str, frozenset[str]] = {
    S.PROPOSED: frozenset({S.PLANNED, S.IN_PROGRESS, S.CANCELLED}),
    S.PLANNED: frozenset({S.PROPOSED, S.IN_PROGRESS, S.CANCELLED}),
    S.IN_PROGRESS: frozenset({S.PLANNED, S.DONE, S.CANCELLED}),
    S.DONE: frozenset({S.IN_PROGRESS}),
    S.CANCELLED: frozenset({S.PROPOSED}),
}
REOPENS = frozenset({(S.DONE, S.IN_PROGRESS), (S.CANCELLED, S.PROPOSED)})
MANAGERS_ONLY = frozenset({(S.CANCELLED, S.PROPOSED)})
NEEDS_ANTICIPATED_OUTCOME = frozenset({S.IN_PROGRESS, S.DONE})
STARTED = frozenset({S.IN_PROGRESS, S.DONE})


def move_problem(from_status: str, to_status: str) -> str | None:
    """Why a manual move is not allowed, or None."""
    if from_status == to_status:
        return f"The epic is already {from_status}."
    allowed = ALLOWED_MOVES[from_status]
    if to_status not in allowed:
        return f"An epic cannot move from {from_status} to {to_status}; allowed: {', '.join(sorted(allowed))}."
    return None


def metric_verdict(*, direction: str, baseline: Decimal, target: Decimal, value: Decimal | None) -> str:
    """achieved: the target is reached; partly: moved the right way but short; missed; inconclusive: no value."""
    if value is None:
        return Verdict.INCONCLUSIVE
    if direction == Direction.INCREASE:
        return Verdict.ACHIEVED if value >= target else Verdict.PARTLY if value > baseline else Verdict.MISSED
    if direction == Direction.DECREASE:
        return Verdict.ACHIEVED if value <= target else Verdict.PARTLY if value < baseline else Verdict.MISSED
    if direction == Direction.STAY_ABOVE:
        return Verdict.ACHIEVED if value >= target else Verdict.MISSED
    return Verdict.ACHIEVED if value <= target else Verdict.MISSED


def overall_verdict(verdicts: list[str]) -> str:
    """All metrics achieved: achieved. Nothing measured: inconclusive. Nothing moved: missed. Else partly.

    A metric left unmeasured keeps the whole from being "achieved".
    """
    known = [v for v in verdicts if v != Verdict.INCONCLUSIVE]
    if not known:
        return Verdict.INCONCLUSIVE
    if len(known) == len(verdicts) and all(v == Verdict.ACHIEVED for v in known):
        return Verdict.ACHIEVED
    if all(v == Verdict.MISSED for v in known):
        return Verdict.MISSED
    return Verdict.PARTLY
