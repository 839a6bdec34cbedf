"""A real Celery worker on Redis is killed in the middle of a sync; the rerun converges.

The worker process shares this test's PostgreSQL database and fetches from a local fake Jira whose
second page hangs until the worker is dead. ``kill -9`` leaves the run ``running`` with page 1
applied. Once the run's heartbeat is older than the lease, the beat dispatcher fails it and queues
a new run, which a second worker performs: every epic arrives once, with no duplicated history.
(A redelivered task taking the silent run over is the other way back; test_sync_engine covers it.)
"""

# ruff: noqa: F811 - fixtures imported from their own test modules
from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from datetime import timedelta
from urllib.parse import quote

import pytest
import redis
from celery import Celery
from django.db import connection as db
from django.utils import timezone
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from epics.models import Epic, StatusChange
from integrations.models import SyncRun
from integrations.sync import dispatch_due_syncs
from integrations.tasks import sync_connection_task
from tests.test_celery import _wait_for, _worker_env, start_worker  # noqa: F401
from tests.test_jira_sync import PAGE_1, PAGE_2, SEARCH, jira  # noqa: F401

pytestmark = [
    pytest.mark.faults,  # kills a worker and waits out a lease with two worker start-ups: about 20 s
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
]


def _database_url() -> str:
    db_settings = db.settings_dict
    password = f":{quote(db_settings['PASSWORD'])}" if db_settings.get("PASSWORD") else ""
    host = db_settings.get("HOST") or "127.0.0.1"
    port = db_settings.get("PORT") or 5432
    return f"postgres://{quote(db_settings['USER'])}{password}@{host}:{port}/{db_settings['NAME']}"


def _forget_queue(redis_url: str, queue: str) -> None:
    """Drop the killed worker's unacknowledged message and the test's queue from Redis."""
    client = redis.Redis.from_url(redis_url)
    for tag, payload in client.hgetall("unacked").items():
        if queue.encode() in payload:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)
    client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")


def test_a_worker_killed_mid_sync_leaves_a_run_the_next_worker_finishes(
    httpserver: HTTPServer, jira, tmp_path, start_worker, monkeypatch, settings, request
):
    second_page_asked, release = threading.Event(), threading.Event()
    hang = [True]

    def search(request: Request) -> Response:
        if request.args.get("nextPageToken") != PAGE_1["nextPageToken"]:
            return Response(json.dumps(PAGE_1), content_type="application/json")
        if hang[0]:
            second_page_asked.set()
            release.wait(timeout=30)  # the worker dies while it waits for this page
            return Response("gone", status=503)
        return Response(json.dumps(PAGE_2), content_type="application/json")

    httpserver.expect_request(SEARCH).respond_with_handler(search)
    redis_url = os.environ["REDIS_URL"]
    queue = f"test-sync-{uuid.uuid4().hex[:8]}"
    env = _worker_env(
        tmp_path,
        REDIS_URL=redis_url,
        DATABASE_URL=_database_url(),
        FIELD_ENCRYPTION_KEYS=",".join(settings.FIELD_ENCRYPTION_KEYS),
        TRACKER_ALLOW_PRIVATE_URLS="true",
        SYNC_RUN_LEASE_SECONDS="2",
    )
    request.addfinalizer(lambda: _forget_queue(redis_url, queue))
    run = SyncRun.objects.create(connection=jira, full=True)
    Celery(broker=redis_url).send_task("integrations.tasks.sync_connection_task", args=[run.pk], queue=queue)

    first = start_worker(env, "--queues", queue)
    if not second_page_asked.wait(timeout=60):
        os.killpg(first.pid, signal.SIGKILL)
        output = first.stdout.read().decode() if first.stdout else ""
        pytest.fail(f"the worker never asked for the second page:\n{output[-3000:]}\n{httpserver.log}")
    # the next page is fetched while page 1 is written: kill once page 1 is committed
    _wait_for(lambda: SyncRun.objects.filter(pk=run.pk, fetched=2).exists(), first)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    release.set()

    run.refresh_from_db()
    assert (run.status, run.attempts) == ("running", 1)  # what a dead worker leaves behind
    assert set(Epic.objects.filter(tracker_connection_id=jira.pk).values_list("external_key", flat=True)) == {
        "PROJ-42",
        "PROJ-7",
    }  # page 1 was committed before the crash

    hang[0] = False
    settings.SYNC_RUN_LEASE_SECONDS = 2  # the dispatcher's lease, as the workers'
    time.sleep(2.5)  # the lease (2 s) runs out
    SyncRun.objects.filter(pk=run.pk).update(queued_at=timezone.now() - timedelta(minutes=20))  # and the interval
    sender = Celery(broker=redis_url)
    monkeypatch.setattr(  # the dispatcher's queueing goes to the real worker's queue on Redis
        sync_connection_task, "delay", lambda run_id: sender.send_task(sync_connection_task.name, [run_id], queue=queue)
    )
    assert dispatch_due_syncs() == 1
    second = start_worker(env, "--queues", queue)
    rerun = _wait_for(
        lambda: (
            SyncRun.objects.filter(connection=jira, status__in=["succeeded", "failed", "partial"])
            .exclude(pk=run.pk)
            .first()
        ),
        second,
        timeout=90,
    )

    run.refresh_from_db()
    assert (run.status, run.error) == ("failed", run.error) and "worker stopped" in run.error
    assert (rerun.status, rerun.full, rerun.fetched, rerun.created, rerun.unchanged) == ("succeeded", True, 3, 1, 2)
    epics = Epic.objects.filter(tracker_connection_id=jira.pk)
    assert sorted(epics.values_list("external_key", "status")) == [
        ("PROJ-42", "in_progress"),
        ("PROJ-55", "cancelled"),
        ("PROJ-7", "done"),
    ]
    for epic in epics:  # page 1 applied twice, recorded once
        moves = list(StatusChange.objects.filter(epic=epic).values_list("from_status", "to_status"))
        assert moves == [("", "proposed"), ("proposed", epic.status)]
