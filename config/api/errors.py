"""One JSON error shape for every 4xx and 5xx the API returns.

    {"status": 400, "code": "invalid", "detail": "Invalid input.",
     "fields": {"name": ["This field is required."], "values.1.name": ["..."]}}

``fields`` appears only on validation errors; nested errors are flattened to
dotted paths. DRF exceptions go through :func:`exception_handler`; everything
else under ``/api/`` (unknown URLs, crashes, oversized bodies, Django's own
error pages) is rewritten by :class:`JsonApiErrorMiddleware`, in DEBUG too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

import structlog
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

logger = structlog.get_logger(__name__)

API_PREFIX = "/api/"
PASSED_ON_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the data."
    default_code = "conflict"


def error_body(
    *, status_code: int, code: str, detail: str, fields: Mapping[str, list[str]] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"status": status_code, "code": code, "detail": detail}
    if fields:
        body["fields"] = dict(fields)
    return body


def flatten_field_errors(errors: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn DRF's nested error structure into ``{"a.0.b": ["message", ...]}``."""
    if isinstance(errors, Mapping):
        flat: dict[str, list[str]] = {}
        for key, value in errors.items():
            flat.update(flatten_field_errors(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(errors, list) and any(isinstance(item, (Mapping, list)) for item in errors):
        flat = {}
        for index, item in enumerate(errors):
            if item:
                flat.update(flatten_field_errors(item, f"{prefix}.{index}" if prefix else str(index)))
        return flat
    messages = errors if isinstance(errors, list) else [errors]
    return {prefix or "non_field_errors": [str(message) for message in messages]}


def _as_api_exception(exc: Exception) -> Exception:
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(detail=as_serializer_error(exc))
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied(detail=str(exc) or None)
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, IntegrityError):
        # A safety net: services validate first, so reaching this means a race.
        logger.warning("integrity_error_as_conflict", error=str(exc))
        return Conflict()
    return exc


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    exc = _as_api_exception(exc)
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body(
            status_code=response.status_code,
            code="invalid",
            detail="Invalid input.",
            fields=flatten_field_errors(exc.detail),
        )
    else:
        detail = exc.detail
        code = getattr(detail, "code", None) or exc.default_code
        response.data = error_body(status_code=response.status_code, code=str(code), detail=str(detail))
    return response


def _code_for_status(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


def _detail_for_status(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).phrase.capitalize() + "."
    except ValueError:
        return "Error."


class JsonApiErrorMiddleware:
    """Rewrite non-DRF error responses under ``/api/`` into the JSON error shape.

    It sits first in MIDDLEWARE so that it also sees the responses Django builds
    for exceptions raised by the URL resolver and other middleware.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not self._needs_rewrite(request, response):
            return response
        code = response.status_code
        rewritten = JsonResponse(
            error_body(status_code=code, code=_code_for_status(code), detail=_detail_for_status(code)),
            status=code,
            json_dumps_params={"separators": (",", ":")},
        )
        for header in PASSED_ON_HEADERS:
            if header in response:
                rewritten[header] = response[header]
        return rewritten

    @staticmethod
    def _needs_rewrite(request: HttpRequest, response: HttpResponse) -> bool:
        renderer = getattr(response, "accepted_renderer", None)
        return (
            request.path.startswith(API_PREFIX)
            and response.status_code >= 400
            and not response.get("Content-Type", "").startswith("application/json")
            and getattr(renderer, "format", None) != "api"  # the browsable API shows errors to people
        )
