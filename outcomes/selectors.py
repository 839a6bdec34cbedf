"""Reads of the tenancy layer."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet

from outcomes.choices import APIKeyScope, Role
from outcomes.models import APIKey, Company, Membership, Team, TeamMembership, User


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
