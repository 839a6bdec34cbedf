"""The API of outbound webhooks: endpoints a company registers, and the log of what was sent to them.

Owners and admins only: an endpoint receives the company's events, and its secret signs them.
"""

from __future__ import annotations

from typing import Any

import django_filters
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.filters import CompanyFilterSet, StableOrderingFilter
from config.api.serializers import InputSerializer
from integrations import outbound
from integrations.choices import OutboundEvent, OutboundStatus
from integrations.models import OutboundDelivery, WebhookEndpoint, default_events
from integrations.secrets import CredentialsUnreadable
from outcomes.api.base import CompanyScopedViewSet, CrudMixin, ListRetrieveMixin
from outcomes.choices import MANAGERS

SIGNING = (
    "Each delivery is a JSON POST signed with the endpoint's secret: `X-Outcomes-Signature-256: sha256=<hex>` is "
    "the HMAC-SHA256 of `X-Outcomes-Timestamp`, a `.` and the raw body. Refuse timestamps more than 5 minutes "
    "old, and dedupe on `X-Outcomes-Delivery` (the payload's `id`): a delivery may arrive more than once."
)
URL_RULES = "The URL must be a public https host (checked again before every delivery); redirects are not followed."


# --- serializers ---------------------------------------------------------------------------------
class WebhookEndpointSerializer(serializers.ModelSerializer[WebhookEndpoint]):
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=OutboundEvent.choices), help_text="The events it receives."
    )
    secret_hint = serializers.SerializerMethodField(
        help_text="The last characters of the signing secret, to tell secrets apart (never the secret)."
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "events", "active", "secret_hint", "created", "updated"]

    def get_secret_hint(self, endpoint: WebhookEndpoint) -> str:
        try:
            secret = outbound.endpoint_secret(endpoint)
        except CredentialsUnreadable:
            return ""
        return "…" + secret[-4:] if secret else ""


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    secret = serializers.SerializerMethodField(
        help_text="The signing secret. It is shown only in this response: store it now."
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]

    def get_secret(self, endpoint: WebhookEndpoint) -> str:
        return str(self.context["secret"])


class WebhookEndpointInputSerializer(InputSerializer):
    url = serializers.URLField(max_length=500, help_text="A public https URL of yours.")
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    events = serializers.ListField(
        child=serializers.CharField(max_length=40),
        default=default_events,
        max_length=len(OutboundEvent.choices),
        help_text=f"Any of {', '.join(outbound.SUBSCRIBABLE)}, each once; all of them when omitted.",
    )
    active = serializers.BooleanField(default=True, help_text="Off: nothing is planned or sent to it.")


ENDPOINT_EXAMPLE = OpenApiExample(
    "Outcome events",
    value={
        "url": "https://hooks.acme.example/okr-outcomes",
        "description": "Data warehouse",
        "events": ["outcome.due", "outcome.overdue", "outcome.recorded"],
    },
    request_only=True,
)


class OutboundDeliverySerializer(serializers.ModelSerializer[OutboundDelivery]):
    class Meta:
        model = OutboundDelivery
        fields = [
            "id",
            "endpoint",
            "event",
            "event_id",
            "key",
            "status",
            "attempts",
            "next_attempt_at",
            "response_status",
            "error",
            "created",
            "sent_at",
            "payload",
        ]


class OutboundDeliveryFilterSet(CompanyFilterSet):
    endpoint_id = django_filters.ModelChoiceFilter(field_name="endpoint", queryset=WebhookEndpoint.objects.all())
    event = django_filters.MultipleChoiceFilter(choices=OutboundEvent.choices)
    status = django_filters.MultipleChoiceFilter(choices=OutboundStatus.choices)
    ordering = StableOrderingFilter(fields=("created", "sent_at", "next_attempt_at"))

    class Meta:
        model = OutboundDelivery
        fields: list[str] = []


