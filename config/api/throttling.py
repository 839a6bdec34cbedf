"""Request throttles: one bucket per person or API key, one per address for the anonymous.

The buckets live in the default cache (Redis in production, so they are shared
by every web process). DRF adds ``Retry-After`` to the 429 response.
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle


def principal_ident(request: Request) -> str | None:
    if request.user and request.user.is_authenticated:
        return f"user:{request.user.pk}"
    key_pk = getattr(request.auth, "pk", None)
    return f"key:{key_pk}" if key_pk is not None else None


class PrincipalRateThrottle(SimpleRateThrottle):
    scope = "principal"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        ident = principal_ident(request)
        return None if ident is None else self.cache_format % {"scope": self.scope, "ident": ident}


class AnonymousRateThrottle(SimpleRateThrottle):
    scope = "anonymous"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if principal_ident(request) is not None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
