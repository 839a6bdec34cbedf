"""Redis away, in process: the cache steps aside, and work asked for meanwhile is not lost.

``tests/test_faults_redis.py`` stops a real Redis under a real gunicorn and worker; these tests pin
what that rests on. The cache points at a loopback port where nothing listens. The broker is the
task's ``delay``: a stand-in that refuses with kombu's error while "away" (what Celery raises when
it cannot publish), and one test publishes through a real Celery app to the dead port.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import kombu.exceptions
import pytest
from celery import Celery
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from config.cache import ResilientRedisCache
from integrations import tasks
from integrations.deliveries import resend_stranded_deliveries
from integrations.models import Connection, SyncRun, WebhookDelivery
from integrations.queueing import send
from integrations.sync import dispatch_due_syncs
from tests.conftest import Cast
from tests.test_faults_services import free_port
from tests.test_jira_sync import jira  # noqa: F401 - fixture
from tests.test_web_pages import PASSWORD
from tests.test_webhooks import GITHUB_BODY, github, github_headers, make_connection, post  # noqa: F401

Capture = Callable[..., AbstractContextManager[Any]]


@pytest.fixture
def dead_redis() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


@pytest.fixture
def dead_cache(settings: Any, dead_redis: str) -> None:
    settings.CACHES = {"default": {"BACKEND": "config.cache.ResilientRedisCache", "LOCATION": dead_redis}}


@dataclass
class Broker:
    """A task's ``delay`` that refuses while ``away``, as Celery does when it cannot reach the broker."""

    name: str
    away: bool = False
    taken: list[int] = field(default_factory=list)

    def delay(self, row_id: int) -> None:
        if self.away:
            raise kombu.exceptions.OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        self.taken.append(row_id)


@pytest.fixture
def sync_broker(monkeypatch: pytest.MonkeyPatch) -> Broker:
    broker = Broker(tasks.sync_connection_task.name)
    monkeypatch.setattr(tasks, "sync_connection_task", broker)
    return broker


@pytest.fixture
def delivery_broker(monkeypatch: pytest.MonkeyPatch) -> Broker:
    broker = Broker(tasks.process_delivery_task.name)
    monkeypatch.setattr(tasks, "process_delivery_task", broker)
    return broker


# --- the cache --------------------------------------------------------------------------------------------
def test_an_unreachable_cache_finds_nothing_and_keeps_nothing(dead_redis: str):
    cache = ResilientRedisCache(dead_redis, {})

    assert cache.get("k", "fallback") == "fallback"
    assert cache.reachable is False
    cache.set("k", 1)
    cache.set_many({"a": 1})
    cache.delete_many(["a"])
    cache.clear()
    assert (cache.add("k", 1), cache.has_key("k"), cache.touch("k"), cache.delete("k")) == (False,) * 4
    assert cache.get_many(["k"]) == {}
    with pytest.raises(ValueError, match="not found"):
        cache.incr("k")


def test_after_a_failure_the_cache_leaves_redis_alone_for_a_while_then_tries_again(dead_redis: str, monkeypatch):
    cache = ResilientRedisCache(dead_redis, {"OPTIONS": {"retry_after": 60}})
    attempts: list[bool] = []
    client: Any = cache._cache  # type: ignore[attr-defined]
    real_client = client.get_client

    def counted(*args: Any, **kwargs: Any) -> Any:
        attempts.append(True)
        return real_client(*args, **kwargs)

    monkeypatch.setattr(client, "get_client", counted)

    for _ in range(5):
        assert cache.get("k") is None
    assert len(attempts) == 1  # one connection attempt, then four answers without one

    cache.retry_after, cache._unreachable_until = 0, 0.0  # the pause is over
    cache.get("k")
    assert len(attempts) == 2


@pytest.mark.redis
def test_a_reachable_cache_is_an_ordinary_redis_cache(settings: Any):
    import os
    import uuid

    cache = ResilientRedisCache(os.environ["REDIS_URL"], {"KEY_PREFIX": f"test-outage-{uuid.uuid4().hex}"})
    try:
        cache.set("k", 41)
        assert cache.incr("k") == 42
        assert (cache.get("k"), cache.has_key("k"), cache.reachable) == (42, True, True)
        client: Any = cache._cache  # type: ignore[attr-defined]
        assert client.get_client("k", write=True) is client.get_client("j")  # one client per pool, kept
    finally:
        cache.delete("k")


def test_without_the_cache_the_api_serves_unthrottled_and_health_says_so(dead_cache, cast: Cast, client_for):
    client = client_for(cast.owner_a)

    listed = client.get("/api/v1/companies/alpha/epics/")
    created = client.post("/api/v1/companies/alpha/epics/", {"title": "Cache away", "owner": cast.owner_a.pk})
    health = APIClient().get("/api/v1/health/")

    assert (listed.status_code, created.status_code, health.status_code) == (200, 201, 200)
    assert health.json()["cache"] is False and health.json()["worker_heartbeat"] is None


