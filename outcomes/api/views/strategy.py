"""Where the company is going: identity, SWOT, strategies, investments and business outcomes."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from outcomes.api.base import CompanyScopedViewSet, CrudMixin, ListRetrieveMixin
from outcomes.api.serializers import strategy as s
from outcomes.choices import MeasurementSource, Role
from outcomes.filtersets import BusinessOutcomeFilterSet, InvestmentFilterSet, StrategyFilterSet, SwotItemFilterSet
from outcomes.models import APIKey, BusinessOutcome, IdentityVersion, Investment, Measurement, Strategy, SwotItem, User
from outcomes.selectors import (
    INVESTMENT_GROUPS,
    business_outcomes_with_current,
    investment_totals,
    investments_with_names,
    strategies_with_links,
    swot_items_unaddressed,
    swot_items_with_links,
)
from outcomes.services import business_outcomes as outcome_services
from outcomes.services import strategy as strategy_services
from outcomes.services.identity import current_identity, identity_update

# People record by hand or import a file; only integrations (API keys) may say a value came from them.
PERSON_SOURCES = frozenset({MeasurementSource.MANUAL.value, MeasurementSource.IMPORT.value})
MACHINE_SOURCES = frozenset({MeasurementSource.API.value, MeasurementSource.SYNC.value, MeasurementSource.IMPORT.value})


def _author(request: Request) -> dict[str, Any]:
    """Who is writing: the person, or the API key for machines."""
    return {
        "author": request.user if isinstance(request.user, User) else None,
        "api_key": request.auth if isinstance(request.auth, APIKey) else None,
    }


def _crud_docs(noun: str, serializer: Any, input_serializer: Any, example: Any, extra: str = "") -> dict[str, Any]:
    return {
        "list": extend_schema(summary=f"List {noun}s", description=f"The company's {noun}s, filtered and ordered."),
        "retrieve": extend_schema(summary=f"Get a {noun}", description=f"One {noun}."),
        "create": extend_schema(
            summary=f"Create a {noun}",
            description=f"Create a {noun}. {extra}".strip(),
            request=input_serializer,
            responses={201: serializer},
            examples=[example],
        ),
        "update": extend_schema(
            summary=f"Replace a {noun}",
            description=f"Set every field of the {noun}; optional fields left out go back to their defaults. {extra}",
            request=input_serializer,
            responses=serializer,
            examples=[example],
        ),
        "partial_update": extend_schema(
            summary=f"Update a {noun}",
            description=f"Change some fields of the {noun}. {extra}".strip(),
            request=input_serializer,
            responses=serializer,
        ),
    }


# --- identity ------------------------------------------------------------------------
@extend_schema_view(
    list=extend_schema(
        summary="List identity versions", description="Every version, newest first, with author and note."
    ),
    retrieve=extend_schema(
        summary="Get an identity version", description="One version by its number (1 is the first)."
    ),
)
class IdentityViewSet(ListRetrieveMixin, CompanyScopedViewSet):
    openapi_tag = "identity"
    queryset = IdentityVersion.objects.all()
    serializer_class = s.IdentityVersionSerializer
    lookup_field = "number"

    def refine_queryset(self, queryset: Any) -> Any:
        return queryset.select_related("author").order_by("-number")

    @extend_schema(
        summary="Get the identity",
        description="The current mission, vision and values: the newest version. 404 until one is written.",
        responses=s.IdentityVersionSerializer,
    )
    def current(self, request: Request, company_slug: str) -> Response:
        version = current_identity(self.company)
        if version is None:
            raise Http404("The company has not written its identity yet.")
        return self.render(version, s.IdentityVersionSerializer)

    @extend_schema(
        summary="Write the identity",
        description=(
            "Write mission, vision and values as a new version, with an optional change note. "
            "An unchanged identity adds no version. Owners, admins and executives."
        ),
        request=s.IdentityInputSerializer,
        responses=s.IdentityVersionSerializer,
        examples=[s.IDENTITY_EXAMPLE],
    )
    def replace(self, request: Request, company_slug: str) -> Response:
        return self._write(partial=False)

    @extend_schema(
        summary="Amend the identity",
        description="Change some of mission, vision and values; the rest is carried over into the new version.",
        request=s.IdentityInputSerializer,
        responses=s.IdentityVersionSerializer,
    )
    def amend(self, request: Request, company_slug: str) -> Response:
        return self._write(partial=current_identity(self.company) is not None)

    def _write(self, *, partial: bool) -> Response:
        data = self.validated(s.IdentityInputSerializer, partial=partial)
        latest = current_identity(self.company)
        carried = {"mission": latest.mission, "vision": latest.vision, "values": latest.values} if latest else {}
        version = identity_update(company=self.company, **{**carried, **data}, **_author(self.request))
        return self.render(version, s.IdentityVersionSerializer)


# --- SWOT ----------------------------------------------------------------------------
@extend_schema_view(
    **_crud_docs("SWOT item", s.SwotItemSerializer, s.SwotItemInputSerializer, s.SWOT_EXAMPLE),
    destroy=extend_schema(summary="Delete a SWOT item", description="Only items no strategy addresses can be deleted."),
    unaddressed=extend_schema(
        summary="List unaddressed threats and weaknesses",
        description="Threats and weaknesses that no active strategy addresses: the gaps in the strategy.",
    ),
)
class SwotItemViewSet(CrudMixin, CompanyScopedViewSet):
    openapi_tag = "swot"
    queryset = SwotItem.objects.all()
    serializer_class = s.SwotItemSerializer
    filterset_class = SwotItemFilterSet
    filtered_actions = paginated_actions = frozenset({"list", "unaddressed"})
    input_serializer_class = s.SwotItemInputSerializer
    service_object_name = "item"
    create_service = staticmethod(strategy_services.swot_item_create)
    update_service = staticmethod(strategy_services.swot_item_update)
    delete_service = staticmethod(strategy_services.swot_item_delete)

    def refine_queryset(self, queryset: Any) -> Any:
        return swot_items_with_links(queryset)

    @action(detail=False, methods=["get"])
    def unaddressed(self, request: Request, company_slug: str) -> Response:
        return self.page_response(
            swot_items_unaddressed(self.filter_queryset(self.get_queryset())), s.SwotItemSerializer
        )


# --- strategies ----------------------------------------------------------------------
@extend_schema_view(
    **_crud_docs(
        "strategy",
        s.StrategySerializer,
        s.StrategyInputSerializer,
        s.STRATEGY_EXAMPLE,
        "The owner must be a member; SWOT items and business outcomes must be the company's own.",
    ),
    destroy=extend_schema(
        summary="Delete a draft strategy",
        description="Only drafts without investments can be deleted; retire the others (status `retired`).",
    ),
)
class StrategyViewSet(CrudMixin, CompanyScopedViewSet):
    openapi_tag = "strategies"
    queryset = Strategy.objects.all()
    serializer_class = s.StrategySerializer
    filterset_class = StrategyFilterSet
    input_serializer_class = s.StrategyInputSerializer
    service_object_name = "strategy"
    create_service = staticmethod(strategy_services.strategy_create)
    update_service = staticmethod(strategy_services.strategy_update)
    delete_service = staticmethod(strategy_services.strategy_delete)

    def refine_queryset(self, queryset: Any) -> Any:
        return strategies_with_links(queryset)


# --- investments ---------------------------------------------------------------------
GROUP_BY = OpenApiParameter(
    "group_by",
    str,
    enum=sorted(INVESTMENT_GROUPS),
    description="Sum per strategy, per team or per period (default strategy).",
)


@extend_schema_view(
    **_crud_docs("investment", s.InvestmentSerializer, s.InvestmentInputSerializer, s.INVESTMENT_EXAMPLE),
    destroy=extend_schema(summary="Delete an investment", description="Remove an allocation."),
    totals=extend_schema(
        summary="Investment totals",
        description=(
            "Sums of the allocated amounts per strategy, team or period, and per currency (amounts in different "
            "currencies are never added up). Takes the same filters as the list."
        ),
        parameters=[GROUP_BY],
        responses=inline_serializer(
            "InvestmentTotals",
            {"group_by": serializers.CharField(), "results": s.InvestmentTotalSerializer(many=True)},
        ),
    ),
)
class InvestmentViewSet(CrudMixin, CompanyScopedViewSet):
    openapi_tag = "investments"
    queryset = Investment.objects.all()
    serializer_class = s.InvestmentSerializer
    filterset_class = InvestmentFilterSet
    filtered_actions = frozenset({"list", "totals"})
    extra_query_params = {"totals": frozenset({"group_by"})}
    input_serializer_class = s.InvestmentInputSerializer
    service_object_name = "investment"
    create_service = staticmethod(strategy_services.investment_create)
    update_service = staticmethod(strategy_services.investment_update)
    delete_service = staticmethod(strategy_services.investment_delete)

    def refine_queryset(self, queryset: Any) -> Any:
        return investments_with_names(queryset)

    @action(detail=False, methods=["get"])
    def totals(self, request: Request, company_slug: str) -> Response:
        group_by = request.query_params.get("group_by", "strategy")
        if group_by not in INVESTMENT_GROUPS:
            raise ValidationError({"group_by": [f"Choose one of {', '.join(sorted(INVESTMENT_GROUPS))}."]})
        rows = investment_totals(self.filter_queryset(self.get_queryset()), group_by=group_by)
        return Response({"group_by": group_by, "results": rows})


# --- business outcomes ---------------------------------------------------------------
@extend_schema_view(
    **_crud_docs(
        "business outcome",
        s.BusinessOutcomeSerializer,
        s.BusinessOutcomeInputSerializer,
        s.BUSINESS_OUTCOME_EXAMPLE,
        "To increase, the target must be above the baseline; to decrease, below it.",
    ),
    destroy=extend_schema(
        summary="Delete a business outcome", description="Only outcomes without measurements can be deleted."
    ),
    measurements=extend_schema(
        methods=["GET"],
        summary="List measurements",
        description="The outcome's measurements, newest first. The newest gives the current value.",
        responses=s.MeasurementSerializer(many=True),
    ),
)
class BusinessOutcomeViewSet(CrudMixin, CompanyScopedViewSet):
    openapi_tag = "business-outcomes"
    queryset = BusinessOutcome.objects.all()
    serializer_class = s.BusinessOutcomeSerializer
    filterset_class = BusinessOutcomeFilterSet
    paginated_actions = frozenset({"list", "measurements"})
    cursor_actions = frozenset({"measurements"})
    input_serializer_class = s.BusinessOutcomeInputSerializer
    service_object_name = "outcome"
    create_service = staticmethod(outcome_services.business_outcome_create)
    update_service = staticmethod(outcome_services.business_outcome_update)
    delete_service = staticmethod(outcome_services.business_outcome_delete)

    def refine_queryset(self, queryset: Any) -> Any:
        if self.action == "measurements":  # only the outcome row itself is needed there
            return queryset
        return business_outcomes_with_current(queryset)

    @extend_schema(
        methods=["POST"],
        summary="Record a measurement",
        description=(
            "Record the metric's value as of a time (now by default). A correction is a new measurement; "
            "none is ever edited. Owners, admins and executives record for any outcome, members for the "
            "outcomes they own, write keys for all (source api, sync or import)."
        ),
        request=s.MeasurementInputSerializer,
        responses={201: s.MeasurementSerializer},
        examples=[s.MEASUREMENT_EXAMPLE],
    )
    @action(detail=True, methods=["get", "post"])
    def measurements(self, request: Request, company_slug: str, pk: str) -> Response:
        outcome = self.get_object()
        if request.method == "POST":
            return self._record(outcome)
        rows = Measurement.objects.for_company(self.company).filter(business_outcome=outcome)
        return self.page_response(rows.select_related("author").order_by("-as_of", "-id"), s.MeasurementSerializer)

    def _record(self, outcome: BusinessOutcome) -> Response:
        writer = _author(self.request)
        person = writer["author"]
        if self.access.role == Role.MEMBER and person is not None and outcome.owner_id != person.pk:
            raise PermissionDenied("Members record measurements of the business outcomes they own.")
        data = self.validated(s.MeasurementInputSerializer)
        allowed = MACHINE_SOURCES if writer["api_key"] else PERSON_SOURCES
        data.setdefault("source", MeasurementSource.API if writer["api_key"] else MeasurementSource.MANUAL)
        if data["source"] not in allowed:
            raise ValidationError({"source": [f"Choose one of {', '.join(sorted(allowed))} for this caller."]})
        measurement = outcome_services.measurement_record(outcome=outcome, **data, **writer)
        return Response(s.MeasurementSerializer(measurement).data, status=status.HTTP_201_CREATED)
