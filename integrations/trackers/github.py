"""GitHub: epics are issues carrying a label in the connection's repositories, or their milestones.

API: https://docs.github.com/rest/issues/issues#list-repository-issues
(``GET /repos/{owner}/{repo}/issues?labels=…&state=all&since=…&sort=updated&direction=desc``, paged
by the ``Link`` header). Pull requests come back too and are skipped. Newest update first: pages are
numbered, and an issue edited while we page moves to the front, where the next run finds it (its update
is after this run's start), instead of shifting an unread one onto a page already read.

Pages are requested conditionally: the page's ETag and the few fields we read are cached per
(token, URL), and a ``304 Not Modified`` (free of GitHub's rate limit) reuses them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import requests
from django.core.cache import BaseCache, cache

from integrations.trackers.base import TIMEOUT, MalformedResponse, TrackerItem, checked, iso_time, session

PAGE_SIZE = 100
ETAG_TTL = 7 * 24 * 3600  # seconds a cached page may wait for its next conditional request
NEXT_LINK = re.compile(r'<([^>]+)>;\s*rel="next"')
REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


class GitHubClient:
    def __init__(
        self, *, base_url: str, token: str, http: requests.Session | None = None, pages: BaseCache | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http or session()
        self.pages = cache if pages is None else pages
        self._token_digest = hashlib.sha256(token.encode()).hexdigest()
        self.http.headers.update(
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            }
        )

    def epics(self, *, scope: dict[str, Any], updated_since: datetime | None = None) -> Iterator[list[TrackerItem]]:
        """Pages of every repository in scope: its labelled issues, oldest update first, or its milestones."""
        label = str(scope.get("label") or "epic")
        for repository in scope.get("repositories", []):
            if not REPOSITORY.match(str(repository)):
                raise MalformedResponse(f"{repository!r} is not an owner/name repository.")
            if scope.get("milestones"):
                yield from self._milestones(str(repository), updated_since)
            else:
                yield from self._repository(str(repository), label, updated_since)

    def _milestones(self, repository: str, since: datetime | None) -> Iterator[list[TrackerItem]]:
        """Milestones as epics. GitHub cannot filter them by update time, so an increment filters here."""
        query: dict[str, Any] | None = {"state": "all", "per_page": PAGE_SIZE}
        url: str | None = f"{self.base_url}/repos/{repository}/milestones"
        while url:
            milestones, link = self._page(url, query, compact=_compact_milestone)
            items = [parse_milestone(milestone) for milestone in milestones]
            yield [item for item in items if since is None or item.updated_at >= since]
            url, query = self._next(link), None

    def _repository(self, repository: str, label: str, since: datetime | None) -> Iterator[list[TrackerItem]]:
        first_query: dict[str, Any] = {
            "labels": label,
            "state": "all",
            "sort": "updated",
            "direction": "desc",  # see the module's docstring
            "per_page": PAGE_SIZE,
        }
        if since is not None:
            first_query["since"] = since.isoformat()
        query: dict[str, Any] | None = first_query
        url: str | None = f"{self.base_url}/repos/{repository}/issues"
        while url:
            issues, link = self._page(url, query)
            yield [parse_issue(issue) for issue in issues]
            url, query = self._next(link), None  # the next link carries the query

    def fetch_item(self, *, scope: dict[str, Any], ref: str) -> TrackerItem | None:
        """One issue by ``owner/name#number`` (a milestone by ``owner/name/milestones/number``); None when
        it is gone, moved, or no longer an epic in scope."""
        milestone = "/milestones/" in ref
        repository, _, number = ref.partition("/milestones/" if milestone else "#")
        in_scope = {str(r).lower() for r in scope.get("repositories", [])}
        if not REPOSITORY.match(repository) or not number.isdigit() or repository.lower() not in in_scope:
            return None
        if milestone != bool(scope.get("milestones")):
            return None  # the connection counts the other kind as epics
        if milestone:
            return self._one(f"/repos/{repository}/milestones/{number}", parse_milestone)
        issue = self._one(f"/repos/{repository}/issues/{number}", lambda issue: issue)
        if not isinstance(issue, dict) or "pull_request" in issue:
            return None
        item = parse_issue(issue)
        label = str(scope.get("label") or "epic").casefold()
        return item if label in {name.casefold() for name in item.signals["label"]} else None

    def _one(self, path: str, parse: Callable[[Any], Any]) -> Any:
        response = self.http.get(f"{self.base_url}{path}", timeout=TIMEOUT, allow_redirects=False)
        if response.status_code in (301, 404, 410):  # transferred, deleted or hidden
            return None
        return parse(checked(response))

    def _page(
        self, url: str, query: dict[str, Any] | None, compact: Callable[[Any], Any] | None = None
    ) -> tuple[list[Any], str]:
        """A page's items (pull requests left out) and its Link header, from GitHub or, if unchanged, the cache."""
        compact = compact or _compact
        request = requests.Request("GET", url, params=query).prepare()
        key = f"github-page:{hashlib.sha256(f'{self._token_digest} {request.url}'.encode()).hexdigest()}"
        cached = self.pages.get(key)
        headers = {"If-None-Match": cached["etag"]} if cached else {}
        response = self.http.get(url, params=query, headers=headers, timeout=TIMEOUT, allow_redirects=False)
        if response.status_code == 304 and cached:
            return cached["issues"], cached["link"]
        body = checked(response)
        if not isinstance(body, list):
            raise MalformedResponse("GitHub's issue list is not a list.")
        issues = [compact(issue) for issue in body if not (isinstance(issue, dict) and "pull_request" in issue)]
        link = response.headers.get("Link", "")
        etag = response.headers.get("ETag")
        if etag:
            self.pages.set(key, {"etag": etag, "link": link, "issues": issues}, ETAG_TTL)
        return issues, link

    def _next(self, link: str) -> str | None:
        match = NEXT_LINK.search(link)
        if match is None:
            return None
        nxt = match.group(1)
        if not nxt.startswith(self.base_url):  # never follow a link off the configured host
            raise MalformedResponse("GitHub's next-page link points to another host.")
        return nxt


