from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.paginator import Paginator
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property
from simple_history.admin import SimpleHistoryAdmin

from outcomes.models import (
    APIKey,
    BusinessOutcome,
    Company,
    IdentityVersion,
    Investment,
    Measurement,
    Membership,
    Strategy,
    SwotItem,
    Team,
    TeamMembership,
    User,
)
from outcomes.services.api_keys import api_key_revoke

# Links typed into admin forms without a scheme are https (Django 6's default, chosen now).
HTTPS_LINKS: dict[type, dict[str, str]] = {models.URLField: {"assume_scheme": "https"}}


class BoundedCountPaginator(Paginator):
    """Pages of a table that grows with activity, counted only as far as ``cap`` rows.

    It reads at most ``cap + 1`` ids, unsorted, instead of ``COUNT(*)`` over everything the filters
    match: the page costs the same with a million rows. Past the cap the changelist says "10000+" and
    offers the pages up to it; filters, search and the date drill-down narrow the rest.
    """

    cap = 10_000

    @cached_property
    def capped(self) -> bool:
        return self._seen > self.cap

    @cached_property
    def _seen(self) -> int:
        rows: QuerySet[Any] = self.object_list  # type: ignore[assignment]  # the admin pages querysets
        return len(rows.order_by().values_list("pk", flat=True)[: self.cap + 1])

    @cached_property
    def count(self) -> int:
        return min(self._seen, self.cap)


class GrowingTableAdmin(admin.ModelAdmin):
    """The admin of a table that grows with every sync, delivery, check-in or reminder: no count of the
    whole table, no facet counts, and a bounded count of what the filters match."""

    paginator = BoundedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER


@admin.register(User)
class UserAdmin(DjangoUserAdmin, SimpleHistoryAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_active", "is_staff", "date_joined", "last_login"]
    list_filter = ["is_active", "is_staff", "is_superuser", "memberships__company"]
    search_fields = ["email", "full_name"]
    readonly_fields = ["date_joined", "last_login"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("full_name",)}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "full_name", "password1", "password2")}),)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Company)
class CompanyAdmin(SimpleHistoryAdmin):
    list_display = ["name", "slug", "timezone", "created"]
    search_fields = ["name", "slug"]
    list_filter = ["timezone"]
    readonly_fields = ["created"]
    prepopulated_fields = {"slug": ("name",)}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(SimpleHistoryAdmin):
    list_display = ["user", "company", "role", "created"]
    list_filter = ["role", "company"]
    search_fields = ["user__email", "user__full_name", "company__name"]
    list_select_related = ["user", "company"]
    autocomplete_fields = ["user", "company"]


class TeamMembershipInline(admin.TabularInline):
    model = TeamMembership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(SimpleHistoryAdmin):
    list_display = ["name", "company", "topology", "lead", "monthly_cost", "cost_currency"]
    list_filter = ["topology", "company"]
    search_fields = ["name", "company__name", "lead__email"]
    list_select_related = ["company", "lead"]
    autocomplete_fields = ["company", "lead"]
    inlines = [TeamMembershipInline]


@admin.register(TeamMembership)
class TeamMembershipAdmin(SimpleHistoryAdmin):
    list_display = ["user", "team", "created"]
    list_filter = ["team__company"]
    search_fields = ["user__email", "team__name"]
    list_select_related = ["user", "team"]
    autocomplete_fields = ["user", "team"]


@admin.register(APIKey)
class APIKeyAdmin(SimpleHistoryAdmin):
    """Keys are issued through the API (the only place the key is shown); here they are reviewed and revoked.

    Expiry and revocation are read-only: a revoked key stays revoked and no key outlives
    the lifetime the API enforces. Use the "Revoke" action instead.
    """

    list_display = ["name", "company", "prefix", "scope", "expires_at", "revoked_at", "last_used_at", "created"]
    list_filter = ["scope", "company", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "key_id", "company__name"]
    list_select_related = ["company"]
    fields = [
        "name",
        "company",
        "key_id",
        "scope",
        "expires_at",
        "revoked_at",
        "revoked_by",
        "created",
        "created_by",
        "last_used_at",
    ]
    readonly_fields = [field for field in fields if field != "name"]  # only the label can change
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).defer("digest")

    @admin.action(description="Revoke the selected API keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[APIKey]) -> None:
        person = request.user if isinstance(request.user, User) else None
        for api_key in queryset:
            api_key_revoke(api_key=api_key, revoked_by=person)
        self.message_user(request, f"Revoked {queryset.count()} key(s).")


@admin.register(IdentityVersion)
class IdentityVersionAdmin(admin.ModelAdmin):
    """Identity versions are history: readable here, written only through the API (a new version per change)."""

    list_display = ["company", "number", "change_note", "author", "created"]
    list_filter = ["company"]
    search_fields = ["mission", "vision", "change_note", "company__name"]
    list_select_related = ["company", "author"]
    readonly_fields = [field.name for field in IdentityVersion._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SwotItem)
class SwotItemAdmin(SimpleHistoryAdmin):
    list_display = ["title", "company", "kind", "impact", "owner", "updated"]
    list_filter = ["kind", "impact", "company"]
    search_fields = ["title", "description", "company__name"]
    list_select_related = ["company", "owner"]
    autocomplete_fields = ["company", "owner"]


class InvestmentInline(admin.TabularInline):
    model = Investment
    extra = 0
    fields = ["team", "amount", "currency", "period_start", "period_end", "note"]
    autocomplete_fields = ["team"]


@admin.register(Strategy)
class StrategyAdmin(SimpleHistoryAdmin):
    list_display = ["title", "company", "status", "owner", "horizon_start", "horizon_end"]
    list_filter = ["status", "company", "horizon_start"]
    search_fields = ["title", "description", "rationale", "company__name"]
    list_select_related = ["company", "owner"]
    autocomplete_fields = ["company", "owner", "swot_items", "business_outcomes"]
    date_hierarchy = "horizon_start"
    inlines = [InvestmentInline]


@admin.register(Investment)
class InvestmentAdmin(SimpleHistoryAdmin):
    list_display = ["strategy", "team", "amount", "currency", "period_start", "period_end", "company"]
    list_filter = ["currency", "company", "period_start"]
    search_fields = ["strategy__title", "team__name", "note"]
    list_select_related = ["strategy", "team", "company"]
    autocomplete_fields = ["company", "strategy", "team"]
    date_hierarchy = "period_start"


class MeasurementInline(admin.TabularInline):
    model = Measurement
    extra = 0
    fields = ["value", "as_of", "source", "comment", "author", "author_api_key_prefix"]
    readonly_fields = ["author", "author_api_key_prefix"]
    ordering = ["-as_of", "-id"]


@admin.register(BusinessOutcome)
class BusinessOutcomeAdmin(SimpleHistoryAdmin):
    list_display = ["title", "company", "category", "direction", "baseline", "target", "target_date", "owner"]
    list_filter = ["category", "direction", "company"]
    search_fields = ["title", "metric_name", "description", "company__name"]
    list_select_related = ["company", "owner"]
    autocomplete_fields = ["company", "owner"]
    inlines = [MeasurementInline]


@admin.register(Measurement)
class MeasurementAdmin(SimpleHistoryAdmin):
    list_display = ["business_outcome", "value", "as_of", "source", "author"]
    list_filter = ["source", "business_outcome__company"]
    search_fields = ["business_outcome__title", "comment"]
    list_select_related = ["business_outcome", "author"]
    autocomplete_fields = ["business_outcome", "author"]
    date_hierarchy = "as_of"
