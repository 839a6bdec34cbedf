"""Syncing epics from Jira over real HTTP, against a local fake Jira serving the documented shapes."""

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
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from epics.models import Epic, StatusChange
from integrations.models import Connection, SyncRun
from integrations.reminders import dispatch_reminders
from integrations.secrets import encrypt
from integrations.status_maps import DEFAULTS
from integrations.sync import sync_request, sync_run
from integrations.trackers.base import MalformedResponse
from integrations.trackers.jira import JiraClient, parse_issue
from tests.conftest import Cast
from tests.strategies import ANY_JSON

FIXTURES = Path(__file__).parent / "fixtures" / "trackers"
SEARCH = "/rest/api/3/search/jql"
PAGE_1 = json.loads((FIXTURES / "jira_search_epics.json").read_text())
PAGE_2 = json.loads((FIXTURES / "jira_search_epics_page2.json").read_text())


@pytest.fixture
def jira(httpserver: HTTPServer, cast: Cast) -> Connection:
    """A Jira connection of company A pointing at the local fake."""
    return Connection.objects.create(
        company=cast.company_a,
        name="Fake Jira",
        kind="jira",
        base_url=httpserver.url_for("").rstrip("/"),
        credentials_encrypted=encrypt({"email": "bot@alpha.example", "api_token": "fake-jira-token-0123"}),
        scope={"jql": "project = PROJ AND issuetype = Epic"},
        status_map=DEFAULTS["jira"],
        default_owner=cast.owner_a,
    )


def serve_pages(httpserver: HTTPServer, *pages: dict[str, Any]) -> None:
    """Page 1 for a request without a token, then each next page for the token of the page before."""
    by_token = {None: pages[0]} | {before["nextPageToken"]: page for before, page in itertools.pairwise(pages)}

    def handler(request: Request) -> Response:
        page = by_token.get(request.args.get("nextPageToken"))
        if page is None:
            return Response("unknown page token", status=400)
        return Response(json.dumps(page), content_type="application/json")

    httpserver.expect_request(SEARCH).respond_with_handler(handler)


def run_sync(connection: Connection, *, full: bool = False) -> SyncRun:
    run = SyncRun.objects.create(connection=connection, full=full)
    return sync_run(run.pk)


def epics_of(connection: Connection) -> dict[str, Epic]:
    return {e.external_key: e for e in Epic.objects.filter(tracker_connection_id=connection.pk)}


def jira_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")


def test_a_full_sync_brings_in_every_epic_with_its_mapped_status(httpserver, jira, cast):
    serve_pages(httpserver, PAGE_1, PAGE_2)

    run = run_sync(jira, full=True)

    assert (run.status, run.fetched, run.created, run.updated, run.unchanged) == ("succeeded", 3, 3, 0, 0)
    epics = epics_of(jira)
    assert {key: e.status for key, e in epics.items()} == {
        "PROJ-42": "in_progress",
        "PROJ-7": "done",
        "PROJ-55": "cancelled",
    }
    assert epics["PROJ-7"].tracker_url == f"{jira.base_url}/browse/PROJ-7"
    assert epics["PROJ-42"].tracker_status == "In Progress"
    assert all(e.owner == cast.owner_a for e in epics.values())  # no assignee e-mail: the default owner
    history = list(StatusChange.objects.filter(epic=epics["PROJ-7"]).order_by("id"))
    assert [(h.from_status, h.to_status, h.source) for h in history] == [
        ("", "proposed", "sync"),
        ("proposed", "done", "sync"),
    ]
    assert history[1].at == history[1].tracker_timestamp == jira_time("2024-05-10T16:45:02.789+0000")
    jira.refresh_from_db()
    assert jira.last_success_at is not None and not jira.needs_attention


def test_requests_carry_basic_auth_and_the_scope(httpserver, jira):
    serve_pages(httpserver, PAGE_1, PAGE_2)
    run_sync(jira, full=True)

    first = httpserver.log[0][0]
    assert first.authorization.type == "basic"
    assert (first.authorization.username, first.authorization.password) == ("bot@alpha.example", "fake-jira-token-0123")
    assert first.args["jql"] == "(project = PROJ AND issuetype = Epic) ORDER BY updated ASC"
    assert httpserver.log[1][0].args["nextPageToken"] == PAGE_1["nextPageToken"]


