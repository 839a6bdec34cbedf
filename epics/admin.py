from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from epics.models import (
    ActualResult,
    AnticipatedOutcome,
    Contribution,
    Epic,
    MetricResult,
    OutcomeReview,
    StatusChange,
    SuccessMetric,
)
from outcomes.admin import HTTPS_LINKS, GrowingTableAdmin


class ReadOnlyAdmin(admin.ModelAdmin):
    """History that is only ever added to: status changes and recorded results are never edited."""

    formfield_overrides = HTTPS_LINKS

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ContributionInline(admin.TabularInline):
    model = Contribution
    extra = 0
    autocomplete_fields = ["key_result"]


class StatusChangeInline(admin.TabularInline):
    model = StatusChange
    extra = 0
    can_delete = False
    fields = ["at", "from_status", "to_status", "source", "actor", "tracker_timestamp", "reason"]
    readonly_fields = ["at", "from_status", "to_status", "source", "actor", "tracker_timestamp", "reason"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Epic)
class EpicAdmin(GrowingTableAdmin, SimpleHistoryAdmin):
    list_display = ["title", "company", "team", "owner", "work_type", "status", "external_key", "started_at", "done_at"]
    list_filter = ["status", "work_type", "company", "team"]
    search_fields = ["title", "description", "external_key", "owner__email"]
    list_select_related = ["company", "team", "owner"]
    autocomplete_fields = ["company", "team", "owner", "reviewer"]
    readonly_fields = ["status", "tracker_connection_id", "started_at", "done_at"]
    formfield_overrides = HTTPS_LINKS
    inlines = [ContributionInline, StatusChangeInline]


class SuccessMetricInline(admin.TabularInline):
    model = SuccessMetric
    extra = 0


@admin.register(AnticipatedOutcome)
class AnticipatedOutcomeAdmin(SimpleHistoryAdmin):
    list_display = ["epic", "updated"]
    list_filter = ["epic__company"]
    search_fields = ["epic__title", "problem", "expected_results"]
    list_select_related = ["epic"]
    autocomplete_fields = ["epic"]
    inlines = [SuccessMetricInline]


@admin.register(SuccessMetric)
class SuccessMetricAdmin(SimpleHistoryAdmin):
    list_display = ["name", "anticipated_outcome", "direction", "baseline", "target", "window_days"]
    list_filter = ["direction", "anticipated_outcome__epic__company"]
    search_fields = ["name", "anticipated_outcome__epic__title"]
    list_select_related = ["anticipated_outcome__epic"]


@admin.register(Contribution)
class ContributionAdmin(GrowingTableAdmin, SimpleHistoryAdmin):
    list_display = ["epic", "key_result", "expected_contribution"]
    list_filter = ["epic__company"]
    search_fields = ["epic__title", "key_result__title"]
    list_select_related = ["epic", "key_result"]
    autocomplete_fields = ["epic", "key_result"]


@admin.register(StatusChange)
class StatusChangeAdmin(GrowingTableAdmin, ReadOnlyAdmin):
    list_display = ["epic", "from_status", "to_status", "at", "source", "actor"]
    list_filter = ["source", "to_status", "epic__company"]
    search_fields = ["epic__title", "reason"]
    list_select_related = ["epic", "actor"]
    date_hierarchy = "at"


@admin.register(OutcomeReview)
class OutcomeReviewAdmin(GrowingTableAdmin, SimpleHistoryAdmin):
    list_display = ["epic", "state", "done_at", "due_at", "closed_at"]
    list_filter = ["state", "epic__company"]
    search_fields = ["epic__title"]
    list_select_related = ["epic"]
    readonly_fields = ["epic", "state", "done_at", "due_at", "closed_at", "waived_by"]
    date_hierarchy = "due_at"


class MetricResultInline(admin.TabularInline):
    model = MetricResult
    extra = 0
    can_delete = False
    readonly_fields = ["metric", "value", "verdict", "evidence_url", "evidence_note"]


@admin.register(ActualResult)
class ActualResultAdmin(GrowingTableAdmin, ReadOnlyAdmin):
    list_display = ["review", "revision", "verdict", "verdict_override", "recorded_by", "recorded_at"]
    list_filter = ["verdict", "review__epic__company"]
    search_fields = ["review__epic__title", "learnings"]
    list_select_related = ["review__epic", "recorded_by"]
    inlines = [MetricResultInline]


@admin.register(MetricResult)
class MetricResultAdmin(GrowingTableAdmin, ReadOnlyAdmin):
    list_display = ["result", "metric", "value", "verdict"]
    list_filter = ["verdict"]
    search_fields = ["metric__name", "result__review__epic__title"]
    list_select_related = ["result__review__epic", "metric"]
