from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from outcomes import keys
from outcomes.models import APIKey, Company, User

DEFAULT_LIFETIME = timedelta(days=90)
MAX_LIFETIME = timedelta(days=366)
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedKey:
    api_key: APIKey
    raw: str  # shown to the caller once, never stored


@transaction.atomic
def api_key_create(
    *, company: Company, name: str, scope: str, created_by: User | None, expires_at: datetime | None = None
) -> IssuedKey:
    now = timezone.now()
    expires_at = expires_at or now + DEFAULT_LIFETIME
    if expires_at <= now:
        raise ValidationError({"expires_at": "Must be in the future."})
    if expires_at > now + MAX_LIFETIME:
        raise ValidationError({"expires_at": "Keys live at most a year; issue a new one before this one expires."})
    generated = keys.generate()
    api_key = APIKey(
        company=company,
        name=name,
        scope=scope,
        expires_at=expires_at,
        created_by=created_by,
        key_id=generated.key_id,
        digest=keys.digest(generated.raw),
    )
    api_key.full_clean()
    api_key.save()
    return IssuedKey(api_key=api_key, raw=generated.raw)


@transaction.atomic
def api_key_revoke(*, api_key: APIKey, revoked_by: User | None) -> APIKey:
    """Revoke a key. Revoking a revoked key changes nothing."""
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.revoked_by = revoked_by
        api_key.save(update_fields=["revoked_at", "revoked_by"])
    return api_key


@dataclass(frozen=True)
class KeyCheck:
    api_key: APIKey | None
    problem: str = ""


def api_key_authenticate(*, raw: str) -> KeyCheck:
    """Find the usable key for ``raw``: one indexed query, none for a malformed key."""
    parsed = keys.parse(raw)
    if parsed is None:
        return KeyCheck(None, "Malformed API key.")
    # key_id is unique: a plain lookup, without the ORDER BY that first() would add.
    api_key = next(iter(APIKey.objects.select_related("company").filter(key_id=parsed.key_id).order_by()[:1]), None)
    if api_key is None or not hmac.compare_digest(api_key.digest, keys.digest(raw)):
        return KeyCheck(None, "Unknown API key.")
    if api_key.revoked_at is not None:
        return KeyCheck(None, "This API key has been revoked.")
    if not api_key.is_usable():
        return KeyCheck(None, "This API key has expired.")
    _record_use(api_key)
    return KeyCheck(api_key)


def _record_use(api_key: APIKey) -> None:
    """Note the time of use, writing at most once a minute per key."""
    now = timezone.now()
    if api_key.last_used_at is not None and now - api_key.last_used_at < LAST_USED_RESOLUTION:
        return
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    APIKey.objects.filter(stale, pk=api_key.pk).update(last_used_at=now)
    api_key.last_used_at = now