def test_without_the_cache_signing_in_still_works(dead_cache, cast: Cast):
    login = reverse("web:login")
    wrong = Client().post(login, {"username": cast.member_a.email, "password": "not-the-password"})
    right = Client().post(login, {"username": cast.member_a.email, "password": PASSWORD})

    assert wrong.status_code == 200 and "Please enter a correct" in wrong.content.decode()
    assert right.status_code == 302


# --- sync runs ---------------------------------------------------------------------------------------------
def test_a_sync_asked_for_while_the_broker_is_away_is_stored_and_sent_when_asked_again(
    jira: Connection,  # noqa: F811
    sync_broker: Broker,
    cast: Cast,
    client_for,
    django_capture_on_commit_callbacks: Capture,
):
    client = client_for(cast.owner_a)
    url = f"/api/v1/companies/alpha/connections/{jira.pk}/sync/"
    sync_broker.away = True
    with django_capture_on_commit_callbacks(execute=True):
        during = client.post(url, {"full": True}, format="json")

    assert during.status_code == 202, during.content
    run = SyncRun.objects.get(pk=during.json()["id"])
    assert (run.status, run.sent_at, sync_broker.taken) == ("queued", None, [])

    sync_broker.away = False
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(url, {"full": True}, format="json")

    assert (again.status_code, again.json()["id"]) == (202, run.pk)
    assert sync_broker.taken == [run.pk]
    run.refresh_from_db()
    assert run.sent_at is not None


def test_the_dispatcher_sends_again_the_runs_never_sent_or_sent_long_ago(
    jira: Connection,  # noqa: F811
    sync_broker: Broker,
):
    now = timezone.now()
    never = SyncRun.objects.create(connection=jira, sent_at=None)
    other = Connection.objects.create(**{**_fields(jira), "name": "Fake Jira 2"})
    long_ago = SyncRun.objects.create(connection=other, sent_at=now - timedelta(minutes=11))
    third = Connection.objects.create(**{**_fields(jira), "name": "Fake Jira 3"})
    recent = SyncRun.objects.create(connection=third, sent_at=now - timedelta(minutes=2))

    sync_broker.away = True
    dispatch_due_syncs()
    assert sync_broker.taken == []
    sync_broker.away = False
    dispatch_due_syncs()
    dispatch_due_syncs()  # a second tick sends nothing more

    assert sorted(sync_broker.taken) == sorted([never.pk, long_ago.pk])
    assert recent.pk not in sync_broker.taken
    assert SyncRun.objects.filter(pk__in=[never.pk, long_ago.pk], sent_at__gte=now).count() == 2


def _fields(connection: Connection) -> dict[str, Any]:
    names = ["company", "kind", "base_url", "credentials_encrypted", "scope", "status_map", "default_owner"]
    return {name: getattr(connection, name) for name in names}


def test_a_real_celery_app_with_its_broker_away_is_refused_without_raising(
    dead_redis: str, monkeypatch: pytest.MonkeyPatch
):
    sender = Celery(broker=dead_redis)
    task = tasks.sync_connection_task
    monkeypatch.setattr(task, "delay", lambda row_id: sender.send_task(task.name, [row_id]))

    assert send(task, 1) is False


# --- webhook deliveries ---------------------------------------------------------------------------------
def test_a_delivery_received_while_the_broker_is_away_is_stored_then_sent_on_the_trackers_retry(
    github: Connection,  # noqa: F811
    delivery_broker: Broker,
    django_capture_on_commit_callbacks: Capture,
):
    headers = github_headers(GITHUB_BODY, delivery="during-the-outage")
    delivery_broker.away = True
    with django_capture_on_commit_callbacks(execute=True):
        during = post(APIClient(), github, GITHUB_BODY, headers)

    assert during.status_code == 202, during.content
    stored = WebhookDelivery.objects.get(connection=github, delivery_id="during-the-outage")
    assert (stored.status, stored.sent_at) == ("received", None)

    delivery_broker.away = False
    with django_capture_on_commit_callbacks(execute=True):
        retried = post(APIClient(), github, GITHUB_BODY, headers)
        again = post(APIClient(), github, GITHUB_BODY, headers)

    assert (retried.status_code, again.status_code) == (200, 200)
    assert delivery_broker.taken == [stored.pk]  # sent once: the second retry finds it sent


def test_the_sweep_sends_again_deliveries_never_sent_or_waiting_too_long(
    github: Connection,  # noqa: F811
    delivery_broker: Broker,
):
    now = timezone.now()

    def stored(name: str, status: str = "received", sent_at: Any = now) -> WebhookDelivery:
        return WebhookDelivery.objects.create(connection=github, delivery_id=name, status=status, sent_at=sent_at)

    never = stored("never", sent_at=None)
    lost = stored("lost", sent_at=now - timedelta(minutes=21))
    retrying = stored("retrying", sent_at=now - timedelta(minutes=8))  # a busy tracker's retry is on its way
    stored("done", status="processed", sent_at=None)

    delivery_broker.away = True
    assert resend_stranded_deliveries(now) == 0
    delivery_broker.away = False
    assert resend_stranded_deliveries(now) == 2
    assert resend_stranded_deliveries(now) == 0

    assert sorted(delivery_broker.taken) == sorted([never.pk, lost.pk])
    assert retrying.pk not in delivery_broker.taken
