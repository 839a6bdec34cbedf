from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

from outcomes.choices import APIKeyScope
from outcomes.keys import PREFIX
from outcomes.models.base import CompanyOwnedQuerySet, audit_history
from outcomes.models.companies import Company


class APIKey(models.Model):
    """A machine credential for one company. Only a keyed digest of the key is stored."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, help_text="What the key is for, e.g. 'CI pipeline'.")
    key_id = models.CharField(max_length=16, unique=True, editable=False)
    digest = models.CharField(max_length=64, editable=False)
    scope = models.CharField(max_length=10, choices=APIKeyScope.choices, default=APIKeyScope.READ)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty means the key never expires.")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = CompanyOwnedQuerySet["APIKey"].as_manager()
    history = audit_history(excluded_fields=["last_used_at", "digest"])

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def prefix(self) -> str:
        return PREFIX + self.key_id

    def is_usable(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
