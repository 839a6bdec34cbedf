"""Linear: epics are projects (issues roll up into them), read over GraphQL with a personal API key.

API: https://linear.app/developers/graphql
(every call is ``POST /graphql``; projects are a Relay connection paged by ``first``/``after`` with
``pageInfo { hasNextPage endCursor }``, ordered by ``updatedAt`` and filtered on ``updatedAt``).
Scope ``{}`` reads every project the key can see; ``{"team": "<team id>"}`` reads that team's.
Linear reports failures as GraphQL ``errors`` whose ``extensions.code`` (``RATELIMITED``,
``AUTHENTICATION_ERROR``, ``INPUT_ERROR``, …) says what went wrong, often with HTTP 200 or 400: a
rate-limited request is waited out and retried here, not by the session's 429 handling
(https://linear.app/developers/rate-limiting).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime
from time import sleep
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings

from integrations.trackers.base import (
    MAX_RETRY_WAIT,
    TIMEOUT,
    MalformedResponse,
    PermanentTrackerError,
    TrackerItem,
    TransientTrackerError,
    checked,
    iso_time,
    session,
)

PAGE_SIZE = 50
RATE_LIMIT_RETRIES = 4
REFUSED = frozenset({"AUTHENTICATION_ERROR", "FORBIDDEN"})
NOT_FOUND = frozenset({"NOT_FOUND", "ENTITY_NOT_FOUND"})
PROJECT_FIELDS = "id name url updatedAt startedAt completedAt canceledAt status { id name type } lead { id name email }"
FETCH_QUERY = f"query EpicFetch($id: String!) {{ project(id: $id) {{ {PROJECT_FIELDS} teams {{ nodes {{ id }} }} }} }}"
# Which timestamp tells when a project entered its current status type.
# The field that stamps each status type. Linear stamps startedAt on the first start only: a project
# resumed after a pause or reopened keeps it, so for "started" it is a lower bound. A pause has no stamp
# (the project's updatedAt stands in).
STATUS_SINCE = {"canceled": "canceledAt", "completed": "completedAt", "started": "startedAt"}
LOWER_BOUND_SINCE = frozenset({"started"})

_jitter = random.SystemRandom()


class LinearClient:
    def __init__(self, *, base_url: str, api_key: str, http: requests.Session | None = None) -> None:
        self.endpoint = f"{base_url.rstrip('/')}/graphql"
        self.http = http or session()
        self.http.headers.update({"Authorization": api_key})  # a personal API key goes bare, no "Bearer"

    def epics(self, *, scope: dict[str, Any], updated_since: datetime | None = None) -> Iterator[list[TrackerItem]]:
        """Pages of projects in scope, updated since a time when given (oldest update first)."""
        team = scope_team(scope)
        query = epics_query(team=team is not None, since=updated_since is not None)
        variables: dict[str, Any] = {"first": PAGE_SIZE}
        if team is not None:
            variables["team"] = team
        if updated_since is not None:
            variables["since"] = updated_since.isoformat()
        seen: set[str] = set()
        while True:
            data = self._data(*self._request(query, variables))
            holder = data.get("team") if team is not None else data  # the team's projects, or all of them
            nodes, cursor = read_connection(holder.get("projects") if isinstance(holder, dict) else None)
            yield [parse_project(node) for node in nodes]
            if cursor is None:
                return
            if cursor in seen:  # a server repeating its cursor would otherwise be read forever
                raise MalformedResponse("Linear returned a page cursor it had already returned.")
            seen.add(cursor)
            variables["after"] = cursor

    def fetch_item(self, *, scope: dict[str, Any], ref: str) -> TrackerItem | None:
        """One project re-read by id (for webhooks); None when Linear has no such project or it is out of scope."""
        team = scope_team(scope)
        if not isinstance(ref, str) or not ref.strip():
            raise MalformedResponse("A Linear project is referenced by its id.")
        response, errors = self._request(FETCH_QUERY, {"id": ref.strip()})
        if errors and all(is_not_found(error) for error in errors):
            return None
        try:
            project = self._data(response, errors)["project"]
            team_ids = {node["id"] for node in project["teams"]["nodes"]}
        except (KeyError, TypeError) as error:
            raise MalformedResponse(f"Linear's project answer cannot be read: {error!r}") from error
        if team is not None and team not in team_ids:
            return None
        return parse_project(project)

    def _request(self, query: str, variables: dict[str, Any]) -> tuple[requests.Response, list[Any]]:
        """Linear's answer and its GraphQL errors, after waiting out rate limits; a refused key raises."""
        for attempt in range(RATE_LIMIT_RETRIES + 1):
            if attempt:
                sleep(rate_limit_wait(attempt - 1))
            response = self.http.post(
                self.endpoint,
                json={"query": query, "variables": variables},
                timeout=TIMEOUT,
                allow_redirects=False,
            )
            errors = graphql_errors(response)
            if not any("RATELIMITED" in error_codes(error) for error in errors):
                if any(error_codes(error) & REFUSED for error in errors):
                    raise PermanentTrackerError(f"Linear refused the API key or its rights: {first_message(errors)}")
                return response, errors
        raise TransientTrackerError(f"Linear is still rate limiting after {RATE_LIMIT_RETRIES} retries.")

    @staticmethod
    def _data(response: requests.Response, errors: list[Any]) -> dict[str, Any]:
        """The answer's ``data``; HTTP failures as ``checked`` types them, any GraphQL error as malformed."""
        if response.status_code == 400 and errors:  # permanent, as checked() has it, but with Linear's reason
            raise PermanentTrackerError(f"Linear answered 400: {first_message(errors)}")
        body = checked(response)
        if errors:
            raise MalformedResponse(f"Linear answered an error: {first_message(errors)}")
        if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            raise MalformedResponse("Linear's answer has no data.")
        data: dict[str, Any] = body["data"]
        return data


