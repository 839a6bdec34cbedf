"""Render a computed cycle tree as the roll-up document (plain dicts: fast for big trees)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from okrs.rollup import Figures, ObjectiveFacts, cycle_progress, expected_progress, weighted_mean
from okrs.selectors import CycleTree, Person, TreeKeyResult, TreeObjective


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value.quantize(Decimal("0.0001")))


def _person(person: Person) -> dict[str, Any]:
    return {"id": person.pk, "email": person.email, "full_name": person.full_name}


def _figures(figures: Figures) -> dict[str, Any]:
    return {
        "progress": _number(figures.progress),
        "expected": _number(figures.expected),
        "status": figures.status,
        "confidence": _number(figures.confidence),
        "trend": _number(figures.trend),
        "stale": figures.stale,
    }


def _key_result(kr: TreeKeyResult, figures: Figures) -> dict[str, Any]:
    current = kr.latest_value
    return {
        "id": kr.pk,
        "title": kr.title,
        "owner": _person(kr.owner),
        "kind": kr.kind,
        "unit": kr.unit,
        "baseline": str(kr.baseline),
        "target": str(kr.target),
        "current_value": None if current is None else str(current.quantize(Decimal("0.0001"))),
        "weight": str(kr.weight),
        **_figures(figures),
    }


def render_rollup(tree: CycleTree) -> dict[str, Any]:
    krs_of: dict[int, list[TreeKeyResult]] = defaultdict(list)
    for kr in tree.key_results:
        krs_of[kr.objective_id].append(kr)
    children_of: dict[int | None, list[TreeObjective]] = defaultdict(list)
    for objective in tree.objectives:
        children_of[objective.parent_id].append(objective)

    def node(objective: TreeObjective) -> dict[str, Any]:
        return {
            "id": objective.pk,
            "title": objective.title,
            "cycle": objective.cycle_id,
            "level": objective.level,
            "team": {"id": objective.team.pk, "name": objective.team.name} if objective.team else None,
            "owner": _person(objective.owner),
            "parent": objective.parent_id,
            "weight": str(objective.weight),
            **_figures(tree.rollup.objectives[objective.pk]),
            "key_results": [_key_result(kr, tree.rollup.key_results[kr.pk]) for kr in krs_of[objective.pk]],
            "children": [node(child) for child in children_of[objective.pk]],
        }

    cycle = tree.cycle
    top = tree.top_level()
    facts = [ObjectiveFacts(o.pk, o.parent_id, o.cycle_id, o.weight) for o in top]
    return {
        "cycle": {
            "id": cycle.pk,
            "name": cycle.name,
            "start": cycle.start.isoformat(),
            "end": cycle.end.isoformat(),
            "status": cycle.status,
            "closed_at": cycle.closed_at.isoformat() if cycle.closed_at else None,
            "created": cycle.created.isoformat(),
        },
        "at": tree.at.isoformat(),
        "progress": _number(cycle_progress(tree.rollup, facts)),
        "expected": _number(expected_progress(start=cycle.start, end=cycle.end, at=tree.at, tz=cycle.company.timezone)),
        "objectives": [node(objective) for objective in top],
        "teams": _groups(tree, lambda o: [o.team] if o.team else []),
        "strategies": _groups(tree, lambda o: tree.strategies_of.get(o.pk, [])),
        "business_outcomes": _groups(tree, lambda o: tree.business_outcomes_of.get(o.pk, [])),
    }


def _groups(tree: CycleTree, members_of: Any) -> list[dict[str, Any]]:
    """Weighted mean progress of the cycle's own objectives per team or strategy."""
    grouped: dict[int, tuple[str, list[TreeObjective]]] = {}
    for objective in tree.objectives:
        if objective.cycle_id != tree.cycle.pk:
            continue
        for group in members_of(objective):
            name = str(getattr(group, "name", None) or getattr(group, "title", ""))
            grouped.setdefault(group.pk, (name, []))[1].append(objective)
    rows = []
    for pk, (name, objectives) in sorted(grouped.items(), key=lambda item: item[1][0]):
        mean = weighted_mean((o.weight, tree.rollup.objectives[o.pk].progress) for o in objectives)
        rows.append({"id": pk, "name": name, "progress": _number(mean), "objectives": len(objectives)})
    return rows
