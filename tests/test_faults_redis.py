"""Redis stopped while the API serves: reads and writes keep working, and work asked for runs once it is back.

Redis is the cache (throttle buckets, the worker heartbeat, GitHub's page cache) and the Celery broker.
Each test starts a Redis of its own on a free port (append-only file on, as production should run it),
the service under gunicorn with production settings pointed at it, and where work must run a real
Celery worker on the same Redis. Then it stops that Redis with SIGTERM, as an operator or a crash
would, uses the API, and starts Redis again on the same port.
"""

# ruff: noqa: F811 - fixtures imported from the modules that define them
from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery
from django.core.cache.backends.redis import RedisCache
from django.utils import timezone
from rest_framework.test import APIClient

from config.api.views import WORKER_HEARTBEAT_CACHE_KEY
from epics.models import Epic
from integrations.models import Connection, SyncRun, WebhookDelivery
from integrations.sync import dispatch_due_syncs
from integrations.tasks import sync_connection_task
from tests.conftest import Cast
from tests.test_celery import _wait_for, _worker_env, start_worker  # noqa: F401
from tests.test_faults_reconciliation import WEBHOOK_SECRET, FakeGitHub, connect
from tests.test_faults_services import AppServer, PrivateRedis, app_env, private_redis, start_app  # noqa: F401
from tests.test_sync_worker import _database_url

pytestmark = [
    pytest.mark.faults,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]


def github_hook(app: AppServer, connection: Connection, number: int, delivery: str) -> Any:
    """GitHub telling the service that issue #number changed (the body is only a hint)."""
    issue = {"id": 900000 + number, "number": number}
    body = json.dumps({"action": "edited", "issue": issue, "repository": {"full_name": "acme/shop"}}).encode()
    signature = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "issues",
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": f"sha256={signature}",
    }
    return app.post(f"/api/v1/hooks/{connection.pk}/", data=body, headers=headers)


@pytest.fixture
def tracker(httpserver: Any, cast: Cast) -> tuple[FakeGitHub, Connection]:
    """A fake GitHub with three epics, and company A's connection to it (the cast's own ones switched off)."""
    Connection.objects.update(enabled=False)
    fake = FakeGitHub(httpserver)
    for number in (1, 2, 3):
        fake.add(number, "planned", datetime(2027, 3, 1, 9, number, tzinfo=UTC))
    return fake, connect(fake, cast)


@pytest.fixture
def app(private_redis: PrivateRedis, start_app: Any, cast: Cast, tmp_path: Path) -> AppServer:
    """The service on the private Redis, signed in as company A's owner."""
    (tmp_path / "app").mkdir()
    server: AppServer = start_app(app_env(tmp_path / "app", database_url=_database_url(), redis_url=private_redis.url))
    server.sign_in(cast.owner_a)
    return server


@pytest.fixture
def worker(private_redis: PrivateRedis, start_worker: Any, tmp_path: Path, settings: Any) -> Any:
    """A Celery worker on the private Redis and this test's database, up and reporting in."""
    (tmp_path / "worker").mkdir()
    env = _worker_env(
        tmp_path / "worker",
        REDIS_URL=private_redis.url,
        DATABASE_URL=_database_url(),
        FIELD_ENCRYPTION_KEYS=",".join(settings.FIELD_ENCRYPTION_KEYS),
        TRACKER_ALLOW_PRIVATE_URLS="true",
    )
    process = start_worker(env)
    _wait_for(lambda: RedisCache(private_redis.url, {}).get(WORKER_HEARTBEAT_CACHE_KEY), process, timeout=90)
    return process


def processed(connection: Connection, delivery_id: str) -> bool:
    return WebhookDelivery.objects.filter(connection=connection, delivery_id=delivery_id, status="processed").exists()


def stop(server: PrivateRedis) -> None:
    server.stop()
    assert server.down()


EPICS = "/api/v1/companies/alpha/epics/"


def test_with_redis_stopped_reads_and_writes_keep_working(private_redis, app, cast):
    assert app.get(EPICS).status_code == 200

    stop(private_redis)

    listed = app.get(EPICS)
    created = app.post(EPICS, json={"title": "Written while Redis is down", "owner": cast.owner_a.pk})
    health = app.get("/api/v1/health/")
    assert (listed.status_code, created.status_code, health.status_code) == (200, 201, 200), app.output()
    assert health.json()["database"] is True and health.json()["cache"] is False
    assert Epic.objects.filter(title="Written while Redis is down").count() == 1

    private_redis.start()
    assert app.get(EPICS).status_code == 200


