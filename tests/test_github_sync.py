"""Syncing epics from GitHub over real HTTP, against a local fake GitHub paging with Link headers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from epics.models import Epic
from integrations.models import Connection, SyncRun
from integrations.secrets import encrypt
from integrations.status_maps import DEFAULTS
from integrations.sync import sync_run
from integrations.trackers.base import MalformedResponse
from integrations.trackers.github import parse_issue
from tests.conftest import Cast
from tests.strategies import ANY_JSON

ISSUES = json.loads((Path(__file__).parent / "fixtures" / "trackers" / "github_issues_list.json").read_text())
PATH = "/repos/acme/shop/issues"
PULL_REQUEST = {**ISSUES[0], "id": 999, "number": 99, "title": "A pull request", "pull_request": {"url": "x"}}


@pytest.fixture
def github(httpserver: HTTPServer, cast: Cast) -> Connection:
    return Connection.objects.create(
        company=cast.company_a,
        name="Fake GitHub",
        kind="github",
        base_url=httpserver.url_for("").rstrip("/"),
        credentials_encrypted=encrypt({"token": "ghp_fake_token_0123456789"}),
        scope={"repositories": ["acme/shop"], "label": "epic"},
        status_map=DEFAULTS["github"],
        default_owner=cast.owner_a,
    )


def serve(httpserver: HTTPServer, pages: list[list[dict[str, Any]]], *, next_host: str | None = None) -> None:
    def handler(request: Request) -> Response:
        page = int(request.args.get("page", "1"))
        headers = {}
        if page < len(pages):
            host = next_host or httpserver.url_for("").rstrip("/")
            headers["Link"] = (
                f'<{host}{PATH}?page={page + 1}>; rel="next", <{host}{PATH}?page={len(pages)}>; rel="last"'
            )
        return Response(json.dumps(pages[page - 1]), content_type="application/json", headers=headers)

    httpserver.expect_request(PATH).respond_with_handler(handler)


def run(connection: Connection, *, full: bool = True) -> SyncRun:
    return sync_run(SyncRun.objects.create(connection=connection, full=full).pk)


def test_labelled_issues_become_epics_across_link_pages(httpserver, github):
    serve(httpserver, [ISSUES[:2], [ISSUES[2], PULL_REQUEST]])

    result = run(github)

    assert (result.status, result.fetched, result.created) == ("succeeded", 3, 3)
    epics = {e.external_key: e for e in Epic.objects.filter(tracker_connection_id=github.pk)}
    assert {key: e.status for key, e in epics.items()} == {"#42": "in_progress", "#7": "done", "#55": "cancelled"}
    assert epics["#42"].tracker_url == "https://github.com/Codertocat/Hello-World/issues/42"
    assert "#99" not in epics  # pull requests are not epics
    first = httpserver.log[0][0]
    assert first.headers["Authorization"] == "Bearer ghp_fake_token_0123456789"
    assert (first.args["labels"], first.args["state"], first.args["direction"]) == ("epic", "all", "desc")
    assert httpserver.log[1][0].args["page"] == "2"


def test_the_next_run_asks_only_for_issues_updated_since_the_cursor(httpserver, github):
    serve(httpserver, [ISSUES])
    first = run(github)

    second = run(github, full=False)

    assert second.unchanged == 3
    assert second.updated_since is not None
    assert httpserver.log[-1][0].args["since"] == second.updated_since.isoformat()
    assert first.status == "succeeded"


def test_a_next_link_to_another_host_is_not_followed(httpserver, github):
    serve(httpserver, [ISSUES[:1], ISSUES[1:]], next_host="http://evil.example")

    result = run(github)

    assert result.status == "partial"  # page 1 applied; the foreign link refused
    assert "another host" in result.error
    assert len(httpserver.log) == 1


def test_a_revoked_token_flags_the_connection(httpserver, github):
    httpserver.expect_request(PATH).respond_with_json({"message": "Bad credentials"}, status=401)

    result = run(github)

    github.refresh_from_db()
    assert (result.status, github.needs_attention) == ("failed", True)


@hypothesis_settings(max_examples=200, deadline=None)
@given(ANY_JSON)
def test_any_json_parses_to_an_item_or_a_typed_error(payload):
    try:
        item = parse_issue(payload)
    except MalformedResponse:
        return
    assert item.key.startswith("#")


MILESTONES_PATH = "/repos/acme/shop/milestones"
MILESTONES = [
    {
        "id": 1002604,
        "number": 1,
        "title": "v1.0 checkout",
        "html_url": "https://github.com/acme/shop/milestone/1",
        "state": "open",
        "open_issues": 4,
        "closed_issues": 0,
        "updated_at": "2024-05-01T10:00:00Z",
        "closed_at": None,
        "creator": {"login": "octocat"},
    },
    {
        "id": 1002605,
        "number": 2,
        "title": "v1.1 one-click",
        "html_url": "https://github.com/acme/shop/milestone/2",
        "state": "open",
        "open_issues": 3,
        "closed_issues": 2,
        "updated_at": "2024-05-10T10:00:00Z",
        "closed_at": None,
    },
    {
        "id": 1002606,
        "number": 3,
        "title": "v0.9 beta",
        "html_url": "https://github.com/acme/shop/milestone/3",
        "state": "closed",
        "open_issues": 0,
        "closed_issues": 8,
        "updated_at": "2024-04-20T10:00:00Z",
        "closed_at": "2024-04-20T09:00:00Z",
    },
]


def test_milestones_can_be_the_epics(httpserver, github):
    Connection.objects.filter(pk=github.pk).update(scope={"repositories": ["acme/shop"], "milestones": True})
    github.refresh_from_db()
    httpserver.expect_request(MILESTONES_PATH).respond_with_json(MILESTONES)

    result = run(github)

    assert (result.status, result.created) == ("succeeded", 3)
    epics = {e.external_key: e for e in Epic.objects.filter(tracker_connection_id=github.pk)}
    assert {key: e.status for key, e in epics.items()} == {
        "milestone 1": "planned",  # nothing closed yet
        "milestone 2": "in_progress",  # some of its issues closed
        "milestone 3": "done",
    }
    assert str(epics["milestone 3"].done_at) == "2024-04-20 09:00:00+00:00"  # closed_at, not updated_at
    assert epics["milestone 2"].title == "v1.1 one-click"
    assert httpserver.log[0][0].args["state"] == "all"


def test_an_incremental_milestone_run_applies_only_what_changed(httpserver, github):
    Connection.objects.filter(pk=github.pk).update(scope={"repositories": ["acme/shop"], "milestones": True})
    github.refresh_from_db()
    httpserver.expect_request(MILESTONES_PATH).respond_with_json(MILESTONES)
    run(github)
    SyncRun.objects.filter(connection=github).update(started_at=datetime(2024, 5, 5, tzinfo=UTC))

    second = run(github, full=False)

    assert (second.fetched, second.unchanged) == (1, 1)  # GitHub cannot filter milestones; we do


def test_a_milestone_webhook_rereads_the_milestone(httpserver, github):
    from integrations.trackers.github import GitHubClient

    scope = {"repositories": ["acme/shop"], "milestones": True}
    httpserver.expect_request(f"{MILESTONES_PATH}/2").respond_with_json(MILESTONES[1])
    client = GitHubClient(base_url=github.base_url, token="ghp_fake_token_0123456789")

    item = client.fetch_item(scope=scope, ref="acme/shop/milestones/2")

    assert item is not None and (item.external_id, item.signals["work"]) == ("milestone:1002605", "started")
    assert client.fetch_item(scope={"repositories": ["acme/shop"]}, ref="acme/shop/milestones/2") is None
    assert client.fetch_item(scope=scope, ref="acme/shop#2") is None  # issues are not this connection's epics


@hypothesis_settings(max_examples=200, deadline=None)
@given(ANY_JSON)
def test_any_json_parses_to_a_milestone_or_a_typed_error(payload):
    from integrations.trackers.github import parse_milestone

    try:
        item = parse_milestone(payload)
    except MalformedResponse:
        return
    assert item.external_id.startswith("milestone:") and item.updated_at.tzinfo is not None
