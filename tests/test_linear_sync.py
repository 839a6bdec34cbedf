"""Syncing epics from Linear over real HTTP, against a local fake Linear answering GraphQL on POST /graphql."""

from __future__ import annotations

import itertools
import json
from copy import deepcopy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from epics.models import Epic, StatusChange
from integrations.models import Connection, SyncRun
from integrations.secrets import encrypt
from integrations.services import connection_credentials
from integrations.status_maps import DEFAULTS
from integrations.sync import sync_run
from integrations.trackers import linear
from integrations.trackers.base import (
    MAX_RETRY_WAIT,
    MalformedResponse,
    PermanentTrackerError,
    TrackerItem,
    TransientTrackerError,
)
from integrations.trackers.linear import LinearClient, parse_project
from tests.conftest import Cast
from tests.strategies import ANY_JSON

FIXTURES = Path(__file__).parent / "fixtures" / "trackers"
PAGE_1 = json.loads((FIXTURES / "linear_projects_query_response.json").read_text())
GRAPHQL = "/graphql"
API_KEY = "lin_api_fake_0123456789"
TEAM = "7e3c1a52-9b4d-4f6e-8a1b-2c3d4e5f6a70"
CHECKOUT, REFUND = PAGE_1["data"]["projects"]["nodes"]
RATELIMITED = {"errors": [{"message": "Rate limit exceeded", "extensions": {"code": "RATELIMITED"}}]}
LIMITED_HEADERS = {"X-RateLimit-Requests-Remaining": "0"}
NOT_FOUND = {
    "errors": [
        {
            "message": "Entity not found: Project",
            "path": ["project"],
            "extensions": {
                "type": "invalid input",
                "code": "INPUT_ERROR",
                "userPresentableMessage": "Could not find referenced Project.",
            },
        }
    ],
    "data": None,
}


def refusal(code: str) -> dict[str, Any]:
    message = "Authentication required, not authenticated" if code == "AUTHENTICATION_ERROR" else "Forbidden"
    return {"errors": [{"message": message, "extensions": {"code": code, "type": code.lower().replace("_", " ")}}]}


def project_node(slug: str, kind: str, **fields: Any) -> dict[str, Any]:
    """A project as the EpicSync query returns it (no child issues: the client does not ask for them)."""
    node = {
        "id": f"{slug}-0000-4000-8000-000000000000",
        "name": slug.replace("-", " ").capitalize(),
        "url": f"https://linear.app/acme/project/{slug}-0a1b2c3d4e5f",
        "status": {"id": f"status-{kind}", "name": kind.capitalize(), "type": kind},
        "startedAt": None,
        "completedAt": None,
        "canceledAt": None,
        "updatedAt": "2024-05-14T09:12:33.123Z",
        "lead": None,
    }
    return node | fields


def projects_page(nodes: list[dict[str, Any]], *, next_cursor: str | None = None) -> dict[str, Any]:
    page_info = {
        "hasNextPage": next_cursor is not None,
        "endCursor": next_cursor or (nodes[-1]["id"] if nodes else None),
    }
    return {"data": {"projects": {"nodes": nodes, "pageInfo": page_info}}}


def last_page(page: dict[str, Any]) -> dict[str, Any]:
    """The page as Linear would send it if nothing came after."""
    changed = deepcopy(page)
    changed["data"]["projects"]["pageInfo"]["hasNextPage"] = False
    return changed


LEGACY = project_node(
    "legacy-invoicing",
    "canceled",
    startedAt="2024-01-08T09:00:00.000Z",
    canceledAt="2024-03-28T11:30:00.000Z",
    updatedAt="2024-03-28T11:30:00.000Z",
    lead={"id": "lead-1", "name": "Alpha Member", "email": "member.alpha@example.test"},
)
PAGE_2 = projects_page([LEGACY])


