"""The health endpoint and the housekeeping tasks behind it."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from outcomes.tasks import HEARTBEAT_TTL_SECONDS, clear_expired_sessions, record_worker_heartbeat

HEALTH = "/api/v1/health/"


def test_health_answers_anonymous_callers(db):
    response = APIClient().get(HEALTH)

    assert response.status_code == 200
    assert response.json() == {"database": True, "cache": True, "worker_heartbeat": None, "broker": "memory"}


def test_health_shows_the_last_worker_heartbeat(db):
    before = timezone.now()

    reported = record_worker_heartbeat()

    after = timezone.now()
    assert before <= datetime.fromisoformat(reported) <= after
    response = APIClient().get(HEALTH)
    assert response.status_code == 200
    assert response.json()["worker_heartbeat"] == reported


def test_heartbeat_expires_so_a_dead_worker_shows_as_null(db, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    reported = record_worker_heartbeat()

    time_machine.shift(timedelta(seconds=HEARTBEAT_TTL_SECONDS - 1))
    still_alive = APIClient().get(HEALTH).json()["worker_heartbeat"]
    time_machine.shift(timedelta(seconds=2))
    gone = APIClient().get(HEALTH).json()["worker_heartbeat"]

    assert still_alive == reported
    assert gone is None


def test_health_is_503_when_the_database_does_not_answer(db, monkeypatch):
    monkeypatch.setattr("config.api.views._database_ok", lambda: False)

    response = APIClient().get(HEALTH)

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == 503
    assert body["code"] == "unavailable"
    assert body["detail"] == "The database does not answer."
    assert body["database"] is False
    assert body["cache"] is True


def test_health_stays_200_when_only_the_cache_fails(db, monkeypatch):
    monkeypatch.setattr("config.api.views._cache_ok", lambda: False)

    response = APIClient().get(HEALTH)

    assert response.status_code == 200
    assert response.json()["cache"] is False
    assert response.json()["database"] is True


def test_health_refuses_unknown_query_parameters(db):
    response = APIClient().get(HEALTH, {"verbose": "1"})

    assert response.status_code == 400
    assert response.json() == {
        "status": 400,
        "code": "invalid",
        "detail": "Invalid input.",
        "fields": {"verbose": ["Unknown query parameter."]},
    }


def test_health_is_exempt_from_the_https_redirect(db, settings):
    settings.SECURE_SSL_REDIRECT = True

    health = Client().get(HEALTH)
    other = Client().get("/api/v1/")

    assert health.status_code == 200
    assert other.status_code == 301
    assert other["Location"].startswith("https://")


def _session(expires_in: timedelta) -> str:
    store = SessionStore()
    store["marker"] = "x"
    store.create()
    Session.objects.filter(session_key=store.session_key).update(expire_date=timezone.now() + expires_in)
    assert store.session_key is not None
    return store.session_key


def test_clear_expired_sessions_deletes_only_expired_ones(db):
    expired = [_session(timedelta(minutes=-1)), _session(timedelta(days=-3))]
    live = [_session(timedelta(minutes=5)), _session(timedelta(days=3))]

    deleted = clear_expired_sessions()

    assert deleted == 2
    assert set(Session.objects.values_list("session_key", flat=True)) == set(live)
    assert not Session.objects.filter(session_key__in=expired).exists()
    assert clear_expired_sessions() == 0  # safe to run twice
