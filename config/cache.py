"""The Redis cache, made to step aside while Redis is away.

What the service keeps in the cache can be lost without harm: throttle buckets, the sign-in
failure counts, the worker heartbeat, GitHub's conditional-request tags. So a request must never
fail because Redis does not answer. While it is down every read finds nothing and every write
stores nothing (throttles let requests through, the health check reports ``cache: false``), and
after a failure this process leaves Redis alone for ``retry_after`` seconds instead of paying a
connection attempt on every cache call. The first call after that tries again; when Redis is back,
the cache simply works again.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import redis
import structlog
from django.core.cache.backends.redis import RedisCache, RedisCacheClient

logger = structlog.get_logger(__name__)

T = TypeVar("T")
DEFAULT_RETRY_AFTER = 5.0


@dataclass(frozen=True)
class BucketHit:
    """What a rate bucket said to one request: let through or not, how many it holds in the window
    (this request included when let through), the oldest of them and the moment of asking, in seconds
    since the epoch on the bucket's clock."""

    allowed: bool
    count: int
    oldest: float | None
    now: float


# A sliding-window log in a sorted set, checked and added to in one step so that concurrent requests
# from many processes cannot both take the last place. Redis's clock, so every process agrees on the
# window. Scores are seconds; members are unique per request.
_BUCKET_HIT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local duration = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - duration)
local count = redis.call('ZCARD', KEYS[1])
if count < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(duration * 1000))
  return {1, count + 1, false, string.format('%.6f', now)}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]
return {0, count, oldest, string.format('%.6f', now)}
"""


class _ReusedClients(RedisCacheClient):
    """Django's Redis cache client, keeping one ``redis.Redis`` per connection pool instead of making one
    for every call: making one costs about 0.2 ms (twice a round trip to Redis on loopback), and the
    throttle asks on every request. A client is a thin, thread-safe front to its pool."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, redis.Redis] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> redis.Redis:
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)  # type: ignore[attr-defined]
        return client


class ResilientRedisCache(RedisCache):
    """``RedisCache`` whose calls answer "nothing there" instead of raising while Redis is unreachable.

    ``OPTIONS`` takes ``retry_after`` (seconds to leave Redis alone after a failure, default 5) besides
    the connection pool's own options (``socket_connect_timeout``, ``socket_timeout``...).
    """

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        options = dict(params.get("OPTIONS") or {})
        self.retry_after = float(options.pop("retry_after", DEFAULT_RETRY_AFTER))
        super().__init__(server, {**params, "OPTIONS": options})
        self._class = _ReusedClients
        self._unreachable_until = 0.0
        self._bucket_script: Any = None

    def _guarded(self, call: Callable[[], T], fallback: T) -> T:
        if time.monotonic() < self._unreachable_until:
            return fallback
        try:
            return call()
        except redis.RedisError as error:
            self._unreachable_until = time.monotonic() + self.retry_after
            logger.warning("cache_unreachable", error=str(error), retry_after=self.retry_after)
            return fallback

    @property
    def reachable(self) -> bool:
        """False while this process is leaving an unreachable Redis alone."""
        return time.monotonic() >= self._unreachable_until

    def bucket_hit(self, key: str, duration: float, limit: int) -> BucketHit | None:
        """Count a request into the rate bucket ``key`` (at most ``limit`` in any ``duration`` seconds)
        atomically across every process sharing this Redis; ``None`` while Redis is away."""
        cache_key = self.make_and_validate_key(key)

        def hit() -> BucketHit:
            client = self._cache.get_client(cache_key, write=True)  # type: ignore[attr-defined]
            if self._bucket_script is None:
                self._bucket_script = client.register_script(_BUCKET_HIT)  # sent by digest, loaded once
            found = self._bucket_script(keys=[cache_key], args=[duration, limit, uuid.uuid4().hex], client=client)
            allowed, count, oldest, now = found
            return BucketHit(bool(allowed), int(count), None if oldest is None else float(oldest), float(now))

        return self._guarded(hit, None)

    # Reads find nothing.
    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        return self._guarded(lambda: super(ResilientRedisCache, self).get(key, default, version), default)

    def get_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        return self._guarded(lambda: super(ResilientRedisCache, self).get_many(keys, version), {})

    def has_key(self, key: Any, version: int | None = None) -> bool:
        return self._guarded(lambda: super(ResilientRedisCache, self).has_key(key, version), False)

    # Writes store nothing and say so where the API has a way to.
    def set(self, key: Any, value: Any, timeout: Any = None, version: int | None = None) -> None:
        self._guarded(lambda: super(ResilientRedisCache, self).set(key, value, timeout, version), None)

    def add(self, key: Any, value: Any, timeout: Any = None, version: int | None = None) -> bool:
        return self._guarded(lambda: super(ResilientRedisCache, self).add(key, value, timeout, version), False)

    def set_many(self, data: dict[Any, Any], timeout: Any = None, version: int | None = None) -> list[Any]:
        return self._guarded(lambda: super(ResilientRedisCache, self).set_many(data, timeout, version), list(data))

    def touch(self, key: Any, timeout: Any = None, version: int | None = None) -> bool:
        return self._guarded(lambda: super(ResilientRedisCache, self).touch(key, timeout, version), False)

    def delete(self, key: Any, version: int | None = None) -> bool:
        return self._guarded(lambda: super(ResilientRedisCache, self).delete(key, version), False)

    def delete_many(self, keys: Iterable[Any], version: int | None = None) -> None:
        self._guarded(lambda: super(ResilientRedisCache, self).delete_many(keys, version), None)

    def clear(self) -> None:
        self._guarded(lambda: super(ResilientRedisCache, self).clear(), None)

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        """As Django's: a ``ValueError`` for a key that is not there, which is every key while Redis is away."""
        missing = object()
        found = self._guarded(lambda: super(ResilientRedisCache, self).incr(key, delta, version), missing)
        if found is missing:
            raise ValueError(f"Key {key!r} not found.")
        return int(found)  # type: ignore[call-overload]