@pytest.fixture
def linear_connection(httpserver: HTTPServer, cast: Cast) -> Connection:
    """A Linear connection of company A pointing at the local fake."""
    return Connection.objects.create(
        company=cast.company_a,
        name="Fake Linear",
        kind="linear",
        base_url=httpserver.url_for("").rstrip("/"),
        credentials_encrypted=encrypt({"api_key": API_KEY}),
        scope={},
        status_map=DEFAULTS["linear"],
        default_owner=cast.owner_a,
    )


def client_of(httpserver: HTTPServer) -> LinearClient:
    return LinearClient(base_url=httpserver.url_for("").rstrip("/"), api_key=API_KEY)


def posted(request: Request) -> dict[str, Any]:
    """The GraphQL request a fake received: its query and variables."""
    body: dict[str, Any] = json.loads(request.get_data())
    return body


def serve_pages(httpserver: HTTPServer, *pages: dict[str, Any]) -> None:
    """Page 1 for a request without a cursor, then each next page for the endCursor of the page before."""
    by_cursor = {None: pages[0]} | {
        before["data"]["projects"]["pageInfo"]["endCursor"]: page for before, page in itertools.pairwise(pages)
    }

    def handler(request: Request) -> Response:
        page = by_cursor.get(posted(request)["variables"].get("after"))
        if page is None:
            return Response(json.dumps({"errors": [{"message": "unknown cursor"}]}), status=400)
        return Response(json.dumps(page), content_type="application/json")

    httpserver.expect_request(GRAPHQL, method="POST").respond_with_handler(handler)


def answer_in_turn(httpserver: HTTPServer, *answers: tuple[int, dict[str, Any], dict[str, str]]) -> None:
    """Each answer once, in order; the last one for ever after."""
    queue = list(answers)

    def handler(request: Request) -> Response:
        status, body, headers = queue.pop(0) if len(queue) > 1 else queue[0]
        return Response(json.dumps(body), status=status, headers=headers, content_type="application/json")

    httpserver.expect_request(GRAPHQL, method="POST").respond_with_handler(handler)


def run(connection: Connection, *, full: bool = True) -> SyncRun:
    client = LinearClient(base_url=connection.base_url, api_key=connection_credentials(connection)["api_key"])
    return sync_run(SyncRun.objects.create(connection=connection, full=full).pk, client=client)


def epics_of(connection: Connection) -> dict[str, Epic]:
    return {e.external_key: e for e in Epic.objects.filter(tracker_connection_id=connection.pk)}


def linear_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


# A full sync, its requests, and the next incremental run


def test_a_full_sync_over_two_pages_brings_in_every_project_with_its_mapped_status(httpserver, linear_connection, cast):
    serve_pages(httpserver, PAGE_1, PAGE_2)

    result = run(linear_connection)

    assert (result.status, result.fetched, result.created, result.updated, result.unchanged) == (
        "succeeded",
        3,
        3,
        0,
        0,
    )
    epics = epics_of(linear_connection)
    assert {key: e.status for key, e in epics.items()} == {  # the fixture README's table
        "checkout-revamp-4f5a6b7c8d9e": "in_progress",
        "refund-automation-5a6b7c8d9e0f": "done",
        "legacy-invoicing-0a1b2c3d4e5f": "cancelled",
    }
    checkout = epics["checkout-revamp-4f5a6b7c8d9e"]
    assert (checkout.external_id, checkout.title, checkout.tracker_status, checkout.tracker_url) == (
        CHECKOUT["id"],
        "Checkout revamp",
        "In Progress",
        CHECKOUT["url"],
    )
    assert checkout.owner == cast.owner_a  # the lead has no e-mail: the default owner
    assert epics["legacy-invoicing-0a1b2c3d4e5f"].owner == cast.member_a  # the lead's e-mail is a member's
    started = StatusChange.objects.get(epic=checkout, to_status="in_progress")
    assert started.at == started.tracker_timestamp == linear_time(CHECKOUT["startedAt"])  # not its last update
    linear_connection.refresh_from_db()
    assert linear_connection.last_success_at is not None and not linear_connection.needs_attention


