"""Page-number pagination with strictly validated parameters.

DRF silently falls back to the default page size when ``page_size`` is not a
number and clamps it when it is too large; we answer 400 instead, and the
schema states the real bounds.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request


def _positive_int(request: Request, name: str, maximum: int | None = None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    bound = f" between 1 and {maximum}" if maximum else " of at least 1"
    if not raw.isdigit() or int(raw) < 1 or (maximum is not None and int(raw) > maximum):
        raise ValidationError({name: [f"Must be a whole number{bound}."]})
    return int(raw)


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = settings.API_MAX_PAGE_SIZE

    def get_page_size(self, request: Request) -> int:
        return _positive_int(request, self.page_size_query_param, self.max_page_size) or self.page_size  # type: ignore[return-value]

    def get_page_number(self, request: Request, paginator: Any) -> int:
        return _positive_int(request, self.page_query_param) or 1

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "description": "Page number, from 1. A page past the last one is a 404.",
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Results per page (default {self.page_size}, at most {self.max_page_size}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]
