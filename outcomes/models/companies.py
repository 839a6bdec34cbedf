from __future__ import annotations

import functools
import zoneinfo
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from outcomes.choices import Role
from outcomes.models.base import CompanyOwnedQuerySet, audit_history

if TYPE_CHECKING:
    from outcomes.models.users import User


def validate_lowercase(value: str) -> None:
    if value != value.lower():
        raise ValidationError("Use lower-case letters only.", code="lowercase")


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_timezone(value: str) -> None:
    if value not in _time_zones():
        raise ValidationError(
            "%(value)s is not an IANA time zone, such as Europe/Berlin.",
            code="invalid_timezone",
            params={"value": value},
        )


class CompanyQuerySet(CompanyOwnedQuerySet["Company"]):
    company_path = "pk"

    def for_company(self, company: Company) -> CompanyQuerySet:
        return self.filter(pk=company.pk)

    def for_user(self, user: User) -> CompanyQuerySet:
        return self.filter(memberships__user=user)


class Company(models.Model):
    """The tenant: every piece of company data belongs to exactly one company."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(
        max_length=60,
        unique=True,
        validators=[validate_lowercase],
        help_text="Used in URLs: /api/v1/companies/{slug}/.",
    )
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    created = models.DateTimeField(auto_now_add=True)

    objects = CompanyQuerySet.as_manager()
    history = audit_history()

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "companies"

    def __str__(self) -> str:
        return self.name


class MembershipQuerySet(CompanyOwnedQuerySet["Membership"]):
    def owners(self) -> MembershipQuerySet:
        return self.filter(role=Role.OWNER)


class Membership(models.Model):
    """A person's place in a company and the role that decides what they may do there."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    created = models.DateTimeField(auto_now_add=True)

    objects = MembershipQuerySet.as_manager()
    history = audit_history()

    class Meta:
        ordering = ["company", "user__email", "id"]
        constraints = [models.UniqueConstraint(fields=["user", "company"], name="membership_unique_user_company")]

    def __str__(self) -> str:
        return f"{self.user} in {self.company} ({self.role})"
