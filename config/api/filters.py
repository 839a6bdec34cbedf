"""Filtering plumbing: company-scoped filtersets and a backend that feeds them."""

from __future__ import annotations

from typing import Any

import django_filters
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model, QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.request import Request


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
