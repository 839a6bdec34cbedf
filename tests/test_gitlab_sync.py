"""Syncing epics from GitLab over real HTTP, against a local fake GitLab paging with x-next-page."""

from __future__ import annotations

import json
from pathlib import Path

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
from integrations.trackers.gitlab import parse_epic
from tests.conftest import Cast
from tests.strategies import ANY_JSON

EPICS = json.loads((Path(__file__).parent / "fixtures" / "trackers" / "gitlab_group_epics.json").read_text())
PATH = "/api/v4/groups/7/epics"


@pytest.fixture
def gitlab(httpserver: HTTPServer, cast: Cast) -> Connection:
    return Connection.objects.create(
        company=cast.company_a,
        name="Fake GitLab",
        kind="gitlab",
        base_url=httpserver.url_for("").rstrip("/"),
        credentials_encrypted=encrypt({"token": "glpat-fake-token-0123456789"}),
        scope={"group": "7"},
        status_map=DEFAULTS["gitlab"],
        default_owner=cast.owner_a,
    )


def serve(httpserver: HTTPServer, pages: list[list[dict]]) -> None:
    def handler(request: Request) -> Response:
        page = int(request.args.get("page", "1"))
        next_page = str(page + 1) if page < len(pages) else ""
        return Response(
            json.dumps(pages[page - 1]),
            content_type="application/json",
            headers={"x-page": str(page), "x-next-page": next_page},
        )

    httpserver.expect_request(PATH).respond_with_handler(handler)


def run(connection: Connection, *, full: bool = True) -> SyncRun:
    return sync_run(SyncRun.objects.create(connection=connection, full=full).pk)


def test_group_epics_become_epics_across_pages(httpserver, gitlab):
    serve(httpserver, [EPICS[:1], EPICS[1:]])

    result = run(gitlab)

    assert (result.status, result.created) == ("succeeded", 2)
    epics = {e.external_key: e for e in Epic.objects.filter(tracker_connection_id=gitlab.pk)}
    assert {key: e.status for key, e in epics.items()} == {"&4": "in_progress", "&35": "done"}
    first = httpserver.log[0][0]
    assert first.headers["PRIVATE-TOKEN"] == "glpat-fake-token-0123456789"
    assert (first.args["state"], first.args["order_by"], first.args["sort"]) == ("all", "updated_at", "desc")
    assert httpserver.log[1][0].args["page"] == "2"


def test_the_next_run_asks_only_for_epics_updated_after_the_cursor(httpserver, gitlab):
    serve(httpserver, [EPICS])
    run(gitlab)

    second = run(gitlab, full=False)

    assert second.unchanged == 2
    assert second.updated_since is not None
    assert httpserver.log[-1][0].args["updated_after"] == second.updated_since.isoformat()


def test_a_scope_without_a_group_fails_the_run_clearly(httpserver, gitlab):
    Connection.objects.filter(pk=gitlab.pk).update(scope={})

    result = run(gitlab)

    assert result.status == "failed"
    assert "group" in result.error
    assert len(httpserver.log) == 0


@hypothesis_settings(max_examples=200, deadline=None)
@given(ANY_JSON)
def test_any_json_parses_to_an_item_or_a_typed_error(payload):
    try:
        item = parse_epic(payload)
    except MalformedResponse:
        return
    assert item.key.startswith("&")


# --- work items of type epic, through GraphQL -------------------------------------------------------------
GRAPHQL = "/api/graphql"


def work_item(iid: int, *, state: str, labels: list[str], updated: str, closed: str | None = None) -> dict:
    return {
        "id": f"gid://gitlab/WorkItem/{9000 + iid}",
        "iid": str(iid),
        "title": f"Epic {iid}",
        "webUrl": f"https://gitlab.example.com/groups/acme/-/epics/{iid}",
        "state": state,
        "updatedAt": updated,
        "closedAt": closed,
        "widgets": [
            {"type": "LABELS", "labels": {"nodes": [{"title": label} for label in labels]}},
            {"type": "ASSIGNEES", "assignees": {"nodes": [{"publicEmail": None}]}},
            {"type": "DESCRIPTION"},
        ],
    }


WORK_ITEMS = [
    work_item(4, state="OPEN", labels=["workflow::in progress"], updated="2024-05-01T10:00:00Z"),
    work_item(5, state="OPEN", labels=[], updated="2024-05-02T10:00:00Z"),
    work_item(35, state="CLOSED", labels=[], updated="2024-05-03T10:00:00Z", closed="2024-05-03T09:00:00Z"),
]