def test_requests_post_graphql_with_the_bare_api_key_and_page_by_cursor(httpserver, linear_connection):
    serve_pages(httpserver, PAGE_1, PAGE_2)

    run(linear_connection)

    (first, _), (second, _) = httpserver.log
    assert (first.method, first.path, first.mimetype) == ("POST", "/graphql", "application/json")
    assert first.headers["Authorization"] == API_KEY  # a personal API key goes without "Bearer"
    one, two = posted(first), posted(second)
    assert one["query"].startswith("query EpicSync(")
    assert "projects(first: $first, after: $after, orderBy: updatedAt)" in one["query"]
    assert "status { id name type }" in one["query"] and "lead { id name email }" in one["query"]
    assert "issues" not in one["query"]  # no child issues: they would only cost complexity
    assert one["variables"] == {"first": 50}
    assert two["query"] == one["query"]
    assert two["variables"] == {"first": 50, "after": "c4a2d9b3-5e6f-4c90-8b2d-3f4e5a6b7c8d"}


def test_the_next_run_asks_only_for_projects_updated_since_the_cursor(httpserver, linear_connection):
    serve_pages(httpserver, PAGE_1, PAGE_2)
    first = run(linear_connection)
    statuses_before = {key: e.status for key, e in epics_of(linear_connection).items()}
    changes_before = StatusChange.objects.count()
    httpserver.clear()
    serve_pages(httpserver, projects_page([]))

    second = run(linear_connection, full=False)

    assert (second.status, second.fetched, second.created, second.updated) == ("succeeded", 0, 0, 0)
    assert second.updated_since is not None and first.started_at is not None
    assert second.updated_since < first.started_at
    sent = posted(httpserver.log[-1][0])
    assert sent["variables"] == {"first": 50, "since": second.updated_since.isoformat()}
    assert "$since: DateTimeOrDuration" in sent["query"]
    assert "filter: { updatedAt: { gt: $since } }" in sent["query"]
    assert {key: e.status for key, e in epics_of(linear_connection).items()} == statuses_before
    assert StatusChange.objects.count() == changes_before


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("backlog", "planned"),
        ("planned", "planned"),
        ("started", "in_progress"),
        ("paused", "in_progress"),
        ("completed", "done"),
        ("canceled", "cancelled"),
    ],
)
def test_every_project_status_type_maps_as_documented(httpserver, linear_connection, kind, expected):
    serve_pages(httpserver, projects_page([project_node("billing", kind)]))

    result = run(linear_connection)

    epic = epics_of(linear_connection)["billing-0a1b2c3d4e5f"]
    assert (result.status, epic.status, epic.tracker_status) == ("succeeded", expected, kind.capitalize())


# Rate limits and refusals


@pytest.mark.parametrize("status", [200, 400])
def test_ratelimited_is_waited_out_and_retried(httpserver, linear_connection, monkeypatch, status):
    waits: list[float] = []
    monkeypatch.setattr(linear, "sleep", waits.append)
    answer_in_turn(
        httpserver,
        (status, RATELIMITED, LIMITED_HEADERS),
        (status, RATELIMITED, LIMITED_HEADERS),
        (200, last_page(PAGE_1), {}),
    )

    result = run(linear_connection)

    assert (result.status, result.created) == ("succeeded", 2)
    assert len(httpserver.log) == 3
    assert len(waits) == 2
    assert all(posted(request) == posted(httpserver.log[0][0]) for request, _ in httpserver.log)  # the same page


def test_ratelimited_for_ever_fails_the_run_without_flagging_the_connection(httpserver, linear_connection):
    answer_in_turn(httpserver, (200, RATELIMITED, LIMITED_HEADERS))

    result = run(linear_connection)

    assert result.status == "failed"
    assert "rate limiting" in result.error
    assert len(httpserver.log) == 5  # the first try and four retries
    linear_connection.refresh_from_db()
    assert not linear_connection.needs_attention  # transient: the next run may well succeed
    assert "rate limiting" in linear_connection.last_error


