"""Reads of the OKR tree: a bounded number of queries whatever its size."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Exists, F, Func, JSONField, Model, OuterRef, QuerySet, Subquery
from django.utils import timezone

from config.db import fields, select
from okrs.models import CheckIn, Cycle, KeyResult, Objective
from okrs.rollup import TREND_WINDOW, KeyResultFacts, ObjectiveFacts, Rollup, compute, expected_progress
from outcomes.models import BusinessOutcome, Strategy, Team, User
from outcomes.progress import MILESTONE

TABLE = Objective._meta.db_table

# The objectives of a cycle and all their descendants, in any cycle. UNION (not UNION ALL)
# drops rows already seen, so even corrupt data with a loop cannot make it run forever.
_SUBTREE = f"""WITH RECURSIVE tree(id) AS (
    SELECT id FROM {TABLE} WHERE cycle_id = {{cycle}}
    UNION
    SELECT child.id FROM {TABLE} child JOIN tree ON child.parent_id = tree.id
)
"""
SUBTREE_OF_CYCLE = _SUBTREE.format(cycle="%s") + "SELECT id FROM tree"

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
    is in ``strategies_of`` and ``business_outcomes_of`` (objective id -> refs), read in one query.
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


def _tables(*models: type[Model]) -> dict[str, str]:
    return {model._meta.model_name or "": model._meta.db_table for model in models}


_T = _tables(Objective, KeyResult, CheckIn, Cycle, User, Team, Strategy, BusinessOutcome)
_T["strategies"] = Objective.strategies.through._meta.db_table
_T["business_outcomes"] = Objective.business_outcomes.through._meta.db_table

# The cycle tree's reads, as constant statements (see ``config.db``). Each starts from the ids of the tree.
_TREE = _SUBTREE.format(cycle="%(cycle)s")

TREE_OBJECTIVES = f"""{_TREE}
SELECT o.id, o.cycle_id, o.parent_id, o.title, o.level, o.weight, o.owner_id, u.email, u.full_name,
    o.team_id, t.name, o.progress, o.status, o.grade_overridden, y.start, y."end"
FROM {_T["objective"]} o
JOIN {_T["user"]} u ON u.id = o.owner_id
JOIN {_T["cycle"]} y ON y.id = o.cycle_id
LEFT JOIN {_T["team"]} t ON t.id = o.team_id
WHERE o.company_id = %(company)s AND o.id IN (SELECT id FROM tree)
ORDER BY o.title, o.id
"""


def _latest(column: str, at: str) -> str:
    return f"""(SELECT c.{column} FROM {_T["checkin"]} c WHERE c.key_result_id = k.id AND c.as_of <= %({at})s
        ORDER BY c.as_of DESC, c.id DESC LIMIT 1)"""


def _highest(at: str) -> str:
    """The highest value by ``at``, for milestones only: the only kind whose progress reads it."""
    return f"""CASE WHEN k.kind = %(milestone)s THEN (SELECT MAX(c.value) FROM {_T["checkin"]} c
        WHERE c.key_result_id = k.id AND c.as_of <= %({at})s) END"""


# Each key result with the latest value and confidence as of the tree's moment, a trend window before it
# (latest value), and for milestones the highest value reached by each: index lookups on (key result, as of).
TREE_KEY_RESULTS = f"""{_TREE}
SELECT k.id, k.objective_id, k.title, k.kind, k.unit, k.baseline, k.target, k.weight,
    k.owner_id, u.email, u.full_name, k.next_checkin_due, k.current_value, k.confidence, k.progress, k.status,
    {_latest("value", "at")}, {_latest("confidence", "at")}, {_highest("at")},
    {_latest("value", "before")}, {_highest("before")}
