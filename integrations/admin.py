from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from integrations.models import (
    Connection,
    NotificationPreference,
    OutboundDelivery,
    Reminder,
    ReminderSnooze,
    SlackWebhook,
    SyncRun,
    WebhookDelivery,
    WebhookEndpoint,
)
from outcomes.admin import HTTPS_LINKS, GrowingTableAdmin


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


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records of what was synced, received and sent: looked at, filtered and searched, never edited by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SyncRun)
class SyncRunAdmin(GrowingTableAdmin, ReadOnlyAdmin):
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


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(GrowingTableAdmin, ReadOnlyAdmin):
    """Deliveries are records of what trackers sent: read-only (replay them through the API)."""

    list_display = ["connection", "event", "action", "status", "received_at", "processed_at", "attempts"]
    list_filter = ["status", "connection__kind", "connection__company"]
    search_fields = ["delivery_id", "event", "connection__name", "error"]
    list_select_related = ["connection"]
    date_hierarchy = "received_at"


class NoAddAdmin(admin.ModelAdmin):
    """Rows that hold a secret are made through the API, the only place the secret is taken or shown."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Reminder)
class ReminderAdmin(GrowingTableAdmin, ReadOnlyAdmin):
    """Reminders planned and sent; ``unknown`` rows are the ones a stopped sender left (see their error)."""

    list_display = ["kind", "subject", "recipient", "channel", "status", "attempts", "due_on", "not_before", "sent_at"]
    list_filter = ["status", "kind", "channel", "company"]
    search_fields = ["subject", "recipient__email", "error"]
    list_select_related = ["recipient"]
    date_hierarchy = "created"


@admin.register(OutboundDelivery)
class OutboundDeliveryAdmin(GrowingTableAdmin, ReadOnlyAdmin):
    """Events sent to the companies' webhook endpoints (redeliver them through the API)."""

    list_display = ["event", "endpoint", "status", "attempts", "response_status", "created", "sent_at"]
    list_filter = ["status", "event", "company"]
    search_fields = ["key", "event_id", "error", "endpoint__url"]
    list_select_related = ["endpoint"]
    date_hierarchy = "created"


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(NoAddAdmin):
    """Endpoints without their secrets: a secret is shown once, through the API, when it is made."""

    list_display = ["url", "company", "description", "active", "created"]
    list_filter = ["active", "company"]
    search_fields = ["url", "description", "company__name"]
    list_select_related = ["company"]
    exclude = ["secret_encrypted"]
    formfield_overrides = HTTPS_LINKS
    autocomplete_fields = ["company"]


@admin.register(SlackWebhook)
class SlackWebhookAdmin(NoAddAdmin):
    """Slack webhooks without their URLs (the URL is the secret): set them through the API."""

    list_display = ["company", "team", "url_hint", "updated"]
    list_filter = ["company"]
    search_fields = ["company__name", "team__name", "url_hint"]
    list_select_related = ["company", "team"]
    exclude = ["url_encrypted"]
    readonly_fields = ["url_hint"]
    autocomplete_fields = ["company", "team"]


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "company", "channels", "digest", "digest_weekday", "digest_hour", "paused_until"]
    list_filter = ["digest", "weekdays_only", "company"]
    search_fields = ["user__email", "company__name"]
    list_select_related = ["user", "company"]
    autocomplete_fields = ["company", "user"]


@admin.register(ReminderSnooze)
class ReminderSnoozeAdmin(admin.ModelAdmin):
    list_display = ["recipient", "subject", "until", "company"]
    search_fields = ["recipient__email", "subject"]
    list_select_related = ["recipient", "company"]
    autocomplete_fields = ["company", "recipient"]
