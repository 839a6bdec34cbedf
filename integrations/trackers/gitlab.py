"""GitLab: epics are a group's epics (REST), or its work items of type epic (GraphQL, ``"work_items": true``).

Read with a personal, group or project access token.

REST: https://docs.gitlab.com/api/epics/#list-epics-for-a-group
(``GET /api/v4/groups/{id}/epics?state=all&order_by=updated_at&sort=desc&updated_after=…``, paged by
the ``x-next-page`` header, empty on the last page). Newest update first, as pages are numbered: an epic
edited while we page moves to the front (the next run reads it), never pushing an unread one back onto
a page already read.
GraphQL: https://docs.gitlab.com/api/graphql/epic_work_items_api_migration_guide/
(``group(fullPath:) { workItems(types: [EPIC], ...) }``, paged by ``pageInfo.endCursor``). Work item
states are OPEN and CLOSED, read as the REST ``opened`` and ``closed`` so one status map serves both.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

import requests

from integrations.trackers.base import TIMEOUT, MalformedResponse, TrackerItem, checked, iso_time, session

PAGE_SIZE = 100


class GitLabClient:
    def __init__(self, *, base_url: str, token: str, http: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http or session()
        self.http.headers.update({"PRIVATE-TOKEN": token})

    def epics(self, *, scope: dict[str, Any], updated_since: datetime | None = None) -> Iterator[list[TrackerItem]]:
        """Pages of the group's epics (and its subgroups'): newest update first by REST, oldest by GraphQL."""
        if scope.get("work_items"):
            yield from self._work_items(scope, updated_since)
            return
        group = self._group(scope)
        query: dict[str, Any] = {
            "state": "all",
            "order_by": "updated_at",
            "sort": "desc",  # see the module's docstring
            "per_page": PAGE_SIZE,
            "page": 1,
        }
        if updated_since is not None:
            query["updated_after"] = updated_since.isoformat()
        url = f"{self.base_url}/api/v4/groups/{group}/epics"
        while True:
            response = self.http.get(url, params=query, timeout=TIMEOUT, allow_redirects=False)
            body = checked(response)
            if not isinstance(body, list):
                raise MalformedResponse("GitLab's epic list is not a list.")
            yield [parse_epic(epic) for epic in body]
            next_page = response.headers.get("x-next-page", "").strip()
            if not next_page.isdigit():
                return
            query["page"] = int(next_page)

    def _work_items(self, scope: dict[str, Any], since: datetime | None) -> Iterator[list[TrackerItem]]:
        """Work items of type epic through GraphQL, paged by ``endCursor`` (the REST epics API is deprecated)."""
        variables: dict[str, Any] = {"group": self._group_path(scope), "after": None}
        if since is not None:
            variables["since"] = since.isoformat()
        seen: set[str] = set()
        while True:
            data = self._graphql(WORK_ITEMS_QUERY if since is None else WORK_ITEMS_SINCE_QUERY, variables)
            connection = _dig(data, "group", "workItems")
            nodes, page = connection.get("nodes"), connection.get("pageInfo")
            if not isinstance(nodes, list) or not isinstance(page, dict):
                raise MalformedResponse("GitLab's work items answer has no nodes or pageInfo.")
            yield [parse_work_item(node) for node in nodes]
            cursor = page.get("endCursor")
            if page.get("hasNextPage") is not True:
                return
            if not isinstance(cursor, str) or cursor in seen:
                raise MalformedResponse("GitLab's work items repeat a page cursor.")
            seen.add(cursor)
            variables["after"] = cursor

    def _graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(
            f"{self.base_url}/api/graphql",
            json={"query": query, "variables": variables},
            timeout=TIMEOUT,
            allow_redirects=False,
        )
        body = checked(response)
        if not isinstance(body, dict):
            raise MalformedResponse("GitLab's GraphQL answer is not an object.")
        errors = body.get("errors")
        if errors:
            first = errors[0] if isinstance(errors, list) and errors else {}
            message = str(first.get("message") if isinstance(first, dict) else first)[:200]
            raise MalformedResponse(f"GitLab's GraphQL answered an error: {message}")
        data = body.get("data")
        if not isinstance(data, dict):
            raise MalformedResponse("GitLab's GraphQL answer has no data.")
        return data

    def fetch_item(self, *, scope: dict[str, Any], ref: str) -> TrackerItem | None:
        """One of the group's epics by its iid; None when it is gone or belongs elsewhere."""
        if not ref.isdigit():
            return None
        if scope.get("work_items"):
            data = self._graphql(WORK_ITEM_QUERY, {"group": self._group_path(scope), "iid": ref})
            group = data.get("group")
            nodes = _dig(data, "group", "workItems").get("nodes") if isinstance(group, dict) else []
            if not isinstance(nodes, list):
                raise MalformedResponse("GitLab's work items answer has no nodes.")
            return parse_work_item(nodes[0]) if nodes else None
        response = self.http.get(
            f"{self.base_url}/api/v4/groups/{self._group(scope)}/epics/{ref}", timeout=TIMEOUT, allow_redirects=False
        )
        if response.status_code in (301, 404, 410):
            return None
        return parse_epic(checked(response))

    @classmethod
    def _group(cls, scope: dict[str, Any]) -> str:
        return quote(cls._group_path(scope), safe="")

    @staticmethod
    def _group_path(scope: dict[str, Any]) -> str:
        group = str(scope.get("group") or "").strip()
        if not group:
            raise MalformedResponse('The scope names no group: {"group": "<id or path>"}.')
        return group


