from __future__ import annotations

from datetime import date
from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from django.utils import timezone

from config.api.filters import CompanyFilterSet, StableOrderingFilter
from okrs.choices import CycleStatus, KeyResultKind, ObjectiveLevel, Status
from okrs.models import Cycle, KeyResult, Objective
from okrs.selectors import objective_is_stale
from outcomes.models import Strategy, Team, User


def _text(*fields: str) -> Any:
    def method(queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        condition = Q()
        for field in fields:
            condition |= Q(**{f"{field}__icontains": value})
        return queryset.filter(condition)

    return method


class CycleFilterSet(CompanyFilterSet):
    status = django_filters.MultipleChoiceFilter(choices=CycleStatus.choices)
    active_on = django_filters.DateFilter(method="filter_active_on", label="Cycles that include this date.")
    q = django_filters.CharFilter(method=_text("name"), label="Text in the name.")
    ordering = StableOrderingFilter(fields=("start", "end", "name", "created"))

    class Meta:
        model = Cycle
        fields: list[str] = []

    def filter_active_on(self, queryset: QuerySet[Cycle], name: str, value: date) -> QuerySet[Cycle]:
        return queryset.filter(start__lte=value, end__gte=value)


class ObjectiveFilterSet(CompanyFilterSet):
    cycle_id = django_filters.ModelChoiceFilter(field_name="cycle", queryset=Cycle.objects.all())
    level = django_filters.ChoiceFilter(choices=ObjectiveLevel.choices)
    team_id = django_filters.ModelChoiceFilter(field_name="team", queryset=Team.objects.all())
    owner_id = django_filters.ModelChoiceFilter(field_name="owner", queryset=User.objects.all())
    parent_id = django_filters.ModelChoiceFilter(field_name="parent", queryset=Objective.objects.all())
    strategy_id = django_filters.ModelChoiceFilter(field_name="strategies", queryset=Strategy.objects.all())
    top_level = django_filters.BooleanFilter(
        field_name="parent", lookup_expr="isnull", label="Only objectives without a parent."
    )
    status = django_filters.MultipleChoiceFilter(choices=Status.choices, label="Computed status (refreshed hourly).")
    stale = django_filters.BooleanFilter(method="filter_stale", label="A key result's check-in is overdue.")
    q = django_filters.CharFilter(method=_text("title", "description"), label="Text in the title or description.")
    ordering = StableOrderingFilter(fields=("title", "progress", "weight", "created"))

    class Meta:
        model = Objective
        fields: list[str] = []

    def filter_stale(self, queryset: QuerySet[Objective], name: str, value: bool) -> QuerySet[Objective]:
        stale = objective_is_stale()
        return queryset.filter(stale) if value else queryset.exclude(stale)


class KeyResultFilterSet(CompanyFilterSet):
    objective_id = django_filters.ModelChoiceFilter(field_name="objective", queryset=Objective.objects.all())
    cycle_id = django_filters.ModelChoiceFilter(field_name="objective__cycle", queryset=Cycle.objects.all())
    owner_id = django_filters.ModelChoiceFilter(field_name="owner", queryset=User.objects.all())
    kind = django_filters.MultipleChoiceFilter(choices=KeyResultKind.choices)
    status = django_filters.MultipleChoiceFilter(choices=Status.choices)
    stale = django_filters.BooleanFilter(method="filter_stale", label="The check-in is overdue by the cadence.")
    q = django_filters.CharFilter(method=_text("title"), label="Text in the title.")
    ordering = StableOrderingFilter(fields=("title", "progress", "next_checkin_due", "created"))

    class Meta:
        model = KeyResult
        fields: list[str] = []

    def filter_stale(self, queryset: QuerySet[KeyResult], name: str, value: bool) -> QuerySet[KeyResult]:
        now = timezone.now()
        return queryset.filter(next_checkin_due__lt=now) if value else queryset.filter(next_checkin_due__gte=now)
