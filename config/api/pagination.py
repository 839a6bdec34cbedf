"""Pagination with strictly validated parameters: page numbers for the lists people write by hand,
cursors for the lists that grow with activity.

DRF silently falls back to the default page size when ``page_size`` is not a
number and clamps it when it is too large; we answer 400 instead, and the
schema states the real bounds.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import decimal
import json
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from django.db.models import F, Field, Model, Q, QuerySet
from django.db.models.expressions import OrderBy
from django.utils import timezone
from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils.urls import remove_query_param, replace_query_param


def _positive_int(request: Request, name: str, maximum: int | None = None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    bound = f" between 1 and {maximum}" if maximum else " of at least 1"
    if not raw.isdigit() or int(raw) < 1 or (maximum is not None and int(raw) > maximum):
        raise ValidationError({name: [f"Must be a whole number{bound}."]})
    return int(raw)


def _page_size_parameter(name: str, default: Any, maximum: int) -> dict[str, Any]:
    return {
        "name": name,
        "required": False,
        "in": "query",
        "description": f"Results per page (default {default}, at most {maximum}).",
        "schema": {"type": "integer", "minimum": 1, "maximum": maximum},
    }


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    query_params = frozenset({"page", page_size_query_param})
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
            _page_size_parameter(self.page_size_query_param, self.page_size, self.max_page_size),
        ]


# --- cursor pagination ------------------------------------------------------------------------------------

MAX_CURSOR_LENGTH = 1000
INVALID_CURSOR = "Not a cursor this list handed out; start again without it."
OTHER_ORDER = "This cursor was handed out for another ordering; start again without it."


@dataclass(frozen=True)
class _Key:
    """One column of a list's ordering, read forwards (as asked) or backwards (for the previous page).

    Reading forwards, rows whose value is unknown (an epic not started, a reminder not sent) come last in
    either direction, so the position of every row is a plain tuple of values.
    """

    path: str
    descending: bool
    field: Field[Any, Any]
    nullable: bool

    @property
    def token(self) -> str:
        return f"-{self.path}" if self.descending else self.path

    def order(self, backwards: bool) -> OrderBy:
        column = F(self.path)
        descending = self.descending != backwards
        if not self.nullable:
            return column.desc() if descending else column.asc()
        if backwards:
            return column.desc(nulls_first=True) if descending else column.asc(nulls_first=True)
        return column.desc(nulls_last=True) if descending else column.asc(nulls_last=True)

    def beyond(self, value: Any, backwards: bool) -> Q | None:
        """Rows strictly past ``value`` in the reading direction, or None when none can be."""
        nulls_ahead = not backwards  # reading forwards, unknown values are still to come
        if value is None:
            return None if nulls_ahead else Q(**{f"{self.path}__isnull": False})
        lookup = "lt" if self.descending != backwards else "gt"
        past = Q(**{f"{self.path}__{lookup}": value})
        return past | Q(**{f"{self.path}__isnull": True}) if self.nullable and nulls_ahead else past

    def same(self, value: Any) -> Q:
        return Q(**{f"{self.path}__isnull": True}) if value is None else Q(**{self.path: value})

    def bound(self, value: Any, backwards: bool) -> Q | None:
        """A range on the leading column an index can start from (only where no null can follow)."""
        if self.nullable or value is None:
            return None
        return Q(**{f"{self.path}__{'lte' if self.descending != backwards else 'gte'}": value})

    def read(self, row: Any) -> Any:
        value = row
        for part in self.path.split("__"):
            value = None if value is None else getattr(value, part)
        return value

    def encode(self, value: Any) -> Any:
        if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
            return value.isoformat()  # full precision: DjangoJSONEncoder would cut microseconds
        if isinstance(value, (decimal.Decimal, uuid.UUID)):
            return str(value)
        return value

    def decode(self, raw: Any) -> Any:
        """The Python value of a position read from a cursor; ValueError when it cannot be one."""
        if raw is None:
            if not self.nullable:
                raise ValueError("null position in a column that has no nulls")
            return None
        if not isinstance(raw, (str, int)) or isinstance(raw, bool):
            raise ValueError("a position is a string or a whole number")
        if isinstance(raw, str) and "\x00" in raw:
            raise ValueError("NUL in a position")
        try:
            value = self.field.to_python(raw)
        except DjangoValidationError as error:
            raise ValueError(str(error)) from error
        if isinstance(value, datetime.datetime) and timezone.is_naive(value):
            raise ValueError("a time without its offset")
        if isinstance(value, int):
            low, high = connection.ops.integer_field_range(self.field.get_internal_type())
            if (low is not None and value < low) or (high is not None and value > high):
                raise ValueError("out of range")
        return value


def _ordering_keys(queryset: QuerySet[Any]) -> list[_Key]:
    """The queryset's ordering as keys, made total by the primary key if it does not end on a unique column."""
    model = queryset.model
    ordering = list(queryset.query.order_by) or list(model._meta.ordering)
    keys: list[_Key] = []
    for item in ordering:
        path, descending = _column(item)
        path = model._meta.pk.name if path == "pk" else path
        keys.append(_key(model, path, descending))
    if not any(key.path == model._meta.pk.name for key in keys):
        keys.append(_key(model, model._meta.pk.name, bool(keys) and keys[0].descending))
    return keys


def _column(item: Any) -> tuple[str, bool]:
    """(path, descending) of one ordering term: a column name, or a column with its unknown values last."""
    if isinstance(item, str) and item != "?":
        return item.lstrip("-"), item.startswith("-")
    if isinstance(item, OrderBy) and isinstance(item.expression, F) and not item.nulls_first:
        return item.expression.name, item.descending
    raise ImproperlyConfigured(f"Cursor pagination orders by columns (unknown values last), not {item!r}.")


