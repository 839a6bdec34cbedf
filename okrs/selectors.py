"""Reads of the OKR tree: a bounded number of queries whatever its size."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import DecimalField, Exists, F, Func, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.expressions import RawSQL
from django.utils import timezone

from okrs.models import CheckIn, Cycle, KeyResult, Objective
from okrs.rollup import TREND_WINDOW, KeyResultFacts, ObjectiveFacts, Rollup, compute, expected_progress
from outcomes.models import BusinessOutcome, Strategy

TABLE = Objective._meta.db_table

# The objectives of a cycle and all their descendants, in any cycle. UNION (not UNION ALL)
# drops rows already seen, so even corrupt data with a loop cannot make it run forever.
SUBTREE_OF_CYCLE = f"""
WITH RECURSIVE tree(id) AS (
    SELECT id FROM {TABLE} WHERE cycle_id = %s
    UNION
    SELECT child.id FROM {TABLE} child JOIN tree ON child.parent_id = tree.id
)
SELECT id FROM tree
"""

ANCESTORS = f"""
WITH RECURSIVE up(id, parent_id, cycle_id, depth) AS (
    SELECT id, parent_id, cycle_id, 1 FROM {TABLE} WHERE id = %s
    UNION
    SELECT p.id, p.parent_id, p.cycle_id, up.depth + 1 FROM {TABLE} p JOIN up ON p.id = up.parent_id
    WHERE up.depth < 64
)
SELECT id, cycle_id FROM up ORDER BY depth
"""

SUBTREE_HEIGHT = f"""
WITH RECURSIVE down(id, depth) AS (
    SELECT id, 1 FROM {TABLE} WHERE id = %s
    UNION
    SELECT c.id, down.depth + 1 FROM {TABLE} c JOIN down ON c.parent_id = down.id WHERE down.depth < 64
)
SELECT MAX(depth) FROM down
"""


def ancestors(objective_id: int) -> list[tuple[int, int]]:
    """(id, cycle id) of the objective and its ancestors, itself first."""
    with connection.cursor() as cursor:
        cursor.execute(ANCESTORS, [objective_id])
        return [(row[0], row[1]) for row in cursor.fetchall()]


def subtree_height(objective_id: int) -> int:
    """Levels in the objective's subtree: 1 for a leaf."""
    with connection.cursor() as cursor:
        cursor.execute(SUBTREE_HEIGHT, [objective_id])
        row = cursor.fetchone()
    return int(row[0] or 1)


def _checkins(at: datetime) -> QuerySet[CheckIn]:
    return CheckIn.objects.filter(key_result=OuterRef("pk"), as_of__lte=at)


def _latest(at: datetime, field: str) -> Subquery:
    return Subquery(_checkins(at).order_by("-as_of", "-id").values(field)[:1])


class _Highest(Func):
    """MAX(value) over the correlated check-ins, without the GROUP BY an aggregate would bring: the whole
    subquery is one aggregate row, read through the (key result, as of) index."""

    function = "MAX"
    contains_aggregate = False


def _highest(at: datetime) -> Subquery:
    return Subquery(_checkins(at).order_by().values(top=_Highest(F("value"), output_field=DecimalField())))


def key_results_with_checkins(queryset: QuerySet[KeyResult], at: datetime) -> QuerySet[KeyResult]:
    """Annotate the latest value and confidence as of ``at`` and a trend window before it."""
    before = at - TREND_WINDOW
    return queryset.annotate(
        latest_value=_latest(at, "value"),
        latest_confidence=_latest(at, "confidence"),
        highest_value=_highest(at),
        value_before=_latest(before, "value"),
        highest_before=_highest(before),
    )


@dataclass(frozen=True, slots=True)
class Ref:
    """A strategy or business outcome an objective serves: what the tree shows of it."""

    pk: int
    title: str


@dataclass
class CycleTree:
    """A cycle's objectives (with their descendants in any cycle), key results and computed figures.

    What each objective serves is in ``strategies_of`` and ``business_outcomes_of`` (objective id ->
    refs), read in one query each: prefetching them onto hundreds of objectives costs Django a
    queryset per objective and relation, more than the rest of the tree.
    """

    cycle: Cycle
    at: datetime
    objectives: list[Objective]
    key_results: list[KeyResult]
    rollup: Rollup
    strategies_of: dict[int, list[Ref]]
    business_outcomes_of: dict[int, list[Ref]]

    def top_level(self) -> list[Objective]:
        ids = {o.pk for o in self.objectives if o.cycle_id == self.cycle.pk}
        return [o for o in self.objectives if o.cycle_id == self.cycle.pk and o.parent_id not in ids]


