"""How fake trackers answer about one epic: Jira's search item and GitHub's issue, in the shapes of
``TRACKERS.md`` and ``tests/fixtures/trackers``, for the states the fault and stream tests move epics
through (planned, in progress, blocked, done, cancelled)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

JIRA_STATUS: dict[str, tuple[str, str, str | None]] = {  # name, category, resolution
    "planned": ("To Do", "new", None),
    "in_progress": ("In Progress", "indeterminate", None),
    "blocked": ("Blocked", "indeterminate", None),
    "done": ("Done", "done", "Done"),
    "cancelled": ("Won't Do", "done", "Won't Do"),
}
GITHUB_LABELS: dict[str, list[str]] = {
    "planned": ["epic"],
    "in_progress": ["epic", "status: in progress"],
    "blocked": ["epic", "status: in progress", "blocked"],
    "done": ["epic"],
    "cancelled": ["epic"],
}
GITHUB_CLOSED = frozenset({"done", "cancelled"})


def jira_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def github_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def jira_issue(
    *, issue_id: str, number: int, title: str, state: str, updated: datetime, state_since: datetime
) -> dict[str, Any]:
    """An epic as Jira's search answers with it, its status change dated by the changelog."""
    name, category, resolution = JIRA_STATUS[state]
    stamp = jira_time(state_since)
    return {
        "id": issue_id,
        "key": f"PROJ-{number}",
        "fields": {
            "summary": title,
            "status": {"name": name, "statusCategory": {"key": category}},
            "resolution": {"name": resolution} if resolution else None,
            "assignee": None,
            "updated": jira_time(updated),
            "statuscategorychangedate": stamp,
            "issuetype": {"name": "Epic"},
        },
        "changelog": {"histories": [{"created": stamp, "items": [{"fieldId": "status", "field": "status"}]}]},
    }


def github_status_text(state: str) -> str:
    return {"done": "closed (completed)", "cancelled": "closed (not_planned)"}.get(state, "open")


def github_issue(
    *, issue_id: int, number: int, title: str, state: str, updated: datetime, state_since: datetime
) -> dict[str, Any]:
    """An epic as GitHub's issues API answers with it: labels for the open states, closed_at for the others."""
    closed = state in GITHUB_CLOSED
    return {
        "id": issue_id,
        "number": number,
        "title": title,
        "html_url": f"https://github.com/acme/shop/issues/{number}",
        "state": "closed" if closed else "open",
        "state_reason": {"done": "completed", "cancelled": "not_planned"}.get(state),
        "labels": [{"name": name} for name in GITHUB_LABELS[state]],
        "assignee": None,
        "updated_at": github_time(updated),
        "closed_at": github_time(state_since) if closed else None,
    }
