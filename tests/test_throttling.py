"""Throttles: one bucket per person, per API key, and per address for anonymous callers."""

from __future__ import annotations

import multiprocessing
import os
import time
import uuid
from typing import Any

import pytest
import redis
from rest_framework.test import APIClient

from config.api.throttling import AnonymousRateThrottle, PrincipalRateThrottle
from config.cache import ResilientRedisCache
from tests.factories import UserFactory

PRINCIPAL_LIMIT = 3
ANONYMOUS_LIMIT = 2


@pytest.fixture
def low_rates(monkeypatch):
    """Low rates for this test only. SimpleRateThrottle reads THROTTLE_RATES[scope] in __init__, per request."""
    monkeypatch.setitem(PrincipalRateThrottle.THROTTLE_RATES, "principal", f"{PRINCIPAL_LIMIT}/min")
    monkeypatch.setitem(AnonymousRateThrottle.THROTTLE_RATES, "anonymous", f"{ANONYMOUS_LIMIT}/min")


def assert_throttled(response) -> None:
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"status", "code", "detail"}
    assert body["status"] == 429
    assert body["code"] == "throttled"
    assert body["detail"].startswith("Request was throttled.")
    retry_after = response["Retry-After"]
    assert retry_after.isdigit()
    assert 0 < int(retry_after) <= 60


def anonymous_client(address: str) -> APIClient:
    return APIClient(REMOTE_ADDR=address)


def test_a_person_is_throttled_after_the_limit(cast, client_for, low_rates):
    client = client_for(cast.member_a)

    answers = [client.get("/api/v1/me/") for _ in range(PRINCIPAL_LIMIT)]
    over = client.get("/api/v1/me/")

    assert [response.status_code for response in answers] == [200] * PRINCIPAL_LIMIT
    assert answers[0].json()["user"]["email"] == cast.member_a.email
    assert_throttled(over)


def test_buckets_are_per_person(cast, client_for, low_rates):
    first = client_for(cast.member_a)
    for _ in range(PRINCIPAL_LIMIT):
        first.get("/api/v1/me/")
    assert_throttled(first.get("/api/v1/me/"))

    other = client_for(cast.viewer_a).get("/api/v1/me/")

    assert other.status_code == 200
    assert other.json()["user"]["email"] == cast.viewer_a.email


def test_a_persons_bucket_follows_them_across_sessions(cast, client_for, low_rates):
    for _ in range(PRINCIPAL_LIMIT):
        assert client_for(cast.member_a).get("/api/v1/me/").status_code == 200

    # A fresh sign-in (new session, new client) is still the same person.
    assert_throttled(client_for(cast.member_a).get("/api/v1/me/"))


def test_buckets_are_per_api_key(cast, key_client, client_for, low_rates):
    key_a = key_client(cast.raw_key_a)
    for _ in range(PRINCIPAL_LIMIT):
        assert key_a.get("/api/v1/companies/alpha/teams/").status_code == 200
    assert_throttled(key_a.get("/api/v1/companies/alpha/teams/"))

    key_b = key_client(cast.raw_key_b).get("/api/v1/companies/bravo/teams/")
    owner_a = client_for(cast.owner_a).get("/api/v1/companies/alpha/teams/")

    assert key_b.status_code == 200
    assert [team["name"] for team in key_b.json()["results"]] == ["Bravo Lab"]
    # The person who issued key A has a bucket of their own.
    assert owner_a.status_code == 200


def test_anonymous_callers_are_bucketed_per_address(db, low_rates):
    first = anonymous_client("203.0.113.10")
    for _ in range(ANONYMOUS_LIMIT):
        assert first.get("/api/v1/").status_code == 200
    assert_throttled(first.get("/api/v1/"))

    other = anonymous_client("203.0.113.20").get("/api/v1/")

    assert other.status_code == 200
    assert "health" in other.json()


def test_a_forged_forwarded_for_header_does_not_open_a_new_bucket(db, low_rates):
    client = anonymous_client("203.0.113.10")
    for _ in range(ANONYMOUS_LIMIT):
        client.get("/api/v1/")

    # NUM_PROXIES is 0: X-Forwarded-For comes from the caller and is not trusted.
    forged = client.get("/api/v1/", HTTP_X_FORWARDED_FOR="198.51.100.7")

    assert_throttled(forged)


def test_signed_in_people_do_not_use_the_anonymous_bucket_of_their_address(cast, client_for, low_rates):
    anonymous = anonymous_client("127.0.0.1")
    for _ in range(ANONYMOUS_LIMIT):
        anonymous.get("/api/v1/")
    assert_throttled(anonymous.get("/api/v1/"))

    person = client_for(cast.member_a)  # same 127.0.0.1 address
    answers = [person.get("/api/v1/").status_code for _ in range(PRINCIPAL_LIMIT)]

    assert answers == [200] * PRINCIPAL_LIMIT  # more than the anonymous limit