def test_the_rate_limit_wait_doubles_with_jitter_and_is_capped(settings):
    settings.TRACKER_RETRY_BACKOFF = 10

    waits = [linear.rate_limit_wait(attempt) for attempt in range(5)]

    for attempt, wait in enumerate(waits[:4]):
        base = 10 * 2**attempt
        assert base <= wait <= min(2 * base, MAX_RETRY_WAIT)
    assert waits[4] == MAX_RETRY_WAIT  # 160 s and more: capped


def test_http_429_is_retried_by_the_session(httpserver, linear_connection):
    answer_in_turn(
        httpserver, (429, RATELIMITED, {**LIMITED_HEADERS, "Retry-After": "0"}), (200, last_page(PAGE_1), {})
    )

    result = run(linear_connection)

    assert (result.status, result.created) == ("succeeded", 2)
    assert len(httpserver.log) == 2


def test_http_429_for_ever_is_transient(httpserver):
    answer_in_turn(httpserver, (429, RATELIMITED, LIMITED_HEADERS))

    with pytest.raises(TransientTrackerError, match="429"):
        next(client_of(httpserver).epics(scope={}))
    assert len(httpserver.log) == 5  # the session's first try and four retries, no second loop on top


@pytest.mark.parametrize(
    ("status", "code"),
    [(200, "AUTHENTICATION_ERROR"), (400, "AUTHENTICATION_ERROR"), (401, "AUTHENTICATION_ERROR"), (200, "FORBIDDEN")],
)
def test_a_refused_key_fails_the_run_and_flags_the_connection(httpserver, linear_connection, status, code):
    answer_in_turn(httpserver, (status, refusal(code), {}))

    result = run(linear_connection)

    assert result.status == "failed"
    linear_connection.refresh_from_db()
    assert linear_connection.needs_attention
    assert linear_connection.last_error == result.error
    assert len(httpserver.log) == 1  # permanent: no retry storm


def test_a_refusal_keeps_linears_reason(httpserver):
    answer_in_turn(httpserver, (200, refusal("AUTHENTICATION_ERROR"), {}))

    with pytest.raises(PermanentTrackerError, match="Authentication required"):
        next(client_of(httpserver).epics(scope={}))


def test_the_type_linears_sdk_reads_is_understood_too(httpserver):
    only_type = {"errors": [{"message": "Forbidden", "extensions": {"type": "forbidden"}}]}
    answer_in_turn(httpserver, (200, only_type, {}))

    with pytest.raises(PermanentTrackerError, match="Forbidden"):
        next(client_of(httpserver).epics(scope={}))