READ = ("id", "number", "title", "html_url", "state", "state_reason", "updated_at", "closed_at")


def _compact(issue: Any) -> Any:
    """The parts of an issue that ``parse_issue`` reads, small enough to cache a whole page."""
    if not isinstance(issue, dict):
        return issue
    compact = {name: issue[name] for name in READ if name in issue}
    labels = issue.get("labels")
    compact["labels"] = (
        [{"name": label.get("name")} if isinstance(label, dict) else label for label in labels]
        if isinstance(labels, list)
        else labels
    )
    assignee = issue.get("assignee")
    compact["assignee"] = {"email": assignee.get("email")} if isinstance(assignee, dict) else assignee
    return compact


MILESTONE_READ = ("id", "number", "title", "html_url", "state", "updated_at", "closed_at", "closed_issues")


def _compact_milestone(milestone: Any) -> Any:
    if not isinstance(milestone, dict):
        return milestone
    compact = {name: milestone[name] for name in MILESTONE_READ if name in milestone}
    creator = milestone.get("creator")
    compact["creator"] = {"email": creator.get("email")} if isinstance(creator, dict) else creator
    return compact


def parse_milestone(milestone: Any) -> TrackerItem:
    """A milestone as an epic: closed is done; open with closed issues is under way (signal ``work``)."""
    try:
        number = int(milestone["number"])
        state = str(milestone["state"])
        started = int(milestone.get("closed_issues") or 0) > 0
        creator = milestone.get("creator") or {}
        closed_at = milestone.get("closed_at") if state == "closed" else None
        return TrackerItem(
            external_id=f"milestone:{int(milestone['id'])}",
            key=f"milestone {number}",
            title=str(milestone.get("title") or f"milestone {number}")[:300],
            url=str(milestone["html_url"]),
            signals={"state": state, "work": "started" if started else "not_started"},
            status_text=state,
            updated_at=iso_time(milestone["updated_at"]),
            assignee_email=str(creator.get("email") or ""),
            status_changed_at=iso_time(closed_at) if closed_at else None,
        )
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as error:
        raise MalformedResponse(f"A milestone in GitHub's answer cannot be read: {error!r}") from error


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
            updated_at=iso_time(issue["updated_at"]),
            assignee_email=str(assignee.get("email") or ""),
            status_changed_at=iso_time(issue["closed_at"])
            if issue["state"] == "closed" and issue.get("closed_at")
            else None,
        )
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as error:
        raise MalformedResponse(f"An issue in GitHub's answer cannot be read: {error!r}") from error
