"""Request throttles: one bucket per person or API key, one per address for the anonymous.

The buckets live in the default cache, so every web process shares them. On Redis (production) a
bucket is a sliding-window log that one atomic step checks and fills (``ResilientRedisCache.bucket_hit``):
concurrent requests from any number of processes cannot let more through than the rate allows, and a
request costs one round trip whatever the rate. On another cache (the embedded file cache of a single
machine) DRF's own read-then-write history is used. DRF adds ``Retry-After`` to the 429 response.
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from config.cache import BucketHit


def principal_ident(request: Request) -> str | None:
    if request.user and request.user.is_authenticated:
        return f"user:{request.user.pk}"
    key_pk = getattr(request.auth, "pk", None)
    return f"key:{key_pk}" if key_pk is not None else None


class BucketRateThrottle(SimpleRateThrottle):
    """DRF's rate throttle, counted atomically when the cache can (see the module's docstring)."""

    cache_format = "throttle:%(scope)s:%(ident)s"
    hit: BucketHit | None = None
    num_requests: int  # set from the rate by SimpleRateThrottle.__init__
    duration: int

    def allow_request(self, request: Request, view: Any) -> bool:
        bucket_hit = getattr(self.cache, "bucket_hit", None)
        if self.rate is None or bucket_hit is None:
            return super().allow_request(request, view)
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.hit = bucket_hit(self.key, self.duration, self.num_requests)
        # While Redis is away nothing is counted and every request goes through (config/cache.py).
        return self.hit is None or self.hit.allowed

    def wait(self) -> float | None:
        """Seconds until the bucket's oldest request leaves the window, spread over the places then free
        (DRF's rule, on the bucket's clock)."""
        if self.hit is None:
            return super().wait()
        remaining = self.duration - (self.hit.now - self.hit.oldest) if self.hit.oldest is not None else self.duration
        available = self.num_requests - self.hit.count + 1
        return max(remaining, 0.0) / available if available > 0 else None


class PrincipalRateThrottle(BucketRateThrottle):
    scope = "principal"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        ident = principal_ident(request)
        return None if ident is None else self.cache_format % {"scope": self.scope, "ident": ident}


class AnonymousRateThrottle(BucketRateThrottle):
    scope = "anonymous"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if principal_ident(request) is not None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
