"""Syncing epics from GitLab over real HTTP, against a local fake GitLab paging with x-next-page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
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
    assert (first.args["state"], first.args["order_by"], first.args["sort"]) == ("all", "updated_at", "asc")
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
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=6),
        max_leaves=20,
    )
)
def test_any_json_parses_to_an_item_or_a_typed_error(payload):
    try:
        item = parse_epic(payload)
    except MalformedResponse:
        return
    assert item.key.startswith("&")
