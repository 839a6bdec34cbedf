"""Floors: the rows each read endpoint needs, fetched with plain SQL and dumped to JSON.

A floor is the least an endpoint can cost: the same columns and the same rows (the same filters,
the same latest check-in or review per row), read through ``connection.cursor()`` in as few
statements as plain SQL allows, then ``json.dumps``. No model instances, no grouping, no
figures computed. An endpoint's time over its floor is what the ORM, the computation, the
serializers and the framework add.

Each floor takes the company, its current cycle and the insight period (computed beforehand, as
the endpoint computes them) and returns the JSON text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils import timezone

from insights.calibration import cycle_bounds
from insights.periods import Period
from okrs.models import Cycle
from okrs.rollup import TREND_WINDOW
from okrs.selectors import SUBTREE_OF_CYCLE
from outcomes.models import Company


@dataclass(frozen=True)
class Scope:
    company: Company
    cycle: Cycle
    period: Period


def _rows(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _dump(*parts: Any) -> str:
    return json.dumps(parts, default=str)


TREE = SUBTREE_OF_CYCLE.replace("%s", "%(cycle)s")

OBJECTIVES = f"""
SELECT o.id, o.title, o.cycle_id, o.level, o.parent_id, o.weight, t.id, t.name, u.id, u.email, u.full_name
FROM okrs_objective o
JOIN outcomes_user u ON u.id = o.owner_id
LEFT JOIN outcomes_team t ON t.id = o.team_id
WHERE o.company_id = %(company)s AND o.id IN ({TREE})
"""

OBJECTIVE_LINKS = f"""
SELECT l.objective_id, s.id, s.title, 's' FROM okrs_objective_strategies l
JOIN outcomes_strategy s ON s.id = l.strategy_id WHERE l.objective_id IN ({TREE})
UNION ALL
SELECT l.objective_id, b.id, b.title, 'b' FROM okrs_objective_business_outcomes l
JOIN outcomes_businessoutcome b ON b.id = l.businessoutcome_id WHERE l.objective_id IN ({TREE})
"""

# Each key result of the tree with its check-in figures as of now and a trend window earlier: latest
# value and confidence, highest value, and the same a week before. Three index lookups per key result
# (the fastest of the forms tried: correlated subqueries, one aggregate pass, window functions).
KEY_RESULTS = f"""
SELECT k.id, k.title, k.objective_id, k.kind, k.unit, k.baseline, k.target, k.weight, k.next_checkin_due,
    u.id, u.email, u.full_name, l.value, l.confidence, m.highest, b.value, m.highest_before
FROM okrs_keyresult k
JOIN outcomes_user u ON u.id = k.owner_id
LEFT JOIN LATERAL (
    SELECT c.value, c.confidence FROM okrs_checkin c WHERE c.key_result_id = k.id AND c.as_of <= %(at)s
    ORDER BY c.as_of DESC, c.id DESC LIMIT 1
) l ON true
LEFT JOIN LATERAL (
    SELECT c.value FROM okrs_checkin c WHERE c.key_result_id = k.id AND c.as_of <= %(before)s
    ORDER BY c.as_of DESC, c.id DESC LIMIT 1
) b ON true
LEFT JOIN LATERAL (
    SELECT max(c.value) AS highest, max(c.value) FILTER (WHERE c.as_of <= %(before)s) AS highest_before
    FROM okrs_checkin c WHERE c.key_result_id = k.id AND c.as_of <= %(at)s AND k.kind = 'milestone'
) m ON true
WHERE k.company_id = %(company)s AND k.objective_id IN ({TREE})
"""

# The verdict of a review: its latest result revision's, the override winning.
VERDICT = """(SELECT COALESCE(NULLIF(a.verdict_override, ''), a.verdict) FROM epics_actualresult a
              WHERE a.review_id = r.id ORDER BY a.revision DESC LIMIT 1)"""

# The epics serving the tree's key results, each with its latest delivery's review (not a cancelled one).
SERVING = f"""
SELECT c.key_result_id, e.id, e.title, e.status, e.work_type, u.id, u.email, u.full_name, t.name,
    r.state, r.due_at, r.verdict
FROM epics_contribution c
JOIN epics_epic e ON e.id = c.epic_id
JOIN outcomes_user u ON u.id = e.owner_id
LEFT JOIN outcomes_team t ON t.id = e.team_id
LEFT JOIN LATERAL (
    SELECT r.state, r.due_at, {VERDICT} AS verdict FROM epics_outcomereview r
    WHERE r.epic_id = e.id AND r.state <> 'cancelled' ORDER BY r.done_at DESC, r.id DESC LIMIT 1
) r ON true
WHERE c.key_result_id IN (
    SELECT k.id FROM okrs_keyresult k WHERE k.company_id = %(company)s AND k.objective_id IN ({TREE})
)
"""

# Deliveries in the period (not cancelled) with their verdict, epic, team, owner and cost inputs.
DELIVERIES = f"""
SELECT r.epic_id, r.state, {VERDICT}, r.done_at, e.title, e.team_id, t.name, u.email,
    e.cost_estimate, e.cost_currency, t.monthly_cost, t.cost_currency, e.started_at, e.done_at
