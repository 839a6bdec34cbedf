from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample
from rest_framework import serializers

from config.api.serializers import InputSerializer
from epics.choices import EpicStatus
from integrations.choices import DeliveryStatus, TrackerKind
from integrations.models import Connection, SyncRun, WebhookDelivery
from outcomes.api.base import CompanyScopedRelatedField
from outcomes.api.serializers.tenancy import UserSummarySerializer
from outcomes.models import User


class ConnectionSerializer(serializers.ModelSerializer[Connection]):
    default_owner = UserSummarySerializer(allow_null=True)
    credentials_configured = serializers.SerializerMethodField(help_text="Credentials are stored (never shown).")
    webhook_configured = serializers.SerializerMethodField(help_text="A webhook secret is stored (never shown).")
    webhook_url = serializers.SerializerMethodField(help_text="Where the tracker should send its webhooks.")
    lag_seconds = serializers.SerializerMethodField(
        help_text="Seconds since the last successful sync (null before the first): how stale our copy may be."
    )

    class Meta:
        model = Connection
        fields = [
            "id",
            "name",
            "kind",
            "base_url",
            "scope",
            "status_map",
            "default_owner",
            "sync_interval_minutes",
            "enabled",
            "credentials_configured",
            "credential_hint",
            "credentials_updated",
            "webhook_configured",
            "webhook_url",
            "last_success_at",
            "lag_seconds",
            "last_error_at",
            "last_error",
            "needs_attention",
            "created",
            "updated",
        ]

    def get_credentials_configured(self, connection: Connection) -> bool:
        return bool(connection.credentials_encrypted)

    def get_lag_seconds(self, connection: Connection) -> int | None:
        if connection.last_success_at is None:
            return None
        now = self.context.get("now") or timezone.now()
        return max(0, int((now - connection.last_success_at).total_seconds()))

    def get_webhook_configured(self, connection: Connection) -> bool:
        return bool(connection.webhook_secret_encrypted)

    def get_webhook_url(self, connection: Connection) -> str:
        path = reverse("v1:webhook-receive", kwargs={"connection_id": connection.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class ConnectionInputSerializer(InputSerializer):
    name = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=TrackerKind.choices)
    base_url = serializers.URLField(
        max_length=300, required=False, help_text="A public https URL; the tracker's cloud API when omitted."
    )
    credentials = serializers.DictField(
        child=serializers.CharField(max_length=500),
        required=False,
        write_only=True,
        help_text="Jira: email, api_token. GitHub, GitLab: token. Linear: api_key. Write-only; replaces the old ones.",
    )
    webhook_secret = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        write_only=True,
        help_text="The secret the tracker signs webhooks with (16+ characters; empty turns webhooks off). Write-only.",
    )
    scope = serializers.DictField(default=dict, help_text='What counts as an epic, e.g. Jira {"jql": "..."}.')
    status_map = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        help_text="Ordered rules {match: {signal: value}, status}; the tracker's defaults when omitted.",
    )
    default_owner = CompanyScopedRelatedField(queryset=User.objects.all(), allow_null=True, default=None)
    sync_interval_minutes = serializers.IntegerField(min_value=5, max_value=1440, default=15)
    enabled = serializers.BooleanField(default=True)


CONNECTION_EXAMPLE = OpenApiExample(
    "Jira Cloud",
    value={
        "name": "Jira",
        "kind": "jira",
        "base_url": "https://acme.atlassian.net",
        "credentials": {"email": "bot@acme.example", "api_token": "ATATT3x…"},
        "scope": {"jql": "project = SHOP AND issuetype = Epic"},
    },
    request_only=True,
)


class PreviewInputSerializer(InputSerializer):
    kind = serializers.ChoiceField(choices=TrackerKind.choices)
    status_map = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        help_text="The rules to try; the tracker's defaults when omitted.",
    )
    items = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        max_length=200,
        help_text="Tracker signals to map; the tracker's standard statuses when omitted.",
    )


class PreviewRowSerializer(serializers.Serializer[Any]):
    signals = serializers.DictField()
    status = serializers.ChoiceField(
        choices=EpicStatus.choices, allow_null=True, help_text="null: unknown, left as is."
    )
    rule = serializers.IntegerField(allow_null=True, help_text="Index of the rule that decided.")


class PreviewSerializer(serializers.Serializer[Any]):
    status_map = serializers.ListField(child=serializers.DictField())
    rows = PreviewRowSerializer(many=True)


class SyncRunSerializer(serializers.ModelSerializer[SyncRun]):
    class Meta:
        model = SyncRun
        fields = [
            "id",
            "connection",
            "status",
            "full",
            "updated_since",
            "queued_at",
            "started_at",
            "finished_at",
            "fetched",
            "created",
            "updated",
            "unchanged",
            "errors",
            "marked_missing",
            "error",
            "attempts",
            "heartbeat_at",
        ]


class SyncRequestSerializer(InputSerializer):
    full = serializers.BooleanField(
        default=False, help_text="Read everything, not only what changed since the last run."
    )


class WebhookDeliverySerializer(serializers.ModelSerializer[WebhookDelivery]):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "connection",
            "delivery_id",
            "event",
            "action",
            "status",
            "detail",
            "error",
            "epic",
            "received_at",
            "processed_at",
            "attempts",
            "payload",
        ]


class WebhookAcceptedSerializer(serializers.Serializer[Any]):
    delivery_id = serializers.CharField()
    status = serializers.ChoiceField(choices=DeliveryStatus.choices)
    duplicate = serializers.BooleanField(help_text="The delivery id was seen before: nothing new was queued.")
