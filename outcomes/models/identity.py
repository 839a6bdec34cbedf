from __future__ import annotations

from django.conf import settings
from django.db import models

from outcomes.models.base import INT32_MAX, CompanyOwnedQuerySet
from outcomes.models.companies import Company


class IdentityVersion(models.Model):
    """One version of who the company is: mission, vision and values.

    Versions are never changed or deleted; editing the identity adds a version,
    and the newest one is the current identity.
    """

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="identity_versions")
    number = models.PositiveIntegerField(validators=[INT32_MAX])
    mission = models.TextField(help_text="How the company makes money today.")
    vision = models.TextField(help_text="How the company will make money in the future.")
    values = models.JSONField(
        default=list, blank=True, help_text="Ordered list of {name, description}: how we make decisions."
    )
    change_note = models.CharField(max_length=500, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_api_key_prefix = models.CharField(max_length=20, blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)

    objects = CompanyOwnedQuerySet["IdentityVersion"].as_manager()

    class Meta:
        ordering = ["company", "-number"]
        constraints = [models.UniqueConstraint(fields=["company", "number"], name="identity_version_unique_number")]

    def __str__(self) -> str:
        return f"{self.company} identity v{self.number}"