FROM {_T["keyresult"]} k
JOIN {_T["user"]} u ON u.id = k.owner_id
WHERE k.company_id = %(company)s AND k.objective_id IN (SELECT id FROM tree)
ORDER BY k.title, k.id
"""

# What the tree's objectives serve, strategies ('s') and business outcomes ('b'), each by title.
TREE_SERVED = f"""{_TREE}
SELECT 's', l.objective_id, s.id, s.title
FROM {_T["strategies"]} l JOIN {_T["strategy"]} s ON s.id = l.strategy_id
WHERE l.objective_id IN (SELECT id FROM tree)
UNION ALL
SELECT 'b', l.objective_id, b.id, b.title
FROM {_T["business_outcomes"]} l JOIN {_T["businessoutcome"]} b ON b.id = l.businessoutcome_id
WHERE l.objective_id IN (SELECT id FROM tree)
ORDER BY 4, 3
"""


_PERSON = fields(User, "id", "email", "full_name")
_OBJECTIVE_COLUMNS = [
    *fields(Objective, "id", "cycle", "parent", "title", "level", "weight"),
    *_PERSON,
    *fields(Team, "id", "name"),
    *fields(Objective, "progress", "status", "grade_overridden"),
    *fields(Cycle, "start", "end"),
]
_KEY_RESULT_COLUMNS = [
    *fields(KeyResult, "id", "objective", "title", "kind", "unit", "baseline", "target", "weight"),
    *_PERSON,
    *fields(KeyResult, "next_checkin_due", "current_value", "confidence", "progress", "status"),
    *fields(CheckIn, "value", "confidence", "value", "value", "value"),
]
_SERVED_COLUMNS = [None, *fields(Objective, "id"), *fields(Strategy, "id", "title")]


def cycle_tree(cycle: Cycle, *, at: datetime | None = None) -> CycleTree:
    """Load and compute a cycle's tree in three queries (objectives, key results, what the objectives serve)."""
    at = at or timezone.now()
    params = {"cycle": cycle.pk, "company": cycle.company_id}
    people: dict[int, Person] = {}

    def person(pk: int, email: str, full_name: str) -> Person:
        found = people.get(pk)
        if found is None:
            found = people[pk] = Person(pk, email, full_name)
        return found

    bounds = {cycle.pk: (cycle.start, cycle.end)}  # of each cycle in the tree, for its expected progress
    teams: dict[int, TeamRef] = {}
    objectives: list[TreeObjective] = []
    for row in select(TREE_OBJECTIVES, params, _OBJECTIVE_COLUMNS):
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
    moments = {"at": at, "before": at - TREND_WINDOW, "milestone": MILESTONE}
    for row in select(TREE_KEY_RESULTS, params | moments, _KEY_RESULT_COLUMNS):
        pk, objective_id, title, kind, unit, baseline, target, weight, *owner, due = row[:12]
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
                latest_value=row[16],
                latest_confidence=row[17],
                highest_value=row[18],
                value_before=row[19],
                highest_before=row[20],
            )
        )
    tz = cycle.company.timezone
    expected = {pk: expected_progress(start=start, end=end, at=at, tz=tz) for pk, (start, end) in bounds.items()}
    rollup = compute(
        [ObjectiveFacts(o.pk, o.parent_id, o.cycle_id, o.weight) for o in objectives],
        [_facts(kr, at) for kr in key_results],
        expected_by_cycle=expected,
    )
    served: dict[str, dict[int, list[Ref]]] = {"s": {}, "b": {}}
    for kind, objective_id, pk, title in select(TREE_SERVED, params, _SERVED_COLUMNS):
        served[kind].setdefault(objective_id, []).append(Ref(pk, title))
    return CycleTree(
        cycle=cycle,
        at=at,
        objectives=objectives,
        key_results=key_results,
        rollup=rollup,
        strategies_of=served["s"],
        business_outcomes_of=served["b"],
    )


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


# --- list details --------------------------------------------------------------------
def overdue_key_results() -> QuerySet[KeyResult]:
    return KeyResult.objects.filter(next_checkin_due__lt=timezone.now())


def objective_is_stale() -> Exists:
    """True for an objective with a key result whose check-in is overdue (computed live, never cached)."""
    return Exists(overdue_key_results().filter(objective=OuterRef("pk")))


class _IdArray(Func):
    """The values of a correlated subquery's rows as one JSON array in ascending order, ``[]`` when there
    are none: an aggregate over the whole subquery, with no GROUP BY."""

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
