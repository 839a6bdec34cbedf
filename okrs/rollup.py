"""The OKR roll-up: progress, expected progress, status, confidence and trend for a tree of objectives.

Pure computation over plain records (no database access), so the same code serves
the live roll-up endpoint, the cached columns, and the property tests. The rules
are the contract published in docs/progress.md:

1. A key result's progress follows ``outcomes.progress``; a milestone counts once any
   check-in reached 1.
2. An objective's progress is the weighted mean of its key results and its child
   objectives, each counted with its own weight; items without progress are left
   out; nothing left gives None.
3. A cycle's progress is the weighted mean of its top-level objectives.
4. Expected progress is the elapsed share of the cycle.
5. Status comes from the confidence when one is known (>= 0.7 on track, >= 0.4 at
   risk, else off track), otherwise from progress - expected (>= -0.1 on track,
   >= -0.25 at risk, else off track).
6. Trend is progress now minus progress seven days ago.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from okrs.choices import Status
from outcomes.progress import MILESTONE, clamp, progress

TREND_WINDOW = timedelta(days=7)
ON_TRACK_CONFIDENCE, AT_RISK_CONFIDENCE = Decimal("0.7"), Decimal("0.4")
ON_TRACK_GAP, AT_RISK_GAP = Decimal("-0.1"), Decimal("-0.25")


@dataclass(frozen=True)
class KeyResultFacts:
    """What the roll-up needs of a key result: its metric and its check-ins now and a week ago."""

    id: int
    objective_id: int
    kind: str
    baseline: Decimal
    target: Decimal
    weight: Decimal
    current: Decimal | None = None  # latest value
    highest: Decimal | None = None  # highest value ever (milestones)
    confidence: Decimal | None = None  # confidence of the latest check-in
    current_before: Decimal | None = None  # latest value a trend window ago
    highest_before: Decimal | None = None
    stale: bool = False


@dataclass(frozen=True)
class ObjectiveFacts:
    id: int
    parent_id: int | None
    cycle_id: int
    weight: Decimal


@dataclass
class Figures:
    """The computed numbers of one key result or objective."""

    progress: Decimal | None
    progress_before: Decimal | None
    confidence: Decimal | None
    expected: Decimal | None = None
    status: str | None = None
    stale: bool = False

    @property
    def trend(self) -> Decimal | None:
        if self.progress is None or self.progress_before is None:
            return None
        return self.progress - self.progress_before


@dataclass
class Rollup:
    key_results: dict[int, Figures] = field(default_factory=dict)
    objectives: dict[int, Figures] = field(default_factory=dict)


def weighted_mean(items: Iterable[tuple[Decimal, Decimal | None]]) -> Decimal | None:
    """Mean of the values weighted by the weights, leaving out missing values; None if none is left."""
    known = [(weight, value) for weight, value in items if value is not None]
    total = sum((weight for weight, _ in known), Decimal(0))
    if not known or total <= 0:
        return None
    return sum((weight * value for weight, value in known), Decimal(0)) / total


def key_result_progress(kr: KeyResultFacts, *, before: bool = False) -> Decimal | None:
    if kr.kind == MILESTONE:
        current = kr.highest_before if before else kr.highest
    else:
        current = kr.current_before if before else kr.current
    return progress(kind=kr.kind, baseline=kr.baseline, target=kr.target, current=current)


def expected_progress(*, start: date, end: date, at: datetime, tz: str = "UTC") -> Decimal:
    """The elapsed share of a cycle that runs from ``start`` 00:00 to the end of ``end``, in the company's zone."""
    zone = ZoneInfo(tz)
    begins = datetime.combine(start, time.min, tzinfo=zone)
    ends = datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone)
    return clamp(Decimal((at - begins).total_seconds()) / Decimal((ends - begins).total_seconds()))


def status_of(*, progress: Decimal | None, expected: Decimal | None, confidence: Decimal | None) -> str | None:
    if confidence is not None:
        if confidence >= ON_TRACK_CONFIDENCE:
            return Status.ON_TRACK
        return Status.AT_RISK if confidence >= AT_RISK_CONFIDENCE else Status.OFF_TRACK
    if progress is None or expected is None:
        return None
    gap = progress - expected
    if gap >= ON_TRACK_GAP:
        return Status.ON_TRACK
    return Status.AT_RISK if gap >= AT_RISK_GAP else Status.OFF_TRACK


def compute(
    objectives: Iterable[ObjectiveFacts],
    key_results: Iterable[KeyResultFacts],
    *,
    expected_by_cycle: dict[int, Decimal],
) -> Rollup:
    """Figures for every key result and objective of a forest.

    Steps: (1) key results from their check-ins; (2) objectives children-first, from
    their key results and child objectives; (3) status from confidence or from the
    gap to the expected progress of the objective's own cycle.
    """
    objective_list = list(objectives)
    by_id = {o.id: o for o in objective_list}
    krs_of: dict[int, list[KeyResultFacts]] = defaultdict(list)
    result = Rollup()
    for kr in key_results:
        krs_of[kr.objective_id].append(kr)
        result.key_results[kr.id] = _key_result_figures(kr, expected_by_cycle.get(by_id[kr.objective_id].cycle_id))
    children: dict[int, list[ObjectiveFacts]] = defaultdict(list)
    for objective in objective_list:
        if objective.parent_id in by_id:
            children[objective.parent_id].append(objective)
    for objective in _children_first(objective_list, children):
        result.objectives[objective.id] = _objective_figures(
            objective, krs_of[objective.id], children[objective.id], result, expected_by_cycle.get(objective.cycle_id)
        )
    return result


def _key_result_figures(kr: KeyResultFacts, expected: Decimal | None) -> Figures:
    figures = Figures(
        progress=key_result_progress(kr),
        progress_before=key_result_progress(kr, before=True),
        confidence=kr.confidence,
        expected=expected,
        stale=kr.stale,
    )
    figures.status = status_of(progress=figures.progress, expected=expected, confidence=kr.confidence)
    return figures


def _objective_figures(
    objective: ObjectiveFacts,
    krs: list[KeyResultFacts],
    children: list[ObjectiveFacts],
    done: Rollup,
    expected: Decimal | None,
) -> Figures:
    parts = [(kr.weight, done.key_results[kr.id]) for kr in krs]
    parts += [(child.weight, done.objectives[child.id]) for child in children]
    figures = Figures(
        progress=weighted_mean((weight, f.progress) for weight, f in parts),
        progress_before=weighted_mean((weight, f.progress_before) for weight, f in parts),
        confidence=weighted_mean((kr.weight, kr.confidence) for kr in krs),
        expected=expected,
        stale=any(kr.stale for kr in krs),
    )
    figures.status = status_of(progress=figures.progress, expected=expected, confidence=figures.confidence)
    return figures


def _children_first(
    objectives: list[ObjectiveFacts], children: dict[int, list[ObjectiveFacts]]
) -> list[ObjectiveFacts]:
    """Post-order over the forest (iterative: depth is capped, but never trust input)."""
    ordered: list[ObjectiveFacts] = []
    ids = {o.id for o in objectives}
    roots = [o for o in objectives if o.parent_id not in ids]
    stack: list[tuple[ObjectiveFacts, bool]] = [(root, False) for root in reversed(roots)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            ordered.append(node)
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(children[node.id]))
    return ordered


def cycle_progress(rollup: Rollup, top_level: Iterable[ObjectiveFacts]) -> Decimal | None:
    return weighted_mean((o.weight, rollup.objectives[o.id].progress) for o in top_level)
