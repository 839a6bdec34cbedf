"""GitLab: epics are a group's epics (REST), read with a personal, group or project access token.

API: https://docs.gitlab.com/api/epics/#list-epics-for-a-group
(``GET /api/v4/groups/{id}/epics?state=all&order_by=updated_at&sort=asc&updated_after=…``, paged by
the ``x-next-page`` header, empty on the last page).
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
        """Pages of the group's epics (and its subgroups'), oldest update first."""
        group = self._group(scope)
        query: dict[str, Any] = {
            "state": "all",
            "order_by": "updated_at",
            "sort": "asc",
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

    def fetch_item(self, *, scope: dict[str, Any], ref: str) -> TrackerItem | None:
        """One of the group's epics by its iid; None when it is gone or belongs elsewhere."""
        if not ref.isdigit():
            return None
        response = self.http.get(
            f"{self.base_url}/api/v4/groups/{self._group(scope)}/epics/{ref}", timeout=TIMEOUT, allow_redirects=False
        )
        if response.status_code in (301, 404, 410):
            return None
        return parse_epic(checked(response))

    @staticmethod
    def _group(scope: dict[str, Any]) -> str:
        group = str(scope.get("group") or "").strip()
        if not group:
            raise MalformedResponse('The scope names no group: {"group": "<id or path>"}.')
        return quote(group, safe="")


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
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise MalformedResponse(f"An epic in GitLab's answer cannot be read: {error!r}") from error