def test_a_synced_epic_that_started_without_an_anticipated_outcome_is_flagged(httpserver, jira, client_for, cast):
    serve_pages(httpserver, PAGE_1, PAGE_2)
    run_sync(jira, full=True)

    flagged = client_for(cast.owner_a).get("/api/v1/companies/alpha/epics/", {"missing_anticipated_outcome": "true"})

    keys = {e["external_key"] for e in flagged.json()["results"]}
    assert {"PROJ-42", "PROJ-7"} <= keys  # started or done without one
    assert "PROJ-55" not in keys  # cancelled: never started


def test_the_next_run_is_incremental_and_changes_nothing_when_nothing_changed(httpserver, jira):
    serve_pages(httpserver, PAGE_1, PAGE_2)
    first = run_sync(jira, full=True)
    changes_before = StatusChange.objects.count()

    second = run_sync(jira)

    assert (second.status, second.created, second.updated, second.unchanged) == ("succeeded", 0, 0, 3)
    assert second.updated_since is not None
    assert first.started_at is not None
    assert second.updated_since < first.started_at
    assert f'updated >= "{second.updated_since:%Y-%m-%d %H:%M}"' in httpserver.log[-2][0].args["jql"]
    assert StatusChange.objects.count() == changes_before


def test_a_status_change_in_jira_moves_the_epic_and_an_older_event_does_not(httpserver, jira):
    serve_pages(httpserver, PAGE_1, PAGE_2)
    run_sync(jira, full=True)
    reopened = _page_with(
        PAGE_1, "PROJ-7", category="indeterminate", status="In Progress", updated="2024-05-20T10:00:00.000+0000"
    )
    httpserver.clear()
    serve_pages(httpserver, reopened, PAGE_2)

    run = run_sync(jira, full=True)

    assert run.updated == 1
    assert epics_of(jira)["PROJ-7"].status == "in_progress"
    stale = _page_with(PAGE_1, "PROJ-7", category="done", status="Done", updated="2024-05-01T10:00:00.000+0000")
    httpserver.clear()
    serve_pages(httpserver, stale, PAGE_2)
    run_sync(jira, full=True)
    assert epics_of(jira)["PROJ-7"].status == "in_progress"  # the older event changed nothing


def _page_with(page: dict[str, Any], key: str, *, category: str, status: str, updated: str) -> dict[str, Any]:
    changed = deepcopy(page)
    for issue in changed["issues"]:
        if issue["key"] == key:
            issue["fields"]["status"]["statusCategory"]["key"] = category
            issue["fields"]["status"]["name"] = status
            issue["fields"]["resolution"] = None
            issue["fields"]["updated"] = issue["fields"]["statuscategorychangedate"] = updated
    return changed


def test_refused_credentials_fail_the_run_and_flag_the_connection(httpserver, jira):
    httpserver.expect_request(SEARCH).respond_with_json({"errorMessages": ["Unauthorized"]}, status=401)

    run = run_sync(jira, full=True)

    assert run.status == "failed"
    assert "401" in run.error
    jira.refresh_from_db()
    assert jira.needs_attention
    assert "401" in jira.last_error
    assert len(httpserver.log) == 1  # permanent: no retry storm


def test_the_managers_hear_once_that_a_connection_needs_attention(httpserver, jira, cast, mailoutbox, time_machine):
    time_machine.move_to(datetime(2027, 3, 2, 10, tzinfo=UTC), tick=False)  # a Tuesday morning: not quiet hours
    httpserver.expect_request(SEARCH).respond_with_json({"errorMessages": ["Unauthorized"]}, status=401)

    run_sync(jira, full=True)
    run_sync(jira, full=True)  # a second refusal while flagged
    dispatch_reminders()
    dispatch_reminders()  # and a second beat tick

    told = [m for m in mailoutbox if "Fake Jira" in m.subject]
    assert sorted(m.to[0] for m in told) == sorted([cast.owner_a.email, cast.admin_a.email])
    assert "401" in told[0].body and "/connections/" in told[0].body
    assert cast.owner_b.email not in {m.to[0] for m in told}


def test_a_busy_jira_is_retried_until_it_answers(httpserver, jira):
    calls: list[int] = []

    def busy_then_fine(request: Request) -> Response:
        calls.append(1)
        if len(calls) == 1:
            return Response("busy", status=503, headers={"Retry-After": "0"})
        return Response(json.dumps({**PAGE_1, "isLast": True}), content_type="application/json")

    httpserver.expect_request(SEARCH).respond_with_handler(busy_then_fine)

    run = run_sync(jira, full=True)

    assert (run.status, run.created) == ("succeeded", 2)
    assert len(calls) == 2


