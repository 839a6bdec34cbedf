from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from integrations.models import Connection, SyncRun, WebhookDelivery
from outcomes.admin import HTTPS_LINKS


@admin.register(Connection)
class ConnectionAdmin(SimpleHistoryAdmin):
    """Connections without their credentials: those are set through the API and never shown."""

    list_display = ["name", "company", "kind", "base_url", "enabled", "needs_attention", "last_success_at"]
    list_filter = ["kind", "enabled", "needs_attention", "company"]
    search_fields = ["name", "base_url", "company__name"]
    list_select_related = ["company"]
    exclude = ["credentials_encrypted", "webhook_secret_encrypted"]
    formfield_overrides = HTTPS_LINKS
    readonly_fields = [
        "credential_hint",
        "credentials_updated",
        "last_success_at",
        "last_error_at",
        "last_error",
        "needs_attention",
    ]
    autocomplete_fields = ["company", "default_owner"]


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    """Runs are records of what happened: read-only."""

    list_display = [
        "connection",
        "status",
        "full",
        "queued_at",
        "finished_at",
        "fetched",
        "created",
        "updated",
        "errors",
    ]
    list_filter = ["status", "full", "connection__company"]
    search_fields = ["connection__name", "error"]
    list_select_related = ["connection"]
    date_hierarchy = "queued_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """Deliveries are records of what trackers sent: read-only (replay them through the API)."""

    list_display = ["connection", "event", "action", "status", "received_at", "processed_at", "attempts"]
    list_filter = ["status", "connection__kind", "connection__company"]
    search_fields = ["delivery_id", "event", "connection__name", "error"]
    list_select_related = ["connection"]
    date_hierarchy = "received_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
