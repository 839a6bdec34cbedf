"""Views every API route shares: the strict query-string check, the API root and health."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from config.api.errors import error_body

WORKER_HEARTBEAT_CACHE_KEY = "worker:heartbeat"


class StrictQueryParamsMixin:
    """Refuse query parameters a route does not document (a typo is a 400, not ignored)."""

    def allowed_query_params(self) -> set[str]:
        return set()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        unknown = sorted(set(request.query_params) - self.allowed_query_params())
        if unknown:
            raise ValidationError({name: ["Unknown query parameter."] for name in unknown})


class PublicAPIView(StrictQueryParamsMixin, APIView):
    openapi_public = True


class ApiRootView(PublicAPIView):
    openapi_tag = "meta"

    @extend_schema(
        operation_id="api_root",
        description="Links to the main entry points of the API and its documentation.",
        responses=inline_serializer(
            "ApiRoot",
            {name: serializers.URLField() for name in ("companies", "me", "health", "schema", "docs", "redoc")},
        ),
    )
    def get(self, request: Request) -> Response:
        links = {name: reverse(f"v1:{name}", request=request) for name in ("companies", "me", "health")}
        for name, route in (("schema", "schema"), ("docs", "swagger-ui"), ("redoc", "redoc")):
            links[name] = reverse(route, request=request)
        return Response(links)


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        return False
    return True


def _cache_ok() -> bool:
    try:
        cache.set("health:probe", "ok", 10)
        return cache.get("health:probe") == "ok"
    except Exception:  # noqa: BLE001
        return False


class HealthView(PublicAPIView):
    """Readiness for load balancers and monitors."""

    openapi_tag = "meta"
    throttle_classes: list[type] = []

    @extend_schema(
        operation_id="health",
        description=(
            "Whether the database and cache answer, and when a background worker last reported in. "
            "200 when the database answers, 503 otherwise."
        ),
        responses={
            200: inline_serializer(
                "Health",
                {
                    "database": serializers.BooleanField(),
                    "cache": serializers.BooleanField(),
                    "worker_heartbeat": serializers.DateTimeField(allow_null=True),
                    "broker": serializers.CharField(),
                },
            ),
            503: inline_serializer(
                "HealthDown",
                {
                    "status": serializers.IntegerField(),
                    "code": serializers.CharField(),
                    "detail": serializers.CharField(),
                    "database": serializers.BooleanField(),
                    "cache": serializers.BooleanField(),
                },
            ),
        },
    )
    def get(self, request: Request) -> Response:
        database = _database_ok()
        body = {
            "database": database,
            "cache": _cache_ok(),
            "worker_heartbeat": cache.get(WORKER_HEARTBEAT_CACHE_KEY),
            "broker": settings.CELERY_BROKER_URL.split("://", 1)[0],
        }
        if database:
            return Response(body)
        down = error_body(status_code=503, code="unavailable", detail="The database does not answer.")
        return Response({**down, **body}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