def test_work_asked_for_after_redis_returns_runs_on_the_worker_that_lived_through_it(
    private_redis, app, worker, tracker
):
    fake, connection = tracker
    first = app.post(f"/api/v1/companies/alpha/connections/{connection.pk}/sync/", json={"full": True})
    assert first.status_code == 202, first.text
    _wait_for(lambda: SyncRun.objects.filter(pk=first.json()["id"], status="succeeded").exists(), worker, timeout=90)
    assert Epic.objects.filter(tracker_connection_id=connection.pk).count() == 3

    stop(private_redis)
    fake.change(1, "done", datetime(2027, 3, 2, 9, 1, tzinfo=UTC))  # the tracker goes on meanwhile
    fake.change(2, "in_progress", datetime(2027, 3, 2, 9, 2, tzinfo=UTC))
    time.sleep(3)  # long enough for the worker to lose its broker connection
    private_redis.start()

    run = app.post(f"/api/v1/companies/alpha/connections/{connection.pk}/sync/", json={"full": True})
    hook = github_hook(app, connection, 2, "after-the-outage")
    assert (run.status_code, hook.status_code) == (202, 202), app.output()

    done = _wait_for(
        lambda: SyncRun.objects.filter(pk=run.json()["id"], status__in=["succeeded", "failed", "partial"]).first(),
        worker,
        timeout=120,
    )
    delivery = _wait_for(
        lambda: (
            WebhookDelivery.objects.filter(connection=connection, delivery_id="after-the-outage")
            .exclude(status="received")
            .first()
        ),
        worker,
        timeout=60,
    )
    assert worker.poll() is None  # the same worker, never restarted
    assert (done.status, done.error) == ("succeeded", "")
    assert (delivery.status, delivery.error) == ("processed", "")
    statuses = dict(Epic.objects.filter(tracker_connection_id=connection.pk).values_list("external_key", "status"))
    assert statuses == {"#1": "done", "#2": "in_progress", "#3": "planned"}
    health = app.get("/api/v1/health/").json()
    assert health["cache"] is True and health["worker_heartbeat"]


def test_a_webhook_received_while_redis_is_down_is_processed_when_it_returns(private_redis, app, worker, tracker):
    fake, connection = tracker
    assert github_hook(app, connection, 1, "before").status_code == 202
    _wait_for(lambda: processed(connection, "before"), worker, timeout=90)

    stop(private_redis)
    fake.change(3, "done", datetime(2027, 3, 2, 9, 3, tzinfo=UTC))
    during = github_hook(app, connection, 3, "during")
    private_redis.start()
    retried = github_hook(app, connection, 3, "during")  # a tracker that retries sends the same delivery id

    assert during.status_code == 202, (during.status_code, app.output())
    assert retried.status_code in (200, 202)
    _wait_for(lambda: processed(connection, "during"), worker, timeout=90)
    assert Epic.objects.get(tracker_connection_id=connection.pk, external_key="#3").status == "done"


def test_a_sync_asked_for_while_the_broker_is_down_is_not_lost(private_redis, tracker, cast, monkeypatch):
    """In this process (test settings: a local cache, no throttle in the way); queueing goes to the private Redis."""
    _, connection = tracker
    sender = Celery(broker=private_redis.url)
    monkeypatch.setattr(
        sync_connection_task, "delay", lambda run_id: sender.send_task(sync_connection_task.name, [run_id])
    )
    client = APIClient(raise_request_exception=False)
    client.force_login(cast.owner_a)
    url = f"/api/v1/companies/alpha/connections/{connection.pk}/sync/"

    stop(private_redis)
    during = client.post(url, {"full": True}, format="json")
    private_redis.start()
    again = client.post(url, {"full": True}, format="json")
    later = timezone.now() - timedelta(minutes=20)
    SyncRun.objects.filter(connection=connection).update(queued_at=later)  # the beat ticks of the next 20 minutes
    dispatch_due_syncs()

    assert during.status_code == 202, during.content
    assert again.status_code == 202
    assert redis.Redis.from_url(private_redis.url).llen("celery") >= 1  # the run is on its way to a worker