def test_another_graphql_error_is_malformed_with_linears_first_message(httpserver, linear_connection):
    message = 'Cannot query field "bogus" on type "Project". ' + "x" * 300
    body = {"errors": [{"message": message, "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}, {"message": "2nd"}]}
    answer_in_turn(httpserver, (200, body, {}))

    with pytest.raises(MalformedResponse) as caught:
        next(client_of(httpserver).epics(scope={}))
    assert message[:200] in str(caught.value)
    assert message[:201] not in str(caught.value)
    result = run(linear_connection)
    linear_connection.refresh_from_db()
    assert (result.status, linear_connection.needs_attention) == ("failed", False)


def test_http_400_without_a_rate_limit_is_permanent(httpserver, linear_connection):
    body = {"errors": [{"message": "Query too complex", "extensions": {"code": "INPUT_ERROR"}}]}
    answer_in_turn(httpserver, (400, body, {}))

    result = run(linear_connection)

    linear_connection.refresh_from_db()
    assert (result.status, linear_connection.needs_attention) == ("failed", True)
    assert "400" in result.error and "Query too complex" in result.error


# Paging that Linear gets wrong


def stop_after(limit: int, answer: dict[str, Any]) -> list[tuple[int, dict[str, Any], dict[str, str]]]:
    """The same answer `limit` times, then an empty last page: a client that does not stop fails, never hangs."""
    return [(200, answer, {})] * limit + [(200, projects_page([]), {})]


def test_a_repeated_end_cursor_does_not_loop_forever(httpserver, linear_connection):
    answer_in_turn(httpserver, *stop_after(10, PAGE_1))  # "next: c4a2…", every time

    result = run(linear_connection)

    assert result.status == "partial"  # what came before the loop stays applied
    assert "cursor" in result.error
    assert len(httpserver.log) == 2
    assert set(epics_of(linear_connection)) == {"checkout-revamp-4f5a6b7c8d9e", "refund-automation-5a6b7c8d9e0f"}


def test_cursors_that_go_round_in_a_circle_stop_too(httpserver):
    a = projects_page([CHECKOUT], next_cursor="cursor-a")
    b = projects_page([REFUND], next_cursor="cursor-b")
    answer_in_turn(httpserver, *[(200, a, {}), (200, b, {})] * 5, (200, projects_page([]), {}))  # a, b, a, b…

    with pytest.raises(MalformedResponse, match="cursor"):
        list(client_of(httpserver).epics(scope={}))
    assert len(httpserver.log) == 3


@pytest.mark.parametrize(
    "answer",
    [
        {"data": {}},
        {"data": None},
        {"data": {"projects": {"nodes": "none", "pageInfo": {"hasNextPage": False, "endCursor": None}}}},
        {"data": {"projects": {"nodes": []}}},
        {"data": {"projects": {"nodes": [], "pageInfo": {"endCursor": None}}}},
        {"data": {"projects": {"nodes": [], "pageInfo": {"hasNextPage": "false", "endCursor": None}}}},
        {"data": {"projects": {"nodes": [], "pageInfo": {"hasNextPage": False}}}},
        {"data": {"projects": {"nodes": [], "pageInfo": {"hasNextPage": True, "endCursor": None}}}},
        {"data": {"projects": {"nodes": [], "pageInfo": {"hasNextPage": True, "endCursor": 7}}}},
        {"data": {"projects": {"nodes": [{"id": "no status"}], "pageInfo": {"hasNextPage": False, "endCursor": None}}}},
        [],
    ],
)
def test_an_unreadable_page_is_a_typed_error(httpserver, answer):
    httpserver.expect_request(GRAPHQL, method="POST").respond_with_json(answer)

    with pytest.raises(MalformedResponse):
        list(client_of(httpserver).epics(scope={}))


def test_an_unreadable_answer_fails_the_run_without_a_crash(httpserver, linear_connection):
    httpserver.expect_request(GRAPHQL, method="POST").respond_with_data("<html>oops</html>")

    result = run(linear_connection)

    assert result.status == "failed"
    assert "not JSON" in result.error


# Scope


def test_a_team_scope_reads_only_that_teams_projects(httpserver, linear_connection):
    Connection.objects.filter(pk=linear_connection.pk).update(scope={"team": TEAM})
    linear_connection.refresh_from_db()
    httpserver.expect_request(GRAPHQL, method="POST").respond_with_json({"data": {"team": last_page(PAGE_1)["data"]}})

    result = run(linear_connection)

    assert (result.status, result.created) == ("succeeded", 2)
    sent = posted(httpserver.log[0][0])
    assert sent["variables"] == {"team": TEAM, "first": 50}
    assert sent["query"].startswith("query EpicSync($team: String!, ")
    assert "team(id: $team) { projects(first: $first, after: $after, orderBy: updatedAt)" in sent["query"]


@pytest.mark.parametrize("scope", [{"team": ""}, {"team": "  "}, {"team": None}, {"team": 42}, {"team": [TEAM]}])
def test_a_team_scope_without_a_team_id_is_refused_before_asking(httpserver, scope):
    client = client_of(httpserver)

    with pytest.raises(MalformedResponse, match="team id"):
        next(client.epics(scope=scope))
    with pytest.raises(MalformedResponse, match="team id"):
        client.fetch_item(scope=scope, ref=REFUND["id"])
    assert httpserver.log == []


# fetch_item, for webhooks


def with_teams(node: dict[str, Any], *team_ids: str) -> dict[str, Any]:
    return {**node, "teams": {"nodes": [{"id": team_id} for team_id in team_ids]}}


def test_fetch_item_rereads_one_project(httpserver):
    httpserver.expect_request(GRAPHQL, method="POST").respond_with_json({"data": {"project": with_teams(REFUND, TEAM)}})

    item = client_of(httpserver).fetch_item(scope={"team": TEAM}, ref=REFUND["id"])

    assert item is not None
    assert (item.external_id, item.key, item.signals) == (
        REFUND["id"],
        "refund-automation-5a6b7c8d9e0f",
        {"type": "completed", "name": "Completed"},
    )
    assert item.status_changed_at == linear_time("2024-05-10T16:45:02.789Z")
    sent = posted(httpserver.log[0][0])
    assert sent["variables"] == {"id": REFUND["id"]}
    assert "project(id: $id)" in sent["query"] and "teams { nodes { id } }" in sent["query"]
    assert httpserver.log[0][0].headers["Authorization"] == API_KEY


@pytest.mark.parametrize("status", [200, 400])
def test_fetch_item_of_a_project_linear_does_not_know_is_none(httpserver, status):
    answer_in_turn(httpserver, (status, NOT_FOUND, {}))

    assert client_of(httpserver).fetch_item(scope={}, ref="3f7e0000-0000-4000-8000-00000000dead") is None


def test_fetch_item_of_another_teams_project_is_none(httpserver):
    other = "0d9e8f7a-6b5c-4d3e-9f1a-2b3c4d5e6f70"
    httpserver.expect_request(GRAPHQL, method="POST").respond_with_json(
        {"data": {"project": with_teams(REFUND, other)}}
    )
    client = client_of(httpserver)

    assert client.fetch_item(scope={"team": TEAM}, ref=REFUND["id"]) is None
    assert client.fetch_item(scope={}, ref=REFUND["id"]) is not None  # every project the key sees


def test_fetch_item_does_not_take_another_input_error_for_a_missing_project(httpserver):
    too_complex = {"errors": [{"message": "Query too complex", "extensions": {"code": "INPUT_ERROR"}}]}
    answer_in_turn(httpserver, (400, too_complex, {}))

    with pytest.raises(PermanentTrackerError, match="Query too complex"):
        client_of(httpserver).fetch_item(scope={}, ref=REFUND["id"])


def test_fetch_item_waits_out_a_rate_limit(httpserver, monkeypatch):
    monkeypatch.setattr(linear, "sleep", lambda seconds: None)
    answer_in_turn(
        httpserver, (400, RATELIMITED, LIMITED_HEADERS), (200, {"data": {"project": with_teams(CHECKOUT)}}, {})
    )

    item = client_of(httpserver).fetch_item(scope={}, ref=CHECKOUT["id"])

    assert item is not None and item.signals["type"] == "started"


@pytest.mark.parametrize(
    "answer",
    [{"data": {"project": None}}, {"data": {"project": CHECKOUT}}, {"data": {"project": with_teams({"id": "x"})}}],
)
def test_fetch_item_of_an_unreadable_project_is_a_typed_error(httpserver, answer):
    httpserver.expect_request(GRAPHQL, method="POST").respond_with_json(answer)

    with pytest.raises(MalformedResponse):
        client_of(httpserver).fetch_item(scope={}, ref=CHECKOUT["id"])


# The parser


@pytest.mark.parametrize(
    ("kind", "field"),
    [
        ("canceled", "canceledAt"),
        ("completed", "completedAt"),
        ("started", "startedAt"),
        ("paused", None),  # Linear stamps no pause: the project's updatedAt stands in
        ("planned", None),
        ("backlog", None),
    ],
)
def test_the_status_change_time_is_the_one_of_the_current_status_type(kind, field):
    times = {
        "startedAt": "2024-01-02T03:04:05.678Z",
        "completedAt": "2024-02-03T04:05:06.789Z",
        "canceledAt": "2024-03-04T05:06:07.890Z",
    }

    item = parse_project(project_node("billing", kind, **times))

    expected = None if field is None else linear_time(times[field])
    assert item.status_changed_at == expected
    assert item.status_timestamp == (expected or linear_time("2024-05-14T09:12:33.123Z"))
    assert item.status_time_exact is (kind != "started")  # startedAt stays from the first start


def test_a_project_that_has_not_reached_its_status_time_yet_has_none():
    item = parse_project(project_node("billing", "started"))  # startedAt still null

    assert item.status_changed_at is None
    assert item.status_timestamp == item.updated_at


def test_a_project_reads_into_an_item():
    item = parse_project(LEGACY)

    assert item == TrackerItem(
        external_id=LEGACY["id"],
        key="legacy-invoicing-0a1b2c3d4e5f",
        title="Legacy invoicing",
        url=LEGACY["url"],
        signals={"type": "canceled", "name": "Canceled"},
        status_text="Canceled",
        updated_at=datetime(2024, 3, 28, 11, 30, tzinfo=UTC),
        assignee_email="member.alpha@example.test",
        status_changed_at=datetime(2024, 3, 28, 11, 30, tzinfo=UTC),
    )


def test_long_names_are_cut_to_the_columns():
    item = parse_project(project_node("billing", "started", name="N" * 400, status={"name": "S" * 150, "type": "x"}))

    assert (len(item.title), len(item.status_text)) == (300, 100)


@pytest.mark.parametrize(
    "changes",
    [
        {"id": None},
        {"id": 42},
        {"url": ""},
        {"url": "https://linear.app/"},
        {"status": None},
        {"status": {"name": "In Progress"}},
        {"status": {"name": "In Progress", "type": 3}},
        {"updatedAt": "2024-05-14"},  # a date, no time zone
        {"updatedAt": "yesterday"},
        {"updatedAt": None},
        {"status": {"name": "Done", "type": "completed"}, "completedAt": 1715678000000},
        {"lead": "Raj Patel"},
        {"lead": {"email": ["raj@example.test"]}},
    ],
)
def test_a_mistyped_project_is_a_typed_error(changes):
    with pytest.raises(MalformedResponse):
        parse_project(project_node("billing", "started") | changes)


JSON = ANY_JSON


@hypothesis_settings(max_examples=200, deadline=None)
@given(JSON)
def test_any_json_parses_to_an_item_or_a_typed_error(payload):
    try:
        item = parse_project(payload)
    except MalformedResponse:
        return
    assert item.key and item.updated_at.tzinfo is not None


TIMES = st.none() | st.text(max_size=30) | st.datetimes(timezones=st.none() | st.just(UTC)).map(datetime.isoformat)


@hypothesis_settings(max_examples=200, deadline=None)
@given(
    st.fixed_dictionaries(
        {
            "id": st.text(max_size=10) | JSON,
            "name": st.text(max_size=10) | JSON,
            "url": st.sampled_from(["https://linear.app/acme/project/a-1", "https://linear.app/", ""]) | JSON,
            "status": st.fixed_dictionaries(
                {"name": st.text(max_size=10) | JSON, "type": st.sampled_from(sorted(linear.STATUS_SINCE)) | JSON}
            )
            | JSON,
            "updatedAt": TIMES | JSON,
            "startedAt": TIMES,
            "completedAt": TIMES,
            "canceledAt": TIMES,
            "lead": st.none() | st.fixed_dictionaries({"email": st.none() | st.text(max_size=10) | JSON}) | JSON,
        }
    )
)
def test_any_project_shaped_json_parses_to_an_item_or_a_typed_error(payload):
    try:
        item = parse_project(payload)
    except MalformedResponse:
        return
    assert item.key and item.updated_at.tzinfo is not None
    assert item.status_changed_at is None or item.status_changed_at.tzinfo is not None