# --- views ---------------------------------------------------------------------------------------
@extend_schema_view(
    list=extend_schema(
        summary="List webhook endpoints",
        description="The company's URLs that receive its events, without their secrets.",
    ),
    retrieve=extend_schema(summary="Get a webhook endpoint", description="One endpoint, without its secret."),
    create=extend_schema(
        summary="Add a webhook endpoint",
        description=f"Owners and admins. {URL_RULES} The response is the only time the signing secret is "
        f"shown. It receives events from now on, never older ones. {SIGNING}",
        request=WebhookEndpointInputSerializer,
        responses={201: WebhookEndpointWithSecretSerializer},
        examples=[ENDPOINT_EXAMPLE],
    ),
    update=extend_schema(
        summary="Replace a webhook endpoint",
        description=f"{URL_RULES} The secret is kept.",
        request=WebhookEndpointInputSerializer,
        responses=WebhookEndpointSerializer,
    ),
    partial_update=extend_schema(
        summary="Update a webhook endpoint",
        description=f"{URL_RULES} The secret is kept. Switching it off holds its pending deliveries.",
        request=WebhookEndpointInputSerializer,
        responses=WebhookEndpointSerializer,
    ),
    destroy=extend_schema(
        summary="Remove a webhook endpoint", description="Its deliveries go with it; nothing more is sent."
    ),
    test=extend_schema(
        summary="Send a test delivery",
        description="POST a signed `ping` to the endpoint now, once, and answer with the delivery: its status, "
        "the receiver's status code and any error. Works whether the endpoint is on or off.",
        request=None,
        responses=OutboundDeliverySerializer,
    ),
    rotate_secret=extend_schema(
        summary="Rotate the signing secret",
        description="A new secret signs every later delivery, retries of older ones included; the old one stops "
        "at once. The response is the only time the new secret is shown.",
        request=None,
        responses=WebhookEndpointWithSecretSerializer,
    ),
)
class WebhookEndpointViewSet(CrudMixin, CompanyScopedViewSet):
    openapi_tag = "outbound-webhooks"
    queryset = WebhookEndpoint.objects.all()
    serializer_class = WebhookEndpointSerializer
    input_serializer_class = WebhookEndpointInputSerializer
    service_object_name = "endpoint"
    update_service = staticmethod(outbound.endpoint_update)
    delete_service = staticmethod(outbound.endpoint_delete)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        endpoint, secret = outbound.endpoint_create(company=self.company, **self.validated(self.input_serializer_class))
        return self._with_secret(endpoint, secret, status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"], url_path="rotate-secret", url_name="rotate-secret")
    def rotate_secret(self, request: Request, company_slug: str, pk: str) -> Response:
        endpoint = self.command_target()
        secret = outbound.endpoint_rotate_secret(endpoint=endpoint)
        return self._with_secret(endpoint, secret, status.HTTP_200_OK)

    @action(detail=True, methods=["post"])
    def test(self, request: Request, company_slug: str, pk: str) -> Response:
        delivery = outbound.send_test(endpoint=self.command_target())
        return Response(OutboundDeliverySerializer(delivery).data)

    def _with_secret(self, endpoint: WebhookEndpoint, secret: str, code: int) -> Response:
        context = {**self.get_serializer_context(), "secret": secret}
        return Response(WebhookEndpointWithSecretSerializer(endpoint, context=context).data, status=code)


@extend_schema_view(
    list=extend_schema(
        summary="List outbound deliveries",
        description="Every event planned for the company's endpoints, newest first: its status, tries, the "
        "receiver's last status code and error, and the exact payload.",
    ),
    retrieve=extend_schema(summary="Get an outbound delivery", description="One delivery with its payload."),
    redeliver=extend_schema(
        summary="Redeliver an event",
        description="Queue a sent or failed delivery again (202): same event id and payload, a fresh count of "
        "tries, sent by the next dispatcher tick. A pending one, or one of a switched-off endpoint, is a 400.",
        request=None,
        responses={202: OutboundDeliverySerializer},
    ),
)
class OutboundDeliveryViewSet(ListRetrieveMixin, CompanyScopedViewSet):
    openapi_tag = "outbound-webhooks"
    queryset = OutboundDelivery.objects.all()
    serializer_class = OutboundDeliverySerializer
    filterset_class = OutboundDeliveryFilterSet
    cursor_actions = frozenset({"list"})

    @action(detail=True, methods=["post"])
    def redeliver(self, request: Request, company_slug: str, pk: str) -> Response:
        delivery = outbound.redeliver(delivery=self.command_target())
        return Response(OutboundDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


# Merged into integrations.api.roles.ROUTE_ROLES: endpoints hold a signing secret, like connections.
ROUTE_ROLES: dict[tuple[str, str], frozenset[str] | str] = {
    ("GET", "v1:webhook-endpoint-list"): MANAGERS,
    ("POST", "v1:webhook-endpoint-list"): MANAGERS,
    ("GET", "v1:webhook-endpoint-detail"): MANAGERS,
    ("PUT", "v1:webhook-endpoint-detail"): MANAGERS,
    ("PATCH", "v1:webhook-endpoint-detail"): MANAGERS,
    ("DELETE", "v1:webhook-endpoint-detail"): MANAGERS,
    ("POST", "v1:webhook-endpoint-test"): MANAGERS,
    ("POST", "v1:webhook-endpoint-rotate-secret"): MANAGERS,
    ("GET", "v1:outbound-delivery-list"): MANAGERS,
    ("GET", "v1:outbound-delivery-detail"): MANAGERS,
    ("POST", "v1:outbound-delivery-redeliver"): MANAGERS,
}
