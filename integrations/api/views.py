from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from integrations import services
from integrations.api import serializers as s
from integrations.filtersets import SyncRunFilterSet
from integrations.models import Connection, SyncRun
from integrations.status_maps import DEFAULTS, SAMPLES, map_status, validate_map
from integrations.sync import sync_request
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
