"""Reads of the tenancy layer."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Prefetch, QuerySet, Subquery, Sum

from outcomes.choices import APIKeyScope, Role, StrategyStatus, SwotKind
from outcomes.models import (
    APIKey,
    BusinessOutcome,
    Company,
    Investment,
    Measurement,
    Membership,
    Strategy,
    SwotItem,
    Team,
    TeamMembership,
    User,
)


@dataclass(frozen=True)
class CompanyAccess:
    """Who is calling on behalf of a company, and with which role.

    An API key acts as a ``member`` of its company (write scope) or a ``viewer``
    (read scope): it can never manage members, keys or the company itself.
    """

    company: Company
    role: str
    user: User | None = None
    api_key: APIKey | None = None


def company_access_for_user(*, user: User, company_slug: str) -> CompanyAccess | None:
    membership = Membership.objects.select_related("company").filter(user=user, company__slug=company_slug).first()
    if membership is None:
        return None
    return CompanyAccess(company=membership.company, role=membership.role, user=user)


def company_access_for_key(*, api_key: APIKey, company_slug: str) -> CompanyAccess | None:
    if api_key.company.slug != company_slug:
        return None
    role = Role.MEMBER if api_key.scope == APIKeyScope.WRITE else Role.VIEWER
    return CompanyAccess(company=api_key.company, role=role, api_key=api_key)


def companies_visible_to(*, user: User | None, api_key: APIKey | None) -> QuerySet[Company]:
    if api_key is not None:
        return Company.objects.filter(pk=api_key.company_id)
    if user is None:
        return Company.objects.none()
    return Company.objects.for_user(user)


def teams_with_people(queryset: QuerySet[Team]) -> QuerySet[Team]:
    members = TeamMembership.objects.select_related("user").order_by("user__email", "id")
    return queryset.select_related("lead").prefetch_related(Prefetch("memberships", queryset=members))


def memberships_with_people(queryset: QuerySet[Membership]) -> QuerySet[Membership]:
    return queryset.select_related("user")


def my_memberships(*, user: User | None, api_key: APIKey | None) -> list[dict[str, object]]:
    """The caller's companies and roles; an API key has its one company and the role it acts as."""
    if api_key is not None:
        access = company_access_for_key(api_key=api_key, company_slug=api_key.company.slug)
        return [{"company": api_key.company, "role": access.role if access else Role.VIEWER}]
    if user is None:
        return []
    memberships = Membership.objects.select_related("company").filter(user=user).order_by("company__name", "id")
    return [{"company": m.company, "role": m.role} for m in memberships]


# --- strategy and outcomes -----------------------------------------------------------
def swot_items_with_links(queryset: QuerySet[SwotItem]) -> QuerySet[SwotItem]:
    return queryset.select_related("owner").prefetch_related(
        Prefetch("strategies", queryset=Strategy.objects.only("id"))
    )


def swot_items_unaddressed(queryset: QuerySet[SwotItem]) -> QuerySet[SwotItem]:
    """Threats and weaknesses that no active strategy addresses."""
    addressed = Strategy.objects.filter(swot_items=OuterRef("pk"), status=StrategyStatus.ACTIVE)
    return queryset.filter(kind__in=[SwotKind.THREAT, SwotKind.WEAKNESS]).exclude(Exists(addressed))


def strategies_with_links(queryset: QuerySet[Strategy]) -> QuerySet[Strategy]:
    return (
        queryset.select_related("owner")
        .prefetch_related(Prefetch("swot_items", queryset=SwotItem.objects.only("id")))
        .prefetch_related(Prefetch("business_outcomes", queryset=BusinessOutcome.objects.only("id")))
    )


def investments_with_names(queryset: QuerySet[Investment]) -> QuerySet[Investment]:
    return queryset.select_related("strategy", "team")


INVESTMENT_GROUPS = {
    "strategy": ("strategy_id", "strategy__title"),
    "team": ("team_id", "team__name"),
    "period": ("period_start", "period_end"),
}


def investment_totals(queryset: QuerySet[Investment], *, group_by: str) -> list[dict[str, object]]:
    """Sums of the allocated amounts per group and currency (amounts in different currencies never add up).

    Each row carries only its group's keys: ``strategy``, ``team`` (null: money not tied to a team) or
    ``period_start``/``period_end``. Groups are ordered by name or date, "no team" first on every database.
    """
    keys = INVESTMENT_GROUPS[group_by]
    order = [F(key).asc(nulls_first=True) for key in keys]
    rows = queryset.order_by().values(*keys, "currency").annotate(total=Sum("amount"), allocations=Count("id"))
    return [_total_row(group_by, row) for row in rows.order_by(*order, "currency")]


def _total_row(group_by: str, row: dict[str, Any]) -> dict[str, object]:
    if group_by == "strategy":
        group: dict[str, object] = {"strategy": {"id": row["strategy_id"], "title": row["strategy__title"]}}
    elif group_by == "team":
        team = None if row["team_id"] is None else {"id": row["team_id"], "name": row["team__name"]}
        group = {"team": team}
    else:
        group = {"period_start": row["period_start"], "period_end": row["period_end"]}
    total = Decimal(str(row["total"])).quantize(Decimal("0.01"))
    return {**group, "currency": row["currency"], "total": str(total), "allocations": row["allocations"]}


def business_outcomes_with_current(queryset: QuerySet[BusinessOutcome]) -> QuerySet[BusinessOutcome]:
    """Annotate each outcome with its latest measurement (by as-of time, then by id)."""
    latest = Measurement.objects.filter(business_outcome=OuterRef("pk")).order_by("-as_of", "-id")
    return (
        queryset.select_related("owner")
        .prefetch_related(Prefetch("strategies", queryset=Strategy.objects.only("id")))
        .annotate(
            current_value=Subquery(latest.values("value")[:1]), current_as_of=Subquery(latest.values("as_of")[:1])
        )
    )
