"""What every tracker sync shares: bulk writes, full reconciliation, taking over silent runs, the command.

Jira's fake serves the documented pages (see test_jira_sync.py); the rules tested here hold for
every tracker because they live in ``integrations.sync`` and ``epics.tracking``.
"""

# ruff: noqa: F811 - the tracker fixtures are imported from their own test modules
from __future__ import annotations

import json
from copy import deepcopy
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from epics.models import Epic, OutcomeReview, StatusChange
from integrations.models import Connection, SyncRun
from integrations.sync import abandon_silent_runs, apply_items, dispatch_due_syncs, sync_run
from integrations.trackers.base import TrackerItem
from integrations.trackers.github import GitHubClient
from tests.test_github_sync import ISSUES, PATH, github  # noqa: F401
from tests.test_jira_sync import PAGE_1, PAGE_2, SEARCH, epics_of, jira, jira_time, run_sync, serve_pages  # noqa: F401

pytestmark = pytest.mark.django_db


def _only_page_1() -> dict:
    page = deepcopy(PAGE_1)
    page["isLast"] = True
    page.pop("nextPageToken", None)
    return page


def test_a_full_run_marks_epics_the_tracker_no_longer_lists_and_keeps_them(httpserver, jira):
    serve_pages(httpserver, PAGE_1, PAGE_2)
    run_sync(jira, full=True)
    gone = epics_of(jira)["PROJ-55"]
    history = StatusChange.objects.filter(epic=gone).count()
    httpserver.clear()
    serve_pages(httpserver, _only_page_1())

    incremental = run_sync(jira)
    assert incremental.marked_missing == 0  # only a full run can tell what is gone
    full = run_sync(jira, full=True)

    assert (full.status, full.marked_missing) == ("succeeded", 1)
    gone.refresh_from_db()
    assert gone.tracker_missing_reason == "not_listed" and gone.tracker_missing_since is not None
    assert gone.status == "cancelled" and StatusChange.objects.filter(epic=gone).count() == history
    assert all(e.tracker_missing_since is None for k, e in epics_of(jira).items() if k != "PROJ-55")
    assert run_sync(jira, full=True).marked_missing == 0  # marked once


def test_an_epic_listed_again_is_no_longer_marked(httpserver, jira):
    serve_pages(httpserver, _only_page_1())
    Epic.objects.filter(tracker_connection_id=jira.pk).delete()
    run_sync(jira, full=True)
    Epic.objects.filter(tracker_connection_id=jira.pk, external_key="PROJ-42").update(
        tracker_missing_since=timezone.now(), tracker_missing_reason="not_listed"
    )

    run = run_sync(jira, full=True)

    back = epics_of(jira)["PROJ-42"]
    assert (back.tracker_missing_since, back.tracker_missing_reason) == (None, "")
    assert run.updated == 1


def test_a_full_run_that_fails_part_way_marks_nothing(httpserver, jira):
    serve_pages(httpserver, PAGE_1, PAGE_2)
    run_sync(jira, full=True)
    httpserver.clear()
    httpserver.expect_request(SEARCH, query_string={"nextPageToken": PAGE_1["nextPageToken"]}).respond_with_data(
        "down", status=503
    )
    serve_pages(httpserver, PAGE_1)

    run = run_sync(jira, full=True)

    assert (run.status, run.marked_missing) == ("partial", 0)
    assert not Epic.objects.filter(tracker_connection_id=jira.pk).exclude(tracker_missing_since=None).exists()


def test_the_jira_changelog_dates_the_status_change(httpserver, jira):
    page = deepcopy(PAGE_2)
    issue = page["issues"][0]
    issue["fields"]["updated"] = "2024-05-01T08:00:00.000+0000"  # a later edit of another field
    issue["fields"].pop("statuscategorychangedate", None)
    serve_pages(httpserver, {**PAGE_1, "isLast": True, "issues": []}, page)
    httpserver.clear()
    serve_pages(httpserver, page)

    run_sync(jira, full=True)

    change = StatusChange.objects.get(epic=epics_of(jira)["PROJ-55"], to_status="cancelled")
    assert change.tracker_timestamp == change.at == jira_time("2024-04-20T12:00:00.000+0000")  # the changelog's
    assert httpserver.log[0][0].args["expand"] == "changelog"


