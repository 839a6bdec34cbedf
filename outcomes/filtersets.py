from __future__ import annotations

from datetime import date
from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from django.utils import timezone

from config.api.filters import CompanyFilterSet, StableOrderingFilter
from outcomes.choices import APIKeyScope, Direction, OutcomeCategory, Role, StrategyStatus, SwotKind, TeamTopology
from outcomes.keys import PREFIX
from outcomes.models import APIKey, BusinessOutcome, Company, Investment, Membership, Strategy, SwotItem, Team, User


def _search(fields: tuple[str, ...]) -> Any:
    def method(queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        condition = Q()
        for field in fields:
            condition |= Q(**{f"{field}__icontains": value})
        return queryset.filter(condition)

    return method


class CompanyListFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method=_search(("name", "slug")), label="Text in the name or slug.")
    ordering = StableOrderingFilter(fields=("name", "slug", "created"))

    class Meta:
        model = Company
        fields: list[str] = []


class MembershipFilterSet(CompanyFilterSet):
    role = django_filters.MultipleChoiceFilter(choices=Role.choices)
    user_id = django_filters.ModelChoiceFilter(field_name="user", queryset=User.objects.all())
    q = django_filters.CharFilter(
        method=_search(("user__email", "user__full_name")), label="Text in the e-mail or name."
    )
    ordering = StableOrderingFilter(fields=(("user__email", "email"), "role", "created"))

    class Meta:
        model = Membership
        fields: list[str] = []


class TeamFilterSet(CompanyFilterSet):
    topology = django_filters.MultipleChoiceFilter(choices=TeamTopology.choices)
    lead_id = django_filters.ModelChoiceFilter(field_name="lead", queryset=User.objects.all())
    member_id = django_filters.ModelChoiceFilter(field_name="members", queryset=User.objects.all())
    q = django_filters.CharFilter(method=_search(("name",)), label="Text in the team name.")
    ordering = StableOrderingFilter(fields=("name", "topology", "monthly_cost", "created"))

    class Meta:
        model = Team
        fields: list[str] = []


class APIKeyFilterSet(CompanyFilterSet):
    scope = django_filters.ChoiceFilter(choices=APIKeyScope.choices)
    active = django_filters.BooleanFilter(
        method="filter_active", label="Only usable (true) or only unusable (false) keys."
    )
    q = django_filters.CharFilter(method="filter_q", label="Text in the name, or the key's prefix (okr_…).")
    ordering = StableOrderingFilter(fields=("created", "name", "expires_at", "last_used_at"))

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


class SwotItemFilterSet(CompanyFilterSet):
    kind = django_filters.MultipleChoiceFilter(choices=SwotKind.choices)
    owner_id = django_filters.ModelChoiceFilter(field_name="owner", queryset=User.objects.all())
    strategy_id = django_filters.ModelChoiceFilter(field_name="strategies", queryset=Strategy.objects.all())
    impact_min = django_filters.NumberFilter(field_name="impact", lookup_expr="gte", label="Impact at least.")
    q = django_filters.CharFilter(method=_search(("title", "description")), label="Text in the title or description.")
    ordering = StableOrderingFilter(fields=("kind", "impact", "title", "created"))

    class Meta:
        model = SwotItem
        fields: list[str] = []


class StrategyFilterSet(CompanyFilterSet):
    status = django_filters.MultipleChoiceFilter(choices=StrategyStatus.choices)
    owner_id = django_filters.ModelChoiceFilter(field_name="owner", queryset=User.objects.all())
    swot_item_id = django_filters.ModelChoiceFilter(field_name="swot_items", queryset=SwotItem.objects.all())
    business_outcome_id = django_filters.ModelChoiceFilter(
        field_name="business_outcomes", queryset=BusinessOutcome.objects.all()
    )
    active_on = django_filters.DateFilter(method="filter_active_on", label="Strategies whose horizon covers this date.")
    horizon_start_after = django_filters.DateFilter(field_name="horizon_start", lookup_expr="gte")
    horizon_start_before = django_filters.DateFilter(field_name="horizon_start", lookup_expr="lte")
    horizon_end_after = django_filters.DateFilter(field_name="horizon_end", lookup_expr="gte")
    horizon_end_before = django_filters.DateFilter(field_name="horizon_end", lookup_expr="lte")
    q = django_filters.CharFilter(
        method=_search(("title", "description", "rationale")), label="Text in the title, description or rationale."
    )
    ordering = StableOrderingFilter(fields=("title", "status", "horizon_start", "horizon_end", "created"))

    class Meta:
        model = Strategy
        fields: list[str] = []

    def filter_active_on(self, queryset: QuerySet[Strategy], name: str, value: date) -> QuerySet[Strategy]:
        return queryset.filter(horizon_start__lte=value, horizon_end__gte=value)


class InvestmentFilterSet(CompanyFilterSet):
    strategy_id = django_filters.ModelChoiceFilter(field_name="strategy", queryset=Strategy.objects.all())
    team_id = django_filters.ModelChoiceFilter(field_name="team", queryset=Team.objects.all())
    currency = django_filters.CharFilter()
    period_from = django_filters.DateFilter(
        field_name="period_end", lookup_expr="gte", label="Periods ending on or after."
    )
    period_to = django_filters.DateFilter(
        field_name="period_start", lookup_expr="lte", label="Periods starting on or before."
    )
    ordering = StableOrderingFilter(fields=("period_start", "period_end", "amount", "created"))

    class Meta:
        model = Investment
        fields: list[str] = []


class BusinessOutcomeFilterSet(CompanyFilterSet):
    category = django_filters.MultipleChoiceFilter(choices=OutcomeCategory.choices)
    direction = django_filters.ChoiceFilter(choices=Direction.choices)
    owner_id = django_filters.ModelChoiceFilter(field_name="owner", queryset=User.objects.all())
    strategy_id = django_filters.ModelChoiceFilter(field_name="strategies", queryset=Strategy.objects.all())
    target_date_after = django_filters.DateFilter(field_name="target_date", lookup_expr="gte")
    target_date_before = django_filters.DateFilter(field_name="target_date", lookup_expr="lte")
    q = django_filters.CharFilter(
        method=_search(("title", "description", "metric_name")), label="Text in the title, description or metric."
    )
    ordering = StableOrderingFilter(fields=("title", "category", "target_date", "created"))

    class Meta:
        model = BusinessOutcome
        fields: list[str] = []