def scope_team(scope: dict[str, Any]) -> str | None:
    """The team id the scope narrows to, or None for every project the key can see."""
    if not isinstance(scope, dict):
        raise MalformedResponse('The scope is {} or {"team": "<team id>"}.')
    if "team" not in scope:
        return None
    team = scope["team"]
    if not isinstance(team, str) or not team.strip():
        raise MalformedResponse('The scope\'s team is not a team id: {"team": "<team id>"}.')
    return team.strip()


def epics_query(*, team: bool, since: bool) -> str:
    """The EpicSync query: all projects or one team's, filtered on updatedAt when a time is given."""
    params = ["$first: Int!", "$after: String"]
    args = "first: $first, after: $after, orderBy: updatedAt"
    if since:
        params.append("$since: DateTimeOrDuration")
        args += ", filter: { updatedAt: { gt: $since } }"
    connection = f"projects({args}) {{ nodes {{ {PROJECT_FIELDS} }} pageInfo {{ hasNextPage endCursor }} }}"
    if team:
        params.insert(0, "$team: String!")
        connection = f"team(id: $team) {{ {connection} }}"
    return f"query EpicSync({', '.join(params)}) {{ {connection} }}"


def read_connection(connection: Any) -> tuple[list[Any], str | None]:
    """A connection's nodes and the cursor of the next page (None on the last page)."""
    if not isinstance(connection, dict) or not isinstance(connection.get("nodes"), list):
        raise MalformedResponse("Linear's answer has no projects list.")
    page_info = connection.get("pageInfo")
    if not isinstance(page_info, dict) or not isinstance(page_info.get("hasNextPage"), bool):
        raise MalformedResponse("Linear's answer has no pageInfo.hasNextPage.")
    cursor = page_info.get("endCursor")
    if "endCursor" not in page_info or not (cursor is None or isinstance(cursor, str)):
        raise MalformedResponse("Linear's answer has no pageInfo.endCursor.")
    if not page_info["hasNextPage"]:
        return connection["nodes"], None
    if not cursor:
        raise MalformedResponse("Linear says there is a next page but gives no endCursor.")
    return connection["nodes"], cursor


def graphql_errors(response: requests.Response) -> list[Any]:
    """The GraphQL ``errors`` of a 200 or 400 answer (where Linear puts them), else none."""
    if response.status_code not in (200, 400):
        return []
    try:
        body = response.json()
    except ValueError:
        return []
    errors = body.get("errors") if isinstance(body, dict) else None
    return errors if isinstance(errors, list) else []


def error_codes(error: Any) -> set[str]:
    """An error's ``extensions.code``, and its ``extensions.type`` (what Linear's own SDK reads) in the same form."""
    extensions = error.get("extensions") if isinstance(error, dict) else None
    if not isinstance(extensions, dict):
        return set()
    values = (extensions.get("code"), extensions.get("type"))
    return {value.strip().upper().replace(" ", "_") for value in values if isinstance(value, str) and value.strip()}


def first_message(errors: list[Any]) -> str:
    message = errors[0].get("message") if isinstance(errors[0], dict) else None
    return (message if isinstance(message, str) and message else "no message")[:200]


def is_not_found(error: Any) -> bool:
    """Linear answers a missing entity with ``Entity not found: Project`` (code ``INPUT_ERROR``)."""
    message = error.get("message") if isinstance(error, dict) else None
    return bool(error_codes(error) & NOT_FOUND) or (isinstance(message, str) and "not found" in message.lower())


def rate_limit_wait(attempt: int) -> float:
    """Exponential backoff with jitter of up to as much again, never past the cap."""
    base: float = settings.TRACKER_RETRY_BACKOFF * 2**attempt
    return min(base + _jitter.uniform(0, base), MAX_RETRY_WAIT)


def parse_project(node: Any) -> TrackerItem:
    """A Linear project as a TrackerItem; anything missing or mistyped is a MalformedResponse, never a crash."""
    try:
        status = node["status"]
        kind, name = text(status["type"]), text(status["name"], empty=True)
        url = text(node["url"])
        key = text(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])  # the slug, e.g. checkout-revamp-4f5a6b7c8d9e
        since = STATUS_SINCE.get(kind)
        changed = node.get(since) if since else None
        lead = node.get("lead") or {}
        return TrackerItem(
            external_id=text(node["id"]),
            key=key[:200],
            title=(text(node["name"], empty=True) or key)[:300],
            url=url,
            signals={"type": kind, "name": name},
            status_text=name[:100],
            updated_at=iso_time(node["updatedAt"]),
            status_changed_at=None if changed is None else iso_time(changed),
            status_time_exact=kind not in LOWER_BOUND_SINCE,
            assignee_email=text(lead.get("email") or "", empty=True),
        )
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as error:
        raise MalformedResponse(f"A project in Linear's answer cannot be read: {error!r}") from error


def text(value: Any, *, empty: bool = False) -> str:
    if not isinstance(value, str) or not (empty or value.strip()):
        raise TypeError(f"expected text, got {value!r}"[:200])
    return value
