"""The company-scoped base every company API view stands on.

It resolves the company from the URL once, checks that the caller is a member
(or holds an API key of that company) and narrows every queryset to it. A
company the caller cannot see is a 404, exactly like one that does not exist.
Subclasses cannot override ``get_queryset``, ``check_permissions`` or
``initial``; they refine querysets through :meth:`refine_queryset`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import Model, QuerySet
from django.utils import timezone
from rest_framework import serializers, viewsets
from rest_framework.exceptions import NotAuthenticated, NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from config.api.pagination import CursorPagination, PageNumberPagination
from config.api.serializers import refuse_body
from config.api.views import StrictQueryParamsMixin
from outcomes.models import APIKey, Company
from outcomes.selectors import CompanyAccess, company_access_for_key, company_access_for_user

SEALED_METHODS = ("get_queryset", "check_permissions", "initial")


def resolve_company_access(request: Request, company_slug: str) -> CompanyAccess:
    if isinstance(request.auth, APIKey):
        access = company_access_for_key(api_key=request.auth, company_slug=company_slug)
    elif request.user and request.user.is_authenticated:
        access = company_access_for_user(user=request.user, company_slug=company_slug)
    else:
        raise NotAuthenticated()
    if access is None:
        raise NotFound()
    return access


class CompanyScopedRelatedField(serializers.PrimaryKeyRelatedField):
    """A primary-key field that only finds rows of the company in the serializer context.

    An id of another company looks exactly like an id that does not exist: 400.
    """

    def get_queryset(self) -> QuerySet[Any]:
        queryset: Any = super().get_queryset()
        company = self.context.get("company")
        return queryset.none() if company is None else queryset.for_company(company)


class CompanyScopedViewSet(StrictQueryParamsMixin, viewsets.GenericViewSet):
    access: CompanyAccess
    openapi_tag: ClassVar[str]
    filtered_actions: ClassVar[frozenset[str]] = frozenset({"list"})  # actions that take the filterset's params
    paginated_actions: ClassVar[frozenset[str]] = frozenset({"list"})
    cursor_actions: ClassVar[frozenset[str]] = frozenset()  # paginated actions whose rows grow with activity
    extra_query_params: ClassVar[dict[str, frozenset[str]]] = {}  # action -> further params it documents

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in SEALED_METHODS:
            if name in vars(cls):
                raise TypeError(f"{cls.__name__} must not override {name}(); refine_queryset() is the hook.")

    @property
    def pagination_class(self) -> type[PageNumberPagination | CursorPagination]:  # type: ignore[override]
        """Page numbers and a count for what people write by hand; cursors for lists that grow with activity."""
        return CursorPagination if getattr(self, "action", None) in self.cursor_actions else PageNumberPagination

    @property
    def company(self) -> Company:
        return self.access.company

    def check_permissions(self, request: Request) -> None:
        self.access = resolve_company_access(request, self.kwargs["company_slug"])
        super().check_permissions(request)

    def refine_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """Add joins and prefetches. The company filter is applied after this, always."""
        return queryset

    def get_queryset(self) -> QuerySet[Any]:
        model_queryset: Any = self.queryset
        assert model_queryset is not None, f"{type(self).__name__} needs a queryset"
        if getattr(self, "swagger_fake_view", False):
            return model_queryset.none()
        scoped: Any = self.refine_queryset(model_queryset.all())
        return scoped.for_company(self.access.company)

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """The filter backends run for the actions that take the filterset's parameters only. Elsewhere (a
        detail route, a command, a roll-up) they would find no parameter to apply, and building the
        filterset and its form for nothing costs about a millisecond a request."""
        if getattr(self, "action", None) not in self.filtered_actions:
            return queryset
        return super().filter_queryset(queryset)

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        access = getattr(self, "access", None)
        context["company"] = access.company if access else None
        context["now"] = timezone.now()  # one clock reading per response: rows compare against the same time
        return context

    def allowed_query_params(self) -> set[str]:
        names = set(self.extra_query_params.get(self.action, ()))
        filterset_class = getattr(self, "filterset_class", None)
        if filterset_class is not None and self.action in self.filtered_actions:
            names |= set(filterset_class.base_filters)
        if self.action in self.paginated_actions:
            names |= self.pagination_class.query_params
        return names

    # --- small helpers that keep the views short -----------------------------
    def validated(self, serializer_class: type[BaseSerializer[Any]], *, partial: bool = False) -> dict[str, Any]:
        serializer = serializer_class(data=self.request.data, partial=partial, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def command_target(self) -> Any:
        """The object a command that takes no body acts on: a 404 first, then any body sent is a 400."""
        target = self.get_object()
        refuse_body(self.request.data)
        return target

    def render(self, instance: Model, serializer_class: type[BaseSerializer[Any]], status: int = 200) -> Response:
        """Serialize ``instance`` re-read through the scoped queryset, so prefetches apply."""
        fresh = self.get_queryset().get(pk=instance.pk)
        return Response(serializer_class(fresh, context=self.get_serializer_context()).data, status=status)

    def list_response(self, serializer_class: type[BaseSerializer[Any]]) -> Response:
        return self.page_response(self.filter_queryset(self.get_queryset()), serializer_class)

    def page_response(self, rows: QuerySet[Any], serializer_class: type[BaseSerializer[Any]]) -> Response:
        """One page of ``rows`` (already scoped by the caller), serialized."""
        page = self.paginate_queryset(rows)
        data = serializer_class(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data)


class ListRetrieveMixin:
    """``list`` and ``retrieve`` rendered with the view's ``serializer_class``."""

    def list(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.list_response(self.get_serializer_class())

    def retrieve(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(self.get_serializer(self.get_object()).data)


class CrudMixin(ListRetrieveMixin):
    """Create, replace, update and delete through the view's services.

    Set ``input_serializer_class``, the ``create_service`` (called with
    ``company=``), the ``update_service`` and ``delete_service`` (called with
    the object under ``service_object_name``), each wrapped in ``staticmethod``.
    """

    input_serializer_class: ClassVar[type[BaseSerializer[Any]]]
    service_object_name: ClassVar[str]
    create_service: Any
    update_service: Any
    delete_service: Any

    def check_write(self, instance: Any, data: dict[str, Any]) -> None:
        """Object-level rules beyond the role table; raise PermissionDenied to refuse."""

    def create(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.validated(self.input_serializer_class)
        self.check_write(None, data)
        instance = self.create_service(company=self.company, **data)
        return self.render(instance, self.get_serializer_class(), 201)

    def update(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._update(partial=False)

    def partial_update(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._update(partial=True)

    def _update(self: Any, *, partial: bool) -> Response:
        target = self.get_object()  # a 404 comes before any complaint about the body
        changes = self.validated(self.input_serializer_class, partial=partial)
        self.check_write(target, changes)
        instance = self.update_service(**{self.service_object_name: target}, **changes)
        return self.render(instance, self.get_serializer_class())

    def destroy(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        target = self.get_object()
        self.check_write(target, {})
        self.delete_service(**{self.service_object_name: target})
        return Response(status=204)
