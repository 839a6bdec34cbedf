"""Reads of the OKR tree: a bounded number of queries whatever its size."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    Case,
    DecimalField,
    Exists,
    F,
    Func,
    JSONField,
    Model,
    OuterRef,
    QuerySet,
    Subquery,
    When,
)
from django.db.models.expressions import RawSQL
from django.utils import timezone

from okrs.models import CheckIn, Cycle, KeyResult, Objective
from okrs.rollup import TREND_WINDOW, KeyResultFacts, ObjectiveFacts, Rollup, compute, expected_progress
from outcomes.progress import MILESTONE

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


def highest_of(check_ins: QuerySet[CheckIn]) -> Subquery:
    """The highest value among correlated check-ins, as one aggregate row."""
    return Subquery(check_ins.order_by().values(top=_Highest(F("value"), output_field=DecimalField())))


def for_milestones(value: Subquery) -> Case:
    """The value for milestones, NULL for other kinds: only a milestone's progress reads its highest value,
    so the database skips the subquery for the rest."""
    return Case(When(kind=MILESTONE, then=value), default=None, output_field=DecimalField())


def key_results_with_checkins(queryset: QuerySet[KeyResult], at: datetime) -> QuerySet[KeyResult]:
    """Annotate the latest value and confidence as of ``at`` and a trend window before it, and for
    milestones (the only kind whose progress reads it) the highest value ever reached by then."""
    before = at - TREND_WINDOW
    return queryset.annotate(
        latest_value=_latest(at, "value"),
        latest_confidence=_latest(at, "confidence"),
        highest_value=for_milestones(highest_of(_checkins(at))),
        value_before=_latest(before, "value"),
        highest_before=for_milestones(highest_of(_checkins(before))),
    )


@dataclass(frozen=True, slots=True)
class Ref:
    """A strategy or business outcome an objective serves: what the tree shows of it."""

    pk: int
    title: str


@dataclass(frozen=True, slots=True)
class Person:
    """The accountable owner of an objective or key result: what the tree shows of them."""

    pk: int
    email: str
    full_name: str


@dataclass(frozen=True, slots=True)
class TeamRef:
    pk: int
    name: str


@dataclass(slots=True)
class TreeObjective:
    """An objective as the tree reads it: the columns its readers use and the figures cached on it."""

    pk: int
    cycle_id: int
    parent_id: int | None
    title: str
    level: str
    weight: Decimal
    owner: Person
    team_id: int | None
    team: TeamRef | None
    progress: Decimal | None  # cached, as stored: what ``refresh_cycles`` compares against
    status: str
    grade_overridden: bool


@dataclass(slots=True)
class TreeKeyResult:
    """A key result as the tree reads it, with its check-in figures as of the tree's moment."""

    pk: int
    objective_id: int
    title: str
    kind: str
    unit: str
    baseline: Decimal
    target: Decimal
    weight: Decimal
    owner: Person
    next_checkin_due: datetime
    # cached, as stored
    current_value: Decimal | None
    confidence: Decimal | None
    progress: Decimal | None
    status: str
    # as of the tree's moment and a trend window before it (highest values for milestones only)
    latest_value: Decimal | None
    latest_confidence: Decimal | None
    highest_value: Decimal | None
    value_before: Decimal | None
    highest_before: Decimal | None


@dataclass
class CycleTree:
    """A cycle's objectives (with their descendants in any cycle), key results and computed figures.

    The tree is read-only and read as plain rows: a big cycle has thousands of objectives and key
    results, and model instances of them (and of their owners, one per row) cost more than the queries.
    Writers read the models they write (``refresh_cycles``, ``cycle_close``). What each objective serves
    is in ``strategies_of`` and ``business_outcomes_of`` (objective id -> refs), one query each.
    """

    cycle: Cycle
    at: datetime
    objectives: list[TreeObjective]
    key_results: list[TreeKeyResult]
    rollup: Rollup
    strategies_of: dict[int, list[Ref]]
    business_outcomes_of: dict[int, list[Ref]]

    def top_level(self) -> list[TreeObjective]:
        ids = {o.pk for o in self.objectives if o.cycle_id == self.cycle.pk}
        return [o for o in self.objectives if o.cycle_id == self.cycle.pk and o.parent_id not in ids]


_OWNER = ("owner_id", "owner__email", "owner__full_name")
_OBJECTIVE_ROW = (
    *("id", "cycle_id", "parent_id", "title", "level", "weight", *_OWNER, "team_id", "team__name"),
    *("progress", "status", "grade_overridden", "cycle__start", "cycle__end"),
)
_KEY_RESULT_ROW = (
    *("id", "objective_id", "title", "kind", "unit", "baseline", "target", "weight", *_OWNER, "next_checkin_due"),
    *("current_value", "confidence", "progress", "status"),
    *("latest_value", "latest_confidence", "highest_value", "value_before", "highest_before"),
)


