"""The progress formula shared by key results and business outcomes.

One place defines how far a metric has come, so an objective's key result and a
strategy's business outcome with the same numbers always show the same progress.
Values are Decimals; the result is a Decimal in [0, 1], or None when it cannot be
known yet (a stay-above/below metric without any value). Never NaN.

- increase / decrease (key results: increase_to / decrease_to):
  ``clamp((current - baseline) / (target - baseline), 0, 1)``; with no value yet,
  current = baseline (progress 0).
- stay_above: 1 if current >= target else 0; stay_below: 1 if current <= target else 0;
  with no value yet: None.
- milestone: 1 once a value >= 1 was recorded, else 0.
"""

from __future__ import annotations

from decimal import Decimal

ZERO, ONE = Decimal(0), Decimal(1)

MOVE_TOWARDS = frozenset({"increase", "decrease", "increase_to", "decrease_to"})
STAY_ABOVE = frozenset({"stay_above"})
STAY_BELOW = frozenset({"stay_below"})
MILESTONE = "milestone"
ALL_KINDS = MOVE_TOWARDS | STAY_ABOVE | STAY_BELOW | {MILESTONE}


def clamp(value: Decimal) -> Decimal:
    return max(ZERO, min(ONE, value))


def progress(*, kind: str, baseline: Decimal, target: Decimal, current: Decimal | None) -> Decimal | None:
    """How far a metric of ``kind`` has come from ``baseline`` towards ``target``."""
    if kind in MOVE_TOWARDS:
        if target == baseline:  # refused on write; guarded here so a bad row can never divide by zero
            return None
        value = baseline if current is None else current
        return clamp((value - baseline) / (target - baseline))
    if kind == MILESTONE:
        return ONE if current is not None and current >= ONE else ZERO
    if current is None:
        return None
    if kind in STAY_ABOVE:
        return ONE if current >= target else ZERO
    if kind in STAY_BELOW:
        return ONE if current <= target else ZERO
    raise ValueError(f"unknown metric kind {kind!r}")


def target_problem(*, kind: str, baseline: Decimal, target: Decimal) -> str | None:
    """Why a baseline/target pair makes no sense for ``kind``, or None when it does."""
    if kind in {"increase", "increase_to"} and target <= baseline:
        return "An increasing metric needs a target above its baseline."
    if kind in {"decrease", "decrease_to"} and target >= baseline:
        return "A decreasing metric needs a target below its baseline."
    return None