def test_an_epic_created_done_opens_its_review(httpserver, jira):
    serve_pages(httpserver, PAGE_1, PAGE_2)

    run_sync(jira, full=True)

    done = epics_of(jira)["PROJ-7"]
    review = OutcomeReview.objects.get(epic=done)
    assert review.state == "pending"
    assert review.done_at == done.done_at == jira_time("2024-05-10T16:45:02.789+0000")
    assert review.due_at == review.done_at + timedelta(days=30)  # no metrics yet: the default window
    assert not OutcomeReview.objects.filter(epic__external_key__in=["PROJ-42", "PROJ-55"]).exists()


def _items(count: int, *, category: str, start: int = 0, day: int = 1) -> list[TrackerItem]:
    return [
        TrackerItem(
            external_id=str(10_000 + n),
            key=f"BULK-{n}",
            title=f"Bulk epic {n}",
            url=f"https://acme.atlassian.net/browse/BULK-{n}",
            signals={"category": category, "status": category, "resolution": ""},
            status_text=category,
            updated_at=datetime(2026, 1, day, tzinfo=UTC),
        )
        for n in range(start, start + count)
    ]


@pytest.mark.parametrize("category", ["new", "done"])
def test_a_page_costs_a_few_queries_whatever_its_size(jira, category):
    def queries(items: list[TrackerItem]) -> int:
        with CaptureQueriesContext(db) as captured:
            apply_items(jira, items)
        return len(captured)

    small_new, large_new = queries(_items(5, category=category)), queries(_items(100, category=category, start=5))
    small_moved = queries(_items(5, category="indeterminate", day=2))
    large_moved = queries(_items(100, category="indeterminate", start=5, day=2))

    # A page of 100 costs a handful of queries; only SQLite's limit on query parameters splits the inserts.
    assert large_new <= 15 and large_moved <= 15
    if db.vendor == "postgresql":
        assert (small_new, small_moved) == (large_new, large_moved)
    assert Epic.objects.filter(tracker_connection_id=jira.pk, status="in_progress").count() == 105


def test_the_same_item_twice_in_a_batch_is_applied_once_with_its_newest_state(jira):
    older = _items(1, category="new", day=1)[0]
    newer = _items(1, category="done", day=3)[0]

    applied = apply_items(jira, [newer, older])

    epic = Epic.objects.get(tracker_connection_id=jira.pk)
    assert (applied.created, epic.status) == (1, "done")


def _snapshot(category: str, *, updated: int, stamp: int, exact: bool) -> TrackerItem:
    """The item as a tracker that stamps a state's first move only might show it (day numbers of 2026-01)."""
    return TrackerItem(
        external_id="20000",
        key="STAMP-1",
        title="Stamped once",
        url="https://acme.atlassian.net/browse/STAMP-1",
        signals={"category": category, "status": category, "resolution": ""},
        status_text=category,
        updated_at=datetime(2026, 1, updated, tzinfo=UTC),
        status_changed_at=datetime(2026, 1, stamp, tzinfo=UTC),
        status_time_exact=exact,
    )


def _moves(connection: Connection) -> list[tuple[str, str, int]]:
    changes = StatusChange.objects.filter(epic__tracker_connection_id=connection.pk).order_by("pk")
    return [(c.from_status, c.to_status, c.at.day) for c in changes]


def test_a_reopening_stamped_with_the_first_start_is_recorded_at_the_items_update(jira):
    apply_items(jira, [_snapshot("indeterminate", updated=2, stamp=2, exact=False)])
    apply_items(jira, [_snapshot("done", updated=5, stamp=5, exact=True)])
    apply_items(jira, [_snapshot("indeterminate", updated=9, stamp=2, exact=False)])  # reopened: startedAt stays

    epic = Epic.objects.get(tracker_connection_id=jira.pk)
    assert epic.status == "in_progress"
    assert _moves(jira)[-2:] == [("in_progress", "done", 5), ("done", "in_progress", 9)]