# What the tree's readers use (roll-up documents and pages, insights, the cached figures and grades
# written back): a big tree's thousands of rows cost their columns, the owners' most of all.
_PERSON = ("owner__id", "owner__email", "owner__full_name")
TREE_OBJECTIVE_FIELDS = (
    *("id", "company_id", "cycle_id", "parent_id", "title", "level", "weight", "team_id", "owner_id"),
    *("progress", "status", "grade", "grade_overridden", "updated"),
    *("team__id", "team__name", *_PERSON),
    *("cycle__id", "cycle__company_id", "cycle__name", "cycle__start", "cycle__end", "cycle__status"),
)
TREE_KEY_RESULT_FIELDS = (
    *("id", "company_id", "objective_id", "owner_id", "title", "kind", "unit", "baseline", "target", "weight"),
    *("next_checkin_due", "current_value", "confidence", "progress", "status", *_PERSON),
)


def cycle_tree(cycle: Cycle, *, at: datetime | None = None) -> CycleTree:
    """Load and compute a cycle's tree in four queries (objectives, their strategies and outcomes, key results)."""
    at = at or timezone.now()
    in_tree = RawSQL(SUBTREE_OF_CYCLE, [cycle.pk])  # noqa: S611 - a constant query with bound parameters
    objectives = list(
        Objective.objects.filter(company_id=cycle.company_id, id__in=in_tree)
        .select_related("owner", "team", "cycle")
        .only(*TREE_OBJECTIVE_FIELDS)
        .order_by("title", "id")
    )
    key_results = list(
        key_results_with_checkins(KeyResult.objects.filter(company_id=cycle.company_id, objective_id__in=in_tree), at)
        .select_related("owner")
        .only(*TREE_KEY_RESULT_FIELDS)
        .order_by("title", "id")
    )
    tz = cycle.company.timezone
    cycles = {o.cycle_id: o.cycle for o in objectives} | {cycle.pk: cycle}
    expected = {pk: expected_progress(start=c.start, end=c.end, at=at, tz=tz) for pk, c in cycles.items()}
    rollup = compute(
        [ObjectiveFacts(o.pk, o.parent_id, o.cycle_id, o.weight) for o in objectives],
        [_facts(kr, at) for kr in key_results],
        expected_by_cycle=expected,
    )
    return CycleTree(
        cycle=cycle,
        at=at,
        objectives=objectives,
        key_results=key_results,
        rollup=rollup,
        strategies_of=_served(Objective.strategies.through, "strategy", in_tree),
        business_outcomes_of=_served(Objective.business_outcomes.through, "businessoutcome", in_tree),
    )


def _served(through: Any, target: str, in_tree: RawSQL) -> dict[int, list[Ref]]:
    """Objective id -> what it serves through the many-to-many table ``through``, ordered by title."""
    rows = (
        through.objects.filter(objective_id__in=in_tree)
        .order_by(f"{target}__title", f"{target}_id")
        .values_list("objective_id", f"{target}_id", f"{target}__title")
    )
    served: dict[int, list[Ref]] = {}
    for objective_id, pk, title in rows:
        served.setdefault(objective_id, []).append(Ref(pk, title))
    return served


def _facts(kr: KeyResult, at: datetime) -> KeyResultFacts:
    return KeyResultFacts(
        id=kr.pk,
        objective_id=kr.objective_id,
        kind=kr.kind,
        baseline=kr.baseline,
        target=kr.target,
        weight=kr.weight,
        current=_decimal(kr.latest_value),  # type: ignore[attr-defined]
        highest=_decimal(kr.highest_value),  # type: ignore[attr-defined]
        confidence=_decimal(kr.latest_confidence),  # type: ignore[attr-defined]
        current_before=_decimal(kr.value_before),  # type: ignore[attr-defined]
        highest_before=_decimal(kr.highest_before),  # type: ignore[attr-defined]
        stale=kr.next_checkin_due < at,
    )


def _decimal(value: object) -> Decimal | None:
    # SQLite returns aggregates of decimals as floats or strings; normalise exactly.
    return None if value is None else value if isinstance(value, Decimal) else Decimal(str(value))


# --- list details --------------------------------------------------------------------
def overdue_key_results() -> QuerySet[KeyResult]:
    return KeyResult.objects.filter(next_checkin_due__lt=timezone.now())


def objective_is_stale() -> Exists:
    """True for an objective with a key result whose check-in is overdue (computed live, never cached)."""
    return Exists(overdue_key_results().filter(objective=OuterRef("pk")))


def objectives_for_lists(queryset: QuerySet[Objective]) -> QuerySet[Objective]:
    """The joins, prefetches and staleness every objective list shows."""
    return (
        queryset.select_related("owner", "reviewer", "team")
        .prefetch_related(Prefetch("strategies", queryset=Strategy.objects.only("id")))
        .prefetch_related(Prefetch("business_outcomes", queryset=BusinessOutcome.objects.only("id")))
        .annotate(stale=objective_is_stale())
    )