def test_a_failed_page_keeps_the_pages_before_and_does_not_move_the_cursor(httpserver, jira):
    def first_page_then_broken(request: Request) -> Response:
        if "nextPageToken" in request.args:
            return Response("broken", status=500)
        return Response(json.dumps(PAGE_1), content_type="application/json")

    httpserver.expect_request(SEARCH).respond_with_handler(first_page_then_broken)

    run = run_sync(jira, full=True)

    assert run.status == "partial"
    assert set(epics_of(jira)) == {"PROJ-42", "PROJ-7"}  # page 1 stays
    assert not SyncRun.objects.filter(connection=jira, status="succeeded").exists()
    nxt = run_sync(jira)
    assert nxt.updated_since is None  # no successful run yet: the next one reads everything


def test_an_unreadable_answer_fails_the_run_without_a_crash(httpserver, jira):
    httpserver.expect_request(SEARCH).respond_with_json({"unexpected": True})

    run = run_sync(jira, full=True)

    assert run.status == "failed"
    assert "issues" in run.error


def test_a_run_is_claimed_once(httpserver, jira):
    serve_pages(httpserver, PAGE_1, PAGE_2)
    run = SyncRun.objects.create(connection=jira, full=True)

    first = sync_run(run.pk)
    again = sync_run(run.pk)  # a redelivered task message

    assert (first.status, again.status) == ("succeeded", "succeeded")
    assert Epic.objects.filter(tracker_connection_id=jira.pk).count() == 3
    assert len(httpserver.log) == 2  # the second call fetched nothing


def test_sync_now_queues_one_run_and_returns_the_running_one_after(
    jira, client_for, cast, django_capture_on_commit_callbacks
):
    client = client_for(cast.owner_a)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = client.post(f"/api/v1/companies/alpha/connections/{jira.pk}/sync/", {"full": True}, format="json")
        second = client.post(f"/api/v1/companies/alpha/connections/{jira.pk}/sync/", {}, format="json")

    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["status"] == "queued"
    assert len(callbacks) == 1  # one task queued, after commit
    run, created = sync_request(connection=jira)
    assert (run.pk, created) == (first.json()["id"], False)


@hypothesis_settings(max_examples=200, deadline=None)
@given(ANY_JSON)
def test_any_json_parses_to_an_item_or_a_typed_error(payload):
    try:
        item = parse_issue(payload, "https://acme.atlassian.net")
    except MalformedResponse:
        return
    assert item.key and item.updated_at.tzinfo is not None


def test_the_jql_asks_for_epics_in_scope_and_changes_since_the_cursor():
    since = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)

    assert JiraClient.jql({"project_keys": ["SHOP", "PAY"]}, since) == (
        'project in ("SHOP", "PAY") AND issuetype = Epic AND updated >= "2026-11-20 09:30" ORDER BY updated ASC'
    )
    assert JiraClient.jql({}, None) == "issuetype = Epic ORDER BY updated ASC"


def test_the_dispatcher_queues_due_connections_once(jira, django_capture_on_commit_callbacks, time_machine):
    from datetime import timedelta

    from django.utils import timezone

    from integrations.sync import dispatch_due_syncs, due_connections

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first, duplicate_tick = dispatch_due_syncs(), dispatch_due_syncs()

    assert first >= 1  # the new connection had never run
    assert duplicate_tick == 0
    assert SyncRun.objects.filter(connection=jira, status="queued").count() == 1
    assert len(callbacks) == first

    SyncRun.objects.filter(connection=jira).update(status="succeeded", finished_at=timezone.now())
    assert jira.pk not in {c.pk for c in due_connections()}  # ran moments ago: not due yet
    time_machine.move_to(timezone.now() + timedelta(minutes=jira.sync_interval_minutes + 1))
    dispatch_due_syncs()
    assert SyncRun.objects.filter(connection=jira, status="queued").count() == 1


def test_a_connection_needing_attention_is_not_dispatched(jira):
    from integrations.sync import due_connections

    Connection.objects.filter(pk=jira.pk).update(needs_attention=True)

    assert jira.pk not in {c.pk for c in due_connections()}


def test_new_credentials_give_a_flagged_connection_another_try(jira, settings):
    from integrations.services import connection_update

    settings.TRACKER_ALLOW_PRIVATE_URLS = True  # the fake Jira listens on a local http address
    from integrations.sync import due_connections

    Connection.objects.filter(pk=jira.pk).update(needs_attention=True)
    jira.refresh_from_db()

    connection_update(connection=jira, credentials={"email": "bot@alpha.example", "api_token": "a-fresh-token-0123"})

    jira.refresh_from_db()
    assert not jira.needs_attention
    assert jira.pk in {c.pk for c in due_connections()}