def answer(nodes: list[dict], *, more: bool, cursor: str | None) -> dict:
    return {"data": {"group": {"workItems": {"nodes": nodes, "pageInfo": {"hasNextPage": more, "endCursor": cursor}}}}}


def serve_work_items(httpserver: HTTPServer, asked: list[dict]) -> None:
    def handler(request: Request) -> Response:
        body = json.loads(request.get_data())
        asked.append(body)
        if body["variables"].get("after") is None:
            page = answer(WORK_ITEMS[:2], more=True, cursor="c1")
        else:
            page = answer(WORK_ITEMS[2:], more=False, cursor="c2")
        return Response(json.dumps(page), content_type="application/json")

    httpserver.expect_request(GRAPHQL, method="POST").respond_with_handler(handler)


def test_work_items_of_type_epic_become_epics_across_cursor_pages(httpserver, gitlab):
    Connection.objects.filter(pk=gitlab.pk).update(scope={"group": "acme", "work_items": True})
    gitlab.refresh_from_db()
    asked: list[dict] = []
    serve_work_items(httpserver, asked)

    result = run(gitlab)

    assert (result.status, result.created) == ("succeeded", 3)
    epics = {e.external_key: e for e in Epic.objects.filter(tracker_connection_id=gitlab.pk)}
    assert {key: e.status for key, e in epics.items()} == {"&4": "in_progress", "&5": "planned", "&35": "done"}
    assert epics["&4"].external_id == "9004"
    assert str(epics["&35"].done_at) == "2024-05-03 09:00:00+00:00"
    assert [body["variables"]["after"] for body in asked] == [None, "c1"]
    assert asked[0]["variables"]["group"] == "acme" and "types: [EPIC]" in asked[0]["query"]
    assert httpserver.log[0][0].headers["PRIVATE-TOKEN"]


def test_an_incremental_work_item_run_asks_for_items_updated_since(httpserver, gitlab):
    Connection.objects.filter(pk=gitlab.pk).update(scope={"group": "acme", "work_items": True})
    gitlab.refresh_from_db()
    asked: list[dict] = []
    serve_work_items(httpserver, asked)
    run(gitlab)

    second = run(gitlab, full=False)

    assert second.unchanged == 3
    assert "updatedAfter: $since" in asked[-1]["query"]
    assert second.updated_since is not None
    assert asked[-1]["variables"]["since"] == second.updated_since.isoformat()


def test_a_graphql_error_or_a_missing_group_fails_the_run_readably(httpserver, gitlab):
    Connection.objects.filter(pk=gitlab.pk).update(scope={"group": "acme", "work_items": True})
    gitlab.refresh_from_db()
    httpserver.expect_request(GRAPHQL, method="POST").respond_with_json({"data": {"group": None}})

    result = run(gitlab)

    assert result.status == "failed" and "group path" in result.error
    httpserver.clear()
    httpserver.expect_request(GRAPHQL, method="POST").respond_with_json({"errors": [{"message": "Field 'x' missing"}]})
    assert "Field 'x' missing" in run(gitlab).error


def test_a_work_item_is_reread_by_iid(httpserver, gitlab):
    from integrations.trackers.gitlab import GitLabClient

    scope = {"group": "acme", "work_items": True}
    httpserver.expect_request(GRAPHQL, method="POST").respond_with_json(answer(WORK_ITEMS[2:], more=False, cursor=None))
    client = GitLabClient(base_url=gitlab.base_url, token="glpat-fake-0123456789")

    item = client.fetch_item(scope=scope, ref="35")

    assert item is not None and (item.key, item.signals["state"]) == ("&35", "closed")
    assert json.loads(httpserver.log[0][0].get_data())["variables"] == {"group": "acme", "iid": "35"}
    httpserver.clear()
    httpserver.expect_request(GRAPHQL, method="POST").respond_with_json(answer([], more=False, cursor=None))
    assert client.fetch_item(scope=scope, ref="36") is None


@hypothesis_settings(max_examples=200, deadline=None)
@given(ANY_JSON)
def test_any_json_parses_to_a_work_item_or_a_typed_error(payload):
    from integrations.trackers.gitlab import parse_work_item

    try:
        item = parse_work_item(payload)
    except MalformedResponse:
        return
    assert item.key.startswith("&") and item.updated_at.tzinfo is not None
