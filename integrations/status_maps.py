"""Status maps: how a tracker's own status signals become our epic lifecycle.

A tracker item is reduced to a few signals (Jira: status category, status name, resolution;
GitHub: state, state_reason, labels, and for milestones whether work started (``work``); GitLab:
state, labels; Linear: status type and name). A map is an ordered list of rules
``{"match": {signal: value or [values]}, "status": ours}``; the first rule whose every signal
matches (case-insensitively; ``label`` matches any of the item's labels) decides. No match means
*unknown*: the epic's status is left as it is, never guessed.
Defaults follow each tracker's own categories; docs/trackers.md has the table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError

from epics.choices import EpicStatus

SIGNALS: dict[str, frozenset[str]] = {
    "jira": frozenset({"category", "status", "resolution"}),
    "github": frozenset({"state", "state_reason", "label", "work"}),
    "gitlab": frozenset({"state", "label"}),
    "linear": frozenset({"type", "name"}),
}

WONT_DO = ["Won't Do", "Duplicate", "Declined", "Cannot Reproduce"]
DEFAULTS: dict[str, list[dict[str, Any]]] = {
    "jira": [
        {"match": {"category": "done", "resolution": WONT_DO}, "status": EpicStatus.CANCELLED.value},
        {"match": {"category": "done"}, "status": EpicStatus.DONE.value},
        {"match": {"category": "indeterminate"}, "status": EpicStatus.IN_PROGRESS.value},
        {"match": {"category": "new"}, "status": EpicStatus.PLANNED.value},
    ],
    "github": [
        {
            "match": {"state": "closed", "state_reason": ["not_planned", "duplicate"]},
            "status": EpicStatus.CANCELLED.value,
        },
        {"match": {"state": "closed"}, "status": EpicStatus.DONE.value},
        {
            "match": {"state": "open", "label": ["status: in progress", "in progress"]},
            "status": EpicStatus.IN_PROGRESS.value,
        },
        {"match": {"state": "open", "work": "started"}, "status": EpicStatus.IN_PROGRESS.value},  # milestones
        {"match": {"state": "open"}, "status": EpicStatus.PLANNED.value},
    ],
    "gitlab": [
        {
            "match": {"state": "closed", "label": ["workflow::canceled", "workflow::cancelled"]},
            "status": EpicStatus.CANCELLED.value,
        },
        {"match": {"state": "closed"}, "status": EpicStatus.DONE.value},
        {
            "match": {"state": "opened", "label": ["workflow::in progress", "workflow::in review"]},
            "status": EpicStatus.IN_PROGRESS.value,
        },
        {"match": {"state": "opened"}, "status": EpicStatus.PLANNED.value},
    ],
    "linear": [
        {"match": {"type": ["canceled", "duplicate"]}, "status": EpicStatus.CANCELLED.value},
        {"match": {"type": "completed"}, "status": EpicStatus.DONE.value},
        {"match": {"type": ["started", "paused"]}, "status": EpicStatus.IN_PROGRESS.value},
        {"match": {"type": ["backlog", "planned", "triage", "unstarted"]}, "status": EpicStatus.PLANNED.value},
    ],
}

# The statuses each tracker reports out of the box, for the preview table.
SAMPLES: dict[str, list[dict[str, Any]]] = {
    "jira": [
        {"category": "new", "status": "To Do"},
        {"category": "indeterminate", "status": "In Progress"},
        {"category": "done", "status": "Done", "resolution": "Done"},
        {"category": "done", "status": "Won't Do", "resolution": "Won't Do"},
    ],
    "github": [
        {"state": "open", "label": ["epic"]},
        {"state": "open", "label": ["epic", "status: in progress"]},
        {"state": "open", "work": "started"},
        {"state": "closed", "state_reason": "completed"},
        {"state": "closed", "state_reason": "not_planned"},
    ],
    "gitlab": [
        {"state": "opened"},
        {"state": "opened", "label": ["workflow::in progress"]},
        {"state": "closed"},
        {"state": "closed", "label": ["workflow::canceled"]},
    ],
    "linear": [{"type": t} for t in ("backlog", "planned", "started", "paused", "completed", "canceled")],
}


def _values(expected: Any) -> set[str]:
    items = expected if isinstance(expected, list) else [expected]
    return {str(item).casefold() for item in items}


def _matches(rule: Mapping[str, Any], item: Mapping[str, Any]) -> bool:
    for signal, expected in rule["match"].items():
        actual = item.get(signal)
        actual_values = _values(actual) if actual is not None else set()
        if not actual_values & _values(expected):
            return False
    return True


def map_status(rules: Sequence[Mapping[str, Any]], item: Mapping[str, Any]) -> tuple[str | None, int | None]:
    """Our status for a tracker item and the index of the rule that decided, or (None, None): unknown."""
    for index, rule in enumerate(rules):
        if _matches(rule, item):
            return rule["status"], index
    return None, None


def validate_map(kind: str, rules: Any) -> list[dict[str, Any]]:
    """A clean copy of a status map, or a ValidationError naming the broken rule."""
    if not isinstance(rules, list) or not rules:
        raise ValidationError({"status_map": "A non-empty list of rules."})
    allowed = SIGNALS[kind]
    clean = []
    for index, rule in enumerate(rules):
        where = f"status_map.{index}"
        if not isinstance(rule, dict) or set(rule) != {"match", "status"} or not isinstance(rule["match"], dict):
            raise ValidationError({where: 'Each rule is {"match": {...}, "status": "..."}.'})
        if rule["status"] not in EpicStatus.values:
            raise ValidationError({f"{where}.status": f"One of {', '.join(EpicStatus.values)}."})
        unknown = set(rule["match"]) - allowed
        if unknown or not rule["match"]:
            raise ValidationError({f"{where}.match": f"Match on {', '.join(sorted(allowed))} for {kind}."})
        for signal, expected in rule["match"].items():
            values = expected if isinstance(expected, list) else [expected]
            if not values or not all(isinstance(v, str) and v.strip() for v in values):
                raise ValidationError({f"{where}.match.{signal}": "A text value or a list of them."})
        clean.append({"match": dict(rule["match"]), "status": rule["status"]})
    return clean