def test_health_is_not_throttled(db, low_rates):
    client = anonymous_client("203.0.113.10")

    answers = [client.get("/api/v1/health/") for _ in range(ANONYMOUS_LIMIT + 3)]

    assert [response.status_code for response in answers] == [200] * (ANONYMOUS_LIMIT + 3)
    assert answers[-1].json()["database"] is True
    # The health checks did not use up the address's bucket either.
    assert client.get("/api/v1/").status_code == 200


# --- the production cache ---------------------------------------------------------------------
@pytest.fixture
def redis_prefix():
    """A key prefix of this test only on the real Redis; teardown deletes only the keys under it."""
    prefix = f"test-throttle-{uuid.uuid4().hex}"
    yield prefix
    raw = redis.Redis.from_url(os.environ["REDIS_URL"])
    keys = list(raw.scan_iter(match=f"{prefix}:*"))
    if keys:
        raw.delete(*keys)
    raw.close()


def production_cache(prefix: str) -> ResilientRedisCache:
    """The production cache as one web process has it: its own client and connection pool."""
    return ResilientRedisCache(os.environ["REDIS_URL"], {"KEY_PREFIX": prefix})


@pytest.fixture
def redis_cache(settings, _clear_cache, redis_prefix):
    """The default cache on the real Redis under the test's prefix, and another process's view of it.

    Depending on ``_clear_cache`` makes its ``cache.clear()`` run before this fixture and after it is undone,
    so it only ever clears the local-memory cache, never the shared Redis database.
    """
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.ResilientRedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": redis_prefix,
        }
    }
    return production_cache(redis_prefix)


@pytest.mark.redis
def test_buckets_live_in_redis_and_are_shared_between_processes(cast, client_for, low_rates, redis_cache):
    person = UserFactory(email="shared.bucket@example.test")
    client = client_for(person)

    for _ in range(PRINCIPAL_LIMIT):
        assert client.get("/api/v1/me/").status_code == 200

    # The other process sees the bucket this process filled...
    seen = redis_cache.bucket_hit(f"throttle:principal:user:{person.pk}", 60, PRINCIPAL_LIMIT)
    assert seen is not None
    assert (seen.allowed, seen.count) == (False, PRINCIPAL_LIMIT)
    assert_throttled(client.get("/api/v1/me/"))

    # ...and a bucket the other process fills throttles this one.
    for _ in range(PRINCIPAL_LIMIT):
        filled = redis_cache.bucket_hit(f"throttle:principal:user:{cast.viewer_a.pk}", 60, PRINCIPAL_LIMIT)
        assert filled is not None
        assert filled.allowed
    assert_throttled(client_for(cast.viewer_a).get("/api/v1/me/"))
    assert client_for(cast.owner_a).get("/api/v1/me/").status_code == 200


@pytest.mark.redis
def test_a_bucket_forgets_requests_older_than_its_window(redis_cache):
    key = "throttle:principal:key:1"
    answers = [redis_cache.bucket_hit(key, 0.3, 2) for _ in range(3)]
    assert [answer is not None and answer.allowed for answer in answers] == [True, True, False]

    time.sleep(0.35)

    again = redis_cache.bucket_hit(key, 0.3, 2)
    assert again is not None
    assert (again.allowed, again.count) == (True, 1)


@pytest.mark.redis
def test_retry_after_counts_down_to_when_the_oldest_request_leaves_the_window(cast, client_for, low_rates, redis_cache):
    client = client_for(cast.member_a)
    for _ in range(PRINCIPAL_LIMIT):
        assert client.get("/api/v1/me/").status_code == 200

    throttled = client.get("/api/v1/me/")

    assert_throttled(throttled)
    # The first request of the window leaves it in just under a minute, and one place frees then.
    assert 55 <= int(throttled["Retry-After"]) <= 60


def _take_places(prefix: str, key: str, limit: int, tries: int, start: Any, results: Any) -> None:
    """One web process: its own cache client, asking for ``tries`` places in a bucket of ``limit``."""
    cache = production_cache(prefix)
    start.wait()
    answers = [cache.bucket_hit(key, 60, limit) for _ in range(tries)]
    results.put(sum(answer is not None and answer.allowed for answer in answers))


@pytest.mark.redis
def test_concurrent_processes_never_let_more_through_than_the_rate(redis_prefix):
    """Eight processes race for 40 places in one bucket: exactly 40 get through. A read-then-write bucket
    (DRF's cache history) lets the racing processes overwrite each other's requests and admit more."""
    processes, tries, limit = 8, 25, 40
    context = multiprocessing.get_context("fork")  # the children inherit the configured Django
    start, results = context.Barrier(processes), context.Queue()
    workers = [
        context.Process(
            target=_take_places, args=(redis_prefix, "throttle:principal:key:7", limit, tries, start, results)
        )
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    admitted = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=10)

    assert sum(admitted) == limit
    assert all(worker.exitcode == 0 for worker in workers)


@pytest.mark.redis
def test_without_redis_the_bucket_lets_requests_through():
    unreachable = ResilientRedisCache("redis://127.0.0.1:1/0", {"OPTIONS": {"socket_connect_timeout": 0.2}})

    assert unreachable.bucket_hit("throttle:principal:key:1", 60, 1) is None
    assert unreachable.reachable is False
