"""What every company-owned model shares: the ``for_company`` scope and audit history."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from django.core.validators import MaxValueValidator
from django.db import models
from simple_history.models import HistoricalRecords

if TYPE_CHECKING:
    from outcomes.models.companies import Company

M = TypeVar("M", bound=models.Model)

# An explicit bound for positive integers: Django otherwise takes the range from the database
# (64-bit on SQLite, 32-bit on PostgreSQL), and the API schema would differ between them.
INT32_MAX = MaxValueValidator(2_147_483_647)


class CompanyOwnedQuerySet(models.QuerySet[M]):
    """Querysets of company data. The API base view narrows every queryset through this."""

    company_path = "company"

    def for_company(self, company: Company) -> CompanyOwnedQuerySet[M]:
        return self.filter(**{self.company_path: company})


class AuditActor(models.Model):
    """Extra columns on every history table: the API key that made a change, if any."""

    history_api_key_prefix = models.CharField(max_length=20, blank=True, default="")

    class Meta:
        abstract = True


def audit_history(**kwargs: Any) -> HistoricalRecords:
    """History for a model: who changed what and when, including changes made with API keys."""
    return HistoricalRecords(bases=[AuditActor], get_user=_history_user, **kwargs)


def _history_user(instance: Any = None, request: Any = None, **kwargs: Any) -> Any:
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None