def cycle_tree(cycle: Cycle, *, at: datetime | None = None) -> CycleTree:
    """Load and compute a cycle's tree in four queries (objectives, their strategies and outcomes, key results)."""
    at = at or timezone.now()
    in_tree = RawSQL(SUBTREE_OF_CYCLE, [cycle.pk])  # noqa: S611 - a constant query with bound parameters
    people: dict[int, Person] = {}

    def person(pk: int, email: str, full_name: str) -> Person:
        found = people.get(pk)
        if found is None:
            found = people[pk] = Person(pk, email, full_name)
        return found

    bounds = {cycle.pk: (cycle.start, cycle.end)}  # of each cycle in the tree, for its expected progress
    teams: dict[int, TeamRef] = {}
    objectives: list[TreeObjective] = []
    rows = (
        Objective.objects.filter(company_id=cycle.company_id, id__in=in_tree)
        .order_by("title", "id")
        .values_list(*_OBJECTIVE_ROW)
    )
    for row in rows:
        pk, cycle_id, parent_id, title, level, weight, *owner, team_id, team_name = row[:11]
        bounds.setdefault(cycle_id, (row[14], row[15]))
        objectives.append(
            TreeObjective(
                pk=pk,
                cycle_id=cycle_id,
                parent_id=parent_id,
                title=title,
                level=level,
                weight=weight,
                owner=person(*owner),
                team_id=team_id,
                team=None if team_id is None else teams.setdefault(team_id, TeamRef(team_id, team_name)),
                progress=row[11],
                status=row[12],
                grade_overridden=row[13],
            )
        )
    key_results: list[TreeKeyResult] = []
    kr_rows = (
        key_results_with_checkins(KeyResult.objects.filter(company_id=cycle.company_id, objective_id__in=in_tree), at)
        .order_by("title", "id")
        .values_list(*_KEY_RESULT_ROW)
    )
    for row in kr_rows:
        pk, objective_id, title, kind, unit, baseline, target, weight, *owner, due = row[:12]
        latest, confidence_now, highest, before, highest_before = map(_decimal, row[16:])
        key_results.append(
            TreeKeyResult(
                pk=pk,
                objective_id=objective_id,
                title=title,
                kind=kind,
                unit=unit,
                baseline=baseline,
                target=target,
                weight=weight,
                owner=person(*owner),
                next_checkin_due=due,
                current_value=row[12],
                confidence=row[13],
                progress=row[14],
                status=row[15],
                latest_value=latest,
                latest_confidence=confidence_now,
                highest_value=highest,
                value_before=before,
                highest_before=highest_before,
            )
        )
    tz = cycle.company.timezone
    expected = {pk: expected_progress(start=start, end=end, at=at, tz=tz) for pk, (start, end) in bounds.items()}
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


def _facts(kr: TreeKeyResult, at: datetime) -> KeyResultFacts:
    return KeyResultFacts(
        id=kr.pk,
        objective_id=kr.objective_id,
        kind=kr.kind,
        baseline=kr.baseline,
        target=kr.target,
        weight=kr.weight,
        current=kr.latest_value,
        highest=kr.highest_value,
        confidence=kr.latest_confidence,
        current_before=kr.value_before,
        highest_before=kr.highest_before,
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


class _IdArray(Func):
    """The values of a correlated subquery's rows as one JSON array in ascending order, ``[]`` when there
    are none. Like ``_Highest``, an aggregate over the whole subquery with no GROUP BY."""

    contains_aggregate = False
    output_field = JSONField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "COALESCE(JSONB_AGG(%(expressions)s ORDER BY %(expressions)s), '[]'::jsonb)"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, function="JSON_GROUP_ARRAY", **extra)


def _linked_ids(through: type[Model], column: str) -> Subquery:
    rows = through._default_manager.filter(objective_id=OuterRef("pk")).order_by()
    return Subquery(rows.values(ids=_IdArray(F(column))))


def objectives_for_lists(queryset: QuerySet[Objective]) -> QuerySet[Objective]:
    """The joins and staleness every objective list shows, and the ids of the strategies and business
    outcomes each serves (``strategy_ids``, ``business_outcome_ids``) read with the row: one query for a
    page, with no second query or model instances per link."""
    return queryset.select_related("owner", "reviewer", "team").annotate(
        stale=objective_is_stale(),
        strategy_ids=_linked_ids(Objective.strategies.through, "strategy_id"),
        business_outcome_ids=_linked_ids(Objective.business_outcomes.through, "businessoutcome_id"),
    )