def nullable(model: type[Model], path: str) -> bool:
    """Whether the column at ``path`` (``owner__email``) can be unknown, through any nullable relation."""
    return _key(model, path, False).nullable


def _key(model: type[Model], path: str, descending: bool) -> _Key:
    nullable = False
    parts = path.split("__")
    for position, part in enumerate(parts):
        field: Any = model._meta.get_field(part)
        nullable = nullable or bool(field.null)
        if position < len(parts) - 1:
            model = field.related_model
        elif field.is_relation and part != field.attname:
            # order_by("epic") sorts by the epic's own ordering, which a position of one value cannot follow
            raise ImproperlyConfigured(f"Order by {part}_id, not by the relation {part!r}.")
    return _Key(path=path, descending=descending, field=field, nullable=nullable)


@dataclass(frozen=True)
class _Position:
    values: list[Any]
    backwards: bool


class CursorPagination(pagination.BasePagination):
    """Keyset pagination for the lists that grow with every sync, delivery and check-in.

    A cursor is the position of the last (or, for ``previous``, the first) row of a page: the values of
    the list's ordering columns, the primary key last. The next page is the rows past that position,
    found through the ordering's index whatever its depth, with no ``COUNT(*)`` and no ``OFFSET``.
    Rows inserted or deleted between requests never make a row appear twice or be skipped. Any
    ``ordering`` the list accepts works; a cursor only continues the ordering it was handed out for.
    """

    cursor_query_param = "cursor"
    page_size_query_param = "page_size"
    query_params = frozenset({cursor_query_param, page_size_query_param})
    max_page_size = settings.API_MAX_PAGE_SIZE

    def __init__(self) -> None:
        self.page_size: int = api_settings.PAGE_SIZE or settings.API_PAGE_SIZE
        self.next_link: str | None = None
        self.previous_link: str | None = None

    def paginate_queryset(self, queryset: QuerySet[Any], request: Request, view: Any = None) -> list[Any]:
        size = _positive_int(request, self.page_size_query_param, self.max_page_size) or self.page_size
        keys = _ordering_keys(queryset)
        position = self._position(request, keys)
        backwards = position is not None and position.backwards
        rows_qs = queryset.order_by(*(key.order(backwards) for key in keys))
        if position is not None:
            rows_qs = rows_qs.filter(_past(keys, position.values, backwards))
        rows = list(rows_qs[: size + 1])
        more = len(rows) > size
        del rows[size:]
        if backwards:
            rows.reverse()
        url = request.build_absolute_uri()
        has_next = more if not backwards else True
        has_previous = more if backwards else position is not None
        if rows:
            self.next_link = self._link(url, keys, rows[-1], False) if has_next else None
            self.previous_link = self._link(url, keys, rows[0], True) if has_previous else None
        elif backwards:  # nothing before the position any more: the list starts over
            self.next_link = remove_query_param(url, self.cursor_query_param)
        return rows

    def get_paginated_response(self, data: Any) -> Response:
        return Response({"next": self.next_link, "previous": self.previous_link, "results": data})

    def _link(self, url: str, keys: list[_Key], row: Any, backwards: bool) -> str:
        payload = {
            "o": [key.token for key in keys],
            "p": [key.encode(key.read(row)) for key in keys],
            "b": backwards,
        }
        token = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).rstrip(b"=")
        return replace_query_param(url, self.cursor_query_param, token.decode())

    def _position(self, request: Request, keys: list[_Key]) -> _Position | None:
        raw = request.query_params.get(self.cursor_query_param)
        if raw is None:
            return None
        try:
            if not raw or len(raw) > MAX_CURSOR_LENGTH:
                raise ValueError("length")
            payload = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
            tokens, values, backwards = payload["o"], payload["p"], payload["b"]
            if not isinstance(values, list) or not isinstance(backwards, bool):
                raise ValueError("shape")
        except (ValueError, TypeError, KeyError, binascii.Error):
            raise ValidationError({self.cursor_query_param: [INVALID_CURSOR]}) from None
        if tokens != [key.token for key in keys]:
            raise ValidationError({self.cursor_query_param: [OTHER_ORDER]})
        try:
            if len(values) != len(keys):
                raise ValueError("length")
            decoded = [key.decode(value) for key, value in zip(keys, values, strict=True)]
        except ValueError:
            raise ValidationError({self.cursor_query_param: [INVALID_CURSOR]}) from None
        return _Position(values=decoded, backwards=backwards)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Where the page starts: take it from `next` or `previous` of the page before. "
                "A cursor that this list did not hand out, or one handed out for another `ordering`, is a 400.",
                "schema": {"type": "string", "maxLength": MAX_CURSOR_LENGTH},
            },
            _page_size_parameter(self.page_size_query_param, self.page_size, self.max_page_size),
        ]

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": {**link, "description": "The next page, or null on the last one."},
                "previous": {**link, "description": "The page before, or null on the first one."},
                "results": schema,
            },
        }


def _past(keys: list[_Key], values: list[Any], backwards: bool) -> Q:
    """Rows strictly past the position: (k1 > v1) or (k1 = v1 and k2 > v2) or ..., per direction."""
    condition: Q | None = None
    equal = Q()
    for key, value in zip(keys, values, strict=True):
        step = key.beyond(value, backwards)
        if step is not None:
            condition = (equal & step) if condition is None else condition | (equal & step)
        equal &= key.same(value)
    assert condition is not None, "the primary key always has a row past it"
    bound = keys[0].bound(values[0], backwards)
    return condition if bound is None else bound & condition
