from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from integrations.models import Connection
from outcomes.admin import HTTPS_LINKS


@admin.register(Connection)
class ConnectionAdmin(SimpleHistoryAdmin):
    """Connections without their credentials: those are set through the API and never shown."""

    list_display = ["name", "company", "kind", "base_url", "enabled", "needs_attention", "last_success_at"]
    list_filter = ["kind", "enabled", "needs_attention", "company"]
    search_fields = ["name", "base_url", "company__name"]
    list_select_related = ["company"]
    exclude = ["credentials_encrypted"]
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
