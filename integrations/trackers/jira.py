"""Jira Cloud: epics are issues of type Epic, read with the enhanced JQL search.

API: https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-search/
(``GET /rest/api/3/search/jql``, paged by ``nextPageToken`` until ``isLast``). The changelog is
expanded so that a status change carries the time Jira made it, not the issue's last edit.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import requests

from integrations.trackers.base import TIMEOUT, MalformedResponse, TrackerItem, checked, session

FIELDS = "summary,status,assignee,updated,created,resolution,issuetype,statuscategorychangedate"
PAGE_SIZE = 100
JIRA_TIME = "%Y-%m-%dT%H:%M:%S.%f%z"


class JiraClient:
    def __init__(self, *, base_url: str, email: str, api_token: str, http: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http or session()
        self.http.auth = (email, api_token)

    def epics(self, *, scope: dict[str, Any], updated_since: datetime | None = None) -> Iterator[list[TrackerItem]]:
        """Pages of epics in scope, updated since a time when given (oldest first)."""
        params: dict[str, Any] = {
            "jql": self.jql(scope, updated_since),
            "fields": FIELDS,
            "expand": "changelog",
            "maxResults": PAGE_SIZE,
        }
        while True:
            response = self.http.get(
                f"{self.base_url}/rest/api/3/search/jql", params=params, timeout=TIMEOUT, allow_redirects=False
            )
            body = checked(response)
            if not isinstance(body, dict) or not isinstance(body.get("issues"), list):
                raise MalformedResponse("Jira's search answer has no issues list.")
            yield [parse_issue(issue, self.base_url) for issue in body["issues"]]
            token = body.get("nextPageToken")
            if body.get("isLast", True) or not token:
                return
            params["nextPageToken"] = token

    def fetch_item(self, *, scope: dict[str, Any], ref: str) -> TrackerItem | None:
        """One issue by id, only if it is still an epic in scope (its search answers nothing otherwise)."""
        if not ref.isdigit():
            raise MalformedResponse(f"{ref!r} is not a Jira issue id.")
        params = {"jql": f"{self.scope_query(scope)} AND id = {ref}", "fields": FIELDS, "expand": "changelog"}
        response = self.http.get(
            f"{self.base_url}/rest/api/3/search/jql", params=params, timeout=TIMEOUT, allow_redirects=False
        )
        body = checked(response)
        if not isinstance(body, dict) or not isinstance(body.get("issues"), list):
            raise MalformedResponse("Jira's search answer has no issues list.")
        return parse_issue(body["issues"][0], self.base_url) if body["issues"] else None

    @staticmethod
    def scope_query(scope: dict[str, Any]) -> str:
        if scope.get("jql"):
            return f"({scope['jql']})"
        keys = ", ".join(f'"{key}"' for key in scope.get("project_keys", []))
        return f"project in ({keys}) AND issuetype = Epic" if keys else "issuetype = Epic"

    @classmethod
    def jql(cls, scope: dict[str, Any], updated_since: datetime | None) -> str:
        query = cls.scope_query(scope)
        if updated_since is not None:
            query += f' AND updated >= "{updated_since:%Y-%m-%d %H:%M}"'
        return query + " ORDER BY updated ASC"


def _status_changed_at(issue: dict[str, Any], fields: dict[str, Any]) -> datetime | None:
    """When the issue last changed status: its changelog (newest first) when expanded, else the category date."""
    changelog = issue.get("changelog") or {}
    for history in changelog.get("histories") or []:
        if any(item.get("fieldId", item.get("field")) == "status" for item in history.get("items") or []):
            return datetime.strptime(str(history["created"]), JIRA_TIME)
    moved = fields.get("statuscategorychangedate")
    return datetime.strptime(str(moved), JIRA_TIME) if moved else None


def parse_issue(issue: Any, base_url: str) -> TrackerItem:
    """A Jira issue as a TrackerItem; anything missing or mistyped is a MalformedResponse, never a crash."""
    try:
        fields = issue["fields"]
        status = fields["status"]
        resolution = fields.get("resolution") or {}
        assignee = fields.get("assignee") or {}
        return TrackerItem(
            external_id=str(issue["id"]),
            key=str(issue["key"]),
            title=str(fields.get("summary") or issue["key"])[:300],
            url=f"{base_url}/browse/{issue['key']}",
            signals={
                "category": str(status["statusCategory"]["key"]),
                "status": str(status.get("name", "")),
                "resolution": str(resolution.get("name", "")),
            },
            status_text=str(status.get("name", ""))[:100],
            updated_at=datetime.strptime(str(fields["updated"]), JIRA_TIME),
            assignee_email=str(assignee.get("emailAddress", "")),
            status_changed_at=_status_changed_at(issue, fields),
        )
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as error:
        raise MalformedResponse(f"An issue in Jira's answer cannot be read: {error!r}") from error
