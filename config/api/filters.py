"""Filtering plumbing: company-scoped filtersets and a backend that feeds them."""

from __future__ import annotations

from typing import Any

import django_filters
from django.core.exceptions import ImproperlyConfigured
from django.core.validators import EMPTY_VALUES
from django.db.models import F, Model, QuerySet
from django.db.models.expressions import OrderBy
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.request import Request

from config.api.pagination import nullable


class CompanyFilterSet(django_filters.FilterSet):
    """A FilterSet whose id filters only accept rows of the caller's company.

    Every model-choice filter is narrowed with ``for_company()``, so an id from
    another company is "not one of the available choices": a 400, never a join
    across companies.
    """

    def __init__(self, *args: Any, company: Model | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, filter_ in self.filters.items():
            if isinstance(filter_, (django_filters.ModelChoiceFilter, django_filters.ModelMultipleChoiceFilter)):
                filter_.queryset = _scoped(filter_.queryset, company, name)


def _scoped(queryset: Any, company: Model | None, name: str) -> QuerySet[Any]:
    if not hasattr(queryset, "for_company"):
        raise ImproperlyConfigured(f"Filter {name!r} needs a queryset with for_company().")
    return queryset.none() if company is None else queryset.for_company(company)


class StrictFilterBackend(DjangoFilterBackend):
    """Passes the view's company to company-scoped filtersets."""

    def get_filterset_kwargs(self, request: Request, queryset: QuerySet[Any], view: Any) -> dict[str, Any]:
        kwargs = super().get_filterset_kwargs(request, queryset, view)
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None and issubclass(filterset_class, CompanyFilterSet):
            access = getattr(view, "access", None)
            kwargs["company"] = getattr(access, "company", None)
        return kwargs


class StableOrderingFilter(django_filters.OrderingFilter):
    """``ordering`` whose pages are the same on every read and on every database.

    Rows that tie on the columns asked for are put in id order, in the direction of the first column:
    without it the database may return ties in any order, and a row can show on two pages while
    another shows on none. Unknown values (a key never used, a reminder not sent) come last in either
    direction, as the cursor lists read them; PostgreSQL alone would put them first when descending.
    """

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        if value in EMPTY_VALUES:
            return qs
        ordering = [self.get_ordering_value(param) for param in value]
        if not any(column.lstrip("-") in {"pk", qs.model._meta.pk.name} for column in ordering):
            ordering.append("-pk" if ordering[0].startswith("-") else "pk")
        return qs.order_by(*(_unknown_last(qs.model, column) for column in ordering))


def _unknown_last(model: type[Model], column: str) -> str | OrderBy:
    path = column.lstrip("-")
    if path == "pk" or not nullable(model, path):
        return column
    return F(path).desc(nulls_last=True) if column.startswith("-") else F(path).asc(nulls_last=True)
