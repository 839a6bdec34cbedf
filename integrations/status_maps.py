"""Status maps: how a tracker's own status signals become our epic lifecycle.

A tracker item is reduced to a few signals (Jira: status category, status name, resolution;
GitHub: state, state_reason, labels, and for milestones whether work started (``work``); GitLab:
state, labels; Linear: status type and name). A map is an ordered list of rules
``{"match": {signal: value or [values]}, "status": ours}``; the first rule whose every signal
matches (case-insensitively; ``label`` matches any of the item's labels) decides. No match means
*unknown*: the epic's status is left as it is, never guessed.

An ``in_progress`` rule may add ``"wait": true``: the item is under way but waiting (blocked, on
hold, paused). Flow efficiency needs that time apart from active work, and the tracker is the only
place that knows it. Defaults follow each tracker's own categories; docs/trackers.md has the table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError

from epics.choices import EpicStatus

SIGNALS: dict[str, frozenset[str]] = {
    "jira": frozenset({"category", "status", "resolution"}),
    "github": frozenset({"state", "state_reason", "label", "work"}),
    "gitlab": frozenset({"state", "label"}),
    "linear": frozenset({"type", "name"}),
}

WONT_DO = ["Won't Do", "Duplicate", "Declined", "Cannot Reproduce"]
JIRA_WAITING = ["Blocked", "On Hold", "Waiting"]
DEFAULTS: dict[str, list[dict[str, Any]]] = {
    "jira": [
        {"match": {"category": "done", "resolution": WONT_DO}, "status": EpicStatus.CANCELLED.value},
        {"match": {"category": "done"}, "status": EpicStatus.DONE.value},
        {
            "match": {"category": "indeterminate", "status": JIRA_WAITING},
            "status": EpicStatus.IN_PROGRESS.value,
            "wait": True,
        },
        {"match": {"category": "indeterminate"}, "status": EpicStatus.IN_PROGRESS.value},
        {"match": {"category": "new"}, "status": EpicStatus.PLANNED.value},
    ],
    "github": [
        {
            "match": {"state": "closed", "state_reason": ["not_planned", "duplicate"]},
            "status": EpicStatus.CANCELLED.value,
        },
        {"match": {"state": "closed"}, "status": EpicStatus.DONE.value},
        {"match": {"state": "open", "label": "blocked"}, "status": EpicStatus.IN_PROGRESS.value, "wait": True},
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
            "match": {"state": "opened", "label": "workflow::blocked"},
            "status": EpicStatus.IN_PROGRESS.value,
            "wait": True,
        },
        {
            "match": {"state": "opened", "label": ["workflow::in progress", "workflow::in review"]},
            "status": EpicStatus.IN_PROGRESS.value,
        },
        {"match": {"state": "opened"}, "status": EpicStatus.PLANNED.value},
    ],
    "linear": [
        {"match": {"type": ["canceled", "duplicate"]}, "status": EpicStatus.CANCELLED.value},
        {"match": {"type": "completed"}, "status": EpicStatus.DONE.value},
        {"match": {"type": "started"}, "status": EpicStatus.IN_PROGRESS.value},
        {"match": {"type": "paused"}, "status": EpicStatus.IN_PROGRESS.value, "wait": True},
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


class Mapped(NamedTuple):
    """What a map says of one item: our status (None: unknown), the deciding rule, and whether it waits."""

    status: str | None
    rule: int | None
    waiting: bool


UNKNOWN = Mapped(None, None, False)


def map_item(rules: Sequence[Mapping[str, Any]], item: Mapping[str, Any]) -> Mapped:
    """Our status for a tracker item, the index of the rule that decided, and the rule's wait flag."""
    for index, rule in enumerate(rules):
        if _matches(rule, item):
            return Mapped(rule["status"], index, bool(rule.get("wait", False)))
    return UNKNOWN


def map_status(rules: Sequence[Mapping[str, Any]], item: Mapping[str, Any]) -> tuple[str | None, int | None]:
    """Our status for a tracker item and the index of the rule that decided, or (None, None): unknown."""
    status, rule, _ = map_item(rules, item)
    return status, rule


RULE_KEYS = (frozenset({"match", "status"}), frozenset({"match", "status", "wait"}))


def validate_map(kind: str, rules: Any) -> list[dict[str, Any]]:
    """A clean copy of a status map, or a ValidationError naming the broken rule."""
    if not isinstance(rules, list) or not rules:
        raise ValidationError({"status_map": "A non-empty list of rules."})
    return [_clean_rule(kind, rule, f"status_map.{index}") for index, rule in enumerate(rules)]


def _clean_rule(kind: str, rule: Any, where: str) -> dict[str, Any]:
    if not isinstance(rule, dict) or set(rule) not in RULE_KEYS or not isinstance(rule["match"], dict):
        raise ValidationError({where: 'Each rule is {"match": {...}, "status": "..."}, optionally "wait": true.'})
    if rule["status"] not in EpicStatus.values:
        raise ValidationError({f"{where}.status": f"One of {', '.join(EpicStatus.values)}."})
    allowed = SIGNALS[kind]
    unknown = set(rule["match"]) - allowed
    if unknown or not rule["match"]:
        raise ValidationError({f"{where}.match": f"Match on {', '.join(sorted(allowed))} for {kind}."})
    for signal, expected in rule["match"].items():
        values = expected if isinstance(expected, list) else [expected]
        if not values or not all(isinstance(v, str) and v.strip() for v in values):
            raise ValidationError({f"{where}.match.{signal}": "A text value or a list of them."})
    clean = {"match": dict(rule["match"]), "status": rule["status"]}
    if "wait" in rule:
        if not isinstance(rule["wait"], bool):
            raise ValidationError({f"{where}.wait": "true or false."})
        if rule["status"] != EpicStatus.IN_PROGRESS:
            raise ValidationError({f"{where}.wait": "Only an in_progress rule can mark a wait state."})
        clean["wait"] = rule["wait"]
    return clean
