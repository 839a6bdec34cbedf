from __future__ import annotations

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from okrs.models import CheckIn, Cycle, KeyResult, Objective
from outcomes.admin import GrowingTableAdmin

COMPUTED = ["progress", "status"]


@admin.register(Cycle)
class CycleAdmin(SimpleHistoryAdmin):
    list_display = ["name", "company", "start", "end", "status", "closed_at"]
    list_filter = ["status", "company"]
    search_fields = ["name", "company__name"]
    list_select_related = ["company"]
    readonly_fields = ["closed_at", "created"]
    date_hierarchy = "start"


class KeyResultInline(admin.TabularInline):
    model = KeyResult
    extra = 0
    fields = ["title", "owner", "kind", "baseline", "target", "weight", "progress", "status"]
    readonly_fields = COMPUTED
    autocomplete_fields = ["owner"]


@admin.register(Objective)
class ObjectiveAdmin(SimpleHistoryAdmin):
    """Objectives with their computed figures (read-only: they come from check-ins)."""

    list_display = ["title", "cycle", "level", "team", "owner", "progress", "status", "grade", "result"]
    list_filter = ["level", "status", "result", "cycle__company", "cycle"]
    search_fields = ["title", "description", "owner__email"]
    list_select_related = ["cycle", "team", "owner"]
    autocomplete_fields = ["company", "cycle", "team", "owner", "reviewer", "parent", "strategies", "business_outcomes"]
    readonly_fields = COMPUTED
    inlines = [KeyResultInline]


@admin.register(KeyResult)
class KeyResultAdmin(SimpleHistoryAdmin):
    list_display = ["title", "objective", "owner", "kind", "current_value", "progress", "status", "next_checkin_due"]
    list_filter = ["kind", "status", "cadence", "company"]
    search_fields = ["title", "objective__title", "owner__email"]
    list_select_related = ["objective", "owner"]
    autocomplete_fields = ["company", "objective", "owner"]
    readonly_fields = ["current_value", "confidence", *COMPUTED, "next_checkin_due"]


@admin.register(CheckIn)
class CheckInAdmin(GrowingTableAdmin, SimpleHistoryAdmin):
    list_display = ["key_result", "value", "confidence", "as_of", "source", "author"]
    list_filter = ["source", "key_result__company"]
    search_fields = ["key_result__title", "comment"]
    list_select_related = ["key_result", "author"]
    autocomplete_fields = ["key_result", "author"]
    readonly_fields = ["day", "author_api_key_prefix"]
    date_hierarchy = "as_of"
