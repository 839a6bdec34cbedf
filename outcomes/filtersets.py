from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from django.utils import timezone

from config.api.filters import CompanyFilterSet
from outcomes.choices import APIKeyScope, Role, TeamTopology
from outcomes.keys import PREFIX
from outcomes.models import APIKey, Company, Membership, Team, User


def _search(fields: tuple[str, ...]) -> Any:
    def method(queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        condition = Q()
        for field in fields:
            condition |= Q(**{f"{field}__icontains": value})
        return queryset.filter(condition)

    return method


class CompanyListFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method=_search(("name", "slug")), label="Text in the name or slug.")
    ordering = django_filters.OrderingFilter(fields=("name", "slug", "created"))

    class Meta:
        model = Company
        fields: list[str] = []


class MembershipFilterSet(CompanyFilterSet):
    role = django_filters.MultipleChoiceFilter(choices=Role.choices)
    user_id = django_filters.ModelChoiceFilter(field_name="user", queryset=User.objects.all())
    q = django_filters.CharFilter(
        method=_search(("user__email", "user__full_name")), label="Text in the e-mail or name."
    )
    ordering = django_filters.OrderingFilter(fields=(("user__email", "email"), "role", "created"))

    class Meta:
        model = Membership
        fields: list[str] = []


class TeamFilterSet(CompanyFilterSet):
    topology = django_filters.MultipleChoiceFilter(choices=TeamTopology.choices)
    lead_id = django_filters.ModelChoiceFilter(field_name="lead", queryset=User.objects.all())
    member_id = django_filters.ModelChoiceFilter(field_name="members", queryset=User.objects.all())
    q = django_filters.CharFilter(method=_search(("name",)), label="Text in the team name.")
    ordering = django_filters.OrderingFilter(fields=("name", "topology", "monthly_cost", "created"))

    class Meta:
        model = Team
        fields: list[str] = []


class APIKeyFilterSet(CompanyFilterSet):
    scope = django_filters.ChoiceFilter(choices=APIKeyScope.choices)
    active = django_filters.BooleanFilter(
        method="filter_active", label="Only usable (true) or only unusable (false) keys."
    )
    q = django_filters.CharFilter(method="filter_q", label="Text in the name, or the key's prefix (okr_…).")
    ordering = django_filters.OrderingFilter(fields=("created", "name", "expires_at", "last_used_at"))

    class Meta:
        model = APIKey
        fields: list[str] = []

    def filter_q(self, queryset: QuerySet[APIKey], name: str, value: str) -> QuerySet[APIKey]:
        key_id = value.removeprefix(PREFIX)
        return queryset.filter(
            Q(name__icontains=value) | Q(key_id__startswith=key_id) if key_id else Q(name__icontains=value)
        )

    def filter_active(self, queryset: QuerySet[APIKey], name: str, value: bool) -> QuerySet[APIKey]:
        usable = Q(revoked_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
        return queryset.filter(usable) if value else queryset.exclude(usable)