def test_an_inexact_stamp_read_again_records_nothing(jira):
    apply_items(jira, [_snapshot("indeterminate", updated=2, stamp=2, exact=False)])
    apply_items(jira, [_snapshot("done", updated=5, stamp=5, exact=True)])
    before = _moves(jira)

    apply_items(jira, [_snapshot("done", updated=7, stamp=5, exact=False)])  # an edit: still done

    assert _moves(jira) == before


def test_an_exact_stamp_older_than_the_history_changes_nothing(jira):
    apply_items(jira, [_snapshot("done", updated=5, stamp=5, exact=True)])
    before = _moves(jira)

    apply_items(jira, [_snapshot("indeterminate", updated=6, stamp=3, exact=True)])  # an event from before

    assert _moves(jira) == before
    assert Epic.objects.get(tracker_connection_id=jira.pk).status == "done"


def test_a_malformed_url_from_the_tracker_is_not_stored(jira):
    item = _items(1, category="new")[0]
    hostile = TrackerItem(**{**item.__dict__, "url": "javascript:alert(1)", "title": "x" * 1000})

    apply_items(jira, [hostile])

    epic = Epic.objects.get(tracker_connection_id=jira.pk)
    assert epic.tracker_url == "" and len(epic.title) == 300


def _silent_run(connection: Connection, *, seconds_ago: int) -> SyncRun:
    then = timezone.now() - timedelta(seconds=seconds_ago)
    run = SyncRun.objects.create(
        connection=connection, status="running", full=True, started_at=then, heartbeat_at=then, attempts=1
    )
    SyncRun.objects.filter(pk=run.pk).update(queued_at=then - timedelta(minutes=connection.sync_interval_minutes))
    return run


def test_a_run_whose_worker_died_is_taken_over_and_converges(httpserver, jira, settings):
    settings.SYNC_RUN_LEASE_SECONDS = 60
    serve_pages(httpserver, PAGE_1, PAGE_2)
    apply_items(jira, _items(0, category="new"))
    stuck = _silent_run(jira, seconds_ago=120)

    run = sync_run(stuck.pk)  # a redelivered task for the run

    assert (run.status, run.attempts, run.created) == ("succeeded", 2, 3)
    assert len(epics_of(jira)) == 3


def test_a_live_run_is_not_taken_over(httpserver, jira, settings):
    settings.SYNC_RUN_LEASE_SECONDS = 60
    alive = _silent_run(jira, seconds_ago=10)

    run = sync_run(alive.pk)

    assert (run.status, run.attempts) == ("running", 1)
    assert httpserver.log == []


def test_the_dispatcher_fails_silent_runs_so_the_connection_syncs_again(
    jira, settings, django_capture_on_commit_callbacks
):
    settings.SYNC_RUN_LEASE_SECONDS = 60
    SyncRun.objects.filter(connection__company=jira.company).delete()
    stuck = _silent_run(jira, seconds_ago=120)

    with django_capture_on_commit_callbacks(execute=False):
        dispatch_due_syncs()

    stuck.refresh_from_db()
    assert stuck.status == "failed" and "worker stopped" in stuck.error
    assert SyncRun.objects.filter(connection=jira, status="queued").count() == 1
    assert abandon_silent_runs() == 0


def test_the_dispatcher_asks_for_a_full_run_once_a_day(jira, settings, django_capture_on_commit_callbacks):
    settings.TRACKER_FULL_SYNC_HOURS = 24
    SyncRun.objects.filter(connection=jira).delete()
    long_ago = timezone.now() - timedelta(hours=2)
    SyncRun.objects.create(connection=jira, status="succeeded", full=True, started_at=long_ago, queued_at=long_ago)
    SyncRun.objects.filter(connection=jira).update(queued_at=long_ago)

    with django_capture_on_commit_callbacks(execute=False):
        dispatch_due_syncs()
    assert SyncRun.objects.get(connection=jira, status="queued").full is False  # the last full run is recent

    SyncRun.objects.filter(connection=jira, status="queued").delete()
    SyncRun.objects.filter(connection=jira).update(
        started_at=timezone.now() - timedelta(hours=25), queued_at=timezone.now() - timedelta(hours=25)
    )
    with django_capture_on_commit_callbacks(execute=False):
        dispatch_due_syncs()
    assert SyncRun.objects.get(connection=jira, status="queued").full is True