FROM epics_outcomereview r
JOIN epics_epic e ON e.id = r.epic_id
JOIN outcomes_user u ON u.id = e.owner_id
LEFT JOIN outcomes_team t ON t.id = e.team_id
WHERE e.company_id = %(company)s AND r.done_at >= %(start)s AND r.done_at < %(end)s AND r.state <> 'cancelled'
"""

# The strategies each of those epics serves through its key results' objectives.
STRATEGIES_OF_DELIVERED = """
SELECT DISTINCT c.epic_id, s.id, s.title
FROM epics_contribution c
JOIN okrs_keyresult k ON k.id = c.key_result_id
JOIN okrs_objective_strategies l ON l.objective_id = k.objective_id
JOIN outcomes_strategy s ON s.id = l.strategy_id
WHERE c.epic_id IN (
    SELECT r.epic_id FROM epics_outcomereview r JOIN epics_epic e ON e.id = r.epic_id
    WHERE e.company_id = %(company)s AND r.done_at >= %(start)s AND r.done_at < %(end)s AND r.state <> 'cancelled'
)
"""

DEBT_REVIEWS = """
SELECT r.due_at, u.email, e.team_id, t.name
FROM epics_outcomereview r
JOIN epics_epic e ON e.id = r.epic_id
JOIN outcomes_user u ON u.id = e.owner_id
LEFT JOIN outcomes_team t ON t.id = e.team_id
WHERE e.company_id = %(company)s AND r.state = 'pending' AND r.due_at <= %(now)s
"""

STALE_KEY_RESULTS = """
SELECT u.email
FROM okrs_keyresult k
JOIN okrs_objective o ON o.id = k.objective_id
JOIN okrs_cycle y ON y.id = o.cycle_id
JOIN outcomes_user u ON u.id = k.owner_id
WHERE k.company_id = %(company)s AND y.status = 'active' AND k.next_checkin_due < %(now)s
"""

ACTIVE_EPICS = """
SELECT e.id, e.title, u.email, t.name, e.status,
    EXISTS (SELECT 1 FROM epics_contribution c WHERE c.epic_id = e.id),
    e.cost_estimate, e.cost_currency, t.monthly_cost, t.cost_currency, e.started_at, e.done_at
FROM epics_epic e
JOIN outcomes_user u ON u.id = e.owner_id
LEFT JOIN outcomes_team t ON t.id = e.team_id
WHERE e.company_id = %(company)s AND e.created < %(end)s AND (e.done_at IS NULL OR e.done_at >= %(start)s)
    AND e.status <> 'cancelled'
"""

# Objectives of the overlapping cycles with no work on them nor beneath them, then such key results.
IDLE_OBJECTIVES = """
WITH RECURSIVE covered(id, parent_id) AS (
    SELECT o.id, o.parent_id FROM okrs_objective o WHERE o.id IN (
        SELECT k.objective_id FROM epics_contribution c JOIN epics_epic e ON e.id = c.epic_id
        JOIN okrs_keyresult k ON k.id = c.key_result_id WHERE e.company_id = %(company)s)
    UNION
    SELECT p.id, p.parent_id FROM okrs_objective p JOIN covered ON p.id = covered.parent_id
)
SELECT o.id, o.title, y.name, u.email, t.name
FROM okrs_objective o
JOIN okrs_cycle y ON y.id = o.cycle_id
JOIN outcomes_user u ON u.id = o.owner_id
LEFT JOIN outcomes_team t ON t.id = o.team_id
WHERE o.company_id = %(company)s AND y.start <= %(last_day)s AND y."end" >= %(first_day)s
    AND o.id NOT IN (SELECT id FROM covered)
"""

IDLE_KEY_RESULTS = """
SELECT k.id, k.title, o.title, u.email, t.name
FROM okrs_keyresult k
JOIN okrs_objective o ON o.id = k.objective_id
JOIN okrs_cycle y ON y.id = o.cycle_id
JOIN outcomes_user u ON u.id = k.owner_id
LEFT JOIN outcomes_team t ON t.id = o.team_id
WHERE k.company_id = %(company)s AND y.start <= %(last_day)s AND y."end" >= %(first_day)s
    AND NOT EXISTS (SELECT 1 FROM epics_contribution c WHERE c.key_result_id = k.id)
