"""Slack incoming webhooks over the API: the company's and its teams', managed by owners and admins.

The URL is a secret (anyone holding it can post to the channel), so it is write-only: responses show
only ``url_hint``, its last characters, to tell webhooks apart.
"""

from __future__ import annotations

from typing import Any

from django.db.models import F
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.serializers import InputSerializer
from integrations.models import SlackWebhook
from integrations.slack import SendError, slack_test, slack_webhook_delete, slack_webhook_save, slack_webhook_update
from outcomes.api.base import CompanyScopedRelatedField, CompanyScopedViewSet, CrudMixin
from outcomes.choices import MANAGERS
from outcomes.models import Team

ROUTE_ROLES: dict[tuple[str, str], frozenset[str] | str] = {
    ("GET", "v1:slack-webhook-list"): MANAGERS,
    ("POST", "v1:slack-webhook-list"): MANAGERS,
    ("GET", "v1:slack-webhook-detail"): MANAGERS,
    ("PUT", "v1:slack-webhook-detail"): MANAGERS,
    ("PATCH", "v1:slack-webhook-detail"): MANAGERS,
    ("DELETE", "v1:slack-webhook-detail"): MANAGERS,
    ("POST", "v1:slack-webhook-test"): MANAGERS,
}


class SlackWebhookSerializer(serializers.ModelSerializer[SlackWebhook]):
    url_hint = serializers.CharField(
        read_only=True, help_text="The URL's last characters, to tell webhooks apart; the URL is never shown."
    )

    class Meta:
        model = SlackWebhook
        fields = ["id", "team", "url_hint", "created", "updated"]
        read_only_fields = fields
        extra_kwargs = {"team": {"help_text": "The team whose channel this is; null for the company's own."}}


class SlackWebhookInputSerializer(InputSerializer):
    url = serializers.URLField(
        max_length=500,
        write_only=True,
        help_text="The incoming webhook's URL as Slack shows it (https://hooks.slack.com/services/…). Write-only.",
    )
    team = CompanyScopedRelatedField(
        queryset=Team.objects.all(),
        allow_null=True,
        default=None,
        help_text="A team of the company, for messages about its work; null or omitted for the company's own.",
    )


class SlackTestSerializer(serializers.Serializer[Any]):
    sent = serializers.BooleanField(help_text="Slack took the test message.")


SLACK_EXAMPLE = OpenApiExample(
    "A team's channel",
    value={"url": "https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX", "team": 3},
    request_only=True,
)


class SlackUnavailable(APIException):
    """Slack could not take the message for now (rate limit, outage, no connection): nothing to fix here."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Slack could not take the message right now; try again later."
    default_code = "slack_unavailable"

    def __init__(self, detail: str, *, wait: int | None) -> None:
        super().__init__(detail)
        self.wait = wait  # DRF turns it into Retry-After


RULES = (
    "Owners and admins. The URL must be a public https host; it is stored encrypted and never returned "
    "(only `url_hint`). The company has at most one webhook of its own and each team at most one."
)


@extend_schema_view(
    list=extend_schema(
        summary="List Slack webhooks",
        description="The company's Slack incoming webhooks: its own (team null) and its teams'. Owners and admins.",
    ),
    retrieve=extend_schema(summary="Get a Slack webhook", description="One webhook, without its URL."),
    create=extend_schema(
        summary="Save a Slack webhook",
        description=f"{RULES} Saving for a place that already has one replaces its URL (200, same id): that is "
        "how a revoked webhook is swapped for a new one. A new one is a 201.",
        request=SlackWebhookInputSerializer,
        responses={201: SlackWebhookSerializer, 200: SlackWebhookSerializer},
        examples=[SLACK_EXAMPLE],
    ),
    update=extend_schema(
        summary="Replace a Slack webhook",
        description=f"{RULES} Moving it to a team (or to the company, team null) that already has one is a 400.",
        request=SlackWebhookInputSerializer,
        responses=SlackWebhookSerializer,
    ),
    partial_update=extend_schema(
        summary="Update a Slack webhook",
        description=f"{RULES} Fields left out are kept.",
        request=SlackWebhookInputSerializer,
        responses=SlackWebhookSerializer,
    ),
    destroy=extend_schema(
        summary="Delete a Slack webhook",
        description="Messages about the team go to the company's webhook from now on (or nowhere without one).",
    ),
    test=extend_schema(
        summary="Send a test message",
        description="Post a short message through the webhook and report Slack's answer. A refusal the company "
        "must fix (webhook removed, channel archived, …) is a 400 on `url` saying what to do; Slack being "
        "unavailable or rate limiting is a 503 with Retry-After when Slack gave one.",
        request=None,
        responses={
            200: SlackTestSerializer,
            503: OpenApiResponse(
                response={"$ref": "#/components/schemas/Error"},
                description="Slack could not take the message right now (code `slack_unavailable`); try again later.",
            ),
        },
    ),
)
class SlackWebhookViewSet(CrudMixin, CompanyScopedViewSet):
    openapi_tag = "notifications"
    queryset = SlackWebhook.objects.all()
    serializer_class = SlackWebhookSerializer
    input_serializer_class = SlackWebhookInputSerializer
    service_object_name = "webhook"
    create_service = staticmethod(slack_webhook_save)
    update_service = staticmethod(slack_webhook_update)
    delete_service = staticmethod(slack_webhook_delete)

    def refine_queryset(self, queryset: Any) -> Any:
        """The company's own webhook first, then the teams' by name, on every database (they sort NULL apart)."""
        ordered = queryset.order_by(F("team__name").asc(nulls_first=True), "team_id", "id")
        return ordered.select_related("team", "company")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.validated(SlackWebhookInputSerializer)
        replaces = self.get_queryset().filter(team=data["team"]).exists()
        webhook = slack_webhook_save(company=self.company, **data)
        return self.render(webhook, SlackWebhookSerializer, status.HTTP_200_OK if replaces else status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def test(self, request: Request, company_slug: str, pk: str) -> Response:
        try:
            slack_test(webhook=self.command_target())
        except SendError as error:
            if error.transient:
                raise SlackUnavailable(error.message, wait=error.retry_after) from None
            raise ValidationError({"url": [error.message]}) from None
        return Response({"sent": True})