def test_github_pages_are_asked_for_conditionally_and_304_reuses_them(httpserver, github):
    etag = 'W/"644b5b0155e6404a9cc4bd9d8b1ae730"'

    def handler(request):
        from werkzeug import Response

        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return Response(json.dumps(ISSUES), content_type="application/json", headers={"ETag": etag})

    httpserver.expect_request(PATH).respond_with_handler(handler)
    client = GitHubClient(base_url=github.base_url, token="ghp_fake_token_0123456789")
    first = sync_run(SyncRun.objects.create(connection=github, full=True).pk, client=client)
    changes = StatusChange.objects.count()

    second = sync_run(SyncRun.objects.create(connection=github, full=True).pk, client=client)

    assert (first.created, second.status, second.fetched, second.unchanged) == (3, "succeeded", 3, 3)
    assert second.marked_missing == 0  # a 304 page still lists its items
    assert httpserver.log[-1][0].headers["If-None-Match"] == etag
    assert httpserver.log[-1][1].status_code == 304
    assert StatusChange.objects.count() == changes


def test_the_sync_trackers_command_syncs_and_reports(httpserver, jira):
    serve_pages(httpserver, PAGE_1, PAGE_2)
    out, err = StringIO(), StringIO()

    call_command("sync_trackers", "--connection", str(jira.pk), "--full", stdout=out, stderr=err)

    lines = out.getvalue()
    assert "alpha/Fake Jira" in lines and "succeeded: 3 fetched, 3 created" in lines
    assert "page 2" in lines
    assert len(epics_of(jira)) == 3


def test_the_sync_trackers_command_reports_failures_and_unknown_ids(httpserver, jira):
    httpserver.expect_request(SEARCH).respond_with_json({"errorMessages": ["Unauthorized"]}, status=401)

    with pytest.raises(CommandError, match="did not sync completely"):
        call_command("sync_trackers", "--connection", str(jira.pk), stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="No connection with id 987654"):
        call_command("sync_trackers", "--connection", "987654", stdout=StringIO(), stderr=StringIO())


def test_the_sync_trackers_command_skips_a_connection_already_syncing(jira):
    SyncRun.objects.create(connection=jira, status="queued")
    out = StringIO()

    call_command("sync_trackers", "--connection", str(jira.pk), stdout=out, stderr=StringIO())

    assert "already queued or running" in out.getvalue()


def test_credentials_no_key_can_read_fail_the_run_and_flag_the_connection(jira):
    from cryptography.fernet import Fernet

    unreadable = Fernet(Fernet.generate_key()).encrypt(b'{"email": "x", "api_token": "y"}').decode()
    Connection.objects.filter(pk=jira.pk).update(credentials_encrypted=unreadable)
    jira.refresh_from_db()

    run = run_sync(jira, full=True)

    jira.refresh_from_db()
    assert (run.status, jira.needs_attention) == ("failed", True)
    assert "enter them again" in run.error


def test_prefetching_keeps_the_order_and_raises_a_reading_error_at_its_page():
    from integrations.sync import prefetched
    from integrations.trackers.base import TransientTrackerError

    def pages():
        yield [1]
        yield [2]
        raise TransientTrackerError("page 3 failed")

    reader = prefetched(pages())
    assert [next(reader), next(reader)] == [[1], [2]]
    with pytest.raises(TransientTrackerError, match="page 3"):
        next(reader)


def test_prefetching_stops_reading_when_the_caller_stops():
    import threading

    from integrations.sync import prefetched

    read: list[int] = []

    def endless():
        n = 0
        while True:
            read.append(n)
            yield [n]
            n += 1

    for page in prefetched(endless()):
        if page == [3]:
            break
    assert not any(t.name == "tracker-prefetch" and t.is_alive() for t in threading.enumerate())
    assert len(read) <= 6  # at most a page or two ahead of the caller
