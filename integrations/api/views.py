from __future__ import annotations

import time
from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, AuthenticationFailed
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.views import PublicAPIView
from integrations import services
from integrations.api import serializers as s
from integrations.deliveries import delivery_receive, delivery_replay
from integrations.filtersets import SyncRunFilterSet, WebhookDeliveryFilterSet
from integrations.models import Connection, SyncRun, WebhookDelivery
from integrations.secrets import CredentialsUnreadable
from integrations.status_maps import DEFAULTS, SAMPLES, map_status, validate_map
from integrations.sync import sync_request
from integrations.webhooks import SignatureRefused
from outcomes.api.base import CompanyScopedViewSet, CrudMixin, ListRetrieveMixin

RULES = "Credentials are encrypted at rest and never returned. The base URL must be a public https host."


@extend_schema_view(
    list=extend_schema(
        summary="List tracker connections", description="The company's tracker connections and their health."
    ),
    retrieve=extend_schema(summary="Get a tracker connection", description="One connection, without its credentials."),
    create=extend_schema(
        summary="Connect a tracker",
        description=f"Owners and admins. {RULES}",
        request=s.ConnectionInputSerializer,
        responses={201: s.ConnectionSerializer},
        examples=[s.CONNECTION_EXAMPLE],
    ),
    update=extend_schema(
        summary="Replace a tracker connection",
        description=f"{RULES} Credentials left out are kept.",
        request=s.ConnectionInputSerializer,
        responses=s.ConnectionSerializer,
    ),
    partial_update=extend_schema(
        summary="Update a tracker connection",
        description=f"{RULES} Credentials left out are kept.",
        request=s.ConnectionInputSerializer,
        responses=s.ConnectionSerializer,
    ),
    destroy=extend_schema(summary="Disconnect a tracker", description="Synced epics stay, with their history."),
    sync=extend_schema(
        summary="Sync now",
        description="Queue a pull of the connection's epics (202 with the run). While one is queued or running, "
        "that run is returned instead of starting another.",
        request=s.SyncRequestSerializer,
        responses={202: s.SyncRunSerializer},
    ),
    preview_status_map=extend_schema(
        summary="Preview a status map",
        description="How tracker signals map to our statuses under a map (the tracker's defaults when none is given), "
        "for the given items or the tracker's standard statuses. Changes nothing.",
        request=s.PreviewInputSerializer,
        responses=s.PreviewSerializer,
    ),
)
class ConnectionViewSet(CrudMixin, CompanyScopedViewSet):
    openapi_tag = "connections"
    queryset = Connection.objects.all()
    serializer_class = s.ConnectionSerializer
    input_serializer_class = s.ConnectionInputSerializer
    service_object_name = "connection"
    create_service = staticmethod(services.connection_create)
    update_service = staticmethod(services.connection_update)
    delete_service = staticmethod(services.connection_delete)

    def refine_queryset(self, queryset: Any) -> Any:
        return queryset.select_related("default_owner")

    @action(detail=True, methods=["post"])
    def sync(self, request: Request, company_slug: str, pk: str) -> Response:
        run, _ = sync_request(connection=self.get_object(), **self.validated(s.SyncRequestSerializer))
        return Response(s.SyncRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @action(detail=False, methods=["post"], url_path="preview-status-map", url_name="preview-status-map")
    def preview_status_map(self, request: Request, company_slug: str) -> Response:
        data = self.validated(s.PreviewInputSerializer)
        kind = data["kind"]
        rules = validate_map(kind, data["status_map"]) if "status_map" in data else DEFAULTS[kind]
        rows = []
        for item in data.get("items") or SAMPLES[kind]:
            status, rule = map_status(rules, item)
            rows.append({"signals": item, "status": status, "rule": rule})
        return Response({"status_map": rules, "rows": rows})


@extend_schema_view(
    list=extend_schema(
        summary="List sync runs", description="Every pull of every connection, newest first, with counts."
    ),
    retrieve=extend_schema(summary="Get a sync run", description="One run: status, counts, timings and error."),
)
class SyncRunViewSet(ListRetrieveMixin, CompanyScopedViewSet):
    openapi_tag = "connections"
    queryset = SyncRun.objects.all()
    serializer_class = s.SyncRunSerializer
    filterset_class = SyncRunFilterSet
    cursor_actions = frozenset({"list"})


@extend_schema_view(
    list=extend_schema(
        summary="List webhook deliveries",
        description="Authentic deliveries from trackers, newest first: what each was about and what processing did.",
    ),
    retrieve=extend_schema(summary="Get a webhook delivery", description="One delivery with its payload."),
    replay=extend_schema(
        summary="Replay a webhook delivery",
        description="Process the stored delivery again (202): its item is re-read from the tracker and applied.",
        request=None,
        responses={202: s.WebhookDeliverySerializer},
    ),
)
class WebhookDeliveryViewSet(ListRetrieveMixin, CompanyScopedViewSet):
    openapi_tag = "connections"
    queryset = WebhookDelivery.objects.all()
    serializer_class = s.WebhookDeliverySerializer
    filterset_class = WebhookDeliveryFilterSet
    cursor_actions = frozenset({"list"})

    @action(detail=True, methods=["post"])
    def replay(self, request: Request, company_slug: str, pk: str) -> Response:
        delivery = delivery_replay(delivery=self.command_target())
        return Response(s.WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class SecretUnreadable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The connection's webhook secret cannot be read with the configured keys; set it again."
    default_code = "webhook_secret_unreadable"


class RawBodyParser(BaseParser):
    """Leaves the body alone: signatures are checked on the exact bytes the tracker sent."""

    media_type = "*/*"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        return {}


class WebhookReceiveView(PublicAPIView):
    """Where trackers post their webhooks. The signature is the authentication."""

    openapi_tag = "webhooks"
    authentication_classes: list[type] = []
    throttle_classes: list[type] = []
    parser_classes = [RawBodyParser]

    def get_authenticate_header(self, request: Request) -> str:
        return 'Signature realm="tracker webhooks"'

    @extend_schema(
        operation_id="webhook_receive",
        summary="Receive a tracker webhook",
        description=(
            "No session or API key: the tracker's signature over the raw body is the authentication — "
            "GitHub `X-Hub-Signature-256`, Jira `X-Hub-Signature`, Linear `Linear-Signature` (and its "
            "`webhookTimestamp` within 60 s), GitLab `X-Gitlab-Token`. A bad or missing signature is a 401 "
            "and stores nothing. An authentic delivery is stored once per delivery id and answered 202; a "
            "repeated delivery id is answered 200 and queues nothing. Processing re-reads the item from the "
            "tracker; events that are not about epics are acknowledged and ignored."
        ),
        parameters=[OpenApiParameter("connection_id", int, OpenApiParameter.PATH)],
        request={"application/json": {"type": "object", "additionalProperties": True}},
        responses={
            202: s.WebhookAcceptedSerializer,
            200: s.WebhookAcceptedSerializer,
            401: OpenApiResponse(description="The signature is missing or wrong, or the connection has no secret."),
            503: OpenApiResponse(description="The connection's secret cannot be read right now: deliver again later."),
        },
    )
    def post(self, request: Request, connection_id: int) -> Response:
        connection = get_object_or_404(Connection, pk=connection_id)
        try:
            received = delivery_receive(
                connection=connection, headers=request.headers, body=request.body, now_ms=int(time.time() * 1000)
            )
        except SignatureRefused as refused:
            raise AuthenticationFailed(str(refused)) from refused
        except CredentialsUnreadable as error:  # 5xx, not 4xx: trackers retry it, and GitLab keeps the hook
            raise SecretUnreadable() from error
        delivery = received.delivery
        body = {"delivery_id": delivery.delivery_id, "status": delivery.status, "duplicate": received.duplicate}
        return Response(body, status=status.HTTP_200_OK if received.duplicate else status.HTTP_202_ACCEPTED)
