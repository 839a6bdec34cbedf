from __future__ import annotations

import django_filters
from django.db.models import Exists, OuterRef, Q, QuerySet

from config.api.filters import CompanyFilterSet, StableOrderingFilter
from epics.choices import EpicStatus, ReviewPhase, WorkType
from epics.models import Contribution, Epic
from epics.selectors import filter_missing_outcome, filter_review_phase
from okrs.models import Cycle, KeyResult, Objective
from outcomes.models import Team, User

REVIEW_FILTER_CHOICES = [*ReviewPhase.choices, ("none", "Not reviewed")]


class EpicFilterSet(CompanyFilterSet):
    owner_id = django_filters.ModelChoiceFilter(field_name="owner", queryset=User.objects.all())
    team_id = django_filters.ModelChoiceFilter(field_name="team", queryset=Team.objects.all())
    status = django_filters.MultipleChoiceFilter(choices=EpicStatus.choices)
    work_type = django_filters.MultipleChoiceFilter(choices=WorkType.choices)
    key_result_id = django_filters.ModelChoiceFilter(field_name="key_results", queryset=KeyResult.objects.all())
    objective_id = django_filters.ModelChoiceFilter(
        field_name="key_results__objective", queryset=Objective.objects.all(), distinct=True
    )
    cycle_id = django_filters.ModelChoiceFilter(
        field_name="key_results__objective__cycle", queryset=Cycle.objects.all(), distinct=True
    )
    review = django_filters.ChoiceFilter(
        choices=REVIEW_FILTER_CHOICES,
        method="filter_review",
        label="The review of the latest delivery is in this phase.",
    )
    overdue = django_filters.BooleanFilter(method="filter_overdue", label="The outcome review is overdue.")
    missing_anticipated_outcome = django_filters.BooleanFilter(
        method="filter_missing", label="Started or done without an anticipated outcome."
    )
    serves_key_result = django_filters.BooleanFilter(method="filter_serves", label="Linked to at least one key result.")
    q = django_filters.CharFilter(method="filter_q", label="Text in the title, description or tracker key.")
    ordering = StableOrderingFilter(fields=("created", "title", "status", "started_at", "done_at"))

    class Meta:
        model = Epic
        fields: list[str] = []

    def filter_review(self, queryset: QuerySet[Epic], name: str, value: str) -> QuerySet[Epic]:
        return filter_review_phase(queryset, value)

    def filter_overdue(self, queryset: QuerySet[Epic], name: str, value: bool) -> QuerySet[Epic]:
        overdue = filter_review_phase(queryset, ReviewPhase.OVERDUE)
        return overdue if value else queryset.exclude(pk__in=overdue.values("pk"))

    def filter_missing(self, queryset: QuerySet[Epic], name: str, value: bool) -> QuerySet[Epic]:
        return filter_missing_outcome(queryset, value)

    def filter_serves(self, queryset: QuerySet[Epic], name: str, value: bool) -> QuerySet[Epic]:
        linked = Exists(Contribution.objects.filter(epic=OuterRef("pk")))
        return queryset.filter(linked) if value else queryset.exclude(linked)

    def filter_q(self, queryset: QuerySet[Epic], name: str, value: str) -> QuerySet[Epic]:
        return queryset.filter(
            Q(title__icontains=value) | Q(description__icontains=value) | Q(external_key__icontains=value)
        )


class OrphanFilterSet(CompanyFilterSet):
    cycle_id = django_filters.ModelChoiceFilter(field_name="cycle", queryset=Cycle.objects.all())

    class Meta:
        model = Objective
        fields: list[str] = []


class OrphanKeyResultFilterSet(CompanyFilterSet):
    cycle_id = django_filters.ModelChoiceFilter(field_name="objective__cycle", queryset=Cycle.objects.all())

    class Meta:
        model = KeyResult
        fields: list[str] = []