WORK_ITEM_FIELDS = """
      nodes {
        id iid title webUrl state updatedAt closedAt
        widgets {
          type
          ... on WorkItemWidgetLabels { labels { nodes { title } } }
          ... on WorkItemWidgetAssignees { assignees { nodes { publicEmail } } }
        }
      }
      pageInfo { hasNextPage endCursor }
"""
WORK_ITEMS_QUERY = (
    "query EpicSync($group: ID!, $after: String) {\n"
    "  group(fullPath: $group) {\n"
    "    workItems(types: [EPIC], first: 100, after: $after, sort: UPDATED_ASC, includeDescendants: true) {"
    + WORK_ITEM_FIELDS
    + "    }\n  }\n}"
)
WORK_ITEMS_SINCE_QUERY = (
    "query EpicSync($group: ID!, $after: String, $since: Time) {\n"
    "  group(fullPath: $group) {\n"
    "    workItems(types: [EPIC], first: 100, after: $after, sort: UPDATED_ASC, includeDescendants: true,"
    " updatedAfter: $since) {" + WORK_ITEM_FIELDS + "    }\n  }\n}"
)
WORK_ITEM_QUERY = (
    "query EpicByIid($group: ID!, $iid: String!) {\n"
    "  group(fullPath: $group) {\n"
    "    workItems(types: [EPIC], iid: $iid, first: 1) {" + WORK_ITEM_FIELDS + "    }\n  }\n}"
)


def _dig(data: dict[str, Any], *path: str) -> dict[str, Any]:
    for name in path:
        value = data.get(name)
        if not isinstance(value, dict):
            raise MalformedResponse(f"GitLab's GraphQL answer has no {name!r}: check the group path and the rights.")
        data = value
    return data


def parse_work_item(node: Any) -> TrackerItem:
    """A GitLab work item of type epic as a TrackerItem, with the same signals as a REST epic."""
    try:
        iid = int(node["iid"])
        state = {"OPEN": "opened", "CLOSED": "closed"}[str(node["state"]).upper()]
        labels: list[str] = []
        emails: list[str] = []
        for widget in node.get("widgets") or []:
            labels += [str(label["title"]) for label in (widget.get("labels") or {}).get("nodes") or []]
            emails += [str(a.get("publicEmail") or "") for a in (widget.get("assignees") or {}).get("nodes") or []]
        closed_at = node.get("closedAt") if state == "closed" else None
        return TrackerItem(
            external_id=str(int(str(node["id"]).rsplit("/", 1)[-1])),  # gid://gitlab/WorkItem/<id>
            key=f"&{iid}",
            title=str(node.get("title") or f"&{iid}")[:300],
            url=str(node["webUrl"]),
            signals={"state": state, "label": labels},
            status_text=state,
            updated_at=iso_time(node["updatedAt"]),
            assignee_email=next((email for email in emails if email), ""),
            status_changed_at=iso_time(closed_at) if closed_at else None,
        )
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as error:
        raise MalformedResponse(f"A work item in GitLab's answer cannot be read: {error!r}") from error


def parse_epic(epic: Any) -> TrackerItem:
    """A GitLab epic as a TrackerItem; anything missing or mistyped is a MalformedResponse."""
    try:
        labels = [str(label["name"] if isinstance(label, dict) else label) for label in epic.get("labels") or []]
        return TrackerItem(
            external_id=str(int(epic["id"])),
            key=f"&{int(epic['iid'])}",
            title=str(epic.get("title") or f"&{epic['iid']}")[:300],
            url=str(epic["web_url"]),
            signals={"state": str(epic["state"]), "label": labels},
            status_text=str(epic["state"]),
            updated_at=iso_time(epic["updated_at"]),
            status_changed_at=iso_time(epic["closed_at"])
            if epic["state"] == "closed" and epic.get("closed_at")
            else None,
        )
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as error:
        raise MalformedResponse(f"An epic in GitLab's answer cannot be read: {error!r}") from error