"""

OPEN_THREATS = """
SELECT w.id, w.title, w.impact, u.email
FROM outcomes_swotitem w JOIN outcomes_user u ON u.id = w.owner_id
WHERE w.company_id = %(company)s AND w.kind = 'threat' AND NOT EXISTS (
    SELECT 1 FROM outcomes_strategy_swot_items l JOIN outcomes_strategy s ON s.id = l.strategy_id
    WHERE l.swotitem_id = w.id AND s.status = 'active'
)
"""

# Epics that can matter to flow (not done before the period and still done) and their status history.
FLOW_EPICS = """
SELECT e.id, e.work_type, e.status, e.started_at, e.done_at FROM epics_epic e
WHERE e.company_id = %(company)s AND (e.status <> 'done' OR e.done_at >= %(start)s)
"""

FLOW_HISTORY = """
SELECT s.epic_id, s.at, s.to_status, s.waiting
FROM epics_statuschange s JOIN epics_epic e ON e.id = s.epic_id
WHERE e.company_id = %(company)s AND (e.status <> 'done' OR e.done_at >= %(start)s)
"""

# Key results of the cycle: confidence stated by the midpoint, value and highest value by the end.
CALIBRATION = """
SELECT k.id, k.title, k.kind, k.baseline, k.target, k.weight, k.objective_id, u.email, o.team_id, t.name,
    (SELECT c.confidence FROM okrs_checkin c WHERE c.key_result_id = k.id AND c.as_of <= %(midpoint)s
        AND c.confidence IS NOT NULL ORDER BY c.as_of DESC, c.id DESC LIMIT 1),
    (SELECT c.value FROM okrs_checkin c WHERE c.key_result_id = k.id AND c.as_of < %(ends)s
        ORDER BY c.as_of DESC, c.id DESC LIMIT 1),
    CASE WHEN k.kind = 'milestone' THEN
        (SELECT max(c.value) FROM okrs_checkin c WHERE c.key_result_id = k.id AND c.as_of < %(ends)s) END
FROM okrs_keyresult k
JOIN okrs_objective o ON o.id = k.objective_id
JOIN outcomes_user u ON u.id = k.owner_id
LEFT JOIN outcomes_team t ON t.id = o.team_id
WHERE k.company_id = %(company)s AND o.cycle_id = %(cycle)s
"""


def _tree_params(scope: Scope) -> dict[str, Any]:
    at = timezone.now()
    return {"company": scope.company.pk, "cycle": scope.cycle.pk, "at": at, "before": at - TREND_WINDOW}


def rollup(scope: Scope) -> str:
    params = _tree_params(scope)
    return _dump(_rows(OBJECTIVES, params), _rows(OBJECTIVE_LINKS, params), _rows(KEY_RESULTS, params))


def delivery_rollup(scope: Scope) -> str:
    params = _tree_params(scope)
    tree = [_rows(OBJECTIVES, params), _rows(OBJECTIVE_LINKS, params), _rows(KEY_RESULTS, params)]
    return _dump(*tree, _rows(SERVING, params))


def _period_params(scope: Scope) -> dict[str, Any]:
    period = scope.period
    return {
        "company": scope.company.pk,
        "start": period.start,
        "end": period.end,
        "first_day": period.first_day,
        "last_day": period.last_day,
    }


def realisation(scope: Scope) -> str:
    params = _period_params(scope)
    return _dump(_rows(DELIVERIES, params), _rows(STRATEGIES_OF_DELIVERED, params))


def investment(scope: Scope) -> str:
    return realisation(scope)  # the same rows: deliveries with their cost inputs, and the strategies served


def outcome_debt(scope: Scope) -> str:
    params = {"company": scope.company.pk, "now": timezone.now()}
    return _dump(_rows(DEBT_REVIEWS, params), _rows(STALE_KEY_RESULTS, params))


def alignment(scope: Scope) -> str:
    params = _period_params(scope)
    parts = [ACTIVE_EPICS, IDLE_OBJECTIVES, IDLE_KEY_RESULTS, OPEN_THREATS]
    return _dump(*(_rows(sql, params) for sql in parts))


def flow(scope: Scope) -> str:
    params = _period_params(scope)
    return _dump(_rows(FLOW_EPICS, params), _rows(FLOW_HISTORY, params))


def calibration(scope: Scope) -> str:
    _begins, midpoint, ends = cycle_bounds(scope.cycle, scope.company.timezone)
    params = {"company": scope.company.pk, "cycle": scope.cycle.pk, "midpoint": midpoint, "ends": ends}
    return _dump(_rows(CALIBRATION, params))


FLOORS: dict[str, Callable[[Scope], str]] = {
    "rollup": rollup,
    "insights/rollup": delivery_rollup,
    "insights/realisation": realisation,
    "insights/outcome-debt": outcome_debt,
    "insights/alignment": alignment,
    "insights/flow": flow,
    "insights/investment": investment,
    "insights/calibration": calibration,
}
