"""GitHub: epics are issues carrying a label in the connection's repositories.

API: https://docs.github.com/rest/issues/issues#list-repository-issues
(``GET /repos/{owner}/{repo}/issues?labels=…&state=all&since=…&sort=updated&direction=asc``, paged
by the ``Link`` header). Pull requests come back too and are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import requests

from integrations.trackers.base import TIMEOUT, MalformedResponse, TrackerItem, checked, session

PAGE_SIZE = 100
NEXT_LINK = re.compile(r'<([^>]+)>;\s*rel="next"')
REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


class GitHubClient:
    def __init__(self, *, base_url: str, token: str, http: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http or session()
        self.http.headers.update(
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            }
        )

    def epics(self, *, scope: dict[str, Any], updated_since: datetime | None = None) -> Iterator[list[TrackerItem]]:
        """Pages of labelled issues of every repository in scope, oldest update first."""
        label = str(scope.get("label") or "epic")
        for repository in scope.get("repositories", []):
            if not REPOSITORY.match(str(repository)):
                raise MalformedResponse(f"{repository!r} is not an owner/name repository.")
            yield from self._repository(str(repository), label, updated_since)

    def _repository(self, repository: str, label: str, since: datetime | None) -> Iterator[list[TrackerItem]]:
        first_query: dict[str, Any] = {
            "labels": label,
            "state": "all",
            "sort": "updated",
            "direction": "asc",
            "per_page": PAGE_SIZE,
        }
        if since is not None:
            first_query["since"] = since.isoformat()
        query: dict[str, Any] | None = first_query
        url: str | None = f"{self.base_url}/repos/{repository}/issues"
        while url:
            response = self.http.get(url, params=query, timeout=TIMEOUT, allow_redirects=False)
            body = checked(response)
            if not isinstance(body, list):
                raise MalformedResponse("GitHub's issue list is not a list.")
            yield [parse_issue(issue) for issue in body if not (isinstance(issue, dict) and "pull_request" in issue)]
            url, query = self._next(response.headers.get("Link", "")), None  # the next link carries the query

    def _next(self, link: str) -> str | None:
        match = NEXT_LINK.search(link)
        if match is None:
            return None
        nxt = match.group(1)
        if not nxt.startswith(self.base_url):  # never follow a link off the configured host
            raise MalformedResponse("GitHub's next-page link points to another host.")
        return nxt


def parse_issue(issue: Any) -> TrackerItem:
    """A GitHub issue as a TrackerItem; anything missing or mistyped is a MalformedResponse."""
    try:
        labels = [str(label["name"]) for label in issue.get("labels", [])]
        assignee = issue.get("assignee") or {}
        return TrackerItem(
            external_id=str(issue["id"]),
            key=f"#{int(issue['number'])}",
            title=str(issue.get("title") or f"#{issue['number']}")[:300],
            url=str(issue["html_url"]),
            signals={
                "state": str(issue["state"]),
                "state_reason": str(issue.get("state_reason") or ""),
                "label": labels,
            },
            status_text=str(issue["state"]) + (f" ({issue['state_reason']})" if issue.get("state_reason") else ""),
            updated_at=datetime.fromisoformat(str(issue["updated_at"]).replace("Z", "+00:00")),
            assignee_email=str(assignee.get("email") or ""),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise MalformedResponse(f"An issue in GitHub's answer cannot be read: {error!r}") from error
